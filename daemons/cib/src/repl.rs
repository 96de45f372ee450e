//! Replication between the cib daemons of a cluster, the pure parts: the
//! cluster messages (`t=cib`, one `msg::Message` per [`Wire`]), who the
//! master is, which of two CIBs wins, and cutting a full copy into chunks
//! that fit a heartbeat datagram and putting them back together.
//!
//! The scheme (the service drives it): every cib announces itself with
//! `hello` (version and digest) when it starts and when heartbeat reports
//! a node active; a peer answers with its own. The master is the member
//! with the lowest node name among this node and the peers whose cib said
//! hello and that heartbeat reports active (a later crmd may make the DC
//! the master instead). Writes go to the master, which applies them with
//! `cib_xml::ops`, broadcasts the patch (source and target versions, the
//! result's digest) and answers the origin after its disk write; replicas
//! apply patches in order (heartbeat delivers one sender's messages in
//! order) and ask the sender for a full copy on a version gap or a digest
//! mismatch. On hello the CIB with the higher (admin_epoch, epoch,
//! num_updates) wins, ties broken by the digest, so both sides of a healed
//! partition end with the same copy: the lower side asks the higher one.

use std::collections::BTreeSet;

use cibapi::{OpRequest, Response, Version};
use msg::Message;

/// The `t` field of the cib's cluster messages.
pub const MSG_TYPE: &str = "cib";

/// Bytes of CIB text per `full` chunk: well inside a 64 KB datagram with
/// heartbeat's own fields.
pub const CHUNK: usize = 32 << 10;

/// A patch whose text is longer than this is replicated as a full copy.
pub const MAX_DIFF: usize = 32 << 10;

/// Largest full copy sent over heartbeat, after compression (heartbeat
/// keeps 16 MB of message history for retransmission; a copy must fit in
/// it with room to spare).
pub const MAX_FULL: usize = 8 << 20;

/// A full copy longer than this is sent bzip2-compressed (CIB text
/// shrinks about tenfold, so a 50 MB CIB fits in `MAX_FULL`); smaller
/// ones go as text, which costs no compression time.
pub const COMPRESS_ABOVE: usize = 1 << 20;

/// Largest CIB text a compressed copy may expand to: the ipc frame limit
/// the daemon serves clients with.
pub const MAX_EXPANDED: usize = 256 << 20;

/// The bytes a full copy of `text` is sent as: the text, or above
/// `COMPRESS_ABOVE` its bzip2 compression (which starts with `BZh`,
/// never the start of a CIB).
pub fn pack_full(text: &str) -> std::io::Result<Vec<u8>> {
    if text.len() > COMPRESS_ABOVE {
        cib_xml::compressed::bzip2(text)
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

/// The CIB text of a received full copy (see [`pack_full`]).
pub fn unpack_full(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"BZh") {
        cib_xml::compressed::bunzip2_bounded(&bytes, MAX_EXPANDED)
    } else {
        Ok(bytes)
    }
}

/// One cib cluster message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// I am here with this CIB; `reply` is set on the answer to a hello.
    Hello {
        /// Sender's version.
        version: Version,
        /// Sender's versioned digest.
        digest: String,
        /// Whether this answers a hello (no answer to an answer).
        reply: bool,
    },
    /// A write forwarded to the master.
    Forward {
        /// Origin's id for the answer.
        id: u64,
        /// The operation.
        req: OpRequest,
    },
    /// The master's answer to a forwarded write.
    Result {
        /// The forward's id.
        id: u64,
        /// The answer.
        resp: Response,
    },
    /// A change, applied by every replica in order.
    Diff {
        /// The v2 patchset XML (with versions and digest).
        patch: String,
    },
    /// Please send me your whole CIB.
    SyncReq,
    /// One chunk of a whole CIB.
    Full {
        /// Transfer id (per sender).
        xfer: u64,
        /// This chunk's index.
        chunk: u32,
        /// How many chunks.
        chunks: u32,
        /// The CIB's version.
        version: Version,
        /// Its versioned digest.
        digest: String,
        /// This chunk's bytes of the CIB text.
        data: Vec<u8>,
    },
}

fn put_version(m: &mut Message, v: Version) {
    m.add_string(
        "v",
        format!("{}.{}.{}", v.admin_epoch, v.epoch, v.num_updates),
    );
}

fn get_version(m: &Message) -> Option<Version> {
    let mut it = m.get_str("v")?.split('.').map(|p| p.parse::<u64>().ok());
    let v = Version {
        admin_epoch: it.next()??,
        epoch: it.next()??,
        num_updates: it.next()??,
    };
    it.next().is_none().then_some(v)
}

impl Wire {
    /// The cluster message.
    pub fn to_message(&self) -> Result<Message, String> {
        let mut m = Message::new();
        m.add_string("t", MSG_TYPE);
        match self {
            Wire::Hello {
                version,
                digest,
                reply,
            } => {
                m.add_string("op", if *reply { "hello-reply" } else { "hello" });
                put_version(&mut m, *version);
                m.add_string("digest", digest);
            }
            Wire::Forward { id, req } => {
                m.add_string("op", "forward");
                m.set_decimal("id", *id);
                let b = postcard::to_stdvec(req).map_err(|e| e.to_string())?;
                m.add_binary("req", b);
            }
            Wire::Result { id, resp } => {
                m.add_string("op", "result");
                m.set_decimal("id", *id);
                let b = postcard::to_stdvec(resp).map_err(|e| e.to_string())?;
                m.add_binary("resp", b);
            }
            Wire::Diff { patch } => {
                m.add_string("op", "diff");
                m.add_binary("patch", patch.as_bytes());
            }
            Wire::SyncReq => {
                m.add_string("op", "sync-req");
            }
            Wire::Full {
                xfer,
                chunk,
                chunks,
                version,
                digest,
                data,
            } => {
                m.add_string("op", "full");
                m.set_decimal("xfer", *xfer);
                m.set_decimal("chunk", u64::from(*chunk));
                m.set_decimal("chunks", u64::from(*chunks));
                put_version(&mut m, *version);
                m.add_string("digest", digest);
                m.add_binary("data", data);
            }
        }
        Ok(m)
    }

    /// Reads a cluster message; `None` for anything malformed or not ours.
    pub fn from_message(m: &Message) -> Option<Wire> {
        if m.get_str("t") != Some(MSG_TYPE) {
            return None;
        }
        let bytes = |n: &str| m.get_binary(n).or_else(|| m.get_bytes(n));
        Some(match m.get_str("op")? {
            op @ ("hello" | "hello-reply") => Wire::Hello {
                version: get_version(m)?,
                digest: m.get_str("digest")?.to_string(),
                reply: op == "hello-reply",
            },
            "forward" => Wire::Forward {
                id: m.get_decimal("id")?,
                req: postcard::from_bytes(bytes("req")?).ok()?,
            },
            "result" => Wire::Result {
                id: m.get_decimal("id")?,
                resp: postcard::from_bytes(bytes("resp")?).ok()?,
            },
            "diff" => Wire::Diff {
                patch: String::from_utf8(bytes("patch")?.to_vec()).ok()?,
            },
            "sync-req" => Wire::SyncReq,
            "full" => Wire::Full {
                xfer: m.get_decimal("xfer")?,
                chunk: u32::try_from(m.get_decimal("chunk")?).ok()?,
                chunks: u32::try_from(m.get_decimal("chunks")?).ok()?,
                version: get_version(m)?,
                digest: m.get_str("digest")?.to_string(),
                data: bytes("data")?.to_vec(),
            },
            _ => return None,
        })
    }
}

/// The master among `local` and the `peers` whose cib is up: the lowest
/// node name.
pub fn master<'a>(local: &'a str, peers: &'a BTreeSet<String>) -> &'a str {
    peers
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(local))
        .min()
        .unwrap_or(local)
}

/// Whether the CIB `(theirs, their_digest)` wins over ours: higher
/// version, or the same version and a higher digest (so that two
/// different CIBs with one version still converge).
pub fn newer(theirs: Version, their_digest: &str, ours: Version, our_digest: &str) -> bool {
    (theirs, their_digest) > (ours, our_digest)
}

/// Cuts a CIB's text into `full` messages.
pub fn chunks(xfer: u64, version: Version, digest: &str, bytes: &[u8]) -> Vec<Wire> {
    let parts: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(CHUNK).collect()
    };
    let n = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    parts
        .into_iter()
        .enumerate()
        .map(|(i, d)| Wire::Full {
            xfer,
            chunk: u32::try_from(i).unwrap_or(u32::MAX),
            chunks: n,
            version,
            digest: digest.to_string(),
            data: d.to_vec(),
        })
        .collect()
}

/// Reassembles one sender's full copy; chunks arrive in order.
#[derive(Debug, Default)]
pub struct Assembly {
    xfer: Option<u64>,
    next: u32,
    buf: Vec<u8>,
}

impl Assembly {
    /// Takes a chunk; returns the whole text when the last one arrived. A
    /// chunk of a new transfer restarts; an out-of-order chunk drops the
    /// transfer.
    pub fn add(&mut self, xfer: u64, chunk: u32, chunks: u32, data: &[u8]) -> Option<Vec<u8>> {
        if chunk == 0 {
            self.xfer = Some(xfer);
            self.next = 0;
            self.buf.clear();
        }
        if self.xfer != Some(xfer) || chunk != self.next || chunk >= chunks {
            self.xfer = None;
            self.buf.clear();
            return None;
        }
        if self.buf.len() + data.len() > MAX_FULL + CHUNK {
            self.xfer = None;
            self.buf.clear();
            return None;
        }
        self.buf.extend_from_slice(data);
        self.next += 1;
        if self.next == chunks {
            self.xfer = None;
            return Some(std::mem::take(&mut self.buf));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cibapi::OpKind;

    fn v(a: u64, e: u64, n: u64) -> Version {
        Version {
            admin_epoch: a,
            epoch: e,
            num_updates: n,
        }
    }

    #[test]
    fn every_message_round_trips_through_the_wire_codec() {
        let mut req = OpRequest::new(OpKind::Modify);
        req.data = Some("<nvpair id=\"x\" value=\"1\"/>".into());
        let all = vec![
            Wire::Hello {
                version: v(1, 2, 3),
                digest: "abc".into(),
                reply: true,
            },
            Wire::Forward { id: 7, req },
            Wire::Result {
                id: 7,
                resp: Response::Done {
                    version: v(0, 4, 0),
                    changed: true,
                },
            },
            Wire::Diff {
                patch: "<diff format=\"2\"/>".into(),
            },
            Wire::SyncReq,
        ];
        for w in all {
            let m = w.to_message().unwrap();
            let body = msg::encode(&m).unwrap();
            let back = msg::decode(&body).unwrap();
            assert_eq!(Wire::from_message(&back), Some(w));
        }
    }

    #[test]
    fn malformed_messages_are_ignored() {
        let mut m = Message::new();
        m.add_string("t", MSG_TYPE);
        m.add_string("op", "hello");
        m.add_string("v", "1.2");
        m.add_string("digest", "x");
        assert_eq!(Wire::from_message(&m), None);
        let mut m = Message::new();
        m.add_string("t", "ccm");
        assert_eq!(Wire::from_message(&m), None);
    }

    #[test]
    fn the_master_is_the_lowest_name_and_the_higher_cib_wins() {
        let peers: BTreeSet<String> = ["node3".to_string(), "node2".to_string()].into();
        assert_eq!(master("node1", &peers), "node1");
        assert_eq!(master("node4", &peers), "node2");
        assert!(newer(v(0, 5, 0), "a", v(0, 4, 9), "z"));
        assert!(newer(v(1, 0, 0), "a", v(0, 9, 9), "z"));
        assert!(!newer(v(0, 4, 0), "a", v(0, 4, 0), "a"));
        assert!(newer(v(0, 4, 0), "b", v(0, 4, 0), "a") != newer(v(0, 4, 0), "a", v(0, 4, 0), "b"));
    }

    #[test]
    fn large_copies_travel_compressed_and_small_ones_as_text() {
        let small = "<cib/>".to_string();
        assert_eq!(pack_full(&small).unwrap(), small.as_bytes());
        assert_eq!(
            unpack_full(small.as_bytes().to_vec()).unwrap(),
            small.as_bytes()
        );
        let mut big = String::from("<cib><configuration><resources>");
        while big.len() <= COMPRESS_ABOVE + 1000 {
            big.push_str(&format!(
                "<primitive id=\"r{}\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\"/>",
                big.len()
            ));
        }
        big.push_str("</resources></configuration></cib>");
        let packed = pack_full(&big).unwrap();
        assert!(packed.starts_with(b"BZh") && packed.len() * 5 < big.len());
        assert_eq!(unpack_full(packed.clone()).unwrap(), big.as_bytes());
        // A bomb is refused, not expanded.
        assert!(cib_xml::compressed::bunzip2_bounded(&packed, big.len() - 1).is_err());
        assert!(unpack_full(b"BZh9 garbage".to_vec()).is_err());
    }

    #[test]
    fn a_full_copy_survives_chunking_and_an_interrupted_transfer_restarts() {
        let text: String = "x".repeat(CHUNK * 2 + 5);
        let parts = chunks(9, v(0, 1, 0), "d", text.as_bytes());
        assert_eq!(parts.len(), 3);
        let mut a = Assembly::default();
        // An interrupted earlier transfer.
        assert_eq!(a.add(8, 0, 3, b"junk"), None);
        let mut got = None;
        for p in &parts {
            let m = Wire::from_message(&p.to_message().unwrap()).unwrap();
            if let Wire::Full {
                xfer,
                chunk,
                chunks,
                data,
                ..
            } = m
            {
                got = a.add(xfer, chunk, chunks, &data);
            }
        }
        assert_eq!(got.as_deref(), Some(text.as_bytes()));
        // A chunk out of order drops the transfer.
        let mut a = Assembly::default();
        assert_eq!(a.add(1, 1, 3, b"y"), None);
        assert_eq!(a.add(1, 2, 3, b"y"), None);
    }
}

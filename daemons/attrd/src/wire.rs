//! attrd's cluster messages (`t=attrd` heartbeat messages), pure.
//!
//! The exchange (the service drives it): an attrd that starts, or that
//! hears heartbeat report a node active again, says `hello` and follows
//! it with its own node's values (`values`, `full`: they replace whatever
//! the receiver held for that node); a receiver answers `hello-reply` and
//! its own values. Every change of a node's value is announced by that
//! node (`values`, not full). An update for another node goes to that
//! node (`forward`), which applies it, announces it, and answers the
//! origin (`done`, after the announcement: heartbeat delivers one
//! sender's messages in order, so the origin holds the value when its
//! client hears the answer). `refresh` asks every node to write its
//! values again. `yours` gives an attrd that said hello the values the
//! sender held for its node: after an attrd restart they come back (a
//! node that died has none left with its peers, so it starts clean).

use attrdapi::{Failure, Update};
use msg::Message;

use crate::core::Entry;

/// The `t` field of attrd's cluster messages.
pub const MSG_TYPE: &str = "attrd";

/// Bytes of entries per `values` message: well inside a heartbeat
/// datagram with the other fields.
pub const MAX_PAYLOAD: usize = 32 << 10;

/// One attrd cluster message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// I am here; my values follow. `reply` on the answer to a hello.
    Hello {
        /// Whether this answers a hello (no answer to an answer).
        reply: bool,
        /// The sender's id in the CIB (its Heartbeat uuid), so that a
        /// survivor can remove its transient attributes when it dies.
        uuid: String,
    },
    /// The sender's own values.
    Values {
        /// They replace everything held for the sender.
        full: bool,
        /// The values.
        entries: Vec<Entry>,
    },
    /// An update for the receiver's node, from a client elsewhere.
    Forward {
        /// Origin's id for the answer.
        id: u64,
        /// The update (its node is the receiver).
        update: Update,
    },
    /// The answer to a forward.
    Done {
        /// The forward's id.
        id: u64,
        /// Why it was refused, if it was.
        error: Option<Failure>,
    },
    /// Write all your values to the CIB again.
    Refresh,
    /// The values the sender held for the receiver's node, given back to
    /// an attrd that said hello (it restarted; its node did not die).
    Yours {
        /// The values.
        entries: Vec<Entry>,
    },
}

impl Wire {
    /// The cluster message.
    pub fn to_message(&self) -> Result<Message, String> {
        let mut m = Message::new();
        m.add_string("t", MSG_TYPE);
        match self {
            Wire::Hello { reply, uuid } => {
                m.add_string("op", if *reply { "hello-reply" } else { "hello" });
                m.add_string("uuid", uuid);
            }
            Wire::Values { full, entries } => {
                m.add_string("op", if *full { "values-full" } else { "values" });
                m.add_binary("entries", bin(entries)?);
            }
            Wire::Forward { id, update } => {
                m.add_string("op", "forward");
                m.set_decimal("id", *id);
                m.add_binary("update", bin(update)?);
            }
            Wire::Done { id, error } => {
                m.add_string("op", "done");
                m.set_decimal("id", *id);
                m.add_binary("error", bin(error)?);
            }
            Wire::Refresh => {
                m.add_string("op", "refresh");
            }
            Wire::Yours { entries } => {
                m.add_string("op", "yours");
                m.add_binary("entries", bin(entries)?);
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
                reply: op == "hello-reply",
                uuid: m.get_str("uuid")?.to_string(),
            },
            op @ ("values" | "values-full") => Wire::Values {
                full: op == "values-full",
                entries: postcard::from_bytes(bytes("entries")?).ok()?,
            },
            "forward" => Wire::Forward {
                id: m.get_decimal("id")?,
                update: postcard::from_bytes(bytes("update")?).ok()?,
            },
            "done" => Wire::Done {
                id: m.get_decimal("id")?,
                error: postcard::from_bytes(bytes("error")?).ok()?,
            },
            "refresh" => Wire::Refresh,
            "yours" => Wire::Yours {
                entries: postcard::from_bytes(bytes("entries")?).ok()?,
            },
            _ => return None,
        })
    }
}

fn bin<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(v).map_err(|e| e.to_string())
}

/// Cuts `entries` into groups that each stay under [`MAX_PAYLOAD`].
pub fn chunks(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut out = Vec::new();
    let mut cur: Vec<Entry> = Vec::new();
    let mut size = 0;
    for e in entries {
        let n = e.name.len() + e.node.len() + e.value.as_ref().map_or(0, String::len) + 32;
        if !cur.is_empty() && size + n > MAX_PAYLOAD {
            out.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += n;
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `values` messages announcing `entries`; with `full`, the first
/// one is full (it resets the receiver's copy) and the rest add to it. A
/// full announcement of no values is one empty full message.
pub fn values_messages(full: bool, entries: Vec<Entry>) -> Vec<Wire> {
    let mut parts = chunks(entries);
    if full && parts.is_empty() {
        parts.push(Vec::new());
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, entries)| Wire::Values {
            full: full && i == 0,
            entries,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrdapi::{Change, Lifetime};

    fn entry(i: usize, value_len: usize) -> Entry {
        Entry {
            name: format!("attr{i}"),
            node: "node2".into(),
            value: Some("v".repeat(value_len)),
            delay_ms: 5000,
            lifetime: Lifetime::Forever,
        }
    }

    #[test]
    fn every_message_round_trips_through_the_wire_codec() {
        let all = vec![
            Wire::Hello {
                reply: false,
                uuid: "u1".into(),
            },
            Wire::Hello {
                reply: true,
                uuid: "u2".into(),
            },
            Wire::Values {
                full: true,
                entries: vec![entry(1, 3)],
            },
            Wire::Values {
                full: false,
                entries: vec![],
            },
            Wire::Forward {
                id: 7,
                update: Update {
                    name: "a".into(),
                    node: Some("node2".into()),
                    change: Change::Set("1".into()),
                    delay_ms: Some(10),
                    lifetime: Lifetime::Reboot,
                    private: false,
                },
            },
            Wire::Done {
                id: 7,
                error: Some(Failure {
                    code: 64,
                    message: "x".into(),
                }),
            },
            Wire::Done { id: 8, error: None },
            Wire::Refresh,
            Wire::Yours {
                entries: vec![entry(2, 5)],
            },
        ];
        for w in all {
            let m = w.to_message().unwrap();
            let body = msg::encode(&m).unwrap();
            let back = msg::decode(&body).unwrap();
            assert_eq!(Wire::from_message(&back), Some(w));
        }
    }

    #[test]
    fn malformed_and_foreign_messages_are_ignored() {
        let mut m = Message::new();
        m.add_string("t", MSG_TYPE);
        m.add_string("op", "values");
        m.add_binary("entries", [0xff, 0xff, 0xff]);
        assert_eq!(Wire::from_message(&m), None);
        let mut m = Message::new();
        m.add_string("t", "cib");
        m.add_string("op", "hello");
        assert_eq!(Wire::from_message(&m), None);
        let mut m = Message::new();
        m.add_string("t", MSG_TYPE);
        m.add_string("op", "frobnicate");
        assert_eq!(Wire::from_message(&m), None);
    }

    #[test]
    fn many_values_are_cut_into_datagram_sized_messages() {
        let entries: Vec<Entry> = (0..100).map(|i| entry(i, 1000)).collect();
        let msgs = values_messages(true, entries.clone());
        assert!(msgs.len() >= 3, "{}", msgs.len());
        let mut back = Vec::new();
        for (i, w) in msgs.iter().enumerate() {
            let body = msg::encode(&w.to_message().unwrap()).unwrap();
            assert!(body.len() < 40_000, "{}", body.len());
            match w {
                Wire::Values { full, entries } => {
                    assert_eq!(*full, i == 0);
                    back.extend(entries.iter().cloned());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, entries);
        // An empty full announcement still resets the receiver.
        assert_eq!(
            values_messages(true, vec![]),
            vec![Wire::Values {
                full: true,
                entries: vec![]
            }]
        );
        assert!(values_messages(false, vec![]).is_empty());
    }
}

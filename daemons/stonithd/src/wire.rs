//! stonithd's cluster messages (`t=stonith` heartbeat messages): the
//! fencing protocol between the fencers of a cluster. Pure.
//!
//! An operation: the origin broadcasts `Query`; every fencer answers with
//! the devices it can run against the target (`QueryReply`); the origin
//! plans over levels and sends each step to a node that has the device
//! (`Exec`, answered by `ExecDone`); the outcome goes to everyone
//! (`Result`), who all record it in their history. `History` carries a
//! node's whole history to a node that just joined.
//!
//! The body is a postcard encoding of [`Wire`] in the binary field
//! `body`: only our fencers read these messages.

use serde::{Deserialize, Serialize};
use stonithapi::{FenceAction, FenceResult};

/// The `t` field of stonithd's cluster messages.
pub const MSG_TYPE: &str = "stonith";

pub use fencing::operation::Capable;

/// One cluster message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Wire {
    /// Who can fence `target`? (Also announces the operation, so others
    /// merge their requests into it.)
    Query {
        /// The operation.
        op: String,
        /// The node to fence.
        target: String,
        /// What is done.
        action: FenceAction,
        /// The client that asked, for the history.
        client: String,
        /// Only asking which devices can (stonith_admin -l): nothing to
        /// merge into.
        listing: bool,
    },
    /// The devices this node can run against the query's target.
    QueryReply {
        /// The operation.
        op: String,
        /// Its capable devices.
        devices: Vec<Capable>,
    },
    /// Run `action` of `device` against `target`.
    Exec {
        /// The operation.
        op: String,
        /// A step number, so a late answer to an earlier step is ignored.
        step: u32,
        /// The device.
        device: String,
        /// The action.
        action: FenceAction,
        /// The node.
        target: String,
        /// The requested timeout (a device's own pcmk_*_timeout wins).
        timeout_ms: u64,
        /// Apply the device's pcmk_delay_* first (first device only).
        delay: bool,
    },
    /// The result of an `Exec`.
    ExecDone {
        /// The operation.
        op: String,
        /// The step.
        step: u32,
        /// Success.
        ok: bool,
        /// Pacemaker's exit code.
        exit_code: i32,
        /// Why it failed.
        reason: String,
    },
    /// The sender dropped its operation `op` in favour of `into` (two
    /// origins asked for the same thing at once): requests merged into
    /// `op` wait for `into`.
    Merged {
        /// The dropped operation.
        op: String,
        /// The operation that carries on.
        into: String,
    },
    /// An operation completed (or a manual confirmation).
    Result(FenceResult),
    /// A node's history: sent to everyone at start (`reply` false), and
    /// in answer to that (`reply` true).
    History {
        /// Completed operations.
        entries: Vec<FenceResult>,
        /// Whether this answers another node's.
        reply: bool,
    },
    /// Forget the history of one target or all.
    Cleanup {
        /// `None`: all.
        target: Option<String>,
    },
}

impl Wire {
    /// The cluster message body.
    pub fn to_message(&self) -> Result<msg::Message, String> {
        let body = postcard::to_stdvec(self).map_err(|e| e.to_string())?;
        let mut m = msg::Message::new();
        m.add_string("t", MSG_TYPE);
        m.add_binary("body", body);
        Ok(m)
    }

    /// Reads a message; `None` if it is not a valid stonith message.
    pub fn from_message(m: &msg::Message) -> Option<Wire> {
        if m.get_str("t") != Some(MSG_TYPE) {
            return None;
        }
        postcard::from_bytes(m.get_binary("body")?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_wire_format() {
        let w = Wire::Exec {
            op: "n1.3".into(),
            step: 2,
            device: "psu:1".into(),
            action: FenceAction::Reboot,
            target: "n3".into(),
            timeout_ms: 20_000,
            delay: true,
        };
        let bytes = msg::encode(&w.to_message().unwrap()).unwrap();
        let back = Wire::from_message(&msg::decode(&bytes).unwrap());
        assert_eq!(back, Some(w));
        let mut other = msg::Message::new();
        other.add_string("t", "cib");
        assert_eq!(Wire::from_message(&other), None);
        let mut junk = msg::Message::new();
        junk.add_string("t", MSG_TYPE);
        junk.add_binary("body", [0xffu8; 3]);
        assert_eq!(Wire::from_message(&junk), None);
    }
}

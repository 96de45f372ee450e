//! The messages controllers exchange over heartbeat (one message type,
//! `t=crmd`, its body a postcard-encoded [`CrmWire`] in the binary field
//! `m`). XML travels as text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The heartbeat message type of the controllers.
pub const MSG_TYPE: &str = "crmd";

/// A resource operation the DC asks a node's controller to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecRequest {
    /// The resource's id in the node's lrm.
    pub rsc: String,
    /// Its class, provider and agent.
    pub class: String,
    /// OCF provider.
    pub provider: Option<String>,
    /// Agent.
    pub agent: String,
    /// `start`, `stop`, `monitor`, `cancel`, ...
    pub task: String,
    /// Recurring interval, milliseconds.
    pub interval_ms: u64,
    /// Timeout, milliseconds.
    pub timeout_ms: u64,
    /// Parameters with `CRM_meta_*`.
    pub params: BTreeMap<String, String>,
    /// `action:transition:target_rc:dc-uuid`.
    pub transition_key: String,
}

/// One message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum CrmWire {
    /// A controller started (or asks who is DC); `reply` marks answers.
    Hello {
        /// The sender's node id (its Heartbeat uuid).
        uuid: String,
        /// The DC the sender knows.
        dc: Option<String>,
        /// Whether this answers a hello.
        reply: bool,
    },
    /// The DC invites a node to join (sent after election and to
    /// newcomers); the node answers with its history.
    JoinOffer {
        /// The join round.
        join_id: u64,
    },
    /// A node's answer to an offer: its whole `<lrm>` as XML text.
    JoinRequest {
        /// The round answered.
        join_id: u64,
        /// The node's resource history.
        lrm: String,
    },
    /// The DC asks a node to run a resource operation for action
    /// `action` of transition `transition`.
    Exec {
        /// The transition.
        transition: u64,
        /// The action's id in its graph.
        action: u32,
        /// What to run.
        op: ExecRequest,
    },
    /// A node's result of an `Exec` (or an unrequested change, such as a
    /// recurring monitor that failed: `action` is `None`).
    Result {
        /// The transition it answers, if any.
        transition: Option<u64>,
        /// The action it answers, if any.
        action: Option<u32>,
        /// The resource.
        rsc: String,
        /// The operation key (`RSC_TASK_INTERVAL`).
        key: String,
        /// The agent's result.
        rc: i32,
        /// lrmd's op status (0 done, 1 cancelled, 2 timeout, ...).
        op_status: i32,
        /// Whether the result is what the action expected.
        ok: bool,
        /// The resource's whole `<lrm_resource>` after the operation, as
        /// XML text (empty when the resource is gone from the lrm).
        history: String,
    },
    /// A node's controller is shutting down and asks the DC to move its
    /// resources away first.
    ShutdownRequest,
    /// The DC tells a node its resources are stopped: it may leave.
    ShutdownAllowed,
    /// A controller's state (for crmadmin -S).
    State {
        /// Pacemaker's state name.
        state: String,
    },
}

/// Encodes a message body.
pub fn encode(w: &CrmWire) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(w).map_err(|e| e.to_string())
}

/// Decodes a message body.
pub fn decode(b: &[u8]) -> Result<CrmWire, String> {
    postcard::from_bytes(b).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let w = CrmWire::JoinRequest {
            join_id: 3,
            lrm: "<lrm id=\"u\"/>".into(),
        };
        assert_eq!(decode(&encode(&w).unwrap()).unwrap(), w);
        assert!(decode(&[0xff, 0xff, 0xff]).is_err());
    }
}

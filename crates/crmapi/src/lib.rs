//! The controller's client APIs: what crmadmin asks crmd over
//! `$HA_RUNDIR/crm/crmd.sock` ([`CrmApi`]), and what the DC's crmd asks the
//! policy engine daemon over `$HA_RUNDIR/crm/pengine.sock` ([`PeApi`]).
//!
//! **API boundary:** both protocols carry XML as text, as cibapi does, so
//! they do not depend on the document model.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The policy engine protocol.
pub struct PeApi;

/// What crmd asks pengine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum PeRequest {
    /// Compute a transition graph from this CIB (with status).
    Compute {
        /// The whole CIB as XML text.
        cib: String,
        /// The transition number to give the graph.
        transition: u64,
        /// The time to schedule at, seconds since the epoch (the caller's
        /// clock, so replaying the saved input gives the same graph).
        now: i64,
    },
}

/// What pengine answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum PeResponse {
    /// The graph (`<transition_graph>` XML text) and where its input was
    /// saved (`None` when saving is off or failed).
    Graph {
        /// The transition graph.
        graph: String,
        /// The saved input (`pe-input-N.bz2`).
        input: Option<String>,
    },
    /// The CIB could not be scheduled: why.
    Failed(String),
}

impl Protocol for PeApi {
    type Request = PeRequest;
    type Response = PeResponse;
    type Event = ();

    fn is_write(_: &PeRequest) -> bool {
        false
    }
}

/// The controller protocol (crmadmin).
pub struct CrmApi;

/// What a tool asks crmd.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum CrmRequest {
    /// The controller's state, and the DC it knows.
    Status,
    /// The state of the controller on another node, as that node last
    /// announced it (`None`: this node's).
    NodeStatus(Option<String>),
    /// The nodes the controller knows, with their ids.
    Nodes,
}

/// A controller's state as crmadmin shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ControllerStatus {
    /// The node.
    pub node: String,
    /// Pacemaker's state name (`S_IDLE`, `S_NOT_DC`, `S_TRANSITION_ENGINE`...).
    pub state: String,
    /// Whether the controller is healthy (`ok`).
    pub ok: bool,
}

/// A node as the controller knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeEntry {
    /// Its name.
    pub name: String,
    /// Its id in the CIB (its Heartbeat uuid).
    pub id: String,
    /// Whether it is a member of the current view.
    pub member: bool,
}

/// What crmd answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum CrmResponse {
    /// A controller's state and the DC (`None`: no DC elected yet).
    Status {
        /// The controller asked about.
        controller: ControllerStatus,
        /// The Designated Controller.
        dc: Option<String>,
    },
    /// The known nodes.
    Nodes(Vec<NodeEntry>),
    /// Refused or unknown, with why.
    Failed(String),
}

impl Protocol for CrmApi {
    type Request = CrmRequest;
    type Response = CrmResponse;
    type Event = ();

    fn is_write(_: &CrmRequest) -> bool {
        false
    }
}

/// The socket of crmd: `$HA_RUNDIR/crm/crmd.sock`.
pub fn crmd_socket(paths: &plumbing::HaPaths) -> PathBuf {
    paths.rundir.join("crm").join("crmd.sock")
}

/// The socket of pengine: `$HA_RUNDIR/crm/pengine.sock`.
pub fn pengine_socket(paths: &plumbing::HaPaths) -> PathBuf {
    paths.rundir.join("crm").join("pengine.sock")
}

/// Connects to crmd at `path` for a tool; calls wait at most `timeout`.
pub fn connect_crmd(path: &Path, timeout: Duration) -> Result<BlockingClient<CrmApi>, IpcError> {
    let mut c = BlockingClient::connect_timeout(path, timeout)?;
    c.set_timeout(Some(timeout));
    Ok(c)
}

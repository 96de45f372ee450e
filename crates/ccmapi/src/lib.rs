//! The ccm client API: what a local process (crm_node, cib, crmd, attrd)
//! asks the consensus membership daemon over `$HA_RUNDIR/ccm.sock`, and the
//! view changes it is told. A view carries its instance, its members and
//! its quorum; every member of a view reports the same one.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The ccm API protocol.
pub struct CcmApi;

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// The local node, every known node with its state, and the view.
    Nodes,
    /// The current view (`None` before the first one).
    View,
    /// Receive view changes (and peer status) as events; answered with
    /// the current view.
    Join,
    /// Forget a node that is not a member (`crm_node -R`), by name or id.
    Remove(String),
    /// The core's counters.
    Stats,
}

/// ccm's counters (for benchmarks and debugging).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Cluster messages sent (a broadcast counts once).
    pub sent: u64,
    /// Of those, periodic announcements.
    pub periodic: u64,
    /// Rounds started as leader.
    pub rounds: u64,
    /// Rounds that ended without a view.
    pub failed_rounds: u64,
    /// Views installed.
    pub views: u64,
}

/// A member of a view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    /// Node id (position in ha.cf's node table, from 1).
    pub id: u32,
    /// Node name.
    pub name: String,
    /// Its ccm incarnation.
    pub incarnation: u64,
}

/// A membership view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ViewInfo {
    /// Cluster-wide increasing instance number.
    pub instance: u64,
    /// The member that made it.
    pub leader: String,
    /// Members, sorted by name.
    pub members: Vec<MemberInfo>,
    /// Whether the members hold quorum.
    pub quorate: bool,
    /// Votes the members hold.
    pub votes: u32,
    /// Votes expected.
    pub expected_votes: u32,
}

/// A node as ccm knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeEntry {
    /// Node id (0 when not in ha.cf's node table).
    pub id: u32,
    /// Node name.
    pub name: String,
    /// `member` (in the current view) or `lost`.
    pub state: String,
}

/// The answer to [`Request::Nodes`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeList {
    /// This node's name.
    pub local: String,
    /// This node's id.
    pub local_id: u32,
    /// Every known node (configured or heard of, not removed).
    pub nodes: Vec<NodeEntry>,
    /// The current view.
    pub view: Option<ViewInfo>,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// The node list.
    Nodes(NodeList),
    /// The current view.
    View(Option<ViewInfo>),
    /// No such node.
    NoSuchNode(String),
    /// The counters.
    Stats(Stats),
    /// Refused, with the reason.
    Error(String),
}

/// What ccm pushes to joined clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Event {
    /// A new view was installed on this node.
    ViewChanged(ViewInfo),
    /// Heartbeat reported a node active (`true`) or dead (`false`).
    PeerStatus {
        /// The node.
        node: String,
        /// Whether heartbeat reports it active.
        alive: bool,
    },
}

impl Protocol for CcmApi {
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn is_write(r: &Request) -> bool {
        matches!(r, Request::Remove(_))
    }
}

/// The socket of ccm on this node.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    paths.socket("ccm")
}

/// Connects to the local ccm, for command-line tools.
pub fn connect(paths: &plumbing::HaPaths) -> Result<BlockingClient<CcmApi>, IpcError> {
    let mut c = BlockingClient::connect_timeout(&socket_path(paths), Duration::from_secs(5))?;
    c.set_timeout(Some(Duration::from_secs(10)));
    Ok(c)
}

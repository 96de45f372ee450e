//! The fencing client API: what a local process (stonith_admin, crmd) asks
//! stonithd over `$HA_RUNDIR/stonithd.sock`, and the fencing results it is
//! pushed.
//!
//! **API boundary:** `Request`, `Response` and `Event` are what crmd and
//! stonith_admin speak to stonithd. Nodes are named by their uname.
//! A fencing request is answered once, when the operation is over
//! (`Response::Fenced`), so a non-blocking client simply matches the call
//! id; subscribers also see every operation completed anywhere in the
//! cluster as `Event::Fenced`.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The stonithd API protocol.
pub struct StonithApi;

/// What is done to the target.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FenceAction {
    /// Power off (`stonith_admin -F`).
    Off,
    /// Power on / unfence (`stonith_admin -U`).
    On,
    /// Power cycle (`stonith_admin -B`).
    Reboot,
}

impl FenceAction {
    /// The action's name as agents and Pacemaker spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            FenceAction::Off => "off",
            FenceAction::On => "on",
            FenceAction::Reboot => "reboot",
        }
    }

    /// Parses `off`, `on`, `reboot` (and cluster-glue's `poweroff`,
    /// `poweron`, `reset`).
    pub fn parse(s: &str) -> Option<FenceAction> {
        match s {
            "off" | "poweroff" => Some(FenceAction::Off),
            "on" | "poweron" => Some(FenceAction::On),
            "reboot" | "reset" => Some(FenceAction::Reboot),
            _ => None,
        }
    }
}

impl std::fmt::Display for FenceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pacemaker's exit codes used in fencing answers (`crm_exit_t`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Generic error (a device failed).
    pub const ERROR: i32 = 1;
    /// Invalid parameter.
    pub const INVALID_PARAM: i32 = 2;
    /// Insufficient privileges.
    pub const INSUFFICIENT_PRIV: i32 = 4;
    /// Not installed (no such agent).
    pub const NOT_INSTALLED: i32 = 5;
    /// Command-line usage error.
    pub const USAGE: i32 = 64;
    /// Fencing daemon unreachable.
    pub const DISCONNECT: i32 = 102;
    /// No such device or target.
    pub const NOSUCH: i32 = 105;
    /// Already exists / in progress.
    pub const EXISTS: i32 = 108;
    /// Timed out.
    pub const TIMEOUT: i32 = 124;
}

/// The outcome of one fencing operation, as kept in the history and
/// broadcast to every node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FenceResult {
    /// The operation's id (unique cluster-wide: origin node and a counter).
    pub id: String,
    /// The node fenced.
    pub target: String,
    /// What was asked.
    pub action: FenceAction,
    /// Whether the target is known to be fenced (a manual confirmation
    /// counts).
    pub succeeded: bool,
    /// Pacemaker's exit code: 0 ok, 1 a device failed, 105 no device,
    /// 124 timed out.
    pub exit_code: i32,
    /// The node that ran the device that decided the outcome (empty when
    /// none ran).
    pub executioner: String,
    /// The node where the request was made.
    pub origin: String,
    /// The client that asked (`stonith_admin.1234`, `crmd`, ...).
    pub client: String,
    /// The devices run, in order.
    pub devices: Vec<String>,
    /// When it completed, in seconds since the epoch.
    pub completed: u64,
    /// Why it failed, or what confirmed it.
    pub reason: String,
}

/// An operation still running.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingFence {
    /// The operation's id.
    pub id: String,
    /// The node being fenced.
    pub target: String,
    /// What was asked.
    pub action: FenceAction,
    /// Where it was asked.
    pub origin: String,
    /// Who asked.
    pub client: String,
    /// The node running a device now, if any.
    pub executioner: String,
}

/// A device as given to `Register` (stonith_admin -R) or read from the CIB.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The device id.
    pub id: String,
    /// The agent: `fence_*`, `external/NAME`, or a native plugin
    /// (`null`, `ssh`, `suicide`, `meatware`).
    pub agent: String,
    /// Its parameters (instance attributes, `pcmk_*` included).
    pub params: BTreeMap<String, String>,
}

/// A topology level's target (stonith_admin -r takes `NAME`, `@PATTERN`,
/// `ATTR=VALUE`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelTarget {
    /// A node name.
    Node(String),
    /// An extended regular expression on node names.
    Pattern(String),
    /// A node attribute and its value.
    Attribute(String, String),
}

impl LevelTarget {
    /// Parses stonith_admin's spelling: `@PATTERN`, `ATTR=VALUE`, `NAME`.
    pub fn parse(s: &str) -> LevelTarget {
        if let Some(p) = s.strip_prefix('@') {
            LevelTarget::Pattern(p.to_string())
        } else if let Some((a, v)) = s.split_once('=') {
            LevelTarget::Attribute(a.to_string(), v.to_string())
        } else {
            LevelTarget::Node(s.to_string())
        }
    }
}

impl std::fmt::Display for LevelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelTarget::Node(n) => f.write_str(n),
            LevelTarget::Pattern(p) => write!(f, "@{p}"),
            LevelTarget::Attribute(a, v) => write!(f, "{a}={v}"),
        }
    }
}

/// One fencing level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LevelSpec {
    /// Whom it fences.
    pub target: LevelTarget,
    /// Its index, 1..=9; lower is tried first.
    pub index: u32,
    /// Device ids, all of which must succeed, run in this order.
    pub devices: Vec<String>,
}

/// A device's state as `Query` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceStatus {
    /// The device.
    pub id: String,
    /// Whether its status/monitor action succeeded.
    pub ok: bool,
    /// The agent's exit code.
    pub rc: i32,
    /// What the agent printed (bounded).
    pub output: String,
}

/// A failed request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// Pacemaker's exit code (see [`exit`]).
    pub code: i32,
    /// Why, in words.
    pub reason: String,
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// Fence `target`; answered with [`Response::Fenced`] when done.
    /// `timeout_ms` 0 means the default (120 s). A request for a target
    /// fenced successfully with the same action within `tolerance_ms` is
    /// answered from the history.
    Fence {
        /// The node.
        target: String,
        /// What to do.
        action: FenceAction,
        /// How long the whole operation may take.
        timeout_ms: u64,
        /// The "already fenced recently" window (0: none).
        tolerance_ms: u64,
        /// Whether the target may run a device against itself when no
        /// other node can (Pacemaker's `st_opt_allow_suicide`: the
        /// administrator's tools, and a controller alone in its partition
        /// fencing itself under `no-quorum-policy=suicide`).
        allow_suicide: bool,
    },
    /// The administrator confirms the target is down (`--confirm`);
    /// recorded as a successful off everywhere, answered with
    /// [`Response::Fenced`].
    Confirm {
        /// The node.
        target: String,
    },
    /// Receive [`Event::Fenced`] for every completed operation; answered
    /// with [`Response::Done`].
    Subscribe,
    /// The fencing history (of one target or all).
    History {
        /// `None`: every target.
        target: Option<String>,
    },
    /// Forget the history (of one target or all), cluster-wide.
    CleanupHistory {
        /// `None`: every target.
        target: Option<String>,
    },
    /// Register (or replace) a device on this node (`-R`).
    Register(DeviceSpec),
    /// Remove a device from this node (`-D`).
    Deregister {
        /// The device id.
        id: String,
    },
    /// Register a topology level on this node (`-r`).
    RegisterLevel(LevelSpec),
    /// Remove a topology level (`-d`).
    DeregisterLevel {
        /// Its target.
        target: LevelTarget,
        /// Its index.
        index: u32,
    },
    /// The devices registered on this node (`-L`).
    ListRegistered,
    /// The devices, cluster-wide, that can fence `target` (`-l`).
    ListCapable {
        /// The node.
        target: String,
    },
    /// The agents installed on this node (`-I`).
    ListInstalled,
    /// The targets a registered device can fence (`-s`).
    DeviceTargets {
        /// The device id.
        id: String,
    },
    /// An agent's metadata (`-M -a AGENT`).
    Metadata {
        /// The agent.
        agent: String,
    },
    /// Run a device's status/monitor action (`-Q`).
    Query {
        /// The device id.
        id: String,
    },
    /// The topology levels known to this node.
    ListLevels,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// The request was done.
    Done,
    /// A fencing operation (or confirmation) completed, successfully or not.
    Fenced(FenceResult),
    /// The history: completed operations oldest first, then those pending.
    History {
        /// Completed operations.
        completed: Vec<FenceResult>,
        /// Operations in progress.
        pending: Vec<PendingFence>,
    },
    /// A list of names (devices, agents, targets).
    Names(Vec<String>),
    /// Metadata XML.
    Metadata(String),
    /// A device's status.
    Status(DeviceStatus),
    /// Topology levels.
    Levels(Vec<LevelSpec>),
    /// The request failed.
    Failed(Failure),
}

/// What stonithd pushes to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Event {
    /// A fencing operation completed somewhere in the cluster.
    Fenced(FenceResult),
    /// A device's recurring monitor changed result.
    DeviceMonitor(DeviceStatus),
}

impl Protocol for StonithApi {
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn is_write(r: &Request) -> bool {
        !matches!(
            r,
            Request::Subscribe
                | Request::History { .. }
                | Request::ListRegistered
                | Request::ListCapable { .. }
                | Request::ListInstalled
                | Request::DeviceTargets { .. }
                | Request::Metadata { .. }
                | Request::Query { .. }
                | Request::ListLevels
        )
    }
}

/// stonithd's socket, `$HA_RUNDIR/stonithd.sock`.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    paths.socket("stonithd")
}

/// A connection to stonithd, for tools.
pub struct StonithClient {
    inner: BlockingClient<StonithApi>,
}

impl StonithClient {
    /// Connects to stonithd at `path`; every call then waits at most
    /// `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<StonithClient, IpcError> {
        let mut inner = BlockingClient::connect_timeout(path, timeout)?;
        inner.set_timeout(Some(timeout));
        Ok(StonithClient { inner })
    }

    /// Connects to this node's stonithd.
    pub fn local(paths: &plumbing::HaPaths, timeout: Duration) -> Result<StonithClient, IpcError> {
        Self::connect(&socket_path(paths), timeout)
    }

    /// Changes how long calls wait.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.inner.set_timeout(Some(timeout));
    }

    /// Sends a request and waits for its answer.
    pub fn call(&mut self, r: &Request) -> Result<Response, IpcError> {
        self.inner.call(r)
    }

    /// Fences and waits for the result.
    pub fn fence(
        &mut self,
        target: &str,
        action: FenceAction,
        timeout: Duration,
        tolerance: Duration,
    ) -> Result<Response, IpcError> {
        self.call(&Request::Fence {
            target: target.to_string(),
            action,
            timeout_ms: timeout.as_millis() as u64,
            tolerance_ms: tolerance.as_millis() as u64,
            allow_suicide: true,
        })
    }

    /// Waits up to `wait` for a pushed event (`None`: the wait ended).
    pub fn next_event(&mut self, wait: Option<Duration>) -> Result<Option<Event>, IpcError> {
        self.inner.next_event(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_targets_parse_as_stonith_admin_spells_them() {
        assert_eq!(LevelTarget::parse("n1"), LevelTarget::Node("n1".into()));
        assert_eq!(
            LevelTarget::parse("@^rack1-.*$"),
            LevelTarget::Pattern("^rack1-.*$".into())
        );
        assert_eq!(
            LevelTarget::parse("rack=2"),
            LevelTarget::Attribute("rack".into(), "2".into())
        );
        for s in ["n1", "@n.*", "rack=2"] {
            assert_eq!(LevelTarget::parse(s).to_string(), s);
        }
    }

    #[test]
    fn actions_accept_cluster_glue_names() {
        assert_eq!(FenceAction::parse("reset"), Some(FenceAction::Reboot));
        assert_eq!(FenceAction::parse("poweroff"), Some(FenceAction::Off));
        assert_eq!(FenceAction::parse("bogus"), None);
        assert!(StonithApi::is_write(&Request::Confirm {
            target: "n".into()
        }));
        assert!(!StonithApi::is_write(&Request::History { target: None }));
    }
}

//! The LRM client API: what a local process (lrmadmin, crmd) asks lrmd
//! over `$HA_RUNDIR/lrmd.sock`, and the operation results it is pushed.
//!
//! **API boundary:** `Request`, `Response` and `Event` are what crmd and
//! lrmadmin speak to lrmd.
#![deny(missing_docs)]

pub mod agents;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The lrmd API protocol.
pub struct LrmApi;

/// A registered resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resource {
    /// Its id (`OCF_RESOURCE_INSTANCE`).
    pub id: String,
    /// `ocf`, `lsb` or `heartbeat`.
    pub class: String,
    /// The agent's name.
    pub rtype: String,
    /// The OCF provider (`None`: `heartbeat` for ocf).
    pub provider: Option<String>,
    /// Parameters: `name -> value` for ocf, `"1"`, `"2"`, ... for
    /// positional (lsb, heartbeat).
    pub params: BTreeMap<String, String>,
}

/// When a client wants to hear of an operation's completions
/// (lrmadmin's TARGET_RC argument).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Notify {
    /// Every completion (`EVERYTIME`).
    Every,
    /// The first result and every change of rc (`CHANGED`).
    Changed,
    /// Only completions with this rc.
    Rc(i32),
}

/// An operation to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpSpec {
    /// The resource.
    pub rsc: String,
    /// The action (start, stop, monitor, ...).
    pub op: String,
    /// Timeout in milliseconds (0: the daemon's default, 20 s).
    pub timeout_ms: u64,
    /// Interval in milliseconds; 0 runs once.
    pub interval_ms: u64,
    /// Delay before the first run, milliseconds.
    pub start_delay_ms: u64,
    /// Which completions to report.
    pub notify: Notify,
    /// Parameters for this operation, merged over the resource's.
    pub params: BTreeMap<String, String>,
    /// The requesting application's name (lrmadmin, crmd).
    pub app_name: String,
}

/// How an operation ended, as cluster-glue's op_status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum OpStatus {
    /// Queued or running (-1).
    Pending,
    /// The agent ran and returned `rc` (0).
    Done,
    /// Cancelled (1).
    Cancelled,
    /// Killed at its timeout (2).
    Timeout,
    /// Not supported (3).
    NotSupported,
    /// Could not run: no such agent, exec failure (4).
    Error,
}

impl OpStatus {
    /// cluster-glue's number.
    pub fn code(self) -> i32 {
        match self {
            OpStatus::Pending => -1,
            OpStatus::Done => 0,
            OpStatus::Cancelled => 1,
            OpStatus::Timeout => 2,
            OpStatus::NotSupported => 3,
            OpStatus::Error => 4,
        }
    }

    /// lrmadmin's word for it.
    pub fn word(self) -> &'static str {
        match self {
            OpStatus::Pending => "pending",
            OpStatus::Done => "succeed",
            OpStatus::Cancelled => "cancelled",
            OpStatus::Timeout => "timeout",
            OpStatus::NotSupported => "not Supported",
            OpStatus::Error => "failed due to an error",
        }
    }
}

/// The result of one run of an operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpResult {
    /// The call id lrmd gave the operation.
    pub call_id: u64,
    /// The resource.
    pub rsc: String,
    /// The operation as asked.
    pub spec: OpSpec,
    /// How it ended.
    pub status: OpStatus,
    /// The mapped return code (OCF numbering).
    pub rc: i32,
    /// Captured stdout, at most the capture bound.
    pub output: String,
    /// `ocf-exit-reason:` text from stderr, if any.
    pub exit_reason: Option<String>,
    /// Wall-clock time the run started, seconds since the epoch.
    pub run_at: u64,
    /// Wall-clock time the rc last changed, seconds since the epoch.
    pub rc_changed_at: u64,
    /// Time spent queued, milliseconds.
    pub queue_ms: u64,
    /// Time the agent ran, milliseconds.
    pub exec_ms: u64,
}

/// A resource's state (`lrmadmin -S`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RscState {
    /// Whether an operation is running.
    pub busy: bool,
    /// Pending operations (queued, running or recurring), with their last
    /// result if they have one.
    pub pending: Vec<(u64, OpSpec, Option<OpResult>)>,
    /// The last result of each operation (key `op_interval`), kept across
    /// client reconnects.
    pub history: Vec<OpResult>,
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// Register a resource (replacing nothing: an existing id is refused
    /// unless identical).
    Add(Resource),
    /// Unregister a resource (refused while operations run).
    Delete(String),
    /// Cancel every pending operation of a resource.
    Flush(String),
    /// Report a failure of a resource to subscribers (rc, reason).
    Fail(String, i32, String),
    /// Queue an operation; answered with its call id.
    Perform(OpSpec),
    /// Cancel a pending or recurring operation by call id.
    Cancel(String, u64),
    /// One resource.
    Get(String),
    /// Every resource.
    List,
    /// A resource's state and history.
    State(String),
    /// Supported classes.
    Classes,
    /// Agents of a class.
    Types(String),
    /// Providers of an ocf agent.
    Providers(String, String),
    /// An agent's metadata (class, type, provider).
    Metadata(String, String, Option<String>),
    /// Set a daemon parameter (`max-children`).
    SetParam(String, String),
    /// Read a daemon parameter.
    GetParam(String),
    /// Receive every reported result as [`Event::OpDone`].
    Subscribe,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// Refused, with why.
    Failed(String),
    /// No such resource.
    NoSuchResource,
    /// The call id of a queued operation.
    CallId(u64),
    /// A resource.
    Resource(Resource),
    /// Resources.
    Resources(Vec<Resource>),
    /// A resource's state.
    State(RscState),
    /// A list of names.
    Names(Vec<String>),
    /// Text (metadata, a parameter's value).
    Text(String),
}

/// What lrmd pushes to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Event {
    /// An operation completed (and its notify rule says to report it).
    OpDone(OpResult),
    /// A resource was failed by a client (`-X`).
    Failed {
        /// The resource.
        rsc: String,
        /// The rc given.
        rc: i32,
        /// The reason given.
        reason: String,
    },
}

impl Protocol for LrmApi {
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn is_write(r: &Request) -> bool {
        !matches!(
            r,
            Request::Get(_)
                | Request::List
                | Request::State(_)
                | Request::Classes
                | Request::Types(_)
                | Request::Providers(..)
                | Request::Metadata(..)
                | Request::GetParam(_)
                | Request::Subscribe
        )
    }
}

/// lrmd's socket, `$HA_RUNDIR/lrmd.sock`.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    paths.socket("lrmd")
}

/// A connection to lrmd, for tools.
pub struct LrmClient {
    inner: BlockingClient<LrmApi>,
}

impl LrmClient {
    /// Connects to lrmd at `path`; every call then waits at most `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<LrmClient, IpcError> {
        let mut inner = BlockingClient::connect_timeout(path, timeout)?;
        inner.set_timeout(Some(timeout));
        Ok(LrmClient { inner })
    }

    /// Connects to this node's lrmd.
    pub fn local(paths: &plumbing::HaPaths, timeout: Duration) -> Result<LrmClient, IpcError> {
        Self::connect(&socket_path(paths), timeout)
    }

    /// Sends a request and waits for its answer.
    pub fn call(&mut self, r: &Request) -> Result<Response, IpcError> {
        self.inner.call(r)
    }

    /// Waits up to `wait` for a pushed event (`None`: the wait ended).
    pub fn next_event(&mut self, wait: Option<Duration>) -> Result<Option<Event>, IpcError> {
        self.inner.next_event(wait)
    }
}

//! The CIB client API: what a local process (cibadmin, crmd, attrd) asks
//! the cib daemon over `$HA_RUNDIR/crm/cib.sock`, and the change
//! notifications it is pushed. Documents travel as XML text (Pacemaker's
//! serialisation), so the protocol does not depend on the document model;
//! the daemon parses and validates whatever it is given.
//!
//! **API boundary:** `Request`, `Response` and `Event` are what every CRM
//! daemon and tool speaks to the cib.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The cib API protocol.
pub struct CibApi;

/// The operation of a request (cibadmin's commands).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum OpKind {
    /// `-Q`.
    Query,
    /// `-C`.
    Create,
    /// `-M`.
    Modify,
    /// `-R`.
    Replace,
    /// `-D` / `-d`.
    Delete,
    /// `-E`.
    Erase,
    /// `-B`.
    Bump,
    /// `-u`.
    Upgrade,
    /// `-P`.
    Patch,
}

impl OpKind {
    /// Whether the operation may change the CIB.
    pub fn is_write(self) -> bool {
        self != OpKind::Query
    }
}

/// One CIB operation with cibadmin's options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpRequest {
    /// The operation.
    pub op: OpKind,
    /// `-o SECTION`.
    pub section: Option<String>,
    /// `-A XPATH`.
    pub xpath: Option<String>,
    /// The XML input (`-X`/`-x`/`-p`), as text.
    pub data: Option<String>,
    /// `-c`.
    pub allow_create: bool,
    /// `-n`.
    pub no_children: bool,
    /// `-d`: every XPath match.
    pub multiple: bool,
    /// `-e`: answer with paths.
    pub node_path: bool,
    /// `-l`: a query answered from this node's copy (no forwarding to the
    /// master).
    pub local: bool,
}

impl OpRequest {
    /// A request with no options.
    pub fn new(op: OpKind) -> OpRequest {
        OpRequest {
            op,
            section: None,
            xpath: None,
            data: None,
            allow_create: false,
            no_children: false,
            multiple: false,
            node_path: false,
            local: false,
        }
    }
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// Run an operation.
    Op(OpRequest),
    /// Receive every change as an [`Event::Diff`]; answered with the
    /// current version.
    Subscribe,
    /// The current version, digest and replication state.
    Status,
}

/// The version triple, `admin_epoch.epoch.num_updates`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Version {
    /// Administrator's counter.
    pub admin_epoch: u64,
    /// Configuration counter.
    pub epoch: u64,
    /// Other changes.
    pub num_updates: u64,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.admin_epoch, self.epoch, self.num_updates
        )
    }
}

/// A refused operation, with what cibadmin prints for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// Pacemaker's exit code (105 no such object, 103 old, 78 schema, ...).
    pub code: i32,
    /// Pacemaker's text ("Call failed: TEXT").
    pub reason: String,
    /// Details naming the offending element.
    pub message: String,
    /// For create: the `<failed>` document, pretty-printed.
    pub failed: Option<String>,
    /// For schema errors: the numbered dump of the rejected result.
    pub dump: Option<String>,
}

/// The cib's state, for tools and tests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// The version.
    pub version: Version,
    /// The versioned digest (`cibadmin -6`).
    pub digest: String,
    /// The node that applies updates (this node when standalone).
    pub master: String,
    /// Nodes whose cib this one replicates with, itself included.
    pub peers: Vec<String>,
    /// Whether a full copy is awaited (writes wait meanwhile).
    pub syncing: bool,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// A query's answer, pretty-printed XML.
    Xml(String),
    /// A query's answer as paths (`-e`).
    Paths(Vec<String>),
    /// A write was applied (or changed nothing), and is on disk.
    Done {
        /// The version after it.
        version: Version,
        /// Whether the CIB changed.
        changed: bool,
    },
    /// The operation was refused; nothing changed.
    Failed(Failure),
    /// [`Request::Subscribe`]: the version notifications start from.
    Subscribed(Version),
    /// [`Request::Status`].
    Status(Status),
}

/// What the cib pushes to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Event {
    /// A change: the v2 patchset (`<diff format="2">`, with source and
    /// target versions and the result's digest).
    Diff {
        /// The version after the change.
        version: Version,
        /// The patchset XML.
        patch: String,
    },
    /// The whole CIB was replaced by a copy from another node (after a
    /// gap, on join or when a partition healed): re-read it.
    Replaced {
        /// The version now held.
        version: Version,
    },
}

impl Protocol for CibApi {
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn is_write(r: &Request) -> bool {
        matches!(r, Request::Op(o) if o.op.is_write())
    }
}

/// The directory of the CRM daemons' sockets and pid files,
/// `$HA_RUNDIR/crm` (owned by hacluster:haclient, mode 0750).
pub fn crm_run_dir(paths: &plumbing::HaPaths) -> PathBuf {
    paths.rundir.join("crm")
}

/// The cib's socket.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    crm_run_dir(paths).join("cib.sock")
}

/// A connection to the local cib, for tools.
pub struct CibClient {
    inner: BlockingClient<CibApi>,
}

impl CibClient {
    /// Connects to the cib at `path`; every call then waits at most
    /// `timeout` (`None`: forever).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> Result<CibClient, IpcError> {
        let mut inner =
            BlockingClient::connect_timeout(path, timeout.unwrap_or(Duration::from_secs(30)))?;
        inner.set_timeout(timeout);
        Ok(CibClient { inner })
    }

    /// Connects to this node's cib.
    pub fn local(
        paths: &plumbing::HaPaths,
        timeout: Option<Duration>,
    ) -> Result<CibClient, IpcError> {
        Self::connect(&socket_path(paths), timeout)
    }

    /// Runs one operation and waits for its answer.
    pub fn perform(&mut self, op: OpRequest) -> Result<Response, IpcError> {
        self.inner.call(&Request::Op(op))
    }

    /// The cib's status.
    pub fn status(&mut self) -> Result<Status, IpcError> {
        match self.inner.call(&Request::Status)? {
            Response::Status(s) => Ok(s),
            other => Err(IpcError::Closed(format!("unexpected answer {other:?}"))),
        }
    }

    /// Subscribes to change notifications; returns the current version.
    pub fn subscribe(&mut self) -> Result<Version, IpcError> {
        match self.inner.call(&Request::Subscribe)? {
            Response::Subscribed(v) => Ok(v),
            other => Err(IpcError::Closed(format!("unexpected answer {other:?}"))),
        }
    }

    /// The next notification, waiting up to `wait`.
    pub fn next_event(&mut self, wait: Option<Duration>) -> Result<Option<Event>, IpcError> {
        self.inner.next_event(wait)
    }
}

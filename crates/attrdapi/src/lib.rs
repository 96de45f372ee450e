//! The attribute daemon's client API: what a local process (attrd_updater,
//! crmd) asks attrd over `$HA_RUNDIR/attrd.sock`.
//!
//! Node attributes are name/value pairs per node. attrd keeps every node's
//! values (so a query on any node answers for all), dampens changes (a
//! change reaches the CIB only after its delay passed without a further
//! change) and writes them to the CIB: transient ones (`Lifetime::Reboot`)
//! in the node's `transient_attributes` in the status section, permanent
//! ones (`Lifetime::Forever`) in its `<node>` entry of the nodes section.
//!
//! **API boundary:** `Request`, `Response` and the limits here are what
//! attrd_updater and crmd speak to attrd.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{BlockingClient, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The attrd API protocol.
pub struct AttrdApi;

/// Longest attribute name, in bytes.
pub const MAX_NAME: usize = 256;
/// Longest value, in bytes.
pub const MAX_VALUE: usize = 4096;
/// Longest dampening delay (one day), in milliseconds.
pub const MAX_DELAY_MS: u64 = 86_400_000;

/// Where a value lives in the CIB (attrd_updater's `-l`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lifetime {
    /// `reboot` / `status`: the node's transient attributes, cleared when
    /// the node (its attrd) starts again.
    Reboot,
    /// `forever` / `nodes`: the node's entry in the configuration.
    Forever,
}

impl Lifetime {
    /// Parses attrd_updater's `-l` argument (Pacemaker's four spellings).
    pub fn parse(s: &str) -> Option<Lifetime> {
        match s {
            "reboot" | "status" => Some(Lifetime::Reboot),
            "forever" | "nodes" => Some(Lifetime::Forever),
            _ => None,
        }
    }

    /// The word attrd_updater takes for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifetime::Reboot => "reboot",
            Lifetime::Forever => "forever",
        }
    }
}

/// What an update does to the value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Change {
    /// Set the value (`-U`, `-B`).
    Set(String),
    /// Remove the value (`-D`).
    Delete,
    /// Leave the value, change only the delay (`-Y`).
    DelayOnly,
}

/// One update of one node's value of one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Update {
    /// The attribute's name.
    pub name: String,
    /// The node (`None`: the local node).
    pub node: Option<String>,
    /// What to do with the value.
    pub change: Change,
    /// The new dampening delay in milliseconds (`None`: keep the current
    /// one, 0 for a new attribute).
    pub delay_ms: Option<u64>,
    /// Where it is written.
    pub lifetime: Lifetime,
    /// If this creates the value, never write it to the CIB (`-p`).
    pub private: bool,
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// Change a value. Answered once the value's owner (the node it
    /// belongs to) holds it; the CIB follows after the delay.
    Update(Update),
    /// The values of an attribute: of one node, or of every node (`None`).
    Query {
        /// The attribute.
        name: String,
        /// The node (`None`: all).
        node: Option<String>,
    },
    /// Write every value again to the CIB, on every node (`-R`).
    Refresh,
    /// The daemon's state, for tools and tests.
    Status,
}

/// One node's value of an attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeValue {
    /// The node.
    pub node: String,
    /// The value (`None`: deleted, or never set for this node).
    pub value: Option<String>,
}

/// attrd's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// This node's name.
    pub node: String,
    /// This node's id in the CIB.
    pub uuid: String,
    /// Nodes whose attrd this one exchanges values with, itself included.
    pub peers: Vec<String>,
    /// Whether the CIB connection is up.
    pub cib_connected: bool,
    /// CIB updates sent since start (each carries a whole batch).
    pub cib_updates: u64,
    /// This node's values waiting for the CIB (dampened or not yet sent).
    pub pending: usize,
}

/// Why a request was refused, with Pacemaker's exit code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// Pacemaker's exit code (64 usage, 105 no such node, 124 timeout, ...).
    pub code: u8,
    /// What went wrong.
    pub message: String,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// A query's answer, by node name; `None` when attrd knows no such
    /// attribute at all.
    Values(Option<Vec<NodeValue>>),
    /// [`Request::Status`].
    Status(Status),
    /// Refused; nothing changed.
    Failed(Failure),
}

impl Protocol for AttrdApi {
    type Request = Request;
    type Response = Response;
    type Event = ();

    fn is_write(r: &Request) -> bool {
        matches!(r, Request::Update(_) | Request::Refresh)
    }
}

/// Checks an attribute name: not empty, at most [`MAX_NAME`] bytes, no
/// control characters (it becomes XML).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the attribute name is empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the attribute name is longer than {MAX_NAME} bytes"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the attribute name holds control characters".into());
    }
    Ok(())
}

/// Checks a value: at most [`MAX_VALUE`] bytes, no control characters
/// other than tab.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE {
        return Err(format!("the value is longer than {MAX_VALUE} bytes"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("the value holds control characters".into());
    }
    Ok(())
}

/// Parses a dampening delay as attrd_updater's `-d` takes it: whole
/// seconds (`5`), or with Pacemaker's units (`500ms`, `2s`, `1min`, `1h`).
/// Returns milliseconds.
pub fn parse_delay(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid delay {s:?}: expected seconds such as 5 or 500ms"))?;
    let factor = match unit.trim() {
        "" | "s" | "sec" => 1000,
        "ms" | "msec" => 1,
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        _ => return Err(format!("invalid delay {s:?}: unknown unit {unit:?}")),
    };
    let ms = n
        .checked_mul(factor)
        .filter(|ms| *ms <= MAX_DELAY_MS)
        .ok_or_else(|| format!("invalid delay {s:?}: more than one day"))?;
    Ok(ms)
}

/// attrd's socket, `$HA_RUNDIR/attrd.sock`.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    paths.socket("attrd")
}

/// A connection to attrd, for tools.
pub struct AttrdClient {
    inner: BlockingClient<AttrdApi>,
}

impl AttrdClient {
    /// Connects to attrd at `path`; every call then waits at most `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<AttrdClient, IpcError> {
        let mut inner = BlockingClient::connect_timeout(path, timeout)?;
        inner.set_timeout(Some(timeout));
        Ok(AttrdClient { inner })
    }

    /// Connects to this node's attrd.
    pub fn local(paths: &plumbing::HaPaths, timeout: Duration) -> Result<AttrdClient, IpcError> {
        Self::connect(&socket_path(paths), timeout)
    }

    /// Sends a request and waits for its answer.
    pub fn call(&mut self, r: &Request) -> Result<Response, IpcError> {
        self.inner.call(r)
    }

    /// Sends a request without waiting for an answer (it is still
    /// answered in order; a later `call` sees only its own answer).
    pub fn send(&mut self, r: &Request) -> Result<(), IpcError> {
        self.inner.send(r)
    }

    /// The daemon's state.
    pub fn status(&mut self) -> Result<Status, IpcError> {
        match self.inner.call(&Request::Status)? {
            Response::Status(s) => Ok(s),
            other => Err(IpcError::Closed(format!("unexpected answer {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_take_seconds_and_units() {
        for (s, ms) in [
            ("5", Ok(5000)),
            ("0", Ok(0)),
            ("500ms", Ok(500)),
            ("2s", Ok(2000)),
            ("1min", Ok(60_000)),
            ("1h", Ok(3_600_000)),
        ] {
            assert_eq!(parse_delay(s), ms, "{s}");
        }
        for bad in ["", "abc", "-1", "5 parsecs", "100000000000", "2d"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lifetimes_take_pacemakers_four_words() {
        assert_eq!(Lifetime::parse("reboot"), Some(Lifetime::Reboot));
        assert_eq!(Lifetime::parse("status"), Some(Lifetime::Reboot));
        assert_eq!(Lifetime::parse("forever"), Some(Lifetime::Forever));
        assert_eq!(Lifetime::parse("nodes"), Some(Lifetime::Forever));
        assert_eq!(Lifetime::parse("bogus"), None);
    }

    #[test]
    fn names_and_values_are_checked() {
        assert!(check_name("pingd").is_ok());
        assert!(check_name("node2-eth0").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert!(check_value("").is_ok());
        assert!(check_value("a b\tc").is_ok());
        assert!(check_value("a\u{1}").is_err());
        assert!(check_value(&"x".repeat(MAX_VALUE + 1)).is_err());
    }
}

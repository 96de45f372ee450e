//! The heartbeat client API: what a local process (cl_status, ccm, crmd,
//! attrd) can ask the master control process over its socket
//! (`$HA_RUNDIR/heartbeat.sock`), and what it is told. Queries (cluster
//! status, parameters, client status) need no sign-on; sending and
//! receiving cluster messages needs a sign-on under a client name that
//! ha.cf's `apiauth` admits. Cluster messages travel as the netstring body
//! of the msg crate (`msg::encode`/`msg::decode`), so there is one codec.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use ipc::{BlockingClient, Bytes, IpcError, Protocol};
use serde::{Deserialize, Serialize};

/// The heartbeat API protocol.
pub struct HbApi;

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Request {
    /// Nodes, their status and type, links, and the local node.
    Status,
    /// The effective value of an ha.cf parameter (`keepalive`, ...).
    Parameter(String),
    /// Whether a client of that name is signed on at that node. For another
    /// node the master asks that node's master over the cluster (Heartbeat's
    /// `query-cstatus` / `respond-cstatus`) and answers when it replies, or
    /// with an error after `timeout_ms`.
    ClientStatus {
        /// The node.
        node: String,
        /// The client name.
        client: String,
        /// How long to wait for another node's answer (Heartbeat's
        /// cl_status default is 500 ms).
        timeout_ms: u32,
    },
    /// Sign on as `client` to send and receive cluster messages.
    Signon {
        /// The client name (e.g. `ccm`, `crmd`).
        client: String,
    },
    /// Sign off.
    Signoff,
    /// Receive cluster messages of these types (`t` field) as events; an
    /// empty list means all types.
    Subscribe(Vec<String>),
    /// Send a cluster message (a `msg::encode`d body) to every node, or to
    /// one node.
    Send {
        /// The addressee, or `None` for the whole cluster.
        to: Option<String>,
        /// The message body.
        body: Bytes,
    },
}

/// A node as the master sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// `init`, `up`, `active`, `dead` (`ping` for ping nodes).
    pub status: String,
    /// `normal` or `ping`.
    pub node_type: String,
    /// Links to it: interface name and `up`/`dead`.
    pub links: Vec<(String, String)>,
    /// Its Heartbeat uuid in text form (`2e8d...-...`), once known (the
    /// local node's always; a peer's from its first packet). The CRM uses
    /// it as the node's id in the CIB, as Pacemaker on Heartbeat does.
    pub uuid: Option<String>,
}

/// A Heartbeat uuid (16 bytes) in its text form: lowercase hex, 8-4-4-4-12.
pub fn uuid_text(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 {
        return None;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// The cluster as the master sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterStatus {
    /// This node's name.
    pub local: String,
    /// Our version.
    pub version: String,
    /// Every configured node.
    pub nodes: Vec<NodeInfo>,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Response {
    /// Done.
    Ok,
    /// The cluster status.
    Status(ClusterStatus),
    /// A parameter's value, or `None` if there is no such parameter.
    Parameter(Option<String>),
    /// `online`, `offline` (or `join`/`leave` while changing).
    ClientStatus(String),
    /// Refused, with the reason.
    Error(String),
}

/// What the master pushes to signed-on clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Event {
    /// A node changed status.
    NodeStatus {
        /// The node.
        node: String,
        /// Its new status.
        status: String,
    },
    /// A link changed status.
    LinkStatus {
        /// The node at the other end.
        node: String,
        /// The interface.
        link: String,
        /// `up` or `dead`.
        status: String,
    },
    /// A cluster message of a subscribed type.
    Message {
        /// The sender.
        from: String,
        /// The message body (`msg::decode` it).
        body: Bytes,
    },
}

impl Protocol for HbApi {
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn is_write(r: &Request) -> bool {
        !matches!(
            r,
            Request::Status | Request::Parameter(_) | Request::ClientStatus { .. }
        )
    }
}

/// The socket of the master on this node.
pub fn socket_path(paths: &plumbing::HaPaths) -> PathBuf {
    paths.socket("heartbeat")
}

/// Connects to the local master, for command-line tools.
pub fn connect(paths: &plumbing::HaPaths) -> Result<BlockingClient<HbApi>, IpcError> {
    let mut c = BlockingClient::connect_timeout(&socket_path(paths), Duration::from_secs(5))?;
    c.set_timeout(Some(Duration::from_secs(10)));
    Ok(c)
}

/// Connects a daemon to heartbeat on `lp` to exchange cluster messages:
/// signs on as `client` and subscribes to messages of type `msg_type`
/// (the answers arrive as events of the returned client).
pub fn cluster_client(
    lp: &mut plumbing::EventLoop,
    path: &std::path::Path,
    client: &str,
    msg_type: &str,
) -> Result<ipc::Client<HbApi>, String> {
    let mut hb: ipc::Client<HbApi> = ipc::Client::connect(lp, path, ipc::ClientLimits::default())
        .map_err(|e| format!("cannot connect to heartbeat: {e}"))?;
    for r in [
        Request::Signon {
            client: client.into(),
        },
        Request::Subscribe(vec![msg_type.into()]),
    ] {
        hb.call(lp, &r).map_err(|e| format!("heartbeat API: {e}"))?;
    }
    Ok(hb)
}

/// Sends a daemon's cluster message (already built, its `t` field set)
/// to one node or to all, through heartbeat.
pub fn send_message(
    hb: &mut ipc::Client<HbApi>,
    lp: &mut plumbing::EventLoop,
    to: Option<&str>,
    m: &msg::Message,
) -> Result<(), String> {
    let body = msg::encode(m).map_err(|e| format!("cannot encode: {e}"))?;
    let req = Request::Send {
        to: to.map(str::to_string),
        body: Bytes(body),
    };
    hb.send(lp, &req).map_err(|e| format!("not sent: {e}"))
}

/// A heartbeat client event as a cluster daemon handles it (see
/// [`cluster_event`]).
#[derive(Debug)]
pub enum ClusterEvent<W> {
    /// A successful reply to the call `id` (sign-on, subscription, status).
    Reply {
        /// The call.
        id: u64,
        /// The answer.
        body: Response,
    },
    /// A node changed status.
    NodeStatus {
        /// The node.
        node: String,
        /// Its new status.
        status: String,
    },
    /// A link changed status.
    LinkStatus {
        /// The node at the other end.
        node: String,
        /// The interface.
        link: String,
        /// `up` or `dead`.
        status: String,
    },
    /// A message of the daemon's type, decoded.
    Message {
        /// The sender.
        from: String,
        /// The daemon's own message.
        wire: W,
    },
}

/// Sorts one event of a daemon's heartbeat connection ([`cluster_client`]):
/// a refusal or a lost connection is the daemon's end (`Err`, with the
/// reason it logs), a message is decoded with `decode` (a malformed one,
/// `None`, is dropped with a debug line naming `what` daemon's messages).
pub fn cluster_event<W>(
    ev: ipc::ClientEvent<HbApi>,
    what: &str,
    decode: impl FnOnce(&msg::Message) -> Option<W>,
) -> Result<Option<ClusterEvent<W>>, String> {
    use ipc::ClientEvent;
    Ok(match ev {
        ClientEvent::Reply {
            body: Response::Error(e),
            ..
        } => return Err(format!("heartbeat refused: {e}")),
        ClientEvent::Refused { message, .. } => {
            return Err(format!("heartbeat refused: {message}"))
        }
        ClientEvent::Closed(why) => return Err(format!("lost the connection to heartbeat: {why}")),
        ClientEvent::Reply { id, body } => Some(ClusterEvent::Reply { id, body }),
        ClientEvent::Event(Event::NodeStatus { node, status }) => {
            Some(ClusterEvent::NodeStatus { node, status })
        }
        ClientEvent::Event(Event::LinkStatus { node, link, status }) => {
            Some(ClusterEvent::LinkStatus { node, link, status })
        }
        ClientEvent::Event(Event::Message { from, body }) => {
            match msg::decode(&body.0).ok().as_ref().and_then(decode) {
                Some(wire) => Some(ClusterEvent::Message { from, wire }),
                None => {
                    log::debug!("dropped a malformed {what} message from {from}");
                    None
                }
            }
        }
    })
}

#[cfg(test)]
mod uuid_tests {
    #[test]
    fn uuid_text_is_libuuid_form() {
        let b: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
        assert_eq!(
            super::uuid_text(&b).as_deref(),
            Some("00112233-4455-6677-8899-aabbccddeeff")
        );
        assert_eq!(super::uuid_text(&b[..15]), None);
    }
}

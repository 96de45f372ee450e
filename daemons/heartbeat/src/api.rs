//! The master's client API on `$HA_RUNDIR/heartbeat.sock` (crates/hbapi):
//! status queries for anyone the socket admits (root, hacluster, haclient),
//! and sign-on under a client name that ha.cf's `apiauth` allows, to send
//! cluster messages and receive subscribed ones and status changes.
//!
//! The status of a client on another node is asked of that node's master
//! as Heartbeat does (hb_api.c `api_clientstatus`, heartbeat.c
//! `HBDoMsg_T_QCSTATUS`): a `query-cstatus` message (`cn` the client,
//! `from_id` the asker) addressed to the node, answered with
//! `respond-cstatus` (`result=OK`, `cn`, `to_id`, `cs=online|offline`); the
//! API call is answered when that arrives, or fails after its timeout. A node
//! that is not active is answered `offline` at once, without asking.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use config::{HaCf, Principal};
use hbapi::{Event as ApiEvent, HbApi, Request, Response};
use ipc::{AccessPolicy, ClientId, Limits, PeerCred, Server, ServerEvent};
use plumbing::{EventLoop, HaPaths, Readiness, Token};

use crate::messaging::Messaging;

/// One `apiauth` line with its names resolved to ids.
#[derive(Debug, Clone)]
struct Grant {
    client: String,
    uids: Vec<u32>,
    gids: Vec<u32>,
}

#[derive(Debug)]
struct ApiClient {
    peer: PeerCred,
    name: Option<String>,
    /// Message types it receives (`Some(empty)`: all), `None`: none.
    subscription: Option<Vec<String>>,
}

/// A client status call waiting for another node's answer.
#[derive(Debug)]
struct PendingStatus {
    client: ClientId,
    call: u64,
    node: String,
    name: String,
    /// Our `from_id`, echoed back as `to_id`.
    id: String,
    deadline: Instant,
}

/// Most client status queries waiting at once; more are refused.
const MAX_PENDING: usize = 256;
/// The longest a client may ask us to wait for another node's answer.
const MAX_STATUS_WAIT: Duration = Duration::from_secs(60);

/// Heartbeat's message types for asking another node about a client.
const T_QCSTATUS: &str = "query-cstatus";
const T_RCSTATUS: &str = "respond-cstatus";

/// The API server.
pub struct Api {
    server: Server<HbApi>,
    clients: HashMap<ClientId, ApiClient>,
    grants: Vec<Grant>,
    params: BTreeMap<String, String>,
    events: Vec<ServerEvent<Request>>,
    pending: Vec<PendingStatus>,
    next_query: u64,
}

fn resolve(cf: &HaCf) -> Vec<Grant> {
    cf.effective_apiauth()
        .into_iter()
        .map(|a| Grant {
            uids: a
                .uids
                .iter()
                .filter_map(|p| match p {
                    Principal::Id(id) => Some(*id),
                    Principal::Name(n) => plumbing::daemon::lookup_user(n).ok().map(|u| u.uid),
                })
                .collect(),
            gids: a
                .gids
                .iter()
                .filter_map(|p| match p {
                    Principal::Id(id) => Some(*id),
                    Principal::Name(n) => plumbing::daemon::lookup_group(n).ok(),
                })
                .collect(),
            client: a.client,
        })
        .collect()
}

/// The parameters `cl_status hbparameter` can ask for: Heartbeat's
/// parameter table (values as written in ha.cf, or Heartbeat's defaults).
fn parameters(cf: &HaCf) -> BTreeMap<String, String> {
    cf.parameters.clone()
}

impl Api {
    /// Listens on the node's heartbeat socket.
    pub fn start(lp: &mut EventLoop, paths: &HaPaths, cf: &HaCf) -> Result<Api, String> {
        let uid = plumbing::daemon::lookup_user(config::CLUSTER_USER)
            .ok()
            .map(|u| u.uid);
        let gid = plumbing::daemon::lookup_group(config::CLUSTER_GROUP).ok();
        let path = hbapi::socket_path(paths);
        let server = Server::bind(
            lp,
            &path,
            0o666,
            AccessPolicy::cluster(uid, gid),
            Limits::default(),
        )
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        Ok(Api {
            server,
            clients: HashMap::new(),
            grants: resolve(cf),
            params: parameters(cf),
            events: Vec::new(),
            pending: Vec::new(),
            next_query: 0,
        })
    }

    /// Whether a loop token is the API's.
    pub fn owns(&self, token: Token) -> bool {
        self.server.owns(token)
    }

    /// How long the loop may sleep for the API's sake.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let pending = self
            .pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(Instant::now()))
            .min();
        match (self.server.poll_timeout(), pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Readiness of an API token.
    pub fn handle_io(&mut self, lp: &mut EventLoop, token: Token, ready: Readiness) {
        self.server.handle_io(lp, token, ready, &mut self.events);
    }

    /// Serves pending requests; call after every poll.
    pub fn process(&mut self, lp: &mut EventLoop, messaging: &mut Messaging, now: Instant) {
        self.server.process(lp, &mut self.events);
        while !self.events.is_empty() {
            for ev in std::mem::take(&mut self.events) {
                match ev {
                    ServerEvent::Connected { client, peer, .. } => {
                        self.clients.insert(
                            client,
                            ApiClient {
                                peer,
                                name: None,
                                subscription: None,
                            },
                        );
                    }
                    ServerEvent::Disconnected { client, .. } => {
                        self.pending.retain(|p| p.client != client);
                        if let Some(c) = self.clients.remove(&client) {
                            if let Some(name) = c.name {
                                log::info!("client {name} (pid {}) signed off", c.peer.pid);
                            }
                        }
                    }
                    ServerEvent::Request { client, call, body } => {
                        if let Some(resp) = self.answer(client, call, body, messaging, now) {
                            if let Some(id) = call {
                                let _ = self.server.reply(lp, client, id, &resp, &mut self.events);
                            }
                        }
                    }
                }
            }
        }
        // Remote client status queries nobody answered in time.
        let (expired, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| now >= p.deadline);
        self.pending = waiting;
        for p in expired {
            log::debug!("no answer from {} about client {}", p.node, p.name);
            let resp = Response::Error("No timely response.".into());
            let _ = self
                .server
                .reply(lp, p.client, p.call, &resp, &mut self.events);
        }
    }

    /// The status of a client on another node: `offline` at once if the
    /// node is not active, else a `query-cstatus` to it and no answer yet.
    fn remote_client_status(
        &mut self,
        (id, call): (ClientId, Option<u64>),
        node: &str,
        client: &str,
        timeout_ms: u32,
        messaging: &mut Messaging,
        now: Instant,
    ) -> Option<Response> {
        match messaging.node_status(node) {
            None => return Some(Response::Error(format!("no node {node}"))),
            Some("active") => {}
            Some(_) => return Some(Response::ClientStatus("offline".into())),
        }
        let call = call?;
        if self.pending.len() >= MAX_PENDING {
            return Some(Response::Error("too many client status queries".into()));
        }
        self.next_query += 1;
        let query_id = format!("{}-{}", messaging.local_name(), self.next_query);
        let mut m = msg::Message::new();
        m.add("t", T_QCSTATUS)
            .add("cn", client)
            .add("from_id", query_id.as_str());
        if let Err(e) = messaging.send(now, Some(node), m) {
            return Some(Response::Error(e));
        }
        let wait = Duration::from_millis(u64::from(timeout_ms)).min(MAX_STATUS_WAIT);
        self.pending.push(PendingStatus {
            client: id,
            call,
            node: node.to_ascii_lowercase(),
            name: client.to_owned(),
            id: query_id,
            deadline: now + wait,
        });
        None
    }

    /// Whether a client of that name is signed on here.
    fn online(&self, name: &str) -> bool {
        self.clients
            .values()
            .any(|c| c.name.as_deref() == Some(name))
    }

    /// Heartbeat's client status exchange between masters. Returns true if
    /// `m` was part of it (and is not for the API clients).
    fn client_status_exchange(
        &mut self,
        lp: &mut EventLoop,
        from: &str,
        m: &msg::Message,
        messaging: &mut Messaging,
        now: Instant,
    ) -> bool {
        match m.get_str("t") {
            Some(T_QCSTATUS) => {
                let (Some(name), Some(asker)) = (m.get_str("cn"), m.get_str("from_id")) else {
                    log::error!("{T_QCSTATUS} from {from} without cn or from_id");
                    return true;
                };
                let status = if self.online(name) {
                    "online"
                } else {
                    "offline"
                };
                let mut r = msg::Message::new();
                r.add("t", T_RCSTATUS)
                    .add("result", "OK")
                    .add("cn", name)
                    .add("to_id", asker)
                    .add("cs", status);
                if let Err(e) = messaging.send(now, Some(from), r) {
                    log::error!("cannot answer {from}'s client status query: {e}");
                }
                true
            }
            Some(T_RCSTATUS) => {
                let to = m.get_str("to_id");
                let Some(i) = self.pending.iter().position(|p| {
                    Some(p.id.as_str()) == to
                        && p.node.eq_ignore_ascii_case(from)
                        && m.get_str("cn") == Some(p.name.as_str())
                }) else {
                    log::debug!("{T_RCSTATUS} from {from} for nobody waiting");
                    return true;
                };
                let p = self.pending.remove(i);
                let resp = match (m.get_str("result"), m.get_str("cs")) {
                    (Some("OK"), Some(cs)) => Response::ClientStatus(cs.to_owned()),
                    _ => Response::Error("received wrong type of msg".into()),
                };
                let _ = self
                    .server
                    .reply(lp, p.client, p.call, &resp, &mut self.events);
                true
            }
            _ => false,
        }
    }

    fn allowed(&self, peer: &PeerCred, name: &str) -> bool {
        let grant = self
            .grants
            .iter()
            .find(|g| g.client == name)
            .or_else(|| self.grants.iter().find(|g| g.client == "anon"));
        grant.is_some_and(|g| {
            g.uids.contains(&peer.uid)
                || g.gids.contains(&peer.gid)
                || peer.groups.iter().any(|x| g.gids.contains(x))
        })
    }

    /// The answer to a request; `None` when it comes later (a remote
    /// client status).
    fn answer(
        &mut self,
        id: ClientId,
        call: Option<u64>,
        r: Request,
        messaging: &mut Messaging,
        now: Instant,
    ) -> Option<Response> {
        Some(match r {
            Request::Status => Response::Status(messaging.cluster_status()),
            Request::Parameter(p) => Response::Parameter(self.params.get(&p).cloned()),
            Request::ClientStatus {
                node,
                client,
                timeout_ms,
            } => {
                if !node.eq_ignore_ascii_case(messaging.local_name()) {
                    return self.remote_client_status(
                        (id, call),
                        &node,
                        &client,
                        timeout_ms,
                        messaging,
                        now,
                    );
                }
                let online = self.online(&client);
                Response::ClientStatus(if online { "online" } else { "offline" }.into())
            }
            Request::Signon { client } => {
                let Some(peer) = self.clients.get(&id).map(|c| c.peer.clone()) else {
                    return Some(Response::Error("unknown connection".into()));
                };
                if !self.allowed(&peer, &client) {
                    log::warn!(
                        "client {client} (pid {}, uid {}) refused: not allowed by apiauth",
                        peer.pid,
                        peer.uid
                    );
                    return Some(Response::Error(format!(
                        "apiauth does not allow uid {} to sign on as {client}",
                        peer.uid
                    )));
                }
                if self
                    .clients
                    .values()
                    .any(|c| c.name.as_deref() == Some(client.as_str()))
                {
                    return Some(Response::Error(format!(
                        "a client named {client} is already signed on"
                    )));
                }
                log::info!("client {client} (pid {}) signed on", peer.pid);
                if let Some(c) = self.clients.get_mut(&id) {
                    c.name = Some(client);
                }
                Response::Ok
            }
            Request::Signoff => {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.name = None;
                    c.subscription = None;
                }
                Response::Ok
            }
            Request::Subscribe(types) => match self.clients.get_mut(&id) {
                Some(c) if c.name.is_some() => {
                    c.subscription = Some(types);
                    Response::Ok
                }
                _ => Response::Error("sign on first".into()),
            },
            Request::Send { to, body } => {
                if self
                    .clients
                    .get(&id)
                    .and_then(|c| c.name.as_ref())
                    .is_none()
                {
                    return Some(Response::Error("sign on first".into()));
                }
                match msg::decode(&body.0) {
                    Ok(m) => match messaging.send(now, to.as_deref(), m) {
                        Ok(()) => Response::Ok,
                        Err(e) => Response::Error(e),
                    },
                    Err(e) => Response::Error(format!("not a cluster message: {e}")),
                }
            }
        })
    }

    /// Pushes status changes and delivered messages to signed-on clients;
    /// answers and collects the client status exchange between masters.
    pub fn publish(&mut self, lp: &mut EventLoop, messaging: &mut Messaging, now: Instant) {
        loop {
            let events = messaging.take_notices();
            if events.is_empty() {
                break;
            }
            self.publish_some(lp, events, messaging, now);
        }
    }

    fn publish_some(
        &mut self,
        lp: &mut EventLoop,
        events: Vec<ApiEvent>,
        messaging: &mut Messaging,
        now: Instant,
    ) {
        for ev in events {
            let t = match &ev {
                ApiEvent::Message { from, body } => match msg::decode(&body.0) {
                    Ok(m) if self.client_status_exchange(lp, from, &m, messaging, now) => continue,
                    Ok(m) => m.get_str("t").map(str::to_owned),
                    Err(_) => None,
                },
                _ => None,
            };
            let targets: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(_, c)| c.name.is_some())
                .filter(|(_, c)| match (&ev, &c.subscription) {
                    (ApiEvent::Message { .. }, Some(types)) => {
                        types.is_empty() || t.as_ref().is_some_and(|t| types.contains(t))
                    }
                    (ApiEvent::Message { .. }, None) => false,
                    _ => true,
                })
                .map(|(id, _)| *id)
                .collect();
            for id in targets {
                let _ = self.server.push_event(lp, id, &ev, &mut self.events);
            }
        }
    }
}

//! The master's client API on `$HA_RUNDIR/heartbeat.sock` (crates/hbapi):
//! status queries for anyone the socket admits (root, hacluster, haclient),
//! and sign-on under a client name that ha.cf's `apiauth` allows, to send
//! cluster messages and receive subscribed ones and status changes.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

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

/// The API server.
pub struct Api {
    server: Server<HbApi>,
    clients: HashMap<ClientId, ApiClient>,
    grants: Vec<Grant>,
    params: BTreeMap<String, String>,
    events: Vec<ServerEvent<Request>>,
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

/// The parameters `cl_status hbparameter` can ask for, from the same
/// rendering `heartbeat --check` prints (one source for both).
fn parameters(cf: &HaCf) -> BTreeMap<String, String> {
    config::render_effective(cf, None)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.split("  #").next().unwrap_or(l).trim();
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
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
        })
    }

    /// Whether a loop token is the API's.
    pub fn owns(&self, token: Token) -> bool {
        self.server.owns(token)
    }

    /// How long the loop may sleep for the API's sake.
    pub fn poll_timeout(&self) -> Option<std::time::Duration> {
        self.server.poll_timeout()
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
                        if let Some(c) = self.clients.remove(&client) {
                            if let Some(name) = c.name {
                                log::info!("client {name} (pid {}) signed off", c.peer.pid);
                            }
                        }
                    }
                    ServerEvent::Request { client, call, body } => {
                        let resp = self.answer(client, body, messaging, now);
                        if let Some(id) = call {
                            let _ = self.server.reply(lp, client, id, &resp, &mut self.events);
                        }
                    }
                }
            }
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

    fn answer(
        &mut self,
        id: ClientId,
        r: Request,
        messaging: &mut Messaging,
        now: Instant,
    ) -> Response {
        match r {
            Request::Status => Response::Status(messaging.cluster_status()),
            Request::Parameter(p) => Response::Parameter(self.params.get(&p).cloned()),
            Request::ClientStatus { node, client } => {
                if !node.eq_ignore_ascii_case(messaging.local_name()) {
                    return Response::Error(format!(
                        "status of clients on other nodes ({node}) is not available yet"
                    ));
                }
                let online = self
                    .clients
                    .values()
                    .any(|c| c.name.as_deref() == Some(client.as_str()));
                Response::ClientStatus(if online { "online" } else { "offline" }.into())
            }
            Request::Signon { client } => {
                let Some(peer) = self.clients.get(&id).map(|c| c.peer.clone()) else {
                    return Response::Error("unknown connection".into());
                };
                if !self.allowed(&peer, &client) {
                    log::warn!(
                        "client {client} (pid {}, uid {}) refused: not allowed by apiauth",
                        peer.pid,
                        peer.uid
                    );
                    return Response::Error(format!(
                        "apiauth does not allow uid {} to sign on as {client}",
                        peer.uid
                    ));
                }
                if self
                    .clients
                    .values()
                    .any(|c| c.name.as_deref() == Some(client.as_str()))
                {
                    return Response::Error(format!(
                        "a client named {client} is already signed on"
                    ));
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
                    return Response::Error("sign on first".into());
                }
                match msg::decode(&body.0) {
                    Ok(m) => match messaging.send(now, to.as_deref(), m) {
                        Ok(()) => Response::Ok,
                        Err(e) => Response::Error(e),
                    },
                    Err(e) => Response::Error(format!("not a cluster message: {e}")),
                }
            }
        }
    }

    /// Pushes status changes and delivered messages to signed-on clients.
    pub fn publish(&mut self, lp: &mut EventLoop, events: Vec<ApiEvent>) {
        for ev in events {
            let t = match &ev {
                ApiEvent::Message { body, .. } => msg::decode(&body.0)
                    .ok()
                    .and_then(|m| m.get_str("t").map(str::to_owned)),
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

//! ccm's event loop: one `plumbing::EventLoop` with the heartbeat API
//! connection (`ipc::Client<HbApi>`), the ccm API server and the core's
//! timeout. After every poll: feed what arrived to the core, fire its
//! timeout when due, drain its outputs (persist, send, view), serve API
//! requests. No decision is made here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use ccmapi::{CcmApi, Event as ApiEvent, MemberInfo, NodeEntry, NodeList, Response, ViewInfo};
use hbapi::{ClusterEvent, HbApi};
use ipc::{AccessPolicy, Client, ClientEvent, ClientId, ClientLimits, Limits, Server, ServerEvent};
use membership::ccm::{Ccm, CcmConfig, CcmMsg, Output, View};
use membership::NodeName;
use plumbing::{Event, EventLoop, HaPaths, Signal};

use crate::State;

/// The `t` field of ccm's cluster messages.
const MSG_TYPE: &str = "ccm";

struct Service {
    core: Ccm,
    hb: Client<HbApi>,
    server: Server<CcmApi>,
    /// ha.cf's node table: ids are positions from 1.
    table: Vec<NodeName>,
    joined: BTreeSet<ClientId>,
    state: State,
    state_path: PathBuf,
    status_call: Option<u64>,
    reqs: Vec<ServerEvent<ccmapi::Request>>,
}

/// Runs until SIGTERM/SIGINT or until heartbeat goes away.
pub fn run(
    paths: &HaPaths,
    cc: CcmConfig,
    state: State,
    state_path: PathBuf,
) -> Result<(), String> {
    let mut lp = plumbing::EventLoop::for_daemon()?;
    let mut hb: Client<HbApi> =
        Client::connect(&mut lp, &hbapi::socket_path(paths), ClientLimits::default())
            .map_err(|e| format!("cannot connect to heartbeat: {e}"))?;
    let call = |hb: &mut Client<HbApi>, lp: &mut EventLoop, r: &hbapi::Request| {
        hb.call(lp, r).map_err(|e| format!("heartbeat API: {e}"))
    };
    call(
        &mut hb,
        &mut lp,
        &hbapi::Request::Signon {
            client: "ccm".into(),
        },
    )?;
    call(
        &mut hb,
        &mut lp,
        &hbapi::Request::Subscribe(vec![MSG_TYPE.into()]),
    )?;
    let status_call = Some(call(&mut hb, &mut lp, &hbapi::Request::Status)?);

    let uid = plumbing::daemon::lookup_user(config::CLUSTER_USER)
        .ok()
        .map(|u| u.uid);
    let gid = plumbing::daemon::lookup_group(config::CLUSTER_GROUP).ok();
    let sock = ccmapi::socket_path(paths);
    let server = Server::bind(
        &mut lp,
        &sock,
        0o666,
        AccessPolicy::cluster(uid, gid),
        Limits::default(),
    )
    .map_err(|e| format!("cannot listen on {}: {e}", sock.display()))?;

    let table = cc.quorum.nodes.clone();
    let core = Ccm::new(cc, Instant::now()).map_err(|e| e.to_string())?;
    let mut svc = Service {
        core,
        hb,
        server,
        table,
        joined: BTreeSet::new(),
        state,
        state_path,
        status_call,
        reqs: Vec::new(),
    };
    svc.drain(&mut lp)?;
    svc.main_loop(&mut lp)
}

impl Service {
    fn main_loop(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        let mut events = Vec::new();
        let mut hb_events = Vec::new();
        loop {
            let now = Instant::now();
            let core_wait = self
                .core
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now));
            let wait = match (core_wait, self.server.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            lp.poll(&mut events, wait)
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.drain(..) {
                match ev {
                    Event::Io { token, ready } if token == self.hb.token() => {
                        self.hb.handle_io(lp, ready, &mut hb_events);
                    }
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut self.reqs);
                    }
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                        log::info!("ccm stopping");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            for ev in hb_events.drain(..) {
                self.heartbeat_event(lp, ev)?;
            }
            let now = Instant::now();
            if self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
            self.drain(lp)?;
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
        }
    }

    fn heartbeat_event(
        &mut self,
        lp: &mut EventLoop,
        ev: ClientEvent<HbApi>,
    ) -> Result<(), String> {
        let now = Instant::now();
        let decode = |m: &msg::Message| {
            (m.get_str("t") == Some(MSG_TYPE))
                .then(|| CcmMsg::from_fields(|n| m.get_str(n)).ok())
                .flatten()
        };
        match hbapi::cluster_event(ev, "ccm", decode)? {
            Some(ClusterEvent::Reply {
                id,
                body: hbapi::Response::Status(st),
            }) if Some(id) == self.status_call => {
                self.status_call = None;
                for n in st.nodes {
                    if n.node_type != "normal" {
                        continue;
                    }
                    if let Ok(name) = NodeName::new(&n.name) {
                        self.peer_status(lp, now, &name, n.status == "active");
                    }
                }
            }
            Some(ClusterEvent::NodeStatus { node, status }) => {
                if let Ok(name) = NodeName::new(&node) {
                    self.peer_status(lp, now, &name, status == "active");
                }
            }
            Some(ClusterEvent::Message { from, wire }) => match NodeName::new(&from) {
                Ok(from) => self.core.handle_message(now, &from, wire),
                Err(_) => log::debug!("dropped a ccm message from {from:?}"),
            },
            _ => {}
        }
        Ok(())
    }

    fn peer_status(&mut self, lp: &mut EventLoop, now: Instant, node: &NodeName, alive: bool) {
        if *node == *self.core.local() || self.core.hb_alive(node) == alive {
            return;
        }
        log::debug!(
            "heartbeat reports {node} {}",
            if alive { "active" } else { "dead" }
        );
        self.core.peer_status(now, node, alive);
        let ev = ApiEvent::PeerStatus {
            node: node.to_string(),
            alive,
        };
        self.publish(lp, &ev);
    }

    fn publish(&mut self, lp: &mut EventLoop, ev: &ApiEvent) {
        for c in self.joined.clone() {
            if self.server.push_event(lp, c, ev, &mut self.reqs).is_err() {
                self.joined.remove(&c);
            }
        }
    }

    fn drain(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Persist { instance_floor } => {
                    self.state.instance_floor = instance_floor;
                    // Without the floor on disk a restart could reuse an
                    // instance: stop rather than promise.
                    self.state.save(&self.state_path)?;
                }
                Output::Send { to, msg: cm } => {
                    let mut m = msg::Message::new();
                    m.add_string("t", MSG_TYPE);
                    for (k, v) in cm.to_fields() {
                        m.add_string(k, v);
                    }
                    let body = match msg::encode(&m) {
                        Ok(b) => b,
                        Err(e) => {
                            log::error!("cannot encode a ccm {} message: {e}", cm.kind());
                            continue;
                        }
                    };
                    let req = hbapi::Request::Send {
                        to: to.map(|n| n.to_string()),
                        body: ipc::Bytes(body),
                    };
                    if let Err(e) = self.hb.send(lp, &req) {
                        // The protocol tolerates a lost message; a dead
                        // connection shows up as Closed.
                        log::warn!("ccm message not sent: {e}");
                    }
                }
                Output::ViewChanged(v) => {
                    log::info!(
                        "view {}: {} member(s) [{}], leader {}, {} ({} of {} votes)",
                        v.instance,
                        v.members.len(),
                        v.names()
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                        v.leader,
                        if v.quorum.quorate {
                            "quorum"
                        } else {
                            "no quorum"
                        },
                        v.quorum.votes,
                        v.quorum.expected
                    );
                    let info = self.view_info(&v);
                    self.publish(lp, &ApiEvent::ViewChanged(info));
                }
            }
        }
        Ok(())
    }

    fn node_id(&self, n: &NodeName) -> u32 {
        self.table
            .iter()
            .position(|x| x == n)
            .map_or(0, |i| u32::try_from(i + 1).unwrap_or(0))
    }

    fn view_info(&self, v: &View) -> ViewInfo {
        ViewInfo {
            instance: v.instance,
            leader: v.leader.to_string(),
            members: v
                .members
                .iter()
                .map(|m| MemberInfo {
                    id: self.node_id(&m.name),
                    name: m.name.to_string(),
                    incarnation: m.incarnation,
                })
                .collect(),
            quorate: v.quorum.quorate,
            votes: v.quorum.votes,
            expected_votes: v.quorum.expected,
        }
    }

    fn node_list(&self) -> NodeList {
        let view = self.core.view();
        let nodes = self
            .core
            .known_nodes()
            .into_iter()
            .map(|n| NodeEntry {
                id: self.node_id(&n),
                state: if view.is_some_and(|v| v.contains(&n)) {
                    "member"
                } else {
                    "lost"
                }
                .into(),
                name: n.to_string(),
            })
            .collect();
        NodeList {
            local: self.core.local().to_string(),
            local_id: self.node_id(self.core.local()),
            nodes,
            view: view.map(|v| self.view_info(v)),
        }
    }

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                match r {
                    ServerEvent::Request { client, call, body } => {
                        let resp = self.answer(client, body);
                        if let Some(id) = call {
                            let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
                        }
                    }
                    ServerEvent::Disconnected { client, .. } => {
                        self.joined.remove(&client);
                    }
                    ServerEvent::Connected { .. } => {}
                }
            }
            // Replies can make outputs (remove): send them.
            if let Err(e) = self.drain(lp) {
                log::error!("{e}");
            }
        }
    }

    fn answer(&mut self, client: ClientId, body: ccmapi::Request) -> Response {
        match body {
            ccmapi::Request::Nodes => Response::Nodes(self.node_list()),
            ccmapi::Request::Stats => {
                let s = self.core.stats();
                Response::Stats(ccmapi::Stats {
                    sent: s.sent,
                    periodic: s.periodic,
                    rounds: s.rounds,
                    failed_rounds: s.failed_rounds,
                    views: s.views,
                })
            }
            ccmapi::Request::View => Response::View(self.core.view().map(|v| self.view_info(v))),
            ccmapi::Request::Join => {
                self.joined.insert(client);
                Response::View(self.core.view().map(|v| self.view_info(v)))
            }
            ccmapi::Request::Remove(target) => {
                let name = match target.parse::<u32>() {
                    Ok(id) if id > 0 => match self.table.get(id as usize - 1) {
                        Some(n) => n.clone(),
                        None => return Response::NoSuchNode(format!("no node with id {id}")),
                    },
                    _ => match NodeName::new(&target) {
                        Ok(n) => n,
                        Err(e) => return Response::Error(format!("{target}: {e}")),
                    },
                };
                if !self.core.known_nodes().contains(&name) {
                    return Response::NoSuchNode(format!("{name} is not a known node"));
                }
                match self.core.remove_node(Instant::now(), &name) {
                    Ok(()) => {
                        log::info!("node {name} removed from the membership caches");
                        Response::Ok
                    }
                    Err(e) => Response::Error(e.to_string()),
                }
            }
        }
    }
}

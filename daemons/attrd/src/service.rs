//! attrd's event loop: one `plumbing::EventLoop` with the attrd API
//! server, the heartbeat API connection (unless standalone), the cib
//! connection (retried every second while the cib is away) and signals.
//! Each turn: take heartbeat events, cib answers and client requests,
//! hand them to `crate::cluster` (pure), carry out its outputs (cluster
//! messages, answers, CIB removals), and write what is due to the CIB as
//! one batch (`crate::cibreq`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attrdapi::{AttrdApi, Failure, Lifetime, Request, Response, Status};
use cibapi::CibApi;
use hbapi::{ClusterEvent, HbApi};
use ipc::{AccessPolicy, Client, ClientEvent, ClientId, ClientLimits, Limits, Server, ServerEvent};
use plumbing::{Event, EventLoop, HaPaths, Signal};

use crate::cibreq;
use crate::cluster::{Cluster, NodeInfo, Output};
use crate::wire::{self, Wire};

/// Pause between attempts to reach the cib.
const CIB_RETRY: Duration = Duration::from_secs(1);

/// How the daemon was started.
pub struct Settings {
    /// The node's paths, to reach heartbeat; `None` to run standalone.
    pub heartbeat: Option<HaPaths>,
    /// The cib's socket.
    pub cib_socket: PathBuf,
    /// This node's name (lowercase).
    pub local: String,
    /// The batching window.
    pub window: Duration,
}

/// Listens on the attrd socket (before privileges are dropped).
pub fn bind(
    lp: &mut EventLoop,
    path: &Path,
    policy: AccessPolicy,
) -> Result<Server<AttrdApi>, String> {
    Server::bind(lp, path, 0o666, policy, Limits::default())
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))
}

/// What a cib call was for.
enum CibCall {
    Subscribe,
    Clear,
    ClearPeer(String),
    LoadNodes,
    Batch,
}

/// Who gets the answer of an update that went to another node.
type Caller = (ClientId, Option<u64>);

struct Service {
    cluster: Cluster<Caller>,
    server: Server<AttrdApi>,
    reqs: Vec<ServerEvent<Request>>,
    hb: Option<Client<HbApi>>,
    cib: Option<Client<CibApi>>,
    cib_socket: PathBuf,
    cib_retry: Option<Instant>,
    cib_calls: HashMap<u64, CibCall>,
    batch_calls: usize,
    batch_ok: bool,
    cleared: bool,
    loaded: bool,
    cib_updates: u64,
    cib_warned: bool,
    /// Dead nodes to clear from the CIB once it is reachable again.
    pending_clears: Vec<(String, String)>,
}

/// Runs until SIGTERM/SIGINT, or until heartbeat goes away.
/// `lp` watches SIGTERM and SIGINT (`EventLoop::for_daemon`).
pub fn run(lp: &mut EventLoop, server: Server<AttrdApi>, settings: Settings) -> Result<(), String> {
    let mut svc = Service {
        cluster: Cluster::new(
            &settings.local,
            &settings.local,
            settings.window,
            settings.heartbeat.is_some(),
        ),
        server,
        reqs: Vec::new(),
        hb: None,
        cib: None,
        cib_socket: settings.cib_socket,
        cib_retry: Some(Instant::now()),
        cib_calls: HashMap::new(),
        batch_calls: 0,
        batch_ok: true,
        cleared: false,
        loaded: false,
        cib_updates: 0,
        cib_warned: false,
        pending_clears: Vec::new(),
    };
    if let Some(paths) = &settings.heartbeat {
        svc.join_cluster(lp, paths)?;
    }
    log::info!(
        "attrd on {} (id {}) ready",
        svc.cluster.local(),
        svc.cluster.uuid()
    );
    svc.main_loop(lp)
}

fn until(now: Instant, t: Instant) -> Duration {
    t.saturating_duration_since(now)
}

impl Service {
    /// Signs on to heartbeat, learns this node's id, the nodes and their
    /// links, publishes the link attributes and says hello.
    fn join_cluster(&mut self, lp: &mut EventLoop, paths: &HaPaths) -> Result<(), String> {
        self.hb = Some(hbapi::cluster_client(
            lp,
            &hbapi::socket_path(paths),
            "attrd",
            wire::MSG_TYPE,
        )?);
        // The snapshot after subscribing: a change after it comes as an
        // event, so the events applied after it end at the truth.
        let mut q = hbapi::connect(paths).map_err(|e| format!("cannot query heartbeat: {e}"))?;
        let status = match q.call(&hbapi::Request::Status) {
            Ok(hbapi::Response::Status(s)) => s,
            other => return Err(format!("heartbeat status query failed: {other:?}")),
        };
        let nodes: Vec<NodeInfo> = status
            .nodes
            .iter()
            .map(|n| NodeInfo {
                name: n.name.to_ascii_lowercase(),
                uuid: n.uuid.clone(),
                ping: n.node_type == "ping",
                links: n
                    .links
                    .iter()
                    .map(|(l, st)| (l.clone(), st == "up"))
                    .collect(),
            })
            .collect();
        self.cluster.start(Instant::now(), &nodes);
        Ok(())
    }

    fn main_loop(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        let mut events = Vec::new();
        let mut hb_events = Vec::new();
        let mut cib_events = Vec::new();
        loop {
            let now = Instant::now();
            let wait = [
                self.server.poll_timeout(),
                self.cib
                    .as_ref()
                    .and(self.cluster.core.next_flush())
                    .map(|t| until(now, t)),
                self.cib_retry.map(|t| until(now, t)),
                self.cluster.poll_timeout().map(|t| until(now, t)),
            ]
            .into_iter()
            .flatten()
            .min();
            lp.poll(&mut events, wait)
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.drain(..) {
                match ev {
                    Event::Io { token, ready }
                        if self.hb.as_ref().is_some_and(|h| h.token() == token) =>
                    {
                        if let Some(hb) = self.hb.as_mut() {
                            hb.handle_io(lp, ready, &mut hb_events);
                        }
                    }
                    Event::Io { token, ready }
                        if self.cib.as_ref().is_some_and(|c| c.token() == token) =>
                    {
                        if let Some(cib) = self.cib.as_mut() {
                            cib.handle_io(lp, ready, &mut cib_events);
                        }
                    }
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut self.reqs);
                    }
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                        log::info!("attrd stopping");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            for ev in hb_events.drain(..) {
                self.heartbeat_event(ev)?;
            }
            for ev in cib_events.drain(..) {
                self.cib_event(lp, ev);
            }
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
            self.tick(lp);
            self.outputs(lp);
            self.clear_dead(lp);
        }
    }

    // --- clients -------------------------------------------------------

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                if let ServerEvent::Request { client, call, body } = r {
                    if let Some(resp) = self.request(client, call, body) {
                        if let Some(id) = call {
                            let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
                        }
                    }
                }
            }
        }
    }

    /// Answers a request, or `None` when the answer comes later.
    fn request(&mut self, client: ClientId, call: Option<u64>, body: Request) -> Option<Response> {
        let now = Instant::now();
        match body {
            Request::Status => Some(Response::Status(Status {
                node: self.cluster.local().to_string(),
                uuid: self.cluster.uuid().to_string(),
                peers: self.cluster.members(),
                cib_connected: self.cib.is_some(),
                cib_updates: self.cib_updates,
                pending: self.cluster.core.pending(),
            })),
            Request::Query { name, node } => {
                let node = node.map(|n| self.cluster.node_name(Some(&n)));
                Some(Response::Values(
                    self.cluster.core.query(&name, node.as_deref()),
                ))
            }
            Request::Refresh => {
                log::info!("refresh: writing every value to the CIB again");
                self.cluster.refresh(now);
                Some(Response::Ok)
            }
            Request::Update(u) => self.cluster.update(now, (client, call), u).map(answer),
        }
    }

    // --- timers and writes -----------------------------------------------

    fn tick(&mut self, lp: &mut EventLoop) {
        let now = Instant::now();
        if self.cib.is_none() && self.cib_retry.is_some_and(|t| t <= now) {
            self.connect_cib(lp, now);
        }
        self.cluster.handle_timeout(now);
        self.flush(lp, now);
    }

    fn connect_cib(&mut self, lp: &mut EventLoop, now: Instant) {
        let mut cib: Client<CibApi> =
            match Client::connect(lp, &self.cib_socket, ClientLimits::default()) {
                Ok(c) => c,
                Err(e) => {
                    if !self.cib_warned {
                        log::info!(
                            "cib not reachable ({e}); values are kept and written once it is"
                        );
                        self.cib_warned = true;
                    }
                    self.cib_retry = Some(now + CIB_RETRY);
                    return;
                }
            };
        self.cib_retry = None;
        self.cib_warned = false;
        let mut calls = vec![(cibapi::Request::Subscribe, CibCall::Subscribe)];
        if !self.cleared {
            calls.push((
                cibapi::Request::Op(cibreq::clear_transient(self.cluster.uuid())),
                CibCall::Clear,
            ));
        }
        if !self.loaded {
            calls.push((
                cibapi::Request::Op(cibreq::query_nodes()),
                CibCall::LoadNodes,
            ));
        }
        for (req, kind) in calls {
            match cib.call(lp, &req) {
                Ok(id) => {
                    self.cib_calls.insert(id, kind);
                }
                Err(e) => {
                    log::warn!("cib call failed: {e}");
                    cib.close(lp);
                    self.cib_retry = Some(now + CIB_RETRY);
                    return;
                }
            }
        }
        log::info!("connected to the cib");
        self.cib = Some(cib);
        // The cib may have restarted without our values: write them all.
        self.cluster.core.mark_all_due(now);
    }

    fn cib_lost(&mut self, lp: &mut EventLoop, why: &str) {
        log::warn!("lost the cib connection ({why}); reconnecting");
        if let Some(c) = self.cib.take() {
            c.close(lp);
        }
        self.cib_calls.clear();
        let now = Instant::now();
        if self.batch_calls > 0 {
            self.batch_calls = 0;
            self.cluster.core.batch_done(now, false);
        }
        self.cib_retry = Some(now + CIB_RETRY);
    }

    fn flush(&mut self, lp: &mut EventLoop, now: Instant) {
        if self.cib.is_none() || self.batch_calls > 0 {
            return;
        }
        let Some(batch) = self.cluster.core.take_batch(now) else {
            return;
        };
        log::debug!(
            "writing {} value(s) and {} removal(s) to the CIB",
            batch.set.len(),
            batch.delete.len()
        );
        self.batch_ok = true;
        let mut failed = None;
        if let Some(cib) = self.cib.as_mut() {
            for r in cibreq::batch_requests(self.cluster.local(), self.cluster.uuid(), &batch) {
                match cib.call(lp, &cibapi::Request::Op(r)) {
                    Ok(id) => {
                        self.cib_calls.insert(id, CibCall::Batch);
                        self.batch_calls += 1;
                        self.cib_updates += 1;
                    }
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        if let Some(e) = failed {
            self.cib_lost(lp, &e);
        } else if self.batch_calls == 0 {
            self.cluster.core.batch_done(now, true);
        }
    }

    fn cib_event(&mut self, lp: &mut EventLoop, ev: ClientEvent<CibApi>) {
        let now = Instant::now();
        match ev {
            ClientEvent::Reply { id, body } => self.cib_reply(lp, id, Ok(body)),
            ClientEvent::Refused {
                id: Some(id),
                message,
                ..
            } => self.cib_reply(lp, id, Err(message)),
            ClientEvent::Refused {
                id: None, message, ..
            } => self.cib_lost(lp, &message),
            ClientEvent::Closed(why) => self.cib_lost(lp, &why),
            ClientEvent::Event(cibapi::Event::Replaced { version }) => {
                log::info!("the CIB was replaced ({version}): writing every value again");
                self.cluster.core.mark_all_due(now);
            }
            ClientEvent::Event(cibapi::Event::Diff { patch, .. }) => {
                if cibreq::removes_node_status(&patch, self.cluster.uuid()) {
                    log::debug!("this node's status was removed: writing every value again");
                    self.cluster.core.mark_all_due(now);
                }
            }
        }
    }

    fn cib_reply(&mut self, lp: &mut EventLoop, id: u64, body: Result<cibapi::Response, String>) {
        let Some(kind) = self.cib_calls.remove(&id) else {
            return;
        };
        let now = Instant::now();
        let failure = match &body {
            Ok(cibapi::Response::Failed(f)) => {
                Some(format!("{} ({}): {}", f.reason, f.code, f.message))
            }
            Err(m) => Some(m.clone()),
            Ok(_) => None,
        };
        match kind {
            CibCall::Subscribe => {}
            CibCall::ClearPeer(node) => match failure {
                None => log::info!("removed the transient attributes of {node} (it left)"),
                Some(f) => log::warn!("could not remove the transient attributes of {node}: {f}"),
            },
            CibCall::Clear => match failure {
                None => {
                    log::info!("cleared this node's transient attributes in the CIB");
                    self.cleared = true;
                }
                Some(f) => {
                    // Connecting again clears first and then writes every
                    // value again.
                    let why = format!("could not clear this node's transient attributes: {f}");
                    self.cib_lost(lp, &why);
                }
            },
            CibCall::LoadNodes => {
                if let Ok(cibapi::Response::Xml(x)) = &body {
                    match cibreq::permanent_values(x, self.cluster.uuid()) {
                        Ok(vals) => {
                            self.loaded = true;
                            if !vals.is_empty() {
                                log::info!(
                                    "{} permanent attribute(s) of this node found in the CIB",
                                    vals.len()
                                );
                            }
                            self.cluster.load_written(
                                vals.into_iter()
                                    .map(|(k, v)| (k, v, Lifetime::Forever))
                                    .collect(),
                            );
                        }
                        Err(e) => log::warn!("cannot read the nodes section: {e}"),
                    }
                } else if let Some(f) = failure {
                    // No nodes section yet is no error.
                    log::debug!("nodes section not read: {f}");
                    self.loaded = true;
                }
            }
            CibCall::Batch => {
                if let Some(f) = failure {
                    log::warn!("CIB update failed: {f}; retrying");
                    self.batch_ok = false;
                }
                self.batch_calls = self.batch_calls.saturating_sub(1);
                if self.batch_calls == 0 {
                    self.cluster.core.batch_done(now, self.batch_ok);
                }
            }
        }
    }

    // --- the cluster -----------------------------------------------------

    /// Carries out what the cluster part asks.
    fn outputs(&mut self, lp: &mut EventLoop) {
        while let Some(o) = self.cluster.poll_output() {
            match o {
                Output::Send { to, wire } => self.send(lp, to, &wire),
                Output::Answer {
                    client: (client, call),
                    result,
                } => {
                    if let Some(id) = call {
                        let resp = answer(result);
                        let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
                    }
                }
                Output::ClearNode { node, uuid } => {
                    // One entry per node: the list stays as small as the
                    // cluster while the cib is away.
                    self.pending_clears.retain(|(n, _)| *n != node);
                    self.pending_clears.push((node, uuid));
                }
            }
        }
    }

    /// Removes dead nodes' transient attributes, once the cib is there
    /// (a node that came back meanwhile writes its own again: skipped).
    fn clear_dead(&mut self, lp: &mut EventLoop) {
        let Some(cib) = self.cib.as_mut() else {
            return;
        };
        for (node, uuid) in std::mem::take(&mut self.pending_clears) {
            if self.cluster.is_peer(&node) {
                continue;
            }
            let req = cibapi::Request::Op(cibreq::clear_transient(&uuid));
            match cib.call(lp, &req) {
                Ok(id) => {
                    self.cib_calls.insert(id, CibCall::ClearPeer(node));
                }
                Err(e) => log::warn!("cannot remove the transient attributes of {node}: {e}"),
            }
        }
    }

    fn send(&mut self, lp: &mut EventLoop, to: Option<String>, w: &Wire) {
        let Some(hb) = self.hb.as_mut() else { return };
        if let Err(e) = w
            .to_message()
            .and_then(|m| hbapi::send_message(hb, lp, to.as_deref(), &m))
        {
            log::warn!("attrd message: {e}");
        }
    }

    fn heartbeat_event(&mut self, ev: ClientEvent<HbApi>) -> Result<(), String> {
        let now = Instant::now();
        match hbapi::cluster_event(ev, "attrd", Wire::from_message)? {
            Some(ClusterEvent::NodeStatus { node, status }) => {
                self.cluster
                    .node_status(now, &node.to_ascii_lowercase(), &status);
            }
            Some(ClusterEvent::LinkStatus { node, link, status }) => {
                self.cluster
                    .link_status(now, &node.to_ascii_lowercase(), &link, status == "up");
            }
            Some(ClusterEvent::Message { from, wire }) => {
                self.cluster.message(now, &from.to_ascii_lowercase(), wire)
            }
            Some(ClusterEvent::Reply { .. }) | None => {}
        }
        Ok(())
    }
}

fn answer(result: Result<(), Failure>) -> Response {
    match result {
        Ok(()) => Response::Ok,
        Err(f) => Response::Failed(f),
    }
}

//! attrd's event loop: one `plumbing::EventLoop` with the attrd API
//! server, the heartbeat API connection (unless standalone), the cib
//! connection (retried every second while the cib is away) and signals.
//! Each turn: take heartbeat events, cib answers and client requests,
//! apply them to the table (`crate::core`, pure), announce this node's
//! changed values to the peers in one go, and write what is due to the
//! CIB as one batch (`crate::cibreq`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attrdapi::{AttrdApi, Change, Failure, Lifetime, Request, Response, Status, Update};
use cibapi::CibApi;
use hbapi::HbApi;
use ipc::{AccessPolicy, Client, ClientEvent, ClientId, ClientLimits, Limits, Server, ServerEvent};
use plumbing::{Event, EventLoop, HaPaths, Signal};

use crate::cibreq;
use crate::core::{Core, Entry, Refusal};
use crate::wire::{self, Wire};

/// How long a client waits for another node's attrd to take an update.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// Most updates waiting for other nodes' attrd at once.
const MAX_FORWARDS: usize = 10_000;
/// Pause between attempts to reach the cib.
const CIB_RETRY: Duration = Duration::from_secs(1);

// Pacemaker's exit codes in refusals.
const EX_ERROR: u8 = 1;
const EX_USAGE: u8 = 64;
const EX_DISCONNECT: u8 = 102;
const EX_NOSUCH: u8 = 105;
const EX_TIMEOUT: u8 = 124;

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

/// A client's update waiting for another node's attrd.
struct Forward {
    client: ClientId,
    call: Option<u64>,
    node: String,
    deadline: Instant,
}

struct Service {
    core: Core,
    server: Server<AttrdApi>,
    reqs: Vec<ServerEvent<Request>>,
    hb: Option<Client<HbApi>>,
    local: String,
    uuid: String,
    /// Nodes whose attrd said hello (not the local one).
    peers: BTreeSet<String>,
    /// Every node's id in the CIB, as heartbeat and hellos tell.
    uuids: BTreeMap<String, String>,
    ping_nodes: BTreeSet<String>,
    /// Links to each peer: (peer, interface) -> up.
    links: BTreeMap<(String, String), bool>,
    /// Local changes to announce at the end of the turn.
    outbox: Vec<Entry>,
    forwards: HashMap<u64, Forward>,
    next_forward: u64,
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
}

/// Runs until SIGTERM/SIGINT, or until heartbeat goes away.
pub fn run(lp: &mut EventLoop, server: Server<AttrdApi>, settings: Settings) -> Result<(), String> {
    for s in [Signal::SIGTERM, Signal::SIGINT] {
        lp.watch_signal(s).map_err(|e| format!("signal: {e}"))?;
    }
    let mut svc = Service {
        core: Core::new(&settings.local, settings.window),
        server,
        reqs: Vec::new(),
        hb: None,
        uuid: settings.local.clone(),
        local: settings.local,
        peers: BTreeSet::new(),
        uuids: BTreeMap::new(),
        ping_nodes: BTreeSet::new(),
        links: BTreeMap::new(),
        outbox: Vec::new(),
        forwards: HashMap::new(),
        next_forward: 0,
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
    };
    if let Some(paths) = &settings.heartbeat {
        svc.join_cluster(lp, paths)?;
    }
    log::info!("attrd on {} (id {}) ready", svc.local, svc.uuid);
    svc.main_loop(lp)
}

fn until(now: Instant, t: Instant) -> Duration {
    t.saturating_duration_since(now)
}

impl Service {
    /// Signs on to heartbeat, learns this node's id, the nodes and their
    /// links, publishes the link attributes and says hello.
    fn join_cluster(&mut self, lp: &mut EventLoop, paths: &HaPaths) -> Result<(), String> {
        let mut hb: Client<HbApi> =
            Client::connect(lp, &hbapi::socket_path(paths), ClientLimits::default())
                .map_err(|e| format!("cannot connect to heartbeat: {e}"))?;
        for r in [
            hbapi::Request::Signon {
                client: "attrd".into(),
            },
            hbapi::Request::Subscribe(vec![wire::MSG_TYPE.into()]),
        ] {
            hb.call(lp, &r).map_err(|e| format!("heartbeat API: {e}"))?;
        }
        self.hb = Some(hb);
        // The snapshot after subscribing: a change after it comes as an
        // event, so the events applied after it end at the truth.
        let mut q = hbapi::connect(paths).map_err(|e| format!("cannot query heartbeat: {e}"))?;
        let status = match q.call(&hbapi::Request::Status) {
            Ok(hbapi::Response::Status(s)) => s,
            other => return Err(format!("heartbeat status query failed: {other:?}")),
        };
        let now = Instant::now();
        for n in &status.nodes {
            let name = n.name.to_ascii_lowercase();
            if let Some(u) = &n.uuid {
                self.uuids.insert(name.clone(), u.clone());
            }
            if name == self.local {
                if let Some(u) = &n.uuid {
                    self.uuid.clone_from(u);
                }
                continue;
            }
            if n.node_type == "ping" {
                self.ping_nodes.insert(name);
                continue;
            }
            for (iface, st) in &n.links {
                self.set_link(now, &name, iface, st == "up");
            }
        }
        self.hello(lp, None, false);
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
                    .and(self.core.next_flush())
                    .map(|t| until(now, t)),
                self.cib_retry.map(|t| until(now, t)),
                self.forwards
                    .values()
                    .map(|f| f.deadline)
                    .min()
                    .map(|t| until(now, t)),
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
                self.heartbeat_event(lp, ev)?;
            }
            for ev in cib_events.drain(..) {
                self.cib_event(lp, ev);
            }
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
            self.tick(lp);
            self.announce(lp);
        }
    }

    // --- clients -------------------------------------------------------

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                if let ServerEvent::Request { client, call, body } = r {
                    if let Some(resp) = self.request(lp, client, call, body) {
                        if let Some(id) = call {
                            let _ = self.server.reply(lp, client, id, &resp, &mut self.reqs);
                        }
                    }
                }
            }
        }
    }

    fn node_name(&self, node: Option<&str>) -> String {
        match node.map(str::to_ascii_lowercase) {
            None => self.local.clone(),
            Some(n) if n == "localhost" => self.local.clone(),
            Some(n) => n,
        }
    }

    /// Answers a request, or `None` when the answer comes later.
    fn request(
        &mut self,
        lp: &mut EventLoop,
        client: ClientId,
        call: Option<u64>,
        body: Request,
    ) -> Option<Response> {
        let failed = |code, message: String| Some(Response::Failed(Failure { code, message }));
        match body {
            Request::Status => Some(Response::Status(Status {
                node: self.local.clone(),
                uuid: self.uuid.clone(),
                peers: self
                    .peers
                    .iter()
                    .cloned()
                    .chain(std::iter::once(self.local.clone()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                cib_connected: self.cib.is_some(),
                cib_updates: self.cib_updates,
                pending: self.core.pending(),
            })),
            Request::Query { name, node } => {
                let node = node.map(|n| self.node_name(Some(&n)));
                Some(Response::Values(self.core.query(&name, node.as_deref())))
            }
            Request::Refresh => {
                log::info!("refresh: writing every value to the CIB again");
                self.core.mark_all_due(Instant::now());
                self.send(lp, None, &Wire::Refresh);
                Some(Response::Ok)
            }
            Request::Update(mut u) => {
                if let Err(e) = check_update(&u) {
                    return failed(EX_USAGE, e);
                }
                let node = self.node_name(u.node.as_deref());
                if node == self.local {
                    u.node = None;
                    return Some(match self.update_local(&u) {
                        Ok(()) => Response::Ok,
                        Err(f) => Response::Failed(f),
                    });
                }
                if self.hb.is_none() {
                    return failed(
                        EX_NOSUCH,
                        format!("{node} is not a node of this cluster (attrd runs standalone)"),
                    );
                }
                if self.forwards.len() >= MAX_FORWARDS {
                    return failed(
                        EX_ERROR,
                        format!("{MAX_FORWARDS} updates for other nodes are waiting already"),
                    );
                }
                if !self.peers.contains(&node) {
                    return failed(
                        EX_NOSUCH,
                        format!("no attrd runs on node {node} (not a node, or down)"),
                    );
                }
                self.next_forward += 1;
                let id = self.next_forward;
                u.node = Some(node.clone());
                self.send(lp, Some(&node), &Wire::Forward { id, update: u });
                self.forwards.insert(
                    id,
                    Forward {
                        client,
                        call,
                        node,
                        deadline: Instant::now() + FORWARD_TIMEOUT,
                    },
                );
                None
            }
        }
    }

    fn update_local(&mut self, u: &Update) -> Result<(), Failure> {
        match self.core.update_local(Instant::now(), u) {
            Ok(Some(e)) => {
                log::debug!(
                    "{}={} ({}, delay {} ms)",
                    e.name,
                    e.value.as_deref().unwrap_or("<deleted>"),
                    e.lifetime.as_str(),
                    e.delay_ms
                );
                self.outbox.push(e);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(Refusal::Invalid(m)) => Err(Failure {
                code: EX_USAGE,
                message: m,
            }),
            Err(Refusal::Full) => Err(Failure {
                code: EX_ERROR,
                message: format!(
                    "attrd holds {} values already; refusing more",
                    crate::core::MAX_VALUES
                ),
            }),
        }
    }

    fn set_link(&mut self, now: Instant, peer: &str, iface: &str, up: bool) {
        self.links.insert((peer.to_string(), iface.to_string()), up);
        let u = Update {
            name: format!("{peer}-{iface}"),
            node: None,
            change: Change::Set(if up { "up" } else { "dead" }.into()),
            delay_ms: None,
            lifetime: Lifetime::Reboot,
            private: false,
        };
        match self.core.update_local(now, &u) {
            Ok(Some(e)) => {
                log::info!(
                    "link attribute {}={}",
                    e.name,
                    e.value.as_deref().unwrap_or("")
                );
                self.outbox.push(e);
            }
            Ok(None) => {}
            Err(e) => log::warn!("link attribute {} not set: {e:?}", u.name),
        }
    }

    // --- timers and writes -----------------------------------------------

    fn tick(&mut self, lp: &mut EventLoop) {
        let now = Instant::now();
        if self.cib.is_none() && self.cib_retry.is_some_and(|t| t <= now) {
            self.connect_cib(lp, now);
        }
        let expired: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(f) = self.forwards.remove(&id) {
                let m = format!("Timer expired: attrd on {} did not answer", f.node);
                self.answer_forward(
                    lp,
                    f,
                    Some(Failure {
                        code: EX_TIMEOUT,
                        message: m,
                    }),
                );
            }
        }
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
                cibapi::Request::Op(cibreq::clear_transient(&self.uuid)),
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
        self.core.mark_all_due(now);
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
            self.core.batch_done(now, false);
        }
        self.cib_retry = Some(now + CIB_RETRY);
    }

    fn flush(&mut self, lp: &mut EventLoop, now: Instant) {
        if self.cib.is_none() || self.batch_calls > 0 {
            return;
        }
        let Some(batch) = self.core.take_batch(now) else {
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
            for r in cibreq::batch_requests(&self.local, &self.uuid, &batch) {
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
            self.core.batch_done(now, true);
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
                self.core.mark_all_due(now);
            }
            ClientEvent::Event(cibapi::Event::Diff { .. }) => {}
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
                    match cibreq::permanent_values(x, &self.uuid) {
                        Ok(vals) => {
                            self.loaded = true;
                            let n = vals.len();
                            self.core.load_written(
                                vals.into_iter()
                                    .map(|(k, v)| (k, v, Lifetime::Forever))
                                    .collect(),
                            );
                            if n > 0 {
                                log::info!(
                                    "{n} permanent attribute(s) of this node found in the CIB"
                                );
                                // Announce them: the peers hold our full set.
                                self.outbox.extend(self.core.own_entries());
                            }
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
                    self.core.batch_done(now, self.batch_ok);
                }
            }
        }
    }

    // --- the cluster -----------------------------------------------------

    fn send(&mut self, lp: &mut EventLoop, to: Option<&str>, w: &Wire) {
        let Some(hb) = self.hb.as_mut() else { return };
        let body = match w
            .to_message()
            .and_then(|m| msg::encode(&m).map_err(|e| e.to_string()))
        {
            Ok(b) => b,
            Err(e) => {
                log::error!("cannot encode an attrd message: {e}");
                return;
            }
        };
        let req = hbapi::Request::Send {
            to: to.map(str::to_string),
            body: ipc::Bytes(body),
        };
        if let Err(e) = hb.send(lp, &req) {
            log::warn!("attrd message not sent: {e}");
        }
    }

    /// Hello and our full set of values, to one node or all.
    fn hello(&mut self, lp: &mut EventLoop, to: Option<&str>, reply: bool) {
        let uuid = self.uuid.clone();
        self.send(lp, to, &Wire::Hello { reply, uuid });
        for w in wire::values_messages(true, self.core.own_entries()) {
            self.send(lp, to, &w);
        }
    }

    /// Announces this turn's local changes.
    fn announce(&mut self, lp: &mut EventLoop) {
        let out = std::mem::take(&mut self.outbox);
        if out.is_empty() || self.hb.is_none() {
            return;
        }
        for w in wire::values_messages(false, out) {
            self.send(lp, None, &w);
        }
    }

    fn answer_forward(&mut self, lp: &mut EventLoop, f: Forward, error: Option<Failure>) {
        let resp = match error {
            None => Response::Ok,
            Some(e) => Response::Failed(e),
        };
        if let Some(id) = f.call {
            let _ = self.server.reply(lp, f.client, id, &resp, &mut self.reqs);
        }
    }

    fn peer_gone(&mut self, lp: &mut EventLoop, node: &str) {
        if self.peers.remove(node) {
            log::info!("attrd peer {node} left; its values are forgotten");
        }
        self.core.drop_node(node);
        let lost: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, f)| f.node == node)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some(f) = self.forwards.remove(&id) {
                let m = format!("node {node} left before taking the update");
                self.answer_forward(
                    lp,
                    f,
                    Some(Failure {
                        code: EX_DISCONNECT,
                        message: m,
                    }),
                );
            }
        }
        // One survivor, the lowest-named live attrd, removes the dead
        // node's transient attributes from the CIB: a node that is down
        // keeps nothing (its permanent attributes stay).
        if crate::core::clears_for_the_dead(&self.local, &self.peers) {
            if let (Some(uuid), Some(cib)) = (self.uuids.get(node), self.cib.as_mut()) {
                let req = cibapi::Request::Op(cibreq::clear_transient(uuid));
                match cib.call(lp, &req) {
                    Ok(id) => {
                        self.cib_calls
                            .insert(id, CibCall::ClearPeer(node.to_string()));
                    }
                    Err(e) => log::warn!("cannot remove the transient attributes of {node}: {e}"),
                }
            }
        }
        // Every link to a dead node is dead.
        let now = Instant::now();
        let links: Vec<String> = self
            .links
            .iter()
            .filter(|((p, _), up)| p == node && **up)
            .map(|((_, l), _)| l.clone())
            .collect();
        for l in links {
            self.set_link(now, node, &l, false);
        }
    }

    fn heartbeat_event(
        &mut self,
        lp: &mut EventLoop,
        ev: ClientEvent<HbApi>,
    ) -> Result<(), String> {
        match ev {
            ClientEvent::Reply {
                body: hbapi::Response::Error(e),
                ..
            } => return Err(format!("heartbeat refused: {e}")),
            ClientEvent::Reply { .. } => {}
            ClientEvent::Event(hbapi::Event::NodeStatus { node, status }) => {
                let node = node.to_ascii_lowercase();
                if node == self.local || self.ping_nodes.contains(&node) {
                    return Ok(());
                }
                if status == "dead" {
                    self.peer_gone(lp, &node);
                } else if status == "active" {
                    // Back (after a partition, or started): tell it who we
                    // are and what we hold; its attrd answers likewise.
                    self.hello(lp, Some(&node), false);
                }
            }
            ClientEvent::Event(hbapi::Event::LinkStatus { node, link, status }) => {
                let node = node.to_ascii_lowercase();
                if node != self.local && !self.ping_nodes.contains(&node) {
                    self.set_link(Instant::now(), &node, &link, status == "up");
                }
            }
            ClientEvent::Event(hbapi::Event::Message { from, body }) => {
                let from = from.to_ascii_lowercase();
                if from == self.local {
                    return Ok(());
                }
                let Some(w) = msg::decode(&body.0)
                    .ok()
                    .as_ref()
                    .and_then(Wire::from_message)
                else {
                    log::debug!("dropped a malformed attrd message from {from}");
                    return Ok(());
                };
                self.cluster_message(lp, from, w);
            }
            ClientEvent::Refused { message, .. } => {
                return Err(format!("heartbeat refused: {message}"));
            }
            ClientEvent::Closed(why) => {
                return Err(format!("lost the connection to heartbeat: {why}"));
            }
        }
        Ok(())
    }

    fn cluster_message(&mut self, lp: &mut EventLoop, from: String, w: Wire) {
        match w {
            Wire::Hello { reply, uuid } => {
                if self.peers.insert(from.clone()) {
                    log::info!("attrd peer {from} is up");
                }
                self.uuids.insert(from.clone(), uuid);
                if !reply {
                    self.hello(lp, Some(&from), true);
                    // Its attrd restarted: give back what it had (nothing
                    // if its node died, so a rebooted node starts clean).
                    for entries in wire::chunks(self.core.entries_of(&from)) {
                        self.send(lp, Some(&from), &Wire::Yours { entries });
                    }
                    // A node (or its attrd) came back: whatever a survivor
                    // removed for it meanwhile, or a CIB merge lost, our
                    // values are written again (unchanged ones change
                    // nothing in the CIB).
                    self.core.mark_all_due(Instant::now());
                }
            }
            Wire::Values { full, entries } => {
                if self.peers.insert(from.clone()) {
                    log::info!("attrd peer {from} is up");
                }
                self.core.apply_peer(&from, entries, full);
            }
            Wire::Forward { id, mut update } => {
                update.node = None;
                let error = check_update(&update)
                    .map_err(|m| Failure {
                        code: EX_USAGE,
                        message: m,
                    })
                    .and_then(|()| self.update_local(&update))
                    .err();
                // The announcement first, so the origin holds the value
                // when its client hears the answer.
                self.announce(lp);
                self.send(lp, Some(&from), &Wire::Done { id, error });
            }
            Wire::Done { id, error } => {
                if let Some(f) = self.forwards.remove(&id) {
                    self.answer_forward(lp, f, error);
                }
            }
            Wire::Refresh => {
                log::info!("refresh asked by {from}: writing every value to the CIB again");
                self.core.mark_all_due(Instant::now());
            }
            Wire::Yours { entries } => {
                let taken = self.core.restore(Instant::now(), entries);
                if !taken.is_empty() {
                    log::info!(
                        "{} value(s) of this node taken back from {from}",
                        taken.len()
                    );
                    self.outbox.extend(taken);
                }
            }
        }
    }
}

/// The checks of an update that do not need the table (usage errors).
fn check_update(u: &Update) -> Result<(), String> {
    attrdapi::check_name(&u.name)?;
    if let Change::Set(v) = &u.change {
        attrdapi::check_value(v)?;
    }
    if u.delay_ms.is_some_and(|d| d > attrdapi::MAX_DELAY_MS) {
        return Err("the delay is longer than one day".into());
    }
    Ok(())
}

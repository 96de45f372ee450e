//! The controller's event loop: heartbeat messages between controllers,
//! ccm's membership views, the cib's change notifications, lrmd's results,
//! pengine's graphs, timers and crmadmin requests. Every node runs the
//! executor half; the DC also runs the join, records status and executes
//! transitions.
//!
//! The DC's status writes go to the cib in order over one connection; a
//! new graph is asked for only when none of them is in flight, the last
//! transition has finished and every join is answered, so the scheduler
//! always sees every result recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cib_xml::{Element, Limits};
use cibapi::{CibApi, CibClient, OpKind, OpRequest};
use controller::election;
use controller::graph::{ActionKind, Transition, TransitionGraph};
use controller::record;
use controller::wire::{self, CrmWire, ExecRequest};
use crmapi::{
    ControllerStatus, CrmApi, CrmRequest, CrmResponse, NodeEntry, PeApi, PeRequest, PeResponse,
};
use hbapi::HbApi;
use ipc::{AccessPolicy, Allow, Client, ClientEvent, ClientLimits, Server, ServerEvent};
use lrmapi::LrmApi;
use plumbing::{Event, EventLoop, HaPaths, Signal, TimerId};

use crate::executor::{Executor, Outcome};

/// How long the start-up waits for the services crmd needs (they are
/// started by heartbeat just before it).
const CONNECT_WAIT: Duration = Duration::from_secs(60);
/// After a failed transition, the wait before the next graph (so a
/// failing fence device or agent is retried, not hammered).
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// Cluster options the controller itself uses (crm_config).
#[derive(Debug, Clone)]
struct Options {
    dc_deadtime: Duration,
    recheck: Option<Duration>,
    transition_delay: Duration,
    shutdown_escalation: Duration,
    stonith_enabled: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dc_deadtime: Duration::from_secs(20),
            recheck: Some(Duration::from_secs(15 * 60)),
            transition_delay: Duration::ZERO,
            shutdown_escalation: Duration::from_secs(20 * 60),
            stonith_enabled: true,
        }
    }
}

impl Options {
    /// The options set in the CIB's crm_config (first value of each name).
    /// The options as the scheduler reads them from crm_config at `now`.
    fn from_cib(cib: &Element, now: i64) -> Options {
        let values = pengine::cluster_option_values(cib, cib_xml::time::DateTime(now));
        let value = |name: &str| pengine::option_value(&values, name);
        let ms = |name: &str| {
            value(name)
                .and_then(cib_xml::rules::parse_interval_ms)
                .map(Duration::from_millis)
        };
        let d = Options::default();
        Options {
            dc_deadtime: ms("dc-deadtime").unwrap_or(d.dc_deadtime),
            recheck: match ms("cluster-recheck-interval") {
                Some(z) if z.is_zero() => None,
                Some(v) => Some(v),
                None => d.recheck,
            },
            transition_delay: ms("crmd-transition-delay")
                .or_else(|| ms("transition-delay"))
                .unwrap_or(d.transition_delay),
            shutdown_escalation: ms("shutdown-escalation").unwrap_or(d.shutdown_escalation),
            stonith_enabled: value("stonith-enabled")
                .and_then(pengine::util::parse_bool)
                .unwrap_or(d.stonith_enabled),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// XPath string literal for an id (ids are NCNames: no quotes).
fn lit(s: &str) -> String {
    format!("'{s}'")
}

/// What the DC knows of a node.
#[derive(Debug, Clone, Default)]
struct Peer {
    uuid: Option<String>,
    /// Its controller said hello since it last joined the view.
    crmd: bool,
    /// Joined in the current round.
    joined: bool,
    /// Its last announced state.
    state: Option<String>,
}

struct Service {
    paths: HaPaths,
    local: String,
    uuid: String,
    hb: Client<HbApi>,
    ccm: Client<ccmapi::CcmApi>,
    cib: Client<CibApi>,
    lrm_events: Client<LrmApi>,
    pe: Option<Client<PeApi>>,
    /// attrd, for fail counts (connected when first needed).
    attrd: Option<Client<attrdapi::AttrdApi>>,
    /// stonithd, connected (and subscribed) while this node is DC.
    stonith: Option<Client<stonithapi::StonithApi>>,
    /// Fencing requests in flight: call id -> (transition, action, target,
    /// action name).
    fence_calls: HashMap<u64, (u64, u32, String, stonithapi::FenceAction)>,
    /// The pengine binary when this controller starts it itself
    /// (`crmd_spawns_pengine`, Heartbeat's default), and its pid.
    pe_spawn: Option<std::path::PathBuf>,
    pe_pid: Option<i32>,
    server: Server<CrmApi>,
    reqs: Vec<ServerEvent<CrmRequest>>,
    exec: Executor,
    opts: Options,
    // Membership.
    members: BTreeSet<String>,
    quorate: bool,
    /// Whether this partition ever had quorum (Pacemaker's
    /// `ever_had_quorum`: losing it is what no-quorum-policy=suicide
    /// answers).
    ever_had_quorum: bool,
    have_view: bool,
    peers: BTreeMap<String, Peer>,
    dc: Option<String>,
    election_timer: Option<TimerId>,
    may_elect: bool,
    // DC state.
    join_id: u64,
    cib_in_flight: BTreeSet<u64>,
    pe_call: Option<u64>,
    transition: Option<Transition>,
    transition_counter: u64,
    need_graph: bool,
    graph_timer: Option<TimerId>,
    recheck_timer: Option<TimerId>,
    action_timers: HashMap<TimerId, (u64, u32)>,
    /// The fail-count attribute names each node has (node, name), from
    /// the CIB the last graph was computed from, for clear_failcount.
    failcounts: BTreeSet<(String, String)>,
    // Shutdown of this node.
    shutting_down: bool,
    shutdown_deadline: Option<TimerId>,
    state: &'static str,
}

/// Connects, retrying while the service is not up yet.
fn wait_connect<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= CONNECT_WAIT => {
                return Err(format!("cannot connect to {what}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs until SIGTERM (after this node's resources are moved away) or
/// until a service it depends on goes away.
pub fn run(
    mut lp: EventLoop,
    paths: HaPaths,
    pe_spawn: Option<std::path::PathBuf>,
) -> Result<(), String> {
    let hb_path = paths.socket("heartbeat");
    // Who we are: heartbeat's name and uuid for this node.
    let status = wait_connect("heartbeat", || {
        let mut c: ipc::BlockingClient<HbApi> =
            ipc::BlockingClient::connect_timeout(&hb_path, Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
        c.set_timeout(Some(Duration::from_secs(10)));
        match c.call(&hbapi::Request::Status).map_err(|e| e.to_string())? {
            hbapi::Response::Status(s) => Ok(s),
            other => Err(format!("unexpected answer {other:?}")),
        }
    })?;
    let local = status.local.clone();
    let uuid = status
        .nodes
        .iter()
        .find(|n| n.name == local)
        .and_then(|n| n.uuid.clone())
        .unwrap_or_else(|| local.clone());
    let hb = hbapi::cluster_client(&mut lp, &hb_path, "crmd", wire::MSG_TYPE)?;
    let ccm_path = ccmapi::socket_path(&paths);
    let mut ccm: Client<ccmapi::CcmApi> = wait_connect("ccm", || {
        Client::connect(&mut lp, &ccm_path, ClientLimits::default()).map_err(|e| e.to_string())
    })?;
    ccm.call(&mut lp, &ccmapi::Request::Join)
        .map_err(|e| format!("ccm: {e}"))?;
    let cib_path = cibapi::socket_path(&paths);
    let limits = ClientLimits {
        max_frame: 256 << 20,
        ..ClientLimits::default()
    };
    let mut cib: Client<CibApi> = wait_connect("the cib", || {
        Client::connect(&mut lp, &cib_path, limits.clone()).map_err(|e| e.to_string())
    })?;
    cib.call(&mut lp, &cibapi::Request::Subscribe)
        .map_err(|e| format!("cib: {e}"))?;
    let lrm_path = lrmapi::socket_path(&paths);
    let mut lrm_events: Client<LrmApi> = wait_connect("lrmd", || {
        Client::connect(&mut lp, &lrm_path, ClientLimits::default()).map_err(|e| e.to_string())
    })?;
    lrm_events
        .call(&mut lp, &lrmapi::Request::Subscribe)
        .map_err(|e| format!("lrmd: {e}"))?;
    let exec = wait_connect("lrmd", || Executor::connect(&paths))?;
    let (cluster_uid, cluster_gid) =
        plumbing::daemon::cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let socket = crmapi::crmd_socket(&paths);
    let server = Server::bind(
        &mut lp,
        &socket,
        0o660,
        AccessPolicy::read_write(Allow::root_and(cluster_uid, cluster_gid)),
        ipc::Limits::default(),
    )
    .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    let opts = query_cib(&paths)
        .map(|c| Options::from_cib(&c, now_secs() as i64))
        .unwrap_or_default();
    let mut svc = Service {
        paths,
        local,
        uuid,
        hb,
        ccm,
        cib,
        lrm_events,
        pe: None,
        stonith: None,
        attrd: None,
        fence_calls: HashMap::new(),
        pe_spawn,
        pe_pid: None,
        server,
        reqs: Vec::new(),
        exec,
        opts,
        members: BTreeSet::new(),
        quorate: false,
        ever_had_quorum: false,
        have_view: false,
        peers: BTreeMap::new(),
        dc: None,
        election_timer: None,
        may_elect: false,
        join_id: 0,
        cib_in_flight: BTreeSet::new(),
        pe_call: None,
        transition: None,
        transition_counter: 0,
        need_graph: false,
        graph_timer: None,
        recheck_timer: None,
        action_timers: HashMap::new(),
        failcounts: BTreeSet::new(),
        shutting_down: false,
        shutdown_deadline: None,
        state: "S_PENDING",
    };
    log::info!(
        "crmd on {} ({}) waiting up to {:?} for a DC",
        svc.local,
        svc.uuid,
        svc.opts.dc_deadtime
    );
    svc.election_timer = Some(lp.add_timer(svc.opts.dc_deadtime));
    svc.send(
        &mut lp,
        None,
        &CrmWire::Hello {
            uuid: svc.uuid.clone(),
            dc: None,
            reply: false,
        },
    );
    svc.main_loop(&mut lp)
}

/// The whole CIB from this node's cib.
fn query_cib(paths: &HaPaths) -> Result<Element, String> {
    let mut c =
        CibClient::local(paths, Some(Duration::from_secs(60))).map_err(|e| format!("cib: {e}"))?;
    match c.perform(OpRequest::new(OpKind::Query)) {
        Ok(cibapi::Response::Xml(text)) => {
            cib_xml::xml::parse(&text, &Limits::default()).map_err(|e| format!("CIB: {e}"))
        }
        Ok(other) => Err(format!("cib answered {other:?}")),
        Err(e) => Err(format!("cib: {e}")),
    }
}

impl Service {
    fn is_dc(&self) -> bool {
        self.dc.as_deref() == Some(self.local.as_str())
    }

    fn main_loop(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        let mut events = Vec::new();
        let mut hb_events = Vec::new();
        let mut ccm_events = Vec::new();
        let mut cib_events = Vec::new();
        let mut lrm_events = Vec::new();
        let mut pe_events = Vec::new();
        let mut stonith_events = Vec::new();
        loop {
            lp.poll(&mut events, self.server.poll_timeout())
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.drain(..) {
                match ev {
                    Event::Io { token, ready } if token == self.hb.token() => {
                        self.hb.handle_io(lp, ready, &mut hb_events);
                    }
                    Event::Io { token, ready } if token == self.ccm.token() => {
                        self.ccm.handle_io(lp, ready, &mut ccm_events);
                    }
                    Event::Io { token, ready } if token == self.cib.token() => {
                        self.cib.handle_io(lp, ready, &mut cib_events);
                    }
                    Event::Io { token, ready } if token == self.lrm_events.token() => {
                        self.lrm_events.handle_io(lp, ready, &mut lrm_events);
                    }
                    Event::Io { token, ready }
                        if self.pe.as_ref().is_some_and(|p| p.token() == token) =>
                    {
                        if let Some(pe) = self.pe.as_mut() {
                            pe.handle_io(lp, ready, &mut pe_events);
                        }
                    }
                    Event::Io { token, ready }
                        if self.stonith.as_ref().is_some_and(|s| s.token() == token) =>
                    {
                        if let Some(s) = self.stonith.as_mut() {
                            s.handle_io(lp, ready, &mut stonith_events);
                        }
                    }
                    Event::Io { token, ready }
                        if self.attrd.as_ref().is_some_and(|c| c.token() == token) =>
                    {
                        let mut evs = Vec::new();
                        if let Some(c) = self.attrd.as_mut() {
                            c.handle_io(lp, ready, &mut evs);
                        }
                        if evs.iter().any(|e| matches!(e, ClientEvent::Closed(_))) {
                            if let Some(c) = self.attrd.take() {
                                c.close(lp);
                            }
                        }
                    }
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut self.reqs);
                    }
                    Event::Timer(id) => self.timer(lp, id),
                    Event::ChildExited { pid, .. } if Some(pid) == self.pe_pid => {
                        log::warn!("pengine (pid {pid}) exited; it is started again when needed");
                        self.pe_pid = None;
                    }
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) if self.begin_shutdown(lp) => {
                        self.stop_pengine();
                        return Ok(());
                    }
                    _ => {}
                }
            }
            for ev in hb_events.drain(..) {
                let decode =
                    |m: &msg::Message| m.get_binary("m").and_then(|b| wire::decode(b).ok());
                if let Some(hbapi::ClusterEvent::Message { from, wire }) =
                    hbapi::cluster_event(ev, "crmd", decode)?
                {
                    self.message(lp, &from, wire);
                }
            }
            for ev in ccm_events.drain(..) {
                match ev {
                    ClientEvent::Reply {
                        body: ccmapi::Response::View(Some(v)),
                        ..
                    }
                    | ClientEvent::Event(ccmapi::Event::ViewChanged(v)) => self.view(lp, &v),
                    ClientEvent::Closed(why) => {
                        return Err(format!("lost the connection to ccm: {why}"))
                    }
                    _ => {}
                }
            }
            for ev in cib_events.drain(..) {
                match ev {
                    ClientEvent::Reply {
                        id,
                        body: cibapi::Response::Failed(f),
                    } if self.cib_in_flight.remove(&id) => {
                        log::warn!(
                            "status update refused by the cib: {} ({})",
                            f.reason,
                            f.message
                        );
                    }
                    ClientEvent::Reply { id, .. } => {
                        self.cib_in_flight.remove(&id);
                    }
                    ClientEvent::Event(cibapi::Event::Diff { patch, .. }) => {
                        self.cib_changed(lp, Some(&patch));
                    }
                    ClientEvent::Event(cibapi::Event::Replaced { .. }) => {
                        self.cib_changed(lp, None);
                    }
                    ClientEvent::Closed(why) => {
                        return Err(format!("lost the connection to the cib: {why}"))
                    }
                    ClientEvent::Refused {
                        id: Some(id),
                        message,
                        ..
                    } => {
                        self.cib_in_flight.remove(&id);
                        log::warn!("cib refused a status update: {message}");
                    }
                    _ => {}
                }
            }
            for ev in lrm_events.drain(..) {
                match ev {
                    ClientEvent::Event(lrmapi::Event::OpDone(r)) => {
                        if let Some(o) = self.exec.finished(&r) {
                            self.report(lp, o);
                        }
                    }
                    ClientEvent::Closed(why) => {
                        return Err(format!("lost the connection to lrmd: {why}"))
                    }
                    _ => {}
                }
            }
            for ev in pe_events.drain(..) {
                match ev {
                    ClientEvent::Reply { id, body } if Some(id) == self.pe_call => {
                        self.pe_call = None;
                        self.graph(lp, body);
                    }
                    ClientEvent::Closed(why) | ClientEvent::Refused { message: why, .. } => {
                        log::warn!("pengine: {why}");
                        if let Some(pe) = self.pe.take() {
                            pe.close(lp);
                        }
                        if self.pe_call.take().is_some() {
                            self.need_graph = true;
                            self.delay_graph(lp, RETRY_DELAY);
                        }
                    }
                    _ => {}
                }
            }
            for ev in stonith_events.drain(..) {
                self.stonith_event(lp, ev);
            }
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
            self.progress(lp);
        }
    }

    // ---- messaging ----

    fn send(&mut self, lp: &mut EventLoop, to: Option<&str>, w: &CrmWire) {
        let sent = wire::encode(w).and_then(|body| {
            let mut m = msg::Message::new();
            m.add_string("t", wire::MSG_TYPE);
            m.add_binary("m", body);
            hbapi::send_message(&mut self.hb, lp, to, &m)
        });
        if let Err(e) = sent {
            log::warn!("crmd message: {e}");
        }
    }

    /// Sends to a node's controller; to this node's own, directly.
    fn send_to(&mut self, lp: &mut EventLoop, node: &str, w: CrmWire) {
        if node == self.local {
            let me = self.local.clone();
            self.message(lp, &me, w);
        } else {
            self.send(lp, Some(node), &w);
        }
    }

    fn message(&mut self, lp: &mut EventLoop, from: &str, w: CrmWire) {
        if from == self.local && matches!(w, CrmWire::Hello { .. }) {
            return;
        }
        match w {
            CrmWire::Hello { uuid, dc, reply } => self.hello(lp, from, uuid, dc, reply),
            CrmWire::JoinOffer { join_id } => self.join_offer(lp, from, join_id),
            CrmWire::JoinRequest { join_id, lrm } => self.join_request(lp, from, join_id, &lrm),
            CrmWire::Exec {
                transition,
                action,
                op,
            } => self.exec_request(lp, from, transition, action, op),
            CrmWire::Result {
                transition,
                action,
                rsc,
                key,
                rc,
                op_status,
                ok,
                history,
            } => self.result(
                lp,
                from,
                transition.zip(action),
                &rsc,
                &key,
                rc,
                op_status,
                ok,
                &history,
            ),
            CrmWire::ShutdownRequest => self.shutdown_request(lp, from),
            CrmWire::ShutdownAllowed => {
                if self.shutting_down {
                    log::info!("the DC allows this node to leave: its resources are stopped");
                    self.leave();
                }
            }
            CrmWire::State { state } => {
                self.peers.entry(from.to_string()).or_default().state = Some(state);
            }
        }
    }

    // ---- membership and election ----

    fn view(&mut self, lp: &mut EventLoop, v: &ccmapi::ViewInfo) {
        let members: BTreeSet<String> = v.members.iter().map(|m| m.name.clone()).collect();
        let lost: Vec<String> = self.members.difference(&members).cloned().collect();
        let gained: Vec<String> = members.difference(&self.members).cloned().collect();
        log::info!(
            "membership view {}: {:?}{}",
            v.instance,
            members,
            if v.quorate {
                " (quorate)"
            } else {
                " (no quorum)"
            }
        );
        self.members = members;
        let quorum_changed = self.quorate != v.quorate;
        self.quorate = v.quorate;
        self.ever_had_quorum |= v.quorate;
        self.have_view = true;
        for n in &lost {
            if let Some(p) = self.peers.get_mut(n) {
                p.crmd = false;
                p.joined = false;
                p.state = None;
            }
        }
        if self.dc.as_ref().is_some_and(|d| lost.contains(d)) {
            log::warn!(
                "the DC {} left the membership",
                self.dc.clone().unwrap_or_default()
            );
            self.dc = None;
            self.set_state(lp, "S_ELECTION");
            self.may_elect = true;
            self.elect(lp);
        }
        if !gained.is_empty() {
            // Newcomers (or a healed partition) learn who is DC.
            let dc = self.dc.clone();
            self.send(
                lp,
                None,
                &CrmWire::Hello {
                    uuid: self.uuid.clone(),
                    dc,
                    reply: true,
                },
            );
        }
        if self.is_dc() {
            for n in &lost {
                self.node_lost(lp, n);
            }
            if quorum_changed || !lost.is_empty() {
                self.write_cib_root(lp);
                self.request_graph(lp, true);
            }
        }
    }

    fn hello(
        &mut self,
        lp: &mut EventLoop,
        from: &str,
        uuid: String,
        dc: Option<String>,
        reply: bool,
    ) {
        let was_up = self.peers.get(from).is_some_and(|p| p.crmd);
        {
            let p = self.peers.entry(from.to_string()).or_default();
            p.crmd = true;
            p.uuid = Some(uuid);
            if !reply {
                p.joined = false;
            }
        }
        if !reply {
            // A controller (re)started: answer with the DC we know.
            let known = self.dc.clone();
            self.send(
                lp,
                Some(from),
                &CrmWire::Hello {
                    uuid: self.uuid.clone(),
                    dc: known,
                    reply: true,
                },
            );
            if self.dc.as_deref() == Some(from) {
                log::warn!("the DC's controller on {from} restarted: electing again");
                self.dc = None;
                self.may_elect = true;
                self.elect(lp);
                return;
            }
            if self.is_dc() {
                self.offer(lp, from);
            }
            return;
        }
        let Some(claimed) = dc else {
            if !was_up && self.dc.is_none() && self.may_elect {
                self.elect(lp);
            }
            return;
        };
        match self.dc.clone() {
            None => {
                log::info!("{claimed} is the DC");
                self.dc = Some(claimed);
                self.set_state(lp, "S_NOT_DC");
            }
            Some(mine) if mine == claimed => {}
            Some(mine) if mine == self.local => {
                // Two DCs (a healed partition): one keeps the role.
                if election::keeps_role(&self.local, &claimed) {
                    let me = Some(self.local.clone());
                    self.send(
                        lp,
                        None,
                        &CrmWire::Hello {
                            uuid: self.uuid.clone(),
                            dc: me,
                            reply: true,
                        },
                    );
                } else {
                    log::warn!("{claimed} is also DC and keeps the role: stepping down");
                    self.step_down(lp);
                    self.dc = Some(claimed);
                    self.set_state(lp, "S_NOT_DC");
                }
            }
            Some(_) => {
                if from == claimed {
                    self.dc = Some(claimed);
                }
            }
        }
    }

    /// The candidates: members whose controller said hello, and this one.
    fn candidates(&self) -> BTreeSet<String> {
        let mut c: BTreeSet<String> = self
            .peers
            .iter()
            .filter(|(n, p)| p.crmd && self.members.contains(*n))
            .map(|(n, _)| n.clone())
            .collect();
        if self.members.contains(&self.local) || !self.have_view {
            c.insert(self.local.clone());
        }
        c
    }

    fn elect(&mut self, lp: &mut EventLoop) {
        if self.dc.is_some() || !self.have_view || self.shutting_down {
            return;
        }
        let choice = election::choose(&self.candidates(), None);
        if choice.as_deref() == Some(self.local.as_str()) {
            self.become_dc(lp);
        }
    }

    fn become_dc(&mut self, lp: &mut EventLoop) {
        log::info!("{} is now the DC (Designated Controller)", self.local);
        self.dc = Some(self.local.clone());
        self.set_state(lp, "S_INTEGRATION");
        let me = Some(self.local.clone());
        self.send(
            lp,
            None,
            &CrmWire::Hello {
                uuid: self.uuid.clone(),
                dc: me,
                reply: true,
            },
        );
        if let Ok(cib) = query_cib(&self.paths) {
            self.opts = Options::from_cib(&cib, now_secs() as i64);
            self.learn_uuids(&cib);
            self.write_dc_properties(lp, &cib);
        }
        self.join_id += 1;
        for p in self.peers.values_mut() {
            p.joined = false;
        }
        self.write_cib_root(lp);
        let nodes: Vec<String> = self.candidates().into_iter().collect();
        for n in nodes {
            self.offer(lp, &n);
        }
        self.arm_recheck(lp, None);
    }

    /// Ends this controller after a shutdown: its pengine goes with it and
    /// the last log lines (why it left) are written before it exits.
    fn leave(&mut self) -> ! {
        self.stop_pengine();
        log::logger().flush();
        std::process::exit(0);
    }

    /// Starts the idle DC's recheck timer: cluster-recheck-interval, or
    /// sooner when the last graph said its answer changes earlier
    /// (`recheck-by`), as Pacemaker's controller does on entering S_IDLE.
    fn arm_recheck(&mut self, lp: &mut EventLoop, recheck_by: Option<i64>) {
        if let Some(t) = self.recheck_timer.take() {
            lp.cancel_timer(t);
        }
        let by = recheck_by.map(|t| {
            let secs = t - now_secs() as i64;
            if secs < 1 {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(secs as u64)
            }
        });
        let period = match (self.opts.recheck, by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(p) = period {
            log::debug!("rechecking the cluster in {} ms", p.as_millis());
            self.recheck_timer = Some(lp.add_timer(p));
        }
    }

    fn step_down(&mut self, lp: &mut EventLoop) {
        if let Some(t) = self.transition.as_mut() {
            t.abort();
        }
        self.transition = None;
        for (id, _) in self.action_timers.drain() {
            lp.cancel_timer(id);
        }
        if let Some(t) = self.recheck_timer.take() {
            lp.cancel_timer(t);
        }
        self.need_graph = false;
        self.fence_calls.clear();
        if let Some(s) = self.stonith.take() {
            s.close(lp);
        }
    }

    fn offer(&mut self, lp: &mut EventLoop, node: &str) {
        let join_id = self.join_id;
        self.peers.entry(node.to_string()).or_default().joined = false;
        self.send_to(lp, node, CrmWire::JoinOffer { join_id });
    }

    fn join_offer(&mut self, lp: &mut EventLoop, from: &str, join_id: u64) {
        if self.dc.as_deref() != Some(from) {
            if self.is_dc() && election::keeps_role(&self.local, from) {
                let me = Some(self.local.clone());
                self.send(
                    lp,
                    Some(from),
                    &CrmWire::Hello {
                        uuid: self.uuid.clone(),
                        dc: me,
                        reply: true,
                    },
                );
                return;
            }
            if self.is_dc() {
                self.step_down(lp);
            }
            self.dc = Some(from.to_string());
        }
        if from != self.local {
            self.set_state(lp, "S_NOT_DC");
        }
        let lrm = self.exec.lrm(&self.uuid).to_compact();
        // The node's uuid travels in its lrm's id.
        self.send_to(lp, from, CrmWire::JoinRequest { join_id, lrm });
    }

    fn join_request(&mut self, lp: &mut EventLoop, from: &str, join_id: u64, lrm: &str) {
        if !self.is_dc() || join_id != self.join_id {
            return;
        }
        let Ok(lrm) = cib_xml::xml::parse(lrm, &Limits::default()) else {
            log::warn!("dropped an unreadable join request from {from}");
            return;
        };
        let uuid = lrm.attr("id").unwrap_or(from).to_string();
        {
            let p = self.peers.entry(from.to_string()).or_default();
            p.uuid = Some(uuid.clone());
            p.crmd = true;
            p.joined = true;
        }
        log::info!("join {join_id}: {from} joined");
        // The node's entry in the configuration, then its state and its
        // whole history replacing what the CIB had.
        let node = Element::new("node")
            .with_attr("id", &uuid)
            .with_attr("uname", from)
            .with_attr("type", "member");
        self.cib_op(lp, OpKind::Modify, Some("nodes"), None, Some(node), true);
        self.cib_op(
            lp,
            OpKind::Delete,
            None,
            Some(format!("//node_state[@id={}]/lrm", lit(&uuid))),
            None,
            false,
        );
        let mut st = record::node_state(&uuid, from, true, true, "member", "member");
        st.children.push(lrm);
        self.cib_op(lp, OpKind::Modify, Some("status"), None, Some(st), true);
        if let Some(t) = self.transition.as_mut() {
            t.abort();
        }
        self.request_graph(lp, false);
    }

    // ---- DC: CIB writes ----

    fn cib_op(
        &mut self,
        lp: &mut EventLoop,
        op: OpKind,
        section: Option<&str>,
        xpath: Option<String>,
        data: Option<Element>,
        create: bool,
    ) {
        let mut r = OpRequest::new(op);
        r.section = section.map(str::to_string);
        r.xpath = xpath;
        r.data = data.map(|d| d.to_compact());
        r.allow_create = create;
        r.multiple = op == OpKind::Delete;
        match self.cib.call(lp, &cibapi::Request::Op(r)) {
            Ok(id) => {
                self.cib_in_flight.insert(id);
            }
            Err(e) => log::error!("cannot send a status update to the cib: {e}"),
        }
    }

    /// The DC records, as Pacemaker's does, its version and the cluster
    /// layer in crm_config (`dc-version`, `cluster-infrastructure`), which
    /// crm_mon shows; written only when they differ (each write is a
    /// configuration change). The pacemaker-3.x schemas forbid
    /// `cluster-infrastructure=heartbeat` (Pacemaker 2 dropped Heartbeat),
    /// so under them only the version is written, and crm_mon knows the
    /// stack from it.
    fn write_dc_properties(&mut self, lp: &mut EventLoop, cib: &Element) {
        let version = format!("{}-heartbeat-rs", env!("CARGO_PKG_VERSION"));
        let schema_3x = cib
            .attr("validate-with")
            .is_some_and(cib_xml::validate::is_3x_schema);
        let mut wanted = vec![("dc-version", version.as_str())];
        if !schema_3x {
            wanted.push(("cluster-infrastructure", "heartbeat"));
        }
        let values =
            pengine::cluster_option_values(cib, cib_xml::time::DateTime(now_secs() as i64));
        if wanted
            .iter()
            .all(|(n, v)| pengine::option_value(&values, n) == Some(*v))
        {
            return;
        }
        let mut props =
            Element::new("cluster_property_set").with_attr("id", "cib-bootstrap-options");
        for (name, value) in wanted {
            props.children.push(
                Element::new("nvpair")
                    .with_attr("id", &format!("cib-bootstrap-options-{name}"))
                    .with_attr("name", name)
                    .with_attr("value", value),
            );
        }
        self.cib_op(
            lp,
            OpKind::Modify,
            Some("crm_config"),
            None,
            Some(props),
            true,
        );
    }

    fn write_cib_root(&mut self, lp: &mut EventLoop) {
        // The feature set of Pacemaker 2.1.5, whose scheduler semantics
        // (per-operation fail counts among them) ours implements.
        let root = Element::new("cib")
            .with_attr("crm_feature_set", cib_xml::ops::FEATURE_SET)
            .with_attr("have-quorum", if self.quorate { "1" } else { "0" })
            .with_attr("dc-uuid", &self.uuid.clone());
        self.cib_op(lp, OpKind::Modify, None, None, Some(root), false);
    }

    fn node_uuid(&self, node: &str) -> String {
        self.peers
            .get(node)
            .and_then(|p| p.uuid.clone())
            .unwrap_or_else(|| node.to_string())
    }

    /// A node left the view: its state says so, what runs there is lost.
    /// Without fencing its resources are taken as stopped (the scheduler
    /// would otherwise wait for a fencing that can never come).
    fn node_lost(&mut self, lp: &mut EventLoop, node: &str) {
        let uuid = self.node_uuid(node);
        log::warn!("node {node} is lost");
        if self.opts.stonith_enabled {
            let st = record::node_state(&uuid, node, false, false, "member", "member");
            self.cib_op(lp, OpKind::Modify, Some("status"), None, Some(st), true);
        } else {
            self.clear_node(lp, node, &uuid);
        }
        // Actions waiting on the lost node will never answer.
        let lost: Vec<u32> = self
            .transition
            .as_ref()
            .map(|t| {
                t.running()
                    .into_iter()
                    .filter(|a| {
                        t.graph.actions.get(a).and_then(|a| a.node.as_deref()) == Some(node)
                            && t.graph
                                .actions
                                .get(a)
                                .is_some_and(|a| a.kind == ActionKind::Resource)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for a in lost {
            log::warn!("action {a} on {node} is lost with its node");
            self.action_done(lp, a, false);
        }
    }

    /// Records a node as cleanly down: no history, no transient attributes.
    fn clear_node(&mut self, lp: &mut EventLoop, node: &str, uuid: &str) {
        for part in ["lrm", "transient_attributes"] {
            self.cib_op(
                lp,
                OpKind::Delete,
                None,
                Some(format!("//node_state[@id={}]/{part}", lit(uuid))),
                None,
                false,
            );
        }
        let st = record::node_state(uuid, node, false, false, "down", "down");
        self.cib_op(lp, OpKind::Modify, Some("status"), None, Some(st), true);
    }

    fn cib_changed(&mut self, lp: &mut EventLoop, patch: Option<&str>) {
        if !self.is_dc() {
            return;
        }
        // The DC's own status records (node_state, lrm history, the root's
        // quorum and DC) need no new graph; anything else does
        // (configuration, transient attributes, node entries).
        let relevant = match patch.and_then(|p| cib_xml::xml::parse(p, &Limits::default()).ok()) {
            None => true,
            Some(diff) => diff.children_named("change").any(|c| {
                let path = c.attr("path").unwrap_or("");
                let op = c.attr("operation").unwrap_or("");
                let own_status = path.starts_with("/cib/status")
                    && !path.contains("transient_attributes")
                    && !(op == "create"
                        && c.children.iter().any(|e| e.name == "transient_attributes"));
                let root_attrs = path == "/cib" && op == "modify";
                !(own_status || root_attrs)
            }),
        };
        if relevant {
            if let Some(t) = self.transition.as_mut() {
                if !t.is_finished() {
                    log::info!("the CIB changed: aborting transition {}", t.graph.id);
                }
                t.abort();
            }
            self.request_graph(lp, false);
        }
    }

    // ---- DC: transitions ----

    fn request_graph(&mut self, lp: &mut EventLoop, immediately: bool) {
        self.need_graph = true;
        let delay = if immediately {
            Duration::ZERO
        } else {
            self.opts.transition_delay
        };
        if !delay.is_zero() {
            self.delay_graph(lp, delay);
        }
    }

    fn delay_graph(&mut self, lp: &mut EventLoop, d: Duration) {
        if self.graph_timer.is_none() {
            self.graph_timer = Some(lp.add_timer(d));
        }
    }

    /// Asks for a graph when one is wanted and nothing stands in the way.
    fn progress(&mut self, lp: &mut EventLoop) {
        if !self.is_dc() {
            return;
        }
        self.dispatch(lp);
        let busy = self.graph_timer.is_some()
            || self.pe_call.is_some()
            || !self.cib_in_flight.is_empty()
            || self.transition.as_ref().is_some_and(|t| !t.is_finished());
        let joins_pending = self
            .candidates()
            .iter()
            .any(|n| !self.peers.get(n).is_some_and(|p| p.joined) && n != &self.local)
            || !self.peers.get(&self.local).is_some_and(|p| p.joined);
        if busy || joins_pending {
            return;
        }
        if let Some(t) = self.transition.take() {
            if t.is_complete() {
                log::info!("Transition {} complete", t.graph.id);
            } else {
                log::info!("Transition {} aborted", t.graph.id);
            }
            self.set_state(lp, "S_IDLE");
            self.arm_recheck(lp, t.graph.recheck_by);
        }
        if !self.need_graph {
            return;
        }
        let mut cib = match query_cib(&self.paths) {
            Ok(c) => c,
            Err(e) => {
                log::error!("cannot read the CIB for the scheduler: {e}");
                self.delay_graph(lp, RETRY_DELAY);
                return;
            }
        };
        self.opts = Options::from_cib(&cib, now_secs() as i64);
        self.learn_failcounts(&cib);
        if self.pe.is_none() {
            self.spawn_pengine(lp);
            let path = crmapi::pengine_socket(&self.paths);
            let limits = ClientLimits {
                max_frame: 256 << 20,
                ..ClientLimits::default()
            };
            match Client::connect(lp, &path, limits) {
                Ok(c) => self.pe = Some(c),
                Err(e) => {
                    // Just started: its socket appears in a moment.
                    log::debug!("cannot connect to pengine yet: {e}");
                    self.delay_graph(lp, Duration::from_millis(100));
                    return;
                }
            }
        }
        // The scheduler decides on this controller's view of quorum (the
        // CIB's copy may lag), and a partition that had quorum and lost
        // it may panic under no-quorum-policy=suicide (a cluster that
        // never had quorum only stops, as Pacemaker).
        cib.set_attr("have-quorum", if self.quorate { "1" } else { "0" });
        cib.set_attr("dc-uuid", &self.uuid);
        if self.ever_had_quorum && !self.quorate {
            cib.set_attr("no-quorum-panic", "1");
        }
        self.transition_counter += 1;
        let req = PeRequest::Compute {
            cib: cib.to_compact(),
            transition: self.transition_counter,
            now: now_secs() as i64,
        };
        let Some(pe) = self.pe.as_mut() else { return };
        match pe.call(lp, &req) {
            Ok(id) => {
                self.need_graph = false;
                self.pe_call = Some(id);
                self.set_state(lp, "S_POLICY_ENGINE");
            }
            Err(e) => {
                log::warn!("pengine: {e}");
                self.delay_graph(lp, RETRY_DELAY);
            }
        }
    }

    /// Starts pengine when this controller is the one to (Heartbeat's
    /// `crmd_spawns_pengine`) and it does not run.
    fn spawn_pengine(&mut self, lp: &mut EventLoop) {
        let Some(bin) = self.pe_spawn.clone() else {
            return;
        };
        if self.pe_pid.is_some() {
            return;
        }
        let mut cmd = std::process::Command::new(&bin);
        plumbing::process::unblock_signals_on_exec(&mut cmd);
        // pengine is ours alone: it goes when this controller goes, however
        // that happens (kill -9 included).
        // SAFETY: prctl is async-signal-safe and allocates nothing.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id() as i32;
                // The loop reaps it; the handle is not needed.
                std::mem::forget(child);
                if let Err(e) = lp.watch_child(pid) {
                    log::error!("cannot watch pengine pid {pid}: {e}");
                }
                log::info!("started {} (pid {pid})", bin.display());
                self.pe_pid = Some(pid);
            }
            Err(e) => log::error!("cannot start {}: {e}", bin.display()),
        }
    }

    fn stop_pengine(&mut self) {
        if let Some(pid) = self.pe_pid.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// Connects to stonithd and subscribes to fencing results; whether it
    /// is connected.
    fn connect_stonith(&mut self, lp: &mut EventLoop) -> bool {
        if self.stonith.is_some() {
            return true;
        }
        let path = stonithapi::socket_path(&self.paths);
        match Client::connect(lp, &path, ClientLimits::default()) {
            Ok(mut c) => {
                if c.call(lp, &stonithapi::Request::Subscribe).is_err() {
                    return false;
                }
                self.stonith = Some(c);
                true
            }
            Err(e) => {
                log::warn!("cannot connect to stonithd: {e}");
                false
            }
        }
    }

    fn stonith_event(&mut self, lp: &mut EventLoop, ev: ClientEvent<stonithapi::StonithApi>) {
        match ev {
            ClientEvent::Reply { id, body } => {
                let Some((tid, a, target, kind)) = self.fence_calls.remove(&id) else {
                    return;
                };
                let ok = matches!(&body, stonithapi::Response::Fenced(r) if r.succeeded);
                match &body {
                    stonithapi::Response::Fenced(r) if r.succeeded => log::info!(
                        "Node {target} was fenced ({}) by {} with {}",
                        kind.as_str(),
                        r.executioner,
                        r.devices.join(",")
                    ),
                    stonithapi::Response::Fenced(r) => {
                        log::error!("Fencing of {target} failed: {}", r.reason)
                    }
                    stonithapi::Response::Failed(f) => {
                        log::error!("Fencing of {target} failed: {}", f.reason)
                    }
                    other => log::error!("Fencing of {target}: unexpected answer {other:?}"),
                }
                if ok && kind != stonithapi::FenceAction::On {
                    self.node_fenced(lp, &target);
                }
                if self.transition.as_ref().is_some_and(|t| t.graph.id == tid) {
                    self.action_done(lp, a, ok);
                }
            }
            // Fenced by another node's request (or confirmed by hand).
            ClientEvent::Event(stonithapi::Event::Fenced(r))
                if r.succeeded
                    && r.action != stonithapi::FenceAction::On
                    && !self.members.contains(&r.target)
                    && self.is_dc() =>
            {
                self.node_fenced(lp, &r.target);
                self.request_graph(lp, true);
            }
            ClientEvent::Closed(why) | ClientEvent::Refused { message: why, .. } => {
                log::warn!("stonithd: {why}");
                if let Some(s) = self.stonith.take() {
                    s.close(lp);
                }
                for (_, (tid, a, target, _)) in std::mem::take(&mut self.fence_calls) {
                    log::error!("fencing of {target} lost with the connection to stonithd");
                    if self.transition.as_ref().is_some_and(|t| t.graph.id == tid) {
                        self.action_done(lp, a, false);
                    }
                }
            }
            _ => {}
        }
    }

    /// A node is known to be off: its state says so and nothing it ran is
    /// active any more.
    fn node_fenced(&mut self, lp: &mut EventLoop, node: &str) {
        let uuid = self.node_uuid(node);
        self.clear_node(lp, node, &uuid);
    }

    /// Node ids from the CIB's nodes section, for nodes not heard from.
    fn learn_uuids(&mut self, cib: &Element) {
        let Some(nodes) = cib.child("configuration").and_then(|c| c.child("nodes")) else {
            return;
        };
        for n in nodes.children_named("node") {
            if let (Some(id), Some(name)) = (n.attr("id"), n.attr("uname")) {
                let p = self.peers.entry(name.to_string()).or_default();
                if p.uuid.is_none() {
                    p.uuid = Some(id.to_string());
                }
            }
        }
    }

    fn learn_failcounts(&mut self, cib: &Element) {
        self.failcounts.clear();
        let Some(status) = cib.child("status") else {
            return;
        };
        for st in status.children_named("node_state") {
            let node = st.attr("uname").unwrap_or("").to_string();
            for ta in st.children_named("transient_attributes") {
                for set in ta.children_named("instance_attributes") {
                    for nv in set.children_named("nvpair") {
                        if let Some(n) = nv.attr("name").filter(|n| n.starts_with("fail-count-")) {
                            self.failcounts.insert((node.clone(), n.to_string()));
                        }
                    }
                }
            }
        }
    }

    fn graph(&mut self, lp: &mut EventLoop, resp: PeResponse) {
        if !self.is_dc() {
            return;
        }
        let (text, input) = match resp {
            PeResponse::Graph { graph, input } => (graph, input),
            PeResponse::Failed(why) => {
                log::error!("pengine could not schedule: {why}");
                self.set_state(lp, "S_IDLE");
                return;
            }
        };
        let g = match TransitionGraph::parse_text(&text) {
            Ok(g) => g,
            Err(e) => {
                log::error!("unusable transition graph: {e}");
                return;
            }
        };
        if self.need_graph {
            // Something changed while pengine worked: this graph is stale.
            log::info!("transition {} superseded before it started", g.id);
            return;
        }
        log::info!(
            "Processing transition {} ({} actions{})",
            g.id,
            g.actions.len(),
            input.map(|i| format!(", input {i}")).unwrap_or_default()
        );
        self.set_state(lp, "S_TRANSITION_ENGINE");
        // Busy: the recheck is armed again when the cluster is idle.
        if let Some(t) = self.recheck_timer.take() {
            lp.cancel_timer(t);
        }
        self.transition = Some(Transition::new(g));
    }

    /// Hands every runnable action to its executor.
    fn dispatch(&mut self, lp: &mut EventLoop) {
        let Some(t) = self.transition.as_mut() else {
            return;
        };
        let ready = t.next_actions();
        let graph_id = t.graph.id;
        for a in ready {
            let Some(action) = self
                .transition
                .as_ref()
                .and_then(|t| t.graph.actions.get(&a).cloned())
            else {
                continue;
            };
            let delay = self
                .transition
                .as_ref()
                .map_or(60_000, |t| t.graph.cluster_delay_ms);
            match action.kind {
                ActionKind::Pseudo => {}
                ActionKind::Resource => {
                    let Some(node) = action.node.clone() else {
                        self.action_done(lp, a, false);
                        continue;
                    };
                    let Some(rsc) = action.resource.clone() else {
                        // probe_again: forget the node's history so the
                        // scheduler probes everything there again.
                        let uuid = self.node_uuid(&node);
                        self.cib_op(
                            lp,
                            OpKind::Delete,
                            None,
                            Some(format!("//node_state[@id={}]/lrm", lit(&uuid))),
                            None,
                            false,
                        );
                        self.action_done(lp, a, true);
                        continue;
                    };
                    if node != self.local && !self.members.contains(&node) {
                        self.action_done(lp, a, false);
                        continue;
                    }
                    let timeout = action.timeout_ms().unwrap_or(20_000);
                    let op = ExecRequest {
                        rsc: rsc.id.clone(),
                        class: rsc.class.clone(),
                        provider: rsc.provider.clone(),
                        agent: rsc.agent.clone(),
                        task: action.task.clone(),
                        interval_ms: action.interval_ms(),
                        timeout_ms: timeout,
                        params: action.params.clone(),
                        transition_key: record::transition_key(
                            a,
                            graph_id,
                            action.target_rc(),
                            &self.uuid,
                        ),
                    };
                    let timer = lp.add_timer(Duration::from_millis(timeout + delay));
                    self.action_timers.insert(timer, (graph_id, a));
                    self.send_to(
                        lp,
                        &node,
                        CrmWire::Exec {
                            transition: graph_id,
                            action: a,
                            op,
                        },
                    );
                }
                ActionKind::Controller => self.controller_action(lp, a, &action),
            }
        }
    }

    fn controller_action(
        &mut self,
        lp: &mut EventLoop,
        a: u32,
        action: &controller::graph::GraphAction,
    ) {
        let node = action.node.clone().unwrap_or_default();
        match action.task.as_str() {
            "do_shutdown" => {
                self.send_to(lp, &node, CrmWire::ShutdownAllowed);
                self.action_done(lp, a, true);
            }
            "clear_failcount" => {
                let mut ok = true;
                if let Some(rsc) = &action.resource {
                    let names: Vec<String> = self
                        .failcounts
                        .iter()
                        .filter(|(n, name)| {
                            n == &node && name.starts_with(&format!("fail-count-{}#", rsc.id))
                        })
                        .map(|(_, name)| name.clone())
                        .collect();
                    for fc in names {
                        let lf = fc.replacen("fail-count-", "last-failure-", 1);
                        ok &= self.attrd_update(lp, &node, &fc, attrdapi::Change::Delete);
                        ok &= self.attrd_update(lp, &node, &lf, attrdapi::Change::Delete);
                        self.failcounts.remove(&(node.clone(), fc));
                    }
                }
                if !ok {
                    log::error!("cannot clear fail counts on {node}: attrd is not available");
                }
                self.action_done(lp, a, ok);
            }
            "lrm_delete" => {
                // The node's lrmd forgets it; the result's empty history
                // removes it from the status section.
                match (
                    &action.resource,
                    node == self.local || self.members.contains(&node),
                ) {
                    (Some(rsc), true) => {
                        let graph_id = self.transition.as_ref().map_or(0, |t| t.graph.id);
                        let op = ExecRequest {
                            rsc: rsc.id.clone(),
                            class: rsc.class.clone(),
                            provider: rsc.provider.clone(),
                            agent: rsc.agent.clone(),
                            task: "lrm_delete".into(),
                            interval_ms: 0,
                            timeout_ms: action.timeout_ms().unwrap_or(20_000),
                            params: action.params.clone(),
                            transition_key: record::transition_key(a, graph_id, 0, &self.uuid),
                        };
                        self.send_to(
                            lp,
                            &node,
                            CrmWire::Exec {
                                transition: graph_id,
                                action: a,
                                op,
                            },
                        );
                    }
                    _ => self.action_done(lp, a, false),
                }
            }
            "stonith" => {
                let kind = action
                    .params
                    .get("CRM_meta_stonith_action")
                    .and_then(|a| stonithapi::FenceAction::parse(a))
                    .unwrap_or(stonithapi::FenceAction::Reboot);
                let timeout = self
                    .transition
                    .as_ref()
                    .map_or(60_000, |t| t.graph.stonith_timeout_ms);
                let graph_id = self.transition.as_ref().map_or(0, |t| t.graph.id);
                if !self.connect_stonith(lp) {
                    // Without the fencing daemon no node is ever declared
                    // fenced, so nothing it ran is recovered.
                    log::error!("cannot fence {node}: stonithd is not available");
                    self.action_done(lp, a, false);
                    return;
                }
                // A DC alone in its partition may have to fence itself
                // (no-quorum-policy=suicide): nobody else can, so its own
                // fencer may run a device against this node (as Pacemaker
                // allows when one node has joined).
                let alone = self
                    .members
                    .iter()
                    .all(|m| m == &self.local || !self.peers.get(m).is_some_and(|p| p.joined));
                let allow_suicide = node == self.local && alone;
                if allow_suicide {
                    log::warn!("Fencing this node ({node}) itself: no other node can");
                } else {
                    log::info!("Requesting fencing ({}) of node {node}", kind.as_str());
                }
                let req = stonithapi::Request::Fence {
                    target: node.clone(),
                    action: kind,
                    timeout_ms: timeout,
                    tolerance_ms: 0,
                    allow_suicide,
                };
                let sent = self.stonith.as_mut().map(|s| s.call(lp, &req));
                match sent {
                    Some(Ok(id)) => {
                        self.fence_calls.insert(id, (graph_id, a, node, kind));
                        let timer = lp.add_timer(Duration::from_millis(timeout + 5_000));
                        self.action_timers.insert(timer, (graph_id, a));
                    }
                    _ => {
                        log::error!("cannot send the fencing request for {node}");
                        self.action_done(lp, a, false);
                    }
                }
            }
            other => {
                log::error!("unknown controller action {other} ({})", action.key);
                self.action_done(lp, a, false);
            }
        }
    }

    fn action_done(&mut self, lp: &mut EventLoop, a: u32, ok: bool) {
        let Some(t) = self.transition.as_mut() else {
            return;
        };
        if t.complete(a, ok) && !ok {
            log::warn!(
                "action {a} of transition {} failed: aborting it",
                t.graph.id
            );
            self.need_graph = true;
            self.delay_graph(lp, RETRY_DELAY);
        }
        let done: Vec<TimerId> = self
            .action_timers
            .iter()
            .filter(|(_, (_, x))| *x == a)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.action_timers.remove(&id);
            lp.cancel_timer(id);
        }
    }

    /// A node's result reached the DC: record it, count failures, and move
    /// the transition on.
    #[allow(clippy::too_many_arguments)]
    fn result(
        &mut self,
        lp: &mut EventLoop,
        from: &str,
        answers: Option<(u64, u32)>,
        rsc: &str,
        key: &str,
        rc: i32,
        op_status: i32,
        ok: bool,
        history: &str,
    ) {
        if !self.is_dc() {
            return;
        }
        let uuid = self.node_uuid(from);
        log::info!(
            "Result of {key} on {from}: rc={rc} status={op_status}{}",
            if ok { "" } else { " (failed)" }
        );
        self.cib_op(
            lp,
            OpKind::Delete,
            None,
            Some(format!(
                "//node_state[@id={}]/lrm/lrm_resources/lrm_resource[@id={}]",
                lit(&uuid),
                lit(rsc)
            )),
            None,
            false,
        );
        if let Ok(h) = cib_xml::xml::parse(history, &Limits::default()) {
            let mut rscs = Element::new("lrm_resources");
            rscs.children.push(h);
            let mut lrm = Element::new("lrm").with_attr("id", &uuid);
            lrm.children.push(rscs);
            let mut st = Element::new("node_state").with_attr("id", &uuid);
            st.children.push(lrm);
            self.cib_op(lp, OpKind::Modify, Some("status"), None, Some(st), true);
        }
        if !ok {
            self.count_failure(lp, from, key, rc);
        }
        match answers {
            Some((tid, a)) if self.transition.as_ref().is_some_and(|t| t.graph.id == tid) => {
                self.action_done(lp, a, ok);
            }
            _ if !ok => {
                if let Some(t) = self.transition.as_mut() {
                    t.abort();
                }
                self.request_graph(lp, true);
            }
            _ => {}
        }
    }

    fn count_failure(&mut self, lp: &mut EventLoop, node: &str, key: &str, rc: i32) {
        // Probes that find a resource running where it should not, and
        // stops that fail, are handled by the scheduler from the history;
        // fail counts cover failed starts and monitors (and the rest).
        let Some((rsc, task, interval)) = split_key(key) else {
            return;
        };
        if task == "monitor" && interval == 0 && rc == 7 {
            return;
        }
        let (fc, lf) = record::failcount_names(rsc, task, interval);
        self.failcounts.insert((node.to_string(), fc.clone()));
        // Fail counts are node attributes: attrd owns them (it keeps them
        // across its restarts and writes them), as Pacemaker's controller
        // leaves them to its attrd.
        let ok = self.attrd_update(lp, node, &fc, attrdapi::Change::Set("value++".into()))
            && self.attrd_update(lp, node, &lf, attrdapi::Change::Set(now_secs().to_string()));
        if !ok {
            log::error!("cannot count the failure of {key} on {node}: attrd is not available");
        }
    }

    /// Sends one node attribute change to this node's attrd (connecting
    /// first if needed); whether it was sent.
    fn attrd_update(
        &mut self,
        lp: &mut EventLoop,
        node: &str,
        name: &str,
        change: attrdapi::Change,
    ) -> bool {
        if self.attrd.is_none() {
            let path = attrdapi::socket_path(&self.paths);
            match Client::connect(lp, &path, ClientLimits::default()) {
                Ok(c) => self.attrd = Some(c),
                Err(e) => {
                    log::warn!("cannot connect to attrd: {e}");
                    return false;
                }
            }
        }
        let req = attrdapi::Request::Update(attrdapi::Update {
            name: name.to_string(),
            node: Some(node.to_string()),
            change,
            delay_ms: None,
            lifetime: attrdapi::Lifetime::Reboot,
            private: false,
        });
        match self.attrd.as_mut().map(|c| c.send(lp, &req)) {
            Some(Ok(())) => true,
            _ => {
                if let Some(c) = self.attrd.take() {
                    c.close(lp);
                }
                false
            }
        }
    }

    fn timer(&mut self, lp: &mut EventLoop, id: TimerId) {
        if Some(id) == self.election_timer {
            self.election_timer = None;
            self.may_elect = true;
            if self.dc.is_none() {
                self.set_state(lp, "S_ELECTION");
                self.elect(lp);
            }
        } else if Some(id) == self.graph_timer {
            self.graph_timer = None;
        } else if Some(id) == self.recheck_timer {
            self.recheck_timer = None;
            if self.is_dc() {
                log::info!("cluster recheck: running the scheduler");
                self.request_graph(lp, true);
            }
        } else if Some(id) == self.shutdown_deadline {
            log::error!("shutdown escalation: leaving without the DC's agreement");
            self.leave();
        } else if let Some((tid, a)) = self.action_timers.remove(&id) {
            if self.transition.as_ref().is_some_and(|t| t.graph.id == tid) {
                log::error!("action {a} of transition {tid} timed out");
                self.action_done(lp, a, false);
            }
        }
    }

    // ---- every node: execution ----

    fn exec_request(
        &mut self,
        lp: &mut EventLoop,
        from: &str,
        transition: u64,
        action: u32,
        op: ExecRequest,
    ) {
        if self.dc.as_deref() != Some(from) {
            log::warn!("ignoring an operation from {from}, which is not the DC");
            return;
        }
        let rsc = op.rsc.clone();
        let key = format!("{}_{}_{}", op.rsc, op.task, op.interval_ms);
        match self.exec.execute(transition, action, op) {
            Ok(Some(o)) => self.report(lp, o),
            Ok(None) => {}
            Err(e) => {
                log::error!("cannot run {key}: {e}");
                let o = Outcome {
                    answers: Some((transition, action)),
                    rsc,
                    key,
                    rc: 1,
                    op_status: 4,
                    ok: false,
                };
                self.report(lp, o);
            }
        }
    }

    /// Tells the DC what an operation did, with the resource's history.
    fn report(&mut self, lp: &mut EventLoop, o: Outcome) {
        let history = self
            .exec
            .resource_history(&o.rsc, "do_update_resource")
            .map(|e| e.to_compact())
            .unwrap_or_default();
        let Some(dc) = self.dc.clone() else {
            log::warn!("no DC to report {} to", o.key);
            return;
        };
        let (transition, action) = match o.answers {
            Some((t, a)) => (Some(t), Some(a)),
            None => (None, None),
        };
        self.send_to(
            lp,
            &dc,
            CrmWire::Result {
                transition,
                action,
                rsc: o.rsc,
                key: o.key,
                rc: o.rc,
                op_status: o.op_status,
                ok: o.ok,
                history,
            },
        );
    }

    // ---- shutdown ----

    /// SIGTERM: ask the DC to move this node's resources away, then leave
    /// when it says so (or at shutdown-escalation). Returns whether to
    /// leave now (no DC, nothing running here).
    fn begin_shutdown(&mut self, lp: &mut EventLoop) -> bool {
        if self.shutting_down {
            return false;
        }
        self.shutting_down = true;
        self.set_state(lp, "S_STOPPING");
        let Some(dc) = self.dc.clone() else {
            log::info!("crmd stopping (no DC)");
            return true;
        };
        log::info!("asking the DC {dc} to move this node's resources away");
        self.shutdown_deadline = Some(lp.add_timer(self.opts.shutdown_escalation));
        self.send_to(lp, &dc, CrmWire::ShutdownRequest);
        false
    }

    fn shutdown_request(&mut self, lp: &mut EventLoop, from: &str) {
        if !self.is_dc() {
            return;
        }
        log::info!("{from} asks to shut down");
        let uuid = self.node_uuid(from);
        let mut st = Element::new("node_state")
            .with_attr("id", &uuid)
            .with_attr("expected", "down");
        st.children.push(record::transient_attributes(
            &uuid,
            &[("shutdown".to_string(), now_secs().to_string())],
        ));
        self.cib_op(lp, OpKind::Modify, Some("status"), None, Some(st), true);
        if let Some(t) = self.transition.as_mut() {
            t.abort();
        }
        self.request_graph(lp, true);
    }

    // ---- crmadmin ----

    fn set_state(&mut self, lp: &mut EventLoop, state: &'static str) {
        if self.state != state {
            self.state = state;
            self.send(
                lp,
                None,
                &CrmWire::State {
                    state: state.to_string(),
                },
            );
        }
    }

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                let ServerEvent::Request {
                    client,
                    call: Some(call),
                    body,
                } = r
                else {
                    continue;
                };
                let resp = self.answer(body);
                let _ = self.server.reply(lp, client, call, &resp, &mut self.reqs);
            }
        }
    }

    fn answer(&self, r: CrmRequest) -> CrmResponse {
        match r {
            CrmRequest::Status | CrmRequest::NodeStatus(None) => CrmResponse::Status {
                controller: ControllerStatus {
                    node: self.local.clone(),
                    state: self.state.to_string(),
                    ok: true,
                },
                dc: self.dc.clone(),
            },
            CrmRequest::NodeStatus(Some(n)) if n == self.local => {
                self.answer(CrmRequest::NodeStatus(None))
            }
            CrmRequest::NodeStatus(Some(n)) => match self.peers.get(&n) {
                Some(p) if p.crmd && self.members.contains(&n) => CrmResponse::Status {
                    controller: ControllerStatus {
                        node: n.clone(),
                        state: p.state.clone().unwrap_or_else(|| "S_PENDING".into()),
                        ok: true,
                    },
                    dc: self.dc.clone(),
                },
                _ => CrmResponse::Failed(format!("No controller is running on {n}")),
            },
            CrmRequest::Nodes => {
                let mut out = vec![NodeEntry {
                    name: self.local.clone(),
                    id: self.uuid.clone(),
                    member: self.members.contains(&self.local),
                }];
                for (n, p) in &self.peers {
                    if n != &self.local {
                        out.push(NodeEntry {
                            name: n.clone(),
                            id: p.uuid.clone().unwrap_or_default(),
                            member: self.members.contains(n),
                        });
                    }
                }
                out.sort_by(|a, b| a.name.cmp(&b.name));
                CrmResponse::Nodes(out)
            }
        }
    }
}

/// `RSC_TASK_INTERVAL` split into its parts (the resource id may hold `_`).
fn split_key(key: &str) -> Option<(&str, &str, u64)> {
    let (rest, interval) = key.rsplit_once('_')?;
    let interval = interval.parse().ok()?;
    for task in [
        "migrate_from",
        "migrate_to",
        "monitor",
        "start",
        "stop",
        "promote",
        "demote",
        "notify",
        "reload",
    ] {
        if let Some(rsc) = rest.strip_suffix(task).and_then(|r| r.strip_suffix('_')) {
            return Some((rsc, task, interval));
        }
    }
    let (rsc, task) = rest.rsplit_once('_')?;
    Some((rsc, task, interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_keys_split_with_underscores_in_ids() {
        assert_eq!(
            split_key("my_ip_monitor_10000"),
            Some(("my_ip", "monitor", 10000))
        );
        assert_eq!(split_key("d_migrate_to_0"), Some(("d", "migrate_to", 0)));
        assert_eq!(split_key("x_custom_0"), Some(("x", "custom", 0)));
        assert_eq!(split_key("junk"), None);
    }

    #[test]
    fn options_come_from_crm_config() {
        let cib = cib_xml::xml::parse(
            r#"<cib><configuration><crm_config><cluster_property_set id="o">
              <nvpair id="a" name="dc-deadtime" value="2s"/>
              <nvpair id="b" name="stonith-enabled" value="false"/>
              <nvpair id="c" name="cluster-recheck-interval" value="0"/>
            </cluster_property_set></crm_config></configuration></cib>"#,
            &Limits::default(),
        )
        .unwrap();
        let o = Options::from_cib(&cib, 0);
        assert_eq!(o.dc_deadtime, Duration::from_secs(2));
        assert!(!o.stonith_enabled);
        assert_eq!(o.recheck, None);
        assert_eq!(o.shutdown_escalation, Duration::from_secs(1200));
    }
}

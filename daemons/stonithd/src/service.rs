//! stonithd's event loop: the stonithapi server, the heartbeat connection
//! (unless standalone), the cib connection (devices and topology), and
//! worker threads that run agents. Decisions come from the `fencing`
//! core (plan, admit, choose_executioner); this file wires them to
//! sockets, timers and threads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cibapi::CibApi;
use fencing::exec::AgentDirs;
use fencing::operation::{Capable, Left, Operation, Output, EXEC_GRACE};
use fencing::{
    admit, Admission, Device, DeviceError, History, InProgress, PlanOutcome, StepResult, Topology,
};
use hbapi::{ClusterEvent, HbApi};
use ipc::{AccessPolicy, Client, ClientEvent, ClientId, ClientLimits, Limits, Server, ServerEvent};
use plumbing::{Event, EventLoop, Signal, TriggerId};
use stonithapi::{
    exit, DeviceSpec, Event as ApiEvent, Failure, FenceAction, FenceResult, LevelSpec,
    PendingFence, Request, Response, StonithApi,
};

use crate::wire::Wire;
use crate::worker::{Done, Job, ReplyTo, Shared};

/// Default operation timeout (stonith_admin's -t default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Retry period of the cib connection.
const CIB_RETRY: Duration = Duration::from_secs(2);
/// Most operations in progress at once (requests beyond are refused).
const MAX_OPS: usize = 256;
/// Results per history message (each well under 1 KB: reasons are
/// bounded by `fencing::exec`).
const HISTORY_CHUNK: usize = 40;
/// Most operations of other origins remembered (for merging).
const MAX_REMOTE_OPS: usize = 1024;
/// Most agent threads at once; further jobs wait in a queue.
const MAX_JOBS: usize = 32;
/// Most queued jobs.
const MAX_QUEUED_JOBS: usize = 1024;

/// How the daemon was started.
pub struct Settings {
    pub socket: PathBuf,
    pub heartbeat: Option<PathBuf>,
    pub cib: Option<PathBuf>,
    pub local: String,
    pub policy: AccessPolicy,
    pub dirs: AgentDirs,
}

struct DevEntry {
    device: Device,
    from_cib: bool,
    banned: BTreeSet<String>,
    disabled: bool,
    monitor: Option<Duration>,
    next_monitor: Option<Instant>,
    last_monitor: Option<bool>,
}

impl DevEntry {
    fn usable_here(&self, local: &str) -> bool {
        !self.disabled && !self.banned.iter().any(|n| n.eq_ignore_ascii_case(local))
    }
}

type Waiter = (ClientId, Option<u64>);

struct OriginOp {
    op: Operation,
    client: String,
    waiters: Vec<Waiter>,
    /// `-l`: only answer which devices can fence the target.
    list_only: bool,
    started: Instant,
    agent_time: Duration,
}

struct RemoteOp {
    target: String,
    action: FenceAction,
    origin: String,
    client: String,
}

struct Merged {
    waiters: Vec<(Waiter, Instant)>,
    target: String,
    action: FenceAction,
    timeout: Duration,
    client: String,
    allow_suicide: bool,
}

struct Service {
    server: Server<StonithApi>,
    hb: Option<Client<HbApi>>,
    cib_path: Option<PathBuf>,
    cib: Option<Client<CibApi>>,
    cib_query: Option<u64>,
    cib_dirty: bool,
    cib_retry: Option<Instant>,
    cib_loaded: bool,
    local: String,
    devices: BTreeMap<String, DevEntry>,
    cib_levels: Vec<LevelSpec>,
    api_levels: Vec<LevelSpec>,
    topology: Topology,
    node_attrs: BTreeMap<String, BTreeMap<String, String>>,
    node_ids: BTreeMap<String, String>,
    history: History,
    ops: BTreeMap<String, OriginOp>,
    remote: BTreeMap<String, RemoteOp>,
    merged: BTreeMap<String, Merged>,
    fencers: BTreeSet<String>,
    active_peers: BTreeSet<String>,
    subscribers: BTreeSet<ClientId>,
    client_names: BTreeMap<ClientId, String>,
    reqs: Vec<ServerEvent<Request>>,
    next_op: u64,
    boot: u64,
    shared: Shared,
    done_rx: Receiver<(Option<String>, Done)>,
    /// Actions running per device (pcmk_action_limit).
    busy: BTreeMap<String, u32>,
    trigger: TriggerId,
    running_jobs: usize,
    queued_jobs: std::collections::VecDeque<Job>,
    unfence_at: Option<Instant>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn failed(code: i32, reason: impl Into<String>) -> Response {
    Response::Failed(Failure {
        code,
        reason: reason.into(),
    })
}

fn client_name(pid: i32) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let comm = comm.trim();
    if comm.is_empty() {
        format!("client.{pid}")
    } else {
        format!("{comm}.{pid}")
    }
}

/// Runs until SIGTERM/SIGINT, or until heartbeat goes away.
pub fn run(settings: Settings) -> Result<(), String> {
    let mut lp = plumbing::EventLoop::for_daemon()?;
    let hb = match &settings.heartbeat {
        None => None,
        Some(path) => {
            let mut hb = hbapi::cluster_client(&mut lp, path, "stonithd", crate::wire::MSG_TYPE)?;
            hb.call(&mut lp, &hbapi::Request::Status)
                .map_err(|e| format!("heartbeat API: {e}"))?;
            Some(hb)
        }
    };
    let server = Server::bind(
        &mut lp,
        &settings.socket,
        0o666,
        settings.policy,
        Limits::default(),
    )
    .map_err(|e| format!("cannot listen on {}: {e}", settings.socket.display()))?;
    let trigger = lp.trigger();
    let (tx, rx) = channel();
    let shared = Shared::new(settings.dirs, settings.local.clone(), tx, trigger.clone());
    let mut svc = Service {
        server,
        hb,
        cib_path: settings.cib,
        cib: None,
        cib_query: None,
        cib_dirty: false,
        cib_retry: Some(Instant::now()),
        cib_loaded: false,
        local: settings.local,
        devices: BTreeMap::new(),
        cib_levels: Vec::new(),
        api_levels: Vec::new(),
        topology: Topology::new(),
        node_attrs: BTreeMap::new(),
        node_ids: BTreeMap::new(),
        history: History::default(),
        ops: BTreeMap::new(),
        remote: BTreeMap::new(),
        merged: BTreeMap::new(),
        fencers: BTreeSet::new(),
        active_peers: BTreeSet::new(),
        subscribers: BTreeSet::new(),
        client_names: BTreeMap::new(),
        reqs: Vec::new(),
        next_op: 0,
        boot: now_secs(),
        shared,
        done_rx: rx,
        trigger: trigger.id(),
        running_jobs: 0,
        busy: BTreeMap::new(),
        queued_jobs: std::collections::VecDeque::new(),
        unfence_at: None,
    };
    // Announce ourselves; peers answer with their history.
    svc.send(
        &mut lp,
        None,
        &Wire::History {
            entries: Vec::new(),
            reply: false,
        },
    );
    svc.main_loop(&mut lp)
}

impl Service {
    fn main_loop(&mut self, lp: &mut EventLoop) -> Result<(), String> {
        let mut events = Vec::new();
        let mut hb_events = Vec::new();
        let mut cib_events = Vec::new();
        loop {
            let wait = self.poll_timeout();
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
                        if let Some(c) = self.cib.as_mut() {
                            c.handle_io(lp, ready, &mut cib_events);
                        }
                    }
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut self.reqs);
                    }
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                        log::info!("stonithd stopping");
                        return Ok(());
                    }
                    Event::Triggered(t) if t == self.trigger => {}
                    _ => {}
                }
            }
            for ev in hb_events.drain(..) {
                self.heartbeat_event(lp, ev)?;
            }
            for ev in cib_events.drain(..) {
                self.cib_event(lp, ev);
            }
            while let Ok((device, done)) = self.done_rx.try_recv() {
                self.running_jobs = self.running_jobs.saturating_sub(1);
                if let Some(d) = device {
                    if let Some(n) = self.busy.get_mut(&d) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.busy.remove(&d);
                        }
                    }
                }
                self.job_done(lp, done);
            }
            self.start_jobs();
            self.server.process(lp, &mut self.reqs);
            self.serve(lp);
            self.timers(lp);
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        for o in self.ops.values() {
            if let Some(t) = o.op.poll_timeout() {
                consider(t);
            }
        }
        for m in self.merged.values() {
            for (_, d) in &m.waiters {
                consider(*d);
            }
        }
        for d in self.devices.values() {
            if let Some(t) = d.next_monitor {
                consider(t);
            }
        }
        if let Some(t) = self.cib_retry {
            consider(t);
        }
        if let Some(t) = self.unfence_at {
            consider(t);
        }
        let mine = next.map(|t| t.saturating_duration_since(now));
        match (mine, self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- jobs ----

    fn job(&mut self, job: Job) -> bool {
        if self.queued_jobs.len() >= MAX_QUEUED_JOBS {
            log::error!("too many agent runs queued; a job was refused");
            return false;
        }
        self.queued_jobs.push_back(job);
        self.start_jobs();
        true
    }

    /// Starts queued jobs in order, up to `MAX_JOBS`, leaving in the
    /// queue those whose device already runs as many actions as its
    /// `pcmk_action_limit` allows.
    fn start_jobs(&mut self) {
        let mut i = 0;
        while self.running_jobs < MAX_JOBS && i < self.queued_jobs.len() {
            let allowed = match self.queued_jobs[i].device() {
                None => true,
                Some((id, limit)) => {
                    limit.is_none_or(|l| self.busy.get(id).copied().unwrap_or(0) < l)
                }
            };
            if !allowed {
                i += 1;
                continue;
            }
            let Some(job) = self.queued_jobs.remove(i) else {
                return;
            };
            if let Some((id, _)) = job.device() {
                *self.busy.entry(id.to_string()).or_insert(0) += 1;
            }
            self.running_jobs += 1;
            self.shared.spawn(job);
        }
    }

    fn job_done(&mut self, lp: &mut EventLoop, done: Done) {
        match done {
            Done::Capability {
                op,
                origin,
                devices,
            } => {
                if origin == self.local {
                    self.query_reply(lp, &op, self.local.clone(), devices);
                } else {
                    self.send(lp, Some(&origin), &Wire::QueryReply { op, devices });
                }
            }
            Done::Executed {
                op,
                step,
                origin,
                ok,
                exit_code,
                reason,
                agent_time,
            } => {
                if origin == self.local {
                    if let Some(o) = self.ops.get_mut(&op) {
                        o.agent_time += agent_time;
                    }
                    let me = self.local.clone();
                    self.exec_done(lp, &op, step, &me, ok, exit_code, reason);
                } else {
                    self.send(
                        lp,
                        Some(&origin),
                        &Wire::ExecDone {
                            op,
                            step,
                            ok,
                            exit_code,
                            reason,
                        },
                    );
                }
            }
            Done::Status { reply, status } => match reply {
                Some(r) => self.answer(lp, r.client, r.call, &Response::Status(status)),
                None => {
                    let id = status.id.clone();
                    let changed = match self.devices.get_mut(&id) {
                        Some(d) => {
                            let changed = d.last_monitor != Some(status.ok);
                            d.last_monitor = Some(status.ok);
                            changed
                        }
                        None => false,
                    };
                    if changed {
                        if status.ok {
                            log::info!("device {id}: monitor ok");
                        } else {
                            log::warn!("device {id}: monitor failed: {}", status.output.trim());
                        }
                        self.publish(lp, &ApiEvent::DeviceMonitor(status));
                    }
                }
            },
            Done::Targets { reply, result } => {
                let resp = match result {
                    Ok(v) => Response::Names(v),
                    Err(e) => failed(exit::ERROR, e),
                };
                self.answer(lp, reply.client, reply.call, &resp);
            }
            Done::Metadata { reply, result } => {
                let resp = match result {
                    Ok(m) => Response::Metadata(m),
                    Err(e) => failed(exit::NOSUCH, e),
                };
                self.answer(lp, reply.client, reply.call, &resp);
            }
        }
    }

    // ---- clients ----

    fn answer(&mut self, lp: &mut EventLoop, client: ClientId, call: Option<u64>, r: &Response) {
        if let Some(id) = call {
            let _ = self.server.reply(lp, client, id, r, &mut self.reqs);
        }
    }

    fn publish(&mut self, lp: &mut EventLoop, ev: &ApiEvent) {
        for c in self.subscribers.clone() {
            if self.server.push_event(lp, c, ev, &mut self.reqs).is_err() {
                self.subscribers.remove(&c);
            }
        }
    }

    fn serve(&mut self, lp: &mut EventLoop) {
        while !self.reqs.is_empty() {
            for r in std::mem::take(&mut self.reqs) {
                match r {
                    ServerEvent::Request { client, call, body } => {
                        self.request(lp, client, call, body);
                    }
                    ServerEvent::Disconnected { client, .. } => {
                        self.subscribers.remove(&client);
                        self.client_names.remove(&client);
                    }
                    ServerEvent::Connected { client, peer, .. } => {
                        self.client_names.insert(client, client_name(peer.pid));
                    }
                }
            }
        }
    }

    fn usable_devices(&self) -> Vec<Device> {
        self.devices
            .values()
            .filter(|d| d.usable_here(&self.local))
            .map(|d| d.device.clone())
            .collect()
    }

    fn request(&mut self, lp: &mut EventLoop, client: ClientId, call: Option<u64>, body: Request) {
        let resp = match body {
            Request::Fence {
                target,
                action,
                timeout_ms,
                tolerance_ms,
                allow_suicide,
            } => {
                let timeout = if timeout_ms == 0 {
                    DEFAULT_TIMEOUT
                } else {
                    Duration::from_millis(timeout_ms)
                };
                let name = self
                    .client_names
                    .get(&client)
                    .cloned()
                    .unwrap_or_else(|| "client".into());
                self.fence(
                    lp,
                    (client, call),
                    &target,
                    action,
                    timeout,
                    tolerance_ms,
                    name,
                    allow_suicide,
                );
                return;
            }
            Request::Confirm { target } => {
                if !fencing::exec::valid_node_name(&target) {
                    failed(exit::INVALID_PARAM, format!("invalid node name '{target}'"))
                } else {
                    let r = self.confirm(lp, &target, client);
                    Response::Fenced(r)
                }
            }
            Request::Subscribe => {
                self.subscribers.insert(client);
                Response::Done
            }
            Request::History { target } => Response::History {
                completed: self.history.for_target(target.as_deref()),
                pending: self.pending(target.as_deref()),
            },
            Request::CleanupHistory { target } => {
                self.history.cleanup(target.as_deref());
                self.send(lp, None, &Wire::Cleanup { target });
                Response::Done
            }
            Request::Register(spec) => self.register(spec, false),
            Request::Deregister { id } => match self.devices.remove(&id) {
                Some(_) => {
                    self.shared.forget_list(&id);
                    log::info!("device {id} removed");
                    Response::Done
                }
                None => failed(exit::NOSUCH, format!("No such device {id}")),
            },
            Request::RegisterLevel(level) => {
                let mut t = self.topology.clone();
                match t.register(level.clone()) {
                    Ok(()) => {
                        self.api_levels
                            .retain(|l| !(l.target == level.target && l.index == level.index));
                        self.api_levels.push(level);
                        self.rebuild_topology();
                        Response::Done
                    }
                    Err(e) => failed(exit::INVALID_PARAM, e.to_string()),
                }
            }
            Request::DeregisterLevel { target, index } => {
                let before = self.api_levels.len() + self.cib_levels.len();
                self.api_levels
                    .retain(|l| !(l.target == target && (index == 0 || l.index == index)));
                self.cib_levels
                    .retain(|l| !(l.target == target && (index == 0 || l.index == index)));
                if before == self.api_levels.len() + self.cib_levels.len() {
                    failed(
                        exit::NOSUCH,
                        format!("No fencing level {index} for {target}"),
                    )
                } else {
                    self.rebuild_topology();
                    Response::Done
                }
            }
            Request::ListRegistered => Response::Names(
                self.devices
                    .iter()
                    .filter(|(_, d)| d.usable_here(&self.local))
                    .map(|(id, _)| id.clone())
                    .collect(),
            ),
            Request::ListCapable { target } if !fencing::exec::valid_node_name(&target) => {
                failed(exit::INVALID_PARAM, format!("invalid node name '{target}'"))
            }
            Request::ListCapable { target } => {
                let name = self.client_names.get(&client).cloned().unwrap_or_default();
                self.start_op(
                    lp,
                    vec![(client, call)],
                    &target,
                    FenceAction::Off,
                    DEFAULT_TIMEOUT,
                    name,
                    true,
                    true,
                );
                return;
            }
            Request::ListInstalled => Response::Names(self.shared.dirs.installed()),
            Request::DeviceTargets { id } => match self.devices.get(&id) {
                Some(d) => {
                    let job = Job::Targets {
                        reply: ReplyTo { client, call },
                        device: d.device.clone(),
                    };
                    if self.job(job) {
                        return;
                    }
                    failed(exit::ERROR, "too busy")
                }
                None => failed(exit::NOSUCH, format!("No such device {id}")),
            },
            Request::Metadata { agent } => {
                if fencing::AgentKind::parse(&agent).is_none() {
                    failed(exit::NOSUCH, format!("Agent {agent} not found"))
                } else if self.job(Job::Metadata {
                    reply: ReplyTo { client, call },
                    agent,
                }) {
                    return;
                } else {
                    failed(exit::ERROR, "too busy")
                }
            }
            Request::Query { id } => match self.devices.get(&id) {
                Some(d) => {
                    let job = Job::Status {
                        reply: Some(ReplyTo { client, call }),
                        device: d.device.clone(),
                    };
                    if self.job(job) {
                        return;
                    }
                    failed(exit::ERROR, "too busy")
                }
                None => failed(exit::NOSUCH, format!("No such device {id}")),
            },
            Request::ListLevels => Response::Levels(self.topology.levels()),
        };
        self.answer(lp, client, call, &resp);
    }

    fn register(&mut self, spec: DeviceSpec, from_cib: bool) -> Response {
        let device = match Device::new(&spec) {
            Ok(d) => d,
            Err(e @ DeviceError::UnknownAgent(_)) => return failed(exit::NOSUCH, e.to_string()),
            Err(e) => return failed(exit::INVALID_PARAM, e.to_string()),
        };
        if let Some(p) = self.shared.dirs.program(&device.kind) {
            if !p.is_file() {
                return failed(exit::NOSUCH, format!("Agent {} not found", spec.agent));
            }
        }
        self.shared.forget_list(&spec.id);
        log::info!("device {} ({}) registered", spec.id, spec.agent);
        self.devices.insert(
            spec.id.clone(),
            DevEntry {
                device,
                from_cib,
                banned: BTreeSet::new(),
                disabled: false,
                monitor: None,
                next_monitor: None,
                last_monitor: None,
            },
        );
        Response::Done
    }

    fn rebuild_topology(&mut self) {
        let mut t = Topology::new();
        for l in self.cib_levels.iter().chain(self.api_levels.iter()) {
            if let Err(e) = t.register(l.clone()) {
                log::warn!("fencing level {} {} ignored: {e}", l.target, l.index);
            }
        }
        self.topology = t;
    }

    fn pending(&self, target: Option<&str>) -> Vec<PendingFence> {
        let want = |t: &str| target.is_none_or(|x| x.eq_ignore_ascii_case(t));
        let mut v: Vec<PendingFence> = self
            .ops
            .iter()
            .filter(|(_, o)| !o.list_only && want(o.op.target()))
            .map(|(id, o)| PendingFence {
                id: id.clone(),
                target: o.op.target().to_string(),
                action: o.op.action(),
                origin: self.local.clone(),
                client: o.client.clone(),
                executioner: o.op.running_on().unwrap_or_default().to_string(),
            })
            .collect();
        v.extend(
            self.remote
                .iter()
                .filter(|(_, o)| want(&o.target))
                .map(|(id, o)| PendingFence {
                    id: id.clone(),
                    target: o.target.clone(),
                    action: o.action,
                    origin: o.origin.clone(),
                    client: o.client.clone(),
                    executioner: String::new(),
                }),
        );
        v
    }

    // ---- operations ----

    #[allow(clippy::too_many_arguments)]
    fn fence(
        &mut self,
        lp: &mut EventLoop,
        waiter: Waiter,
        target: &str,
        action: FenceAction,
        timeout: Duration,
        tolerance_ms: u64,
        client: String,
        allow_suicide: bool,
    ) {
        if !fencing::exec::valid_node_name(target) {
            self.answer(
                lp,
                waiter.0,
                waiter.1,
                &failed(exit::INVALID_PARAM, format!("invalid node name '{target}'")),
            );
            return;
        }
        let mut in_progress: Vec<InProgress> = self
            .ops
            .iter()
            .filter(|(_, o)| !o.list_only)
            .map(|(id, o)| InProgress {
                id: id.clone(),
                target: o.op.target().to_string(),
                action: o.op.action(),
            })
            .collect();
        in_progress.extend(self.remote.iter().map(|(id, o)| InProgress {
            id: id.clone(),
            target: o.target.clone(),
            action: o.action,
        }));
        match admit(
            target,
            action,
            tolerance_ms,
            now_ms(),
            &in_progress,
            &self.history.entries(),
        ) {
            Admission::FromHistory(r) => {
                log::info!(
                    "{action} of {target} answered from history ({} at {})",
                    r.id,
                    r.completed
                );
                self.answer(lp, waiter.0, waiter.1, &Response::Fenced(r));
            }
            Admission::Merge(id) => {
                log::info!("{action} of {target} merged into operation {id}");
                if let Some(op) = self.ops.get_mut(&id) {
                    op.waiters.push(waiter);
                } else {
                    let m = self.merged.entry(id).or_insert_with(|| Merged {
                        waiters: Vec::new(),
                        target: target.to_string(),
                        action,
                        timeout,
                        client: client.clone(),
                        allow_suicide,
                    });
                    m.waiters
                        .push((waiter, Instant::now() + timeout + EXEC_GRACE * 2));
                }
            }
            Admission::Start => {
                self.start_op(
                    lp,
                    vec![waiter],
                    target,
                    action,
                    timeout,
                    client,
                    false,
                    allow_suicide,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_op(
        &mut self,
        lp: &mut EventLoop,
        waiters: Vec<Waiter>,
        target: &str,
        action: FenceAction,
        timeout: Duration,
        client: String,
        list_only: bool,
        allow_suicide: bool,
    ) {
        if self.ops.len() >= MAX_OPS {
            for (c, call) in waiters {
                self.answer(
                    lp,
                    c,
                    call,
                    &failed(exit::ERROR, "too many fencing operations in progress"),
                );
            }
            return;
        }
        self.next_op += 1;
        let id = format!("{}.{}.{}", self.local, self.boot, self.next_op);
        if !list_only {
            log::info!("{client} asks for {action} of {target} (operation {id})");
        }
        // Every node heartbeat says is active, and every fencer we heard:
        // a node without a fencer costs the query timeout, never a device.
        let mut expected: BTreeSet<String> =
            self.fencers.union(&self.active_peers).cloned().collect();
        expected.insert(self.local.clone());
        let now = Instant::now();
        self.ops.insert(
            id.clone(),
            OriginOp {
                op: Operation::new(target, action, timeout, &self.local, expected, now)
                    .allow_suicide(allow_suicide),
                client: client.clone(),
                waiters,
                list_only,
                started: now,
                agent_time: Duration::ZERO,
            },
        );
        self.send(
            lp,
            None,
            &Wire::Query {
                op: id.clone(),
                target: target.to_string(),
                action,
                client,
                listing: list_only,
            },
        );
        let devices = self.usable_devices();
        let job = Job::Capability {
            op: id.clone(),
            origin: self.local.clone(),
            target: target.to_string(),
            devices,
        };
        if !self.job(job) {
            self.query_reply(lp, &id, self.local.clone(), Vec::new());
        }
    }

    fn query_reply(&mut self, lp: &mut EventLoop, id: &str, from: String, devices: Vec<Capable>) {
        let Some(o) = self.ops.get_mut(id) else {
            return;
        };
        if o.op.query_reply(&from, devices) {
            self.plan(lp, id);
        }
    }

    /// Every expected node answered (or the query timed out): plan.
    fn plan(&mut self, lp: &mut EventLoop, id: &str) {
        let Some(o) = self.ops.get_mut(id) else {
            return;
        };
        if o.list_only {
            let names: Vec<String> = o.op.capable_devices().into_iter().collect();
            let waiters = std::mem::take(&mut o.waiters);
            self.ops.remove(id);
            for (c, call) in waiters {
                self.answer(lp, c, call, &Response::Names(names.clone()));
            }
            return;
        }
        let target = o.op.target().to_string();
        let attrs = self.node_attrs.get(&target).cloned().unwrap_or_default();
        let topology = self.topology.levels_for(&target, &attrs);
        let out = o.op.start(topology, Instant::now());
        self.carry_out(lp, id, out);
    }

    /// Does what the operation asked: run a step here or on a peer, or
    /// finish.
    fn carry_out(&mut self, lp: &mut EventLoop, id: &str, out: Output) {
        match out {
            Output::Finished(outcome) => self.finish(lp, id, outcome),
            Output::Exec {
                node,
                step,
                device,
                action,
                delay,
            } => {
                let Some(o) = self.ops.get(id) else {
                    return;
                };
                let target = o.op.target().to_string();
                let timeout_ms = o.op.timeout().as_millis() as u64;
                log::info!("operation {id}: {action} of {target} with {device} on {node}");
                if node == self.local {
                    let origin = self.local.clone();
                    self.run_for(
                        lp, origin, id, step, &device, action, &target, timeout_ms, delay,
                    );
                } else {
                    self.send(
                        lp,
                        Some(&node),
                        &Wire::Exec {
                            op: id.to_string(),
                            step,
                            device,
                            action,
                            target,
                            timeout_ms,
                            delay,
                        },
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_for(
        &mut self,
        lp: &mut EventLoop,
        origin: String,
        op: &str,
        step: u32,
        device: &str,
        action: FenceAction,
        target: &str,
        timeout_ms: u64,
        delay: bool,
    ) {
        let Some(d) = self
            .devices
            .get(device)
            .filter(|d| d.usable_here(&self.local))
        else {
            let reason = format!("device {device} is not registered on {}", self.local);
            self.exec_result(lp, &origin, op, step, false, exit::NOSUCH, reason);
            return;
        };
        let nodeid = self
            .node_ids
            .iter()
            .find(|(_, uname)| uname.eq_ignore_ascii_case(target))
            .map(|(id, _)| id.clone());
        let job = Job::Execute {
            op: op.to_string(),
            step,
            origin: origin.clone(),
            device: d.device.clone(),
            action,
            target: target.to_string(),
            nodeid,
            timeout: Duration::from_millis(timeout_ms.max(1)),
            delay,
        };
        if !self.job(job) {
            self.exec_result(lp, &origin, op, step, false, exit::ERROR, "too busy".into());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn exec_result(
        &mut self,
        lp: &mut EventLoop,
        origin: &str,
        op: &str,
        step: u32,
        ok: bool,
        exit_code: i32,
        reason: String,
    ) {
        if origin == self.local {
            let me = self.local.clone();
            self.exec_done(lp, op, step, &me, ok, exit_code, reason);
        } else {
            self.send(
                lp,
                Some(origin),
                &Wire::ExecDone {
                    op: op.to_string(),
                    step,
                    ok,
                    exit_code,
                    reason,
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn exec_done(
        &mut self,
        lp: &mut EventLoop,
        id: &str,
        step: u32,
        from: &str,
        ok: bool,
        exit_code: i32,
        reason: String,
    ) {
        let Some(o) = self.ops.get_mut(id) else {
            return;
        };
        let result = if ok {
            StepResult::ok()
        } else {
            StepResult::failed(exit_code, reason)
        };
        if let Some(out) = o.op.exec_done(step, from, result, Instant::now()) {
            self.carry_out(lp, id, out);
        }
    }

    fn finish(&mut self, lp: &mut EventLoop, id: &str, outcome: PlanOutcome) {
        let Some(op) = self.ops.remove(id) else {
            return;
        };
        let result = FenceResult {
            id: id.to_string(),
            target: op.op.target().to_string(),
            action: op.op.action(),
            succeeded: outcome.succeeded,
            exit_code: outcome.exit_code,
            executioner: op.op.executioner().to_string(),
            origin: self.local.clone(),
            client: op.client.clone(),
            devices: outcome.devices,
            completed: now_secs(),
            reason: outcome.reason,
        };
        let total = op.started.elapsed();
        if result.succeeded {
            log::info!(
                "operation {id}: {} of {} by {} succeeded (devices {}; {} ms, agents {} ms)",
                result.action,
                result.target,
                result.executioner,
                result.devices.join(","),
                total.as_millis(),
                op.agent_time.as_millis()
            );
        } else {
            log::error!(
                "operation {id}: {} of {} failed: {}",
                result.action,
                result.target,
                result.reason
            );
        }
        self.send(lp, None, &Wire::Result(result.clone()));
        for (c, call) in op.waiters {
            self.answer(lp, c, call, &Response::Fenced(result.clone()));
        }
        self.completed(lp, result);
    }

    /// A result from anywhere: history, merged waiters, subscribers.
    fn completed(&mut self, lp: &mut EventLoop, result: FenceResult) {
        self.remote.remove(&result.id);
        if let Some(m) = self.merged.remove(&result.id) {
            for ((c, call), _) in m.waiters {
                self.answer(lp, c, call, &Response::Fenced(result.clone()));
            }
        }
        self.history.record(result.clone());
        self.publish(lp, &ApiEvent::Fenced(result));
    }

    fn confirm(&mut self, lp: &mut EventLoop, target: &str, client: ClientId) -> FenceResult {
        self.next_op += 1;
        let id = format!("{}.{}.{}", self.local, self.boot, self.next_op);
        let result = FenceResult {
            id,
            target: target.to_string(),
            action: FenceAction::Off,
            succeeded: true,
            exit_code: exit::OK,
            executioner: self.local.clone(),
            origin: self.local.clone(),
            client: self.client_names.get(&client).cloned().unwrap_or_default(),
            devices: Vec::new(),
            completed: now_secs(),
            reason: "manual confirmation".into(),
        };
        log::warn!("{target} confirmed down by the administrator");
        // Operations waiting to fence it are done: the node is down.
        let waiting: Vec<String> = self
            .ops
            .iter()
            .filter(|(_, o)| {
                !o.list_only
                    && o.op.target().eq_ignore_ascii_case(target)
                    && o.op.action() != FenceAction::On
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in waiting {
            if let Some(op) = self.ops.remove(&id) {
                for (c, call) in op.waiters {
                    self.answer(lp, c, call, &Response::Fenced(result.clone()));
                }
            }
        }
        self.send(lp, None, &Wire::Result(result.clone()));
        self.completed(lp, result.clone());
        result
    }

    fn timers(&mut self, lp: &mut EventLoop) {
        let now = Instant::now();
        let ids: Vec<String> = self.ops.keys().cloned().collect();
        for id in ids {
            let Some(o) = self.ops.get_mut(&id) else {
                continue;
            };
            if o.op.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            match o.op.handle_timeout(now) {
                Left::QueryComplete => {
                    log::info!(
                        "operation {id}: not every fencer answered; planning with the answers we have"
                    );
                    self.plan(lp, &id);
                }
                Left::Output(out) => self.carry_out(lp, &id, out),
                Left::Nothing => {}
            }
        }
        // Merged waiters whose own time ran out.
        let mut expired = Vec::new();
        for (id, m) in self.merged.iter_mut() {
            m.waiters.retain(|(w, d)| {
                if *d <= now {
                    expired.push(*w);
                    false
                } else {
                    true
                }
            });
            let _ = id;
        }
        self.merged.retain(|_, m| !m.waiters.is_empty());
        for (c, call) in expired {
            self.answer(
                lp,
                c,
                call,
                &failed(
                    exit::TIMEOUT,
                    "the operation this request joined did not complete in time",
                ),
            );
        }
        // Recurring device monitors.
        let due: Vec<String> = self
            .devices
            .iter()
            .filter(|(_, d)| d.next_monitor.is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(d) = self.devices.get_mut(&id) {
                d.next_monitor = d.monitor.map(|i| now + i);
                let job = Job::Status {
                    reply: None,
                    device: d.device.clone(),
                };
                self.job(job);
            }
        }
        if self.cib_retry.is_some_and(|t| t <= now) {
            self.cib_retry = None;
            self.connect_cib(lp);
        }
        if self.unfence_at.is_some_and(|t| t <= now) {
            self.unfence_at = None;
            let local = self.local.clone();
            log::info!("unfencing {local}: a device provides unfencing");
            self.fence(
                lp,
                (ClientId(u64::MAX), None),
                &local,
                FenceAction::On,
                DEFAULT_TIMEOUT,
                0,
                "stonithd".into(),
                false,
            );
        }
    }

    // ---- cib ----

    fn connect_cib(&mut self, lp: &mut EventLoop) {
        let Some(path) = self.cib_path.clone() else {
            return;
        };
        match Client::<CibApi>::connect(
            lp,
            &path,
            ClientLimits {
                max_frame: 256 << 20,
                ..ClientLimits::default()
            },
        ) {
            Ok(mut c) => {
                let ok = c.call(lp, &cibapi::Request::Subscribe).is_ok();
                self.cib = Some(c);
                if ok {
                    log::info!("connected to the cib");
                    self.query_cib(lp);
                } else {
                    self.cib_lost(lp);
                }
            }
            Err(_) => self.cib_retry = Some(Instant::now() + CIB_RETRY),
        }
    }

    fn cib_lost(&mut self, lp: &mut EventLoop) {
        if let Some(c) = self.cib.take() {
            c.close(lp);
        }
        self.cib_query = None;
        self.cib_retry = Some(Instant::now() + CIB_RETRY);
    }

    fn query_cib(&mut self, lp: &mut EventLoop) {
        if self.cib_query.is_some() {
            self.cib_dirty = true;
            return;
        }
        let Some(c) = self.cib.as_mut() else {
            return;
        };
        let mut q = cibapi::OpRequest::new(cibapi::OpKind::Query);
        q.local = true;
        match c.call(lp, &cibapi::Request::Op(q)) {
            Ok(id) => self.cib_query = Some(id),
            Err(_) => self.cib_lost(lp),
        }
    }

    fn cib_event(&mut self, lp: &mut EventLoop, ev: ClientEvent<CibApi>) {
        match ev {
            ClientEvent::Reply { id, body } if Some(id) == self.cib_query => {
                self.cib_query = None;
                match body {
                    cibapi::Response::Xml(text) => self.apply_cib(&text),
                    other => log::warn!("cib query failed: {other:?}"),
                }
                if std::mem::take(&mut self.cib_dirty) {
                    self.query_cib(lp);
                }
            }
            ClientEvent::Reply { .. } => {}
            ClientEvent::Event(_) => self.query_cib(lp),
            ClientEvent::Refused { message, .. } => {
                log::warn!("cib refused a request: {message}");
                self.cib_query = None;
            }
            ClientEvent::Closed(why) => {
                log::warn!("lost the cib connection: {why}");
                self.cib_lost(lp);
            }
        }
    }

    fn apply_cib(&mut self, text: &str) {
        let cfg = match fencing::cib::read(text) {
            Ok(c) => c,
            Err(e) => {
                log::error!("cannot read the CIB: {e}");
                return;
            }
        };
        for w in &cfg.warnings {
            log::warn!("{w}");
        }
        let mut seen = BTreeSet::new();
        for d in cfg.devices {
            seen.insert(d.spec.id.clone());
            let same = self.devices.get(&d.spec.id).is_some_and(|e| {
                e.from_cib
                    && Device::new(&d.spec).as_ref() == Ok(&e.device)
                    && e.banned == d.banned
                    && e.disabled == d.disabled
                    && e.monitor == d.monitor
            });
            if same {
                continue;
            }
            match self.register(d.spec.clone(), true) {
                Response::Done => {
                    if let Some(e) = self.devices.get_mut(&d.spec.id) {
                        e.banned = d.banned;
                        e.disabled = d.disabled;
                        e.monitor = d.monitor;
                        e.next_monitor = d.monitor.map(|i| Instant::now() + i);
                    }
                }
                Response::Failed(f) => {
                    log::error!(
                        "device {} from the CIB not registered: {}",
                        d.spec.id,
                        f.reason
                    )
                }
                _ => {}
            }
        }
        let gone: Vec<String> = self
            .devices
            .iter()
            .filter(|(id, e)| e.from_cib && !seen.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            log::info!("device {id} removed from the CIB");
            self.devices.remove(&id);
        }
        self.cib_levels = cfg.levels;
        self.rebuild_topology();
        self.node_attrs = cfg.node_attrs;
        self.node_ids = cfg.node_ids;
        if !self.cib_loaded {
            self.cib_loaded = true;
            if self.devices.values().any(|d| d.device.provides_unfencing) {
                // Give the peers a moment to announce themselves first.
                self.unfence_at = Some(
                    Instant::now()
                        + Duration::from_millis(if self.hb.is_some() { 1500 } else { 0 }),
                );
            }
        }
    }

    // ---- cluster ----

    fn send(&mut self, lp: &mut EventLoop, to: Option<&str>, w: &Wire) {
        let Some(hb) = self.hb.as_mut() else { return };
        if let Err(e) = w
            .to_message()
            .and_then(|m| hbapi::send_message(hb, lp, to, &m))
        {
            log::warn!("stonith message: {e}");
        }
    }

    fn heartbeat_event(
        &mut self,
        lp: &mut EventLoop,
        ev: ClientEvent<HbApi>,
    ) -> Result<(), String> {
        let Some(ev) = hbapi::cluster_event(ev, "stonith", Wire::from_message)? else {
            return Ok(());
        };
        match ev {
            ClusterEvent::Reply {
                body: hbapi::Response::Status(st),
                ..
            } => {
                self.active_peers = st
                    .nodes
                    .iter()
                    .filter(|n| {
                        n.status == "active" && n.node_type == "normal" && n.name != self.local
                    })
                    .map(|n| n.name.clone())
                    .collect();
            }
            ClusterEvent::NodeStatus { node, status } if node != self.local => {
                if status == "active" {
                    if self.active_peers.insert(node.clone()) {
                        // Say hello: its fencer answers with its history.
                        self.send(
                            lp,
                            Some(&node),
                            &Wire::History {
                                entries: Vec::new(),
                                reply: false,
                            },
                        );
                    }
                } else if status == "dead" {
                    self.active_peers.remove(&node);
                    self.peer_gone(lp, &node);
                }
            }
            ClusterEvent::Message { from, wire } if from != self.local => {
                self.cluster_message(lp, from, wire);
            }
            _ => {}
        }
        Ok(())
    }

    fn peer_gone(&mut self, lp: &mut EventLoop, node: &str) {
        if self.fencers.remove(node) {
            log::info!("fencer {node} left");
        }
        let ids: Vec<String> = self.ops.keys().cloned().collect();
        for id in ids {
            let Some(o) = self.ops.get_mut(&id) else {
                continue;
            };
            match o.op.node_left(node, Instant::now()) {
                Left::QueryComplete => self.plan(lp, &id),
                Left::Output(out) => {
                    log::warn!("operation {id}: {node} left while running a device");
                    self.carry_out(lp, &id, out);
                }
                Left::Nothing => {}
            }
        }
        // Operations whose origin left: requests merged into them are
        // taken over here.
        let orphaned: Vec<String> = self
            .remote
            .iter()
            .filter(|(_, r)| r.origin == node)
            .map(|(id, _)| id.clone())
            .collect();
        for id in orphaned {
            self.remote.remove(&id);
            if let Some(m) = self.merged.remove(&id) {
                log::warn!("origin {node} of operation {id} left; taking over its merged requests");
                let waiters = m.waiters.into_iter().map(|(w, _)| w).collect();
                self.start_op(
                    lp,
                    waiters,
                    &m.target,
                    m.action,
                    m.timeout,
                    m.client,
                    false,
                    m.allow_suicide,
                );
            }
        }
    }

    fn cluster_message(&mut self, lp: &mut EventLoop, from: String, w: Wire) {
        match w {
            Wire::Query {
                op,
                target,
                action,
                client,
                listing,
            } => {
                self.fencers.insert(from.clone());
                if listing {
                    let devices = self.usable_devices();
                    self.job(Job::Capability {
                        op,
                        origin: from,
                        target,
                        devices,
                    });
                    return;
                }
                // Two origins asking for the same thing at once: the
                // lower node name keeps its operation, the other joins it.
                let mine: Vec<String> = self
                    .ops
                    .iter()
                    .filter(|(_, o)| {
                        !o.list_only
                            && o.op.action() == action
                            && o.op.target().eq_ignore_ascii_case(&target)
                            && o.op.querying()
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                if from < self.local {
                    for id in mine {
                        self.send(
                            lp,
                            None,
                            &Wire::Merged {
                                op: id.clone(),
                                into: op.clone(),
                            },
                        );
                        if let Some(o) = self.ops.remove(&id) {
                            log::info!(
                                "operation {id} joins {op} from {from} ({action} of {target})"
                            );
                            let deadline = Instant::now() + o.op.timeout() + EXEC_GRACE * 2;
                            let m = self.merged.entry(op.clone()).or_insert_with(|| Merged {
                                waiters: Vec::new(),
                                target: target.clone(),
                                action,
                                timeout: o.op.timeout(),
                                client: o.client.clone(),
                                allow_suicide: o.op.allows_suicide(),
                            });
                            m.waiters
                                .extend(o.waiters.into_iter().map(|w| (w, deadline)));
                        }
                    }
                }
                if self.remote.len() >= MAX_REMOTE_OPS {
                    // Results we never heard (a lost broadcast) would
                    // otherwise pile up: forget the oldest by id.
                    if let Some(oldest) = self.remote.keys().next().cloned() {
                        log::warn!("forgetting remote operation {oldest}: too many in progress");
                        self.remote.remove(&oldest);
                    }
                }
                self.remote.insert(
                    op.clone(),
                    RemoteOp {
                        target: target.clone(),
                        action,
                        origin: from.clone(),
                        client,
                    },
                );
                let devices = self.usable_devices();
                let job = Job::Capability {
                    op,
                    origin: from,
                    target,
                    devices,
                };
                self.job(job);
            }
            Wire::QueryReply { op, devices } => {
                self.fencers.insert(from.clone());
                self.query_reply(lp, &op, from, devices);
            }
            Wire::Exec {
                op,
                step,
                device,
                action,
                target,
                timeout_ms,
                delay,
            } => {
                self.run_for(
                    lp, from, &op, step, &device, action, &target, timeout_ms, delay,
                );
            }
            Wire::ExecDone {
                op,
                step,
                ok,
                exit_code,
                reason,
            } => {
                self.exec_done(lp, &op, step, &from, ok, exit_code, reason);
            }
            Wire::Merged { op, into } => {
                self.remote.remove(&op);
                if let Some(m) = self.merged.remove(&op) {
                    let target = m.target.clone();
                    let e = self.merged.entry(into).or_insert_with(|| Merged {
                        waiters: Vec::new(),
                        target,
                        action: m.action,
                        timeout: m.timeout,
                        client: m.client.clone(),
                        allow_suicide: m.allow_suicide,
                    });
                    e.waiters.extend(m.waiters);
                }
            }
            Wire::Result(r) => {
                if r.succeeded {
                    log::info!(
                        "{} of {} by {} for {}@{}: OK",
                        r.action,
                        r.target,
                        r.executioner,
                        r.client,
                        r.origin
                    );
                } else {
                    log::warn!(
                        "{} of {} for {}@{} failed: {}",
                        r.action,
                        r.target,
                        r.client,
                        r.origin,
                        r.reason
                    );
                }
                self.completed(lp, r);
            }
            Wire::History { entries, reply } => {
                self.history.merge(entries);
                if self.fencers.insert(from.clone()) {
                    log::info!("fencer {from} joined");
                }
                if !reply {
                    // In pieces that fit a heartbeat datagram with room to
                    // spare (a result is a few hundred bytes at most).
                    let entries = self.history.entries();
                    for chunk in entries.chunks(HISTORY_CHUNK) {
                        self.send(
                            lp,
                            Some(&from),
                            &Wire::History {
                                entries: chunk.to_vec(),
                                reply: true,
                            },
                        );
                    }
                }
            }
            Wire::Cleanup { target } => {
                self.history.cleanup(target.as_deref());
            }
        }
    }
}

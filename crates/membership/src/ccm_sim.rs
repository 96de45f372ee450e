//! A simulated cluster of [`Ccm`] cores for property tests and the
//! benchmark: nodes, directed links that can be cut (partitions and one-way
//! links), kill and restart (with a persisted instance floor, as the shell
//! keeps it), message loss, delay and reordering, a fake clock that jumps
//! to the next thing due, and one seed for every random choice.
//!
//! Heartbeat is modelled by its guarantees rather than run (its own core
//! has [`crate::sim`]): node B's heartbeat reports A active a keepalive
//! (plus latency) after A→B starts working, and dead `deadtime` minus the
//! phase of A's last heartbeat after it stops; a change undone before it is
//! reported is never reported. Messages travel only on working links.
//!
//! Every installed view is checked as it happens: instances grow per node
//! (across restarts), the installer is a member, and no node is in two
//! views with the same instance (which also makes every member of a view
//! hold the same list). [`CcmSim::converged`] checks the stable outcome.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use crate::ccm::{Ccm, CcmConfig, CcmMsg, Output, View};
use crate::rng::Rng;
use crate::types::NodeName;

/// The simulated cluster's settings.
#[derive(Debug, Clone)]
pub struct CcmSimConfig {
    /// Number of nodes (`n00`, `n01`, ...).
    pub nodes: usize,
    /// Heartbeat's keepalive (phase of the last heartbeat, alive delay).
    pub keepalive: Duration,
    /// Heartbeat's deadtime.
    pub deadtime: Duration,
    /// Per-observer spread of heartbeat's reports.
    pub detect_jitter: Duration,
    /// One-way delay of every message.
    pub latency: Duration,
    /// Extra random delay per message, `0..=jitter` (reorders).
    pub jitter: Duration,
    /// Probability that a message is lost.
    pub loss: f64,
    /// ccm's announce interval.
    pub announce_interval: Duration,
    /// ccm's round timeout.
    pub round_timeout: Duration,
    /// ccm's settle time.
    pub settle: Duration,
    /// ccm's silence timeout.
    pub silence_timeout: Duration,
    /// Nodes not started at the beginning.
    pub down: Vec<usize>,
    /// The seed of everything.
    pub seed: u64,
}

impl CcmSimConfig {
    /// `nodes` nodes with the test timing of the issue (keepalive 100 ms,
    /// deadtime 500 ms), a 1 ms network without faults, ccm defaults.
    pub fn new(nodes: usize, seed: u64) -> Self {
        CcmSimConfig {
            nodes,
            keepalive: Duration::from_millis(100),
            deadtime: Duration::from_millis(500),
            detect_jitter: Duration::from_millis(2),
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            announce_interval: Duration::from_secs(1),
            round_timeout: Duration::from_millis(100),
            settle: Duration::from_millis(300),
            silence_timeout: Duration::from_secs(4),
            down: Vec::new(),
            seed,
        }
    }
}

/// A view installed somewhere, and when.
#[derive(Debug, Clone)]
pub struct Install {
    /// Simulated time.
    pub at: Instant,
    /// The node.
    pub node: usize,
    /// The view.
    pub view: View,
}

/// A status report heartbeat gave a running node's ccm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Simulated time.
    pub at: Instant,
    /// The node told.
    pub observer: usize,
    /// The node it is about.
    pub subject: usize,
    /// Reported active (`true`) or dead.
    pub alive: bool,
}

#[derive(Debug)]
enum Ev {
    Deliver {
        from: usize,
        to: usize,
        msg: CcmMsg,
    },
    Detect {
        observer: usize,
        subject: usize,
        alive: bool,
        epoch: u64,
    },
}

struct Due {
    at: Instant,
    order: u64,
    ev: Ev,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(o.at, o.order))
    }
}

/// The simulated cluster.
pub struct CcmSim {
    cfg: CcmSimConfig,
    rng: Rng,
    epoch: Instant,
    now: Instant,
    names: Vec<NodeName>,
    nodes: Vec<Option<Ccm>>,
    timeouts: Vec<Option<Instant>>,
    floors: Vec<u64>,
    incarnations: Vec<u64>,
    /// `(from, to)`: `to` does not hear `from`.
    blocked: BTreeSet<(usize, usize)>,
    /// `conn[s][o]`: s→o works (as last computed).
    conn: Vec<Vec<bool>>,
    conn_epoch: Vec<Vec<u64>>,
    /// What each observer's heartbeat reports of each subject.
    hb: Vec<Vec<bool>>,
    queue: BinaryHeap<Reverse<Due>>,
    order: u64,
    pending_detects: usize,
    registry: HashMap<(usize, u64), Vec<NodeName>>,
    last_instance: Vec<u64>,
    installs: Vec<Install>,
    reports: Vec<Report>,
    sent: BTreeMap<&'static str, u64>,
    steps: u64,
}

impl CcmSim {
    /// Starts every node not in `down` at the same instant.
    pub fn new(cfg: CcmSimConfig) -> CcmSim {
        let n = cfg.nodes;
        let names = (0..n)
            .map(|i| NodeName::new(&format!("n{i:02}")).expect("valid name"))
            .collect();
        let epoch = Instant::now();
        let mut sim = CcmSim {
            rng: Rng::new(cfg.seed),
            epoch,
            now: epoch,
            names,
            nodes: (0..n).map(|_| None).collect(),
            timeouts: vec![None; n],
            floors: vec![0; n],
            incarnations: vec![0; n],
            blocked: BTreeSet::new(),
            conn: vec![vec![false; n]; n],
            conn_epoch: vec![vec![0; n]; n],
            hb: vec![vec![false; n]; n],
            queue: BinaryHeap::new(),
            order: 0,
            pending_detects: 0,
            registry: HashMap::new(),
            last_instance: vec![0; n],
            installs: Vec::new(),
            reports: Vec::new(),
            sent: BTreeMap::new(),
            steps: 0,
            cfg,
        };
        for i in 0..n {
            if !sim.cfg.down.contains(&i) {
                sim.start(i);
            }
        }
        sim.topology_changed();
        sim
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "ccm sim (seed {}) at {:?}, step {}: {what}",
            self.cfg.seed,
            self.now - self.epoch,
            self.steps
        )
    }

    fn start(&mut self, i: usize) {
        self.incarnations[i] += 1;
        let mut c = CcmConfig::new(
            self.names[i].clone(),
            self.incarnations[i],
            self.floors[i],
            self.names.clone(),
        );
        c.announce_interval = self.cfg.announce_interval;
        c.round_timeout = self.cfg.round_timeout;
        c.settle = self.cfg.settle;
        c.silence_timeout = self.cfg.silence_timeout;
        let core = Ccm::new(c, self.now).unwrap_or_else(|e| self.fail(&e.to_string()));
        self.nodes[i] = Some(core);
        self.hb[i] = vec![false; self.cfg.nodes];
        self.drain(i);
    }

    /// The current simulated instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.cfg.nodes
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.cfg.nodes == 0
    }

    /// Node `i`'s core, `None` while it is down.
    pub fn node(&self, i: usize) -> Option<&Ccm> {
        self.nodes[i].as_ref()
    }

    /// Node `i`'s installed view.
    pub fn view(&self, i: usize) -> Option<&View> {
        self.node(i)?.view()
    }

    /// Every view installed so far, in order.
    pub fn installs(&self) -> &[Install] {
        &self.installs
    }

    /// Every report heartbeat gave a running ccm, in order.
    pub fn reports(&self) -> &[Report] {
        &self.reports
    }

    /// Messages sent so far (a broadcast counts once), by kind.
    pub fn sent(&self) -> &BTreeMap<&'static str, u64> {
        &self.sent
    }

    /// All messages sent so far.
    pub fn sent_total(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Changes the loss probability.
    pub fn set_loss(&mut self, p: f64) {
        self.cfg.loss = p;
    }

    /// Whether node `i` runs.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].is_some()
    }

    /// Whether `to` hears `from` now (both up, link not cut).
    pub fn link_works(&self, from: usize, to: usize) -> bool {
        from == to
            || self.nodes[from].is_some()
                && self.nodes[to].is_some()
                && !self.blocked.contains(&(from, to))
    }

    /// Cuts `a`–`b` both ways.
    pub fn cut(&mut self, a: usize, b: usize) {
        self.blocked.insert((a, b));
        self.blocked.insert((b, a));
        self.topology_changed();
    }

    /// Cuts only `from`→`to`: `to` no longer hears `from`.
    pub fn cut_one_way(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
        self.topology_changed();
    }

    /// Splits the cluster: nodes in `side` hear only each other.
    pub fn partition(&mut self, side: &[usize]) {
        for a in 0..self.cfg.nodes {
            for b in 0..self.cfg.nodes {
                if side.contains(&a) != side.contains(&b) {
                    self.blocked.insert((a, b));
                }
            }
        }
        self.topology_changed();
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.blocked.clear();
        self.topology_changed();
    }

    /// Kills node `i`: its state is gone, except its persisted floor.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
        self.timeouts[i] = None;
        self.topology_changed();
    }

    /// Starts node `i` again (new incarnation, persisted floor).
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].is_none() {
            self.start(i);
            self.topology_changed();
        }
    }

    /// Schedules heartbeat's reports for every link whose state changed.
    fn topology_changed(&mut self) {
        let n = self.cfg.nodes;
        for s in 0..n {
            // The phase of s's last heartbeat, shared by its observers.
            let phase = self
                .rng
                .duration_between(Duration::ZERO, self.cfg.keepalive);
            for o in 0..n {
                if s == o {
                    continue;
                }
                let works = self.link_works(s, o);
                if works == self.conn[s][o] {
                    continue;
                }
                self.conn[s][o] = works;
                self.conn_epoch[s][o] += 1;
                let spread = self
                    .rng
                    .duration_between(Duration::ZERO, self.cfg.detect_jitter);
                let delay = if works {
                    phase + self.cfg.latency + spread
                } else {
                    self.cfg.deadtime.saturating_sub(phase) + spread
                };
                let ev = Ev::Detect {
                    observer: o,
                    subject: s,
                    alive: works,
                    epoch: self.conn_epoch[s][o],
                };
                self.pending_detects += 1;
                self.schedule(self.now + delay, ev);
            }
        }
    }

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.order += 1;
        self.queue.push(Reverse(Due {
            at,
            order: self.order,
            ev,
        }));
    }

    /// Whether heartbeat's reports match the links and none is pending.
    pub fn heartbeat_settled(&self) -> bool {
        self.pending_detects == 0
    }

    /// Runs until `limit` or until `done` holds after a step.
    pub fn run_until(&mut self, limit: Instant, mut done: impl FnMut(&CcmSim) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                return done(self);
            }
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        self.run_until(limit, |_| false);
    }

    /// Does the next thing due no later than `limit`; `false` when nothing
    /// was (the clock then moves to `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        let mut best: Option<(Instant, Option<usize>)> =
            self.queue.peek().map(|Reverse(d)| (d.at, None));
        for (i, t) in self.timeouts.iter().enumerate() {
            if let Some(t) = t {
                if best.is_none_or(|(b, _)| *t < b) {
                    best = Some((*t, Some(i)));
                }
            }
        }
        let Some((at, who)) = best.filter(|(at, _)| *at <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.steps += 1;
        self.now = self.now.max(at);
        let now = self.now;
        match who {
            Some(i) => {
                if let Some(core) = self.nodes[i].as_mut() {
                    core.handle_timeout(now);
                    if core.poll_timeout().is_none_or(|t| t <= now) {
                        self.fail(&format!("node {i}: poll_timeout not after handle_timeout"));
                    }
                }
                self.drain(i);
            }
            None => {
                let Some(Reverse(due)) = self.queue.pop() else {
                    unreachable!("peeked above")
                };
                match due.ev {
                    Ev::Deliver { from, to, msg } => {
                        if self.link_works(from, to) {
                            let name = self.names[from].clone();
                            if let Some(core) = self.nodes[to].as_mut() {
                                core.handle_message(now, &name, msg);
                                self.drain(to);
                            }
                        }
                    }
                    Ev::Detect {
                        observer,
                        subject,
                        alive,
                        epoch,
                    } => {
                        self.pending_detects -= 1;
                        if self.conn_epoch[subject][observer] == epoch {
                            self.hb[observer][subject] = alive;
                            let name = self.names[subject].clone();
                            if let Some(core) = self.nodes[observer].as_mut() {
                                self.reports.push(Report {
                                    at: now,
                                    observer,
                                    subject,
                                    alive,
                                });
                                core.peer_status(now, &name, alive);
                                self.drain(observer);
                            }
                        }
                    }
                }
            }
        }
        true
    }

    fn drain(&mut self, i: usize) {
        loop {
            let Some(core) = self.nodes[i].as_mut() else {
                return;
            };
            let Some(out) = core.poll_output() else {
                self.timeouts[i] = core.poll_timeout();
                if let Err(e) = core.check_invariants() {
                    self.fail(&format!("node {i}: {e}"));
                }
                return;
            };
            match out {
                Output::Persist { instance_floor } => {
                    if instance_floor < self.floors[i] {
                        self.fail(&format!("node {i}: floor lowered to {instance_floor}"));
                    }
                    self.floors[i] = instance_floor;
                }
                Output::Send { to, msg } => {
                    *self.sent.entry(msg.kind()).or_default() += 1;
                    let targets: Vec<usize> = match &to {
                        Some(name) => self
                            .names
                            .iter()
                            .position(|n| n == name)
                            .into_iter()
                            .collect(),
                        None => (0..self.cfg.nodes).filter(|t| *t != i).collect(),
                    };
                    for t in targets {
                        if !self.link_works(i, t) || self.rng.chance(self.cfg.loss) {
                            continue;
                        }
                        let delay = self.cfg.latency
                            + self.rng.duration_between(Duration::ZERO, self.cfg.jitter);
                        let ev = Ev::Deliver {
                            from: i,
                            to: t,
                            msg: msg.clone(),
                        };
                        self.schedule(self.now + delay, ev);
                    }
                }
                Output::ViewChanged(view) => self.check_install(i, view),
            }
        }
    }

    fn check_install(&mut self, i: usize, view: View) {
        if view.instance <= self.last_instance[i] {
            self.fail(&format!(
                "node {i} installed instance {} after {}",
                view.instance, self.last_instance[i]
            ));
        }
        self.last_instance[i] = view.instance;
        if !view.contains(&self.names[i]) {
            self.fail(&format!(
                "node {i} installed a view without itself: {view:?}"
            ));
        }
        let names = view.names();
        for m in &names {
            let Some(idx) = self.names.iter().position(|n| n == m) else {
                self.fail(&format!("unknown member {m}"));
            };
            match self.registry.get(&(idx, view.instance)) {
                Some(prev) if *prev != names => self.fail(&format!(
                    "node {m} is in two views with instance {}: {prev:?} and {names:?}",
                    view.instance
                )),
                Some(_) => {}
                None => {
                    self.registry.insert((idx, view.instance), names.clone());
                }
            }
        }
        self.installs.push(Install {
            at: self.now,
            node: i,
            view,
        });
    }

    /// The nodes `i` can reach both ways, transitively (its component).
    pub fn component(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([i]);
        let mut todo = vec![i];
        while let Some(a) = todo.pop() {
            for b in 0..self.cfg.nodes {
                if !seen.contains(&b) && self.link_works(a, b) && self.link_works(b, a) {
                    seen.insert(b);
                    todo.push(b);
                }
            }
        }
        seen
    }

    /// The stable outcome: every running node has a view; every member of
    /// it runs (same incarnation), holds the same view, and hears every
    /// other member both ways; and where a node's component (nodes reached
    /// over links that work both ways) is a clique, the view is that whole
    /// component.
    pub fn converged(&self) -> Result<(), String> {
        for i in 0..self.cfg.nodes {
            let Some(core) = &self.nodes[i] else { continue };
            let Some(v) = core.view() else {
                return Err(format!("node {i} has no view"));
            };
            let mut idx = Vec::new();
            for m in &v.members {
                let Some(j) = self.names.iter().position(|n| *n == m.name) else {
                    return Err(format!("unknown member {}", m.name));
                };
                if self.incarnations[j] != m.incarnation || self.nodes[j].is_none() {
                    return Err(format!(
                        "node {i}: member {j} is not running that incarnation"
                    ));
                }
                if self.view(j) != Some(v) {
                    return Err(format!(
                        "node {i} has {} {:?}, member {j} has {:?}",
                        v.instance,
                        v.names(),
                        self.view(j).map(|v| (v.instance, v.names()))
                    ));
                }
                idx.push(j);
            }
            for &a in &idx {
                for &b in &idx {
                    if !self.link_works(a, b) {
                        return Err(format!(
                            "view {} has {a} and {b}, but {b} does not hear {a}",
                            v.instance
                        ));
                    }
                }
            }
            let comp: Vec<usize> = self.component(i).into_iter().collect();
            let clique = comp
                .iter()
                .all(|a| comp.iter().all(|b| self.link_works(*a, *b)));
            if clique && comp != idx {
                return Err(format!("node {i}: view {idx:?}, component {comp:?}"));
            }
        }
        Ok(())
    }
}

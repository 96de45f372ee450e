//! A simulated cluster for testing the core: N nodes each running a
//! [`Membership`], a network with loss, duplication, reordering and
//! partitions, a fake clock that jumps to the next thing due, and one seeded
//! RNG for every random choice, so a run is reproduced exactly by its seed.
//!
//! [`Sim::step`] does one thing (delivers the next packet, fires the next
//! core timeout, or lets a node's application send a message) and then
//! checks every node's invariants and the delivery guarantees: per sender and
//! incarnation, messages arrive in sequence order, once, only at the nodes
//! they were addressed to, and, in strict mode, none is missing. A failed
//! check panics with the seed; [`for_each_seed`] prints it as well.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::engine::{Delivery, Membership, Output, Packet, PacketKind, Transmit};
use crate::rng::Rng;
use crate::types::{Event, MediumId, NodeName, NodeStatus, Payload};

/// The payload the simulated applications send: who sent it, in which
/// incarnation, and its number (1, 2, ... per sender incarnation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SimMsg {
    /// Index of the sending node.
    pub origin: usize,
    /// Incarnation of the sender (1 at first start, +1 per restart).
    pub incarnation: u32,
    /// Per-incarnation message number, from 1.
    pub n: u64,
}

impl Payload for SimMsg {
    fn size(&self) -> usize {
        24
    }
}

/// The simulated cluster's settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes (`n0`, `n1`, ...).
    pub nodes: usize,
    /// Media per node.
    pub media: u16,
    /// `keepalive`.
    pub keepalive: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `initdead`.
    pub initdead: Duration,
    /// `max_rexmit_delay`.
    pub max_rexmit_delay: Duration,
    /// Fixed one-way delay of every packet between nodes.
    pub latency: Duration,
    /// Extra random delay, `0..=jitter`, per packet: reorders packets.
    pub jitter: Duration,
    /// Probability that a packet is lost (per receiver and medium).
    pub loss: f64,
    /// Probability that a packet is delivered twice.
    pub duplication: f64,
    /// Every delivered message must be the next one expected, and every
    /// `MessagesLost` event is a failure.
    pub strict: bool,
    /// Nodes not started at the beginning ([`Sim::restart`] starts them).
    pub down: Vec<usize>,
    /// The seed of everything.
    pub seed: u64,
}

impl SimConfig {
    /// `nodes` nodes on one medium with the sub-second timing of the issue
    /// (keepalive 100 ms, warntime 300 ms, deadtime 500 ms, initdead 1 s), a
    /// 1 ms network without faults, relaxed checking.
    pub fn new(nodes: usize, seed: u64) -> SimConfig {
        SimConfig {
            nodes,
            media: 1,
            keepalive: Duration::from_millis(100),
            warntime: Duration::from_millis(300),
            deadtime: Duration::from_millis(500),
            initdead: Duration::from_secs(1),
            max_rexmit_delay: Duration::from_millis(250),
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplication: 0.0,
            strict: false,
            down: Vec::new(),
            seed,
        }
    }
}

/// An event one node's core reported, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Simulated time.
    pub at: Instant,
    /// The node that reported it.
    pub observer: usize,
    /// The event.
    pub event: Event,
}

/// How a node's application sends.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    /// Mean time between messages (uniform in `0..=2 * mean`).
    pub mean_interval: Duration,
    /// Probability that a message goes to one random other node instead of
    /// to every node.
    pub unicast: f64,
}

struct Flight {
    at: Instant,
    order: u64,
    to: usize,
    packet: Packet<SimMsg>,
}

// Flights are ordered by (time, order); `order` is unique.
impl PartialEq for Flight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Flight {}

impl PartialOrd for Flight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Flight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

struct SimNode {
    core: Membership<SimMsg>,
    incarnation: u32,
    sent: u64,
    next_send: Option<Instant>,
    timeout: Option<Instant>,
}

/// The simulated cluster.
pub struct Sim {
    cfg: SimConfig,
    rng: Rng,
    epoch: Instant,
    now: Instant,
    names: Vec<NodeName>,
    nodes: Vec<Option<SimNode>>,
    generations: Vec<u64>,
    incarnations: Vec<u32>,
    flights: BinaryHeap<Reverse<Flight>>,
    order: u64,
    blocked: HashSet<(usize, usize, u16)>,
    traffic: Option<Traffic>,
    log: Vec<Record>,
    /// Per receiver and origin: messages addressed to it, in send order,
    /// that it must deliver (strict mode).
    expected: Vec<Vec<VecDeque<SimMsg>>>,
    /// Per receiver and origin: the last message delivered.
    last_delivered: Vec<Vec<Option<SimMsg>>>,
    /// Per origin and incarnation (index `incarnation - 1`): each message's
    /// addressee (`None` = every node), by `n - 1`.
    sent: Vec<Vec<Vec<Option<usize>>>>,
    last_transmit: Vec<Option<Instant>>,
    recording: Option<(usize, Vec<Packet<SimMsg>>)>,
    delivered: u64,
    steps: u64,
}

/// What [`Sim::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A packet reached a node (or was dropped at a dead one).
    Packet,
    /// A node's core handled its timeout.
    Timeout,
    /// A node's application sent a message.
    Send,
    /// Nothing was due before the limit; the clock moved to it.
    Idle,
}

impl Sim {
    /// Starts every node at the same instant.
    pub fn new(cfg: SimConfig) -> Sim {
        let n = cfg.nodes;
        let names: Vec<NodeName> = (0..n)
            .map(|i| NodeName::new(&format!("n{i}")).expect("valid name"))
            .collect();
        let epoch = Instant::now();
        let mut sim = Sim {
            rng: Rng::new(cfg.seed),
            epoch,
            now: epoch,
            names,
            nodes: (0..n).map(|_| None).collect(),
            generations: vec![1000; n],
            incarnations: vec![0; n],
            flights: BinaryHeap::new(),
            order: 0,
            blocked: HashSet::new(),
            traffic: None,
            log: Vec::new(),
            expected: vec![vec![VecDeque::new(); n]; n],
            last_delivered: vec![vec![None; n]; n],
            sent: vec![Vec::new(); n],
            last_transmit: vec![None; n],
            recording: None,
            delivered: 0,
            steps: 0,
            cfg,
        };
        for i in 0..n {
            if !sim.cfg.down.contains(&i) {
                sim.start(i);
            }
        }
        sim
    }

    fn core_config(&mut self, i: usize) -> Config {
        let c = &self.cfg;
        let mut config = Config::new(
            self.names[i].clone(),
            self.generations[i],
            self.names.clone(),
            c.media,
        )
        .with_timing(c.keepalive, c.warntime, c.deadtime, c.initdead);
        config.max_rexmit_delay = c.max_rexmit_delay;
        config.seed = self.rng.next_u64();
        config
    }

    fn start(&mut self, i: usize) {
        self.generations[i] += 1;
        self.incarnations[i] += 1;
        let config = self.core_config(i);
        let core = Membership::new(config, self.now)
            .unwrap_or_else(|e| self.fail(&format!("config refused: {e}")));
        self.sent[i].push(Vec::new());
        for origin in 0..self.cfg.nodes {
            self.expected[i][origin].clear();
            self.last_delivered[i][origin] = None;
        }
        self.nodes[i] = Some(SimNode {
            core,
            incarnation: self.incarnations[i],
            sent: 0,
            next_send: None,
            timeout: None,
        });
        self.schedule_send(i);
        self.after_call(i);
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "membership sim (seed {}) at {:?}, step {}: {what}",
            self.cfg.seed,
            self.elapsed(),
            self.steps
        )
    }

    /// The current simulated instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// The instant the simulation started at.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Node `i`'s name.
    pub fn name(&self, i: usize) -> &NodeName {
        &self.names[i]
    }

    /// Node `i`'s core, `None` while it is killed.
    pub fn node(&self, i: usize) -> Option<&Membership<SimMsg>> {
        self.nodes[i].as_ref().map(|n| &n.core)
    }

    /// Every event every node reported, in order.
    pub fn log(&self) -> &[Record] {
        &self.log
    }

    /// Client messages delivered so far (local deliveries included).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Client messages the applications sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.iter().flatten().map(|v| v.len() as u64).sum()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// When node `i` last transmitted anything.
    pub fn last_transmit(&self, i: usize) -> Option<Instant> {
        self.last_transmit[i]
    }

    /// What `observer` thinks of `subject`; `None` when `observer` is dead.
    pub fn status(&self, observer: usize, subject: usize) -> Option<NodeStatus> {
        self.node(observer)?.node_status(&self.names[subject])
    }

    /// Every running node sees itself and every other running node active.
    pub fn all_active(&self) -> bool {
        (0..self.cfg.nodes).all(|a| {
            self.nodes[a].is_none()
                || (0..self.cfg.nodes).all(|b| {
                    self.nodes[b].is_none() || self.status(a, b) == Some(NodeStatus::Active)
                })
        })
    }

    /// Starts (or stops, with `None`) the applications' traffic on every
    /// running node.
    pub fn set_traffic(&mut self, traffic: Option<Traffic>) {
        self.traffic = traffic;
        for i in 0..self.cfg.nodes {
            self.schedule_send(i);
        }
    }

    fn schedule_send(&mut self, i: usize) {
        let next = self.traffic.map(|t| {
            self.now
                + self
                    .rng
                    .duration_between(Duration::ZERO, t.mean_interval * 2)
        });
        if let Some(node) = self.nodes[i].as_mut() {
            node.next_send = next;
        }
    }

    /// Cuts every medium between `a` and `b`, both ways.
    pub fn cut(&mut self, a: usize, b: usize) {
        for m in 0..self.cfg.media {
            self.cut_medium(a, b, m);
        }
    }

    /// Cuts medium `m` between `a` and `b`, both ways.
    pub fn cut_medium(&mut self, a: usize, b: usize, m: u16) {
        self.blocked.insert((a, b, m));
        self.blocked.insert((b, a, m));
    }

    /// Cuts `n` from every other node.
    pub fn isolate(&mut self, n: usize) {
        for other in 0..self.cfg.nodes {
            if other != n {
                self.cut(n, other);
            }
        }
    }

    /// Restores every cut.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Kills node `i` (kill -9): its state is gone, packets to it are lost,
    /// its packets already in flight still arrive.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Starts node `i` (again) with a higher generation and empty state.
    pub fn restart(&mut self, i: usize) {
        self.start(i);
    }

    /// Records every packet node `i` transmits from now on (for replays).
    pub fn record(&mut self, i: usize) {
        self.recording = Some((i, Vec::new()));
    }

    /// Stops recording and returns what was recorded.
    pub fn take_recording(&mut self) -> Vec<Packet<SimMsg>> {
        self.recording.take().map(|(_, r)| r).unwrap_or_default()
    }

    /// Injects `packets` (say, recorded from an earlier incarnation) so that
    /// every other node receives them now, on their original medium.
    pub fn inject(&mut self, packets: &[Packet<SimMsg>]) {
        for p in packets {
            for to in 0..self.cfg.nodes {
                if self.names[to] != p.from {
                    let at = self.now;
                    self.schedule(at, to, p.clone());
                }
            }
        }
    }

    fn schedule(&mut self, at: Instant, to: usize, packet: Packet<SimMsg>) {
        self.order += 1;
        self.flights.push(Reverse(Flight {
            at,
            order: self.order,
            to,
            packet,
        }));
    }

    /// Runs until `limit`, or until `done` holds after a step. Returns
    /// whether `done` held.
    pub fn run_until(&mut self, limit: Instant, mut done: impl FnMut(&Sim) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.step(limit) == Step::Idle {
                return done(self);
            }
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        self.run_until(limit, |_| false);
    }

    /// Does the next thing due no later than `limit` (earliest first; at the
    /// same instant packets before timeouts before sends, lower node index
    /// first), then checks every invariant.
    pub fn step(&mut self, limit: Instant) -> Step {
        #[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
        enum Due {
            Packet,
            Timeout(usize),
            Send(usize),
        }
        let mut best: Option<(Instant, Due)> =
            self.flights.peek().map(|Reverse(f)| (f.at, Due::Packet));
        for (i, node) in self.nodes.iter().enumerate() {
            let Some(node) = node else { continue };
            for cand in [
                node.timeout.map(|t| (t, Due::Timeout(i))),
                node.next_send.map(|t| (t, Due::Send(i))),
            ]
            .into_iter()
            .flatten()
            {
                if best.is_none_or(|b| cand < b) {
                    best = Some(cand);
                }
            }
        }
        let Some((at, due)) = best.filter(|(at, _)| *at <= limit) else {
            self.now = self.now.max(limit);
            return Step::Idle;
        };
        self.steps += 1;
        self.now = self.now.max(at);
        let now = self.now;
        let (step, touched) = match due {
            Due::Packet => {
                let Some(Reverse(flight)) = self.flights.pop() else {
                    unreachable!("peeked above")
                };
                if let Some(node) = self.nodes[flight.to].as_mut() {
                    node.core.handle_packet(now, flight.packet);
                    self.after_call(flight.to);
                }
                (Step::Packet, flight.to)
            }
            Due::Timeout(i) => {
                if let Some(node) = self.nodes[i].as_mut() {
                    node.core.handle_timeout(now);
                    if node.core.poll_timeout().is_none_or(|t| t <= now) {
                        self.fail(&format!("node {i}: poll_timeout not after handle_timeout"));
                    }
                }
                self.after_call(i);
                (Step::Timeout, i)
            }
            Due::Send(i) => {
                self.app_send(i);
                self.schedule_send(i);
                (Step::Send, i)
            }
        };
        // Only the node that took input changed.
        self.check_node(touched);
        step
    }

    fn app_send(&mut self, i: usize) {
        let Some(traffic) = self.traffic else { return };
        let unicast = self.rng.chance(traffic.unicast) && self.cfg.nodes > 1;
        let dest = if unicast {
            let mut d = self.rng.below(self.cfg.nodes as u64 - 1) as usize;
            if d >= i {
                d += 1;
            }
            Some(d)
        } else {
            None
        };
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        node.sent += 1;
        let msg = SimMsg {
            origin: i,
            incarnation: node.incarnation,
            n: node.sent,
        };
        let inc = node.incarnation as usize - 1;
        self.sent[i][inc].push(dest);
        // A receiver must deliver it if it already tracks the sender (it
        // sees it alive): earlier messages are not owed to a node that had
        // not heard from the sender yet.
        for r in 0..self.cfg.nodes {
            let addressed = dest.is_none_or(|d| d == r);
            let tracks = r == i || self.status(r, i).is_some_and(NodeStatus::is_alive);
            if addressed && tracks {
                self.expected[r][i].push_back(msg);
            }
        }
        let dest_name = dest.map(|d| self.names[d].clone());
        if let Some(node) = self.nodes[i].as_mut() {
            let _seq = node.core.send(self.now, dest_name, msg);
        }
        self.after_call(i);
    }

    /// Drains node `i`'s outputs: routes transmissions, checks deliveries,
    /// logs events; refreshes its timeout.
    fn after_call(&mut self, i: usize) {
        loop {
            let Some(node) = self.nodes[i].as_mut() else {
                return;
            };
            let Some(output) = node.core.poll_output() else {
                node.timeout = node.core.poll_timeout();
                return;
            };
            match output {
                Output::Transmit(t) => self.route(i, t),
                Output::Deliver(d) => self.check_delivery(i, d),
                Output::Event(event) => {
                    self.check_event(i, &event);
                    self.log.push(Record {
                        at: self.now,
                        observer: i,
                        event,
                    });
                }
            }
        }
    }

    fn route(&mut self, from: usize, t: Transmit<SimMsg>) {
        self.last_transmit[from] = Some(self.now);
        let kind = match t {
            Transmit::Status {
                generation,
                seq,
                status,
                deadtime_ms,
                ..
            } => PacketKind::Status {
                generation,
                seq,
                status,
                deadtime_ms: Some(deadtime_ms),
            },
            Transmit::Message {
                generation,
                seq,
                dest,
                payload,
                ..
            } => PacketKind::Message {
                generation,
                seq,
                dest,
                payload,
            },
            Transmit::Ack { dest, ackseq } => PacketKind::Ack { dest, ackseq },
            Transmit::RexmitRequest { dest, first, last } => {
                PacketKind::RexmitRequest { dest, first, last }
            }
            Transmit::NakRexmit { dest, seq, .. } => PacketKind::NakRexmit {
                dest: Some(dest),
                seq,
            },
        };
        for m in 0..self.cfg.media {
            let packet = Packet {
                from: self.names[from].clone(),
                medium: MediumId(m),
                kind: kind.clone(),
            };
            if let Some((who, rec)) = self.recording.as_mut() {
                if *who == from {
                    rec.push(packet.clone());
                }
            }
            for to in 0..self.cfg.nodes {
                if to == from {
                    // Our own broadcast loops back at once, never lost.
                    let at = self.now;
                    self.schedule(at, to, packet.clone());
                    continue;
                }
                if self.blocked.contains(&(from, to, m)) || self.rng.chance(self.cfg.loss) {
                    continue;
                }
                let copies = if self.rng.chance(self.cfg.duplication) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let at = self.now
                        + self.cfg.latency
                        + self.rng.duration_between(Duration::ZERO, self.cfg.jitter);
                    self.schedule(at, to, packet.clone());
                }
            }
        }
    }

    fn check_delivery(&mut self, r: usize, d: Delivery<SimMsg>) {
        self.delivered += 1;
        let msg = d.payload;
        let o = msg.origin;
        if o >= self.cfg.nodes || d.from != self.names[o] {
            self.fail(&format!("node {r}: {msg:?} delivered as from {}", d.from));
        }
        let dest = self.sent[o]
            .get(msg.incarnation as usize - 1)
            .and_then(|v| v.get(msg.n as usize - 1));
        match dest {
            None => self.fail(&format!("node {r}: delivered {msg:?}, never sent")),
            Some(Some(to)) if *to != r => self.fail(&format!(
                "node {r}: delivered {msg:?}, addressed to node {to}"
            )),
            Some(_) => {}
        }
        if let Some(prev) = self.last_delivered[r][o] {
            if prev.incarnation == msg.incarnation && prev.n >= msg.n
                || prev.incarnation > msg.incarnation
            {
                self.fail(&format!(
                    "node {r}: delivered {msg:?} after {prev:?} (out of order or twice)"
                ));
            }
        }
        self.last_delivered[r][o] = Some(msg);
        let queue = &mut self.expected[r][o];
        if self.cfg.strict {
            match queue.front() {
                Some(front) if *front == msg => {
                    queue.pop_front();
                }
                // Messages the receiver was not owed may arrive too.
                Some(front) if front.incarnation == msg.incarnation && msg.n < front.n => {}
                None => {}
                Some(front) => {
                    let front = *front;
                    self.fail(&format!(
                        "node {r}: delivered {msg:?}, but {front:?} is missing"
                    ))
                }
            }
        } else {
            while queue.front().is_some_and(|f| {
                f.incarnation < msg.incarnation || f.incarnation == msg.incarnation && f.n <= msg.n
            }) {
                queue.pop_front();
            }
        }
    }

    fn check_event(&self, i: usize, event: &Event) {
        match event {
            Event::NodeStatusChanged {
                node,
                new: NodeStatus::Dead,
                ..
            } if *node == self.names[i] => self.fail(&format!("node {i} declared itself dead")),
            Event::MessagesLost { .. } if self.cfg.strict => {
                self.fail(&format!("node {i}: {event:?} in strict mode"))
            }
            _ => {}
        }
    }

    /// Checks every running node's invariants.
    pub fn check_invariants(&self) {
        for i in 0..self.cfg.nodes {
            self.check_node(i);
        }
    }

    fn check_node(&self, i: usize) {
        if let Some(node) = &self.nodes[i] {
            if let Err(e) = node.core.check_invariants() {
                self.fail(&format!("node {i}: {e}"));
            }
        }
    }

    /// Strict mode: every message owed has been delivered.
    pub fn assert_all_delivered(&self) {
        for (r, per_origin) in self.expected.iter().enumerate() {
            for (o, queue) in per_origin.iter().enumerate() {
                if let Some(front) = queue.front() {
                    self.fail(&format!(
                        "node {r}: {} message(s) from node {o} never delivered, first {front:?}",
                        queue.len()
                    ));
                }
            }
        }
    }
}

/// Runs `test` for every seed (or only for `$MEMBERSHIP_SIM_SEED` when set),
/// printing the failing seed before the panic goes on.
pub fn for_each_seed(seeds: impl IntoIterator<Item = u64>, mut test: impl FnMut(u64)) {
    struct Guard(u64);
    impl Drop for Guard {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!(
                    "membership sim failed with seed {0}; rerun with MEMBERSHIP_SIM_SEED={0}",
                    self.0
                );
            }
        }
    }
    let only = std::env::var("MEMBERSHIP_SIM_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let run = |seed: u64, test: &mut dyn FnMut(u64)| {
        let guard = Guard(seed);
        test(seed);
        drop(guard);
    };
    match only {
        Some(seed) => run(seed, &mut test),
        None => {
            for seed in seeds {
                run(seed, &mut test);
            }
        }
    }
}

//! Per-node and per-link failure detection: Heartbeat's keepalive, warntime,
//! deadtime and initdead rules as a state machine that reads no clock.
//!
//! Call order: [`FailureDetector::new`] at start; then for every packet that
//! sequence tracking accepted, [`FailureDetector::heartbeat_received`] (status
//! heartbeats) or [`FailureDetector::packet_received`] (anything else, and
//! duplicates); [`FailureDetector::tick`] whenever `now` reaches
//! [`FailureDetector::poll_timeout`]; after each call, drain
//! [`FailureDetector::poll_event`] until it returns `None`.
//!
//! Rules (WIRE.md sections 5 and 10, heartbeat.c `check_for_timeouts`,
//! `HBDoMsg_T_STATUS`, `check_comm_isup`):
//! - a peer's deadtime is the `dt` it advertises, else our configured one;
//! - until every configured node has been heard from or declared dead
//!   ("comm up"), `initdead` replaces every deadtime; at comm up the local
//!   status goes from `up` to `active`;
//! - a node is dead when nothing fresh came from it for its deadtime; a link
//!   (node, medium) is dead when nothing, duplicates included, came from
//!   that node on that medium for the node's deadtime;
//! - the local node is never declared dead and its links never die; its own
//!   packets looping back bring its links up;
//! - a status heartbeat later than `warntime` after the previous one is
//!   reported late, and critical beyond the configured deadtime;
//! - a higher generation is a restart; a dead node heard again with the same
//!   generation is "returning after partition".

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError, MAX_DURATION};
use crate::types::{Event, LinkStatus, MediumId, NodeName, NodeStatus};

/// A status heartbeat (`t=status`) as the daemon decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// `src`.
    pub from: NodeName,
    /// The medium it arrived on.
    pub medium: MediumId,
    /// `hg`.
    pub generation: u64,
    /// `seq`; `None` for senders that do not number heartbeats.
    pub seq: Option<u64>,
    /// `st`: the sender's own status.
    pub status: NodeStatus,
    /// `dt`: the sender's deadtime in milliseconds, when present.
    pub deadtime_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct Link {
    status: LinkStatus,
    last_heard: Option<Instant>,
}

#[derive(Debug, Clone)]
struct NodeEntry {
    name: NodeName,
    status: NodeStatus,
    /// Last fresh packet (or our start, or when it joined).
    last_heard: Instant,
    /// Heartbeat's `anypacketsyet`: heard since start or since declared dead.
    heard_any: bool,
    /// Its deadtime: advertised `dt`, else ours.
    deadtime: Duration,
    generation: Option<u64>,
    /// Declared dead while its generation was known: hearing it again with
    /// the same generation is a return after partition.
    may_return: bool,
    /// Sequence number of the newest status applied.
    status_seq: u64,
    /// When the previous (non-stale) status heartbeat arrived.
    last_status_at: Option<Instant>,
    links: Vec<Link>,
}

impl NodeEntry {
    fn new(name: NodeName, now: Instant, deadtime: Duration, media: u16) -> NodeEntry {
        NodeEntry {
            name,
            status: NodeStatus::Init,
            last_heard: now,
            heard_any: false,
            deadtime,
            generation: None,
            may_return: false,
            status_seq: 0,
            last_status_at: None,
            links: vec![
                Link {
                    status: LinkStatus::Dead,
                    last_heard: None,
                };
                usize::from(media)
            ],
        }
    }
}

/// Node and link status of every node, from heartbeats and timeouts.
#[derive(Debug)]
pub struct FailureDetector {
    local: usize,
    /// The node table; small (at most `max_nodes`, 100), so it is searched
    /// linearly.
    nodes: Vec<NodeEntry>,
    media: u16,
    warntime: Duration,
    deadtime: Duration,
    initdead: Duration,
    autojoin: bool,
    max_nodes: usize,
    started: Instant,
    /// `now >= started + initdead` has been seen (autojoin waits for it).
    init_passed: bool,
    comm_up: bool,
    events: VecDeque<Event>,
}

impl FailureDetector {
    /// A detector at start: every configured node `init`, the local node
    /// `up` (reported as the first event), every link dead.
    pub fn new(config: &Config, now: Instant) -> Result<FailureDetector, ConfigError> {
        config.validate()?;
        let mut d = FailureDetector {
            local: 0,
            nodes: Vec::new(),
            media: config.media,
            warntime: config.warntime,
            deadtime: config.deadtime,
            initdead: config.initdead,
            autojoin: config.autojoin,
            max_nodes: config.max_nodes,
            started: now,
            init_passed: false,
            comm_up: false,
            events: VecDeque::new(),
        };
        for name in config.nodes.iter().chain([&config.local]) {
            if d.index(name).is_none() {
                d.insert(name.clone(), now);
            }
        }
        d.local = d.index(&config.local).unwrap_or_default();
        let local = &mut d.nodes[d.local];
        local.status = NodeStatus::Up;
        local.heard_any = true;
        local.generation = Some(config.generation);
        d.events.push_back(Event::NodeStatusChanged {
            node: config.local.clone(),
            old: NodeStatus::Init,
            new: NodeStatus::Up,
        });
        // A cluster of one is complete at once.
        d.check_comm_up(now);
        Ok(d)
    }

    fn insert(&mut self, name: NodeName, now: Instant) {
        self.nodes
            .push(NodeEntry::new(name, now, self.deadtime, self.media));
    }

    fn index(&self, node: &NodeName) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == *node)
    }

    /// True when `node` is in the node table, adding it (status `init`) when
    /// autojoin is on and the table has room.
    #[must_use]
    pub fn admit(&mut self, now: Instant, node: &NodeName) -> bool {
        if self.index(node).is_some() {
            return true;
        }
        if !self.autojoin || self.nodes.len() >= self.max_nodes {
            return false;
        }
        self.insert(node.clone(), now);
        true
    }

    fn lookup(&mut self, now: Instant, node: &NodeName) -> Option<usize> {
        if !self.admit(now, node) {
            self.events
                .push_back(Event::UnknownNode { node: node.clone() });
            return None;
        }
        self.index(node)
    }

    /// A packet from `from` on `medium`. `fresh` is true for a packet that
    /// sequence tracking accepted as new (or gap-filling): it proves the node
    /// alive. Duplicates and unsequenced control packets (`fresh = false`)
    /// only keep the link up, as in Heartbeat.
    pub fn packet_received(
        &mut self,
        now: Instant,
        from: &NodeName,
        medium: MediumId,
        fresh: bool,
    ) {
        let Some(i) = self.lookup(now, from) else {
            return;
        };
        self.touch(now, i, medium, fresh);
        self.check_comm_up(now);
    }

    fn touch(&mut self, now: Instant, i: usize, medium: MediumId, fresh: bool) {
        let node = &mut self.nodes[i];
        if let Some(link) = node.links.get_mut(usize::from(medium.0)) {
            link.last_heard = Some(now);
            if link.status == LinkStatus::Dead {
                link.status = LinkStatus::Up;
                self.events.push_back(Event::LinkStatusChanged {
                    node: node.name.clone(),
                    medium,
                    old: LinkStatus::Dead,
                    new: LinkStatus::Up,
                });
            }
        }
        if fresh && i != self.local {
            node.last_heard = now;
            node.heard_any = true;
        }
    }

    /// A status heartbeat that sequence tracking accepted. Refreshes the
    /// link and the node; applies `dt`; reports a late heartbeat and a
    /// status change unless the heartbeat is older than one already applied
    /// (a retransmission). A lower generation than the known one is ignored.
    pub fn heartbeat_received(&mut self, now: Instant, hb: &Heartbeat) {
        let Some(i) = self.lookup(now, &hb.from) else {
            return;
        };
        if i == self.local {
            self.touch(now, i, hb.medium, false);
            return;
        }
        let node = &self.nodes[i];
        match node.generation {
            Some(g) if hb.generation < g => return,
            Some(g) if hb.generation > g => {
                self.events.push_back(Event::NodeRestarted {
                    node: hb.from.clone(),
                    old_generation: g,
                    new_generation: hb.generation,
                });
                self.restart(i, hb.generation);
            }
            Some(_) => {}
            None => self.nodes[i].generation = Some(hb.generation),
        }
        let node = &self.nodes[i];
        let stale = hb.seq.is_some_and(|s| s <= node.status_seq);
        if !stale
            && node.status == NodeStatus::Dead
            && hb.status != NodeStatus::Dead
            && node.may_return
        {
            self.events.push_back(Event::NodeReturned {
                node: hb.from.clone(),
            });
        }
        self.touch(now, i, hb.medium, true);
        if !stale {
            self.apply_status(now, i, hb);
        }
        self.check_comm_up(now);
    }

    fn apply_status(&mut self, now: Instant, i: usize, hb: &Heartbeat) {
        let deadtime = self.deadtime;
        let warntime = self.warntime;
        let node = &mut self.nodes[i];
        if let Some(prev) = node.last_status_at {
            let interval = now.saturating_duration_since(prev);
            if interval > warntime {
                self.events.push_back(Event::LateHeartbeat {
                    node: node.name.clone(),
                    interval,
                    beyond_deadtime: interval > deadtime,
                });
            }
        }
        if let Some(ms) = hb.deadtime_ms {
            node.deadtime = Duration::from_millis(ms).clamp(Duration::from_millis(1), MAX_DURATION);
        }
        node.last_status_at = Some(now);
        if let Some(s) = hb.seq {
            node.status_seq = s;
        }
        if hb.status == NodeStatus::Dead {
            if node.status != NodeStatus::Dead {
                self.mark_dead(i);
            }
        } else if node.status != hb.status {
            let old = node.status;
            node.status = hb.status;
            node.may_return = false;
            self.events.push_back(Event::NodeStatusChanged {
                node: node.name.clone(),
                old,
                new: hb.status,
            });
        }
    }

    /// The node restarted with `generation` (sequence tracking saw it first,
    /// and reports it): forget its previous heartbeat so its first one is
    /// neither late nor stale, and do not call its return a partition heal.
    pub fn node_restarted(&mut self, node: &NodeName, generation: u64) {
        if let Some(i) = self.index(node) {
            self.restart(i, generation);
        }
    }

    fn restart(&mut self, i: usize, generation: u64) {
        if i == self.local {
            return;
        }
        let n = &mut self.nodes[i];
        if n.generation.is_some_and(|g| generation <= g) {
            return;
        }
        n.generation = Some(generation);
        n.status_seq = 0;
        n.last_status_at = None;
        n.may_return = false;
    }

    fn mark_dead(&mut self, i: usize) {
        debug_assert_ne!(i, self.local, "the local node is never declared dead");
        let node = &mut self.nodes[i];
        let old = node.status;
        node.status = NodeStatus::Dead;
        node.heard_any = false;
        node.may_return = node.generation.is_some();
        self.events.push_back(Event::NodeStatusChanged {
            node: node.name.clone(),
            old,
            new: NodeStatus::Dead,
        });
    }

    fn effective_deadtime(&self, i: usize) -> Duration {
        if self.comm_up {
            self.nodes[i].deadtime
        } else {
            self.initdead
        }
    }

    /// Applies every timeout due at `now`: nodes first, then links (as
    /// heartbeat.c does), then comm up, repeated when comm up shortened the
    /// deadtimes. Afterwards [`poll_timeout`](Self::poll_timeout) is later
    /// than `now`.
    pub fn tick(&mut self, now: Instant) {
        if now >= self.started + self.initdead {
            self.init_passed = true;
        }
        loop {
            for i in 0..self.nodes.len() {
                if i == self.local || self.nodes[i].status == NodeStatus::Dead {
                    continue;
                }
                if now >= self.nodes[i].last_heard + self.effective_deadtime(i) {
                    self.mark_dead(i);
                }
            }
            for i in 0..self.nodes.len() {
                if i == self.local {
                    continue;
                }
                let deadtime = self.effective_deadtime(i);
                let node = &mut self.nodes[i];
                for (m, link) in node.links.iter_mut().enumerate() {
                    if link.status == LinkStatus::Up
                        && link.last_heard.is_some_and(|t| now >= t + deadtime)
                    {
                        link.status = LinkStatus::Dead;
                        self.events.push_back(Event::LinkStatusChanged {
                            node: node.name.clone(),
                            medium: MediumId(m as u16),
                            old: LinkStatus::Up,
                            new: LinkStatus::Dead,
                        });
                    }
                }
            }
            if !self.check_comm_up(now) {
                break;
            }
        }
        debug_assert!(self.poll_timeout().is_none_or(|t| t > now));
    }

    /// Comm up: every node heard from or dead (and, with autojoin, initdead
    /// over). Returns true when it just happened.
    fn check_comm_up(&mut self, now: Instant) -> bool {
        if self.comm_up {
            return false;
        }
        if self.autojoin && !(self.init_passed || now >= self.started + self.initdead) {
            return false;
        }
        if !self
            .nodes
            .iter()
            .all(|n| n.heard_any || n.status == NodeStatus::Dead)
        {
            return false;
        }
        self.comm_up = true;
        let local = &mut self.nodes[self.local];
        local.status = NodeStatus::Active;
        self.events.push_back(Event::NodeStatusChanged {
            node: local.name.clone(),
            old: NodeStatus::Up,
            new: NodeStatus::Active,
        });
        true
    }

    /// The earliest instant at which [`tick`](Self::tick) can change
    /// something; `None` when nothing is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Plain loops: this runs after every input, for every node and link.
        let mut next: Option<Instant> = None;
        if !self.comm_up && self.autojoin && !self.init_passed {
            next = Some(self.started + self.initdead);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if i == self.local {
                continue;
            }
            let deadtime = self.effective_deadtime(i);
            let mut earliest = (node.status != NodeStatus::Dead).then_some(node.last_heard);
            for link in &node.links {
                if link.status == LinkStatus::Up {
                    if let Some(t) = link.last_heard {
                        if earliest.is_none_or(|e| t < e) {
                            earliest = Some(t);
                        }
                    }
                }
            }
            if let Some(t) = earliest {
                let t = t + deadtime;
                if next.is_none_or(|n| t < n) {
                    next = Some(t);
                }
            }
        }
        next
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A node's status; `None` for a node not in the table.
    pub fn status(&self, node: &NodeName) -> Option<NodeStatus> {
        self.index(node).map(|i| self.nodes[i].status)
    }

    /// A link's status; `None` for an unknown node or medium.
    pub fn link_status(&self, node: &NodeName, medium: MediumId) -> Option<LinkStatus> {
        let i = self.index(node)?;
        self.nodes[i]
            .links
            .get(usize::from(medium.0))
            .map(|l| l.status)
    }

    /// The deadtime that applies to `node` now (initdead before comm up).
    pub fn deadtime_of(&self, node: &NodeName) -> Option<Duration> {
        self.index(node).map(|i| self.effective_deadtime(i))
    }

    /// Every node in the table, in configuration then join order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeName, NodeStatus)> {
        self.nodes.iter().map(|n| (&n.name, n.status))
    }

    /// The local node.
    pub fn local(&self) -> &NodeName {
        &self.nodes[self.local].name
    }

    /// The local status: `up`, then `active` from comm up on.
    pub fn local_status(&self) -> NodeStatus {
        self.nodes[self.local].status
    }

    /// Every node has been heard from or declared dead.
    pub fn is_comm_up(&self) -> bool {
        self.comm_up
    }

    /// Checks the detector's internal consistency (for tests and the
    /// simulator); the error names the broken rule.
    pub fn check_invariants(&self) -> Result<(), String> {
        let local = &self.nodes[self.local];
        let expected = if self.comm_up {
            NodeStatus::Active
        } else {
            NodeStatus::Up
        };
        if local.status != expected {
            return Err(format!(
                "local status {} with comm_up {}",
                local.status, self.comm_up
            ));
        }
        if self.nodes.len() > self.max_nodes {
            return Err("node table size".into());
        }
        for n in &self.nodes {
            if n.links.len() != usize::from(self.media) {
                return Err(format!("node {} has {} links", n.name, n.links.len()));
            }
            if n.links
                .iter()
                .any(|l| l.status == LinkStatus::Up && l.last_heard.is_none())
            {
                return Err(format!("node {}: a link up that was never heard", n.name));
            }
        }
        Ok(())
    }
}

//! Consensus membership (ccm) as a pure core: heartbeat tells each node whom
//! it hears; [`Ccm`] turns that into views that every member agrees on, in
//! which every member hears every other member, each with an instance
//! number and the quorum of its members.
//!
//! # The protocol
//!
//! **Knowledge.** Every node keeps a *row* per node: whom that node hears
//! (heartbeat says it is active *and* its ccm spoke to us within
//! `silence_timeout`), its installed instance and the highest instance it
//! may have promised, versioned by (incarnation, version). A node announces
//! its own row when it changes and every `announce_interval`; every message
//! except `Install` carries all rows the sender knows, newest version wins,
//! so knowledge also travels around a one-way link. Two nodes are *mutual*
//! when each one's row says it hears the other.
//!
//! **Target partition.** From the rows every node computes the same greedy
//! partition: take the smallest unassigned name, add in name order every
//! unassigned node mutual with all of the group so far, repeat. Groups are
//! cliques of the mutual relation; a node's *leader* is the smallest name
//! in its group. With the same rows, every node computes the same groups;
//! stale rows of dead or unreachable nodes cannot pull a reachable node in,
//! because that node's own (fresh) row does not list them.
//!
//! **Holding off.** While a node we are mutual with sits in a group with
//! a node we do not hear (that node died and the others have not noticed
//! yet, or a link is one-way), a leader waits up to `settle` before making
//! a smaller view: a failure detected a few milliseconds apart on each node
//! then gives one view change, not a burst of singleton views.
//!
//! **Rounds (safety).** A leader whose view differs from its group (or
//! whose members have not all installed it within `settle`) picks an
//! instance above everything it knows (its own and every row's `high`) and
//! proposes (instance, group). A node accepts at most one proposal per
//! instance, only above its `high`, and only from the leader its own
//! knowledge (merged with the proposal's rows) names; else it refuses.
//! When every node of the group accepted, and they are still pairwise
//! mutual, the leader installs the view and sends `Install`; a node installs
//! only the proposal it accepted, only above its installed instance. Since
//! a node accepts a given instance from one leader only, and that leader
//! decides once, **no node is in two views with the same instance**, and
//! all members of a view hold the same list. Installed instances only grow
//! per node, also across restarts: the shell persists an instance *floor*
//! (a block of `reserve` numbers at a time, [`Output::Persist`]) before any
//! promise above the last floor goes out, and a restarted node starts above
//! it.
//!
//! **Convergence.** Once the network is stable, rows converge (directly,
//! or relayed within `announce_interval`), every node computes the same
//! partition, every leader's round succeeds, and every group installs one
//! view. The property tests state and check the bound.
//!
//! Call order: [`Ccm::new`], then any of [`Ccm::peer_status`],
//! [`Ccm::handle_message`], [`Ccm::remove_node`], and
//! [`Ccm::handle_timeout`] when `now` reaches [`Ccm::poll_timeout`]; after
//! each call drain [`Ccm::poll_output`] until `None`, in order (a
//! `Persist` comes before the messages that depend on it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::quorum::{QuorumPolicy, QuorumState};
use crate::types::NodeName;

/// Most rows and most names per list a message may carry.
pub const MAX_WIRE_NODES: usize = 256;

/// Settings of one node's ccm.
#[derive(Debug, Clone)]
pub struct CcmConfig {
    /// This node.
    pub local: NodeName,
    /// Raised at every start of ccm on this node (persisted by the shell).
    pub incarnation: u64,
    /// The persisted instance floor: no instance at or below it was ever
    /// installed or promised here, by any earlier incarnation.
    pub instance_floor: u64,
    /// Votes and configured nodes.
    pub quorum: QuorumPolicy,
    /// How often a node announces its row even when nothing changed.
    pub announce_interval: Duration,
    /// A peer's ccm not heard from for this long is not counted as heard.
    pub silence_timeout: Duration,
    /// How long a leader waits for the answers to a proposal.
    pub round_timeout: Duration,
    /// How long after installing a leader waits for every member to
    /// announce the new instance before it runs the round again.
    pub settle: Duration,
    /// Instance numbers reserved per persisted floor.
    pub reserve: u64,
}

impl CcmConfig {
    /// Defaults for a node: announce every second, silence after 4 s,
    /// rounds of 100 ms, settle 300 ms, reserve 64.
    pub fn new(
        local: NodeName,
        incarnation: u64,
        instance_floor: u64,
        nodes: Vec<NodeName>,
    ) -> Self {
        CcmConfig {
            local,
            incarnation,
            instance_floor,
            quorum: QuorumPolicy::new(nodes),
            announce_interval: Duration::from_secs(1),
            silence_timeout: Duration::from_secs(4),
            round_timeout: Duration::from_millis(100),
            settle: Duration::from_millis(300),
            reserve: 64,
        }
    }
}

/// A member of a view: the node and the incarnation of its ccm.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// The node.
    pub name: NodeName,
    /// Its ccm incarnation when the view was made.
    pub incarnation: u64,
}

/// A membership view: every member holds the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Cluster-wide increasing instance number.
    pub instance: u64,
    /// The node that made it (the smallest member name).
    pub leader: NodeName,
    /// Members, sorted by name.
    pub members: Vec<Member>,
    /// Quorum of the members, as the leader computed it.
    pub quorum: QuorumState,
}

impl View {
    /// Whether `node` is a member.
    pub fn contains(&self, node: &NodeName) -> bool {
        self.members.iter().any(|m| m.name == *node)
    }

    /// The member names, sorted.
    pub fn names(&self) -> Vec<NodeName> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }
}

/// What a node knows of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The node's ccm incarnation.
    pub incarnation: u64,
    /// Raised by the node at every change of the row.
    pub version: u64,
    /// The instance the node has installed (0: none).
    pub instance: u64,
    /// The highest instance the node may have promised or installed.
    pub high: u64,
    /// Whom the node hears, itself included.
    pub hears: BTreeSet<NodeName>,
}

impl Row {
    fn newer_than(&self, other: &Row) -> bool {
        (self.incarnation, self.version) > (other.incarnation, other.version)
    }
}

/// A ccm message between nodes. The sender is the transport's `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CcmMsg {
    /// The sender's knowledge: its own row and every row it knows.
    State {
        /// Sender incarnation.
        inc: u64,
        /// Rows by node.
        rows: Vec<(NodeName, Row)>,
    },
    /// A leader proposes a view.
    Propose {
        /// Sender incarnation.
        inc: u64,
        /// The proposed instance.
        instance: u64,
        /// The proposed members.
        members: Vec<NodeName>,
        /// The leader's knowledge.
        rows: Vec<(NodeName, Row)>,
    },
    /// A node accepts a proposal.
    Accept {
        /// Sender incarnation.
        inc: u64,
        /// The accepted instance.
        instance: u64,
        /// The acceptor's knowledge.
        rows: Vec<(NodeName, Row)>,
    },
    /// A node refuses a proposal.
    Nack {
        /// Sender incarnation.
        inc: u64,
        /// The refused instance.
        instance: u64,
        /// The refuser's knowledge (its `high` included).
        rows: Vec<(NodeName, Row)>,
    },
    /// A leader installs the view its proposal's acceptors agreed to.
    Install {
        /// Sender incarnation.
        inc: u64,
        /// The instance.
        instance: u64,
        /// The members.
        members: Vec<Member>,
        /// Their quorum.
        quorum: QuorumState,
    },
    /// Forget a node that is not a member (`crm_node -R`).
    Remove {
        /// Sender incarnation.
        inc: u64,
        /// The node to forget.
        node: NodeName,
    },
}

impl CcmMsg {
    /// The sender's incarnation.
    pub fn incarnation(&self) -> u64 {
        match self {
            CcmMsg::State { inc, .. }
            | CcmMsg::Propose { inc, .. }
            | CcmMsg::Accept { inc, .. }
            | CcmMsg::Nack { inc, .. }
            | CcmMsg::Install { inc, .. }
            | CcmMsg::Remove { inc, .. } => *inc,
        }
    }

    /// Short name of the kind, for statistics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CcmMsg::State { .. } => "state",
            CcmMsg::Propose { .. } => "propose",
            CcmMsg::Accept { .. } => "accept",
            CcmMsg::Nack { .. } => "nack",
            CcmMsg::Install { .. } => "install",
            CcmMsg::Remove { .. } => "remove",
        }
    }
}

/// What the core asks its shell to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write the instance floor to stable storage before doing anything
    /// that follows it.
    Persist {
        /// The new floor.
        instance_floor: u64,
    },
    /// Send a message to one node, or to every node (`None`).
    Send {
        /// The addressee.
        to: Option<NodeName>,
        /// The message.
        msg: CcmMsg,
    },
    /// A new view was installed here.
    ViewChanged(View),
}

/// Counters for logs and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CcmStats {
    /// Messages sent (a broadcast counts once).
    pub sent: u64,
    /// Of those, periodic announcements (nothing had changed).
    pub periodic: u64,
    /// Rounds started as leader.
    pub rounds: u64,
    /// Rounds that ended without a view.
    pub failed_rounds: u64,
    /// Views installed.
    pub views: u64,
    /// Messages ignored: stale incarnation, unknown sender, not for us.
    pub ignored: u64,
}

/// A round this node leads.
#[derive(Debug)]
struct Round {
    instance: u64,
    group: BTreeSet<NodeName>,
    /// Who accepted, with the incarnation that did.
    accepted: BTreeMap<NodeName, u64>,
    refused: BTreeSet<NodeName>,
    deadline: Instant,
}

/// One node's consensus membership.
#[derive(Debug)]
pub struct Ccm {
    cfg: CcmConfig,
    /// Nodes heartbeat reports active.
    hb_alive: BTreeSet<NodeName>,
    /// When each node's ccm (current incarnation) last spoke to us.
    last_direct: BTreeMap<NodeName, Instant>,
    rows: BTreeMap<NodeName, Row>,
    /// (instance, leader) promised last.
    promised: Option<(u64, NodeName)>,
    /// Highest instance ever promised or installed here (or the floor).
    high: u64,
    persisted: u64,
    view: Option<View>,
    installed_at: Option<Instant>,
    /// Whether `settle` has passed since the last install.
    settled: bool,
    /// While the partition is contested: until when to hold off, and
    /// whether that time has passed.
    flux: Option<(Instant, bool)>,
    round: Option<Round>,
    retry_at: Option<Instant>,
    next_announce: Instant,
    removed: Vec<NodeName>,
    outputs: VecDeque<Output>,
    stats: CcmStats,
}

/// Why a message or configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcmError(pub String);

impl fmt::Display for CcmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CcmError {}

impl Ccm {
    /// Starts a node's ccm at `now`: it announces itself at once and
    /// installs a view of itself alone until it hears others.
    pub fn new(cfg: CcmConfig, now: Instant) -> Result<Ccm, CcmError> {
        if cfg.reserve == 0 {
            return Err(CcmError("reserve must be at least 1".into()));
        }
        for (what, d) in [
            ("announce_interval", cfg.announce_interval),
            ("round_timeout", cfg.round_timeout),
            ("settle", cfg.settle),
            ("silence_timeout", cfg.silence_timeout),
        ] {
            if d.is_zero() {
                return Err(CcmError(format!("{what} must not be zero")));
            }
        }
        let me = cfg.local.clone();
        let own = Row {
            incarnation: cfg.incarnation,
            version: 1,
            instance: 0,
            high: cfg.instance_floor,
            hears: BTreeSet::from([me.clone()]),
        };
        let mut ccm = Ccm {
            high: cfg.instance_floor,
            persisted: cfg.instance_floor,
            hb_alive: BTreeSet::new(),
            last_direct: BTreeMap::new(),
            rows: BTreeMap::from([(me, own)]),
            promised: None,
            view: None,
            installed_at: None,
            settled: true,
            flux: None,
            round: None,
            retry_at: None,
            next_announce: now,
            removed: Vec::new(),
            outputs: VecDeque::new(),
            stats: CcmStats::default(),
            cfg,
        };
        ccm.evaluate(now);
        Ok(ccm)
    }

    /// This node's name.
    pub fn local(&self) -> &NodeName {
        &self.cfg.local
    }

    /// The installed view, if any.
    pub fn view(&self) -> Option<&View> {
        self.view.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> &CcmStats {
        &self.stats
    }

    /// The settings.
    pub fn config(&self) -> &CcmConfig {
        &self.cfg
    }

    /// Every node known: configured, or heard of.
    pub fn known_nodes(&self) -> Vec<NodeName> {
        let mut all: BTreeSet<NodeName> = self.cfg.quorum.nodes.iter().cloned().collect();
        all.extend(self.rows.keys().cloned());
        all.into_iter()
            .filter(|n| !self.removed.contains(n))
            .collect()
    }

    /// Whether heartbeat reports `node` active.
    pub fn hb_alive(&self, node: &NodeName) -> bool {
        self.hb_alive.contains(node)
    }

    /// Heartbeat reports `node` active (`true`) or not (`false`).
    pub fn peer_status(&mut self, now: Instant, node: &NodeName, alive: bool) {
        if *node == self.cfg.local {
            return;
        }
        let changed = if alive {
            self.hb_alive.insert(node.clone())
        } else {
            self.hb_alive.remove(node)
        };
        if changed {
            self.evaluate(now);
        }
    }

    /// A ccm message from `from` (delivered by heartbeat).
    pub fn handle_message(&mut self, now: Instant, from: &NodeName, msg: CcmMsg) {
        if *from == self.cfg.local {
            return;
        }
        let inc = msg.incarnation();
        match self.rows.get(from) {
            Some(r) if r.incarnation > inc => {
                self.stats.ignored += 1;
                return;
            }
            Some(r) if r.incarnation < inc => {
                // A restart: what we knew of the old incarnation is void.
                self.rows.remove(from);
            }
            _ => {}
        }
        self.last_direct.insert(from.clone(), now);
        if self.removed.contains(from) {
            self.removed.retain(|n| n != from);
        }
        match msg {
            CcmMsg::State { rows, .. } => self.merge(from, inc, rows),
            CcmMsg::Propose {
                instance,
                members,
                rows,
                ..
            } => {
                self.merge(from, inc, rows);
                self.on_propose(from, instance, &members);
            }
            CcmMsg::Accept { instance, rows, .. } => {
                self.merge(from, inc, rows);
                if let Some(r) = self.round.as_mut() {
                    if r.instance == instance && r.group.contains(from) {
                        r.accepted.insert(from.clone(), inc);
                    }
                }
            }
            CcmMsg::Nack { instance, rows, .. } => {
                self.merge(from, inc, rows);
                if let Some(r) = self.round.as_mut() {
                    if r.instance == instance && r.group.contains(from) {
                        r.refused.insert(from.clone());
                    }
                }
            }
            CcmMsg::Install {
                instance,
                members,
                quorum,
                ..
            } => self.on_install(now, from, instance, members, quorum),
            CcmMsg::Remove { node, .. } => self.forget(&node),
        }
        self.evaluate(now);
    }

    /// `crm_node -R`: forgets `node` here and asks every node to. Refused
    /// for a member of the current view or a node heard now.
    pub fn remove_node(&mut self, now: Instant, node: &NodeName) -> Result<(), CcmError> {
        if *node == self.cfg.local
            || self.view.as_ref().is_some_and(|v| v.contains(node))
            || self.own_row().hears.contains(node)
        {
            return Err(CcmError(format!(
                "{node} is a member of the current partition"
            )));
        }
        if !self.known_nodes().contains(node) {
            return Err(CcmError(format!("{node} is not a known node")));
        }
        self.forget(node);
        self.send(
            None,
            CcmMsg::Remove {
                inc: self.cfg.incarnation,
                node: node.clone(),
            },
        );
        self.evaluate(now);
        Ok(())
    }

    /// Nodes forgotten with [`Ccm::remove_node`] (until heard again).
    pub fn removed(&self) -> &[NodeName] {
        &self.removed
    }

    fn forget(&mut self, node: &NodeName) {
        if *node == self.cfg.local || self.view.as_ref().is_some_and(|v| v.contains(node)) {
            return;
        }
        self.rows.remove(node);
        self.last_direct.remove(node);
        if !self.removed.contains(node) && self.removed.len() < MAX_WIRE_NODES {
            self.removed.push(node.clone());
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.evaluate(now);
    }

    /// The next instant [`Ccm::handle_timeout`] must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = Some(self.next_announce);
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t: Instant| t.min(x)));
            }
        };
        consider(self.round.as_ref().map(|r| r.deadline));
        consider(self.retry_at);
        consider(self.flux.filter(|f| !f.1).map(|f| f.0));
        consider(
            self.installed_at
                .filter(|_| !self.settled)
                .map(|at| at + self.cfg.settle),
        );
        // The earliest silence expiry of a node we count as heard.
        for n in &self.own_row().hears {
            if let Some(last) = self.last_direct.get(n) {
                consider(Some(*last + self.cfg.silence_timeout));
            }
        }
        t
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Internal consistency, for tests and debug builds.
    pub fn check_invariants(&self) -> Result<(), String> {
        if let Some(v) = &self.view {
            if !v.contains(&self.cfg.local) {
                return Err(format!("view {} without the local node", v.instance));
            }
            if v.instance > self.high {
                return Err(format!("view {} above high {}", v.instance, self.high));
            }
            if v.instance <= self.cfg.instance_floor {
                return Err(format!(
                    "view {} not above the starting floor {}",
                    v.instance, self.cfg.instance_floor
                ));
            }
            if v.members.windows(2).any(|w| w[0].name >= w[1].name) {
                return Err(format!("view {} members not sorted", v.instance));
            }
        }
        if self.high > self.persisted {
            return Err(format!(
                "high {} above the persisted floor {}",
                self.high, self.persisted
            ));
        }
        if !self.own_row().hears.contains(&self.cfg.local) {
            return Err("own row does not hear itself".into());
        }
        Ok(())
    }

    // ---- internals ----

    fn own_row(&self) -> &Row {
        // Inserted in `new`, never removed (`forget` and `merge` skip us).
        &self.rows[&self.cfg.local]
    }

    fn own_row_mut(&mut self) -> &mut Row {
        let me = self.cfg.local.clone();
        self.rows.entry(me).or_insert_with(|| Row {
            incarnation: 0,
            version: 0,
            instance: 0,
            high: 0,
            hears: BTreeSet::new(),
        })
    }

    /// Brings the own row up to date (hears, when given; instance; high);
    /// returns whether it changed (its version was raised).
    fn sync_own_row(&mut self, hears: Option<BTreeSet<NodeName>>) -> bool {
        let instance = self.view.as_ref().map_or(0, |v| v.instance);
        let high = self.high;
        let own = self.own_row_mut();
        let hears = hears.unwrap_or_else(|| own.hears.clone());
        if own.hears == hears && own.instance == instance && own.high == high {
            return false;
        }
        own.hears = hears;
        own.instance = instance;
        own.high = high;
        own.version += 1;
        true
    }

    /// Merges `rows` (newest version wins). New knowledge ends the wait
    /// after a failed round: the next one may now succeed.
    fn merge(&mut self, from: &NodeName, inc: u64, rows: Vec<(NodeName, Row)>) {
        for (origin, row) in rows {
            if origin == self.cfg.local || self.removed.contains(&origin) && origin != *from {
                continue;
            }
            if origin == *from && row.incarnation != inc {
                continue;
            }
            let newer = self.rows.get(&origin).is_none_or(|old| row.newer_than(old));
            if newer {
                let same = self
                    .rows
                    .get(&origin)
                    .is_some_and(|old| old.hears == row.hears && old.instance == row.instance);
                if !same {
                    self.retry_at = None;
                }
                self.rows.insert(origin, row);
            }
        }
    }

    fn all_rows(&self) -> Vec<(NodeName, Row)> {
        self.rows
            .iter()
            .take(MAX_WIRE_NODES)
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect()
    }

    fn send(&mut self, to: Option<NodeName>, msg: CcmMsg) {
        self.stats.sent += 1;
        self.outputs.push_back(Output::Send { to, msg });
    }

    fn announce(&mut self, now: Instant) {
        let msg = CcmMsg::State {
            inc: self.cfg.incarnation,
            rows: self.all_rows(),
        };
        self.send(None, msg);
        self.next_announce = now + self.cfg.announce_interval;
    }

    /// Raises `high` to `instance`, persisting a new floor first if needed.
    fn raise_high(&mut self, instance: u64) {
        if instance > self.persisted {
            self.persisted = instance.saturating_add(self.cfg.reserve);
            self.outputs.push_back(Output::Persist {
                instance_floor: self.persisted,
            });
        }
        self.high = self.high.max(instance);
    }

    fn mutual(&self, a: &NodeName, b: &NodeName) -> bool {
        a == b
            || self.rows.get(a).is_some_and(|r| r.hears.contains(b))
                && self.rows.get(b).is_some_and(|r| r.hears.contains(a))
    }

    /// The greedy partition's group of the local node.
    fn my_group(&self) -> BTreeSet<NodeName> {
        self.partition()
            .into_iter()
            .find(|g| g.contains(&self.cfg.local))
            .unwrap_or_else(|| BTreeSet::from([self.cfg.local.clone()]))
    }

    /// The greedy partition of every node with a row.
    fn partition(&self) -> Vec<BTreeSet<NodeName>> {
        let mut groups = Vec::new();
        let mut unassigned: Vec<&NodeName> = self.rows.keys().collect();
        while let Some(&first) = unassigned.first() {
            let mut group: Vec<&NodeName> = vec![first];
            for &x in &unassigned[1..] {
                if group.iter().all(|g| self.mutual(g, x)) {
                    group.push(x);
                }
            }
            unassigned.retain(|n| !group.contains(n));
            groups.push(group.into_iter().cloned().collect());
        }
        groups
    }

    /// Whether a node we are mutual with sits in a group with a node we do
    /// not hear: either that node is dead and the others have not noticed
    /// yet, or a link is one-way. Worth waiting `settle` for before
    /// splitting off.
    fn contested(&self, groups: &[BTreeSet<NodeName>]) -> bool {
        let me = &self.cfg.local;
        let hears = &self.own_row().hears;
        groups.iter().any(|g| {
            !g.contains(me)
                && g.iter().any(|x| !hears.contains(x))
                && g.iter().any(|x| self.mutual(me, x))
        })
    }

    /// Recomputes the own row and decides what to do next.
    fn evaluate(&mut self, now: Instant) {
        // Whom we hear: active in heartbeat and spoke recently.
        let silence = self.cfg.silence_timeout;
        let mut hears: BTreeSet<NodeName> = self
            .hb_alive
            .iter()
            .filter(|n| {
                self.last_direct
                    .get(*n)
                    .is_some_and(|t| now.saturating_duration_since(*t) < silence)
            })
            .cloned()
            .collect();
        hears.insert(self.cfg.local.clone());
        let changed = self.sync_own_row(Some(hears));
        if changed || now >= self.next_announce {
            if !changed {
                self.stats.periodic += 1;
            }
            self.announce(now);
        }

        if !self.settled
            && self
                .installed_at
                .is_some_and(|at| now >= at + self.cfg.settle)
        {
            self.settled = true;
        }
        // A round in progress: decide when every answer is in or at the
        // deadline.
        if let Some(r) = &self.round {
            let answered = r.accepted.len() + r.refused.len() >= r.group.len();
            if answered || now >= r.deadline {
                self.decide(now);
            } else if self.my_group() != r.group {
                // What we know changed under the round (a member died, say):
                // waiting for its answers is pointless; start over now.
                self.round = None;
                self.stats.failed_rounds += 1;
            }
        }
        if self.round.is_some() || self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        self.retry_at = None;
        let groups = self.partition();
        let group = groups
            .iter()
            .find(|g| g.contains(&self.cfg.local))
            .cloned()
            .unwrap_or_else(|| BTreeSet::from([self.cfg.local.clone()]));
        if group.first() != Some(&self.cfg.local) {
            self.flux = None;
            return;
        }
        if self.contested(&groups) {
            match self.flux {
                None => {
                    self.flux = Some((now + self.cfg.settle, false));
                    return;
                }
                Some((until, false)) if now < until => return,
                Some((until, _)) => self.flux = Some((until, true)),
            }
        } else {
            self.flux = None;
        }
        let need = match &self.view {
            None => true,
            Some(v) => {
                v.names().into_iter().collect::<BTreeSet<_>>() != group
                    || v.members.iter().any(|m| {
                        self.rows
                            .get(&m.name)
                            .is_none_or(|r| r.incarnation != m.incarnation)
                    })
                    || self.settled
                        && v.members.iter().any(|m| {
                            self.rows
                                .get(&m.name)
                                .is_none_or(|r| r.instance != v.instance)
                        })
            }
        };
        if need {
            self.start_round(now, group);
        }
    }

    fn start_round(&mut self, now: Instant, group: BTreeSet<NodeName>) {
        let top = self
            .rows
            .values()
            .map(|r| r.high.max(r.instance))
            .max()
            .unwrap_or(0);
        let instance = self.high.max(top).saturating_add(1);
        self.raise_high(instance);
        self.promised = Some((instance, self.cfg.local.clone()));
        self.stats.rounds += 1;
        let members: Vec<NodeName> = group.iter().cloned().collect();
        self.round = Some(Round {
            instance,
            accepted: BTreeMap::from([(self.cfg.local.clone(), self.cfg.incarnation)]),
            refused: BTreeSet::new(),
            group,
            deadline: now + self.cfg.round_timeout,
        });
        // Our row now has the new high: it travels with the proposal.
        self.sync_own_row(None);
        if members.len() > 1 {
            let msg = CcmMsg::Propose {
                inc: self.cfg.incarnation,
                instance,
                members,
                rows: self.all_rows(),
            };
            self.send(None, msg);
        } else {
            self.decide(now);
        }
    }

    fn decide(&mut self, now: Instant) {
        let Some(round) = self.round.take() else {
            return;
        };
        // Every node of the group accepted, in the incarnation we still
        // know, and they are still pairwise mutual by the freshest rows.
        let all = round.group.iter().all(|n| {
            round
                .accepted
                .get(n)
                .is_some_and(|inc| self.rows.get(n).is_some_and(|r| r.incarnation == *inc))
        });
        let group: Vec<&NodeName> = round.group.iter().collect();
        let clique = group
            .iter()
            .all(|a| group.iter().all(|b| self.mutual(a, b)));
        if !all || !clique {
            self.stats.failed_rounds += 1;
            self.retry_at = Some(now + self.cfg.round_timeout / 2);
            return;
        }
        let members: Vec<crate::ccm::Member> = round
            .group
            .iter()
            .map(|n| Member {
                name: n.clone(),
                incarnation: round.accepted.get(n).copied().unwrap_or(0),
            })
            .collect();
        let quorum = self.cfg.quorum.evaluate(round.group.iter(), &self.removed);
        if members.len() > 1 {
            let msg = CcmMsg::Install {
                inc: self.cfg.incarnation,
                instance: round.instance,
                members: members.clone(),
                quorum,
            };
            self.send(None, msg);
        }
        self.install(now, round.instance, self.cfg.local.clone(), members, quorum);
    }

    fn on_propose(&mut self, from: &NodeName, instance: u64, members: &[NodeName]) {
        if !members.contains(&self.cfg.local) {
            return;
        }
        let group = self.my_group();
        let ok =
            instance > self.high && group.first() == Some(from) && members.iter().eq(group.iter());
        let inc = self.cfg.incarnation;
        if ok {
            // Accepting abandons any round we led.
            if self.round.take().is_some() {
                self.stats.failed_rounds += 1;
            }
            self.raise_high(instance);
            self.promised = Some((instance, from.clone()));
            self.sync_own_row(None);
            let msg = CcmMsg::Accept {
                inc,
                instance,
                rows: vec![(self.cfg.local.clone(), self.own_row().clone())],
            };
            self.send(Some(from.clone()), msg);
        } else {
            let msg = CcmMsg::Nack {
                inc,
                instance,
                rows: self.all_rows(),
            };
            self.send(Some(from.clone()), msg);
        }
    }

    fn on_install(
        &mut self,
        now: Instant,
        from: &NodeName,
        instance: u64,
        members: Vec<Member>,
        quorum: QuorumState,
    ) {
        let promised = self
            .promised
            .as_ref()
            .is_some_and(|(i, l)| *i == instance && l == from);
        let above = self.view.as_ref().is_none_or(|v| v.instance < instance);
        let me = self.cfg.local.clone();
        let mine = members
            .iter()
            .any(|m| m.name == me && m.incarnation == self.cfg.incarnation);
        let sorted = members.windows(2).all(|w| w[0].name < w[1].name);
        if promised && above && mine && sorted && members.iter().any(|m| m.name == *from) {
            self.install(now, instance, from.clone(), members, quorum);
        } else {
            self.stats.ignored += 1;
        }
    }

    fn install(
        &mut self,
        now: Instant,
        instance: u64,
        leader: NodeName,
        members: Vec<Member>,
        quorum: QuorumState,
    ) {
        debug_assert!(instance <= self.high);
        let view = View {
            instance,
            leader,
            members,
            quorum,
        };
        self.view = Some(view.clone());
        self.installed_at = Some(now);
        self.settled = false;
        self.stats.views += 1;
        self.outputs.push_back(Output::ViewChanged(view));
        // The own row changes (instance): announce it at once so the
        // leader sees every member installed.
        self.sync_own_row(None);
        self.announce(now);
    }
}

// ---- wire text ----
//
// The shell carries a `CcmMsg` as name=value string fields of a cluster
// message. Names are node names (no whitespace; we also refuse `,:;/|`
// in them on the wire), numbers are decimal.

fn bad(what: &str) -> CcmError {
    CcmError(format!("bad ccm message: {what}"))
}

fn num(s: &str, what: &str) -> Result<u64, CcmError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(what));
    }
    s.parse().map_err(|_| bad(what))
}

fn name(s: &str) -> Result<NodeName, CcmError> {
    if s.contains([',', ':', ';', '/', '|']) {
        return Err(bad("node name with a separator"));
    }
    NodeName::new(s).map_err(|e| bad(&e.to_string()))
}

fn names_text(names: impl IntoIterator<Item = String>) -> String {
    names.into_iter().collect::<Vec<_>>().join(",")
}

fn parse_list<T>(s: &str, f: impl Fn(&str) -> Result<T, CcmError>) -> Result<Vec<T>, CcmError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() > MAX_WIRE_NODES {
        return Err(bad("list too long"));
    }
    parts.into_iter().map(f).collect()
}

fn rows_text(rows: &[(NodeName, Row)]) -> String {
    rows.iter()
        .map(|(n, r)| {
            format!(
                "{n}:{}:{}:{}:{}:{}",
                r.incarnation,
                r.version,
                r.instance,
                r.high,
                names_text(r.hears.iter().map(|h| h.to_string()))
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn parse_rows(s: &str) -> Result<Vec<(NodeName, Row)>, CcmError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = s.split(';').collect();
    if parts.len() > MAX_WIRE_NODES {
        return Err(bad("too many rows"));
    }
    parts
        .into_iter()
        .map(|p| {
            let f: Vec<&str> = p.split(':').collect();
            let [n, inc, ver, inst, high, hears] = f[..] else {
                return Err(bad("row"));
            };
            let hears = parse_list(hears, name)?;
            Ok((
                name(n)?,
                Row {
                    incarnation: num(inc, "row incarnation")?,
                    version: num(ver, "row version")?,
                    instance: num(inst, "row instance")?,
                    high: num(high, "row high")?,
                    hears: hears.into_iter().collect(),
                },
            ))
        })
        .collect()
}

impl CcmMsg {
    /// The message as name=value fields (the shell adds its own type).
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("ccm_type", self.kind().to_owned()),
            ("inc", self.incarnation().to_string()),
        ];
        match self {
            CcmMsg::State { rows, .. } => f.push(("rows", rows_text(rows))),
            CcmMsg::Propose {
                instance,
                members,
                rows,
                ..
            } => {
                f.push(("instance", instance.to_string()));
                f.push(("members", names_text(members.iter().map(|m| m.to_string()))));
                f.push(("rows", rows_text(rows)));
            }
            CcmMsg::Accept { instance, rows, .. } | CcmMsg::Nack { instance, rows, .. } => {
                f.push(("instance", instance.to_string()));
                f.push(("rows", rows_text(rows)));
            }
            CcmMsg::Install {
                instance,
                members,
                quorum,
                ..
            } => {
                f.push(("instance", instance.to_string()));
                f.push((
                    "members",
                    names_text(
                        members
                            .iter()
                            .map(|m| format!("{}/{}", m.name, m.incarnation)),
                    ),
                ));
                f.push((
                    "quorum",
                    format!(
                        "{}/{}/{}",
                        u8::from(quorum.quorate),
                        quorum.votes,
                        quorum.expected
                    ),
                ));
            }
            CcmMsg::Remove { node, .. } => f.push(("node", node.to_string())),
        }
        f
    }

    /// Reads a message back from its fields (`get` looks a field up).
    /// Never panics on what a peer sent.
    pub fn from_fields<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<CcmMsg, CcmError> {
        let field = |n: &str| get(n).ok_or_else(|| bad(&format!("no {n} field")));
        let inc = num(field("inc")?, "inc")?;
        let kind = field("ccm_type")?;
        Ok(match kind {
            "state" => CcmMsg::State {
                inc,
                rows: parse_rows(field("rows")?)?,
            },
            "propose" => CcmMsg::Propose {
                inc,
                instance: num(field("instance")?, "instance")?,
                members: parse_list(field("members")?, name)?,
                rows: parse_rows(field("rows")?)?,
            },
            "accept" => CcmMsg::Accept {
                inc,
                instance: num(field("instance")?, "instance")?,
                rows: parse_rows(field("rows")?)?,
            },
            "nack" => CcmMsg::Nack {
                inc,
                instance: num(field("instance")?, "instance")?,
                rows: parse_rows(field("rows")?)?,
            },
            "install" => {
                let members = parse_list(field("members")?, |m| {
                    let (n, i) = m.split_once('/').ok_or_else(|| bad("member"))?;
                    Ok(Member {
                        name: name(n)?,
                        incarnation: num(i, "member incarnation")?,
                    })
                })?;
                let q: Vec<&str> = field("quorum")?.split('/').collect();
                let [quorate, votes, expected] = q[..] else {
                    return Err(bad("quorum"));
                };
                let quorate = match quorate {
                    "1" => true,
                    "0" => false,
                    _ => return Err(bad("quorum flag")),
                };
                let small =
                    |s: &str, what: &str| u32::try_from(num(s, what)?).map_err(|_| bad(what));
                CcmMsg::Install {
                    inc,
                    instance: num(field("instance")?, "instance")?,
                    members,
                    quorum: QuorumState {
                        quorate,
                        votes: small(votes, "votes")?,
                        expected: small(expected, "expected votes")?,
                    },
                }
            }
            "remove" => CcmMsg::Remove {
                inc,
                node: name(field("node")?)?,
            },
            _ => return Err(bad("unknown ccm_type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> NodeName {
        NodeName::new(s).expect("name")
    }

    fn node(me: &str, inc: u64, floor: u64, now: Instant) -> Ccm {
        let nodes = vec![name("a"), name("b"), name("c")];
        Ccm::new(CcmConfig::new(name(me), inc, floor, nodes), now).expect("config")
    }

    type Drained = (Vec<(Option<NodeName>, CcmMsg)>, Vec<View>, Vec<u64>);

    /// Drains `c`: its messages, views and persisted floors.
    fn drain(c: &mut Ccm) -> Drained {
        let (mut msgs, mut views, mut floors) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(o) = c.poll_output() {
            match o {
                Output::Send { to, msg } => msgs.push((to, msg)),
                Output::ViewChanged(v) => views.push(v),
                Output::Persist { instance_floor } => floors.push(instance_floor),
            }
        }
        (msgs, views, floors)
    }

    #[test]
    fn a_lone_node_installs_itself_above_its_floor_and_persists_first() {
        let now = Instant::now();
        let mut a = node("a", 1, 100, now);
        let (msgs, views, floors) = drain(&mut a);
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].instance, 101);
        assert_eq!(views[0].names(), [name("a")]);
        assert!(!views[0].quorum.quorate, "1 of 3 votes");
        assert_eq!(floors, [101 + 64]);
        assert!(msgs
            .iter()
            .all(|(to, m)| to.is_none() && m.kind() == "state"));
        a.check_invariants().expect("invariants");
    }

    #[test]
    fn two_nodes_that_hear_each_other_agree_through_propose_accept_install() {
        let now = Instant::now();
        let mut a = node("a", 1, 0, now);
        let mut b = node("b", 1, 0, now);
        let (na, nb) = (name("a"), name("b"));
        a.peer_status(now, &nb, true);
        b.peer_status(now, &na, true);
        // Deliver everything both ways until quiet.
        let mut views = Vec::new();
        for _ in 0..20 {
            let (ma, va, _) = drain(&mut a);
            let (mb, vb, _) = drain(&mut b);
            views.extend(va.into_iter().map(|v| ("a", v)));
            views.extend(vb.into_iter().map(|v| ("b", v)));
            if ma.is_empty() && mb.is_empty() {
                break;
            }
            for (to, m) in ma {
                if to.as_ref().is_none_or(|t| *t == nb) {
                    b.handle_message(now, &na, m);
                }
            }
            for (to, m) in mb {
                if to.as_ref().is_none_or(|t| *t == na) {
                    a.handle_message(now, &nb, m);
                }
            }
        }
        let (va, vb) = (a.view().expect("a view"), b.view().expect("b view"));
        assert_eq!(va, vb);
        assert_eq!(va.names(), [na, nb]);
        assert_eq!(va.leader, name("a"));
        assert!(views.iter().any(|(who, v)| *who == "b" && v == vb));
    }

    #[test]
    fn an_install_without_a_matching_promise_is_ignored() {
        let now = Instant::now();
        let mut b = node("b", 1, 0, now);
        drain(&mut b);
        let before = b.view().cloned();
        let q = QuorumState {
            quorate: true,
            votes: 2,
            expected: 3,
        };
        let members = vec![
            Member {
                name: name("a"),
                incarnation: 1,
            },
            Member {
                name: name("b"),
                incarnation: 1,
            },
        ];
        b.handle_message(
            now,
            &name("a"),
            CcmMsg::Install {
                inc: 1,
                instance: 50,
                members,
                quorum: q,
            },
        );
        assert_eq!(b.view().cloned(), before);
        assert_eq!(b.stats().ignored, 1);
    }

    #[test]
    fn messages_of_an_older_incarnation_are_ignored() {
        let now = Instant::now();
        let mut b = node("b", 1, 0, now);
        let na = name("a");
        let row = |inc| Row {
            incarnation: inc,
            version: 1,
            instance: 0,
            high: 0,
            hears: BTreeSet::from([name("a"), name("b")]),
        };
        let state = |inc| CcmMsg::State {
            inc,
            rows: vec![(name("a"), row(inc))],
        };
        b.handle_message(now, &na, state(5));
        b.handle_message(now, &na, state(4));
        assert_eq!(b.stats().ignored, 1);
        assert_eq!(b.rows[&na].incarnation, 5);
        // A newer incarnation replaces what was known.
        b.handle_message(now, &na, state(6));
        assert_eq!(b.rows[&na].incarnation, 6);
    }

    #[test]
    fn remove_refuses_members_and_unknown_nodes_and_forgets_lost_ones() {
        let now = Instant::now();
        let mut a = node("a", 1, 0, now);
        drain(&mut a);
        assert!(a.remove_node(now, &name("a")).is_err());
        assert!(a.remove_node(now, &name("zz")).is_err());
        a.remove_node(now, &name("c"))
            .expect("c is configured and lost");
        assert!(!a.known_nodes().contains(&name("c")));
        let (msgs, _, _) = drain(&mut a);
        assert!(msgs
            .iter()
            .any(|(_, m)| matches!(m, CcmMsg::Remove { node, .. } if *node == name("c"))));
        // Heard again, it is known again.
        a.handle_message(
            now,
            &name("c"),
            CcmMsg::State {
                inc: 1,
                rows: vec![],
            },
        );
        assert!(a.known_nodes().contains(&name("c")));
    }

    #[test]
    fn poll_timeout_is_always_after_handle_timeout() {
        let start = Instant::now();
        let mut a = node("a", 1, 0, start);
        let mut now = start;
        for _ in 0..50 {
            drain(&mut a);
            let t = a.poll_timeout().expect("announce timer");
            assert!(t > now);
            now = t;
            a.handle_timeout(now);
        }
    }
}

//! attrd's part of the cluster, pure: the attribute table (`Core`) plus
//! who the peers are, links, forwarded updates and the exchange of
//! `wire` messages. Inputs are heartbeat's node and link status, cluster
//! messages, client updates and `handle_timeout(now)`; outputs are
//! drained with `poll_output()` (messages to send, answers to forwarded
//! updates, a dead node's attributes to remove from the CIB). The
//! service only moves them between heartbeat, the cib and clients, so
//! the protocol is tested here with a simulated network.
//!
//! Rules: each node writes only its own values; an update for another
//! node goes to that node's attrd, which applies it, announces it and
//! only then answers (one sender's messages arrive in order, so the
//! origin holds the value when its client hears the answer). A dead
//! node's values are forgotten, and the lowest-named live attrd removes
//! its transient attributes from the CIB. A hello (an attrd started, or
//! heartbeat saw a node come back) is answered with our values and with
//! what we held for the sender's node, which it takes back (after an
//! attrd restart; a node that died has nothing left with its peers).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use attrdapi::{Change, Failure, Lifetime, Update};

use crate::core::{self, Core, Entry, Refusal};
use crate::wire::{self, Wire};

/// How long a client waits for another node's attrd to take an update.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// Most updates waiting for other nodes' attrd at once.
pub const MAX_FORWARDS: usize = 10_000;

// Pacemaker's exit codes in refusals.
const EX_ERROR: u8 = 1;
const EX_USAGE: u8 = 64;
const EX_DISCONNECT: u8 = 102;
const EX_NOSUCH: u8 = 105;
const EX_TIMEOUT: u8 = 124;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<C> {
    /// Send a cluster message to one node, or all (`None`).
    Send {
        /// The addressee.
        to: Option<String>,
        /// The message.
        wire: Wire,
    },
    /// Answer a client whose update went to another node.
    Answer {
        /// The client (the shell's handle).
        client: C,
        /// The outcome.
        result: Result<(), Failure>,
    },
    /// Remove a dead node's transient attributes from the CIB.
    ClearNode {
        /// Its name.
        node: String,
        /// Its id in the CIB.
        uuid: String,
    },
}

/// A node as heartbeat lists it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its name (lowercase).
    pub name: String,
    /// Its uuid, if known.
    pub uuid: Option<String>,
    /// Whether it is a ping node.
    pub ping: bool,
    /// Links to it: (interface, up).
    pub links: Vec<(String, bool)>,
}

struct Forward<C> {
    client: C,
    node: String,
    deadline: Instant,
}

/// One node's attrd in the cluster.
pub struct Cluster<C> {
    /// The attribute table.
    pub core: Core,
    local: String,
    uuid: String,
    /// Whether there is a cluster (false: standalone, nothing is sent).
    clustered: bool,
    peers: BTreeSet<String>,
    /// Dead nodes whose transient attributes are not known to be removed
    /// (the survivor that should has not, or died too).
    departed: BTreeSet<String>,
    uuids: BTreeMap<String, String>,
    ping_nodes: BTreeSet<String>,
    links: BTreeMap<(String, String), bool>,
    outbox: Vec<Entry>,
    forwards: BTreeMap<u64, Forward<C>>,
    next_forward: u64,
    out: VecDeque<Output<C>>,
}

/// The checks of an update that do not need the table (usage errors).
pub fn check_update(u: &Update) -> Result<(), String> {
    attrdapi::check_name(&u.name)?;
    if let Change::Set(v) = &u.change {
        attrdapi::check_value(v)?;
    }
    if u.delay_ms.is_some_and(|d| d > attrdapi::MAX_DELAY_MS) {
        return Err("the delay is longer than one day".into());
    }
    Ok(())
}

impl<C> Cluster<C> {
    /// attrd on node `local` with CIB id `uuid`; `clustered` false runs
    /// it alone.
    pub fn new(local: &str, uuid: &str, window: Duration, clustered: bool) -> Cluster<C> {
        Cluster {
            core: Core::new(local, window),
            local: local.to_string(),
            uuid: uuid.to_string(),
            clustered,
            peers: BTreeSet::new(),
            departed: BTreeSet::new(),
            uuids: BTreeMap::new(),
            ping_nodes: BTreeSet::new(),
            links: BTreeMap::new(),
            outbox: Vec::new(),
            forwards: BTreeMap::new(),
            next_forward: 0,
            out: VecDeque::new(),
        }
    }

    /// This node's name.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// This node's id in the CIB.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The nodes whose attrd this one exchanges values with, itself
    /// included, by name.
    pub fn members(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self.peers.clone();
        all.insert(self.local.clone());
        all.into_iter().collect()
    }

    /// Whether `node`'s attrd is a live peer.
    pub fn is_peer(&self, node: &str) -> bool {
        self.peers.contains(node)
    }

    /// Joins: takes heartbeat's node list (this node's uuid, the peers'
    /// links as link attributes, ping nodes left out) and says hello.
    pub fn start(&mut self, now: Instant, nodes: &[NodeInfo]) {
        for n in nodes {
            if let Some(u) = &n.uuid {
                self.uuids.insert(n.name.clone(), u.clone());
            }
            if n.name == self.local {
                if let Some(u) = &n.uuid {
                    self.uuid.clone_from(u);
                }
            } else if n.ping {
                self.ping_nodes.insert(n.name.clone());
            } else {
                for (iface, up) in &n.links {
                    self.set_link(now, &n.name, iface, *up);
                }
            }
        }
        self.hello(None, false);
    }

    /// The node a request names: `None` and `localhost` are this node.
    pub fn node_name(&self, node: Option<&str>) -> String {
        match node.map(str::to_ascii_lowercase) {
            None => self.local.clone(),
            Some(n) if n == "localhost" => self.local.clone(),
            Some(n) => n,
        }
    }

    /// A client's update: answered now (`Some`), or later through
    /// `Output::Answer` when it went to another node (`None`).
    pub fn update(
        &mut self,
        now: Instant,
        client: C,
        mut u: Update,
    ) -> Option<Result<(), Failure>> {
        let fail = |code, message: String| Some(Err(Failure { code, message }));
        if let Err(e) = check_update(&u) {
            return fail(EX_USAGE, e);
        }
        let node = self.node_name(u.node.as_deref());
        if node == self.local {
            u.node = None;
            return Some(self.update_local(now, &u));
        }
        if !self.clustered {
            return fail(
                EX_NOSUCH,
                format!("{node} is not a node of this cluster (attrd runs standalone)"),
            );
        }
        if !self.peers.contains(&node) {
            return fail(
                EX_NOSUCH,
                format!("no attrd runs on node {node} (not a node, or down)"),
            );
        }
        if self.forwards.len() >= MAX_FORWARDS {
            return fail(
                EX_ERROR,
                format!("{MAX_FORWARDS} updates for other nodes are waiting already"),
            );
        }
        self.next_forward += 1;
        let id = self.next_forward;
        u.node = Some(node.clone());
        self.send(Some(&node), Wire::Forward { id, update: u });
        self.forwards.insert(
            id,
            Forward {
                client,
                node,
                deadline: now + FORWARD_TIMEOUT,
            },
        );
        None
    }

    fn update_local(&mut self, now: Instant, u: &Update) -> Result<(), Failure> {
        match self.core.update_local(now, u) {
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
                    core::MAX_VALUES
                ),
            }),
        }
    }

    /// `-R`: every attrd writes all its values again.
    pub fn refresh(&mut self, now: Instant) {
        self.core.mark_all_due(now);
        self.send(None, Wire::Refresh);
    }

    /// Values the CIB holds for this node's permanent attributes (read at
    /// start), announced to the peers.
    pub fn load_written(&mut self, values: Vec<(String, String, Lifetime)>) {
        if values.is_empty() {
            return;
        }
        self.core.load_written(values);
        self.outbox.extend(self.core.own_entries());
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

    /// Heartbeat's link status to a peer changed.
    pub fn link_status(&mut self, now: Instant, node: &str, link: &str, up: bool) {
        if node != self.local && !self.ping_nodes.contains(node) {
            self.set_link(now, node, link, up);
        }
    }

    /// Heartbeat's status of a node changed (`active`, `dead`, ...).
    pub fn node_status(&mut self, now: Instant, node: &str, status: &str) {
        if node == self.local || self.ping_nodes.contains(node) {
            return;
        }
        if status == "dead" {
            self.peer_gone(now, node);
        } else if status == "active" {
            // Back (after a partition, or started): tell it who we are and
            // what we hold; its attrd answers likewise.
            self.hello(Some(node), false);
        }
    }

    fn peer_gone(&mut self, now: Instant, node: &str) {
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
                let message = format!("node {node} left before taking the update");
                self.out.push_back(Output::Answer {
                    client: f.client,
                    result: Err(Failure {
                        code: EX_DISCONNECT,
                        message,
                    }),
                });
            }
        }
        // One survivor, the lowest-named live attrd, removes the dead
        // node's transient attributes from the CIB: a node that is down
        // keeps nothing (its permanent attributes stay). Deaths come one
        // by one: a node that dies after being given the job leaves it
        // to the next lowest, so every departed node is kept until done.
        self.departed.insert(node.to_string());
        if core::clears_for_the_dead(&self.local, &self.peers) {
            for dead in std::mem::take(&mut self.departed) {
                if let Some(uuid) = self.uuids.get(&dead) {
                    self.out.push_back(Output::ClearNode {
                        node: dead,
                        uuid: uuid.clone(),
                    });
                }
            }
        }
        // Every link to a dead node is dead.
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

    /// A cluster message from another node.
    pub fn message(&mut self, now: Instant, from: &str, w: Wire) {
        if from == self.local {
            return;
        }
        match w {
            Wire::Hello { reply, uuid } => {
                if self.peers.insert(from.to_string()) {
                    log::info!("attrd peer {from} is up");
                }
                self.uuids.insert(from.to_string(), uuid);
                // Back: its attributes are its own to write again.
                self.departed.remove(from);
                if !reply {
                    self.hello(Some(from), true);
                    // Its attrd restarted: give back what it had (nothing
                    // if its node died, so a rebooted node starts clean).
                    for entries in wire::chunks(self.core.entries_of(from)) {
                        self.send(Some(from), Wire::Yours { entries });
                    }
                    // Whatever a survivor removed for us meanwhile, or a
                    // CIB merge lost, is written again (unchanged values
                    // change nothing in the CIB).
                    self.core.mark_all_due(now);
                }
            }
            Wire::Values { full, entries } => {
                if self.peers.insert(from.to_string()) {
                    log::info!("attrd peer {from} is up");
                }
                self.departed.remove(from);
                self.core.apply_peer(from, entries, full);
            }
            Wire::Forward { id, mut update } => {
                update.node = None;
                let error = check_update(&update)
                    .map_err(|m| Failure {
                        code: EX_USAGE,
                        message: m,
                    })
                    .and_then(|()| self.update_local(now, &update))
                    .err();
                // The announcement first, so the origin holds the value
                // when its client hears the answer.
                self.announce();
                self.send(Some(from), Wire::Done { id, error });
            }
            Wire::Done { id, error } => {
                if let Some(f) = self.forwards.remove(&id) {
                    self.out.push_back(Output::Answer {
                        client: f.client,
                        result: error.map_or(Ok(()), Err),
                    });
                }
            }
            Wire::Refresh => {
                log::info!("refresh asked by {from}: writing every value to the CIB again");
                self.core.mark_all_due(now);
            }
            Wire::Yours { entries } => {
                let taken = self.core.restore(now, entries);
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

    /// Gives up on forwarded updates whose node did not answer in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(f) = self.forwards.remove(&id) {
                let message = format!("Timer expired: attrd on {} did not answer", f.node);
                self.out.push_back(Output::Answer {
                    client: f.client,
                    result: Err(Failure {
                        code: EX_TIMEOUT,
                        message,
                    }),
                });
            }
        }
    }

    /// When `handle_timeout` must run next (CIB flushes are the core's
    /// `next_flush`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.forwards.values().map(|f| f.deadline).min()
    }

    /// The next thing to do; this node's changes are announced once the
    /// queued outputs are drained, in one go.
    pub fn poll_output(&mut self) -> Option<Output<C>> {
        if self.out.is_empty() {
            self.announce();
        }
        self.out.pop_front()
    }

    fn send(&mut self, to: Option<&str>, wire: Wire) {
        if self.clustered {
            self.out.push_back(Output::Send {
                to: to.map(str::to_string),
                wire,
            });
        }
    }

    /// Hello and our full set of values, to one node or all.
    fn hello(&mut self, to: Option<&str>, reply: bool) {
        let uuid = self.uuid.clone();
        self.send(to, Wire::Hello { reply, uuid });
        for w in wire::values_messages(true, self.core.own_entries()) {
            self.send(to, w);
        }
    }

    fn announce(&mut self) {
        let out = std::mem::take(&mut self.outbox);
        if out.is_empty() {
            return;
        }
        for w in wire::values_messages(false, out) {
            self.send(None, w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrdapi::NodeValue;

    /// Simulated nodes on a network that keeps each sender's order (as
    /// heartbeat does) and can cut nodes off. Clients are numbers.
    struct Net {
        now: Instant,
        nodes: BTreeMap<String, Cluster<u32>>,
        /// Messages in flight: (from, to, wire), in send order.
        queue: VecDeque<(String, String, Wire)>,
        answers: Vec<(String, u32, Result<(), Failure>)>,
        clears: Vec<(String, String)>,
        cut: BTreeSet<String>,
    }

    fn info(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            uuid: Some(format!("uuid-{name}")),
            ping: false,
            links: vec![("eth0".into(), true)],
        }
    }

    impl Net {
        fn new(names: &[&str]) -> Net {
            let mut net = Net {
                now: Instant::now(),
                nodes: BTreeMap::new(),
                queue: VecDeque::new(),
                answers: Vec::new(),
                clears: Vec::new(),
                cut: BTreeSet::new(),
            };
            for n in names {
                net.boot(n, names);
            }
            net.settle();
            net
        }

        fn boot(&mut self, name: &str, all: &[&str]) {
            let mut c = Cluster::new(name, name, Duration::ZERO, true);
            let nodes: Vec<NodeInfo> = all.iter().map(|n| info(n)).collect();
            c.start(self.now, &nodes);
            self.nodes.insert(name.to_string(), c);
        }

        fn drain(&mut self) {
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for n in names {
                while let Some(o) = self.nodes.get_mut(&n).and_then(Cluster::poll_output) {
                    match o {
                        Output::Send { to, wire } => {
                            let tos: Vec<String> = match to {
                                Some(t) => vec![t],
                                None => self.nodes.keys().filter(|k| **k != n).cloned().collect(),
                            };
                            for t in tos {
                                self.queue.push_back((n.clone(), t, wire.clone()));
                            }
                        }
                        Output::Answer { client, result } => {
                            self.answers.push((n.clone(), client, result));
                        }
                        Output::ClearNode { node, .. } => self.clears.push((n.clone(), node)),
                    }
                }
            }
        }

        /// Delivers until nothing moves.
        fn settle(&mut self) {
            for _ in 0..10_000 {
                self.drain();
                let Some((from, to, w)) = self.queue.pop_front() else {
                    return;
                };
                if self.cut.contains(&from) != self.cut.contains(&to) {
                    continue;
                }
                let now = self.now;
                if let Some(c) = self.nodes.get_mut(&to) {
                    c.message(now, &from, w);
                }
            }
            panic!("the network did not settle");
        }

        fn query(&self, at: &str, name: &str) -> Vec<(String, String)> {
            self.nodes[at]
                .core
                .query(name, None)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|NodeValue { node, value }| Some((node, value?)))
                .collect()
        }

        fn set(
            &mut self,
            at: &str,
            client: u32,
            name: &str,
            node: Option<&str>,
            v: &str,
        ) -> Option<Result<(), Failure>> {
            let u = Update {
                name: name.into(),
                node: node.map(str::to_string),
                change: Change::Set(v.into()),
                delay_ms: None,
                lifetime: Lifetime::Reboot,
                private: false,
            };
            let now = self.now;
            let r = self.nodes.get_mut(at).unwrap().update(now, client, u);
            self.settle();
            r
        }

        /// Heartbeat on every other node reports `node` as `status`.
        fn report(&mut self, node: &str, status: &str) {
            let now = self.now;
            for (n, c) in self.nodes.iter_mut() {
                if n != node {
                    c.node_status(now, node, status);
                }
            }
            self.settle();
        }
    }

    fn v(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn an_update_for_another_node_is_applied_there_and_known_everywhere() {
        let mut net = Net::new(&["n1", "n2", "n3"]);
        for n in ["n1", "n2", "n3"] {
            assert_eq!(net.nodes[n].members(), ["n1", "n2", "n3"]);
            // Link attributes of every node, known everywhere.
            assert_eq!(net.query(n, "n2-eth0"), v(&[("n1", "up"), ("n3", "up")]));
        }
        assert_eq!(net.set("n1", 7, "site", Some("n2"), "left"), None);
        assert_eq!(net.answers, vec![("n1".to_string(), 7, Ok(()))]);
        for n in ["n1", "n2", "n3"] {
            assert_eq!(net.query(n, "site"), v(&[("n2", "left")]));
        }
        // Only n2 writes it.
        let t = net.now;
        for n in ["n1", "n3"] {
            let c = net.nodes.get_mut(n).unwrap();
            let b = c.core.take_batch(t).unwrap_or_default();
            assert!(
                b.set.iter().all(|(name, _, _)| name != "site"),
                "{n}: {b:?}"
            );
        }
        let b = net.nodes.get_mut("n2").unwrap().core.take_batch(t).unwrap();
        assert!(b
            .set
            .contains(&("site".into(), "left".into(), Lifetime::Reboot)));
    }

    #[test]
    fn refusals_and_timeouts() {
        let mut net = Net::new(&["n1", "n2"]);
        let r = net.set("n1", 1, "", None, "x");
        assert_eq!(r.map(|r| r.map_err(|f| f.code)), Some(Err(EX_USAGE)));
        let r = net.set("n1", 2, "a", Some("n9"), "x");
        assert_eq!(r.map(|r| r.map_err(|f| f.code)), Some(Err(EX_NOSUCH)));
        // n2's attrd is cut off: the forward times out.
        net.cut.insert("n2".into());
        assert_eq!(net.set("n1", 3, "a", Some("n2"), "x"), None);
        let c = net.nodes.get_mut("n1").unwrap();
        let deadline = c.poll_timeout().unwrap();
        c.handle_timeout(deadline - Duration::from_millis(1));
        assert!(c.poll_output().is_none());
        c.handle_timeout(deadline);
        match c.poll_output() {
            Some(Output::Answer {
                client: 3,
                result: Err(f),
            }) => assert_eq!(f.code, EX_TIMEOUT),
            other => panic!("{other:?}"),
        }
        // A standalone attrd refuses other nodes.
        let mut alone: Cluster<u32> = Cluster::new("n1", "n1", Duration::ZERO, false);
        alone.start(net.now, &[]);
        let u = Update {
            name: "a".into(),
            node: Some("n2".into()),
            change: Change::Set("1".into()),
            delay_ms: None,
            lifetime: Lifetime::Reboot,
            private: false,
        };
        assert!(matches!(alone.update(net.now, 1, u), Some(Err(f)) if f.code == EX_NOSUCH));
        assert!(alone.poll_output().is_none(), "standalone sends nothing");
    }

    #[test]
    fn a_restarted_attrd_gets_every_value_back_and_a_dead_node_keeps_nothing() {
        let mut net = Net::new(&["n1", "n2", "n3"]);
        net.set("n1", 1, "a", None, "1");
        net.set("n2", 2, "b", None, "2");
        net.set("n3", 3, "c", None, "3");
        // n2's attrd restarts (its node stays up).
        net.boot("n2", &["n1", "n2", "n3"]);
        net.settle();
        for n in ["n1", "n2", "n3"] {
            assert_eq!(net.query(n, "b"), v(&[("n2", "2")]), "{n}");
            assert_eq!(net.query(n, "a"), v(&[("n1", "1")]), "{n}");
        }
        // Taken back and due for the CIB (cleared at start).
        let t = net.now;
        let b = net.nodes.get_mut("n2").unwrap().core.take_batch(t).unwrap();
        assert!(b.set.contains(&("b".into(), "2".into(), Lifetime::Reboot)));

        // n2 dies: the others forget its values; n1, the lowest live
        // name, alone removes them from the CIB; its links are dead.
        net.report("n2", "dead");
        for n in ["n1", "n3"] {
            assert_eq!(net.query(n, "b"), v(&[]), "{n}");
            assert_eq!(net.nodes[n].members(), ["n1", "n3"]);
        }
        assert_eq!(net.clears, vec![("n1".to_string(), "n2".to_string())]);
        assert_eq!(
            net.query("n3", "n2-eth0"),
            v(&[("n1", "dead"), ("n3", "dead")])
        );
        // It reboots: a fresh attrd, nothing of its old values anywhere.
        net.boot("n2", &["n1", "n2", "n3"]);
        net.report("n2", "active");
        for n in ["n1", "n2", "n3"] {
            assert_eq!(net.query(n, "b"), v(&[]), "{n}");
            assert_eq!(net.query(n, "c"), v(&[("n3", "3")]), "{n}");
            assert_eq!(net.nodes[n].members(), ["n1", "n2", "n3"]);
        }
    }

    #[test]
    fn a_partition_forgets_the_other_side_and_heals() {
        let mut net = Net::new(&["n1", "n2", "n3"]);
        net.set("n1", 1, "x", None, "1");
        net.set("n3", 3, "x", None, "3");
        net.cut.insert("n3".into());
        let now = net.now;
        for n in ["n1", "n2"] {
            net.nodes.get_mut(n).unwrap().node_status(now, "n3", "dead");
        }
        for n in ["n1", "n2"] {
            net.nodes.get_mut("n3").unwrap().node_status(now, n, "dead");
        }
        net.settle();
        assert_eq!(net.query("n1", "x"), v(&[("n1", "1")]));
        assert_eq!(net.query("n3", "x"), v(&[("n3", "3")]));
        // One clear per side, by its lowest node.
        assert_eq!(
            net.clears,
            vec![
                ("n1".to_string(), "n3".to_string()),
                ("n3".to_string(), "n1".to_string()),
                ("n3".to_string(), "n2".to_string())
            ],
            "n3 learns of n1's death while n2 still looks alive: it clears \
             for both once n2 is gone too"
        );
        net.set("n3", 3, "x", None, "33");
        net.cut.clear();
        for n in ["n1", "n2"] {
            net.nodes
                .get_mut(n)
                .unwrap()
                .node_status(now, "n3", "active");
            net.nodes
                .get_mut("n3")
                .unwrap()
                .node_status(now, n, "active");
        }
        net.settle();
        for n in ["n1", "n2", "n3"] {
            assert_eq!(net.query(n, "x"), v(&[("n1", "1"), ("n3", "33")]), "{n}");
            assert_eq!(net.nodes[n].members(), ["n1", "n2", "n3"]);
        }
    }
}

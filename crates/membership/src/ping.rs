//! Ping nodes: routers and other plain IP hosts that ha.cf's `ping`,
//! `ping6` and `ping_group` lines make pseudo-members of the cluster. The
//! daemon sends each an ICMP echo every keepalive (with every status
//! heartbeat, as Heartbeat's ping plugins do) and hands the authentic
//! replies to [`PingNodes`], which decides their status as Heartbeat 3
//! reports it: `init` until the first reply, `ping` while they answer, `dead`
//! after `deadping` without a reply; their single link (named after the node
//! itself, `Link 10.0.0.254:10.0.0.254 up.`) goes up and dead with them.
//!
//! Call order, as for the other cores: [`PingNodes::new`]; at every echo
//! round [`PingNodes::start_round`] for the ICMP sequence number to send;
//! for every reply [`PingNodes::handle_reply`]; when `now` reaches
//! [`PingNodes::poll_timeout`], [`PingNodes::handle_timeout`]; after each
//! call drain [`PingNodes::poll_event`].
//!
//! Rules (heartbeat.c `check_for_timeouts`, `HBDoMsg_T_STATUS`,
//! `mark_node_dead`; ping.c, ping_group.c):
//! - a node never heard from is dead `initdead` after start (Heartbeat's
//!   deadtime before its communication is up, which needs every node, ping
//!   nodes included, heard from or dead); once heard, `deadping` after its
//!   last reply;
//! - on a reply the link comes up first, then the status ("Link X:X up.",
//!   "Status update for node X: status ping"); at a timeout the node dies
//!   first, then the link ("node X: is dead", "Link X:X dead.");
//! - a reply more than `warntime` after the previous one is a late
//!   heartbeat, critical beyond `deadtime` (Heartbeat applies the normal
//!   nodes' thresholds to ping nodes too);
//! - a `ping_group` is one node: any member's reply counts, once per echo
//!   round (ping_group.c's sequence slots).
//!
//! Differences, on purpose: a reply counts only when it answers one of the
//! last [`ROUND_WINDOW`] rounds sent within `deadping` and only once per node
//! (Heartbeat accepts any authentic reply, so a recorded one replayed later
//! would keep a dead router "alive"); a late reply is only reported, where
//! Heartbeat also marks the node dead and at once alive again; once heard, a
//! ping node's deadtime is `deadping` even before the cluster's
//! communication is up, and our local node does not wait for ping nodes to
//! go active (Heartbeat counts them in `check_comm_isup`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::types::{LinkStatus, NodeName};

/// Echo rounds remembered for matching replies (ping_group.c's `NSLOT`).
pub const ROUND_WINDOW: usize = 128;

/// Most ping nodes (one bit each in a round's answered set).
pub const MAX_PING_NODES: usize = 128;

/// The timing of ping nodes, from ha.cf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingConfig {
    /// `deadping`: a node silent this long after a reply is dead.
    pub deadping: Duration,
    /// `initdead`: a node never heard from is dead this long after start.
    pub initdead: Duration,
    /// `warntime`: a reply later than this after the previous one is late.
    pub warntime: Duration,
    /// `deadtime`: a late reply beyond it is reported as critical.
    pub deadtime: Duration,
}

impl PingConfig {
    /// The mapping from a parsed ha.cf.
    pub fn from_ha_cf(cf: &config::HaCf) -> PingConfig {
        PingConfig {
            deadping: cf.deadping,
            initdead: cf.initdead,
            warntime: cf.warntime,
            deadtime: cf.deadtime,
        }
    }
}

/// A ping node's status, with Heartbeat's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingStatus {
    /// Never heard from.
    Init,
    /// Answering (Heartbeat's `PINGSTATUS`).
    Ping,
    /// No answer for its deadtime.
    Dead,
}

impl PingStatus {
    /// `init`, `ping` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            PingStatus::Init => "init",
            PingStatus::Ping => "ping",
            PingStatus::Dead => "dead",
        }
    }
}

/// What changed, for the log and the API clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingEvent {
    /// "Status update for node X: status ping" / "node X: is dead".
    StatusChanged {
        /// The ping node.
        node: NodeName,
        /// Its previous status.
        old: PingStatus,
        /// Its new status.
        new: PingStatus,
    },
    /// "Link X:X up." / "Link X:X dead." (the link is named after the node).
    LinkChanged {
        /// The ping node.
        node: NodeName,
        /// The link's new status.
        new: LinkStatus,
    },
    /// "Late heartbeat: Node X: interval N ms", critical "(> deadtime)".
    Late {
        /// The ping node.
        node: NodeName,
        /// Time since its previous reply.
        interval: Duration,
        /// Beyond the configured deadtime.
        beyond_deadtime: bool,
    },
}

/// What became of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// It proved the node alive.
    Accepted,
    /// The node already answered that round (a second group member, or a
    /// duplicate).
    Duplicate,
    /// Not an answer to a recent round of ours (a replay, or very late).
    NotRecent,
    /// No ping node of that name.
    UnknownNode,
}

#[derive(Debug, Clone)]
struct Node {
    name: NodeName,
    status: PingStatus,
    link: LinkStatus,
    last_heard: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Round {
    seq: u16,
    sent: Instant,
    /// Bit `i` set: node `i` answered it.
    answered: u128,
}

/// The ping nodes of one heartbeat.
#[derive(Debug)]
pub struct PingNodes {
    cfg: PingConfig,
    started: Instant,
    nodes: Vec<Node>,
    next_seq: u16,
    rounds: VecDeque<Round>,
    events: VecDeque<PingEvent>,
}

impl PingNodes {
    /// The ping nodes of ha.cf (duplicates and more than [`MAX_PING_NODES`]
    /// are dropped), all `init` with their links dead.
    pub fn new(names: Vec<NodeName>, cfg: PingConfig, now: Instant) -> PingNodes {
        let mut nodes: Vec<Node> = Vec::new();
        for name in names {
            if nodes.len() < MAX_PING_NODES && !nodes.iter().any(|n| n.name == name) {
                nodes.push(Node {
                    name,
                    status: PingStatus::Init,
                    link: LinkStatus::Dead,
                    last_heard: None,
                });
            }
        }
        PingNodes {
            cfg,
            started: now,
            nodes,
            next_seq: 0,
            rounds: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Whether there are any ping nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// An echo round goes out now: the ICMP sequence number to send to every
    /// ping node in it.
    pub fn start_round(&mut self, now: Instant) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if self.rounds.len() >= ROUND_WINDOW {
            self.rounds.pop_front();
        }
        self.rounds.push_back(Round {
            seq,
            sent: now,
            answered: 0,
        });
        seq
    }

    /// An authentic echo reply from ping node `node` to round `seq`.
    pub fn handle_reply(&mut self, now: Instant, node: &NodeName, seq: u16) -> Reply {
        let Some(i) = self.nodes.iter().position(|n| n.name == *node) else {
            return Reply::UnknownNode;
        };
        let deadping = self.cfg.deadping;
        let Some(round) = self
            .rounds
            .iter_mut()
            .rev()
            .find(|r| r.seq == seq && now.saturating_duration_since(r.sent) <= deadping)
        else {
            return Reply::NotRecent;
        };
        let bit = 1u128 << i;
        if round.answered & bit != 0 {
            return Reply::Duplicate;
        }
        round.answered |= bit;
        let node = &mut self.nodes[i];
        if node.link == LinkStatus::Dead {
            node.link = LinkStatus::Up;
            self.events.push_back(PingEvent::LinkChanged {
                node: node.name.clone(),
                new: LinkStatus::Up,
            });
        }
        if node.status == PingStatus::Ping {
            if let Some(prev) = node.last_heard {
                let interval = now.saturating_duration_since(prev);
                if interval > self.cfg.warntime {
                    self.events.push_back(PingEvent::Late {
                        node: node.name.clone(),
                        interval,
                        beyond_deadtime: interval > self.cfg.deadtime,
                    });
                }
            }
        } else {
            self.events.push_back(PingEvent::StatusChanged {
                node: node.name.clone(),
                old: node.status,
                new: PingStatus::Ping,
            });
            node.status = PingStatus::Ping;
        }
        node.last_heard = Some(now);
        Reply::Accepted
    }

    fn deadline(&self, node: &Node) -> Option<Instant> {
        if node.status == PingStatus::Dead && node.link == LinkStatus::Dead {
            return None;
        }
        Some(match node.last_heard {
            Some(t) => t + self.cfg.deadping,
            None => self.started + self.cfg.initdead,
        })
    }

    /// Declares dead every node whose deadline passed: node first, then its
    /// link. Afterwards [`poll_timeout`](Self::poll_timeout) is later than
    /// `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.nodes.len() {
            if self.deadline(&self.nodes[i]).is_none_or(|d| now < d) {
                continue;
            }
            let node = &mut self.nodes[i];
            if node.status != PingStatus::Dead {
                self.events.push_back(PingEvent::StatusChanged {
                    node: node.name.clone(),
                    old: node.status,
                    new: PingStatus::Dead,
                });
                node.status = PingStatus::Dead;
            }
            if node.link == LinkStatus::Up {
                node.link = LinkStatus::Dead;
                self.events.push_back(PingEvent::LinkChanged {
                    node: node.name.clone(),
                    new: LinkStatus::Dead,
                });
            }
        }
        debug_assert!(self.poll_timeout().is_none_or(|t| t > now));
    }

    /// The earliest deadline of a node not yet dead.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(|n| self.deadline(n)).min()
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PingEvent> {
        self.events.pop_front()
    }

    /// Every ping node with its status and its link's, in ha.cf order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeName, PingStatus, LinkStatus)> {
        self.nodes.iter().map(|n| (&n.name, n.status, n.link))
    }

    /// A ping node's status; `None` if there is no such ping node.
    pub fn status(&self, node: &NodeName) -> Option<PingStatus> {
        self.nodes
            .iter()
            .find(|n| n.name == *node)
            .map(|n| n.status)
    }
}

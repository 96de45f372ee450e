//! The membership core of one node: failure detection, sequence tracking,
//! ordered delivery and the send history wired together behind one
//! quinn-style interface. The daemon decodes packets into [`Packet`]s, feeds
//! them and the clock in, and drains [`Output`]s.
//!
//! Call order:
//! 1. [`Membership::new`] at start (queues the first status heartbeat);
//! 2. for each decoded, authenticated packet, [`Membership::handle_packet`];
//!    for each client message to send, [`Membership::send`];
//! 3. when `now` reaches [`Membership::poll_timeout`],
//!    [`Membership::handle_timeout`];
//! 4. after every call, drain [`Membership::poll_output`] until `None`:
//!    transmit every [`Transmit`] on every medium, hand every [`Delivery`]
//!    to the clients, log and forward every [`Event`]; then sleep until the
//!    new `poll_timeout`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::detector::{FailureDetector, Heartbeat};
use crate::history::{Body, Lookup, SendHistory};
use crate::rng::Rng;
use crate::seq::{Numbered, Receiver, SeqOutput, SeqParams, Verdict, MAX_REXMIT_BATCH};
use crate::types::{Event, LinkStatus, MediumId, NodeName, NodeStatus, Payload};

/// Heartbeat answers a retransmission request for a packet it resent less
/// than `max_rexmit_delay - 10 ms` ago with nothing (`ACCEPT_REXMIT_REQ_MS`).
const REXMIT_GRACE: Duration = Duration::from_millis(10);

/// A decoded, authenticated packet from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<P> {
    /// `src`.
    pub from: NodeName,
    /// The medium it arrived on.
    pub medium: MediumId,
    /// What it is.
    pub kind: PacketKind<P>,
}

/// The packet types the core tracks. Every sequenced type other than
/// `status` is a [`PacketKind::Message`], delivered in order; `NS_*` types
/// carry no sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketKind<P> {
    /// `t=status`.
    Status {
        /// `hg`.
        generation: u64,
        /// `seq`.
        seq: u64,
        /// `st`.
        status: NodeStatus,
        /// `dt` in milliseconds, when present.
        deadtime_ms: Option<u64>,
    },
    /// Any other sequenced message (client messages, and Heartbeat's own
    /// sequenced types, which the daemon dispatches on delivery).
    Message {
        /// `hg`.
        generation: u64,
        /// `seq`.
        seq: u64,
        /// `dest`; `None` for a broadcast.
        dest: Option<NodeName>,
        /// The message.
        payload: P,
    },
    /// `NS_ackmsg`.
    Ack {
        /// `dest`.
        dest: NodeName,
        /// `ackseq`.
        ackseq: u64,
    },
    /// `NS_rexmit`.
    RexmitRequest {
        /// `dest`: the node asked to retransmit.
        dest: NodeName,
        /// `firstseq`.
        first: u64,
        /// `lastseq`.
        last: u64,
    },
    /// `NS_nak_rexmit`: `from` cannot retransmit `seq`.
    NakRexmit {
        /// `dest`: the node that asked (Heartbeat acts on it regardless).
        dest: Option<NodeName>,
        /// `firstseq`.
        seq: u64,
    },
}

/// A packet to send on every medium. The daemon adds `src`, `srcuuid`, `ts`,
/// `ld`, `ttl` and the digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit<P> {
    /// A status heartbeat, new or retransmitted.
    Status {
        /// `hg`.
        generation: u64,
        /// `seq`.
        seq: u64,
        /// `st`.
        status: NodeStatus,
        /// `dt`, milliseconds.
        deadtime_ms: u64,
        /// Sent before; retransmitted on request.
        retransmission: bool,
    },
    /// A client message, new or retransmitted.
    Message {
        /// `hg`.
        generation: u64,
        /// `seq`.
        seq: u64,
        /// `dest`.
        dest: Option<NodeName>,
        /// The message.
        payload: P,
        /// Sent before; retransmitted on request.
        retransmission: bool,
    },
    /// `NS_ackmsg`.
    Ack {
        /// The sender acknowledged.
        dest: NodeName,
        /// Highest sequence number received without a gap.
        ackseq: u64,
    },
    /// `NS_rexmit` for `first..=last` (at most 50; Heartbeat's own nodes
    /// send one request per sequence number, and answer ranges).
    RexmitRequest {
        /// The sender asked.
        dest: NodeName,
        /// First missing.
        first: u64,
        /// Last missing.
        last: u64,
    },
    /// `NS_nak_rexmit`: we no longer hold `seq`.
    NakRexmit {
        /// The node that asked.
        dest: NodeName,
        /// The sequence number.
        seq: u64,
        /// `info`, Heartbeat's wording.
        reason: &'static str,
    },
}

/// A client message delivered in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<P> {
    /// The sender.
    pub from: NodeName,
    /// The sender's generation when it sent it.
    pub generation: u64,
    /// Its sequence number.
    pub seq: u64,
    /// The message.
    pub payload: P,
}

/// What the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Output<P> {
    /// Send on every medium.
    Transmit(Transmit<P>),
    /// Hand to the local clients.
    Deliver(Delivery<P>),
    /// Log, and forward status changes.
    Event(Event),
}

/// Counters for `cl_status`-style reports and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets handed in.
    pub packets: u64,
    /// Lower-generation packets dropped.
    pub replays: u64,
    /// Same-sequence-number duplicates dropped.
    pub duplicates: u64,
    /// Old, not missing packets dropped.
    pub stale: u64,
    /// Packets from nodes not in the table.
    pub unknown_node: u64,
    /// Packets with impossible values (sequence 0, unknown medium, ...).
    pub invalid: u64,
    /// Our own packets looped back.
    pub own: u64,
    /// Client messages delivered (own included).
    pub delivered: u64,
    /// Sequence numbers given up.
    pub lost: u64,
    /// Retransmission requests sent (ranges).
    pub rexmit_requests_sent: u64,
    /// Retransmission requests for us received.
    pub rexmit_requests_received: u64,
    /// Messages retransmitted.
    pub retransmissions: u64,
    /// `NS_nak_rexmit` sent.
    pub naks_sent: u64,
    /// `NS_nak_rexmit` received.
    pub naks_received: u64,
    /// Requests for sequence numbers we never sent.
    pub rexmit_beyond_history: u64,
}

#[derive(Debug)]
struct Peer<P> {
    rx: Receiver<P>,
    /// Highest sequence number of ours this peer acknowledged.
    acked: u64,
}

/// The membership and messaging core of one node. No I/O, no clock: every
/// entry point takes `now`.
#[derive(Debug)]
pub struct Membership<P> {
    local: NodeName,
    generation: u64,
    media: u16,
    deadtime_ms: u64,
    keepalive: Duration,
    warntime: Duration,
    deadtime: Duration,
    params: SeqParams,
    detector: FailureDetector,
    peers: BTreeMap<NodeName, Peer<P>>,
    history: SendHistory<P>,
    rng: Rng,
    outputs: VecDeque<Output<P>>,
    next_status_at: Instant,
    last_periodic_status: Instant,
    stats: Stats,
    scratch: Vec<SeqOutput<P>>,
    ranges: Vec<(u64, u64)>,
}

impl<P: Payload> Membership<P> {
    /// A node starting at `now`, status `up`; its first heartbeat is queued.
    pub fn new(config: Config, now: Instant) -> Result<Membership<P>, ConfigError> {
        let detector = FailureDetector::new(&config, now)?;
        let mut m = Membership {
            local: config.local.clone(),
            generation: config.generation,
            media: config.media,
            deadtime_ms: config.deadtime.as_millis() as u64,
            keepalive: config.keepalive,
            warntime: config.warntime,
            deadtime: config.deadtime,
            params: SeqParams {
                window: config.window,
                holdback_bytes: config.holdback_bytes,
                max_rexmit_delay: config.max_rexmit_delay,
            },
            detector,
            peers: BTreeMap::new(),
            history: SendHistory::new(config.history_len, config.history_bytes),
            rng: Rng::new(config.seed),
            outputs: VecDeque::new(),
            next_status_at: now + config.keepalive,
            last_periodic_status: now,
            stats: Stats::default(),
            scratch: Vec::new(),
            ranges: Vec::new(),
        };
        m.drain_detector(now);
        m.send_status();
        Ok(m)
    }

    /// One decoded, authenticated packet (our own looped-back ones too).
    pub fn handle_packet(&mut self, now: Instant, packet: Packet<P>) {
        self.stats.packets += 1;
        let Packet { from, medium, kind } = packet;
        if medium.0 >= self.media {
            self.stats.invalid += 1;
            return;
        }
        if from == self.local {
            self.own_packet(now, medium, &kind);
            return;
        }
        if !self.detector.admit(now, &from) {
            self.stats.unknown_node += 1;
            self.push_event(Event::UnknownNode { node: from });
            return;
        }
        match kind {
            PacketKind::Status {
                generation,
                seq,
                status,
                deadtime_ms,
            } => {
                let hb = Heartbeat {
                    from,
                    medium,
                    generation,
                    seq: Some(seq),
                    status,
                    deadtime_ms,
                };
                let numbered = Numbered {
                    generation,
                    seq,
                    item: None,
                };
                self.sequenced(now, &hb.from, medium, numbered, Some(&hb));
            }
            PacketKind::Message {
                generation,
                seq,
                dest,
                payload,
            } => {
                let item = match &dest {
                    Some(d) if *d != self.local => None,
                    _ => Some(payload),
                };
                let numbered = Numbered {
                    generation,
                    seq,
                    item,
                };
                self.sequenced(now, &from, medium, numbered, None);
            }
            PacketKind::Ack { dest, ackseq } => {
                if dest != self.local {
                    return;
                }
                self.detector.packet_received(now, &from, medium, false);
                if ackseq > self.history.hiseq() {
                    self.stats.invalid += 1;
                } else {
                    let peer = self.peer(&from);
                    peer.acked = peer.acked.max(ackseq);
                }
            }
            PacketKind::RexmitRequest { dest, first, last } => {
                if dest != self.local {
                    return;
                }
                self.detector.packet_received(now, &from, medium, false);
                self.rexmit_request(now, &from, first, last);
            }
            PacketKind::NakRexmit { dest, seq } => {
                if dest.as_ref().is_none_or(|d| *d == self.local) {
                    self.detector.packet_received(now, &from, medium, false);
                }
                self.stats.naks_received += 1;
                let mut out = std::mem::take(&mut self.scratch);
                if let Some(peer) = self.peers.get_mut(&from) {
                    let _ = peer.rx.nak(seq, &mut out);
                }
                self.push_seq_outputs(&from, &mut out);
                self.scratch = out;
            }
        }
        self.drain_detector(now);
    }

    /// Our own packet, looped back by a medium: it brings our link up. A
    /// sequenced one from another generation is a replay, one beyond our
    /// counter a forgery; neither counts.
    fn own_packet(&mut self, now: Instant, medium: MediumId, kind: &PacketKind<P>) {
        self.stats.own += 1;
        let (generation, seq) = match kind {
            PacketKind::Status {
                generation, seq, ..
            }
            | PacketKind::Message {
                generation, seq, ..
            } => (Some(*generation), Some(*seq)),
            _ => (None, None),
        };
        if let Some(g) = generation {
            if g < self.generation {
                self.stats.replays += 1;
                self.push_event(Event::Replay {
                    node: self.local.clone(),
                    generation: g,
                    current: self.generation,
                });
                return;
            }
            if g > self.generation || seq.is_some_and(|s| s == 0 || s > self.history.hiseq()) {
                self.stats.invalid += 1;
                return;
            }
        }
        self.detector
            .packet_received(now, &self.local.clone(), medium, false);
        self.drain_detector(now);
    }

    fn peer(&mut self, node: &NodeName) -> &mut Peer<P> {
        if !self.peers.contains_key(node) {
            let trigger = self.rng.below(crate::seq::ACK_DIVISOR);
            self.peers.insert(
                node.clone(),
                Peer {
                    rx: Receiver::new(trigger),
                    acked: 0,
                },
            );
        }
        self.peers.get_mut(node).expect("inserted above")
    }

    /// A status heartbeat or message: sequence tracking first; then, if it
    /// is new, the detector; then what tracking released.
    fn sequenced(
        &mut self,
        now: Instant,
        from: &NodeName,
        medium: MediumId,
        numbered: Numbered<P>,
        heartbeat: Option<&Heartbeat>,
    ) {
        let generation = numbered.generation;
        let params = self.params;
        let mut out = std::mem::take(&mut self.scratch);
        debug_assert!(out.is_empty());
        self.peer(from);
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        let verdict = peer
            .rx
            .receive(now, numbered, &params, &mut self.rng, &mut out);
        match verdict {
            Verdict::Invalid => self.stats.invalid += 1,
            Verdict::Replay { current } => {
                self.stats.replays += 1;
                self.push_event(Event::Replay {
                    node: from.clone(),
                    generation,
                    current,
                });
            }
            Verdict::Stale => self.stats.stale += 1,
            Verdict::Duplicate => {
                self.stats.duplicates += 1;
                self.detector.packet_received(now, from, medium, false);
            }
            Verdict::Accepted { restarted_from } => {
                if let Some(old) = restarted_from {
                    if let Some(peer) = self.peers.get_mut(from) {
                        peer.acked = 0;
                    }
                    self.push_event(Event::NodeRestarted {
                        node: from.clone(),
                        old_generation: old,
                        new_generation: generation,
                    });
                    self.detector.node_restarted(from, generation);
                }
                match heartbeat {
                    Some(hb) => self.detector.heartbeat_received(now, hb),
                    None => self.detector.packet_received(now, from, medium, true),
                }
                // Status changes (a return, a restart) before the messages.
                self.drain_detector(now);
            }
        }
        self.push_seq_outputs(from, &mut out);
        self.scratch = out;
    }

    fn push_seq_outputs(&mut self, from: &NodeName, out: &mut Vec<SeqOutput<P>>) {
        for o in out.drain(..) {
            let output = match o {
                SeqOutput::Deliver {
                    generation,
                    seq,
                    payload,
                } => {
                    self.stats.delivered += 1;
                    Output::Deliver(Delivery {
                        from: from.clone(),
                        generation,
                        seq,
                        payload,
                    })
                }
                SeqOutput::Missing { first, last } => Output::Event(Event::PacketsMissing {
                    node: from.clone(),
                    first,
                    last,
                }),
                SeqOutput::NoneMissing => {
                    Output::Event(Event::NoPacketsMissing { node: from.clone() })
                }
                SeqOutput::Lost {
                    first,
                    last,
                    reason,
                } => {
                    self.stats.lost = self
                        .stats
                        .lost
                        .saturating_add((last - first).saturating_add(1));
                    Output::Event(Event::MessagesLost {
                        node: from.clone(),
                        first,
                        last,
                        reason,
                    })
                }
                SeqOutput::Ack { seq } => Output::Transmit(Transmit::Ack {
                    dest: from.clone(),
                    ackseq: seq,
                }),
            };
            self.outputs.push_back(output);
        }
    }

    fn push_event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Moves the detector's events to the output queue, acting on the ones
    /// that concern sequencing: a dead peer's tracking is flushed, a local
    /// status change is announced at once.
    fn drain_detector(&mut self, _now: Instant) {
        while let Some(event) = self.detector.poll_event() {
            let mut flush = None;
            let mut announce = false;
            if let Event::NodeStatusChanged { node, new, .. } = &event {
                if *node == self.local {
                    announce = self.history.hiseq() > 0;
                } else if *new == NodeStatus::Dead {
                    flush = Some(node.clone());
                }
            }
            self.push_event(event);
            if let Some(node) = flush {
                let mut out = std::mem::take(&mut self.scratch);
                if let Some(peer) = self.peers.get_mut(&node) {
                    peer.acked = 0;
                    peer.rx.node_dead(&mut out);
                }
                self.push_seq_outputs(&node, &mut out);
                self.scratch = out;
            }
            if announce {
                self.send_status();
            }
        }
    }

    fn send_status(&mut self) {
        let status = self.detector.local_status();
        let deadtime_ms = self.deadtime_ms;
        let seq = self.history.push(Body::Status {
            status,
            deadtime_ms,
        });
        self.outputs.push_back(Output::Transmit(Transmit::Status {
            generation: self.generation,
            seq,
            status,
            deadtime_ms,
            retransmission: false,
        }));
    }

    /// Sends a client message to every node (`dest` = `None`) or to one;
    /// returns its sequence number. A message to every node or to ourselves
    /// is also delivered locally at once, as Heartbeat's loopback does.
    pub fn send(&mut self, now: Instant, dest: Option<NodeName>, payload: P) -> u64 {
        let _ = now;
        let seq = self.history.push(Body::Message {
            dest: dest.clone(),
            payload: payload.clone(),
        });
        let local = dest.as_ref().is_none_or(|d| *d == self.local);
        if local {
            self.stats.delivered += 1;
            self.outputs.push_back(Output::Deliver(Delivery {
                from: self.local.clone(),
                generation: self.generation,
                seq,
                payload: payload.clone(),
            }));
        }
        self.outputs.push_back(Output::Transmit(Transmit::Message {
            generation: self.generation,
            seq,
            dest,
            payload,
            retransmission: false,
        }));
        seq
    }

    /// A retransmission request for us: resend what we hold (at most 50 per
    /// request, none resent within the last `max_rexmit_delay - 10 ms`),
    /// refuse what is older, skip what the asker acknowledged.
    fn rexmit_request(&mut self, now: Instant, from: &NodeName, first: u64, last: u64) {
        self.stats.rexmit_requests_received += 1;
        if first == 0 || first > last {
            self.stats.invalid += 1;
            return;
        }
        let acked = self.peers.get(from).map_or(0, |p| p.acked);
        let mut seq = first.max(acked.saturating_add(1));
        let mut budget = MAX_REXMIT_BATCH;
        let low = self.history.lowseq();
        while seq <= last && seq < low && budget > 0 {
            budget -= 1;
            self.stats.naks_sent += 1;
            self.outputs
                .push_back(Output::Transmit(Transmit::NakRexmit {
                    dest: from.clone(),
                    seq,
                    reason: "seqno too low",
                }));
            seq += 1;
        }
        let grace = self.params.max_rexmit_delay.saturating_sub(REXMIT_GRACE);
        let end = last.min(self.history.hiseq());
        while seq <= end && budget > 0 {
            if let Lookup::Held(sent) = self.history.lookup(seq) {
                let recent = sent
                    .last_rexmit
                    .is_some_and(|t| now.saturating_duration_since(t) < grace);
                if !recent {
                    budget -= 1;
                    sent.last_rexmit = Some(now);
                    let transmit = match &sent.body {
                        Body::Status {
                            status,
                            deadtime_ms,
                        } => Transmit::Status {
                            generation: self.generation,
                            seq,
                            status: *status,
                            deadtime_ms: *deadtime_ms,
                            retransmission: true,
                        },
                        Body::Message { dest, payload } => Transmit::Message {
                            generation: self.generation,
                            seq,
                            dest: dest.clone(),
                            payload: payload.clone(),
                            retransmission: true,
                        },
                    };
                    self.stats.retransmissions += 1;
                    self.outputs.push_back(Output::Transmit(transmit));
                }
            }
            seq += 1;
        }
        if last > self.history.hiseq() {
            self.stats.rexmit_beyond_history += 1;
        }
    }

    /// Everything due at `now`: dead nodes and links, our periodic status
    /// heartbeat, retransmission requests. Afterwards
    /// [`poll_timeout`](Self::poll_timeout) is later than `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.detector.tick(now);
        self.drain_detector(now);
        if now >= self.next_status_at {
            let interval = now.saturating_duration_since(self.last_periodic_status);
            if interval > self.warntime {
                self.push_event(Event::LateHeartbeat {
                    node: self.local.clone(),
                    interval,
                    beyond_deadtime: interval > self.deadtime,
                });
            }
            self.send_status();
            self.last_periodic_status = now;
            self.next_status_at += self.keepalive;
            if self.next_status_at <= now {
                self.next_status_at = now + self.keepalive;
            }
        }
        let params = self.params;
        let mut ranges = std::mem::take(&mut self.ranges);
        for (node, peer) in &mut self.peers {
            peer.rx.due_requests(now, &params, &mut ranges);
            if self.detector.status(node) == Some(NodeStatus::Dead) {
                // hb_rexmit.c: no point asking a dead node; keep the timers.
                ranges.clear();
                continue;
            }
            for (first, last) in ranges.drain(..) {
                self.stats.rexmit_requests_sent += 1;
                self.outputs
                    .push_back(Output::Transmit(Transmit::RexmitRequest {
                        dest: node.clone(),
                        first,
                        last,
                    }));
            }
        }
        self.ranges = ranges;
        debug_assert!(self.poll_timeout().is_some_and(|t| t > now));
    }

    /// The instant at which [`handle_timeout`](Self::handle_timeout) must
    /// next be called; never `None` (the status heartbeat is periodic).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_status_at;
        if let Some(t) = self.detector.poll_timeout() {
            next = next.min(t);
        }
        for peer in self.peers.values() {
            if let Some(t) = peer.rx.next_due() {
                next = next.min(t);
            }
        }
        Some(next)
    }

    /// The next output, oldest first.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output<P>> {
        self.outputs.pop_front()
    }

    /// This node's name.
    pub fn local(&self) -> &NodeName {
        &self.local
    }

    /// This node's generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Our status: `up`, then `active` from comm up on.
    pub fn local_status(&self) -> NodeStatus {
        self.detector.local_status()
    }

    /// Every node has been heard from or declared dead.
    pub fn is_comm_up(&self) -> bool {
        self.detector.is_comm_up()
    }

    /// A node's status; `None` for a node not in the table.
    pub fn node_status(&self, node: &NodeName) -> Option<NodeStatus> {
        self.detector.status(node)
    }

    /// A link's status; `None` for an unknown node or medium.
    pub fn link_status(&self, node: &NodeName, medium: MediumId) -> Option<LinkStatus> {
        self.detector.link_status(node, medium)
    }

    /// Every node and its status.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeName, NodeStatus)> {
        self.detector.nodes()
    }

    /// The deadtime that applies to `node` now.
    pub fn deadtime_of(&self, node: &NodeName) -> Option<Duration> {
        self.detector.deadtime_of(node)
    }

    /// Our messages not yet acknowledged by the slowest live peer. Heartbeat
    /// pauses its clients while this exceeds the window (flow control).
    pub fn unacked(&self) -> u64 {
        let hiseq = self.history.hiseq();
        self.detector
            .nodes()
            .filter(|(n, s)| **n != self.local && s.is_alive())
            .map(|(n, _)| hiseq.saturating_sub(self.peers.get(n).map_or(0, |p| p.acked)))
            .max()
            .unwrap_or(0)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Checks every internal invariant in time linear in the number of
    /// peers (for tests and the simulator); the error names the broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.detector.check_invariants()?;
        self.history.check_invariants()?;
        for (node, peer) in &self.peers {
            peer.rx
                .check_invariants(&self.params)
                .map_err(|e| format!("peer {node}: {e}"))?;
        }
        Ok(())
    }
}

//! Receive-side sequence tracking of one sender (WIRE.md section 7,
//! heartbeat.c `should_drop_message`, `is_lost_packet`, hb_rexmit.c):
//! generation, last sequence number, the missing set with its retransmission
//! timers, and the hold-back buffer that turns it into ordered delivery.
//!
//! Sequence numbers `next..=last_seq` are tracked in one bounded deque of
//! slots, each either missing (with the instant its next retransmission
//! request is due) or arrived (with the payload to deliver, if any). Slots
//! exist only while a gap is open: the first slot is always missing, the last
//! always arrived. Everything below `next` has been delivered, skipped or
//! given up on, so memory per sender is at most `window + 1` slots and
//! `holdback_bytes` of payload.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::types::{LossReason, Payload};

/// Heartbeat's `ACK_MSG_DIV`: a receiver acks one sequence number in ten.
pub const ACK_DIVISOR: u64 = 10;
/// Heartbeat's `MAX_REXMIT_BATCH`: the most sequence numbers one
/// retransmission request names (and a sender answers at once).
pub const MAX_REXMIT_BATCH: u64 = 50;

/// The limits sequence tracking works within (from [`crate::Config`]).
#[derive(Debug, Clone, Copy)]
pub struct SeqParams {
    /// Widest gap still repaired; the hold-back holds `window + 1` slots.
    pub window: u64,
    /// Byte bound of held-back payloads.
    pub holdback_bytes: usize,
    /// `max_rexmit_delay`.
    pub max_rexmit_delay: Duration,
}

/// One sequenced packet as sequence tracking sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered<P> {
    /// The sender's generation (`hg`).
    pub generation: u64,
    /// Its sequence number (`seq`).
    pub seq: u64,
    /// The payload to deliver in order, or `None` for a packet that takes a
    /// sequence number but is not for the application here (a status
    /// heartbeat, a message to another node).
    pub item: Option<P>,
}

/// What became of one sequenced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// New: in order, ahead of a gap, or filling one. `restarted_from` is
    /// the sender's previous generation when this packet revealed a restart.
    Accepted {
        /// Previous generation, on a restart.
        restarted_from: Option<u64>,
    },
    /// The same sequence number as the newest accepted one: dropped
    /// silently, but it still shows the link works.
    Duplicate,
    /// Older than the newest and not missing: dropped silently.
    Stale,
    /// A lower generation than the sender's: dropped and reported.
    Replay {
        /// The sender's current generation.
        current: u64,
    },
    /// Sequence number 0 or `u64::MAX`: never sent by a sane peer.
    Invalid,
}

/// What sequence tracking asks of its owner, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqOutput<P> {
    /// Deliver this message (next in sequence order).
    Deliver {
        /// Its generation.
        generation: u64,
        /// Its sequence number.
        seq: u64,
        /// The message.
        payload: P,
    },
    /// A gap opened: `first..=last` are missing.
    Missing {
        /// First missing.
        first: u64,
        /// Last missing.
        last: u64,
    },
    /// Every gap is closed.
    NoneMissing,
    /// `first..=last` are given up.
    Lost {
        /// First lost.
        first: u64,
        /// Last lost.
        last: u64,
        /// Why.
        reason: LossReason,
    },
    /// Acknowledge everything up to `seq` to the sender (`NS_ackmsg`).
    Ack {
        /// Highest sequence number received without a gap before it.
        seq: u64,
    },
}

#[derive(Debug, Clone)]
enum Slot<P> {
    Missing { due: Instant },
    Arrived(Option<P>),
}

/// Receive-side state of one sender.
#[derive(Debug, Clone)]
pub struct Receiver<P> {
    generation: Option<u64>,
    /// Newest accepted sequence number (0: none in this generation).
    last_seq: u64,
    /// Next sequence number to deliver; `last_seq + 1` when no gap is open.
    next: u64,
    slots: VecDeque<Slot<P>>,
    held_bytes: usize,
    /// After the sender was declared dead: the next packet newer than
    /// `last_seq` starts tracking afresh, without retransmission requests.
    resync: bool,
    /// This sender's ack phase (0..10), random per sender as in Heartbeat.
    ack_trigger: u64,
    next_due: Option<Instant>,
}

impl<P: Payload> Receiver<P> {
    /// A sender never heard from; `ack_trigger` is taken modulo 10.
    pub fn new(ack_trigger: u64) -> Receiver<P> {
        Receiver {
            generation: None,
            last_seq: 0,
            next: 1,
            slots: VecDeque::new(),
            held_bytes: 0,
            resync: false,
            ack_trigger: ack_trigger % ACK_DIVISOR,
            next_due: None,
        }
    }

    /// The sender's generation, once heard.
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// The newest accepted sequence number (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Number of sequence numbers currently missing.
    pub fn missing(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Missing { .. }))
            .count()
    }

    /// When the next retransmission request is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// One sequenced packet; what it releases is appended to `out`.
    pub fn receive(
        &mut self,
        now: Instant,
        packet: Numbered<P>,
        params: &SeqParams,
        rng: &mut Rng,
        out: &mut Vec<SeqOutput<P>>,
    ) -> Verdict {
        let Numbered {
            generation,
            seq,
            item,
        } = packet;
        if seq == 0 || seq == u64::MAX {
            return Verdict::Invalid;
        }
        match self.generation {
            None => {
                self.generation = Some(generation);
                self.baseline(seq, item, out);
                return Verdict::Accepted {
                    restarted_from: None,
                };
            }
            Some(g) if generation < g => return Verdict::Replay { current: g },
            Some(g) if generation > g => {
                self.flush(LossReason::NodeRestarted, out);
                self.generation = Some(generation);
                self.resync = false;
                // A restarted sender numbers from 1 again (ha_msg_internal.c).
                self.last_seq = 0;
                self.next = 1;
                let v = self.accept(now, seq, item, params, rng, out);
                debug_assert!(matches!(v, Verdict::Accepted { .. }));
                return Verdict::Accepted {
                    restarted_from: Some(g),
                };
            }
            Some(_) => {}
        }
        if self.resync {
            if seq <= self.last_seq {
                return self.old(seq);
            }
            if seq > self.last_seq + 1 {
                push_lost(out, self.last_seq + 1, seq - 1, LossReason::NodeDead);
            }
            self.resync = false;
            self.baseline(seq, item, out);
            return Verdict::Accepted {
                restarted_from: None,
            };
        }
        self.accept(now, seq, item, params, rng, out)
    }

    fn old(&self, seq: u64) -> Verdict {
        if seq == self.last_seq {
            Verdict::Duplicate
        } else {
            Verdict::Stale
        }
    }

    /// Tracking starts at `seq`, which is delivered at once.
    fn baseline(&mut self, seq: u64, item: Option<P>, out: &mut Vec<SeqOutput<P>>) {
        debug_assert!(self.slots.is_empty());
        self.last_seq = seq;
        self.next = seq;
        self.deliver(item, out);
        self.next = seq + 1;
        self.ack(seq, seq, out);
    }

    fn deliver(&mut self, item: Option<P>, out: &mut Vec<SeqOutput<P>>) {
        if let (Some(payload), Some(generation)) = (item, self.generation) {
            out.push(SeqOutput::Deliver {
                generation,
                seq: self.next,
                payload,
            });
        }
    }

    fn accept(
        &mut self,
        now: Instant,
        seq: u64,
        item: Option<P>,
        params: &SeqParams,
        rng: &mut Rng,
        out: &mut Vec<SeqOutput<P>>,
    ) -> Verdict {
        let accepted = Verdict::Accepted {
            restarted_from: None,
        };
        if seq <= self.last_seq {
            if seq < self.next {
                return self.old(seq);
            }
            let idx = (seq - self.next) as usize;
            let Some(slot) = self.slots.get_mut(idx) else {
                debug_assert!(false, "slot {idx} beyond the tracked range");
                return Verdict::Stale;
            };
            if let Slot::Arrived(_) = slot {
                return self.old(seq);
            }
            self.held_bytes += item.as_ref().map_or(0, Payload::size);
            *slot = Slot::Arrived(item);
            if idx == 0 {
                self.drain(out);
            }
            self.enforce_bounds(params, out);
            self.recompute_due();
            return accepted;
        }
        let gap = seq - self.last_seq - 1;
        if gap == 0 {
            if self.slots.is_empty() {
                self.last_seq = seq;
                self.deliver(item, out);
                self.next = seq + 1;
                self.ack(seq, seq, out);
            } else {
                self.last_seq = seq;
                self.held_bytes += item.as_ref().map_or(0, Payload::size);
                self.slots.push_back(Slot::Arrived(item));
                self.enforce_bounds(params, out);
            }
            return accepted;
        }
        if gap > params.window {
            // heartbeat.c: "lost a lot of packets!": start over past the gap.
            self.flush(LossReason::GapTooLarge, out);
            push_lost(out, self.last_seq + 1, seq - 1, LossReason::GapTooLarge);
            self.baseline(seq, item, out);
            return accepted;
        }
        let max = params.max_rexmit_delay;
        // hb_rexmit.c: a 50 ms floor lets reordered packets arrive first.
        let min = if max < Duration::from_millis(100) {
            Duration::ZERO
        } else {
            Duration::from_millis(50)
        };
        let due = now + rng.duration_between(min, max);
        out.push(SeqOutput::Missing {
            first: self.last_seq + 1,
            last: seq - 1,
        });
        self.slots.extend((0..gap).map(|_| Slot::Missing { due }));
        self.held_bytes += item.as_ref().map_or(0, Payload::size);
        self.slots.push_back(Slot::Arrived(item));
        self.last_seq = seq;
        self.next_due = Some(self.next_due.map_or(due, |d| d.min(due)));
        self.enforce_bounds(params, out);
        self.recompute_due();
        accepted
    }

    /// Delivers the arrived slots at the front; reports the ack and the end
    /// of all gaps.
    fn drain(&mut self, out: &mut Vec<SeqOutput<P>>) {
        let first = self.next;
        while let Some(Slot::Arrived(_)) = self.slots.front() {
            let Some(Slot::Arrived(item)) = self.slots.pop_front() else {
                unreachable!("front was just matched");
            };
            self.held_bytes -= item.as_ref().map_or(0, Payload::size);
            self.deliver(item, out);
            self.next += 1;
        }
        if self.next != first {
            self.ack(first, self.next - 1, out);
            if self.slots.is_empty() {
                self.next_due = None;
                out.push(SeqOutput::NoneMissing);
            }
        }
    }

    /// Gives up the oldest missing sequence numbers until the hold-back is
    /// within its bounds.
    fn enforce_bounds(&mut self, params: &SeqParams, out: &mut Vec<SeqOutput<P>>) {
        while self.slots.len() as u64 > params.window + 1 || self.held_bytes > params.holdback_bytes
        {
            match self.slots.pop_front() {
                Some(Slot::Missing { .. }) => {
                    push_lost(out, self.next, self.next, LossReason::GapTooLarge);
                    self.next += 1;
                    self.drain(out);
                    self.recompute_due();
                }
                other => {
                    debug_assert!(false, "front slot must be missing: {}", other.is_some());
                    break;
                }
            }
        }
    }

    /// Acks the highest sequence number in `first..=last` that falls on this
    /// sender's ack phase (heartbeat.c `send_ack_if_needed`).
    fn ack(&self, first: u64, last: u64, out: &mut Vec<SeqOutput<P>>) {
        if last < self.ack_trigger {
            return;
        }
        let s = last - (last - self.ack_trigger) % ACK_DIVISOR;
        if s >= first {
            out.push(SeqOutput::Ack { seq: s });
        }
    }

    fn recompute_due(&mut self) {
        self.next_due = self
            .slots
            .iter()
            .filter_map(|s| match s {
                Slot::Missing { due } => Some(*due),
                Slot::Arrived(_) => None,
            })
            .min();
    }

    /// The sender cannot retransmit `seq` (`NS_nak_rexmit`): give it up.
    /// Returns false when `seq` was not missing.
    pub fn nak(&mut self, seq: u64, out: &mut Vec<SeqOutput<P>>) -> bool {
        if seq < self.next || seq > self.last_seq {
            return false;
        }
        let idx = (seq - self.next) as usize;
        match self.slots.get_mut(idx) {
            Some(slot @ Slot::Missing { .. }) => {
                *slot = Slot::Arrived(None);
                push_lost(out, seq, seq, LossReason::NotRetransmittable);
                if idx == 0 {
                    self.drain(out);
                }
                self.recompute_due();
                true
            }
            _ => false,
        }
    }

    /// The sender was declared dead: deliver what is held, give up what is
    /// missing, and start afresh with its next newer packet.
    pub fn node_dead(&mut self, out: &mut Vec<SeqOutput<P>>) {
        self.flush(LossReason::NodeDead, out);
        self.resync = self.generation.is_some();
    }

    fn flush(&mut self, reason: LossReason, out: &mut Vec<SeqOutput<P>>) {
        let had_gap = !self.slots.is_empty();
        while let Some(slot) = self.slots.pop_front() {
            match slot {
                Slot::Missing { .. } => push_lost(out, self.next, self.next, reason),
                Slot::Arrived(item) => {
                    self.held_bytes -= item.as_ref().map_or(0, Payload::size);
                    self.deliver(item, out);
                }
            }
            self.next += 1;
        }
        if had_gap {
            out.push(SeqOutput::NoneMissing);
        }
        self.next_due = None;
        debug_assert_eq!(self.held_bytes, 0);
        debug_assert_eq!(self.next, self.last_seq + 1);
    }

    /// The missing sequence numbers whose request is due at `now`, as
    /// ranges of at most [`MAX_REXMIT_BATCH`]; each is due again
    /// `max_rexmit_delay` later (hb_rexmit.c repeats while it is missing).
    pub fn due_requests(&mut self, now: Instant, params: &SeqParams, ranges: &mut Vec<(u64, u64)>) {
        if self.next_due.is_none_or(|d| d > now) {
            return;
        }
        let again = now + params.max_rexmit_delay;
        let mut current: Option<(u64, u64)> = None;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let seq = self.next + i as u64;
            match slot {
                Slot::Missing { due } if *due <= now => {
                    *due = again;
                    current = match current {
                        Some((f, l)) if l + 1 == seq && seq - f < MAX_REXMIT_BATCH => {
                            Some((f, seq))
                        }
                        Some(r) => {
                            ranges.push(r);
                            Some((seq, seq))
                        }
                        None => Some((seq, seq)),
                    };
                }
                _ => {}
            }
        }
        ranges.extend(current);
        self.recompute_due();
    }

    /// Checks the tracking invariants in constant time; the error names the
    /// broken one.
    pub fn check_invariants(&self, params: &SeqParams) -> Result<(), String> {
        if self.next + self.slots.len() as u64 != self.last_seq + 1 {
            return Err(format!(
                "next {} + {} slots != last_seq {} + 1",
                self.next,
                self.slots.len(),
                self.last_seq
            ));
        }
        if self.slots.len() as u64 > params.window + 1 {
            return Err(format!("{} slots held", self.slots.len()));
        }
        if self.held_bytes > params.holdback_bytes {
            return Err(format!("{} bytes held", self.held_bytes));
        }
        match (self.slots.front(), self.slots.back()) {
            (None, None) => {
                if self.next_due.is_some() || self.held_bytes != 0 {
                    return Err("no gap but a request due or bytes held".into());
                }
            }
            (Some(Slot::Missing { .. }), Some(Slot::Arrived(_))) => {
                if self.next_due.is_none() {
                    return Err("a gap without a request due".into());
                }
            }
            _ => return Err("a gap must start missing and end arrived".into()),
        }
        if self.resync && !self.slots.is_empty() {
            return Err("resync with a gap open".into());
        }
        Ok(())
    }
}

/// Appends a loss, merged with the previous one when adjacent.
fn push_lost<P>(out: &mut Vec<SeqOutput<P>>, first: u64, last: u64, reason: LossReason) {
    if let Some(SeqOutput::Lost {
        last: prev_last,
        reason: prev_reason,
        ..
    }) = out.last_mut()
    {
        if *prev_reason == reason && *prev_last + 1 == first {
            *prev_last = last;
            return;
        }
    }
    out.push(SeqOutput::Lost {
        first,
        last,
        reason,
    });
}

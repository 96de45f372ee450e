//! Receive-side sequence tracking of one sender: order, duplicates, gaps and
//! their retransmission timers, the window and byte bounds, replays,
//! restarts, NAKs, death and acks.

use std::time::Instant;

use super::{ms, Clock};
use crate::rng::Rng;
use crate::seq::{Numbered, Receiver, SeqOutput, SeqParams, Verdict, MAX_REXMIT_BATCH};
use crate::LossReason;

const ACCEPTED: Verdict = Verdict::Accepted {
    restarted_from: None,
};

fn params() -> SeqParams {
    SeqParams {
        window: 250,
        holdback_bytes: 1 << 20,
        max_rexmit_delay: ms(250),
    }
}

/// A receiver whose ack phase is 9 (acks are tested on their own), and the
/// helpers to feed it.
struct T {
    rx: Receiver<Vec<u8>>,
    p: SeqParams,
    rng: Rng,
    now: Instant,
}

impl T {
    fn new() -> T {
        T {
            rx: Receiver::new(9),
            p: params(),
            rng: Rng::new(1),
            now: Clock::new().at(0),
        }
    }

    /// Receives `seq` of generation 1 carrying `[seq]`; returns the verdict
    /// and the outputs, acks left out.
    fn recv(&mut self, seq: u64) -> (Verdict, Vec<SeqOutput<Vec<u8>>>) {
        self.recv_gen(1, seq)
    }

    fn recv_gen(&mut self, generation: u64, seq: u64) -> (Verdict, Vec<SeqOutput<Vec<u8>>>) {
        let mut out = Vec::new();
        let packet = Numbered {
            generation,
            seq,
            item: Some(vec![seq as u8]),
        };
        let v = self
            .rx
            .receive(self.now, packet, &self.p, &mut self.rng, &mut out);
        self.rx.check_invariants(&self.p).unwrap();
        out.retain(|o| !matches!(o, SeqOutput::Ack { .. }));
        (v, out)
    }
}

fn delivered(out: &[SeqOutput<Vec<u8>>]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            SeqOutput::Deliver { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

fn deliver(generation: u64, seq: u64) -> SeqOutput<Vec<u8>> {
    SeqOutput::Deliver {
        generation,
        seq,
        payload: vec![seq as u8],
    }
}

#[test]
fn in_order_is_delivered_duplicates_and_old_are_dropped() {
    let mut t = T::new();
    assert_eq!(t.recv(40), (ACCEPTED, vec![deliver(1, 40)]));
    assert_eq!(t.recv(41), (ACCEPTED, vec![deliver(1, 41)]));
    assert_eq!(t.recv(41).0, Verdict::Duplicate);
    assert_eq!(t.recv(39).0, Verdict::Stale);
    assert_eq!(t.recv(0).0, Verdict::Invalid);
    assert_eq!(t.recv(u64::MAX).0, Verdict::Invalid);
    assert_eq!(t.rx.last_seq(), 41);
}

#[test]
fn a_gap_holds_back_until_filled() {
    let mut t = T::new();
    let _ = t.recv(1);
    let (v, out) = t.recv(4);
    assert_eq!(v, ACCEPTED);
    assert_eq!(out, [SeqOutput::Missing { first: 2, last: 3 }]);
    assert_eq!(t.rx.missing(), 2);
    assert!(delivered(&t.recv(5).1).is_empty());
    assert_eq!(t.recv(4).0, Verdict::Stale);
    assert_eq!(t.recv(5).0, Verdict::Duplicate);
    // 3 fills a gap but 2 still blocks.
    let (v, out) = t.recv(3);
    assert_eq!((v, out), (ACCEPTED, vec![]));
    assert_eq!(t.recv(3).0, Verdict::Stale);
    let (_, out) = t.recv(2);
    assert_eq!(delivered(&out), [2, 3, 4, 5]);
    assert_eq!(out.last(), Some(&SeqOutput::NoneMissing));
    assert_eq!(t.rx.next_due(), None);
}

#[test]
fn requests_go_out_after_50_to_250_ms_and_repeat_every_250() {
    let mut t = T::new();
    let _ = t.recv(1);
    let _ = t.recv(5);
    let due = t.rx.next_due().unwrap();
    assert!(
        due >= t.now + ms(50) && due <= t.now + ms(250),
        "{:?}",
        due - t.now
    );
    let mut ranges = Vec::new();
    t.rx.due_requests(due - ms(1), &t.p, &mut ranges);
    assert!(ranges.is_empty());
    t.rx.due_requests(due, &t.p, &mut ranges);
    assert_eq!(ranges, [(2, 4)]);
    assert_eq!(t.rx.next_due(), Some(due + ms(250)));
    ranges.clear();
    // Filling the middle splits the range.
    let _ = t.recv(3);
    t.rx.due_requests(due + ms(250), &t.p, &mut ranges);
    assert_eq!(ranges, [(2, 2), (4, 4)]);
}

#[test]
fn short_max_rexmit_delay_has_no_50_ms_floor() {
    let mut t = T::new();
    t.p.max_rexmit_delay = ms(40);
    let _ = t.recv(1);
    let _ = t.recv(3);
    assert!(t.rx.next_due().unwrap() <= t.now + ms(40));
}

#[test]
fn requests_name_at_most_50_sequence_numbers() {
    let mut t = T::new();
    let _ = t.recv(1);
    let _ = t.recv(122);
    let mut ranges = Vec::new();
    t.rx.due_requests(t.now + ms(250), &t.p, &mut ranges);
    assert_eq!(ranges, [(2, 51), (52, 101), (102, 121)]);
    assert!(ranges.iter().all(|(f, l)| l - f < MAX_REXMIT_BATCH));
}

#[test]
fn a_gap_wider_than_the_window_restarts_tracking() {
    let mut t = T::new();
    let _ = t.recv(1);
    let _ = t.recv(3); // 2 missing, 3 held
    let (v, out) = t.recv(300);
    assert_eq!(v, ACCEPTED);
    assert_eq!(
        out,
        [
            SeqOutput::Lost {
                first: 2,
                last: 2,
                reason: LossReason::GapTooLarge
            },
            deliver(1, 3),
            SeqOutput::NoneMissing,
            SeqOutput::Lost {
                first: 4,
                last: 299,
                reason: LossReason::GapTooLarge
            },
            deliver(1, 300),
        ]
    );
    assert_eq!(t.recv(301).1, [deliver(1, 301)]);
}

#[test]
fn a_hole_that_never_fills_is_given_up_at_the_window() {
    let mut t = T::new();
    t.p.window = 10;
    let _ = t.recv(1);
    let _ = t.recv(3);
    for seq in 4..=12 {
        assert!(delivered(&t.recv(seq).1).is_empty());
    }
    // 13 would make 12 slots (2..=13) > window + 1: 2 is given up.
    let (_, out) = t.recv(13);
    assert_eq!(
        out[0],
        SeqOutput::Lost {
            first: 2,
            last: 2,
            reason: LossReason::GapTooLarge
        }
    );
    assert_eq!(delivered(&out), (3..=13).collect::<Vec<_>>());
}

#[test]
fn held_bytes_are_bounded() {
    let mut t = T::new();
    t.p.holdback_bytes = 3;
    let _ = t.recv(1);
    let _ = t.recv(3);
    let _ = t.recv(4);
    let _ = t.recv(5);
    let (_, out) = t.recv(6); // a fourth byte held: 2 is given up
    assert_eq!(delivered(&out), [3, 4, 5, 6]);
}

#[test]
fn lower_generation_is_a_replay_higher_a_restart() {
    let mut t = T::new();
    let _ = t.recv_gen(5, 10);
    let _ = t.recv_gen(5, 12); // 11 missing, 12 held
    assert_eq!(t.recv_gen(4, 13).0, Verdict::Replay { current: 5 });
    let (v, out) = t.recv_gen(6, 2);
    assert_eq!(
        v,
        Verdict::Accepted {
            restarted_from: Some(5)
        }
    );
    assert_eq!(
        out,
        [
            SeqOutput::Lost {
                first: 11,
                last: 11,
                reason: LossReason::NodeRestarted
            },
            deliver(5, 12),
            SeqOutput::NoneMissing,
            // A restarted sender numbers from 1: 1 is missing.
            SeqOutput::Missing { first: 1, last: 1 },
        ]
    );
    assert_eq!(t.rx.generation(), Some(6));
    assert_eq!(
        t.recv_gen(6, 1).1,
        [deliver(6, 1), deliver(6, 2), SeqOutput::NoneMissing]
    );
}

#[test]
fn a_nak_gives_up_one_sequence_number() {
    let mut t = T::new();
    let _ = t.recv(1);
    let _ = t.recv(4);
    let mut out = Vec::new();
    assert!(!t.rx.nak(9, &mut out));
    assert!(t.rx.nak(3, &mut out));
    assert!(!t.rx.nak(3, &mut out));
    assert!(t.rx.nak(2, &mut out));
    out.retain(|o| !matches!(o, SeqOutput::Ack { .. }));
    assert_eq!(
        out,
        [
            SeqOutput::Lost {
                first: 3,
                last: 3,
                reason: LossReason::NotRetransmittable
            },
            SeqOutput::Lost {
                first: 2,
                last: 2,
                reason: LossReason::NotRetransmittable
            },
            deliver(1, 4),
            SeqOutput::NoneMissing,
        ]
    );
    t.rx.check_invariants(&t.p).unwrap();
}

#[test]
fn death_flushes_and_the_return_resynchronises_without_replays() {
    let mut t = T::new();
    let _ = t.recv(1);
    let _ = t.recv(3);
    let mut out = Vec::new();
    t.rx.node_dead(&mut out);
    assert_eq!(
        out,
        [
            SeqOutput::Lost {
                first: 2,
                last: 2,
                reason: LossReason::NodeDead
            },
            deliver(1, 3),
            SeqOutput::NoneMissing,
        ]
    );
    t.rx.check_invariants(&t.p).unwrap();
    // Old packets replayed while it is dead are still refused.
    assert_eq!(t.recv(2).0, Verdict::Stale);
    assert_eq!(t.recv(3).0, Verdict::Duplicate);
    // What it sent while dead to us is lost; tracking resumes without asking.
    let (v, out) = t.recv(900);
    assert_eq!(v, ACCEPTED);
    assert_eq!(
        out,
        [
            SeqOutput::Lost {
                first: 4,
                last: 899,
                reason: LossReason::NodeDead
            },
            deliver(1, 900)
        ]
    );
    assert_eq!(t.rx.next_due(), None);
}

fn numbered(seq: u64) -> Numbered<Vec<u8>> {
    Numbered {
        generation: 1,
        seq,
        item: None,
    }
}

#[test]
fn acks_fall_on_the_senders_phase_and_never_pass_a_gap() {
    let mut rx: Receiver<Vec<u8>> = Receiver::new(3);
    let p = params();
    let mut rng = Rng::new(1);
    let now = Clock::new().at(0);
    let mut acks = Vec::new();
    for seq in (1..=25).filter(|s| *s != 12) {
        let mut out = Vec::new();
        let _ = rx.receive(now, numbered(seq), &p, &mut rng, &mut out);
        acks.extend(out.iter().filter_map(|o| match o {
            SeqOutput::Ack { seq } => Some(*seq),
            _ => None,
        }));
    }
    // 13 and 23 are past the gap at 12: no ack until it fills.
    assert_eq!(acks, [3]);
    let mut out = Vec::new();
    let _ = rx.receive(now, numbered(12), &p, &mut rng, &mut out);
    assert!(out.contains(&SeqOutput::Ack { seq: 23 }));
}

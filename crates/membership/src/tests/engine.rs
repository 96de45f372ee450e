//! The wired core: status heartbeats on the keepalive, local delivery,
//! answering retransmission requests from the history, NAKs, own looped-back
//! packets, hostile input, and a random-input soak that checks invariants.

use std::time::Instant;

use super::{config, ms, name, Clock};
use crate::engine::{Delivery, Membership, Output, Packet, PacketKind, Transmit};
use crate::rng::Rng;
use crate::{Event, LinkStatus, LossReason, MediumId, NodeStatus};

type Core = Membership<Vec<u8>>;

fn drain(m: &mut Core) -> Vec<Output<Vec<u8>>> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn transmits(out: &[Output<Vec<u8>>]) -> Vec<Transmit<Vec<u8>>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn status(from: &str, generation: u64, seq: u64, st: NodeStatus) -> Packet<Vec<u8>> {
    Packet {
        from: name(from),
        medium: MediumId(0),
        kind: PacketKind::Status {
            generation,
            seq,
            status: st,
            deadtime_ms: Some(500),
        },
    }
}

fn message(from: &str, seq: u64, dest: Option<&str>) -> Packet<Vec<u8>> {
    Packet {
        from: name(from),
        medium: MediumId(0),
        kind: PacketKind::Message {
            generation: 7,
            seq,
            dest: dest.map(name),
            payload: vec![seq as u8],
        },
    }
}

fn control(from: &str, kind: PacketKind<Vec<u8>>) -> Packet<Vec<u8>> {
    Packet {
        from: name(from),
        medium: MediumId(0),
        kind,
    }
}

/// hb1 at t = 0 with hb2 and hb3 active (generation 7) from t = 10 ms.
fn active(clock: &Clock) -> Core {
    let mut m = Core::new(config(1), clock.at(0)).unwrap();
    m.handle_packet(clock.at(10), status("hb2", 7, 1, NodeStatus::Active));
    m.handle_packet(clock.at(10), status("hb3", 7, 1, NodeStatus::Active));
    assert_eq!(m.local_status(), NodeStatus::Active);
    drain(&mut m);
    m
}

#[test]
fn heartbeats_go_out_on_start_on_comm_up_and_every_keepalive() {
    let clock = Clock::new();
    let mut m = Core::new(config(1), clock.at(0)).unwrap();
    let out = drain(&mut m);
    assert_eq!(
        out,
        [
            Output::Event(Event::NodeStatusChanged {
                node: name("hb1"),
                old: NodeStatus::Init,
                new: NodeStatus::Up
            }),
            Output::Transmit(Transmit::Status {
                generation: 100,
                seq: 1,
                status: NodeStatus::Up,
                deadtime_ms: 500,
                retransmission: false
            }),
        ]
    );
    m.handle_packet(clock.at(10), status("hb2", 7, 1, NodeStatus::Up));
    m.handle_packet(clock.at(10), status("hb3", 7, 1, NodeStatus::Up));
    let t = transmits(&drain(&mut m));
    assert!(t.contains(&Transmit::Status {
        generation: 100,
        seq: 2,
        status: NodeStatus::Active,
        deadtime_ms: 500,
        retransmission: false
    }));
    assert_eq!(m.poll_timeout(), Some(clock.at(100)));
    for (i, at) in [100, 200, 300].into_iter().enumerate() {
        m.handle_timeout(clock.at(at));
        let t = transmits(&drain(&mut m));
        assert!(
            matches!(t[..], [Transmit::Status { seq, .. }] if seq == 3 + i as u64),
            "{t:?}"
        );
    }
}

#[test]
fn a_late_local_tick_is_a_late_local_heartbeat() {
    let clock = Clock::new();
    let mut m = active(&clock);
    m.handle_timeout(clock.at(100));
    drain(&mut m);
    // The caller slept through 5 keepalives (and hb2/hb3's deadtime).
    m.handle_timeout(clock.at(700));
    let out = drain(&mut m);
    assert!(out.contains(&Output::Event(Event::LateHeartbeat {
        node: name("hb1"),
        interval: ms(600),
        beyond_deadtime: true
    })));
    // The next heartbeat is a keepalive from now, not a burst.
    assert_eq!(m.poll_timeout(), Some(clock.at(800)));
}

#[test]
fn own_broadcasts_are_delivered_locally_addressed_ones_only_to_us() {
    let clock = Clock::new();
    let mut m = active(&clock);
    let seq = m.send(clock.at(20), None, vec![1]);
    let out = drain(&mut m);
    assert_eq!(
        out[0],
        Output::Deliver(Delivery {
            from: name("hb1"),
            generation: 100,
            seq,
            payload: vec![1]
        })
    );
    let _ = m.send(clock.at(20), Some(name("hb2")), vec![2]);
    let out = drain(&mut m);
    assert!(matches!(
        out[..],
        [Output::Transmit(Transmit::Message { .. })]
    ));
    let _ = m.send(clock.at(20), Some(name("hb1")), vec![3]);
    assert!(matches!(drain(&mut m)[0], Output::Deliver(_)));
}

#[test]
fn messages_to_others_take_a_sequence_number_but_are_not_delivered() {
    let clock = Clock::new();
    let mut m = active(&clock);
    m.handle_packet(clock.at(20), message("hb2", 2, Some("hb3")));
    m.handle_packet(clock.at(20), message("hb2", 3, None));
    let out = drain(&mut m);
    let delivered: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Deliver(d) => Some(d.seq),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [3]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Event(Event::PacketsMissing { .. }))));
}

#[test]
fn retransmission_requests_are_answered_from_the_history() {
    let clock = Clock::new();
    let mut c = config(1);
    c.history_len = 300;
    let mut m = Core::new(c, clock.at(0)).unwrap();
    for i in 0..400u32 {
        let _ = m.send(clock.at(1), None, vec![i as u8]);
    }
    drain(&mut m);
    // seq 1 is the first status; messages are 2..=401; 102..=401 are kept.
    let ask = |m: &mut Core, at: u64, first: u64, last: u64| {
        m.handle_packet(
            clock.at(at),
            control(
                "hb2",
                PacketKind::RexmitRequest {
                    dest: name("hb1"),
                    first,
                    last,
                },
            ),
        );
        transmits(&drain(m))
    };
    let t = ask(&mut m, 10, 200, 201);
    assert_eq!(t.len(), 2);
    assert!(matches!(
        &t[0],
        Transmit::Message { seq: 200, retransmission: true, payload, .. } if *payload == [198u8]
    ));
    // Again within max_rexmit_delay - 10 ms: nothing; after it: again.
    assert!(ask(&mut m, 249, 200, 200).is_empty());
    assert_eq!(ask(&mut m, 250, 200, 200).len(), 1);
    // Too old: a NAK per sequence number.
    assert_eq!(
        ask(&mut m, 300, 100, 102)[..2],
        [
            Transmit::NakRexmit {
                dest: name("hb2"),
                seq: 100,
                reason: "seqno too low"
            },
            Transmit::NakRexmit {
                dest: name("hb2"),
                seq: 101,
                reason: "seqno too low"
            },
        ]
    );
    // At most 50 per request, however wide (and never a long loop).
    assert_eq!(ask(&mut m, 400, 300, u64::MAX).len(), 50);
    assert_eq!(ask(&mut m, 500, 1, u64::MAX).len(), 50);
    assert!(m.stats().rexmit_beyond_history >= 2);
    // Acknowledged: not resent.
    m.handle_packet(
        clock.at(600),
        control(
            "hb2",
            PacketKind::Ack {
                dest: name("hb1"),
                ackseq: 380,
            },
        ),
    );
    assert_eq!(ask(&mut m, 700, 379, 381).len(), 1);
    // A request to another node is not ours to answer.
    m.handle_packet(
        clock.at(800),
        control(
            "hb2",
            PacketKind::RexmitRequest {
                dest: name("hb3"),
                first: 390,
                last: 390,
            },
        ),
    );
    assert!(drain(&mut m).is_empty());
    m.check_invariants().unwrap();
}

#[test]
fn a_gap_is_requested_and_a_nak_reports_the_loss() {
    let clock = Clock::new();
    let mut m = active(&clock);
    m.handle_packet(clock.at(20), message("hb2", 4, None));
    let out = drain(&mut m);
    assert!(out.contains(&Output::Event(Event::PacketsMissing {
        node: name("hb2"),
        first: 2,
        last: 3
    })));
    let request = Transmit::RexmitRequest {
        dest: name("hb2"),
        first: 2,
        last: 3,
    };
    let mut asked_at = None;
    while asked_at.is_none() {
        let due = m.poll_timeout().unwrap();
        assert!(due <= clock.at(20 + 250));
        m.handle_timeout(due);
        if transmits(&drain(&mut m)).contains(&request) {
            asked_at = Some(due);
        }
    }
    assert!(asked_at.unwrap() >= clock.at(20 + 50));
    m.handle_packet(
        clock.at(60),
        control(
            "hb2",
            PacketKind::NakRexmit {
                dest: Some(name("hb1")),
                seq: 2,
            },
        ),
    );
    m.handle_packet(clock.at(61), message("hb2", 3, None));
    let out = drain(&mut m);
    assert_eq!(
        out[0],
        Output::Event(Event::MessagesLost {
            node: name("hb2"),
            first: 2,
            last: 2,
            reason: LossReason::NotRetransmittable
        })
    );
    let delivered: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Deliver(d) => Some(d.seq),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [3, 4]);
    assert_eq!(m.stats().lost, 1);
}

#[test]
fn own_packets_bring_our_links_up_and_our_old_ones_are_replays() {
    let clock = Clock::new();
    let mut c = config(2);
    c.generation = 100;
    let mut m = Core::new(c, clock.at(0)).unwrap();
    drain(&mut m);
    let mut own = status("hb1", 100, 1, NodeStatus::Up);
    own.medium = MediumId(1);
    m.handle_packet(clock.at(1), own);
    assert_eq!(
        m.link_status(&name("hb1"), MediumId(1)),
        Some(LinkStatus::Up)
    );
    assert_eq!(
        m.link_status(&name("hb1"), MediumId(0)),
        Some(LinkStatus::Dead)
    );
    m.handle_packet(clock.at(2), status("hb1", 99, 1, NodeStatus::Up));
    assert_eq!(m.stats().replays, 1);
    // Beyond what we sent: forged.
    m.handle_packet(clock.at(2), status("hb1", 100, 50, NodeStatus::Up));
    assert_eq!(m.stats().invalid, 1);
}

#[test]
fn restart_and_return_are_reported_before_the_messages() {
    let clock = Clock::new();
    let mut m = active(&clock);
    m.handle_packet(clock.at(20), message("hb2", 2, None));
    drain(&mut m);
    m.handle_packet(
        clock.at(30),
        Packet {
            from: name("hb2"),
            medium: MediumId(0),
            kind: PacketKind::Message {
                generation: 8,
                seq: 1,
                dest: None,
                payload: vec![9],
            },
        },
    );
    let out = drain(&mut m);
    assert_eq!(
        out[0],
        Output::Event(Event::NodeRestarted {
            node: name("hb2"),
            old_generation: 7,
            new_generation: 8
        })
    );
    assert!(matches!(&out[1], Output::Deliver(d) if d.generation == 8 && d.seq == 1));
    // The old generation is a replay now.
    m.handle_packet(clock.at(31), message("hb2", 3, None));
    assert!(drain(&mut m).contains(&Output::Event(Event::Replay {
        node: name("hb2"),
        generation: 7,
        current: 8
    })));
}

#[test]
fn unknown_nodes_and_media_are_counted_not_trusted() {
    let clock = Clock::new();
    let mut m = active(&clock);
    m.handle_packet(clock.at(20), status("stranger", 1, 1, NodeStatus::Active));
    assert_eq!(
        drain(&mut m),
        [Output::Event(Event::UnknownNode {
            node: name("stranger")
        })]
    );
    let mut p = status("hb2", 7, 2, NodeStatus::Active);
    p.medium = MediumId(9);
    m.handle_packet(clock.at(20), p);
    assert!(drain(&mut m).is_empty());
    assert_eq!((m.stats().unknown_node, m.stats().invalid), (1, 1));
}

#[test]
fn unacked_counts_from_the_slowest_live_peer() {
    let clock = Clock::new();
    let mut m = active(&clock);
    for _ in 0..20 {
        let _ = m.send(clock.at(20), None, vec![]);
    }
    // Two status heartbeats and 20 messages.
    assert_eq!(m.unacked(), 22);
    for peer in ["hb2", "hb3"] {
        m.handle_packet(
            clock.at(30),
            control(
                peer,
                PacketKind::Ack {
                    dest: name("hb1"),
                    ackseq: if peer == "hb2" { 20 } else { 12 },
                },
            ),
        );
    }
    assert_eq!(m.unacked(), 10);
}

/// Random packets, including nonsense, from random nodes at random times:
/// the core never panics, its invariants hold, and `poll_timeout` is always
/// after a `handle_timeout`.
#[test]
fn random_input_soak_keeps_every_invariant() {
    for seed in 0..20 {
        let clock = Clock::new();
        let mut rng = Rng::new(seed);
        let mut c = config(2);
        c.window = 20;
        c.history_len = 40;
        c.holdback_bytes = 64;
        c.seed = seed;
        let mut m = Core::new(c, clock.at(0)).unwrap();
        let mut now: Instant = clock.at(0);
        let nodes = ["hb1", "hb2", "hb3", "stranger"];
        for _ in 0..5000 {
            now += ms(rng.below(30));
            if now >= m.poll_timeout().unwrap() {
                m.handle_timeout(now);
                assert!(m.poll_timeout().unwrap() > now, "seed {seed}");
            }
            let from = name(nodes[rng.below(4) as usize]);
            let medium = MediumId(rng.below(3) as u16);
            let generation = 7 + rng.below(3);
            let seq = match rng.below(10) {
                0 => 0,
                1 => u64::MAX,
                2 => rng.next_u64(),
                _ => 1 + rng.below(200),
            };
            let dest = [None, Some(name("hb1")), Some(name("hb2"))][rng.below(3) as usize].clone();
            let kind = match rng.below(6) {
                0 => PacketKind::Status {
                    generation,
                    seq,
                    status: [
                        NodeStatus::Up,
                        NodeStatus::Active,
                        NodeStatus::Dead,
                        NodeStatus::Init,
                    ][rng.below(4) as usize],
                    deadtime_ms: [None, Some(0), Some(500), Some(u64::MAX)][rng.below(4) as usize],
                },
                1 | 2 => PacketKind::Message {
                    generation,
                    seq,
                    dest,
                    payload: vec![0; rng.below(40) as usize],
                },
                3 => PacketKind::Ack {
                    dest: name("hb1"),
                    ackseq: seq,
                },
                4 => PacketKind::RexmitRequest {
                    dest: name("hb1"),
                    first: seq,
                    last: seq.saturating_add(rng.below(100)),
                },
                _ => PacketKind::NakRexmit { dest, seq },
            };
            m.handle_packet(now, Packet { from, medium, kind });
            if rng.chance(0.1) {
                let _ = m.send(now, None, vec![1; 10]);
            }
            drain(&mut m);
            m.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}

//! Ping nodes against Heartbeat's rules, as scripts of rounds, replies and
//! clock ticks with the events each step must produce (keepalive 100 ms,
//! warntime 300 ms, deadtime 500 ms, deadping 700 ms, initdead 2 s).

use super::{ms, name, Clock};
use crate::ping::{PingConfig, PingEvent, PingNodes, PingStatus, Reply, ROUND_WINDOW};
use crate::LinkStatus;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// An echo round goes out at t ms; rounds are numbered from 0.
    Round(u64),
    /// At t ms, node answers round r.
    Reply(u64, &'static str, u16, Reply),
    /// The clock reaches t ms.
    Tick(u64),
}
use Step::*;

fn cfg() -> PingConfig {
    PingConfig {
        deadping: ms(700),
        initdead: ms(2000),
        warntime: ms(300),
        deadtime: ms(500),
    }
}

fn render(e: &PingEvent) -> String {
    match e {
        PingEvent::StatusChanged { node, new, .. } => format!("{node} {}", new.as_str()),
        PingEvent::LinkChanged { node, new } => format!("link {node} {}", new.as_str()),
        PingEvent::Late {
            node,
            interval,
            beyond_deadtime,
        } => format!(
            "late {node} {}ms{}",
            interval.as_millis(),
            if *beyond_deadtime { " critical" } else { "" }
        ),
    }
}

/// Runs `steps` on ping nodes `r1` and `grp`, checking after each step the
/// events it produced, and that the next wakeup is in the future.
fn check(steps: &[(Step, &[&str])]) -> PingNodes {
    let clock = Clock::new();
    let mut p = PingNodes::new(vec![name("r1"), name("grp")], cfg(), clock.at(0));
    let mut rounds = 0u16;
    for (i, (step, want)) in steps.iter().enumerate() {
        let now = match *step {
            Round(t) => {
                assert_eq!(p.start_round(clock.at(t)), rounds, "step {i}");
                rounds += 1;
                t
            }
            Reply(t, node, seq, expected) => {
                assert_eq!(
                    p.handle_reply(clock.at(t), &name(node), seq),
                    expected,
                    "step {i}"
                );
                t
            }
            Tick(t) => {
                if p.poll_timeout().is_some_and(|d| d <= clock.at(t)) {
                    p.handle_timeout(clock.at(t));
                }
                t
            }
        };
        let got: Vec<String> = std::iter::from_fn(|| p.poll_event())
            .map(|e| render(&e))
            .collect();
        assert_eq!(got, *want, "step {i}: {step:?}");
        assert!(
            p.poll_timeout().is_none_or(|d| d > clock.at(now)),
            "step {i}: wakeup not in the future"
        );
    }
    p
}

#[test]
fn a_reply_brings_the_link_up_then_the_status_and_silence_kills_both() {
    let p = check(&[
        (Round(0), &[]),
        (Tick(50), &[]),
        (
            Reply(3, "r1", 0, Reply::Accepted),
            &["link r1 up", "r1 ping"],
        ),
        (Round(100), &[]),
        (Reply(102, "r1", 1, Reply::Accepted), &[]),
        (Round(200), &[]),
        // 802 = last reply + deadping: dead, node first, then its link.
        (Tick(801), &[]),
        (Tick(802), &["r1 dead", "link r1 dead"]),
        (Tick(5000), &["grp dead"]),
    ]);
    let nodes: Vec<_> = p.nodes().map(|(n, s, l)| (n.to_string(), s, l)).collect();
    assert_eq!(
        nodes,
        [
            ("r1".into(), PingStatus::Dead, LinkStatus::Dead),
            ("grp".into(), PingStatus::Dead, LinkStatus::Dead),
        ]
    );
}

#[test]
fn a_node_never_heard_from_is_dead_after_initdead() {
    check(&[
        (Round(0), &[]),
        (Tick(1999), &[]),
        (Tick(2000), &["r1 dead", "grp dead"]),
        (Tick(9000), &[]),
    ]);
}

#[test]
fn a_dead_node_answering_again_comes_back_without_a_late_warning() {
    check(&[
        (Round(0), &[]),
        (
            Reply(1, "r1", 0, Reply::Accepted),
            &["link r1 up", "r1 ping"],
        ),
        (Tick(701), &["r1 dead", "link r1 dead"]),
        (Round(800), &[]),
        (
            Reply(805, "r1", 1, Reply::Accepted),
            &["link r1 up", "r1 ping"],
        ),
    ]);
}

#[test]
fn late_replies_are_reported_and_critical_beyond_deadtime() {
    check(&[
        (Round(0), &[]),
        (
            Reply(0, "r1", 0, Reply::Accepted),
            &["link r1 up", "r1 ping"],
        ),
        (Round(350), &[]),
        (Reply(350, "r1", 1, Reply::Accepted), &["late r1 350ms"]),
        (Round(950), &[]),
        // deadping 700 > 600 > deadtime 500: late and critical, not dead.
        (
            Reply(950, "r1", 2, Reply::Accepted),
            &["late r1 600ms critical"],
        ),
    ]);
}

#[test]
fn a_group_answers_once_per_round_whichever_member_replies() {
    check(&[
        (Round(0), &[]),
        (
            Reply(1, "grp", 0, Reply::Accepted),
            &["link grp up", "grp ping"],
        ),
        // The second member's reply to the same round changes nothing.
        (Reply(2, "grp", 0, Reply::Duplicate), &[]),
        (Round(100), &[]),
        (Reply(101, "grp", 1, Reply::Accepted), &[]),
    ]);
}

#[test]
fn replies_to_old_or_unknown_rounds_and_from_unknown_nodes_prove_nothing() {
    check(&[
        (Round(0), &[]),
        (Reply(1, "r1", 7, Reply::NotRecent), &[]),
        (Reply(1, "router9", 0, Reply::UnknownNode), &[]),
        // Round 0 was sent more than deadping ago: a replay of its reply.
        (Reply(701, "r1", 0, Reply::NotRecent), &[]),
        (Tick(2000), &["r1 dead", "grp dead"]),
    ]);
}

#[test]
fn only_the_last_rounds_are_remembered() {
    let clock = Clock::new();
    let mut p = PingNodes::new(vec![name("r1")], cfg(), clock.at(0));
    let first = p.start_round(clock.at(0));
    for _ in 0..ROUND_WINDOW {
        p.start_round(clock.at(1));
    }
    assert_eq!(
        p.handle_reply(clock.at(2), &name("r1"), first),
        Reply::NotRecent
    );
    assert_eq!(
        p.handle_reply(clock.at(2), &name("r1"), first + 1),
        Reply::Accepted
    );
}

#[test]
fn the_sequence_number_wraps() {
    let clock = Clock::new();
    let mut p = PingNodes::new(vec![name("r1")], cfg(), clock.at(0));
    let mut last = 0;
    for _ in 0..=u32::from(u16::MAX) + 1 {
        last = p.start_round(clock.at(0));
    }
    assert_eq!(last, 0);
    assert_eq!(p.handle_reply(clock.at(1), &name("r1"), 0), Reply::Accepted);
}

//! The failure detector against Heartbeat's rules, with exact sub-second
//! times: deadtime and advertised `dt`, initdead until comm up, per-link
//! death, warntime, restarts and returns after a partition.

use std::time::Instant;

use super::{config, ms, name, Clock};
use crate::{Event, FailureDetector, Heartbeat, LinkStatus, MediumId, NodeName, NodeStatus};

fn events(d: &mut FailureDetector) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

fn hb(from: &str, medium: u16, seq: u64, status: NodeStatus) -> Heartbeat {
    Heartbeat {
        from: name(from),
        medium: MediumId(medium),
        generation: 5,
        seq: Some(seq),
        status,
        deadtime_ms: None,
    }
}

fn changed(node: &str, old: NodeStatus, new: NodeStatus) -> Event {
    Event::NodeStatusChanged {
        node: name(node),
        old,
        new,
    }
}

fn link(node: &str, medium: u16, old: LinkStatus, new: LinkStatus) -> Event {
    Event::LinkStatusChanged {
        node: name(node),
        medium: MediumId(medium),
        old,
        new,
    }
}

/// A detector on `media` media where hb2 and hb3 have both said `active`
/// at t = 10 ms, so comm is up.
fn up_cluster(clock: &Clock, media: u16) -> FailureDetector {
    let mut d = FailureDetector::new(&config(media), clock.at(0)).unwrap();
    for m in 0..media {
        d.heartbeat_received(clock.at(10), &hb("hb2", m, 1, NodeStatus::Active));
        d.heartbeat_received(clock.at(10), &hb("hb3", m, 1, NodeStatus::Active));
    }
    assert!(d.is_comm_up());
    events(&mut d);
    d
}

#[test]
fn start_is_up_and_comm_up_makes_it_active() {
    let clock = Clock::new();
    let mut d = FailureDetector::new(&config(1), clock.at(0)).unwrap();
    assert_eq!(
        events(&mut d),
        [changed("hb1", NodeStatus::Init, NodeStatus::Up)]
    );
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Init));
    assert_eq!(
        d.link_status(&name("hb2"), MediumId(0)),
        Some(LinkStatus::Dead)
    );
    d.heartbeat_received(clock.at(5), &hb("hb2", 0, 1, NodeStatus::Up));
    assert_eq!(
        events(&mut d),
        [
            link("hb2", 0, LinkStatus::Dead, LinkStatus::Up),
            changed("hb2", NodeStatus::Init, NodeStatus::Up),
        ]
    );
    assert!(!d.is_comm_up());
    d.heartbeat_received(clock.at(7), &hb("hb3", 0, 1, NodeStatus::Up));
    assert_eq!(
        events(&mut d),
        [
            link("hb3", 0, LinkStatus::Dead, LinkStatus::Up),
            changed("hb3", NodeStatus::Init, NodeStatus::Up),
            changed("hb1", NodeStatus::Up, NodeStatus::Active),
        ]
    );
    assert_eq!(d.local_status(), NodeStatus::Active);
}

#[test]
fn sub_second_deadtime_is_exact() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    d.heartbeat_received(clock.at(100), &hb("hb2", 0, 2, NodeStatus::Active));
    d.heartbeat_received(clock.at(110), &hb("hb3", 0, 2, NodeStatus::Active));
    assert_eq!(d.poll_timeout(), Some(clock.at(600)));
    d.tick(clock.at(599));
    assert!(events(&mut d).is_empty());
    d.tick(clock.at(600));
    assert_eq!(
        events(&mut d),
        [
            changed("hb2", NodeStatus::Active, NodeStatus::Dead),
            link("hb2", 0, LinkStatus::Up, LinkStatus::Dead),
        ]
    );
    assert_eq!(d.poll_timeout(), Some(clock.at(610)));
    assert_eq!(d.status(&name("hb3")), Some(NodeStatus::Active));
}

#[test]
fn a_peers_advertised_deadtime_wins() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    let mut h = hb("hb2", 0, 2, NodeStatus::Active);
    h.deadtime_ms = Some(0x3e8);
    d.heartbeat_received(clock.at(100), &h);
    assert_eq!(d.deadtime_of(&name("hb2")), Some(ms(1000)));
    d.tick(clock.at(1000));
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Active));
    d.tick(clock.at(1100));
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Dead));
    // An absurd dt is clamped, never an overflow.
    let mut h = hb("hb3", 0, 2, NodeStatus::Active);
    h.deadtime_ms = Some(u64::MAX);
    d.heartbeat_received(clock.at(1200), &h);
    assert!(d.poll_timeout().is_some());
}

#[test]
fn initdead_applies_until_every_node_is_heard_or_dead() {
    let clock = Clock::new();
    let mut d = FailureDetector::new(&config(1), clock.at(0)).unwrap();
    d.heartbeat_received(clock.at(10), &hb("hb2", 0, 1, NodeStatus::Up));
    // hb3 is silent: everyone gets initdead (2 s), not deadtime.
    assert_eq!(d.poll_timeout(), Some(clock.at(2000)));
    d.heartbeat_received(clock.at(1600), &hb("hb2", 0, 2, NodeStatus::Up));
    d.tick(clock.at(1999));
    assert!(!d.is_comm_up());
    events(&mut d);
    d.tick(clock.at(2000));
    assert_eq!(
        events(&mut d),
        [
            changed("hb3", NodeStatus::Init, NodeStatus::Dead),
            changed("hb1", NodeStatus::Up, NodeStatus::Active),
        ]
    );
    // From comm up on, hb2's deadtime counts: heard at 1.6 s, dead at 2.1 s.
    assert_eq!(d.poll_timeout(), Some(clock.at(2100)));
    d.tick(clock.at(2100));
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Dead));
}

#[test]
fn comm_up_shortens_deadtimes_within_one_tick() {
    let clock = Clock::new();
    let mut d = FailureDetector::new(&config(1), clock.at(0)).unwrap();
    d.heartbeat_received(clock.at(10), &hb("hb2", 0, 1, NodeStatus::Up));
    events(&mut d);
    // hb3 dies of initdead at 2 s; comm up; hb2, silent since 10 ms, is past
    // its 500 ms deadtime and dies in the same tick.
    d.tick(clock.at(2000));
    let ev = events(&mut d);
    assert!(
        ev.contains(&changed("hb2", NodeStatus::Up, NodeStatus::Dead)),
        "{ev:?}"
    );
    assert!(d.poll_timeout().is_none());
}

#[test]
fn a_cut_link_dies_while_the_node_lives_on_the_other() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 2);
    for t in (100..=1000).step_by(100) {
        d.heartbeat_received(clock.at(t), &hb("hb2", 1, t / 100 + 1, NodeStatus::Active));
        d.heartbeat_received(clock.at(t), &hb("hb3", 0, t / 100 + 1, NodeStatus::Active));
        d.heartbeat_received(clock.at(t), &hb("hb3", 1, t / 100 + 1, NodeStatus::Active));
        d.tick(clock.at(t));
    }
    assert_eq!(
        events(&mut d),
        [link("hb2", 0, LinkStatus::Up, LinkStatus::Dead)]
    );
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Active));
    // Any packet on the medium brings the link back, a duplicate included.
    d.packet_received(clock.at(1010), &name("hb2"), MediumId(0), false);
    assert_eq!(
        events(&mut d),
        [link("hb2", 0, LinkStatus::Dead, LinkStatus::Up)]
    );
}

#[test]
fn duplicates_keep_the_link_but_not_the_node_alive() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    for t in (100..=600).step_by(100) {
        d.packet_received(clock.at(t), &name("hb2"), MediumId(0), false);
        d.tick(clock.at(t));
    }
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Dead));
    assert_eq!(
        d.link_status(&name("hb2"), MediumId(0)),
        Some(LinkStatus::Up)
    );
}

#[test]
fn late_heartbeats_are_reported() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    d.heartbeat_received(clock.at(350), &hb("hb2", 0, 2, NodeStatus::Active));
    assert_eq!(
        events(&mut d),
        [Event::LateHeartbeat {
            node: name("hb2"),
            interval: ms(340),
            beyond_deadtime: false
        }]
    );
    d.tick(clock.at(850));
    events(&mut d);
    d.heartbeat_received(clock.at(900), &hb("hb2", 0, 3, NodeStatus::Active));
    let ev = events(&mut d);
    assert!(ev.contains(&Event::LateHeartbeat {
        node: name("hb2"),
        interval: ms(550),
        beyond_deadtime: true
    }));
    // A retransmitted older heartbeat is neither late nor a status change.
    d.heartbeat_received(clock.at(1300), &hb("hb2", 0, 2, NodeStatus::Up));
    assert!(events(&mut d).is_empty());
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Active));
}

#[test]
fn dead_node_heard_again_returns_after_partition() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    d.tick(clock.at(510));
    assert_eq!(d.status(&name("hb2")), Some(NodeStatus::Dead));
    events(&mut d);
    d.heartbeat_received(clock.at(2000), &hb("hb2", 0, 30, NodeStatus::Active));
    let ev = events(&mut d);
    assert_eq!(ev[0], Event::NodeReturned { node: name("hb2") });
    assert!(ev.contains(&changed("hb2", NodeStatus::Dead, NodeStatus::Active)));
    assert!(ev.contains(&link("hb2", 0, LinkStatus::Dead, LinkStatus::Up)));
}

#[test]
fn higher_generation_is_a_restart_not_a_return() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    d.tick(clock.at(510));
    events(&mut d);
    let mut h = hb("hb2", 0, 1, NodeStatus::Up);
    h.generation = 6;
    d.heartbeat_received(clock.at(2000), &h);
    let ev = events(&mut d);
    assert_eq!(
        ev,
        [
            Event::NodeRestarted {
                node: name("hb2"),
                old_generation: 5,
                new_generation: 6
            },
            link("hb2", 0, LinkStatus::Dead, LinkStatus::Up),
            changed("hb2", NodeStatus::Dead, NodeStatus::Up),
        ]
    );
    // An older generation afterwards changes nothing.
    d.heartbeat_received(clock.at(2010), &hb("hb2", 0, 99, NodeStatus::Active));
    assert!(events(&mut d).is_empty());
}

#[test]
fn own_packets_bring_local_links_up_and_they_never_die() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 2);
    d.packet_received(clock.at(20), &name("hb1"), MediumId(1), false);
    assert_eq!(
        events(&mut d),
        [link("hb1", 1, LinkStatus::Dead, LinkStatus::Up)]
    );
    d.tick(clock.at(60_000));
    assert_eq!(
        d.link_status(&name("hb1"), MediumId(1)),
        Some(LinkStatus::Up)
    );
    assert_eq!(d.local_status(), NodeStatus::Active);
}

#[test]
fn unknown_nodes_are_refused_unless_autojoin() {
    let clock = Clock::new();
    let mut d = FailureDetector::new(&config(1), clock.at(0)).unwrap();
    events(&mut d);
    d.heartbeat_received(clock.at(1), &hb("stranger", 0, 1, NodeStatus::Up));
    assert_eq!(
        events(&mut d),
        [Event::UnknownNode {
            node: name("stranger")
        }]
    );
    assert_eq!(d.status(&name("stranger")), None);

    let mut c = config(1);
    c.autojoin = true;
    c.max_nodes = 4;
    let mut d = FailureDetector::new(&c, clock.at(0)).unwrap();
    d.heartbeat_received(clock.at(1), &hb("hb2", 0, 1, NodeStatus::Up));
    d.heartbeat_received(clock.at(1), &hb("hb3", 0, 1, NodeStatus::Up));
    d.heartbeat_received(clock.at(1), &hb("joiner", 0, 1, NodeStatus::Up));
    assert_eq!(d.status(&name("joiner")), Some(NodeStatus::Up));
    // Table full.
    assert!(!d.admit(clock.at(1), &NodeName::new("fifth").unwrap()));
    // With autojoin, comm up waits for initdead even when all are heard.
    assert!(!d.is_comm_up());
    assert_eq!(d.poll_timeout(), Some(clock.at(2000)));
    for t in (100..2000).step_by(100) {
        for n in ["hb2", "hb3", "joiner"] {
            d.heartbeat_received(clock.at(t), &hb(n, 0, t, NodeStatus::Up));
        }
        d.tick(clock.at(t));
        assert!(!d.is_comm_up());
    }
    d.tick(clock.at(2000));
    assert!(d.is_comm_up());
    let next: Option<Instant> = d.poll_timeout();
    assert!(next.is_some_and(|t| t > clock.at(2000)));
}

#[test]
fn a_peer_saying_dead_is_dead() {
    let clock = Clock::new();
    let mut d = up_cluster(&clock, 1);
    d.heartbeat_received(clock.at(50), &hb("hb2", 0, 2, NodeStatus::Dead));
    assert_eq!(
        events(&mut d),
        [changed("hb2", NodeStatus::Active, NodeStatus::Dead)]
    );
    d.check_invariants().unwrap();
}

#[test]
fn a_cluster_of_one_is_active_at_once() {
    let clock = Clock::new();
    let mut c = config(1);
    c.nodes.clear();
    let mut d = FailureDetector::new(&c, clock.at(0)).unwrap();
    assert_eq!(
        events(&mut d),
        [
            changed("hb1", NodeStatus::Init, NodeStatus::Up),
            changed("hb1", NodeStatus::Up, NodeStatus::Active),
        ]
    );
    assert_eq!(d.poll_timeout(), None);
}

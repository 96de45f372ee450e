//! Cluster behaviour under the simulator: start-up, death detection within
//! deadtime + keepalive, link cuts, partitions, restarts and replays, and
//! zero loss or reordering of client messages over a lossy network, each for
//! many seeds. Time is simulated, so every bound asserted is exact and every
//! failure reproducible (the seed is printed).

use std::time::Duration;

use membership::sim::{for_each_seed, Sim, SimConfig, Traffic};
use membership::{Event, LinkStatus, LossReason, MediumId, NodeStatus, PacketKind};

const SEEDS: u64 = 200;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Starts a cluster and runs it until everyone sees everyone active.
fn started(cfg: SimConfig) -> Sim {
    let mut sim = Sim::new(cfg);
    let limit = sim.now() + Duration::from_secs(5);
    assert!(
        sim.run_until(limit, Sim::all_active),
        "seed {}: cluster not active after 5 s",
        sim.seed()
    );
    sim
}

/// When `observer` reported `subject` with status `new`, after `since`.
fn status_change_at(
    sim: &Sim,
    observer: usize,
    subject: usize,
    new: NodeStatus,
    since: std::time::Instant,
) -> Option<std::time::Instant> {
    let name = sim.name(subject).clone();
    sim.log().iter().find_map(|r| match &r.event {
        Event::NodeStatusChanged { node, new: n, .. }
            if r.observer == observer && *node == name && *n == new && r.at >= since =>
        {
            Some(r.at)
        }
        _ => None,
    })
}

#[test]
fn three_nodes_become_active() {
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.jitter = ms(5);
        let sim = started(cfg);
        // All start together, so nobody waits for initdead.
        assert!(
            sim.elapsed() < ms(300),
            "seed {seed}: took {:?}",
            sim.elapsed()
        );
        for i in 0..3 {
            let node = sim.node(i).unwrap();
            assert!(node.is_comm_up());
            for j in 0..3 {
                assert_eq!(
                    node.link_status(sim.name(j), MediumId(0)),
                    Some(LinkStatus::Up),
                    "seed {seed}: link {i}->{j}"
                );
            }
        }
    });
}

#[test]
fn lone_node_goes_active_after_initdead_and_declares_the_others_dead() {
    let mut cfg = SimConfig::new(3, 1);
    cfg.down = vec![1, 2];
    let mut sim = Sim::new(cfg);
    let start = sim.epoch();
    sim.run_for(Duration::from_secs(2));
    let node = sim.node(0).unwrap();
    assert_eq!(node.local_status(), NodeStatus::Active);
    for j in 1..3 {
        assert_eq!(node.node_status(sim.name(j)), Some(NodeStatus::Dead));
        // Both died of initdead (1 s) exactly.
        assert_eq!(
            status_change_at(&sim, 0, j, NodeStatus::Dead, start),
            Some(start + Duration::from_secs(1))
        );
    }
}

#[test]
fn killed_node_is_declared_dead_within_deadtime_plus_keepalive() {
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.jitter = ms(5);
        cfg.loss = 0.01;
        let deadtime = cfg.deadtime;
        let keepalive = cfg.keepalive;
        let mut sim = started(cfg);
        // A random phase against the heartbeat timers.
        sim.run_for(ms(1000 + seed % 100));
        assert!(
            sim.all_active(),
            "seed {seed}: a false death before the kill"
        );
        let killed_at = sim.now();
        sim.kill(2);
        let last = sim.last_transmit(2).unwrap();
        sim.run_for(deadtime * 3);
        for observer in 0..2 {
            let dead_at = status_change_at(&sim, observer, 2, NodeStatus::Dead, killed_at)
                .unwrap_or_else(|| panic!("seed {seed}: node {observer} never saw node 2 die"));
            assert!(
                dead_at <= last + deadtime + keepalive,
                "seed {seed}: node {observer} took {:?} after the last packet",
                dead_at - last
            );
        }
        assert_eq!(sim.status(0, 1), Some(NodeStatus::Active));
        assert_eq!(sim.status(1, 0), Some(NodeStatus::Active));
    });
}

#[test]
fn cut_link_is_dead_while_the_node_stays_active_over_the_other_medium() {
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.media = 2;
        cfg.jitter = ms(5);
        let deadtime = cfg.deadtime;
        let mut sim = started(cfg);
        let cut_at = sim.now();
        sim.cut_medium(0, 2, 0);
        sim.run_for(deadtime * 3);
        let n2 = sim.name(2).clone();
        let n0 = sim.name(0).clone();
        let a = sim.node(0).unwrap();
        assert_eq!(a.link_status(&n2, MediumId(0)), Some(LinkStatus::Dead));
        assert_eq!(a.link_status(&n2, MediumId(1)), Some(LinkStatus::Up));
        assert_eq!(a.node_status(&n2), Some(NodeStatus::Active), "seed {seed}");
        let c = sim.node(2).unwrap();
        assert_eq!(c.link_status(&n0, MediumId(0)), Some(LinkStatus::Dead));
        assert_eq!(c.node_status(&n0), Some(NodeStatus::Active));
        // Node 1 still hears both on both media.
        let b = sim.node(1).unwrap();
        assert_eq!(b.link_status(&n2, MediumId(0)), Some(LinkStatus::Up));
        assert!(!sim.log().iter().any(|r| r.at >= cut_at
            && matches!(
                &r.event,
                Event::NodeStatusChanged {
                    new: NodeStatus::Dead,
                    ..
                }
            )));
        sim.heal();
        sim.run_for(ms(300));
        let a = sim.node(0).unwrap();
        assert_eq!(
            a.link_status(&n2, MediumId(0)),
            Some(LinkStatus::Up),
            "seed {seed}"
        );
    });
}

#[test]
fn partition_heals_and_the_node_returns() {
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.jitter = ms(5);
        cfg.media = 2;
        let deadtime = cfg.deadtime;
        let mut sim = started(cfg);
        sim.set_traffic(Some(Traffic {
            mean_interval: ms(20),
            unicast: 0.3,
        }));
        sim.run_for(ms(500));
        let cut_at = sim.now();
        sim.isolate(2);
        sim.run_for(deadtime * 3);
        for i in 0..2 {
            assert_eq!(sim.status(i, 2), Some(NodeStatus::Dead), "seed {seed}");
            assert_eq!(sim.status(2, i), Some(NodeStatus::Dead), "seed {seed}");
        }
        // The isolated node stays active itself.
        assert_eq!(sim.node(2).unwrap().local_status(), NodeStatus::Active);
        let healed_at = sim.now();
        sim.heal();
        let limit = sim.now() + Duration::from_secs(2);
        assert!(
            sim.run_until(limit, Sim::all_active),
            "seed {seed}: no heal"
        );
        let returned = |observer: usize, node: usize| {
            sim.log().iter().any(|r| {
                r.observer == observer
                    && r.at >= healed_at
                    && r.event
                        == Event::NodeReturned {
                            node: sim.name(node).clone(),
                        }
            })
        };
        assert!(
            returned(0, 2) && returned(1, 2) && returned(2, 0),
            "seed {seed}"
        );
        // What was sent across the partition is reported lost, never
        // delivered out of order (the simulator checks order on every step).
        assert!(sim.log().iter().any(|r| r.at >= cut_at
            && matches!(
                r.event,
                Event::MessagesLost {
                    reason: LossReason::NodeDead,
                    ..
                }
            )));
        sim.run_for(ms(500));
    });
}

#[test]
fn restarted_node_is_accepted_and_its_old_packets_are_replays() {
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.jitter = ms(5);
        let deadtime = cfg.deadtime;
        let mut sim = started(cfg);
        sim.set_traffic(Some(Traffic {
            mean_interval: ms(30),
            unicast: 0.2,
        }));
        sim.record(1);
        sim.run_for(ms(300));
        let old = sim.take_recording();
        let old_generation = match old.iter().find_map(|p| match &p.kind {
            PacketKind::Status { generation, .. } => Some(*generation),
            _ => None,
        }) {
            Some(g) => g,
            None => panic!("seed {seed}: nothing recorded"),
        };
        sim.kill(1);
        // Half the seeds restart before the others notice, half after.
        let quick = seed % 2 == 0;
        sim.run_for(if quick { ms(100) } else { deadtime * 2 });
        let restart_at = sim.now();
        sim.restart(1);
        let limit = sim.now() + Duration::from_secs(3);
        assert!(
            sim.run_until(limit, Sim::all_active),
            "seed {seed}: not active"
        );
        let new_generation = sim.node(1).unwrap().generation();
        assert!(new_generation > old_generation);
        for observer in [0, 2] {
            let restarted = sim.log().iter().any(|r| {
                r.observer == observer
                    && r.at >= restart_at
                    && r.event
                        == Event::NodeRestarted {
                            node: sim.name(1).clone(),
                            old_generation,
                            new_generation,
                        }
            });
            assert!(restarted, "seed {seed}: node {observer} missed the restart");
        }
        let replays_before: u64 = [0, 2]
            .iter()
            .map(|&i| sim.node(i).unwrap().stats().replays)
            .sum();
        sim.inject(&old);
        sim.run_for(ms(200));
        let replays: u64 = [0, 2]
            .iter()
            .map(|&i| sim.node(i).unwrap().stats().replays)
            .sum();
        let sequenced = old
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    PacketKind::Status { .. } | PacketKind::Message { .. }
                )
            })
            .count() as u64;
        assert_eq!(replays - replays_before, 2 * sequenced, "seed {seed}");
        assert!(
            sim.all_active(),
            "seed {seed}: replays disturbed the cluster"
        );
    });
}

/// The target: under 5% loss, 5% duplication and reordering, not
/// one client message lost or delivered out of order, for every seed.
fn lossy_network(media: u16) {
    let (mut sent, mut delivered, mut retransmissions) = (0, 0, 0);
    for_each_seed(0..SEEDS, |seed| {
        let mut cfg = SimConfig::new(3, seed);
        cfg.media = media;
        cfg.loss = 0.05;
        cfg.duplication = 0.05;
        cfg.jitter = ms(20);
        cfg.strict = true;
        let mut sim = started(cfg);
        sim.set_traffic(Some(Traffic {
            mean_interval: ms(10),
            unicast: 0.2,
        }));
        sim.run_for(Duration::from_secs(6));
        sim.set_traffic(None);
        sim.run_for(Duration::from_secs(2));
        sim.assert_all_delivered();
        assert!(sim.all_active(), "seed {seed}");
        assert!(sim.sent() > 1500, "seed {seed}: only {} sent", sim.sent());
        sent += sim.sent();
        delivered += sim.delivered();
        retransmissions += (0..3)
            .map(|i| sim.node(i).unwrap().stats().retransmissions)
            .sum::<u64>();
    });
    eprintln!(
        "{media} medium/media: {sent} messages sent, {delivered} delivered, \
         {retransmissions} retransmissions"
    );
}

#[test]
fn lossy_network_loses_and_reorders_no_client_message_on_one_medium() {
    lossy_network(1);
}

#[test]
fn lossy_network_loses_and_reorders_no_client_message_on_two_media() {
    lossy_network(2);
}

//! Consensus membership under the simulator: start-up, a killed node,
//! partitions and their healing, a one-way link, restarts, and thousands
//! of random scenarios (loss, delay and reordering, partitions, one-way
//! cuts, kills, restarts). The simulator checks on every install that
//! instances grow per node and that no node is in two views with the same
//! instance; these tests check the stable outcome and its bound.
//!
//! The convergence bound, in simulated time from the moment the network
//! stops changing (no more faults, no loss), with keepalive 100 ms,
//! deadtime 500 ms, announce 1 s, round 100 ms, settle 300 ms:
//! [`BOUND`] = deadtime + announce + 1 s. Failure detection accounts for
//! the deadtime; one announce interval lets knowledge relayed around a
//! one-way link arrive; the last second covers rounds refused while
//! detections of the same change are still spreading.

use std::time::Duration;

use membership::ccm::{CcmMsg, Member, Row};
use membership::ccm_sim::{CcmSim, CcmSimConfig};
use membership::quorum::QuorumState;
use membership::rng::Rng;
use membership::sim::for_each_seed;
use membership::NodeName;

const BOUND: Duration = Duration::from_millis(2500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs until converged (see `CcmSim::converged`), at most
/// `BOUND`; panics with the seed and the reason otherwise.
fn converge(sim: &mut CcmSim) -> Duration {
    let start = sim.now();
    let limit = start + BOUND;
    let ok = sim.run_until(limit, |s| s.heartbeat_settled() && s.converged().is_ok());
    if !ok {
        panic!(
            "seed {}: not converged {BOUND:?} after the network settled: {}",
            sim.seed(),
            sim.converged().err().unwrap_or_default()
        );
    }
    sim.now() - start
}

fn members(sim: &CcmSim, i: usize) -> Vec<String> {
    sim.view(i)
        .map(|v| v.names().iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn nodes_that_start_together_agree_on_one_view_with_quorum() {
    for_each_seed(0..100, |seed| {
        for n in [1, 2, 3, 5, 16] {
            if n == 16 && seed >= 20 {
                continue;
            }
            let mut cfg = CcmSimConfig::new(n, seed);
            cfg.jitter = ms(3);
            let mut sim = CcmSim::new(cfg);
            converge(&mut sim);
            let v = sim.view(0).expect("a view").clone();
            assert_eq!(v.members.len(), n);
            assert!(v.quorum.quorate);
            assert_eq!(v.quorum.expected, n as u32);
            for i in 0..n {
                assert_eq!(sim.view(i), Some(&v), "seed {seed}");
            }
        }
    });
}

#[test]
fn a_killed_node_leaves_the_view_everywhere_and_quorum_is_kept() {
    for_each_seed(0..200, |seed| {
        let mut sim = CcmSim::new(CcmSimConfig::new(5, seed));
        converge(&mut sim);
        let before = sim.view(0).expect("view").instance;
        let victim = (seed % 5) as usize;
        sim.kill(victim);
        converge(&mut sim);
        let survivor = (victim + 1) % 5;
        let v = sim.view(survivor).expect("view").clone();
        assert_eq!(v.members.len(), 4, "seed {seed}");
        assert!(v.instance > before);
        assert!(v.quorum.quorate);
        assert_eq!((v.quorum.votes, v.quorum.expected), (4, 5));
    });
}

#[test]
fn a_two_three_partition_gives_quorum_to_the_three_side_and_heals_into_one_view() {
    for_each_seed(0..200, |seed| {
        let mut cfg = CcmSimConfig::new(5, seed);
        cfg.jitter = ms(2);
        let mut sim = CcmSim::new(cfg);
        converge(&mut sim);
        sim.partition(&[0, 1]);
        converge(&mut sim);
        let small = sim.view(0).expect("view").clone();
        let big = sim.view(4).expect("view").clone();
        assert_eq!(members(&sim, 0), ["n00", "n01"], "seed {seed}");
        assert_eq!(members(&sim, 2), ["n02", "n03", "n04"]);
        assert!(!small.quorum.quorate);
        assert!(big.quorum.quorate);
        sim.heal();
        converge(&mut sim);
        let v = sim.view(0).expect("view");
        assert_eq!(v.members.len(), 5);
        assert!(v.instance > small.instance.max(big.instance));
        assert!(v.quorum.quorate);
    });
}

#[test]
fn a_one_way_link_gives_a_consistent_smaller_view_not_two_overlapping_ones() {
    for_each_seed(0..200, |seed| {
        let mut sim = CcmSim::new(CcmSimConfig::new(3, seed));
        converge(&mut sim);
        // n01 stops hearing n00; n00 still hears n01.
        sim.cut_one_way(0, 1);
        converge(&mut sim);
        let v0 = members(&sim, 0);
        let v1 = members(&sim, 1);
        assert!(
            !(v0.contains(&"n01".to_string()) || v1.contains(&"n00".to_string())),
            "seed {seed}: {v0:?} {v1:?}"
        );
        // n02 hears and is heard by both: it is with exactly one of them.
        let v2 = members(&sim, 2);
        assert_eq!(v2.len(), 2, "seed {seed}: {v2:?}");
        assert_eq!(v0, ["n00", "n02"]);
        assert_eq!(v1, ["n01"]);
        sim.heal();
        converge(&mut sim);
        assert_eq!(members(&sim, 1).len(), 3);
    });
}

#[test]
fn a_restarted_node_rejoins_with_a_new_incarnation_and_instances_keep_growing() {
    for_each_seed(0..200, |seed| {
        let mut sim = CcmSim::new(CcmSimConfig::new(3, seed));
        converge(&mut sim);
        let first: Vec<Member> = sim.view(0).expect("view").members.clone();
        // Restart faster than deadtime: heartbeat never reports it dead.
        sim.kill(2);
        sim.run_for(ms(50));
        sim.restart(2);
        converge(&mut sim);
        let v = sim.view(2).expect("view");
        assert_eq!(v.members.len(), 3);
        assert_ne!(v.members, first, "seed {seed}: same incarnations");
        assert!(v.instance > sim.installs().first().map_or(0, |i| i.view.instance));
    });
}

#[test]
fn a_two_node_cluster_keeps_quorum_with_one_node() {
    let mut sim = CcmSim::new(CcmSimConfig::new(2, 7));
    converge(&mut sim);
    sim.cut(0, 1);
    converge(&mut sim);
    for i in 0..2 {
        let v = sim.view(i).expect("view");
        assert_eq!(v.members.len(), 1);
        assert!(v.quorum.quorate);
    }
}

#[test]
fn a_late_node_joins_the_running_view() {
    for_each_seed(0..100, |seed| {
        let mut cfg = CcmSimConfig::new(4, seed);
        cfg.down = vec![3];
        let mut sim = CcmSim::new(cfg);
        converge(&mut sim);
        assert_eq!(members(&sim, 0).len(), 3);
        sim.restart(3);
        converge(&mut sim);
        assert_eq!(members(&sim, 0).len(), 4, "seed {seed}");
    });
}

/// One random fault.
fn random_fault(sim: &mut CcmSim, rng: &mut Rng, one_way: bool) {
    let n = sim.len();
    let a = rng.below(n as u64) as usize;
    let b = rng.below(n as u64) as usize;
    match rng.below(if one_way { 7 } else { 6 }) {
        0 => {
            if (0..n).filter(|i| sim.is_up(*i)).count() > 1 {
                sim.kill(a);
            }
        }
        1 => sim.restart(a),
        2 => {
            if a != b {
                sim.cut(a, b);
            }
        }
        3 => {
            let side: Vec<usize> = (0..n).filter(|_| rng.chance(0.5)).collect();
            sim.partition(&side);
        }
        4 => sim.heal(),
        5 => {
            // A quick restart, faster than failure detection.
            sim.kill(a);
            sim.run_for(Duration::from_millis(rng.between(1, 300)));
            sim.restart(a);
        }
        _ => {
            if a != b {
                sim.cut_one_way(a, b);
            }
        }
    }
}

/// Random scenarios: a chaotic phase (faults every 0–600 ms, up to 20 %
/// loss, up to 20 ms jitter), then a stable network; every component must
/// converge within [`BOUND`] (views agreed by all their members, cliques,
/// and whole components where components are cliques). Returns the worst
/// convergence time.
fn random_scenarios(seeds: std::ops::Range<u64>, one_way: bool) -> Duration {
    let mut worst = Duration::ZERO;
    for_each_seed(seeds, |seed| {
        let mut rng = Rng::new(seed ^ 0x5eed);
        let n = rng.between(2, 7) as usize;
        let mut cfg = CcmSimConfig::new(n, seed);
        cfg.loss = rng.between(0, 20) as f64 / 100.0;
        cfg.jitter = Duration::from_millis(rng.between(0, 20));
        cfg.latency = Duration::from_millis(rng.between(1, 5));
        cfg.down = (0..n).filter(|_| rng.chance(0.2)).collect();
        let mut sim = CcmSim::new(cfg);
        for _ in 0..rng.between(1, 8) {
            sim.run_for(Duration::from_millis(rng.between(0, 600)));
            random_fault(&mut sim, &mut rng, one_way);
        }
        if rng.chance(0.5) {
            sim.heal();
        }
        sim.set_loss(0.0);
        let took = converge(&mut sim);
        worst = worst.max(took);
    });
    worst
}

#[test]
fn random_symmetric_scenarios_converge_within_the_bound_without_violations() {
    let worst = random_scenarios(0..2000, false);
    eprintln!("worst convergence after the network settled: {worst:?}");
}

#[test]
fn random_scenarios_with_one_way_links_converge_within_the_bound_without_violations() {
    let worst = random_scenarios(10_000..12_000, true);
    eprintln!("worst convergence after the network settled: {worst:?}");
}

#[test]
fn wire_fields_round_trip() {
    let name = |s: &str| NodeName::new(s).expect("name");
    let row = Row {
        incarnation: 3,
        version: 9,
        instance: 12,
        high: 70,
        hears: [name("a"), name("b")].into_iter().collect(),
    };
    let msgs = vec![
        CcmMsg::State {
            inc: 3,
            rows: vec![(name("a"), row.clone()), (name("b"), row.clone())],
        },
        CcmMsg::State {
            inc: 1,
            rows: vec![],
        },
        CcmMsg::Propose {
            inc: 3,
            instance: 13,
            members: vec![name("a"), name("b")],
            rows: vec![(name("a"), row.clone())],
        },
        CcmMsg::Accept {
            inc: 2,
            instance: 13,
            rows: vec![(name("b"), row.clone())],
        },
        CcmMsg::Nack {
            inc: 2,
            instance: 13,
            rows: vec![],
        },
        CcmMsg::Install {
            inc: 3,
            instance: 13,
            members: vec![
                Member {
                    name: name("a"),
                    incarnation: 3,
                },
                Member {
                    name: name("b"),
                    incarnation: 2,
                },
            ],
            quorum: QuorumState {
                quorate: true,
                votes: 2,
                expected: 3,
            },
        },
        CcmMsg::Remove {
            inc: 3,
            node: name("c"),
        },
    ];
    for m in msgs {
        let fields = m.to_fields();
        let back = CcmMsg::from_fields(|n| {
            fields
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        });
        assert_eq!(back, Ok(m));
    }
}

#[test]
fn mangled_wire_fields_are_refused_without_panicking() {
    let mut rng = Rng::new(42);
    let alphabet = b"0123456789abc:;,/|x \n";
    for _ in 0..20_000 {
        let mut s = String::new();
        for _ in 0..rng.below(40) {
            s.push(alphabet[rng.below(alphabet.len() as u64) as usize] as char);
        }
        let kind = [
            "state", "propose", "accept", "nack", "install", "remove", "x",
        ][rng.below(7) as usize];
        let fields = [
            ("ccm_type", kind.to_string()),
            (
                "inc",
                if rng.chance(0.8) {
                    "1".to_string()
                } else {
                    s.clone()
                },
            ),
            ("instance", s.clone()),
            ("members", s.clone()),
            ("rows", s.clone()),
            ("quorum", s.clone()),
            ("node", s.clone()),
        ];
        let _ = CcmMsg::from_fields(|n| {
            fields
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        });
    }
    let huge = "99999999999999999999999";
    assert!(CcmMsg::from_fields(|n| match n {
        "ccm_type" => Some("remove"),
        "inc" => Some(huge),
        "node" => Some("a"),
        _ => None,
    })
    .is_err());
}

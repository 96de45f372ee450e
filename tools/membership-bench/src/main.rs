//! membership-bench: how fast a membership change reaches every member.
//!
//! For 3, 5 and 16 simulated nodes (`membership::ccm_sim`, heartbeat's
//! timing keepalive 100 ms / deadtime 500 ms, 0.5–1 ms network) and for 3
//! and 5 real nodes (heartbeat + ccm in network namespaces, the test
//! harness), a node is killed; `converge_ms` is the time from the first
//! failure detection (heartbeat reporting the node dead to a survivor's
//! ccm) to the new view being delivered on every survivor, as min / median
//! / max over the trials; `msgs/change` is the number of ccm messages the
//! change caused (sent by the survivors from the kill to the new view, a
//! broadcast counting once, periodic announcements left out), as min /
//! median / max.
//! Real-node times are taken by this process when each survivor's ccm
//! pushes the events over its API (one thread per survivor).
//!
//! usage: membership-bench [--sim-only] [--trials N] [--real-trials N]
//! (the real part needs root, and `cargo build -p heartbeat -p ccm` in the
//! same profile as this binary).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ccmapi::{Event, Request, Response};
use integration_tests::{bin, TestCluster};
use membership::ccm_sim::{CcmSim, CcmSimConfig};
use nix::sys::signal::Signal;

struct Figures {
    converge_ms: Vec<f64>,
    msgs: Vec<u64>,
}

fn summary(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f64::total_cmp);
    format!("{:.1}/{:.1}/{:.1}", v[0], v[v.len() / 2], v[v.len() - 1])
}

fn print(label: &str, n: usize, f: &Figures) {
    let msgs: Vec<f64> = f.msgs.iter().map(|m| *m as f64).collect();
    println!(
        "{label:<5} nodes={n:<3} trials={:<4} converge_ms min/median/max = {:<17} msgs/change min/median/max = {}",
        f.converge_ms.len(),
        summary(f.converge_ms.clone()),
        summary(msgs)
    );
}

fn sim(n: usize, trials: u64) -> Figures {
    let mut f = Figures {
        converge_ms: Vec::new(),
        msgs: Vec::new(),
    };
    for seed in 0..trials {
        let mut cfg = CcmSimConfig::new(n, seed);
        cfg.latency = Duration::from_micros(500);
        cfg.jitter = Duration::from_micros(500);
        let mut sim = CcmSim::new(cfg);
        let limit = sim.now() + Duration::from_secs(10);
        assert!(
            sim.run_until(limit, |s| s.heartbeat_settled() && s.converged().is_ok()),
            "seed {seed}: no initial view"
        );
        // A stable cluster, then the failure.
        sim.run_for(Duration::from_secs(2));
        let victim = (seed % n as u64) as usize;
        let killed_at = sim.now();
        // Messages a change caused: all but the periodic announcements
        // (the victim sends nothing once killed).
        let before = sim.sent_total()
            - (0..n)
                .filter(|i| *i != victim)
                .filter_map(|i| sim.node(i))
                .map(|c| c.stats().periodic)
                .sum::<u64>();
        sim.kill(victim);
        let survivors: Vec<usize> = (0..n).filter(|i| *i != victim).collect();
        let limit = sim.now() + Duration::from_secs(10);
        let done = sim.run_until(limit, |s| {
            s.heartbeat_settled()
                && s.converged().is_ok()
                && survivors
                    .iter()
                    .all(|i| s.view(*i).is_some_and(|v| v.members.len() == n - 1))
        });
        assert!(done, "seed {seed}: no view after the kill");
        let detected = sim
            .reports()
            .iter()
            .filter(|r| r.at >= killed_at && r.subject == victim && !r.alive)
            .map(|r| r.at)
            .min()
            .expect("a detection");
        let delivered = survivors
            .iter()
            .filter_map(|i| {
                sim.installs()
                    .iter()
                    .rev()
                    .find(|x| x.node == *i)
                    .map(|x| x.at)
            })
            .max()
            .expect("views");
        f.converge_ms
            .push(delivered.saturating_duration_since(detected).as_secs_f64() * 1000.0);
        let periodic: u64 = survivors
            .iter()
            .filter_map(|i| sim.node(*i))
            .map(|c| c.stats().periodic)
            .sum();
        let after = sim.sent_total() - periodic;
        f.msgs.push(after.saturating_sub(before));
    }
    f
}

fn view(c: &TestCluster, i: usize) -> Option<ccmapi::ViewInfo> {
    let mut client = ccmapi::connect(&c.node(i).paths()).ok()?;
    match client.call(&Request::View).ok()? {
        Response::View(v) => v,
        _ => None,
    }
}

fn all_agree(c: &TestCluster, nodes: &[usize]) -> bool {
    let views: Vec<_> = nodes.iter().map(|i| view(c, *i)).collect();
    views[0]
        .as_ref()
        .is_some_and(|v| v.members.len() == nodes.len())
        && views.iter().all(|v| *v == views[0])
}

/// Messages a survivor's ccm sent that changes caused (all but the
/// periodic announcements).
fn sent(c: &TestCluster, i: usize) -> u64 {
    ccmapi::connect(&c.node(i).paths())
        .ok()
        .and_then(|mut cl| match cl.call(&Request::Stats).ok()? {
            Response::Stats(s) => Some(s.sent - s.periodic),
            _ => None,
        })
        .unwrap_or(0)
}

/// What one survivor saw: when its ccm reported the victim dead and when
/// the new view arrived; its change-caused messages before the kill and
/// at the view.
struct Seen {
    dead_at: Instant,
    view_at: Instant,
    sent_before: u64,
    sent_at_view: u64,
}

fn real(n: usize, trials: usize) -> Figures {
    let mut f = Figures {
        converge_ms: Vec::new(),
        msgs: Vec::new(),
    };
    let c = Arc::new(TestCluster::new(&format!("mbench{n}"), n, 1));
    c.configure(&format!(
        "respawn root {}\napiauth ccm uid=root\n",
        bin("ccm").display()
    ));
    let all: Vec<usize> = (1..=n).collect();
    for i in &all {
        c.start(*i);
    }
    assert!(
        c.node(1).wait_for(|| all_agree(&c, &all)),
        "no initial view"
    );
    for t in 0..trials {
        // A stable cluster, then the failure.
        std::thread::sleep(Duration::from_secs(1));
        let victim = 1 + t % n;
        let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != victim).collect();
        let barrier = Arc::new(Barrier::new(survivors.len() + 1));
        let victim_name = format!("node{victim}");
        let threads: Vec<_> = survivors
            .iter()
            .map(|&i| {
                let c = Arc::clone(&c);
                let barrier = Arc::clone(&barrier);
                let victim_name = victim_name.clone();
                let want = n - 1;
                std::thread::spawn(move || {
                    let mut cl = ccmapi::connect(&c.node(i).paths()).expect("connect ccm");
                    let _ = cl.call(&Request::Join).expect("join");
                    let sent_before = sent(&c, i);
                    barrier.wait();
                    let mut dead = None;
                    loop {
                        match cl.next_event(Some(Duration::from_secs(20))) {
                            Ok(Some(Event::PeerStatus { node, alive: false }))
                                if node == victim_name =>
                            {
                                dead = Some(Instant::now());
                            }
                            Ok(Some(Event::ViewChanged(v)))
                                if v.members.len() == want
                                    && v.members.iter().all(|m| m.name != victim_name) =>
                            {
                                let at = Instant::now();
                                return Some(Seen {
                                    dead_at: dead.unwrap_or(at),
                                    view_at: at,
                                    sent_before,
                                    sent_at_view: sent(&c, i),
                                });
                            }
                            Ok(Some(_)) => {}
                            Ok(None) | Err(_) => return None,
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        c.signal(victim, Signal::SIGKILL);
        let seen: Vec<Seen> = threads
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect();
        if seen.len() == survivors.len() {
            let first = seen.iter().map(|s| s.dead_at).min().expect("survivors");
            let last = seen.iter().map(|s| s.view_at).max().expect("survivors");
            f.converge_ms
                .push(last.saturating_duration_since(first).as_secs_f64() * 1000.0);
            f.msgs.push(
                seen.iter()
                    .map(|s| s.sent_at_view.saturating_sub(s.sent_before))
                    .sum(),
            );
        } else {
            eprintln!("membership-bench: trial {t} with {n} nodes timed out");
        }
        c.start(victim);
        assert!(
            c.node(1).wait_for(|| all_agree(&c, &all)),
            "victim never rejoined"
        );
    }
    f
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let trials = value("--trials", 200);
    let real_trials = value("--real-trials", 10);
    println!("membership-bench: converge_ms = first failure detection -> new view on every survivor; msgs/change = ccm messages the change caused (broadcast = 1, periodic announcements left out)");
    for n in [3, 5, 16] {
        print("sim", n, &sim(n, trials as u64));
    }
    if flag("--sim-only") {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("membership-bench: real nodes need root (network namespaces); use --sim-only");
        std::process::exit(1);
    }
    for n in [3, 5] {
        print("real", n, &real(n, real_trials));
    }
}

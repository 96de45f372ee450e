//! Issue 10's benchmark: on three nodes in network namespaces (the test
//! harness), with a fencing device that confirms at once (fence_dummy) and
//! one Dummy resource with a 1 s monitor, it measures
//!
//! - `startup_ms`: heartbeat started on every node -> the resource started;
//! - `failover_ms`: kill -9 of the node running it (its whole stack) -> the
//!   resource started on another node (fencing included);
//! - `monfail_ms`: the resource's state removed under its agent -> running
//!   again (includes the wait for the next 1 s monitor, uniform 0..1 s);
//!
//! over `--trials` fresh clusters, for keepalive 100ms/deadtime 500ms
//! (`config=fast`) and Heartbeat's defaults (`config=default`, keepalive 1 s,
//! deadtime 30 s), one line each: `failover_ms config=fast min=A median=B
//! max=C`. Then the idle RSS and CPU of each daemon of every node over
//! `--idle` seconds, with Pacemaker's figures from shared/interop for
//! comparison. Run as root: `cargo build --release --workspace --bins &&
//! target/release/failover-bench`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use integration_tests::TestCluster;

#[derive(Parser, Debug)]
#[command(
    name = "failover-bench",
    about = "Failover, recovery and start-up times; idle RSS and CPU"
)]
struct Args {
    /// Trials per configuration.
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// Configurations to run: fast, default or both.
    #[arg(long, default_value = "both")]
    config: String,
    /// Seconds of idle measurement (0: none).
    #[arg(long, default_value_t = 30)]
    idle: u64,
}

const STEP: Duration = Duration::from_secs(120);

fn cib() -> String {
    r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="o-stonith" name="stonith-enabled" value="true"/>
        <nvpair id="o-deadtime" name="dc-deadtime" value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy">
        <instance_attributes id="fence-ia">
          <nvpair id="fence-hosts" name="pcmk_host_list" value="node1 node2 node3"/>
        </instance_attributes>
      </primitive>
      <primitive id="R" class="ocf" provider="heartbeat" type="Dummy">
        <operations><op id="R-mon" name="monitor" interval="1s" timeout="10s"/></operations>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#
    .to_string()
}

fn state(c: &TestCluster, i: usize) -> PathBuf {
    c.rsctmp(i).join("Dummy-R.state")
}

/// The live nodes where R is active (by its agent's state file).
fn active(c: &TestCluster, dead: &[usize]) -> Vec<usize> {
    (1..=3)
        .filter(|i| !dead.contains(i) && state(c, *i).exists())
        .collect()
}

fn wait(what: &str, mut cond: impl FnMut() -> bool) -> Result<Duration, String> {
    let start = Instant::now();
    while start.elapsed() < STEP {
        if cond() {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("timed out waiting for {what}"))
}

fn start_cluster(name: &str, timing: &str) -> TestCluster {
    let c = TestCluster::new(name, 3, 1);
    c.configure_timing(timing, "bcast eth0\n", "pacemaker respawn\n");
    c.prepare_crm(&cib());
    c
}

struct Trial {
    startup: Duration,
    monfail: Duration,
    failover: Duration,
}

fn trial(name: &str, timing: &str) -> Result<Trial, String> {
    let c = start_cluster(name, timing);
    let t0 = Instant::now();
    for i in 1..=3 {
        c.start(i);
    }
    wait("R started", || active(&c, &[]).len() == 1)?;
    let startup = t0.elapsed();
    // Let the first monitors settle, then fail the resource in place.
    std::thread::sleep(Duration::from_millis(1500));
    let on = active(&c, &[])[0];
    std::fs::remove_file(state(&c, on)).map_err(|e| format!("remove state: {e}"))?;
    let monfail = wait("R running again", || state(&c, on).exists())?;
    std::thread::sleep(Duration::from_millis(1500));
    let on = *active(&c, &[]).first().ok_or("R not running")?;
    let t0 = Instant::now();
    c.power_off(on);
    wait("R started elsewhere", || {
        let a = active(&c, &[on]);
        a.len() == 1
    })?;
    let failover = t0.elapsed();
    for i in 1..=3 {
        c.power_off(i);
    }
    Ok(Trial {
        startup,
        monfail,
        failover,
    })
}

fn line(figure: &str, config: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let ms = |d: Duration| d.as_millis();
    println!(
        "{figure} config={config} min={} median={} max={} trials={}",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1]),
        v.len()
    );
}

/// (utime + stime) in clock ticks, and VmRSS in KiB, of a process.
fn usage(pid: i32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn idle(secs: u64) -> Result<(), String> {
    let c = start_cluster(
        "fbidle",
        "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\n",
    );
    for i in 1..=3 {
        c.start(i);
    }
    wait("R started", || active(&c, &[]).len() == 1)?;
    std::thread::sleep(Duration::from_secs(3));
    let daemons = [
        "heartbeat",
        "ccm",
        "cib",
        "lrmd",
        "stonithd",
        "attrd",
        "crmd",
        "pengine",
    ];
    let before: Vec<Vec<(String, i32, u64)>> = (1..=3)
        .map(|i| {
            c.processes(i)
                .into_iter()
                .filter(|p| daemons.contains(&comm(*p).as_str()))
                .filter_map(|p| usage(p).map(|(t, _)| (comm(p), p, t)))
                .collect()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    let hz = 100.0;
    println!("idle over {secs} s, keepalive 100ms (RSS KiB, CPU s):");
    for (i, procs) in before.iter().enumerate() {
        let mut total_rss = 0;
        let mut total_cpu = 0.0;
        let mut parts = Vec::new();
        for (name, pid, t0) in procs {
            if let Some((t1, rss)) = usage(*pid) {
                let cpu = (t1.saturating_sub(*t0)) as f64 / hz;
                total_rss += rss;
                total_cpu += cpu;
                parts.push(format!("{name} {rss} {cpu:.2}"));
            }
        }
        println!("  node{}: {}", i + 1, parts.join(", "));
        println!(
            "idle_node node=node{} rss_kib={total_rss} cpu_s_per_min={:.2}",
            i + 1,
            total_cpu * 60.0 / secs as f64
        );
    }
    println!(
        "reference (shared/interop/pacemaker/RESULTS.md e.): Corosync + Pacemaker \
         ~200-215 MiB and ~0.6-0.7 CPU s/min per node at token 1650 ms; \
         Pacemaker's daemons alone ~100-110 MiB"
    );
    for i in 1..=3 {
        c.power_off(i);
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("failover-bench: run as root (network namespaces)");
        return std::process::ExitCode::from(1);
    }
    let configs: Vec<(&str, &str)> = [
        (
            "fast",
            "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\n",
        ),
        ("default", ""),
    ]
    .into_iter()
    .filter(|(n, _)| args.config == "both" || args.config == *n)
    .collect();
    for (name, timing) in configs {
        let (mut s, mut m, mut f) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..args.trials {
            match trial(&format!("fb{name}{t}"), timing) {
                Ok(r) => {
                    eprintln!(
                        "{name} trial {t}: startup {} ms, monitor failure {} ms, failover {} ms",
                        r.startup.as_millis(),
                        r.monfail.as_millis(),
                        r.failover.as_millis()
                    );
                    s.push(r.startup);
                    m.push(r.monfail);
                    f.push(r.failover);
                }
                Err(e) => eprintln!("{name} trial {t}: {e}"),
            }
        }
        line("startup_ms", name, s);
        line("monfail_ms", name, m);
        line("failover_ms", name, f);
    }
    if args.idle > 0 {
        if let Err(e) = idle(args.idle) {
            eprintln!("idle: {e}");
            return std::process::ExitCode::from(1);
        }
    }
    std::process::ExitCode::SUCCESS
}

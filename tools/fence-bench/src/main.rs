//! Issue 9's benchmark: fencing request-to-result latency with Debian's
//! fence_dummy.
//!
//! 1. Single node: a standalone stonithd in a temp dir with one
//!    fence_dummy device for ten targets; sequential reboots (p50/p99),
//!    then rounds of 10 concurrent reboots of different targets.
//! 2. `--cluster` (root): the same on a 3-node netns cluster where node 1
//!    asks and only node 2 has the device, so every request includes the
//!    query round, the exec on node 2 and the result broadcast.
//!
//! The agent's own time is measured by running fence_dummy directly with
//! the same input, interleaved with the requests; the overhead is the
//! request latency minus that (p50 against p50). A second figure needs no
//! subtraction: the same requests through `fence_noop`, an agent that
//! reads its options and exits, so the latency is the fencer's overhead
//! plus one fork/exec of /bin/sh.
//!
//! Build: `cargo build --release -p stonithd -p stonith_admin -p heartbeat
//! -p fence-bench`, then `target/release/fence-bench [--cluster]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use integration_tests::{bin, TestCluster, TestNode};
use stonithapi::{DeviceSpec, FenceAction, Request, Response, StonithClient};

const FENCE_DUMMY: &str = "/usr/sbin/fence_dummy";
const TARGETS: usize = 10;

#[derive(Parser, Debug)]
#[command(name = "fence-bench", about = "Fencing request-to-result latency")]
struct Args {
    /// Sequential requests per run.
    #[arg(long, default_value_t = 40)]
    requests: usize,
    /// Rounds of 10 concurrent requests.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Also measure on a 3-node netns cluster (root).
    #[arg(long)]
    cluster: bool,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(label: &str, mut lat: Vec<Duration>, agent_p50: Duration) {
    lat.sort();
    let p50 = percentile(&lat, 0.5);
    let p99 = percentile(&lat, 0.99);
    println!(
        "{label:<44} n={:<4} p50 {:>7.1} ms  p99 {:>7.1} ms  p50 - agent alone p50 {:>+6.1} ms (agent alone p50 {:.1} ms)",
        lat.len(),
        ms(p50),
        ms(p99),
        // Signed: with the agent's time varying run to run, a negative
        // difference says the overhead is below the noise.
        ms(p50) - ms(agent_p50),
        ms(agent_p50)
    );
}

/// Runs fence_dummy directly as stonithd would (reboot, options on stdin).
fn agent_alone(status: &std::path::Path) -> Duration {
    let t = Instant::now();
    let mut c = Command::new(FENCE_DUMMY)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run fence_dummy");
    if let Some(mut i) = c.stdin.take() {
        let _ = write!(
            i,
            "action=reboot\nnodename=t0\nport=t0\nstatus_file={}\n",
            status.display()
        );
    }
    let _ = c.wait();
    t.elapsed()
}

/// One fence_dummy device per target (as one IPMI per node), each with
/// its own status file: fence_dummy's file is not safe for concurrent runs.
fn devices(dir: &std::path::Path) -> Vec<DeviceSpec> {
    (0..TARGETS)
        .map(|i| DeviceSpec {
            id: format!("dummy{i}"),
            agent: "fence_dummy".into(),
            params: [
                ("pcmk_host_list".to_string(), format!("t{i}")),
                (
                    "status_file".to_string(),
                    dir.join(format!("t{i}.status")).display().to_string(),
                ),
            ]
            .into(),
        })
        .collect()
}

fn register_all(c: &mut StonithClient, dir: &std::path::Path) {
    for d in devices(dir) {
        assert_eq!(
            c.call(&Request::Register(d)).expect("register"),
            Response::Done
        );
    }
}

/// A private agent directory: fence_dummy (linked) and fence_noop.
fn agent_dir(root: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("agents");
    std::fs::create_dir_all(&dir).expect("agent dir");
    let _ = std::os::unix::fs::symlink(FENCE_DUMMY, dir.join("fence_dummy"));
    let noop = dir.join("fence_noop");
    std::fs::write(&noop, NOOP_AGENT).expect("write fence_noop");
    std::fs::set_permissions(&noop, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// An agent that reads its options and exits (metadata for `-o metadata`).
const NOOP_AGENT: &str = r#"#!/bin/sh
if [ "$1" = -o ] && [ "$2" = metadata ]; then
echo '<?xml version="1.0" ?><resource-agent name="fence_noop" shortdesc="no-op"><parameters/><actions><action name="on"/><action name="off"/><action name="reboot"/><action name="status"/><action name="metadata"/></actions></resource-agent>'
exit 0
fi
cat > /dev/null
exit 0
"#;

fn noop_device() -> DeviceSpec {
    let hosts: Vec<String> = (0..TARGETS).map(|i| format!("n{i}")).collect();
    DeviceSpec {
        id: "noop".into(),
        agent: "fence_noop".into(),
        // One device for ten targets, as many actions at once as asked.
        params: [
            ("pcmk_host_list".to_string(), hosts.join(" ")),
            ("pcmk_action_limit".to_string(), "-1".to_string()),
        ]
        .into(),
    }
}

/// Sequential requests through fence_noop: the fencer's own overhead.
fn noop_sequential(paths: &plumbing::HaPaths, n: usize) -> Vec<Duration> {
    fence(paths, "n0");
    (0..n)
        .map(|i| fence(paths, &format!("n{}", i % TARGETS)))
        .collect()
}

/// Rounds of 10 concurrent requests through fence_noop.
fn noop_concurrent(paths: &plumbing::HaPaths, rounds: usize) -> Vec<Duration> {
    let mut lat = Vec::new();
    for _ in 0..rounds {
        let threads: Vec<_> = (0..TARGETS)
            .map(|i| {
                let p = paths.clone();
                std::thread::spawn(move || fence(&p, &format!("n{i}")))
            })
            .collect();
        for t in threads {
            lat.push(t.join().expect("request thread"));
        }
    }
    lat
}

fn report_noop(label: &str, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{label:<44} n={:<4} p50 {:>7.1} ms  p99 {:>7.1} ms  (no-op agent: fencer overhead + one sh exec)",
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
}

fn fence(paths: &plumbing::HaPaths, target: &str) -> Duration {
    let mut c = StonithClient::local(paths, Duration::from_secs(60)).expect("connect");
    let t = Instant::now();
    match c.fence(
        target,
        FenceAction::Reboot,
        Duration::from_secs(30),
        Duration::ZERO,
    ) {
        Ok(Response::Fenced(r)) if r.succeeded => t.elapsed(),
        other => panic!("fencing {target} failed: {other:?}"),
    }
}

/// Sequential requests, each timed; the agent alone timed in between.
fn sequential(
    paths: &plumbing::HaPaths,
    status: &std::path::Path,
    n: usize,
) -> (Vec<Duration>, Duration) {
    let mut lat = Vec::new();
    let mut alone = Vec::new();
    for i in 0..n {
        lat.push(fence(paths, &format!("t{}", i % TARGETS)));
        alone.push(agent_alone(status));
    }
    alone.sort();
    (lat, percentile(&alone, 0.5))
}

/// Rounds of 10 requests for different targets at once.
fn concurrent(
    paths: &plumbing::HaPaths,
    status: &std::path::Path,
    rounds: usize,
) -> (Vec<Duration>, Duration) {
    let mut lat = Vec::new();
    for _ in 0..rounds {
        let threads: Vec<_> = (0..TARGETS)
            .map(|i| {
                let p = paths.clone();
                std::thread::spawn(move || fence(&p, &format!("t{i}")))
            })
            .collect();
        for t in threads {
            lat.push(t.join().expect("request thread"));
        }
    }
    // The agent's time when 10 run at once (2 cores here): run 10 directly.
    let mut alone = Vec::new();
    for _ in 0..rounds {
        let threads: Vec<_> = (0..TARGETS)
            .map(|i| {
                let st = status.with_extension(format!("{i}"));
                std::thread::spawn(move || agent_alone(&st))
            })
            .collect();
        for t in threads {
            alone.push(t.join().expect("agent thread"));
        }
    }
    alone.sort();
    (lat, percentile(&alone, 0.5))
}

struct Standalone {
    node: TestNode,
    child: Option<Child>,
}

impl Drop for Standalone {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn single(args: &Args) {
    let node = TestNode::new("fencebench");
    let agents = agent_dir(&node.root);
    let mut cmd = Command::new(bin("stonithd"));
    node.apply_env(&mut cmd);
    let child = cmd
        .args(["-s", "--no-cib"])
        .env("FENCE_AGENT_DIR", &agents)
        .stderr(Stdio::null())
        .spawn()
        .expect("start stonithd");
    let s = Standalone {
        node,
        child: Some(child),
    };
    let paths = s.node.paths();
    assert!(
        s.node
            .wait_for(|| StonithClient::local(&paths, Duration::from_secs(5)).is_ok()),
        "stonithd did not start"
    );
    let status: PathBuf = s.node.root.join("alone.status");
    let mut c = StonithClient::local(&paths, Duration::from_secs(30)).expect("connect");
    register_all(&mut c, &s.node.root);
    assert_eq!(
        c.call(&Request::Register(noop_device())).expect("register"),
        Response::Done
    );
    // Warm up (agent metadata is read once per agent).
    fence(&paths, "t0");
    let (lat, alone) = sequential(&paths, &status, args.requests);
    report("single node, sequential", lat, alone);
    let (lat, alone) = concurrent(&paths, &status, args.rounds);
    report("single node, 10 concurrent (different targets)", lat, alone);
    report_noop(
        "single node, sequential, fence_noop",
        noop_sequential(&paths, args.requests),
    );
    report_noop(
        "single node, 10 concurrent, fence_noop",
        noop_concurrent(&paths, args.rounds),
    );
}

fn cluster(args: &Args) {
    use std::os::unix::fs::PermissionsExt;
    let c = TestCluster::new("fencebench", 3, 1);
    // heartbeat gives children a clean environment: a wrapper sets the
    // agent directory.
    let agents = agent_dir(&c.node(1).root);
    let wrapper = c.node(1).root.join("stonithd.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nFENCE_AGENT_DIR={} exec {} \"$@\"\n",
            agents.display(),
            bin("stonithd").display()
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    c.configure(&format!("respawn root {}\n", wrapper.display()));
    for i in 1..=3 {
        c.start(i);
    }
    for i in 1..=3 {
        let p = c.node(i).paths();
        assert!(
            c.node(i)
                .wait_for(|| StonithClient::local(&p, Duration::from_secs(5)).is_ok()),
            "stonithd on node{i} did not start"
        );
    }
    let status = c.node(2).root.join("alone.status");
    let p2 = c.node(2).paths();
    let mut cl = StonithClient::local(&p2, Duration::from_secs(30)).expect("connect node2");
    register_all(&mut cl, &c.node(2).root);
    assert_eq!(
        cl.call(&Request::Register(noop_device()))
            .expect("register"),
        Response::Done
    );
    let p1 = c.node(1).paths();
    // Wait until node 1 sees node 2's device (all fencers joined).
    let mut c1 = StonithClient::local(&p1, Duration::from_secs(30)).expect("connect node1");
    let seen = c.node(1).wait_for(|| {
        matches!(c1.call(&Request::ListCapable { target: "t0".into() }),
            Ok(Response::Names(v)) if v == ["dummy0"])
    });
    assert!(seen, "node1 does not see node2's device");
    fence(&p1, "t0");
    let (lat, alone) = sequential(&p1, &status, args.requests);
    report("3 nodes, node1 asks, node2 runs, sequential", lat, alone);
    let (lat, alone) = concurrent(&p1, &status, args.rounds);
    report("3 nodes, 10 concurrent (different targets)", lat, alone);
    report_noop(
        "3 nodes, sequential, fence_noop",
        noop_sequential(&p1, args.requests),
    );
    report_noop(
        "3 nodes, 10 concurrent, fence_noop",
        noop_concurrent(&p1, args.rounds),
    );
}

fn main() {
    let args = Args::parse();
    if !std::path::Path::new(FENCE_DUMMY).is_file() {
        eprintln!("fence-bench: {FENCE_DUMMY} is missing (apt-get install fence-agents)");
        std::process::exit(1);
    }
    single(&args);
    if args.cluster {
        cluster(&args);
    }
}

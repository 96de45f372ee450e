//! cib-bench: the figures of issue 7, in one run.
//!
//! 1. Sequential `cibadmin --modify` calls (process start included)
//!    against a standalone cib daemon, and on a `CIB_file` of the same
//!    size, with Debian's `/usr/sbin/cibadmin` on another copy of that
//!    file: calls/s and per-call latency p50/p99.
//! 2. Updates per second through the client library on one connection:
//!    status-section updates (kept in memory, as Pacemaker keeps status)
//!    and configuration updates (each on disk before it is answered).
//! 3. Replication latency on a 3-node netns cluster (`--replication`, needs
//!    root): a write submitted on node1 until node3's cib notifies it.
//! 4. Time to load a 50 MB CIB (daemon start until it answers) and to
//!    write one (a whole-CIB replace through the daemon, on disk when
//!    answered).
//!
//! Binaries are taken from this program's own directory (build with
//! `cargo build --release -p cib -p cibadmin -p cib-bench -p heartbeat`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cibapi::{CibClient, Event, OpKind, OpRequest, Response};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "cib-bench", about = "Benchmark of the cib daemon and cibadmin")]
struct Args {
    /// Resources in the CIB used for the per-call figures.
    #[arg(long, default_value_t = 200)]
    resources: usize,
    /// cibadmin calls per variant.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// Updates through the client library.
    #[arg(long, default_value_t = 5000)]
    updates: usize,
    /// Size of the large CIB in MB (0 skips it).
    #[arg(long, default_value_t = 50)]
    large_mb: usize,
    /// Also measure replication on a 3-node cluster (root, netns).
    #[arg(long)]
    replication: bool,
    /// Writes timed for replication.
    #[arg(long, default_value_t = 300)]
    repl_writes: usize,
}

const PCMK_CIBADMIN: &str = "/usr/sbin/cibadmin";

fn exe_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A CIB with `n` primitives (each with attributes and two operations).
fn make_cib(n: usize) -> String {
    let mut s = String::with_capacity(n * 420 + 1024);
    s.push_str(r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><nodes><node id="1" uname="node1"/></nodes><resources>"#);
    for i in 0..n {
        s.push_str(&format!(
            r#"<primitive id="r{i}" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="r{i}-ia"><nvpair id="r{i}-ia-state" name="state" value="/var/run/r{i}.state"/></instance_attributes><operations><op id="r{i}-mon" name="monitor" interval="10s" timeout="20s"/><op id="r{i}-start" name="start" interval="0" timeout="20s"/></operations></primitive>"#
        ));
    }
    s.push_str("</resources><constraints/></configuration><status/></cib>\n");
    s
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(label: &str, mut lat: Vec<Duration>, total: Duration) {
    lat.sort();
    let n = lat.len();
    println!(
        "{label:<48} {n:>6} calls {:>9.1} calls/s  p50 {:>8.3} ms  p99 {:>8.3} ms",
        n as f64 / total.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
}

/// A node directory with a standalone cib.
struct Daemon {
    root: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    fn new(tag: &str) -> Daemon {
        let root = std::env::temp_dir().join(format!("cib-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["etc", "run", "lib", "log"] {
            std::fs::create_dir_all(root.join(d)).expect("create bench dirs");
        }
        Daemon { root, child: None }
    }

    fn env(&self, c: &mut Command) {
        c.env("HA_CONFDIR", self.root.join("etc"))
            .env("HA_RUNDIR", self.root.join("run"))
            .env("HA_STATEDIR", self.root.join("lib"))
            .env("HA_LOGDIR", self.root.join("log"))
            .env("HA_NODENAME", "node1")
            .env_remove("CIB_file");
    }

    fn paths(&self) -> plumbing::HaPaths {
        let root = self.root.clone();
        plumbing::HaPaths::from_lookup(move |k| {
            let p = |d: &str| Some(root.join(d).to_string_lossy().into_owned());
            match k {
                "HA_CONFDIR" => p("etc"),
                "HA_RUNDIR" => p("run"),
                "HA_STATEDIR" => p("lib"),
                "HA_LOGDIR" => p("log"),
                "HA_NODENAME" => Some("node1".into()),
                _ => None,
            }
        })
    }

    /// Starts the daemon; returns how long until it answered.
    fn start(&mut self) -> Duration {
        let t0 = Instant::now();
        let mut c = Command::new(exe_dir().join("cib"));
        self.env(&mut c);
        c.arg("-s").stderr(Stdio::null());
        self.child = Some(c.spawn().expect("start cib"));
        let paths = self.paths();
        loop {
            if let Ok(mut cl) = CibClient::local(&paths, Some(Duration::from_secs(600))) {
                if cl.status().is_ok() {
                    return t0.elapsed();
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(600), "cib did not start");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn client(&self) -> CibClient {
        CibClient::local(&self.paths(), Some(Duration::from_secs(600))).expect("connect")
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix_kill(c.id());
            let _ = c.wait();
        }
    }
}

fn nix_kill(pid: u32) -> std::io::Result<()> {
    Command::new("kill")
        .arg(pid.to_string())
        .status()
        .map(|_| ())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn replace_all(cl: &mut CibClient, text: String) {
    let mut r = OpRequest::new(OpKind::Replace);
    r.data = Some(text);
    match cl.perform(r) {
        Ok(Response::Done { .. }) => {}
        other => panic!("replace failed: {other:?}"),
    }
}

/// Times `calls` sequential runs of `program -M -X ...` with `setup`.
fn cibadmin_calls(
    program: &Path,
    calls: usize,
    n: usize,
    setup: impl Fn(&mut Command),
) -> (Vec<Duration>, Duration) {
    let mut lat = Vec::with_capacity(calls);
    let t0 = Instant::now();
    for i in 0..calls {
        let x = format!(r#"<primitive id="r{}" description="d{i}"/>"#, i % n.max(1));
        let mut c = Command::new(program);
        setup(&mut c);
        c.args(["-M", "-X", &x])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let t = Instant::now();
        let out = c.output().expect("run cibadmin");
        lat.push(t.elapsed());
        assert!(
            out.status.success(),
            "{} -M failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (lat, t0.elapsed())
}

fn per_call(args: &Args) {
    println!(
        "== cibadmin --modify, sequential, process start included ({} resources) ==",
        args.resources
    );
    let cib = make_cib(args.resources);
    println!("CIB size: {} bytes", cib.len());
    let mut d = Daemon::new("calls");
    d.start();
    replace_all(&mut d.client(), cib.clone());
    let ours = exe_dir().join("cibadmin");
    let (lat, t) = cibadmin_calls(&ours, args.calls, args.resources, |c| d.env(c));
    report("ours, through the cib daemon", lat, t);
    d.stop();

    let dir = std::env::temp_dir().join(format!("cib-bench-{}-files", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let f1 = dir.join("ours.xml");
    let f2 = dir.join("pcmk.xml");
    std::fs::write(&f1, &cib).expect("write");
    std::fs::write(&f2, &cib).expect("write");
    let (lat, t) = cibadmin_calls(&ours, args.calls, args.resources, |c| {
        c.env("CIB_file", &f1);
    });
    report("ours, CIB_file", lat, t);
    if Path::new(PCMK_CIBADMIN).is_file() {
        let (lat, t) = cibadmin_calls(Path::new(PCMK_CIBADMIN), args.calls, args.resources, |c| {
            c.env("CIB_file", &f2);
        });
        report("Pacemaker 2.1.5 /usr/sbin/cibadmin, CIB_file", lat, t);
    } else {
        println!(
            "{PCMK_CIBADMIN} not installed: no comparison (apt-get install pacemaker-cli-utils)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn library(args: &Args) {
    println!("== client library, one connection, sequential calls ==");
    let mut d = Daemon::new("lib");
    d.start();
    let mut cl = d.client();
    replace_all(&mut cl, make_cib(args.resources));
    for (label, status) in [
        (
            "status updates (in memory, as Pacemaker keeps status)",
            true,
        ),
        ("configuration updates (on disk before the answer)", false),
    ] {
        let n = if status {
            args.updates
        } else {
            args.updates / 5
        };
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n {
            let mut r = OpRequest::new(OpKind::Modify);
            if status {
                r.section = Some("status".into());
                r.allow_create = true;
                r.data = Some(format!(
                    r#"<status><node_state id="1" uname="node1" crm-debug-origin="bench-{i}"/></status>"#
                ));
            } else {
                r.data = Some(format!(
                    r#"<primitive id="r{}" description="lib{i}"/>"#,
                    i % args.resources.max(1)
                ));
            }
            let t = Instant::now();
            match cl.perform(r) {
                Ok(Response::Done { .. }) => {}
                other => panic!("update failed: {other:?}"),
            }
            lat.push(t.elapsed());
        }
        report(label, lat, t0.elapsed());
    }
}

fn large(args: &Args) {
    if args.large_mb == 0 {
        return;
    }
    println!("== {} MB CIB ==", args.large_mb);
    let per = make_cib(1).len() - make_cib(0).len();
    let cib = make_cib(args.large_mb * 1_000_000 / per);
    println!("CIB size: {} bytes", cib.len());
    let mut d = Daemon::new("large");
    d.start();
    let mut cl = d.client();
    let t = Instant::now();
    replace_all(&mut cl, cib);
    println!(
        "write: replace of the whole CIB through the daemon, on disk when answered: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut r = OpRequest::new(OpKind::Modify);
    r.data = Some(r#"<primitive id="r1" description="one change"/>"#.into());
    match cl.perform(r) {
        Ok(Response::Done { .. }) => {}
        other => panic!("modify failed: {other:?}"),
    }
    println!(
        "one small configuration change on it (diff, digest, disk write): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut q = OpRequest::new(OpKind::Query);
    q.section = None;
    let size = match cl.perform(q) {
        Ok(Response::Xml(x)) => x.len(),
        other => panic!("query failed: {other:?}"),
    };
    println!(
        "query of the whole CIB ({size} bytes back): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    drop(cl);
    d.stop();
    let load = d.start();
    println!(
        "load: daemon start with it on disk until it answers: {:.3} s",
        load.as_secs_f64()
    );
}

fn replication(args: &Args) {
    use integration_tests::TestCluster;
    println!("== replication, 3 nodes in network namespaces, node1 (master) -> node3 ==");
    let c = TestCluster::new("cibbench", 3, 1);
    c.configure("pacemaker respawn\n");
    for i in 1..=3 {
        let _ = Command::new("chown")
            .args(["hacluster:haclient"])
            .arg(c.node(i).root.join("run"))
            .arg(c.node(i).root.join("lib"))
            .status();
        c.start(i);
    }
    let ready = c.node(1).wait_for(|| {
        (1..=3).all(|i| {
            CibClient::local(&c.node(i).paths(), Some(Duration::from_secs(5)))
                .and_then(|mut cl| cl.status())
                .is_ok_and(|s| s.peers.len() == 3 && !s.syncing)
        })
    });
    assert!(ready, "the cluster did not come up");
    let mut writer =
        CibClient::local(&c.node(1).paths(), Some(Duration::from_secs(10))).expect("node1");
    let mut watcher =
        CibClient::local(&c.node(3).paths(), Some(Duration::from_secs(10))).expect("node3");
    watcher.subscribe().expect("subscribe");
    let mut submit = Vec::new();
    let mut after_ack = Vec::new();
    let t0 = Instant::now();
    for i in 0..args.repl_writes {
        let mut r = OpRequest::new(OpKind::Modify);
        r.section = Some("status".into());
        r.allow_create = true;
        r.data = Some(format!(
            r#"<status><node_state id="1" uname="node1" crm-debug-origin="repl-{i}"/></status>"#
        ));
        let t = Instant::now();
        let version = match writer.perform(r) {
            Ok(Response::Done { version, .. }) => version,
            other => panic!("write failed: {other:?}"),
        };
        let acked = Instant::now();
        loop {
            match watcher.next_event(Some(Duration::from_secs(10))) {
                Ok(Some(Event::Diff { version: v, .. } | Event::Replaced { version: v }))
                    if v >= version =>
                {
                    break
                }
                Ok(Some(_)) => {}
                other => panic!("node3 did not see {version}: {other:?}"),
            }
        }
        let seen = Instant::now();
        submit.push(seen - t);
        after_ack.push(seen.saturating_duration_since(acked));
    }
    let total = t0.elapsed();
    report("submitted on node1 -> notified on node3", submit, total);
    report(
        "acknowledged on node1 -> notified on node3",
        after_ack,
        total,
    );
}

fn main() {
    let args = Args::parse();
    per_call(&args);
    library(&args);
    large(&args);
    if args.replication {
        replication(&args);
    }
}

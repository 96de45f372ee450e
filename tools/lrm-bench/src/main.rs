//! lrm-bench: starts its own lrmd (next to this binary) in a temporary
//! directory with an OCF agent that exits at once, and prints
//! - latency: request to result of one-shot operations, p50/p99, and the
//!   agent's own run time (fork/exec/wait from this process) for the
//!   overhead;
//! - throughput: operations per second over many resources;
//! - recurring: CPU (lrmd's own user+system time, not its agents') and RSS
//!   of lrmd with 1,000 recurring monitors at 10 s;
//! - soak (`--soak SECS`): 500 recurring monitors at 1 s on 200
//!   resources, the worst lateness of a run against its schedule and RSS
//!   at the start and end.
//!
//! Figures only: nothing here asserts on time.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use lrmapi::{Event, LrmClient, Notify, OpSpec, Request, Resource, Response};

#[derive(Parser, Debug)]
#[command(name = "lrm-bench", about = "Benchmark of lrmd")]
struct Args {
    /// One-shot operations for the latency figure.
    #[arg(long, default_value_t = 500)]
    ops: usize,
    /// Operations for the throughput figure.
    #[arg(long, default_value_t = 2000)]
    burst: usize,
    /// Seconds to measure lrmd with 1,000 recurring monitors at 10 s.
    #[arg(long, default_value_t = 30)]
    recurring_secs: u64,
    /// Seconds of 500 monitors at 1 s on 200 resources (0: skip).
    #[arg(long, default_value_t = 0)]
    soak: u64,
    /// lrmd's max-children.
    #[arg(long, default_value_t = 4)]
    max_children: usize,
}

struct Daemon {
    dir: PathBuf,
    child: Child,
    sock: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(max_children: usize) -> Result<Daemon, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let lrmd = exe.with_file_name("lrmd");
    let dir = std::env::temp_dir().join(format!("lrm-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let agent_dir = dir.join("ocf/resource.d/bench");
    std::fs::create_dir_all(&agent_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("run")).map_err(|e| e.to_string())?;
    let agent = agent_dir.join("Quick");
    std::fs::write(&agent, "#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let child = Command::new(&lrmd)
        .env("HA_RUNDIR", dir.join("run"))
        .env("HA_CONFDIR", &dir)
        .env("OCF_ROOT", dir.join("ocf"))
        .arg("--max-children")
        .arg(max_children.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", lrmd.display()))?;
    let sock = dir.join("run/lrmd.sock");
    let d = Daemon { dir, child, sock };
    let t = Instant::now();
    while LrmClient::connect(&d.sock, Duration::from_secs(1)).is_err() {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("lrmd did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(d)
}

fn client(d: &Daemon) -> Result<LrmClient, String> {
    let mut c = LrmClient::connect(&d.sock, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    c.call(&Request::Subscribe).map_err(|e| e.to_string())?;
    Ok(c)
}

fn add(c: &mut LrmClient, id: &str) -> Result<(), String> {
    let r = Resource {
        id: id.into(),
        class: "ocf".into(),
        rtype: "Quick".into(),
        provider: Some("bench".into()),
        params: BTreeMap::new(),
    };
    match c.call(&Request::Add(r)).map_err(|e| e.to_string())? {
        Response::Ok => Ok(()),
        o => Err(format!("add {id}: {o:?}")),
    }
}

fn spec(rsc: &str, interval_ms: u64, notify: Notify) -> OpSpec {
    OpSpec {
        rsc: rsc.into(),
        op: "monitor".into(),
        timeout_ms: 20_000,
        interval_ms,
        start_delay_ms: 0,
        notify,
        params: BTreeMap::new(),
        app_name: "lrm-bench".into(),
    }
}

fn perform(c: &mut LrmClient, s: OpSpec) -> Result<u64, String> {
    match c.call(&Request::Perform(s)).map_err(|e| e.to_string())? {
        Response::CallId(id) => Ok(id),
        o => Err(format!("perform: {o:?}")),
    }
}

fn wait_done(c: &mut LrmClient) -> Result<u64, String> {
    match c
        .next_event(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?
    {
        Some(Event::OpDone(r)) => Ok(r.call_id),
        Some(_) => wait_done(c),
        None => Err("no result within 60 s".into()),
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

/// lrmd's own CPU seconds (utime + stime, children excluded).
fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let get = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat, counted from the state field (3).
    (get(11) + get(12)) / tick
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn latency(d: &Daemon, n: usize, agent: &Path) -> Result<(), String> {
    let mut c = client(d)?;
    add(&mut c, "lat")?;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let id = perform(&mut c, spec("lat", 0, Notify::Every))?;
        while wait_done(&mut c)? != id {}
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        Command::new(agent)
            .arg("monitor")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        direct.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    let (d50, d99) = (pct(&mut direct, 0.5), pct(&mut direct, 0.99));
    println!("latency ({n} one-shot ops, agent exits at once):");
    println!("  through lrmd: p50 {p50:.2} ms, p99 {p99:.2} ms");
    println!("  agent alone:  p50 {d50:.2} ms, p99 {d99:.2} ms");
    println!("  overhead p50: {:.2} ms", p50 - d50);
    Ok(())
}

fn throughput(d: &Daemon, n: usize) -> Result<(), String> {
    let mut c = client(d)?;
    let rscs: Vec<String> = (0..50).map(|i| format!("tp{i}")).collect();
    for r in &rscs {
        add(&mut c, r)?;
    }
    let t = Instant::now();
    let mut pending = 0usize;
    let mut sent = 0usize;
    while sent < n || pending > 0 {
        // Keep up to 100 in flight: under the per-resource queue bound.
        while sent < n && pending < 100 {
            perform(&mut c, spec(&rscs[sent % rscs.len()], 0, Notify::Every))?;
            sent += 1;
            pending += 1;
        }
        wait_done(&mut c)?;
        pending -= 1;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "throughput: {n} ops over 50 resources in {secs:.2} s: {:.0} ops/s",
        n as f64 / secs
    );
    Ok(())
}

fn recurring(d: &Daemon, secs: u64) -> Result<(), String> {
    let mut c = client(d)?;
    for i in 0..1000 {
        let r = format!("rec{i}");
        add(&mut c, &r)?;
        perform(&mut c, spec(&r, 10_000, Notify::Changed))?;
    }
    // Let the first round pass, then measure.
    std::thread::sleep(Duration::from_secs(11));
    let pid = d.child.id();
    let (c0, r0, t0) = (cpu_secs(pid), rss_kb(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, r1) = (cpu_secs(pid), rss_kb(pid));
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "recurring: 1000 monitors at 10 s for {wall:.0} s: lrmd CPU {:.2}% of one core, RSS {r0} kB -> {r1} kB",
        (c1 - c0) / wall * 100.0
    );
    Ok(())
}

fn soak(d: &Daemon, secs: u64) -> Result<(), String> {
    let mut c = client(d)?;
    let mut ids = Vec::new();
    for i in 0..200 {
        add(&mut c, &format!("soak{i}"))?;
    }
    for i in 0..500 {
        ids.push(perform(
            &mut c,
            spec(&format!("soak{}", i % 200), 1000, Notify::Every),
        )?);
    }
    let pid = d.child.id();
    let start = Instant::now();
    let mut first: HashMap<u64, (Instant, u64)> = HashMap::new();
    let mut worst = 0f64;
    let mut runs = 0u64;
    let mut r0 = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        let id = wait_done(&mut c)?;
        let now = Instant::now();
        runs += 1;
        // Lateness of the n-th completion against first + n s.
        let e = first.entry(id).or_insert((now, 0));
        e.1 += 1;
        let due = e.0 + Duration::from_secs(e.1 - 1);
        worst = worst.max(now.saturating_duration_since(due).as_secs_f64() * 1000.0);
        if r0 == 0 && start.elapsed() > Duration::from_secs(5) {
            r0 = rss_kb(pid);
        }
    }
    println!(
        "soak: 500 monitors at 1 s on 200 resources for {secs} s: {runs} runs, worst lateness {worst:.0} ms, RSS {r0} kB (at 5 s) -> {} kB",
        rss_kb(pid)
    );
    for (i, id) in ids.into_iter().enumerate() {
        let _ = c.call(&Request::Cancel(format!("soak{}", i % 200), id));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let r = (|| -> Result<(), String> {
        let d = start(a.max_children)?;
        let agent = d.dir.join("ocf/resource.d/bench/Quick");
        latency(&d, a.ops, &agent)?;
        throughput(&d, a.burst)?;
        drop(d);
        if a.recurring_secs > 0 {
            let d = start(a.max_children)?;
            recurring(&d, a.recurring_secs)?;
        }
        if a.soak > 0 {
            let d = start(a.max_children.max(8))?;
            soak(&d, a.soak)?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lrm-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! ipc-bench: measures the ipc crate against the physical floor of this
//! machine. For each payload size it prints the round trip of a call through
//! a real server process (p50, p99), one-way streaming throughput with flow
//! control, and the p50 round trip of a bare blocking socketpair ping-pong of
//! the same size measured in the same run.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use clap::Parser;
use ipc::{AccessPolicy, BlockingClient, Bytes, Limits, Protocol, Server, ServerEvent};
use plumbing::{Event, EventLoop};
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug)]
#[command(
    name = "ipc-bench",
    about = "Benchmark the cluster IPC against a raw Unix socketpair"
)]
struct Args {
    /// Payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![64usize, 1024, 65536])]
    sizes: Vec<usize>,
    /// Round trips measured per size (fewer for payloads over 16 KiB).
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
    /// One-way messages streamed per size (fewer for payloads over 16 KiB).
    #[arg(long, default_value_t = 300_000)]
    stream: usize,
    /// Let the scheduler spread the processes over all CPUs instead of
    /// pinning every process to CPU 0 (one core, the stable default: on a VM
    /// cross-core wake-ups vary several-fold within seconds).
    #[arg(long)]
    spread: bool,
    /// Internal: pin this process to CPU 0.
    #[arg(long, hide = true)]
    pin: bool,
    /// Internal: run as the server on this socket.
    #[arg(long, hide = true)]
    serve: Option<PathBuf>,
}

struct Bench;

#[derive(Serialize, Deserialize)]
enum Req {
    Echo(Bytes),
    Note(Bytes),
    Count,
}

#[derive(Serialize, Deserialize)]
enum Resp {
    Echo(Bytes),
    Count(u64),
}

impl Protocol for Bench {
    type Request = Req;
    type Response = Resp;
    type Event = ();
}

fn main() {
    let mut args = Args::parse();
    args.pin = args.pin || !args.spread;
    if args.pin {
        pin_to_cpu0();
    }
    if let Some(path) = &args.serve {
        if let Err(e) = serve(path) {
            eprintln!("ipc-bench server: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("ipc-bench: {e}");
        std::process::exit(1);
    }
}

fn pin_to_cpu0() {
    let mut set = nix::sched::CpuSet::new();
    if set.set(0).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn serve(path: &Path) -> std::io::Result<()> {
    let mut lp = EventLoop::new()?;
    let mut server: Server<Bench> = Server::bind(
        &mut lp,
        path,
        0o600,
        AccessPolicy::root_only(),
        Limits::default(),
    )?;
    let mut events = Vec::new();
    let mut reqs = Vec::new();
    let mut notes = 0u64;
    let mut had_client = false;
    loop {
        lp.poll(&mut events, server.poll_timeout())?;
        for ev in events.drain(..) {
            if let Event::Io { token, ready } = ev {
                server.handle_io(&mut lp, token, ready, &mut reqs);
            }
        }
        server.process(&mut lp, &mut reqs);
        while !reqs.is_empty() {
            for r in std::mem::take(&mut reqs) {
                match r {
                    ServerEvent::Request { client, call, body } => {
                        let resp = match body {
                            Req::Echo(b) => Resp::Echo(b),
                            Req::Note(_) => {
                                notes += 1;
                                continue;
                            }
                            Req::Count => Resp::Count(std::mem::take(&mut notes)),
                        };
                        if let Some(id) = call {
                            let _ = server.reply(&mut lp, client, id, &resp, &mut reqs);
                        }
                    }
                    ServerEvent::Connected { .. } => had_client = true,
                    ServerEvent::Disconnected { .. } => {
                        if had_client && server.clients().next().is_none() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

struct ServerProcess {
    child: Child,
    dir: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server(pin: bool) -> Result<(ServerProcess, PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("ipc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("bench.sock");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("--serve").arg(&path);
    if pin {
        cmd.arg("--pin");
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start server: {e}"))?;
    let proc = ServerProcess { child, dir };
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((proc, path))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn run(args: &Args) -> Result<(), String> {
    let (_server, path) = start_server(args.pin)?;
    let mut client: BlockingClient<Bench> =
        BlockingClient::connect(&path).map_err(|e| e.to_string())?;
    for &size in &args.sizes {
        let scale = if size > 16 << 10 { 10 } else { 1 };
        let rounds = (args.round_trips / scale).max(100);
        let payload = Bytes(vec![0xa5; size]);

        // Round trips through the real server and through a bare
        // socketpair, in alternating batches so that both see the same
        // machine state (CPU wake-up latency on a VM varies by 5x over
        // seconds).
        let mut raw = RawEcho::start(size, args.pin)?;
        let mut rtts = Vec::with_capacity(rounds);
        let mut raw_rtts = Vec::with_capacity(rounds);
        let batch = 100;
        let warmup = rounds / 10;
        let mut done = 0;
        while done < rounds + warmup {
            for _ in 0..batch {
                let t = Instant::now();
                match client
                    .call(&Req::Echo(payload.clone()))
                    .map_err(|e| e.to_string())?
                {
                    Resp::Echo(b) if b.0.len() == size => {}
                    _ => return Err("bad echo".into()),
                }
                if done >= warmup {
                    rtts.push(t.elapsed());
                }
                let t = Instant::now();
                raw.round_trip()?;
                if done >= warmup {
                    raw_rtts.push(t.elapsed());
                }
                done += 1;
            }
        }
        drop(raw);
        rtts.sort();
        raw_rtts.sort();

        // One-way streaming with flow control, closed by a call that
        // returns how many arrived (it is ordered after all of them).
        let count = (args.stream / scale).max(1000);
        let t = Instant::now();
        for _ in 0..count {
            client
                .send(&Req::Note(payload.clone()))
                .map_err(|e| e.to_string())?;
        }
        let got = match client.call(&Req::Count).map_err(|e| e.to_string())? {
            Resp::Count(n) => n,
            _ => return Err("bad count".into()),
        };
        let secs = t.elapsed().as_secs_f64();
        if got != count as u64 {
            return Err(format!("server got {got} of {count} messages"));
        }

        println!(
            "size={size} p50_us={:.1} p99_us={:.1} msgs_per_s={:.0} raw_p50_us={:.1}",
            percentile(&rtts, 0.5),
            percentile(&rtts, 0.99),
            count as f64 / secs,
            percentile(&raw_rtts, 0.5)
        );
    }
    Ok(())
}

/// A blocking socketpair ping-pong with a forked echo process: the floor any
/// IPC over Unix sockets can reach on this machine.
struct RawEcho {
    sock: UnixStream,
    child: nix::unistd::Pid,
    msg: Vec<u8>,
    buf: Vec<u8>,
}

impl RawEcho {
    fn start(size: usize, pin: bool) -> Result<RawEcho, String> {
        let (a, mut b) = UnixStream::pair().map_err(|e| e.to_string())?;
        // SAFETY: the benchmark is single-threaded; the child only does
        // blocking reads and writes on its socket and exits.
        match unsafe { nix::unistd::fork() }.map_err(|e| e.to_string())? {
            nix::unistd::ForkResult::Child => {
                drop(a);
                if pin {
                    pin_to_cpu0();
                }
                let mut buf = vec![0u8; size];
                while b.read_exact(&mut buf).is_ok() {
                    if b.write_all(&buf).is_err() {
                        break;
                    }
                }
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => Ok(RawEcho {
                sock: a,
                child,
                msg: vec![0x5a; size],
                buf: vec![0; size],
            }),
        }
    }

    fn round_trip(&mut self) -> Result<(), String> {
        self.sock.write_all(&self.msg).map_err(|e| e.to_string())?;
        self.sock
            .read_exact(&mut self.buf)
            .map_err(|e| e.to_string())
    }
}

impl Drop for RawEcho {
    fn drop(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        let _ = nix::sys::wait::waitpid(self.child, None);
    }
}

//! lrmd, the local resource manager daemon: the thin shell around
//! `core::Core` (queues, schedule, history) and `agent` (running agents).
//! It serves `lrmapi` on `$HA_RUNDIR/lrmd.sock` to root, hacluster and
//! members of haclient, runs each operation's agent in a process group of
//! its own, kills the group at the operation's timeout (TERM, then KILL
//! after a grace period) and reports the result to subscribed clients.
//!
//! Agents carry `HA_LRMD_AGENT=<lrmd's socket>` in their environment; a
//! restarted lrmd kills what is left of the previous instance's agent
//! groups (same socket, so another node's lrmd on the same machine is left
//! alone), so an lrmd killed while operations run leaves no orphaned
//! agents behind.

mod agent;
mod core;

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ipc::{AccessPolicy, Allow, ClientId, Limits, Server, ServerEvent};
use lrmapi::{Event as LrmEvent, LrmApi, OpStatus, Request, Response};
use plumbing::daemon::PidFile;
use plumbing::{ChildStatus, Event, EventLoop, HaPaths, Interest, Signal, TimerId, Token};

use crate::agent::{Roots, Running};
use crate::core::{Core, Outcome, Output, Refusal};

/// Grace between TERM and KILL of a timed-out agent group.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// The variable marking every agent's environment with its lrmd.
const AGENT_VAR: &str = "HA_LRMD_AGENT";

#[derive(Parser, Debug)]
#[command(name = "lrmd", about = "The local resource manager daemon")]
struct Args {
    /// Also log to stderr (debug).
    #[arg(short = 'v')]
    verbose: bool,
    /// Print whether lrmd runs ("lrmd is running [pid: N]" exit 0, or
    /// "lrmd is stopped." exit 3).
    #[arg(short = 's')]
    status: bool,
    /// Stop the running lrmd.
    #[arg(short = 'k')]
    kill: bool,
    /// Agents running at once.
    #[arg(long = "max-children", default_value_t = 4)]
    max_children: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let paths = HaPaths::from_env();
    let pidfile = paths.pidfile("lrmd");
    if args.status || args.kill {
        return match PidFile::running_pid(&pidfile) {
            Ok(Some(pid)) if args.kill => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
                ExitCode::SUCCESS
            }
            Ok(Some(pid)) => {
                println!("lrmd is running [pid: {pid}]");
                ExitCode::SUCCESS
            }
            _ => {
                println!("lrmd is stopped.");
                ExitCode::from(3)
            }
        };
    }
    // ha.cf's logging when there is one (under heartbeat's `pacemaker
    // respawn`), else stderr.
    let mut lc = match config::load_ha_cf(paths.ha_cf()) {
        Ok((cf, _)) => {
            let mut lc = logging::LogConfig::from_ha_cf(&cf, "lrmd");
            lc.logfile = lc.logfile.map(|f| paths.log_path(&f));
            lc.debugfile = lc.debugfile.map(|f| paths.log_path(&f));
            lc.stderr = args.verbose;
            lc
        }
        Err(_) => logging::LogConfig {
            entity: "lrmd".into(),
            stderr: true,
            ..logging::LogConfig::default()
        },
    };
    if args.verbose {
        lc.debug = lc.debug.max(1);
    }
    // The loop blocks its signals in this thread before the logging
    // thread starts, so that thread inherits the mask and SIGCHLD always
    // reaches the signalfd (else a child's exit waits for the
    // once-a-second reap).
    let mut lp = match new_loop() {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("lrmd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logger = match logging::init(lc) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lrmd: logging: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = run(&args, &paths, &mut lp);
    let _ = logger.flush(Duration::from_secs(2));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lrmd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn wall() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Kills, with SIGKILL, every process left from an earlier lrmd's agent
/// groups: those carrying the agent marker that are not in a group of
/// their own session (a service an agent started properly called setsid
/// and is spared).
fn kill_leftover_agents(socket: &std::path::Path) {
    let mark = format!("{AGENT_VAR}={}", socket.display());
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|v| v == mark.as_bytes()) {
            continue;
        }
        let p = nix::unistd::Pid::from_raw(pid);
        let (Ok(pgid), Ok(sid)) = (nix::unistd::getpgid(Some(p)), nix::unistd::getsid(Some(p)))
        else {
            continue;
        };
        if pgid != sid {
            log::warn!("killing agent process {pid} left by an earlier lrmd");
            let _ = nix::sys::signal::kill(p, Signal::SIGKILL);
        }
    }
}

struct Exec {
    call_id: u64,
    class: String,
    op: String,
    run: Running,
    out_token: Option<Token>,
    err_token: Option<Token>,
    timer: TimerId,
    timed_out: bool,
}

struct Lrmd {
    core: Core,
    roots: Roots,
    server: Server<LrmApi>,
    execs: HashMap<i32, Exec>,
    tokens: HashMap<Token, i32>,
    timers: HashMap<TimerId, (i32, bool)>,
    subscribers: BTreeSet<ClientId>,
    reqs: Vec<ServerEvent<Request>>,
    meta_tx: mpsc::SyncSender<(ClientId, u64, Response)>,
    meta_rx: mpsc::Receiver<(ClientId, u64, Response)>,
    meta_trigger: plumbing::Trigger,
    meta_running: usize,
    pending_events: Vec<LrmEvent>,
}

fn new_loop() -> Result<EventLoop, String> {
    let mut lp = EventLoop::new().map_err(|e| format!("event loop: {e}"))?;
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        lp.watch_signal(s).map_err(|e| format!("signals: {e}"))?;
    }
    Ok(lp)
}

fn run(args: &Args, paths: &HaPaths, lp: &mut EventLoop) -> Result<(), String> {
    // Agents start in / (posix_spawn keeps our directory).
    std::env::set_current_dir("/").map_err(|e| format!("cannot chdir to /: {e}"))?;
    let _pid = PidFile::acquire(&paths.pidfile("lrmd")).map_err(|e| e.to_string())?;
    let (cluster_uid, cluster_gid) =
        plumbing::daemon::cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let policy = AccessPolicy::read_write(Allow::root_and(cluster_uid, cluster_gid));
    let socket = lrmapi::socket_path(paths);
    kill_leftover_agents(&socket);
    let server = Server::bind(lp, &socket, 0o666, policy, Limits::default())
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    let (meta_tx, meta_rx) = mpsc::sync_channel(64);
    let meta_trigger = lp.trigger();
    let mut d = Lrmd {
        core: Core::new(core::Limits {
            max_children: args.max_children.max(1),
            ..core::Limits::default()
        }),
        roots: Roots::from_env(paths),
        server,
        execs: HashMap::new(),
        tokens: HashMap::new(),
        timers: HashMap::new(),
        subscribers: BTreeSet::new(),
        reqs: Vec::new(),
        meta_tx,
        meta_rx,
        meta_trigger,
        meta_running: 0,
        pending_events: Vec::new(),
    };
    log::info!("lrmd started on {}", socket.display());
    let mut events = Vec::new();
    loop {
        let now = Instant::now();
        let core_wait = d
            .core
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now));
        let wait = match (core_wait, d.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Round up so an early wake-up does not spin.
        let wait = wait.map(|w| {
            if w.is_zero() {
                w
            } else {
                w.max(Duration::from_millis(1))
            }
        });
        events.clear();
        lp.poll(&mut events, wait)
            .map_err(|e| format!("poll: {e}"))?;
        for ev in events.drain(..) {
            match ev {
                Event::Io { token, ready } if d.server.owns(token) => {
                    d.server.handle_io(lp, token, ready, &mut d.reqs);
                }
                Event::Io { token, .. } => d.read_pipe(lp, token),
                Event::Timer(id) => d.on_timer(lp, id),
                Event::ChildExited { pid, status } => d.on_exit(lp, pid, status),
                Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                    log::info!(
                        "lrmd stopping: killing {} running agent(s)",
                        d.core.running()
                    );
                    for pid in d.execs.keys() {
                        plumbing::process::kill_group(*pid, Signal::SIGKILL);
                    }
                    return Ok(());
                }
                Event::Triggered(_) => d.on_metadata(lp),
                _ => {}
            }
        }
        d.server.process(lp, &mut d.reqs);
        d.core.handle_timeout(Instant::now());
        d.handle_requests(lp);
        d.drain_core(lp);
    }
}

impl Lrmd {
    fn read_pipe(&mut self, lp: &mut EventLoop, token: Token) {
        let Some(&pid) = self.tokens.get(&token) else {
            return;
        };
        let Some(x) = self.execs.get_mut(&pid) else {
            return;
        };
        let is_out = x.out_token == Some(token);
        let cap = if is_out {
            &mut x.run.stdout
        } else {
            &mut x.run.stderr
        };
        cap.read_available();
        if cap.eof {
            let _ = lp.remove_fd(cap.fd(), token);
            self.tokens.remove(&token);
            if is_out {
                x.out_token = None;
            } else {
                x.err_token = None;
            }
        }
    }

    fn on_timer(&mut self, lp: &mut EventLoop, id: TimerId) {
        let Some((pid, kill)) = self.timers.remove(&id) else {
            return;
        };
        let Some(x) = self.execs.get_mut(&pid) else {
            return;
        };
        if kill {
            log::warn!("agent group {pid} still running {KILL_GRACE:?} after TERM: KILL");
            plumbing::process::kill_group(pid, Signal::SIGKILL);
        } else {
            log::warn!(
                "operation {} (call {}) timed out: killing its process group {pid}",
                x.op,
                x.call_id
            );
            x.timed_out = true;
            plumbing::process::kill_group(pid, Signal::SIGTERM);
            let t = lp.add_timer(KILL_GRACE);
            x.timer = t;
            self.timers.insert(t, (pid, true));
        }
    }

    fn on_exit(&mut self, lp: &mut EventLoop, pid: i32, status: ChildStatus) {
        let Some(mut x) = self.execs.remove(&pid) else {
            return;
        };
        lp.cancel_timer(x.timer);
        self.timers.remove(&x.timer);
        if x.timed_out {
            // Whatever the group left behind goes too.
            plumbing::process::kill_group(pid, Signal::SIGKILL);
        }
        // Completion is the exit: read what is there and close, even if
        // a daemon the agent forked still holds the pipes.
        for (tok, cap) in [
            (x.out_token.take(), &mut x.run.stdout),
            (x.err_token.take(), &mut x.run.stderr),
        ] {
            cap.read_available();
            if let Some(t) = tok {
                let _ = lp.remove_fd(cap.fd(), t);
                self.tokens.remove(&t);
            }
        }
        let stdout = x.run.stdout.text();
        let stderr = x.run.stderr.text();
        let (st, rc) = if x.timed_out {
            (OpStatus::Timeout, 1)
        } else {
            (
                OpStatus::Done,
                agent::map_rc(&x.class, &x.op, status, &stdout),
            )
        };
        log::debug!("call {} {} ended: {status}, rc {rc}", x.call_id, x.op);
        self.core.finished(
            x.call_id,
            Outcome {
                status: st,
                rc,
                output: stdout,
                exit_reason: agent::exit_reason(&stderr),
                wall: wall(),
            },
            Instant::now(),
        );
    }

    fn execute(
        &mut self,
        lp: &mut EventLoop,
        call_id: u64,
        rsc: lrmapi::Resource,
        spec: lrmapi::OpSpec,
    ) {
        let fail = |core: &mut Core, status: OpStatus, rc: i32, msg: String| {
            log::warn!("{}: {} (call {call_id}): {msg}", spec.rsc, spec.op);
            core.finished(
                call_id,
                Outcome {
                    status,
                    rc,
                    output: String::new(),
                    exit_reason: Some(msg),
                    wall: wall(),
                },
                Instant::now(),
            );
        };
        if rsc.class == "heartbeat" && spec.op == "meta-data" {
            let md = agent::synthetic_metadata(&rsc.class, &rsc.rtype);
            self.core.finished(
                call_id,
                Outcome {
                    status: OpStatus::Done,
                    rc: 0,
                    output: md,
                    exit_reason: None,
                    wall: wall(),
                },
                Instant::now(),
            );
            return;
        }
        let mut inv = match agent::invocation(&self.roots, &rsc, &spec) {
            Ok(i) => i,
            Err(e) => return fail(&mut self.core, OpStatus::Error, 5, format!("{e:?}")),
        };
        if !inv.program.is_file() {
            let msg = format!("{} is not installed", inv.program.display());
            return fail(&mut self.core, OpStatus::Done, 5, msg);
        }
        inv.env
            .push((AGENT_VAR.into(), self.server.path().display().to_string()));
        let run = match agent::spawn(&inv, agent::CAPTURE_LIMIT) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("cannot run {}: {e}", inv.program.display());
                return fail(&mut self.core, OpStatus::Error, 1, msg);
            }
        };
        let pid = run.pid;
        let out_token = lp.add_fd(run.stdout.fd(), Interest::READABLE).ok();
        let err_token = lp.add_fd(run.stderr.fd(), Interest::READABLE).ok();
        for t in out_token.iter().chain(err_token.iter()) {
            self.tokens.insert(*t, pid);
        }
        let timeout = if spec.timeout_ms == 0 {
            Duration::from_secs(20)
        } else {
            Duration::from_millis(spec.timeout_ms)
        };
        let timer = lp.add_timer(timeout);
        self.timers.insert(timer, (pid, false));
        self.execs.insert(
            pid,
            Exec {
                call_id,
                class: rsc.class,
                op: spec.op,
                run,
                out_token,
                err_token,
                timer,
                timed_out: false,
            },
        );
        if let Err(e) = lp.watch_child(pid) {
            log::error!("cannot watch agent {pid}: {e}");
        }
    }

    fn drain_core(&mut self, lp: &mut EventLoop) {
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Execute { call_id, rsc, spec } => self.execute(lp, call_id, rsc, spec),
                Output::Report { result, notify } => {
                    if notify {
                        self.push(lp, &LrmEvent::OpDone(result));
                    }
                }
            }
        }
    }

    fn push(&mut self, lp: &mut EventLoop, ev: &LrmEvent) {
        let subs: Vec<ClientId> = self.subscribers.iter().copied().collect();
        for c in subs {
            if self.server.push_event(lp, c, ev, &mut self.reqs).is_err() {
                self.subscribers.remove(&c);
            }
        }
    }

    fn on_metadata(&mut self, lp: &mut EventLoop) {
        while let Ok((client, call, resp)) = self.meta_rx.try_recv() {
            self.meta_running = self.meta_running.saturating_sub(1);
            let _ = self.server.reply(lp, client, call, &resp, &mut self.reqs);
        }
    }

    fn metadata(
        &mut self,
        client: ClientId,
        call: u64,
        class: String,
        rtype: String,
        provider: Option<String>,
    ) -> Option<Response> {
        if class != "ocf" {
            return Some(Response::Text(agent::synthetic_metadata(&class, &rtype)));
        }
        if self.meta_running >= 8 {
            return Some(Response::Failed(
                "too many meta-data requests running".into(),
            ));
        }
        let rsc = lrmapi::Resource {
            id: "meta-data".into(),
            class,
            rtype,
            provider,
            params: Default::default(),
        };
        let spec = lrmapi::OpSpec {
            rsc: rsc.id.clone(),
            op: "meta-data".into(),
            timeout_ms: 5000,
            interval_ms: 0,
            start_delay_ms: 0,
            notify: lrmapi::Notify::Every,
            params: Default::default(),
            app_name: "lrmd".into(),
        };
        let inv = match agent::invocation(&self.roots, &rsc, &spec) {
            Ok(i) => i,
            Err(e) => return Some(Response::Failed(format!("{e:?}"))),
        };
        self.meta_running += 1;
        let tx = self.meta_tx.clone();
        let trig = self.meta_trigger.clone();
        // A meta-data run is short and rare; a thread keeps the loop free.
        std::thread::spawn(move || {
            let resp = metadata_blocking(&inv);
            let _ = tx.send((client, call, resp));
            let _ = trig.fire();
        });
        None
    }

    fn handle_requests(&mut self, lp: &mut EventLoop) {
        let reqs: Vec<ServerEvent<Request>> = std::mem::take(&mut self.reqs);
        for r in reqs {
            match r {
                ServerEvent::Request { client, call, body } => {
                    let resp = self.answer(client, call.unwrap_or(0), body);
                    self.drain_core(lp);
                    if let (Some(call), Some(resp)) = (call, resp) {
                        let _ = self.server.reply(lp, client, call, &resp, &mut self.reqs);
                    }
                }
                ServerEvent::Disconnected { client, .. } => {
                    self.subscribers.remove(&client);
                }
                ServerEvent::Connected { .. } => {}
            }
            for ev in std::mem::take(&mut self.pending_events) {
                self.push(lp, &ev);
            }
        }
    }

    fn answer(&mut self, client: ClientId, call: u64, req: Request) -> Option<Response> {
        let now = Instant::now();
        let refusal = |r: Refusal| match r {
            Refusal::NoSuchResource => Response::NoSuchResource,
            Refusal::NoSuchOperation => Response::Failed("no such operation".into()),
            Refusal::Invalid(s) => Response::Failed(s),
        };
        Some(match req {
            Request::Add(rsc) => {
                if !Roots::classes().contains(&rsc.class.as_str()) {
                    Response::Failed(format!("unsupported class {}", rsc.class))
                } else {
                    match self.core.add(rsc) {
                        Ok(()) => Response::Ok,
                        Err(e) => refusal(e),
                    }
                }
            }
            Request::Delete(id) => match self.core.delete(&id, now) {
                Ok(()) => Response::Ok,
                Err(e) => refusal(e),
            },
            Request::Flush(id) => match self.core.flush(&id, now) {
                Ok(()) => Response::Ok,
                Err(e) => refusal(e),
            },
            Request::Fail(rsc, rc, reason) => {
                if self.core.resource(&rsc).is_none() {
                    Response::NoSuchResource
                } else {
                    self.pending_events
                        .push(LrmEvent::Failed { rsc, rc, reason });
                    Response::Ok
                }
            }
            Request::Perform(spec) => match self.core.perform(spec, now) {
                Ok(id) => Response::CallId(id),
                Err(e) => refusal(e),
            },
            Request::Cancel(rsc, id) => match self.core.cancel(&rsc, id, now) {
                Ok(()) => Response::Ok,
                Err(e) => refusal(e),
            },
            Request::Get(id) => match self.core.resource(&id) {
                Some(r) => Response::Resource(r.clone()),
                None => Response::NoSuchResource,
            },
            Request::List => Response::Resources(self.core.resources().cloned().collect()),
            Request::State(id) => match self.core.state(&id) {
                Some(s) => Response::State(s),
                None => Response::NoSuchResource,
            },
            Request::Classes => {
                Response::Names(Roots::classes().iter().map(|s| s.to_string()).collect())
            }
            Request::Types(class) => match self.roots.types(&class) {
                Some(v) => Response::Names(v),
                None => Response::Failed(format!("unsupported class {class}")),
            },
            Request::Providers(class, rtype) => {
                Response::Names(self.roots.providers(&class, &rtype))
            }
            Request::Metadata(class, rtype, provider) => {
                return self.metadata(client, call, class, rtype, provider)
            }
            Request::SetParam(name, value) => match (name.as_str(), value.parse::<usize>()) {
                ("max-children", Ok(n)) if n > 0 => {
                    self.core.set_max_children(n, now);
                    Response::Ok
                }
                _ => Response::Failed(format!("invalid parameter {name}={value}")),
            },
            Request::GetParam(name) => match name.as_str() {
                "max-children" => Response::Text(self.core.max_children().to_string()),
                _ => Response::Failed(format!("unknown parameter {name}")),
            },
            Request::Subscribe => {
                self.subscribers.insert(client);
                Response::Ok
            }
        })
    }
}

/// Runs `meta-data` and waits for it, at most 5 s (then its group is
/// killed), with its output bounded to 1 MiB. Runs in a helper thread;
/// the agent is not watched by the loop, so it is reaped here.
fn metadata_blocking(inv: &agent::Invocation) -> Response {
    use std::os::fd::AsRawFd;
    let mut run = match agent::spawn(inv, 1 << 20) {
        Ok(r) => r,
        Err(e) => return Response::Failed(format!("cannot run {}: {e}", inv.program.display())),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut timed_out = false;
    while !run.stdout.eof {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut pfd = libc::pollfd {
            fd: run.stdout.fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as libc::c_int) };
        run.stdout.read_available();
    }
    let pid = nix::unistd::Pid::from_raw(run.pid);
    let status = loop {
        if timed_out {
            plumbing::process::kill_group(run.pid, Signal::SIGKILL);
            break nix::sys::wait::waitpid(pid, None);
        }
        match nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                timed_out = Instant::now() >= deadline;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match status {
        _ if timed_out => {
            Response::Failed(format!("{} meta-data timed out", inv.program.display()))
        }
        Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Response::Text(run.stdout.text()),
        Ok(s) => Response::Failed(format!("{} meta-data: {s:?}", inv.program.display())),
        Err(e) => Response::Failed(e.to_string()),
    }
}

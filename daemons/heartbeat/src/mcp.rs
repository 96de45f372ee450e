//! The running master control process: validates the configuration, takes
//! the pid file, sets up logging, realtime and core dumps, then runs its
//! event loop, feeding child exits, signals and timers to the `Supervisor`
//! and doing the process work it decides on.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use config::HaCf;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use plumbing::daemon::{self, PidFile, PrivilegeDrop};
use plumbing::{Event, EventLoop, HaPaths, Token};

use crate::api::Api;
use crate::messaging::Messaging;

use crate::supervisor::{ChildSpec, ExitVerdict, Supervisor};
use crate::watchdog::Watchdog;

/// How long a child may take to stop after SIGTERM before it gets SIGKILL.
const CHILD_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Command-line settings that affect the running daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra debug level from `-d`.
    pub debug: u8,
    /// `-l`: no realtime scheduling.
    pub low_priority: bool,
    /// Do not daemonise; also log to stderr.
    pub foreground: bool,
}

fn joined(errors: Vec<config::ConfigError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Logging settings for heartbeat from ha.cf and the command line; relative
/// file names are in $HA_LOGDIR.
fn log_config(cf: &HaCf, paths: &HaPaths, extra_debug: u8, stderr: bool) -> logging::LogConfig {
    let mut c = logging::LogConfig::from_ha_cf(cf, "heartbeat");
    c.logfile = c.logfile.map(|f| paths.log_path(&f));
    c.debugfile = c.debugfile.map(|f| paths.log_path(&f));
    c.debug += u32::from(extra_debug);
    c.stderr = stderr;
    c
}

/// The environment every child gets: the node's paths, the logging settings
/// under the names Heartbeat exports (HA_logfacility, ...), and `env` lines.
fn child_env(cf: &HaCf, paths: &HaPaths, debug: u32) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = paths
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    env.push((
        "HA_logfacility".into(),
        cf.logfacility
            .map_or("none".into(), |f| f.name().to_owned()),
    ));
    if let Some(f) = path(&cf.logfile) {
        env.push(("HA_logfile".into(), f));
    }
    if let Some(f) = path(&cf.debugfile) {
        env.push(("HA_debugfile".into(), f));
    }
    env.push(("HA_debug".into(), debug.to_string()));
    env.push((
        "HA_use_logd".into(),
        if cf.use_logd { "yes" } else { "no" }.into(),
    ));
    for e in &cf.env {
        env.push((e.exported_name(), e.value.clone()));
    }
    env
}

/// The children ha.cf asks for: `respawn`/`failfast` lines, then the CRM
/// daemons of `pacemaker`, looked up in crm_daemon_dir and then next to
/// this binary.
fn child_specs(cf: &HaCf) -> Vec<ChildSpec> {
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/usr/lib/heartbeat"));
    let mut specs: Vec<ChildSpec> = cf
        .children
        .iter()
        .map(|c| ChildSpec {
            name: c
                .path
                .file_name()
                .map_or_else(|| c.command.clone(), |n| n.to_string_lossy().into_owned()),
            user: c.user.clone(),
            argv: std::iter::once(c.path.display().to_string())
                .chain(c.args.iter().cloned())
                .collect(),
            respawn: true,
        })
        .collect();
    for p in cf.pacemaker_children() {
        let in_crm_dir = cf
            .crm_daemon_dir
            .as_ref()
            .filter(|_| p.look_in_crm_daemon_dir)
            .map(|d| d.join(p.daemon))
            .filter(|path| path.exists());
        let path = in_crm_dir.unwrap_or_else(|| own_dir.join(p.daemon));
        specs.push(ChildSpec {
            name: p.daemon.to_owned(),
            user: p.user.to_owned(),
            argv: vec![path.display().to_string()],
            respawn: true,
        });
    }
    specs
}

/// Starts a child in its own process group, as its configured user.
fn spawn(spec: &ChildSpec, env: &[(String, String)]) -> Result<i32, String> {
    let Some(program) = spec.argv.first() else {
        return Err("empty command".into());
    };
    let program_path = Path::new(program);
    if !program_path.is_file() {
        return Err(format!(
            "Client child command [{program}] is not executable"
        ));
    }
    let drop = if spec.user == "root" {
        None
    } else {
        Some(PrivilegeDrop::resolve(&spec.user, None).map_err(|e| e.to_string())?)
    };
    let mut cmd = Command::new(program_path);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    plumbing::process::unblock_signals_on_exec(&mut cmd);
    if let Some(drop) = drop {
        // SAFETY: `apply` only makes system calls (setgroups, setgid,
        // setuid, prctl); the names were resolved before fork.
        unsafe {
            cmd.pre_exec(move || {
                drop.apply()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            });
        }
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // The event loop reaps it; dropping `Child` neither waits nor kills.
    i32::try_from(child.id()).map_err(|_| "pid out of range".into())
}

/// Shutdown progress: children are stopped one at a time, last started first.
struct Stopping {
    queue: Vec<(String, i32)>,
    current: Option<(String, i32, Instant)>,
    killed: bool,
}

/// An error on the way to the main loop: a controlled exit, so the
/// watchdog (opened first) is disarmed before it.
fn disarmed<T>(watchdog: &mut Option<Watchdog>, e: String) -> Result<T, String> {
    if let Some(w) = watchdog {
        w.close();
    }
    Err(e)
}

/// Runs the master control process until SIGTERM/SIGINT.
pub fn run(paths: &HaPaths, opts: &Options) -> Result<(), String> {
    let (mut cf, warnings) = config::load_ha_cf(paths.ha_cf()).map_err(joined)?;
    cf.check_local_node(&paths.nodename)
        .map_err(|e| e.to_string())?;
    // Heartbeat refuses to run with keys others can read: check before
    // anything starts.
    let keys = config::load_authkeys(paths.authkeys()).map_err(joined)?;
    let pidfile_path = paths.pidfile("heartbeat");
    if let Ok(Some(pid)) = PidFile::running_pid(&pidfile_path) {
        return Err(format!(
            "already running as pid {pid} (pid file {} is locked)",
            pidfile_path.display()
        ));
    }
    // Opened before daemonising, so a refusal reaches the administrator.
    let mut watchdog = match &cf.watchdog {
        Some(dev) => match Watchdog::open(dev) {
            Ok(w) => Some(w),
            Err(e) => {
                if let Ok(log) = logging::init(log_config(&cf, paths, opts.debug, false)) {
                    log::error!("{e}");
                    log::error!("Heartbeat not started: the watchdog device of ha.cf is unusable");
                    let _ = log.shutdown(Duration::from_secs(5));
                }
                return Err(e);
            }
        },
        None => None,
    };
    if !opts.foreground {
        daemon::daemonize()
            .map_err(|e| e.to_string())
            .or_else(|e| disarmed(&mut watchdog, e))?;
    }
    let _pidfile = PidFile::acquire(&pidfile_path)
        .map_err(|e| e.to_string())
        .or_else(|e| disarmed(&mut watchdog, e))?;
    // Signals are blocked before the logging thread exists, so it inherits
    // the mask and they all arrive at the loop.
    let mut lp = EventLoop::new()
        .map_err(|e| format!("event loop: {e}"))
        .or_else(|e| disarmed(&mut watchdog, e))?;
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGCHLD,
    ] {
        lp.watch_signal(sig)
            .map_err(|e| format!("cannot watch {sig}: {e}"))
            .or_else(|e| disarmed(&mut watchdog, e))?;
    }
    let mut debug = u32::from(cf.debug) + u32::from(opts.debug);
    let log = logging::init(log_config(&cf, paths, opts.debug, opts.foreground))
        .map_err(|e| format!("logging: {e}"))
        .or_else(|e| disarmed(&mut watchdog, e))?;
    for w in &warnings {
        log::warn!("{w}");
    }
    if cf.realtime && !opts.low_priority {
        let prio = cf.rtprio.map_or(1, i32::from);
        match daemon::set_realtime_priority(prio).and_then(|()| daemon::lock_memory()) {
            Ok(()) => log::info!("realtime scheduling (SCHED_RR {prio}) and locked memory enabled"),
            Err(e) => log::warn!("realtime not enabled: {e}"),
        }
    }
    if cf.coredumps {
        let dir = cf
            .coreroot
            .clone()
            .map_or_else(|| paths.core_dir("root"), |root| root.join("root"));
        if let Err(e) = daemon::enable_core_dumps(&dir) {
            log::warn!("core dumps not enabled: {e}");
        }
    }
    log::info!(
        "Configuration validated. Starting heartbeat {} on node {}",
        env!("CARGO_PKG_VERSION"),
        paths.nodename
    );
    // Every exit from here on is a controlled one: the watchdog is disarmed
    // after it, as Heartbeat's cleanexit does. Only a crash or a kill leaves
    // it armed.
    let result: Result<(), String> = 'serve: {
        let mut messaging = match Messaging::start(&mut lp, &cf, keys, paths, Instant::now()) {
            Ok(m) => m,
            Err(e) => break 'serve Err(e),
        };
        let mut api = match Api::start(&mut lp, paths, &cf) {
            Ok(a) => a,
            Err(e) => break 'serve Err(e),
        };
        // Media that used up their receive budget: read again before sleeping.
        let mut busy_media: Vec<Token> = Vec::new();
        let mut env = child_env(&cf, paths, debug);
        let mut sup = Supervisor::new(child_specs(&cf), Instant::now());
        let mut stopping: Option<Stopping> = None;
        let mut events = Vec::new();
        // Armed (its short timeout set) only now, as Heartbeat does once its
        // media run: opening them may wait on name resolution, which must
        // not reset the machine. Until here the driver's own timeout holds.
        if let Some(w) = &mut watchdog {
            w.arm(cf.keepalive, cf.deadtime, Instant::now());
        }
        loop {
            let now = Instant::now();
            if let Some(w) = &mut watchdog {
                w.feed_if_due(now);
            }
            if stopping.is_none() {
                for i in sup.due(now) {
                    let spec = sup.spec(i).clone();
                    match spawn(&spec, &env) {
                        Ok(pid) => {
                            if let Err(e) = lp.watch_child(pid) {
                                log::error!("cannot watch {} pid {pid}: {e}", spec.name);
                            }
                            log::info!("Starting \"{}\" as uid {}", spec.argv.join(" "), spec.user);
                            sup.started(i, pid, now);
                        }
                        Err(e) => {
                            let after = sup.start_failed(i, now);
                            log::error!("{e}; retrying in {}s", after.as_secs());
                        }
                    }
                }
            }
            let mut deadline = sup.next_deadline();
            for t in [
                messaging.poll_timeout(),
                watchdog.as_ref().and_then(Watchdog::next_due),
            ]
            .into_iter()
            .flatten()
            {
                deadline = Some(deadline.map_or(t, |d| d.min(t)));
            }
            if let Some(Stopping {
                current: Some((_, _, kill_at)),
                ..
            }) = &stopping
            {
                deadline = Some(deadline.map_or(*kill_at, |d| d.min(*kill_at)));
            }
            let mut timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !busy_media.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            if let Some(t) = api.poll_timeout() {
                timeout = Some(timeout.map_or(t, |d| d.min(t)));
            }
            if let Err(e) = lp.poll(&mut events, timeout) {
                break 'serve Err(format!("event loop: {e}"));
            }
            // Packets first: after a stall, what arrived meanwhile must be seen
            // before timers declare anyone dead.
            for token in std::mem::take(&mut busy_media) {
                if messaging.handle_io(Instant::now(), token) {
                    busy_media.push(token);
                }
            }
            for ev in &events {
                if let Event::Io { token, .. } = ev {
                    if messaging.owns(*token)
                        && !busy_media.contains(token)
                        && messaging.handle_io(Instant::now(), *token)
                    {
                        busy_media.push(*token);
                    }
                }
            }
            if messaging
                .poll_timeout()
                .is_some_and(|t| t <= Instant::now())
            {
                messaging.handle_timeout(Instant::now());
            }
            for ev in &events {
                if let Event::Io { token, ready } = ev {
                    if api.owns(*token) {
                        api.handle_io(&mut lp, *token, *ready);
                    }
                }
            }
            api.process(&mut lp, &mut messaging, Instant::now());
            api.publish(&mut lp, &mut messaging, Instant::now());
            for ev in events.drain(..) {
                match ev {
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) if stopping.is_none() => {
                        log::info!("Heartbeat shutdown in progress. ({})", std::process::id());
                        stopping = Some(Stopping {
                            queue: sup.stop(),
                            current: None,
                            killed: false,
                        });
                    }
                    Event::Signal(Signal::SIGHUP) => match config::load_ha_cf(paths.ha_cf()) {
                        Ok((new_cf, _)) => {
                            debug = u32::from(new_cf.debug) + u32::from(opts.debug);
                            let lc = log_config(&new_cf, paths, opts.debug, opts.foreground);
                            if let Err(e) = log.reconfigure(lc) {
                                log::error!("new logging settings not applied: {e}");
                            }
                            env = child_env(&new_cf, paths, debug);
                            cf = new_cf;
                            log::info!(
                                "Reread {} on SIGHUP: logging and child environment updated",
                                cf.path.display()
                            );
                        }
                        Err(errs) => {
                            for e in errs {
                                log::error!("{e}");
                            }
                            log::error!("configuration not reloaded: keeping the running one");
                        }
                    },
                    Event::Signal(Signal::SIGUSR1 | Signal::SIGUSR2) => {
                        let up = ev == Event::Signal(Signal::SIGUSR1);
                        debug = if up {
                            debug.saturating_add(1)
                        } else {
                            debug.saturating_sub(1)
                        };
                        let mut lc = log.config();
                        lc.debug = debug;
                        if let Err(e) = log.reconfigure(lc) {
                            log::error!("debug level not changed: {e}");
                        }
                        log::info!("debug level is now {debug}");
                    }
                    Event::ChildExited { pid, status } => {
                        let name = sup
                            .running()
                            .into_iter()
                            .find(|(_, p)| *p == pid)
                            .map(|(n, _)| n);
                        if let Some(name) = &name {
                            // Our own SIGTERM at shutdown is no error.
                            if stopping.is_some()
                                || matches!(status, plumbing::ChildStatus::Exited(_))
                            {
                                log::info!("Managed {name} process {pid} {status}.");
                            } else {
                                log::error!("Managed {name} process {pid} {status}.");
                            }
                        }
                        match sup.exited(pid, Instant::now()) {
                            ExitVerdict::Restart { name, after } if after.is_zero() => {
                                log::info!("Respawning client \"{name}\"");
                            }
                            ExitVerdict::Restart { name, after } => {
                                log::warn!(
                                    "Client \"{name}\" respawning too fast: next start in {}s",
                                    after.as_secs()
                                );
                            }
                            ExitVerdict::Gone { .. } | ExitVerdict::Unknown => {}
                        }
                        if let Some(st) = &mut stopping {
                            st.queue.retain(|(_, p)| *p != pid);
                            if st.current.as_ref().is_some_and(|(_, p, _)| *p == pid) {
                                st.current = None;
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(st) = &mut stopping {
                if let Some((name, pid, kill_at)) = &st.current {
                    if Instant::now() >= *kill_at && !st.killed {
                        log::warn!(
                        "{name} process {pid} did not stop in {CHILD_STOP_TIMEOUT:?}: killing it"
                    );
                        let _ = kill(Pid::from_raw(-*pid), Signal::SIGKILL);
                        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                        st.killed = true;
                    }
                }
                if st.current.is_none() {
                    if st.queue.is_empty() {
                        break;
                    }
                    let (name, pid) = st.queue.remove(0);
                    log::info!("killing {name} process group {pid} with signal 15");
                    let _ = kill(Pid::from_raw(-pid), Signal::SIGTERM);
                    st.current = Some((name, pid, Instant::now() + CHILD_STOP_TIMEOUT));
                    st.killed = false;
                }
            }
        }
        let drops = messaging.drops();
        if !drops.rejected.is_empty() || drops.unknown_type > 0 || drops.send_drops > 0 {
            log::info!(
                "packets dropped: rejected {:?}, unknown type {}, not sent (buffer full) {}",
                drops.rejected,
                drops.unknown_type,
                drops.send_drops
            );
        }
        if let Some(c) = messaging.ping_counts() {
            log::info!(
                "ping: {} echo requests sent, {} not sent, {} replies accepted, {} refused",
                c.sent,
                c.send_errors,
                c.accepted,
                c.refused
            );
        }
        Ok(())
    };
    if let Some(w) = &mut watchdog {
        w.close();
    }
    if let Err(e) = &result {
        log::error!("{e}");
    }
    log::info!("Heartbeat shutdown complete.");
    let _ = log.shutdown(Duration::from_secs(5));
    result
}

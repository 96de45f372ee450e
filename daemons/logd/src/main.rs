//! logd, the logging daemon (Heartbeat's `ha_logd`): every local daemon and
//! `ha_logger` send it their log records over `$HA_RUNDIR/logd.sock`, and it
//! writes them to syslog and the log files, so a slow disk or syslog never
//! stalls a cluster daemon. This file is the command line (`ha_logd`'s
//! `-c -d -k -s -v -h`), the pid file and start-up; `service` is the loop.

mod cf;
mod service;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use plumbing::daemon::{DaemonError, PidFile};
use plumbing::{EventLoop, HaPaths, Signal};

use crate::cf::{LogdCf, Parsed};
use crate::service::Logd;

/// LSB exit codes ha_logd uses.
const EXIT_GENERIC: u8 = 1;
const EXIT_EPERM: u8 = 4;
const EXIT_NOTCONFIGED: u8 = 6;
/// LSB status codes of `-s`.
const STATUS_VAR_PID: u8 = 1;
const STATUS_STOPPED: u8 = 3;
const STATUS_UNKNOWN: u8 = 4;

#[derive(Parser, Debug)]
#[command(
    name = "logd",
    about = "The cluster logging daemon: writes the log records of every local daemon to syslog and files",
    disable_version_flag = true
)]
struct Args {
    /// Use this config file (default: $HA_CONFDIR/logd.cf if it exists).
    #[arg(short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Make the program a daemon.
    #[arg(short = 'd')]
    daemonize: bool,
    /// Stop the logging daemon if it is already running.
    #[arg(short = 'k')]
    stop: bool,
    /// Print the logging daemon's status and exit with its LSB status code.
    #[arg(short = 's')]
    status: bool,
    /// Also print logd's own messages on stderr (foreground only).
    #[arg(short = 'v')]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Usage errors and -h exit 1, as ha_logd does.
            let _ = e.print();
            return ExitCode::from(EXIT_GENERIC);
        }
    };
    let paths = HaPaths::from_env();
    let pidfile = paths.pidfile("logd");
    if args.status {
        return status(&pidfile);
    }
    if args.stop {
        return stop(&pidfile);
    }
    ExitCode::from(run(&args, &paths, &pidfile))
}

fn status(pidfile: &Path) -> ExitCode {
    match PidFile::running_pid(pidfile) {
        Ok(Some(pid)) => {
            println!("logging daemon is running [pid = {pid}].");
            ExitCode::SUCCESS
        }
        Ok(None) if pidfile.exists() => {
            println!("logging daemon is stopped: {} exists.", pidfile.display());
            ExitCode::from(STATUS_VAR_PID)
        }
        Ok(None) => {
            println!("logging daemon is stopped.");
            ExitCode::from(STATUS_STOPPED)
        }
        Err(e) => {
            eprintln!("logd: cannot read {}: {e}", pidfile.display());
            ExitCode::from(STATUS_UNKNOWN)
        }
    }
}

fn stop(pidfile: &Path) -> ExitCode {
    let pid = match PidFile::running_pid(pidfile) {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            eprintln!("logd already stopped.");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("logd: cannot read {}: {e}", pidfile.display());
            return ExitCode::from(EXIT_GENERIC);
        }
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM) {
        Ok(()) => {}
        Err(nix::errno::Errno::ESRCH) => {
            eprintln!("logd already stopped.");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("logd: pid {pid} not killed: {e}");
            return ExitCode::from(
                if matches!(e, nix::errno::Errno::EPERM | nix::errno::Errno::EACCES) {
                    EXIT_EPERM
                } else {
                    EXIT_GENERIC
                },
            );
        }
    }
    eprintln!("Waiting for pid={pid} to exit");
    // Like ha_logd -k: wait as long as it takes to write out its queue.
    while matches!(PidFile::running_pid(pidfile), Ok(Some(p)) if p == pid) {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("Pid {pid} exited");
    ExitCode::SUCCESS
}

/// Starts the daemon and serves until SIGTERM/SIGINT; the exit code.
fn run(args: &Args, paths: &HaPaths, pidfile: &Path) -> u8 {
    let default_cf = paths.confdir.join("logd.cf");
    let cf_path = args
        .config
        .clone()
        .or_else(|| default_cf.exists().then_some(default_cf));
    let parsed = match &cf_path {
        None => Ok(Parsed {
            cf: LogdCf::default(),
            notes: Vec::new(),
        }),
        Some(path) => cf::load(path),
    };
    let Parsed { cf, notes } = match parsed {
        Ok(p) => Parsed {
            cf: p.cf.in_logdir(paths),
            notes: p.notes,
        },
        Err(errors) => {
            for e in errors {
                eprintln!("logd: {e}");
            }
            if let Some(path) = &cf_path {
                eprintln!("logd: config file [{}] is incorrect.", path.display());
            }
            return EXIT_NOTCONFIGED;
        }
    };
    // Refuse a second instance while stderr still reaches the terminal.
    if let Ok(Some(pid)) = PidFile::running_pid(pidfile) {
        let e = DaemonError::AlreadyRunning {
            path: pidfile.to_owned(),
            pid: Some(pid),
        };
        eprintln!("logd: {e}");
        return EXIT_GENERIC;
    }
    if args.daemonize {
        if let Err(e) = plumbing::daemon::daemonize() {
            eprintln!("logd: could not start daemon: {e}");
            return EXIT_GENERIC;
        }
    }
    let pid_lock = match PidFile::acquire(pidfile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("logd: {e}");
            return EXIT_GENERIC;
        }
    };
    // Log files are created with `logmode` (the pid file is not: status
    // queries by other users must be able to read it).
    service::apply_logmode(cf.logmode);
    // The loop blocks the signals before the log writer thread exists, so
    // that thread inherits the mask.
    let mut lp = match new_loop() {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("logd: cannot set up the event loop: {e}");
            return EXIT_GENERIC;
        }
    };
    let stderr = args.verbose && !args.daemonize;
    let logger = match logging::init(service::own_log_config(&cf, stderr)) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("logd: {e}");
            return EXIT_GENERIC;
        }
    };
    for note in &notes {
        log::warn!("{note}");
    }
    let socket = paths.socket(logging::logd_proto::SERVICE);
    let code = match Logd::start(
        &mut lp,
        &socket,
        cf,
        cf_path.clone(),
        logger.clone(),
        stderr,
    ) {
        Err(e) => {
            log::error!("{e}");
            eprintln!("logd: {e}");
            EXIT_GENERIC
        }
        Ok(mut logd) => {
            log::info!(
                "logd started with {}.",
                cf_path
                    .as_ref()
                    .map_or("default configuration".into(), |p| p.display().to_string())
            );
            let code = match logd.run(&mut lp) {
                Ok(()) => 0,
                Err(e) => {
                    log::error!("event loop failed: {e}");
                    EXIT_GENERIC
                }
            };
            // Closes the socket (and removes it) before the pid file goes.
            drop(logd);
            code
        }
    };
    let _ = logger.shutdown(Duration::from_secs(5));
    drop(pid_lock);
    code
}

fn new_loop() -> std::io::Result<EventLoop> {
    let mut lp = EventLoop::new()?;
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        lp.watch_signal(sig)?;
    }
    Ok(lp)
}

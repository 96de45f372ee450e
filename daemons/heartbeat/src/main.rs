//! heartbeat: the master control process of a cluster node, with Heartbeat
//! 3's command line (`-s` status, `-k` stop, `-r` restart, `-d` debug, `-l`
//! no realtime, `-v`/`-V` version) plus `--check`, which validates ha.cf and
//! authkeys and prints the effective settings.

mod api;
mod identity;
mod mcp;
mod media;
mod messaging;
mod ping;
mod serial;
mod supervisor;
mod watchdog;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use plumbing::daemon::PidFile;
use plumbing::HaPaths;

/// Exit code of `-s` when heartbeat is not running (LSB "program is not running").
const EXIT_NOT_RUNNING: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "heartbeat",
    about = "Master control process of a Heartbeat cluster node",
    disable_version_flag = true
)]
struct Args {
    /// Validate ha.cf and authkeys in $HA_CONFDIR, print the effective settings and exit.
    #[arg(long)]
    check: bool,
    /// Report whether heartbeat is running (exit 0) or not (exit 3).
    #[arg(short = 's')]
    status: bool,
    /// Stop the running heartbeat and wait until it is gone.
    #[arg(short = 'k')]
    kill: bool,
    /// Restart: stop the running heartbeat, then start.
    #[arg(short = 'r')]
    restart: bool,
    /// Raise the debug level (repeatable).
    #[arg(short = 'd', action = clap::ArgAction::Count)]
    debug: u8,
    /// Do not use realtime scheduling even if ha.cf asks for it.
    #[arg(short = 'l')]
    low_priority: bool,
    /// Stay in the foreground and also log to standard error.
    #[arg(long)]
    foreground: bool,
    /// Print the version and exit.
    #[arg(short = 'v', short_alias = 'V')]
    version: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let paths = HaPaths::from_env();
    if args.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if args.check {
        return check(&paths);
    }
    let pidfile = paths.pidfile("heartbeat");
    if args.status {
        return match PidFile::running_pid(&pidfile) {
            Ok(Some(pid)) => {
                println!(
                    "heartbeat OK [pid {pid} et al] is running on {}...",
                    paths.nodename
                );
                ExitCode::SUCCESS
            }
            Ok(None) => {
                println!("heartbeat is stopped. No process");
                ExitCode::from(EXIT_NOT_RUNNING)
            }
            Err(e) => {
                eprintln!("heartbeat: cannot read {}: {e}", pidfile.display());
                ExitCode::from(4)
            }
        };
    }
    if args.kill || args.restart {
        match stop_running(&pidfile) {
            Ok(true) => {}
            Ok(false) if args.kill => {
                eprintln!(
                    "heartbeat: no heartbeat process running on {}",
                    paths.nodename
                );
                return ExitCode::FAILURE;
            }
            Ok(false) => {}
            Err(e) => {
                eprintln!("heartbeat: {e}");
                return ExitCode::FAILURE;
            }
        }
        if args.kill {
            return ExitCode::SUCCESS;
        }
    }
    let opts = mcp::Options {
        debug: args.debug,
        low_priority: args.low_priority,
        foreground: args.foreground,
    };
    match mcp::run(&paths, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--check`: every error with file:line on stderr and exit 1, or the
/// warnings on stderr, the effective settings on stdout and exit 0.
fn check(paths: &HaPaths) -> ExitCode {
    let mut errors = Vec::new();
    let mut cf = None;
    match config::load_ha_cf(paths.ha_cf()) {
        Ok((c, warnings)) => {
            for w in warnings {
                eprintln!("{w}");
            }
            if let Err(e) = c.check_local_node(&paths.nodename) {
                errors.push(e);
            }
            cf = Some(c);
        }
        Err(errs) => errors.extend(errs),
    }
    let keys = match config::load_authkeys(paths.authkeys()) {
        Ok(k) => Some(k),
        Err(errs) => {
            errors.extend(errs);
            None
        }
    };
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        eprintln!(
            "heartbeat: configuration in {} has {} error(s)",
            paths.confdir.display(),
            errors.len()
        );
        return ExitCode::FAILURE;
    }
    if let Some(cf) = cf {
        print!("{}", config::render_effective(&cf, keys.as_ref()));
    }
    ExitCode::SUCCESS
}

/// Sends SIGTERM to the running heartbeat and waits for its pid file lock to
/// go. Ok(false) if none was running.
fn stop_running(pidfile: &std::path::Path) -> Result<bool, String> {
    let pid = match PidFile::running_pid(pidfile) {
        Ok(Some(pid)) => pid,
        Ok(None) => return Ok(false),
        Err(e) => return Err(format!("cannot read {}: {e}", pidfile.display())),
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .map_err(|e| format!("cannot signal heartbeat pid {pid}: {e}"))?;
    // Children get their own shutdown time inside; this only bounds a hang.
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        match PidFile::running_pid(pidfile) {
            Ok(Some(_)) => std::thread::sleep(Duration::from_millis(50)),
            _ => return Ok(true),
        }
    }
    Err(format!("heartbeat pid {pid} did not stop within 300s"))
}

//! ccm, the consensus membership daemon: heartbeat starts it as a child
//! (`pacemaker respawn`, or a `respawn` line); it signs on to heartbeat's
//! API as client `ccm`, feeds node status and `t=ccm` cluster messages to
//! the pure core `membership::ccm::Ccm`, sends what the core asks, and
//! serves the ccm API (`ccmapi`) on `$HA_RUNDIR/ccm.sock`. This file is the
//! command line, the persisted state and start-up; `service` is the loop.
//!
//! It exits when heartbeat goes away (heartbeat respawns it), so a killed
//! node leaves no ccm behind.

mod service;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use membership::ccm::CcmConfig;
use membership::NodeName;
use plumbing::daemon::PidFile;
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "ccm",
    about = "Consensus membership: turns heartbeat's node status into views every member agrees on, with quorum"
)]
struct Args {
    /// Votes of a node other than the default 1 (repeatable): NAME=VOTES.
    #[arg(long = "votes", value_name = "NAME=VOTES")]
    votes: Vec<String>,
    /// Expected votes of the whole cluster (default: the sum over ha.cf's
    /// nodes).
    #[arg(long = "expected-votes", value_name = "N")]
    expected_votes: Option<u32>,
    /// Also log to stderr.
    #[arg(short = 'v')]
    verbose: bool,
}

/// What ccm keeps across restarts: its incarnation (raised at every start)
/// and the instance floor (no instance at or below it was ever promised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct State {
    /// The last incarnation started.
    pub incarnation: u64,
    /// The instance floor.
    pub instance_floor: u64,
}

impl State {
    /// Parses `incarnation N` / `instance_floor N` lines.
    pub fn parse(text: &str) -> Result<State, String> {
        let mut s = State::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| format!("line {}: expected NAME VALUE", n + 1))?;
            let v: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("line {}: {v:?} is not a number", n + 1))?;
            match k {
                "incarnation" => s.incarnation = v,
                "instance_floor" => s.instance_floor = v,
                _ => return Err(format!("line {}: unknown name {k:?}", n + 1)),
            }
        }
        Ok(s)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        format!(
            "incarnation {}\ninstance_floor {}\n",
            self.incarnation, self.instance_floor
        )
    }

    /// Writes it atomically (temp, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        plumbing::fs::write_atomic(path, self.render().as_bytes(), 0o600)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Reads it; a missing file is a first start.
    pub fn load(path: &Path) -> Result<State, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => State::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// `$HA_STATEDIR/ccm/ccm.state`: a directory of its own, which the
/// package gives to hacluster (ccm runs as hacluster under `pacemaker
/// respawn`), so the state directory itself can stay root's.
pub fn state_path(paths: &HaPaths) -> PathBuf {
    paths.statedir.join("ccm").join("ccm.state")
}

/// Where releases before the `ccm/` directory kept the state; read once
/// when the new file does not exist yet, so the instance floor (safety:
/// no view number is ever reused) survives the move.
fn old_state_path(paths: &HaPaths) -> PathBuf {
    paths.statedir.join("ccm.state")
}

fn parse_votes(args: &Args) -> Result<BTreeMap<NodeName, u32>, String> {
    let mut out = BTreeMap::new();
    for v in &args.votes {
        let (n, c) = v
            .split_once('=')
            .ok_or_else(|| format!("--votes {v}: expected NAME=VOTES"))?;
        let name = NodeName::new(n).map_err(|e| format!("--votes {v}: {e}"))?;
        let c: u32 = c
            .parse()
            .map_err(|_| format!("--votes {v}: {c:?} is not a number"))?;
        out.insert(name, c);
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("ccm", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_or_message(paths.ha_cf())?;
    let logger = logging::init_daemon("ccm", &paths, Some(&cf), args.verbose)?;

    let local = NodeName::new(&paths.nodename)
        .map_err(|e| format!("node name {:?}: {e}", paths.nodename))?;
    let nodes: Vec<NodeName> = cf
        .nodes
        .iter()
        .filter_map(|n| NodeName::new(n).ok())
        .collect();
    let _pid = PidFile::acquire(&paths.pidfile("ccm")).map_err(|e| e.to_string())?;

    // A new incarnation, persisted before anything goes out.
    let path = state_path(&paths);
    if let Some(dir) = path.parent() {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "cannot create {} (it must exist, writable by the user ccm runs as): {e}",
                    dir.display()
                )
            })?;
        }
    }
    let mut state = if path.exists() {
        State::load(&path)?
    } else {
        State::load(&old_state_path(&paths))?
    };
    state.incarnation += 1;
    state.save(&path)?;

    let mut cc = CcmConfig::new(local, state.incarnation, state.instance_floor, nodes);
    // A peer whose ccm is silent is dropped from views only after the
    // administrator's deadtime (heartbeat declares a silent node dead at
    // deadtime; ccm must not evict it sooner, e.g. a loaded node at the
    // default 30 s), and never sooner than the core's own default.
    cc.silence_timeout = cc.silence_timeout.max(cf.deadtime + cf.keepalive);
    cc.quorum.votes = parse_votes(args)?;
    cc.quorum.expected_votes = args.expected_votes;
    log::info!(
        "ccm starting: incarnation {}, instance floor {}",
        state.incarnation,
        state.instance_floor
    );
    let result = service::run(&paths, cc, state, path);
    let _ = logger.flush(std::time::Duration::from_secs(2));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_refuses_junk() {
        let s = State {
            incarnation: 4,
            instance_floor: 128,
        };
        assert_eq!(State::parse(&s.render()), Ok(s));
        assert_eq!(State::parse(""), Ok(State::default()));
        assert!(State::parse("incarnation x\n").is_err());
        assert!(State::parse("colour 3\n").is_err());
        assert!(State::parse("incarnation\n").is_err());
    }

    #[test]
    fn state_file_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("ccm-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ccm.state");
        assert_eq!(State::load(&p), Ok(State::default()));
        let s = State {
            incarnation: 2,
            instance_floor: 65,
        };
        s.save(&p).unwrap();
        assert_eq!(State::load(&p), Ok(s));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! crmd, the cluster resource manager's controller. heartbeat starts it as
//! hacluster (`pacemaker respawn`) on every node. The controllers elect a
//! Designated Controller (DC, `controller::election`); the DC runs the join
//! (each node's operation history from its lrmd is written into the CIB
//! status section), keeps `node_state` current with membership, and on
//! every relevant change asks pengine for a transition graph and executes
//! it: resource operations go to the node's controller, which runs them
//! through its lrmd (`executor`); results come back to the DC, which
//! records them in the CIB. See `service` for the event handling.

mod executor;
mod service;

use std::process::ExitCode;

use clap::Parser;
use plumbing::daemon::{cluster_owner, prepare_owned_dir, PidFile};
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "crmd",
    about = "The cluster controller: DC election, join and transition execution"
)]
struct Args {
    /// Also log to stderr.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("crmd", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    // The loop first: it blocks SIGTERM for signalfd, and every thread
    // started later (logging's) inherits that, so heartbeat's SIGTERM
    // starts the graceful shutdown instead of killing the process.
    let lp = plumbing::EventLoop::for_daemon()?;
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_or_message(paths.ha_cf())?;
    let logger = logging::init_daemon("crmd", &paths, Some(&cf), args.verbose)?;
    let owner = cluster_owner(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let run_dir = paths.rundir.join("crm");
    prepare_owned_dir(&run_dir, owner)?;
    if owner.is_some() {
        plumbing::daemon::drop_to(config::CLUSTER_USER, config::CLUSTER_GROUP)?;
    }
    let _pid = PidFile::acquire(&run_dir.join("crmd.pid")).map_err(|e| e.to_string())?;
    // Heartbeat starts pengine itself unless crmd_spawns_pengine is on (its
    // default): then it is ours to start, from heartbeat's CRM directory or
    // next to this binary.
    let pe_spawn = if cf
        .pacemaker_children()
        .iter()
        .any(|c| c.daemon == "pengine")
    {
        None
    } else {
        let own = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("pengine")));
        cf.crm_daemon_dir
            .as_ref()
            .map(|d| d.join("pengine"))
            .filter(|p| p.exists())
            .or(own)
    };
    let r = service::run(lp, paths, pe_spawn);
    drop(logger);
    r
}

//! stonithd, the fencing daemon: heartbeat starts it as root (`pacemaker
//! respawn` in ha.cf). It registers fencing devices from the CIB (stonith
//! primitives, fencing-topology; through the cib's subscriptions) and
//! from its API (`stonithapi` on `$HA_RUNDIR/stonithd.sock`), and fences
//! cluster-wide over heartbeat messages (`wire`): the node that asks
//! finds which nodes can run which devices, each device runs where it
//! can, and results go to every node's history.
//!
//! `-s` runs it without heartbeat (single node: every device runs here).

mod service;
mod wire;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use ipc::{AccessPolicy, Allow};
use plumbing::daemon::PidFile;
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "stonithd",
    about = "The fencing daemon: fencing devices, topology and history, cluster-wide"
)]
struct Args {
    /// Run without heartbeat (this node only), as Pacemaker's --stand-alone.
    #[arg(short = 's', long = "stand-alone")]
    standalone: bool,
    /// Do not read devices from the cib (API registrations only).
    #[arg(long = "no-cib")]
    no_cib: bool,
    /// Also log to stderr.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("stonithd", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_for_daemon(paths.ha_cf(), !args.standalone)?;
    let logger = logging::init_daemon("stonithd", &paths, cf.as_ref(), args.verbose)?;
    let _pid = PidFile::acquire(&paths.pidfile("stonithd")).map_err(|e| e.to_string())?;
    // Fencing and device changes: root and hacluster (crmd); reads also
    // for haclient members (stonith_admin -L/-H by an operator).
    let (cluster_uid, cluster_gid) =
        plumbing::daemon::cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let me = nix::unistd::geteuid().as_raw();
    let policy = AccessPolicy {
        read: Allow {
            uids: [0, me].into_iter().chain(cluster_uid).collect(),
            gids: cluster_gid.into_iter().collect(),
            ..Allow::default()
        },
        write: Allow {
            uids: [0, me].into_iter().chain(cluster_uid).collect(),
            ..Allow::default()
        },
    };
    let settings = service::Settings {
        socket: stonithapi::socket_path(&paths),
        heartbeat: (!args.standalone).then(|| hbapi::socket_path(&paths)),
        cib: (!args.no_cib).then(|| cibapi::socket_path(&paths)),
        local: paths.nodename.to_ascii_lowercase(),
        policy,
        dirs: fencing::exec::AgentDirs::from_env(),
    };
    log::info!(
        "stonithd starting{} on {}",
        if args.standalone { " standalone" } else { "" },
        settings.local
    );
    let result = service::run(settings);
    let _ = logger.flush(std::time::Duration::from_secs(2));
    result
}

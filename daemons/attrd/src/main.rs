//! attrd, the node attribute daemon: heartbeat starts it as user
//! hacluster (`pacemaker respawn` in ha.cf). It holds every node's
//! attributes (`core`), exchanges them with the other nodes' attrd over
//! heartbeat messaging (`wire`), writes the local node's values to the
//! CIB through the cib daemon in batches after their dampening delay
//! (`cibreq`), publishes the health of each heartbeat link to each peer
//! as the transient attribute `<peer>-<interface>` (`up`/`dead`), and
//! serves the attrd API (`attrdapi`) on `$HA_RUNDIR/attrd.sock`.
//!
//! Started as root (by hand, or standalone in tests) it takes its pid
//! file and socket first and then drops to hacluster. `-s` runs it
//! without heartbeat: a one-node cluster whose node id is its name.

mod cibreq;
mod cluster;
mod core;
mod service;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ipc::{AccessPolicy, Allow};
use plumbing::daemon::PidFile;
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "attrd",
    about = "The node attribute daemon: node attributes with dampening, written to the CIB in batches"
)]
struct Args {
    /// Run without heartbeat (this node only; its id in the CIB is its name).
    #[arg(short = 's', long = "stand-alone")]
    standalone: bool,
    /// Batching window: a flush waits this long after the first value
    /// became due, so values due meanwhile go in the same CIB update.
    #[arg(long = "batch-ms", value_name = "MS", default_value_t = 20)]
    batch_ms: u64,
    /// Also log to stderr.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("attrd", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    // The loop first: its signals are blocked before the logging thread
    // starts, so SIGTERM always reaches the loop.
    let mut lp = plumbing::EventLoop::for_daemon()?;
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_for_daemon(paths.ha_cf(), !args.standalone)?;
    let logger = logging::init_daemon("attrd", &paths, cf.as_ref(), args.verbose)?;

    let (cluster_uid, cluster_gid) =
        plumbing::daemon::cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let root = nix::unistd::geteuid().is_root();
    // The pid file before the socket: a second attrd must not take the
    // first one's socket away.
    let _pid = PidFile::acquire(&paths.pidfile("attrd")).map_err(|e| e.to_string())?;
    // Root, hacluster and members of haclient may read and write (as
    // Pacemaker's attrd IPC); anyone else is refused.
    let policy = AccessPolicy::read_write(Allow::root_and(cluster_uid, cluster_gid));
    let socket = attrdapi::socket_path(&paths);
    let server = service::bind(&mut lp, &socket, policy)?;
    if root && cluster_uid.is_some() {
        plumbing::daemon::drop_to(config::CLUSTER_USER, config::CLUSTER_GROUP)?;
    }

    let settings = service::Settings {
        heartbeat: (!args.standalone).then(|| paths.clone()),
        cib_socket: cibapi::socket_path(&paths),
        local: paths.nodename.to_ascii_lowercase(),
        window: Duration::from_millis(args.batch_ms),
    };
    log::info!(
        "attrd starting{} on {}",
        if args.standalone { " standalone" } else { "" },
        settings.local
    );
    let result = service::run(&mut lp, server, settings);
    let _ = logger.flush(Duration::from_secs(2));
    result
}

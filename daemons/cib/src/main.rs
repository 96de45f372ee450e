//! cib, the Cluster Information Base daemon: heartbeat starts it as user
//! hacluster (`pacemaker respawn` in ha.cf); it loads the CIB from
//! `$HA_STATEDIR/crm` (see `store`), serves the cib API (`cibapi`) on
//! `$HA_RUNDIR/crm/cib.sock` to local clients, persists every
//! configuration change before acknowledging it, and replicates changes
//! with the other nodes' cib over heartbeat messaging (`repl`).
//!
//! Started as root (by hand, or a `respawn root` line) it prepares its
//! directories (owned by hacluster:haclient, mode 0750) and drops to
//! hacluster, as the classic daemons do. `-s` runs it standalone: no
//! heartbeat, no replication.

mod ops;
mod repl;
mod service;
mod store;

use std::process::ExitCode;

use clap::Parser;
use ipc::{AccessPolicy, Allow};
use plumbing::daemon::{cluster_ids, cluster_owner, prepare_owned_dir, PidFile};
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "cib",
    about = "The Cluster Information Base daemon: holds, persists and replicates the CIB"
)]
struct Args {
    /// Run without heartbeat (no replication), as Pacemaker's --stand-alone.
    #[arg(short = 's', long = "stand-alone")]
    standalone: bool,
    /// Backup slots (cib-N.raw) kept in the state directory.
    #[arg(long = "backups", value_name = "N", default_value_t = store::DEFAULT_BACKUPS)]
    backups: u32,
    /// Also log to stderr.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("cib", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_for_daemon(paths.ha_cf(), !args.standalone)?;
    let logger = logging::init_daemon("cib", &paths, cf.as_ref(), args.verbose)?;
    let owner = cluster_owner(config::CLUSTER_USER, config::CLUSTER_GROUP);
    // Access is granted to the cluster user and group whether or not we
    // run as root.
    let (cluster_uid, cluster_gid) = cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let state_dir = paths.statedir.join("crm");
    let run_dir = cibapi::crm_run_dir(&paths);
    prepare_owned_dir(&state_dir, owner)?;
    prepare_owned_dir(&run_dir, owner)?;
    if owner.is_some() {
        plumbing::daemon::drop_to(config::CLUSTER_USER, config::CLUSTER_GROUP)?;
    }
    let _pid = PidFile::acquire(&run_dir.join("cib.pid")).map_err(|e| e.to_string())?;

    let store = store::Store::new(state_dir, args.backups);
    let loaded = store.load()?;
    for p in &loaded.problems {
        log::warn!("{p}");
    }
    let doc = match loaded.cib {
        Some(c) => {
            log::info!(
                "loaded the CIB {} from {}",
                ops::version_of(&c),
                loaded
                    .source
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            if loaded.primary_bad {
                // Leave a consistent cib.xml behind again.
                store
                    .write(&c)
                    .map_err(|e| format!("cannot write {}: {e}", store.primary().display()))?;
            }
            c
        }
        None => {
            log::info!(
                "no CIB in {}: starting with an empty configuration",
                store.primary().display()
            );
            cib_xml::ops::empty_cib()
        }
    };

    // Reads: root, hacluster and members of haclient; writes: root and
    // hacluster (Pacemaker's privileged users; ACLs for others later).
    let policy = AccessPolicy {
        read: Allow::root_and(cluster_uid, cluster_gid),
        write: Allow {
            uids: [0].into_iter().chain(cluster_uid).collect(),
            ..Allow::default()
        },
    };
    let settings = service::Settings {
        socket: cibapi::socket_path(&paths),
        heartbeat: (!args.standalone).then(|| hbapi::socket_path(&paths)),
        local: paths.nodename.to_ascii_lowercase(),
        policy,
    };
    log::info!(
        "cib starting{} on {}",
        if args.standalone { " standalone" } else { "" },
        settings.local
    );
    let result = service::run(settings, doc, store);
    let _ = logger.flush(std::time::Duration::from_secs(2));
    result
}

//! pengine, the policy engine daemon: the DC's crmd sends it the CIB and
//! gets back a transition graph (`crates/pengine` does the scheduling;
//! this is the thin shell around it). Each input is saved as Pacemaker
//! saves it, `$HA_STATEDIR/pengine/pe-input-N.bz2` (`pe-warn-N.bz2` or
//! `pe-error-N.bz2` when the scheduler warned or erred about it),
//! with the scheduling time recorded as `execution-date`, so
//! `crm_simulate -x` replays exactly what the cluster decided.
//!
//! heartbeat starts it as hacluster (`pacemaker respawn`); started as root
//! it prepares its directories and drops to hacluster as the cib does.

mod series;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use cib_xml::Limits;
use clap::Parser;
use crmapi::{PeApi, PeRequest, PeResponse};
use ipc::{AccessPolicy, Allow, Server, ServerEvent};
use plumbing::daemon::{cluster_ids, cluster_owner, prepare_owned_dir, PidFile};
use plumbing::{Event, HaPaths, Signal};

use series::Series;

#[derive(Parser, Debug)]
#[command(
    name = "pengine",
    about = "The policy engine daemon: computes transition graphs for the DC"
)]
struct Args {
    /// Also log to stderr.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    plumbing::daemon::exit_code("pengine", run(&args))
}

fn run(args: &Args) -> Result<(), String> {
    let paths = HaPaths::from_env();
    let cf = config::load_ha_cf_for_daemon(paths.ha_cf(), false)?;
    let logger = logging::init_daemon("pengine", &paths, cf.as_ref(), args.verbose)?;
    let owner = cluster_owner(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let (cluster_uid, cluster_gid) = cluster_ids(config::CLUSTER_USER, config::CLUSTER_GROUP);
    let state_dir = paths.statedir.join("pengine");
    let socket = crmapi::pengine_socket(&paths);
    let run_dir = socket
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| paths.rundir.clone());
    prepare_owned_dir(&state_dir, owner)?;
    prepare_owned_dir(&run_dir, owner)?;
    if owner.is_some() {
        plumbing::daemon::drop_to(config::CLUSTER_USER, config::CLUSTER_GROUP)?;
    }
    let _pid = PidFile::acquire(&run_dir.join("pengine.pid")).map_err(|e| e.to_string())?;
    let mut lp = plumbing::EventLoop::for_daemon()?;
    // Only the controller (hacluster) and root ask for graphs.
    let policy = AccessPolicy::read_write(Allow::root_and(cluster_uid, cluster_gid));
    let limits = ipc::Limits {
        max_queue: 512 << 20,
        ..ipc::Limits::default()
    };
    let mut server: Server<PeApi> = Server::bind(&mut lp, &socket, 0o660, policy, limits)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    log::info!("pengine ready on {}", socket.display());
    let mut events = Vec::new();
    let mut reqs = Vec::new();
    loop {
        lp.poll(&mut events, server.poll_timeout())
            .map_err(|e| format!("poll: {e}"))?;
        for ev in events.drain(..) {
            match ev {
                Event::Io { token, ready } if server.owns(token) => {
                    server.handle_io(&mut lp, token, ready, &mut reqs);
                }
                Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                    log::info!("pengine stopping");
                    drop(logger);
                    return Ok(());
                }
                _ => {}
            }
        }
        server.process(&mut lp, &mut reqs);
        while !reqs.is_empty() {
            for r in std::mem::take(&mut reqs) {
                if let ServerEvent::Request {
                    client,
                    call: Some(call),
                    body,
                } = r
                {
                    let resp = handle(&state_dir, body);
                    let _ = server.reply(&mut lp, client, call, &resp, &mut reqs);
                }
            }
        }
    }
}

/// One request: schedule, save the input, answer with the graph.
fn handle(state_dir: &Path, req: PeRequest) -> PeResponse {
    let PeRequest::Compute {
        cib,
        transition,
        now,
    } = req;
    let mut doc = match cib_xml::xml::parse(&cib, &Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            let why = format!("invalid CIB: {e}");
            log::error!("transition {transition}: {why}");
            save(state_dir, Series::Error, None, &cib);
            return PeResponse::Failed(why);
        }
    };
    // What the scheduler saw, with the time it decided at: replaying the
    // saved file gives the same graph.
    doc.set_attr("execution-date", &now.to_string());
    let doc = Rc::new(doc);
    let ws = match pengine::schedule(
        Rc::clone(&doc),
        cib_xml::time::DateTime(now),
        &pengine::Options::default(),
    ) {
        Ok(ws) => ws,
        Err(e) => {
            log::error!("transition {transition}: cannot schedule: {e}");
            save(state_dir, Series::Error, None, &doc.to_pretty());
            return PeResponse::Failed(e.to_string());
        }
    };
    let graph = pengine::graph::transition_graph(&ws, transition).to_pretty();
    let diagnostics = pengine::diagnostics::diagnose(&ws);
    for d in diagnostics.iter().filter(|d| d.config || d.processing) {
        match d.severity {
            pengine::diagnostics::Severity::Error => log::error!("{}", d.message),
            pengine::diagnostics::Severity::Warning => log::warn!("{}", d.message),
        }
    }
    let series = Series::of(&diagnostics);
    let max = ws.options.config.get(series.option()).map(String::as_str);
    let input = save(state_dir, series, max, &doc.to_pretty());
    let with = match series {
        Series::Input => "",
        Series::Warn => " (with warnings)",
        Series::Error => " (with errors)",
    };
    match &input {
        Some(p) => log::info!(
            "Calculated transition {transition}{with}, saving inputs in {}",
            p.display()
        ),
        None => log::info!("Calculated transition {transition}{with}"),
    }
    std::mem::forget(ws);
    PeResponse::Graph {
        graph,
        input: input.map(|p| p.display().to_string()),
    }
}

/// Saves `text` as the next file of `series`; `None` when the series is
/// off (its maximum is 0) or the write failed (logged: the cluster goes on
/// without the copy, as Pacemaker's does).
fn save(dir: &Path, series: Series, max: Option<&str>, text: &str) -> Option<PathBuf> {
    let last_file = dir.join(format!("{}.last", series.prefix()));
    let last = std::fs::read_to_string(&last_file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let (seq, after) = series::next(last, series::max_from(max, series))?;
    let path = dir.join(format!("{}-{seq}.bz2", series.prefix()));
    let written = cib_xml::compressed::bzip2(text).and_then(|bytes| {
        plumbing::fs::write_atomic(&path, &bytes, 0o640)?;
        plumbing::fs::write_atomic(&last_file, format!("{after}\n").as_bytes(), 0o640)
    });
    match written {
        Ok(()) => Some(path),
        Err(e) => {
            log::warn!("cannot save {}: {e}", path.display());
            None
        }
    }
}

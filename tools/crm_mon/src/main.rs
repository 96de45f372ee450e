//! crm_mon: the cluster status the way Pacemaker 2.1.5's crm_mon prints it
//! in one-shot mode (`-1`). The CIB comes from `CIB_file` or the cib daemon
//! (through `clitools`); `pengine::unpack_cib` reads it and
//! `pengine::status` renders the node list, the resources and the optional
//! sections, so crm_mon and crm_simulate show a cluster identically. This
//! tool adds what only crm_mon prints: the "Cluster Summary" header, the
//! "Active Resources" selection (without `-r`) and the top-level layout.
//!
//! Not yet: interval refresh, `-n`, `-o`, `-t`, `-c`, `-m`, `-s`, HTML and
//! XML output, "Failed Resource Actions"; they are refused with exit code 2
//! instead of printing something different from Pacemaker's.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::time::DateTime;
use cib_xml::Element;
use clap::{ArgAction, Parser};
use clitools::{exit, CibSession};
use pengine::output::TextOut;
use pengine::status::{cluster_status, resource_counts, StatusOptions};
use pengine::WorkingSet;

#[derive(Parser, Debug)]
#[command(
    name = "crm_mon",
    about = "Shows the state of the cluster: nodes, resources and, on request, node attributes and fail counts.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Print the status once and exit (the only mode so far)
    #[arg(short = '1', long = "one-shot")]
    one_shot: bool,
    /// Also list inactive resources
    #[arg(short = 'r', long = "inactive")]
    inactive: bool,
    /// Show node attributes
    #[arg(short = 'A', long = "show-node-attributes")]
    attributes: bool,
    /// Show resource fail counts (the migration summary)
    #[arg(short = 'f', long = "failcounts")]
    failcounts: bool,
    /// Group resources by node (not supported yet)
    #[arg(short = 'n', long = "group-by-node")]
    group_by_node: bool,
    /// Output format: text (xml and html are not supported yet)
    #[arg(long = "output-as", value_name = "FORMAT", default_value = "text")]
    output_as: String,
    /// Shorthand for --output-as=xml (not supported yet)
    #[arg(short = 'X', long = "as-xml")]
    as_xml: bool,
    /// Seconds to wait for the cib daemon
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    ExitCode::from(run(&args))
}

fn run(args: &Args) -> u8 {
    if args.as_xml || args.output_as != "text" || args.group_by_node {
        eprintln!("crm_mon: only the text output without --group-by-node is supported so far");
        return exit::INVALID_PARAM;
    }
    let session = match CibSession::open(Duration::from_secs(args.timeout.max(1))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.message);
            return e.code;
        }
    };
    let now = DateTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
            .unwrap_or(0),
    );
    let cib = session.cib().clone();
    let mut ws = match pengine::unpack_cib(cib, now, &pengine::Options::default()) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("crm_mon: {}", e.0);
            return exit::CONFIG;
        }
    };
    let text = render(&mut ws, args, now);
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    exit::OK
}

/// A cluster property from the `cib-bootstrap-options` sets.
fn property<'a>(cib: &'a Element, name: &str) -> Option<&'a str> {
    let config = cib.path(&["configuration", "crm_config"])?;
    config
        .children
        .iter()
        .filter(|s| s.name == "cluster_property_set")
        .flat_map(|s| s.children.iter())
        .find(|nv| nv.name == "nvpair" && nv.attr("name") == Some(name))
        .and_then(|nv| nv.attr("value"))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The "Cluster Summary" list.
fn summary(ws: &WorkingSet, now: DateTime, out: &mut Vec<String>) {
    let cib = &ws.cib;
    out.push("Cluster Summary:".into());
    // Our DC writes no cluster-infrastructure under the pacemaker-3.x
    // schemas (they forbid "heartbeat"); its dc-version says the stack.
    let ours = property(cib, "dc-version").is_some_and(|v| v.ends_with("-heartbeat-rs"));
    let stack = property(cib, "cluster-infrastructure")
        .or(ours.then_some("heartbeat"))
        .unwrap_or("unknown");
    out.push(format!("  * Stack: {stack}"));
    let dc = ws
        .dc_uuid
        .as_deref()
        .and_then(|id| ws.nodes.iter().find(|n| n.id == id));
    match dc {
        Some(n) => {
            let version = property(cib, "dc-version").unwrap_or("unknown");
            let quorum = if cib
                .attr("have-quorum")
                .is_some_and(|q| q == "1" || q == "true")
            {
                "with"
            } else {
                "WITHOUT"
            };
            out.push(format!(
                "  * Current DC: {} (version {version}) - partition {quorum} quorum",
                n.uname
            ));
        }
        None => out.push("  * Current DC: NONE".into()),
    }
    out.push(format!("  * Last updated: {}", now.to_ctime()));
    let mut change = format!(
        "  * Last change:  {}",
        cib.attr("cib-last-written").unwrap_or("")
    );
    for (attr, word) in [
        ("update-user", " by "),
        ("update-client", " via "),
        ("update-origin", " on "),
    ] {
        if let Some(v) = cib.attr(attr) {
            change.push_str(word);
            change.push_str(v);
        }
    }
    out.push(change);
    let nodes = ws.nodes.len();
    out.push(format!("  * {nodes} node{} configured", plural(nodes)));
    let (instances, disabled, blocked) = resource_counts(ws);
    let mut line = format!(
        "  * {instances} resource instance{} configured",
        plural(instances)
    );
    match (disabled, blocked) {
        (0, 0) => {}
        (d, 0) => line.push_str(&format!(" ({d} DISABLED)")),
        (0, b) => line.push_str(&format!(
            " ({b} BLOCKED from further action due to failure)"
        )),
        (d, b) => line.push_str(&format!(
            " ({d} DISABLED, {b} BLOCKED from further action due to failure)"
        )),
    }
    out.push(line);
    if ws.options.maintenance_mode {
        out.push(String::new());
        out.push("              *** Resource management is DISABLED ***".into());
        out.push("  The cluster will not attempt to start, stop or recover services".into());
    } else if ws.options.stop_all {
        out.push(String::new());
        out.push("    *** Resource management is DISABLED ***".into());
        out.push("  The cluster will keep all resources stopped".into());
    }
}

fn render(ws: &mut WorkingSet, args: &Args, now: DateTime) -> String {
    let mut lines = Vec::new();
    summary(ws, now, &mut lines);
    lines.push(String::new());
    let resources_title = if args.inactive {
        "Full List of Resources"
    } else {
        "Active Resources"
    };
    // Without -r only what runs is listed (pengine's hide_inactive).
    let opts = StatusOptions {
        show_pending: true,
        attributes: args.attributes,
        failcounts: args.failcounts,
        hide_inactive: !args.inactive,
    };
    let mut out = TextOut::new();
    cluster_status(ws, "", &opts, &mut out);
    // pengine nests the sections in one list (crm_simulate's "Current
    // cluster status"); crm_mon prints them at the top level.
    for line in out.render(true).into_iter().skip(1) {
        let body = line.strip_prefix("  ").unwrap_or(&line);
        let line = match body.strip_prefix("* ") {
            Some(title) if !line.starts_with("    ") && title.ends_with(':') => {
                if title == "Full List of Resources:" {
                    format!("{resources_title}:")
                } else {
                    title.to_string()
                }
            }
            _ => body.to_string(),
        };
        lines.push(line);
    }
    let failed = failed_actions(ws);
    if !failed.is_empty() {
        lines.push(String::new());
        lines.push("Failed Resource Actions:".into());
        for f in failed {
            lines.push(format!("  * {f}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// An interval or duration in milliseconds as Pacemaker shows it: `90ms`,
/// `10s`, `30.160s`.
fn readable_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// A duration as Pacemaker's readable form: `90ms`, `7.330s`, `1m35.134s`.
fn readable_duration(ms: u64) -> String {
    let secs = ms / 1000;
    let rem = ms % 1000;
    let mut out = String::new();
    for (value, unit) in [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "m"),
    ] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    let s = secs % 60;
    if rem > 0 && secs > 0 {
        out.push_str(&format!("{s}.{rem:03}s"));
    } else if rem > 0 {
        out.push_str(&format!("{rem}ms"));
    } else if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The text of an operation's execution status (`op-status`).
fn exec_status_str(status: i64) -> &'static str {
    match status {
        -1 => "pending",
        0 => "complete",
        1 => "Cancelled",
        2 => "Timed Out",
        3 => "NOT SUPPORTED",
        4 => "Error",
        5 => "Hard error",
        6 => "Fatal error",
        7 => "Not installed",
        8 => "Internal communication failure",
        9 => "Cannot execute now",
        10 => "No fence device",
        11 => "CIB secrets unavailable",
        _ => "UNKNOWN",
    }
}

/// The result text of an OCF exit code.
fn rc_str(rc: i64) -> &'static str {
    i32::try_from(rc).map_or("unknown", pengine::status::ocf_exitcode_str)
}

/// The history entry (its `lrm_resource` id and the `lrm_rsc_op`) a
/// failed operation was recorded from.
fn failed_op_xml<'a>(
    ws: &'a WorkingSet,
    f: &pengine::model::FailedOp,
) -> Option<(&'a str, &'a Element)> {
    let node = &ws.nodes[f.node];
    let status = ws.cib.child("status")?;
    let state = status.children.iter().find(|s| {
        s.name == "node_state"
            && (s.attr("id") == Some(node.id.as_str()) || s.attr("uname") == Some(&node.uname))
    })?;
    let resources = state.path(&["lrm", "lrm_resources"])?;
    for lr in resources
        .children
        .iter()
        .filter(|c| c.name == "lrm_resource")
    {
        for op in lr.children.iter().filter(|c| c.name == "lrm_rsc_op") {
            let key = op.attr("operation_key").or(op.attr("id")).unwrap_or("");
            let rc: i32 = op
                .attr("rc-code")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            if key.eq_ignore_ascii_case(&f.key) && rc == f.rc {
                return Some((lr.attr("id").unwrap_or(""), op));
            }
        }
    }
    None
}

/// The "Failed Resource Actions" lines, as crm_mon prints them without
/// `--show-detail`.
fn failed_actions(ws: &WorkingSet) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &ws.failed_ops {
        if f.masked_probe {
            continue;
        }
        let Some((history_id, op)) = failed_op_xml(ws, f) else {
            continue;
        };
        let num = |name: &str| -> i64 { op.attr(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
        let task = op.attr("operation").unwrap_or("");
        let interval = u64::try_from(num("interval")).unwrap_or(0);
        let action = if interval > 0 {
            format!("{}-interval {task}", readable_ms(interval))
        } else if task == "monitor" {
            "probe".to_string()
        } else {
            task.to_string()
        };
        // The resource as the operation key names it.
        let suffix = format!("_{task}_{interval}");
        let rsc = op
            .attr("operation_key")
            .and_then(|k| k.strip_suffix(suffix.as_str()))
            .unwrap_or(history_id);
        let node = &ws.nodes[f.node].uname;
        let status = op
            .attr("op-status")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut line = if status == 0 {
            format!(
                "{rsc} {action} on {node} returned '{}'",
                rc_str(num("rc-code"))
            )
        } else {
            format!(
                "{rsc} {action} on {node} could not be executed ({})",
                exec_status_str(status)
            )
        };
        if let Some(reason) = op.attr("exit-reason").filter(|r| !r.is_empty()) {
            line.push_str(&format!(" ({reason})"));
        }
        let changed = num("last-rc-change");
        if changed > 0 {
            line.push_str(&format!(" at {}", DateTime(changed).to_ctime()));
        }
        let exec = u64::try_from(num("exec-time")).unwrap_or(0);
        if exec > 0 {
            line.push_str(&format!(" after {}", readable_duration(exec)));
        }
        lines.push(line);
    }
    lines
}

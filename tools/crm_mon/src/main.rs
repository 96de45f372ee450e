//! crm_mon: the cluster status the way Pacemaker 2.1.5's crm_mon shows
//! it. The CIB comes from `CIB_file` or the cib daemon (through
//! `clitools`); `pengine::unpack_cib` reads it and `pengine::status`
//! renders the node list, the resources and the optional sections, so
//! crm_mon and crm_simulate show a cluster identically. This tool adds
//! what only crm_mon prints: the "Cluster Summary" header, the "Active
//! Resources" selection (without `-r`), the operation history (`-o`,
//! `-t`), tickets (`-c`), "Failed Resource Actions", the Nagios line
//! (`-s`), the XML and HTML documents, and the refresh loop with its
//! external agent (`-E`) and daemon mode (`-d`).
//!
//! Modes: one-shot (`-1`, `-s`, XML) prints once; otherwise the status is
//! read again every `--interval` (a terminal is cleared and redrawn and
//! `q` quits; other outputs get every refresh appended), the HTML file
//! (`-h`) is rewritten atomically and the external agent is run for every
//! operation result that appeared since the previous read.

mod events;
mod history;
mod html;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cib_xml::time::DateTime;
use cib_xml::Element;
use clap::{ArgAction, Parser};
use clitools::{exit, CibSession, ToolError};
use pengine::output::TextOut;
use pengine::status::{cluster_status, cluster_status_by_node, resource_counts, StatusOptions};
use pengine::WorkingSet;
use plumbing::{Event, EventLoop, Interest, Signal};

/// Pacemaker's exit code for `-s` when the cluster needs attention.
const MON_STATUS_WARN: u8 = 1;
/// `-s` when the cluster cannot be reached.
const MON_STATUS_CRIT: u8 = 2;
/// How long the external agent may run before its process group is killed.
const AGENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "crm_mon",
    about = "Shows the state of the cluster: nodes, resources and, on request, node attributes, fail counts, operations and tickets.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Print the status once and exit
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
    /// Show the resource operation history
    #[arg(short = 'o', long = "operations")]
    operations: bool,
    /// Show timing details of the operations (implies -o)
    #[arg(short = 't', long = "timing-details")]
    timing: bool,
    /// Show cluster tickets
    #[arg(short = 'c', long = "tickets")]
    tickets: bool,
    /// Show fence history: 0 off, 1 failures and pending, 2 also successes
    /// (without a value), 3 everything
    #[arg(short = 'm', long = "fence-history", value_name = "LEVEL", num_args = 0..=1, default_missing_value = "2")]
    fence_history: Option<u8>,
    /// Show more details (not supported)
    #[arg(short = 'R', long = "show-detail")]
    show_detail: bool,
    /// Group resources by node
    #[arg(short = 'n', long = "group-by-node")]
    group_by_node: bool,
    /// Print one line for Nagios and exit: 0 OK, 1 warning, 2 critical
    #[arg(short = 's', long = "simple-status")]
    simple: bool,
    /// Output format: text, xml or html
    #[arg(long = "output-as", value_name = "FORMAT")]
    output_as: Option<String>,
    /// Where --output-as writes (html: the page file)
    #[arg(long = "output-to", value_name = "FILE")]
    output_to: Option<PathBuf>,
    /// Shorthand for --output-as=xml
    #[arg(short = 'X', long = "as-xml")]
    as_xml: bool,
    /// Write the status as HTML to FILE (rewritten every interval)
    #[arg(
        short = 'h',
        long = "as-html",
        visible_alias = "html-file",
        value_name = "FILE"
    )]
    html_file: Option<PathBuf>,
    /// Refresh interval (5s, 2m, 500ms, PT1M; plain numbers are seconds)
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "TIMESPEC",
        default_value = "5s"
    )]
    interval: String,
    /// Run in the background (with -h and/or -E)
    #[arg(short = 'd', long = "daemonize")]
    daemonize: bool,
    /// The pid file of the background monitor
    #[arg(
        short = 'p',
        long = "pid-file",
        value_name = "FILE",
        default_value = "/tmp/ClusterMon.pid"
    )]
    pid_file: PathBuf,
    /// A program to run for every resource operation result
    #[arg(short = 'E', long = "external-agent", value_name = "FILE")]
    external_agent: Option<PathBuf>,
    /// The recipient passed to the external agent (CRM_notify_recipient)
    #[arg(short = 'e', long = "external-recipient", value_name = "RCPT")]
    external_recipient: Option<String>,
    /// Plain text instead of a full-screen display (the only display here)
    #[arg(short = 'N', long = "disable-ncurses")]
    no_curses: bool,
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

/// The output format chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Xml,
    /// `-X`: the older document, `<crm_mon version=...>` without a status.
    LegacyXml,
    Html,
}

/// What the status shows, from the options.
#[derive(Debug, Clone, Copy, Default)]
struct Show {
    inactive: bool,
    attributes: bool,
    failcounts: bool,
    operations: bool,
    timing: bool,
    tickets: bool,
    /// Resources under the node they run on (`-n`).
    by_node: bool,
}

/// The checked options.
#[derive(Debug)]
struct Config {
    format: Format,
    show: Show,
    one_shot: bool,
    interval: Duration,
    html_file: Option<PathBuf>,
    agent: Option<PathBuf>,
    recipient: Option<String>,
    timeout: Duration,
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    ExitCode::from(run(args))
}

/// An interval in Pacemaker's forms: `5`, `5s`, `2m`, `500ms`, `PT1M`.
fn parse_interval(s: &str) -> Option<Duration> {
    let ms = cib_xml::rules::parse_interval_ms(s.trim())?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn usage(msg: &str) -> u8 {
    eprintln!("crm_mon: {msg}");
    exit::INVALID_PARAM
}

fn check(args: &Args) -> Result<Config, u8> {
    if args.show_detail {
        return Err(usage("--show-detail is not supported"));
    }
    if let Some(level) = args.fence_history {
        if level > 3 {
            return Err(usage(&format!(
                "invalid --fence-history level {level} (0 to 3)"
            )));
        }
    }
    let Some(interval) = parse_interval(&args.interval) else {
        return Err(usage(&format!("invalid --interval '{}'", args.interval)));
    };
    let mut format = match args.output_as.as_deref() {
        None | Some("text") | Some("console") => Format::Text,
        Some("xml") => Format::Xml,
        Some("html") => Format::Html,
        Some(other) => return Err(usage(&format!("unknown output format '{other}'"))),
    };
    if args.as_xml {
        format = Format::LegacyXml;
    }
    let mut html_file = args.html_file.clone();
    if format == Format::Html && html_file.is_none() {
        html_file = args.output_to.clone();
    }
    if html_file.is_some() {
        format = Format::Html;
    }
    if args.output_to.is_some() && format != Format::Html {
        return Err(usage("--output-to is supported with --output-as=html only"));
    }
    if args.daemonize && html_file.is_none() && args.external_agent.is_none() {
        return Err(usage(
            "--daemonize requires --as-html FILE or --external-agent",
        ));
    }
    if args.external_recipient.is_some() && args.external_agent.is_none() {
        return Err(usage("--external-recipient requires --external-agent"));
    }
    let agent = args.external_agent.as_deref().map(absolute);
    let xml = matches!(format, Format::Xml | Format::LegacyXml);
    let one_shot = !args.daemonize && (args.one_shot || args.simple || xml);
    Ok(Config {
        format,
        show: Show {
            // The XML document holds everything, with timing.
            inactive: args.inactive || xml,
            attributes: args.attributes || xml,
            failcounts: args.failcounts,
            operations: args.operations || args.timing || xml,
            timing: args.timing || xml,
            tickets: args.tickets || xml,
            by_node: args.group_by_node,
        },
        one_shot,
        interval,
        html_file: html_file.as_deref().map(absolute),
        agent,
        recipient: args.external_recipient.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    })
}

fn run(args: Args) -> u8 {
    // Ours has no curses display to turn off, and logs nothing more.
    let _ = (args.verbose, args.no_curses);
    let config = match check(&args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if args.simple {
        return simple_status(&config);
    }
    if config.one_shot {
        return one_shot(&config);
    }
    if args.daemonize {
        // The daemon works from `/`: a relative CIB_file must still name
        // the same file.
        if let Some(f) = std::env::var_os("CIB_file").filter(|f| !f.is_empty()) {
            std::env::set_var("CIB_file", absolute(Path::new(&f)));
        }
        let pid_file = absolute(&args.pid_file);
        if let Err(e) = plumbing::daemon::daemonize() {
            eprintln!("crm_mon: {e}");
            return exit::ERROR;
        }
        let _pid = match plumbing::daemon::PidFile::acquire(&pid_file) {
            Ok(p) => p,
            Err(_) => return exit::ERROR,
        };
        return monitor(&config, false);
    }
    monitor(&config, true)
}

/// The current time, from the clock.
fn now() -> DateTime {
    clitools::now()
}

fn read_cib(config: &Config) -> Result<Element, ToolError> {
    CibSession::open(config.timeout).map(CibSession::into_cib)
}

fn unpack(cib: Element, now: DateTime) -> Result<WorkingSet, ToolError> {
    pengine::unpack_cib(cib, now, &pengine::Options::default())
        .map_err(|e| ToolError::new(exit::CONFIG, format!("crm_mon: {}", e.0)))
}

fn one_shot(config: &Config) -> u8 {
    let now = now();
    // Never dropped: freeing a large CIB piece by piece costs more than
    // the rest of the call, and the process ends after printing.
    let mut ws = match read_cib(config).and_then(|cib| unpack(cib, now)) {
        Ok(ws) => std::mem::ManuallyDrop::new(ws),
        Err(e) if matches!(config.format, Format::Xml | Format::LegacyXml) => {
            // Pacemaker reports the failure inside the document.
            let mut errors = Element::new("errors");
            for line in e.message.lines() {
                let mut err = Element::new("error");
                err.text = Some(line.to_string());
                errors.children.push(err);
            }
            let mut status = Element::new("status")
                .with_attr("code", &e.code.to_string())
                .with_attr("message", "Error");
            status.children.push(errors);
            let mut doc = result_element();
            doc.children.push(status);
            println!("{}", doc.to_pretty().trim_end());
            return e.code;
        }
        Err(e) => {
            eprintln!("{}", e.message);
            return e.code;
        }
    };
    let doc = match config.format {
        Format::Text => render(&mut ws, &config.show, now),
        Format::Xml | Format::LegacyXml => {
            let legacy = config.format == Format::LegacyXml;
            let mut text = xml_document(&ws, &config.show, now, legacy).to_pretty();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
        Format::Html => {
            let page = html::page(&render(&mut ws, &config.show, now), None);
            if let Some(f) = &config.html_file {
                return match plumbing::fs::write_atomic(f, page.as_bytes(), 0o644) {
                    Ok(()) => exit::OK,
                    Err(e) => {
                        eprintln!("crm_mon: cannot write {}: {e}", f.display());
                        exit::CANTCREAT
                    }
                };
            }
            page
        }
    };
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(doc.as_bytes());
    exit::OK
}

/// The `-s` line and its exit code (Pacemaker's simple status).
fn simple_line(ws: &WorkingSet) -> (String, u8) {
    let mut online = 0;
    let mut standby = 0;
    let mut maintenance = 0;
    let mut offline: Vec<&str> = Vec::new();
    let no_dc = ws
        .dc_uuid
        .as_deref()
        .is_none_or(|id| !ws.nodes.iter().any(|n| n.id == id));
    for n in &ws.nodes {
        if n.standby && n.online {
            standby += 1;
        } else if n.maintenance && n.online {
            maintenance += 1;
        } else if n.online {
            online += 1;
        } else {
            offline.push(&n.uname);
        }
    }
    if no_dc || !offline.is_empty() {
        let mut line = String::from("CLUSTER WARN: ");
        if no_dc {
            line.push_str("No DC");
        }
        if no_dc && !offline.is_empty() {
            line.push_str(", ");
        }
        if !offline.is_empty() {
            let words: Vec<String> = offline
                .iter()
                .map(|n| format!("offline node: {n}"))
                .collect();
            line.push_str(&words.join(" "));
        }
        return (line, MON_STATUS_WARN);
    }
    let (instances, _, _) = resource_counts(ws);
    let mut line = format!("CLUSTER OK: {online} node{} online", plural(online));
    if standby > 0 {
        line.push_str(&format!(", {standby} standby node{}", plural(standby)));
    }
    if maintenance > 0 {
        line.push_str(&format!(
            ", {maintenance} maintenance node{}",
            plural(maintenance)
        ));
    }
    line.push_str(&format!(
        ", {instances} resource instance{} configured",
        plural(instances)
    ));
    (line, exit::OK)
}

fn simple_status(config: &Config) -> u8 {
    let now = now();
    let cib = match read_cib(config) {
        Ok(c) => c,
        Err(e) => {
            let reason = e.message.lines().last().unwrap_or("").to_string();
            let reason = reason
                .strip_prefix("Could not connect to the CIB: ")
                .unwrap_or(&reason);
            println!("CLUSTER CRIT: Connection to cluster failed: {reason}");
            return MON_STATUS_CRIT;
        }
    };
    let ws = match unpack(cib, now) {
        Ok(ws) => ws,
        Err(e) => {
            println!("CLUSTER CRIT: {}", e.message);
            return MON_STATUS_CRIT;
        }
    };
    let (line, code) = simple_line(&ws);
    println!("{line}");
    code
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The `<summary>` of the XML document.
fn summary_xml(ws: &WorkingSet, now: DateTime) -> Element {
    let cib = &ws.cib;
    let mut s = Element::new("summary");
    let ours = property(cib, "dc-version").is_some_and(|v| v.ends_with("-heartbeat-rs"));
    let stack = property(cib, "cluster-infrastructure")
        .or(ours.then_some("heartbeat"))
        .unwrap_or("unknown");
    s.children
        .push(Element::new("stack").with_attr("type", stack));
    let dc = ws
        .dc_uuid
        .as_deref()
        .and_then(|id| ws.nodes.iter().find(|n| n.id == id));
    s.children.push(match dc {
        Some(n) => Element::new("current_dc")
            .with_attr("present", "true")
            .with_attr("version", property(cib, "dc-version").unwrap_or(""))
            .with_attr("name", &n.uname)
            .with_attr("id", &n.id)
            .with_attr(
                "with_quorum",
                bool_text(
                    cib.attr("have-quorum")
                        .is_some_and(|q| q == "1" || q == "true"),
                ),
            )
            .with_attr("mixed_version", "false"),
        None => Element::new("current_dc").with_attr("present", "false"),
    });
    s.children
        .push(Element::new("last_update").with_attr("time", &now.to_ctime()));
    s.children.push(
        Element::new("last_change")
            .with_attr("time", cib.attr("cib-last-written").unwrap_or(""))
            .with_attr("user", cib.attr("update-user").unwrap_or(""))
            .with_attr("client", cib.attr("update-client").unwrap_or(""))
            .with_attr("origin", cib.attr("update-origin").unwrap_or("")),
    );
    s.children
        .push(Element::new("nodes_configured").with_attr("number", &ws.nodes.len().to_string()));
    let (instances, disabled, blocked) = resource_counts(ws);
    s.children.push(
        Element::new("resources_configured")
            .with_attr("number", &instances.to_string())
            .with_attr("disabled", &disabled.to_string())
            .with_attr("blocked", &blocked.to_string()),
    );
    let o = &ws.options;
    let policy = match o.no_quorum_policy {
        pengine::model::NoQuorumPolicy::Ignore => "ignore",
        pengine::model::NoQuorumPolicy::Freeze => "freeze",
        pengine::model::NoQuorumPolicy::Stop => "stop",
        pengine::model::NoQuorumPolicy::Demote => "demote",
        pengine::model::NoQuorumPolicy::Suicide => "suicide",
    };
    let stonith_timeout = o
        .config
        .get("stonith-timeout")
        .and_then(|v| cib_xml::rules::parse_interval_ms(v))
        .unwrap_or(60_000);
    s.children.push(
        Element::new("cluster_options")
            .with_attr("stonith-enabled", bool_text(o.stonith_enabled))
            .with_attr("symmetric-cluster", bool_text(o.symmetric))
            .with_attr("no-quorum-policy", policy)
            .with_attr("maintenance-mode", bool_text(o.maintenance_mode))
            .with_attr("stop-all-resources", bool_text(o.stop_all))
            .with_attr("stonith-timeout-ms", &stonith_timeout.to_string())
            .with_attr(
                "priority-fencing-delay-ms",
                &(o.priority_fencing_delay * 1000).to_string(),
            ),
    );
    s
}

/// `<node_attributes>`: each online node's own attributes, by name.
fn node_attributes_xml(ws: &WorkingSet) -> Option<Element> {
    let mut section = Element::new("node_attributes");
    for node in ws.nodes.iter().filter(|n| n.online) {
        let mut e = Element::new("node").with_attr("name", &node.uname);
        for (k, v) in &node.attrs {
            if pengine::status::is_internal_node_attr(k) {
                continue;
            }
            e.children.push(
                Element::new("attribute")
                    .with_attr("name", k)
                    .with_attr("value", v),
            );
        }
        if !e.children.is_empty() {
            section.children.push(e);
        }
    }
    (!section.children.is_empty()).then_some(section)
}

/// `<failures>`: the failed operations' history entries.
fn failures_xml(ws: &WorkingSet) -> Option<Element> {
    let mut section = Element::new("failures");
    for f in ws.failed_ops.iter().filter(|f| !f.masked_probe) {
        let Some((_, op)) = failed_op_xml(ws, f) else {
            continue;
        };
        let num = |name: &str| -> i64 { op.attr(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
        let rc = num("rc-code");
        let (key_name, key) = match op.attr("operation_key") {
            Some(k) => ("op_key", k),
            None => ("id", op.attr("id").unwrap_or("")),
        };
        let mut e = Element::new("failure")
            .with_attr(key_name, key)
            .with_attr("node", &ws.nodes[f.node].uname)
            .with_attr("exitstatus", rc_str(rc))
            .with_attr("exitreason", op.attr("exit-reason").unwrap_or("none"))
            .with_attr("exitcode", &rc.to_string())
            .with_attr("call", op.attr("call-id").unwrap_or(""))
            .with_attr("status", events::exec_status_str(num("op-status")));
        let change = num("last-rc-change");
        if change > 0 {
            e.set_attr("last-rc-change", &DateTime(change).to_iso());
            if let Some(q) = op.attr("queue-time") {
                e.set_attr("queued", q);
            }
            if let Some(x) = op.attr("exec-time") {
                e.set_attr("exec", x);
            }
            e.set_attr("interval", &num("interval").to_string());
            e.set_attr("task", op.attr("operation").unwrap_or(""));
        }
        section.children.push(e);
    }
    (!section.children.is_empty()).then_some(section)
}

/// `<tickets>`.
fn tickets_xml(ws: &WorkingSet) -> Option<Element> {
    let mut section = Element::new("tickets");
    for (id, t) in &tickets(ws) {
        let mut e = Element::new("ticket")
            .with_attr("id", id)
            .with_attr("status", if t.granted { "granted" } else { "revoked" })
            .with_attr("standby", bool_text(t.standby));
        if let Some(g) = t.last_granted {
            e.set_attr("last-granted", &DateTime(g).to_ctime());
        }
        section.children.push(e);
    }
    (!section.children.is_empty()).then_some(section)
}

/// The document element of the XML output.
fn result_element() -> Element {
    let request: Vec<String> = std::env::args().collect();
    Element::new("pacemaker-result")
        .with_attr("api-version", "2.25")
        .with_attr("request", &request.join(" "))
}

/// Pacemaker's crm_mon XML document (`--output-as=xml`).
fn xml_document(ws: &WorkingSet, show: &Show, now: DateTime, legacy: bool) -> Element {
    let mut doc = if legacy {
        Element::new("crm_mon").with_attr("version", "2.1.5")
    } else {
        result_element()
    };
    doc.children.push(summary_xml(ws, now));
    let status = if show.by_node {
        pengine::status::cluster_status_xml_by_node(ws, "status", true)
    } else {
        pengine::status::cluster_status_xml(ws, "status", true)
    };
    doc.children.extend(status.children);
    if show.attributes {
        doc.children.extend(node_attributes_xml(ws));
    }
    if show.operations {
        doc.children.extend(history::node_history_xml(ws));
    }
    doc.children.extend(failures_xml(ws));
    if show.tickets {
        doc.children.extend(tickets_xml(ws));
    }
    if !legacy {
        doc.children.push(
            Element::new("status")
                .with_attr("code", "0")
                .with_attr("message", "OK"),
        );
    }
    doc
}

/// Restores the terminal's settings when the display ends.
struct RawTerminal {
    saved: nix::sys::termios::Termios,
}

impl RawTerminal {
    /// Turns off line buffering and echo on stdin, so `q` acts at once.
    fn enter() -> Option<RawTerminal> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// Runs the external agent for one event, waiting at most
/// [`AGENT_TIMEOUT`] (then its process group is killed).
fn run_agent(agent: &Path, event: &events::OpEvent, recipient: Option<&str>) {
    let mut cmd = std::process::Command::new(agent);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .envs(event.env(recipient));
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    plumbing::process::unblock_signals_on_exec(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crm_mon: cannot run {}: {e}", agent.display());
            return;
        }
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if start.elapsed() < AGENT_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => break,
        }
    }
    let pid = i32::try_from(child.id()).unwrap_or(0);
    if pid > 0 {
        plumbing::process::kill_group(pid, Signal::SIGKILL);
    }
    let _ = child.wait();
    eprintln!(
        "crm_mon: {} did not finish within {}s; killed",
        agent.display(),
        AGENT_TIMEOUT.as_secs()
    );
}

/// The refresh loop (without `-1`): until SIGTERM, SIGINT or `q`.
fn monitor(config: &Config, foreground: bool) -> u8 {
    let mut lp = match EventLoop::for_daemon() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("crm_mon: {e}");
            return exit::ERROR;
        }
    };
    let stdout = std::io::stdout();
    let interactive = foreground
        && stdout.is_terminal()
        && std::io::stdin().is_terminal()
        && config.html_file.is_none();
    let _raw = if interactive {
        RawTerminal::enter()
    } else {
        None
    };
    let stdin_token = if interactive {
        lp.add_fd(&std::io::stdin(), Interest::READABLE).ok()
    } else {
        None
    };
    let timer = lp.add_interval(config.interval);
    let mut previous: Option<Element> = None;
    let mut events = Vec::new();
    let mut refresh = true;
    loop {
        if refresh {
            refresh = false;
            refresh_once(config, foreground, interactive, &mut previous);
        }
        events.clear();
        if let Err(e) = lp.poll(&mut events, None) {
            eprintln!("crm_mon: {e}");
            return exit::ERROR;
        }
        for ev in &events {
            match ev {
                Event::Signal(_) => return exit::OK,
                Event::Timer(t) if *t == timer => refresh = true,
                Event::Io { token, .. } if Some(*token) == stdin_token => {
                    let mut buf = [0u8; 64];
                    match std::io::stdin().lock().read(&mut buf) {
                        Ok(0) => return exit::OK,
                        Ok(n) if buf[..n].iter().any(|&b| b == b'q' || b == b'Q') => {
                            return exit::OK
                        }
                        Ok(_) => refresh = true,
                        Err(_) => return exit::OK,
                    }
                }
                _ => {}
            }
        }
    }
}

/// One refresh: read, show (screen, stdout or page), run the agent for
/// what changed.
fn refresh_once(
    config: &Config,
    foreground: bool,
    interactive: bool,
    previous: &mut Option<Element>,
) {
    let now = now();
    let cib = match read_cib(config) {
        Ok(c) => c,
        Err(e) => {
            if foreground {
                if interactive {
                    print!("\x1b[H\x1b[2J");
                }
                println!("Waiting until cluster is available on this node ...");
                eprintln!("{}", e.message);
                let _ = std::io::stdout().flush();
            }
            return;
        }
    };
    if let (Some(agent), Some(old)) = (&config.agent, previous.as_ref()) {
        for event in events::op_events(old, &cib) {
            run_agent(agent, &event, config.recipient.as_deref());
        }
    }
    if config.agent.is_some() {
        *previous = Some(cib.clone());
    }
    let mut ws = match unpack(cib, now) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{}", e.message);
            return;
        }
    };
    let text = render(&mut ws, &config.show, now);
    if let Some(f) = &config.html_file {
        let page = html::page(&text, Some(config.interval.as_secs().max(1)));
        if let Err(e) = plumbing::fs::write_atomic(f, page.as_bytes(), 0o644) {
            eprintln!("crm_mon: cannot write {}: {e}", f.display());
        }
        return;
    }
    if !foreground {
        return;
    }
    let mut o = std::io::stdout().lock();
    let doc = match config.format {
        Format::Html => html::page(&text, None),
        _ => text,
    };
    if interactive {
        let _ = o.write_all(b"\x1b[H\x1b[2J");
        let _ = o.write_all(doc.as_bytes());
    } else {
        let _ = o.write_all(doc.as_bytes());
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
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

fn render(ws: &mut WorkingSet, show: &Show, now: DateTime) -> String {
    let mut lines = Vec::new();
    summary(ws, now, &mut lines);
    lines.push(String::new());
    let resources_title = if show.inactive {
        "Full List of Resources"
    } else {
        "Active Resources"
    };
    // Without -r only what runs is listed (pengine's hide_inactive).
    let opts = StatusOptions {
        show_pending: true,
        attributes: show.attributes,
        // The operation history replaces the migration summary.
        failcounts: show.failcounts && !show.operations,
        hide_inactive: !show.inactive,
    };
    let mut out = TextOut::new();
    if show.by_node {
        cluster_status_by_node(ws, "", &opts, &mut out);
    } else {
        cluster_status(ws, "", &opts, &mut out);
    }

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
    if show.operations {
        // Where the migration summary would be: after the attributes.
        let mut ops = TextOut::new();
        history::operations_text(ws, show.timing, &mut ops);
        lines.extend(ops.render(true));
    }
    let failed = failed_actions(ws);
    if !failed.is_empty() {
        lines.push(String::new());
        lines.push("Failed Resource Actions:".into());
        for f in failed {
            lines.push(format!("  * {f}"));
        }
    }
    if show.tickets {
        tickets_text(ws, &mut lines);
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
                events::exec_status_str(status)
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

/// The "Tickets" section (`-c`), by ticket id.
fn tickets_text(ws: &WorkingSet, lines: &mut Vec<String>) {
    let tickets = tickets(ws);
    if tickets.is_empty() {
        return;
    }
    lines.push(String::new());
    lines.push("Tickets:".into());
    for (id, t) in &tickets {
        let mut line = format!(
            "  * {id}: {}{}",
            if t.granted { "granted" } else { "revoked" },
            if t.standby { " [standby]" } else { "" }
        );
        if let Some(g) = t.last_granted {
            line.push_str(&format!(" last-granted=\"{}\"", DateTime(g).to_ctime()));
        }
        lines.push(line);
    }
}

/// The tickets with a state in the status section, and the ones only
/// constraints name (revoked, as the cluster treats them), by id.
fn tickets(ws: &WorkingSet) -> std::collections::BTreeMap<String, pengine::model::Ticket> {
    let mut all = ws.tickets.clone();
    if let Some(constraints) = ws.cib.path(&["configuration", "constraints"]) {
        for c in constraints.children_named("rsc_ticket") {
            if let Some(t) = c.attr("ticket") {
                all.entry(t.to_string()).or_default();
            }
        }
    }
    all
}

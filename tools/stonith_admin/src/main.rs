//! Pacemaker's stonith_admin over stonithapi: register and list devices
//! and levels, query devices and agents, fence, unfence, confirm, and
//! show the fencing history, with Pacemaker's options, text output and
//! exit codes (shared/design/CIB-LRM-FENCING.md §3.5).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use clap::{ArgAction, Parser};
use clitools::exit;
use stonithapi::{
    DeviceSpec, FenceAction, FenceResult, LevelSpec, LevelTarget, PendingFence, Request, Response,
    StonithClient,
};

#[derive(Parser, Debug, Default)]
#[command(
    name = "stonith_admin",
    about = "Access the fencing API",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Register the named stonith device (requires --agent).
    #[arg(short = 'R', long = "register", value_name = "DEVICE")]
    register: Option<String>,
    /// De-register the named stonith device.
    #[arg(short = 'D', long = "deregister", value_name = "DEVICE")]
    deregister: Option<String>,
    /// Register a stonith level for NAME, @PATTERN or ATTR=VALUE.
    #[arg(short = 'r', long = "register-level", value_name = "TARGET")]
    register_level: Option<String>,
    /// Unregister a stonith level.
    #[arg(short = 'd', long = "deregister-level", value_name = "TARGET")]
    deregister_level: Option<String>,
    /// List devices that can terminate the specified host.
    #[arg(short = 'l', long = "list", value_name = "HOST")]
    list: Option<String>,
    /// List all registered devices.
    #[arg(short = 'L', long = "list-registered")]
    list_registered: bool,
    /// List all installed devices.
    #[arg(short = 'I', long = "list-installed")]
    list_installed: bool,
    /// List the targets a device can fence.
    #[arg(short = 's', long = "list-targets", value_name = "DEVICE")]
    list_targets: Option<String>,
    /// Show agent metadata (requires --agent).
    #[arg(short = 'M', long = "metadata")]
    metadata: bool,
    /// Check the named device's status.
    #[arg(short = 'Q', long = "query", value_name = "DEVICE")]
    query: Option<String>,
    /// Show the last successful fencing of a node ('*' for all).
    #[arg(short = 'H', long = "history", value_name = "NODE")]
    history: Option<String>,
    /// When the node was last fenced.
    #[arg(short = 'h', long = "last", value_name = "NODE")]
    last: Option<String>,
    /// Validate a device configuration (requires --agent).
    #[arg(short = 'K', long = "validate")]
    validate: bool,
    /// Fence (power off) the named host.
    #[arg(short = 'F', long = "fence", value_name = "HOST")]
    fence: Option<String>,
    /// Unfence (power on) the named host.
    #[arg(short = 'U', long = "unfence", value_name = "HOST")]
    unfence: Option<String>,
    /// Reboot the named host.
    #[arg(short = 'B', long = "reboot", value_name = "HOST")]
    reboot: Option<String>,
    /// Tell the cluster that the named host is safely down.
    #[arg(short = 'C', long = "confirm", value_name = "HOST")]
    confirm: Option<String>,
    /// Clean up the history (with --history).
    #[arg(short = 'c', long = "cleanup")]
    cleanup: bool,
    /// Gather the history from all nodes (every node keeps it already).
    #[arg(short = 'b', long = "broadcast")]
    broadcast: bool,
    /// The agent (with --register, --metadata, --validate).
    #[arg(short = 'a', long = "agent", value_name = "AGENT")]
    agent: Option<String>,
    /// A device parameter NAME=VALUE (repeatable).
    #[arg(short = 'o', long = "option", value_name = "PARAM")]
    option: Vec<String>,
    /// A device parameter from the environment variable OCF_RESKEY_NAME.
    #[arg(short = 'e', long = "env-option", value_name = "PARAM")]
    env_option: Vec<String>,
    /// A tag for the logs.
    #[arg(short = 'T', long = "tag", value_name = "TAG")]
    tag: Option<String>,
    /// A device of a level (repeatable).
    #[arg(short = 'v', long = "device", value_name = "DEVICE")]
    device: Vec<String>,
    /// The level index (1-9).
    #[arg(short = 'i', long = "index", value_name = "LEVEL")]
    index: Option<u32>,
    /// Operation timeout in seconds.
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 120
    )]
    timeout: u64,
    /// A fencing delay in seconds (not supported: devices' pcmk_delay_* apply).
    #[arg(
        short = 'y',
        long = "delay",
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    delay: Option<i64>,
    /// The node is a numeric id (not supported).
    #[arg(short = 'n', long = "as-node-id")]
    as_node_id: bool,
    /// Do nothing if an equivalent request succeeded this many seconds ago.
    #[arg(long = "tolerance", value_name = "SECONDS")]
    tolerance: Option<u64>,
    /// Output format (text only).
    #[arg(long = "output-as", value_name = "FORMAT")]
    output_as: Option<String>,
    /// More output.
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Less output.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Show help.
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// The words Pacemaker prints for a result code.
fn rc_words(code: i32) -> &'static str {
    match code {
        0 => "OK",
        2 => "Invalid argument",
        4 => "Insufficient privileges",
        5 => "Not installed",
        102 => "Transport endpoint is not connected",
        105 => "No such device",
        124 => "Timer expired",
        _ => "Error occurred",
    }
}

fn code_u8(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(exit::ERROR)
}

fn main() -> ExitCode {
    let args = match clitools::parse_args::<Args>() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match args.output_as.as_deref() {
        None | Some("text") => {}
        Some("xml") => {
            let _ = XML.set(Mutex::new(Vec::new()));
        }
        Some(other) => {
            eprintln!("stonith_admin: unsupported output format '{other}' (text or xml)");
            return ExitCode::from(exit::USAGE);
        }
    }
    let result = run(&args);
    if let Some(body) = XML.get() {
        let body = body.lock().map(|b| b.clone()).unwrap_or_default();
        let request: Vec<String> = std::env::args().collect();
        print!(
            "{}",
            xml_result(&request.join(" "), &body, result.as_ref().err())
        );
        return ExitCode::from(result.err().map_or(exit::OK, |f| f.code));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// `--output-as=xml`: the pieces of the result body, in order.
static XML: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

fn xml_push(fragment: String) {
    if let Some(Ok(mut b)) = XML.get().map(|m| m.lock()) {
        b.push(fragment);
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Pacemaker's `<pacemaker-result>` document (API version 2.25).
fn xml_result(request: &str, body: &[String], failure: Option<&Failure>) -> String {
    let mut out = format!(
        "<pacemaker-result api-version=\"2.25\" request=\"{}\">\n",
        esc(request)
    );
    for b in body {
        out.push_str(b);
    }
    match failure {
        None => out.push_str("  <status code=\"0\" message=\"OK\"/>\n"),
        Some(f) => {
            out.push_str(&format!(
                "  <status code=\"{}\" message=\"{}\">\n",
                f.code,
                clitools::exit::text(f.code)
            ));
            let lines: Vec<&str> = f.message.lines().filter(|l| !l.is_empty()).collect();
            if !lines.is_empty() {
                out.push_str("    <errors>\n");
                for l in lines {
                    out.push_str(&format!("      <error>{}</error>\n", esc(l)));
                }
                out.push_str("    </errors>\n");
            }
            out.push_str("  </status>\n");
        }
    }
    out.push_str("</pacemaker-result>\n");
    out
}

fn connect(timeout: Duration) -> Result<StonithClient, Failure> {
    let paths = plumbing::HaPaths::from_env();
    StonithClient::local(&paths, timeout).map_err(|_| {
        fail(
            exit::DISCONNECT,
            "Could not connect to fencer: Transport endpoint is not connected",
        )
    })
}

fn call(c: &mut StonithClient, r: &Request) -> Result<Response, Failure> {
    c.call(r).map_err(|e| match e {
        ipc::IpcError::Timeout => fail(exit::TIMEOUT, "Timer expired"),
        ipc::IpcError::Refused { .. } => fail(exit::INSUFFICIENT_PRIV, "Insufficient privileges"),
        other => fail(
            exit::DISCONNECT,
            format!("Transport endpoint is not connected: {other}"),
        ),
    })
}

fn params(args: &Args) -> Result<BTreeMap<String, String>, Failure> {
    let mut p = BTreeMap::new();
    for o in &args.option {
        let Some((k, v)) = o.split_once('=') else {
            return Err(fail(
                exit::USAGE,
                format!("stonith_admin: invalid option '{o}': expected NAME=VALUE"),
            ));
        };
        p.insert(k.to_string(), v.to_string());
    }
    for e in &args.env_option {
        if let Ok(v) = std::env::var(format!("OCF_RESKEY_{e}")) {
            p.insert(e.clone(), v);
        }
    }
    Ok(p)
}

/// A list as Pacemaker prints it: items then `N things found`; in XML a
/// `<list name=TITLE count=N>` of `<item name=ITEM>` (or elements given
/// ready-made with `raw`).
fn emit_list(items: &[String], singular: &str, plural: &str, title: &str, item: Option<&str>) {
    if XML.get().is_some() {
        let mut x = format!(
            "  <list name=\"{}\" count=\"{}\">\n",
            esc(&title.to_lowercase()),
            items.len()
        );
        for i in items {
            match item {
                Some(n) => x.push_str(&format!("    <item name=\"{n}\">{}</item>\n", esc(i))),
                None => x.push_str(&format!("    <item>{}</item>\n", esc(i))),
            }
        }
        x.push_str("  </list>\n");
        xml_push(x);
    } else {
        print_list(items, singular, plural);
    }
}

fn print_list(items: &[String], singular: &str, plural: &str) {
    for i in items {
        println!("{i}");
    }
    let n = items.len();
    println!("{n} {} found", if n == 1 { singular } else { plural });
}

fn unexpected(r: Response) -> Failure {
    match r {
        Response::Failed(f) => fail(code_u8(f.code), f.reason),
        other => fail(exit::ERROR, format!("unexpected answer: {other:?}")),
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    // Long enough for every level of an operation plus the cluster round
    // trips: the daemon always answers.
    let wait = timeout * 4 + Duration::from_secs(30);
    let (action, host) = if let Some(h) = &args.fence {
        (Some(FenceAction::Off), h)
    } else if let Some(h) = &args.reboot {
        (Some(FenceAction::Reboot), h)
    } else if let Some(h) = &args.unfence {
        (Some(FenceAction::On), h)
    } else {
        (None, &String::new())
    };
    if let Some(action) = action {
        let verb = if action == FenceAction::On {
            "unfence"
        } else {
            "fence"
        };
        let mut c = connect(timeout).map_err(|_| {
            fail(
                exit::DISCONNECT,
                format!(
                    "stonith_admin: Couldn't {verb} {host}: Transport endpoint is not connected"
                ),
            )
        })?;
        c.set_timeout(wait);
        let r = c
            .fence(
                host,
                action,
                timeout,
                Duration::from_secs(args.tolerance.unwrap_or(0)),
            )
            .map_err(|e| {
                fail(
                    exit::TIMEOUT,
                    format!("stonith_admin: Couldn't {verb} {host}: {e}"),
                )
            })?;
        return match r {
            Response::Fenced(res) if res.succeeded => Ok(()),
            Response::Fenced(res) => Err(fail(
                code_u8(res.exit_code),
                format!(
                    "stonith_admin: Couldn't {verb} {host}: {} ({})",
                    rc_words(res.exit_code),
                    res.reason
                ),
            )),
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!(
                    "stonith_admin: Couldn't {verb} {host}: {} ({})",
                    rc_words(f.code),
                    f.reason
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if let Some(host) = &args.confirm {
        let mut c = connect(timeout)?;
        return match call(
            &mut c,
            &Request::Confirm {
                target: host.clone(),
            },
        )? {
            Response::Fenced(r) if r.succeeded => Ok(()),
            Response::Fenced(r) => Err(fail(
                code_u8(r.exit_code),
                format!(
                    "stonith_admin: Couldn't confirm {host} safely fenced: {}",
                    r.reason
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if let Some(id) = &args.register {
        let Some(agent) = &args.agent else {
            return Err(fail(
                exit::USAGE,
                "stonith_admin: --register requires --agent",
            ));
        };
        let mut c = connect(timeout)?;
        let spec = DeviceSpec {
            id: id.clone(),
            agent: agent.clone(),
            params: params(args)?,
        };
        return match call(&mut c, &Request::Register(spec))? {
            Response::Done => Ok(()),
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!(
                    "stonith_admin: Can't register device {id} using agent {agent}: {} ({})",
                    rc_words(f.code),
                    f.reason
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if let Some(id) = &args.deregister {
        let mut c = connect(timeout)?;
        return match call(&mut c, &Request::Deregister { id: id.clone() })? {
            Response::Done => Ok(()),
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!(
                    "stonith_admin: Can't unregister device {id}: {}",
                    rc_words(f.code)
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if let Some(t) = args
        .register_level
        .as_ref()
        .or(args.deregister_level.as_ref())
    {
        let Some(index) = args.index else {
            return Err(fail(exit::USAGE, "stonith_admin: a level needs --index"));
        };
        let target = LevelTarget::parse(t);
        let mut c = connect(timeout)?;
        let req = if args.register_level.is_some() {
            let devices: Vec<String> = args
                .device
                .iter()
                .flat_map(|d| d.split(','))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect();
            Request::RegisterLevel(LevelSpec {
                target,
                index,
                devices,
            })
        } else {
            Request::DeregisterLevel { target, index }
        };
        return match call(&mut c, &req)? {
            Response::Done => Ok(()),
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!(
                    "stonith_admin: Can't {} fencing level {index} for {t}: {} ({})",
                    if args.register_level.is_some() {
                        "register"
                    } else {
                        "unregister"
                    },
                    rc_words(f.code),
                    f.reason
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if args.list_registered || args.list_installed || args.list.is_some() {
        let mut c = connect(timeout)?;
        c.set_timeout(wait);
        let req = if args.list_registered {
            Request::ListRegistered
        } else if args.list_installed {
            Request::ListInstalled
        } else {
            Request::ListCapable {
                target: args.list.clone().unwrap_or_default(),
            }
        };
        return match call(&mut c, &req)? {
            Response::Names(v) => {
                let title = if args.list_installed {
                    "Installed fence devices"
                } else {
                    "Registered fence devices"
                };
                emit_list(&v, "fence device", "fence devices", title, Some("device"));
                Ok(())
            }
            other => Err(unexpected(other)),
        };
    }
    if let Some(id) = &args.list_targets {
        let mut c = connect(timeout)?;
        c.set_timeout(wait);
        return match call(&mut c, &Request::DeviceTargets { id: id.clone() })? {
            Response::Names(v) => {
                emit_list(&v, "fence target", "fence targets", "Fence Targets", None);
                Ok(())
            }
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!("Couldn't list targets: {}", f.reason),
            )),
            other => Err(unexpected(other)),
        };
    }
    if args.metadata {
        let Some(agent) = &args.agent else {
            return Err(fail(
                exit::USAGE,
                "stonith_admin: --metadata requires --agent",
            ));
        };
        let mut c = connect(timeout)?;
        c.set_timeout(wait);
        return match call(
            &mut c,
            &Request::Metadata {
                agent: agent.clone(),
            },
        )? {
            Response::Metadata(m) => {
                print!("{}", m);
                if !m.ends_with('\n') {
                    println!();
                }
                Ok(())
            }
            Response::Failed(f) => Err(fail(
                code_u8(f.code),
                format!(
                    "stonith_admin: Can't get fence agent meta-data: {}",
                    f.reason
                ),
            )),
            other => Err(unexpected(other)),
        };
    }
    if let Some(id) = &args.query {
        let mut c = connect(timeout)?;
        c.set_timeout(wait);
        return match call(&mut c, &Request::Query { id: id.clone() })? {
            Response::Status(s) if s.ok => Ok(()),
            // Pacemaker prints nothing for -Q: the exit code tells.
            Response::Status(_) => Err(fail(exit::ERROR, "")),
            Response::Failed(f) => Err(fail(code_u8(f.code), "")),
            other => Err(unexpected(other)),
        };
    }
    if let Some(node) = &args.history {
        return history(args, node, timeout);
    }
    if let Some(node) = &args.last {
        if args.as_node_id {
            return Err(fail(
                exit::USAGE,
                "stonith_admin: --as-node-id is not supported (nodes are known by name)",
            ));
        }
        let mut c = connect(timeout)?;
        return match call(
            &mut c,
            &Request::History {
                target: Some(node.clone()),
            },
        )? {
            Response::History { completed, .. } => {
                match completed
                    .iter()
                    .filter(|r| r.succeeded)
                    .max_by_key(|r| r.completed)
                {
                    Some(r) if XML.get().is_some() => xml_push(format!(
                        "  <last-fenced target=\"{}\" when=\"{}\"/>\n",
                        esc(node),
                        esc(&time_text(r.completed))
                    )),
                    Some(r) => println!("Node {node} last fenced at: {}", ctime(r.completed)),
                    None if XML.get().is_some() => {}
                    None => println!("Node {node} has never been fenced"),
                }
                Ok(())
            }
            other => Err(unexpected(other)),
        };
    }
    if args.validate {
        return validate(args);
    }
    Err(fail(
        exit::USAGE,
        "stonith_admin: Please specify a command (see --help)",
    ))
}

fn history(args: &Args, node: &str, timeout: Duration) -> Result<(), Failure> {
    let target = (node != "*").then(|| node.to_string());
    let mut c = connect(timeout)?;
    if args.cleanup {
        if !args.quiet {
            eprintln!(
                "cleaning up fencing-history{}",
                target
                    .as_ref()
                    .map(|t| format!(" for node {t}"))
                    .unwrap_or_default()
            );
        }
        return match call(&mut c, &Request::CleanupHistory { target })? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        };
    }
    let (completed, pending) = match call(&mut c, &Request::History { target })? {
        Response::History { completed, pending } => (completed, pending),
        other => return Err(unexpected(other)),
    };
    // Pacemaker's order: pending first, then newest first.
    // History is in completion order: reversed, then a stable sort keeps
    // the later of two completed in the same second first.
    let mut done: Vec<FenceResult> = completed.iter().rev().cloned().collect();
    done.sort_by_key(|r| std::cmp::Reverse(r.completed));
    let latest = done.iter().find(|r| r.succeeded);
    if args.quiet {
        if let Some(r) = latest {
            println!("{}", r.completed);
        }
        return Ok(());
    }
    if XML.get().is_some() {
        let mut events: Vec<String> = Vec::new();
        if args.verbose > 0 {
            for p in &pending {
                events.push(format!(
                    "    <fence_event action=\"{}\" target=\"{}\" client=\"{}\" origin=\"{}\" status=\"pending\" extended-status=\"1\"/>\n",
                    p.action,
                    esc(&p.target),
                    esc(&p.client),
                    esc(&p.origin)
                ));
            }
            events.extend(done.iter().map(event_xml));
        } else if let Some(r) = latest {
            events.push(event_xml(r));
        }
        xml_push(format!(
            "  <list name=\"fencing history\" count=\"{}\">\n{}  </list>\n",
            events.len(),
            events.concat()
        ));
        return Ok(());
    }
    let mut lines = Vec::new();
    if args.verbose > 0 {
        for p in &pending {
            lines.push(pending_line(p));
        }
        for r in &done {
            let later = later_success(r, &done);
            lines.push(event_line(r, true, later.as_deref()));
        }
    } else if let Some(r) = latest {
        lines.push(event_line(r, false, None));
    }
    print_list(&lines, "event", "events");
    Ok(())
}

/// A completed event as Pacemaker's `<fence_event>`.
fn event_xml(r: &FenceResult) -> String {
    let status = if r.succeeded {
        "status=\"success\"".to_string()
    } else {
        format!("status=\"failed\" exit-reason=\"{}\"", esc(&r.reason))
    };
    let delegate = if r.executioner.is_empty() {
        String::new()
    } else {
        format!(" delegate=\"{}\"", esc(&r.executioner))
    };
    format!(
        "    <fence_event action=\"{}\" target=\"{}\" client=\"{}\" origin=\"{}\" {status}{delegate} completed=\"{}\"/>\n",
        r.action,
        esc(&r.target),
        esc(&r.client),
        esc(&r.origin),
        esc(&time_text(r.completed))
    )
}

fn later_success(r: &FenceResult, all: &[FenceResult]) -> Option<String> {
    if r.succeeded {
        return None;
    }
    all.iter()
        .find(|o| {
            o.succeeded
                && o.target == r.target
                && o.action == r.action
                && o.completed >= r.completed
                && o.id != r.id
        })
        .map(|o| o.origin.clone())
}

fn action_words(a: FenceAction) -> &'static str {
    match a {
        FenceAction::On => "unfencing",
        FenceAction::Off => "turning off",
        FenceAction::Reboot => "reboot",
    }
}

fn pending_line(p: &PendingFence) -> String {
    format!(
        "{} of {} pending: client={}, origin={}",
        action_words(p.action),
        p.target,
        p.client,
        p.origin
    )
}

fn event_line(r: &FenceResult, full: bool, later: Option<&str>) -> String {
    let mut s = format!(
        "{} of {} {}",
        action_words(r.action),
        r.target,
        if r.succeeded { "successful" } else { "failed" }
    );
    if !r.succeeded && !r.reason.is_empty() {
        s.push_str(&format!(" ({})", r.reason));
    }
    s.push_str(": ");
    if !r.executioner.is_empty() {
        s.push_str(&format!("delegate={}, ", r.executioner));
    }
    s.push_str(&format!("client={}, origin={}", r.client, r.origin));
    let label = if full {
        "completed"
    } else if r.succeeded {
        "last-successful"
    } else {
        "last-failed"
    };
    s.push_str(&format!(", {label}='{}'", time_text(r.completed)));
    if let Some(l) = later {
        s.push_str(&format!(" (a later attempt from {l} succeeded)"));
    }
    s
}

fn local_tm(secs: u64) -> libc::tm {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r fills the zeroed tm we own.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

/// Pacemaker's history time: `YYYY-MM-DD HH:MM:SS` and ` +HH:MM` unless
/// local time is UTC.
fn time_text(secs: u64) -> String {
    let tm = local_tm(secs);
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    );
    let off = tm.tm_gmtoff;
    if off != 0 {
        let a = off.abs();
        s.push_str(&format!(
            " {}{:02}:{:02}",
            if off < 0 { '-' } else { '+' },
            a / 3600,
            (a % 3600) / 60
        ));
    }
    s
}

/// ctime(3)'s format without the newline.
fn ctime(secs: u64) -> String {
    let tm = local_tm(secs);
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[(tm.tm_wday.clamp(0, 6)) as usize],
        MONTHS[(tm.tm_mon.clamp(0, 11)) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}

/// `-K`: the agent's own validation (`validate-all`, with `port=node1` as
/// Pacemaker adds), run here; external and native plugins are checked
/// for the parameters their `getconfignames` lists.
fn validate(args: &Args) -> Result<(), Failure> {
    use fencing::exec::{self, AgentDirs, Call};
    let Some(agent) = &args.agent else {
        return Err(fail(
            exit::USAGE,
            "stonith_admin: --validate requires --agent",
        ));
    };
    let dirs = AgentDirs::from_env();
    let failed = |code: u8, why: String| {
        println!("Validation of {agent} failed");
        if !args.quiet && !why.is_empty() {
            println!("{why}");
        }
        Err(fail(code, ""))
    };
    let spec = DeviceSpec {
        id: args
            .device
            .first()
            .cloned()
            .unwrap_or_else(|| "stonith_admin".into()),
        agent: agent.clone(),
        params: params(args)?,
    };
    let device = match fencing::Device::new(&spec) {
        Ok(d) => d,
        Err(e @ fencing::DeviceError::UnknownAgent(_)) => {
            return failed(exit::NOSUCH, e.to_string())
        }
        Err(e) => return failed(exit::INVALID_PARAM, e.to_string()),
    };
    if dirs.program(&device.kind).is_some_and(|p| !p.is_file()) {
        return failed(exit::NOSUCH, format!("Agent {agent} not found"));
    }
    let info = match exec::agent_info(&dirs, &device.kind) {
        Ok(i) => i,
        Err(e) => return failed(exit::NOSUCH, e),
    };
    if let fencing::AgentKind::FenceAgent(_) = device.kind {
        let r = exec::execute(
            &dirs,
            &device,
            &info,
            &Call {
                action: "validate-all",
                target: Some("node1"),
                nodeid: None,
                local: "",
                timeout: Duration::from_secs(args.timeout.max(1)),
            },
        );
        if r.rc == 0 && !r.timed_out {
            println!("Validation of {agent} succeeded");
            if !args.quiet {
                println!("{}", r.output);
            }
            return Ok(());
        }
        let why = if r.output.trim().is_empty() {
            r.reason
        } else {
            r.output
        };
        return failed(exit::ERROR, why);
    }
    let names = exec::config_names(&dirs, &device.kind).unwrap_or_default();
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !device.params.contains_key(*n))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        println!("Validation of {agent} succeeded");
        Ok(())
    } else {
        failed(
            exit::INVALID_PARAM,
            format!("missing parameter(s): {}", missing.join(", ")),
        )
    }
}

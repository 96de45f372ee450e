//! crm_resource: the resource commands administrators and crmsh use most,
//! with Pacemaker 2.1.5's options, output and exit codes:
//!
//! - `--list`/`-L`: the resource list (crm_mon's, without locations);
//! - `--locate`/`-W`: where a resource runs;
//! - `--query-xml`/`-q`: its status line and its XML;
//! - `--move`/`-M`, `--ban`/`-B`, `--clear`/`-U`: the `cli-prefer-<rsc>`
//!   and `cli-ban-<rsc>-on-<node>` location constraints, with
//!   `--lifetime` (a date rule) and `--force`;
//! - `--get-parameter`/`-g`, `--set-parameter`/`-p`,
//!   `--delete-parameter`/`-d`, with `--meta` for meta attributes.
//!
//! The state comes from `pengine::unpack_cib` over the CIB `clitools`
//! opened (`CIB_file` or the cib daemon); changes are `cib_xml::ops`
//! requests applied all or nothing, and audited with an `Invoked:` line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::{to_pcmk_pretty, COMMENT};
use cib_xml::ops::{Op, Request};
use cib_xml::time::DateTime;
use cib_xml::Element;
use clap::{ArgAction, Parser};
use clitools::{exit, CibSession, ToolError};
use crm_resource::agents;
use pengine::model::{RscId, Variant};
use pengine::output::TextOut;
use pengine::WorkingSet;

#[derive(Parser, Debug)]
#[command(
    name = "crm_resource",
    about = "Lists, locates, moves, bans and clears cluster resources and changes their parameters.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// List all resources
    #[arg(short = 'L', long = "list")]
    list: bool,
    /// Show the nodes the resource runs on
    #[arg(short = 'W', long = "locate")]
    locate: bool,
    /// List the ids of all primitives (clone instances by instance id)
    #[arg(short = 'l', long = "list-raw")]
    list_raw: bool,
    /// Show the resource's status line and configuration XML
    #[arg(short = 'q', long = "query-xml")]
    query_xml: bool,
    /// Move the resource to --node (or away from where it runs)
    #[arg(short = 'M', long = "move")]
    move_: bool,
    /// Keep the resource off --node (or off where it runs)
    #[arg(short = 'B', long = "ban")]
    ban: bool,
    /// Remove the constraints --move and --ban created (--un-move is the old spelling)
    #[arg(short = 'U', long = "clear", alias = "un-move")]
    clear: bool,
    /// Delete the resource's configuration element (needs --resource-type)
    #[arg(short = 'D', long = "delete")]
    delete: bool,
    /// The element name of the resource for --delete (primitive, group, clone, ...)
    #[arg(short = 't', long = "resource-type", value_name = "ELEMENT")]
    resource_type: Option<String>,
    /// Print a parameter's value
    #[arg(short = 'g', long = "get-parameter", value_name = "NAME")]
    get_parameter: Option<String>,
    /// Set a parameter to --parameter-value
    #[arg(short = 'p', long = "set-parameter", value_name = "NAME")]
    set_parameter: Option<String>,
    /// Delete a parameter
    #[arg(short = 'd', long = "delete-parameter", value_name = "NAME")]
    delete_parameter: Option<String>,
    /// The value for --set-parameter
    #[arg(short = 'v', long = "parameter-value", value_name = "VALUE")]
    value: Option<String>,
    /// Work on meta attributes instead of instance attributes
    #[arg(short = 'm', long = "meta")]
    meta: bool,
    /// The resource
    #[arg(short = 'r', long = "resource", value_name = "ID")]
    resource: Option<String>,
    /// The node
    #[arg(short = 'N', long = "node", value_name = "NAME")]
    node: Option<String>,
    /// How long a --move or --ban lasts (ISO 8601 duration)
    #[arg(short = 'u', long = "lifetime", value_name = "DURATION")]
    lifetime: Option<String>,
    /// Go ahead even when the resource already runs on the target
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Forget the resource's failures (fail counts, failed operations' history) so it is probed again
    #[arg(short = 'C', long = "cleanup")]
    cleanup: bool,
    /// Forget the resource's whole operation history (and fail counts) so it is probed again
    #[arg(short = 'R', long = "refresh")]
    refresh: bool,
    /// With --cleanup: only this operation's failures
    #[arg(short = 'n', long = "operation", value_name = "NAME")]
    operation: Option<String>,
    /// With --operation: its interval (default 0)
    #[arg(short = 'I', long = "interval", value_name = "INTERVAL")]
    interval: Option<String>,
    /// Show why the resource is or is not running (on --node)
    #[arg(short = 'Y', long = "why")]
    why: bool,
    /// Show the location and colocation constraints that apply to the resource
    #[arg(short = 'a', long = "constraints")]
    constraints: bool,
    /// Print less
    #[arg(short = 'Q', long = "quiet")]
    quiet: bool,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// List the supported standards
    #[arg(long = "list-standards")]
    list_standards: bool,
    /// List all available OCF providers
    #[arg(long = "list-ocf-providers")]
    list_ocf_providers: bool,
    /// List the OCF providers having an agent of this type
    #[arg(long = "list-ocf-alternatives", value_name = "AGENT")]
    list_ocf_alternatives: Option<String>,
    /// List the agents of a standard (or ocf:PROVIDER)
    #[arg(long = "list-agents", value_name = "STD:PROV")]
    list_agents: Option<String>,
    /// Show an agent's metadata (STD:[PROV:]TYPE)
    #[arg(long = "show-metadata", value_name = "SPEC")]
    show_metadata: Option<String>,
    /// Run the resource's start action on this node, bypassing the cluster
    #[arg(long = "force-start")]
    force_start: bool,
    /// Run the resource's stop action on this node, bypassing the cluster
    #[arg(long = "force-stop")]
    force_stop: bool,
    /// Run the resource's monitor action on this node, bypassing the cluster
    #[arg(long = "force-check")]
    force_check: bool,
    /// Run the resource's validate-all action on this node
    #[arg(long = "validate")]
    validate: bool,
    /// Timeout of a --force-* or --validate action (milliseconds or with a unit)
    #[arg(long = "timeout", value_name = "TIMEOUT")]
    timeout: Option<String>,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(result) = agent_query(&args) {
        return match result {
            Ok(text) => {
                out(&text);
                ExitCode::from(exit::OK)
            }
            Err(e) => {
                eprintln!("crm_resource: {}", e.message);
                let reason = match e.code {
                    exit::NOSUCH => "No such object",
                    _ => "Error occurred",
                };
                eprintln!("Error performing operation: {reason}");
                ExitCode::from(e.code)
            }
        };
    }
    match run(&args) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("crm_resource: {}", e.message);
            }
            // An agent's failure already says so on its one line.
            let said = e.message.starts_with("Error performing operation:");
            if let Some(reason) = reason_text(e.code).filter(|_| !said) {
                eprintln!("Error performing operation: {reason}");
            }
            ExitCode::from(e.code)
        }
    }
}

/// The agent queries, which need no CIB and no daemon; `None` when no
/// such option was given.
fn agent_query(args: &Args) -> Option<Result<String, agents::QueryError>> {
    let roots = || lrmapi::agents::Roots::from_env(&plumbing::HaPaths::from_env());
    let lines = |v: Vec<String>| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    if args.list_standards {
        return Some(Ok(lines(
            agents::STANDARDS.iter().map(|s| s.to_string()).collect(),
        )));
    }
    if args.list_ocf_providers {
        return Some(agents::ocf_providers(&roots()).map(lines));
    }
    if let Some(t) = &args.list_ocf_alternatives {
        return Some(agents::ocf_alternatives(&roots(), t).map(lines));
    }
    if let Some(spec) = &args.list_agents {
        let fence = fencing::exec::AgentDirs::from_env();
        return Some(agents::agents(&roots(), &fence, spec).map(lines));
    }
    let spec = args.show_metadata.as_deref()?;
    Some(show_metadata(&roots(), spec))
}

/// `--show-metadata`: runs the agent's meta-data action (ocf) or asks the
/// fence agent or plugin (stonith), as Pacemaker's executor library does
/// in-process.
fn show_metadata(roots: &lrmapi::agents::Roots, spec: &str) -> Result<String, agents::QueryError> {
    let nosuch = |message: String| agents::QueryError {
        message,
        code: exit::NOSUCH,
    };
    let parsed = agents::parse_spec(spec)
        .ok_or_else(|| nosuch(format!("'{spec}' is not a valid agent specification")))?;
    let failed = || {
        nosuch(format!(
            "Metadata query for {spec} failed: No such device or address"
        ))
    };
    let metadata = match parsed.standard.to_ascii_lowercase().as_str() {
        "ocf" => {
            let provider = parsed.provider.as_deref().unwrap_or("heartbeat");
            let inv = agents::ocf_metadata_invocation(roots, provider, &parsed.rtype)
                .ok_or_else(failed)?;
            if !inv.program.is_file() {
                return Err(failed());
            }
            let done = fencing::exec::run(&inv, Duration::from_secs(30)).map_err(|_| failed())?;
            match done.exit {
                fencing::exec::Exit::Code(0) if !done.stdout.is_empty() => done.stdout,
                _ => return Err(failed()),
            }
        }
        "stonith" => {
            let dirs = fencing::exec::AgentDirs::from_env();
            let mut md = fencing::exec::metadata(&dirs, &parsed.rtype).map_err(|_| failed())?;
            if !md.ends_with('\n') {
                md.push('\n');
            }
            md
        }
        _ => return Err(failed()),
    };
    Ok(metadata)
}

/// Which `--force-*`/`--validate` option was given.
fn forced_option(args: &Args) -> Option<&'static str> {
    [
        (args.force_start, "force-start"),
        (args.force_stop, "force-stop"),
        (args.force_check, "force-check"),
        (args.validate, "validate"),
    ]
    .into_iter()
    .find(|(on, _)| *on)
    .map(|(_, name)| name)
}

/// `--force-start` and friends: runs the resource's agent on this node
/// with its instance attributes, directly as Pacemaker's crm_resource
/// does (no executor), and exits with the agent's OCF code.
fn execute(
    args: &Args,
    ws: &WorkingSet,
    r: RscId,
    rsc_id: &str,
    option: &str,
) -> Result<(), ToolError> {
    let mut prim = r;
    if ws.resources[prim].variant == Variant::Clone {
        if option == "force-start" && !args.force && !running_nodes(ws, prim).is_empty() {
            return Err(ToolError::new(
                exit::UNSAFE,
                format!(
                    "It is not safe to {option} {rsc_id} here: the cluster claims it is already active\nTry setting target-role=Stopped first or specifying the force option"
                ),
            ));
        }
        if let Some(&first) = ws.resources[prim].children.first() {
            prim = first;
        }
    }
    let rsc = &ws.resources[prim];
    if rsc.variant != Variant::Primitive {
        return Err(ToolError::new(
            3,
            format!("Sorry, the {option} option doesn't support group resources"),
        ));
    }
    let action = agents::forced_action(option);
    let class = rsc.class.clone().unwrap_or_default();
    let provider = rsc.provider.clone().unwrap_or_default();
    let rtype = rsc.agent.clone().unwrap_or_default();
    let spec = if class == "ocf" {
        format!("{class}:{provider}:{rtype}")
    } else {
        format!("{class}:{rtype}")
    };
    let timeout_ms = match &args.timeout {
        Some(t) => cib_xml::rules::parse_interval_ms(t)
            .filter(|&ms| ms > 0)
            .ok_or_else(|| ToolError::new(exit::INVALID_PARAM, format!("Invalid timeout: {t}")))?,
        None => rsc
            .ops
            .iter()
            .find(|o| o.name == action && o.interval_ms == 0)
            .or_else(|| rsc.ops.iter().find(|o| o.name == action))
            .and_then(|o| o.xml.attr("timeout"))
            .and_then(cib_xml::rules::parse_interval_ms)
            .unwrap_or(20_000),
    };
    if class != "ocf" {
        return Err(ToolError::new(
            3,
            format!("Manual execution of the {class} standard is unsupported"),
        ));
    }
    let roots = lrmapi::agents::Roots::from_env(&plumbing::HaPaths::from_env());
    let shown_id = rsc.xml.attr("id").unwrap_or(rsc_id);
    let rc = match agents::ocf_action_invocation(
        &roots,
        shown_id,
        &provider,
        &rtype,
        action,
        &rsc.params,
        timeout_ms,
    ) {
        Some(inv) if inv.program.is_file() => {
            match fencing::exec::run(&inv, Duration::from_millis(timeout_ms)) {
                Ok(done) => {
                    let rc = match done.exit {
                        fencing::exec::Exit::Code(c) => c,
                        _ => 1,
                    };
                    let reason = agents::exit_reason(&done.stderr)
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default();
                    println!(
                        "Operation {option} for {rsc_id} ({spec}) returned {rc} ({}{reason})",
                        pengine::status::ocf_exitcode_str(rc)
                    );
                    // The agent's output as Pacemaker's text output gives a
                    // subprocess's: each stream followed by a newline.
                    for stream in [&done.stdout, &done.stderr] {
                        if !stream.is_empty() {
                            out(&format!("{stream}\n"));
                        }
                    }
                    if matches!(done.exit, fencing::exec::Exit::TimedOut) {
                        return Err(ToolError::new(
                            exit::TIMEOUT,
                            format!("{option} of {rsc_id} timed out after {timeout_ms}ms"),
                        ));
                    }
                    rc
                }
                Err(e) => {
                    println!("Operation {option} for {rsc_id} ({spec}) returned 1 (error)");
                    eprintln!("crm_resource: {}: {e}", inv.program.display());
                    1
                }
            }
        }
        _ => {
            println!("Operation {option} for {rsc_id} ({spec}) returned 5 (not installed)");
            5
        }
    };
    if rc == 0 {
        return Ok(());
    }
    let code = u8::try_from(rc).unwrap_or(exit::ERROR);
    Err(ToolError::new(
        code,
        format!("Error performing operation: {}", exit::text(code)),
    ))
}

/// The second line Pacemaker prints for a failed command.
fn reason_text(code: u8) -> Option<&'static str> {
    match code {
        exit::NOSUCH => Some("No such object"),
        exit::INVALID_PARAM => Some("Invalid parameter"),
        _ => None,
    }
}

fn out(text: &str) {
    // EPIPE is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn now() -> DateTime {
    clitools::now()
}

fn run(args: &Args) -> Result<(), ToolError> {
    let changes = args.move_
        || args.ban
        || args.clear
        || args.set_parameter.is_some()
        || args.delete_parameter.is_some()
        || args.cleanup
        || args.refresh
        || args.delete;
    if changes {
        clitools::audit("crm_resource");
    }
    let needs_rsc = (changes && !args.cleanup && !args.refresh)
        || args.constraints
        || args.locate
        || args.query_xml
        || args.get_parameter.is_some();
    if needs_rsc && args.resource.is_none() {
        return Err(ToolError::new(
            exit::USAGE,
            "Must supply a resource id with -r",
        ));
    }
    let mut session = CibSession::open(Duration::from_secs(30))?;
    let now = now();
    // Never dropped: freeing a large CIB piece by piece costs more than
    // the rest of the call, and the process ends after it.
    let mut ws = std::mem::ManuallyDrop::new(
        pengine::unpack_cib(session.cib_rc(), now, &pengine::Options::default())
            .map_err(|e| ToolError::new(exit::CONFIG, e.0))?,
    );
    if args.cleanup || args.refresh || args.why {
        return status_command(args, &ws, &mut session);
    }
    if args.list_raw {
        return list_raw(&ws);
    }
    let Some(rsc_id) = args.resource.as_deref() else {
        // --list is the default command.
        list(&mut ws);
        return Ok(());
    };
    // A group or primitive configured inside a clone is known by its
    // configured id too (its instances are `id:N`).
    let configured_here = ws
        .resources
        .iter()
        .any(|r| r.xml.attr("id") == Some(rsc_id));
    if args.delete && (configured_here || find_resource(&ws, rsc_id).is_some()) {
        return delete_resource(args, rsc_id, &mut session);
    }
    let Some(r) = find_resource(&ws, rsc_id) else {
        return Err(ToolError::new(
            exit::NOSUCH,
            format!("Resource '{rsc_id}' not found"),
        ));
    };
    if args.move_ || args.ban || args.clear {
        return constraints_command(args, &ws, r, &mut session, now);
    }
    if let Some(option) = forced_option(args) {
        return execute(args, &ws, r, rsc_id, option);
    }
    if let Some(name) = &args.set_parameter {
        let Some(value) = &args.value else {
            return Err(ToolError::new(
                exit::USAGE,
                "You need to supply a value with the -v option",
            ));
        };
        return set_parameter(args, &ws, r, name, value, &mut session);
    }
    if let Some(name) = &args.delete_parameter {
        return delete_parameter(args, &ws, r, name, &mut session);
    }
    if let Some(name) = &args.get_parameter {
        return get_parameter(args, &ws, r, name);
    }
    if args.constraints {
        // Constraints are unpacked by the scheduler's constraint phase.
        let planned = pengine::schedule(session.cib_rc(), now, &pengine::Options::default())
            .map_err(|e| ToolError::new(exit::CONFIG, e.0))?;
        let r = find_resource(&planned, rsc_id).unwrap_or(r);
        out(&constraints_text(&planned, r));
        return Ok(());
    }
    if args.locate {
        locate(&ws, r, rsc_id);
        return Ok(());
    }
    if args.query_xml {
        let mut text = String::new();
        for line in query_lines(&mut ws, r) {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("Resource XML:\n");
        text.push_str(&to_pcmk_pretty(&ws.resources[r].xml));
        out(&text);
        return Ok(());
    }
    list(&mut ws);
    Ok(())
}

/// `--list-raw`: the id of every primitive, clone instances by their
/// instance ids, in configuration order (orphans included), as
/// Pacemaker lists them; no resources at all is "not configured".
fn list_raw(ws: &WorkingSet) -> Result<(), ToolError> {
    if ws.top.is_empty() {
        return Err(ToolError::new(exit::NOSUCH, "NO resources configured"));
    }
    let mut text = String::new();
    for &top in &ws.top {
        for leaf in crm_resource::leaves(ws, top) {
            text.push_str(&ws.resources[leaf].id);
            text.push('\n');
        }
    }
    out(&text);
    Ok(())
}

/// Whether `name` can be an element name (so it is safe inside an XPath).
fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `--delete`: removes the `<TYPE id="RSC">` element from the resources
/// section. As in Pacemaker the type is required and is taken as given:
/// no such element is success with nothing changed, and a result that no
/// longer validates (a constraint still names the resource, an emptied
/// clone) is refused with 78 and the CIB left as it was.
fn delete_resource(args: &Args, rsc_id: &str, session: &mut CibSession) -> Result<(), ToolError> {
    let Some(kind) = args.resource_type.as_deref() else {
        return Err(ToolError::new(
            exit::NOSUCH,
            "You need to specify a resource type with -t",
        ));
    };
    if !is_element_name(kind) {
        return Err(ToolError::new(
            exit::INVALID_PARAM,
            format!("Invalid resource type: {kind}"),
        ));
    }
    if rsc_id.contains('\'') {
        // Not a valid XML ID; no configured element can have it.
        return Ok(());
    }
    let xpath = format!("/cib/configuration/resources//{kind}[@id='{rsc_id}']");
    if let Some(target) = find_element(session.cib(), kind, rsc_id) {
        let mut ids = Vec::new();
        element_ids(target, &mut ids);
        if let Some((by, id)) = session
            .cib()
            .children
            .iter()
            .filter(|c| c.name == "configuration")
            .find_map(|conf| reference_to(conf, &ids))
        {
            // Pacemaker's schema types these as IDREFs, so its CIB
            // refuses the result; say which reference is in the way.
            return Err(ToolError::new(
                exit::CONFIG,
                format!(
                    "Error performing operation: Invalid configuration ({by} still refers to {id})"
                ),
            ));
        }
    }
    let mut req = Request::new(Op::Delete);
    req.xpath = Some(&xpath);
    session.apply(&[req])
}

/// The first `<kind id=id>` under the resources section.
fn find_element<'a>(cib: &'a Element, kind: &str, id: &str) -> Option<&'a Element> {
    fn walk<'a>(e: &'a Element, kind: &str, id: &str) -> Option<&'a Element> {
        e.children.iter().find_map(|c| {
            if c.name == kind && c.attr("id") == Some(id) {
                Some(c)
            } else {
                walk(c, kind, id)
            }
        })
    }
    let resources = cib
        .children
        .iter()
        .filter(|c| c.name == "configuration")
        .flat_map(|c| c.children.iter())
        .find(|c| c.name == "resources")?;
    walk(resources, kind, id)
}

/// The ids of `e` and of everything inside it.
fn element_ids(e: &Element, acc: &mut Vec<String>) {
    if let Some(id) = e.attr("id") {
        acc.push(id.to_string());
    }
    for c in &e.children {
        element_ids(c, acc);
    }
}

/// The first reference (the referring element's id, the id referred to)
/// in `e` to one of `ids`: a constraint's resources, a resource set's or
/// a tag's members.
fn reference_to(e: &Element, ids: &[String]) -> Option<(String, String)> {
    let attrs: &[&str] = match e.name.as_str() {
        "rsc_location" | "rsc_colocation" | "rsc_order" | "rsc_ticket" => {
            &["rsc", "with-rsc", "first", "then"]
        }
        "resource_ref" | "obj_ref" => &["id"],
        _ => &[],
    };
    for a in attrs {
        if let Some(v) = e.attr(a) {
            if ids.iter().any(|i| i == v) {
                let by = if e.name == "resource_ref" || e.name == "obj_ref" {
                    e.name.clone()
                } else {
                    e.attr("id").unwrap_or(&e.name).to_string()
                };
                return Some((by, v.to_string()));
            }
        }
    }
    e.children.iter().find_map(|c| reference_to(c, ids))
}

/// `--cleanup`, `--refresh` and `--why`: Pacemaker finds a primitive
/// configured in a clone as its first instance for these.
fn status_command(args: &Args, ws: &WorkingSet, session: &mut CibSession) -> Result<(), ToolError> {
    let rsc = match args.resource.as_deref() {
        Some(id) => match crm_resource::find_instance(ws, id) {
            Some(r) => Some(r),
            None => {
                return Err(ToolError::new(
                    exit::NOSUCH,
                    format!("Resource '{id}' not found"),
                ))
            }
        },
        None => None,
    };
    if args.why {
        let node = match args.node.as_deref() {
            Some(name) => match ws.nodes.iter().position(|n| n.uname == name) {
                Some(n) => Some(n),
                None => {
                    return Err(ToolError::new(
                        exit::NOSUCH,
                        format!("Node '{name}' not found"),
                    ))
                }
            },
            None => None,
        };
        let mut text = String::new();
        for line in crm_resource::why::reasons(ws, rsc, node) {
            text.push_str(&line);
            text.push('\n');
        }
        out(&text);
        return Ok(());
    }
    let op = match &args.operation {
        Some(task) => {
            let spec = args.interval.as_deref().unwrap_or("0");
            let Some(interval_ms) = cib_xml::rules::parse_interval_ms(spec) else {
                return Err(ToolError::new(
                    exit::INVALID_PARAM,
                    format!("Invalid interval specification: {spec}"),
                ));
            };
            Some(crm_resource::cleanup::OpFilter {
                task: task.clone(),
                interval_ms,
            })
        }
        None => None,
    };
    let just_failures = args.cleanup;
    let plan = match rsc {
        Some(r) => {
            let r = if args.force {
                r
            } else {
                crm_resource::top_parent(ws, r)
            };
            crm_resource::cleanup::plan_resource(
                ws,
                r,
                args.node.as_deref(),
                op.as_ref(),
                just_failures,
                args.force,
            )?
        }
        None => {
            crm_resource::cleanup::plan_all(ws, args.node.as_deref(), op.as_ref(), just_failures)?
        }
    };
    crm_resource::cleanup::apply(&plan, session)?;
    let mut text = String::new();
    if !args.quiet {
        for line in &plan.lines {
            text.push_str(line);
            text.push('\n');
        }
        if let Some(r) = rsc {
            let r = if args.force {
                r
            } else {
                crm_resource::top_parent(ws, r)
            };
            for line in crm_resource::why::checks(ws, r) {
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    out(&text);
    Ok(())
}

/// The resource called `id`: a configured resource or a clone instance.
fn find_resource(ws: &WorkingSet, id: &str) -> Option<RscId> {
    if let Some(r) = ws.resources.iter().position(|r| r.id == id) {
        return Some(r);
    }
    if let Some(r) = ws
        .resources
        .iter()
        .position(|r| r.clone_name.as_deref() == Some(id))
    {
        return Some(r);
    }
    // A primitive configured inside a clone is known by its instances
    // (`rsc:0`); its configured id stands for the clone.
    let instance = ws
        .resources
        .iter()
        .position(|r| r.variant == Variant::Primitive && r.xml.attr("id") == Some(id))?;
    let mut top = instance;
    while let Some(p) = ws.resources[top].parent {
        top = p;
        if ws.resources[p].variant == Variant::Clone {
            break;
        }
    }
    Some(top)
}

/// Whether the resource is an instance inside a clone.
fn is_clone_instance(ws: &WorkingSet, r: RscId) -> bool {
    let mut p = ws.resources[r].parent;
    while let Some(q) = p {
        if ws.resources[q].variant == Variant::Clone {
            return true;
        }
        p = ws.resources[q].parent;
    }
    false
}

/// Every primitive in the resource's tree.
fn primitives(ws: &WorkingSet, r: RscId, acc: &mut Vec<RscId>) {
    let rsc = &ws.resources[r];
    if rsc.variant == Variant::Primitive {
        acc.push(r);
    }
    for &c in &rsc.children {
        primitives(ws, c, acc);
    }
}

/// The names of the nodes the resource runs on, one per running instance.
fn running_nodes(ws: &WorkingSet, r: RscId) -> Vec<String> {
    let mut prims = Vec::new();
    primitives(ws, r, &mut prims);
    let mut nodes: Vec<String> = prims
        .iter()
        .flat_map(|&p| ws.resources[p].running_on.iter())
        .map(|&n| ws.nodes[n].uname.clone())
        .collect();
    nodes.sort_by(|a, b| pengine::util::natural_cmp(a, b));
    nodes
}

fn locate(ws: &WorkingSet, r: RscId, name: &str) {
    let nodes = running_nodes(ws, r);
    if nodes.is_empty() {
        eprintln!("resource {name} is NOT running");
        return;
    }
    let mut text = String::new();
    for n in nodes {
        text.push_str(&format!("resource {name} is running on: {n}\n"));
    }
    out(&text);
}

/// The resource lines of the status display for the given top-level
/// resources, one level up (no section title).
fn resource_lines(ws: &mut WorkingSet, tops: &[RscId], with_nodes: bool) -> Vec<String> {
    let saved = std::mem::replace(&mut ws.top, tops.to_vec());
    let opts = pengine::status::StatusOptions {
        show_pending: true,
        attributes: false,
        failcounts: false,
        hide_inactive: false,
    };
    let mut o = TextOut::new();
    pengine::status::cluster_status(ws, "", &opts, &mut o);
    ws.top = saved;
    let unames: Vec<&str> = ws.nodes.iter().map(|n| n.uname.as_str()).collect();
    let mut lines = Vec::new();
    let mut inside = false;
    for line in o.render(true) {
        if line == "  * Full List of Resources:" {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if line.is_empty() || !line.starts_with("    ") {
            break;
        }
        let line = line[2..].to_string();
        lines.push(if with_nodes {
            line
        } else {
            drop_location(&line, &unames)
        });
    }
    lines
}

/// A primitive's status line without the node it runs on (crm_resource
/// --list shows roles only).
fn drop_location(line: &str, unames: &[&str]) -> String {
    let Some((head, state)) = line.split_once("\t ") else {
        return line.to_string();
    };
    let mut words: Vec<&str> = state.split(' ').collect();
    let at = if words.first() == Some(&"ORPHANED") {
        2
    } else {
        1
    };
    if words.len() > at && words[at] == "[" {
        // Active on several nodes: `[ n1 n2 ]`.
        if let Some(end) = words[at..].iter().position(|w| *w == "]") {
            words.drain(at..=at + end);
        }
    } else if words.len() > at && unames.contains(&words[at]) {
        words.remove(at);
    } else {
        return line.to_string();
    }
    // What is said about the node goes with it.
    if words.get(at) == Some(&"(UNCLEAN)") {
        words.remove(at);
    }
    format!("{head}\t {}", words.join(" "))
}

fn status_lines(ws: &mut WorkingSet, r: RscId, with_nodes: bool) -> Vec<String> {
    let top = ws.top_parent(r);
    let lines = resource_lines(ws, &[top], with_nodes);
    if top == r {
        return lines
            .into_iter()
            .map(|l| {
                let l = l.strip_prefix("  ").unwrap_or(&l);
                l.strip_prefix("* ").unwrap_or(l).to_string()
            })
            .collect();
    }
    // A member or instance: its own line.
    let id = ws.resources[r].id.as_str();
    lines
        .into_iter()
        .map(|l| l.trim_start().trim_start_matches("* ").to_string())
        .filter(|l| l.starts_with(&format!("{id}\t")))
        .collect()
}

/// `--query-xml`'s status lines: a primitive's own line, or the lines of
/// the primitives inside a group or clone.
fn query_lines(ws: &mut WorkingSet, r: RscId) -> Vec<String> {
    if ws.resources[r].variant == Variant::Primitive {
        return status_lines(ws, r, true);
    }
    status_lines(ws, r, true)
        .into_iter()
        .skip(1)
        .map(|l| l.trim_start().trim_start_matches("* ").to_string())
        .filter(|l| l.contains("\t("))
        .collect()
}

fn list(ws: &mut WorkingSet) {
    if ws.top.is_empty() {
        out("NO resources configured\n");
        return;
    }
    let mut text = String::from("Full List of Resources:\n");
    let tops = ws.top.clone();
    for line in resource_lines(ws, &tops, false) {
        text.push_str(&line);
        text.push('\n');
    }
    out(&text);
}

/// The node called `name`.
fn find_node<'a>(ws: &'a WorkingSet, name: &str) -> Result<&'a str, ToolError> {
    ws.nodes
        .iter()
        .find(|n| n.uname == name)
        .map(|n| n.uname.as_str())
        .ok_or_else(|| ToolError::new(exit::NOSUCH, format!("Node '{name}' not found")))
}

/// A location constraint for `rsc` on `node` with `score`, as a plain
/// constraint or, with a lifetime, as a rule that expires at `end`.
fn location(id: &str, rsc: &str, node: &str, score: &str, end: Option<&str>, ban: bool) -> Element {
    let mut loc = Element::new("rsc_location")
        .with_attr("id", id)
        .with_attr("rsc", rsc)
        .with_attr("role", "Started");
    match end {
        None => {
            loc.set_attr("node", node);
            loc.set_attr("score", score);
        }
        Some(end) => {
            let (rule_id, expr_id, date_id) = if ban {
                (
                    format!("{id}-rule"),
                    format!("{id}-expr"),
                    format!("{id}-lifetime"),
                )
            } else {
                (
                    format!("cli-prefer-rule-{rsc}"),
                    format!("cli-prefer-expr-{rsc}"),
                    format!("cli-prefer-lifetime-end-{rsc}"),
                )
            };
            let mut rule = Element::new("rule")
                .with_attr("id", &rule_id)
                .with_attr("score", score)
                .with_attr("boolean-op", "and");
            rule.children.push(
                Element::new("expression")
                    .with_attr("id", &expr_id)
                    .with_attr("attribute", "#uname")
                    .with_attr("operation", "eq")
                    .with_attr("value", node)
                    .with_attr("type", "string"),
            );
            rule.children.push(
                Element::new("date_expression")
                    .with_attr("id", &date_id)
                    .with_attr("operation", "lt")
                    .with_attr("end", end),
            );
            loc.children.push(rule);
        }
    }
    loc
}

/// The configured constraints, by id.
fn constraint<'a>(cib: &'a Element, id: &str) -> Option<&'a Element> {
    cib.path(&["configuration", "constraints"])?
        .children
        .iter()
        .find(|c| c.name != COMMENT && c.attr("id") == Some(id))
}

fn constraints_command(
    args: &Args,
    ws: &WorkingSet,
    r: RscId,
    session: &mut CibSession,
    now: DateTime,
) -> Result<(), ToolError> {
    let rsc = ws.resources[r].id.clone();
    if is_clone_instance(ws, r) && (args.move_ || args.ban) {
        let name = args.resource.as_deref().unwrap_or(&rsc);
        return Err(ToolError::new(
            exit::INVALID_PARAM,
            format!("Cannot operate on clone resource instance '{name}'"),
        ));
    }
    let node = match &args.node {
        Some(n) => Some(find_node(ws, n)?.to_string()),
        None => None,
    };
    if args.clear {
        return clear(ws, &rsc, node.as_deref(), args.force, args.quiet, session);
    }
    let current = running_nodes(ws, r);
    // Only a resource active in exactly one place counts as already
    // being there (a clone on several nodes does not); checked before
    // the lifetime, as Pacemaker does.
    let on_dest = args.move_ && current.len() == 1 && node.as_deref() == Some(current[0].as_str());
    if on_dest && !args.force {
        return Err(ToolError::new(
            exit::EXISTS,
            "Error performing operation: Requested item already exists",
        ));
    }
    let end = match &args.lifetime {
        None => None,
        Some(l) => {
            let d = cib_xml::time::Duration::parse(l).ok_or_else(|| {
                ToolError::new(
                    exit::USAGE,
                    format!(
                        "Invalid duration specified: {l}\nUse an ISO 8601 duration such as PT1H or P2D"
                    ),
                )
            })?;
            let end = d.add_to(now).to_iso();
            out(&format!("Migration will take effect until: {end}\n"));
            Some(end)
        }
    };
    let mut messages = String::new();
    let mut requests_data: Vec<(Op, Element)> = Vec::new();
    let ban_on = |n: &str, messages: &mut String, reqs: &mut Vec<(Op, Element)>| {
        let id = format!("cli-ban-{rsc}-on-{n}");
        if !args.quiet {
            messages.push_str(&format!(
                "WARNING: Creating rsc_location constraint '{id}' with a score of -INFINITY for resource {rsc} on {n}.\n\tThis will prevent {rsc} from running on {n} until the constraint is removed using the clear option or by editing the CIB with an appropriate tool\n\tThis will be the case even if {n} is the last node in the cluster\n"
            ));
        }
        reqs.push((
            Op::Modify,
            location(&id, &rsc, n, "-INFINITY", end.as_deref(), true),
        ));
    };
    match (args.move_, node.as_deref()) {
        (true, Some(dest)) => {
            // The earlier preference goes, as does a ban on the target.
            for id in [format!("cli-prefer-{rsc}"), format!("cli-ban-{rsc}-on-{dest}")] {
                if constraint(session.cib(), &id).is_some() {
                    requests_data.push((Op::Delete, Element::new("rsc_location").with_attr("id", &id)));
                }
            }
            requests_data.push((
                Op::Modify,
                location(
                    &format!("cli-prefer-{rsc}"),
                    &rsc,
                    dest,
                    "INFINITY",
                    end.as_deref(),
                    false,
                ),
            ));
            if args.force && !on_dest && current.len() == 1 {
                ban_on(&current[0], &mut messages, &mut requests_data);
            }
        }
        (_, Some(n)) => ban_on(n, &mut messages, &mut requests_data),
        (_, None) => match current.as_slice() {
            [one] => ban_on(one, &mut messages, &mut requests_data),
            [] => {
                return Err(ToolError::new(
                    exit::INVALID_PARAM,
                    format!(
                        "Resource '{rsc}' not moved: active in 0 locations.\nTo prevent '{rsc}' from running on a specific location, specify a node."
                    ),
                ))
            }
            many => {
                return Err(ToolError::new(
                    exit::INVALID_PARAM,
                    format!(
                        "Resource '{rsc}' not moved: active in {} locations.\nTo prevent '{rsc}' from running on a specific location, specify a node.",
                        many.len()
                    ),
                ))
            }
        },
    }
    let reqs: Vec<Request<'_>> = requests_data
        .iter()
        .map(|(op, data)| {
            let mut req = Request::new(*op);
            req.section = Some("constraints");
            req.data = Some(data);
            req.allow_create = true;
            req
        })
        .collect();
    session.apply(&reqs).map_err(|e| {
        ToolError::new(e.code, format!("Error performing operation: {}", e.message))
    })?;
    out(&messages);
    Ok(())
}

/// --clear: one removal per node, as Pacemaker's, each of the ban on
/// that node and the preference (which names no other node, unless
/// --force); only `node` when given, else every node in name order. The
/// removed constraints are printed sorted by id.
fn clear(
    ws: &WorkingSet,
    rsc: &str,
    node: Option<&str>,
    force: bool,
    quiet: bool,
    session: &mut CibSession,
) -> Result<(), ToolError> {
    let nodes: Vec<&str> = match node {
        Some(n) => vec![n],
        None => ws.nodes.iter().map(|n| n.uname.as_str()).collect(),
    };
    let prefer = format!("cli-prefer-{rsc}");
    let mut removed: Vec<String> = Vec::new();
    let mut batches: Vec<Element> = Vec::new();
    for n in &nodes {
        let mut batch = Element::new("constraints");
        let ban = format!("cli-ban-{rsc}-on-{n}");
        if constraint(session.cib(), &ban).is_some() {
            batch
                .children
                .push(Element::new("rsc_location").with_attr("id", &ban));
            removed.push(ban);
        }
        if !removed.contains(&prefer) {
            if let Some(c) = constraint(session.cib(), &prefer) {
                let other_node =
                    node.is_some() && !force && c.attr("node").is_some_and(|cn| cn != *n);
                if !other_node {
                    batch
                        .children
                        .push(Element::new("rsc_location").with_attr("id", &prefer));
                    removed.push(prefer.clone());
                }
            }
        }
        if !batch.children.is_empty() {
            batches.push(batch);
        }
    }
    let reqs: Vec<Request<'_>> = batches
        .iter()
        .map(|d| {
            let mut req = Request::new(Op::Delete);
            req.section = Some("constraints");
            req.data = Some(d);
            req
        })
        .collect();
    session.apply(&reqs).map_err(|e| {
        ToolError::new(e.code, format!("Error performing operation: {}", e.message))
    })?;
    // Pacemaker lists what it removed unless --quiet (crmsh runs
    // `crm_resource --quiet --clear` and prints its own message).
    if !quiet {
        removed.sort();
        let mut text = String::new();
        for id in removed {
            text.push_str(&format!("Removing constraint: {id}\n"));
        }
        out(&text);
    }
    Ok(())
}

/// The attribute-set tag and the set id a new pair goes into.
fn set_kind(args: &Args, rsc: &str) -> (&'static str, String) {
    if args.meta {
        ("meta_attributes", format!("{rsc}-meta_attributes"))
    } else {
        ("instance_attributes", format!("{rsc}-instance_attributes"))
    }
}

/// The resource's own pairs called `name` in sets of `tag` (also inside
/// the `<attributes>` wrappers of a Heartbeat 2.1 CIB not yet upgraded).
fn own_pairs<'a>(xml: &'a Element, tag: &str, name: &str) -> Vec<&'a Element> {
    xml.children
        .iter()
        .filter(|s| s.name == tag)
        .flat_map(|s| s.children.iter())
        .flat_map(|p| {
            if p.name == "attributes" {
                p.children.iter().collect::<Vec<_>>()
            } else {
                vec![p]
            }
        })
        .filter(|p| p.name == "nvpair" && p.attr("name") == Some(name))
        .collect()
}

/// The configured resource behind `r` (a clone instance's primitive).
fn configured(ws: &WorkingSet, r: RscId) -> (String, std::rc::Rc<Element>) {
    let rsc = &ws.resources[r];
    (
        rsc.xml.attr("id").unwrap_or(&rsc.id).to_string(),
        rsc.xml.clone(),
    )
}

fn get_parameter(args: &Args, ws: &WorkingSet, r: RscId, name: &str) -> Result<(), ToolError> {
    let (_, xml) = configured(ws, r);
    let (tag, _) = set_kind(args, "");
    match own_pairs(&xml, tag, name).first() {
        Some(p) => out(&format!("{}\n", p.attr("value").unwrap_or(""))),
        None => eprintln!(
            "Attribute '{name}' not found for '{}'",
            args.resource.as_deref().unwrap_or("")
        ),
    }
    Ok(())
}

fn set_parameter(
    args: &Args,
    ws: &WorkingSet,
    r: RscId,
    name: &str,
    value: &str,
    session: &mut CibSession,
) -> Result<(), ToolError> {
    let (id, xml) = configured(ws, r);
    let (tag, set) = set_kind(args, &id);
    let existing = own_pairs(&xml, tag, name);
    let (data, message) = match existing.first() {
        Some(p) => {
            let pid = p.attr("id").unwrap_or("").to_string();
            (
                Element::new("nvpair")
                    .with_attr("id", &pid)
                    .with_attr("name", name)
                    .with_attr("value", value),
                format!("Set '{id}' option: id={pid} name={name} value={value}\n"),
            )
        }
        None => {
            let pid = format!("{set}-{name}");
            let mut s = Element::new(tag).with_attr("id", &set);
            s.children.push(
                Element::new("nvpair")
                    .with_attr("id", &pid)
                    .with_attr("name", name)
                    .with_attr("value", value),
            );
            let mut top = Element::new(&xml.name).with_attr("id", &id);
            top.children.push(s);
            (
                top,
                format!("Set '{id}' option: id={pid} set={set} name={name} value={value}\n"),
            )
        }
    };
    let mut req = Request::new(Op::Modify);
    req.section = Some("resources");
    req.data = Some(&data);
    session.apply(&[req]).map_err(|e| {
        ToolError::new(e.code, format!("Error performing operation: {}", e.message))
    })?;
    out(&message);
    Ok(())
}

fn delete_parameter(
    args: &Args,
    ws: &WorkingSet,
    r: RscId,
    name: &str,
    session: &mut CibSession,
) -> Result<(), ToolError> {
    let (id, xml) = configured(ws, r);
    let (tag, _) = set_kind(args, &id);
    let existing = own_pairs(&xml, tag, name);
    let Some(p) = existing.first() else {
        return Ok(());
    };
    let pid = p.attr("id").unwrap_or("").to_string();
    let data = Element::new("nvpair").with_attr("id", &pid);
    let mut req = Request::new(Op::Delete);
    req.section = Some("resources");
    req.data = Some(&data);
    session.apply(&[req]).map_err(|e| {
        ToolError::new(e.code, format!("Error performing operation: {}", e.message))
    })?;
    out(&format!("Deleted '{id}' option: id={pid} name={name}\n"));
    Ok(())
}

/// A score as Pacemaker prints it.
fn score_text(score: i32) -> String {
    if score >= cib_xml::score::INFINITY {
        "INFINITY".into()
    } else if score <= -cib_xml::score::INFINITY {
        "-INFINITY".into()
    } else {
        score.to_string()
    }
}

/// A colocation line: the other resource, the score, and the role the
/// primary must have when it is more than started.
fn colocation_line(
    ws: &WorkingSet,
    c: &pengine::model::Colocation,
    peer: RscId,
    dependents: bool,
) -> String {
    let peer = &ws.resources[peer].id;
    if c.primary_role > cib_xml::Role::Started {
        format!(
            "* {peer} (score={}, {} role={}, id={})",
            score_text(c.score),
            if dependents { "needs" } else { "with" },
            c.primary_role.as_str(),
            c.id
        )
    } else {
        format!("* {peer} (score={}, id={})", score_text(c.score), c.id)
    }
}

/// The location lines of a resource, newest constraint first (Pacemaker
/// prepends them as it unpacks).
fn location_lines(ws: &WorkingSet, r: RscId) -> Vec<String> {
    let id = &ws.resources[r].id;
    let mut lines = Vec::new();
    for l in ws.locations.iter().rev().filter(|l| l.rsc == r) {
        for &(n, score) in &l.nodes {
            lines.push(format!(
                "* Node {} (score={}, id={}, rsc={id})",
                ws.nodes[n].uname,
                score_text(score),
                l.id
            ));
        }
    }
    lines
}

/// Colocations the user configured (not a group's internal ones).
fn configured_colocations(ws: &WorkingSet) -> impl Iterator<Item = &pengine::model::Colocation> {
    ws.colocations.iter().rev().filter(|c| !c.id.contains(':'))
}

/// One colocation list with each peer's locations nested under it.
fn colocation_list(
    ws: &WorkingSet,
    title: &str,
    entries: &[(&pengine::model::Colocation, RscId)],
    dependents: bool,
    text: &mut String,
) {
    if entries.is_empty() {
        return;
    }
    text.push_str(title);
    text.push('\n');
    for (c, peer) in entries {
        text.push_str(&format!(
            "  {}\n",
            colocation_line(ws, c, *peer, dependents)
        ));
        let locs = location_lines(ws, *peer);
        if !locs.is_empty() {
            text.push_str("    * Locations:\n");
            for l in locs {
                text.push_str(&format!("      {l}\n"));
            }
        }
    }
}

/// --constraints: the colocations with the resource, its locations, and
/// the colocations it has with others, for the resource's top-level
/// parent (a group or clone holds the constraints of its members).
fn constraints_text(ws: &WorkingSet, r: RscId) -> String {
    let r = ws.top_parent(r);
    let id = &ws.resources[r].id;
    let mut text = String::new();
    let with_this: Vec<(&pengine::model::Colocation, RscId)> = configured_colocations(ws)
        .filter(|c| c.primary == r && c.dependent != r)
        .map(|c| (c, c.dependent))
        .collect();
    colocation_list(
        ws,
        &format!("Resources colocated with {id}:"),
        &with_this,
        true,
        &mut text,
    );
    let locs = location_lines(ws, r);
    if !locs.is_empty() {
        text.push_str("Locations:\n");
        for l in locs {
            text.push_str(&format!("  {l}\n"));
        }
    }
    let this_with: Vec<(&pengine::model::Colocation, RscId)> = configured_colocations(ws)
        .filter(|c| c.dependent == r && c.primary != r)
        .map(|c| (c, c.primary))
        .collect();
    colocation_list(
        ws,
        &format!("Resources {id} is colocated with:"),
        &this_with,
        false,
        &mut text,
    );
    text
}

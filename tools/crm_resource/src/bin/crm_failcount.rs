//! crm_failcount: query or delete a resource's fail counts on a node,
//! with Pacemaker 2.1's options, output and exit codes. A query reads the
//! node's transient attributes (`crm_resource::failcount`); a delete is
//! `crm_resource --cleanup -r RSC -N NODE [-n OP -I INTERVAL]`, through
//! the same code (`crm_resource::cleanup`). The node defaults to this one.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser};
use clitools::{exit, CibSession, ToolError};

const USAGE: &str = "Usage: crm_failcount <command> [<options>]
Common options:
 --help                 Display this text, then exit
 -V, --verbose          Specify multiple times to increase debug output
 -q, --quiet            Print only the value (if querying)

Commands:
 -G, --query            Query the current value of the resource's fail count
 -D, --delete           Delete resource's recorded failures

Additional Options:
 -r, --resource=value   Name of the resource to use (required)
 -n, --operation=value  Name of operation to use (instead of all operations)
 -I, --interval=value   If operation is specified, its interval
 -N, --node=value       Use failcount on named node (instead of local node)";

#[derive(Parser, Debug)]
#[command(
    name = "crm_failcount",
    about = "Queries or deletes a resource's fail counts.",
    override_usage = "crm_failcount <command> [<options>]",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Query the resource's fail count
    #[arg(short = 'G', long = "query", alias = "get-value")]
    query: bool,
    /// Delete the resource's recorded failures
    #[arg(short = 'D', long = "delete", alias = "delete-attr")]
    delete: bool,
    /// The resource (required)
    #[arg(
        short = 'r',
        long = "resource",
        alias = "resource-id",
        value_name = "ID"
    )]
    resource: Option<String>,
    /// Only this operation's fail count
    #[arg(short = 'n', long = "operation", value_name = "NAME")]
    operation: Option<String>,
    /// The operation's interval
    #[arg(
        short = 'I',
        long = "interval",
        value_name = "INTERVAL",
        default_value = "0"
    )]
    interval: String,
    /// The node (default: this node)
    #[arg(
        short = 'N',
        long = "node",
        visible_short_alias = 'U',
        alias = "uname",
        value_name = "NAME"
    )]
    node: Option<String>,
    /// Deprecated: 0 means --delete
    #[arg(short = 'v', long = "attr-value", value_name = "VALUE")]
    value: Option<String>,
    /// Deprecated, ignored
    #[arg(short = 'i', long = "attr-id", value_name = "ID")]
    attr_id: Option<String>,
    /// Deprecated, ignored
    #[arg(short = 'l', long = "lifetime", value_name = "LIFETIME")]
    lifetime: Option<String>,
    /// Print only the value
    #[arg(short = 'q', long = "quiet", visible_short_alias = 'Q')]
    quiet: bool,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(long = "help", short = '?', action = ArgAction::SetTrue)]
    help: bool,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    println!("\n{USAGE}");
    ExitCode::from(exit::USAGE)
}

fn out(text: &str) {
    // EPIPE is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            println!("\n{USAGE}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if args.help {
        println!("crm_failcount - Query or delete resource fail counts\n\n{USAGE}");
        return ExitCode::from(exit::OK);
    }
    let mut delete = args.delete;
    if let Some(v) = &args.value {
        if v == "0" {
            delete = true;
        } else {
            eprintln!("warning: ignoring deprecated option '-v' with nonzero value");
        }
    }
    if args.attr_id.is_some() {
        eprintln!("warning: ignoring deprecated option '-i'");
    }
    if args.lifetime.is_some() {
        eprintln!("warning: ignoring deprecated option '-l'");
    }
    if !args.query && !delete {
        return usage_error("must specify a command");
    }
    let Some(rsc) = args.resource.clone() else {
        return usage_error("resource name required");
    };
    let node = args
        .node
        .clone()
        .unwrap_or_else(|| plumbing::HaPaths::from_env().nodename);
    if node.is_empty() {
        return usage_error("node name required");
    }
    let interval_ms = match cib_xml::rules::parse_interval_ms(&args.interval) {
        Some(ms) => ms,
        None => {
            eprintln!("warning: Unrecognized interval, using 0");
            0
        }
    };
    let result = if delete {
        clitools::audit("crm_failcount");
        delete_failures(&args, &rsc, &node, interval_ms)
    } else {
        query(&args, &rsc, &node, interval_ms)
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("crm_failcount: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn query(args: &Args, rsc: &str, node: &str, interval_ms: u64) -> Result<(), ToolError> {
    let session = CibSession::open(Duration::from_secs(30))?;
    let op = args.operation.as_deref().map(|t| (t, interval_ms));
    let count = match crm_resource::failcount::query(session.cib(), node, rsc, op) {
        Some(c) => c,
        None => {
            // As Pacemaker's: the error, an empty value, and success.
            eprintln!("crm_failcount: Could not map name={node} to a UUID");
            let name = match op {
                Some((t, i)) => format!("fail-count-{rsc}#{t}_{i}"),
                None => format!("fail-count-{rsc}"),
            };
            crm_resource::failcount::Count {
                name,
                value: String::new(),
            }
        }
    };
    if args.quiet {
        out(&format!("{}\n", count.value));
    } else {
        out(&format!(
            "scope=status  name={} value={}\n",
            count.name, count.value
        ));
    }
    Ok(())
}

fn delete_failures(args: &Args, rsc: &str, node: &str, interval_ms: u64) -> Result<(), ToolError> {
    // Never freed: dropping a large CIB piece by piece costs a sixth of
    // a call, and the process ends after it.
    let mut session = std::mem::ManuallyDrop::new(CibSession::open(Duration::from_secs(30))?);
    let ws = pengine::unpack_cib(
        session.cib_rc(),
        clitools::now(),
        &pengine::Options::default(),
    )
    .map_err(|e| ToolError::new(exit::CONFIG, e.0))?;
    let Some(r) = crm_resource::find_instance(&ws, rsc) else {
        return Err(ToolError::new(
            exit::NOSUCH,
            format!("Resource '{rsc}' not found"),
        ));
    };
    let op = args
        .operation
        .as_ref()
        .map(|t| crm_resource::cleanup::OpFilter {
            task: t.clone(),
            interval_ms,
        });
    let top = crm_resource::top_parent(&ws, r);
    let plan =
        crm_resource::cleanup::plan_resource(&ws, top, Some(node), op.as_ref(), true, false)?;
    crm_resource::cleanup::apply(&plan, &mut session)?;
    if !args.quiet {
        let mut text = String::new();
        for line in &plan.lines {
            text.push_str(line);
            text.push('\n');
        }
        out(&text);
    }
    Ok(())
}

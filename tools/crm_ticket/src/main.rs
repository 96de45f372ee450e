//! crm_ticket: shows and changes cluster tickets with Pacemaker 2.1.5's
//! options, output and exit codes: `-l`/`-L`/`-w` list, `-q` the state
//! XML, `-c` the rsc_ticket constraints, `-g`/`-r`/`-s`/`-a` grant,
//! revoke, standby and activate, `-G`/`-S`/`-D` single attributes, `-C`
//! removes a ticket's state; granting and revoking need `--force`. The
//! CIB comes from `CIB_shadow`, `CIB_file` or the cib daemon (clitools);
//! tickets live in the status section (`status/tickets/ticket_state`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::to_pcmk_pretty;
use cib_xml::ops::{Op, Request};
use cib_xml::Element;
use clap::{ArgAction, Parser};
use clitools::{exit, CibSession, ToolError};
use crm_ticket::{changed_state, constraints, line, needs_force, ticket_state, tickets, warning};

#[derive(Parser, Debug)]
#[command(
    name = "crm_ticket",
    about = "Shows, grants, revokes and changes cluster tickets.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Show the tickets
    #[arg(short = 'l', long = "info")]
    info: bool,
    /// Show the tickets with their attributes
    #[arg(short = 'L', long = "details")]
    details: bool,
    /// Show the tickets' ids
    #[arg(short = 'w', long = "raw")]
    raw: bool,
    /// Show the tickets' state XML
    #[arg(short = 'q', long = "query-xml")]
    query_xml: bool,
    /// Show the rsc_ticket constraints of the ticket(s)
    #[arg(short = 'c', long = "constraints")]
    constraints: bool,
    /// Grant the ticket to this site
    #[arg(short = 'g', long = "grant")]
    grant: bool,
    /// Revoke the ticket from this site
    #[arg(short = 'r', long = "revoke")]
    revoke: bool,
    /// Put the ticket in standby at this site
    #[arg(short = 's', long = "standby")]
    standby: bool,
    /// Activate the ticket at this site
    #[arg(short = 'a', long = "activate")]
    activate: bool,
    /// Show one attribute of the ticket
    #[arg(short = 'G', long = "get-attr", value_name = "ATTRIBUTE")]
    get_attr: Option<String>,
    /// Set one attribute of the ticket (to -v)
    #[arg(short = 'S', long = "set-attr", value_name = "ATTRIBUTE")]
    set_attr: Option<String>,
    /// Delete attributes of the ticket
    #[arg(short = 'D', long = "delete-attr", value_name = "ATTRIBUTE")]
    delete_attr: Vec<String>,
    /// Remove all of the ticket's state at this site
    #[arg(short = 'C', long = "cleanup")]
    cleanup: bool,
    /// The value for -S
    #[arg(short = 'v', long = "attr-value", value_name = "VALUE")]
    value: Option<String>,
    /// The value -G shows when the attribute is not set
    #[arg(short = 'd', long = "default", value_name = "VALUE")]
    default: Option<String>,
    /// Grant or revoke anyway
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// The ticket
    #[arg(short = 't', long = "ticket", value_name = "ID")]
    ticket: Option<String>,
    /// Deprecated, ignored
    #[arg(short = 'n', long = "set-name", value_name = "ID")]
    set_name: Option<String>,
    /// Deprecated, ignored
    #[arg(short = 'i', long = "nvpair", value_name = "ID")]
    nvpair: Option<String>,
    /// Print only the value
    #[arg(short = 'Q', long = "quiet")]
    quiet: bool,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

fn out(text: &str) {
    // EPIPE is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("crm_ticket: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

fn need_ticket(args: &Args, code: u8) -> Result<&str, ToolError> {
    args.ticket
        .as_deref()
        .ok_or_else(|| ToolError::new(code, "Must supply ticket ID with -t"))
}

fn now() -> i64 {
    clitools::now().0
}

fn run(args: &Args) -> Result<(), ToolError> {
    let mut set: Vec<(String, String)> = Vec::new();
    let flag = |name: &str, v: bool| (name.to_string(), v.to_string());
    if args.grant {
        set.push(flag("granted", true));
    }
    if args.revoke {
        set.push(flag("granted", false));
    }
    if args.standby {
        set.push(flag("standby", true));
    }
    if args.activate {
        set.push(flag("standby", false));
    }
    if let (Some(n), Some(v)) = (&args.set_attr, &args.value) {
        if !n.is_empty() && !v.is_empty() {
            set.push((n.clone(), v.clone()));
        }
    }
    let modified = !set.is_empty() || !args.delete_attr.is_empty();
    let writes = modified || args.cleanup;
    if writes {
        clitools::audit("crm_ticket");
    }
    // Never freed: dropping a large CIB piece by piece costs a sixth of
    // a call, and the process ends after it.
    let mut session = std::mem::ManuallyDrop::new(CibSession::open(Duration::from_secs(30))?);
    let cib = session.cib_rc();
    if args.info || args.details || args.raw {
        let all = tickets(&cib);
        let mut text = String::new();
        match &args.ticket {
            Some(id) => {
                let Some(t) = all.get(id) else {
                    return Err(ToolError::new(
                        exit::NOSUCH,
                        format!("No such ticket '{id}'"),
                    ));
                };
                text.push_str(&line(id, t, args.raw, args.details));
                text.push('\n');
            }
            None => {
                for (id, t) in &all {
                    text.push_str(&line(id, t, args.raw, args.details));
                    text.push('\n');
                }
            }
        }
        out(&text);
        return Ok(());
    }
    if args.query_xml {
        let found: Option<Element> = match &args.ticket {
            Some(id) => ticket_state(&cib, id).cloned(),
            None => crm_ticket::tickets_element(&cib).cloned(),
        };
        let Some(el) = found else {
            return Err(ToolError::new(
                exit::NOSUCH,
                "Could not query ticket XML: No such device or address",
            ));
        };
        out(&format!("State XML:\n\n{}", to_pcmk_pretty(&el)));
        return Ok(());
    }
    if args.constraints {
        let found = constraints(&cib, args.ticket.as_deref());
        let el = match found.as_slice() {
            [] => {
                return Err(ToolError::new(
                    exit::NOSUCH,
                    "Could not show ticket constraints: No such device or address",
                ))
            }
            [one] => (*one).clone(),
            many => {
                let mut q = Element::new("xpath-query");
                q.children = many.iter().map(|e| (*e).clone()).collect();
                q
            }
        };
        out(&format!("Constraints XML:\n\n{}", to_pcmk_pretty(&el)));
        return Ok(());
    }
    if let Some(name) = &args.get_attr {
        let id = need_ticket(args, exit::NOSUCH)?;
        let value = tickets(&cib)
            .get(id)
            .and_then(|t| {
                t.state
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| args.default.clone());
        return match value {
            Some(v) => {
                out(&format!("{v}\n"));
                Ok(())
            }
            None => Err(ToolError::new(exit::NOSUCH, "")),
        };
    }
    if args.cleanup {
        let id = need_ticket(args, exit::USAGE)?;
        if !args.force {
            let all = tickets(&cib);
            let Some(t) = all.get(id) else {
                return Err(ToolError::new(
                    exit::NOSUCH,
                    format!("No such ticket '{id}'"),
                ));
            };
            if t.granted {
                out(&format!("{}\n", warning(id, false)));
                return Err(ToolError::new(exit::INSUFFICIENT_PRIV, ""));
            }
        }
        if ticket_state(&cib, id).is_none() {
            return Ok(());
        }
        let xpath = format!("/cib/status/tickets/ticket_state[@id=\"{id}\"]");
        let mut req = Request::new(Op::Delete);
        req.xpath = Some(&xpath);
        session.apply(&[req]).map_err(|e| {
            ToolError::new(e.code, format!("Could not clean up ticket: {}", e.message))
        })?;
        out(&format!("Cleaned up {id}\n"));
        return Ok(());
    }
    if modified {
        let id = need_ticket(args, exit::USAGE)?;
        if let Some(grant) = needs_force(&set, &args.delete_attr) {
            if !args.force {
                out(&format!("{}\n", warning(id, grant)));
                return Err(ToolError::new(
                    exit::INSUFFICIENT_PRIV,
                    "Ticket modification not allowed",
                ));
            }
        }
        let Some(state) = changed_state(&cib, id, &set, &args.delete_attr, now()) else {
            return Ok(());
        };
        let xpath = format!("/cib/status/tickets/ticket_state[@id=\"{id}\"]");
        let tickets_el;
        let mut req;
        if ticket_state(&cib, id).is_some() {
            req = Request::new(Op::Replace);
            req.xpath = Some(&xpath);
            req.data = Some(&state);
        } else if crm_ticket::tickets_element(&cib).is_some() {
            req = Request::new(Op::Create);
            req.xpath = Some("/cib/status/tickets");
            req.data = Some(&state);
        } else {
            let mut t = Element::new("tickets");
            t.children.push(state.clone());
            tickets_el = t;
            req = Request::new(Op::Create);
            req.section = Some("status");
            req.data = Some(&tickets_el);
        }
        return session.apply(&[req]).map_err(|e| {
            ToolError::new(e.code, format!("Could not modify ticket: {}", e.message))
        });
    }
    // Nothing to do: say what is missing.
    if args.set_attr.is_none() {
        return Err(ToolError::new(exit::USAGE, "Must supply a command"));
    }
    need_ticket(args, exit::USAGE)?;
    Err(ToolError::new(
        exit::USAGE,
        format!(
            "Must supply value with -v for -S {}",
            args.set_attr.as_deref().unwrap_or("")
        ),
    ))
}

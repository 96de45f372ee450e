//! crm_simulate: run the policy engine over a CIB and show what the cluster
//! would do, with Pacemaker's options and output sections.

use std::io::Read;
use std::process::ExitCode;

use cib_xml::time::DateTime;
use cib_xml::{Element, Limits};
use clap::Parser;
use pengine::model::{rf, Variant, WorkingSet};
use pengine::output::{executed, format_summary, summary};

/// Pacemaker's exit codes used here.
const EXIT_OK: u8 = 0;
const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 64;
const EXIT_DATAERR: u8 = 65;
const EXIT_NOINPUT: u8 = 66;

#[derive(Parser, Debug)]
#[command(
    name = "crm_simulate",
    about = "Simulate the cluster's response to events",
    disable_version_flag = true
)]
struct Args {
    /// Read the cluster state from this XML file.
    #[arg(short = 'x', long = "xml-file", value_name = "FILE")]
    xml_file: Option<String>,
    /// Read the cluster state from standard input.
    #[arg(short = 'p', long = "xml-pipe")]
    xml_pipe: bool,
    /// Connect to the CIB and use the current contents as input.
    #[arg(short = 'L', long = "live-check")]
    live_check: bool,
    /// Run the policy engine and simulate the transition.
    #[arg(short = 'S', long = "simulate")]
    simulate: bool,
    /// Run the policy engine and display the transition (without executing).
    #[arg(short = 'R', long = "run")]
    run: bool,
    /// Show allocation scores.
    #[arg(short = 's', long = "show-scores")]
    show_scores: bool,
    /// Show utilization information.
    #[arg(short = 'U', long = "show-utilization")]
    show_utilization: bool,
    /// Display only essential output.
    #[arg(short = 'Q', long = "quiet")]
    quiet: bool,
    /// Set the date and time "now" (ISO 8601).
    #[arg(short = 't', long = "set-datetime", value_name = "DATETIME")]
    set_datetime: Option<String>,
    /// Save the transition graph (XML) to this file.
    #[arg(short = 'G', long = "save-graph", value_name = "FILE")]
    save_graph: Option<String>,
    /// Save the transition graph (DOT) to this file.
    #[arg(short = 'D', long = "save-dotfile", value_name = "FILE")]
    save_dotfile: Option<String>,
    /// Save the input after any injected events to this file.
    #[arg(short = 'O', long = "save-output", value_name = "FILE")]
    save_output: Option<String>,
    /// Increase debugging output.
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Output format (text or xml).
    #[arg(long = "output-as", value_name = "FORMAT", default_value = "text")]
    output_as: String,
}

fn die(code: u8, msg: &str) -> ExitCode {
    eprintln!("crm_simulate: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    if args.output_as != "text" {
        return die(
            EXIT_USAGE,
            &format!("unsupported output format '{}'", args.output_as),
        );
    }
    let text = if let Some(f) = &args.xml_file {
        match std::fs::read(f) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => s,
                Err(_) => return die(EXIT_DATAERR, &format!("{f}: not UTF-8")),
            },
            Err(e) => return die(EXIT_NOINPUT, &format!("could not read {f}: {e}")),
        }
    } else if args.xml_pipe {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            return die(EXIT_NOINPUT, &format!("could not read standard input: {e}"));
        }
        s
    } else if args.live_check {
        return die(
            EXIT_ERROR,
            "live check needs the CIB daemon, which is not available yet",
        );
    } else {
        return die(EXIT_USAGE, "no input given (use -x FILE, -p or -L)");
    };
    let cib = match cib_xml::xml::parse(&text, &Limits::default()) {
        Ok(c) => c,
        Err(e) => return die(EXIT_DATAERR, &format!("invalid CIB: {e}")),
    };
    let mut printed_date = None;
    let now = if let Some(t) = &args.set_datetime {
        match DateTime::parse(t) {
            Some(d) => {
                if !args.quiet {
                    println!("Setting effective cluster time: {}", d.to_iso());
                }
                d
            }
            None => return die(EXIT_USAGE, &format!("invalid date/time '{t}'")),
        }
    } else if let Some(ed) = cib
        .attr("execution-date")
        .and_then(|v| v.parse::<i64>().ok())
    {
        let d = DateTime(ed);
        printed_date = Some(d);
        d
    } else {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        DateTime(secs)
    };
    for (flag, name) in [(&args.save_graph, "-G"), (&args.save_dotfile, "-D")] {
        if flag.is_some() {
            return die(EXIT_USAGE, &format!("{name} is not supported yet"));
        }
    }
    if let Some(o) = &args.save_output {
        if let Err(e) = std::fs::write(o, cib.to_pretty()) {
            return die(EXIT_ERROR, &format!("could not write {o}: {e}"));
        }
    }
    let _ = (args.verbose, args.show_utilization);
    let opts = pengine::Options {
        show_scores: args.show_scores,
        sanitized: args.xml_file.is_some(),
    };
    let mut ws = match pengine::schedule(cib, now, &opts) {
        Ok(ws) => ws,
        Err(e) => return die(EXIT_DATAERR, &e.to_string()),
    };
    if !args.quiet {
        if let Some(d) = printed_date {
            println!("Using the original execution date of: {}", d.to_iso());
        }
        println!("Current cluster status:");
        print_status(&ws);
        println!();
    }
    if args.show_scores {
        if !args.quiet {
            println!("Allocation scores:");
        }
        for l in &ws.score_lines {
            println!("{l}");
        }
    }
    if args.simulate || args.run || !args.show_scores {
        let lines = summary(&mut ws);
        if !args.quiet {
            println!("Transition Summary:");
            for l in format_summary(&lines) {
                println!("{l}");
            }
        }
        if args.simulate && !args.quiet {
            println!();
            println!("Executing Cluster Transition:");
            for l in executed(&ws) {
                println!("{l}");
            }
        }
    }
    // The working set holds the whole CIB and every action; freeing it
    // piece by piece costs as much as building it, and the process ends.
    std::mem::forget(ws);
    ExitCode::from(EXIT_OK)
}

/// A short crm_mon-style status (node list and resources with roles).
fn print_status(ws: &WorkingSet) {
    println!("  * Node List:");
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for n in &ws.nodes {
        if n.unclean {
            println!(
                "    * Node {}: UNCLEAN ({})",
                n.uname,
                if n.online { "online" } else { "offline" }
            );
        } else if n.online && n.standby {
            println!("    * Node {}: standby", n.uname);
        } else if n.online {
            online.push(n.uname.as_str());
        } else {
            offline.push(n.uname.as_str());
        }
    }
    if !online.is_empty() {
        println!("    * Online: [ {} ]", online.join(" "));
    }
    if !offline.is_empty() {
        println!("    * OFFLINE: [ {} ]", offline.join(" "));
    }
    println!();
    println!("  * Full List of Resources:");
    for &r in &ws.top {
        print_rsc(ws, r, 4);
    }
}

fn print_rsc(ws: &WorkingSet, r: usize, indent: usize) {
    let rsc = &ws.resources[r];
    let pad = " ".repeat(indent);
    match rsc.variant {
        Variant::Primitive => {
            let agent = format!(
                "{}{}:{}",
                rsc.class.as_deref().unwrap_or(""),
                rsc.provider
                    .as_deref()
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default(),
                rsc.agent.as_deref().unwrap_or("")
            );
            let state = if rsc.running_on.is_empty() {
                "Stopped".to_string()
            } else {
                let nodes: Vec<&str> = rsc
                    .running_on
                    .iter()
                    .map(|&n| ws.nodes[n].uname.as_str())
                    .collect();
                format!("{} {}", rsc.role.as_str(), nodes.join(" "))
            };
            let flags = if !rsc.has(rf::MANAGED) {
                " (unmanaged)"
            } else {
                ""
            };
            println!("{pad}* {}\t({agent}):\t {state}{flags}", rsc.id);
        }
        _ => {
            let kind = match rsc.variant {
                Variant::Group => "Resource Group",
                Variant::Clone => "Clone Set",
                _ => "Container bundle",
            };
            println!("{pad}* {kind}: {}:", rsc.id);
            for &c in &rsc.children {
                print_rsc(ws, c, indent + 2);
            }
        }
    }
}

#[allow(dead_code)]
fn unused(_: Element) {}

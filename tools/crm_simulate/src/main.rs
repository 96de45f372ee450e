//! crm_simulate: run the policy engine over a CIB and show what the cluster
//! would do, with Pacemaker's options and output sections.

use std::io::Read;
use std::process::ExitCode;
use std::rc::Rc;

use cib_xml::time::DateTime;
use cib_xml::{Element, Limits};
use clap::Parser;
use pengine::output::{
    executed_with_failures, format_summary, summary, ExecLine, SummaryLine, TextOut,
};

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
    /// Show node attributes.
    #[arg(short = 'A', long = "show-attrs")]
    show_attrs: bool,
    /// Show resource fail counts.
    #[arg(short = 'c', long = "show-failcounts")]
    show_failcounts: bool,
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
    /// Simulate bringing a node online.
    #[arg(short = 'u', long = "node-up", value_name = "NODE")]
    node_up: Vec<String>,
    /// Simulate taking a node offline.
    #[arg(short = 'd', long = "node-down", value_name = "NODE")]
    node_down: Vec<String>,
    /// Simulate a node failing.
    #[arg(short = 'f', long = "node-fail", value_name = "NODE")]
    node_fail: Vec<String>,
    /// Inject an operation result: rsc_task_interval@node=rc.
    #[arg(short = 'i', long = "op-inject", value_name = "OPSPEC")]
    op_inject: Vec<String>,
    /// Make an operation of the simulated transition fail: rsc_task_interval@node=rc.
    #[arg(short = 'F', long = "op-fail", value_name = "OPSPEC")]
    op_fail: Vec<String>,
    /// Set to 1 (or true) to say the cluster has quorum.
    #[arg(short = 'q', long = "quorum", value_name = "QUORUM")]
    quorum: Option<String>,
    /// Set to 1 (or true) to say the cluster has an active watchdog device.
    #[arg(short = 'w', long = "watchdog", value_name = "DEVICE")]
    watchdog: Option<String>,
    /// Simulate granting a ticket.
    #[arg(short = 'g', long = "ticket-grant", value_name = "TICKET")]
    ticket_grant: Vec<String>,
    /// Simulate revoking a ticket.
    #[arg(short = 'r', long = "ticket-revoke", value_name = "TICKET")]
    ticket_revoke: Vec<String>,
    /// Simulate making a ticket standby.
    #[arg(short = 'b', long = "ticket-standby", value_name = "TICKET")]
    ticket_standby: Vec<String>,
    /// Simulate activating a ticket.
    #[arg(short = 'e', long = "ticket-activate", value_name = "TICKET")]
    ticket_activate: Vec<String>,
    /// Save the input configuration (after modifications) to this file.
    #[arg(short = 'I', long = "save-input", value_name = "FILE")]
    save_input: Option<String>,
    /// Like --simulate, and store the result back in the input file.
    #[arg(short = 'X', long = "in-place")]
    in_place: bool,
    /// Output format (text or xml).
    #[arg(long = "output-as", value_name = "FORMAT", default_value = "text")]
    output_as: String,
}

/// Set once the output format is known: errors are then reported in the
/// XML result too.
static XML_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The XML result document crm_simulate --output-as=xml prints.
fn xml_result() -> Element {
    let request: Vec<String> = std::env::args().collect();
    Element::new("pacemaker-result")
        .with_attr("api-version", "2.25")
        .with_attr("request", &request.join(" "))
}

fn status_element(code: u8, error: Option<&str>) -> Element {
    let mut st = Element::new("status")
        .with_attr("code", &code.to_string())
        .with_attr("message", clitools::exit::text(code));
    if let Some(msg) = error {
        let mut errors = Element::new("errors");
        let mut e = Element::new("error");
        e.text = Some(msg.to_string());
        errors.children.push(e);
        st.children.push(errors);
    }
    st
}

fn die(code: u8, msg: &str) -> ExitCode {
    if XML_MODE.load(std::sync::atomic::Ordering::Relaxed) {
        let mut doc = xml_result();
        doc.children.push(status_element(code, Some(msg)));
        println!("{}", doc.to_pretty().trim_end());
    } else {
        eprintln!("crm_simulate: {msg}");
    }
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
    let xml_mode = match args.output_as.as_str() {
        "text" => false,
        "xml" => true,
        other => {
            return die(
                EXIT_USAGE,
                &format!("unsupported output format '{other}' (text or xml)"),
            )
        }
    };
    XML_MODE.store(xml_mode, std::sync::atomic::Ordering::Relaxed);
    let mut xml = xml_result();
    let text = if let Some(f) = &args.xml_file {
        // Saved scheduler inputs (pe-input-N.bz2) are bzip2-compressed.
        match cib_xml::compressed::read_text(std::path::Path::new(f)) {
            Ok(s) => s,
            Err(e) if std::path::Path::new(f).exists() => return die(EXIT_DATAERR, &e),
            Err(e) => return die(EXIT_NOINPUT, &e),
        }
    } else if args.xml_pipe {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            return die(EXIT_NOINPUT, &format!("could not read standard input: {e}"));
        }
        s
    } else if args.live_check {
        match live_cib() {
            Ok(t) => t,
            Err(why) => return die(EXIT_NOINPUT, &format!("CIB query failed: {why}")),
        }
    } else {
        return die(EXIT_USAGE, "no input given (use -x FILE, -p or -L)");
    };
    let mut cib = match cib_xml::xml::parse(&text, &Limits::default()) {
        Ok(c) => Rc::new(c),
        Err(e) => return die(EXIT_DATAERR, &format!("invalid CIB: {e}")),
    };
    // The line crm_simulate prints each time it (re)reads the input.
    let date_line = if let Some(t) = &args.set_datetime {
        if DateTime::parse(t).is_none() {
            return die(EXIT_USAGE, &format!("invalid date/time '{t}'"));
        }
        Some(format!("Setting effective cluster time: {t}"))
    } else {
        cib.attr("execution-date")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|ed| {
                format!(
                    "Using the original execution date of: {}",
                    DateTime(ed).to_iso()
                )
            })
    };
    let now = if let Some(t) = &args.set_datetime {
        DateTime::parse(t).unwrap_or(DateTime(0))
    } else if let Some(ed) = cib
        .attr("execution-date")
        .and_then(|v| v.parse::<i64>().ok())
    {
        DateTime(ed)
    } else {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        DateTime(secs)
    };
    let _ = args.verbose;
    let injections = requested_injections(&args);
    let simulate = args.simulate || args.in_place;
    let process = simulate
        || args.run
        || args.show_scores
        || args.show_utilization
        || args.save_graph.is_some()
        || args.save_dotfile.is_some();
    // Pacemaker prints plain text (no list titles or bullets) when scores
    // or utilization are shown.
    let fancy = !(args.show_scores || args.show_utilization);
    let opts = pengine::Options {
        show_scores: args.show_scores,
        show_utilization: args.show_utilization,
        sanitized: args.xml_file.is_some(),
    };
    let status_opts = pengine::status::StatusOptions {
        show_pending: true,
        attributes: args.show_attrs,
        failcounts: args.show_failcounts,
        hide_inactive: false,
    };
    let secs = now.0;
    let mut out = TextOut::new();
    let mut printed = false;
    if !args.quiet {
        if let Some(l) = &date_line {
            out.raw(l.clone());
        }
        // The status before any synthetic events.
        match pengine::unpack_cib(Rc::clone(&cib), now, &pengine::Options::default()) {
            Ok(before) => {
                let preamble = pengine::status::status_preamble(&before);
                printed = !preamble.is_empty();
                for l in preamble {
                    out.raw(l);
                }
                if printed {
                    out.spacer();
                }
                pengine::status::cluster_status(
                    &before,
                    "Current cluster status",
                    &status_opts,
                    &mut out,
                );
                xml.children.push(pengine::status::cluster_status_xml(
                    &before,
                    "cluster_status",
                    true,
                ));
                printed = true;
                drop(before);
            }
            Err(e) => return die(EXIT_DATAERR, &e.to_string()),
        }
    }
    if !injections.is_empty() {
        let list: Vec<_> = injections.iter().map(|(i, _)| i.clone()).collect();
        let notes = match pengine::simulate::inject(Rc::make_mut(&mut cib), &list, secs) {
            Ok(n) => n,
            Err(e) => return die(EXIT_USAGE, &e),
        };
        if !args.quiet {
            if printed {
                out.spacer();
            }
            out.begin("Performing Requested Modifications");
            for (_, what) in &injections {
                out.item(what.clone());
            }
            for n in &notes {
                out.item(n.clone());
            }
            out.end();
            xml.children.push(modifications_xml(&injections, &notes));
            if let Some(l) = &date_line {
                out.raw(l.clone());
            }
            printed = true;
        }
    }
    if let Some(f) = &args.save_input {
        if let Err(e) = write_atomic(f, &cib.to_pretty()) {
            return die(EXIT_ERROR, &format!("could not write {f}: {e}"));
        }
    }
    if !process {
        finish(&out, fancy, xml_mode.then_some(xml));
        return ExitCode::from(EXIT_OK);
    }
    let mut ws = match pengine::schedule(Rc::clone(&cib), now, &opts) {
        Ok(ws) => ws,
        Err(e) => return die(EXIT_DATAERR, &e.to_string()),
    };
    if args.show_scores || args.show_utilization {
        if printed {
            out.spacer();
        }
        out.begin(match (args.show_scores, args.show_utilization) {
            (true, true) => "Allocation Scores and Utilization Information",
            (true, false) => "Allocation Scores",
            _ => "Utilization Information",
        });
        let mut scores = Element::new(match (args.show_scores, args.show_utilization) {
            (true, true) => "allocations_utilizations",
            (true, false) => "allocations",
            _ => "utilizations",
        });
        for l in &ws.score_lines {
            out.item(l.clone());
            if let Some(e) = score_xml(l) {
                scores.children.push(e);
            }
        }
        out.end();
        xml.children.push(scores);
        printed = true;
    }
    let lines = summary(&mut ws);
    if !args.quiet {
        if printed {
            out.spacer();
        }
        out.begin("Transition Summary");
        for l in format_summary(&lines) {
            out.item(l);
        }
        out.end();
        let mut actions = Element::new("actions");
        for l in &lines {
            actions.children.push(match l {
                SummaryLine::Node(_, x) => x.clone(),
                SummaryLine::Resource(i) => i.xml.clone(),
            });
        }
        xml.children.push(actions);
        printed = true;
    }
    if let Some(g) = &args.save_graph {
        let text = pengine::graph::transition_graph(&ws, 0).to_pretty();
        if let Err(e) = write_atomic(g, &text) {
            return die(EXIT_ERROR, &format!("could not write {g}: {e}"));
        }
    }
    if let Some(d) = &args.save_dotfile {
        if let Err(e) = write_atomic(d, &pengine::graph::dot(&ws)) {
            return die(EXIT_ERROR, &format!("could not write {d}: {e}"));
        }
    }
    if simulate {
        if !args.quiet {
            if printed {
                out.spacer();
            }
            out.begin("Executing Cluster Transition");
            let mut transition = Element::new("transition");
            for l in executed_with_failures(&ws, &args.op_fail, secs) {
                match l {
                    ExecLine::Action(t, x) => {
                        out.item(t);
                        transition.children.push(x);
                    }
                    ExecLine::Note(t) => out.raw(t),
                }
            }
            out.end();
            xml.children.push(transition);
        }
        // The CIB is shared with the working set: release that share so
        // recording the results does not copy the whole CIB.
        ws.release_cib();
        pengine::simulate::execute(Rc::make_mut(&mut cib), &ws, &args.op_fail, secs);
        if !args.quiet {
            match pengine::unpack_cib(Rc::clone(&cib), now, &pengine::Options::default()) {
                Ok(after) => {
                    if let Some(l) = &date_line {
                        out.raw(l.clone());
                    }
                    out.spacer();
                    let revised = pengine::status::StatusOptions {
                        show_pending: false,
                        ..status_opts
                    };
                    pengine::status::cluster_status(
                        &after,
                        "Revised Cluster Status",
                        &revised,
                        &mut out,
                    );
                    xml.children.push(pengine::status::cluster_status_xml(
                        &after,
                        "revised_cluster_status",
                        false,
                    ));
                    std::mem::forget(after);
                }
                Err(e) => return die(EXIT_DATAERR, &e.to_string()),
            }
        }
    }
    finish(&out, fancy, xml_mode.then_some(xml));
    let output = args.save_output.clone().or(if args.in_place {
        args.xml_file.clone()
    } else {
        None
    });
    if let Some(o) = output {
        if let Err(e) = write_atomic(&o, &cib.to_pretty()) {
            return die(EXIT_ERROR, &format!("could not write {o}: {e}"));
        }
    }
    // The working set holds the whole CIB and every action; freeing it
    // piece by piece costs as much as building it, and the process ends.
    std::mem::forget(ws);
    ExitCode::from(EXIT_OK)
}

/// The live CIB (-L): the shadow CIB named by CIB_shadow or the file
/// named by CIB_file when set, as every Pacemaker tool does, else a query
/// to this node's cib daemon.
fn live_cib() -> Result<String, String> {
    clitools::query_cib_text(std::time::Duration::from_secs(30)).map_err(|e| e.message)
}

/// Writes an output file atomically (a reader never sees half of it).
fn write_atomic(path: &str, text: &str) -> std::io::Result<()> {
    plumbing::fs::write_atomic(std::path::Path::new(path), text.as_bytes(), 0o644)
}

/// The synthetic events of the command line, with the line announcing each.
fn requested_injections(args: &Args) -> Vec<(pengine::simulate::Injection, String)> {
    use pengine::simulate::Injection;
    let mut v = Vec::new();
    if let Some(q) = &args.quorum {
        v.push((Injection::Quorum(q.clone()), format!("Setting quorum: {q}")));
    }
    if let Some(w) = &args.watchdog {
        v.push((
            Injection::Watchdog(w.clone()),
            format!("Setting watchdog: {w}"),
        ));
    }
    for n in &args.node_up {
        v.push((
            Injection::NodeUp(n.clone()),
            format!("Bringing node {n} online"),
        ));
    }
    for n in &args.node_down {
        v.push((
            Injection::NodeDown(n.clone()),
            format!("Taking node {n} offline"),
        ));
    }
    for n in &args.node_fail {
        v.push((Injection::NodeFail(n.clone()), format!("Failing node {n}")));
    }
    for t in &args.ticket_grant {
        v.push((
            Injection::TicketGrant(t.clone()),
            format!("Granting ticket {t}"),
        ));
    }
    for t in &args.ticket_revoke {
        v.push((
            Injection::TicketRevoke(t.clone()),
            format!("Revoking ticket {t}"),
        ));
    }
    for t in &args.ticket_standby {
        v.push((
            Injection::TicketStandby(t.clone()),
            format!("Making ticket {t} standby"),
        ));
    }
    for t in &args.ticket_activate {
        v.push((
            Injection::TicketActivate(t.clone()),
            format!("Activating ticket {t}"),
        ));
    }
    for s in &args.op_inject {
        v.push((
            Injection::Op(s.clone()),
            format!("Injecting {s} into the configuration"),
        ));
    }
    v
}

/// Prints the text output, or the XML result when asked for.
fn finish(out: &TextOut, fancy: bool, xml: Option<Element>) {
    match xml {
        Some(mut doc) => {
            doc.children.push(status_element(EXIT_OK, None));
            println!("{}", doc.to_pretty().trim_end());
        }
        None => print_out(out, fancy),
    }
}

/// Utilization values (` k=v` each) as child elements `<k>v</k>`.
fn add_utilization(e: &mut Element, util: &str) {
    for kv in util.split_whitespace() {
        if let Some((k, v)) = kv.split_once('=') {
            let mut c = Element::new(k);
            c.text = Some(v.to_string());
            e.children.push(c);
        }
    }
}

/// The XML form of a score or utilization line, as Pacemaker's XML output
/// gives them (node_weight, promotion_score, capacity, utilization).
fn score_xml(line: &str) -> Option<Element> {
    // "RSC promotion score on NODE: SCORE" ("none" when unassigned).
    if let Some((rsc, rest)) = line.split_once(" promotion score on ") {
        let (node, score) = rest.rsplit_once(": ")?;
        let mut e = Element::new("promotion_score")
            .with_attr("id", rsc)
            .with_attr("score", score);
        if node != "none" {
            e.set_attr("node", node);
        }
        return Some(e);
    }
    let (func, rest) = line.split_once(": ")?;
    // "Original: NODE capacity: k=v ..." / "Remaining: ..."
    if let Some((node, util)) = rest.split_once(" capacity:") {
        let mut e = Element::new("capacity")
            .with_attr("node", node)
            .with_attr("comment", func);
        add_utilization(&mut e, util);
        return Some(e);
    }
    // "FUNC: RSC utilization on NODE: k=v ..."
    if let Some((rsc, rest)) = rest.split_once(" utilization on ") {
        let (node, util) = rest.split_once(':')?;
        let mut e = Element::new("utilization")
            .with_attr("resource", rsc)
            .with_attr("node", node)
            .with_attr("function", func);
        add_utilization(&mut e, util);
        return Some(e);
    }
    // "FUNC: RSC allocation score on NODE: SCORE" or "FUNC: NODE = SCORE".
    if let Some((rsc, rest)) = rest.split_once(" allocation score on ") {
        let (node, score) = rest.rsplit_once(": ")?;
        return Some(
            Element::new("node_weight")
                .with_attr("function", func)
                .with_attr("node", node)
                .with_attr("score", score)
                .with_attr("id", rsc),
        );
    }
    let (node, score) = rest.split_once(" = ")?;
    Some(
        Element::new("node_weight")
            .with_attr("function", func)
            .with_attr("node", node)
            .with_attr("score", score),
    )
}

/// The `<modifications>` element for the requested injections.
fn modifications_xml(
    injections: &[(pengine::simulate::Injection, String)],
    notes: &[String],
) -> Element {
    use pengine::simulate::Injection;
    let mut m = Element::new("modifications");
    for (i, _) in injections {
        let (name, action, key, value) = match i {
            Injection::Quorum(q) => {
                m.set_attr("quorum", q);
                continue;
            }
            Injection::Watchdog(w) => {
                m.set_attr("watchdog", w);
                continue;
            }
            Injection::Op(spec) => {
                m.children
                    .push(Element::new("inject_spec").with_attr("spec", spec));
                continue;
            }
            Injection::NodeUp(n) => ("modify_node", "Online", "node", n),
            Injection::NodeDown(n) => ("modify_node", "Offline", "node", n),
            Injection::NodeFail(n) => ("modify_node", "Failing", "node", n),
            Injection::TicketGrant(t) => ("modify_ticket", "Granting", "ticket", t),
            Injection::TicketRevoke(t) => ("modify_ticket", "Revoking", "ticket", t),
            Injection::TicketStandby(t) => ("modify_ticket", "Standby", "ticket", t),
            Injection::TicketActivate(t) => ("modify_ticket", "Activating", "ticket", t),
        };
        m.children.push(
            Element::new(name)
                .with_attr("action", action)
                .with_attr(key, value),
        );
    }
    // The notes read "Injecting attribute NAME=VALUE into PATH 'ID'".
    for n in notes {
        let Some(rest) = n.strip_prefix("Injecting attribute ") else {
            continue;
        };
        let Some((assign, target)) = rest.split_once(" into ") else {
            continue;
        };
        let Some((name, value)) = assign.split_once('=') else {
            continue;
        };
        let (path, id) = target.split_once(' ').unwrap_or((target, ""));
        m.children.push(
            Element::new("inject_attr")
                .with_attr("name", name)
                .with_attr("value", value)
                .with_attr("node_path", path)
                .with_attr("cib_node", id.trim_matches('\'')),
        );
    }
    m
}

/// Writes the output in the chosen style.
fn print_out(out: &TextOut, fancy: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for l in out.render(fancy) {
        if writeln!(stdout, "{l}").is_err() {
            return;
        }
    }
}

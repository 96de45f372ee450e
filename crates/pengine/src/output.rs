//! What crm_simulate prints from a scheduled working set: the Transition
//! Summary lines and the actions "executed" by the simulated transition.

use cib_xml::{Element, Role};

use crate::actions::{find_actions, rsc_actions};
use crate::model::*;
use crate::util::op_key;

/// One summary line before column formatting.
#[derive(Debug, Clone)]
pub struct SummaryItem {
    pub change: String,
    pub rsc: String,
    pub details: String,
    pub reason: Option<String>,
    /// The same change as crm_simulate's XML output gives it.
    pub xml: Element,
}

/// A line of the Transition Summary, either a node action (already a
/// whole line) or a resource change.
#[derive(Debug, Clone)]
pub enum SummaryLine {
    /// A node action: the line and its XML form.
    Node(String, Element),
    Resource(SummaryItem),
}

/// Formats summary lines (list items, without the bullet) with Pacemaker's column widths (computed over all
/// lines first, as its hidden logging pass does).
pub fn format_summary(lines: &[SummaryLine]) -> Vec<String> {
    let mut rsc_width = 5usize;
    let mut detail_width = 5usize;
    for l in lines {
        if let SummaryLine::Resource(i) = l {
            if i.rsc.len() > rsc_width {
                rsc_width = i.rsc.len() + 2;
            }
            if i.details.len() > detail_width {
                detail_width = i.details.len();
            }
        }
    }
    lines
        .iter()
        .map(|l| match l {
            SummaryLine::Node(s, _) => s.clone(),
            SummaryLine::Resource(i) => {
                let reason = i
                    .reason
                    .as_deref()
                    .map(|r| format!("  {r}"))
                    .unwrap_or_default();
                format!(
                    "{:<8}   {:<rw$}   ( {:>dw$} ){}",
                    i.change,
                    i.rsc,
                    i.details,
                    reason,
                    rw = rsc_width,
                    dw = detail_width
                )
            }
        })
        .collect()
}

fn is_guest(ws: &WorkingSet, n: NodeId) -> bool {
    crate::actions::is_guest_node(ws, n)
}

/// pcmk__output_actions.
pub fn summary(ws: &mut WorkingSet) -> Vec<SummaryLine> {
    let mut out = Vec::new();
    for a in (0..ws.actions.len()).rev() {
        let act = &ws.actions[a];
        if act.rsc.is_some() || act.has(af::OPTIONAL) {
            continue;
        }
        let task = if act.task.eq_ignore_ascii_case("do_shutdown") {
            "Shutdown".to_string()
        } else if act.task.eq_ignore_ascii_case("stonith") {
            format!(
                "Fence ({})",
                act.meta
                    .get("stonith_action")
                    .map(String::as_str)
                    .unwrap_or("")
            )
        } else {
            continue;
        };
        let node_name = act.node.map(|n| {
            if is_guest(ws, n) {
                let container = ws.nodes[n]
                    .remote_rsc
                    .and_then(|r| ws.resources[r].container)
                    .map(|c| ws.resources[c].id.clone())
                    .unwrap_or_default();
                format!("{} (resource: {container})", ws.nodes[n].uname)
            } else {
                ws.nodes[n].uname.clone()
            }
        });
        if let Some(reason) = &act.reason {
            let xml = Element::new("node_action")
                .with_attr("task", &task)
                .with_attr("node", node_name.as_deref().unwrap_or(""))
                .with_attr("reason", reason);
            out.push(SummaryLine::Node(
                format!("{task} {} '{reason}'", node_name.unwrap_or_default()),
                xml,
            ));
        }
    }
    for r in ws.top.clone() {
        output_resource(ws, r, &mut out);
    }
    out
}

fn output_resource(ws: &mut WorkingSet, r: RscId, out: &mut Vec<SummaryLine>) {
    if !ws.resources[r].children.is_empty() {
        for c in ws.resources[r].children.clone() {
            output_resource(ws, c, out);
        }
        return;
    }
    let next = ws.resources[r].assigned;
    let mut current = None;
    if !ws.resources[r].running_on.is_empty() {
        current = crate::create::current_node(ws, r);
        if ws.resources[r].role == Role::Stopped {
            ws.resources[r].role = Role::Started;
        }
    }
    if current.is_none() && ws.resources[r].has(rf::ORPHAN) {
        return;
    }
    rsc_action_default(ws, r, current, next, out);
}

fn item(
    ws: &WorkingSet,
    change: &str,
    r: RscId,
    origin: Option<NodeId>,
    destination: Option<NodeId>,
    action: Option<ActionId>,
    source: Option<ActionId>,
) -> SummaryLine {
    let rsc = &ws.resources[r];
    let source = source.or(action);
    let need_role = rsc.role > Role::Started || rsc.next_role > Role::Unpromoted;
    let same_host = matches!((origin, destination), (Some(a), Some(b)) if a == b);
    let same_role = rsc.role == rsc.next_role;
    let name = |n: Option<NodeId>| n.map(|n| ws.nodes[n].uname.clone()).unwrap_or_default();
    let (role, next_role) = (rsc.role.as_str(), rsc.next_role.as_str());
    let details = if need_role && origin.is_none() {
        format!("{role} -> {next_role} {}", name(destination))
    } else if origin.is_none() {
        name(destination)
    } else if need_role && destination.is_none() {
        format!("{role} {}", name(origin))
    } else if destination.is_none() {
        name(origin)
    } else if need_role && same_role && same_host {
        format!("{role} {}", name(origin))
    } else if same_role && same_host {
        name(origin)
    } else if need_role && same_role {
        format!("{} -> {} {role}", name(origin), name(destination))
    } else if same_role {
        format!("{} -> {}", name(origin), name(destination))
    } else if same_host {
        format!("{role} -> {next_role} {}", name(origin))
    } else {
        format!(
            "{role} {} -> {next_role} {}",
            name(origin),
            name(destination)
        )
    };
    let runnable = action.is_none_or(|a| ws.actions[a].has(af::RUNNABLE));
    let source_reason = source.and_then(|s| ws.actions[s].reason.clone());
    let reason = match &source_reason {
        Some(r) if !runnable => Some(format!("due to {r} (blocked)")),
        Some(r) => Some(format!("due to {r}")),
        None if !runnable => Some("blocked".to_string()),
        None => None,
    };
    // The XML form names the same nodes and roles as attributes.
    let mut xml = Element::new("rsc_action")
        .with_attr("action", &change.to_ascii_lowercase())
        .with_attr("resource", &rsc.id);
    let attrs: Vec<(&str, String)> = if need_role && origin.is_none() {
        vec![
            ("role", role.into()),
            ("next-role", next_role.into()),
            ("dest", name(destination)),
        ]
    } else if origin.is_none() {
        vec![("node", name(destination))]
    } else if need_role && destination.is_none() {
        vec![("role", role.into()), ("node", name(origin))]
    } else if destination.is_none() {
        vec![("node", name(origin))]
    } else if need_role && same_role && same_host {
        vec![("role", role.into()), ("source", name(origin))]
    } else if same_role && same_host {
        vec![("source", name(origin))]
    } else if need_role && same_role {
        vec![
            ("source", name(origin)),
            ("dest", name(destination)),
            ("role", role.into()),
        ]
    } else if same_role {
        vec![("source", name(origin)), ("dest", name(destination))]
    } else if same_host {
        vec![
            ("role", role.into()),
            ("next-role", next_role.into()),
            ("source", name(origin)),
        ]
    } else {
        vec![
            ("role", role.into()),
            ("source", name(origin)),
            ("next-role", next_role.into()),
            ("dest", name(destination)),
        ]
    };
    for (k, v) in attrs {
        xml.set_attr(k, &v);
    }
    match &source_reason {
        Some(r) => {
            xml.set_attr("reason", r);
            if !runnable {
                xml.set_attr("blocked", "true");
            }
        }
        None if !runnable => xml.set_attr("blocked", "true"),
        None => {}
    }
    SummaryLine::Resource(SummaryItem {
        change: change.to_string(),
        rsc: rsc.id.clone(),
        details,
        reason,
        xml,
    })
}

fn first(v: Vec<ActionId>) -> Option<ActionId> {
    v.into_iter().next()
}

/// rsc_action_default: the one summary line (or lines) for a primitive.
fn rsc_action_default(
    ws: &mut WorkingSet,
    r: RscId,
    current: Option<NodeId>,
    next: Option<NodeId>,
    out: &mut Vec<SummaryLine>,
) {
    if !ws.resources[r].has(rf::MANAGED) || (current.is_none() && next.is_none()) {
        return;
    }
    let moving = matches!((current, next), (Some(c), Some(n)) if c != n);
    let start = first(rsc_actions(ws, r, next, "start", false));
    let start_node = match start {
        Some(s) if ws.actions[s].has(af::RUNNABLE) => current,
        _ => None,
    };
    let mut stop = first(rsc_actions(ws, r, start_node, "stop", false));
    if stop.is_none() && ws.resources[r].has(rf::STOP_UNEXPECTED) {
        stop = first(rsc_actions(ws, r, None, "stop", false));
    }
    let promote = first(rsc_actions(ws, r, next, "promote", false));
    let demote = first(rsc_actions(ws, r, next, "demote", false));
    let rsc = &ws.resources[r];
    let (role, next_role) = (rsc.role, rsc.next_role);
    let failed = rsc.has(rf::FAILED);
    let reload = rsc.has(rf::RELOAD);
    if role == next_role {
        let Some(nx) = next else { return };
        let migrate = first(rsc_actions(ws, r, Some(nx), "migrate_from", false));
        if let (Some(m), Some(_)) = (migrate, current) {
            if ws.actions[m].has(af::RUNNABLE) {
                out.push(item(ws, "Migrate", r, current, next, start, None));
                return;
            }
        }
        if reload {
            out.push(item(ws, "Reload", r, current, next, start, None));
        } else if start.is_none_or(|s| ws.actions[s].has(af::OPTIONAL)) {
            if let (Some(d), Some(p)) = (demote, promote) {
                if !ws.actions[d].has(af::OPTIONAL) && !ws.actions[p].has(af::OPTIONAL) {
                    out.push(item(ws, "Re-promote", r, current, next, Some(p), Some(d)));
                }
            }
        } else if start.is_some_and(|s| !ws.actions[s].has(af::RUNNABLE)) {
            let src = if stop.is_some_and(|s| ws.actions[s].reason.is_some()) {
                stop
            } else {
                start
            };
            out.push(item(ws, "Stop", r, current, None, stop, src));
        } else if moving && current.is_some() {
            out.push(item(
                ws,
                if failed { "Recover" } else { "Move" },
                r,
                current,
                next,
                stop,
                None,
            ));
        } else if failed {
            out.push(item(ws, "Recover", r, current, None, stop, None));
        } else {
            out.push(item(ws, "Restart", r, current, next, start, None));
        }
        return;
    }
    if stop.is_some()
        && (next_role == Role::Stopped || start.is_some_and(|s| !ws.actions[s].has(af::RUNNABLE)))
    {
        let key = op_key(&ws.resources[r].id.clone(), "stop", 0);
        for n in ws.resources[r].running_on.clone() {
            let stop_op = first(find_actions(ws, Some(r), &key, Some(n)));
            let src = if stop_op.is_some_and(|s| ws.actions[s].reason.is_some()) {
                stop_op
            } else {
                start
            };
            out.push(item(ws, "Stop", r, Some(n), None, stop_op, src));
        }
    } else if stop.is_some() && ws.resources[r].has(rf::FAILED) && ws.resources[r].has(rf::STOP) {
        out.push(item(ws, "Recover", r, current, next, stop, start));
    } else if moving {
        out.push(item(ws, "Move", r, current, next, stop, None));
    } else if reload {
        out.push(item(ws, "Reload", r, current, next, start, None));
    } else if stop.is_some_and(|s| !ws.actions[s].has(af::OPTIONAL)) {
        out.push(item(ws, "Restart", r, current, next, start, None));
    } else if role == Role::Promoted {
        out.push(item(ws, "Demote", r, current, next, demote, None));
    } else if next_role == Role::Promoted {
        out.push(item(ws, "Promote", r, current, next, promote, None));
    } else if role == Role::Stopped && next_role > Role::Stopped {
        out.push(item(ws, "Start", r, current, next, start, None));
    }
}

/// should_add_action_to_graph.
pub(crate) fn in_graph(ws: &WorkingSet, a: ActionId) -> bool {
    let act = &ws.actions[a];
    if !act.has(af::RUNNABLE) {
        return false;
    }
    if act.has(af::OPTIONAL) && !act.has(af::PRINT_ALWAYS) {
        return false;
    }
    if let Some(r) = act.rsc {
        if !ws.resources[r].has(rf::MANAGED) && act.task != "monitor" {
            let interval = act.meta.get("interval").map(String::as_str).unwrap_or("0");
            if interval == "0" {
                return false;
            }
        }
    }
    if act.has(af::PSEUDO) || act.task == "stonith" || act.task == "do_shutdown" {
        return true;
    }
    let Some(n) = act.node else { return false };
    if act.has(af::DC) {
        return true;
    }
    if crate::actions::is_guest_node(ws, n) && !ws.nodes[n].remote_requires_reset {
        return true;
    }
    ws.nodes[n].online && !ws.nodes[n].unclean
}

/// The lines crm_simulate prints while executing the transition, in the
/// order a simulated run of the graph fires the actions.
pub fn executed(ws: &WorkingSet) -> Vec<String> {
    executed_with_failures(ws, &[], 0)
        .into_iter()
        .filter_map(|l| match l {
            ExecLine::Action(t, _) => Some(t),
            ExecLine::Note(_) => None,
        })
        .collect()
}

/// A line of the "Executing Cluster Transition" section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecLine {
    /// An executed action (a list item) and its XML form.
    Action(String, Element),
    /// A remark printed as it is (an injected failure).
    Note(String),
}

/// Like [`executed`], with the actions the -F specs make fail (a failure
/// aborts the rest of the transition) and a note after each failed one.
pub fn executed_with_failures(ws: &WorkingSet, op_fail: &[String], now: i64) -> Vec<ExecLine> {
    let fails = crate::simulate::parse_fail_specs(op_fail);
    let run = crate::graph::simulated_run(ws, &|a| {
        crate::simulate::injected_rc(ws, &fails, a).is_some()
    });
    let mut lines = Vec::new();
    for (a, failed) in run {
        if let Some(line) = action_line(ws, a) {
            lines.push(line);
        }
        if failed {
            let rc = crate::simulate::injected_rc(ws, &fails, a).unwrap_or(1);
            lines.push(ExecLine::Note(format!(
                "Pretending action {} failed with rc={rc}",
                ws.actions[a].id
            )));
            // The failure is recorded as the controller would: a fail
            // count bump and the time of the failure.
            let act = &ws.actions[a];
            if let (Some(r), Some(n)) = (act.rsc, act.node) {
                let rsc = &ws.resources[r];
                let name = crate::util::clone_strip(rsc.clone_name.as_deref().unwrap_or(&rsc.id));
                let key = format!("{name}#{}_{}", act.task, act.interval_ms);
                let node_id = &ws.nodes[n].id;
                for (name, value) in [
                    (format!("fail-count-{key}"), "value++".to_string()),
                    (format!("last-failure-{key}"), now.to_string()),
                ] {
                    let xml = Element::new("inject_attr")
                        .with_attr("name", &name)
                        .with_attr("value", &value)
                        .with_attr("node_path", "/node_state")
                        .with_attr("cib_node", node_id);
                    lines.push(ExecLine::Action(
                        format!("Injecting attribute {name}={value} into /node_state '{node_id}'"),
                        xml,
                    ));
                }
            }
        }
    }
    lines
}

/// The executed-action line of action `a` with its XML form, if it prints one.
fn action_line(ws: &WorkingSet, a: ActionId) -> Option<ExecLine> {
    let act = &ws.actions[a];
    let node = act
        .node
        .map(|n| ws.nodes[n].uname.clone())
        .unwrap_or_default();
    if act.has(af::PSEUDO) {
        let mut xml = Element::new("pseudo_action").with_attr("task", &act.key);
        if act.task == "stonith" && !node.is_empty() {
            xml.set_attr("node", &node);
            return Some(ExecLine::Action(
                format!("Pseudo action:   {} on {node}", act.key),
                xml,
            ));
        }
        return Some(ExecLine::Action(
            format!("Pseudo action:   {}", act.key),
            xml,
        ));
    }
    let line = match act.task.as_str() {
        "stonith" => {
            let op = act
                .meta
                .get("stonith_action")
                .map(String::as_str)
                .unwrap_or("reboot");
            let xml = Element::new("fencing_action")
                .with_attr("target", &node)
                .with_attr("op", op);
            ExecLine::Action(format!("Fencing {node} ({op})"), xml)
        }
        "do_shutdown" | "probe_complete" => {
            let xml = Element::new("cluster_action")
                .with_attr("task", &act.task)
                .with_attr("node", &node);
            ExecLine::Action(format!("Cluster action:  {} on {node}", act.task), xml)
        }
        "clear_failcount" | "lrm_delete" => {
            let rid = act.rsc.map(|r| display_name(ws, r)).unwrap_or_default();
            let xml = Element::new("cluster_action")
                .with_attr("task", &act.task)
                .with_attr("node", &node)
                .with_attr("id", &rid);
            ExecLine::Action(
                format!("Cluster action:  {} for {rid} on {node}", act.task),
                xml,
            )
        }
        _ => {
            let r = act.rsc?;
            let name = display_name(ws, r);
            let task = act.task.clone();
            let interval = act.interval_ms;
            let mut xml = Element::new("rsc_action")
                .with_attr("resource", &name)
                .with_attr("op", &task)
                .with_attr("node", &node);
            if interval > 0 {
                xml.set_attr("interval", &interval.to_string());
                ExecLine::Action(
                    format!("Resource action: {name:<15} {task}={interval} on {node}"),
                    xml,
                )
            } else {
                ExecLine::Action(format!("Resource action: {name:<15} {task} on {node}"), xml)
            }
        }
    };
    Some(line)
}

fn display_name(ws: &WorkingSet, r: RscId) -> String {
    let rsc = &ws.resources[r];
    match &rsc.clone_name {
        Some(c) if !ws.resources[r].has(rf::UNIQUE) => c.clone(),
        _ => rsc.id.clone(),
    }
}

/// One piece of Pacemaker-style text output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// Opens a (nested) list with a title.
    Begin(String),
    /// Closes the innermost list.
    End,
    /// A list item; the name, when given, is shown only in fancy text.
    Item(Option<String>, String),
    /// A blank line between sections.
    Spacer,
    /// A line printed as it is in both styles (Pacemaker's `info`).
    Raw(String),
}

/// Text output organised as Pacemaker's formatter organises it: nested
/// lists of items. Rendered "fancy" (list titles, `* ` bullets, two
/// spaces of indent per level; crm_simulate's default) or plain (items
/// only, as crm_simulate prints with --show-scores or --show-utilization).
#[derive(Debug, Clone, Default)]
pub struct TextOut {
    entries: Vec<Entry>,
}

impl TextOut {
    pub fn new() -> Self {
        TextOut::default()
    }
    pub fn begin(&mut self, title: impl Into<String>) {
        self.entries.push(Entry::Begin(title.into()));
    }
    pub fn end(&mut self) {
        self.entries.push(Entry::End);
    }
    pub fn item(&mut self, text: impl Into<String>) {
        self.entries.push(Entry::Item(None, text.into()));
    }
    /// An item with a name (`Online: [ ... ]`); plain text shows the value only.
    pub fn named(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.entries
            .push(Entry::Item(Some(name.into()), text.into()));
    }
    pub fn spacer(&mut self) {
        self.entries.push(Entry::Spacer);
    }
    pub fn raw(&mut self, text: impl Into<String>) {
        self.entries.push(Entry::Raw(text.into()));
    }
    /// Whether anything has been written.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Appends another output's entries.
    pub fn append(&mut self, other: TextOut) {
        self.entries.extend(other.entries);
    }

    /// The output's lines in the fancy or the plain style.
    pub fn render(&self, fancy: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let mut depth = 0usize;
        for e in &self.entries {
            match e {
                Entry::Begin(title) => {
                    if fancy {
                        if depth == 0 {
                            lines.push(format!("{title}:"));
                        } else {
                            lines.push(format!("{}* {title}:", "  ".repeat(depth)));
                        }
                    }
                    depth += 1;
                }
                Entry::End => depth = depth.saturating_sub(1),
                Entry::Item(name, text) => {
                    if !fancy {
                        lines.push(text.clone());
                    } else {
                        let pad = "  ".repeat(depth.max(1));
                        match name {
                            Some(n) => lines.push(format!("{pad}* {n}: {text}")),
                            None => lines.push(format!("{pad}* {text}")),
                        }
                    }
                }
                Entry::Spacer => lines.push(String::new()),
                Entry::Raw(text) => lines.push(text.clone()),
            }
        }
        lines
    }
}

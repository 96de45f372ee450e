//! Assignment of resources to nodes (Pacemaker's assign methods and
//! pcmk__sort_nodes / assign_best_node).

use std::cmp::Ordering;

use cib_xml::score::{add, readable, INFINITY};
use cib_xml::Role;

use crate::model::*;

/// pcmk__node_available for an allowed-table entry.
pub(crate) fn node_available(
    ws: &WorkingSet,
    n: NodeId,
    weight: i32,
    consider_score: bool,
) -> bool {
    let node = &ws.nodes[n];
    if !node.online || node.shutdown || node.unclean || node.standby || node.maintenance {
        return false;
    }
    if consider_score && weight < 0 {
        return false;
    }
    true
}

pub(crate) fn any_node_available(ws: &WorkingSet, table: &[Option<NodeScore>]) -> bool {
    table
        .iter()
        .enumerate()
        .any(|(n, e)| e.is_some_and(|e| node_available(ws, n, e.weight, true)))
}

/// compare_nodes: the node order assignment uses.
fn compare_nodes(
    ws: &WorkingSet,
    a: (NodeId, i32),
    b: (NodeId, i32),
    active: Option<NodeId>,
) -> Ordering {
    let wa = if node_available(ws, a.0, a.1, false) {
        a.1
    } else {
        -INFINITY
    };
    let wb = if node_available(ws, b.0, b.1, false) {
        b.1
    } else {
        -INFINITY
    };
    if wa != wb {
        return wb.cmp(&wa);
    }
    let strategy = ws.options.placement_strategy.as_str();
    if strategy != "minimal" {
        if strategy == "balanced" {
            match crate::utilization::compare_capacities(ws, a.0, b.0) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        let (ra, rb) = (ws.nodes[a.0].num_resources, ws.nodes[b.0].num_resources);
        if ra != rb {
            return ra.cmp(&rb);
        }
        if let Some(act) = active {
            if act == a.0 {
                return Ordering::Less;
            } else if act == b.0 {
                return Ordering::Greater;
            }
        }
    }
    ws.nodes[a.0]
        .uname
        .as_bytes()
        .cmp(ws.nodes[b.0].uname.as_bytes())
}

/// The allowed nodes of `r` sorted best first.
pub(crate) fn sorted_allowed(ws: &WorkingSet, r: RscId) -> Vec<(NodeId, i32)> {
    let active = crate::create::current_node(ws, r);
    let mut v: Vec<(NodeId, i32)> = ws.resources[r]
        .allowed
        .iter()
        .enumerate()
        .filter_map(|(n, e)| e.map(|e| (n, e.weight)))
        .collect();
    v.sort_by(|&a, &b| compare_nodes(ws, a, b, active));
    v
}

/// The allowed nodes of `r` sorted best first, without a current-node
/// preference (pcmk__sort_nodes(nodes, NULL)).
pub(crate) fn sorted_allowed_no_active(ws: &WorkingSet, r: RscId) -> Vec<(NodeId, i32)> {
    let mut v: Vec<(NodeId, i32)> = ws.resources[r]
        .allowed
        .iter()
        .enumerate()
        .filter_map(|(n, e)| e.map(|e| (n, e.weight)))
        .collect();
    v.sort_by(|&a, &b| compare_nodes(ws, a, b, None));
    v
}

/// Prints a resource's allowed-node table for `-s` (and its children's).
pub(crate) fn show_scores(ws: &mut WorkingSet, r: RscId, prefix: &str) {
    if !ws.show_scores || ws.resources[r].has(rf::ORPHAN) {
        return;
    }
    let id = ws.resources[r].id.clone();
    for (n, e) in ws.resources[r].allowed.iter().enumerate() {
        if let Some(e) = e {
            ws.score_lines.push(format!(
                "{prefix}: {id} allocation score on {}: {}",
                ws.nodes[n].uname,
                readable(e.weight)
            ));
        }
    }
    for c in ws.resources[r].children.clone() {
        show_scores(ws, c, prefix);
    }
}

/// pcmk__finalize_assignment.
pub(crate) fn finalize_assignment(
    ws: &mut WorkingSet,
    r: RscId,
    chosen: Option<NodeId>,
    force: bool,
) -> bool {
    let mut chosen = chosen;
    if !force {
        if let Some(c) = chosen {
            let w = ws.resources[r].allowed[c]
                .map(|e| e.weight)
                .unwrap_or(ws.nodes[c].weight);
            if w < 0 || (!node_available(ws, c, w, true) && !crate::actions::is_guest_node(ws, c)) {
                ws.resources[r].next_role = Role::Stopped;
                chosen = None;
            }
        }
    }
    unassign(ws, r);
    ws.resources[r].clear(rf::PROVISIONAL);
    let Some(c) = chosen else {
        ws.resources[r].next_role = Role::Stopped;
        for a in ws.resources[r].actions.clone() {
            let task = ws.actions[a].task.clone();
            if task.eq_ignore_ascii_case("stop") {
                ws.actions[a].flags &= !af::OPTIONAL;
            } else if task.eq_ignore_ascii_case("start") {
                ws.actions[a].flags &= !af::RUNNABLE;
            } else {
                let interval = ws.actions[a].meta.get("interval").cloned();
                let target_rc = ws.actions[a].meta.get("op_target_rc").cloned();
                if interval.is_some_and(|i| i != "0") && target_rc.as_deref() != Some("7") {
                    ws.actions[a].flags &= !af::RUNNABLE;
                }
            }
        }
        return false;
    };
    ws.resources[r].assigned = Some(c);
    ws.nodes[c].num_resources += 1;
    if let Some(e) = ws.resources[r].allowed[c].as_mut() {
        e.count += 1;
    }
    crate::utilization::consume(ws, c, r);
    if ws.show_utilization {
        let line = format!(
            "pcmk__finalize_assignment: {} utilization on {}:{}",
            ws.resources[r].id,
            ws.nodes[c].uname,
            crate::utilization::dump(&ws.resources[r].utilization)
        );
        ws.score_lines.push(line);
    }
    true
}

pub(crate) fn unassign(ws: &mut WorkingSet, r: RscId) {
    if let Some(old) = ws.resources[r].assigned.take() {
        ws.nodes[old].num_resources = ws.nodes[old].num_resources.saturating_sub(1);
        crate::utilization::release(ws, old, r);
    }
}

/// assign_best_node.
fn assign_best_node(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> bool {
    let most_free = crate::utilization::ban_insufficient_capacity(ws, r);
    let prefer = prefer.or(most_free);
    if !ws.resources[r].has(rf::PROVISIONAL) {
        return ws.resources[r].assigned.is_some();
    }
    let nodes = sorted_allowed(ws, r);
    let best = nodes.first().copied();
    let mut chosen: Option<(NodeId, i32)> = None;
    if let (Some(p), Some(b)) = (prefer, best) {
        if let Some(e) = ws.resources[r].allowed[p] {
            if e.weight >= b.1 && node_available(ws, p, e.weight, true) {
                chosen = Some((p, e.weight));
            }
        }
    }
    if chosen.is_none() {
        if let Some(b) = best {
            let mut pick = b;
            let parent = ws.resources[r].parent;
            if !ws.is_unique_clone(parent) && b.1 > 0 && node_available(ws, b.0, b.1, false) {
                if let Some(running) = crate::create::current_node(ws, r) {
                    let rw = ws.resources[r].allowed[running]
                        .map(|e| e.weight)
                        .unwrap_or(ws.nodes[running].weight);
                    if node_available(ws, running, rw, true) {
                        for &(n, w) in nodes.iter().skip(1) {
                            if w != b.1 {
                                break;
                            }
                            if n == running {
                                pick = (n, w);
                            }
                        }
                    }
                }
            }
            chosen = Some(pick);
        }
    }
    finalize_assignment(ws, r, chosen.map(|c| c.0), false)
}

/// Runs a resource's assign method.
pub(crate) fn assign(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<NodeId> {
    match ws.resources[r].variant {
        Variant::Primitive => assign_primitive(ws, r, prefer),
        Variant::Group => crate::group::assign_group(ws, r, prefer),
        Variant::Clone => crate::clone::assign_clone(ws, r, prefer),
        Variant::Bundle => None,
    }
}

/// pcmk__primitive_assign.
pub(crate) fn assign_primitive(
    ws: &mut WorkingSet,
    r: RscId,
    prefer: Option<NodeId>,
) -> Option<NodeId> {
    if let Some(p) = ws.resources[r].parent {
        if !ws.resources[p].has(rf::ALLOCATING) {
            assign(ws, p, prefer);
        }
    }
    if !ws.resources[r].has(rf::PROVISIONAL) {
        return ws.resources[r].assigned;
    }
    if ws.resources[r].has(rf::ALLOCATING) {
        return None;
    }
    ws.resources[r].set(rf::ALLOCATING);

    for c in ws.resources[r].this_with.clone() {
        apply_this_with(ws, r, c);
    }
    for c in ws.resources[r].with_this.clone() {
        apply_with_this(ws, r, c);
    }
    let rsc = &ws.resources[r];
    if rsc.next_role == Role::Stopped {
        for e in ws.resources[r].allowed.iter_mut().flatten() {
            e.weight = add(e.weight, -INFINITY);
        }
        // resource_location(rsc, NULL, -INFINITY) also covers all nodes.
        let nn = ws.nodes.len();
        for n in 0..nn {
            if ws.resources[r].allowed[n].is_none() {
                ws.resources[r].allowed[n] = Some(NodeScore {
                    weight: -INFINITY,
                    discover: Discover::Always,
                    count: 0,
                });
            }
        }
        unassign(ws, r);
    } else if rsc.next_role > rsc.role
        && !ws.options.have_quorum
        && ws.options.no_quorum_policy == NoQuorumPolicy::Freeze
    {
        ws.resources[r].next_role = ws.resources[r].role;
    }
    show_scores_primitive(ws, r);
    if ws.options.stonith_enabled && !ws.options.have_stonith_resource {
        ws.resources[r].clear(rf::MANAGED);
    }
    if !ws.resources[r].has(rf::MANAGED) {
        let role = ws.resources[r].role;
        ws.resources[r].next_role = role;
        let to = crate::create::current_node(ws, r);
        finalize_assignment(ws, r, to, true);
    } else if ws.options.stop_all {
        finalize_assignment(ws, r, None, true);
    } else if ws.resources[r].has(rf::PROVISIONAL) && assign_best_node(ws, r, prefer) {
    }
    ws.resources[r].clear(rf::ALLOCATING);
    if ws.resources[r].is_remote_node {
        crate::remote::connection_assigned(ws, r);
    }
    ws.resources[r].assigned
}

fn show_scores_primitive(ws: &mut WorkingSet, r: RscId) {
    if ws.show_scores && !ws.resources[r].has(rf::ORPHAN) {
        let id = ws.resources[r].id.clone();
        let lines: Vec<String> = ws.resources[r]
            .allowed
            .iter()
            .enumerate()
            .filter_map(|(n, e)| {
                e.map(|e| {
                    format!(
                        "pcmk__primitive_assign: {id} allocation score on {}: {}",
                        ws.nodes[n].uname,
                        readable(e.weight)
                    )
                })
            })
            .collect();
        ws.score_lines.extend(lines);
    }
}

fn apply_this_with(ws: &mut WorkingSet, r: RscId, ci: usize) {
    let c = ws.colocations[ci].clone();
    let archive = if c.dependent_role >= Role::Promoted || (c.score < 0 && c.score > -INFINITY) {
        Some(ws.resources[r].allowed.clone())
    } else {
        None
    };
    assign(ws, c.primary, None);
    crate::colocation::apply_coloc_score(ws, r, c.primary, ci);
    if let Some(a) = archive {
        if !any_node_available(ws, &ws.resources[r].allowed) {
            ws.resources[r].allowed = a;
        }
    }
}

fn apply_with_this(ws: &mut WorkingSet, r: RscId, ci: usize) {
    if !crate::colocation::has_influence(ws, ci, None) {
        return;
    }
    let dependent = ws.colocations[ci].dependent;
    crate::colocation::merge_colocation_scores(
        ws,
        r,
        ci,
        dependent,
        crate::colocation::SELECT_ACTIVE,
    );
}

/// Phase 8: assign every resource (remote connections first).
pub(crate) fn allocate_resources(ws: &mut WorkingSet) {
    if ws.options.placement_strategy != "default" {
        crate::utilization::sort_resources(ws);
    }
    if ws.options.have_remote_nodes {
        for r in ws.top.clone() {
            if ws.resources[r].is_remote_node {
                let prefer = ws.resources[r].partial_migration_target;
                assign(ws, r, prefer);
            }
        }
    }
    for r in ws.top.clone() {
        if !ws.resources[r].is_remote_node {
            assign(ws, r, None);
        }
    }
}

//! Groups: members assigned and started in order, each colocated with the
//! previous one, wrapped by the group's pseudo-actions.

use crate::actions::rsc_pseudo;
use crate::model::*;
use crate::order::order_resource_actions;
use crate::util::is_true;

fn group_flag(ws: &WorkingSet, r: RscId, name: &str) -> bool {
    ws.resources[r]
        .meta
        .get(name)
        .is_none_or(|v| is_true(Some(v)))
}

pub(crate) fn is_colocated(ws: &WorkingSet, r: RscId) -> bool {
    group_flag(ws, r, "collocated")
}

pub(crate) fn is_ordered(ws: &WorkingSet, r: RscId) -> bool {
    group_flag(ws, r, "ordered")
}

fn add_this_with(ws: &mut WorkingSet, r: RscId, ci: usize) {
    let mut list = std::mem::take(&mut ws.resources[r].this_with);
    let cmp = |a: usize, b: usize| crate::colocation::primary_cmp(ws, a, b);
    let pos = list
        .iter()
        .position(|&x| cmp(ci, x) != std::cmp::Ordering::Greater)
        .unwrap_or(list.len());
    list.insert(pos, ci);
    ws.resources[r].this_with = list;
}

fn add_with_this(ws: &mut WorkingSet, r: RscId, ci: usize) {
    let mut list = std::mem::take(&mut ws.resources[r].with_this);
    let cmp = |a: usize, b: usize| crate::colocation::dependent_cmp(ws, a, b);
    let pos = list
        .iter()
        .position(|&x| cmp(ci, x) != std::cmp::Ordering::Greater)
        .unwrap_or(list.len());
    list.insert(pos, ci);
    ws.resources[r].with_this = list;
}

fn expand_group_colocations(ws: &mut WorkingSet, r: RscId) {
    let members = ws.resources[r].children.clone();
    let Some(&first) = members.first() else {
        return;
    };
    let this_with = std::mem::take(&mut ws.resources[r].this_with);
    for &ci in &this_with {
        add_this_with(ws, first, ci);
    }
    let mut any_unmanaged = !ws.resources[first].has(rf::MANAGED);
    for &m in &members[1..] {
        if any_unmanaged {
            for &ci in &this_with {
                if ws.colocations[ci].score == cib_xml::score::INFINITY {
                    add_this_with(ws, m, ci);
                }
            }
        } else if !ws.resources[m].has(rf::MANAGED) {
            any_unmanaged = true;
        }
    }
    let last = *members.last().unwrap_or(&first);
    let with_this = std::mem::take(&mut ws.resources[r].with_this);
    for ci in with_this {
        add_with_this(ws, last, ci);
    }
}

/// pcmk__group_assign.
pub(crate) fn assign_group(
    ws: &mut WorkingSet,
    r: RscId,
    prefer: Option<NodeId>,
) -> Option<NodeId> {
    if !ws.resources[r].has(rf::PROVISIONAL) {
        return ws.resources[r].assigned;
    }
    if ws.resources[r].has(rf::ALLOCATING) {
        return None;
    }
    let members = ws.resources[r].children.clone();
    let Some(&first) = members.first() else {
        ws.resources[r].clear(rf::PROVISIONAL);
        return None;
    };
    ws.resources[r].set(rf::ALLOCATING);
    ws.resources[r].role = ws.resources[first].role;
    expand_group_colocations(ws, r);
    if ws.show_scores {
        let id = ws.resources[r].id.clone();
        let lines: Vec<String> = ws.resources[r]
            .allowed
            .iter()
            .enumerate()
            .filter_map(|(n, e)| {
                e.map(|e| {
                    format!(
                        "pcmk__group_assign: {id} allocation score on {}: {}",
                        ws.nodes[n].uname,
                        cib_xml::score::readable(e.weight)
                    )
                })
            })
            .collect();
        ws.score_lines.extend(lines);
        for &m in &members {
            let mid = ws.resources[m].id.clone();
            let lines: Vec<String> = ws.resources[m]
                .allowed
                .iter()
                .enumerate()
                .filter_map(|(n, e)| {
                    e.map(|e| {
                        format!(
                            "pcmk__group_assign: {mid} allocation score on {}: {}",
                            ws.nodes[n].uname,
                            cib_xml::score::readable(e.weight)
                        )
                    })
                })
                .collect();
            ws.score_lines.extend(lines);
        }
    }
    let mut first_assigned = None;
    for &m in &members {
        let node = crate::assign::assign(ws, m, prefer);
        if first_assigned.is_none() {
            first_assigned = node;
        }
    }
    ws.resources[r].next_role = ws.resources[first].next_role;
    ws.resources[r].clear(rf::ALLOCATING | rf::PROVISIONAL);
    if !is_colocated(ws, r) {
        return None;
    }
    first_assigned
}

/// pcmk__group_create_actions.
pub(crate) fn create_group_actions(ws: &mut WorkingSet, r: RscId) {
    for m in ws.resources[r].children.clone() {
        crate::create::create_actions(ws, m);
    }
    for task in ["start", "running", "stop", "stopped"] {
        rsc_pseudo(ws, r, task, true, true);
    }
    if is_true(ws.resources[r].meta.get("promotable").map(String::as_str)) {
        for task in ["demote", "demoted", "promote", "promoted"] {
            rsc_pseudo(ws, r, task, true, true);
        }
    }
}

/// pcmk__group_internal_constraints.
pub(crate) fn group_internal_constraints(ws: &mut WorkingSet, r: RscId) {
    order_resource_actions(ws, r, "stop", r, "stopped", of::RUNNABLE_LEFT);
    order_resource_actions(ws, r, "stopped", r, "start", of::OPTIONAL);
    order_resource_actions(ws, r, "start", r, "running", of::RUNNABLE_LEFT);
    let ordered = is_ordered(ws, r);
    let colocated = is_colocated(ws, r);
    let top = ws.top_parent(r);
    let promotable = ws.resources[top].has(rf::PROMOTABLE);
    let mut last_active: Option<RscId> = None;
    let mut previous: Option<RscId> = None;
    for m in ws.resources[r].children.clone() {
        let mut down_flags = of::IMPLIES_FIRST_PRINTED;
        let mut post_down_flags = of::IMPLIES_THEN_PRINTED;
        crate::create::internal_constraints(ws, m);
        match previous {
            None if ordered => {
                down_flags |= of::OPTIONAL;
                post_down_flags = of::IMPLIES_THEN;
            }
            Some(p) if colocated => {
                let crit = ws.resources[m].has(rf::CRITICAL);
                crate::colocation::new_colocation(
                    ws,
                    "group:internal_colocation",
                    None,
                    cib_xml::score::INFINITY,
                    m,
                    p,
                    None,
                    None,
                    crit,
                );
            }
            _ => {}
        }
        if promotable {
            order_resource_actions(ws, r, "demote", m, "demote", down_flags);
            order_resource_actions(ws, m, "demote", r, "demoted", post_down_flags);
            order_resource_actions(
                ws,
                m,
                "promote",
                r,
                "promoted",
                of::RUNNABLE_LEFT | of::IMPLIES_THEN | of::IMPLIES_THEN_PRINTED,
            );
            order_resource_actions(ws, r, "promote", m, "promote", of::IMPLIES_FIRST_PRINTED);
        }
        order_resource_actions(ws, r, "stop", m, "stop", down_flags);
        order_resource_actions(ws, m, "stop", r, "stopped", post_down_flags);
        order_resource_actions(ws, r, "start", m, "start", of::IMPLIES_FIRST_PRINTED);
        order_resource_actions(
            ws,
            m,
            "start",
            r,
            "running",
            of::RUNNABLE_LEFT | of::IMPLIES_THEN | of::IMPLIES_THEN_PRINTED,
        );
        if !ordered {
            order_resource_actions(
                ws,
                r,
                "start",
                m,
                "start",
                of::IMPLIES_THEN | of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
            );
            if promotable {
                order_resource_actions(
                    ws,
                    r,
                    "promote",
                    m,
                    "promote",
                    of::IMPLIES_THEN | of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
                );
            }
        } else if previous.is_none() {
            order_resource_actions(ws, r, "start", m, "start", of::NONE);
            if promotable {
                order_resource_actions(ws, r, "promote", m, "promote", of::NONE);
            }
        } else if let Some(p) = previous {
            order_resource_actions(
                ws,
                p,
                "start",
                m,
                "start",
                of::IMPLIES_THEN | of::RUNNABLE_LEFT,
            );
            order_resource_actions(ws, m, "stop", p, "stop", of::OPTIONAL | of::RESTART);
            if promotable {
                order_resource_actions(
                    ws,
                    p,
                    "promote",
                    m,
                    "promote",
                    of::IMPLIES_THEN | of::RUNNABLE_LEFT,
                );
                order_resource_actions(ws, m, "demote", p, "demote", of::OPTIONAL);
            }
        }
        if !ws.resources[m].running_on.is_empty() {
            if ordered {
                if let (Some(p), Some(la)) = (previous, last_active) {
                    if ws.resources[p].running_on.is_empty()
                        && !ws.resources[la].running_on.is_empty()
                    {
                        order_resource_actions(ws, m, "stop", la, "stop", of::OPTIONAL);
                    }
                }
            }
            last_active = Some(m);
        }
        previous = Some(m);
    }
}

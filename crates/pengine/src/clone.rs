//! Clones. This first version treats a clone as its instances placed one
//! by one (like a group without colocation or ordering between members),
//! wrapped by the clone's pseudo-actions. Pacemaker's instance distribution
//! (distribute_children), interleave, notifications and promotion are not
//! implemented yet; the conformance ratchet records which cases pass.

use crate::actions::rsc_pseudo;
use crate::model::*;
use crate::order::order_resource_actions;
use crate::unpack::find_resource;
use crate::util::clone_strip;
use cib_xml::Element;

/// Which resource a history entry `id` on node `n` belongs to: a plain
/// resource by id, or a clone instance (anonymous history is recorded under
/// the bare id and matched to an instance).
pub(crate) fn find_history_resource(ws: &mut WorkingSet, n: NodeId, id: &str, _entry: &Element) -> Option<RscId> {
    if let Some(r) = find_resource(ws, id) {
        return Some(r);
    }
    let base = clone_strip(id);
    let candidates: Vec<RscId> = ws
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.variant == Variant::Primitive && clone_strip(&r.id) == base && r.parent.is_some_and(|p| ws.resources[p].variant == Variant::Clone || ws.resources[p].parent.is_some_and(|g| ws.resources[g].variant == Variant::Clone)))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    // Unique instances are recorded under their own id.
    if let Some(&exact) = candidates.iter().find(|&&r| ws.resources[r].id == id) {
        if ws.resources[exact].has(rf::UNIQUE) {
            return Some(exact);
        }
    }
    // Anonymous: an instance already known here, else the first free one.
    let pick = candidates
        .iter()
        .copied()
        .find(|&r| ws.resources[r].known_on.contains(&n) || ws.resources[r].running_on.contains(&n))
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .find(|&r| ws.resources[r].running_on.is_empty() && ws.resources[r].known_on.is_empty())
        })?;
    if ws.resources[pick].id != id {
        ws.resources[pick].clone_name = Some(id.to_string());
    }
    Some(pick)
}

pub(crate) fn assign_clone(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<NodeId> {
    if !ws.resources[r].has(rf::PROVISIONAL) {
        return None;
    }
    if ws.resources[r].has(rf::ALLOCATING) {
        return None;
    }
    ws.resources[r].set(rf::ALLOCATING);
    for c in ws.resources[r].this_with.clone() {
        let p = ws.colocations[c].primary;
        crate::assign::assign(ws, p, None);
    }
    crate::assign::show_scores(ws, r, "pcmk__clone_allocate");
    for c in ws.resources[r].children.clone() {
        crate::assign::assign(ws, c, prefer);
    }
    ws.resources[r].clear(rf::ALLOCATING | rf::PROVISIONAL);
    None
}

pub(crate) fn create_clone_actions(ws: &mut WorkingSet, r: RscId) {
    for c in ws.resources[r].children.clone() {
        crate::create::create_actions(ws, c);
    }
    for task in ["start", "running", "stop", "stopped"] {
        rsc_pseudo(ws, r, task, true, true);
    }
}

pub(crate) fn clone_internal_constraints(ws: &mut WorkingSet, r: RscId) {
    order_resource_actions(ws, r, "stopped", r, "start", of::OPTIONAL);
    order_resource_actions(ws, r, "start", r, "running", of::RUNNABLE_LEFT);
    order_resource_actions(ws, r, "stop", r, "stopped", of::RUNNABLE_LEFT);
    for c in ws.resources[r].children.clone() {
        crate::create::internal_constraints(ws, c);
        order_resource_actions(ws, r, "start", c, "start", of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED);
        order_resource_actions(ws, c, "start", r, "running", of::IMPLIES_THEN_PRINTED);
        order_resource_actions(ws, r, "stop", c, "stop", of::IMPLIES_FIRST_PRINTED);
        order_resource_actions(ws, c, "stop", r, "stopped", of::IMPLIES_THEN_PRINTED);
    }
}

pub(crate) fn clone_action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let r = ws.actions[a].rsc.unwrap_or_default();
    let task = crate::resource::atomic_task(&ws.actions[a].task.clone()).to_string();
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    let mut any_runnable = false;
    let mut check_runnable = true;
    for c in ws.resources[r].children.clone() {
        let ca = ws.resources[c].actions.iter().rev().copied().find(|&x| {
            ws.actions[x].task.eq_ignore_ascii_case(&task) && node.is_none_or(|n| ws.actions[x].node == Some(n))
        });
        if let Some(ca) = ca {
            let cf = crate::resource::action_flags(ws, ca, node);
            if flags & af::OPTIONAL != 0 && cf & af::OPTIONAL == 0 {
                flags &= !af::OPTIONAL;
                ws.actions[a].flags &= !af::OPTIONAL;
            }
            if cf & af::RUNNABLE != 0 {
                any_runnable = true;
            }
        }
        check_runnable = true;
    }
    if check_runnable && !any_runnable {
        flags &= !af::RUNNABLE;
        if node.is_none() {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
    }
    flags
}

pub(crate) fn clone_update_ordered_actions(ws: &mut WorkingSet, first: ActionId, then: ActionId, _node: Option<NodeId>, flags: u32, filter: u32, otype: u32) -> u32 {
    crate::order::update_ordered_primitive(ws, first, then, flags, filter, otype)
}

pub(crate) fn clone_apply_coloc_dependent(ws: &mut WorkingSet, dependent: RscId, primary: RscId, ci: usize) {
    for c in ws.resources[dependent].children.clone() {
        crate::colocation::apply_coloc_score(ws, c, primary, ci);
    }
}

pub(crate) fn clone_apply_coloc_primary(ws: &mut WorkingSet, dependent: RscId, primary: RscId, ci: usize) {
    if ws.resources[primary].has(rf::PROVISIONAL) {
        return;
    }
    let score = ws.colocations[ci].score;
    let nodes: Vec<NodeId> = ws.resources[primary].children.iter().filter_map(|&c| ws.resources[c].assigned).collect();
    if score >= cib_xml::score::INFINITY {
        for n in 0..ws.nodes.len() {
            if !nodes.contains(&n) {
                if let Some(e) = ws.resources[dependent].allowed[n].as_mut() {
                    e.weight = -cib_xml::score::INFINITY;
                }
            }
        }
    } else {
        for n in nodes {
            if let Some(e) = ws.resources[dependent].allowed[n].as_mut() {
                e.weight = cib_xml::score::add(e.weight, score);
            }
        }
    }
}

pub(crate) fn probe_children(ws: &mut WorkingSet, r: RscId, n: NodeId) -> bool {
    let children = ws.resources[r].children.clone();
    if ws.resources[r].variant == Variant::Clone && !ws.resources[r].has(rf::UNIQUE) {
        // Anonymous clones probe one instance per node: the one known or
        // running there, else the first.
        let pick = children
            .iter()
            .copied()
            .find(|&c| ws.resources[c].running_on.contains(&n))
            .or_else(|| children.first().copied());
        if let Some(c) = pick {
            return crate::probes::probe_resource_list(ws, &[c], n);
        }
        return false;
    }
    crate::probes::probe_resource_list(ws, &children, n)
}

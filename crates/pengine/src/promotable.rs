//! Promotable clones: promotion scores, choosing which instances are
//! promoted (Pacemaker's pcmk__set_instance_roles), and the clone-level
//! promote/demote pseudo-actions and orderings.

use std::cmp::Ordering;

use cib_xml::score::{add, readable, INFINITY};
use cib_xml::Role;

use crate::assign::node_available;
use crate::model::*;
use crate::order::order_resource_actions;
use crate::util::{clone_strip, is_true};

fn top(ws: &WorkingSet, r: RscId) -> RscId {
    ws.top_parent(r)
}

fn find_active_anon_instance(ws: &WorkingSet, clone: RscId, id: &str, n: NodeId) -> Option<RscId> {
    fn walk(ws: &WorkingSet, r: RscId, id: &str, n: NodeId) -> Option<RscId> {
        let rsc = &ws.resources[r];
        let matches = rsc.id == id || rsc.xml.attr("id") == Some(id);
        if matches && rsc.running_on.contains(&n) {
            return Some(r);
        }
        rsc.children.iter().find_map(|&c| walk(ws, c, id, n))
    }
    ws.resources[clone]
        .children
        .iter()
        .find_map(|&c| walk(ws, c, id, n))
}

fn anonymous_known_on(ws: &WorkingSet, clone: RscId, id: &str, n: NodeId) -> bool {
    fn find(ws: &WorkingSet, r: RscId, id: &str) -> Option<RscId> {
        let rsc = &ws.resources[r];
        if rsc.id == id || rsc.xml.attr("id") == Some(id) {
            return Some(r);
        }
        rsc.children.iter().find_map(|&c| find(ws, c, id))
    }
    ws.resources[clone]
        .children
        .iter()
        .filter_map(|&c| find(ws, c, id))
        .any(|c| ws.resources[c].known_on.contains(&n))
}

fn is_allowed(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    ws.resources[r].allowed[n].is_some_and(|e| e.weight >= 0)
}

fn promotion_score_applies(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let id = clone_strip(&ws.resources[r].id).to_string();
    let parent = top(ws, r);
    let rsc = &ws.resources[r];
    // Anonymous instances: the active one here counts; with none active
    // here, any instance probed here counts.
    let anon_applies = !rsc.has(rf::UNIQUE) && {
        let active = find_active_anon_instance(ws, parent, &id, n);
        active == Some(r) || (active.is_none() && anonymous_known_on(ws, parent, &id, n))
    };
    // Otherwise: unknown everywhere (cluster start-up), or known here.
    let applies = anon_applies
        || (rsc.running_on.is_empty() && rsc.known_on.is_empty())
        || rsc.known_on.contains(&n)
        || rsc.running_on.contains(&n);
    applies && is_allowed(ws, r, n)
}

fn promotion_attr(ws: &WorkingSet, n: NodeId, name: &str) -> Option<String> {
    ws.nodes[n].attrs.get(&format!("master-{name}")).cloned()
}

/// promotion_score: (score, is_default).
fn promotion_score(ws: &WorkingSet, r: RscId, n: NodeId) -> (i32, bool) {
    let rsc = &ws.resources[r];
    if !rsc.children.is_empty() {
        let mut score = 0;
        let mut is_default = true;
        for &c in &rsc.children {
            let (s, d) = promotion_score(ws, c, n);
            if !d {
                is_default = false;
            }
            score += s;
        }
        return (score, is_default);
    }
    if !promotion_score_applies(ws, r, n) {
        return (0, true);
    }
    let name = rsc.clone_name.clone().unwrap_or_else(|| rsc.id.clone());
    let mut value = promotion_attr(ws, n, &name);
    if value.is_none() && !rsc.has(rf::UNIQUE) {
        let base = clone_strip(&rsc.id);
        if base != rsc.id {
            value = promotion_attr(ws, n, base);
        }
    }
    match value {
        None => (0, true),
        Some(v) => (cib_xml::score::parse_score(&v, &ws.options.health), false),
    }
}

/// pcmk__add_promotion_scores.
pub(crate) fn add_promotion_scores(ws: &mut WorkingSet, clone: RscId) {
    if ws.resources[clone].promotion_added {
        return;
    }
    ws.resources[clone].promotion_added = true;
    for c in ws.resources[clone].children.clone() {
        for n in 0..ws.nodes.len() {
            let Some(e) = ws.resources[c].allowed[n] else {
                continue;
            };
            if !node_available(ws, n, e.weight, false) {
                continue;
            }
            let (score, _) = promotion_score(ws, c, n);
            if score > 0 {
                let new = add(e.weight, score);
                if let Some(x) = ws.resources[c].allowed[n].as_mut() {
                    x.weight = new;
                }
            }
            if score > ws.resources[c].priority {
                ws.resources[c].priority = score;
            }
        }
    }
}

fn set_current_role_unpromoted(ws: &mut WorkingSet, r: RscId) {
    if ws.resources[r].role == Role::Started {
        ws.resources[r].role = Role::Unpromoted;
    }
    for c in ws.resources[r].children.clone() {
        set_current_role_unpromoted(ws, c);
    }
}

fn set_next_role_unpromoted(ws: &mut WorkingSet, r: RscId) {
    let mut assigned = Vec::new();
    let mut prims = Vec::new();
    ws.primitives_of(r, &mut prims);
    if ws.resources[r].children.is_empty() {
        prims = vec![r];
    }
    for p in prims {
        if let Some(n) = ws.resources[p].assigned {
            assigned.push(n);
        }
    }
    ws.resources[r].next_role = if assigned.is_empty() {
        Role::Stopped
    } else {
        Role::Unpromoted
    };
    for c in ws.resources[r].children.clone() {
        set_next_role_unpromoted(ws, c);
    }
}

fn set_next_role_promoted(ws: &mut WorkingSet, r: RscId) {
    if ws.resources[r].next_role == Role::Unknown {
        ws.resources[r].next_role = Role::Promoted;
    }
    for c in ws.resources[r].children.clone() {
        set_next_role_promoted(ws, c);
    }
}

fn apply_promoted_locations(ws: &mut WorkingSet, instance: RscId, owner: RscId, chosen: NodeId) {
    for li in (0..ws.locations.len()).rev() {
        let loc = &ws.locations[li];
        if loc.rsc != owner || loc.role_filter != Role::Promoted {
            continue;
        }
        if let Some(&(_, w)) = loc.nodes.iter().find(|(n, _)| *n == chosen) {
            let p = ws.resources[instance].priority;
            ws.resources[instance].priority = add(p, w);
        }
    }
}

fn set_instance_priority(ws: &mut WorkingSet, instance: RscId, clone: RscId) {
    if crate::resource::rsc_state(ws, instance, true) == Role::Started {
        set_current_role_unpromoted(ws, instance);
    }
    let Some(chosen) = crate::resource::location(ws, instance) else {
        return;
    };
    let next_role = crate::resource::rsc_state(ws, instance, false);
    match next_role {
        Role::Started | Role::Unknown => {
            let (score, is_default) = promotion_score(ws, instance, chosen);
            ws.resources[instance].priority = if is_default { -1 } else { score };
        }
        Role::Unpromoted | Role::Stopped => ws.resources[instance].priority = -INFINITY,
        Role::Promoted => {}
    }
    apply_promoted_locations(ws, instance, instance, chosen);
    apply_promoted_locations(ws, instance, clone, chosen);
    for ci in ws.resources[instance].this_with.clone() {
        let p = ws.colocations[ci].primary;
        crate::colocation::apply_coloc_score(ws, instance, p, ci);
    }
    ws.resources[instance].sort_index = ws.resources[instance].priority;
    if next_role == Role::Promoted {
        ws.resources[instance].sort_index = INFINITY;
    }
}

fn cmp_promotable_instance(ws: &mut WorkingSet, a: RscId, b: RscId) -> Ordering {
    match ws.resources[b].sort_index.cmp(&ws.resources[a].sort_index) {
        Ordering::Equal => {}
        o => return o,
    }
    let r1 = crate::resource::rsc_state(ws, a, true);
    let r2 = crate::resource::rsc_state(ws, b, true);
    match r2.cmp(&r1) {
        Ordering::Equal => {}
        o => return o,
    }
    crate::clone::cmp_instance_pub(ws, a, b)
}

fn sort_promotable_instances(ws: &mut WorkingSet, clone: RscId) {
    if ws.resources[clone].promotion_constrained {
        return;
    }
    ws.resources[clone].promotion_constrained = true;
    ws.resources[clone].set(rf::MERGING);
    for c in ws.resources[clone].children.clone() {
        let si = ws.resources[c].sort_index;
        if si < 0 {
            continue;
        }
        let Some(chosen) = crate::resource::location(ws, c) else {
            continue;
        };
        if let Some(e) = ws.resources[clone].allowed[chosen].as_mut() {
            e.weight = add(si, e.weight);
        }
    }
    for ci in ws.resources[clone].this_with.clone() {
        let c = ws.colocations[ci].clone();
        if c.dependent_role != Role::Promoted {
            continue;
        }
        let flags = if c.score < INFINITY {
            crate::colocation::SELECT_ACTIVE
        } else {
            0
        };
        crate::colocation::merge_colocation_scores(ws, clone, ci, c.primary, flags);
    }
    for ci in ws.resources[clone].with_this.clone() {
        let c = ws.colocations[ci].clone();
        if c.primary_role != Role::Promoted || !crate::colocation::has_influence(ws, ci, None) {
            continue;
        }
        crate::colocation::merge_colocation_scores(
            ws,
            clone,
            ci,
            c.dependent,
            crate::colocation::SELECT_ACTIVE | crate::colocation::SELECT_NONNEGATIVE,
        );
    }
    crate::tickets::require_promotion_tickets(ws, clone);
    for c in ws.resources[clone].children.clone() {
        let chosen = crate::resource::location(ws, c);
        if !ws.resources[c].has(rf::MANAGED) && ws.resources[c].next_role == Role::Promoted {
            ws.resources[c].sort_index = INFINITY;
        } else if chosen.is_none() || ws.resources[c].sort_index < 0 {
        } else if let Some(n) = chosen {
            ws.resources[c].sort_index = ws.resources[clone].allowed[n]
                .map(|e| e.weight)
                .unwrap_or(0);
        }
    }
    let mut children = ws.resources[clone].children.clone();
    for i in 1..children.len() {
        let mut j = i;
        while j > 0
            && cmp_promotable_instance(ws, children[j - 1], children[j]) == Ordering::Greater
        {
            children.swap(j - 1, j);
            j -= 1;
        }
    }
    ws.resources[clone].children = children;
    ws.resources[clone].clear(rf::MERGING);
}

fn node_to_be_promoted_on(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    let parent = top(ws, r);
    for &c in &ws.resources[r].children {
        node_to_be_promoted_on(ws, c)?;
    }
    let node = crate::resource::location(ws, r)?;
    let rsc = &ws.resources[r];
    if !rsc.has(rf::MANAGED) {
        if crate::resource::rsc_state(ws, r, true) != Role::Promoted {
            return None;
        }
    } else if rsc.priority < 0 {
        return None;
    } else {
        let w = rsc.allowed[node].map(|e| e.weight).unwrap_or(0);
        if !node_available(ws, node, w, false) {
            return None;
        }
        if crate::actions::is_guest_node(ws, node) {
            let guest = ws.nodes[node]
                .remote_rsc
                .and_then(|c| ws.resources[c].container);
            if let Some(g) = guest {
                crate::resource::location(ws, g)?;
            }
        }
    }
    let local = ws.resources[parent].allowed[node]?;
    if local.count >= ws.resources[parent].promoted_node_max && rsc.has(rf::MANAGED) {
        return None;
    }
    Some(node)
}

fn set_instance_role(ws: &mut WorkingSet, instance: RscId, count: &mut usize) {
    let clone = top(ws, instance);
    if ws.show_scores {
        let chosen = crate::resource::location(ws, instance)
            .map(|n| ws.nodes[n].uname.clone())
            .unwrap_or_else(|| "none".into());
        ws.score_lines.push(format!(
            "{} promotion score on {chosen}: {}",
            ws.resources[instance].id,
            readable(ws.resources[instance].sort_index)
        ));
    }
    let mut chosen = None;
    if ws.resources[instance].sort_index < 0 {
    } else if *count < ws.resources[clone].promoted_max || !ws.resources[clone].has(rf::MANAGED) {
        chosen = node_to_be_promoted_on(ws, instance);
    }
    let Some(n) = chosen else {
        set_next_role_unpromoted(ws, instance);
        return;
    };
    if ws.resources[instance].role < Role::Promoted
        && !ws.options.have_quorum
        && ws.options.no_quorum_policy == NoQuorumPolicy::Freeze
    {
        set_next_role_unpromoted(ws, instance);
        return;
    }
    if let Some(e) = ws.resources[clone].allowed[n].as_mut() {
        e.count += 1;
    }
    set_next_role_promoted(ws, instance);
    *count += 1;
}

/// pcmk__set_instance_roles.
pub(crate) fn set_instance_roles(ws: &mut WorkingSet, clone: RscId) {
    for e in ws.resources[clone].allowed.iter_mut().flatten() {
        e.count = 0;
    }
    for c in ws.resources[clone].children.clone() {
        set_instance_priority(ws, c, clone);
    }
    sort_promotable_instances(ws, clone);
    let mut promoted = 0;
    for c in ws.resources[clone].children.clone() {
        set_instance_role(ws, c, &mut promoted);
    }
}

fn check_for_role_change(ws: &WorkingSet, r: RscId, demoting: &mut bool, promoting: &mut bool) {
    let rsc = &ws.resources[r];
    if !rsc.children.is_empty() {
        for &c in &rsc.children {
            check_for_role_change(ws, c, demoting, promoting);
        }
        return;
    }
    for &a in &rsc.actions {
        if *promoting && *demoting {
            return;
        }
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) {
            continue;
        }
        if act.task == "demote" {
            *demoting = true;
        } else if act.task == "promote" {
            *promoting = true;
        }
    }
}

/// pcmk__create_promotable_actions.
pub(crate) fn create_promotable_actions(ws: &mut WorkingSet, clone: RscId) {
    let (mut promoting, mut demoting) = (false, false);
    for c in ws.resources[clone].children.clone() {
        crate::create::create_actions(ws, c);
        check_for_role_change(ws, c, &mut demoting, &mut promoting);
    }
    for (task, optional) in [
        ("promote", !promoting),
        ("promoted", !promoting),
        ("demote", !demoting),
        ("demoted", !demoting),
    ] {
        let key = crate::util::op_key(&ws.resources[clone].id.clone(), task, 0);
        let a = crate::actions::custom_action(ws, Some(clone), &key, task, None, optional);
        ws.actions[a].flags |= af::PSEUDO | af::RUNNABLE;
    }
    let p = ws.resources[clone].priority;
    for c in ws.resources[clone].children.clone() {
        ws.resources[c].priority = p;
    }
}

/// pcmk__order_promotable_instances.
pub(crate) fn order_promotable_instances(ws: &mut WorkingSet, clone: RscId) {
    order_resource_actions(ws, clone, "stopped", clone, "start", of::OPTIONAL);
    order_resource_actions(ws, clone, "stopped", clone, "promote", of::OPTIONAL);
    order_resource_actions(ws, clone, "demoted", clone, "stop", of::OPTIONAL);
    order_resource_actions(ws, clone, "demoted", clone, "start", of::OPTIONAL);
    order_resource_actions(ws, clone, "demoted", clone, "promote", of::OPTIONAL);
    order_resource_actions(ws, clone, "running", clone, "promote", of::OPTIONAL);
    order_resource_actions(ws, clone, "demote", clone, "stop", of::OPTIONAL);
    let ordered = is_true(ws.resources[clone].meta.get("ordered").map(String::as_str));
    let mut previous: Option<RscId> = None;
    for c in ws.resources[clone].children.clone() {
        order_resource_actions(ws, c, "demote", c, "promote", of::OPTIONAL);
        order_resource_actions(ws, clone, "promote", c, "promote", of::OPTIONAL);
        order_resource_actions(ws, c, "promote", clone, "promoted", of::OPTIONAL);
        if let (Some(l), true) = (previous, ordered) {
            order_resource_actions(ws, l, "promote", c, "promote", of::OPTIONAL);
        }
        order_resource_actions(ws, clone, "demote", c, "demote", of::IMPLIES_FIRST_PRINTED);
        order_resource_actions(ws, c, "demote", clone, "demoted", of::IMPLIES_THEN_PRINTED);
        if let (Some(l), true) = (previous, ordered) {
            order_resource_actions(ws, c, "demote", l, "demote", of::OPTIONAL);
        }
        previous = Some(c);
    }
}

/// pcmk__update_dependent_with_promotable.
pub(crate) fn update_dependent_with_promotable(
    ws: &mut WorkingSet,
    primary: RscId,
    dependent: RscId,
    ci: usize,
) {
    let c = ws.colocations[ci].clone();
    let attr = if c.node_attribute.is_empty() {
        "#uname".to_string()
    } else {
        c.node_attribute.clone()
    };
    let mut affected: Vec<(NodeId, i32)> = Vec::new();
    for inst in ws.resources[primary].children.clone() {
        let Some(n) = crate::resource::location(ws, inst) else {
            continue;
        };
        if crate::resource::rsc_state(ws, inst, false) == c.primary_role {
            if c.score < INFINITY {
                let pv = ws.nodes[n].attrs.get(&attr).cloned();
                for m in 0..ws.nodes.len() {
                    let dv = ws.nodes[m].attrs.get(&attr).cloned();
                    let eq = match (&pv, &dv) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        (None, None) => true,
                        _ => false,
                    };
                    if eq {
                        if let Some(e) = ws.resources[dependent].allowed[m].as_mut() {
                            e.weight = add(e.weight, c.score);
                        }
                    }
                }
            }
            let w = instance_weight_on(ws, inst, n);
            affected.insert(0, (n, w));
        }
    }
    if c.score >= INFINITY
        && (c.dependent_role != Role::Promoted || c.primary_role != Role::Promoted)
    {
        for m in 0..ws.nodes.len() {
            let Some(e) = ws.resources[dependent].allowed[m].as_mut() else {
                continue;
            };
            match affected.iter().find(|(n, _)| *n == m) {
                None => e.weight = -INFINITY,
                Some(&(_, w)) => e.weight = add(e.weight, w),
            }
        }
    }
}

fn instance_weight_on(ws: &WorkingSet, inst: RscId, n: NodeId) -> i32 {
    let mut prims = Vec::new();
    ws.primitives_of(inst, &mut prims);
    let p = prims.first().copied().unwrap_or(inst);
    ws.resources[p].allowed[n].map(|e| e.weight).unwrap_or(0)
}

/// pcmk__update_promotable_dependent_priority.
pub(crate) fn update_promotable_dependent_priority(
    ws: &mut WorkingSet,
    primary: RscId,
    dependent: RscId,
    ci: usize,
) {
    let c = ws.colocations[ci].clone();
    let pi = crate::clone::find_compatible_child(ws, dependent, primary, c.primary_role, false);
    if pi.is_some() {
        let p = ws.resources[dependent].priority;
        ws.resources[dependent].priority = add(p, c.score);
    } else if c.score >= INFINITY {
        ws.resources[dependent].priority = -INFINITY;
    }
}

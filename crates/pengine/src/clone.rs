//! Clones: matching history to instances, distributing instances over
//! nodes (Pacemaker's distribute_children), the clone's pseudo-actions,
//! interleaved and non-interleaved orderings, and colocation with clones.
//! Promotion of promotable clones is in `promotable` (not yet written:
//! promotable clones are placed like ordinary ones).

use std::cmp::Ordering;

use cib_xml::score::{add, INFINITY};
use cib_xml::{Element, Role};

use crate::actions::{custom_action, find_first, rsc_actions};
use crate::assign::node_available;
use crate::create::find_active_on;
use crate::model::*;
use crate::order::{
    order_actions, order_resource_actions, update_action_for_orderings, update_ordered_primitive,
};
use crate::util::{clone_strip, is_true, op_key};

fn is_anon_clone(ws: &WorkingSet, r: RscId) -> bool {
    ws.is_clone(r) && !ws.resources[r].has(rf::UNIQUE)
}

/// Finds a resource by id (or by the id its history is recorded under)
/// anywhere in the tree, like pe_find_resource.
fn find_by_id(ws: &WorkingSet, id: &str) -> Option<RscId> {
    // The first match in list order (top-level resources, then children
    // depth-first), among resources whose id or history name matches.
    let cands = ws.rsc_index.get(id)?;
    let cands: Vec<RscId> = cands
        .iter()
        .copied()
        .filter(|&r| ws.resources[r].id == id || ws.resources[r].clone_name.as_deref() == Some(id))
        .collect();
    if cands.len() <= 1 {
        return cands.first().copied();
    }
    // Within one top-level resource, creation order (the arena index) is
    // the depth-first order: children are created right after their
    // parent, and orphans are appended last. So the first match is the one
    // whose top-level resource comes first, then the oldest.
    let top_position = |r: RscId| {
        let t = ws.top_parent(r);
        ws.top.iter().position(|&x| x == t).unwrap_or(usize::MAX)
    };
    cands
        .into_iter()
        .filter(|&r| top_position(r) != usize::MAX)
        .min_by_key(|&r| (top_position(r), r))
}

/// native_find_rsc with pe_find_clone under an instance.
fn find_clone_member(ws: &WorkingSet, r: RscId, id: &str) -> Option<RscId> {
    let rsc = &ws.resources[r];
    if rsc.id == id || rsc.xml.attr("id") == Some(id) {
        return Some(r);
    }
    rsc.children
        .iter()
        .find_map(|&c| find_clone_member(ws, c, id))
}

/// running_on plus pending node (fns->location(..., 2)).
fn current_locations(ws: &WorkingSet, r: RscId, out: &mut Vec<NodeId>) {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        for &n in &rsc.running_on {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        if let Some(p) = rsc.pending_node {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    } else {
        for &c in &rsc.children {
            current_locations(ws, c, out);
        }
    }
}

fn find_anonymous_clone(
    ws: &mut WorkingSet,
    n: NodeId,
    parent: RscId,
    base: &str,
) -> Option<RscId> {
    let mut rsc = None;
    let mut inactive = None;
    let mut skip_inactive = false;
    for child in ws.resources[parent].children.clone() {
        if rsc.is_some() {
            break;
        }
        let mut locs = Vec::new();
        current_locations(ws, child, &mut locs);
        if !locs.is_empty() {
            if locs[0] == n {
                if let Some(m) = find_clone_member(ws, child, base) {
                    if !ws.resources[m].running_on.is_empty() {
                        skip_inactive = true;
                    } else {
                        rsc = Some(m);
                    }
                }
            }
        } else if !skip_inactive && inactive.is_none() && !ws.resources[child].has(rf::BLOCK) {
            inactive = find_clone_member(ws, child, base);
            if let Some(i) = inactive {
                if ws.resources[i].pending_node.is_some_and(|p| p != n) {
                    inactive = None;
                }
            }
        }
    }
    if rsc.is_none() && !skip_inactive {
        rsc = inactive;
    }
    if let Some(r) = rsc {
        let node = &ws.nodes[n];
        let universal = ws.resources[parent].clone_max == ws.nodes.len();
        if !ws.resources[r].has(rf::NEEDS_FENCING)
            && (!node.online || node.unclean)
            && !crate::actions::is_guest_node(ws, n)
            && !universal
        {
            rsc = None;
        }
    }
    if rsc.is_none() {
        let top = crate::unpack::create_clone_orphan(ws, parent)?;
        rsc = find_clone_member(ws, top, base);
    }
    rsc
}

/// unpack_find_resource: which resource a history entry belongs to.
pub(crate) fn find_history_resource(
    ws: &mut WorkingSet,
    n: NodeId,
    id: &str,
    _entry: &Element,
) -> Option<RscId> {
    let mut parent = None;
    let mut rsc = find_by_id(ws, id);
    match rsc {
        None => {
            let zero = format!("{}:0", clone_strip(id));
            if let Some(c0) = find_by_id(ws, &zero) {
                if !ws.resources[c0].has(rf::UNIQUE) {
                    rsc = Some(c0);
                    parent = Some(ws.top_parent(c0));
                }
            }
        }
        Some(r) if ws.resources[r].variant != Variant::Primitive => return None,
        Some(r) => parent = Some(ws.top_parent(r)),
    }
    if let Some(p) = parent {
        if is_anon_clone(ws, p) {
            let base = clone_strip(id).to_string();
            rsc = find_anonymous_clone(ws, n, p, &base);
        }
    }
    if let Some(r) = rsc {
        let res = &ws.resources[r];
        if !res.id.eq_ignore_ascii_case(id)
            && !res
                .clone_name
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(id))
        {
            ws.resources[r].clone_name = Some(id.to_string());
            ws.rsc_index.entry(id.to_string()).or_default().push(r);
        }
    }
    rsc
}

// ------------------------------------------------------------- assignment

/// pcmk__top_allowed_node: the parent's allowed entry for a node.
fn top_allowed(ws: &WorkingSet, r: RscId, n: Option<NodeId>) -> Option<(RscId, NodeId)> {
    let n = n?;
    let holder = ws.resources[r].parent.unwrap_or(r);
    ws.resources[holder].allowed[n].map(|_| (holder, n))
}

/// common_update_score: adds to a node's score in a resource and all its
/// descendants (existing entries only).
fn common_update_score(ws: &mut WorkingSet, r: RscId, n: NodeId, score: i32) {
    if let Some(e) = ws.resources[r].allowed[n].as_mut() {
        e.weight = add(e.weight, score);
    }
    for c in ws.resources[r].children.clone() {
        common_update_score(ws, c, n, score);
    }
}

fn can_run_instance(ws: &mut WorkingSet, r: RscId, n: NodeId, limit: usize) -> bool {
    let weight = ws.resources[r].allowed[n].map(|e| e.weight).unwrap_or(0);
    let ok = node_available(ws, n, weight, false) && !ws.resources[r].has(rf::ORPHAN);
    if ok {
        match top_allowed(ws, r, Some(n)) {
            None => {}
            Some((holder, _)) => {
                let e = ws.resources[holder].allowed[n].expect("checked");
                if e.weight < 0 {
                    common_update_score(ws, r, n, e.weight);
                } else if e.count < limit {
                    return true;
                }
            }
        }
    }
    common_update_score(ws, r, n, -INFINITY);
    false
}

fn append_parent_colocation(ws: &mut WorkingSet, parent: RscId, child: RscId, all: bool) {
    for ci in ws.resources[parent].this_with.clone() {
        let s = ws.colocations[ci].score;
        if all || s < 0 || s == INFINITY {
            insert_coloc(ws, child, ci, true);
        }
    }
    for ci in ws.resources[parent].with_this.clone() {
        if !crate::colocation::has_influence(ws, ci, Some(child)) {
            continue;
        }
        if all || ws.colocations[ci].score < 0 {
            insert_coloc(ws, child, ci, false);
        }
    }
}

fn insert_coloc(ws: &mut WorkingSet, r: RscId, ci: usize, this_with: bool) {
    let mut list = if this_with {
        std::mem::take(&mut ws.resources[r].this_with)
    } else {
        std::mem::take(&mut ws.resources[r].with_this)
    };
    let pos = list
        .iter()
        .position(|&x| {
            let o = if this_with {
                crate::colocation::primary_cmp(ws, ci, x)
            } else {
                crate::colocation::dependent_cmp(ws, ci, x)
            };
            o != Ordering::Greater
        })
        .unwrap_or(list.len());
    list.insert(pos, ci);
    if this_with {
        ws.resources[r].this_with = list;
    } else {
        ws.resources[r].with_this = list;
    }
}

fn allocate_instance(
    ws: &mut WorkingSet,
    r: RscId,
    prefer: Option<NodeId>,
    all_coloc: bool,
    limit: usize,
) -> Option<NodeId> {
    if !ws.resources[r].has(rf::PROVISIONAL) {
        return crate::resource::location(ws, r);
    }
    if ws.resources[r].has(rf::ALLOCATING) {
        return None;
    }
    let parent = ws.resources[r].parent?;
    append_parent_colocation(ws, parent, r, all_coloc);
    if let Some(p) = prefer {
        match ws.resources[r].allowed[p] {
            Some(e) if e.weight >= 0 => {}
            _ => return None,
        }
    }
    for n in 0..ws.nodes.len() {
        if ws.resources[r].allowed[n].is_some() {
            can_run_instance(ws, r, n, limit);
        }
    }
    let backup = snapshot(ws, r);
    let mut chosen = crate::assign::assign(ws, r, prefer);
    if let (Some(c), Some(p)) = (chosen, prefer) {
        if c != p {
            restore(ws, r, backup);
            unassign_all(ws, r);
            chosen = None;
        }
    }
    if let Some(c) = chosen {
        if let Some((holder, n)) = top_allowed(ws, r, Some(c)) {
            if let Some(e) = ws.resources[holder].allowed[n].as_mut() {
                e.count += 1;
            }
        }
    }
    chosen
}

type Snapshot = Vec<(RscId, Vec<Option<NodeScore>>, u64)>;

fn snapshot(ws: &WorkingSet, r: RscId) -> Snapshot {
    let mut v = vec![(r, ws.resources[r].allowed.clone(), ws.resources[r].flags)];
    for &c in &ws.resources[r].children {
        v.extend(snapshot(ws, c));
    }
    v
}

fn restore(ws: &mut WorkingSet, _r: RscId, snap: Snapshot) {
    for (x, allowed, _) in snap {
        ws.resources[x].allowed = allowed;
    }
}

/// pcmk__unassign_resource (recursive) and back to provisional.
fn unassign_all(ws: &mut WorkingSet, r: RscId) {
    crate::assign::unassign(ws, r);
    ws.resources[r].set(rf::PROVISIONAL);
    for c in ws.resources[r].children.clone() {
        unassign_all(ws, c);
    }
}

fn did_fail(ws: &WorkingSet, r: RscId) -> bool {
    ws.resources[r].has(rf::FAILED) || ws.resources[r].children.iter().any(|&c| did_fail(ws, c))
}

fn active_on(ws: &WorkingSet, r: RscId) -> (Option<NodeId>, usize) {
    if ws.resources[r].children.is_empty() {
        let (n, all, _) = find_active_on(ws, r);
        (n, all)
    } else {
        // Collective instances (cloned groups): use running_on of the group.
        let rsc = &ws.resources[r];
        (rsc.running_on.first().copied(), rsc.running_on.len())
    }
}

fn instance_number(id: &str) -> i64 {
    let pos = id.rfind(':').or_else(|| id.rfind('-'));
    pos.and_then(|p| crate::util::scan_leading(&id[p + 1..]))
        .unwrap_or(0)
}

fn cmp_instance_number(ws: &WorkingSet, a: RscId, b: RscId) -> Ordering {
    instance_number(&ws.resources[a].id).cmp(&instance_number(&ws.resources[b].id))
}

fn colocated_score_on(ws: &mut WorkingSet, r: RscId, n: NodeId) -> i32 {
    let parent = ws.resources[r].parent.unwrap_or(r);
    let mut table: Vec<Option<NodeScore>> = vec![None; ws.nodes.len()];
    table[n] = Some(NodeScore {
        weight: ws.nodes[n].weight,
        discover: Discover::Always,
        count: 0,
    });
    for ci in ws.resources[parent].this_with.clone() {
        let primary = ws.colocations[ci].primary;
        crate::colocation::add_colocation_scores(ws, ci, primary, &mut table, 0);
    }
    for ci in ws.resources[parent].with_this.clone() {
        if !crate::colocation::has_influence(ws, ci, Some(r)) {
            continue;
        }
        let dependent = ws.colocations[ci].dependent;
        crate::colocation::add_colocation_scores(
            ws,
            ci,
            dependent,
            &mut table,
            crate::colocation::SELECT_NONNEGATIVE,
        );
    }
    table[n].map(|e| e.weight).unwrap_or(0)
}

/// pcmk__cmp_instance.
fn cmp_instance(ws: &mut WorkingSet, a: RscId, b: RscId) -> Ordering {
    let (mut n1, c1) = active_on(ws, a);
    let (mut n2, c2) = active_on(ws, b);
    if c1 > 0 && c2 > 0 {
        match c1.cmp(&c2) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    let allowed = |ws: &WorkingSet, r: RscId, n: &mut Option<NodeId>| -> bool {
        if let Some(x) = *n {
            match ws.resources[r].allowed[x] {
                Some(e) if e.weight >= 0 => true,
                _ => {
                    *n = None;
                    false
                }
            }
        } else {
            true
        }
    };
    let can1 = allowed(ws, a, &mut n1);
    let can2 = allowed(ws, b, &mut n2);
    if can1 && !can2 {
        return Ordering::Less;
    } else if !can1 && can2 {
        return Ordering::Greater;
    }
    match ws.resources[b].priority.cmp(&ws.resources[a].priority) {
        Ordering::Equal => {}
        o => return o,
    }
    let (x1, x2) = match (n1, n2) {
        (None, None) => return Ordering::Equal,
        (None, _) => return Ordering::Greater,
        (_, None) => return Ordering::Less,
        (Some(x), Some(y)) => (x, y),
    };
    let w1 = ws.resources[a].allowed[x1].map(|e| e.weight).unwrap_or(0);
    let w2 = ws.resources[b].allowed[x2].map(|e| e.weight).unwrap_or(0);
    let av1 = node_available(ws, x1, w1, false);
    let av2 = node_available(ws, x2, w2, false);
    if av1 && !av2 {
        return Ordering::Less;
    } else if !av1 && av2 {
        return Ordering::Greater;
    }
    let t1 = top_allowed(ws, a, Some(x1));
    let t2 = top_allowed(ws, b, Some(x2));
    let (t1, t2) = match (t1, t2) {
        (None, None) => return Ordering::Equal,
        (None, _) => return Ordering::Greater,
        (_, None) => return Ordering::Less,
        (Some(p), Some(q)) => (p, q),
    };
    let count = |ws: &WorkingSet, (h, n): (RscId, NodeId)| {
        ws.resources[h].allowed[n].map(|e| e.count).unwrap_or(0)
    };
    match count(ws, t1).cmp(&count(ws, t2)) {
        Ordering::Equal => {}
        o => return o,
    }
    let f1 = did_fail(ws, a);
    let f2 = did_fail(ws, b);
    if !f1 && f2 {
        return Ordering::Less;
    } else if f1 && !f2 {
        return Ordering::Greater;
    }
    let s1 = colocated_score_on(ws, a, x1);
    let s2 = colocated_score_on(ws, b, x2);
    match s2.cmp(&s1) {
        Ordering::Equal => {}
        o => return o,
    }
    cmp_instance_number(ws, a, b)
}

pub(crate) fn cmp_instance_pub(ws: &mut WorkingSet, a: RscId, b: RscId) -> Ordering {
    cmp_instance(ws, a, b)
}

/// A stable merge sort with a comparator that may mutate the working set.
fn stable_sort(
    ws: &mut WorkingSet,
    v: &mut [RscId],
    cmp: fn(&mut WorkingSet, RscId, RscId) -> Ordering,
) {
    // Insertion sort is stable and fine for instance counts.
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(ws, v[j - 1], v[j]) == Ordering::Greater {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

fn distribute_children(
    ws: &mut WorkingSet,
    r: RscId,
    children: &[RscId],
    max: usize,
    per_host_max: usize,
) {
    let mut available = 0;
    for n in 0..ws.nodes.len() {
        if let Some(e) = ws.resources[r].allowed[n].as_mut() {
            e.count = 0;
            let w = e.weight;
            if node_available(ws, n, w, false) {
                available += 1;
            }
        }
    }
    let all_coloc = max < available;
    let loop_max = max.checked_div(available).unwrap_or(0).max(1);
    let mut allocated = 0;
    for &child in children {
        if allocated >= max {
            break;
        }
        let c = &ws.resources[child];
        if c.running_on.is_empty() || !c.has(rf::PROVISIONAL) || c.has(rf::FAILED) {
            continue;
        }
        let Some(child_node) = active_on(ws, child).0 else {
            continue;
        };
        let w = ws.resources[child].allowed[child_node]
            .map(|e| e.weight)
            .unwrap_or(ws.nodes[child_node].weight);
        if !node_available(ws, child_node, w, true) {
            continue;
        }
        if let Some((h, n)) = top_allowed(ws, child, Some(child_node)) {
            if ws.resources[h].allowed[n].is_some_and(|e| e.count >= loop_max) {
                continue;
            }
        }
        if allocate_instance(ws, child, Some(child_node), all_coloc, per_host_max).is_some() {
            allocated += 1;
        }
    }
    for &child in children {
        if !ws.resources[child].has(rf::PROVISIONAL) {
        } else if allocated >= max {
            // Banned everywhere: its own assignment leaves it unassigned.
            crate::unpack::location_all(ws, child, -INFINITY, false);
        } else if allocate_instance(ws, child, None, all_coloc, per_host_max).is_some() {
            allocated += 1;
        }
    }
}

/// pcmk__clone_allocate.
pub(crate) fn assign_clone(
    ws: &mut WorkingSet,
    r: RscId,
    prefer: Option<NodeId>,
) -> Option<NodeId> {
    if !ws.resources[r].has(rf::PROVISIONAL) || ws.resources[r].has(rf::ALLOCATING) {
        return None;
    }
    if ws.resources[r].has(rf::PROMOTABLE) {
        crate::promotable::add_promotion_scores(ws, r);
    }
    ws.resources[r].set(rf::ALLOCATING);
    for ci in ws.resources[r].this_with.clone() {
        let p = ws.colocations[ci].primary;
        crate::assign::assign(ws, p, prefer);
    }
    for ci in ws.resources[r].with_this.clone() {
        if crate::colocation::has_influence(ws, ci, None) {
            let dependent = ws.colocations[ci].dependent;
            crate::colocation::merge_colocation_scores(
                ws,
                r,
                ci,
                dependent,
                crate::colocation::SELECT_ACTIVE | crate::colocation::SELECT_NONNEGATIVE,
            );
        }
    }
    crate::assign::show_scores(ws, r, "pcmk__clone_allocate");
    let mut children = ws.resources[r].children.clone();
    stable_sort(ws, &mut children, cmp_instance);
    ws.resources[r].children = children.clone();
    let (max, node_max) = (ws.resources[r].clone_max, ws.resources[r].clone_node_max);
    distribute_children(ws, r, &children, max, node_max);
    if ws.resources[r].has(rf::PROMOTABLE) {
        crate::promotable::set_instance_roles(ws, r);
    }
    ws.resources[r].clear(rf::PROVISIONAL | rf::ALLOCATING);
    None
}

// ---------------------------------------------------------------- actions

fn update_pseudo_status(
    ws: &WorkingSet,
    r: RscId,
    stopping: &mut bool,
    starting: &mut bool,
    active: &mut bool,
) {
    let rsc = &ws.resources[r];
    if !rsc.children.is_empty() {
        for &c in &rsc.children {
            update_pseudo_status(ws, c, stopping, starting, active);
        }
        return;
    }
    if !rsc.running_on.is_empty() {
        *active = true;
    }
    for &a in rsc.actions.iter().rev() {
        if *starting && *stopping {
            return;
        }
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) {
            continue;
        }
        if act.flags & (af::PSEUDO | af::RUNNABLE) == 0 {
            continue;
        }
        if act.task.eq_ignore_ascii_case("stop") {
            *stopping = true;
        } else if act.task.eq_ignore_ascii_case("start") && act.has(af::RUNNABLE) {
            *starting = true;
        }
    }
}

fn new_rsc_pseudo(
    ws: &mut WorkingSet,
    r: RscId,
    task: &str,
    optional: bool,
    runnable: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), task, 0);
    let a = custom_action(ws, Some(r), &key, task, None, optional);
    ws.actions[a].flags |= af::PSEUDO;
    if runnable {
        ws.actions[a].flags |= af::RUNNABLE;
    }
    a
}

/// clone_create_pseudo_actions and the instance actions.
pub(crate) fn create_clone_actions(ws: &mut WorkingSet, r: RscId) {
    let mut child_active = false;
    let mut child_starting = false;
    let mut child_stopping = false;
    let mut allow_dependent_migrations = true;
    for c in ws.resources[r].children.clone() {
        let (mut starting, mut stopping) = (false, false);
        crate::create::create_actions(ws, c);
        update_pseudo_status(ws, c, &mut stopping, &mut starting, &mut child_active);
        if stopping && starting {
            allow_dependent_migrations = false;
        }
        child_stopping |= stopping;
        child_starting |= starting;
    }
    new_rsc_pseudo(ws, r, "start", !child_starting, true);
    let started = new_rsc_pseudo(ws, r, "running", !child_starting, false);
    if child_active || child_starting {
        ws.actions[started].flags |= af::RUNNABLE;
    }
    let stop = new_rsc_pseudo(ws, r, "stop", !child_stopping, true);
    new_rsc_pseudo(ws, r, "stopped", !child_stopping, true);
    if allow_dependent_migrations {
        ws.actions[stop].flags |= af::MIGRATE_RUNNABLE;
    }
    child_ordering(ws, r);
    if ws.resources[r].has(rf::PROMOTABLE) {
        crate::promotable::create_promotable_actions(ws, r);
    }
}

fn is_ordered(ws: &WorkingSet, r: RscId) -> bool {
    is_true(ws.resources[r].meta.get("ordered").map(String::as_str))
}

fn find_required_action(ws: &mut WorkingSet, r: RscId, task: &str) -> Option<ActionId> {
    let mut m = None;
    for a in rsc_actions(ws, r, None, task, false) {
        if !ws.actions[a].has(af::OPTIONAL) {
            if m.is_some() {
                return None;
            }
            m = Some(a);
        }
    }
    m
}

fn child_ordering(ws: &mut WorkingSet, r: RscId) {
    if !is_ordered(ws, r) {
        return;
    }
    let mut children = ws.resources[r].children.clone();
    children.sort_by(|&a, &b| cmp_instance_number(ws, a, b));
    ws.resources[r].children = children.clone();
    let mut last_stop = None;
    let mut last_start = None;
    for c in children {
        if let Some(stop) = find_required_action(ws, c, "stop") {
            if let Some(ls) = last_stop {
                order_actions(ws, stop, ls, of::OPTIONAL);
            }
            last_stop = Some(stop);
        }
        if let Some(start) = find_required_action(ws, c, "start") {
            if let Some(ls) = last_start {
                order_actions(ws, ls, start, of::OPTIONAL);
            }
            last_start = Some(start);
        }
    }
}

/// clone_internal_constraints.
pub(crate) fn clone_internal_constraints(ws: &mut WorkingSet, r: RscId) {
    let ordered = is_ordered(ws, r);
    order_resource_actions(ws, r, "stopped", r, "start", of::OPTIONAL);
    order_resource_actions(ws, r, "start", r, "running", of::RUNNABLE_LEFT);
    order_resource_actions(ws, r, "stop", r, "stopped", of::RUNNABLE_LEFT);
    if ws.resources[r].has(rf::PROMOTABLE) {
        order_resource_actions(ws, r, "demoted", r, "stop", of::OPTIONAL);
        order_resource_actions(ws, r, "running", r, "promote", of::RUNNABLE_LEFT);
    }
    if ordered {
        let mut children = ws.resources[r].children.clone();
        children.sort_by(|&a, &b| cmp_instance_number(ws, a, b));
        ws.resources[r].children = children;
    }
    let mut last: Option<RscId> = None;
    for c in ws.resources[r].children.clone() {
        crate::create::internal_constraints(ws, c);
        order_resource_actions(
            ws,
            r,
            "start",
            c,
            "start",
            of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
        );
        order_resource_actions(ws, c, "start", r, "running", of::IMPLIES_THEN_PRINTED);
        if ordered {
            if let Some(l) = last {
                order_resource_actions(ws, l, "start", c, "start", of::OPTIONAL);
            }
        }
        order_resource_actions(ws, r, "stop", c, "stop", of::IMPLIES_FIRST_PRINTED);
        order_resource_actions(ws, c, "stop", r, "stopped", of::IMPLIES_THEN_PRINTED);
        if ordered {
            if let Some(l) = last {
                order_resource_actions(ws, c, "stop", l, "stop", of::OPTIONAL);
            }
        }
        last = Some(c);
    }
    if ws.resources[r].has(rf::PROMOTABLE) {
        crate::promotable::order_promotable_instances(ws, r);
    }
}

/// The instance task a clone action stands for (notify actions name it).
fn clone_child_task(ws: &WorkingSet, a: ActionId) -> String {
    let act = &ws.actions[a];
    if act.task == "notify" || act.task == "notified" {
        // rsc_{pre,post}_notify_TASK_0 / confirmed-...: TASK is the word
        // before the interval.
        let key = &act.key;
        let parts: Vec<&str> = key.rsplitn(3, '_').collect();
        if parts.len() >= 2 {
            return crate::resource::atomic_task(parts[1]).to_string();
        }
    }
    crate::resource::atomic_task(&act.task).to_string()
}

/// summary_action_flags.
pub(crate) fn summary_action_flags(
    ws: &mut WorkingSet,
    a: ActionId,
    children: &[RscId],
    node: Option<NodeId>,
) -> u32 {
    let task = clone_child_task(ws, a);
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    let mut any_runnable = false;
    for &c in children {
        let child_node = if ws.resources[c].children.is_empty() {
            node
        } else {
            None
        };
        let ca = ws.resources[c].actions.iter().rev().copied().find(|&x| {
            ws.actions[x].task.eq_ignore_ascii_case(&task)
                && child_node.is_none_or(|n| ws.actions[x].node == Some(n))
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
    }
    if !any_runnable {
        flags &= !af::RUNNABLE;
        if node.is_none() {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
    }
    flags
}

pub(crate) fn clone_action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let r = ws.actions[a].rsc.unwrap_or_default();
    let children = ws.resources[r].children.clone();
    summary_action_flags(ws, a, &children, node)
}

fn location_of(ws: &WorkingSet, r: RscId, current: bool) -> Option<NodeId> {
    if current {
        let mut v = Vec::new();
        fn walk(ws: &WorkingSet, r: RscId, out: &mut Vec<NodeId>) {
            let rsc = &ws.resources[r];
            if rsc.children.is_empty() {
                for &n in &rsc.running_on {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            } else {
                for &c in &rsc.children {
                    walk(ws, c, out);
                }
            }
        }
        walk(ws, r, &mut v);
        if v.len() == 1 {
            Some(v[0])
        } else {
            None
        }
    } else {
        crate::resource::location(ws, r)
    }
}

fn is_set_recursive(ws: &WorkingSet, r: RscId, flag: u64) -> bool {
    ws.resources[r].has(flag)
        || ws.resources[r]
            .children
            .iter()
            .any(|&c| is_set_recursive(ws, c, flag))
}

fn is_child_compatible(
    ws: &WorkingSet,
    child: RscId,
    node: NodeId,
    filter: Role,
    current: bool,
) -> bool {
    let role = crate::resource::rsc_state(ws, child, current);
    let loc = if !is_set_recursive(ws, child, rf::BLOCK) {
        location_of(ws, child, current)
    } else {
        None
    };
    if filter != Role::Unknown && role != filter {
        return false;
    }
    loc == Some(node)
}

fn find_compatible_child_by_node(
    ws: &WorkingSet,
    node: NodeId,
    rsc: RscId,
    filter: Role,
    current: bool,
) -> Option<RscId> {
    ws.resources[rsc]
        .children
        .iter()
        .copied()
        .find(|&c| is_child_compatible(ws, c, node, filter, current))
}

/// find_compatible_child.
pub(crate) fn find_compatible_child(
    ws: &WorkingSet,
    local: RscId,
    rsc: RscId,
    filter: Role,
    current: bool,
) -> Option<RscId> {
    if let Some(n) = location_of(ws, local, current) {
        return find_compatible_child_by_node(ws, n, rsc, filter, current);
    }
    let nodes = crate::assign::sorted_allowed_no_active(ws, local);
    nodes
        .into_iter()
        .find_map(|(n, _)| find_compatible_child_by_node(ws, n, rsc, filter, current))
}

fn can_interleave(ws: &WorkingSet, first: ActionId, then: ActionId) -> bool {
    let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) else {
        return false;
    };
    if fr == tr {
        return false;
    }
    let v = |r: RscId| ws.resources[r].variant;
    if !matches!(v(fr), Variant::Clone | Variant::Bundle)
        || !matches!(v(tr), Variant::Clone | Variant::Bundle)
    {
        return false;
    }
    let key = &ws.actions[then].key;
    let rsc = if key.ends_with("_stop_0") || key.ends_with("_demote_0") {
        fr
    } else {
        tr
    };
    is_true(ws.resources[rsc].meta.get("interleave").map(String::as_str))
}

fn interleave_update(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    filter: u32,
    otype: u32,
) -> u32 {
    let mut changed = 0;
    let fkey = ws.actions[first].key.clone();
    let current = fkey.ends_with("_stopped_0") || fkey.ends_with("_demoted_0");
    let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) else {
        return 0;
    };
    let first_task = clone_child_task(ws, first);
    let then_task = ws.actions[then].task.clone();
    for then_child in ws.resources[tr].children.clone() {
        let first_child = find_compatible_child(ws, then_child, fr, Role::Unknown, current);
        match first_child {
            None if current => {}
            None => {
                if otype & (of::RUNNABLE_LEFT | of::IMPLIES_THEN) != 0
                    && assign_nowhere(ws, then_child)
                {
                    changed |= 2;
                }
            }
            Some(fc) => {
                let fa = ws.resources[fc].actions.iter().rev().copied().find(|&x| {
                    ws.actions[x].task.eq_ignore_ascii_case(&first_task)
                        && node.is_none_or(|n| ws.actions[x].node == Some(n))
                });
                let ta = ws.resources[then_child]
                    .actions
                    .iter()
                    .rev()
                    .copied()
                    .find(|&x| {
                        ws.actions[x].task.eq_ignore_ascii_case(&then_task)
                            && node.is_none_or(|n| ws.actions[x].node == Some(n))
                    });
                let (Some(fa), Some(ta)) = (fa, ta) else {
                    continue;
                };
                if order_actions(ws, fa, ta, otype) {
                    changed |= 3;
                }
                let ff = crate::resource::action_flags(ws, fa, node);
                changed |=
                    crate::resource::update_ordered_actions(ws, fa, ta, node, ff, filter, otype);
            }
        }
    }
    changed
}

/// pcmk__assign_resource(rsc, NULL, true) for a whole instance.
fn assign_nowhere(ws: &mut WorkingSet, r: RscId) -> bool {
    let mut changed = false;
    let mut prims = Vec::new();
    ws.primitives_of(r, &mut prims);
    for p in prims {
        if ws.resources[p].assigned.is_some() {
            changed = true;
        }
        crate::assign::finalize_assignment(ws, p, None, true);
    }
    changed
}

/// pcmk__multi_update_actions.
pub(crate) fn clone_update_ordered_actions(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    flags: u32,
    filter: u32,
    otype: u32,
) -> u32 {
    if can_interleave(ws, first, then) {
        return interleave_update(ws, first, then, node, filter, otype);
    }
    let Some(tr) = ws.actions[then].rsc else {
        return 0;
    };
    let mut changed = update_ordered_primitive(ws, first, then, flags, filter, otype);
    let task = ws.actions[then].task.clone();
    for c in ws.resources[tr].children.clone() {
        let ca = ws.resources[c].actions.iter().rev().copied().find(|&x| {
            ws.actions[x].task.eq_ignore_ascii_case(&task)
                && node.is_none_or(|n| ws.actions[x].node == Some(n))
        });
        if let Some(ca) = ca {
            let cf = crate::resource::action_flags(ws, ca, node);
            let mut child_changed = 0;
            if cf & af::RUNNABLE != 0 {
                child_changed = crate::resource::update_ordered_actions(
                    ws, first, ca, node, flags, filter, otype,
                );
            }
            changed |= child_changed;
            if child_changed & 2 != 0 {
                let afters: Vec<ActionId> =
                    ws.actions[ca].after.iter().rev().map(|&(a, _)| a).collect();
                for a in afters {
                    update_action_for_orderings(ws, a);
                }
            }
        }
    }
    changed
}

// ------------------------------------------------------------ colocation

/// A clone dependent: its colocations were appended to the instances, so
/// nothing is applied to the clone itself.
pub(crate) fn clone_apply_coloc_dependent(
    ws: &mut WorkingSet,
    dependent: RscId,
    primary: RscId,
    ci: usize,
) {
    let _ = (ws, dependent, primary, ci);
}

/// pcmk__clone_apply_coloc_score with the clone as primary.
pub(crate) fn clone_apply_coloc_primary(
    ws: &mut WorkingSet,
    dependent: RscId,
    primary: RscId,
    ci: usize,
) {
    let c = ws.colocations[ci].clone();
    if ws.resources[primary].has(rf::PROMOTABLE) {
        if ws.resources[primary].has(rf::PROVISIONAL) {
            return;
        } else if c.primary_role == Role::Unknown {
        } else if ws.resources[dependent].has(rf::PROVISIONAL) {
            crate::promotable::update_dependent_with_promotable(ws, primary, dependent, ci);
            return;
        } else if c.dependent_role == Role::Promoted {
            crate::promotable::update_promotable_dependent_priority(ws, primary, dependent, ci);
            return;
        }
    }
    let cdep = c.dependent;
    let mut do_interleave = false;
    if is_true(
        ws.resources[cdep]
            .meta
            .get("interleave")
            .map(String::as_str),
    ) && matches!(ws.resources[cdep].variant, Variant::Clone | Variant::Bundle)
    {
        let per_node = |ws: &WorkingSet, r: RscId| {
            if ws.is_clone(r) {
                ws.resources[r].clone_node_max
            } else {
                1
            }
        };
        if per_node(ws, cdep) == per_node(ws, c.primary) {
            do_interleave = true;
        }
    }
    if ws.resources[primary].has(rf::PROVISIONAL) {
        return;
    }
    if do_interleave {
        match find_compatible_child(ws, dependent, primary, Role::Unknown, false) {
            Some(pi) => crate::colocation::apply_coloc_score(ws, dependent, pi, ci),
            None if c.score >= INFINITY => {
                crate::assign::finalize_assignment(ws, dependent, None, true);
            }
            None => {}
        }
        return;
    }
    if c.score >= INFINITY {
        let mut nodes = Vec::new();
        for ch in ws.resources[primary].children.clone() {
            if let Some(n) = crate::resource::location(ws, ch) {
                if !is_set_recursive(ws, ch, rf::BLOCK) {
                    nodes.push(n);
                }
            }
        }
        // node_list_exclude(dependent->allowed_nodes, nodes, FALSE)
        for n in 0..ws.nodes.len() {
            if let Some(e) = ws.resources[dependent].allowed[n].as_mut() {
                if !nodes.contains(&n) {
                    e.weight = -INFINITY;
                }
            }
        }
        return;
    }
    for ch in ws.resources[primary].children.clone() {
        crate::colocation::apply_coloc_score(ws, dependent, ch, ci);
    }
}

// ----------------------------------------------------------------- probes

fn rsc_known_on(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        rsc.known_on.contains(&n)
    } else {
        rsc.children.iter().any(|&c| rsc_known_on(ws, c, n))
    }
}

/// clone_create_probe / group probes.
pub(crate) fn probe_children(ws: &mut WorkingSet, r: RscId, n: NodeId) -> bool {
    if ws.resources[r].variant != Variant::Clone {
        let children = ws.resources[r].children.clone();
        return crate::probes::probe_resource_list(ws, &children, n);
    }
    let mut children = ws.resources[r].children.clone();
    children.sort_by(|&a, &b| cmp_instance_number(ws, a, b));
    ws.resources[r].children = children.clone();
    if children.is_empty() {
        return false;
    }
    if ws.resources[r].exclusive_discover {
        if let Some(e) = ws.resources[r].allowed[n] {
            if e.discover != Discover::Exclusive {
                ws.resources[r].allowed[n] = None;
                return false;
            }
        }
    }
    if ws.resources[r].has(rf::UNIQUE) {
        return crate::probes::probe_resource_list(ws, &children, n);
    }
    let child = children
        .iter()
        .copied()
        .find(|&c| rsc_known_on(ws, c, n))
        .or_else(|| {
            children
                .iter()
                .copied()
                .find(|&c| crate::resource::location(ws, c) == Some(n))
        })
        .unwrap_or(children[0]);
    crate::probes::probe_resource_list(ws, &[child], n)
}

pub(crate) fn _unused(ws: &WorkingSet) {
    let _ = find_first(ws, &[], "", None);
}

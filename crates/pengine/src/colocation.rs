//! Colocation: creating constraints in Pacemaker's list orders, applying
//! them to node scores, and blocking dependents of unrunnable primaries.

use std::cmp::Ordering;

use cib_xml::score::{add, INFINITY};
use cib_xml::Role;

use crate::assign::{any_node_available, node_available};
use crate::model::*;
use crate::order::update_action_for_orderings;

pub(crate) const SELECT_ACTIVE: u32 = 1;
pub(crate) const SELECT_NONNEGATIVE: u32 = 2;
pub(crate) const SELECT_THIS_WITH: u32 = 4;

const INFINITY_HACK: i32 = INFINITY * -100;

fn variant_rank(v: Variant) -> i32 {
    match v {
        Variant::Primitive => 0,
        Variant::Group => 1,
        Variant::Clone => 2,
        Variant::Bundle => 3,
    }
}

fn cmp_rsc_priority(ws: &WorkingSet, a: RscId, b: RscId) -> Ordering {
    let (ra, rb) = (&ws.resources[a], &ws.resources[b]);
    match rb.priority.cmp(&ra.priority) {
        Ordering::Equal => {}
        o => return o,
    }
    match variant_rank(rb.variant).cmp(&variant_rank(ra.variant)) {
        Ordering::Equal => {}
        o => return o,
    }
    if ra.variant == Variant::Clone {
        match (ra.has(rf::PROMOTABLE), rb.has(rf::PROMOTABLE)) {
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
    }
    ra.id.as_bytes().cmp(rb.id.as_bytes())
}

pub(crate) fn primary_cmp(ws: &WorkingSet, a: usize, b: usize) -> Ordering {
    cmp_rsc_priority(ws, ws.colocations[a].primary, ws.colocations[b].primary)
}

pub(crate) fn dependent_cmp(ws: &WorkingSet, a: usize, b: usize) -> Ordering {
    cmp_rsc_priority(ws, ws.colocations[a].dependent, ws.colocations[b].dependent)
}

/// Inserts into a sorted list before the first element that is not less
/// (g_list_insert_sorted).
fn insert_sorted(list: &mut Vec<usize>, item: usize, cmp: impl Fn(usize, usize) -> Ordering) {
    let pos = list
        .iter()
        .position(|&x| cmp(item, x) != Ordering::Greater)
        .unwrap_or(list.len());
    list.insert(pos, item);
}

/// pcmk__new_colocation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_colocation(
    ws: &mut WorkingSet,
    id: &str,
    node_attr: Option<&str>,
    score: i32,
    dependent: RscId,
    primary: RscId,
    dependent_role: Option<&str>,
    primary_role: Option<&str>,
    influence: bool,
) {
    if score == 0 {
        return;
    }
    let role_of = |r: Option<&str>| match r {
        None => Role::Unknown,
        Some(s) if s.eq_ignore_ascii_case("Started") => Role::Unknown,
        Some(s) => Role::parse(s).unwrap_or(Role::Unknown),
    };
    let c = Colocation {
        id: id.to_string(),
        dependent,
        primary,
        score,
        dependent_role: role_of(dependent_role),
        primary_role: role_of(primary_role),
        node_attribute: node_attr.unwrap_or("").to_string(),
        influence,
    };
    let ci = ws.colocations.len();
    let (drole, prole) = (c.dependent_role, c.primary_role);
    ws.colocations.push(c);
    let mut this_with = std::mem::take(&mut ws.resources[dependent].this_with);
    insert_sorted(&mut this_with, ci, |a, b| {
        cmp_rsc_priority(ws, ws.colocations[a].primary, ws.colocations[b].primary)
    });
    ws.resources[dependent].this_with = this_with;
    let mut with_this = std::mem::take(&mut ws.resources[primary].with_this);
    insert_sorted(&mut with_this, ci, |a, b| {
        cmp_rsc_priority(ws, ws.colocations[a].dependent, ws.colocations[b].dependent)
    });
    ws.resources[primary].with_this = with_this;
    if score <= -INFINITY {
        anti_colocation_order(ws, dependent, drole, primary, prole);
        anti_colocation_order(ws, primary, prole, dependent, drole);
    }
}

fn anti_colocation_order(
    ws: &mut WorkingSet,
    first: RscId,
    first_role: Role,
    then: RscId,
    then_role: Role,
) {
    let mut first_tasks = vec![];
    if first_role == Role::Promoted {
        first_tasks.push("demote");
    } else {
        first_tasks.push("stop");
        if first_role == Role::Unpromoted {
            first_tasks.push("promote");
        }
    }
    let mut then_tasks = vec![];
    if then_role == Role::Promoted {
        then_tasks.push("promote");
    } else {
        then_tasks.push("start");
        if then_role == Role::Unpromoted {
            then_tasks.push("demote");
        }
    }
    for f in &first_tasks {
        for t in &then_tasks {
            crate::order::order_resource_actions(ws, first, f, then, t, of::ANTI_COLOCATION);
        }
    }
}

/// pcmk__colocation_has_influence.
pub(crate) fn has_influence(ws: &WorkingSet, ci: usize, rsc: Option<RscId>) -> bool {
    let c = &ws.colocations[ci];
    let r = rsc.unwrap_or(c.primary);
    c.influence || ws.resources[r].running_on.is_empty()
}

#[derive(PartialEq, Eq)]
enum Affects {
    Nothing,
    Location,
    Role,
}

fn colocation_affects(
    ws: &WorkingSet,
    dependent: RscId,
    primary: RscId,
    ci: usize,
    preview: bool,
) -> Affects {
    let c = &ws.colocations[ci];
    let d = &ws.resources[dependent];
    let p = &ws.resources[primary];
    if !preview && p.has(rf::PROVISIONAL) {
        return Affects::Nothing;
    }
    if c.dependent_role >= Role::Unpromoted
        && d.parent
            .is_some_and(|pp| ws.resources[pp].has(rf::PROMOTABLE))
        && !d.has(rf::PROVISIONAL)
    {
        return Affects::Role;
    }
    if !preview && !d.has(rf::PROVISIONAL) {
        return Affects::Nothing;
    }
    if c.score > 0 && c.dependent_role != Role::Unknown && c.dependent_role != d.next_role {
        return Affects::Nothing;
    }
    if c.score > 0 && c.primary_role != Role::Unknown && c.primary_role != p.next_role {
        return Affects::Nothing;
    }
    if c.score < 0 && c.dependent_role != Role::Unknown && c.dependent_role == d.next_role {
        return Affects::Nothing;
    }
    if c.score < 0 && c.primary_role != Role::Unknown && c.primary_role == p.next_role {
        return Affects::Nothing;
    }
    Affects::Location
}

fn node_attr<'a>(ws: &'a WorkingSet, n: NodeId, attr: &str) -> Option<&'a str> {
    ws.nodes[n].attrs.get(attr).map(String::as_str)
}

fn attr_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

/// pcmk__apply_coloc_to_weights.
fn apply_coloc_to_weights(ws: &mut WorkingSet, dependent: RscId, primary: RscId, ci: usize) {
    let c = ws.colocations[ci].clone();
    let attribute = if c.node_attribute.is_empty() {
        "#id"
    } else {
        c.node_attribute.as_str()
    };
    let primary_node = ws.resources[primary].assigned;
    let value = match primary_node {
        Some(pn) => node_attr(ws, pn, attribute).map(str::to_string),
        None if c.score < 0 => return,
        None => None,
    };
    let mut work = ws.resources[dependent].allowed.clone();
    for (n, e) in work.iter_mut().enumerate() {
        let Some(e) = e else { continue };
        if primary_node.is_none() {
            e.weight = add(-c.score, e.weight);
        } else if attr_eq(node_attr(ws, n, attribute), value.as_deref()) {
            if c.score < INFINITY {
                e.weight = add(c.score, e.weight);
            }
        } else if c.score >= INFINITY {
            e.weight = add(-c.score, e.weight);
        }
    }
    if c.score <= -INFINITY || c.score >= INFINITY || any_node_available(ws, &work) {
        ws.resources[dependent].allowed = work;
    }
}

fn apply_coloc_to_priority(ws: &mut WorkingSet, dependent: RscId, primary: RscId, ci: usize) {
    let c = ws.colocations[ci].clone();
    let (Some(pn), Some(dn)) = (
        ws.resources[primary].assigned,
        ws.resources[dependent].assigned,
    ) else {
        return;
    };
    let attribute = if c.node_attribute.is_empty() {
        "#id"
    } else {
        c.node_attribute.as_str()
    };
    if !attr_eq(node_attr(ws, dn, attribute), node_attr(ws, pn, attribute)) {
        if c.score == INFINITY && c.dependent_role == Role::Promoted {
            ws.resources[dependent].priority = -INFINITY;
        }
        return;
    }
    if c.primary_role != Role::Unknown && c.primary_role != ws.resources[primary].next_role {
        return;
    }
    let mult = if c.dependent_role == Role::Unpromoted {
        -1
    } else {
        1
    };
    let p = ws.resources[dependent].priority;
    ws.resources[dependent].priority = add(mult * c.score, p);
}

/// The primary's apply_coloc_score method on behalf of a dependent.
pub(crate) fn apply_coloc_score(ws: &mut WorkingSet, dependent: RscId, primary: RscId, ci: usize) {
    // Dependent side (groups colocate their members).
    if ws.resources[dependent].variant == Variant::Group {
        let members = ws.resources[dependent].children.clone();
        if members.is_empty() {
            return;
        }
        if crate::group::is_colocated(ws, dependent) {
            apply_coloc_score(ws, members[0], primary, ci);
        } else if ws.colocations[ci].score < INFINITY {
            for m in members {
                apply_coloc_score(ws, m, primary, ci);
            }
        }
        return;
    }
    if ws.resources[dependent].variant == Variant::Clone {
        crate::clone::clone_apply_coloc_dependent(ws, dependent, primary, ci);
        return;
    }
    match ws.resources[primary].variant {
        Variant::Primitive => match colocation_affects(ws, dependent, primary, ci, false) {
            Affects::Role => apply_coloc_to_priority(ws, dependent, primary, ci),
            Affects::Location => apply_coloc_to_weights(ws, dependent, primary, ci),
            Affects::Nothing => {}
        },
        Variant::Group => {
            if ws.resources[primary].has(rf::PROVISIONAL) {
                return;
            }
            let members = ws.resources[primary].children.clone();
            if crate::group::is_colocated(ws, primary) {
                let member = if ws.colocations[ci].score >= INFINITY {
                    members.last().copied()
                } else {
                    members.first().copied()
                };
                if let Some(m) = member {
                    apply_coloc_score(ws, dependent, m, ci);
                }
            } else if ws.colocations[ci].score < INFINITY {
                for m in members {
                    apply_coloc_score(ws, dependent, m, ci);
                }
            }
        }
        Variant::Clone | Variant::Bundle => {
            crate::clone::clone_apply_coloc_primary(ws, dependent, primary, ci)
        }
    }
}

fn best_node_score_matching_attr(
    ws: &WorkingSet,
    r: RscId,
    attr: &str,
    value: Option<&str>,
) -> i32 {
    let mut best = -INFINITY;
    for (n, e) in ws.resources[r].allowed.iter().enumerate() {
        let Some(e) = e else { continue };
        if e.weight > best
            && node_available(ws, n, e.weight, false)
            && attr_eq(value, node_attr(ws, n, attr))
        {
            best = e.weight;
        }
    }
    best
}

fn add_node_scores_matching_attr(
    ws: &WorkingSet,
    nodes: &mut [Option<NodeScore>],
    r: RscId,
    attr: Option<&str>,
    factor: f32,
    only_positive: bool,
) {
    let attr = attr.unwrap_or("#uname");
    for (n, e) in nodes.iter_mut().enumerate() {
        let Some(e) = e else { continue };
        let score = best_node_score_matching_attr(ws, r, attr, node_attr(ws, n, attr));
        if factor < 0.0 && score < 0 {
            continue;
        }
        if e.weight == INFINITY_HACK {
            continue;
        }
        let wf = factor * score as f32;
        let mut weight = if wf < 0.0 {
            (wf - 0.5) as i32
        } else {
            (wf + 0.5) as i32
        };
        if weight == 0 && score != 0 {
            if factor > 0.0 {
                weight = 1;
            } else if factor < 0.0 {
                weight = -1;
            }
        }
        let new_score = add(weight, e.weight);
        if only_positive && new_score < 0 && e.weight > 0 {
            e.weight = INFINITY_HACK;
            continue;
        }
        if only_positive && new_score < 0 && e.weight == 0 {
            continue;
        }
        e.weight = new_score;
    }
}

/// Adds the node scores of `other` (one side of colocation `ci`) into
/// `table`, weighted by the colocation's score and matched on its node
/// attribute.
pub(crate) fn add_colocation_scores(
    ws: &mut WorkingSet,
    ci: usize,
    other: RscId,
    table: &mut Vec<Option<NodeScore>>,
    flags: u32,
) {
    let c = &ws.colocations[ci];
    let factor = c.score as f32 / INFINITY as f32;
    let attr = (!c.node_attribute.is_empty()).then(|| c.node_attribute.clone());
    add_colocated_node_scores(ws, other, table, attr.as_deref(), factor, flags);
}

/// [`add_colocation_scores`] into `r`'s own allowed-node table.
pub(crate) fn merge_colocation_scores(
    ws: &mut WorkingSet,
    r: RscId,
    ci: usize,
    other: RscId,
    flags: u32,
) {
    let mut table = ws.resources[r].allowed.clone();
    add_colocation_scores(ws, ci, other, &mut table, flags);
    ws.resources[r].allowed = table;
}

/// pcmk__add_colocated_node_scores.
pub(crate) fn add_colocated_node_scores(
    ws: &mut WorkingSet,
    r: RscId,
    nodes: &mut Vec<Option<NodeScore>>,
    attr: Option<&str>,
    factor: f32,
    flags: u32,
) {
    if ws.resources[r].has(rf::MERGING) {
        return;
    }
    ws.resources[r].set(rf::MERGING);
    let mut work: Vec<Option<NodeScore>>;
    if ws.resources[r].variant == Variant::Group {
        let Some(&first) = ws.resources[r].children.first() else {
            ws.resources[r].clear(rf::MERGING);
            return;
        };
        work = nodes.clone();
        add_colocated_node_scores(ws, first, &mut work, attr, factor, flags);
    } else {
        work = nodes.clone();
        add_node_scores_matching_attr(
            ws,
            &mut work,
            r,
            attr,
            factor,
            flags & SELECT_NONNEGATIVE != 0,
        );
    }
    if any_node_available(ws, &work) {
        let multiplier: f32 = if factor < 0.0 { -1.0 } else { 1.0 };
        let list: Vec<usize> = if flags & SELECT_THIS_WITH != 0 {
            ws.resources[r].this_with.clone()
        } else if ws.resources[r].variant == Variant::Group {
            let last = *ws.resources[r].children.last().unwrap_or(&r);
            ws.resources[last].with_this.clone()
        } else {
            ws.resources[r].with_this.clone()
        };
        for ci in list {
            let other = if flags & SELECT_THIS_WITH != 0 {
                ws.colocations[ci].primary
            } else if !has_influence(ws, ci, None) {
                continue;
            } else {
                ws.colocations[ci].dependent
            };
            let f = multiplier * ws.colocations[ci].score as f32 / INFINITY as f32;
            let na = ws.colocations[ci].node_attribute.clone();
            let na = if na.is_empty() { None } else { Some(na) };
            add_colocated_node_scores(
                ws,
                other,
                &mut work,
                na.as_deref(),
                f,
                flags | SELECT_ACTIVE,
            );
        }
    } else if flags & SELECT_ACTIVE != 0 {
        ws.resources[r].clear(rf::MERGING);
        return;
    }
    if flags & SELECT_NONNEGATIVE != 0 {
        for e in work.iter_mut().flatten() {
            if e.weight == INFINITY_HACK {
                e.weight = 1;
            }
        }
    }
    *nodes = work;
    ws.resources[r].clear(rf::MERGING);
}

fn mark_action_blocked(ws: &mut WorkingSet, r: RscId, task: &str, reason_rsc: RscId) {
    let text = format!("colocation with {}", ws.resources[reason_rsc].id);
    for a in ws.resources[r].actions.clone().into_iter().rev() {
        if ws.actions[a].has(af::RUNNABLE) && ws.actions[a].task.eq_ignore_ascii_case(task) {
            ws.actions[a].flags &= !af::RUNNABLE;
            crate::actions::set_reason(ws, a, Some(&text), false);
            block_colocation_dependents(ws, a);
            update_action_for_orderings(ws, a);
        }
    }
    for c in ws.resources[r].children.clone() {
        mark_action_blocked(ws, c, task, reason_rsc);
    }
}

/// pcmk__block_colocation_dependents.
pub(crate) fn block_colocation_dependents(ws: &mut WorkingSet, a: ActionId) {
    let act = &ws.actions[a];
    if act.has(af::RUNNABLE) {
        return;
    }
    let is_start = act.task == "start";
    if !is_start && act.task != "promote" {
        return;
    }
    let Some(ar) = act.rsc else { return };
    let task = act.task.clone();
    let mut r = ws.top_parent(ar);
    if let Some(p) = ws.resources[r].parent {
        r = p;
    }
    if ws.resources[r].with_this.is_empty() {
        return;
    }
    for &c in &ws.resources[r].children {
        let ca = ws.resources[c]
            .actions
            .iter()
            .rev()
            .copied()
            .find(|&x| ws.actions[x].task.eq_ignore_ascii_case(&task));
        match ca {
            None => return,
            Some(x) if ws.actions[x].has(af::RUNNABLE) => return,
            _ => {}
        }
    }
    for ci in ws.resources[r].with_this.clone() {
        let c = ws.colocations[ci].clone();
        if c.score < INFINITY {
            continue;
        }
        if !is_start && c.primary_role != Role::Promoted {
            continue;
        }
        if c.dependent_role == Role::Promoted {
            mark_action_blocked(ws, c.dependent, "promote", ar);
        } else {
            mark_action_blocked(ws, c.dependent, "start", ar);
        }
    }
}

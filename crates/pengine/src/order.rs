//! Orderings: resource-level orderings expanded into action pairs, then
//! flag propagation (optional/runnable) to a fixpoint, as Pacemaker's
//! pcmk__apply_orderings and pcmk__update_action_for_orderings do.

use crate::actions::{custom_action, find_actions, set_reason};
use crate::model::*;
use crate::util::{op_key, parse_op_key};
use cib_xml::Role;

/// order_actions: links two actions directly. Returns false when the pair
/// already exists with an overlapping type.
pub(crate) fn order_actions(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    flags: u32,
) -> bool {
    if flags == of::NONE || first == then {
        return false;
    }
    if ws.actions[first]
        .after
        .iter()
        .any(|&(t, f)| t == then && (f & flags) != 0)
    {
        return false;
    }
    ws.actions[first].after.push((then, flags));
    ws.actions[then].before.push((first, flags));
    true
}

/// pcmk__new_ordering.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_ordering(
    ws: &mut WorkingSet,
    first_rsc: Option<RscId>,
    first_task: Option<String>,
    first_action: Option<ActionId>,
    then_rsc: Option<RscId>,
    then_task: Option<String>,
    then_action: Option<ActionId>,
    flags: u32,
) {
    let first_rsc = first_rsc.or_else(|| first_action.and_then(|a| ws.actions[a].rsc));
    let then_rsc = then_rsc.or_else(|| then_action.and_then(|a| ws.actions[a].rsc));
    // The task is only read when no action is given (then it names the
    // actions to find); not storing it otherwise saves two strings for
    // each of the (many) action-to-action orderings.
    let first_task = if first_action.is_some() {
        None
    } else {
        first_task
    };
    let then_task = if then_action.is_some() {
        None
    } else {
        then_task
    };
    ws.orderings.push(Ordering {
        first_rsc,
        first_task,
        first_action,
        then_rsc,
        then_task,
        then_action,
        flags,
    });
    crate::migration::order_migration_equivalents(ws, ws.orderings.len() - 1);
}

/// pcmk__order_resource_actions: `first_rsc first_task` then
/// `then_rsc then_task`, both by key with interval 0.
pub(crate) fn order_resource_actions(
    ws: &mut WorkingSet,
    first_rsc: RscId,
    first_task: &str,
    then_rsc: RscId,
    then_task: &str,
    flags: u32,
) {
    let fk = op_key(&ws.resources[first_rsc].id, first_task, 0);
    let tk = op_key(&ws.resources[then_rsc].id, then_task, 0);
    new_ordering(
        ws,
        Some(first_rsc),
        Some(fk),
        None,
        Some(then_rsc),
        Some(tk),
        None,
        flags,
    );
}

fn find_actions_by_task(ws: &mut WorkingSet, r: RscId, key: &str) -> Vec<ActionId> {
    let list = find_actions(ws, Some(r), key, None);
    if !list.is_empty() {
        return list;
    }
    match parse_op_key(key) {
        Some((_, task, interval)) => {
            let k = op_key(&ws.resources[r].id.clone(), &task, interval);
            find_actions(ws, Some(r), &k, None)
        }
        None => Vec::new(),
    }
}

fn order_resource_actions_after(ws: &mut WorkingSet, first: Option<ActionId>, r: RscId, oi: usize) {
    let o = ws.orderings[oi].clone();
    let mut flags = o.flags;
    let then_actions = match o.then_action {
        Some(a) => vec![a],
        None => find_actions_by_task(ws, r, o.then_task.as_deref().unwrap_or("")),
    };
    if then_actions.is_empty() {
        return;
    }
    if let Some(f) = first {
        if ws.actions[f].rsc == Some(r) && ws.actions[f].has(af::DANGLE) {
            flags &= !of::IMPLIES_THEN;
        }
    }
    if first.is_none() && flags & of::IMPLIES_THEN == 0 {
        return;
    }
    for t in then_actions {
        match first {
            Some(f) => {
                order_actions(ws, f, t, flags);
            }
            None => {
                ws.actions[t].flags &= !af::RUNNABLE;
            }
        }
    }
}

fn rsc_order_first(ws: &mut WorkingSet, first_rsc: RscId, oi: usize) {
    let o = ws.orderings[oi].clone();
    let mut first_actions = match o.first_action {
        Some(a) => vec![a],
        None => find_actions_by_task(ws, first_rsc, o.first_task.as_deref().unwrap_or("")),
    };
    if first_actions.is_empty() && Some(first_rsc) != o.then_rsc {
        let (_, op_type, interval) =
            parse_op_key(o.first_task.as_deref().unwrap_or("")).unwrap_or_default();
        let key = op_key(&ws.resources[first_rsc].id.clone(), &op_type, interval);
        let state = crate::resource::rsc_state(ws, first_rsc, true);
        let nothing_to_do = (state == Role::Stopped && op_type.eq_ignore_ascii_case("stop"))
            || (state == Role::Unpromoted && op_type.eq_ignore_ascii_case("demote"));
        if !nothing_to_do {
            let a = custom_action(ws, Some(first_rsc), &key, &op_type, None, true);
            first_actions = vec![a];
        }
    }
    let then_rsc = match o.then_rsc {
        Some(t) => Some(t),
        None => match o.then_action {
            None => return,
            Some(a) => ws.actions[a].rsc,
        },
    };
    for f in first_actions {
        match then_rsc {
            None => {
                if let Some(t) = o.then_action {
                    order_actions(ws, f, t, o.flags);
                }
            }
            Some(t) => order_resource_actions_after(ws, Some(f), t, oi),
        }
    }
}

/// pcmk__apply_orderings (phase 12).
pub(crate) fn apply_orderings(ws: &mut WorkingSet) {
    for oi in 0..ws.orderings.len() {
        let o = ws.orderings[oi].clone();
        if let Some(r) = o.first_rsc {
            rsc_order_first(ws, r, oi);
            continue;
        }
        if let Some(r) = o.then_rsc {
            order_resource_actions_after(ws, o.first_action, r, oi);
        } else if let (Some(f), Some(t)) = (o.first_action, o.then_action) {
            order_actions(ws, f, t, o.flags);
        }
    }
    // Block colocation dependents of unrunnable starts (newest first).
    for a in (0..ws.actions.len()).rev() {
        crate::colocation::block_colocation_dependents(ws, a);
    }
    for a in (0..ws.actions.len()).rev() {
        update_action_for_orderings(ws, a);
    }
}

const UPDATED_FIRST: u32 = 1;
const UPDATED_THEN: u32 = 2;

/// Flags of an action as seen by orderings (collectives summarise their
/// children).
fn action_flags_for_ordering(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let Some(r) = ws.actions[a].rsc else {
        return ws.actions[a].flags;
    };
    let flags = crate::resource::action_flags(ws, a, None);
    if node.is_none() || !ws.is_clone(r) {
        return flags;
    }
    let runnable = flags & af::RUNNABLE != 0;
    let mut flags = crate::resource::action_flags(ws, a, node);
    if runnable && flags & af::RUNNABLE == 0 {
        flags |= af::RUNNABLE;
    }
    flags
}

/// For orderings on collective resources, "first" is the completion
/// pseudo-action (start -> running, ...).
fn action_for_ordering(ws: &WorkingSet, a: ActionId) -> ActionId {
    let Some(r) = ws.actions[a].rsc else { return a };
    let rsc = &ws.resources[r];
    if rsc.variant == Variant::Primitive {
        return a;
    }
    let key = &ws.actions[a].key;
    if key.contains("notify") {
        return a;
    }
    let Some((rid, task, interval)) = parse_op_key(key) else {
        return a;
    };
    if interval > 0 {
        return a;
    }
    let remapped = match task.as_str() {
        "stop" => "stopped",
        "start" => "running",
        "notify" => "notified",
        "promote" => "promoted",
        "demote" => "demoted",
        "stopped" | "running" | "notified" | "promoted" | "demoted" => task.as_str(),
        _ => return a,
    };
    let notify_outer = rsc.has(rf::NOTIFY)
        && (rsc.parent.is_none()
            || (rsc.variant == Variant::Clone
                && rsc
                    .parent
                    .is_some_and(|p| ws.resources[p].variant == Variant::Bundle)));
    let uuid = if notify_outer {
        format!("{rid}_confirmed-post_notify_{remapped}_0")
    } else {
        op_key(&rid, remapped, 0)
    };
    crate::actions::find_first(ws, &rsc.actions, &uuid, None).unwrap_or(a)
}

fn is_parent(ws: &WorkingSet, child: RscId, rsc: RscId) -> bool {
    let mut p = Some(child);
    while let Some(x) = p {
        if x == rsc {
            return true;
        }
        p = ws.resources[x].parent;
    }
    false
}

/// pcmk__update_action_for_orderings.
pub(crate) fn update_action_for_orderings(ws: &mut WorkingSet, then: ActionId) {
    let mut changed = 0u32;
    let last_flags = ws.actions[then].flags;
    if ws.actions[then].has(af::REQUIRES_ANY) {
        ws.actions[then].runnable_before = 0;
        if ws.actions[then].required_runnable_before == 0 {
            ws.actions[then].required_runnable_before = 1;
        }
        ws.actions[then].flags &= !af::RUNNABLE;
    }
    let mut i = ws.actions[then].before.len();
    while i > 0 {
        i -= 1;
        let (orig_first, otype) = ws.actions[then].before[i];
        let mut first = orig_first;
        let mut then_node = ws.actions[then].node;
        let mut first_node = ws.actions[first].node;
        if let Some(fr) = ws.actions[first].rsc {
            if ws.resources[fr].variant == Variant::Group
                && ws.actions[first].task.eq_ignore_ascii_case("start")
            {
                if let Some(l) = crate::resource::location(ws, fr) {
                    first_node = Some(l);
                }
            }
        }
        if let Some(tr) = ws.actions[then].rsc {
            if ws.resources[tr].variant == Variant::Group
                && ws.actions[then].task.eq_ignore_ascii_case("start")
            {
                if let Some(l) = crate::resource::location(ws, tr) {
                    then_node = Some(l);
                }
            }
        }
        if otype & of::SAME_NODE != 0 {
            if let (Some(f), Some(t)) = (first_node, then_node) {
                if f != t {
                    ws.actions[then].before[i].1 = of::NONE;
                    continue;
                }
            }
        }
        changed &= !UPDATED_FIRST;
        if ws.actions[first].rsc.is_some()
            && otype & of::THEN_CANCELS_FIRST != 0
            && !ws.actions[then].has(af::OPTIONAL)
        {
            ws.actions[first].flags |= af::OPTIONAL;
            if ws.actions[first].task == "reload-agent" {
                let fr = ws.actions[first].rsc.unwrap_or_default();
                ws.resources[fr].clear(rf::RELOAD);
            }
        }
        if let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) {
            if fr != tr && !is_parent(ws, tr, fr) {
                first = action_for_ordering(ws, first);
            }
        }
        if first == orig_first {
            let first_flags = action_flags_for_ordering(ws, first, then_node);
            let then_flags = action_flags_for_ordering(ws, then, first_node);
            changed |= update_for_ordering_flags(ws, first, then, first_flags, then_flags, i);
        } else if order_actions(ws, first, then, otype) {
            changed |= UPDATED_THEN;
            // The list grew; the disabled entry keeps its index.
            ws.actions[then].before[i].1 = of::NONE;
        }
        if changed & UPDATED_FIRST != 0 {
            let afters: Vec<ActionId> = ws.actions[first]
                .after
                .iter()
                .rev()
                .map(|&(a, _)| a)
                .collect();
            for a in afters {
                update_action_for_orderings(ws, a);
            }
            update_action_for_orderings(ws, first);
        }
    }
    if ws.actions[then].has(af::REQUIRES_ANY) {
        if last_flags == ws.actions[then].flags {
            changed &= !UPDATED_THEN;
        } else {
            changed |= UPDATED_THEN;
        }
    }
    if changed & UPDATED_THEN != 0 {
        if last_flags & af::RUNNABLE != 0 && !ws.actions[then].has(af::RUNNABLE) {
            crate::colocation::block_colocation_dependents(ws, then);
        }
        update_action_for_orderings(ws, then);
        let afters: Vec<ActionId> = ws.actions[then]
            .after
            .iter()
            .rev()
            .map(|&(a, _)| a)
            .collect();
        for a in afters {
            update_action_for_orderings(ws, a);
        }
    }
}

/// update_action_for_ordering_flags.
fn update_for_ordering_flags(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    first_flags: u32,
    then_flags: u32,
    wrapper: usize,
) -> u32 {
    let mut changed = 0;
    let mut otype = ws.actions[then].before[wrapper].1;
    let mut node = ws.actions[then].node;
    if otype & of::IMPLIES_THEN_ON_NODE != 0 {
        otype &= !of::IMPLIES_THEN_ON_NODE;
        otype |= of::IMPLIES_THEN;
        ws.actions[then].before[wrapper].1 = otype;
        node = ws.actions[first].node;
    }
    let then_rsc = ws.actions[then].rsc;
    let first_rsc = ws.actions[first].rsc;
    // Each kind of ordering hands the pair to the "then" resource's rules
    // with the action flags that kind may change.
    let update = move |ws: &mut WorkingSet, flags: u32, filter: u32, kind: u32| {
        crate::resource::update_ordered_actions(ws, first, then, node, flags, filter, kind)
    };
    if otype & of::IMPLIES_THEN != 0 {
        if then_rsc.is_some() {
            changed |= update(
                ws,
                first_flags & af::OPTIONAL,
                af::OPTIONAL,
                of::IMPLIES_THEN,
            );
        } else if first_flags & af::OPTIONAL == 0 && ws.actions[then].has(af::OPTIONAL) {
            ws.actions[then].flags &= !af::OPTIONAL;
            changed |= UPDATED_THEN;
        }
    }
    if otype & of::RESTART != 0 && then_rsc.is_some() {
        changed |= update(ws, first_flags, af::OPTIONAL | af::RUNNABLE, of::RESTART);
    }
    if otype & of::IMPLIES_FIRST != 0 {
        if first_rsc.is_some() {
            changed |= update(ws, first_flags, af::OPTIONAL, of::IMPLIES_FIRST);
        } else if first_flags & af::OPTIONAL == 0 && ws.actions[first].has(af::RUNNABLE) {
            ws.actions[first].flags &= !af::RUNNABLE;
            changed |= UPDATED_FIRST;
        }
    }
    if otype & of::PROMOTED_IMPLIES_FIRST != 0 && then_rsc.is_some() {
        changed |= update(
            ws,
            first_flags & af::OPTIONAL,
            af::OPTIONAL,
            of::PROMOTED_IMPLIES_FIRST,
        );
    }
    if otype & of::ONE_OR_MORE != 0 {
        if then_rsc.is_some() {
            changed |= update(ws, first_flags, af::RUNNABLE, of::ONE_OR_MORE);
        } else if first_flags & af::RUNNABLE != 0 {
            ws.actions[then].runnable_before += 1;
            if ws.actions[then].runnable_before >= ws.actions[then].required_runnable_before
                && !ws.actions[then].has(af::RUNNABLE)
            {
                ws.actions[then].flags |= af::RUNNABLE;
                changed |= UPDATED_THEN;
            }
        }
    }
    if otype & of::PROBE != 0 && then_rsc.is_some() {
        let fr = first_rsc.unwrap_or_default();
        if first_flags & af::RUNNABLE == 0 && !ws.resources[fr].running_on.is_empty() {
            ws.actions[then].before[wrapper].1 = of::NONE;
            otype = of::NONE;
        } else {
            changed |= update(ws, first_flags, af::RUNNABLE, of::RUNNABLE_LEFT);
        }
    }
    if otype & of::RUNNABLE_LEFT != 0 {
        if then_rsc.is_some() {
            changed |= update(ws, first_flags, af::RUNNABLE, of::RUNNABLE_LEFT);
        } else if first_flags & af::RUNNABLE == 0 && ws.actions[then].has(af::RUNNABLE) {
            ws.actions[then].flags &= !af::RUNNABLE;
            changed |= UPDATED_THEN;
        }
    }
    for (kind, filter) in [
        (of::IMPLIES_FIRST_MIGRATABLE, af::OPTIONAL),
        (of::PSEUDO_LEFT, af::OPTIONAL),
        (of::OPTIONAL, af::RUNNABLE),
        (of::ASYMMETRICAL, af::RUNNABLE),
    ] {
        if otype & kind != 0 && then_rsc.is_some() {
            changed |= update(ws, first_flags, filter, kind);
        }
    }
    if ws.actions[first].has(af::RUNNABLE)
        && otype & of::IMPLIES_THEN_PRINTED != 0
        && first_flags & af::OPTIONAL == 0
    {
        ws.actions[then].flags |= af::PRINT_ALWAYS;
    }
    if otype & of::IMPLIES_FIRST_PRINTED != 0 && then_flags & af::OPTIONAL == 0 {
        ws.actions[first].flags |= af::PRINT_ALWAYS;
    }
    if otype & (of::IMPLIES_THEN | of::IMPLIES_FIRST | of::RESTART) != 0 {
        if let Some(fr) = first_rsc {
            let frs = &ws.resources[fr];
            if !frs.has(rf::MANAGED)
                && frs.has(rf::BLOCK)
                && !ws.actions[first].has(af::RUNNABLE)
                && ws.actions[first].task.eq_ignore_ascii_case("stop")
                && ws.actions[then].has(af::RUNNABLE)
            {
                ws.actions[then].flags &= !af::RUNNABLE;
                changed |= UPDATED_THEN;
            }
        }
    }
    changed
}

/// Clears a flag of `action` because of `reason_action`, recording the
/// reason text when the two belong to different resources.
pub(crate) fn clear_flag_because(
    ws: &mut WorkingSet,
    action: ActionId,
    flag: u32,
    reason: ActionId,
) {
    if ws.actions[action].flags & flag == 0 {
        return;
    }
    ws.actions[action].flags &= !flag;
    if ws.actions[action].rsc != ws.actions[reason].rsc {
        let change = if flag == af::OPTIONAL {
            "required"
        } else {
            "unrunnable"
        };
        let r = &ws.actions[reason];
        let text = match r.rsc {
            Some(rr) => format!("{change} {} {}", ws.resources[rr].id, r.task),
            None => format!("{change} {}", r.task),
        };
        set_reason(ws, action, Some(&text), flag == af::MIGRATE_RUNNABLE);
    }
}

fn handle_asymmetric_ordering(ws: &mut WorkingSet, first: ActionId, then: ActionId) {
    let Some(tr) = ws.actions[then].rsc else {
        return;
    };
    let role = crate::resource::rsc_state(ws, tr, true);
    if role == Role::Stopped && ws.actions[then].task == "stop" {
        return;
    }
    let then_on = &ws.resources[tr].running_on;
    if role >= Role::Started
        && ws.actions[then].has(af::OPTIONAL)
        && ws.actions[then].node.is_some()
        && then_on.len() == 1
        && ws.actions[then].node == Some(then_on[0])
        && ws.actions[then].task == "start"
    {
        return;
    }
    if !ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, then, af::OPTIONAL, first);
        clear_flag_because(ws, then, af::RUNNABLE, first);
    }
}

fn handle_restart_ordering(ws: &mut WorkingSet, first: ActionId, then: ActionId, filter: u32) {
    let mut reason = false;
    if filter & af::OPTIONAL != 0 && !ws.actions[then].has(af::OPTIONAL) {
        reason = true;
    }
    if filter & af::RUNNABLE != 0 && !ws.actions[then].has(af::RUNNABLE) {
        if let Some(tr) = ws.actions[then].rsc {
            if ws.resources[tr].has(rf::MANAGED) && ws.actions[first].rsc == Some(tr) {
                reason = true;
            }
        }
    }
    if !reason {
        return;
    }
    if ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, first, af::OPTIONAL, then);
    }
    if !ws.actions[then].has(af::OPTIONAL) {
        clear_flag_because(ws, first, af::OPTIONAL, then);
    }
    if !ws.actions[then].has(af::MIGRATE_RUNNABLE) {
        clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
    }
    if !ws.actions[first].has(af::OPTIONAL) && !ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, then, af::RUNNABLE, first);
    }
}

/// pcmk__update_ordered_actions: the primitive rules for one ordering.
pub(crate) fn update_ordered_primitive(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    flags: u32,
    filter: u32,
    otype: u32,
) -> u32 {
    let mut changed = 0;
    let then_flags = ws.actions[then].flags;
    let first_flags = ws.actions[first].flags;
    if otype & of::ASYMMETRICAL != 0 {
        handle_asymmetric_ordering(ws, first, then);
    }
    if otype & of::IMPLIES_FIRST != 0 && then_flags & af::OPTIONAL == 0 {
        if filter & af::OPTIONAL != 0
            && flags & af::OPTIONAL == 0
            && first_flags & af::OPTIONAL != 0
        {
            clear_flag_because(ws, first, af::OPTIONAL, then);
        }
        if flags & af::MIGRATE_RUNNABLE != 0 && !ws.actions[then].has(af::MIGRATE_RUNNABLE) {
            clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
        }
    }
    if otype & of::PROMOTED_IMPLIES_FIRST != 0
        && ws.actions[then]
            .rsc
            .is_some_and(|r| ws.resources[r].role == Role::Promoted)
        && filter & af::OPTIONAL != 0
        && !ws.actions[then].has(af::OPTIONAL)
    {
        clear_flag_because(ws, first, af::OPTIONAL, then);
        if ws.actions[first].has(af::MIGRATE_RUNNABLE)
            && !ws.actions[then].has(af::MIGRATE_RUNNABLE)
        {
            clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
        }
    }
    if otype & of::IMPLIES_FIRST_MIGRATABLE != 0 && filter & af::OPTIONAL != 0 {
        let tf = ws.actions[then].flags;
        if tf & (af::MIGRATE_RUNNABLE | af::RUNNABLE) != (af::MIGRATE_RUNNABLE | af::RUNNABLE) {
            clear_flag_because(ws, first, af::RUNNABLE, then);
        }
        if !ws.actions[then].has(af::OPTIONAL) {
            clear_flag_because(ws, first, af::OPTIONAL, then);
        }
    }
    if otype & of::PSEUDO_LEFT != 0
        && filter & af::OPTIONAL != 0
        && !ws.actions[first].has(af::RUNNABLE)
    {
        clear_flag_because(ws, then, af::MIGRATE_RUNNABLE, first);
        ws.actions[then].flags &= !af::PSEUDO;
    }
    if otype & of::RUNNABLE_LEFT != 0
        && filter & af::RUNNABLE != 0
        && ws.actions[then].has(af::RUNNABLE)
        && flags & af::RUNNABLE == 0
    {
        clear_flag_because(ws, then, af::RUNNABLE, first);
        clear_flag_because(ws, then, af::MIGRATE_RUNNABLE, first);
    }
    if otype & of::IMPLIES_THEN != 0
        && filter & af::OPTIONAL != 0
        && ws.actions[then].has(af::OPTIONAL)
        && flags & af::OPTIONAL == 0
        && !ws.actions[first].has(af::MIGRATE_RUNNABLE)
    {
        clear_flag_because(ws, then, af::OPTIONAL, first);
    }
    if otype & of::RESTART != 0 {
        handle_restart_ordering(ws, first, then, filter);
    }
    if then_flags != ws.actions[then].flags {
        changed |= UPDATED_THEN;
        if ws.actions[then]
            .rsc
            .is_some_and(|r| ws.resources[r].parent.is_some())
        {
            update_action_for_orderings(ws, then);
        }
    }
    if first_flags != ws.actions[first].flags {
        changed |= UPDATED_FIRST;
    }
    changed
}

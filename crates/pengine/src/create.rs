//! Creating each resource's actions (Pacemaker's create_actions and
//! internal_constraints methods) for primitives, with dispatch to the
//! collective variants.

use cib_xml::Role;

use crate::actions::{
    custom_action, demote_action, find_actions_exact, promote_action, rsc_actions, set_reason,
    start_action, stop_action,
};
use crate::model::*;
use crate::order::{new_ordering, order_actions, order_resource_actions};
use crate::util::op_key;

/// pe__find_active_on / pe__current_node.
pub(crate) fn find_active_on(ws: &WorkingSet, r: RscId) -> (Option<NodeId>, usize, usize) {
    let rsc = &ws.resources[r];
    let mut active: Option<NodeId> = None;
    let mut all = 0;
    let mut clean = 0;
    for &n in &rsc.running_on {
        let happy = ws.nodes[n].online && !ws.nodes[n].unclean;
        all += 1;
        if happy {
            clean += 1;
        }
        if let Some(src) = rsc.partial_migration_source {
            if n == src {
                active = Some(n);
            }
        } else if !rsc.has(rf::NEEDS_FENCING) {
            let active_ok = active.is_some_and(|a| ws.nodes[a].online && !ws.nodes[a].unclean);
            if happy && !active_ok {
                active = Some(n);
            }
        }
        if active.is_none() {
            active = Some(n);
        }
    }
    (active, all, clean)
}

pub(crate) fn current_node(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    find_active_on(ws, r).0
}

/// Runs the create_actions method of a resource.
pub(crate) fn create_actions(ws: &mut WorkingSet, r: RscId) {
    match ws.resources[r].variant {
        Variant::Primitive => create_primitive_actions(ws, r),
        Variant::Group => crate::group::create_group_actions(ws, r),
        Variant::Clone => crate::clone::create_clone_actions(ws, r),
        Variant::Bundle => {}
    }
}

/// Runs the internal_constraints method of a resource.
pub(crate) fn internal_constraints(ws: &mut WorkingSet, r: RscId) {
    match ws.resources[r].variant {
        Variant::Primitive => primitive_internal_constraints(ws, r),
        Variant::Group => crate::group::group_internal_constraints(ws, r),
        Variant::Clone => crate::clone::clone_internal_constraints(ws, r),
        Variant::Bundle => {}
    }
}

fn state_matrix(cur: Role, target: Role) -> Role {
    use Role::*;
    match (cur, target) {
        (Unknown, Unknown) => Unknown,
        (Unknown, _) => Stopped,
        (Stopped, Unknown) | (Stopped, Stopped) => Stopped,
        (Stopped, Started) => Started,
        (Stopped, Unpromoted) | (Stopped, Promoted) => Unpromoted,
        (Started, Unknown) | (Started, Stopped) => Stopped,
        (Started, Started) => Started,
        (Started, Unpromoted) => Unpromoted,
        (Started, Promoted) => Promoted,
        (Unpromoted, Unknown) | (Unpromoted, Stopped) | (Unpromoted, Started) => Stopped,
        (Unpromoted, Unpromoted) => Unpromoted,
        (Unpromoted, Promoted) => Promoted,
        (Promoted, Unknown) => Stopped,
        (Promoted, Promoted) => Promoted,
        (Promoted, _) => Unpromoted,
    }
}

#[derive(Clone, Copy)]
enum Transition {
    Stop,
    Start,
    Promote,
    Demote,
    Nothing,
    Error,
}

fn action_matrix(cur: Role, next: Role) -> Transition {
    use Role::*;
    use Transition::*;
    match (cur, next) {
        (Unknown, Stopped) => Stop,
        (Unknown, _) => Error,
        (Stopped, Stopped) => Nothing,
        (Stopped, Started) | (Stopped, Unpromoted) => Start,
        (Stopped, _) => Error,
        (Started, Stopped) => Stop,
        (Started, Started) | (Started, Unpromoted) => Nothing,
        (Started, Promoted) => Promote,
        (Started, Unknown) => Error,
        (Unpromoted, Stopped) | (Unpromoted, Started) => Stop,
        (Unpromoted, Unpromoted) => Nothing,
        (Unpromoted, Promoted) => Promote,
        (Unpromoted, Unknown) => Error,
        (Promoted, Stopped) | (Promoted, Started) | (Promoted, Unpromoted) => Demote,
        (Promoted, Promoted) => Nothing,
        (Promoted, Unknown) => Error,
    }
}

/// Returns false when there is no function for the transition (the
/// callers then stop walking the matrix).
fn run_transition(
    ws: &mut WorkingSet,
    r: RscId,
    t: Transition,
    node: Option<NodeId>,
    optional: bool,
) -> bool {
    match t {
        Transition::Stop => stop_resource(ws, r, optional),
        Transition::Start => start_resource(ws, r, node, optional),
        Transition::Promote => promote_resource(ws, r, node, optional),
        Transition::Demote => demote_resource(ws, r, optional),
        Transition::Nothing | Transition::Error => return false,
    }
    true
}

fn is_expected_node(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let rsc = &ws.resources[r];
    rsc.has(rf::STOP_UNEXPECTED)
        && rsc.has(rf::RESTARTING)
        && rsc.next_role > Role::Stopped
        && rsc.assigned == Some(n)
}

fn stop_resource(ws: &mut WorkingSet, r: RscId, optional: bool) {
    for current in ws.resources[r].running_on.clone() {
        if is_expected_node(ws, r, current) {
            continue;
        }
        let mut optional = optional;
        if let Some(t) = ws.resources[r].partial_migration_target {
            if current == t && ws.resources[r].assigned == Some(current) {
                continue;
            }
            optional = false;
        }
        let stop = stop_action(ws, r, Some(current), optional);
        if ws.resources[r].assigned.is_none() {
            set_reason(ws, stop, Some("node availability"), true);
        } else if ws.resources[r].has(rf::RESTARTING) && ws.resources[r].has(rf::STOP_UNEXPECTED) {
            set_reason(ws, stop, Some("being multiply active"), true);
        }
        if !ws.resources[r].has(rf::MANAGED) {
            ws.actions[stop].flags &= !af::RUNNABLE;
        }
        if ws.options.remove_after_stop {
            schedule_cleanup(ws, r, current, optional);
        }
        if ws.resources[r].has(rf::NEEDS_UNFENCING) {
            let unfence = crate::fencing::fence_op(ws, current, Some("on"), true, None);
            order_actions(ws, stop, unfence, of::IMPLIES_FIRST);
        }
    }
}

/// pcmk__schedule_cleanup: delete the resource's history on a node, after
/// any stop and before any start (a required clean-up orders optionally;
/// an optional one makes its "then" required once it is).
pub(crate) fn schedule_cleanup(ws: &mut WorkingSet, r: RscId, n: NodeId, optional: bool) {
    if ws.resources[r].has(rf::FAILED) || ws.nodes[n].unclean || !ws.nodes[n].online {
        return;
    }
    let flag = if optional {
        of::IMPLIES_THEN
    } else {
        of::OPTIONAL
    };
    let key = op_key(&ws.resources[r].id.clone(), "delete", 0);
    custom_action(ws, Some(r), &key, "delete", Some(n), optional);
    order_resource_actions(ws, r, "stop", r, "delete", flag);
    order_resource_actions(ws, r, "delete", r, "start", flag);
}

fn start_resource(ws: &mut WorkingSet, r: RscId, node: Option<NodeId>, optional: bool) {
    let Some(n) = node else { return };
    let start = start_action(ws, r, Some(n), true);
    order_vs_unfence(ws, r, n, start, of::IMPLIES_THEN);
    if ws.actions[start].has(af::RUNNABLE) && !optional {
        ws.actions[start].flags &= !af::OPTIONAL;
    }
    if is_expected_node(ws, r, n) {
        ws.actions[start].flags |= af::PSEUDO;
    }
}

pub(crate) fn order_vs_unfence(ws: &mut WorkingSet, r: RscId, n: NodeId, a: ActionId, order: u32) {
    let rsc = &ws.resources[r];
    if (rsc.has(rf::FENCE_DEVICE) && ws.options.enable_unfencing) || rsc.has(rf::NEEDS_UNFENCING) {
        let unfence = crate::fencing::fence_op(ws, n, Some("on"), true, None);
        order_actions(ws, unfence, a, order);
        // Unfencing is required if it has never been done on the node.
        if !node_unfenced(ws, n) {
            let reason = format!("required by {} {}", ws.resources[r].id, ws.actions[a].task);
            crate::fencing::trigger_unfencing(ws, None, n, &reason);
        }
    }
}

fn node_unfenced(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n]
        .attrs
        .get("#node-unfenced")
        .is_some_and(|v| v != "0")
}

fn promote_resource(ws: &mut WorkingSet, r: RscId, node: Option<NodeId>, optional: bool) {
    let Some(n) = node else { return };
    let starts = rsc_actions(ws, r, Some(n), "start", true);
    let runnable = starts.iter().all(|&s| ws.actions[s].has(af::RUNNABLE));
    if runnable {
        let p = promote_action(ws, r, Some(n), optional);
        if is_expected_node(ws, r, n) {
            ws.actions[p].flags |= af::PSEUDO;
        }
    } else {
        for p in rsc_actions(ws, r, Some(n), "promote", true) {
            ws.actions[p].flags &= !af::RUNNABLE;
        }
    }
}

fn demote_resource(ws: &mut WorkingSet, r: RscId, optional: bool) {
    for current in ws.resources[r].running_on.clone() {
        if !is_expected_node(ws, r, current) {
            demote_action(ws, r, Some(current), optional);
        }
    }
}

fn schedule_restart_actions(
    ws: &mut WorkingSet,
    r: RscId,
    current: Option<NodeId>,
    need_stop: bool,
    need_promote: bool,
) {
    ws.resources[r].set(rf::RESTARTING);
    let mut role = ws.resources[r].role;
    while role != Role::Stopped {
        let next = state_matrix(role, Role::Stopped);
        if !run_transition(ws, r, action_matrix(role, next), current, !need_stop) {
            break;
        }
        role = next;
    }
    loop {
        let rsc = &ws.resources[r];
        if !(rsc.role <= rsc.next_role && role != rsc.role && !rsc.has(rf::BLOCK)) {
            break;
        }
        let mut required = need_stop;
        let next = state_matrix(role, rsc.role);
        if next == Role::Promoted && need_promote {
            required = true;
        }
        let assigned = rsc.assigned;
        if !run_transition(ws, r, action_matrix(role, next), assigned, !required) {
            break;
        }
        role = next;
    }
    ws.resources[r].clear(rf::RESTARTING);
}

fn schedule_role_transition_actions(ws: &mut WorkingSet, r: RscId) {
    let mut role = ws.resources[r].role;
    while role != ws.resources[r].next_role {
        let next = state_matrix(role, ws.resources[r].next_role);
        let assigned = ws.resources[r].assigned;
        if !run_transition(ws, r, action_matrix(role, next), assigned, false) {
            break;
        }
        role = next;
    }
}

/// pcmk__primitive_create_actions.
pub(crate) fn create_primitive_actions(ws: &mut WorkingSet, r: RscId) {
    if ws.resources[r].next_role == Role::Unknown {
        ws.resources[r].next_role = if ws.resources[r].assigned.is_none() {
            Role::Stopped
        } else {
            Role::Started
        };
    }
    let (current, num_all, num_clean) = find_active_on(ws, r);
    for n in ws.resources[r].dangling_migrations.clone() {
        crate::migration::abort_dangling_migration(ws, r, n);
    }
    let mut need_stop = false;
    let mut need_promote = false;
    let mut is_moving = false;
    let mut allow_migrate = false;
    let assigned = ws.resources[r].assigned;
    if let (Some(c), Some(a)) = (current, assigned) {
        if c != a && ws.resources[r].next_role >= Role::Started {
            is_moving = true;
            allow_migrate = crate::migration::can_migrate(ws, r, c);
            need_stop = true;
        }
    }
    let multiply_active;
    let (pms, pmt) = (
        ws.resources[r].partial_migration_source,
        ws.resources[r].partial_migration_target,
    );
    if pms.is_some()
        && pmt.is_some()
        && allow_migrate
        && num_all == 2
        && current == pms
        && assigned == pmt
    {
        multiply_active = false;
    } else if pms.is_some() || pmt.is_some() {
        need_stop = true;
        ws.resources[r].partial_migration_source = None;
        ws.resources[r].partial_migration_target = None;
        allow_migrate = false;
        multiply_active = false;
    } else if ws.resources[r].has(rf::NEEDS_FENCING) {
        multiply_active = num_all > 1;
    } else {
        multiply_active = num_clean > 1;
    }
    if multiply_active {
        match ws.resources[r].recovery {
            Recovery::StopStart => need_stop = true,
            Recovery::StopUnexpected => {
                need_stop = true;
                ws.resources[r].set(rf::STOP_UNEXPECTED);
            }
            _ => {}
        }
    } else {
        ws.resources[r].clear(rf::STOP_UNEXPECTED);
    }
    if ws.resources[r].has(rf::START_PENDING) {
        let s = start_action(ws, r, assigned, true);
        ws.actions[s].flags |= af::PRINT_ALWAYS;
    }
    if is_moving {
    } else if ws.resources[r].has(rf::FAILED) {
        if ws.resources[r].has(rf::STOP) {
            need_stop = true;
        } else if ws.resources[r].next_role == Role::Promoted {
            need_promote = true;
        }
    } else if ws.resources[r].has(rf::BLOCK) {
        need_stop = true;
    } else if ws.resources[r].role > Role::Started && current.is_some() && assigned.is_some() {
        let s = start_action(ws, r, assigned, true);
        if !ws.actions[s].has(af::OPTIONAL) {
            need_stop = true;
        }
    }
    schedule_restart_actions(ws, r, current, need_stop, need_promote);
    schedule_role_transition_actions(ws, r);
    create_recurring_actions(ws, r);
    if allow_migrate {
        if let Some(c) = current {
            crate::migration::create_migration_actions(ws, r, c);
        }
    }
}

fn create_recurring_actions(ws: &mut WorkingSet, r: RscId) {
    if ws.resources[r].has(rf::BLOCK) || ws.resources[r].has(rf::MAINTENANCE) {
        return;
    }
    let assigned = ws.resources[r].assigned;
    let mut start = None;
    match assigned {
        None => {}
        Some(n) if ws.nodes[n].maintenance => {}
        Some(n)
            if ws.resources[r].next_role != Role::Stopped || !ws.resources[r].has(rf::MANAGED) =>
        {
            start = Some(start_action(ws, r, Some(n), true));
        }
        Some(_) => {}
    }
    let ops = ws.resources[r].ops.clone();
    for (i, op) in ops.iter().enumerate() {
        if op.interval_ms == 0 {
            continue;
        }
        if matches!(
            op.name.as_str(),
            "stop"
                | "start"
                | "demote"
                | "promote"
                | "reload-agent"
                | "migrate_to"
                | "migrate_from"
        ) {
            continue;
        }
        // Duplicate name+interval: ignored entirely.
        if ops
            .iter()
            .filter(|o| o.name == op.name && o.interval_ms == op.interval_ms)
            .count()
            > 1
        {
            continue;
        }
        let role = op
            .xml
            .attr("role")
            .map(|s| Role::parse(s).unwrap_or(Role::Unknown))
            .unwrap_or(Role::Unknown);
        let key = op_key(&ws.resources[r].id.clone(), &op.name, op.interval_ms);
        if crate::actions::find_op_entry(ws, r, &key, false).is_none() {
            continue;
        }
        let _ = i;
        if let Some(s) = start {
            recurring_for_active(ws, r, s, assigned, &op.name, op.interval_ms, role, &key);
        }
        recurring_for_inactive(ws, r, assigned, &op.name, op.interval_ms, role, &key);
    }
}

pub(crate) fn new_cancel_action(
    ws: &mut WorkingSet,
    r: RscId,
    task: &str,
    interval_ms: u64,
    n: NodeId,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), task, interval_ms);
    let a = custom_action(ws, Some(r), &key, "cancel", Some(n), false);
    ws.actions[a].task = "cancel".into();
    ws.actions[a]
        .meta
        .insert("operation".into(), task.to_string());
    ws.actions[a]
        .meta
        .insert("interval".into(), interval_ms.to_string());
    ws.actions[a].cancel_task = Some(task.to_string());
    a
}

#[allow(clippy::too_many_arguments)]
fn recurring_for_active(
    ws: &mut WorkingSet,
    r: RscId,
    start: ActionId,
    node: Option<NodeId>,
    name: &str,
    interval: u64,
    role: Role,
    key: &str,
) {
    if role == Role::Stopped {
        return;
    }
    let is_optional = match node {
        None => false,
        Some(n) => {
            let sf = crate::resource::action_flags(ws, start, None);
            if sf & af::OPTIONAL == 0 {
                false
            } else {
                let m = find_actions_exact(ws, r, key, Some(n));
                !m.is_empty() && !m.iter().any(|&a| ws.actions[a].reschedule)
            }
        }
    };
    let next_role = ws.resources[r].next_role;
    if (role != Role::Unknown && next_role != role)
        || (role == Role::Unknown && next_role == Role::Promoted)
    {
        if is_optional {
            if let Some(n) = node {
                let cancel = new_cancel_action(ws, r, name, interval, n);
                let id = ws.resources[r].id.clone();
                let after = match ws.resources[r].role {
                    Role::Unpromoted | Role::Started => match next_role {
                        Role::Promoted => Some(op_key(&id, "promote", 0)),
                        Role::Stopped => Some(op_key(&id, "stop", 0)),
                        _ => None,
                    },
                    Role::Promoted => Some(op_key(&id, "demote", 0)),
                    _ => None,
                };
                if let Some(k) = after {
                    new_ordering(
                        ws,
                        Some(r),
                        None,
                        Some(cancel),
                        Some(r),
                        Some(k),
                        None,
                        of::RUNNABLE_LEFT,
                    );
                }
            }
        }
        return;
    }
    let mon = custom_action(ws, Some(r), key, name, node, is_optional);
    if !ws.actions[start].has(af::RUNNABLE)
        || node.is_none_or(|n| !ws.nodes[n].online || ws.nodes[n].unclean)
    {
        ws.actions[mon].flags &= !af::RUNNABLE;
    }
    if next_role == Role::Promoted {
        ws.actions[mon]
            .meta
            .insert("op_target_rc".into(), "8".into());
    }
    if node.is_none() || ws.resources[r].has(rf::MANAGED) {
        let id = ws.resources[r].id.clone();
        let mk = ws.actions[mon].key.clone();
        new_ordering(
            ws,
            Some(r),
            Some(op_key(&id, "start", 0)),
            None,
            None,
            Some(mk.clone()),
            Some(mon),
            of::IMPLIES_THEN | of::RUNNABLE_LEFT,
        );
        new_ordering(
            ws,
            Some(r),
            Some(op_key(&id, "reload-agent", 0)),
            None,
            None,
            Some(mk),
            Some(mon),
            of::IMPLIES_THEN | of::RUNNABLE_LEFT,
        );
        if next_role == Role::Promoted {
            new_ordering(
                ws,
                Some(r),
                Some(op_key(&id, "promote", 0)),
                None,
                Some(r),
                None,
                Some(mon),
                of::OPTIONAL | of::RUNNABLE_LEFT,
            );
        } else if ws.resources[r].role == Role::Promoted {
            new_ordering(
                ws,
                Some(r),
                Some(op_key(&id, "demote", 0)),
                None,
                Some(r),
                None,
                Some(mon),
                of::OPTIONAL | of::RUNNABLE_LEFT,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn recurring_for_inactive(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    name: &str,
    interval: u64,
    role: Role,
    key: &str,
) {
    if role != Role::Stopped {
        return;
    }
    if !ws.resources[r].has(rf::UNIQUE) {
        return;
    }
    for sn in 0..ws.nodes.len() {
        if node.is_some_and(|n| ws.nodes[n].uname.eq_ignore_ascii_case(&ws.nodes[sn].uname)) {
            let running = find_actions_exact(ws, r, key, Some(sn));
            if !running.is_empty() {
                let cancel = new_cancel_action(ws, r, name, interval, sn);
                if matches!(ws.resources[r].next_role, Role::Started | Role::Unpromoted) {
                    let k = op_key(&ws.resources[r].id.clone(), "start", 0);
                    new_ordering(
                        ws,
                        Some(r),
                        None,
                        Some(cancel),
                        Some(r),
                        Some(k),
                        None,
                        of::RUNNABLE_LEFT,
                    );
                }
            }
            continue;
        }
        let is_optional = !find_actions_exact(ws, r, key, Some(sn)).is_empty();
        let mon = custom_action(ws, Some(r), key, name, Some(sn), is_optional);
        ws.actions[mon]
            .meta
            .insert("op_target_rc".into(), "7".into());
        if ws.resources[r].has(rf::MANAGED) {
            for p in rsc_actions(ws, r, Some(sn), "monitor", false) {
                order_actions(ws, p, mon, of::RUNNABLE_LEFT);
            }
        }
        for stop in rsc_actions(ws, r, Some(sn), "stop", true) {
            if !ws.actions[stop].has(af::OPTIONAL)
                && !ws.actions[mon].has(af::OPTIONAL)
                && !ws.resources[r].has(rf::MANAGED)
            {
                ws.actions[mon].flags |= af::OPTIONAL;
            }
            if !ws.actions[stop].has(af::RUNNABLE) {
                ws.actions[mon].flags &= !af::RUNNABLE;
            }
            if ws.resources[r].has(rf::MANAGED) {
                let k = op_key(&ws.resources[r].id.clone(), "stop", 0);
                new_ordering(
                    ws,
                    Some(r),
                    Some(k),
                    Some(stop),
                    None,
                    None,
                    Some(mon),
                    of::IMPLIES_THEN | of::RUNNABLE_LEFT,
                );
            }
        }
        if !ws.nodes[sn].online || ws.nodes[sn].unclean {
            ws.actions[mon].flags &= !af::RUNNABLE;
        }
    }
}

/// pcmk__primitive_internal_constraints.
pub(crate) fn primitive_internal_constraints(ws: &mut WorkingSet, r: RscId) {
    if !ws.resources[r].has(rf::MANAGED) {
        return;
    }
    let top = ws.top_parent(r);
    order_resource_actions(
        ws,
        r,
        "stop",
        r,
        "start",
        of::OPTIONAL | of::IMPLIES_THEN | of::RESTART,
    );
    if ws.resources[top].has(rf::PROMOTABLE) || ws.resources[r].role > Role::Unpromoted {
        order_resource_actions(ws, r, "demote", r, "stop", of::PROMOTED_IMPLIES_FIRST);
        order_resource_actions(ws, r, "start", r, "promote", of::RUNNABLE_LEFT);
    }
    order_resource_actions(
        ws,
        r,
        "lrm_delete",
        r,
        "monitor",
        of::SAME_NODE | of::THEN_CANCELS_FIRST,
    );
    let check_utilization =
        !ws.resources[r].utilization.is_empty() && ws.options.placement_strategy != "default";
    if check_utilization {
        crate::utilization::create_utilization_constraints(ws, r);
    }
    if ws.resources[r].is_remote_node || ws.resources[r].has(rf::FENCE_DEVICE) {
        for n in 0..ws.nodes.len() {
            if ws.nodes[n].remote_rsc.is_some() {
                if let Some(e) = ws.resources[r].allowed[n].as_mut() {
                    e.weight = -cib_xml::score::INFINITY;
                }
            }
        }
    }
}

pub(crate) fn _unused(ws: &mut WorkingSet) {
    let _ = (ws.actions.len(), Role::Unknown);
}

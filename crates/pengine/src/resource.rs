//! Per-variant behaviour (Pacemaker's method tables): state, location,
//! action flags and ordering updates for primitives, groups and clones.

use cib_xml::Role;

use crate::model::*;
use crate::order::update_ordered_primitive;

/// fns->state: current (or next) role; collectives take the highest of
/// their children.
pub(crate) fn rsc_state(ws: &WorkingSet, r: RscId, current: bool) -> Role {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        return if current { rsc.role } else { rsc.next_role };
    }
    // The highest role of the members; Unknown when none has one yet
    // (group_resource_state / clone_resource_state).
    let mut best = Role::Unknown;
    for &c in &rsc.children {
        let s = rsc_state(ws, c, current);
        if s > best {
            best = s;
        }
    }
    best
}

/// fns->location(rsc, NULL, FALSE): the single node a resource (or all of
/// a collective's children) is assigned to, if exactly one.
pub(crate) fn location(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    let mut list = Vec::new();
    collect_assigned(ws, r, &mut list);
    if list.len() == 1 {
        Some(list[0])
    } else {
        None
    }
}

fn collect_assigned(ws: &WorkingSet, r: RscId, out: &mut Vec<NodeId>) {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        if let Some(n) = rsc.assigned {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    } else {
        for &c in &rsc.children {
            collect_assigned(ws, c, out);
        }
    }
}

/// The primitive's task corresponding to a collective's task ("running"
/// folds back to "start", and so on).
pub(crate) fn atomic_task(task: &str) -> &str {
    match task {
        "running" => "start",
        "stopped" => "stop",
        "promoted" => "promote",
        "demoted" => "demote",
        "notified" => "notify",
        t => t,
    }
}

/// rsc->cmds->action_flags.
pub(crate) fn action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let Some(r) = ws.actions[a].rsc else {
        return ws.actions[a].flags;
    };
    match ws.resources[r].variant {
        Variant::Primitive => ws.actions[a].flags,
        Variant::Group => group_action_flags(ws, a, node),
        Variant::Clone | Variant::Bundle => crate::clone::clone_action_flags(ws, a, node),
    }
}

fn group_action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let r = ws.actions[a].rsc.unwrap_or_default();
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    let task = ws.actions[a].task.clone();
    let members = ws.resources[r].children.clone();
    for m in members {
        let member_task = if ws.resources[m].variant == Variant::Primitive {
            atomic_task(&task).to_string()
        } else {
            task.clone()
        };
        let member_action = ws.resources[m].actions.iter().rev().copied().find(|&x| {
            ws.actions[x].task.eq_ignore_ascii_case(&member_task)
                && node.is_none_or(|n| ws.actions[x].node == Some(n))
        });
        match member_action {
            Some(ma) => {
                let mf = action_flags(ws, ma, node);
                if flags & af::OPTIONAL != 0 && mf & af::OPTIONAL == 0 {
                    flags &= !af::OPTIONAL;
                    ws.actions[a].flags &= !af::OPTIONAL;
                }
                if member_task != task && flags & af::RUNNABLE != 0 && mf & af::RUNNABLE == 0 {
                    flags &= !af::RUNNABLE;
                    ws.actions[a].flags &= !af::RUNNABLE;
                }
            }
            None => {
                if member_task != "stop" && member_task != "demote" {
                    flags &= !af::RUNNABLE;
                }
            }
        }
    }
    flags
}

/// rsc->cmds->update_ordered_actions for the "then" action's resource.
pub(crate) fn update_ordered_actions(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    flags: u32,
    filter: u32,
    otype: u32,
) -> u32 {
    let Some(r) = ws.actions[then].rsc else {
        return 0;
    };
    match ws.resources[r].variant {
        Variant::Primitive => update_ordered_primitive(ws, first, then, flags, filter, otype),
        Variant::Group => {
            let mut changed = update_ordered_primitive(ws, first, then, flags, filter, otype);
            let task = ws.actions[then].task.clone();
            for m in ws.resources[r].children.clone() {
                let ma = ws.resources[m].actions.iter().rev().copied().find(|&x| {
                    ws.actions[x].task.eq_ignore_ascii_case(&task)
                        && node.is_none_or(|n| ws.actions[x].node == Some(n))
                });
                if let Some(ma) = ma {
                    changed |= update_ordered_actions(ws, first, ma, node, flags, filter, otype);
                }
            }
            changed
        }
        Variant::Clone | Variant::Bundle => {
            crate::clone::clone_update_ordered_actions(ws, first, then, node, flags, filter, otype)
        }
    }
}

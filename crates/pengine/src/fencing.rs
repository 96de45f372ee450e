//! Fencing and shutdown of nodes: fence actions, whether fencing is
//! possible, ordering resources around fencing, fail-count clearing.

use crate::actions::{custom_action, find_first, rsc_actions};
use crate::model::*;
use crate::order::order_actions;
use crate::util::op_key;

/// pe_can_fence.
pub(crate) fn can_fence(ws: &WorkingSet, n: NodeId) -> bool {
    if crate::actions::is_guest_node(ws, n) {
        let Some(conn) = ws.nodes[n].remote_rsc else {
            return true;
        };
        let Some(container) = ws.resources[conn].container else {
            return true;
        };
        return ws.resources[container]
            .running_on
            .iter()
            .all(|&h| ws.nodes[h].online || can_fence(ws, h));
    }
    let o = &ws.options;
    if !o.stonith_enabled || !o.have_stonith_resource {
        return false;
    }
    if o.have_quorum || o.no_quorum_policy == NoQuorumPolicy::Ignore {
        return true;
    }
    ws.nodes[n].online
}

/// Called when a cluster node first becomes unclean: creates its (still
/// optional) fence action with the reason, as pe_fence_node does.
pub(crate) fn remember_reason(ws: &mut WorkingSet, n: NodeId, reason: &str) {
    fence_op(ws, n, None, true, Some(reason));
}

/// pe_fence_op: the `stonith-<node>-<action>` action.
pub(crate) fn fence_op(
    ws: &mut WorkingSet,
    n: NodeId,
    op: Option<&str>,
    optional: bool,
    reason: Option<&str>,
) -> ActionId {
    let op = op
        .map(str::to_string)
        .unwrap_or_else(|| ws.options.stonith_action.clone());
    let key = format!("stonith-{}-{}", ws.nodes[n].uname, op);
    let existing = ws
        .action_index
        .get(&key.to_ascii_lowercase())
        .and_then(|v| v.iter().copied().find(|&a| ws.actions[a].rsc.is_none()));
    let a = match existing {
        Some(a) => a,
        None => {
            let a = custom_action(ws, None, &key, "stonith", Some(n), true);
            let uname = ws.nodes[n].uname.clone();
            let id = ws.nodes[n].id.clone();
            let m = &mut ws.actions[a].meta;
            m.insert("on_node".into(), uname);
            m.insert("on_node_uuid".into(), id);
            m.insert("stonith_action".into(), op.clone());
            a
        }
    };
    if !optional && can_fence(ws, n) {
        ws.actions[a].flags &= !af::OPTIONAL;
        crate::actions::set_reason(ws, a, reason, false);
    } else if let Some(r) = reason {
        if ws.actions[a].reason.is_none() {
            ws.actions[a].reason = Some(r.to_string());
        }
    }
    a
}

/// pe__clear_failcount: a `clear_failcount` cluster action.
pub(crate) fn clear_failcount(ws: &mut WorkingSet, r: RscId, n: NodeId, _reason: &str) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), "clear_failcount", 0);
    let a = custom_action(ws, Some(r), &key, "clear_failcount", Some(n), false);
    ws.actions[a]
        .meta
        .insert("op_no_wait".into(), "true".into());
    a
}

fn rsc_known_on(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let rsc = &ws.resources[r];
    if rsc.known_on.contains(&n) {
        return true;
    }
    if rsc.variant == Variant::Primitive {
        if let Some(p) = rsc.parent {
            let pr = &ws.resources[p];
            if pr.variant == Variant::Clone && !pr.has(rf::UNIQUE) && pr.known_on.contains(&n) {
                return true;
            }
        }
    }
    false
}

fn order_start_vs_fencing(ws: &mut WorkingSet, r: RscId, stonith: ActionId) {
    let Some(target) = ws.actions[stonith].node else {
        return;
    };
    let acts = ws.resources[r].actions.clone();
    for &a in acts.iter().rev() {
        match ws.actions[a].needs {
            Requires::Nothing => {}
            Requires::Fencing => {
                order_actions(ws, stonith, a, of::OPTIONAL);
            }
            Requires::Quorum => {
                if ws.actions[a].task == "start"
                    && ws.resources[r].allowed[target].is_some()
                    && !rsc_known_on(ws, r, target)
                {
                    order_actions(ws, stonith, a, of::OPTIONAL | of::RUNNABLE_LEFT);
                }
            }
        }
    }
}

fn is_bundled(ws: &WorkingSet, r: RscId) -> bool {
    let mut p = ws.resources[r].parent;
    while let Some(x) = p {
        if ws.resources[x].variant == Variant::Bundle {
            return true;
        }
        p = ws.resources[x].parent;
    }
    false
}

fn order_stop_vs_fencing(ws: &mut WorkingSet, r: RscId, stonith: ActionId) {
    let Some(target) = ws.actions[stonith].node else {
        return;
    };
    let top = ws.top_parent(r);
    let stops = rsc_actions(ws, r, Some(target), "stop", false);
    let order_implicit =
        ws.resources[r].has(rf::NEEDS_FENCING) || crate::actions::is_guest_node(ws, target);
    let mut parent_stop = None;
    if !stops.is_empty() && order_implicit {
        let top_actions = ws.resources[top].actions.clone();
        parent_stop = top_actions
            .iter()
            .rev()
            .copied()
            .find(|&a| ws.actions[a].task.eq_ignore_ascii_case("stop"));
    }
    for a in stops {
        ws.actions[a].flags |= af::PSEUDO | af::RUNNABLE;
        if order_implicit {
            if !is_bundled(ws, r) {
                order_actions(ws, stonith, a, of::PRESERVE);
            }
            if let Some(ps) = parent_stop {
                order_actions(ws, stonith, ps, of::PRESERVE);
            }
        }
    }
    let demotes = rsc_actions(ws, r, Some(target), "demote", false);
    for a in demotes {
        let Some(an) = ws.actions[a].node else {
            continue;
        };
        if !ws.nodes[an].online || ws.nodes[an].unclean || ws.resources[r].has(rf::FAILED) {
            ws.actions[a].flags |= af::PSEUDO | af::RUNNABLE;
            if !is_bundled(ws, r) && order_implicit {
                order_actions(ws, stonith, a, of::PRESERVE | of::OPTIONAL);
            }
        }
    }
}

fn rsc_stonith_ordering(ws: &mut WorkingSet, r: RscId, stonith: ActionId) {
    if !ws.resources[r].children.is_empty() {
        for c in ws.resources[r].children.clone() {
            rsc_stonith_ordering(ws, c, stonith);
        }
    } else if ws.resources[r].has(rf::MANAGED) {
        order_start_vs_fencing(ws, r, stonith);
        order_stop_vs_fencing(ws, r, stonith);
    }
}

/// pcmk__order_vs_fence.
pub(crate) fn order_vs_fence(ws: &mut WorkingSet, stonith: ActionId) {
    for r in all_resources_list_order(ws) {
        rsc_stonith_ordering(ws, r, stonith);
    }
}

/// Top-level resources in list order.
pub(crate) fn all_resources_list_order(ws: &WorkingSet) -> Vec<RscId> {
    ws.top.clone()
}

fn any_managed(ws: &WorkingSet, r: RscId) -> bool {
    ws.resources[r].has(rf::MANAGED) || ws.resources[r].children.iter().any(|&c| any_managed(ws, c))
}

/// schedule_fencing_and_shutdowns.
pub(crate) fn schedule_fencing_and_shutdowns(ws: &mut WorkingSet) {
    let have_managed = ws.top.iter().any(|&r| any_managed(ws, r));
    let mut dc_down: Option<ActionId> = None;
    let mut fencing_ops: Vec<ActionId> = Vec::new(); // newest first at index 0
    let mut shutdown_ops: Vec<ActionId> = Vec::new();
    for n in 0..ws.nodes.len() {
        if crate::actions::is_guest_node(ws, n) {
            if ws.nodes[n].remote_requires_reset && have_managed && can_fence(ws, n) {
                crate::remote::fence_guest(ws, n);
            }
            continue;
        }
        let mut fencing = None;
        if have_managed && ws.nodes[n].unclean && can_fence(ws, n) {
            let f = fence_op(ws, n, None, false, Some("node is unclean"));
            order_vs_fence(ws, f);
            fencing = Some(f);
            if ws.nodes[n].is_dc {
                dc_down = Some(f);
            } else {
                if !ws.options.concurrent_fencing {
                    if let Some(&prev) = fencing_ops.first() {
                        order_actions(ws, prev, f, of::OPTIONAL);
                    }
                }
                fencing_ops.insert(0, f);
            }
        } else if ws.nodes[n].kind != NodeKind::Remote && ws.nodes[n].online && ws.nodes[n].shutdown
        {
            let down = new_shutdown_action(ws, n);
            if ws.nodes[n].is_dc {
                dc_down = Some(down);
            } else {
                shutdown_ops.insert(0, down);
            }
        }
        let _ = fencing;
    }
    if let Some(dc) = dc_down {
        if ws.actions[dc].task == "do_shutdown" {
            for &s in &shutdown_ops {
                order_actions(ws, s, dc, of::OPTIONAL);
            }
        }
        if ws.options.concurrent_fencing {
            for &f in &fencing_ops {
                order_actions(ws, f, dc, of::OPTIONAL);
            }
        } else if let Some(&f) = fencing_ops.first() {
            order_actions(ws, f, dc, of::OPTIONAL);
        }
    }
}

/// pcmk__new_shutdown_action: `do_shutdown` with every managed stop on the
/// node ordered before it.
pub(crate) fn new_shutdown_action(ws: &mut WorkingSet, n: NodeId) -> ActionId {
    let key = format!("do_shutdown-{}", ws.nodes[n].uname);
    let down = custom_action(ws, None, &key, "do_shutdown", Some(n), false);
    // Order stops on this node before the shutdown.
    let ids: Vec<ActionId> = (0..ws.actions.len()).rev().collect();
    for a in ids {
        let act = &ws.actions[a];
        let Some(r) = act.rsc else { continue };
        if act.node != Some(n) || !act.task.eq_ignore_ascii_case("stop") {
            continue;
        }
        let rsc = &ws.resources[r];
        if rsc.has(rf::MAINTENANCE) || ws.nodes[n].maintenance {
            continue;
        }
        if !rsc.has(rf::MANAGED) && !rsc.has(rf::BLOCK) {
            continue;
        }
        ws.actions[a].flags &= !af::OPTIONAL;
        crate::order::new_ordering(
            ws,
            Some(r),
            None,
            Some(a),
            None,
            Some("do_shutdown".into()),
            Some(down),
            of::OPTIONAL | of::RUNNABLE_LEFT,
        );
    }
    ws.actions[down]
        .meta
        .insert("op_no_wait".into(), "true".into());
    down
}

pub(crate) fn _unused(ws: &WorkingSet) {
    let _ = find_first(ws, &[], "", None);
}

/// trigger_unfencing: when unfencing is in use, unfence `n` (if it is up
/// and staying up) for `reason`; for a fence device whose node cannot be
/// unfenced now, every node it may run on instead. Other resources never
/// trigger it.
pub(crate) fn trigger_unfencing(ws: &mut WorkingSet, rsc: Option<RscId>, n: NodeId, reason: &str) {
    if !ws.options.enable_unfencing {
        return;
    }
    if rsc.is_some_and(|r| !ws.resources[r].has(rf::FENCE_DEVICE)) {
        return;
    }
    let node = &ws.nodes[n];
    if node.online && !node.unclean && !node.shutdown {
        fence_op(ws, n, Some("on"), false, Some(reason));
    } else if let Some(r) = rsc {
        let allowed: Vec<NodeId> = (0..ws.nodes.len())
            .filter(|&x| ws.resources[r].allowed[x].is_some())
            .collect();
        for x in allowed {
            let node = &ws.nodes[x];
            if node.online && !node.unclean && !node.shutdown {
                fence_op(ws, x, Some("on"), false, Some(reason));
            }
        }
    }
}

/// pe__clear_resource_history: forget the resource's history on a node
/// (an lrm_delete cluster action).
pub(crate) fn clear_resource_history(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    let key = crate::util::op_key(&ws.resources[r].id.clone(), "lrm_delete", 0);
    crate::actions::custom_action(ws, Some(r), &key, "lrm_delete", Some(n), false);
}

/// The time a node began shutting down (its `shutdown` attribute), or
/// now when it has none.
fn shutdown_time(ws: &WorkingSet, n: NodeId) -> i64 {
    ws.nodes[n]
        .attrs
        .get("shutdown")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&t| t != 0)
        .unwrap_or(ws.now.0)
}

/// Shutdown locks (shutdown-lock=true): a resource active on a single node
/// that is shutting down cleanly, or locked by its history, is banned from
/// every other node, so it stays stopped until its node returns (or the
/// lock expires). Fence devices, remote connections and clones are never
/// locked; a group locks each member.
pub(crate) fn apply_shutdown_locks(ws: &mut WorkingSet) {
    if !ws.options.shutdown_lock {
        return;
    }
    for r in ws.top.clone() {
        shutdown_lock(ws, r);
    }
}

fn shutdown_lock(ws: &mut WorkingSet, r: RscId) {
    match ws.resources[r].variant {
        Variant::Group => {
            for c in ws.resources[r].children.clone() {
                shutdown_lock(ws, c);
            }
            return;
        }
        Variant::Primitive => {}
        _ => return,
    }
    let rsc = &ws.resources[r];
    let stonith = rsc
        .class
        .as_deref()
        .is_none_or(|c| c.eq_ignore_ascii_case("stonith"));
    if stonith || rsc.is_remote_node {
        return;
    }
    if let Some(lock) = rsc.lock_node {
        if !rsc.running_on.is_empty() {
            // Started elsewhere even though locked: do not disturb it.
            clear_resource_history(ws, r, lock);
            ws.resources[r].lock_node = None;
            ws.resources[r].lock_time = 0;
        }
    } else if rsc.running_on.len() == 1 {
        let n = rsc.running_on[0];
        if ws.nodes[n].shutdown && !ws.nodes[n].unclean {
            ws.resources[r].lock_node = Some(n);
            ws.resources[r].lock_time = shutdown_time(ws, n);
        }
    }
    let Some(lock) = ws.resources[r].lock_node else {
        return;
    };
    for n in 0..ws.nodes.len() {
        if ws.nodes[n].uname != ws.nodes[lock].uname {
            crate::unpack::location_node(ws, r, n, -cib_xml::score::INFINITY, false);
        }
    }
}

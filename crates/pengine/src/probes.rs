//! Probes: a one-shot monitor of every resource on every node where its
//! state is unknown, ordered before the resource starts.

use crate::actions::custom_action;
use crate::model::*;
use crate::order::new_ordering;
use crate::util::{is_true, op_key};

fn probe_rsc_on_node(ws: &mut WorkingSet, r: RscId, n: NodeId) -> bool {
    if !ws.options.startup_probes {
        return false;
    }
    let is_remote_node =
        ws.nodes[n].kind == NodeKind::Remote || crate::actions::is_guest_node(ws, n);
    if is_remote_node
        && (ws.resources[r].class.as_deref() == Some("stonith") || ws.resources[r].is_remote_node)
    {
        return false;
    }
    if !ws.resources[r].children.is_empty() {
        return crate::clone::probe_children(ws, r, n);
    }
    let rsc = &ws.resources[r];
    if (rsc.container.is_some() && !rsc.is_remote_node)
        || rsc.has(rf::ORPHAN)
        || rsc.known_on.contains(&n)
    {
        return false;
    }
    let top = ws.top_parent(r);
    let allowed = rsc.allowed[n];
    if rsc.exclusive_discover || ws.resources[top].exclusive_discover {
        match allowed {
            None => return false,
            Some(a) if a.discover != Discover::Exclusive => return false,
            _ => {}
        }
    }
    if allowed.is_some_and(|a| a.discover == Discover::Never) {
        return false;
    }
    let key = op_key(&ws.resources[r].id.clone(), "monitor", 0);
    let probe = custom_action(ws, Some(r), &key, "monitor", Some(n), false);
    ws.actions[probe].flags &= !af::OPTIONAL;
    crate::create::order_vs_unfence(ws, r, n, probe, of::OPTIONAL);
    if !ws.resources[r].running_on.contains(&n) {
        ws.actions[probe]
            .meta
            .insert("op_target_rc".into(), "7".into());
    } else if ws.resources[r].role == cib_xml::Role::Promoted {
        ws.actions[probe]
            .meta
            .insert("op_target_rc".into(), "8".into());
    }
    let mut top = top;
    if (ws.resources[r].has(rf::FENCE_DEVICE) && ws.options.enable_unfencing) || !ws.is_clone(top) {
        top = r;
    }
    let mut flags = of::OPTIONAL;
    if !ws.actions[probe].has(af::RUNNABLE) && ws.resources[r].running_on.is_empty() {
        flags |= of::RUNNABLE_LEFT;
    }
    let tid = ws.resources[top].id.clone();
    new_ordering(
        ws,
        Some(r),
        None,
        Some(probe),
        Some(top),
        Some(op_key(&tid, "start", 0)),
        None,
        flags,
    );
    new_ordering(
        ws,
        Some(r),
        None,
        Some(probe),
        Some(top),
        Some(op_key(&tid, "reload-agent", 0)),
        None,
        of::OPTIONAL,
    );
    true
}

pub(crate) fn probe_resource_list(ws: &mut WorkingSet, list: &[RscId], n: NodeId) -> bool {
    let mut any = false;
    for &r in list {
        if probe_rsc_on_node(ws, r, n) {
            any = true;
        }
    }
    any
}

/// pcmk__schedule_probes.
pub(crate) fn schedule_probes(ws: &mut WorkingSet) {
    for n in 0..ws.nodes.len() {
        let node = &ws.nodes[n];
        if !node.online || node.unclean || !node.rsc_discovery_enabled {
            continue;
        }
        if let Some(p) = node.attrs.get("probe_complete") {
            if !is_true(Some(p)) {
                let key = format!("probe_complete-{}", node.uname);
                let a = custom_action(ws, None, &key, "probe_complete", Some(n), false);
                ws.actions[a]
                    .meta
                    .insert("op_no_wait".into(), "true".into());
                continue;
            }
        }
        let top = ws.top.clone();
        probe_resource_list(ws, &top, n);
    }
}

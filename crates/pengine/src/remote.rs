//! Pacemaker Remote and guest nodes: what connection assignment means
//! for the node, and "fencing" a guest by recovering its container.

use crate::model::*;

/// remote_connection_assigned: the remote node will be online if its
/// connection runs somewhere, else it shuts down.
pub(crate) fn connection_assigned(ws: &mut WorkingSet, r: RscId) {
    let id = ws.resources[r].id.clone();
    let Some(n) = ws.find_node(&id) else { return };
    if ws.resources[r].assigned.is_some() && ws.resources[r].next_role != cib_xml::Role::Stopped {
        ws.nodes[n].online = true;
        if ws.nodes[n].unseen {
            ws.nodes[n].unclean = false;
        }
    } else {
        ws.nodes[n].shutdown = true;
    }
}

/// pcmk__fence_guest: a guest node is "fenced" by stopping its container;
/// the fencing pseudo-action stands for that.
pub(crate) fn fence_guest(ws: &mut WorkingSet, n: NodeId) {
    let key = format!("stonith-{}-reboot", ws.nodes[n].uname);
    let a = crate::actions::custom_action(ws, None, &key, "stonith", Some(n), false);
    ws.actions[a].flags |= af::PSEUDO | af::RUNNABLE;
    ws.actions[a].flags &= !af::OPTIONAL;
    ws.actions[a]
        .meta
        .insert("stonith_action".into(), "reboot".into());
    crate::actions::set_reason(ws, a, Some("guest is unclean"), false);
}

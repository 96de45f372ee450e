//! Tickets (rsc_ticket constraints with loss-policy) and tags.

use std::collections::HashMap;

use cib_xml::score::INFINITY;
use cib_xml::{Element, Role};

use crate::model::*;

/// Members of a tag (by id), if `id` names a tag.
pub(crate) fn tag_members(ws: &WorkingSet, ids: &HashMap<String, RscId>, id: &str) -> Option<Vec<RscId>> {
    let tags = ws.cib.path(&["configuration", "tags"])?;
    let tag = tags.children_named("tag").find(|t| t.id() == id)?;
    Some(tag.children_named("obj_ref").filter_map(|o| ids.get(o.id()).copied()).collect())
}

/// rsc_ticket: without the ticket (or in standby), the resource may not
/// run (loss-policy stop/demote/freeze/fence).
pub(crate) fn unpack_ticket_constraint(ws: &mut WorkingSet, ids: &HashMap<String, RscId>, c: &Element) {
    let Some(ticket) = c.attr("ticket") else { return };
    let Some(rid) = c.attr("rsc") else { return };
    let Some(&r) = ids.get(rid) else { return };
    let t = ws.tickets.get(ticket).cloned().unwrap_or_default();
    let role = c.attr("rsc-role").and_then(Role::parse).unwrap_or(Role::Unknown);
    let policy = c.attr("loss-policy").unwrap_or("stop").to_ascii_lowercase();
    if !t.granted || t.standby {
        match policy.as_str() {
            "freeze" => {
                if !t.granted {
                    // Resources stay where they are.
                    let running = ws.resources[r].running_on.clone();
                    if running.is_empty() {
                        crate::unpack::location_all(ws, r, -INFINITY, false);
                    }
                }
            }
            _ => {
                if role == Role::Unknown || role == Role::Started || role == Role::Stopped {
                    crate::unpack::location_all(ws, r, -INFINITY, false);
                } else if role == Role::Promoted {
                    ws.resources[r].priority = -INFINITY;
                }
            }
        }
    }
}

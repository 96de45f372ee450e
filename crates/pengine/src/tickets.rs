//! Tickets (rsc_ticket constraints with loss-policy) and tags.

use std::collections::HashMap;

use cib_xml::score::INFINITY;
use cib_xml::{Element, Role};

use crate::model::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum LossPolicy {
    Stop,
    Demote,
    Fence,
    Freeze,
}

fn constraints_for_ticket(
    ws: &mut WorkingSet,
    r: RscId,
    t: &Ticket,
    role: Role,
    policy: LossPolicy,
) {
    if t.granted && !t.standby {
        return;
    }
    if !ws.resources[r].children.is_empty() {
        for c in ws.resources[r].children.clone() {
            constraints_for_ticket(ws, c, t, role, policy);
        }
        return;
    }
    let running = !ws.resources[r].running_on.is_empty();
    let role_matches = role == Role::Unknown || role == ws.resources[r].role;
    if !t.granted && running {
        match policy {
            LossPolicy::Stop => crate::unpack::location_all(ws, r, -INFINITY, false),
            LossPolicy::Demote => {
                if role != Role::Promoted {
                    crate::unpack::location_all(ws, r, -INFINITY, false);
                }
            }
            LossPolicy::Fence => {
                if !role_matches {
                    return;
                }
                crate::unpack::location_all(ws, r, -INFINITY, false);
                for n in ws.resources[r].running_on.clone() {
                    crate::unpack::fence_node(ws, n, "deadman ticket was lost", false);
                }
            }
            LossPolicy::Freeze => {
                if !role_matches {
                    return;
                }
                ws.resources[r].clear(rf::MANAGED);
                ws.resources[r].set(rf::BLOCK);
            }
        }
    } else if (!t.granted || t.standby) && (role != Role::Promoted || policy == LossPolicy::Stop) {
        crate::unpack::location_all(ws, r, -INFINITY, false);
    }
}

fn rsc_ticket_new(
    ws: &mut WorkingSet,
    r: RscId,
    ticket: &str,
    state: Option<&str>,
    loss: Option<&str>,
) {
    let t = ws.tickets.entry(ticket.to_string()).or_default().clone();
    let role = match state {
        None => Role::Unknown,
        Some(s) if s.eq_ignore_ascii_case("Started") => Role::Unknown,
        Some(s) => Role::parse(s).unwrap_or(Role::Unknown),
    };
    let mut loss = loss.map(str::to_ascii_lowercase);
    let mut policy = None;
    if loss.as_deref() == Some("fence") {
        if ws.options.stonith_enabled {
            policy = Some(LossPolicy::Fence);
        } else {
            loss = Some("stop".into());
        }
    }
    let policy = policy.unwrap_or(match loss.as_deref() {
        Some("freeze") => LossPolicy::Freeze,
        Some("demote") => LossPolicy::Demote,
        Some("stop") => LossPolicy::Stop,
        _ if role == Role::Promoted => LossPolicy::Demote,
        _ => LossPolicy::Stop,
    });
    ws.rsc_tickets.push((r, ticket.to_string(), role));
    if !t.granted || t.standby {
        constraints_for_ticket(ws, r, &t, role, policy);
    }
}

/// pcmk__unpack_rsc_ticket.
pub(crate) fn unpack_ticket_constraint(
    ws: &mut WorkingSet,
    ids: &HashMap<String, RscId>,
    c: &Element,
) {
    let Some(ticket) = c.attr("ticket") else {
        return;
    };
    let loss = c.attr("loss-policy");
    let lookup = |ws: &WorkingSet, id: &str| -> Option<RscId> {
        ids.get(id).copied().or_else(|| {
            ids.get(crate::util::clone_strip(id))
                .map(|&r| ws.top_parent(r))
        })
    };
    let mut any = false;
    for set in c.children_named("resource_set") {
        any = true;
        let role = set.attr("role");
        for rr in set.children_named("resource_ref") {
            let Some(r) = lookup(ws, rr.id()) else { return };
            rsc_ticket_new(ws, r, ticket, role, loss);
        }
    }
    if any {
        return;
    }
    let Some(rid) = c.attr("rsc") else { return };
    if let Some(r) = lookup(ws, rid) {
        rsc_ticket_new(ws, r, ticket, c.attr("rsc-role"), loss);
    }
}

/// pcmk__require_promotion_tickets: no promotion without the ticket.
pub(crate) fn require_promotion_tickets(ws: &mut WorkingSet, clone: RscId) {
    let list: Vec<(String, Role)> = ws
        .rsc_tickets
        .iter()
        .filter(|(r, _, _)| *r == clone)
        .map(|(_, t, role)| (t.clone(), *role))
        .collect();
    for (t, role) in list {
        let tk = ws.tickets.get(&t).cloned().unwrap_or_default();
        if role == Role::Promoted && (!tk.granted || tk.standby) {
            crate::unpack::location_all(ws, clone, -INFINITY, false);
        }
    }
}

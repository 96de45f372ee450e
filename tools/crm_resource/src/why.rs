//! `crm_resource --why`: whether a resource runs (anywhere or on a node)
//! and what in its configuration may keep it stopped, as Pacemaker's
//! resource checks list them (target-role Stopped, Unpromoted for a
//! promotable clone, is-managed false, a shutdown lock).

use pengine::model::{rf, NodeId, RscId};
use pengine::WorkingSet;

use crate::{leaves, top_parent};

fn runs_anywhere(ws: &WorkingSet, r: RscId) -> bool {
    leaves(ws, r)
        .into_iter()
        .any(|l| !ws.resources[l].running_on.is_empty())
}

fn runs_on(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    leaves(ws, r)
        .into_iter()
        .any(|l| ws.resources[l].running_on.contains(&n))
}

/// The checks that may keep `r` stopped, each one line, named by the top
/// parent as Pacemaker does.
pub fn checks(ws: &WorkingSet, r: RscId) -> Vec<String> {
    let rsc = &ws.resources[r];
    let parent = &ws.resources[top_parent(ws, r)];
    let mut out = Vec::new();
    if let Some(role) = rsc.meta.get("target-role") {
        if role.eq_ignore_ascii_case("stopped") {
            out.push(format!(
                "Configuration specifies '{}' should remain stopped",
                parent.id
            ));
        } else if (role.eq_ignore_ascii_case("unpromoted") || role.eq_ignore_ascii_case("slave"))
            && parent.has(rf::PROMOTABLE)
        {
            out.push(format!(
                "Configuration specifies '{}' should not be promoted",
                parent.id
            ));
        }
    }
    if rsc
        .meta
        .get("is-managed")
        .is_some_and(|v| !pengine::util::is_true(Some(v)))
    {
        out.push(format!(
            "Configuration prevents cluster from stopping or starting unmanaged '{}'",
            parent.id
        ));
    }
    if let Some(n) = rsc.lock_node {
        out.push(format!(
            "'{}' is locked to node {} due to shutdown",
            parent.id, ws.nodes[n].uname
        ));
    }
    out
}

/// `--why` with `-r` and/or `--node`; without either, every top-level
/// resource.
pub fn reasons(ws: &WorkingSet, rsc: Option<RscId>, node: Option<NodeId>) -> Vec<String> {
    let mut out = Vec::new();
    match (rsc, node) {
        (None, None) => {
            for &r in &ws.top {
                let id = &ws.resources[r].id;
                if runs_anywhere(ws, r) {
                    out.push(format!("Resource {id} is running"));
                } else {
                    out.push(format!("Resource {id} is not running"));
                }
                out.extend(checks(ws, r));
            }
        }
        (Some(r), Some(n)) => {
            let id = &ws.resources[r].id;
            let host = &ws.nodes[n].uname;
            if runs_on(ws, r, n) {
                out.push(format!("Resource {id} is running on host {host}"));
            } else {
                out.push(format!("Resource {id} is not running on host {host}"));
            }
            out.extend(checks(ws, r));
        }
        (None, Some(n)) => {
            let host = &ws.nodes[n].uname;
            for &r in &ws.nodes[n].running {
                out.push(format!(
                    "Resource {} is running on host {host}",
                    ws.resources[r].id
                ));
                out.extend(checks(ws, r));
            }
        }
        (Some(r), None) => {
            let id = &ws.resources[r].id;
            if runs_anywhere(ws, r) {
                out.push(format!("Resource {id} is running"));
            } else {
                out.push(format!("Resource {id} is not running"));
            }
            out.extend(checks(ws, r));
        }
    }
    out
}

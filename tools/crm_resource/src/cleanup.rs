//! `crm_resource --cleanup` and `--refresh` as data: the status entries to
//! remove and the lines to print. Pacemaker asks attrd to drop the fail
//! counts and the controller to forget the operation history; here both
//! live in the CIB's status section, so they are removed there (the DC
//! then finds no history for the resource on the node and probes it
//! again, and the fail counts no longer hold it back).
//!
//! What goes, per primitive (all instances of a clone or members of a
//! group without `--force`, which keeps to the named instance) and per
//! online node where it is known (or `--node`):
//! - the fail counts: transient `fail-count-RSC` and `last-failure-RSC`
//!   (RSC without a `:N` for anonymous clone instances), and their
//!   per-operation forms `...-RSC#OP_INTERVAL`; with `--operation` only
//!   that operation's (interval given by `--interval`, default 0);
//! - the history (`lrm_resource`): with `--refresh` always; with
//!   `--cleanup` only where an operation failed (matching the operation
//!   filter).

use cib_xml::Element;
use clitools::{exit, ToolError};
use pengine::model::{NodeId, RscId};
use pengine::util::clone_strip;
use pengine::WorkingSet;

/// `--operation` and `--interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFilter {
    /// The operation name (`monitor`).
    pub task: String,
    /// Its interval in milliseconds.
    pub interval_ms: u64,
}

/// What a cleanup removes and prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Lines for stdout ("Cleaned up RSC on NODE").
    pub lines: Vec<String>,
    /// XPath expressions of the elements to delete, each naming exactly
    /// one element by id.
    pub deletes: Vec<String>,
    /// The fail-count attributes among them as (node name, attribute
    /// name): in a running cluster attrd holds them and would write them
    /// back (and count on from them), so they are deleted through attrd
    /// too.
    pub attrd_clears: Vec<(String, String)>,
}

impl Plan {
    fn delete(&mut self, xpath: String) {
        if !self.deletes.contains(&xpath) {
            self.deletes.push(xpath);
        }
    }
}

fn quote(v: &str) -> String {
    // Ids are XML ids (no quotes), but a history id comes from the status.
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}

/// The `<node_state>` of node `n`.
fn node_state(ws: &WorkingSet, n: NodeId) -> Option<&Element> {
    let node = &ws.nodes[n];
    ws.cib
        .child("status")?
        .children_named("node_state")
        .find(|s| {
            s.attr("id") == Some(node.id.as_str()) || s.attr("uname") == Some(node.uname.as_str())
        })
}

fn state_path(state: &Element) -> String {
    match state.attr("id") {
        Some(id) => format!("/cib/status/node_state[@id={}]", quote(id)),
        None => format!(
            "/cib/status/node_state[@uname={}]",
            quote(state.attr("uname").unwrap_or(""))
        ),
    }
}

/// Whether a transient attribute is a fail count of `rsc` (all of them
/// when `rsc` is None) that `op` selects.
pub fn is_fail_attr(name: &str, rsc: Option<&str>, op: Option<&OpFilter>) -> bool {
    let Some(rest) = name
        .strip_prefix("fail-count-")
        .or_else(|| name.strip_prefix("last-failure-"))
    else {
        return false;
    };
    let (attr_rsc, attr_op) = match rest.split_once('#') {
        Some((r, o)) => (r, Some(o)),
        None => (rest, None),
    };
    if rsc.is_some_and(|r| r != attr_rsc) {
        return false;
    }
    match op {
        None => true,
        Some(f) => attr_op == Some(format!("{}_{}", f.task, f.interval_ms).as_str()),
    }
}

fn delete_fail_attrs(plan: &mut Plan, state: &Element, rsc: Option<&str>, op: Option<&OpFilter>) {
    let base = state_path(state);
    for ta in state.children_named("transient_attributes") {
        for set in ta.elements() {
            for nv in set.children_named("nvpair") {
                let (Some(name), Some(id)) = (nv.attr("name"), nv.attr("id")) else {
                    continue;
                };
                if is_fail_attr(name, rsc, op) {
                    if let Some(node) = state.attr("uname") {
                        let clear = (node.to_string(), name.to_string());
                        if !plan.attrd_clears.contains(&clear) {
                            plan.attrd_clears.push(clear);
                        }
                    }
                    plan.delete(format!(
                        "{base}/transient_attributes/{}/nvpair[@id={}]",
                        set.name,
                        quote(id)
                    ));
                }
            }
        }
    }
}

fn history_id(ws: &WorkingSet, r: RscId) -> &str {
    let rsc = &ws.resources[r];
    rsc.clone_name.as_deref().unwrap_or(&rsc.id)
}

fn delete_history(plan: &mut Plan, state: &Element, history: &str) {
    let present = state
        .children_named("lrm")
        .flat_map(|l| l.children_named("lrm_resources"))
        .flat_map(|l| l.children_named("lrm_resource"))
        .any(|l| l.attr("id") == Some(history));
    if present {
        plan.delete(format!(
            "{}/lrm/lrm_resources/lrm_resource[@id={}]",
            state_path(state),
            quote(history)
        ));
    }
}

/// The resources (by history id) with a failed operation on node `n`
/// that `op` selects, `rsc` narrowing to one resource.
fn failed_on(ws: &WorkingSet, n: NodeId, rsc: Option<RscId>, op: Option<&OpFilter>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &ws.failed_ops {
        if f.node != n || rsc.is_some_and(|r| r != f.rsc) {
            continue;
        }
        if let Some(filter) = op {
            let Some((_, task, interval)) = pengine::util::parse_op_key(&f.key) else {
                continue;
            };
            if task != filter.task || interval != filter.interval_ms {
                continue;
            }
        }
        let h = history_id(ws, f.rsc).to_string();
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

fn node_by_name(ws: &WorkingSet, name: &str) -> Option<NodeId> {
    ws.nodes
        .iter()
        .position(|n| n.uname.eq_ignore_ascii_case(name))
}

/// The nodes a primitive is cleaned on without `--node`: where it is
/// known; if nowhere, every node with `--force`, else its allowed nodes.
/// Only online nodes count.
fn nodes_for(ws: &WorkingSet, r: RscId, force: bool) -> Vec<NodeId> {
    let rsc = &ws.resources[r];
    let mut nodes: Vec<NodeId> = rsc.known_on.iter().copied().collect();
    if nodes.is_empty() {
        nodes = if force {
            (0..ws.nodes.len()).collect()
        } else {
            rsc.allowed
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some_and(|s| !rsc.exclusive_discover || s.weight >= 0))
                .map(|(n, _)| n)
                .collect()
        };
    }
    nodes.retain(|&n| ws.nodes[n].online);
    nodes
}

/// Cleans up (`just_failures`) or refreshes resource `r` (already the
/// top parent unless `--force`) on `node` or wherever it is known.
pub fn plan_resource(
    ws: &WorkingSet,
    r: RscId,
    node: Option<&str>,
    op: Option<&OpFilter>,
    just_failures: bool,
    force: bool,
) -> Result<Plan, ToolError> {
    let mut plan = Plan::default();
    for leaf in crate::leaves(ws, r) {
        let rsc = &ws.resources[leaf];
        let nodes = match node {
            Some(name) => match node_by_name(ws, name) {
                Some(n) => vec![n],
                None => {
                    return Err(ToolError::new(
                        exit::NOSUCH,
                        format!(
                            "Unable to clean up {} because node {name} not found",
                            rsc.id
                        ),
                    ))
                }
            },
            None => nodes_for(ws, leaf, force),
        };
        // Anonymous clone instances share one fail count name.
        let unique = pengine::util::is_true(rsc.meta.get("globally-unique").map(String::as_str));
        let fail_name = if unique {
            rsc.id.as_str()
        } else {
            clone_strip(&rsc.id)
        };
        for n in nodes {
            let uname = &ws.nodes[n].uname;
            if !ws.nodes[n].rsc_discovery_enabled {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!(
                        "Unable to clean up {} because resource discovery disabled on {uname}",
                        rsc.id
                    ),
                ));
            }
            if let Some(state) = node_state(ws, n) {
                delete_fail_attrs(&mut plan, state, Some(fail_name), op);
                if just_failures {
                    for h in failed_on(ws, n, Some(leaf), op) {
                        delete_history(&mut plan, state, &h);
                    }
                } else {
                    delete_history(&mut plan, state, history_id(ws, leaf));
                }
            }
            plan.lines.push(format!("Cleaned up {} on {uname}", rsc.id));
        }
    }
    Ok(plan)
}

/// Cleans up (`just_failures`: the failed resources' histories) or
/// refreshes (every history) all resources on `node` or on every node,
/// with every fail count `op` selects.
pub fn plan_all(
    ws: &WorkingSet,
    node: Option<&str>,
    op: Option<&OpFilter>,
    just_failures: bool,
) -> Result<Plan, ToolError> {
    let nodes: Vec<NodeId> = match node {
        Some(name) => match node_by_name(ws, name) {
            Some(n) => vec![n],
            None => {
                return Err(ToolError::new(
                    exit::NOSUCH,
                    format!("Unknown node: {name}"),
                ))
            }
        },
        None => (0..ws.nodes.len()).collect(),
    };
    let mut plan = Plan::default();
    for n in nodes {
        let Some(state) = node_state(ws, n) else {
            continue;
        };
        delete_fail_attrs(&mut plan, state, None, op);
        if just_failures {
            for h in failed_on(ws, n, None, op) {
                delete_history(&mut plan, state, &h);
            }
        } else {
            let histories: Vec<&str> = state
                .children_named("lrm")
                .flat_map(|l| l.children_named("lrm_resources"))
                .flat_map(|l| l.children_named("lrm_resource"))
                .filter_map(|l| l.attr("id"))
                .collect();
            for h in histories {
                delete_history(&mut plan, state, h);
            }
        }
    }
    if just_failures {
        plan.lines.push(format!(
            "Cleaned up all resources on {}",
            node.unwrap_or("all nodes")
        ));
    }
    Ok(plan)
}

/// Carries out `plan` on the session's CIB. Live, attrd forgets the fail
/// counts first (as with Pacemaker's clear-failure request), so it
/// neither writes them back when the status entries go nor counts the
/// next failure on from them; then the status entries are deleted.
pub fn apply(plan: &Plan, session: &mut clitools::CibSession) -> Result<(), ToolError> {
    if session.file().is_none() {
        clear_in_attrd(&plan.attrd_clears)?;
    }
    let reqs: Vec<cib_xml::ops::Request<'_>> = plan
        .deletes
        .iter()
        .map(|x| {
            let mut r = cib_xml::ops::Request::new(cib_xml::ops::Op::Delete);
            r.xpath = Some(x.as_str());
            r
        })
        .collect();
    session.apply(&reqs)
}

/// Deletes each (node, attribute) of `clears` in this node's attrd (which
/// passes the deletion to the node owning the value). No attrd running
/// (a cluster without one, or only a cib daemon) is not an error: the
/// CIB entries are removed anyway.
fn clear_in_attrd(clears: &[(String, String)]) -> Result<(), ToolError> {
    if clears.is_empty() {
        return Ok(());
    }
    let paths = plumbing::HaPaths::from_env();
    let Ok(mut client) = attrdapi::AttrdClient::local(&paths, std::time::Duration::from_secs(30))
    else {
        return Ok(());
    };
    for (node, name) in clears {
        let update = attrdapi::Update {
            name: name.clone(),
            node: Some(node.clone()),
            change: attrdapi::Change::Delete,
            delay_ms: None,
            lifetime: attrdapi::Lifetime::Reboot,
            private: false,
        };
        match client.call(&attrdapi::Request::Update(update)) {
            Ok(attrdapi::Response::Ok) => {}
            Ok(attrdapi::Response::Failed(f)) => {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!("attrd could not clear {name} on {node}: {f:?}"),
                ))
            }
            Ok(other) => {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!("unexpected answer from attrd: {other:?}"),
                ))
            }
            Err(e) => {
                return Err(ToolError::new(
                    exit::DISCONNECT,
                    format!("could not clear {name} on {node} in attrd: {e}"),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_attributes_are_matched_by_resource_and_operation() {
        let mon = OpFilter {
            task: "monitor".into(),
            interval_ms: 10000,
        };
        let cases: &[(&str, Option<&str>, Option<&OpFilter>, bool)] = &[
            ("fail-count-d", Some("d"), None, true),
            ("last-failure-d", Some("d"), None, true),
            ("fail-count-d#monitor_10000", Some("d"), None, true),
            ("fail-count-d#monitor_10000", Some("d"), Some(&mon), true),
            ("fail-count-d#start_0", Some("d"), Some(&mon), false),
            // The legacy total is not an operation's.
            ("fail-count-d", Some("d"), Some(&mon), false),
            ("fail-count-dd", Some("d"), None, false),
            ("fail-count-dd", None, None, true),
            ("probe_complete", None, None, false),
        ];
        for (name, rsc, op, want) in cases {
            assert_eq!(
                is_fail_attr(name, *rsc, *op),
                *want,
                "{name} {rsc:?} {op:?}"
            );
        }
    }
}

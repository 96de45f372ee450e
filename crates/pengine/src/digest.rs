//! Operation digests: the MD5 of an operation's parameters, compared with
//! the digest recorded in the history to notice a changed definition
//! (restart, reload, rescheduling, fail-count clearing).
//!
//! The digest input is Pacemaker's: a `<parameters>` element whose
//! attributes are the resource parameters, the operation's own instance
//! attributes and (for recurring operations) CRM_meta_timeout, sorted by
//! name, written as ` <parameters a="1" b="2"/>` plus a newline.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use cib_xml::Element;

use crate::model::*;
use crate::unpack::HistOp;

/// The result of comparing a history entry's digests with the current
/// definition (Pacemaker's RSC_DIGEST_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestResult {
    Match,
    Restart,
    All,
    Unknown,
}

fn escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

fn md5_of(params: &BTreeMap<String, String>) -> String {
    let mut text = String::from(" <parameters");
    for (k, v) in params {
        text.push(' ');
        text.push_str(k);
        text.push_str("=\"");
        text.push_str(&escape(v));
        text.push('"');
    }
    text.push_str("/>\n");
    let digest = Md5::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parameters a digest covers for `task`/`interval` of `r` on `n`.
fn digest_params(
    ws: &WorkingSet,
    r: RscId,
    n: NodeId,
    task: &str,
    interval_ms: u64,
) -> BTreeMap<String, String> {
    let rsc = &ws.resources[r];
    let mut params = rsc.params.clone();
    let key = crate::util::op_key(&rsc.id, task, interval_ms);
    if let Some(i) = crate::actions::find_op_entry(ws, r, &key, true) {
        let op = &rsc.ops[i].xml;
        let idx = cib_xml::IdIndex::new(op);
        let ctx = cib_xml::RuleContext {
            node_attrs: Some(&ws.nodes[n].attrs),
            now: Some(ws.now),
            ..Default::default()
        };
        let mut extra = BTreeMap::new();
        cib_xml::rules::unpack_nvpairs(
            op,
            Some("instance_attributes"),
            &idx,
            &ctx,
            None,
            false,
            &ws.options.health,
            &mut extra,
        );
        for (k, v) in extra {
            params.insert(k, v);
        }
    }
    if interval_ms > 0 {
        let info = crate::actions::unpack_operation(ws, r, &key, task, interval_ms);
        if let Some(t) = info.meta.get("timeout") {
            params.insert("CRM_meta_timeout".into(), t.clone());
        }
    }
    filter_for_digest(&mut params, interval_ms);
    params
}

/// Keeps the parameters an operation digest covers: the instance
/// parameters, and the timeout of a recurring operation
/// (pcmk__filter_op_for_digest).
fn filter_for_digest(params: &mut BTreeMap<String, String>, interval_ms: u64) {
    params.retain(|k, _| {
        let filtered_meta = k.starts_with("CRM_meta_") && k != "CRM_meta_timeout";
        !filtered_meta
            && !matches!(
                k.as_str(),
                "id" | "crm_feature_set"
                    | "op-digest"
                    | "on_node"
                    | "on_node_uuid"
                    | "pcmk_external_ip"
            )
    });
    if interval_ms == 0 {
        params.remove("CRM_meta_timeout");
    }
}

/// The `op-digest` a controller records with the result of an operation
/// it ran with `params` (a graph action's attributes): the same digest
/// the scheduler computes from the configuration, so an unchanged
/// definition is recognised as unchanged.
pub fn digest_of_action_params(params: &BTreeMap<String, String>, interval_ms: u64) -> String {
    let mut p = params.clone();
    filter_for_digest(&mut p, interval_ms);
    md5_of(&p)
}

fn is_fence_param(p: &str) -> bool {
    if p == "provides" || p == "stonith-timeout" {
        return true;
    }
    let Some(rest) = p.strip_prefix("pcmk_") else {
        return false;
    };
    if matches!(
        p,
        "pcmk_action_limit"
            | "pcmk_delay_base"
            | "pcmk_delay_max"
            | "pcmk_host_argument"
            | "pcmk_host_check"
            | "pcmk_host_list"
            | "pcmk_host_map"
    ) {
        return true;
    }
    match rest.find('_') {
        Some(i) => matches!(&rest[i..], "_action" | "_timeout" | "_retries"),
        None => false,
    }
}

/// With sanitized input (crm_simulate -x), a mismatch only in secure
/// parameters is not a change: compare the secure digest instead.
fn only_sanitized_changed(
    ws: &WorkingSet,
    r: RscId,
    op: &Element,
    params: &BTreeMap<String, String>,
) -> bool {
    if !ws.sanitized {
        return false;
    }
    let Some(recorded) = op.attr("op-secure-digest") else {
        return false;
    };
    let version = op
        .attr("crm_feature_set")
        .or_else(|| ws.cib.attr("crm_feature_set"))
        .unwrap_or("3.16.1");
    let old = cib_xml::rules::compare_version(version, "3.16.0").is_lt();
    let mut secure = params.clone();
    if old {
        secure.remove("CRM_meta_timeout");
    }
    let list = op.attr("op-secure-params").unwrap_or("");
    secure.retain(|k, _| !list.contains(&format!(" {k} ")));
    if old && ws.resources[r].class.as_deref() == Some("stonith") {
        secure.retain(|k, _| !is_fence_param(k));
    }
    md5_of(&secure) == recorded
}

/// The digest to record with a result of `task`/`interval` of `r` on `n`.
pub(crate) fn op_digest(
    ws: &WorkingSet,
    r: RscId,
    n: NodeId,
    task: &str,
    interval_ms: u64,
) -> String {
    md5_of(&digest_params(ws, r, n, task, interval_ms))
}

/// rsc_action_digest_cmp.
pub(crate) fn compare(ws: &WorkingSet, r: RscId, n: NodeId, op: &Element) -> DigestResult {
    let task = op.attr("operation").unwrap_or("");
    let interval: u64 = op
        .attr("interval")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let params = digest_params(ws, r, n, task, interval);
    let all_calc = md5_of(&params);
    let digest_all = op.attr("op-digest");
    let digest_restart = op.attr("op-restart-digest");
    // A non-recurring operation with extra parameters always restarts.
    let extra_params = interval == 0 && {
        let key = crate::util::op_key(&ws.resources[r].id, task, interval);
        crate::actions::find_op_entry(ws, r, &key, true).is_some_and(|i| {
            ws.resources[r].ops[i]
                .xml
                .child("instance_attributes")
                .is_some()
        })
    };
    if let Some(dr) = digest_restart {
        let mut restart = params.clone();
        if let Some(list) = op.attr("op-force-restart") {
            let keep = format!(" {} ", list.trim());
            restart.retain(|k, _| keep.contains(&format!(" {k} ")));
        }
        if md5_of(&restart) != dr {
            return DigestResult::Restart;
        }
    }
    match digest_all {
        None => DigestResult::Unknown,
        Some(d) if d != all_calc => {
            if extra_params {
                DigestResult::Restart
            } else {
                DigestResult::All
            }
        }
        _ => DigestResult::Match,
    }
}

/// Whether a start/monitor last_failure entry was recorded with different
/// parameters than the resource has now.
pub(crate) fn should_clear_for_param_change(
    ws: &WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'_>,
) -> bool {
    if op.task != "start" && op.task != "monitor" {
        return false;
    }
    !matches!(
        compare(ws, r, n, op.xml),
        DigestResult::Match | DigestResult::Unknown
    )
}

fn task_for_digest(task: &str, interval: u64) -> &str {
    if interval == 0 && matches!(task, "monitor" | "migrate_from" | "promote") {
        "start"
    } else {
        task
    }
}

fn force_restart(ws: &mut WorkingSet, r: RscId, task: &str, interval: u64, n: NodeId) {
    let key = crate::util::op_key(&ws.resources[r].id.clone(), task, interval);
    let a = crate::actions::custom_action(ws, Some(r), &key, task, None, false);
    crate::actions::set_reason(ws, a, Some("resource definition change"), true);
    crate::fencing::trigger_unfencing(ws, Some(r), n, "Device parameters changed");
}

fn schedule_reload(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    let rsc = &ws.resources[r];
    if !rsc.has(rf::MANAGED) || rsc.has(rf::FAILED) {
        return;
    }
    let id = rsc.id.clone();
    if rsc.has(rf::START_PENDING) {
        let k = crate::util::op_key(&id, "stop", 0);
        crate::actions::custom_action(ws, Some(r), &k, "stop", Some(n), false);
        return;
    }
    ws.resources[r].set(rf::RELOAD);
    let k = crate::util::op_key(&id, "reload-agent", 0);
    let reload = crate::actions::custom_action(ws, Some(r), &k, "reload-agent", Some(n), false);
    crate::actions::set_reason(ws, reload, Some("resource definition change"), false);
    crate::order::new_ordering(
        ws,
        None,
        None,
        Some(reload),
        Some(r),
        Some(crate::util::op_key(&id, "stop", 0)),
        None,
        of::OPTIONAL | of::THEN_CANCELS_FIRST,
    );
    crate::order::new_ordering(
        ws,
        None,
        None,
        Some(reload),
        Some(r),
        Some(crate::util::op_key(&id, "demote", 0)),
        None,
        of::OPTIONAL | of::THEN_CANCELS_FIRST,
    );
}

/// pcmk__check_action_config: true when the definition changed.
fn check_action_config(ws: &mut WorkingSet, r: RscId, n: NodeId, op: &Element) -> bool {
    let task = op.attr("operation").unwrap_or("").to_string();
    let interval: u64 = op
        .attr("interval")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if interval > 0 {
        let key = crate::util::op_key(&ws.resources[r].id, &task, interval);
        if crate::actions::find_op_entry(ws, r, &key, false).is_none() {
            if ws.options.stop_orphan_actions {
                schedule_cancel(ws, r, &task, interval, n);
            }
            return true;
        }
    }
    let dtask = task_for_digest(&task, interval).to_string();
    let mut result = compare(ws, r, n, op);
    if result != DigestResult::Match {
        let interval_for = op
            .attr("interval")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let params = digest_params(ws, r, n, &task, interval_for);
        if only_sanitized_changed(ws, r, op, &params) {
            return false;
        }
    }
    if ws
        .forced_restart_digest
        .contains(&(r, n, op.id().to_string()))
    {
        result = DigestResult::Restart;
    }
    match result {
        DigestResult::Restart => {
            force_restart(ws, r, &dtask, interval, n);
            true
        }
        DigestResult::All | DigestResult::Unknown => {
            if interval > 0 {
                let key = crate::util::op_key(&ws.resources[r].id.clone(), &task, interval);
                let a = crate::actions::custom_action(ws, Some(r), &key, &task, Some(n), true);
                ws.actions[a].reschedule = true;
                crate::fencing::trigger_unfencing(
                    ws,
                    Some(r),
                    n,
                    "Device parameters changed (reschedule)",
                );
            } else if op.attr("op-restart-digest").is_some() {
                crate::fencing::trigger_unfencing(
                    ws,
                    Some(r),
                    n,
                    "Device parameters changed (reload)",
                );
                schedule_reload(ws, r, n);
            } else {
                force_restart(ws, r, &dtask, interval, n);
            }
            true
        }
        DigestResult::Match => false,
    }
}

/// pcmk__schedule_cancel for an orphaned or maintenance-mode recurring op.
fn schedule_cancel(ws: &mut WorkingSet, r: RscId, task: &str, interval: u64, n: NodeId) {
    let cancel = crate::create::new_cancel_action(ws, r, task, interval, n);
    let stop = crate::util::op_key(&ws.resources[r].id.clone(), "stop", 0);
    crate::order::new_ordering(
        ws,
        Some(r),
        Some(stop),
        None,
        Some(r),
        None,
        Some(cancel),
        of::OPTIONAL,
    );
}

/// pcmk__rsc_agent_changed: the history entry names another agent (type,
/// class or provider) than the configuration. A fence device's node is
/// unfenced again; an active resource is restarted.
fn agent_changed(ws: &mut WorkingSet, r: RscId, n: NodeId, entry: &Element, active: bool) -> bool {
    let mut changed = false;
    for attr in ["type", "class", "provider"] {
        if ws.resources[r].xml.attr(attr) != entry.attr(attr) {
            changed = true;
            crate::fencing::trigger_unfencing(ws, Some(r), n, "Device definition changed");
        }
    }
    if changed && active {
        let key = crate::util::op_key(&ws.resources[r].id.clone(), "stop", 0);
        crate::actions::custom_action(ws, Some(r), &key, "stop", Some(n), false);
        ws.resources[r].set(rf::START_PENDING);
    }
    changed
}

/// pcmk__handle_rsc_config_changes (phase 7).
pub(crate) fn handle_rsc_config_changes(ws: &mut WorkingSet) {
    let cib = ws.cib.clone();
    let Some(status) = cib.child("status") else {
        return;
    };
    for n in 0..ws.nodes.len() {
        let w = ws.nodes[n].weight;
        if !ws.nodes[n].maintenance && !crate::assign::node_available(ws, n, w, false) {
            continue;
        }
        let uname = ws.nodes[n].uname.clone();
        let Some(st) = status
            .children_named("node_state")
            .find(|s| s.attr("uname") == Some(uname.as_str()))
        else {
            continue;
        };
        let Some(rscs) = st.path(&["lrm", "lrm_resources"]) else {
            continue;
        };
        for entry in rscs.children_named("lrm_resource") {
            if entry.children.is_empty() {
                continue;
            }
            let id = entry.id();
            let matching: Vec<RscId> = ws
                .rsc_index
                .get(id)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|&r| {
                    let rsc = &ws.resources[r];
                    rsc.variant == Variant::Primitive
                        && (rsc.id == id || rsc.clone_name.as_deref() == Some(id))
                })
                .collect();
            for r in matching {
                process_rsc_history(ws, r, n, entry);
            }
        }
    }
}

fn process_rsc_history(ws: &mut WorkingSet, r: RscId, n: NodeId, entry: &Element) {
    if ws.resources[r].has(rf::ORPHAN) {
        // A deleted resource's history is cleaned up (not an anonymous
        // clone's extra instance: its history belongs to the clone).
        let top = ws.top_parent(r);
        let anon_clone =
            ws.resources[top].variant == Variant::Clone && !ws.resources[top].has(rf::UNIQUE);
        if !anon_clone {
            crate::create::schedule_cleanup(ws, r, n, false);
        }
        return;
    }
    if !ws.resources[r].running_on.contains(&n) {
        if agent_changed(ws, r, n, entry, false) {
            crate::create::schedule_cleanup(ws, r, n, false);
        }
        return;
    }
    if agent_changed(ws, r, n, entry, true) {
        crate::create::schedule_cleanup(ws, r, n, false);
    }
    let ops = crate::unpack::hist_ops(entry);
    let (start_index, stop_index) = crate::history::active_ops_pub(&ops);
    if start_index < stop_index {
        return;
    }
    for (offset, op) in ops.iter().enumerate() {
        if (offset as i32) < start_index {
            continue;
        }
        let maintenance = ws.resources[r].has(rf::MAINTENANCE) || ws.nodes[n].maintenance;
        if op.interval_ms > 0 && maintenance {
            schedule_cancel(ws, r, op.task, op.interval_ms, n);
        } else if (op.interval_ms > 0
            || matches!(op.task, "monitor" | "start" | "promote" | "migrate_from"))
            && check_action_config(ws, r, n, op.xml)
            && crate::unpack::failcount(ws, n, r, true).0 != 0
        {
            crate::fencing::clear_failcount(ws, r, n, "action definition changed");
        }
    }
}

//! Creating actions (Pacemaker's custom_action and friends): operation
//! configuration lookup, failure policy, runnable/optional flags.

use std::collections::BTreeMap;

use cib_xml::rules::{parse_interval_ms, unpack_nvpairs};
use cib_xml::{Role, RuleContext};

use crate::model::*;
use crate::util::{op_key, parse_op_key};

/// What unpacking an operation's configuration yields.
pub(crate) struct OpInfo {
    pub meta: BTreeMap<String, String>,
    pub needs: Requires,
    pub on_fail: OnFail,
    pub fail_role: Role,
    pub op_entry: Option<usize>,
}

/// Finds the configured `<op>` for an action key (by name and interval;
/// migrate_to/from fall back to "migrate", notifications to "notify").
pub(crate) fn find_op_entry(
    ws: &WorkingSet,
    r: RscId,
    key: &str,
    include_disabled: bool,
) -> Option<usize> {
    let rsc = &ws.resources[r];
    let try_key = |key: &str| -> Option<usize> {
        let mut found = None;
        for (i, op) in rsc.ops.iter().enumerate() {
            if !include_disabled && !op.enabled {
                continue;
            }
            let k = op_key(&rsc.id, &op.name, op.interval_ms);
            if k.eq_ignore_ascii_case(key) {
                found = Some(i);
            }
            if let Some(cn) = &rsc.clone_name {
                if op_key(cn, &op.name, op.interval_ms).eq_ignore_ascii_case(key) {
                    found = Some(i);
                }
            }
            if found.is_some() {
                return found;
            }
        }
        None
    };
    if let Some(i) = try_key(key) {
        return Some(i);
    }
    if key.contains("migrate_to") || key.contains("migrate_from") {
        return try_key(&op_key(&rsc.id, "migrate", 0));
    }
    if key.contains("_notify_") {
        return try_key(&op_key(&rsc.id, "notify", 0));
    }
    None
}

fn is_remote_conn(ws: &WorkingSet, r: RscId) -> bool {
    ws.resources[r].is_remote_node
}

/// Pacemaker's unpack_operation.
pub(crate) fn unpack_operation(
    ws: &WorkingSet,
    r: RscId,
    key: &str,
    task: &str,
    interval_ms: u64,
) -> OpInfo {
    let rsc = &ws.resources[r];
    let op_entry = find_op_entry(ws, r, key, true);
    let mut meta = BTreeMap::new();
    let nc = ws.next_change.clone();
    let ctx = RuleContext {
        now: Some(ws.now),
        rsc: rsc.class.as_deref().map(|c| {
            (
                c,
                rsc.provider.as_deref(),
                rsc.agent.as_deref().unwrap_or(""),
            )
        }),
        op: Some((task, interval_ms)),
        next_change: Some(&nc),
        ..Default::default()
    };
    if let Some(d) = &ws.op_defaults {
        let idx = cib_xml::IdIndex::new(d);
        unpack_nvpairs(
            d,
            Some("meta_attributes"),
            &idx,
            &ctx,
            None,
            false,
            &ws.options.health,
            &mut meta,
        );
    }
    let is_probe = task == "monitor" && interval_ms == 0;
    if is_probe {
        // Default probe timeout: the shortest recurring monitor's timeout.
        let mut best: Option<(u64, &OpConfig)> = None;
        for op in &rsc.ops {
            if !op.enabled || op.name != "monitor" || op.interval_ms == 0 {
                continue;
            }
            if best.is_none_or(|(b, _)| op.interval_ms < b) {
                best = Some((op.interval_ms, op));
            }
        }
        if let Some(t) = best.and_then(|(_, op)| op.xml.attr("timeout")) {
            meta.insert("timeout".into(), t.to_string());
        }
    }
    if let Some(i) = op_entry {
        let xml = &rsc.ops[i].xml;
        let idx = cib_xml::IdIndex::new(xml);
        unpack_nvpairs(
            xml,
            Some("meta_attributes"),
            &idx,
            &ctx,
            None,
            true,
            &ws.options.health,
            &mut meta,
        );
        for (k, v) in &xml.attrs {
            meta.insert(k.clone(), v.clone());
        }
    }
    meta.remove("id");
    if interval_ms > 0 {
        meta.insert("interval".into(), interval_ms.to_string());
    } else {
        meta.remove("interval");
    }
    let timeout = meta
        .get("timeout")
        .and_then(|t| parse_interval_ms(t))
        .unwrap_or(20_000);
    meta.insert("timeout".into(), timeout.to_string());

    let needs = if task != "start" && task != "promote" {
        Requires::Nothing
    } else if rsc.has(rf::NEEDS_FENCING) {
        Requires::Fencing
    } else if rsc.has(rf::NEEDS_QUORUM) {
        Requires::Quorum
    } else {
        Requires::Nothing
    };

    // on-fail
    let mut value = meta.get("on-fail").cloned();
    let lower = value.as_deref().map(str::to_ascii_lowercase);
    if task == "stop" && matches!(lower.as_deref(), Some("standby" | "demote" | "stop")) {
        value = None;
    } else if task == "demote" && value.is_none() {
        for op in &rsc.ops {
            let Some(of) = op.xml.attr("on-fail") else {
                continue;
            };
            if !op.enabled
                || !op.name.eq_ignore_ascii_case("monitor")
                || op.role != Some(Role::Promoted)
                || op.interval_ms == 0
                || of.eq_ignore_ascii_case("demote")
            {
                continue;
            }
            value = Some(of.to_string());
            break;
        }
    } else if task == "lrm_delete" {
        value = Some("ignore".into());
    } else if lower.as_deref() == Some("demote") {
        let entry = op_entry.map(|i| &rsc.ops[i]);
        let ok = entry.is_some_and(|op| {
            op.name.eq_ignore_ascii_case("promote")
                || (op.name.eq_ignore_ascii_case("monitor")
                    && op.role == Some(Role::Promoted)
                    && op.interval_ms > 0)
        });
        if !ok {
            value = None;
        }
    }
    let mut fail_role = Role::Unknown;
    let mut on_fail: Option<OnFail> = match value.as_deref().map(str::to_ascii_lowercase).as_deref()
    {
        None => None,
        Some("block") => Some(OnFail::Block),
        Some("fence") => {
            if ws.options.stonith_enabled {
                Some(OnFail::Fence)
            } else {
                fail_role = Role::Stopped;
                Some(OnFail::Stop)
            }
        }
        Some("standby") => Some(OnFail::Standby),
        Some("ignore") | Some("nothing") => Some(OnFail::Ignore),
        Some("migrate") => Some(OnFail::Migrate),
        Some("stop") => {
            fail_role = Role::Stopped;
            Some(OnFail::Stop)
        }
        Some("restart") => Some(OnFail::Recover),
        Some("restart-container") => {
            if rsc.container.is_some() {
                Some(OnFail::RestartContainer)
            } else {
                None
            }
        }
        Some("demote") => Some(OnFail::Demote),
        Some(_) => None,
    };
    if on_fail.is_none() && rsc.container.is_some() {
        on_fail = Some(OnFail::RestartContainer);
    } else if (on_fail.is_none() || !rsc.has(rf::MANAGED))
        && is_remote_conn(ws, r)
        && !(task == "monitor" && interval_ms == 0)
        && task != "start"
    {
        if !rsc.has(rf::MANAGED) {
            on_fail = Some(OnFail::Stop);
            fail_role = Role::Stopped;
        } else {
            on_fail = Some(OnFail::ResetRemote);
        }
    } else if on_fail.is_none() && task == "stop" {
        on_fail = Some(if ws.options.stonith_enabled {
            OnFail::Fence
        } else {
            OnFail::Block
        });
    } else if on_fail.is_none() {
        on_fail = Some(OnFail::Recover);
    }
    if fail_role == Role::Unknown {
        if let Some(v) = meta.get("role_after_failure").and_then(|v| Role::parse(v)) {
            fail_role = v;
        }
    }
    if fail_role == Role::Unknown {
        fail_role = if task == "promote" {
            Role::Unpromoted
        } else {
            Role::Started
        };
    }
    OpInfo {
        meta,
        needs,
        on_fail: on_fail.unwrap_or(OnFail::Recover),
        fail_role,
        op_entry,
    }
}

/// Actions of a resource (or all actions) with this key, on this node if
/// given. Like Pacemaker's find_actions, an action without a node matching
/// a node-specific search gets that node.
pub(crate) fn find_actions(
    ws: &mut WorkingSet,
    rsc: Option<RscId>,
    key: &str,
    node: Option<NodeId>,
) -> Vec<ActionId> {
    let candidates: Vec<ActionId> = match rsc {
        Some(r) => ws.resources[r].actions.clone(),
        None => ws
            .action_index
            .get(&key.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    // Newest first, as Pacemaker's prepended lists.
    for &a in candidates.iter().rev() {
        if !ws.actions[a].key.eq_ignore_ascii_case(key) {
            continue;
        }
        match node {
            None => out.push(a),
            Some(n) => match ws.actions[a].node {
                None => {
                    ws.actions[a].node = Some(n);
                    out.push(a);
                }
                Some(an) if an == n => out.push(a),
                _ => {}
            },
        }
    }
    // Pacemaker prepends matches while walking newest-first, so the result
    // is oldest-first.
    out.reverse();
    out
}

/// Actions with this key exactly on this node (no node adoption).
pub(crate) fn find_actions_exact(
    ws: &WorkingSet,
    r: RscId,
    key: &str,
    node: Option<NodeId>,
) -> Vec<ActionId> {
    let Some(n) = node else { return Vec::new() };
    let mut out: Vec<ActionId> = ws.resources[r]
        .actions
        .iter()
        .rev()
        .copied()
        .filter(|&a| ws.actions[a].node == Some(n) && ws.actions[a].key.eq_ignore_ascii_case(key))
        .collect();
    out.reverse();
    out
}

/// pe__resource_actions: actions of `r` for `task` (interval 0).
pub(crate) fn rsc_actions(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    task: &str,
    require_node: bool,
) -> Vec<ActionId> {
    let key = op_key(&ws.resources[r].id.clone(), task, 0);
    if require_node {
        find_actions_exact(ws, r, &key, node)
    } else {
        find_actions(ws, Some(r), &key, node)
    }
}

/// The first action of a list with this key (and task), on this node if
/// given: find_first_action.
pub(crate) fn find_first(
    ws: &WorkingSet,
    list: &[ActionId],
    key: &str,
    node: Option<NodeId>,
) -> Option<ActionId> {
    list.iter().rev().copied().find(|&a| {
        let act = &ws.actions[a];
        act.key.eq_ignore_ascii_case(key)
            && match node {
                None => true,
                Some(n) => act.node == Some(n),
            }
    })
}

fn effective_quorum_policy(ws: &mut WorkingSet, r: RscId) -> NoQuorumPolicy {
    let mut policy = ws.options.no_quorum_policy;
    if ws.options.have_quorum {
        policy = NoQuorumPolicy::Ignore;
    } else if policy == NoQuorumPolicy::Demote {
        let rsc = &mut ws.resources[r];
        match rsc.role {
            Role::Promoted | Role::Unpromoted => {
                if rsc.next_role > Role::Unpromoted {
                    rsc.next_role = Role::Unpromoted;
                }
                policy = NoQuorumPolicy::Ignore;
            }
            _ => policy = NoQuorumPolicy::Stop,
        }
    }
    policy
}

pub(crate) fn set_reason(ws: &mut WorkingSet, a: ActionId, reason: Option<&str>, overwrite: bool) {
    let act = &mut ws.actions[a];
    if act.reason.is_none() || overwrite {
        act.reason = reason.map(str::to_string);
    }
}

/// Whether a resource (collective or not) is active anywhere.
pub(crate) fn rsc_active(ws: &WorkingSet, r: RscId) -> bool {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        !rsc.running_on.is_empty()
    } else {
        rsc.children.iter().any(|&c| rsc_active(ws, c))
    }
}

fn update_runnable(ws: &mut WorkingSet, a: ActionId, for_graph: bool) {
    let act = &ws.actions[a];
    if act.has(af::PSEUDO) {
        return;
    }
    let Some(r) = act.rsc else { return };
    match act.node {
        None => {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
        Some(n)
            if !act.has(af::DC)
                && !ws.nodes[n].online
                && (!is_guest_node(ws, n) || ws.nodes[n].remote_requires_reset) =>
        {
            ws.actions[a].flags &= !af::RUNNABLE;
            if ws.resources[r].has(rf::MANAGED)
                && for_graph
                && ws.actions[a].task == "stop"
                && !ws.nodes[n].unclean
            {
                crate::unpack::fence_node(ws, n, "stop is unrunnable", false);
            }
        }
        Some(n) if !act.has(af::DC) && ws.nodes[n].pending => {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
        Some(n) if act.needs == Requires::Nothing => {
            set_reason(ws, a, None, true);
            if is_guest_node(ws, n) && !crate::fencing::can_fence(ws, n) {
                ws.actions[a].flags &= !af::RUNNABLE;
            } else {
                ws.actions[a].flags |= af::RUNNABLE;
            }
        }
        Some(_) => match effective_quorum_policy(ws, r) {
            NoQuorumPolicy::Stop => {
                ws.actions[a].flags &= !af::RUNNABLE;
                set_reason(ws, a, Some("no quorum"), true);
            }
            NoQuorumPolicy::Freeze => {
                let rsc = &ws.resources[r];
                if !rsc_active(ws, r) || rsc.next_role > rsc.role {
                    ws.actions[a].flags &= !af::RUNNABLE;
                    set_reason(ws, a, Some("quorum freeze"), true);
                }
            }
            _ => {
                ws.actions[a].flags |= af::RUNNABLE;
            }
        },
    }
}

pub(crate) fn is_guest_node(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n]
        .remote_rsc
        .is_some_and(|r| ws.resources[r].container.is_some())
}

/// Pacemaker's custom_action with save_action=true: finds or creates the
/// action `key` of `rsc` on `node`, then updates its optional and runnable
/// flags.
pub(crate) fn custom_action(
    ws: &mut WorkingSet,
    rsc: Option<RscId>,
    key: &str,
    task: &str,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let existing = match rsc {
        Some(r) => find_actions(ws, Some(r), key, node).into_iter().next(),
        None => find_actions(ws, None, key, node).into_iter().next(),
    };
    let a = match existing {
        Some(a) => a,
        None => new_action(ws, rsc, key, task, node, optional),
    };
    // update_action_optional
    {
        let act = &ws.actions[a];
        let unmanaged_nonrecurring = act.rsc.is_some_and(|r| !ws.resources[r].has(rf::MANAGED))
            && act.node.is_some()
            && !act.has(af::PSEUDO)
            && !act.meta.contains_key("interval");
        if unmanaged_nonrecurring {
            ws.actions[a].flags |= af::OPTIONAL;
        } else if !optional {
            ws.actions[a].flags &= !af::OPTIONAL;
        }
    }
    if rsc.is_some() {
        update_runnable(ws, a, true);
        // update_resource_flags_for_action
        let r = rsc.unwrap_or_default();
        if ws.actions[a].task == "stop" {
            ws.resources[r].set(rf::STOPPING);
        } else if ws.actions[a].task == "start" {
            if ws.actions[a].has(af::RUNNABLE) {
                ws.resources[r].set(rf::STARTING);
            } else {
                ws.resources[r].clear(rf::STARTING);
            }
        }
    }
    a
}

fn new_action(
    ws: &mut WorkingSet,
    rsc: Option<RscId>,
    key: &str,
    task: &str,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let id = ws.actions.len();
    let interval_ms = parse_op_key(key).map(|(_, _, i)| i).unwrap_or(0);
    let mut flags = af::RUNNABLE;
    if optional {
        flags |= af::OPTIONAL;
    }
    if task == "lrm_delete" {
        flags |= af::DC;
    }
    let mut action = Action {
        id,
        rsc,
        task: task.to_string(),
        key: key.to_string(),
        node,
        flags,
        reason: None,
        meta: BTreeMap::new(),
        needs: Requires::Nothing,
        on_fail: OnFail::Recover,
        fail_role: Role::Started,
        interval_ms,
        before: Vec::new(),
        after: Vec::new(),
        runnable_before: 0,
        required_runnable_before: 0,
        op_entry: None,
        cancel_task: None,
        reschedule: false,
    };
    if let Some(r) = rsc {
        let info = unpack_operation(ws, r, key, task, interval_ms);
        action.meta = info.meta;
        action.needs = info.needs;
        action.on_fail = info.on_fail;
        action.fail_role = info.fail_role;
        action.op_entry = info.op_entry;
        ws.resources[r].actions.push(id);
    }
    ws.action_index
        .entry(key.to_ascii_lowercase())
        .or_default()
        .push(id);
    ws.actions.push(action);
    id
}

/// A pseudo-action not tied to a resource (get_pseudo_op).
pub(crate) fn pseudo_op(ws: &mut WorkingSet, name: &str) -> ActionId {
    if let Some(&a) = ws
        .action_index
        .get(&name.to_ascii_lowercase())
        .and_then(|v| v.iter().find(|&&a| ws.actions[a].rsc.is_none()))
    {
        return a;
    }
    let a = custom_action(ws, None, name, name, None, true);
    ws.actions[a].flags |= af::PSEUDO | af::RUNNABLE;
    a
}

/// A resource pseudo-action such as `grp_running_0`.
pub(crate) fn rsc_pseudo(
    ws: &mut WorkingSet,
    r: RscId,
    task: &str,
    optional: bool,
    runnable: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), task, 0);
    let a = custom_action(ws, Some(r), &key, task, None, optional);
    ws.actions[a].flags |= af::PSEUDO;
    if runnable {
        ws.actions[a].flags |= af::RUNNABLE;
    } else {
        ws.actions[a].flags &= !af::RUNNABLE;
    }
    a
}

pub(crate) fn stop_action(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), "stop", 0);
    custom_action(ws, Some(r), &key, "stop", node, optional)
}

pub(crate) fn start_action(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), "start", 0);
    custom_action(ws, Some(r), &key, "start", node, optional)
}

pub(crate) fn promote_action(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), "promote", 0);
    custom_action(ws, Some(r), &key, "promote", node, optional)
}

pub(crate) fn demote_action(
    ws: &mut WorkingSet,
    r: RscId,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let key = op_key(&ws.resources[r].id.clone(), "demote", 0);
    custom_action(ws, Some(r), &key, "demote", node, optional)
}

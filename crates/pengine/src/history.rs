//! Replaying a resource's operation history on a node to learn its role,
//! failures and what must happen next (Pacemaker's unpack_lrm_resource,
//! unpack_rsc_op, process_rsc_state).

use cib_xml::score::INFINITY;
use cib_xml::{Element, Role};

use crate::actions::{custom_action, demote_action, stop_action, unpack_operation};
use crate::model::*;
use crate::unpack::{
    failcount, fence_node, hist_ops, location_all, location_node, target_role, HistOp,
};
use crate::util::{op_key, parse_bool};

// OCF return codes.
const OCF_OK: i32 = 0;
const OCF_NOT_INSTALLED: i32 = 5;
const OCF_NOT_CONFIGURED: i32 = 6;
const OCF_NOT_RUNNING: i32 = 7;
const OCF_RUNNING_PROMOTED: i32 = 8;
const OCF_FAILED_PROMOTED: i32 = 9;
const OCF_DEGRADED: i32 = 190;
const OCF_DEGRADED_PROMOTED: i32 = 191;
const OCF_UNIMPLEMENT: i32 = 3;
const OCF_INVALID_PARAM: i32 = 2;
const OCF_INSUFFICIENT_PRIV: i32 = 4;

// Execution status codes.
const EXEC_PENDING: i32 = -1;
const EXEC_DONE: i32 = 0;
const EXEC_CANCELLED: i32 = 1;
const EXEC_TIMEOUT: i32 = 2;
const EXEC_NOT_SUPPORTED: i32 = 3;
const EXEC_ERROR: i32 = 4;
const EXEC_ERROR_HARD: i32 = 5;
const EXEC_ERROR_FATAL: i32 = 6;
const EXEC_NOT_INSTALLED: i32 = 7;
const EXEC_NOT_CONNECTED: i32 = 8;
const EXEC_INVALID: i32 = 9;
const EXEC_NO_FENCE_DEVICE: i32 = 10;
const EXEC_NO_SECRETS: i32 = 11;

fn cmp_on_fail(first: OnFail, second: OnFail) -> i32 {
    use OnFail::*;
    // Numeric order of Pacemaker's enum action_fail_response.
    let num = |f: OnFail| match f {
        Ignore => 0,
        Recover => 1,
        Migrate => 2,
        Block => 3,
        Stop => 4,
        Standby => 5,
        Fence => 6,
        RestartContainer => 7,
        ResetRemote => 8,
        Demote => 9,
    };
    match first {
        Demote => {
            return match second {
                Ignore => 1,
                Demote => 0,
                _ => -1,
            }
        }
        ResetRemote => {
            return match second {
                Ignore | Demote | Recover => 1,
                ResetRemote => 0,
                _ => -1,
            }
        }
        RestartContainer => {
            return match second {
                Ignore | Demote | Recover | ResetRemote => 1,
                RestartContainer => 0,
                _ => -1,
            }
        }
        _ => {}
    }
    match second {
        Demote => return if first == Ignore { -1 } else { 1 },
        ResetRemote => {
            return match first {
                Ignore | Demote | Recover => -1,
                _ => 1,
            }
        }
        RestartContainer => {
            return match first {
                Ignore | Demote | Recover | ResetRemote => -1,
                _ => 1,
            }
        }
        _ => {}
    }
    num(first) - num(second)
}

fn set_active(ws: &mut WorkingSet, r: RscId) {
    let top = ws.top_parent(r);
    ws.resources[r].role = if ws.resources[top].has(rf::PROMOTABLE) {
        Role::Unpromoted
    } else {
        Role::Started
    };
}

/// record_failed_op: remembers a failed operation once per key and node
/// (operations on offline nodes are not recorded).
fn record_failed_op(ws: &mut WorkingSet, r: RscId, n: NodeId, op: &HistOp<'_>) {
    if !ws.nodes[n].online {
        return;
    }
    let key = op.key();
    if ws
        .failed_ops
        .iter()
        .any(|f| f.node == n && f.key.eq_ignore_ascii_case(key))
    {
        return;
    }
    ws.failed_ops.push(FailedOp {
        rsc: r,
        node: n,
        key: key.to_string(),
        rc: op.rc,
        masked_probe: mask_probe_failure(op),
        on_node: op.xml.attr("on_node").map(str::to_string),
    });
}

/// unpack_shutdown_lock: a history entry with a `shutdown-lock` time
/// locks the resource to the node it was on when that node shut down,
/// unless the lock has expired (then its history there is cleared).
fn unpack_shutdown_lock(ws: &mut WorkingSet, entry: &Element, r: RscId, n: NodeId) {
    let Some(lock_time) = entry
        .attr("shutdown-lock")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&t| t != 0)
    else {
        return;
    };
    let limit = ws.options.shutdown_lock_limit;
    if limit > 0 && ws.now.0 > lock_time + limit {
        crate::fencing::clear_resource_history(ws, r, n);
    } else {
        ws.resources[r].lock_node = Some(n);
        ws.resources[r].lock_time = lock_time;
    }
}

fn is_probe(op: &HistOp<'_>) -> bool {
    op.task == "monitor" && op.interval_ms == 0
}

/// A probe that found the agent missing etc. is masked as "not running"
/// (pcmk_xe_mask_probe_failure).
fn mask_probe_failure(op: &HistOp<'_>) -> bool {
    if !is_probe(op) {
        return false;
    }
    op.status == EXEC_NOT_INSTALLED || op.rc == OCF_NOT_INSTALLED || op.rc == OCF_INVALID_PARAM
}

pub(crate) fn unpack_lrm_resource(ws: &mut WorkingSet, n: NodeId, entry: &Element) {
    let Some(rsc_id) = entry.attr("id") else {
        return;
    };
    let ops = hist_ops(entry);
    if ops.is_empty() && !ws.options.shutdown_lock {
        return;
    }
    let r = match crate::clone::find_history_resource(ws, n, rsc_id, entry) {
        Some(r) => r,
        None => {
            if ops.is_empty() {
                return;
            }
            orphan_resource(ws, n, rsc_id, entry)
        }
    };
    if ws.options.shutdown_lock {
        unpack_shutdown_lock(ws, entry, r, n);
    }
    let saved_role = ws.resources[r].role;
    ws.resources[r].role = Role::Unknown;
    let mut on_fail = OnFail::Ignore;
    let mut last_failure: Option<&Element> = None;
    let mut migrate_op: Option<&Element> = None;
    for op in &ops {
        if op.task == "migrate_from" {
            migrate_op = Some(op.xml);
        }
        unpack_rsc_op(ws, r, n, op, &mut last_failure, &mut on_fail, &ops);
    }
    let (start_index, stop_index) = active_ops(&ops);
    process_recurring(ws, n, r, start_index, stop_index, &ops);
    process_rsc_state(ws, r, n, on_fail, migrate_op);
    if let Some(req) = target_role(ws, r) {
        let next = ws.resources[r].next_role;
        if next == Role::Unknown || req < next {
            ws.resources[r].next_role = req;
        }
    }
    if saved_role > ws.resources[r].role {
        ws.resources[r].role = saved_role;
    }
}

fn orphan_resource(ws: &mut WorkingSet, n: NodeId, rsc_id: &str, entry: &Element) -> RscId {
    let _ = n;
    let mut xml = Element::new("primitive");
    xml.set_attr("id", rsc_id);
    for k in ["class", "provider", "type"] {
        if let Some(v) = entry.attr(k) {
            xml.set_attr(k, v);
        }
    }
    let r = crate::unpack::add_orphan(ws, xml);
    ws.resources[r].set(rf::ORPHAN);
    if !ws.options.stop_orphan_resources {
        ws.resources[r].clear(rf::MANAGED);
    } else {
        location_all(ws, r, -INFINITY, false);
    }
    r
}

pub(crate) fn active_ops_pub(ops: &[HistOp<'_>]) -> (i32, i32) {
    active_ops(ops)
}

fn active_ops(ops: &[HistOp<'_>]) -> (i32, i32) {
    let mut stop_index = -1i32;
    let mut start_index = -1i32;
    let mut implied_monitor_start = -1i32;
    let mut implied_clone_start = -1i32;
    for (i, op) in ops.iter().enumerate() {
        let i = i as i32;
        let status = op.xml.attr("op-status");
        if op.task == "stop" && status == Some("0") {
            stop_index = i;
        } else if op.task == "start" || op.task == "migrate_from" {
            start_index = i;
        } else if implied_monitor_start <= stop_index && op.task == "monitor" {
            let rc = op.xml.attr("rc-code");
            if rc == Some("0") || rc == Some("8") {
                implied_monitor_start = i;
            }
        } else if op.task == "promote" || op.task == "demote" {
            implied_clone_start = i;
        }
    }
    if start_index == -1 {
        if implied_clone_start != -1 {
            start_index = implied_clone_start;
        } else if implied_monitor_start != -1 {
            start_index = implied_monitor_start;
        }
    }
    (start_index, stop_index)
}

fn process_recurring(
    ws: &mut WorkingSet,
    n: NodeId,
    r: RscId,
    start_index: i32,
    stop_index: i32,
    ops: &[HistOp<'_>],
) {
    for (counter, op) in ops.iter().enumerate() {
        let counter = counter as i32;
        if !ws.nodes[n].online {
            break;
        }
        if start_index < stop_index && counter <= stop_index {
            continue;
        }
        if counter < start_index {
            continue;
        }
        if op.interval_ms == 0 {
            continue;
        }
        if op.xml.attr("op-status") == Some("-1") {
            continue;
        }
        let key = op_key(&ws.resources[r].id.clone(), op.task, op.interval_ms);
        custom_action(ws, Some(r), &key, op.task, Some(n), true);
    }
}

#[allow(clippy::too_many_arguments)]
fn unpack_rsc_op<'a>(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'a>,
    last_failure: &mut Option<&'a Element>,
    on_fail: &mut OnFail,
    all_ops: &[HistOp<'a>],
) {
    let task = op.task;
    if task == "notify" || task == "meta-data" {
        return;
    }
    if !(-1..=11).contains(&op.status) {
        return;
    }
    let parent = if ws.resources[r].has(rf::UNIQUE) {
        r
    } else {
        ws.top_parent(r)
    };
    let mut status = op.status;
    let mut rc = op.rc;
    let target_rc = op.target_rc;
    let expired = status != EXEC_NOT_INSTALLED && check_operation_expiry(ws, r, n, op);
    let old_rc = rc;
    remap_operation(ws, r, n, op, on_fail, target_rc, &mut rc, &mut status);
    let maskable = !is_bundled(ws, r) && mask_probe_failure(op);
    if expired && maskable && old_rc != target_rc {
        if ws.resources[r].role <= Role::Stopped {
            ws.resources[r].role = Role::Unknown;
        }
        return;
    } else if expired && rc != target_rc {
        if op.interval_ms == 0 {
            return;
        } else if ws.nodes[n].online && !ws.nodes[n].unclean {
            // Reschedule the recurring monitor via a forced digest mismatch.
            ws.forced_restart_digest.insert((r, n, op.id().to_string()));
            return;
        }
    }
    if maskable {
        record_failed_op(ws, r, n, op);
        update_resource_state(
            ws,
            r,
            n,
            op,
            task,
            target_rc,
            *last_failure,
            on_fail,
            all_ops,
        );
        location_node(ws, parent, n, -INFINITY, false);
        return;
    }
    match status {
        EXEC_CANCELLED => return,
        EXEC_PENDING => {
            if task == "start" {
                ws.resources[r].set(rf::START_PENDING);
                set_active(ws, r);
            } else if task == "promote" {
                ws.resources[r].role = Role::Promoted;
            } else if task == "migrate_to" && ws.nodes[n].unclean {
                if let Some(t) = op.xml.attr("migrate_target").and_then(|t| ws.find_node(t)) {
                    stop_action(ws, r, Some(t), false);
                }
            }
            if ws.resources[r].pending_task.is_none() && (op.interval_ms != 0 || task != "monitor")
            {
                ws.resources[r].pending_task = Some(task.to_string());
                ws.resources[r].pending_node = Some(n);
            }
            return;
        }
        EXEC_DONE => {
            update_resource_state(ws, r, n, op, task, rc, *last_failure, on_fail, all_ops);
            return;
        }
        EXEC_NOT_INSTALLED => {
            let strategy = unpack_operation(ws, r, op.key(), task, op.interval_ms).on_fail;
            if strategy == OnFail::Ignore {
                *on_fail = OnFail::Migrate;
            }
            location_node(ws, parent, n, -INFINITY, false);
            unpack_rsc_op_failure(ws, r, n, rc, op, last_failure, on_fail);
            return;
        }
        EXEC_NOT_CONNECTED => {
            if let Some(rr) = ws.nodes[n].remote_rsc {
                if ws.resources[rr].has(rf::MANAGED) {
                    ws.resources[rr].set(rf::FAILED | rf::STOP);
                }
            }
        }
        EXEC_ERROR | EXEC_ERROR_HARD | EXEC_ERROR_FATAL | EXEC_TIMEOUT | EXEC_NOT_SUPPORTED
        | EXEC_INVALID => {}
        EXEC_NO_FENCE_DEVICE | EXEC_NO_SECRETS => status = EXEC_ERROR_HARD,
        _ => {}
    }
    let strategy = unpack_operation(ws, r, op.key(), task, op.interval_ms).on_fail;
    if strategy == OnFail::Ignore || (strategy == OnFail::RestartContainer && task == "stop") {
        update_resource_state(
            ws,
            r,
            n,
            op,
            task,
            target_rc,
            *last_failure,
            on_fail,
            all_ops,
        );
        ws.resources[r].set(rf::FAILURE_IGNORED);
        if strategy == OnFail::RestartContainer && cmp_on_fail(*on_fail, OnFail::Recover) <= 0 {
            *on_fail = strategy;
        }
    } else {
        unpack_rsc_op_failure(ws, r, n, rc, op, last_failure, on_fail);
        if status == EXEC_ERROR_HARD {
            location_node(ws, parent, n, -INFINITY, false);
        } else if status == EXEC_ERROR_FATAL {
            location_all(ws, parent, -INFINITY, false);
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

#[allow(clippy::too_many_arguments)]
fn remap_operation(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'_>,
    on_fail: &mut OnFail,
    target_rc: i32,
    rc: &mut i32,
    status: &mut i32,
) {
    let task = op.task;
    if task == "monitor" {
        // Degraded results are successes for the scheduler.
        let remapped = match *rc {
            OCF_DEGRADED => OCF_OK,
            OCF_DEGRADED_PROMOTED => OCF_RUNNING_PROMOTED,
            x => x,
        };
        *rc = remapped;
    }
    if !is_bundled(ws, r) && mask_probe_failure(op) {
        *status = EXEC_DONE;
        *rc = OCF_NOT_RUNNING;
    }
    if *status != EXEC_DONE && *status != EXEC_ERROR {
        return;
    }
    *status = EXEC_DONE;
    let probe = is_probe(op);
    if target_rc < 0 || target_rc != *rc {
        *status = EXEC_ERROR;
    }
    match *rc {
        OCF_OK => {
            if probe && target_rc == OCF_NOT_RUNNING {
                *status = EXEC_DONE;
            }
        }
        OCF_NOT_RUNNING => {
            if probe || target_rc == *rc || !ws.resources[r].has(rf::MANAGED) {
                *status = EXEC_DONE;
                ws.resources[r].role = Role::Stopped;
                *on_fail = OnFail::Ignore;
                ws.resources[r].next_role = Role::Unknown;
            }
        }
        OCF_RUNNING_PROMOTED => {
            if probe && *rc != target_rc {
                *status = EXEC_DONE;
            }
            ws.resources[r].role = Role::Promoted;
        }
        OCF_DEGRADED_PROMOTED | OCF_FAILED_PROMOTED => {
            ws.resources[r].role = Role::Promoted;
            *status = EXEC_ERROR;
        }
        OCF_NOT_CONFIGURED => *status = EXEC_ERROR_FATAL,
        OCF_UNIMPLEMENT => {
            if op.interval_ms == 0 {
                check_recoverable(ws, r, n, task);
                *status = EXEC_ERROR_HARD;
            } else {
                *status = EXEC_NOT_SUPPORTED;
            }
        }
        OCF_NOT_INSTALLED | OCF_INVALID_PARAM | OCF_INSUFFICIENT_PRIV => {
            check_recoverable(ws, r, n, task);
            *status = EXEC_ERROR_HARD;
        }
        _ => {
            if *status == EXEC_DONE {
                *status = EXEC_ERROR;
            }
        }
    }
}

fn check_recoverable(ws: &mut WorkingSet, r: RscId, n: NodeId, task: &str) {
    if task != "stop" {
        return;
    }
    if crate::fencing::can_fence(ws, n) {
        return;
    }
    ws.resources[r].clear(rf::MANAGED);
    ws.resources[r].set(rf::BLOCK);
}

#[allow(clippy::too_many_arguments)]
fn update_resource_state<'a>(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'a>,
    task: &str,
    rc: i32,
    last_failure: Option<&'a Element>,
    on_fail: &mut OnFail,
    all_ops: &[HistOp<'a>],
) {
    let mut clear_past_failure = false;
    if rc == OCF_NOT_INSTALLED || (!is_bundled(ws, r) && mask_probe_failure(op)) {
        ws.resources[r].role = Role::Stopped;
    } else if rc == OCF_NOT_RUNNING {
        clear_past_failure = true;
    } else if task == "monitor" {
        if let Some(lf) = last_failure {
            let lf_key = lf.attr("operation_key").unwrap_or(lf.id());
            if op.key().eq_ignore_ascii_case(lf_key) {
                clear_past_failure = true;
            }
        }
        if ws.resources[r].role < Role::Started {
            set_active(ws, r);
        }
    } else if task == "start" {
        ws.resources[r].role = Role::Started;
        clear_past_failure = true;
    } else if task == "stop" {
        ws.resources[r].role = Role::Stopped;
        clear_past_failure = true;
    } else if task == "promote" {
        ws.resources[r].role = Role::Promoted;
        clear_past_failure = true;
    } else if task == "demote" {
        if *on_fail == OnFail::Demote {
            clear_past_failure = true;
        }
        ws.resources[r].role = Role::Unpromoted;
    } else if task == "migrate_from" {
        ws.resources[r].role = Role::Started;
        clear_past_failure = true;
    } else if task == "migrate_to" {
        crate::migration::unpack_migrate_to_success(ws, r, n, op, all_ops);
    } else if ws.resources[r].role < Role::Started {
        set_active(ws, r);
    }
    if clear_past_failure {
        match *on_fail {
            OnFail::Stop | OnFail::Fence | OnFail::Migrate | OnFail::Standby => {}
            OnFail::Block
            | OnFail::Ignore
            | OnFail::Demote
            | OnFail::Recover
            | OnFail::RestartContainer => {
                *on_fail = OnFail::Ignore;
                ws.resources[r].next_role = Role::Unknown;
            }
            OnFail::ResetRemote => {
                if ws.resources[r].failure_timeout == 0 {
                    *on_fail = OnFail::Ignore;
                    ws.resources[r].next_role = Role::Unknown;
                }
            }
        }
    }
}

fn unpack_rsc_op_failure<'a>(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    rc: i32,
    op: &HistOp<'a>,
    last_failure: &mut Option<&'a Element>,
    on_fail: &mut OnFail,
) {
    let task = op.task;
    *last_failure = Some(op.xml);
    let info = unpack_operation(ws, r, op.key(), task, op.interval_ms);
    if cmp_on_fail(*on_fail, info.on_fail) < 0 {
        *on_fail = info.on_fail;
    }
    record_failed_op(ws, r, n, op);
    match task {
        "stop" => location_node(ws, r, n, -INFINITY, false),
        "migrate_to" => crate::migration::unpack_migrate_to_failure(ws, r, n, op),
        "migrate_from" => crate::migration::unpack_migrate_from_failure(ws, r, n, op),
        "promote" => ws.resources[r].role = Role::Promoted,
        "demote" => {
            if info.on_fail == OnFail::Block {
                ws.resources[r].role = Role::Promoted;
                ws.resources[r].next_role = Role::Stopped;
            } else if rc == OCF_NOT_RUNNING {
                ws.resources[r].role = Role::Stopped;
            } else {
                ws.resources[r].role = Role::Unpromoted;
            }
        }
        _ => {}
    }
    if is_probe(op) && rc == OCF_NOT_INSTALLED {
        ws.resources[r].role = Role::Stopped;
    } else if ws.resources[r].role < Role::Started {
        set_active(ws, r);
    }
    if info.fail_role != Role::Started && ws.resources[r].next_role < info.fail_role {
        ws.resources[r].next_role = info.fail_role;
    }
    if info.fail_role == Role::Stopped {
        let mut fail_rsc = r;
        if ws.resources[r].parent.is_some() {
            let top = ws.top_parent(r);
            if ws.is_clone(top) && !ws.resources[top].has(rf::UNIQUE) {
                fail_rsc = top;
            }
        }
        let nn = ws.nodes.len();
        let base: Vec<i32> = ws.nodes.iter().map(|_| -INFINITY).collect();
        let rsc = &mut ws.resources[fail_rsc];
        rsc.allowed = (0..nn)
            .map(|i| {
                Some(NodeScore {
                    weight: base[i],
                    discover: Discover::Always,
                    count: 0,
                })
            })
            .collect();
    }
}

/// Whether a history entry is older than the resource's failure-timeout
/// (and the fail count with it), scheduling fail-count clearing.
fn check_operation_expiry(ws: &mut WorkingSet, r: RscId, n: NodeId, op: &HistOp<'_>) -> bool {
    let mut expired = false;
    let is_last_failure = op.id().ends_with("_last_failure_0");
    let mut unexpired = 0;
    let rsc_timeout = ws.resources[r].failure_timeout;
    let mut clear_reason: Option<&str> = None;
    if rsc_timeout > 0 {
        if let Some(last_run) = op.last_change() {
            let now = ws.now.0;
            if now >= last_run + rsc_timeout {
                expired = true;
            }
            let (count, last_failure) = failcount(ws, n, r, true);
            unexpired = count;
            // The scheduler must run again when the last failure expires.
            let expires = last_failure + rsc_timeout + 1;
            if unexpired > 0 && now < expires {
                ws.note_change(cib_xml::time::DateTime(expires));
            }
        }
    }
    if expired {
        if failcount(ws, n, r, false).0 > 0 {
            if unexpired == 0 {
                clear_reason = Some("it expired");
            } else {
                expired = false;
            }
        } else if is_last_failure && ws.resources[r].is_remote_node && rsc_timeout > 0 {
            clear_reason = Some("reconnect interval is set");
        }
    }
    if !expired && is_last_failure && crate::digest::should_clear_for_param_change(ws, r, n, op) {
        clear_reason = Some("resource parameters have changed");
    }
    if let Some(reason) = clear_reason {
        crate::fencing::clear_failcount(ws, r, n, reason);
    }
    if expired
        && op.interval_ms == 0
        && op.task == "monitor"
        && matches!(
            op.rc,
            OCF_OK | OCF_NOT_RUNNING | OCF_RUNNING_PROMOTED | OCF_DEGRADED | OCF_DEGRADED_PROMOTED
        )
    {
        expired = false;
    }
    expired
}

pub(crate) fn process_rsc_state(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    mut on_fail: OnFail,
    _migrate_op: Option<&Element>,
) {
    if ws.resources[r].role != Role::Unknown {
        let mut iter = Some(r);
        while let Some(x) = iter {
            ws.resources[x].known_on.insert(n);
            if ws.resources[x].has(rf::UNIQUE) {
                break;
            }
            iter = ws.resources[x].parent;
        }
    }
    let role = ws.resources[r].role;
    if role > Role::Stopped
        && !ws.nodes[n].online
        && !ws.nodes[n].maintenance
        && ws.resources[r].has(rf::MANAGED)
    {
        let mut should_fence = false;
        let mut reason = None;
        if crate::actions::is_guest_node(ws, n) {
            ws.resources[r].set(rf::FAILED | rf::STOP);
            should_fence = true;
        } else if ws.options.stonith_enabled {
            if ws.nodes[n].kind == NodeKind::Remote {
                if let Some(rr) = ws.nodes[n].remote_rsc {
                    if !ws.resources[rr].has(rf::FAILED) {
                        ws.nodes[n].unseen = true;
                        reason = Some(format!(
                            "{} is active there (fencing will be revoked if remote connection can be re-established elsewhere)",
                            ws.resources[r].id
                        ));
                    }
                }
            }
            should_fence = true;
        }
        if should_fence {
            let reason = reason
                .unwrap_or_else(|| format!("{} is thought to be active there", ws.resources[r].id));
            fence_node(ws, n, &reason, false);
        }
    }
    let save_on_fail = on_fail;
    if ws.nodes[n].unclean {
        on_fail = OnFail::Ignore;
    }
    match on_fail {
        OnFail::Ignore => {}
        OnFail::Demote => {
            ws.resources[r].set(rf::FAILED);
            demote_action(ws, r, Some(n), false);
        }
        OnFail::Fence => {
            let reason = format!("{} failed there", ws.resources[r].id);
            fence_node(ws, n, &reason, false);
        }
        OnFail::Standby => {
            ws.nodes[n].standby = true;
            ws.nodes[n].standby_onfail = true;
        }
        OnFail::Block => {
            ws.resources[r].clear(rf::MANAGED);
            ws.resources[r].set(rf::BLOCK);
        }
        OnFail::Migrate => location_node(ws, r, n, -INFINITY, false),
        OnFail::Stop => ws.resources[r].next_role = Role::Stopped,
        OnFail::Recover => {
            let role = ws.resources[r].role;
            if role != Role::Stopped && role != Role::Unknown {
                ws.resources[r].set(rf::FAILED | rf::STOP);
                stop_action(ws, r, Some(n), false);
            }
        }
        OnFail::RestartContainer => {
            ws.resources[r].set(rf::FAILED | rf::STOP);
            if let Some(c) = ws.resources[r].container {
                stop_action(ws, c, Some(n), false);
            } else {
                let role = ws.resources[r].role;
                if role != Role::Stopped && role != Role::Unknown {
                    stop_action(ws, r, Some(n), false);
                }
            }
        }
        OnFail::ResetRemote => {
            ws.resources[r].set(rf::FAILED | rf::STOP);
            if ws.options.stonith_enabled && ws.resources[r].is_remote_node {
                let id = ws.resources[r].id.clone();
                if let Some(t) = ws.find_node(&id) {
                    if ws.nodes[t].kind == NodeKind::Remote && !ws.nodes[t].remote_was_fenced {
                        fence_node(ws, t, "remote connection is unrecoverable", false);
                    }
                }
            }
            if ws.resources[r].role > Role::Stopped {
                stop_action(ws, r, Some(n), false);
            }
        }
    }
    let role = ws.resources[r].role;
    if role != Role::Stopped && role != Role::Unknown {
        add_running(ws, r, n, save_on_fail != OnFail::Ignore);
        match on_fail {
            OnFail::Ignore => {}
            OnFail::Demote | OnFail::Block => ws.resources[r].set(rf::FAILED),
            _ => ws.resources[r].set(rf::FAILED | rf::STOP),
        }
    } else if ws.resources[r]
        .clone_name
        .as_deref()
        .is_some_and(|c| c.contains(':'))
    {
        ws.resources[r].clone_name = None;
    } else {
        let stops = crate::actions::rsc_actions(ws, r, Some(n), "stop", false);
        for s in stops {
            ws.actions[s].flags |= af::OPTIONAL;
        }
    }
    let rsc = &ws.resources[r];
    if rsc.role == Role::Stopped
        && rsc.partial_migration_source == Some(n)
        && rsc.partial_migration_target.is_some()
        && !rsc.running_on.is_empty()
    {
        ws.resources[r].role = Role::Started;
    }
}

/// native_add_running: records that `r` is active on `n`.
pub(crate) fn add_running(ws: &mut WorkingSet, r: RscId, n: NodeId, _failed: bool) {
    if ws.resources[r].running_on.contains(&n) {
        return;
    }
    ws.resources[r].running_on.push(n);
    let primitive = ws.resources[r].variant == Variant::Primitive;
    if primitive {
        ws.nodes[n].running.push(r);
        if ws.nodes[n].maintenance {
            ws.resources[r].clear(rf::MANAGED);
        }
    }
    if !ws.resources[r].has(rf::MANAGED) {
        location_node(ws, r, n, INFINITY, false);
        let mut p = ws.resources[r].parent;
        while let Some(x) = p {
            if !ws.nodes[n].online {
                break;
            }
            ws.resources[x].running_on.push(n);
            p = ws.resources[x].parent;
        }
        return;
    }
    if primitive && ws.resources[r].running_on.len() > 1 {
        match ws.resources[r].recovery {
            Recovery::StopOnly => {
                let nn = ws.nodes.len();
                ws.resources[r].allowed = (0..nn)
                    .map(|_| {
                        Some(NodeScore {
                            weight: -INFINITY,
                            discover: Discover::Always,
                            count: 0,
                        })
                    })
                    .collect();
            }
            Recovery::Block => {
                ws.resources[r].clear(rf::MANAGED);
                ws.resources[r].set(rf::BLOCK);
                if let Some(p) = ws.resources[r].parent {
                    let pv = ws.resources[p].variant;
                    if (pv == Variant::Group || pv == Variant::Bundle)
                        && ws.resources[p].recovery == Recovery::Block
                    {
                        for c in ws.resources[p].children.clone() {
                            ws.resources[c].clear(rf::MANAGED);
                            ws.resources[c].set(rf::BLOCK);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(p) = ws.resources[r].parent {
        add_running(ws, p, n, false);
    }
}

/// Parses "enabled" for ops (true unless explicitly false).
pub(crate) fn _op_enabled(op: &Element) -> bool {
    op.attr("enabled").and_then(parse_bool).unwrap_or(true)
}

//! Live migration: interpreting migrate_to/migrate_from history (partial
//! and dangling migrations) and scheduling migrations.

use cib_xml::{Element, Role};

use crate::history::add_running;
use crate::model::*;
use crate::unpack::HistOp;

fn lrm_resource(ws: &WorkingSet, rsc_id: &str, node: &str) -> Option<Element> {
    let status = ws.cib.child("status")?;
    for st in status.children_named("node_state") {
        if !st
            .attr("uname")
            .is_some_and(|u| u.eq_ignore_ascii_case(node))
        {
            continue;
        }
        let Some(rscs) = st.path(&["lrm", "lrm_resources"]) else {
            continue;
        };
        if let Some(e) = rscs
            .children_named("lrm_resource")
            .find(|e| e.id() == rsc_id)
        {
            return Some(e.clone());
        }
    }
    None
}

/// find_lrm_op: the first history entry of `op` for the resource on the
/// node (matching the migration peer when given), optionally requiring a
/// successful result with `target_rc`.
fn find_lrm_op(
    ws: &WorkingSet,
    rsc_id: &str,
    op: &str,
    node: &str,
    source: Option<&str>,
    target_rc: i32,
) -> Option<Element> {
    let e = lrm_resource(ws, rsc_id, node)?;
    let found = e
        .children_named("lrm_rsc_op")
        .find(|o| {
            o.attr("operation") == Some(op)
                && match (source, op) {
                    (Some(s), "migrate_to") => o.attr("migrate_target") == Some(s),
                    (Some(s), "migrate_from") => o.attr("migrate_source") == Some(s),
                    _ => true,
                }
        })?
        .clone();
    if target_rc >= 0 {
        let rc = found
            .attr("rc-code")
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(1);
        let st = found
            .attr("op-status")
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(4);
        if rc != target_rc || st != 0 {
            return None;
        }
    }
    Some(found)
}

fn call_id(e: &Element) -> i32 {
    e.attr("call-id").and_then(|v| v.parse().ok()).unwrap_or(-1)
}

/// pe__is_newer_op(a, b, same_node) > 0.
fn is_newer(a: &Element, b: &Element, same_node: bool) -> bool {
    let same = match (a.attr("on_node"), b.attr("on_node")) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => same_node,
    };
    let (ac, bc) = (call_id(a), call_id(b));
    if same && a.id() == b.id() {
        return false;
    }
    if ac == -1 && bc == -1 {
        return false;
    }
    if same && ac >= 0 && ac < bc {
        return false;
    }
    if same && bc >= 0 && ac > bc {
        return true;
    }
    if ac >= 0 && bc >= 0 && (!same || ac == bc) {
        let la: i64 = a
            .attr("last-rc-change")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        let lb: i64 = b
            .attr("last-rc-change")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        return lb >= 0 && la > lb;
    }
    false
}

fn unknown_on_node(ws: &WorkingSet, rsc_id: &str, node: &str) -> bool {
    lrm_resource(ws, rsc_id, node).is_none_or(|e| e.child("lrm_rsc_op").is_none())
}

fn monitor_not_running_after(
    ws: &WorkingSet,
    rsc_id: &str,
    node: &str,
    op: &Element,
    same_node: bool,
) -> bool {
    find_lrm_op(ws, rsc_id, "monitor", node, None, 7).is_some_and(|m| is_newer(&m, op, same_node))
}

fn non_monitor_after(
    ws: &WorkingSet,
    rsc_id: &str,
    node: &str,
    op: &Element,
    same_node: bool,
) -> bool {
    let Some(e) = lrm_resource(ws, rsc_id, node) else {
        return false;
    };
    let found = e.children_named("lrm_rsc_op").any(|o| {
        o != op
            && matches!(
                o.attr("operation"),
                Some("start" | "stop" | "migrate_to" | "migrate_from")
            )
            && is_newer(o, op, same_node)
    });
    found
}

fn newer_state_after_migrate(
    ws: &WorkingSet,
    rsc_id: &str,
    node: &str,
    migrate_to: Option<&Element>,
    migrate_from: Option<&Element>,
) -> bool {
    let Some(base) = migrate_from.or(migrate_to) else {
        return false;
    };
    let source = base.attr("migrate_source");
    let target = base.attr("migrate_target");
    let mut xml_op = base;
    let mut same_node = false;
    if target.is_some_and(|t| t.eq_ignore_ascii_case(node)) {
        if let Some(f) = migrate_from {
            xml_op = f;
            same_node = true;
        } else if let Some(t) = migrate_to {
            xml_op = t;
        }
    } else if source.is_some_and(|s| s.eq_ignore_ascii_case(node)) {
        if let Some(t) = migrate_to {
            xml_op = t;
            same_node = true;
        } else if let Some(f) = migrate_from {
            xml_op = f;
        }
    }
    non_monitor_after(ws, rsc_id, node, xml_op, same_node)
        || monitor_not_running_after(ws, rsc_id, node, xml_op, same_node)
}

pub(crate) fn unpack_migrate_to_success(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'_>,
    _all: &[HistOp<'_>],
) {
    let xml = op.xml;
    let (Some(source), Some(target)) = (xml.attr("migrate_source"), xml.attr("migrate_target"))
    else {
        return;
    };
    if !source.eq_ignore_ascii_case(&ws.nodes[n].uname) {
        return;
    }
    let rid = ws.resources[r].id.clone();
    let source_newer_op = non_monitor_after(ws, &rid, source, xml, true);
    let migrate_from = find_lrm_op(ws, &rid, "migrate_from", target, Some(source), -1);
    if source_newer_op && migrate_from.is_some() {
        return;
    }
    let target_newer_state =
        newer_state_after_migrate(ws, &rid, target, Some(xml), migrate_from.as_ref());
    if source_newer_op && target_newer_state {
        return;
    }
    ws.resources[r].role = Role::Started;
    let target_node = ws.find_node(target);
    let source_node = ws.find_node(source);
    let (from_rc, from_status) = match &migrate_from {
        Some(f) => (
            f.attr("rc-code")
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(0),
            f.attr("op-status")
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(0),
        ),
        None => (0, 0),
    };
    if migrate_from.is_some() && from_rc == 0 && from_status == 0 {
        ws.resources[r].role = Role::Stopped;
        ws.resources[r].dangling_migrations.insert(0, n);
    } else if migrate_from.is_some() && from_status != -1 {
        match target_node {
            Some(t) if !target_newer_state && ws.nodes[t].online => add_running(ws, r, t, true),
            _ => {
                ws.resources[r].set(rf::FAILED | rf::STOP);
                ws.resources[r].clear(rf::ALLOW_MIGRATE);
            }
        }
    } else {
        match target_node {
            Some(t) if !target_newer_state && ws.nodes[t].online => {
                add_running(ws, r, t, false);
                if let Some(s) = source_node.filter(|&s| ws.nodes[s].online) {
                    ws.resources[r].partial_migration_target = Some(t);
                    ws.resources[r].partial_migration_source = Some(s);
                }
            }
            _ => {
                if !source_newer_op {
                    ws.resources[r].set(rf::FAILED | rf::STOP);
                    ws.resources[r].clear(rf::ALLOW_MIGRATE);
                }
            }
        }
    }
}

pub(crate) fn unpack_migrate_to_failure(ws: &mut WorkingSet, r: RscId, n: NodeId, op: &HistOp<'_>) {
    let xml = op.xml;
    let (Some(source), Some(target)) = (xml.attr("migrate_source"), xml.attr("migrate_target"))
    else {
        return;
    };
    if !source.eq_ignore_ascii_case(&ws.nodes[n].uname) {
        return;
    }
    ws.resources[r].role = Role::Started;
    let rid = ws.resources[r].id.clone();
    let target_from = find_lrm_op(ws, &rid, "migrate_from", target, Some(source), 0);
    if !unknown_on_node(ws, &rid, target)
        && !newer_state_after_migrate(ws, &rid, target, Some(xml), target_from.as_ref())
    {
        if let Some(t) = ws.find_node(target).filter(|&t| ws.nodes[t].online) {
            add_running(ws, r, t, false);
        }
    } else if !non_monitor_after(ws, &rid, source, xml, true) {
        ws.resources[r].dangling_migrations.insert(0, n);
    }
}

pub(crate) fn unpack_migrate_from_failure(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    op: &HistOp<'_>,
) {
    let xml = op.xml;
    let (Some(source), Some(target)) = (xml.attr("migrate_source"), xml.attr("migrate_target"))
    else {
        return;
    };
    if !target.eq_ignore_ascii_case(&ws.nodes[n].uname) {
        return;
    }
    ws.resources[r].role = Role::Started;
    let rid = ws.resources[r].id.clone();
    let source_to = find_lrm_op(ws, &rid, "migrate_to", source, Some(target), 0);
    if !unknown_on_node(ws, &rid, source)
        && !newer_state_after_migrate(ws, &rid, source, source_to.as_ref(), Some(xml))
    {
        if let Some(s) = ws.find_node(source).filter(|&s| ws.nodes[s].online) {
            add_running(ws, r, s, true);
        }
    }
}

/// pcmk__abort_dangling_migration: a stop on the migration source.
/// (Pacemaker also cleans up the source's history here under the
/// deprecated remove-after-stop; that clean-up is not done.)
pub(crate) fn abort_dangling_migration(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    let stop = crate::actions::stop_action(ws, r, Some(n), false);
    ws.actions[stop].flags |= af::DANGLE;
}

/// pcmk__rsc_can_migrate.
pub(crate) fn can_migrate(ws: &WorkingSet, r: RscId, current: NodeId) -> bool {
    let rsc = &ws.resources[r];
    if !rsc.has(rf::ALLOW_MIGRATE) || rsc.has(rf::FAILED) || rsc.has(rf::START_PENDING) {
        return false;
    }
    if !rsc.has(rf::MANAGED) {
        return false;
    }
    if !ws.nodes[current].online || ws.nodes[current].unclean {
        return false;
    }
    rsc.role == Role::Started && rsc.next_role == Role::Started
}

/// pcmk__create_migration_actions: migrate_to on the source, migrate_from
/// on the target, in place of an ordinary stop/start pair.
pub(crate) fn create_migration_actions(ws: &mut WorkingSet, r: RscId, current: NodeId) {
    let Some(target) = ws.resources[r].assigned else {
        return;
    };
    let id = ws.resources[r].id.clone();
    let starts = crate::actions::rsc_actions(ws, r, Some(target), "start", true);
    let stops = crate::actions::rsc_actions(ws, r, Some(current), "stop", true);
    let (Some(&start), Some(&stop)) = (starts.first(), stops.first()) else {
        return;
    };
    let partial = ws.resources[r].partial_migration_target.is_some();
    if !partial && !ws.actions[start].has(af::OPTIONAL) {
        ws.actions[start].flags |= af::PSEUDO;
    }
    let mut migrate_to = None;
    if !partial {
        let key = crate::util::op_key(&id, "migrate_to", 0);
        let a = crate::actions::custom_action(ws, Some(r), &key, "migrate_to", Some(current), true);
        migrate_to = Some(a);
    }
    let key = crate::util::op_key(&id, "migrate_from", 0);
    let migrate_from =
        crate::actions::custom_action(ws, Some(r), &key, "migrate_from", Some(target), true);
    if !ws.actions[start].has(af::OPTIONAL) || !ws.actions[stop].has(af::OPTIONAL) {
        if let Some(m) = migrate_to {
            ws.actions[m].flags &= !af::OPTIONAL;
        }
        ws.actions[migrate_from].flags &= !af::OPTIONAL;
    }
    let src = ws.nodes[current].uname.clone();
    let dst = ws.nodes[target].uname.clone();
    if let Some(m) = migrate_to {
        ws.actions[m].flags |= af::MIGRATE_RUNNABLE;
        ws.actions[m]
            .meta
            .insert("migrate_source".into(), src.clone());
        ws.actions[m]
            .meta
            .insert("migrate_target".into(), dst.clone());
        crate::order::new_ordering(
            ws,
            Some(r),
            Some(crate::util::op_key(&id, "migrate_to", 0)),
            None,
            Some(r),
            Some(crate::util::op_key(&id, "migrate_from", 0)),
            None,
            of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE,
        );
        crate::order::new_ordering(
            ws,
            Some(r),
            Some(crate::util::op_key(&id, "migrate_from", 0)),
            None,
            Some(r),
            Some(crate::util::op_key(&id, "stop", 0)),
            None,
            of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE,
        );
    } else {
        crate::order::new_ordering(
            ws,
            Some(r),
            Some(crate::util::op_key(&id, "migrate_from", 0)),
            None,
            Some(r),
            Some(crate::util::op_key(&id, "stop", 0)),
            None,
            of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE | of::PSEUDO_LEFT,
        );
    }
    ws.actions[migrate_from].flags |= af::MIGRATE_RUNNABLE;
    ws.actions[migrate_from]
        .meta
        .insert("migrate_source".into(), src);
    ws.actions[migrate_from]
        .meta
        .insert("migrate_target".into(), dst);
    ws.actions[start].flags |= af::MIGRATE_RUNNABLE;
    ws.actions[stop].flags |= af::MIGRATE_RUNNABLE;
    crate::order::new_ordering(
        ws,
        Some(r),
        Some(crate::util::op_key(&id, "stop", 0)),
        None,
        Some(r),
        Some(crate::util::op_key(&id, "start", 0)),
        None,
        of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE | of::PSEUDO_LEFT,
    );
}

/// Whether `parent` is an ancestor of `r`.
fn is_ancestor(ws: &WorkingSet, parent: RscId, r: RscId) -> bool {
    let mut p = ws.resources[r].parent;
    while let Some(x) = p {
        if x == parent {
            return true;
        }
        p = ws.resources[x].parent;
    }
    false
}

/// The task of an ordering side: its action's, or the one in its key.
fn ordering_task(ws: &WorkingSet, action: Option<ActionId>, key: Option<&str>) -> Option<String> {
    match action {
        Some(a) => Some(ws.actions[a].task.clone()),
        None => key
            .and_then(crate::util::parse_op_key)
            .map(|(_, task, _)| task),
    }
}

/// pcmk__order_migration_equivalents: an ordering between two unrelated
/// resources, at least one of which may migrate, also orders the
/// migration actions that stand in for a start or stop.
pub(crate) fn order_migration_equivalents(ws: &mut WorkingSet, oi: usize) {
    let o = &ws.orderings[oi];
    let (Some(first), Some(then)) = (o.first_rsc, o.then_rsc) else {
        return;
    };
    if first == then || is_ancestor(ws, first, then) || is_ancestor(ws, then, first) {
        return;
    }
    let first_migratable = ws.resources[first].has(rf::ALLOW_MIGRATE);
    let then_migratable = ws.resources[then].has(rf::ALLOW_MIGRATE);
    if !first_migratable && !then_migratable {
        return;
    }
    let first_task = ordering_task(ws, o.first_action, o.first_task.as_deref());
    let then_task = ordering_task(ws, o.then_action, o.then_task.as_deref());
    let (Some(ft), Some(tt)) = (first_task, then_task) else {
        return;
    };
    let fid = ws.resources[first].id.clone();
    let tid = ws.resources[then].id.clone();
    let key = |id: &str, task: &str| crate::util::op_key(id, task, 0);
    let order = |ws: &mut WorkingSet, ftask: &str, ttask: &str, flags: u32| {
        crate::order::new_ordering(
            ws,
            Some(first),
            Some(key(&fid, ftask)),
            None,
            Some(then),
            Some(key(&tid, ttask)),
            None,
            flags,
        );
    };
    let partial = ws.resources[then].partial_migration_target.is_some();
    match (ft.as_str(), tt.as_str()) {
        ("start", "start") => {
            if first_migratable && then_migratable {
                order(ws, "migrate_from", "migrate_to", of::OPTIONAL);
            }
            if then_migratable {
                let mut flags = of::OPTIONAL;
                if first_migratable {
                    flags |= of::APPLY_FIRST_NON_MIGRATABLE;
                }
                order(ws, "start", "migrate_to", flags);
            }
        }
        ("stop", "stop") if then_migratable => {
            let mut flags = of::OPTIONAL;
            if first_migratable {
                flags |= of::APPLY_FIRST_NON_MIGRATABLE;
            }
            order(ws, "stop", "migrate_to", flags);
            if partial {
                order(ws, "stop", "migrate_from", flags);
            }
        }
        ("promote", "start") if then_migratable => {
            order(ws, "promote", "migrate_to", of::OPTIONAL);
        }
        ("demote", "stop") if then_migratable => {
            order(ws, "demote", "migrate_to", of::OPTIONAL);
            if partial {
                order(ws, "demote", "migrate_from", of::OPTIONAL);
            }
        }
        _ => {}
    }
}

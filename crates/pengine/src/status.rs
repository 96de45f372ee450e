//! The cluster status as crm_mon's text output prints it (the "Current
//! cluster status" and "Revised Cluster Status" sections of crm_simulate):
//! a node list and the full list of resources, with inactive resources and
//! pending actions shown.
//!
//! The layout follows Pacemaker's text formatter: nodes in a bad or special
//! state get a line each, the rest are summarised as `Online: [ ... ]`;
//! anonymous clone instances in a plain role are summarised by role, while
//! failed, unmanaged, orphaned or partially active instances are listed in
//! full; the nodes where an anonymous clone could run but does not are
//! listed as `Stopped`, split by a failed probe's result.

use std::collections::BTreeMap;

use cib_xml::{Element, Role};

use crate::model::*;
use crate::output::TextOut;
use crate::util::natural_cmp;

/// What the status shows besides nodes and resources.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusOptions {
    /// Show pending actions (Starting, Monitoring, ...), as the current
    /// status does; the revised status after a simulation does not.
    pub show_pending: bool,
    /// The "Node Attributes" section (crm_simulate -A).
    pub attributes: bool,
    /// The "Migration Summary" section with fail counts (crm_simulate -c).
    pub failcounts: bool,
    /// Leave out what does not run (crm_mon without -r): inactive
    /// top-level resources, a group's inactive members (counted in its
    /// title), a clone's Stopped lists.
    pub hide_inactive: bool,
}

/// Displayed state of each result code (services_ocf_exitcode_str).
pub fn ocf_exitcode_str(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        190 => "degraded",
        191 => "promoted (degraded)",
        _ => "unknown",
    }
}

/// The role shown for a resource: Started reads Unpromoted inside a
/// promotable clone.
fn displayable_role(ws: &WorkingSet, r: RscId) -> Role {
    let rsc = &ws.resources[r];
    if rsc.role == Role::Started && ws.resources[ws.top_parent(r)].has(rf::PROMOTABLE) {
        Role::Unpromoted
    } else {
        rsc.role
    }
}

/// The resource's target-role meta attribute, inherited from its parents.
fn target_role(ws: &WorkingSet, r: RscId) -> Option<&str> {
    let mut x = Some(r);
    while let Some(i) = x {
        if let Some(t) = ws.resources[i].meta.get("target-role") {
            return Some(t.as_str());
        }
        x = ws.resources[i].parent;
    }
    None
}

/// Whether the target role keeps the resource from running fully
/// (pe__resource_is_disabled).
fn is_disabled(ws: &WorkingSet, r: RscId) -> bool {
    match target_role(ws, r).and_then(Role::parse) {
        Some(Role::Stopped) => true,
        Some(Role::Unpromoted) => ws.resources[ws.top_parent(r)].has(rf::PROMOTABLE),
        _ => false,
    }
}

/// The id a resource is shown under: members of anonymous clones go by
/// the configured id, without the instance number (rsc_printable_id).
pub fn printable_id(ws: &WorkingSet, r: RscId) -> String {
    let rsc = &ws.resources[r];
    let mut p = rsc.parent;
    while let Some(x) = p {
        let pr = &ws.resources[x];
        if pr.variant == Variant::Clone && !pr.has(rf::UNIQUE) {
            if let Some(id) = rsc.xml.attr("id") {
                return id.to_string();
            }
        }
        p = pr.parent;
    }
    rsc.id.clone()
}

/// Whether the resource (all of it when `all`) is active.
fn active(ws: &WorkingSet, r: RscId, all: bool) -> bool {
    let rsc = &ws.resources[r];
    match rsc.variant {
        Variant::Primitive => rsc.running_on.iter().any(|&n| {
            let node = &ws.nodes[n];
            node.unclean || node.online || !rsc.has(rf::MANAGED)
        }),
        Variant::Group => {
            let states: Vec<bool> = rsc.children.iter().map(|&c| active(ws, c, all)).collect();
            let any = states.iter().any(|&a| a);
            any && !(all && states.iter().any(|&a| !a))
        }
        Variant::Clone | Variant::Bundle => {
            if all {
                rsc.children.iter().all(|&c| active(ws, c, true))
            } else {
                rsc.children.iter().any(|&c| active(ws, c, false))
            }
        }
    }
}

/// The single node the resource is active on, if exactly one.
fn location(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    let mut prims = Vec::new();
    ws.primitives_of(r, &mut prims);
    let mut nodes: Vec<NodeId> = Vec::new();
    for p in prims {
        for &n in &ws.resources[p].running_on {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
    }
    if nodes.len() == 1 {
        Some(nodes[0])
    } else {
        None
    }
}

/// The highest current role of the resource's members.
fn state(ws: &WorkingSet, r: RscId) -> Role {
    let rsc = &ws.resources[r];
    if rsc.children.is_empty() {
        return rsc.role;
    }
    rsc.children
        .iter()
        .map(|&c| state(ws, c))
        .max()
        .unwrap_or(Role::Unknown)
}

/// Whether any (or all, when `any` is false) of the resource and its
/// descendants carry `flag`.
fn is_set_recursive(ws: &WorkingSet, r: RscId, flag: u64, any: bool) -> bool {
    let rsc = &ws.resources[r];
    if rsc.has(flag) {
        if any {
            return true;
        }
    } else if !any {
        return false;
    }
    for &c in &rsc.children {
        let set = is_set_recursive(ws, c, flag, any);
        if set && any {
            return true;
        }
        if !set && !any {
            return false;
        }
    }
    !any
}

/// The result of a failed probe that is displayed as "not running"
/// (pe__failed_probe_for_rsc), on `node` or on any node when None. Only
/// history entries that name their node (on_node) count.
fn failed_probe_rc(ws: &WorkingSet, r: RscId, node: Option<NodeId>) -> Option<i32> {
    let top = ws.top_parent(r);
    let clone_child_id = |c: RscId| {
        crate::util::clone_template(&ws.resources[c].xml)
            .and_then(|x| x.attr("id"))
            .unwrap_or("")
    };
    let rsc_id = if ws.resources[r].variant == Variant::Clone {
        clone_child_id(r)
    } else if ws.resources[top].variant == Variant::Clone {
        clone_child_id(top)
    } else {
        ws.resources[r].id.as_str()
    };
    ws.failed_ops
        .iter()
        .filter(|f| f.masked_probe)
        .filter(|f| {
            f.on_node
                .as_deref()
                .is_some_and(|on| node.is_none_or(|n| on.eq_ignore_ascii_case(&ws.nodes[n].uname)))
        })
        .find(|f| crate::util::parse_op_key(&f.key).is_some_and(|(id, _, _)| id == rsc_id))
        .map(|f| f.rc)
}

/// The pending action shown as the resource's state.
fn pending_state(rsc: &Resource) -> Option<&'static str> {
    match rsc.pending_task.as_deref()? {
        "start" => Some("Starting"),
        "stop" => Some("Stopping"),
        "migrate_to" | "migrate_from" => Some("Migrating"),
        "promote" => Some("Promoting"),
        "demote" => Some("Demoting"),
        _ => None,
    }
}

/// One primitive's line (the text of pcmk__native_output_string).
fn primitive_line(ws: &WorkingSet, r: RscId, show_pending: bool) -> String {
    primitive_line_as(ws, r, show_pending, false)
}

/// One primitive's line; `rsc_only` (under its node in the grouped view)
/// leaves the node out and keeps the description.
fn primitive_line_as(ws: &WorkingSet, r: RscId, show_pending: bool, rsc_only: bool) -> String {
    let rsc = &ws.resources[r];
    let name = printable_id(ws, r);
    let class = rsc.class.as_deref().unwrap_or("unknown");
    let kind = rsc.agent.as_deref().unwrap_or("unknown");
    let provider = if class == "ocf" {
        rsc.provider.as_deref()
    } else {
        None
    };
    let multiple = rsc.running_on.len() > 1;
    let node = if multiple || rsc_only {
        None
    } else {
        rsc.running_on
            .first()
            .copied()
            .or(rsc.pending_node)
            .or(rsc.lock_node)
    };
    let mut out = match provider {
        Some(p) => format!("{name}\t({class}:{p}:{kind}):\t"),
        None => format!("{name}\t({class}:{kind}):\t"),
    };
    if rsc.has(rf::ORPHAN) {
        out.push_str(" ORPHANED");
    }
    if rsc.has(rf::FAILED) {
        out.push_str(" FAILED");
        let role = displayable_role(ws, r);
        if role > Role::Unpromoted {
            out.push(' ');
            out.push_str(role.as_str());
        }
    } else {
        out.push(' ');
        let pending = if show_pending {
            pending_state(rsc)
        } else {
            None
        };
        out.push_str(pending.unwrap_or(displayable_role(ws, r).as_str()));
    }
    if let Some(n) = node {
        out.push(' ');
        out.push_str(&ws.nodes[n].uname);
    }
    if displayable_role(ws, r) == Role::Stopped {
        if let Some(rc) = failed_probe_rc(ws, r, node) {
            out.push_str(&format!(" ({}) ", ocf_exitcode_str(rc)));
        }
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(n) = node {
        if !ws.nodes[n].online && ws.nodes[n].unclean {
            flags.push("UNCLEAN".into());
        }
        if rsc.lock_node == Some(n) {
            flags.push("LOCKED".into());
        }
    }
    if show_pending && rsc.pending_task.as_deref() == Some("monitor") {
        flags.push("Monitoring".into());
    }
    if let Some(t) = target_role(ws, r) {
        match Role::parse(t) {
            Some(Role::Stopped) => flags.push("disabled".into()),
            Some(Role::Unpromoted) if ws.resources[ws.top_parent(r)].has(rf::PROMOTABLE) => {
                flags.push(format!("target-role:{t}"))
            }
            _ => {}
        }
    }
    if rsc.has(rf::BLOCK) {
        flags.push("blocked".into());
    } else if !rsc.has(rf::MANAGED) {
        flags.push("unmanaged".into());
    }
    if rsc.has(rf::FAILURE_IGNORED) {
        flags.push("failure ignored".into());
    }
    if !flags.is_empty() {
        out.push_str(&format!(" ({})", flags.join(", ")));
    }
    if multiple || rsc_only {
        if let Some(desc) = rsc.xml.attr("description") {
            out.push(' ');
            out.push_str(desc);
        }
    }
    if multiple && !rsc_only {
        let nodes: Vec<&str> = rsc
            .running_on
            .iter()
            .map(|&n| ws.nodes[n].uname.as_str())
            .collect();
        out.push_str(&format!(" [ {} ]", nodes.join(" ")));
    }
    out
}

/// Node health as the status shows it: -1 red, 0 yellow, 1 green.
fn node_health(ws: &WorkingSet, n: NodeId) -> i32 {
    if matches!(ws.options.node_health_strategy.as_str(), "none" | "") {
        return 1;
    }
    let scores = &ws.options.health;
    let mut rc = 1;
    for (k, v) in &ws.nodes[n].attrs {
        if !k.starts_with("#health") {
            continue;
        }
        if v.eq_ignore_ascii_case("red") {
            return -1;
        }
        if v.eq_ignore_ascii_case("yellow") {
            rc = 0;
            continue;
        }
        let score = cib_xml::score::parse_score(v, scores);
        if score <= scores.red {
            return -1;
        }
        if score <= scores.yellow && scores.yellow != scores.green {
            rc = 0;
        }
    }
    rc
}

fn node_state_text(node: &Node) -> &'static str {
    if node.unclean {
        if node.online {
            "UNCLEAN (online)"
        } else if node.pending {
            "UNCLEAN (pending)"
        } else {
            "UNCLEAN (offline)"
        }
    } else if node.pending {
        "pending"
    } else if node.standby_onfail && node.online {
        "standby (on-fail)"
    } else if node.standby {
        if !node.online {
            "OFFLINE (standby)"
        } else if !node.running.is_empty() {
            "standby (with active resources)"
        } else {
            "standby"
        }
    } else if node.maintenance {
        if node.online {
            "maintenance"
        } else {
            "OFFLINE (maintenance)"
        }
    } else if node.online {
        "online"
    } else {
        "OFFLINE"
    }
}

fn node_list(ws: &WorkingSet, out: &mut TextOut) {
    out.begin("Node List");
    let mut online = Vec::new();
    let mut offline = Vec::new();
    let mut remote_online = Vec::new();
    let mut remote_offline = Vec::new();
    let mut guest_online = Vec::new();
    for (i, n) in ws.nodes.iter().enumerate() {
        if n.kind == NodeKind::Ping {
            continue;
        }
        let guest = crate::actions::is_guest_node(ws, i);
        let remote = n.kind == NodeKind::Remote && !guest;
        let health = node_health(ws, i);
        let individually = n.unclean
            || n.pending
            || (n.standby_onfail && n.online)
            || n.standby
            || n.maintenance
            || health <= 0;
        if individually {
            let prefix = if guest {
                "GuestNode"
            } else if remote {
                "RemoteNode"
            } else {
                "Node"
            };
            let health_text = match health {
                h if h < 0 => " (health is RED)",
                0 => " (health is YELLOW)",
                _ => "",
            };
            out.item(format!(
                "{prefix} {}: {}{health_text}",
                n.uname,
                node_state_text(n)
            ));
        } else if n.online {
            if guest {
                guest_online.push(n.uname.as_str());
            } else if remote {
                remote_online.push(n.uname.as_str());
            } else {
                online.push(n.uname.as_str());
            }
        } else if remote {
            remote_offline.push(n.uname.as_str());
        } else if !guest {
            offline.push(n.uname.as_str());
        }
    }
    for (label, list) in [
        ("Online", online),
        ("OFFLINE", offline),
        ("RemoteOnline", remote_online),
        ("RemoteOFFLINE", remote_offline),
        ("GuestOnline", guest_online),
    ] {
        if !list.is_empty() {
            out.named(label, format!("[ {} ]", list.join(" ")));
        }
    }
    out.end();
}

/// Emits a list header once, before its first item.
struct Header {
    text: Option<String>,
    opened: bool,
}

impl Header {
    fn new(text: String) -> Self {
        Header {
            text: Some(text),
            opened: false,
        }
    }
    fn emit(&mut self, out: &mut TextOut) {
        if let Some(t) = self.text.take() {
            out.begin(t);
            self.opened = true;
        }
    }
    fn close(self, out: &mut TextOut) {
        if self.opened {
            out.end();
        }
    }
}

fn clone_lines(ws: &WorkingSet, r: RscId, opts: &StatusOptions, out: &mut TextOut) {
    let rsc = &ws.resources[r];
    let child_xml_id = crate::util::clone_template(&rsc.xml)
        .and_then(|c| c.attr("id"))
        .unwrap_or("");
    let mut flags = Vec::new();
    if rsc.has(rf::PROMOTABLE) {
        flags.push("promotable");
    }
    if rsc.has(rf::UNIQUE) {
        flags.push("unique");
    }
    if !rsc.has(rf::MANAGED) {
        flags.push("unmanaged");
    }
    if is_disabled(ws, r) {
        flags.push("disabled");
    }
    let flag_text = if flags.is_empty() {
        String::new()
    } else {
        format!(" ({})", flags.join(", "))
    };
    let mut header = Header::new(format!("Clone Set: {} [{child_xml_id}]{flag_text}", rsc.id));
    let unique = rsc.has(rf::UNIQUE);

    // Status label -> instance ids or node names.
    let mut stopped: Option<BTreeMap<String, String>> = None;
    let mut promoted: Vec<NodeId> = Vec::new();
    let mut started: Vec<NodeId> = Vec::new();
    for &c in &rsc.children {
        let child = &ws.resources[c];
        let partially_active = active(ws, c, false);
        let mut print_full = false;
        if unique {
            if partially_active || !rsc.has(rf::ORPHAN) {
                print_full = true;
            }
        } else if opts.show_pending && child.pending_task.as_deref().is_some_and(|t| t != "probe") {
            print_full = true;
        } else if !partially_active {
            if !child.has(rf::ORPHAN) && !opts.hide_inactive {
                stopped
                    .get_or_insert_with(BTreeMap::new)
                    .insert(child.id.clone(), "Stopped".into());
            }
        } else if is_set_recursive(ws, c, rf::ORPHAN, true)
            || !is_set_recursive(ws, c, rf::MANAGED, false)
            || is_set_recursive(ws, c, rf::FAILED, true)
        {
            print_full = true;
        } else if active(ws, c, true) {
            match location(ws, c) {
                Some(n) => {
                    if !ws.nodes[n].online && ws.nodes[n].unclean {
                        print_full = true;
                    } else if state(ws, c) > Role::Unpromoted {
                        promoted.push(n);
                    } else {
                        started.push(n);
                    }
                }
                None => print_full = true,
            }
        } else {
            print_full = true;
        }
        if print_full {
            header.emit(out);
            resource_lines(ws, c, opts, out);
        }
    }

    let sort_names = |v: &mut Vec<NodeId>| {
        v.sort_by(|&a, &b| natural_cmp(&ws.nodes[a].uname, &ws.nodes[b].uname));
        v.iter()
            .map(|&n| ws.nodes[n].uname.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let active_instances = promoted.len() + started.len();
    if !promoted.is_empty() {
        header.emit(out);
        out.item(format!("Promoted: [ {} ]", sort_names(&mut promoted)));
    }
    if !started.is_empty() {
        header.emit(out);
        let label = if !rsc.has(rf::PROMOTABLE) {
            "Started"
        } else if configured_role(ws, r) == Some(Role::Unpromoted) {
            "Unpromoted (target-role)"
        } else {
            "Unpromoted"
        };
        out.item(format!("{label}: [ {} ]", sort_names(&mut started)));
    }

    if !unique && rsc.clone_max > active_instances && !opts.hide_inactive {
        // Nodes where the clone could run but does not.
        let mut table = BTreeMap::new();
        let candidates: Vec<NodeId> = if ws.options.symmetric {
            (0..ws.nodes.len())
                .filter(|&n| ws.nodes[n].kind != NodeKind::Ping)
                .collect()
        } else {
            rsc.known_on.iter().copied().collect()
        };
        let disabled = configured_role(ws, r) == Some(Role::Stopped);
        for n in candidates {
            if rsc.running_on.contains(&n) {
                continue;
            }
            let state = match failed_probe_rc(ws, r, Some(n)) {
                Some(rc) => format!("Stopped ({})", ocf_exitcode_str(rc)),
                None if disabled => "Stopped (disabled)".into(),
                None => "Stopped".into(),
            };
            table.insert(ws.nodes[n].uname.clone(), state);
        }
        stopped = if table.is_empty() { None } else { Some(table) };
    }
    match stopped {
        Some(table) => {
            header.emit(out);
            let mut states: Vec<&String> = table.values().collect();
            states.sort();
            states.dedup();
            for status in states {
                let mut names: Vec<&str> = table
                    .iter()
                    .filter(|(_, s)| *s == status)
                    .map(|(k, _)| k.as_str())
                    .collect();
                names.sort_by(|a, b| natural_cmp(a, b));
                out.item(format!("{status}: [ {} ]", names.join(" ")));
            }
        }
        None if active_instances == 0 && !opts.hide_inactive => header.emit(out),
        None => {}
    }
    header.close(out);
}

/// The clone's own target-role, or else its first child's.
fn configured_role(ws: &WorkingSet, r: RscId) -> Option<Role> {
    let rsc = &ws.resources[r];
    rsc.meta
        .get("target-role")
        .or_else(|| {
            rsc.children
                .first()
                .and_then(|&c| ws.resources[c].meta.get("target-role"))
        })
        .and_then(|t| Role::parse(t))
}

fn resource_lines(ws: &WorkingSet, r: RscId, opts: &StatusOptions, out: &mut TextOut) {
    let rsc = &ws.resources[r];
    match rsc.variant {
        Variant::Primitive => out.item(primitive_line(ws, r, opts.show_pending)),
        Variant::Group => {
            let mut flags: Vec<String> = Vec::new();
            if opts.hide_inactive && !active(ws, r, true) && active(ws, r, false) {
                let n = rsc
                    .children
                    .iter()
                    .filter(|&&c| !active(ws, c, true))
                    .count();
                if n > 0 {
                    let s = if n == 1 { "" } else { "s" };
                    flags.push(format!("{n} member{s} inactive"));
                }
            }
            if !rsc.has(rf::MANAGED) {
                flags.push("unmanaged".into());
            }
            if is_disabled(ws, r) {
                flags.push("disabled".into());
            }
            let flag_text = if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            };
            out.begin(format!("Resource Group: {}{flag_text}", rsc.id));
            for &c in &rsc.children {
                if opts.hide_inactive && !active(ws, c, false) {
                    continue;
                }
                resource_lines(ws, c, opts, out);
            }
            out.end();
        }
        Variant::Clone => clone_lines(ws, r, opts, out),
        Variant::Bundle => out.item(format!("Container bundle: {}", rsc.id)),
    }
}

/// Whether a node attribute is the cluster's own bookkeeping (fail
/// counts, standby, shutdown, `#` names), which the status displays leave
/// out of "Node Attributes".
pub fn is_internal_node_attr(name: &str) -> bool {
    const HIDDEN: [&str; 6] = [
        "fail-count-",
        "last-failure-",
        "shutdown",
        "terminate",
        "standby",
        "#",
    ];
    HIDDEN.iter().any(|h| name.starts_with(h))
}

/// The nodes' own attributes (not fail counts, standby and the like), as
/// the "Node Attributes" section lists them for online nodes.
fn node_attributes(ws: &WorkingSet, out: &mut TextOut) {
    let mut header = Header::new("Node Attributes".into());
    for node in ws.nodes.iter().filter(|n| n.online) {
        let mut names: Vec<&String> = node
            .attrs
            .keys()
            .filter(|k| !is_internal_node_attr(k))
            .collect();
        if names.is_empty() {
            continue;
        }
        names.sort();
        if header.text.is_some() {
            out.spacer();
        }
        header.emit(out);
        out.begin(format!("Node: {}", node.uname));
        for name in names {
            let value = node.attrs.get(name).map(String::as_str).unwrap_or("");
            out.item(format!("{name:<32}\t: {value:<10}"));
        }
        out.end();
    }
    header.close(out);
}

/// Fail counts per online node, in the status section's node order (the
/// "Migration Summary" section).
fn migration_summary(ws: &WorkingSet, out: &mut TextOut) {
    let Some(status) = ws.cib.child("status") else {
        return;
    };
    let mut opened = false;
    for state in status.children_named("node_state") {
        let Some(n) = state
            .attr("id")
            .and_then(|id| ws.nodes.iter().position(|x| x.id == id))
        else {
            continue;
        };
        if !ws.nodes[n].online {
            continue;
        }
        if !opened {
            out.spacer();
            out.begin("Migration Summary");
            opened = true;
        }
        let mut node_open = false;
        let entries = state
            .path(&["lrm", "lrm_resources"])
            .into_iter()
            .flat_map(|l| l.children_named("lrm_resource"));
        for entry in entries {
            let Some(rsc_id) = entry.attr("id") else {
                continue;
            };
            let Some(&r) = ws.rsc_index.get(rsc_id).and_then(|v| v.first()) else {
                continue;
            };
            let (count, last) = crate::unpack::failcount(ws, n, r, false);
            if count <= 0 {
                continue;
            }
            if !node_open {
                out.begin(format!("Node: {}", ws.nodes[n].uname));
                node_open = true;
            }
            let mut text = format!(
                "{rsc_id}: migration-threshold={} fail-count={}",
                ws.resources[r].migration_threshold, count
            );
            if last > 0 {
                text.push_str(&format!(
                    " last-failure='{}'",
                    cib_xml::time::DateTime(last).to_ctime()
                ));
            }
            out.item(text);
        }
        if node_open {
            out.end();
        }
    }
    if opened {
        out.end();
    }
}

/// The cluster status: the node list, the full list of resources and the
/// optional sections, as one list titled `title`.
pub fn cluster_status(ws: &WorkingSet, title: &str, opts: &StatusOptions, out: &mut TextOut) {
    out.begin(title);
    node_list(ws, out);
    out.spacer();
    out.begin("Full List of Resources");
    let mut printed = false;
    for &r in &ws.top {
        if ws.resources[r].has(rf::ORPHAN) && !active(ws, r, true) {
            continue;
        }
        // Partially active but recorded on no node (its only instance is
        // on an offline node, unmanaged): Pacemaker's node filter drops it.
        if active(ws, r, false) && ws.resources[r].running_on.is_empty() {
            continue;
        }
        if opts.hide_inactive && !active(ws, r, false) {
            continue;
        }
        resource_lines(ws, r, opts, out);
        printed = true;
    }
    if !printed {
        out.item(if opts.hide_inactive {
            "No active resources"
        } else {
            "No resources"
        });
    }
    out.end();
    if opts.attributes {
        node_attributes(ws, out);
    }
    if opts.failcounts {
        migration_summary(ws, out);
    }
    out.end();
}

/// The cluster status grouped by node (crm_mon `--group-by-node`): every
/// node on its own with the resource instances it runs, then, unless
/// `opts.hide_inactive`, the "Inactive Resources".
pub fn cluster_status_by_node(
    ws: &WorkingSet,
    title: &str,
    opts: &StatusOptions,
    out: &mut TextOut,
) {
    out.begin(title);
    out.begin("Node List");
    for (i, n) in ws.nodes.iter().enumerate() {
        if n.kind == NodeKind::Ping {
            continue;
        }
        let prefix = if crate::actions::is_guest_node(ws, i) {
            "GuestNode"
        } else if n.kind == NodeKind::Remote {
            "RemoteNode"
        } else {
            "Node"
        };
        let health_text = match node_health(ws, i) {
            h if h < 0 => " (health is RED)",
            0 => " (health is YELLOW)",
            _ => "",
        };
        out.begin(format!(
            "{prefix} {}: {}{health_text}",
            n.uname,
            node_state_text(n)
        ));
        out.begin("Resources");
        for &r in &n.running {
            if ws.resources[r].variant == Variant::Primitive {
                out.item(primitive_line_as(ws, r, opts.show_pending, true));
            }
        }
        out.end();
        out.end();
    }
    out.end();
    if !opts.hide_inactive {
        out.spacer();
        out.begin("Inactive Resources");
        let mut printed = false;
        for &r in &ws.top {
            if active(ws, r, true) {
                continue;
            }
            if ws.resources[r].has(rf::ORPHAN) {
                continue;
            }
            resource_lines(ws, r, opts, out);
            printed = true;
        }
        if !printed {
            out.item("No inactive resources");
        }
        out.end();
    }
    if opts.attributes {
        node_attributes(ws, out);
    }
    if opts.failcounts {
        migration_summary(ws, out);
    }
    out.end();
}

/// [`cluster_status_xml`] with every `<node>` holding the resource
/// instances it runs (crm_mon `--group-by-node`).
pub fn cluster_status_xml_by_node(ws: &WorkingSet, name: &str, show_pending: bool) -> Element {
    let mut e = cluster_status_xml(ws, name, show_pending);
    // The resources section keeps only what is not wholly active (the
    // rest is under its nodes), and goes when nothing is left.
    let mut inactive = Element::new("resources");
    for &r in &ws.top {
        if active(ws, r, true) || ws.resources[r].has(rf::ORPHAN) {
            continue;
        }
        inactive.children.extend(resource_xml(ws, r, show_pending));
    }
    e.children.retain(|c| c.name != "resources");
    if !inactive.children.is_empty() {
        e.children.push(inactive);
    }
    if let Some(nodes) = e.children.iter_mut().find(|c| c.name == "nodes") {
        for (n, node) in nodes.children.iter_mut().enumerate() {
            for &r in &ws.nodes[n].running {
                if ws.resources[r].variant == Variant::Primitive {
                    node.children.extend(resource_xml(ws, r, show_pending));
                }
            }
        }
    }
    e
}

/// The status rendered in crm_simulate's default (fancy) style, without
/// the title line: the lines under "Current cluster status:".
pub fn cluster_status_lines(ws: &WorkingSet, opts: &StatusOptions) -> Vec<String> {
    let mut out = TextOut::new();
    cluster_status(ws, "", opts, &mut out);
    out.render(true).into_iter().skip(1).collect()
}

/// Instances counted the way the status header counts them
/// (pe__count_common): (instances, disabled, blocked).
pub fn resource_counts(ws: &WorkingSet) -> (usize, usize, usize) {
    fn count(ws: &WorkingSet, r: RscId, acc: &mut (usize, usize, usize)) {
        let rsc = &ws.resources[r];
        if !rsc.children.is_empty() {
            for &c in &rsc.children {
                count(ws, c, acc);
            }
        } else if !rsc.has(rf::ORPHAN) || rsc.role > Role::Stopped {
            acc.0 += 1;
            if is_disabled(ws, r) {
                acc.1 += 1;
            }
            if rsc.has(rf::BLOCK) {
                acc.2 += 1;
            }
        }
    }
    let mut acc = (0, 0, 0);
    for &r in &ws.top {
        count(ws, r, &mut acc);
    }
    acc
}

/// The lines crm_simulate prints before "Current cluster status": the
/// maintenance-mode banner and the disabled/blocked instance counts. Each
/// block is preceded by a blank line when something came before it.
pub fn status_preamble(ws: &WorkingSet) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if ws.options.maintenance_mode {
        out.push(String::new());
        out.push("              *** Resource management is DISABLED ***".into());
        out.push("  The cluster will not attempt to start, stop or recover services".into());
    } else if ws.options.stop_all {
        out.push(String::new());
        out.push("    *** Resource management is DISABLED ***".into());
        out.push("  The cluster will keep all resources stopped".into());
    }
    let (instances, disabled, blocked) = resource_counts(ws);
    if disabled > 0 || blocked > 0 {
        if !out.is_empty() {
            out.push(String::new());
        }
        out.push(format!(
            "{disabled} of {instances} resource instances DISABLED and {blocked} BLOCKED from further action due to failure"
        ));
    }
    out
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Sets the attributes that have a value, in order.
fn with_attrs(mut e: Element, attrs: &[(&str, Option<String>)]) -> Element {
    for (k, v) in attrs {
        if let Some(v) = v {
            e.set_attr(k, v);
        }
    }
    e
}

fn node_xml(ws: &WorkingSet, n: NodeId) -> Element {
    let node = &ws.nodes[n];
    let guest = crate::actions::is_guest_node(ws, n);
    let health = match node_health(ws, n) {
        h if h < 0 => "red",
        0 => "yellow",
        _ => "green",
    };
    let feature_set = (node.online && node.kind == NodeKind::Member).then(|| {
        node.attrs
            .get("#feature-set")
            .cloned()
            .unwrap_or_else(|| "<3.15.1".to_string())
    });
    let kind = match node.kind {
        NodeKind::Member => "member",
        NodeKind::Remote => "remote",
        NodeKind::Ping => "ping",
    };
    let b = |v: bool| Some(bool_text(v).to_string());
    let mut e = with_attrs(
        Element::new("node"),
        &[
            ("name", Some(node.uname.clone())),
            ("id", Some(node.id.clone())),
            ("online", b(node.online)),
            ("standby", b(node.standby)),
            ("standby_onfail", b(node.standby_onfail)),
            ("maintenance", b(node.maintenance)),
            ("pending", b(node.pending)),
            ("unclean", b(node.unclean)),
            ("health", Some(health.to_string())),
            ("feature_set", feature_set),
            ("shutdown", b(node.shutdown)),
            ("expected_up", b(node.expected_up)),
            ("is_dc", b(node.is_dc)),
            ("resources_running", Some(node.running.len().to_string())),
            ("type", Some(kind.to_string())),
        ],
    );
    if guest {
        if let Some(c) = node.remote_rsc.and_then(|r| ws.resources[r].container) {
            e.set_attr("id_as_resource", &ws.resources[c].id);
        }
    }
    e
}

fn resource_xml(ws: &WorkingSet, r: RscId, show_pending: bool) -> Option<Element> {
    let rsc = &ws.resources[r];
    let b = |v: bool| Some(bool_text(v).to_string());
    match rsc.variant {
        Variant::Primitive => {
            let class = rsc.class.as_deref().unwrap_or("unknown");
            let kind = rsc.agent.as_deref().unwrap_or("unknown");
            let agent = match rsc.provider.as_deref().filter(|_| class == "ocf") {
                Some(p) => format!("{class}:{p}:{kind}"),
                None => format!("{class}:{kind}"),
            };
            let pending = if show_pending {
                pending_state(rsc)
            } else {
                None
            };
            let state = pending
                .unwrap_or(displayable_role(ws, r).as_str())
                .to_string();
            let pending_task = (show_pending && rsc.pending_task.as_deref() == Some("monitor"))
                .then(|| "Monitoring".to_string());
            let mut e = with_attrs(
                Element::new("resource"),
                &[
                    ("id", Some(printable_id(ws, r))),
                    ("resource_agent", Some(agent)),
                    ("role", Some(state)),
                    ("target_role", target_role(ws, r).map(str::to_string)),
                    ("active", b(active(ws, r, true))),
                    ("orphaned", b(rsc.has(rf::ORPHAN))),
                    ("blocked", b(rsc.has(rf::BLOCK))),
                    ("managed", b(rsc.has(rf::MANAGED))),
                    ("failed", b(rsc.has(rf::FAILED))),
                    ("failure_ignored", b(rsc.has(rf::FAILURE_IGNORED))),
                    ("nodes_running_on", Some(rsc.running_on.len().to_string())),
                    ("pending", pending_task),
                    (
                        "locked_to",
                        rsc.lock_node.map(|n| ws.nodes[n].uname.clone()),
                    ),
                ],
            );
            for &n in &rsc.running_on {
                e.children.push(
                    Element::new("node")
                        .with_attr("name", &ws.nodes[n].uname)
                        .with_attr("id", &ws.nodes[n].id)
                        .with_attr("cached", bool_text(ws.nodes[n].online)),
                );
            }
            Some(e)
        }
        Variant::Group => {
            let mut e = Element::new("group")
                .with_attr("id", &rsc.id)
                .with_attr("number_resources", &rsc.children.len().to_string())
                .with_attr("managed", bool_text(rsc.has(rf::MANAGED)))
                .with_attr("disabled", bool_text(is_disabled(ws, r)));
            e.children.extend(
                rsc.children
                    .iter()
                    .filter_map(|&c| resource_xml(ws, c, show_pending)),
            );
            Some(e)
        }
        Variant::Clone => {
            let configured = rsc
                .meta
                .get("target-role")
                .or_else(|| {
                    rsc.children
                        .first()
                        .and_then(|&c| ws.resources[c].meta.get("target-role"))
                })
                .cloned();
            let mut e = with_attrs(
                Element::new("clone"),
                &[
                    ("id", Some(rsc.id.clone())),
                    ("multi_state", b(rsc.has(rf::PROMOTABLE))),
                    ("unique", b(rsc.has(rf::UNIQUE))),
                    ("managed", b(rsc.has(rf::MANAGED))),
                    ("disabled", b(is_disabled(ws, r))),
                    ("failed", b(rsc.has(rf::FAILED))),
                    ("failure_ignored", b(rsc.has(rf::FAILURE_IGNORED))),
                    ("target_role", configured),
                ],
            );
            e.children.extend(
                rsc.children
                    .iter()
                    .filter_map(|&c| resource_xml(ws, c, show_pending)),
            );
            (!e.children.is_empty()).then_some(e)
        }
        Variant::Bundle => None,
    }
}

/// The status as crm_simulate's XML output holds it: `<nodes>` and
/// `<resources>` in an element named `name` (cluster_status,
/// revised_cluster_status).
pub fn cluster_status_xml(ws: &WorkingSet, name: &str, show_pending: bool) -> Element {
    let mut nodes = Element::new("nodes");
    for n in 0..ws.nodes.len() {
        nodes.children.push(node_xml(ws, n));
    }
    let mut resources = Element::new("resources");
    for &r in &ws.top {
        if ws.resources[r].has(rf::ORPHAN) && !active(ws, r, true) {
            continue;
        }
        if active(ws, r, false) && ws.resources[r].running_on.is_empty() {
            continue;
        }
        if let Some(e) = resource_xml(ws, r, show_pending) {
            resources.children.push(e);
        }
    }
    let mut e = Element::new(name);
    e.children.push(nodes);
    e.children.push(resources);
    e
}

/// The fail count and the last failure time (epoch seconds, 0 if none) of
/// resource `r` on node `n`, as the "Migration Summary" and crm_mon's
/// operation history show them.
pub fn resource_failcount(ws: &WorkingSet, n: NodeId, r: RscId) -> (i32, i64) {
    crate::unpack::failcount(ws, n, r, false)
}

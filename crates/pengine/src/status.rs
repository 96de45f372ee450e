//! The cluster status as crm_mon's text output prints it (the "Current
//! cluster status" and "Revised Cluster Status" sections of crm_simulate):
//! a node list and the full list of resources.

use cib_xml::Role;

use crate::model::*;

fn role_text(ws: &WorkingSet, r: RscId) -> &'static str {
    // native_displayable_role: Started shows as Unpromoted in promotable clones.
    let rsc = &ws.resources[r];
    let top = ws.top_parent(r);
    if rsc.role == Role::Started && ws.resources[top].has(rf::PROMOTABLE) {
        return "Unpromoted";
    }
    rsc.role.as_str()
}

fn displayable_role(ws: &WorkingSet, r: RscId) -> Role {
    let rsc = &ws.resources[r];
    let top = ws.top_parent(r);
    if rsc.role == Role::Started && ws.resources[top].has(rf::PROMOTABLE) {
        Role::Unpromoted
    } else {
        rsc.role
    }
}

fn target_role(ws: &WorkingSet, r: RscId) -> Option<String> {
    let mut x = Some(r);
    while let Some(i) = x {
        if let Some(t) = ws.resources[i].meta.get("target-role") {
            return Some(t.clone());
        }
        x = ws.resources[i].parent;
    }
    None
}

/// One primitive's line (pcmk__native_output_string).
fn primitive_line(ws: &WorkingSet, r: RscId, name: &str) -> String {
    let rsc = &ws.resources[r];
    let class = rsc.class.as_deref().unwrap_or("unknown");
    let kind = rsc.agent.as_deref().unwrap_or("unknown");
    let provider = if class == "ocf" {
        rsc.provider.as_deref()
    } else {
        None
    };
    let multiple = rsc.running_on.len() > 1;
    let node = if multiple {
        None
    } else {
        rsc.running_on.first().copied()
    };
    let mut out = format!(
        "{name}\t({class}{}{}:{kind}):\t",
        if provider.is_some() { ":" } else { "" },
        provider.unwrap_or("")
    );
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
        out.push_str(role_text(ws, r));
    }
    if let Some(n) = node {
        out.push(' ');
        out.push_str(&ws.nodes[n].uname);
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(n) = node {
        if !ws.nodes[n].online && ws.nodes[n].unclean {
            flags.push("UNCLEAN".into());
        }
    }
    if let Some(t) = target_role(ws, r) {
        match Role::parse(&t) {
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
    if multiple {
        let nodes: Vec<&str> = rsc
            .running_on
            .iter()
            .map(|&n| ws.nodes[n].uname.as_str())
            .collect();
        out.push_str(&format!(" [ {} ]", nodes.join(" ")));
    }
    out
}

fn node_list(ws: &WorkingSet, out: &mut Vec<String>) {
    out.push("  * Node List:".into());
    let mut online = Vec::new();
    let mut offline = Vec::new();
    let mut remote_online = Vec::new();
    let mut remote_offline = Vec::new();
    let mut guest_online = Vec::new();
    let mut lines = Vec::new();
    for (i, n) in ws.nodes.iter().enumerate() {
        if n.kind == NodeKind::Ping {
            continue;
        }
        let guest = crate::actions::is_guest_node(ws, i);
        let remote = n.kind == NodeKind::Remote && !guest;
        let name = n.uname.clone();
        let prefix = if guest {
            "GuestNode"
        } else if remote {
            "RemoteNode"
        } else {
            "Node"
        };
        if n.unclean {
            lines.push(format!(
                "    * {prefix} {name}: UNCLEAN ({})",
                if n.online { "online" } else { "offline" }
            ));
        } else if n.pending {
            lines.push(format!("    * {prefix} {name}: pending"));
        } else if n.standby && n.online {
            let active = !n.running.is_empty();
            lines.push(format!(
                "    * {prefix} {name}: standby{}",
                if active {
                    " (with active resources)"
                } else {
                    ""
                }
            ));
        } else if n.maintenance && n.online {
            lines.push(format!("    * {prefix} {name}: maintenance"));
        } else if n.online {
            if guest {
                guest_online.push(name);
            } else if remote {
                remote_online.push(name);
            } else {
                online.push(name);
            }
        } else if remote || guest {
            remote_offline.push(name);
        } else {
            offline.push(name);
        }
    }
    out.extend(lines);
    for (label, list) in [
        ("Online", online),
        ("OFFLINE", offline),
        ("RemoteOnline", remote_online),
        ("RemoteOFFLINE", remote_offline),
        ("GuestOnline", guest_online),
    ] {
        if !list.is_empty() {
            out.push(format!("    * {label}: [ {} ]", list.join(" ")));
        }
    }
}

fn is_disabled(ws: &WorkingSet, r: RscId) -> bool {
    target_role(ws, r).and_then(|t| Role::parse(&t)) == Some(Role::Stopped)
}

fn clone_lines(ws: &WorkingSet, r: RscId, indent: &str, out: &mut Vec<String>) {
    let rsc = &ws.resources[r];
    let child_xml_id = rsc
        .xml
        .children
        .iter()
        .find(|c| matches!(c.name.as_str(), "primitive" | "group"))
        .and_then(|c| c.attr("id"))
        .unwrap_or("");
    let mut flags = Vec::new();
    if rsc.has(rf::UNIQUE) {
        flags.push("unique");
    }
    if rsc.has(rf::PROMOTABLE) {
        flags.push("promotable");
    }
    if is_disabled(ws, r) {
        flags.push("disabled");
    }
    if !rsc.has(rf::MANAGED) {
        flags.push("unmanaged");
    }
    let flag_text = if flags.is_empty() {
        String::new()
    } else {
        format!(" ({})", flags.join(", "))
    };
    out.push(format!(
        "{indent}* Clone Set: {} [{child_xml_id}]{flag_text}:",
        rsc.id
    ));
    let inner = format!("{indent}  ");
    if rsc.has(rf::UNIQUE) {
        for &c in &rsc.children {
            resource_lines(ws, c, &inner, out);
        }
        return;
    }
    // Anonymous: instances in a plain role are summarised by role.
    let mut promoted = Vec::new();
    let mut started = Vec::new();
    let mut active_nodes: Vec<NodeId> = Vec::new();
    for &c in &rsc.children {
        let ch = &ws.resources[c];
        let mut prims = Vec::new();
        ws.primitives_of(c, &mut prims);
        let plain = prims.iter().all(|&p| {
            let x = &ws.resources[p];
            !x.has(rf::FAILED)
                && x.has(rf::MANAGED)
                && x.running_on.len() <= 1
                && !x.has(rf::ORPHAN)
        }) && ch.variant == Variant::Primitive;
        if ch.running_on.is_empty() {
            continue;
        }
        if !plain || ch.running_on.len() > 1 {
            resource_lines(ws, c, &inner, out);
            active_nodes.extend(ch.running_on.iter().copied());
            continue;
        }
        let n = ch.running_on[0];
        active_nodes.push(n);
        match displayable_role(ws, c) {
            Role::Promoted => promoted.push(n),
            _ => started.push(n),
        }
    }
    let names = |v: &mut Vec<NodeId>| {
        v.sort_by(|&a, &b| crate::util::natural_cmp(&ws.nodes[a].uname, &ws.nodes[b].uname));
        v.iter()
            .map(|&n| ws.nodes[n].uname.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !promoted.is_empty() {
        out.push(format!("{inner}* Promoted: [ {} ]", names(&mut promoted)));
    }
    if !started.is_empty() {
        let label = if rsc.has(rf::PROMOTABLE) {
            "Unpromoted"
        } else {
            "Started"
        };
        out.push(format!("{inner}* {label}: [ {} ]", names(&mut started)));
    }
    let mut stopped: Vec<NodeId> = (0..ws.nodes.len())
        .filter(|&n| ws.nodes[n].kind != NodeKind::Ping && !active_nodes.contains(&n))
        .filter(|&n| {
            rsc.allowed[n].is_some_and(|e| e.weight >= 0)
                || rsc.allowed[n].is_none() && ws.options.symmetric
        })
        .collect();
    if !stopped.is_empty() {
        let label = if is_disabled(ws, r) {
            "Stopped (disabled)"
        } else {
            "Stopped"
        };
        out.push(format!("{inner}* {label}: [ {} ]", names(&mut stopped)));
    }
}

fn resource_lines(ws: &WorkingSet, r: RscId, indent: &str, out: &mut Vec<String>) {
    let rsc = &ws.resources[r];
    match rsc.variant {
        Variant::Primitive => {
            if rsc.has(rf::ORPHAN) && rsc.running_on.is_empty() {
                return;
            }
            out.push(format!("{indent}* {}", primitive_line(ws, r, &rsc.id)));
        }
        Variant::Group => {
            let mut flags = Vec::new();
            if is_disabled(ws, r) {
                flags.push("disabled");
            }
            if !rsc.has(rf::MANAGED) {
                flags.push("unmanaged");
            }
            let flag_text = if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            };
            out.push(format!("{indent}* Resource Group: {}{flag_text}:", rsc.id));
            let inner = format!("{indent}  ");
            for &c in &rsc.children {
                resource_lines(ws, c, &inner, out);
            }
        }
        Variant::Clone => clone_lines(ws, r, indent, out),
        Variant::Bundle => out.push(format!("{indent}* Container bundle: {}:", rsc.id)),
    }
}

/// The status lines (node list, blank line, full list of resources).
pub fn cluster_status(ws: &WorkingSet) -> Vec<String> {
    let mut out = Vec::new();
    node_list(ws, &mut out);
    out.push(String::new());
    out.push("  * Full List of Resources:".into());
    for &r in &ws.top {
        resource_lines(ws, r, "    ", &mut out);
    }
    out
}

//! crm_simulate's synthetic events and transition execution, as edits of a
//! CIB document: nodes coming up, going down or failing, injected operation
//! results, tickets and quorum; then "executing" a scheduled transition by
//! recording every action's (simulated) result in the status section.

use cib_xml::Element;

use crate::model::*;
use crate::util::parse_op_key;

/// One synthetic event (crm_simulate -u/-d/-f/-i/-q/-w/-g/-r/-b/-e).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    NodeUp(String),
    NodeDown(String),
    NodeFail(String),
    /// `rsc_task_interval@node=rc`.
    Op(String),
    Quorum(String),
    Watchdog(String),
    TicketGrant(String),
    TicketRevoke(String),
    TicketStandby(String),
    TicketActivate(String),
}

const FAKE_UUID: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

fn status_mut(cib: &mut Element) -> &mut Element {
    if cib.child("status").is_none() {
        cib.children.push(Element::new("status"));
    }
    cib.child_mut("status").expect("just ensured")
}

/// The node_state of `uname` (created, with the configured node id, if
/// missing).
fn node_state<'a>(cib: &'a mut Element, uname: &str) -> &'a mut Element {
    let id = cib
        .path(&["configuration", "nodes"])
        .and_then(|n| {
            n.children_named("node")
                .find(|e| e.attr("uname") == Some(uname))
        })
        .and_then(|e| e.attr("id"))
        .unwrap_or(uname)
        .to_string();
    let status = status_mut(cib);
    let pos = status
        .children
        .iter()
        .position(|c| c.name == "node_state" && c.attr("uname") == Some(uname));
    let pos = match pos {
        Some(p) => p,
        None => {
            status.children.push(
                Element::new("node_state")
                    .with_attr("id", &id)
                    .with_attr("uname", uname),
            );
            status.children.len() - 1
        }
    };
    &mut status.children[pos]
}

fn set_node_up<'a>(cib: &'a mut Element, uname: &str, up: bool) -> &'a mut Element {
    let st = node_state(cib, uname);
    let v: [(&str, &str); 4] = if up {
        [
            ("in_ccm", "true"),
            ("crmd", "online"),
            ("join", "member"),
            ("expected", "member"),
        ]
    } else {
        [
            ("in_ccm", "false"),
            ("crmd", "offline"),
            ("join", "down"),
            ("expected", "down"),
        ]
    };
    for (k, val) in v {
        st.set_attr(k, val);
    }
    st.set_attr("crm-debug-origin", "crm_simulate");
    st
}

/// The current value of a transient attribute of a node_state.
fn transient_value<'a>(st: &'a Element, name: &str) -> Option<&'a str> {
    st.child("transient_attributes")?
        .child("instance_attributes")?
        .children
        .iter()
        .find(|p| p.attr("name") == Some(name))?
        .attr("value")
}

/// A fail count one higher than `old`, as the simulator injects it (a
/// value that is not an integer counts as 0).
fn incremented(old: Option<&str>) -> String {
    let current = old.and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
    current.saturating_add(1).to_string()
}

fn set_transient(st: &mut Element, name: &str, value: &str) {
    let id = st.id().to_string();
    if st.child("transient_attributes").is_none() {
        st.children
            .push(Element::new("transient_attributes").with_attr("id", &id));
    }
    let ta = st.child_mut("transient_attributes").expect("ensured");
    if ta.child("instance_attributes").is_none() {
        ta.children
            .push(Element::new("instance_attributes").with_attr("id", &id));
    }
    let ia = ta.child_mut("instance_attributes").expect("ensured");
    let nid = format!("status-{id}-{name}");
    match ia
        .children
        .iter_mut()
        .find(|p| p.attr("name") == Some(name))
    {
        Some(p) => p.set_attr("value", value),
        None => ia.children.push(
            Element::new("nvpair")
                .with_attr("id", &nid)
                .with_attr("name", name)
                .with_attr("value", value),
        ),
    }
}

/// The lrm_resource entry for `rsc` on a node_state (created if missing).
fn lrm_resource<'a>(
    st: &'a mut Element,
    rsc: &str,
    class: &str,
    provider: Option<&str>,
    agent: &str,
) -> &'a mut Element {
    let id = st.id().to_string();
    if st.child("lrm").is_none() {
        st.children.push(Element::new("lrm").with_attr("id", &id));
    }
    let lrm = st.child_mut("lrm").expect("ensured");
    if lrm.child("lrm_resources").is_none() {
        lrm.children.push(Element::new("lrm_resources"));
    }
    let rscs = lrm.child_mut("lrm_resources").expect("ensured");
    let pos = rscs
        .children
        .iter()
        .position(|c| c.name == "lrm_resource" && c.attr("id") == Some(rsc));
    let pos = match pos {
        Some(p) => p,
        None => {
            let mut e = Element::new("lrm_resource")
                .with_attr("id", rsc)
                .with_attr("class", class);
            if let Some(p) = provider {
                e.set_attr("provider", p);
            }
            e.set_attr("type", agent);
            rscs.children.push(e);
            rscs.children.len() - 1
        }
    };
    &mut rscs.children[pos]
}

/// Records an operation result (pcmk__create_history_xml's entry naming).
#[allow(clippy::too_many_arguments)]
fn record_op(
    entry: &mut Element,
    rsc: &str,
    task: &str,
    interval_ms: u64,
    rc: i32,
    target_rc: i32,
    now: i64,
    digest: Option<&str>,
) {
    let call_id = entry
        .children
        .iter()
        .filter_map(|o| o.attr("call-id").and_then(|c| c.parse::<i64>().ok()))
        .max()
        .unwrap_or(0)
        + 1;
    let key = format!("{rsc}_{task}_{interval_ms}");
    let failed = rc != target_rc;
    let ids: Vec<String> = if task == "migrate_to" || task == "migrate_from" {
        vec![key.clone()]
    } else if failed {
        let mut v = vec![format!("{rsc}_last_failure_0")];
        if interval_ms == 0 {
            v.push(format!("{rsc}_last_0"));
        }
        v
    } else if interval_ms > 0 {
        vec![key.clone()]
    } else {
        vec![format!("{rsc}_last_0")]
    };
    for id in ids {
        let tkey = format!("0:0:{target_rc}:{FAKE_UUID}");
        let mut op = Element::new("lrm_rsc_op");
        for (k, v) in [
            ("id", id.as_str()),
            ("operation_key", key.as_str()),
            ("operation", task),
            ("crm-debug-origin", "crm_simulate"),
            ("transition-key", tkey.as_str()),
            ("transition-magic", &format!("0:{rc};{tkey}")),
            ("call-id", &call_id.to_string()),
            ("rc-code", &rc.to_string()),
            ("op-status", if failed { "4" } else { "0" }),
            ("interval", &interval_ms.to_string()),
            ("last-rc-change", &now.to_string()),
            ("exec-time", "0"),
            ("queue-time", "0"),
        ] {
            op.set_attr(k, v);
        }
        if let Some(d) = digest {
            op.set_attr("op-digest", d);
        }
        match entry
            .children
            .iter_mut()
            .find(|o| o.attr("id") == Some(id.as_str()))
        {
            Some(old) => *old = op,
            None => entry.children.push(op),
        }
    }
}

fn parse_spec(spec: &str) -> Option<(String, String, u64, String, i32)> {
    let (key, rest) = spec.split_once('@')?;
    let (node, rc) = rest.split_once('=')?;
    let (rsc, task, interval) = parse_op_key(key)?;
    Some((
        rsc,
        task,
        interval,
        node.to_string(),
        rc.trim().parse().ok()?,
    ))
}

fn rsc_agent(cib: &Element, rsc: &str) -> Option<(String, Option<String>, String)> {
    let base = crate::util::clone_strip(rsc);
    let e = cib
        .path(&["configuration", "resources"])?
        .find(&|e| e.name == "primitive" && e.attr("id") == Some(base))?;
    Some((
        e.attr("class")?.to_string(),
        e.attr("provider").map(str::to_string),
        e.attr("type")?.to_string(),
    ))
}

fn set_ticket(cib: &mut Element, ticket: &str, attr: &str, value: bool) {
    let status = status_mut(cib);
    if status.child("tickets").is_none() {
        status.children.push(Element::new("tickets"));
    }
    let tickets = status.child_mut("tickets").expect("ensured");
    let pos = tickets
        .children
        .iter()
        .position(|t| t.attr("id") == Some(ticket));
    let pos = match pos {
        Some(p) => p,
        None => {
            tickets
                .children
                .push(Element::new("ticket_state").with_attr("id", ticket));
            tickets.children.len() - 1
        }
    };
    tickets.children[pos].set_attr(attr, if value { "true" } else { "false" });
}

/// Applies synthetic events to a CIB before scheduling. Returns the
/// additional changes made (fail-count attributes), described as
/// crm_simulate reports them.
pub fn inject(
    cib: &mut Element,
    injections: &[Injection],
    now: i64,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for inj in injections {
        match inj {
            Injection::Quorum(q) => cib.set_attr("have-quorum", q),
            Injection::Watchdog(w) => {
                if cib.path(&["configuration", "crm_config"]).is_none() {
                    return Err("no crm_config section to set have-watchdog in".into());
                }
                let crm = cib
                    .child_mut("configuration")
                    .and_then(|c| c.child_mut("crm_config"))
                    .ok_or("no crm_config")?;
                if crm.child("cluster_property_set").is_none() {
                    crm.children.push(
                        Element::new("cluster_property_set")
                            .with_attr("id", "cib-bootstrap-options"),
                    );
                }
                let set = crm
                    .child_mut("cluster_property_set")
                    .ok_or("no property set")?;
                match set
                    .children
                    .iter_mut()
                    .find(|p| p.attr("name") == Some("have-watchdog"))
                {
                    Some(p) => p.set_attr("value", w),
                    None => set.children.push(
                        Element::new("nvpair")
                            .with_attr("id", "cib-bootstrap-options-have-watchdog")
                            .with_attr("name", "have-watchdog")
                            .with_attr("value", w),
                    ),
                }
            }
            Injection::NodeUp(n) => {
                set_node_up(cib, n, true);
            }
            Injection::NodeDown(n) => {
                let st = set_node_up(cib, n, false);
                st.children
                    .retain(|c| c.name != "lrm" && c.name != "transient_attributes");
            }
            Injection::NodeFail(n) => {
                let st = set_node_up(cib, n, true);
                st.set_attr("in_ccm", "false");
            }
            Injection::Op(spec) => {
                let (rsc, task, interval, node, rc) = parse_spec(spec).ok_or_else(|| {
                    format!("invalid operation spec '{spec}' (want rsc_task_interval@node=rc)")
                })?;
                let (class, provider, agent) = rsc_agent(cib, &rsc)
                    .ok_or_else(|| format!("resource '{rsc}' not found in the configuration"))?;
                let st = node_state(cib, &node);
                if rc != 0 && !(rc == 7 && interval == 0) {
                    let base = crate::util::clone_strip(&rsc);
                    let sid = st.id().to_string();
                    for (name, value) in [
                        (
                            format!("fail-count-{base}#{task}_{interval}"),
                            "value++".to_string(),
                        ),
                        (
                            format!("last-failure-{base}#{task}_{interval}"),
                            now.to_string(),
                        ),
                    ] {
                        set_transient(st, &name, &value);
                        notes.push(format!(
                            "Injecting attribute {name}={value} into /node_state '{sid}'"
                        ));
                    }
                }
                let entry = lrm_resource(st, &rsc, &class, provider.as_deref(), &agent);
                record_op(entry, &rsc, &task, interval, rc, 0, now, None);
            }
            Injection::TicketGrant(t) => set_ticket(cib, t, "granted", true),
            Injection::TicketRevoke(t) => set_ticket(cib, t, "granted", false),
            Injection::TicketStandby(t) => set_ticket(cib, t, "standby", true),
            Injection::TicketActivate(t) => set_ticket(cib, t, "standby", false),
        }
    }
    // "value++" fail counts: one more than before.
    bump_failcounts(cib);
    Ok(notes)
}

fn bump_failcounts(cib: &mut Element) {
    let Some(status) = cib.child_mut("status") else {
        return;
    };
    for st in status
        .children
        .iter_mut()
        .filter(|c| c.name == "node_state")
    {
        let Some(ta) = st.child_mut("transient_attributes") else {
            continue;
        };
        for ia in ta.children.iter_mut() {
            for p in ia.children.iter_mut() {
                if p.attr("value") == Some("value++") {
                    p.set_attr("value", "1");
                }
            }
        }
    }
}

/// The result an -F spec makes action `a` return, when one names it and
/// differs from the expected result.
pub(crate) fn injected_rc(
    ws: &WorkingSet,
    fails: &[(String, String, u64, String, i32)],
    a: ActionId,
) -> Option<i32> {
    let act = &ws.actions[a];
    let r = act.rsc?;
    let rsc = &ws.resources[r];
    let name = rsc.clone_name.as_deref().unwrap_or(&rsc.id);
    let node = act.node.map(|n| ws.nodes[n].uname.as_str()).unwrap_or("");
    let target: i32 = act
        .meta
        .get("op_target_rc")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    fails
        .iter()
        .rev()
        .find(|(fr, ft, fi, fnode, _)| {
            (fr == name || *fr == rsc.id)
                && *ft == act.task
                && *fi == act.interval_ms
                && fnode == node
        })
        .map(|f| f.4)
        .filter(|&rc| rc != target)
}

/// Parses the -F specs (rsc_task_interval@node=rc) that are well formed.
pub fn parse_fail_specs(fail: &[String]) -> Vec<(String, String, u64, String, i32)> {
    fail.iter().filter_map(|s| parse_spec(s)).collect()
}

/// Records the simulated results of the transition's actions in the CIB
/// (crm_simulate -S), in the order a simulated graph run fires them,
/// failing those listed in `fail` (-F specs; a failure aborts the rest).
pub fn execute(cib: &mut Element, ws: &WorkingSet, fail: &[String], now: i64) {
    let fails: Vec<(String, String, u64, String, i32)> =
        fail.iter().filter_map(|s| parse_spec(s)).collect();
    for (a, _) in crate::graph::simulated_run(ws, &|a| injected_rc(ws, &fails, a).is_some()) {
        let act = &ws.actions[a];
        if act.has(af::PSEUDO) {
            continue;
        }
        let node = act
            .node
            .map(|n| ws.nodes[n].uname.clone())
            .unwrap_or_default();
        match act.task.as_str() {
            "stonith" => {
                let st = set_node_up(cib, &node, false);
                st.children
                    .retain(|c| c.name != "lrm" && c.name != "transient_attributes");
            }
            "do_shutdown" | "clear_failcount" | "lrm_delete" | "probe_complete" | "cancel"
            | "delete" => {}
            task => {
                let Some(r) = act.rsc else { continue };
                let rsc = &ws.resources[r];
                let name = rsc.clone_name.clone().unwrap_or_else(|| rsc.id.clone());
                let target: i32 = act
                    .meta
                    .get("op_target_rc")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let rc = injected_rc(ws, &fails, a).unwrap_or(target);
                let class = rsc.class.clone().unwrap_or_else(|| "ocf".into());
                let agent = rsc.agent.clone().unwrap_or_default();
                let provider = rsc.provider.clone();
                let interval = act.interval_ms;
                let digest = act
                    .node
                    .map(|n| crate::digest::op_digest(ws, r, n, task, interval));
                let st = node_state(cib, &node);
                if rc != target && !(rc == 7 && interval == 0) {
                    let base = crate::util::clone_strip(&name).to_string();
                    let fc = format!("fail-count-{base}#{task}_{interval}");
                    let value = incremented(transient_value(st, &fc));
                    set_transient(st, &fc, &value);
                    set_transient(
                        st,
                        &format!("last-failure-{base}#{task}_{interval}"),
                        &now.to_string(),
                    );
                }
                let entry = lrm_resource(st, &name, &class, provider.as_deref(), &agent);
                record_op(
                    entry,
                    &name,
                    task,
                    interval,
                    rc,
                    target,
                    now,
                    digest.as_deref(),
                );
            }
        }
    }
}

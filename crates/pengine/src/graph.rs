//! The transition graph: every action the transition must run, as
//! synapses with the actions they wait for (Pacemaker's graph XML, which the
//! controller executes), and a DOT rendering for people.

use cib_xml::Element;

use crate::model::*;
use crate::output::in_graph;

fn meta_name(k: &str) -> String {
    format!("CRM_meta_{}", k.replace('-', "_"))
}

/// Whether an ordering input belongs in the graph (should_add_input_to_graph).
fn input_applies(ws: &WorkingSet, then: ActionId, first: ActionId, flags: u32) -> bool {
    let f = &ws.actions[first];
    if flags == of::NONE {
        return false;
    }
    if !f.has(af::RUNNABLE) && flags & of::ONE_OR_MORE != 0 {
        return false;
    }
    if flags & of::IMPLIES_FIRST_MIGRATABLE != 0 && !f.has(af::RUNNABLE) {
        return false;
    }
    if flags & of::APPLY_FIRST_NON_MIGRATABLE != 0 && f.has(af::MIGRATE_RUNNABLE) {
        return false;
    }
    if flags == of::OPTIONAL && f.has(af::MIGRATE_RUNNABLE) && f.key.ends_with("_stop_0") {
        return false;
    }
    if flags == of::ANTI_COLOCATION || flags == of::LOAD {
        let t = &ws.actions[then];
        if f.node.is_some() && t.node.is_some() && f.node != t.node {
            return false;
        }
        if f.has(af::OPTIONAL) {
            return false;
        }
    }
    in_graph(ws, first)
}

fn action_element(ws: &WorkingSet, a: ActionId, full: bool) -> Element {
    let act = &ws.actions[a];
    let name = if act.has(af::PSEUDO) {
        "pseudo_event"
    } else if act.rsc.is_some() && !matches!(act.task.as_str(), "clear_failcount" | "lrm_delete") {
        "rsc_op"
    } else {
        "crm_event"
    };
    let mut e = Element::new(name)
        .with_attr("id", &act.id.to_string())
        .with_attr("operation", &act.task)
        .with_attr("operation_key", &act.key);
    let node = act.node.map(|n| &ws.nodes[n]);
    if let Some(n) = node {
        if !act.has(af::PSEUDO) || act.task == "stonith" {
            e.set_attr("on_node", &n.uname);
            e.set_attr("on_node_uuid", &n.id);
        }
    }
    if !full {
        return e;
    }
    // Cluster events about a resource (clear_failcount, lrm_delete) name
    // it too: the controller needs to know which resource.
    if let (Some(r), "rsc_op" | "crm_event") = (act.rsc, name) {
        let rsc = &ws.resources[r];
        let mut p = Element::new("primitive");
        let base = crate::util::clone_strip(&rsc.id);
        p.set_attr("id", rsc.clone_name.as_deref().unwrap_or(base));
        if rsc.clone_name.is_none() && base != rsc.id {
            p.set_attr("long-id", &rsc.id);
        }
        if let Some(c) = &rsc.class {
            p.set_attr("class", c);
        }
        if let Some(pr) = &rsc.provider {
            p.set_attr("provider", pr);
        }
        if let Some(t) = &rsc.agent {
            p.set_attr("type", t);
        }
        e.children.push(p);
    }
    let mut attrs = Element::new("attributes");
    let mut list: Vec<(String, String)> = Vec::new();
    for (k, v) in &act.meta {
        if matches!(
            k.as_str(),
            "id" | "name" | "interval" | "timeout" | "on_node" | "on_node_uuid"
        ) {
            continue;
        }
        list.push((meta_name(k), v.clone()));
    }
    if act.interval_ms > 0 {
        list.push(("CRM_meta_interval".into(), act.interval_ms.to_string()));
    }
    if let Some(t) = act.meta.get("timeout") {
        list.push(("CRM_meta_timeout".into(), t.clone()));
    }
    if let Some(n) = node {
        list.push(("CRM_meta_on_node".into(), n.uname.clone()));
        list.push(("CRM_meta_on_node_uuid".into(), n.id.clone()));
    }
    if let Some(r) = act.rsc {
        let rsc = &ws.resources[r];
        if let Some(c) = rsc.meta.get("clone") {
            list.push(("CRM_meta_clone".into(), c.clone()));
        }
        for (k, v) in &rsc.params {
            list.push((k.clone(), v.clone()));
        }
    }
    list.sort();
    list.dedup_by(|a, b| a.0 == b.0);
    for (k, v) in list {
        attrs.set_attr(&k, &v);
    }
    e.children.push(attrs);
    e
}

/// The actions in graph order: resources first (in list order, children
/// before their collective, each resource's actions newest first), then the
/// remaining actions newest first.
fn graph_order(ws: &WorkingSet) -> Vec<ActionId> {
    fn add_rsc(ws: &WorkingSet, r: RscId, out: &mut Vec<ActionId>, seen: &mut [bool]) {
        for &c in &ws.resources[r].children {
            add_rsc(ws, c, out, seen);
        }
        for &a in ws.resources[r].actions.iter().rev() {
            if !seen[a] && in_graph(ws, a) {
                seen[a] = true;
                out.push(a);
            }
        }
    }
    let mut seen = vec![false; ws.actions.len()];
    let mut out = Vec::new();
    for &r in &ws.top {
        add_rsc(ws, r, &mut out, &mut seen);
    }
    for a in (0..ws.actions.len()).rev() {
        if !seen[a] && in_graph(ws, a) {
            seen[a] = true;
            out.push(a);
        }
    }
    out
}

/// Each graph action's inputs, deduplicated, in the graph's order.
fn graph_inputs(ws: &WorkingSet, a: ActionId) -> Vec<ActionId> {
    let mut seen: Vec<ActionId> = Vec::new();
    for &(f, flags) in ws.actions[a].before.iter().rev() {
        if !seen.contains(&f) && input_applies(ws, a, f, flags) {
            seen.push(f);
        }
    }
    seen
}

/// The order in which a simulated run of the graph executes its actions,
/// as crm_simulate runs it (every action confirms at once): passes over
/// the synapses in graph order, each firing the synapses whose inputs are
/// all confirmed and succeeded. `fails` says which actions fail; a failure
/// aborts the transition, after which only pseudo-actions still fire.
/// Returns each fired action with whether it failed.
pub fn simulated_run(ws: &WorkingSet, fails: &dyn Fn(ActionId) -> bool) -> Vec<(ActionId, bool)> {
    let order = graph_order(ws);
    let inputs: Vec<Vec<ActionId>> = order.iter().map(|&a| graph_inputs(ws, a)).collect();
    let mut confirmed = vec![false; ws.actions.len()];
    let mut failed = vec![false; ws.actions.len()];
    let mut fired = vec![false; order.len()];
    let mut aborted = false;
    let mut run = Vec::new();
    loop {
        let mut progress = false;
        for (i, &a) in order.iter().enumerate() {
            if fired[i] || inputs[i].iter().any(|&f| !confirmed[f] || failed[f]) {
                continue;
            }
            let pseudo = ws.actions[a].has(af::PSEUDO);
            if aborted && !pseudo {
                continue;
            }
            fired[i] = true;
            progress = true;
            let fail = !pseudo && fails(a);
            confirmed[a] = true;
            if fail {
                failed[a] = true;
                aborted = true;
            }
            run.push((a, fail));
        }
        if !progress {
            return run;
        }
    }
}

/// The transition graph as Pacemaker's `<transition_graph>` XML.
pub fn transition_graph(ws: &WorkingSet, transition_id: u64) -> Element {
    let cfg = &ws.options.config;
    let get = |k: &str, d: &str| cfg.get(k).cloned().unwrap_or_else(|| d.to_string());
    let mut g = Element::new("transition_graph")
        .with_attr("cluster-delay", &get("cluster-delay", "60s"))
        .with_attr("stonith-timeout", &get("stonith-timeout", "60s"))
        .with_attr("failed-stop-offset", "INFINITY")
        .with_attr(
            "failed-start-offset",
            if ws.options.start_failure_is_fatal {
                "INFINITY"
            } else {
                "1"
            },
        )
        .with_attr("batch-limit", &get("batch-limit", "0"))
        .with_attr("transition_id", &transition_id.to_string());
    if let Some(m) = cfg
        .get("migration-limit")
        .filter(|v| v.parse::<i64>().is_ok_and(|x| x > 0))
    {
        g.set_attr("migration-limit", m);
    }
    if let Some(t) = ws.next_change.get().filter(|t| *t > ws.now) {
        g.set_attr("recheck-by", &t.0.to_string());
    }
    for (i, a) in graph_order(ws).into_iter().enumerate() {
        let mut syn = Element::new("synapse").with_attr("id", &i.to_string());
        let mut set = Element::new("action_set");
        set.children.push(action_element(ws, a, true));
        syn.children.push(set);
        let mut inputs = Element::new("inputs");
        for f in graph_inputs(ws, a) {
            let mut trig = Element::new("trigger");
            trig.children.push(action_element(ws, f, false));
            inputs.children.push(trig);
        }
        syn.children.push(inputs);
        g.children.push(syn);
    }
    g
}

/// The graph in Graphviz DOT: every in-graph action and its inputs.
pub fn dot(ws: &WorkingSet) -> String {
    let label = |a: ActionId| {
        let act = &ws.actions[a];
        match act.node {
            Some(n) if !act.has(af::PSEUDO) => format!("{} {}", act.key, ws.nodes[n].uname),
            _ => act.key.clone(),
        }
    };
    let mut out = String::from(" digraph \"g\" {\n");
    let order = graph_order(ws);
    for &a in &order {
        let style = if ws.actions[a].has(af::PSEUDO) {
            "dashed"
        } else {
            "bold"
        };
        out.push_str(&format!(
            "\"{}\" [ style={style} color=\"green\" fontcolor=\"black\"]\n",
            label(a)
        ));
    }
    for &a in &order {
        for &(f, flags) in &ws.actions[a].before {
            if input_applies(ws, a, f, flags) {
                out.push_str(&format!(
                    "\"{}\" -> \"{}\" [ style = bold]\n",
                    label(f),
                    label(a)
                ));
            }
        }
    }
    out.push_str("}\n");
    out
}

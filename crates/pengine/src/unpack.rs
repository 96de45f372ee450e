//! Phase 1: the CIB into a working set (configuration, nodes, resources,
//! status, constraints), following Pacemaker's unpack rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use cib_xml::rules::{parse_interval_ms, unpack_nvpairs};
use cib_xml::score::{parse_score, scan_int, HealthScores, INFINITY};
use cib_xml::time::DateTime;
use cib_xml::{Element, IdIndex, Role, RuleContext};

use crate::model::*;
use crate::util::{clone_strip, is_true, natural_cmp};

/// Why a CIB could not be scheduled at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackError(pub String);

impl std::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An option's value (a name written with `_` instead of `-` counts).
pub fn option_value<'a>(cfg: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    cfg.get(name)
        .or_else(|| cfg.get(&name.replace('-', "_")))
        .map(String::as_str)
}

fn opt_bool(cfg: &BTreeMap<String, String>, name: &str, default: bool) -> bool {
    match option_value(cfg, name) {
        Some(v) => crate::util::parse_bool(v).unwrap_or(default),
        None => default,
    }
}

/// The cluster options set in the CIB's crm_config as the scheduler reads
/// them (sets by rule and score, `cib-bootstrap-options` first).
fn config_values(
    cib: &Element,
    idx: &IdIndex<'_>,
    now: DateTime,
    next_change: Option<&std::cell::Cell<Option<DateTime>>>,
) -> BTreeMap<String, String> {
    let mut cfg = BTreeMap::new();
    let ctx = RuleContext {
        now: Some(now),
        next_change,
        ..Default::default()
    };
    if let Some(crm) = cib.path(&["configuration", "crm_config"]) {
        unpack_nvpairs(
            crm,
            Some("cluster_property_set"),
            idx,
            &ctx,
            Some("cib-bootstrap-options"),
            false,
            &HealthScores::default(),
            &mut cfg,
        );
    }
    cfg
}

/// The cluster options as the scheduler reads them at `now`, for daemons
/// that act on options themselves (the controller's dc-deadtime, ...);
/// look names up with [`option_value`].
pub fn cluster_option_values(cib: &Element, now: DateTime) -> BTreeMap<String, String> {
    config_values(cib, &IdIndex::new(cib), now, None)
}

pub(crate) fn unpack_config(
    cib: &Element,
    idx: &IdIndex<'_>,
    now: DateTime,
    next_change: &std::cell::Cell<Option<DateTime>>,
) -> ClusterOptions {
    let cfg = config_values(cib, idx, now, Some(next_change));
    let stonith_enabled = opt_bool(&cfg, "stonith-enabled", true);
    let have_quorum = is_true(cib.attr("have-quorum"));
    let nqp = match option_value(&cfg, "no-quorum-policy")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("ignore") => NoQuorumPolicy::Ignore,
        Some("freeze") => NoQuorumPolicy::Freeze,
        Some("demote") => NoQuorumPolicy::Demote,
        Some("suicide") => {
            if stonith_enabled {
                let panic = cib.attr("no-quorum-panic").and_then(scan_int).unwrap_or(0);
                if panic != 0 || have_quorum {
                    NoQuorumPolicy::Suicide
                } else {
                    NoQuorumPolicy::Stop
                }
            } else {
                NoQuorumPolicy::Stop
            }
        }
        _ => NoQuorumPolicy::Stop,
    };
    let mut stonith_action = option_value(&cfg, "stonith-action")
        .unwrap_or("reboot")
        .to_string();
    if stonith_action == "poweroff" {
        stonith_action = "off".into();
    }
    let health_score = |name: &str, default: i32| {
        option_value(&cfg, name)
            .map(|v| parse_score(v, &HealthScores::default()))
            .unwrap_or(default)
    };
    let strategy = option_value(&cfg, "node-health-strategy")
        .unwrap_or("none")
        .to_ascii_lowercase();
    let health = match strategy.as_str() {
        "migrate-on-red" => HealthScores {
            red: -INFINITY,
            yellow: 0,
            green: 0,
        },
        "only-green" => HealthScores {
            red: -INFINITY,
            yellow: -INFINITY,
            green: 0,
        },
        "progressive" | "custom" => HealthScores {
            red: health_score("node-health-red", 0),
            yellow: health_score("node-health-yellow", 0),
            green: health_score("node-health-green", 0),
        },
        _ => HealthScores {
            red: 0,
            yellow: 0,
            green: 0,
        },
    };
    let enable_unfencing = {
        // Any fencing device or resource that requires unfencing.
        let mut found = false;
        if let Some(rscs) = cib.path(&["configuration", "resources"]) {
            rscs.walk(&mut |e| {
                if e.name == "nvpair"
                    && e.attr("name") == Some("requires")
                    && e.attr("value") == Some("unfencing")
                {
                    found = true;
                }
                if e.name == "nvpair"
                    && e.attr("name") == Some("provides")
                    && e.attr("value") == Some("unfencing")
                {
                    found = true;
                }
            });
        }
        found
    };
    ClusterOptions {
        stonith_enabled,
        symmetric: opt_bool(&cfg, "symmetric-cluster", true),
        no_quorum_policy: nqp,
        stop_orphan_resources: opt_bool(&cfg, "stop-orphan-resources", true),
        stop_orphan_actions: opt_bool(&cfg, "stop-orphan-actions", true),
        start_failure_is_fatal: opt_bool(&cfg, "start-failure-is-fatal", true),
        startup_fencing: stonith_enabled && opt_bool(&cfg, "startup-fencing", true),
        stonith_action,
        concurrent_fencing: opt_bool(&cfg, "concurrent-fencing", false),
        startup_probes: opt_bool(&cfg, "enable-startup-probes", true),
        maintenance_mode: opt_bool(&cfg, "maintenance-mode", false),
        stop_all: opt_bool(&cfg, "stop-all-resources", false),
        placement_strategy: option_value(&cfg, "placement-strategy")
            .unwrap_or("default")
            .to_ascii_lowercase(),
        have_stonith_resource: is_true(option_value(&cfg, "have-watchdog")),
        enable_unfencing,
        remove_after_stop: opt_bool(&cfg, "remove-after-stop", false),
        shutdown_lock: opt_bool(&cfg, "shutdown-lock", false),
        shutdown_lock_limit: option_value(&cfg, "shutdown-lock-limit")
            .and_then(parse_interval_ms)
            .map(|ms| (ms / 1000) as i64)
            .unwrap_or(0),
        have_quorum,
        have_remote_nodes: false,
        priority_fencing_delay: option_value(&cfg, "priority-fencing-delay")
            .and_then(parse_interval_ms)
            .map(|ms| (ms / 1000) as i64)
            .unwrap_or(0),
        health,
        node_health_strategy: strategy,
        config: cfg,
    }
}

pub(crate) fn unpack_nodes(ws: &mut WorkingSet, idx: &IdIndex<'_>) {
    let Some(nodes) = ws.cib.path(&["configuration", "nodes"]).cloned() else {
        return;
    };
    let mut list: Vec<Node> = Vec::new();
    for n in nodes.children_named("node") {
        let Some(id) = n.attr("id") else {
            ws.messages
                .push("Ignoring <node> entry in configuration without id".into());
            continue;
        };
        let uname = n.attr("uname").unwrap_or(id).to_string();
        let kind = match n.attr("type") {
            None => NodeKind::Member,
            Some(t) if t.eq_ignore_ascii_case("member") => NodeKind::Member,
            Some(t) if t.eq_ignore_ascii_case("remote") => {
                ws.options.have_remote_nodes = true;
                NodeKind::Remote
            }
            Some(_) => NodeKind::Ping,
        };
        let mut node = new_node(id, &uname, kind, n.attr("score"), &ws.options);
        // Startup fencing: every node is unclean until its state is seen.
        if !(kind == NodeKind::Remote) {
            node.unclean = ws.options.startup_fencing;
            node.unseen = true;
        }
        add_node_attrs(ws, &mut node, Some(n), false, idx);
        let nc = ws.next_change.clone();
        let ctx = RuleContext {
            now: Some(ws.now),
            next_change: Some(&nc),
            ..Default::default()
        };
        unpack_nvpairs(
            n,
            Some("utilization"),
            idx,
            &ctx,
            None,
            false,
            &ws.options.health,
            &mut node.utilization,
        );
        list.push(node);
    }
    // Insert sorted by natural name; equal names keep insertion order.
    list.sort_by(|a, b| natural_cmp(&a.uname, &b.uname));
    ws.nodes = list;
}

pub(crate) fn new_node(
    id: &str,
    uname: &str,
    kind: NodeKind,
    score: Option<&str>,
    opts: &ClusterOptions,
) -> Node {
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "#kind".to_string(),
        if kind == NodeKind::Remote {
            "remote"
        } else {
            "cluster"
        }
        .to_string(),
    );
    Node {
        id: id.to_string(),
        uname: uname.to_string(),
        kind,
        weight: score.map(|s| parse_score(s, &opts.health)).unwrap_or(0),
        online: false,
        unclean: false,
        unseen: false,
        shutdown: false,
        standby: false,
        standby_onfail: false,
        pending: false,
        maintenance: false,
        expected_up: false,
        is_dc: false,
        remote_requires_reset: false,
        remote_was_fenced: false,
        unpacked: false,
        rsc_discovery_enabled: true,
        attrs,
        utilization: BTreeMap::new(),
        num_resources: 0,
        running: Vec::new(),
        remote_rsc: None,
        priority: 0,
        has_fail_attrs: false,
    }
}

fn add_node_attrs(
    ws: &mut WorkingSet,
    node: &mut Node,
    xml: Option<&Element>,
    overwrite: bool,
    idx: &IdIndex<'_>,
) {
    node.attrs.insert("#uname".into(), node.uname.clone());
    node.attrs.insert("#id".into(), node.id.clone());
    let is_dc = ws
        .dc_uuid
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(&node.id));
    if is_dc {
        node.is_dc = true;
    }
    node.attrs
        .insert("#is_dc".into(), if is_dc { "true" } else { "false" }.into());
    let cluster_name = ws.options.config.get("cluster-name").cloned();
    if let Some(c) = &cluster_name {
        node.attrs.insert("#cluster-name".into(), c.clone());
    }
    if let Some(xml) = xml {
        let nc = ws.next_change.clone();
        let ctx = RuleContext {
            now: Some(ws.now),
            next_change: Some(&nc),
            ..Default::default()
        };
        unpack_nvpairs(
            xml,
            Some("instance_attributes"),
            idx,
            &ctx,
            None,
            overwrite,
            &ws.options.health,
            &mut node.attrs,
        );
    }
    node.has_fail_attrs = node
        .attrs
        .keys()
        .any(|k| k.starts_with("fail-count-") || k.starts_with("last-failure-"));
    if !node.attrs.contains_key("#site-name") {
        if let Some(s) = node.attrs.get("site-name").cloned() {
            node.attrs.insert("#site-name".into(), s);
        } else if let Some(c) = cluster_name {
            node.attrs.insert("#site-name".into(), c);
        }
    }
}

/// Parses `<operations>` of a resource.
fn unpack_ops(xml: &Element, idx: &IdIndex<'_>) -> Vec<OpConfig> {
    let Some(ops) = xml.child("operations").and_then(|o| idx.expand(o)) else {
        return Vec::new();
    };
    ops.children_named("op")
        .filter_map(|op| {
            let op = idx.expand(op)?;
            Some(OpConfig {
                name: op.attr("name").unwrap_or("").to_string(),
                interval_ms: op.attr("interval").and_then(parse_interval_ms).unwrap_or(0),
                role: op.attr("role").and_then(Role::parse),
                enabled: op
                    .attr("enabled")
                    .and_then(crate::util::parse_bool)
                    .unwrap_or(true),
                xml: Rc::new(op.clone()),
            })
        })
        .collect()
}

/// Expands `<primitive template="T">` against `<template id="T">`: the
/// template's attributes and children first, the primitive's own
/// attributes and same-id children overriding them.
fn expand_template(xml: &Element, idx: &IdIndex<'_>) -> Element {
    let Some(tname) = xml.attr("template") else {
        return xml.clone();
    };
    let Some(t) = idx.get(tname).filter(|t| t.name == "template") else {
        return xml.clone();
    };
    let mut out = Element::new("primitive");
    out.line = xml.line;
    for (k, v) in &t.attrs {
        if k != "id" {
            out.set_attr(k, v);
        }
    }
    for (k, v) in &xml.attrs {
        if k != "template" {
            out.set_attr(k, v);
        }
    }
    // Children: template's, with the primitive's merged in (operations by
    // name+interval, other blocks appended).
    let mut children: Vec<Element> = t.children.clone();
    for c in &xml.children {
        if c.name == "operations" {
            if let Some(existing) = children.iter_mut().find(|e| e.name == "operations") {
                for op in &c.children {
                    let key = |o: &Element| {
                        (
                            o.attr("name").map(str::to_string),
                            o.attr("interval").and_then(parse_interval_ms),
                        )
                    };
                    let k = key(op);
                    existing.children.retain(|o| key(o) != k);
                    existing.children.push(op.clone());
                }
                continue;
            }
        }
        children.push(c.clone());
    }
    out.children = children;
    out
}

/// A resource's instance attributes (pe_rsc_params): its own, then its
/// ancestors', then rsc_defaults', with rules seeing `node_attrs` (none:
/// the node-independent parameters kept on the resource).
pub(crate) fn resource_params(
    ws: &WorkingSet,
    idx: &IdIndex<'_>,
    xml: &Element,
    parent: Option<RscId>,
    node_attrs: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let nc = ws.next_change.clone();
    let ctx = RuleContext {
        node_attrs,
        now: Some(ws.now),
        next_change: Some(&nc),
        ..Default::default()
    };
    let mut params = BTreeMap::new();
    let mut add = |from: &Element| {
        unpack_nvpairs(
            from,
            Some("instance_attributes"),
            idx,
            &ctx,
            None,
            false,
            &ws.options.health,
            &mut params,
        );
    };
    add(xml);
    let mut anc = parent;
    while let Some(a) = anc {
        add(&ws.resources[a].xml);
        anc = ws.resources[a].parent;
    }
    if let Some(d) = &ws.rsc_defaults {
        add(d);
    }
    params
}

struct ResourceUnpacker<'a, 'b> {
    ws: &'a mut WorkingSet,
    idx: &'a IdIndex<'b>,
    order: usize,
    /// Expanded XML and operations per configured element (by address),
    /// so clone instances share one copy instead of one each.
    shared: std::collections::HashMap<*const Element, (Rc<Element>, Vec<OpConfig>)>,
}

impl ResourceUnpacker<'_, '_> {
    fn meta_for(&self, xml: &Element, parent: Option<RscId>) -> BTreeMap<String, String> {
        let mut meta = BTreeMap::new();
        for (k, v) in &xml.attrs {
            meta.insert(k.clone(), v.clone());
        }
        let class = xml.attr("class");
        let nc = self.ws.next_change.clone();
        let rctx = RuleContext {
            now: Some(self.ws.now),
            rsc: class.map(|c| (c, xml.attr("provider"), xml.attr("type").unwrap_or(""))),
            next_change: Some(&nc),
            ..Default::default()
        };
        unpack_nvpairs(
            xml,
            Some("meta_attributes"),
            self.idx,
            &rctx,
            None,
            false,
            &self.ws.options.health,
            &mut meta,
        );
        if let Some(p) = parent {
            // Explicit meta of every ancestor, nearest first, not overwriting.
            let mut anc = Some(p);
            let mut parent_meta = BTreeMap::new();
            while let Some(a) = anc {
                unpack_nvpairs(
                    &self.ws.resources[a].xml,
                    Some("meta_attributes"),
                    self.idx,
                    &rctx,
                    None,
                    false,
                    &self.ws.options.health,
                    &mut parent_meta,
                );
                anc = self.ws.resources[a].parent;
            }
            for (k, v) in parent_meta {
                meta.entry(k).or_insert(v);
            }
        }
        if let Some(d) = &self.ws.rsc_defaults {
            unpack_nvpairs(
                d,
                Some("meta_attributes"),
                self.idx,
                &rctx,
                None,
                false,
                &self.ws.options.health,
                &mut meta,
            );
        }
        if let Some(p) = parent {
            for (k, v) in &self.ws.resources[p].meta {
                meta.entry(k.clone()).or_insert(v.clone());
            }
        }
        meta
    }

    fn params_for(&self, xml: &Element, parent: Option<RscId>) -> BTreeMap<String, String> {
        resource_params(self.ws, self.idx, xml, parent, None)
    }

    /// Creates one resource (and its children) and returns its id.
    fn unpack(
        &mut self,
        xml: &Element,
        parent: Option<RscId>,
        instance: Option<&str>,
    ) -> Option<RscId> {
        let base_id = xml.attr("id")?;
        let variant = match xml.name.as_str() {
            "primitive" => Variant::Primitive,
            "group" => Variant::Group,
            "clone" | "master" => Variant::Clone,
            "bundle" => Variant::Bundle,
            _ => return None,
        };
        let key: *const Element = xml;
        let (xml, ops) = match self.shared.get(&key) {
            Some((x, o)) => (Rc::clone(x), o.clone()),
            None => {
                let x = Rc::new(if variant == Variant::Primitive {
                    expand_template(xml, self.idx)
                } else {
                    xml.clone()
                });
                let o = unpack_ops(&x, self.idx);
                // Only elements that outlive this call (inside a shared
                // Rc) are cached: a clone's template child.
                if instance.is_some() {
                    self.shared.insert(key, (Rc::clone(&x), o.clone()));
                }
                (x, o)
            }
        };
        let id = match instance {
            Some(n) => format!("{base_id}:{n}"),
            None => base_id.to_string(),
        };
        let mut meta = self.meta_for(&xml, parent);
        if let Some(n) = instance {
            meta.insert("clone".into(), n.to_string());
        }
        let params = self.params_for(&xml, parent);
        let opts = &self.ws.options;
        let mut flags = rf::RUNNABLE | rf::PROVISIONAL;
        if !opts.maintenance_mode {
            flags |= rf::MANAGED;
        }
        let get = |k: &str| meta.get(k).map(String::as_str);
        if get("critical").is_none_or(|v| is_true(Some(v))) {
            flags |= rf::CRITICAL;
        }
        if is_true(get("notify")) {
            flags |= rf::NOTIFY;
        }
        if is_true(get("allow-migrate")) {
            flags |= rf::ALLOW_MIGRATE;
        }
        if let Some(v) = get("is-managed").filter(|v| !v.eq_ignore_ascii_case("default")) {
            if is_true(Some(v)) {
                flags |= rf::MANAGED;
            } else {
                flags &= !rf::MANAGED;
            }
        }
        if is_true(get("maintenance")) || opts.maintenance_mode {
            flags &= !rf::MANAGED;
            flags |= rf::MAINTENANCE;
        }
        let top_is_clone = {
            let mut p = parent;
            let mut top = None;
            while let Some(x) = p {
                top = Some(x);
                p = self.ws.resources[x].parent;
            }
            match top {
                Some(t) => self.ws.resources[t].variant == Variant::Clone,
                None => variant == Variant::Clone,
            }
        };
        if top_is_clone {
            if is_true(get("globally-unique")) {
                flags |= rf::UNIQUE;
            }
            if xml.name == "master" || is_true(get("promotable")) {
                flags |= rf::PROMOTABLE;
            }
        } else {
            flags |= rf::UNIQUE;
        }
        let recovery = match get("multiple-active")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("stop_only") => Recovery::StopOnly,
            Some("block") => Recovery::Block,
            Some("stop_unexpected") => Recovery::StopUnexpected,
            _ => Recovery::StopStart,
        };
        let mut stickiness = 0;
        if let Some(v) = get("resource-stickiness").filter(|v| !v.eq_ignore_ascii_case("default")) {
            stickiness = parse_score(v, &opts.health);
        }
        let mut migration_threshold = INFINITY;
        if let Some(v) = get("migration-threshold").filter(|v| !v.eq_ignore_ascii_case("default")) {
            migration_threshold = parse_score(v, &opts.health);
            if migration_threshold < 0 {
                migration_threshold = 1;
            }
        }
        let class = xml.attr("class").map(str::to_string);
        if class
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("stonith"))
        {
            self.ws.options.have_stonith_resource = true;
            flags |= rf::FENCE_DEVICE;
        }
        // Only OCF and stonith agents can be unique clones: otherwise the
        // clone becomes anonymous, cleared on the clone and on whatever of
        // it exists so far, as Pacemaker's native_unpack does (so members
        // of a cloned group created before this one keep the flag).
        if variant == Variant::Primitive
            && top_is_clone
            && flags & rf::UNIQUE != 0
            && !class
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("ocf") || c.eq_ignore_ascii_case("stonith"))
        {
            flags &= !rf::UNIQUE;
            let mut top = parent;
            while let Some(p) = top.and_then(|t| self.ws.resources[t].parent) {
                top = Some(p);
            }
            let mut stack: Vec<RscId> = top.into_iter().collect();
            while let Some(x) = stack.pop() {
                self.ws.resources[x].clear(rf::UNIQUE);
                stack.extend(self.ws.resources[x].children.iter().copied());
            }
        }
        let is_remote_node = variant == Variant::Primitive
            && class.as_deref() == Some("ocf")
            && xml.attr("provider") == Some("pacemaker")
            && xml.attr("type") == Some("remote");
        flags |= requires_flags(get("requires"), flags, is_remote_node, &self.ws.options);
        let failure_timeout = get("failure-timeout")
            .and_then(parse_interval_ms)
            .map(|ms| (ms / 1000) as i64)
            .unwrap_or(0);
        let priority = get("priority")
            .map(|v| parse_score(v, &self.ws.options.health))
            .unwrap_or(0);
        let n_nodes = self.ws.nodes.len();
        let rid = self.ws.resources.len();
        self.order += 1;
        let rsc = Resource {
            id,
            clone_name: None,
            variant,
            parent,
            children: Vec::new(),
            class,
            provider: xml.attr("provider").map(str::to_string),
            agent: xml.attr("type").map(str::to_string),
            xml: Rc::clone(&xml),
            meta,
            params,
            ops,
            flags,
            role: Role::Stopped,
            next_role: Role::Unknown,
            priority,
            stickiness,
            migration_threshold,
            failure_timeout,
            recovery,
            running_on: Vec::new(),
            allowed: vec![None; n_nodes],
            known_on: BTreeSet::new(),
            assigned: None,
            actions: Vec::new(),
            this_with: Vec::new(),
            with_this: Vec::new(),
            partial_migration_source: None,
            partial_migration_target: None,
            dangling_migrations: Vec::new(),
            pending_task: None,
            pending_node: None,
            lock_node: None,
            lock_time: 0,
            utilization: BTreeMap::new(),
            exclusive_discover: false,
            is_remote_node,
            container: None,
            cib_order: self.order,
            clone_max: 0,
            clone_node_max: 1,
            promoted_max: 1,
            promoted_node_max: 1,
            total_clones: 0,
            sort_index: 0,
            promotion_added: false,
            promotion_constrained: false,
        };
        self.ws
            .rsc_index
            .entry(rsc.id.clone())
            .or_default()
            .push(rid);
        self.ws.resources.push(rsc);
        if let Some(role) = target_role(self.ws, rid) {
            self.ws.resources[rid].next_role = role;
        }
        // Variant-specific children.
        match variant {
            Variant::Group => {
                for c in xml.children_named("primitive") {
                    if let Some(child) = self.unpack(c, Some(rid), instance) {
                        self.ws.resources[rid].children.push(child);
                    }
                }
            }
            Variant::Clone => {
                self.unpack_clone(rid, &xml);
            }
            _ => {}
        }
        if self.ws.options.symmetric {
            location_all(self.ws, rid, 0, true);
        }
        let nc = self.ws.next_change.clone();
        let ctx = RuleContext {
            now: Some(self.ws.now),
            next_change: Some(&nc),
            ..Default::default()
        };
        let mut util = BTreeMap::new();
        unpack_nvpairs(
            &xml,
            Some("utilization"),
            self.idx,
            &ctx,
            None,
            false,
            &self.ws.options.health,
            &mut util,
        );
        self.ws.resources[rid].utilization = util;
        Some(rid)
    }

    fn unpack_clone(&mut self, rid: RscId, xml: &Element) {
        let n_nodes = self.ws.nodes.len();
        let meta = self.ws.resources[rid].meta.clone();
        let scan_min0 = |v: &str| scan_int(v).map(|x| x.max(0) as usize).unwrap_or(0);
        let promotable = self.ws.resources[rid].has(rf::PROMOTABLE);
        if promotable {
            let pm = meta.get("promoted-max").or_else(|| meta.get("master-max"));
            let pnm = meta
                .get("promoted-node-max")
                .or_else(|| meta.get("master-node-max"));
            self.ws.resources[rid].promoted_max = pm.map(|v| scan_min0(v)).unwrap_or(1);
            self.ws.resources[rid].promoted_node_max = pnm.map(|v| scan_min0(v)).unwrap_or(1);
        }
        let mut node_max = meta
            .get("clone-node-max")
            .map(|v| scan_min0(v))
            .unwrap_or(1);
        let clone_max = meta
            .get("clone-max")
            .map(|v| scan_min0(v))
            .unwrap_or(n_nodes.max(1));
        if !self.ws.resources[rid].has(rf::UNIQUE) && node_max > 1 {
            node_max = 1;
        }
        self.ws.resources[rid].clone_max = clone_max;
        self.ws.resources[rid].clone_node_max = node_max;
        if crate::util::clone_template(xml).is_none() {
            self.ws.messages.push(format!(
                "{} has nothing to clone",
                self.ws.resources[rid].id
            ));
            return;
        }
        let unique = self.ws.resources[rid].has(rf::UNIQUE);
        let m = &mut self.ws.resources[rid].meta;
        if !m.contains_key("resource-stickiness") {
            m.insert("resource-stickiness".into(), "1".into());
        }
        m.entry("globally-unique".into())
            .or_insert_with(|| if unique { "true" } else { "false" }.into());
        self.ws.resources[rid].stickiness = parse_score(
            self.ws.resources[rid]
                .meta
                .get("resource-stickiness")
                .map(String::as_str)
                .unwrap_or("1"),
            &self.ws.options.health,
        );
        for _ in 0..clone_max.max(1) {
            self.create_clone_child(rid);
        }
    }

    /// pe__create_clone_child: the next numbered instance (an orphan once
    /// clone-max instances exist).
    fn create_clone_child(&mut self, rid: RscId) -> Option<RscId> {
        let xml = Rc::clone(&self.ws.resources[rid].xml);
        let child_xml = crate::util::clone_template(&xml)?;
        let as_orphan = self.ws.resources[rid].total_clones >= self.ws.resources[rid].clone_max;
        let n = self.ws.resources[rid].total_clones.to_string();
        let child = self.unpack(child_xml, Some(rid), Some(&n))?;
        self.ws.resources[rid].total_clones += 1;
        self.ws.resources[rid].children.push(child);
        let max = self.ws.resources[rid].clone_max.to_string();
        let mut stack = vec![child];
        while let Some(c) = stack.pop() {
            if as_orphan {
                self.ws.resources[c].set(rf::ORPHAN);
            }
            stack.extend(self.ws.resources[c].children.iter().copied());
        }
        self.ws.resources[child]
            .meta
            .insert("clone-max".into(), max);
        Some(child)
    }
}

/// Creates one more instance of an anonymous clone for orphaned history.
pub(crate) fn create_clone_orphan(ws: &mut WorkingSet, clone: RscId) -> Option<RscId> {
    let xml = ws.resources[clone].xml.clone();
    let idx = IdIndex::new(&xml);
    let order = ws.resources.len();
    let mut u = ResourceUnpacker {
        ws,
        idx: &idx,
        order,
        shared: Default::default(),
    };
    u.create_clone_child(clone)
}

fn requires_flags(value: Option<&str>, flags: u64, is_remote: bool, opts: &ClusterOptions) -> u64 {
    let v = value.map(str::to_ascii_lowercase);
    match v.as_deref() {
        Some("nothing") => 0,
        Some("quorum") => rf::NEEDS_QUORUM,
        Some("fencing") => rf::NEEDS_FENCING,
        Some("unfencing") => {
            if flags & rf::FENCE_DEVICE != 0 || !opts.stonith_enabled {
                rf::NEEDS_QUORUM
            } else {
                rf::NEEDS_FENCING | rf::NEEDS_UNFENCING
            }
        }
        _ => {
            if flags & rf::FENCE_DEVICE != 0 || is_remote {
                rf::NEEDS_QUORUM
            } else if opts.enable_unfencing {
                rf::NEEDS_FENCING | rf::NEEDS_UNFENCING
            } else if opts.stonith_enabled {
                rf::NEEDS_FENCING
            } else if opts.no_quorum_policy == NoQuorumPolicy::Ignore {
                0
            } else {
                rf::NEEDS_QUORUM
            }
        }
    }
}

/// The target-role meta-attribute as a role, when it constrains anything.
pub(crate) fn target_role(ws: &WorkingSet, r: RscId) -> Option<Role> {
    let v = ws.resources[r].meta.get("target-role")?;
    if v.eq_ignore_ascii_case("started") || v.eq_ignore_ascii_case("default") {
        return None;
    }
    let role = Role::parse(v)?;
    if role == Role::Unknown {
        return None;
    }
    if role > Role::Started {
        let top = ws.top_parent(r);
        if ws.resources[top].has(rf::PROMOTABLE) {
            if role > Role::Unpromoted {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(role)
}

/// Adds `score` to every node of the resource (and its children), creating
/// entries as needed: Pacemaker's resource_location(rsc, NULL, ...).
pub(crate) fn location_all(ws: &mut WorkingSet, r: RscId, score: i32, symmetric_default: bool) {
    for n in 0..ws.nodes.len() {
        location_node(ws, r, n, score, symmetric_default);
    }
    if score <= -INFINITY {
        ws.resources[r].assigned = None;
    }
}

/// Adds `score` for one node to the resource and all its descendants.
pub(crate) fn location_node(
    ws: &mut WorkingSet,
    r: RscId,
    n: NodeId,
    score: i32,
    symmetric_default: bool,
) {
    if symmetric_default && ws.resources[r].exclusive_discover {
        return;
    }
    let children = ws.resources[r].children.clone();
    for c in children {
        location_node(ws, c, n, score, symmetric_default);
    }
    let base = ws.nodes[n].weight;
    let entry = ws.resources[r].allowed[n].get_or_insert(NodeScore {
        weight: base,
        discover: Discover::Always,
        count: 0,
    });
    entry.weight = cib_xml::score::add(entry.weight, score);
}

pub(crate) fn unpack_resources(ws: &mut WorkingSet, idx: &IdIndex<'_>) {
    let Some(rscs) = ws.cib.path(&["configuration", "resources"]).cloned() else {
        return;
    };
    let mut tops = Vec::new();
    {
        let mut u = ResourceUnpacker {
            ws,
            idx,
            order: 0,
            shared: Default::default(),
        };
        for x in &rscs.children {
            if x.name == "template" {
                continue;
            }
            if let Some(r) = u.unpack(x, None, None) {
                tops.push(r);
            }
        }
    }
    // Stable sort by priority, highest first.
    tops.sort_by(|a, b| ws.resources[*b].priority.cmp(&ws.resources[*a].priority));
    ws.top = tops;
}

/// Node attribute and status unpacking.
pub(crate) fn unpack_status(ws: &mut WorkingSet, idx: &IdIndex<'_>) {
    let cib = ws.cib.clone();
    let Some(status) = cib.child("status") else {
        // No status: every node remains unseen.
        return;
    };
    for st in &status.children {
        if st.name == "tickets" {
            unpack_tickets(ws, st);
        } else if st.name == "node_state" {
            unpack_node_state(ws, st, idx);
        }
    }
    // Resource history: online nodes first when fencing is off, as
    // Pacemaker does (so active clone instances are numbered first).
    let states: Vec<&Element> = status.children_named("node_state").collect();
    loop {
        let mut progressed = false;
        for st in &states {
            let Some(n) = state_node(ws, st) else {
                continue;
            };
            if ws.nodes[n].unpacked {
                continue;
            }
            if !ws.options.stonith_enabled && !ws.options.shutdown_lock && !ws.nodes[n].online {
                continue;
            }
            ws.nodes[n].unpacked = true;
            unpack_node_lrm(ws, n, st);
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    if ws.options.stonith_enabled {
        for st in &states {
            let Some(n) = state_node(ws, st) else {
                continue;
            };
            if ws.nodes[n].unpacked {
                continue;
            }
            ws.nodes[n].unpacked = true;
            unpack_node_lrm(ws, n, st);
        }
    }
}

fn state_node(ws: &WorkingSet, st: &Element) -> Option<NodeId> {
    let id = st.attr("id")?;
    let uname = st.attr("uname")?;
    ws.find_node_any(id, Some(uname))
}

fn unpack_tickets(ws: &mut WorkingSet, tickets: &Element) {
    for t in tickets.children_named("ticket_state") {
        let Some(id) = t.attr("id") else { continue };
        let tk = ws.tickets.entry(id.to_string()).or_default();
        tk.granted = is_true(t.attr("granted"));
        tk.standby = is_true(t.attr("standby"));
        tk.last_granted = t.attr("last-granted").and_then(scan_int);
    }
}

fn unpack_node_state(ws: &mut WorkingSet, st: &Element, idx: &IdIndex<'_>) {
    let Some(n) = state_node(ws, st) else {
        return;
    };
    if ws.nodes[n].kind == NodeKind::Remote {
        ws.nodes[n].remote_was_fenced = st.attr("node_fenced").and_then(scan_int).unwrap_or(0) != 0;
        return;
    }
    // Transient attributes.
    let mut node = ws.nodes[n].clone();
    let attrs = st.child("transient_attributes");
    add_node_attrs(ws, &mut node, attrs, true, idx);
    if is_true(node.attrs.get("standby").map(String::as_str)) {
        node.standby = true;
    }
    if is_true(node.attrs.get("maintenance").map(String::as_str)) {
        node.maintenance = true;
    }
    node.unclean = false;
    node.unseen = false;
    ws.nodes[n] = node;
    determine_online_status(ws, st, n);
    if !ws.options.have_quorum
        && ws.nodes[n].online
        && ws.options.no_quorum_policy == NoQuorumPolicy::Suicide
    {
        fence_node(ws, n, "cluster does not have quorum", false);
    }
}

fn shutdown_requested(node: &Node) -> bool {
    node.attrs
        .get("shutdown")
        .is_some_and(|v| !v.is_empty() && v != "0")
}

fn determine_online_status(ws: &mut WorkingSet, st: &Element, n: NodeId) {
    let exp_state = st.attr("expected");
    {
        let node = &mut ws.nodes[n];
        node.shutdown = false;
        node.expected_up = false;
        if shutdown_requested(node) {
            node.shutdown = true;
        } else if exp_state.is_some_and(|e| e.eq_ignore_ascii_case("member")) {
            node.expected_up = true;
        }
    }
    let online = if ws.nodes[n].kind == NodeKind::Ping {
        ws.nodes[n].unclean = false;
        false
    } else if !ws.options.stonith_enabled {
        online_no_fencing(ws, st, n)
    } else {
        online_fencing(ws, st, n)
    };
    let node = &mut ws.nodes[n];
    if online {
        node.online = true;
    } else {
        node.weight = -INFINITY;
    }
    if online && node.shutdown {
        node.weight = -INFINITY;
    }
}

fn online_no_fencing(ws: &mut WorkingSet, st: &Element, n: NodeId) -> bool {
    let join = st.attr("join");
    let is_peer = st.attr("crmd");
    let in_cluster = st.attr("in_ccm");
    if !is_true(in_cluster) {
        false
    } else if is_peer.is_some_and(|p| p.eq_ignore_ascii_case("online")) {
        join.is_some_and(|j| j.eq_ignore_ascii_case("member"))
    } else if !ws.nodes[n].expected_up {
        false
    } else {
        fence_node(ws, n, "peer is unexpectedly down", false);
        false
    }
}

fn online_fencing(ws: &mut WorkingSet, st: &Element, n: NodeId) -> bool {
    let join = st.attr("join");
    let is_peer = st.attr("crmd");
    let in_cluster = st.attr("in_ccm");
    let exp_state = st.attr("expected").unwrap_or("down");
    let terminate = ws.nodes[n].attrs.get("terminate").cloned();
    let do_terminate = match terminate.as_deref() {
        Some(t) if is_true(Some(t)) => true,
        Some(t) => t
            .bytes()
            .next()
            .is_some_and(|c| c != b'0' && c.is_ascii_digit()),
        None => false,
    };
    let mut online = is_true(in_cluster);
    let crmd_online = is_peer.is_some_and(|p| p.eq_ignore_ascii_case("online"));
    let eq = |a: Option<&str>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
    if ws.nodes[n].shutdown {
        online = crmd_online;
    } else if in_cluster.is_none() {
        fence_node(ws, n, "peer has not been seen by the cluster", false);
    } else if eq(join, "nack") {
        fence_node(ws, n, "peer failed Pacemaker membership criteria", false);
    } else if !do_terminate && exp_state.eq_ignore_ascii_case("down") {
        if is_true(in_cluster) || crmd_online {
            ws.nodes[n].standby = true;
            ws.nodes[n].pending = true;
        }
    } else if do_terminate && eq(join, "down") && !is_true(in_cluster) && !crmd_online {
        online = false;
    } else if !is_true(in_cluster) {
        fence_node(ws, n, "peer is no longer part of the cluster", true);
    } else if !crmd_online {
        fence_node(ws, n, "peer process is no longer available", false);
    } else if do_terminate {
        fence_node(ws, n, "termination was requested", false);
    } else if eq(join, "member") {
        // active
    } else if eq(join, "pending") || eq(join, "down") {
        ws.nodes[n].standby = true;
        ws.nodes[n].pending = true;
    } else {
        fence_node(ws, n, "peer was in an unknown state", false);
    }
    online
}

/// Marks a node unclean (to be fenced), as pe_fence_node does for cluster
/// nodes. The reason is remembered for the fencing action.
pub(crate) fn fence_node(ws: &mut WorkingSet, n: NodeId, reason: &str, _priority_delay: bool) {
    let node = &mut ws.nodes[n];
    if node.kind == NodeKind::Remote {
        // Remote nodes: handled with their connection resources (later).
        node.unclean = true;
        return;
    }
    if !node.unclean {
        node.unclean = true;
        crate::fencing::remember_reason(ws, n, reason);
    }
}

/// One history entry of a resource on a node.
#[derive(Debug, Clone)]
pub(crate) struct HistOp<'a> {
    pub xml: &'a Element,
    pub task: &'a str,
    pub interval_ms: u64,
    pub rc: i32,
    pub status: i32,
    pub call_id: i32,
    pub target_rc: i32,
}

impl<'a> HistOp<'a> {
    fn from(xml: &'a Element) -> Option<HistOp<'a>> {
        // One pass over the attributes: histories are most of a large
        // CIB, and six lookups each scanning ~15 attributes showed in
        // profiles.
        let (mut task, mut key, mut interval, mut rc, mut status, mut call_id) =
            (None, None, None, None, None, None);
        for (k, v) in &xml.attrs {
            let v = v.as_str();
            match k.as_str() {
                "operation" if task.is_none() => task = Some(v),
                "transition-key" if key.is_none() => key = Some(v),
                "interval" if interval.is_none() => interval = Some(v),
                "rc-code" if rc.is_none() => rc = Some(v),
                "op-status" if status.is_none() => status = Some(v),
                "call-id" if call_id.is_none() => call_id = Some(v),
                _ => {}
            }
        }
        let task = task?;
        let target_rc = key
            .and_then(|k| k.split(':').nth(2))
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1);
        Some(HistOp {
            xml,
            task,
            interval_ms: interval.and_then(|v| v.parse().ok()).unwrap_or(0),
            rc: rc.and_then(scan_int).unwrap_or(0) as i32,
            status: status.and_then(scan_int).unwrap_or(0) as i32,
            call_id: call_id.and_then(scan_int).unwrap_or(-1) as i32,
            target_rc,
        })
    }
    pub fn id(&self) -> &str {
        self.xml.id()
    }
    pub fn key(&self) -> &str {
        self.xml.attr("operation_key").unwrap_or(self.xml.id())
    }
    pub fn last_change(&self) -> Option<i64> {
        self.xml.attr("last-rc-change").and_then(scan_int)
    }
}

/// Pacemaker's sort_op_by_callid (pe__is_newer_op with same_node=true).
fn cmp_ops(a: &HistOp<'_>, b: &HistOp<'_>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let (ac, bc) = (a.call_id, b.call_id);
    if ac == -1 && bc == -1 {
        return Equal;
    }
    if ac >= 0 && ac < bc {
        return Less;
    }
    if bc >= 0 && ac > bc {
        return Greater;
    }
    if ac >= 0 && bc >= 0 && ac == bc {
        let la = a.last_change().unwrap_or(-1);
        let lb = b.last_change().unwrap_or(-1);
        if la >= 0 && la < lb {
            return Less;
        }
        if lb >= 0 && la > lb {
            return Greater;
        }
        return Equal;
    }
    // One is pending: compare transition magic ids.
    let magic = |o: &HistOp<'_>| -> Option<(String, i64)> {
        let m = o.xml.attr("transition-magic")?;
        let (_, key) = m.split_once(';')?;
        let mut parts = key.split(':');
        let _action = parts.next()?;
        let tid = parts.next()?.parse::<i64>().ok()?;
        let _target = parts.next()?;
        let uuid = parts.next()?.to_string();
        Some((uuid, tid))
    };
    let (Some((au, aid)), Some((bu, bid))) = (magic(a), magic(b)) else {
        return Equal;
    };
    if au != bu || aid == bid {
        if bc == -1 {
            return Less;
        } else if ac == -1 {
            return Greater;
        }
    } else if (aid >= 0 && aid < bid) || bid == -1 {
        return Less;
    } else if (bid >= 0 && aid > bid) || aid == -1 {
        return Greater;
    }
    Equal
}

fn unpack_node_lrm(ws: &mut WorkingSet, n: NodeId, st: &Element) {
    let Some(rscs) = st.path(&["lrm", "lrm_resources"]) else {
        return;
    };
    for entry in rscs.children_named("lrm_resource") {
        crate::history::unpack_lrm_resource(ws, n, entry);
    }
}

pub(crate) fn hist_ops(entry: &Element) -> Vec<HistOp<'_>> {
    let mut ops: Vec<HistOp<'_>> = entry
        .children_named("lrm_rsc_op")
        .filter_map(HistOp::from)
        .collect();
    // Pacemaker prepends then stably sorts: ties keep reverse document order.
    ops.reverse();
    ops.sort_by(cmp_ops);
    ops
}

/// Fail count of a resource on a node from the node's attributes, with
/// the time of the last failure.
pub(crate) fn failcount(ws: &WorkingSet, n: NodeId, r: RscId, effective: bool) -> (i32, i64) {
    let rsc = &ws.resources[r];
    let name = rsc.clone_name.as_deref().unwrap_or(&rsc.id);
    let unique = rsc.has(rf::UNIQUE);
    let name = if unique { name } else { clone_strip(name) };
    if !ws.nodes[n].has_fail_attrs {
        return (0, 0);
    }
    let legacy = ws
        .cib
        .attr("crm_feature_set")
        .is_none_or(|v| cib_xml::rules::compare_version(v, "3.0.13").is_lt());
    let matches = |key: &str, prefix: &str| -> bool {
        let Some(rest) = key.strip_prefix(prefix).and_then(|k| k.strip_prefix(name)) else {
            return false;
        };
        let mut rest = rest;
        if !unique {
            if let Some(r2) = rest.strip_prefix(':') {
                let d = r2.bytes().take_while(u8::is_ascii_digit).count();
                if d > 0 {
                    rest = &r2[d..];
                }
            }
        }
        if legacy {
            rest.is_empty()
        } else {
            let Some(r2) = rest.strip_prefix('#') else {
                return false;
            };
            match r2.rfind('_') {
                Some(i) if i > 0 => {
                    let digits = &r2[i + 1..];
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                }
                _ => false,
            }
        }
    };
    let mut count = 0;
    let mut last = 0i64;
    for (k, v) in &ws.nodes[n].attrs {
        if matches(k, "fail-count-") {
            count = cib_xml::score::add(count, parse_score(v, &ws.options.health));
        } else if matches(k, "last-failure-") {
            if let Some(t) = scan_int(v) {
                last = last.max(t);
            }
        }
    }
    if effective
        && count > 0
        && last > 0
        && rsc.failure_timeout > 0
        && ws.now.0 > last + rsc.failure_timeout
    {
        count = 0;
    }
    (count, last)
}

/// Adds an orphan (a resource found only in the status section) at the end
/// of the resource list.
pub(crate) fn add_orphan(ws: &mut WorkingSet, xml: Element) -> RscId {
    let idx_xml = xml.clone();
    let idx = IdIndex::new(&idx_xml);
    let order = ws.resources.len();
    let r = {
        let mut u = ResourceUnpacker {
            ws,
            idx: &idx,
            order,
            shared: Default::default(),
        };
        u.unpack(&xml, None, None)
    };
    let r = r.unwrap_or(0);
    ws.top.push(r);
    r
}

/// Resources by id for constraint lookups (ids of top-level and child
/// resources; clone instances are not addressable by constraints).
pub(crate) fn rsc_by_id(ws: &WorkingSet) -> HashMap<String, RscId> {
    let mut m = HashMap::new();
    for (i, r) in ws.resources.iter().enumerate() {
        let inside_clone = r
            .parent
            .is_some_and(|p| ws.resources[p].variant == Variant::Clone);
        if !inside_clone {
            m.entry(r.id.clone()).or_insert(i);
        }
    }
    m
}

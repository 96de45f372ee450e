//! The warnings and errors a scheduler run raises about its input, each
//! with the two flags Pacemaker keeps for them: whether it makes the
//! configuration suspect (`crm_verify` exits 78 for those; Pacemaker's
//! `pcmk__config_err`/`pcmk__config_warn`, and `pe_err`/`pe_warn`) and
//! whether it marks the run itself (the scheduler daemon saves its input
//! as `pe-error-N`/`pe-warn-N` instead of `pe-input-N`; `pe_proc_err`,
//! `pe_proc_warn`, `pe_err`, `pe_warn`). Messages that set neither are
//! still shown (`crm_verify -VV`).
//!
//! [`diagnose`] reads a scheduled [`WorkingSet`] after the fact: every
//! check is a pure function of what the phases left behind (node states,
//! fence actions, resources, the configuration XML and the phases' own
//! `messages`), so the phases need no extra plumbing.

use std::collections::BTreeSet;

use crate::model::{af, rf, NoQuorumPolicy, NodeKind, Recovery, Variant, WorkingSet};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration (or the cluster) is broken here.
    Error,
    /// Probably not what the administrator meant, or a state to look at.
    Warning,
}

/// One message about the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The configuration is at fault: `crm_verify` fails because of it.
    pub config: bool,
    /// The run is marked by it: its input is kept as pe-error/pe-warn.
    pub processing: bool,
    /// The text, naming the element (resource, node, constraint, op id).
    pub message: String,
}

impl Diagnostic {
    fn new(severity: Severity, config: bool, processing: bool, message: String) -> Diagnostic {
        Diagnostic {
            severity,
            config,
            processing,
            message,
        }
    }
}

/// The diagnostics of a working set that went through [`crate::schedule`]
/// (after [`crate::unpack_cib`] only the unpack-time ones are meaningful),
/// in the order the phases that raise them run.
pub fn diagnose(ws: &WorkingSet) -> Vec<Diagnostic> {
    use Severity::{Error, Warning};
    let mut out = Vec::new();
    // Pacemaker's pe_can_fence for a cluster node.
    let can_fence = |n: usize| {
        ws.options.stonith_enabled
            && (ws.options.have_quorum
                || ws.options.no_quorum_policy == NoQuorumPolicy::Ignore
                || ws.nodes[n].online)
    };

    if !ws.options.startup_fencing {
        out.push(Diagnostic::new(
            Warning,
            false,
            false,
            "Blind faith: not fencing unseen nodes".into(),
        ));
    }
    if !ws.options.have_quorum && ws.options.no_quorum_policy != NoQuorumPolicy::Ignore {
        out.push(Diagnostic::new(
            Warning,
            false,
            false,
            "Fencing and resource management disabled due to lack of quorum".into(),
        ));
    }
    if ws.options.config.get("stonith-action").map(String::as_str) == Some("poweroff") {
        out.push(deprecated(
            "Support for stonith-action of 'poweroff' is deprecated and will be removed in a future release (use 'off' instead)",
        ));
    }
    deprecated_meta(ws, &mut out);
    requires(ws, &mut out);

    let (guests, bundles) = guest_names(ws);
    // Node states recorded for nodes the configuration no longer has.
    if let Some(status) = ws.cib.child("status") {
        for st in status.children_named("node_state") {
            let id = st.attr("id");
            let uname = st.attr("uname");
            if crate::util::is_true(st.attr("remote_node")) {
                continue; // remote and guest nodes are matched to resources
            }
            if uname.is_some_and(|u| guests.contains(u)) {
                continue;
            }
            let known = ws
                .nodes
                .iter()
                .any(|n| id.is_some_and(|i| i == n.id) || uname.is_some_and(|u| u == n.uname));
            if !known {
                if let Some(u) = uname.or(id) {
                    out.push(Diagnostic::new(
                        Warning,
                        true,
                        false,
                        format!(
                            "Ignoring recorded node state for '{u}' because it is no longer in the configuration"
                        ),
                    ));
                }
            }
        }
    }

    for (n, node) in ws.nodes.iter().enumerate() {
        // An unseen node is unclean without a word until it is scheduled
        // for fencing.
        if !node.unclean || node.kind != NodeKind::Member || node.unseen {
            continue;
        }
        let reason = fence_action(ws, n).and_then(|a| ws.actions[a].reason.clone());
        if let Some(reason) = reason {
            out.push(Diagnostic::new(
                Warning,
                false,
                false,
                format!(
                    "Cluster node {} {}: {reason}",
                    node.uname,
                    if can_fence(n) {
                        "will be fenced"
                    } else {
                        "is unclean"
                    }
                ),
            ));
        }
        out.push(Diagnostic::new(
            Warning,
            false,
            true,
            format!("{} is unclean", node.uname),
        ));
    }

    if ws.options.stonith_enabled && !ws.options.have_stonith_resource {
        for line in [
            "Resource start-up disabled since no STONITH resources have been defined",
            "Either configure some or disable STONITH with the stonith-enabled option",
            "NOTE: Clusters with shared data need STONITH to ensure data integrity",
        ] {
            out.push(Diagnostic::new(Error, true, false, line.into()));
        }
    }

    for r in &ws.resources {
        if r.running_on.is_empty()
            || !r.has(rf::ORPHAN)
            || r.variant != Variant::Primitive
            || guests.contains(&r.id)
            || bundles.iter().any(|b| r.id.starts_with(b.as_str()))
            || r.running_on
                .iter()
                .any(|&n| guests.contains(&ws.nodes[n].uname))
        {
            continue;
        }
        for &n in &r.running_on {
            let node = &ws.nodes[n].uname;
            out.push(Diagnostic::new(
                Warning,
                true,
                false,
                if ws.options.stop_orphan_resources {
                    format!("Detected active orphan {} running on {node}", r.id)
                } else {
                    format!(
                        "Resource '{}' must be stopped manually on {node} because cluster is configured not to stop active orphans",
                        r.id
                    )
                },
            ));
        }
    }

    orderings(ws, &mut out);
    target_roles(ws, &mut out);

    // What the unpacking and constraint phases refused.
    for m in &ws.messages {
        out.push(Diagnostic::new(Error, true, false, m.clone()));
    }

    stop_on_fail(ws, &mut out);
    duplicate_ops(ws, &mut out);
    multiply_active(ws, &mut out);

    for a in &ws.actions {
        if a.has(af::PSEUDO) || a.has(af::OPTIONAL) || a.has(af::DC) || a.rsc.is_none() {
            continue;
        }
        let Some(n) = a.node else { continue };
        let node = &ws.nodes[n];
        if !node.online && node.kind == NodeKind::Member {
            out.push(Diagnostic::new(
                Warning,
                false,
                false,
                format!(
                    "{} on {} is unrunnable (node is offline)",
                    a.key, node.uname
                ),
            ));
        } else if node.pending {
            out.push(Diagnostic::new(
                Warning,
                false,
                false,
                format!(
                    "Action {} on {} is unrunnable (node is pending)",
                    a.key, node.uname
                ),
            ));
        }
    }

    for (n, node) in ws.nodes.iter().enumerate() {
        if !node.unclean || node.kind != NodeKind::Member {
            continue;
        }
        if !can_fence(n) {
            out.push(Diagnostic::new(
                Warning,
                true,
                true,
                format!("Node {} is unclean but cannot be fenced", node.uname),
            ));
        } else if fence_action(ws, n).is_some_and(|a| !ws.actions[a].has(af::OPTIONAL)) {
            out.push(Diagnostic::new(
                Warning,
                true,
                true,
                format!("Scheduling node {} for fencing", node.uname),
            ));
        }
    }
    out
}

/// Names of guest nodes (a resource's `remote-node` meta attribute) and
/// bundle replicas: nodes that exist without a `<node>` entry. The
/// scheduler does not model all of them yet, so nothing is said about
/// them rather than something wrong.
fn guest_names(ws: &WorkingSet) -> (BTreeSet<String>, Vec<String>) {
    let mut names = BTreeSet::new();
    let mut bundles = Vec::new();
    if let Some(rscs) = ws.cib.path(&["configuration", "resources"]) {
        rscs.walk(&mut |e| {
            if e.name == "nvpair" && e.attr("name") == Some("remote-node") {
                if let Some(v) = e.attr("value") {
                    names.insert(v.to_string());
                }
            } else if e.name == "bundle" {
                if let Some(id) = e.attr("id") {
                    bundles.push(format!("{id}-"));
                }
            }
        });
    }
    if let Some(status) = ws.cib.child("status") {
        for st in status.children_named("node_state") {
            if let Some(u) = st.attr("uname") {
                if bundles.iter().any(|b| u.starts_with(b.as_str())) {
                    names.insert(u.to_string());
                }
            }
        }
    }
    (names, bundles)
}

/// An explicit `requires` the cluster cannot honour.
fn requires(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    for r in &ws.resources {
        let Some(v) = r.meta.get("requires") else {
            continue;
        };
        let text = if v.eq_ignore_ascii_case("fencing") && !ws.options.stonith_enabled {
            format!("{} requires fencing but fencing is disabled", r.id)
        } else if v.eq_ignore_ascii_case("unfencing") && r.has(rf::FENCE_DEVICE) {
            format!(
                "Resetting \"requires\" for {} to \"quorum\" because fencing devices cannot require unfencing",
                r.id
            )
        } else if v.eq_ignore_ascii_case("unfencing") && !ws.options.stonith_enabled {
            format!(
                "Resetting \"requires\" for {} to \"quorum\" because fencing is disabled",
                r.id
            )
        } else {
            continue;
        };
        out.push(Diagnostic::new(Severity::Warning, true, false, text));
    }
}

/// A target-role of Promoted or Unpromoted outside a promotable clone.
fn target_roles(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    for (i, r) in ws.resources.iter().enumerate() {
        let Some(role) = r.meta.get("target-role") else {
            continue;
        };
        if !["promoted", "unpromoted", "master", "slave"]
            .iter()
            .any(|x| role.eq_ignore_ascii_case(x))
        {
            continue;
        }
        let mut top = i;
        while let Some(p) = ws.resources[top].parent {
            top = p;
        }
        if ws.resources[top].has(rf::PROMOTABLE) {
            continue;
        }
        out.push(Diagnostic::new(
            Severity::Error,
            true,
            false,
            format!(
                "Ignoring 'target-role' for {} because '{role}' only makes sense for promotable clones",
                r.id
            ),
        ));
    }
}

/// A deprecated setting: Pacemaker warns once per kind (`pe_warn_once`).
fn deprecated(text: &str) -> Diagnostic {
    Diagnostic::new(Severity::Warning, true, true, text.into())
}

/// Deprecated resource meta attributes, and unique clones of agents that
/// can only be anonymous.
fn deprecated_meta(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    let mut restart_type = false;
    let mut group_opts = BTreeSet::new();
    for r in &ws.resources {
        match r.variant {
            Variant::Primitive if r.meta.contains_key("restart-type") => restart_type = true,
            Variant::Group => {
                // Only turning them off is deprecated.
                for o in ["ordered", "collocated"] {
                    if r.meta
                        .get(o)
                        .is_some_and(|v| !crate::util::is_true(Some(v)))
                    {
                        group_opts.insert(o);
                    }
                }
            }
            Variant::Clone => {
                let unique =
                    crate::util::is_true(r.meta.get("globally-unique").map(String::as_str));
                let lsb = r.children.first().and_then(|&c| {
                    let child = &ws.resources[c];
                    match child.class.as_deref() {
                        Some(cls @ "lsb") => Some((cls, child.id.as_str())),
                        _ => None,
                    }
                });
                if let (true, Some((cls, child))) = (unique, lsb) {
                    out.push(Diagnostic::new(
                        Severity::Warning,
                        true,
                        true,
                        format!(
                            "Ignoring globally-unique for {} because {cls} resources such as {child} can be used only as anonymous clones",
                            r.id
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if restart_type {
        out.push(deprecated(
            "Support for restart-type is deprecated and will be removed in a future release",
        ));
    }
    for o in group_opts {
        out.push(deprecated(&format!(
            "Support for the '{o}' group meta-attribute is deprecated and will be removed in a future release (use a resource set instead)"
        )));
    }
}

/// Colocations with an invalid influence, ordering constraints with an
/// invalid kind, or the deprecated require-all.
fn orderings(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    let Some(cons) = ws.cib.path(&["configuration", "constraints"]) else {
        return;
    };
    for c in cons.children_named("rsc_colocation") {
        if let Some(v) = c.attr("influence") {
            if crate::util::parse_bool(v).is_none() {
                out.push(Diagnostic::new(
                    Severity::Error,
                    true,
                    false,
                    format!(
                        "Constraint '{}' has invalid value for influence (using default)",
                        c.attr("id").unwrap_or("")
                    ),
                ));
            }
        }
    }
    let mut require_all = false;
    for c in cons.children_named("rsc_order") {
        let id = c.attr("id").unwrap_or("");
        if let Some(kind) = c.attr("kind") {
            if !["mandatory", "optional", "serialize"]
                .iter()
                .any(|k| kind.eq_ignore_ascii_case(k))
            {
                out.push(Diagnostic::new(
                    Severity::Error,
                    true,
                    false,
                    format!(
                        "Resetting 'kind' for constraint {id} to 'Mandatory' because '{kind}' is not valid"
                    ),
                ));
            }
        }
        require_all |= c.attr("require-all").is_some();
    }
    if require_all {
        out.push(deprecated(
            "Support for require-all in ordering constraints is deprecated and will be removed in a future release (use clone-min clone meta-attribute instead)",
        ));
    }
}

/// The node's fence action, if one was created.
fn fence_action(ws: &WorkingSet, n: usize) -> Option<usize> {
    ws.actions
        .iter()
        .position(|a| a.rsc.is_none() && a.task == "stonith" && a.node == Some(n))
}

/// A stop operation whose on-fail would leave the resource's state
/// unknown (standby, demote, stop): Pacemaker uses the default instead,
/// for every stop it schedules.
fn stop_on_fail(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    for (i, r) in ws.resources.iter().enumerate() {
        if r.variant != Variant::Primitive {
            continue;
        }
        let stops = ws
            .actions
            .iter()
            .any(|a| a.rsc == Some(i) && a.task == "stop");
        if !stops {
            continue;
        }
        for op in &r.ops {
            if op.name != "stop" {
                continue;
            }
            let Some(v) = op.xml.attr("on-fail") else {
                continue;
            };
            if ["standby", "demote", "stop"]
                .iter()
                .any(|x| v.eq_ignore_ascii_case(x))
            {
                out.push(Diagnostic::new(
                    Severity::Error,
                    true,
                    false,
                    format!(
                        "Resetting 'on-fail' for {} stop action to default value because '{v}' is not allowed for stop",
                        r.id
                    ),
                ));
            }
        }
    }
}

/// Two `<op>`s of one resource with the same name and interval: the
/// second is ignored (only recurring ones are checked, as Pacemaker does
/// when it creates the recurring actions).
fn duplicate_ops(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    let mut seen_rsc = BTreeSet::new();
    for r in &ws.resources {
        if r.variant != Variant::Primitive || r.has(rf::ORPHAN) {
            continue;
        }
        let Some(cfg_id) = r.xml.attr("id") else {
            continue;
        };
        if !seen_rsc.insert(cfg_id.to_string()) {
            continue;
        }
        for (i, op) in r.ops.iter().enumerate() {
            if op.interval_ms == 0 {
                continue;
            }
            let first = r.ops[..i]
                .iter()
                .find(|o| o.name == op.name && o.interval_ms == op.interval_ms);
            let (Some(first), Some(id)) = (first, op.xml.attr("id")) else {
                continue;
            };
            let Some(first_id) = first.xml.attr("id") else {
                continue;
            };
            out.push(Diagnostic::new(
                Severity::Error,
                true,
                false,
                format!(
                    "Operation {id} is duplicate of {first_id} (do not use same name and interval combination more than once per resource)"
                ),
            ));
        }
    }
}

/// Primitives found active on more than one node (on clean nodes only when
/// they do not need fencing, as those may start elsewhere before it).
fn multiply_active(ws: &WorkingSet, out: &mut Vec<Diagnostic>) {
    for r in &ws.resources {
        if r.variant != Variant::Primitive {
            continue;
        }
        let all = r.running_on.len();
        let clean = r
            .running_on
            .iter()
            .filter(|&&n| !ws.nodes[n].unclean)
            .count();
        let multiple = if r.has(rf::NEEDS_FENCING) {
            all > 1
        } else {
            clean > 1
        };
        if !multiple {
            continue;
        }
        let class = r.xml.attr("class").unwrap_or("Untyped");
        let recovery = match r.recovery {
            Recovery::StopStart => "attempting recovery",
            Recovery::StopOnly => "shutting it down",
            Recovery::Block => "waiting for an administrator",
            Recovery::StopUnexpected => "stopping unexpected instances",
        };
        out.push(Diagnostic::new(
            Severity::Error,
            false,
            true,
            format!(
                "{class} resource {} might be active on {all} nodes ({recovery})",
                r.id
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::time::DateTime;

    const NOW: DateTime = DateTime(1_700_000_000);

    fn diagnose_cib(crm_config: &str, resources: &str, status: &str) -> Vec<Diagnostic> {
        let text = format!(
            r#"<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="o">{crm_config}</cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>{resources}</resources>
    <constraints/>
  </configuration>
  <status>{status}</status>
</cib>"#
        );
        let cib = cib_xml::xml::parse(&text, &cib_xml::Limits::default()).expect("test CIB");
        let ws = crate::schedule(cib, NOW, &crate::Options::default()).expect("schedules");
        diagnose(&ws)
    }

    fn find<'a>(ds: &'a [Diagnostic], text: &str) -> Option<&'a Diagnostic> {
        ds.iter().find(|d| d.message.contains(text))
    }

    const UP: &str = r#"<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"/>"#;
    const DUMMY: &str = r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>"#;
    const FENCE: &str = r#"<primitive id="f" class="stonith" type="fence_dummy"/>"#;

    #[test]
    fn each_diagnostic_says_whom_it_concerns() {
        // (crm_config, resources, status, message, severity, config, processing)
        let no_stonith = r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#;
        let lost = r#"<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"/>
            <node_state id="2" uname="n2" in_ccm="false" crmd="offline" join="down" expected="member"/>"#;
        let two_active = r#"<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources><lrm_resource id="d" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" call-id="1" rc-code="0" op-status="0" interval="0"/></lrm_resource></lrm_resources></lrm></node_state>
            <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="2"><lrm_resources><lrm_resource id="d" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" transition-key="2:1:0:x" transition-magic="0:0;2:1:0:x" call-id="1" rc-code="0" op-status="0" interval="0"/></lrm_resource></lrm_resources></lrm></node_state>"#;
        let cases: &[(&str, String, &str, &str, Severity, bool, bool)] = &[
            (
                "",
                DUMMY.into(),
                UP,
                "no STONITH resources have been defined",
                Severity::Error,
                true,
                false,
            ),
            (
                no_stonith,
                DUMMY.into(),
                UP,
                "Blind faith",
                Severity::Warning,
                false,
                false,
            ),
            (
                "",
                format!("{DUMMY}{FENCE}"),
                lost,
                "Scheduling node n2 for fencing",
                Severity::Warning,
                true,
                true,
            ),
            (
                "",
                format!("{DUMMY}{FENCE}"),
                lost,
                "Cluster node n2 will be fenced",
                Severity::Warning,
                false,
                false,
            ),
            (
                no_stonith,
                DUMMY.into(),
                two_active,
                "ocf resource d might be active on 2 nodes (attempting recovery)",
                Severity::Error,
                false,
                true,
            ),
        ];
        for (cfg, rscs, status, text, sev, config, processing) in cases {
            let ds = diagnose_cib(cfg, rscs, status);
            let Some(d) = find(&ds, text) else {
                panic!("no {text:?} in {ds:#?}");
            };
            assert_eq!(
                (d.severity, d.config, d.processing),
                (*sev, *config, *processing),
                "{text}"
            );
        }
    }

    #[test]
    fn a_healthy_cluster_has_nothing_to_say() {
        // Both nodes seen and up (an unseen node would be fenced).
        let both = format!("{UP}{}", UP.replace("\"1\"", "\"2\"").replace("n1", "n2"));
        let ds = diagnose_cib("", format!("{DUMMY}{FENCE}").as_str(), &both);
        let counted: Vec<&Diagnostic> = ds.iter().filter(|d| d.config || d.processing).collect();
        assert!(counted.is_empty(), "{counted:#?}");
    }
}

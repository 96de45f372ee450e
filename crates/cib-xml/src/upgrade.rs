//! Upgrade of older CIB dialects to the newest schema, as
//! `cibadmin --upgrade --force` does (CIB-LRM-FENCING.md 1.5).
//!
//! Three transformations, each a pure function on the document:
//! - [`from_heartbeat_06`]: Heartbeat 2.1's dialect (no `validate-with`,
//!   or `transitional-0.6`) to pacemaker-1.0: `<attributes>` wrappers
//!   flattened, meta attributes written as XML attributes moved into
//!   `meta_attributes` with their dashed names, operation and constraint
//!   attributes renamed (`from`/`to` orderings become `first`/`then`).
//!   Pacemaker 2.1.5 no longer reads this dialect; this is our own.
//! - [`acls_1_to_2`]: pacemaker-1.x ACLs (`acl_user`, `role_ref`,
//!   `read`/`write`/`deny`) to 2.0's (`acl_target`, `role`,
//!   `acl_permission`).
//! - [`to_3_0`]: the 2.10 -> 3.0 step: deprecated cluster options moved to
//!   `rsc_defaults`/`op_defaults`, renamed or dropped; node `type="normal"`
//!   becomes `member`.

use crate::validate::{self, schema_index, SCHEMAS};
use crate::xml::Element;

/// Upgrades `cib` to the newest schema. `Ok(None)` when it is already
/// there (or validation is off); `Err` names what does not validate after
/// the transformations.
pub fn upgrade(cib: &Element) -> Result<Option<Element>, String> {
    let from = match schema_index(cib.attr("validate-with"))? {
        None => return Ok(None),
        Some(i) => i,
    };
    let latest = SCHEMAS.len() - 1;
    if from == latest && cib.attr("validate-with").is_some() {
        return Ok(None);
    }
    let mut c = cib.clone();
    if matches!(
        cib.attr("validate-with"),
        None | Some("transitional-0.6") | Some("pacemaker-0.6")
    ) {
        from_heartbeat_06(&mut c);
    }
    let idx = |name: &str| SCHEMAS.iter().position(|s| *s == name).unwrap_or(0);
    if from < idx("pacemaker-2.0") {
        acls_1_to_2(&mut c);
    }
    if from < idx("pacemaker-3.0") {
        to_3_0(&mut c);
    }
    c.set_attr("validate-with", SCHEMAS[latest]);
    if let Err(errors) = validate::validate(&c) {
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(format!(
            "the upgraded CIB does not validate: {}",
            msgs.join("; ")
        ));
    }
    Ok(Some(c))
}

/// Heartbeat 2.1 meta attributes that were XML attributes of resources,
/// and their pacemaker-1.0 names.
const META_06: &[(&str, &str)] = &[
    ("is_managed", "is-managed"),
    ("resource_stickiness", "resource-stickiness"),
    ("resource_failure_stickiness", "resource-failure-stickiness"),
    ("target_role", "target-role"),
    ("restart_type", "restart-type"),
    ("multiple_active", "multiple-active"),
    ("migration_threshold", "migration-threshold"),
    ("failure_timeout", "failure-timeout"),
    ("allow_migrate", "allow-migrate"),
    ("clone_max", "clone-max"),
    ("clone_node_max", "clone-node-max"),
    ("master_max", "master-max"),
    ("master_node_max", "master-node-max"),
    ("globally_unique", "globally-unique"),
    ("notify", "notify"),
    ("ordered", "ordered"),
    ("interleave", "interleave"),
    ("collocated", "collocated"),
];

const OP_06: &[(&str, &str)] = &[
    ("prereq", "requires"),
    ("on_fail", "on-fail"),
    ("start_delay", "start-delay"),
    ("disabled", "enabled"),
];

fn dashed(name: &str) -> String {
    META_06
        .iter()
        .find(|(u, _)| *u == name)
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn rename_attr(e: &mut Element, from: &str, to: &str) {
    if let Some(i) = e.attrs.iter().position(|(k, _)| k == from) {
        if e.attr(to).is_some() {
            e.attrs.remove(i);
        } else {
            e.attrs[i].0 = to.to_string();
        }
    }
}

fn flatten_attributes(e: &mut Element) {
    if matches!(
        e.name.as_str(),
        "instance_attributes" | "meta_attributes" | "cluster_property_set" | "utilization"
    ) {
        let mut kids = Vec::new();
        for c in std::mem::take(&mut e.children) {
            if c.name == "attributes" {
                kids.extend(c.children);
            } else {
                kids.push(c);
            }
        }
        e.children = kids;
    }
    for c in &mut e.children {
        flatten_attributes(c);
    }
}

fn convert_resource_06(r: &mut Element) {
    if !matches!(
        r.name.as_str(),
        "primitive" | "group" | "clone" | "master_slave" | "master"
    ) {
        return;
    }
    if r.name == "master_slave" {
        r.name = "master".into();
    }
    let id = r.id().to_string();
    // XML attributes that are meta attributes move into meta_attributes.
    let mut moved = Vec::new();
    r.attrs.retain(|(k, v)| {
        if META_06.iter().any(|(u, _)| u == k) {
            moved.push((dashed(k), v.clone()));
            false
        } else {
            true
        }
    });
    for set in r
        .children
        .iter_mut()
        .filter(|c| c.name == "meta_attributes" || c.name == "instance_attributes")
    {
        for nv in set.children.iter_mut().filter(|c| c.name == "nvpair") {
            if let Some(n) = nv.attr("name").map(dashed) {
                nv.set_attr("name", &n);
            }
        }
    }
    if !moved.is_empty() {
        let pos = r.children.iter().position(|c| c.name == "meta_attributes");
        let set = match pos {
            Some(i) => &mut r.children[i],
            None => {
                r.children.insert(
                    0,
                    Element::new("meta_attributes")
                        .with_attr("id", &format!("{id}-meta_attributes")),
                );
                &mut r.children[0]
            }
        };
        for (name, value) in moved {
            set.children.push(
                Element::new("nvpair")
                    .with_attr("id", &format!("{id}-meta_attributes-{name}"))
                    .with_attr("name", &name)
                    .with_attr("value", &value),
            );
        }
    }
    for ops in r.children.iter_mut().filter(|c| c.name == "operations") {
        for op in ops.children.iter_mut().filter(|c| c.name == "op") {
            for (u, d) in OP_06 {
                if *u == "disabled" {
                    if let Some(v) = op.remove_attr("disabled") {
                        let enabled = if matches!(v.as_str(), "true" | "yes" | "1" | "on") {
                            "false"
                        } else {
                            "true"
                        };
                        op.set_attr("enabled", enabled);
                    }
                } else {
                    rename_attr(op, u, d);
                }
            }
        }
    }
    for c in &mut r.children {
        convert_resource_06(c);
    }
}

/// Heartbeat 2.1 (transitional-0.6) to pacemaker-1.0.
pub fn from_heartbeat_06(cib: &mut Element) {
    for (u, d) in [
        ("have_quorum", "have-quorum"),
        ("dc_uuid", "dc-uuid"),
        ("cib_feature_revision", ""),
    ] {
        if d.is_empty() {
            cib.remove_attr(u);
        } else {
            rename_attr(cib, u, d);
        }
    }
    for a in [
        "generated",
        "ccm_transition",
        "ignore_dtd",
        "num_peers",
        "cib-last-written-by",
    ] {
        cib.remove_attr(a);
    }
    flatten_attributes(cib);
    let Some(config) = cib.child_mut("configuration") else {
        return;
    };
    if let Some(res) = config.child_mut("resources") {
        for r in &mut res.children {
            convert_resource_06(r);
        }
    }
    if let Some(cons) = config.child_mut("constraints") {
        for c in &mut cons.children {
            match c.name.as_str() {
                "rsc_colocation" => {
                    rename_attr(c, "from", "rsc");
                    rename_attr(c, "to", "with-rsc");
                    rename_attr(c, "from_role", "rsc-role");
                    rename_attr(c, "to_role", "with-rsc-role");
                }
                "rsc_order" => {
                    let after = c.remove_attr("type").is_none_or(|t| t != "before");
                    let (from, to) = (c.remove_attr("from"), c.remove_attr("to"));
                    let (action, to_action) = (c.remove_attr("action"), c.remove_attr("to_action"));
                    let (first, then, first_action, then_action) = if after {
                        (to, from, to_action, action)
                    } else {
                        (from, to, action, to_action)
                    };
                    for (k, v) in [
                        ("first", first),
                        ("then", then),
                        ("first-action", first_action),
                        ("then-action", then_action),
                    ] {
                        if let Some(v) = v {
                            c.set_attr(k, &v);
                        }
                    }
                }
                "rsc_location" => {
                    for rule in c.children.iter_mut().filter(|r| r.name == "rule") {
                        rename_attr(rule, "score_attribute", "score-attribute");
                        rename_attr(rule, "boolean_op", "boolean-op");
                    }
                }
                _ => {}
            }
        }
    }
}

/// pacemaker-1.x ACLs to 2.0's.
pub fn acls_1_to_2(cib: &mut Element) {
    let Some(acls) = cib
        .child_mut("configuration")
        .and_then(|c| c.child_mut("acls"))
    else {
        return;
    };
    fn permission(p: &mut Element) {
        if matches!(p.name.as_str(), "read" | "write" | "deny") {
            let kind = std::mem::replace(&mut p.name, "acl_permission".into());
            // kind goes right after id.
            let at = if p.attr("id").is_some() { 1 } else { 0 };
            p.attrs.insert(at.min(p.attrs.len()), ("kind".into(), kind));
            rename_attr(p, "ref", "reference");
            rename_attr(p, "tag", "object-type");
        }
    }
    for a in &mut acls.children {
        match a.name.as_str() {
            "acl_user" => {
                a.name = "acl_target".into();
                for c in &mut a.children {
                    if c.name == "role_ref" {
                        c.name = "role".into();
                    } else {
                        permission(c);
                    }
                }
            }
            "acl_role" => {
                for c in &mut a.children {
                    permission(c);
                }
            }
            _ => {}
        }
    }
}

const RENAMES_3_0: &[(&str, &str)] = &[
    ("no_quorum_policy", "no-quorum-policy"),
    ("stonith_enabled", "stonith-enabled"),
    ("stonith_action", "stonith-action"),
    ("startup_fencing", "startup-fencing"),
    ("symmetric_cluster", "symmetric-cluster"),
    ("stop_orphan_resources", "stop-orphan-resources"),
    ("stop_orphan_actions", "stop-orphan-actions"),
    ("remove_after_stop", "remove-after-stop"),
    ("election_timeout", "election-timeout"),
    ("dc_deadtime", "dc-deadtime"),
    ("shutdown_escalation", "shutdown-escalation"),
    ("cluster_recheck_interval", "cluster-recheck-interval"),
    ("transition_idle_timeout", "cluster-delay"),
];

fn is_variant(name: &str, words: &[&str]) -> bool {
    let parts: Vec<&str> = name.split(['-', '_']).collect();
    parts == words
}

/// Where a deprecated cluster option goes in 3.0.
enum Fate {
    Keep(Option<&'static str>),
    RscDefault(String, String),
    OpDefault(String),
    Drop,
}

fn fate(name: &str, value: &str) -> Fate {
    if is_variant(name, &["is", "managed", "default"]) {
        return Fate::RscDefault("is-managed".into(), value.into());
    }
    if is_variant(name, &["default", "resource", "stickiness"]) {
        return Fate::RscDefault("resource-stickiness".into(), value.into());
    }
    if is_variant(name, &["default", "resource", "failure", "stickiness"]) {
        return if value == "-INFINITY" {
            Fate::RscDefault("migration-threshold".into(), "1".into())
        } else {
            Fate::Drop
        };
    }
    if is_variant(name, &["default", "action", "timeout"]) {
        return Fate::OpDefault("timeout".into());
    }
    if is_variant(name, &["default", "migration", "threshold"])
        || matches!(
            name,
            "expected-quorum-votes" | "notification-agent" | "notification-recipient"
        )
        || (name == "cluster-infrastructure"
            && matches!(
                value,
                "heartbeat"
                    | "openais"
                    | "classic openais"
                    | "classic openais (with plugin)"
                    | "cman"
            ))
    {
        return Fate::Drop;
    }
    Fate::Keep(
        RENAMES_3_0
            .iter()
            .find(|(u, _)| *u == name)
            .map(|(_, d)| *d),
    )
}

/// The pacemaker-2.10 -> 3.0 transformation of cluster options and nodes.
pub fn to_3_0(cib: &mut Element) {
    let Some(config) = cib.child_mut("configuration") else {
        return;
    };
    let mut rsc_defaults = Vec::new();
    let mut op_defaults = Vec::new();
    if let Some(crm) = config.child_mut("crm_config") {
        for set in crm
            .children
            .iter_mut()
            .filter(|s| s.name == "cluster_property_set")
        {
            let mut kept = Vec::new();
            for mut nv in std::mem::take(&mut set.children) {
                if nv.name != "nvpair" {
                    kept.push(nv);
                    continue;
                }
                let name = nv.attr("name").unwrap_or("").to_string();
                let value = nv.attr("value").unwrap_or("").to_string();
                match fate(&name, &value) {
                    Fate::Keep(rename) => {
                        if let Some(r) = rename {
                            nv.set_attr("name", r);
                        }
                        kept.push(nv);
                    }
                    Fate::RscDefault(n, v) => {
                        nv.set_attr("name", &n);
                        nv.set_attr("value", &v);
                        rsc_defaults.push(nv);
                    }
                    Fate::OpDefault(n) => {
                        nv.set_attr("name", &n);
                        op_defaults.push(nv);
                    }
                    Fate::Drop => {}
                }
            }
            set.children = kept;
        }
    }
    for (section, id, items) in [
        ("op_defaults", "_2TO3_-op-defaults", op_defaults),
        ("rsc_defaults", "_2TO3_-rsc-defaults", rsc_defaults),
    ] {
        if items.is_empty() {
            continue;
        }
        let mut set = Element::new("meta_attributes").with_attr("id", id);
        set.children = items;
        match config.child_mut(section) {
            Some(s) => s.children.push(set),
            None => {
                let mut s = Element::new(section);
                s.children.push(set);
                config.children.push(s);
            }
        }
    }
    if let Some(nodes) = config.child_mut("nodes") {
        for n in nodes.children.iter_mut().filter(|n| n.name == "node") {
            if n.attr("type") == Some("normal") {
                n.set_attr("type", "member");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{parse_cib, to_pcmk_pretty};
    use crate::xml::Limits;

    fn p(s: &str) -> Element {
        parse_cib(s, &Limits::default()).unwrap()
    }

    #[test]
    fn pacemaker_1_0_options_as_pacemaker_moves_them() {
        let cib = p(
            r#"<cib validate-with="pacemaker-1.0" epoch="3"><configuration><crm_config><cluster_property_set id="o">
            <nvpair id="o1" name="is_managed_default" value="false"/>
            <nvpair id="o2" name="default-resource-stickiness" value="100"/>
            <nvpair id="o3" name="default_action_timeout" value="60s"/>
            <nvpair id="o4" name="stonith_enabled" value="false"/>
            <nvpair id="o5" name="transition_idle_timeout" value="120s"/>
            <nvpair id="o6" name="cluster-infrastructure" value="heartbeat"/>
            <nvpair id="o7" name="default_resource_failure_stickiness" value="-INFINITY"/>
            <nvpair id="o8" name="expected-quorum-votes" value="2"/>
            </cluster_property_set></crm_config><nodes><node id="n1" uname="n1" type="normal"/></nodes><resources/><constraints/></configuration><status/></cib>"#,
        );
        let up = upgrade(&cib).unwrap().unwrap();
        // What Pacemaker 2.1.5's `cibadmin --upgrade --force` wrote for the same input.
        let want = r#"<cib validate-with="pacemaker-3.9" epoch="3"><configuration><crm_config><cluster_property_set id="o">
            <nvpair id="o4" name="stonith-enabled" value="false"/><nvpair id="o5" name="cluster-delay" value="120s"/>
            </cluster_property_set></crm_config><nodes><node id="n1" uname="n1" type="member"/></nodes><resources/><constraints/>
            <op_defaults><meta_attributes id="_2TO3_-op-defaults"><nvpair id="o3" name="timeout" value="60s"/></meta_attributes></op_defaults>
            <rsc_defaults><meta_attributes id="_2TO3_-rsc-defaults"><nvpair id="o1" name="is-managed" value="false"/><nvpair id="o2" name="resource-stickiness" value="100"/><nvpair id="o7" name="migration-threshold" value="1"/></meta_attributes></rsc_defaults>
            </configuration><status/></cib>"#;
        assert_eq!(to_pcmk_pretty(&up), to_pcmk_pretty(&p(want)));
        // Already the newest: nothing to do.
        assert_eq!(upgrade(&up), Ok(None));
    }

    #[test]
    fn heartbeat_2_1_cib_keeps_resources_and_managed_state() {
        let cib = p(
            r#"<cib admin_epoch="0" epoch="7" num_updates="1" have_quorum="true" generated="true" ccm_transition="2">
          <configuration>
            <crm_config><cluster_property_set id="cib-bootstrap-options"><attributes>
              <nvpair id="o1" name="default_resource_stickiness" value="200"/>
              <nvpair id="o2" name="is_managed_default" value="true"/>
              <nvpair id="o3" name="stonith_enabled" value="false"/>
            </attributes></cluster_property_set></crm_config>
            <nodes><node id="u1" uname="alpha" type="normal"/></nodes>
            <resources>
              <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2" is_managed="false">
                <instance_attributes id="ip-ia"><attributes><nvpair id="ip-1" name="ip" value="10.0.0.9"/></attributes></instance_attributes>
                <operations><op id="ip-mon" name="monitor" interval="10s" on_fail="restart" prereq="nothing"/></operations>
              </primitive>
              <group id="web"><primitive id="apache" class="lsb" type="apache2" target_role="stopped"/></group>
            </resources>
            <constraints>
              <rsc_order id="o" from="web" to="ip" type="after"/>
              <rsc_colocation id="c" from="web" to="ip" score="INFINITY"/>
            </constraints>
          </configuration>
          <status/>
        </cib>"#,
        );
        let up = upgrade(&cib).unwrap().unwrap();
        assert_eq!(up.attr("validate-with"), Some("pacemaker-3.9"));
        assert_eq!(up.attr("have-quorum"), Some("true"));
        assert_eq!(up.attr("generated"), None);
        let ip = up.find_id("ip", Some("primitive")).unwrap();
        let managed = ip
            .find(&|e| e.name == "nvpair" && e.attr("name") == Some("is-managed"))
            .unwrap();
        assert_eq!(managed.attr("value"), Some("false"));
        assert_eq!(
            up.find_id("ip-1", None).unwrap().attr("value"),
            Some("10.0.0.9")
        );
        let op = up.find_id("ip-mon", None).unwrap();
        assert_eq!(
            (op.attr("on-fail"), op.attr("requires")),
            (Some("restart"), Some("nothing"))
        );
        let role = up
            .find_id("apache", None)
            .unwrap()
            .find(&|e| e.attr("name") == Some("target-role"))
            .unwrap();
        assert_eq!(role.attr("value"), Some("stopped"));
        let o = up.find_id("o", None).unwrap();
        assert_eq!((o.attr("first"), o.attr("then")), (Some("ip"), Some("web")));
        let c = up.find_id("c", None).unwrap();
        assert_eq!(
            (c.attr("rsc"), c.attr("with-rsc")),
            (Some("web"), Some("ip"))
        );
        let defaults = up.path(&["configuration", "rsc_defaults"]).unwrap();
        let names: Vec<(&str, &str)> = defaults.children[0]
            .children
            .iter()
            .map(|n| (n.attr("name").unwrap(), n.attr("value").unwrap()))
            .collect();
        assert_eq!(
            names,
            [("resource-stickiness", "200"), ("is-managed", "true")]
        );
        assert!(up.find(&|e| e.name == "attributes").is_none());
        assert_eq!(up.find_id("u1", None).unwrap().attr("type"), Some("member"));
    }

    #[test]
    fn acls_become_targets_and_permissions() {
        let mut cib = p(r#"<cib><configuration><acls>
            <acl_role id="r"><read id="r1" xpath="/cib"/><write id="r2" ref="x" tag="primitive"/></acl_role>
            <acl_user id="u"><role_ref id="r"/><deny id="u1" xpath="//status"/></acl_user>
            </acls></configuration></cib>"#);
        acls_1_to_2(&mut cib);
        let want = p(r#"<cib><configuration><acls>
            <acl_role id="r"><acl_permission id="r1" kind="read" xpath="/cib"/><acl_permission id="r2" kind="write" reference="x" object-type="primitive"/></acl_role>
            <acl_target id="u"><role id="r"/><acl_permission id="u1" kind="deny" xpath="//status"/></acl_target>
            </acls></configuration></cib>"#);
        assert_eq!(to_pcmk_pretty(&cib), to_pcmk_pretty(&want));
    }
}

//! Structural validation of a CIB, standing in for Pacemaker's RELAX NG
//! schemas: the sections that must exist, which elements may appear in
//! each section, the attributes objects need, unique ids within the
//! configuration, and the cluster options a pacemaker-3.x schema forbids.
//! Every error names the element (with its id and source line).
//!
//! `validate-with="none"` turns validation off, as in Pacemaker.

use std::collections::HashMap;
use std::fmt;

use crate::digest::compare_versions;
use crate::xml::Element;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The offending element's name.
    pub element: String,
    /// Its id, if it has one.
    pub id: Option<String>,
    /// Its source line (0 when built, not parsed).
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}", self.element)?;
        if let Some(id) = &self.id {
            write!(f, " id=\"{id}\"")?;
        }
        write!(f, ">")?;
        if self.line > 0 {
            write!(f, " (line {})", self.line)?;
        }
        write!(f, ": {}", self.message)
    }
}

fn err(e: &Element, message: impl Into<String>) -> Invalid {
    Invalid {
        element: e.name.clone(),
        id: e.attr("id").map(str::to_string),
        line: e.line,
        message: message.into(),
    }
}

/// The schemas Pacemaker 2.1.5 knows, oldest first.
pub const SCHEMAS: &[&str] = &[
    "pacemaker-1.0",
    "pacemaker-1.2",
    "pacemaker-1.3",
    "pacemaker-2.0",
    "pacemaker-2.1",
    "pacemaker-2.2",
    "pacemaker-2.3",
    "pacemaker-2.4",
    "pacemaker-2.5",
    "pacemaker-2.6",
    "pacemaker-2.7",
    "pacemaker-2.8",
    "pacemaker-2.9",
    "pacemaker-2.10",
    "pacemaker-3.0",
    "pacemaker-3.1",
    "pacemaker-3.2",
    "pacemaker-3.3",
    "pacemaker-3.4",
    "pacemaker-3.5",
    "pacemaker-3.6",
    "pacemaker-3.7",
    "pacemaker-3.8",
    "pacemaker-3.9",
];

/// `cluster-infrastructure` values the pacemaker-3.x schemas forbid.
pub const FORBIDDEN_3X_STACKS: &[&str] = &[
    "heartbeat",
    "openais",
    "classic openais",
    "classic openais (with plugin)",
    "cman",
];

/// Cluster options the pacemaker-3.x schemas forbid in
/// `cluster_property_set` (moved or renamed by the 2.10 -> 3.0 upgrade).
pub const FORBIDDEN_3X_OPTIONS: &[&str] = &[
    "default-action-timeout",
    "default_action_timeout",
    "default-migration-threshold",
    "default_migration_threshold",
    "default-resource-failure-stickiness",
    "default_resource_failure_stickiness",
    "default-resource-stickiness",
    "default_resource_stickiness",
    "is-managed-default",
    "is_managed_default",
    "no_quorum_policy",
    "stonith_enabled",
    "stonith_action",
    "startup_fencing",
    "symmetric_cluster",
    "stop_orphan_resources",
    "stop_orphan_actions",
    "remove_after_stop",
    "election_timeout",
    "dc_deadtime",
    "shutdown_escalation",
    "cluster_recheck_interval",
    "transition_idle_timeout",
];

const CONFIG_CHILDREN: &[&str] = &[
    "crm_config",
    "nodes",
    "resources",
    "constraints",
    "rsc_defaults",
    "op_defaults",
    "acls",
    "fencing-topology",
    "tags",
    "alerts",
];
const REQUIRED_CONFIG: &[&str] = &["crm_config", "nodes", "resources", "constraints"];
const RESOURCE_KINDS: &[&str] = &[
    "primitive",
    "group",
    "clone",
    "master",
    "bundle",
    "template",
];
const CONSTRAINT_KINDS: &[&str] = &["rsc_location", "rsc_colocation", "rsc_order", "rsc_ticket"];

/// The schema a CIB declares, as an index into [`SCHEMAS`]; `Ok(None)`
/// for `none`, `Err` for a name we do not know.
pub fn schema_index(validate_with: Option<&str>) -> Result<Option<usize>, String> {
    match validate_with {
        Some("none") => Ok(None),
        None
        | Some("transitional-0.6")
        | Some("pacemaker-0.6")
        | Some("pacemaker-0.7")
        | Some("pacemaker-1.1") => Ok(Some(0)),
        Some("pacemaker-next") => Ok(Some(SCHEMAS.len() - 1)),
        Some(v) => SCHEMAS
            .iter()
            .position(|s| *s == v)
            .map(Some)
            .ok_or_else(|| format!("unknown schema \"{v}\" in validate-with")),
    }
}

/// Whether `validate-with` names a pacemaker-3.x (or later) schema,
/// whose rules on cluster options are stricter.
pub fn is_3x_schema(validate_with: &str) -> bool {
    matches!(schema_index(Some(validate_with)), Ok(Some(i))
        if compare_versions(SCHEMAS[i].trim_start_matches("pacemaker-"), "3.0")
            != std::cmp::Ordering::Less)
}

/// Validates a whole CIB; every problem is reported.
pub fn validate(cib: &Element) -> Result<(), Vec<Invalid>> {
    let mut out = Vec::new();
    if cib.name != "cib" {
        return Err(vec![err(cib, "the root element must be <cib>")]);
    }
    let schema = match schema_index(cib.attr("validate-with")) {
        Ok(None) => return Ok(()),
        Ok(Some(i)) => i,
        Err(m) => return Err(vec![err(cib, m)]),
    };
    let v3 = is_3x_schema(SCHEMAS[schema]);
    let rules = SetRules {
        forbid_3x: v3,
        legacy: matches!(
            cib.attr("validate-with"),
            None | Some("transitional-0.6") | Some("pacemaker-0.6") | Some("pacemaker-0.7")
        ),
    };
    for (attr, what) in [
        ("admin_epoch", "admin_epoch"),
        ("epoch", "epoch"),
        ("num_updates", "num_updates"),
    ] {
        if let Some(v) = cib.attr(attr) {
            if v.parse::<u64>().is_err() {
                out.push(err(
                    cib,
                    format!("{what} \"{v}\" is not a non-negative integer"),
                ));
            }
        }
    }
    let Some(config) = cib.child("configuration") else {
        out.push(err(cib, "missing <configuration>"));
        return Err(out);
    };
    for r in REQUIRED_CONFIG {
        if config.child(r).is_none() {
            out.push(err(config, format!("missing <{r}>")));
        }
    }
    for c in config.elements() {
        if !CONFIG_CHILDREN.contains(&c.name.as_str()) {
            out.push(err(c, "element not allowed in <configuration>"));
        }
    }
    for c in cib.elements() {
        if c.name != "configuration" && c.name != "status" {
            out.push(err(c, "element not allowed in <cib>"));
        }
    }
    // Ids in the configuration are unique (xsd:ID).
    let mut seen: HashMap<&str, &Element> = HashMap::new();
    config.walk(&mut |e| {
        // Node ids are plain text, and these elements' ids are references.
        if e.is_comment()
            || e.attr("id-ref").is_some()
            || matches!(
                e.name.as_str(),
                "node" | "resource_ref" | "obj_ref" | "role"
            )
        {
            return;
        }
        if let Some(id) = e.attr("id") {
            if id.is_empty() {
                out.push(err(e, "empty id"));
            } else if !is_xml_id(id) {
                out.push(err(
                    e,
                    format!(
                        "id \"{id}\" is not a valid XML id (it must start with a letter or '_' \
                         and hold only letters, digits, '.', '-' and '_')"
                    ),
                ));
            } else if let Some(first) = seen.get(id) {
                out.push(err(
                    e,
                    format!(
                        "id \"{id}\" is already used by <{}> on line {}",
                        first.name, first.line
                    ),
                ));
            } else {
                seen.insert(id, e);
            }
        }
    });
    if let Some(s) = config.child("crm_config") {
        for set in s.elements() {
            if set.name != "cluster_property_set" {
                out.push(err(
                    set,
                    "only <cluster_property_set> is allowed in <crm_config>",
                ));
                continue;
            }
            need_id(set, &mut out);
            nvset(set, rules, &mut out);
        }
    }
    if let Some(s) = config.child("nodes") {
        for n in s.elements() {
            if n.name != "node" {
                out.push(err(n, "only <node> is allowed in <nodes>"));
                continue;
            }
            need_id(n, &mut out);
            if n.attr("uname").is_none() {
                out.push(err(n, "missing uname"));
            }
            for set in n.elements() {
                nvset(set, rules.any_set(), &mut out);
            }
        }
    }
    if let Some(s) = config.child("resources") {
        for r in s.elements() {
            resource(r, rules, &mut out);
        }
    }
    if let Some(s) = config.child("constraints") {
        for c in s.elements() {
            constraint(c, &mut out);
        }
    }
    for d in ["rsc_defaults", "op_defaults"] {
        if let Some(s) = config.child(d) {
            for set in s.elements() {
                if set.name != "meta_attributes" {
                    out.push(err(
                        set,
                        format!("only <meta_attributes> is allowed in <{d}>"),
                    ));
                }
                nvset(set, rules.any_set(), &mut out);
            }
        }
    }
    if let Some(st) = cib.child("status") {
        for ns in st.elements() {
            // Pacemaker's status schema is open (tickets, stray lrm
            // entries); only node_state entries are checked.
            if ns.name == "node_state" {
                need_id(ns, &mut out);
            }
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// Whether `id` is an XML NCName, as the schemas' xsd:ID requires: a
/// letter or '_' first, then letters, digits, '.', '-', '_' (no spaces or
/// colons). Non-ASCII letters are allowed as XML allows them.
fn is_xml_id(id: &str) -> bool {
    let mut chars = id.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| {
            c.is_alphanumeric()
                || matches!(c, '.' | '-' | '_')
                || (!c.is_ascii() && !c.is_whitespace())
        })
}

fn need_id(e: &Element, out: &mut Vec<Invalid>) {
    if e.attr("id").is_none() && e.attr("id-ref").is_none() {
        out.push(err(e, "missing id"));
    }
}

/// What a schema allows in blocks of name/value pairs.
#[derive(Debug, Clone, Copy)]
struct SetRules {
    /// Cluster options the pacemaker-3.x schemas forbid are refused
    /// (crm_config only).
    forbid_3x: bool,
    /// Heartbeat 2.1's CIB (no validate-with, transitional-0.6,
    /// pacemaker-0.6/0.7) wraps the pairs in `<attributes>`; the upgrade
    /// flattens them.
    legacy: bool,
}

impl SetRules {
    /// The rules for sets outside crm_config.
    fn any_set(self) -> SetRules {
        SetRules {
            forbid_3x: false,
            ..self
        }
    }
}

fn nvset(set: &Element, rules: SetRules, out: &mut Vec<Invalid>) {
    if set.attr("id-ref").is_some() {
        return;
    }
    need_id(set, out);
    nvpairs(set, set, rules, out);
}

fn nvpairs(set: &Element, holder: &Element, rules: SetRules, out: &mut Vec<Invalid>) {
    let forbid_3x = rules.forbid_3x;
    for nv in holder.elements() {
        match nv.name.as_str() {
            "attributes" if rules.legacy && holder.name != "attributes" => {
                nvpairs(set, nv, rules, out)
            }
            "nvpair" => {
                if nv.attr("id-ref").is_some() {
                    continue;
                }
                need_id(nv, out);
                match nv.attr("name") {
                    None => out.push(err(nv, "missing name")),
                    Some(n) if forbid_3x && FORBIDDEN_3X_OPTIONS.contains(&n) => out.push(err(
                        nv,
                        format!("cluster option \"{n}\" is not allowed by pacemaker-3.x schemas (run cibadmin --upgrade)"),
                    )),
                    Some("cluster-infrastructure")
                        if forbid_3x
                            && nv.attr("value").is_some_and(|v| {
                                FORBIDDEN_3X_STACKS.contains(&v.split_whitespace().collect::<Vec<_>>().join(" ").as_str())
                            }) =>
                    {
                        out.push(err(
                            nv,
                            "cluster-infrastructure names a cluster layer the pacemaker-3.x schemas do not allow",
                        ))
                    }
                    Some(_) => {}
                }
            }
            "rule" => need_id(nv, out),
            other => out.push(err(
                nv,
                format!("<{other}> is not allowed in <{}>", set.name),
            )),
        }
    }
}

fn resource(r: &Element, rules: SetRules, out: &mut Vec<Invalid>) {
    if !RESOURCE_KINDS.contains(&r.name.as_str()) {
        out.push(err(r, "not a resource element"));
        return;
    }
    need_id(r, out);
    match r.name.as_str() {
        "primitive" => {
            if r.attr("template").is_none() && r.attr("type").is_none() {
                out.push(err(r, "missing type (or template)"));
            }
            if r.attr("template").is_none() && r.attr("class").is_none() {
                out.push(err(r, "missing class (or template)"));
            }
            if r.attr("class") == Some("ocf") && r.attr("provider").is_none() {
                out.push(err(r, "an ocf resource needs a provider"));
            }
        }
        "template" if r.attr("type").is_none() || r.attr("class").is_none() => {
            out.push(err(r, "missing class or type"));
        }
        "group" => {
            if !r.elements().any(|c| c.name == "primitive") {
                out.push(err(r, "a group must contain at least one primitive"));
            }
            for c in r
                .elements()
                .filter(|c| RESOURCE_KINDS.contains(&c.name.as_str()))
            {
                if c.name != "primitive" {
                    out.push(err(c, "a group may contain only primitives"));
                }
                resource(c, rules, out);
            }
        }
        "clone" | "master" => {
            let kids: Vec<&Element> = r
                .elements()
                .filter(|c| RESOURCE_KINDS.contains(&c.name.as_str()))
                .collect();
            if kids.len() != 1 {
                out.push(err(
                    r,
                    "a clone must contain exactly one primitive or group",
                ));
            }
            for c in kids {
                resource(c, rules, out);
            }
        }
        _ => {}
    }
    for set in r.elements() {
        match set.name.as_str() {
            "instance_attributes" | "meta_attributes" | "utilization" => {
                nvset(set, rules.any_set(), out)
            }
            "operations" => {
                for op in set.elements() {
                    if op.name != "op" {
                        out.push(err(op, "only <op> is allowed in <operations>"));
                        continue;
                    }
                    need_id(op, out);
                    if op.attr("id-ref").is_none()
                        && (op.attr("name").is_none() || op.attr("interval").is_none())
                    {
                        out.push(err(op, "an operation needs name and interval"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn constraint(c: &Element, out: &mut Vec<Invalid>) {
    if !CONSTRAINT_KINDS.contains(&c.name.as_str()) {
        out.push(err(c, "not a constraint element"));
        return;
    }
    need_id(c, out);
    let sets = c.child("resource_set").is_some();
    let needs: &[&[&str]] = match c.name.as_str() {
        "rsc_location" => &[&["rsc", "rsc-pattern"]],
        "rsc_colocation" => &[&["rsc"], &["with-rsc"]],
        "rsc_order" => &[&["first"], &["then"]],
        _ => &[&["rsc"]],
    };
    if !sets {
        for alternatives in needs {
            if !alternatives.iter().any(|a| c.attr(a).is_some()) {
                out.push(err(
                    c,
                    format!("missing {} (or a resource_set)", alternatives.join(" or ")),
                ));
            }
        }
    }
    if c.name == "rsc_ticket" && c.attr("ticket").is_none() {
        out.push(err(c, "missing ticket"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    const GOOD: &str = r#"<cib validate-with="pacemaker-3.7" epoch="1"><configuration>
      <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
      <nodes><node id="1" uname="a"/></nodes>
      <resources><group id="g"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></group></resources>
      <constraints><rsc_location id="l" rsc="g" node="a" score="10"/></constraints>
    </configuration><status><node_state id="1"/></status></cib>"#;

    fn check(edit: (&str, &str), want: &str) {
        let text = GOOD.replacen(edit.0, edit.1, 1);
        assert_ne!(text, GOOD, "edit {edit:?} did not apply");
        let cib = parse_cib(&text, &Limits::default()).unwrap();
        let errs = validate(&cib).expect_err(want);
        let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(all.iter().any(|e| e.contains(want)), "{edit:?}: {all:?}");
    }

    #[test]
    fn ids_must_be_xml_ids() {
        check(
            (r#"nvpair id="o1""#, r#"nvpair id="bad id""#),
            "\"bad id\" is not a valid XML id",
        );
        check(
            (r#"group id="g""#, r#"group id="1g""#),
            "is not a valid XML id",
        );
        check(
            (r#"rsc_location id="l""#, r#"rsc_location id="a:b""#),
            "is not a valid XML id",
        );
        // Letters beyond ASCII, digits, '.', '-' and '_' are fine.
        let text = GOOD.replacen(r#"nvpair id="o1""#, r#"nvpair id="_é.1-x""#, 1);
        let cib = parse_cib(&text, &Limits::default()).unwrap();
        assert_eq!(validate(&cib), Ok(()));
    }

    #[test]
    fn accepts_a_good_cib() {
        let cib = parse_cib(GOOD, &Limits::default()).unwrap();
        assert_eq!(validate(&cib), Ok(()));
        let off = parse_cib(
            &GOOD
                .replace("pacemaker-3.7", "none")
                .replace("<nodes>", "<bogus/><nodes>"),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(validate(&off), Ok(()));
    }

    #[test]
    fn names_the_offending_element() {
        let table = [
            (
                (
                    "<constraints>",
                    "<constraints><rsc_order id=\"o\" first=\"g\"/>",
                ),
                "<rsc_order id=\"o\"> (line 5): missing then",
            ),
            (
                ("type=\"Dummy\"", ""),
                "<primitive id=\"p\"> (line 4): missing type",
            ),
            (
                ("provider=\"heartbeat\"", ""),
                "an ocf resource needs a provider",
            ),
            (
                (
                    "<group id=\"g\">",
                    "<group id=\"g\"><primitive id=\"p\" class=\"lsb\" type=\"x\"/>",
                ),
                "<primitive id=\"p\"> (line 4): id \"p\" is already used by <primitive> on line 4",
            ),
            (
                ("name=\"stonith-enabled\"", "name=\"is_managed_default\""),
                "<nvpair id=\"o1\"> (line 2): cluster option \"is_managed_default\"",
            ),
            (
                ("<crm_config>", "<crm_config><nvpair id=\"x\" name=\"y\"/>"),
                "only <cluster_property_set>",
            ),
            (
                ("<resources>", "<resources><toaster id=\"t\"/>"),
                "<toaster id=\"t\"> (line 4): not a resource element",
            ),
            (
                ("<nodes><node id=\"1\" uname=\"a\"/></nodes>", ""),
                "missing <nodes>",
            ),
            (
                (
                    "name=\"stonith-enabled\" value=\"false\"",
                    "name=\"cluster-infrastructure\" value=\"heartbeat\"",
                ),
                "<nvpair id=\"o1\"> (line 2): cluster-infrastructure names a cluster layer",
            ),
            (("pacemaker-3.7", "pacemaker-7.0"), "unknown schema"),
            (("epoch=\"1\"", "epoch=\"x\""), "epoch \"x\""),
        ];
        for (edit, want) in table {
            check(edit, want);
        }
    }

    #[test]
    fn heartbeat_2_1_attributes_wrappers_are_fine_only_in_its_dialect() {
        let wrapped = GOOD.replace(
            r#"<nvpair id="o1" name="stonith-enabled" value="false"/>"#,
            r#"<attributes><nvpair id="o1" name="stonith_enabled" value="false"/></attributes>"#,
        );
        let legacy = wrapped.replace(r#"validate-with="pacemaker-3.7" "#, "");
        assert_eq!(
            validate(&parse_cib(&legacy, &Limits::default()).unwrap()),
            Ok(())
        );
        let errors = validate(&parse_cib(&wrapped, &Limits::default()).unwrap()).unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("<attributes> is not allowed"),
            "{errors:?}"
        );
    }

    #[test]
    fn old_option_names_are_fine_before_3_0() {
        let text = GOOD
            .replace("pacemaker-3.7", "pacemaker-1.0")
            .replace("stonith-enabled", "stonith_enabled");
        assert_eq!(
            validate(&parse_cib(&text, &Limits::default()).unwrap()),
            Ok(())
        );
    }
}

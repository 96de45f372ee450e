//! crm_failcount's query, as Pacemaker's crm_failcount computes it: the
//! sum of the node's transient `fail-count-RSC#OP_INTERVAL` values
//! (INFINITY when one is, or when the sum reaches 1000000), or with
//! `--operation` that one value; when that is 0, the legacy total
//! `fail-count-RSC` is shown instead (0 when absent).

use cib_xml::Element;

/// The answer: the attribute name shown and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// `fail-count-RSC` or `fail-count-RSC#OP_INTERVAL`.
    pub name: String,
    /// A number or `INFINITY`.
    pub value: String,
}

/// The transient attributes of node `uname` (name, value), or None when
/// the CIB has no such node at all.
fn transient(cib: &Element, uname: &str) -> Option<Vec<(String, String)>> {
    let configured = cib
        .path(&["configuration", "nodes"])
        .map(|ns| {
            ns.children_named("node")
                .find(|n| n.attr("uname") == Some(uname))
                .and_then(|n| n.attr("id"))
        })
        .unwrap_or(None);
    let status = cib.child("status");
    let state = status.and_then(|s| {
        s.children_named("node_state").find(|st| {
            st.attr("uname") == Some(uname) || (configured.is_some() && st.attr("id") == configured)
        })
    });
    if configured.is_none() && state.is_none() {
        return None;
    }
    let mut out = Vec::new();
    if let Some(state) = state {
        for ta in state.children_named("transient_attributes") {
            for set in ta.children_named("instance_attributes") {
                for nv in set.children_named("nvpair") {
                    if let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) {
                        out.push((n.to_string(), v.to_string()));
                    }
                }
            }
        }
    }
    Some(out)
}

/// The fail count of `rsc` on node `uname` (`op`: name and interval in
/// ms). None when the node is unknown.
pub fn query(cib: &Element, uname: &str, rsc: &str, op: Option<(&str, u64)>) -> Option<Count> {
    let attrs = transient(cib, uname)?;
    let total_name = format!("fail-count-{rsc}");
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let (mut name, value) = match op {
        Some((task, interval)) => {
            let name = format!("{total_name}#{task}_{interval}");
            let v = get(&name).unwrap_or_else(|| "0".into());
            (name, v)
        }
        None => {
            let prefix = format!("{total_name}#");
            let mut sum: u64 = 0;
            let mut infinity = false;
            for (n, v) in &attrs {
                if !n.starts_with(&prefix) {
                    continue;
                }
                if v == "INFINITY" {
                    infinity = true;
                } else if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    sum = sum.saturating_add(v.parse::<u64>().unwrap_or(u64::MAX));
                }
            }
            let v = if infinity || sum >= 1_000_000 {
                "INFINITY".to_string()
            } else {
                sum.to_string()
            };
            (total_name.clone(), v)
        }
    };
    if value == "0" {
        let legacy = get(&total_name).unwrap_or_else(|| "0".into());
        if legacy != "0" {
            name = total_name;
        }
        return Some(Count {
            name,
            value: legacy,
        });
    }
    Some(Count { name, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::doc::parse_cib;
    use cib_xml::Limits;

    fn cib(attrs: &str) -> Element {
        let text = format!(
            r#"<cib><configuration><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes></configuration>
<status><node_state id="1" uname="n1"><transient_attributes id="1"><instance_attributes id="s1">{attrs}</instance_attributes></transient_attributes></node_state></status></cib>"#
        );
        parse_cib(&text, &Limits::default()).expect("parse")
    }

    fn nv(name: &str, value: &str) -> String {
        format!(
            r#"<nvpair id="x-{}" name="{name}" value="{value}"/>"#,
            name.replace('#', ".")
        )
    }

    #[test]
    fn counts_are_summed_per_resource_and_capped_at_infinity() {
        let c = cib(&[
            nv("fail-count-d#monitor_10000", "2"),
            nv("fail-count-d#start_0", "3"),
            nv("fail-count-dd#start_0", "7"),
        ]
        .concat());
        let q = query(&c, "n1", "d", None).expect("node");
        assert_eq!((q.name.as_str(), q.value.as_str()), ("fail-count-d", "5"));
        let q = query(&c, "n1", "d", Some(("monitor", 10000))).expect("node");
        assert_eq!(
            (q.name.as_str(), q.value.as_str()),
            ("fail-count-d#monitor_10000", "2")
        );
        let c = cib(&[
            nv("fail-count-d#a_0", "999999"),
            nv("fail-count-d#b_0", "1"),
        ]
        .concat());
        assert_eq!(query(&c, "n1", "d", None).expect("node").value, "INFINITY");
    }

    #[test]
    fn the_legacy_total_is_shown_when_no_operation_counted() {
        let c = cib(&nv("fail-count-d", "4"));
        let q = query(&c, "n1", "d", None).expect("node");
        assert_eq!((q.name.as_str(), q.value.as_str()), ("fail-count-d", "4"));
        let q = query(&c, "n1", "d", Some(("monitor", 0))).expect("node");
        assert_eq!((q.name.as_str(), q.value.as_str()), ("fail-count-d", "4"));
        // A configured node without a status entry has no failures.
        let q = query(&c, "n2", "d", None).expect("node");
        assert_eq!(q.value, "0");
        assert!(query(&c, "nosuch", "d", None).is_none());
    }
}

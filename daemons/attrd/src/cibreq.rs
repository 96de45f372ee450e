//! The CIB requests attrd sends, pure: where a node's attributes live and
//! the XML of a batch.
//!
//! Layout (Pacemaker's, with the node's Heartbeat uuid as its id):
//! transient values in
//! `status/node_state[@id=U]/transient_attributes[@id=U]/instance_attributes[@id=status-U]/nvpair[@id=status-U-NAME]`,
//! permanent ones in
//! `configuration/nodes/node[@id=U]/instance_attributes[@id=nodes-U]/nvpair[@id=nodes-U-NAME]`;
//! the node_state and node entries are created (with `uname`) when
//! missing, as Pacemaker's attrd and controller do (the node entry with
//! every batch: a merge that changes nothing does not touch the
//! configuration).
//!
//! A batch is one modify of the whole CIB carrying every value set (both
//! sections; missing elements are created by the merge), plus, only when
//! values were deleted, one delete per section listing every nvpair to
//! remove (the cib's modify cannot remove; Pacemaker's attrd uses the
//! cib's mixed-update flag for that, which our cib does not have).

use attrdapi::Lifetime;
use cib_xml::Element;
use cibapi::{OpKind, OpRequest};

use crate::core::Batch;

/// An id made of text that may hold characters XML ids do not allow:
/// those become `_` (as Pacemaker's `crm_xml_sanitize_id`), and a first
/// character that may not start an id gets a `_` before it.
pub fn sanitize_id(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// The id of the node's attribute set for `lifetime`.
pub fn set_id(uuid: &str, lifetime: Lifetime) -> String {
    let prefix = match lifetime {
        Lifetime::Reboot => "status",
        Lifetime::Forever => "nodes",
    };
    sanitize_id(&format!("{prefix}-{uuid}"))
}

/// The id of the nvpair of attribute `name`.
pub fn nvpair_id(uuid: &str, lifetime: Lifetime, name: &str) -> String {
    sanitize_id(&format!("{}-{name}", set_id(uuid, lifetime)))
}

/// The requests writing `batch` for node `uname` with id `uuid`.
pub fn batch_requests(uname: &str, uuid: &str, batch: &Batch) -> Vec<OpRequest> {
    let mut out = Vec::new();
    let pairs = |lifetime: Lifetime| -> Vec<Element> {
        batch
            .set
            .iter()
            .filter(|(_, _, l)| *l == lifetime)
            .map(|(name, value, _)| {
                Element::new("nvpair")
                    .with_attr("id", &nvpair_id(uuid, lifetime, name))
                    .with_attr("name", name)
                    .with_attr("value", value)
            })
            .collect()
    };
    let (transient, permanent) = (pairs(Lifetime::Reboot), pairs(Lifetime::Forever));
    if !transient.is_empty() || !permanent.is_empty() {
        let mut cib = Element::new("cib");
        // The node's entry in the nodes section comes with every batch:
        // created when missing (so tools and constraints see the node and
        // its attributes before a controller adds it), unchanged otherwise.
        let mut node = Element::new("node")
            .with_attr("id", uuid)
            .with_attr("uname", uname);
        if !permanent.is_empty() {
            let mut set = Element::new("instance_attributes")
                .with_attr("id", &set_id(uuid, Lifetime::Forever));
            set.children = permanent;
            node.children.push(set);
        }
        let mut nodes = Element::new("nodes");
        nodes.children.push(node);
        let mut config = Element::new("configuration");
        config.children.push(nodes);
        cib.children.push(config);
        if !transient.is_empty() {
            let mut set = Element::new("instance_attributes")
                .with_attr("id", &set_id(uuid, Lifetime::Reboot));
            set.children = transient;
            let mut ta = Element::new("transient_attributes").with_attr("id", uuid);
            ta.children.push(set);
            let mut ns = Element::new("node_state")
                .with_attr("id", uuid)
                .with_attr("uname", uname);
            ns.children.push(ta);
            let mut status = Element::new("status");
            status.children.push(ns);
            cib.children.push(status);
        }
        let mut r = OpRequest::new(OpKind::Modify);
        r.data = Some(cib.to_compact());
        r.allow_create = true;
        out.push(r);
    }
    for (lifetime, section) in [(Lifetime::Reboot, "status"), (Lifetime::Forever, "nodes")] {
        let gone: Vec<Element> = batch
            .delete
            .iter()
            .filter(|(_, l)| *l == lifetime)
            .map(|(name, _)| {
                Element::new("nvpair").with_attr("id", &nvpair_id(uuid, lifetime, name))
            })
            .collect();
        if gone.is_empty() {
            continue;
        }
        let mut root = Element::new(section);
        root.children = gone;
        let mut r = OpRequest::new(OpKind::Delete);
        r.section = Some(section.into());
        r.data = Some(root.to_compact());
        out.push(r);
    }
    out
}

/// The request removing the node's transient attributes (when its attrd
/// starts: a node that starts again starts clean).
pub fn clear_transient(uuid: &str) -> OpRequest {
    let mut status = Element::new("status");
    status
        .children
        .push(Element::new("transient_attributes").with_attr("id", uuid));
    let mut r = OpRequest::new(OpKind::Delete);
    r.section = Some("status".into());
    r.data = Some(status.to_compact());
    r
}

/// The query for the nodes section (permanent attributes at start).
pub fn query_nodes() -> OpRequest {
    let mut r = OpRequest::new(OpKind::Query);
    r.section = Some("nodes".into());
    r.local = true;
    r
}

/// The node's permanent attributes in an answer to [`query_nodes`]: the
/// nvpairs of its `nodes-U` set.
pub fn permanent_values(nodes_xml: &str, uuid: &str) -> Result<Vec<(String, String)>, String> {
    let nodes = cib_xml::doc::parse_cib(nodes_xml, &cib_xml::Limits::default())
        .map_err(|e| e.to_string())?;
    let set = set_id(uuid, Lifetime::Forever);
    Ok(nodes
        .children_named("node")
        .filter(|n| n.attr("id") == Some(uuid))
        .flat_map(|n| n.children_named("instance_attributes"))
        .filter(|s| s.attr("id") == Some(set.as_str()))
        .flat_map(|s| s.children_named("nvpair"))
        .filter_map(|p| Some((p.attr("name")?.to_string(), p.attr("value")?.to_string())))
        .collect())
}

/// Whether a CIB change (a v2 patchset, as the cib pushes it) removed
/// something of the node's status entry (its transient attributes, or the
/// whole `node_state`), as a controller does when it thinks the node
/// left: the node's values are then written again, as Pacemaker's attrd
/// does after a status change by another client. Unparsable patches
/// count as such a removal (writing again changes nothing when the values
/// are there).
pub fn removes_node_status(patch_xml: &str, uuid: &str) -> bool {
    let Ok(diff) = cib_xml::xml::parse(patch_xml, &cib_xml::Limits::default()) else {
        return true;
    };
    let ours = format!("/node_state[@id='{uuid}']");
    let status = "/cib/status";
    let removed = diff.children_named("change").any(|c| {
        let path = c.attr("path").unwrap_or("");
        c.attr("operation") == Some("delete")
            && path.starts_with(status)
            && (path.contains(&ours) || path == status)
    });
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::ops::{self, perform, Op, Outcome, Request};

    const U: &str = "0a1b2c3d-0000-4000-8000-00000000beef";

    fn run(cib: &cib_xml::Element, r: &OpRequest) -> cib_xml::Element {
        let data = r
            .data
            .as_deref()
            .map(|d| cib_xml::doc::parse_cib(d, &cib_xml::Limits::default()).unwrap());
        let op = match r.op {
            OpKind::Modify => Op::Modify,
            OpKind::Delete => Op::Delete,
            other => panic!("{other:?}"),
        };
        let mut req = Request::new(op);
        req.section = r.section.as_deref();
        req.data = data.as_ref();
        req.allow_create = r.allow_create;
        match perform(cib, &req) {
            Ok(Outcome::Changed { cib, .. }) => cib,
            Ok(Outcome::Unchanged) => cib.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn value_at(cib: &cib_xml::Element, path: &[&str], id: &str) -> Option<String> {
        cib.path(path)?
            .find_id(id, Some("nvpair"))
            .and_then(|p| p.attr("value").map(str::to_string))
    }

    #[test]
    fn ids_are_xml_ids() {
        assert_eq!(sanitize_id("status-x-node2-eth0"), "status-x-node2-eth0");
        assert_eq!(sanitize_id("a b:c/d"), "a_b_c_d");
        assert_eq!(sanitize_id("0abc"), "_0abc");
        assert_eq!(
            nvpair_id(U, Lifetime::Reboot, "pingd"),
            format!("status-{U}-pingd")
        );
        assert_eq!(
            nvpair_id(U, Lifetime::Forever, "/dev/ttyS0"),
            format!("nodes-{U}-_dev_ttyS0")
        );
    }

    #[test]
    fn a_batch_creates_the_node_entries_and_writes_both_sections_then_deletes() {
        let cib = ops::empty_cib();
        let b = Batch {
            set: vec![
                ("a".into(), "1".into(), Lifetime::Reboot),
                ("b".into(), "x y".into(), Lifetime::Reboot),
                ("p".into(), "2".into(), Lifetime::Forever),
            ],
            delete: vec![],
        };
        let reqs = batch_requests("node1", U, &b);
        assert_eq!(reqs.len(), 1, "one update for every set value");
        let cib = run(&cib, &reqs[0]);
        cib_xml::validate::validate(&cib).unwrap();
        let ns = cib
            .path(&["status", "node_state"])
            .expect("node_state created");
        assert_eq!((ns.attr("id"), ns.attr("uname")), (Some(U), Some("node1")));
        let ta = ns.child("transient_attributes").unwrap();
        assert_eq!(ta.attr("id"), Some(U));
        assert_eq!(
            value_at(&cib, &["status"], &format!("status-{U}-b")).as_deref(),
            Some("x y")
        );
        let node = cib.path(&["configuration", "nodes", "node"]).unwrap();
        assert_eq!(
            (node.attr("id"), node.attr("uname")),
            (Some(U), Some("node1"))
        );
        assert_eq!(
            value_at(&cib, &["configuration", "nodes"], &format!("nodes-{U}-p")).as_deref(),
            Some("2")
        );
        // Deleting one of each; the other transient value stays.
        let b = Batch {
            set: vec![("a".into(), "3".into(), Lifetime::Reboot)],
            delete: vec![
                ("b".into(), Lifetime::Reboot),
                ("p".into(), Lifetime::Forever),
            ],
        };
        let reqs = batch_requests("node1", U, &b);
        assert_eq!(reqs.len(), 3);
        let mut cib = cib;
        for r in &reqs {
            cib = run(&cib, r);
        }
        assert_eq!(
            value_at(&cib, &["status"], &format!("status-{U}-a")).as_deref(),
            Some("3")
        );
        assert_eq!(value_at(&cib, &["status"], &format!("status-{U}-b")), None);
        assert_eq!(
            value_at(&cib, &["configuration", "nodes"], &format!("nodes-{U}-p")),
            None
        );
        assert_eq!(
            permanent_values(
                &cib.path(&["configuration", "nodes"]).unwrap().to_compact(),
                U
            ),
            Ok(vec![])
        );
        // Clearing at start removes the whole transient block.
        let cib = run(&cib, &clear_transient(U));
        assert!(cib
            .path(&["status", "node_state", "transient_attributes"])
            .is_none());
        assert!(cib.path(&["status", "node_state"]).is_some());
    }

    #[test]
    fn the_node_entry_is_made_once_and_transient_batches_leave_the_configuration() {
        let epoch = |c: &cib_xml::Element| cib_xml::version::Version::of(c).epoch;
        let t = |v: &str| Batch {
            set: vec![("a".into(), v.into(), Lifetime::Reboot)],
            delete: vec![],
        };
        let cib0 = ops::empty_cib();
        let cib1 = run(&cib0, &batch_requests("node1", U, &t("1"))[0]);
        let node = cib1
            .path(&["configuration", "nodes", "node"])
            .expect("node entry");
        assert_eq!(
            (node.attr("id"), node.attr("uname")),
            (Some(U), Some("node1"))
        );
        assert_eq!(epoch(&cib1), epoch(&cib0) + 1);
        let cib2 = run(&cib1, &batch_requests("node1", U, &t("2"))[0]);
        assert_eq!(
            epoch(&cib2),
            epoch(&cib1),
            "a status change bumped the epoch"
        );
        assert_eq!(
            value_at(&cib2, &["status"], &format!("status-{U}-a")).as_deref(),
            Some("2")
        );
    }

    #[test]
    fn removals_of_the_nodes_status_are_noticed_in_patches() {
        let b = Batch {
            set: vec![("a".into(), "1".into(), Lifetime::Reboot)],
            delete: vec![],
        };
        let mut cib = run(&ops::empty_cib(), &batch_requests("node1", U, &b)[0]);
        cib = run(&cib, &batch_requests("node2", "other", &b)[0]);
        let patch = |old: &cib_xml::Element, new: &cib_xml::Element| {
            cib_xml::patch::diff(old, new)
                .expect("a change")
                .to_xml()
                .to_compact()
        };
        // Ours cleared (by a controller, or by ourselves at start).
        let cleared = run(&cib, &clear_transient(U));
        assert!(removes_node_status(&patch(&cib, &cleared), U));
        // Another node's cleared, or one of our values written: not ours.
        let other = run(&cib, &clear_transient("other"));
        assert!(!removes_node_status(&patch(&cib, &other), U));
        let b2 = Batch {
            set: vec![("a".into(), "2".into(), Lifetime::Reboot)],
            delete: vec![],
        };
        let written = run(&cib, &batch_requests("node1", U, &b2)[0]);
        assert!(!removes_node_status(&patch(&cib, &written), U));
        assert!(removes_node_status("<diff", U));
    }

    #[test]
    fn permanent_values_are_read_from_the_nodes_section() {
        let b = Batch {
            set: vec![
                ("p".into(), "2".into(), Lifetime::Forever),
                ("q".into(), "3".into(), Lifetime::Forever),
            ],
            delete: vec![],
        };
        let cib = run(&ops::empty_cib(), &batch_requests("node1", U, &b)[0]);
        let nodes = cib.path(&["configuration", "nodes"]).unwrap().to_compact();
        assert_eq!(
            permanent_values(&nodes, U),
            Ok(vec![("p".into(), "2".into()), ("q".into(), "3".into())])
        );
        assert_eq!(permanent_values(&nodes, "other"), Ok(vec![]));
        assert!(permanent_values("<nodes", U).is_err());
    }
}

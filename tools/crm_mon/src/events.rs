//! The resource operation events crm_mon's external agent (`-E`) is run
//! for: what changed in the resource histories between two reads of the
//! CIB. Pacemaker's crm_mon reacts to the CIB's change notifications;
//! comparing successive snapshots gives the same events for CIB files and
//! for refreshes that missed a notification.

use std::collections::HashMap;

use cib_xml::Element;
use pengine::status::ocf_exitcode_str;

/// One operation result the agent hears about (its `CRM_notify_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpEvent {
    pub node: String,
    pub rsc: String,
    pub task: String,
    pub desc: String,
    pub rc: i32,
    pub target_rc: i32,
    pub status: i32,
}

impl OpEvent {
    /// The agent's environment, recipient first when there is one.
    pub fn env(&self, recipient: Option<&str>) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(r) = recipient {
            env.push(("CRM_notify_recipient".into(), r.to_string()));
        }
        for (k, v) in [
            ("CRM_notify_rsc", self.rsc.clone()),
            ("CRM_notify_node", self.node.clone()),
            ("CRM_notify_task", self.task.clone()),
            ("CRM_notify_desc", self.desc.clone()),
            ("CRM_notify_rc", self.rc.to_string()),
            ("CRM_notify_target_rc", self.target_rc.to_string()),
            ("CRM_notify_status", self.status.to_string()),
        ] {
            env.push((k.into(), v));
        }
        env
    }
}

/// The text of an operation's execution status (`op-status`).
pub fn exec_status_str(status: i64) -> &'static str {
    match status {
        -1 => "pending",
        0 => "complete",
        1 => "Cancelled",
        2 => "Timed Out",
        3 => "NOT SUPPORTED",
        4 => "Error",
        5 => "Hard error",
        6 => "Fatal error",
        7 => "Not installed",
        8 => "Internal communication failure",
        9 => "Cannot execute now",
        10 => "No fence device",
        11 => "CIB secrets unavailable",
        _ => "UNKNOWN",
    }
}

/// (status, rc, target rc) from a transition magic
/// `status:rc;action:transition:target_rc:uuid`.
fn decode_magic(magic: &str) -> Option<(i32, i32, i32)> {
    let (result, key) = magic.split_once(';')?;
    let (status, rc) = result.split_once(':')?;
    let mut parts = key.splitn(4, ':');
    let _action = parts.next()?;
    let _transition = parts.next()?;
    let target = parts.next()?;
    parts.next()?;
    Some((status.parse().ok()?, rc.parse().ok()?, target.parse().ok()?))
}

/// Every recorded operation in document order: ((node_state id,
/// lrm_resource id, op id), the op, its node_state).
fn recorded_ops(cib: &Element) -> Vec<((&str, &str, &str), &Element, &Element)> {
    let mut ops = Vec::new();
    let Some(status) = cib.child("status") else {
        return ops;
    };
    for state in status.children_named("node_state") {
        let node_id = state.attr("id").unwrap_or("");
        let entries = state
            .path(&["lrm", "lrm_resources"])
            .into_iter()
            .flat_map(|l| l.children_named("lrm_resource"));
        for entry in entries {
            let rsc_id = entry.attr("id").unwrap_or("");
            for op in entry.children_named("lrm_rsc_op") {
                let op_id = op.attr("id").unwrap_or("");
                ops.push(((node_id, rsc_id, op_id), op, state));
            }
        }
    }
    ops
}

fn event(op: &Element, state: &Element) -> Option<OpEvent> {
    let (status, rc, target_rc) = decode_magic(op.attr("transition-magic")?)?;
    let key = op.attr("operation_key").or(op.attr("id"))?;
    let (rsc, task, _) = pengine::util::parse_op_key(key)?;
    let node = op
        .attr("on_node")
        .or(state.attr("uname"))
        .or(state.attr("id"))?
        .to_string();
    let desc = if status == 0 && rc == target_rc {
        if rc == 7 {
            // A resource found stopped where it should be: no news.
            return None;
        }
        "OK".to_string()
    } else if status == 0 {
        ocf_exitcode_str(rc).to_string()
    } else {
        exec_status_str(i64::from(status)).to_string()
    };
    Some(OpEvent {
        node,
        rsc,
        task,
        desc,
        rc,
        target_rc,
        status,
    })
}

/// The operation results recorded in `new` that `old` did not have (a new
/// entry, or one with another call id or result), in `new`'s order.
pub fn op_events(old: &Element, new: &Element) -> Vec<OpEvent> {
    let before: HashMap<_, _> = recorded_ops(old)
        .into_iter()
        .map(|(key, op, _)| (key, op))
        .collect();
    let mut events = Vec::new();
    for (key, op, state) in recorded_ops(new) {
        let unchanged = before.get(&key).is_some_and(|o| {
            ["call-id", "transition-magic", "rc-code", "op-status"]
                .iter()
                .all(|a| o.attr(a) == op.attr(a))
        });
        if unchanged {
            continue;
        }
        if let Some(e) = event(op, state) {
            events.push(e);
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (node, resource, op id, "call:status:rc:target") per operation.
    type Ops = Vec<(&'static str, &'static str, &'static str, &'static str)>;

    fn cib(ops: &[(&str, &str, &str, &str)]) -> Element {
        // (node, resource, op id, "call:status:rc:target")
        let mut status = Element::new("status");
        for (node, rsc, id, result) in ops {
            let parts: Vec<&str> = result.split(':').collect();
            let (call, st, rc, target) = (parts[0], parts[1], parts[2], parts[3]);
            let op = Element::new("lrm_rsc_op")
                .with_attr("id", id)
                .with_attr("operation_key", id)
                .with_attr("call-id", call)
                .with_attr("rc-code", rc)
                .with_attr("op-status", st)
                .with_attr(
                    "transition-magic",
                    &format!("{st}:{rc};3:1:{target}:0b7a4a4d-2d0d-4b45-bd66-b7e4c4f0a5e1"),
                );
            let mut entry = Element::new("lrm_resource").with_attr("id", rsc);
            entry.children.push(op);
            let mut resources = Element::new("lrm_resources");
            resources.children.push(entry);
            let mut lrm = Element::new("lrm").with_attr("id", node);
            lrm.children.push(resources);
            let mut state = Element::new("node_state")
                .with_attr("id", node)
                .with_attr("uname", node);
            state.children.push(lrm);
            status.children.push(state);
        }
        let mut root = Element::new("cib");
        root.children.push(Element::new("configuration"));
        root.children.push(status);
        root
    }

    fn ev(node: &str, rsc: &str, task: &str, desc: &str, rc: i32, target: i32, st: i32) -> OpEvent {
        OpEvent {
            node: node.into(),
            rsc: rsc.into(),
            task: task.into(),
            desc: desc.into(),
            rc,
            target_rc: target,
            status: st,
        }
    }

    #[test]
    fn events_between_snapshots() {
        let cases: Vec<(Ops, Ops, Vec<OpEvent>)> = vec![
            // Nothing changed: nothing to tell.
            (
                vec![("n1", "A", "A_start_0", "5:0:0:0")],
                vec![("n1", "A", "A_start_0", "5:0:0:0")],
                vec![],
            ),
            // A new successful start.
            (
                vec![],
                vec![("n1", "A", "A_start_0", "5:0:0:0")],
                vec![ev("n1", "A", "start", "OK", 0, 0, 0)],
            ),
            // The same entry with a new call: a new result.
            (
                vec![("n1", "A", "A_monitor_10000", "5:0:0:0")],
                vec![("n1", "A", "A_monitor_10000", "9:0:7:0")],
                vec![ev("n1", "A", "monitor", "not running", 7, 0, 0)],
            ),
            // A probe finding the resource stopped, as expected: no news.
            (vec![], vec![("n2", "B", "B_monitor_0", "2:0:7:7")], vec![]),
            // A timed-out stop reports the execution status.
            (
                vec![],
                vec![("n2", "B", "B_stop_0", "4:2:1:0")],
                vec![ev("n2", "B", "stop", "Timed Out", 1, 0, 2)],
            ),
            // An entry that went away is no event.
            (vec![("n1", "A", "A_start_0", "5:0:0:0")], vec![], vec![]),
        ];
        for (i, (old, new, want)) in cases.into_iter().enumerate() {
            assert_eq!(op_events(&cib(&old), &cib(&new)), want, "case {i}");
        }
    }

    #[test]
    fn bad_magic_is_no_event() {
        let mut new = cib(&[("n1", "A", "A_start_0", "5:0:0:0")]);
        // cib > status > node_state > lrm > lrm_resources > lrm_resource > op
        let op = &mut new.children[1].children[0].children[0].children[0].children[0].children[0];
        op.set_attr("transition-magic", "garbage");
        assert!(op_events(&cib(&[]), &new).is_empty());
    }

    #[test]
    fn magic_decodes() {
        assert_eq!(
            decode_magic("0:7;3:1:0:0b7a4a4d-2d0d-4b45-bd66-b7e4c4f0a5e1"),
            Some((0, 7, 0))
        );
        assert_eq!(decode_magic("0:7"), None);
        assert_eq!(decode_magic("x:7;3:1:0:u"), None);
    }
}

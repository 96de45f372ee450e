//! The status-section XML a controller writes: a resource's operation
//! history (`lrm_resource` / `lrm_rsc_op`, named as Pacemaker's
//! controller names them), a node's `node_state`, and its fail counts.
//! The caller supplies every value (times included).

use std::collections::BTreeMap;

use cib_xml::Element;

/// One operation result to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// `start`, `stop`, `monitor`, ...
    pub task: String,
    /// Recurring interval, milliseconds.
    pub interval_ms: u64,
    /// The executor's call id.
    pub call_id: u64,
    /// The agent's result.
    pub rc: i32,
    /// The executor's op status (0 done, 1 cancelled, 2 timeout, 3 not
    /// supported, 4 error).
    pub op_status: i32,
    /// The transition key it ran under (`action:transition:rc:uuid`), if
    /// the controller asked for it.
    pub transition_key: Option<String>,
    /// The parameters it ran with (for `op-digest`).
    pub params: BTreeMap<String, String>,
    /// When it ran and when its rc last changed, seconds since the epoch.
    pub run_at: u64,
    /// When its result last changed.
    pub rc_changed_at: u64,
    /// Milliseconds it ran, and waited in the queue.
    pub exec_ms: u64,
    /// Milliseconds queued.
    pub queue_ms: u64,
    /// The agent's exit reason, if any.
    pub exit_reason: Option<String>,
}

impl OpRecord {
    /// The result the controller expected (from the transition key; 0
    /// without one).
    pub fn target_rc(&self) -> i32 {
        self.transition_key
            .as_deref()
            .map_or(0, transition_key_target)
    }

    /// Whether it failed: not done, or done with another result than the
    /// expected one.
    pub fn failed(&self) -> bool {
        self.op_status != 0 || self.rc != self.target_rc()
    }

    /// `RSC_TASK_INTERVAL`.
    pub fn key(&self, rsc: &str) -> String {
        format!("{rsc}_{}_{}", self.task, self.interval_ms)
    }
}

/// The expected result a transition key names (0 if it names none).
pub fn transition_key_target(key: &str) -> i32 {
    key.split(':')
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A transition key: `action:transition:target_rc:dc-uuid`.
pub fn transition_key(action: u32, transition: u64, target_rc: i32, dc_uuid: &str) -> String {
    format!("{action}:{transition}:{target_rc}:{dc_uuid}")
}

/// The `lrm_rsc_op` element for `op` of `rsc` with element id `id`.
pub fn rsc_op(rsc: &str, id: &str, op: &OpRecord, origin: &str) -> Element {
    let key = op.key(rsc);
    let tkey = op
        .transition_key
        .clone()
        .unwrap_or_else(|| format!("-1:-1:{}:00000000-0000-0000-0000-000000000000", op.rc));
    let mut e = Element::new("lrm_rsc_op");
    for (k, v) in [
        ("id", id.to_string()),
        ("operation_key", key),
        ("operation", op.task.clone()),
        ("crm-debug-origin", origin.to_string()),
        ("transition-key", tkey.clone()),
        (
            "transition-magic",
            format!("{}:{};{tkey}", op.op_status, op.rc),
        ),
        ("call-id", op.call_id.to_string()),
        ("rc-code", op.rc.to_string()),
        ("op-status", op.op_status.to_string()),
        ("interval", op.interval_ms.to_string()),
        ("last-rc-change", op.rc_changed_at.to_string()),
        ("last-run", op.run_at.to_string()),
        ("exec-time", op.exec_ms.to_string()),
        ("queue-time", op.queue_ms.to_string()),
        (
            "op-digest",
            pengine::digest::digest_of_action_params(&op.params, op.interval_ms),
        ),
    ] {
        e.set_attr(k, &v);
    }
    if let Some(r) = &op.exit_reason {
        e.set_attr("exit-reason", r);
    }
    e
}

/// The resource a history is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrmResource {
    /// Its id.
    pub id: String,
    /// Its class.
    pub class: String,
    /// OCF provider.
    pub provider: Option<String>,
    /// Agent.
    pub agent: String,
}

/// A resource's `lrm_resource` from its latest results: for each
/// one-shot operation only the latest (`RSC_last_0`), each active
/// recurring operation (`RSC_TASK_INTERVAL`), and the latest failure
/// (`RSC_last_failure_0`), as Pacemaker's controller keeps them.
pub fn lrm_resource(
    rsc: &LrmResource,
    one_shots: &[OpRecord],
    recurring: &[OpRecord],
    last_failure: Option<&OpRecord>,
    origin: &str,
) -> Element {
    let mut e = Element::new("lrm_resource")
        .with_attr("id", &rsc.id)
        .with_attr("type", &rsc.agent)
        .with_attr("class", &rsc.class);
    if let Some(p) = &rsc.provider {
        e.set_attr("provider", p);
    }
    if let Some(last) = one_shots.iter().max_by_key(|o| o.call_id) {
        e.children
            .push(rsc_op(&rsc.id, &format!("{}_last_0", rsc.id), last, origin));
    }
    for r in recurring {
        e.children.push(rsc_op(&rsc.id, &r.key(&rsc.id), r, origin));
    }
    if let Some(f) = last_failure {
        e.children.push(rsc_op(
            &rsc.id,
            &format!("{}_last_failure_0", rsc.id),
            f,
            origin,
        ));
    }
    e
}

/// A node's state as the DC records it: `in_ccm` (member of the view),
/// `crmd` (`online`/`offline`), `join` (`member`/`down`), `expected`
/// (`member`/`down`).
pub fn node_state(
    uuid: &str,
    uname: &str,
    in_ccm: bool,
    crmd: bool,
    join: &str,
    expected: &str,
) -> Element {
    Element::new("node_state")
        .with_attr("id", uuid)
        .with_attr("uname", uname)
        .with_attr("in_ccm", if in_ccm { "true" } else { "false" })
        .with_attr("crmd", if crmd { "online" } else { "offline" })
        .with_attr("crm-debug-origin", "do_update_node_cib")
        .with_attr("join", join)
        .with_attr("expected", expected)
}

/// The transient attributes of a node (`status-UUID` set) with these
/// values, to merge into its `node_state`.
pub fn transient_attributes(uuid: &str, values: &[(String, String)]) -> Element {
    let mut set = Element::new("instance_attributes").with_attr("id", &format!("status-{uuid}"));
    for (name, value) in values {
        set.children.push(
            Element::new("nvpair")
                .with_attr("id", &format!("status-{uuid}-{name}"))
                .with_attr("name", name)
                .with_attr("value", value),
        );
    }
    let mut ta = Element::new("transient_attributes").with_attr("id", uuid);
    ta.children.push(set);
    ta
}

/// The fail-count and last-failure attribute names of an operation
/// (Pacemaker 2.1's per-operation names).
pub fn failcount_names(rsc: &str, task: &str, interval_ms: u64) -> (String, String) {
    (
        format!("fail-count-{rsc}#{task}_{interval_ms}"),
        format!("last-failure-{rsc}#{task}_{interval_ms}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(task: &str, interval: u64, call: u64, rc: i32, key: Option<&str>) -> OpRecord {
        OpRecord {
            task: task.into(),
            interval_ms: interval,
            call_id: call,
            rc,
            op_status: 0,
            transition_key: key.map(str::to_string),
            params: [("state".to_string(), "/tmp/x".to_string())].into(),
            run_at: 100,
            rc_changed_at: 90,
            exec_ms: 5,
            queue_ms: 1,
            exit_reason: None,
        }
    }

    #[test]
    fn history_keeps_the_latest_one_shot_recurring_ops_and_the_failure() {
        let r = LrmResource {
            id: "d1".into(),
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            agent: "Dummy".into(),
        };
        let shots = [
            op("start", 0, 3, 0, Some("4:1:0:u")),
            op("monitor", 0, 1, 7, Some("2:0:7:u")),
        ];
        let rec = [op("monitor", 10000, 4, 0, Some("5:1:0:u"))];
        let fail = op("monitor", 10000, 6, 7, Some("5:1:0:u"));
        let e = lrm_resource(&r, &shots, &rec, Some(&fail), "test");
        let ids: Vec<&str> = e.children.iter().map(|c| c.id()).collect();
        assert_eq!(ids, ["d1_last_0", "d1_monitor_10000", "d1_last_failure_0"]);
        let last = &e.children[0];
        assert_eq!(last.attr("operation"), Some("start"));
        assert_eq!(last.attr("transition-magic"), Some("0:0;4:1:0:u"));
        assert_eq!(e.attr("provider"), Some("heartbeat"));
        assert!(fail.failed());
        assert!(!shots[1].failed(), "a probe expecting 7 that got 7 is fine");
    }

    #[test]
    fn digest_ignores_meta_and_keeps_a_recurring_timeout() {
        let mut a = op("monitor", 10000, 1, 0, None);
        let mut b = a.clone();
        b.params.insert("CRM_meta_name".into(), "monitor".into());
        assert_eq!(
            rsc_op("d", "x", &a, "t").attr("op-digest"),
            rsc_op("d", "x", &b, "t").attr("op-digest")
        );
        a.params.insert("CRM_meta_timeout".into(), "20000".into());
        assert_ne!(
            rsc_op("d", "x", &a, "t").attr("op-digest"),
            rsc_op("d", "x", &b, "t").attr("op-digest")
        );
    }
}

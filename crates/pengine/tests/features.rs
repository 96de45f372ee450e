//! Small hand-written CIBs, one per scheduler feature, checked against the
//! Transition Summary an administrator would see.

use cib_xml::time::DateTime;
use cib_xml::{xml, Limits};
use pengine::output::{executed, format_summary, summary};

const NOW: i64 = 1_700_000_000;

fn node_state(name: &str, lrm: &str) -> String {
    format!(
        r#"<node_state id="{name}" uname="{name}" in_ccm="true" crmd="online" join="member" expected="member">
             <lrm id="{name}"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>"#
    )
}

fn op(rsc: &str, task: &str, interval: u32, rc: i32, call: u32, expected: i32) -> String {
    format!(
        r#"<lrm_resource id="{rsc}" class="ocf" provider="heartbeat" type="Dummy">
             <lrm_rsc_op id="{rsc}_{task}_{interval}" operation="{task}" interval="{interval}" op-status="{st}" rc-code="{rc}" call-id="{call}" last-rc-change="{lrc}" transition-key="1:1:{expected}:abc" transition-magic="0:{rc};1:1:{expected}:abc" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
           </lrm_resource>"#,
        st = if rc == expected { 0 } else { 4 },
        lrc = NOW - 100,
    )
}

fn cib(props: &str, nodes: &[&str], resources: &str, constraints: &str, status: &str) -> String {
    let nodes: String = nodes
        .iter()
        .map(|n| format!(r#"<node id="{n}" uname="{n}"/>"#))
        .collect();
    format!(
        r#"<cib have-quorum="true" dc-uuid="node1" crm_feature_set="3.16.1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="o1" name="stonith-enabled" value="false"/>{props}
    </cluster_property_set></crm_config>
    <nodes>{nodes}</nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status>{status}</status>
</cib>"#
    )
}

fn dummy(id: &str) -> String {
    format!(r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy"/>"#)
}

/// Runs the scheduler and returns the summary lines with white space
/// folded (as the conformance runner compares them).
fn plan(text: &str) -> Vec<String> {
    if let Ok(dir) = std::env::var("FEATURES_DUMP_DIR") {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let _ = std::fs::write(format!("{dir}/{n}.xml"), text);
    }
    let root = xml::parse(text, &Limits::default()).expect("test CIB parses");
    let mut ws =
        pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).expect("schedules");
    let lines = summary(&mut ws);
    format_summary(&lines)
        .into_iter()
        .map(|l| format!("* {}", l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

fn online(names: &[&str]) -> String {
    names.iter().map(|n| node_state(n, "")).collect()
}

#[test]
fn a_new_resource_is_probed_and_started_on_the_first_node() {
    let text = cib(
        "",
        &["node1", "node2"],
        &dummy("rsc1"),
        "",
        &online(&["node1", "node2"]),
    );
    assert_eq!(plan(&text), vec!["* Start rsc1 ( node1 )"]);
    let root = xml::parse(&text, &Limits::default()).unwrap();
    let ws = pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).unwrap();
    let exec = executed(&ws);
    assert!(
        exec.iter()
            .any(|l| l.contains("rsc1") && l.contains("monitor on node2")),
        "{exec:?}"
    );
    assert!(
        exec.iter()
            .any(|l| l.contains("rsc1") && l.contains("start on node1")),
        "{exec:?}"
    );
}

#[test]
fn equal_scores_spread_resources_over_nodes() {
    let rscs = format!("{}{}{}", dummy("a"), dummy("b"), dummy("c"));
    let text = cib(
        "",
        &["node1", "node2"],
        &rscs,
        "",
        &online(&["node1", "node2"]),
    );
    assert_eq!(
        plan(&text),
        vec![
            "* Start a ( node1 )",
            "* Start b ( node2 )",
            "* Start c ( node1 )"
        ]
    );
}

#[test]
fn a_running_resource_stays_and_a_banned_one_moves() {
    let status = node_state("node1", &op("rsc1", "start", 0, 0, 1, 0)) + &node_state("node2", "");
    let text = cib("", &["node1", "node2"], &dummy("rsc1"), "", &status);
    assert!(plan(&text).is_empty(), "a healthy resource is left alone");
    let ban = r#"<rsc_location id="ban" rsc="rsc1" node="node1" score="-INFINITY"/>"#;
    let text = cib("", &["node1", "node2"], &dummy("rsc1"), ban, &status);
    assert_eq!(plan(&text), vec!["* Move rsc1 ( node1 -> node2 )"]);
}

#[test]
fn location_rules_use_node_attributes() {
    let rule = r##"<rsc_location id="l" rsc="rsc1"><rule id="r" score="100"><expression id="e" attribute="#uname" operation="eq" value="node2"/></rule></rsc_location>"##;
    let text = cib(
        "",
        &["node1", "node2"],
        &dummy("rsc1"),
        rule,
        &online(&["node1", "node2"]),
    );
    assert_eq!(plan(&text), vec!["* Start rsc1 ( node2 )"]);
}

#[test]
fn a_failed_monitor_is_recovered_in_place() {
    let lrm = format!(
        r#"<lrm_resource id="rsc1" class="ocf" provider="heartbeat" type="Dummy">
             <lrm_rsc_op id="rsc1_start_0" operation="start" interval="0" op-status="0" rc-code="0" call-id="1" transition-key="1:1:0:abc" transition-magic="0:0;1:1:0:abc"/>
             <lrm_rsc_op id="rsc1_monitor_10000" operation="monitor" interval="10000" op-status="4" rc-code="7" call-id="2" last-rc-change="{}" transition-key="2:1:0:abc" transition-magic="0:7;2:1:0:abc"/>
           </lrm_resource>"#,
        NOW - 10
    );
    let status = node_state("node1", &lrm) + &node_state("node2", "");
    let text = cib("", &["node1", "node2"], &dummy("rsc1"), "", &status);
    assert_eq!(plan(&text), vec!["* Recover rsc1 ( node1 )"]);
}

#[test]
fn a_mandatory_ordering_restarts_the_dependent_with_a_reason() {
    let status = node_state("node1", &op("rsc2", "start", 0, 0, 1, 0));
    let order = r#"<rsc_order id="o" first="rsc1" then="rsc2" kind="Mandatory"/>"#;
    let rscs = format!("{}{}", dummy("rsc1"), dummy("rsc2"));
    let text = cib("", &["node1"], &rscs, order, &status);
    assert_eq!(
        plan(&text),
        vec![
            "* Start rsc1 ( node1 )",
            "* Restart rsc2 ( node1 ) due to required rsc1 start"
        ]
    );
}

#[test]
fn a_mandatory_colocation_follows_the_primary_and_blocks_when_it_cannot_run() {
    let rscs = format!("{}{}", dummy("rsc1"), dummy("rsc2"));
    let coloc = r#"<rsc_colocation id="c" rsc="rsc2" with-rsc="rsc1" score="INFINITY"/>
                   <rsc_location id="l" rsc="rsc1" node="node2" score="10"/>"#;
    let text = cib(
        "",
        &["node1", "node2"],
        &rscs,
        coloc,
        &online(&["node1", "node2"]),
    );
    assert_eq!(
        plan(&text),
        vec!["* Start rsc1 ( node2 )", "* Start rsc2 ( node2 )"]
    );
    let coloc = r#"<rsc_colocation id="c" rsc="rsc2" with-rsc="rsc1" score="INFINITY"/>
                   <rsc_location id="l" rsc="rsc1" node="node1" score="-INFINITY"/>
                   <rsc_location id="l2" rsc="rsc1" node="node2" score="-INFINITY"/>"#;
    let text = cib(
        "",
        &["node1", "node2"],
        &rscs,
        coloc,
        &online(&["node1", "node2"]),
    );
    assert!(plan(&text).is_empty(), "neither can run: {:?}", plan(&text));
}

#[test]
fn a_group_starts_its_members_on_one_node() {
    let grp = format!(r#"<group id="g">{}{}</group>"#, dummy("m1"), dummy("m2"));
    let text = cib(
        "",
        &["node1", "node2"],
        &grp,
        "",
        &online(&["node1", "node2"]),
    );
    assert_eq!(
        plan(&text),
        vec!["* Start m1 ( node1 )", "* Start m2 ( node1 )"]
    );
}

#[test]
fn a_standby_node_gives_up_its_resources() {
    let lrm = op("rsc1", "start", 0, 0, 1, 0);
    let status = format!(
        r#"<node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
             <transient_attributes id="t1"><instance_attributes id="ta1"><nvpair id="sb" name="standby" value="on"/></instance_attributes></transient_attributes>
             <lrm id="node1"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>"#
    ) + &node_state("node2", "");
    let text = cib("", &["node1", "node2"], &dummy("rsc1"), "", &status);
    assert_eq!(plan(&text), vec!["* Move rsc1 ( node1 -> node2 )"]);
}

#[test]
fn target_role_stopped_stops_the_resource() {
    let rsc = r#"<primitive id="rsc1" class="ocf" provider="heartbeat" type="Dummy">
                   <meta_attributes id="m"><nvpair id="tr" name="target-role" value="Stopped"/></meta_attributes></primitive>"#;
    let status = node_state("node1", &op("rsc1", "start", 0, 0, 1, 0));
    let text = cib("", &["node1"], rsc, "", &status);
    assert_eq!(
        plan(&text),
        vec!["* Stop rsc1 ( node1 ) due to node availability"]
    );
}

#[test]
fn a_lost_node_is_fenced_before_its_resources_move() {
    let rscs = format!(
        r#"<primitive id="fencer" class="stonith" type="fence_dummy"/>{}"#,
        dummy("rsc1")
    );
    let status = node_state("node1", "")
        + &format!(
            r#"<node_state id="node2" uname="node2" in_ccm="false" crmd="offline" join="down" expected="member"><lrm id="node2"><lrm_resources>{}</lrm_resources></lrm></node_state>"#,
            op("rsc1", "start", 0, 0, 1, 0)
        );
    let text = cib("", &["node1", "node2"], &rscs, "", &status).replace(
        r#"name="stonith-enabled" value="false""#,
        r#"name="stonith-enabled" value="true""#,
    );
    assert_eq!(
        plan(&text),
        vec![
            "* Fence (reboot) node2 'peer is no longer part of the cluster'",
            "* Start fencer ( node1 )",
            "* Move rsc1 ( node2 -> node1 )"
        ]
    );
}

#[test]
fn clone_instances_run_everywhere_and_one_is_promoted() {
    let clone = format!(r#"<clone id="c">{}</clone>"#, dummy("cr"));
    let text = cib(
        "",
        &["node1", "node2", "node3"],
        &clone,
        "",
        &online(&["node1", "node2", "node3"]),
    );
    assert_eq!(
        plan(&text),
        vec![
            "* Start cr:0 ( node1 )",
            "* Start cr:1 ( node2 )",
            "* Start cr:2 ( node3 )"
        ]
    );
    let ms = r#"<clone id="ms"><meta_attributes id="mm"><nvpair id="p" name="promotable" value="true"/></meta_attributes>
                  <primitive id="st" class="ocf" provider="pacemaker" type="Stateful"/></clone>"#;
    let status: String = ["node1", "node2"]
        .iter()
        .map(|n| {
            let score = if *n == "node2" { 10 } else { 5 };
            format!(
                r#"<node_state id="{n}" uname="{n}" in_ccm="true" crmd="online" join="member" expected="member">
                     <transient_attributes id="t{n}"><instance_attributes id="a{n}"><nvpair id="ms{n}" name="master-st" value="{score}"/></instance_attributes></transient_attributes></node_state>"#
            )
        })
        .collect();
    let text = cib("", &["node1", "node2"], ms, "", &status);
    assert_eq!(
        plan(&text),
        vec![
            "* Promote st:0 ( Stopped -> Promoted node2 )",
            "* Start st:1 ( node1 )"
        ]
    );
}

#[test]
fn without_quorum_nothing_starts_by_default() {
    let text = cib(
        "",
        &["node1", "node2"],
        &dummy("rsc1"),
        "",
        &online(&["node1", "node2"]),
    )
    .replace(r#"have-quorum="true""#, r#"have-quorum="false""#);
    assert_eq!(
        plan(&text),
        vec!["* Start rsc1 ( node1 ) due to no quorum (blocked)"]
    );
}

#[test]
fn a_document_that_is_not_a_cib_is_rejected() {
    let root = xml::parse("<configuration/>", &Limits::default()).unwrap();
    let err = pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).err();
    assert!(err.is_some_and(|e| e.to_string().contains("not <cib>")));
}

#[test]
fn location_rules_with_value_source_param_see_the_parameters_of_each_node() {
    // The parameter `host` is "nowhere", except on node3 where a rule in
    // the resource's own instance attributes makes it "node3"; the location
    // rule compares #uname with it, so only node3 matches.
    let rsc = r##"<primitive id="rsc1" class="ocf" provider="heartbeat" type="Dummy">
        <instance_attributes id="ia1" score="10">
          <nvpair id="ia1-host" name="host" value="nowhere"/>
        </instance_attributes>
        <instance_attributes id="ia2" score="20">
          <rule id="ia2-rule" score="INFINITY">
            <expression id="ia2-expr" attribute="#uname" operation="eq" value="node3"/>
          </rule>
          <nvpair id="ia2-host" name="host" value="node3"/>
        </instance_attributes>
      </primitive>"##;
    let loc = r##"<rsc_location id="loc1" rsc="rsc1">
        <rule id="loc1-rule" score="INFINITY">
          <expression id="loc1-expr" attribute="#uname" operation="eq" value="host" value-source="param"/>
        </rule>
      </rsc_location>"##;
    let text = cib(
        "",
        &["node1", "node2", "node3"],
        rsc,
        loc,
        &online(&["node1", "node2", "node3"]),
    );
    assert_eq!(plan(&text), vec!["* Start rsc1 ( node3 )"]);
}

#[test]
fn utilization_assigns_the_resource_that_stays_first_and_orders_through_load_stopped() {
    // Each node has room for one resource. node1 goes to standby: rsc1
    // could only move to node2, but rsc2 (higher score where it runs) is
    // placed first and keeps it, so rsc1 stops; the stop frees node1's
    // capacity before load_stopped_node1.
    let node = |n: &str, standby: bool| {
        format!(
            r#"<node id="{n}" uname="{n}">
                 <instance_attributes id="{n}-a"><nvpair id="{n}-s" name="standby" value="{standby}"/></instance_attributes>
                 <utilization id="{n}-u"><nvpair id="{n}-cpu" name="cpu" value="1"/></utilization>
               </node>"#
        )
    };
    let rsc = |id: &str| {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy">
                 <utilization id="{id}-u"><nvpair id="{id}-cpu" name="cpu" value="1"/></utilization>
               </primitive>"#
        )
    };
    let text = format!(
        r#"<cib have-quorum="true" dc-uuid="node2" crm_feature_set="3.16.1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
      <nvpair id="o2" name="placement-strategy" value="balanced"/>
    </cluster_property_set></crm_config>
    <nodes>{}{}</nodes>
    <resources>{}{}</resources>
    <constraints/>
    <rsc_defaults><meta_attributes id="rd"><nvpair id="rd1" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>
  </configuration>
  <status>{}{}</status>
</cib>"#,
        node("node1", true),
        node("node2", false),
        rsc("rsc1"),
        rsc("rsc2"),
        node_state("node1", &op("rsc1", "start", 0, 0, 2, 0)),
        node_state("node2", &op("rsc2", "start", 0, 0, 2, 0)),
    );
    assert_eq!(
        plan(&text),
        vec!["* Stop rsc1 ( node1 ) due to node availability"]
    );
    let root = xml::parse(&text, &Limits::default()).unwrap();
    let ws = pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).unwrap();
    let exec = executed(&ws);
    let stop = exec
        .iter()
        .position(|l| l.contains("rsc1") && l.contains("stop on node1"));
    let load = exec.iter().position(|l| l.contains("load_stopped_node1"));
    assert!(stop.is_some() && load.is_some() && stop < load, "{exec:?}");
}

#[test]
fn history_of_a_deleted_resource_is_cleaned_up() {
    // "gone" is no longer configured; its stopped history on node1 is
    // deleted (a cluster action with no summary line).
    let text = cib(
        "",
        &["node1", "node2"],
        &dummy("rsc1"),
        "",
        &format!(
            "{}{}",
            node_state(
                "node1",
                &format!(
                    "{}{}",
                    op("rsc1", "start", 0, 0, 3, 0),
                    op("gone", "monitor", 0, 7, 2, 7)
                )
            ),
            node_state("node2", &op("rsc1", "monitor", 0, 7, 2, 7))
        ),
    );
    assert!(plan(&text).is_empty(), "{:?}", plan(&text));
    let root = xml::parse(&text, &Limits::default()).unwrap();
    let ws = pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).unwrap();
    let exec = executed(&ws);
    assert!(
        exec.iter()
            .any(|l| l.contains("gone") && l.contains("delete on node1")),
        "{exec:?}"
    );
}

#[test]
fn shutdown_lock_keeps_a_resource_on_its_node_while_the_node_is_away() {
    // node1 is shutting down cleanly with shutdown-lock on: rsc1 stops
    // there and is not started on node2 (without the lock it would move).
    let shutting_down = format!(
        r#"<node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
             <transient_attributes id="node1"><instance_attributes id="s1">
               <nvpair id="s1-shutdown" name="shutdown" value="{}"/>
             </instance_attributes></transient_attributes>
             <lrm id="node1"><lrm_resources>{}</lrm_resources></lrm></node_state>"#,
        NOW - 10,
        op("rsc1", "start", 0, 0, 3, 0)
    );
    let text = cib(
        r#"<nvpair id="o-lock" name="shutdown-lock" value="true"/>"#,
        &["node1", "node2"],
        &dummy("rsc1"),
        "",
        &format!(
            "{shutting_down}{}",
            node_state("node2", &op("rsc1", "monitor", 0, 7, 2, 7))
        ),
    );
    assert_eq!(
        plan(&text),
        vec!["* Stop rsc1 ( node1 ) due to node availability"]
    );
}

#[test]
fn an_asymmetric_ordering_of_sets_does_not_stop_the_later_set() {
    // (B C) then (A), symmetrical=false: C is banned and stops; A keeps
    // running (a symmetric ordering would stop it too).
    let rscs = format!("{}{}{}", dummy("A"), dummy("B"), dummy("C"));
    let cons = r#"<rsc_order id="o1" symmetrical="false">
        <resource_set id="s1"><resource_ref id="B"/><resource_ref id="C"/></resource_set>
        <resource_set id="s2"><resource_ref id="A"/></resource_set>
      </rsc_order>
      <rsc_location id="ban-C" rsc="C" node="node1" score="-INFINITY"/>"#;
    let history = format!(
        "{}{}",
        op("A", "start", 0, 0, 2, 0),
        op("C", "start", 0, 0, 3, 0)
    );
    let text = cib("", &["node1"], &rscs, cons, &node_state("node1", &history));
    assert_eq!(
        plan(&text),
        vec![
            "* Start B ( node1 )",
            "* Stop C ( node1 ) due to node availability"
        ]
    );
}

#[test]
fn a_promoted_cloned_group_stays_promoted_while_a_member_starts() {
    // Instance 1 of the promotable cloned group runs promoted on node1 with
    // its second member stopped: the member starts promoted there, nothing
    // is demoted (the group's next role is unknown until assignment ends).
    let st = |id: &str| {
        format!(r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Stateful"/>"#)
    };
    let rscs = format!(
        r#"<clone id="ms"><meta_attributes id="ms-m">
             <nvpair id="ms-p" name="promotable" value="true"/>
             <nvpair id="ms-u" name="globally-unique" value="true"/>
             <nvpair id="ms-max" name="clone-max" value="2"/>
           </meta_attributes>
           <group id="grp">{}{}</group></clone>"#,
        st("s1"),
        st("s2")
    );
    let cons = r##"<rsc_location id="loc" rsc="ms">
        <rule id="loc-r" role="Promoted" score="100">
          <expression id="loc-e" attribute="#uname" operation="eq" value="node1"/>
        </rule></rsc_location>"##;
    let hist = |rsc: &str, rc: i32| {
        format!(
            r#"<lrm_resource id="{rsc}" class="ocf" provider="heartbeat" type="Stateful">
                 <lrm_rsc_op id="{rsc}_last_0" operation="start" interval="0" op-status="0" rc-code="0" call-id="2" transition-key="1:1:0:abc" transition-magic="0:0;1:1:0:abc" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
                 <lrm_rsc_op id="{rsc}_promote_0" operation="promote" interval="0" op-status="0" rc-code="{rc}" call-id="3" transition-key="2:1:0:abc" transition-magic="0:{rc};2:1:0:abc" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
               </lrm_resource>"#
        )
    };
    let unpromoted = String::from(
        r#"<lrm_resource id="s1:0" class="ocf" provider="heartbeat" type="Stateful">
             <lrm_rsc_op id="s1:0_last_0" operation="start" interval="0" op-status="0" rc-code="0" call-id="2" transition-key="1:1:0:abc" transition-magic="0:0;1:1:0:abc" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
           </lrm_resource>"#,
    );
    let text = cib(
        "",
        &["node1", "node2"],
        &rscs,
        cons,
        &format!(
            "{}{}",
            node_state("node1", &hist("s1:1", 0)),
            node_state("node2", &unpromoted)
        ),
    );
    assert_eq!(
        plan(&text),
        vec![
            "* Start s2:0 ( node2 )",
            "* Promote s2:1 ( Stopped -> Promoted node1 )"
        ]
    );
}

/// The `recheck-by` time of the graph the scheduler makes for `text`.
fn recheck_by(text: &str) -> Option<i64> {
    let root = xml::parse(text, &Limits::default()).expect("test CIB parses");
    let ws =
        pengine::schedule(root, DateTime(NOW), &pengine::Options::default()).expect("schedules");
    pengine::graph::transition_graph(&ws, 1)
        .attr("recheck-by")
        .map(|v| v.parse().expect("recheck-by is a number"))
}

#[test]
fn the_graph_says_when_a_failure_expires_or_a_date_rule_turns() {
    let failed = |timeout: &str, ago: i64| {
        let rsc = format!(
            r#"<primitive id="rsc1" class="ocf" provider="heartbeat" type="Dummy">
                 <meta_attributes id="m"><nvpair id="m1" name="failure-timeout" value="{timeout}"/></meta_attributes>
               </primitive>"#
        );
        let status = format!(
            r#"<node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
                 <transient_attributes id="node1"><instance_attributes id="t">
                   <nvpair id="t1" name="fail-count-rsc1#monitor_10000" value="1"/>
                   <nvpair id="t2" name="last-failure-rsc1#monitor_10000" value="{}"/>
                 </instance_attributes></transient_attributes>
                 <lrm id="node1"><lrm_resources>{}</lrm_resources></lrm>
               </node_state>"#,
            NOW - ago,
            op("rsc1", "monitor", 10000, 7, 3, 0),
        );
        cib("", &["node1"], &rsc, "", &status)
    };
    // A failure 10 s ago with a 60 s failure-timeout: rerun 51 s from now.
    assert_eq!(recheck_by(&failed("60s", 10)), Some(NOW + 51));
    // Expired already, or no timeout: nothing to wait for.
    assert_eq!(recheck_by(&failed("60s", 100)), None);
    assert_eq!(recheck_by(&failed("0", 10)), None);
    // A location rule that starts to hold in 30 s.
    let later = cib_xml::time::DateTime(NOW + 30).to_iso();
    let rule = format!(
        r#"<rsc_location id="l" rsc="rsc1"><rule id="r" score="100"><date_expression id="d" operation="gt" start="{later}"/></rule></rsc_location>"#
    );
    let text = cib("", &["node1"], &dummy("rsc1"), &rule, &online(&["node1"]));
    assert_eq!(recheck_by(&text), Some(NOW + 31));
}

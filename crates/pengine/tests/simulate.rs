//! crm_simulate's synthetic events and transition execution.

use cib_xml::time::DateTime;
use cib_xml::{xml, Element, Limits};
use pengine::output::{format_summary, summary};
use pengine::simulate::{execute, inject, Injection};

const NOW: i64 = 1_700_000_000;

fn cib() -> Element {
    let text = r#"<cib have-quorum="true" crm_feature_set="3.16.1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources><primitive id="rsc1" class="ocf" provider="heartbeat" type="Dummy">
      <operations><op id="m" name="monitor" interval="10s"/></operations></primitive></resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#;
    xml::parse(text, &Limits::default()).unwrap()
}

fn plan(cib: &Element) -> (Vec<String>, pengine::WorkingSet) {
    let mut ws =
        pengine::schedule(cib.clone(), DateTime(NOW), &pengine::Options::default()).unwrap();
    let lines = format_summary(&summary(&mut ws))
        .into_iter()
        .map(|l| format!("* {}", l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    (lines, ws)
}

#[test]
fn executing_a_transition_records_results_and_converges() {
    let mut c = cib();
    let (lines, ws) = plan(&c);
    assert_eq!(lines, vec!["* Start rsc1 ( node1 )"]);
    execute(&mut c, &ws, &[], NOW);
    let (lines, ws) = plan(&c);
    assert!(
        lines.is_empty(),
        "after the transition nothing is left to do: {lines:?}"
    );
    let r = ws.resources.iter().find(|r| r.id == "rsc1").unwrap();
    assert_eq!(
        r.running_on
            .iter()
            .map(|&n| ws.nodes[n].uname.as_str())
            .collect::<Vec<_>>(),
        vec!["node1"]
    );
}

#[test]
fn a_failed_node_and_an_injected_monitor_failure_are_reacted_to() {
    let mut c = cib();
    let (_, ws) = plan(&c);
    execute(&mut c, &ws, &[], NOW);
    let mut failed = c.clone();
    let notes = inject(
        &mut failed,
        &[Injection::Op("rsc1_monitor_10000@node1=7".into())],
        NOW,
    )
    .unwrap();
    assert_eq!(
        notes.len(),
        2,
        "fail-count and last-failure attributes: {notes:?}"
    );
    assert_eq!(plan(&failed).0, vec!["* Recover rsc1 ( node1 )"]);
    let mut down = c.clone();
    inject(&mut down, &[Injection::NodeDown("node1".into())], NOW).unwrap();
    assert_eq!(plan(&down).0, vec!["* Start rsc1 ( node2 )"]);
}

#[test]
fn a_failing_action_is_recorded_as_failed() {
    let mut c = cib();
    let (_, ws) = plan(&c);
    execute(&mut c, &ws, &["rsc1_start_0@node1=1".to_string()], NOW);
    let (lines, _) = plan(&c);
    assert_eq!(lines, vec!["* Recover rsc1 ( node1 )"]);
    assert!(inject(&mut c, &[Injection::Op("nonsense".into())], NOW).is_err());
}

#[test]
fn the_transition_graph_orders_the_start_after_the_probes() {
    let c = cib();
    let (_, ws) = plan(&c);
    let g = pengine::graph::transition_graph(&ws, 7);
    assert_eq!(g.attr("transition_id"), Some("7"));
    let synapses: Vec<&Element> = g.children_named("synapse").collect();
    let start = synapses
        .iter()
        .find(|s| {
            s.find(&|e| e.attr("operation_key") == Some("rsc1_start_0") && e.name == "rsc_op")
                .is_some()
                && s.child("action_set").unwrap().children[0].attr("operation") == Some("start")
        })
        .expect("a synapse starts rsc1");
    let triggers: Vec<&str> = start
        .child("inputs")
        .unwrap()
        .children_named("trigger")
        .filter_map(|t| t.children[0].attr("operation_key"))
        .collect();
    assert_eq!(
        triggers.iter().filter(|k| **k == "rsc1_monitor_0").count(),
        2,
        "{triggers:?}"
    );
    let dot = pengine::graph::dot(&ws);
    assert!(
        dot.contains("\"rsc1_monitor_0 node2\" -> \"rsc1_start_0 node1\""),
        "{dot}"
    );
}

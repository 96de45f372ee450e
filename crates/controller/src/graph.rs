//! A transition graph as the policy engine writes it
//! (`<transition_graph>`: synapses, each an action with the actions it
//! waits for), and `Transition`, the execution state of one: which actions
//! may run now, which are running, and when it is over. A synapse fires
//! when every input action is confirmed; pseudo actions are confirmed as
//! soon as they fire; a failed action aborts the transition (nothing new
//! starts, running actions are waited for) so a new graph is computed.

use std::collections::{BTreeMap, BTreeSet};

use cib_xml::Element;

/// What executes an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// A resource operation, run by the node's lrmd (`rsc_op`).
    Resource,
    /// An ordering point with nothing to run (`pseudo_event`).
    Pseudo,
    /// A controller action (`crm_event`): stonith, do_shutdown,
    /// clear_failcount, lrm_delete.
    Controller,
}

/// The resource an operation is for (its `<primitive>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphResource {
    /// The id the node's lrm knows it by.
    pub id: String,
    /// `ocf`, `lsb`, `heartbeat`, `stonith`.
    pub class: String,
    /// The OCF provider.
    pub provider: Option<String>,
    /// The agent.
    pub agent: String,
}

/// One action of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphAction {
    /// Its id in the graph.
    pub id: u32,
    /// What executes it.
    pub kind: ActionKind,
    /// `start`, `monitor`, `stonith`, ...
    pub task: String,
    /// `RSC_TASK_INTERVAL`, `stonith-NODE-reboot`, ...
    pub key: String,
    /// The node it runs on (the target, for stonith).
    pub node: Option<String>,
    /// That node's id.
    pub node_uuid: Option<String>,
    /// The resource, for resource operations.
    pub resource: Option<GraphResource>,
    /// Its `<attributes>`: instance parameters and `CRM_meta_*`.
    pub params: BTreeMap<String, String>,
}

impl GraphAction {
    fn meta_u64(&self, name: &str) -> Option<u64> {
        self.params
            .get(&format!("CRM_meta_{name}"))
            .and_then(|v| v.parse().ok())
    }

    /// The operation's timeout, milliseconds (`CRM_meta_timeout`).
    pub fn timeout_ms(&self) -> Option<u64> {
        self.meta_u64("timeout")
    }

    /// The recurring interval, milliseconds (0: once).
    pub fn interval_ms(&self) -> u64 {
        self.meta_u64("interval").unwrap_or(0)
    }

    /// The result that counts as success: `CRM_meta_op_target_rc`, else 0.
    pub fn target_rc(&self) -> i32 {
        self.params
            .get("CRM_meta_op_target_rc")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the graph may go on without waiting for it
    /// (`CRM_meta_op_no_wait`).
    pub fn no_wait(&self) -> bool {
        self.params
            .get("CRM_meta_op_no_wait")
            .is_some_and(|v| v == "true")
    }
}

/// A synapse: actions that become runnable together once every input is
/// confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synapse {
    /// Its id.
    pub id: u32,
    /// Its priority (higher first when several are ready).
    pub priority: i64,
    /// Its actions.
    pub actions: Vec<u32>,
    /// The actions it waits for.
    pub inputs: Vec<u32>,
}

/// A parsed transition graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionGraph {
    /// Its number.
    pub id: u64,
    /// Every action by id.
    pub actions: BTreeMap<u32, GraphAction>,
    /// The synapses, in the graph's order.
    pub synapses: Vec<Synapse>,
    /// `cluster-delay`: slack added to an action's own timeout before the
    /// controller gives up on it, milliseconds.
    pub cluster_delay_ms: u64,
    /// `stonith-timeout`, milliseconds.
    pub stonith_timeout_ms: u64,
    /// `batch-limit`: the most actions running at once (0: no limit).
    pub batch_limit: usize,
    /// `recheck-by`: when (seconds since the epoch) the scheduler's answer
    /// may change by itself (a failure expiring, a date rule turning), so
    /// the controller asks again by then.
    pub recheck_by: Option<i64>,
}

fn parse_action(e: &Element) -> Result<GraphAction, String> {
    let kind = match e.name.as_str() {
        "rsc_op" => ActionKind::Resource,
        "pseudo_event" => ActionKind::Pseudo,
        "crm_event" => ActionKind::Controller,
        other => return Err(format!("unknown action element <{other}>")),
    };
    let id = e
        .attr("id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("<{}> without a numeric id", e.name))?;
    let resource = e.child("primitive").map(|p| GraphResource {
        id: p.attr("id").unwrap_or("").to_string(),
        class: p.attr("class").unwrap_or("").to_string(),
        provider: p.attr("provider").map(str::to_string),
        agent: p.attr("type").unwrap_or("").to_string(),
    });
    // An rsc_op without a primitive is node-wide (`probe_again`).
    if resource.as_ref().is_some_and(|r| r.id.is_empty()) {
        return Err(format!("action {id}: <primitive> without an id"));
    }
    let params = e
        .child("attributes")
        .map(|a| {
            a.attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(GraphAction {
        id,
        kind,
        task: e.attr("operation").unwrap_or("").to_string(),
        key: e.attr("operation_key").unwrap_or("").to_string(),
        node: e.attr("on_node").map(str::to_string),
        node_uuid: e.attr("on_node_uuid").map(str::to_string),
        resource,
        params,
    })
}

impl TransitionGraph {
    /// Reads a `<transition_graph>` element.
    pub fn parse(root: &Element) -> Result<TransitionGraph, String> {
        if root.name != "transition_graph" {
            return Err(format!("<{}> is not a transition graph", root.name));
        }
        let id = root
            .attr("transition_id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut actions = BTreeMap::new();
        let mut synapses = Vec::new();
        for s in root.children_named("synapse") {
            let sid = s
                .attr("id")
                .and_then(|v| v.parse().ok())
                .ok_or("synapse without a numeric id")?;
            let mut syn = Synapse {
                id: sid,
                priority: s.attr("priority").and_then(|v| v.parse().ok()).unwrap_or(0),
                actions: Vec::new(),
                inputs: Vec::new(),
            };
            for set in s.children_named("action_set") {
                for a in &set.children {
                    let action = parse_action(a)?;
                    syn.actions.push(action.id);
                    actions.insert(action.id, action);
                }
            }
            for inputs in s.children_named("inputs") {
                for t in inputs.children_named("trigger") {
                    // A trigger names an action by id only.
                    for a in &t.children {
                        let id = a.attr("id").and_then(|v| v.parse().ok()).ok_or_else(|| {
                            format!("synapse {sid}: trigger without a numeric id")
                        })?;
                        syn.inputs.push(id);
                    }
                }
            }
            synapses.push(syn);
        }
        for s in &synapses {
            if let Some(missing) = s.inputs.iter().find(|i| !actions.contains_key(i)) {
                return Err(format!(
                    "synapse {} waits for unknown action {missing}",
                    s.id
                ));
            }
        }
        let ms = |name: &str, default: u64| {
            root.attr(name)
                .and_then(cib_xml::rules::parse_interval_ms)
                .unwrap_or(default)
        };
        Ok(TransitionGraph {
            id,
            cluster_delay_ms: ms("cluster-delay", 60_000),
            stonith_timeout_ms: ms("stonith-timeout", 60_000),
            recheck_by: root.attr("recheck-by").and_then(|v| v.parse().ok()),
            batch_limit: root
                .attr("batch-limit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            actions,
            synapses,
        })
    }

    /// Parses graph XML text.
    pub fn parse_text(text: &str) -> Result<TransitionGraph, String> {
        let root = cib_xml::xml::parse(text, &cib_xml::Limits::default())
            .map_err(|e| format!("transition graph: {e}"))?;
        Self::parse(&root)
    }
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionState {
    /// Waiting for its synapse to fire.
    Waiting,
    /// Handed to its executor.
    Running,
    /// Done as expected.
    Confirmed,
    /// Done otherwise (or lost).
    Failed,
}

/// The execution of one graph.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The graph.
    pub graph: TransitionGraph,
    states: BTreeMap<u32, ActionState>,
    fired: BTreeSet<u32>,
    aborted: bool,
}

impl Transition {
    /// A transition with nothing run yet.
    pub fn new(graph: TransitionGraph) -> Transition {
        let states = graph
            .actions
            .keys()
            .map(|&id| (id, ActionState::Waiting))
            .collect();
        Transition {
            graph,
            states,
            fired: BTreeSet::new(),
            aborted: false,
        }
    }

    /// An action's state.
    pub fn state(&self, id: u32) -> Option<ActionState> {
        self.states.get(&id).copied()
    }

    fn running_count(&self) -> usize {
        self.states
            .values()
            .filter(|s| **s == ActionState::Running)
            .count()
    }

    /// Fires every synapse whose inputs are confirmed (pseudo actions
    /// confirm at once, which may fire more) and returns the actions to
    /// hand to their executors, now marked running. Nothing after an abort.
    pub fn next_actions(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        if self.aborted {
            return out;
        }
        loop {
            let mut ready: Vec<&Synapse> = self
                .graph
                .synapses
                .iter()
                .filter(|s| !self.fired.contains(&s.id))
                .filter(|s| {
                    s.inputs
                        .iter()
                        .all(|i| self.states.get(i) == Some(&ActionState::Confirmed))
                })
                .collect();
            if ready.is_empty() {
                return out;
            }
            ready.sort_by_key(|s| std::cmp::Reverse(s.priority));
            let mut progressed = false;
            let ready: Vec<Synapse> = ready.into_iter().cloned().collect();
            for s in ready {
                let limit = self.graph.batch_limit;
                let needs_executor = s.actions.iter().any(|a| {
                    self.graph
                        .actions
                        .get(a)
                        .is_some_and(|a| a.kind != ActionKind::Pseudo)
                });
                if needs_executor && limit > 0 && self.running_count() >= limit {
                    continue;
                }
                self.fired.insert(s.id);
                progressed = true;
                for a in &s.actions {
                    let pseudo = self
                        .graph
                        .actions
                        .get(a)
                        .is_some_and(|a| a.kind == ActionKind::Pseudo);
                    if pseudo {
                        self.states.insert(*a, ActionState::Confirmed);
                    } else {
                        self.states.insert(*a, ActionState::Running);
                        out.push(*a);
                    }
                }
            }
            if !progressed {
                return out;
            }
        }
    }

    /// Records an action's outcome; a failure aborts the transition.
    /// Outcomes for actions that are not running are ignored (late or
    /// duplicate results). Returns whether it was taken.
    pub fn complete(&mut self, id: u32, ok: bool) -> bool {
        if self.states.get(&id) != Some(&ActionState::Running) {
            return false;
        }
        self.states.insert(
            id,
            if ok {
                ActionState::Confirmed
            } else {
                ActionState::Failed
            },
        );
        if !ok {
            self.aborted = true;
        }
        true
    }

    /// Stops starting actions (something changed: a new graph is needed).
    pub fn abort(&mut self) {
        self.aborted = true;
    }

    /// Whether it was aborted.
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// The actions handed out and not yet completed.
    pub fn running(&self) -> Vec<u32> {
        self.states
            .iter()
            .filter(|(_, s)| **s == ActionState::Running)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Over: nothing running, and either aborted or nothing left to fire.
    /// Call after [`Transition::next_actions`].
    pub fn is_finished(&self) -> bool {
        self.running().is_empty()
            && (self.aborted
                || self.graph.synapses.iter().all(|s| {
                    self.fired.contains(&s.id)
                        || !s
                            .inputs
                            .iter()
                            .all(|i| self.states.get(i) == Some(&ActionState::Confirmed))
                }))
    }

    /// Every action confirmed.
    pub fn is_complete(&self) -> bool {
        self.states.values().all(|s| *s == ActionState::Confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"<transition_graph cluster-delay="60s" stonith-timeout="60s" failed-stop-offset="INFINITY" failed-start-offset="INFINITY" batch-limit="0" transition_id="4" recheck-by="1700000061">
  <synapse id="0"><action_set>
    <rsc_op id="3" operation="start" operation_key="d_start_0" on_node="n2" on_node_uuid="u2">
      <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>
      <attributes CRM_meta_timeout="20000" state="/tmp/d"/></rsc_op></action_set>
    <inputs><trigger><pseudo_event id="5" operation="stop" operation_key="g_stop_0"/></trigger></inputs></synapse>
  <synapse id="1"><action_set><pseudo_event id="5" operation="stop" operation_key="g_stop_0"/></action_set>
    <inputs><trigger><rsc_op id="2" operation="stop" operation_key="d_stop_0" on_node="n1" on_node_uuid="u1"/></trigger></inputs></synapse>
  <synapse id="2"><action_set>
    <rsc_op id="2" operation="stop" operation_key="d_stop_0" on_node="n1" on_node_uuid="u1">
      <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>
      <attributes CRM_meta_timeout="20000"/></rsc_op></action_set><inputs/></synapse>
  <synapse id="3"><action_set>
    <rsc_op id="4" operation="monitor" operation_key="d_monitor_10000" on_node="n2" on_node_uuid="u2">
      <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>
      <attributes CRM_meta_interval="10000" CRM_meta_timeout="20000"/></rsc_op></action_set>
    <inputs><trigger><rsc_op id="3" operation="start" operation_key="d_start_0" on_node="n2" on_node_uuid="u2"/></trigger></inputs></synapse>
</transition_graph>"#;

    #[test]
    fn graph_parses_with_its_settings_and_actions() {
        let g = TransitionGraph::parse_text(GRAPH).unwrap();
        assert_eq!(g.id, 4);
        assert_eq!(g.cluster_delay_ms, 60_000);
        assert_eq!(g.recheck_by, Some(1_700_000_061));
        assert_eq!(g.actions.len(), 4);
        let start = &g.actions[&3];
        assert_eq!(start.kind, ActionKind::Resource);
        assert_eq!(start.node.as_deref(), Some("n2"));
        assert_eq!(start.timeout_ms(), Some(20_000));
        assert_eq!(
            start.params.get("state").map(String::as_str),
            Some("/tmp/d")
        );
        assert_eq!(g.actions[&4].interval_ms(), 10_000);
        assert_eq!(g.actions[&5].kind, ActionKind::Pseudo);
    }

    #[test]
    fn actions_run_in_order_and_pseudo_actions_pass_through() {
        let mut t = Transition::new(TransitionGraph::parse_text(GRAPH).unwrap());
        assert_eq!(t.next_actions(), vec![2], "only the stop has no inputs");
        assert!(!t.is_finished());
        assert!(
            t.next_actions().is_empty(),
            "nothing new while the stop runs"
        );
        assert!(t.complete(2, true));
        // The pseudo stop confirms itself, which lets the start go.
        assert_eq!(t.next_actions(), vec![3]);
        assert!(!t.complete(2, true), "a duplicate result is ignored");
        assert!(t.complete(3, true));
        assert_eq!(t.next_actions(), vec![4]);
        assert!(t.complete(4, true));
        assert!(t.next_actions().is_empty());
        assert!(t.is_finished() && t.is_complete());
    }

    #[test]
    fn a_failure_aborts_and_waits_for_running_actions() {
        let mut t = Transition::new(TransitionGraph::parse_text(GRAPH).unwrap());
        t.next_actions();
        t.complete(2, true);
        assert_eq!(t.next_actions(), vec![3]);
        assert!(t.complete(3, false));
        assert!(t.is_aborted());
        assert!(t.next_actions().is_empty(), "the monitor never starts");
        assert!(t.is_finished() && !t.is_complete());
    }

    #[test]
    fn bad_graphs_are_refused_with_the_reason() {
        assert!(TransitionGraph::parse_text("<cib/>")
            .unwrap_err()
            .contains("not a transition graph"));
        let dangling = r#"<transition_graph transition_id="1"><synapse id="0"><action_set><pseudo_event id="1" operation="x" operation_key="x"/></action_set><inputs><trigger><pseudo_event id="9" operation="y" operation_key="y"/></trigger></inputs></synapse></transition_graph>"#;
        assert!(TransitionGraph::parse_text(dangling)
            .unwrap_err()
            .contains("unknown action 9"));
    }

    #[test]
    fn batch_limit_bounds_running_actions() {
        let text = r#"<transition_graph transition_id="1" batch-limit="1">
          <synapse id="0"><action_set><rsc_op id="1" operation="start" operation_key="a_start_0" on_node="n"><primitive id="a" class="ocf" type="Dummy"/></rsc_op></action_set><inputs/></synapse>
          <synapse id="1"><action_set><rsc_op id="2" operation="start" operation_key="b_start_0" on_node="n"><primitive id="b" class="ocf" type="Dummy"/></rsc_op></action_set><inputs/></synapse>
        </transition_graph>"#;
        let mut t = Transition::new(TransitionGraph::parse_text(text).unwrap());
        assert_eq!(t.next_actions().len(), 1);
        assert!(t.next_actions().is_empty());
        let running = t.running()[0];
        t.complete(running, true);
        assert_eq!(t.next_actions().len(), 1);
    }

    /// Every graph of the scheduler corpus (../shared beside the project,
    /// as CI has it) parses, and runs to completion when every action
    /// succeeds: no graph the scheduler writes can stall the controller.
    #[test]
    fn every_corpus_graph_parses_and_completes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/scheduler/exp");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the shared corpus must be beside the project)",
                dir.display()
            )
        });
        let mut n = 0;
        for e in entries {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let g = TransitionGraph::parse_text(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut t = Transition::new(g);
            loop {
                let next = t.next_actions();
                if next.is_empty() {
                    break;
                }
                for a in next {
                    assert!(t.complete(a, true));
                }
            }
            assert!(
                t.is_finished() && t.is_complete(),
                "{} stalled",
                path.display()
            );
            n += 1;
        }
        assert!(n > 500, "only {n} graphs found");
    }
}

//! One fencing operation as its origin runs it, pure: ask every fencer
//! which devices it can run against the target, then plan over the levels
//! and hand each step to a node that can run its device, until the plan
//! finishes. The daemon feeds it answers, departures and the clock
//! (`now` is always passed in) and carries out what it returns.
//!
//! Order of calls: [`Operation::new`] (querying), [`Operation::query_reply`]
//! for every answer until it returns true (or [`Operation::handle_timeout`]
//! ends the query), then [`Operation::start`]; after each returned
//! [`Output::Exec`], [`Operation::exec_done`] with its step's result, or
//! [`Operation::node_left`] / [`Operation::handle_timeout`] when the node
//! running it leaves or stays silent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stonithapi::{exit, FenceAction};

use crate::plan::{choose_executioner, Next, Plan, PlanDevice, PlanOutcome, StepResult};

/// A device a node can run against a target, with what the origin needs
/// to plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Capable {
    /// The device id.
    pub id: String,
    /// Its priority (higher first when there is no topology).
    pub priority: i32,
    /// A suicide device (only the target may run it).
    pub suicide: bool,
    /// Left out of a multi-device reboot's on-phase.
    pub skip_on: bool,
    /// Unfencing must also turn it on (`provides=unfencing`, or its
    /// agent's `on` action is `automatic="1"`).
    pub automatic_on: bool,
}

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Run `action` of `device` on `node` (this node or a peer), and
    /// report with [`Operation::exec_done`] and this `step`.
    Exec {
        /// Where.
        node: String,
        /// The step number.
        step: u32,
        /// The device.
        device: String,
        /// The action.
        action: FenceAction,
        /// Whether the device's pcmk_delay applies (first step only).
        delay: bool,
    },
    /// The operation is over.
    Finished(PlanOutcome),
}

#[derive(Debug, Clone)]
enum Phase {
    Querying {
        deadline: Instant,
        expected: BTreeSet<String>,
        replies: BTreeMap<String, Vec<Capable>>,
    },
    Running {
        step: u32,
        node: String,
        device: String,
        deadline: Instant,
    },
    Done,
}

/// How long the origin waits for fencers to answer a query.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Slack over a step's timeout before the origin gives up on the node
/// running it (the executor needs up to 2 s to KILL an agent).
pub const EXEC_GRACE: Duration = Duration::from_secs(5);

/// An operation at its origin.
#[derive(Debug, Clone)]
pub struct Operation {
    target: String,
    action: FenceAction,
    timeout: Duration,
    local: String,
    phase: Phase,
    plan: Option<Plan>,
    capable: BTreeMap<String, BTreeSet<String>>,
    info: BTreeMap<String, Capable>,
    step: u32,
    executioner: String,
    allow_suicide: bool,
}

impl Operation {
    /// A new operation on this node (`local`), waiting for the answers of
    /// `expected` (this node included) until `now + QUERY_TIMEOUT`.
    pub fn new(
        target: &str,
        action: FenceAction,
        timeout: Duration,
        local: &str,
        expected: BTreeSet<String>,
        now: Instant,
    ) -> Operation {
        Operation {
            target: target.to_string(),
            action,
            timeout,
            local: local.to_string(),
            phase: Phase::Querying {
                deadline: now + QUERY_TIMEOUT,
                expected,
                replies: BTreeMap::new(),
            },
            plan: None,
            capable: BTreeMap::new(),
            info: BTreeMap::new(),
            step: 0,
            executioner: String::new(),
            allow_suicide: false,
        }
    }

    /// Lets the target run a device against itself when no other node
    /// can (Pacemaker's `st_opt_allow_suicide`). Only this node can be
    /// such a target: a node never runs a device for another origin's
    /// request against itself.
    pub fn allow_suicide(mut self, allow: bool) -> Operation {
        self.allow_suicide = allow;
        self
    }

    /// Whether the target may fence itself (see [`Operation::allow_suicide`]).
    pub fn allows_suicide(&self) -> bool {
        self.allow_suicide
    }

    /// The target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The action.
    pub fn action(&self) -> FenceAction {
        self.action
    }

    /// The requested timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The node that ran (or runs) the latest step.
    pub fn executioner(&self) -> &str {
        &self.executioner
    }

    /// Whether it still waits for query answers.
    pub fn querying(&self) -> bool {
        matches!(self.phase, Phase::Querying { .. })
    }

    /// The node running the current step, if any.
    pub fn running_on(&self) -> Option<&str> {
        match &self.phase {
            Phase::Running { node, .. } => Some(node),
            _ => None,
        }
    }

    /// When [`Operation::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Querying { deadline, .. } | Phase::Running { deadline, .. } => Some(*deadline),
            Phase::Done => None,
        }
    }

    /// A fencer's answer; true when every expected node has answered
    /// (then call [`Operation::start`]).
    #[must_use]
    pub fn query_reply(&mut self, node: &str, devices: Vec<Capable>) -> bool {
        let Phase::Querying {
            expected, replies, ..
        } = &mut self.phase
        else {
            return false;
        };
        replies.insert(node.to_string(), devices);
        expected.iter().all(|n| replies.contains_key(n))
    }

    /// Every device some node can run against the target.
    pub fn capable_devices(&self) -> BTreeSet<String> {
        match &self.phase {
            Phase::Querying { replies, .. } => {
                replies.values().flatten().map(|c| c.id.clone()).collect()
            }
            _ => self.info.keys().cloned().collect(),
        }
    }

    /// Ends the query and plans: over `topology` (the target's levels, in
    /// order) or, with none, every capable device on its own, highest
    /// priority first. Unfencing also turns on every capable device that
    /// needs it (automatic unfencing), after the level's own devices.
    pub fn start(&mut self, topology: Vec<Vec<String>>, now: Instant) -> Output {
        if let Phase::Querying { replies, .. } = &self.phase {
            for (node, devs) in replies {
                for d in devs {
                    self.capable
                        .entry(node.clone())
                        .or_default()
                        .insert(d.id.clone());
                    self.info.insert(d.id.clone(), d.clone());
                }
            }
        }
        let levels: Vec<Vec<PlanDevice>> = if topology.is_empty() {
            let mut devs: Vec<&Capable> = self.info.values().collect();
            devs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
            devs.into_iter()
                .map(|c| {
                    vec![PlanDevice {
                        id: c.id.clone(),
                        skip_on: c.skip_on,
                    }]
                })
                .collect()
        } else {
            topology
                .into_iter()
                .map(|level| {
                    level
                        .into_iter()
                        .map(|d| PlanDevice {
                            skip_on: self.info.get(&d).is_some_and(|c| c.skip_on),
                            id: d,
                        })
                        .collect()
                })
                .collect()
        };
        let levels = if self.action == FenceAction::On {
            let automatic: Vec<&Capable> = self.info.values().filter(|c| c.automatic_on).collect();
            let mut levels = levels;
            if levels.is_empty() && !automatic.is_empty() {
                levels.push(Vec::new());
            }
            for level in levels.iter_mut() {
                for c in &automatic {
                    if !level.iter().any(|d| d.id == c.id) {
                        level.push(PlanDevice::new(&c.id));
                    }
                }
            }
            levels
        } else {
            levels
        };
        self.plan = Some(Plan::new(&self.target, self.action, levels));
        self.phase = Phase::Done;
        self.advance(now)
    }

    fn advance(&mut self, now: Instant) -> Output {
        loop {
            let Some(plan) = self.plan.as_mut() else {
                return Output::Finished(PlanOutcome {
                    succeeded: false,
                    exit_code: exit::ERROR,
                    reason: "no plan".into(),
                    devices: Vec::new(),
                });
            };
            match plan.step() {
                Next::Finished(outcome) => {
                    self.phase = Phase::Done;
                    return Output::Finished(outcome);
                }
                Next::Run { device, action } => {
                    let suicide = self.info.get(&device).is_some_and(|c| c.suicide);
                    // Unfencing may be done by the target itself (fabric
                    // devices are often reachable only from it); fencing
                    // never is, except by a suicide device or by this node
                    // fencing itself when allowed to.
                    let node = choose_executioner(
                        &device,
                        &self.target,
                        &self.local,
                        suicide,
                        &self.capable,
                    )
                    .or_else(|| {
                        let self_fence =
                            self.allow_suicide && self.target.eq_ignore_ascii_case(&self.local);
                        (self.action == FenceAction::On || self_fence)
                            .then(|| {
                                choose_executioner(
                                    &device,
                                    &self.target,
                                    &self.local,
                                    true,
                                    &self.capable,
                                )
                            })
                            .flatten()
                    });
                    let Some(node) = node else {
                        let reason = if self.info.contains_key(&device) {
                            format!("no node other than {} can run {device}", self.target)
                        } else {
                            format!("no node can run {device} against {}", self.target)
                        };
                        plan.record(StepResult::failed(exit::NOSUCH, reason));
                        continue;
                    };
                    self.step += 1;
                    self.executioner = node.clone();
                    self.phase = Phase::Running {
                        step: self.step,
                        node: node.clone(),
                        device: device.clone(),
                        // Only the net under a lost answer: the executor
                        // enforces the device's timeout, which may be
                        // longer than the request's.
                        deadline: now + self.timeout.max(Duration::from_secs(60)) + EXEC_GRACE,
                    };
                    return Output::Exec {
                        node,
                        step: self.step,
                        device,
                        action,
                        delay: self.step == 1,
                    };
                }
            }
        }
    }

    /// The result of step `step` from `node`; `None` when it is stale (an
    /// earlier step, or another node than the one running it).
    pub fn exec_done(
        &mut self,
        step: u32,
        node: &str,
        result: StepResult,
        now: Instant,
    ) -> Option<Output> {
        match &self.phase {
            Phase::Running {
                step: s, node: n, ..
            } if *s == step && n == node => {}
            _ => return None,
        }
        if let Some(plan) = self.plan.as_mut() {
            plan.record(result);
        }
        Some(self.advance(now))
    }

    /// A node left the cluster. Returns true when the query is now
    /// complete (call [`Operation::start`]), or the next output when it
    /// was running the current step (that step failed).
    pub fn node_left(&mut self, node: &str, now: Instant) -> Left {
        match &mut self.phase {
            Phase::Querying {
                expected, replies, ..
            } => {
                expected.remove(node);
                replies.remove(node);
                if expected.iter().all(|n| replies.contains_key(n)) {
                    Left::QueryComplete
                } else {
                    Left::Nothing
                }
            }
            Phase::Running {
                step,
                node: n,
                device,
                ..
            } if n == node => {
                let (step, reason) = (*step, format!("{node} left while running {device}"));
                let node = node.to_string();
                match self.exec_done(step, &node, StepResult::failed(exit::ERROR, reason), now) {
                    Some(o) => Left::Output(o),
                    None => Left::Nothing,
                }
            }
            _ => Left::Nothing,
        }
    }

    /// Call at [`Operation::poll_timeout`]: a query that waited long
    /// enough is complete; a step whose node stayed silent failed.
    pub fn handle_timeout(&mut self, now: Instant) -> Left {
        match &self.phase {
            Phase::Querying { deadline, .. } if *deadline <= now => Left::QueryComplete,
            Phase::Running {
                deadline,
                step,
                node,
                device,
            } if *deadline <= now => {
                let (step, node) = (*step, node.clone());
                let reason = format!("{node} did not report the result of {device} in time");
                match self.exec_done(step, &node, StepResult::failed(exit::TIMEOUT, reason), now) {
                    Some(o) => Left::Output(o),
                    None => Left::Nothing,
                }
            }
            _ => Left::Nothing,
        }
    }
}

/// What a departure or a timeout means for the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// Nothing to do.
    Nothing,
    /// The query is complete: call [`Operation::start`].
    QueryComplete,
    /// The running step failed; carry this out.
    Output(Output),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(id: &str, priority: i32) -> Capable {
        Capable {
            id: id.into(),
            priority,
            suicide: false,
            skip_on: false,
            automatic_on: false,
        }
    }

    #[test]
    fn unfencing_also_turns_on_devices_that_need_it() {
        let now = Instant::now();
        let fabric = Capable {
            automatic_on: true,
            ..cap("fabric", 0)
        };
        for (action, want) in [
            (FenceAction::On, vec!["ipmi", "fabric"]),
            (FenceAction::Off, vec!["ipmi"]),
        ] {
            let mut op = Operation::new(
                "n3",
                action,
                Duration::from_secs(20),
                "n1",
                nodes(&["n1"]),
                now,
            );
            assert!(op.query_reply("n1", vec![cap("ipmi", 0), fabric.clone()]));
            let mut out = op.start(vec![vec!["ipmi".into()]], now);
            let mut ran = Vec::new();
            while let Output::Exec { device, step, .. } = &out {
                ran.push(device.clone());
                out = op
                    .exec_done(*step, "n1", StepResult::ok(), now)
                    .expect("next");
            }
            assert_eq!(ran, want, "{action}");
        }
    }

    fn nodes(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn exec(o: &Output) -> (String, String, FenceAction) {
        match o {
            Output::Exec {
                node,
                device,
                action,
                ..
            } => (node.clone(), device.clone(), *action),
            other => panic!("not an exec: {other:?}"),
        }
    }

    #[test]
    fn waits_for_every_expected_node_then_runs_where_the_device_is() {
        let now = Instant::now();
        let mut op = Operation::new(
            "n3",
            FenceAction::Reboot,
            Duration::from_secs(20),
            "n1",
            nodes(&["n1", "n2", "n3"]),
            now,
        );
        assert!(!op.query_reply("n1", vec![]));
        assert!(!op.query_reply("n3", vec![cap("ipmi3", 0)]));
        assert!(op.query_reply("n2", vec![cap("ipmi3", 0)]));
        let out = op.start(Vec::new(), now);
        assert_eq!(
            exec(&out),
            ("n2".into(), "ipmi3".into(), FenceAction::Reboot)
        );
        assert!(matches!(
            out,
            Output::Exec {
                step: 1,
                delay: true,
                ..
            }
        ));
        // A stale or foreign answer changes nothing.
        assert_eq!(op.exec_done(1, "n3", StepResult::ok(), now), None);
        assert_eq!(op.exec_done(0, "n2", StepResult::ok(), now), None);
        let done = op.exec_done(1, "n2", StepResult::ok(), now);
        assert!(
            matches!(done, Some(Output::Finished(ref o)) if o.succeeded && o.devices == ["ipmi3"])
        );
        assert_eq!(op.executioner(), "n2");
        assert_eq!(op.poll_timeout(), None);
    }

    #[test]
    fn without_topology_devices_go_by_priority_and_fall_through() {
        let now = Instant::now();
        let mut op = Operation::new(
            "n3",
            FenceAction::Off,
            Duration::from_secs(20),
            "n1",
            nodes(&["n1"]),
            now,
        );
        assert!(op.query_reply("n1", vec![cap("low", 1), cap("high", 9)]));
        assert_eq!(exec(&op.start(Vec::new(), now)).1, "high");
        let next = op
            .exec_done(1, "n1", StepResult::failed(1, "broken"), now)
            .expect("next");
        assert_eq!(exec(&next).1, "low");
        assert!(matches!(
            next,
            Output::Exec {
                step: 2,
                delay: false,
                ..
            }
        ));
    }

    #[test]
    fn a_silent_query_ends_at_its_deadline_and_a_departed_runner_fails_its_step() {
        let now = Instant::now();
        let mut op = Operation::new(
            "n3",
            FenceAction::Off,
            Duration::from_secs(20),
            "n1",
            nodes(&["n1", "n2", "n4"]),
            now,
        );
        assert!(!op.query_reply("n1", vec![cap("local", 0)]));
        assert!(!op.query_reply("n2", vec![cap("remote", 5)]));
        assert_eq!(op.handle_timeout(now), Left::Nothing);
        assert_eq!(op.handle_timeout(now + QUERY_TIMEOUT), Left::QueryComplete);
        let out = op.start(vec![vec!["remote".into()], vec!["local".into()]], now);
        assert_eq!(exec(&out).0, "n2");
        assert_eq!(op.running_on(), Some("n2"));
        match op.node_left("n2", now) {
            Left::Output(o) => {
                assert_eq!(exec(&o), ("n1".into(), "local".into(), FenceAction::Off))
            }
            other => panic!("{other:?}"),
        }
        // A node leaving during the query completes it without that node.
        let mut q = Operation::new(
            "n3",
            FenceAction::Off,
            Duration::from_secs(20),
            "n1",
            nodes(&["n1", "n2"]),
            now,
        );
        assert!(!q.query_reply("n1", vec![]));
        assert_eq!(q.node_left("n2", now), Left::QueryComplete);
        match q.start(Vec::new(), now) {
            Output::Finished(o) => assert_eq!((o.succeeded, o.exit_code), (false, 105)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_target_can_run_it_so_fencing_fails_but_unfencing_runs_there() {
        let now = Instant::now();
        for (action, want) in [(FenceAction::Off, None), (FenceAction::On, Some("n3"))] {
            let mut op = Operation::new(
                "n3",
                action,
                Duration::from_secs(20),
                "n1",
                nodes(&["n1", "n3"]),
                now,
            );
            assert!(!op.query_reply("n1", vec![]));
            assert!(op.query_reply("n3", vec![cap("fabric", 0)]));
            match (op.start(Vec::new(), now), want) {
                (Output::Exec { node, .. }, Some(w)) => assert_eq!(node, w),
                (Output::Finished(o), None) => {
                    assert!(!o.succeeded);
                    assert_eq!(o.reason, "no node other than n3 can run fabric");
                }
                (other, _) => panic!("{action}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_node_fences_itself_only_when_allowed_and_only_if_nobody_else_can() {
        let now = Instant::now();
        // (local, allowed, others capable) -> executioner, or failure
        let table = [
            ("n3", true, false, Some("n3")),
            ("n3", false, false, None),
            ("n3", true, true, Some("n1")),
            // Allowed, but the origin is not the target: another origin's
            // request never makes the target run a device on itself.
            ("n1", true, false, None),
        ];
        for (local, allowed, others, want) in table {
            let mut op = Operation::new(
                "n3",
                FenceAction::Reboot,
                Duration::from_secs(20),
                local,
                nodes(&["n1", "n3"]),
                now,
            )
            .allow_suicide(allowed);
            let n1 = if others {
                vec![cap("power", 0)]
            } else {
                vec![]
            };
            assert!(!op.query_reply("n1", n1));
            assert!(op.query_reply("n3", vec![cap("power", 0)]));
            match (op.start(Vec::new(), now), want) {
                (Output::Exec { node, .. }, Some(w)) => assert_eq!(node, w, "{local} {allowed}"),
                (Output::Finished(o), None) => assert!(!o.succeeded),
                (other, _) => panic!("{local} {allowed} {others}: {other:?}"),
            }
        }
    }
}

//! One fencing operation as a plan over levels, and the decisions around
//! it: whether a new request is merged into one in progress or answered
//! from the history, and which node runs a device. Pure.
//!
//! The plan (Pacemaker's remote-operation rules, in our words): levels
//! are tried in order; within a level every device must succeed, one
//! after another in list order; the first failure abandons the level. A
//! reboot over a level of more than one device becomes "all off" then
//! "all on" (devices whose reboot is configured as a plain off are left
//! out of the on-phase); the node is fenced once the off-phase is done,
//! so failures of the on-phase are ignored. A level of one device gets a
//! plain reboot.

use std::collections::{BTreeMap, BTreeSet};

use stonithapi::{exit, FenceAction, FenceResult};

/// A device of a plan level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDevice {
    /// Its id.
    pub id: String,
    /// Left out of a multi-device reboot's on-phase.
    pub skip_on: bool,
}

impl PlanDevice {
    /// A device that takes part in both phases.
    pub fn new(id: &str) -> PlanDevice {
        PlanDevice {
            id: id.to_string(),
            skip_on: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The requested action on every device.
    Whole,
    /// A multi-device reboot's off-phase.
    Off,
    /// Its on-phase.
    On,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run `action` on `device` and report with [`Plan::record`].
    Run {
        /// The device.
        device: String,
        /// The action.
        action: FenceAction,
    },
    /// The operation is over.
    Finished(PlanOutcome),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOutcome {
    /// Whether the target is fenced.
    pub succeeded: bool,
    /// Pacemaker's exit code.
    pub exit_code: i32,
    /// Why it failed (empty on success).
    pub reason: String,
    /// The devices that succeeded, in order (the deciding level's on
    /// success; every device tried on failure).
    pub devices: Vec<String>,
}

/// The result of one device action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// It succeeded.
    pub ok: bool,
    /// Pacemaker's exit code (1 failed, 124 timed out, 105 no node can
    /// run the device).
    pub exit_code: i32,
    /// Why it failed.
    pub reason: String,
}

impl StepResult {
    /// A success.
    pub fn ok() -> StepResult {
        StepResult {
            ok: true,
            exit_code: exit::OK,
            reason: String::new(),
        }
    }

    /// A failure.
    pub fn failed(exit_code: i32, reason: impl Into<String>) -> StepResult {
        StepResult {
            ok: false,
            exit_code,
            reason: reason.into(),
        }
    }
}

/// A fencing operation's progress over its levels.
#[derive(Debug, Clone)]
pub struct Plan {
    target: String,
    action: FenceAction,
    levels: Vec<Vec<PlanDevice>>,
    level: usize,
    pos: usize,
    phase: Phase,
    last_failure: Option<(i32, String)>,
    level_done: Vec<String>,
    tried: Vec<String>,
}

impl Plan {
    /// A plan for `action` on `target` over `levels` (empty levels are
    /// skipped). With no level at all the operation fails with "no
    /// device", never succeeds.
    pub fn new(target: &str, action: FenceAction, levels: Vec<Vec<PlanDevice>>) -> Plan {
        let mut p = Plan {
            target: target.to_string(),
            action,
            levels: levels.into_iter().filter(|l| !l.is_empty()).collect(),
            level: 0,
            pos: 0,
            phase: Phase::Whole,
            last_failure: None,
            level_done: Vec::new(),
            tried: Vec::new(),
        };
        p.enter_level();
        p
    }

    fn enter_level(&mut self) {
        self.pos = 0;
        self.level_done.clear();
        self.phase = match self.levels.get(self.level) {
            Some(l) if self.action == FenceAction::Reboot && l.len() > 1 => Phase::Off,
            _ => Phase::Whole,
        };
    }

    /// The devices the plan may use, for asking peers.
    pub fn devices(&self) -> BTreeSet<String> {
        self.levels.iter().flatten().map(|d| d.id.clone()).collect()
    }

    /// What to do now. Calling it again without `record` gives the same
    /// answer.
    pub fn step(&mut self) -> Next {
        loop {
            let Some(level) = self.levels.get(self.level) else {
                let (exit_code, reason) = self.last_failure.clone().unwrap_or((
                    exit::NOSUCH,
                    format!("No device configured for target '{}'", self.target),
                ));
                return Next::Finished(PlanOutcome {
                    succeeded: false,
                    exit_code,
                    reason,
                    devices: self.tried.clone(),
                });
            };
            match (self.phase, level.get(self.pos)) {
                (Phase::On, Some(d)) if d.skip_on => {
                    self.pos += 1;
                }
                (phase, Some(d)) => {
                    let action = match phase {
                        Phase::Whole => self.action,
                        Phase::Off => FenceAction::Off,
                        Phase::On => FenceAction::On,
                    };
                    return Next::Run {
                        device: d.id.clone(),
                        action,
                    };
                }
                (Phase::Off, None) => {
                    self.phase = Phase::On;
                    self.pos = 0;
                }
                (Phase::Whole | Phase::On, None) => {
                    return Next::Finished(PlanOutcome {
                        succeeded: true,
                        exit_code: exit::OK,
                        reason: String::new(),
                        devices: self.level_done.clone(),
                    });
                }
            }
        }
    }

    /// Records the result of the step [`Plan::step`] returned.
    pub fn record(&mut self, result: StepResult) {
        let Some(device) = self
            .levels
            .get(self.level)
            .and_then(|l| l.get(self.pos))
            .map(|d| d.id.clone())
        else {
            debug_assert!(false, "record without a step");
            return;
        };
        if self.phase != Phase::On && !self.tried.contains(&device) {
            self.tried.push(device.clone());
        }
        if result.ok {
            if !self.level_done.contains(&device) {
                self.level_done.push(device);
            }
            self.pos += 1;
        } else if self.phase == Phase::On {
            // The node is already off: an on-phase failure does not undo it.
            self.pos += 1;
        } else {
            self.last_failure = Some((result.exit_code, result.reason));
            self.level += 1;
            self.enter_level();
        }
    }
}

/// How a new request is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Join the operation with this id (same target and action, in
    /// progress anywhere in the cluster).
    Merge(String),
    /// Answer with this earlier success (within the tolerance).
    FromHistory(FenceResult),
    /// Start a new operation.
    Start,
}

/// An operation in progress, as [`admit`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    /// Its id.
    pub id: String,
    /// Its target.
    pub target: String,
    /// Its action.
    pub action: FenceAction,
}

/// Decides what to do with a request for `action` on `target` at
/// `now_ms` (milliseconds since the epoch), given the operations in
/// progress and the history (oldest first).
pub fn admit(
    target: &str,
    action: FenceAction,
    tolerance_ms: u64,
    now_ms: u64,
    in_progress: &[InProgress],
    history: &[FenceResult],
) -> Admission {
    if let Some(op) = in_progress
        .iter()
        .find(|o| o.action == action && o.target.eq_ignore_ascii_case(target))
    {
        return Admission::Merge(op.id.clone());
    }
    if tolerance_ms > 0 {
        let recent = history.iter().rev().find(|r| {
            r.succeeded
                && r.action == action
                && r.target.eq_ignore_ascii_case(target)
                && now_ms.saturating_sub(r.completed.saturating_mul(1000)) <= tolerance_ms
        });
        if let Some(r) = recent {
            return Admission::FromHistory(r.clone());
        }
    }
    Admission::Start
}

/// Chooses the node that runs `device` against `target`: among the nodes
/// that said they can, never the target itself unless the device is a
/// suicide device (a node may only fence itself by suicide); the local
/// node first, then the lowest name. `capable` maps node -> devices.
pub fn choose_executioner(
    device: &str,
    target: &str,
    local: &str,
    suicide: bool,
    capable: &BTreeMap<String, BTreeSet<String>>,
) -> Option<String> {
    let allowed = |n: &str| {
        let is_target = n.eq_ignore_ascii_case(target);
        if suicide {
            is_target
        } else {
            !is_target
        }
    };
    let can = |n: &str| capable.get(n).is_some_and(|d| d.contains(device));
    if can(local) && allowed(local) {
        return Some(local.to_string());
    }
    capable.keys().find(|n| allowed(n) && can(n)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(spec: &[&[&str]]) -> Vec<Vec<PlanDevice>> {
        spec.iter()
            .map(|l| l.iter().map(|d| PlanDevice::new(d)).collect())
            .collect()
    }

    /// Runs a plan, answering each step from `results` (device/action ->
    /// ok; default ok), and returns the steps taken and the outcome.
    fn drive(mut p: Plan, fails: &[(&str, FenceAction)]) -> (Vec<String>, PlanOutcome) {
        let mut steps = Vec::new();
        for _ in 0..100 {
            match p.step() {
                Next::Run { device, action } => {
                    steps.push(format!("{action} {device}"));
                    if fails.contains(&(device.as_str(), action)) {
                        p.record(StepResult::failed(1, format!("{device} failed")));
                    } else {
                        p.record(StepResult::ok());
                    }
                }
                Next::Finished(o) => return (steps, o),
            }
        }
        panic!("plan did not finish");
    }

    use FenceAction::{Off, On, Reboot};

    #[test]
    fn plans_over_levels() {
        type Case<'a> = (
            FenceAction,
            &'a [&'a [&'a str]],
            &'a [(&'a str, FenceAction)],
            &'a [&'a str],
            bool,
            &'a [&'a str],
        );
        let table: &[Case] = &[
            // One device: a plain reboot.
            (Reboot, &[&["d1"]], &[], &["reboot d1"], true, &["d1"]),
            // Two power supplies: all off, then all on, in list order.
            (
                Reboot,
                &[&["psu:1", "psu:2"]],
                &[],
                &["off psu:1", "off psu:2", "on psu:1", "on psu:2"],
                true,
                &["psu:1", "psu:2"],
            ),
            // A failed first level falls through to the next.
            (
                Off,
                &[&["ipmi"], &["pdu"]],
                &[("ipmi", Off)],
                &["off ipmi", "off pdu"],
                true,
                &["pdu"],
            ),
            // A failure in the off-phase abandons the level: no on-phase.
            (
                Reboot,
                &[&["a", "b"], &["c"]],
                &[("a", Off)],
                &["off a", "reboot c"],
                true,
                &["c"],
            ),
            // A failure in the on-phase does not undo the fencing.
            (
                Reboot,
                &[&["a", "b"]],
                &[("a", On)],
                &["off a", "off b", "on a", "on b"],
                true,
                &["a", "b"],
            ),
            // Every level failed: the last failure is the answer.
            (
                Off,
                &[&["a"], &["b", "c"]],
                &[("a", Off), ("c", Off)],
                &["off a", "off b", "off c"],
                false,
                &["a", "b", "c"],
            ),
            // Unfencing is a plain on over the level.
            (
                On,
                &[&["a", "b"]],
                &[],
                &["on a", "on b"],
                true,
                &["a", "b"],
            ),
            // Empty levels are skipped.
            (Off, &[&[], &["b"]], &[], &["off b"], true, &["b"]),
        ];
        for (action, lv, fails, want_steps, want_ok, want_devices) in table {
            let (steps, o) = drive(Plan::new("n3", *action, levels(lv)), fails);
            assert_eq!(steps, *want_steps, "{action} over {lv:?}");
            assert_eq!(o.succeeded, *want_ok, "{action} over {lv:?}");
            assert_eq!(o.devices, *want_devices, "{action} over {lv:?}");
            if !o.succeeded {
                assert_eq!(o.exit_code, 1);
                assert_eq!(o.reason, "c failed");
            }
        }
    }

    #[test]
    fn no_device_is_a_clear_failure_never_a_success() {
        let (steps, o) = drive(Plan::new("n9", Off, Vec::new()), &[]);
        assert!(steps.is_empty());
        assert!(!o.succeeded);
        assert_eq!(o.exit_code, 105);
        assert_eq!(o.reason, "No device configured for target 'n9'");
        let (_, o) = drive(Plan::new("n9", Reboot, levels(&[&[], &[]])), &[]);
        assert!(!o.succeeded);
    }

    #[test]
    fn devices_configured_as_off_only_skip_the_on_phase() {
        let lv = vec![vec![
            PlanDevice::new("a"),
            PlanDevice {
                id: "b".into(),
                skip_on: true,
            },
        ]];
        let (steps, o) = drive(Plan::new("n3", Reboot, lv), &[]);
        assert_eq!(steps, ["off a", "off b", "on a"]);
        assert!(o.succeeded);
    }

    #[test]
    fn timeouts_keep_their_exit_code() {
        let mut p = Plan::new("n3", Off, levels(&[&["hang"]]));
        assert!(matches!(p.step(), Next::Run { .. }));
        p.record(StepResult::failed(
            124,
            "Fence agent did not complete within 2s",
        ));
        let Next::Finished(o) = p.step() else {
            panic!("not finished")
        };
        assert_eq!((o.succeeded, o.exit_code), (false, 124));
    }

    fn result(target: &str, action: FenceAction, ok: bool, completed: u64) -> FenceResult {
        FenceResult {
            id: format!("{target}-{completed}"),
            target: target.into(),
            action,
            succeeded: ok,
            exit_code: if ok { 0 } else { 1 },
            executioner: "n2".into(),
            origin: "n1".into(),
            client: "test".into(),
            devices: vec!["d".into()],
            completed,
            reason: String::new(),
        }
    }

    #[test]
    fn requests_merge_or_come_from_history() {
        let pending = [InProgress {
            id: "n1.7".into(),
            target: "n3".into(),
            action: Reboot,
        }];
        let hist = [
            result("n2", Off, true, 1000),
            result("n2", Off, false, 1008),
            result("n4", Reboot, true, 1009),
        ];
        let now = 1_010_000;
        let table: &[(&str, FenceAction, u64, Admission)] = &[
            ("n3", Reboot, 0, Admission::Merge("n1.7".into())),
            ("N3", Reboot, 0, Admission::Merge("n1.7".into())),
            ("n3", Off, 0, Admission::Start),
            // A later failure does not hide an earlier success in the window.
            ("n2", Off, 10_000, Admission::FromHistory(hist[0].clone())),
            ("n2", Off, 9_999, Admission::Start),
            ("n2", Off, 0, Admission::Start),
            ("n4", Off, 60_000, Admission::Start),
            (
                "n4",
                Reboot,
                60_000,
                Admission::FromHistory(hist[2].clone()),
            ),
        ];
        for (t, a, tol, want) in table {
            assert_eq!(
                &admit(t, *a, *tol, now, &pending, &hist),
                want,
                "{t} {a} {tol}"
            );
        }
    }

    #[test]
    fn a_node_fences_itself_only_by_suicide() {
        let capable: BTreeMap<String, BTreeSet<String>> = [
            ("n1", vec!["ipmi"]),
            ("n2", vec!["ipmi", "remote"]),
            ("n3", vec!["ipmi", "remote", "self"]),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_string(), d.into_iter().map(str::to_string).collect()))
        .collect();
        let table: &[(&str, &str, &str, bool, Option<&str>)] = &[
            ("ipmi", "n3", "n1", false, Some("n1")),
            ("ipmi", "n1", "n1", false, Some("n2")),
            ("remote", "n3", "n1", false, Some("n2")),
            ("remote", "n2", "n2", false, Some("n3")),
            ("self", "n1", "n1", false, Some("n3")),
            ("self", "n3", "n1", false, None),
            ("self", "n3", "n1", true, Some("n3")),
            ("self", "n1", "n1", true, None),
            ("nothing", "n3", "n1", false, None),
        ];
        for (dev, target, local, suicide, want) in table {
            assert_eq!(
                choose_executioner(dev, target, local, *suicide, &capable).as_deref(),
                *want,
                "{dev} against {target} from {local}"
            );
        }
    }
}

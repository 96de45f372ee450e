//! The pure core of lrmd: resources, the per-resource operation queue (one
//! operation at a time per resource, in order), the recurring schedule,
//! the global limit on running agents (`max-children`), cancellation, which
//! results are reported, and the history of the last result of every
//! operation. No I/O and no clock: every entry point takes `now`, and
//! what the shell must do comes out of [`Core::poll_output`].
//!
//! Call order: any of `add`/`delete`/`perform`/`cancel`/`flush`/
//! `finished`/`handle_timeout`, then drain `poll_output` until `None`, then
//! sleep until `poll_timeout`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use lrmapi::{Notify, OpResult, OpSpec, OpStatus, Resource, RscState};

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Run the agent for this operation now, and call
    /// [`Core::finished`] with the outcome.
    Execute {
        /// The operation's call id.
        call_id: u64,
        /// The resource (as registered).
        rsc: Resource,
        /// The operation.
        spec: OpSpec,
    },
    /// A result: kept in the history already; push it to subscribers when
    /// `notify`.
    Report {
        /// The result.
        result: OpResult,
        /// Whether the operation's notify rule wants it reported.
        notify: bool,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such resource.
    NoSuchResource,
    /// No such operation on this resource.
    NoSuchOperation,
    /// Something else, with why.
    Invalid(String),
}

/// How an agent run ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Done, Timeout or Error.
    pub status: OpStatus,
    /// The mapped rc.
    pub rc: i32,
    /// Captured stdout.
    pub output: String,
    /// `ocf-exit-reason:` text.
    pub exit_reason: Option<String>,
    /// Wall-clock seconds when it ended.
    pub wall: u64,
}

struct Op {
    rsc: String,
    spec: OpSpec,
    /// When it was queued last (for queue time).
    queued_at: Instant,
    /// When it started running, while it runs.
    started_at: Option<Instant>,
    /// Its next due time (recurring ops between runs, start delays).
    due: Option<Instant>,
    cancelled: bool,
    last: Option<OpResult>,
}

struct Rsc {
    info: Resource,
    queue: VecDeque<u64>,
    running: Option<u64>,
    history: BTreeMap<(String, u64), OpResult>,
}

/// Limits of the core.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Agents running at once, over all resources.
    pub max_children: usize,
    /// Queued operations per resource.
    pub max_queue: usize,
    /// Registered resources.
    pub max_resources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_children: 4,
            max_queue: 256,
            max_resources: 10_000,
        }
    }
}

/// The operation scheduler.
pub struct Core {
    limits: Limits,
    rscs: BTreeMap<String, Rsc>,
    ops: HashMap<u64, Op>,
    /// Ops waiting for their due time.
    schedule: BTreeSet<(Instant, u64)>,
    /// Resources with queued ops and nothing running, in arrival order.
    ready: VecDeque<String>,
    running: usize,
    next_call: u64,
    out: VecDeque<Output>,
}

impl Core {
    /// An empty core.
    pub fn new(limits: Limits) -> Core {
        Core {
            limits,
            rscs: BTreeMap::new(),
            ops: HashMap::new(),
            schedule: BTreeSet::new(),
            ready: VecDeque::new(),
            running: 0,
            next_call: 0,
            out: VecDeque::new(),
        }
    }

    /// Changes `max-children` (at least 1); takes effect at the next
    /// dispatch.
    pub fn set_max_children(&mut self, n: usize, now: Instant) {
        self.limits.max_children = n.max(1);
        self.dispatch(now);
    }

    /// The current `max-children`.
    pub fn max_children(&self) -> usize {
        self.limits.max_children
    }

    /// Agents running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Registers a resource. Registering the same definition again is a
    /// no-op (a reconnecting controller does this).
    pub fn add(&mut self, rsc: Resource) -> Result<(), Refusal> {
        if let Some(r) = self.rscs.get(&rsc.id) {
            return if r.info == rsc {
                Ok(())
            } else {
                Err(Refusal::Invalid(format!(
                    "resource {} exists with another definition",
                    rsc.id
                )))
            };
        }
        if rsc.id.is_empty() {
            return Err(Refusal::Invalid("empty resource id".into()));
        }
        if self.rscs.len() >= self.limits.max_resources {
            return Err(Refusal::Invalid("too many resources".into()));
        }
        self.rscs.insert(
            rsc.id.clone(),
            Rsc {
                info: rsc,
                queue: VecDeque::new(),
                running: None,
                history: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Unregisters a resource, cancelling its pending operations; refused
    /// while an operation runs.
    pub fn delete(&mut self, id: &str, now: Instant) -> Result<(), Refusal> {
        let r = self.rscs.get(id).ok_or(Refusal::NoSuchResource)?;
        if r.running.is_some() {
            return Err(Refusal::Invalid(format!(
                "resource {id} has an operation running"
            )));
        }
        self.flush(id, now)?;
        self.rscs.remove(id);
        self.ready.retain(|r| r != id);
        Ok(())
    }

    /// A registered resource.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.rscs.get(id).map(|r| &r.info)
    }

    /// Every registered resource, by id.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.rscs.values().map(|r| &r.info)
    }

    /// Queues an operation (after its start delay); returns its call id.
    pub fn perform(&mut self, spec: OpSpec, now: Instant) -> Result<u64, Refusal> {
        let r = self
            .rscs
            .get_mut(&spec.rsc)
            .ok_or(Refusal::NoSuchResource)?;
        if r.queue.len() >= self.limits.max_queue {
            return Err(Refusal::Invalid(format!(
                "resource {} has {} operations queued",
                spec.rsc,
                r.queue.len()
            )));
        }
        self.next_call += 1;
        let id = self.next_call;
        let delay = Duration::from_millis(spec.start_delay_ms);
        let op = Op {
            rsc: spec.rsc.clone(),
            spec,
            queued_at: now,
            started_at: None,
            due: None,
            cancelled: false,
            last: None,
        };
        let rsc = op.rsc.clone();
        self.ops.insert(id, op);
        if delay.is_zero() {
            self.enqueue(&rsc, id, now);
            self.dispatch(now);
        } else {
            self.schedule_at(id, now + delay);
        }
        Ok(id)
    }

    fn schedule_at(&mut self, id: u64, at: Instant) {
        if let Some(op) = self.ops.get_mut(&id) {
            op.due = Some(at);
            self.schedule.insert((at, id));
        }
    }

    fn enqueue(&mut self, rsc: &str, id: u64, now: Instant) {
        let Some(r) = self.rscs.get_mut(rsc) else {
            return;
        };
        if let Some(op) = self.ops.get_mut(&id) {
            op.queued_at = now;
        }
        r.queue.push_back(id);
        if r.running.is_none() && r.queue.len() == 1 {
            self.ready.push_back(rsc.to_owned());
        }
    }

    fn dispatch(&mut self, now: Instant) {
        while self.running < self.limits.max_children {
            let Some(rid) = self.ready.pop_front() else {
                break;
            };
            let Some(r) = self.rscs.get_mut(&rid) else {
                continue;
            };
            if r.running.is_some() {
                continue;
            }
            let Some(id) = r.queue.pop_front() else {
                continue;
            };
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            r.running = Some(id);
            op.started_at = Some(now);
            self.running += 1;
            self.out.push_back(Output::Execute {
                call_id: id,
                rsc: r.info.clone(),
                spec: op.spec.clone(),
            });
        }
    }

    /// The agent of `call_id` ended. Unknown ids are ignored.
    pub fn finished(&mut self, call_id: u64, outcome: Outcome, now: Instant) {
        let Some(op) = self.ops.get_mut(&call_id) else {
            return;
        };
        let Some(started) = op.started_at.take() else {
            return;
        };
        let Some(r) = self.rscs.get_mut(&op.rsc) else {
            return;
        };
        if r.running != Some(call_id) {
            return;
        }
        r.running = None;
        self.running = self.running.saturating_sub(1);
        let exec = now.saturating_duration_since(started);
        let status = if op.cancelled {
            OpStatus::Cancelled
        } else {
            outcome.status
        };
        let prev = op.last.as_ref().map(|l| l.rc);
        let rc_changed_at = match (&op.last, prev == Some(outcome.rc)) {
            (Some(l), true) => l.rc_changed_at,
            _ => outcome.wall,
        };
        let result = OpResult {
            call_id,
            rsc: op.rsc.clone(),
            spec: op.spec.clone(),
            status,
            rc: outcome.rc,
            output: outcome.output,
            exit_reason: outcome.exit_reason,
            run_at: outcome.wall.saturating_sub(exec.as_secs()),
            rc_changed_at,
            queue_ms: started.saturating_duration_since(op.queued_at).as_millis() as u64,
            exec_ms: exec.as_millis() as u64,
        };
        let recurring = op.spec.interval_ms > 0 && !op.cancelled;
        let notify = !recurring
            || match op.spec.notify {
                Notify::Every => true,
                Notify::Changed => prev != Some(result.rc) || result.status != OpStatus::Done,
                Notify::Rc(rc) => rc == result.rc,
            };
        r.history
            .insert((op.spec.op.clone(), op.spec.interval_ms), result.clone());
        op.last = Some(result.clone());
        let rsc = op.rsc.clone();
        if !r.queue.is_empty() {
            self.ready.push_back(rsc.clone());
        }
        if recurring {
            let interval = Duration::from_millis(op.spec.interval_ms);
            // Fixed rate from the previous due time, so runs do not drift
            // by the agent's run time; a run later than a whole interval
            // starts at once.
            let base = op.due.unwrap_or(started);
            let mut next = base + interval;
            if next <= now {
                next = now;
            }
            self.schedule_at(call_id, next);
        } else {
            self.ops.remove(&call_id);
        }
        self.out.push_back(Output::Report { result, notify });
        self.dispatch(now);
    }

    /// Cancels an operation of `rsc`: queued or waiting ones are reported
    /// cancelled at once; a running one is reported cancelled when it ends
    /// (and not run again).
    pub fn cancel(&mut self, rsc: &str, call_id: u64, now: Instant) -> Result<(), Refusal> {
        let r = self.rscs.get_mut(rsc).ok_or(Refusal::NoSuchResource)?;
        let Some(op) = self.ops.get_mut(&call_id) else {
            return Err(Refusal::NoSuchOperation);
        };
        if op.rsc != rsc {
            return Err(Refusal::NoSuchOperation);
        }
        if r.running == Some(call_id) {
            op.cancelled = true;
            return Ok(());
        }
        r.queue.retain(|&c| c != call_id);
        if let Some(d) = op.due.take() {
            self.schedule.remove(&(d, call_id));
        }
        let Some(op) = self.ops.remove(&call_id) else {
            return Ok(());
        };
        let result = OpResult {
            call_id,
            rsc: op.rsc.clone(),
            status: OpStatus::Cancelled,
            rc: op.last.as_ref().map_or(0, |l| l.rc),
            output: String::new(),
            exit_reason: None,
            run_at: op.last.as_ref().map_or(0, |l| l.run_at),
            rc_changed_at: op.last.as_ref().map_or(0, |l| l.rc_changed_at),
            queue_ms: 0,
            exec_ms: 0,
            spec: op.spec,
        };
        self.out.push_back(Output::Report {
            result,
            notify: true,
        });
        self.dispatch(now);
        Ok(())
    }

    /// Cancels every operation of a resource.
    pub fn flush(&mut self, rsc: &str, now: Instant) -> Result<(), Refusal> {
        if !self.rscs.contains_key(rsc) {
            return Err(Refusal::NoSuchResource);
        }
        let mut ids: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, o)| o.rsc == rsc)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let _ = self.cancel(rsc, id, now);
        }
        Ok(())
    }

    /// A resource's state: whether it is busy, its pending operations and
    /// its history.
    pub fn state(&self, rsc: &str) -> Option<RscState> {
        let r = self.rscs.get(rsc)?;
        let mut pending: Vec<(u64, OpSpec, Option<OpResult>)> = self
            .ops
            .iter()
            .filter(|(_, o)| o.rsc == rsc)
            .map(|(&id, o)| (id, o.spec.clone(), o.last.clone()))
            .collect();
        pending.sort_by_key(|p| p.0);
        Some(RscState {
            busy: r.running.is_some(),
            pending,
            history: r.history.values().cloned().collect(),
        })
    }

    /// When [`Core::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first().map(|&(t, _)| t)
    }

    /// Queues every operation that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.schedule.first() {
            if t > now {
                break;
            }
            self.schedule.remove(&(t, id));
            let Some(rsc) = self.ops.get(&id).map(|o| o.rsc.clone()) else {
                continue;
            };
            self.enqueue(&rsc, id, now);
        }
        self.dispatch(now);
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsc(id: &str) -> Resource {
        Resource {
            id: id.into(),
            class: "ocf".into(),
            rtype: "Dummy".into(),
            provider: Some("heartbeat".into()),
            params: BTreeMap::new(),
        }
    }

    fn spec(rsc: &str, op: &str, interval_ms: u64, notify: Notify) -> OpSpec {
        OpSpec {
            rsc: rsc.into(),
            op: op.into(),
            timeout_ms: 1000,
            interval_ms,
            start_delay_ms: 0,
            notify,
            params: BTreeMap::new(),
            app_name: "test".into(),
        }
    }

    fn done(rc: i32) -> Outcome {
        Outcome {
            status: OpStatus::Done,
            rc,
            output: String::new(),
            exit_reason: None,
            wall: 1000,
        }
    }

    /// Drains outputs as compact strings: `exec N OP` / `report N OP rc status notify`.
    fn drain(c: &mut Core) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(o) = c.poll_output() {
            v.push(match o {
                Output::Execute { call_id, spec, .. } => format!("exec {call_id} {}", spec.op),
                Output::Report { result, notify } => format!(
                    "report {} {} rc={} {:?}{}",
                    result.call_id,
                    result.spec.op,
                    result.rc,
                    result.status,
                    if notify { "" } else { " silent" }
                ),
            });
        }
        v
    }

    #[test]
    fn one_operation_at_a_time_per_resource_in_order() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let s = c.perform(spec("a", "start", 0, Notify::Every), t0).unwrap();
        let m = c
            .perform(spec("a", "monitor", 0, Notify::Every), t0)
            .unwrap();
        assert_eq!(drain(&mut c), ["exec 1 start"]);
        assert!(c.state("a").unwrap().busy);
        c.finished(s, done(0), t0);
        assert_eq!(
            drain(&mut c),
            ["report 1 start rc=0 Done", "exec 2 monitor"]
        );
        c.finished(m, done(0), t0);
        assert_eq!(drain(&mut c), ["report 2 monitor rc=0 Done"]);
        let st = c.state("a").unwrap();
        assert!(!st.busy);
        assert_eq!(st.history.len(), 2);
    }

    #[test]
    fn max_children_bounds_agents_over_all_resources() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits {
            max_children: 2,
            ..Limits::default()
        });
        for r in ["a", "b", "c"] {
            c.add(rsc(r)).unwrap();
            c.perform(spec(r, "start", 0, Notify::Every), t0).unwrap();
        }
        assert_eq!(drain(&mut c), ["exec 1 start", "exec 2 start"]);
        c.finished(2, done(0), t0);
        assert_eq!(drain(&mut c), ["report 2 start rc=0 Done", "exec 3 start"]);
        c.set_max_children(5, t0);
        assert_eq!(c.running(), 2);
    }

    #[test]
    fn recurring_reports_first_result_and_changes_only() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 1000, Notify::Changed), t0)
            .unwrap();
        let mut rcs = vec![0, 0, 7, 7, 0];
        let mut log = Vec::new();
        let mut now = t0;
        for rc in rcs.drain(..) {
            log.extend(drain(&mut c));
            c.finished(id, done(rc), now + Duration::from_millis(10));
            log.extend(drain(&mut c));
            assert_eq!(c.poll_timeout(), Some(now + s), "fixed rate");
            now += s;
            c.handle_timeout(now);
        }
        assert_eq!(
            log,
            [
                "exec 1 monitor",
                "report 1 monitor rc=0 Done",
                "exec 1 monitor",
                "report 1 monitor rc=0 Done silent",
                "exec 1 monitor",
                "report 1 monitor rc=7 Done",
                "exec 1 monitor",
                "report 1 monitor rc=7 Done silent",
                "exec 1 monitor",
                "report 1 monitor rc=0 Done",
            ]
        );
    }

    #[test]
    fn recurring_with_a_target_rc_reports_only_that_rc() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 500, Notify::Rc(7)), t0)
            .unwrap();
        drain(&mut c);
        c.finished(id, done(0), t0);
        assert_eq!(drain(&mut c), ["report 1 monitor rc=0 Done silent"]);
        c.handle_timeout(t0 + Duration::from_millis(500));
        drain(&mut c);
        c.finished(id, done(7), t0 + Duration::from_millis(600));
        assert_eq!(drain(&mut c), ["report 1 monitor rc=7 Done"]);
    }

    #[test]
    fn a_late_recurring_run_starts_at_once_without_a_burst() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 1000, Notify::Every), t0)
            .unwrap();
        drain(&mut c);
        // The agent ran 3.5 intervals.
        let end = t0 + Duration::from_millis(3500);
        c.finished(id, done(0), end);
        assert_eq!(c.poll_timeout(), Some(end));
    }

    #[test]
    fn cancel_of_a_waiting_recurring_op_reports_cancelled_and_stops_it() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 1000, Notify::Changed), t0)
            .unwrap();
        drain(&mut c);
        c.finished(id, done(0), t0);
        drain(&mut c);
        c.cancel("a", id, t0).unwrap();
        assert_eq!(drain(&mut c), ["report 1 monitor rc=0 Cancelled"]);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.cancel("a", id, t0), Err(Refusal::NoSuchOperation));
    }

    #[test]
    fn cancel_of_a_running_op_reports_cancelled_when_it_ends_and_not_again() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 1000, Notify::Changed), t0)
            .unwrap();
        drain(&mut c);
        c.cancel("a", id, t0).unwrap();
        assert_eq!(drain(&mut c), Vec::<String>::new());
        c.finished(id, done(0), t0);
        assert_eq!(drain(&mut c), ["report 1 monitor rc=0 Cancelled"]);
        assert_eq!(c.poll_timeout(), None);
        assert!(c.state("a").unwrap().pending.is_empty());
    }

    #[test]
    fn flush_cancels_queued_ops_and_delete_waits_for_the_running_one() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let s = c.perform(spec("a", "start", 0, Notify::Every), t0).unwrap();
        c.perform(spec("a", "monitor", 1000, Notify::Every), t0)
            .unwrap();
        drain(&mut c);
        assert!(matches!(c.delete("a", t0), Err(Refusal::Invalid(_))));
        c.flush("a", t0).unwrap();
        assert_eq!(drain(&mut c), ["report 2 monitor rc=0 Cancelled"]);
        c.finished(s, done(0), t0);
        assert_eq!(drain(&mut c), ["report 1 start rc=0 Cancelled"]);
        c.delete("a", t0).unwrap();
        assert!(c.resource("a").is_none());
        assert_eq!(
            c.perform(spec("a", "start", 0, Notify::Every), t0),
            Err(Refusal::NoSuchResource)
        );
    }

    #[test]
    fn re_adding_the_same_resource_keeps_its_history() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.add(rsc("a")).unwrap();
        let s = c.perform(spec("a", "start", 0, Notify::Every), t0).unwrap();
        drain(&mut c);
        c.finished(s, done(0), t0);
        c.add(rsc("a")).unwrap();
        assert_eq!(c.state("a").unwrap().history.len(), 1);
        let mut other = rsc("a");
        other.rtype = "Stateful".into();
        assert!(c.add(other).is_err());
    }

    #[test]
    fn start_delay_and_queue_bound() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits {
            max_queue: 1,
            ..Limits::default()
        });
        c.add(rsc("a")).unwrap();
        let mut sp = spec("a", "start", 0, Notify::Every);
        sp.start_delay_ms = 200;
        c.perform(sp, t0).unwrap();
        assert_eq!(drain(&mut c), Vec::<String>::new());
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(200)));
        c.handle_timeout(t0 + Duration::from_millis(200));
        assert_eq!(drain(&mut c), ["exec 1 start"]);
        c.perform(spec("a", "monitor", 0, Notify::Every), t0)
            .unwrap();
        assert!(c
            .perform(spec("a", "monitor", 0, Notify::Every), t0)
            .is_err());
    }

    #[test]
    fn unknown_or_stale_finish_is_ignored() {
        let t0 = Instant::now();
        let mut c = Core::new(Limits::default());
        c.finished(42, done(0), t0);
        c.add(rsc("a")).unwrap();
        let id = c
            .perform(spec("a", "monitor", 1000, Notify::Every), t0)
            .unwrap();
        drain(&mut c);
        c.finished(id, done(0), t0);
        drain(&mut c);
        // Not running now: a second finish is stale.
        c.finished(id, done(7), t0);
        assert_eq!(drain(&mut c), Vec::<String>::new());
    }
}

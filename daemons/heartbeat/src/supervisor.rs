//! The master control process's respawn policy as plain data: which children
//! to start now, when to restart one that exited (with back-off when it
//! crash-loops), and the order to stop them. No fork, no clock of its own:
//! the shell passes `now` and does the process work, so the policy is tested
//! without starting anything.

use std::time::{Duration, Instant};

/// A child the master keeps running (a `respawn` line or a CRM daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// Name for the log (the program's file name).
    pub name: String,
    /// User to run as.
    pub user: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Restart it when it exits (false: started once).
    pub respawn: bool,
}

/// A child that runs at least this long is considered healthy again.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);
/// The longest delay between restarts of a crash-looping child.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Slot {
    spec: ChildSpec,
    pid: Option<i32>,
    started_at: Option<Instant>,
    /// Exits in a row that came sooner than `STABLE_AFTER` after starting.
    quick_exits: u32,
    /// When to (re)start; `None` while running or when not to be restarted.
    start_at: Option<Instant>,
}

/// What happened to an exited child, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitVerdict {
    /// Not one of ours.
    Unknown,
    /// Restart after this delay (zero: at once).
    Restart {
        /// Child name.
        name: String,
        /// Delay before restarting.
        after: Duration,
    },
    /// Not restarted (no respawn, or shutting down).
    Gone {
        /// Child name.
        name: String,
    },
}

/// The set of children and their restart state.
#[derive(Debug, Default)]
pub struct Supervisor {
    slots: Vec<Slot>,
    stopping: bool,
}

impl Supervisor {
    /// Children to start, in order; all due at `now`.
    pub fn new(specs: Vec<ChildSpec>, now: Instant) -> Self {
        Supervisor {
            slots: specs
                .into_iter()
                .map(|spec| Slot {
                    spec,
                    pid: None,
                    started_at: None,
                    quick_exits: 0,
                    start_at: Some(now),
                })
                .collect(),
            stopping: false,
        }
    }

    /// Indexes of children due to start at `now`, in configuration order.
    /// The caller starts each and reports `started` or `start_failed`.
    pub fn due(&self, now: Instant) -> Vec<usize> {
        if self.stopping {
            return Vec::new();
        }
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pid.is_none() && s.start_at.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect()
    }

    /// The spec of child `i`.
    pub fn spec(&self, i: usize) -> &ChildSpec {
        &self.slots[i].spec
    }

    /// Child `i` is running as `pid`.
    pub fn started(&mut self, i: usize, pid: i32, now: Instant) {
        let s = &mut self.slots[i];
        s.pid = Some(pid);
        s.started_at = Some(now);
        s.start_at = None;
    }

    /// Child `i` could not be started (missing program...); tried again
    /// with the same back-off as a crash.
    pub fn start_failed(&mut self, i: usize, now: Instant) -> Duration {
        let s = &mut self.slots[i];
        s.quick_exits += 1;
        let delay = backoff(s.quick_exits);
        s.start_at = s.spec.respawn.then_some(now + delay);
        delay
    }

    /// Child `pid` exited at `now`.
    pub fn exited(&mut self, pid: i32, now: Instant) -> ExitVerdict {
        let stopping = self.stopping;
        let Some(s) = self.slots.iter_mut().find(|s| s.pid == Some(pid)) else {
            return ExitVerdict::Unknown;
        };
        s.pid = None;
        let ran = s
            .started_at
            .map_or(Duration::ZERO, |t| now.duration_since(t));
        if !s.spec.respawn || stopping {
            return ExitVerdict::Gone {
                name: s.spec.name.clone(),
            };
        }
        if ran >= STABLE_AFTER {
            s.quick_exits = 0;
        } else {
            s.quick_exits += 1;
        }
        // The first quick exit restarts at once, as Heartbeat does; a
        // crash loop backs off exponentially.
        let after = if s.quick_exits <= 1 {
            Duration::ZERO
        } else {
            backoff(s.quick_exits - 1)
        };
        s.start_at = Some(now + after);
        ExitVerdict::Restart {
            name: s.spec.name.clone(),
            after,
        }
    }

    /// When the next delayed start is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.stopping {
            return None;
        }
        self.slots
            .iter()
            .filter(|s| s.pid.is_none())
            .filter_map(|s| s.start_at)
            .min()
    }

    /// Enters shutdown: nothing is started again. Returns the running
    /// children in reverse start order, the order to stop them in.
    pub fn stop(&mut self) -> Vec<(String, i32)> {
        self.stopping = true;
        self.running().into_iter().rev().collect()
    }

    /// Running children in configuration order.
    pub fn running(&self) -> Vec<(String, i32)> {
        self.slots
            .iter()
            .filter_map(|s| s.pid.map(|p| (s.spec.name.clone(), p)))
            .collect()
    }
}

fn backoff(quick_exits: u32) -> Duration {
    let secs = 1u64 << quick_exits.saturating_sub(1).min(6);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, respawn: bool) -> ChildSpec {
        ChildSpec {
            name: name.into(),
            user: "root".into(),
            argv: vec![format!("/bin/{name}")],
            respawn,
        }
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn all_children_start_in_order_and_stop_in_reverse() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(
            vec![spec("ccm", true), spec("cib", true), spec("crmd", true)],
            t0,
        );
        assert_eq!(sup.due(t0), vec![0, 1, 2]);
        for (i, pid) in [(0, 10), (1, 11), (2, 12)] {
            sup.started(i, pid, t0);
        }
        assert!(sup.due(t0 + s(100)).is_empty());
        assert_eq!(sup.next_deadline(), None);
        let order: Vec<i32> = sup.stop().into_iter().map(|(_, p)| p).collect();
        assert_eq!(order, vec![12, 11, 10]);
        assert_eq!(
            sup.exited(11, t0 + s(1)),
            ExitVerdict::Gone { name: "cib".into() }
        );
        assert!(
            sup.due(t0 + s(100)).is_empty(),
            "nothing restarts while stopping"
        );
    }

    #[test]
    fn crash_loop_backs_off_and_a_stable_run_resets_it() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(vec![spec("cib", true)], t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for pid in 1..=9 {
            assert_eq!(sup.due(now), vec![0], "due at {:?}", now - t0);
            sup.started(0, pid, now);
            now += s(1);
            match sup.exited(pid, now) {
                ExitVerdict::Restart { after, .. } => delays.push(after.as_secs()),
                v => panic!("{v:?}"),
            }
            assert!(sup.due(now).is_empty() || *delays.last().unwrap() == 0);
            now = sup.next_deadline().unwrap();
        }
        assert_eq!(delays, vec![0, 1, 2, 4, 8, 16, 32, 60, 60]);
        // A run longer than STABLE_AFTER forgives the past.
        sup.started(0, 100, now);
        now += STABLE_AFTER;
        assert_eq!(
            sup.exited(100, now),
            ExitVerdict::Restart {
                name: "cib".into(),
                after: s(0)
            }
        );
    }

    #[test]
    fn non_respawn_child_is_not_restarted_and_unknown_pids_are_ignored() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(vec![spec("once", false)], t0);
        sup.started(0, 7, t0);
        assert_eq!(sup.exited(99, t0), ExitVerdict::Unknown);
        assert_eq!(
            sup.exited(7, t0),
            ExitVerdict::Gone {
                name: "once".into()
            }
        );
        assert!(sup.due(t0 + s(1000)).is_empty());
        assert!(sup.running().is_empty());
    }

    #[test]
    fn failed_start_is_retried_with_backoff() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(vec![spec("missing", true)], t0);
        assert_eq!(sup.start_failed(0, t0), s(1));
        assert!(sup.due(t0).is_empty());
        assert_eq!(sup.due(t0 + s(1)), vec![0]);
        assert_eq!(sup.start_failed(0, t0 + s(1)), s(2));
        assert_eq!(sup.next_deadline(), Some(t0 + s(3)));
    }
}

//! A pure timer queue keyed on `Instant`, separate from the event loop so its
//! ordering, cancellation and periodic re-arming can be tested without a clock.
//!
//! `std::time::Instant` is CLOCK_MONOTONIC on Linux: setting the wall clock
//! (date, NTP step) neither fires nor delays any timer kept here.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// Identifies a timer for its whole life; never reused within one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub u64);

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    period: Option<Duration>,
}

/// One-shot and periodic timers. Cancelled timers leave stale heap entries
/// that are skipped lazily, so cancel is O(1).
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, TimerId)>>,
    live: HashMap<TimerId, Entry>,
    next_id: u64,
}

impl TimerQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms a timer that fires `after` from `now`, then every `period` if given.
    /// A zero period is treated as one millisecond so a periodic timer can
    /// never starve the loop.
    pub fn add(&mut self, now: Instant, after: Duration, period: Option<Duration>) -> TimerId {
        self.next_id += 1;
        let id = TimerId(self.next_id);
        let deadline = now + after;
        let period = period.map(|p| p.max(Duration::from_millis(1)));
        self.live.insert(id, Entry { deadline, period });
        self.heap.push(Reverse((deadline, id)));
        id
    }

    /// Disarms a timer. Returns false if it had already fired (one-shot) or
    /// was never armed.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.live.remove(&id).is_some()
    }

    /// Whether the timer is still armed.
    pub fn is_armed(&self, id: TimerId) -> bool {
        self.live.contains_key(&id)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The earliest deadline of an armed timer.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.discard_stale();
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Appends to `fired` every timer whose deadline is at or before `now`,
    /// earliest first, and re-arms periodic ones. A periodic timer fires at
    /// most once per call even if several periods were missed (a stopped
    /// process must not get a burst), and keeps its phase when on time.
    pub fn expire(&mut self, now: Instant, fired: &mut Vec<TimerId>) {
        loop {
            self.discard_stale();
            let Some(Reverse((deadline, id))) = self.heap.peek().copied() else {
                return;
            };
            if deadline > now {
                return;
            }
            self.heap.pop();
            fired.push(id);
            let period = self.live.get(&id).and_then(|e| e.period);
            match period {
                Some(p) => {
                    let mut next = deadline + p;
                    if next <= now {
                        next = now + p;
                    }
                    if let Some(e) = self.live.get_mut(&id) {
                        e.deadline = next;
                    }
                    self.heap.push(Reverse((next, id)));
                }
                None => {
                    self.live.remove(&id);
                }
            }
        }
    }

    fn discard_stale(&mut self) {
        while let Some(Reverse((deadline, id))) = self.heap.peek() {
            match self.live.get(id) {
                Some(e) if e.deadline == *deadline => return,
                _ => {
                    self.heap.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let late = q.add(t0, ms(30), None);
        let early = q.add(t0, ms(10), None);
        let mut fired = vec![];
        q.expire(t0 + ms(9), &mut fired);
        assert!(fired.is_empty());
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        q.expire(t0 + ms(30), &mut fired);
        assert_eq!(fired, vec![early, late]);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn cancelled_timer_never_fires_and_does_not_shadow_next_deadline() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.add(t0, ms(5), None);
        let b = q.add(t0, ms(50), None);
        assert!(q.cancel(a));
        assert!(!q.cancel(a));
        assert_eq!(q.next_deadline(), Some(t0 + ms(50)));
        let mut fired = vec![];
        q.expire(t0 + ms(100), &mut fired);
        assert_eq!(fired, vec![b]);
    }

    #[test]
    fn periodic_timer_keeps_phase_and_skips_missed_periods() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let p = q.add(t0, ms(100), Some(ms(100)));
        let mut fired = vec![];
        q.expire(t0 + ms(101), &mut fired);
        assert_eq!(fired, vec![p]);
        assert_eq!(q.next_deadline(), Some(t0 + ms(200)));
        // Process stalled for a second: one firing, then a fresh period.
        fired.clear();
        q.expire(t0 + ms(1250), &mut fired);
        assert_eq!(fired, vec![p]);
        assert_eq!(q.next_deadline(), Some(t0 + ms(1350)));
        assert!(q.cancel(p));
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn zero_period_is_clamped() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.add(t0, ms(0), Some(ms(0)));
        let mut fired = vec![];
        q.expire(t0, &mut fired);
        assert_eq!(fired.len(), 1);
        assert_eq!(q.next_deadline(), Some(t0 + ms(1)));
    }
}

//! The fencing history every node keeps: completed operations, bounded,
//! oldest first. Pure.

use std::collections::VecDeque;

use stonithapi::FenceResult;

/// How many results are kept (Pacemaker keeps 500 per fencer).
pub const DEFAULT_CAPACITY: usize = 500;

/// Completed fencing operations, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    entries: VecDeque<FenceResult>,
    capacity: usize,
}

impl Default for History {
    fn default() -> Self {
        History::new(DEFAULT_CAPACITY)
    }
}

impl History {
    /// An empty history keeping at most `capacity` results.
    pub fn new(capacity: usize) -> History {
        History {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records a result; a result with an id already recorded replaces it
    /// (the same broadcast heard twice). The oldest is dropped when full.
    pub fn record(&mut self, r: FenceResult) {
        if let Some(old) = self.entries.iter_mut().find(|e| e.id == r.id) {
            *old = r;
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }

    /// Every result, oldest first.
    pub fn entries(&self) -> Vec<FenceResult> {
        self.entries.iter().cloned().collect()
    }

    /// The results for one target (or all), oldest first.
    pub fn for_target(&self, target: Option<&str>) -> Vec<FenceResult> {
        self.entries
            .iter()
            .filter(|e| target.is_none_or(|t| e.target.eq_ignore_ascii_case(t)))
            .cloned()
            .collect()
    }

    /// The last successful fencing of `target`.
    pub fn last_success(&self, target: &str) -> Option<&FenceResult> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.succeeded && e.target.eq_ignore_ascii_case(target))
    }

    /// Forgets the results of one target (or all); how many.
    pub fn cleanup(&mut self, target: Option<&str>) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|e| !target.is_none_or(|t| e.target.eq_ignore_ascii_case(t)));
        before - self.entries.len()
    }

    /// Adds results learned from a peer (its history on join), keeping
    /// completion order.
    pub fn merge(&mut self, results: Vec<FenceResult>) {
        for r in results {
            if !self.entries.iter().any(|e| e.id == r.id) {
                self.record(r);
            }
        }
        let mut v: Vec<FenceResult> = self.entries.drain(..).collect();
        v.sort_by_key(|e| e.completed);
        self.entries = v.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stonithapi::FenceAction;

    fn r(id: &str, target: &str, ok: bool, completed: u64) -> FenceResult {
        FenceResult {
            id: id.into(),
            target: target.into(),
            action: FenceAction::Off,
            succeeded: ok,
            exit_code: if ok { 0 } else { 1 },
            executioner: "n2".into(),
            origin: "n1".into(),
            client: "c".into(),
            devices: vec![],
            completed,
            reason: String::new(),
        }
    }

    #[test]
    fn bounded_deduplicated_and_filtered() {
        let mut h = History::new(3);
        h.record(r("a", "n1", true, 1));
        h.record(r("b", "n2", false, 2));
        h.record(r("b", "n2", false, 2));
        h.record(r("c", "n1", false, 3));
        assert_eq!(h.entries().len(), 3);
        assert_eq!(h.last_success("N1").map(|e| e.id.as_str()), Some("a"));
        h.record(r("d", "n3", true, 4));
        assert_eq!(h.entries().len(), 3);
        assert_eq!(h.last_success("n1"), None);
        assert_eq!(h.for_target(Some("n1")).len(), 1);
        assert_eq!(h.cleanup(Some("n2")), 1);
        assert_eq!(h.for_target(None).len(), 2);
        h.merge(vec![r("e", "n5", true, 0), r("d", "n3", true, 4)]);
        let ids: Vec<String> = h.entries().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["e", "c", "d"]);
    }
}

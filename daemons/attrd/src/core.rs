//! The attribute table and its writing policy, pure: no I/O, no clock
//! ("now" is passed in), so every rule is tested with tables of inputs.
//!
//! The table holds every node's values, keyed by (attribute, node). Who
//! writes what: **every node writes only its own node's values** (the
//! local node's), so no value is written by two nodes and a value set for
//! another node is sent to that node's attrd, which applies and announces
//! it. When a node dies its values leave every table (a node that is down
//! keeps nothing); an attrd that restarts on a live node takes its values
//! back from the peers (`restore`). The exchange itself is `cluster`.
//!
//! Dampening (Heartbeat-era attrd's rule): a local change is due `delay`
//! after it was made, and a further change of the value within the delay
//! starts the delay again; setting the value it already has changes
//! nothing. Writes are batched: a flush happens [`Core::window`] after
//! the first value became due, at most one batch is in flight at a time,
//! and a batch carries every value due by then.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use attrdapi::{Change, Lifetime, NodeValue, Update};
use serde::{Deserialize, Serialize};

/// Most values held (all nodes together); more are refused or dropped.
pub const MAX_VALUES: usize = 50_000;

/// After a failed CIB write the batch is tried again this much later.
pub const RETRY: Duration = Duration::from_secs(1);

/// One node's value of an attribute, as attrds exchange it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// The attribute.
    pub name: String,
    /// The node it belongs to.
    pub node: String,
    /// The value (`None`: deleted).
    pub value: Option<String>,
    /// Its dampening delay.
    pub delay_ms: u64,
    /// Where it is written.
    pub lifetime: Lifetime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    value: Option<String>,
    delay_ms: u64,
    lifetime: Lifetime,
    /// Never written to the CIB (set when the value was created).
    private: bool,
    /// For local values: when the value is due for the CIB (`None`: the
    /// CIB has it, or a batch carrying it is in flight).
    due: Option<Instant>,
}

/// What one CIB flush writes for the local node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Values to set: (name, value, lifetime).
    pub set: Vec<(String, String, Lifetime)>,
    /// Values to remove: (name, lifetime).
    pub delete: Vec<(String, Lifetime)>,
}

impl Batch {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input (usage error).
    Invalid(String),
    /// The table is full.
    Full,
}

/// The attribute table of one node's attrd.
#[derive(Debug)]
pub struct Core {
    local: String,
    table: BTreeMap<(String, String), Held>,
    /// Local values whose old lifetime's copy must be removed from the
    /// CIB (the value moved between status and nodes).
    stale: BTreeSet<(String, Lifetime)>,
    in_flight: Option<Batch>,
    window: Duration,
    /// Peer values dropped because the table was full.
    pub dropped: u64,
}

impl Core {
    /// An empty table for node `local`, flushing `window` after the first
    /// due value.
    pub fn new(local: &str, window: Duration) -> Core {
        Core {
            local: local.to_string(),
            table: BTreeMap::new(),
            stale: BTreeSet::new(),
            in_flight: None,
            window,
            dropped: 0,
        }
    }

    /// Applies an update of a local value. Returns the entry to announce
    /// to the peers when anything changed, `None` when nothing did (the
    /// same value again: the dampening delay keeps running).
    pub fn update_local(&mut self, now: Instant, u: &Update) -> Result<Option<Entry>, Refusal> {
        attrdapi::check_name(&u.name).map_err(Refusal::Invalid)?;
        if let Change::Set(v) = &u.change {
            attrdapi::check_value(v).map_err(Refusal::Invalid)?;
        }
        if u.delay_ms.is_some_and(|d| d > attrdapi::MAX_DELAY_MS) {
            return Err(Refusal::Invalid("the delay is longer than one day".into()));
        }
        let key = (u.name.clone(), self.local.clone());
        let existing = self.table.get(&key).cloned();
        if existing.is_none() && self.table.len() >= MAX_VALUES {
            return Err(Refusal::Full);
        }
        let old = existing.clone().unwrap_or(Held {
            value: None,
            delay_ms: 0,
            lifetime: u.lifetime,
            private: u.private,
            due: None,
        });
        let mut h = old.clone();
        if let Some(d) = u.delay_ms {
            h.delay_ms = d;
        }
        match &u.change {
            Change::Set(v) => {
                h.value = Some(expand_value(v, old.value.as_deref()).unwrap_or_else(|| v.clone()));
                h.lifetime = u.lifetime;
            }
            Change::Delete => {
                h.value = None;
                h.lifetime = u.lifetime;
            }
            Change::DelayOnly => {}
        }
        let value_changed = h.value != old.value || h.lifetime != old.lifetime;
        let delay_changed = h.delay_ms != old.delay_ms;
        if existing.is_some() && !value_changed && !delay_changed {
            return Ok(None);
        }
        if h.lifetime != old.lifetime && existing.is_some() {
            // The old location's copy goes with the next batch.
            self.stale.insert((u.name.clone(), old.lifetime));
        }
        h.due = if value_changed || existing.is_none() {
            Some(now + Duration::from_millis(h.delay_ms))
        } else {
            // Only the delay changed: written now, as Pacemaker does.
            Some(now)
        };
        let entry = Entry {
            name: u.name.clone(),
            node: self.local.clone(),
            value: h.value.clone(),
            delay_ms: h.delay_ms,
            lifetime: h.lifetime,
        };
        self.table.insert(key, h);
        Ok(Some(entry))
    }

    /// Takes values a peer announced for its own node. `full` replaces
    /// everything held for `owner`. Entries for other nodes than the
    /// sender, and anything about the local node, are ignored.
    pub fn apply_peer(&mut self, owner: &str, entries: Vec<Entry>, full: bool) {
        if owner == self.local {
            return;
        }
        if full {
            self.drop_node(owner);
        }
        for e in entries {
            if e.node != owner
                || attrdapi::check_name(&e.name).is_err()
                || e.value
                    .as_deref()
                    .is_some_and(|v| attrdapi::check_value(v).is_err())
            {
                self.dropped += 1;
                continue;
            }
            let key = (e.name, e.node);
            if !self.table.contains_key(&key) && self.table.len() >= MAX_VALUES {
                self.dropped += 1;
                continue;
            }
            self.table.insert(
                key,
                Held {
                    value: e.value,
                    delay_ms: e.delay_ms,
                    lifetime: e.lifetime,
                    private: false,
                    due: None,
                },
            );
        }
    }

    /// Forgets every value of `node` (it died, or its attrd restarted).
    pub fn drop_node(&mut self, node: &str) {
        if node == self.local {
            return;
        }
        self.table.retain(|(_, n), _| n != node);
    }

    /// Takes back local values a peer held for this node while its attrd
    /// was away (an attrd that restarted on a node that stayed up, as
    /// Pacemaker's attrd peers sync them back). Names set since this
    /// attrd started win; the others are due for the CIB now (it was
    /// cleared at start). Returns the values taken, to announce.
    pub fn restore(&mut self, now: Instant, entries: Vec<Entry>) -> Vec<Entry> {
        let mut taken = Vec::new();
        for e in entries {
            let key = (e.name.clone(), self.local.clone());
            if e.node != self.local
                || self.table.contains_key(&key)
                || self.table.len() >= MAX_VALUES
                || attrdapi::check_name(&e.name).is_err()
                || e.value
                    .as_deref()
                    .is_some_and(|v| attrdapi::check_value(v).is_err())
            {
                continue;
            }
            self.table.insert(
                key,
                Held {
                    value: e.value.clone(),
                    delay_ms: e.delay_ms,
                    lifetime: e.lifetime,
                    private: false,
                    due: Some(now),
                },
            );
            taken.push(e);
        }
        taken
    }

    /// The values held for `node` (to give them back to it).
    pub fn entries_of(&self, node: &str) -> Vec<Entry> {
        self.table
            .iter()
            .filter(|((_, n), _)| n == node)
            .map(|((name, node), h)| Entry {
                name: name.clone(),
                node: node.clone(),
                value: h.value.clone(),
                delay_ms: h.delay_ms,
                lifetime: h.lifetime,
            })
            .collect()
    }

    /// Takes values the CIB already holds for the local node (permanent
    /// attributes found at start); values already known are kept.
    pub fn load_written(&mut self, values: Vec<(String, String, Lifetime)>) {
        for (name, value, lifetime) in values {
            let key = (name, self.local.clone());
            if self.table.contains_key(&key) || self.table.len() >= MAX_VALUES {
                continue;
            }
            self.table.insert(
                key,
                Held {
                    value: Some(value),
                    delay_ms: 0,
                    lifetime,
                    private: false,
                    due: None,
                },
            );
        }
    }

    /// The values of `name`: of `node`, or of every node holding one.
    /// `None` when no node holds the attribute at all.
    pub fn query(&self, name: &str, node: Option<&str>) -> Option<Vec<NodeValue>> {
        let all: Vec<NodeValue> = self
            .table
            .range((name.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == name)
            .map(|((_, node), h)| NodeValue {
                node: node.clone(),
                value: h.value.clone(),
            })
            .collect();
        if all.is_empty() {
            return None;
        }
        Some(match node {
            None => all,
            Some(n) => vec![all.into_iter().find(|v| v.node == n).unwrap_or(NodeValue {
                node: n.to_string(),
                value: None,
            })],
        })
    }

    /// The local node's values, to announce to peers.
    pub fn own_entries(&self) -> Vec<Entry> {
        self.entries_of(&self.local)
    }

    /// The local node's current value of `name`.
    #[cfg(test)]
    pub fn local_value(&self, name: &str) -> Option<&str> {
        self.table
            .get(&(name.to_string(), self.local.clone()))
            .and_then(|h| h.value.as_deref())
    }

    /// Makes every local value due now (refresh, a new CIB connection, a
    /// CIB replaced by another node's copy).
    pub fn mark_all_due(&mut self, now: Instant) {
        let local = self.local.clone();
        for ((_, n), h) in self.table.iter_mut() {
            if *n == local {
                h.due = Some(now);
            }
        }
    }

    /// When the next batch should be taken (`None`: nothing to write, or
    /// a batch is in flight).
    pub fn next_flush(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        self.table
            .iter()
            .filter(|((_, n), _)| *n == self.local)
            .filter_map(|(_, h)| h.due)
            .min()
            .map(|d| d + self.window)
    }

    /// The batch to write now, if one is due: every local value due by
    /// `now`. It stays in flight until [`Core::batch_done`].
    pub fn take_batch(&mut self, now: Instant) -> Option<Batch> {
        if self.next_flush().is_none_or(|t| t > now) {
            return None;
        }
        let mut b = Batch::default();
        let local = self.local.clone();
        for ((name, n), h) in self.table.iter_mut() {
            if *n != local || h.due.is_none_or(|d| d > now) {
                continue;
            }
            h.due = None;
            if h.private {
                continue;
            }
            match &h.value {
                Some(v) => b.set.push((name.clone(), v.clone(), h.lifetime)),
                None => b.delete.push((name.clone(), h.lifetime)),
            }
        }
        b.delete.extend(std::mem::take(&mut self.stale));
        if b.is_empty() {
            return None;
        }
        self.in_flight = Some(b.clone());
        Some(b)
    }

    /// The batch in flight was written (`ok`), or failed: its values are
    /// due again after [`RETRY`] unless they changed meanwhile.
    pub fn batch_done(&mut self, now: Instant, ok: bool) {
        let Some(b) = self.in_flight.take() else {
            return;
        };
        if ok {
            return;
        }
        let names = b
            .set
            .iter()
            .map(|(n, _, _)| n)
            .chain(b.delete.iter().map(|(n, _)| n));
        for name in names {
            if let Some(h) = self.table.get_mut(&(name.clone(), self.local.clone())) {
                if h.due.is_none() {
                    h.due = Some(now + RETRY);
                }
            }
        }
        for (name, lifetime) in b.delete {
            let current = self.table.get(&(name.clone(), self.local.clone()));
            if current.is_none_or(|h| h.lifetime != lifetime) {
                self.stale.insert((name, lifetime));
            }
        }
    }

    /// Local values waiting for the CIB.
    pub fn pending(&self) -> usize {
        self.table
            .iter()
            .filter(|((_, n), h)| *n == self.local && h.due.is_some())
            .count()
            + self.stale.len()
    }
}

/// Pacemaker's `value++` and `value+=N` (how fail counts are counted):
/// the current value read as a score (0 when unset), plus one or N, at
/// most INFINITY (1000000). `None` for any other value.
pub fn expand_value(new: &str, current: Option<&str>) -> Option<String> {
    use cib_xml::score::{parse_score, HealthScores, INFINITY};
    let rest = new.strip_prefix("value+")?;
    let h = HealthScores::default();
    let offset = match rest.strip_prefix('=') {
        Some(n) => parse_score(n, &h),
        None if rest.starts_with('+') => 1,
        None => return None,
    };
    let base = current.map_or(0, |c| parse_score(c, &h));
    Some(
        (i64::from(base) + i64::from(offset))
            .min(i64::from(INFINITY))
            .to_string(),
    )
}

/// Whether this node removes a dead node's transient attributes from the
/// CIB: the lowest name among itself and the live attrd peers does, so
/// exactly one survivor of a partition does it.
pub fn clears_for_the_dead(local: &str, live_peers: &BTreeSet<String>) -> bool {
    live_peers.iter().all(|p| local < p.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_millis(20);

    fn set(name: &str, v: &str, delay: Option<u64>) -> Update {
        Update {
            name: name.into(),
            node: None,
            change: Change::Set(v.into()),
            delay_ms: delay,
            lifetime: Lifetime::Reboot,
            private: false,
        }
    }

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    #[test]
    fn an_undampened_change_is_written_after_the_batching_window() {
        let t = Instant::now();
        let mut c = Core::new("node1", W);
        let e = c.update_local(t, &set("a", "1", None)).unwrap().unwrap();
        assert_eq!(e.value.as_deref(), Some("1"));
        assert_eq!(c.next_flush(), Some(ms(t, 20)));
        assert_eq!(c.take_batch(ms(t, 19)), None);
        let b = c.take_batch(ms(t, 20)).unwrap();
        assert_eq!(b.set, vec![("a".into(), "1".into(), Lifetime::Reboot)]);
        assert_eq!(c.pending(), 0);
        c.batch_done(ms(t, 21), true);
        assert_eq!(c.next_flush(), None);
    }

    #[test]
    fn dampening_restarts_on_a_change_and_not_on_the_same_value() {
        let t = Instant::now();
        let mut c = Core::new("node1", W);
        c.update_local(t, &set("a", "1", Some(1000))).unwrap();
        assert_eq!(c.next_flush(), Some(ms(t, 1020)));
        // The same value again: nothing changes, the delay keeps running.
        assert_eq!(c.update_local(ms(t, 500), &set("a", "1", None)), Ok(None));
        assert_eq!(c.next_flush(), Some(ms(t, 1020)));
        // A different value within the delay starts it again.
        assert!(c
            .update_local(ms(t, 800), &set("a", "2", None))
            .unwrap()
            .is_some());
        assert_eq!(c.next_flush(), Some(ms(t, 1820)));
        assert_eq!(c.take_batch(ms(t, 1200)), None);
        let b = c.take_batch(ms(t, 1820)).unwrap();
        assert_eq!(b.set, vec![("a".into(), "2".into(), Lifetime::Reboot)]);
        // The query answers the new value at once.
        assert_eq!(c.local_value("a"), Some("2"));
    }

    #[test]
    fn one_batch_carries_everything_due_and_only_one_is_in_flight() {
        let t = Instant::now();
        let mut c = Core::new("n", W);
        for i in 0..100 {
            c.update_local(ms(t, i / 10), &set(&format!("a{i}"), "x", None))
                .unwrap();
        }
        let b = c.take_batch(ms(t, 30)).unwrap();
        assert_eq!(b.set.len(), 100);
        // Changes made while a batch is in flight wait for its answer.
        c.update_local(ms(t, 31), &set("a1", "y", None)).unwrap();
        assert_eq!(c.take_batch(ms(t, 100)), None);
        c.batch_done(ms(t, 100), true);
        let b = c.take_batch(ms(t, 100)).unwrap();
        assert_eq!(b.set, vec![("a1".into(), "y".into(), Lifetime::Reboot)]);
    }

    #[test]
    fn a_failed_batch_is_retried_unless_the_value_changed() {
        let t = Instant::now();
        let mut c = Core::new("n", W);
        c.update_local(t, &set("a", "1", None)).unwrap();
        c.update_local(t, &set("b", "1", None)).unwrap();
        c.take_batch(ms(t, 20)).unwrap();
        c.update_local(ms(t, 25), &set("b", "2", Some(5000)))
            .unwrap();
        c.batch_done(ms(t, 30), false);
        // a again after RETRY; b after its own (new) delay.
        let b = c.take_batch(ms(t, 30) + RETRY + W).unwrap();
        assert_eq!(b.set, vec![("a".into(), "1".into(), Lifetime::Reboot)]);
    }

    #[test]
    fn a_private_value_is_held_and_announced_but_never_written() {
        let t = Instant::now();
        let mut c = Core::new("n", Duration::ZERO);
        let p = Update {
            private: true,
            ..set("secret", "1", None)
        };
        assert!(c.update_local(t, &p).unwrap().is_some());
        // Later updates without -p do not make it public.
        c.update_local(t, &set("secret", "2", None)).unwrap();
        c.update_local(t, &set("open", "3", None)).unwrap();
        let b = c.take_batch(t).unwrap();
        assert_eq!(b.set, vec![("open".into(), "3".into(), Lifetime::Reboot)]);
        assert_eq!(c.local_value("secret"), Some("2"));
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn values_given_back_after_a_restart_fill_only_what_is_unset() {
        let t = Instant::now();
        let mut c = Core::new("n1", Duration::ZERO);
        c.update_local(t, &set("link", "up", None)).unwrap();
        c.take_batch(t).unwrap();
        c.batch_done(t, true);
        let e = |name: &str, node: &str, v: &str| Entry {
            name: name.into(),
            node: node.into(),
            value: Some(v.into()),
            delay_ms: 0,
            lifetime: Lifetime::Reboot,
        };
        let taken = c.restore(
            t,
            vec![
                e("link", "n1", "old"),
                e("fail", "n1", "3"),
                e("x", "n2", "1"),
            ],
        );
        assert_eq!(taken, vec![e("fail", "n1", "3")]);
        assert_eq!(c.local_value("link"), Some("up"));
        assert_eq!(c.local_value("fail"), Some("3"));
        let b = c.take_batch(t).unwrap();
        assert_eq!(b.set, vec![("fail".into(), "3".into(), Lifetime::Reboot)]);
    }

    #[test]
    fn delete_moves_and_delay_changes() {
        let t = Instant::now();
        let mut c = Core::new("n", Duration::ZERO);
        c.update_local(t, &set("a", "1", None)).unwrap();
        c.take_batch(t).unwrap();
        c.batch_done(t, true);
        // Delete: written as a removal; the query still knows the name.
        let del = Update {
            change: Change::Delete,
            ..set("a", "", None)
        };
        assert!(c.update_local(t, &del).unwrap().is_some());
        let b = c.take_batch(t).unwrap();
        assert_eq!(b.delete, vec![("a".into(), Lifetime::Reboot)]);
        c.batch_done(t, true);
        assert_eq!(
            c.query("a", None),
            Some(vec![NodeValue {
                node: "n".into(),
                value: None
            }])
        );
        // A value moving from reboot to forever is removed from status.
        c.update_local(t, &set("m", "1", None)).unwrap();
        c.take_batch(t).unwrap();
        c.batch_done(t, true);
        let fwd = Update {
            lifetime: Lifetime::Forever,
            ..set("m", "1", None)
        };
        c.update_local(t, &fwd).unwrap();
        let b = c.take_batch(t).unwrap();
        assert_eq!(b.set, vec![("m".into(), "1".into(), Lifetime::Forever)]);
        assert_eq!(b.delete, vec![("m".into(), Lifetime::Reboot)]);
        c.batch_done(t, true);
        // A delay-only change writes at once, whatever the delay.
        let y = Update {
            change: Change::DelayOnly,
            ..set("m", "", Some(60_000))
        };
        let e = c.update_local(t, &y).unwrap().unwrap();
        assert_eq!((e.value.as_deref(), e.delay_ms), (Some("1"), 60_000));
        assert!(c.take_batch(t).is_some());
    }

    #[test]
    fn bad_updates_are_refused() {
        let t = Instant::now();
        let mut c = Core::new("n", W);
        assert!(matches!(
            c.update_local(t, &set("", "1", None)),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            c.update_local(t, &set("a", "x\u{0}", None)),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            c.update_local(t, &set("a", "1", Some(attrdapi::MAX_DELAY_MS + 1))),
            Err(Refusal::Invalid(_))
        ));
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn value_plus_plus_counts_as_pacemakers_fail_counts() {
        for (new, cur, want) in [
            ("value++", None, Some("1")),
            ("value++", Some("4"), Some("5")),
            ("value+=3", Some("4"), Some("7")),
            ("value+=INFINITY", Some("4"), Some("1000000")),
            ("value++", Some("INFINITY"), Some("1000000")),
            ("value++", Some("junk"), Some("1")),
            ("value+=-2", Some("1"), Some("-1")),
            ("value", Some("1"), None),
            ("value+", Some("1"), None),
            ("5", Some("1"), None),
        ] {
            assert_eq!(expand_value(new, cur).as_deref(), want, "{new} on {cur:?}");
        }
        let t = Instant::now();
        let mut c = Core::new("n", W);
        c.update_local(t, &set("fail-count-r#start_0", "value++", None))
            .unwrap();
        let e = c
            .update_local(t, &set("fail-count-r#start_0", "value++", None))
            .unwrap()
            .unwrap();
        assert_eq!(e.value.as_deref(), Some("2"));
    }

    #[test]
    fn the_lowest_live_name_clears_for_the_dead() {
        let peers = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(clears_for_the_dead("node1", &peers(&["node2", "node3"])));
        assert!(!clears_for_the_dead("node2", &peers(&["node1", "node3"])));
        assert!(clears_for_the_dead("node2", &peers(&["node3"])));
        assert!(clears_for_the_dead("node3", &peers(&[])));
    }

    #[test]
    fn peers_values_are_held_per_owner_and_dropped_with_it() {
        let t = Instant::now();
        let mut c = Core::new("n1", W);
        c.update_local(t, &set("a", "1", None)).unwrap();
        let e = |name: &str, node: &str, v: &str| Entry {
            name: name.into(),
            node: node.into(),
            value: Some(v.into()),
            delay_ms: 0,
            lifetime: Lifetime::Reboot,
        };
        c.apply_peer("n2", vec![e("a", "n2", "2"), e("b", "n2", "3")], true);
        // Another node's values from n2, or about us, are ignored.
        c.apply_peer("n2", vec![e("a", "n3", "x"), e("a", "n1", "x")], false);
        c.apply_peer("n1", vec![e("a", "n1", "x")], false);
        assert_eq!(c.dropped, 2);
        let vals = |c: &Core, name: &str| -> Vec<(String, Option<String>)> {
            c.query(name, None)
                .unwrap_or_default()
                .into_iter()
                .map(|v| (v.node, v.value))
                .collect()
        };
        assert_eq!(
            vals(&c, "a"),
            vec![
                ("n1".into(), Some("1".into())),
                ("n2".into(), Some("2".into()))
            ]
        );
        assert_eq!(
            c.query("a", Some("n3")),
            Some(vec![NodeValue {
                node: "n3".into(),
                value: None
            }])
        );
        assert_eq!(c.query("zzz", None), None);
        // Peer values are never written here.
        c.take_batch(ms(t, 20)).unwrap();
        c.batch_done(ms(t, 20), true);
        c.mark_all_due(ms(t, 30));
        let b = c.take_batch(ms(t, 50)).unwrap();
        assert_eq!(b.set.len(), 1);
        c.batch_done(ms(t, 50), true);
        // A full announcement replaces; death forgets.
        c.apply_peer("n2", vec![e("c", "n2", "9")], true);
        assert_eq!(vals(&c, "b"), vec![]);
        assert_eq!(vals(&c, "c"), vec![("n2".into(), Some("9".into()))]);
        c.drop_node("n2");
        assert_eq!(c.query("c", None), None);
        c.drop_node("n1");
        assert_eq!(c.local_value("a"), Some("1"));
        assert_eq!(c.own_entries().len(), 1);
    }
}

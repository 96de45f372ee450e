//! The bounded, fair message queue of the logging daemon: records from many
//! client processes wait here between the IPC readers and the writer. A
//! global bound caps logd's memory; a per-client bound keeps one flooding
//! client from taking the space of the others. Drops are counted per client
//! and turned into report lines, so losses are visible in the log itself.
//! Pure data structure, no I/O, so logd's policy is testable on its own.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::error::Error;
use crate::record::LogRecord;

/// Identifies a logd client connection.
pub type ClientId = u64;

/// Why [`LogdQueue::push`] refused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The client already has its per-client maximum queued.
    ClientQueueFull,
    /// The whole queue is at its global maximum.
    GlobalQueueFull,
}

impl DropReason {
    fn describe(self) -> &'static str {
        match self {
            DropReason::ClientQueueFull => "client queue full",
            DropReason::GlobalQueueFull => "log queue full",
        }
    }
}

/// The record was not queued (and was counted as dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Which limit was hit.
    pub reason: DropReason,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "log record dropped ({})", self.reason.describe())
    }
}

impl std::error::Error for Dropped {}

/// Drops of one client for one reason since the last report. Its
/// `Display` is the line logd writes, e.g.
/// `logd: dropped 12 messages from client heartbeat[123] (client queue full)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropReport {
    /// The client whose records were dropped.
    pub client: ClientId,
    /// Entity of the client's latest record.
    pub entity: String,
    /// Process id of the client's latest record.
    pub pid: u32,
    /// Which limit was hit.
    pub reason: DropReason,
    /// How many records were dropped.
    pub count: u64,
}

impl fmt::Display for DropReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "logd: dropped {} messages from client {}[{}] ({})",
            self.count,
            self.entity,
            self.pid,
            self.reason.describe()
        )
    }
}

#[derive(Debug, Default)]
struct Client {
    queued: usize,
    entity: String,
    pid: u32,
    unreported_client_full: u64,
    unreported_global_full: u64,
    dropped_total: u64,
    removed: bool,
}

impl Client {
    fn collectable(&self) -> bool {
        self.removed
            && self.queued == 0
            && self.unreported_client_full == 0
            && self.unreported_global_full == 0
    }
}

/// A FIFO of `(client, record)` with a global and a per-client bound.
///
/// With `client_capacity < global_capacity`, a single client can never hold
/// more than `client_capacity` slots, so at least `global_capacity -
/// client_capacity` remain for everyone else however hard it floods.
#[derive(Debug)]
pub struct LogdQueue {
    global_capacity: usize,
    client_capacity: usize,
    queue: VecDeque<(ClientId, LogRecord)>,
    clients: HashMap<ClientId, Client>,
    dropped_total: u64,
}

impl LogdQueue {
    /// A queue holding at most `global_capacity` records, at most
    /// `client_capacity` of them from any one client.
    pub fn new(global_capacity: usize, client_capacity: usize) -> Result<LogdQueue, Error> {
        if global_capacity == 0 || client_capacity == 0 {
            return Err(Error::InvalidConfig(
                "logd queue capacities must be > 0".into(),
            ));
        }
        if client_capacity > global_capacity {
            return Err(Error::InvalidConfig(format!(
                "logd per-client capacity {client_capacity} exceeds global capacity {global_capacity}"
            )));
        }
        Ok(LogdQueue {
            global_capacity,
            client_capacity,
            queue: VecDeque::new(),
            clients: HashMap::new(),
            dropped_total: 0,
        })
    }

    /// Changes the bounds (logd's configuration was reread). Records already
    /// queued stay; while a bound is exceeded, new records are dropped until
    /// the queue drains below it. Same validation as [`LogdQueue::new`].
    pub fn set_capacities(
        &mut self,
        global_capacity: usize,
        client_capacity: usize,
    ) -> Result<(), Error> {
        let checked = LogdQueue::new(global_capacity, client_capacity)?;
        self.global_capacity = checked.global_capacity;
        self.client_capacity = checked.client_capacity;
        Ok(())
    }

    /// The global and per-client bounds.
    pub fn capacities(&self) -> (usize, usize) {
        (self.global_capacity, self.client_capacity)
    }

    /// Queues a record from `client`, or drops and counts it.
    pub fn push(&mut self, client: ClientId, record: LogRecord) -> Result<(), Dropped> {
        let global_full = self.queue.len() >= self.global_capacity;
        let state = self.clients.entry(client).or_default();
        state.removed = false;
        if state.entity != record.entity {
            state.entity.clone_from(&record.entity);
        }
        state.pid = record.pid;
        let reason = if state.queued >= self.client_capacity {
            state.unreported_client_full += 1;
            DropReason::ClientQueueFull
        } else if global_full {
            state.unreported_global_full += 1;
            DropReason::GlobalQueueFull
        } else {
            state.queued += 1;
            self.queue.push_back((client, record));
            return Ok(());
        };
        state.dropped_total += 1;
        self.dropped_total += 1;
        Err(Dropped { reason })
    }

    /// Takes the oldest record.
    pub fn pop(&mut self) -> Option<(ClientId, LogRecord)> {
        let (client, record) = self.queue.pop_front()?;
        if let Some(state) = self.clients.get_mut(&client) {
            state.queued = state.queued.saturating_sub(1);
            if state.collectable() {
                self.clients.remove(&client);
            }
        }
        Some((client, record))
    }

    /// Records queued in total.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Records queued for `client`.
    pub fn queued_for(&self, client: ClientId) -> usize {
        self.clients.get(&client).map_or(0, |c| c.queued)
    }

    /// Records of `client` dropped so far (0 for unknown clients).
    pub fn client_dropped(&self, client: ClientId) -> u64 {
        self.clients.get(&client).map_or(0, |c| c.dropped_total)
    }

    /// Records dropped so far, all clients together.
    pub fn dropped(&self) -> u64 {
        self.dropped_total
    }

    /// The drops not reported yet, one entry per client and reason, ordered
    /// by client id; the counts start again from zero.
    pub fn take_drop_report(&mut self) -> Vec<DropReport> {
        let mut reports = Vec::new();
        for (&client, state) in &mut self.clients {
            for (reason, count) in [
                (
                    DropReason::ClientQueueFull,
                    std::mem::take(&mut state.unreported_client_full),
                ),
                (
                    DropReason::GlobalQueueFull,
                    std::mem::take(&mut state.unreported_global_full),
                ),
            ] {
                if count > 0 {
                    reports.push(DropReport {
                        client,
                        entity: state.entity.clone(),
                        pid: state.pid,
                        reason,
                        count,
                    });
                }
            }
        }
        self.clients.retain(|_, c| !c.collectable());
        reports.sort_by_key(|r| (r.client, r.reason == DropReason::GlobalQueueFull));
        reports
    }

    /// Forgets a disconnected client. Its records already queued stay and
    /// are still popped (a crashing client's last words matter most), and
    /// its unreported drops still appear in the next drop report.
    pub fn remove_client(&mut self, client: ClientId) {
        if let Some(state) = self.clients.get_mut(&client) {
            state.removed = true;
            if state.collectable() {
                self.clients.remove(&client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Priority, Timestamp};

    fn rec(entity: &str, pid: u32, message: &str) -> LogRecord {
        LogRecord {
            entity: entity.into(),
            pid,
            priority: Priority::Info,
            timestamp: Timestamp { secs: 0, nanos: 0 },
            message: message.into(),
            facility: None,
            show_priority: true,
        }
    }

    #[test]
    fn capacities_are_validated() {
        assert!(LogdQueue::new(0, 0).is_err());
        assert!(LogdQueue::new(10, 0).is_err());
        assert!(LogdQueue::new(10, 11).is_err());
        assert!(LogdQueue::new(10, 10).is_ok());
    }

    #[test]
    fn fifo_order_across_clients() {
        let mut q = LogdQueue::new(10, 5).expect("queue");
        q.push(1, rec("a", 1, "a1")).expect("push");
        q.push(2, rec("b", 2, "b1")).expect("push");
        q.push(1, rec("a", 1, "a2")).expect("push");
        let order: Vec<(ClientId, String)> =
            std::iter::from_fn(|| q.pop().map(|(c, r)| (c, r.message))).collect();
        assert_eq!(
            order,
            [(1, "a1".into()), (2, "b1".into()), (1, "a2".into())]
        );
        assert!(q.is_empty());
        assert!(q.pop().is_none());
    }

    #[test]
    fn per_client_limit() {
        let mut q = LogdQueue::new(100, 3).expect("queue");
        for i in 0..3 {
            q.push(7, rec("heartbeat", 123, &format!("m{i}")))
                .expect("push");
        }
        assert_eq!(
            q.push(7, rec("heartbeat", 123, "m3")),
            Err(Dropped {
                reason: DropReason::ClientQueueFull
            })
        );
        assert_eq!(q.queued_for(7), 3);
        assert_eq!(q.client_dropped(7), 1);
        // Popping one makes room for exactly one more.
        assert!(q.pop().is_some());
        q.push(7, rec("heartbeat", 123, "m4")).expect("push");
        assert!(q.push(7, rec("heartbeat", 123, "m5")).is_err());
        assert_eq!(q.client_dropped(7), 2);
    }

    #[test]
    fn global_limit() {
        let mut q = LogdQueue::new(4, 2).expect("queue");
        for c in 1..=2 {
            for _ in 0..2 {
                q.push(c, rec("x", 1, "m")).expect("push");
            }
        }
        assert_eq!(
            q.push(3, rec("ccm", 9, "m")),
            Err(Dropped {
                reason: DropReason::GlobalQueueFull
            })
        );
        assert_eq!(q.len(), 4);
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.client_dropped(3), 1);
    }

    #[test]
    fn flooding_client_cannot_starve_others() {
        let mut q = LogdQueue::new(8, 3).expect("queue");
        for i in 0..10_000 {
            let _ = q.push(1, rec("flood", 1, &format!("{i}")));
        }
        assert_eq!(q.queued_for(1), 3);
        assert_eq!(q.client_dropped(1), 9_997);
        // The other clients still get the remaining 5 slots.
        for i in 0..5 {
            q.push(2 + i % 2, rec("quiet", 2, "ok"))
                .expect("others get room");
        }
        assert_eq!(q.len(), 8);
        // And the flood keeps being refused on its own limit.
        assert_eq!(
            q.push(1, rec("flood", 1, "more")).map_err(|d| d.reason),
            Err(DropReason::ClientQueueFull)
        );
    }

    #[test]
    fn drop_report_lines_and_reset() {
        let mut q = LogdQueue::new(3, 2).expect("queue");
        q.push(5, rec("heartbeat", 123, "a")).expect("push");
        q.push(5, rec("heartbeat", 123, "b")).expect("push");
        for _ in 0..12 {
            let _ = q.push(5, rec("heartbeat", 123, "x"));
        }
        q.push(6, rec("ccm", 200, "c")).expect("push");
        let _ = q.push(6, rec("ccm", 200, "y"));
        let report = q.take_drop_report();
        let lines: Vec<String> = report.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "logd: dropped 12 messages from client heartbeat[123] (client queue full)",
                "logd: dropped 1 messages from client ccm[200] (log queue full)",
            ]
        );
        assert!(q.take_drop_report().is_empty());
        assert_eq!(q.dropped(), 13);
        assert_eq!(q.client_dropped(5), 12);
    }

    #[test]
    fn shrinking_capacities_keeps_records_and_drops_new_ones() {
        let mut q = LogdQueue::new(10, 10).expect("queue");
        for i in 0..4 {
            q.push(1, rec("a", 1, &format!("m{i}"))).expect("push");
        }
        assert!(q.set_capacities(2, 3).is_err(), "client above global");
        q.set_capacities(3, 2).expect("shrink");
        assert_eq!(q.capacities(), (3, 2));
        assert_eq!(q.len(), 4);
        assert_eq!(
            q.push(2, rec("b", 2, "x")).map_err(|d| d.reason),
            Err(DropReason::GlobalQueueFull)
        );
        assert_eq!(
            q.push(1, rec("a", 1, "y")).map_err(|d| d.reason),
            Err(DropReason::ClientQueueFull)
        );
        for _ in 0..2 {
            assert!(q.pop().is_some());
        }
        q.push(2, rec("b", 2, "z")).expect("room again");
    }

    #[test]
    fn removed_client_keeps_queued_records_and_report() {
        let mut q = LogdQueue::new(10, 1).expect("queue");
        q.push(1, rec("crmd", 42, "last words")).expect("push");
        let _ = q.push(1, rec("crmd", 42, "lost"));
        q.remove_client(1);
        assert_eq!(q.queued_for(1), 1);
        let (c, r) = q.pop().expect("still queued");
        assert_eq!((c, r.message.as_str()), (1, "last words"));
        let report = q.take_drop_report();
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].count, 1);
        assert_eq!(report[0].entity, "crmd");
        // Fully forgotten now.
        assert_eq!(q.client_dropped(1), 0);
        assert!(q.clients.is_empty());
        // Removing an idle client forgets it at once.
        q.push(2, rec("a", 1, "m")).expect("push");
        let _ = q.pop();
        q.remove_client(2);
        assert!(q.clients.is_empty());
    }
}

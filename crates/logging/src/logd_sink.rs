//! The sink that sends a daemon's records to logd, as cl_log's
//! `LogToLoggingDaemon` did: it connects lazily, sends one-way and pushes
//! the batch out when the writer's queue runs empty. When logd is not there
//! it reports [`SinkError::Unavailable`] at once, so the writer falls back to
//! direct logging, and it tries to connect again at most once per interval
//! (cl_log's `conn_logd_time`). Every wait on logd is bounded by a short
//! timeout, so a hung logd costs the writer thread at most that long before
//! it falls back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipc::{BlockingClient, IpcError};

use crate::logd_proto::{self, LogdProtocol, LogdRequest, MAX_FRAME};
use crate::record::{LogRecord, Priority, Timestamp};
use crate::sink::{Sink, SinkError};

/// Least time between two attempts to connect to logd.
pub const DEFAULT_CONNECT_INTERVAL: Duration = Duration::from_secs(1);

/// Longest the sink waits for logd to take a batch.
pub const DEFAULT_LOGD_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends records to logd over its socket; see the module documentation.
pub struct LogdSink {
    path: PathBuf,
    client: Option<BlockingClient<LogdProtocol>>,
    /// No connection attempt before this time.
    next_attempt: Option<Instant>,
    connect_interval: Duration,
    timeout: Duration,
    /// Records handed to the connection since its last successful flush.
    unflushed: u64,
    /// Records that may have been lost with a broken connection, to be
    /// reported through the next one.
    lost: u64,
    last_error: String,
}

impl std::fmt::Debug for LogdSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogdSink")
            .field("path", &self.path)
            .field("connected", &self.client.is_some())
            .field("unflushed", &self.unflushed)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl LogdSink {
    /// A sink for the logd listening on `path`; nothing is connected yet.
    pub fn new(path: &Path) -> LogdSink {
        LogdSink {
            path: path.to_owned(),
            client: None,
            next_attempt: None,
            connect_interval: DEFAULT_CONNECT_INTERVAL,
            timeout: DEFAULT_LOGD_TIMEOUT,
            unflushed: 0,
            lost: 0,
            last_error: "not connected yet".into(),
        }
    }

    /// A sink for this node's logd (`$HA_RUNDIR/logd.sock`).
    pub fn from_env() -> LogdSink {
        LogdSink::new(&logd_proto::socket_path())
    }

    /// Changes the least time between connection attempts.
    pub fn with_connect_interval(mut self, interval: Duration) -> LogdSink {
        self.connect_interval = interval;
        self
    }

    /// Changes how long a batch may wait for logd.
    pub fn with_timeout(mut self, timeout: Duration) -> LogdSink {
        self.timeout = timeout;
        self
    }

    /// The socket this sink sends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    fn connection(&mut self) -> Result<&mut BlockingClient<LogdProtocol>, SinkError> {
        if self.client.is_none() {
            let now = Instant::now();
            if self.next_attempt.is_some_and(|t| now < t) {
                return Err(SinkError::Unavailable(self.last_error.clone()));
            }
            self.next_attempt = Some(now + self.connect_interval);
            match BlockingClient::connect_timeout(&self.path, self.timeout) {
                Ok(mut c) => {
                    c.set_timeout(Some(self.timeout));
                    c.set_max_frame(MAX_FRAME);
                    self.client = Some(c);
                }
                Err(e) => {
                    self.last_error = e.to_string();
                    return Err(SinkError::Unavailable(self.last_error.clone()));
                }
            }
        }
        match self.client.as_mut() {
            Some(c) => Ok(c),
            None => Err(SinkError::Unavailable(self.last_error.clone())),
        }
    }

    /// Drops a connection that failed; the records it may not have
    /// delivered are counted for the next connection's report.
    fn broken(&mut self, e: &IpcError) -> SinkError {
        self.client = None;
        self.lost += std::mem::take(&mut self.unflushed);
        self.next_attempt = Some(Instant::now() + self.connect_interval);
        self.last_error = format!("connection to logd lost: {e}");
        SinkError::Unavailable(self.last_error.clone())
    }

    fn send(&mut self, record: LogRecord) -> Result<(), SinkError> {
        let client = self.connection()?;
        match client.send(&LogdRequest::Log(record)) {
            Ok(()) => {
                self.unflushed += 1;
                Ok(())
            }
            Err(e) => Err(self.broken(&e)),
        }
    }
}

impl Sink for LogdSink {
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        if self.lost > 0 {
            let note = LogRecord {
                priority: Priority::Warning,
                timestamp: Timestamp::now(),
                message: format!(
                    "logging: up to {} messages may have been lost when the connection to logd broke",
                    self.lost
                ),
                show_priority: true,
                ..record.clone()
            };
            self.send(note)?;
            self.lost = 0;
        }
        let mut record = record.clone();
        logd_proto::fit(&mut record);
        self.send(record)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let Some(client) = self.client.as_mut() else {
            return Ok(());
        };
        match client.flush() {
            Ok(()) => {
                self.unflushed = 0;
                Ok(())
            }
            Err(e) => Err(self.broken(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logd_proto::{LogdResponse, LogdStats};
    use crate::testutil::TempDir;
    use ipc::{AccessPolicy, Allow, Limits, Server, ServerEvent};
    use plumbing::{Event, EventLoop};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    const LONG: Duration = Duration::from_secs(30);

    /// A minimal logd in a thread: keeps every record, answers `Stats`.
    struct FakeLogd {
        records: Arc<Mutex<Vec<LogRecord>>>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl FakeLogd {
        fn start(path: &Path) -> FakeLogd {
            let records = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let (recs, halt, path) = (Arc::clone(&records), Arc::clone(&stop), path.to_owned());
            let thread = std::thread::spawn(move || {
                let mut lp = EventLoop::new().expect("loop");
                let policy = AccessPolicy {
                    read: Allow::default(),
                    write: Allow::everyone(),
                };
                let mut server: Server<LogdProtocol> =
                    Server::bind(&mut lp, &path, 0o666, policy, Limits::default()).expect("bind");
                ready_tx.send(()).expect("ready");
                let (mut events, mut reqs) = (Vec::new(), Vec::new());
                while !halt.load(Ordering::Relaxed) {
                    lp.poll(&mut events, Some(Duration::from_millis(20)))
                        .expect("poll");
                    for ev in events.drain(..) {
                        if let Event::Io { token, ready } = ev {
                            server.handle_io(&mut lp, token, ready, &mut reqs);
                        }
                    }
                    server.process(&mut lp, &mut reqs);
                    for r in std::mem::take(&mut reqs) {
                        match r {
                            ServerEvent::Request {
                                body: LogdRequest::Log(rec),
                                ..
                            } => recs.lock().expect("lock").push(rec),
                            ServerEvent::Request {
                                client,
                                call: Some(id),
                                body: LogdRequest::Stats,
                            } => {
                                let stats = LogdResponse::Stats(LogdStats::default());
                                let _ = server.reply(&mut lp, client, id, &stats, &mut reqs);
                            }
                            _ => {}
                        }
                    }
                }
            });
            ready_rx.recv_timeout(LONG).expect("fake logd started");
            FakeLogd {
                records,
                stop,
                thread: Some(thread),
            }
        }

        fn messages(&self) -> Vec<String> {
            let recs = self.records.lock().expect("lock");
            recs.iter().map(|r| r.message.clone()).collect()
        }

        fn wait_for(&self, n: usize) -> Vec<LogRecord> {
            let deadline = Instant::now() + LONG;
            loop {
                let recs = self.records.lock().expect("lock").clone();
                if recs.len() >= n {
                    return recs;
                }
                assert!(Instant::now() < deadline, "only {} records", recs.len());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    impl Drop for FakeLogd {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn rec(message: &str) -> LogRecord {
        LogRecord::new("crmd", Priority::Notice, message, None)
    }

    #[test]
    fn absent_logd_is_unavailable_and_retried_only_after_the_interval() {
        let dir = TempDir::new("logd-absent");
        let path = dir.join("logd.sock");
        let mut sink = LogdSink::new(&path).with_connect_interval(Duration::from_secs(3600));
        let err = sink.write(&rec("first")).expect_err("no logd");
        assert!(matches!(err, SinkError::Unavailable(ref m) if m.contains("logd.sock")));
        // logd appears, but the next attempt is an hour away.
        let logd = FakeLogd::start(&path);
        assert!(matches!(
            sink.write(&rec("second")),
            Err(SinkError::Unavailable(_))
        ));
        assert!(!sink.is_connected());
        // With no interval the next write connects.
        let mut eager = LogdSink::new(&path).with_connect_interval(Duration::ZERO);
        eager.write(&rec("third")).expect("connected");
        eager.flush().expect("flush");
        let got = logd.wait_for(1);
        assert_eq!(got[0].message, "third");
        assert_eq!(got[0].pid, std::process::id());
        assert_eq!(got[0].entity, "crmd");
        assert_eq!(got[0].priority, Priority::Notice);
    }

    #[test]
    fn records_arrive_in_order_and_are_cut_to_fit() {
        let dir = TempDir::new("logd-order");
        let path = dir.join("logd.sock");
        let logd = FakeLogd::start(&path);
        let mut sink = LogdSink::new(&path);
        for i in 0..2000 {
            sink.write(&rec(&format!("m{i}"))).expect("write");
        }
        sink.write(&rec(&"x".repeat(100_000))).expect("write");
        sink.flush().expect("flush");
        let got = logd.wait_for(2001);
        let expected: Vec<String> = (0..2000).map(|i| format!("m{i}")).collect();
        assert_eq!(
            got[..2000].iter().map(|r| &r.message).collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
        assert_eq!(got[2000].message.len(), logd_proto::MAX_MESSAGE_LEN);
    }

    #[test]
    fn broken_connection_falls_back_then_reports_possible_loss() {
        let dir = TempDir::new("logd-broken");
        let path = dir.join("logd.sock");
        let logd = FakeLogd::start(&path);
        let mut sink = LogdSink::new(&path).with_connect_interval(Duration::ZERO);
        sink.write(&rec("delivered")).expect("write");
        sink.flush().expect("flush");
        logd.wait_for(1);
        drop(logd);
        // Sent into a dead connection: accepted locally, then the flush
        // finds the peer gone.
        let mut failed = false;
        for i in 0..10_000 {
            let wrote = sink.write(&rec(&format!("into the void {i}")));
            if wrote.is_err() || sink.flush().is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a dead logd must be noticed");
        assert!(!sink.is_connected());
        assert!(matches!(
            sink.write(&rec("while down")),
            Err(SinkError::Unavailable(_))
        ));
        let logd = FakeLogd::start(&path);
        sink.write(&rec("back")).expect("reconnected");
        sink.flush().expect("flush");
        let got = logd.wait_for(2);
        assert!(
            got[0].message.starts_with("logging: up to ")
                && got[0]
                    .message
                    .ends_with(" messages may have been lost when the connection to logd broke"),
            "{:?}",
            logd.messages()
        );
        assert_eq!(got[0].priority, Priority::Warning);
        assert_eq!(got[0].entity, "crmd");
        assert_eq!(got[1].message, "back");
    }
}

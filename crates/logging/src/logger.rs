//! The `log::Log` implementation and its writer thread: the calling thread
//! only formats the message and appends it to a bounded queue (dropping and
//! counting when full), while one writer thread per logger does all output,
//! so a slow disk, a hung syslog or a stuck logd can never stall a daemon's
//! main loop. This is what cl_log tried to achieve with logd and non-blocking
//! IPC; here it holds for direct output too.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::LogConfig;
use crate::error::Error;
use crate::logd_sink::LogdSink;
use crate::record::{LogRecord, Priority, Timestamp};
use crate::sink::{FileRole, FileSink, Sink, SinkError, StderrSink, SyslogSink};

/// The outputs a [`Logger`] writes to.
#[derive(Default)]
pub struct SinkSet {
    /// Direct outputs (log files, syslog): used when `use_logd` is off, and
    /// while the logd sink reports it is unavailable. [`LoggerHandle::reconfigure`]
    /// rebuilds them from the new configuration.
    pub direct: Vec<Box<dyn Sink>>,
    /// The logd sink ([`crate::LogdSink`] from [`crate::init`], or the
    /// daemon's own). Used only when
    /// [`LogConfig::use_logd`] is on: every record goes to it, and when it
    /// returns an error (typically [`SinkError::Unavailable`] because logd is
    /// down) that record goes to the direct outputs instead, as Heartbeat
    /// falls back to direct logging when logd is gone. The sink should
    /// return `Unavailable` quickly and pace its own reconnection attempts.
    pub logd: Option<Box<dyn Sink>>,
    /// Outputs that always get every record, whatever logd does (e.g. a
    /// test capture). Kept across reconfiguration.
    pub extra: Vec<Box<dyn Sink>>,
}

impl fmt::Debug for SinkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkSet")
            .field("direct", &self.direct.len())
            .field("logd", &self.logd.is_some())
            .field("extra", &self.extra.len())
            .finish()
    }
}

impl SinkSet {
    /// The direct outputs a configuration asks for: `debugfile`, `logfile`
    /// (both opened now, so a bad path is reported at startup) and syslog
    /// when a facility is set. Stderr is not included: the logger adds it
    /// itself when [`LogConfig::stderr`] is set.
    pub fn direct_from_config(config: &LogConfig) -> Result<Vec<Box<dyn Sink>>, Error> {
        let mut direct: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(facility) = config.facility {
            direct.push(Box::new(SyslogSink::new(facility)));
        }
        if let Some(path) = config.effective_debugfile() {
            direct.push(Box::new(FileSink::open(
                path,
                FileRole::Debug,
                config.file_format,
            )?));
        }
        if let Some(path) = config.effective_logfile() {
            direct.push(Box::new(FileSink::open(
                path,
                FileRole::Log,
                config.file_format,
            )?));
        }
        Ok(direct)
    }

    /// A set with the configuration's direct outputs and nothing else.
    pub fn from_config(config: &LogConfig) -> Result<SinkSet, Error> {
        Ok(SinkSet {
            direct: SinkSet::direct_from_config(config)?,
            ..SinkSet::default()
        })
    }
}

/// What the logging thread needs, swapped as a whole on reconfiguration.
#[derive(Debug)]
struct Settings {
    config: LogConfig,
    max_level: log::LevelFilter,
}

enum Item {
    Record {
        record: LogRecord,
        /// Records dropped (queue full) since the previous accepted one.
        dropped_before: u64,
    },
    Reconfigure(Box<Reconfig>),
}

struct Reconfig {
    direct: Vec<Box<dyn Sink>>,
    stderr: Option<StderrSink>,
    use_logd: bool,
}

struct State {
    queue: VecDeque<Item>,
    capacity: usize,
    /// Records accepted into the queue, ever.
    accepted: u64,
    /// Records the writer has finished with, ever.
    written: u64,
    /// `written` as of the last time the sinks were flushed.
    flushed: u64,
    /// Drops not yet attached to an accepted record nor reported.
    pending_drops: u64,
    /// The writer is writing a drop report that is no longer in `pending_drops`.
    reporting: bool,
    shutdown: bool,
    writer_alive: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer.
    work: Condvar,
    /// Wakes `flush` callers.
    progress: Condvar,
    settings: RwLock<Arc<Settings>>,
    dropped: AtomicU64,
    sink_errors: AtomicU64,
    /// Whether this logger is the process-wide `log` logger.
    installed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Queues a record, or drops and counts it if the queue is full.
    /// Never waits for output.
    fn submit(&self, record: LogRecord) -> bool {
        let mut st = self.lock();
        let in_flight = st.accepted - st.written;
        if in_flight >= st.capacity as u64 {
            st.pending_drops += 1;
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let dropped_before = std::mem::take(&mut st.pending_drops);
        st.queue.push_back(Item::Record {
            record,
            dropped_before,
        });
        st.accepted += 1;
        drop(st);
        self.work.notify_one();
        true
    }
}

/// Owns the writer thread: when the last [`Logger`] / [`LoggerHandle`]
/// referring to it goes away, the writer drains the queue and exits.
struct Core {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

/// The `log::Log` implementation: formats each record into an owned
/// [`LogRecord`] and queues it for the writer thread without ever waiting.
///
/// [`crate::init`] installs one as the process-wide logger; tests and
/// special cases can create more with [`Logger::new`] and call
/// [`log::Log::log`] on them directly.
pub struct Logger {
    core: Arc<Core>,
}

/// Control of a running [`Logger`]: flush, counters, reconfiguration.
/// Cheap to clone.
#[derive(Clone)]
pub struct LoggerHandle {
    core: Arc<Core>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger").finish_non_exhaustive()
    }
}

impl fmt::Debug for LoggerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerHandle")
            .field("dropped", &self.dropped())
            .field("sink_errors", &self.sink_errors())
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// Starts a writer thread for `sinks` and returns the logger and its
    /// handle. Stderr output is added when `config.stderr` is set; the
    /// configuration's files and syslog are *not* opened here (use
    /// [`SinkSet::from_config`] for that), so tests can pass in-memory sinks.
    pub fn new(config: &LogConfig, sinks: SinkSet) -> Result<(Logger, LoggerHandle), Error> {
        config.validate()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity: config.queue_capacity,
                accepted: 0,
                written: 0,
                flushed: 0,
                pending_drops: 0,
                reporting: false,
                shutdown: false,
                writer_alive: true,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            settings: RwLock::new(Arc::new(Settings {
                config: config.clone(),
                max_level: config.max_level(),
            })),
            dropped: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
            installed: AtomicBool::new(false),
        });
        let writer = Writer {
            shared: Arc::clone(&shared),
            direct: sinks.direct,
            stderr: config.stderr.then(|| StderrSink::new(config.file_format)),
            extra: sinks.extra,
            logd: sinks.logd,
            use_logd: config.use_logd,
            logd_state: LogdState::Unknown,
        };
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run())
            .map_err(Error::Spawn)?;
        let core = Arc::new(Core {
            shared,
            thread: Mutex::new(Some(thread)),
        });
        Ok((
            Logger {
                core: Arc::clone(&core),
            },
            LoggerHandle { core },
        ))
    }

    /// Logs at any syslog priority (`notice`, `crit`, ... have no `log`
    /// level). Debug records pass only when the `debug` level is above 0.
    pub fn log_at(&self, priority: Priority, args: fmt::Arguments<'_>) {
        log_at(&self.core.shared, priority, args);
    }
}

fn log_at(shared: &Shared, priority: Priority, args: fmt::Arguments<'_>) {
    let settings = shared.settings();
    if priority == Priority::Debug && settings.max_level < log::LevelFilter::Debug {
        return;
    }
    let message = match args.as_str() {
        Some(s) => s.to_owned(),
        None => args.to_string(),
    };
    shared.submit(own_record(&settings.config, priority, message));
}

/// A record of this process, as its logger's settings name it.
fn own_record(config: &LogConfig, priority: Priority, message: String) -> LogRecord {
    LogRecord {
        entity: config.entity.clone(),
        pid: std::process::id(),
        priority,
        timestamp: Timestamp::now(),
        message,
        facility: config.facility,
        show_priority: true,
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.core.shared.settings().max_level
    }

    fn log(&self, record: &log::Record<'_>) {
        let shared = &self.core.shared;
        let settings = shared.settings();
        if record.level() > settings.max_level {
            return;
        }
        let message = match record.args().as_str() {
            Some(s) => s.to_owned(),
            None => record.args().to_string(),
        };
        shared.submit(LogRecord {
            entity: settings.config.entity.clone(),
            pid: std::process::id(),
            priority: Priority::from_level(record.level()),
            timestamp: Timestamp::now(),
            message,
            facility: settings.config.facility,
            show_priority: true,
        });
    }

    fn flush(&self) {
        // `log::logger().flush()` has no timeout; do not let it hang forever.
        let _ = LoggerHandle {
            core: Arc::clone(&self.core),
        }
        .flush(Duration::from_secs(5));
    }
}

impl LoggerHandle {
    /// Waits until every record queued before this call has been written
    /// (and any drop report for them), or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        let shared = &self.core.shared;
        let deadline = Instant::now() + timeout;
        let mut st = shared.lock();
        let target = st.accepted;
        loop {
            if st.flushed >= target && st.pending_drops == 0 && !st.reporting {
                return Ok(());
            }
            if !st.writer_alive {
                return Err(Error::WriterGone);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::FlushTimeout {
                    pending: st.accepted - st.written,
                });
            }
            st = shared
                .progress
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Records dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.core.shared.dropped.load(Ordering::Relaxed)
    }

    /// Write errors of the outputs so far (e.g. syslog with no `/dev/log`).
    /// A logd sink reporting itself unavailable is not an error.
    pub fn sink_errors(&self) -> u64 {
        self.core.shared.sink_errors.load(Ordering::Relaxed)
    }

    /// Records queued or being written right now.
    pub fn pending(&self) -> u64 {
        let st = self.core.shared.lock();
        st.accepted - st.written
    }

    /// The configuration in force.
    pub fn config(&self) -> LogConfig {
        self.core.shared.settings().config.clone()
    }

    /// Logs at any syslog priority, see [`Logger::log_at`].
    pub fn log_at(&self, priority: Priority, args: fmt::Arguments<'_>) {
        log_at(&self.core.shared, priority, args);
    }

    /// Switches to a new configuration (on SIGHUP): entity, facility, debug
    /// level and queue capacity apply to records logged from now on; the
    /// direct outputs and stderr are rebuilt from `config` and take effect
    /// in queue order. The logd and extra sinks are kept. On error (bad
    /// file, invalid value) nothing changes.
    pub fn reconfigure(&self, config: LogConfig) -> Result<(), Error> {
        config.validate()?;
        let direct = SinkSet::direct_from_config(&config)?;
        let shared = &self.core.shared;
        let reconfig = Reconfig {
            direct,
            stderr: config.stderr.then(|| StderrSink::new(config.file_format)),
            use_logd: config.use_logd,
        };
        let max_level = config.max_level();
        {
            let mut st = shared.lock();
            st.capacity = config.queue_capacity;
            st.queue.push_back(Item::Reconfigure(Box::new(reconfig)));
            // Swapped under the queue lock: a record logged after this
            // call returns carries the new settings and queues behind the
            // reconfiguration item.
            *shared
                .settings
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(Settings { config, max_level });
        }
        shared.work.notify_one();
        if shared.installed.load(Ordering::Relaxed) {
            log::set_max_level(max_level);
        }
        Ok(())
    }

    /// Flushes, then stops the writer thread and waits for it. Records
    /// logged afterwards are dropped once the queue is full. If the flush
    /// times out the thread is left to finish on its own.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let flushed = self.flush(timeout);
        let shared = &self.core.shared;
        shared.lock().shutdown = true;
        shared.work.notify_all();
        if flushed.is_ok() {
            let thread = self
                .core
                .thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
        flushed
    }
}

static GLOBAL: OnceLock<LoggerHandle> = OnceLock::new();

/// Installs the process-wide logger for `config`: syslog, `logfile`,
/// `debugfile` (opened now) and stderr as configured, and sets the `log`
/// crate's maximum level from the `debug` setting. With `use_logd` records
/// go to this node's logd (`$HA_RUNDIR/logd.sock`, through a [`LogdSink`])
/// and to the direct outputs while logd is unavailable.
pub fn init(config: LogConfig) -> Result<LoggerHandle, Error> {
    init_with_sinks(config, None, Vec::new())
}

/// Like [`init`], with a logd sink (used when `config.use_logd` is on; on
/// any error from it records go to the direct outputs, see
/// [`SinkSet::logd`]) and extra outputs that get every record. Without a
/// logd sink, a [`LogdSink`] for this node's logd is installed; it connects
/// only once `use_logd` is on (now or after
/// [`LoggerHandle::reconfigure`]).
pub fn init_with_sinks(
    config: LogConfig,
    logd: Option<Box<dyn Sink>>,
    extra: Vec<Box<dyn Sink>>,
) -> Result<LoggerHandle, Error> {
    config.validate()?;
    let logd = logd.unwrap_or_else(|| Box::new(LogdSink::from_env()));
    let sinks = SinkSet {
        direct: SinkSet::direct_from_config(&config)?,
        logd: Some(logd),
        extra,
    };
    let (logger, handle) = Logger::new(&config, sinks)?;
    log::set_boxed_logger(Box::new(logger)).map_err(|_| Error::AlreadyInitialized)?;
    log::set_max_level(config.max_level());
    handle.core.shared.installed.store(true, Ordering::Relaxed);
    let _ = GLOBAL.set(handle.clone());
    Ok(handle)
}

/// The handle of the logger installed by [`init`], if any.
pub fn global() -> Option<&'static LoggerHandle> {
    GLOBAL.get()
}

/// Logs at any syslog priority through the logger installed by [`init`]
/// (does nothing before `init`).
pub fn log_priority(priority: Priority, args: fmt::Arguments<'_>) {
    if let Some(h) = GLOBAL.get() {
        h.log_at(priority, args);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogdState {
    Unknown,
    Up,
    Down,
}

enum Action {
    Item(Item),
    Report(u64),
    Flush(u64),
}

/// The writer thread's side: owns the sinks.
struct Writer {
    shared: Arc<Shared>,
    direct: Vec<Box<dyn Sink>>,
    stderr: Option<StderrSink>,
    extra: Vec<Box<dyn Sink>>,
    logd: Option<Box<dyn Sink>>,
    use_logd: bool,
    logd_state: LogdState,
}

/// Marks the writer dead however it ends, so `flush` does not wait for it.
struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.lock().writer_alive = false;
        self.0.progress.notify_all();
    }
}

impl Writer {
    fn run(mut self) {
        let _alive = AliveGuard(Arc::clone(&self.shared));
        let mut dirty = false;
        loop {
            let action = {
                let mut st = self.shared.lock();
                loop {
                    if let Some(item) = st.queue.pop_front() {
                        break Some(Action::Item(item));
                    }
                    if st.pending_drops > 0 {
                        st.reporting = true;
                        break Some(Action::Report(std::mem::take(&mut st.pending_drops)));
                    }
                    if dirty || st.flushed < st.written {
                        break Some(Action::Flush(st.written));
                    }
                    if st.shutdown {
                        break None;
                    }
                    st = self
                        .shared
                        .work
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            match action {
                None => return,
                Some(Action::Item(Item::Record {
                    record,
                    dropped_before,
                })) => {
                    if dropped_before > 0 {
                        self.report_drops(dropped_before);
                    }
                    self.route(&record);
                    dirty = true;
                    self.shared.lock().written += 1;
                    self.shared.progress.notify_all();
                }
                Some(Action::Item(Item::Reconfigure(r))) => self.apply(*r),
                Some(Action::Report(n)) => {
                    self.report_drops(n);
                    dirty = true;
                    self.shared.lock().reporting = false;
                    self.shared.progress.notify_all();
                }
                Some(Action::Flush(upto)) => {
                    self.flush_sinks();
                    dirty = false;
                    let mut st = self.shared.lock();
                    st.flushed = st.flushed.max(upto);
                    drop(st);
                    self.shared.progress.notify_all();
                }
            }
        }
    }

    fn apply(&mut self, r: Reconfig) {
        self.flush_sinks();
        self.direct = r.direct;
        self.stderr = r.stderr;
        self.use_logd = r.use_logd;
        self.logd_state = LogdState::Unknown;
    }

    fn internal_record(&self, priority: Priority, message: String) -> LogRecord {
        own_record(&self.shared.settings().config, priority, message)
    }

    fn report_drops(&mut self, n: u64) {
        let rec = self.internal_record(
            Priority::Warning,
            format!("logging: {n} messages dropped (log queue full)"),
        );
        self.route(&rec);
    }

    fn count(&self, result: Result<(), SinkError>) {
        if result.is_err() {
            self.shared.sink_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn write_all(&self, sinks: &mut [Box<dyn Sink>], record: &LogRecord) {
        for sink in sinks {
            self.count(sink.write(record));
        }
    }

    fn write_always(&mut self, record: &LogRecord) {
        if let Some(s) = self.stderr.as_mut() {
            let r = s.write(record);
            self.count(r);
        }
        let mut extra = std::mem::take(&mut self.extra);
        self.write_all(&mut extra, record);
        self.extra = extra;
    }

    fn write_direct(&mut self, record: &LogRecord) {
        let mut direct = std::mem::take(&mut self.direct);
        self.write_all(&mut direct, record);
        self.direct = direct;
    }

    /// Sends one record where the configuration says: stderr and extra
    /// sinks always; logd when enabled and working, else the direct outputs.
    fn route(&mut self, record: &LogRecord) {
        self.write_always(record);
        if self.use_logd {
            if let Some(mut logd) = self.logd.take() {
                let result = logd.write(record);
                self.logd = Some(logd);
                match result {
                    Ok(()) => {
                        self.logd_came_up();
                        return;
                    }
                    Err(e) => self.logd_went_down(&e),
                }
            }
        }
        self.write_direct(record);
    }

    fn logd_came_up(&mut self) {
        let before = self.logd_state;
        self.logd_state = LogdState::Up;
        if before == LogdState::Up {
            return;
        }
        if before == LogdState::Down {
            let rec = self.internal_record(
                Priority::Info,
                "logging: logging daemon available again; logging through it".into(),
            );
            self.write_direct(&rec);
        }
        // Like cl_log, do not keep the direct files open while logd works.
        for sink in &mut self.direct {
            sink.release();
        }
    }

    fn logd_went_down(&mut self, error: &SinkError) {
        if matches!(error, SinkError::Io(_)) {
            self.shared.sink_errors.fetch_add(1, Ordering::Relaxed);
        }
        if self.logd_state == LogdState::Down {
            return;
        }
        self.logd_state = LogdState::Down;
        let rec = self.internal_record(
            Priority::Warning,
            format!("logging: logging daemon unavailable ({error}); logging directly"),
        );
        self.write_always(&rec);
        self.write_direct(&rec);
    }

    fn flush_sinks(&mut self) {
        let mut errors = 0;
        for sink in self
            .direct
            .iter_mut()
            .chain(self.extra.iter_mut())
            .chain(self.logd.iter_mut())
        {
            if sink.flush().is_err() {
                errors += 1;
            }
        }
        if let Some(s) = self.stderr.as_mut() {
            if s.flush().is_err() {
                errors += 1;
            }
        }
        self.shared.sink_errors.fetch_add(errors, Ordering::Relaxed);
    }
}

/// Logging for a CRM daemon started by heartbeat: the settings of ha.cf
/// (`cf`, or the defaults when the daemon runs standalone without one),
/// log file names under `$HA_LOGDIR`, and stderr when asked or standalone.
/// A log file the daemon may not open (heartbeat made it as root, the
/// daemon runs as hacluster) must not stop it: it goes on without files,
/// as Heartbeat's cl_log does when a write fails, and says so on stderr.
pub fn init_daemon(
    entity: &str,
    paths: &plumbing::HaPaths,
    cf: Option<&::config::HaCf>,
    stderr: bool,
) -> Result<LoggerHandle, String> {
    let mut lc = match cf {
        Some(cf) => LogConfig::from_ha_cf(cf, entity),
        None => LogConfig {
            entity: entity.into(),
            ..LogConfig::default()
        },
    };
    lc.logfile = lc.logfile.map(|f| paths.log_path(&f));
    lc.debugfile = lc.debugfile.map(|f| paths.log_path(&f));
    lc.stderr = stderr || cf.is_none();
    match init(lc.clone()) {
        Ok(l) => Ok(l),
        Err(e) => {
            eprintln!("{entity}: {e}; logging without log files");
            lc.logfile = None;
            lc.debugfile = None;
            init(lc).map_err(|e| format!("logging: {e}"))
        }
    }
}

//! Output targets of the writer thread behind one small trait, so the writer
//! can be tested with an in-memory sink and logd plugs in as one more sink:
//! log files (append mode, reopened after rotation), the local syslog socket,
//! stderr, and an in-memory sink for tests.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::config::{FileFormat, SyslogFacility};
use crate::error::Error;
use crate::format::{self, LocalTime};
use crate::record::{LogRecord, Priority};

/// Where the local syslog daemon listens.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// How often a [`FileSink`] checks whether its file was removed or rotated.
pub const DEFAULT_REOPEN_CHECK: Duration = Duration::from_secs(1);

/// Why a sink did not take a record.
#[derive(Debug)]
pub enum SinkError {
    /// The sink cannot take records now (e.g. logd is not connected). For
    /// the logd sink this makes the writer send the record to the direct
    /// outputs instead; it is not counted as an error.
    Unavailable(String),
    /// Writing failed; the record is lost for this sink and counted.
    Io(io::Error),
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Unavailable(why) => write!(f, "unavailable: {why}"),
            SinkError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SinkError {}

impl From<io::Error> for SinkError {
    fn from(e: io::Error) -> SinkError {
        SinkError::Io(e)
    }
}

/// An output of the writer thread.
///
/// Sinks run only on the writer thread, never on the thread that logged, so
/// they may block; a sink that blocks for long only makes the queue fill up
/// and records be dropped (and counted). A sink must not log through the
/// `log` crate itself.
pub trait Sink: Send {
    /// Writes one record. Sinks decide themselves which priorities they take
    /// (a `logfile` skips debug records, for instance) and return `Ok` for
    /// records they skip.
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError>;

    /// Pushes out anything buffered. Called when the queue runs empty.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Gives up resources not needed for a while: called on the direct
    /// outputs when logd takes over (cl_log closes its log files then, so
    /// that rotated files are not held open). The next write reacquires them.
    fn release(&mut self) {}
}

/// Which records a [`FileSink`] takes, as cl_log routes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// `logfile`: every record except debug ones.
    Log,
    /// `debugfile`: every record, debug included.
    Debug,
}

/// Converts record timestamps to local time, once per distinct second.
#[derive(Debug, Default)]
struct TimeCache {
    last: Option<(i64, LocalTime)>,
}

impl TimeCache {
    fn get(&mut self, record: &LogRecord) -> LocalTime {
        match self.last {
            Some((secs, t)) if secs == record.timestamp.secs => t,
            _ => {
                let t = LocalTime::from_timestamp(record.timestamp);
                self.last = Some((record.timestamp.secs, t));
                t
            }
        }
    }
}

/// Lays out file and stderr lines in the configured [`FileFormat`].
#[derive(Debug)]
struct LineFormatter {
    format: FileFormat,
    nodename: String,
    times: TimeCache,
}

impl LineFormatter {
    fn new(format: FileFormat) -> LineFormatter {
        LineFormatter {
            format,
            nodename: match format {
                FileFormat::Syslog => format::nodename(),
                FileFormat::Classic => String::new(),
            },
            times: TimeCache::default(),
        }
    }

    fn line(&mut self, record: &LogRecord) -> String {
        let time = self.times.get(record);
        match self.format {
            FileFormat::Classic => format::classic_line(record, &time),
            FileFormat::Syslog => format::syslog_style_line(record, &self.nodename, &time),
        }
    }
}

/// A `logfile` or `debugfile`.
///
/// Opened in append mode and written unbuffered, one `write` per line, so
/// lines from several processes sharing the file do not interleave. To
/// survive `logrotate` without a signal, the sink compares the path's inode
/// with the open file's at most once per check interval (default one second,
/// [`DEFAULT_REOPEN_CHECK`]) and reopens when the file was removed or
/// replaced. One `stat` per second is negligible next to the writes, and a
/// line lands in the rotated file at most one interval after the rename.
/// (cl_log does the same with a 60 second interval.)
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    role: FileRole,
    lines: LineFormatter,
    file: Option<File>,
    identity: Option<(u64, u64)>,
    last_check: Option<Instant>,
    check_interval: Duration,
    mode: u32,
}

/// Permissions of a log file this crate creates (before the umask), as
/// `fopen` creates them in cl_log.
const DEFAULT_FILE_MODE: u32 = 0o666;

impl FileSink {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path, role: FileRole, format: FileFormat) -> Result<FileSink, Error> {
        FileSink::open_with_mode(path, role, format, DEFAULT_FILE_MODE)
    }

    /// Like [`FileSink::open`]; a file this sink creates (now or after
    /// rotation) gets permissions `mode` (less the umask), logd's `logmode`.
    pub fn open_with_mode(
        path: &Path,
        role: FileRole,
        format: FileFormat,
        mode: u32,
    ) -> Result<FileSink, Error> {
        let mut sink = FileSink {
            path: path.to_owned(),
            role,
            lines: LineFormatter::new(format),
            file: None,
            identity: None,
            last_check: None,
            check_interval: DEFAULT_REOPEN_CHECK,
            mode,
        };
        sink.reopen().map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(sink)
    }

    /// Changes how often the file's identity is checked (zero: before every
    /// write).
    pub fn with_check_interval(mut self, interval: Duration) -> FileSink {
        self.check_interval = interval;
        self
    }

    /// The file this sink writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(self.mode)
            .open(&self.path)?;
        let meta = file.metadata()?;
        self.identity = Some((meta.dev(), meta.ino()));
        self.file = Some(file);
        self.last_check = Some(Instant::now());
        Ok(())
    }

    /// Drops the open file if the path no longer names it.
    fn check_rotation(&mut self) {
        if self.file.is_none() {
            return;
        }
        let due = self
            .last_check
            .is_none_or(|t| t.elapsed() >= self.check_interval);
        if !due {
            return;
        }
        self.last_check = Some(Instant::now());
        let same = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()))
            .is_some_and(|id| Some(id) == self.identity);
        if !same {
            self.file = None;
        }
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        if self.role == FileRole::Log && record.priority == Priority::Debug {
            return Ok(());
        }
        self.check_rotation();
        if self.file.is_none() {
            self.reopen()?;
        }
        let line = self.lines.line(record);
        let result = match self.file.as_mut() {
            Some(file) => file.write_all(line.as_bytes()),
            None => Err(io::Error::other("log file not open")),
        };
        if result.is_err() {
            // Try a fresh open next time (disk replaced, file system remounted...).
            self.file = None;
        }
        result.map_err(SinkError::Io)
    }

    fn release(&mut self) {
        self.file = None;
    }
}

/// Syslog output: RFC 3164 datagrams to the local syslog socket.
///
/// The socket is non-blocking: when syslog is slow, absent (no `/dev/log`)
/// or refuses, the record is lost for syslog and the error counted; the
/// writer thread never waits for a syslog daemon.
#[derive(Debug)]
pub struct SyslogSink {
    facility: SyslogFacility,
    socket_path: PathBuf,
    socket: Option<UnixDatagram>,
    times: TimeCache,
    prefix: Option<String>,
}

impl SyslogSink {
    /// Syslog to `/dev/log` with `facility`.
    pub fn new(facility: SyslogFacility) -> SyslogSink {
        SyslogSink::with_socket_path(facility, Path::new(DEFAULT_SYSLOG_SOCKET))
    }

    /// Syslog to another datagram socket (for tests or chroots).
    pub fn with_socket_path(facility: SyslogFacility, path: &Path) -> SyslogSink {
        SyslogSink {
            facility,
            socket_path: path.to_owned(),
            socket: None,
            times: TimeCache::default(),
            prefix: None,
        }
    }

    /// Tags every line with `prefix` instead of the entity, which moves into
    /// the text (logd's `syslogprefix`, for filtering all cluster messages
    /// by one tag): `linux-ha: heartbeat[1234]: info: text`.
    pub fn with_prefix(mut self, prefix: Option<String>) -> SyslogSink {
        self.prefix = prefix.filter(|p| !p.is_empty());
        self
    }
}

impl Sink for SyslogSink {
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        let socket = match self.socket.take() {
            Some(s) => s,
            None => {
                let s = UnixDatagram::unbound()?;
                s.set_nonblocking(true)?;
                s
            }
        };
        let time = self.times.get(record);
        let datagram = format::syslog_datagram_with_prefix(
            record,
            self.facility,
            self.prefix.as_deref(),
            &time,
        );
        let sent = socket.send_to(datagram.as_bytes(), &self.socket_path);
        self.socket = Some(socket);
        sent.map(|_| ()).map_err(SinkError::Io)
    }
}

/// Every line also on standard error, laid out as in the log files (cl_log's
/// `cl_log_enable_stderr`, used when a daemon runs in the foreground).
#[derive(Debug)]
pub struct StderrSink {
    lines: LineFormatter,
}

impl StderrSink {
    /// A stderr sink writing lines in `format`.
    pub fn new(format: FileFormat) -> StderrSink {
        StderrSink {
            lines: LineFormatter::new(format),
        }
    }
}

impl Sink for StderrSink {
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        let line = self.lines.line(record);
        io::stderr().lock().write_all(line.as_bytes())?;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct MemoryState {
    records: Vec<LogRecord>,
    /// `None`: writes pass; `Some(n)`: n more writes may pass, then block.
    permits: Option<u64>,
    unavailable: Option<String>,
    failing: bool,
}

#[derive(Debug, Default)]
struct MemoryShared {
    state: Mutex<MemoryState>,
    changed: Condvar,
}

impl MemoryShared {
    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A sink keeping records in memory, for tests: it can be blocked (to fill
/// the queue deterministically), made unavailable (a fake logd that is
/// down) or made to fail. Control and inspect it through its [`MemoryLog`].
#[derive(Debug)]
pub struct MemorySink {
    shared: Arc<MemoryShared>,
}

/// The test side of a [`MemorySink`].
#[derive(Debug, Clone)]
pub struct MemoryLog {
    shared: Arc<MemoryShared>,
}

impl MemorySink {
    /// A new sink and its control handle.
    pub fn new() -> (MemorySink, MemoryLog) {
        let shared = Arc::new(MemoryShared::default());
        (
            MemorySink {
                shared: Arc::clone(&shared),
            },
            MemoryLog { shared },
        )
    }
}

impl Sink for MemorySink {
    fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        let mut st = self.shared.lock();
        while st.permits == Some(0) {
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(p) = st.permits.as_mut() {
            *p -= 1;
        }
        if let Some(why) = &st.unavailable {
            return Err(SinkError::Unavailable(why.clone()));
        }
        if st.failing {
            return Err(SinkError::Io(io::Error::other("memory sink set to fail")));
        }
        st.records.push(record.clone());
        self.shared.changed.notify_all();
        Ok(())
    }
}

impl MemoryLog {
    /// Everything written so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.shared.lock().records.clone()
    }

    /// The messages written so far.
    pub fn messages(&self) -> Vec<String> {
        self.shared
            .lock()
            .records
            .iter()
            .map(|r| r.message.clone())
            .collect()
    }

    /// Makes the next writes wait until [`MemoryLog::allow`] or
    /// [`MemoryLog::unblock`].
    pub fn block(&self) {
        self.shared.lock().permits = Some(0);
        self.shared.changed.notify_all();
    }

    /// Lets `n` more writes through while blocked.
    pub fn allow(&self, n: u64) {
        if let Some(p) = self.shared.lock().permits.as_mut() {
            *p += n;
        }
        self.shared.changed.notify_all();
    }

    /// Lets all writes through again.
    pub fn unblock(&self) {
        self.shared.lock().permits = None;
        self.shared.changed.notify_all();
    }

    /// Makes writes report [`SinkError::Unavailable`] (`None`: available).
    pub fn set_unavailable(&self, why: Option<&str>) {
        self.shared.lock().unavailable = why.map(str::to_owned);
    }

    /// Makes writes fail with an I/O error.
    pub fn set_failing(&self, failing: bool) {
        self.shared.lock().failing = failing;
    }

    /// Waits until at least `n` records were written; false on timeout.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.records.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Timestamp;
    use crate::testutil::TempDir;

    fn rec(priority: Priority, message: &str) -> LogRecord {
        LogRecord {
            entity: "heartbeat".into(),
            pid: 77,
            priority,
            timestamp: Timestamp {
                secs: 1_795_435_200,
                nanos: 0,
            },
            message: message.into(),
            facility: Some(SyslogFacility::Daemon),
            show_priority: true,
        }
    }

    fn expected_classic(priority: &str, message: &str) -> String {
        let t = LocalTime::from_timestamp(Timestamp {
            secs: 1_795_435_200,
            nanos: 0,
        });
        format!(
            "heartbeat[77]: {} {priority}: {message}\n",
            t.ha_timestamp()
        )
    }

    #[test]
    fn logfile_skips_debug_and_debugfile_takes_all() {
        let dir = TempDir::new("roles");
        let mut log =
            FileSink::open(&dir.join("ha-log"), FileRole::Log, FileFormat::Classic).expect("open");
        let mut dbg = FileSink::open(&dir.join("ha-debug"), FileRole::Debug, FileFormat::Classic)
            .expect("open");
        for r in [rec(Priority::Info, "hello"), rec(Priority::Debug, "detail")] {
            log.write(&r).expect("write");
            dbg.write(&r).expect("write");
        }
        assert_eq!(dir.read("ha-log"), expected_classic("info", "hello"));
        assert_eq!(
            dir.read("ha-debug"),
            expected_classic("info", "hello") + &expected_classic("debug", "detail")
        );
    }

    #[test]
    fn file_is_appended_not_truncated() {
        let dir = TempDir::new("append");
        std::fs::write(dir.join("ha-log"), "old line\n").expect("seed");
        let mut log =
            FileSink::open(&dir.join("ha-log"), FileRole::Log, FileFormat::Classic).expect("open");
        log.write(&rec(Priority::Notice, "new")).expect("write");
        assert_eq!(
            dir.read("ha-log"),
            format!("old line\n{}", expected_classic("notice", "new"))
        );
    }

    #[test]
    fn file_reopened_after_removal_and_rotation() {
        let dir = TempDir::new("reopen");
        let path = dir.join("ha-log");
        let mut log = FileSink::open(&path, FileRole::Log, FileFormat::Classic)
            .expect("open")
            .with_check_interval(Duration::ZERO);
        log.write(&rec(Priority::Info, "one")).expect("write");
        std::fs::remove_file(&path).expect("remove");
        log.write(&rec(Priority::Info, "two")).expect("write");
        assert_eq!(dir.read("ha-log"), expected_classic("info", "two"));

        std::fs::rename(&path, dir.join("ha-log.1")).expect("rotate");
        log.write(&rec(Priority::Info, "three")).expect("write");
        assert_eq!(dir.read("ha-log.1"), expected_classic("info", "two"));
        assert_eq!(dir.read("ha-log"), expected_classic("info", "three"));
    }

    #[test]
    fn file_not_reopened_before_interval() {
        let dir = TempDir::new("interval");
        let path = dir.join("ha-log");
        let mut log = FileSink::open(&path, FileRole::Log, FileFormat::Classic)
            .expect("open")
            .with_check_interval(Duration::from_secs(3600));
        std::fs::rename(&path, dir.join("ha-log.1")).expect("rotate");
        log.write(&rec(Priority::Info, "late")).expect("write");
        assert_eq!(dir.read("ha-log.1"), expected_classic("info", "late"));
        assert!(!path.exists());
    }

    #[test]
    fn open_failure_is_an_error() {
        let dir = TempDir::new("openfail");
        let r = FileSink::open(
            &dir.join("no/such/dir/ha-log"),
            FileRole::Log,
            FileFormat::Classic,
        );
        assert!(matches!(r, Err(Error::Open { .. })));
    }

    #[test]
    fn syslog_datagram_reaches_socket() {
        let dir = TempDir::new("syslog");
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        let mut sink = SyslogSink::with_socket_path(SyslogFacility::Local0, &path);
        sink.write(&rec(Priority::Warning, "disk slow"))
            .expect("send");
        let mut buf = [0u8; 512];
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = server.recv(&mut buf).expect("recv");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // local0 (16) * 8 + warning (4) = 132
        assert!(got.starts_with("<132>"), "{got}");
        assert!(got.ends_with(" heartbeat: [77]: WARN: disk slow"), "{got}");
    }

    #[test]
    fn syslog_prefix_is_the_tag() {
        let dir = TempDir::new("syslogprefix");
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        let mut sink = SyslogSink::with_socket_path(SyslogFacility::Daemon, &path)
            .with_prefix(Some("linux-ha".into()));
        sink.write(&rec(Priority::Info, "up")).expect("send");
        let mut buf = [0u8; 512];
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = server.recv(&mut buf).expect("recv");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.ends_with(" linux-ha: heartbeat[77]: info: up"), "{got}");
    }

    #[test]
    fn created_file_gets_the_requested_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("mode");
        let path = dir.join("ha-log");
        let mut log = FileSink::open_with_mode(&path, FileRole::Log, FileFormat::Classic, 0o600)
            .expect("open");
        log.write(&rec(Priority::Info, "private")).expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn syslog_without_daemon_is_an_error_not_a_panic() {
        let dir = TempDir::new("nosyslog");
        let mut sink = SyslogSink::with_socket_path(SyslogFacility::Daemon, &dir.join("absent"));
        for _ in 0..3 {
            assert!(matches!(
                sink.write(&rec(Priority::Err, "x")),
                Err(SinkError::Io(_))
            ));
        }
    }

    #[test]
    fn memory_sink_modes() {
        let (mut sink, log) = MemorySink::new();
        sink.write(&rec(Priority::Info, "a")).expect("write");
        log.set_unavailable(Some("down"));
        assert!(matches!(
            sink.write(&rec(Priority::Info, "b")),
            Err(SinkError::Unavailable(_))
        ));
        log.set_unavailable(None);
        log.set_failing(true);
        assert!(matches!(
            sink.write(&rec(Priority::Info, "c")),
            Err(SinkError::Io(_))
        ));
        assert_eq!(log.messages(), ["a"]);
    }
}

//! logd's event loop: accepts records from every local process over ipc,
//! keeps them in a `LogdQueue` (a global and a per-client bound, drops
//! counted per client), and writes them from the same loop in bounded
//! batches per turn, so neither a flood of input nor a slow disk stalls the
//! other side for long. Each record is written as the sending daemon would
//! have written it itself (its entity, pid and timestamp), which is what
//! Heartbeat's ha_logd write process did with `cl_direct_log`.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use ipc::{AccessPolicy, Allow, ClientId, Limits, Server, ServerEvent};
use logging::{
    FileRole, FileSink, LogRecord, LogdProtocol, LogdQueue, LogdRequest, LogdResponse, LogdStats,
    LoggerHandle, Priority, Sink, SyslogSink,
};
use plumbing::{Event, EventLoop, Signal, TimerId};

use crate::cf::{self, LogdCf};

/// Records written per loop turn at most, before input is looked at again.
pub const WRITE_BATCH: usize = 512;

/// How often pending drop counts are written while clients stay connected
/// (a client's drops are also written when it disconnects).
pub const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Rounds of reading what clients already sent, at shutdown, before the
/// queue is written out; bounds the time a flooding client can add.
const SHUTDOWN_DRAIN_ROUNDS: usize = 1000;

/// Who may connect: every local process may log, as with Heartbeat's logd.
pub fn access_policy() -> AccessPolicy {
    AccessPolicy {
        read: Allow::default(),
        write: Allow::everyone(),
    }
}

/// The server bounds for logd: small frames (one record each).
pub fn limits() -> Limits {
    Limits {
        max_frame: logging::logd_proto::MAX_FRAME,
        ..Limits::default()
    }
}

/// Where client records go: debugfile, logfile and syslog per logd.cf.
struct Outputs {
    sinks: Vec<(String, Box<dyn Sink>)>,
    /// Per output: whether its last write failed (to log failures once).
    failing: Vec<bool>,
    errors: u64,
}

impl Outputs {
    fn open(cf: &LogdCf) -> Result<Outputs, logging::Error> {
        let mut sinks: Vec<(String, Box<dyn Sink>)> = Vec::new();
        let file = |path: &PathBuf, role| -> Result<Box<dyn Sink>, logging::Error> {
            Ok(Box::new(FileSink::open_with_mode(
                path,
                role,
                cf.file_format,
                cf.logmode,
            )?))
        };
        let effective = |p: &Option<PathBuf>| {
            p.clone().filter(|p| {
                !p.to_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("/dev/null"))
            })
        };
        if let Some(p) = effective(&cf.debugfile) {
            sinks.push((p.display().to_string(), file(&p, FileRole::Debug)?));
        }
        if let Some(p) = effective(&cf.logfile) {
            sinks.push((p.display().to_string(), file(&p, FileRole::Log)?));
        }
        if let Some(facility) = cf.facility {
            sinks.push((
                format!("syslog ({})", facility.name()),
                Box::new(SyslogSink::new(facility).with_prefix(cf.syslog_prefix.clone())),
            ));
        }
        let failing = vec![false; sinks.len()];
        Ok(Outputs {
            sinks,
            failing,
            errors: 0,
        })
    }

    fn write(&mut self, record: &LogRecord) {
        for ((name, sink), failing) in self.sinks.iter_mut().zip(self.failing.iter_mut()) {
            match sink.write(record) {
                Ok(()) => {
                    if *failing {
                        log::info!("writing to {name} works again");
                        *failing = false;
                    }
                }
                Err(e) => {
                    self.errors += 1;
                    if !*failing {
                        log::error!("cannot write to {name}: {e} (further failures are counted, not logged)");
                        *failing = true;
                    }
                }
            }
        }
    }

    fn flush(&mut self) {
        for (_, sink) in &mut self.sinks {
            if sink.flush().is_err() {
                self.errors += 1;
            }
        }
    }
}

/// Settings of logd's own logger, from logd.cf.
pub fn own_log_config(cf: &LogdCf, stderr: bool) -> logging::LogConfig {
    logging::LogConfig {
        entity: cf.entity.clone(),
        facility: cf.facility,
        logfile: cf.logfile.clone(),
        debugfile: cf.debugfile.clone(),
        // cl_log writes logd's own debug messages to the debugfile.
        debug: u32::from(cf.debugfile.is_some()),
        use_logd: false,
        stderr,
        file_format: cf.file_format,
        ..logging::LogConfig::new(cf.entity.clone())
    }
}

/// Sets the umask so files are created with `logmode`, as ha_logd does.
pub fn apply_logmode(logmode: u32) {
    let mask = (!logmode & 0o777) & !0o111;
    // SAFETY: umask only changes the process's file creation mask.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// The running daemon.
pub struct Logd {
    server: Server<LogdProtocol>,
    queue: LogdQueue,
    outputs: Outputs,
    cf: LogdCf,
    cf_path: Option<PathBuf>,
    logger: LoggerHandle,
    stderr: bool,
    report_timer: TimerId,
    received: u64,
    written: u64,
}

impl Logd {
    /// Opens the outputs of `cf` and listens on `socket`. Call after the
    /// loop watches SIGTERM, SIGINT and SIGHUP.
    pub fn start(
        lp: &mut EventLoop,
        socket: &std::path::Path,
        cf: LogdCf,
        cf_path: Option<PathBuf>,
        logger: LoggerHandle,
        stderr: bool,
    ) -> Result<Logd, String> {
        let outputs = Outputs::open(&cf).map_err(|e| e.to_string())?;
        let queue = LogdQueue::new(cf.sendqlen, cf.recvqlen).map_err(|e| e.to_string())?;
        let server = Server::bind(lp, socket, 0o666, access_policy(), limits())
            .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
        let report_timer = lp.add_interval(DROP_REPORT_INTERVAL);
        Ok(Logd {
            server,
            queue,
            outputs,
            cf,
            cf_path,
            logger,
            stderr,
            report_timer,
            received: 0,
            written: 0,
        })
    }

    /// Serves until SIGTERM or SIGINT, then writes out what clients sent.
    pub fn run(&mut self, lp: &mut EventLoop) -> io::Result<()> {
        let mut events = Vec::new();
        let mut reqs = Vec::new();
        loop {
            let timeout = if self.queue.is_empty() {
                self.server.poll_timeout()
            } else {
                Some(Duration::ZERO)
            };
            lp.poll(&mut events, timeout)?;
            let mut stop = None;
            for ev in events.drain(..) {
                match ev {
                    Event::Io { token, ready } if self.server.owns(token) => {
                        self.server.handle_io(lp, token, ready, &mut reqs);
                    }
                    Event::Signal(sig @ (Signal::SIGTERM | Signal::SIGINT)) => stop = Some(sig),
                    Event::Signal(Signal::SIGHUP) => self.reload(),
                    Event::Timer(t) if t == self.report_timer => self.report_drops(),
                    _ => {}
                }
            }
            self.server.process(lp, &mut reqs);
            self.serve(lp, &mut reqs);
            self.write_batch();
            if let Some(sig) = stop {
                return self.shut_down(lp, sig);
            }
        }
    }

    fn serve(&mut self, lp: &mut EventLoop, reqs: &mut Vec<ServerEvent<LogdRequest>>) {
        while !reqs.is_empty() {
            for r in std::mem::take(reqs) {
                match r {
                    ServerEvent::Request {
                        client,
                        body: LogdRequest::Log(record),
                        ..
                    } => {
                        self.received += 1;
                        // A refused record is counted per client and
                        // reported by `report_drops`.
                        let _ = self.queue.push(client.0, record);
                    }
                    ServerEvent::Request {
                        client,
                        call,
                        body: LogdRequest::Stats,
                    } => {
                        if let Some(id) = call {
                            let stats = LogdResponse::Stats(self.stats());
                            let _ = self.server.reply(lp, client, id, &stats, reqs);
                        }
                    }
                    // Every ha_logger call connects: not worth a line.
                    ServerEvent::Connected { .. } => {}
                    ServerEvent::Disconnected { client, .. } => self.client_gone(client),
                }
            }
        }
    }

    fn client_gone(&mut self, client: ClientId) {
        self.queue.remove_client(client.0);
        // A client's losses are reported as soon as it is gone, in one line.
        self.report_drops();
    }

    /// The counters as `Stats` reports them.
    pub fn stats(&self) -> LogdStats {
        LogdStats {
            received: self.received,
            written: self.written,
            dropped: self.queue.dropped(),
            queued: self.queue.len() as u64,
            clients: self.server.clients().count() as u64,
        }
    }

    fn write_batch(&mut self) {
        let mut wrote = false;
        for _ in 0..WRITE_BATCH {
            let Some((_, record)) = self.queue.pop() else {
                break;
            };
            self.outputs.write(&record);
            self.written += 1;
            wrote = true;
        }
        if wrote {
            self.outputs.flush();
        }
    }

    /// Writes one line per client and reason with the drops not yet reported.
    fn report_drops(&mut self) {
        for report in self.queue.take_drop_report() {
            let record = LogRecord::new(
                self.cf.entity.clone(),
                Priority::Warning,
                report.to_string(),
                self.cf.facility,
            );
            self.outputs.write(&record);
        }
        self.outputs.flush();
    }

    /// SIGHUP: rereads logd.cf and reopens the log files. A broken file or
    /// an output that cannot be opened leaves the previous settings.
    fn reload(&mut self) {
        let cf = match &self.cf_path {
            None => self.cf.clone(),
            Some(path) => match cf::load(path) {
                Ok(parsed) => {
                    for note in &parsed.notes {
                        log::warn!("{note}");
                    }
                    // The node's environment is fixed for the process's life.
                    parsed.cf.in_logdir(&plumbing::HaPaths::from_env())
                }
                Err(errors) => {
                    for e in errors {
                        log::error!("{e}");
                    }
                    log::error!(
                        "SIGHUP: {} is incorrect; keeping the previous configuration",
                        path.display()
                    );
                    self.cf.clone()
                }
            },
        };
        apply_logmode(cf.logmode);
        let outputs = match Outputs::open(&cf) {
            Ok(o) => o,
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the previous log files");
                return;
            }
        };
        if let Err(e) = self.queue.set_capacities(cf.sendqlen, cf.recvqlen) {
            log::error!("SIGHUP: {e}; keeping the previous queue lengths");
        }
        if let Err(e) = self.logger.reconfigure(own_log_config(&cf, self.stderr)) {
            log::error!("SIGHUP: logd's own logging: {e}");
        }
        self.outputs.flush();
        self.outputs = outputs;
        self.cf = cf;
        log::info!("SIGHUP received: configuration reread, log files reopened");
    }

    /// Takes what clients already sent (boundedly), writes out the whole
    /// queue and the last drop reports.
    fn shut_down(&mut self, lp: &mut EventLoop, sig: Signal) -> io::Result<()> {
        let mut events = Vec::new();
        let mut reqs = Vec::new();
        for _ in 0..SHUTDOWN_DRAIN_ROUNDS {
            lp.poll(&mut events, Some(Duration::ZERO))?;
            for ev in events.drain(..) {
                if let Event::Io { token, ready } = ev {
                    if self.server.owns(token) {
                        self.server.handle_io(lp, token, ready, &mut reqs);
                    }
                }
            }
            self.server.process(lp, &mut reqs);
            let got = !reqs.is_empty();
            self.serve(lp, &mut reqs);
            if !got && self.server.poll_timeout() != Some(Duration::ZERO) {
                break;
            }
        }
        let pending = self.queue.len();
        while !self.queue.is_empty() {
            self.write_batch();
        }
        self.report_drops();
        let stats = self.stats();
        log::info!(
            "{} received: wrote {pending} queued messages; exiting ({} received, {} written, {} dropped)",
            sig.as_str(),
            stats.received,
            stats.written,
            stats.dropped
        );
        if self.outputs.errors > 0 {
            log::warn!("{} writes to the outputs failed", self.outputs.errors);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_follows_logmode_like_ha_logd() {
        // 0644 -> 022, 0600 -> 066, 0640 -> 026 (execute bits never masked).
        for (mode, mask) in [(0o644, 0o022), (0o600, 0o066), (0o640, 0o026)] {
            assert_eq!((!mode & 0o777) & !0o111, mask);
        }
    }

    #[test]
    fn everyone_may_log_but_only_log_requests_write() {
        let p = access_policy();
        let peer = ipc::PeerCred {
            pid: 1,
            uid: 12345,
            gid: 12345,
            groups: vec![],
        };
        assert_eq!(p.access(&peer), ipc::Access::ReadWrite);
    }

    #[test]
    fn outputs_follow_cf_and_skip_dev_null() {
        let dir = std::env::temp_dir().join(format!("logd-outputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let cf = LogdCf {
            logfile: Some(dir.join("ha-log")),
            debugfile: Some("/dev/null".into()),
            facility: None,
            ..LogdCf::default()
        };
        let mut out = Outputs::open(&cf).expect("open");
        assert_eq!(out.sinks.len(), 1);
        let mut dbg = LogRecord::new("crmd", Priority::Debug, "hidden", None);
        dbg.pid = 42;
        out.write(&dbg);
        let info = LogRecord {
            pid: 42,
            ..LogRecord::new("crmd", Priority::Info, "shown", None)
        };
        out.write(&info);
        let text = std::fs::read_to_string(dir.join("ha-log")).expect("read");
        assert!(text.ends_with(" crmd: [42]: info: shown\n"), "{text}");
        assert!(!text.contains("hidden"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

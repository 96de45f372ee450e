//! Behavioural tests of the logger and its writer thread, driven through
//! `Logger` values (not the process-wide logger, which can be installed only
//! once) and in-memory sinks, so that queue-full and stuck-sink situations
//! are produced deterministically rather than by timing.

use std::sync::mpsc;
use std::time::Duration;

use log::Log;

use crate::testutil::TempDir;
use crate::{
    Error, FileFormat, LogConfig, Logger, LoggerHandle, MemoryLog, MemorySink, Priority, SinkSet,
    SyslogFacility, SyslogSink,
};

/// Generous bound for waits that only detect failures (a hang), never
/// measure speed.
const LONG: Duration = Duration::from_secs(30);

fn emit(logger: &Logger, level: log::Level, msg: &str) {
    logger.log(
        &log::Record::builder()
            .level(level)
            .target("test")
            .args(format_args!("{msg}"))
            .build(),
    );
}

fn config(debug: u32) -> LogConfig {
    LogConfig {
        debug,
        file_format: FileFormat::Classic,
        ..LogConfig::new("heartbeat")
    }
}

/// A logger whose only direct output is a memory sink.
fn memory_logger(config: &LogConfig) -> (Logger, LoggerHandle, MemoryLog) {
    let (sink, log) = MemorySink::new();
    let sinks = SinkSet {
        direct: vec![Box::new(sink)],
        ..SinkSet::default()
    };
    let (logger, handle) = Logger::new(config, sinks).expect("logger");
    (logger, handle, log)
}

const DROP_LINE_PREFIX: &str = "logging: ";

fn drop_lines(log: &MemoryLog) -> Vec<String> {
    log.messages()
        .into_iter()
        .filter(|m| m.starts_with(DROP_LINE_PREFIX) && m.contains("dropped"))
        .collect()
}

#[test]
fn records_carry_entity_pid_facility_priority() {
    let cfg = LogConfig {
        facility: Some(SyslogFacility::Local0),
        ..config(0)
    };
    let (logger, handle, log) = memory_logger(&cfg);
    emit(&logger, log::Level::Warn, "late heartbeat from node2");
    handle.flush(LONG).expect("flush");
    let recs = log.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].entity, "heartbeat");
    assert_eq!(recs[0].pid, std::process::id());
    assert_eq!(recs[0].priority, Priority::Warning);
    assert_eq!(recs[0].facility, Some(SyslogFacility::Local0));
    assert_eq!(recs[0].message, "late heartbeat from node2");
    assert!(recs[0].timestamp.secs > 1_600_000_000);
}

#[test]
fn debug_filtering_per_level() {
    for (debug, expected) in [
        (0, vec!["info"]),
        (1, vec!["info", "debug"]),
        (2, vec!["info", "debug", "trace"]),
        (7, vec!["info", "debug", "trace"]),
    ] {
        let (logger, handle, log) = memory_logger(&config(debug));
        assert_eq!(
            logger.enabled(&log::Metadata::builder().level(log::Level::Debug).build()),
            debug > 0
        );
        emit(&logger, log::Level::Info, "info");
        emit(&logger, log::Level::Debug, "debug");
        emit(&logger, log::Level::Trace, "trace");
        handle.flush(LONG).expect("flush");
        assert_eq!(log.messages(), expected, "debug level {debug}");
        // Trace is written at syslog priority debug.
        assert!(log
            .records()
            .iter()
            .filter(|r| r.message != "info")
            .all(|r| r.priority == Priority::Debug));
    }
}

#[test]
fn log_at_any_priority_and_debug_filter() {
    let (logger, handle, log) = memory_logger(&config(0));
    logger.log_at(Priority::Notice, format_args!("notice {}", 1));
    logger.log_at(Priority::Crit, format_args!("crit"));
    logger.log_at(Priority::Debug, format_args!("filtered"));
    handle.log_at(Priority::Emerg, format_args!("via handle"));
    handle.flush(LONG).expect("flush");
    let got: Vec<(Priority, String)> = log
        .records()
        .into_iter()
        .map(|r| (r.priority, r.message))
        .collect();
    assert_eq!(
        got,
        [
            (Priority::Notice, "notice 1".to_owned()),
            (Priority::Crit, "crit".to_owned()),
            (Priority::Emerg, "via handle".to_owned()),
        ]
    );
}

#[test]
fn debugfile_gets_everything_logfile_no_debug() {
    let dir = TempDir::new("routing");
    let cfg = LogConfig {
        logfile: Some(dir.join("ha-log")),
        debugfile: Some(dir.join("ha-debug")),
        ..config(1)
    };
    let (logger, handle) =
        Logger::new(&cfg, SinkSet::from_config(&cfg).expect("sinks")).expect("logger");
    emit(&logger, log::Level::Info, "node node2 is up");
    emit(&logger, log::Level::Debug, "ping from node2");
    emit(&logger, log::Level::Error, "bad packet");
    handle.flush(LONG).expect("flush");

    let pid = std::process::id();
    let log_lines: Vec<String> = dir.read("ha-log").lines().map(str::to_owned).collect();
    let debug_lines: Vec<String> = dir.read("ha-debug").lines().map(str::to_owned).collect();
    // `heartbeat[pid]: <timestamp> <priority>: <text>` -> `<priority>: <text>`
    let tail = |l: &String| l.splitn(3, ' ').nth(2).unwrap_or_default().to_owned();
    assert!(log_lines
        .iter()
        .chain(&debug_lines)
        .all(|l| l.starts_with(&format!("heartbeat[{pid}]: "))));
    assert_eq!(
        log_lines.iter().map(tail).collect::<Vec<_>>(),
        ["info: node node2 is up", "ERROR: bad packet"]
    );
    assert_eq!(
        debug_lines.iter().map(tail).collect::<Vec<_>>(),
        [
            "info: node node2 is up",
            "debug: ping from node2",
            "ERROR: bad packet"
        ]
    );
    handle.shutdown(LONG).expect("shutdown");
}

#[test]
fn queue_full_drops_and_reports_once_with_count() {
    let cfg = LogConfig {
        queue_capacity: 4,
        ..config(0)
    };
    let (logger, handle, log) = memory_logger(&cfg);
    log.block();
    for i in 0..10 {
        emit(&logger, log::Level::Info, &format!("m{i}"));
    }
    // Capacity counts records queued or being written: exactly 4 got in.
    assert_eq!(handle.dropped(), 6);
    assert_eq!(handle.pending(), 4);
    log.unblock();
    handle.flush(LONG).expect("flush");
    emit(&logger, log::Level::Info, "after");
    handle.flush(LONG).expect("flush");

    assert_eq!(
        log.messages(),
        [
            "m0",
            "m1",
            "m2",
            "m3",
            "logging: 6 messages dropped (log queue full)",
            "after"
        ]
    );
    let reports: Vec<_> = log
        .records()
        .into_iter()
        .filter(|r| r.message.contains("dropped"))
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].priority, Priority::Warning);
    assert_eq!(reports[0].entity, "heartbeat");
    assert_eq!(handle.dropped(), 6);
}

#[test]
fn drop_report_comes_before_the_next_accepted_record() {
    let cfg = LogConfig {
        queue_capacity: 2,
        ..config(0)
    };
    let (logger, handle, log) = memory_logger(&cfg);
    log.block();
    emit(&logger, log::Level::Info, "a");
    emit(&logger, log::Level::Info, "b");
    emit(&logger, log::Level::Info, "lost1");
    emit(&logger, log::Level::Info, "lost2");
    assert_eq!(handle.dropped(), 2);
    // Let "a" through and wait until the writer has finished it.
    log.allow(1);
    assert!(log.wait_for(1, LONG));
    let deadline = std::time::Instant::now() + LONG;
    while handle.pending() != 1 {
        assert!(std::time::Instant::now() < deadline, "writer stuck");
        std::thread::yield_now();
    }
    emit(&logger, log::Level::Info, "c");
    assert_eq!(handle.dropped(), 2);
    log.unblock();
    handle.flush(LONG).expect("flush");
    assert_eq!(
        log.messages(),
        [
            "a",
            "b",
            "logging: 2 messages dropped (log queue full)",
            "c"
        ]
    );
    assert_eq!(drop_lines(&log).len(), 1);
}

#[test]
fn log_does_not_block_when_sink_is_stuck() {
    let cfg = LogConfig {
        queue_capacity: 16,
        ..config(0)
    };
    let (logger, handle, log) = memory_logger(&cfg);
    log.block();
    let (done_tx, done_rx) = mpsc::channel();
    let logger = std::sync::Arc::new(logger);
    let l2 = std::sync::Arc::clone(&logger);
    let t = std::thread::spawn(move || {
        for i in 0..10_000 {
            emit(&l2, log::Level::Error, &format!("flood {i}"));
        }
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(LONG).is_ok(),
        "log() blocked on a stuck sink"
    );
    t.join().expect("logging thread");
    assert_eq!(handle.dropped(), 10_000 - 16);
    // The stuck sink also makes flush time out rather than hang.
    assert!(matches!(
        handle.flush(Duration::from_millis(20)),
        Err(Error::FlushTimeout { pending: 16 })
    ));
    log.unblock();
    handle.flush(LONG).expect("flush");
    assert_eq!(log.messages().len(), 17);
    assert_eq!(
        drop_lines(&log),
        ["logging: 9984 messages dropped (log queue full)"]
    );
}

#[test]
fn failing_logd_falls_back_to_file() {
    let dir = TempDir::new("fallback");
    let cfg = LogConfig {
        logfile: Some(dir.join("ha-log")),
        use_logd: true,
        ..config(0)
    };
    let (logd, logd_log) = MemorySink::new();
    logd_log.set_unavailable(Some("not connected"));
    let mut sinks = SinkSet::from_config(&cfg).expect("sinks");
    sinks.logd = Some(Box::new(logd));
    let (logger, handle) = Logger::new(&cfg, sinks).expect("logger");

    emit(&logger, log::Level::Info, "while logd is down");
    handle.flush(LONG).expect("flush");
    let file = dir.read("ha-log");
    assert!(file.contains(
        "WARN: logging: logging daemon unavailable (unavailable: not connected); logging directly"
    ));
    assert!(file.contains("info: while logd is down"), "{file}");
    assert!(logd_log.records().is_empty());

    logd_log.set_unavailable(None);
    emit(&logger, log::Level::Info, "through logd");
    handle.flush(LONG).expect("flush");
    assert_eq!(logd_log.messages(), ["through logd"]);
    let file = dir.read("ha-log");
    assert!(!file.contains("through logd"));
    assert!(file.contains("info: logging: logging daemon available again"));

    logd_log.set_failing(true);
    emit(&logger, log::Level::Info, "logd broke");
    handle.flush(LONG).expect("flush");
    let file = dir.read("ha-log");
    assert!(file.contains("info: logd broke"));
    assert_eq!(file.matches("logging daemon unavailable").count(), 2);
    assert_eq!(handle.sink_errors(), 1);
    handle.shutdown(LONG).expect("shutdown");
}

#[test]
fn logd_unused_when_use_logd_is_off_and_extra_always_written() {
    let cfg = config(0);
    let (direct, direct_log) = MemorySink::new();
    let (logd, logd_log) = MemorySink::new();
    let (extra, extra_log) = MemorySink::new();
    let sinks = SinkSet {
        direct: vec![Box::new(direct)],
        logd: Some(Box::new(logd)),
        extra: vec![Box::new(extra)],
    };
    let (logger, handle) = Logger::new(&cfg, sinks).expect("logger");
    emit(&logger, log::Level::Info, "one");
    handle.flush(LONG).expect("flush");
    assert_eq!(direct_log.messages(), ["one"]);
    assert!(logd_log.messages().is_empty());
    assert_eq!(extra_log.messages(), ["one"]);

    // With logd on and working, direct outputs stay quiet; extra still gets it.
    let (direct, direct_log) = MemorySink::new();
    let (logd, logd_log) = MemorySink::new();
    let (extra, extra_log) = MemorySink::new();
    let cfg = LogConfig {
        use_logd: true,
        ..config(0)
    };
    let sinks = SinkSet {
        direct: vec![Box::new(direct)],
        logd: Some(Box::new(logd)),
        extra: vec![Box::new(extra)],
    };
    let (logger, handle) = Logger::new(&cfg, sinks).expect("logger");
    emit(&logger, log::Level::Info, "two");
    handle.flush(LONG).expect("flush");
    assert!(direct_log.messages().is_empty());
    assert_eq!(logd_log.messages(), ["two"]);
    assert_eq!(extra_log.messages(), ["two"]);
}

#[test]
fn syslog_without_daemon_counts_errors_and_never_blocks() {
    let dir = TempDir::new("nosyslog");
    let cfg = config(0);
    let sinks = SinkSet {
        direct: vec![Box::new(SyslogSink::with_socket_path(
            SyslogFacility::Daemon,
            &dir.join("no-dev-log"),
        ))],
        ..SinkSet::default()
    };
    let (logger, handle) = Logger::new(&cfg, sinks).expect("logger");
    for i in 0..5 {
        emit(&logger, log::Level::Error, &format!("e{i}"));
    }
    handle.flush(LONG).expect("flush");
    assert_eq!(handle.sink_errors(), 5);
    assert_eq!(handle.dropped(), 0);
}

#[test]
fn reconfigure_changes_entity_level_and_outputs() {
    let dir = TempDir::new("reconf");
    let (extra, extra_log) = MemorySink::new();
    let (direct, direct_log) = MemorySink::new();
    let cfg = config(0);
    let sinks = SinkSet {
        direct: vec![Box::new(direct)],
        extra: vec![Box::new(extra)],
        ..SinkSet::default()
    };
    let (logger, handle) = Logger::new(&cfg, sinks).expect("logger");
    emit(&logger, log::Level::Debug, "hidden");
    emit(&logger, log::Level::Info, "before");

    let new = LogConfig {
        entity: "ccm".into(),
        debug: 1,
        logfile: Some(dir.join("ha-log")),
        ..config(0)
    };
    handle.reconfigure(new.clone()).expect("reconfigure");
    assert_eq!(handle.config(), new);
    emit(&logger, log::Level::Debug, "shown");
    emit(&logger, log::Level::Info, "after");
    handle.flush(LONG).expect("flush");

    let got: Vec<(String, String)> = extra_log
        .records()
        .into_iter()
        .map(|r| (r.entity, r.message))
        .collect();
    assert_eq!(
        got,
        [
            ("heartbeat".to_owned(), "before".to_owned()),
            ("ccm".to_owned(), "shown".to_owned()),
            ("ccm".to_owned(), "after".to_owned()),
        ]
    );
    // The old direct output was replaced by the new configuration's file.
    assert_eq!(direct_log.messages(), ["before"]);
    let file = dir.read("ha-log");
    assert!(file.contains("ccm["), "{file}");
    assert!(file.contains("info: after"));
    assert!(!file.contains("shown"), "logfile takes no debug");

    // A bad configuration changes nothing.
    let bad = LogConfig {
        logfile: Some(dir.join("missing/dir/ha-log")),
        ..new.clone()
    };
    assert!(matches!(handle.reconfigure(bad), Err(Error::Open { .. })));
    assert_eq!(handle.config(), new);
}

#[test]
fn invalid_config_is_rejected() {
    let cfg = LogConfig {
        queue_capacity: 0,
        ..config(0)
    };
    assert!(matches!(
        Logger::new(&cfg, SinkSet::default()),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn global_logger_installs_once() {
    let (sink, log) = MemorySink::new();
    let cfg = config(1);
    let handle = crate::init_with_sinks(cfg.clone(), None, vec![Box::new(sink)]).expect("init");
    assert_eq!(log::max_level(), log::LevelFilter::Debug);
    log::warn!("global {}", "works");
    log::trace!("not at debug 1");
    crate::log_priority(Priority::Notice, format_args!("notice"));
    handle.flush(LONG).expect("flush");
    assert_eq!(log.messages(), ["global works", "notice"]);
    assert!(crate::global().is_some());
    assert!(matches!(crate::init(cfg), Err(Error::AlreadyInitialized)));
    handle
        .reconfigure(LogConfig {
            debug: 2,
            ..config(0)
        })
        .expect("reconfigure");
    assert_eq!(log::max_level(), log::LevelFilter::Trace);
}

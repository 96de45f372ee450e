//! The log backend of every daemon: a bounded, never-blocking queue to syslog, files or logd.
//!
//! Daemons log through the `log` crate macros. [`init`] installs a
//! [`Logger`] whose `log()` only formats the message into an owned
//! [`LogRecord`] and appends it to a bounded queue; a writer thread does the
//! output. When the queue is full the record is dropped and counted, and the
//! writer later writes one `logging: N messages dropped (log queue full)`
//! warning where the gap is. The calling thread never waits for a disk,
//! syslog or logd.
//!
//! Output follows cluster-glue's `cl_log`:
//! * syslog (`logfacility`, `none` = off) gets every record that passes the
//!   `debug` filter, as `heartbeat: [1234]: info: text`;
//! * `debugfile` gets every record, debug included;
//! * `logfile` gets every record except debug ones;
//! * debug records exist only when `debug` > 0 (level 1 passes
//!   `log::Level::Debug`, 2 and more `Trace` too, both written as `debug`);
//! * file lines are syslog-style (`Nov 23 12:34:56 node1 heartbeat: [1234]:
//!   info: text`, cluster-glue's default) or classic (`heartbeat[1234]:
//!   2026/11/23_12:34:56 info: text`), see [`FileFormat`];
//! * with `use_logd`, records go to logd through a [`LogdSink`] (the one
//!   [`init`] installs, or the sink the daemon supplies) and fall back to the
//!   direct outputs while logd is unavailable.
//!
//! [`logd_proto`] is the IPC protocol of logd; [`LogdQueue`] is the bounded,
//! per-client-fair queue of the logd daemon.

#![deny(missing_docs)]

mod config;
mod error;
pub mod format;
pub mod logd_proto;
mod logd_queue;
mod logd_sink;
mod logger;
mod record;
mod sink;

#[cfg(test)]
mod logger_tests;
#[cfg(test)]
mod testutil;

pub use crate::config::{
    parse_facility_setting, FileFormat, LogConfig, SyslogFacility, DEFAULT_ENTITY,
    DEFAULT_QUEUE_CAPACITY,
};
pub use error::Error;
pub use logd_proto::{LogdProtocol, LogdRequest, LogdResponse, LogdStats};
pub use logd_queue::{ClientId, DropReason, DropReport, Dropped, LogdQueue};
pub use logd_sink::{LogdSink, DEFAULT_CONNECT_INTERVAL, DEFAULT_LOGD_TIMEOUT};
pub use logger::{
    global, init, init_daemon, init_with_sinks, log_priority, Logger, LoggerHandle, SinkSet,
};
pub use record::{LogRecord, Priority, Timestamp};
pub use sink::{
    FileRole, FileSink, MemoryLog, MemorySink, Sink, SinkError, StderrSink, SyslogSink,
    DEFAULT_REOPEN_CHECK, DEFAULT_SYSLOG_SOCKET,
};

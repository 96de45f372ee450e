//! The one concrete error type of this crate, so that daemons can tell a bad
//! `ha.cf` logging directive from an I/O failure without parsing strings.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong when configuring or driving the logger.
///
/// Output errors that happen *after* a record was queued are never returned
/// to the code that logged it (that code must not wait for output); they are
/// counted instead, see [`crate::LoggerHandle::sink_errors`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A `logfacility` value that is neither `none` nor a syslog facility name.
    UnknownFacility(String),
    /// A configuration value that cannot work (empty entity, zero capacity, ...).
    InvalidConfig(String),
    /// A global `log` logger is already installed in this process.
    AlreadyInitialized,
    /// The writer thread could not be started.
    Spawn(io::Error),
    /// An output file could not be opened.
    Open {
        /// The file that could not be opened.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// `flush` gave up before everything queued had been written.
    FlushTimeout {
        /// Records still queued or being written when the wait ended.
        pending: u64,
    },
    /// The writer thread is gone (it panicked in a sink, or was shut down).
    WriterGone,
    /// A [`crate::LogRecord`] could not be encoded or decoded.
    Codec(postcard::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownFacility(name) => write!(f, "unknown syslog facility {name:?}"),
            Error::InvalidConfig(what) => write!(f, "invalid logging configuration: {what}"),
            Error::AlreadyInitialized => f.write_str("a global logger is already installed"),
            Error::Spawn(e) => write!(f, "cannot start the log writer thread: {e}"),
            Error::Open { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
            Error::FlushTimeout { pending } => {
                write!(f, "log flush timed out with {pending} records pending")
            }
            Error::WriterGone => f.write_str("the log writer thread is not running"),
            Error::Codec(e) => write!(f, "log record encoding: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn(e) => Some(e),
            Error::Open { source, .. } => Some(source),
            Error::Codec(e) => Some(e),
            _ => None,
        }
    }
}

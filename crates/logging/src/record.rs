//! The owned log record: what the calling thread hands to the writer thread,
//! and what will travel to logd over IPC, hence serde-serialisable and free
//! of borrowed data.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::SyslogFacility;
use crate::error::Error;

/// A syslog severity (`LOG_EMERG` .. `LOG_DEBUG`), ordered most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// System is unusable (0).
    Emerg,
    /// Action must be taken immediately (1).
    Alert,
    /// Critical condition (2).
    Crit,
    /// Error (3).
    Err,
    /// Warning (4).
    Warning,
    /// Normal but significant (5).
    Notice,
    /// Informational (6).
    Info,
    /// Debug (7).
    Debug,
}

impl Priority {
    /// The syslog severity number (0 = emerg .. 7 = debug).
    pub fn severity(self) -> u8 {
        self as u8
    }

    /// The word cl_log (`prio2str`) writes for this priority: `EMERG`,
    /// `ALERT`, `CRIT`, `ERROR`, `WARN`, `notice`, `info`, `debug`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emerg => "EMERG",
            Priority::Alert => "ALERT",
            Priority::Crit => "CRIT",
            Priority::Err => "ERROR",
            Priority::Warning => "WARN",
            Priority::Notice => "notice",
            Priority::Info => "info",
            Priority::Debug => "debug",
        }
    }

    /// Maps a `log` level: error → err, warn → warning, info → info,
    /// debug and trace → debug (syslog has nothing below debug).
    pub fn from_level(level: log::Level) -> Priority {
        match level {
            log::Level::Error => Priority::Err,
            log::Level::Warn => Priority::Warning,
            log::Level::Info => Priority::Info,
            log::Level::Debug | log::Level::Trace => Priority::Debug,
        }
    }
}

impl From<log::Level> for Priority {
    fn from(level: log::Level) -> Priority {
        Priority::from_level(level)
    }
}

/// Wall-clock time of a record, as seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since 1970-01-01 00:00:00 UTC (negative before).
    pub secs: i64,
    /// Nanoseconds within the second (0 ..= 999_999_999).
    pub nanos: u32,
}

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime` (times before the epoch are supported).
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Timestamp {
                        secs: -secs,
                        nanos: 0,
                    }
                } else {
                    Timestamp {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - d.subsec_nanos(),
                    }
                }
            }
        }
    }
}

/// One log message with everything needed to write it anywhere later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Program name (`heartbeat`, `ccm`, ...).
    pub entity: String,
    /// Process id of the program that logged.
    pub pid: u32,
    /// Severity.
    pub priority: Priority,
    /// When the message was logged (not when it was written).
    pub timestamp: Timestamp,
    /// The text, without trailing newline.
    pub message: String,
    /// Syslog facility the program is configured for (`None`: no syslog).
    pub facility: Option<SyslogFacility>,
    /// Whether lines show the priority word before the text (`info: text`).
    /// cl_log's `use_pri_str`: true for daemons; false for `ha_logger`,
    /// whose callers (`ocf_log`, `ha_log.sh`) put their own level word into
    /// the text.
    pub show_priority: bool,
}

impl LogRecord {
    /// A record stamped now, for this process.
    pub fn new(
        entity: impl Into<String>,
        priority: Priority,
        message: impl Into<String>,
        facility: Option<SyslogFacility>,
    ) -> LogRecord {
        LogRecord {
            entity: entity.into(),
            pid: std::process::id(),
            priority,
            timestamp: Timestamp::now(),
            message: message.into(),
            facility,
            show_priority: true,
        }
    }

    /// The priority word to write before the text, if the record shows it.
    pub fn priority_word(&self) -> Option<&'static str> {
        self.show_priority.then(|| self.priority.as_str())
    }

    /// Encodes the record with postcard, for sending to logd.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        postcard::to_stdvec(self).map_err(Error::Codec)
    }

    /// Decodes a record produced by [`LogRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<LogRecord, Error> {
        postcard::from_bytes(bytes).map_err(Error::Codec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn priority_words_and_order() {
        let all = [
            (Priority::Emerg, "EMERG", 0),
            (Priority::Alert, "ALERT", 1),
            (Priority::Crit, "CRIT", 2),
            (Priority::Err, "ERROR", 3),
            (Priority::Warning, "WARN", 4),
            (Priority::Notice, "notice", 5),
            (Priority::Info, "info", 6),
            (Priority::Debug, "debug", 7),
        ];
        for (p, word, sev) in all {
            assert_eq!(p.as_str(), word);
            assert_eq!(p.severity(), sev);
        }
        assert!(Priority::Err < Priority::Debug);
    }

    #[test]
    fn level_mapping() {
        assert_eq!(Priority::from(log::Level::Error), Priority::Err);
        assert_eq!(Priority::from(log::Level::Warn), Priority::Warning);
        assert_eq!(Priority::from(log::Level::Info), Priority::Info);
        assert_eq!(Priority::from(log::Level::Debug), Priority::Debug);
        assert_eq!(Priority::from(log::Level::Trace), Priority::Debug);
    }

    #[test]
    fn timestamps_before_epoch() {
        let t = Timestamp::from_system_time(UNIX_EPOCH - Duration::from_millis(1500));
        assert_eq!(
            t,
            Timestamp {
                secs: -2,
                nanos: 500_000_000
            }
        );
        let t = Timestamp::from_system_time(UNIX_EPOCH + Duration::new(5, 7));
        assert_eq!(t, Timestamp { secs: 5, nanos: 7 });
    }

    #[test]
    fn postcard_round_trip() {
        let r = LogRecord {
            entity: "heartbeat".into(),
            pid: 1234,
            priority: Priority::Notice,
            timestamp: Timestamp {
                secs: 1_795_000_000,
                nanos: 42,
            },
            message: "node up".into(),
            facility: Some(SyslogFacility::Local0),
            show_priority: true,
        };
        let bytes = r.encode().expect("encode");
        assert_eq!(LogRecord::decode(&bytes).expect("decode"), r);
        assert!(LogRecord::decode(&bytes[..3]).is_err());
    }
}

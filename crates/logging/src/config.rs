//! The plain-data logging configuration (`logfacility`, `logfile`,
//! `debugfile`, `debug`, `use_logd` from `ha.cf`) and the syslog facility
//! names, kept apart from the machinery so daemons can build and compare
//! configurations without starting anything.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The entity cluster-glue uses when a program never set one (`DFLT_ENTITY`).
pub const DEFAULT_ENTITY: &str = "cluster";

/// Default bound of the in-process log queue, in records.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

pub use ::config::SyslogFacility;

/// Parses the value of a `logfacility` directive: `none` means no syslog
/// output (`Ok(None)`), a facility name means syslog to that facility,
/// anything else is an error.
pub fn parse_facility_setting(value: &str) -> Result<Option<SyslogFacility>, Error> {
    if value == "none" {
        return Ok(None);
    }
    SyslogFacility::from_name(value)
        .map(Some)
        .ok_or_else(|| Error::UnknownFacility(value.to_owned()))
}

/// How lines are laid out in `logfile`, `debugfile` and on stderr.
///
/// cluster-glue has both layouts (`cl_log.c`, `append_log`); the syslog-like
/// one has been its default since 2009 ("change the default log format to
/// syslog format"), the classic one is what Heartbeat 1/2 wrote and what
/// `HA_syslogmsgfmt=false` (or logd's `syslogmsgfmt off`) still selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FileFormat {
    /// `Nov 23 12:34:56 node1 heartbeat: [1234]: info: message`
    #[default]
    Syslog,
    /// `heartbeat[1234]: 2026/11/23_12:34:56 info: message`
    Classic,
}

/// The logging part of a daemon's configuration, as plain data.
///
/// Daemons fill it from `ha.cf` (`logfacility`, `logfile`, `debugfile`,
/// `debug`, `use_logd`) and hand it to [`crate::init`] or
/// [`crate::LoggerHandle::reconfigure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// Program name written in every line (`heartbeat`, `ccm`, ...).
    pub entity: String,
    /// Syslog facility; `None` (`logfacility none`) disables syslog output.
    pub facility: Option<SyslogFacility>,
    /// File receiving every message except debug ones (`logfile`).
    pub logfile: Option<PathBuf>,
    /// File receiving every message including debug ones (`debugfile`).
    pub debugfile: Option<PathBuf>,
    /// `debug` level: 0 drops debug messages, 1 passes `log::Level::Debug`,
    /// 2 and more also pass `log::Level::Trace`.
    pub debug: u32,
    /// Send records to logd (through the sink the daemon supplies) and only
    /// log directly while logd is unavailable.
    pub use_logd: bool,
    /// Also write every line to standard error (foreground mode).
    pub stderr: bool,
    /// Layout of file and stderr lines.
    pub file_format: FileFormat,
    /// Maximum number of records queued for the writer thread; more are
    /// dropped and counted.
    pub queue_capacity: usize,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            entity: DEFAULT_ENTITY.to_owned(),
            facility: None,
            logfile: None,
            debugfile: None,
            debug: 0,
            use_logd: false,
            stderr: false,
            file_format: FileFormat::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl LogConfig {
    /// The logging settings ha.cf gives the daemon called `entity`
    /// (`logfacility`, `logfile`, `debugfile`, `debug`, `use_logd`,
    /// `syslogmsgfmt`), so every daemon reads them the same way.
    pub fn from_ha_cf(cf: &::config::HaCf, entity: &str) -> LogConfig {
        LogConfig {
            facility: cf.logfacility,
            logfile: cf.logfile.clone(),
            debugfile: cf.debugfile.clone(),
            debug: u32::from(cf.debug),
            use_logd: cf.use_logd,
            file_format: if cf.syslogmsgfmt {
                FileFormat::Syslog
            } else {
                FileFormat::Classic
            },
            ..LogConfig::new(entity)
        }
    }

    /// A default configuration for the program `entity`.
    pub fn new(entity: impl Into<String>) -> LogConfig {
        LogConfig {
            entity: entity.into(),
            ..LogConfig::default()
        }
    }

    /// The most verbose `log` level that passes the `debug` setting.
    pub fn max_level(&self) -> log::LevelFilter {
        match self.debug {
            0 => log::LevelFilter::Info,
            1 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    }

    /// Checks the values that cannot work.
    pub fn validate(&self) -> Result<(), Error> {
        if self.entity.is_empty() {
            return Err(Error::InvalidConfig("entity is empty".into()));
        }
        if self.queue_capacity == 0 {
            return Err(Error::InvalidConfig("queue capacity is 0".into()));
        }
        Ok(())
    }

    /// `logfile`, unless it is `/dev/null` (which cl_log treats as unset).
    pub fn effective_logfile(&self) -> Option<&Path> {
        effective(self.logfile.as_deref())
    }

    /// `debugfile`, unless it is `/dev/null` (which cl_log treats as unset).
    pub fn effective_debugfile(&self) -> Option<&Path> {
        effective(self.debugfile.as_deref())
    }
}

fn effective(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| {
        !p.to_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("/dev/null"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_setting() {
        assert_eq!(parse_facility_setting("none").ok(), Some(None));
        assert_eq!(
            parse_facility_setting("local3").ok(),
            Some(Some(SyslogFacility::Local3))
        );
        assert!(matches!(
            parse_facility_setting("bogus"),
            Err(Error::UnknownFacility(n)) if n == "bogus"
        ));
    }

    #[test]
    fn settings_come_from_ha_cf() {
        let text = "keepalive 1\ndeadtime 10\nbcast eth0\nnode a\nauto_failback off\n\
                    logfacility local3\nlogfile /var/log/ha-log\ndebugfile /var/log/ha-debug\n\
                    debug 2\nuse_logd yes\nsyslogmsgfmt false\n";
        let (cf, _) = ::config::parse_ha_cf(text, "/etc/ha.d/ha.cf").unwrap();
        let c = LogConfig::from_ha_cf(&cf, "ccm");
        assert_eq!(c.entity, "ccm");
        assert_eq!(c.facility, Some(SyslogFacility::Local3));
        assert_eq!(c.logfile.as_deref(), Some(Path::new("/var/log/ha-log")));
        assert_eq!(c.debugfile.as_deref(), Some(Path::new("/var/log/ha-debug")));
        assert_eq!(c.debug, 2);
        assert!(c.use_logd);
        assert_eq!(c.file_format, FileFormat::Classic);
    }

    #[test]
    fn debug_levels() {
        let mut c = LogConfig::new("heartbeat");
        assert_eq!(c.max_level(), log::LevelFilter::Info);
        c.debug = 1;
        assert_eq!(c.max_level(), log::LevelFilter::Debug);
        c.debug = 3;
        assert_eq!(c.max_level(), log::LevelFilter::Trace);
    }

    #[test]
    fn dev_null_is_no_file() {
        let mut c = LogConfig::new("heartbeat");
        c.logfile = Some("/DEV/NULL".into());
        c.debugfile = Some("/var/log/ha-debug".into());
        assert_eq!(c.effective_logfile(), None);
        assert_eq!(
            c.effective_debugfile(),
            Some(Path::new("/var/log/ha-debug"))
        );
    }

    #[test]
    fn validation() {
        assert!(LogConfig::new("x").validate().is_ok());
        assert!(LogConfig::new("").validate().is_err());
        let c = LogConfig {
            queue_capacity: 0,
            ..LogConfig::new("x")
        };
        assert!(c.validate().is_err());
    }
}

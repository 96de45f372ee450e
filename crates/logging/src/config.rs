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

/// A syslog facility (RFC 3164 / `<syslog.h>` numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Facility {
    /// `kern` (0).
    Kern,
    /// `user` (1).
    User,
    /// `mail` (2).
    Mail,
    /// `daemon` (3).
    Daemon,
    /// `auth`, also spelled `security` (4).
    Auth,
    /// `syslog` (5).
    Syslog,
    /// `lpr` (6).
    Lpr,
    /// `news` (7).
    News,
    /// `uucp` (8).
    Uucp,
    /// `cron` (9).
    Cron,
    /// `authpriv` (10).
    Authpriv,
    /// `ftp` (11).
    Ftp,
    /// `local0` (16).
    Local0,
    /// `local1` (17).
    Local1,
    /// `local2` (18).
    Local2,
    /// `local3` (19).
    Local3,
    /// `local4` (20).
    Local4,
    /// `local5` (21).
    Local5,
    /// `local6` (22).
    Local6,
    /// `local7` (23).
    Local7,
}

const FACILITY_NAMES: &[(&str, Facility)] = &[
    ("kern", Facility::Kern),
    ("user", Facility::User),
    ("mail", Facility::Mail),
    ("daemon", Facility::Daemon),
    ("auth", Facility::Auth),
    ("security", Facility::Auth),
    ("syslog", Facility::Syslog),
    ("lpr", Facility::Lpr),
    ("news", Facility::News),
    ("uucp", Facility::Uucp),
    ("cron", Facility::Cron),
    ("authpriv", Facility::Authpriv),
    ("ftp", Facility::Ftp),
    ("local0", Facility::Local0),
    ("local1", Facility::Local1),
    ("local2", Facility::Local2),
    ("local3", Facility::Local3),
    ("local4", Facility::Local4),
    ("local5", Facility::Local5),
    ("local6", Facility::Local6),
    ("local7", Facility::Local7),
];

impl Facility {
    /// Parses a facility name as `ha.cf`'s `logfacility` accepts it.
    ///
    /// Names are matched exactly (lower case), as cluster-glue's
    /// `cl_syslogfac_str2int` does with `strcmp`; `security` is the old alias
    /// of `auth`. `none` is *not* a facility: it returns `None` here, see
    /// [`Facility::parse_setting`] for the directive value.
    pub fn from_name(name: &str) -> Option<Facility> {
        FACILITY_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// Parses the value of a `logfacility` directive: `none` means no syslog
    /// output (`Ok(None)`), a facility name means syslog to that facility,
    /// anything else is an error.
    pub fn parse_setting(value: &str) -> Result<Option<Facility>, Error> {
        if value == "none" {
            return Ok(None);
        }
        Facility::from_name(value)
            .map(Some)
            .ok_or_else(|| Error::UnknownFacility(value.to_owned()))
    }

    /// The canonical name (`security` is reported as `auth`).
    pub fn name(self) -> &'static str {
        FACILITY_NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("user", |(n, _)| n)
    }

    /// The facility number as RFC 3164 counts it (not shifted by 3).
    pub fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::Authpriv => 10,
            Facility::Ftp => 11,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }
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
    pub facility: Option<Facility>,
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
    fn facility_names() {
        assert_eq!(Facility::from_name("daemon"), Some(Facility::Daemon));
        assert_eq!(Facility::from_name("local0"), Some(Facility::Local0));
        assert_eq!(Facility::from_name("local7"), Some(Facility::Local7));
        assert_eq!(Facility::from_name("authpriv"), Some(Facility::Authpriv));
        assert_eq!(Facility::from_name("security"), Some(Facility::Auth));
        assert_eq!(Facility::from_name("none"), None);
        assert_eq!(Facility::from_name("local8"), None);
        assert_eq!(Facility::from_name("DAEMON"), None);
        assert_eq!(Facility::Local7.code(), 23);
        assert_eq!(Facility::Auth.name(), "auth");
        for (name, f) in FACILITY_NAMES {
            assert_eq!(Facility::from_name(f.name()), Some(*f), "{name}");
        }
    }

    #[test]
    fn facility_setting() {
        assert_eq!(Facility::parse_setting("none").ok(), Some(None));
        assert_eq!(
            Facility::parse_setting("local3").ok(),
            Some(Some(Facility::Local3))
        );
        assert!(matches!(
            Facility::parse_setting("bogus"),
            Err(Error::UnknownFacility(n)) if n == "bogus"
        ));
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

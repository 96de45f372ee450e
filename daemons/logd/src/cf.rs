//! logd.cf: the logging daemon's own small configuration file, parsed the
//! way Heartbeat's `ha_logd` parses it (one directive and one value per
//! line, `#` comments, directive names in any case), but strictly: every
//! unknown directive or bad value is reported with file:line and logd does
//! not start on a broken file. Pure: text in, settings or errors out.
//!
//! `sendqlen` and `recvqlen` were the lengths of the queues between
//! ha_logd's reading and writing processes. logd has one process and one
//! queue, so they are given the two bounds of that queue: `sendqlen` bounds
//! the records waiting from all clients together, `recvqlen` the records
//! waiting from any one client (so a flooding client loses its own excess,
//! not the others' messages).

use std::fmt;
use std::path::{Path, PathBuf};

use logging::{parse_facility_setting, FileFormat, SyslogFacility};

/// Entity of logd's own messages unless `entity` says otherwise.
pub const DEFAULT_ENTITY: &str = "logd";
/// Default bound of all records waiting to be written (`sendqlen`).
pub const DEFAULT_SENDQLEN: usize = 4096;
/// Default bound of one client's records waiting to be written (`recvqlen`).
pub const DEFAULT_RECVQLEN: usize = 1024;
/// Default permissions of log files logd creates (`logmode`).
pub const DEFAULT_LOGMODE: u32 = 0o644;
/// Longest entity or syslog prefix kept (cl_log's `MAXENTITY` less its NUL).
const MAX_ENTITY: usize = logging::logd_proto::MAX_ENTITY_LEN;

/// logd's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogdCf {
    /// Every record, debug included, goes here (`debugfile`).
    pub debugfile: Option<PathBuf>,
    /// Every record except debug ones goes here (`logfile`).
    pub logfile: Option<PathBuf>,
    /// Syslog facility; `None` is `logfacility none` (`logfacility`).
    pub facility: Option<SyslogFacility>,
    /// Entity of logd's own messages (`entity`).
    pub entity: String,
    /// Tag of every syslog line instead of the sender's entity (`syslogprefix`).
    pub syslog_prefix: Option<String>,
    /// Records waiting from all clients together (`sendqlen`).
    pub sendqlen: usize,
    /// Records waiting from one client (`recvqlen`).
    pub recvqlen: usize,
    /// Permissions of created log files (`logmode`).
    pub logmode: u32,
    /// Layout of file lines (`syslogmsgfmt`).
    pub file_format: FileFormat,
}

impl Default for LogdCf {
    fn default() -> Self {
        LogdCf {
            debugfile: None,
            logfile: None,
            facility: Some(SyslogFacility::Daemon),
            entity: DEFAULT_ENTITY.into(),
            syslog_prefix: None,
            sendqlen: DEFAULT_SENDQLEN,
            recvqlen: DEFAULT_RECVQLEN,
            logmode: DEFAULT_LOGMODE,
            file_format: FileFormat::Syslog,
        }
    }
}

/// A problem at one line of a file (line 0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfError {
    /// The file.
    pub path: PathBuf,
    /// The line, counted from 1; 0 when the file could not be read.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// A parsed file: the settings and remarks worth logging (ignored
/// directives, adjusted values), each already prefixed with file:line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The settings.
    pub cf: LogdCf,
    /// Remarks for the log.
    pub notes: Vec<String>,
}

impl LogdCf {
    /// Takes relative `logfile`/`debugfile` names in `$HA_LOGDIR`.
    pub fn in_logdir(mut self, paths: &plumbing::HaPaths) -> LogdCf {
        self.logfile = self.logfile.map(|f| paths.log_path(&f));
        self.debugfile = self.debugfile.map(|f| paths.log_path(&f));
        self
    }
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Parsed, Vec<CfError>> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&String::from_utf8_lossy(&bytes), path),
        Err(e) => Err(vec![CfError {
            path: path.to_owned(),
            line: 0,
            message: format!("cannot read: {e}"),
        }]),
    }
}

/// Parses the text of a logd.cf; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<Parsed, Vec<CfError>> {
    let mut cf = LogdCf::default();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut recvqlen_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let at = |message: String| CfError {
            path: path.to_owned(),
            line,
            message,
        };
        let content = raw.split('#').next().unwrap_or_default();
        // ha_logd separates the value by blanks or commas.
        let mut words = content
            .split([' ', '\t', ',', '\r', '\x0c'])
            .filter(|w| !w.is_empty());
        let Some(directive) = words.next() else {
            continue;
        };
        let name = directive.to_ascii_lowercase();
        let value = words.next();
        if let Some(extra) = words.next() {
            errors.push(at(format!(
                "{name} takes one value; unexpected {extra:?} after {:?}",
                value.unwrap_or_default()
            )));
            continue;
        }
        let Some(value) = value else {
            if KNOWN.contains(&name.as_str()) {
                errors.push(at(format!("{name} needs a value")));
            } else {
                errors.push(at(format!("unknown directive {directive:?}")));
            }
            continue;
        };
        let note = |text: String| format!("{}:{line}: {text}", path.display());
        match name.as_str() {
            "debugfile" => cf.debugfile = Some(PathBuf::from(value)),
            "logfile" => cf.logfile = Some(PathBuf::from(value)),
            "logfacility" => match parse_facility_setting(value) {
                Ok(f) => cf.facility = f,
                Err(_) => errors.push(at(format!(
                    "unknown syslog facility {value:?} (use none, daemon, local0..local7, ...)"
                ))),
            },
            "entity" => {
                cf.entity = bounded(value, "entity", &mut |t| notes.push(note(t)));
            }
            "syslogprefix" => {
                cf.syslog_prefix =
                    Some(bounded(value, "syslogprefix", &mut |t| notes.push(note(t))));
            }
            "sendqlen" | "recvqlen" => match value.parse::<usize>() {
                Ok(n) if n > 0 => {
                    if name == "sendqlen" {
                        cf.sendqlen = n;
                    } else {
                        cf.recvqlen = n;
                        recvqlen_line = line;
                    }
                }
                _ => errors.push(at(format!(
                    "{name} must be a positive number of messages, not {value:?}"
                ))),
            },
            "logmode" => match u32::from_str_radix(value, 8) {
                Ok(mode) if mode <= 0o777 => {
                    if !value.starts_with('0') {
                        notes.push(note(format!("logmode {value} assumed to be octal")));
                    }
                    cf.logmode = mode;
                }
                _ => errors.push(at(format!(
                    "logmode must be an octal file mode like 0640, not {value:?}"
                ))),
            },
            "syslogmsgfmt" => match parse_bool(value) {
                Some(true) => cf.file_format = FileFormat::Syslog,
                Some(false) => cf.file_format = FileFormat::Classic,
                None => errors.push(at(format!(
                    "syslogmsgfmt must be a boolean (on/off, yes/no, true/false), not {value:?}"
                ))),
            },
            "useapphbd" => match parse_bool(value) {
                Some(_) => notes.push(note(
                    "useapphbd is ignored: there is no apphbd to register with".into(),
                )),
                None => errors.push(at(format!(
                    "useapphbd must be a boolean (on/off, yes/no, true/false), not {value:?}"
                ))),
            },
            _ => errors.push(at(format!("unknown directive {directive:?}"))),
        }
    }
    if cf.recvqlen > cf.sendqlen {
        notes.push(format!(
            "{}:{recvqlen_line}: recvqlen {} exceeds sendqlen {}; one client may fill the whole queue",
            path.display(),
            cf.recvqlen,
            cf.sendqlen
        ));
        cf.recvqlen = cf.sendqlen;
    }
    if errors.is_empty() {
        Ok(Parsed { cf, notes })
    } else {
        Err(errors)
    }
}

const KNOWN: &[&str] = &[
    "debugfile",
    "logfile",
    "logfacility",
    "entity",
    "syslogprefix",
    "sendqlen",
    "recvqlen",
    "logmode",
    "syslogmsgfmt",
    "useapphbd",
];

/// `value` cut to `MAX_ENTITY` bytes, with a note when it was longer.
fn bounded(value: &str, what: &str, note: &mut dyn FnMut(String)) -> String {
    let mut s = value.to_owned();
    logging::logd_proto::truncate_at_char(&mut s, MAX_ENTITY);
    if s.len() < value.len() {
        note(format!(
            "{what} truncated to {s:?} ({MAX_ENTITY} bytes at most)"
        ));
    }
    s
}

/// cl_str_to_boolean's words.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Parsed {
        match parse(text, Path::new("logd.cf")) {
            Ok(p) => p,
            Err(e) => panic!("unexpected errors: {e:?}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text, Path::new("/etc/ha.d/logd.cf")) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn empty_file_gives_heartbeat_defaults() {
        let p = ok("# nothing\n\n   \n");
        assert_eq!(p.cf, LogdCf::default());
        assert_eq!(p.cf.facility, Some(SyslogFacility::Daemon));
        assert_eq!(p.cf.entity, "logd");
        assert_eq!(p.cf.logfile, None);
        assert!(p.notes.is_empty());
    }

    #[test]
    fn the_sample_logd_cf_directives() {
        let p = ok("debugfile /var/log/ha-debug\n\
             LogFile\t/var/log/ha-log   # trailing comment\n\
             logfacility local0\n\
             entity logd2\n\
             syslogprefix linux-ha\n\
             sendqlen 256\n\
             recvqlen 16\n\
             logmode 0640\n\
             syslogmsgfmt off\n");
        let cf = p.cf;
        assert_eq!(cf.debugfile, Some("/var/log/ha-debug".into()));
        assert_eq!(cf.logfile, Some("/var/log/ha-log".into()));
        assert_eq!(cf.facility, Some(SyslogFacility::Local0));
        assert_eq!(cf.entity, "logd2");
        assert_eq!(cf.syslog_prefix.as_deref(), Some("linux-ha"));
        assert_eq!((cf.sendqlen, cf.recvqlen), (256, 16));
        assert_eq!(cf.logmode, 0o640);
        assert_eq!(cf.file_format, FileFormat::Classic);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn facility_none_disables_syslog() {
        assert_eq!(ok("logfacility none").cf.facility, None);
    }

    #[test]
    fn useapphbd_is_accepted_with_a_note() {
        let p = ok("\nuseapphbd yes\n");
        assert_eq!(p.cf, LogdCf::default());
        assert_eq!(
            p.notes,
            ["logd.cf:2: useapphbd is ignored: there is no apphbd to register with"]
        );
    }

    #[test]
    fn unknown_directives_and_bad_values_are_reported_with_file_and_line() {
        let e = errors(
            "logfile /var/log/ha-log\n\
             bogus 1\n\
             logfacility daemons\n\
             sendqlen -3\n\
             recvqlen 0\n\
             logmode 0999\n\
             syslogmsgfmt maybe\n\
             logfile a b\n\
             debugfile\n\
             lonely\n",
        );
        assert_eq!(
            e,
            [
                "/etc/ha.d/logd.cf:2: unknown directive \"bogus\"",
                "/etc/ha.d/logd.cf:3: unknown syslog facility \"daemons\" (use none, daemon, local0..local7, ...)",
                "/etc/ha.d/logd.cf:4: sendqlen must be a positive number of messages, not \"-3\"",
                "/etc/ha.d/logd.cf:5: recvqlen must be a positive number of messages, not \"0\"",
                "/etc/ha.d/logd.cf:6: logmode must be an octal file mode like 0640, not \"0999\"",
                "/etc/ha.d/logd.cf:7: syslogmsgfmt must be a boolean (on/off, yes/no, true/false), not \"maybe\"",
                "/etc/ha.d/logd.cf:8: logfile takes one value; unexpected \"b\" after \"a\"",
                "/etc/ha.d/logd.cf:9: debugfile needs a value",
                "/etc/ha.d/logd.cf:10: unknown directive \"lonely\"",
            ]
        );
    }

    #[test]
    fn adjusted_values_leave_notes() {
        let long = "x".repeat(100);
        let p = ok(&format!(
            "entity {long}\nlogmode 640\nsendqlen 10\nrecvqlen 50\n"
        ));
        assert_eq!(p.cf.entity.len(), 63);
        assert_eq!(p.cf.logmode, 0o640);
        assert_eq!(p.cf.recvqlen, 10);
        assert_eq!(p.notes.len(), 3, "{:?}", p.notes);
        assert!(p.notes[0].starts_with("logd.cf:1: entity truncated"));
        assert_eq!(p.notes[1], "logd.cf:2: logmode 640 assumed to be octal");
        assert_eq!(
            p.notes[2],
            "logd.cf:4: recvqlen 50 exceeds sendqlen 10; one client may fill the whole queue"
        );
    }

    #[test]
    fn unreadable_file_is_one_error_naming_it() {
        let e = load(Path::new("/nonexistent/logd.cf")).expect_err("missing");
        assert_eq!(e.len(), 1);
        assert!(e[0]
            .to_string()
            .starts_with("/nonexistent/logd.cf: cannot read: "));
    }
}

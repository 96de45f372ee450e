//! Pure text layout of log lines, byte for byte as cluster-glue's `cl_log.c`
//! writes them, separated from I/O so it can be tested with fixed times and
//! reused by logd for its clients' records.
//!
//! The facts taken from `cl_log.c`:
//! * priority words come from `prio2str`: `EMERG ALERT CRIT ERROR WARN
//!   notice info debug` ([`crate::Priority::as_str`]);
//! * the classic file line is `"%s[%d]: %s "` (entity, pid, `ha_timestamp`)
//!   followed by `"%s: %s\n"` (priority word, text), with `ha_timestamp`
//!   `"%04d/%02d/%02d_%02d:%02d:%02d"` in local time;
//! * the syslog-style file line (the default since 2009) is
//!   `"%s %s %s: [%d]: %s: %s\n"`: `syslog_timestamp` (`"%3s %02d
//!   %02d:%02d:%02d"`, English month, zero-padded day), node name, entity,
//!   pid, priority word, text;
//! * to syslog, cl_log opens the log with the entity as ident (no
//!   `LOG_PID`) and sends `"[%d]: %s: %s"` (pid, priority word, text), so a
//!   syslog line reads `heartbeat: [1234]: info: text`; with logd's
//!   `syslogprefix` set, the prefix is the ident and the entity moves into
//!   the text: `linux-ha: heartbeat[1234]: info: text`;
//! * a record sent without the priority word (cl_log's `use_pri_str`
//!   false, as `ha_logger` sends) leaves out `info: ` everywhere.

use crate::config::SyslogFacility;
use crate::record::{LogRecord, Timestamp};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down local time, the part of `struct tm` the log lines use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Full year (e.g. 2026).
    pub year: i32,
    /// Month, 1 ..= 12.
    pub month: u8,
    /// Day of the month, 1 ..= 31.
    pub day: u8,
    /// Hour, 0 ..= 23.
    pub hour: u8,
    /// Minute, 0 ..= 59.
    pub minute: u8,
    /// Second, 0 ..= 60 (leap second).
    pub second: u8,
}

impl LocalTime {
    /// Converts with the C library's `localtime_r` (honours `TZ` and
    /// `/etc/localtime`). If the C library cannot represent the time, the
    /// epoch is returned rather than failing: a wrong date in a log line is
    /// better than a lost line.
    pub fn from_timestamp(ts: Timestamp) -> LocalTime {
        const EPOCH: LocalTime = LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        };
        let Some(t) = libc::time_t::try_from(ts.secs).ok() else {
            return EPOCH;
        };
        let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
        // SAFETY: `t` and `tm` are valid for the duration of the call;
        // localtime_r is the reentrant variant and writes only into `tm`.
        let ok = unsafe { !libc::localtime_r(&t, tm.as_mut_ptr()).is_null() };
        if !ok {
            return EPOCH;
        }
        // SAFETY: localtime_r succeeded, so it filled in `tm` (and the
        // zeroed initialisation makes every field defined in any case).
        let tm = unsafe { tm.assume_init() };
        let small = |v: libc::c_int| u8::try_from(v).unwrap_or(0);
        LocalTime {
            year: tm.tm_year.saturating_add(1900),
            month: small(tm.tm_mon.saturating_add(1)),
            day: small(tm.tm_mday),
            hour: small(tm.tm_hour),
            minute: small(tm.tm_min),
            second: small(tm.tm_sec),
        }
    }

    fn month_name(&self) -> &'static str {
        usize::from(self.month)
            .checked_sub(1)
            .and_then(|i| MONTHS.get(i))
            .copied()
            .unwrap_or("???")
    }

    /// `2026/11/23_12:34:56`, cl_log's `ha_timestamp`.
    pub fn ha_timestamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02}_{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `Nov 03 12:34:56`, cl_log's `syslog_timestamp` (zero-padded day),
    /// used in syslog-style file lines.
    pub fn syslog_file_timestamp(&self) -> String {
        format!(
            "{} {:02} {:02}:{:02}:{:02}",
            self.month_name(),
            self.day,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `Nov  3 12:34:56`, the RFC 3164 TIMESTAMP (space-padded day), used on
    /// the wire to the syslog daemon.
    pub fn rfc3164_timestamp(&self) -> String {
        format!(
            "{} {:>2} {:02}:{:02}:{:02}",
            self.month_name(),
            self.day,
            self.hour,
            self.minute,
            self.second
        )
    }
}

/// `info: text`, or `text` for a record without the priority word.
fn body(rec: &LogRecord) -> String {
    match rec.priority_word() {
        Some(word) => format!("{word}: {}", rec.message),
        None => rec.message.clone(),
    }
}

/// `heartbeat[1234]: 2026/11/23_12:34:56 info: text\n`
pub fn classic_line(rec: &LogRecord, time: &LocalTime) -> String {
    format!(
        "{}[{}]: {} {}\n",
        rec.entity,
        rec.pid,
        time.ha_timestamp(),
        body(rec)
    )
}

/// `Nov 23 12:34:56 node1 heartbeat: [1234]: info: text\n`
pub fn syslog_style_line(rec: &LogRecord, nodename: &str, time: &LocalTime) -> String {
    format!(
        "{} {} {}: [{}]: {}\n",
        time.syslog_file_timestamp(),
        nodename,
        rec.entity,
        rec.pid,
        body(rec)
    )
}

/// The RFC 3164 datagram for the local syslog socket:
/// `<PRI>Nov  3 12:34:56 heartbeat: [1234]: info: text` where PRI is
/// facility × 8 + severity. No hostname: like the C library's `syslog()`,
/// the local daemon adds it.
pub fn syslog_datagram(rec: &LogRecord, facility: SyslogFacility, time: &LocalTime) -> String {
    syslog_datagram_with_prefix(rec, facility, None, time)
}

/// Like [`syslog_datagram`]; with `prefix` (logd's `syslogprefix`) the
/// prefix is the tag and the entity moves into the text:
/// `<PRI>Nov  3 12:34:56 linux-ha: heartbeat[1234]: info: text`.
pub fn syslog_datagram_with_prefix(
    rec: &LogRecord,
    facility: SyslogFacility,
    prefix: Option<&str>,
    time: &LocalTime,
) -> String {
    // `code()` is already shifted, like LOG_LOCAL0.
    let pri = facility.code() + u32::from(rec.priority.severity());
    match prefix {
        Some(prefix) => format!(
            "<{}>{} {}: {}[{}]: {}",
            pri,
            time.rfc3164_timestamp(),
            prefix,
            rec.entity,
            rec.pid,
            body(rec)
        ),
        None => format!(
            "<{}>{} {}: [{}]: {}",
            pri,
            time.rfc3164_timestamp(),
            rec.entity,
            rec.pid,
            body(rec)
        ),
    }
}

/// The node name (`uname -n`), as cl_log puts it in syslog-style file lines.
pub fn nodename() -> String {
    let mut un = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: uname writes only into the buffer we own.
    let rc = unsafe { libc::uname(un.as_mut_ptr()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    // SAFETY: uname succeeded and the buffer was zero-initialised.
    let un = unsafe { un.assume_init() };
    let bytes: Vec<u8> = un
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    match String::from_utf8(bytes) {
        Ok(s) if !s.is_empty() => s,
        _ => "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Priority;

    fn rec(priority: Priority, message: &str) -> LogRecord {
        LogRecord {
            entity: "heartbeat".into(),
            pid: 1234,
            priority,
            timestamp: Timestamp { secs: 0, nanos: 0 },
            message: message.into(),
            facility: Some(SyslogFacility::Daemon),
            show_priority: true,
        }
    }

    const T: LocalTime = LocalTime {
        year: 2026,
        month: 11,
        day: 3,
        hour: 2,
        minute: 4,
        second: 6,
    };

    #[test]
    fn classic_file_line() {
        assert_eq!(
            classic_line(&rec(Priority::Info, "node up"), &T),
            "heartbeat[1234]: 2026/11/03_02:04:06 info: node up\n"
        );
        assert_eq!(
            classic_line(&rec(Priority::Err, "oops"), &T),
            "heartbeat[1234]: 2026/11/03_02:04:06 ERROR: oops\n"
        );
    }

    #[test]
    fn syslog_style_file_line() {
        assert_eq!(
            syslog_style_line(&rec(Priority::Warning, "late heartbeat"), "node1", &T),
            "Nov 03 02:04:06 node1 heartbeat: [1234]: WARN: late heartbeat\n"
        );
    }

    #[test]
    fn syslog_wire_format() {
        // daemon (3) * 8 + crit (2) = 26
        assert_eq!(
            syslog_datagram(
                &rec(Priority::Crit, "split brain"),
                SyslogFacility::Daemon,
                &T
            ),
            "<26>Nov  3 02:04:06 heartbeat: [1234]: CRIT: split brain"
        );
        // local7 (23) * 8 + debug (7) = 191
        let d = syslog_datagram(&rec(Priority::Debug, "x"), SyslogFacility::Local7, &T);
        assert!(d.starts_with("<191>Nov  3 "), "{d}");
    }

    #[test]
    fn records_without_priority_word() {
        let r = LogRecord {
            show_priority: false,
            ..rec(Priority::Info, "ERROR: IPaddr failed")
        };
        assert_eq!(
            classic_line(&r, &T),
            "heartbeat[1234]: 2026/11/03_02:04:06 ERROR: IPaddr failed\n"
        );
        assert_eq!(
            syslog_style_line(&r, "node1", &T),
            "Nov 03 02:04:06 node1 heartbeat: [1234]: ERROR: IPaddr failed\n"
        );
        assert_eq!(
            syslog_datagram(&r, SyslogFacility::Daemon, &T),
            "<30>Nov  3 02:04:06 heartbeat: [1234]: ERROR: IPaddr failed"
        );
    }

    #[test]
    fn syslog_prefix_moves_entity_into_the_text() {
        assert_eq!(
            syslog_datagram_with_prefix(
                &rec(Priority::Info, "total message dropped: 0"),
                SyslogFacility::Daemon,
                Some("linux-ha"),
                &T
            ),
            "<30>Nov  3 02:04:06 linux-ha: heartbeat[1234]: info: total message dropped: 0"
        );
    }

    #[test]
    fn local_time_conversion_is_sane() {
        // Whatever the time zone, a day-aligned time stays within a day.
        let t = LocalTime::from_timestamp(Timestamp {
            secs: 1_795_435_200, // 2026-11-23 12:00:00 UTC
            nanos: 0,
        });
        assert_eq!((t.year, t.month), (2026, 11));
        assert!((22..=24).contains(&t.day), "{t:?}");
        assert_eq!(t.second, 0);
    }

    #[test]
    fn nodename_is_not_empty() {
        assert!(!nodename().is_empty());
    }
}

//! ISO 8601 date/times and durations in the forms Pacemaker accepts, and the
//! calendar fields date_spec rules test. Times are kept as seconds since the
//! Unix epoch in UTC; an explicit offset in the text is applied when parsing
//! and a missing one means UTC (the scheduler never consults the local zone,
//! so results do not depend on the machine running it).

/// A point in time, seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub i64);

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Civil date of a day count from 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(m: u32, y: i64) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn year_days(y: i64) -> u32 {
    if is_leap(y) {
        366
    } else {
        365
    }
}

/// ISO weekday (1 = Monday .. 7 = Sunday) of a day count.
fn weekday_of_days(days: i64) -> u32 {
    // 1970-01-01 was a Thursday (4).
    ((days + 3).rem_euclid(7) + 1) as u32
}

/// Weeks (52 or 53) in an ISO week-numbering year.
fn weeks_in_year(y: i64) -> u32 {
    let jan1 = weekday_of_days(days_from_civil(y, 1, 1));
    if jan1 == 4 || (jan1 == 3 && is_leap(y)) {
        53
    } else {
        52
    }
}

/// Calendar fields of a time, as date_spec tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    pub year: i64,
    pub month: u32,
    pub monthday: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub yearday: u32,
    pub weekyear: i64,
    pub week: u32,
    pub weekday: u32,
}

impl DateTime {
    pub fn from_civil(y: i64, m: u32, d: u32, secs: i64) -> DateTime {
        DateTime(days_from_civil(y, m, d) * 86400 + secs)
    }

    pub fn days(self) -> i64 {
        self.0.div_euclid(86400)
    }

    pub fn fields(self) -> Fields {
        let days = self.days();
        let sod = self.0.rem_euclid(86400) as u32;
        let (year, month, monthday) = civil_from_days(days);
        let yearday = (days - days_from_civil(year, 1, 1) + 1) as u32;
        let weekday = weekday_of_days(days);
        // ISO week: the week containing the Thursday of this week.
        let thursday = days - weekday as i64 + 4;
        let (wy, _, _) = civil_from_days(thursday);
        let week = ((thursday - days_from_civil(wy, 1, 1)) / 7 + 1) as u32;
        Fields {
            year,
            month,
            monthday,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            yearday,
            weekyear: wy,
            week,
            weekday,
        }
    }

    /// Adds calendar months, clamping the day to the end of the month.
    pub fn add_months(self, n: i64) -> DateTime {
        let f = self.fields();
        let sod = self.0.rem_euclid(86400);
        let total = f.year * 12 + (f.month as i64 - 1) + n;
        let y = total.div_euclid(12);
        let m = (total.rem_euclid(12) + 1) as u32;
        let d = f.monthday.min(days_in_month(m, y));
        DateTime::from_civil(y, m, d, sod)
    }

    pub fn add_seconds(self, n: i64) -> DateTime {
        DateTime(self.0 + n)
    }

    /// Formats like Pacemaker's crm_time_as_string with date, time and a
    /// "Z" zone: `2012-07-13 13:51:14Z`.
    pub fn to_iso(self) -> String {
        let f = self.fields();
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            f.year, f.month, f.monthday, f.hour, f.minute, f.second
        )
    }

    /// Formats like C's ctime() in UTC, as Pacemaker's status shows times:
    /// `Tue Nov 14 22:13:20 2023`.
    pub fn to_ctime(self) -> String {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let f = self.fields();
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[(f.weekday as usize + 6) % 7],
            MONTHS[(f.month as usize + 11) % 12],
            f.monthday,
            f.hour,
            f.minute,
            f.second,
            f.year
        )
    }

    /// Parses an ISO 8601 date/time: `YYYY-MM-DD`, `YYYYMMDD`, `YYYY-DDD`,
    /// `YYYY-Www-D`, each optionally followed by ` ` or `T` and a time
    /// `hh:mm[:ss]` with an optional `Z` or `±hh[:mm]` offset; or `epoch`.
    pub fn parse(s: &str) -> Option<DateTime> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if s.len() >= 5 && s[..5].eq_ignore_ascii_case("epoch") {
            return Some(DateTime(0));
        }
        let date_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == 'W'))
            .unwrap_or(s.len());
        let (date, rest) = s.split_at(date_len);
        let days = parse_date_part(date)?;
        let rest = rest.strip_prefix([' ', 'T']).unwrap_or(rest);
        let secs = if rest.is_empty() {
            0
        } else {
            parse_time_part(rest)?
        };
        Some(DateTime(days * 86400 + secs))
    }
}

fn parse_date_part(date: &str) -> Option<i64> {
    let nums: Vec<&str> = date.split('-').collect();
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    match nums.as_slice() {
        [ymd] if ymd.len() == 8 => {
            let y = num(&ymd[..4])?;
            let m = num(&ymd[4..6])? as u32;
            let d = num(&ymd[6..])? as u32;
            civil(y, m, d)
        }
        [y, m, d] if !m.starts_with('W') => civil(num(y)?, num(m)? as u32, num(d)? as u32),
        [y, w, d] => {
            let y = num(y)?;
            let w = num(w.strip_prefix('W')?)? as u32;
            let d = num(d)? as u32;
            if w == 0 || w > weeks_in_year(y) || !(1..=7).contains(&d) {
                return None;
            }
            let jan1 = days_from_civil(y, 1, 1);
            let jan1_wd = weekday_of_days(jan1) as i64;
            let week1_monday = if jan1_wd <= 4 {
                jan1 - (jan1_wd - 1)
            } else {
                jan1 + (8 - jan1_wd)
            };
            Some(week1_monday + (w as i64 - 1) * 7 + (d as i64 - 1))
        }
        [y, ord] => {
            let y = num(y)?;
            let ord = num(ord)? as u32;
            if ord == 0 || ord > year_days(y) {
                return None;
            }
            Some(days_from_civil(y, 1, 1) + ord as i64 - 1)
        }
        _ => None,
    }
}

fn civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(m, y) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn parse_time_part(t: &str) -> Option<i64> {
    let (clock, zone) = match t.find(['Z', 'z', '+', '-', ' ']) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let field = |p: &str| -> Option<i64> {
        let p = p.split(['.', ',']).next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (h, m, s) = match parts.as_slice() {
        [hms] if hms.len() == 6 => (field(&hms[..2])?, field(&hms[2..4])?, field(&hms[4..])?),
        [hm] if hm.len() == 4 => (field(&hm[..2])?, field(&hm[2..])?, 0),
        [h] => (field(h)?, 0, 0),
        [h, m] => (field(h)?, field(m)?, 0),
        [h, m, s] => (field(h)?, field(m)?, field(s)?),
        _ => return None,
    };
    if h > 24 || m > 59 || s > 60 {
        return None;
    }
    let offset = parse_offset(zone)?;
    Some(h * 3600 + m * 60 + s - offset)
}

fn parse_offset(z: &str) -> Option<i64> {
    if z.is_empty() || z.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match z.as_bytes()[0] {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        3 | 4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

/// An ISO 8601 duration (`P1Y2M3W4DT5H6M7S`): calendar months are kept
/// apart from seconds because their length depends on where they start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Duration {
    pub months: i64,
    pub seconds: i64,
}

impl Duration {
    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.split_whitespace().next()?;
        let body = s.strip_prefix('P')?;
        if body.is_empty() {
            return None;
        }
        let mut d = Duration::default();
        let mut in_time = false;
        let mut num = String::new();
        let mut any = false;
        for c in body.chars() {
            match c {
                'T' => in_time = true,
                '0'..='9' => num.push(c),
                _ => {
                    let n: i64 = num.parse().ok()?;
                    num.clear();
                    any = true;
                    match (c, in_time) {
                        ('Y', false) => d.months += 12 * n,
                        ('M', false) => d.months += n,
                        ('W', false) => d.seconds += 7 * 86400 * n,
                        ('D', false) => d.seconds += 86400 * n,
                        ('H', true) => d.seconds += 3600 * n,
                        ('M', true) => d.seconds += 60 * n,
                        ('S', true) => d.seconds += n,
                        _ => return None,
                    }
                }
            }
        }
        if !num.is_empty() || !any {
            return None;
        }
        Some(d)
    }

    pub fn add_to(self, t: DateTime) -> DateTime {
        t.add_months(self.months).add_seconds(self.seconds)
    }
}

/// Phase of the moon (0 new .. 4 full .. 7), the nethack formula
/// date_spec's `moon` field uses.
pub fn moon_phase(t: DateTime) -> u32 {
    let f = t.fields();
    let goldn = (f.year.rem_euclid(19) + 1) as u32;
    let mut epact = (11 * goldn + 18) % 30;
    if (epact == 25 && goldn > 11) || epact == 24 {
        epact += 1;
    }
    ((((f.yearday + epact) * 6) + 11) % 177 / 22) & 7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_pacemaker_accepts() {
        let t = DateTime::parse("2012-07-13 13:51:14Z").unwrap();
        assert_eq!(t.0, 1342187474);
        assert_eq!(DateTime::parse("2012-07-13T13:51:14Z"), Some(t));
        assert_eq!(DateTime::parse("20120713 13:51:14"), Some(t));
        assert_eq!(DateTime::parse("2012-195 13:51:14"), Some(t));
        assert_eq!(DateTime::parse("2012-07-13 15:51:14+02:00"), Some(t));
        // 2009-W01-1 is Monday 29 December 2008.
        assert_eq!(DateTime::parse("2009-W01-1"), DateTime::parse("2008-12-29"));
        assert_eq!(DateTime::parse("2009-W53-7"), DateTime::parse("2010-01-03"));
        assert_eq!(DateTime::parse("epoch"), Some(DateTime(0)));
        assert_eq!(DateTime::parse("2012-13-01"), None);
        assert_eq!(DateTime::parse("2011-02-29"), None);
        assert_eq!(DateTime::parse("garbage"), None);
    }

    #[test]
    fn calendar_fields() {
        let f = DateTime::parse("2008-12-29 10:11:12").unwrap().fields();
        assert_eq!((f.year, f.month, f.monthday), (2008, 12, 29));
        assert_eq!((f.hour, f.minute, f.second), (10, 11, 12));
        assert_eq!((f.weekyear, f.week, f.weekday), (2009, 1, 1));
        assert_eq!(f.yearday, 364);
        assert_eq!(DateTime(1342187474).to_iso(), "2012-07-13 13:51:14Z");
    }

    #[test]
    fn durations_add_calendar_months() {
        let d = Duration::parse("P1M").unwrap();
        let t = DateTime::parse("2011-01-31").unwrap();
        assert_eq!(d.add_to(t), DateTime::parse("2011-02-28").unwrap());
        let d = Duration::parse("P1Y2M3DT4H5M6S").unwrap();
        assert_eq!(d.months, 14);
        assert_eq!(d.seconds, 3 * 86400 + 4 * 3600 + 5 * 60 + 6);
        assert_eq!(Duration::parse("PT5M").unwrap().seconds, 300);
        assert!(Duration::parse("5M").is_none());
        assert!(Duration::parse("P").is_none());
    }
}

//! Heartbeat's time syntax (cluster-glue's `cl_get_msec`): a decimal number of
//! seconds, or of milliseconds with `ms`/`msec`, or of microseconds with
//! `us`/`usec`, rounded half-up to whole milliseconds because Heartbeat keeps
//! every timer in milliseconds. Kept in one place so ha.cf parsing and the
//! `--check` rendering agree on what `0.5`, `500ms` and `30` mean.

use std::time::Duration;

/// The largest time accepted: Heartbeat stores times in a C `long` of
/// milliseconds; we keep to what a 32-bit `long` can hold (about 24.8 days).
pub const MAX_DURATION_MS: u64 = i32::MAX as u64;

/// The unit a time value was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// No suffix: seconds.
    Seconds,
    /// An explicit `s` suffix. Heartbeat 3 rejects it; we accept it and warn.
    SecondsSuffix,
    /// `ms` or `msec`.
    Millis,
    /// `us` or `usec`.
    Micros,
}

/// Parses a time the way Heartbeat does (`2`, `1.5`, `.5`, `1500ms`, `250000us`)
/// and additionally accepts an `s` suffix (`2s`), which Heartbeat 3 itself
/// would reject. The result is rounded half-up to whole milliseconds.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(config::parse_duration("0.5"), Ok(Duration::from_millis(500)));
/// assert_eq!(config::parse_duration("100ms"), Ok(Duration::from_millis(100)));
/// assert!(config::parse_duration("fast").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_time(text).map(|(d, _)| d)
}

/// Like [`parse_duration`], also telling which unit was used.
pub(crate) fn parse_time(text: &str) -> Result<(Duration, TimeUnit), String> {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    let unit = match suffix.to_ascii_lowercase().as_str() {
        "" => TimeUnit::Seconds,
        "s" => TimeUnit::SecondsSuffix,
        "ms" | "msec" => TimeUnit::Millis,
        "us" | "usec" => TimeUnit::Micros,
        _ => return Err(invalid(text)),
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(invalid(text));
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > 12 {
        return Err(format!("time '{text}' is too large"));
    }
    // Digits beyond the ninth decimal cannot change a half-up rounding to
    // milliseconds (half a millisecond needs at most seven), so drop them.
    let frac_digits = &frac_part[..frac_part.len().min(9)];
    let mut mantissa: u128 = 0;
    for b in int_digits.bytes().chain(frac_digits.bytes()) {
        mantissa = mantissa * 10 + u128::from(b - b'0');
    }
    let scale = 10u128.pow(frac_digits.len() as u32);
    let (mul, div): (u128, u128) = match unit {
        TimeUnit::Seconds | TimeUnit::SecondsSuffix => (1000, 1),
        TimeUnit::Millis => (1, 1),
        TimeUnit::Micros => (1, 1000),
    };
    // value_ms = mantissa * mul / (div * scale), rounded half-up.
    let denom = div * scale;
    let ms = (mantissa * mul * 2 + denom) / (denom * 2);
    if ms > u128::from(MAX_DURATION_MS) {
        return Err(format!("time '{text}' is too large"));
    }
    Ok((Duration::from_millis(ms as u64), unit))
}

fn invalid(text: &str) -> String {
    format!(
        "invalid time '{text}': expected a number of seconds, \
         or a number followed by ms or us"
    )
}

/// Renders a time so Heartbeat itself would read it back: whole seconds as a
/// plain number (`30`), anything else in milliseconds (`500ms`, `1500ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u64, &str>) {
        let got = parse_duration(input).map(|d| d.as_millis() as u64);
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "input {input:?}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "input {input:?}: error {g:?} lacks {e:?}"),
            (g, e) => panic!("input {input:?}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn units_and_decimals() {
        let table: &[(&str, Result<u64, &str>)] = &[
            ("2", Ok(2000)),
            ("0", Ok(0)),
            ("30", Ok(30_000)),
            ("0.5", Ok(500)),
            (".5", Ok(500)),
            ("5.", Ok(5000)),
            ("1.7", Ok(1700)),
            ("1.2345", Ok(1235)), // half-up, like cl_get_msec's +0.5
            ("1.2344", Ok(1234)),
            ("100ms", Ok(100)),
            ("100MS", Ok(100)),
            ("1500msec", Ok(1500)),
            ("1.5ms", Ok(2)),
            ("1.4ms", Ok(1)),
            ("250000us", Ok(250)),
            ("500us", Ok(1)),
            ("499us", Ok(0)),
            ("2usec", Ok(0)),
            ("2s", Ok(2000)),
            ("0.0005", Ok(1)),
            ("0.000499999999999", Ok(0)),
            ("000000000000000000007", Ok(7000)),
            ("2147483647ms", Ok(2_147_483_647)),
            ("2147483648ms", Err("too large")),
            ("9999999999999", Err("too large")),
            ("", Err("invalid time")),
            (".", Err("invalid time")),
            ("1.2.3", Err("invalid time")),
            ("-1", Err("invalid time")),
            ("fast", Err("invalid time")),
            ("10m", Err("invalid time")),
            ("10 ms", Err("invalid time")),
            ("1e3", Err("invalid time")),
            ("10mss", Err("invalid time")),
        ];
        for (input, expected) in table {
            check(input, *expected);
        }
    }

    #[test]
    fn unit_is_reported() {
        assert_eq!(parse_time("2").map(|x| x.1), Ok(TimeUnit::Seconds));
        assert_eq!(parse_time("2s").map(|x| x.1), Ok(TimeUnit::SecondsSuffix));
        assert_eq!(parse_time("2ms").map(|x| x.1), Ok(TimeUnit::Millis));
        assert_eq!(parse_time("2us").map(|x| x.1), Ok(TimeUnit::Micros));
    }

    #[test]
    fn format_round_trips() {
        for (ms, text) in [
            (0, "0"),
            (1000, "1"),
            (30_000, "30"),
            (500, "500ms"),
            (1500, "1500ms"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d));
        }
    }
}

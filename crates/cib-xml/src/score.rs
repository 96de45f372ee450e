//! Scores: integers saturating at ±INFINITY (1000000), Pacemaker's rules for
//! parsing, adding and printing them.

pub const INFINITY: i32 = 1_000_000;

/// The scores the node-health colours stand for (configurable by
/// `node-health-red/yellow/green`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthScores {
    pub red: i32,
    pub yellow: i32,
    pub green: i32,
}

impl Default for HealthScores {
    fn default() -> Self {
        HealthScores {
            red: -INFINITY,
            yellow: 0,
            green: 0,
        }
    }
}

/// Parses a leading decimal integer the way strtoll does (optional space
/// and sign, then digits; the rest is ignored). None when no digits.
pub fn scan_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for b in digits[..end].bytes() {
        v = v.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    Some(if neg { -v } else { v })
}

pub fn is_infinity(s: &str) -> bool {
    s == "INFINITY"
        || s == "+INFINITY"
        || s.eq_ignore_ascii_case("infinity")
        || s.eq_ignore_ascii_case("+infinity")
}

pub fn is_minus_infinity(s: &str) -> bool {
    s.eq_ignore_ascii_case("-infinity")
}

/// Parses a score: ±INFINITY, the health colours, else a leading integer
/// (0 when there is none), clamped to ±INFINITY.
pub fn parse_score(s: &str, health: &HealthScores) -> i32 {
    if is_minus_infinity(s) {
        -INFINITY
    } else if is_infinity(s) {
        INFINITY
    } else if s.eq_ignore_ascii_case("red") {
        health.red
    } else if s.eq_ignore_ascii_case("yellow") {
        health.yellow
    } else if s.eq_ignore_ascii_case("green") {
        health.green
    } else {
        scan_int(s)
            .unwrap_or(0)
            .clamp(-INFINITY as i64, INFINITY as i64) as i32
    }
}

/// Adds two scores: -INFINITY wins over everything, then +INFINITY; finite
/// sums saturate.
pub fn add(a: i32, b: i32) -> i32 {
    if a <= -INFINITY || b <= -INFINITY {
        -INFINITY
    } else if a >= INFINITY || b >= INFINITY {
        INFINITY
    } else {
        (a + b).clamp(-INFINITY, INFINITY)
    }
}

/// Prints a score as Pacemaker does.
pub fn readable(s: i32) -> String {
    if s >= INFINITY {
        "INFINITY".into()
    } else if s <= -INFINITY {
        "-INFINITY".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_add_print() {
        let h = HealthScores::default();
        assert_eq!(parse_score("INFINITY", &h), INFINITY);
        assert_eq!(parse_score("+INFINITY", &h), INFINITY);
        assert_eq!(parse_score("-INFINITY", &h), -INFINITY);
        assert_eq!(parse_score("2.0", &h), 2);
        assert_eq!(parse_score("abc", &h), 0);
        assert_eq!(parse_score("99999999", &h), INFINITY);
        assert_eq!(parse_score("red", &h), -INFINITY);
        assert_eq!(add(INFINITY, -INFINITY), -INFINITY);
        assert_eq!(add(-INFINITY, INFINITY), -INFINITY);
        assert_eq!(add(999_999, 5), INFINITY);
        assert_eq!(add(-5, 3), -2);
        assert_eq!(readable(add(INFINITY, 1)), "INFINITY");
        assert_eq!(readable(-INFINITY), "-INFINITY");
        assert_eq!(readable(-7), "-7");
    }
}

//! The saved scheduler inputs: Pacemaker's `pe-input-N.bz2` series under
//! `$HA_STATEDIR/pengine`, numbered from a counter kept in `pe-input.last`
//! and wrapping at the series' maximum, so the directory stays bounded.
//! Pure naming and counting here; the daemon writes the files.

/// Which series an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// A normal input (`pe-input`).
    Input,
    /// An input the scheduler could not use (`pe-error`).
    Error,
}

impl Series {
    /// The file prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Series::Input => "pe-input",
            Series::Error => "pe-error",
        }
    }

    /// The cluster option that bounds it.
    pub fn option(self) -> &'static str {
        match self {
            Series::Input => "pe-input-series-max",
            Series::Error => "pe-error-series-max",
        }
    }

    /// Pacemaker's default bound: 4000 inputs, unlimited errors (-1).
    /// (Inputs the scheduler warned about are saved as inputs: it does not
    /// classify its warnings, so there is no `pe-warn` series.)
    pub fn default_max(self) -> i64 {
        match self {
            Series::Input => 4000,
            Series::Error => -1,
        }
    }
}

/// The number to save under now, given the counter read from
/// `<prefix>.last` and the bound (0: do not save, negative: unlimited),
/// and the counter to store after saving. `None`: nothing is saved.
pub fn next(last: Option<u64>, max: i64) -> Option<(u64, u64)> {
    if max == 0 {
        return None;
    }
    let mut seq = last.unwrap_or(0);
    if max > 0 && seq >= max as u64 {
        seq = 0;
    }
    Some((seq, seq + 1))
}

/// The bound set in the CIB's crm_config (`value` as written there), else
/// the default. A value that is not a number is the default.
pub fn max_from(value: Option<&str>, series: Series) -> i64 {
    value
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(|| series.default_max())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_wraps_at_the_bound() {
        type Case = (Option<u64>, i64, Option<(u64, u64)>);
        let table: &[Case] = &[
            (None, 4000, Some((0, 1))),
            (Some(7), 4000, Some((7, 8))),
            (Some(3999), 4000, Some((3999, 4000))),
            (Some(4000), 4000, Some((0, 1))),
            (Some(9000), 10, Some((0, 1))),
            (Some(9000), -1, Some((9000, 9001))),
            (Some(5), 0, None),
        ];
        for (last, max, want) in table {
            assert_eq!(next(*last, *max), *want, "last {last:?} max {max}");
        }
    }

    #[test]
    fn bounds_come_from_the_option_or_the_default() {
        assert_eq!(max_from(Some("12"), Series::Input), 12);
        assert_eq!(max_from(Some("junk"), Series::Input), 4000);
        assert_eq!(max_from(None, Series::Error), -1);
        assert_eq!(max_from(Some("0"), Series::Input), 0);
    }
}

//! The saved scheduler inputs: Pacemaker's `pe-input-N.bz2` series under
//! `$HA_STATEDIR/pengine`, numbered from a counter kept in `pe-input.last`
//! and wrapping at the series' maximum, so the directory stays bounded.
//! Pure naming and counting here; the daemon writes the files.

/// Which series an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// A normal input (`pe-input`).
    Input,
    /// An input the scheduler warned about (`pe-warn`).
    Warn,
    /// An input the scheduler could not use, or raised errors on
    /// (`pe-error`).
    Error,
}

impl Series {
    /// The file prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Series::Input => "pe-input",
            Series::Warn => "pe-warn",
            Series::Error => "pe-error",
        }
    }

    /// The cluster option that bounds it.
    pub fn option(self) -> &'static str {
        match self {
            Series::Input => "pe-input-series-max",
            Series::Warn => "pe-warn-series-max",
            Series::Error => "pe-error-series-max",
        }
    }

    /// Pacemaker's default bound: 4000 inputs, 5000 warned ones,
    /// unlimited errors (-1).
    pub fn default_max(self) -> i64 {
        match self {
            Series::Input => 4000,
            Series::Warn => 5000,
            Series::Error => -1,
        }
    }

    /// The series a scheduled input belongs to, by its diagnostics: an
    /// error that marks the run makes it `pe-error`, a warning `pe-warn`
    /// (Pacemaker's was_processing_error / was_processing_warning).
    pub fn of(diagnostics: &[pengine::diagnostics::Diagnostic]) -> Series {
        use pengine::diagnostics::Severity;
        let marked = |s: Severity| diagnostics.iter().any(|d| d.processing && d.severity == s);
        if marked(Severity::Error) {
            Series::Error
        } else if marked(Severity::Warning) {
            Series::Warn
        } else {
            Series::Input
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
        assert_eq!(max_from(None, Series::Warn), 5000);
        assert_eq!(max_from(Some("0"), Series::Input), 0);
    }
}

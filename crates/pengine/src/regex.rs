//! The regular expressions of rsc-pattern (POSIX extended, via the regex
//! crate, anchored as POSIX regexec is not: a match anywhere counts).

pub(crate) struct Regex(regex::Regex);

impl Regex {
    pub(crate) fn new(pattern: &str) -> Option<Regex> {
        regex::Regex::new(pattern).ok().map(Regex)
    }

    /// Submatches %0..%9 of the first match, or None.
    pub(crate) fn captures(&self, text: &str) -> Option<Vec<Option<String>>> {
        let c = self.0.captures(text)?;
        Some(
            (0..c.len())
                .map(|i| c.get(i).map(|m| m.as_str().to_string()))
                .collect(),
        )
    }
}

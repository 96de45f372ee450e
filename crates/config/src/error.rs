//! The two kinds of diagnostics the parsers produce: errors, which make a file
//! unusable, and warnings, which Heartbeat would log but start with anyway.
//! Both name the file and, where one line is to blame, its 1-based number, so
//! they print like a compiler message: `/etc/ha.d/ha.cf:12: unknown directive 'foo'`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Something wrong enough in `ha.cf` or `authkeys` that Heartbeat would refuse
/// to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the error is about.
    pub path: PathBuf,
    /// The 1-based line to blame, or `None` when the error concerns the whole
    /// file (a missing directive, unreadable file, bad permissions).
    pub line: Option<u32>,
    /// What is wrong, in words an administrator can act on.
    pub message: String,
}

impl ConfigError {
    /// An error about line `line` of `path`.
    pub fn at(path: &Path, line: u32, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// An error about the file `path` as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Something Heartbeat accepts but an administrator should look at: an
/// obsolete directive, a risky timing, a directive that has no effect where
/// it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file the warning is about.
    pub path: PathBuf,
    /// The 1-based line to blame, or `None` for the file as a whole.
    pub line: Option<u32>,
    /// What deserves attention.
    pub message: String,
}

impl Warning {
    /// A warning about line `line` (or the whole file when `None`) of `path`.
    pub fn new(path: &Path, line: Option<u32>, message: impl Into<String>) -> Self {
        Warning {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: warning: {}",
                self.path.display(),
                line,
                self.message
            ),
            None => write!(f, "{}: warning: {}", self.path.display(), self.message),
        }
    }
}

/// A config file's bytes as text; invalid UTF-8 is an error naming the line.
pub(crate) fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, Vec<ConfigError>> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        vec![ConfigError::at(
            path,
            u32::try_from(line).unwrap_or(u32::MAX),
            "line is not valid UTF-8",
        )]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_line() {
        let p = Path::new("/etc/ha.d/ha.cf");
        assert_eq!(
            ConfigError::at(p, 12, "unknown directive 'foo'").to_string(),
            "/etc/ha.d/ha.cf:12: unknown directive 'foo'"
        );
        assert_eq!(
            ConfigError::file(p, "no heartbeat media defined").to_string(),
            "/etc/ha.d/ha.cf: no heartbeat media defined"
        );
        assert_eq!(
            Warning::new(p, Some(3), "x").to_string(),
            "/etc/ha.d/ha.cf:3: warning: x"
        );
        assert_eq!(
            Warning::new(p, None, "y").to_string(),
            "/etc/ha.d/ha.cf: warning: y"
        );
    }
}

//! `/etc/ha.d/authkeys`: which key signs outgoing packets and which keys are
//! accepted on incoming ones. Parsing is separate from the file-permission
//! check so both are testable; `load_authkeys` does both, like Heartbeat's
//! `parse_authfile`, and refuses a file others could read. Secrets never
//! appear in `Debug` output or in the `--check` rendering.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;

/// Number of key slots (`MAXAUTH`): indexes 0..=15.
pub const MAX_AUTH_KEYS: u8 = 16;

/// How packets are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// CRC-32: detects corruption only; takes no secret.
    Crc,
    /// HMAC-MD5 with the secret.
    Md5,
    /// HMAC-SHA1 with the secret.
    Sha1,
}

impl AuthMethod {
    /// Parses a method name (case-sensitive, as Heartbeat's plugin names).
    pub fn from_name(name: &str) -> Option<AuthMethod> {
        match name {
            "crc" => Some(AuthMethod::Crc),
            "md5" => Some(AuthMethod::Md5),
            "sha1" => Some(AuthMethod::Sha1),
            _ => None,
        }
    }

    /// The name used in authkeys and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5 => "md5",
            AuthMethod::Sha1 => "sha1",
        }
    }

    /// Whether the method needs a secret.
    pub fn needs_secret(self) -> bool {
        self != AuthMethod::Crc
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Secret key bytes; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The raw bytes, as HMAC keys.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// One `N METHOD [SECRET]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// Key index, 0..=15; carried in every packet's signature.
    pub index: u8,
    /// Signing method.
    pub method: AuthMethod,
    /// The secret (empty for `crc`).
    pub secret: Secret,
    /// Line it came from.
    pub line: u32,
}

impl AuthKey {
    /// The secret's bytes (empty for `crc`).
    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }
}

/// A parsed authkeys file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeys {
    /// The file it came from.
    pub path: PathBuf,
    active: AuthKey,
    keys: Vec<AuthKey>,
}

impl AuthKeys {
    /// Index named by the `auth` line: the key that signs outgoing packets.
    pub fn active_index(&self) -> u8 {
        self.active.index
    }

    /// The key that signs outgoing packets.
    pub fn active(&self) -> &AuthKey {
        &self.active
    }

    /// The key with this index, to check an incoming packet signed with it.
    pub fn get(&self, index: u8) -> Option<&AuthKey> {
        self.keys.iter().find(|k| k.index == index)
    }

    /// Every defined key, by index.
    pub fn keys(&self) -> &[AuthKey] {
        &self.keys
    }
}

/// Parses authkeys text. `path` is only used in messages.
///
/// Rules (Heartbeat 3's `parse_authfile`, with duplicates refused): blank
/// lines and lines starting with `#` are skipped; exactly one `auth N` line
/// names the signing key, which must be defined after it; key lines are
/// `N METHOD [SECRET]` with N in 0..=15, METHOD `sha1` or `md5` (secret
/// required, one word) or `crc` (no secret).
pub fn parse_authkeys(text: &str, path: impl AsRef<Path>) -> Result<AuthKeys, Vec<ConfigError>> {
    let path = path.as_ref();
    let mut errors = Vec::new();
    let mut auth: Option<(u8, u32)> = None;
    let mut keys: Vec<AuthKey> = Vec::new();
    let mut err = |line: u32, msg: String| errors.push(ConfigError::at(path, line, msg));

    for (i, raw) in text.split('\n').enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let body = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = body.split_ascii_whitespace().collect();
        let Some(&first) = words.first() else {
            continue;
        };
        if first == "auth" {
            let Some(n) = words.get(1) else {
                err(line, "auth: missing key index (syntax: auth N)".into());
                continue;
            };
            let Some(index) = key_index(n) else {
                err(
                    line,
                    format!(
                        "auth: invalid key index '{n}' (expected 0 to {})",
                        MAX_AUTH_KEYS - 1
                    ),
                );
                continue;
            };
            if let Some(extra) = trailing(words.get(2..).unwrap_or_default()) {
                err(line, format!("auth: unexpected text '{extra}'"));
            }
            if let Some((_, first_line)) = auth {
                err(
                    line,
                    format!("duplicate auth directive (first on line {first_line})"),
                );
                continue;
            }
            auth = Some((index, line));
            continue;
        }
        if !first.starts_with(|c: char| c.is_ascii_digit()) {
            err(
                line,
                format!("invalid line: expected 'auth N' or 'N METHOD [SECRET]', found '{first}'"),
            );
            continue;
        }
        let Some(index) = key_index(first) else {
            err(
                line,
                format!(
                    "invalid key index '{first}' (expected 0 to {})",
                    MAX_AUTH_KEYS - 1
                ),
            );
            continue;
        };
        let Some(method_name) = words.get(1) else {
            err(
                line,
                format!("key {index}: missing method (sha1, md5 or crc)"),
            );
            continue;
        };
        let Some(method) = AuthMethod::from_name(method_name) else {
            err(
                line,
                format!("key {index}: unknown method '{method_name}' (expected sha1, md5 or crc)"),
            );
            continue;
        };
        let secret = words.get(2).copied().filter(|s| !s.starts_with('#'));
        match (method.needs_secret(), secret) {
            (true, None) => {
                err(
                    line,
                    format!("key {index}: method {method} requires a secret"),
                );
                continue;
            }
            (false, Some(_)) => {
                err(
                    line,
                    format!("key {index}: method {method} does not use a secret"),
                );
                continue;
            }
            _ => {}
        }
        if secret.is_some() {
            if let Some(extra) = trailing(words.get(3..).unwrap_or_default()) {
                err(
                    line,
                    format!(
                        "key {index}: the secret must be one word; Heartbeat would ignore \
                         '{extra}' after it"
                    ),
                );
                continue;
            }
        }
        if let Some(prev) = keys.iter().find(|k| k.index == index) {
            err(
                line,
                format!("duplicate key index {index} (first on line {})", prev.line),
            );
            continue;
        }
        keys.push(AuthKey {
            index,
            method,
            secret: Secret(secret.unwrap_or("").as_bytes().to_vec()),
            line,
        });
    }

    let active = match auth {
        None => {
            errors.push(ConfigError::file(
                path,
                "missing 'auth N' directive naming the signing key",
            ));
            None
        }
        Some((index, line)) => match keys.iter().find(|k| k.index == index) {
            None => {
                errors.push(ConfigError::at(
                    path,
                    line,
                    format!("auth {index}: key index {index} is not defined"),
                ));
                None
            }
            Some(k) if k.line < line => {
                errors.push(ConfigError::at(
                    path,
                    line,
                    format!(
                        "auth {index}: key {index} is defined on line {} before this auth line; \
                         Heartbeat only activates a key defined after it",
                        k.line
                    ),
                ));
                None
            }
            Some(k) => Some(k.clone()),
        },
    };
    match active {
        Some(active) if errors.is_empty() => {
            keys.sort_by_key(|k| k.index);
            Ok(AuthKeys {
                path: path.to_path_buf(),
                active,
                keys,
            })
        }
        _ => Err(errors),
    }
}

/// Words after a complete statement, unless they are a comment.
fn trailing(words: &[&str]) -> Option<String> {
    match words.first() {
        None => None,
        Some(w) if w.starts_with('#') => None,
        Some(_) => Some(words.join(" ")),
    }
}

fn key_index(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u8>().ok().filter(|n| *n < MAX_AUTH_KEYS)
}

/// Checks that an authkeys file is private to its owner and owned by the
/// user reading it: `mode` (st_mode) must have no group or other bits, and
/// `owner` (st_uid) must equal `euid`.
pub fn check_authkeys_permissions(
    path: &Path,
    mode: u32,
    owner: u32,
    euid: u32,
) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let perms = mode & 0o7777;
    if perms & 0o077 != 0 {
        errors.push(ConfigError::file(
            path,
            format!(
                "mode {perms:04o} gives group or others access to the keys; \
                 run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    if owner != euid {
        errors.push(ConfigError::file(
            path,
            format!(
                "owned by uid {owner}, but heartbeat runs as uid {euid}; \
                 run `chown {euid} {}` (and keep mode 600)",
                path.display()
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Opens an authkeys file, refuses it if it is not a private regular file of
/// the effective user, then parses it.
pub fn load_authkeys(path: impl AsRef<Path>) -> Result<AuthKeys, Vec<ConfigError>> {
    load_authkeys_as(path.as_ref(), nix::unistd::geteuid().as_raw())
}

/// [`load_authkeys`] for a given effective uid.
pub fn load_authkeys_as(path: &Path, euid: u32) -> Result<AuthKeys, Vec<ConfigError>> {
    let fail = |msg: String| vec![ConfigError::file(path, msg)];
    let mut file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    // Check the opened file itself, so a swap after the check cannot matter.
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    check_authkeys_permissions(path, meta.mode(), meta.uid(), euid)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    let text = crate::error::utf8_text(path, bytes)?;
    parse_authkeys(&text, path)
}

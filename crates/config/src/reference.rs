//! The administrator's reference for ha.cf and authkeys (docs/ha.cf.md),
//! rendered from the tables the parser itself uses ([`DIRECTIVES`],
//! [`AuthMethod`], [`MAX_AUTH_KEYS`]), so the documentation cannot describe
//! a directive, default or method the parser does not have. A unit test
//! fails when docs/ha.cf.md differs from this rendering; regenerate it with
//! `UPDATE_EXPECT=1 cargo test -p config --lib reference`.

use std::fmt::Write as _;

use crate::authkeys::{AuthMethod, MAX_AUTH_KEYS};
use crate::table::{Category, DefaultValue, DirectiveSpec, Repeat, DIRECTIVES};

/// Every authkeys method, strongest first (the order the reference lists
/// them in).
const METHODS: [AuthMethod; 3] = [AuthMethod::Sha1, AuthMethod::Md5, AuthMethod::Crc];

/// The ha.cf and authkeys reference as Markdown.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# ha.cf and authkeys reference\n\n\
         <!-- Generated from crates/config (src/table.rs, src/authkeys.rs) by\n\
         `UPDATE_EXPECT=1 cargo test -p config --lib reference`; do not edit by hand. -->\n\n",
    );
    out.push_str(
        "## ha.cf\n\n\
         `/etc/ha.d/ha.cf` (`$HA_CONFDIR/ha.cf`) holds one directive per line: \
         its name, blanks, its value. Text from `#` to the end of a line is a \
         comment. Names are case-sensitive. Times are seconds unless they end \
         in `ms`, `us` or `s`, and may have decimals (`keepalive 500ms`, \
         `deadtime 2.5`). `heartbeat --check` reads the file as heartbeat \
         does, reports every error with its line and prints the settings in \
         force, defaults included.\n\n\
         Directives marked *repeatable* add an entry on each line; *once* may \
         appear only once; any other given twice keeps the last value (with a \
         warning).\n",
    );
    let mut category = None;
    for spec in DIRECTIVES {
        if category != Some(spec.category) {
            category = Some(spec.category);
            let _ = write!(
                out,
                "\n### {}\n\n| directive | default | meaning |\n|---|---|---|\n",
                title(spec.category)
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            cell(spec.syntax),
            default_text(spec),
            meaning_text(spec)
        );
    }
    let _ = write!(
        out,
        "\n## authkeys\n\n\
         `/etc/ha.d/authkeys` (`$HA_CONFDIR/authkeys`) holds the keys that sign \
         every cluster packet. It must be owned by root and have mode 0600: \
         heartbeat refuses to start otherwise. Every node needs the same file \
         (`ha_propagate` copies it).\n\n\
         - `auth N`: the key this node signs with (once).\n\
         - `N METHOD [SECRET]`: key number N (0 to {max}), its method and \
         secret. Packets signed with any listed key are accepted, so keys can \
         be changed one node at a time: add the new key everywhere, then \
         switch `auth`, then remove the old key.\n\n\
         | method | secret | signature |\n|---|---|---|\n",
        max = MAX_AUTH_KEYS - 1
    );
    for m in METHODS {
        let (secret, what) = match m {
            AuthMethod::Sha1 => ("required", "HMAC-SHA1 (recommended)"),
            AuthMethod::Md5 => ("required", "HMAC-MD5"),
            AuthMethod::Crc => ("none", "CRC-32: detects corruption only, no authentication"),
        };
        debug_assert_eq!(m.needs_secret(), secret == "required");
        let _ = writeln!(out, "| `{}` | {secret} | {what} |", m.name());
    }
    out.push_str("\nExample:\n\n```\nauth 1\n1 sha1 a-long-random-secret\n```\n");
    out
}

fn title(c: Category) -> &'static str {
    match c {
        Category::Logging => "Logging",
        Category::Timing => "Timing",
        Category::Media => "Communication media",
        Category::Membership => "Membership",
        Category::ResourceManagement => "Resource management",
        Category::Processes => "Processes and API access",
        Category::Tuning => "Tuning",
    }
}

/// Table cells cannot hold a bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn default_text(spec: &DirectiveSpec) -> String {
    if let Some(target) = spec.alias_of {
        return format!("as `{target}`");
    }
    match spec.default {
        DefaultValue::None => "none".into(),
        DefaultValue::Fixed(v) => format!("`{}`", cell(v)),
        DefaultValue::Derived(rule) => cell(rule),
    }
}

fn meaning_text(spec: &DirectiveSpec) -> String {
    let mut text = cell(spec.meaning);
    let mut notes = Vec::new();
    match spec.repeat {
        Repeat::Accumulate => notes.push("repeatable"),
        Repeat::Once => notes.push("once"),
        Repeat::LastWins => {}
    }
    if spec.deprecated {
        notes.push("deprecated");
    }
    if !notes.is_empty() {
        let _ = write!(text, " (*{}*)", notes.join(", "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// docs/ha.cf.md is exactly this rendering; `UPDATE_EXPECT=1` rewrites it.
    #[test]
    fn reference_matches_docs_ha_cf_md() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ha.cf.md");
        let rendered = reference_markdown();
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/ha.cf.md");
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "docs/ha.cf.md is not what crates/config renders: run \
             `UPDATE_EXPECT=1 cargo test -p config --lib reference` and commit the result"
        );
    }

    #[test]
    fn every_directive_and_method_is_in_the_reference() {
        let md = reference_markdown();
        for spec in DIRECTIVES {
            assert!(
                md.contains(&format!("| `{}` |", cell(spec.syntax))),
                "{} missing",
                spec.name
            );
        }
        for m in METHODS {
            assert_eq!(AuthMethod::from_name(m.name()), Some(m));
            assert!(md.contains(&format!("| `{}` |", m.name())));
        }
        // A pipe in a syntax never breaks a table row: every row has
        // exactly four unescaped separators.
        for row in md.lines().filter(|l| l.starts_with("| `")) {
            let bars = row.replace("\\|", "").matches('|').count();
            assert_eq!(bars, 4, "{row}");
        }
    }
}

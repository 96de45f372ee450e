//! crm_diff: compares two CIBs (`-o`/`-O` with `-n`/`-N`) and prints the
//! v2 patchset between them (exit 1 when they differ, 0 when not), or
//! applies a patchset (`-p`) to the original and prints the result; over
//! `cib_xml::patch`, so Pacemaker's crm_diff and cibadmin accept our
//! patches and we accept theirs. `-c` treats the inputs as CIBs (the
//! patch carries the result's digest; applying checks versions), `-u`
//! leaves the version out. CIBs with a `crm_feature_set` of 3.0.8 or
//! older get Pacemaker's legacy format-1 patch (`legacy`), as Pacemaker
//! writes for them, and format-1 patches apply too.

use cib_xml::patch_v1 as legacy;

use std::io::Write;
use std::process::ExitCode;

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::patch::{self, Patch, PatchError};
use cib_xml::{Element, Limits};
use clap::{ArgAction, Parser};
use clitools::exit;

#[derive(Parser, Debug)]
#[command(
    name = "crm_diff",
    about = "Compares two cluster configurations as a patch, or applies such a patch.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// The original XML, from FILE
    #[arg(short = 'o', long = "original", value_name = "FILE")]
    original: Option<String>,
    /// The original XML, given as text
    #[arg(short = 'O', long = "original-string", value_name = "STRING")]
    original_string: Option<String>,
    /// Compare the original with the XML in FILE
    #[arg(short = 'n', long = "new", value_name = "FILE")]
    new: Option<String>,
    /// Compare the original with the XML given as text
    #[arg(short = 'N', long = "new-string", value_name = "STRING")]
    new_string: Option<String>,
    /// Apply the patch in FILE to the original
    #[arg(short = 'p', long = "patch", value_name = "FILE")]
    patch: Option<String>,
    /// Treat the inputs as CIBs (digest in the patch, versions checked when applying)
    #[arg(short = 'c', long = "cib")]
    cib: bool,
    /// Leave the version details out of the patch
    #[arg(short = 'u', long = "no-version")]
    no_version: bool,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

const VERSION_FIELDS: [&str; 3] = ["admin_epoch", "epoch", "num_updates"];

fn read_xml(file: Option<&str>, text: Option<&str>) -> Option<Element> {
    let owned;
    let text = match (text, file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            owned = cib_xml::compressed::read_text(std::path::Path::new(f)).ok()?;
            &owned
        }
        (None, None) => return None,
    };
    parse_cib(text, &Limits::default()).ok()
}

fn print(el: &Element) {
    // EPIPE is not an error.
    let _ = std::io::stdout()
        .lock()
        .write_all(to_pcmk_pretty(el).as_bytes());
}

/// What crm_diff prints on stderr for a patch that does not apply, and
/// its exit code (Pacemaker's `pcmk_rc2exitc` of the failure).
fn apply_failure(e: &PatchError) -> (String, u8) {
    match e {
        PatchError::Old { .. } => ("Update was older than existing configuration".into(), 103),
        PatchError::Resync { .. } => (
            "Application of update diff failed, requesting full refresh".into(),
            exit::ERROR,
        ),
        PatchError::Digest { .. } | PatchError::NotFound(_) => {
            ("Application of update diff failed".into(), exit::ERROR)
        }
        PatchError::Malformed(m) => (format!("Invalid patch: {m}"), exit::DATAERR),
    }
}

/// The patch turning `old` into `new` as printed, or None when equal:
/// Pacemaker's legacy format 1 for old CIBs, else format 2.
fn generate(old: &Element, mut new: Element, as_cib: bool, no_version: bool) -> Option<Element> {
    if no_version {
        // The same version on both sides is no change.
        for f in VERSION_FIELDS {
            match old.attr(f) {
                Some(v) => new.set_attr(f, v),
                None => {
                    new.attrs.retain(|(k, _)| k != f);
                }
            }
        }
    }
    if legacy::wanted_for(old) {
        let mut p = legacy::create(old, &new)?;
        if no_version && !as_cib {
            legacy::strip_versions(&mut p);
        }
        return Some(p);
    }
    let mut p: Patch = patch::diff(old, &new)?;
    if !as_cib {
        p.digest = None;
    }
    if no_version {
        p.source = None;
        p.target = None;
    }
    Some(p.to_xml())
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.patch.is_some() && args.no_version {
        eprintln!("warning: -u/--no-version ignored with -p/--patch");
    } else if args.cib && args.no_version {
        eprintln!("error: -u/--no-version incompatible with -c/--cib");
        return ExitCode::from(exit::USAGE);
    }
    let Some(original) = read_xml(args.original.as_deref(), args.original_string.as_deref()) else {
        eprintln!("Could not parse the first XML fragment");
        return ExitCode::from(exit::DATAERR);
    };
    let second = match (&args.new_string, &args.new, &args.patch) {
        (Some(t), _, _) => read_xml(None, Some(t)),
        (None, Some(f), _) | (None, None, Some(f)) => read_xml(Some(f), None),
        (None, None, None) => None,
    };
    let Some(second) = second else {
        eprintln!("Could not parse the second XML fragment");
        return ExitCode::from(exit::DATAERR);
    };
    if args.patch.is_some() && args.new.is_none() && args.new_string.is_none() {
        if second.name == "diff" && second.attr("format").is_none_or(|f| f == "1") {
            let mut out = original;
            if let Err(e) = legacy::apply(&mut out, &second, args.cib) {
                let (msg, code) = match e {
                    legacy::ApplyError::Old => {
                        ("Update was older than existing configuration", 103)
                    }
                    legacy::ApplyError::Resync => (
                        "Application of update diff failed, requesting full refresh",
                        exit::ERROR,
                    ),
                    legacy::ApplyError::Failed => {
                        ("Application of update diff failed", exit::ERROR)
                    }
                };
                eprintln!("Could not apply patch: {msg}");
                return ExitCode::from(code);
            }
            print(&out);
            return ExitCode::from(exit::OK);
        }
        let p = match Patch::from_xml(&second) {
            Ok(p) => p,
            Err(e) => {
                let (msg, code) = apply_failure(&e);
                eprintln!("Could not apply patch: {msg}");
                return ExitCode::from(code);
            }
        };
        let mut out = original;
        if let Err(e) = patch::apply(&mut out, &p, args.cib) {
            let (msg, code) = apply_failure(&e);
            eprintln!("Could not apply patch: {msg}");
            return ExitCode::from(code);
        }
        print(&out);
        return ExitCode::from(exit::OK);
    }
    match generate(&original, second, args.cib, args.no_version) {
        Some(p) => {
            print(&p);
            ExitCode::from(exit::ERROR)
        }
        None => ExitCode::from(exit::OK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(s: &str) -> Element {
        parse_cib(s, &Limits::default()).expect("parse")
    }

    const OLD: &str = r#"<cib admin_epoch="0" epoch="5" num_updates="2" crm_feature_set="3.16.2"><configuration><crm_config/><nodes/><resources><primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/></resources><constraints/></configuration><status/></cib>"#;
    const NEW: &str = r#"<cib admin_epoch="0" epoch="6" num_updates="0" crm_feature_set="3.16.2"><configuration><crm_config/><nodes/><resources><primitive id="A" class="ocf" provider="heartbeat" type="Dummy" description="d"/></resources><constraints/></configuration><status/></cib>"#;

    #[test]
    fn equal_inputs_give_no_patch() {
        assert!(generate(&xml(OLD), xml(OLD), false, false).is_none());
        // Only the version differs: no patch without the version.
        let bumped = OLD.replace("epoch=\"5\"", "epoch=\"9\"");
        assert!(generate(&xml(OLD), xml(&bumped), false, true).is_none());
    }

    #[test]
    fn no_version_strips_the_version_and_cib_adds_the_digest() {
        let p = generate(&xml(OLD), xml(NEW), false, true).expect("differs");
        assert!(p.child("version").is_none());
        assert!(p.attr("digest").is_none());
        let p = generate(&xml(OLD), xml(NEW), true, false).expect("differs");
        assert!(p.child("version").is_some());
        assert!(p.attr("digest").is_some());
    }

    #[test]
    fn a_generated_patch_applies_back_with_version_checks() {
        let p = generate(&xml(OLD), xml(NEW), true, false).expect("differs");
        let p = Patch::from_xml(&p).expect("reads back");
        let mut cib = xml(OLD);
        patch::apply(&mut cib, &p, true).expect("applies");
        assert!(patch::same(&cib, &xml(NEW)));
        // Applied again, the CIB is newer than the patch's source.
        let e = patch::apply(&mut cib, &p, true).expect_err("old");
        assert_eq!(apply_failure(&e).1, 103);
    }
}

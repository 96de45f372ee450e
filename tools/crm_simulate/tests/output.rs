//! crm_simulate's text output, run as a process: the fancy layout with the
//! node attribute and fail count sections (-A -c), and the plain layout
//! Pacemaker switches to with --show-scores. The expected files are what
//! Pacemaker 2.1.5's crm_simulate printed for the same input; when that
//! binary is installed, the test also compares with it directly.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("-x")
        .arg(data("attrs-failcounts.xml"))
        .args(args)
        .output()
        .expect("run crm_simulate");
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(args: &[&str], expected_file: &str) {
    let ours = run(env!("CARGO_BIN_EXE_crm_simulate"), args);
    let expected = std::fs::read_to_string(data(expected_file)).expect("expected output");
    assert_eq!(ours, expected, "crm_simulate {args:?}");
    let reference = "/usr/sbin/crm_simulate";
    if Path::new(reference).exists() {
        assert_eq!(ours, run(reference, args), "against {reference} {args:?}");
    }
}

#[test]
fn node_attributes_and_migration_summary_sections() {
    check(&["-A", "-c"], "attrs-failcounts.A-c.out");
}

#[test]
fn show_scores_switches_to_plain_text() {
    check(&["-s"], "attrs-failcounts.s.out");
}

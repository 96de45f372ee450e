//! crmsh (Debian's `crm` shell, installed by test.sh) with our tools first
//! on PATH, against the same commands with Pacemaker's tools, each side on
//! its own copy of a CIB file (`CIB_file`): the same output and exit code
//! for every command, and the same CIB at the end. Our tools are reached
//! through logging shims, so the test also shows crmsh really ran them.
//!
//! Intentional differences, not compared:
//! - `crm node online`, `crm resource failcount`: crmsh asks `crm_node -l`
//!   for the members; ours
//!   asks the ccm, Pacemaker's the controller, and the two "cannot
//!   connect" messages differ (both fail, both carry on the same way).
//! - crm_verify's warnings (shown by `crm configure property`) lack
//!   Pacemaker's `(function) \t` prefix.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::bin;

/// The tools crmsh runs that we provide.
const TOOLS: [&str; 15] = [
    "cibadmin",
    "crm_resource",
    "crm_attribute",
    "crm_mon",
    "crm_verify",
    "crm_node",
    "crm_simulate",
    "crm_standby",
    "crm_failcount",
    "crm_ticket",
    "crm_shadow",
    "crm_diff",
    "crmadmin",
    "stonith_admin",
    "attrd_updater",
];

const SYSTEM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("crmsh-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A directory of shims that log each call to `log` and run our tool.
fn shims(dir: &Path, log: &Path) -> PathBuf {
    let shim_dir = dir.join("shims");
    std::fs::create_dir_all(&shim_dir).expect("shim dir");
    for t in TOOLS {
        let script = format!(
            "#!/bin/sh\necho \"{t} $*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            bin(t).display()
        );
        let p = shim_dir.join(t);
        std::fs::write(&p, script).expect("shim");
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&p)
            .status()
            .expect("chmod");
    }
    shim_dir
}

/// crmsh's colours, trailing blanks and crm_mon's "Last updated" line,
/// away.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    // crm_mon's clock line changes between the two runs.
    out.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim_start().starts_with("* Last updated:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn crm(path: &str, cib: &Path, home: &Path, args: &str) -> (Option<i32>, String) {
    let out = Command::new("crm")
        .args(args.split(' '))
        .env("PATH", path)
        .env("CIB_file", cib)
        .env("HOME", home)
        .env_remove("CIB_shadow")
        .env("TZ", "UTC")
        .output()
        .expect("run crm (install crmsh: test.sh does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), plain(&text))
}

/// A CIB without its `<cib ...>` line (versions, timestamps).
fn body(cib: &Path) -> String {
    std::fs::read_to_string(cib)
        .expect("read CIB")
        .lines()
        .filter(|l| !l.trim_start().starts_with("<cib "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// Output and exit code.
    All,
    /// The exit code only (see the list of differences above).
    Code,
}

#[test]
fn crmsh_commands_give_the_same_results_as_with_pacemakers_tools() {
    let dir = tmpdir();
    let log = dir.join("calls.log");
    let ours_path = format!("{}:{SYSTEM_PATH}", shims(&dir, &log).display());
    // A corpus CIB whose node1 is this host, which crmsh can ping.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/scheduler/xml/a-demote-then-b-migrate.xml");
    let base = std::fs::read_to_string(&corpus)
        .expect("corpus CIB")
        .replace("node1", "localhost");
    let (ours, theirs) = (dir.join("ours.xml"), dir.join("theirs.xml"));
    std::fs::write(&ours, &base).expect("write");
    std::fs::write(&theirs, &base).expect("write");
    let (home_o, home_t) = (dir.join("home-ours"), dir.join("home-theirs"));
    std::fs::create_dir_all(&home_o).expect("home");
    std::fs::create_dir_all(&home_t).expect("home");

    let steps: &[(&str, Compare)] = &[
        ("configure show", Compare::All),
        ("resource status rsc2", Compare::All),
        ("resource move rsc2 node2", Compare::All),
        ("configure show", Compare::All),
        ("resource clear rsc2", Compare::All),
        ("resource ban rsc2 node2", Compare::All),
        ("resource clear rsc2", Compare::All),
        ("node standby localhost", Compare::All),
        ("node online localhost", Compare::Code),
        ("resource meta rsc2 set priority 5", Compare::All),
        ("resource param rsc2 set fake 1", Compare::All),
        ("resource param rsc2 show fake", Compare::All),
        ("resource stop rsc2", Compare::All),
        ("resource start rsc2", Compare::All),
        ("status", Compare::All),
        ("resource failcount rsc2 show localhost", Compare::Code),
        ("configure property maintenance-mode=true", Compare::Code),
        ("configure show", Compare::All),
    ];
    let mut failures = Vec::new();
    for (args, how) in steps {
        let a = crm(&ours_path, &ours, &home_o, args);
        let b = crm(SYSTEM_PATH, &theirs, &home_t, args);
        let same = match how {
            Compare::All => a == b,
            Compare::Code => a.0 == b.0,
        };
        if !same {
            failures.push(format!(
                "crm {args}:\n  ours   {:?} {}\n  theirs {:?} {}",
                a.0, a.1, b.0, b.1
            ));
        }
    }
    let (cib_o, cib_t) = (body(&ours), body(&theirs));
    if cib_o != cib_t {
        failures.push(format!(
            "the CIBs differ:\n--- ours\n{cib_o}\n--- theirs\n{cib_t}"
        ));
    }
    // crmsh ran our tools, not Pacemaker's.
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    for needed in [
        "crm_resource --quiet --move --resource rsc2 --node node2",
        "crm_resource --locate --resource rsc2",
        "crm_diff ",
        "cibadmin -p -P --force",
        "cibadmin -Ql",
    ] {
        if !calls.contains(needed) {
            failures.push(format!("crmsh did not run `{needed}` through our tools"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\ncalls:\n{calls}",
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

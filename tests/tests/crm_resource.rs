//! crm_resource's --list-raw and --delete/--resource-type against Debian's
//! Pacemaker 2.1.5 crm_resource (pacemaker-cli-utils, installed by
//! test.sh) in `CIB_file` mode: the same invocation on two copies of one
//! corpus CIB (../shared/conformance/scheduler/xml) must give the same
//! exit code, and on success the same output and the same configuration
//! section (compared as parsed XML, so formatting does not count).
//!
//! Intentional differences, not compared:
//! - a refused --delete (78, the result would not validate): Pacemaker
//!   in `CIB_file` mode prints the whole refused CIB to stdout and
//!   rewrites the file in its own formatting; ours prints which
//!   constraint still refers to the resource and leaves the file alone
//!   (checked here: byte for byte unchanged).
//! - `--delete --resource-type 'x y'` (not an element name): Pacemaker
//!   sends the nonsense element and reports success; ours refuses it with
//!   2 (invalid parameter).
//! - `--list-standards` adds `heartbeat` (our lrmd runs Heartbeat v1
//!   resource scripts); `--list-agents stonith` lists only the
//!   cluster-glue native plugins our fencer runs (null, ssh, meatware,
//!   suicide, not apcmaster, ipmilan, ...) and not `fence_legacy`, in
//!   Pacemaker's order (plugins, then fence agents).
//! - `--show-metadata` of lsb, service and heartbeat agents fails (105):
//!   Pacemaker builds a document from the LSB header; ours does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use cib_xml::doc::parse_cib;
use cib_xml::Limits;
use integration_tests::bin;

fn corpus(cib: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/scheduler/xml")
        .join(format!("{cib}.xml"))
}

fn pacemaker() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/crm_resource");
    assert!(
        p.is_file(),
        "{} is missing: install pacemaker-cli-utils (test.sh does)",
        p.display()
    );
    p
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crm-resource-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(tool: &Path, cib: &Path, args: &[&str]) -> Run {
    let out = Command::new(tool)
        .args(args)
        .env("CIB_file", cib)
        .env_remove("CIB_shadow")
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The configuration section of a CIB file, compact (formatting and the
/// root's version attributes do not count).
fn configuration(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let cib =
        parse_cib(&text, &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cib.children
        .iter()
        .find(|c| c.name == "configuration")
        .map(|c| c.to_compact())
        .unwrap_or_default()
}

/// Runs `args` with ours and Pacemaker's on fresh copies of `cib`; the
/// differences, if any.
fn compare(dir: &Path, cib: &str, args: &[&str]) -> Option<String> {
    let src = corpus(cib);
    let ours_file = dir.join("ours.xml");
    let theirs_file = dir.join("theirs.xml");
    std::fs::copy(&src, &ours_file).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    std::fs::copy(&src, &theirs_file).expect("copy");
    let ours = run(&bin("crm_resource"), &ours_file, args);
    let theirs = run(&pacemaker(), &theirs_file, args);
    let what = format!("crm_resource {} on {cib}", args.join(" "));
    if ours.code != theirs.code {
        return Some(format!(
            "{what}: exit code {:?} vs Pacemaker's {:?} (our stderr: {})",
            ours.code, theirs.code, ours.stderr
        ));
    }
    if ours.code != Some(0) {
        let before = std::fs::read(&src).expect("corpus");
        if std::fs::read(&ours_file).ok() != Some(before) {
            return Some(format!(
                "{what}: refused with {:?} but changed the CIB",
                ours.code
            ));
        }
        return None;
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if norm(&ours.stdout) != norm(&theirs.stdout) {
        return Some(format!(
            "{what}: output\n--- ours\n{}\n--- Pacemaker's\n{}",
            ours.stdout, theirs.stdout
        ));
    }
    if configuration(&ours_file) != configuration(&theirs_file) {
        return Some(format!("{what}: resulting configuration differs"));
    }
    None
}

/// Corpus CIBs with primitives, groups, clones, promotable clones,
/// constraints on and off the resources, and resource sets.
const CIBS: &[&str] = &[
    "1-a-then-bm-move-b",
    "10-a-then-bm-b-move-a-clone",
    "6-migrate-group",
    "1484",
    "994",
    "anti-colocation-order",
    "balanced",
    "bug-1573",
    "bug-1718",
    "bug-1822",
    "asymmetrical-order-restart",
    "attrs1",
];

/// The `<kind id=...>` resources configured in a corpus CIB.
fn configured(cib: &str) -> Vec<(String, String)> {
    let path = corpus(cib);
    let text = std::fs::read_to_string(&path).expect("corpus");
    let doc = parse_cib(&text, &Limits::default()).expect("corpus parses");
    let mut acc = Vec::new();
    fn walk(e: &cib_xml::Element, acc: &mut Vec<(String, String)>) {
        if matches!(e.name.as_str(), "primitive" | "group" | "clone" | "master") {
            if let Some(id) = e.attr("id") {
                acc.push((e.name.clone(), id.to_string()));
            }
        }
        if e.name != "constraints" && e.name != "status" {
            for c in &e.children {
                walk(c, acc);
            }
        }
    }
    walk(&doc, &mut acc);
    acc
}

#[test]
fn list_raw_matches_pacemaker() {
    let dir = tmpdir("list-raw");
    let diffs: Vec<String> = CIBS
        .iter()
        .filter_map(|cib| compare(&dir, cib, &["--list-raw"]))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

#[test]
fn delete_matches_pacemaker() {
    let dir = tmpdir("delete");
    let mut diffs = Vec::new();
    let mut deleted = 0;
    let mut refused = 0;
    for cib in CIBS {
        for (kind, id) in configured(cib) {
            let args = ["--delete", "-r", id.as_str(), "-t", kind.as_str()];
            match compare(&dir, cib, &args) {
                Some(d) => diffs.push(d),
                None => {
                    let file = dir.join("ours.xml");
                    if configuration(&file) == configuration(&corpus(cib)) {
                        refused += 1;
                    } else {
                        deleted += 1;
                    }
                }
            }
        }
        // The wrong element name: no such element, nothing to do.
        if let Some((_, id)) = configured(cib).first() {
            if let Some(d) = compare(&dir, cib, &["-D", "-r", id, "-t", "rsc_ticket"]) {
                diffs.push(d);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    // The table exercises both outcomes.
    assert!(
        deleted > 3 && refused > 3,
        "{deleted} deleted, {refused} refused"
    );
}

#[test]
fn bad_input_matches_pacemaker() {
    let dir = tmpdir("bad");
    let cases: &[&[&str]] = &[
        // Pacemaker requires -t for --delete (ENXIO: 105).
        &["--delete", "-r", "A"],
        // An unknown resource: 105, nothing changed.
        &["--delete", "-r", "no-such-rsc", "-t", "primitive"],
        &[
            "--get-parameter",
            "target-role",
            "--meta",
            "-r",
            "no-such-rsc",
        ],
        &["--set-parameter", "x", "-v", "1", "-r", "no-such-rsc"],
    ];
    let diffs: Vec<String> = cases
        .iter()
        .filter_map(|args| compare(&dir, "1-a-then-bm-move-b", args))
        .collect();
    // And the codes themselves, so a shared mistake cannot pass.
    let file = dir.join("ours.xml");
    std::fs::copy(corpus("1-a-then-bm-move-b"), &file).expect("copy");
    let r = run(&bin("crm_resource"), &file, &["--delete", "-r", "A"]);
    assert_eq!(r.code, Some(105), "{}", r.stderr);
    assert!(r.stderr.contains("-t"), "{}", r.stderr);
    let r = run(
        &bin("crm_resource"),
        &file,
        &["--delete", "-r", "no-such-rsc", "-t", "primitive"],
    );
    assert_eq!(r.code, Some(105), "{}", r.stderr);
    let r = run(
        &bin("crm_resource"),
        &file,
        &["--delete", "-r", "A", "-t", "x y"],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&file).ok(),
        std::fs::read(corpus("1-a-then-bm-move-b")).ok(),
        "a refused command changed the CIB"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

/// Runs an agent query with ours and Pacemaker's (no CIB and no daemon
/// needed): (code, stdout, stderr) of each.
fn agent_query(args: &[&str]) -> (Run, Run) {
    let nowhere = Path::new("/nonexistent/cib.xml");
    (
        run(&bin("crm_resource"), nowhere, args),
        run(&pacemaker(), nowhere, args),
    )
}

#[test]
fn agent_queries_match_pacemaker_without_any_daemon() {
    let same: &[&[&str]] = &[
        &["--list-ocf-providers"],
        &["--list-ocf-alternatives", "Dummy"],
        &["--list-ocf-alternatives", "no-such-agent"],
        &["--list-agents", "ocf"],
        &["--list-agents", "ocf:heartbeat"],
        &["--list-agents", "ocf:pacemaker"],
        &["--list-agents", "ocf:no-such-provider"],
        &["--list-agents", "lsb"],
        &["--list-agents", "service"],
        &["--list-agents", "no-such-standard"],
        &["--show-metadata", "ocf:heartbeat:Dummy"],
        &["--show-metadata", "ocf:heartbeat:IPaddr2"],
        &["--show-metadata", "ocf:pacemaker:Stateful"],
        &["--show-metadata", "ocf:heartbeat:no-such-agent"],
        &["--show-metadata", "ocf:Dummy"],
        &["--show-metadata", "Dummy"],
        &["--show-metadata", "stonith:fence_dummy"],
    ];
    let mut diffs = Vec::new();
    for args in same {
        let (ours, theirs) = agent_query(args);
        if (ours.code, &ours.stdout, &ours.stderr) != (theirs.code, &theirs.stdout, &theirs.stderr)
        {
            diffs.push(format!(
                "crm_resource {}:\n--- ours {:?}\n{}{}\n--- Pacemaker's {:?}\n{}{}",
                args.join(" "),
                ours.code,
                ours.stdout,
                ours.stderr,
                theirs.code,
                theirs.stdout,
                theirs.stderr
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    // The exit codes themselves, so a shared mistake cannot pass.
    let (r, _) = agent_query(&["--show-metadata", "ocf:heartbeat:no-such-agent"]);
    assert_eq!(r.code, Some(105), "{}", r.stderr);
    let (r, _) = agent_query(&["--list-agents", "no-such-standard"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let (r, _) = agent_query(&["--list-ocf-providers"]);
    assert!(r.stdout.lines().any(|l| l == "heartbeat"), "{}", r.stdout);
    // Intentional differences: heartbeat added to Pacemaker's standards;
    // our stonith agents are a subset of Pacemaker's, in its order.
    let (ours, theirs) = agent_query(&["--list-standards"]);
    assert_eq!(ours.stdout, format!("{}heartbeat\n", theirs.stdout));
    let (ours, theirs) = agent_query(&["--list-agents", "stonith"]);
    let theirs_lines: Vec<&str> = theirs.stdout.lines().collect();
    let ours_lines: Vec<&str> = ours.stdout.lines().collect();
    assert!(ours_lines.contains(&"fence_dummy") && ours_lines.contains(&"external/ssh"));
    let in_their_order: Vec<&str> = theirs_lines
        .iter()
        .copied()
        .filter(|a| ours_lines.contains(a))
        .collect();
    assert_eq!(ours_lines, in_their_order);
}

/// The tools crmsh runs for `crm configure primitive`.
const CRMSH_TOOLS: &[&str] = &[
    "cibadmin",
    "crm_resource",
    "crm_verify",
    "crm_diff",
    "crm_mon",
    "crm_attribute",
    "crm_node",
    "crm_simulate",
];

#[test]
fn crmsh_configures_an_ocf_primitive_with_our_agent_queries() {
    let dir = tmpdir("crmsh-primitive");
    let log = dir.join("calls.log");
    let shim_dir = dir.join("shims");
    std::fs::create_dir_all(&shim_dir).expect("shim dir");
    for t in CRMSH_TOOLS {
        let p = shim_dir.join(t);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{t} $*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                bin(t).display()
            ),
        )
        .expect("shim");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    let system = "/usr/sbin:/usr/bin:/sbin:/bin";
    let ours_path = format!("{}:{system}", shim_dir.display());
    // node1 made this host, which crmsh can reach.
    let base = std::fs::read_to_string(corpus("a-demote-then-b-migrate"))
        .expect("corpus CIB")
        .replace("node1", "localhost");
    let (ours, theirs) = (dir.join("ours.xml"), dir.join("theirs.xml"));
    std::fs::write(&ours, &base).expect("write");
    std::fs::write(&theirs, &base).expect("write");
    let crm = |path: &str, cib: &Path, home: &str| {
        let home = dir.join(home);
        std::fs::create_dir_all(&home).expect("home");
        Command::new("crm")
            .args([
                "configure",
                "primitive",
                "d2",
                "ocf:heartbeat:Dummy",
                "op",
                "monitor",
                "interval=10s",
            ])
            .env("PATH", path)
            .env("CIB_file", cib)
            .env("HOME", home)
            .env_remove("CIB_shadow")
            .env("TZ", "UTC")
            .output()
            .expect("run crm (install crmsh: test.sh does)")
    };
    let a = crm(&ours_path, &ours, "home-ours");
    let b = crm(system, &theirs, "home-theirs");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "ours: {}\ncalls:\n{calls}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(a.status.code(), Some(0));
    for needed in [
        "crm_resource --list-ocf-providers",
        "crm_resource --show-metadata ocf:heartbeat:Dummy",
        "crm_resource --list-ocf-alternatives Dummy",
    ] {
        assert!(
            calls.contains(needed),
            "crmsh did not run `{needed}`:\n{calls}"
        );
    }
    let (cfg_o, cfg_t) = (configuration(&ours), configuration(&theirs));
    assert!(cfg_o.contains("id=\"d2\""), "{cfg_o}");
    assert_eq!(cfg_o, cfg_t);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn force_actions_run_the_agent_here_as_pacemakers_do() {
    let dir = tmpdir("force");
    // A Dummy whose state file is private to this test, so ours and
    // Pacemaker's runs see the same agent state.
    let state = dir.join("d2.state");
    let primitive = format!(
        "<primitive id=\"d2\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\
         <instance_attributes id=\"d2-ia\"><nvpair id=\"d2-state\" name=\"state\" value=\"{}\"/>\
         </instance_attributes></primitive>\
         <primitive id=\"ip\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\"/></resources>",
        state.display()
    );
    let base = std::fs::read_to_string(corpus("a-demote-then-b-migrate"))
        .expect("corpus CIB")
        .replacen("</resources>", &primitive, 1);
    let cib = dir.join("cib.xml");
    std::fs::write(&cib, &base).expect("write");
    let steps: &[(&str, i32)] = &[
        ("--force-check", 7),
        ("--force-start", 0),
        ("--force-check", 0),
        ("--validate", 0),
        ("--force-stop", 0),
        ("--force-check", 7),
    ];
    let mut diffs = Vec::new();
    for (option, want) in steps {
        let ours = run(&bin("crm_resource"), &cib, &["-r", "d2", option]);
        let exists_after_ours = state.exists();
        // The instance attributes reached the agent: its state file is ours.
        if *option == "--force-start" {
            assert!(
                exists_after_ours,
                "--force-start did not create {}",
                state.display()
            );
        }
        let theirs = run(&pacemaker(), &cib, &["-r", "d2", option]);
        assert_eq!(ours.code, Some(*want), "ours {option}: {}", ours.stderr);
        assert_eq!(
            state.exists(),
            exists_after_ours,
            "{option}: Pacemaker's run changed the state"
        );
        if (ours.code, &ours.stdout, &ours.stderr) != (theirs.code, &theirs.stdout, &theirs.stderr)
        {
            diffs.push(format!(
                "{option}:\n--- ours {:?}\n{}{}\n--- Pacemaker's {:?}\n{}{}",
                ours.code, ours.stdout, ours.stderr, theirs.code, theirs.stdout, theirs.stderr
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    let r = run(
        &bin("crm_resource"),
        &cib,
        &["-r", "no-such", "--force-check"],
    );
    assert_eq!(r.code, Some(105), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

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

/// Action ids and the injected failure time differ between
/// implementations and runs; everything else must match.
fn mask_ids(text: &str) -> String {
    text.lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("Pretending action ") {
                let tail = rest.split_once(' ').map_or("", |(_, t)| t);
                format!("Pretending action N {tail}")
            } else if l.contains("Injecting attribute last-failure-") {
                let (head, tail) = l.split_once('=').unwrap_or((l, ""));
                let tail = tail.split_once(' ').map_or("", |(_, t)| t);
                format!("{head}=T {tail}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_injected_failure_aborts_the_rest_of_the_transition() {
    let args = ["-S", "-F", "web_start_0@node1=1"];
    let ours = run(env!("CARGO_BIN_EXE_crm_simulate"), &args);
    let exec: Vec<&str> = ours
        .lines()
        .skip_while(|l| *l != "Executing Cluster Transition:")
        .take_while(|l| !l.is_empty())
        .collect();
    let failed = exec
        .iter()
        .position(|l| l.starts_with("Pretending action ") && l.ends_with("failed with rc=1"))
        .expect("the failure is announced");
    assert!(exec[failed - 1].contains("web") && exec[failed - 1].contains("start on node1"));
    assert!(exec[failed + 1].contains("Injecting attribute fail-count-web#start_0=value++"));
    assert!(exec[failed + 2].contains("Injecting attribute last-failure-web#start_0="));
    assert!(
        exec[failed + 3..]
            .iter()
            .all(|l| l.contains("Pseudo action:")),
        "only pseudo-actions fire after the failure: {exec:?}"
    );
    let reference = "/usr/sbin/crm_simulate";
    if Path::new(reference).exists() {
        assert_eq!(mask_ids(&ours), mask_ids(&run(reference, &args)));
    }
}

/// The XML result as comparable lines: each element with its attributes,
/// indented by depth; the request (the command line) left out and the
/// transition's actions sorted (their order is checked in text mode).
fn xml_shape(text: &str) -> Vec<String> {
    fn walk(e: &cib_xml::Element, depth: usize, out: &mut Vec<String>) {
        let attrs: Vec<String> = e
            .attrs
            .iter()
            .filter(|(k, _)| k != "request")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push(format!(
            "{}{} {}",
            "  ".repeat(depth),
            e.name,
            attrs.join(" ")
        ));
        let mut children = Vec::new();
        for c in &e.children {
            let mut sub = Vec::new();
            walk(c, depth + 1, &mut sub);
            children.push(sub);
        }
        if e.name == "transition" {
            children.sort();
        }
        out.extend(children.into_iter().flatten());
    }
    let doc = cib_xml::xml::parse(text, &cib_xml::Limits::default()).expect("XML result parses");
    let mut out = Vec::new();
    walk(&doc, 0, &mut out);
    out
}

#[test]
fn xml_output_holds_status_actions_transition_and_result() {
    let args = ["-S", "-u", "node3", "-g", "t1", "--output-as=xml"];
    let ours = run(env!("CARGO_BIN_EXE_crm_simulate"), &args);
    let shape = xml_shape(&ours);
    let has = |prefix: &str| shape.iter().any(|l| l.trim_start().starts_with(prefix));
    assert!(
        shape[0].starts_with("pacemaker-result api-version="),
        "{shape:?}"
    );
    assert!(has("cluster_status"));
    assert!(has("node name=node1 id=1 online=true standby=false"));
    assert!(has("modify_node action=Online node=node3"));
    assert!(has("modify_ticket action=Granting ticket=t1"));
    assert!(has("rsc_action action=start resource=g2 node=node3"));
    assert!(has("revised_cluster_status"));
    assert!(shape
        .last()
        .is_some_and(|l| l.trim_start() == "status code=0 message=OK"));
    let reference = "/usr/sbin/crm_simulate";
    if Path::new(reference).exists() {
        assert_eq!(shape, xml_shape(&run(reference, &args)));
    }
}

#[test]
fn xml_output_reports_errors_in_the_result() {
    let out = Command::new(env!("CARGO_BIN_EXE_crm_simulate"))
        .args(["-x", "/nonexistent/cib.xml", "-S", "--output-as=xml"])
        .output()
        .expect("run crm_simulate");
    assert_eq!(out.status.code(), Some(66));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("<status code=\"66\""), "{text}");
    assert!(text.contains("<error>"), "{text}");
}

#[test]
fn live_check_reads_cib_file_like_every_pacemaker_tool() {
    let live = Command::new(env!("CARGO_BIN_EXE_crm_simulate"))
        .env("CIB_file", data("attrs-failcounts.xml"))
        .args(["-L", "-S"])
        .output()
        .expect("run crm_simulate");
    assert!(live.status.success());
    assert_eq!(
        String::from_utf8_lossy(&live.stdout),
        run(env!("CARGO_BIN_EXE_crm_simulate"), &["-S"])
    );
    // Without CIB_file and without a cib daemon: Pacemaker's exit code.
    let none = Command::new(env!("CARGO_BIN_EXE_crm_simulate"))
        .env_remove("CIB_file")
        .env("HA_RUNDIR", "/nonexistent")
        .args(["-L", "-S"])
        .output()
        .expect("run crm_simulate");
    assert_eq!(none.status.code(), Some(66));
}

#[test]
fn xml_output_carries_the_scores() {
    let args = ["-s", "--output-as=xml"];
    let ours = run(env!("CARGO_BIN_EXE_crm_simulate"), &args);
    let shape = xml_shape(&ours);
    assert!(
        shape.iter().any(|l| l.trim_start()
            == "node_weight function=pcmk__primitive_assign node=node1 score=0 id=web"),
        "{shape:?}"
    );
    let reference = "/usr/sbin/crm_simulate";
    if Path::new(reference).exists() {
        assert_eq!(shape, xml_shape(&run(reference, &args)));
    }
}

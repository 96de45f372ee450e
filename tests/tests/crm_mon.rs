//! crm_mon beyond the plain one-shot status (which tests/crm_tools.rs
//! compares): the operation history, timing, tickets, the Nagios line, the
//! XML and HTML documents, the refresh loop with an external agent, and
//! daemon mode. Offline, with `CIB_file`, against Debian's Pacemaker 2.1.5
//! crm_mon (pacemaker-cli-utils, installed by test.sh) on a table of
//! corpus CIBs from ../shared/conformance/scheduler/xml.
//!
//! Normalised before comparing: the clock's "Last updated" line and
//! `last_update` element, the `request` attribute (the command line).
//!
//! Intentional differences, each with its reason:
//! - Tickets are listed by id; Pacemaker lists them in its hash table's
//!   order, which is not stable across versions. Compared as sorted lines.
//! - `-s` with a warning (no DC, offline nodes) exits 1 (Pacemaker's
//!   MON_STATUS_WARN, what Nagios expects); Pacemaker 2.1.5 prints "Error
//!   outputting status info" and exits 0.
//! - The XML has no `<bans>` section (negative location constraints need
//!   the scheduler's constraint phase, which crm_mon does not run) and no
//!   `expected` attribute on ping attributes; both are removed from
//!   Pacemaker's document before comparing.
//! - The HTML page is our own layout of the text status (headings and
//!   nested lists): the test checks it holds the same facts, not
//!   Pacemaker's markup.
//! - `-n` (group by node) has no intentional difference; it is compared
//!   on its own table of CIBs (over the whole corpus, `-n` and `-n -r`
//!   differ from Pacemaker on exactly the CIBs where the plain status
//!   does).
//! - The external agent runs for operation results that differ between
//!   two successive reads of the CIB (Pacemaker reacts to the CIB's change
//!   notifications, which a CIB file does not send).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::bin;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/scheduler/xml")
        .join(format!("{name}.xml"))
}

fn pacemaker() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/crm_mon");
    assert!(p.is_file(), "install pacemaker-cli-utils (test.sh does)");
    p
}

/// The CIBs compared: plain, clones and groups, failures and fail counts,
/// pending operations, tickets, standby and offline nodes.
const CIBS: &[&str] = &[
    "1-a-then-bm-move-b",
    "764",
    "attrs2",
    "bug-5059",
    "clone-order-primitive",
    "colocated-utilization-group",
    "group1",
    "migrate-partial-4",
    "rec-node-12",
    "ticket-group-10",
    "ticket-clone-11",
    "unrunnable-1",
    "managed-0",
    "migrate-fail-8",
];

fn run(tool: &Path, cib: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(tool)
        .args(args)
        .env("CIB_file", cib)
        .env_remove("CIB_shadow")
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Without the clock, the command line, bans and ping expectations;
/// `sorted` sorts the lines (for ticket order).
fn normalise(s: &str, sorted: bool) -> String {
    let mut in_bans = false;
    let mut lines: Vec<String> = Vec::new();
    for l in s.lines() {
        let l = l.trim_end();
        if l.trim_start().starts_with("<bans>") {
            in_bans = true;
            continue;
        }
        if in_bans {
            in_bans = !l.trim_start().starts_with("</bans>");
            continue;
        }
        if l.contains("* Last updated:") || l.contains("<last_update ") {
            continue;
        }
        let mut l = l.to_string();
        for attr in [" request=\"", " expected=\""] {
            if let Some((head, rest)) = l.split_once(attr) {
                if let Some((_, tail)) = rest.split_once('"') {
                    l = format!("{head}{tail}");
                }
            }
        }
        lines.push(l);
    }
    if sorted {
        lines.sort();
    }
    lines.join("\n")
}

fn compare(args: &[&str], sorted: bool) {
    compare_on(CIBS, args, sorted);
}

fn compare_on(cibs: &[&str], args: &[&str], sorted: bool) {
    let mut failures = Vec::new();
    for name in cibs {
        let cib = corpus(name);
        let (our_code, ours) = run(&bin("crm_mon"), &cib, args);
        let (their_code, theirs) = run(&pacemaker(), &cib, args);
        let (ours, theirs) = (normalise(&ours, sorted), normalise(&theirs, sorted));
        if our_code != their_code || ours != theirs {
            failures.push(format!(
                "{name} {args:?}: exit {our_code:?} vs {their_code:?}\n--- ours\n{ours}\n--- Pacemaker's\n{theirs}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn operations_match_pacemaker() {
    compare(&["-1", "-o"], false);
    compare(&["-1", "-r", "-A", "-f", "-o"], false);
}

#[test]
fn timing_details_match_pacemaker() {
    compare(&["-1", "-t"], false);
}

#[test]
fn tickets_match_pacemaker() {
    compare(&["-1", "-c"], true);
}

#[test]
fn fence_history_offline_prints_what_pacemaker_prints() {
    // Without a fencer (CIB_file) Pacemaker shows no fencing section.
    compare(&["-1", "-m"], false);
    compare(&["-1", "-m", "3"], false);
}

/// `-n`: standby, offline and unclean nodes, clones with stopped
/// instances (and one unmanaged on an offline node), groups, failed and
/// blocked resources, long inactive lists.
const BY_NODE_CIBS: &[&str] = &[
    "10-a-then-bm-b-move-a-clone",
    "unrunnable-2",
    "inc6",
    "stonith-2",
    "stonith-1",
    "ordered-set-natural",
    "novell-252693-2",
    "bug-suse-707150",
    "order-clone",
    "inc8",
    "tags-coloc-order-2",
    "interleave-pseudo-stop",
    "stop-failure-no-quorum",
    "failed-probe-clone",
    "promoted-depend",
    "bug-5059",
    "rec-node-2",
    "group8",
    "bug-lf-2358",
    "stop-failure-no-fencing",
    "ticket-group-10",
    "1-a-then-bm-move-b",
];

#[test]
fn group_by_node_matches_pacemaker() {
    compare_on(BY_NODE_CIBS, &["-1", "-n"], false);
    compare_on(BY_NODE_CIBS, &["-1", "-n", "-r"], false);
    compare_on(BY_NODE_CIBS, &["-1", "-n", "-r", "-A", "-f"], false);
    compare_on(BY_NODE_CIBS, &["--output-as=xml", "-n"], true);
}

#[test]
fn xml_matches_pacemaker() {
    compare(&["--output-as=xml"], true);
    compare(&["-X"], true);
}

#[test]
fn simple_status_line_and_exit_codes() {
    let (code, out) = run(&bin("crm_mon"), &corpus("1-a-then-bm-move-b"), &["-s"]);
    assert_eq!(
        out.trim(),
        "CLUSTER OK: 3 nodes online, 2 resource instances configured"
    );
    assert_eq!(code, Some(0));
    let (theirs_code, theirs) = run(&pacemaker(), &corpus("1-a-then-bm-move-b"), &["-s"]);
    assert_eq!((out.trim(), Some(0)), (theirs.trim(), theirs_code));
    // No DC: a warning, exit 1 (see the module comment for Pacemaker's 0).
    let (code, out) = run(&bin("crm_mon"), &corpus("ticket-clone-11"), &["-s"]);
    let (_, theirs) = run(&pacemaker(), &corpus("ticket-clone-11"), &["-s"]);
    assert_eq!(out.trim(), theirs.trim());
    assert_eq!(out.trim(), "CLUSTER WARN: No DC");
    assert_eq!(code, Some(1));
    // No cluster: critical, exit 2.
    let (code, out) = run(&bin("crm_mon"), Path::new("/nonexistent/cib.xml"), &["-s"]);
    assert!(out.starts_with("CLUSTER CRIT: "), "{out}");
    assert_eq!(code, Some(2));
}

#[test]
fn simple_status_counts_standby_and_offline_nodes() {
    let mut failures = Vec::new();
    for name in ["rec-node-12", "managed-0", "764", "group1", "attrs2"] {
        let (_, ours) = run(&bin("crm_mon"), &corpus(name), &["-s"]);
        let (_, theirs) = run(&pacemaker(), &corpus(name), &["-s"]);
        if ours.trim() != theirs.trim() {
            failures.push(format!("{name}: {ours} vs {theirs}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn html_holds_the_same_facts_as_the_text() {
    let dir = tmpdir("html");
    let page = dir.join("status.html");
    let cib = corpus("bug-5059");
    let (code, text) = run(&bin("crm_mon"), &cib, &["-1", "-r", "-o"]);
    assert_eq!(code, Some(0));
    let page_arg = page.to_string_lossy().into_owned();
    let (code, _) = run(&bin("crm_mon"), &cib, &["-1", "-r", "-o", "-h", &page_arg]);
    assert_eq!(code, Some(0));
    let html = std::fs::read_to_string(&page).expect("the page was written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for line in text.lines() {
        let fact = line.trim().trim_start_matches("* ").replace('\t', " ");
        if fact.is_empty() || fact.starts_with("Last updated") {
            continue;
        }
        let fact = fact.trim_end_matches(':');
        let escaped = fact
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(html.contains(&escaped), "the page lacks {fact:?}");
    }
    // --output-as=html prints the page.
    let (code, out) = run(&bin("crm_mon"), &cib, &["-1", "--output-as=html"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("<h2>Cluster Summary</h2>"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_exit_2() {
    let cib = corpus("1-a-then-bm-move-b");
    for args in [
        &["-1", "--output-as=yaml"][..],
        &["-i", "soon"][..],
        &["-1", "-m", "7"][..],
        &["-d"][..],
        &["-1", "-e", "root"][..],
        &["-1", "-R"][..],
    ] {
        let out = Command::new(bin("crm_mon"))
            .args(args)
            .env("CIB_file", &cib)
            .output()
            .expect("crm_mon runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    let out = Command::new(bin("crm_mon"))
        .arg("--no-such-option")
        .env("CIB_file", &cib)
        .output()
        .expect("crm_mon runs");
    assert_ne!(out.status.code(), Some(0));
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crm-mon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the child on drop, so a failed test leaves nothing running.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replaces `from` by `to` in the CIB file, atomically (crm_mon may read
/// it at any moment).
fn rewrite(cib: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(cib).expect("cib");
    assert!(text.contains(from), "{from} not in the CIB");
    let tmp = cib.with_extension("tmp");
    std::fs::write(&tmp, text.replacen(from, to, 1)).expect("write");
    std::fs::rename(&tmp, cib).expect("rename");
}

#[test]
fn external_agent_hears_new_operation_results() {
    let dir = tmpdir("agent");
    let cib = dir.join("cib.xml");
    std::fs::copy(corpus("1-a-then-bm-move-b"), &cib).expect("copy");
    let log = dir.join("events");
    let agent = dir.join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\necho \"$CRM_notify_recipient|$CRM_notify_node|$CRM_notify_rsc|$CRM_notify_task|$CRM_notify_desc|$CRM_notify_rc|$CRM_notify_target_rc|$CRM_notify_status\" >> {}\n",
            log.display()
        ),
    )
    .expect("agent");
    Command::new("chmod")
        .arg("755")
        .arg(&agent)
        .status()
        .expect("chmod");
    let child = Command::new(bin("crm_mon"))
        .args(["-i", "1", "-E"])
        .arg(&agent)
        .args(["-e", "admin@example.com"])
        .env("CIB_file", &cib)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("crm_mon starts");
    let _child = Child(child);
    // Let it read the first version: nothing is reported for what was
    // already there.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!log.exists(), "events for the first read");
    // B's monitor fails (a new call with rc 7 where 0 was expected).
    rewrite(
        &cib,
        "transition-magic=\"0:0;13:4:0:871e5928-80bf-4347-bf71-d1e1d3ef476b\" call-id=\"16\" rc-code=\"0\"",
        "transition-magic=\"0:7;13:4:0:871e5928-80bf-4347-bf71-d1e1d3ef476b\" call-id=\"17\" rc-code=\"7\"",
    );
    wait_for("the agent", Duration::from_secs(10), || log.exists());
    std::thread::sleep(Duration::from_millis(300));
    let events = std::fs::read_to_string(&log).expect("events");
    assert_eq!(
        events.trim(),
        "admin@example.com|18node2|B|monitor|not running|7|0|0",
        "{events}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn daemon_writes_pid_and_html_and_stops_on_sigterm() {
    let dir = tmpdir("daemon");
    let cib = dir.join("cib.xml");
    std::fs::copy(corpus("1-a-then-bm-move-b"), &cib).expect("copy");
    let pid_file = dir.join("mon.pid");
    let page = dir.join("status.html");
    let status = Command::new(bin("crm_mon"))
        .args(["-d", "-i", "1", "-p"])
        .arg(&pid_file)
        .arg("-h")
        .arg(&page)
        .env("CIB_file", &cib)
        .status()
        .expect("crm_mon starts");
    assert!(status.success(), "the foreground part exits 0");
    wait_for("the pid file", Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    });
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    let alive = || Path::new(&format!("/proc/{pid}")).exists();
    let kill = |sig: &str| {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    };
    wait_for("the page", Duration::from_secs(10), || {
        std::fs::read_to_string(&page).is_ok_and(|p| p.contains("18node1"))
    });
    // Rewritten every interval: a new last change shows up.
    rewrite(&cib, "cibadmin", "crm_mon-test");
    let seen = Instant::now();
    while !std::fs::read_to_string(&page).is_ok_and(|p| p.contains("crm_mon-test")) {
        if seen.elapsed() > Duration::from_secs(10) {
            kill("-KILL");
            panic!("the page was not rewritten");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill("-TERM");
    wait_for("the daemon to stop", Duration::from_secs(10), || !alive());
    assert!(!pid_file.exists(), "the pid file is removed on exit");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refresh_prints_every_interval_when_not_a_terminal_and_stops_on_sigterm() {
    let child = Command::new(bin("crm_mon"))
        .args(["-i", "1"])
        .env("CIB_file", corpus("1-a-then-bm-move-b"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("crm_mon starts");
    std::thread::sleep(Duration::from_millis(2500));
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let out = child.wait_with_output().expect("crm_mon exits");
    assert_eq!(out.status.code(), Some(0), "SIGTERM ends it cleanly");
    let text = String::from_utf8_lossy(&out.stdout);
    let refreshes = text.matches("Cluster Summary:").count();
    assert!(refreshes >= 2, "{refreshes} refreshes:\n{text}");
    // Nothing changed, so every refresh shows the same status.
    let bodies: Vec<String> = text
        .split("Cluster Summary:")
        .skip(1)
        .map(|b| normalise(b, false))
        .collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{text}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`): each
/// refresh clears the screen and redraws; `q` quits with 0.
#[test]
fn terminal_display_redraws_and_quits_on_q() {
    let cmd = format!("{} -i 1", bin("crm_mon").display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("CIB_file", corpus("1-a-then-bm-move-b"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (bsdutils) runs");
    std::thread::sleep(Duration::from_millis(1600));
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, b"q").expect("type q");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("q did not end crm_mon");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("output");
    assert_eq!(status.code(), Some(0), "{out}");
    let redraws = out.matches("\x1b[H\x1b[2JCluster Summary:").count();
    assert!(redraws >= 2, "{redraws} redraws:\n{out}");
}

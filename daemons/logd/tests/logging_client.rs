//! A daemon that logs through the logging crate with `use_logd` on: while
//! logd is absent its lines go to its own logfile (Heartbeat's fallback);
//! while logd runs they reach logd's file with the daemon's entity and pid.
//! The process-wide logger can be installed once per process, so each
//! daemon is a child process: the `log_client` example.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// The `log_client` example, which `cargo test` builds next to the test
/// binaries (target/PROFILE/examples).
fn log_client() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let p = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples/log_client"))
        .expect("target layout");
    assert!(
        p.is_file(),
        "{} missing: `cargo test -p logd` builds it",
        p.display()
    );
    p
}

/// Runs the child daemon in `node`; returns its pid.
fn run_child(node: &Node, count: usize) -> u32 {
    let child = node
        .env(&mut Command::new(log_client()))
        .arg("childd")
        .arg(count.to_string())
        .arg(node.log("child-log"))
        .arg("use_logd")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child daemon");
    let pid = child.id();
    let out = wait_output(child);
    assert!(
        out.status.success(),
        "child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    pid
}

fn expected(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("info: child message {i}"))
        .collect()
}

#[test]
fn without_logd_a_daemon_logs_to_its_own_file() {
    let node = Node::new("fallback");
    let pid = run_child(&node, 50);
    let own = node.read("child-log");
    let msgs = messages_of(&own, "childd", pid);
    assert!(
        msgs[0].starts_with(
            "WARN: logging: logging daemon unavailable (unavailable: cannot connect to "
        ) && msgs[0].ends_with("; logging directly"),
        "{own}"
    );
    assert!(msgs[0].contains(&path_str(&node.socket())), "{own}");
    assert_lines(&msgs[1..], &expected(50), "fallback lines");
}

#[test]
fn with_logd_a_daemons_lines_arrive_in_logds_file() {
    let node = Node::new("through");
    node.standard_cf("");
    let _logd = Logd::start(&node);
    let pid = run_child(&node, 500);
    wait_until("the child's lines in logd's file", || {
        messages_of(&node.read("ha-log"), "childd", pid).len() >= 500
    });
    let log = node.read("ha-log");
    assert_lines(
        &messages_of(&log, "childd", pid),
        &expected(500),
        "lines through logd",
    );
    // Nothing went to the daemon's own file.
    assert!(
        !node.read("child-log").contains("child message"),
        "{}",
        node.read("child-log")
    );
}

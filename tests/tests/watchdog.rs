//! `watchdog DEVICE` with a plain file standing in for /dev/watchdog: the
//! running master keeps writing to it, stops when it is frozen (the machine
//! would be reset), writes the magic `V` when it stops normally (the kernel
//! would disarm) and not when it is killed; a device that cannot be opened
//! keeps heartbeat from starting.

use std::time::Duration;

use integration_tests::TestNode;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fed(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

fn pid(node: &TestNode) -> i32 {
    plumbing::daemon::PidFile::running_pid(&node.root.join("run/heartbeat.pid"))
        .unwrap()
        .expect("heartbeat runs")
}

/// Starts a node whose ha.cf names `device` as its watchdog and waits until
/// it has been fed a few times.
fn start_with_watchdog(test: &str) -> (TestNode, std::path::PathBuf) {
    let node = TestNode::new(test);
    let device = node.root.join("watchdog");
    std::fs::write(&device, b"").unwrap();
    node.configure(&format!("watchdog {}\n", device.display()));
    let out = node.run("heartbeat", &[]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert!(
        node.wait_for(|| fed(&device).len() >= 3),
        "never fed: {}",
        node.log()
    );
    (node, device)
}

#[test]
fn the_watchdog_is_fed_while_heartbeat_runs_not_while_frozen_and_disarmed_at_stop() {
    let (node, device) = start_with_watchdog("wd-feed");
    assert!(node
        .log()
        .contains(&format!("Using watchdog device: {}", device.display())));
    // keepalive 100ms: a feed every 100 ms.
    let before = fed(&device).len();
    std::thread::sleep(Duration::from_millis(600));
    let after = fed(&device).len();
    assert!(after >= before + 3, "fed {before} then {after} times");

    let hb = Pid::from_raw(pid(&node));
    kill(hb, Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let frozen = fed(&device).len();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        fed(&device).len(),
        frozen,
        "a frozen heartbeat must not feed the watchdog"
    );
    kill(hb, Signal::SIGCONT).unwrap();
    assert!(
        node.wait_for(|| fed(&device).len() > frozen),
        "not fed again after SIGCONT"
    );

    let stop = node.run("heartbeat", &["-k"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let bytes = fed(&device);
    assert_eq!(bytes.last(), Some(&b'V'), "no magic close at a clean stop");
    assert!(
        bytes[..bytes.len() - 1].iter().all(|&b| b == 0),
        "feeds are NUL bytes, as Heartbeat writes them"
    );
    assert!(node.log().contains("Heartbeat shutdown complete."));
}

#[test]
fn a_killed_heartbeat_leaves_the_watchdog_armed() {
    let (node, device) = start_with_watchdog("wd-kill");
    kill(Pid::from_raw(pid(&node)), Signal::SIGKILL).unwrap();
    assert!(node.wait_for(|| {
        plumbing::daemon::PidFile::running_pid(&node.root.join("run/heartbeat.pid"))
            .is_ok_and(|p| p.is_none())
    }));
    let bytes = fed(&device);
    assert!(!bytes.is_empty());
    assert!(
        !bytes.contains(&b'V'),
        "killed: the kernel must reset the machine, so no 'V'"
    );
}

#[test]
fn a_watchdog_that_cannot_be_opened_keeps_heartbeat_from_starting() {
    let node = TestNode::new("wd-missing");
    let device = node.root.join("no-such-dir/watchdog");
    node.configure(&format!("watchdog {}\n", device.display()));
    let out = node.run("heartbeat", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Cannot open watchdog device: {}: No such file or directory",
            device.display()
        )),
        "{stderr}"
    );
    assert!(
        node.log().contains(&format!(
            "Cannot open watchdog device: {}",
            device.display()
        )),
        "{}",
        node.log()
    );
    assert_eq!(
        plumbing::daemon::PidFile::running_pid(&node.root.join("run/heartbeat.pid")).unwrap(),
        None
    );
}

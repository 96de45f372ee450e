//! The heartbeat binary as an administrator uses it: `--check` on good and
//! bad files, start, status, a second instance, respawn of a dead child,
//! children run as their configured user, and an orderly stop.

use std::os::unix::fs::PermissionsExt;

use integration_tests::TestNode;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_a_good_configuration_and_prints_effective_settings() {
    let node = TestNode::new("check-good");
    node.configure("");
    let out = node.run("heartbeat", &["--check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains("\nkeepalive 100ms\n"), "{stdout}");
    assert!(stdout.contains("\ndeadtime 500ms\n"), "{stdout}");
    assert!(stdout.contains("udpport 694"), "{stdout}");
    assert!(stdout.contains("auth 1 (sha1)"), "{stdout}");
    assert!(!stdout.contains("test-secret"), "secret printed: {stdout}");
}

#[test]
fn check_names_the_line_of_an_unknown_directive() {
    let node = TestNode::new("check-unknown");
    node.configure("frobnicate yes\n");
    let out = node.run("heartbeat", &["--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let want = format!(
        "{}:10: unknown directive 'frobnicate'",
        node.confdir().join("ha.cf").display()
    );
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn authkeys_readable_by_others_is_refused_by_check_and_start() {
    let node = TestNode::new("check-0644");
    node.configure("");
    let keys = node.confdir().join("authkeys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["--check"][..], &["--foreground"][..]] {
        let out = node.run("heartbeat", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("mode 0644"), "{args:?}: {stderr}");
        assert!(stderr.contains("chmod 600"), "{args:?}: {stderr}");
    }
    assert!(
        !node.root.join("run/heartbeat.pid").exists(),
        "it must not have started"
    );
}

#[test]
fn a_node_missing_from_ha_cf_is_refused() {
    let mut node = TestNode::new("check-node");
    node.configure("");
    node.name = "stranger".into();
    let out = node.run("heartbeat", &["--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("current node 'stranger' is not in the configuration"));
}

/// A respawned child that records its start and its orderly stop.
fn child_script(node: &TestNode) -> std::path::PathBuf {
    let script = node.root.join("child.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nlog=$2\necho \"start $1 $$ $(id -u)\" >> $log\n\
         trap 'echo \"stop $1\" >> $log; exit 0' TERM\nwhile :; do sleep 0.05; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn events(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn children_are_respawned_run_as_their_user_and_stopped_in_reverse_order() {
    let node = TestNode::new("respawn");
    let script = child_script(&node);
    let rec = node.root.join("record");
    let shared = node.root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let nobody_rec = shared.join("record");
    node.configure(&format!(
        "respawn root {s} first {r}\nrespawn root {s} second {r}\nrespawn nobody {s} third {n}\n",
        s = script.display(),
        r = rec.display(),
        n = nobody_rec.display()
    ));
    let out = node.run("heartbeat", &[]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert!(node.wait_for(|| events(&rec).len() >= 2 && !events(&nobody_rec).is_empty()));

    let status = node.run("heartbeat", &["-s"]);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        text(&status.stdout).starts_with("heartbeat OK [pid "),
        "{}",
        text(&status.stdout)
    );

    // A second instance refuses to start.
    let second = node.run("heartbeat", &["--foreground"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("already running as pid"),
        "{}",
        text(&second.stderr)
    );

    // The third child runs as nobody.
    let third = events(&nobody_rec);
    assert!(
        third[0].starts_with("start third ") && third[0].ends_with(" 65534"),
        "{third:?}"
    );

    // Kill the first child: heartbeat starts it again.
    let first_pid: i32 = events(&rec)
        .iter()
        .find(|l| l.starts_with("start first "))
        .and_then(|l| l.split(' ').nth(2))
        .and_then(|p| p.parse().ok())
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        node.wait_for(|| events(&rec)
            .iter()
            .filter(|l| l.starts_with("start first"))
            .count()
            == 2),
        "not respawned: {:?}",
        events(&rec)
    );
    assert!(
        node.wait_for(|| node.log().contains("Respawning client \"child.sh\"")),
        "{}",
        node.log()
    );
    assert!(node.log().contains(&format!(
        "Managed child.sh process {first_pid} killed by signal 9 (SIGKILL)."
    )));

    // Stop: children stop last-started first, then heartbeat is gone.
    let stop = node.run("heartbeat", &["-k"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let stops: Vec<String> = events(&rec)
        .into_iter()
        .filter(|l| l.starts_with("stop"))
        .collect();
    assert_eq!(stops, vec!["stop second", "stop first"]);
    assert_eq!(
        events(&nobody_rec).last().map(String::as_str),
        Some("stop third")
    );
    assert!(node.log().contains("Heartbeat shutdown complete."));
    let status = node.run("heartbeat", &["-s"]);
    assert_eq!(status.status.code(), Some(3));
    assert_eq!(text(&status.stdout), "heartbeat is stopped. No process\n");
}

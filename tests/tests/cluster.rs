//! Real heartbeat nodes in network namespaces: they see each other, notice
//! a killed or frozen node and a cut link, and ignore forged, replayed and
//! junk packets. Timing is keepalive 100ms / deadtime 500ms; the waits are
//! hang detectors (20 s), never timing assertions.

use integration_tests::TestCluster;
use nix::sys::signal::Signal;

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

fn all_active(c: &TestCluster, n: usize) {
    for i in 1..=n {
        for j in (1..=n).filter(|j| *j != i) {
            let line = format!("Status update for node node{j}: status active");
            assert!(
                c.node(i).wait_for(|| c.node(i).log().contains(&line)),
                "node{i} never saw node{j} active:\n{}",
                c.node(i).log()
            );
        }
    }
}

#[test]
fn three_nodes_come_up_and_see_each_other_active_on_every_link() {
    let c = TestCluster::new("up3", 3, 1);
    c.configure("");
    for i in 1..=3 {
        c.start(i);
    }
    all_active(&c, 3);
    for i in 1..=3 {
        let log = c.node(i).log();
        assert!(log.contains("Local status now set to: 'active'"), "{log}");
        for j in 1..=3 {
            assert!(
                log.contains(&format!("Link node{j}:eth0 up.")),
                "node{i}: {log}"
            );
        }
        assert!(!log.contains("is dead"), "{log}");
    }
}

#[test]
fn a_killed_node_is_declared_dead_by_the_others() {
    let c = TestCluster::new("kill", 3, 1);
    c.configure("");
    for i in 1..=3 {
        c.start(i);
    }
    all_active(&c, 3);
    c.signal(3, Signal::SIGKILL);
    for i in 1..=2 {
        assert!(
            c.node(i)
                .wait_for(|| c.node(i).log().contains("node node3: is dead")),
            "node{i}:\n{}",
            c.node(i).log()
        );
        assert!(c.node(i).log().contains("Link node3:eth0 dead."));
        assert!(!c
            .node(i)
            .log()
            .contains(&format!("node node{}: is dead", 3 - i)));
    }
}

#[test]
fn a_cut_link_is_dead_while_the_node_stays_active_over_the_other() {
    let c = TestCluster::new("cut", 3, 2);
    c.configure("");
    for i in 1..=3 {
        c.start(i);
    }
    all_active(&c, 3);
    c.set_link(3, 0, false);
    let n1 = c.node(1);
    assert!(
        n1.wait_for(|| n1.log().contains("Link node3:eth0 dead.")),
        "{}",
        n1.log()
    );
    // Long past deadtime: node3 is alive over eth1.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = n1.log();
    assert!(!log.contains("node node3: is dead"), "{log}");
    assert!(!log.contains("Link node3:eth1 dead."), "{log}");
    c.set_link(3, 0, true);
    assert!(
        n1.wait_for(|| count(&n1.log(), "Link node3:eth0 up.") == 2),
        "{}",
        n1.log()
    );
}

#[test]
fn a_frozen_node_is_declared_dead_and_returns_when_resumed() {
    let c = TestCluster::new("freeze", 2, 1);
    c.configure("");
    c.start(1);
    c.start(2);
    all_active(&c, 2);
    c.signal(2, Signal::SIGSTOP);
    let n1 = c.node(1);
    assert!(
        n1.wait_for(|| n1.log().contains("node node2: is dead")),
        "{}",
        n1.log()
    );
    c.signal(2, Signal::SIGCONT);
    assert!(
        n1.wait_for(|| count(&n1.log(), "Status update for node node2: status active") == 2),
        "{}",
        n1.log()
    );
}

#[test]
fn forged_replayed_and_junk_packets_are_dropped_and_change_nothing() {
    let c = TestCluster::new("hostile", 2, 1);
    c.configure("");
    c.start(1);
    c.start(2);
    all_active(&c, 2);
    // A status packet of node2's current life, kept for a replay after it
    // restarts.
    let old = loop {
        let d = c.capture(1, 0);
        let keys = config::parse_authkeys("auth 1\n1 sha1 cluster-test-key\n", "authkeys").unwrap();
        if let Ok(m) = msg::verify_and_decode(&d, &keys) {
            if m.get_str("src") == Some("node2") && m.get_str("t") == Some("status") {
                break d;
            }
        }
    };
    // Forged: a well-formed status from "node2" signed with the wrong key.
    let wrong = config::parse_authkeys("auth 1\n1 sha1 not-the-key\n", "authkeys").unwrap();
    let mut forged = msg::Message::new();
    forged
        .add("t", "status")
        .add("st", "dead")
        .add("src", "node2");
    forged.set_hex("seq", 1_000_000).set_hex("hg", u64::MAX / 2);
    c.inject(2, 0, &msg::sign(&mut forged, &wrong).unwrap());
    // Junk: 64 KiB that is not a packet at all.
    let junk: Vec<u8> = (0..65_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    c.inject(2, 0, &junk);
    let n1 = c.node(1);
    assert!(
        n1.wait_for(|| count(&n1.log(), "dropped a packet from 10.213.0.2") >= 1),
        "{}",
        n1.log()
    );
    // Restart node2 (a new generation), then replay its old packet.
    let out = c.node(2).run("heartbeat", &["-k"]);
    assert!(out.status.success());
    c.start(2);
    assert!(
        n1.wait_for(|| n1.log().contains("Heartbeat restart on node node2")),
        "{}",
        n1.log()
    );
    c.inject(2, 0, &old);
    assert!(
        n1.wait_for(|| n1
            .log()
            .contains("should_drop_message: attempted replay attack [node2]?")),
        "{}",
        n1.log()
    );
    // Nothing of it changed node2's status on node1, and node1 still runs.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let log = n1.log();
    assert!(
        !log.contains("Status update for node node2: status dead"),
        "{log}"
    );
    assert!(c.pid(1).is_some());
    // The drop counters are reported at shutdown.
    assert!(n1.run("heartbeat", &["-k"]).status.success());
    let log = n1.log();
    assert!(log.contains("packets dropped: rejected"), "{log}");
    assert!(
        log.contains("\"AuthFailed\": 1"),
        "the forged packet: {log}"
    );
    assert!(log.contains("\"NoStartMarker\": 1"), "the junk: {log}");
}

//! Ping nodes on the namespace harness: a router on the cluster's link
//! answers heartbeat's ICMP echoes, so `ping ROUTER` shows it as a node of
//! type ping with status ping; cutting the router's port makes it dead after
//! deadping (the cluster nodes stay active); restoring it brings it back. A
//! `ping_group` stays alive while any member answers. Timing: keepalive
//! 100ms, deadtime 500ms, deadping 700ms; waits are hang detectors.

use integration_tests::TestCluster;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cl_status(c: &TestCluster, i: usize, args: &[&str]) -> (String, i32) {
    let out = c.node(i).run("cl_status", args);
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

fn wait_log(c: &TestCluster, i: usize, needle: &str, n: usize) {
    let node = c.node(i);
    assert!(
        node.wait_for(|| count(&node.log(), needle) >= n),
        "node{i} never logged {needle:?} {n} time(s):\n{}",
        node.log()
    );
}

#[test]
fn a_ping_node_follows_its_router_dead_when_cut_and_back_when_restored() {
    let mut c = TestCluster::new("ping1", 2, 1);
    let router = c.add_router(0, 254);
    c.configure(&format!("ping {router}\ndeadping 700ms\n"));
    c.start(1);
    c.start(2);
    wait_log(&c, 1, "Status update for node node2: status active", 1);
    wait_log(
        &c,
        1,
        &format!("Status update for node {router}: status ping"),
        1,
    );
    let log = c.node(1).log();
    assert!(log.contains("ping heartbeat started."), "{log}");
    assert!(
        log.contains(&format!("Link {router}:{router} up.")),
        "{log}"
    );

    assert_eq!(
        cl_status(&c, 1, &["nodetype", &router]),
        ("ping\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", &router]),
        ("ping\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["listnodes", "-p"]),
        (format!("{router}\n"), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["listnodes", "-n"]),
        ("node2\nnode1\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["listhblinks", &router]),
        (format!("\t{router}\n"), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["hblinkstatus", &router, &router]),
        ("up\n".into(), 0)
    );

    c.set_router(0, 254, false);
    wait_log(&c, 1, &format!("node {router}: is dead"), 1);
    let log = c.node(1).log();
    let dead = log.find(&format!("node {router}: is dead")).unwrap();
    let link_dead = log
        .find(&format!("Link {router}:{router} dead."))
        .expect("the link dies with the node");
    assert!(dead < link_dead, "node first, then its link:\n{log}");
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", &router]),
        ("dead\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["hblinkstatus", &router, &router]),
        ("dead\n".into(), 0)
    );
    assert!(
        !log.contains("node node2: is dead"),
        "the cluster node stays: {log}"
    );

    c.set_router(0, 254, true);
    wait_log(
        &c,
        1,
        &format!("Status update for node {router}: status ping"),
        2,
    );
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", &router]),
        ("ping\n".into(), 0)
    );
    // node2 sees the router too, independently.
    assert!(
        c.node(2)
            .log()
            .contains(&format!("Status update for node {router}: status ping")),
        "{}",
        c.node(2).log()
    );
    // Shutdown reports the echo traffic.
    assert!(c.node(1).run("heartbeat", &["-k"]).status.success());
    assert!(c.node(1).log().contains("echo requests sent"));
}

#[test]
fn a_ping_group_lives_while_any_member_answers() {
    let mut c = TestCluster::new("pinggrp", 1, 1);
    let a = c.add_router(0, 253);
    let b = c.add_router(0, 254);
    c.configure(&format!("ping_group routers {a} {b}\ndeadping 700ms\n"));
    c.start(1);
    wait_log(&c, 1, "Status update for node routers: status ping", 1);
    assert!(c.node(1).log().contains("ping group heartbeat started."));
    assert!(c.node(1).log().contains("Link routers:routers up."));
    assert_eq!(
        cl_status(&c, 1, &["listnodes", "-v"]),
        (
            "\nrouters\tping\t(nodetype: ping)\n\trouters\tup\n\
             \nnode1\tactive\t(nodetype: normal)\n\teth0\tup\n"
                .into(),
            0
        )
    );

    // One member cut: the other keeps the group alive well past deadping.
    c.set_router(0, 254, false);
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert!(
        !c.node(1).log().contains("node routers: is dead"),
        "{}",
        c.node(1).log()
    );
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", "routers"]),
        ("ping\n".into(), 0)
    );

    // Both cut: dead. One back: alive.
    c.set_router(0, 253, false);
    wait_log(&c, 1, "node routers: is dead", 1);
    wait_log(&c, 1, "Link routers:routers dead.", 1);
    c.set_router(0, 254, true);
    wait_log(&c, 1, "Status update for node routers: status ping", 2);
}

#[test]
fn a_ping_node_that_never_answers_is_dead_after_initdead() {
    let c = TestCluster::new("pingnone", 1, 1);
    // Nothing answers at .250 on the link.
    c.configure("ping 10.213.0.250\ndeadping 700ms\n");
    c.start(1);
    wait_log(&c, 1, "node 10.213.0.250: is dead", 1);
    let log = c.node(1).log();
    assert!(
        !log.contains("Status update for node 10.213.0.250"),
        "{log}"
    );
    assert!(!log.contains("Link 10.213.0.250:10.213.0.250 up."), "{log}");
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", "10.213.0.250"]),
        ("dead\n".into(), 0)
    );
}

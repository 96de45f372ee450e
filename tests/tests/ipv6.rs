//! IPv6 on the namespace harness (every node has `fd21:3:<link>::<node>` on
//! each link): nodes over `ucast6` and `mcast6` see each other, notice a
//! killed node and a cut link; a `ping6` node follows its router. Timing:
//! keepalive 100ms, deadtime 500ms; waits are hang detectors.

use integration_tests::TestCluster;
use nix::sys::signal::Signal;

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

fn all_active(c: &TestCluster, n: usize) {
    for i in 1..=n {
        for j in (1..=n).filter(|j| *j != i) {
            wait_log(
                c,
                i,
                &format!("Status update for node node{j}: status active"),
                1,
            );
        }
    }
}

#[test]
fn three_nodes_over_ucast6_see_each_other_and_notice_a_killed_node() {
    let c = TestCluster::new("ucast6", 3, 1);
    // Every node lists every node, itself included, as Heartbeat's
    // documentation allows: its own copy brings its own link up.
    let media: String = (1..=3)
        .map(|i| format!("ucast6 eth0 {}\n", TestCluster::addr6(0, i)))
        .collect();
    c.configure_media(&media, "");
    for i in 1..=3 {
        c.start(i);
    }
    all_active(&c, 3);
    let log = c.node(1).log();
    assert!(
        log.contains("ucast6 eth0 fd21:3::2: heartbeat started on port 694."),
        "{log}"
    );
    for j in 1..=3 {
        assert!(log.contains(&format!("Link node{j}:eth0 up.")), "{log}");
    }
    c.signal(3, Signal::SIGKILL);
    for i in 1..=2 {
        wait_log(&c, i, "node node3: is dead", 1);
        wait_log(&c, i, "Link node3:eth0 dead.", 1);
    }
    assert!(!c.node(1).log().contains("node node2: is dead"));
}

#[test]
fn mcast6_carries_a_cluster_and_a_cut_link_is_seen_while_ucast6_keeps_it() {
    let c = TestCluster::new("mcast6", 2, 2);
    let media = format!(
        "mcast6 eth0 ff12::694:1 694 1 1\nucast6 eth1 {}\nucast6 eth1 {}\n",
        TestCluster::addr6(1, 1),
        TestCluster::addr6(1, 2)
    );
    c.configure_media(&media, "");
    c.start(1);
    c.start(2);
    all_active(&c, 2);
    wait_log(&c, 1, "Link node2:eth0 up.", 1);
    wait_log(&c, 1, "Link node2:eth1 up.", 1);
    // The multicast loop option brings our own packets back.
    wait_log(&c, 1, "Link node1:eth0 up.", 1);
    c.set_link(2, 0, false);
    wait_log(&c, 1, "Link node2:eth0 dead.", 1);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = c.node(1).log();
    assert!(!log.contains("node node2: is dead"), "{log}");
    assert!(!log.contains("Link node2:eth1 dead."), "{log}");
    c.set_link(2, 0, true);
    wait_log(&c, 1, "Link node2:eth0 up.", 2);
}

#[test]
fn a_ping6_node_follows_its_router() {
    let mut c = TestCluster::new("ping6", 1, 1);
    c.add_router(0, 254);
    let router = TestCluster::addr6(0, 254);
    c.configure(&format!("ping6 {router}\ndeadping 700ms\n"));
    c.start(1);
    wait_log(
        &c,
        1,
        &format!("Status update for node {router}: status ping"),
        1,
    );
    wait_log(&c, 1, &format!("Link {router}:{router} up."), 1);
    let out = c.node(1).run("cl_status", &["nodetype", &router]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n");
    c.set_router(0, 254, false);
    wait_log(&c, 1, &format!("node {router}: is dead"), 1);
    c.set_router(0, 254, true);
    wait_log(
        &c,
        1,
        &format!("Status update for node {router}: status ping"),
        2,
    );
}

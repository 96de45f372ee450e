//! Consensus membership on real nodes in network namespaces: heartbeat
//! starts ccm (a `respawn` line); views agree everywhere, a killed node
//! leaves them with quorum kept, a 2|3 split gives quorum to the three,
//! healing makes one view again, a one-way link gives consistent smaller
//! views, a frozen node leaves and comes back; `crm_node` reports it all.
//! Waits are hang detectors (20 s), never timing assertions.

use ccmapi::{Request, Response, ViewInfo};
use integration_tests::{bin, TestCluster};
use nix::sys::signal::Signal;

fn start(test: &str, n: usize) -> TestCluster {
    let c = TestCluster::new(test, n, 1);
    c.configure(&format!(
        "respawn root {}\napiauth ccm uid=root\n",
        bin("ccm").display()
    ));
    for i in 1..=n {
        c.start(i);
    }
    c
}

fn view(c: &TestCluster, i: usize) -> Option<ViewInfo> {
    let mut client = ccmapi::connect(&c.node(i).paths()).ok()?;
    match client.call(&Request::View).ok()? {
        Response::View(v) => v,
        _ => None,
    }
}

fn names(v: &ViewInfo) -> Vec<String> {
    v.members.iter().map(|m| m.name.clone()).collect()
}

/// Waits until every node of `nodes` has the same view with exactly
/// `members`; returns it.
fn agreed(c: &TestCluster, nodes: &[usize], members: &[&str]) -> ViewInfo {
    let mut last = Vec::new();
    let ok = c.node(nodes[0]).wait_for(|| {
        last = nodes.iter().map(|i| view(c, *i)).collect();
        let first = last[0].clone();
        first.as_ref().is_some_and(|v| names(v) == members) && last.iter().all(|v| *v == first)
    });
    if !ok {
        let logs: String = nodes
            .iter()
            .map(|i| format!("--- node{i}:\n{}", c.node(*i).log()))
            .collect();
        panic!("nodes {nodes:?} never agreed on {members:?}: {last:#?}\n{logs}");
    }
    last[0].clone().expect("checked above")
}

fn crm_node(c: &TestCluster, i: usize, args: &[&str]) -> (i32, String) {
    let out = c.node(i).run("crm_node", args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn three_nodes_agree_and_a_killed_node_leaves_the_view_with_quorum_kept() {
    let c = start("ccm3", 3);
    let v = agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
    assert!(v.quorate);
    assert_eq!((v.votes, v.expected_votes), (3, 3));
    assert_eq!(crm_node(&c, 1, &["-p"]), (0, "node1 node2 node3\n".into()));
    assert_eq!(crm_node(&c, 2, &["-q"]), (0, "1\n".into()));
    assert_eq!(crm_node(&c, 2, &["-n"]), (0, "node2\n".into()));
    assert_eq!(crm_node(&c, 3, &["-i"]), (0, "3\n".into()));
    assert_eq!(crm_node(&c, 3, &["-N", "1"]), (0, "node1\n".into()));
    assert_eq!(
        crm_node(&c, 1, &["-l"]),
        (0, "1 node1 member\n2 node2 member\n3 node3 member\n".into())
    );

    c.signal(3, Signal::SIGKILL);
    let after = agreed(&c, &[1, 2], &["node1", "node2"]);
    assert!(after.instance > v.instance);
    assert!(after.quorate);
    assert_eq!((after.votes, after.expected_votes), (2, 3));
    assert_eq!(
        crm_node(&c, 1, &["-l"]),
        (0, "1 node1 member\n2 node2 member\n3 node3 lost\n".into())
    );
    assert_eq!(crm_node(&c, 2, &["-p"]), (0, "node1 node2\n".into()));

    // -R: dangerous without --force, refused for a member and an unknown
    // node, then the lost node is forgotten.
    assert_eq!(crm_node(&c, 1, &["-R", "node3"]).0, 64);
    assert_eq!(crm_node(&c, 1, &["-R", "node2", "--force"]).0, 1);
    assert_eq!(crm_node(&c, 1, &["-R", "node9", "--force"]).0, 105);
    assert_eq!(
        crm_node(&c, 1, &["-R", "node3", "--force"]),
        (0, String::new())
    );
    assert_eq!(
        crm_node(&c, 1, &["-l"]),
        (0, "1 node1 member\n2 node2 member\n".into())
    );
    assert_eq!(crm_node(&c, 1, &[]).0, 64);
}

#[test]
fn a_two_three_split_gives_quorum_to_the_three_and_healing_makes_one_view() {
    let c = start("ccm5", 5);
    let all = ["node1", "node2", "node3", "node4", "node5"];
    let v = agreed(&c, &[1, 2, 3, 4, 5], &all);
    assert!(v.quorate);

    c.partition(&[1, 2], 0);
    let small = agreed(&c, &[1, 2], &["node1", "node2"]);
    let big = agreed(&c, &[3, 4, 5], &["node3", "node4", "node5"]);
    assert!(!small.quorate);
    assert!(big.quorate);
    assert_eq!((small.votes, small.expected_votes), (2, 5));
    assert_eq!(crm_node(&c, 1, &["-q"]), (0, "0\n".into()));
    assert_eq!(crm_node(&c, 4, &["-q"]), (0, "1\n".into()));
    assert_eq!(crm_node(&c, 2, &["-p"]), (0, "node1 node2\n".into()));

    c.unblock_all();
    let healed = agreed(&c, &[1, 2, 3, 4, 5], &all);
    assert!(healed.instance > small.instance.max(big.instance));
    assert!(healed.quorate);
}

#[test]
fn a_one_way_link_gives_consistent_smaller_views() {
    let c = start("ccm1w", 3);
    agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
    // node2 stops hearing node1; node1 still hears node2.
    c.block(1, 2, 0);
    agreed(&c, &[1, 3], &["node1", "node3"]);
    agreed(&c, &[2], &["node2"]);
    c.unblock_all();
    agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
}

#[test]
fn a_node_frozen_longer_than_deadtime_leaves_and_comes_back() {
    let c = start("ccmstop", 3);
    let v = agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
    c.signal_node(3, Signal::SIGSTOP);
    let without = agreed(&c, &[1, 2], &["node1", "node2"]);
    assert!(without.instance > v.instance);
    c.signal_node(3, Signal::SIGCONT);
    let back = agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
    assert!(back.instance > without.instance);
}

#[test]
fn pacemaker_respawn_starts_ccm_as_hacluster_and_two_nodes_keep_quorum_with_one() {
    let c = TestCluster::new("ccmpcmk", 2, 1);
    c.configure("pacemaker respawn\n");
    // ccm runs as hacluster: its socket, pid file and state live in the
    // node's run/ and lib/, which a package would make hacluster's.
    let hacluster = nix::unistd::User::from_name("hacluster")
        .expect("user lookup")
        .expect("user hacluster (test.sh installs heartbeat)");
    for i in 1..=2 {
        for d in ["run", "lib"] {
            nix::unistd::chown(
                &c.node(i).root.join(d),
                Some(hacluster.uid),
                Some(hacluster.gid),
            )
            .expect("chown");
        }
        c.start(i);
    }
    let v = agreed(&c, &[1, 2], &["node1", "node2"]);
    assert!(v.quorate);
    let pid = c.daemon_pid(1, "ccm").expect("ccm runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    assert!(
        uid_line.split_whitespace().nth(1) == Some(&hacluster.uid.to_string()),
        "{uid_line}"
    );
    c.signal(2, Signal::SIGKILL);
    let alone = agreed(&c, &[1], &["node1"]);
    assert!(alone.quorate, "two-node cluster lost quorum: {alone:?}");
    assert_eq!(crm_node(&c, 1, &["-q"]), (0, "1\n".into()));
}

#[test]
fn a_killed_ccm_is_respawned_and_rejoins_with_a_new_incarnation() {
    let c = start("ccmresp", 3);
    let v = agreed(&c, &[1, 2, 3], &["node1", "node2", "node3"]);
    let old = c.daemon_pid(2, "ccm").expect("ccm runs on node2");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), Signal::SIGKILL).expect("kill ccm");
    let ok = c.node(1).wait_for(|| {
        let views: Vec<_> = (1..=3).map(|i| view(&c, i)).collect();
        views[0].as_ref().is_some_and(|w| {
            w.instance > v.instance
                && w.members.len() == 3
                && w.members[1].incarnation > v.members[1].incarnation
        }) && views.iter().all(|w| *w == views[0])
    });
    assert!(
        ok,
        "no new view with node2's new incarnation:\n{}",
        c.node(2).log()
    );
    assert_ne!(c.daemon_pid(2, "ccm"), Some(old));
}

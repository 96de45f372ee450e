//! attrd and attrd_updater on real daemons: a standalone attrd with a
//! standalone cib (set, query, delete, the status and nodes sections,
//! dampening, batching, bad input), and three nodes started with
//! `pacemaker respawn` (a value set on one node for another is known
//! everywhere and written once, by its node; link-status attributes
//! follow a cut link; an attrd killed and respawned gets the others'
//! values back and starts clean itself). Waits are hang detectors
//! (20 s), never timing assertions; the dampening test checks only that
//! the CIB did not change before the delay.

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use attrdapi::{AttrdClient, Change, Lifetime, Request, Response, Update};
use cib_xml::doc::parse_cib;
use cib_xml::Limits;
use cibapi::{CibClient, OpKind, OpRequest};
use integration_tests::{bin, TestCluster, TestNode};
use nix::sys::signal::Signal;

fn updater(node: &TestNode, args: &[&str]) -> Output {
    node.run("attrd_updater", args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The whole CIB of a node's cib daemon.
fn cib_of(paths: &plumbing::HaPaths) -> Option<cib_xml::Element> {
    let mut c = CibClient::local(paths, Some(Duration::from_secs(10))).ok()?;
    match c.perform(OpRequest::new(OpKind::Query)).ok()? {
        cibapi::Response::Xml(x) => parse_cib(&x, &Limits::default()).ok(),
        _ => None,
    }
}

/// The value of the nvpair with `id`, under the element path `under`.
fn nvpair(cib: &cib_xml::Element, under: &[&str], id: &str) -> Option<String> {
    cib.path(under)?
        .find_id(id, Some("nvpair"))
        .and_then(|p| p.attr("value").map(str::to_string))
}

fn attrd_status(paths: &plumbing::HaPaths) -> Option<attrdapi::Status> {
    AttrdClient::local(paths, Duration::from_secs(5))
        .ok()?
        .status()
        .ok()
}

fn spawn(node: &TestNode, name: &str, args: &[&str]) -> Child {
    let mut cmd = Command::new(bin(name));
    node.apply_env(&mut cmd);
    cmd.args(args)
        .stderr(std::fs::File::create(node.logdir().join(format!("{name}.err"))).expect("log"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

/// A standalone cib and attrd for one node, started as root (both drop
/// to hacluster).
struct Standalone {
    node: TestNode,
    cib: Option<Child>,
    attrd: Option<Child>,
}

impl Standalone {
    fn start(test: &str) -> Standalone {
        let node = TestNode::new(test);
        let cib = spawn(&node, "cib", &["-s"]);
        let paths = node.paths();
        assert!(
            node.wait_for(|| CibClient::local(&paths, Some(Duration::from_secs(2))).is_ok()),
            "cib did not come up"
        );
        let mut s = Standalone {
            node,
            cib: Some(cib),
            attrd: None,
        };
        s.start_attrd();
        s
    }

    fn start_attrd(&mut self) {
        self.attrd = Some(spawn(&self.node, "attrd", &["-s"]));
        let paths = self.node.paths();
        let up = self
            .node
            .wait_for(|| attrd_status(&paths).is_some_and(|st| st.cib_connected));
        assert!(up, "attrd did not come up: {}", self.stderr("attrd"));
    }

    fn stderr(&self, name: &str) -> String {
        std::fs::read_to_string(self.node.logdir().join(format!("{name}.err"))).unwrap_or_default()
    }

    fn stop_attrd(&mut self) {
        if let Some(mut c) = self.attrd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        self.stop_attrd();
        if let Some(mut c) = self.cib.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const STATUS: &[&str] = &["status"];
const NODES: &[&str] = &["configuration", "nodes"];

#[test]
fn set_query_delete_in_the_status_and_nodes_sections() {
    let mut s = Standalone::start("attrdbasic");
    let n = &s.node;
    let paths = n.paths();
    let o = updater(n, &["-n", "colour", "-U", "blue"]);
    assert_eq!(code(&o), 0, "{o:?}");
    // The query answers at once, in Pacemaker's words.
    let o = updater(n, &["-n", "colour", "-Q"]);
    assert_eq!(
        stdout(&o),
        "name=\"colour\" host=\"node1\" value=\"blue\"\n"
    );
    let o = updater(n, &["-Q", "-A", "-n", "colour"]);
    assert_eq!(
        stdout(&o),
        "name=\"colour\" host=\"node1\" value=\"blue\"\n"
    );
    // Transient: status/node_state[@id=node1]/transient_attributes/...
    let id = "status-node1-colour";
    assert!(
        n.wait_for(|| cib_of(&paths)
            .and_then(|c| nvpair(&c, STATUS, id))
            .as_deref()
            == Some("blue")),
        "transient value not in the CIB: {:?}",
        cib_of(&paths)
    );
    let cib = cib_of(&paths).expect("cib");
    let ns = cib.path(&["status", "node_state"]).expect("node_state");
    assert_eq!(
        (ns.attr("id"), ns.attr("uname")),
        (Some("node1"), Some("node1"))
    );
    let set = ns
        .path(&["transient_attributes", "instance_attributes"])
        .expect("transient set");
    assert_eq!(set.attr("id"), Some("status-node1"));
    assert_eq!(nvpair(&cib, NODES, "nodes-node1-colour"), None);
    // crm_mon -A shows it once the node is online (the controller's part
    // of node_state, written here by hand).
    let o = n.run(
        "cibadmin",
        &[
            "-M",
            "-c",
            "-o",
            "status",
            "-X",
            r#"<node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>"#,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let o = n.run("crm_mon", &["-1", "-A"]);
    let text = stdout(&o);
    assert!(
        text.lines()
            .any(|l| l.contains("colour") && l.contains(": blue")),
        "{text}"
    );

    // Permanent: nodes/node[@id=node1]/instance_attributes[@id=nodes-node1].
    let o = updater(n, &["-n", "weight", "-U", "7", "-l", "forever"]);
    assert_eq!(code(&o), 0, "{o:?}");
    assert!(n.wait_for(|| {
        cib_of(&paths)
            .and_then(|c| nvpair(&c, NODES, "nodes-node1-weight"))
            .as_deref()
            == Some("7")
    }));
    let cib = cib_of(&paths).expect("cib");
    let node = cib.path(NODES).and_then(|x| x.child("node")).expect("node");
    assert_eq!(
        (node.attr("id"), node.attr("uname")),
        (Some("node1"), Some("node1"))
    );
    assert_eq!(nvpair(&cib, STATUS, "status-node1-weight"), None);
    assert!(cib_xml::validate::validate(&cib).is_ok());

    // A restarted attrd starts clean but finds its permanent values.
    assert_eq!(code(&updater(n, &["-n", "temp", "-U", "1"])), 0);
    assert!(n.wait_for(|| cib_of(&paths)
        .and_then(|c| nvpair(&c, STATUS, "status-node1-temp"))
        .is_some()));
    s.stop_attrd();
    s.start_attrd();
    let n = &s.node;
    let o = updater(n, &["-n", "weight", "-Q"]);
    assert_eq!(stdout(&o), "name=\"weight\" host=\"node1\" value=\"7\"\n");
    assert_eq!(code(&updater(n, &["-n", "temp", "-Q"])), 78);
    assert!(cib_of(&paths).is_some_and(|c| nvpair(&c, STATUS, "status-node1-temp").is_none()));
    assert!(cib_of(&paths).is_some_and(|c| nvpair(&c, STATUS, id).is_none()));

    // Delete: gone from the CIB; attrd still knows the name (value "").
    let o = updater(n, &["-n", "colour", "-D"]);
    assert_eq!(code(&o), 0, "{o:?}");
    assert!(n.wait_for(|| cib_of(&paths).is_some_and(|c| nvpair(&c, STATUS, id).is_none())));
    let o = updater(n, &["-n", "colour", "-Q"]);
    assert_eq!(stdout(&o), "name=\"colour\" host=\"node1\" value=\"\"\n");
    let o = updater(n, &["-n", "weight", "-D", "-l", "forever"]);
    assert_eq!(code(&o), 0, "{o:?}");
    assert!(n.wait_for(|| {
        cib_of(&paths).is_some_and(|c| nvpair(&c, NODES, "nodes-node1-weight").is_none())
    }));

    // What another client removes of this node's status (as a controller
    // clearing a node it thinks left) is written again, with no refresh:
    // one value, then the whole block.
    let o = updater(n, &["-n", "again", "-U", "1"]);
    assert_eq!(code(&o), 0);
    let aid = "status-node1-again";
    assert!(n.wait_for(|| cib_of(&paths)
        .and_then(|c| nvpair(&c, STATUS, aid))
        .is_some()));
    for xml in [
        format!("<nvpair id=\"{aid}\"/>"),
        "<transient_attributes id=\"node1\"/>".to_string(),
    ] {
        let o = n.run("cibadmin", &["-D", "-X", &xml]);
        assert!(o.status.success(), "{o:?}");
        assert!(
            n.wait_for(|| cib_of(&paths)
                .and_then(|c| nvpair(&c, STATUS, aid))
                .as_deref()
                == Some("1")),
            "not written again after removing {xml}"
        );
    }
    // Refresh: everything written again (nothing changes when it is there).
    assert_eq!(code(&updater(n, &["-R"])), 0);
    assert_eq!(
        cib_of(&paths)
            .and_then(|c| nvpair(&c, STATUS, aid))
            .as_deref(),
        Some("1")
    );

    // value++ counts (Pacemaker's fail counts).
    for _ in 0..3 {
        assert_eq!(code(&updater(n, &["-n", "fails", "-U", "value++"])), 0);
    }
    assert_eq!(
        stdout(&updater(n, &["-n", "fails", "-Q"])),
        "name=\"fails\" host=\"node1\" value=\"3\"\n"
    );

    // -p: known to attrd, never written (a later value written after it
    // is the sync point).
    assert_eq!(code(&updater(n, &["-n", "hidden", "-U", "1", "-p"])), 0);
    assert_eq!(code(&updater(n, &["-n", "shown", "-U", "1"])), 0);
    assert!(n.wait_for(|| cib_of(&paths)
        .and_then(|c| nvpair(&c, STATUS, "status-node1-shown"))
        .is_some()));
    assert_eq!(
        stdout(&updater(n, &["-n", "hidden", "-Q"])),
        "name=\"hidden\" host=\"node1\" value=\"1\"\n"
    );
    assert!(cib_of(&paths).is_some_and(|c| nvpair(&c, STATUS, "status-node1-hidden").is_none()));

    // Bad input: usage errors (64), no such attribute (78), no such node
    // (105); nothing reaches the CIB.
    let before = cib_of(&paths).expect("cib");
    for (args, want) in [
        (vec!["-U", "1"], 64),
        (vec!["-n", "x", "-U", "1", "-l", "bogus"], 64),
        (vec!["-n", "x", "-U", "1", "-d", "soon"], 64),
        (vec!["-n", "", "-U", "1"], 64),
        (vec!["-n", "x", "-U", "1", "-D"], 64),
        (vec!["-n", "never-set", "-Q"], 78),
        (vec!["-n", "x", "-U", "1", "-N", "node9"], 105),
    ] {
        let o = updater(n, &args);
        assert_eq!(code(&o), want, "{args:?}: {o:?}");
        assert!(!o.stderr.is_empty(), "{args:?} says nothing");
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = cib_of(&paths).expect("cib");
    assert_eq!(
        after.path(&["status"]).map(|s| s.to_compact()),
        before.path(&["status"]).map(|s| s.to_compact())
    );
    // attrd not running: 102, as Pacemaker's.
    s.stop_attrd();
    let o = updater(&s.node, &["-n", "again", "-Q"]);
    assert_eq!(code(&o), 102, "{o:?}");
    let o = updater(&s.node, &["-n", "again", "-U", "2"]);
    assert_eq!(code(&o), 102, "{o:?}");
}

/// Diffs the cib pushes, with when they were read.
fn collect_diffs(c: &mut CibClient, until: Instant, out: &mut Vec<(Instant, String)>) {
    while Instant::now() < until {
        match c.next_event(Some(Duration::from_millis(50))) {
            Ok(Some(cibapi::Event::Diff { patch, .. })) => out.push((Instant::now(), patch)),
            Ok(_) => {}
            Err(e) => panic!("cib subscription: {e}"),
        }
    }
}

#[test]
fn dampening_writes_after_the_delay_and_a_change_restarts_it() {
    let s = Standalone::start("attrddamp");
    let n = &s.node;
    let paths = n.paths();
    let mut sub = CibClient::local(&paths, Some(Duration::from_secs(10))).expect("cib");
    sub.subscribe().expect("subscribe");
    let delay = Duration::from_secs(3);
    let mut diffs = Vec::new();
    let t1 = Instant::now();
    assert_eq!(
        code(&updater(n, &["-n", "damp", "-U", "first", "-d", "3s"])),
        0
    );
    collect_diffs(&mut sub, t1 + Duration::from_secs(1), &mut diffs);
    // A second change within the delay starts it again.
    let t2 = Instant::now();
    assert_eq!(
        code(&updater(n, &["-n", "damp", "-B", "second", "-d", "3s"])),
        0
    );
    // Whether attrd surely had the second value before the first one's
    // delay ran out (a machine stalled for seconds may not manage).
    let in_time = Instant::now() < t1 + delay;
    // The query has the new value at once.
    let o = updater(n, &["-n", "damp", "-Q"]);
    assert_eq!(
        stdout(&o),
        "name=\"damp\" host=\"node1\" value=\"second\"\n"
    );
    let id = "status-node1-damp";
    let written = |diffs: &[(Instant, String)]| {
        diffs
            .iter()
            .find(|(_, p)| p.contains(id) && p.contains("second"))
            .map(|(at, _)| *at)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && written(&diffs).is_none() {
        collect_diffs(
            &mut sub,
            Instant::now() + Duration::from_millis(100),
            &mut diffs,
        );
    }
    let at = written(&diffs).expect("the second value reached the CIB");
    // Never before the delay after the last change (the read time is
    // after the write, so this bound holds however slow the machine).
    assert!(
        at >= t2 + delay,
        "written {:?} after the second change",
        at - t2
    );
    let writes: Vec<&(Instant, String)> = diffs.iter().filter(|(_, p)| p.contains(id)).collect();
    if in_time {
        // The first value was never written: its delay started again.
        assert_eq!(writes.len(), 1, "{writes:?}");
    } else {
        eprintln!("attrd dampening: the machine was too slow to check the restart");
    }
    assert_eq!(
        cib_of(&paths)
            .and_then(|c| nvpair(&c, STATUS, id))
            .as_deref(),
        Some("second")
    );
    // The same value again changes nothing: no new write.
    assert_eq!(code(&updater(n, &["-n", "damp", "-U", "second"])), 0);
    let mut more = Vec::new();
    collect_diffs(
        &mut sub,
        Instant::now() + Duration::from_millis(500),
        &mut more,
    );
    assert!(more.iter().all(|(_, p)| !p.contains(id)), "{more:?}");
}

#[test]
fn many_updates_make_few_cib_writes() {
    let s = Standalone::start("attrdbatch");
    let n = &s.node;
    let paths = n.paths();
    let mut sub = CibClient::local(&paths, Some(Duration::from_secs(10))).expect("cib");
    sub.subscribe().expect("subscribe");
    let mut a = AttrdClient::local(&paths, Duration::from_secs(10)).expect("attrd");
    let before = a.status().expect("status").cib_updates;
    const N: usize = 200;
    for i in 0..N {
        a.send(&Request::Update(Update {
            name: format!("batch{i}"),
            node: None,
            change: Change::Set(i.to_string()),
            delay_ms: None,
            lifetime: Lifetime::Reboot,
            private: false,
        }))
        .expect("send");
    }
    // Answered in order: everything before it was taken.
    assert_eq!(
        a.call(&Request::Query {
            name: format!("batch{}", N - 1),
            node: None
        })
        .expect("query"),
        Response::Values(Some(vec![attrdapi::NodeValue {
            node: "node1".into(),
            value: Some((N - 1).to_string())
        }]))
    );
    let all_written = n.wait_for(|| {
        cib_of(&paths).is_some_and(|c| {
            (0..N).all(|i| nvpair(&c, STATUS, &format!("status-node1-batch{i}")).is_some())
        })
    });
    assert!(all_written, "not every value reached the CIB");
    let mut diffs = Vec::new();
    collect_diffs(
        &mut sub,
        Instant::now() + Duration::from_millis(300),
        &mut diffs,
    );
    let updates = a.status().expect("status").cib_updates - before;
    let writes = diffs.iter().filter(|(_, p)| p.contains("batch")).count();
    eprintln!("attrd_batch updates={N} cib_updates={updates} cib_diffs={writes}");
    assert!(writes <= 10, "{N} updates took {writes} CIB writes");
    assert!(updates <= 10, "{N} updates took {updates} CIB updates");

    // One attrd_updater process per update, one after the other: a
    // figure for the report (how many land in one batch depends on the
    // machine's speed), no assertion.
    let before = a.status().expect("status").cib_updates;
    let start = Instant::now();
    const M: usize = 50;
    for i in 0..M {
        let v = i.to_string();
        assert_eq!(code(&updater(n, &["-n", &format!("seq{i}"), "-U", &v])), 0);
    }
    let took = start.elapsed();
    assert!(n.wait_for(|| cib_of(&paths).is_some_and(|c| {
        (0..M).all(|i| nvpair(&c, STATUS, &format!("status-node1-seq{i}")).is_some())
    })));
    let updates = a.status().expect("status").cib_updates - before;
    eprintln!(
        "attrd_sequential updates={M} cib_updates={updates} ms_per_updater={:.1}",
        took.as_secs_f64() * 1000.0 / M as f64
    );
}

// --- three nodes --------------------------------------------------------

fn start_cluster(test: &str, links: usize) -> TestCluster {
    let c = TestCluster::new(test, 3, links);
    c.configure("pacemaker respawn\n");
    let hacluster = nix::unistd::User::from_name("hacluster")
        .expect("user lookup")
        .expect("user hacluster (test.sh installs heartbeat)");
    for i in 1..=3 {
        // What a package would do: the CRM daemons' directories are
        // hacluster's.
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
    let all = ["node1", "node2", "node3"];
    for i in 1..=3 {
        let paths = c.node(i).paths();
        let mut last = None;
        let ok = c.node(i).wait_for(|| {
            last = attrd_status(&paths);
            last.as_ref()
                .is_some_and(|s| s.peers == all && s.cib_connected)
        });
        assert!(
            ok,
            "attrd on node{i} did not see all peers: {last:?}\n{}",
            c.node(i).log()
        );
    }
    c
}

/// `attrd_updater -Q -A -n NAME` on node `i`, as (host, value) pairs.
fn query_all(c: &TestCluster, i: usize, name: &str) -> Vec<(String, String)> {
    let o = updater(c.node(i), &["-Q", "-A", "-n", name]);
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let host = l.split("host=\"").nth(1)?.split('"').next()?;
            let value = l.split("value=\"").nth(1)?.split('"').next()?;
            Some((host.to_string(), value.to_string()))
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn uuid_of(c: &TestCluster, i: usize) -> String {
    attrd_status(&c.node(i).paths()).expect("attrd status").uuid
}

#[test]
fn values_are_cluster_wide_written_once_by_their_node_and_come_back_after_a_restart() {
    let c = start_cluster("attrdclu", 1);
    let uuid2 = uuid_of(&c, 2);
    assert_ne!(uuid2, "node2", "the id is heartbeat's uuid");
    let mut sub = CibClient::local(&c.node(1).paths(), Some(Duration::from_secs(10))).expect("cib");
    sub.subscribe().expect("subscribe");

    // Set on node1 for node2: known on all three nodes.
    let start = Instant::now();
    let o = updater(c.node(1), &["-n", "site", "-U", "left", "-N", "node2"]);
    assert_eq!(code(&o), 0, "{o:?}");
    let answered = start.elapsed();
    // Known on node1 when the updater returns (node2 announced it before
    // answering).
    assert_eq!(query_all(&c, 1, "site"), pairs(&[("node2", "left")]));
    let seen3 = c
        .node(3)
        .wait_for(|| query_all(&c, 3, "site") == pairs(&[("node2", "left")]));
    eprintln!(
        "attrd_forward answered_ms={} on_node3_ms={} (polled)",
        answered.as_millis(),
        start.elapsed().as_millis()
    );
    assert!(seen3);
    for i in 1..=3 {
        let ok = c
            .node(i)
            .wait_for(|| query_all(&c, i, "site") == pairs(&[("node2", "left")]));
        assert!(ok, "node{i}: {:?}", query_all(&c, i, "site"));
    }
    // Written once, by node2, under node2's node_state (the same on
    // every node's cib).
    let id = format!("status-{uuid2}-site");
    for i in 1..=3 {
        let paths = c.node(i).paths();
        let ok = c.node(i).wait_for(|| {
            cib_of(&paths).is_some_and(|cib| {
                cib.path(&["status"])
                    .into_iter()
                    .flat_map(|s| s.children_named("node_state"))
                    .any(|ns| {
                        ns.attr("id") == Some(uuid2.as_str())
                            && ns.attr("uname") == Some("node2")
                            && ns
                                .find_id(&id, Some("nvpair"))
                                .and_then(|p| p.attr("value"))
                                == Some("left")
                    })
            })
        });
        assert!(
            ok,
            "node{i}'s CIB lacks {id}: {:?}",
            cib_of(&paths).map(|c| c.to_pretty())
        );
    }
    let mut diffs = Vec::new();
    collect_diffs(
        &mut sub,
        Instant::now() + Duration::from_secs(1),
        &mut diffs,
    );
    let writes = diffs.iter().filter(|(_, p)| p.contains(&id)).count();
    assert_eq!(writes, 1, "{id} written {writes} times");

    // Values of node1 and node3, and one of node2 itself.
    for (i, name, v) in [(1, "a", "1"), (3, "c", "3"), (2, "b", "2")] {
        assert_eq!(code(&updater(c.node(i), &["-n", name, "-U", v])), 0);
    }
    for (name, host, v) in [
        ("a", "node1", "1"),
        ("c", "node3", "3"),
        ("b", "node2", "2"),
    ] {
        assert!(c
            .node(2)
            .wait_for(|| query_all(&c, 2, name) == pairs(&[(host, v)])));
    }
    let bid = format!("status-{uuid2}-b");
    let p2 = c.node(2).paths();
    assert!(c
        .node(2)
        .wait_for(|| cib_of(&p2).and_then(|x| nvpair(&x, STATUS, &bid)).is_some()));

    // node2's attrd dies; heartbeat starts it again. It learns the
    // others' values and gets its own back from them (its node did not
    // die), and writes them again after clearing the CIB at start.
    let old = c.daemon_pid(2, "attrd").expect("attrd runs on node2");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), Signal::SIGKILL).expect("kill");
    let respawned = c.node(2).wait_for(|| {
        c.daemon_pid(2, "attrd").is_some_and(|p| p != old) && attrd_status(&p2).is_some()
    });
    assert!(respawned, "attrd was not respawned: {}", c.node(2).log());
    let known = [
        ("a", "node1", "1"),
        ("c", "node3", "3"),
        ("b", "node2", "2"),
        ("site", "node2", "left"),
    ];
    for (name, host, v) in known {
        for i in 1..=3 {
            let ok = c
                .node(i)
                .wait_for(|| query_all(&c, i, name) == pairs(&[(host, v)]));
            assert!(
                ok,
                "{name} on node{i} after node2's attrd restarted: {:?}",
                query_all(&c, i, name)
            );
        }
    }
    assert!(c.node(2).wait_for(|| cib_of(&p2)
        .and_then(|x| nvpair(&x, STATUS, &bid))
        .as_deref()
        == Some("2")));
    // The restarted attrd takes updates for its node again.
    assert_eq!(
        code(&updater(
            c.node(3),
            &["-n", "site", "-U", "right", "-N", "node2"]
        )),
        0
    );
    for i in 1..=3 {
        assert!(c
            .node(i)
            .wait_for(|| query_all(&c, i, "site") == pairs(&[("node2", "right")])));
    }

    // node2 reboots (its whole stack killed, heartbeat started again): it
    // starts clean, everywhere and in the CIB, and learns the others'.
    c.signal_node(2, Signal::SIGKILL);
    let p1 = c.node(1).paths();
    assert!(c
        .node(1)
        .wait_for(|| { attrd_status(&p1).is_some_and(|s| s.peers == ["node1", "node3"]) }));
    let down = c.node(2).wait_for(|| {
        attrd_status(&p2).is_none() && CibClient::local(&p2, Some(Duration::from_secs(1))).is_err()
    });
    assert!(down, "node2's daemons did not stop");
    c.start(2);
    assert!(c.node(2).wait_for(|| {
        attrd_status(&p2).is_some_and(|s| s.peers == ["node1", "node2", "node3"])
    }));
    for (name, want) in [
        ("a", pairs(&[("node1", "1")])),
        ("c", pairs(&[("node3", "3")])),
        ("b", vec![]),
        ("site", vec![]),
    ] {
        for i in 1..=3 {
            let ok = c.node(i).wait_for(|| query_all(&c, i, name) == want);
            assert!(
                ok,
                "{name} on node{i} after node2 rebooted: {:?}",
                query_all(&c, i, name)
            );
        }
    }
    assert!(c
        .node(1)
        .wait_for(|| cib_of(&p1).is_some_and(|x| nvpair(&x, STATUS, &bid).is_none())));

    // node3 dies: the survivors forget its values, and one of them
    // removes its transient attributes from the CIB; node3's links are
    // dead in the survivors' link attributes.
    let uuid3 = uuid_of(&c, 3);
    let cid = format!("status-{uuid3}-c");
    assert!(c
        .node(1)
        .wait_for(|| cib_of(&p1).and_then(|x| nvpair(&x, STATUS, &cid)).is_some()));
    c.signal_node(3, Signal::SIGKILL);
    for i in 1..=2 {
        let ok = c.node(i).wait_for(|| {
            query_all(&c, i, "c").is_empty()
                && query_all(&c, i, "node3-eth0") == pairs(&[("node1", "dead"), ("node2", "dead")])
        });
        assert!(
            ok,
            "node{i}: c {:?}, node3-eth0 {:?}",
            query_all(&c, i, "c"),
            query_all(&c, i, "node3-eth0")
        );
    }
    let gone = c.node(1).wait_for(|| {
        cib_of(&p1).is_some_and(|x| {
            x.path(&["status"])
                .into_iter()
                .flat_map(|s| s.children_named("node_state"))
                .filter(|ns| ns.attr("id") == Some(uuid3.as_str()))
                .all(|ns| ns.child("transient_attributes").is_none())
        })
    });
    assert!(
        gone,
        "node3's transient attributes stay: {:?}",
        cib_of(&p1).map(|x| x.to_pretty())
    );
    // Updates for a node that is down are refused.
    let o = updater(c.node(1), &["-n", "c", "-U", "4", "-N", "node3"]);
    assert_eq!(code(&o), 105, "{o:?}");
}

#[test]
fn link_attributes_follow_each_heartbeat_link() {
    let c = start_cluster("attrdlink", 2);
    // Heartbeat started attrd as hacluster.
    let pid = c.daemon_pid(1, "attrd").expect("attrd pid file");
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid = nix::unistd::User::from_name("hacluster")
        .expect("lookup")
        .expect("hacluster")
        .uid;
    assert!(
        st.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some(&uid.to_string())),
        "attrd is not running as hacluster"
    );
    let uuid1 = uuid_of(&c, 1);
    let p1 = c.node(1).paths();
    // node1 publishes node2-eth0 and node2-eth1 (and node3's), up; every
    // node sees them, and they are in node1's transient attributes.
    for link in ["eth0", "eth1"] {
        let name = format!("node2-{link}");
        for i in 1..=3 {
            let ok = c.node(i).wait_for(|| {
                query_all(&c, i, &name).contains(&("node1".to_string(), "up".to_string()))
            });
            assert!(ok, "node{i}: {name} {:?}", query_all(&c, i, &name));
        }
        let id = format!("status-{uuid1}-{name}");
        assert!(c
            .node(1)
            .wait_for(
                || cib_of(&p1).and_then(|x| nvpair(&x, STATUS, &id)).as_deref() == Some("up")
            ));
    }
    // node2's port on link 1 goes down: node1's node2-eth1 turns dead
    // (everywhere and in the CIB); node2-eth0 stays up.
    c.set_link(2, 1, false);
    let id = format!("status-{uuid1}-node2-eth1");
    for i in 1..=3 {
        let ok = c.node(i).wait_for(|| {
            query_all(&c, i, "node2-eth1").contains(&("node1".to_string(), "dead".to_string()))
        });
        assert!(ok, "node{i}: {:?}", query_all(&c, i, "node2-eth1"));
    }
    assert!(c
        .node(1)
        .wait_for(|| cib_of(&p1).and_then(|x| nvpair(&x, STATUS, &id)).as_deref() == Some("dead")));
    assert!(query_all(&c, 1, "node2-eth0").contains(&("node1".to_string(), "up".to_string())));
    // node2 itself sees its links to node1 and node3 on eth1 dead.
    assert!(c.node(2).wait_for(|| {
        query_all(&c, 2, "node1-eth1").contains(&("node2".to_string(), "dead".to_string()))
    }));
    // Back up.
    c.set_link(2, 1, true);
    assert!(c
        .node(1)
        .wait_for(|| cib_of(&p1).and_then(|x| nvpair(&x, STATUS, &id)).as_deref() == Some("up")));
}

/// Whether node `i`'s CIB holds `value` for nvpair `name` of the node
/// with `uuid`, in its transient attributes.
fn cib_has(c: &TestCluster, i: usize, uuid: &str, name: &str, value: &str) -> bool {
    let id = format!("status-{uuid}-{name}");
    cib_of(&c.node(i).paths())
        .and_then(|x| nvpair(&x, STATUS, &id))
        .is_some_and(|v| v == value)
}

#[test]
fn a_healed_partition_ends_with_every_value_everywhere() {
    let c = start_cluster("attrdpart", 1);
    let uuids: Vec<String> = (1..=3).map(|i| uuid_of(&c, i)).collect();
    for (i, v) in [(1, "one"), (2, "two"), (3, "three")] {
        assert_eq!(code(&updater(c.node(i), &["-n", "mine", "-U", v])), 0);
    }
    let all = pairs(&[("node1", "one"), ("node2", "two"), ("node3", "three")]);
    for i in 1..=3 {
        assert!(c.node(i).wait_for(|| query_all(&c, i, "mine") == all));
    }
    // Split: each side forgets the other's values.
    c.partition(&[1, 2], 0);
    for (i, want) in [
        (1, pairs(&[("node1", "one"), ("node2", "two")])),
        (2, pairs(&[("node1", "one"), ("node2", "two")])),
        (3, pairs(&[("node3", "three")])),
    ] {
        let ok = c.node(i).wait_for(|| query_all(&c, i, "mine") == want);
        assert!(
            ok,
            "node{i} during the split: {:?}",
            query_all(&c, i, "mine")
        );
    }
    // Changes on both sides meanwhile.
    assert_eq!(code(&updater(c.node(3), &["-n", "mine", "-U", "THREE"])), 0);
    assert_eq!(code(&updater(c.node(1), &["-n", "mine", "-U", "ONE"])), 0);
    assert!(c
        .node(3)
        .wait_for(|| cib_has(&c, 3, &uuids[2], "mine", "THREE")));
    assert!(c
        .node(1)
        .wait_for(|| cib_has(&c, 1, &uuids[0], "mine", "ONE")));
    // Healed: every node holds every value, and every CIB has them.
    c.unblock_all();
    let all = pairs(&[("node1", "ONE"), ("node2", "two"), ("node3", "THREE")]);
    for i in 1..=3 {
        let ok = c.node(i).wait_for(|| query_all(&c, i, "mine") == all);
        assert!(ok, "node{i} after the heal: {:?}", query_all(&c, i, "mine"));
    }
    for i in 1..=3 {
        let ok = c.node(i).wait_for(|| {
            cib_has(&c, i, &uuids[0], "mine", "ONE")
                && cib_has(&c, i, &uuids[1], "mine", "two")
                && cib_has(&c, i, &uuids[2], "mine", "THREE")
        });
        assert!(
            ok,
            "node{i}'s CIB after the heal: {:?}",
            cib_of(&c.node(i).paths()).and_then(|x| x.child("status").map(|s| s.to_pretty()))
        );
    }
}

/// Debian's attrd_updater (Pacemaker 2.1.5) and ours, on command lines
/// that fail before or at connecting (no attrd runs for either): the same
/// exit code, the same message and the same standard output.
#[test]
fn refusals_match_pacemakers_attrd_updater() {
    let pacemaker = std::path::Path::new("/usr/sbin/attrd_updater");
    assert!(
        pacemaker.is_file(),
        "Debian's attrd_updater is missing (test.sh installs pacemaker-cli-utils)"
    );
    let node = TestNode::new("attrdcmp");
    for args in [
        vec!["-Q"],
        vec!["-U", "1"],
        vec!["-n", "x", "-U", "1", "-l", "bogus"],
        vec!["-n", "x", "-Q"],
        vec!["-n", "x"],
        vec!["-n", "x", "-U", "1"],
        vec!["-n", "x", "-v", "1", "-N", "node2"],
        vec!["-n", "x", "-D"],
        vec!["-n", "x", "-Y"],
        vec!["-n", "x", "-B", "3"],
        vec!["-R"],
    ] {
        let ours = updater(&node, &args);
        let theirs = Command::new(pacemaker)
            .args(&args)
            .output()
            .expect("run Debian's attrd_updater");
        assert_eq!(code(&ours), code(&theirs), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
            "{args:?}"
        );
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
    }
}

/// `crm_resource --cleanup` in a running cluster clears the fail counts in
/// attrd as well as in the CIB: attrd neither writes them back when the
/// status entries go nor counts a later failure on from them.
#[test]
fn cleanup_clears_fail_counts_in_attrd() {
    let s = Standalone::start("attrdcleanup");
    let n = &s.node;
    let paths = n.paths();
    let o = n.run(
        "cibadmin",
        &[
            "-C",
            "-o",
            "resources",
            "-X",
            r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>"#,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    // The node online, with a failed monitor of d in its history.
    let o = n.run(
        "cibadmin",
        &[
            "-M",
            "-c",
            "-o",
            "status",
            "-X",
            r#"<node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="node1"><lrm_resources><lrm_resource id="d" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" call-id="2" rc-code="0" op-status="0" interval="0"/><lrm_rsc_op id="d_monitor_10000" operation_key="d_monitor_10000" operation="monitor" transition-key="2:1:0:x" transition-magic="0:7;2:1:0:x" call-id="3" rc-code="7" op-status="0" interval="10000"/></lrm_resource></lrm_resources></lrm></node_state>"#,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let fail = "fail-count-d#monitor_10000";
    let o = updater(n, &["-n", fail, "-U", "3"]);
    assert_eq!(code(&o), 0, "{o:?}");
    let id = "status-node1-fail-count-d.monitor_10000";
    let in_cib = || {
        cib_of(&paths).is_some_and(|c| {
            c.path(STATUS).is_some_and(|st| {
                let mut found = false;
                st.walk(&mut |e| {
                    found |= e.name == "nvpair" && e.attr("name") == Some(fail);
                });
                found
            })
        })
    };
    assert!(
        n.wait_for(in_cib),
        "fail count not written: {:?}",
        cib_of(&paths)
    );

    let o = n.run("crm_resource", &["--cleanup", "-r", "d"]);
    assert_eq!(code(&o), 0, "{o:?}");
    // attrd forgot it...
    let o = updater(n, &["-n", fail, "-Q"]);
    assert!(!stdout(&o).contains("value=\"3\""), "{o:?}");
    // ...and after another write of this node's values it is still gone
    // from the CIB.
    let o = updater(n, &["-n", "marker", "-U", "1"]);
    assert_eq!(code(&o), 0, "{o:?}");
    assert!(n.wait_for(|| cib_of(&paths)
        .and_then(|c| nvpair(&c, STATUS, "status-node1-marker"))
        .is_some()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !in_cib(),
        "fail count came back: {:?} ({id})",
        cib_of(&paths)
    );
    // A new failure counts from 1, not 4.
    let o = updater(n, &["-n", fail, "-v", "value++"]);
    assert_eq!(code(&o), 0, "{o:?}");
    let o = updater(n, &["-n", fail, "-Q"]);
    assert!(stdout(&o).contains("value=\"1\""), "{o:?}");
}

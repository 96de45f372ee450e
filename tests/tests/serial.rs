//! The serial medium between two real nodes of ours, over pseudo-terminals:
//! each node's `serial` line is a pty slave, and the test relays bytes
//! between the two masters (a null-modem cable it can cut). The nodes see
//! each other over serial only, notice the cut and the reconnection; a line
//! that nobody reads never stalls the master (its other medium and its API
//! keep working, and it says "TTY write timeout").

use std::time::{Duration, Instant};

use hbapi::{Request, Response};
use integration_tests::pty::{pty, Cable};
use integration_tests::{TestCluster, TestNode};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn serial_node(test: &str, name: &str, tty: &str) -> TestNode {
    let mut node = TestNode::new(test);
    node.name = name.into();
    node.write_ha_cf(&format!(
        "keepalive 200ms\nwarntime 600ms\ndeadtime 1\ninitdead 3\nbaud 115200\nserial {tty}\n\
         node node1 node2\nauto_failback off\nuse_logd no\nlogfacility none\nlogfile ha-log\n"
    ));
    node.write_authkeys("auth 1\n1 sha1 serial-test-key\n", 0o600);
    node
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

fn wait_log(node: &TestNode, needle: &str, n: usize) {
    assert!(
        node.wait_for(|| count(&node.log(), needle) >= n),
        "{} never logged {needle:?} {n} time(s):\n{}",
        node.name,
        node.log()
    );
}

#[test]
fn two_nodes_see_each_other_over_serial_only_and_notice_a_cut_cable() {
    let (ma, _sa, ta) = pty();
    let (mb, _sb, tb) = pty();
    let cable = Cable::new(ma, mb);
    let n1 = serial_node("serial-n1", "node1", &ta);
    let n2 = serial_node("serial-n2", "node2", &tb);
    for n in [&n1, &n2] {
        let out = n.run("heartbeat", &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    wait_log(&n1, "Status update for node node2: status active", 1);
    wait_log(&n2, "Status update for node node1: status active", 1);
    let log = n1.log();
    assert!(
        log.contains(&format!(
            "Starting serial heartbeat on tty {ta} (115200 baud)"
        )),
        "{log}"
    );
    assert!(log.contains(&format!("Link node2:{ta} up.")), "{log}");
    let out = n1.run("cl_status", &["listhblinks", "-v", "node2"]);
    assert_eq!(text(&out.stdout), format!("\t{ta}\tup\n"));

    // Messages travel too: a client on node1 sends to node2's subscriber.
    let mut tx = hbapi::connect(&n1.paths()).unwrap();
    let mut rx = hbapi::connect(&n2.paths()).unwrap();
    for (c, name) in [(&mut tx, "sertx"), (&mut rx, "serrx")] {
        let r = c
            .call(&Request::Signon {
                client: name.into(),
            })
            .unwrap();
        assert_eq!(r, Response::Ok);
    }
    assert_eq!(
        rx.call(&Request::Subscribe(vec!["sertest".into()]))
            .unwrap(),
        Response::Ok
    );
    let mut m = msg::Message::new();
    m.add("t", "sertest").add("payload", "line one\nline two");
    let body = ipc::Bytes(msg::encode(&m).unwrap());
    assert_eq!(
        tx.call(&Request::Send { to: None, body }).unwrap(),
        Response::Ok
    );
    let got = loop {
        match rx.next_event(Some(Duration::from_secs(20))).unwrap() {
            Some(hbapi::Event::Message { body, .. }) => break msg::decode(&body.0).unwrap(),
            Some(_) => continue,
            None => panic!("no message over serial within 20s"),
        }
    };
    assert_eq!(got.get_str("payload"), Some("line one\nline two"));

    // Cut the cable: each side declares the other dead; plug it back: both
    // come back.
    cable.set_cut(true);
    wait_log(&n1, "node node2: is dead", 1);
    wait_log(&n1, &format!("Link node2:{ta} dead."), 1);
    wait_log(&n2, "node node1: is dead", 1);
    cable.set_cut(false);
    wait_log(&n1, "Status update for node node2: status active", 2);
    wait_log(&n2, "Status update for node node1: status active", 2);
    let log = n1.log();
    assert!(!log.contains("dropped a packet"), "{log}");

    // The other end of the line goes away: the port is closed and retried.
    let (ma, mb) = cable.unplug();
    drop((ma, mb));
    wait_log(&n1, &format!("EOF in ttygets [{ta}]"), 1);
    assert!(n1.run("heartbeat", &["-k"]).status.success());
    assert!(n2.run("heartbeat", &["-k"]).status.success());
}

#[test]
fn a_serial_line_nobody_reads_never_stalls_the_master() {
    let c = TestCluster::new("serstall", 2, 1);
    c.configure("");
    // node1 also has a serial line whose far end is never read.
    let (master, _slave, tty) = pty();
    let cf = c.node(1).confdir().join("ha.cf");
    let mut text_cf = std::fs::read_to_string(&cf).unwrap();
    text_cf.push_str(&format!("serial {tty}\n"));
    std::fs::write(&cf, text_cf).unwrap();
    c.start(1);
    c.start(2);
    for (i, j) in [(1, 2), (2, 1)] {
        let line = format!("Status update for node node{j}: status active");
        assert!(
            c.node(i).wait_for(|| c.node(i).log().contains(&line)),
            "{}",
            c.node(i).log()
        );
    }
    // Big client messages fill the line at once.
    let mut client = hbapi::connect(&c.node(1).paths()).unwrap();
    assert_eq!(
        client
            .call(&Request::Signon {
                client: "flood".into()
            })
            .unwrap(),
        Response::Ok
    );
    let mut m = msg::Message::new();
    m.add("t", "flood").add("payload", "x".repeat(20_000));
    let body = ipc::Bytes(msg::encode(&m).unwrap());
    for _ in 0..20 {
        let r = client
            .call(&Request::Send {
                to: None,
                body: body.clone(),
            })
            .unwrap();
        assert_eq!(r, Response::Ok);
    }
    let n1 = c.node(1);
    assert!(
        n1.wait_for(|| n1.log().contains(&format!("TTY write timeout on [{tty}]"))),
        "{}",
        n1.log()
    );
    // The master answers at once, and node2 keeps hearing it over eth0.
    for _ in 0..10 {
        let start = Instant::now();
        let out = n1.run("cl_status", &["nodestatus", "node2"]);
        assert_eq!(text(&out.stdout), "active\n");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log2 = c.node(2).log();
    assert!(!log2.contains("node node1: is dead"), "{log2}");
    assert!(!log2.contains("Late heartbeat: Node node1"), "{log2}");
    drop(master);
}

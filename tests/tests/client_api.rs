//! The heartbeat client API and cl_status on a real two-node cluster:
//! cl_status reports what each node sees (with Heartbeat's outputs and exit
//! codes), and signed-on clients exchange cluster messages through the
//! master: broadcast to subscribers, and addressed to one node.

use std::time::Duration;

use hbapi::{Event, Request, Response};
use integration_tests::TestCluster;
use nix::sys::signal::Signal;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cl_status(c: &TestCluster, i: usize, args: &[&str]) -> (String, i32) {
    let out = c.node(i).run("cl_status", args);
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

fn up2(test: &str) -> TestCluster {
    let c = TestCluster::new(test, 2, 1);
    c.configure("");
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
    c
}

#[test]
fn cl_status_reports_nodes_links_and_parameters_and_sees_a_death() {
    let c = up2("clstatus");
    assert_eq!(
        cl_status(&c, 1, &["hbstatus"]),
        ("Heartbeat is running on this machine.\n".into(), 0)
    );
    // Heartbeat's cl_status lists the node table backwards.
    assert_eq!(
        cl_status(&c, 1, &["listnodes"]),
        ("node2\nnode1\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["hbstatus", "-v"]),
        (
            format!(
                "Heartbeat is running on this machine.\nversion:\t{}\n\
                 managed by:\t\"haresources\"\n\
                 \nnode2\tactive\t(nodetype: normal)\n\teth0\tup\n\
                 \nnode1\tactive\t(nodetype: normal)\n\teth0\tup\n",
                env!("CARGO_PKG_VERSION")
            ),
            0
        )
    );
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", "node2"]),
        ("active\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["nodetype", "node2"]),
        ("normal\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["listhblinks", "-v", "node2"]),
        ("\teth0\tup\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["hblinkstatus", "node2", "eth0"]),
        ("up\n".into(), 0)
    );
    assert_eq!(cl_status(&c, 1, &["hblinkstatus", "node2", "eth7"]).1, 13);
    assert_eq!(
        cl_status(&c, 1, &["nodestatus", "node9"]),
        ("Error. May be due to incorrect node name\n".into(), 11)
    );
    assert_eq!(
        cl_status(&c, 1, &["hbparameter", "-p", "deadtime"]),
        ("500ms\n".into(), 0)
    );
    assert_eq!(cl_status(&c, 1, &["hbparameter", "-p", "nonsense"]).1, 1);
    assert_eq!(cl_status(&c, 1, &["frobnicate"]).1, 11);
    c.signal(2, Signal::SIGKILL);
    let n1 = c.node(1);
    assert!(n1.wait_for(|| cl_status(&c, 1, &["nodestatus", "node2"]).0 == "dead\n"));
    assert_eq!(
        cl_status(&c, 1, &["hblinkstatus", "node2", "eth0"]),
        ("dead\n".into(), 0)
    );
    // Node 2's heartbeat is gone.
    assert_eq!(
        cl_status(&c, 2, &["hbstatus"]),
        ("Heartbeat is stopped on this machine.\n".into(), 1)
    );
}

fn signon(c: &TestCluster, i: usize, name: &str) -> ipc::BlockingClient<hbapi::HbApi> {
    let mut cl = hbapi::connect(&c.node(i).paths()).expect("connect to heartbeat");
    assert_eq!(
        cl.call(&Request::Signon {
            client: name.into()
        })
        .unwrap(),
        Response::Ok
    );
    cl
}

fn body(t: &str, payload: &str) -> ipc::Bytes {
    let mut m = msg::Message::new();
    m.add("t", t).add("payload", payload);
    ipc::Bytes(msg::encode(&m).unwrap())
}

fn next_message(cl: &mut ipc::BlockingClient<hbapi::HbApi>) -> (String, msg::Message) {
    loop {
        match cl
            .next_event(Some(Duration::from_secs(20)))
            .expect("event stream")
        {
            Some(Event::Message { from, body }) => return (from, msg::decode(&body.0).unwrap()),
            Some(_) => continue,
            None => panic!("no message within 20s"),
        }
    }
}

#[test]
fn signed_on_clients_exchange_messages_through_the_cluster() {
    let c = up2("apimsg");
    let mut sender = signon(&c, 1, "apitest-a");
    let mut receiver = signon(&c, 2, "apitest-b");
    // Clients must sign on before sending; names are unique per node.
    let mut anon = hbapi::connect(&c.node(1).paths()).unwrap();
    assert!(matches!(
        anon.call(&Request::Send { to: None, body: body("x", "y") }).unwrap(),
        Response::Error(e) if e.contains("sign on first")
    ));
    assert!(matches!(
        anon.call(&Request::Signon { client: "apitest-a".into() }).unwrap(),
        Response::Error(e) if e.contains("already signed on")
    ));
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node1", "apitest-a"]),
        ("online\n".into(), 0)
    );
    // Clients on the other node: its master is asked over the cluster.
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node2", "apitest-b"]),
        ("online\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 2, &["clientstatus", "node1", "apitest-a", "2000"]),
        ("online\n".into(), 0)
    );
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node2", "apitest-a"]),
        ("offline\n".into(), 1)
    );
    assert_eq!(
        receiver
            .call(&Request::Subscribe(vec!["apitest".into()]))
            .unwrap(),
        Response::Ok
    );
    // Not subscribed: ignored. Subscribed: delivered in order.
    for (t, p) in [("other", "skip"), ("apitest", "one"), ("apitest", "two")] {
        assert_eq!(
            sender
                .call(&Request::Send {
                    to: None,
                    body: body(t, p)
                })
                .unwrap(),
            Response::Ok
        );
    }
    for want in ["one", "two"] {
        let (from, m) = next_message(&mut receiver);
        assert_eq!(from, "node1");
        assert_eq!(m.get_str("t"), Some("apitest"));
        assert_eq!(m.get_str("payload"), Some(want));
    }
    // Addressed to node2 only.
    let to = Request::Send {
        to: Some("node2".into()),
        body: body("apitest", "direct"),
    };
    assert_eq!(sender.call(&to).unwrap(), Response::Ok);
    let (_, m) = next_message(&mut receiver);
    assert_eq!(m.get_str("payload"), Some("direct"));
    assert_eq!(m.get_str("dest"), Some("node2"));
}

#[test]
fn a_remote_client_status_fails_in_time_when_the_node_does_not_answer_and_is_offline_when_dead() {
    let c = TestCluster::new("cstatus", 2, 1);
    // A long deadtime, so node2 stays active while it is frozen.
    c.configure("deadtime 5\nwarntime 2\ninitdead 10\n");
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
    let _client = signon(&c, 2, "apitest-c");
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node2", "apitest-c"]),
        ("online\n".into(), 0)
    );
    c.signal(2, Signal::SIGSTOP);
    let start = std::time::Instant::now();
    let out = c
        .node(1)
        .run("cl_status", &["clientstatus", "node2", "apitest-c", "300"]);
    let waited = start.elapsed();
    c.signal(2, Signal::SIGCONT);
    assert_eq!(out.status.code(), Some(13), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Cannot get heartbeat client apitest-c's status")
            && stderr.contains("No timely response."),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(4),
        "waited {waited:?} for a 300 ms timeout"
    );
    // Answered again once node2 runs.
    assert!(c
        .node(1)
        .wait_for(|| cl_status(&c, 1, &["clientstatus", "node2", "apitest-c"]).1 == 0));
    // A dead node's clients are offline, without asking.
    c.signal(2, Signal::SIGKILL);
    assert!(c
        .node(1)
        .wait_for(|| cl_status(&c, 1, &["nodestatus", "node2"]).0 == "dead\n"));
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node2", "apitest-c"]),
        ("offline\n".into(), 1)
    );
    // An unknown node is an error.
    assert_eq!(
        cl_status(&c, 1, &["clientstatus", "node9", "apitest-c"]).1,
        13
    );
}

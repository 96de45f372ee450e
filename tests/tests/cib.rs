//! The cib daemon on real nodes: durability across kill -9 in the middle
//! of a stream of acknowledged writes, refused updates that change
//! nothing, recovery from a damaged cib.xml, and replication between three
//! nodes started with `pacemaker respawn` (updates from any node, a node
//! that was down catching up, a healed partition converging on the higher
//! version). Waits are hang detectors (20 s), never timing assertions.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use cib_xml::doc::parse_cib;
use cib_xml::version::Version;
use cib_xml::{digest, validate, Limits};
use cibapi::{CibClient, OpKind, OpRequest, Response, Status};
use integration_tests::{bin, TestCluster, TestNode};
use nix::sys::signal::Signal;

fn client(paths: &plumbing::HaPaths) -> Option<CibClient> {
    CibClient::local(paths, Some(Duration::from_secs(10))).ok()
}

fn create_rsc(id: &str) -> OpRequest {
    let mut r = OpRequest::new(OpKind::Create);
    r.section = Some("resources".into());
    r.data = Some(format!(
        r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy"/>"#
    ));
    r
}

fn resources(c: &mut CibClient) -> String {
    let mut q = OpRequest::new(OpKind::Query);
    q.section = Some("resources".into());
    match c.perform(q) {
        Ok(Response::Xml(x)) => x,
        other => panic!("query failed: {other:?}"),
    }
}

/// A standalone cib for one node, started as root (it drops to hacluster).
struct Standalone {
    node: TestNode,
    child: Option<Child>,
}

impl Standalone {
    fn new(test: &str) -> Standalone {
        Standalone {
            node: TestNode::new(test),
            child: None,
        }
    }

    fn start(&mut self) {
        let mut cmd = Command::new(bin("cib"));
        self.node.apply_env(&mut cmd);
        let child = cmd
            .args(["-s", "--backups", "5"])
            .stderr(std::fs::File::create(self.node.logdir().join("cib.err")).expect("log"))
            .spawn()
            .expect("start cib");
        self.child = Some(child);
        let paths = self.node.paths();
        let up = self.node.wait_for(|| client(&paths).is_some());
        assert!(up, "cib did not come up: {}", self.stderr());
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.node.logdir().join("cib.err")).unwrap_or_default()
    }

    fn crm(&self) -> PathBuf {
        self.node.root.join("lib/crm")
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The on-disk CIB, checked: it parses, its .sig matches, it validates.
fn on_disk(crm: &Path) -> cib_xml::Element {
    let text = std::fs::read_to_string(crm.join("cib.xml")).expect("cib.xml");
    let cib = parse_cib(&text, &Limits::default()).expect("cib.xml parses");
    let sig = std::fs::read_to_string(crm.join("cib.xml.sig")).expect("cib.xml.sig");
    assert_eq!(sig.trim(), digest::on_disk(&cib), "digest of cib.xml");
    validate::validate(&cib).expect("cib.xml validates");
    cib
}

fn rsc_ids(cib: &cib_xml::Element) -> Vec<String> {
    cib.child("configuration")
        .and_then(|c| c.child("resources"))
        .map(|r| r.children.iter().map(|p| p.id().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn kill_9_during_a_stream_of_writes_loses_no_acknowledged_update() {
    let mut s = Standalone::new("cibcrash");
    let paths = s.node.paths();
    let mut acked: Vec<(String, u64)> = Vec::new();
    let mut n = 0;
    for round in 0..3 {
        s.start();
        let mut c = client(&paths).expect("connect");
        // Writes keep going from a second thread while this one kills the
        // daemon after a few more acknowledgements.
        let target = acked.len() + 20 + round * 7;
        let (tx, rx) = std::sync::mpsc::channel();
        let start = n;
        let writer = std::thread::spawn(move || {
            let mut i = start;
            loop {
                let id = format!("r{i}");
                // Sent but maybe not acknowledged: report it first.
                if tx.send((id.clone(), None)).is_err() {
                    return i;
                }
                match c.perform(create_rsc(&id)) {
                    Ok(Response::Done { version, .. }) => {
                        if tx.send((id, Some(version.epoch))).is_err() {
                            return i + 1;
                        }
                    }
                    _ => return i + 1,
                }
                i += 1;
            }
        });
        let mut in_flight = None;
        let mut count = acked.len();
        while let Ok((id, ack)) = rx.recv() {
            match ack {
                None => in_flight = Some(id),
                Some(epoch) => {
                    acked.push((id, epoch));
                    in_flight = None;
                    count += 1;
                    if count == target {
                        s.kill9();
                    }
                }
            }
        }
        n = writer.join().expect("writer");
        let cib = on_disk(&s.crm());
        let ids = rsc_ids(&cib);
        for (id, _) in &acked {
            assert!(ids.contains(id), "acknowledged {id} missing from cib.xml");
        }
        let epoch = Version::of(&cib).epoch;
        let acked_epochs: Vec<u64> = acked.iter().map(|(_, e)| *e).collect();
        let last = acked_epochs.last().copied().unwrap_or(0);
        // The file holds the last acknowledged version, or the one whose
        // acknowledgement the kill cut off (written, not yet answered).
        assert!(
            epoch == last || (epoch == last + 1 && in_flight.is_some()),
            "on-disk epoch {epoch}, last acknowledged {last}, in flight {in_flight:?}"
        );
    }
    // A restart serves everything acknowledged.
    s.start();
    let mut c = client(&paths).expect("connect");
    let text = resources(&mut c);
    for (id, _) in &acked {
        assert!(
            text.contains(&format!("id=\"{id}\"")),
            "{id} lost after restart"
        );
    }
}

#[test]
fn a_refused_update_changes_nothing_in_memory_or_on_disk() {
    let mut s = Standalone::new("cibrefuse");
    s.start();
    let paths = s.node.paths();
    let mut c = client(&paths).expect("connect");
    assert!(matches!(
        c.perform(create_rsc("A")),
        Ok(Response::Done { .. })
    ));
    let before_disk = std::fs::read(s.crm().join("cib.xml")).expect("cib.xml");
    let before = c.status().expect("status");
    // Exists (108), invalid XML (65), a schema violation (78), an older
    // configuration (103).
    let mut bad_schema = OpRequest::new(OpKind::Create);
    bad_schema.section = Some("resources".into());
    bad_schema.data = Some(r#"<primitive id="B" class="ocf"/>"#.into());
    let mut bad_xml = OpRequest::new(OpKind::Modify);
    bad_xml.data = Some("<primitive id=".into());
    let mut older = OpRequest::new(OpKind::Replace);
    older.data = Some(
        r#"<cib admin_epoch="0" epoch="0" num_updates="0" validate-with="pacemaker-3.9"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"#
            .into(),
    );
    for (req, code) in [
        (create_rsc("A"), 108),
        (bad_xml, 65),
        (bad_schema, 78),
        (older, 103),
    ] {
        match c.perform(req) {
            Ok(Response::Failed(f)) => assert_eq!(f.code, code, "{f:?}"),
            other => panic!("expected refusal {code}, got {other:?}"),
        }
    }
    assert_eq!(c.status().expect("status"), before);
    assert_eq!(
        std::fs::read(s.crm().join("cib.xml")).expect("cib.xml"),
        before_disk
    );
    // cibadmin reports it with Pacemaker's exit code and text.
    let out = s.node.run(
        "cibadmin",
        &[
            "-C",
            "-o",
            "resources",
            "-X",
            r#"<primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/>"#,
        ],
    );
    assert_eq!(out.status.code(), Some(108));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Call failed: File exists"));
}

#[test]
fn a_damaged_cib_xml_is_reported_and_the_newest_good_backup_used() {
    let mut s = Standalone::new("cibdamage");
    s.start();
    let paths = s.node.paths();
    let mut c = client(&paths).expect("connect");
    for id in ["A", "B", "C"] {
        assert!(matches!(
            c.perform(create_rsc(id)),
            Ok(Response::Done { .. })
        ));
    }
    drop(c);
    s.kill9();
    // Flip the content behind the digest's back.
    let p = s.crm().join("cib.xml");
    let text = std::fs::read_to_string(&p).expect("cib.xml");
    std::fs::write(&p, text.replace("id=\"C\"", "id=\"X\"")).expect("write");
    s.start();
    let mut c = client(&paths).expect("connect");
    let rs = resources(&mut c);
    assert!(rs.contains("id=\"B\"") && !rs.contains("id=\"X\""), "{rs}");
    assert!(s.stderr().contains("digest mismatch"), "{}", s.stderr());
    // The disk is consistent again and the damaged file kept aside.
    let cib = on_disk(&s.crm());
    assert_eq!(rsc_ids(&cib), ["A", "B"]);
    let aside = std::fs::read_dir(s.crm())
        .expect("dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("cib.auto."));
    assert!(aside);
    // With no good copy at all it refuses to start instead of going empty.
    drop(c);
    s.kill9();
    for e in std::fs::read_dir(s.crm()).expect("dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("cib") && !name.starts_with("cib.auto") {
            std::fs::write(e.path(), "garbage").expect("write");
        }
    }
    let mut cmd = Command::new(bin("cib"));
    s.node.apply_env(&mut cmd);
    let out = cmd.arg("-s").output().expect("run cib");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to start with an empty CIB"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- replication -------------------------------------------------------

fn start_cluster(test: &str) -> TestCluster {
    let c = TestCluster::new(test, 3, 1);
    // The cib alone, as hacluster: with `pacemaker respawn` the controller
    // and attrd would also write the status section, and these tests
    // compare exact versions.
    c.configure(&format!(
        "respawn hacluster {}\napiauth cib uid=hacluster\n",
        bin("cib").display()
    ));
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
    c
}

fn status(c: &TestCluster, i: usize) -> Option<Status> {
    client(&c.node(i).paths())?.status().ok()
}

/// Waits until nodes `nodes` all see exactly `peers` and agree on the
/// version and digest; returns that status.
fn converged(c: &TestCluster, nodes: &[usize], peers: &[&str]) -> Status {
    let mut last = Vec::new();
    let ok = c.node(nodes[0]).wait_for(|| {
        last = nodes.iter().map(|i| status(c, *i)).collect();
        let Some(first) = last[0].clone() else {
            return false;
        };
        first.peers == peers
            && !first.syncing
            && last.iter().all(|s| {
                s.as_ref().is_some_and(|s| {
                    s.peers == first.peers
                        && s.version == first.version
                        && s.digest == first.digest
                        && !s.syncing
                })
            })
    });
    if !ok {
        let logs: String = nodes
            .iter()
            .map(|i| format!("--- node{i}:\n{}", c.node(*i).log()))
            .collect();
        panic!("nodes {nodes:?} did not converge with peers {peers:?}: {last:#?}\n{logs}");
    }
    last[0].clone().expect("checked above")
}

fn write_on(c: &TestCluster, i: usize, req: OpRequest) -> Response {
    let mut cl = client(&c.node(i).paths()).expect("connect");
    cl.perform(req).expect("call")
}

fn has_rsc(c: &TestCluster, i: usize, id: &str) -> bool {
    let mut cl = client(&c.node(i).paths()).expect("connect");
    resources(&mut cl).contains(&format!("id=\"{id}\""))
}

#[test]
fn three_nodes_replicate_catch_up_after_a_restart_and_heal_to_the_higher_version() {
    let c = start_cluster("cibrepl");
    let all = ["node1", "node2", "node3"];
    converged(&c, &[1, 2, 3], &all);
    // The cib runs as hacluster, started by heartbeat.
    let pid = std::fs::read_to_string(c.node(1).root.join("run/crm/cib.pid")).expect("pid file");
    let st = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("status");
    let uid = nix::unistd::User::from_name("hacluster")
        .expect("lookup")
        .expect("hacluster")
        .uid;
    assert!(
        st.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some(&uid.to_string())),
        "cib is not running as hacluster"
    );

    // Updates through any node appear everywhere, with equal digests.
    for (i, id) in [(1, "r1"), (2, "r2"), (3, "r3"), (3, "r4")] {
        assert!(
            matches!(
                write_on(&c, i, create_rsc(id)),
                Response::Done { changed: true, .. }
            ),
            "write of {id} on node{i}"
        );
    }
    let s = converged(&c, &[1, 2, 3], &all);
    assert_eq!(s.master, "node1");
    for i in 1..=3 {
        for id in ["r1", "r2", "r3", "r4"] {
            assert!(has_rsc(&c, i, id), "{id} missing on node{i}");
        }
    }
    // A refused write from a replica changes nothing anywhere.
    match write_on(&c, 2, create_rsc("r1")) {
        Response::Failed(f) => assert_eq!(f.code, 108),
        other => panic!("{other:?}"),
    }
    assert_eq!(converged(&c, &[1, 2, 3], &all), s);

    // A node that was down catches up when it comes back.
    c.signal(3, Signal::SIGKILL);
    converged(&c, &[1, 2], &["node1", "node2"]);
    assert!(matches!(
        write_on(&c, 2, create_rsc("r5")),
        Response::Done { .. }
    ));
    c.node(3).wait_for(|| status(&c, 3).is_none());
    c.start(3);
    converged(&c, &[1, 2, 3], &all);
    assert!(has_rsc(&c, 3, "r5"));

    // A partition with updates on both sides heals to the higher version.
    c.partition(&[1, 2], 0);
    converged(&c, &[1, 2], &["node1", "node2"]);
    converged(&c, &[3], &["node3"]);
    for id in ["a1", "a2"] {
        assert!(matches!(
            write_on(&c, 2, create_rsc(id)),
            Response::Done { .. }
        ));
    }
    assert!(matches!(
        write_on(&c, 3, create_rsc("b1")),
        Response::Done { .. }
    ));
    let high = status(&c, 1).expect("status").version;
    c.unblock_all();
    let healed = converged(&c, &[1, 2, 3], &all);
    assert_eq!(healed.version, high);
    for i in 1..=3 {
        assert!(has_rsc(&c, i, "a2") && !has_rsc(&c, i, "b1"), "node{i}");
    }
}

/// A CIB far larger than what heartbeat carries in one go (12 MB of
/// text) replicates, and a node that was down catches up with it: full
/// copies above 1 MB travel bzip2-compressed.
#[test]
fn a_12_mb_cib_replicates_and_a_returning_node_catches_up() {
    let c = start_cluster("cibbig");
    let all = ["node1", "node2", "node3"];
    converged(&c, &[1, 2, 3], &all);
    c.signal(3, Signal::SIGKILL);
    converged(&c, &[1, 2], &["node1", "node2"]);
    c.node(3).wait_for(|| status(&c, 3).is_none());

    let mut text = String::from("<resources>");
    let mut n = 0;
    while text.len() < 12 << 20 {
        text.push_str(&format!(
            r#"<primitive id="big{n}" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="big{n}-ia"><nvpair id="big{n}-a" name="state" value="/var/run/resource-agents/big{n}.state"/></instance_attributes></primitive>"#
        ));
        n += 1;
    }
    text.push_str("</resources>");
    let mut r = OpRequest::new(OpKind::Replace);
    r.section = Some("resources".into());
    r.data = Some(text);
    let mut cl =
        CibClient::local(&c.node(1).paths(), Some(Duration::from_secs(120))).expect("connect");
    assert!(
        matches!(cl.perform(r), Ok(Response::Done { changed: true, .. })),
        "the 12 MB replace on node1"
    );
    let s = converged(&c, &[1, 2], &["node1", "node2"]);
    let last = format!("big{}", n - 1);
    assert!(has_rsc(&c, 2, &last), "node2 lacks {last}");

    c.start(3);
    let s3 = converged(&c, &[1, 2, 3], &all);
    assert_eq!(s3.version, s.version);
    assert!(has_rsc(&c, 3, &last), "node3 did not catch up");
    for i in 1..=3 {
        assert!(
            !c.node(i)
                .log()
                .contains("replicated over heartbeat; peers keep"),
            "node{i} refused to send the copy"
        );
    }
}

//! lrmd and lrmadmin with real resource agents: Debian's resource-agents
//! (ocf:heartbeat:Dummy, IPaddr2 in a network namespace the test makes)
//! and agents the tests write (LSB, heartbeat class, a hanging agent, one
//! that forks a daemon keeping stdout open). Each test runs its own lrmd
//! with its own `HA_*` directories and an OCF root that links Debian's
//! agents next to the test's own; everything is killed and removed on
//! drop, even when the test fails.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use integration_tests::{bin, TestNode};
use lrmapi::{Event, LrmClient, Notify, OpResult, OpSpec, OpStatus, Request, Resource, Response};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const DEBIAN_OCF: &str = "/usr/lib/ocf";

struct Lrmd {
    node: TestNode,
    child: Option<Child>,
    netns: Option<String>,
}

impl Lrmd {
    fn new(test: &str) -> Lrmd {
        assert!(
            Path::new(DEBIAN_OCF)
                .join("resource.d/heartbeat/Dummy")
                .is_file(),
            "resource-agents is missing: apt-get install resource-agents (test.sh does)"
        );
        let node = TestNode::new(&format!("lrmd-{test}"));
        let ocf = node.root.join("ocf");
        std::fs::create_dir_all(ocf.join("resource.d/test")).unwrap();
        std::fs::create_dir_all(node.root.join("init.d")).unwrap();
        std::fs::create_dir_all(node.confdir().join("resource.d")).unwrap();
        std::os::unix::fs::symlink(format!("{DEBIAN_OCF}/lib"), ocf.join("lib")).unwrap();
        std::os::unix::fs::symlink(
            format!("{DEBIAN_OCF}/resource.d/heartbeat"),
            ocf.join("resource.d/heartbeat"),
        )
        .unwrap();
        Lrmd {
            node,
            child: None,
            netns: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.node.root.join("lrmd.log")).unwrap();
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin("lrmd"));
                c
            }
            None => Command::new(bin("lrmd")),
        };
        self.node.apply_env(&mut c);
        c.env("OCF_ROOT", self.node.root.join("ocf"))
            .env("LRM_LSB_DIR", self.node.root.join("init.d"))
            .arg("--max-children")
            .arg("8")
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(c.spawn().expect("start lrmd"));
        let sock = lrmapi::socket_path(&self.node.paths());
        assert!(
            self.node
                .wait_for(|| LrmClient::connect(&sock, Duration::from_secs(1)).is_ok()),
            "lrmd did not start: {}",
            self.log()
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.node.root.join("lrmd.log")).unwrap_or_default()
    }

    fn client(&self) -> LrmClient {
        LrmClient::local(&self.node.paths(), Duration::from_secs(10)).expect("connect to lrmd")
    }

    fn lrmadmin(&self, args: &[&str]) -> (i32, String) {
        let out = self.node.run("lrmadmin", args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Writes an executable script.
    fn script(&self, path: PathBuf, text: &str) -> PathBuf {
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn ocf_agent(&self, name: &str, text: &str) {
        self.script(self.node.root.join("ocf/resource.d/test").join(name), text);
    }
}

impl Drop for Lrmd {
    fn drop(&mut self) {
        self.kill9();
        if let Some(ns) = &self.netns {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

fn add(
    c: &mut LrmClient,
    id: &str,
    class: &str,
    rtype: &str,
    provider: Option<&str>,
    params: &[(&str, &str)],
) {
    let r = Resource {
        id: id.into(),
        class: class.into(),
        rtype: rtype.into(),
        provider: provider.map(String::from),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    assert_eq!(c.call(&Request::Add(r)).unwrap(), Response::Ok);
}

fn spec(rsc: &str, op: &str, timeout_ms: u64, interval_ms: u64, notify: Notify) -> OpSpec {
    OpSpec {
        rsc: rsc.into(),
        op: op.into(),
        timeout_ms,
        interval_ms,
        start_delay_ms: 0,
        notify,
        params: BTreeMap::new(),
        app_name: "test".into(),
    }
}

fn perform(c: &mut LrmClient, s: OpSpec) -> u64 {
    match c.call(&Request::Perform(s)).unwrap() {
        Response::CallId(id) => id,
        other => panic!("perform refused: {other:?}"),
    }
}

/// The next reported result of `call_id` (a 30 s hang detector).
fn result_of(c: &mut LrmClient, call_id: u64) -> OpResult {
    loop {
        match c.next_event(Some(Duration::from_secs(30))).unwrap() {
            Some(Event::OpDone(r)) if r.call_id == call_id => return r,
            Some(_) => {}
            None => panic!("no result for call {call_id} within 30 s"),
        }
    }
}

/// Runs a one-shot operation and waits for its result.
fn run_op(c: &mut LrmClient, rsc: &str, op: &str, timeout_ms: u64) -> OpResult {
    let id = perform(c, spec(rsc, op, timeout_ms, 0, Notify::Every));
    result_of(c, id)
}

fn subscribed(l: &Lrmd) -> LrmClient {
    let mut c = l.client();
    assert_eq!(c.call(&Request::Subscribe).unwrap(), Response::Ok);
    c
}

/// Whether a process still exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn dummy_start_monitor_stop_and_monitor_after_its_state_file_is_removed() {
    let mut l = Lrmd::new("dummy");
    let (code, out) = l.lrmadmin(&["-L"]);
    assert_eq!((code, out.as_str()), (254, "lrmd is not running.\n"));
    l.start();
    assert_eq!(l.lrmadmin(&["--no-such-option"]).0, 255);
    assert_eq!(l.lrmadmin(&["-p", "max-children", "3"]).0, 0);
    assert_eq!(l.lrmadmin(&["-g", "max-children"]), (0, "3\n".to_owned()));
    let state = l.node.root.join("d1.state");
    let st = state.to_str().unwrap().to_owned();
    let state_param = format!("state={st}");
    let (code, out) = l.lrmadmin(&["-A", "d1", "ocf", "Dummy", "heartbeat", &state_param]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Succeeded in adding this resource.\n")
    );
    let (code, out) = l.lrmadmin(&["-M", "ocf", "Dummy", "heartbeat"]);
    assert_eq!(code, 0);
    assert!(out.contains("<resource-agent name=\"Dummy\""), "{out}");
    assert_eq!(l.lrmadmin(&["-P", "ocf", "Dummy"]).1, "heartbeat\n");
    let (code, out) = l.lrmadmin(&["-L"]);
    assert_eq!(code, 0);
    assert!(out.contains("Resource ID:d1\nResource agent class:ocf\nResource agent type:Dummy\nResource agent provider:heartbeat\n"), "{out}");
    let (code, out) = l.lrmadmin(&["-E", "d1", "monitor", "10000", "0", "EVERYTIME"]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains("operation status:succeed\nop_status: 0\nreturn code: 7\n"),
        "{out}"
    );
    let (code, out) = l.lrmadmin(&["-E", "d1", "start", "10000", "0", "EVERYTIME"]);
    assert_eq!(code, 0, "{out}");
    assert!(state.exists());
    assert_eq!(
        l.lrmadmin(&["-E", "d1", "monitor", "10000", "0", "EVERYTIME"])
            .0,
        0
    );

    // A recurring monitor reports its first result, then only changes.
    let mut c = subscribed(&l);
    let mon = perform(&mut c, spec("d1", "monitor", 10000, 300, Notify::Changed));
    let first = result_of(&mut c, mon);
    assert_eq!((first.status, first.rc), (OpStatus::Done, 0));
    std::fs::remove_file(&state).unwrap();
    let next = result_of(&mut c, mon);
    assert_eq!(
        (next.status, next.rc),
        (OpStatus::Done, 7),
        "the next report is the change"
    );
    let (code, out) = l.lrmadmin(&["-S", "d1"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("resource state:LRM_RSC_"), "{out}");
    assert!(
        out.contains("interval=300, timeout=10000, app_name=test"),
        "{out}"
    );
    assert!(
        out.contains("rc=7 (not running), op_status=0 (succeed)"),
        "{out}"
    );
    assert_eq!(
        c.call(&Request::Cancel("d1".into(), mon)).unwrap(),
        Response::Ok
    );
    let cancelled = result_of(&mut c, mon);
    assert_eq!(cancelled.status, OpStatus::Cancelled);

    // The history survives the client going away.
    drop(c);
    let mut c2 = l.client();
    let Response::State(s) = c2.call(&Request::State("d1".into())).unwrap() else {
        panic!("no state");
    };
    assert!(s.pending.is_empty());
    let ops: Vec<(&str, u64, i32)> = s
        .history
        .iter()
        .map(|h| (h.spec.op.as_str(), h.spec.interval_ms, h.rc))
        .collect();
    assert!(
        ops.contains(&("start", 0, 0)) && ops.contains(&("monitor", 300, 7)),
        "{ops:?}"
    );
    let (code, _) = l.lrmadmin(&["-E", "d1", "stop", "10000", "0", "EVERYTIME"]);
    assert_eq!(code, 0);
    assert_eq!(l.lrmadmin(&["-D", "d1"]).0, 0);
    assert_eq!(l.lrmadmin(&["-I", "d1"]).0, 253);
    assert_eq!(
        l.lrmadmin(&["-E", "d1", "stop", "1000", "0", "EVERYTIME"])
            .0,
        254
    );
}

#[test]
fn lsb_and_heartbeat_class_scripts() {
    let mut l = Lrmd::new("lsb");
    l.start();
    let flag = l.node.root.join("svc.on");
    let f = flag.display();
    l.script(
        l.node.root.join("init.d/svc"),
        &format!(
            "#!/bin/sh\ncase \"$1\" in\nstart) touch {f};;\nstop) rm -f {f};;\n\
             status) [ -e {f} ] && exit 0; exit 3;;\n*) exit 3;;\nesac\n"
        ),
    );
    let hb_flag = l.node.root.join("hb.on");
    let h = hb_flag.display();
    // Heartbeat v1: positional arguments first, the action last; status
    // is judged by its output.
    l.script(
        l.node.confdir().join("resource.d/hbsvc"),
        &format!(
            "#!/bin/sh\necho \"args: $*\" >> {h}.args\ncase \"$2\" in\n\
             start) echo \"$1\" > {h};;\nstop) rm -f {h};;\n\
             status) if [ -e {h} ]; then echo \"hbsvc is running\"; else echo \"hbsvc is stopped\"; fi; exit 0;;\nesac\n"
        ),
    );
    let mut c = subscribed(&l);
    add(&mut c, "s1", "lsb", "svc", None, &[]);
    add(
        &mut c,
        "h1",
        "heartbeat",
        "hbsvc",
        None,
        &[("1", "10.1.1.1")],
    );
    assert_eq!(
        run_op(&mut c, "s1", "monitor", 5000).rc,
        7,
        "LSB status 3 is not running"
    );
    assert_eq!(run_op(&mut c, "s1", "start", 5000).rc, 0);
    assert_eq!(run_op(&mut c, "s1", "monitor", 5000).rc, 0);
    assert_eq!(run_op(&mut c, "s1", "stop", 5000).rc, 0);
    assert_eq!(run_op(&mut c, "s1", "monitor", 5000).rc, 7);

    assert_eq!(run_op(&mut c, "h1", "monitor", 5000).rc, 7);
    assert_eq!(run_op(&mut c, "h1", "start", 5000).rc, 0);
    assert_eq!(std::fs::read_to_string(&hb_flag).unwrap(), "10.1.1.1\n");
    assert_eq!(run_op(&mut c, "h1", "monitor", 5000).rc, 0);
    assert_eq!(run_op(&mut c, "h1", "stop", 5000).rc, 0);
    assert_eq!(run_op(&mut c, "h1", "monitor", 5000).rc, 7);
    let args = std::fs::read_to_string(format!("{h}.args")).unwrap();
    assert!(
        args.starts_with("args: 10.1.1.1 status\nargs: 10.1.1.1 start\n"),
        "{args}"
    );
    let (code, out) = l.lrmadmin(&["-C"]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "There are 3 RA classes supported:\nheartbeat\nocf\nlsb\n"
        )
    );
    let (_, out) = l.lrmadmin(&["-T", "lsb"]);
    assert_eq!(out, "There are 1 RAs:\nsvc\n");
}

#[test]
fn a_hanging_agent_is_killed_at_its_timeout_with_its_process_group() {
    let mut l = Lrmd::new("hang");
    l.start();
    let dir = l.node.root.display().to_string();
    // One that dies on TERM, one that ignores it (killed after the grace).
    l.ocf_agent(
        "Hang",
        &format!("#!/bin/sh\necho $$ > {dir}/$OCF_RESOURCE_INSTANCE.leader\nsleep 300 &\necho $! > {dir}/$OCF_RESOURCE_INSTANCE.child\nwait\n"),
    );
    l.ocf_agent(
        "Stubborn",
        &format!("#!/bin/sh\ntrap '' TERM\necho $$ > {dir}/$OCF_RESOURCE_INSTANCE.leader\nsh -c \"trap '' TERM; sleep 300\" &\necho $! > {dir}/$OCF_RESOURCE_INSTANCE.child\nwhile :; do wait; done\n"),
    );
    let mut c = subscribed(&l);
    add(&mut c, "h", "ocf", "Hang", Some("test"), &[]);
    add(&mut c, "s", "ocf", "Stubborn", Some("test"), &[]);
    let a = perform(&mut c, spec("h", "start", 500, 0, Notify::Every));
    let b = perform(&mut c, spec("s", "start", 500, 0, Notify::Every));
    for (id, rsc) in [(a, "h"), (b, "s")] {
        let r = result_of(&mut c, id);
        assert_eq!(r.status, OpStatus::Timeout, "{rsc}: {r:?}");
        let leader = read_pid(&l.node.root.join(format!("{rsc}.leader")));
        let child = read_pid(&l.node.root.join(format!("{rsc}.child")));
        // lrmd reaped its child (no zombie) and the group is gone.
        assert!(
            !Path::new(&format!("/proc/{leader}")).exists(),
            "agent {leader} of {rsc} not reaped"
        );
        assert!(
            l.node.wait_for(|| !alive(child)),
            "{rsc}: child {child} survived"
        );
    }
    let (code, out) = l.lrmadmin(&["-E", "h", "start", "300", "0", "EVERYTIME"]);
    assert!(
        out.contains("operation status:timeout\nop_status: 2\n"),
        "{out}"
    );
    assert_eq!(code, 1);
    // A hanging meta-data is given up (5 s) without holding lrmd.
    let (code, _) = l.lrmadmin(&["-M", "ocf", "Hang", "test"]);
    assert_eq!(code, 253);
    assert_eq!(l.lrmadmin(&["-L"]).0, 0);
}

#[test]
fn an_agent_forking_a_daemon_that_keeps_stdout_open_still_completes() {
    let mut l = Lrmd::new("fork");
    l.start();
    let dir = l.node.root.display().to_string();
    l.ocf_agent(
        "Forker",
        &format!("#!/bin/sh\nsleep 300 &\necho $! > {dir}/daemon.pid\necho started\nexit 0\n"),
    );
    let mut c = subscribed(&l);
    add(&mut c, "f", "ocf", "Forker", Some("test"), &[]);
    let r = run_op(&mut c, "f", "start", 20000);
    let daemon = read_pid(&l.node.root.join("daemon.pid"));
    let still = alive(daemon);
    let _ = kill(Pid::from_raw(daemon), Signal::SIGKILL);
    assert_eq!(
        (r.status, r.rc, r.output.as_str()),
        (OpStatus::Done, 0, "started\n")
    );
    assert!(still, "the daemon keeps running after its start completed");
}

#[test]
fn ipaddr2_adds_and_removes_an_address_in_a_network_namespace() {
    let mut l = Lrmd::new("ipaddr2");
    let ns = format!("lrmt{}", std::process::id());
    let ip = |args: &[&str]| {
        let s = Command::new("ip").args(args).status().expect("ip");
        assert!(s.success(), "ip {args:?}");
    };
    ip(&["netns", "add", &ns]);
    l.netns = Some(ns.clone());
    ip(&[
        "-n", &ns, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
    ]);
    ip(&["-n", &ns, "addr", "add", "10.77.0.1/24", "dev", "veth0"]);
    ip(&["-n", &ns, "link", "set", "veth0", "up"]);
    ip(&["-n", &ns, "link", "set", "veth1", "up"]);
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    l.start();
    let addrs = || {
        let o = Command::new("ip")
            .args(["-n", &ns, "-4", "addr", "show", "dev", "veth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let mut c = subscribed(&l);
    // No nic: IPaddr2 finds veth0 from the route to the address.
    add(
        &mut c,
        "vip",
        "ocf",
        "IPaddr2",
        Some("heartbeat"),
        &[("ip", "10.77.0.50"), ("cidr_netmask", "24")],
    );
    assert_eq!(run_op(&mut c, "vip", "monitor", 20000).rc, 7);
    let r = run_op(&mut c, "vip", "start", 20000);
    assert_eq!((r.status, r.rc), (OpStatus::Done, 0), "{r:?}\n{}", l.log());
    assert!(addrs().contains("10.77.0.50/24"), "{}", addrs());
    assert_eq!(run_op(&mut c, "vip", "monitor", 20000).rc, 0);
    assert_eq!(run_op(&mut c, "vip", "stop", 20000).rc, 0);
    assert!(!addrs().contains("10.77.0.50"), "{}", addrs());
    assert_eq!(run_op(&mut c, "vip", "monitor", 20000).rc, 7);
}

#[test]
fn lrmd_killed_while_operations_run_leaves_no_agents_and_clients_learn_it() {
    let mut l = Lrmd::new("restart");
    l.start();
    let dir = l.node.root.display().to_string();
    l.ocf_agent(
        "Slow",
        &format!("#!/bin/sh\necho $$ > {dir}/$OCF_RESOURCE_INSTANCE.leader\nsleep 300 &\necho $! > {dir}/$OCF_RESOURCE_INSTANCE.child\nwait\n"),
    );
    let mut c = subscribed(&l);
    add(&mut c, "a", "ocf", "Slow", Some("test"), &[]);
    add(&mut c, "b", "ocf", "Slow", Some("test"), &[]);
    perform(&mut c, spec("a", "start", 60000, 0, Notify::Every));
    perform(&mut c, spec("b", "monitor", 60000, 1000, Notify::Changed));
    let files = ["a.leader", "a.child", "b.leader", "b.child"].map(|f| l.node.root.join(f));
    assert!(l.node.wait_for(|| files
        .iter()
        .all(|f| std::fs::read_to_string(f).is_ok_and(|s| s.ends_with('\n')))));
    let pids: Vec<i32> = files.iter().map(|f| read_pid(f)).collect();
    l.kill9();
    // The client learns it: its connection fails.
    assert!(
        c.next_event(Some(Duration::from_secs(30))).is_err(),
        "no error after lrmd died"
    );
    l.start();
    for p in &pids {
        assert!(l.node.wait_for(|| !alive(*p)), "agent process {p} orphaned");
    }
    let (code, out) = l.lrmadmin(&["-L"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Currently no resources are managed by LRM.\n")
    );
}

#[test]
fn clients_other_than_root_and_the_cluster_group_are_refused() {
    use std::os::unix::process::CommandExt;
    let mut l = Lrmd::new("access");
    l.start();
    let out = l
        .node
        .command("lrmadmin")
        .arg("-L")
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run lrmadmin as nobody");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(stderr.to_lowercase().contains("denied"), "{stderr}");
    assert_eq!(l.lrmadmin(&["-L"]).0, 0, "root still may");
}

//! Fencing end to end: stonithd with Debian's fence_dummy and external
//! plugins written by the tests (the protocol of external/ssh: parameters
//! in the environment, `gethosts`, `reset|on|off HOST`), driven through
//! stonith_admin and stonithapi. Single node: fence, reboot, unfence,
//! history, a failing and a hanging device falling through to the next
//! level, a two-device level rebooted as all off then all on, merged
//! simultaneous requests, unfencing at start from the CIB. Three nodes:
//! node 1 fences node 3 through a device only node 2 has, the device
//! really powers node 3 off (kills its processes, cuts its link), and the
//! history is on every node. No test accepts a success that did not
//! happen: every success is checked against what the device did.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use integration_tests::{bin, TestCluster, TestNode};
use nix::sys::signal::Signal;
use stonithapi::{FenceAction, Request, Response, StonithClient};

const FENCE_DUMMY: &str = "/usr/sbin/fence_dummy";

/// The test plugin: logs `ID OP HOST` to `$logfile`; `mode` is ok, fail,
/// hang (a child sleeps, its pid in `$logfile.hang`), slow (1 s, then
/// logs `ID OP HOST end`), or down (its status fails).
const TEST_PLUGIN: &str = r#"#!/bin/sh
echo "${id:-?} $1 $2" >> "$logfile"
case $1 in
gethosts) for h in $hostlist; do echo $h; done; exit 0;;
getconfignames) echo "hostlist logfile mode id"; exit 0;;
getinfo-devid) echo "test device"; exit 0;;
getinfo-devdescr) echo "a device of the tests"; exit 0;;
getinfo-xml) echo "<parameters/>"; exit 0;;
status) [ "$mode" = down ] && exit 1; exit 0;;
reset|on|off)
    case "$mode" in
    fail) exit 1;;
    hang) sleep 300 & echo $! > "$logfile.hang"; wait; exit 0;;
    slow) sleep 1; echo "${id:-?} $1 $2 end" >> "$logfile";;
    esac
    exit 0;;
esac
exit 1
"#;

fn write_script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// One node's stonithd (standalone), with a plugin directory of its own.
struct Fencer {
    node: TestNode,
    child: Option<Child>,
    cib: Option<Child>,
}

impl Fencer {
    fn new(test: &str) -> Fencer {
        let f = Fencer {
            node: TestNode::new(test),
            child: None,
            cib: None,
        };
        write_script(&f.plugins().join("test"), TEST_PLUGIN);
        f
    }

    fn plugins(&self) -> PathBuf {
        self.node.root.join("plugins")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.node.root.join(name)
    }

    fn start(&mut self, with_cib: bool) {
        let mut cmd = Command::new(bin("stonithd"));
        self.node.apply_env(&mut cmd);
        cmd.arg("-s").arg("-V");
        if !with_cib {
            cmd.arg("--no-cib");
        }
        let child = cmd
            .env("STONITH_EXTERNAL_DIR", self.plugins())
            .env("MEATWARE_DIR", self.node.root.join("run"))
            .stderr(std::fs::File::create(self.node.logdir().join("stonithd.err")).expect("log"))
            .spawn()
            .expect("start stonithd");
        self.child = Some(child);
        let paths = self.node.paths();
        let up = self
            .node
            .wait_for(|| StonithClient::local(&paths, Duration::from_secs(5)).is_ok());
        assert!(up, "stonithd did not come up: {}", self.log());
    }

    /// A standalone cib holding `cib_xml`.
    fn start_cib(&mut self, cib_xml: &str) {
        let mut cmd = Command::new(bin("cib"));
        self.node.apply_env(&mut cmd);
        let child = cmd
            .arg("-s")
            .stderr(std::fs::File::create(self.node.logdir().join("cib.err")).expect("log"))
            .spawn()
            .expect("start cib");
        self.cib = Some(child);
        let paths = self.node.paths();
        let mut client = None;
        assert!(self.node.wait_for(|| {
            client = cibapi::CibClient::local(&paths, Some(Duration::from_secs(5))).ok();
            client.is_some()
        }));
        let mut c = client.expect("cib client");
        let mut r = cibapi::OpRequest::new(cibapi::OpKind::Replace);
        r.data = Some(cib_xml.to_string());
        match c.perform(r) {
            Ok(cibapi::Response::Done { .. }) => {}
            other => panic!("cannot load the CIB: {other:?}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.node.logdir().join("stonithd.err")).unwrap_or_default()
    }

    fn admin(&self, args: &[&str]) -> Output {
        self.node.run("stonith_admin", args)
    }

    fn client(&self) -> StonithClient {
        StonithClient::local(&self.node.paths(), Duration::from_secs(60)).expect("connect")
    }
}

impl Drop for Fencer {
    fn drop(&mut self) {
        for c in [self.child.take(), self.cib.take()].into_iter().flatten() {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn text(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: Output) -> String {
    let (rc, out, err) = text(&o);
    assert_eq!(rc, 0, "stdout: {out}\nstderr: {err}");
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn have_fence_dummy() -> bool {
    // test.sh installs fence-agents: a missing agent is a broken setup,
    // not a reason to pass.
    assert!(
        Path::new(FENCE_DUMMY).is_file(),
        "{FENCE_DUMMY} is missing: install fence-agents (test.sh does)"
    );
    true
}

#[test]
fn fence_reboot_unfence_history_and_queries_with_fence_dummy() {
    if !have_fence_dummy() {
        return;
    }
    let mut f = Fencer::new("fence-basic");
    f.start(false);
    let status = f.path("dummy.status");
    let st = format!("status_file={}", status.display());
    ok(f.admin(&[
        "-R",
        "dummy",
        "-a",
        "fence_dummy",
        "-o",
        &st,
        "-o",
        "pcmk_host_list=n2 n3",
    ]));
    // An agent that does not exist is refused.
    let (rc, _, err) = text(&f.admin(&["-R", "bad", "-a", "fence_nosuch"]));
    assert_eq!(rc, 105, "{err}");
    assert_eq!(ok(f.admin(&["-L"])), "dummy\n1 fence device found\n");
    assert_eq!(ok(f.admin(&["-l", "n2"])), "dummy\n1 fence device found\n");
    assert_eq!(ok(f.admin(&["-l", "n7"])), "0 fence devices found\n");
    // -s asks the agent's list, which fence_dummy does not have.
    let (rc, _, err) = text(&f.admin(&["-s", "dummy"]));
    assert_eq!(rc, 1);
    assert!(err.starts_with("Couldn't list targets: "), "{err}");

    // Unfence: fence_dummy's status file says on.
    ok(f.admin(&["-U", "n2"]));
    assert_eq!(read(&status), "on");
    // Fence: off.
    ok(f.admin(&["-F", "n2", "-t", "30"]));
    assert_eq!(read(&status), "off");
    ok(f.admin(&["-B", "n3"]));
    // fence_dummy's reboot is off then on.
    assert_eq!(read(&status), "on");
    assert_eq!(ok(f.admin(&["-Q", "dummy"])), "");
    let (rc, _, _) = text(&f.admin(&["-Q", "nosuch"]));
    assert_eq!(rc, 105);

    // No device for n9: a clear failure, never a success.
    let (rc, out, err) = text(&f.admin(&["-F", "n9"]));
    assert_eq!(rc, 105);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "stonith_admin: Couldn't fence n9: No such device (No device configured for target 'n9')\n"
    );
    // A name that could leave a directory is refused before anything runs.
    let (rc, _, err) = text(&f.admin(&["-F", "../n2"]));
    assert_eq!(rc, 2, "{err}");
    // An administrator may fence the very node they are on when only it
    // can run the device (stonith_admin asks with Pacemaker's
    // allow-suicide, as Pacemaker's does); the controller may not (see
    // crm.rs: only a DC alone in its partition).
    ok(f.admin(&[
        "-R",
        "self",
        "-a",
        "fence_dummy",
        "-o",
        &st,
        "-o",
        "pcmk_host_list=node1",
    ]));
    let (rc, _, err) = text(&f.admin(&["-F", "node1"]));
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        read(&status),
        "off",
        "the device did not run against its own node"
    );

    // History: the latest success per default, everything with -V.
    let out = ok(f.admin(&["-H", "n2"]));
    assert!(
        out.starts_with("turning off of n2 successful: delegate=node1, client=stonith_admin."),
        "{out}"
    );
    assert!(out.contains(", origin=node1, last-successful='"), "{out}");
    assert!(out.ends_with("1 event found\n"), "{out}");
    let all = ok(f.admin(&["-H", "*", "-V"]));
    assert_eq!(all.lines().count(), 6, "{all}");
    assert!(all.contains("unfencing of n2 successful"), "{all}");
    assert!(all.contains("reboot of n3 successful"), "{all}");
    assert!(
        all.contains("turning off of n9 failed (No device configured for target 'n9'): client="),
        "{all}"
    );
    assert!(all.ends_with("5 events found\n"), "{all}");
    assert!(ok(f.admin(&["-h", "n3"])).starts_with("Node n3 last fenced at: "));
    assert_eq!(
        ok(f.admin(&["-h", "n9"])),
        "Node n9 has never been fenced\n"
    );
    let epoch: u64 = ok(f.admin(&["-H", "n3", "-q"]))
        .trim()
        .parse()
        .expect("epoch");
    assert!(epoch > 1_600_000_000);

    // Manual confirmation is recorded as a success.
    ok(f.admin(&["--confirm", "n9"]));
    let out = ok(f.admin(&["-H", "n9"]));
    assert!(out.starts_with("turning off of n9 successful"), "{out}");
    ok(f.admin(&["-H", "n9", "--cleanup"]));
    assert_eq!(ok(f.admin(&["-H", "n9"])), "0 events found\n");

    // Metadata as Pacemaker's fencer shows it.
    let md = ok(f.admin(&["-M", "-a", "fence_dummy"]));
    assert!(
        md.starts_with("<resource-agent name=\"fence_dummy\""),
        "{md}"
    );
    assert!(
        md.contains("<parameter name=\"action\" unique=\"0\" required=\"0\">"),
        "{md}"
    );
    assert!(
        md.contains("<action name=\"stop\" timeout=\"20s\"/>"),
        "{md}"
    );
    let (rc, _, _) = text(&f.admin(&["-M", "-a", "fence_nosuch"]));
    assert_eq!(rc, 105);
    // -K runs the agent's own validation.
    let (rc, out, _) = text(&f.admin(&["-K", "-a", "fence_dummy", "-o", &st]));
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("Validation of fence_dummy succeeded\n"),
        "{out}"
    );
    let (rc, out, _) = text(&f.admin(&["-K", "-a", "fence_nosuch"]));
    assert_eq!(rc, 105);
    assert_eq!(
        out,
        "Validation of fence_nosuch failed\nAgent fence_nosuch not found\n"
    );
    let installed = ok(f.admin(&["-I"]));
    assert!(installed.lines().any(|l| l == "fence_dummy"), "{installed}");
    assert!(
        installed.lines().any(|l| l == "external/test"),
        "{installed}"
    );
    assert!(installed.lines().any(|l| l == "meatware"), "{installed}");

    ok(f.admin(&["-D", "dummy"]));
    let (rc, _, _) = text(&f.admin(&["-D", "dummy"]));
    assert_eq!(rc, 105);
    let (rc, _, _) = text(&f.admin(&["-F", "n2"]));
    assert_eq!(rc, 105, "fenced without a device");
}

#[test]
fn stonith_admin_without_a_fencer_answers_as_pacemakers() {
    // Differential: Debian's stonith_admin (pacemaker-cli-utils, which
    // test.sh installs) finds no fencer either; outputs and exit codes must
    // be the same, text and XML.
    let reference = Path::new("/usr/sbin/stonith_admin");
    assert!(
        reference.is_file(),
        "install pacemaker-cli-utils (test.sh does)"
    );
    let node = TestNode::new("fence-nofencer");
    let cases: &[&[&str]] = &[
        &["-L"],
        // Debian's takes 18 s to give up here (it retries): one fencing
        // command is compared, the others are checked below.
        &["-U", "n1"],
        &["-H", "*"],
        &["-h", "n1"],
        &["-l", "n1"],
        &["-Q", "d1"],
        &["-s", "d1"],
        &["-C", "n1"],
        &["-R", "d1", "-a", "fence_dummy"],
        &["-D", "d1"],
        &["-L", "--output-as=xml"],
        &["-H", "*", "--output-as=xml"],
        &["-h", "n1", "--output-as=xml"],
    ];
    // The XML names the program as invoked; compare from the arguments on.
    let norm = |s: String| {
        s.lines()
            .map(|l| match l.find("request=\"") {
                Some(i) => {
                    let rest = &l[i + 9..];
                    let args = rest.split_once(' ').map_or("", |(_, a)| a);
                    format!("{}request=\"PROG {args}", &l[..i])
                }
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in cases {
        let theirs = Command::new(reference)
            .args(*args)
            .output()
            .expect("reference");
        let ours = node.run("stonith_admin", args);
        let (rc_t, out_t, err_t) = text(&theirs);
        let (rc_o, out_o, err_o) = text(&ours);
        assert_eq!(rc_o, rc_t, "{args:?}: exit code");
        assert_eq!(norm(out_o), norm(out_t), "{args:?}: stdout");
        assert_eq!(err_o, err_t, "{args:?}: stderr");
        assert_eq!(rc_o, 102, "{args:?}");
    }
    // What Debian's prints for these (checked by hand, 2.1.5).
    for (args, want) in [
        (
            &["-F", "n1"][..],
            "stonith_admin: Couldn't fence n1: Transport endpoint is not connected\n",
        ),
        (
            &["-B", "n1"][..],
            "stonith_admin: Couldn't fence n1: Transport endpoint is not connected\n",
        ),
    ] {
        let (rc, out, err) = text(&node.run("stonith_admin", args));
        assert_eq!(
            (rc, out.as_str(), err.as_str()),
            (102, "", want),
            "{args:?}"
        );
    }
}

fn register_test_device(f: &Fencer, id: &str, mode: &str, extra: &[&str]) {
    let log = f.path("calls");
    let logfile = format!("logfile={}", log.display());
    let mut args = vec![
        "-R".to_string(),
        id.to_string(),
        "-a".into(),
        "external/test".into(),
        "-o".into(),
        "hostlist=n2 n3".into(),
        "-o".into(),
        logfile,
        "-o".into(),
        format!("mode={mode}"),
        "-o".into(),
        format!("id={id}"),
    ];
    for e in extra {
        args.push("-o".into());
        args.push(e.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(f.admin(&args));
}

/// The fencing actions the test plugin saw, without host checks.
fn actions(f: &Fencer) -> Vec<String> {
    read(&f.path("calls"))
        .lines()
        .filter(|l| {
            let op = l.split(' ').nth(1).unwrap_or("");
            matches!(op, "reset" | "on" | "off") && !l.ends_with(" end")
        })
        .map(str::to_string)
        .collect()
}

fn fenced(r: Response) -> stonithapi::FenceResult {
    match r {
        Response::Fenced(r) => r,
        other => panic!("not a fencing result: {other:?}"),
    }
}

#[test]
fn a_failing_device_falls_through_to_the_next_level_and_all_failing_is_a_failure() {
    let mut f = Fencer::new("fence-levels");
    f.start(false);
    register_test_device(&f, "broken", "fail", &[]);
    register_test_device(&f, "good", "ok", &[]);
    assert_eq!(
        ok(f.admin(&["-s", "good"])),
        "n2\nn3\n2 fence targets found\n"
    );
    ok(f.admin(&["-r", "n2", "-i", "1", "-v", "broken"]));
    ok(f.admin(&["-r", "n2", "-i", "2", "-v", "good"]));
    ok(f.admin(&["-B", "n2"]));
    assert_eq!(actions(&f), ["broken reset n2", "good reset n2"]);
    let r = fenced(
        f.client()
            .call(&Request::History {
                target: Some("n2".into()),
            })
            .map(|r| match r {
                Response::History { mut completed, .. } => {
                    Response::Fenced(completed.pop().expect("one entry"))
                }
                other => other,
            })
            .expect("history"),
    );
    assert!(r.succeeded);
    assert_eq!(r.devices, ["good"]);

    // Only failing levels: the operation fails with the device's error.
    ok(f.admin(&["-r", "@^n3$", "-i", "1", "-v", "broken"]));
    let (rc, _, err) = text(&f.admin(&["-F", "n3"]));
    assert_eq!(rc, 1);
    assert_eq!(
        err,
        "stonith_admin: Couldn't fence n3: Error occurred (external/test off returned 1)\n"
    );
    // A level naming a device nobody has fails that level, not the rule.
    ok(f.admin(&["-d", "@^n3$", "-i", "1"]));
    ok(f.admin(&["-r", "n3", "-i", "1", "-v", "ghost"]));
    ok(f.admin(&["-r", "n3", "-i", "2", "-v", "good"]));
    ok(f.admin(&["-F", "n3"]));
    assert_eq!(actions(&f).last().map(String::as_str), Some("good off n3"));
}

#[test]
fn a_hanging_device_is_killed_at_its_timeout_and_the_next_level_is_used() {
    let mut f = Fencer::new("fence-hang");
    f.start(false);
    register_test_device(&f, "hangs", "hang", &["pcmk_reboot_timeout=2s"]);
    register_test_device(&f, "good", "ok", &[]);
    ok(f.admin(&["-r", "n2", "-i", "1", "-v", "hangs"]));
    ok(f.admin(&["-r", "n2", "-i", "2", "-v", "good"]));
    ok(f.admin(&["-B", "n2", "-t", "60"]));
    assert_eq!(actions(&f), ["hangs reset n2", "good reset n2"]);
    let child: i32 = read(&f.path("calls.hang"))
        .trim()
        .parse()
        .expect("the hanging device's child pid");
    assert!(
        f.node.wait_for(|| !alive(child)),
        "the hanging agent's child survived its timeout"
    );
    // Alone, the hanging device makes the operation time out (124).
    ok(f.admin(&["-d", "n2", "-i", "2"]));
    let (rc, _, err) = text(&f.admin(&["-B", "n2", "-t", "60"]));
    assert_eq!(rc, 124, "{err}");
    assert_eq!(
        err,
        "stonith_admin: Couldn't fence n2: Timer expired (Fence agent did not complete within 2s)\n"
    );
}

#[test]
fn a_two_device_level_reboots_as_all_off_then_all_on() {
    let mut f = Fencer::new("fence-psu");
    f.start(false);
    // dlm.conf's parallel devices foo:1 and foo:2 as one level.
    register_test_device(&f, "psu:1", "ok", &[]);
    register_test_device(&f, "psu:2", "ok", &[]);
    ok(f.admin(&["-r", "n2", "-i", "1", "-v", "psu:1", "-v", "psu:2"]));
    ok(f.admin(&["-B", "n2"]));
    assert_eq!(
        actions(&f),
        ["psu:1 off n2", "psu:2 off n2", "psu:1 on n2", "psu:2 on n2"]
    );
    // Off is a plain off on both; unfencing a plain on on both (and on a
    // device that provides unfencing, below).
    ok(f.admin(&["-F", "n2"]));
    ok(f.admin(&["-U", "n2"]));
    assert_eq!(
        actions(&f)[4..],
        ["psu:1 off n2", "psu:2 off n2", "psu:1 on n2", "psu:2 on n2"]
    );
    // The second supply failing to go off abandons the level: no on-phase,
    // no success.
    ok(f.admin(&["-D", "psu:2"]));
    register_test_device(&f, "psu:2", "fail", &[]);
    let (rc, _, _) = text(&f.admin(&["-B", "n2"]));
    assert_eq!(rc, 1);
    assert_eq!(actions(&f)[8..], ["psu:1 off n2", "psu:2 off n2"]);

    // A device that provides unfencing (a storage fabric) is turned on by
    // every unfencing too, after the level's devices, and left alone by
    // fencing.
    ok(f.admin(&["-D", "psu:2"]));
    register_test_device(&f, "psu:2", "ok", &[]);
    register_test_device(&f, "fabric", "ok", &["provides=unfencing"]);
    ok(f.admin(&["-U", "n2"]));
    assert_eq!(
        actions(&f)[10..],
        ["psu:1 on n2", "psu:2 on n2", "fabric on n2"]
    );
    ok(f.admin(&["-F", "n2"]));
    assert_eq!(actions(&f)[13..], ["psu:1 off n2", "psu:2 off n2"]);
}

#[test]
fn simultaneous_requests_are_merged_and_a_recent_success_answers_from_history() {
    let mut f = Fencer::new("fence-merge");
    f.start(false);
    register_test_device(&f, "slow", "slow", &[]);
    let a = std::thread::spawn({
        let node_paths = f.node.paths();
        move || {
            let mut c = StonithClient::local(&node_paths, Duration::from_secs(60)).expect("c");
            fenced(
                c.fence(
                    "n2",
                    FenceAction::Reboot,
                    Duration::from_secs(30),
                    Duration::ZERO,
                )
                .expect("fence"),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut c = f.client();
    let second = fenced(
        c.fence(
            "n2",
            FenceAction::Reboot,
            Duration::from_secs(30),
            Duration::ZERO,
        )
        .expect("fence"),
    );
    let first = a.join().expect("first request");
    assert!(first.succeeded && second.succeeded);
    assert_eq!(first.id, second.id, "not merged");
    assert_eq!(actions(&f), ["slow reset n2"]);
    // Within the tolerance: answered from history, the device not run.
    let third = fenced(
        c.fence(
            "n2",
            FenceAction::Reboot,
            Duration::from_secs(30),
            Duration::from_secs(60),
        )
        .expect("fence"),
    );
    assert_eq!(third.id, first.id);
    assert_eq!(actions(&f).len(), 1);
    // A different action is not answered by it.
    ok(f.admin(&["-F", "n2", "--tolerance", "60"]));
    assert_eq!(actions(&f).len(), 2);

    // Different targets on one device: one action at a time by default
    // (pcmk_action_limit 1), at once when the limit allows.
    let both = |f: &Fencer| {
        let threads: Vec<_> = ["n2", "n3"]
            .into_iter()
            .map(|t| {
                let paths = f.node.paths();
                std::thread::spawn(move || {
                    let mut c = StonithClient::local(&paths, Duration::from_secs(60)).expect("c");
                    fenced(
                        c.fence(
                            t,
                            FenceAction::Reboot,
                            Duration::from_secs(30),
                            Duration::ZERO,
                        )
                        .expect("fence"),
                    )
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().expect("request").succeeded);
        }
    };
    let _ = std::fs::remove_file(f.path("calls"));
    both(&f);
    let calls: Vec<String> = read(&f.path("calls"))
        .lines()
        .filter(|l| l.contains(" reset "))
        .map(|l| l.split(' ').skip(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        calls,
        ["", "end", "", "end"],
        "overlapping runs on a limited device"
    );
    ok(f.admin(&["-D", "slow"]));
    register_test_device(&f, "slow", "slow", &["pcmk_action_limit=-1"]);
    let _ = std::fs::remove_file(f.path("calls"));
    both(&f);
    let calls: Vec<String> = read(&f.path("calls"))
        .lines()
        .filter(|l| l.contains(" reset "))
        .map(|l| l.split(' ').skip(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        calls,
        ["", "", "end", "end"],
        "an unlimited device ran one at a time"
    );
}

#[test]
fn subscribers_see_every_result() {
    let mut f = Fencer::new("fence-events");
    f.start(false);
    register_test_device(&f, "d", "ok", &[]);
    let mut sub = f.client();
    assert_eq!(
        sub.call(&Request::Subscribe).expect("subscribe"),
        Response::Done
    );
    ok(f.admin(&["-F", "n3"]));
    let _ = f.admin(&["-F", "n9"]);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match sub
            .next_event(Some(Duration::from_secs(20)))
            .expect("event")
        {
            Some(stonithapi::Event::Fenced(r)) => seen.push((r.target, r.succeeded)),
            Some(_) => {}
            None => panic!("no event: {seen:?}"),
        }
    }
    assert_eq!(seen, [("n3".to_string(), true), ("n9".to_string(), false)]);
}

const UNFENCING_CIB: &str = r#"<cib admin_epoch="1" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="fabric" class="stonith" type="fence_dummy">
        <instance_attributes id="fabric-ia">
          <nvpair id="fabric-list" name="pcmk_host_list" value="node1"/>
          <nvpair id="fabric-sf" name="status_file" value="STATUS"/>
        </instance_attributes>
        <meta_attributes id="fabric-meta">
          <nvpair id="fabric-provides" name="provides" value="unfencing"/>
        </meta_attributes>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>"#;

#[test]
fn unfencing_at_start_runs_on_for_devices_that_provide_unfencing() {
    if !have_fence_dummy() {
        return;
    }
    let mut f = Fencer::new("fence-unfence");
    let status = f.path("fabric.status");
    f.start_cib(&UNFENCING_CIB.replace("STATUS", &status.display().to_string()));
    f.start(true);
    assert!(
        f.node.wait_for(|| read(&status) == "on"),
        "node1 was not unfenced at start: {}",
        f.log()
    );
    let mut out = String::new();
    assert!(
        f.node.wait_for(|| {
            out = ok(f.admin(&["-H", "node1"]));
            out.starts_with("unfencing of node1 successful: delegate=node1, client=stonithd")
        }),
        "{out}"
    );
    // The device came from the CIB.
    assert_eq!(ok(f.admin(&["-L"])), "fabric\n1 fence device found\n");
}

/// The device of the cluster test: "powers off" a node of the harness by
/// killing its heartbeat and every daemon with a pid file, and cutting its
/// link. Parameters: `hostlist`, `rundir_NODE` (that node's run dir),
/// `logfile`.
const POWER_PLUGIN: &str = r#"#!/bin/sh
echo "$1 $2" >> "$logfile"
case $1 in
gethosts) for h in $hostlist; do echo $h; done; exit 0;;
getconfignames) echo "hostlist logfile"; exit 0;;
status) exit 0;;
on) sleep 1; exit 0;;
reset|off)
    eval rundir=\$rundir_$2
    [ -n "$rundir" ] || exit 1
    pid=$(cat "$rundir/heartbeat.pid" 2>/dev/null)
    ns=""
    [ -n "$pid" ] && ns=$(ip netns identify "$pid")
    for f in "$rundir"/*.pid "$rundir"/crm/*.pid; do
        [ -f "$f" ] && kill -9 $(cat "$f") 2>/dev/null
    done
    [ -n "$ns" ] && ip -n "$ns" link set eth0 down && echo "$ns" > "$logfile.$2.netns"
    exit 0;;
esac
exit 1
"#;

#[test]
fn three_nodes_node1_fences_node3_through_a_device_only_node2_has() {
    let cluster = TestCluster::new("fence3", 3, 1);
    let plugins = cluster.node(1).root.join("plugins");
    write_script(&plugins.join("power"), POWER_PLUGIN);
    write_script(&plugins.join("test"), TEST_PLUGIN);
    // heartbeat gives its children a clean environment: a wrapper points
    // stonithd at the test's plugin directory.
    let wrapper = cluster.node(1).root.join("stonithd.sh");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nSTONITH_EXTERNAL_DIR={} exec {} \"$@\"\n",
            plugins.display(),
            bin("stonithd").display()
        ),
    );
    cluster.configure(&format!("respawn root {}\n", wrapper.display()));
    for i in 1..=3 {
        cluster.start(i);
    }
    for i in 1..=3 {
        let paths = cluster.node(i).paths();
        assert!(
            cluster
                .node(i)
                .wait_for(|| StonithClient::local(&paths, Duration::from_secs(5)).is_ok()),
            "stonithd on node{i} did not come up: {}",
            cluster.node(i).log()
        );
    }
    let log = cluster.node(2).root.join("power.log");
    let n3run = cluster.node(3).root.join("run");
    let admin = |i: usize, args: &[&str]| cluster.node(i).run("stonith_admin", args);
    ok(admin(
        2,
        &[
            "-R",
            "power",
            "-a",
            "external/power",
            "-o",
            "hostlist=node3",
            "-o",
            &format!("logfile={}", log.display()),
            "-o",
            &format!("rundir_node3={}", n3run.display()),
        ],
    ));
    // Node 1 has no device, yet sees node 2's through the cluster.
    assert_eq!(ok(admin(1, &["-L"])), "0 fence devices found\n");
    let mut listed = String::new();
    assert!(
        cluster.node(1).wait_for(|| {
            listed = ok(admin(1, &["-l", "node3"]));
            listed == "power\n1 fence device found\n"
        }),
        "{listed}\nnode1: {}\nnode2: {}",
        cluster.node(1).log(),
        cluster.node(2).log()
    );

    // Unfencing node 3 first, asked by node 1 and node 3 at once: one
    // operation (the device runs once), both answered, and a result every
    // node, node 3 included, records.
    let unfence = |i: usize| {
        let paths = cluster.node(i).paths();
        std::thread::spawn(move || {
            let mut c = StonithClient::local(&paths, Duration::from_secs(60)).expect("c");
            fenced(
                c.fence(
                    "node3",
                    FenceAction::On,
                    Duration::from_secs(30),
                    Duration::ZERO,
                )
                .expect("unfence"),
            )
        })
    };
    let (a, b) = (unfence(1), unfence(3));
    let (a, b) = (a.join().expect("node1"), b.join().expect("node3"));
    assert!(a.succeeded && b.succeeded, "{a:?} {b:?}");
    assert_eq!(a.id, b.id, "the two requests were not merged");
    assert_eq!(a.executioner, "node2");
    assert_eq!(
        read(&log).lines().filter(|l| l.starts_with("on")).count(),
        1
    );
    // Nothing of the merged request is left behind: a new one runs again.
    ok(admin(3, &["-U", "node3"]));
    assert_eq!(
        read(&log).lines().filter(|l| l.starts_with("on")).count(),
        2
    );
    let origin = "node3";
    for i in 1..=3 {
        let mut out = String::new();
        assert!(
            cluster.node(i).wait_for(|| {
                out = ok(admin(i, &["-H", "node3"]));
                out.starts_with("unfencing of node3 successful: delegate=node2, client=")
                    && out.contains(&format!("origin={origin}"))
            }),
            "node{i}: {out}"
        );
    }

    // The real thing: node 3 is powered off by node 2's device.
    let hb3 = cluster.pid(3).expect("node3 runs");
    let sd3 = cluster.daemon_pid(3, "stonithd").expect("node3's stonithd");
    ok(admin(1, &["-B", "node3", "-t", "60"]));
    assert_eq!(
        read(&log)
            .lines()
            .filter(|l| l.starts_with("reset"))
            .count(),
        1
    );
    assert!(read(&log).contains("reset node3"));
    assert!(
        cluster.node(1).wait_for(|| !alive(hb3) && !alive(sd3)),
        "node3 still runs"
    );
    for i in 1..=2 {
        let mut out = String::new();
        assert!(
            cluster.node(i).wait_for(|| {
                out = ok(admin(i, &["-H", "node3"]));
                out.starts_with("reboot of node3 successful: delegate=node2, client=stonith_admin.")
                    && out.contains("origin=node1")
            }),
            "node{i}: {out}"
        );
    }
    // Within a tolerance the answer comes from history: no second run.
    ok(admin(2, &["-B", "node3", "--tolerance", "120"]));
    assert_eq!(
        read(&log)
            .lines()
            .filter(|l| l.starts_with("reset"))
            .count(),
        1
    );

    // Node 3 is powered on again (its link back, heartbeat started): it
    // learns the history of its own fencing from the others.
    let ns = read(&cluster.node(2).root.join("power.log.node3.netns"));
    let ns = ns.trim();
    assert!(!ns.is_empty(), "the device did not cut node3's link");
    let up = Command::new("ip")
        .args(["-n", ns, "link", "set", "eth0", "up"])
        .status()
        .expect("ip");
    assert!(up.success());
    cluster.start(3);
    let mut out = String::new();
    assert!(
        cluster.node(3).wait_for(|| {
            let o = admin(3, &["-H", "node3", "-V"]);
            out = String::from_utf8_lossy(&o.stdout).into_owned();
            out.contains("reboot of node3 successful: delegate=node2")
        }),
        "node3 after restart: {out}\n{}",
        cluster.node(3).log()
    );

    // Node 2 cannot fence itself with its device, and node 1 has none for
    // node 2: a clear failure.
    let (rc, _, err) = text(&admin(1, &["-F", "node2"]));
    assert_eq!(rc, 105, "{err}");
    assert_eq!(
        err,
        "stonith_admin: Couldn't fence node2: No such device (No device configured for target 'node2')\n"
    );

    // The node running a device dies in the middle: the origin does not
    // wait for it, the next level is used.
    let stall = cluster.node(2).root.join("stall.log");
    ok(admin(
        2,
        &[
            "-R",
            "stall",
            "-a",
            "external/test",
            "-o",
            "hostlist=node3",
            "-o",
            "mode=hang",
            "-o",
            "id=stall",
            "-o",
            &format!("logfile={}", stall.display()),
        ],
    ));
    ok(admin(
        1,
        &["-R", "spare", "-a", "null", "-o", "hostlist=node3"],
    ));
    ok(admin(1, &["-r", "node3", "-i", "1", "-v", "stall"]));
    ok(admin(1, &["-r", "node3", "-i", "2", "-v", "spare"]));
    let paths1 = cluster.node(1).paths();
    let op = std::thread::spawn(move || {
        let mut c = StonithClient::local(&paths1, Duration::from_secs(90)).expect("c");
        fenced(
            c.fence(
                "node3",
                FenceAction::Off,
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .expect("fence"),
        )
    });
    let hang = cluster.node(2).root.join("stall.log.hang");
    assert!(
        cluster.node(2).wait_for(|| hang.exists()),
        "the stalling device did not start: {}",
        cluster.node(2).log()
    );
    cluster.signal_node(2, Signal::SIGKILL);
    let r = op.join().expect("fence thread");
    if let Ok(pid) = read(&hang).trim().parse::<i32>() {
        // node 2's fencer died with its agent still running: clean up.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.devices, ["spare"]);
    assert_eq!(r.executioner, "node1");
}

#[test]
fn stonith_cli_runs_plugins_and_meatclient_confirms_meatware() {
    let f = Fencer::new("fence-cli");
    let plugins = f.plugins();
    let log = f.path("calls");
    let stonith = |args: &[&str]| {
        let mut c = f.node.command("stonith");
        c.env("STONITH_EXTERNAL_DIR", &plugins)
            .env("MEATWARE_DIR", f.node.root.join("run"))
            .args(args)
            .output()
            .expect("run stonith")
    };
    let types = ok(stonith(&["-L"]));
    let types: Vec<&str> = types.lines().collect();
    assert_eq!(
        types,
        ["external/test", "meatware", "null", "ssh", "suicide"]
    );
    assert_eq!(
        ok(stonith(&["-t", "external/test", "-n"])),
        "hostlist  logfile  mode  id  \n"
    );
    assert_eq!(ok(stonith(&["-t", "null", "-n"])), "hostlist  \n");
    let md = ok(stonith(&["-t", "external/test", "-m"]));
    assert!(
        md.contains("<resource-agent name=\"external/test\">"),
        "{md}"
    );
    assert!(
        md.contains("<shortdesc lang=\"en\">test device</shortdesc>"),
        "{md}"
    );
    let logfile = format!("logfile={}", log.display());
    // Parameters as name=value, and positionally with -p.
    assert_eq!(
        ok(stonith(&[
            "-t",
            "external/test",
            "hostlist=n1 n2",
            &logfile,
            "-l"
        ])),
        "n1\nn2\n"
    );
    let p = format!("n1 {} ok x", log.display());
    ok(stonith(&[
        "-t",
        "external/test",
        "-p",
        &p,
        "-T",
        "reset",
        "N1",
    ]));
    assert!(read(&log).contains("x reset n1"), "{}", read(&log));
    let (rc, _, err) = text(&stonith(&[
        "-t",
        "external/test",
        "hostlist=n1",
        &logfile,
        "mode=fail",
        "-T",
        "off",
        "n1",
    ]));
    assert_eq!(rc, 5, "{err}");
    let (rc, _, err) = text(&stonith(&[
        "-t",
        "external/test",
        "hostlist=n1",
        &logfile,
        "-S",
    ]));
    assert_eq!((rc, err.as_str()), (0, "info: external/test device OK.\n"));
    let (rc, _, err) = text(&stonith(&["-t", "nosuch", "-l"]));
    assert_eq!(
        (rc, err.as_str()),
        (8, "ERROR: Invalid device type: 'nosuch'\n")
    );
    let (rc, _, err) = text(&stonith(&["-t", "null", "-l"]));
    assert_eq!(rc, 1);
    assert!(
        err.starts_with(
            "Must specify either -p option, -F option, -E option, or name=value style arguments\n"
        ),
        "{err}"
    );

    // meatware through the stonith command: waits for the operator.
    let mut waiting = f.node.command("stonith");
    let child = waiting
        .env("MEATWARE_DIR", f.node.root.join("run"))
        .args(["-t", "meatware", "hostlist=n1", "-T", "reset", "n1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stonith meatware");
    let fifo = f.node.root.join("run/meatware.n1");
    assert!(f.node.wait_for(|| fifo.exists()), "no meatware FIFO");
    let meat = |answer: &str| {
        let mut c = f.node.command("meatclient");
        c.env("MEATWARE_DIR", f.node.root.join("run"))
            .args(["-c", "n1"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("meatclient");
        use std::io::Write;
        // Without a device waiting it exits before reading: ignore EPIPE.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answer.as_bytes());
        child.wait_with_output().expect("meatclient output")
    };
    // "Y" cancels, as cluster-glue's client does; the device keeps waiting.
    let (rc, out, _) = text(&meat("Y\n"));
    assert_eq!(rc, 3);
    assert!(
        out.ends_with("PROCEED? [yN] Meatware_client: operation canceled.\n"),
        "{out}"
    );
    let (rc, out, _) = text(&meat("y\n"));
    assert_eq!(rc, 0);
    assert!(
        out.ends_with("Meatware_client: reset confirmed.\n"),
        "{out}"
    );
    let (rc, _, err) = text(&child.wait_with_output().expect("stonith"));
    assert_eq!(rc, 0);
    assert!(
        err.contains("CRIT: Run \"meatclient -c n1\" AFTER power-cycling the machine."),
        "{err}"
    );
    // Nobody waiting any more.
    let (rc, _, err) = text(&meat("y\n"));
    assert_eq!(rc, 4);
    assert!(err.starts_with("Meatware_IPC failed: "), "{err}");
}

#[test]
fn a_meatware_device_in_stonithd_succeeds_only_after_the_operator_confirms() {
    let mut f = Fencer::new("fence-meat");
    f.start(false);
    ok(f.admin(&["-R", "meat", "-a", "meatware", "-o", "hostlist=n2"]));
    let paths = f.node.paths();
    let op = std::thread::spawn(move || {
        let mut c = StonithClient::local(&paths, Duration::from_secs(60)).expect("c");
        fenced(
            c.fence(
                "n2",
                FenceAction::Reboot,
                Duration::from_secs(40),
                Duration::ZERO,
            )
            .expect("fence"),
        )
    });
    let fifo = f.node.root.join("run/meatware.n2");
    assert!(
        f.node.wait_for(|| fifo.exists()),
        "no meatware FIFO: {}",
        f.log()
    );
    // Still pending: nothing confirmed yet.
    let out = ok(f.admin(&["-H", "n2", "-V"]));
    assert!(out.starts_with("reboot of n2 pending: client="), "{out}");
    let mut c = f.node.command("meatclient");
    c.env("MEATWARE_DIR", f.node.root.join("run"))
        .args(["-c", "n2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = c.spawn().expect("meatclient");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"y\n")
            .expect("answer");
    }
    assert!(child.wait().expect("meatclient").success());
    let r = op.join().expect("fence thread");
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.devices, ["meat"]);
}

const MONITOR_CIB: &str = r#"<cib admin_epoch="1" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources>
      <primitive id="mon" class="stonith" type="external/test">
        <instance_attributes id="mon-ia">
          <nvpair id="mon-hl" name="hostlist" value="n2"/>
          <nvpair id="mon-mode" name="mode" value="MODE"/>
          <nvpair id="mon-log" name="logfile" value="LOG"/>
        </instance_attributes>
        <operations><op id="mon-monitor" name="monitor" interval="1s"/></operations>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>"#;

#[test]
fn a_device_from_the_cib_is_monitored_and_its_failure_reported() {
    let mut f = Fencer::new("fence-monitor");
    let log = f.path("calls");
    let cib = MONITOR_CIB.replace("LOG", &log.display().to_string());
    f.start_cib(&cib.replace("MODE", "down"));
    f.start(true);
    let mut sub = f.client();
    assert_eq!(
        sub.call(&Request::Subscribe).expect("subscribe"),
        Response::Done
    );
    let mut failed = None;
    while failed.is_none() {
        match sub
            .next_event(Some(Duration::from_secs(20)))
            .expect("event")
        {
            Some(stonithapi::Event::DeviceMonitor(s)) => failed = Some(s),
            Some(_) => {}
            None => panic!("no monitor result: {}", f.log()),
        }
    }
    let failed = failed.expect("monitor result");
    assert_eq!((failed.id.as_str(), failed.ok), ("mon", false));
    let (rc, _, _) = text(&f.admin(&["-Q", "mon"]));
    assert_eq!(rc, 1);
    // The device recovers (its configuration changes in the CIB): reported.
    let mut c =
        cibapi::CibClient::local(&f.node.paths(), Some(Duration::from_secs(10))).expect("cib");
    let mut m = cibapi::OpRequest::new(cibapi::OpKind::Modify);
    m.section = Some("resources".into());
    m.data = Some(r#"<nvpair id="mon-mode" name="mode" value="ok"/>"#.into());
    match c.perform(m) {
        Ok(cibapi::Response::Done { .. }) => {}
        other => panic!("cib update failed: {other:?}"),
    }
    loop {
        match sub
            .next_event(Some(Duration::from_secs(20)))
            .expect("event")
        {
            Some(stonithapi::Event::DeviceMonitor(s)) if s.ok => break,
            Some(_) => {}
            None => panic!("no recovery reported: {}", f.log()),
        }
    }
    assert_eq!(ok(f.admin(&["-Q", "mon"])), "");
}

#[test]
fn stonith_cli_answers_as_cluster_glues() {
    // Differential: stdout and exit codes of Debian's stonith (cluster-glue,
    // which test.sh installs) on the null plugin and the real external/ssh
    // (only its list and parameter names: nothing is reset).
    let reference = Path::new("/usr/sbin/stonith");
    assert!(reference.is_file(), "install cluster-glue (test.sh does)");
    let node = TestNode::new("fence-glue");
    let cases: &[&[&str]] = &[
        &["-t", "null", "-n"],
        &["-t", "external/ssh", "-n"],
        &["-t", "null", "hostlist=n1,n2", "-l"],
        &["-t", "null", "-p", "n1 n2", "-l"],
        &["-t", "null", "-l"],
        &["-t", "nosuch", "-l"],
        &["-t", "null", "hostlist=n1", "-S"],
        &["-t", "null", "hostlist=n1", "-T", "reset", "N1"],
        &["-t", "null", "hostlist=n1", "-T", "bogus", "n1"],
        &["-t", "external/ssh", "hostlist=n1 n2", "-l"],
    ];
    for args in cases {
        let theirs = Command::new(reference)
            .args(*args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("reference");
        let ours = node
            .command("stonith")
            .env("STONITH_EXTERNAL_DIR", "/usr/lib/stonith/plugins/external")
            .args(*args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("stonith");
        let (rc_t, out_t, _) = text(&theirs);
        let (rc_o, out_o, _) = text(&ours);
        assert_eq!((rc_o, out_o), (rc_t, out_t), "{args:?}");
    }
}

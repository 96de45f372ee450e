//! A node of ours next to a real Heartbeat 3.0.6 node (Debian's package, run
//! by the harness in ../shared/interop/heartbeat): each sees the other
//! active with the same ha.cf timing and authkeys, over UDP and over a
//! serial line, asks the other about its clients, and each declares the
//! other dead when it is killed. Skips, saying why, when Debian's heartbeat
//! or the harness is absent; CI installs the package so it runs there. The
//! harness has fixed names, so the tests take turns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use integration_tests::{bin, TestNode};

/// The harness's namespaces have fixed names: one test at a time.
static HARNESS: Mutex<()> = Mutex::new(());

/// Why the interop tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if !Path::new(REAL_HEARTBEAT).exists() {
        return Some(format!(
            "{REAL_HEARTBEAT} is absent (apt-get install heartbeat)"
        ));
    }
    if !harness().join("up").exists() {
        return Some(format!(
            "the interop harness {} is absent",
            harness().display()
        ));
    }
    None
}

const REAL_HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/interop/heartbeat")
}

/// The harness's namespaces, our node and its state, removed on drop even
/// when the test fails.
struct Interop {
    state: PathBuf,
    ours: TestNode,
}

impl Interop {
    fn script(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut c = Command::new(harness().join(name));
        c.args(args).env("HB_STATE", &self.state);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run harness script")
    }

    fn real_log(&self) -> String {
        std::fs::read_to_string(self.state.join("hb1/log/ha-log")).unwrap_or_default()
    }

    fn cl_status(&self, node: &str) -> String {
        let out = self.script("hbexec", &["1", "cl_status", "nodestatus", node], &[]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Every process of the real node: those in its holder's mount namespace.
    fn real_pids(&self) -> Vec<i32> {
        let holder = std::fs::read_to_string(self.state.join("hb1/holder.pid")).unwrap_or_default();
        let Ok(mnt) = std::fs::read_link(format!("/proc/{}/ns/mnt", holder.trim())) else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "heartbeat"
                && std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .ok()
                    .as_ref()
                    == Some(&mnt)
            {
                pids.push(pid);
            }
        }
        pids
    }

    fn start_ours(&self) {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", "hbrs1"]).arg(bin("heartbeat"));
        self.ours.apply_env(&mut c);
        let out = c.output().expect("start our heartbeat");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Interop {
    fn drop(&mut self) {
        let _ = self.ours.run("heartbeat", &["-k"]);
        let _ = self.script("down", &["--purge"], &[]);
    }
}

#[test]
fn our_node_and_a_real_heartbeat_node_see_each_other_and_notice_deaths() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let _turn = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let mut ours = TestNode::new("interop");
    ours.name = "rs1".into();
    ours.write_ha_cf(
        "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\nbcast hbeth0\n\
         auto_failback off\nnode hb1 rs1\nuse_logd no\nlogfacility none\nlogfile ha-log\n",
    );
    ours.write_authkeys("auth 1\n1 sha1 hb-test-secret\n", 0o600);
    let it = Interop {
        state: ours.root.join("harness"),
        ours,
    };
    let _ = it.script("down", &["--purge"], &[]);
    let up = it.script("up", &["1", "B"], &[("HB_EXTRA_NODES", "rs1")]);
    assert!(
        up.status.success(),
        "harness up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let attach = it.script("attach", &["hbrs1", "50"], &[]);
    assert!(
        attach.status.success(),
        "{}",
        String::from_utf8_lossy(&attach.stderr)
    );
    it.start_ours();

    // Each side sees the other active; the real node goes active itself
    // only once ours has answered its node-list request.
    let ours = &it.ours;
    assert!(
        ours.wait_for(|| it
            .real_log()
            .contains("Status update for node rs1: status active")),
        "real node:\n{}",
        it.real_log()
    );
    assert!(ours.wait_for(|| it.real_log().contains("Local status now set to: 'active'")));
    assert!(
        ours.wait_for(|| ours
            .log()
            .contains("Status update for node hb1: status active")),
        "ours:\n{}",
        ours.log()
    );
    assert!(
        ours.wait_for(|| it.cl_status("rs1") == "active"),
        "cl_status: {}",
        it.cl_status("rs1")
    );

    // `cl_status hbparameter` answers as Heartbeat does, for the settings
    // both ha.cf files share, the defaults and the derived timings (and a
    // setting neither has).
    for param in [
        "keepalive",
        "warntime",
        "deadtime",
        "initdead",
        "deadping",
        "auto_failback",
        "logfacility",
        "use_logd",
        "cluster",
        "hopfudge",
        "baud",
        "udpport",
        "realtime",
        "msgfmt",
        "compression",
        "traditional_compression",
        "max_rexmit_delay",
        "memreserve",
        "autojoin",
        "uuidfrom",
        "hbgenmethod",
        "coredumps",
        "watchdog",
    ] {
        let real = it.script(
            "hbexec",
            &["1", "cl_status", "hbparameter", "-p", param],
            &[],
        );
        let mine = ours.run("cl_status", &["hbparameter", "-p", param]);
        assert_eq!(
            (
                String::from_utf8_lossy(&mine.stdout).into_owned(),
                mine.status.code()
            ),
            (
                String::from_utf8_lossy(&real.stdout).into_owned(),
                real.status.code()
            ),
            "hbparameter -p {param}"
        );
    }

    // Client status across implementations (query-cstatus and
    // respond-cstatus between the masters), both ways.
    let mut client = hbapi::connect(&ours.paths()).expect("connect to our heartbeat");
    assert_eq!(
        client
            .call(&hbapi::Request::Signon {
                client: "apitest".into()
            })
            .unwrap(),
        hbapi::Response::Ok
    );
    let real_asks = |name: &str| {
        let out = it.script(
            "hbexec",
            &["1", "cl_status", "clientstatus", "rs1", name, "2000"],
            &[],
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code(),
        )
    };
    assert_eq!(real_asks("apitest"), ("online\n".into(), Some(0)));
    assert_eq!(real_asks("nosuchclient"), ("offline\n".into(), Some(1)));
    let out = ours.run(
        "cl_status",
        &["clientstatus", "hb1", "nosuchclient", "2000"],
    );
    assert_eq!(
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code()
        ),
        ("offline\n".into(), Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(client);

    // Ours killed: the real node declares it dead.
    let pid = plumbing::daemon::PidFile::running_pid(&ours.root.join("run/heartbeat.pid"))
        .unwrap()
        .expect("our node runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        ours.wait_for(|| it.cl_status("rs1") == "dead"),
        "cl_status: {}",
        it.cl_status("rs1")
    );
    assert!(
        it.real_log().contains("Link rs1:hbeth0 dead."),
        "{}",
        it.real_log()
    );

    // Ours back, then the real node killed: ours declares it dead.
    it.start_ours();
    assert!(
        ours.wait_for(|| it.cl_status("rs1") == "active"),
        "cl_status: {}",
        it.cl_status("rs1")
    );
    let real = it.real_pids();
    assert!(!real.is_empty(), "no processes of the real node found");
    for p in real {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        ours.wait_for(|| ours.log().contains("node hb1: is dead")),
        "ours:\n{}",
        ours.log()
    );
    assert!(ours.log().contains("Link hb1:hbeth0 dead."));
}

#[test]
fn our_node_and_a_real_heartbeat_node_talk_over_a_serial_line() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let _turn = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let (real_master, _real_slave, real_tty) = integration_tests::pty::pty();
    let (our_master, _our_slave, our_tty) = integration_tests::pty::pty();
    let cable = integration_tests::pty::Cable::new(real_master, our_master);
    let mut ours = TestNode::new("interop-serial");
    ours.name = "rs1".into();
    ours.write_ha_cf(&format!(
        "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\nbaud 19200\n\
         serial {our_tty}\nauto_failback off\nnode hb1 rs1\nuse_logd no\nlogfacility none\n\
         logfile ha-log\n"
    ));
    ours.write_authkeys("auth 1\n1 sha1 hb-test-secret\n", 0o600);
    let it = Interop {
        state: ours.root.join("harness"),
        ours,
    };
    let _ = it.script("down", &["--purge"], &[]);
    let up = it.script(
        "up",
        &["1", "B"],
        &[("HB_EXTRA_NODES", "rs1"), ("HB_NOSTART", "1")],
    );
    assert!(
        up.status.success(),
        "harness up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    // The real node talks over the serial line only.
    let cf = it.state.join("hb1/etc/ha.cf");
    let real_cf = std::fs::read_to_string(&cf).unwrap();
    assert!(real_cf.contains("bcast hbeth0\n"), "{real_cf}");
    std::fs::write(
        &cf,
        real_cf.replace(
            "bcast hbeth0\n",
            &format!("baud 19200\nserial {real_tty}\n"),
        ),
    )
    .unwrap();
    let start = it.script("start-node", &["1"], &[]);
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let ours = &it.ours;
    let out = ours.run("heartbeat", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(
        ours.wait_for(|| it
            .real_log()
            .contains("Status update for node rs1: status active")),
        "real node:\n{}",
        it.real_log()
    );
    assert!(
        it.real_log().contains(&format!("Link rs1:{real_tty} up.")),
        "{}",
        it.real_log()
    );
    assert!(
        ours.wait_for(|| ours
            .log()
            .contains("Status update for node hb1: status active")),
        "ours:\n{}",
        ours.log()
    );
    assert!(ours.log().contains(&format!("Link hb1:{our_tty} up.")));
    // Sequenced messages cross the line both ways: the real node asks ours
    // about a client and gets the answer.
    let out = it.script(
        "hbexec",
        &[
            "1",
            "cl_status",
            "clientstatus",
            "rs1",
            "nosuchclient",
            "2000",
        ],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "offline\n");
    // No packet either way failed its digest or was late.
    let real = it.real_log();
    assert!(!real.contains("failed authentication"), "{real}");
    assert!(!real.contains("Late heartbeat"), "{real}");
    assert!(!ours.log().contains("dropped a packet"), "{}", ours.log());

    // Cable cut: each declares the other dead.
    cable.set_cut(true);
    assert!(
        ours.wait_for(|| it.cl_status("rs1") == "dead"),
        "cl_status: {}",
        it.cl_status("rs1")
    );
    assert!(
        ours.wait_for(|| ours.log().contains("node hb1: is dead")),
        "ours:\n{}",
        ours.log()
    );
}

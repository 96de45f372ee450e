//! Helpers for integration tests that run the real binaries: where the built
//! binaries are, and `TestNode`, a node's private directories and `HA_*`
//! environment, which stops its heartbeat and removes everything on drop,
//! even when the test fails.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A built binary of the workspace (`cargo build --workspace --bins` first).
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let p = target.join(profile).join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (test.sh does)",
        p.display()
    );
    p
}

/// One node's directories and environment.
pub struct TestNode {
    /// Root of the node's private tree.
    pub root: PathBuf,
    /// Its node name.
    pub name: String,
}

impl TestNode {
    /// Fresh directories etc/, run/, lib/, log/ under a unique temp dir.
    pub fn new(test: &str) -> TestNode {
        let root = std::env::temp_dir().join(format!("hbtest-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["etc", "run", "lib", "log"] {
            std::fs::create_dir_all(root.join(d)).expect("create test dirs");
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        TestNode {
            root,
            name: "node1".into(),
        }
    }

    /// `HA_CONFDIR`.
    pub fn confdir(&self) -> PathBuf {
        self.root.join("etc")
    }

    /// The log directory (for logfile lines in ha.cf).
    pub fn logdir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// Writes ha.cf.
    pub fn write_ha_cf(&self, text: &str) {
        std::fs::write(self.confdir().join("ha.cf"), text).expect("write ha.cf");
    }

    /// Writes authkeys with `mode`.
    pub fn write_authkeys(&self, text: &str, mode: u32) {
        let p = self.confdir().join("authkeys");
        std::fs::write(&p, text).expect("write authkeys");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// A minimal valid configuration, plus `extra` lines. It logs to the
    /// relative `ha-log`, which must land in `$HA_LOGDIR` (log/).
    pub fn configure(&self, extra: &str) {
        self.write_ha_cf(&format!(
            "keepalive 100ms\ndeadtime 500ms\ninitdead 10\nucast lo 127.0.0.1\n\
             node {}\nauto_failback off\nuse_logd no\nlogfacility none\n\
             logfile ha-log\n{extra}",
            self.name
        ));
        self.write_authkeys("auth 1\n1 sha1 test-secret-do-not-print\n", 0o600);
    }

    /// A command for one of our binaries with this node's environment.
    pub fn command(&self, binary: &str) -> Command {
        let mut c = Command::new(bin(binary));
        c.env("HA_CONFDIR", self.confdir())
            .env("HA_RUNDIR", self.root.join("run"))
            .env("HA_STATEDIR", self.root.join("lib"))
            .env("HA_LOGDIR", self.logdir())
            .env("HA_NODENAME", &self.name);
        c
    }

    /// Runs a binary with arguments to completion.
    pub fn run(&self, binary: &str, args: &[&str]) -> Output {
        self.command(binary)
            .args(args)
            .output()
            .expect("run binary")
    }

    /// The heartbeat log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.logdir().join("ha-log")).unwrap_or_default()
    }

    /// Waits until `cond` holds, up to 20 s (a hang detector, not a timing
    /// assertion). Returns whether it held.
    pub fn wait_for(&self, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let pidfile = self.root.join("run/heartbeat.pid");
        if let Ok(Some(pid)) = plumbing::daemon::PidFile::running_pid(&pidfile) {
            let _ = self.run("heartbeat", &["-k"]);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

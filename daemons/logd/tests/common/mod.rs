//! Helpers of logd's integration tests: a temporary node directory with its
//! own `HA_*` variables, a real logd child process, ha_logger runs, and
//! waits that only detect hangs (generous deadlines, never measurements).
#![allow(dead_code)] // each test file uses a different subset

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipc::BlockingClient;
use logging::{LogRecord, LogdProtocol, LogdRequest, LogdResponse, LogdStats};

/// Deadline of every wait: only there to turn a hang into a failure.
pub const HANG: Duration = Duration::from_secs(60);

/// The logd binary under test.
pub fn logd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_logd"))
}

/// The ha_logger binary, built next to logd.
pub fn ha_logger_bin() -> PathBuf {
    let p = logd_bin().with_file_name("ha_logger");
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build -p ha_logger` (or test -p logd -p ha_logger together)",
        p.display()
    );
    p
}

/// One node's directories (conf, run, log) under a fresh temp dir.
pub struct Node {
    pub root: PathBuf,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("logd-it-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["conf", "run", "log", "state"] {
            std::fs::create_dir_all(root.join(d)).expect("create node dir");
        }
        Node { root }
    }

    pub fn conf(&self) -> PathBuf {
        self.root.join("conf")
    }

    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join("log").join(name)
    }

    pub fn socket(&self) -> PathBuf {
        self.run().join("logd.sock")
    }

    pub fn pidfile(&self) -> PathBuf {
        self.run().join("logd.pid")
    }

    /// Writes `$HA_CONFDIR/logd.cf`.
    pub fn write_cf(&self, text: &str) {
        std::fs::write(self.conf().join("logd.cf"), text).expect("write logd.cf");
    }

    /// A logd.cf with `ha-log` and `ha-debug` in the node's log dir, no
    /// syslog, and the given extra lines.
    pub fn standard_cf(&self, extra: &str) {
        self.write_cf(&format!(
            "logfile {}\ndebugfile {}\nlogfacility none\n{extra}",
            self.log("ha-log").display(),
            self.log("ha-debug").display()
        ));
    }

    /// Sets the node's `HA_*` variables on a command.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("HA_CONFDIR", self.conf())
            .env("HA_RUNDIR", self.run())
            .env("HA_LOGDIR", self.root.join("log"))
            .env("HA_STATEDIR", self.root.join("state"))
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.log(name)).unwrap_or_default()
    }

    /// Runs logd with `args` to completion (status, stop, refusals).
    pub fn logd_output(&self, args: &[&str]) -> Output {
        self.env(&mut Command::new(logd_bin()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run logd")
    }

    /// Runs ha_logger with `args` and `stdin`; returns its pid and output.
    pub fn ha_logger(&self, args: &[&str], stdin: Option<&str>) -> (u32, Output) {
        let mut child = self
            .env(&mut Command::new(ha_logger_bin()))
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ha_logger");
        let pid = child.id();
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes()).expect("feed stdin");
        }
        let out = wait_output(child);
        (pid, out)
    }

    /// A blocking client of this node's logd.
    pub fn client(&self) -> BlockingClient<LogdProtocol> {
        let mut c = BlockingClient::connect(&self.socket()).expect("connect to logd");
        c.set_timeout(Some(HANG));
        c
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Waits for a child with `HANG` as the limit; kills it on a hang.
pub fn wait_output(mut child: Child) -> Output {
    let deadline = Instant::now() + HANG;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "child hung; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// Polls `cond` until it holds; panics with `what` after `HANG`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running logd child; killed if the test ends without stopping it.
pub struct Logd {
    pub child: Child,
    stderr_path: PathBuf,
}

impl Logd {
    /// Starts `logd -v` (its logd.cf is the node's default) and waits
    /// until it answers.
    pub fn start(node: &Node) -> Logd {
        Logd::start_with(node, &["-v"])
    }

    pub fn start_with(node: &Node, args: &[&str]) -> Logd {
        let stderr_path = node.root.join(format!("logd-stderr-{}", unique()));
        let stderr = File::create(&stderr_path).expect("stderr file");
        let child = node
            .env(&mut Command::new(logd_bin()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn logd");
        let mut logd = Logd { child, stderr_path };
        let socket = node.socket();
        wait_until("logd to answer", || {
            if let Ok(Some(status)) = logd.child.try_wait() {
                panic!("logd exited with {status}: {}", logd.stderr());
            }
            BlockingClient::<LogdProtocol>::connect(&socket)
                .and_then(|mut c| c.call(&LogdRequest::Stats))
                .is_ok()
        });
        logd
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig)
            .expect("signal logd");
    }

    /// Waits for the process to end (after a signal or `-k`).
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + HANG;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            assert!(Instant::now() < deadline, "logd did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Logd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unique() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// logd's counters.
pub fn stats(c: &mut BlockingClient<LogdProtocol>) -> LogdStats {
    match c.call(&LogdRequest::Stats).expect("stats call") {
        LogdResponse::Stats(s) => s,
    }
}

/// A record with a chosen entity, stamped now, from this process.
pub fn record(entity: &str, message: String) -> LogRecord {
    LogRecord::new(entity, logging::Priority::Info, message, None)
}

/// Lines of `text` whose entity part is `entity: [pid]:`.
pub fn lines_of<'a>(text: &'a str, entity: &str, pid: u32) -> Vec<&'a str> {
    let tag = format!(" {entity}: [{pid}]: ");
    text.lines().filter(|l| l.contains(&tag)).collect()
}

/// The text after `entity: [pid]: ` on each line of that sender.
pub fn messages_of(text: &str, entity: &str, pid: u32) -> Vec<String> {
    let tag = format!(" {entity}: [{pid}]: ");
    text.lines()
        .filter_map(|l| l.split_once(&tag).map(|(_, m)| m.to_owned()))
        .collect()
}

/// The node name as file lines show it.
pub fn nodename() -> String {
    logging::format::nodename()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Compares long lists of lines, reporting the lengths and the first
/// difference rather than both lists.
pub fn assert_lines(got: &[String], expected: &[String], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(g, e)| g != e)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: {} lines, expected {}; first difference at {first}: got {:?}, expected {:?}",
        got.len(),
        expected.len(),
        got.get(first),
        expected.get(first)
    );
}

//! Running devices: fence agents (`fence_*`: `name=value` lines on stdin,
//! `-o metadata`), cluster-glue `external/*` plugins (parameters in the
//! environment, `OP [HOST]` arguments) and the native plugins null, ssh,
//! suicide and meatware. Every program runs in a process group of its
//! own (posix_spawn, empty signal mask, default dispositions, as lrmd
//! runs resource agents) with stdout/stderr captured up to a bound; at
//! the timeout the whole group gets SIGTERM, then SIGKILL 2 s later.
//!
//! The calls here block (the daemon runs them on worker threads; the
//! stonith command runs them directly). Building an invocation is pure
//! and tested as such.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use plumbing::process::{kill_group, spawn_agent, AgentStdin};

use crate::device::{AgentKind, Device, NativePlugin};

/// Bytes kept of each of stdout and stderr.
pub const OUTPUT_LIMIT: usize = 64 << 10;

/// How long metadata and host lists may take.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// Where agents live. The defaults are Debian's; the environment can move
/// them (`FENCE_AGENT_DIR`, `STONITH_EXTERNAL_DIR`, `MEATWARE_DIR`), which
/// the tests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDirs {
    /// Fence agents (`/usr/sbin`).
    pub fence_agents: PathBuf,
    /// External plugins (`/usr/lib/stonith/plugins/external`).
    pub external: PathBuf,
    /// Where meatware makes its FIFO (`/var/run`).
    pub meatware: PathBuf,
    /// Prefixed to external plugins' PATH (`/usr/share/cluster-glue`, for
    /// `ha_log.sh`).
    pub glue_share: PathBuf,
}

impl AgentDirs {
    /// The standard places, moved by the environment.
    pub fn from_env() -> AgentDirs {
        let get = |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
        AgentDirs {
            fence_agents: get("FENCE_AGENT_DIR", "/usr/sbin"),
            external: get("STONITH_EXTERNAL_DIR", "/usr/lib/stonith/plugins/external"),
            meatware: get("MEATWARE_DIR", "/var/run"),
            glue_share: PathBuf::from("/usr/share/cluster-glue"),
        }
    }

    /// The meatware FIFO for `node`.
    pub fn meatware_fifo(&self, node: &str) -> PathBuf {
        self.meatware.join(format!("meatware.{node}"))
    }

    /// Every agent installed: fence agents, external plugins as
    /// `external/NAME`, and the native plugins; sorted.
    pub fn installed(&self) -> Vec<String> {
        let mut v: Vec<String> = list_executables(&self.fence_agents)
            .into_iter()
            .filter(|n| n.starts_with("fence_") && n != "fence_legacy")
            .collect();
        v.extend(
            list_executables(&self.external)
                .into_iter()
                .map(|n| format!("external/{n}")),
        );
        v.extend(NativePlugin::ALL.iter().map(|p| p.name().to_string()));
        v.sort();
        v.dedup();
        v
    }

    /// The program of an agent that runs as one.
    pub fn program(&self, kind: &AgentKind) -> Option<PathBuf> {
        match kind {
            AgentKind::FenceAgent(n) => Some(self.fence_agents.join(n)),
            AgentKind::External(n) => Some(self.external.join(n)),
            AgentKind::Native(_) => None,
        }
    }
}

fn list_executables(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    e.metadata()
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// What an agent's metadata says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentInfo {
    /// Its actions.
    pub actions: Vec<String>,
    /// Its parameters.
    pub parameters: Vec<String>,
    /// `on` is marked `automatic="1"` (or `required="1"`): it must be
    /// unfenced on start.
    pub automatic_on: bool,
}

impl AgentInfo {
    /// Whether it has `action`.
    pub fn has_action(&self, a: &str) -> bool {
        self.actions.iter().any(|x| x == a)
    }

    /// The parameter that names the target: `pcmk_host_argument`, else
    /// `port`, else `plug` when the agent has plug but not port, else
    /// `port` (Pacemaker's default; agents without it warn and go on).
    pub fn host_argument(&self, device: &Device) -> Option<String> {
        match device.host_argument.as_deref() {
            Some("none") => None,
            Some(a) => Some(a.to_string()),
            None if !self.parameters.iter().any(|p| p == "port")
                && self.parameters.iter().any(|p| p == "plug") =>
            {
                Some("plug".into())
            }
            None => Some("port".into()),
        }
    }

    /// Reads a fence agent's metadata XML.
    pub fn from_metadata(xml: &str) -> Option<AgentInfo> {
        let doc = cib_xml::xml::parse(xml, &cib_xml::Limits::default()).ok()?;
        let mut info = AgentInfo::default();
        if let Some(ps) = doc.child("parameters") {
            for p in ps.children_named("parameter") {
                if let Some(n) = p.attr("name") {
                    info.parameters.push(n.to_string());
                }
            }
        }
        if let Some(acts) = doc.child("actions") {
            for a in acts.children_named("action") {
                let Some(n) = a.attr("name") else { continue };
                if n == "on"
                    && (a.attr("automatic") == Some("1") || a.attr("required") == Some("1"))
                {
                    info.automatic_on = true;
                }
                info.actions.push(n.to_string());
            }
        }
        Some(info)
    }

    /// What the external plugins and native plugins can do.
    pub fn plugin() -> AgentInfo {
        AgentInfo {
            actions: ["on", "off", "reboot", "status", "list", "monitor"]
                .map(String::from)
                .to_vec(),
            parameters: vec!["hostlist".into()],
            automatic_on: false,
        }
    }
}

/// A program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the environment.
    pub env: Vec<(String, String)>,
    /// What is written to its stdin (then closed).
    pub stdin: String,
}

/// The fence agent invocation of `action` (the fencer's name: on, off,
/// reboot, status, list, monitor) against `target` (Pacemaker's
/// make_args): `action=` after `pcmk_<action>_action`, reboot made off
/// when the agent has no reboot, `nodename=`, `nodeid=` when known, the
/// host argument set to the target or its `pcmk_host_map` alias, then
/// the device's own parameters.
pub fn fence_agent_invocation(
    program: PathBuf,
    device: &Device,
    info: &AgentInfo,
    action: &str,
    target: Option<&str>,
    nodeid: Option<&str>,
) -> Invocation {
    let mut agent_action = device.agent_action(action).to_string();
    if agent_action == "reboot" && !info.actions.is_empty() && !info.has_action("reboot") {
        agent_action = "off".into();
    }
    let mut lines = vec![format!("action={agent_action}")];
    if let Some(t) = target {
        lines.push(format!("nodename={t}"));
        if let Some(id) = nodeid {
            lines.push(format!("nodeid={id}"));
        }
        if let Some(arg) = info.host_argument(device) {
            if !device.params.contains_key(&arg) {
                lines.push(format!("{arg}={}", device.port_for(t)));
            }
        }
    }
    for (k, v) in &device.params {
        // One option a line: nothing may add lines of its own.
        if !v.contains('\n') && !k.contains(['\n', '=']) && !k.is_empty() {
            lines.push(format!("{k}={v}"));
        }
    }
    let mut stdin = lines.join("\n");
    stdin.push('\n');
    Invocation {
        program,
        args: Vec::new(),
        env: Vec::new(),
        stdin,
    }
}

/// The operation an external plugin is given for a fencer action.
pub fn external_op(action: &str) -> &str {
    match action {
        "reboot" => "reset",
        "list" => "gethosts",
        "monitor" => "status",
        a => a,
    }
}

/// The external plugin invocation: `NAME OP [HOST]` with every parameter
/// as an environment variable of its own name, `HA_LOGTAG`, and `PATH`
/// prefixed with cluster-glue's share directory.
pub fn external_invocation(
    dirs: &AgentDirs,
    name: &str,
    params: &BTreeMap<String, String>,
    op: &str,
    host: Option<&str>,
) -> Invocation {
    let mut env: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !k.is_empty() && !k.contains('=') && !k.contains('\0'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("HA_LOGTAG".into(), format!("external/{name}")));
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    env.push((
        "PATH".into(),
        format!("{}:{path}", dirs.glue_share.display()),
    ));
    let mut args = vec![op.to_string()];
    if let Some(h) = host {
        args.push(h.to_string());
    }
    Invocation {
        program: dirs.external.join(name),
        args,
        env,
        stdin: String::new(),
    }
}

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It ran past the timeout and its group was killed.
    TimedOut,
}

/// A finished program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// How it ended.
    pub exit: Exit,
    /// Its stdout (bounded).
    pub stdout: String,
    /// Its stderr (bounded).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

fn try_wait(pid: i32, flags: libc::c_int) -> Option<Exit> {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    if r == pid {
        if libc::WIFEXITED(status) {
            Some(Exit::Code(libc::WEXITSTATUS(status)))
        } else {
            Some(Exit::Signal(libc::WTERMSIG(status)))
        }
    } else if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
        // Not our child any more (reaped elsewhere): treat as a failure.
        Some(Exit::Signal(0))
    } else {
        None
    }
}

struct Capture {
    fd: OwnedFd,
    buf: Vec<u8>,
    eof: bool,
}

impl Capture {
    fn read(&mut self) {
        let mut chunk = [0u8; 8192];
        loop {
            // SAFETY: reading into a local buffer from a descriptor we own.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    chunk.as_mut_ptr() as *mut libc::c_void,
                    chunk.len(),
                )
            };
            if n == 0 {
                self.eof = true;
                return;
            }
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            let n = n as usize;
            let room = OUTPUT_LIMIT.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..n.min(room)]);
        }
    }
}

/// Runs `inv` to completion or until `timeout` (then its group is
/// TERMed, and KILLed 2 s later). Completion is the program's exit, not
/// EOF on its pipes.
pub fn run(inv: &Invocation, timeout: Duration) -> io::Result<Finished> {
    let start = Instant::now();
    let deadline = start + timeout;
    let child = spawn_agent(&inv.program, &inv.args, &inv.env, AgentStdin::Pipe)?;
    let (pid, out, err) = (child.pid, child.stdout, child.stderr);
    let stdin = child
        .stdin
        .ok_or_else(|| io::Error::other("no stdin pipe"))?;
    {
        // Small enough for a pipe buffer; an agent that does not read
        // stdin must not block us, so write non-blocking and give up on
        // what does not fit.
        set_nonblocking(&stdin);
        let mut f = std::fs::File::from(stdin);
        let _ = f.write_all(inv.stdin.as_bytes());
    }
    set_nonblocking(&out);
    set_nonblocking(&err);
    let mut caps = [
        Capture {
            fd: out,
            buf: Vec::new(),
            eof: false,
        },
        Capture {
            fd: err,
            buf: Vec::new(),
            eof: false,
        },
    ];
    let mut killed_at: Option<Instant> = None;
    let exit = loop {
        if let Some(e) = try_wait(pid, libc::WNOHANG) {
            break if killed_at.is_some() {
                Exit::TimedOut
            } else {
                e
            };
        }
        let now = Instant::now();
        match killed_at {
            None if now >= deadline => {
                kill_group(pid, Signal::SIGTERM);
                killed_at = Some(now);
            }
            Some(t) if now >= t + Duration::from_secs(2) => {
                kill_group(pid, Signal::SIGKILL);
                let _ = try_wait(pid, 0);
                break Exit::TimedOut;
            }
            _ => {}
        }
        let mut fds: Vec<libc::pollfd> = caps
            .iter()
            .filter(|c| !c.eof)
            .map(|c| libc::pollfd {
                fd: c.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // Pipes open: they wake us (and close when the agent exits);
        // once both are closed, poll its exit briefly.
        let wait_ms = if fds.is_empty() { 2 } else { 50 };
        // SAFETY: fds is a valid array of pollfd for the call.
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms);
        }
        for c in caps.iter_mut().filter(|c| !c.eof) {
            c.read();
        }
    };
    if exit == Exit::TimedOut {
        kill_group(pid, Signal::SIGKILL);
    }
    for c in caps.iter_mut() {
        c.read();
    }
    let [o, e] = caps;
    Ok(Finished {
        exit,
        stdout: String::from_utf8_lossy(&o.buf).into_owned(),
        stderr: String::from_utf8_lossy(&e.buf).into_owned(),
        elapsed: start.elapsed(),
    })
}

/// The result of one device action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    /// The agent's exit code (for `status`: 0 on, 2 off); -1 if it did
    /// not run or was killed.
    pub rc: i32,
    /// It timed out.
    pub timed_out: bool,
    /// What it printed (stdout then stderr, bounded).
    pub output: String,
    /// Why it failed (empty on success).
    pub reason: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl ActionResult {
    /// Whether the action succeeded (`status`'s "off" counts: the device
    /// answered).
    pub fn ok(&self, action: &str) -> bool {
        !self.timed_out && (self.rc == 0 || (action == "status" && self.rc == 2))
    }

    /// Pacemaker's exit code for it: 0, 124 timed out, 1 otherwise.
    pub fn exit_code(&self, action: &str) -> i32 {
        if self.ok(action) {
            0
        } else if self.timed_out {
            124
        } else {
            1
        }
    }

    fn failed(reason: String) -> ActionResult {
        ActionResult {
            rc: -1,
            timed_out: false,
            output: String::new(),
            reason,
            elapsed: Duration::ZERO,
        }
    }
}

fn seconds_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Longest agent message kept in a reason (it travels in cluster
/// messages and the history).
pub const REASON_LIMIT: usize = 300;

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn finished_to_result(f: io::Result<Finished>, what: &str, timeout: Duration) -> ActionResult {
    match f {
        Err(e) => ActionResult::failed(format!("cannot run {what}: {e}")),
        Ok(f) => {
            let mut output = f.stdout.clone();
            output.push_str(&f.stderr);
            let last_err = f
                .stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            let last_err = truncate(last_err, REASON_LIMIT);
            let (rc, timed_out, reason) = match f.exit {
                Exit::Code(0) => (0, false, String::new()),
                Exit::Code(c) => (
                    c,
                    false,
                    if last_err.is_empty() {
                        format!("{what} returned {c}")
                    } else {
                        format!("{what} returned {c}: {last_err}")
                    },
                ),
                Exit::Signal(s) => (-1, false, format!("{what} was killed by signal {s}")),
                Exit::TimedOut => (
                    -1,
                    true,
                    format!(
                        "Fence agent did not complete within {}",
                        seconds_text(timeout)
                    ),
                ),
            };
            ActionResult {
                rc,
                timed_out,
                output,
                reason,
                elapsed: f.elapsed,
            }
        }
    }
}

/// One action to run on a device.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// on, off, reboot, status, monitor or list.
    pub action: &'a str,
    /// The node acted on (none for list/monitor).
    pub target: Option<&'a str>,
    /// The target's CIB node id, if known.
    pub nodeid: Option<&'a str>,
    /// This node's name (suicide fences only it).
    pub local: &'a str,
    /// How long it may take.
    pub timeout: Duration,
}

/// Runs `action` (on, off, reboot, status, monitor, list) of `device`
/// against `target`, blocking for at most `timeout` (+2 s to kill a group
/// that ignores SIGTERM). `local` is this node's name (suicide fences
/// only it); `nodeid` is the target's CIB id if known.
pub fn execute(dirs: &AgentDirs, device: &Device, info: &AgentInfo, call: &Call) -> ActionResult {
    let Call {
        action,
        target,
        nodeid,
        local,
        timeout,
    } = *call;
    match &device.kind {
        AgentKind::FenceAgent(name) => {
            let inv = fence_agent_invocation(
                dirs.fence_agents.join(name),
                device,
                info,
                action,
                target,
                nodeid,
            );
            finished_to_result(run(&inv, timeout), "Fence agent", timeout)
        }
        AgentKind::External(name) => {
            let op = external_op(device.agent_action(action));
            let host = target.map(|t| device.port_for(t).to_lowercase());
            let with_host = matches!(op, "reset" | "on" | "off");
            let inv = external_invocation(
                dirs,
                name,
                &device.params,
                op,
                if with_host { host.as_deref() } else { None },
            );
            let what = format!("external/{name} {op}");
            let mut r = finished_to_result(run(&inv, timeout), &what, timeout);
            if op == "gethosts" && r.rc == 0 && r.output.split_whitespace().next().is_none() {
                r.rc = 1;
                r.reason = format!("external/{name} gethosts listed no host");
            }
            r
        }
        AgentKind::Native(p) => native(dirs, *p, device, action, target, local, timeout),
    }
}

/// The host list of a native plugin (`hostlist`, separated by spaces or
/// commas).
fn native_hosts(device: &Device) -> Vec<String> {
    device
        .params
        .get("hostlist")
        .map(|h| crate::device::parse_host_list(h))
        .unwrap_or_default()
}

fn native(
    dirs: &AgentDirs,
    plugin: NativePlugin,
    device: &Device,
    action: &str,
    target: Option<&str>,
    local: &str,
    timeout: Duration,
) -> ActionResult {
    let start = Instant::now();
    let done = |rc: i32, output: String, reason: String| ActionResult {
        rc,
        timed_out: false,
        output,
        reason,
        elapsed: start.elapsed(),
    };
    let hosts = match plugin {
        NativePlugin::Suicide => vec![local.to_string()],
        _ => native_hosts(device),
    };
    match action {
        "list" => {
            if hosts.is_empty() {
                return done(
                    1,
                    String::new(),
                    format!("{} has no hostlist", plugin.name()),
                );
            }
            return done(0, hosts.join("\n") + "\n", String::new());
        }
        "status" | "monitor" => return done(0, String::new(), String::new()),
        _ => {}
    }
    let Some(target) = target else {
        return done(1, String::new(), format!("{action} needs a target"));
    };
    let target = target.to_lowercase();
    let action = device.agent_action(action).to_string();
    match plugin {
        NativePlugin::Null => done(0, format!("Host null-{action}: {target}\n"), String::new()),
        NativePlugin::Ssh => {
            if action == "on" {
                return done(1, String::new(), "ssh cannot power a node on".into());
            }
            let inv = Invocation {
                program: PathBuf::from("/usr/bin/ssh"),
                args: [
                    "-q",
                    "-x",
                    "-o",
                    "PasswordAuthentication=no",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-n",
                    "-l",
                    "root",
                    &target,
                    "echo 'sleep 2; /sbin/reboot -nf' | SHELL=/bin/sh at now >/dev/null 2>&1",
                ]
                .map(String::from)
                .to_vec(),
                env: Vec::new(),
                stdin: String::new(),
            };
            finished_to_result(run(&inv, timeout), "ssh", timeout)
        }
        NativePlugin::Suicide => {
            if !target.eq_ignore_ascii_case(local) {
                return done(1, String::new(), format!("suicide can only fence {local}"));
            }
            if action == "on" {
                return done(1, String::new(), "suicide cannot power a node on".into());
            }
            let cmd = if action == "off" {
                "/sbin/poweroff"
            } else {
                "/sbin/reboot"
            };
            let inv = Invocation {
                program: PathBuf::from(cmd),
                args: vec!["-nf".into()],
                env: Vec::new(),
                stdin: String::new(),
            };
            finished_to_result(run(&inv, timeout), cmd, timeout)
        }
        NativePlugin::Meatware => meatware(dirs, &target, timeout, start),
    }
}

/// Whether `name` can be a node name: 1 to 255 bytes, no `/`, no
/// whitespace or control characters (it ends up in file names and agent
/// arguments).
pub fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
}

/// The text meatclient writes to confirm `node`.
pub fn meatware_reply(node: &str) -> String {
    format!("meatware reply {node}")
}

/// Waits for an operator's confirmation through the FIFO
/// `MEATWARE_DIR/meatware.NODE` (made mode 0600, removed afterwards).
fn meatware(dirs: &AgentDirs, node: &str, timeout: Duration, start: Instant) -> ActionResult {
    if !valid_node_name(node) {
        return ActionResult::failed(format!("invalid node name '{node}'"));
    }
    let path = dirs.meatware_fifo(node);
    let _ = std::fs::remove_file(&path);
    let done = |rc: i32, reason: String, timed_out: bool| ActionResult {
        rc,
        timed_out,
        output: String::new(),
        reason,
        elapsed: start.elapsed(),
    };
    if let Err(e) = nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
        return done(
            1,
            format!("cannot make {}: {}", path.display(), io::Error::from(e)),
            false,
        );
    }
    log::error!("OPERATOR INTERVENTION REQUIRED to reset {node}.");
    log::error!("Run \"meatclient -c {node}\" AFTER power-cycling the machine.");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&path);
    let result = match file {
        Err(e) => done(1, format!("cannot open {}: {e}", path.display()), false),
        Ok(mut f) => {
            let want = meatware_reply(node);
            let mut got = Vec::new();
            let deadline = start + timeout;
            loop {
                let mut buf = [0u8; 256];
                match f.read(&mut buf) {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => {}
                }
                if String::from_utf8_lossy(&got).contains(&want) {
                    break done(0, String::new(), false);
                }
                if got.len() > 4096 {
                    got.clear();
                }
                if Instant::now() >= deadline {
                    break done(
                        -1,
                        format!("no operator confirmation within {}", seconds_text(timeout)),
                        true,
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let _ = std::fs::remove_file(&path);
    result
}

trait NonBlockingOpen {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlockingOpen for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// Reads what an agent is (its metadata), blocking.
pub fn agent_info(dirs: &AgentDirs, kind: &AgentKind) -> Result<AgentInfo, String> {
    match kind {
        AgentKind::FenceAgent(name) => {
            let xml = fence_agent_metadata(dirs, name)?;
            AgentInfo::from_metadata(&xml).ok_or_else(|| format!("{name}: unreadable metadata"))
        }
        AgentKind::External(name) => {
            if !dirs.external.join(name).is_file() {
                return Err(format!("Agent external/{name} not found"));
            }
            Ok(AgentInfo::plugin())
        }
        AgentKind::Native(_) => Ok(AgentInfo::plugin()),
    }
}

/// A fence agent's raw `-o metadata` output.
pub fn fence_agent_metadata(dirs: &AgentDirs, name: &str) -> Result<String, String> {
    let program = dirs.fence_agents.join(name);
    if !program.is_file() {
        return Err(format!("Agent {name} not found"));
    }
    let inv = Invocation {
        program,
        args: vec!["-o".into(), "metadata".into()],
        env: Vec::new(),
        stdin: String::new(),
    };
    let f = run(&inv, INFO_TIMEOUT).map_err(|e| format!("cannot run {name}: {e}"))?;
    match f.exit {
        Exit::Code(0) if f.stdout.contains("<resource-agent") => Ok(f.stdout),
        _ => Err(format!("{name} gave no metadata")),
    }
}

/// An agent's metadata as stonith_admin -M prints it: for fence agents
/// their XML re-serialised with `action` not required and start/stop
/// actions added (as Pacemaker's fencer does); for plugins a document
/// made from their `getinfo-*` answers with cluster-glue's fixed actions.
pub fn metadata(dirs: &AgentDirs, agent: &str) -> Result<String, String> {
    let kind = AgentKind::parse(agent).ok_or_else(|| format!("Agent {agent} not found"))?;
    match kind {
        AgentKind::FenceAgent(name) => {
            let xml = fence_agent_metadata(dirs, &name)?;
            let mut doc = cib_xml::xml::parse(&xml, &cib_xml::Limits::default())
                .map_err(|e| format!("{name}: unreadable metadata: {e}"))?;
            if let Some(ps) = doc.child_mut("parameters") {
                for p in ps.children.iter_mut() {
                    if p.attr("name") == Some("action") {
                        p.set_attr("required", "0");
                    }
                }
            }
            if let Some(acts) = doc.child_mut("actions") {
                for a in ["stop", "start"] {
                    acts.children.push(
                        cib_xml::Element::new("action")
                            .with_attr("name", a)
                            .with_attr("timeout", "20s"),
                    );
                }
            }
            Ok(doc.to_pretty())
        }
        AgentKind::External(name) => {
            let program = dirs.external.join(&name);
            if !program.is_file() {
                return Err(format!("Agent {agent} not found"));
            }
            let info = |op: &str| -> String {
                let inv = external_invocation(dirs, &name, &BTreeMap::new(), op, None);
                run(&inv, INFO_TIMEOUT)
                    .ok()
                    .filter(|f| f.exit == Exit::Code(0))
                    .map(|f| f.stdout.trim().to_string())
                    .unwrap_or_default()
            };
            Ok(plugin_metadata(
                agent,
                &info("getinfo-devid"),
                &info("getinfo-devdescr"),
                &info("getinfo-xml"),
            ))
        }
        AgentKind::Native(p) => {
            let (short, long) = match p {
                NativePlugin::Null => ("null STONITH device", "Dummy (null) STONITH device for testing: every reset succeeds."),
                NativePlugin::Ssh => ("SSH STONITH device", "ssh-based host reset for testing: a live host is rebooted through ssh; it cannot fence a hung host."),
                NativePlugin::Suicide => ("Suicide STONITH device", "The node resets itself: it can fence only the node it runs on."),
                NativePlugin::Meatware => ("Meatware STONITH device", "Human intervention: an operator power-cycles the node and confirms with meatclient -c NODE."),
            };
            let params = "<parameters>\n<parameter name=\"hostlist\" unique=\"1\" required=\"1\">\n<content type=\"string\" />\n<shortdesc lang=\"en\">Hostlist</shortdesc>\n<longdesc lang=\"en\">The list of hosts that the STONITH device controls</longdesc>\n</parameter>\n</parameters>";
            Ok(plugin_metadata(
                agent,
                short,
                long,
                if p == NativePlugin::Suicide {
                    "<parameters/>"
                } else {
                    params
                },
            ))
        }
    }
}

fn plugin_metadata(agent: &str, short: &str, long: &str, params_xml: &str) -> String {
    let mut esc_short = String::new();
    cib_xml::xml::escape_into(&mut esc_short, short);
    let mut esc_long = String::new();
    cib_xml::xml::escape_into(&mut esc_long, long);
    let params = if params_xml.trim().starts_with("<parameters") {
        params_xml.trim().to_string()
    } else {
        "<parameters/>".to_string()
    };
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n<resource-agent name=\"{agent}\">\n  <version>1.0</version>\n  <longdesc lang=\"en\">\n{esc_long}\n  </longdesc>\n  <shortdesc lang=\"en\">{esc_short}</shortdesc>\n{params}\n  <actions>\n    <action name=\"start\"   timeout=\"20\" />\n    <action name=\"stop\"    timeout=\"15\" />\n    <action name=\"status\"  timeout=\"20\" />\n    <action name=\"monitor\" timeout=\"20\" interval=\"3600\" />\n    <action name=\"meta-data\"  timeout=\"15\" />\n  </actions>\n  <special tag=\"heartbeat\">\n    <version>2.0</version>\n  </special>\n</resource-agent>\n"
    )
}

/// The parameter names of a plugin (`getconfignames`).
pub fn config_names(dirs: &AgentDirs, kind: &AgentKind) -> Result<Vec<String>, String> {
    match kind {
        AgentKind::External(name) => {
            let inv = external_invocation(dirs, name, &BTreeMap::new(), "getconfignames", None);
            let f = run(&inv, INFO_TIMEOUT).map_err(|e| e.to_string())?;
            if f.exit != Exit::Code(0) {
                return Err(format!("external/{name} getconfignames failed"));
            }
            Ok(f.stdout.split_whitespace().map(str::to_string).collect())
        }
        AgentKind::Native(NativePlugin::Suicide) => Ok(Vec::new()),
        AgentKind::Native(_) => Ok(vec!["hostlist".into()]),
        AgentKind::FenceAgent(name) => {
            let xml = fence_agent_metadata(dirs, name)?;
            Ok(AgentInfo::from_metadata(&xml)
                .map(|i| i.parameters)
                .unwrap_or_default())
        }
    }
}

/// The hosts a device's list action names: the first word of every
/// line (fence agents print `port,alias`; plugins one host a line or
/// separated by spaces).
pub fn parse_list_output(output: &str, external: bool) -> Vec<String> {
    if external {
        return output.split_whitespace().map(str::to_string).collect();
    }
    output
        .lines()
        .filter_map(|l| l.split([',', ' ', '\t']).next())
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stonithapi::DeviceSpec;

    fn device(agent: &str, params: &[(&str, &str)]) -> Device {
        Device::new(&DeviceSpec {
            id: "d".into(),
            agent: agent.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
        .unwrap()
    }

    fn info(actions: &[&str], params: &[&str]) -> AgentInfo {
        AgentInfo {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            parameters: params.iter().map(|s| s.to_string()).collect(),
            automatic_on: false,
        }
    }

    #[test]
    fn fence_agent_stdin_is_pacemakers() {
        let d = device(
            "fence_x",
            &[
                ("pcmk_host_map", "n3:plug3"),
                ("pcmk_reboot_action", "off"),
                ("ipaddr", "10.0.0.1"),
            ],
        );
        let inv = fence_agent_invocation(
            PathBuf::from("/usr/sbin/fence_x"),
            &d,
            &info(&["on", "off", "reboot"], &["port", "ipaddr"]),
            "reboot",
            Some("n3"),
            Some("u3"),
        );
        assert_eq!(
            inv.stdin,
            "action=off\nnodename=n3\nnodeid=u3\nport=plug3\nipaddr=10.0.0.1\n"
        );
        assert!(inv.args.is_empty());
        // plug-only agents get plug=; none suppresses; no reboot -> off.
        let d = device("fence_x", &[]);
        let inv = fence_agent_invocation(
            PathBuf::from("/x"),
            &d,
            &info(&["on", "off"], &["plug"]),
            "reboot",
            Some("n1"),
            None,
        );
        assert_eq!(inv.stdin, "action=off\nnodename=n1\nplug=n1\n");
        let d = device("fence_x", &[("pcmk_host_argument", "none")]);
        let inv = fence_agent_invocation(
            PathBuf::from("/x"),
            &d,
            &info(&[], &[]),
            "status",
            Some("n1"),
            None,
        );
        assert_eq!(inv.stdin, "action=status\nnodename=n1\n");
    }

    #[test]
    fn external_plugins_get_parameters_in_the_environment() {
        let dirs = AgentDirs {
            fence_agents: "/fa".into(),
            external: "/ext".into(),
            meatware: "/run".into(),
            glue_share: "/share".into(),
        };
        let params: BTreeMap<String, String> =
            [("hostlist".to_string(), "n1 n2".to_string())].into();
        let inv = external_invocation(&dirs, "ssh", &params, external_op("reboot"), Some("n2"));
        assert_eq!(inv.program, PathBuf::from("/ext/ssh"));
        assert_eq!(inv.args, ["reset", "n2"]);
        assert!(inv.env.contains(&("hostlist".into(), "n1 n2".into())));
        assert!(inv
            .env
            .contains(&("HA_LOGTAG".into(), "external/ssh".into())));
        assert!(inv
            .env
            .iter()
            .any(|(k, v)| k == "PATH" && v.starts_with("/share:")));
        assert_eq!(external_op("list"), "gethosts");
        assert_eq!(external_op("monitor"), "status");
    }

    #[test]
    fn metadata_tells_actions_and_host_argument() {
        let xml = r#"<?xml version="1.0" ?>
<resource-agent name="fence_x" shortdesc="x"><parameters>
<parameter name="plug"/><parameter name="action"/></parameters>
<actions><action name="on" automatic="1"/><action name="off"/><action name="list"/></actions>
</resource-agent>"#;
        let i = AgentInfo::from_metadata(xml).unwrap();
        assert!(i.has_action("list"));
        assert!(!i.has_action("reboot"));
        assert!(i.automatic_on);
        assert_eq!(
            i.host_argument(&device("fence_x", &[])).as_deref(),
            Some("plug")
        );
    }

    #[test]
    fn long_agent_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é...");
        assert_eq!(
            truncate(&"x".repeat(1000), REASON_LIMIT).len(),
            REASON_LIMIT + 3
        );
    }

    #[test]
    fn node_names_that_could_leave_a_directory_are_refused() {
        for ok in ["n1", "node-3.example.com", "N_1"] {
            assert!(valid_node_name(ok), "{ok}");
        }
        for bad in ["", "..", "../etc", "a/b", "a b", "a\nb", &"x".repeat(256)] {
            assert!(!valid_node_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn list_output_is_parsed_per_kind() {
        assert_eq!(parse_list_output("n1,alias1\nn2\n\n", false), ["n1", "n2"]);
        assert_eq!(parse_list_output("n1 n2\nn3\n", true), ["n1", "n2", "n3"]);
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fencing-exec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_program_gets_stdin_its_own_group_and_bounded_output() {
        let d = tmpdir("run");
        let p = script(
            &d,
            "agent",
            "read a; echo \"got $a pgid=$(ps -o pgid= $$ | tr -d ' ') pid=$$\"; echo err >&2; head -c 100000 /dev/zero; exit 3",
        );
        let inv = Invocation {
            program: p,
            args: vec![],
            env: vec![],
            stdin: "action=off\n".into(),
        };
        let f = run(&inv, Duration::from_secs(10)).unwrap();
        assert_eq!(f.exit, Exit::Code(3));
        let first = f.stdout.lines().next().unwrap().to_string();
        let (pgid, pid) = first
            .strip_prefix("got action=off pgid=")
            .unwrap()
            .split_once(" pid=")
            .unwrap();
        assert_eq!(pgid, pid);
        assert_eq!(f.stderr, "err\n");
        assert_eq!(f.stdout.len(), OUTPUT_LIMIT);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_hanging_program_and_its_children_are_killed_at_the_timeout() {
        let d = tmpdir("hang");
        let marker = d.join("child.pid");
        let p = script(
            &d,
            "agent",
            &format!(
                "trap '' TERM; sleep 300 & echo $! > {}; wait",
                marker.display()
            ),
        );
        let inv = Invocation {
            program: p,
            args: vec![],
            env: vec![],
            stdin: String::new(),
        };
        let f = run(&inv, Duration::from_millis(300)).unwrap();
        assert_eq!(f.exit, Exit::TimedOut);
        assert!(f.elapsed < Duration::from_secs(5), "{:?}", f.elapsed);
        let child: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild was in the group: it is gone (or a zombie of init).
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "the agent's child survived");
        let r = finished_to_result(Ok(f), "Fence agent", Duration::from_millis(300));
        assert!(r.timed_out);
        assert_eq!(r.exit_code("off"), 124);
        assert_eq!(r.reason, "Fence agent did not complete within 300ms");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn fence_dummy_runs_through_stdin_options() {
        let dummy = Path::new("/usr/sbin/fence_dummy");
        if !dummy.is_file() {
            // fence-agents is installed by test.sh; without it this test
            // has nothing to run.
            eprintln!("fence_dummy not installed");
            return;
        }
        let d = tmpdir("dummy");
        let status = d.join("status");
        let dirs = AgentDirs {
            fence_agents: "/usr/sbin".into(),
            ..AgentDirs::from_env()
        };
        let dev = device("fence_dummy", &[("status_file", status.to_str().unwrap())]);
        let info = agent_info(&dirs, &dev.kind).unwrap();
        assert!(info.has_action("reboot"));
        assert!(!info.has_action("list"));
        let t = Duration::from_secs(30);
        let r = execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "on",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert!(r.ok("on"), "{r:?}");
        assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "on");
        let r = execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "off",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert!(r.ok("off"), "{r:?}");
        assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "off");
        let r = execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "status",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert_eq!(r.rc, 2);
        assert!(r.ok("status"));
        let failing = device(
            "fence_dummy",
            &[
                ("type", "fail"),
                ("power_timeout", "1"),
                ("status_file", status.to_str().unwrap()),
            ],
        );
        let r = execute(
            &dirs,
            &failing,
            &info,
            &Call {
                action: "off",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert!(!r.ok("off"));
        assert_eq!(r.exit_code("off"), 1);
        assert!(
            r.reason.contains("Timed out waiting to power OFF"),
            "{}",
            r.reason
        );
        let md = metadata(&dirs, "fence_dummy").unwrap();
        assert!(
            md.starts_with("<resource-agent name=\"fence_dummy\""),
            "{md}"
        );
        assert!(md.contains("<action name=\"start\" timeout=\"20s\"/>"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn external_plugin_protocol() {
        let d = tmpdir("ext");
        let log = d.join("log");
        script(
            &d,
            "test",
            &format!(
                "echo \"$* hostlist=$hostlist tag=$HA_LOGTAG\" >> {}\ncase $1 in\ngethosts) for h in $hostlist; do echo $h; done;;\ngetconfignames) echo hostlist;;\nreset|off|on) [ \"$2\" = n2 ] || exit 1;;\nstatus) ;;\n*) exit 1;;\nesac",
                log.display()
            ),
        );
        let dirs = AgentDirs {
            external: d.clone(),
            ..AgentDirs::from_env()
        };
        let dev = device(
            "external/test",
            &[("hostlist", "n1 n2"), ("pcmk_host_check", "dynamic-list")],
        );
        let info = agent_info(&dirs, &dev.kind).unwrap();
        let t = Duration::from_secs(10);
        let r = execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "list",
                target: None,
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert_eq!(parse_list_output(&r.output, true), ["n1", "n2"]);
        assert!(execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "reboot",
                target: Some("N2"),
                nodeid: None,
                local: "n0",
                timeout: t
            }
        )
        .ok("reboot"));
        let r = execute(
            &dirs,
            &dev,
            &info,
            &Call {
                action: "off",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert!(!r.ok("off"));
        assert_eq!(r.reason, "external/test off returned 1");
        assert_eq!(config_names(&dirs, &dev.kind).unwrap(), ["hostlist"]);
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            calls,
            "gethosts hostlist=n1 n2 tag=external/test\nreset n2 hostlist=n1 n2 tag=external/test\noff n1 hostlist=n1 n2 tag=external/test\ngetconfignames hostlist= tag=external/test\n"
        );
        assert!(agent_info(&dirs, &AgentKind::External("nosuch".into())).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn meatware_waits_for_the_operator() {
        let d = tmpdir("meat");
        let dirs = AgentDirs {
            meatware: d.clone(),
            ..AgentDirs::from_env()
        };
        let dev = device("meatware", &[("hostlist", "n1")]);
        let fifo = dirs.meatware_fifo("n1");
        let confirm = std::thread::spawn(move || {
            for _ in 0..100 {
                if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                    let _ = f.write_all(meatware_reply("n1").as_bytes());
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        });
        let r = execute(
            &dirs,
            &dev,
            &AgentInfo::plugin(),
            &Call {
                action: "reboot",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: Duration::from_secs(10),
            },
        );
        assert!(confirm.join().unwrap());
        assert!(r.ok("reboot"), "{r:?}");
        let r = execute(
            &dirs,
            &dev,
            &AgentInfo::plugin(),
            &Call {
                action: "reboot",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: Duration::from_millis(200),
            },
        );
        assert!(r.timed_out);
        assert!(!dirs.meatware_fifo("n1").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn native_null_and_suicide_hosts() {
        let dirs = AgentDirs::from_env();
        let null = device("null", &[("hostlist", "n1,n2")]);
        let t = Duration::from_secs(1);
        let r = execute(
            &dirs,
            &null,
            &AgentInfo::plugin(),
            &Call {
                action: "list",
                target: None,
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert_eq!(parse_list_output(&r.output, true), ["n1", "n2"]);
        assert!(execute(
            &dirs,
            &null,
            &AgentInfo::plugin(),
            &Call {
                action: "off",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t
            }
        )
        .ok("off"));
        let suicide = device("suicide", &[]);
        let r = execute(
            &dirs,
            &suicide,
            &AgentInfo::plugin(),
            &Call {
                action: "list",
                target: None,
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert_eq!(r.output, "n0\n");
        let r = execute(
            &dirs,
            &suicide,
            &AgentInfo::plugin(),
            &Call {
                action: "off",
                target: Some("n1"),
                nodeid: None,
                local: "n0",
                timeout: t,
            },
        );
        assert!(!r.ok("off"));
        assert_eq!(r.reason, "suicide can only fence n0");
    }
}

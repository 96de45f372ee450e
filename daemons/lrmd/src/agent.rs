//! The agent-execution layer: how an operation of each class becomes a
//! program, arguments and environment (`invocation`, pure), how its exit
//! becomes an OCF rc (`map_rc`, pure), and running it (`spawn`): in a
//! process group of its own so a timeout kills everything it started,
//! with stdout/stderr read non-blocking into bounded buffers. Completion
//! is the agent's exit, never EOF on its pipes: an agent that forks a
//! daemon keeping stdout open still completes.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use lrmapi::{OpSpec, Resource};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use plumbing::process::AgentStdin;
use plumbing::ChildStatus;

pub use lrmapi::agents::Roots;

/// A program to run for an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The agent.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to lrmd's environment.
    pub env: Vec<(String, String)>,
}

/// Why an operation could not be turned into an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Unknown class.
    UnknownClass(String),
    /// A name with a `/` or `..` in it.
    BadName(String),
}

fn safe_name(s: &str) -> Result<&str, BuildError> {
    if s.is_empty() || s.contains('/') || s == "." || s == ".." {
        Err(BuildError::BadName(s.into()))
    } else {
        Ok(s)
    }
}

/// Builds the program, arguments and environment of an operation, as
/// cluster-glue's raexec plugins do.
pub fn invocation(roots: &Roots, rsc: &Resource, spec: &OpSpec) -> Result<Invocation, BuildError> {
    let mut params: BTreeMap<String, String> = rsc.params.clone();
    params.extend(spec.params.clone());
    let rtype = safe_name(&rsc.rtype)?;
    match rsc.class.as_str() {
        "ocf" => {
            let provider = rsc.provider.as_deref().unwrap_or("heartbeat");
            safe_name(provider)?;
            let mut env = vec![
                ("OCF_RA_VERSION_MAJOR".into(), "1".into()),
                ("OCF_RA_VERSION_MINOR".into(), "0".into()),
                ("OCF_ROOT".into(), roots.ocf.display().to_string()),
                ("OCF_RESOURCE_INSTANCE".into(), rsc.id.clone()),
                ("OCF_RESOURCE_TYPE".into(), rsc.rtype.clone()),
                ("OCF_RESOURCE_PROVIDER".into(), provider.into()),
            ];
            if !params.contains_key("CRM_meta_timeout") {
                params.insert("CRM_meta_timeout".into(), spec.timeout_ms.to_string());
            }
            if !params.contains_key("CRM_meta_interval") {
                params.insert("CRM_meta_interval".into(), spec.interval_ms.to_string());
            }
            for (k, v) in &params {
                env.push((format!("OCF_RESKEY_{k}"), v.clone()));
            }
            Ok(Invocation {
                program: roots.ocf.join("resource.d").join(provider).join(rtype),
                args: vec![spec.op.clone()],
                env,
            })
        }
        "lsb" => Ok(Invocation {
            program: roots.lsb.join(rtype),
            args: vec![lsb_action(&spec.op).into()],
            env: Vec::new(),
        }),
        "heartbeat" => {
            let mut args = positional(&params);
            args.push(lsb_action(&spec.op).into());
            Ok(Invocation {
                program: roots.heartbeat.join(rtype),
                args,
                env: Vec::new(),
            })
        }
        other => Err(BuildError::UnknownClass(other.into())),
    }
}

/// Positional parameters "1", "2", ... in numeric order.
fn positional(params: &BTreeMap<String, String>) -> Vec<String> {
    let mut v: Vec<(u32, &String)> = params
        .iter()
        .filter_map(|(k, v)| k.parse::<u32>().ok().map(|n| (n, v)))
        .collect();
    v.sort();
    v.into_iter().map(|(_, s)| s.clone()).collect()
}

fn lsb_action(op: &str) -> &str {
    if op == "monitor" {
        "status"
    } else {
        op
    }
}

/// Maps an agent's exit to an OCF rc for its class and action.
pub fn map_rc(class: &str, op: &str, status: ChildStatus, stdout: &str) -> i32 {
    let code = match status {
        ChildStatus::Exited(c) => c,
        ChildStatus::Signaled { .. } => return 1,
    };
    let status_op = op == "monitor" || op == "status";
    match class {
        "ocf" => {
            if (0..=9).contains(&code) {
                code
            } else {
                1
            }
        }
        "lsb" if status_op => match code {
            0 => 0,
            1..=3 => 7,
            4 => 1,
            c if c < 0 => 1,
            c => c,
        },
        "heartbeat" if status_op => {
            let low = stdout.to_lowercase();
            if low.contains("stopped") || not_running(&low) {
                7
            } else if low.contains("running") || stdout.contains("OK") {
                0
            } else {
                7
            }
        }
        _ => {
            if code < 0 {
                1
            } else {
                code
            }
        }
    }
}

/// `*not*running*`.
fn not_running(s: &str) -> bool {
    s.find("not")
        .is_some_and(|i| s[i + 3..].contains("running"))
}

/// The `ocf-exit-reason:` text of an agent's stderr (the last one).
pub fn exit_reason(stderr: &str) -> Option<String> {
    stderr.lines().rev().find_map(|l| {
        l.split_once("ocf-exit-reason:")
            .map(|(_, r)| r.trim().to_owned())
    })
}

/// The meta-data lrmd makes up for classes whose scripts have none.
pub fn synthetic_metadata(class: &str, rtype: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n<resource-agent name=\"{rtype}\" version=\"0.1\">\n  <version>1.0</version>\n  <longdesc lang=\"en\">{class} agent {rtype}</longdesc>\n  <shortdesc lang=\"en\">{rtype}</shortdesc>\n  <parameters/>\n  <actions>\n    <action name=\"start\" timeout=\"15\"/>\n    <action name=\"stop\" timeout=\"15\"/>\n    <action name=\"status\" timeout=\"15\"/>\n    <action name=\"monitor\" timeout=\"15\" interval=\"15\"/>\n    <action name=\"meta-data\" timeout=\"5\"/>\n  </actions>\n</resource-agent>\n"
    )
}

/// Bytes kept per stream; the rest is read and dropped.
pub const CAPTURE_LIMIT: usize = 64 * 1024;

/// A bounded capture of one pipe.
pub struct Capture {
    fd: OwnedFd,
    buf: Vec<u8>,
    limit: usize,
    /// Bytes dropped beyond the limit.
    pub dropped: u64,
    /// EOF seen.
    pub eof: bool,
}

impl Capture {
    fn new(fd: OwnedFd, limit: usize) -> io::Result<Capture> {
        let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
        fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        Ok(Capture {
            fd,
            buf: Vec::new(),
            limit,
            dropped: 0,
            eof: false,
        })
    }

    /// The descriptor, for registering with the loop.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Reads what is available, keeping at most the limit.
    pub fn read_available(&mut self) {
        let mut chunk = [0u8; 8192];
        let mut f = std::fs::File::from(match self.fd.try_clone() {
            Ok(f) => f,
            Err(_) => return,
        });
        loop {
            match f.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(n) => {
                    let room = self.limit.saturating_sub(self.buf.len());
                    let keep = room.min(n);
                    self.buf.extend_from_slice(&chunk[..keep]);
                    self.dropped += (n - keep) as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// The text captured.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// A running agent.
pub struct Running {
    /// Its pid, also its process group.
    pub pid: i32,
    /// Its stdout.
    pub stdout: Capture,
    /// Its stderr.
    pub stderr: Capture,
}

/// Starts an invocation through `plumbing::process::spawn_agent` (own
/// process group, stdin from /dev/null), its output read into bounded
/// `Capture`s.
pub fn spawn(inv: &Invocation, limit: usize) -> io::Result<Running> {
    let p = plumbing::process::spawn_agent(&inv.program, &inv.args, &inv.env, AgentStdin::Null)?;
    Ok(Running {
        pid: p.pid,
        stdout: Capture::new(p.stdout, limit)?,
        stderr: Capture::new(p.stderr, limit)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrmapi::Notify;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    fn roots() -> Roots {
        Roots {
            ocf: "/o".into(),
            lsb: "/i".into(),
            heartbeat: "/h".into(),
        }
    }

    fn rsc(class: &str, params: &[(&str, &str)]) -> Resource {
        Resource {
            id: "r1".into(),
            class: class.into(),
            rtype: "T".into(),
            provider: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn spec(op: &str) -> OpSpec {
        OpSpec {
            rsc: "r1".into(),
            op: op.into(),
            timeout_ms: 20000,
            interval_ms: 10000,
            start_delay_ms: 0,
            notify: Notify::Every,
            params: BTreeMap::new(),
            app_name: "t".into(),
        }
    }

    #[test]
    fn ocf_environment_and_arguments() {
        let inv = invocation(
            &roots(),
            &rsc("ocf", &[("ip", "10.0.0.1")]),
            &spec("monitor"),
        )
        .unwrap();
        assert_eq!(inv.program, PathBuf::from("/o/resource.d/heartbeat/T"));
        assert_eq!(inv.args, ["monitor"]);
        let env: BTreeMap<_, _> = inv.env.into_iter().collect();
        assert_eq!(env["OCF_ROOT"], "/o");
        assert_eq!(env["OCF_RESOURCE_INSTANCE"], "r1");
        assert_eq!(env["OCF_RESOURCE_PROVIDER"], "heartbeat");
        assert_eq!(env["OCF_RESKEY_ip"], "10.0.0.1");
        assert_eq!(env["OCF_RESKEY_CRM_meta_timeout"], "20000");
        assert_eq!(env["OCF_RESKEY_CRM_meta_interval"], "10000");
        assert_eq!(env["OCF_RA_VERSION_MAJOR"], "1");
    }

    #[test]
    fn lsb_and_heartbeat_arguments() {
        let inv = invocation(&roots(), &rsc("lsb", &[]), &spec("monitor")).unwrap();
        assert_eq!(inv.program, PathBuf::from("/i/T"));
        assert_eq!(inv.args, ["status"]);
        let p = [("2", "b"), ("1", "a"), ("10", "c")];
        let inv = invocation(&roots(), &rsc("heartbeat", &p), &spec("start")).unwrap();
        assert_eq!(inv.program, PathBuf::from("/h/T"));
        assert_eq!(inv.args, ["a", "b", "c", "start"]);
    }

    #[test]
    fn names_cannot_leave_the_agent_directories() {
        let mut r = rsc("ocf", &[]);
        r.rtype = "../../bin/sh".into();
        assert!(matches!(
            invocation(&roots(), &r, &spec("start")),
            Err(BuildError::BadName(_))
        ));
        let mut r = rsc("ocf", &[]);
        r.provider = Some("..".into());
        assert!(invocation(&roots(), &r, &spec("start")).is_err());
        assert!(matches!(
            invocation(&roots(), &rsc("nope", &[]), &spec("start")),
            Err(BuildError::UnknownClass(_))
        ));
    }

    #[test]
    fn exit_codes_per_class() {
        let e = ChildStatus::Exited;
        let sig = ChildStatus::Signaled {
            signal: 9,
            core_dumped: false,
        };
        assert_eq!(map_rc("ocf", "monitor", e(7), ""), 7);
        assert_eq!(map_rc("ocf", "start", e(42), ""), 1);
        assert_eq!(map_rc("ocf", "start", sig, ""), 1);
        for (code, rc) in [(0, 0), (1, 7), (2, 7), (3, 7), (4, 1), (5, 5), (150, 150)] {
            assert_eq!(
                map_rc("lsb", "monitor", e(code), ""),
                rc,
                "lsb status {code}"
            );
        }
        assert_eq!(map_rc("lsb", "start", e(1), ""), 1);
        assert_eq!(map_rc("heartbeat", "monitor", e(0), "foo is stopped"), 7);
        assert_eq!(
            map_rc("heartbeat", "monitor", e(0), "foo is NOT running"),
            7
        );
        assert_eq!(map_rc("heartbeat", "monitor", e(1), "foo is running"), 0);
        assert_eq!(map_rc("heartbeat", "monitor", e(0), "OK"), 0);
        assert_eq!(map_rc("heartbeat", "monitor", e(0), ""), 7);
        assert_eq!(map_rc("heartbeat", "start", e(0), ""), 0);
    }

    #[test]
    fn exit_reason_is_the_last_one() {
        assert_eq!(
            exit_reason("x\nocf-exit-reason:a\nocf-exit-reason: b c\n"),
            Some("b c".into())
        );
        assert_eq!(exit_reason("nothing"), None);
    }

    fn inv_sh(script: &str) -> Invocation {
        Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("LRM_TEST_VAR".into(), "v1".into())],
        }
    }

    fn wait_exit(pid: i32) -> i32 {
        match nix::sys::wait::waitpid(Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
            other => panic!("{other:?}"),
        }
    }

    fn drain(c: &mut Capture) {
        while !c.eof {
            c.read_available();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn spawned_agents_get_their_own_group_an_empty_mask_and_the_environment() {
        // In a thread that blocks SIGTERM, as lrmd's loop does.
        std::thread::spawn(|| {
            let mut set = nix::sys::signal::SigSet::empty();
            set.add(Signal::SIGTERM);
            nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&set), None)
                .unwrap();
            let mut r = spawn(
                &inv_sh("ps -o pgid= -p $$; grep SigBlk /proc/self/status; echo $LRM_TEST_VAR; echo err >&2"),
                CAPTURE_LIMIT,
            )
            .unwrap();
            drain(&mut r.stdout);
            drain(&mut r.stderr);
            assert_eq!(wait_exit(r.pid), 0);
            let out = r.stdout.text();
            let mut lines = out.lines();
            assert_eq!(lines.next().map(str::trim), Some(r.pid.to_string().as_str()));
            assert_eq!(lines.next(), Some("SigBlk:\t0000000000000000"));
            assert_eq!(lines.next(), Some("v1"));
            assert_eq!(r.stderr.text(), "err\n");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn captured_output_is_bounded() {
        let mut r = spawn(&inv_sh("head -c 300000 /dev/zero | tr '\\0' x"), 1000).unwrap();
        drain(&mut r.stdout);
        assert_eq!(wait_exit(r.pid), 0);
        assert_eq!(r.stdout.text(), "x".repeat(1000));
        assert_eq!(r.stdout.dropped, 299_000);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let mut i = inv_sh("");
        i.program = "/nonexistent/agent".into();
        assert!(spawn(&i, 10).is_err());
    }
}

//! Starting child processes from a daemon whose event loop blocks signals.
//! Since Rust 1.66 a `Command` child inherits the parent's signal mask
//! (rust-lang/rust#101077), so without this every agent and respawned
//! daemon would start with SIGTERM, SIGHUP and SIGCHLD blocked and could not
//! be stopped with SIGTERM.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

/// Makes `cmd`'s child start with an empty signal mask. Every daemon that
/// spawns processes must use this on each `Command`.
pub fn unblock_signals_on_exec(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec and only calls
    // pthread_sigmask, which is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(std::io::Error::from)
        })
    }
}

/// Where a spawned agent's stdin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStdin {
    /// `/dev/null`.
    Null,
    /// A pipe whose writing end the caller gets.
    Pipe,
}

/// A program started by [`spawn_agent`]: its pid (also its process
/// group) and the parent's ends of its pipes (close-on-exec, blocking).
#[derive(Debug)]
pub struct AgentProcess {
    /// The child's pid, which is also its process group id.
    pub pid: i32,
    /// The writing end of its stdin, with [`AgentStdin::Pipe`].
    pub stdin: Option<OwnedFd>,
    /// The reading end of its stdout.
    pub stdout: OwnedFd,
    /// The reading end of its stderr.
    pub stderr: OwnedFd,
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts a resource or fence agent the way every daemon that runs
/// agents must: in a new process group (so a timeout can kill everything
/// it started), with an empty signal mask and default dispositions for
/// the signals daemons handle, stdout and stderr on pipes, and this
/// process's environment with `env` set over it. Through `posix_spawn`:
/// glibc's is a `vfork`-style clone, with no copy of the daemon's page
/// tables (which a `fork` per operation costs with thousands of
/// recurring monitors).
pub fn spawn_agent(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    stdin: AgentStdin,
) -> io::Result<AgentProcess> {
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in argument"))
    };
    let program = cstr(program.as_os_str().as_bytes())?;
    let mut argv = vec![program.clone()];
    for a in args {
        argv.push(cstr(a.as_bytes())?);
    }
    // Our own environment, read once (a daemon never changes it), minus
    // what the invocation sets.
    static BASE_ENV: OnceLock<Vec<(String, CString)>> = OnceLock::new();
    let base = BASE_ENV.get_or_init(|| {
        std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                Some((k.to_string_lossy().into_owned(), CString::new(kv).ok()?))
            })
            .collect()
    });
    let mut own = Vec::with_capacity(env.len());
    for (k, v) in env {
        own.push(cstr(format!("{k}={v}").as_bytes())?);
    }
    let mut envp_p: Vec<*mut libc::c_char> = base
        .iter()
        .filter(|(k, _)| !env.iter().any(|(ik, _)| ik == k))
        .map(|(_, c)| c.as_ptr() as *mut _)
        .chain(own.iter().map(|c| c.as_ptr() as *mut _))
        .collect();
    envp_p.push(std::ptr::null_mut());
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|c| c.as_ptr() as *mut _).collect();
    argv_p.push(std::ptr::null_mut());

    let stdin_pipe = match stdin {
        AgentStdin::Null => None,
        AgentStdin::Pipe => Some(pipe_cloexec()?),
    };
    let (out_r, out_w) = pipe_cloexec()?;
    let (err_r, err_w) = pipe_cloexec()?;
    let devnull = c"/dev/null";
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    };
    // SAFETY: plain C calls on initialised attribute and file-action
    // objects, destroyed before returning; every pointer passed stays valid
    // for the call (the CStrings and vectors live until the end).
    let pid = unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut fa))?;
        check(libc::posix_spawnattr_init(&mut attr))?;
        let result = (|| -> io::Result<libc::pid_t> {
            match &stdin_pipe {
                None => check(libc::posix_spawn_file_actions_addopen(
                    &mut fa,
                    0,
                    devnull.as_ptr(),
                    libc::O_RDONLY,
                    0,
                ))?,
                Some((r, _)) => check(libc::posix_spawn_file_actions_adddup2(
                    &mut fa,
                    r.as_raw_fd(),
                    0,
                ))?,
            }
            check(libc::posix_spawn_file_actions_adddup2(
                &mut fa,
                out_w.as_raw_fd(),
                1,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut fa,
                err_w.as_raw_fd(),
                2,
            ))?;
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            let mut dfl: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut dfl);
            for s in [
                libc::SIGPIPE,
                libc::SIGTERM,
                libc::SIGINT,
                libc::SIGHUP,
                libc::SIGCHLD,
                libc::SIGQUIT,
                libc::SIGUSR1,
                libc::SIGUSR2,
            ] {
                libc::sigaddset(&mut dfl, s);
            }
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &dfl))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr, 0))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETPGROUP
                    | libc::POSIX_SPAWN_SETSIGMASK
                    | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))?;
            let mut pid: libc::pid_t = 0;
            check(libc::posix_spawn(
                &mut pid,
                program.as_ptr(),
                &fa,
                &attr,
                argv_p.as_ptr(),
                envp_p.as_ptr(),
            ))?;
            Ok(pid)
        })();
        libc::posix_spawn_file_actions_destroy(&mut fa);
        libc::posix_spawnattr_destroy(&mut attr);
        result?
    };
    // The child's ends close here; only the parent's stay open.
    drop((out_w, err_w));
    Ok(AgentProcess {
        pid,
        stdin: stdin_pipe.map(|(_, w)| w),
        stdout: out_r,
        stderr: err_r,
    })
}

/// Signals a whole process group (an agent started by [`spawn_agent`]).
pub fn kill_group(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    fn blocked_mask_of_child(cmd: &mut Command) -> String {
        let out = cmd.arg("/proc/self/status").output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    #[test]
    fn children_of_a_thread_blocking_signals_start_unblocked() {
        // In a thread of its own so the test harness's threads are untouched.
        std::thread::spawn(|| {
            let mut set = SigSet::empty();
            set.add(Signal::SIGTERM);
            pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).unwrap();
            // std alone passes the mask on: this is what the helper fixes.
            let inherited = blocked_mask_of_child(&mut Command::new("cat"));
            assert_eq!(inherited, "0000000000004000", "SIGTERM (bit 15) inherited");
            let mut cmd = Command::new("cat");
            unblock_signals_on_exec(&mut cmd);
            assert_eq!(blocked_mask_of_child(&mut cmd), "0000000000000000");
        })
        .join()
        .unwrap();
    }
}

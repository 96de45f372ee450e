//! Starting child processes from a daemon whose event loop blocks signals.
//! Since Rust 1.66 a `Command` child inherits the parent's signal mask
//! (rust-lang/rust#101077), so without this every agent and respawned
//! daemon would start with SIGTERM, SIGHUP and SIGCHLD blocked and could not
//! be stopped with SIGTERM.

use std::os::unix::process::CommandExt;
use std::process::Command;

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

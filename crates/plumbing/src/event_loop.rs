//! The one event loop every daemon runs: file descriptors through mio,
//! monotonic timers, signals through signalfd, child exits, and triggers that
//! other threads can fire. The loop hands back plain `Event` values; the
//! daemon matches on them, so there are no callbacks holding borrows.

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::timers::{TimerId, TimerQueue};

const WAKER_TOKEN: Token = Token(usize::MAX);
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);

/// How a watched child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    /// It called exit with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether it left a core dump.
        core_dumped: bool,
    },
}

impl ChildStatus {
    /// True for `exit(0)`.
    pub fn success(&self) -> bool {
        matches!(self, ChildStatus::Exited(0))
    }
}

impl std::fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildStatus::Exited(code) => write!(f, "exited with return code {code}"),
            ChildStatus::Signaled {
                signal,
                core_dumped,
            } => {
                let name = Signal::try_from(*signal)
                    .map(|s| s.as_str())
                    .unwrap_or("unknown");
                write!(f, "killed by signal {signal} ({name})")?;
                if *core_dumped {
                    write!(f, ", core dumped")?;
                }
                Ok(())
            }
        }
    }
}

/// Readiness of a registered file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Data (or a connection, or EOF) can be read.
    pub readable: bool,
    /// The descriptor accepts writes.
    pub writable: bool,
    /// The peer closed its end (read side, write side or both).
    pub hangup: bool,
    /// An error is pending on the descriptor.
    pub error: bool,
}

/// Identifies a software trigger made by [`EventLoop::trigger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TriggerId(pub u64);

/// Something that happened, returned by [`EventLoop::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A registered descriptor became ready. Spurious events are possible and
    /// must be treated as no-ops (read until `WouldBlock`).
    Io {
        /// The token the descriptor was registered with.
        token: Token,
        /// What it is ready for.
        ready: Readiness,
    },
    /// A timer expired.
    Timer(TimerId),
    /// A watched signal arrived (SIGCHLD is consumed for `ChildExited`).
    Signal(Signal),
    /// A watched child process ended and was reaped.
    ChildExited {
        /// Its process id.
        pid: i32,
        /// How it ended.
        status: ChildStatus,
    },
    /// A trigger was fired (possibly several times; reported once per poll).
    Triggered(TriggerId),
}

struct TriggerShared {
    waker: Waker,
    pending: Mutex<BTreeSet<TriggerId>>,
}

/// A handle that wakes the loop from any thread; cheap to clone.
#[derive(Clone)]
pub struct Trigger {
    id: TriggerId,
    shared: Arc<TriggerShared>,
}

impl Trigger {
    /// Which trigger this is.
    pub fn id(&self) -> TriggerId {
        self.id
    }

    /// Makes the loop report `Event::Triggered(self.id())` soon.
    pub fn fire(&self) -> io::Result<()> {
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.insert(self.id);
        }
        self.shared.waker.wake()
    }
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trigger").field("id", &self.id).finish()
    }
}

/// The event loop. Create it in the main thread before spawning any thread if
/// signals are to be watched: the signal mask is per thread and inherited.
pub struct EventLoop {
    poll: Poll,
    mio_events: Events,
    next_token: usize,
    free_tokens: Vec<usize>,
    released_tokens: Vec<usize>,
    timers: TimerQueue,
    signal_mask: SigSet,
    signal_fd: Option<SignalFd>,
    children: HashSet<i32>,
    triggers: Arc<TriggerShared>,
    next_trigger: u64,
    /// Events found outside `poll` (a child already gone when watched).
    queued: Vec<Event>,
    last_reap: Instant,
}

/// While children are watched the loop also reaps on this period: SIGCHLD is
/// process-directed and is lost if it lands on a thread that does not block
/// it (a library's thread, or a test harness), so the signal alone is not
/// trusted.
const REAP_SAFETY_PERIOD: Duration = Duration::from_secs(1);

impl EventLoop {
    /// A daemon's loop: SIGTERM and SIGINT watched (and so blocked in this
    /// thread and every thread started after it). Make it before anything
    /// starts a thread, so a stop signal always reaches the loop.
    pub fn for_daemon() -> Result<Self, String> {
        let mut lp = Self::new().map_err(|e| format!("event loop: {e}"))?;
        for s in [Signal::SIGTERM, Signal::SIGINT] {
            lp.watch_signal(s).map_err(|e| format!("signal: {e}"))?;
        }
        Ok(lp)
    }

    /// A new loop with nothing registered.
    pub fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok(EventLoop {
            poll,
            mio_events: Events::with_capacity(256),
            next_token: 0,
            free_tokens: Vec::new(),
            released_tokens: Vec::new(),
            timers: TimerQueue::new(),
            signal_mask: SigSet::empty(),
            signal_fd: None,
            children: HashSet::new(),
            triggers: Arc::new(TriggerShared {
                waker,
                pending: Mutex::new(BTreeSet::new()),
            }),
            next_trigger: 0,
            queued: Vec::new(),
            last_reap: Instant::now(),
        })
    }

    /// The mio registry, for registering sources with tokens from
    /// [`EventLoop::alloc_token`].
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// A token no live registration uses. A released token is not handed out
    /// again before the next `poll`, so a stale event already collected for
    /// its old owner cannot be mistaken for the new one's.
    pub fn alloc_token(&mut self) -> Token {
        if let Some(t) = self.free_tokens.pop() {
            return Token(t);
        }
        let t = self.next_token;
        self.next_token += 1;
        Token(t)
    }

    /// Gives a token back once its source is deregistered.
    pub fn free_token(&mut self, token: Token) {
        debug_assert!(token.0 < self.next_token);
        self.released_tokens.push(token.0);
    }

    /// Registers a raw file descriptor under a fresh token.
    pub fn add_fd(&mut self, fd: &impl AsRawFd, interest: Interest) -> io::Result<Token> {
        let token = self.alloc_token();
        let raw = fd.as_raw_fd();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut SourceFd(&raw), token, interest)
        {
            self.free_token(token);
            return Err(e);
        }
        Ok(token)
    }

    /// Deregisters a descriptor added with [`EventLoop::add_fd`] and frees its token.
    pub fn remove_fd(&mut self, fd: &impl AsRawFd, token: Token) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let r = self.poll.registry().deregister(&mut SourceFd(&raw));
        self.free_token(token);
        r
    }

    /// Arms a one-shot timer on the monotonic clock.
    pub fn add_timer(&mut self, after: Duration) -> TimerId {
        self.timers.add(Instant::now(), after, None)
    }

    /// Arms a timer that first fires after `period`, then every `period`.
    pub fn add_interval(&mut self, period: Duration) -> TimerId {
        self.timers.add(Instant::now(), period, Some(period))
    }

    /// Disarms a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// Whether a timer is still armed.
    pub fn timer_armed(&self, id: TimerId) -> bool {
        self.timers.is_armed(id)
    }

    /// Routes `signal` to this loop: it is blocked in the calling thread and
    /// read from a signalfd. Threads spawned afterwards inherit the block,
    /// and so do child processes: start them through
    /// [`crate::process::unblock_signals_on_exec`].
    pub fn watch_signal(&mut self, signal: Signal) -> io::Result<()> {
        if self.signal_mask.contains(signal) {
            return Ok(());
        }
        self.signal_mask.add(signal);
        let mut one = SigSet::empty();
        one.add(signal);
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&one), None)
            .map_err(io::Error::from)?;
        match &mut self.signal_fd {
            Some(sfd) => sfd.set_mask(&self.signal_mask).map_err(io::Error::from)?,
            None => {
                let sfd = SignalFd::with_flags(
                    &self.signal_mask,
                    SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
                )
                .map_err(io::Error::from)?;
                let raw = sfd.as_raw_fd();
                self.poll.registry().register(
                    &mut SourceFd(&raw),
                    SIGNAL_TOKEN,
                    Interest::READABLE,
                )?;
                self.signal_fd = Some(sfd);
            }
        }
        Ok(())
    }

    /// Reports the exit of child `pid` as `Event::ChildExited` once it is
    /// reaped. Only watched children are reaped, so other code may still wait
    /// for its own children.
    pub fn watch_child(&mut self, pid: i32) -> io::Result<()> {
        self.watch_signal(Signal::SIGCHLD)?;
        self.children.insert(pid);
        // It may have exited before we watched it, with its SIGCHLD already
        // consumed by an earlier read of the signalfd.
        self.reap_children();
        Ok(())
    }

    /// Number of children still watched (not yet reaped).
    pub fn watched_children(&self) -> usize {
        self.children.len()
    }

    /// Makes a new trigger that any thread may fire.
    pub fn trigger(&mut self) -> Trigger {
        self.next_trigger += 1;
        Trigger {
            id: TriggerId(self.next_trigger),
            shared: Arc::clone(&self.triggers),
        }
    }

    /// Waits until at least one event happened or `max_wait` elapsed
    /// (`None`: no limit other than the next timer), and appends the events to
    /// `out`. EINTR is not an error: it returns with whatever was collected.
    pub fn poll(&mut self, out: &mut Vec<Event>, max_wait: Option<Duration>) -> io::Result<()> {
        self.free_tokens.append(&mut self.released_tokens);
        let now = Instant::now();
        let mut timeout = max_wait;
        if let Some(deadline) = self.timers.next_deadline() {
            // Round up to the next millisecond: epoll sleeps in ms and waking
            // early would spin.
            let wait = ceil_ms(deadline.saturating_duration_since(now));
            timeout = Some(timeout.map_or(wait, |t| t.min(wait)));
        }
        if !self.children.is_empty() {
            let wait = REAP_SAFETY_PERIOD.saturating_sub(now.duration_since(self.last_reap));
            timeout = Some(timeout.map_or(wait, |t| t.min(wait)));
        }
        if !self.queued.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        out.append(&mut self.queued);
        match self.poll.poll(&mut self.mio_events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let mut signals_ready = false;
        let mut woken = false;
        for ev in self.mio_events.iter() {
            match ev.token() {
                WAKER_TOKEN => woken = true,
                SIGNAL_TOKEN => signals_ready = true,
                token => out.push(Event::Io {
                    token,
                    ready: Readiness {
                        readable: ev.is_readable(),
                        writable: ev.is_writable(),
                        hangup: ev.is_read_closed() || ev.is_write_closed(),
                        error: ev.is_error(),
                    },
                }),
            }
        }
        if woken {
            if let Ok(mut pending) = self.triggers.pending.lock() {
                out.extend(
                    std::mem::take(&mut *pending)
                        .into_iter()
                        .map(Event::Triggered),
                );
            }
        }
        if signals_ready {
            self.read_signals(out);
        }
        if !self.children.is_empty() && self.last_reap.elapsed() >= REAP_SAFETY_PERIOD {
            self.reap_children();
        }
        out.append(&mut self.queued);
        let mut fired = Vec::new();
        self.timers.expire(Instant::now(), &mut fired);
        out.extend(fired.into_iter().map(Event::Timer));
        Ok(())
    }

    fn read_signals(&mut self, out: &mut Vec<Event>) {
        let Some(sfd) = &mut self.signal_fd else {
            return;
        };
        let mut child_signal = false;
        loop {
            match sfd.read_signal() {
                Ok(Some(info)) => match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => child_signal = true,
                    Ok(sig) => out.push(Event::Signal(sig)),
                    Err(_) => {}
                },
                Ok(None) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    log::warn!("reading signalfd failed: {e}");
                    break;
                }
            }
        }
        if child_signal {
            self.reap_children();
        }
    }

    fn reap_children(&mut self) {
        self.last_reap = Instant::now();
        let mut gone = Vec::new();
        for &pid in &self.children {
            match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => gone.push((pid, ChildStatus::Exited(code))),
                Ok(WaitStatus::Signaled(_, sig, core)) => gone.push((
                    pid,
                    ChildStatus::Signaled {
                        signal: sig as i32,
                        core_dumped: core,
                    },
                )),
                Ok(_) => {}
                Err(Errno::ECHILD) => {
                    // Reaped elsewhere: we cannot know how it ended.
                    log::warn!("watched child {pid} was reaped by someone else");
                    gone.push((pid, ChildStatus::Exited(-1)));
                }
                Err(e) => log::warn!("waitpid({pid}) failed: {e}"),
            }
        }
        for (pid, status) in gone {
            self.children.remove(&pid);
            self.queued.push(Event::ChildExited { pid, status });
        }
    }
}

fn ceil_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::process::Command;

    fn poll_until<F: FnMut(&Event) -> bool>(lp: &mut EventLoop, mut want: F) -> Vec<Event> {
        let start = Instant::now();
        let mut all = Vec::new();
        while start.elapsed() < Duration::from_secs(10) {
            let mut evs = Vec::new();
            lp.poll(&mut evs, Some(Duration::from_millis(100))).unwrap();
            let hit = evs.iter().any(&mut want);
            all.extend(evs);
            if hit {
                return all;
            }
        }
        panic!("event not seen within 10s; saw {all:?}");
    }

    #[test]
    fn readable_fd_is_reported_with_its_token() {
        let mut lp = EventLoop::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let tok = lp.add_fd(&b, Interest::READABLE).unwrap();
        a.write_all(b"x").unwrap();
        poll_until(
            &mut lp,
            |e| matches!(e, Event::Io { token, ready } if *token == tok && ready.readable),
        );
        let mut buf = [0u8; 4];
        assert_eq!((&b).read(&mut buf).unwrap(), 1);
        drop(a);
        poll_until(
            &mut lp,
            |e| matches!(e, Event::Io { token, ready } if *token == tok && ready.hangup),
        );
        lp.remove_fd(&b, tok).unwrap();
    }

    #[test]
    fn timers_fire_in_order_and_cancelled_ones_do_not() {
        let mut lp = EventLoop::new().unwrap();
        let t2 = lp.add_timer(Duration::from_millis(40));
        let t1 = lp.add_timer(Duration::from_millis(10));
        let dead = lp.add_timer(Duration::from_millis(20));
        assert!(lp.cancel_timer(dead));
        let evs = poll_until(&mut lp, |e| *e == Event::Timer(t2));
        let timers: Vec<_> = evs
            .iter()
            .filter_map(|e| match e {
                Event::Timer(t) => Some(*t),
                _ => None,
            })
            .collect();
        assert_eq!(timers, vec![t1, t2]);
    }

    #[test]
    fn a_timer_never_fires_early() {
        let mut lp = EventLoop::new().unwrap();
        let start = Instant::now();
        let t = lp.add_timer(Duration::from_millis(30));
        poll_until(&mut lp, |e| *e == Event::Timer(t));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn trigger_fired_from_another_thread_wakes_the_loop() {
        let mut lp = EventLoop::new().unwrap();
        let trig = lp.trigger();
        let id = trig.id();
        let th = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            trig.fire().unwrap();
            trig.fire().unwrap();
        });
        let evs = poll_until(&mut lp, |e| *e == Event::Triggered(id));
        th.join().unwrap();
        assert_eq!(
            evs.iter().filter(|e| **e == Event::Triggered(id)).count(),
            1,
            "two fires before one poll are reported once"
        );
    }

    #[test]
    #[allow(clippy::zombie_processes)] // the loop under test reaps them
    fn child_exit_status_and_signal_are_reported() {
        let mut lp = EventLoop::new().unwrap();
        let ok = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let killed = Command::new("sleep").arg("30").spawn().unwrap();
        let (ok_pid, killed_pid) = (ok.id() as i32, killed.id() as i32);
        lp.watch_child(ok_pid).unwrap();
        lp.watch_child(killed_pid).unwrap();
        nix::sys::signal::kill(Pid::from_raw(killed_pid), Signal::SIGKILL).unwrap();
        let mut seen = std::collections::HashMap::new();
        let start = Instant::now();
        while seen.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            let mut evs = Vec::new();
            lp.poll(&mut evs, Some(Duration::from_millis(100))).unwrap();
            for e in evs {
                if let Event::ChildExited { pid, status } = e {
                    seen.insert(pid, status);
                }
            }
        }
        assert_eq!(seen.get(&ok_pid), Some(&ChildStatus::Exited(3)));
        assert_eq!(
            seen.get(&killed_pid),
            Some(&ChildStatus::Signaled {
                signal: libc::SIGKILL,
                core_dumped: false
            })
        );
        assert_eq!(lp.watched_children(), 0);
        assert_eq!(
            seen[&killed_pid].to_string(),
            "killed by signal 9 (SIGKILL)"
        );
    }

    #[test]
    #[allow(clippy::zombie_processes)] // the loop under test reaps them
    fn child_that_exited_before_being_watched_is_still_reported() {
        let mut lp = EventLoop::new().unwrap();
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        std::thread::sleep(Duration::from_millis(100));
        lp.watch_child(pid).unwrap();
        poll_until(&mut lp, |e| {
            *e == Event::ChildExited {
                pid,
                status: ChildStatus::Exited(0),
            }
        });
    }

    #[test]
    fn watched_signal_arrives_as_an_event() {
        let mut lp = EventLoop::new().unwrap();
        lp.watch_signal(Signal::SIGUSR2).unwrap();
        nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
        poll_until(&mut lp, |e| *e == Event::Signal(Signal::SIGUSR2));
    }

    #[test]
    fn released_token_is_not_reused_before_next_poll() {
        let mut lp = EventLoop::new().unwrap();
        let a = lp.alloc_token();
        lp.free_token(a);
        let b = lp.alloc_token();
        assert_ne!(a, b);
        let mut evs = Vec::new();
        lp.poll(&mut evs, Some(Duration::ZERO)).unwrap();
        assert_eq!(lp.alloc_token(), a);
    }
}

//! End-to-end behaviour of the ipc server with real sockets and real client
//! processes: fairness under a flood, clients that never read, access control
//! for an unprivileged user, oversized frames, clients dying mid-frame.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipc::{
    Access, AccessPolicy, Allow, BlockingClient, Bytes, ClientId, IpcError, Limits, Protocol,
    Server, ServerEvent,
};
use plumbing::{Event, EventLoop};
use serde::{Deserialize, Serialize};

struct Test;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Req {
    Echo(Bytes),
    /// One-way: counted by the server.
    Note(Bytes),
    /// Ask for events of this size, pushed on every loop turn until gone.
    Subscribe(usize),
    /// How many notes the server has taken so far (a read).
    Count,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Resp {
    Echo(Bytes),
    Count(u64),
    Ok,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Ev {
    Tick(Bytes),
}

impl Protocol for Test {
    type Request = Req;
    type Response = Resp;
    type Event = Ev;
    fn is_write(r: &Req) -> bool {
        !matches!(r, Req::Count)
    }
}

/// A server on its own thread; `disconnects` receives (client, reason).
struct Harness {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    notes: Arc<AtomicU64>,
    max_queued: Arc<AtomicU64>,
    disconnects: mpsc::Receiver<(ClientId, String)>,
    thread: Option<JoinHandle<()>>,
}

impl Harness {
    fn start(name: &str, mode: u32, policy: AccessPolicy, limits: Limits) -> Harness {
        let dir = std::env::temp_dir().join(format!("ipc-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = dir.join("test.sock");
        let stop = Arc::new(AtomicBool::new(false));
        let notes = Arc::new(AtomicU64::new(0));
        let max_queued = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = {
            let (path, stop, notes, max_queued) = (
                path.clone(),
                stop.clone(),
                notes.clone(),
                max_queued.clone(),
            );
            std::thread::spawn(move || {
                let mut lp = EventLoop::new().unwrap();
                let mut server: Server<Test> =
                    Server::bind(&mut lp, &path, mode, policy, limits).unwrap();
                ready_tx.send(()).unwrap();
                let mut events = Vec::new();
                let mut reqs = Vec::new();
                let mut subscribers: Vec<(ClientId, usize)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut timeout = server.poll_timeout().unwrap_or(Duration::from_millis(20));
                    if !subscribers.is_empty() {
                        timeout = timeout.min(Duration::from_millis(1));
                    }
                    lp.poll(&mut events, Some(timeout)).unwrap();
                    for ev in events.drain(..) {
                        if let Event::Io { token, ready } = ev {
                            if server.owns(token) {
                                server.handle_io(&mut lp, token, ready, &mut reqs);
                            }
                        }
                    }
                    server.process(&mut lp, &mut reqs);
                    for (client, size) in subscribers.clone() {
                        for _ in 0..16 {
                            let ev = Ev::Tick(Bytes(vec![7; size]));
                            if server.push_event(&mut lp, client, &ev, &mut reqs).is_err() {
                                break;
                            }
                        }
                        if let Some(q) = server.queued(client) {
                            max_queued.fetch_max(q as u64, Ordering::Relaxed);
                        }
                    }
                    // Replies can produce disconnects; take until none are left.
                    while !reqs.is_empty() {
                        for r in std::mem::take(&mut reqs) {
                            match r {
                                ServerEvent::Request { client, call, body } => {
                                    let resp = match body {
                                        Req::Echo(b) => Resp::Echo(b),
                                        Req::Note(_) => {
                                            notes.fetch_add(1, Ordering::Relaxed);
                                            Resp::Ok
                                        }
                                        Req::Subscribe(size) => {
                                            subscribers.push((client, size));
                                            Resp::Ok
                                        }
                                        Req::Count => Resp::Count(notes.load(Ordering::Relaxed)),
                                    };
                                    if let Some(id) = call {
                                        let _ = server.reply(&mut lp, client, id, &resp, &mut reqs);
                                    }
                                }
                                ServerEvent::Disconnected { client, reason } => {
                                    subscribers.retain(|(c, _)| *c != client);
                                    let _ = tx.send((client, reason));
                                }
                                ServerEvent::Connected { .. } => {}
                            }
                        }
                    }
                }
            })
        };
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        Harness {
            path,
            stop,
            notes,
            max_queued,
            disconnects: rx,
            thread: Some(thread),
        }
    }

    fn open_policy() -> AccessPolicy {
        AccessPolicy {
            read: Allow::default(),
            write: Allow {
                uids: vec![0],
                ..Allow::default()
            },
        }
    }

    fn next_disconnect(&self) -> (ClientId, String) {
        self.disconnects
            .recv_timeout(Duration::from_secs(20))
            .expect("a disconnect within 20s")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn connect(path: &Path) -> BlockingClient<Test> {
    let mut c = BlockingClient::connect(path).unwrap();
    c.set_timeout(Some(Duration::from_secs(10)));
    c
}

#[test]
fn calls_are_answered_and_events_pushed() {
    let h = Harness::start("basic", 0o600, Harness::open_policy(), Limits::default());
    let mut c = connect(&h.path);
    for size in [0, 64, 1024, 65536, 3 << 20] {
        let payload = Bytes((0..size).map(|i| i as u8).collect());
        assert_eq!(
            c.call(&Req::Echo(payload.clone())).unwrap(),
            Resp::Echo(payload)
        );
    }
    c.send(&Req::Note(Bytes(vec![1]))).unwrap();
    c.flush().unwrap();
    assert_eq!(c.call(&Req::Subscribe(10)).unwrap(), Resp::Ok);
    let ev = c.next_event(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ev, Some(Ev::Tick(Bytes(vec![7; 10]))));
    assert_eq!(h.notes.load(Ordering::Relaxed), 1);
}

#[test]
fn a_flooding_client_does_not_starve_another() {
    let h = Harness::start("flood", 0o600, Harness::open_policy(), Limits::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (path, stop, sent) = (h.path.clone(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut c = connect(&path);
            // Never stops on its own: only the other client's success ends it.
            while !stop.load(Ordering::Relaxed) {
                c.send(&Req::Note(Bytes(vec![0; 4096]))).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while h.notes.load(Ordering::Relaxed) < 1000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut polite = connect(&h.path);
    polite.set_timeout(Some(Duration::from_secs(5)));
    for i in 0..200u32 {
        let p = Bytes(i.to_le_bytes().to_vec());
        assert_eq!(polite.call(&Req::Echo(p.clone())).unwrap(), Resp::Echo(p));
    }
    let notes_during = h.notes.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    flooder.join().unwrap();
    assert!(
        notes_during > 1000,
        "the flood was being served too ({notes_during})"
    );
}

fn small_limits() -> Limits {
    Limits {
        high_watermark: 64 << 10,
        low_watermark: 16 << 10,
        max_queue: 256 << 10,
        stall_timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_with_bounded_queue() {
    let h = Harness::start(
        "noread-events",
        0o600,
        Harness::open_policy(),
        small_limits(),
    );
    let mut deaf = connect(&h.path);
    assert_eq!(deaf.call(&Req::Subscribe(1000)).unwrap(), Resp::Ok);
    // It never reads again. Another client is served meanwhile.
    let mut other = connect(&h.path);
    assert_eq!(
        other.call(&Req::Echo(Bytes(vec![1]))).unwrap(),
        Resp::Echo(Bytes(vec![1]))
    );
    let (_, reason) = h.next_disconnect();
    assert!(reason.contains("not reading"), "reason: {reason}");
    let peak = h.max_queued.load(Ordering::Relaxed);
    assert!(peak <= (256 << 10) + 2000, "queue peaked at {peak} bytes");
    assert_eq!(
        other.call(&Req::Echo(Bytes(vec![2]))).unwrap(),
        Resp::Echo(Bytes(vec![2]))
    );
    drop(deaf);
}

#[test]
fn a_caller_that_never_reads_replies_is_throttled_then_disconnected() {
    let h = Harness::start(
        "noread-calls",
        0o600,
        Harness::open_policy(),
        small_limits(),
    );
    let mut raw = UnixStream::connect(&h.path).unwrap();
    raw.set_nonblocking(true).unwrap();
    // Pipeline calls with 8 KiB payloads whose replies are never read.
    let mut frames = Vec::new();
    for id in 0..4000u64 {
        let f = ipc::ClientFrame::Call {
            id,
            body: Req::Echo(Bytes(vec![3; 8192])),
        };
        let body = postcard::to_allocvec(&f).unwrap();
        frames.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frames.extend_from_slice(&body);
    }
    let mut off = 0;
    let start = Instant::now();
    // Write until the server stops taking our requests (throttled).
    while off < frames.len() && start.elapsed() < Duration::from_secs(3) {
        match raw.write(&frames[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => break,
        }
    }
    assert!(
        off < frames.len(),
        "server kept reading a client that does not read"
    );
    let (_, reason) = h.next_disconnect();
    assert!(reason.contains("not reading"), "reason: {reason}");
    let peak = h.max_queued.load(Ordering::Relaxed);
    assert!(peak <= 256 << 10, "queue peaked at {peak}");
    // Still serving others.
    let mut other = connect(&h.path);
    assert_eq!(other.call(&Req::Count).unwrap(), Resp::Count(0));
}

#[test]
fn an_oversized_frame_closes_only_that_connection() {
    let limits = Limits {
        max_frame: 1 << 20,
        ..Limits::default()
    };
    let h = Harness::start("oversize", 0o600, Harness::open_policy(), limits);
    let mut bystander = connect(&h.path);
    // A client that knows the limit refuses to send.
    let mut c = connect(&h.path);
    c.set_max_frame(1 << 20);
    let err = c.call(&Req::Echo(Bytes(vec![0; 2 << 20])));
    assert!(
        matches!(err, Err(IpcError::Frame(ipc::FrameError::TooLarge { .. }))),
        "{err:?}"
    );
    // One that does not is refused by the server, with the server's reason.
    let mut c = connect(&h.path);
    match c.call(&Req::Echo(Bytes(vec![0; 2 << 20]))) {
        Err(IpcError::Refused { kind, message }) => {
            assert_eq!(kind, ipc::ErrorKind::TooLarge);
            assert!(
                message.contains("exceeds the limit of 1048576"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A raw peer declaring 2 MiB is cut off before sending it.
    let mut raw = UnixStream::connect(&h.path).unwrap();
    raw.write_all(&(2u32 << 20).to_le_bytes()).unwrap();
    // The server may already have closed on the header: EPIPE is fine here.
    let _ = raw.write_all(&[0; 100]);
    for _ in 0..2 {
        let (_, reason) = h.next_disconnect();
        assert!(
            reason.contains("exceeds the limit of 1048576"),
            "reason: {reason}"
        );
    }
    assert_eq!(
        bystander.call(&Req::Echo(Bytes(vec![9]))).unwrap(),
        Resp::Echo(Bytes(vec![9]))
    );
}

#[test]
fn a_client_dying_mid_frame_affects_nobody_else() {
    let h = Harness::start("midframe", 0o600, Harness::open_policy(), Limits::default());
    let mut bystander = connect(&h.path);
    {
        let mut raw = UnixStream::connect(&h.path).unwrap();
        raw.write_all(&1000u32.to_le_bytes()).unwrap();
        raw.write_all(&[1; 300]).unwrap();
    }
    let (_, reason) = h.next_disconnect();
    assert_eq!(reason, "closed by client mid-frame (304 of 1004 bytes)");
    assert_eq!(
        bystander.call(&Req::Echo(Bytes(vec![5]))).unwrap(),
        Resp::Echo(Bytes(vec![5]))
    );
}

#[test]
fn garbage_frame_is_refused_with_an_error_frame() {
    let h = Harness::start("garbage", 0o600, Harness::open_policy(), Limits::default());
    let mut raw = UnixStream::connect(&h.path).unwrap();
    raw.write_all(&4u32.to_le_bytes()).unwrap();
    raw.write_all(&[0xff; 4]).unwrap();
    let (_, reason) = h.next_disconnect();
    assert!(reason.starts_with("malformed frame"), "reason: {reason}");
}

/// What the unprivileged child saw, as its exit code.
const CHILD_OK: i32 = 0;
const CHILD_DENIED: i32 = 10;
const CHILD_READ_ONLY: i32 = 11;
const CHILD_OTHER: i32 = 12;

/// Forks a child that becomes uid/gid 65534 and makes one call (a read or a
/// write); returns what it saw. The privilege drop is resolved before the
/// fork, so the child only makes system calls and talks to the socket.
fn call_as_nobody(path: &Path, write: bool) -> i32 {
    let drop = plumbing::daemon::PrivilegeDrop::resolve("nobody", None).unwrap();
    let req = if write {
        Req::Echo(Bytes(vec![1]))
    } else {
        Req::Count
    };
    // SAFETY: the child only makes system calls, uses the socket and exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let code = if drop.apply().is_err() {
                CHILD_OTHER
            } else {
                match BlockingClient::<Test>::connect(path).and_then(|mut c| c.call(&req)) {
                    Ok(_) => CHILD_OK,
                    Err(IpcError::Refused {
                        kind: ipc::ErrorKind::AccessDenied,
                        ..
                    }) => CHILD_DENIED,
                    Err(IpcError::Refused {
                        kind: ipc::ErrorKind::ReadOnly,
                        ..
                    }) => CHILD_READ_ONLY,
                    Err(_) => CHILD_OTHER,
                }
            };
            // SAFETY: leave without running the test harness's destructors.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
            other => panic!("child ended as {other:?}"),
        },
    }
}

fn needs_root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to switch uid");
        return false;
    }
    true
}

#[test]
fn an_unprivileged_user_is_rejected() {
    if !needs_root() {
        return;
    }
    let h = Harness::start("nobody", 0o666, Harness::open_policy(), Limits::default());
    assert_eq!(call_as_nobody(&h.path, false), CHILD_DENIED);
    // Root is still served.
    assert_eq!(connect(&h.path).call(&Req::Count).unwrap(), Resp::Count(0));
}

#[test]
fn a_read_only_group_member_may_read_but_not_write() {
    if !needs_root() {
        return;
    }
    let policy = AccessPolicy {
        read: Allow {
            gids: vec![65534],
            ..Allow::default()
        },
        write: Allow {
            uids: vec![0],
            ..Allow::default()
        },
    };
    assert_eq!(
        policy.access(&ipc::PeerCred {
            pid: 1,
            uid: 65534,
            gid: 65534,
            groups: vec![]
        }),
        Access::ReadOnly
    );
    let h = Harness::start("readonly", 0o666, policy, Limits::default());
    assert_eq!(
        call_as_nobody(&h.path, false),
        CHILD_OK,
        "a read is allowed"
    );
    assert_eq!(
        call_as_nobody(&h.path, true),
        CHILD_READ_ONLY,
        "a write is refused"
    );
}

#[test]
fn socket_mode_and_stale_socket_handling() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let h = Harness::start("mode", 0o600, Harness::open_policy(), Limits::default());
    let meta = std::fs::metadata(&h.path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // A second server on a live socket is refused.
    let mut lp = EventLoop::new().unwrap();
    let err = Server::<Test>::bind(
        &mut lp,
        &h.path,
        0o600,
        Harness::open_policy(),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    // A stale socket file (nobody listening) is replaced.
    let stale = h.path.with_file_name("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let s = Server::<Test>::bind(
        &mut lp,
        &stale,
        0o600,
        Harness::open_policy(),
        Limits::default(),
    );
    assert!(s.is_ok());
}

#[test]
fn a_nonblocking_client_sees_queue_full_when_the_server_is_slow() {
    // A listener that accepts but never reads.
    let dir = std::env::temp_dir().join(format!("ipc-test-{}-slow", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("slow.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut lp = EventLoop::new().unwrap();
    let limits = ipc::ClientLimits {
        max_queue: 1 << 20,
        ..Default::default()
    };
    let mut c: ipc::Client<Test> = ipc::Client::connect(&mut lp, &path, limits).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let mut full = None;
    for i in 0..10_000 {
        match c.send(&mut lp, &Req::Note(Bytes(vec![0; 4096]))) {
            Ok(()) => {}
            Err(e) => {
                full = Some((i, e));
                break;
            }
        }
    }
    let (i, e) = full.expect("queue must fill");
    assert!(matches!(e, IpcError::QueueFull { .. }), "{e}");
    assert!(e.to_string().starts_with("would block: send queue full"));
    assert!(
        c.queued() >= 1 << 20 && c.queued() < (1 << 20) + 5000,
        "queued {}",
        c.queued()
    );
    assert!(i > 100);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_blocking_call_times_out_when_the_server_never_answers() {
    let dir = std::env::temp_dir().join(format!("ipc-test-{}-mute", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mute.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut c = connect(&path);
    c.set_timeout(Some(Duration::from_millis(200)));
    let (_peer, _) = listener.accept().unwrap();
    let start = Instant::now();
    assert!(matches!(c.call(&Req::Count), Err(IpcError::Timeout)));
    assert!(start.elapsed() >= Duration::from_millis(200));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn connect_error_names_the_socket() {
    let err = BlockingClient::<Test>::connect(Path::new("/nonexistent/x.sock"))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("cannot connect to /nonexistent/x.sock:"),
        "{err}"
    );
}

#[test]
fn connect_to_a_full_listen_queue_times_out_instead_of_hanging() {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
    };
    let dir = std::env::temp_dir().join(format!("ipc-test-{}-backlog", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("full.sock");
    let _ = std::fs::remove_file(&path);
    // A listener that never accepts, with the smallest queue.
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &UnixAddr::new(&path).unwrap(),
    )
    .unwrap();
    listen(&fd, Backlog::new(0).unwrap()).unwrap();
    let mut held = Vec::new();
    let mut outcome = None;
    for _ in 0..64 {
        match ipc::connect_unix(&path, Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(e) => {
                outcome = Some(e);
                break;
            }
        }
    }
    let err = outcome.expect("the queue must fill");
    assert!(
        err.to_string().contains("listen queue stayed full"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

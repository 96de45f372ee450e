//! The connecting side: `Client` for daemons, driven by their event loop and
//! never blocking (a full send queue is an error the caller sees), and
//! `BlockingClient` for command-line tools, which waits with a timeout.

use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use plumbing::{EventLoop, Readiness};

use crate::frame::{decode, FrameError, Inbound, Outbound, ReadOutcome, DEFAULT_MAX_FRAME};
use crate::proto::{ClientFrameRef, ErrorKind, Protocol, ServerFrame};

/// Everything that can go wrong talking to a service.
#[derive(Debug)]
pub enum IpcError {
    /// The service's socket could not be reached.
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A read or write failed.
    Io(io::Error),
    /// The service closed the connection.
    Closed(String),
    /// The service refused (access denied, read-only, ...).
    Refused {
        /// The kind of refusal.
        kind: ErrorKind,
        /// The service's detail.
        message: String,
    },
    /// No answer within the timeout.
    Timeout,
    /// A frame could not be encoded or decoded.
    Frame(FrameError),
    /// The send queue is full: the service is not keeping up (non-blocking
    /// clients only; try again once it drains).
    QueueFull {
        /// Bytes queued.
        queued: usize,
        /// The limit.
        limit: usize,
    },
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpcError::Connect { path, source } => {
                write!(f, "cannot connect to {}: {source}", path.display())
            }
            IpcError::Io(e) => write!(f, "i/o error: {e}"),
            IpcError::Closed(why) => write!(f, "connection closed: {why}"),
            IpcError::Refused { kind, message } => write!(f, "{kind}: {message}"),
            IpcError::Timeout => f.write_str("timed out waiting for the service"),
            IpcError::Frame(e) => e.fmt(f),
            IpcError::QueueFull { queued, limit } => write!(
                f,
                "would block: send queue full ({queued} bytes queued, limit {limit})"
            ),
        }
    }
}

impl std::error::Error for IpcError {}

impl From<io::Error> for IpcError {
    fn from(e: io::Error) -> Self {
        IpcError::Io(e)
    }
}

/// Connects to a listening Unix socket without ever blocking past
/// `timeout`: the socket is non-blocking, and a full listen backlog (EAGAIN)
/// is retried until the deadline instead of stalling the caller (a logging
/// thread must not hang on a stuck logd).
pub fn connect_unix(
    path: &Path,
    timeout: Duration,
) -> Result<std::os::unix::net::UnixStream, IpcError> {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let fail = |source: io::Error| IpcError::Connect {
        path: path.to_owned(),
        source,
    };
    let addr = UnixAddr::new(path).map_err(|e| fail(e.into()))?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| fail(e.into()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => return Ok(std::os::unix::net::UnixStream::from(fd)),
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(nix::errno::Errno::EAGAIN) => {
                return Err(fail(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the service's listen queue stayed full",
                )))
            }
            Err(e) => return Err(fail(e.into())),
        }
    }
}

/// How long `connect` waits for a service whose listen queue is full.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a non-blocking client receives.
#[derive(Debug, PartialEq)]
pub enum ClientEvent<P: Protocol> {
    /// The reply to the call with this id.
    Reply {
        /// The call id returned by [`Client::call`].
        id: u64,
        /// The reply.
        body: P::Response,
    },
    /// A pushed event.
    Event(P::Event),
    /// A call (`id`) or the connection (`None`) was refused.
    Refused {
        /// The refused call.
        id: Option<u64>,
        /// Why.
        kind: ErrorKind,
        /// Detail.
        message: String,
    },
    /// The connection is gone; drop the client.
    Closed(String),
}

/// Send-queue bound of a client (the server has its own).
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Largest frame sent or accepted.
    pub max_frame: usize,
    /// Bytes queued at which `call`/`send` return `QueueFull`.
    pub max_queue: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            max_frame: DEFAULT_MAX_FRAME,
            max_queue: 4 << 20,
        }
    }
}

/// A connection to a service, driven by the caller's event loop.
pub struct Client<P: Protocol> {
    stream: mio::net::UnixStream,
    token: Token,
    inb: Inbound,
    out: Outbound,
    wants_writable: bool,
    next_id: u64,
    limits: ClientLimits,
    _protocol: PhantomData<P>,
}

impl<P: Protocol> Client<P> {
    /// Connects and registers with the loop.
    pub fn connect(
        lp: &mut EventLoop,
        path: &Path,
        limits: ClientLimits,
    ) -> Result<Self, IpcError> {
        let std_stream = connect_unix(path, CONNECT_TIMEOUT)?;
        let mut stream = mio::net::UnixStream::from_std(std_stream);
        let token = lp.alloc_token();
        lp.registry()
            .register(&mut stream, token, Interest::READABLE)?;
        Ok(Client {
            stream,
            token,
            inb: Inbound::new(limits.max_frame),
            out: Outbound::default(),
            wants_writable: false,
            next_id: 0,
            limits,
            _protocol: PhantomData,
        })
    }

    /// The loop token of this connection.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Sends a call; the reply comes back as `ClientEvent::Reply` with the
    /// returned id.
    pub fn call(&mut self, lp: &mut EventLoop, body: &P::Request) -> Result<u64, IpcError> {
        self.next_id += 1;
        let id = self.next_id;
        self.push(lp, &ClientFrameRef::Call { id, body })?;
        Ok(id)
    }

    /// Sends a one-way request.
    pub fn send(&mut self, lp: &mut EventLoop, body: &P::Request) -> Result<(), IpcError> {
        self.push(lp, &ClientFrameRef::Send { body })
    }

    fn push(
        &mut self,
        lp: &mut EventLoop,
        frame: &ClientFrameRef<'_, P::Request>,
    ) -> Result<(), IpcError> {
        if self.out.len() >= self.limits.max_queue {
            return Err(IpcError::QueueFull {
                queued: self.out.len(),
                limit: self.limits.max_queue,
            });
        }
        self.out
            .push(frame, self.limits.max_frame)
            .map_err(IpcError::Frame)?;
        if !self.wants_writable {
            self.flush(lp)?;
        }
        Ok(())
    }

    fn flush(&mut self, lp: &mut EventLoop) -> Result<(), IpcError> {
        let drained = self.out.write_to(&mut self.stream)?;
        if drained == self.wants_writable {
            self.wants_writable = !drained;
            let interest = if drained {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            lp.registry()
                .reregister(&mut self.stream, self.token, interest)?;
        }
        Ok(())
    }

    /// Handles readiness of [`Client::token`]: writes queued bytes, reads
    /// replies and events into `out`. After `ClientEvent::Closed`, drop the
    /// client with [`Client::close`].
    pub fn handle_io(
        &mut self,
        lp: &mut EventLoop,
        ready: Readiness,
        out: &mut Vec<ClientEvent<P>>,
    ) {
        if ready.writable && self.wants_writable {
            if let Err(e) = self.flush(lp) {
                out.push(ClientEvent::Closed(e.to_string()));
                return;
            }
        }
        loop {
            loop {
                match self.inb.next_frame() {
                    Ok(Some(range)) => {
                        match decode::<ServerFrame<P::Response, P::Event>>(self.inb.payload(range))
                        {
                            Ok(f) => out.push(match f {
                                ServerFrame::Reply { id, body } => ClientEvent::Reply { id, body },
                                ServerFrame::Event(e) => ClientEvent::Event(e),
                                ServerFrame::Error { id, kind, message } => {
                                    ClientEvent::Refused { id, kind, message }
                                }
                            }),
                            Err(e) => {
                                out.push(ClientEvent::Closed(e.to_string()));
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.push(ClientEvent::Closed(e.to_string()));
                        return;
                    }
                }
            }
            match self.inb.read_from(&mut self.stream) {
                Ok(ReadOutcome::Data(_)) => {}
                Ok(ReadOutcome::WouldBlock) => return,
                Ok(ReadOutcome::Eof) => {
                    out.push(ClientEvent::Closed("closed by service".into()));
                    return;
                }
                Err(e) => {
                    out.push(ClientEvent::Closed(format!("read error: {e}")));
                    return;
                }
            }
        }
    }

    /// Deregisters and closes.
    pub fn close(mut self, lp: &mut EventLoop) {
        let _ = lp.registry().deregister(&mut self.stream);
        lp.free_token(self.token);
    }
}

/// A connection for command-line tools: each call waits for its reply, up to
/// a timeout; events that arrive meanwhile are kept for `next_event`.
pub struct BlockingClient<P: Protocol> {
    stream: std::os::unix::net::UnixStream,
    inb: Inbound,
    out: Outbound,
    next_id: u64,
    events: VecDeque<P::Event>,
    timeout: Option<Duration>,
    max_frame: usize,
    _protocol: PhantomData<P>,
}

/// Events a blocking client holds before it treats the service as flooding it.
const MAX_HELD_EVENTS: usize = 100_000;

/// One-way sends are written once this much is queued (or on `flush`).
const SEND_BATCH: usize = 64 << 10;

impl<P: Protocol> BlockingClient<P> {
    /// Connects, with a default timeout of 30 s per call.
    pub fn connect(path: &Path) -> Result<Self, IpcError> {
        Self::connect_timeout(path, CONNECT_TIMEOUT)
    }

    /// Connects, waiting at most `timeout` for a service whose listen queue
    /// is full.
    pub fn connect_timeout(path: &Path, timeout: Duration) -> Result<Self, IpcError> {
        // Non-blocking underneath: we wait with poll so that reading and
        // writing can both progress and a timeout always holds.
        let stream = connect_unix(path, timeout)?;
        Ok(BlockingClient {
            stream,
            inb: Inbound::new(DEFAULT_MAX_FRAME),
            out: Outbound::default(),
            next_id: 0,
            events: VecDeque::new(),
            timeout: Some(Duration::from_secs(30)),
            max_frame: DEFAULT_MAX_FRAME,
            _protocol: PhantomData,
        })
    }

    /// Sets the per-call timeout (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Sets the largest frame sent or accepted.
    pub fn set_max_frame(&mut self, max: usize) {
        self.max_frame = max;
        self.inb = Inbound::new(max);
    }

    /// Sends a call and waits for its reply.
    pub fn call(&mut self, body: &P::Request) -> Result<P::Response, IpcError> {
        self.next_id += 1;
        let id = self.next_id;
        self.out
            .push(&ClientFrameRef::Call { id, body }, self.max_frame)
            .map_err(IpcError::Frame)?;
        let deadline = self.timeout.map(|t| Instant::now() + t);
        self.flush_until(deadline)?;
        loop {
            match self.next_frame(deadline)? {
                ServerFrame::Reply { id: got, body } if got == id => return Ok(body),
                ServerFrame::Reply { .. } => {} // a reply to an abandoned call
                ServerFrame::Event(e) => self.hold_event(e)?,
                ServerFrame::Error {
                    id: None,
                    kind,
                    message,
                } => return Err(IpcError::Refused { kind, message }),
                ServerFrame::Error {
                    id: Some(got),
                    kind,
                    message,
                } if got == id => return Err(IpcError::Refused { kind, message }),
                ServerFrame::Error { .. } => {}
            }
        }
    }

    /// Queues a one-way request; writes when a batch is full. Call
    /// [`BlockingClient::flush`] to push the rest out.
    pub fn send(&mut self, body: &P::Request) -> Result<(), IpcError> {
        self.out
            .push(&ClientFrameRef::Send { body }, self.max_frame)
            .map_err(IpcError::Frame)?;
        if self.out.len() >= SEND_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes everything queued, waiting while the service is slow (flow
    /// control), up to the timeout.
    pub fn flush(&mut self) -> Result<(), IpcError> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        self.flush_until(deadline)
    }

    /// The next pushed event, waiting up to `wait` (`None`: forever).
    pub fn next_event(&mut self, wait: Option<Duration>) -> Result<Option<P::Event>, IpcError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let deadline = wait.map(|t| Instant::now() + t);
        loop {
            match self.next_frame(deadline) {
                Ok(ServerFrame::Event(e)) => return Ok(Some(e)),
                Ok(ServerFrame::Error {
                    id: None,
                    kind,
                    message,
                }) => return Err(IpcError::Refused { kind, message }),
                Ok(_) => {}
                Err(IpcError::Timeout) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn hold_event(&mut self, e: P::Event) -> Result<(), IpcError> {
        if self.events.len() >= MAX_HELD_EVENTS {
            return Err(IpcError::Closed(format!(
                "more than {MAX_HELD_EVENTS} unread events"
            )));
        }
        self.events.push_back(e);
        Ok(())
    }

    fn flush_until(&mut self, deadline: Option<Instant>) -> Result<(), IpcError> {
        loop {
            match self.out.write_to(&mut self.stream) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return Err(self.why_closed());
                }
                Err(e) => return Err(e.into()),
            }
            // While the service cannot take more, keep reading so that it
            // can make progress writing to us.
            if self.wait(deadline, true)? {
                self.read_once()?;
            }
        }
    }

    /// After the service closed on us: its error frame if it sent one
    /// (access denied, message too large, ...), else a plain close.
    fn why_closed(&mut self) -> IpcError {
        while let Ok(true) = self.read_once() {}
        while let Ok(Some(range)) = self.inb.next_frame() {
            if let Ok(ServerFrame::Error { kind, message, .. }) =
                decode::<ServerFrame<P::Response, P::Event>>(self.inb.payload(range))
            {
                return IpcError::Refused { kind, message };
            }
        }
        IpcError::Closed("closed by service".into())
    }

    fn next_frame(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<ServerFrame<P::Response, P::Event>, IpcError> {
        loop {
            if let Some(range) = self.inb.next_frame().map_err(IpcError::Frame)? {
                return decode(self.inb.payload(range)).map_err(IpcError::Frame);
            }
            match self.read_once() {
                Ok(true) => {}
                Ok(false) => {
                    self.wait(deadline, false)?;
                }
                Err(IpcError::Closed(_)) => return Err(self.why_closed()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads once; false if nothing was there.
    fn read_once(&mut self) -> Result<bool, IpcError> {
        match self.inb.read_from(&mut self.stream)? {
            ReadOutcome::Data(_) => Ok(true),
            ReadOutcome::WouldBlock => Ok(false),
            ReadOutcome::Eof => {
                let why = match self.inb.partial() {
                    None => "closed by service".to_owned(),
                    Some(_) => "closed by service mid-frame".to_owned(),
                };
                Err(IpcError::Closed(why))
            }
        }
    }

    /// Waits for readability (and writability if `write`). Returns whether
    /// the socket is readable.
    fn wait(&mut self, deadline: Option<Instant>, write: bool) -> Result<bool, IpcError> {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(IpcError::Timeout);
                }
                // Round up: waking before the deadline would report a
                // timeout early.
                let ms = left
                    .as_nanos()
                    .div_ceil(1_000_000)
                    .clamp(1, i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut flags = PollFlags::POLLIN;
        if write {
            flags |= PollFlags::POLLOUT;
        }
        let mut fds = [PollFd::new(self.stream.as_fd(), flags)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => Err(IpcError::Timeout),
            Ok(_) => Ok(fds[0].revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(IpcError::Io(e.into())),
        }
    }

    /// The raw descriptor, for tools that poll several things.
    pub fn as_raw_fd(&self) -> i32 {
        self.stream.as_raw_fd()
    }
}

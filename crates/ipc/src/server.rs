//! The listening side of a service on the plumbing event loop: accepts and
//! authenticates clients, splits their bytes into requests fairly (a budget
//! per client per round), queues replies and events per client with
//! watermarks, throttles a client that does not read and disconnects it if it
//! stays stuck or its queue passes the hard limit.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Token};
use plumbing::{EventLoop, Readiness};

use crate::auth::{Access, AccessPolicy, PeerCred};
use crate::frame::{decode, FrameError, Inbound, Outbound, ReadOutcome, DEFAULT_MAX_FRAME};
use crate::proto::{ClientFrame, ErrorKind, Protocol, ServerFrameRef};

/// Bounds that keep a server's memory and fairness independent of what its
/// clients do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame accepted or sent.
    pub max_frame: usize,
    /// Most simultaneous clients; more are refused.
    pub max_clients: usize,
    /// Queued bytes at which a client is throttled (its requests are no
    /// longer read until its queue drains to `low_watermark`).
    pub high_watermark: usize,
    /// Queued bytes at which a throttled client is read again.
    pub low_watermark: usize,
    /// Queued bytes past which the client is disconnected. A single frame
    /// larger than this is still queued when the queue is below the high
    /// watermark, so a big reply is never refused for its size alone.
    pub max_queue: usize,
    /// How long a client may stay throttled without reading before it is
    /// disconnected.
    pub stall_timeout: Duration,
    /// Requests taken from one client before the next client's turn.
    pub read_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_MAX_FRAME,
            max_clients: 256,
            high_watermark: 4 << 20,
            low_watermark: 1 << 20,
            max_queue: 64 << 20,
            stall_timeout: Duration::from_secs(30),
            read_budget: 64,
        }
    }
}

/// A client for the life of its connection; never reused by one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// What the service has to act on.
#[derive(Debug, PartialEq)]
pub enum ServerEvent<Req> {
    /// A client connected and passed the access check.
    Connected {
        /// Its id.
        client: ClientId,
        /// Its credentials.
        peer: PeerCred,
        /// What it may do.
        access: Access,
    },
    /// A request. Answer calls (`call` is `Some`) with [`Server::reply`].
    Request {
        /// Who sent it.
        client: ClientId,
        /// The call id, or `None` for a one-way send.
        call: Option<u64>,
        /// The request.
        body: Req,
    },
    /// A client is gone; no more sends to it.
    Disconnected {
        /// Its id.
        client: ClientId,
        /// Why, for the log.
        reason: String,
    },
}

/// Why a reply or event was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The client is not (or no longer) connected.
    NoSuchClient,
    /// The message exceeds the frame limit; nothing was queued.
    TooLarge(FrameError),
    /// The client's queue passed the hard limit; it was disconnected.
    Disconnected,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NoSuchClient => f.write_str("no such client"),
            SendError::TooLarge(e) => e.fmt(f),
            SendError::Disconnected => f.write_str("client disconnected: not reading"),
        }
    }
}

impl std::error::Error for SendError {}

/// Counters for monitoring and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections refused by the access policy or the client limit.
    pub refused: u64,
    /// Clients disconnected for not reading.
    pub slow_disconnects: u64,
    /// Connections closed for a malformed or oversized frame.
    pub bad_frames: u64,
    /// Writing requests refused from read-only clients.
    pub read_only_refusals: u64,
}

struct Conn {
    id: ClientId,
    stream: UnixStream,
    access: Access,
    inb: Inbound,
    out: Outbound,
    wants_writable: bool,
    throttled_since: Option<Instant>,
    in_ready_queue: bool,
}

/// A listening service speaking protocol `P`.
pub struct Server<P: Protocol> {
    path: PathBuf,
    listener: UnixListener,
    listen_token: Token,
    conns: HashMap<Token, Conn>,
    by_id: HashMap<ClientId, Token>,
    ready: VecDeque<Token>,
    policy: AccessPolicy,
    limits: Limits,
    next_id: u64,
    throttled: usize,
    stats: ServerStats,
    _protocol: PhantomData<P>,
}

impl<P: Protocol> Server<P> {
    /// Listens on `path` with file mode `mode` (e.g. 0o600 for root-only
    /// services, 0o666 when the peer-credential check is the gate). A stale
    /// socket file is replaced; a live one is an `AddrInUse` error.
    pub fn bind(
        lp: &mut EventLoop,
        path: &Path,
        mode: u32,
        policy: AccessPolicy,
        limits: Limits,
    ) -> io::Result<Self> {
        if path.exists() {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another process is listening on {}", path.display()),
                    ))
                }
                Err(_) => std::fs::remove_file(path)?,
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut listener = UnixListener::bind(path)?;
        // Peer credentials gate access either way; the mode keeps strangers
        // from even connecting to root-only services.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        let listen_token = lp.alloc_token();
        lp.registry()
            .register(&mut listener, listen_token, Interest::READABLE)?;
        Ok(Server {
            path: path.to_owned(),
            listener,
            listen_token,
            conns: HashMap::new(),
            by_id: HashMap::new(),
            ready: VecDeque::new(),
            policy,
            limits,
            next_id: 0,
            throttled: 0,
            stats: ServerStats::default(),
            _protocol: PhantomData,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an `Event::Io` token belongs to this server.
    pub fn owns(&self, token: Token) -> bool {
        token == self.listen_token || self.conns.contains_key(&token)
    }

    /// Counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Connected clients.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.by_id.keys().copied()
    }

    /// Bytes queued to a client.
    pub fn queued(&self, client: ClientId) -> Option<usize> {
        let t = self.by_id.get(&client)?;
        self.conns.get(t).map(|c| c.out.len())
    }

    /// The longest the event loop may sleep: zero while requests wait in
    /// buffers (a client used up its budget), else until the earliest stall
    /// deadline.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        if self.throttled == 0 {
            return None;
        }
        let now = Instant::now();
        self.conns
            .values()
            .filter_map(|c| c.throttled_since)
            .map(|t| (t + self.limits.stall_timeout).saturating_duration_since(now))
            .min()
    }

    /// Reacts to readiness of one of this server's tokens. Requests are
    /// produced by [`Server::process`], which must be called after every poll.
    pub fn handle_io(
        &mut self,
        lp: &mut EventLoop,
        token: Token,
        ready: Readiness,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) {
        if token == self.listen_token {
            self.accept_all(lp, out);
            return;
        }
        let Some(conn) = self.conns.get_mut(&token) else {
            return; // stale event for a closed connection
        };
        if (ready.readable || ready.hangup || ready.error)
            && conn.throttled_since.is_none()
            && !conn.in_ready_queue
        {
            conn.in_ready_queue = true;
            self.ready.push_back(token);
        }
        if ready.writable && conn.wants_writable {
            self.flush(lp, token, out);
        }
    }

    /// Takes requests from clients with pending input, up to the read budget
    /// each, round robin; disconnects clients stuck past the stall timeout.
    pub fn process(&mut self, lp: &mut EventLoop, out: &mut Vec<ServerEvent<P::Request>>) {
        let round: Vec<Token> = self.ready.drain(..).collect();
        for token in round {
            if let Some(c) = self.conns.get_mut(&token) {
                c.in_ready_queue = false;
                self.read_conn(lp, token, out);
            }
        }
        if self.throttled > 0 {
            let now = Instant::now();
            let stuck: Vec<Token> = self
                .conns
                .iter()
                .filter(|(_, c)| {
                    c.throttled_since
                        .is_some_and(|t| now.duration_since(t) >= self.limits.stall_timeout)
                })
                .map(|(t, _)| *t)
                .collect();
            for token in stuck {
                self.stats.slow_disconnects += 1;
                let reason = format!(
                    "client not reading for {:?} with its send queue over the high watermark",
                    self.limits.stall_timeout
                );
                self.close(lp, token, reason, out);
            }
        }
    }

    /// Answers a call.
    pub fn reply(
        &mut self,
        lp: &mut EventLoop,
        client: ClientId,
        call: u64,
        body: &P::Response,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) -> Result<(), SendError> {
        let frame: ServerFrameRef<'_, P::Response, P::Event> =
            ServerFrameRef::Reply { id: call, body };
        self.enqueue(lp, client, &frame, out)
    }

    /// Pushes an event to one client.
    pub fn push_event(
        &mut self,
        lp: &mut EventLoop,
        client: ClientId,
        event: &P::Event,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) -> Result<(), SendError> {
        let frame: ServerFrameRef<'_, P::Response, P::Event> = ServerFrameRef::Event(event);
        self.enqueue(lp, client, &frame, out)
    }

    /// Closes a client's connection (after trying to write what is queued).
    pub fn disconnect(
        &mut self,
        lp: &mut EventLoop,
        client: ClientId,
        reason: &str,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) {
        if let Some(token) = self.by_id.get(&client).copied() {
            if let Some(c) = self.conns.get_mut(&token) {
                let _ = c.out.write_to(&mut c.stream);
            }
            self.close(lp, token, reason.to_owned(), out);
        }
    }

    fn accept_all(&mut self, lp: &mut EventLoop, out: &mut Vec<ServerEvent<P::Request>>) {
        loop {
            let mut stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log and try again on the next event.
                    log::error!("accept on {} failed: {e}", self.path.display());
                    return;
                }
            };
            // SAFETY: the descriptor is owned by `stream`, alive for this call.
            let fd = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
            let peer = match PeerCred::of(&fd) {
                Ok(p) => p,
                Err(e) => {
                    log::warn!("cannot read peer credentials: {e}");
                    continue;
                }
            };
            let access = self.policy.access(&peer);
            let refusal = if access == Access::Denied {
                Some((
                    ErrorKind::AccessDenied,
                    format!(
                        "uid {} gid {} may not connect to {}",
                        peer.uid,
                        peer.gid,
                        self.path.display()
                    ),
                ))
            } else if self.conns.len() >= self.limits.max_clients {
                Some((
                    ErrorKind::TooManyClients,
                    format!("{} clients connected already", self.conns.len()),
                ))
            } else {
                None
            };
            if let Some((kind, message)) = refusal {
                self.stats.refused += 1;
                log::warn!(
                    "refused client pid {} uid {} on {}: {message}",
                    peer.pid,
                    peer.uid,
                    self.path.display()
                );
                let mut o = Outbound::default();
                let frame: ServerFrameRef<'_, P::Response, P::Event> = ServerFrameRef::Error {
                    id: None,
                    kind,
                    message: &message,
                };
                if o.push(&frame, self.limits.max_frame).is_ok() {
                    let _ = o.write_to(&mut stream);
                }
                continue;
            }
            let token = lp.alloc_token();
            if let Err(e) = lp
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                log::error!("cannot register client: {e}");
                lp.free_token(token);
                continue;
            }
            self.next_id += 1;
            let id = ClientId(self.next_id);
            self.conns.insert(
                token,
                Conn {
                    id,
                    stream,
                    access,
                    inb: Inbound::new(self.limits.max_frame),
                    out: Outbound::default(),
                    wants_writable: false,
                    throttled_since: None,
                    in_ready_queue: true,
                },
            );
            self.by_id.insert(id, token);
            // Data may have arrived before registration.
            self.ready.push_back(token);
            out.push(ServerEvent::Connected {
                client: id,
                peer,
                access,
            });
        }
    }

    fn read_conn(
        &mut self,
        lp: &mut EventLoop,
        token: Token,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) {
        let budget = self.limits.read_budget.max(1);
        let mut taken = 0;
        loop {
            let Some(c) = self.conns.get_mut(&token) else {
                return;
            };
            // Requests already buffered.
            while taken < budget {
                match c.inb.next_frame() {
                    Ok(Some(range)) => {
                        taken += 1;
                        let decoded = decode::<ClientFrame<P::Request>>(c.inb.payload(range));
                        match decoded {
                            Ok(frame) => {
                                if let Some(refusal) =
                                    Self::admit(c, frame, out, self.limits.max_frame)
                                {
                                    self.stats.read_only_refusals += 1;
                                    log::warn!("client {}: {refusal}", c.id.0);
                                }
                            }
                            Err(e) => {
                                self.stats.bad_frames += 1;
                                self.refuse_and_close(
                                    lp,
                                    token,
                                    ErrorKind::BadFrame,
                                    e.to_string(),
                                    out,
                                );
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.stats.bad_frames += 1;
                        self.refuse_and_close(lp, token, ErrorKind::TooLarge, e.to_string(), out);
                        return;
                    }
                }
            }
            if taken >= budget {
                // Its turn is over; come back after the others.
                c.in_ready_queue = true;
                self.ready.push_back(token);
                return;
            }
            if c.throttled_since.is_some() {
                return;
            }
            match c.inb.read_from(&mut c.stream) {
                Ok(ReadOutcome::Data(_)) => {}
                Ok(ReadOutcome::WouldBlock) => return,
                Ok(ReadOutcome::Eof) => {
                    // Serve what it sent before closing (a one-way sender
                    // like ha_logger closes right after writing).
                    while let Ok(Some(range)) = c.inb.next_frame() {
                        if let Ok(frame) = decode::<ClientFrame<P::Request>>(c.inb.payload(range)) {
                            let _ = Self::admit(c, frame, out, self.limits.max_frame);
                        }
                    }
                    let reason = match c.inb.partial() {
                        None => "closed by client".to_owned(),
                        Some((have, Some(want))) => {
                            format!("closed by client mid-frame ({have} of {want} bytes)")
                        }
                        Some((have, None)) => {
                            format!("closed by client mid-frame ({have} header bytes)")
                        }
                    };
                    self.close(lp, token, reason, out);
                    return;
                }
                Err(e) => {
                    self.close(lp, token, format!("read error: {e}"), out);
                    return;
                }
            }
        }
    }

    /// Passes a decoded frame on, or answers it with a refusal (returned for
    /// logging) when a read-only client tries to write.
    fn admit(
        c: &mut Conn,
        frame: ClientFrame<P::Request>,
        out: &mut Vec<ServerEvent<P::Request>>,
        max_frame: usize,
    ) -> Option<String> {
        let (call, body) = match frame {
            ClientFrame::Call { id, body } => (Some(id), body),
            ClientFrame::Send { body } => (None, body),
        };
        if c.access == Access::ReadOnly && P::is_write(&body) {
            let message = "this client may not modify the service".to_owned();
            if let Some(id) = call {
                let frame: ServerFrameRef<'_, P::Response, P::Event> = ServerFrameRef::Error {
                    id: Some(id),
                    kind: ErrorKind::ReadOnly,
                    message: &message,
                };
                if c.out.push(&frame, max_frame).is_ok() {
                    let _ = c.out.write_to(&mut c.stream);
                }
            }
            return Some(message);
        }
        out.push(ServerEvent::Request {
            client: c.id,
            call,
            body,
        });
        None
    }

    fn enqueue(
        &mut self,
        lp: &mut EventLoop,
        client: ClientId,
        frame: &impl serde::Serialize,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) -> Result<(), SendError> {
        let token = *self.by_id.get(&client).ok_or(SendError::NoSuchClient)?;
        let c = self.conns.get_mut(&token).ok_or(SendError::NoSuchClient)?;
        let before = c.out.len();
        let added = c
            .out
            .push(frame, self.limits.max_frame)
            .map_err(SendError::TooLarge)?;
        if before >= self.limits.high_watermark && before + added > self.limits.max_queue {
            self.stats.slow_disconnects += 1;
            let reason = format!(
                "client not reading: {} bytes queued, limit {}",
                before + added,
                self.limits.max_queue
            );
            self.close(lp, token, reason, out);
            return Err(SendError::Disconnected);
        }
        if !c.wants_writable {
            // Write through: most replies leave at once, with no extra wakeup.
            self.flush(lp, token, out);
        } else if c.throttled_since.is_none() && c.out.len() > self.limits.high_watermark {
            c.throttled_since = Some(Instant::now());
            self.throttled += 1;
            log::debug!("client {} throttled: {} bytes queued", c.id.0, c.out.len());
        }
        Ok(())
    }

    fn flush(&mut self, lp: &mut EventLoop, token: Token, out: &mut Vec<ServerEvent<P::Request>>) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        match c.out.write_to(&mut c.stream) {
            Ok(drained) => {
                if drained == c.wants_writable {
                    c.wants_writable = !drained;
                    let interest = if drained {
                        Interest::READABLE
                    } else {
                        Interest::READABLE | Interest::WRITABLE
                    };
                    if let Err(e) = lp.registry().reregister(&mut c.stream, token, interest) {
                        self.close(lp, token, format!("reregister failed: {e}"), out);
                        return;
                    }
                }
                let queued = c.out.len();
                if c.throttled_since.is_none() && queued > self.limits.high_watermark {
                    c.throttled_since = Some(Instant::now());
                    self.throttled += 1;
                } else if c.throttled_since.is_some() && queued <= self.limits.low_watermark {
                    c.throttled_since = None;
                    self.throttled -= 1;
                    if !c.in_ready_queue {
                        c.in_ready_queue = true;
                        self.ready.push_back(token);
                    }
                }
            }
            Err(e) => {
                let reason = if e.kind() == io::ErrorKind::BrokenPipe {
                    "closed by client".to_owned()
                } else {
                    format!("write error: {e}")
                };
                self.close(lp, token, reason, out);
            }
        }
    }

    fn refuse_and_close(
        &mut self,
        lp: &mut EventLoop,
        token: Token,
        kind: ErrorKind,
        message: String,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) {
        if let Some(c) = self.conns.get_mut(&token) {
            let frame: ServerFrameRef<'_, P::Response, P::Event> = ServerFrameRef::Error {
                id: None,
                kind,
                message: &message,
            };
            if c.out.push(&frame, self.limits.max_frame).is_ok() {
                let _ = c.out.write_to(&mut c.stream);
            }
        }
        self.close(lp, token, message, out);
    }

    fn close(
        &mut self,
        lp: &mut EventLoop,
        token: Token,
        reason: String,
        out: &mut Vec<ServerEvent<P::Request>>,
    ) {
        let Some(mut c) = self.conns.remove(&token) else {
            return;
        };
        if c.throttled_since.is_some() {
            self.throttled -= 1;
        }
        self.by_id.remove(&c.id);
        let _ = lp.registry().deregister(&mut c.stream);
        lp.free_token(token);
        if reason != "closed by client" {
            log::info!(
                "client {} disconnected from {}: {reason}",
                c.id.0,
                self.path.display()
            );
        }
        out.push(ServerEvent::Disconnected {
            client: c.id,
            reason,
        });
    }
}

impl<P: Protocol> Drop for Server<P> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

//! The `serial DEVICE` medium (with `baud`): Heartbeat's serial link between
//! two nodes, on the master's event loop.
//!
//! The framing is Heartbeat's (serial.c): each message goes on the line in
//! the classic text format (`>>>` line, one `name=value` line per field,
//! `<<<` line; `msg::render_classic`), and the reader skips lines until one
//! starts with `>>>`, then collects lines until one starts with `<<<`; the
//! message is authenticated by its inner `auth` field
//! (`msg::verify_and_decode_classic`). The tty is set up as serial.c does:
//! raw, 8 bits, receiver on, modem lines ignored, RTS/CTS flow control, the
//! configured baud; except that input keeps every byte (Heartbeat strips the
//! 8th bit and drops carriage returns, which breaks the digest of a message
//! holding such bytes).
//!
//! Nothing here blocks: the descriptor is non-blocking; what cannot be
//! written waits in a queue bounded to about one second of the line's rate,
//! and when the line does not drain (no cable, nobody reading, flow control
//! holding it) the oldest whole messages not yet started are dropped, with
//! Heartbeat's "TTY write timeout" warning at most once an hour. A read
//! error or end of file (the device went away) closes the port, and it is
//! opened again every second until it works.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::termios::{
    self, BaudRate, ControlFlags, InputFlags, SetArg, SpecialCharacterIndices,
};

/// Longest message accepted from the line (Heartbeat's `MAXMSG`).
pub const MAX_FRAME: usize = 256 * 1024;

/// Heartbeat's `RTS_WARNTIME`: the write timeout warning is repeated at
/// most this often.
const WARN_INTERVAL: Duration = Duration::from_secs(3600);

/// How often a port that failed is opened again.
const REOPEN_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes read per readiness event before other sources get a turn.
const READ_BUDGET: usize = 64 * 1024;

/// Reassembles messages from the bytes of a serial line, as serial.c's
/// reader does: lines before a `>>>` line are skipped; a message is the
/// lines from `>>>` to the first line starting with `<<<`, newlines
/// included. A `>>>` inside a message starts it again (the sender restarted
/// mid-message); a message longer than [`MAX_FRAME`] is dropped whole.
#[derive(Debug, Default)]
pub struct Framer {
    line: Vec<u8>,
    frame: Vec<u8>,
    in_frame: bool,
    /// Bytes skipped outside messages or dropped with oversized ones.
    pub skipped: u64,
    /// Messages dropped because they were too long.
    pub oversized: u64,
}

impl Framer {
    /// Feeds bytes from the line; complete messages are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() < MAX_FRAME {
                    self.line.push(b);
                } else {
                    self.skipped += 1;
                }
                continue;
            }
            let line = std::mem::take(&mut self.line);
            self.end_of_line(&line, out);
            self.line = line;
            self.line.clear();
        }
    }

    fn end_of_line(&mut self, line: &[u8], out: &mut Vec<Vec<u8>>) {
        if line.starts_with(b">>>") {
            if self.in_frame {
                self.skipped += self.frame.len() as u64;
            }
            self.frame.clear();
            self.frame.extend_from_slice(line);
            self.frame.push(b'\n');
            self.in_frame = true;
            return;
        }
        if !self.in_frame {
            self.skipped += line.len() as u64 + 1;
            return;
        }
        if self.frame.len() + line.len() + 1 > MAX_FRAME {
            self.skipped += (self.frame.len() + line.len() + 1) as u64;
            self.oversized += 1;
            self.frame.clear();
            self.in_frame = false;
            return;
        }
        self.frame.extend_from_slice(line);
        self.frame.push(b'\n');
        if line.starts_with(b"<<<") {
            out.push(std::mem::take(&mut self.frame));
            self.in_frame = false;
        }
    }
}

/// What waits to be written: whole messages, the first possibly started.
#[derive(Debug)]
pub struct OutQueue {
    frames: VecDeque<Vec<u8>>,
    /// Bytes of the first frame already written.
    written: usize,
    bytes: usize,
    limit: usize,
    /// Messages dropped because the line did not drain.
    pub dropped: u64,
}

impl OutQueue {
    /// A queue of at most `limit` bytes (the newest message is always
    /// kept, whatever its size).
    pub fn new(limit: usize) -> OutQueue {
        OutQueue {
            frames: VecDeque::new(),
            written: 0,
            bytes: 0,
            limit,
            dropped: 0,
        }
    }

    /// Queues a message, dropping the oldest ones not yet started while the
    /// queue would pass its limit. Returns how many were dropped.
    pub fn push(&mut self, frame: Vec<u8>) -> u64 {
        self.bytes += frame.len();
        self.frames.push_back(frame);
        let mut dropped = 0;
        // Index of the oldest droppable frame: a started one stays whole.
        let first = usize::from(self.written > 0);
        while self.bytes > self.limit && self.frames.len() > first + 1 {
            if let Some(f) = self.frames.remove(first) {
                self.bytes -= f.len();
                dropped += 1;
            }
        }
        self.dropped += dropped;
        dropped
    }

    /// The bytes to write next.
    pub fn head(&self) -> Option<&[u8]> {
        self.frames.front().map(|f| &f[self.written..])
    }

    /// `n` bytes of [`OutQueue::head`] were written.
    pub fn consume(&mut self, n: usize) {
        let Some(f) = self.frames.front() else {
            return;
        };
        self.written += n;
        if self.written >= f.len() {
            self.bytes -= f.len();
            self.frames.pop_front();
            self.written = 0;
        }
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets everything (the port closed).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.written = 0;
        self.bytes = 0;
    }
}

/// The termios speed of a `baud` value of ha.cf (the config crate accepts
/// these); 0, not set, is Heartbeat's default 19200.
pub fn baud_rate(baud: u32) -> Option<BaudRate> {
    Some(match baud {
        0 | 19200 => BaudRate::B19200,
        9600 => BaudRate::B9600,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115_200 => BaudRate::B115200,
        230_400 => BaudRate::B230400,
        460_800 => BaudRate::B460800,
        _ => return None,
    })
}

/// About one second of the line's rate (10 bits per byte), at least 4 KiB:
/// more would deliver heartbeats so late they mislead the peer.
fn queue_limit(baud: u32) -> usize {
    (baud as usize / 10).max(4096)
}

/// Opens and sets up the tty: char device check, non-blocking open without
/// becoming our controlling terminal, an exclusive lock (two heartbeats must
/// not share a line: serial.c takes a UUCP lock), raw 8-bit mode with
/// RTS/CTS at `baud`, queues flushed.
fn open_tty(device: &Path, baud: u32) -> io::Result<OwnedFd> {
    let meta = std::fs::metadata(device)?;
    if !meta.file_type().is_char_device() {
        return Err(io::Error::other(format!(
            "Serial port [{}] not a char device",
            device.display()
        )));
    }
    let rate =
        baud_rate(baud).ok_or_else(|| io::Error::other(format!("unsupported baud rate {baud}")))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(device)?;
    let fd = OwnedFd::from(file);
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::other(format!(
            "cannot lock line {}: {}",
            device.display(),
            io::Error::last_os_error()
        )));
    }
    let mut t = termios::tcgetattr(fd.as_fd()).map_err(io::Error::from)?;
    termios::cfmakeraw(&mut t);
    t.input_flags
        .remove(InputFlags::IXON | InputFlags::IXOFF | InputFlags::IXANY);
    t.input_flags.insert(InputFlags::IGNBRK);
    t.control_flags
        .remove(ControlFlags::PARENB | ControlFlags::CSIZE);
    t.control_flags.insert(
        ControlFlags::CS8 | ControlFlags::CREAD | ControlFlags::CLOCAL | ControlFlags::CRTSCTS,
    );
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::cfsetspeed(&mut t, rate).map_err(io::Error::from)?;
    termios::tcsetattr(fd.as_fd(), SetArg::TCSANOW, &t).map_err(io::Error::from)?;
    let _ = termios::tcflush(fd.as_fd(), termios::FlushArg::TCIOFLUSH);
    Ok(fd)
}

/// One serial port.
#[derive(Debug)]
pub struct SerialPort {
    device: PathBuf,
    baud: u32,
    fd: Option<OwnedFd>,
    token: Token,
    registry: Registry,
    writable: bool,
    framer: Framer,
    out: OutQueue,
    reopen_at: Option<Instant>,
    last_warn: Option<Instant>,
    buf: Vec<u8>,
}

impl SerialPort {
    /// Opens `device` at `baud` and registers it under `token`.
    pub fn open(
        device: &Path,
        baud: u32,
        token: Token,
        registry: &Registry,
    ) -> io::Result<SerialPort> {
        let fd = open_tty(device, baud)?;
        let registry = registry.try_clone()?;
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        log::info!(
            "Starting serial heartbeat on tty {} ({} baud)",
            device.display(),
            if baud == 0 { 19200 } else { baud }
        );
        Ok(SerialPort {
            device: device.to_path_buf(),
            baud,
            fd: Some(fd),
            token,
            registry,
            writable: false,
            framer: Framer::default(),
            out: OutQueue::new(queue_limit(baud)),
            reopen_at: None,
            last_warn: None,
            buf: vec![0; 4096],
        })
    }

    /// The loop token of the port.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Queues a message (classic text) and writes what the line takes now.
    /// Returns how many queued messages were dropped for it (or 1 if the
    /// port is closed and it was not queued).
    pub fn send(&mut self, now: Instant, frame: Vec<u8>) -> u64 {
        if self.fd.is_none() {
            return 1;
        }
        let dropped = self.out.push(frame);
        if dropped > 0 {
            self.warn_stalled(now);
        }
        self.flush(now);
        dropped
    }

    fn warn_stalled(&mut self, now: Instant) {
        if self
            .last_warn
            .is_none_or(|t| now.saturating_duration_since(t) >= WARN_INTERVAL)
        {
            self.last_warn = Some(now);
            log::warn!(
                "TTY write timeout on [{}] (no connection or bad cable? [see documentation])",
                self.device.display()
            );
            log::info!("See http://linux-ha.org/wiki/FAQ#TTY_timeout for details");
        }
    }

    /// Writes until the queue is empty or the line is full; asks for
    /// writability only while something waits.
    fn flush(&mut self, now: Instant) {
        while let (Some(fd), Some(head)) = (self.fd.as_ref(), self.out.head()) {
            match nix::unistd::write(fd, head) {
                Ok(0) => break,
                Ok(n) => self.out.consume(n),
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    log::error!("TTY write failure on [{}]: {e}", self.device.display());
                    self.fail(now);
                    return;
                }
            }
        }
        let want = !self.out.is_empty();
        if want != self.writable {
            if let Some(fd) = self.fd.as_ref() {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if self
                    .registry
                    .reregister(&mut SourceFd(&fd.as_raw_fd()), self.token, interest)
                    .is_ok()
                {
                    self.writable = want;
                }
            }
        }
    }

    /// The port is ready: writes what waits, reads what came (up to a
    /// budget), and appends complete messages to `out`. Returns true when
    /// the budget ran out (call again).
    pub fn handle_io(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> bool {
        self.flush(now);
        let mut taken = 0;
        while taken < READ_BUDGET {
            let Some(fd) = self.fd.as_ref() else {
                return false;
            };
            match nix::unistd::read(fd.as_raw_fd(), &mut self.buf) {
                Ok(0) => {
                    log::error!("EOF in ttygets [{}]", self.device.display());
                    self.fail(now);
                    return false;
                }
                Ok(n) => {
                    taken += n;
                    self.framer.push(&self.buf[..n], out);
                }
                Err(nix::errno::Errno::EAGAIN) => return false,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    log::error!("EOF in ttygets [{}]: {e}", self.device.display());
                    self.fail(now);
                    return false;
                }
            }
        }
        true
    }

    /// Closes the port after an error; it is opened again later.
    fn fail(&mut self, now: Instant) {
        if let Some(fd) = self.fd.take() {
            let _ = self.registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
        self.writable = false;
        self.out.clear();
        self.framer = Framer::default();
        self.reopen_at = Some(now + REOPEN_INTERVAL);
    }

    /// When the port should be opened again, if it is closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.reopen_at
    }

    /// Opens a closed port again when it is time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.reopen_at.is_none_or(|t| now < t) {
            return;
        }
        match open_tty(&self.device, self.baud).and_then(|fd| {
            self.registry
                .register(
                    &mut SourceFd(&fd.as_raw_fd()),
                    self.token,
                    Interest::READABLE,
                )
                .map(|()| fd)
        }) {
            Ok(fd) => {
                log::info!("serial port {} opened again", self.device.display());
                self.fd = Some(fd);
                self.reopen_at = None;
            }
            Err(e) => {
                log::debug!("serial port {}: {e}", self.device.display());
                self.reopen_at = Some(now + REOPEN_INTERVAL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> (Vec<String>, Framer) {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        let out = out
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
        (out, f)
    }

    #[test]
    fn messages_are_cut_from_the_byte_stream_as_serial_c_reads_them() {
        let table: &[(&[&[u8]], &[&str])] = &[
            (&[b">>>\nt=x\n<<<\n"], &[">>>\nt=x\n<<<\n"]),
            // Split anywhere, even inside the markers.
            (
                &[b">>", b">\nt=", b"x\n<", b"<<\n>>>\nt=y\n<<<", b"\n"],
                &[">>>\nt=x\n<<<\n", ">>>\nt=y\n<<<\n"],
            ),
            // Line noise and half messages before a start are skipped.
            (
                &[b"garbage\nmore<<<\n>>>\nt=x\n<<<\n"],
                &[">>>\nt=x\n<<<\n"],
            ),
            // A new start inside a message starts it again.
            (&[b">>>\nt=cut\n>>>\nt=x\n<<<\n"], &[">>>\nt=x\n<<<\n"]),
            // Not complete yet: nothing.
            (&[b">>>\nt=x\n<<"], &[]),
            // Carriage returns are data, not dropped (serial.c sets IGNCR).
            (&[b">>>\nt=a\rb\n<<<\n"], &[">>>\nt=a\rb\n<<<\n"]),
        ];
        for (chunks, want) in table {
            assert_eq!(frames(chunks).0, *want, "{chunks:?}");
        }
    }

    #[test]
    fn an_oversized_message_is_dropped_and_the_next_one_read() {
        let big = vec![b'v'; MAX_FRAME];
        let mut f = Framer::default();
        let mut out = Vec::new();
        f.push(b">>>\nt=", &mut out);
        f.push(&big, &mut out);
        f.push(b"\n<<<\n>>>\nt=x\n<<<\n", &mut out);
        assert_eq!(out, vec![b">>>\nt=x\n<<<\n".to_vec()]);
        assert_eq!(f.oversized, 1);
        assert!(f.skipped > MAX_FRAME as u64 - 10);
        // Memory stays bounded: a line without end is not kept whole.
        let mut f = Framer::default();
        f.push(b">>>\n", &mut out);
        for _ in 0..4 {
            f.push(&big, &mut out);
        }
        assert!(f.line.len() <= MAX_FRAME);
    }

    #[test]
    fn the_queue_keeps_the_started_message_and_drops_the_oldest_others() {
        let mut q = OutQueue::new(10);
        assert_eq!(q.push(b"aaaa".to_vec()), 0);
        q.consume(2);
        assert_eq!(q.push(b"bbbb".to_vec()), 0);
        assert_eq!(q.push(b"cccc".to_vec()), 1, "over 10 bytes: b goes");
        assert_eq!(q.head(), Some(&b"aa"[..]), "the started one stays whole");
        q.consume(2);
        assert_eq!(q.head(), Some(&b"cccc"[..]));
        q.consume(4);
        assert!(q.is_empty());
        // A single message over the limit is still sent.
        assert_eq!(q.push(vec![b'x'; 50]), 0);
        assert_eq!(q.head().map(<[u8]>::len), Some(50));
        assert_eq!(q.dropped, 1);
    }

    #[test]
    fn every_baud_of_ha_cf_has_a_speed() {
        for b in [0, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800] {
            assert!(baud_rate(b).is_some(), "{b}");
        }
        assert!(baud_rate(1234).is_none());
        assert_eq!(queue_limit(19200), 4096);
        assert_eq!(queue_limit(460_800), 46_080);
    }

    #[test]
    fn a_pty_pair_carries_messages_without_blocking() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut port = SerialPort::open(&slave, 19200, Token(7), poll.registry()).unwrap();
        let now = Instant::now();
        port.send(now, b">>>\nt=x\n<<<\n".to_vec());
        let mut buf = [0u8; 64];
        let n = nix::unistd::read(pty.master.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b">>>\nt=x\n<<<\n");
        nix::unistd::write(&pty.master, b"noise\n>>>\nt=y\n<<<\n").unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.is_empty() && Instant::now() < deadline {
            port.handle_io(Instant::now(), &mut got);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got, vec![b">>>\nt=y\n<<<\n".to_vec()]);
        // Nobody reads the other end: sending never blocks, and the queue
        // stays bounded.
        let start = Instant::now();
        for _ in 0..2000 {
            port.send(Instant::now(), vec![b'z'; 100]);
        }
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(port.out.dropped > 0);
        assert!(port.out.bytes <= queue_limit(19200) + 100);
        drop(pty);
    }
}

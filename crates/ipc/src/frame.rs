//! Framing shared by servers and clients: a 4-byte little-endian length, then
//! a postcard-encoded message. `Inbound` checks a frame's declared length
//! against the limit before it allocates for it; `Outbound` is the bounded
//! byte queue that flow control measures.

use std::io::{self, Read, Write};
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// The default largest frame: big enough for a very large CIB.
pub const DEFAULT_MAX_FRAME: usize = 256 << 20;

/// How much a connection reads per `read` call at most.
const READ_CHUNK: usize = 64 << 10;

/// Why a frame could not be taken from or put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The declared or encoded length exceeds the limit.
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not a valid message of the expected type.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max} bytes")
            }
            FrameError::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Decodes one frame payload.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(payload).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Bytes waiting to be written, with the position already written.
#[derive(Debug, Default)]
pub struct Outbound {
    buf: Vec<u8>,
    pos: usize,
}

impl Outbound {
    /// Bytes queued and not yet written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one frame; on error the queue is unchanged.
    pub fn push<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        max_frame: usize,
    ) -> Result<usize, FrameError> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; HEADER_LEN]);
        let buf = std::mem::take(&mut self.buf);
        match postcard::to_extend(msg, buf) {
            Ok(buf) => self.buf = buf,
            Err(e) => {
                // to_extend consumed the buffer; postcard only fails on
                // serialisation errors of the value, which our types do not
                // produce, so losing queued bytes here is a bug worth a panic
                // in debug builds and a reset connection in release.
                debug_assert!(false, "postcard encode failed: {e}");
                return Err(FrameError::Malformed(e.to_string()));
            }
        }
        let len = self.buf.len() - start - HEADER_LEN;
        if len > max_frame || u32::try_from(len).is_err() {
            self.buf.truncate(start);
            return Err(FrameError::TooLarge {
                len,
                max: max_frame,
            });
        }
        self.buf[start..start + HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(len + HEADER_LEN)
    }

    /// Writes as much as the writer takes. Returns `Ok(true)` once the queue
    /// is empty, `Ok(false)` on `WouldBlock` with bytes left. EINTR is retried.
    pub fn write_to(&mut self, w: &mut impl Write) -> io::Result<bool> {
        while self.pos < self.buf.len() {
            match w.write(&self.buf[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.compact();
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.pos = 0;
        if self.buf.capacity() > 4 * READ_CHUNK {
            // Give back the memory a burst needed.
            self.buf.shrink_to(READ_CHUNK);
        }
        Ok(true)
    }

    fn compact(&mut self) {
        if self.pos > READ_CHUNK && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

/// What a read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes arrived.
    Data(usize),
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed the connection.
    Eof,
}

/// Received bytes, split into frames.
#[derive(Debug)]
pub struct Inbound {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_frame: usize,
}

impl Inbound {
    /// An empty buffer accepting frames up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Inbound {
            buf: Vec::new(),
            start: 0,
            end: 0,
            max_frame,
        }
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The declared length of the frame being received, once its header is in.
    fn declared(&self) -> Option<usize> {
        if self.buffered() < HEADER_LEN {
            return None;
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.buf[self.start..self.start + HEADER_LEN]);
        Some(u32::from_le_bytes(h) as usize)
    }

    /// Takes the next complete frame, as a range to pass to [`Inbound::payload`].
    /// A declared length over the limit is an error before anything is
    /// allocated for it.
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, FrameError> {
        let Some(len) = self.declared() else {
            return Ok(None);
        };
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        if self.buffered() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = self.start + HEADER_LEN..self.start + HEADER_LEN + len;
        self.start = body.end;
        Ok(Some(body))
    }

    /// The payload of a frame returned by the last `next_frame` calls; valid
    /// until the next `read_from`.
    pub fn payload(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// For a connection that closed: the partial frame left, as (have, want).
    pub fn partial(&self) -> Option<(usize, Option<usize>)> {
        (self.buffered() > 0).then(|| (self.buffered(), self.declared().map(|l| l + HEADER_LEN)))
    }

    /// One `read` into the buffer, sized to the frame in progress (never more
    /// than the limit allows). EINTR is retried.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<ReadOutcome> {
        // Move the unconsumed tail to the front before growing.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Room for one more chunk, or, while a large frame comes in, up to
        // twice what is already buffered: memory follows the bytes actually
        // received, not what a peer merely declared.
        let needed = self
            .declared()
            .filter(|len| *len <= self.max_frame)
            .map_or(0, |len| HEADER_LEN + len);
        let target = (self.end + READ_CHUNK).max(needed.min(self.end * 2 + READ_CHUNK));
        if self.buf.len() < target {
            self.buf.resize(target, 0);
        }
        let limit = self.buf.len();
        loop {
            match r.read(&mut self.buf[self.end..limit]) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => {
                    self.end += n;
                    return Ok(ReadOutcome::Data(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.shrink_when_idle();
                    return Ok(ReadOutcome::WouldBlock);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn shrink_when_idle(&mut self) {
        if self.buffered() == 0 && self.buf.len() > 4 * READ_CHUNK {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
        }
    }
}

/// A byte string that serialises as one postcard byte string (a memcpy), not
/// as a sequence of integers; use it for bulk payloads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its data in fixed-size pieces.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn frames_of(wire: &[u8], step: usize, max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut inb = Inbound::new(max);
        let mut r = Trickle { data: wire, step };
        let mut got = Vec::new();
        loop {
            while let Some(range) = inb.next_frame()? {
                got.push(decode::<Bytes>(inb.payload(range))?.0);
            }
            match inb.read_from(&mut r).unwrap() {
                ReadOutcome::Data(_) => {}
                _ => return Ok(got),
            }
        }
    }

    #[test]
    fn frames_survive_any_split_of_the_byte_stream() {
        let msgs: Vec<Vec<u8>> = vec![vec![], vec![7; 3], vec![1; 70_000], vec![9; 64]];
        let mut out = Outbound::default();
        for m in &msgs {
            out.push(&Bytes(m.clone()), DEFAULT_MAX_FRAME).unwrap();
        }
        let mut wire = Vec::new();
        assert!(out.write_to(&mut wire).unwrap());
        for step in [1, 3, 4, 5, 1000, 1 << 20] {
            assert_eq!(
                frames_of(&wire, step, DEFAULT_MAX_FRAME).unwrap(),
                msgs,
                "step {step}"
            );
        }
    }

    #[test]
    fn oversized_declared_length_is_refused_before_allocation() {
        let mut wire = (u32::MAX).to_le_bytes().to_vec();
        wire.extend_from_slice(&[0; 16]);
        let mut inb = Inbound::new(1024);
        let mut r = Trickle {
            data: &wire,
            step: 64,
        };
        inb.read_from(&mut r).unwrap();
        assert_eq!(
            inb.next_frame(),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: 1024
            })
        );
        assert!(inb.buf.len() <= HEADER_LEN + 16 + READ_CHUNK);
    }

    #[test]
    fn oversized_outbound_message_is_refused_and_queue_unchanged() {
        let mut out = Outbound::default();
        out.push(&Bytes(vec![1; 10]), 100).unwrap();
        let before = out.len();
        assert!(matches!(
            out.push(&Bytes(vec![1; 200]), 100),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(out.len(), before);
    }

    #[test]
    fn garbage_payload_is_malformed_not_a_panic() {
        let mut wire = 3u32.to_le_bytes().to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff]);
        let err = frames_of(&wire, 7, 1024).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn partial_frame_is_reported_for_a_closed_peer() {
        let mut wire = 100u32.to_le_bytes().to_vec();
        wire.extend_from_slice(&[0; 10]);
        let mut inb = Inbound::new(1024);
        inb.read_from(&mut Trickle {
            data: &wire,
            step: 100,
        })
        .unwrap();
        assert_eq!(inb.next_frame(), Ok(None));
        assert_eq!(inb.partial(), Some((14, Some(104))));
    }

    /// A writer that takes at most `cap` bytes, then would block.
    struct Sink {
        got: Vec<u8>,
        cap: usize,
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let room = self.cap - self.got.len();
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.min(b.len());
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn outbound_resumes_where_a_blocked_write_stopped() {
        let mut out = Outbound::default();
        for i in 0..100u8 {
            out.push(&Bytes(vec![i; 5000]), DEFAULT_MAX_FRAME).unwrap();
        }
        let total = out.len();
        let mut sink = Sink {
            got: vec![],
            cap: 123_457,
        };
        assert!(!out.write_to(&mut sink).unwrap());
        assert_eq!(out.len(), total - 123_457);
        sink.cap = usize::MAX;
        assert!(out.write_to(&mut sink).unwrap());
        assert_eq!(sink.got.len(), total);
        let frames = frames_of(&sink.got, 4096, DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(frames.len(), 100);
        assert_eq!(frames[99], vec![99; 5000]);
    }
}

//! The logd IPC protocol, shared by logd, the logd sink of every daemon and
//! `ha_logger`: one-way `Log` requests carrying a [`LogRecord`] with the
//! sender's entity and pid, and a `Stats` call that doubles as a
//! round trip proving everything sent before it was taken. Also the size
//! bounds both sides apply, so a record never gets a client disconnected
//! for its size alone.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::record::LogRecord;

/// The service name: logd listens on `$HA_RUNDIR/logd.sock`.
pub const SERVICE: &str = "logd";

/// Longest entity kept, in bytes (cl_log's `MAXENTITY` less its NUL).
pub const MAX_ENTITY_LEN: usize = 63;

/// Longest message text sent to logd, in bytes; longer text is cut (cl_log
/// cut at 5119 bytes, this is more generous).
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;

/// Largest frame logd accepts: a record at the bounds above with room to spare.
pub const MAX_FRAME: usize = 64 * 1024;

/// The logd service's message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogdProtocol;

/// What a client sends to logd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogdRequest {
    /// Write this record (sent one-way).
    Log(LogRecord),
    /// Report the counters (a call; changes nothing).
    Stats,
}

/// What logd answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogdResponse {
    /// The answer to [`LogdRequest::Stats`].
    Stats(LogdStats),
}

/// logd's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogdStats {
    /// Records received from clients (written, queued or dropped).
    pub received: u64,
    /// Records written to the outputs.
    pub written: u64,
    /// Records dropped because a queue limit was reached.
    pub dropped: u64,
    /// Records waiting to be written.
    pub queued: u64,
    /// Clients connected now.
    pub clients: u64,
}

impl ipc::Protocol for LogdProtocol {
    type Request = LogdRequest;
    type Response = LogdResponse;
    type Event = ();

    fn is_write(request: &LogdRequest) -> bool {
        matches!(request, LogdRequest::Log(_))
    }
}

/// logd's socket for the node described by the `HA_*` variables.
pub fn socket_path() -> PathBuf {
    plumbing::HaPaths::from_env().socket(SERVICE)
}

/// Cuts the entity and the message to [`MAX_ENTITY_LEN`] and
/// [`MAX_MESSAGE_LEN`] bytes (at character boundaries), so the record fits
/// in a frame logd accepts.
pub fn fit(record: &mut LogRecord) {
    truncate_at_char(&mut record.entity, MAX_ENTITY_LEN);
    truncate_at_char(&mut record.message, MAX_MESSAGE_LEN);
}

/// Truncates `s` to at most `max` bytes without splitting a character.
pub fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Priority;
    use ipc::Protocol;

    #[test]
    fn only_log_requests_write() {
        let rec = LogRecord::new("x", Priority::Info, "m", None);
        assert!(LogdProtocol::is_write(&LogdRequest::Log(rec)));
        assert!(!LogdProtocol::is_write(&LogdRequest::Stats));
    }

    #[test]
    fn fit_cuts_at_character_boundaries_and_fits_a_frame() {
        let mut rec = LogRecord::new(
            "é".repeat(40),
            Priority::Info,
            "ü".repeat(MAX_MESSAGE_LEN),
            None,
        );
        fit(&mut rec);
        assert_eq!(rec.entity.len(), 62, "31 two-byte characters");
        assert_eq!(rec.message.len(), MAX_MESSAGE_LEN);
        let frame = postcard::to_stdvec(&ipc::ClientFrame::Send {
            body: LogdRequest::Log(rec),
        })
        .expect("encode");
        assert!(frame.len() < MAX_FRAME);

        let mut short = LogRecord::new("heartbeat", Priority::Info, "ok", None);
        let before = short.clone();
        fit(&mut short);
        assert_eq!(short, before);
    }
}

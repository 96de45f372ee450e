//! The envelope every service shares: calls with ids, one-way sends, replies,
//! server-pushed events, and error frames; and the `Protocol` trait a service
//! implements to name its message types.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A service's message types. Implemented by a unit type per service.
pub trait Protocol: 'static {
    /// Messages a client sends.
    type Request: Serialize + DeserializeOwned;
    /// The answer to a call.
    type Response: Serialize + DeserializeOwned;
    /// Messages the server pushes unasked (subscriptions).
    type Event: Serialize + DeserializeOwned;

    /// Whether a request changes state. Clients allowed to read but not to
    /// write get `ErrorKind::ReadOnly` for these without the service seeing them.
    fn is_write(_request: &Self::Request) -> bool {
        true
    }
}

/// Client to server.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum ClientFrame<Req> {
    /// A request that expects a reply carrying the same id.
    Call {
        /// Chosen by the client, echoed in the reply.
        id: u64,
        /// The request.
        body: Req,
    },
    /// A one-way request; no reply.
    Send {
        /// The request.
        body: Req,
    },
}

/// Borrowing twin of [`ClientFrame`] with the same encoding, so sending
/// never clones the message.
#[derive(Serialize)]
pub(crate) enum ClientFrameRef<'a, Req> {
    Call { id: u64, body: &'a Req },
    Send { body: &'a Req },
}

/// Server to client.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum ServerFrame<Resp, Ev> {
    /// The answer to `ClientFrame::Call` with this id.
    Reply {
        /// The call's id.
        id: u64,
        /// The answer.
        body: Resp,
    },
    /// A pushed event.
    Event(Ev),
    /// The server refused a call (`id` set) or the connection (`id` none,
    /// and the connection is closed after it).
    Error {
        /// The refused call, if any.
        id: Option<u64>,
        /// What kind of refusal.
        kind: ErrorKind,
        /// Human-readable detail.
        message: String,
    },
}

/// Borrowing twin of [`ServerFrame`].
#[derive(Serialize)]
pub(crate) enum ServerFrameRef<'a, Resp, Ev> {
    Reply {
        id: u64,
        body: &'a Resp,
    },
    Event(&'a Ev),
    #[allow(dead_code)] // encoded through ServerFrame::Error; kept for layout
    Error {
        id: Option<u64>,
        kind: ErrorKind,
        message: &'a str,
    },
}

/// Why a server refused something.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ErrorKind {
    /// The peer's credentials are not on the service's access list.
    AccessDenied,
    /// The peer may read but this request writes.
    ReadOnly,
    /// The frame could not be decoded.
    BadFrame,
    /// The frame exceeded the size limit.
    TooLarge,
    /// The client did not read its replies and events.
    NotReading,
    /// The server has too many clients.
    TooManyClients,
    /// The service is shutting down.
    ShuttingDown,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::ReadOnly => "read-only client",
            ErrorKind::BadFrame => "malformed message",
            ErrorKind::TooLarge => "message too large",
            ErrorKind::NotReading => "client not reading",
            ErrorKind::TooManyClients => "too many clients",
            ErrorKind::ShuttingDown => "service shutting down",
        })
    }
}

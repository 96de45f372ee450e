//! Non-blocking Unix-socket IPC used by every daemon and command-line tool.
//!
//! A frame is a 4-byte little-endian length and a postcard-encoded message
//! (postcard, not bincode: bincode is unmaintained). Clients make calls with
//! ids and one-way sends; servers reply and push events. Every connection
//! has a bounded send queue with high/low watermarks: a client that does not
//! read is throttled, then disconnected, so a server's memory stays bounded
//! whatever its clients do. Peers are identified by SO_PEERCRED at accept and
//! checked against the service's `AccessPolicy`.
//!
//! A daemon's loop with a server looks like:
//! ```text
//! loop {
//!     lp.poll(&mut events, server.poll_timeout())?;
//!     for ev in events.drain(..) {
//!         if let Event::Io { token, ready } = ev {
//!             if server.owns(token) { server.handle_io(&mut lp, token, ready, &mut reqs) }
//!         }
//!     }
//!     server.process(&mut lp, &mut reqs);
//!     for r in reqs.drain(..) { /* answer with server.reply(...) */ }
//! }
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod frame;
pub mod proto;
pub mod server;

pub use auth::{Access, AccessPolicy, Allow, PeerCred};
pub use client::{connect_unix, BlockingClient, Client, ClientEvent, ClientLimits, IpcError};
pub use frame::{Bytes, FrameError, DEFAULT_MAX_FRAME};
pub use proto::{ClientFrame, ErrorKind, Protocol, ServerFrame};
pub use server::{ClientId, Limits, SendError, Server, ServerEvent, ServerStats};

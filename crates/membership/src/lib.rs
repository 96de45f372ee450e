//! Heartbeat's membership layer as a pure core: per-node and per-link
//! failure detection (keepalive, warntime, deadtime, initdead), per-sender
//! sequence tracking with generations, retransmission requests and ordered
//! reliable delivery of client messages, duplicate and replay rejection.
//!
//! Nothing here opens a socket, reads a clock or starts a thread: every entry
//! point takes `now: Instant` and its input, and outputs are drained by the
//! caller (quinn-proto's shape). The heartbeat daemon decodes packets with the
//! `msg` crate into [`Packet`]s and drives a [`Membership`]; the [`sim`]
//! module drives several of them over a simulated network and clock.
//!
//! Layout:
//! - [`detector`]: node and link status from heartbeats and timeouts;
//! - [`seq`]: receive-side sequence tracking and hold-back;
//! - [`history`]: the send-side history for retransmission;
//! - [`engine`]: the three wired together ([`Membership`]);
//! - [`ping`]: ping nodes (routers as pseudo-members) and `deadping`;
//! - [`sim`]: the simulated cluster used by the tests;
//! - [`ccm`]: consensus membership over heartbeat's node status, with
//!   [`quorum`], and [`ccm_sim`], its simulated cluster.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use membership::{Config, Membership, NodeName, Output, Transmit};
//!
//! let me = NodeName::new("hb1").unwrap();
//! let config = Config::new(me.clone(), 1, vec![me, NodeName::new("hb2").unwrap()], 1)
//!     .with_timing(
//!         Duration::from_millis(100),
//!         Duration::from_millis(300),
//!         Duration::from_millis(500),
//!         Duration::from_secs(2),
//!     );
//! let start = Instant::now();
//! let mut node: Membership<Vec<u8>> = Membership::new(config, start).unwrap();
//! let mut heartbeats = 0;
//! while let Some(out) = node.poll_output() {
//!     if let Output::Transmit(Transmit::Status { .. }) = out {
//!         heartbeats += 1;
//!     }
//! }
//! assert_eq!(heartbeats, 1);
//! assert_eq!(node.poll_timeout(), Some(start + Duration::from_millis(100)));
//! ```

#![deny(missing_docs)]

pub mod ccm;
pub mod ccm_sim;
pub mod config;
pub mod detector;
pub mod engine;
pub mod history;
pub mod ping;
pub mod quorum;
pub mod rng;
pub mod seq;
pub mod sim;
mod types;

pub use config::{Config, ConfigError};
pub use detector::{FailureDetector, Heartbeat};
pub use engine::{Delivery, Membership, Output, Packet, PacketKind, Stats, Transmit};
pub use rng::Rng;
pub use types::{
    Event, LinkStatus, LossReason, MediumId, NameError, NodeName, NodeStatus, Payload,
    MAX_NODE_NAME,
};

#[cfg(test)]
mod tests;

//! Plumbing shared by every daemon: the event loop (file descriptors,
//! monotonic timers, signals through signalfd, child exits, cross-thread
//! triggers), the `HA_*` path convention, and daemon helpers (locked pid file,
//! privilege drop, realtime priority, core dumps, daemonising).
#![deny(missing_docs)]

pub mod daemon;
pub mod event_loop;
pub mod fs;
pub mod paths;
pub mod process;
pub mod timers;

pub use event_loop::{ChildStatus, Event, EventLoop, Readiness, Trigger, TriggerId};
pub use paths::HaPaths;
pub use timers::{TimerId, TimerQueue};

/// Re-exported so users of the loop need not depend on mio directly.
pub use mio::{Interest, Token};
/// Re-exported for watching signals.
pub use nix::sys::signal::Signal;

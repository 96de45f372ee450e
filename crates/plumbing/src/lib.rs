//! The event loop (fds, monotonic timers, signals, child exits, triggers) and daemon helpers shared by every daemon.

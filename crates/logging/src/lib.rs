//! The log backend of every daemon: a bounded, never-blocking queue to syslog, files or logd.

//! Unit tests of the cores, one module per core, with the names and clock
//! helpers they share. Cluster-level behaviour is in `tests/sim.rs`.

mod config;
mod detector;
mod engine;
mod ping;
mod seq;

use std::time::{Duration, Instant};

use crate::{Config, NodeName};

pub(crate) fn name(s: &str) -> NodeName {
    NodeName::new(s).expect("valid test name")
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A fake clock: an epoch and offsets from it.
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock(Instant::now())
    }

    pub(crate) fn at(&self, millis: u64) -> Instant {
        self.0 + ms(millis)
    }
}

/// hb1 (local), hb2, hb3 on `media` media, keepalive 100 ms, warntime 300
/// ms, deadtime 500 ms, initdead 2 s.
pub(crate) fn config(media: u16) -> Config {
    Config::new(
        name("hb1"),
        100,
        vec![name("hb1"), name("hb2"), name("hb3")],
        media,
    )
    .with_timing(ms(100), ms(300), ms(500), ms(2000))
}

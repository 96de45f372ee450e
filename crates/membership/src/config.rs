//! The settings of the membership core: Heartbeat's timing directives, the
//! node list, memory bounds and the RNG seed, with one mapping from ha.cf.

use std::fmt;
use std::time::Duration;

use crate::types::{NameError, NodeName};

/// Heartbeat's `MAXMSGHIST`: messages the sender keeps for retransmission.
pub const DEFAULT_HISTORY_LEN: usize = 500;
/// Heartbeat's `FLOWCONTROL_LIMIT` (`MAXMSGHIST / 2`): the widest gap that is
/// still repaired by retransmission, and the hold-back capacity per sender.
pub const DEFAULT_WINDOW: u64 = 250;
/// Heartbeat's `max_rexmit_delay` default.
pub const DEFAULT_MAX_REXMIT_DELAY: Duration = Duration::from_millis(250);
/// Heartbeat's node table size (config crate `MAX_NODES`).
pub const DEFAULT_MAX_NODES: usize = 100;
/// Byte bound of the send history (500 messages of 64 KiB would be 32 MiB).
pub const DEFAULT_HISTORY_BYTES: usize = 16 << 20;
/// Byte bound of the hold-back buffer of one sender.
pub const DEFAULT_HOLDBACK_BYTES: usize = 4 << 20;
/// Most media a node may have (config crate `MAX_MEDIA`).
pub const MAX_MEDIA: u16 = 64;
/// Longest duration accepted anywhere (ha.cf's limit, `i32::MAX` ms), so
/// `Instant` arithmetic cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_millis(i32::MAX as u64);

/// Everything the core needs to know, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node.
    pub local: NodeName,
    /// This node's heartbeat generation (`hg`): persisted by the daemon and
    /// higher at every start.
    pub generation: u64,
    /// The `node` lines; the local node is added when missing.
    pub nodes: Vec<NodeName>,
    /// Number of media; packets name theirs by index (`MediumId`).
    pub media: u16,
    /// `keepalive`: interval between our status heartbeats.
    pub keepalive: Duration,
    /// `warntime`: a heartbeat later than this is reported late.
    pub warntime: Duration,
    /// `deadtime`: our deadtime, advertised in our heartbeats, and the
    /// deadtime of a peer that advertises none.
    pub deadtime: Duration,
    /// `initdead`: replaces every deadtime until we have heard from every
    /// node (or declared it dead).
    pub initdead: Duration,
    /// `max_rexmit_delay`: retransmission requests go out after a random
    /// 50..max ms and are repeated every max ms while the packet is missing.
    pub max_rexmit_delay: Duration,
    /// `autojoin other|any`: accept packets from unlisted nodes and add them.
    pub autojoin: bool,
    /// Bound of the node table (configured plus joined nodes).
    pub max_nodes: usize,
    /// Messages kept for retransmission.
    pub history_len: usize,
    /// Byte bound of the kept messages (the newest is always kept).
    pub history_bytes: usize,
    /// Widest repaired gap and hold-back capacity, in messages per sender.
    pub window: u64,
    /// Byte bound of the messages held back per sender.
    pub holdback_bytes: usize,
    /// Seed of the core's RNG (retransmission delays, ack phases).
    pub seed: u64,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `keepalive` is zero.
    ZeroKeepalive,
    /// `deadtime` is not longer than `keepalive`.
    DeadtimeNotAboveKeepalive,
    /// A duration is zero where it must not be (field name given).
    ZeroDuration(&'static str),
    /// A duration is above [`MAX_DURATION`] (field name given).
    DurationTooLong(&'static str),
    /// No media, or more than [`MAX_MEDIA`].
    BadMediaCount(usize),
    /// A bound is zero (field name given).
    ZeroBound(&'static str),
    /// More configured nodes than `max_nodes`.
    TooManyNodes(usize),
    /// `window` is larger than `history_len`.
    WindowAboveHistory,
    /// A node name from ha.cf is not usable.
    BadNodeName(String, NameError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroKeepalive => f.write_str("keepalive must be above zero"),
            ConfigError::DeadtimeNotAboveKeepalive => {
                f.write_str("deadtime must be longer than keepalive")
            }
            ConfigError::ZeroDuration(what) => write!(f, "{what} must be above zero"),
            ConfigError::DurationTooLong(what) => write!(f, "{what} is too long"),
            ConfigError::BadMediaCount(n) => {
                write!(f, "{n} media: there must be 1 to {MAX_MEDIA}")
            }
            ConfigError::ZeroBound(what) => write!(f, "{what} must be above zero"),
            ConfigError::TooManyNodes(n) => write!(f, "{n} nodes is more than max_nodes"),
            ConfigError::WindowAboveHistory => f.write_str("window must not exceed history_len"),
            ConfigError::BadNodeName(name, why) => write!(f, "node {name:?}: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// A configuration with Heartbeat 3.0.6's defaults (keepalive 1 s,
    /// deadtime 30 s, warntime 15 s, initdead 30 s, max_rexmit_delay 250 ms,
    /// 500 messages of history), seeded with the generation.
    pub fn new(local: NodeName, generation: u64, nodes: Vec<NodeName>, media: u16) -> Config {
        Config {
            local,
            generation,
            nodes,
            media,
            keepalive: Duration::from_secs(1),
            warntime: Duration::from_secs(15),
            deadtime: Duration::from_secs(30),
            initdead: Duration::from_secs(30),
            max_rexmit_delay: DEFAULT_MAX_REXMIT_DELAY,
            autojoin: false,
            max_nodes: DEFAULT_MAX_NODES,
            history_len: DEFAULT_HISTORY_LEN,
            history_bytes: DEFAULT_HISTORY_BYTES,
            window: DEFAULT_WINDOW,
            holdback_bytes: DEFAULT_HOLDBACK_BYTES,
            seed: generation,
        }
    }

    /// Sets keepalive, warntime, deadtime and initdead in one call.
    #[must_use]
    pub fn with_timing(
        mut self,
        keepalive: Duration,
        warntime: Duration,
        deadtime: Duration,
        initdead: Duration,
    ) -> Config {
        self.keepalive = keepalive;
        self.warntime = warntime;
        self.deadtime = deadtime;
        self.initdead = initdead;
        self
    }

    /// The mapping from a parsed ha.cf: timing, `max_rexmit_delay`,
    /// `autojoin` and the `node` lines; one medium per media line (a daemon
    /// that folds several lines into one link sets `media` itself).
    pub fn from_ha_cf(
        cf: &config::HaCf,
        local: NodeName,
        generation: u64,
        seed: u64,
    ) -> Result<Config, ConfigError> {
        let nodes = cf
            .nodes
            .iter()
            .map(|n| NodeName::new(n).map_err(|e| ConfigError::BadNodeName(n.clone(), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let media = u16::try_from(cf.media.len())
            .map_err(|_| ConfigError::BadMediaCount(cf.media.len()))?;
        let mut c = Config::new(local, generation, nodes, media).with_timing(
            cf.keepalive,
            cf.warntime,
            cf.deadtime,
            cf.initdead,
        );
        c.max_rexmit_delay = cf.max_rexmit_delay;
        c.autojoin = cf.autojoin != config::AutoJoin::None;
        c.seed = seed;
        c.validate()?;
        Ok(c)
    }

    /// Checks what the core relies on: non-zero timers (a zero keepalive
    /// would make the core ask to be woken forever), deadtime above
    /// keepalive, durations small enough for `Instant` arithmetic, non-zero
    /// bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.keepalive.is_zero() {
            return Err(ConfigError::ZeroKeepalive);
        }
        if self.deadtime <= self.keepalive {
            return Err(ConfigError::DeadtimeNotAboveKeepalive);
        }
        for (name, d) in [
            ("keepalive", self.keepalive),
            ("warntime", self.warntime),
            ("deadtime", self.deadtime),
            ("initdead", self.initdead),
            ("max_rexmit_delay", self.max_rexmit_delay),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
            if d > MAX_DURATION {
                return Err(ConfigError::DurationTooLong(name));
            }
        }
        if self.media == 0 || self.media > MAX_MEDIA {
            return Err(ConfigError::BadMediaCount(self.media.into()));
        }
        for (name, v) in [
            ("max_nodes", self.max_nodes),
            ("history_len", self.history_len),
            ("history_bytes", self.history_bytes),
            ("holdback_bytes", self.holdback_bytes),
        ] {
            if v == 0 {
                return Err(ConfigError::ZeroBound(name));
            }
        }
        if self.window == 0 {
            return Err(ConfigError::ZeroBound("window"));
        }
        if self.window > self.history_len as u64 {
            return Err(ConfigError::WindowAboveHistory);
        }
        let mut all = self.nodes.clone();
        all.push(self.local.clone());
        all.sort();
        all.dedup();
        if all.len() > self.max_nodes {
            return Err(ConfigError::TooManyNodes(all.len()));
        }
        Ok(())
    }
}

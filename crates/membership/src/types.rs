//! The small value types every part of the crate shares: node names, media,
//! node and link states as Heartbeat reports them, the payload bound and the
//! events the cores emit.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Longest node name Heartbeat accepts (`HOSTLENG` - 1; the config crate's
/// `MAX_NODE_NAME`).
pub const MAX_NODE_NAME: usize = 99;

/// A cluster node's name as Heartbeat uses it: `uname -n`, lower-cased.
///
/// Names come from peers' packets, so [`NodeName::new`] checks them instead
/// of trusting them: 1 to [`MAX_NODE_NAME`] bytes, no whitespace or control
/// characters. Comparison is on the lower-cased form; clones are cheap
/// (shared).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(Arc<str>);

/// Why a node name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NODE_NAME`] bytes.
    TooLong,
    /// The name contains whitespace or a control character.
    BadCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty node name",
            NameError::TooLong => "node name longer than 99 bytes",
            NameError::BadCharacter => "node name with whitespace or a control character",
        })
    }
}

impl std::error::Error for NameError {}

impl NodeName {
    /// Checks and lower-cases a node name.
    pub fn new(name: &str) -> Result<NodeName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NODE_NAME {
            return Err(NameError::TooLong);
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NameError::BadCharacter);
        }
        Ok(NodeName(Arc::from(name.to_lowercase())))
    }

    /// The lower-cased name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for NodeName {
    type Error = NameError;

    fn try_from(name: &str) -> Result<NodeName, NameError> {
        NodeName::new(name)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// One medium (link) of the local node: the index the daemon gives each
/// communication path of ha.cf (`bcast eth0`, `mcast eth1 ...`). A link is a
/// (peer, medium) pair; Heartbeat names it `peer:interface`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediumId(pub u16);

impl fmt::Display for MediumId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "medium {}", self.0)
    }
}

/// A node's status, with Heartbeat's names (`cl_status nodestatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Configured but never heard from.
    Init,
    /// Listening; a node says `up` until it has heard from every node.
    Up,
    /// Fully functional: it has heard from every node (or declared it dead).
    Active,
    /// Not heard from for its deadtime.
    Dead,
}

impl NodeStatus {
    /// Heartbeat's word: `init`, `up`, `active` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
        }
    }

    /// Parses a status word as carried in the `st` field (case-insensitive);
    /// `None` for words this crate does not track (`ping`, `join`, ...).
    pub fn from_wire(word: &str) -> Option<NodeStatus> {
        [
            NodeStatus::Init,
            NodeStatus::Up,
            NodeStatus::Active,
            NodeStatus::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(word))
    }

    /// `up` or `active`: the node is a live cluster member.
    pub fn is_alive(self) -> bool {
        matches!(self, NodeStatus::Up | NodeStatus::Active)
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A link's status (`cl_status hblinkstatus`). A link nothing has arrived on
/// yet is `dead`, so the first packet reports "Link X:Y up." as Heartbeat does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkStatus {
    /// A packet from the node arrived on the medium within its deadtime.
    Up,
    /// Nothing for the deadtime, or never anything.
    Dead,
}

impl LinkStatus {
    /// Heartbeat's word: `up` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Up => "up",
            LinkStatus::Dead => "dead",
        }
    }
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client message carries through the core. The core only clones it
/// (retransmission, local delivery) and counts its [`size`](Payload::size)
/// against the memory bounds of the send history and the hold-back buffer.
///
/// A daemon that carries a foreign type (a decoded cluster message) wraps it
/// in a newtype that implements this trait.
pub trait Payload: Clone {
    /// Bytes this payload accounts for (its wire size is a good choice).
    fn size(&self) -> usize;
}

impl Payload for Vec<u8> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Payload for Box<[u8]> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Payload for Arc<[u8]> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Payload for String {
    fn size(&self) -> usize {
        self.len()
    }
}

/// Why client messages were given up on. Messages after them are still
/// delivered, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    /// The sender answered `NS_nak_rexmit`: it no longer holds them
    /// (Heartbeat: "Irretrievably lost packet").
    NotRetransmittable,
    /// The gap was wider than the window, or the hold-back buffer was full:
    /// tracking restarted past it (Heartbeat: "lost a lot of packets!").
    GapTooLarge,
    /// The sender was declared dead while they were missing, or they were
    /// sent while it was dead to us.
    NodeDead,
    /// The sender restarted (new generation) while they were missing.
    NodeRestarted,
}

/// Something an administrator or a client of the messaging layer wants to
/// know, in Heartbeat's terms. The daemon logs each in Heartbeat's wording
/// (given per variant) and forwards status changes to API clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// "Status update for node X: status S" / "node X: is dead" / for the
    /// local node "Local status now set to: 'S'".
    NodeStatusChanged {
        /// The node.
        node: NodeName,
        /// Its previous status.
        old: NodeStatus,
        /// Its new status.
        new: NodeStatus,
    },
    /// "Link X:IF up." / "Link X:IF dead."
    LinkStatusChanged {
        /// The node at the other end.
        node: NodeName,
        /// The local medium.
        medium: MediumId,
        /// Previous status.
        old: LinkStatus,
        /// New status.
        new: LinkStatus,
    },
    /// "Late heartbeat: Node X: interval N ms" (warning), with
    /// `beyond_deadtime` "... (> deadtime)" (critical). For the local node
    /// it means the caller did not run the core in time.
    LateHeartbeat {
        /// The node whose heartbeat was late.
        node: NodeName,
        /// Time since its previous heartbeat.
        interval: Duration,
        /// The interval exceeded the configured deadtime.
        beyond_deadtime: bool,
    },
    /// "Cluster node X returning after partition.": a node declared dead
    /// sent a newer status with the same generation.
    NodeReturned {
        /// The node.
        node: NodeName,
    },
    /// "Heartbeat restart on node X": a higher generation; its sequence
    /// tracking was reset.
    NodeRestarted {
        /// The node.
        node: NodeName,
        /// The generation it had.
        old_generation: u64,
        /// The generation it has now.
        new_generation: u64,
    },
    /// `should_drop_message: attempted replay attack [X]? [gen = G, curgen =
    /// C]`: a packet with a lower generation than the sender's, dropped.
    Replay {
        /// The claimed sender.
        node: NodeName,
        /// The packet's generation.
        generation: u64,
        /// The sender's current generation.
        current: u64,
    },
    /// `N lost packet(s) for [X] [a:b]`: a gap in X's sequence numbers;
    /// retransmission requests are scheduled.
    PacketsMissing {
        /// The sender.
        node: NodeName,
        /// First missing sequence number.
        first: u64,
        /// Last missing sequence number.
        last: u64,
    },
    /// "No pkts missing from X!": every gap from X is filled or given up.
    NoPacketsMissing {
        /// The sender.
        node: NodeName,
    },
    /// Sequence numbers `first..=last` from X will never be delivered
    /// ("Irretrievably lost packet", "lost a lot of packets!").
    MessagesLost {
        /// The sender.
        node: NodeName,
        /// First lost sequence number.
        first: u64,
        /// Last lost sequence number.
        last: u64,
        /// Why.
        reason: LossReason,
    },
    /// A packet from a node that is not in the configuration (and autojoin
    /// is off, or the node table is full): `bad node [X] in message`.
    UnknownNode {
        /// The claimed sender.
        node: NodeName,
    },
}

//! Send-side history: the last N sequenced messages this node sent, kept to
//! answer retransmission requests (heartbeat.c `add2_xmit_hist`,
//! `process_rexmit`; Heartbeat's `MAXMSGHIST` is 500). Bounded in count and
//! bytes; the newest message is always kept.

use std::collections::VecDeque;
use std::time::Instant;

use crate::types::{NodeName, NodeStatus, Payload};

/// What a sequenced message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<P> {
    /// A status heartbeat (`t=status`, `st`, `dt`).
    Status {
        /// `st`.
        status: NodeStatus,
        /// `dt`, milliseconds.
        deadtime_ms: u64,
    },
    /// A client message, to every node (`dest` = `None`) or to one.
    Message {
        /// `dest`.
        dest: Option<NodeName>,
        /// The message.
        payload: P,
    },
}

impl<P: Payload> Body<P> {
    fn size(&self) -> usize {
        match self {
            Body::Status { .. } => 0,
            Body::Message { payload, .. } => payload.size(),
        }
    }
}

/// One kept message.
#[derive(Debug, Clone)]
pub struct Sent<P> {
    /// What was sent.
    pub body: Body<P>,
    /// When it was last retransmitted.
    pub last_rexmit: Option<Instant>,
}

/// Where a requested sequence number stands.
#[derive(Debug)]
pub enum Lookup<'a, P> {
    /// Still kept.
    Held(&'a mut Sent<P>),
    /// Older than anything kept: answer with `NS_nak_rexmit`.
    TooLow,
    /// Never sent (yet).
    TooHigh,
}

/// The sequence counter of this node and the messages kept.
#[derive(Debug)]
pub struct SendHistory<P> {
    entries: VecDeque<Sent<P>>,
    /// Sequence number of `entries[0]`.
    first_seq: u64,
    /// The next sequence number to hand out (starts at 1).
    next_seq: u64,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
}

impl<P: Payload> SendHistory<P> {
    /// An empty history; sequence numbers start at 1.
    pub fn new(max_len: usize, max_bytes: usize) -> SendHistory<P> {
        SendHistory {
            entries: VecDeque::new(),
            first_seq: 1,
            next_seq: 1,
            bytes: 0,
            max_len: max_len.max(1),
            max_bytes,
        }
    }

    /// Numbers and keeps a message; returns its sequence number.
    pub fn push(&mut self, body: Body<P>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += body.size();
        self.entries.push_back(Sent {
            body,
            last_rexmit: None,
        });
        while self.entries.len() > 1
            && (self.entries.len() > self.max_len || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.body.size();
                self.first_seq += 1;
            }
        }
        seq
    }

    /// The newest sequence number handed out (0 before any).
    pub fn hiseq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The oldest sequence number still kept (`hiseq + 1` when empty).
    pub fn lowseq(&self) -> u64 {
        self.first_seq
    }

    /// Number of kept messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing kept yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finds `seq` for retransmission.
    pub fn lookup(&mut self, seq: u64) -> Lookup<'_, P> {
        if seq < self.first_seq {
            return Lookup::TooLow;
        }
        match self.entries.get_mut((seq - self.first_seq) as usize) {
            Some(sent) => Lookup::Held(sent),
            None => Lookup::TooHigh,
        }
    }

    /// Checks the bounds and numbering in constant time.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.first_seq + self.entries.len() as u64 != self.next_seq {
            return Err("history numbering is not contiguous".into());
        }
        if self.entries.len() > self.max_len {
            return Err(format!("{} messages kept", self.entries.len()));
        }
        if self.entries.len() > 1 && self.bytes > self.max_bytes {
            return Err(format!("{} bytes kept", self.bytes));
        }
        Ok(())
    }
}

//! The messaging layer of the master: it joins the media (sockets), the msg
//! crate (wire format and authentication) and the membership core (failure
//! detection, sequencing). Packets in are verified before they are parsed,
//! mapped to `membership::Packet`s and fed to the core; the core's outputs
//! are signed and sent on every medium, or logged in Heartbeat's words.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use config::{AuthKeys, HaCf};
use membership::{
    Config, Event, LinkStatus, LossReason, Membership, NodeName, NodeStatus, Output, Packet,
    PacketKind, Payload, Transmit,
};
use msg::Message;
use plumbing::{EventLoop, HaPaths, Token};

use crate::identity;
use crate::media::{self, Datagram, Media, MediumId};
use crate::ping::Pinger;
use membership::ping::{PingEvent, PingStatus};

/// A client message carried through the membership core.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMessage(pub Message);

impl Payload for ClientMessage {
    fn size(&self) -> usize {
        msg::encode(&self.0).map_or(0, |b| b.len())
    }
}

/// What a serial line may carry: Heartbeat's `MAXMSG`.
const SERIAL_LIMITS: msg::Limits = msg::Limits::DEFAULT;

/// How often the same "bad node" or "authentication failed" complaint is
/// logged at most, per sender.
const COMPLAINT_INTERVAL: Duration = Duration::from_secs(60);

/// Counters of what was dropped, by reason.
#[derive(Debug, Default, Clone)]
pub struct DropCounts {
    /// Datagrams that failed verification or parsing, by reason.
    pub rejected: HashMap<String, u64>,
    /// Authentic messages that are not cluster packets we understand.
    pub unknown_type: u64,
    /// Copies not sent because a socket buffer was full.
    pub send_drops: u64,
}

/// The running messaging layer.
pub struct Messaging {
    core: Membership<ClientMessage>,
    media: Media,
    links: Vec<String>,
    keys: AuthKeys,
    local: NodeName,
    uuid: [u8; 16],
    generation: u64,
    ttl: u64,
    uuids: HashMap<String, Vec<u8>>,
    /// The `node` names, for answering `reqnodes`.
    nodes: Vec<String>,
    /// Heartbeat's node table order (node and ping lines of ha.cf), in
    /// which the API lists nodes.
    node_order: Vec<String>,
    complaints: HashMap<String, Instant>,
    drops: DropCounts,
    received: Vec<Datagram>,
    /// Status changes and delivered messages for API clients.
    notices: Vec<hbapi::Event>,
    /// The ping nodes, when ha.cf has any.
    ping: Option<Pinger>,
}

/// Notices kept for the API between two drains at most; older ones are
/// dropped (the loop drains after every call, so this is a safety bound).
const MAX_NOTICES: usize = 10_000;

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

impl Messaging {
    /// Opens the media of `cf` and starts the membership core. Media that
    /// cannot be opened are logged; with none open, starting fails.
    pub fn start(
        lp: &mut EventLoop,
        cf: &HaCf,
        keys: AuthKeys,
        paths: &HaPaths,
        now: Instant,
    ) -> Result<Messaging, String> {
        let nodename = paths.nodename.to_ascii_lowercase();
        let local = NodeName::new(&nodename).map_err(|e| format!("node name {nodename}: {e:?}"))?;
        let uuid = identity::node_uuid(&paths.statedir, cf.uuidfrom, &nodename).map_err(|e| {
            format!(
                "cannot read or create {}/hb_uuid: {e}",
                paths.statedir.display()
            )
        })?;
        let generation = identity::next_generation(&paths.statedir, cf.hbgenmethod, epoch_secs())
            .map_err(|e| {
            format!(
                "cannot update {}/hb_generation: {e}",
                paths.statedir.display()
            )
        })?;
        let links = media::link_names(&cf.media);
        let (media, errors) = Media::open(lp, &cf.media);
        for e in &errors {
            log::error!("{e}");
        }
        if media.count() == 0 {
            return Err("no cluster medium could be opened".into());
        }
        for m in media.media() {
            log::info!("{}: heartbeat started on port {}.", m.describe, cf.udpport);
        }
        let seed = u64::from(std::process::id()) ^ generation.rotate_left(17) ^ epoch_secs();
        let mut config = Config::from_ha_cf(cf, local.clone(), generation, seed)
            .map_err(|e| format!("{e:?}"))?;
        config.media = u16::try_from(links.len()).map_err(|_| "too many links".to_owned())?;
        let core = Membership::new(config, now).map_err(|e| format!("{e:?}"))?;
        let ping = Pinger::start(lp, cf, now);
        let ttl = cf.nodes.len() as u64 + u64::from(cf.hopfudge);
        let mut m = Messaging {
            core,
            media,
            links,
            keys,
            local,
            uuid,
            generation,
            ttl,
            uuids: HashMap::new(),
            nodes: cf.nodes.clone(),
            node_order: cf.node_table(),
            complaints: HashMap::new(),
            drops: DropCounts::default(),
            received: Vec::new(),
            notices: Vec::new(),
            ping,
        };
        m.drain(now);
        Ok(m)
    }

    /// Whether a loop token is one of the media or ping sockets.
    pub fn owns(&self, token: Token) -> bool {
        self.media.owns(token) || self.ping.as_ref().is_some_and(|p| p.owns(token))
    }

    /// When the core, the ping nodes or the media next need
    /// `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.core.poll_timeout(),
            self.ping.as_ref().and_then(Pinger::poll_timeout),
            self.media.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// This node's name as the cluster knows it.
    pub fn local_name(&self) -> &str {
        self.local.as_str()
    }

    /// Every node with its status and links, for the API.
    pub fn cluster_status(&self) -> hbapi::ClusterStatus {
        let mut nodes = self
            .core
            .nodes()
            .map(|(name, status)| hbapi::NodeInfo {
                name: name.as_str().to_owned(),
                status: status.as_str().to_owned(),
                node_type: "normal".into(),
                uuid: if *name == self.local {
                    hbapi::uuid_text(&self.uuid)
                } else {
                    self.uuids
                        .get(name.as_str())
                        .and_then(|u| hbapi::uuid_text(u))
                },
                links: self
                    .links
                    .iter()
                    .enumerate()
                    .filter_map(|(i, iface)| {
                        let id = MediumId(u16::try_from(i).ok()?);
                        let st = self.core.link_status(name, id)?;
                        Some((iface.clone(), st.as_str().to_owned()))
                    })
                    .collect(),
            })
            .chain(
                self.ping
                    .iter()
                    .flat_map(Pinger::nodes)
                    .map(|(name, status, link)| hbapi::NodeInfo {
                        name: name.as_str().to_owned(),
                        status: status.as_str().to_owned(),
                        node_type: "ping".into(),
                        // A ping node's one link is named after the node.
                        links: vec![(name.as_str().to_owned(), link.as_str().to_owned())],
                        uuid: None,
                    }),
            )
            .collect::<Vec<_>>();
        // As Heartbeat's node table: ha.cf order, joined nodes after.
        nodes.sort_by_key(|n: &hbapi::NodeInfo| {
            self.node_order
                .iter()
                .position(|o| *o == n.name)
                .unwrap_or(usize::MAX)
        });
        hbapi::ClusterStatus {
            local: self.local.as_str().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            nodes,
        }
    }

    /// A node's status as `cl_status nodestatus` prints it (normal and ping
    /// nodes); `None` for a node not in the table.
    pub fn node_status(&self, name: &str) -> Option<&'static str> {
        let lower = name.to_ascii_lowercase();
        if let Some(st) = NodeName::new(&lower)
            .ok()
            .and_then(|n| self.core.node_status(&n))
        {
            return Some(st.as_str());
        }
        self.ping
            .iter()
            .flat_map(Pinger::nodes)
            .find(|(n, _, _)| n.as_str() == lower)
            .map(|(_, st, _)| st.as_str())
    }

    /// Sends a client's message to the cluster or to one node, in order and
    /// reliably (the core sequences and retransmits it).
    pub fn send(&mut self, now: Instant, to: Option<&str>, m: Message) -> Result<(), String> {
        let dest = match to {
            Some(name) => Some(
                NodeName::new(&name.to_ascii_lowercase())
                    .map_err(|e| format!("bad node name {name}: {e:?}"))?,
            ),
            None => None,
        };
        if m.get_str("t").is_none() {
            return Err("a cluster message needs a type field 't'".into());
        }
        self.core.send(now, dest, ClientMessage(m));
        self.drain(now);
        Ok(())
    }

    /// Takes the status changes and messages for API clients.
    pub fn take_notices(&mut self) -> Vec<hbapi::Event> {
        std::mem::take(&mut self.notices)
    }

    fn notice(&mut self, e: hbapi::Event) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.remove(0);
        }
        self.notices.push(e);
    }

    /// Counters of dropped packets.
    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    /// A medium is readable: take its datagrams (a budget at a time; the
    /// return value says whether more may be waiting).
    pub fn handle_io(&mut self, now: Instant, token: Token) -> bool {
        if let Some(p) = self.ping.as_mut().filter(|p| p.owns(token)) {
            let more = p.handle_io(now, token, &self.keys);
            self.drain_ping();
            return more;
        }
        if !self.media.owns(token) {
            return false;
        }
        let mut got = std::mem::take(&mut self.received);
        let more = self.media.receive(now, token, &mut got);
        for d in got.drain(..) {
            self.handle_datagram(now, &d);
        }
        self.received = got;
        self.drain(now);
        more
    }

    /// Runs the timers of the core, the ping nodes and the media that are
    /// due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.media.poll_timeout().is_some_and(|t| t <= now) {
            self.media.handle_timeout(now);
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
            self.drain(now);
        }
        if let Some(p) = self.ping.as_mut() {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now);
                self.drain_ping();
            }
        }
    }

    /// Counters of the ping sockets, for the log at shutdown.
    pub fn ping_counts(&self) -> Option<&crate::ping::PingCounts> {
        self.ping.as_ref().map(|p| &p.counts)
    }

    /// Logs ping node changes in Heartbeat's words and tells the API
    /// clients, as for any node.
    fn drain_ping(&mut self) {
        while let Some(e) = self.ping.as_mut().and_then(Pinger::poll_event) {
            match e {
                PingEvent::StatusChanged { node, new, .. } => {
                    if new == PingStatus::Dead {
                        log::warn!("node {node}: is dead");
                    } else {
                        log::info!("Status update for node {node}: status {}", new.as_str());
                    }
                    self.notice(hbapi::Event::NodeStatus {
                        node: node.as_str().to_owned(),
                        status: new.as_str().to_owned(),
                    });
                }
                PingEvent::LinkChanged { node, new } => {
                    log::info!("Link {node}:{node} {}.", new.as_str());
                    self.notice(hbapi::Event::LinkStatus {
                        node: node.as_str().to_owned(),
                        link: node.as_str().to_owned(),
                        status: new.as_str().to_owned(),
                    });
                }
                PingEvent::Late {
                    node,
                    interval,
                    beyond_deadtime,
                } => {
                    let ms = interval.as_millis();
                    if beyond_deadtime {
                        log::error!("Late heartbeat: Node {node}: interval {ms} ms (> deadtime)");
                    } else {
                        log::warn!("Late heartbeat: Node {node}: interval {ms} ms");
                    }
                }
            }
        }
    }

    fn handle_datagram(&mut self, now: Instant, d: &Datagram) {
        let decoded = if d.classic {
            msg::verify_and_decode_classic(&d.bytes, &self.keys, &SERIAL_LIMITS)
        } else {
            msg::verify_and_decode(&d.bytes, &self.keys)
        };
        let m = match decoded {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("{:?}", e.kind);
                *self.drops.rejected.entry(reason).or_default() += 1;
                let from = d.from.map_or_else(
                    || self.link_name(d.medium).to_owned(),
                    |a| a.ip().to_string(),
                );
                if self.complain(&format!("bad packet from {from}")) {
                    log::warn!(
                        "dropped a packet from {from} on {}: {e} (further ones counted, not logged, for 60s)",
                        self.link_name(d.medium)
                    );
                }
                return;
            }
        };
        match self.packet_of(&m, d.medium) {
            Some(p) => self.core.handle_packet(now, p),
            None => self.drops.unknown_type += 1,
        }
    }

    fn complain(&mut self, key: &str) -> bool {
        let now = Instant::now();
        match self.complaints.get(key) {
            Some(t) if now.duration_since(*t) < COMPLAINT_INTERVAL => false,
            _ => {
                if self.complaints.len() > 1024 {
                    self.complaints.clear();
                }
                self.complaints.insert(key.to_owned(), now);
                true
            }
        }
    }

    fn link_name(&self, id: MediumId) -> &str {
        self.links
            .get(usize::from(id.0))
            .map_or("?", String::as_str)
    }

    /// Maps an authentic message to the core's input.
    fn packet_of(&mut self, m: &Message, medium: MediumId) -> Option<Packet<ClientMessage>> {
        let t = m.get_str("t")?;
        let src = m.get_str("src")?.to_ascii_lowercase();
        let from = NodeName::new(&src).ok()?;
        if let Some(u) = m.get_binary("srcuuid") {
            if self.uuids.get(&src).is_none_or(|old| old != u) {
                if self.uuids.contains_key(&src) {
                    log::info!("node {src} changed its uuid");
                }
                if self.uuids.len() < 4096 {
                    self.uuids.insert(src.clone(), u.to_vec());
                }
            }
        }
        let dest = || {
            m.get_str("dest")
                .and_then(|d| NodeName::new(&d.to_ascii_lowercase()).ok())
        };
        let kind = match t {
            "status" => PacketKind::Status {
                generation: m.get_hex("hg")?,
                seq: m.get_hex("seq")?,
                status: NodeStatus::from_wire(m.get_str("st")?)?,
                deadtime_ms: m.get_hex("dt"),
            },
            "NS_ackmsg" => PacketKind::Ack {
                dest: dest()?,
                ackseq: m.get_hex("ackseq")?,
            },
            "NS_rexmit" => PacketKind::RexmitRequest {
                dest: dest()?,
                first: m.get_decimal("firstseq")?,
                last: m.get_decimal("lastseq")?,
            },
            "NS_nak_rexmit" => PacketKind::NakRexmit {
                dest: dest(),
                seq: m.get_hex("firstseq")?,
            },
            t if t.starts_with("NS_") => return None,
            _ => PacketKind::Message {
                generation: m.get_hex("hg")?,
                seq: m.get_hex("seq")?,
                dest: dest(),
                payload: ClientMessage(m.clone()),
            },
        };
        Some(Packet { from, medium, kind })
    }

    /// The standard trailer fields every packet carries after its own.
    fn envelope(&self, m: &mut Message, seq: Option<u64>) {
        m.add("src", self.local.as_str());
        m.add_binary("srcuuid", self.uuid);
        if let Some(seq) = seq {
            m.set_hex("seq", seq);
        }
        m.set_hex("hg", self.generation);
        m.set_hex("ts", epoch_secs());
        if seq.is_some() {
            m.add("ld", loadavg());
        }
        m.set_decimal("ttl", self.ttl);
    }

    fn addressed(&self, m: &mut Message, dest: &NodeName) {
        m.add("dest", dest.as_str());
        if let Some(u) = self.uuids.get(dest.as_str()) {
            m.add_binary("destuuid", u.clone());
        }
    }

    fn build(&self, t: Transmit<ClientMessage>) -> Message {
        let mut m = Message::new();
        match t {
            Transmit::Status {
                seq,
                status,
                deadtime_ms,
                ..
            } => {
                m.add("t", "status").add("st", status.as_str());
                m.set_hex("dt", deadtime_ms);
                m.set_decimal("protocol", 1);
                self.envelope(&mut m, Some(seq));
            }
            Transmit::Message {
                seq, dest, payload, ..
            } => {
                m = payload.0;
                for f in [
                    "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "dest", "destuuid", "auth",
                ] {
                    m.remove(f);
                }
                if let Some(d) = &dest {
                    self.addressed(&mut m, d);
                }
                self.envelope(&mut m, Some(seq));
            }
            Transmit::Ack { dest, ackseq } => {
                m.add("t", "NS_ackmsg");
                self.addressed(&mut m, &dest);
                m.set_hex("ackseq", ackseq);
                self.envelope(&mut m, None);
            }
            Transmit::RexmitRequest { dest, first, last } => {
                m.add("t", "NS_rexmit");
                self.addressed(&mut m, &dest);
                m.set_decimal("firstseq", first);
                m.set_decimal("lastseq", last);
                self.envelope(&mut m, None);
            }
            Transmit::NakRexmit { dest, seq, reason } => {
                m.add("t", "NS_nak_rexmit");
                m.set_hex("firstseq", seq);
                self.addressed(&mut m, &dest);
                m.add("info", reason);
                self.envelope(&mut m, None);
            }
        }
        m
    }

    fn drain(&mut self, now: Instant) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(t) => {
                    if let (
                        Transmit::Status {
                            retransmission: false,
                            ..
                        },
                        Some(p),
                    ) = (&t, self.ping.as_mut())
                    {
                        // Heartbeat's ping plugins answer every status
                        // heartbeat with an echo round.
                        p.send_round(now, &self.keys, epoch_secs());
                    }
                    let mut m = self.build(t);
                    match msg::sign(&mut m, &self.keys) {
                        Ok(datagram) => {
                            self.drops.send_drops += self.media.send_all(now, &datagram, &m)
                        }
                        Err(e) => log::error!("cannot sign a packet: {e}"),
                    }
                }
                Output::Deliver(d) if d.payload.0.get_str("t") == Some("reqnodes") => {
                    // A node that just came up asks for the node list and
                    // goes active only when it has the answer.
                    let mut reply = Message::new();
                    reply.add("t", "repnodes");
                    let list: String = self.nodes.iter().map(|n| format!("{n} ")).collect();
                    reply.add("nodelist", list).add("delnodelist", " ");
                    log::debug!("Get a reqnodes message from {}", d.from.as_str());
                    self.core.send(now, Some(d.from), ClientMessage(reply));
                }
                Output::Deliver(d) => match msg::encode(&d.payload.0) {
                    Ok(body) => self.notice(hbapi::Event::Message {
                        from: d.from.as_str().to_owned(),
                        body: ipc::Bytes(body),
                    }),
                    Err(e) => {
                        log::error!("cannot re-encode a message from {}: {e}", d.from.as_str())
                    }
                },
                Output::Event(e) => self.log_event(e),
            }
        }
    }

    fn log_event(&mut self, e: Event) {
        match &e {
            Event::NodeStatusChanged { node, new, .. } => self.notice(hbapi::Event::NodeStatus {
                node: node.as_str().to_owned(),
                status: new.as_str().to_owned(),
            }),
            Event::LinkStatusChanged {
                node, medium, new, ..
            } => {
                let link = self.link_name(*medium).to_owned();
                self.notice(hbapi::Event::LinkStatus {
                    node: node.as_str().to_owned(),
                    link,
                    status: new.as_str().to_owned(),
                })
            }
            _ => {}
        }
        match e {
            Event::NodeStatusChanged { node, new, .. } if node == self.local => {
                log::info!("Local status now set to: '{}'", new.as_str());
            }
            Event::NodeStatusChanged {
                node,
                new: NodeStatus::Dead,
                ..
            } => log::warn!("node {}: is dead", node.as_str()),
            Event::NodeStatusChanged { node, new, .. } => {
                log::info!(
                    "Status update for node {}: status {}",
                    node.as_str(),
                    new.as_str()
                );
            }
            Event::LinkStatusChanged {
                node, medium, new, ..
            } => {
                let iface = self.link_name(medium).to_owned();
                match new {
                    LinkStatus::Up => log::info!("Link {}:{iface} up.", node.as_str()),
                    LinkStatus::Dead => log::info!("Link {}:{iface} dead.", node.as_str()),
                }
            }
            Event::LateHeartbeat {
                node,
                interval,
                beyond_deadtime,
            } => {
                let ms = interval.as_millis();
                if beyond_deadtime {
                    log::error!(
                        "Late heartbeat: Node {}: interval {ms} ms (> deadtime)",
                        node.as_str()
                    );
                } else {
                    log::warn!("Late heartbeat: Node {}: interval {ms} ms", node.as_str());
                }
            }
            Event::NodeReturned { node } => {
                log::info!("Cluster node {} returning after partition.", node.as_str());
            }
            Event::NodeRestarted { node, .. } => {
                log::info!("Heartbeat restart on node {}", node.as_str());
            }
            Event::Replay {
                node,
                generation,
                current,
            } => {
                if self.complain(&format!("replay {}", node.as_str())) {
                    log::error!(
                        "should_drop_message: attempted replay attack [{}]? [gen = {generation}, curgen = {current}]",
                        node.as_str()
                    );
                }
            }
            Event::PacketsMissing { node, first, last } => {
                log::info!(
                    "{} lost packet(s) for [{}] [{first}:{last}]",
                    last.saturating_sub(first) + 1,
                    node.as_str()
                );
            }
            Event::NoPacketsMissing { node } => {
                log::info!("No pkts missing from {}!", node.as_str());
            }
            Event::MessagesLost {
                node,
                first,
                last,
                reason,
            } => {
                let why = match reason {
                    LossReason::GapTooLarge => "lost a lot of packets!",
                    LossReason::NotRetransmittable => "the sender no longer has them",
                    LossReason::NodeDead => "the node died",
                    LossReason::NodeRestarted => "the node restarted",
                };
                log::error!(
                    "Irretrievably lost packet(s) {first}..{last} from {}: {why}",
                    node.as_str()
                );
            }
            Event::UnknownNode { node } => {
                if self.complain(&format!("bad node {}", node.as_str())) {
                    log::error!("bad node [{}] in message", node.as_str());
                }
            }
        }
    }
}

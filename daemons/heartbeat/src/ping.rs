//! The ICMP side of ping nodes (ha.cf `ping`, `ping6`, `ping_group`): one
//! raw ICMP socket per address family on the master's event loop, echo
//! requests sent with every status heartbeat, replies checked and handed to
//! the pure [`membership::ping::PingNodes`], which decides status.
//!
//! The echo is Heartbeat's (ping.c, ping6.c, ping_group.c): its data is a
//! signed cluster message `t=NS_st, st=ping, info=<plugin>, src=<ping node>,
//! ts=<time>`, "the packet we want to hear back from them, just as though we
//! were they"; the ICMP identifier is the pid's low 16 bits. A reply counts
//! when it is an echo reply with our identifier, its data authenticates
//! (trailer MAC with authkeys), it names the plugin and the ping node, and
//! it comes from one of that node's addresses (for a group, a member's).
//!
//! Raw sockets need CAP_NET_RAW (heartbeat runs as root); without one the
//! error is logged and the ping nodes are declared dead in time. Host names
//! are resolved once at start, as Heartbeat does.

use std::io;
use std::net::{IpAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use config::{AuthKeys, HaCf, MediumKind};
use membership::ping::{PingConfig, PingEvent, PingNodes, PingStatus, Reply};
use membership::{LinkStatus, NodeName};
use mio::unix::SourceFd;
use mio::{Interest, Token};
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, SockaddrIn6,
    SockaddrStorage,
};
use plumbing::EventLoop;

const ICMP_ECHO: u8 = 8;
const ICMP_ECHOREPLY: u8 = 0;
const ICMP6_ECHO_REQUEST: u8 = 128;
const ICMP6_ECHO_REPLY: u8 = 129;
/// `ICMP_FILTER` at level `SOL_RAW` (linux/icmp.h): a mask of the types the
/// socket does not want.
const ICMP_FILTER: libc::c_int = 1;
/// `ICMP6_FILTER` at level `IPPROTO_ICMPV6` (netinet/icmp6.h).
const ICMP6_FILTER: libc::c_int = 1;

/// Replies read from one socket per readiness event before others get a
/// turn.
const RECV_BUDGET: usize = 64;

/// An ICMPv4 echo request: header (type, code, checksum, identifier,
/// sequence number, network order) and data, with the Internet checksum.
pub fn echo_request_v4(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + data.len());
    p.extend_from_slice(&[ICMP_ECHO, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(data);
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// An ICMPv6 echo request; the kernel fills in the checksum (it covers a
/// pseudo-header only the kernel knows).
pub fn echo_request_v6(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + data.len());
    p.extend_from_slice(&[ICMP6_ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// RFC 1071 Internet checksum.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo reply's identifier, sequence number and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply<'a> {
    /// ICMP identifier.
    pub ident: u16,
    /// ICMP sequence number.
    pub seq: u16,
    /// The echoed data.
    pub data: &'a [u8],
}

/// Parses what a raw ICMPv4 socket reads (IP header first); `None` for
/// anything but a well-formed echo reply.
pub fn parse_reply_v4(datagram: &[u8]) -> Option<EchoReply<'_>> {
    let first = *datagram.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header = usize::from(first & 0x0f) * 4;
    if header < 20 {
        return None;
    }
    parse_icmp(datagram.get(header..)?, ICMP_ECHOREPLY)
}

/// Parses what a raw ICMPv6 socket reads (no IP header).
pub fn parse_reply_v6(datagram: &[u8]) -> Option<EchoReply<'_>> {
    parse_icmp(datagram, ICMP6_ECHO_REPLY)
}

fn parse_icmp(icmp: &[u8], reply_type: u8) -> Option<EchoReply<'_>> {
    let header = icmp.get(..8)?;
    if header[0] != reply_type || header[1] != 0 {
        return None;
    }
    Some(EchoReply {
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
        data: &icmp[8..],
    })
}

/// The data of an echo request to `target`: Heartbeat's signed `NS_st`.
fn echo_data(target: &Target, ts: u64, keys: &AuthKeys) -> Result<Vec<u8>, msg::EncodeError> {
    let mut m = msg::Message::new();
    m.add("t", "NS_st")
        .add("st", PingStatus::Ping.as_str())
        .add("info", target.plugin)
        .add("src", target.node.as_str());
    m.set_hex("ts", ts);
    msg::sign(&mut m, keys)
}

/// Why a datagram read from a ping socket proves nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an echo reply with our identifier: someone else's ICMP.
    NotOurs,
    /// The data does not authenticate (or does not parse).
    Unauthentic(String),
    /// Authentic, but not a ping status of one of our ping nodes.
    NotPingStatus,
    /// From an address that is not the ping node's (or a member's).
    WrongSource,
}

/// Checks what a ping socket read: an echo reply with identifier `ident`
/// whose data is an authentic `NS_st` for one of `targets`, from one of its
/// addresses. Returns the ping node and the round it answers.
fn check_reply(
    bytes: &[u8],
    v6: bool,
    from: Option<IpAddr>,
    ident: u16,
    targets: &[Target],
    keys: &AuthKeys,
) -> Result<(NodeName, u16), Refusal> {
    let echo = if v6 {
        parse_reply_v6(bytes)
    } else {
        parse_reply_v4(bytes)
    };
    let echo = echo.filter(|e| e.ident == ident).ok_or(Refusal::NotOurs)?;
    let m =
        msg::verify_and_decode(echo.data, keys).map_err(|e| Refusal::Unauthentic(e.to_string()))?;
    let target = m
        .get_str("src")
        .and_then(|src| targets.iter().find(|t| t.node.as_str() == src))
        .ok_or(Refusal::NotPingStatus)?;
    if m.get_str("t") != Some("NS_st")
        || m.get_str("st") != Some(PingStatus::Ping.as_str())
        || m.get_str("info") != Some(target.plugin)
    {
        return Err(Refusal::NotPingStatus);
    }
    if !from.is_some_and(|ip| target.addrs.contains(&ip)) {
        return Err(Refusal::WrongSource);
    }
    Ok((target.node.clone(), echo.seq))
}

/// One ping medium of ha.cf: the ping node it makes and where to ping.
#[derive(Debug, Clone)]
struct Target {
    node: NodeName,
    /// Heartbeat's plugin name, carried in `info`.
    plugin: &'static str,
    v6: bool,
    addrs: Vec<IpAddr>,
    /// The last send to it failed (logged once until a send succeeds).
    failing: bool,
}

#[derive(Debug)]
struct RawSocket {
    fd: OwnedFd,
    token: Token,
}

/// Counters, reported at shutdown.
#[derive(Debug, Default, Clone)]
pub struct PingCounts {
    /// Echo requests sent.
    pub sent: u64,
    /// Echo requests that could not be sent.
    pub send_errors: u64,
    /// Replies that proved a node alive.
    pub accepted: u64,
    /// Replies with our identifier refused (authentication, fields,
    /// source address, old or repeated round).
    pub refused: u64,
}

/// The ping nodes of a node, with their sockets.
pub struct Pinger {
    core: PingNodes,
    targets: Vec<Target>,
    v4: Option<RawSocket>,
    v6: Option<RawSocket>,
    ident: u16,
    buf: Vec<u8>,
    /// What happened, for the log at shutdown.
    pub counts: PingCounts,
}

fn resolve(host: &str, v6: bool) -> io::Result<IpAddr> {
    (host, 0)
        .to_socket_addrs()?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv6() == v6)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no IPv{} address", if v6 { 6 } else { 4 }),
            )
        })
}

fn raw_socket(lp: &mut EventLoop, v6: bool) -> io::Result<RawSocket> {
    let (family, proto) = if v6 {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    } else {
        (AddressFamily::Inet, SockProtocol::Icmp)
    };
    let fd = socket::socket(
        family,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        proto,
    )
    .map_err(io::Error::from)?;
    // Only echo replies wake the master, not every ICMP packet the host
    // sees. Best effort: the parser checks the type anyway.
    if v6 {
        let mut filter = [u32::MAX; 8];
        filter[usize::from(ICMP6_ECHO_REPLY >> 5)] &= !(1u32 << (ICMP6_ECHO_REPLY & 31));
        set_raw_opt(&fd, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter);
    } else {
        let mask: u32 = !(1u32 << ICMP_ECHOREPLY);
        set_raw_opt(&fd, libc::SOL_RAW, ICMP_FILTER, &mask);
    }
    let token = lp.alloc_token();
    if let Err(e) =
        lp.registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)
    {
        lp.free_token(token);
        return Err(e);
    }
    Ok(RawSocket { fd, token })
}

fn set_raw_opt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) {
    // SAFETY: `value` is a plain value of the size the option expects.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!("ICMP filter not set: {}", io::Error::last_os_error());
    }
}

impl Pinger {
    /// The ping nodes of `cf` with their sockets; `None` when ha.cf has no
    /// ping lines. Problems (an unknown host, no raw socket) are logged in
    /// Heartbeat's words; the nodes they affect never answer and are
    /// declared dead after initdead.
    pub fn start(lp: &mut EventLoop, cf: &HaCf, now: Instant) -> Option<Pinger> {
        let mut targets = Vec::new();
        for m in &cf.media {
            let (node, plugin, v6, hosts) = match &m.kind {
                MediumKind::Ping { host } => (host, "ping", false, vec![host.clone()]),
                MediumKind::Ping6 { host } => (host, "ping6", true, vec![host.clone()]),
                MediumKind::PingGroup { name, hosts } => (name, "ping_group", false, hosts.clone()),
                _ => continue,
            };
            let Ok(node) = NodeName::new(&node.to_ascii_lowercase()) else {
                log::error!("ha.cf:{}: {}: not a usable node name", m.line, m.kind);
                continue;
            };
            let mut addrs = Vec::new();
            for h in &hosts {
                match resolve(h, v6) {
                    Ok(a) => addrs.push(a),
                    Err(e) => log::error!("unknown host: {h}: {e}"),
                }
            }
            targets.push(Target {
                node,
                plugin,
                v6,
                addrs,
                failing: false,
            });
        }
        if targets.is_empty() {
            return None;
        }
        let mut open = |v6: bool| -> Option<RawSocket> {
            if !targets.iter().any(|t| t.v6 == v6) {
                return None;
            }
            match raw_socket(lp, v6) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::error!("Can't open RAW socket.: {e}");
                    None
                }
            }
        };
        let v4 = open(false);
        let v6 = open(true);
        for t in &targets {
            let opened = if t.v6 { v6.is_some() } else { v4.is_some() };
            if opened {
                if t.plugin == "ping_group" {
                    log::info!("ping group heartbeat started.");
                } else {
                    log::info!("ping heartbeat started.");
                }
            }
        }
        let names = targets.iter().map(|t| t.node.clone()).collect();
        Some(Pinger {
            core: PingNodes::new(names, PingConfig::from_ha_cf(cf), now),
            targets,
            v4,
            v6,
            ident: (std::process::id() & 0xffff) as u16,
            buf: vec![0; 65_536],
            counts: PingCounts::default(),
        })
    }

    /// Whether a loop token is one of the ping sockets.
    pub fn owns(&self, token: Token) -> bool {
        [&self.v4, &self.v6]
            .into_iter()
            .flatten()
            .any(|s| s.token == token)
    }

    /// Sends one echo round to every ping node: called with every status
    /// heartbeat we send (`ts`: its timestamp). Never blocks; failures are
    /// logged once until the next success.
    pub fn send_round(&mut self, now: Instant, keys: &AuthKeys, ts: u64) {
        let seq = self.core.start_round(now);
        for t in &mut self.targets {
            let Some(sock) = (if t.v6 { &self.v6 } else { &self.v4 }) else {
                continue;
            };
            let data = match echo_data(t, ts, keys) {
                Ok(d) => d,
                Err(e) => {
                    log::error!("cannot sign a ping packet: {e}");
                    return;
                }
            };
            let packet = if t.v6 {
                echo_request_v6(self.ident, seq, &data)
            } else {
                echo_request_v4(self.ident, seq, &data)
            };
            for addr in &t.addrs {
                let r = match addr {
                    IpAddr::V4(a) => socket::sendto(
                        sock.fd.as_raw_fd(),
                        &packet,
                        &SockaddrIn::from(std::net::SocketAddrV4::new(*a, 0)),
                        MsgFlags::MSG_DONTWAIT,
                    ),
                    IpAddr::V6(a) => socket::sendto(
                        sock.fd.as_raw_fd(),
                        &packet,
                        &SockaddrIn6::from(std::net::SocketAddrV6::new(*a, 0, 0, 0)),
                        MsgFlags::MSG_DONTWAIT,
                    ),
                };
                match r {
                    Ok(_) => {
                        self.counts.sent += 1;
                        if t.failing {
                            t.failing = false;
                            log::info!("ping {}: sending to {addr} works again", t.node);
                        }
                    }
                    Err(e) => {
                        self.counts.send_errors += 1;
                        if !t.failing {
                            t.failing = true;
                            log::error!("Error sending packet: {e} (ping {} at {addr})", t.node);
                        }
                    }
                }
            }
        }
    }

    /// A ping socket is readable: take the replies (a budget at a time;
    /// returns whether more may be waiting).
    pub fn handle_io(&mut self, now: Instant, token: Token, keys: &AuthKeys) -> bool {
        let v6 = match (&self.v4, &self.v6) {
            (Some(s), _) if s.token == token => false,
            (_, Some(s)) if s.token == token => true,
            _ => return false,
        };
        for _ in 0..RECV_BUDGET {
            let sock = if v6 { &self.v6 } else { &self.v4 };
            let Some(sock) = sock else { return false };
            let (n, from) =
                match socket::recvfrom::<SockaddrStorage>(sock.fd.as_raw_fd(), &mut self.buf) {
                    Ok((n, from)) => (n, from),
                    Err(nix::errno::Errno::EAGAIN) => return false,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        log::debug!("ping socket: receive error: {e}");
                        return false;
                    }
                };
            let from_ip = from.as_ref().and_then(|a| {
                a.as_sockaddr_in()
                    .map(|s| IpAddr::V4(s.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
            });
            let len = n.min(self.buf.len());
            self.reply(now, v6, len, from_ip, keys);
        }
        true
    }

    fn reply(&mut self, now: Instant, v6: bool, len: usize, from: Option<IpAddr>, keys: &AuthKeys) {
        let bytes = &self.buf[..len];
        let verdict = check_reply(bytes, v6, from, self.ident, &self.targets, keys);
        match verdict {
            Ok((node, seq)) => match self.core.handle_reply(now, &node, seq) {
                Reply::Accepted => self.counts.accepted += 1,
                Reply::Duplicate => {}
                other => {
                    self.counts.refused += 1;
                    log::debug!("ping reply from {from:?} refused: {other:?}");
                }
            },
            Err(Refusal::NotOurs) => {}
            Err(why) => {
                self.counts.refused += 1;
                log::debug!("ping reply from {from:?} refused: {why:?}");
            }
        }
    }

    /// When the ping nodes next need [`Pinger::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Declares silent ping nodes dead.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// The next status change.
    pub fn poll_event(&mut self) -> Option<PingEvent> {
        self.core.poll_event()
    }

    /// Every ping node with its status and its link's, in ha.cf order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeName, PingStatus, LinkStatus)> {
        self.core.nodes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_the_internet_checksum() {
        // RFC 1071's example words 0001 f203 f4f5 f6f7: sum ddf2, checksum 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        // An odd length pads with a zero byte.
        assert_eq!(checksum(&[0xff]), !0xff00);
        // A packet with its checksum in place sums to zero.
        let p = echo_request_v4(0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0);
    }

    #[test]
    fn an_echo_request_round_trips_through_the_reply_parser() {
        let mut p = echo_request_v4(0xbeef, 513, b"payload");
        assert_eq!(&p[..8], &[8, 0, p[2], p[3], 0xbe, 0xef, 0x02, 0x01]);
        // The host answers with type 0 behind a 20-byte IP header.
        p[0] = ICMP_ECHOREPLY;
        let mut datagram = vec![0x45];
        datagram.extend_from_slice(&[0; 19]);
        datagram.extend_from_slice(&p);
        assert_eq!(
            parse_reply_v4(&datagram),
            Some(EchoReply {
                ident: 0xbeef,
                seq: 513,
                data: b"payload"
            })
        );
        // IP options: a 24-byte header.
        let mut with_options = vec![0x46];
        with_options.extend_from_slice(&[0; 23]);
        with_options.extend_from_slice(&p);
        assert_eq!(parse_reply_v4(&with_options).map(|r| r.seq), Some(513));
    }

    fn target(name: &str, plugin: &'static str, addrs: &[&str]) -> Target {
        Target {
            node: NodeName::new(name).unwrap(),
            plugin,
            v6: false,
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            failing: false,
        }
    }

    fn keys(secret: &str) -> AuthKeys {
        config::parse_authkeys(&format!("auth 1\n1 sha1 {secret}\n"), "authkeys").unwrap()
    }

    /// What a raw socket reads when `target` echoes our request back.
    fn reply_datagram(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let mut icmp = echo_request_v4(ident, seq, data);
        icmp[0] = ICMP_ECHOREPLY;
        let mut d = vec![0x45];
        d.extend_from_slice(&[0; 19]);
        d.extend_from_slice(&icmp);
        d
    }

    #[test]
    fn only_authentic_echoes_of_our_ping_status_from_the_node_count() {
        let k = keys("right");
        let router = target("10.0.0.254", "ping", &["10.0.0.254"]);
        let group = target("routers", "ping_group", &["10.0.0.1", "10.0.0.2"]);
        let targets = [router.clone(), group.clone()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let data = echo_data(&router, 0x65f0_0000, &k).unwrap();
        let check = |d: &[u8], from| check_reply(d, false, from, 77, &targets, &k);
        assert_eq!(
            check(&reply_datagram(77, 5, &data), ip("10.0.0.254")),
            Ok((router.node.clone(), 5))
        );
        // Someone else's ping, or not a reply.
        assert_eq!(
            check(&reply_datagram(78, 5, &data), ip("10.0.0.254")),
            Err(Refusal::NotOurs)
        );
        // From another host than the ping node.
        assert_eq!(
            check(&reply_datagram(77, 5, &data), ip("10.0.0.9")),
            Err(Refusal::WrongSource)
        );
        assert_eq!(
            check(&reply_datagram(77, 5, &data), None),
            Err(Refusal::WrongSource)
        );
        // Signed with another key.
        let forged = echo_data(&router, 1, &keys("wrong")).unwrap();
        assert!(matches!(
            check(&reply_datagram(77, 5, &forged), ip("10.0.0.254")),
            Err(Refusal::Unauthentic(_))
        ));
        // Authentic, but a different kind of message.
        let mut status = msg::Message::new();
        status.add("t", "status").add("src", "10.0.0.254");
        let other = msg::sign(&mut status, &k).unwrap();
        assert_eq!(
            check(&reply_datagram(77, 5, &other), ip("10.0.0.254")),
            Err(Refusal::NotPingStatus)
        );
        // A group's echo answered by any member; its plugin name must match.
        let gdata = echo_data(&group, 1, &k).unwrap();
        assert_eq!(
            check(&reply_datagram(77, 9, &gdata), ip("10.0.0.2")),
            Ok((group.node.clone(), 9))
        );
        let mut wrong_plugin = group.clone();
        wrong_plugin.plugin = "ping";
        let wdata = echo_data(&wrong_plugin, 1, &k).unwrap();
        assert_eq!(
            check(&reply_datagram(77, 9, &wdata), ip("10.0.0.2")),
            Err(Refusal::NotPingStatus)
        );
    }

    #[test]
    fn the_echo_carries_heartbeats_ns_st_message() {
        let k = keys("right");
        let data = echo_data(&target("gw", "ping", &["10.0.0.254"]), 0x10, &k).unwrap();
        let m = msg::verify_and_decode(&data, &k).unwrap();
        let fields: Vec<(&str, Option<&str>)> = m
            .iter()
            .map(|f| (f.name.as_str(), m.get_str(&f.name)))
            .collect();
        assert_eq!(
            &fields[..5],
            [
                ("t", Some("NS_st")),
                ("st", Some("ping")),
                ("info", Some("ping")),
                ("src", Some("gw")),
                ("ts", Some("10")),
            ]
        );
        assert_eq!(fields[5].0, "auth");
    }

    #[test]
    fn anything_but_an_echo_reply_is_ignored() {
        let request = echo_request_v4(1, 1, b"x");
        let mut datagram = vec![0x45];
        datagram.extend_from_slice(&[0; 19]);
        datagram.extend_from_slice(&request);
        assert_eq!(parse_reply_v4(&datagram), None, "a request, not a reply");
        for junk in [
            &[][..],
            &[0x45],
            &[0x45, 0, 0, 0],
            &[0x60; 40],
            &[0x41; 40],
            &[0x4f; 30],
        ] {
            assert_eq!(parse_reply_v4(junk), None, "{junk:?}");
        }
        let mut v6 = echo_request_v6(9, 10, b"y");
        assert_eq!(parse_reply_v6(&v6), None);
        v6[0] = ICMP6_ECHO_REPLY;
        assert_eq!(
            parse_reply_v6(&v6),
            Some(EchoReply {
                ident: 9,
                seq: 10,
                data: b"y"
            })
        );
        assert_eq!(parse_reply_v6(&v6[..7]), None);
    }
}

//! The cluster media of ha.cf: bcast, mcast, ucast over UDP, one
//! non-blocking socket per medium on the master's event loop, and serial
//! lines (`serial`). Each socket is bound to its interface (SO_BINDTODEVICE),
//! so a packet's medium is known and link status can be kept per (node,
//! medium). A medium never blocks the master: a full socket buffer drops
//! that datagram (counted; Heartbeat's retransmission recovers client
//! messages), a serial line that does not drain drops its oldest queued
//! messages, and a medium that cannot be opened is reported while the others
//! run.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use std::time::Instant;

use config::{Medium, MediumKind};
use mio::{Interest, Token};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
use plumbing::EventLoop;

/// Largest datagram Heartbeat reads (MAXMSG - 1); bigger ones are truncated
/// by the kernel and then fail authentication.
pub const MAX_DATAGRAM: usize = 256 * 1024 - 1;

/// Datagrams taken from one medium per readiness event before the others
/// get their turn.
const RECV_BUDGET: usize = 64;

/// A link: one interface, as Heartbeat names links (`node:iface`). Several
/// media lines on one interface (`ucast eth0 a`, `ucast eth0 b`) are one
/// link. Numbered by first appearance in ha.cf, whether or not every medium
/// could be opened, so the numbering never depends on the machine's state.
pub use membership::MediumId;

/// The distinct links of the media of ha.cf, in order: the names of the
/// links `MediumId` numbers (interfaces, and serial devices by path, as
/// Heartbeat names them).
pub fn link_names(media: &[Medium]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in media {
        if let Some(i) = link_of(&m.kind) {
            if !names.contains(&i) {
                names.push(i);
            }
        }
    }
    names
}

fn link_of(kind: &MediumKind) -> Option<String> {
    match kind {
        MediumKind::Bcast { interface, .. }
        | MediumKind::Mcast { interface, .. }
        | MediumKind::Mcast6 { interface, .. }
        | MediumKind::Ucast { interface, .. }
        | MediumKind::Ucast6 { interface, .. } => Some(interface.clone()),
        MediumKind::Serial { device, .. } => Some(device.display().to_string()),
        _ => None,
    }
}

/// One open medium.
#[derive(Debug)]
pub struct OpenMedium {
    /// The link it belongs to.
    pub id: MediumId,
    /// The ha.cf line of the medium, for the log.
    pub describe: String,
    socket: mio::net::UdpSocket,
    token: Token,
    destinations: Vec<SocketAddr>,
    /// Datagrams dropped because the socket buffer was full or sending failed.
    pub send_drops: u64,
}

/// A received datagram, or a message read from a serial line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The link it came in on.
    pub medium: MediumId,
    /// The sender's address (not trusted: identity comes from the message);
    /// `None` on a serial line.
    pub from: Option<SocketAddr>,
    /// In Heartbeat's classic text format (serial lines) rather than a
    /// signed netstring datagram.
    pub classic: bool,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// An open serial medium.
#[derive(Debug)]
struct OpenSerial {
    id: MediumId,
    port: crate::serial::SerialPort,
}

/// All media of a node.
#[derive(Debug, Default)]
pub struct Media {
    open: Vec<OpenMedium>,
    serial: Vec<OpenSerial>,
    buf: Vec<u8>,
    frames: Vec<Vec<u8>>,
}

fn ipv4_of(interface: &str) -> io::Result<(Ipv4Addr, Option<Ipv4Addr>)> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    for a in addrs {
        if a.interface_name != interface {
            continue;
        }
        let Some(addr) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) else {
            continue;
        };
        let bcast = a
            .broadcast
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .map(|b| b.ip());
        return Ok((addr.ip(), bcast));
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("interface {interface} has no IPv4 address"),
    ))
}

/// A UDP socket bound to `port` on `interface` (SO_REUSEADDR, so each
/// medium on the same port has its own socket, and SO_BINDTODEVICE); an
/// IPv6 one (`v6`) only takes IPv6 (IPV6_V6ONLY).
fn bound_socket(interface: &str, port: u16, v6: bool) -> io::Result<std::net::UdpSocket> {
    let family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd: OwnedFd = socket::socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(io::Error::from)?;
    socket::setsockopt(
        &fd,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(interface),
    )
    .map_err(|e| io::Error::other(format!("SO_BINDTODEVICE {interface}: {e}")))?;
    if v6 {
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(io::Error::from)?;
        let any = SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
        socket::bind(fd.as_raw_fd(), &any).map_err(io::Error::from)?;
    } else {
        let any = SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        socket::bind(fd.as_raw_fd(), &any).map_err(io::Error::from)?;
    }
    // SAFETY: ownership of the descriptor moves into the UdpSocket.
    Ok(unsafe { std::net::UdpSocket::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) })
}

/// The index of an interface (an IPv6 scope), or of a number given as one.
fn if_index(name: &str) -> io::Result<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    nix::net::if_::if_nametoindex(name)
        .map_err(|e| io::Error::other(format!("interface {name}: {e}")))
}

/// Whether an IPv6 unicast address needs a scope (fe80::/10).
fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// The destination of `ucast6 IFACE PEER[%SCOPE]`: a link-local peer is
/// reached through the interface (its scope), as Heartbeat's ucast6 does;
/// a scope given that is not the interface is refused.
fn ucast6_destination(
    interface: &str,
    peer: Ipv6Addr,
    scope: Option<&str>,
    port: u16,
) -> io::Result<SocketAddr> {
    let mut scope_id = match scope {
        Some(s) => if_index(s)?,
        None => 0,
    };
    if is_link_local(&peer) {
        let idx = if_index(interface)?;
        if scope_id == 0 {
            scope_id = idx;
        } else if scope_id != idx {
            return Err(io::Error::other(format!(
                "index {idx} does not match scope id {scope_id} for device {interface}"
            )));
        }
    }
    Ok(SocketAddr::V6(SocketAddrV6::new(peer, port, 0, scope_id)))
}

fn open_one(kind: &MediumKind) -> io::Result<(std::net::UdpSocket, Vec<SocketAddr>)> {
    match kind {
        MediumKind::Bcast { interface, port } => {
            let (_, bcast) = ipv4_of(interface)?;
            let bcast = bcast.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("interface {interface} has no broadcast address"),
                )
            })?;
            let s = bound_socket(interface, *port, false)?;
            s.set_broadcast(true)?;
            Ok((s, vec![SocketAddr::new(IpAddr::V4(bcast), *port)]))
        }
        MediumKind::Mcast {
            interface,
            group,
            port,
            ttl,
            loopback,
        } => {
            let (addr, _) = ipv4_of(interface)?;
            let s = bound_socket(interface, *port, false)?;
            s.join_multicast_v4(group, &addr)?;
            s.set_multicast_ttl_v4(u32::from(*ttl))?;
            s.set_multicast_loop_v4(*loopback)?;
            set_multicast_if(&s, addr)?;
            Ok((s, vec![SocketAddr::new(IpAddr::V4(*group), *port)]))
        }
        MediumKind::Ucast {
            interface,
            peer,
            port,
        } => {
            let dest = (peer.as_str(), *port)
                .to_socket_addrs()?
                .find(SocketAddr::is_ipv4)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no IPv4 address for {peer}"),
                    )
                })?;
            let s = bound_socket(interface, *port, false)?;
            Ok((s, vec![dest]))
        }
        MediumKind::Ucast6 {
            interface,
            peer,
            scope,
            port,
        } => {
            let dest = ucast6_destination(interface, *peer, scope.as_deref(), *port)?;
            let s = bound_socket(interface, *port, true)?;
            Ok((s, vec![dest]))
        }
        MediumKind::Mcast6 {
            interface,
            group,
            port,
            hops,
            loopback,
        } => {
            let index = if_index(interface)?;
            let s = bound_socket(interface, *port, true)?;
            s.join_multicast_v6(group, index)?;
            let fd = s.as_fd();
            socket::setsockopt(&fd, sockopt::Ipv6MulticastHops, &i32::from(*hops))
                .map_err(io::Error::from)?;
            s.set_multicast_loop_v6(*loopback)?;
            set_multicast_if_v6(&s, index)?;
            Ok((
                s,
                vec![SocketAddr::V6(SocketAddrV6::new(*group, *port, 0, index))],
            ))
        }
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} is not a network medium", other.directive_name()),
        )),
    }
}

fn set_multicast_if_v6(s: &std::net::UdpSocket, index: u32) -> io::Result<()> {
    let index = libc::c_int::try_from(index).map_err(io::Error::other)?;
    // SAFETY: an int of the right size for IPV6_MULTICAST_IF.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            (&index as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_multicast_if(s: &std::net::UdpSocket, addr: Ipv4Addr) -> io::Result<()> {
    let a = libc::in_addr {
        s_addr: u32::from_ne_bytes(addr.octets()),
    };
    // SAFETY: a valid in_addr of the right size for IP_MULTICAST_IF.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&a as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Media {
    /// Opens every network medium of `media` (ping nodes are not media) and
    /// registers it with the loop. Returns the media that opened and one
    /// message per medium that did not, for the log.
    pub fn open(lp: &mut EventLoop, media: &[Medium]) -> (Media, Vec<String>) {
        let mut out = Media {
            open: Vec::new(),
            serial: Vec::new(),
            buf: vec![0; MAX_DATAGRAM + 1],
            frames: Vec::new(),
        };
        let mut errors = Vec::new();
        let links = link_names(media);
        for m in media.iter().filter(|m| !m.kind.is_ping()) {
            let describe = m.kind.to_string();
            let Some(link) = link_of(&m.kind).and_then(|i| links.iter().position(|n| *n == i))
            else {
                errors.push(format!("ha.cf:{}: {describe}: not supported yet", m.line));
                continue;
            };
            let id = MediumId(u16::try_from(link).unwrap_or(u16::MAX));
            if let MediumKind::Serial { device, baud } = &m.kind {
                let token = lp.alloc_token();
                match crate::serial::SerialPort::open(device, *baud, token, lp.registry()) {
                    Ok(port) => out.serial.push(OpenSerial { id, port }),
                    Err(e) => {
                        lp.free_token(token);
                        errors.push(format!("ha.cf:{}: {describe}: {e}", m.line));
                    }
                }
                continue;
            }
            match open_one(&m.kind) {
                Ok((std_sock, destinations)) => {
                    let mut socket = mio::net::UdpSocket::from_std(std_sock);
                    let token = lp.alloc_token();
                    if let Err(e) = lp
                        .registry()
                        .register(&mut socket, token, Interest::READABLE)
                    {
                        lp.free_token(token);
                        errors.push(format!("ha.cf:{}: {describe}: {e}", m.line));
                        continue;
                    }
                    out.open.push(OpenMedium {
                        id,
                        describe,
                        socket,
                        token,
                        destinations,
                        send_drops: 0,
                    });
                }
                Err(e) => errors.push(format!("ha.cf:{}: {describe}: {e}", m.line)),
            }
        }
        (out, errors)
    }

    /// The open UDP media.
    pub fn media(&self) -> &[OpenMedium] {
        &self.open
    }

    /// How many media are open, serial lines included.
    pub fn count(&self) -> usize {
        self.open.len() + self.serial.len()
    }

    /// Whether a loop token is one of the media.
    pub fn owns(&self, token: Token) -> bool {
        self.open.iter().any(|m| m.token == token)
            || self.serial.iter().any(|s| s.port.token() == token)
    }

    /// A medium is ready: reads up to a budget of datagrams (or serial
    /// messages) from it, and writes what waits for a serial line. Returns
    /// true if the budget ran out (more may be waiting: call again).
    pub fn receive(&mut self, now: Instant, token: Token, out: &mut Vec<Datagram>) -> bool {
        if let Some(s) = self.serial.iter_mut().find(|s| s.port.token() == token) {
            let more = s.port.handle_io(now, &mut self.frames);
            out.extend(self.frames.drain(..).map(|bytes| Datagram {
                medium: s.id,
                from: None,
                classic: true,
                bytes,
            }));
            return more;
        }
        let Some(index) = self.open.iter().position(|m| m.token == token) else {
            return false;
        };
        self.receive_udp(index, out)
    }

    /// When a closed serial line is to be opened again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.serial
            .iter()
            .filter_map(|s| s.port.poll_timeout())
            .min()
    }

    /// Opens closed serial lines again when it is time.
    pub fn handle_timeout(&mut self, now: Instant) {
        for s in &mut self.serial {
            s.port.handle_timeout(now);
        }
    }

    fn receive_udp(&mut self, index: usize, out: &mut Vec<Datagram>) -> bool {
        let Some(m) = self.open.get_mut(index) else {
            return false;
        };
        let id = m.id;
        for _ in 0..RECV_BUDGET {
            match m.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => out.push(Datagram {
                    medium: id,
                    from: Some(from),
                    classic: false,
                    bytes: self.buf[..n.min(MAX_DATAGRAM)].to_vec(),
                }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // ICMP errors from an unreachable ucast peer and the
                    // like: the medium stays open.
                    log::debug!("{}: receive error: {e}", m.describe);
                    return false;
                }
            }
        }
        true
    }

    /// Sends one signed message on every medium, never blocking: the
    /// datagram to every destination of the UDP media, its classic
    /// rendering (`msg`, signed) on the serial lines. Returns how many
    /// copies were dropped.
    pub fn send_all(&mut self, now: Instant, datagram: &[u8], msg: &msg::Message) -> u64 {
        let mut dropped = 0;
        if !self.serial.is_empty() {
            match msg::render_classic(msg) {
                Ok(text) => {
                    for s in &mut self.serial {
                        dropped += s.port.send(now, text.clone());
                    }
                }
                Err(e) => {
                    log::debug!("not sent on the serial lines: {e}");
                    dropped += self.serial.len() as u64;
                }
            }
        }
        for m in &mut self.open {
            for dest in &m.destinations {
                match m.socket.send_to(datagram, *dest) {
                    Ok(_) => {}
                    Err(e) => {
                        m.send_drops += 1;
                        dropped += 1;
                        if e.kind() != io::ErrorKind::WouldBlock {
                            log::debug!("{}: send to {dest} failed: {e}", m.describe);
                        }
                    }
                }
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumbing::Event;
    use std::time::Duration;

    fn medium(kind: MediumKind) -> Medium {
        Medium { line: 7, kind }
    }

    #[test]
    fn ucast_on_loopback_delivers_to_itself_with_the_medium() {
        let port = 40_000 + (std::process::id() % 20_000) as u16;
        let mut lp = EventLoop::new().unwrap();
        let (mut media, errors) = Media::open(
            &mut lp,
            &[medium(MediumKind::Ucast {
                interface: "lo".into(),
                peer: "127.0.0.1".into(),
                port,
            })],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(media.media()[0].describe, "ucast lo 127.0.0.1");
        assert_eq!(
            media.send_all(Instant::now(), b"###\nping%%%\n", &msg::Message::new()),
            0
        );
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
            let mut evs = Vec::new();
            lp.poll(&mut evs, Some(Duration::from_millis(100))).unwrap();
            for e in evs {
                if let Event::Io { token, .. } = e {
                    if media.owns(token) {
                        media.receive(Instant::now(), token, &mut got);
                    }
                }
            }
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].medium, MediumId(0));
        assert_eq!(got[0].bytes, b"###\nping%%%\n");
        assert!(!got[0].classic);
    }

    #[test]
    fn ucast6_on_loopback_delivers_to_itself() {
        let port = 40_000 + (std::process::id() % 20_000) as u16 + 2;
        let mut lp = EventLoop::new().unwrap();
        let (mut media, errors) = Media::open(
            &mut lp,
            &[medium(MediumKind::Ucast6 {
                interface: "lo".into(),
                peer: "::1".parse().unwrap(),
                scope: None,
                port,
            })],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            media.send_all(Instant::now(), b"###\nsix%%%\n", &msg::Message::new()),
            0
        );
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
            let mut evs = Vec::new();
            lp.poll(&mut evs, Some(Duration::from_millis(100))).unwrap();
            for e in evs {
                if let Event::Io { token, .. } = e {
                    media.receive(Instant::now(), token, &mut got);
                }
            }
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, b"###\nsix%%%\n");
        assert!(got[0].from.is_some_and(|a| a.is_ipv6()));
    }

    #[test]
    fn a_link_local_ucast6_peer_is_scoped_to_its_interface() {
        let lo = if_index("lo").unwrap();
        let fe80: Ipv6Addr = "fe80::1".parse().unwrap();
        let dest = ucast6_destination("lo", fe80, None, 694).unwrap();
        assert_eq!(dest, SocketAddr::V6(SocketAddrV6::new(fe80, 694, 0, lo)));
        let global: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(
            ucast6_destination("lo", global, None, 694).unwrap(),
            SocketAddr::V6(SocketAddrV6::new(global, 694, 0, 0))
        );
        assert!(ucast6_destination("lo", fe80, Some("4242"), 694).is_err());
        assert!(ucast6_destination("no-such-if0", fe80, None, 694).is_err());
    }

    #[test]
    fn links_are_interfaces_in_order_of_first_appearance() {
        let u = |i: &str, p: &str| {
            medium(MediumKind::Ucast {
                interface: i.into(),
                peer: p.into(),
                port: 694,
            })
        };
        let media = [
            u("eth0", "10.0.0.2"),
            medium(MediumKind::Ping {
                host: "10.0.0.254".into(),
            }),
            u("eth1", "10.1.0.2"),
            u("eth0", "10.0.0.3"),
            medium(MediumKind::Serial {
                device: "/dev/ttyS0".into(),
                baud: 19200,
            }),
        ];
        assert_eq!(link_names(&media), vec!["eth0", "eth1", "/dev/ttyS0"]);
    }

    #[test]
    fn a_medium_that_cannot_open_is_reported_and_the_others_run() {
        let port = 40_000 + (std::process::id() % 20_000) as u16 + 1;
        let mut lp = EventLoop::new().unwrap();
        let (media, errors) = Media::open(
            &mut lp,
            &[
                medium(MediumKind::Bcast {
                    interface: "no-such-if0".into(),
                    port,
                }),
                medium(MediumKind::Ucast {
                    interface: "lo".into(),
                    peer: "127.0.0.1".into(),
                    port,
                }),
            ],
        );
        assert_eq!(media.media().len(), 1);
        assert_eq!(
            media.media()[0].id,
            MediumId(1),
            "numbered by ha.cf, not by success"
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(
                "ha.cf:7: bcast no-such-if0: interface no-such-if0 has no IPv4 address"
            ),
            "{errors:?}"
        );
    }
}

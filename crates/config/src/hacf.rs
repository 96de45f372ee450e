//! The typed result of reading ha.cf: every setting Heartbeat 3 knows, with
//! defaults and derived values already filled in, so daemons read fields
//! instead of re-interpreting strings. Parsing itself lives in `parse.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ConfigError;
use crate::table::Directive;

/// The user Heartbeat's Pacemaker daemons and ipfail run as (Debian's
/// `--with-ccmuser-name`).
pub const CLUSTER_USER: &str = "hacluster";
/// The group allowed to use the cluster API (Debian's `--with-group-name`).
pub const CLUSTER_GROUP: &str = "haclient";
/// Longest node name Heartbeat keeps (`HOSTLENG` - 1).
pub const MAX_NODE_NAME: usize = 99;
/// Most nodes, ping nodes included, Heartbeat accepts (`MAXNODE`).
pub const MAX_NODES: usize = 100;
/// Most media lines Heartbeat accepts (`MAXMEDIA`).
pub const MAX_MEDIA: usize = 64;
/// Longest API client name (`client_id` is 32 bytes with its NUL).
pub const MAX_CLIENT_NAME: usize = 31;

/// Everything ha.cf configures, defaults included.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HaCf {
    /// The file this was read from.
    pub path: PathBuf,

    /// `use_logd`: log through the logging daemon (derived when not given).
    pub use_logd: bool,
    /// `logfacility`; `None` for `none` or not set.
    pub logfacility: Option<SyslogFacility>,
    /// `logfile`; `/dev/null` when a facility is set and no file is given.
    pub logfile: Option<PathBuf>,
    /// `debugfile`; `/dev/null` when a facility is set and no file is given.
    pub debugfile: Option<PathBuf>,
    /// `debug` level, 0..=255.
    pub debug: u8,
    /// `syslogmsgfmt`: write log files in syslog's format.
    pub syslogmsgfmt: bool,
    /// `conn_logd_time`: minimum wait before reconnecting to logd.
    pub conn_logd_time: Duration,
    /// `log_badpack`: log packets that fail to parse.
    pub log_badpack: bool,

    /// `keepalive`: interval between heartbeats.
    pub keepalive: Duration,
    /// `warntime`: late-heartbeat warning threshold (deadtime/2 by default).
    pub warntime: Duration,
    /// `deadtime`: a node silent this long is dead.
    pub deadtime: Duration,
    /// `initdead`: deadtime used at startup (derived from deadtime by default).
    pub initdead: Duration,
    /// `deadping`: deadtime for ping nodes (deadtime by default).
    pub deadping: Duration,

    /// `udpport`: the last value given (each UDP medium records the port it
    /// actually uses, see [`MediumKind`]).
    pub udpport: u16,
    /// `baud`: serial speed.
    pub baud: u32,
    /// Media lines (`bcast`, `mcast`, `ucast`, `serial`, `ping`, ...) in file
    /// order, one entry per interface/device/host.
    pub media: Vec<Medium>,

    /// `node` names, lowercased as Heartbeat stores them, in file order.
    pub nodes: Vec<String>,
    /// The line of each entry of `nodes`.
    pub(crate) node_lines: Vec<u32>,
    /// `autojoin`.
    pub autojoin: AutoJoin,
    /// `cluster` name.
    pub cluster: String,
    /// `quorum_server`.
    pub quorum_server: Option<String>,
    /// `hopfudge`.
    pub hopfudge: u8,

    /// `crm_daemon_dir`.
    pub crm_daemon_dir: Option<PathBuf>,
    /// `crmd_spawns_pengine`.
    pub crmd_spawns_pengine: bool,
    /// `pacemaker` (or `crm`).
    pub pacemaker: PacemakerMode,
    /// `auto_failback` (also set by the obsolete `nice_failback`).
    pub auto_failback: AutoFailback,
    /// `record_config_changes`.
    pub record_config_changes: bool,
    /// `record_pengine_inputs`.
    pub record_pengine_inputs: bool,
    /// `enable_config_writes`.
    pub enable_config_writes: bool,
    /// `stonith` and `stonith_host` lines in file order.
    pub stonith: Vec<StonithConfig>,

    /// `apiauth` lines as written; see [`HaCf::effective_apiauth`] for the
    /// built-in and Pacemaker-implied entries.
    pub apiauth: Vec<ApiAuth>,
    /// `respawn` and `failfast` lines in file order.
    pub children: Vec<ClientChild>,
    /// `env` settings in file order.
    pub env: Vec<EnvVar>,

    /// `watchdog` device.
    pub watchdog: Option<PathBuf>,
    /// `realtime`.
    pub realtime: bool,
    /// `rtprio`; `None` leaves cluster-glue's default priority.
    pub rtprio: Option<u8>,
    /// `memreserve`, in kilobytes.
    pub memreserve_kb: u32,
    /// `coredumps`.
    pub coredumps: bool,
    /// `coreroot`.
    pub coreroot: Option<PathBuf>,
    /// `hbgenmethod`.
    pub hbgenmethod: GenerationMethod,
    /// `uuidfrom`.
    pub uuidfrom: UuidFrom,
    /// `msgfmt`.
    pub msgfmt: MsgFmt,
    /// `compression`.
    pub compression: Compression,
    /// `compression_threshold`, in kilobytes.
    pub compression_threshold_kb: u32,
    /// `traditional_compression`.
    pub traditional_compression: bool,
    /// `max_rexmit_delay`.
    pub max_rexmit_delay: Duration,
    /// `use_apphbd`.
    pub use_apphbd: bool,

    /// Heartbeat's parameter table, as `cl_status hbparameter` reports it:
    /// each recorded directive's value as written in ha.cf (the last one
    /// wins), else Heartbeat's default string; derived timings read
    /// `<n>ms` as Heartbeat writes them.
    pub parameters: BTreeMap<String, String>,

    /// Line of the last explicit occurrence of each single-valued directive.
    pub(crate) set_at: BTreeMap<Directive, u32>,
}

impl HaCf {
    /// A configuration with placeholder values; the parser overwrites every
    /// field that has a default before reading any line.
    pub(crate) fn blank(path: &Path) -> Self {
        HaCf {
            path: path.to_path_buf(),
            use_logd: false,
            logfacility: None,
            logfile: None,
            debugfile: None,
            debug: 0,
            syslogmsgfmt: false,
            conn_logd_time: Duration::ZERO,
            log_badpack: false,
            keepalive: Duration::ZERO,
            warntime: Duration::ZERO,
            deadtime: Duration::ZERO,
            initdead: Duration::ZERO,
            deadping: Duration::ZERO,
            udpport: 0,
            baud: 0,
            media: Vec::new(),
            nodes: Vec::new(),
            node_lines: Vec::new(),
            autojoin: AutoJoin::None,
            cluster: String::new(),
            quorum_server: None,
            hopfudge: 0,
            crm_daemon_dir: None,
            crmd_spawns_pengine: false,
            pacemaker: PacemakerMode::Off,
            auto_failback: AutoFailback::Legacy,
            record_config_changes: false,
            record_pengine_inputs: false,
            enable_config_writes: false,
            stonith: Vec::new(),
            apiauth: Vec::new(),
            children: Vec::new(),
            env: Vec::new(),
            watchdog: None,
            realtime: false,
            rtprio: None,
            memreserve_kb: 0,
            coredumps: false,
            coreroot: None,
            hbgenmethod: GenerationMethod::File,
            uuidfrom: UuidFrom::File,
            msgfmt: MsgFmt::Classic,
            compression: Compression::Zlib,
            compression_threshold_kb: 0,
            traditional_compression: false,
            max_rexmit_delay: Duration::ZERO,
            use_apphbd: false,
            parameters: BTreeMap::new(),
            set_at: BTreeMap::new(),
        }
    }

    /// The line where a single-valued directive was last set, or `None` when
    /// its value is a default (or it accumulates, like `node`).
    pub fn line_of(&self, directive: Directive) -> Option<u32> {
        self.set_at.get(&directive).copied()
    }

    /// Whether ha.cf set this single-valued directive explicitly.
    pub fn is_explicit(&self, directive: Directive) -> bool {
        self.set_at.contains_key(&directive)
    }

    /// Ping pseudo-nodes (`ping`, `ping6` hosts and `ping_group` names),
    /// lowercased as in Heartbeat's node table, in file order.
    pub fn ping_nodes(&self) -> Vec<String> {
        self.media
            .iter()
            .filter_map(|m| match &m.kind {
                MediumKind::Ping { host } | MediumKind::Ping6 { host } => {
                    Some(host.to_ascii_lowercase())
                }
                MediumKind::PingGroup { name, .. } => Some(name.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    }

    /// Heartbeat's node table in the order ha.cf builds it: `node` names and
    /// ping pseudo-nodes in the order of their lines, each once. Heartbeat's
    /// API lists nodes in this order (and `cl_status` prints them reversed).
    pub fn node_table(&self) -> Vec<String> {
        let mut entries: Vec<(u32, String)> = self
            .node_lines
            .iter()
            .copied()
            .zip(self.nodes.iter().cloned())
            .collect();
        entries.extend(self.media.iter().filter_map(|m| match &m.kind {
            MediumKind::Ping { host } | MediumKind::Ping6 { host } => {
                Some((m.line, host.to_ascii_lowercase()))
            }
            MediumKind::PingGroup { name, .. } => Some((m.line, name.to_ascii_lowercase())),
            _ => None,
        }));
        // Stable: several names on one `node` line keep their order.
        entries.sort_by_key(|(line, _)| *line);
        let mut out: Vec<String> = Vec::new();
        for (_, name) in entries {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Whether `name` is listed by a `node` line (case-insensitively).
    pub fn has_node(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        self.nodes.contains(&lower)
    }

    /// Heartbeat's start-up check that the local node (its `uname -n`) is
    /// declared, unless `autojoin any` lets it add itself.
    pub fn check_local_node(&self, nodename: &str) -> Result<(), ConfigError> {
        if self.has_node(nodename) || self.autojoin == AutoJoin::Any {
            return Ok(());
        }
        Err(ConfigError::file(
            &self.path,
            format!(
                "current node '{}' is not in the configuration: cluster nodes are named by \
                 `uname -n` and must be declared with a 'node' directive (or use 'autojoin any')",
                nodename.to_ascii_lowercase()
            ),
        ))
    }

    /// Whether Heartbeat's own (v1, haresources) resource manager runs, i.e.
    /// Pacemaker is off.
    pub fn manages_resources(&self) -> bool {
        self.pacemaker == PacemakerMode::Off
    }

    /// The API authorizations in force: the `apiauth` lines, then those the
    /// `pacemaker` directive adds, then Heartbeat's built-in ones for
    /// services no line mentions.
    pub fn effective_apiauth(&self) -> Vec<ApiAuth> {
        let mut out = self.apiauth.clone();
        for (client, uids, gids) in self.pacemaker.implied_apiauth() {
            out.push(ApiAuth::implied(
                client,
                uids,
                gids,
                ApiAuthSource::Pacemaker,
            ));
        }
        for (client, uids, gids) in BUILTIN_APIAUTH {
            if !out.iter().any(|a| a.client == *client) {
                out.push(ApiAuth::implied(client, uids, gids, ApiAuthSource::BuiltIn));
            }
        }
        out
    }

    /// The daemons the `pacemaker` directive makes Heartbeat start, in start
    /// order (stopped in reverse), as Heartbeat 3.0.6's `set_pcmk_support`
    /// chooses them.
    pub fn pacemaker_children(&self) -> Vec<PacemakerChild> {
        self.pacemaker.children(self.crmd_spawns_pengine)
    }
}

/// An implied API authorization: (client, user names, group names).
pub(crate) type ImpliedAuth = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// Heartbeat's default API authorizations for well-known services, used when
/// no `apiauth` line names them.
pub(crate) const BUILTIN_APIAUTH: &[ImpliedAuth] = &[
    ("ipfail", &[CLUSTER_USER], &[]),
    ("ccm", &[CLUSTER_USER], &[]),
    ("ping", &[], &[CLUSTER_GROUP]),
    ("lha-snmpagent", &["root"], &[]),
    ("anon", &["root"], &[CLUSTER_GROUP]),
];

/// A syslog facility accepted by `logfacility` (glibc's `facilitynames`).
/// The one facility type of the project: logging and logd use it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub enum SyslogFacility {
    Kern,
    Auth,
    AuthPriv,
    Cron,
    Daemon,
    Ftp,
    Lpr,
    Mail,
    News,
    Syslog,
    User,
    Uucp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl SyslogFacility {
    /// Every facility with its ha.cf name and `<syslog.h>` code.
    pub const ALL: &'static [(SyslogFacility, &'static str, u32)] = &[
        (SyslogFacility::Kern, "kern", 0),
        (SyslogFacility::Auth, "auth", 4 << 3),
        (SyslogFacility::AuthPriv, "authpriv", 10 << 3),
        (SyslogFacility::Cron, "cron", 9 << 3),
        (SyslogFacility::Daemon, "daemon", 3 << 3),
        (SyslogFacility::Ftp, "ftp", 11 << 3),
        (SyslogFacility::Lpr, "lpr", 6 << 3),
        (SyslogFacility::Mail, "mail", 2 << 3),
        (SyslogFacility::News, "news", 7 << 3),
        (SyslogFacility::Syslog, "syslog", 5 << 3),
        (SyslogFacility::User, "user", 1 << 3),
        (SyslogFacility::Uucp, "uucp", 8 << 3),
        (SyslogFacility::Local0, "local0", 16 << 3),
        (SyslogFacility::Local1, "local1", 17 << 3),
        (SyslogFacility::Local2, "local2", 18 << 3),
        (SyslogFacility::Local3, "local3", 19 << 3),
        (SyslogFacility::Local4, "local4", 20 << 3),
        (SyslogFacility::Local5, "local5", 21 << 3),
        (SyslogFacility::Local6, "local6", 22 << 3),
        (SyslogFacility::Local7, "local7", 23 << 3),
    ];

    /// Parses a facility name, case-sensitively like Heartbeat; `security`
    /// is the old name of `auth`.
    pub fn from_name(name: &str) -> Option<SyslogFacility> {
        if name == "security" {
            return Some(SyslogFacility::Auth);
        }
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, _)| *f)
    }

    /// The ha.cf name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("user", |(_, n, _)| n)
    }

    /// The `<syslog.h>` facility code (already shifted, like `LOG_LOCAL0`).
    pub fn code(self) -> u32 {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or(1 << 3, |(_, _, c)| *c)
    }
}

impl fmt::Display for SyslogFacility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `autojoin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoJoin {
    /// Only `node`-listed nodes are members.
    None,
    /// Nodes other than ourselves may join unlisted.
    Other,
    /// Any node, ourselves included, may join unlisted.
    Any,
}

/// `auto_failback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    /// Resources move back to their home node.
    On,
    /// Resources stay where they run.
    Off,
    /// Failback for clusters with nodes that predate auto_failback
    /// (Heartbeat's default; deprecated).
    Legacy,
}

/// `pacemaker` / `crm` values as Heartbeat 3.0.6 distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacemakerMode {
    /// `off`, `no`, `false`, `n`, `0`: Heartbeat's own v1 resource manager.
    Off,
    /// `on`, `yes`, `true`, `y`, `1`: start every Pacemaker daemon; ccm, cib,
    /// pengine and crmd are failfast (their death reboots the node).
    On,
    /// `respawn`: start every Pacemaker daemon and just restart them.
    Respawn,
    /// `minimal` or `manual`: only ccm, cib, lrmd and crmd (failfast as `On`).
    Minimal,
    /// `ccm-only`: only ccm; pacemakerd is started by its own init script.
    CcmOnly,
    /// `valgrind`: like `respawn`, with cib, attrd, pengine, crmd under valgrind.
    Valgrind,
}

impl PacemakerMode {
    /// Parses a value case-insensitively as Heartbeat does.
    pub fn from_value(value: &str) -> Option<PacemakerMode> {
        let v = value.to_ascii_lowercase();
        Some(match v.as_str() {
            "minimal" | "manual" => PacemakerMode::Minimal,
            "respawn" => PacemakerMode::Respawn,
            "ccm-only" => PacemakerMode::CcmOnly,
            "valgrind" => PacemakerMode::Valgrind,
            _ => match parse_bool(&v) {
                Some(true) => PacemakerMode::On,
                Some(false) => PacemakerMode::Off,
                None => return None,
            },
        })
    }

    /// The canonical ha.cf value.
    pub fn as_str(self) -> &'static str {
        match self {
            PacemakerMode::Off => "off",
            PacemakerMode::On => "on",
            PacemakerMode::Respawn => "respawn",
            PacemakerMode::Minimal => "minimal",
            PacemakerMode::CcmOnly => "ccm-only",
            PacemakerMode::Valgrind => "valgrind",
        }
    }

    /// Whether any Pacemaker support is enabled.
    pub fn is_enabled(self) -> bool {
        self != PacemakerMode::Off
    }

    /// The API authorizations this mode adds: (client, uids, gids).
    pub(crate) fn implied_apiauth(self) -> &'static [ImpliedAuth] {
        const ALL: &[ImpliedAuth] = &[
            ("cib", &[CLUSTER_USER], &[]),
            ("crmd", &[CLUSTER_USER], &[]),
            ("stonithd", &["root"], &[]),
            ("stonith-ng", &["root"], &[]),
            ("attrd", &[CLUSTER_USER], &[]),
            ("pingd", &["root"], &[]),
        ];
        match self {
            PacemakerMode::Off => &[],
            PacemakerMode::Minimal => &ALL[..2],
            _ => ALL,
        }
    }

    /// The daemons started for this mode, in start order.
    pub fn children(self, crmd_spawns_pengine: bool) -> Vec<PacemakerChild> {
        // (daemon, user, skipped by minimal, valgrind-able, failfast under on/minimal)
        const TABLE: &[(&str, &str, bool, bool, bool)] = &[
            ("ccm", CLUSTER_USER, false, false, true),
            ("cib", CLUSTER_USER, false, true, true),
            ("stonithd", "root", true, false, false),
            ("lrmd", "root", false, false, false),
            ("attrd", CLUSTER_USER, true, true, false),
            ("pengine", CLUSTER_USER, true, true, true),
            ("crmd", CLUSTER_USER, false, true, true),
        ];
        let mut out = Vec::new();
        if self == PacemakerMode::Off {
            return out;
        }
        for (i, &(daemon, user, skip_minimal, valgrindable, failfast)) in TABLE.iter().enumerate() {
            if self == PacemakerMode::CcmOnly && i > 0 {
                break;
            }
            if self == PacemakerMode::Minimal && skip_minimal {
                continue;
            }
            if daemon == "pengine" && crmd_spawns_pengine {
                continue;
            }
            out.push(PacemakerChild {
                daemon,
                user,
                failfast: failfast && matches!(self, PacemakerMode::On | PacemakerMode::Minimal),
                valgrind: valgrindable && self == PacemakerMode::Valgrind,
                look_in_crm_daemon_dir: daemon != "ccm",
            });
        }
        out
    }
}

impl fmt::Display for PacemakerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A daemon the `pacemaker` directive makes Heartbeat start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacemakerChild {
    /// Program name (`ccm`, `cib`, `stonithd`, `lrmd`, `attrd`, `pengine`, `crmd`).
    pub daemon: &'static str,
    /// User it runs as.
    pub user: &'static str,
    /// Its death reboots the node instead of restarting it.
    pub failfast: bool,
    /// Run under valgrind (`pacemaker valgrind`).
    pub valgrind: bool,
    /// Looked for in `crm_daemon_dir` first, then in Heartbeat's own
    /// directory (lrmd from there gets `-r`); ccm only in Heartbeat's.
    pub look_in_crm_daemon_dir: bool,
}

/// `hbgenmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationMethod {
    /// Stored in a file and incremented on each start.
    File,
    /// Taken from the time of day.
    Time,
}

/// `uuidfrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidFrom {
    /// Generated once and kept in `hb_uuid`.
    File,
    /// The node name is used as the UUID.
    Nodename,
}

/// `msgfmt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgFmt {
    /// `name=value` text lines, binary fields in base64.
    Classic,
    /// Netstrings with raw binary fields.
    Netstring,
}

/// `compression` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zlib (deflate).
    Zlib,
    /// bzip2.
    Bz2,
}

/// One communication medium, as declared on ha.cf line `line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medium {
    /// The 1-based ha.cf line that declared it.
    pub line: u32,
    /// What kind of medium, with its parameters.
    pub kind: MediumKind,
}

/// The kinds of media (Heartbeat's HBcomm plugins built by Debian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediumKind {
    /// `bcast IFACE`: UDP broadcast on the interface.
    Bcast {
        /// Interface name.
        interface: String,
        /// UDP port: the `udpport` in force at the first bcast line.
        port: u16,
    },
    /// `mcast IFACE GROUP PORT TTL LOOP`.
    Mcast {
        /// Interface name.
        interface: String,
        /// Multicast group (224.0.0.0/4).
        group: Ipv4Addr,
        /// UDP port (udpport does not apply).
        port: u16,
        /// IP_MULTICAST_TTL, 0..=4.
        ttl: u8,
        /// IP_MULTICAST_LOOP.
        loopback: bool,
    },
    /// `mcast6 IFACE GROUP PORT HOPS LOOP`.
    Mcast6 {
        /// Interface name.
        interface: String,
        /// IPv6 multicast group.
        group: Ipv6Addr,
        /// UDP port.
        port: u16,
        /// IPV6_MULTICAST_HOPS, 0..=4.
        hops: u8,
        /// IPV6_MULTICAST_LOOP.
        loopback: bool,
    },
    /// `ucast IFACE PEER`.
    Ucast {
        /// Interface name.
        interface: String,
        /// Peer address or host name.
        peer: String,
        /// UDP port: the `udpport` in force at the first ucast line.
        port: u16,
    },
    /// `ucast6 IFACE PEER6[%SCOPE]`.
    Ucast6 {
        /// Interface name.
        interface: String,
        /// Peer IPv6 address.
        peer: Ipv6Addr,
        /// Scope id given after `%`, if any.
        scope: Option<String>,
        /// UDP port: the `udpport` in force at the first ucast6 line.
        port: u16,
    },
    /// `serial DEVICE`.
    Serial {
        /// Full path of the tty.
        device: PathBuf,
        /// Baud rate: the `baud` in force at the first serial line.
        baud: u32,
    },
    /// `ping HOST`: an IPv4 ping node.
    Ping {
        /// Host name or address.
        host: String,
    },
    /// `ping6 HOST`: an IPv6 ping node.
    Ping6 {
        /// Host name or address.
        host: String,
    },
    /// `ping_group NAME HOST...`.
    PingGroup {
        /// The pseudo-node name.
        name: String,
        /// Member hosts; any one answering keeps the group up.
        hosts: Vec<String>,
    },
}

impl MediumKind {
    /// The directive that declares this kind.
    pub fn directive_name(&self) -> &'static str {
        match self {
            MediumKind::Bcast { .. } => "bcast",
            MediumKind::Mcast { .. } => "mcast",
            MediumKind::Mcast6 { .. } => "mcast6",
            MediumKind::Ucast { .. } => "ucast",
            MediumKind::Ucast6 { .. } => "ucast6",
            MediumKind::Serial { .. } => "serial",
            MediumKind::Ping { .. } => "ping",
            MediumKind::Ping6 { .. } => "ping6",
            MediumKind::PingGroup { .. } => "ping_group",
        }
    }

    /// Whether this is a ping medium (a pseudo-node rather than a link).
    pub fn is_ping(&self) -> bool {
        matches!(
            self,
            MediumKind::Ping { .. } | MediumKind::Ping6 { .. } | MediumKind::PingGroup { .. }
        )
    }
}

impl fmt::Display for MediumKind {
    /// The ha.cf line declaring this medium.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.directive_name();
        match self {
            MediumKind::Bcast { interface, .. } => write!(f, "{name} {interface}"),
            MediumKind::Mcast {
                interface,
                group,
                port,
                ttl,
                loopback,
            } => write!(
                f,
                "{name} {interface} {group} {port} {ttl} {}",
                u8::from(*loopback)
            ),
            MediumKind::Mcast6 {
                interface,
                group,
                port,
                hops,
                loopback,
            } => write!(
                f,
                "{name} {interface} {group} {port} {hops} {}",
                u8::from(*loopback)
            ),
            MediumKind::Ucast {
                interface, peer, ..
            } => write!(f, "{name} {interface} {peer}"),
            MediumKind::Ucast6 {
                interface,
                peer,
                scope,
                ..
            } => match scope {
                Some(s) => write!(f, "{name} {interface} {peer}%{s}"),
                None => write!(f, "{name} {interface} {peer}"),
            },
            MediumKind::Serial { device, .. } => write!(f, "{name} {}", device.display()),
            MediumKind::Ping { host } | MediumKind::Ping6 { host } => write!(f, "{name} {host}"),
            MediumKind::PingGroup { name: group, hosts } => {
                write!(f, "{name} {group} {}", hosts.join(" "))
            }
        }
    }
}

/// A `stonith` or `stonith_host` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StonithConfig {
    /// `stonith TYPE CONFIGFILE`.
    File {
        /// Line it came from.
        line: u32,
        /// STONITH plugin type.
        stonith_type: String,
        /// Its configuration file.
        config_file: String,
    },
    /// `stonith_host FROMHOST|* TYPE PARAMS...`.
    Host {
        /// Line it came from.
        line: u32,
        /// Node the device is reachable from (lowercased), or `*`.
        from_host: String,
        /// STONITH plugin type.
        stonith_type: String,
        /// Plugin parameters as written.
        params: String,
    },
}

/// A user or group in an `apiauth` list: a number, or a name resolved when
/// the daemon starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Numeric id.
    Id(u32),
    /// User or group name.
    Name(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Id(n) => write!(f, "{n}"),
            Principal::Name(s) => f.write_str(s),
        }
    }
}

/// Where an API authorization comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAuthSource {
    /// An `apiauth` line at this line number.
    Line(u32),
    /// Added by the `pacemaker` directive.
    Pacemaker,
    /// Heartbeat's built-in default for a well-known service.
    BuiltIn,
}

/// Who may connect to the API as one client name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    /// Client (API group) name; `default` covers clients not listed.
    pub client: String,
    /// Allowed users.
    pub uids: Vec<Principal>,
    /// Allowed groups.
    pub gids: Vec<Principal>,
    /// Where it comes from.
    pub source: ApiAuthSource,
}

impl ApiAuth {
    fn implied(client: &str, uids: &[&str], gids: &[&str], source: ApiAuthSource) -> Self {
        let p = |v: &[&str]| {
            v.iter()
                .map(|s| Principal::Name((*s).to_string()))
                .collect()
        };
        ApiAuth {
            client: client.to_string(),
            uids: p(uids),
            gids: p(gids),
            source,
        }
    }
}

impl fmt::Display for ApiAuth {
    /// The `apiauth` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: &[Principal]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(f, "apiauth {}", self.client)?;
        if !self.uids.is_empty() {
            write!(f, " uid={}", join(&self.uids))?;
        }
        if !self.gids.is_empty() {
            write!(f, " gid={}", join(&self.gids))?;
        }
        Ok(())
    }
}

/// A `respawn` or `failfast` child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChild {
    /// Line it came from.
    pub line: u32,
    /// User to run as (resolved when the daemon starts).
    pub user: String,
    /// The command as written (absolute program path, then arguments).
    pub command: String,
    /// The program path (first word of the command).
    pub path: PathBuf,
    /// The arguments (remaining words).
    pub args: Vec<String>,
    /// `failfast`: its death reboots the node instead of a restart.
    pub failfast: bool,
}

/// An `env NAME=VALUE` setting, exported to children as `HA_NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Line it came from.
    pub line: u32,
    /// The name as written (without the `HA_` prefix).
    pub name: String,
    /// The value.
    pub value: String,
}

impl EnvVar {
    /// The variable name children see (`HA_` + name).
    pub fn exported_name(&self) -> String {
        format!("HA_{}", self.name)
    }
}

/// Heartbeat's boolean words (`cl_str_to_boolean`), case-insensitive.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

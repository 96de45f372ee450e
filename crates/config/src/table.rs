//! The one table of ha.cf directives. The parser looks every directive up
//! here (which names exist, how the value is split, whether it may repeat,
//! what the default is), `--check` walks it for its output order, and the
//! administrator's guide is meant to be generated from it, so the three can
//! never disagree about what Heartbeat 3 accepts.

/// Identifies what a directive does; several names can share one (`crm` is
/// `pacemaker`, `udp` is `bcast`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Directive {
    /// `use_logd`
    UseLogd,
    /// `logfacility`
    LogFacility,
    /// `logfile`
    LogFile,
    /// `debugfile`
    DebugFile,
    /// `debug`
    Debug,
    /// `syslogmsgfmt`
    SyslogMsgFmt,
    /// `conn_logd_time`
    ConnLogdTime,
    /// `log_badpack`
    LogBadpack,
    /// `keepalive`
    Keepalive,
    /// `warntime`
    Warntime,
    /// `deadtime`
    Deadtime,
    /// `initdead`
    Initdead,
    /// `deadping`
    Deadping,
    /// `udpport`
    UdpPort,
    /// `baud`
    Baud,
    /// `bcast` (and its old name `udp`)
    Bcast,
    /// `mcast`
    Mcast,
    /// `mcast6`
    Mcast6,
    /// `ucast`
    Ucast,
    /// `ucast6`
    Ucast6,
    /// `serial`
    Serial,
    /// `ping`
    Ping,
    /// `ping6`
    Ping6,
    /// `ping_group`
    PingGroup,
    /// `node`
    Node,
    /// `autojoin`
    Autojoin,
    /// `cluster`
    Cluster,
    /// `quorum_server`
    QuorumServer,
    /// `hopfudge`
    Hopfudge,
    /// `auto_failback`
    AutoFailback,
    /// `nice_failback` (obsolete spelling of auto_failback)
    NiceFailback,
    /// `watchdog`
    Watchdog,
    /// `realtime`
    Realtime,
    /// `rtprio`
    Rtprio,
    /// `memreserve`
    Memreserve,
    /// `coredumps`
    Coredumps,
    /// `coreroot`
    Coreroot,
    /// `hbgenmethod`
    HbGenMethod,
    /// `uuidfrom`
    UuidFrom,
    /// `msgfmt`
    MsgFmt,
    /// `compression`
    Compression,
    /// `compression_threshold`
    CompressionThreshold,
    /// `traditional_compression`
    TraditionalCompression,
    /// `max_rexmit_delay`
    MaxRexmitDelay,
    /// `use_apphbd`
    UseApphbd,
    /// `apiauth`
    ApiAuth,
    /// `respawn`
    Respawn,
    /// `failfast`
    Failfast,
    /// `env`
    Env,
    /// `stonith`
    Stonith,
    /// `stonith_host`
    StonithHost,
    /// `crm_daemon_dir`
    CrmDaemonDir,
    /// `crmd_spawns_pengine`
    CrmdSpawnsPengine,
    /// `pacemaker` (and its historical name `crm`)
    Pacemaker,
    /// `record_config_changes`
    RecordConfigChanges,
    /// `record_pengine_inputs`
    RecordPengineInputs,
    /// `enable_config_writes`
    EnableConfigWrites,
}

/// How the text after a directive name is handed to the directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Split at blanks and commas; every value is applied on its own, as if it
    /// had its own line (`node a b c`, `bcast eth0 eth1`). For single-valued
    /// directives a second value acts like a repeated directive.
    EachValue,
    /// The rest of the line is one statement with its own syntax
    /// (`mcast`, `ucast`, `apiauth`, `respawn`, `stonith_host`, ...).
    WholeLine,
}

/// What happens when a directive is given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Each occurrence adds an entry (nodes, media, respawn, apiauth, ...).
    Accumulate,
    /// A later value replaces an earlier one; we warn, Heartbeat is silent.
    LastWins,
    /// A second occurrence is an error, as Heartbeat makes it
    /// (`watchdog`, `baud`, `pacemaker`/`crm`).
    Once,
}

/// A directive's value when ha.cf does not give one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the setting is simply absent.
    None,
    /// A fixed value, written in ha.cf syntax; the parser applies it through
    /// the same code as a value read from the file.
    Fixed(&'static str),
    /// Computed from other settings after the whole file is read; the text
    /// says how.
    Derived(&'static str),
}

/// Documentation groups, in the order the guide presents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Where and how Heartbeat logs.
    Logging,
    /// Heartbeat intervals and failure-detection times.
    Timing,
    /// Communication paths (media) and their parameters.
    Media,
    /// Which nodes belong to the cluster.
    Membership,
    /// Resource management (Pacemaker or Heartbeat's own v1 manager).
    ResourceManagement,
    /// Child processes and API access.
    Processes,
    /// Process and protocol tuning.
    Tuning,
}

/// One row of the directive table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectiveSpec {
    /// The name as written in ha.cf (directive names are case-sensitive).
    pub name: &'static str,
    /// What it does; aliases share the target's value.
    pub directive: Directive,
    /// When this name is an alias, the name it stands for.
    pub alias_of: Option<&'static str>,
    /// Usage, e.g. `mcast IFACE GROUP PORT TTL LOOP`.
    pub syntax: &'static str,
    /// The value used when ha.cf does not give one.
    pub default: DefaultValue,
    /// One line saying what the directive is for.
    pub meaning: &'static str,
    /// How the value text is split.
    pub arity: Arity,
    /// Whether and how it may repeat.
    pub repeat: Repeat,
    /// Documentation group.
    pub category: Category,
    /// Kept for old files only; using it draws a warning.
    pub deprecated: bool,
}

const fn spec(
    name: &'static str,
    directive: Directive,
    syntax: &'static str,
    default: DefaultValue,
    meaning: &'static str,
    category: Category,
) -> DirectiveSpec {
    DirectiveSpec {
        name,
        directive,
        alias_of: None,
        syntax,
        default,
        meaning,
        arity: Arity::EachValue,
        repeat: Repeat::LastWins,
        category,
        deprecated: false,
    }
}

const fn many(mut s: DirectiveSpec) -> DirectiveSpec {
    s.repeat = Repeat::Accumulate;
    s
}

const fn once(mut s: DirectiveSpec) -> DirectiveSpec {
    s.repeat = Repeat::Once;
    s
}

const fn line(mut s: DirectiveSpec) -> DirectiveSpec {
    s.arity = Arity::WholeLine;
    s
}

const fn alias(mut s: DirectiveSpec, of: &'static str) -> DirectiveSpec {
    s.alias_of = Some(of);
    s
}

const fn deprecated(mut s: DirectiveSpec) -> DirectiveSpec {
    s.deprecated = true;
    s
}

use Category as C;
use DefaultValue::{Derived, Fixed, None as NoDefault};
use Directive as D;

/// Every directive Heartbeat 3.0.6 accepts in ha.cf (its `Directives[]` and
/// whole-line tables, plus the communication plugins Debian builds), in the
/// order `heartbeat --check` prints them. Aliases follow their target.
#[rustfmt::skip]
pub static DIRECTIVES: &[DirectiveSpec] = &[
    // Logging.
    spec("use_logd", D::UseLogd, "use_logd on|off",
        Derived("on when none of logfile, debugfile, logfacility is set, otherwise off"),
        "send log messages through the logging daemon (ha_logd)", C::Logging),
    spec("logfacility", D::LogFacility, "logfacility FACILITY|none", NoDefault,
        "syslog facility for Heartbeat's messages (auth, daemon, local0..local7, ...); none disables syslog",
        C::Logging),
    spec("logfile", D::LogFile, "logfile PATH",
        Derived("/dev/null when logfacility is set, otherwise none"),
        "file receiving all non-debug messages", C::Logging),
    spec("debugfile", D::DebugFile, "debugfile PATH",
        Derived("/dev/null when logfacility is set, otherwise none"),
        "file receiving debug messages", C::Logging),
    spec("debug", D::Debug, "debug LEVEL", Fixed("0"),
        "debug level 0..255 (0 = off; above 1 may slow heartbeats down)", C::Logging),
    spec("syslogmsgfmt", D::SyslogMsgFmt, "syslogmsgfmt on|off", Fixed("true"),
        "write log files in syslog's line format", C::Logging),
    spec("conn_logd_time", D::ConnLogdTime, "conn_logd_time TIME", Fixed("60"),
        "wait at least this long before reconnecting to the logging daemon", C::Logging),
    spec("log_badpack", D::LogBadpack, "log_badpack on|off", Fixed("true"),
        "log packets that fail to parse", C::Logging),
    // Timing.
    spec("keepalive", D::Keepalive, "keepalive TIME", Fixed("1000ms"),
        "interval between heartbeats", C::Timing),
    spec("warntime", D::Warntime, "warntime TIME", Derived("deadtime / 2"),
        "silence after which a late-heartbeat warning is logged", C::Timing),
    spec("deadtime", D::Deadtime, "deadtime TIME", Fixed("30000ms"),
        "silence after which a node is declared dead; must exceed 2 x keepalive", C::Timing),
    spec("initdead", D::Initdead, "initdead TIME",
        Derived("deadtime when deadtime > 10s; 12s when deadtime < 6s; otherwise 2 x deadtime"),
        "deadtime used right after startup, while networks come up; >= deadtime", C::Timing),
    spec("deadping", D::Deadping, "deadping TIME", Derived("deadtime"),
        "silence after which a ping node is declared dead", C::Timing),
    // Media parameters, then media.
    spec("udpport", D::UdpPort, "udpport PORT", Fixed("694"),
        "UDP port of bcast, ucast and ucast6 media; must precede them", C::Media),
    once(spec("baud", D::Baud, "baud 9600|19200|38400|57600|115200|230400|460800", Fixed("19200"),
        "speed of serial media; must precede them", C::Media)),
    many(spec("bcast", D::Bcast, "bcast IFACE...", NoDefault,
        "UDP broadcast heartbeats on each interface", C::Media)),
    deprecated(alias(many(spec("udp", D::Bcast, "udp IFACE...", NoDefault,
        "old name of bcast", C::Media)), "bcast")),
    many(line(spec("mcast", D::Mcast, "mcast IFACE GROUP PORT TTL LOOP", NoDefault,
        "UDP IPv4 multicast heartbeats (GROUP in 224.0.0.0/4, TTL 0..4, LOOP 0|1)", C::Media))),
    many(line(spec("mcast6", D::Mcast6, "mcast6 IFACE GROUP PORT HOPS LOOP", NoDefault,
        "UDP IPv6 multicast heartbeats (GROUP e.g. in ff12::/16, HOPS 0..4, LOOP 0|1)", C::Media))),
    many(line(spec("ucast", D::Ucast, "ucast IFACE PEER", NoDefault,
        "UDP unicast heartbeats to PEER (a line for our own address is ignored)", C::Media))),
    many(line(spec("ucast6", D::Ucast6, "ucast6 IFACE PEER6[%SCOPE]", NoDefault,
        "UDP IPv6 unicast heartbeats to PEER6", C::Media))),
    many(spec("serial", D::Serial, "serial DEVICE...", NoDefault,
        "heartbeats over each serial port (full path of the tty)", C::Media)),
    many(spec("ping", D::Ping, "ping HOST...", NoDefault,
        "ICMP ping node: each HOST becomes a pseudo cluster member", C::Media)),
    many(spec("ping6", D::Ping6, "ping6 HOST...", NoDefault,
        "ICMPv6 ping node: each HOST becomes a pseudo cluster member", C::Media)),
    many(line(spec("ping_group", D::PingGroup, "ping_group NAME HOST...", NoDefault,
        "one pseudo member NAME, up while any of the HOSTs answers pings", C::Media))),
    // Membership.
    many(spec("node", D::Node, "node NAME...", NoDefault,
        "cluster members by uname -n (case-insensitive); repeatable", C::Membership)),
    spec("autojoin", D::Autojoin, "autojoin none|other|any", Fixed("none"),
        "let unlisted nodes join: other = anyone but us, any = even us", C::Membership),
    spec("cluster", D::Cluster, "cluster NAME", Fixed("linux-ha"),
        "name of the cluster", C::Membership),
    spec("quorum_server", D::QuorumServer, "quorum_server HOST", NoDefault,
        "name or address of the quorum server", C::Membership),
    spec("hopfudge", D::Hopfudge, "hopfudge N", Fixed("1"),
        "hops a packet may travel beyond the node count (serial rings), 0..255", C::Membership),
    // Resource management.
    spec("crm_daemon_dir", D::CrmDaemonDir, "crm_daemon_dir DIR", NoDefault,
        "where to look first for Pacemaker daemons; must precede pacemaker", C::ResourceManagement),
    spec("crmd_spawns_pengine", D::CrmdSpawnsPengine, "crmd_spawns_pengine on|off", Fixed("on"),
        "off: heartbeat respawns pengine itself; must precede pacemaker", C::ResourceManagement),
    once(spec("pacemaker", D::Pacemaker,
        "pacemaker on|off|respawn|minimal|manual|ccm-only|valgrind", Fixed("false"),
        "start the Pacemaker daemons (ccm, cib, stonithd, lrmd, attrd, crmd)", C::ResourceManagement)),
    once(alias(spec("crm", D::Pacemaker,
        "crm on|off|respawn|minimal|manual|ccm-only|valgrind", NoDefault,
        "historical name of pacemaker", C::ResourceManagement), "pacemaker")),
    spec("auto_failback", D::AutoFailback, "auto_failback on|off|legacy", Fixed("legacy"),
        "v1 resource manager: move resources back to their home node", C::ResourceManagement),
    deprecated(spec("nice_failback", D::NiceFailback, "nice_failback on|off", NoDefault,
        "obsolete: on means auto_failback off, off means auto_failback legacy",
        C::ResourceManagement)),
    spec("record_config_changes", D::RecordConfigChanges, "record_config_changes on|off", Fixed("on"),
        "keep a record of CIB changes (Pacemaker only)", C::ResourceManagement),
    spec("record_pengine_inputs", D::RecordPengineInputs, "record_pengine_inputs on|off", Fixed("on"),
        "keep the policy engine's inputs (Pacemaker only)", C::ResourceManagement),
    spec("enable_config_writes", D::EnableConfigWrites, "enable_config_writes on|off", Fixed("on"),
        "write configuration changes to disk (Pacemaker only)", C::ResourceManagement),
    many(line(spec("stonith", D::Stonith, "stonith TYPE CONFIGFILE", NoDefault,
        "v1 STONITH device configured from a file", C::ResourceManagement))),
    many(line(spec("stonith_host", D::StonithHost, "stonith_host FROMHOST|* TYPE PARAMS...", NoDefault,
        "v1 STONITH device reachable from FROMHOST (or any host: *)", C::ResourceManagement))),
    // Processes and API access.
    many(line(spec("apiauth", D::ApiAuth, "apiauth CLIENT [uid=U1,U2...] [gid=G1,G2...]",
        Derived("ipfail uid=hacluster; ccm uid=hacluster; ping gid=haclient; lha-snmpagent uid=root; anon uid=root gid=haclient"),
        "who may use the API as CLIENT (uid or gid list; one per client)", C::Processes))),
    many(line(spec("respawn", D::Respawn, "respawn USER /PATH [ARGS...]", NoDefault,
        "run a child as USER and restart it when it exits (unless with status 100)", C::Processes))),
    many(line(spec("failfast", D::Failfast, "failfast USER /PATH [ARGS...]", NoDefault,
        "like respawn, but reboot the node when the child dies", C::Processes))),
    many(spec("env", D::Env, "env NAME=VALUE...", NoDefault,
        "export HA_NAME=VALUE to respawned children", C::Processes)),
    // Tuning.
    once(spec("watchdog", D::Watchdog, "watchdog DEVICE", NoDefault,
        "watchdog device kept alive by Heartbeat's own heartbeats", C::Tuning)),
    spec("realtime", D::Realtime, "realtime on|off", Fixed("true"),
        "run with realtime scheduling and memory locked", C::Tuning),
    spec("rtprio", D::Rtprio, "rtprio 1..99", NoDefault,
        "SCHED_FIFO/RR priority when realtime is on", C::Tuning),
    spec("memreserve", D::Memreserve, "memreserve KBYTES", Fixed("6500"),
        "memory to preallocate and lock, in kilobytes", C::Tuning),
    spec("coredumps", D::Coredumps, "coredumps on|off", Fixed("true"),
        "allow Heartbeat processes to dump core", C::Tuning),
    spec("coreroot", D::Coreroot, "coreroot /DIR", NoDefault,
        "root of the core dump directories", C::Tuning),
    spec("hbgenmethod", D::HbGenMethod, "hbgenmethod file|time", Fixed("file"),
        "how the generation number (replay protection) is kept", C::Tuning),
    spec("uuidfrom", D::UuidFrom, "uuidfrom file|nodename", Fixed("file"),
        "take the node UUID from the hb_uuid file or from the node name", C::Tuning),
    spec("msgfmt", D::MsgFmt, "msgfmt classic|netstring", Fixed("classic"),
        "message encoding on the wire", C::Tuning),
    spec("compression", D::Compression, "compression zlib|bz2", Fixed("zlib"),
        "compression module for large messages", C::Tuning),
    spec("compression_threshold", D::CompressionThreshold, "compression_threshold KBYTES", Fixed("2"),
        "compress messages larger than this many kilobytes", C::Tuning),
    spec("traditional_compression", D::TraditionalCompression, "traditional_compression on|off",
        Fixed("no"), "compress whole messages, headers included", C::Tuning),
    spec("max_rexmit_delay", D::MaxRexmitDelay, "max_rexmit_delay MILLISECONDS", Fixed("250"),
        "longest random delay before answering a retransmit request", C::Tuning),
    spec("use_apphbd", D::UseApphbd, "use_apphbd on|off", Fixed("no"),
        "register with the application heartbeat daemon", C::Tuning),
];

/// Looks a directive name up, case-sensitively as Heartbeat does.
pub fn lookup_directive(name: &str) -> Option<&'static DirectiveSpec> {
    DIRECTIVES.iter().find(|s| s.name == name)
}

/// The canonical (non-alias) table row of a directive.
pub fn canonical_spec(directive: Directive) -> Option<&'static DirectiveSpec> {
    DIRECTIVES
        .iter()
        .find(|s| s.directive == directive && s.alias_of.is_none())
}

/// Whether a directive declares a communication medium.
pub fn is_medium(directive: Directive) -> bool {
    matches!(
        directive,
        D::Bcast
            | D::Mcast
            | D::Mcast6
            | D::Ucast
            | D::Ucast6
            | D::Serial
            | D::Ping
            | D::Ping6
            | D::PingGroup
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_aliases_resolve() {
        let mut seen = BTreeSet::new();
        for s in DIRECTIVES {
            assert!(seen.insert(s.name), "duplicate name {}", s.name);
            if let Some(target) = s.alias_of {
                let t = lookup_directive(target).expect("alias target exists");
                assert_eq!(t.directive, s.directive, "{} aliases {}", s.name, target);
                assert!(t.alias_of.is_none());
            }
        }
    }

    #[test]
    fn every_directive_has_one_canonical_row() {
        for s in DIRECTIVES {
            let c = canonical_spec(s.directive).expect("canonical row");
            assert_eq!(
                DIRECTIVES
                    .iter()
                    .filter(|x| x.directive == s.directive && x.alias_of.is_none())
                    .count(),
                1,
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn lookup_is_case_sensitive() {
        assert!(lookup_directive("keepalive").is_some());
        assert!(lookup_directive("Keepalive").is_none());
        assert!(lookup_directive("KEEPALIVE").is_none());
        assert_eq!(
            lookup_directive("crm").map(|s| s.directive),
            Some(Directive::Pacemaker)
        );
        assert_eq!(
            lookup_directive("udp").map(|s| s.directive),
            Some(Directive::Bcast)
        );
    }

    #[test]
    fn rows_are_documented() {
        for s in DIRECTIVES {
            assert!(
                s.syntax.starts_with(s.name),
                "{} syntax {}",
                s.name,
                s.syntax
            );
            assert!(!s.meaning.is_empty(), "{}", s.name);
        }
    }
}

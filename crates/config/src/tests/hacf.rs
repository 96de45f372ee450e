//! Table-driven tests of ha.cf parsing: every directive kind, units,
//! defaults, each error and warning, and real files from the Heartbeat 3.0.6
//! interop harness and documentation.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tests::Expect;
use crate::*;

const PATH: &str = "/etc/ha.d/ha.cf";

/// Appended after the lines under test: a valid configuration that draws no
/// warning on its own.
const BASE: &str = "bcast eth0\nnode a\nauto_failback on\nuse_logd yes";

fn with_base(extra: &str) -> String {
    format!("{extra}\n{BASE}\n")
}

fn parse_ok(text: &str) -> (HaCf, Vec<Warning>) {
    match parse_ha_cf(text, PATH) {
        Ok(x) => x,
        Err(errs) => panic!(
            "unexpected errors for {text:?}:\n{}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn ok(extra: &str) -> HaCf {
    parse_ok(&with_base(extra)).0
}

/// Asserts that `text` fails with exactly these errors: (line, text the
/// message must contain).
fn check_errors(text: &str, expected: &[(Option<u32>, &str)]) {
    let errs = match parse_ha_cf(text, PATH) {
        Ok(_) => panic!("expected errors for {text:?}"),
        Err(e) => e,
    };
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errs.len(),
        expected.len(),
        "input {text:?}\nerrors:\n{}",
        shown.join("\n")
    );
    for (e, (line, msg)) in errs.iter().zip(expected) {
        assert_eq!(e.line, *line, "input {text:?}: {e}");
        assert!(e.message.contains(msg), "input {text:?}: {e} lacks {msg:?}");
        assert_eq!(e.path, Path::new(PATH));
    }
}

/// Asserts that `text` parses and yields exactly these warnings.
fn check_warnings(text: &str, expected: &[(Option<u32>, &str)]) {
    let (_, warns) = parse_ok(text);
    let shown: Vec<String> = warns.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warns.len(),
        expected.len(),
        "input {text:?}\nwarnings:\n{}",
        shown.join("\n")
    );
    for (w, (line, msg)) in warns.iter().zip(expected) {
        assert_eq!(w.line, *line, "input {text:?}: {w}");
        assert!(w.message.contains(msg), "input {text:?}: {w} lacks {msg:?}");
    }
}

/// Asserts that the effective rendering of BASE + `extra` has the line
/// `expected`.
fn check_rendered(extra: &str, expected: &str) {
    // BASE first, so the line under test overrides BASE's auto_failback.
    let cfg = parse_ok(&format!("{BASE}\n{extra}\n")).0;
    let out = render_effective(&cfg, None);
    assert!(
        out.lines().any(|l| l == expected),
        "input {extra:?}: no line {expected:?} in\n{out}"
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn base_is_clean() {
    check_warnings(&with_base(""), &[]);
}

#[test]
fn defaults_match_heartbeat() {
    let c = ok("");
    assert_eq!(c.keepalive, ms(1000));
    assert_eq!(c.deadtime, ms(30_000));
    assert_eq!(c.warntime, ms(15_000), "deadtime / 2");
    assert_eq!(c.initdead, ms(30_000), "deadtime when above 10s");
    assert_eq!(c.deadping, ms(30_000), "deadtime");
    assert_eq!(c.udpport, 694);
    assert_eq!(c.baud, 19200);
    assert_eq!(c.hopfudge, 1);
    assert_eq!(c.debug, 0);
    assert_eq!(c.cluster, "linux-ha");
    assert_eq!(c.autojoin, AutoJoin::None);
    assert_eq!(c.pacemaker, PacemakerMode::Off);
    assert!(c.crmd_spawns_pengine);
    assert_eq!(c.hbgenmethod, GenerationMethod::File);
    assert_eq!(c.uuidfrom, UuidFrom::File);
    assert_eq!(c.msgfmt, MsgFmt::Classic);
    assert_eq!(c.compression, Compression::Zlib);
    assert_eq!(c.compression_threshold_kb, 2);
    assert!(!c.traditional_compression);
    assert_eq!(c.max_rexmit_delay, ms(250));
    assert_eq!(c.conn_logd_time, ms(60_000));
    assert_eq!(c.memreserve_kb, 6500);
    assert!(c.realtime && c.coredumps && c.log_badpack && c.syslogmsgfmt);
    assert!(c.record_config_changes && c.record_pengine_inputs && c.enable_config_writes);
    assert!(!c.use_apphbd);
    assert_eq!(c.rtprio, None);
    assert_eq!(c.watchdog, None);
    assert_eq!(c.logfacility, None);
    assert_eq!((c.logfile.as_ref(), c.debugfile.as_ref()), (None, None));
    assert!(c.use_logd);
    assert!(!c.is_explicit(Directive::Keepalive));
    assert!(c.is_explicit(Directive::UseLogd));
}

#[test]
fn derived_timing_defaults() {
    // (input, warntime, initdead, deadping) in ms
    let table: &[(&str, u64, u64, u64)] = &[
        ("deadtime 30", 15_000, 30_000, 30_000),
        ("deadtime 11", 5500, 11_000, 11_000),
        ("deadtime 10", 5000, 20_000, 10_000),
        ("deadtime 6", 3000, 12_000, 6000),
        ("deadtime 5\nkeepalive 1", 2500, 12_000, 5000),
        ("deadtime 500ms\nkeepalive 100ms", 250, 12_000, 500),
        (
            "deadtime 20\nwarntime 7\ninitdead 45\ndeadping 25",
            7000,
            45_000,
            25_000,
        ),
    ];
    for (input, warn, init, ping) in table {
        let c = ok(input);
        assert_eq!(
            (c.warntime, c.initdead, c.deadping),
            (ms(*warn), ms(*init), ms(*ping)),
            "input {input:?}"
        );
    }
}

#[test]
fn scalar_directives_render() {
    let table: &[(&str, &str)] = &[
        ("keepalive 100ms", "keepalive 100ms"),
        ("keepalive 2", "keepalive 2"),
        ("keepalive 0.5", "keepalive 500ms"),
        ("keepalive 1500msec", "keepalive 1500ms"),
        ("keepalive 250000us", "keepalive 250ms"),
        ("deadtime 45", "deadtime 45"),
        ("deadtime 10.5", "deadtime 10500ms"),
        ("warntime 10", "warntime 10"),
        ("initdead 120", "initdead 120"),
        ("deadping 40", "deadping 40"),
        ("udpport 695", "udpport 695"),
        ("baud 115200", "baud 115200"),
        ("autojoin none", "autojoin none"),
        ("cluster prod", "cluster prod"),
        ("quorum_server q1", "quorum_server q1"),
        ("hopfudge 3", "hopfudge 3"),
        ("debug 3", "debug 3"),
        ("logfacility local7", "logfacility local7"),
        ("logfacility security", "logfacility auth"),
        ("logfacility none", "logfacility none"),
        ("logfile /var/log/ha-log", "logfile /var/log/ha-log"),
        ("debugfile /var/log/ha-debug", "debugfile /var/log/ha-debug"),
        ("syslogmsgfmt off", "syslogmsgfmt off"),
        ("conn_logd_time 30", "conn_logd_time 30"),
        ("conn_logd_time 1500ms", "conn_logd_time 1500ms"),
        ("log_badpack n", "log_badpack off"),
        ("auto_failback off", "auto_failback off"),
        ("auto_failback LEGACY\npacemaker on", "auto_failback legacy"),
        ("auto_failback Yes", "auto_failback on"),
        ("watchdog /dev/watchdog", "watchdog /dev/watchdog"),
        ("realtime off", "realtime off"),
        ("rtprio 5", "rtprio 5"),
        ("memreserve 8000", "memreserve 8000"),
        ("coredumps false", "coredumps off"),
        (
            "coreroot /var/lib/heartbeat/cores",
            "coreroot /var/lib/heartbeat/cores",
        ),
        ("hbgenmethod time", "hbgenmethod time"),
        ("uuidfrom nodename", "uuidfrom nodename"),
        ("msgfmt netstring", "msgfmt netstring"),
        ("compression bz2", "compression bz2"),
        ("compression_threshold 20", "compression_threshold 20"),
        ("traditional_compression on", "traditional_compression on"),
        ("max_rexmit_delay 500", "max_rexmit_delay 500"),
        ("use_apphbd y", "use_apphbd on"),
        ("use_logd on", "use_logd on"),
        (
            "record_config_changes off\npacemaker on",
            "record_config_changes off",
        ),
        (
            "record_pengine_inputs 0\npacemaker on",
            "record_pengine_inputs off",
        ),
        (
            "enable_config_writes FALSE\npacemaker on",
            "enable_config_writes off",
        ),
        (
            "crm_daemon_dir /usr/lib/pacemaker\npacemaker on",
            "crm_daemon_dir /usr/lib/pacemaker",
        ),
        (
            "crmd_spawns_pengine off\npacemaker on",
            "crmd_spawns_pengine off",
        ),
        ("pacemaker respawn", "pacemaker respawn"),
        ("pacemaker manual", "pacemaker minimal"),
        ("pacemaker ccm-only", "pacemaker ccm-only"),
        ("pacemaker Valgrind", "pacemaker valgrind"),
        ("pacemaker off", "pacemaker off"),
        ("crm yes", "pacemaker on"),
        ("crm respawn", "pacemaker respawn"),
        ("crm no", "pacemaker off"),
        // Defaults are marked; derived ones say how.
        ("", "keepalive 1  # default"),
        ("", "deadtime 30  # default"),
        ("", "warntime 15  # default: deadtime / 2"),
        ("", "udpport 694  # default"),
        ("", "pacemaker off  # default"),
        ("", "compression zlib  # default"),
        ("", "max_rexmit_delay 250  # default"),
    ];
    for (input, expected) in table {
        check_rendered(input, expected);
    }
}

#[test]
fn boolean_words() {
    for (word, value) in [
        ("true", true),
        ("on", true),
        ("YES", true),
        ("y", true),
        ("1", true),
        ("false", false),
        ("Off", false),
        ("no", false),
        ("N", false),
        ("0", false),
    ] {
        assert_eq!(ok(&format!("realtime {word}")).realtime, value, "{word}");
    }
    check_errors(
        &with_base("realtime maybe"),
        &[(Some(1), "realtime: invalid boolean 'maybe'")],
    );
}

#[test]
fn crm_yes_enables_pacemaker() {
    let c = ok("crm yes");
    assert_eq!(c.pacemaker, PacemakerMode::On);
    assert!(c.pacemaker.is_enabled() && !c.manages_resources());
    let daemons: Vec<(&str, bool)> = c
        .pacemaker_children()
        .iter()
        .map(|p| (p.daemon, p.failfast))
        .collect();
    assert_eq!(
        daemons,
        [
            ("ccm", true),
            ("cib", true),
            ("stonithd", false),
            ("lrmd", false),
            ("attrd", false),
            ("crmd", true)
        ]
    );
}

#[test]
fn pacemaker_modes_choose_children() {
    let names = |extra: &str| -> Vec<&'static str> {
        ok(extra)
            .pacemaker_children()
            .iter()
            .map(|p| p.daemon)
            .collect()
    };
    assert_eq!(
        names("pacemaker respawn"),
        ["ccm", "cib", "stonithd", "lrmd", "attrd", "crmd"]
    );
    assert!(ok("pacemaker respawn")
        .pacemaker_children()
        .iter()
        .all(|p| !p.failfast));
    assert_eq!(
        names("crmd_spawns_pengine off\npacemaker respawn"),
        ["ccm", "cib", "stonithd", "lrmd", "attrd", "pengine", "crmd"]
    );
    assert_eq!(names("pacemaker minimal"), ["ccm", "cib", "lrmd", "crmd"]);
    assert_eq!(names("pacemaker ccm-only"), ["ccm"]);
    assert_eq!(names("pacemaker off"), Vec::<&str>::new());
    let valgrind: Vec<&str> = ok("pacemaker valgrind")
        .pacemaker_children()
        .iter()
        .filter(|p| p.valgrind)
        .map(|p| p.daemon)
        .collect();
    assert_eq!(valgrind, ["cib", "attrd", "crmd"]);
}

#[test]
fn nodes_repeat_lowercase_and_split_on_commas() {
    let c =
        parse_ok("bcast eth0\nnode Alpha beta,GAMMA\nnode delta\nauto_failback on\nuse_logd on\n")
            .0;
    assert_eq!(c.nodes, ["alpha", "beta", "gamma", "delta"]);
    assert!(c.has_node("ALPHA"));
    assert!(!c.has_node("epsilon"));
    assert!(c.check_local_node("Gamma").is_ok());
    let e = c.check_local_node("epsilon").unwrap_err();
    assert!(e
        .to_string()
        .starts_with("/etc/ha.d/ha.cf: current node 'epsilon' is not in"));
    let any = ok("pacemaker on\nautojoin any");
    assert!(any.check_local_node("epsilon").is_ok());
}

#[test]
fn media_lines() {
    let text = "udpport 700\n\
                bcast eth0 eth1\n\
                udp eth2\n\
                mcast eth0 239.192.99.1 694 1 0\n\
                mcast6 eth0 ff12::1:2:3:4 695 2 1\n\
                ucast eth1 10.0.0.7\n\
                ucast eth1 peer.example.com\n\
                ucast6 eth1 fe80::5054:ff:fe29:3949%eth1\n\
                ucast6 eth1 2001:db8::1\n\
                serial /dev/ttyS0 /dev/ttyS1\n\
                ping 10.10.10.254 Router\n\
                ping6 2001:db8::fe\n\
                ping_group Group1 10.0.0.1 10.0.0.2\n\
                node a\nauto_failback on\nuse_logd on\n";
    let (c, w) = parse_ok(text);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].line, Some(3));
    assert!(w[0].message.contains("'udp' is an old name for 'bcast'"));
    let kinds: Vec<(u32, MediumKind)> = c.media.iter().map(|m| (m.line, m.kind.clone())).collect();
    let bcast = |i: &str| MediumKind::Bcast {
        interface: i.into(),
        port: 700,
    };
    let expected = vec![
        (2, bcast("eth0")),
        (2, bcast("eth1")),
        (3, bcast("eth2")),
        (
            4,
            MediumKind::Mcast {
                interface: "eth0".into(),
                group: Ipv4Addr::new(239, 192, 99, 1),
                port: 694,
                ttl: 1,
                loopback: false,
            },
        ),
        (
            5,
            MediumKind::Mcast6 {
                interface: "eth0".into(),
                group: "ff12::1:2:3:4".parse::<Ipv6Addr>().unwrap(),
                port: 695,
                hops: 2,
                loopback: true,
            },
        ),
        (
            6,
            MediumKind::Ucast {
                interface: "eth1".into(),
                peer: "10.0.0.7".into(),
                port: 700,
            },
        ),
        (
            7,
            MediumKind::Ucast {
                interface: "eth1".into(),
                peer: "peer.example.com".into(),
                port: 700,
            },
        ),
        (
            8,
            MediumKind::Ucast6 {
                interface: "eth1".into(),
                peer: "fe80::5054:ff:fe29:3949".parse().unwrap(),
                scope: Some("eth1".into()),
                port: 700,
            },
        ),
        (
            9,
            MediumKind::Ucast6 {
                interface: "eth1".into(),
                peer: "2001:db8::1".parse().unwrap(),
                scope: None,
                port: 700,
            },
        ),
        (
            10,
            MediumKind::Serial {
                device: "/dev/ttyS0".into(),
                baud: 19200,
            },
        ),
        (
            10,
            MediumKind::Serial {
                device: "/dev/ttyS1".into(),
                baud: 19200,
            },
        ),
        (
            11,
            MediumKind::Ping {
                host: "10.10.10.254".into(),
            },
        ),
        (
            11,
            MediumKind::Ping {
                host: "Router".into(),
            },
        ),
        (
            12,
            MediumKind::Ping6 {
                host: "2001:db8::fe".into(),
            },
        ),
        (
            13,
            MediumKind::PingGroup {
                name: "Group1".into(),
                hosts: vec!["10.0.0.1".into(), "10.0.0.2".into()],
            },
        ),
    ];
    assert_eq!(kinds, expected);
    assert_eq!(
        c.ping_nodes(),
        ["10.10.10.254", "router", "2001:db8::fe", "group1"]
    );
    // Each medium renders back to its ha.cf line.
    let lines: Vec<String> = c.media.iter().map(|m| m.kind.to_string()).collect();
    assert_eq!(lines[3], "mcast eth0 239.192.99.1 694 1 0");
    assert_eq!(lines[4], "mcast6 eth0 ff12::1:2:3:4 695 2 1");
    assert_eq!(lines[7], "ucast6 eth1 fe80::5054:ff:fe29:3949%eth1");
    assert_eq!(lines[14], "ping_group Group1 10.0.0.1 10.0.0.2");
    assert!(c.media[11].kind.is_ping() && !c.media[0].kind.is_ping());
}

#[test]
fn ping_only_cluster_is_accepted_like_heartbeat() {
    // Heartbeat counts ping nodes as nodes and ping as a medium.
    let (c, _) = parse_ok("ping 10.0.0.1\nauto_failback on\nuse_logd on\n");
    assert!(c.nodes.is_empty());
    assert_eq!(c.ping_nodes(), ["10.0.0.1"]);
}

#[test]
fn udpport_latches_per_plugin_and_warns_when_late() {
    let text = "bcast eth0\nudpport 700\nbcast eth1\nucast eth0 10.0.0.2\nnode a\nauto_failback on\nuse_logd on\n";
    let (c, w) = parse_ok(text);
    let ports: Vec<u16> = c
        .media
        .iter()
        .map(|m| match m.kind {
            MediumKind::Bcast { port, .. } | MediumKind::Ucast { port, .. } => port,
            _ => 0,
        })
        .collect();
    // bcast read the port at its first line; ucast came after udpport.
    assert_eq!(ports, [694, 694, 700]);
    assert_eq!(c.udpport, 700);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, Some(2));
    assert!(w[0]
        .message
        .contains("udpport must precede the media that use it: bcast (line 1) keeps port 694"));
    // mcast carries its own port: no warning.
    check_warnings(
        "mcast eth0 239.0.0.1 694 1 0\nudpport 700\nnode a\nauto_failback on\nuse_logd on\n",
        &[],
    );
}

#[test]
fn baud_after_serial_warns_and_serial_keeps_default() {
    let text =
        "serial /dev/ttyS0\nbaud 9600\nserial /dev/ttyS1\nnode a\nauto_failback on\nuse_logd on\n";
    let (c, w) = parse_ok(text);
    let bauds: Vec<u32> = c
        .media
        .iter()
        .map(|m| match m.kind {
            MediumKind::Serial { baud, .. } => baud,
            _ => 0,
        })
        .collect();
    assert_eq!(bauds, [19200, 19200]);
    assert_eq!(c.baud, 9600);
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("serial (line 1) keeps 19200 baud"));
}

#[test]
fn whole_line_directives() {
    let c = ok("apiauth ipfail gid=haclient uid=hacluster\n\
                apiauth ping gid=haclient uid=alanr,0,root\n\
                apiauth default gid=haclient\n\
                respawn hacluster /usr/lib/heartbeat/ipfail\n\
                failfast root /usr/lib/heartbeat/dopd -t 5 -v\n\
                stonith baytech /etc/ha.d/conf/stonith.baytech\n\
                stonith_host *     baytech 10.0.0.3 mylogin mysecretpassword\n\
                stonith_host Ken3  rps10\n\
                env FOO=bar,BAZ= QUUX=a=b");
    assert_eq!(c.apiauth.len(), 3);
    assert_eq!(c.apiauth[1].client, "ping");
    assert_eq!(
        c.apiauth[1].uids,
        [
            Principal::Name("alanr".into()),
            Principal::Id(0),
            Principal::Name("root".into())
        ]
    );
    assert_eq!(c.apiauth[1].gids, [Principal::Name("haclient".into())]);
    assert_eq!(c.apiauth[1].source, ApiAuthSource::Line(2));
    assert!(c.apiauth[2].uids.is_empty());
    assert_eq!(
        c.apiauth[1].to_string(),
        "apiauth ping uid=alanr,0,root gid=haclient"
    );

    assert_eq!(c.children.len(), 2);
    assert_eq!(c.children[0].user, "hacluster");
    assert_eq!(
        c.children[0].path,
        PathBuf::from("/usr/lib/heartbeat/ipfail")
    );
    assert!(c.children[0].args.is_empty() && !c.children[0].failfast);
    assert_eq!(c.children[1].command, "/usr/lib/heartbeat/dopd -t 5 -v");
    assert_eq!(c.children[1].args, ["-t", "5", "-v"]);
    assert!(c.children[1].failfast);
    assert_eq!(c.children[1].line, 5);

    assert_eq!(
        c.stonith,
        [
            StonithConfig::File {
                line: 6,
                stonith_type: "baytech".into(),
                config_file: "/etc/ha.d/conf/stonith.baytech".into()
            },
            StonithConfig::Host {
                line: 7,
                from_host: "*".into(),
                stonith_type: "baytech".into(),
                params: "10.0.0.3 mylogin mysecretpassword".into()
            },
            StonithConfig::Host {
                line: 8,
                from_host: "ken3".into(),
                stonith_type: "rps10".into(),
                params: String::new()
            },
        ]
    );
    let env: Vec<(String, String, String)> = c
        .env
        .iter()
        .map(|e| (e.exported_name(), e.name.clone(), e.value.clone()))
        .collect();
    assert_eq!(
        env,
        [
            ("HA_FOO".into(), "FOO".into(), "bar".into()),
            ("HA_BAZ".into(), "BAZ".into(), String::new()),
            ("HA_QUUX".into(), "QUUX".into(), "a=b".into()),
        ]
    );
}

#[test]
fn effective_apiauth_adds_builtins_and_pacemaker_entries() {
    let clients = |extra: &str| -> Vec<(String, ApiAuthSource)> {
        ok(extra)
            .effective_apiauth()
            .into_iter()
            .map(|a| (a.client, a.source))
            .collect()
    };
    use ApiAuthSource::{BuiltIn as B, Line as L, Pacemaker as P};
    assert_eq!(
        clients("apiauth ping uid=root"),
        [
            ("ping".into(), L(1)),
            ("ipfail".into(), B),
            ("ccm".into(), B),
            ("lha-snmpagent".into(), B),
            ("anon".into(), B),
        ]
    );
    assert_eq!(
        clients("pacemaker minimal")
            .iter()
            .filter(|c| c.1 == P)
            .count(),
        2
    );
    assert_eq!(
        clients("pacemaker respawn")
            .iter()
            .filter(|c| c.1 == P)
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        ["cib", "crmd", "stonithd", "stonith-ng", "attrd", "pingd"]
    );
}

#[test]
fn comments_blanks_and_whitespace() {
    let text = "  # a comment\n\
                \n\
                \t  \n\
                keepalive 2 # trailing comment\n\
                deadtime\t10\r\n\
                bcast   eth0   \n\
                node a#b\n\
                auto_failback on\nuse_logd on";
    let (c, w) = parse_ok(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.keepalive, ms(2000));
    assert_eq!(c.deadtime, ms(10_000));
    assert_eq!(c.line_of(Directive::Deadtime), Some(5));
    assert_eq!(c.nodes, ["a"], "'#' starts a comment anywhere");
}

#[test]
fn value_errors() {
    // (line under test, expected message part); the line is line 1.
    let table: &[(&str, &str)] = &[
        ("keepalive fast", "keepalive: invalid time 'fast'"),
        ("keepalive 0", "keepalive: '0' must be more than zero"),
        (
            "keepalive 100us",
            "keepalive: '100us' must be more than zero",
        ),
        ("warntime 0ms", "warntime: '0ms' must be more than zero"),
        ("deadtime -5", "deadtime: invalid time '-5'"),
        ("initdead 10m", "initdead: invalid time '10m'"),
        ("deadping x", "deadping: invalid time 'x'"),
        (
            "conn_logd_time 0",
            "conn_logd_time: '0' must be more than zero",
        ),
        (
            "udpport 0",
            "udpport: invalid value '0' (expected an integer from 1 to 65535)",
        ),
        ("udpport 70000", "udpport: invalid value '70000'"),
        ("udpport 694x", "udpport: invalid value '694x'"),
        ("baud 12345", "baud: invalid baud rate '12345'"),
        (
            "debug 256",
            "debug: invalid value '256' (expected an integer from 0 to 255)",
        ),
        ("hopfudge -1", "hopfudge: invalid value '-1'"),
        (
            "rtprio 0",
            "rtprio: invalid value '0' (expected an integer from 1 to 99)",
        ),
        ("rtprio 100", "rtprio: invalid value '100'"),
        ("memreserve 0", "memreserve: invalid value '0'"),
        (
            "compression_threshold 0",
            "compression_threshold: invalid value '0'",
        ),
        ("max_rexmit_delay 0", "max_rexmit_delay: invalid value '0'"),
        (
            "logfacility local8",
            "logfacility: unknown syslog facility 'local8'",
        ),
        (
            "logfacility LOCAL0",
            "logfacility: unknown syslog facility 'LOCAL0'",
        ),
        (
            "autojoin some",
            "autojoin: invalid value 'some' (expected none, other or any)",
        ),
        (
            "auto_failback sometimes",
            "auto_failback: invalid value 'sometimes' (expected on, off or legacy)",
        ),
        (
            "nice_failback perhaps",
            "nice_failback: invalid boolean 'perhaps'",
        ),
        ("pacemaker always", "pacemaker: invalid value 'always'"),
        ("crm maybe", "crm: invalid value 'maybe'"),
        (
            "hbgenmethod clock",
            "hbgenmethod: invalid value 'clock' (expected file or time)",
        ),
        (
            "uuidfrom File",
            "uuidfrom: invalid value 'File' (expected file or nodename)",
        ),
        (
            "msgfmt xml",
            "msgfmt: invalid value 'xml' (expected classic or netstring)",
        ),
        (
            "compression gzip",
            "compression: unknown compression module 'gzip'",
        ),
        (
            "coreroot cores",
            "coreroot: 'cores' is not an absolute directory",
        ),
        (
            "traditional_compression sometimes",
            "traditional_compression: invalid boolean",
        ),
        ("use_logd perhaps", "use_logd: invalid boolean 'perhaps'"),
        (
            "record_config_changes x",
            "record_config_changes: invalid boolean 'x'",
        ),
        (
            "serial ttyS0",
            "serial: serial port 'ttyS0' is not a full path name",
        ),
        ("mcast eth0", "mcast: [eth0] missing multicast group"),
        (
            "mcast eth0 10.0.0.1 694 1 0",
            "mcast: [eth0] bad multicast group '10.0.0.1'",
        ),
        ("mcast eth0 239.0.0.1", "mcast: [eth0] missing port"),
        (
            "mcast eth0 239.0.0.1 0 1 0",
            "mcast: [eth0] port: invalid value '0'",
        ),
        ("mcast eth0 239.0.0.1 694", "mcast: [eth0] missing ttl"),
        (
            "mcast eth0 239.0.0.1 694 5 0",
            "mcast: [eth0] ttl: invalid value '5' (expected an integer from 0 to 4)",
        ),
        ("mcast eth0 239.0.0.1 694 1", "mcast: [eth0] missing loop"),
        (
            "mcast eth0 239.0.0.1 694 1 2",
            "mcast: [eth0] loop: invalid value '2'",
        ),
        ("mcast6", "mcast6: statement without device"),
        (
            "mcast6 eth0 ff0e::1 694 1 0",
            "mcast6: [eth0] bad IPv6 multicast group 'ff0e::1'",
        ),
        (
            "mcast6 eth0 ff12:: 694 1 0",
            "mcast6: [eth0] bad IPv6 multicast group",
        ),
        (
            "mcast6 eth0 2001:db8::1 694 1 0",
            "mcast6: [eth0] bad IPv6 multicast group",
        ),
        (
            "mcast6 eth0 ff12::1 694 9 0",
            "mcast6: [eth0] hops: invalid value '9'",
        ),
        (
            "ucast eth0",
            "ucast: [eth0] missing target IP address/hostname",
        ),
        ("ucast6", "ucast6: statement without device"),
        ("ucast6 eth0", "ucast6: [eth0] missing IPv6 address"),
        ("ucast6 eth0 ::1", "ucast6: [eth0] bad address '::1'"),
        (
            "ucast6 eth0 ff02::1",
            "ucast6: [eth0] bad address 'ff02::1'",
        ),
        (
            "ucast6 eth0 10.0.0.1",
            "ucast6: [eth0] bad address '10.0.0.1'",
        ),
        ("ping_group", "ping_group: missing group name"),
        ("ping_group g1", "ping_group: group 'g1' lists no hosts"),
        ("apiauth", "apiauth: missing client name"),
        (
            "apiauth foo",
            "apiauth: client 'foo' needs a uid list, a gid list, or both",
        ),
        (
            "apiauth foo user=x",
            "apiauth: expected uid=LIST or gid=LIST, found 'user=x'",
        ),
        (
            "apiauth foo uid=a uid=b",
            "apiauth: duplicate uid list for client 'foo'",
        ),
        (
            "apiauth foo gid=a gid=b",
            "apiauth: duplicate gid list for client 'foo'",
        ),
        ("apiauth foo uid=", "apiauth: empty uid list"),
        ("apiauth foo uid=12x", "apiauth: invalid numeric uid '12x'"),
        (
            "apiauth abcdefghijklmnopqrstuvwxyz0123456 uid=root",
            "apiauth: client name 'abcdefghijklmnopqrstuvwxyz0123456' is longer than 31",
        ),
        ("respawn", "respawn: missing user and command"),
        (
            "respawn hacluster",
            "respawn: missing command to run as 'hacluster'",
        ),
        (
            "respawn hacluster ipfail",
            "respawn: command 'ipfail' is not a full path name",
        ),
        (
            "failfast root",
            "failfast: missing command to run as 'root'",
        ),
        ("stonith", "stonith: no STONITH type given"),
        (
            "stonith baytech",
            "stonith: no configuration file given for STONITH type 'baytech'",
        ),
        ("stonith_host", "stonith_host: no host given"),
        (
            "stonith_host *",
            "stonith_host: no STONITH type given for host '*'",
        ),
        ("env FOO", "env: 'FOO' is not NAME=VALUE"),
        ("env =x", "env: '=x' has an empty name"),
    ];
    for (line, msg) in table {
        check_errors(&with_base(line), &[(Some(1), msg)]);
    }
}

#[test]
fn node_name_too_long() {
    let long = "n".repeat(100);
    check_errors(
        &with_base(&format!("node {long}")),
        &[(Some(1), "node: node name 'nnnn")],
    );
    assert_eq!(ok(&format!("node {}", "n".repeat(99))).nodes.len(), 2);
}

#[test]
fn too_many_nodes_and_media() {
    let nodes: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    // BASE adds node 'a' as the 101st.
    check_errors(
        &with_base(&format!("node {}", nodes.join(" "))),
        &[(Some(3), "node: too many nodes: at most 100")],
    );
    let ifaces: Vec<String> = (0..64).map(|i| format!("eth{i}")).collect();
    check_errors(
        &with_base(&format!("bcast {}", ifaces.join(" "))),
        &[(Some(2), "bcast: too many media: at most 64")],
    );
}

#[test]
fn unknown_and_miscased_directives() {
    check_errors(
        &with_base("foo bar"),
        &[(Some(1), "unknown directive 'foo'")],
    );
    check_errors(
        &with_base("Keepalive 2"),
        &[(Some(1), "unknown directive 'Keepalive' (directive names are case-sensitive: did you mean 'keepalive'?)")],
    );
    check_errors(
        &with_base("hbaping fc-card-name"),
        &[(Some(1), "does not provide")],
    );
    // Directives that other versions had but Heartbeat 3.0.6 does not.
    for name in [
        "weight",
        "site",
        "generation_method",
        "normalpoll",
        "hbgenmethods",
    ] {
        check_errors(
            &with_base(&format!("{name} 1")),
            &[(Some(1), &format!("unknown directive '{name}'"))],
        );
    }
}

#[test]
fn error_display_has_path_and_line() {
    let errs = parse_ha_cf("bcast eth0\nnode a\nfoo\n", "/etc/ha.d/ha.cf").unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "/etc/ha.d/ha.cf:3: unknown directive 'foo'"
    );
}

#[test]
fn all_errors_are_collected() {
    let text = "keepalive x\nfoo\nudpport 0\nbaud 1\nbcast eth0\nnode a\nmcast eth0\nbar\n";
    check_errors(
        text,
        &[
            (Some(1), "keepalive: invalid time"),
            (Some(2), "unknown directive 'foo'"),
            (Some(3), "udpport: invalid value"),
            (Some(4), "baud: invalid baud rate"),
            (Some(7), "mcast: [eth0] missing multicast group"),
            (Some(8), "unknown directive 'bar'"),
        ],
    );
}

#[test]
fn repeat_rules() {
    // Once: a second occurrence is an error, on its own line.
    check_errors(
        &with_base("watchdog /dev/watchdog\nwatchdog /dev/watchdog1"),
        &[(
            Some(2),
            "'watchdog' may be given only once (first on line 1)",
        )],
    );
    check_errors(
        &with_base("baud 9600\nbaud 19200"),
        &[(Some(2), "'baud' may be given only once (first on line 1)")],
    );
    check_errors(
        &with_base("crm yes\npacemaker respawn"),
        &[(
            Some(2),
            "'pacemaker' may be given only once (first on line 1)",
        )],
    );
    check_errors(
        &with_base("pacemaker on off"),
        &[(
            Some(1),
            "'pacemaker' may be given only once (first on line 1)",
        )],
    );
    // LastWins: warn and take the last value, also for two values on one line.
    let text = with_base("keepalive 1\nkeepalive 2 3");
    let (c, _) = parse_ok(&text);
    assert_eq!(c.keepalive, ms(3000));
    assert_eq!(c.line_of(Directive::Keepalive), Some(2));
    check_warnings(
        &text,
        &[
            (
                Some(2),
                "'keepalive' is set more than once (first on line 1); the last value wins",
            ),
            (
                Some(2),
                "'keepalive' is set more than once (first on line 1)",
            ),
        ],
    );
    // Duplicate apiauth client.
    check_errors(
        &with_base("apiauth foo uid=root\napiauth foo gid=haclient"),
        &[(
            Some(2),
            "duplicate apiauth for client 'foo' (first on line 1)",
        )],
    );
}

#[test]
fn ordering_rules_around_pacemaker() {
    check_errors(
        &with_base("pacemaker respawn\ncrm_daemon_dir /usr/lib/pacemaker"),
        &[(
            Some(2),
            "crm_daemon_dir: must come before the pacemaker directive (line 1)",
        )],
    );
    check_errors(
        &with_base("crm off\ncrmd_spawns_pengine off"),
        &[(
            Some(2),
            "crmd_spawns_pengine: must come before the pacemaker directive (line 1)",
        )],
    );
    check_errors(
        &with_base("apiauth cib uid=root\npacemaker respawn"),
        &[(
            Some(1),
            "apiauth for 'cib' conflicts with the one pacemaker (line 2) adds",
        )],
    );
    // Minimal mode only adds cib and crmd.
    ok("apiauth attrd uid=root\npacemaker minimal");
}

#[test]
fn whole_file_errors() {
    check_errors(
        "node a\nuse_logd on\n",
        &[(None, "no heartbeat media defined")],
    );
    check_errors(
        "bcast eth0\nuse_logd on\nauto_failback on\n",
        &[(None, "no nodes defined")],
    );
    // autojoin any replaces node lines, but needs pacemaker.
    ok("pacemaker on\nautojoin any");
    parse_ok("bcast eth0\nautojoin any\npacemaker on\nuse_logd on\n");
    check_errors(
        "bcast eth0\nautojoin other\nnode a\nuse_logd on\nauto_failback on\n",
        &[(
            Some(2),
            "autojoin conflicts with Heartbeat's own (v1) resource manager",
        )],
    );
    check_errors(
        "bcast eth0\nnode a\nuse_logd off\nauto_failback on\n",
        &[(
            Some(3),
            "no logfile, debugfile or logfacility is set and use_logd is off",
        )],
    );
    // logfacility none does not count as somewhere to log.
    check_errors(
        "bcast eth0\nnode a\nuse_logd off\nlogfacility none\nauto_failback on\n",
        &[(Some(3), "use_logd is off")],
    );
}

#[test]
fn timing_sanity_checks() {
    // Heartbeat's errors: deadtime must be more than 2 x keepalive; initdead
    // at least deadtime; deadping more than 2 x keepalive.
    check_errors(
        &with_base("keepalive 2\ndeadtime 4"),
        &[(
            Some(2),
            "deadtime (4s) is too small compared to keepalive (2s)",
        )],
    );
    check_errors(
        &with_base("keepalive 15"),
        &[(
            Some(1),
            "deadtime (30s) is too small compared to keepalive (15s)",
        )],
    );
    ok("keepalive 2\ndeadtime 4001ms");
    check_errors(
        &with_base("deadtime 60\ninitdead 30"),
        &[(Some(2), "initdead (30s) is smaller than deadtime (60s)")],
    );
    check_errors(
        &with_base("deadping 2"),
        &[(
            Some(1),
            "deadping (2s) is too small compared to keepalive (1s)",
        )],
    );
    check_errors(
        &with_base("deadtime 0"),
        &[(
            Some(1),
            "deadtime (0s) is too small compared to keepalive (1s)",
        )],
    );
}

#[test]
fn timing_warnings() {
    let table: &[(&str, Expect)] = &[
        (
            "deadtime 5\ninitdead 8",
            &[(Some(2), "initdead (8s) may be too small")],
        ),
        (
            "deadtime 10\ninitdead 15",
            &[(Some(2), "initdead (15s) is less than twice deadtime (10s)")],
        ),
        ("deadtime 10\ninitdead 20", &[]),
        // Derived initdead never draws the documentation warning.
        ("deadtime 30", &[]),
        (
            "deadtime 10\nwarntime 10",
            &[(Some(2), "warntime (10s) is not below deadtime (10s)")],
        ),
        (
            "keepalive 2\nwarntime 2",
            &[(Some(2), "warntime (2s) is not above keepalive (2s)")],
        ),
        ("warntime 10", &[]),
        (
            "keepalive 2s",
            &[(
                Some(1),
                "'2s': Heartbeat 3 does not accept the 's' suffix; write '2'",
            )],
        ),
    ];
    for (extra, expected) in table {
        check_warnings(&with_base(extra), expected);
    }
}

#[test]
fn other_warnings() {
    let table: &[(&str, Expect)] = &[
        // BASE's own 'node a' is line 3.
        ("node a", &[(Some(3), "node 'a' is listed more than once")]),
        ("node", &[(Some(1), "'node' without a value is ignored")]),
        ("mcast", &[(Some(1), "'mcast' without a value is ignored")]),
        ("ucast", &[(Some(1), "'ucast' without a value is ignored")]),
        (
            "mcast eth0 239.0.0.1 694 1 0 extra",
            &[(Some(1), "mcast: extra text 'extra' is ignored")],
        ),
        (
            "ucast eth0 10.0.0.2 10.0.0.3",
            &[(Some(1), "ucast: extra text '10.0.0.3' is ignored")],
        ),
        (
            "logfacility kern",
            &[(Some(1), "facility 'kern' has code 0")],
        ),
        (
            "nice_failback on",
            &[(Some(1), "'nice_failback on' is read as 'auto_failback off'")],
        ),
        (
            "record_config_changes on",
            &[(
                Some(1),
                "record_config_changes has no effect while pacemaker is off",
            )],
        ),
        (
            "crm_daemon_dir /x",
            &[(
                Some(1),
                "crm_daemon_dir has no effect while pacemaker is off",
            )],
        ),
        // Reported at BASE's use_logd line.
        (
            "logfile /var/log/ha-log",
            &[(Some(5), "use_logd is on, so logfile in ha.cf are ignored")],
        ),
    ];
    for (extra, expected) in table {
        check_warnings(&with_base(extra), expected);
    }
}

#[test]
fn nice_failback_sets_auto_failback() {
    let c = parse_ok("bcast eth0\nnode a\nuse_logd on\nnice_failback on\n").0;
    assert_eq!(c.auto_failback, AutoFailback::Off);
    assert_eq!(c.line_of(Directive::AutoFailback), Some(4));
    let c = parse_ok("bcast eth0\nnode a\nuse_logd on\nnice_failback off\n").0;
    assert_eq!(c.auto_failback, AutoFailback::Legacy);
}

#[test]
fn logging_rules() {
    // No destination at all: logd is implied.
    let (c, w) = parse_ok("bcast eth0\nnode a\nauto_failback on\n");
    assert!(c.use_logd);
    assert!(w.is_empty(), "{w:?}");
    // A facility without files: files default to /dev/null, and logd off
    // draws Heartbeat's recommendation.
    let (c, w) = parse_ok("bcast eth0\nnode a\nauto_failback on\nlogfacility daemon\n");
    assert_eq!(c.logfacility, Some(SyslogFacility::Daemon));
    assert_eq!(c.logfacility.map(SyslogFacility::code), Some(3 << 3));
    assert_eq!(c.logfile, Some(PathBuf::from("/dev/null")));
    assert_eq!(c.debugfile, Some(PathBuf::from("/dev/null")));
    assert!(!c.use_logd);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, None);
    assert!(w[0].message.contains("'use_logd on' is recommended"));
}

#[test]
fn legacy_auto_failback_warning() {
    check_warnings(
        "bcast eth0\nnode a\nuse_logd on\n",
        &[(None, "auto_failback legacy (the default) is deprecated")],
    );
    check_warnings(
        "bcast eth0\nnode a\nuse_logd on\nauto_failback legacy\n",
        &[(Some(4), "auto_failback legacy (the default) is deprecated")],
    );
    // With Pacemaker the v1 resource manager is off: no warning.
    check_warnings("bcast eth0\nnode a\nuse_logd on\ncrm respawn\n", &[]);
}

fn test_data(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn harness_variant_a_bcast() {
    let (c, w) = parse_ok(&test_data("harness-a-bcast.cf"));
    assert_eq!(c.nodes, ["hb1", "hb2", "hb3", "rs1"]);
    assert_eq!(
        (c.keepalive, c.warntime, c.deadtime, c.initdead),
        (ms(1000), ms(3000), ms(5000), ms(10_000))
    );
    assert_eq!(
        c.media.iter().map(|m| m.kind.clone()).collect::<Vec<_>>(),
        [MediumKind::Bcast {
            interface: "hbeth0".into(),
            port: 694
        }]
    );
    assert_eq!(c.pacemaker, PacemakerMode::Off);
    assert_eq!(c.auto_failback, AutoFailback::Off);
    assert!(!c.use_logd);
    assert_eq!(c.logfacility, None);
    assert_eq!(c.logfile, Some(PathBuf::from("/var/log/ha-log")));
    // Heartbeat 3.0.6 logs the same recommendation for this file.
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].line, Some(5));
    assert!(w[0].message.contains("logging daemon is disabled"));
}

#[test]
fn harness_variant_b_mcast() {
    let (c, w) = parse_ok(&test_data("harness-b-mcast.cf"));
    assert_eq!(
        (c.keepalive, c.warntime, c.deadtime, c.initdead, c.deadping),
        (ms(100), ms(300), ms(500), ms(2000), ms(500))
    );
    assert_eq!(c.debug, 2);
    assert_eq!(c.nodes, ["hb1", "hb2"]);
    assert!(matches!(
        c.media[0].kind,
        MediumKind::Mcast {
            port: 694,
            ttl: 1,
            loopback: false,
            ..
        }
    ));
    let msgs: Vec<&str> = w.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].contains("initdead (2s) may be too small"));
    assert!(msgs[1].contains("logging daemon is disabled"));
}

#[test]
fn harness_variant_a_ucast() {
    let (c, _) = parse_ok(&test_data("harness-a-ucast.cf"));
    let peers: Vec<(u32, &str, u16)> = c
        .media
        .iter()
        .filter_map(|m| match &m.kind {
            MediumKind::Ucast { peer, port, .. } => Some((m.line, peer.as_str(), *port)),
            _ => None,
        })
        .collect();
    assert_eq!(peers, [(12, "10.99.0.2", 694), (13, "10.99.0.3", 694)]);
}

#[test]
fn man_page_pacemaker_example() {
    let (c, w) = parse_ok(&test_data("pacemaker-two-node.cf"));
    assert_eq!(c.pacemaker, PacemakerMode::Respawn);
    assert!(!c.crmd_spawns_pengine);
    assert_eq!(
        c.crm_daemon_dir,
        Some(PathBuf::from("/usr/libexec/pacemaker"))
    );
    assert_eq!(c.compression, Compression::Bz2);
    assert_eq!(c.compression_threshold_kb, 20);
    assert!(c.traditional_compression);
    assert_eq!(c.media.len(), 3);
    assert_eq!(c.initdead, ms(120_000));
    assert_eq!(c.env[0].exported_name(), "HA_logpriority");
    assert!(c.pacemaker_children().iter().any(|p| p.daemon == "pengine"));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn full_v1_file() {
    let (c, w) = parse_ok(&test_data("full-v1.cf"));
    // serial, 2 x bcast, mcast, mcast6, ucast, ucast6, ping, ping_group
    assert_eq!(c.media.len(), 9);
    assert_eq!(c.nodes, ["ken3", "kathy"]);
    assert_eq!(c.ping_nodes(), ["10.10.10.254", "group1"]);
    assert_eq!(c.logfacility, Some(SyslogFacility::Local0));
    assert_eq!(c.baud, 38400);
    assert!(matches!(
        c.media[0].kind,
        MediumKind::Serial { baud: 38400, .. }
    ));
    assert_eq!(c.deadping, ms(40_000));
    assert_eq!(c.rtprio, Some(5));
    assert_eq!(c.hbgenmethod, GenerationMethod::Time);
    assert_eq!(c.msgfmt, MsgFmt::Netstring);
    assert_eq!(c.cluster, "production");
    assert_eq!(c.quorum_server.as_deref(), Some("qs.example.com"));
    assert_eq!(c.children.len(), 2);
    assert_eq!(c.apiauth.len(), 4);
    assert_eq!(c.stonith.len(), 3);
    assert_eq!(c.env.len(), 2);
    assert_eq!(c.max_rexmit_delay, ms(500));
    let msgs: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        msgs,
        ["/etc/ha.d/ha.cf:7: warning: the logging daemon is disabled; 'use_logd on' is recommended"]
    );
}

#[test]
fn every_table_default_parses() {
    // Parser::new applies them; an internal error would surface here.
    for spec in DIRECTIVES {
        if let DefaultValue::Fixed(v) = spec.default {
            let text = with_base(&format!("{} {v}", spec.name));
            assert!(parse_ha_cf(&text, PATH).is_ok(), "{} {v}", spec.name);
        }
    }
}

#[test]
fn load_reads_files_and_reports_io_errors() {
    let dir = crate::tests::TempDir::new("hacf-load");
    let p = dir.path().join("ha.cf");
    std::fs::write(&p, with_base("keepalive 500ms\ndeadtime 2")).unwrap();
    let (c, _) = load_ha_cf(&p).unwrap();
    assert_eq!(c.keepalive, ms(500));
    assert_eq!(c.path, p);

    let missing = dir.path().join("nope.cf");
    let errs = load_ha_cf(&missing).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(errs[0]
        .to_string()
        .starts_with(&format!("{}: cannot read:", missing.display())));

    let bad = dir.path().join("bad.cf");
    std::fs::write(&bad, b"bcast eth0\nnode \xff\n").unwrap();
    let errs = load_ha_cf(&bad).unwrap_err();
    assert_eq!(errs[0].line, Some(2));
    assert!(errs[0].message.contains("not valid UTF-8"));
}

#[test]
fn the_node_table_follows_the_order_of_node_and_ping_lines() {
    let cf = ok(
        "node Zed b\nping 10.0.0.254\nping_group GW 10.0.0.1 10.0.0.2\nnode c zed\nping6 fe80::1",
    );
    // BASE's `node a` comes last; a name listed twice appears once.
    assert_eq!(
        cf.node_table(),
        ["zed", "b", "10.0.0.254", "gw", "c", "fe80::1", "a"]
    );
}

#[test]
fn parameter_table_keeps_values_as_written_and_heartbeats_defaults() {
    let text = "keepalive 100ms\ndeadtime 500ms\nrealtime off\ncrm respawn\nbcast eth0\nnode a b\n";
    let (cfg, _) = parse_ha_cf(text, "/etc/ha.d/ha.cf").expect("valid ha.cf");
    let p = |k: &str| cfg.parameters.get(k).map(String::as_str);
    // As written, not normalised.
    assert_eq!(p("keepalive"), Some("100ms"));
    assert_eq!(p("deadtime"), Some("500ms"));
    assert_eq!(p("realtime"), Some("off"));
    assert_eq!(p("pacemaker"), Some("respawn"));
    // Derived timings in milliseconds, as Heartbeat records them.
    assert_eq!(p("warntime"), Some("250ms"));
    assert_eq!(p("initdead"), Some("12000ms"));
    assert_eq!(p("deadping"), Some("500ms"));
    // Heartbeat's fixed defaults.
    assert_eq!(p("traditional_compression"), Some("no"));
    assert_eq!(p("cluster"), Some("linux-ha"));
    assert_eq!(p("udpport"), Some("694"));
    assert_eq!(p("debug"), Some("0"));
    // Not recorded: nodes and media, and anything Heartbeat has no value for.
    assert_eq!(p("node"), None);
    assert_eq!(p("bcast"), None);
    assert_eq!(p("watchdog"), None);
}

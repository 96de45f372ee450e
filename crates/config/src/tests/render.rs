//! The `heartbeat --check` rendering: stable order, defaults marked, ha.cf
//! syntax that Heartbeat (and we) read back to the same settings, no secrets.

use std::path::Path;

use crate::*;

fn test_data(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Strips the "# ..." annotations the renderer adds and drops the authkeys
/// summary, leaving an ha.cf.
fn as_ha_cf(rendered: &str) -> String {
    rendered
        .lines()
        .filter(|l| !l.starts_with("auth "))
        .map(|l| l.split('#').next().unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn harness_rendering_is_exact() {
    let (cfg, _) = parse_ha_cf(&test_data("harness-a-bcast.cf"), "/etc/ha.d/ha.cf").unwrap();
    let keys = parse_authkeys(&test_data("harness.authkeys"), "/etc/ha.d/authkeys").unwrap();
    let expected = "\
# effective configuration from /etc/ha.d/ha.cf
# logging
use_logd off
logfacility none
logfile /var/log/ha-log
debugfile /var/log/ha-debug
debug 0
syslogmsgfmt on  # default
conn_logd_time 60  # default
log_badpack on  # default
# timing
keepalive 1
warntime 3
deadtime 5
initdead 10
deadping 5  # default: deadtime
# media
udpport 694  # default
baud 19200  # default
bcast hbeth0  # udp port 694
# membership
node hb1
node hb2
node hb3
node rs1
autojoin none  # default
cluster linux-ha  # default
hopfudge 1  # default
# resource management
crmd_spawns_pengine on  # default
pacemaker off
auto_failback off
record_config_changes on  # default
record_pengine_inputs on  # default
enable_config_writes on  # default
# processes and API access
apiauth ipfail uid=hacluster  # default
apiauth ccm uid=hacluster  # default
apiauth ping gid=haclient  # default
apiauth lha-snmpagent uid=root  # default
apiauth anon uid=root gid=haclient  # default
# tuning
realtime on  # default
memreserve 6500  # default
coredumps on  # default
hbgenmethod file  # default
uuidfrom file  # default
msgfmt classic  # default
compression zlib  # default
compression_threshold 2  # default
traditional_compression off  # default
max_rexmit_delay 250  # default
use_apphbd off  # default
# authkeys /etc/ha.d/authkeys
auth 1 (sha1)
";
    assert_eq!(render_effective(&cfg, Some(&keys)), expected);
}

#[test]
fn rendering_reads_back_to_the_same_settings() {
    for file in [
        "harness-a-bcast.cf",
        "harness-b-mcast.cf",
        "harness-a-ucast.cf",
        "pacemaker-two-node.cf",
        "full-v1.cf",
    ] {
        let (cfg, _) = parse_ha_cf(&test_data(file), "/etc/ha.d/ha.cf").unwrap();
        let text = render_effective(&cfg, None);
        let again = parse_ha_cf(&as_ha_cf(&text), "/etc/ha.d/ha.cf")
            .unwrap_or_else(|e| panic!("{file}: rendered text does not parse: {e:?}\n{text}"));
        let mut a = again.0;
        let mut b = cfg.clone();
        // Line numbers and which values were explicit legitimately differ.
        for c in [&mut a, &mut b] {
            c.set_at.clear();
            c.node_lines.iter_mut().for_each(|l| *l = 0);
            for m in &mut c.media {
                m.line = 0;
            }
            for x in &mut c.children {
                x.line = 0;
            }
            for x in &mut c.env {
                x.line = 0;
            }
            c.apiauth.clear();
            // The parameter table keeps values as written; the rendering
            // normalises them.
            c.parameters.clear();
            for s in &mut c.stonith {
                match s {
                    StonithConfig::File { line, .. } | StonithConfig::Host { line, .. } => {
                        *line = 0
                    }
                }
            }
        }
        assert_eq!(a, b, "{file}\n{text}");
        assert_eq!(
            again_apiauth(&text),
            cfg.effective_apiauth()
                .iter()
                .filter(|x| x.source != ApiAuthSource::Pacemaker)
                .map(|x| x.to_string())
                .collect::<Vec<_>>(),
            "{file}"
        );
    }
}

fn again_apiauth(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("apiauth "))
        .map(|l| l.split("  #").next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn pacemaker_and_sub_second_rendering() {
    let (cfg, _) = parse_ha_cf(&test_data("pacemaker-two-node.cf"), "/etc/ha.d/ha.cf").unwrap();
    let out = render_effective(&cfg, None);
    for line in [
        "pacemaker respawn",
        "crmd_spawns_pengine off",
        "# apiauth cib uid=hacluster  (added by pacemaker)",
        "mcast eth0 239.192.0.42 694 1 0",
        "ucast eth1 10.0.0.7  # udp port 694",
        "env logpriority=debug",
        "initdead 120",
        "use_logd on",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("auth 1"), "no authkeys given");
    let (b, _) = parse_ha_cf(&test_data("harness-b-mcast.cf"), "/etc/ha.d/ha.cf").unwrap();
    let out = render_effective(&b, None);
    for line in [
        "keepalive 100ms",
        "warntime 300ms",
        "deadtime 500ms",
        "initdead 2",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn other_keys_are_listed_without_secrets() {
    let keys = parse_authkeys("auth 2\n1 crc\n2 sha1 topsecret\n3 md5 alsosecret\n", "k").unwrap();
    let out = render_effective(&crate::tests::hacf_min(), Some(&keys));
    assert!(
        out.ends_with("# authkeys k\nauth 2 (sha1)\n# also accepted: 1 (crc), 3 (md5)\n"),
        "{out}"
    );
    assert!(!out.contains("secret"), "{out}");
}

#[test]
fn full_file_renders_every_kind_of_entry() {
    let (cfg, _) = parse_ha_cf(&test_data("full-v1.cf"), "/etc/ha.d/ha.cf").unwrap();
    let out = render_effective(&cfg, None);
    for line in [
        "logfacility local0",
        "serial /dev/ttyS0  # 38400 baud",
        "ucast6 eth1 fe80::5054:ff:fe29:3949%eth1  # udp port 694",
        "ping_group group1 10.10.10.254 10.10.10.253",
        "stonith baytech /etc/ha.d/conf/stonith.baytech",
        "stonith_host * baytech 10.0.0.3 mylogin mysecretpassword",
        "respawn hacluster /usr/lib/heartbeat/ipfail",
        "failfast hacluster /usr/lib/heartbeat/dopd -v",
        "apiauth ping uid=alanr,root gid=haclient",
        "apiauth dopd uid=0 gid=haclient",
        "apiauth ccm uid=hacluster  # default",
        "watchdog /dev/watchdog",
        "rtprio 5",
        "quorum_server qs.example.com",
        "coreroot /var/lib/heartbeat/cores",
        "env FOO=bar",
        "env BAZ=",
        "max_rexmit_delay 500",
        "node kathy",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    // Stable: rendering twice gives the same text.
    assert_eq!(out, render_effective(&cfg, None));
}

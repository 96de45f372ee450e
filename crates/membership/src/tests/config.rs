//! Node names, status words, configuration checks and the ha.cf mapping, and
//! the send history's bounds.

use std::time::Duration;

use super::{config, ms, name};
use crate::history::{Body, Lookup, SendHistory};
use crate::{Config, ConfigError, NameError, NodeName, NodeStatus};

#[test]
fn node_names_are_checked_and_lower_cased() {
    assert_eq!(NodeName::new("HB1").unwrap().as_str(), "hb1");
    assert_eq!(NodeName::new("HB1").unwrap(), name("hb1"));
    assert_eq!(NodeName::new(""), Err(NameError::Empty));
    assert_eq!(NodeName::new(&"a".repeat(100)), Err(NameError::TooLong));
    assert!(NodeName::new(&"a".repeat(99)).is_ok());
    assert_eq!(NodeName::new("a b"), Err(NameError::BadCharacter));
    assert_eq!(NodeName::new("a\u{0}"), Err(NameError::BadCharacter));
}

#[test]
fn status_words_are_heartbeats() {
    for s in [
        NodeStatus::Init,
        NodeStatus::Up,
        NodeStatus::Active,
        NodeStatus::Dead,
    ] {
        assert_eq!(NodeStatus::from_wire(s.as_str()), Some(s));
    }
    assert_eq!(NodeStatus::from_wire("ACTIVE"), Some(NodeStatus::Active));
    assert_eq!(NodeStatus::from_wire("ping"), None);
}

#[test]
fn degenerate_configurations_are_refused() {
    assert_eq!(config(1).validate(), Ok(()));
    type Change = Box<dyn Fn(&mut Config)>;
    let cases: Vec<(Change, ConfigError)> = vec![
        (
            Box::new(|c| c.keepalive = Duration::ZERO),
            ConfigError::ZeroKeepalive,
        ),
        (
            Box::new(|c| c.deadtime = c.keepalive),
            ConfigError::DeadtimeNotAboveKeepalive,
        ),
        (
            Box::new(|c| c.initdead = Duration::ZERO),
            ConfigError::ZeroDuration("initdead"),
        ),
        (
            Box::new(|c| c.deadtime = Duration::from_secs(u64::MAX / 4)),
            ConfigError::DurationTooLong("deadtime"),
        ),
        (Box::new(|c| c.media = 0), ConfigError::BadMediaCount(0)),
        (Box::new(|c| c.media = 65), ConfigError::BadMediaCount(65)),
        (Box::new(|c| c.window = 0), ConfigError::ZeroBound("window")),
        (
            Box::new(|c| c.history_len = 10),
            ConfigError::WindowAboveHistory,
        ),
        (Box::new(|c| c.max_nodes = 2), ConfigError::TooManyNodes(3)),
    ];
    for (change, expected) in cases {
        let mut c = config(1);
        change(&mut c);
        assert_eq!(c.validate(), Err(expected));
    }
}

#[test]
fn ha_cf_timing_in_milliseconds_maps_through() {
    let text = "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\n\
                max_rexmit_delay 100\nbcast eth0\nmcast eth1 239.0.0.1 694 1 0\n\
                node HB1 hb2\nautojoin other\ncrm respawn\nuse_logd yes\n";
    let (cf, _) = ::config::parse_ha_cf(text, "/etc/ha.d/ha.cf").expect("valid ha.cf");
    let c = Config::from_ha_cf(&cf, name("hb1"), 7, 42).unwrap();
    assert_eq!(c.keepalive, ms(100));
    assert_eq!(c.warntime, ms(300));
    assert_eq!(c.deadtime, ms(500));
    assert_eq!(c.initdead, ms(2000));
    assert_eq!(c.max_rexmit_delay, ms(100));
    assert_eq!(c.media, 2);
    assert_eq!(c.nodes, vec![name("hb1"), name("hb2")]);
    assert!(c.autojoin);
    assert_eq!((c.generation, c.seed), (7, 42));
}

#[test]
fn history_numbers_from_one_and_keeps_the_last_n() {
    let mut h: SendHistory<Vec<u8>> = SendHistory::new(3, 1 << 20);
    assert_eq!((h.hiseq(), h.lowseq(), h.is_empty()), (0, 1, true));
    for i in 1..=5u64 {
        let seq = h.push(Body::Message {
            dest: None,
            payload: vec![i as u8],
        });
        assert_eq!(seq, i);
        h.check_invariants().unwrap();
    }
    assert_eq!((h.lowseq(), h.hiseq(), h.len()), (3, 5, 3));
    assert!(matches!(h.lookup(2), Lookup::TooLow));
    assert!(matches!(h.lookup(6), Lookup::TooHigh));
    match h.lookup(4) {
        Lookup::Held(sent) => assert_eq!(
            sent.body,
            Body::Message {
                dest: None,
                payload: vec![4]
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn history_is_bounded_in_bytes_but_keeps_the_newest() {
    let mut h: SendHistory<Vec<u8>> = SendHistory::new(500, 1000);
    for _ in 0..10 {
        let _ = h.push(Body::Message {
            dest: None,
            payload: vec![0; 300],
        });
        h.check_invariants().unwrap();
    }
    assert_eq!(h.len(), 3);
    let _ = h.push(Body::Message {
        dest: None,
        payload: vec![0; 5000],
    });
    assert_eq!((h.len(), h.hiseq(), h.lowseq()), (1, 11, 11));
    let _ = h.push(Body::Status {
        status: NodeStatus::Up,
        deadtime_ms: 500,
    });
    assert_eq!((h.len(), h.lowseq()), (1, 12));
}

//! Property tests: any message the encoder accepts comes back equal from
//! the decoder, signed or not, whatever bytes its values hold (`,` `=`
//! `\n` `%%%\n` `###\n` and NUL included), nested to any allowed depth; and
//! decoding is canonical: whatever the decoder accepts re-encodes to the
//! same bytes.

mod common;

use msg::{Message, Value};
use proptest::prelude::*;

/// Value bytes biased towards the framing's own characters.
fn nasty_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"%%%\n".to_vec()),
        Just(b"###\n".to_vec()),
        Just(b"12:".to_vec()),
        Just(b"(2)".to_vec()),
        Just(vec![0u8]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        "[ -<>-~]{1,20}",
        Just("auth".to_string()),
        Just("n".repeat(255)),
        "[α-ω]{1,4}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        nasty_bytes().prop_map(Value::String),
        nasty_bytes().prop_map(Value::Binary),
        nasty_bytes().prop_map(Value::Compressed),
        proptest::collection::vec(
            nasty_bytes().prop_filter("list items are not empty", |b| !b.is_empty()),
            1..4
        )
        .prop_map(Value::List),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let flat = proptest::collection::vec((name(), leaf()), 0..6).prop_map(build);
    flat.prop_recursive(16, 64, 5, |inner| {
        proptest::collection::vec(
            (
                name(),
                prop_oneof![
                    2 => leaf(),
                    1 => inner.clone().prop_map(Value::Struct),
                    1 => inner.prop_map(Value::Uncompressed),
                ],
            ),
            0..5,
        )
        .prop_map(build)
    })
}

/// Replaces the bytes the classic rendering cannot carry (NUL in strings
/// and list items, and the newline substitutes 0x0f..=0x1f that nested text
/// may not hold).
fn classic_safe(m: Message) -> Message {
    let clean = |v: Vec<u8>| -> Vec<u8> {
        v.into_iter()
            .map(|b| {
                if b == 0 || (0x0f..=0x1f).contains(&b) {
                    b'x'
                } else {
                    b
                }
            })
            .collect()
    };
    let mut out = Message::new();
    for f in m.fields().iter().cloned() {
        let value = match f.value {
            Value::String(v) => Value::String(clean(v)),
            Value::List(items) => Value::List(items.into_iter().map(clean).collect()),
            Value::Struct(c) => Value::Struct(classic_safe(c)),
            Value::Uncompressed(c) => Value::Uncompressed(classic_safe(c)),
            other => other,
        };
        out.add(f.name, value);
    }
    out
}

/// What Heartbeat's serial line can carry as well: no newline inside a list
/// item (list values are not escaped), no string name that reads as a type
/// prefix (`(1)x`).
fn line_safe(m: Message) -> Message {
    let mut out = Message::new();
    for f in m.fields().iter().cloned() {
        let value = match f.value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|i| {
                        i.into_iter()
                            .map(|b| if b == b'\n' { b'y' } else { b })
                            .collect()
                    })
                    .collect(),
            ),
            Value::Struct(c) => Value::Struct(line_safe(c)),
            Value::Uncompressed(c) => Value::Uncompressed(line_safe(c)),
            other => other,
        };
        let b = f.name.as_bytes();
        let name = if b.len() >= 3 && b[0] == b'(' && b[2] == b')' {
            format!("x{}", f.name)
        } else {
            f.name
        };
        out.add(name, value);
    }
    out
}

fn build(fields: Vec<(String, Value)>) -> Message {
    let mut m = Message::new();
    for (n, v) in fields {
        m.add(n, v);
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_round_trip(m in message()) {
        let body = msg::encode(&m).unwrap();
        let back = msg::decode_with(&body, &msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING))
            .unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(msg::encode(&back).unwrap(), body);
    }

    #[test]
    fn sign_verify_round_trip(m in message(), method in 0..3usize) {
        let keys = common::keys(["auth 2\n2 sha1 k\n", "auth 2\n2 md5 k\n", "auth 2\n2 crc\n"][method]);
        let mut m = m;
        match msg::sign(&mut m, &keys) {
            Ok(d) => {
                prop_assert_eq!(msg::verify_and_decode(&d, &keys).unwrap(), m);
            }
            // Values with NUL, or nested text holding its newline substitute,
            // have no classic rendering; nothing else may fail here.
            Err(msg::EncodeError::NotClassic { .. }) => {}
            Err(msg::EncodeError::TooLarge { .. }) => {}
            Err(e) => prop_assert!(false, "sign failed: {e}"),
        }
    }

    #[test]
    fn classic_safe_messages_always_sign(m in message(), method in 0..3usize) {
        let keys = common::keys(["auth 0\n0 sha1 k\n", "auth 15\n15 md5 k\n", "auth 7\n7 crc\n"][method]);
        let mut m = classic_safe(m);
        let d = msg::sign_with(&mut m, &keys, &msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING))
            .unwrap();
        prop_assert_eq!(msg::verify_and_decode_with(&d, &keys, &msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING)).unwrap(), m);
    }

    #[test]
    fn classic_render_decode_round_trip(m in message()) {
        let m = line_safe(classic_safe(m));
        let limits = msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING);
        let text = msg::render_classic(&m).unwrap();
        let back = msg::decode_classic_with(&text, &limits).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(msg::render_classic(&back).unwrap(), text);
    }

    #[test]
    fn classic_sign_verify_round_trip(m in message(), method in 0..3usize) {
        let keys = common::keys(["auth 2\n2 sha1 k\n", "auth 2\n2 md5 k\n", "auth 2\n2 crc\n"][method]);
        let limits = msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING);
        let mut m = line_safe(classic_safe(m));
        msg::sign_with(&mut m, &keys, &limits).unwrap();
        let text = msg::render_classic(&m).unwrap();
        prop_assert_eq!(msg::verify_and_decode_classic(&text, &keys, &limits).unwrap(), m);
        let other = common::keys("auth 2\n2 sha1 not-k\n");
        prop_assert!(msg::verify_and_decode_classic(&text, &other, &limits).is_err());
    }

    #[test]
    fn mutated_classic_text_never_panics(
        m in message(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)
    ) {
        let keys = common::keys("auth 1\n1 sha1 k\n");
        let limits = msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING);
        let mut m = line_safe(classic_safe(m));
        msg::sign_with(&mut m, &keys, &limits).unwrap();
        let mut text = msg::render_classic(&m).unwrap();
        for (at, x) in flips {
            let i = at % text.len();
            text[i] ^= x;
        }
        let _ = msg::decode_classic_with(&text, &limits);
        let _ = msg::verify_and_decode_classic(&text, &keys, &limits);
    }

    #[test]
    fn whatever_decodes_re_encodes_identically(
        m in message(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)
    ) {
        let mut body = msg::encode(&m).unwrap();
        for (at, x) in flips {
            let i = at % body.len();
            body[i] ^= x;
        }
        if let Ok(back) = msg::decode_with(&body, &msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING)) {
            prop_assert_eq!(msg::encode(&back).unwrap(), body);
        }
    }
}

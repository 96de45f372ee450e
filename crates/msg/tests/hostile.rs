//! What a peer must never get through: tampered, forged, malformed and
//! oversized datagrams, each refused with the right reason. In particular
//! the two tiny packets that crash Heartbeat 3.0.6 (WIRE.md section 11) and
//! proof that authentication is checked before the body is parsed.

mod common;

use common::Rng;
use msg::{DecodeError, DecodeErrorKind, Limits, Message, Value};

fn signed_sample() -> Vec<u8> {
    let mut child = Message::new();
    child.add("k", "v,=%%%\n").add_list("l", ["a", "b"]);
    let mut m = Message::new();
    m.add("t", "status")
        .add("src", "hb1")
        .add_binary("srcuuid", [7u8; 16])
        .add_struct("c", child);
    msg::sign(&mut m, &common::capture_keys()).unwrap()
}

fn refused(datagram: &[u8]) -> DecodeError {
    match msg::verify_and_decode(datagram, &common::capture_keys()) {
        Ok(m) => panic!("accepted {:?}: {m:?}", String::from_utf8_lossy(datagram)),
        Err(e) => e,
    }
}

#[test]
fn every_single_byte_flip_is_refused() {
    let good = signed_sample();
    assert!(msg::verify_and_decode(&good, &common::capture_keys()).is_ok());
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            let e = refused(&bad);
            // A flip in the body is caught by the MAC, never by the parser:
            // the parser is not reached.
            let body_end = good.len() - 46;
            if i >= 4 && i < body_end - 4 {
                assert_eq!(e.kind, DecodeErrorKind::AuthFailed, "byte {i} ^ {mask:#x}");
            }
        }
    }
}

#[test]
fn malformed_bodies_with_a_valid_looking_trailer_fail_auth_not_parse() {
    // The crash packets of WIRE.md section 11 with a forged trailer: refused
    // by the MAC check, so the parser never sees them.
    for body in [&b"###\n3:abc,%%%\n"[..], b"###\n8:(9)x=abc,%%%\n"] {
        let mut d = body.to_vec();
        d.extend_from_slice(b"42:1 0000000000000000000000000000000000000000,");
        assert_eq!(refused(&d).kind, DecodeErrorKind::AuthFailed);
    }
}

#[test]
fn crash_packets_of_section_11_are_refused_by_the_parser_too() {
    let e = msg::decode(b"###\n3:abc,%%%\n").unwrap_err();
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::NoTypePrefix, 6));
    let e = msg::decode(b"###\n8:(9)x=abc,%%%\n").unwrap_err();
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::BadType, 7));
    // Signed with the right key, they still never get past the parser.
    let keys = common::capture_keys();
    for body in [&b"###\n3:abc,%%%\n"[..], b"###\n8:(9)x=abc,%%%\n"] {
        let d = sign_raw_body(body, &keys);
        let e = msg::verify_and_decode(&d, &keys).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::NoTypePrefix | DecodeErrorKind::BadType
            ),
            "{e}"
        );
    }
}

/// Appends a correct sha1 trailer to arbitrary body bytes, as an insider
/// (someone holding the key) could.
fn sign_raw_body(body: &[u8], keys: &config::AuthKeys) -> Vec<u8> {
    let hex = msg::digest_hex(keys.active(), body).unwrap();
    let trailer = format!("{} {hex}", keys.active_index());
    let mut d = body.to_vec();
    d.extend_from_slice(format!("{}:{trailer},", trailer.len()).as_bytes());
    d
}

#[test]
fn bad_lengths_are_refused_with_their_reason() {
    let keys = common::capture_keys();
    let cases: &[(&[u8], DecodeErrorKind)] = &[
        (b"###\nx:(0)a=b,%%%\n", DecodeErrorKind::BadLength),
        (b"###\n06:(0)a=b,%%%\n", DecodeErrorKind::BadLength),
        (b"###\n-6:(0)a=b,%%%\n", DecodeErrorKind::BadLength),
        (b"###\n7:(0)a=b,%%%\n", DecodeErrorKind::MissingComma),
        (b"###\n6;(0)a=b,%%%\n", DecodeErrorKind::MissingColon),
        (b"###\n60:(0)a=b,%%%\n", DecodeErrorKind::LengthPastEnd),
        (
            b"###\n18446744073709551617:(0)a=b,%%%\n",
            DecodeErrorKind::LengthPastEnd,
        ),
        (b"###\n6:(0)a=b,", DecodeErrorKind::Truncated),
    ];
    for (body, kind) in cases {
        assert_eq!(msg::decode(body).unwrap_err().kind, *kind, "{body:?}");
        // The same with a valid trailer (the key holder sent it).
        let d = sign_raw_body(body, &keys);
        let got = msg::verify_and_decode(&d, &keys).unwrap_err().kind;
        // A body cut before its end marker has no `%%%\n` before the
        // trailer, so it is found to have none.
        if *kind == DecodeErrorKind::Truncated {
            assert_eq!(got, DecodeErrorKind::MissingTrailer);
        } else {
            assert_eq!(got, *kind, "{body:?}");
        }
    }
}

#[test]
fn wrong_key_and_unknown_index_are_refused() {
    let good = signed_sample();
    let other = common::keys("auth 1\n1 sha1 another-secret\n");
    assert_eq!(
        msg::verify_and_decode(&good, &other).unwrap_err().kind,
        DecodeErrorKind::AuthFailed
    );
    let md5 = common::keys("auth 1\n1 md5 hb-test-secret\n");
    assert_eq!(
        msg::verify_and_decode(&good, &md5).unwrap_err().kind,
        DecodeErrorKind::AuthFailed
    );
    let index2 = common::keys("auth 2\n2 sha1 hb-test-secret\n");
    let e = msg::verify_and_decode(&good, &index2).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownKeyIndex);
    assert_eq!(e.offset, good.len() - 43);
    // A packet naming index 3 is checked with key 3 even if 1 signs ours.
    let both = common::keys("auth 1\n1 sha1 x\n3 md5 hb-test-secret\n");
    let mut m = Message::new();
    m.add("t", "x");
    let from_peer = msg::sign(&mut m, &common::keys("auth 3\n3 md5 hb-test-secret\n")).unwrap();
    assert_eq!(msg::verify_and_decode(&from_peer, &both).unwrap(), m);
}

#[test]
fn malformed_trailers_are_refused() {
    let good = signed_sample();
    let body_end = good.len() - 46;
    let body = &good[..body_end];
    let digest = std::str::from_utf8(&good[body_end + 5..good.len() - 1]).unwrap();
    assert_eq!(digest.len(), 40);
    let with = |t: String| [body, t.as_bytes()].concat();
    let cases = [
        (format!("42:1 {digest}"), DecodeErrorKind::BadTrailer),
        (format!("43:1 {digest},"), DecodeErrorKind::BadTrailer),
        (format!("042:1 {digest},"), DecodeErrorKind::BadTrailer),
        (format!("43:01 {digest},"), DecodeErrorKind::BadTrailer),
        (
            format!("42:1 {},", digest.to_uppercase()),
            DecodeErrorKind::BadTrailer,
        ),
        (format!("42:1_{digest},"), DecodeErrorKind::BadTrailer),
        (format!("43:1  {digest},"), DecodeErrorKind::BadTrailer),
        (
            format!("41:1 {},", &digest[1..]),
            DecodeErrorKind::AuthFailed,
        ),
        (format!("43:99 {digest},"), DecodeErrorKind::UnknownKeyIndex),
        ("2:1 ,".to_string(), DecodeErrorKind::BadTrailer),
        (String::new(), DecodeErrorKind::MissingTrailer),
        (
            format!("42:1 {digest},{}", "x".repeat(60)),
            DecodeErrorKind::MissingTrailer,
        ),
    ];
    for (trailer, kind) in cases {
        let e = msg::verify_and_decode(&with(trailer.clone()), &common::capture_keys());
        assert_eq!(e.map_err(|e| e.kind), Err(kind), "{trailer:?}");
    }
    assert!(
        msg::verify_and_decode(&with(format!("42:1 {digest},")), &common::capture_keys()).is_ok()
    );
}

#[test]
fn random_junk_of_64_kib_is_refused() {
    let keys = common::capture_keys();
    let mut rng = Rng::new(64);
    let junk = rng.bytes(64 * 1024);
    assert_eq!(refused(&junk).kind, DecodeErrorKind::TooLarge);
    let junk = rng.bytes(65507);
    assert_eq!(refused(&junk).kind, DecodeErrorKind::NoStartMarker);
    let mut junk = rng.bytes(65507);
    junk[..4].copy_from_slice(b"###\n");
    let e = msg::verify_and_decode(&junk, &keys).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::MissingTrailer);
    // Junk after a real start and before a real-looking end.
    let n = junk.len();
    junk[n - 50..n - 46].copy_from_slice(b"%%%\n");
    junk[n - 46..].copy_from_slice(b"42:1 0000000000000000000000000000000000000000,");
    assert_eq!(
        msg::verify_and_decode(&junk, &keys).unwrap_err().kind,
        DecodeErrorKind::AuthFailed
    );
    // Without authentication the parser refuses it without panicking.
    let big = Limits::default().with_max_packet(256 * 1024);
    for seed in 0..8 {
        let mut rng = Rng::new(seed);
        let mut junk = rng.bytes(64 * 1024);
        junk[..4].copy_from_slice(b"###\n");
        assert!(msg::decode_with(&junk, &big).is_err());
    }
}

fn nested(depth: usize) -> Message {
    let mut m = Message::new();
    m.add("leaf", "x");
    for _ in 0..depth {
        let mut outer = Message::new();
        outer.add_struct("c", m);
        m = outer;
    }
    m
}

#[test]
fn depth_16_is_accepted_and_17_refused() {
    let keys = common::capture_keys();
    let mut ok = nested(16);
    let d = msg::sign(&mut ok, &keys).unwrap();
    assert_eq!(msg::verify_and_decode(&d, &keys).unwrap(), ok);

    assert_eq!(msg::encode(&nested(17)), Err(msg::EncodeError::TooDeep));
    assert_eq!(
        msg::sign(&mut nested(17), &keys),
        Err(msg::EncodeError::TooDeep)
    );
    // Hand-built depth-17 body: wrap a depth-16 body in one more struct.
    let inner = msg::encode(&nested(16)).unwrap();
    let mut item = b"(2)c=".to_vec();
    item.extend_from_slice(&inner);
    let mut body = format!("###\n{}:", item.len()).into_bytes();
    body.extend_from_slice(&item);
    body.extend_from_slice(b",%%%\n");
    let e = msg::decode(&body).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooDeep);
    let d = sign_raw_body(&body, &keys);
    assert_eq!(
        msg::verify_and_decode(&d, &keys).unwrap_err().kind,
        DecodeErrorKind::TooDeep
    );
    // A lower configured limit applies.
    let two = Limits::default().with_max_depth(2);
    assert!(msg::decode_with(&msg::encode(&nested(2)).unwrap(), &two).is_ok());
    let e = msg::decode_with(&msg::encode(&nested(3)).unwrap(), &two).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooDeep);
}

#[test]
fn field_budget_counts_nested_fields_and_list_items() {
    let mut child = Message::new();
    child.add("a", "1").add_list("l", ["x", "y", "z"]);
    let mut m = Message::new();
    m.add_struct("c", child).add("b", "2");
    // Fields: c, a, l, x, y, z, b = 7.
    let body = msg::encode(&m).unwrap();
    assert!(msg::decode_with(&body, &Limits::default().with_max_fields(7)).is_ok());
    let e = msg::decode_with(&body, &Limits::default().with_max_fields(6)).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooManyFields);
}

#[test]
fn a_packet_of_tiny_fields_hits_the_field_budget() {
    // 65507 bytes of `5:(0)a=,` would be 8188 fields; the default budget
    // is 8192, a smaller one stops the parse early.
    let mut body = b"###\n".to_vec();
    while body.len() + 8 + 4 <= 65507 {
        body.extend_from_slice(b"5:(0)a=,");
    }
    body.extend_from_slice(b"%%%\n");
    let m = msg::decode(&body).unwrap();
    assert_eq!(m.len(), (65507 - 8) / 8);
    let e = msg::decode_with(&body, &Limits::default().with_max_fields(1000)).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::TooManyFields, 4 + 1000 * 8 + 2)
    );
}

#[test]
fn classic_packets_are_refused_with_a_reason() {
    let e = refused(b">>>\nt=status\nsrc=hb1\n<<<\n");
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::ClassicFormat, 0));
    assert!(e.to_string().contains("classic"));
}

#[test]
fn sign_refuses_oversized_and_unrenderable_messages() {
    let keys = common::capture_keys();
    let mut m = Message::new();
    m.add_binary("big", vec![0u8; 65_500]);
    assert!(matches!(
        msg::sign(&mut m, &keys),
        Err(msg::EncodeError::TooLarge { .. })
    ));
    let mut m = Message::new();
    m.add_string("s", b"nul\0inside");
    assert!(matches!(
        msg::sign(&mut m, &keys),
        Err(msg::EncodeError::NotClassic { .. })
    ));
    let mut m = Message::new();
    m.add("bad=name", Value::String(b"x".to_vec()));
    assert!(matches!(
        msg::sign(&mut m, &keys),
        Err(msg::EncodeError::BadName { .. })
    ));
}

#[test]
fn every_kind_has_a_distinct_label() {
    let mut labels: Vec<&str> = DecodeErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), DecodeErrorKind::ALL.len());
}

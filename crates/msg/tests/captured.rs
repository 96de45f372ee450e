//! The two packets captured from a real Heartbeat 3.0.6 cluster and printed
//! in WIRE.md section 3 (a status heartbeat and an ack), re-built byte for
//! byte from their fields, both digests included, and decoded back. If the
//! framing, the classic rendering behind the inner `auth` field, the
//! base64 of binary fields or either HMAC were wrong, these bytes would
//! differ.

mod common;

use msg::{Message, Value};

const SRCUUID_HB1: [u8; 16] = *b"\x98\xf6\x8f~*\x99E\x01\x81\x0b\xf9\x013\x80\xed\xb1";
const UUID_HB2: [u8; 16] = *b"\xf4\xe7\x87\x9e\xcf\x10O\xe6\xb6\x8c\xc9*A\x12\xa9\x90";

const STATUS: &[u8] = b"###\n\
11:(0)t=status,12:(0)st=active,10:(0)dt=1388,13:(0)protocol=1,10:(0)src=hb1,\
27:(1)srcuuid=\x98\xf6\x8f~*\x99E\x01\x81\x0b\xf9\x013\x80\xed\xb1,9:(0)seq=26,\
14:(0)hg=6b0416df,14:(0)ts=6b0416f0,32:(0)ld=1.00 0.45 0.18 2/115 17076,8:(0)ttl=4,\
50:(0)auth=1 ef92d0837c3354b12f181ad0e70f648de30bd2ca,%%%\n\
42:1 dc70e97c75bf4449373001de54d84360f0ccaf2c,";

const ACK: &[u8] = b"###\n\
14:(0)t=NS_ackmsg,11:(0)dest=hb2,12:(0)ackseq=25,\
28:(1)destuuid=\xf4\xe7\x87\x9e\xcf\x10O\xe6\xb6\x8c\xc9*A\x12\xa9\x90,10:(0)src=hb2,\
27:(1)srcuuid=\xf4\xe7\x87\x9e\xcf\x10O\xe6\xb6\x8c\xc9*A\x12\xa9\x90,14:(0)hg=6b0416df,\
14:(0)ts=6b0416f3,8:(0)ttl=4,50:(0)auth=1 f467a3c32c4034cb1f9237d9dfcac2630c73237d,%%%\n\
42:1 2824e8a7690e2c03c7256142d40fe91d6504cd32,";

/// The status heartbeat's fields in the order heartbeat sent them, built
/// with the typed helpers.
fn status_fields() -> Message {
    let mut m = Message::new();
    m.add("t", "status").add("st", "active");
    m.set_hex("dt", 5000).set_decimal("protocol", 1);
    m.add("src", "hb1").add_binary("srcuuid", SRCUUID_HB1);
    m.set_hex("seq", 0x26)
        .set_hex("hg", 0x6b04_16df)
        .set_hex("ts", 0x6b04_16f0);
    m.add("ld", "1.00 0.45 0.18 2/115 17076").add("ttl", "4");
    m
}

fn ack_fields() -> Message {
    let mut m = Message::new();
    m.add("t", "NS_ackmsg").add("dest", "hb2");
    m.set_hex("ackseq", 0x25);
    m.add_binary("destuuid", UUID_HB2)
        .add("src", "hb2")
        .add_binary("srcuuid", UUID_HB2);
    m.set_hex("hg", 0x6b04_16df).set_hex("ts", 0x6b04_16f3);
    m.add("ttl", "4");
    m
}

#[test]
fn status_packet_is_rebuilt_byte_for_byte() {
    assert_eq!(STATUS.len(), 310);
    let mut m = status_fields();
    let datagram = msg::sign(&mut m, &common::capture_keys()).unwrap();
    assert_eq!(datagram.len(), 310);
    assert_eq!(
        String::from_utf8_lossy(&datagram),
        String::from_utf8_lossy(STATUS)
    );
    assert_eq!(datagram, STATUS);
    assert_eq!(
        m.iter().last().map(|f| f.name.as_str()),
        Some("auth"),
        "sign appends the inner auth field last"
    );
}

#[test]
fn ack_packet_is_rebuilt_byte_for_byte() {
    assert_eq!(ACK.len(), 281);
    let mut m = ack_fields();
    let datagram = msg::sign(&mut m, &common::capture_keys()).unwrap();
    assert_eq!(datagram.len(), 281);
    assert_eq!(datagram, ACK);
}

#[test]
fn signing_twice_replaces_the_inner_auth_field() {
    let keys = common::capture_keys();
    let mut m = status_fields();
    msg::sign(&mut m, &keys).unwrap();
    let again = msg::sign(&mut m, &keys).unwrap();
    assert_eq!(again, STATUS);
    assert_eq!(m.iter().filter(|f| f.name == "auth").count(), 1);
}

#[test]
fn captured_packets_decode_to_their_fields() {
    let keys = common::capture_keys();
    let status = msg::verify_and_decode(STATUS, &keys).unwrap();
    assert_eq!(status.get_str("t"), Some("status"));
    assert_eq!(status.get_str("st"), Some("active"));
    assert_eq!(status.get_hex("dt"), Some(5000));
    assert_eq!(status.get_decimal("protocol"), Some(1));
    assert_eq!(status.get_binary("srcuuid"), Some(&SRCUUID_HB1[..]));
    assert_eq!(status.get_hex("seq"), Some(0x26));
    assert_eq!(status.get_hex("hg"), Some(0x6b04_16df));
    assert_eq!(
        status.get_str("auth"),
        Some("1 ef92d0837c3354b12f181ad0e70f648de30bd2ca")
    );
    let mut expected = status_fields();
    expected.add("auth", "1 ef92d0837c3354b12f181ad0e70f648de30bd2ca");
    assert_eq!(status, expected);

    let ack = msg::verify_and_decode(ACK, &keys).unwrap();
    assert_eq!(ack.get_str("t"), Some("NS_ackmsg"));
    assert_eq!(ack.get_hex("ackseq"), Some(0x25));
    assert_eq!(ack.get("seq"), None);
    assert_eq!(ack.get("destuuid"), Some(&Value::Binary(UUID_HB2.to_vec())));
    assert_eq!(ack.len(), 10);
}

#[test]
fn captured_body_decodes_without_auth_and_re_encodes_identically() {
    let body_end = STATUS.len() - "42:1 dc70e97c75bf4449373001de54d84360f0ccaf2c,".len();
    let body = &STATUS[..body_end];
    assert!(body.ends_with(b"%%%\n"));
    let m = msg::decode(body).unwrap();
    assert_eq!(msg::encode(&m).unwrap(), body);
    // The whole datagram is not a bare body.
    let e = msg::decode(STATUS).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (msg::DecodeErrorKind::TrailingBytes, body_end)
    );
}

#[test]
fn inner_auth_covers_the_classic_rendering() {
    // What the inner digest of the ack covers: strings as name=value lines,
    // binary as (1)name=<padded base64>.
    let text = msg::auth_text(&ack_fields()).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "t=NS_ackmsg\ndest=hb2\nackseq=25\n(1)destuuid=9OeHns8QT+a2jMkqQRKpkA==\n\
         src=hb2\n(1)srcuuid=9OeHns8QT+a2jMkqQRKpkA==\nhg=6b0416df\nts=6b0416f3\nttl=4\n"
    );
}

//! Fuzz target `decode`: every byte string goes through the decoder without
//! authentication, through `verify_and_decode` as it came (the path a
//! forged datagram takes), and once more with a valid sha1 trailer appended
//! (the path a key holder's datagram takes, so the body parser is reached
//! through authentication too). Checks that nothing panics, that whatever
//! decodes re-encodes to the same bytes (the format is canonical), and
//! that the authenticated path agrees with the plain decoder.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn keys() -> &'static config::AuthKeys {
    static KEYS: OnceLock<config::AuthKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        config::parse_authkeys("auth 1\n1 sha1 hb-test-secret\n2 md5 x\n3 crc\n", "fuzz")
            .unwrap_or_else(|e| panic!("fuzz authkeys: {e:?}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING);
    let plain = msg::decode_with(data, &limits);
    if let Ok(m) = &plain {
        assert_eq!(
            msg::encode(m).as_deref(),
            Ok(data),
            "decoding is not canonical"
        );
    }
    let _ = msg::verify_and_decode_with(data, keys(), &limits);

    let Some(hex) = msg::digest_hex(keys().active(), data) else {
        return;
    };
    let mut signed = data.to_vec();
    signed.extend_from_slice(format!("42:1 {hex},").as_bytes());
    let authed = msg::verify_and_decode_with(&signed, keys(), &limits);
    match (&plain, &authed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        // A body longer than the ceiling minus the trailer is refused
        // only once the trailer is added.
        (Ok(_), Err(e)) if e.kind == msg::DecodeErrorKind::TooLarge => {}
        _ => panic!("plain {plain:?} but authenticated {authed:?}"),
    }
});

//! A deterministic stand-in for the cargo-fuzz target (`fuzz/`), runnable
//! on stable: seeded mutations of valid packets and random junk, each put
//! through the same checks as `fuzz/fuzz_targets/decode.rs`. Used by the
//! `fuzz_smoke` test (a short run) and `examples/fuzz_smoke.rs` (millions).

use super::Rng;
use msg::{DecodeErrorKind, Limits, Message, Value};

/// The checks of the fuzz target: no panic, canonical decoding, and the
/// authenticated path agreeing with the plain decoder. Returns whether the
/// plain decoder accepted the input.
pub fn check(data: &[u8], keys: &config::AuthKeys) -> bool {
    let limits = Limits::default().with_max_packet(msg::MAX_PACKET_CEILING);
    let plain = msg::decode_with(data, &limits);
    if let Ok(m) = &plain {
        assert_eq!(
            msg::encode(m).as_deref(),
            Ok(data),
            "decoding is not canonical"
        );
    }
    let _ = msg::verify_and_decode_with(data, keys, &limits);
    let hex = msg::digest_hex(keys.active(), data).expect("hmac takes any key");
    let mut signed = data.to_vec();
    signed.extend_from_slice(format!("42:1 {hex},").as_bytes());
    let authed = msg::verify_and_decode_with(&signed, keys, &limits);
    match (&plain, &authed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) if e.kind == DecodeErrorKind::TooLarge => {}
        _ => panic!("plain {plain:?} but authenticated {authed:?} for {data:?}"),
    }
    plain.is_ok()
}

/// Seed packets: the captures' shape, nested structs and lists, the crash
/// packets of WIRE.md section 11.
pub fn seeds(keys: &config::AuthKeys) -> Vec<Vec<u8>> {
    let mut status = Message::new();
    status
        .add("t", "status")
        .add("st", "active")
        .add("dt", "1388")
        .add("protocol", "1")
        .add("src", "hb1")
        .add_binary(
            "srcuuid",
            *b"\x98\xf6\x8f~*\x99E\x01\x81\x0b\xf9\x013\x80\xed\xb1",
        )
        .add("seq", "26")
        .add("ld", "1.00 0.45 0.18 2/115 17076");
    let mut child = Message::new();
    child.add("a", "b,=%%%\n").add_list("l", ["x", "yz"]);
    let mut grand = Message::new();
    grand.add_struct("c", child.clone());
    let mut nested = Message::new();
    nested
        .add_struct("c", child.clone())
        .add("u", Value::Uncompressed(grand))
        .add("z", Value::Compressed(vec![0, 1, 2]))
        .add_binary("b", b",=\n");
    let mut out = vec![
        b"###\n3:abc,%%%\n".to_vec(),
        b"###\n8:(9)x=abc,%%%\n".to_vec(),
        b"###\n%%%\n".to_vec(),
    ];
    for m in [&status, &nested, &child] {
        out.push(msg::encode(m).expect("seed encodes"));
        out.push(msg::sign(&mut m.clone(), keys).expect("seed signs"));
    }
    out
}

const INTERESTING: &[u8] = b"()=,:%#\n0123456789>\x00\xff";

/// One mutation of `input` (possibly splicing from `other`).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                d.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                d.drain(i..i + n);
            }
            4 if len > 0 => d.truncate(rng.below(len)),
            5 if len > 0 => {
                // Nudge a length digit.
                let digits: Vec<usize> = (0..len).filter(|&i| d[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len())];
                    d[i] = if rng.below(2) == 0 {
                        d[i].saturating_add(1)
                    } else {
                        d[i] - 1
                    };
                }
            }
            6 if !other.is_empty() => {
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a + 1);
                let i = rng.below(len + 1);
                d.splice(i..i, other[a..b].iter().copied());
            }
            7 if len > 0 => {
                let a = rng.below(len);
                let b = a + rng.below((len - a).min(64) + 1);
                let chunk = d[a..b].to_vec();
                let i = rng.below(len + 1);
                d.splice(i..i, chunk);
            }
            _ => {
                let n = rng.below(16);
                let i = rng.below(len + 1);
                let junk = rng.bytes(n);
                d.splice(i..i, junk);
            }
        }
    }
    d
}

/// Runs `iterations` inputs from `seed`; returns how many decoded.
pub fn run(seed: u64, iterations: u64) -> u64 {
    let keys = super::keys("auth 1\n1 sha1 hb-test-secret\n2 md5 x\n3 crc\n");
    let mut pool = seeds(&keys);
    let mut rng = Rng::new(seed);
    let mut accepted = 0;
    for i in 0..iterations {
        let input = if i % 64 == 63 {
            // Pure junk, sometimes behind a start marker.
            let n = rng.below(if i % 4096 == 4095 { 70_000 } else { 512 });
            let mut j = rng.bytes(n);
            if rng.below(2) == 0 && j.len() >= 4 {
                j[..4].copy_from_slice(b"###\n");
            }
            j
        } else {
            let a = rng.below(pool.len());
            let b = rng.below(pool.len());
            mutate(&mut rng, &pool[a], &pool[b])
        };
        if check(&input, &keys) {
            accepted += 1;
            // Keep some accepted inputs to mutate further (bounded pool).
            if pool.len() < 256 && input.len() < 4096 {
                pool.push(input);
            } else if input.len() < 4096 {
                let k = rng.below(pool.len());
                pool[k] = input;
            }
        }
    }
    accepted
}

//! Cross-check against the independent Python codec that re-builds captured
//! packets byte for byte (`shared/interop/heartbeat/hbwire.py`): random
//! messages are built and signed by both, with sha1, md5 and crc, and must
//! come out identical; nested messages and lists are compared as bodies
//! (hbwire renders only string and binary fields for the inner digest).
//!
//! Needs `python3` and the shared/ tree beside the work tree (as CI has
//! it); `HBWIRE_DIR` overrides where hbwire.py is looked for.

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Rng;
use msg::{Message, Value};

/// This crate's directory, read at run time (cargo sets it for tests), so a
/// test binary built from another checkout does not look in that one.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn hbwire_dir() -> PathBuf {
    match std::env::var_os("HBWIRE_DIR") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir().join("../../../shared/interop/heartbeat"),
    }
}

/// Runs the driver over the requests; returns one packet per request.
fn hbwire(requests: &[String]) -> Vec<Vec<u8>> {
    let dir = hbwire_dir();
    assert!(
        dir.join("hbwire.py").is_file(),
        "hbwire.py not found in {} (set HBWIRE_DIR)",
        dir.display()
    );
    let driver = manifest_dir().join("tests/hbwire/driver.py");
    let mut child = Command::new("python3")
        .arg(&driver)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to cross-check against hbwire.py");
    let mut stdin = child.stdin.take().unwrap();
    let input = requests.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "driver failed: {:?}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let packets: Vec<Vec<u8>> = text.lines().map(unhex).collect();
    assert_eq!(packets.len(), requests.len());
    packets
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The driver's JSON form of a message's fields.
fn spec(m: &Message) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|f| {
            let value = match &f.value {
                Value::String(v) | Value::Binary(v) | Value::Compressed(v) => {
                    format!("\"{}\"", hex(v))
                }
                Value::List(items) => {
                    let items: Vec<String> =
                        items.iter().map(|i| format!("\"{}\"", hex(i))).collect();
                    format!("[{}]", items.join(","))
                }
                Value::Struct(c) | Value::Uncompressed(c) => spec(c),
            };
            format!(
                "[{},\"{}\",{}]",
                f.value.type_code(),
                hex(f.name.as_bytes()),
                value
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn random_name(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz_-0123456789ABCXYZ.:/ ";
    let len = 1 + rng.below(12);
    (0..len)
        .map(|_| char::from(CHARS[rng.below(CHARS.len())]))
        .collect()
}

/// A value for a string field that both codecs render the same way in
/// classic text: no NUL (we refuse it), no newline (hbwire writes it raw,
/// cluster-glue 1.0.12 and we write 0x13).
fn classic_safe_string(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(40);
    (0..len)
        .map(|_| match rng.byte() {
            0 | b'\n' => b',',
            b => b,
        })
        .collect()
}

fn flat_message(rng: &mut Rng) -> Message {
    let mut m = Message::new();
    m.add("t", "status");
    for _ in 0..rng.below(12) {
        let name = random_name(rng);
        if name == "auth" {
            continue;
        }
        if rng.below(3) == 0 {
            let len = rng.below(33);
            m.add_binary(name, rng.bytes(len));
        } else {
            m.add_string(name, classic_safe_string(rng));
        }
    }
    m
}

fn nested_message(rng: &mut Rng, depth: usize) -> Message {
    let mut m = Message::new();
    for _ in 0..rng.below(6) {
        let name = random_name(rng);
        let len = rng.below(20);
        let value = match rng.below(if depth < 16 { 6 } else { 4 }) {
            0 => Value::String(rng.bytes(len)),
            1 => Value::Binary(rng.bytes(len)),
            2 => Value::Compressed(rng.bytes(len)),
            3 => Value::List((0..1 + rng.below(3)).map(|_| rng.bytes(1 + len)).collect()),
            4 => Value::Struct(nested_message(rng, depth + 1)),
            _ => Value::Uncompressed(nested_message(rng, depth + 1)),
        };
        m.add(name, value);
    }
    m
}

#[test]
fn signed_packets_match_hbwire_for_every_method() {
    let mut rng = Rng::new(2024);
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for (method, secret) in [
        ("sha1", "hb-test-secret"),
        ("md5", "another-key"),
        ("crc", ""),
    ] {
        for i in 0..150 {
            let idx = i % 16;
            let keys = common::keys(&format!("auth {idx}\n{idx} {method} {secret}\n"));
            let mut m = flat_message(&mut rng);
            requests.push(format!(
                "{{\"mode\":\"sign\",\"method\":\"{method}\",\"key\":\"{}\",\"idx\":{idx},\"fields\":{}}}",
                hex(secret.as_bytes()),
                spec(&m)
            ));
            ours.push(msg::sign(&mut m, &keys).unwrap());
        }
    }
    let theirs = hbwire(&requests);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "request {i}: {}",
            requests[i]
        );
        assert_eq!(a, b);
    }
}

#[test]
fn nested_bodies_match_hbwire() {
    let mut rng = Rng::new(7);
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..300 {
        let m = nested_message(&mut rng, 0);
        requests.push(format!("{{\"mode\":\"body\",\"fields\":{}}}", spec(&m)));
        ours.push(msg::encode(&m).unwrap());
    }
    let theirs = hbwire(&requests);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "request {i}: {}", requests[i]);
        // And hbwire's bytes decode to the message we built.
        let back = msg::decode_with(
            b,
            &msg::Limits::default().with_max_packet(msg::MAX_PACKET_CEILING),
        )
        .unwrap();
        assert_eq!(msg::encode(&back).unwrap(), *b);
    }
}

#[test]
fn the_captured_key_reproduces_hbwire_on_the_capture_fields() {
    // hbwire itself re-builds the captures; this ties our test key setup
    // to it: same fields, same key, same bytes.
    let mut m = Message::new();
    m.add("t", "status")
        .add("src", "hb1")
        .add_binary("srcuuid", [0x98u8; 16]);
    let req = format!(
        "{{\"mode\":\"sign\",\"method\":\"sha1\",\"key\":\"{}\",\"idx\":1,\"fields\":{}}}",
        hex(b"hb-test-secret"),
        spec(&m)
    );
    let theirs = hbwire(&[req]);
    assert_eq!(
        msg::sign(&mut m, &common::capture_keys()).unwrap(),
        theirs[0]
    );
}

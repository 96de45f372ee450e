//! Heartbeat's classic text rendering of a message (WIRE.md section 4),
//! needed only because the inner `auth` field every sender adds is a digest
//! over it. Rendering only: classic-format packets are refused on receive.
//!
//! The rules follow cluster-glue 1.0.12's `msg2string_buf` and its
//! `tostring` functions:
//! - one `name=value\n` line per field; fields other than strings get a
//!   `(n)` prefix before the name;
//! - strings: each `\n` becomes byte 0x13 (`SPECIAL_SYM`); a NUL cannot be
//!   rendered (Heartbeat's strings are C strings);
//! - binary and compressed: standard base64 with `=` padding;
//! - struct: the child rendered with `>>>\n`/`<<<\n` one level deeper, then
//!   its newlines replaced by the symbol of the parent's depth (0x14 for a
//!   child of the top level, 0x15 below that, ...: `SPECIAL_SYMS`); the
//!   child's text may not already contain that symbol;
//! - list: `<len>:<item>,` per item;
//! - uncompressed (type 5): Heartbeat has no classic form for it (it
//!   compresses such fields before signing); we render it as a struct with
//!   a `(5)` prefix. Receivers do not check the inner digest of netstring
//!   packets (WIRE.md section 8), so this choice cannot break interop.
//!
//! The inner digest covers the top level without markers and without any
//! field named `auth`.

use crate::error::EncodeError;
use crate::message::{Message, Value};

/// Replaces `\n` in string values.
const STRING_NL: u8 = 0x13;

/// Replaces `\n` in a nested message's text, by the depth of the message
/// that holds the struct (cluster-glue's `SPECIAL_SYMS`).
const DEPTH_NL: [u8; 16] = [
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 15, 16, 17, 18,
];

/// The text the inner `auth` digest covers: every field but `auth`, no
/// markers.
pub fn auth_text(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    render_fields(&mut out, msg, 0, true)?;
    Ok(out)
}

/// The full classic rendering, `>>>\n` ... `<<<\n`, every field included.
pub fn render_classic(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    render_message(&mut out, msg, 0)?;
    Ok(out)
}

fn render_message(out: &mut Vec<u8>, msg: &Message, depth: usize) -> Result<(), EncodeError> {
    out.extend_from_slice(b">>>\n");
    render_fields(out, msg, depth, false)?;
    out.extend_from_slice(b"<<<\n");
    Ok(())
}

fn render_fields(
    out: &mut Vec<u8>,
    msg: &Message,
    depth: usize,
    skip_auth: bool,
) -> Result<(), EncodeError> {
    for f in msg {
        if skip_auth && f.name == "auth" {
            continue;
        }
        let not_classic = || EncodeError::NotClassic {
            name: f.name.clone(),
        };
        if !matches!(f.value, Value::String(_)) {
            out.push(b'(');
            out.push(b'0' + f.value.type_code());
            out.push(b')');
        }
        out.extend_from_slice(f.name.as_bytes());
        out.push(b'=');
        match &f.value {
            Value::String(v) => {
                if v.contains(&0) {
                    return Err(not_classic());
                }
                out.extend(v.iter().map(|&b| if b == b'\n' { STRING_NL } else { b }));
            }
            Value::Binary(v) | Value::Compressed(v) => base64(out, v),
            Value::Struct(child) | Value::Uncompressed(child) => {
                let sym = *DEPTH_NL.get(depth).ok_or(EncodeError::TooDeep)?;
                let mut text = Vec::new();
                render_message(&mut text, child, depth + 1)?;
                if text.contains(&sym) || text.contains(&0) {
                    return Err(not_classic());
                }
                out.extend(text.iter().map(|&b| if b == b'\n' { sym } else { b }));
            }
            Value::List(items) => {
                for item in items {
                    if item.contains(&0) {
                        return Err(not_classic());
                    }
                    crate::wire::push_decimal(out, item.len());
                    out.push(b':');
                    out.extend_from_slice(item);
                    out.push(b',');
                }
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
fn base64(out: &mut Vec<u8>, data: &[u8]) {
    let sym = |v: u32| B64[(v & 63) as usize];
    for chunk in data.chunks(3) {
        let b = |i: usize| chunk.get(i).copied().map_or(0, u32::from);
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { b'=' });
        out.push(if chunk.len() > 2 { sym(n) } else { b'=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        let mut out = Vec::new();
        base64(&mut out, data);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn base64_is_standard_and_padded() {
        // RFC 4648 test vectors.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(b64(plain.as_bytes()), encoded);
        }
        assert_eq!(b64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn renders_every_type_with_the_depth_symbols() {
        let mut grandchild = Message::new();
        grandchild.add("g", "1");
        let mut child = Message::new();
        child.add("s", "a\nb").add_struct("gc", grandchild);
        let mut m = Message::new();
        m.add("t", "x\ny")
            .add_binary("b", [0xfb, 0xff])
            .add_struct("c", child)
            .add_list("l", ["p", "qr"])
            .add("auth", "1 abc");
        let text = auth_text(&m).unwrap();
        let expected: &[u8] = b"t=x\x13y\n(1)b=+/8=\n\
            (2)c=>>>\x14s=a\x13b\x14(2)gc=>>>\x15g=1\x15<<<\x15\x14<<<\x14\n\
            (3)l=1:p,2:qr,\n";
        assert_eq!(text, expected);
        let full = render_classic(&m).unwrap();
        assert!(full.starts_with(b">>>\nt=x"));
        assert!(full.ends_with(b"auth=1 abc\n<<<\n"));
    }

    #[test]
    fn refuses_what_heartbeat_cannot_render() {
        let mut m = Message::new();
        m.add_string("s", b"a\0b");
        assert!(matches!(auth_text(&m), Err(EncodeError::NotClassic { .. })));
        let mut child = Message::new();
        child.add_string("s", [0x14]);
        let mut m = Message::new();
        m.add_struct("c", child);
        assert!(matches!(auth_text(&m), Err(EncodeError::NotClassic { .. })));
        // The same byte at the top level is fine: only nested text is converted.
        let mut m = Message::new();
        m.add_string("s", [0x14]);
        assert_eq!(auth_text(&m).unwrap(), b"s=\x14\n");
    }
}

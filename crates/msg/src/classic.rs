//! Heartbeat's classic text rendering of a message (WIRE.md section 4): the
//! inner `auth` field every sender adds is a digest over it, and it is what
//! Heartbeat's serial medium puts on the tty (serial.c writes `msg2string`,
//! reads lines from `>>>` to `<<<` and parses them with `string2msg`,
//! checking the inner digest). UDP datagrams in this format are refused
//! (`DecodeErrorKind::ClassicFormat`); [`verify_and_decode_classic`] takes
//! one from a tty.
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

use config::AuthKeys;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::message::{Message, Value};
use crate::wire::{self, Limits};

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

/// Parses a classic-format message (`>>>\n`, `name=value\n` lines, `<<<\n`)
/// and checks its inner `auth` field (`<idx> <digest>` over the rendering
/// of the other fields, [`auth_text`]) with the key it names, in constant
/// time, as Heartbeat's `isauthentic` does for what arrives on a serial
/// line. The text is parsed first (the format has no outer MAC); the parser
/// checks every limit of `limits` as it reads and never panics.
pub fn verify_and_decode_classic(
    text: &[u8],
    keys: &AuthKeys,
    limits: &Limits,
) -> Result<Message, DecodeError> {
    let msg = decode_classic_with(text, limits)?;
    let end = text.len();
    let auth = msg
        .get_str(crate::AUTH_FIELD)
        .ok_or(DecodeError::new(DecodeErrorKind::MissingTrailer, end))?;
    let bad = DecodeError::new(DecodeErrorKind::BadTrailer, end);
    let (index, digest) = auth.split_once(' ').ok_or(bad)?;
    let index = crate::auth::canonical_decimal(index.as_bytes())
        .and_then(|i| u8::try_from(i).ok())
        .ok_or(bad)?;
    let key = keys
        .get(index)
        .ok_or(DecodeError::new(DecodeErrorKind::UnknownKeyIndex, end))?;
    let failed = DecodeError::new(DecodeErrorKind::AuthFailed, end);
    let covered = auth_text(&msg).map_err(|_| failed)?;
    let expected = crate::auth::digest_hex(key, &covered).ok_or(failed)?;
    if !crate::auth::ct_eq(expected.as_bytes(), digest.as_bytes()) {
        return Err(failed);
    }
    Ok(msg)
}

/// Parses a classic-format message without checking its digest. The whole
/// text must be one message; it may not be longer than
/// `limits.max_packet()`. Blank lines are skipped, as Heartbeat does.
pub fn decode_classic_with(text: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
    if text.len() > limits.max_packet() {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge,
            limits.max_packet(),
        ));
    }
    let mut budget = limits.max_fields();
    let (msg, end) = parse_message(text, 0, 0, limits, &mut budget)?;
    if end != text.len() {
        return Err(DecodeError::new(DecodeErrorKind::TrailingBytes, end));
    }
    Ok(msg)
}

/// Parses one message from the start of `buf` (whose first byte is at
/// `base` in the original text, for error offsets) at nesting `depth`;
/// returns it and the offset just past its `<<<\n`.
fn parse_message(
    buf: &[u8],
    base: usize,
    depth: usize,
    limits: &Limits,
    budget: &mut usize,
) -> Result<(Message, usize), DecodeError> {
    let err = |kind, at: usize| DecodeError::new(kind, base + at);
    if !buf.starts_with(wire::CLASSIC_START) {
        return Err(err(DecodeErrorKind::NoStartMarker, 0));
    }
    let mut msg = Message::new();
    let mut pos = wire::CLASSIC_START.len();
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(err(DecodeErrorKind::Truncated, buf.len()));
        };
        let line = &rest[..nl];
        let line_at = pos;
        pos += nl + 1;
        if line.is_empty() {
            continue;
        }
        if line == b"<<<" {
            return Ok((msg, pos));
        }
        if *budget == 0 {
            return Err(err(DecodeErrorKind::TooManyFields, line_at));
        }
        *budget -= 1;
        let eq = line
            .iter()
            .position(|&b| b == b'=')
            .ok_or(err(DecodeErrorKind::MissingEquals, line_at))?;
        let (mut name, raw) = (&line[..eq], &line[eq + 1..]);
        let mut code = 0u8;
        if let [b'(', digit, b')', after @ ..] = name {
            code = match digit {
                b'1'..=b'5' => digit - b'0',
                _ => return Err(err(DecodeErrorKind::BadType, line_at + 1)),
            };
            name = after;
        }
        if name.is_empty() {
            return Err(err(DecodeErrorKind::EmptyName, line_at));
        }
        if name.len() > limits.max_name_len() {
            return Err(err(DecodeErrorKind::NameTooLong, line_at));
        }
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|n| wire::name_ok(n.as_bytes(), limits.max_name_len()))
            .ok_or(err(DecodeErrorKind::BadName, line_at))?;
        let value_at = line_at + eq + 1;
        let value = match code {
            0 => Value::String(
                raw.iter()
                    .map(|&b| if b == STRING_NL { b'\n' } else { b })
                    .collect(),
            ),
            1 => Value::Binary(unbase64(raw).ok_or(err(DecodeErrorKind::BadBase64, value_at))?),
            4 => Value::Compressed(unbase64(raw).ok_or(err(DecodeErrorKind::BadBase64, value_at))?),
            3 => Value::List(parse_list(raw, budget).map_err(|k| err(k, value_at))?),
            _ => {
                if depth + 1 > limits.max_depth() {
                    return Err(err(DecodeErrorKind::TooDeep, value_at));
                }
                let sym = *DEPTH_NL
                    .get(depth)
                    .ok_or(err(DecodeErrorKind::TooDeep, value_at))?;
                let text: Vec<u8> = raw
                    .iter()
                    .map(|&b| if b == sym { b'\n' } else { b })
                    .collect();
                let (child, end) =
                    parse_message(&text, base + value_at, depth + 1, limits, budget)?;
                if end != text.len() {
                    return Err(err(DecodeErrorKind::TrailingBytes, value_at + end));
                }
                if code == 2 {
                    Value::Struct(child)
                } else {
                    Value::Uncompressed(child)
                }
            }
        };
        msg.add(name, value);
    }
}

/// `<len>:<item>,` repeated, at least one non-empty item.
fn parse_list(raw: &[u8], budget: &mut usize) -> Result<Vec<Vec<u8>>, DecodeErrorKind> {
    let mut items = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let colon = rest
            .iter()
            .position(|&b| b == b':')
            .ok_or(DecodeErrorKind::BadList)?;
        let len = crate::auth::canonical_decimal(&rest[..colon]).ok_or(DecodeErrorKind::BadList)?;
        let item = rest
            .get(colon + 1..colon + 1 + len)
            .ok_or(DecodeErrorKind::BadList)?;
        if item.is_empty() || rest.get(colon + 1 + len) != Some(&b',') {
            return Err(DecodeErrorKind::BadList);
        }
        if *budget == 0 {
            return Err(DecodeErrorKind::TooManyFields);
        }
        *budget -= 1;
        items.push(item.to_vec());
        rest = &rest[colon + 2 + len..];
    }
    if items.is_empty() {
        return Err(DecodeErrorKind::BadList);
    }
    Ok(items)
}

/// Standard base64 with `=` padding, strictly: a length that is a multiple
/// of 4, padding only at the end, unused bits zero (so only the canonical
/// form of each byte string is accepted).
fn unbase64(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 != 0 {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let chunks = text.chunks_exact(4);
    let last = chunks.len().saturating_sub(1);
    for (i, c) in chunks.enumerate() {
        let pad = c.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i != last) {
            return None;
        }
        let mut n = 0u32;
        for &b in &c[..4 - pad] {
            n = (n << 6) | val(b)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // Canonical: the bits padding leaves over must be zero.
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
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

    fn keys() -> AuthKeys {
        config::parse_authkeys("auth 1\n1 sha1 serial-secret\n", "authkeys").unwrap()
    }

    fn decode(text: &[u8]) -> Result<Message, DecodeErrorKind> {
        decode_classic_with(text, &Limits::DEFAULT).map_err(|e| e.kind)
    }

    #[test]
    fn a_signed_status_goes_over_the_line_and_back() {
        let mut m = Message::new();
        m.add("t", "status").add("st", "active").add("src", "hb1");
        m.add_binary("srcuuid", [0x98, 0xf6, 0x8f, 0x7e]);
        m.set_hex("seq", 26);
        crate::sign(&mut m, &keys()).unwrap();
        let text = render_classic(&m).unwrap();
        assert!(text.starts_with(
            b">>>\nt=status\nst=active\nsrc=hb1\n(1)srcuuid=mPaPfg==\nseq=1a\nauth=1 "
        ));
        assert!(text.ends_with(b"\n<<<\n"));
        assert_eq!(
            verify_and_decode_classic(&text, &keys(), &Limits::DEFAULT).unwrap(),
            m
        );
        // Any change to a covered byte fails the digest.
        let mut altered = text.clone();
        altered[8] = b'S';
        assert_eq!(
            verify_and_decode_classic(&altered, &keys(), &Limits::DEFAULT)
                .unwrap_err()
                .kind,
            DecodeErrorKind::AuthFailed
        );
        let other = config::parse_authkeys("auth 1\n1 sha1 other\n", "authkeys").unwrap();
        assert_eq!(
            verify_and_decode_classic(&text, &other, &Limits::DEFAULT)
                .unwrap_err()
                .kind,
            DecodeErrorKind::AuthFailed
        );
        let two = config::parse_authkeys("auth 2\n2 sha1 serial-secret\n", "authkeys").unwrap();
        assert_eq!(
            verify_and_decode_classic(&text, &two, &Limits::DEFAULT)
                .unwrap_err()
                .kind,
            DecodeErrorKind::UnknownKeyIndex
        );
        let unsigned = b">>>\nt=status\n<<<\n";
        assert_eq!(
            verify_and_decode_classic(unsigned, &keys(), &Limits::DEFAULT)
                .unwrap_err()
                .kind,
            DecodeErrorKind::MissingTrailer
        );
        let bad = b">>>\nt=status\nauth=x y\n<<<\n";
        assert_eq!(
            verify_and_decode_classic(bad, &keys(), &Limits::DEFAULT)
                .unwrap_err()
                .kind,
            DecodeErrorKind::BadTrailer
        );
    }

    #[test]
    fn every_type_decodes_from_its_rendering() {
        let mut child = Message::new();
        child.add("s", "a\nb");
        let mut m = Message::new();
        m.add("t", "x\ny")
            .add_binary("b", [0xfb, 0xff])
            .add_struct("c", child.clone())
            .add_list("l", ["p", "qr"])
            .add("e", "");
        m.add("u", Value::Uncompressed(child))
            .add("z", Value::Compressed(vec![1, 2, 3, 4]));
        let text = render_classic(&m).unwrap();
        assert_eq!(decode(&text), Ok(m));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_reason() {
        use DecodeErrorKind::*;
        let table: &[(&[u8], DecodeErrorKind)] = &[
            (b"", NoStartMarker),
            (b"###\nt=x\n%%%\n", NoStartMarker),
            (b">>>\nt=x\n", Truncated),
            (b">>>\nt=x\n<<<", Truncated),
            (b">>>\nt=x\n<<<\nmore", TrailingBytes),
            (b">>>\ntx\n<<<\n", MissingEquals),
            (b">>>\n=x\n<<<\n", EmptyName),
            (b">>>\n(1)=eA==\n<<<\n", EmptyName),
            (b">>>\n(9)t=x\n<<<\n", BadType),
            (b">>>\n(0)t=x\n<<<\n", BadType),
            (b">>>\nt\x01=x\n<<<\n", BadName),
            (b">>>\n\xff=x\n<<<\n", BadName),
            (b">>>\n(1)b=eA=\n<<<\n", BadBase64),
            (b">>>\n(1)b=eB==\n<<<\n", BadBase64),
            (b">>>\n(1)b=e===\n<<<\n", BadBase64),
            (b">>>\n(1)b=eA==eA==\n<<<\n", BadBase64),
            (b">>>\n(1)b=e*==\n<<<\n", BadBase64),
            (b">>>\n(3)l=\n<<<\n", BadList),
            (b">>>\n(3)l=0:,\n<<<\n", BadList),
            (b">>>\n(3)l=2:a,\n<<<\n", BadList),
            (b">>>\n(3)l=01:a,\n<<<\n", BadList),
            (b">>>\n(3)l=1:ab\n<<<\n", BadList),
            (b">>>\n(2)c=t=x\n<<<\n", NoStartMarker),
            (b">>>\n(2)c=>>>\x14t=x\x14<<<\x14junk\n<<<\n", TrailingBytes),
            (b">>>\n(2)c=>>>\x14t=x\n<<<\n", Truncated),
        ];
        for (text, kind) in table {
            assert_eq!(
                decode(text).map(|_| ()),
                Err(*kind),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        // Blank lines are skipped, as Heartbeat does.
        let mut want = Message::new();
        want.add("t", "x");
        assert_eq!(decode(b">>>\n\nt=x\n\n<<<\n"), Ok(want));
    }

    #[test]
    fn limits_hold_while_reading() {
        use DecodeErrorKind::*;
        let fields: Vec<u8> = (0..10)
            .flat_map(|i| format!("f{i}=v\n").into_bytes())
            .collect();
        let text = [&b">>>\n"[..], &fields, b"<<<\n"].concat();
        let tight = Limits::DEFAULT.with_max_fields(9);
        assert_eq!(
            decode_classic_with(&text, &tight).unwrap_err().kind,
            TooManyFields
        );
        assert!(decode_classic_with(&text, &Limits::DEFAULT.with_max_fields(10)).is_ok());
        assert_eq!(
            decode_classic_with(&text, &Limits::DEFAULT.with_max_packet(20))
                .unwrap_err()
                .kind,
            TooLarge
        );
        let short_names = Limits::DEFAULT.with_max_name_len(1);
        assert_eq!(
            decode_classic_with(&text, &short_names).unwrap_err().kind,
            NameTooLong
        );
        // 16 levels of structs, Heartbeat's MAXDEPTH.
        let mut m = Message::new();
        m.add("leaf", "1");
        for _ in 0..16 {
            let mut outer = Message::new();
            outer.add_struct("c", m);
            m = outer;
        }
        let text = render_classic(&m).unwrap();
        assert!(decode(&text).is_ok(), "16 levels are allowed");
        assert_eq!(
            decode_classic_with(&text, &Limits::DEFAULT.with_max_depth(15))
                .unwrap_err()
                .kind,
            TooDeep
        );
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

//! Packet authentication (WIRE.md section 8): the digests of Heartbeat's
//! three methods, signing a message into a complete datagram, and checking a
//! datagram's trailer MAC over its raw bytes *before* the body is parsed, so
//! an unauthenticated peer can reach nothing but this function (section 11:
//! Heartbeat 3.0.6 parses first, and two tiny forged packets crash it).

use config::{AuthKey, AuthKeys, AuthMethod};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;

use crate::classic;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::message::Message;
use crate::wire::{self, Limits};

/// Name of the inner digest field, always the last field of a signed
/// message.
pub const AUTH_FIELD: &str = "auth";

/// Longest possible trailer: `43:15 ` plus 40 hex digits and `,`.
const MAX_TRAILER: usize = 47;

/// The digest of `data` under `key`, as Heartbeat prints it: lowercase hex;
/// 40 digits for sha1, 32 for md5, and for crc the CRC-32 without leading
/// zeros (`%lx`). `None` only if the MAC refuses the key, which HMAC never
/// does (it takes keys of any length).
pub fn digest_hex(key: &AuthKey, data: &[u8]) -> Option<String> {
    match key.method {
        AuthMethod::Sha1 => hmac_hex::<Hmac<Sha1>>(key.secret(), data),
        AuthMethod::Md5 => hmac_hex::<Hmac<Md5>>(key.secret(), data),
        AuthMethod::Crc => Some(format!("{:x}", crc32_posix(data))),
    }
}

fn hmac_hex<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Option<String> {
    let mut mac = <M as KeyInit>::new_from_slice(secret).ok()?;
    mac.update(data);
    let tag = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(tag.len() * 2);
    for b in tag.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    Some(hex)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Heartbeat's `crc` method: CRC-32 MSB first, polynomial 0x04C11DB7 (the
/// `cksum` table), initial value 0, no length appended, result
/// complemented. The check value of `"123456789"` is 0x765e7680.
pub fn crc32_posix(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in data {
        let idx = ((crc >> 24) ^ u32::from(b)) & 0xff;
        crc = (crc << 8) ^ CRC_TABLE[idx as usize];
    }
    !crc
}

/// Equality whose time does not depend on where the inputs differ (only on
/// their lengths, which are public: each method's digest length is fixed).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Signs `msg` with the active key and returns the complete datagram, with
/// the default [`Limits`] (65507 bytes at most).
///
/// As Heartbeat does: every `auth` field is removed, a new one
/// `"<idx> <digest of the classic rendering>"` is appended as the last
/// field (so `msg` is changed), the message is encoded, and the trailer
/// `<len>:<idx> <digest of the body>,` is added. Fails on what
/// [`crate::encode`] refuses, on a message the classic rendering cannot
/// represent, or when the datagram would pass the packet limit.
pub fn sign(msg: &mut Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    sign_with(msg, keys, &Limits::DEFAULT)
}

/// [`sign`] with an explicit packet limit.
pub fn sign_with(
    msg: &mut Message,
    keys: &AuthKeys,
    limits: &Limits,
) -> Result<Vec<u8>, EncodeError> {
    let key = keys.active();
    msg.remove(AUTH_FIELD);
    wire::check(msg, 0)?;
    let text = classic::auth_text(msg)?;
    let inner = digest_hex(key, &text).ok_or(EncodeError::BadKey)?;
    msg.add(AUTH_FIELD, format!("{} {inner}", key.index));
    let mut out = wire::encode(msg)?;
    let outer = digest_hex(key, &out).ok_or(EncodeError::BadKey)?;
    let trailer = format!("{} {outer}", key.index);
    wire::push_decimal(&mut out, trailer.len());
    out.push(b':');
    out.extend_from_slice(trailer.as_bytes());
    out.push(b',');
    if out.len() > limits.max_packet() {
        return Err(EncodeError::TooLarge {
            size: out.len(),
            limit: limits.max_packet(),
        });
    }
    Ok(out)
}

/// Checks a datagram's trailer MAC and then decodes its body, with the
/// default [`Limits`].
pub fn verify_and_decode(datagram: &[u8], keys: &AuthKeys) -> Result<Message, DecodeError> {
    verify_and_decode_with(datagram, keys, &Limits::DEFAULT)
}

/// Checks a datagram's trailer MAC and then decodes its body.
///
/// Order: size and start marker; the trailer, found as the last `%%%\n`
/// and parsed strictly (`<len>:<idx> <lowercase hex>,` ending the
/// datagram); the key of the index it names ([`DecodeErrorKind::UnknownKeyIndex`]
/// if authkeys has none); the digest over the raw bytes from `###\n`
/// through `%%%\n`, compared in constant time; only then the body. The
/// inner `auth` field is not checked, as Heartbeat does not check it on
/// netstring packets.
pub fn verify_and_decode_with(
    datagram: &[u8],
    keys: &AuthKeys,
    limits: &Limits,
) -> Result<Message, DecodeError> {
    wire::precheck(datagram, limits)?;
    let body_end = find_body_end(datagram)?;
    let (index, digest, index_offset) = parse_trailer(datagram, body_end)?;
    let key = keys.get(index).ok_or(DecodeError::new(
        DecodeErrorKind::UnknownKeyIndex,
        index_offset,
    ))?;
    let body = datagram.get(..body_end).unwrap_or_default();
    let auth_failed = DecodeError::new(DecodeErrorKind::AuthFailed, body_end);
    let expected = digest_hex(key, body).ok_or(auth_failed)?;
    if !ct_eq(expected.as_bytes(), digest) {
        return Err(auth_failed);
    }
    wire::parse_body(datagram, body_end, limits)
}

/// Offset just past the last `%%%\n`, which must be within the trailer's
/// reach of the end.
fn find_body_end(datagram: &[u8]) -> Result<usize, DecodeError> {
    let tail_start = datagram.len().saturating_sub(MAX_TRAILER + wire::END.len());
    let tail = datagram.get(tail_start..).unwrap_or_default();
    let missing = DecodeError::new(DecodeErrorKind::MissingTrailer, datagram.len());
    let at = tail
        .windows(wire::END.len())
        .rposition(|w| w == wire::END)
        .ok_or(missing)?;
    let body_end = tail_start + at + wire::END.len();
    if body_end == datagram.len() {
        return Err(missing);
    }
    Ok(body_end)
}

/// Parses `<len>:<idx> <hex>,` from `body_end` to the end of the datagram;
/// returns the key index, the digest bytes and the index's offset.
fn parse_trailer(datagram: &[u8], body_end: usize) -> Result<(u8, &[u8], usize), DecodeError> {
    let bad = |offset: usize| DecodeError::new(DecodeErrorKind::BadTrailer, offset);
    let trailer = datagram.get(body_end..).unwrap_or_default();
    let colon = trailer
        .iter()
        .position(|&b| b == b':')
        .ok_or(bad(body_end))?;
    let len_digits = trailer.get(..colon).unwrap_or_default();
    let len = canonical_decimal(len_digits).ok_or(bad(body_end))?;
    let payload_start = colon + 1;
    let payload = trailer
        .get(payload_start..)
        .and_then(|rest| rest.strip_suffix(b","))
        .ok_or(bad(body_end))?;
    if payload.len() != len {
        return Err(bad(body_end));
    }
    let index_offset = body_end + payload_start;
    let space = payload
        .iter()
        .position(|&b| b == b' ')
        .ok_or(bad(index_offset))?;
    let (index, digest) = payload.split_at(space);
    let digest = digest.get(1..).unwrap_or_default();
    let index = canonical_decimal(index)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or(bad(index_offset))?;
    let hex_ok = !digest.is_empty()
        && digest.len() <= 40
        && digest
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex_ok {
        return Err(bad(index_offset + space + 1));
    }
    Ok((index, digest, index_offset))
}

/// A decimal number without sign or leading zeros, at most 5 digits.
pub(crate) fn canonical_decimal(digits: &[u8]) -> Option<usize> {
    let ok = !digits.is_empty()
        && digits.len() <= 5
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    if !ok {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32_posix(b"123456789"), 0x765e_7680);
        assert_eq!(crc32_posix(b""), 0xffff_ffff);
    }

    #[test]
    fn hmac_test_vectors() {
        // RFC 2202 test case 2 for both.
        let keys = config::parse_authkeys("auth 1\n1 sha1 Jefe\n2 md5 Jefe\n", "t").unwrap();
        let data = b"what do ya want for nothing?";
        assert_eq!(
            digest_hex(keys.get(1).unwrap(), data).unwrap(),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            digest_hex(keys.get(2).unwrap(), data).unwrap(),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn canonical_decimals() {
        assert_eq!(canonical_decimal(b"0"), Some(0));
        assert_eq!(canonical_decimal(b"42"), Some(42));
        for bad in [&b""[..], b"01", b"-1", b"+1", b"1 ", b"123456"] {
            assert_eq!(canonical_decimal(bad), None);
        }
    }
}

//! The netstring wire format every Heartbeat 3 node sends (WIRE.md section
//! 3): `###\n`, one `<len>:(<n>)name=value,` item per field, `%%%\n`;
//! nested messages are the same text as a value. Encoding, and a decoder
//! that checks every limit while it reads, before it allocates, and never
//! panics: a hostile datagram costs at most a bounded multiple of its own
//! size in memory and one pass over its bytes.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::message::{Field, Message, Value, MAX_NAME_LEN};

/// Start of a netstring-format message.
pub const START: &[u8] = b"###\n";
/// End of a netstring-format message.
pub const END: &[u8] = b"%%%\n";
/// Start of a classic-format message (refused by the decoder).
pub const CLASSIC_START: &[u8] = b">>>\n";

/// Largest UDP payload over IPv4, and so the largest Heartbeat datagram in
/// practice: the default packet limit.
pub const DEFAULT_MAX_PACKET: usize = 65507;
/// Heartbeat's `MAXMSG` (256 KiB): the packet limit cannot be set higher,
/// and [`encode`] refuses bodies above it.
pub const MAX_PACKET_CEILING: usize = 262_144;
/// Heartbeat's `MAXDEPTH`: the most levels of nested structs.
pub const MAX_DEPTH: usize = 16;
/// Default field budget of one datagram (fields of every nesting level
/// and list items together).
pub const DEFAULT_MAX_FIELDS: usize = 8192;

/// What the decoder accepts. Every limit is checked while parsing, before
/// the memory for what it bounds is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_packet: usize,
    max_fields: usize,
    max_depth: usize,
    max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

impl Limits {
    /// 65507-byte packets, 8192 fields, depth 16, names up to 255 bytes.
    pub const DEFAULT: Limits = Limits {
        max_packet: DEFAULT_MAX_PACKET,
        max_fields: DEFAULT_MAX_FIELDS,
        max_depth: MAX_DEPTH,
        max_name_len: MAX_NAME_LEN,
    };

    /// Largest datagram accepted, in bytes (trailer included).
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Most fields in one datagram, counting nested messages' fields and
    /// list items.
    pub fn max_fields(&self) -> usize {
        self.max_fields
    }

    /// Most levels of nested messages (a message without structs has 0).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Longest field name.
    pub fn max_name_len(&self) -> usize {
        self.max_name_len
    }

    /// Sets the packet limit, capped at [`MAX_PACKET_CEILING`].
    #[must_use]
    pub fn with_max_packet(mut self, bytes: usize) -> Limits {
        self.max_packet = bytes.min(MAX_PACKET_CEILING);
        self
    }

    /// Sets the field budget.
    #[must_use]
    pub fn with_max_fields(mut self, fields: usize) -> Limits {
        self.max_fields = fields;
        self
    }

    /// Sets the depth limit, capped at [`MAX_DEPTH`].
    #[must_use]
    pub fn with_max_depth(mut self, depth: usize) -> Limits {
        self.max_depth = depth.min(MAX_DEPTH);
        self
    }

    /// Sets the name length limit, capped at [`MAX_NAME_LEN`].
    #[must_use]
    pub fn with_max_name_len(mut self, len: usize) -> Limits {
        self.max_name_len = len.min(MAX_NAME_LEN);
        self
    }
}

/// Whether a name may be put on the wire: 1 to `max` bytes, no `=`, no
/// control characters. (UTF-8 is checked separately by the decoder; a
/// `String` already is.)
pub(crate) fn name_ok(name: &[u8], max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.iter().all(|&b| b >= 0x20 && b != 0x7f && b != b'=')
}

/// The netstring form of a message, without authentication trailer: what
/// a nested struct carries, and what the trailer digest covers.
///
/// Refuses what a Heartbeat 3 node or [`decode`] would refuse: bad names,
/// empty lists or list items, nesting deeper than [`MAX_DEPTH`], a body
/// larger than [`MAX_PACKET_CEILING`].
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let size = check(msg, 0)?;
    if size > MAX_PACKET_CEILING {
        return Err(EncodeError::TooLarge {
            size,
            limit: MAX_PACKET_CEILING,
        });
    }
    let mut out = Vec::with_capacity(size);
    write_message(&mut out, msg);
    debug_assert_eq!(out.len(), size);
    Ok(out)
}

/// Checks a message for encoding and returns its encoded size.
pub(crate) fn check(msg: &Message, depth: usize) -> Result<usize, EncodeError> {
    let mut size = START.len() + END.len();
    for f in msg {
        if !name_ok(f.name.as_bytes(), MAX_NAME_LEN) {
            return Err(EncodeError::BadName {
                name: f.name.clone(),
            });
        }
        let value_len = match &f.value {
            Value::String(v) | Value::Binary(v) | Value::Compressed(v) => v.len(),
            Value::Struct(m) | Value::Uncompressed(m) => {
                if depth >= MAX_DEPTH {
                    return Err(EncodeError::TooDeep);
                }
                check(m, depth + 1)?
            }
            Value::List(items) => {
                if items.is_empty() || items.iter().any(Vec::is_empty) {
                    return Err(EncodeError::BadList {
                        name: f.name.clone(),
                    });
                }
                items
                    .iter()
                    .map(|i| netstring_len(i.len()))
                    .fold(0, usize::saturating_add)
            }
        };
        size = size.saturating_add(netstring_len(item_len(f, value_len)));
    }
    Ok(size)
}

/// Length of `(n)name=value`.
fn item_len(f: &Field, value_len: usize) -> usize {
    3 + f.name.len() + 1 + value_len
}

/// Length of `<len>:<data>,` for data of `len` bytes.
fn netstring_len(len: usize) -> usize {
    decimal_len(len) + 1 + len + 1
}

fn decimal_len(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

pub(crate) fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Encoded length of a value (the message was checked already).
fn value_len(v: &Value) -> usize {
    match v {
        Value::String(b) | Value::Binary(b) | Value::Compressed(b) => b.len(),
        Value::Struct(m) | Value::Uncompressed(m) => message_len(m),
        Value::List(items) => items.iter().map(|i| netstring_len(i.len())).sum(),
    }
}

fn message_len(m: &Message) -> usize {
    START.len()
        + END.len()
        + m.iter()
            .map(|f| netstring_len(item_len(f, value_len(&f.value))))
            .sum::<usize>()
}

fn write_message(out: &mut Vec<u8>, m: &Message) {
    out.extend_from_slice(START);
    for f in m {
        push_decimal(out, item_len(f, value_len(&f.value)));
        out.extend_from_slice(b":(");
        out.push(b'0' + f.value.type_code());
        out.push(b')');
        out.extend_from_slice(f.name.as_bytes());
        out.push(b'=');
        match &f.value {
            Value::String(b) | Value::Binary(b) | Value::Compressed(b) => out.extend_from_slice(b),
            Value::Struct(child) | Value::Uncompressed(child) => write_message(out, child),
            Value::List(items) => {
                for item in items {
                    push_decimal(out, item.len());
                    out.push(b':');
                    out.extend_from_slice(item);
                    out.push(b',');
                }
            }
        }
        out.push(b',');
    }
    out.extend_from_slice(END);
}

/// Decodes a message body (`###\n` ... `%%%\n`, nothing after it) with the
/// default [`Limits`]. No authentication: for datagrams from the network use
/// [`crate::verify_and_decode`].
pub fn decode(body: &[u8]) -> Result<Message, DecodeError> {
    decode_with(body, &Limits::DEFAULT)
}

/// [`decode`] with explicit limits.
pub fn decode_with(body: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
    precheck(body, limits)?;
    parse_body(body, body.len(), limits)
}

/// The checks that need no parsing: size and start marker.
pub(crate) fn precheck(datagram: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    if datagram.len() > limits.max_packet {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge,
            limits.max_packet,
        ));
    }
    if datagram.starts_with(CLASSIC_START) {
        return Err(DecodeError::new(DecodeErrorKind::ClassicFormat, 0));
    }
    if !datagram.starts_with(START) {
        let kind = if START.starts_with(datagram) {
            DecodeErrorKind::Truncated
        } else {
            DecodeErrorKind::NoStartMarker
        };
        return Err(DecodeError::new(kind, 0));
    }
    Ok(())
}

/// Parses `buf[..end]` as exactly one message.
pub(crate) fn parse_body(buf: &[u8], end: usize, limits: &Limits) -> Result<Message, DecodeError> {
    let mut p = Parser {
        buf,
        limits,
        fields: 0,
    };
    let (msg, next) = p.message(0, end, 0)?;
    if next != end {
        return Err(DecodeError::new(DecodeErrorKind::TrailingBytes, next));
    }
    Ok(msg)
}

struct Parser<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
    /// Fields and list items read so far, all levels together.
    fields: usize,
}

fn err<T>(kind: DecodeErrorKind, offset: usize) -> Result<T, DecodeError> {
    Err(DecodeError::new(kind, offset))
}

impl<'a> Parser<'a> {
    /// `buf[start..end]`, never panicking (empty when out of range).
    fn slice(&self, start: usize, end: usize) -> &'a [u8] {
        self.buf.get(start..end).unwrap_or_default()
    }

    /// Parses one message starting at `start` and ending at or before
    /// `end`; returns it with the offset just past its `%%%\n`.
    fn message(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
    ) -> Result<(Message, usize), DecodeError> {
        let head = self.slice(start, end);
        if !head.starts_with(START) {
            let kind = if START.starts_with(head) {
                DecodeErrorKind::Truncated
            } else if head.starts_with(CLASSIC_START) {
                DecodeErrorKind::ClassicFormat
            } else {
                DecodeErrorKind::NoStartMarker
            };
            return err(kind, start);
        }
        let mut pos = start + START.len();
        let mut fields = Vec::new();
        loop {
            let rest = self.slice(pos, end);
            if rest.starts_with(END) {
                pos += END.len();
                break;
            }
            if END.starts_with(rest) {
                // Empty, or a cut-off end marker.
                return err(DecodeErrorKind::Truncated, pos);
            }
            let (item_start, item_end) = self.netstring(pos, end)?;
            fields.push(self.field(item_start, item_end, depth)?);
            pos = item_end + 1;
        }
        Ok((Message::with_fields(fields), pos))
    }

    /// Reads `<len>:<data>,` at `pos`, within `end`; returns the range of
    /// the data (the `,` is at the range's end).
    fn netstring(&self, pos: usize, end: usize) -> Result<(usize, usize), DecodeError> {
        let remaining = end.saturating_sub(pos);
        let mut i = pos;
        let mut len: usize = 0;
        while let Some(&b) = self.buf.get(i).filter(|_| i < end) {
            if !b.is_ascii_digit() {
                break;
            }
            if i > pos && len == 0 {
                // A leading zero ("0" alone is fine, "01" is not).
                return err(DecodeErrorKind::BadLength, pos);
            }
            len = len * 10 + usize::from(b - b'0');
            if len > remaining {
                // Also keeps `len` far from overflowing.
                return err(DecodeErrorKind::LengthPastEnd, pos);
            }
            i += 1;
        }
        if i == pos {
            return if i >= end {
                err(DecodeErrorKind::Truncated, i)
            } else {
                err(DecodeErrorKind::BadLength, pos)
            };
        }
        match self.buf.get(i).filter(|_| i < end) {
            None => return err(DecodeErrorKind::Truncated, i),
            Some(b':') => {}
            Some(_) => return err(DecodeErrorKind::MissingColon, i),
        }
        let data_start = i + 1;
        let data_end = data_start + len;
        if data_end > end {
            return err(DecodeErrorKind::LengthPastEnd, pos);
        }
        match self.buf.get(data_end).filter(|_| data_end < end) {
            None => err(DecodeErrorKind::Truncated, data_end),
            Some(b',') => Ok((data_start, data_end)),
            Some(_) => err(DecodeErrorKind::MissingComma, data_end),
        }
    }

    fn count_field(&mut self, offset: usize) -> Result<(), DecodeError> {
        self.fields += 1;
        if self.fields > self.limits.max_fields {
            return err(DecodeErrorKind::TooManyFields, offset);
        }
        Ok(())
    }

    /// Parses `(n)name=value` in `buf[start..end]`.
    fn field(&mut self, start: usize, end: usize, depth: usize) -> Result<Field, DecodeError> {
        let item = self.slice(start, end);
        let type_code = match item {
            [b'(', t @ b'0'..=b'9', b')', ..] => t - b'0',
            _ => return err(DecodeErrorKind::NoTypePrefix, start),
        };
        if type_code > 5 {
            return err(DecodeErrorKind::BadType, start + 1);
        }
        let name_start = start + 3;
        let after_prefix = self.slice(name_start, end);
        let Some(name_len) = after_prefix.iter().position(|&b| b == b'=') else {
            return err(DecodeErrorKind::MissingEquals, start);
        };
        if name_len == 0 {
            return err(DecodeErrorKind::EmptyName, name_start);
        }
        if name_len > self.limits.max_name_len {
            return err(DecodeErrorKind::NameTooLong, name_start);
        }
        let name_bytes = self.slice(name_start, name_start + name_len);
        if !name_ok(name_bytes, MAX_NAME_LEN) {
            return err(DecodeErrorKind::BadName, name_start);
        }
        let Ok(name) = std::str::from_utf8(name_bytes) else {
            return err(DecodeErrorKind::BadName, name_start);
        };
        self.count_field(start)?;
        let name = name.to_owned();
        let vs = name_start + name_len + 1;
        let value = match type_code {
            0 => Value::String(self.slice(vs, end).to_vec()),
            1 => Value::Binary(self.slice(vs, end).to_vec()),
            3 => Value::List(self.list(vs, end)?),
            4 => Value::Compressed(self.slice(vs, end).to_vec()),
            _ => {
                // 2 and 5: a nested message filling the whole value.
                if depth >= self.limits.max_depth {
                    return err(DecodeErrorKind::TooDeep, vs);
                }
                let (child, next) = self.message(vs, end, depth + 1)?;
                if next != end {
                    return err(DecodeErrorKind::TrailingBytes, next);
                }
                if type_code == 2 {
                    Value::Struct(child)
                } else {
                    Value::Uncompressed(child)
                }
            }
        };
        Ok(Field { name, value })
    }

    /// Parses a list value: one or more `<len>:<item>,`, items non-empty.
    fn list(&mut self, start: usize, end: usize) -> Result<Vec<Vec<u8>>, DecodeError> {
        let mut items = Vec::new();
        let mut pos = start;
        while pos < end {
            let (s, e) = self
                .netstring(pos, end)
                .map_err(|e| DecodeError::new(DecodeErrorKind::BadList, e.offset))?;
            if s == e {
                return err(DecodeErrorKind::BadList, pos);
            }
            self.count_field(pos)?;
            items.push(self.slice(s, e).to_vec());
            pos = e + 1;
        }
        if items.is_empty() {
            return err(DecodeErrorKind::BadList, start);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8]) -> DecodeErrorKind {
        match decode(bytes) {
            Ok(m) => panic!("accepted {:?}: {m:?}", String::from_utf8_lossy(bytes)),
            Err(e) => e.kind,
        }
    }

    #[test]
    fn decimal_helpers_agree_with_formatting() {
        for n in [0usize, 9, 10, 99, 100, 65507, 262_144, usize::MAX] {
            let mut v = Vec::new();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
            assert_eq!(decimal_len(n), v.len());
        }
    }

    #[test]
    fn empty_message_round_trips() {
        let body = encode(&Message::new()).unwrap();
        assert_eq!(body, b"###\n%%%\n");
        assert_eq!(decode(&body).unwrap(), Message::new());
    }

    #[test]
    fn all_types_encode_as_documented() {
        let mut child = Message::new();
        child.add("a", "b");
        let mut m = Message::new();
        m.add("s", "x,=y")
            .add_binary("b", [0u8, b','])
            .add_struct("c", child.clone())
            .add_list("l", ["ab", "c"])
            .add("z", Value::Compressed(vec![1, 2]))
            .add("u", Value::Uncompressed(child));
        let body = encode(&m).unwrap();
        assert_eq!(
            body,
            b"###\n9:(0)s=x,=y,7:(1)b=\0,,22:(2)c=###\n6:(0)a=b,%%%\n,\
              14:(3)l=2:ab,1:c,,7:(4)z=\x01\x02,22:(5)u=###\n6:(0)a=b,%%%\n,%%%\n"
                .as_slice()
        );
        assert_eq!(decode(&body).unwrap(), m);
    }

    #[test]
    fn length_prefixes_must_be_canonical() {
        assert_eq!(kind(b"###\n07:(0)a=bc,%%%\n"), DecodeErrorKind::BadLength);
        assert_eq!(kind(b"###\n+7:(0)a=bc,%%%\n"), DecodeErrorKind::BadLength);
        assert_eq!(kind(b"###\n 7:(0)a=bc,%%%\n"), DecodeErrorKind::BadLength);
        assert_eq!(kind(b"###\n:(0)a=bc,%%%\n"), DecodeErrorKind::BadLength);
        assert_eq!(
            kind(b"###\n7 :(0)a=bc,%%%\n"),
            DecodeErrorKind::MissingColon
        );
        assert_eq!(kind(b"###\n9:(0)a=bc,%%%\n"), DecodeErrorKind::MissingComma);
        assert_eq!(
            kind(b"###\n99:(0)a=bc,%%%\n"),
            DecodeErrorKind::LengthPastEnd
        );
        assert_eq!(
            kind(b"###\n99999999999999999999999999999999:(0)a=bc,%%%\n"),
            DecodeErrorKind::LengthPastEnd
        );
        assert_eq!(kind(b"###\n12:(0)a=bc,%%%\n"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"###\n7:(0)a=bc,"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"###\n7:(0)a=bc,%%"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"###\n8"), DecodeErrorKind::LengthPastEnd);
        assert_eq!(kind(b"###\n0"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"###\n7:(0)a=bc"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"##"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b""), DecodeErrorKind::Truncated);
    }

    #[test]
    fn items_must_be_typed_named_pairs() {
        assert_eq!(kind(b"###\n3:abc,%%%\n"), DecodeErrorKind::NoTypePrefix);
        assert_eq!(kind(b"###\n0:,%%%\n"), DecodeErrorKind::NoTypePrefix);
        assert_eq!(kind(b"###\n7:(x)a=bc,%%%\n"), DecodeErrorKind::NoTypePrefix);
        assert_eq!(kind(b"###\n8:(9)x=abc,%%%\n"), DecodeErrorKind::BadType);
        assert_eq!(kind(b"###\n8:(6)x=abc,%%%\n"), DecodeErrorKind::BadType);
        assert_eq!(kind(b"###\n5:(0)ab,%%%\n"), DecodeErrorKind::MissingEquals);
        assert_eq!(kind(b"###\n6:(0)=ab,%%%\n"), DecodeErrorKind::EmptyName);
        assert_eq!(kind(b"###\n7:(0)\na=b,%%%\n"), DecodeErrorKind::BadName);
        assert_eq!(kind(b"###\n7:(0)\xffa=b,%%%\n"), DecodeErrorKind::BadName);
        assert_eq!(kind(b">>>\nt=x\n<<<\n"), DecodeErrorKind::ClassicFormat);
        assert_eq!(kind(b"xyz\n%%%\n"), DecodeErrorKind::NoStartMarker);
        assert_eq!(kind(b"###\n%%%\nx"), DecodeErrorKind::TrailingBytes);
    }

    #[test]
    fn values_may_be_empty_but_lists_may_not() {
        let m = decode(b"###\n5:(0)a=,5:(1)b=,5:(4)c=,%%%\n").unwrap();
        assert_eq!(m.get_bytes("a"), Some(&b""[..]));
        assert_eq!(kind(b"###\n5:(3)l=,%%%\n"), DecodeErrorKind::BadList);
        assert_eq!(kind(b"###\n8:(3)l=0:,,%%%\n"), DecodeErrorKind::BadList);
        assert_eq!(kind(b"###\n8:(3)l=1:a,,%%%\n"), DecodeErrorKind::BadList);
        assert_eq!(kind(b"###\n9:(3)l=1:ab,%%%\n"), DecodeErrorKind::BadList);
        assert_eq!(kind(b"###\n9:(3)l=01:a,%%%\n"), DecodeErrorKind::BadList);
        assert!(matches!(
            encode(Message::new().add_list("l", Vec::<Vec<u8>>::new())),
            Err(EncodeError::BadList { .. })
        ));
        assert!(matches!(
            encode(Message::new().add_list("l", ["a", ""])),
            Err(EncodeError::BadList { .. })
        ));
    }

    #[test]
    fn nested_values_must_be_exactly_one_message() {
        assert_eq!(
            kind(b"###\n14:(2)c=###\n%%%\nx,%%%\n"),
            DecodeErrorKind::TrailingBytes
        );
        assert_eq!(kind(b"###\n9:(2)c=###\n,%%%\n"), DecodeErrorKind::Truncated);
        assert_eq!(
            kind(b"###\n9:(2)c=abcd,%%%\n"),
            DecodeErrorKind::NoStartMarker
        );
        let m = decode(b"###\n13:(2)c=###\n%%%\n,%%%\n").unwrap();
        assert_eq!(m.get_struct("c"), Some(&Message::new()));
    }

    #[test]
    fn encoder_refuses_names_the_decoder_would_refuse() {
        for bad in ["", "a=b", "a\nb", "a\0", &"n".repeat(256)] {
            let mut m = Message::new();
            m.add(bad, "v");
            assert!(
                matches!(encode(&m), Err(EncodeError::BadName { .. })),
                "{bad:?}"
            );
        }
        let mut m = Message::new();
        m.add("n".repeat(255), "v").add("é", "v");
        assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn limits_are_configurable_and_capped() {
        let l = Limits::default()
            .with_max_packet(1 << 30)
            .with_max_depth(99)
            .with_max_name_len(1000)
            .with_max_fields(3);
        assert_eq!(l.max_packet(), MAX_PACKET_CEILING);
        assert_eq!(l.max_depth(), MAX_DEPTH);
        assert_eq!(l.max_name_len(), MAX_NAME_LEN);
        let mut m = Message::new();
        m.add("a", "1").add("b", "2").add_list("c", ["x"]);
        let body = encode(&m).unwrap();
        let e = decode_with(&body, &l).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TooManyFields);
        assert!(decode_with(&body, &l.with_max_fields(4)).is_ok());
        let e = decode_with(&body, &l.with_max_fields(4).with_max_name_len(0)).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::NameTooLong, 9));
        let e = decode_with(&body, &l.with_max_fields(4).with_max_packet(10)).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TooLarge);
    }
}

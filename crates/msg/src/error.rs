//! Why a datagram was refused, and why a message could not be put on the
//! wire. Every refusal reason is its own [`DecodeErrorKind`] variant, so the
//! daemon can count dropped packets per reason ([`DecodeErrorKind::ALL`],
//! [`DecodeErrorKind::as_str`]) and log the byte offset where the packet went
//! wrong.

use std::fmt;

/// A refused datagram: what was wrong and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// The reason.
    pub kind: DecodeErrorKind,
    /// Byte offset in the datagram where the problem was found.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> DecodeError {
        DecodeError { kind, offset }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.kind.as_str(),
            self.offset,
            self.kind.describe()
        )
    }
}

impl std::error::Error for DecodeError {}

/// Why a datagram was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecodeErrorKind {
    /// The datagram is larger than [`crate::Limits::max_packet`].
    TooLarge,
    /// The datagram (or a nested value) ends before the message does.
    Truncated,
    /// The datagram starts with `>>>\n`: Heartbeat's classic text format,
    /// which is not accepted as a UDP datagram (no Heartbeat 3 node sends
    /// it there; see WIRE.md section 3). The serial medium carries it:
    /// [`crate::verify_and_decode_classic`].
    ClassicFormat,
    /// The message does not start with `###\n`.
    NoStartMarker,
    /// A length prefix is not a decimal number: empty, a non-digit, a sign,
    /// or a leading zero.
    BadLength,
    /// A length prefix is larger than the bytes that remain.
    LengthPastEnd,
    /// A length prefix is not followed by `:`.
    MissingColon,
    /// An item is not followed by `,`.
    MissingComma,
    /// An item does not start with `(n)`: the packet that crashes Heartbeat
    /// 3.0.6 with an `assert` (WIRE.md section 11).
    NoTypePrefix,
    /// An item's type digit is above 5: the packet that makes Heartbeat
    /// 3.0.6 call through an out-of-range function table.
    BadType,
    /// An item has no `=` between name and value.
    MissingEquals,
    /// A field name is empty.
    EmptyName,
    /// A field name has a control character (NUL, newline, ...) or is not
    /// UTF-8.
    BadName,
    /// A field name is longer than [`crate::Limits::max_name_len`].
    NameTooLong,
    /// More fields (list items included) than [`crate::Limits::max_fields`].
    TooManyFields,
    /// Structs nested deeper than [`crate::Limits::max_depth`].
    TooDeep,
    /// A list value is empty, has an empty item, or is not a sequence of
    /// `<len>:<item>,` (Heartbeat refuses all three).
    BadList,
    /// Bytes follow the end of a message: after `%%%\n` of a nested value,
    /// or of the whole datagram when it is decoded without authentication.
    TrailingBytes,
    /// No authentication trailer after the body.
    MissingTrailer,
    /// The authentication trailer is not `<len>:<keyidx> <hexdigest>,` with
    /// a canonical index and a digest of the right form for its method.
    BadTrailer,
    /// The trailer names a key index that authkeys does not define.
    UnknownKeyIndex,
    /// The digest does not match: wrong key, or altered bytes.
    AuthFailed,
    /// A classic-format binary or compressed value is not standard padded
    /// base64.
    BadBase64,
}

impl DecodeErrorKind {
    /// Every kind, in declaration order (for per-reason drop counters).
    pub const ALL: [DecodeErrorKind; 23] = [
        DecodeErrorKind::TooLarge,
        DecodeErrorKind::Truncated,
        DecodeErrorKind::ClassicFormat,
        DecodeErrorKind::NoStartMarker,
        DecodeErrorKind::BadLength,
        DecodeErrorKind::LengthPastEnd,
        DecodeErrorKind::MissingColon,
        DecodeErrorKind::MissingComma,
        DecodeErrorKind::NoTypePrefix,
        DecodeErrorKind::BadType,
        DecodeErrorKind::MissingEquals,
        DecodeErrorKind::EmptyName,
        DecodeErrorKind::BadName,
        DecodeErrorKind::NameTooLong,
        DecodeErrorKind::TooManyFields,
        DecodeErrorKind::TooDeep,
        DecodeErrorKind::BadList,
        DecodeErrorKind::TrailingBytes,
        DecodeErrorKind::MissingTrailer,
        DecodeErrorKind::BadTrailer,
        DecodeErrorKind::UnknownKeyIndex,
        DecodeErrorKind::AuthFailed,
        DecodeErrorKind::BadBase64,
    ];

    /// A short stable label, for counters and log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeErrorKind::TooLarge => "too-large",
            DecodeErrorKind::Truncated => "truncated",
            DecodeErrorKind::ClassicFormat => "classic-format",
            DecodeErrorKind::NoStartMarker => "no-start-marker",
            DecodeErrorKind::BadLength => "bad-length",
            DecodeErrorKind::LengthPastEnd => "length-past-end",
            DecodeErrorKind::MissingColon => "missing-colon",
            DecodeErrorKind::MissingComma => "missing-comma",
            DecodeErrorKind::NoTypePrefix => "no-type-prefix",
            DecodeErrorKind::BadType => "bad-type",
            DecodeErrorKind::MissingEquals => "missing-equals",
            DecodeErrorKind::EmptyName => "empty-name",
            DecodeErrorKind::BadName => "bad-name",
            DecodeErrorKind::NameTooLong => "name-too-long",
            DecodeErrorKind::TooManyFields => "too-many-fields",
            DecodeErrorKind::TooDeep => "too-deep",
            DecodeErrorKind::BadList => "bad-list",
            DecodeErrorKind::TrailingBytes => "trailing-bytes",
            DecodeErrorKind::MissingTrailer => "missing-trailer",
            DecodeErrorKind::BadTrailer => "bad-trailer",
            DecodeErrorKind::UnknownKeyIndex => "unknown-key-index",
            DecodeErrorKind::AuthFailed => "auth-failed",
            DecodeErrorKind::BadBase64 => "bad-base64",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            DecodeErrorKind::TooLarge => "datagram larger than the packet limit",
            DecodeErrorKind::Truncated => "message ends early",
            DecodeErrorKind::ClassicFormat => "classic (>>>) format is not accepted",
            DecodeErrorKind::NoStartMarker => "message does not start with ###",
            DecodeErrorKind::BadLength => "length prefix is not a canonical decimal number",
            DecodeErrorKind::LengthPastEnd => "length prefix runs past the end",
            DecodeErrorKind::MissingColon => "length prefix not followed by ':'",
            DecodeErrorKind::MissingComma => "item not followed by ','",
            DecodeErrorKind::NoTypePrefix => "item does not start with (n)",
            DecodeErrorKind::BadType => "field type above 5",
            DecodeErrorKind::MissingEquals => "item has no '='",
            DecodeErrorKind::EmptyName => "empty field name",
            DecodeErrorKind::BadName => "field name has a forbidden byte or is not UTF-8",
            DecodeErrorKind::NameTooLong => "field name longer than the limit",
            DecodeErrorKind::TooManyFields => "more fields than the limit",
            DecodeErrorKind::TooDeep => "structs nested deeper than the limit",
            DecodeErrorKind::BadList => "malformed or empty list value",
            DecodeErrorKind::TrailingBytes => "bytes after the end of the message",
            DecodeErrorKind::MissingTrailer => "no authentication trailer",
            DecodeErrorKind::BadTrailer => "malformed authentication trailer",
            DecodeErrorKind::UnknownKeyIndex => "trailer names an unknown key index",
            DecodeErrorKind::AuthFailed => "digest does not match",
            DecodeErrorKind::BadBase64 => "value is not padded base64",
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message could not be encoded or signed. These are the sender's
/// mistakes: the encoder refuses anything a Heartbeat 3 node (or this
/// crate's decoder) would refuse.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A field name is empty, longer than [`crate::MAX_NAME_LEN`], or has a
    /// forbidden byte (`=` or a control character).
    BadName {
        /// The offending name.
        name: String,
    },
    /// A list field has no items, or an empty item.
    BadList {
        /// The list field's name.
        name: String,
    },
    /// Structs nested deeper than [`crate::MAX_DEPTH`].
    TooDeep,
    /// The encoded message would be larger than the limit.
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit it passes.
        limit: usize,
    },
    /// The message cannot be rendered in the classic text format that the
    /// inner `auth` digest covers: a string value containing NUL (Heartbeat
    /// renders strings as C strings), or a nested struct whose text already
    /// contains its level's newline substitute byte.
    NotClassic {
        /// The field whose value cannot be rendered.
        name: String,
    },
    /// The signing key was refused by the MAC implementation (cannot happen
    /// for HMAC, which takes keys of any length; kept so no path panics).
    BadKey,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BadName { name } => write!(f, "invalid field name {name:?}"),
            EncodeError::BadList { name } => {
                write!(f, "list field {name:?} is empty or has an empty item")
            }
            EncodeError::TooDeep => write!(f, "structs nested deeper than {}", crate::MAX_DEPTH),
            EncodeError::TooLarge { size, limit } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit}")
            }
            EncodeError::NotClassic { name } => write!(
                f,
                "field {name:?} cannot be rendered in the classic format the auth digest covers"
            ),
            EncodeError::BadKey => write!(f, "signing key refused"),
        }
    }
}

impl std::error::Error for EncodeError {}

//! Heartbeat 3's cluster message (`ha_msg`) and its wire format, as
//! heartbeat 3.0.6 with cluster-glue 1.0.12 sends it over UDP
//! (`shared/design/WIRE.md`).
//!
//! - [`Message`]: ordered, named, typed fields ([`Value`]: string, binary,
//!   struct, list, compressed (opaque), uncompressed).
//! - [`encode`] / [`decode`]: the netstring body, `###\n` ... `%%%\n`.
//! - [`sign`]: a message into a complete datagram, inner `auth` field and
//!   trailer digest included; [`verify_and_decode`]: a datagram from the
//!   network, trailer MAC checked over the raw bytes before the body is
//!   parsed.
//! - [`render_classic`] / [`verify_and_decode_classic`]: the classic text
//!   format, as Heartbeat's serial medium carries it.
//! - [`Limits`]: what the decoder accepts; every limit is checked while
//!   parsing, before memory is reserved for what it bounds. Refusals are
//!   [`DecodeError`]s with a [`DecodeErrorKind`] and a byte offset; the
//!   decoder never panics.
//!
//! Compression (type 4) is not implemented: such fields are carried as
//! opaque bytes in both directions.
//!
//! ```
//! let keys = config::parse_authkeys("auth 1\n1 sha1 hb-test-secret\n", "authkeys").unwrap();
//! let mut m = msg::Message::new();
//! m.add("t", "status").add("src", "hb1");
//! m.set_hex("seq", 26);
//! let datagram = msg::sign(&mut m, &keys).unwrap();
//! let back = msg::verify_and_decode(&datagram, &keys).unwrap();
//! assert_eq!(back.get_hex("seq"), Some(26));
//! assert_eq!(back, m);
//! ```

#![deny(missing_docs)]

mod auth;
mod classic;
mod error;
mod message;
mod wire;

pub use auth::{
    crc32_posix, digest_hex, sign, sign_with, verify_and_decode, verify_and_decode_with, AUTH_FIELD,
};
pub use classic::{auth_text, decode_classic_with, render_classic, verify_and_decode_classic};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use message::{Field, Message, Value, MAX_NAME_LEN};
pub use wire::{
    decode, decode_with, encode, Limits, DEFAULT_MAX_FIELDS, DEFAULT_MAX_PACKET, MAX_DEPTH,
    MAX_PACKET_CEILING,
};

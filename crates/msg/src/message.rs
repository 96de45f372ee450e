//! The cluster message itself (Heartbeat's `ha_msg`): an ordered list of
//! named, typed fields, with the accessors the daemons use and helpers for
//! Heartbeat's numeric conventions (lowercase hex for `seq`, `hg`, `ts`,
//! `dt`, `ackseq`; decimal for `firstseq`/`lastseq` of `NS_rexmit` and
//! `protocol`). Pure data: no wire format here (see `wire`).

use std::slice;

/// Longest field name the encoder writes and the decoder accepts.
pub const MAX_NAME_LEN: usize = 255;

/// A field's value. The wire type digit of each variant is
/// [`Value::type_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Type 0: bytes, usually text; may hold any byte (framing is by length).
    String(Vec<u8>),
    /// Type 1: raw bytes, such as a 16-byte UUID.
    Binary(Vec<u8>),
    /// Type 2: a nested message.
    Struct(Message),
    /// Type 3: a list of non-empty byte strings (at least one).
    List(Vec<Vec<u8>>),
    /// Type 4: compressed bytes of a nested message. Kept opaque: this crate
    /// neither compresses nor decompresses; it carries the bytes as they came.
    Compressed(Vec<u8>),
    /// Type 5: a nested message the sender may compress; on the wire it is
    /// written exactly like a struct.
    Uncompressed(Message),
}

impl Value {
    /// The wire type digit: 0 string, 1 binary, 2 struct, 3 list,
    /// 4 compressed, 5 uncompressed.
    pub fn type_code(&self) -> u8 {
        match self {
            Value::String(_) => 0,
            Value::Binary(_) => 1,
            Value::Struct(_) => 2,
            Value::List(_) => 3,
            Value::Compressed(_) => 4,
            Value::Uncompressed(_) => 5,
        }
    }

    /// The nested message of a struct or uncompressed value.
    pub fn as_message(&self) -> Option<&Message> {
        match self {
            Value::Struct(m) | Value::Uncompressed(m) => Some(m),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into_bytes())
    }
}

impl From<Message> for Value {
    fn from(m: Message) -> Value {
        Value::Struct(m)
    }
}

/// One named field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name: 1 to [`MAX_NAME_LEN`] bytes, no `=`, no control characters
    /// (checked when encoding).
    pub name: String,
    /// The value.
    pub value: Value,
}

/// A cluster message: fields in order. Names may repeat; the getters return
/// the first field of a name, as Heartbeat's `ha_msg_value` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    fields: Vec<Field>,
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    pub(crate) fn with_fields(fields: Vec<Field>) -> Message {
        Message { fields }
    }

    /// Number of fields (not counting those of nested messages).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the message has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Iterates over the fields in order.
    pub fn iter(&self) -> slice::Iter<'_, Field> {
        self.fields.iter()
    }

    /// The first field with this name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// The bytes of the first field with this name if it is a string.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// The first field with this name if it is a string and valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.get_bytes(name)?).ok()
    }

    /// The first field with this name if it is binary.
    pub fn get_binary(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::Binary(v) => Some(v),
            _ => None,
        }
    }

    /// The first field with this name if it is a nested message (struct or
    /// uncompressed).
    pub fn get_struct(&self, name: &str) -> Option<&Message> {
        self.get(name)?.as_message()
    }

    /// The first field with this name if it is a list.
    pub fn get_list(&self, name: &str) -> Option<&[Vec<u8>]> {
        match self.get(name)? {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// Appends a field (even if the name is already there).
    pub fn add(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Message {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Appends a string field.
    pub fn add_string(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Message {
        self.add(name, Value::String(value.as_ref().to_vec()))
    }

    /// Appends a binary field.
    pub fn add_binary(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Message {
        self.add(name, Value::Binary(value.as_ref().to_vec()))
    }

    /// Appends a nested message.
    pub fn add_struct(&mut self, name: impl Into<String>, value: Message) -> &mut Message {
        self.add(name, Value::Struct(value))
    }

    /// Appends a list field.
    pub fn add_list<I, T>(&mut self, name: impl Into<String>, items: I) -> &mut Message
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let items = items.into_iter().map(|i| i.as_ref().to_vec()).collect();
        self.add(name, Value::List(items))
    }

    /// Replaces the value of the first field with this name, keeping its
    /// place (Heartbeat's `ha_msg_mod`), or appends the field.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Message {
        let value = value.into();
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => f.value = value,
            None => self.fields.push(Field {
                name: name.to_owned(),
                value,
            }),
        }
        self
    }

    /// Removes every field with this name; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != name);
        before - self.fields.len()
    }

    /// A string field holding a lowercase-hex number, as Heartbeat writes
    /// `seq`, `hg`, `ts`, `dt` and `ackseq` (`%lx`). Upper-case digits are
    /// accepted on reading (Heartbeat reads with `%lx`); no sign, no `0x`, no
    /// spaces, at most 16 digits.
    pub fn get_hex(&self, name: &str) -> Option<u64> {
        parse_number(self.get_bytes(name)?, 16)
    }

    /// Sets a string field to a number in lowercase hex without leading
    /// zeros, as Heartbeat's `%lx`.
    pub fn set_hex(&mut self, name: &str, value: u64) -> &mut Message {
        self.set(name, format!("{value:x}"))
    }

    /// A string field holding a decimal number (`protocol`, and
    /// `firstseq`/`lastseq` of `NS_rexmit`). Digits only, at most 20.
    pub fn get_decimal(&self, name: &str) -> Option<u64> {
        parse_number(self.get_bytes(name)?, 10)
    }

    /// Sets a string field to a number in decimal.
    pub fn set_decimal(&mut self, name: &str, value: u64) -> &mut Message {
        self.set(name, value.to_string())
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Field;
    type IntoIter = slice::Iter<'a, Field>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

/// Parses digits of `radix` (10 or 16) into a u64; None on an empty string,
/// any other byte, or overflow.
fn parse_number(bytes: &[u8], radix: u32) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        let d = char::from(b).to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_return_the_first_field_of_a_name_and_check_the_type() {
        let mut m = Message::new();
        m.add("t", "status")
            .add("t", "other")
            .add_binary("u", [1, 2]);
        assert_eq!(m.get_str("t"), Some("status"));
        assert_eq!(m.get_binary("t"), None);
        assert_eq!(m.get_binary("u"), Some(&[1u8, 2][..]));
        assert_eq!(m.get_str("u"), None);
        assert_eq!(m.get_str("missing"), None);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut m = Message::new();
        m.add("a", "1").add("b", "2");
        m.set("a", "9").set("c", "3");
        let names: Vec<&str> = m.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(m.get_str("a"), Some("9"));
        assert_eq!(m.remove("a"), 1);
        assert_eq!(m.get("a"), None);
    }

    #[test]
    fn hex_fields_are_lowercase_without_leading_zeros() {
        let mut m = Message::new();
        m.set_hex("dt", 5000)
            .set_hex("seq", 0)
            .set_decimal("firstseq", 26);
        assert_eq!(m.get_str("dt"), Some("1388"));
        assert_eq!(m.get_str("seq"), Some("0"));
        assert_eq!(m.get_hex("dt"), Some(5000));
        assert_eq!(m.get_decimal("firstseq"), Some(26));
        m.set("hg", "6B0416DF");
        assert_eq!(m.get_hex("hg"), Some(0x6b04_16df));
        for bad in [
            "",
            "-1",
            "0x10",
            " 1",
            "1 ",
            "g",
            "1_0",
            "11111111111111111",
        ] {
            m.set("x", bad);
            assert_eq!(m.get_hex("x"), None, "{bad:?}");
        }
        m.set("x", "ffffffffffffffff");
        assert_eq!(m.get_hex("x"), Some(u64::MAX));
        m.set("x", "18446744073709551616");
        assert_eq!(m.get_decimal("x"), None);
        m.set("x", "1a");
        assert_eq!(m.get_decimal("x"), None);
    }
}

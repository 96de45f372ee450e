//! The CIB document, shared by the scheduler, the CIB daemon and the tools:
//! the XML model with parse limits ([`xml`]), scores ([`score`]), rules and
//! name/value blocks ([`rules`]) and ISO 8601 times ([`time`]).
//!
//! Pure: no I/O, no clock. "Now" is always passed in.

pub mod rules;
pub mod score;
pub mod time;
pub mod xml;

pub use rules::{IdIndex, Role, RuleContext};
pub use xml::{Element, Limits, XmlError};

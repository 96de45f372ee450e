//! The CIB document, shared by the scheduler, the CIB daemon and the tools:
//! the XML model with parse limits ([`xml`]), scores ([`score`]), rules and
//! name/value blocks ([`rules`]) and ISO 8601 times ([`time`]); for the CIB
//! daemon and tools, the document as Pacemaker reads and writes it
//! ([`doc`]), digests ([`digest`]), the version triple ([`version`]),
//! XPath ([`xpath`]), v2 patchsets ([`patch`]), the CIB operations
//! ([`ops`]), validation ([`validate`]) and schema upgrade ([`upgrade`]).
//!
//! Pure: no I/O, no clock. "Now" is always passed in.

pub mod compressed;
pub mod digest;
pub mod doc;
pub mod ops;
pub mod patch;
pub mod patch_v1;
pub mod rules;
pub mod score;
pub mod time;
pub mod upgrade;
pub mod validate;
pub mod version;
pub mod xml;
pub mod xpath;

pub use rules::{IdIndex, Role, RuleContext};
pub use xml::{Element, Limits, XmlError};

//! Parser and validator for Heartbeat 3's `ha.cf` and `authkeys`, with
//! file:line errors.
//!
//! The crate is pure: no global state, and the only file access is in the
//! `load_*` helpers. [`parse_ha_cf`] turns ha.cf text into a typed [`HaCf`]
//! with Heartbeat 3.0.6's defaults, derived values and sanity checks;
//! [`parse_authkeys`] and [`check_authkeys_permissions`] do the same for
//! authkeys; [`render_effective`] prints what `heartbeat --check` shows.
//! Every directive is described once, in [`DIRECTIVES`], which the parser
//! uses for lookup, value splitting, repeat rules and defaults.
//!
//! ```
//! let text = "keepalive 100ms\ndeadtime 500ms\ninitdead 10\nbcast eth0\nnode a b\n\
//!             auto_failback off\nuse_logd yes\n";
//! let (cf, _warnings) = config::parse_ha_cf(text, "/etc/ha.d/ha.cf").unwrap();
//! assert_eq!(cf.keepalive, std::time::Duration::from_millis(100));
//! assert_eq!(cf.udpport, 694);
//! assert_eq!(cf.nodes, ["a", "b"]);
//! ```

#![deny(missing_docs)]

mod authkeys;
mod duration;
mod error;
mod hacf;
mod parse;
mod reference;
mod render;
mod table;

pub use authkeys::{
    check_authkeys_permissions, load_authkeys, load_authkeys_as, parse_authkeys, AuthKey, AuthKeys,
    AuthMethod, Secret, MAX_AUTH_KEYS,
};
pub use duration::{format_duration, parse_duration, MAX_DURATION_MS};
pub use error::{ConfigError, Warning};
pub use hacf::{
    ApiAuth, ApiAuthSource, AutoFailback, AutoJoin, ClientChild, Compression, EnvVar,
    GenerationMethod, HaCf, Medium, MediumKind, MsgFmt, PacemakerChild, PacemakerMode, Principal,
    StonithConfig, SyslogFacility, UuidFrom, CLUSTER_GROUP, CLUSTER_USER, MAX_CLIENT_NAME,
    MAX_MEDIA, MAX_NODES, MAX_NODE_NAME,
};
pub use parse::{load_ha_cf, load_ha_cf_for_daemon, load_ha_cf_or_message, parse_ha_cf};
pub use reference::reference_markdown;
pub use render::render_effective;
pub use table::{
    canonical_spec, is_medium, lookup_directive, Arity, Category, DefaultValue, Directive,
    DirectiveSpec, Repeat, DIRECTIVES,
};

/// Where Heartbeat looks for its configuration.
pub const DEFAULT_HA_CF: &str = "/etc/ha.d/ha.cf";
/// Where Heartbeat looks for its keys.
pub const DEFAULT_AUTHKEYS: &str = "/etc/ha.d/authkeys";

#[cfg(test)]
mod tests;

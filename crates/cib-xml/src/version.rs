//! The CIB version triple (admin_epoch, epoch, num_updates) and the rules
//! for moving it after a write (CIB-LRM-FENCING.md 1.1).

use std::cmp::Ordering;
use std::fmt;

use crate::patch::same;
use crate::xml::Element;

/// `admin_epoch.epoch.num_updates`; compared in that order, numerically.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Raised by the administrator (and by upgrade and erase).
    pub admin_epoch: u64,
    /// Raised by every configuration change.
    pub epoch: u64,
    /// Raised by every other change; 0 after a configuration change.
    pub num_updates: u64,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.admin_epoch, self.epoch, self.num_updates
        )
    }
}

/// Pacemaker's integer reading of a version attribute: leading decimal
/// digits, anything else (or missing) is 0.
fn counter(el: &Element, name: &str) -> u64 {
    let v = el.attr(name).unwrap_or("").trim();
    let digits: &str = &v[..v.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().unwrap_or(0)
}

impl Version {
    /// Reads the triple from a `<cib>` element (missing counters are 0).
    pub fn of(cib: &Element) -> Version {
        Version {
            admin_epoch: counter(cib, "admin_epoch"),
            epoch: counter(cib, "epoch"),
            num_updates: counter(cib, "num_updates"),
        }
    }

    /// Writes the triple onto a `<cib>` element.
    pub fn stamp(&self, cib: &mut Element) {
        cib.set_attr("admin_epoch", &self.admin_epoch.to_string());
        cib.set_attr("epoch", &self.epoch.to_string());
        cib.set_attr("num_updates", &self.num_updates.to_string());
    }

    /// Whether a write producing `self` over `current` is refused as "older
    /// than existing configuration": lower admin_epoch, or equal admin_epoch
    /// and lower epoch. num_updates is not compared.
    pub fn is_older_config_than(&self, current: &Version) -> bool {
        (self.admin_epoch, self.epoch).cmp(&(current.admin_epoch, current.epoch)) == Ordering::Less
    }
}

/// What a write changed, which decides how the version moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the version stays.
    None,
    /// Only the status section or the `<cib>` element's own attributes.
    Status,
    /// Something under `/cib/configuration`.
    Config,
}

/// Classifies the difference between the CIB before and after a write.
pub fn classify(old: &Element, new: &Element) -> Change {
    let same_config = match (old.child("configuration"), new.child("configuration")) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    };
    if !same_config {
        return Change::Config;
    }
    if !same(old, new) {
        return Change::Status;
    }
    Change::None
}

/// Moves the version of `new` after a write from `old` (Pacemaker's
/// `xml_create_patchset` with managed versions): a configuration change
/// raises epoch and zeroes num_updates, any other change raises
/// num_updates. Counters the operation itself set on `new` are the base.
pub fn bump(old: &Element, new: &mut Element) -> Change {
    let change = classify(old, new);
    let mut v = Version::of(new);
    match change {
        Change::None => return change,
        Change::Config => {
            v.epoch = v.epoch.saturating_add(1);
            v.num_updates = 0;
        }
        Change::Status => v.num_updates = v.num_updates.saturating_add(1),
    }
    // Only the counters that exist or changed are written back, in place.
    new.set_attr("epoch", &v.epoch.to_string());
    new.set_attr("num_updates", &v.num_updates.to_string());
    if new.attr("admin_epoch").is_none() {
        new.set_attr("admin_epoch", &v.admin_epoch.to_string());
    }
    change
}

/// Replaces attribute values of the form `NAME++` (the attribute's own name
/// followed by `++`) with the current value plus one, and `NAME+=N` with the
/// current value plus N, as Pacemaker's `fix_plus_plus` / `expand_plus_plus`
/// do when an update is merged into `current`.
pub fn expand_plus_plus(name: &str, new_value: &str, current: Option<&str>) -> Option<String> {
    let rest = new_value.strip_prefix(name)?;
    let base = || -> i64 {
        let c = current.unwrap_or("0").trim();
        let n = c
            .bytes()
            .enumerate()
            .take_while(|(i, b)| b.is_ascii_digit() || (*i == 0 && (*b == b'-' || *b == b'+')))
            .count();
        c[..n].parse().unwrap_or(0)
    };
    if rest == "++" {
        return Some(base().saturating_add(1).to_string());
    }
    if let Some(n) = rest.strip_prefix("+=") {
        let inc: i64 = n.trim().parse().ok()?;
        return Some(base().saturating_add(inc).to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    fn cib(s: &str) -> Element {
        parse_cib(s, &Limits::default()).unwrap()
    }

    #[test]
    fn reads_and_orders_versions() {
        let v = Version::of(&cib(r#"<cib admin_epoch="1" epoch="20x" />"#));
        assert_eq!(v.to_string(), "1.20.0");
        let a = Version {
            admin_epoch: 0,
            epoch: 9,
            num_updates: 100,
        };
        let b = Version {
            admin_epoch: 1,
            epoch: 0,
            num_updates: 0,
        };
        assert!(a < b);
        assert!(a.is_older_config_than(&b));
        let c = Version {
            num_updates: 0,
            ..a
        };
        assert!(!c.is_older_config_than(&a), "num_updates is not compared");
    }

    #[test]
    fn bump_follows_pacemaker_rules() {
        let old = cib(
            r#"<cib admin_epoch="0" epoch="6" num_updates="117"><configuration><crm_config/></configuration><status/></cib>"#,
        );
        // A configuration change.
        let mut new = old.clone();
        new.children[0].children[0].children.push(Element::new("x"));
        assert_eq!(bump(&old, &mut new), Change::Config);
        assert_eq!(Version::of(&new).to_string(), "0.7.0");
        // A status change.
        let mut new = old.clone();
        new.children[1].children.push(Element::new("node_state"));
        assert_eq!(bump(&old, &mut new), Change::Status);
        assert_eq!(Version::of(&new).to_string(), "0.6.118");
        // `cibadmin -B`: the op raised epoch on <cib> only.
        let mut new = old.clone();
        new.set_attr("epoch", "7");
        assert_eq!(bump(&old, &mut new), Change::Status);
        assert_eq!(Version::of(&new).to_string(), "0.7.118");
        // Nothing changed: nothing moves.
        let mut new = old.clone();
        assert_eq!(bump(&old, &mut new), Change::None);
        assert_eq!(new, old);
    }

    #[test]
    fn expands_plus_plus() {
        assert_eq!(
            expand_plus_plus("epoch", "epoch++", Some("41")).as_deref(),
            Some("42")
        );
        assert_eq!(
            expand_plus_plus("epoch", "epoch++", None).as_deref(),
            Some("1")
        );
        assert_eq!(
            expand_plus_plus("v", "v+=5", Some("10")).as_deref(),
            Some("15")
        );
        assert_eq!(expand_plus_plus("v", "w++", Some("10")), None);
        assert_eq!(expand_plus_plus("v", "v+=x", Some("10")), None);
    }
}

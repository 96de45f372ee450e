//! Fencing topology (Pacemaker's `fencing-topology`): levels by target
//! (node name, pattern, or node attribute), tried in ascending index.
//! Pure.

use std::collections::BTreeMap;

use stonithapi::{LevelSpec, LevelTarget};

/// The highest level index (Pacemaker keeps slots 1..=9).
pub const MAX_INDEX: u32 = 9;

/// Why a level was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelError {
    /// Index outside 1..=9.
    BadIndex(u32),
    /// No devices listed.
    NoDevices,
    /// A pattern that is not a valid regular expression.
    BadPattern(String),
}

impl std::fmt::Display for LevelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelError::BadIndex(i) => write!(f, "level index {i} is not between 1 and 9"),
            LevelError::NoDevices => f.write_str("a fencing level needs at least one device"),
            LevelError::BadPattern(p) => write!(f, "invalid target pattern '{p}'"),
        }
    }
}

/// The levels of every target.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    levels: BTreeMap<(LevelTarget, u32), Vec<String>>,
    patterns: BTreeMap<String, regex::Regex>,
}

/// Splits a level's `devices` attribute (commas; spaces tolerated).
pub fn parse_devices(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Topology {
        Topology::default()
    }

    /// Whether there are no levels at all.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Adds or replaces a level.
    pub fn register(&mut self, level: LevelSpec) -> Result<(), LevelError> {
        if !(1..=MAX_INDEX).contains(&level.index) {
            return Err(LevelError::BadIndex(level.index));
        }
        if level.devices.is_empty() {
            return Err(LevelError::NoDevices);
        }
        if let LevelTarget::Pattern(p) = &level.target {
            // Anchored as written: Pacemaker uses regexec, which finds a
            // match anywhere unless the pattern anchors itself.
            let re = regex::Regex::new(p).map_err(|_| LevelError::BadPattern(p.clone()))?;
            self.patterns.insert(p.clone(), re);
        }
        self.levels
            .insert((level.target, level.index), level.devices);
        Ok(())
    }

    /// Removes a level; whether it existed. Index 0 removes every level of
    /// the target.
    pub fn deregister(&mut self, target: &LevelTarget, index: u32) -> bool {
        let before = self.levels.len();
        self.levels
            .retain(|(t, i), _| !(t == target && (index == 0 || *i == index)));
        before != self.levels.len()
    }

    /// Every level, in target then index order.
    pub fn levels(&self) -> Vec<LevelSpec> {
        self.levels
            .iter()
            .map(|((t, i), d)| LevelSpec {
                target: t.clone(),
                index: *i,
                devices: d.clone(),
            })
            .collect()
    }

    fn matches(&self, t: &LevelTarget, node: &str, attrs: &BTreeMap<String, String>) -> bool {
        match t {
            LevelTarget::Node(n) => n.eq_ignore_ascii_case(node),
            LevelTarget::Pattern(p) => self.patterns.get(p).is_some_and(|re| re.is_match(node)),
            LevelTarget::Attribute(a, v) => attrs.get(a) == Some(v),
        }
    }

    /// The levels that apply to `node` (whose node attributes are
    /// `attrs`), by ascending index: the device lists to try in order.
    /// When several targets define the same index (a name and a
    /// pattern), the one by name wins, then by pattern, then by attribute
    /// (Pacemaker keeps one topology entry per target kind and looks the
    /// name up first).
    pub fn levels_for(&self, node: &str, attrs: &BTreeMap<String, String>) -> Vec<Vec<String>> {
        let kind_rank = |t: &LevelTarget| match t {
            LevelTarget::Node(_) => 0,
            LevelTarget::Pattern(_) => 1,
            LevelTarget::Attribute(..) => 2,
        };
        let mut best: BTreeMap<u32, (u8, &Vec<String>)> = BTreeMap::new();
        for ((t, i), devices) in &self.levels {
            if !self.matches(t, node, attrs) {
                continue;
            }
            let rank = kind_rank(t);
            // One kind of target only: the first kind (by rank) that has
            // any level for this node decides all of its levels.
            let e = best.entry(*i).or_insert((rank, devices));
            if rank < e.0 {
                *e = (rank, devices);
            }
        }
        let Some(kind) = best.values().map(|(r, _)| *r).min() else {
            return Vec::new();
        };
        best.into_values()
            .filter(|(r, _)| *r == kind)
            .map(|(_, d)| d.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(t: &str, i: u32, d: &str) -> LevelSpec {
        LevelSpec {
            target: LevelTarget::parse(t),
            index: i,
            devices: parse_devices(d),
        }
    }

    #[test]
    fn levels_are_found_by_name_pattern_and_attribute_in_index_order() {
        let mut t = Topology::new();
        t.register(level("n1", 2, "pdu-a,pdu-b")).unwrap();
        t.register(level("n1", 1, "ipmi-n1")).unwrap();
        t.register(level("@^rack1-.*$", 1, "sw1")).unwrap();
        t.register(level("rack=2", 1, "sw2")).unwrap();
        let no = BTreeMap::new();
        let rack2: BTreeMap<String, String> = [("rack".to_string(), "2".to_string())].into();
        type Case<'a> = (&'a str, &'a BTreeMap<String, String>, Vec<Vec<&'a str>>);
        let table: &[Case] = &[
            ("n1", &no, vec![vec!["ipmi-n1"], vec!["pdu-a", "pdu-b"]]),
            ("N1", &no, vec![vec!["ipmi-n1"], vec!["pdu-a", "pdu-b"]]),
            ("rack1-a", &no, vec![vec!["sw1"]]),
            ("xrack1-a", &no, vec![]),
            ("n7", &rack2, vec![vec!["sw2"]]),
            ("n7", &no, vec![]),
            // A node named explicitly ignores the pattern and attribute.
            ("n1", &rack2, vec![vec!["ipmi-n1"], vec!["pdu-a", "pdu-b"]]),
        ];
        for (node, attrs, want) in table {
            assert_eq!(&t.levels_for(node, attrs), want, "{node}");
        }
    }

    #[test]
    fn bad_levels_are_refused_and_deregistering_works() {
        let mut t = Topology::new();
        assert_eq!(
            t.register(level("n1", 0, "d")),
            Err(LevelError::BadIndex(0))
        );
        assert_eq!(
            t.register(level("n1", 10, "d")),
            Err(LevelError::BadIndex(10))
        );
        assert_eq!(
            t.register(level("n1", 1, " , ")),
            Err(LevelError::NoDevices)
        );
        assert!(matches!(
            t.register(level("@(", 1, "d")),
            Err(LevelError::BadPattern(_))
        ));
        t.register(level("n1", 1, "a")).unwrap();
        t.register(level("n1", 2, "b")).unwrap();
        assert!(t.deregister(&LevelTarget::Node("n1".into()), 2));
        assert!(!t.deregister(&LevelTarget::Node("n1".into()), 2));
        assert_eq!(
            t.levels_for("n1", &BTreeMap::new()),
            vec![vec!["a".to_string()]]
        );
        assert!(t.deregister(&LevelTarget::Node("n1".into()), 0));
        assert!(t.is_empty());
    }
}

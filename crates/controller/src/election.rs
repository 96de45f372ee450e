//! The choice of the Designated Controller (DC). Every controller of a
//! partition computes it from the same inputs: the members of the
//! membership view whose controller has said hello, and the DC it knows.
//! The rule is stable (an incumbent DC that is still a member stays DC,
//! so a node joining never takes over) and deterministic (otherwise the
//! lowest node name wins, also when two partitions merge and both have a
//! DC), so it cannot flap.

use std::collections::BTreeSet;

/// The DC among `candidates`: the incumbent if it is one of them, else the
/// lowest name; `None` with no candidates.
pub fn choose(candidates: &BTreeSet<String>, incumbent: Option<&str>) -> Option<String> {
    if let Some(dc) = incumbent.filter(|d| candidates.contains(*d)) {
        return Some(dc.to_string());
    }
    candidates.iter().next().cloned()
}

/// When two controllers both act as DC (a healed partition), which one
/// keeps the role: the lower name.
pub fn keeps_role(me: &str, other: &str) -> bool {
    me < other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn incumbent_stays_lowest_otherwise() {
        let table: &[(&[&str], Option<&str>, Option<&str>)] = &[
            (&[], None, None),
            (&["node2", "node1", "node3"], None, Some("node1")),
            // A node with a lower name joining does not take over.
            (&["node1", "node2", "node3"], Some("node2"), Some("node2")),
            // The DC left: the lowest remaining member.
            (&["node1", "node3"], Some("node2"), Some("node1")),
            (&["node3"], Some("node1"), Some("node3")),
        ];
        for (cands, inc, want) in table {
            assert_eq!(
                choose(&set(cands), *inc).as_deref(),
                *want,
                "candidates {cands:?} incumbent {inc:?}"
            );
        }
    }

    #[test]
    fn merged_partitions_keep_one_dc() {
        assert!(keeps_role("node1", "node3"));
        assert!(!keeps_role("node3", "node1"));
    }
}

//! Quorum: whether a set of members holds more than half of the expected
//! votes. Votes are per node (default 1); the expected votes are the sum
//! over the configured nodes (or a configured total, when larger); a
//! cluster of exactly two configured nodes keeps quorum with one of them,
//! as Heartbeat does (it relies on fencing to settle which one survives).
//! What to do without quorum is the CRM's decision, not ours.

use std::collections::BTreeMap;

use crate::types::NodeName;

/// The votes of every node and the expected total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPolicy {
    /// The configured nodes (ha.cf `node` lines), in any order.
    pub nodes: Vec<NodeName>,
    /// Votes of nodes that do not have the default of 1.
    pub votes: BTreeMap<NodeName, u32>,
    /// An expected total set by the administrator; the sum over the
    /// configured nodes is used when it is larger.
    pub expected_votes: Option<u32>,
}

/// The quorum of one view, as every member reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuorumState {
    /// Whether the members hold quorum.
    pub quorate: bool,
    /// Votes the members hold.
    pub votes: u32,
    /// Votes expected in the whole cluster.
    pub expected: u32,
}

impl QuorumPolicy {
    /// One vote per configured node, no expected total.
    pub fn new(nodes: Vec<NodeName>) -> QuorumPolicy {
        QuorumPolicy {
            nodes,
            votes: BTreeMap::new(),
            expected_votes: None,
        }
    }

    /// A node's votes (1 unless configured).
    pub fn votes_of(&self, node: &NodeName) -> u32 {
        self.votes.get(node).copied().unwrap_or(1)
    }

    /// The quorum of a view with `members`, leaving out the nodes in
    /// `removed` (forgotten with `crm_node -R`) unless they are members.
    ///
    /// Expected votes = max(configured total, sum over the configured
    /// nodes that are not removed, sum over the members), so a member that
    /// is not configured never makes quorum easier to reach than it is.
    pub fn evaluate<'a>(
        &self,
        members: impl IntoIterator<Item = &'a NodeName>,
        removed: &[NodeName],
    ) -> QuorumState {
        let members: Vec<&NodeName> = members.into_iter().collect();
        let votes: u32 = members
            .iter()
            .fold(0u32, |acc, m| acc.saturating_add(self.votes_of(m)));
        let configured: Vec<&NodeName> = self
            .nodes
            .iter()
            .filter(|n| !removed.contains(n) || members.contains(n))
            .collect();
        let configured_votes = configured
            .iter()
            .fold(0u32, |acc, n| acc.saturating_add(self.votes_of(n)));
        let expected = configured_votes
            .max(self.expected_votes.unwrap_or(0))
            .max(votes);
        let two_node = configured.len() == 2
            && self.expected_votes.is_none_or(|e| e <= configured_votes)
            && members.iter().all(|m| configured.contains(m));
        let quorate = if two_node {
            votes >= 1
        } else {
            u64::from(votes) * 2 > u64::from(expected)
        };
        QuorumState {
            quorate,
            votes,
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<NodeName> {
        (1..=n)
            .map(|i| NodeName::new(&format!("node{i}")).unwrap())
            .collect()
    }

    #[test]
    fn more_than_half_of_the_votes() {
        let nodes = names(5);
        let p = QuorumPolicy::new(nodes.clone());
        assert!(p.evaluate(&nodes[..3], &[]).quorate);
        assert!(!p.evaluate(&nodes[..2], &[]).quorate);
        let q = p.evaluate(&nodes[..3], &[]);
        assert_eq!((q.votes, q.expected), (3, 5));
        // An even split has no quorum.
        let p4 = QuorumPolicy::new(names(4));
        assert!(!p4.evaluate(&names(4)[..2], &[]).quorate);
        assert!(p4.evaluate(&names(4)[..3], &[]).quorate);
    }

    #[test]
    fn two_nodes_keep_quorum_with_one() {
        let nodes = names(2);
        let p = QuorumPolicy::new(nodes.clone());
        assert!(p.evaluate(&nodes[..1], &[]).quorate);
        assert!(p.evaluate(&nodes, &[]).quorate);
        // Not when a higher expected total is configured.
        let mut p = p;
        p.expected_votes = Some(3);
        assert!(!p.evaluate(&nodes[..1], &[]).quorate);
    }

    #[test]
    fn votes_weigh_and_removed_nodes_do_not_count() {
        let nodes = names(3);
        let mut p = QuorumPolicy::new(nodes.clone());
        p.votes.insert(nodes[0].clone(), 3);
        // node1 alone holds 3 of 5.
        assert!(p.evaluate(&nodes[..1], &[]).quorate);
        assert!(!p.evaluate(&nodes[1..], &[]).quorate);
        // With node1 removed, 3 configured nodes become 2: two-node rule.
        let q = p.evaluate(&nodes[1..2], std::slice::from_ref(&nodes[0]));
        assert_eq!(q.expected, 2);
        assert!(q.quorate);
    }

    #[test]
    fn unconfigured_members_raise_the_expected_votes() {
        let nodes = names(3);
        let p = QuorumPolicy::new(nodes[..1].to_vec());
        // One configured node; three members: expected is 3, votes 3.
        let q = p.evaluate(&nodes, &[]);
        assert_eq!((q.votes, q.expected, q.quorate), (3, 3, true));
        let q = p.evaluate(&nodes[1..2], &[]);
        assert_eq!((q.votes, q.expected, q.quorate), (1, 1, true));
    }
}

//! The scheduler's working set: nodes, resources, actions, constraints.
//!
//! Everything lives in arenas indexed by small integers (NodeId, RscId,
//! ActionId) so the phases can cross-reference freely without lifetimes or
//! reference counting. The order of each arena is meaningful and mirrors
//! Pacemaker's: nodes sorted by natural name, resources in priority then
//! CIB order, actions in creation order (Pacemaker prepends to its lists,
//! so "newest first" iteration is `.iter().rev()`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cib_xml::{Element, Role};

pub type NodeId = usize;
pub type RscId = usize;
pub type ActionId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Member,
    Remote,
    Ping,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub uname: String,
    pub kind: NodeKind,
    /// Base weight from the node's `score` attribute (-INFINITY once the
    /// node is found offline; allowed-node tables were copied before that).
    pub weight: i32,
    pub online: bool,
    pub unclean: bool,
    pub unseen: bool,
    pub shutdown: bool,
    pub standby: bool,
    pub standby_onfail: bool,
    pub pending: bool,
    pub maintenance: bool,
    pub expected_up: bool,
    pub is_dc: bool,
    pub remote_requires_reset: bool,
    pub remote_was_fenced: bool,
    pub unpacked: bool,
    pub rsc_discovery_enabled: bool,
    pub attrs: BTreeMap<String, String>,
    pub utilization: BTreeMap<String, String>,
    /// Resources assigned here so far (assignment tie-break).
    pub num_resources: usize,
    /// Resources found active here.
    pub running: Vec<RscId>,
    /// The connection resource, for remote and guest nodes.
    pub remote_rsc: Option<RscId>,
    pub priority: i32,
    /// The node has fail-count-* or last-failure-* attributes.
    pub has_fail_attrs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discover {
    #[default]
    Always,
    Never,
    Exclusive,
}

/// One entry of a resource's allowed-node table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeScore {
    pub weight: i32,
    pub discover: Discover,
    /// Instances of a clone placed here (clone assignment scratch).
    pub count: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Primitive,
    Group,
    Clone,
    Bundle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    StopStart,
    StopOnly,
    Block,
    StopUnexpected,
}

/// Resource flags (Pacemaker's pe_rsc_*).
pub mod rf {
    pub const MANAGED: u64 = 1 << 0;
    pub const FAILED: u64 = 1 << 1;
    pub const STOP: u64 = 1 << 2;
    pub const BLOCK: u64 = 1 << 3;
    pub const ORPHAN: u64 = 1 << 4;
    pub const PROVISIONAL: u64 = 1 << 5;
    pub const ALLOCATING: u64 = 1 << 6;
    pub const UNIQUE: u64 = 1 << 7;
    pub const PROMOTABLE: u64 = 1 << 8;
    pub const NOTIFY: u64 = 1 << 9;
    pub const NEEDS_FENCING: u64 = 1 << 10;
    pub const NEEDS_QUORUM: u64 = 1 << 11;
    pub const NEEDS_UNFENCING: u64 = 1 << 12;
    pub const FENCE_DEVICE: u64 = 1 << 13;
    pub const START_PENDING: u64 = 1 << 14;
    pub const RESTARTING: u64 = 1 << 15;
    pub const STOP_UNEXPECTED: u64 = 1 << 16;
    pub const RELOAD: u64 = 1 << 17;
    pub const ALLOW_MIGRATE: u64 = 1 << 18;
    pub const MAINTENANCE: u64 = 1 << 19;
    pub const CRITICAL: u64 = 1 << 20;
    pub const FAILURE_IGNORED: u64 = 1 << 21;
    pub const RUNNABLE: u64 = 1 << 22;
    pub const ORPHAN_CONTAINER_FILLER: u64 = 1 << 23;
    pub const MERGING: u64 = 1 << 24;
    pub const STARTING: u64 = 1 << 25;
    pub const STOPPING: u64 = 1 << 26;
}

/// One `<op>` of a resource's configuration.
#[derive(Debug, Clone)]
pub struct OpConfig {
    pub name: String,
    pub interval_ms: u64,
    pub role: Option<Role>,
    pub enabled: bool,
    /// The op element (shared between clone instances).
    pub xml: std::rc::Rc<Element>,
}

/// A failed (or masked) operation from the history.
#[derive(Debug, Clone)]
pub struct FailedOp {
    pub rsc: RscId,
    pub node: NodeId,
    /// The operation key (rsc_task_interval).
    pub key: String,
    /// The recorded return code (before any remapping).
    pub rc: i32,
    /// A probe whose failure is shown as "not running" (not installed,
    /// invalid parameter): status displays show its result.
    pub masked_probe: bool,
    /// The operation's on_node attribute (absent in older histories).
    pub on_node: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    /// The id the resource's history is recorded under, when it differs.
    pub clone_name: Option<String>,
    pub variant: Variant,
    pub parent: Option<RscId>,
    pub children: Vec<RscId>,
    pub class: Option<String>,
    pub provider: Option<String>,
    pub agent: Option<String>,
    /// The resource's (expanded) XML, shared between clone instances.
    pub xml: std::rc::Rc<Element>,
    pub meta: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
    pub ops: Vec<OpConfig>,
    pub flags: u64,
    pub role: Role,
    pub next_role: Role,
    pub priority: i32,
    pub stickiness: i32,
    pub migration_threshold: i32,
    pub failure_timeout: i64,
    pub recovery: Recovery,
    pub running_on: Vec<NodeId>,
    /// Allowed-node table, indexed by NodeId (None = not allowed/known).
    pub allowed: Vec<Option<NodeScore>>,
    pub known_on: BTreeSet<NodeId>,
    pub assigned: Option<NodeId>,
    pub actions: Vec<ActionId>,
    /// "This with" colocations (this resource is the dependent).
    pub this_with: Vec<usize>,
    /// "With this" colocations (this resource is the primary).
    pub with_this: Vec<usize>,
    pub partial_migration_source: Option<NodeId>,
    pub partial_migration_target: Option<NodeId>,
    pub dangling_migrations: Vec<NodeId>,
    pub pending_task: Option<String>,
    pub pending_node: Option<NodeId>,
    pub lock_node: Option<NodeId>,
    /// When the shutdown lock started (the node's shutdown time).
    pub lock_time: i64,
    pub utilization: BTreeMap<String, String>,
    pub exclusive_discover: bool,
    pub is_remote_node: bool,
    pub container: Option<RscId>,
    /// Position in the CIB (for stable ordering).
    pub cib_order: usize,
    /// Clone settings (clones only).
    pub clone_max: usize,
    pub clone_node_max: usize,
    pub promoted_max: usize,
    pub promoted_node_max: usize,
    /// Instances created so far (numbers are allocated in order).
    pub total_clones: usize,
    /// Promotion sort index (promotable clone instances).
    pub sort_index: i32,
    /// Promotion scores have been added (promotable clones).
    pub promotion_added: bool,
    pub promotion_constrained: bool,
}

impl Resource {
    pub fn has(&self, f: u64) -> bool {
        self.flags & f != 0
    }
    pub fn set(&mut self, f: u64) {
        self.flags |= f;
    }
    pub fn clear(&mut self, f: u64) {
        self.flags &= !f;
    }
}

/// Action flags (Pacemaker's pe_action_*).
pub mod af {
    pub const OPTIONAL: u32 = 1 << 0;
    pub const RUNNABLE: u32 = 1 << 1;
    pub const PSEUDO: u32 = 1 << 2;
    pub const PRINT_ALWAYS: u32 = 1 << 3;
    pub const DC: u32 = 1 << 4;
    pub const MIGRATE_RUNNABLE: u32 = 1 << 5;
    pub const REQUIRES_ANY: u32 = 1 << 6;
    pub const DANGLE: u32 = 1 << 7;
    pub const HAVE_NODE_ATTRS: u32 = 1 << 8;
    pub const PROCESSED: u32 = 1 << 9;
    pub const DEDUP: u32 = 1 << 10;
    pub const RECONNECT: u32 = 1 << 11;
}

/// Ordering flags (Pacemaker's pe_order_*).
pub mod of {
    pub const NONE: u32 = 0;
    pub const OPTIONAL: u32 = 1 << 0;
    pub const APPLY_FIRST_NON_MIGRATABLE: u32 = 1 << 1;
    pub const IMPLIES_FIRST: u32 = 1 << 4;
    pub const IMPLIES_THEN: u32 = 1 << 5;
    pub const PROMOTED_IMPLIES_FIRST: u32 = 1 << 6;
    pub const IMPLIES_FIRST_MIGRATABLE: u32 = 1 << 7;
    pub const RUNNABLE_LEFT: u32 = 1 << 8;
    pub const PSEUDO_LEFT: u32 = 1 << 9;
    pub const IMPLIES_THEN_ON_NODE: u32 = 1 << 10;
    pub const PROBE: u32 = 1 << 11;
    pub const RESTART: u32 = 1 << 12;
    pub const STONITH_STOP: u32 = 1 << 13;
    pub const SERIALIZE_ONLY: u32 = 1 << 14;
    pub const SAME_NODE: u32 = 1 << 15;
    pub const IMPLIES_FIRST_PRINTED: u32 = 1 << 16;
    pub const IMPLIES_THEN_PRINTED: u32 = 1 << 17;
    pub const ASYMMETRICAL: u32 = 1 << 20;
    pub const LOAD: u32 = 1 << 21;
    pub const ONE_OR_MORE: u32 = 1 << 22;
    pub const ANTI_COLOCATION: u32 = 1 << 23;
    pub const PRESERVE: u32 = 1 << 24;
    pub const THEN_CANCELS_FIRST: u32 = 1 << 25;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OnFail {
    Ignore,
    Demote,
    Recover,
    Migrate,
    Block,
    Stop,
    Standby,
    Fence,
    RestartContainer,
    ResetRemote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requires {
    Nothing,
    Quorum,
    Fencing,
}

#[derive(Debug, Clone)]
pub struct Action {
    pub id: ActionId,
    pub rsc: Option<RscId>,
    pub task: String,
    pub key: String,
    pub node: Option<NodeId>,
    pub flags: u32,
    pub reason: Option<String>,
    pub meta: BTreeMap<String, String>,
    pub needs: Requires,
    pub on_fail: OnFail,
    pub fail_role: Role,
    pub interval_ms: u64,
    /// (first action, ordering flags), most recently added last.
    pub before: Vec<(ActionId, u32)>,
    /// (then action, ordering flags), most recently added last.
    pub after: Vec<(ActionId, u32)>,
    pub runnable_before: i32,
    pub required_runnable_before: i32,
    /// Index into the resource's ops, when an `<op>` matched.
    pub op_entry: Option<usize>,
    /// For cancellations: the task of the recurring action cancelled.
    pub cancel_task: Option<String>,
    /// A recurring action that must be rescheduled.
    pub reschedule: bool,
}

impl Action {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// A resource-level ordering, expanded into action pairs later.
#[derive(Debug, Clone)]
pub struct Ordering {
    pub first_rsc: Option<RscId>,
    pub first_task: Option<String>,
    pub first_action: Option<ActionId>,
    pub then_rsc: Option<RscId>,
    pub then_task: Option<String>,
    pub then_action: Option<ActionId>,
    pub flags: u32,
}

#[derive(Debug, Clone)]
pub struct Colocation {
    pub id: String,
    pub dependent: RscId,
    pub primary: RscId,
    pub score: i32,
    pub dependent_role: Role,
    pub primary_role: Role,
    pub node_attribute: String,
    pub influence: bool,
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: String,
    pub rsc: RscId,
    pub role_filter: Role,
    pub discover: Discover,
    pub nodes: Vec<(NodeId, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoQuorumPolicy {
    Ignore,
    Freeze,
    Stop,
    Demote,
    Suicide,
}

/// Cluster-wide settings from crm_config.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub stonith_enabled: bool,
    pub symmetric: bool,
    pub no_quorum_policy: NoQuorumPolicy,
    pub stop_orphan_resources: bool,
    pub stop_orphan_actions: bool,
    pub start_failure_is_fatal: bool,
    pub startup_fencing: bool,
    pub stonith_action: String,
    pub concurrent_fencing: bool,
    pub startup_probes: bool,
    pub maintenance_mode: bool,
    pub stop_all: bool,
    pub placement_strategy: String,
    pub have_stonith_resource: bool,
    pub enable_unfencing: bool,
    pub remove_after_stop: bool,
    pub shutdown_lock: bool,
    pub shutdown_lock_limit: i64,
    pub have_quorum: bool,
    pub have_remote_nodes: bool,
    pub priority_fencing_delay: i64,
    pub health: cib_xml::score::HealthScores,
    pub node_health_strategy: String,
    pub config: BTreeMap<String, String>,
}

/// The whole working set of one scheduler run.
pub struct WorkingSet {
    /// The input document, shared so phases can read it while mutating the
    /// working set without copying it.
    pub cib: std::rc::Rc<Element>,
    pub now: cib_xml::time::DateTime,
    pub options: ClusterOptions,
    pub nodes: Vec<Node>,
    pub resources: Vec<Resource>,
    /// Top-level resources in scheduling order (priority, then CIB order).
    pub top: Vec<RscId>,
    pub actions: Vec<Action>,
    /// (key, node) -> actions with that key, for fast lookup.
    pub action_index: HashMap<String, Vec<ActionId>>,
    pub orderings: Vec<Ordering>,
    pub colocations: Vec<Colocation>,
    pub locations: Vec<Location>,
    pub dc_uuid: Option<String>,
    pub tickets: BTreeMap<String, Ticket>,
    /// Lines printed with -s (allocation and promotion scores).
    pub score_lines: Vec<String>,
    pub show_scores: bool,
    pub show_utilization: bool,
    /// Input is a saved CIB whose secrets may be sanitized (crm_simulate -x).
    pub sanitized: bool,
    pub rsc_defaults: Option<Element>,
    pub op_defaults: Option<Element>,
    /// Warnings and configuration errors, for the tool to print.
    pub messages: Vec<String>,
    /// The earliest future time the scheduler's answer may change by
    /// itself (a date rule turning, a failure expiring): Pacemaker's
    /// `recheck_by`, given to the controller in the graph. Shared with
    /// every rule evaluation, hence a cell.
    pub next_change: std::rc::Rc<std::cell::Cell<Option<cib_xml::time::DateTime>>>,
    pub disabled_instances: usize,
    pub blocked_instances: usize,
    /// Resources by id and by the id their history is recorded under.
    pub rsc_index: HashMap<String, Vec<RscId>>,
    /// Ticket constraints (resource, ticket, role).
    pub rsc_tickets: Vec<(RscId, String, cib_xml::Role)>,
    /// Failed operations seen in the history (Pacemaker's data_set->failed).
    pub failed_ops: Vec<FailedOp>,
    /// Recurring operations whose expired failure forces a reschedule.
    pub forced_restart_digest: std::collections::HashSet<(RscId, NodeId, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Ticket {
    pub granted: bool,
    pub standby: bool,
    pub last_granted: Option<i64>,
}

impl WorkingSet {
    /// Notes a future time the answer may change at (Pacemaker's
    /// `pe__update_recheck_time`): the earliest one after now is kept.
    pub fn note_change(&self, t: cib_xml::time::DateTime) {
        if t > self.now && self.next_change.get().is_none_or(|c| t < c) {
            self.next_change.set(Some(t));
        }
    }

    /// Gives up the working set's share of the CIB, keeping only the root
    /// element's attributes: a caller that shares the CIB (`Rc`) can then
    /// change its own copy without cloning it. Everything unpacked and
    /// scheduled stays usable; phases that read the CIB cannot run again.
    pub fn release_cib(&mut self) {
        let mut root = Element::new(&self.cib.name);
        root.attrs = self.cib.attrs.clone();
        self.cib = std::rc::Rc::new(root);
    }

    pub fn rsc(&self, r: RscId) -> &Resource {
        &self.resources[r]
    }
    pub fn node_name(&self, n: NodeId) -> &str {
        &self.nodes[n].uname
    }
    pub fn find_node(&self, uname: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.uname.eq_ignore_ascii_case(uname))
    }
    pub fn find_node_any(&self, id: &str, uname: Option<&str>) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .or_else(|| uname.and_then(|u| self.find_node(u)))
    }
    pub fn top_parent(&self, mut r: RscId) -> RscId {
        while let Some(p) = self.resources[r].parent {
            r = p;
        }
        r
    }
    pub fn is_clone(&self, r: RscId) -> bool {
        self.resources[r].variant == Variant::Clone
    }
    pub fn is_unique_clone(&self, r: Option<RscId>) -> bool {
        r.is_some_and(|r| self.is_clone(r) && self.resources[r].has(rf::UNIQUE))
    }
    /// Every primitive under `r` (itself if primitive), in child order.
    pub fn primitives_of(&self, r: RscId, out: &mut Vec<RscId>) {
        let rsc = &self.resources[r];
        if rsc.children.is_empty() {
            if rsc.variant == Variant::Primitive {
                out.push(r);
            }
        } else {
            for &c in &rsc.children {
                self.primitives_of(c, out);
            }
        }
    }
}

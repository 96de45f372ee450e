//! The policy engine: given a CIB (configuration and status) and "now",
//! decide where every resource runs and which actions get there, exactly
//! as Pacemaker 2.1.5's scheduler does.
//!
//! Pure: no I/O, no clock, no global state. [`schedule`] runs the phases
//! in Pacemaker's order (see ARCHITECTURE.md and SCHEDULER.md):
//! unpack -> constraints -> node criteria -> internal constraints ->
//! assignment -> actions -> fencing -> orderings -> output.

mod actions;
mod assign;
mod clone;
mod colocation;
mod constraints;
mod create;
pub mod diagnostics;
pub mod digest;
mod fencing;
pub mod graph;
mod group;
mod history;
mod migration;
pub mod model;
mod order;
pub mod output;
mod probes;
mod promotable;
mod regex;
mod remote;
mod resource;
pub mod simulate;
pub mod status;
mod tickets;
mod unpack;
pub mod util;
mod utilization;

use std::collections::{BTreeMap, HashMap, HashSet};

use cib_xml::time::DateTime;
use cib_xml::{Element, IdIndex};

pub use model::WorkingSet;
pub use unpack::{cluster_option_values, option_value, UnpackError};

/// Options of one scheduler run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Collect allocation and promotion score lines (crm_simulate -s).
    pub show_scores: bool,
    /// Record node capacities and assigned utilization (crm_simulate -U).
    pub show_utilization: bool,
    /// The CIB comes from a file and may have secrets removed: compare
    /// secure digests when full digests differ (crm_simulate -x).
    pub sanitized: bool,
}

/// Unpacks the CIB only (configuration, nodes, resources, status): what a
/// status display shows, before any scheduling decision.
/// The CIB may be handed over (`Element`) or shared (`Rc<Element>`, so a
/// caller that runs several passes over one CIB keeps a single copy).
pub fn unpack_cib(
    cib: impl Into<std::rc::Rc<Element>>,
    now: DateTime,
    opts: &Options,
) -> Result<WorkingSet, UnpackError> {
    run(cib.into(), now, opts, false)
}

/// Unpacks the CIB and runs every scheduling phase.
pub fn schedule(
    cib: impl Into<std::rc::Rc<Element>>,
    now: DateTime,
    opts: &Options,
) -> Result<WorkingSet, UnpackError> {
    run(cib.into(), now, opts, true)
}

fn run(
    cib: std::rc::Rc<Element>,
    now: DateTime,
    opts: &Options,
    plan: bool,
) -> Result<WorkingSet, UnpackError> {
    if cib.name != "cib" {
        return Err(UnpackError(format!(
            "root element is <{}>, not <cib>",
            cib.name
        )));
    }
    let idx_owner = cib.clone();
    let idx = IdIndex::new(&idx_owner);
    let next_change = std::rc::Rc::new(std::cell::Cell::new(None));
    let options = unpack::unpack_config(&cib, &idx, now, &next_change);
    let dc_uuid = cib.attr("dc-uuid").map(str::to_string);
    let rsc_defaults = cib.path(&["configuration", "rsc_defaults"]).cloned();
    let op_defaults = cib.path(&["configuration", "op_defaults"]).cloned();
    let mut ws = WorkingSet {
        cib,
        now,
        options,
        nodes: Vec::new(),
        resources: Vec::new(),
        top: Vec::new(),
        actions: Vec::new(),
        action_index: HashMap::new(),
        orderings: Vec::new(),
        colocations: Vec::new(),
        locations: Vec::new(),
        dc_uuid,
        tickets: BTreeMap::new(),
        score_lines: Vec::new(),
        next_change,
        show_scores: opts.show_scores,
        show_utilization: opts.show_utilization,
        sanitized: opts.sanitized,
        rsc_defaults,
        op_defaults,
        messages: Vec::new(),
        disabled_instances: 0,
        blocked_instances: 0,
        rsc_tickets: Vec::new(),
        rsc_index: HashMap::new(),
        failed_ops: Vec::new(),
        forced_restart_digest: HashSet::new(),
    };
    // Phase 1: unpack.
    unpack::unpack_nodes(&mut ws, &idx);
    unpack::unpack_resources(&mut ws, &idx);
    unpack::unpack_status(&mut ws, &idx);
    if !plan {
        return Ok(ws);
    }
    // Phase 3: node health.
    apply_node_health(&mut ws);
    // Phase 4: constraints.
    constraints::unpack_constraints(&mut ws, &idx);
    // Phase 5: node criteria.
    fencing::apply_shutdown_locks(&mut ws);
    constraints::apply_locations(&mut ws);
    for r in ws.top.clone() {
        apply_stickiness(&mut ws, r);
    }
    for n in 0..ws.nodes.len() {
        for r in ws.top.clone() {
            check_failure_threshold(&mut ws, r, n);
            apply_exclusive_discovery(&mut ws, r, n);
        }
    }
    // Phase 6: internal constraints.
    for r in ws.top.clone() {
        create::internal_constraints(&mut ws, r);
    }
    // Phase 7: definition changes (digests).
    digest::handle_rsc_config_changes(&mut ws);
    // Phase 8: assignment.
    utilization::show_node_capacities(&mut ws, "Original");
    assign::allocate_resources(&mut ws);
    utilization::show_node_capacities(&mut ws, "Remaining");
    // Phase 9: probes and resource actions.
    if ws.options.startup_probes {
        probes::schedule_probes(&mut ws);
    }
    for r in ws.top.clone() {
        create::create_actions(&mut ws, r);
    }
    // Phase 11: fencing and shutdowns.
    fencing::schedule_fencing_and_shutdowns(&mut ws);
    // Phase 12: orderings.
    order::apply_orderings(&mut ws);
    Ok(ws)
}

/// pcmk__apply_node_health: with a health strategy, the sum of a node's
/// #health* attributes becomes a location score of every resource there.
fn apply_node_health(ws: &mut WorkingSet) {
    let strategy = ws.options.node_health_strategy.clone();
    if matches!(strategy.as_str(), "none" | "") {
        return;
    }
    let health = ws.options.health;
    let base = if strategy == "progressive" {
        ws.options
            .config
            .get("node-health-base")
            .map(|v| cib_xml::score::parse_score(v, &cib_xml::score::HealthScores::default()))
            .unwrap_or(0)
    } else {
        0
    };
    for n in 0..ws.nodes.len() {
        let mut sum = base;
        for (k, v) in &ws.nodes[n].attrs {
            if k.starts_with("#health") {
                sum = cib_xml::score::add(cib_xml::score::parse_score(v, &health), sum);
            }
        }
        if sum == 0 {
            continue;
        }
        for r in ws.top.clone() {
            let immune = sum < 0
                && util::is_true(
                    ws.resources[r]
                        .meta
                        .get("allow-unhealthy-nodes")
                        .map(String::as_str),
                );
            if !immune {
                ws.locations.push(model::Location {
                    id: strategy.clone(),
                    rsc: r,
                    role_filter: cib_xml::Role::Unknown,
                    discover: model::Discover::Always,
                    nodes: vec![(n, sum)],
                });
            }
        }
    }
}

fn apply_stickiness(ws: &mut WorkingSet, r: model::RscId) {
    use model::rf;
    if !ws.resources[r].children.is_empty() {
        for c in ws.resources[r].children.clone() {
            apply_stickiness(ws, c);
        }
        return;
    }
    let rsc = &ws.resources[r];
    if !rsc.has(rf::MANAGED) || rsc.stickiness < 1 || rsc.running_on.len() != 1 {
        return;
    }
    let n = rsc.running_on[0];
    if !ws.options.symmetric && rsc.allowed[n].is_none() {
        return;
    }
    let s = rsc.stickiness;
    unpack::location_node(ws, r, n, s, false);
}

fn check_failure_threshold(ws: &mut WorkingSet, r: model::RscId, n: model::NodeId) {
    if !ws.resources[r].children.is_empty() {
        for c in ws.resources[r].children.clone() {
            check_failure_threshold(ws, c, n);
        }
        return;
    }
    if !actions_rsc_clear_exists(ws, r, n) {
        if let Some(failed) = threshold_reached(ws, r, n) {
            unpack::location_node(ws, failed, n, -cib_xml::score::INFINITY, false);
        }
    }
}

fn actions_rsc_clear_exists(ws: &WorkingSet, r: model::RscId, n: model::NodeId) -> bool {
    // The key of such an action is <rsc>_clear_failcount_0.
    ws.resources[r]
        .actions
        .iter()
        .any(|&a| ws.actions[a].node == Some(n) && ws.actions[a].task == "clear_failcount")
}

/// pcmk__threshold_reached: the resource (or the clone/group it fails as)
/// that must be banned from `n`.
fn threshold_reached(ws: &WorkingSet, r: model::RscId, n: model::NodeId) -> Option<model::RscId> {
    use model::rf;
    let rsc = &ws.resources[r];
    if rsc.migration_threshold == 0 {
        return None;
    }
    if rsc.has(rf::FAILURE_IGNORED) {
        return None;
    }
    let mut failed = r;
    if !rsc.has(rf::UNIQUE) {
        failed = ws.top_parent(r);
    }
    let (fail_count, _) = unpack::failcount(ws, n, r, true);
    if fail_count <= 0 {
        return None;
    }
    if fail_count >= rsc.migration_threshold {
        Some(failed)
    } else {
        None
    }
}

fn apply_exclusive_discovery(ws: &mut WorkingSet, r: model::RscId, n: model::NodeId) {
    let top = ws.top_parent(r);
    if ws.resources[r].exclusive_discover || ws.resources[top].exclusive_discover {
        for c in ws.resources[r].children.clone() {
            apply_exclusive_discovery(ws, c, n);
        }
        if let Some(e) = ws.resources[r].allowed[n].as_mut() {
            if e.discover != model::Discover::Exclusive {
                e.weight = -cib_xml::score::INFINITY;
            }
        }
    }
}

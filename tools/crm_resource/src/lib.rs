//! The parts of crm_resource that crm_failcount shares, as pure functions
//! of an unpacked working set (`pengine::unpack_cib`) or of the CIB:
//!
//! - [`cleanup`]: which status entries `--cleanup`/`--refresh` remove (the
//!   resource's operation history on a node, so the DC probes it again,
//!   and its fail counts), and the lines reporting it;
//! - [`why`]: `--why`'s reasons a resource is (not) running;
//! - [`failcount`]: crm_failcount's query (fail counts summed per
//!   resource and node, as Pacemaker's crm_failcount does).

#![deny(missing_docs)]

pub mod agents;
pub mod cleanup;
pub mod failcount;
pub mod why;

use pengine::model::{RscId, Variant};
use pengine::WorkingSet;

/// The resource `id` as Pacemaker's tools look it up for `--why` and
/// `--cleanup`: a configured or instance id, else the first instance of
/// a primitive configured inside a clone (`rsc` finds `rsc:0`).
pub fn find_instance(ws: &WorkingSet, id: &str) -> Option<RscId> {
    ws.resources.iter().position(|r| r.id == id).or_else(|| {
        ws.resources
            .iter()
            .position(|r| r.variant == Variant::Primitive && r.xml.attr("id") == Some(id))
    })
}

/// The resource at the top of `r`'s tree (Pacemaker's `uber_parent`).
pub fn top_parent(ws: &WorkingSet, r: RscId) -> RscId {
    let mut top = r;
    while let Some(p) = ws.resources[top].parent {
        top = p;
    }
    top
}

/// The primitives under `r` (itself when it is one), in tree order.
pub fn leaves(ws: &WorkingSet, r: RscId) -> Vec<RscId> {
    let mut out = Vec::new();
    let mut stack = vec![r];
    while let Some(x) = stack.pop() {
        if ws.resources[x].children.is_empty() {
            out.push(x);
        } else {
            stack.extend(ws.resources[x].children.iter().rev());
        }
    }
    out
}

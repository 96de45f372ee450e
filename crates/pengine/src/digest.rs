//! Operation digests: whether a resource's parameters changed since an
//! operation ran (restart, reload or fail-count clearing).

use crate::model::*;
use crate::unpack::HistOp;

/// Whether a start/monitor last_failure entry was recorded with different
/// parameters than the resource has now. Digest comparison needs the
/// agent's parameter digest (computed with the graph work); until then an
/// entry is treated as unchanged.
pub(crate) fn should_clear_for_param_change(
    _ws: &WorkingSet,
    _r: RscId,
    _n: NodeId,
    op: &HistOp<'_>,
) -> bool {
    let _ = op.task;
    false
}

//! Clone notifications (notify=true): the pre/post notification
//! pseudo-actions and notify operations. They only add actions to the
//! transition graph around the clone's own start/stop/promote/demote and
//! never change what the Transition Summary reports; they are created with
//! the graph work.

use crate::model::*;

pub(crate) fn create_clone_notifications(_ws: &mut WorkingSet, _r: RscId) {}

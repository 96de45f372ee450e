//! Parser and validator for Heartbeat's ha.cf and authkeys, with file:line errors.

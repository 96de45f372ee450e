//! The cluster controller's pure cores: the transition graph and its
//! execution order (`graph`), the choice of the Designated Controller
//! (`election`), the messages controllers exchange (`wire`), and the
//! status-section XML a controller writes (`record`). No I/O and no clock:
//! daemons/crmd wires sockets, timers and processes to them.

pub mod election;
pub mod graph;
pub mod record;
pub mod wire;

//! Fencing's pure core and its agent runner.
//!
//! - `device`: a device and its `pcmk_*` attributes (whom it fences, how).
//! - `topology`: fencing levels by target name, pattern or attribute.
//! - `plan`: one operation's progress over levels (all off then all on
//!   for a multi-device reboot), merging of requests, the history window,
//!   and choosing the node that runs a device.
//! - `operation`: one operation at its origin: the query round, then the
//!   plan's steps handed to nodes that can run their devices.
//! - `history`: completed operations, bounded.
//! - `cib`: the fencing configuration of a CIB.
//! - `exec`: running fence agents, external plugins and the native
//!   plugins (the only module here that does I/O).
#![deny(missing_docs)]

pub mod cib;
pub mod device;
pub mod exec;
pub mod history;
pub mod operation;
pub mod plan;
pub mod topology;

pub use device::{AgentKind, Device, DeviceError, HostCheck, NativePlugin};
pub use exec::Call;
pub use history::History;
pub use plan::{
    admit, choose_executioner, Admission, InProgress, Next, Plan, PlanDevice, PlanOutcome,
    StepResult,
};
pub use topology::Topology;

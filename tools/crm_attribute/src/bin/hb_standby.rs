//! hb_standby: Heartbeat's command, mapped to standby node attributes
//! (see `crm_attribute::hb_scripts`).

use std::process::ExitCode;

use crm_attribute::hb_scripts::{main_for, Script};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    main_for(Script::Standby, &args)
}

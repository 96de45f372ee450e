//! The crm_attribute program: its command line, then `crm_attribute::run`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match crm_attribute::parse_or_exit() {
        Ok(args) => crm_attribute::main_with(args),
        Err(code) => code,
    }
}

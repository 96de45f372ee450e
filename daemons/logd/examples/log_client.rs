//! log_client: a minimal daemon-like process that sets up logging the way
//! every daemon does (`logging::init`) and logs N lines, for trying logd by
//! hand and for the logd tests, which need a fresh process per logger (the
//! global logger can be installed once per process).
//!
//! usage: log_client ENTITY COUNT LOGFILE [use_logd]

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(entity), Some(count), Some(logfile)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: log_client ENTITY COUNT LOGFILE [use_logd]");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("log_client: COUNT must be a number");
        return ExitCode::from(2);
    };
    let config = logging::LogConfig {
        logfile: Some(logfile.into()),
        use_logd: args.get(4).is_some_and(|a| a == "use_logd"),
        ..logging::LogConfig::new(entity)
    };
    let handle = match logging::init(config) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("log_client: {e}");
            return ExitCode::FAILURE;
        }
    };
    for i in 0..count {
        log::info!("child message {i}");
    }
    log::debug!("not logged at debug level 0");
    match handle.flush(Duration::from_secs(30)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("log_client: not every message was written: {e}");
            ExitCode::FAILURE
        }
    }
}

//! ha_logger's command line without a logd: Heartbeat's exit codes (1 when
//! logd is not running, so that callers like `ocf_log` log by other means;
//! 1 for usage errors) and nothing logged anywhere.

use std::process::{Command, Output, Stdio};

fn ha_logger(run: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha_logger"))
        .env("HA_RUNDIR", run)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ha_logger")
}

fn empty_rundir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ha_logger-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("rundir");
    dir
}

#[test]
fn without_logd_it_says_so_and_exits_1() {
    let run = empty_rundir("nologd");
    let out = ha_logger(&run, &["-t", "test", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ha_logger: logd is not running"), "{err}");
    assert!(
        err.contains(&run.join("logd.sock").display().to_string()),
        "{err}"
    );
    // Nothing was created in its place.
    assert_eq!(std::fs::read_dir(&run).expect("rundir").count(), 0);
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn usage_errors_exit_1() {
    let run = empty_rundir("usage");
    for args in [
        &["-D", "ha-info", "x"][..],
        &["-x"][..],
        &["-h"][..],
        &["-t"][..],
    ] {
        let out = ha_logger(&run, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    }
    let help = ha_logger(&run, &["-h"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("-D") && text.contains("-t"), "{text}");
    let _ = std::fs::remove_dir_all(&run);
}

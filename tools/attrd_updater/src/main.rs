//! Pacemaker's attrd_updater over attrdapi: query and update node
//! attributes held by the local attrd.
//!
//! Commands as Pacemaker 2.1.5's (`-U`/`-v` update, `-B` value and delay,
//! `-Y` delay only, `-Q` query (the default), `-D` delete, `-R` refresh),
//! with `-n NAME`, `-N NODE`, `-A` (query all nodes), `-d DELAY`, `-l
//! reboot|forever` (also `status`/`nodes`). Query lines are Pacemaker's:
//! `name="X" host="Y" value="Z"`. Exit codes are Pacemaker's: 0, 64
//! usage, 78 no such attribute (query), 102 attrd not reachable, 105 no
//! such node, 124 timeout.
//!
//! Differences from 2.1.5: `-d` also applies to `-U` (as Heartbeat-era
//! attrd_updater, which resource agents such as ping still call that
//! way); `-l forever` is honoured (2.1.5 ignores it); `-Q` without `-N`
//! or `-A` answers for the local node; `-s SET` is refused.

use std::process::ExitCode;
use std::time::Duration;

use attrdapi::{AttrdClient, Change, Lifetime, NodeValue, Request, Response, Update};
use clap::Parser;
use clitools::exit;

#[derive(Parser, Debug)]
#[command(
    name = "attrd_updater",
    about = "query and update Pacemaker node attributes",
    disable_version_flag = true
)]
struct Args {
    /// The attribute's name.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,
    /// Update the attribute's value in attrd. If this changes the value,
    /// it is also written to the CIB (after the dampening delay).
    #[arg(short = 'U', long = "update", value_name = "VALUE", group = "command")]
    update: Option<String>,
    /// Deprecated alias of --update.
    #[arg(short = 'v', value_name = "VALUE", hide = true, group = "command")]
    update_v: Option<String>,
    /// Update the attribute's value and its dampening delay (-d).
    #[arg(
        short = 'B',
        long = "update-both",
        value_name = "VALUE",
        group = "command"
    )]
    update_both: Option<String>,
    /// Update only the attribute's dampening delay (-d).
    #[arg(short = 'Y', long = "update-delay", group = "command")]
    update_delay: bool,
    /// Query the attribute's value from attrd.
    #[arg(short = 'Q', long = "query", group = "command")]
    query: bool,
    /// Remove the attribute's value (from attrd and the CIB).
    #[arg(short = 'D', long = "delete", group = "command")]
    delete: bool,
    /// (Advanced) Make every attrd write all its values to the CIB again.
    #[arg(short = 'R', long = "refresh", group = "command")]
    refresh: bool,
    /// The time to wait (dampening) for further changes before writing to
    /// the CIB: seconds, or with a unit (500ms, 2s, 1min).
    #[arg(short = 'd', long = "delay", value_name = "SECONDS")]
    delay: Option<String>,
    /// (Advanced) The attribute set in which to place the value (not
    /// supported: attrd uses Pacemaker's default set).
    #[arg(short = 's', long = "set", value_name = "SET")]
    set: Option<String>,
    /// Set the attribute for the named node (instead of the local one).
    #[arg(short = 'N', long = "node", value_name = "NODE")]
    node: Option<String>,
    /// Show values of the attribute for all nodes (query only).
    #[arg(short = 'A', long = "all")]
    all: bool,
    /// Lifetime of the node attribute: reboot (status section) or forever
    /// (nodes section).
    #[arg(short = 'l', long = "lifetime", value_name = "SECTION")]
    lifetime: Option<String>,
    /// Deprecated alias of --lifetime.
    #[arg(short = 'S', long = "section", value_name = "SECTION", hide = true)]
    section: Option<String>,
    /// If this creates a new attribute, never write the attribute to CIB.
    #[arg(short = 'p', long = "private")]
    private: bool,
    /// Deprecated; ignored.
    #[arg(short = 'q', long = "quiet", hide = true)]
    quiet: bool,
    /// Increase debug output (ignored).
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Display software version and exit.
    #[arg(long = "version")]
    version: bool,
}

/// What the command line asks.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Query { name: String, node: Option<String> },
    Update(Update),
    Refresh,
}

/// A command-line problem: message and exit code.
#[derive(Debug, PartialEq, Eq)]
struct Usage(u8, String);

/// Maps the arguments onto one request, as attrd_updater.c does. Returns
/// the request and a warning to print first, if any.
fn command(a: &Args) -> Result<(Command, Option<String>), Usage> {
    let usage = |m: &str| Usage(exit::USAGE, m.to_string());
    if a.set.is_some() {
        return Err(usage(
            "--set is not supported: attrd uses Pacemaker's default attribute set",
        ));
    }
    let lifetime = match a.lifetime.as_ref().or(a.section.as_ref()) {
        None => Lifetime::Reboot,
        Some(l) => Lifetime::parse(l)
            .ok_or_else(|| usage(&format!("Unknown value for --lifetime: {l}")))?,
    };
    if a.refresh {
        return Ok((Command::Refresh, None));
    }
    let Some(name) = a.name.clone() else {
        return Err(usage("Command requires --name argument"));
    };
    attrdapi::check_name(&name).map_err(|e| usage(&format!("Invalid --name: {e}")))?;
    let delay_ms = match &a.delay {
        None => None,
        Some(d) => Some(attrdapi::parse_delay(d).map_err(|e| usage(&e))?),
    };
    let mut warning = None;
    let (letter, change) = if let Some(v) = a.update.as_ref().or(a.update_v.as_ref()) {
        ('U', Change::Set(v.clone()))
    } else if let Some(v) = &a.update_both {
        ('B', Change::Set(v.clone()))
    } else if a.update_delay {
        ('Y', Change::DelayOnly)
    } else if a.delete {
        ('D', Change::Delete)
    } else {
        let node = if a.all {
            None
        } else {
            Some(a.node.clone().unwrap_or_else(|| "localhost".into()))
        };
        return Ok((Command::Query { name, node }, None));
    };
    if let Change::Set(v) = &change {
        attrdapi::check_value(v).map_err(|e| usage(&format!("Invalid value: {e}")))?;
    }
    if matches!(letter, 'B' | 'Y') && delay_ms.is_none() {
        warning = Some(format!(
            "Warning: '{letter}' command given without required --delay"
        ));
    }
    Ok((
        Command::Update(Update {
            name,
            node: a.node.clone(),
            change,
            delay_ms,
            lifetime,
            private: a.private,
        }),
        warning,
    ))
}

/// Pacemaker's text line for one value.
fn value_line(name: &str, v: &NodeValue) -> String {
    let host = if v.node.is_empty() {
        String::new()
    } else {
        format!("host=\"{}\" ", v.node)
    };
    format!(
        "name=\"{name}\" {host}value=\"{}\"",
        v.value.as_deref().unwrap_or("")
    )
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("attrd_updater: {msg}");
    ExitCode::from(code)
}

fn connect_error(e: &ipc::IpcError) -> (u8, String) {
    match e {
        ipc::IpcError::Timeout => (exit::TIMEOUT, "Timer expired".into()),
        ipc::IpcError::Refused { .. } => (exit::INSUFFICIENT_PRIV, "Permission denied".into()),
        _ => (exit::DISCONNECT, "Connection refused".into()),
    }
}

fn main() -> ExitCode {
    let args: Args = match clitools::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.version {
        println!("attrd_updater {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let (cmd, warning) = match command(&args) {
        Ok(c) => c,
        Err(Usage(code, m)) => return fail(code, &m),
    };
    if let Some(w) = warning {
        println!("{w}");
    }
    let paths = plumbing::HaPaths::from_env();
    // Long enough for an update that another node's attrd takes (attrd
    // gives up on it after 10 s).
    let client = AttrdClient::local(&paths, Duration::from_secs(15));
    match cmd {
        Command::Query { name, node } => {
            let mut c = match client {
                Ok(c) => c,
                Err(e) => {
                    let (code, m) = connect_error(&e);
                    return fail(code, &format!("Could not connect to attrd: {m}"));
                }
            };
            match c.call(&Request::Query {
                name: name.clone(),
                node,
            }) {
                Ok(Response::Values(Some(vals))) => {
                    for v in &vals {
                        println!("{}", value_line(&name, v));
                    }
                    ExitCode::SUCCESS
                }
                Ok(Response::Values(None)) => fail(
                    exit::CONFIG,
                    &format!("Could not query value of {name}: attribute does not exist"),
                ),
                Ok(Response::Failed(f)) => fail(
                    f.code,
                    &format!("Could not query value of {name}: {}", f.message),
                ),
                Ok(other) => fail(exit::SOFTWARE, &format!("unexpected answer {other:?}")),
                Err(e) => {
                    let (code, m) = connect_error(&e);
                    fail(code, &format!("Could not query value of {name}: {m}"))
                }
            }
        }
        Command::Refresh | Command::Update(_) => {
            let (req, what) = match cmd {
                Command::Update(u) => {
                    let what = match &u.change {
                        Change::Set(v) => format!("{}={v}", u.name),
                        _ => format!("{}=(null)", u.name),
                    };
                    (Request::Update(u), what)
                }
                _ => (Request::Refresh, "(null)=(null)".to_string()),
            };
            let result = client.and_then(|mut c| c.call(&req));
            match result {
                Ok(Response::Ok) => ExitCode::SUCCESS,
                Ok(Response::Failed(f)) => {
                    fail(f.code, &format!("Could not update {what}: {}", f.message))
                }
                Ok(other) => fail(exit::SOFTWARE, &format!("unexpected answer {other:?}")),
                Err(e) => {
                    // Pacemaker adds the errno to this one.
                    let (code, m) = connect_error(&e);
                    let errno = if code == exit::DISCONNECT {
                        " (111)"
                    } else {
                        ""
                    };
                    fail(code, &format!("Could not update {what}: {m}{errno}"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<(Command, Option<String>), Usage> {
        let a = Args::try_parse_from(std::iter::once("attrd_updater").chain(argv.iter().copied()))
            .map_err(|e| Usage(exit::USAGE, e.to_string()))?;
        command(&a)
    }

    fn upd(name: &str, change: Change, delay: Option<u64>, life: Lifetime) -> Command {
        Command::Update(Update {
            name: name.into(),
            node: None,
            change,
            delay_ms: delay,
            lifetime: life,
            private: false,
        })
    }

    #[test]
    fn commands_map_as_pacemakers() {
        let q = |node: Option<&str>| Command::Query {
            name: "x".into(),
            node: node.map(str::to_string),
        };
        for (argv, want) in [
            (vec!["-n", "x"], q(Some("localhost"))),
            (vec!["-n", "x", "-Q"], q(Some("localhost"))),
            (vec!["-n", "x", "-Q", "-A"], q(None)),
            (vec!["-n", "x", "-Q", "-N", "node2"], q(Some("node2"))),
            (vec!["-Q", "-n", "x"], q(Some("localhost"))),
            (
                vec!["-n", "x", "-U", "1"],
                upd("x", Change::Set("1".into()), None, Lifetime::Reboot),
            ),
            (
                vec!["-n", "x", "-v", "1", "-d", "5"],
                upd("x", Change::Set("1".into()), Some(5000), Lifetime::Reboot),
            ),
            (
                vec!["-nx", "-B", "2", "-d", "500ms", "-l", "forever"],
                upd("x", Change::Set("2".into()), Some(500), Lifetime::Forever),
            ),
            (
                vec!["-n", "x", "-D", "-l", "nodes"],
                upd("x", Change::Delete, None, Lifetime::Forever),
            ),
            (
                vec!["-n", "x", "-Y", "-d", "2s"],
                upd("x", Change::DelayOnly, Some(2000), Lifetime::Reboot),
            ),
            (vec!["-R"], Command::Refresh),
        ] {
            assert_eq!(parse(&argv).map(|c| c.0), Ok(want), "{argv:?}");
        }
        let (c, w) = parse(&["-n", "x", "-U", "1", "-N", "node2"]).unwrap();
        assert!(matches!(c, Command::Update(Update { node: Some(n), .. }) if n == "node2"));
        assert_eq!(w, None);
        let (_, w) = parse(&["-n", "x", "-B", "1"]).unwrap();
        assert_eq!(
            w.as_deref(),
            Some("Warning: 'B' command given without required --delay")
        );
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for argv in [
            vec!["-Q"],
            vec!["-U", "1"],
            vec!["-n", "x", "-U", "1", "-l", "bogus"],
            vec!["-n", "x", "-U", "1", "-d", "soon"],
            vec!["-n", "", "-U", "1"],
            vec!["-n", "x", "-U", "1", "-D"],
            vec!["-n", "x", "-U", "1", "-s", "myset"],
            vec!["-n", "x", "-U", "a\u{7}"],
            vec!["-n", "x", "--bogus"],
        ] {
            match parse(&argv) {
                Err(Usage(code, _)) => assert_eq!(code, exit::USAGE, "{argv:?}"),
                Ok(c) => panic!("{argv:?} accepted: {c:?}"),
            }
        }
        assert_eq!(
            parse(&["-n", "x", "-U", "1", "-l", "bogus"]).map(|c| c.0),
            Err(Usage(
                exit::USAGE,
                "Unknown value for --lifetime: bogus".into()
            ))
        );
        assert_eq!(
            parse(&["-Q"]).map(|c| c.0),
            Err(Usage(
                exit::USAGE,
                "Command requires --name argument".into()
            ))
        );
    }

    #[test]
    fn query_lines_are_pacemakers() {
        let v = |node: &str, value: Option<&str>| NodeValue {
            node: node.into(),
            value: value.map(str::to_string),
        };
        assert_eq!(
            value_line("pingd", &v("node1", Some("100"))),
            r#"name="pingd" host="node1" value="100""#
        );
        assert_eq!(
            value_line("pingd", &v("node2", None)),
            r#"name="pingd" host="node2" value="""#
        );
    }
}

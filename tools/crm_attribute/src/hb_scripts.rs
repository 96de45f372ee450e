//! hb_standby and hb_takeover: Heartbeat's two-node failover commands
//! (`all|foreign|local|failback`) for clusters where the CRM places the
//! resources.
//!
//! Heartbeat's scripts sent `ask_resources`/`hb_takeover` messages to its
//! haresources resource manager, which knew each resource group's home
//! node. Under the CRM a resource has no such home; what an administrator
//! means by the commands is carried out with the `standby` node attribute
//! (permanent, as `crm_standby -v on`), and the CRM's constraints and
//! stickiness decide where everything goes:
//!
//! | command                         | effect                                   |
//! |---------------------------------|------------------------------------------|
//! | `hb_standby [any]`              | this node goes standby                   |
//! | `hb_takeover local`/`failback`  | this node comes online (standby off)     |
//! | `hb_takeover [all]`/`foreign`   | this node online, every other standby    |
//!
//! `local`, `foreign` and `failback` of hb_standby all put the whole node
//! in standby: releasing only the groups a node is "home" for needs the
//! haresources homes the CRM does not have (Heartbeat's own manual calls
//! hb_standby superseded by node standby in CRM clusters).

use std::process::ExitCode;
use std::time::Duration;

use clitools::{exit, CibSession, ToolError};

use crate::{local_node_name, run, Args};

/// Which of Heartbeat's scripts this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Standby,
    Takeover,
}

impl Script {
    fn name(self) -> &'static str {
        match self {
            Script::Standby => "hb_standby",
            Script::Takeover => "hb_takeover",
        }
    }
}

/// The resource selection the scripts accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    All,
    Foreign,
    Local,
    Failback,
}

impl Which {
    fn word(self) -> &'static str {
        match self {
            Which::All => "all",
            Which::Foreign => "foreign",
            Which::Local => "local",
            Which::Failback => "failback",
        }
    }
}

/// A standby change the command makes: node name and new value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyChange {
    pub node: String,
    pub on: bool,
}

/// The script's arguments as Heartbeat's checked them: at most one, one of
/// the four words (`all` when absent). `Ok(None)` is `--help`.
pub fn parse_which(script: Script, args: &[String]) -> Result<Option<Which>, String> {
    let name = script.name();
    match args {
        [] => Ok(Some(Which::All)),
        [one] => match one.as_str() {
            "all" => Ok(Some(Which::All)),
            "foreign" => Ok(Some(Which::Foreign)),
            "local" => Ok(Some(Which::Local)),
            "failback" => Ok(Some(Which::Failback)),
            "--help" | "-h" => Ok(None),
            other => Err(format!("{name}: wrong resources({other}).")),
        },
        _ => Err(format!("{name}: too many arguments")),
    }
}

/// The standby changes for `script which` run on `local`, the cluster's
/// nodes being `nodes` (pure; the order is the order they are applied).
pub fn plan(script: Script, which: Which, local: &str, nodes: &[String]) -> Vec<StandbyChange> {
    let me = StandbyChange {
        node: local.to_string(),
        on: script == Script::Standby,
    };
    let mut changes = vec![me];
    if script == Script::Takeover && matches!(which, Which::All | Which::Foreign) {
        let mut others: Vec<&String> = nodes.iter().filter(|n| n.as_str() != local).collect();
        others.sort();
        others.dedup();
        changes.extend(others.into_iter().map(|n| StandbyChange {
            node: n.clone(),
            on: true,
        }));
    }
    changes
}

fn usage(script: Script) -> String {
    format!("usage:\n{} [all|foreign|local|failback]", script.name())
}

/// The names of the nodes in the CIB's nodes section.
fn configured_nodes() -> Result<Vec<String>, ToolError> {
    let session = CibSession::open(Duration::from_secs(30))?;
    let Some(nodes) = session.cib().path(&["configuration", "nodes"]) else {
        return Ok(Vec::new());
    };
    Ok(nodes
        .children
        .iter()
        .filter(|n| n.name == "node")
        .filter_map(|n| n.attr("uname"))
        .map(str::to_string)
        .collect())
}

/// Runs hb_standby or hb_takeover with the arguments after the program
/// name; exit codes as Heartbeat's scripts (1 for a usage error) and
/// crm_attribute's for a failed change.
pub fn main_for(script: Script, args: &[String]) -> ExitCode {
    let which = match parse_which(script, args) {
        Ok(Some(w)) => w,
        Ok(None) => {
            println!("{}", usage(script));
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("{msg}\n{}", usage(script));
            return ExitCode::from(1);
        }
    };
    clitools::audit(script.name());
    let local = local_node_name();
    let nodes = if script == Script::Takeover && matches!(which, Which::All | Which::Foreign) {
        match configured_nodes() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{}: {}", script.name(), e.message);
                return ExitCode::from(e.code);
            }
        }
    } else {
        Vec::new()
    };
    let what = match script {
        Script::Standby => "Going standby",
        Script::Takeover => "Taking over",
    };
    clitools::log_notice(script.name(), &format!("{what} [{}].", which.word()));
    for change in plan(script, which, &local, &nodes) {
        let attr = Args {
            name: Some("standby".into()),
            update: Some(if change.on { "on" } else { "off" }.into()),
            node: Some(change.node.clone()),
            lifetime: Some("forever".into()),
            ..Args::default()
        };
        if let Err(e) = run(&attr) {
            eprintln!(
                "{}: could not set standby={} on {}: {}",
                script.name(),
                if change.on { "on" } else { "off" },
                change.node,
                e.message
            );
            return ExitCode::from(if e.code == exit::OK {
                exit::ERROR
            } else {
                e.code
            });
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments_are_checked_as_heartbeat_did() {
        assert_eq!(parse_which(Script::Standby, &[]), Ok(Some(Which::All)));
        assert_eq!(
            parse_which(Script::Takeover, &s(&["failback"])),
            Ok(Some(Which::Failback))
        );
        assert_eq!(parse_which(Script::Standby, &s(&["--help"])), Ok(None));
        assert_eq!(
            parse_which(Script::Standby, &s(&["some"])),
            Err("hb_standby: wrong resources(some).".into())
        );
        assert_eq!(
            parse_which(Script::Takeover, &s(&["all", "local"])),
            Err("hb_takeover: too many arguments".into())
        );
    }

    #[test]
    fn standby_affects_only_this_node() {
        let nodes = s(&["alice", "bob", "carol"]);
        for which in [Which::All, Which::Foreign, Which::Local, Which::Failback] {
            assert_eq!(
                plan(Script::Standby, which, "bob", &nodes),
                vec![StandbyChange {
                    node: "bob".into(),
                    on: true
                }]
            );
        }
    }

    #[test]
    fn takeover_all_puts_every_other_node_in_standby() {
        let nodes = s(&["carol", "alice", "bob"]);
        let got = plan(Script::Takeover, Which::All, "bob", &nodes);
        let want: Vec<(String, bool)> = vec![
            ("bob".into(), false),
            ("alice".into(), true),
            ("carol".into(), true),
        ];
        let got: Vec<(String, bool)> = got.into_iter().map(|c| (c.node, c.on)).collect();
        assert_eq!(got, want);
        let local = plan(Script::Takeover, Which::Local, "bob", &nodes);
        assert_eq!(
            local,
            vec![StandbyChange {
                node: "bob".into(),
                on: false
            }]
        );
    }
}

//! ha_propagate: pushes this node's ha.cf and authkeys to every other node
//! named in ha.cf over ssh/scp, and enables the heartbeat service there, as
//! Heartbeat's script did; unlike it, each node's outcome is reported, an
//! unreachable node does not stop the others, and the exit status says
//! whether every node succeeded. With no arguments it does what the classic
//! script did (files from /etc/ha.d, to root@NODE); the options only say
//! how to reach the nodes.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use ha_propagate::{
    enabled_with, install_command, parse_remote_dir, prepare_command, summary, targets,
    temporary_path, NodeReport, NodeResult, SshOptions, StepOutcome, ENABLE_COMMAND, FILES,
};
use plumbing::HaPaths;

#[derive(Parser, Debug)]
#[command(
    name = "ha_propagate",
    about = "Copy ha.cf and authkeys to every node of ha.cf and enable heartbeat there",
    long_about = "Copy ha.cf and authkeys from this node's configuration directory \
                  ($HA_CONFDIR, default /etc/ha.d) to every other node named by a `node` \
                  line of ha.cf, into that node's $HA_CONFDIR (default /etc/ha.d), over \
                  scp as root, authkeys with mode 0600, then enable the heartbeat service \
                  there (systemctl, update-rc.d or chkconfig, whichever the node has). \
                  Exits 1 if any node failed."
)]
struct Args {
    /// Directory holding ha.cf and authkeys (default $HA_CONFDIR or /etc/ha.d).
    #[arg(short = 'd', long = "confdir", value_name = "DIR")]
    confdir: Option<PathBuf>,
    /// Remote user (default root).
    #[arg(short = 'l', long = "user", value_name = "USER")]
    user: Option<String>,
    /// ssh port of the nodes.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    port: Option<u16>,
    /// Private key for ssh and scp.
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identity: Option<PathBuf>,
    /// ssh configuration file for ssh and scp (`ssh -F`).
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// An ssh option for ssh and scp (`-o`), repeatable.
    #[arg(short = 'o', long = "ssh-option", value_name = "OPTION")]
    ssh_options: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let paths = HaPaths::from_env();
    let confdir = args
        .confdir
        .clone()
        .unwrap_or_else(|| paths.confdir.clone());
    let nodes = match check_local(&confdir) {
        Ok(nodes) => nodes,
        Err(e) => {
            eprintln!("ha_propagate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = SshOptions {
        user: args.user,
        port: args.port,
        identity: args.identity,
        config: args.ssh_config,
        options: args.ssh_options,
    };
    let targets = targets(&nodes, &paths.nodename);
    if targets.is_empty() {
        println!(
            "ha_propagate: ha.cf names no node other than this one ({}): nothing to do",
            paths.nodename
        );
        return ExitCode::SUCCESS;
    }
    let mut reports = Vec::new();
    for node in &targets {
        let report = NodeReport {
            node: node.clone(),
            result: propagate(&opts, &confdir, node),
        };
        println!("{report}");
        reports.push(report);
    }
    match summary(&reports) {
        None => ExitCode::SUCCESS,
        Some(s) => {
            eprintln!("{s}");
            ExitCode::FAILURE
        }
    }
}

/// The local files must be what this node's heartbeat would accept: a
/// broken ha.cf or an authkeys others can read is not spread.
fn check_local(confdir: &Path) -> Result<Vec<String>, String> {
    let cf_path = confdir.join("ha.cf");
    let keys_path = confdir.join("authkeys");
    if !cf_path.is_file() || !keys_path.is_file() {
        return Err(format!(
            "HA Linux not configured on this node ({} and {} needed). Can not propagate.",
            cf_path.display(),
            keys_path.display()
        ));
    }
    let cf = config::load_ha_cf_or_message(&cf_path)?;
    config::load_authkeys(&keys_path).map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(cf.nodes)
}

/// Runs one command line, stdin closed (ssh asks for passwords on the tty).
fn run(argv: &[String]) -> StepOutcome {
    let Some((program, rest)) = argv.split_first() else {
        return StepOutcome {
            status: None,
            stdout: String::new(),
            stderr: "empty command".into(),
        };
    };
    match Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => StepOutcome {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => StepOutcome {
            status: None,
            stdout: String::new(),
            stderr: format!("cannot run {program}: {e}"),
        },
    }
}

/// The steps for one node, stopping at the first that fails.
fn propagate(opts: &SshOptions, confdir: &Path, node: &str) -> NodeResult {
    println!("Propagating HA configuration files to node {node}.");
    let prepared = run(&opts.ssh_argv(node, &prepare_command()));
    if !prepared.ok() {
        return NodeResult::Unreachable(prepared.reason());
    }
    let dir = match parse_remote_dir(&prepared.stdout) {
        Ok(d) => d,
        Err(e) => return NodeResult::CopyFailed(e),
    };
    for name in FILES {
        let copied = run(&opts.scp_argv(&confdir.join(name), node, &temporary_path(&dir, name)));
        if !copied.ok() {
            return NodeResult::CopyFailed(format!("scp {name}: {}", copied.reason()));
        }
    }
    let installed = run(&opts.ssh_argv(node, &install_command(&dir)));
    if !installed.ok() {
        return NodeResult::CopyFailed(installed.reason());
    }
    println!("Setting HA startup configuration on node {node}.");
    let enabled = run(&opts.ssh_argv(node, ENABLE_COMMAND));
    if !enabled.ok() {
        return NodeResult::EnableFailed {
            dir,
            reason: enabled.reason(),
        };
    }
    NodeResult::Done {
        dir,
        enabled_with: enabled_with(&enabled.stdout),
    }
}

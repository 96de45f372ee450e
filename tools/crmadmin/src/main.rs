//! Pacemaker's crmadmin: asks the controllers who the Designated
//! Controller is (`-D`), how a node's controller is (`-S NODE`), and lists
//! the cluster's nodes (`-N`, from the CIB's nodes section), with
//! Pacemaker's texts and exit codes.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clitools::{exit, CibSession, ToolError};
use crmapi::{CrmRequest, CrmResponse};

#[derive(Parser, Debug)]
#[command(name = "crmadmin", about = "query and manage the Pacemaker controller")]
struct Args {
    /// Display the status of the controller on NODE.
    #[arg(short = 'S', long = "status", value_name = "NODE")]
    status: Option<String>,
    /// Display the name of the node with the Designated Controller.
    #[arg(short = 'D', long = "dc_lookup")]
    dc_lookup: bool,
    /// Display the uname of all member nodes (TYPE: cluster, remote, guest
    /// or all; only cluster nodes exist here).
    #[arg(short = 'N', long = "nodes", value_name = "TYPE", num_args = 0..=1, default_missing_value = "all")]
    nodes: Option<String>,
    /// With -N, print as shell variable assignments (NAME=ID).
    #[arg(short = 'B', long = "bash-export")]
    bash_export: bool,
    /// Display only the essential query information.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Time to wait for a reply (e.g. 30s); default 30 s.
    #[arg(short = 't', long = "timeout", value_name = "TIMESPEC")]
    timeout: Option<String>,
    /// Increase debug output (accepted for compatibility).
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = match clitools::parse_args::<Args>() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("crmadmin: {e}");
            ExitCode::from(e.code)
        }
    }
}

fn ask(req: CrmRequest, timeout: Duration) -> Result<CrmResponse, ToolError> {
    let paths = plumbing::HaPaths::from_env();
    let mut c = crmapi::connect_crmd(&crmapi::crmd_socket(&paths), timeout).map_err(|e| {
        ToolError::new(
            exit::DISCONNECT,
            format!("Could not connect to controller: {e}"),
        )
    })?;
    c.call(&req).map_err(|e| match e {
        ipc::IpcError::Timeout => ToolError::new(
            exit::TIMEOUT,
            "No reply received from controller before timeout",
        ),
        e => ToolError::new(
            exit::DISCONNECT,
            format!("Lost connection to controller: {e}"),
        ),
    })
}

fn run(args: &Args) -> Result<(), ToolError> {
    let timeout = match &args.timeout {
        Some(t) => cib_xml::rules::parse_interval_ms(t)
            .map(Duration::from_millis)
            .ok_or_else(|| ToolError::new(exit::USAGE, format!("Invalid timeout: {t}")))?,
        None => Duration::from_secs(30),
    };
    if args.dc_lookup {
        match ask(CrmRequest::Status, timeout)? {
            CrmResponse::Status { dc, .. } => {
                if args.quiet {
                    if let Some(d) = dc {
                        println!("{d}");
                    }
                } else {
                    println!(
                        "Designated Controller is: {}",
                        dc.as_deref().unwrap_or("not yet elected")
                    );
                }
            }
            CrmResponse::Failed(why) => return Err(ToolError::new(exit::ERROR, why)),
            other => {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!("unexpected answer {other:?}"),
                ))
            }
        }
    } else if let Some(node) = &args.status {
        match ask(CrmRequest::NodeStatus(Some(node.clone())), timeout)? {
            CrmResponse::Status { controller, .. } => {
                if args.quiet {
                    println!("{}", controller.state);
                } else {
                    println!(
                        "Controller on {} in state {}: {}",
                        controller.node,
                        controller.state,
                        if controller.ok { "ok" } else { "not ok" }
                    );
                }
            }
            CrmResponse::Failed(why) => return Err(ToolError::new(exit::NOSUCH, why)),
            other => {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!("unexpected answer {other:?}"),
                ))
            }
        }
    } else if let Some(kind) = &args.nodes {
        if !matches!(
            kind.as_str(),
            "all" | "cluster" | "member" | "remote" | "guest"
        ) {
            return Err(ToolError::new(
                exit::USAGE,
                format!("Invalid node type: {kind}"),
            ));
        }
        let session = CibSession::open(timeout)?;
        let mut any = false;
        if matches!(kind.as_str(), "all" | "cluster" | "member") {
            if let Some(nodes) = session
                .cib()
                .child("configuration")
                .and_then(|c| c.child("nodes"))
            {
                for n in nodes.children_named("node") {
                    let name = n.attr("uname").unwrap_or("<null>");
                    let id = n.attr("id").unwrap_or("<null>");
                    any = true;
                    if args.bash_export {
                        println!("export {name}={id}");
                    } else if args.quiet {
                        println!("{name}");
                    } else {
                        println!(
                            "{} node: {name} ({id})",
                            n.attr("type").unwrap_or("cluster")
                        );
                    }
                }
            }
        }
        if !any && !args.quiet {
            println!("No nodes configured");
        }
    } else {
        return Err(ToolError::new(
            exit::USAGE,
            "No command specified (use -D, -S NODE or -N; see --help)",
        ));
    }
    Ok(())
}

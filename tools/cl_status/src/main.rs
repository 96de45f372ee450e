//! cl_status: Heartbeat's status tool. Asks the local master control process
//! about nodes, links, clients and parameters and prints the answers in
//! Heartbeat 3's formats, with its exit codes (0 ok, 1 heartbeat not running
//! or a failed query, 11 an unknown node or sub-command, 13 an unknown link).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hbapi::{ClusterStatus, NodeInfo, Request, Response};
use ipc::BlockingClient;

const EXIT_FAIL: u8 = 1;
const EXIT_BAD_NODE: u8 = 11;
const EXIT_BAD_LINK: u8 = 13;
/// Heartbeat's `UNKNOWN_ERROR` (the same code as an unknown link).
const EXIT_UNKNOWN: u8 = 13;
/// Heartbeat's cl_status waits this long for another node's answer.
const DEFAULT_CLIENTSTATUS_TIMEOUT_MS: u32 = 500;

#[derive(Parser, Debug)]
#[command(
    name = "cl_status",
    about = "Query the local heartbeat about the cluster"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the status of a heartbeat client on a node.
    Clientstatus {
        /// The node.
        node: String,
        /// The client name.
        client: String,
        /// How long to wait for another node's answer, in milliseconds
        /// (default 500, as Heartbeat's).
        timeout: Option<u32>,
    },
    /// Show the status of a heartbeat link.
    Hblinkstatus {
        /// The node.
        node: String,
        /// The link (interface) name.
        link: String,
    },
    /// Indicate whether heartbeat is running on this machine.
    Hbstatus {
        /// Also print "listnodes -v".
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// List the nodes of the cluster.
    Listnodes {
        /// Only ping nodes.
        #[arg(short = 'p')]
        ping: bool,
        /// Only normal nodes.
        #[arg(short = 'n')]
        normal: bool,
        /// Also list type, status and links.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// List the links (interfaces) to a node.
    Listhblinks {
        /// Also list each link's status.
        #[arg(short = 'v')]
        verbose: bool,
        /// The node.
        node: String,
    },
    /// Show a node's status.
    Nodestatus {
        /// The node.
        node: String,
    },
    /// Show a node's weight.
    Nodeweight {
        /// The node.
        node: String,
    },
    /// Show a node's site.
    Nodesite {
        /// The node.
        node: String,
    },
    /// Show a node's type (normal or ping).
    Nodetype {
        /// The node.
        node: String,
    },
    /// Show the status of the resources heartbeat itself manages.
    Rscstatus,
    /// Show the value of an ha.cf parameter.
    Hbparameter {
        /// The parameter name.
        #[arg(short = 'p')]
        parameter: String,
    },
}

fn error(msg: &str) {
    eprintln!("cl_status: ERROR: {msg}");
}

fn ask(c: &mut BlockingClient<hbapi::HbApi>, r: Request) -> Result<Response, u8> {
    c.call(&r).map_err(|e| {
        error(&format!("request to heartbeat failed: {e}"));
        EXIT_FAIL
    })
}

fn status(c: &mut BlockingClient<hbapi::HbApi>) -> Result<ClusterStatus, u8> {
    match ask(c, Request::Status)? {
        Response::Status(s) => Ok(s),
        other => {
            error(&format!("unexpected answer {other:?}"));
            Err(EXIT_FAIL)
        }
    }
}

fn node<'a>(s: &'a ClusterStatus, name: &str) -> Result<&'a NodeInfo, u8> {
    s.nodes
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            println!("Error. May be due to incorrect node name");
            EXIT_BAD_NODE
        })
}

fn print_links(n: &NodeInfo, verbose: bool) {
    for (link, st) in &n.links {
        if verbose {
            println!("\t{link}\t{st}");
        } else {
            println!("\t{link}");
        }
    }
}

/// Nodes as Heartbeat's cl_status lists them: its client library walks the
/// node table backwards, so the last node of ha.cf comes first.
fn print_nodes(s: &ClusterStatus, ping: bool, normal: bool, verbose: bool) {
    for n in s.nodes.iter().rev() {
        let is_ping = n.node_type == "ping";
        if (ping && !is_ping) || (normal && is_ping) {
            continue;
        }
        if verbose {
            // Heartbeat's cl_status starts every verbose entry with an
            // empty line.
            println!("\n{}\t{}\t(nodetype: {})", n.name, n.status, n.node_type);
            print_links(n, true);
        } else {
            println!("{}", n.name);
        }
    }
}

/// cluster-glue's `cl_str_to_boolean` false words.
fn is_false(v: &str) -> bool {
    ["false", "off", "no", "n", "0"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
}

fn run(cmd: Command) -> Result<(), u8> {
    let paths = plumbing::HaPaths::from_env();
    let connected = hbapi::connect(&paths);
    if let Command::Hbstatus { .. } = cmd {
        if connected.is_err() {
            println!("Heartbeat is stopped on this machine.");
            return Err(EXIT_FAIL);
        }
    }
    let mut c = connected.map_err(|e| {
        error("Cannot signon with heartbeat");
        error(&format!("REASON: {e}"));
        EXIT_FAIL
    })?;
    match cmd {
        Command::Hbstatus { verbose } => {
            let s = status(&mut c)?;
            println!("Heartbeat is running on this machine.");
            if verbose {
                println!("version:\t{}", s.version);
                // Heartbeat's is_pacemaker_enabled: anything but a false
                // boolean means the CRM manages resources.
                let pacemaker = match ask(&mut c, Request::Parameter("pacemaker".into()))? {
                    Response::Parameter(v) => v,
                    _ => None,
                };
                match pacemaker.as_deref() {
                    Some(v) if is_false(v) => println!("managed by:\t\"haresources\""),
                    Some(v) => println!("managed by:\tpacemaker\t({v})"),
                    None => println!("managed by:\tpacemaker\t((null))"),
                }
                print_nodes(&s, false, false, true);
            }
        }
        Command::Listnodes {
            ping,
            normal,
            verbose,
        } => print_nodes(&status(&mut c)?, ping, normal, verbose),
        Command::Nodestatus { node: name } => println!("{}", node(&status(&mut c)?, &name)?.status),
        Command::Nodetype { node: name } => {
            println!("{}", node(&status(&mut c)?, &name)?.node_type)
        }
        Command::Nodeweight { node: name } => {
            node(&status(&mut c)?, &name)?;
            println!("100");
        }
        Command::Nodesite { node: name } => {
            node(&status(&mut c)?, &name)?;
            println!();
        }
        Command::Listhblinks {
            verbose,
            node: name,
        } => print_links(node(&status(&mut c)?, &name)?, verbose),
        Command::Hblinkstatus { node: name, link } => {
            let s = status(&mut c)?;
            let n = node(&s, &name)?;
            match n.links.iter().find(|(l, _)| *l == link) {
                Some((_, st)) => println!("{st}"),
                None => {
                    error("Cannot get heartbeat link status");
                    error(&format!("REASON: no link {link} to node {name}"));
                    return Err(EXIT_BAD_LINK);
                }
            }
        }
        Command::Rscstatus => {
            // Resources are the CRM's; heartbeat itself holds none (no
            // haresources resource manager runs).
            println!("none");
        }
        Command::Hbparameter { parameter } => {
            match ask(&mut c, Request::Parameter(parameter.clone()))? {
                Response::Parameter(Some(v)) => println!("{v}"),
                _ => {
                    error(&format!("Cannot get parameter {parameter}'s value"));
                    return Err(EXIT_FAIL);
                }
            }
        }
        Command::Clientstatus {
            node,
            client,
            timeout,
        } => {
            let request = Request::ClientStatus {
                node,
                client: client.clone(),
                timeout_ms: timeout.unwrap_or(DEFAULT_CLIENTSTATUS_TIMEOUT_MS),
            };
            let failed = |reason: &str| {
                error(&format!("Cannot get heartbeat client {client}'s status"));
                error(&format!("REASON: {reason}"));
                EXIT_UNKNOWN
            };
            match ask(&mut c, request)? {
                // Heartbeat's exit codes: 0 online, 1 offline, 2 join, 3 leave.
                Response::ClientStatus(st) => {
                    println!("{st}");
                    match st.as_str() {
                        "online" => {}
                        "offline" => return Err(EXIT_FAIL),
                        "join" => return Err(2),
                        "leave" => return Err(3),
                        _ => return Err(EXIT_UNKNOWN),
                    }
                }
                Response::Error(e) => return Err(failed(&e)),
                other => return Err(failed(&format!("unexpected answer {other:?}"))),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::InvalidSubcommand {
                let bad = std::env::args().nth(1).unwrap_or_default();
                error(&format!("{bad}: invalid sub-command."));
            } else {
                eprint!("{e}");
            }
            return ExitCode::from(EXIT_BAD_NODE);
        }
    };
    match run(args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

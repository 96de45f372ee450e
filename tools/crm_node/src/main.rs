//! crm_node: the local node's id and name, the known nodes, the members of
//! this partition and whether it has quorum, from the local ccm, printed as
//! Pacemaker 2.1's crm_node prints them (text output):
//!
//! - `-l`: `ID NAME STATE` per node (`member` or `lost`), by name in
//!   natural order; `-p`: the members on one line; `-q`: `1` or `0`;
//!   `-n`: the local name (`OCF_RESKEY_CRM_meta_on_node` first, as for a
//!   resource agent); `-i`: the local id; `-N ID`: the name of that id;
//!   `-R NAME|ID --force`: forget a node that is not a member.
//!
//! Exit codes are Pacemaker's: 0 ok, 64 usage (no command, `-R` without
//! `--force`), 102 ccm not reachable, 105 no such node, 1 refused.
//! Node ids are positions in ha.cf's node table, from 1.

use std::cmp::Ordering;
use std::process::ExitCode;

use ccmapi::{NodeList, Request, Response};
use clap::Parser;

const EX_ERROR: u8 = 1;
const EX_USAGE: u8 = 64;
const EX_DISCONNECT: u8 = 102;
const EX_NOSUCH: u8 = 105;

#[derive(Parser, Debug)]
#[command(
    name = "crm_node",
    about = "crm_node - Tool for displaying low-level node information",
    disable_version_flag = true
)]
struct Args {
    /// Display this node's cluster id.
    #[arg(short = 'i', long = "cluster-id")]
    id: bool,
    /// Display all known members (past and present) of this cluster.
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// Display the name used by the cluster for this node.
    #[arg(short = 'n', long = "name")]
    name: bool,
    /// Display the members of this partition.
    #[arg(short = 'p', long = "partition")]
    partition: bool,
    /// Display a 1 if our partition has quorum, 0 if not.
    #[arg(short = 'q', long = "quorum")]
    quorum: bool,
    /// Display the name used by the cluster for the node with this ID.
    #[arg(short = 'N', long = "name-for-id", value_name = "ID")]
    name_for_id: Option<String>,
    /// (Advanced) Remove the (stopped) node with this name or id from the
    /// membership caches.
    #[arg(short = 'R', long = "remove", value_name = "NAME")]
    remove: Option<String>,
    /// Required with --remove.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Be less descriptive in output.
    #[arg(short = 'Q', long = "quiet")]
    quiet: bool,
}

enum Command {
    Id,
    List,
    Name,
    Partition,
    Quorum,
    NameFor(String),
    Remove(String),
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("crm_node: {msg}");
    ExitCode::from(code)
}

/// Pacemaker's order for node names: case-insensitive, runs of digits
/// compared as numbers (`node2` before `node10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                let ord = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|c| **c == b'0').count();
    &d[z..]
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) {
                    0
                } else {
                    EX_USAGE
                },
            );
        }
    };
    let _ = args.quiet;
    let command = if let Some(n) = args.remove.clone() {
        Command::Remove(n)
    } else if let Some(id) = args.name_for_id.clone() {
        Command::NameFor(id)
    } else if args.list {
        Command::List
    } else if args.partition {
        Command::Partition
    } else if args.quorum {
        Command::Quorum
    } else if args.name {
        Command::Name
    } else if args.id {
        Command::Id
    } else {
        eprintln!("crm_node - Tool for displaying low-level node information\n\nUsage: crm_node [-i|-l|-n|-p|-q|-N ID|-R NAME --force]");
        return ExitCode::from(EX_USAGE);
    };
    if matches!(command, Command::Remove(_)) && !args.force {
        return fail(
            EX_USAGE,
            "The supplied command is considered dangerous.  To prevent accidental destruction of the cluster, the --force flag is required in order to proceed.",
        );
    }
    if let Command::Name = command {
        if let Ok(n) = std::env::var("OCF_RESKEY_CRM_meta_on_node") {
            println!("{n}");
            return ExitCode::SUCCESS;
        }
    }
    let paths = plumbing::HaPaths::from_env();
    let mut client = match ccmapi::connect(&paths) {
        Ok(c) => c,
        Err(e) => return fail(EX_DISCONNECT, &format!("Could not connect to ccm: {e}")),
    };
    let request = match &command {
        Command::Remove(n) => Request::Remove(n.clone()),
        _ => Request::Nodes,
    };
    let resp = match client.call(&request) {
        Ok(r) => r,
        Err(e) => return fail(EX_DISCONNECT, &format!("Could not query ccm: {e}")),
    };
    let list: NodeList = match resp {
        Response::Nodes(l) => l,
        Response::Ok => return ExitCode::SUCCESS,
        Response::NoSuchNode(m) => return fail(EX_NOSUCH, &m),
        Response::Error(m) => return fail(EX_ERROR, &m),
        Response::View(_) | Response::Stats(_) => {
            return fail(EX_ERROR, "unexpected answer from ccm")
        }
    };
    let mut nodes = list.nodes.clone();
    nodes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    match command {
        Command::Id => println!("{}", list.local_id),
        Command::Name => println!("{}", list.local),
        Command::Quorum => println!(
            "{}",
            u8::from(list.view.as_ref().is_some_and(|v| v.quorate))
        ),
        Command::List => {
            for n in &nodes {
                println!("{} {} {}", n.id, n.name, n.state);
            }
        }
        Command::Partition => {
            let members: Vec<&str> = nodes
                .iter()
                .filter(|n| n.state == "member")
                .map(|n| n.name.as_str())
                .collect();
            if !members.is_empty() {
                println!("{}", members.join(" "));
            }
        }
        Command::NameFor(id) => {
            let found = id
                .parse::<u32>()
                .ok()
                .filter(|i| *i > 0)
                .and_then(|i| nodes.iter().find(|n| n.id == i));
            match found {
                Some(n) => println!("{}", n.name),
                None => {
                    return fail(
                        EX_NOSUCH,
                        &format!("Could not print node name: no node with id {id}"),
                    )
                }
            }
        }
        Command::Remove(_) => {}
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering;

    #[test]
    fn names_sort_naturally() {
        let mut v = vec!["node10", "Node2", "node1", "alpha", "node02b", "node2a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["alpha", "node1", "Node2", "node2a", "node02b", "node10"]
        );
        assert_eq!(natural_cmp("a", "A"), Ordering::Equal);
    }
}

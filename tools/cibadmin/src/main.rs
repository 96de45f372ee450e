//! cibadmin: Pacemaker's low-level CIB tool. Parses the command line into
//! a `cib_xml::ops::Request`, runs it against the CIB and prints the
//! answer the way Pacemaker 2.1.5's cibadmin does, with its exit codes.
//!
//! `CIB_file=PATH` (or `CIB_shadow=NAME`, a shadow CIB) works on a file without any daemon: the file is read,
//! the request runs on it in memory, and only a successful change is
//! written back (atomically, keeping the file's mode), so a rejected
//! update leaves the file as it was. Without `CIB_file` the request goes
//! to the local cib daemon through `cibapi` (`-t` bounds the wait; calls
//! are always synchronous, so `-s` changes nothing; `-l` asks for this
//! node's copy); a daemon that cannot be reached is "not connected" (102).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::ops::{self, Op, OpError, Outcome, Request};
use cib_xml::{digest, Limits};
use cibapi::{CibClient, OpKind, OpRequest, Response};
use clap::{ArgAction, Parser};
use ipc::IpcError;

const EX_USAGE: u8 = 64;
const EX_UNSAFE: u8 = 107;
const EX_DISCONNECT: u8 = 102;
const EX_NOINPUT: u8 = 66;
const EX_CANTCREAT: u8 = 73;
const EX_TIMEOUT: u8 = 124;
const EX_INSUFFICIENT_PRIV: u8 = 4;

const DANGEROUS: &str = "The supplied command is considered dangerous.  To prevent accidental destruction of the cluster, the --force flag is required in order to proceed.";

#[derive(Parser, Debug)]
#[command(
    name = "cibadmin",
    about = "Provides direct access to the cluster configuration.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    /// Upgrade the configuration to the latest syntax
    #[arg(short = 'u', long = "upgrade")]
    upgrade: bool,
    /// Get CIB contents
    #[arg(short = 'Q', long = "query")]
    query: bool,
    /// Erase the contents of the whole CIB
    #[arg(short = 'E', long = "erase")]
    erase: bool,
    /// Increase the CIB's epoch value by 1
    #[arg(short = 'B', long = "bump")]
    bump: bool,
    /// Create an object in the CIB (will fail if object already exists)
    #[arg(short = 'C', long = "create")]
    create: bool,
    /// Find object somewhere in CIB's XML tree and update it
    #[arg(short = 'M', long = "modify")]
    modify: bool,
    /// Supply an update in the form of an XML diff
    #[arg(short = 'P', long = "patch")]
    patch: bool,
    /// Recursively replace an object in the CIB
    #[arg(short = 'R', long = "replace")]
    replace: bool,
    /// Delete first object matching supplied criteria
    #[arg(short = 'D', long = "delete")]
    delete: bool,
    /// When used with --xpath, remove all matching objects
    #[arg(short = 'd', long = "delete-all")]
    delete_all: bool,
    /// Output an empty CIB
    #[arg(short = 'a', long = "empty", num_args = 0..=1, default_missing_value = "")]
    empty: Option<String>,
    /// Calculate the on-disk CIB digest
    #[arg(short = '5', long = "md5-sum")]
    md5: bool,
    /// Calculate a versioned CIB digest
    #[arg(short = '6', long = "md5-sum-versioned")]
    md5_versioned: bool,
    /// Force the action to be performed
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Time (in seconds) to wait before declaring the operation failed
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    timeout: Option<u32>,
    /// Which user to pretend to be
    #[arg(short = 'U', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Wait for call to complete before returning
    #[arg(short = 's', long = "sync-call")]
    sync_call: bool,
    /// Command only takes effect locally
    #[arg(short = 'l', long = "local")]
    local: bool,
    /// Allow target of --modify/-M to be created if it does not exist
    #[arg(short = 'c', long = "allow-create")]
    allow_create: bool,
    /// Only show the given object's attributes, not its children
    #[arg(short = 'n', long = "no-children")]
    no_children: bool,
    /// Retrieve XML from the named file
    #[arg(short = 'x', long = "xml-file", value_name = "FILE")]
    xml_file: Option<PathBuf>,
    /// Retrieve XML from the supplied string
    #[arg(short = 'X', long = "xml-text", value_name = "VALUE")]
    xml_text: Option<String>,
    /// Retrieve XML from stdin
    #[arg(short = 'p', long = "xml-pipe")]
    xml_pipe: bool,
    /// Limit scope of operation to specific section of CIB
    #[arg(short = 'o', long = "scope", value_name = "VALUE")]
    scope: Option<String>,
    /// A valid XPath to use instead of --scope/-o
    #[arg(short = 'A', long = "xpath", value_name = "VALUE")]
    xpath: Option<String>,
    /// When performing XPath queries, return path of any matches found
    #[arg(short = 'e', long = "node-path")]
    node_path: bool,
    /// Send command to specified node (daemon mode only)
    #[arg(short = 'N', long = "node", value_name = "VALUE")]
    node: Option<String>,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    help: Option<bool>,
    /// Show version
    #[arg(short = '$', long = "version")]
    version: bool,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp => 0,
                _ => EX_USAGE,
            });
        }
    };
    ExitCode::from(run(args))
}

fn read_input(args: &Args) -> Result<Option<String>, (u8, String)> {
    if let Some(t) = &args.xml_text {
        return Ok(Some(t.clone()));
    }
    if let Some(f) = &args.xml_file {
        return std::fs::read_to_string(f).map(Some).map_err(|e| {
            (
                EX_NOINPUT,
                format!("Couldn't parse input file: {}: {e}", f.display()),
            )
        });
    }
    if args.xml_pipe {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| (EX_NOINPUT, format!("Couldn't read input from stdin: {e}")))?;
        return Ok(Some(s));
    }
    Ok(None)
}

fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    // EPIPE is not an error.
    let _ = o.write_all(text.as_bytes());
}

fn run(args: Args) -> u8 {
    if args.version {
        out("Pacemaker 2.1.5 (compatible cibadmin of this project)\n");
        return 0;
    }
    if let Some(schema) = &args.empty {
        let mut cib = ops::empty_cib();
        if !schema.is_empty() {
            cib.set_attr("validate-with", schema);
        }
        out(&to_pcmk_pretty(&cib));
        return 0;
    }
    let input = match read_input(&args) {
        Ok(i) => i,
        Err((code, msg)) => {
            eprintln!("{msg}");
            return code;
        }
    };
    let data = match &input {
        None => None,
        Some(text) => match parse_cib(text, &Limits::default()) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("Couldn't parse input string: {e}");
                return 65;
            }
        },
    };
    if args.md5 || args.md5_versioned {
        let Some(d) = &data else {
            eprintln!("Please supply XML to process with -X, -x or -p");
            return EX_USAGE;
        };
        if args.md5 {
            eprint!("Digest: ");
            out(&format!("{}\n", digest::on_disk(d)));
        } else {
            eprint!(
                "Versioned ({}) digest: ",
                d.attr("crm_feature_set").unwrap_or("")
            );
            out(&format!("{}\n", digest::versioned(d)));
        }
        return 0;
    }
    let op = if args.upgrade {
        Op::Upgrade
    } else if args.query {
        Op::Query
    } else if args.erase {
        Op::Erase
    } else if args.bump {
        Op::Bump
    } else if args.create {
        Op::Create
    } else if args.modify {
        Op::Modify
    } else if args.patch {
        Op::Patch
    } else if args.replace {
        Op::Replace
    } else if args.delete || args.delete_all {
        Op::Delete
    } else {
        eprintln!("cibadmin: Must specify a command (-Q, -C, -M, -R, -D, -d, -E, -B, -u, -P, -a, -5, -6); see --help");
        return EX_USAGE;
    };
    if (op == Op::Erase || op == Op::Upgrade || args.delete_all) && !args.force {
        eprintln!("{DANGEROUS}");
        return EX_UNSAFE;
    }
    let needs_data = matches!(op, Op::Create | Op::Modify | Op::Replace | Op::Patch)
        || (op == Op::Delete && args.xpath.is_none());
    if needs_data && data.is_none() {
        eprintln!("Please supply XML to process with -X, -x or -p");
        return EX_USAGE;
    }
    let req = Request {
        op,
        section: args.scope.as_deref(),
        xpath: args.xpath.as_deref(),
        data: data.as_ref(),
        allow_create: args.allow_create,
        no_children: args.no_children,
        multiple: args.delete_all,
        node_path: args.node_path,
    };
    // CIB_shadow (a shadow CIB) wins over CIB_file, as in Pacemaker.
    match clitools::offline_cib_path() {
        Some(f) => run_file(&f, &req, args.verbose),
        None => run_daemon(&args, &req, input),
    }
}

fn api_op(op: Op) -> OpKind {
    match op {
        Op::Query => OpKind::Query,
        Op::Create => OpKind::Create,
        Op::Modify => OpKind::Modify,
        Op::Replace => OpKind::Replace,
        Op::Delete => OpKind::Delete,
        Op::Erase => OpKind::Erase,
        Op::Bump => OpKind::Bump,
        Op::Upgrade => OpKind::Upgrade,
        Op::Patch => OpKind::Patch,
    }
}

fn not_connected(why: &str) -> u8 {
    eprintln!("Could not connect to the CIB: {why}");
    eprintln!("Init failed, could not perform requested operations");
    EX_DISCONNECT
}

/// The request through the local cib daemon.
fn run_daemon(args: &Args, req: &Request<'_>, input: Option<String>) -> u8 {
    let timeout = match args.timeout {
        Some(0) | None => Some(Duration::from_secs(30)),
        Some(t) => Some(Duration::from_secs(u64::from(t))),
    };
    let paths = plumbing::HaPaths::from_env();
    let mut client = match CibClient::local(&paths, timeout) {
        Ok(c) => c,
        Err(IpcError::Refused { .. }) => {
            eprintln!("Could not connect to the CIB: Permission denied");
            eprintln!("Init failed, could not perform requested operations");
            return EX_INSUFFICIENT_PRIV;
        }
        Err(e) => {
            if args.verbose > 0 {
                eprintln!("{e}");
            }
            return not_connected("Transport endpoint is not connected");
        }
    };
    let op = OpRequest {
        op: api_op(req.op),
        section: req.section.map(str::to_string),
        xpath: req.xpath.map(str::to_string),
        data: input,
        allow_create: req.allow_create,
        no_children: req.no_children,
        multiple: req.multiple,
        node_path: req.node_path,
        local: args.local,
    };
    match client.perform(op) {
        Ok(Response::Xml(text)) => {
            out(&text);
            0
        }
        Ok(Response::Paths(paths)) => {
            for p in paths {
                out(&format!("{p}\n"));
            }
            0
        }
        Ok(Response::Done { .. }) => 0,
        Ok(Response::Failed(f)) => {
            if let Some(x) = &f.failed {
                out(x);
            }
            if let Some(d) = &f.dump {
                eprint!("{d}");
            }
            if !f.message.is_empty() && (args.verbose > 0 || f.code == 78) {
                eprintln!("{}", f.message);
            }
            eprintln!("Call failed: {}", f.reason);
            u8::try_from(f.code).unwrap_or(1)
        }
        Ok(other) => {
            eprintln!("Call failed: unexpected answer from the CIB: {other:?}");
            1
        }
        Err(IpcError::Timeout) => {
            eprintln!("Call failed: Timer expired");
            EX_TIMEOUT
        }
        Err(IpcError::Refused {
            kind: ipc::ErrorKind::ReadOnly | ipc::ErrorKind::AccessDenied,
            ..
        }) => {
            eprintln!("Call failed: Permission denied");
            EX_INSUFFICIENT_PRIV
        }
        Err(e) => {
            eprintln!("Call failed: {e}");
            not_connected("Transport endpoint is not connected")
        }
    }
}

fn report(e: &OpError, verbose: u8) -> u8 {
    if let Some(f) = &e.failed {
        out(&to_pcmk_pretty(f));
    }
    if let Some(c) = &e.candidate {
        eprint!("{}", ops::numbered_dump(c));
    }
    if !e.message.is_empty() && (verbose > 0 || matches!(e.kind, cib_xml::ops::ErrorKind::Schema)) {
        eprintln!("{}", e.message);
    }
    eprintln!("Call failed: {}", e.reason());
    u8::try_from(e.exit_code()).unwrap_or(1)
}

fn run_file(path: &Path, req: &Request<'_>, verbose: u8) -> u8 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => {
            eprintln!("Could not connect to the CIB: No such device or address");
            eprintln!("Init failed, could not perform requested operations");
            return 105;
        }
    };
    let cib = match parse_cib(&text, &Limits::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            eprintln!(
                "Could not connect to the CIB: Update does not conform to the configured schema"
            );
            eprintln!("Init failed, could not perform requested operations");
            return 78;
        }
    };
    if let Err(errors) = cib_xml::validate::validate(&cib) {
        for e in errors {
            eprintln!("{}: {e}", path.display());
        }
        eprintln!("Could not connect to the CIB: Update does not conform to the configured schema");
        eprintln!("Init failed, could not perform requested operations");
        return 78;
    }
    match ops::perform(&cib, req) {
        Ok(Outcome::Query(e)) => {
            out(&to_pcmk_pretty(&e));
            0
        }
        Ok(Outcome::Paths(paths)) => {
            for p in paths {
                out(&format!("{p}\n"));
            }
            0
        }
        Ok(Outcome::Unchanged) => 0,
        Ok(Outcome::Changed { cib: new, .. }) => {
            let mode = std::fs::metadata(path)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
                .unwrap_or(0o600);
            match plumbing::fs::write_atomic(path, to_pcmk_pretty(&new).as_bytes(), mode) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("Could not write {}: {e}", path.display());
                    EX_CANTCREAT
                }
            }
        }
        Err(e) => report(&e, verbose),
    }
}

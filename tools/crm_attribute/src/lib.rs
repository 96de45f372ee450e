//! crm_attribute (and crm_standby, its wrapper): reads, sets and deletes one name/value pair in the CIB —
//! a cluster option (`crm_config`), a permanent node attribute (`nodes`),
//! a transient one (`status`, `-l reboot`) or a resource/operation default
//! — with Pacemaker 2.1.5's options, output and exit codes.
//!
//! The pair is looked up the way Pacemaker's `cib__update_node_attr` and
//! friends do: every `nvpair` (matching `-n` and/or `-i`) inside every
//! attribute set of the section's set type (only the set `-s` when given)
//! under the section's scope (the node's entry for node attributes). One
//! match is changed in place; none creates the pair in the set Pacemaker
//! would name (`cib-bootstrap-options`, `nodes-<id>`, `status-<id>`,
//! `rsc_defaults-options`, `op_defaults-options`); several make an update
//! refuse (109) and a delete list them. Changes go through
//! `clitools::CibSession` (all or nothing, atomic on a file) and are
//! audited with an `Invoked:` line.
//!
//! The Heartbeat 2.1-era spellings (`-t crm_config -n is_managed_default
//! -v true`) are plain names here; whether the CIB accepts them is the
//! schema's decision (a pacemaker-3.x CIB refuses them, as Pacemaker's
//! does).

pub mod hb_scripts;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cib_xml::doc::COMMENT;
use cib_xml::ops::{Op, Request};
use cib_xml::Element;
use clap::{ArgAction, Parser};
use clitools::{exit, CibSession, ToolError};

/// crm_attribute's command line.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "crm_attribute",
    about = "Reads, sets or deletes a cluster option, a node attribute or a resource/operation default in the CIB.",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Name of the attribute
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Set the attribute to this value
    #[arg(
        short = 'v',
        long = "update",
        alias = "attr-value",
        value_name = "VALUE"
    )]
    pub update: Option<String>,
    /// Print the attribute's current value (the default command)
    #[arg(short = 'G', long = "query", alias = "get-value")]
    pub query: bool,
    /// Delete the attribute
    #[arg(short = 'D', long = "delete", alias = "delete-attr")]
    pub delete: bool,
    /// With -G, print only the value
    #[arg(short = 'q', long = "quiet", short_alias = 'Q')]
    pub quiet: bool,
    /// Where the attribute lives: crm_config, nodes, status, rsc_defaults, op_defaults
    #[arg(short = 't', long = "type", value_name = "SECTION")]
    pub section: Option<String>,
    /// The node a node attribute belongs to
    #[arg(short = 'N', long = "node", value_name = "NODE")]
    pub node: Option<String>,
    /// For node attributes: reboot (transient, status section) or forever (nodes section)
    #[arg(short = 'l', long = "lifetime", value_name = "LIFETIME")]
    pub lifetime: Option<String>,
    /// The attribute set to look in or create
    #[arg(short = 's', long = "set-name", value_name = "SET")]
    pub set_name: Option<String>,
    /// The nvpair's id (to tell apart several with one name)
    #[arg(short = 'i', long = "id", alias = "attr-id", value_name = "ID")]
    pub id: Option<String>,
    /// With -G, the value to print when the attribute is not set
    #[arg(short = 'd', long = "default", value_name = "VALUE")]
    pub default: Option<String>,
    /// Increase debug output
    #[arg(short = 'V', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Show help
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Runs crm_attribute's command line `args` (without the program name
/// handling of errors): prints what it prints and returns its exit code.
pub fn main_with(args: Args) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("crm_attribute: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

/// Parses the process's command line as crm_attribute's.
pub fn parse_or_exit() -> Result<Args, ExitCode> {
    clitools::parse_args()
}

thread_local! {
    /// Set while a call's output is to be dropped (`run_quietly`).
    static SILENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn out(text: &str) {
    if SILENT.with(|s| s.get()) {
        return;
    }
    // EPIPE is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Runs a query without printing anything: whether it would succeed.
pub fn run_quietly(args: &Args) -> bool {
    SILENT.with(|s| s.set(true));
    let ok = run(args).is_ok();
    SILENT.with(|s| s.set(false));
    ok
}

/// Where a pair is looked up and created.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    CrmConfig,
    RscDefaults,
    OpDefaults,
    /// Permanent node attributes of the node with this id.
    Nodes(String),
    /// Transient node attributes of the node with this id.
    Status(String),
}

impl Scope {
    fn section(&self) -> &'static str {
        match self {
            Scope::CrmConfig => "crm_config",
            Scope::RscDefaults => "rsc_defaults",
            Scope::OpDefaults => "op_defaults",
            Scope::Nodes(_) => "nodes",
            Scope::Status(_) => "status",
        }
    }

    fn set_tag(&self) -> &'static str {
        match self {
            Scope::CrmConfig => "cluster_property_set",
            Scope::RscDefaults | Scope::OpDefaults => "meta_attributes",
            Scope::Nodes(_) | Scope::Status(_) => "instance_attributes",
        }
    }

    /// The set a new pair goes into when `-s` is not given.
    fn default_set(&self) -> String {
        match self {
            Scope::CrmConfig => "cib-bootstrap-options".into(),
            Scope::RscDefaults => "rsc_defaults-options".into(),
            Scope::OpDefaults => "op_defaults-options".into(),
            Scope::Nodes(id) => format!("nodes-{id}"),
            Scope::Status(id) => format!("status-{id}"),
        }
    }

    /// The elements under which the sets are searched.
    fn roots<'a>(&self, cib: &'a Element) -> Vec<&'a Element> {
        let one = |e: Option<&'a Element>| e.into_iter().collect::<Vec<_>>();
        match self {
            Scope::CrmConfig => one(cib.path(&["configuration", "crm_config"])),
            Scope::RscDefaults => one(cib.path(&["configuration", "rsc_defaults"])),
            Scope::OpDefaults => one(cib.path(&["configuration", "op_defaults"])),
            Scope::Nodes(id) => one(cib.path(&["configuration", "nodes"]).and_then(|nodes| {
                nodes
                    .children
                    .iter()
                    .find(|n| n.name == "node" && n.attr("id") == Some(id))
            })),
            // Every transient_attributes block of the node's entry (an
            // older one may carry another id).
            Scope::Status(id) => cib
                .child("status")
                .and_then(|s| {
                    s.children
                        .iter()
                        .find(|n| n.name == "node_state" && n.attr("id") == Some(id))
                })
                .map(|state| {
                    state
                        .children
                        .iter()
                        .filter(|c| c.name == "transient_attributes")
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The update that creates `pair` in `set` (merged into what exists).
    fn creation(&self, set: &str, pair: Element) -> Element {
        let mut s = Element::new(self.set_tag()).with_attr("id", set);
        s.children.push(pair);
        match self {
            Scope::CrmConfig | Scope::RscDefaults | Scope::OpDefaults => s,
            Scope::Nodes(id) => {
                let mut n = Element::new("node").with_attr("id", id);
                n.children.push(s);
                n
            }
            Scope::Status(id) => {
                let mut t = Element::new("transient_attributes").with_attr("id", id);
                t.children.push(s);
                let mut n = Element::new("node_state").with_attr("id", id);
                n.children.push(t);
                n
            }
        }
    }
}

/// Every element named `name` at any depth below `e` (not `e` itself), in
/// document order.
fn descendants<'a>(e: &'a Element, name: &str, acc: &mut Vec<&'a Element>) {
    for c in &e.children {
        if c.name == COMMENT {
            continue;
        }
        if c.name == name {
            acc.push(c);
        }
        descendants(c, name, acc);
    }
}

/// The pairs matching the request, in document order.
fn find_pairs<'a>(cib: &'a Element, scope: &Scope, args: &Args) -> Vec<&'a Element> {
    let mut sets = Vec::new();
    for root in scope.roots(cib) {
        descendants(root, scope.set_tag(), &mut sets);
    }
    let mut pairs: Vec<&Element> = Vec::new();
    for set in sets {
        if let Some(want) = &args.set_name {
            if set.attr("id") != Some(want) {
                continue;
            }
        }
        let mut found = Vec::new();
        descendants(set, "nvpair", &mut found);
        for p in found {
            let id_ok = args.id.as_deref().is_none_or(|i| p.attr("id") == Some(i));
            let name_ok = args
                .name
                .as_deref()
                .is_none_or(|n| p.attr("name") == Some(n));
            if id_ok && name_ok && !pairs.iter().any(|q| std::ptr::eq(*q, p)) {
                pairs.push(p);
            }
        }
    }
    pairs
}

/// The id of the node called `uname` (its `<node>`, else its `<node_state>`).
fn node_id(cib: &Element, uname: &str) -> Result<String, ToolError> {
    let configured = cib.path(&["configuration", "nodes"]).and_then(|nodes| {
        nodes
            .children
            .iter()
            .find(|n| n.name == "node" && n.attr("uname") == Some(uname))
    });
    let state = || {
        cib.child("status").and_then(|s| {
            s.children
                .iter()
                .find(|n| n.name == "node_state" && n.attr("uname") == Some(uname))
        })
    };
    configured
        .or_else(state)
        .and_then(|n| n.attr("id"))
        .map(str::to_string)
        .ok_or_else(|| {
            ToolError::new(
                exit::NOSUCH,
                format!("Could not map name={uname} to a UUID"),
            )
        })
}

/// This node's name, the node a node attribute belongs to without -N:
/// `$HA_NODENAME` as every daemon reads it, else the host name.
pub fn local_node_name() -> String {
    plumbing::HaPaths::from_env().nodename
}

/// The scope of this call from -t, -l and -N.
fn scope(cib: &Element, args: &Args) -> Result<Scope, ToolError> {
    let lifetime = match args.lifetime.as_deref() {
        None => None,
        Some(l) if l.eq_ignore_ascii_case("reboot") => Some("status"),
        Some(l) if l.eq_ignore_ascii_case("forever") => Some("nodes"),
        Some(l) => {
            return Err(ToolError::new(
                exit::INVALID_PARAM,
                format!("Invalid lifetime '{l}': use reboot or forever"),
            ))
        }
    };
    let section = match (args.section.as_deref(), lifetime) {
        (Some(t), _) => t.to_ascii_lowercase(),
        (None, Some(l)) => l.to_string(),
        (None, None) if args.node.is_some() => "nodes".into(),
        (None, None) => "crm_config".into(),
    };
    // Like Pacemaker 2.1.5, every type but crm_config names a node (this
    // host when -N is not given), even the defaults sections.
    let node = if section == "crm_config" {
        None
    } else {
        let uname = args.node.clone().unwrap_or_else(local_node_name);
        Some(node_id(cib, &uname)?)
    };
    let node = node.unwrap_or_default();
    match section.as_str() {
        "crm_config" => Ok(Scope::CrmConfig),
        "rsc_defaults" => Ok(Scope::RscDefaults),
        "op_defaults" => Ok(Scope::OpDefaults),
        "nodes" => Ok(if lifetime == Some("status") {
            Scope::Status(node)
        } else {
            Scope::Nodes(node)
        }),
        "status" => Ok(Scope::Status(node)),
        other => Err(ToolError::new(
            exit::INVALID_PARAM,
            format!(
                "Invalid type '{other}': use crm_config, nodes, status, rsc_defaults or op_defaults"
            ),
        )),
    }
}

/// Pacemaker's list of several matches.
fn multiple_text(args: &Args, pairs: &[&Element]) -> String {
    let mut s = format!(
        "Multiple attributes match name={}\n",
        args.name.as_deref().unwrap_or("")
    );
    for p in pairs {
        s.push_str(&format!(
            "  Value: {} \t(id={})\n",
            p.attr("value").unwrap_or(""),
            p.attr("id").unwrap_or("")
        ));
    }
    s
}

/// Carries out one call.
pub fn run(args: &Args) -> Result<(), ToolError> {
    if args.name.is_none() && args.id.is_none() {
        return Err(ToolError::new(
            exit::USAGE,
            "an attribute name (-n) or id (-i) is required",
        ));
    }
    let writing = args.update.is_some() || args.delete;
    if writing {
        clitools::audit("crm_attribute");
    }
    // Never freed: dropping a large CIB piece by piece costs a sixth of
    // a call, and the process ends after it.
    let mut session = std::mem::ManuallyDrop::new(CibSession::open(Duration::from_secs(30))?);
    let scope = scope(session.cib(), args)?;
    let pairs = find_pairs(session.cib(), &scope, args);
    if let Some(value) = &args.update {
        match pairs.as_slice() {
            [] => {
                let set = args.set_name.clone().unwrap_or_else(|| scope.default_set());
                // Not sanitised, as Pacemaker's: an id the schema refuses
                // makes the update fail.
                let id = args
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("{set}-{}", args.name.as_deref().unwrap_or("")));
                let mut pair = Element::new("nvpair").with_attr("id", &id);
                if let Some(n) = &args.name {
                    pair.set_attr("name", n);
                }
                pair.set_attr("value", value);
                let data = scope.creation(&set, pair);
                let mut req = Request::new(Op::Modify);
                req.section = Some(scope.section());
                req.data = Some(&data);
                // A node without a status entry gets no transient
                // attributes (105), as with Pacemaker.
                req.allow_create = !matches!(scope, Scope::Status(_));
                session.apply(&[req]).map_err(op_failed)
            }
            [one] => {
                let mut pair = Element::new("nvpair").with_attr("id", one.attr("id").unwrap_or(""));
                if let Some(n) = &args.name {
                    pair.set_attr("name", n);
                }
                pair.set_attr("value", value);
                let mut req = Request::new(Op::Modify);
                req.section = Some(scope.section());
                req.data = Some(&pair);
                session.apply(&[req]).map_err(op_failed)
            }
            many => {
                out(&multiple_text(args, many));
                Err(ToolError::new(
                    exit::MULTIPLE,
                    "Please choose from one of the matches below and supply the 'id' with --attr-id",
                ))
            }
        }
    } else if args.delete {
        match pairs.as_slice() {
            // Nothing to delete is not an error.
            [] => Ok(()),
            [one] => {
                let id = one.attr("id").unwrap_or("").to_string();
                let mut pair = Element::new("nvpair").with_attr("id", &id);
                if let Some(n) = &args.name {
                    pair.set_attr("name", n);
                }
                let mut req = Request::new(Op::Delete);
                req.section = Some(scope.section());
                req.data = Some(&pair);
                session.apply(&[req]).map_err(op_failed)?;
                let what = if scope == Scope::CrmConfig {
                    "option"
                } else {
                    "attribute"
                };
                let mut line = format!("Deleted {} {what}: id={id}", scope.section());
                if let Some(n) = &args.name {
                    line.push_str(&format!(" name={n}"));
                }
                out(&format!("{line}\n"));
                Ok(())
            }
            // Pacemaker lists the matches, deletes none and succeeds.
            many => {
                out(&multiple_text(args, many));
                Ok(())
            }
        }
    } else {
        let name = args.name.as_deref().unwrap_or("");
        let shown: Vec<(Option<&str>, &str, &str)> = if pairs.is_empty() {
            match &args.default {
                Some(d) => vec![(None, name, d.as_str())],
                None => {
                    return Err(ToolError::new(
                        exit::NOSUCH,
                        "Error performing operation: No such device or address",
                    ))
                }
            }
        } else {
            pairs
                .iter()
                .map(|p| {
                    (
                        p.attr("id"),
                        p.attr("name").unwrap_or(name),
                        p.attr("value").unwrap_or(""),
                    )
                })
                .collect()
        };
        let mut text = String::new();
        for (id, name, value) in shown {
            if args.quiet {
                text.push_str(&format!("{value}\n"));
                continue;
            }
            text.push_str(&format!("scope={} ", scope.section()));
            match (&args.id, id) {
                (Some(_), Some(id)) => text.push_str(&format!("id={id} ")),
                _ => text.push(' '),
            }
            text.push_str(&format!("name={name} value={value}\n"));
        }
        out(&text);
        Ok(())
    }
}

fn op_failed(e: ToolError) -> ToolError {
    ToolError::new(e.code, format!("Error performing operation: {}", e.message))
}

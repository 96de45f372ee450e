//! The parts every administration tool (crm_mon, crm_attribute,
//! crm_resource, ...) shares, so each does them one way:
//!
//! - [`CibSession`]: the CIB read once at start, from `CIB_file=PATH` or the
//!   local cib daemon, and changes applied as `cib_xml::ops` requests: on a
//!   file all of them in memory, then one atomic write (nothing is written
//!   when any is refused); through the daemon one request each.
//! - [`exit`]: Pacemaker's exit codes (`crm_exit_t`).
//! - [`audit`]: the `Invoked: ...` line a tool that changes the cluster
//!   logs once, through the shared logging to syslog and the cluster log.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::ops::{self, Op, OpError, Outcome, Request};
use cib_xml::{Element, Limits};
use cibapi::{CibClient, OpKind, OpRequest, Response};
use ipc::IpcError;

/// Parses the process's command line as `T`: clap's message on error,
/// with Pacemaker's exit codes (0 after `--help`, 64 for a usage error).
pub fn parse_args<T: clap::Parser>() -> Result<T, std::process::ExitCode> {
    T::try_parse().map_err(|e| {
        let _ = e.print();
        std::process::ExitCode::from(match e.kind() {
            clap::error::ErrorKind::DisplayHelp => exit::OK,
            _ => exit::USAGE,
        })
    })
}

/// Pacemaker's exit codes (`crm_exit_t`), the ones the tools use.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Unspecified error.
    pub const ERROR: u8 = 1;
    /// Invalid parameter.
    pub const INVALID_PARAM: u8 = 2;
    /// Insufficient privileges.
    pub const INSUFFICIENT_PRIV: u8 = 4;
    /// Command-line usage error.
    pub const USAGE: u8 = 64;
    /// Input data is not valid.
    pub const DATAERR: u8 = 65;
    /// Input file missing.
    pub const NOINPUT: u8 = 66;
    /// Internal software bug.
    pub const SOFTWARE: u8 = 70;
    /// Output file cannot be written.
    pub const CANTCREAT: u8 = 73;
    /// Configuration is not valid.
    pub const CONFIG: u8 = 78;
    /// Not connected to the cluster.
    pub const DISCONNECT: u8 = 102;
    /// No such object.
    pub const NOSUCH: u8 = 105;
    /// Operation is unsafe without --force.
    pub const UNSAFE: u8 = 107;
    /// Object already exists.
    pub const EXISTS: u8 = 108;
    /// More than one object matches.
    pub const MULTIPLE: u8 = 109;
    /// Timer expired.
    pub const TIMEOUT: u8 = 124;

    /// Pacemaker's words for an exit code (`crm_exit_str`), as XML results
    /// carry them in `<status message=...>`.
    pub fn text(code: u8) -> &'static str {
        match code {
            0 => "OK",
            2 => "Invalid parameter",
            3 => "Unimplemented",
            4 | 77 => "Insufficient privileges",
            5 => "Not installed",
            6 => "Not configured",
            7 => "Not running",
            8 => "Promoted",
            9 => "Failed in promoted role",
            64 => "Incorrect usage",
            65 => "Invalid data given",
            66 => "Input file not available",
            67 => "User does not exist",
            68 => "Host does not exist",
            69 => "Necessary service unavailable",
            70 => "Internal software bug",
            71 => "Operating system error occurred",
            72 => "System file not available",
            73 => "Cannot create output file",
            74 => "I/O error occurred",
            75 => "Temporary failure, try again",
            76 => "Protocol violated",
            78 => "Invalid configuration",
            100 => "Fatal error occurred, will not respawn",
            101 => "System panic required",
            102 => "Not connected",
            103 => "Update was older than existing configuration",
            104 => "Digest mismatch",
            105 => "No such object",
            106 => "Quorum required",
            107 => "Operation not safe",
            108 => "Requested item already exists",
            109 => "Multiple items match request",
            110 => "Requested item has expired",
            111 => "Requested item is not yet in effect",
            112 => "Could not determine status",
            113 => "Not applicable under current conditions",
            124 => "Timeout occurred",
            190 => "Service is active but might fail soon",
            191 => "Service is promoted but might fail soon",
            193 => "No exit status available",
            _ => "Error occurred",
        }
    }
}

/// Pacemaker's `--output-as=xml` result document (API version 2.25):
/// `<pacemaker-result request="...">`, the tool's `body` elements, then
/// `<status code message>` with an `<errors>` list when there are any.
/// `request` is the command line as the tool was called.
pub fn xml_result(request: &str, body: Vec<Element>, code: u8, errors: &[String]) -> String {
    let mut doc = Element::new("pacemaker-result")
        .with_attr("api-version", "2.25")
        .with_attr("request", request);
    doc.children = body;
    let mut status = Element::new("status")
        .with_attr("code", &code.to_string())
        .with_attr("message", exit::text(code));
    if !errors.is_empty() {
        let mut list = Element::new("errors");
        for e in errors {
            let mut el = Element::new("error");
            el.text = Some(e.clone());
            list.children.push(el);
        }
        status.children.push(list);
    }
    doc.children.push(status);
    let mut text = doc.to_pretty();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The wall clock as the scheduler's "now" (the tools pass it in; the
/// libraries have no clock).
pub fn now() -> cib_xml::time::DateTime {
    cib_xml::time::DateTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
            .unwrap_or(0),
    )
}

/// This process's command line as one string (the `request` of
/// [`xml_result`]).
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// A failure a tool reports: the message for stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    /// Pacemaker's exit code.
    pub code: u8,
    /// What went wrong, one line per problem.
    pub message: String,
}

impl ToolError {
    /// A failure with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> ToolError {
        ToolError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<&OpError> for ToolError {
    fn from(e: &OpError) -> ToolError {
        ToolError::new(
            u8::try_from(e.exit_code()).unwrap_or(exit::ERROR),
            e.reason(),
        )
    }
}

/// Where the CIB lives for this call.
#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    Daemon(Duration),
}

/// The CIB a tool works on: read once, changed through `cib_xml::ops`.
#[derive(Debug)]
pub struct CibSession {
    target: Target,
    /// Shared so the scheduler can unpack it without a deep copy (the
    /// copy of a large CIB cost more than parsing it).
    cib: std::rc::Rc<Element>,
}

const NOT_CONNECTED: &str = "Could not connect to the CIB: No such device or address";

fn read_file(path: &Path) -> Result<Element, ToolError> {
    let text =
        std::fs::read_to_string(path).map_err(|_| ToolError::new(exit::NOSUCH, NOT_CONNECTED))?;
    let cib = parse_cib(&text, &Limits::default()).map_err(|e| {
        ToolError::new(
            exit::CONFIG,
            format!(
                "{}: {e}\nCould not connect to the CIB: Update does not conform to the configured schema",
                path.display()
            ),
        )
    })?;
    if let Err(errors) = cib_xml::validate::validate(&cib) {
        let mut msg: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect();
        msg.push(
            "Could not connect to the CIB: Update does not conform to the configured schema".into(),
        );
        return Err(ToolError::new(exit::CONFIG, msg.join("\n")));
    }
    Ok(cib)
}

fn ipc_error(e: &IpcError) -> ToolError {
    match e {
        IpcError::Timeout => ToolError::new(exit::TIMEOUT, "Call failed: Timer expired"),
        IpcError::Refused { .. } => ToolError::new(
            exit::INSUFFICIENT_PRIV,
            "Could not connect to the CIB: Permission denied",
        ),
        _ => ToolError::new(
            exit::DISCONNECT,
            "Could not connect to the CIB: Transport endpoint is not connected",
        ),
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

fn failure(f: &cibapi::Failure) -> ToolError {
    ToolError::new(
        u8::try_from(f.code).unwrap_or(exit::ERROR),
        f.reason.clone(),
    )
}

impl CibSession {
    /// Opens the CIB of this call: the shadow CIB named by `CIB_shadow`,
    /// else `CIB_file` when set and not empty, else the local cib daemon
    /// (waiting at most `timeout` per call).
    pub fn open(timeout: Duration) -> Result<CibSession, ToolError> {
        match offline_cib_path() {
            Some(f) => CibSession::open_file(&f),
            None => CibSession::open_daemon(timeout),
        }
    }

    /// Opens the cluster's CIB, never a shadow one: `CIB_file` when set
    /// and not empty, else the local cib daemon (crm_shadow's "real" CIB).
    pub fn open_live(timeout: Duration) -> Result<CibSession, ToolError> {
        match std::env::var_os("CIB_file").filter(|f| !f.is_empty()) {
            Some(f) => CibSession::open_file(Path::new(&f)),
            None => CibSession::open_daemon(timeout),
        }
    }

    /// Opens a CIB file.
    pub fn open_file(path: &Path) -> Result<CibSession, ToolError> {
        Ok(CibSession {
            cib: std::rc::Rc::new(read_file(path)?),
            target: Target::File(path.to_path_buf()),
        })
    }

    fn client(timeout: Duration) -> Result<CibClient, ToolError> {
        let paths = plumbing::HaPaths::from_env();
        CibClient::local(&paths, Some(timeout)).map_err(|e| ipc_error(&e))
    }

    /// Reads the whole CIB from the local cib daemon.
    pub fn open_daemon(timeout: Duration) -> Result<CibSession, ToolError> {
        let mut client = CibSession::client(timeout)?;
        let text = match client.perform(OpRequest::new(OpKind::Query)) {
            Ok(Response::Xml(t)) => t,
            Ok(Response::Failed(f)) => return Err(failure(&f)),
            Ok(other) => {
                return Err(ToolError::new(
                    exit::ERROR,
                    format!("unexpected answer from the CIB: {other:?}"),
                ))
            }
            Err(e) => return Err(ipc_error(&e)),
        };
        let cib = parse_cib(&text, &Limits::default())
            .map_err(|e| ToolError::new(exit::CONFIG, format!("the CIB's answer: {e}")))?;
        Ok(CibSession {
            target: Target::Daemon(timeout),
            cib: std::rc::Rc::new(cib),
        })
    }

    /// The CIB as read (and as changed by [`CibSession::apply`]).
    pub fn cib(&self) -> &Element {
        &self.cib
    }

    /// The CIB, the session ending (no copy unless a handle from
    /// [`CibSession::cib_rc`] is still alive).
    pub fn into_cib(self) -> Element {
        std::rc::Rc::try_unwrap(self.cib).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The CIB as a shared handle, for `pengine::unpack_cib` and friends
    /// (no copy).
    pub fn cib_rc(&self) -> std::rc::Rc<Element> {
        std::rc::Rc::clone(&self.cib)
    }

    /// The CIB file, when working offline.
    pub fn file(&self) -> Option<&Path> {
        match &self.target {
            Target::File(p) => Some(p),
            Target::Daemon(_) => None,
        }
    }

    /// Applies `reqs` in order. Each is first performed on the copy in
    /// memory, so a refused one is reported before anything is stored; on
    /// a file the result is then written once, atomically (keeping the
    /// file's mode); through the daemon each request is sent in turn.
    /// Requests that change nothing write nothing.
    pub fn apply(&mut self, reqs: &[Request<'_>]) -> Result<(), ToolError> {
        let mut cib = std::rc::Rc::clone(&self.cib);
        let mut changed = false;
        for req in reqs {
            match ops::perform(&cib, req) {
                Ok(Outcome::Changed { cib: new, .. }) => {
                    cib = std::rc::Rc::new(new);
                    changed = true;
                }
                Ok(_) => {}
                Err(e) => return Err(ToolError::from(&e)),
            }
        }
        if !changed {
            return Ok(());
        }
        match &self.target {
            Target::File(path) => {
                let mode = std::fs::metadata(path)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
                    .unwrap_or(0o600);
                plumbing::fs::write_atomic(path, to_pcmk_pretty(&cib).as_bytes(), mode).map_err(
                    |e| {
                        ToolError::new(
                            exit::CANTCREAT,
                            format!("Could not write {}: {e}", path.display()),
                        )
                    },
                )?;
            }
            Target::Daemon(timeout) => {
                let mut client = CibSession::client(*timeout)?;
                for req in reqs {
                    let op = OpRequest {
                        op: api_op(req.op),
                        section: req.section.map(str::to_string),
                        xpath: req.xpath.map(str::to_string),
                        data: req.data.map(Element::to_compact),
                        allow_create: req.allow_create,
                        no_children: req.no_children,
                        multiple: req.multiple,
                        node_path: req.node_path,
                        local: false,
                    };
                    match client.perform(op) {
                        Ok(Response::Failed(f)) => return Err(failure(&f)),
                        Ok(_) => {}
                        Err(e) => return Err(ipc_error(&e)),
                    }
                }
            }
        }
        self.cib = cib;
        Ok(())
    }
}

/// The directory shadow CIBs live in: `CIB_shadow_dir` when set; for root
/// and hacluster the cluster's own state directory (`$HA_STATEDIR/crm`,
/// next to cib.xml, as Pacemaker keeps them next to its CIB); for anyone
/// else `$HOME/.cib`.
pub fn shadow_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CIB_shadow_dir").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let uid = nix::unistd::Uid::current();
    let daemon_user = nix::unistd::User::from_name("hacluster")
        .ok()
        .flatten()
        .is_some_and(|u| u.uid == uid);
    if uid.is_root() || daemon_user {
        return plumbing::HaPaths::from_env().statedir.join("crm");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cib"),
        None => PathBuf::from("/tmp"),
    }
}

/// The file of the shadow CIB `name`: `shadow.<name>` in [`shadow_dir`].
pub fn shadow_file(name: &str) -> PathBuf {
    shadow_dir().join(format!("shadow.{name}"))
}

/// The file this call works on instead of the cib daemon: the shadow CIB
/// when `CIB_shadow` is set (it wins, as in Pacemaker), else `CIB_file`.
/// Empty values count as unset.
pub fn offline_cib_path() -> Option<PathBuf> {
    if let Some(name) = std::env::var("CIB_shadow").ok().filter(|n| !n.is_empty()) {
        return Some(shadow_file(&name));
    }
    std::env::var_os("CIB_file")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

/// The whole CIB as text, unchecked (for tools that judge it themselves,
/// such as crm_verify): read from [`offline_cib_path`] or queried from the
/// local cib daemon.
pub fn query_cib_text(timeout: Duration) -> Result<String, ToolError> {
    if let Some(path) = offline_cib_path() {
        return std::fs::read_to_string(&path).map_err(|e| {
            ToolError::new(
                exit::NOSUCH,
                format!("Could not read {}: {e}", path.display()),
            )
        });
    }
    let mut client = CibSession::client(timeout)?;
    match client.perform(OpRequest::new(OpKind::Query)) {
        Ok(Response::Xml(t)) => Ok(t),
        Ok(Response::Failed(f)) => Err(failure(&f)),
        Ok(other) => Err(ToolError::new(
            exit::ERROR,
            format!("unexpected answer from the CIB: {other:?}"),
        )),
        Err(e) => Err(ipc_error(&e)),
    }
}

/// The audit line for this process's command line: `Invoked: ` and the
/// arguments, the program by its base name.
pub fn invoked_line(args: &[String]) -> String {
    let mut words: Vec<&str> = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        if i == 0 {
            words.push(
                Path::new(a)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(a),
            );
        } else {
            words.push(a);
        }
    }
    format!("Invoked: {}", words.join(" "))
}

/// Logs the `Invoked: ...` line of this process once, as the program
/// `tool`, with the logging ha.cf configures (syslog facility, the cluster
/// log file). Without a readable ha.cf nothing is logged; a logging
/// failure never stops the tool.
pub fn audit(tool: &str) {
    // Once per process: wrappers (crm_standby, hb_takeover) run several
    // changes for one command line.
    static AUDITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if AUDITED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    log_notice(tool, &invoked_line(&args));
}

/// Logs one notice as the program `tool` to the cluster's log (syslog
/// facility and log files from ha.cf), as Heartbeat's scripts did with
/// `ha_log`. Without a readable ha.cf nothing is logged; a logging failure
/// never stops the tool.
pub fn log_notice(tool: &str, line: &str) {
    let paths = plumbing::HaPaths::from_env();
    let Ok((cf, _)) = config::load_ha_cf(paths.ha_cf()) else {
        return;
    };
    let mut lc = logging::LogConfig::from_ha_cf(&cf, tool);
    lc.logfile = lc.logfile.map(|f| paths.log_path(&f));
    lc.debugfile = lc.debugfile.map(|f| paths.log_path(&f));
    lc.use_logd = false;
    let Ok(sinks) = logging::SinkSet::from_config(&lc) else {
        return;
    };
    let Ok((logger, handle)) = logging::Logger::new(&lc, sinks) else {
        return;
    };
    logger.log_at(logging::Priority::Notice, format_args!("{line}"));
    let _ = handle.shutdown(Duration::from_secs(2));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoked_line_uses_the_program_base_name() {
        let args: Vec<String> = [
            "/usr/sbin/crm_resource",
            "-M",
            "-r",
            "dummy",
            "--node=srv02",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            invoked_line(&args),
            "Invoked: crm_resource -M -r dummy --node=srv02"
        );
    }

    #[test]
    fn a_refused_request_leaves_the_file_alone() {
        let dir = std::env::temp_dir().join(format!("clitools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("cib.xml");
        let text = to_pcmk_pretty(&ops::empty_cib());
        std::fs::write(&path, &text).expect("write");
        let mut s = CibSession::open_file(&path).expect("open");
        let data =
            parse_cib("<nvpair id=\"none\" value=\"1\"/>", &Limits::default()).expect("parse");
        let ok = parse_cib(
            "<cluster_property_set id=\"x\"><nvpair id=\"x-a\" name=\"a\" value=\"1\"/></cluster_property_set>",
            &Limits::default(),
        )
        .expect("parse");
        let mut create = Request::new(Op::Create);
        create.section = Some("crm_config");
        create.data = Some(&ok);
        let mut modify = Request::new(Op::Modify);
        modify.data = Some(&data);
        let e = s.apply(&[create, modify]).expect_err("must fail");
        assert_eq!(e.code, exit::NOSUCH);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        let mut create = Request::new(Op::Create);
        create.section = Some("crm_config");
        create.data = Some(&ok);
        s.apply(&[create]).expect("create");
        assert!(std::fs::read_to_string(&path)
            .expect("read")
            .contains("x-a"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_is_no_such_object() {
        let e = CibSession::open_file(Path::new("/nonexistent/cib.xml")).expect_err("missing");
        assert_eq!(e.code, exit::NOSUCH);
    }
}

//! What ha_propagate does to each node, as data: which nodes, the ssh and
//! scp command lines, the remote shell commands, and the per-node report.
//! No process is run here; `main` runs these command lines in order and
//! feeds their results back to [`NodeReport`].

#![deny(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

/// How to reach the other nodes: everything is optional, and with nothing
/// set the command lines are the classic `scp FILES root@NODE:DIR` and
/// `ssh root@NODE ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    /// Remote user (default root, as Heartbeat's script).
    pub user: Option<String>,
    /// Remote port (`ssh -p`, `scp -P`).
    pub port: Option<u16>,
    /// Private key (`-i`).
    pub identity: Option<PathBuf>,
    /// ssh configuration file (`-F`).
    pub config: Option<PathBuf>,
    /// Extra `-o` options, in order.
    pub options: Vec<String>,
}

/// How long ssh waits for a connection unless the options say otherwise:
/// an unreachable node must not hold up the others for the kernel's TCP
/// timeout.
pub const DEFAULT_CONNECT_TIMEOUT: &str = "ConnectTimeout=10";

impl SshOptions {
    /// `user@node`.
    pub fn destination(&self, node: &str) -> String {
        format!("{}@{node}", self.user.as_deref().unwrap_or("root"))
    }

    /// Options common to ssh and scp except the port, whose flag differs.
    /// The caller's options come first: ssh keeps the first value it gets
    /// for each setting, so a `-o ConnectTimeout=...` given overrides ours.
    fn common(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(f) = &self.config {
            out.push("-F".into());
            out.push(f.display().to_string());
        }
        if let Some(i) = &self.identity {
            out.push("-i".into());
            out.push(i.display().to_string());
        }
        for o in &self.options {
            out.push("-o".into());
            out.push(o.clone());
        }
        out.push("-o".into());
        out.push(DEFAULT_CONNECT_TIMEOUT.into());
        out
    }

    /// `ssh [options] user@node command`.
    pub fn ssh_argv(&self, node: &str, command: &str) -> Vec<String> {
        let mut argv = vec!["ssh".to_string()];
        argv.extend(self.common());
        if let Some(p) = self.port {
            argv.push("-p".into());
            argv.push(p.to_string());
        }
        argv.push(self.destination(node));
        argv.push(command.into());
        argv
    }

    /// `scp -p -q [options] local user@node:remote` (`-p` keeps the mode,
    /// so a 0600 authkeys is created 0600).
    pub fn scp_argv(&self, local: &Path, node: &str, remote: &str) -> Vec<String> {
        let mut argv = vec!["scp".to_string(), "-p".into(), "-q".into()];
        argv.extend(self.common());
        if let Some(p) = self.port {
            argv.push("-P".into());
            argv.push(p.to_string());
        }
        argv.push(local.display().to_string());
        argv.push(format!("{}:{remote}", self.destination(node)));
        argv
    }
}

/// The nodes to push to: the `node` names of ha.cf in file order, without
/// this node and without repeats (names are compared as Heartbeat does,
/// case-insensitively).
pub fn targets(nodes: &[String], this_node: &str) -> Vec<String> {
    let me = this_node.to_ascii_lowercase();
    let mut out: Vec<String> = Vec::new();
    for n in nodes {
        let n = n.to_ascii_lowercase();
        if n != me && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The two files, and the temporary names they are copied to before they
/// replace the node's own (so a node never holds half a file).
pub const FILES: [&str; 2] = ["ha.cf", "authkeys"];

/// Suffix of the temporary copies.
pub const TMP_SUFFIX: &str = ".ha_propagate";

/// First remote command: makes the node's configuration directory (its
/// `$HA_CONFDIR`, /etc/ha.d by default, where its heartbeat reads), removes
/// stale temporary copies, and prints the directory.
pub fn prepare_command() -> String {
    format!(
        "d=\"${{HA_CONFDIR:-/etc/ha.d}}\" && mkdir -p \"$d\" && \
         rm -f \"$d/ha.cf{TMP_SUFFIX}\" \"$d/authkeys{TMP_SUFFIX}\" && echo \"$d\""
    )
}

/// The directory printed by [`prepare_command`] (its last line), if it is
/// one we can pass to scp unquoted: absolute, and only characters that no
/// shell or scp treats specially.
pub fn parse_remote_dir(stdout: &str) -> Result<String, String> {
    let dir = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or("the node did not print its configuration directory")?;
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+@%,=".contains(c);
    if !dir.starts_with('/') || !dir.chars().all(safe) {
        return Err(format!(
            "unusable configuration directory {dir:?} on the node (absolute path of letters, digits and /._-+@%,= only)"
        ));
    }
    Ok(dir.to_string())
}

/// Where file `name` is copied to first.
pub fn temporary_path(dir: &str, name: &str) -> String {
    format!("{dir}/{name}{TMP_SUFFIX}")
}

/// Second remote command: authkeys forced to 0600 whatever the local mode,
/// then both temporary copies renamed over the real files.
pub fn install_command(dir: &str) -> String {
    let cf = temporary_path(dir, "ha.cf");
    let keys = temporary_path(dir, "authkeys");
    format!("chmod 600 {keys} && mv -f {cf} {dir}/ha.cf && mv -f {keys} {dir}/authkeys")
}

/// Third remote command: enables the heartbeat service with the node's own
/// tool (systemctl when systemd runs, else update-rc.d, else chkconfig, else
/// systemctl), printing the commands it ran on stdout (their own output
/// goes to stderr).
pub const ENABLE_COMMAND: &str = "\
run() { echo \"$*\"; \"$@\" >&2; }; \
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then \
run systemctl enable heartbeat.service; \
elif command -v update-rc.d >/dev/null 2>&1; then \
run update-rc.d heartbeat defaults && run update-rc.d heartbeat enable; \
elif command -v chkconfig >/dev/null 2>&1; then \
run chkconfig heartbeat on; \
elif command -v systemctl >/dev/null 2>&1; then \
run systemctl enable heartbeat.service; \
else echo 'none of systemctl, update-rc.d or chkconfig found' >&2; exit 127; fi";

/// What happened with one step run on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// Exit status (`None`: killed by a signal or not run at all).
    pub status: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl StepOutcome {
    /// Whether the step succeeded.
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    /// A one-line reason for a failed step: the last line ssh or the remote
    /// command wrote on stderr, with the exit status.
    pub fn reason(&self) -> String {
        let last = self
            .stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no message");
        match self.status {
            // ssh's own failures (no route, refused, authentication).
            Some(255) => format!("ssh failed: {last}"),
            Some(s) => format!("{last} (exit status {s})"),
            None => format!("{last} (killed)"),
        }
    }
}

/// How far a node got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeResult {
    /// The node could not be reached or prepared.
    Unreachable(String),
    /// Reached, but copying the files failed.
    CopyFailed(String),
    /// Files in place in the directory; enabling the service failed.
    EnableFailed {
        /// The node's configuration directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// Everything done.
    Done {
        /// The node's configuration directory.
        dir: String,
        /// The enable commands that ran.
        enabled_with: Vec<String>,
    },
}

/// One node's line in the final report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    /// The node.
    pub node: String,
    /// What happened.
    pub result: NodeResult,
}

impl NodeReport {
    /// Whether the node is fully done.
    pub fn succeeded(&self) -> bool {
        matches!(self.result, NodeResult::Done { .. })
    }
}

impl fmt::Display for NodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.node;
        match &self.result {
            NodeResult::Unreachable(r) => write!(f, "{n}: FAILED: unreachable: {r}"),
            NodeResult::CopyFailed(r) => write!(f, "{n}: FAILED: copying ha.cf and authkeys: {r}"),
            NodeResult::EnableFailed { dir, reason } => write!(
                f,
                "{n}: FAILED: ha.cf and authkeys copied to {dir}, but enabling heartbeat failed: {reason}"
            ),
            NodeResult::Done { dir, enabled_with } => write!(
                f,
                "{n}: OK: ha.cf and authkeys copied to {dir}; heartbeat enabled ({})",
                enabled_with.join("; ")
            ),
        }
    }
}

/// The enable commands a successful [`ENABLE_COMMAND`] printed.
pub fn enabled_with(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The summary after every node: `None` when all succeeded.
pub fn summary(reports: &[NodeReport]) -> Option<String> {
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.succeeded())
        .map(|r| r.node.as_str())
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "ha_propagate: {} of {} nodes failed: {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn targets_skip_this_node_and_repeats_case_insensitively() {
        let table = [
            (vec!["a", "b", "c"], "a", vec!["b", "c"]),
            (vec!["a", "b", "c"], "B", vec!["a", "c"]),
            (vec!["a", "b", "a"], "z", vec!["a", "b"]),
            (vec!["Alpha", "beta"], "alpha", vec!["beta"]),
            (vec!["a"], "a", vec![]),
        ];
        for (nodes, me, want) in table {
            assert_eq!(targets(&s(&nodes), me), s(&want), "{nodes:?} from {me}");
        }
    }

    #[test]
    fn default_command_lines_are_the_classic_ones_plus_a_connect_timeout() {
        let o = SshOptions::default();
        assert_eq!(
            o.ssh_argv("node2", "true"),
            s(&["ssh", "-o", DEFAULT_CONNECT_TIMEOUT, "root@node2", "true"])
        );
        assert_eq!(
            o.scp_argv(Path::new("/etc/ha.d/ha.cf"), "node2", "/etc/ha.d/x"),
            s(&[
                "scp",
                "-p",
                "-q",
                "-o",
                DEFAULT_CONNECT_TIMEOUT,
                "/etc/ha.d/ha.cf",
                "root@node2:/etc/ha.d/x"
            ])
        );
    }

    #[test]
    fn options_reach_ssh_and_scp_with_their_own_port_flags_before_ours() {
        let o = SshOptions {
            user: Some("admin".into()),
            port: Some(2222),
            identity: Some("/k/id".into()),
            config: Some("/k/cfg".into()),
            options: s(&["ConnectTimeout=3", "BatchMode=yes"]),
        };
        assert_eq!(
            o.ssh_argv("n", "cmd"),
            s(&[
                "ssh",
                "-F",
                "/k/cfg",
                "-i",
                "/k/id",
                "-o",
                "ConnectTimeout=3",
                "-o",
                "BatchMode=yes",
                "-o",
                DEFAULT_CONNECT_TIMEOUT,
                "-p",
                "2222",
                "admin@n",
                "cmd"
            ])
        );
        let scp = o.scp_argv(Path::new("/a"), "n", "/b");
        assert_eq!(&scp[..3], &s(&["scp", "-p", "-q"])[..]);
        assert!(scp.windows(2).any(|w| w == ["-P", "2222"]));
        assert!(
            !scp.windows(2).any(|w| w == ["-p", "2222"]),
            "scp's -p is not a port"
        );
        assert_eq!(scp.last().map(String::as_str), Some("admin@n:/b"));
    }

    #[test]
    fn remote_dir_is_the_last_line_and_must_be_plain() {
        assert_eq!(parse_remote_dir("/etc/ha.d\n").as_deref(), Ok("/etc/ha.d"));
        assert_eq!(
            parse_remote_dir("motd noise\n/tmp/n2/etc\n\n").as_deref(),
            Ok("/tmp/n2/etc")
        );
        for bad in ["", "\n", "etc/ha.d", "/a b", "/a;rm", "/a$(x)", "/a'b"] {
            assert!(parse_remote_dir(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn install_forces_authkeys_0600_then_renames_both() {
        assert_eq!(
            install_command("/etc/ha.d"),
            "chmod 600 /etc/ha.d/authkeys.ha_propagate && \
             mv -f /etc/ha.d/ha.cf.ha_propagate /etc/ha.d/ha.cf && \
             mv -f /etc/ha.d/authkeys.ha_propagate /etc/ha.d/authkeys"
        );
    }

    #[test]
    fn failure_reasons_name_ssh_or_the_remote_status() {
        let o = |status, stderr: &str| StepOutcome {
            status,
            stdout: String::new(),
            stderr: stderr.into(),
        };
        assert_eq!(
            o(
                Some(255),
                "ssh: connect to host n port 22: Connection refused\n"
            )
            .reason(),
            "ssh failed: ssh: connect to host n port 22: Connection refused"
        );
        assert_eq!(
            o(Some(1), "x\nmkdir: denied\n").reason(),
            "mkdir: denied (exit status 1)"
        );
        assert_eq!(o(None, "").reason(), "no message (killed)");
        assert!(o(Some(0), "").ok());
    }

    #[test]
    fn report_lines_and_summary() {
        let reports = vec![
            NodeReport {
                node: "n2".into(),
                result: NodeResult::Done {
                    dir: "/etc/ha.d".into(),
                    enabled_with: enabled_with(
                        "update-rc.d heartbeat defaults\nupdate-rc.d heartbeat enable\n",
                    ),
                },
            },
            NodeReport {
                node: "n3".into(),
                result: NodeResult::Unreachable("ssh failed: refused".into()),
            },
        ];
        assert_eq!(
            reports[0].to_string(),
            "n2: OK: ha.cf and authkeys copied to /etc/ha.d; heartbeat enabled \
             (update-rc.d heartbeat defaults; update-rc.d heartbeat enable)"
        );
        assert_eq!(
            reports[1].to_string(),
            "n3: FAILED: unreachable: ssh failed: refused"
        );
        assert_eq!(summary(&reports[..1]), None);
        assert_eq!(
            summary(&reports).as_deref(),
            Some("ha_propagate: 1 of 2 nodes failed: n3")
        );
    }
}

//! The one convention every binary uses for where things live and who this
//! node is, so several nodes can run on one machine: each node is a set of
//! environment variables that children and command-line tools inherit.

use std::path::{Path, PathBuf};

/// Environment variable naming the configuration directory (ha.cf, authkeys).
pub const ENV_CONFDIR: &str = "HA_CONFDIR";
/// Environment variable naming the state directory (CIB, uuid, generation).
pub const ENV_STATEDIR: &str = "HA_STATEDIR";
/// Environment variable naming the run directory (sockets, pid files).
pub const ENV_RUNDIR: &str = "HA_RUNDIR";
/// Environment variable naming the default log directory.
pub const ENV_LOGDIR: &str = "HA_LOGDIR";
/// Environment variable overriding the node name (default: `uname -n`).
pub const ENV_NODENAME: &str = "HA_NODENAME";

/// Where this node's files are, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaPaths {
    /// ha.cf, authkeys, resource.d (default /etc/ha.d).
    pub confdir: PathBuf,
    /// Persistent state (default /var/lib/heartbeat).
    pub statedir: PathBuf,
    /// Sockets and pid files (default /var/run/heartbeat).
    pub rundir: PathBuf,
    /// Default place for log files (default /var/log).
    pub logdir: PathBuf,
    /// This node's name (default: the kernel's node name, as `uname -n`).
    pub nodename: String,
}

impl HaPaths {
    /// Reads the `HA_*` variables of this process, with the classic defaults.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Same as [`HaPaths::from_env`] with an explicit variable lookup (tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let dir = |k: &str, default: &str| PathBuf::from(get(k).unwrap_or_else(|| default.into()));
        HaPaths {
            confdir: dir(ENV_CONFDIR, "/etc/ha.d"),
            statedir: dir(ENV_STATEDIR, "/var/lib/heartbeat"),
            rundir: dir(ENV_RUNDIR, "/var/run/heartbeat"),
            logdir: dir(ENV_LOGDIR, "/var/log"),
            nodename: get(ENV_NODENAME).unwrap_or_else(kernel_nodename),
        }
    }

    /// The variables that reproduce these paths in a child process.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            (ENV_CONFDIR, s(&self.confdir)),
            (ENV_STATEDIR, s(&self.statedir)),
            (ENV_RUNDIR, s(&self.rundir)),
            (ENV_LOGDIR, s(&self.logdir)),
            (ENV_NODENAME, self.nodename.clone()),
        ]
    }

    /// `$HA_CONFDIR/ha.cf`.
    pub fn ha_cf(&self) -> PathBuf {
        self.confdir.join("ha.cf")
    }

    /// `$HA_CONFDIR/authkeys`.
    pub fn authkeys(&self) -> PathBuf {
        self.confdir.join("authkeys")
    }

    /// The listening socket of a service: `$HA_RUNDIR/NAME.sock`.
    pub fn socket(&self, service: &str) -> PathBuf {
        self.rundir.join(format!("{service}.sock"))
    }

    /// The pid file of a daemon: `$HA_RUNDIR/NAME.pid`.
    pub fn pidfile(&self, daemon: &str) -> PathBuf {
        self.rundir.join(format!("{daemon}.pid"))
    }

    /// A log file name from a configuration file: relative names are taken
    /// in `$HA_LOGDIR`, so one ha.cf or logd.cf serves several test nodes.
    pub fn log_path(&self, name: &Path) -> PathBuf {
        if name.is_absolute() {
            name.to_owned()
        } else {
            self.logdir.join(name)
        }
    }

    /// Where daemons leave core dumps: `$HA_STATEDIR/cores/USER`, as Heartbeat.
    pub fn core_dir(&self, user: &str) -> PathBuf {
        self.statedir.join("cores").join(user)
    }
}

fn kernel_nodename() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_are_the_classic_paths() {
        let p = HaPaths::from_lookup(|_| None);
        assert_eq!(p.ha_cf(), PathBuf::from("/etc/ha.d/ha.cf"));
        assert_eq!(p.authkeys(), PathBuf::from("/etc/ha.d/authkeys"));
        assert_eq!(p.statedir, PathBuf::from("/var/lib/heartbeat"));
        assert_eq!(
            p.socket("logd"),
            PathBuf::from("/var/run/heartbeat/logd.sock")
        );
        assert_eq!(p.logdir, PathBuf::from("/var/log"));
        assert_eq!(p.nodename, kernel_nodename());
        assert!(!p.nodename.is_empty());
    }

    #[test]
    fn variables_override_and_round_trip_through_env_vars() {
        let vars: HashMap<&str, &str> = [
            ("HA_CONFDIR", "/n1/etc"),
            ("HA_STATEDIR", "/n1/lib"),
            ("HA_RUNDIR", "/n1/run"),
            ("HA_LOGDIR", "/n1/log"),
            ("HA_NODENAME", "node1"),
        ]
        .into();
        let p = HaPaths::from_lookup(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(
            p.pidfile("heartbeat"),
            PathBuf::from("/n1/run/heartbeat.pid")
        );
        assert_eq!(
            p.core_dir("hacluster"),
            PathBuf::from("/n1/lib/cores/hacluster")
        );
        assert_eq!(p.nodename, "node1");
        assert_eq!(
            p.log_path(Path::new("ha-log")),
            PathBuf::from("/n1/log/ha-log")
        );
        assert_eq!(
            p.log_path(Path::new("/var/log/x")),
            PathBuf::from("/var/log/x")
        );
        let again: HashMap<&str, String> = p.env_vars().into_iter().collect();
        assert_eq!(HaPaths::from_lookup(|k| again.get(k).cloned()), p);
    }

    #[test]
    fn empty_variable_means_default() {
        let p = HaPaths::from_lookup(|k| (k == "HA_CONFDIR").then(String::new));
        assert_eq!(p.confdir, PathBuf::from("/etc/ha.d"));
    }
}

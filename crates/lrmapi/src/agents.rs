//! Where resource agents live and which are installed: shared by lrmd
//! (which runs them) and crm_resource (which lists them and asks for their
//! metadata without any daemon, as Pacemaker's does).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where agents live.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `OCF_ROOT` (/usr/lib/ocf).
    pub ocf: PathBuf,
    /// LSB init scripts (/etc/init.d).
    pub lsb: PathBuf,
    /// Heartbeat v1 resource scripts (/etc/ha.d/resource.d).
    pub heartbeat: PathBuf,
}

impl Roots {
    /// The standard places: `OCF_ROOT` and `LRM_LSB_DIR` from the
    /// environment (the tests use these), heartbeat scripts in
    /// `$HA_CONFDIR/resource.d`.
    pub fn from_env(paths: &plumbing::HaPaths) -> Roots {
        let get = |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
        Roots {
            ocf: get("OCF_ROOT", "/usr/lib/ocf"),
            lsb: get("LRM_LSB_DIR", "/etc/init.d"),
            heartbeat: paths.confdir.join("resource.d"),
        }
    }

    /// The classes lrmd serves.
    pub fn classes() -> &'static [&'static str] {
        &["heartbeat", "ocf", "lsb"]
    }

    /// The agents of a class, sorted (lrmd's `types` answer).
    pub fn types(&self, class: &str) -> Option<Vec<String>> {
        let mut v = Vec::new();
        match class {
            "ocf" => {
                for p in list_dir(&self.ocf.join("resource.d")) {
                    v.extend(list_dir(&self.ocf.join("resource.d").join(&p)));
                }
            }
            "lsb" => v = list_dir(&self.lsb),
            "heartbeat" => v = list_dir(&self.heartbeat),
            _ => return None,
        }
        v.sort();
        v.dedup();
        Some(v)
    }

    /// The providers of an ocf agent, sorted.
    pub fn providers(&self, class: &str, rtype: &str) -> Vec<String> {
        if class != "ocf" {
            return Vec::new();
        }
        let d = self.ocf.join("resource.d");
        let mut v: Vec<String> = list_dir(&d)
            .into_iter()
            .filter(|p| d.join(p).join(rtype).is_file())
            .collect();
        v.sort();
        v
    }

    /// Every OCF provider (the directories under `resource.d`), sorted.
    pub fn ocf_providers(&self) -> Vec<String> {
        let d = self.ocf.join("resource.d");
        let mut v: Vec<String> = list_dir(&d)
            .into_iter()
            .filter(|p| d.join(p).is_dir())
            .collect();
        v.sort();
        v
    }

    /// The executable agents of an ocf provider, sorted.
    pub fn ocf_agents(&self, provider: &str) -> Vec<String> {
        if provider.is_empty() || provider.contains('/') || provider.starts_with('.') {
            return Vec::new();
        }
        executables(&self.ocf.join("resource.d").join(provider))
    }

    /// The executable scripts of the lsb or heartbeat class, sorted;
    /// `None` for another class.
    pub fn scripts(&self, class: &str) -> Option<Vec<String>> {
        match class {
            "lsb" => Some(executables(&self.lsb)),
            "heartbeat" => Some(executables(&self.heartbeat)),
            _ => None,
        }
    }
}

/// The names in `dir` not starting with a dot (none if it is unreadable).
pub fn list_dir(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The executable regular files in `dir` (following symlinks), sorted
/// bytewise as Pacemaker's directory scan in the C locale.
fn executables(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = list_dir(dir)
        .into_iter()
        .filter(|n| {
            std::fs::metadata(dir.join(n))
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn lists_providers_and_executable_agents_sorted() {
        let dir = std::env::temp_dir().join(format!("lrmapi-agents-{}", std::process::id()));
        let rd = dir.join("resource.d");
        for (p, a, mode) in [
            ("pacemaker", "Stateful", 0o755),
            ("heartbeat", "Dummy", 0o755),
            ("heartbeat", "IPaddr", 0o755),
            ("heartbeat", "notes", 0o644),
        ] {
            std::fs::create_dir_all(rd.join(p)).unwrap();
            let f = rd.join(p).join(a);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::write(rd.join(".hidden"), "").unwrap();
        let roots = Roots {
            ocf: dir.clone(),
            lsb: dir.join("none"),
            heartbeat: dir.join("none"),
        };
        assert_eq!(roots.ocf_providers(), ["heartbeat", "pacemaker"]);
        assert_eq!(roots.ocf_agents("heartbeat"), ["Dummy", "IPaddr"]);
        assert_eq!(roots.ocf_agents("nope"), Vec::<String>::new());
        assert_eq!(roots.ocf_agents("../x"), Vec::<String>::new());
        assert_eq!(roots.providers("ocf", "Dummy"), ["heartbeat"]);
        assert_eq!(roots.scripts("lsb"), Some(vec![]));
        assert_eq!(roots.scripts("ocf"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

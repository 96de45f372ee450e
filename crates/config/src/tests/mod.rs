//! Unit tests that cross module boundaries (parse + render, files on disk),
//! and the small temp-directory helper they share.

mod authkeys;
mod hacf;
mod render;

use std::path::{Path, PathBuf};

/// Expected diagnostics: (line, text the message must contain).
pub(crate) type Expect<'a> = &'a [(Option<u32>, &'a str)];
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the system temp dir, unique to this process and call,
/// removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("config-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A minimal valid configuration.
pub(crate) fn hacf_min() -> crate::HaCf {
    crate::parse_ha_cf("bcast eth0\nnode a\nauto_failback on\n", "/etc/ha.d/ha.cf")
        .expect("minimal ha.cf parses")
        .0
}

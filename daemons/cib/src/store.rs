//! The CIB on disk under `$HA_STATEDIR/crm`, as Pacemaker lays it out
//! (CIB-LRM-FENCING.md 1.2): `cib.xml` (the CIB without its status
//! section, num_updates 0, a fresh `cib-last-written`), `cib.xml.sig` (its
//! on-disk digest), backups `cib-N.raw` + `.sig` (hard links to the
//! previous pair, N from `cib.last`, rotating over `max_backups` slots),
//! and `cib.auto.*` for a primary that failed its check, moved aside.
//!
//! Every file is replaced with `plumbing::fs::write_atomic` (temporary
//! file, fsync, rename, fsync of the directory), mode 0600; the daemon runs
//! as hacluster, so they belong to hacluster:haclient. The write returns
//! only when the pair is durable: an acknowledged update survives a crash.
//!
//! Loading never invents an empty CIB over a damaged one: a corrupt or
//! digest-mismatched `cib.xml` is reported and the newest (highest version)
//! backup whose digest checks is used (the damaged file then moved aside);
//! with no good backup it stays in place and loading fails every time;
//! only when there is no `cib.xml` and no backup at all does the caller
//! start empty.

use std::path::{Path, PathBuf};

use cib_xml::doc::{parse_cib, to_pcmk_pretty};
use cib_xml::version::Version;
use cib_xml::{digest, validate, Element, Limits};

/// Pacemaker's number of backup slots.
pub const DEFAULT_BACKUPS: u32 = 100;

/// The directory and its policy.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    max_backups: u32,
}

/// What [`Store::load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The CIB to run with (status section emptied), or `None` when there
    /// is nothing on disk at all.
    pub cib: Option<Element>,
    /// Which file it came from.
    pub source: Option<PathBuf>,
    /// Problems found on the way, for the log (each names its file).
    pub problems: Vec<String>,
    /// Whether `cib.xml` itself was unusable (the caller rewrites it from
    /// what was loaded, so the disk is consistent again).
    pub primary_bad: bool,
}

/// Reads and checks one CIB file against its `.sig` (a missing `.sig` is
/// accepted, as Pacemaker does, with a note).
fn read_checked(xml: &Path, notes: &mut Vec<String>) -> Result<Element, String> {
    let text = std::fs::read_to_string(xml).map_err(|e| format!("{}: {e}", xml.display()))?;
    if text.trim().is_empty() {
        return Err(format!("{}: empty file", xml.display()));
    }
    let cib =
        parse_cib(&text, &Limits::default()).map_err(|e| format!("{}: {e}", xml.display()))?;
    if cib.name != "cib" {
        return Err(format!(
            "{}: the root element is <{}>, not <cib>",
            xml.display(),
            cib.name
        ));
    }
    let sig = sig_path(xml);
    match std::fs::read_to_string(&sig) {
        Ok(expected) => {
            let actual = digest::on_disk(&cib);
            if expected.trim() != actual {
                return Err(format!(
                    "{}: digest mismatch (the .sig says {}, the content has {actual})",
                    xml.display(),
                    expected.trim()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notes.push(format!("{}: no on-disk digest present", xml.display()));
        }
        Err(e) => return Err(format!("{}: {e}", sig.display())),
    }
    if let Err(errs) = validate::validate(&cib) {
        let first = errs.first().map(ToString::to_string).unwrap_or_default();
        return Err(format!("{}: does not validate: {first}", xml.display()));
    }
    Ok(cib)
}

fn sig_path(xml: &Path) -> PathBuf {
    let mut s = xml.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Pacemaker's ctime-style stamp ("Fri Jul 13 13:50:59 2012"), local time.
fn ctime_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let t = libc::time_t::try_from(now).unwrap_or(0);
    // SAFETY: localtime_r writes only into `tm`, which we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS
        .get(usize::try_from(tm.tm_wday).unwrap_or(0))
        .unwrap_or(&"Sun");
    let mon = MONTHS
        .get(usize::try_from(tm.tm_mon).unwrap_or(0))
        .unwrap_or(&"Jan");
    format!(
        "{day} {mon} {:2} {:02}:{:02}:{:02} {}",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// The CIB as it goes to disk: no status, num_updates 0, stamped.
pub fn on_disk_form(cib: &Element, stamp: &str) -> Element {
    let mut d = Element::new(&cib.name);
    d.attrs = cib.attrs.clone();
    d.line = cib.line;
    d.children = cib
        .children
        .iter()
        .filter(|c| c.name != "status")
        .cloned()
        .collect();
    d.set_attr("num_updates", "0");
    if !stamp.is_empty() {
        d.set_attr("cib-last-written", stamp);
    }
    d
}

/// The CIB as the daemon runs with it after loading: an empty status
/// section, missing counters set to 0, no `dc-uuid`.
pub fn running_form(mut cib: Element) -> Element {
    cib.children.retain(|c| c.name != "status");
    cib.children.push(Element::new("status"));
    for k in ["admin_epoch", "epoch", "num_updates"] {
        if cib.attr(k).is_none() {
            cib.set_attr(k, "0");
        }
    }
    cib.remove_attr("dc-uuid");
    cib
}

impl Store {
    /// The store in `dir` (created by the caller) with `max_backups` slots.
    pub fn new(dir: PathBuf, max_backups: u32) -> Store {
        Store {
            dir,
            max_backups: max_backups.max(1),
        }
    }

    /// `cib.xml`.
    pub fn primary(&self) -> PathBuf {
        self.dir.join("cib.xml")
    }

    /// Loads the CIB (see the module documentation).
    pub fn load(&self) -> Result<Loaded, String> {
        let mut problems = Vec::new();
        let primary = self.primary();
        let mut primary_bad = false;
        if primary.exists() {
            match read_checked(&primary, &mut problems) {
                Ok(cib) => {
                    return Ok(Loaded {
                        cib: Some(running_form(cib)),
                        source: Some(primary),
                        problems,
                        primary_bad,
                    })
                }
                Err(e) => {
                    problems.push(e);
                    primary_bad = true;
                }
            }
        }
        // The newest good backup: the highest version whose digest checks.
        let mut best: Option<(Version, PathBuf, Element)> = None;
        for (_, path) in self.backups() {
            match read_checked(&path, &mut problems) {
                Ok(cib) => {
                    let v = Version::of(&cib);
                    if best.as_ref().is_none_or(|(bv, _, _)| v > *bv) {
                        best = Some((v, path, cib));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        match best {
            Some((v, path, cib)) => {
                // Only now, with a good copy to take its place, does the
                // damaged primary go aside; with none it stays where it is
                // so every start (heartbeat respawns the cib) refuses again
                // instead of finding no file and starting empty.
                if primary_bad {
                    self.move_aside(&primary, &mut problems);
                }
                problems.push(format!("using the backup {} (version {v})", path.display()));
                Ok(Loaded {
                    cib: Some(running_form(cib)),
                    source: Some(path),
                    problems,
                    primary_bad: true,
                })
            }
            None if primary_bad => Err(format!(
                "{} is unusable and no backup in {} checks: refusing to start with an empty CIB ({})",
                primary.display(),
                self.dir.display(),
                problems.join("; ")
            )),
            None => Ok(Loaded {
                cib: None,
                source: None,
                problems,
                primary_bad,
            }),
        }
    }

    /// Backup files `cib-N.raw`, by slot number.
    fn backups(&self) -> Vec<(u32, PathBuf)> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                let Some(n) = name
                    .strip_prefix("cib-")
                    .and_then(|r| r.strip_suffix(".raw"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                out.push((n, e.path()));
            }
        }
        out.sort();
        out
    }

    fn move_aside(&self, primary: &Path, problems: &mut Vec<String>) {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let to = self.dir.join(format!("cib.auto.{stamp}"));
        match std::fs::rename(primary, &to) {
            Ok(()) => problems.push(format!(
                "moved {} aside to {}",
                primary.display(),
                to.display()
            )),
            Err(e) => problems.push(format!("cannot move {} aside: {e}", primary.display())),
        }
        let sig = sig_path(primary);
        if sig.exists() {
            let _ = std::fs::rename(&sig, sig_path(&to));
        }
    }

    fn next_slot(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("cib.last"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|n| *n < self.max_backups)
            .unwrap_or(0)
    }

    /// Writes `cib` durably: backup of the current pair, then the new
    /// `.sig` and `cib.xml`, each atomically. Returns when it is on disk.
    pub fn write(&self, cib: &Element) -> std::io::Result<()> {
        let primary = self.primary();
        let sig = sig_path(&primary);
        if primary.exists() {
            let n = self.next_slot();
            let raw = self.dir.join(format!("cib-{n}.raw"));
            let raw_sig = sig_path(&raw);
            for p in [&raw, &raw_sig] {
                match std::fs::remove_file(p) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::hard_link(&primary, &raw)?;
            match std::fs::hard_link(&sig, &raw_sig) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let next = (n + 1) % self.max_backups;
            plumbing::fs::write_atomic(
                &self.dir.join("cib.last"),
                next.to_string().as_bytes(),
                0o600,
            )?;
        }
        let disk = on_disk_form(cib, &ctime_now());
        let text = to_pcmk_pretty(&disk);
        let digest = digest::on_disk(&disk);
        // The .sig first: a crash between the two renames leaves a pair
        // that does not check, and loading falls back to the backup just
        // made (the previous, acknowledged version).
        plumbing::fs::write_atomic(&sig, digest.as_bytes(), 0o600)?;
        plumbing::fs::write_atomic(&primary, text.as_bytes(), 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::ops::empty_cib;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cib-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn with_epoch(e: u64) -> Element {
        let mut c = empty_cib();
        c.set_attr("epoch", &e.to_string());
        c
    }

    #[test]
    fn nothing_on_disk_loads_as_none() {
        let d = tmp("none");
        let l = Store::new(d.clone(), 5).load().unwrap();
        assert!(l.cib.is_none() && !l.primary_bad);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_write_round_trips_without_status_and_with_a_matching_sig() {
        let d = tmp("rt");
        let s = Store::new(d.clone(), 5);
        let mut c = with_epoch(3);
        c.set_attr("num_updates", "7");
        s.write(&c).unwrap();
        let text = std::fs::read_to_string(d.join("cib.xml")).unwrap();
        assert!(!text.contains("<status"));
        assert!(text.contains("num_updates=\"0\""));
        let sig = std::fs::read_to_string(d.join("cib.xml.sig")).unwrap();
        assert_eq!(sig.len(), 32);
        let l = s.load().unwrap();
        let got = l.cib.unwrap();
        assert_eq!(Version::of(&got).epoch, 3);
        assert!(got.child("status").is_some());
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("cib.xml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn backups_rotate_over_a_bounded_number_of_slots() {
        let d = tmp("rot");
        let s = Store::new(d.clone(), 3);
        for e in 1..=7 {
            s.write(&with_epoch(e)).unwrap();
        }
        let n = s.backups().len();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read_to_string(d.join("cib.last")).unwrap(), "0");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_corrupt_primary_is_moved_aside_and_the_newest_good_backup_used() {
        let d = tmp("corrupt");
        let s = Store::new(d.clone(), 10);
        for e in 1..=4 {
            s.write(&with_epoch(e)).unwrap();
        }
        std::fs::write(d.join("cib.xml"), "<cib epoch=\"99\"><configuration>").unwrap();
        let l = s.load().unwrap();
        assert!(l.primary_bad);
        assert_eq!(Version::of(l.cib.as_ref().unwrap()).epoch, 3);
        assert!(std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("cib.auto.")));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_digest_mismatch_is_detected_even_when_the_xml_parses() {
        let d = tmp("sig");
        let s = Store::new(d.clone(), 10);
        s.write(&with_epoch(1)).unwrap();
        s.write(&with_epoch(2)).unwrap();
        let text = std::fs::read_to_string(d.join("cib.xml")).unwrap();
        std::fs::write(
            d.join("cib.xml"),
            text.replace("epoch=\"2\"", "epoch=\"5\""),
        )
        .unwrap();
        let l = s.load().unwrap();
        assert!(
            l.problems.iter().any(|p| p.contains("digest mismatch")),
            "{:?}",
            l.problems
        );
        assert_eq!(Version::of(l.cib.as_ref().unwrap()).epoch, 1);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_bad_primary_without_any_good_backup_refuses_to_start() {
        let d = tmp("nobackup");
        std::fs::write(d.join("cib.xml"), "garbage").unwrap();
        let e = Store::new(d.clone(), 10).load().unwrap_err();
        assert!(e.contains("refusing to start"), "{e}");
        // The file stays: a respawned cib refuses again rather than find
        // nothing and start empty.
        assert_eq!(
            std::fs::read_to_string(d.join("cib.xml")).unwrap(),
            "garbage"
        );
        let e = Store::new(d.clone(), 10).load().unwrap_err();
        assert!(e.contains("refusing to start"), "{e}");
        let _ = std::fs::remove_dir_all(d);
    }
}

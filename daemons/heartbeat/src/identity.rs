//! The node's identity on the wire, kept in the state directory as
//! Heartbeat keeps it: `hb_uuid` (16 raw bytes, made once) and
//! `hb_generation` (a counter raised at every start, so peers can tell a
//! restarted node from replayed packets of its previous life).

use std::io;
use std::path::Path;

use config::{GenerationMethod, UuidFrom};

/// The file holding the node's uuid.
pub const UUID_FILE: &str = "hb_uuid";
/// The file holding the last generation.
pub const GENERATION_FILE: &str = "hb_generation";

/// This node's uuid: from `hb_uuid`, created from random bytes if missing
/// (`uuidfrom file`), or derived from the node name (`uuidfrom nodename`,
/// stable across reinstalls; our derivation, not Heartbeat's, which peers
/// never recompute: they learn uuids from packets).
pub fn node_uuid(statedir: &Path, from: UuidFrom, nodename: &str) -> io::Result<[u8; 16]> {
    if from == UuidFrom::Nodename {
        return Ok(uuid_from_name(nodename));
    }
    let path = statedir.join(UUID_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 16 => {
            let mut u = [0u8; 16];
            u.copy_from_slice(&bytes);
            return Ok(u);
        }
        Ok(bytes) => log::warn!(
            "{} holds {} bytes, not 16: generating a new uuid",
            path.display(),
            bytes.len()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            log::info!("No uuid found for current node - generating a new uuid.")
        }
        Err(e) => return Err(e),
    }
    let mut u = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut u))?;
    // RFC 4122 version 4, variant 1, as uuid_generate makes.
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    std::fs::create_dir_all(statedir)?;
    plumbing::fs::write_atomic(&path, &u, 0o644)?;
    Ok(u)
}

/// A version-4-shaped uuid from the name's FNV-1a hashes.
fn uuid_from_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (half, seed) in [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4]
        .iter()
        .enumerate()
    {
        let mut h = *seed;
        for b in name.to_ascii_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out[half * 8..half * 8 + 8].copy_from_slice(&h.to_be_bytes());
    }
    out[6] = (out[6] & 0x0f) | 0x40;
    out[8] = (out[8] & 0x3f) | 0x80;
    out
}

/// The generation for this start: one more than the stored one, or the
/// current time in seconds for a fresh node (`hbgenmethod file`, so it never
/// goes backwards even if the file is lost); `hbgenmethod time` always uses
/// the time, but never less than stored + 1. Stored before it is used.
pub fn next_generation(
    statedir: &Path,
    method: GenerationMethod,
    now_secs: u64,
) -> io::Result<u64> {
    let path = statedir.join(GENERATION_FILE);
    let stored = match std::fs::read_to_string(&path) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(g) => Some(g),
            Err(_) => {
                log::warn!(
                    "{} is not a number: starting a new generation from the clock",
                    path.display()
                );
                None
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let next = match (method, stored) {
        (GenerationMethod::File, Some(g)) => g.saturating_add(1),
        (GenerationMethod::File, None) => now_secs,
        (_, stored) => now_secs.max(stored.map_or(0, |g| g.saturating_add(1))),
    };
    std::fs::create_dir_all(statedir)?;
    plumbing::fs::write_atomic(&path, format!("{next}\n").as_bytes(), 0o644)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hb-identity-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn uuid_is_made_once_and_kept() {
        let d = dir("uuid");
        let a = node_uuid(&d, UuidFrom::File, "n1").unwrap();
        let b = node_uuid(&d, UuidFrom::File, "n1").unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::read(d.join(UUID_FILE)).unwrap(), a.to_vec());
        assert_eq!(a[6] >> 4, 4);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn uuid_from_nodename_is_stable_and_distinct() {
        let d = dir("uuidname");
        let a = node_uuid(&d, UuidFrom::Nodename, "Node1").unwrap();
        assert_eq!(a, node_uuid(&d, UuidFrom::Nodename, "node1").unwrap());
        assert_ne!(a, node_uuid(&d, UuidFrom::Nodename, "node2").unwrap());
        assert!(!d.join(UUID_FILE).exists());
    }

    #[test]
    fn generation_grows_at_every_start_and_never_goes_back() {
        let d = dir("gen");
        assert_eq!(
            next_generation(&d, GenerationMethod::File, 1_700_000_000).unwrap(),
            1_700_000_000
        );
        assert_eq!(
            next_generation(&d, GenerationMethod::File, 5).unwrap(),
            1_700_000_001
        );
        // The clock went backwards: time-based generation still grows.
        assert_eq!(
            next_generation(&d, GenerationMethod::Time, 7).unwrap(),
            1_700_000_002
        );
        assert_eq!(
            next_generation(&d, GenerationMethod::Time, 1_800_000_000).unwrap(),
            1_800_000_000
        );
        assert_eq!(
            std::fs::read_to_string(d.join(GENERATION_FILE)).unwrap(),
            "1800000000\n"
        );
        let _ = std::fs::remove_dir_all(d);
    }
}

//! Who is on the other end of a socket (SO_PEERCRED at accept, plus the
//! supplementary groups from /proc) and whether a service lets them read or
//! write.

use std::os::fd::AsFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// The credentials of a connected peer process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id at connect time.
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary groups (empty if they could not be read).
    pub groups: Vec<u32>,
}

impl PeerCred {
    /// Reads the credentials of the peer of a connected Unix socket.
    pub fn of(sock: &impl AsFd) -> std::io::Result<PeerCred> {
        let c = getsockopt(sock, PeerCredentials).map_err(std::io::Error::from)?;
        Ok(PeerCred {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
            groups: supplementary_groups(c.pid()),
        })
    }
}

fn supplementary_groups(pid: i32) -> Vec<u32> {
    // The kernel gives no socket option for these; /proc is the source.
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A list of users and groups; a peer matches if its uid is listed or its
/// primary or any supplementary group is, or if `any` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    /// Every local peer matches, whatever its ids (services any process on
    /// the node may use, like logd).
    pub any: bool,
    /// Allowed user ids.
    pub uids: Vec<u32>,
    /// Allowed group ids.
    pub gids: Vec<u32>,
}

impl Allow {
    /// Root, the cluster user and members of the cluster group (each when
    /// it exists): who may use a CRM daemon's socket.
    pub fn root_and(uid: Option<u32>, gid: Option<u32>) -> Self {
        Allow {
            any: false,
            uids: [0].into_iter().chain(uid).collect(),
            gids: gid.into_iter().collect(),
        }
    }

    /// Admits every peer.
    pub fn everyone() -> Self {
        Allow {
            any: true,
            ..Allow::default()
        }
    }

    /// Whether the peer matches.
    pub fn admits(&self, p: &PeerCred) -> bool {
        self.any
            || self.uids.contains(&p.uid)
            || self.gids.contains(&p.gid)
            || p.groups.iter().any(|g| self.gids.contains(g))
    }
}

/// Who may connect (read) and who may send writing requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// May connect and send non-writing requests.
    pub read: Allow,
    /// May also send writing requests (implies read).
    pub write: Allow,
}

impl AccessPolicy {
    /// The same peers may read and write.
    pub fn read_write(allow: Allow) -> Self {
        AccessPolicy {
            read: allow.clone(),
            write: allow,
        }
    }
}

/// What a peer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: the connection is refused.
    Denied,
    /// Non-writing requests only.
    ReadOnly,
    /// Everything.
    ReadWrite,
}

impl AccessPolicy {
    /// Root only, for services like lrmd and stonithd.
    pub fn root_only() -> Self {
        AccessPolicy {
            read: Allow::default(),
            write: Allow {
                uids: vec![0],
                ..Allow::default()
            },
        }
    }

    /// Root, the cluster user and members of the cluster group may write.
    pub fn cluster(cluster_uid: Option<u32>, cluster_gid: Option<u32>) -> Self {
        let mut write = Allow {
            uids: vec![0],
            ..Allow::default()
        };
        write.uids.extend(cluster_uid);
        write.gids.extend(cluster_gid);
        AccessPolicy {
            read: Allow::default(),
            write,
        }
    }

    /// What this peer may do.
    pub fn access(&self, p: &PeerCred) -> Access {
        if self.write.admits(p) {
            Access::ReadWrite
        } else if self.read.admits(p) {
            Access::ReadOnly
        } else {
            Access::Denied
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> PeerCred {
        PeerCred {
            pid: 1,
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn access_table() {
        let policy = AccessPolicy {
            read: Allow {
                uids: vec![1000],
                gids: vec![50],
                ..Allow::default()
            },
            write: Allow {
                uids: vec![0, 90],
                gids: vec![91],
                ..Allow::default()
            },
        };
        let cases = [
            (peer(0, 0, &[]), Access::ReadWrite),
            (peer(90, 90, &[]), Access::ReadWrite),
            (peer(500, 91, &[]), Access::ReadWrite),
            (peer(500, 500, &[7, 91]), Access::ReadWrite),
            (peer(1000, 1000, &[]), Access::ReadOnly),
            (peer(600, 600, &[50]), Access::ReadOnly),
            (peer(65534, 65534, &[]), Access::Denied),
        ];
        for (p, want) in cases {
            assert_eq!(policy.access(&p), want, "{p:?}");
        }
    }

    #[test]
    fn everyone_admits_any_peer_for_writing() {
        let policy = AccessPolicy {
            read: Allow::default(),
            write: Allow::everyone(),
        };
        for p in [
            peer(0, 0, &[]),
            peer(65534, 65534, &[]),
            peer(4_000_000, 4_000_000, &[7]),
        ] {
            assert_eq!(policy.access(&p), Access::ReadWrite, "{p:?}");
        }
        // The default list admits nobody.
        assert!(!Allow::default().admits(&peer(0, 0, &[0])));
    }

    #[test]
    fn own_credentials_are_read_with_groups() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let c = PeerCred::of(&a).unwrap();
        assert_eq!(c.pid as u32, std::process::id());
        assert_eq!(c.uid, nix::unistd::geteuid().as_raw());
        let mine: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        assert_eq!(c.groups, mine);
    }
}

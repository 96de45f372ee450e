//! Helpers a daemon needs once at start-up: a locked pid file so a second
//! instance refuses to start, dropping root for the cluster user, realtime
//! scheduling with locked memory, a core-dump directory, and daemonising.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

/// Why a daemon helper failed; `Display` is the message an administrator sees.
#[derive(Debug)]
pub enum DaemonError {
    /// Another live process holds the pid file lock.
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The pid written in it, if readable.
        pid: Option<i32>,
    },
    /// A user or group name that does not exist.
    NoSuchUser(String),
    /// A group name that does not exist.
    NoSuchGroup(String),
    /// A system call failed.
    Io {
        /// What we were doing.
        what: String,
        /// The error.
        source: io::Error,
    },
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::AlreadyRunning {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "already running as pid {pid} (pid file {} is locked)",
                path.display()
            ),
            DaemonError::AlreadyRunning { path, pid: None } => {
                write!(f, "already running (pid file {} is locked)", path.display())
            }
            DaemonError::NoSuchUser(u) => write!(f, "no such user: {u}"),
            DaemonError::NoSuchGroup(g) => write!(f, "no such group: {g}"),
            DaemonError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for DaemonError {}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// A pid file held under an exclusive `flock` for the life of the daemon.
/// The lock, not the file's existence, says whether the daemon runs, so a
/// stale file left by a crash never blocks a restart. Removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    _file: File,
}

impl PidFile {
    /// Locks `path` and writes our pid into it, or fails with
    /// `AlreadyRunning` naming the holder.
    pub fn acquire(path: &Path) -> Result<PidFile, DaemonError> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(io_err(format!("cannot create {}", dir.display())))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(io_err(format!("cannot open pid file {}", path.display())))?;
        if !try_lock(&file).map_err(io_err(format!("cannot lock {}", path.display())))? {
            return Err(DaemonError::AlreadyRunning {
                path: path.to_owned(),
                pid: read_pid(&mut file),
            });
        }
        let write = |file: &mut File| -> io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            file.flush()
        };
        write(&mut file).map_err(io_err(format!("cannot write {}", path.display())))?;
        Ok(PidFile {
            path: path.to_owned(),
            _file: file,
        })
    }

    /// The pid of the live process holding `path`, or `None` if nobody holds
    /// the lock (no file, or a stale one).
    pub fn running_pid(path: &Path) -> io::Result<Option<i32>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if try_lock(&file)? {
            // Nobody held it; our lock goes away when `file` is dropped.
            return Ok(None);
        }
        Ok(read_pid(&mut file))
    }

    /// The locked file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

fn read_pid(file: &mut File) -> Option<i32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// A user's ids, for access lists and privilege drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks up a user by name.
pub fn lookup_user(name: &str) -> Result<UserIds, DaemonError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(UserIds {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }),
        _ => Err(DaemonError::NoSuchUser(name.into())),
    }
}

/// Looks up a group id by name.
pub fn lookup_group(name: &str) -> Result<u32, DaemonError> {
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(DaemonError::NoSuchGroup(name.into())),
    }
}

/// A resolved privilege drop: the ids to become, looked up in advance so
/// that applying it needs no allocation or name lookup (safe after fork).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeDrop {
    /// The user id to become.
    pub uid: u32,
    /// The primary group id to become.
    pub gid: u32,
    /// The supplementary groups to hold.
    pub groups: Vec<u32>,
}

impl PrivilegeDrop {
    /// Looks up `user` (and `group` as primary group if given, else the
    /// user's) and the user's supplementary groups.
    pub fn resolve(user: &str, group: Option<&str>) -> Result<PrivilegeDrop, DaemonError> {
        let ids = lookup_user(user)?;
        let gid = match group {
            Some(g) => lookup_group(g)?,
            None => ids.gid,
        };
        let cuser = CString::new(user).map_err(|_| DaemonError::NoSuchUser(user.into()))?;
        let mut groups: Vec<u32> = nix::unistd::getgrouplist(&cuser, Gid::from_raw(gid))
            .map_err(|e| io_err(format!("getgrouplist({user})"))(e.into()))?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        Ok(PrivilegeDrop {
            uid: ids.uid,
            gid,
            groups,
        })
    }

    /// Sets the groups, then the group id, then the user id. Irreversible.
    /// Keeps the process dumpable so core dumps still work.
    pub fn apply(&self) -> Result<(), DaemonError> {
        let groups: Vec<Gid> = self.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&groups).map_err(|e| io_err("setgroups")(e.into()))?;
        nix::unistd::setgid(Gid::from_raw(self.gid)).map_err(|e| io_err("setgid")(e.into()))?;
        nix::unistd::setuid(Uid::from_raw(self.uid)).map_err(|e| io_err("setuid")(e.into()))?;
        set_dumpable();
        Ok(())
    }
}

/// Becomes `user` with its groups (`group` as primary if given), as the
/// classic daemons drop from root to hacluster:haclient.
pub fn drop_privileges(user: &str, group: Option<&str>) -> Result<(), DaemonError> {
    PrivilegeDrop::resolve(user, group)?.apply()
}

fn set_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
}

/// Runs this process under SCHED_RR at `priority` (1..99), as ha.cf's
/// `realtime on` with `rtprio` asks, so heartbeats go out under load.
pub fn set_realtime_priority(priority: i32) -> Result<(), DaemonError> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: param is a valid sched_param for the duration of the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) };
    if rc != 0 {
        return Err(io_err(format!("sched_setscheduler(SCHED_RR, {priority})"))(
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Locks all current and future memory so the daemon never waits on paging.
pub fn lock_memory() -> Result<(), DaemonError> {
    // SAFETY: mlockall takes flags only.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc != 0 {
        return Err(io_err("mlockall")(io::Error::last_os_error()));
    }
    Ok(())
}

/// Makes the process leave core dumps in `dir` (created 0700): changes the
/// working directory there, lifts the core size limit, and marks the process
/// dumpable even after a privilege drop.
pub fn enable_core_dumps(dir: &Path) -> Result<(), DaemonError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(format!("cannot create {}", dir.display())))?;
    std::env::set_current_dir(dir).map_err(io_err(format!("cannot chdir to {}", dir.display())))?;
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit; failure (not permitted) is reported below.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &unlimited) } != 0 {
        // Not fatal: keep the current soft limit, raised to the hard one.
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: cur is a valid out-parameter.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_CORE, &mut cur) == 0 {
                cur.rlim_cur = cur.rlim_max;
                libc::setrlimit(libc::RLIMIT_CORE, &cur);
            }
        }
    }
    set_dumpable();
    Ok(())
}

/// Detaches from the terminal: fork, new session, fork again, stdio to
/// /dev/null, working directory `/`. The original process exits 0. Call
/// before creating threads or the event loop.
pub fn daemonize() -> Result<(), DaemonError> {
    use nix::unistd::{fork, setsid, ForkResult};
    // SAFETY: called while single-threaded (documented precondition); the
    // parent only calls _exit.
    match unsafe { fork() }.map_err(|e| io_err("fork")(e.into()))? {
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {}
    }
    setsid().map_err(|e| io_err("setsid")(e.into()))?;
    // SAFETY: as above.
    match unsafe { fork() }.map_err(|e| io_err("fork")(e.into()))? {
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/").map_err(io_err("chdir /"))?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(io_err("open /dev/null"))?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        unsafe {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
    Ok(())
}

/// A daemon's exit: a failure is logged and written to stderr as
/// `NAME: reason`, with exit status 1.
pub fn exit_code(name: &str, result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Becomes `user` with `group` (the CRM daemons started as root drop to
/// hacluster:haclient this way), with the reason on failure.
pub fn drop_to(user: &str, group: &str) -> Result<(), String> {
    PrivilegeDrop::resolve(user, Some(group))
        .and_then(|d| d.apply())
        .map_err(|e| format!("cannot drop privileges to {user}: {e}"))
}

/// The ids of the cluster user and group, each when it exists (for
/// access policies, whoever the daemon runs as).
pub fn cluster_ids(user: &str, group: &str) -> (Option<u32>, Option<u32>) {
    (
        lookup_user(user).ok().map(|u| u.uid),
        lookup_group(group).ok(),
    )
}

/// The uid and gid a CRM daemon started as root gives its directories and
/// drops to: `user` and `group` when both exist and we are root, else
/// `None` (run as whoever started us, as in tests).
pub fn cluster_owner(user: &str, group: &str) -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some((lookup_user(user).ok()?.uid, lookup_group(group).ok()?))
}

/// Creates `dir` and, with an owner, gives it to that uid:gid with mode
/// 0750 (the CRM's state and run directories).
pub fn prepare_owned_dir(dir: &std::path::Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
            .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("plumbing-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn second_pid_file_holder_is_refused_with_the_first_pid() {
        let dir = tmp("pid");
        let path = dir.join("run/heartbeat.pid");
        let first = PidFile::acquire(&path).unwrap();
        let err = PidFile::acquire(&path).unwrap_err();
        let me = std::process::id() as i32;
        assert_eq!(
            err.to_string(),
            format!(
                "already running as pid {me} (pid file {} is locked)",
                path.display()
            )
        );
        assert_eq!(PidFile::running_pid(&path).unwrap(), Some(me));
        drop(first);
        assert!(!path.exists());
        assert_eq!(PidFile::running_pid(&path).unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn stale_pid_file_does_not_block_start() {
        let dir = tmp("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        std::fs::write(&path, "999999\n").unwrap();
        assert_eq!(PidFile::running_pid(&path).unwrap(), None);
        let held = PidFile::acquire(&path).unwrap();
        let text = std::fs::read_to_string(held.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(held);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_user_is_a_clear_error() {
        let err = drop_privileges("no-such-user-xyz", None).unwrap_err();
        assert_eq!(err.to_string(), "no such user: no-such-user-xyz");
        assert!(lookup_user("root").is_ok_and(|u| u.uid == 0));
    }

    #[test]
    fn privilege_drop_changes_ids_and_groups_in_a_child() {
        if !Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        // Drop in a forked child so the test process keeps root; resolve
        // first so the child makes only system calls.
        let drop = PrivilegeDrop::resolve("nobody", None).unwrap();
        assert_eq!(drop.uid, 65534);
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = drop.apply().is_ok()
                    && Uid::current().as_raw() == 65534
                    && Gid::current().as_raw() == drop.gid
                    && Uid::effective().as_raw() == 65534
                    && nix::unistd::setuid(Uid::from_raw(0)).is_err();
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn core_dump_dir_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tmp("cores").join("hacluster");
        let cwd = std::env::current_dir().unwrap();
        enable_core_dumps(&dir).unwrap();
        std::env::set_current_dir(cwd).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

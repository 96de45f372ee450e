//! The Debian package: `packaging/build-deb` builds it (set `PACKAGING_DEB`
//! to test an already built .deb instead), its layout, modes and control
//! fields are checked with dpkg-deb, then it is installed for real with
//! dpkg in a throw-away root: an overlay over / whose upper layer is a
//! tmpfs, in private mount, pid, network and UTS namespaces, so the host
//! is never changed. There Debian's own packages are purged, the package
//! installed (user, group, directories), the init script refuses to start
//! without a usable configuration, starts a one-node cluster whose CRM
//! daemons come up from /usr/lib/heartbeat, stops it, and purging removes
//! the configuration.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The package: built by packaging/build-deb unless `PACKAGING_DEB` names one.
fn deb() -> PathBuf {
    if let Some(p) = std::env::var_os("PACKAGING_DEB") {
        return PathBuf::from(p);
    }
    let started = Instant::now();
    let out = Command::new(workspace().join("packaging/build-deb"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run packaging/build-deb");
    assert!(out.status.success(), "packaging/build-deb failed");
    let stdout = text(&out.stdout);
    let path = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build-deb prints the .deb")
            .trim(),
    );
    eprintln!("build-deb took {:.1} s", started.elapsed().as_secs_f64());
    path
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `dpkg-deb -c` as path -> (mode string, owner).
fn contents(deb: &Path) -> std::collections::BTreeMap<String, (String, String)> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f.get(5)?.trim_start_matches('.').to_string();
            Some((path, (f[0].to_string(), f[1].to_string())))
        })
        .collect()
}

/// A throw-away root: an overlay of / with a tmpfs upper layer, in new
/// mount, pid, network and UTS namespaces held by a process whose death
/// (on drop) kills everything started inside and unmounts it all.
struct Overlay {
    holder: Child,
    pid1: i32,
    merged: PathBuf,
}

impl Overlay {
    fn new(hostname: &str) -> Overlay {
        let dir = std::env::temp_dir().join(format!("hbtest-pkg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("overlay dir");
        let d = dir.display();
        let setup = format!(
            "set -e; mount -t tmpfs tmpfs {d}; mkdir {d}/upper {d}/work {d}/merged; \
             mount -t overlay overlay -o lowerdir=/,upperdir={d}/upper,workdir={d}/work {d}/merged; \
             mount -t proc proc {d}/merged/proc; mount --rbind /dev {d}/merged/dev; \
             mount -t tmpfs tmpfs {d}/merged/run; mount -t tmpfs tmpfs {d}/merged/tmp; \
             hostname {hostname}; ip link set lo up; echo ready; exec sleep 100000"
        );
        let mut holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--net",
                "--uts",
                "sh",
                "-c",
                &setup,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(holder.stdout.take().expect("stdout"));
        let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().expect("holder");
            panic!("overlay root not made: {}", text(&out.stderr));
        }
        // The shell unshare forked is pid 1 of the new pid namespace.
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", holder.id()))
            .expect("children of unshare");
        let pid1 = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("pid 1 of the namespace");
        Overlay {
            holder,
            pid1,
            merged: dir.join("merged"),
        }
    }

    /// Runs a shell script as root inside the throw-away root.
    fn sh(&self, script: &str) -> Output {
        Command::new("nsenter")
            .args([
                "-t",
                &self.pid1.to_string(),
                "-m",
                "-n",
                "-u",
                "-p",
                "chroot",
            ])
            .arg(&self.merged)
            .args(["/bin/sh", "-c", script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .output()
            .expect("nsenter")
    }

    /// [`Overlay::sh`] that must succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` failed ({:?}):\n{}\n{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Copies a file of the host into the root.
    fn copy_in(&self, from: &Path, to: &str) {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid1.to_string(), "-m", "cp"])
            .arg(from)
            .arg(self.merged.join(to.trim_start_matches('/')))
            .output()
            .expect("cp");
        assert!(out.status.success(), "cp: {}", text(&out.stderr));
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        // pid 1 of the namespace dying kills every process in it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid1),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if let Some(dir) = self.merged.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const DAEMONS: [&str; 9] = [
    "heartbeat",
    "ccm",
    "cib",
    "lrmd",
    "stonithd",
    "attrd",
    "crmd",
    "pengine",
    "ha_logd",
];
const SBIN_TOOLS: [&str; 14] = [
    "cibadmin",
    "crm_resource",
    "crm_mon",
    "crm_attribute",
    "crm_standby",
    "crm_simulate",
    "crmadmin",
    "crm_node",
    "attrd_updater",
    "stonith_admin",
    "lrmadmin",
    "stonith",
    "meatclient",
    "ha_logger",
];

#[test]
fn package_builds_installs_starts_a_node_and_purges() {
    let deb = deb();
    let size = std::fs::metadata(&deb).expect("the .deb").len();

    // Control fields.
    let field = |name: &str| {
        dpkg_deb(&["-f"], &deb)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
    };
    assert_eq!(field("Package").as_deref(), Some("heartbeat-rs"));
    let depends = field("Depends").expect("Depends");
    assert!(depends.contains("libc6 (>= 2."), "{depends}");
    assert!(depends.contains("adduser"), "{depends}");
    for f in ["Conflicts", "Replaces"] {
        let v = field(f).unwrap_or_default();
        for p in [
            "heartbeat",
            "pacemaker",
            "pacemaker-cli-utils",
            "cluster-glue",
        ] {
            assert!(v.split(", ").any(|x| x == p), "{f}: {v} lacks {p}");
        }
    }
    let conffiles = {
        let out = Command::new("dpkg-deb")
            .arg("-I")
            .arg(&deb)
            .arg("conffiles")
            .output()
            .expect("dpkg-deb -I conffiles");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(
        conffiles.lines().any(|l| l == "/etc/init.d/heartbeat"),
        "{conffiles}"
    );
    assert!(
        conffiles.lines().any(|l| l == "/etc/default/heartbeat"),
        "{conffiles}"
    );

    // Layout and modes.
    let files = contents(&deb);
    let mode = |p: &str| files.get(p).map(|(m, o)| format!("{m} {o}"));
    for d in DAEMONS {
        let p = format!("/usr/lib/heartbeat/{d}");
        assert_eq!(mode(&p).as_deref(), Some("-rwxr-xr-x root/root"), "{p}");
    }
    for t in SBIN_TOOLS.iter().chain(&["ha_propagate"]) {
        let p = format!("/usr/sbin/{t}");
        assert_eq!(mode(&p).as_deref(), Some("-rwxr-xr-x root/root"), "{p}");
        assert!(
            files.contains_key(&format!("/usr/share/man/man8/{t}.8.gz")),
            "man page of {t}"
        );
        assert!(
            files.contains_key(&format!("/usr/share/bash-completion/completions/{t}")),
            "completion of {t}"
        );
    }
    assert_eq!(
        mode("/usr/bin/cl_status").as_deref(),
        Some("-rwxr-xr-x root/root")
    );
    assert_eq!(
        mode("/etc/init.d/heartbeat").as_deref(),
        Some("-rwxr-xr-x root/root")
    );
    assert_eq!(
        mode("/usr/share/doc/heartbeat-rs/examples/authkeys").as_deref(),
        Some("-rw------- root/root")
    );
    assert!(files.contains_key("/usr/share/doc/heartbeat-rs/examples/ha.cf"));
    assert!(files.contains_key("/lib/systemd/system/heartbeat.service"));
    for page in [
        "man8/heartbeat.8.gz",
        "man5/ha.cf.5.gz",
        "man5/authkeys.5.gz",
    ] {
        assert!(
            files.contains_key(&format!("/usr/share/man/{page}")),
            "{page}"
        );
    }
    let benches: Vec<&String> = files.keys().filter(|p| p.ends_with("-bench")).collect();
    assert!(benches.is_empty(), "benchmarks shipped: {benches:?}");
    eprintln!(
        "package {}: {} KiB, {} dependencies ({depends})",
        deb.display(),
        size / 1024,
        depends.split(", ").count()
    );

    // Installed for real in a throw-away root.
    let root = Overlay::new("pkgnode");
    root.copy_in(&deb, "/var/tmp/heartbeat-rs.deb");
    // Debian's stack and its user go first, so the package's scripts make
    // them; no service may start inside (policy-rc.d).
    root.ok(
        "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && \
         dpkg --purge --force-depends heartbeat pacemaker pacemaker-cli-utils cluster-glue >/dev/null 2>&1; \
         rm -f /etc/ha.d/ha.cf /etc/ha.d/authkeys; \
         dpkg-statoverride --list | awk '$1 == \"hacluster\" || $2 == \"haclient\" {print $4}' | \
         while read -r f; do dpkg-statoverride --remove \"$f\"; done; \
         if getent passwd hacluster >/dev/null; then userdel hacluster; fi; \
         if getent group haclient >/dev/null; then groupdel haclient; fi; \
         ! getent passwd hacluster",
    );
    let started = Instant::now();
    root.ok("dpkg -i /var/tmp/heartbeat-rs.deb");
    eprintln!("dpkg -i took {:.1} s", started.elapsed().as_secs_f64());
    assert!(root.ok("id hacluster").contains("(haclient)"));
    for (dir, want) in [
        ("/var/lib/heartbeat/crm", "750 hacluster:haclient"),
        ("/var/run/heartbeat", "750 hacluster:haclient"),
        ("/var/lib/heartbeat", "755 root:root"),
        ("/var/lib/heartbeat/ccm", "750 hacluster:haclient"),
        ("/etc/ha.d", "755 root:root"),
    ] {
        assert_eq!(
            root.ok(&format!("stat -c '%a %U:%G' {dir}")).trim(),
            want,
            "{dir}"
        );
    }

    // Refusals: no ha.cf, then an authkeys others can read.
    let out = root.sh("/etc/init.d/heartbeat start");
    assert_eq!(out.status.code(), Some(6), "start without ha.cf");
    assert!(
        text(&out.stderr).contains("/etc/ha.d/ha.cf is missing"),
        "{}",
        text(&out.stderr)
    );
    root.ok(
        "printf 'keepalive 200ms\\ndeadtime 2\\ninitdead 4\\nucast lo 127.0.0.1\\nnode pkgnode\\n\
         logfacility none\\nlogfile /var/log/ha-log\\npacemaker respawn\\n' > /etc/ha.d/ha.cf && \
         printf 'auth 1\\n1 sha1 package-test\\n' > /etc/ha.d/authkeys && chmod 644 /etc/ha.d/authkeys",
    );
    let out = root.sh("/etc/init.d/heartbeat start");
    assert_eq!(out.status.code(), Some(6), "start with authkeys 0644");
    assert!(
        text(&out.stderr).contains("must be mode 600"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        root.sh("/etc/init.d/heartbeat status").status.code(),
        Some(3)
    );

    // A one-node cluster through the init script.
    root.ok("chmod 600 /etc/ha.d/authkeys && /etc/init.d/heartbeat start");
    assert!(root
        .ok("/etc/init.d/heartbeat status")
        .contains("is running"));
    wait_for("cl_status hbstatus", Duration::from_secs(30), || {
        root.sh("cl_status hbstatus").status.success()
    });
    let mut mon = String::new();
    wait_for(
        "crm_mon -1 to show the node online",
        Duration::from_secs(90),
        || {
            mon = text(&root.sh("crm_mon -1").stdout);
            mon.contains("Online: [ pkgnode ]")
        },
    );
    assert_eq!(
        root.ok("stat -c '%U' /var/log/ha-log").trim(),
        "hacluster",
        "the log file ha.cf names belongs to the daemons"
    );
    root.ok("/etc/init.d/heartbeat stop");
    assert_eq!(
        root.sh("/etc/init.d/heartbeat status").status.code(),
        Some(3)
    );
    assert_eq!(
        root.ok("pgrep -c -f '^/usr/lib/heartbeat/' || true").trim(),
        "0"
    );

    // Removal keeps the configuration; purge deletes it.
    // resource-agents depends on cluster-glue, which this package provides.
    root.ok("dpkg -r --force-depends heartbeat-rs >/dev/null");
    root.ok(
        "test -f /etc/ha.d/ha.cf && test -f /etc/ha.d/authkeys && test -d /var/lib/heartbeat/crm",
    );
    root.ok("dpkg --purge --force-depends heartbeat-rs >/dev/null");
    root.ok(
        "! test -e /etc/ha.d/ha.cf && ! test -e /etc/ha.d/authkeys && ! test -e /var/lib/heartbeat \
         && ! test -e /etc/init.d/heartbeat",
    );
}

//! Helpers for integration tests that run the real binaries: where the built
//! binaries are, and `TestNode`, a node's private directories and `HA_*`
//! environment, which stops its heartbeat and removes everything on drop,
//! even when the test fails.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A built binary of the workspace (`cargo build --workspace --bins` first).
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let p = target.join(profile).join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (test.sh does)",
        p.display()
    );
    p
}

/// One node's directories and environment.
pub struct TestNode {
    /// Root of the node's private tree.
    pub root: PathBuf,
    /// Its node name.
    pub name: String,
}

impl TestNode {
    /// Fresh directories etc/, run/, lib/, log/ under a unique temp dir.
    pub fn new(test: &str) -> TestNode {
        let root = std::env::temp_dir().join(format!("hbtest-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["etc", "run", "lib", "log"] {
            std::fs::create_dir_all(root.join(d)).expect("create test dirs");
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        TestNode {
            root,
            name: "node1".into(),
        }
    }

    /// `HA_CONFDIR`.
    pub fn confdir(&self) -> PathBuf {
        self.root.join("etc")
    }

    /// The log directory (for logfile lines in ha.cf).
    pub fn logdir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// Writes ha.cf.
    pub fn write_ha_cf(&self, text: &str) {
        std::fs::write(self.confdir().join("ha.cf"), text).expect("write ha.cf");
    }

    /// Writes authkeys with `mode`.
    pub fn write_authkeys(&self, text: &str, mode: u32) {
        let p = self.confdir().join("authkeys");
        std::fs::write(&p, text).expect("write authkeys");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// A minimal valid configuration, plus `extra` lines. It logs to the
    /// relative `ha-log`, which must land in `$HA_LOGDIR` (log/).
    pub fn configure(&self, extra: &str) {
        self.write_ha_cf(&format!(
            "keepalive 100ms\ndeadtime 500ms\ninitdead 10\nucast lo 127.0.0.1\n\
             node {}\nauto_failback off\nuse_logd no\nlogfacility none\n\
             logfile ha-log\n{extra}",
            self.name
        ));
        self.write_authkeys("auth 1\n1 sha1 test-secret-do-not-print\n", 0o600);
    }

    /// A command for one of our binaries with this node's environment.
    pub fn command(&self, binary: &str) -> Command {
        let mut c = Command::new(bin(binary));
        self.apply_env(&mut c);
        c
    }

    /// Gives `c` this node's `HA_*` environment.
    pub fn apply_env(&self, c: &mut Command) {
        c.env("HA_CONFDIR", self.confdir())
            .env("HA_RUNDIR", self.root.join("run"))
            .env("HA_STATEDIR", self.root.join("lib"))
            .env("HA_LOGDIR", self.logdir())
            .env("HA_NODENAME", &self.name);
    }

    /// Runs a binary with arguments to completion.
    pub fn run(&self, binary: &str, args: &[&str]) -> Output {
        self.command(binary)
            .args(args)
            .output()
            .expect("run binary")
    }

    /// This node's paths, as its daemons see them.
    pub fn paths(&self) -> plumbing::HaPaths {
        let root = self.root.clone();
        let name = self.name.clone();
        plumbing::HaPaths::from_lookup(move |k| {
            let p = |d: &str| Some(root.join(d).to_string_lossy().into_owned());
            match k {
                "HA_CONFDIR" => p("etc"),
                "HA_RUNDIR" => p("run"),
                "HA_STATEDIR" => p("lib"),
                "HA_LOGDIR" => p("log"),
                "HA_NODENAME" => Some(name.clone()),
                _ => None,
            }
        })
    }

    /// The heartbeat log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.logdir().join("ha-log")).unwrap_or_default()
    }

    /// Waits until `cond` holds, up to 20 s (a hang detector, not a timing
    /// assertion). Returns whether it held.
    pub fn wait_for(&self, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let pidfile = self.root.join("run/heartbeat.pid");
        if let Ok(Some(pid)) = plumbing::daemon::PidFile::running_pid(&pidfile) {
            let _ = self.run("heartbeat", &["-k"]);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Several nodes on one machine, each in its own network namespace with one
/// interface per link (`eth0`, `eth1`, ...) plugged into a bridge per link;
/// the bridges live in a namespace of their own. Traffic never leaves the
/// namespaces the cluster made. Dropping it kills every node and deletes the
/// namespaces, even when the test failed.
pub struct TestCluster {
    /// The nodes, `node1`..`nodeN`.
    pub nodes: Vec<TestNode>,
    prefix: String,
    links: usize,
    /// Namespaces of the routers `add_router` made.
    routers: Vec<String>,
    /// Bridge ports that have the dropping qdisc of `block`.
    shaped: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

fn tc(args: &[&str]) {
    let out = Command::new("tc").args(args).output().expect("run tc");
    assert!(
        out.status.success(),
        "tc {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCluster {
    /// Builds the namespaces for `n` nodes with `links` links each.
    pub fn new(test: &str, n: usize, links: usize) -> TestCluster {
        // Short and unique: interface names have at most 15 characters.
        let mut h: u32 = std::process::id();
        for b in test.bytes() {
            h = h.wrapping_mul(31).wrapping_add(u32::from(b));
        }
        let prefix = format!("hbt{:05x}", h & 0xfffff);
        let mut cluster = TestCluster {
            nodes: Vec::new(),
            prefix,
            links,
            routers: Vec::new(),
            shaped: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        };
        let br = cluster.bridge_ns();
        ip(&["netns", "add", &br]);
        for l in 0..links {
            let b = format!("br{l}");
            // No multicast snooping: every port sees every group (the
            // media under test join and leave groups as they start).
            ip(&[
                "-n",
                &br,
                "link",
                "add",
                &b,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ]);
            ip(&["-n", &br, "link", "set", &b, "up"]);
        }
        for i in 1..=n {
            let mut node = TestNode::new(&format!("{test}-n{i}"));
            node.name = format!("node{i}");
            let ns = cluster.ns(i);
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            for l in 0..links {
                let host = cluster.port(i, l);
                let eth = format!("eth{l}");
                ip(&[
                    "link", "add", &host, "netns", &br, "type", "veth", "peer", "name", &eth,
                    "netns", &ns,
                ]);
                ip(&[
                    "-n",
                    &br,
                    "link",
                    "set",
                    &host,
                    "master",
                    &format!("br{l}"),
                    "up",
                ]);
                let addr = format!("10.213.{l}.{i}/24");
                ip(&["-n", &ns, "addr", "add", &addr, "brd", "+", "dev", &eth]);
                let addr6 = format!("{}/64", Self::addr6(l, i));
                ip(&["-n", &ns, "addr", "add", &addr6, "dev", &eth, "nodad"]);
                ip(&["-n", &ns, "link", "set", &eth, "up"]);
            }
            cluster.nodes.push(node);
        }
        cluster
    }

    /// The IPv6 address of host `host` on link `link` (node `i` is host
    /// `i`): `fd21:3:<link>::<host in hex>`.
    pub fn addr6(link: usize, host: usize) -> String {
        format!("fd21:3:{link:x}::{host:x}")
    }

    fn bridge_ns(&self) -> String {
        format!("{}b", self.prefix)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    fn port(&self, i: usize, link: usize) -> String {
        format!("{}{i}l{link}", self.prefix)
    }

    /// Node `i` (1-based).
    pub fn node(&self, i: usize) -> &TestNode {
        &self.nodes[i - 1]
    }

    /// Writes every node's ha.cf: fast timing, one `bcast ethL` per link,
    /// all nodes listed, plus `extra`.
    pub fn configure(&self, extra: &str) {
        let media: String = (0..self.links).map(|l| format!("bcast eth{l}\n")).collect();
        self.configure_media(&media, extra);
    }

    /// Writes every node's ha.cf as [`TestCluster::configure`] does, with
    /// the media lines `media` instead of bcast.
    pub fn configure_media(&self, media: &str, extra: &str) {
        self.configure_timing(
            "keepalive 100ms\nwarntime 300ms\ndeadtime 500ms\ninitdead 2\n",
            media,
            extra,
        );
    }

    /// Writes every node's ha.cf with the timing lines `timing` (empty:
    /// Heartbeat's defaults), the media lines `media`, every node listed,
    /// plus `extra`.
    pub fn configure_timing(&self, timing: &str, media: &str, extra: &str) {
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        for node in &self.nodes {
            node.write_ha_cf(&format!(
                "{timing}{media}node {}\nauto_failback off\nuse_logd no\nlogfacility none\n\
                 logfile ha-log\n{extra}",
                names.join(" ")
            ));
            node.write_authkeys("auth 1\n1 sha1 cluster-test-key\n", 0o600);
        }
    }

    /// Prepares every node for the CRM daemons after its ha.cf is written:
    /// the CIB `cib_xml` in lib/crm, the log file and the CRM directories
    /// owned by hacluster (as a package would make them), and resource
    /// agents' state in a directory of the node's own ([`TestCluster::rsctmp`],
    /// exported as `$HA_RSCTMP` through ha.cf's `env`).
    pub fn prepare_crm(&self, cib_xml: &str) {
        let hacluster = nix::unistd::User::from_name("hacluster")
            .expect("user lookup")
            .expect("user hacluster (test.sh installs heartbeat)");
        for i in 1..=self.nodes.len() {
            let node = self.node(i);
            let cf = node.confdir().join("ha.cf");
            let mut text = std::fs::read_to_string(&cf).expect("ha.cf");
            text.push_str(&format!("env RSCTMP={}\n", self.rsctmp(i).display()));
            std::fs::write(&cf, text).expect("ha.cf");
            std::fs::create_dir_all(self.rsctmp(i)).expect("rsctmp");
            let crm = node.root.join("lib/crm");
            std::fs::create_dir_all(&crm).expect("crm dir");
            std::fs::write(crm.join("cib.xml"), cib_xml).expect("cib.xml");
            std::fs::write(node.logdir().join("ha-log"), "").expect("log file");
            for d in ["run", "lib", "lib/crm", "lib/crm/cib.xml", "log/ha-log"] {
                nix::unistd::chown(&node.root.join(d), Some(hacluster.uid), Some(hacluster.gid))
                    .expect("chown");
            }
        }
    }

    /// Where node `i`'s resource agents keep their state (`$HA_RSCTMP`).
    pub fn rsctmp(&self, i: usize) -> PathBuf {
        self.node(i).root.join("rsctmp")
    }

    /// Every process of node `i`, found by its state directory in their
    /// environment: heartbeat, the daemons and the agents they run.
    pub fn processes(&self, i: usize) -> Vec<i32> {
        let marker = format!("HA_STATEDIR={}", self.node(i).root.join("lib").display());
        let mut pids = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if let Ok(env) = std::fs::read(e.path().join("environ")) {
                    if env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    }

    /// kill -9 of node `i`'s whole stack: what a power failure does to it.
    pub fn power_off(&self, i: usize) {
        for _ in 0..3 {
            for pid in self.processes(i) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command that runs `program` inside node `i`'s network namespace
    /// (`ip netns exec`), for servers and clients other than our daemons.
    pub fn netns_command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(i)]).arg(program);
        cmd
    }

    /// Starts heartbeat on node `i` inside its namespace.
    pub fn start(&self, i: usize) {
        let node = self.node(i);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(i)])
            .arg(bin("heartbeat"));
        node.apply_env(&mut cmd);
        let out = cmd.output().expect("start heartbeat");
        assert!(
            out.status.success(),
            "heartbeat on {} did not start: {}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The pid of node `i`'s heartbeat.
    pub fn pid(&self, i: usize) -> Option<i32> {
        plumbing::daemon::PidFile::running_pid(&self.node(i).root.join("run/heartbeat.pid"))
            .ok()
            .flatten()
    }

    /// Sends `signal` to node `i`'s heartbeat.
    pub fn signal(&self, i: usize, signal: nix::sys::signal::Signal) {
        let pid = self.pid(i).expect("node runs");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("kill");
    }

    /// Takes node `i`'s port on link `link` down (`false`) or up (`true`).
    pub fn set_link(&self, i: usize, link: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &self.port(i, link),
            state,
        ]);
    }

    /// Node `to` stops hearing node `from` on link `link` (a one-way cut):
    /// the bridge drops what `from` sends (by its IPv4 source address)
    /// before it leaves through `to`'s port. Undone by [`TestCluster::unblock_all`].
    pub fn block(&self, from: usize, to: usize, link: usize) {
        let br = self.bridge_ns();
        let port = self.port(to, link);
        let mut shaped = self.shaped.lock().unwrap_or_else(|e| e.into_inner());
        if !shaped.contains(&port) {
            // Class 1:10 passes everything, 1:20 ends in a queue of length 0.
            let tc = |args: &[&str]| {
                let mut a = vec!["-n", br.as_str()];
                a.extend_from_slice(args);
                tc(&a);
            };
            tc(&[
                "qdisc", "add", "dev", &port, "root", "handle", "1:", "htb", "default", "10",
            ]);
            for class in ["1:10", "1:20"] {
                tc(&[
                    "class", "add", "dev", &port, "parent", "1:", "classid", class, "htb", "rate",
                    "10gbit",
                ]);
            }
            tc(&[
                "qdisc", "add", "dev", &port, "parent", "1:20", "handle", "20:", "pfifo", "limit",
                "0",
            ]);
            shaped.insert(port.clone());
        }
        let src = format!("10.213.{link}.{from}/32");
        tc(&[
            "-n", &br, "filter", "add", "dev", &port, "parent", "1:", "protocol", "ip", "u32",
            "match", "ip", "src", &src, "flowid", "1:20",
        ]);
    }

    /// Splits the cluster on link `link`: the nodes of `side` hear only each
    /// other, the others only each other.
    pub fn partition(&self, side: &[usize], link: usize) {
        for a in 1..=self.nodes.len() {
            for b in 1..=self.nodes.len() {
                if side.contains(&a) != side.contains(&b) {
                    self.block(a, b, link);
                }
            }
        }
    }

    /// Removes every cut [`TestCluster::block`] made.
    pub fn unblock_all(&self) {
        let br = self.bridge_ns();
        let mut shaped = self.shaped.lock().unwrap_or_else(|e| e.into_inner());
        for port in std::mem::take(&mut *shaped) {
            tc(&["-n", &br, "qdisc", "del", "dev", &port, "root"]);
        }
    }

    /// The pid in node `i`'s `run/<daemon>.pid`, if that daemon runs.
    pub fn daemon_pid(&self, i: usize, daemon: &str) -> Option<i32> {
        plumbing::daemon::PidFile::running_pid(&self.node(i).root.join(format!("run/{daemon}.pid")))
            .ok()
            .flatten()
    }

    /// Sends `signal` to node `i`'s heartbeat and to its children that keep
    /// a pid file in run/ (ccm, ...): SIGSTOP freezes the whole node.
    pub fn signal_node(&self, i: usize, signal: nix::sys::signal::Signal) {
        for pid in self.node_pids(i) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    fn node_pids(&self, i: usize) -> Vec<i32> {
        let run = self.node(i).root.join("run");
        let mut pids = Vec::new();
        if let Ok(dir) = std::fs::read_dir(&run) {
            for e in dir.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "pid") {
                    if let Ok(Some(pid)) = plumbing::daemon::PidFile::running_pid(&p) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    }

    /// Adds a router on link `link`: a namespace of its own with addresses
    /// `10.213.<link>.<host>` and [`TestCluster::addr6`] on an interface
    /// plugged into the link's bridge,
    /// whose kernel answers ICMP echoes (a target for `ping`). Returns its
    /// address.
    pub fn add_router(&mut self, link: usize, host: u8) -> String {
        let br = self.bridge_ns();
        let ns = format!("{}r{link}x{host}", self.prefix);
        ip(&["netns", "add", &ns]);
        self.routers.push(ns.clone());
        let port = format!("rt{link}p{host}");
        ip(&[
            "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&[
            "-n",
            &br,
            "link",
            "set",
            &port,
            "master",
            &format!("br{link}"),
            "up",
        ]);
        let addr = format!("10.213.{link}.{host}");
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        let addr6 = format!("{}/64", Self::addr6(link, usize::from(host)));
        ip(&["-n", &ns, "addr", "add", &addr6, "dev", "eth0", "nodad"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        addr
    }

    /// Cuts (`false`) or restores (`true`) the router `add_router(link,
    /// host)` made: its bridge port goes down or up.
    pub fn set_router(&self, link: usize, host: u8, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("rt{link}p{host}"),
            state,
        ]);
    }

    /// Sends `bytes` as one UDP datagram to the broadcast address of link
    /// `link`, from a socket inside node `from`'s namespace (a thread enters
    /// the namespace; the rest of the test process stays where it is).
    pub fn inject(&self, from: usize, link: usize, bytes: &[u8]) {
        let ns_path = format!("/var/run/netns/{}", self.ns(from));
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&ns_path).expect("open netns");
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
            s.set_broadcast(true).expect("broadcast");
            s.send_to(&bytes, format!("10.213.{link}.255:694"))
                .expect("send");
        })
        .join()
        .expect("inject thread");
    }

    /// Captures the next datagram node `at` receives on link `link`'s port
    /// 694, from a socket inside its namespace (for replay tests).
    pub fn capture(&self, at: usize, link: usize) -> Vec<u8> {
        let ns_path = format!("/var/run/netns/{}", self.ns(at));
        let dev = format!("eth{link}");
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&ns_path).expect("open netns");
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let fd = nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Inet,
                nix::sys::socket::SockType::Datagram,
                nix::sys::socket::SockFlag::empty(),
                None,
            )
            .expect("socket");
            nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReuseAddr, &true)
                .expect("reuse");
            nix::sys::socket::setsockopt(
                &fd,
                nix::sys::socket::sockopt::BindToDevice,
                &std::ffi::OsString::from(dev),
            )
            .expect("bind to device");
            let any = nix::sys::socket::SockaddrIn::new(0, 0, 0, 0, 694);
            nix::sys::socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &any).expect("bind");
            let s = std::net::UdpSocket::from(fd);
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut buf = vec![0u8; 65536];
            let (n, _) = s.recv_from(&mut buf).expect("a datagram within 10s");
            buf.truncate(n);
            buf
        })
        .join()
        .expect("capture thread")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 1..=self.nodes.len() {
            // Children with pid files first (a frozen ccm would not notice
            // its heartbeat going away).
            for pid in self.node_pids(i) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGCONT,
                );
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if let Some(pid) = self.pid(i) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGCONT,
                );
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for i in 1..=self.nodes.len() {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(i)])
                .output();
        }
        for ns in &self.routers {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.bridge_ns()])
            .output();
    }
}

/// Pseudo-terminals for serial-line tests: a pty per node and a cable
/// between their masters.
pub mod pty {
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use nix::poll::{PollFd, PollFlags, PollTimeout};

    /// A pty pair whose slave is in raw mode; returns (master, slave, slave
    /// path). Both ends are close-on-exec.
    pub fn pty() -> (OwnedFd, OwnedFd, String) {
        let p = nix::pty::openpty(None, None).expect("openpty");
        // openpty(3) does not set close-on-exec: without it the heartbeats the
        // test starts would hold the masters open.
        for fd in [&p.master, &p.slave] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap();
        }
        let mut t = nix::sys::termios::tcgetattr(p.slave.as_fd()).unwrap();
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(p.slave.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t)
            .unwrap();
        let path = std::fs::read_link(format!("/proc/self/fd/{}", p.slave.as_raw_fd()))
            .unwrap()
            .display()
            .to_string();
        (p.master, p.slave, path)
    }

    /// A null-modem cable between two pty masters: a thread copies bytes both
    /// ways until dropped; while cut it drops them instead.
    pub struct Cable {
        cut: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<(OwnedFd, OwnedFd)>>,
    }

    impl Cable {
        pub fn new(a: OwnedFd, b: OwnedFd) -> Cable {
            let cut = Arc::new(AtomicBool::new(false));
            let stop = Arc::new(AtomicBool::new(false));
            let (c, s) = (cut.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !s.load(Ordering::Relaxed) {
                    let mut fds = [
                        PollFd::new(a.as_fd(), PollFlags::POLLIN),
                        PollFd::new(b.as_fd(), PollFlags::POLLIN),
                    ];
                    if nix::poll::poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) <= 0 {
                        continue;
                    }
                    let ready: Vec<bool> = fds
                        .iter()
                        .map(|f| f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
                        .collect();
                    for (i, (from, to)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
                        if !ready[i] {
                            continue;
                        }
                        if let Ok(n) = nix::unistd::read(from.as_raw_fd(), &mut buf) {
                            if n > 0 && !c.load(Ordering::Relaxed) {
                                let _ = nix::unistd::write(to, &buf[..n]);
                            }
                        }
                    }
                }
                (a, b)
            });
            Cable {
                cut,
                stop,
                thread: Some(thread),
            }
        }

        pub fn set_cut(&self, cut: bool) {
            self.cut.store(cut, Ordering::Relaxed);
        }

        /// Stops relaying and hands the masters back.
        pub fn unplug(mut self) -> (OwnedFd, OwnedFd) {
            self.stop.store(true, Ordering::Relaxed);
            self.thread.take().unwrap().join().unwrap()
        }
    }

    impl Drop for Cable {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

//! ha_propagate against real sshd servers (Debian's openssh-server), one
//! in each node's network namespace with its own host key, logging in with
//! a key the test makes: the files arrive byte-identical with authkeys
//! 0600, the enable command runs on each node, and a node whose sshd is
//! down is reported failed while the others are still done.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{bin, TestCluster, TestNode};

const SSHD: &str = "/usr/sbin/sshd";

/// The sshd servers of a test; killed on drop, even when the test fails.
struct Servers(Vec<(usize, Child)>);

impl Servers {
    fn stop(&mut self, node: usize) {
        for (_, child) in self.0.iter_mut().filter(|(i, _)| *i == node) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.0.retain(|(i, _)| *i != node);
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn keygen(path: &Path) -> String {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path),
    );
    std::fs::read_to_string(path.with_extension("pub")).expect("public key")
}

/// The ssh side of a test: keys, configurations, fake service tools.
struct Ssh {
    dir: PathBuf,
}

impl Ssh {
    /// Client key, authorized on every node, and the client's ssh_config
    /// naming the nodes by their address on link 0 with their own host keys.
    fn new(cluster: &TestCluster) -> Ssh {
        let dir = cluster.node(1).root.join("ssh");
        std::fs::create_dir_all(&dir).expect("ssh dir");
        let client_pub = keygen(&dir.join("id"));
        let mut client_cfg = String::new();
        let mut known = String::new();
        for i in 2..=cluster.nodes.len() {
            let node = cluster.node(i);
            let ndir = node.root.join("sshd");
            std::fs::create_dir_all(ndir.join("bin")).expect("sshd dir");
            let host_pub = keygen(&ndir.join("hostkey"));
            known.push_str(&format!("{} {host_pub}", node.name));
            write_mode(&ndir.join("authorized_keys"), &client_pub, 0o600);
            // The node's service tools: each records its call, so the test
            // sees which one ha_propagate chose and what it asked.
            for tool in ["update-rc.d", "systemctl", "chkconfig"] {
                write_mode(
                    &ndir.join("bin").join(tool),
                    &format!(
                        "#!/bin/sh\necho \"{tool} $*\" >> {}\n",
                        ndir.join("enable.log").display()
                    ),
                    0o755,
                );
            }
            std::fs::write(
                ndir.join("sshd_config"),
                format!(
                    "ListenAddress 10.213.0.{i}\nPort 22\nHostKey {d}/hostkey\n\
                     AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
                     PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\nPidFile {d}/sshd.pid\n\
                     Subsystem sftp internal-sftp\n\
                     SetEnv HA_CONFDIR={conf} PATH={d}/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
                    d = ndir.display(),
                    conf = node.confdir().display(),
                ),
            )
            .expect("sshd_config");
            client_cfg.push_str(&format!(
                "Host {name}\n  HostName 10.213.0.{i}\n  HostKeyAlias {name}\n",
                name = node.name
            ));
        }
        std::fs::write(dir.join("known_hosts"), known).expect("known_hosts");
        client_cfg.push_str(&format!(
            "Host *\n  IdentityFile {d}/id\n  UserKnownHostsFile {d}/known_hosts\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            d = dir.display()
        ));
        std::fs::write(dir.join("ssh_config"), client_cfg).expect("ssh_config");
        Ssh { dir }
    }

    fn client_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// Starts node `i`'s sshd in its namespace, with a private /run (sshd
    /// needs /run/sshd; the host's stays untouched, and without
    /// /run/systemd the node looks like a SysV-init machine), and waits
    /// until a login works.
    fn start(&self, cluster: &TestCluster, servers: &mut Servers, i: usize) {
        let ndir = cluster.node(i).root.join("sshd");
        let script = format!(
            "mount -t tmpfs -o mode=755 tmpfs /run && mkdir /run/sshd && \
             exec {SSHD} -D -e -f {}/sshd_config 2>>{}/sshd.log",
            ndir.display(),
            ndir.display()
        );
        let child = cluster
            .netns_command(i, "sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        servers.0.push((i, child));
        let name = &cluster.node(i).name;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = cluster
                .netns_command(1, "ssh")
                .arg("-F")
                .arg(self.client_config())
                .args([name.as_str(), "true"])
                .stdin(Stdio::null())
                .output()
                .expect("ssh");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sshd of {name} does not accept the test's key: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(ndir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn enable_log(&self, cluster: &TestCluster, i: usize) -> String {
        std::fs::read_to_string(cluster.node(i).root.join("sshd/enable.log")).unwrap_or_default()
    }
}

/// ha_propagate run on node 1, in its namespace, with its environment.
fn propagate(cluster: &TestCluster, ssh: &Ssh) -> Output {
    let mut cmd = cluster.netns_command(1, bin("ha_propagate"));
    cluster.node(1).apply_env(&mut cmd);
    cmd.arg("-F")
        .arg(ssh.client_config())
        .stdin(Stdio::null())
        .output()
        .expect("run ha_propagate")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn files_arrive_identical_authkeys_0600_service_enabled_and_a_down_node_is_reported() {
    let cluster = TestCluster::new("ha_propagate", 3, 1);
    cluster.configure("# pushed from node1\n");
    let n1 = cluster.node(1);
    n1.write_authkeys(
        "# the cluster's key\nauth 2\n2 sha1 propagated-secret\n",
        0o600,
    );
    // node2 has no configuration yet; node3 has an old one with a readable
    // authkeys, which must end up 0600.
    for f in ["ha.cf", "authkeys"] {
        std::fs::remove_file(cluster.node(2).confdir().join(f)).expect("rm");
    }
    cluster.node(3).write_ha_cf("# old\n");
    cluster.node(3).write_authkeys("auth 1\n1 crc\n", 0o644);

    let ssh = Ssh::new(&cluster);
    let mut servers = Servers(Vec::new());
    ssh.start(&cluster, &mut servers, 2);
    ssh.start(&cluster, &mut servers, 3);

    let out = propagate(&cluster, &ssh);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ha_propagate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |n: &TestNode, f: &str| std::fs::read(n.confdir().join(f)).expect("read");
    for i in [2, 3] {
        let node = cluster.node(i);
        assert!(stdout.contains(&format!("{}: OK: ", node.name)), "{stdout}");
        assert_eq!(
            read(node, "ha.cf"),
            read(n1, "ha.cf"),
            "ha.cf on {}",
            node.name
        );
        assert_eq!(
            read(node, "authkeys"),
            read(n1, "authkeys"),
            "authkeys on {}",
            node.name
        );
        assert_eq!(
            mode(&node.confdir().join("authkeys")),
            0o600,
            "on {}",
            node.name
        );
        assert_eq!(
            ssh.enable_log(&cluster, i),
            "update-rc.d heartbeat defaults\nupdate-rc.d heartbeat enable\n",
            "service tools called on {}",
            node.name
        );
        // No temporary copies left behind.
        let names: Vec<String> = std::fs::read_dir(node.confdir())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains("ha_propagate")),
            "{names:?}"
        );
    }
    // ha_propagate never touches this node's own files.
    assert!(!stdout.contains("node1"), "{stdout}");

    // node3's sshd goes down; a changed ha.cf still reaches node2, node3
    // is reported and the exit status says so.
    servers.stop(3);
    let mut cf = std::fs::read_to_string(n1.confdir().join("ha.cf")).expect("ha.cf");
    cf.push_str("# second push\n");
    n1.write_ha_cf(&cf);
    let old3 = read(cluster.node(3), "ha.cf");
    let out = propagate(&cluster, &ssh);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("node2: OK: "), "{stdout}");
    assert!(
        stdout.contains("node3: FAILED: unreachable: ssh failed: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("ha_propagate: 1 of 2 nodes failed: node3"),
        "{stderr}"
    );
    assert_eq!(read(cluster.node(2), "ha.cf"), cf.as_bytes());
    assert_eq!(read(cluster.node(3), "ha.cf"), old3);
}

#[test]
fn refuses_to_spread_a_configuration_heartbeat_would_refuse() {
    let node = TestNode::new("ha_propagate-refuse");
    let out = node.run("ha_propagate", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HA Linux not configured on this node"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.configure("node node2\n");
    node.write_authkeys("auth 1\n1 sha1 secret\n", 0o644);
    let out = node.run("ha_propagate", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("authkeys"), "{stderr}");
    // Nothing was attempted: no node is named in the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("node2"));
}

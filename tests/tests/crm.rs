//! The cluster resource manager end to end on three nodes in network
//! namespaces, started with `pacemaker respawn`: the controllers elect one
//! DC, start resources, restart a resource whose monitor fails and move it
//! after migration-threshold failures, recover a killed node's resources
//! on a survivor, survive the DC's death and a non-DC controller's death
//! without restarting anything. The safety invariant (a resource is never
//! active on two live nodes) is checked from the agents' own state on every
//! poll. Waits are hang detectors, never timing assertions.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::TestCluster;
use nix::sys::signal::Signal;

/// How long any one step may take before the test gives up (a hang
/// detector: the cluster normally needs a few seconds).
const STEP: Duration = Duration::from_secs(60);

fn initial_cib(extra_config: &str, resources: &str) -> String {
    format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="o-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="o-deadtime" name="dc-deadtime" value="3s"/>
        {extra_config}
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>
      {resources}
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#
    )
}

/// A Dummy resource with a 1 s monitor.
fn dummy(id: &str, meta: &str) -> String {
    format!(
        r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy">
        <meta_attributes id="{id}-meta">{meta}</meta_attributes>
        <operations><op id="{id}-mon" name="monitor" interval="1s" timeout="10s"/></operations>
      </primitive>"#
    )
}

struct Crm {
    c: TestCluster,
    /// Nodes killed on purpose (their state files no longer count).
    dead: Vec<usize>,
}

impl Drop for Crm {
    fn drop(&mut self) {
        // Power every node off at once: a graceful stop would move
        // resources around for minutes.
        for i in 1..=self.c.nodes.len() {
            self.c.power_off(i);
        }
    }
}

fn start(test: &str, cib: &str) -> Crm {
    let c = TestCluster::new(test, 3, 1);
    c.configure("pacemaker respawn\n");
    c.prepare_crm(cib);
    for i in 1..=3 {
        c.start(i);
    }
    Crm {
        c,
        dead: Vec::new(),
    }
}

impl Crm {
    fn live(&self) -> Vec<usize> {
        (1..=self.c.nodes.len())
            .filter(|i| !self.dead.contains(i))
            .collect()
    }

    /// The live nodes where `rsc` is active, by its agent's state file.
    fn active_on(&self, rsc: &str) -> Vec<usize> {
        let on: Vec<usize> = self
            .live()
            .into_iter()
            .filter(|i| {
                self.c
                    .rsctmp(*i)
                    .join(format!("Dummy-{rsc}.state"))
                    .exists()
            })
            .collect();
        assert!(
            on.len() <= 1,
            "{rsc} is active on several nodes at once: {on:?}\n{}",
            self.logs()
        );
        on
    }

    fn logs(&self) -> String {
        (1..=self.c.nodes.len())
            .map(|i| format!("--- node{i}:\n{}", self.c.node(i).log()))
            .collect()
    }

    /// Polls `cond` until it holds (checking the safety invariant of
    /// `rscs` on the way); panics with the logs after [`STEP`].
    fn wait(&self, what: &str, rscs: &[&str], mut cond: impl FnMut(&Crm) -> bool) {
        let start = Instant::now();
        while start.elapsed() < STEP {
            for r in rscs {
                self.active_on(r);
            }
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}\n{}", self.logs());
    }

    fn crmadmin(&self, i: usize, args: &[&str]) -> String {
        let out = self.c.node(i).run("crmadmin", args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn dc(&self, i: usize) -> Option<String> {
        let out = self.crmadmin(i, &["-D", "-q"]);
        let name = out.trim();
        (!name.is_empty()).then(|| name.to_string())
    }

    /// The DC every live node agrees on.
    fn agreed_dc(&self) -> Option<String> {
        let dcs: Vec<Option<String>> = self.live().iter().map(|i| self.dc(*i)).collect();
        let first = dcs.first()?.clone()?;
        dcs.iter()
            .all(|d| d.as_deref() == Some(first.as_str()))
            .then_some(first)
    }

    fn cib(&self, i: usize) -> String {
        let out = self.c.node(i).run("cibadmin", &["-Q"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn dc_index(&self) -> usize {
        let dc = self.agreed_dc().expect("a DC");
        dc.trim_start_matches("node").parse().expect("node name")
    }
}

fn state_mtime(c: &TestCluster, i: usize, rsc: &str) -> i64 {
    std::fs::metadata(c.rsctmp(i).join(format!("Dummy-{rsc}.state")))
        .map(|m| m.mtime_nsec() + m.mtime() * 1_000_000_000)
        .unwrap_or(0)
}

#[test]
fn one_dc_starts_resources_and_recovers_them_when_a_node_dies() {
    let mut crm = start(
        "crmfail",
        &initial_cib("", &format!("{}{}", dummy("d1", ""), dummy("d2", ""))),
    );
    let rscs = ["d1", "d2"];
    crm.wait("one DC agreed by all nodes", &rscs, |c| {
        c.agreed_dc().is_some()
    });
    let dc = crm.agreed_dc().expect("DC");
    let status = crm.crmadmin(1, &["-S", &dc]);
    assert!(
        status.starts_with(&format!("Controller on {dc} in state S_")),
        "{status}"
    );
    crm.wait("d1 and d2 started", &rscs, |c| {
        c.active_on("d1").len() == 1 && c.active_on("d2").len() == 1
    });
    // Every node is in the CIB with its history.
    let cib = crm.cib(1);
    for i in 1..=3 {
        assert!(
            cib.contains(&format!("uname=\"node{i}\"")),
            "node{i} missing from the CIB:\n{cib}"
        );
    }
    assert!(cib.contains("d1_last_0"), "{cib}");

    // A non-DC controller killed: heartbeat respawns it, it rejoins, and
    // nothing is restarted (its lrmd kept the history).
    let dc_i = crm.dc_index();
    let other = (1..=3).find(|i| *i != dc_i).expect("a non-DC node");
    let before: Vec<i64> = rscs
        .iter()
        .map(|r| (1..=3).map(|i| state_mtime(&crm.c, i, r)).sum())
        .collect();
    let pid = crm.c.daemon_pid(other, "crm/crmd").expect("crmd pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).expect("kill crmd");
    crm.wait("crmd respawned and the DC idle again", &rscs, |c| {
        c.c.daemon_pid(other, "crm/crmd").is_some_and(|p| p != pid)
            && c.crmadmin(other, &["-S", &dc]).contains("S_IDLE")
    });
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<i64> = rscs
        .iter()
        .map(|r| (1..=3).map(|i| state_mtime(&crm.c, i, r)).sum())
        .collect();
    assert_eq!(before, after, "resources were restarted\n{}", crm.logs());

    // The node running d1 dies: d1 is started on a survivor.
    let victim = crm.active_on("d1")[0];
    crm.c.power_off(victim);
    crm.dead.push(victim);
    crm.wait("d1 recovered on a survivor", &rscs, |c| {
        c.active_on("d1").len() == 1 && c.active_on("d2").len() == 1
    });
    assert_ne!(crm.active_on("d1"), vec![victim]);
    crm.wait("a DC among the survivors", &rscs, |c| {
        c.agreed_dc().is_some()
    });
}

#[test]
fn a_failed_monitor_restarts_in_place_then_moves_after_migration_threshold() {
    let crm = start(
        "crmmon",
        &initial_cib(
            "",
            &dummy(
                "m1",
                r#"<nvpair id="m1-mt" name="migration-threshold" value="2"/>"#,
            ),
        ),
    );
    let rscs = ["m1"];
    crm.wait("m1 started", &rscs, |c| c.active_on("m1").len() == 1);
    let first = crm.active_on("m1")[0];
    // The agent's state vanishes: its monitor fails; it is restarted where
    // it was (one failure is below the threshold).
    let state = crm.c.rsctmp(first).join("Dummy-m1.state");
    std::fs::remove_file(&state).expect("remove state");
    crm.wait("m1 restarted in place with fail-count 1", &rscs, |c| {
        c.active_on("m1") == vec![first] && c.cib(first).contains("fail-count-m1#monitor_1000")
    });
    // A second failure reaches the threshold: it moves.
    std::thread::sleep(Duration::from_secs(2));
    std::fs::remove_file(&state).expect("remove state");
    crm.wait("m1 moved away after two failures", &rscs, |c| {
        let on = c.active_on("m1");
        on.len() == 1 && on[0] != first
    });
}

#[test]
fn the_dc_dies_and_a_new_dc_keeps_resources_running() {
    let mut crm = start("crmdc", &initial_cib("", &dummy("k1", "")));
    let rscs = ["k1"];
    crm.wait("k1 started", &rscs, |c| c.active_on("k1").len() == 1);
    crm.wait("one DC", &rscs, |c| c.agreed_dc().is_some());
    let dc = crm.dc_index();
    let on = crm.active_on("k1")[0];
    crm.c.power_off(dc);
    crm.dead.push(dc);
    crm.wait("a new DC among the survivors", &rscs, |c| {
        c.agreed_dc().is_some_and(|d| d != format!("node{dc}"))
    });
    crm.wait("k1 running on a live node", &rscs, |c| {
        c.active_on("k1").len() == 1
    });
    if on != dc {
        assert_eq!(
            crm.active_on("k1"),
            vec![on],
            "k1 moved although its node lives"
        );
    }
}

#[test]
fn crm_resource_moves_a_resource_and_a_node_leaving_hands_its_resources_over() {
    let mut crm = start("crmmove", &initial_cib("", &dummy("v1", "")));
    let rscs = ["v1"];
    crm.wait("v1 started", &rscs, |c| c.active_on("v1").len() == 1);
    let first = crm.active_on("v1")[0];
    let target = (1..=3).find(|i| *i != first).expect("another node");
    let out = crm.c.node(1).run(
        "crm_resource",
        &["-M", "-r", "v1", "-N", &format!("node{target}")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crm.wait("v1 moved where crm_resource -M put it", &rscs, |c| {
        c.active_on("v1") == vec![target]
    });
    // Clear the move so v1 may run anywhere, then stop the node that
    // runs it the proper way: it hands v1 over before it leaves.
    let out = crm.c.node(1).run("crm_resource", &["-U", "-r", "v1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crm.c.node(target).run("heartbeat", &["-k"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crm.dead.push(target);
    crm.wait("v1 running on a remaining node", &rscs, |c| {
        c.active_on("v1").len() == 1
    });
    assert!(
        !crm.c.rsctmp(target).join("Dummy-v1.state").exists(),
        "the leaving node did not stop v1 before it left\n{}",
        crm.logs()
    );
}

/// A test fence agent: `off`/`reboot` powers the target node of the test
/// cluster off (every process of that node killed, found by its state
/// directory, given per node in the `roots` parameter).
const POWER_AGENT: &str = r#"#!/bin/sh
action=""; target=""; roots=""
while IFS= read -r line; do
    case "$line" in
        action=*) action=${line#action=} ;;
        nodename=*) target=${line#nodename=} ;;
        roots=*) roots=${line#roots=} ;;
    esac
done
[ "$1" = "-o" ] && action=$2
case "$action" in
    metadata)
        echo '<?xml version="1.0"?><resource-agent name="fence_hbtest" shortdesc="test power switch"><parameters><parameter name="roots"><content type="string"/></parameter></parameters><actions><action name="on"/><action name="off"/><action name="reboot"/><action name="status"/><action name="monitor"/><action name="list"/><action name="metadata"/></actions></resource-agent>'
        exit 0 ;;
    monitor|status|on) exit 0 ;;
    list) for r in $roots; do echo "${r%%=*}"; done; exit 0 ;;
    off|reboot)
        root=$(echo "$roots" | tr ' ' '\n' | sed -n "s|^$target=||p")
        [ -n "$root" ] || exit 1
        marker="HA_STATEDIR=$root/lib"
        for _ in 1 2 3; do
            for p in /proc/[0-9]*; do
                if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qxF "$marker"; then
                    kill -9 "${p#/proc/}" 2>/dev/null
                fi
            done
            sleep 0.05
        done
        exit 0 ;;
esac
exit 1
"#;

/// A three-node cluster with fencing on through `fence_hbtest` (its
/// `roots` parameter names the nodes it can power off) and a Dummy `p1`.
fn start_fenced(test: &str, can_power_off: bool) -> Crm {
    start_fenced_with(test, can_power_off, "", "")
}

/// [`start_fenced`] with more cluster options and constraints.
fn start_fenced_with(
    test: &str,
    can_power_off: bool,
    extra_config: &str,
    constraints: &str,
) -> Crm {
    use std::os::unix::fs::PermissionsExt;
    let c = TestCluster::new(test, 3, 1);
    // stonithd finds the test's fence agent through a wrapper that
    // heartbeat starts from crm_daemon_dir (it gives its children a clean
    // environment).
    let tools = c.node(1).root.join("crm-daemons");
    let agents = c.node(1).root.join("agents");
    std::fs::create_dir_all(&tools).expect("dir");
    std::fs::create_dir_all(&agents).expect("dir");
    let write = |p: PathBuf, text: &str| {
        std::fs::write(&p, text).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    write(agents.join("fence_hbtest"), POWER_AGENT);
    write(
        tools.join("stonithd"),
        &format!(
            "#!/bin/sh\nFENCE_AGENT_DIR={} exec {} \"$@\"\n",
            agents.display(),
            integration_tests::bin("stonithd").display()
        ),
    );
    let roots: Vec<String> = if can_power_off {
        (1..=3)
            .map(|i| format!("node{i}={}", c.node(i).root.display()))
            .collect()
    } else {
        vec!["nobody=/nonexistent".to_string()]
    };
    let device = format!(
        r#"<primitive id="power" class="stonith" type="fence_hbtest">
        <instance_attributes id="power-ia">
          <nvpair id="power-hosts" name="pcmk_host_list" value="node1 node2 node3"/>
          <nvpair id="power-roots" name="roots" value="{}"/>
        </instance_attributes>
      </primitive>"#,
        roots.join(" ")
    );
    let cib = initial_cib(extra_config, &format!("{device}{}", dummy("p1", "")))
        .replace(r#"value="false"/>"#, r#"value="true"/>"#)
        .replace(
            "<constraints/>",
            &format!("<constraints>{constraints}</constraints>"),
        );
    c.configure(&format!(
        "crm_daemon_dir {}\npacemaker respawn\n",
        tools.display()
    ));
    c.prepare_crm(&cib);
    for i in 1..=3 {
        c.start(i);
    }
    Crm {
        c,
        dead: Vec::new(),
    }
}

#[test]
fn a_partitioned_node_is_fenced_by_the_majority_which_recovers_its_resources() {
    let mut crm = start_fenced("crmpart", true);
    let rscs = ["p1"];
    crm.wait("p1 started", &rscs, |c| c.active_on("p1").len() == 1);
    let x = crm.active_on("p1")[0];
    let majority: Vec<usize> = (1..=3).filter(|i| *i != x).collect();
    crm.c.partition(&[x], 0);
    // The majority fences node x (its processes die), then starts p1.
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < STEP,
            "p1 not recovered by the majority\n{}",
            crm.logs()
        );
        if !crm.dead.contains(&x) && crm.c.processes(x).is_empty() {
            crm.dead.push(x);
        }
        let on = crm.active_on("p1");
        if crm.dead.contains(&x) && on.len() == 1 && majority.contains(&on[0]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = crm.logs();
    assert!(logs.contains(&format!("Node node{x} was fenced")), "{logs}");
    // The DC kept the input that planned the fencing in the pe-warn
    // series (the scheduler warned about it), and crm_simulate replays it.
    let warned: Vec<PathBuf> = majority
        .iter()
        .flat_map(|i| {
            std::fs::read_dir(crm.c.node(*i).root.join("lib/pengine"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
        })
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pe-warn-"))
        })
        .collect();
    let replays = warned.iter().any(|f| {
        let out = std::process::Command::new(integration_tests::bin("crm_simulate"))
            .arg("-x")
            .arg(f)
            .arg("-S")
            .output()
            .expect("crm_simulate");
        String::from_utf8_lossy(&out.stdout).contains(&format!("Fence (reboot) node{x}"))
    });
    assert!(
        replays,
        "no pe-warn input plans the fencing: {warned:?}\n{logs}"
    );
}

#[test]
fn without_a_working_fence_device_nothing_is_recovered_and_the_minority_stops() {
    let crm = start_fenced("crmnofence", false);
    let rscs = ["p1"];
    crm.wait("p1 started", &rscs, |c| c.active_on("p1").len() == 1);
    let x = crm.active_on("p1")[0];
    crm.c.partition(&[x], 0);
    // The minority has no quorum: it stops p1 itself.
    crm.wait("the minority stopped p1", &rscs, |c| {
        c.active_on("p1").is_empty()
    });
    // The majority cannot fence it: fencing fails and p1 stays stopped
    // (a false success would start it while node x may still run it).
    crm.wait("a failed fencing attempt", &rscs, |c| {
        c.logs().contains(&format!("Fencing of node{x} failed"))
    });
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert!(
            crm.active_on("p1").is_empty(),
            "p1 recovered without fencing\n{}",
            crm.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether node `i`'s eth0 holds `ip` (read inside its namespace).
#[test]
fn with_no_quorum_policy_suicide_a_node_alone_fences_itself() {
    // Only node 3 can run the power switch, so the majority cannot fence
    // it: what takes node 3 down is its own controller, alone in its
    // partition without quorum.
    let crm = start_fenced_with(
        "crmsuicide",
        true,
        r#"<nvpair id="o-nqp" name="no-quorum-policy" value="suicide"/>"#,
        r#"<rsc_location id="power-not-1" rsc="power" node="node1" score="-INFINITY"/>
           <rsc_location id="power-not-2" rsc="power" node="node2" score="-INFINITY"/>
           <rsc_location id="p1-on-1" rsc="p1" node="node1" score="100"/>"#,
    );
    let rscs = ["p1"];
    crm.wait("p1 started on node1", &rscs, |c| c.active_on("p1") == [1]);
    crm.wait("one DC", &rscs, |c| c.agreed_dc().is_some());
    crm.c.partition(&[3], 0);
    crm.wait("node3 fenced itself", &rscs, |c| {
        c.c.processes(3).is_empty()
    });
    let log3 = crm.c.node(3).log();
    assert!(
        log3.contains("Fencing this node (node3) itself"),
        "{}",
        crm.logs()
    );
    // The majority keeps quorum and its resource: nothing of its own is
    // fenced, p1 never stopped.
    assert!(!crm.c.processes(1).is_empty() && !crm.c.processes(2).is_empty());
    assert_eq!(crm.active_on("p1"), [1]);
}

fn has_ip(c: &TestCluster, i: usize, ip: &str) -> bool {
    let Some(pid) = c.pid(i) else { return false };
    let out = std::process::Command::new("ip")
        .args(["netns", "identify", &pid.to_string()])
        .output();
    let Ok(out) = out else { return false };
    let ns = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if ns.is_empty() {
        return false;
    }
    std::process::Command::new("ip")
        .args(["-n", &ns, "-o", "addr", "show", "dev", "eth0"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {ip}/")))
        .unwrap_or(false)
}

#[test]
fn a_group_of_a_virtual_ip_and_a_service_follows_its_location_and_fails_over_together_after_fencing(
) {
    let group = r#"<group id="web">
        <primitive id="web-ip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="web-ip-ia">
            <nvpair id="web-ip-ip" name="ip" value="10.213.0.100"/>
            <nvpair id="web-ip-mask" name="cidr_netmask" value="24"/>
            <nvpair id="web-ip-nic" name="nic" value="eth0"/>
          </instance_attributes>
          <operations><op id="web-ip-mon" name="monitor" interval="2s" timeout="20s"/></operations>
        </primitive>
        <primitive id="web-svc" class="ocf" provider="heartbeat" type="Dummy">
          <operations><op id="web-svc-mon" name="monitor" interval="2s" timeout="20s"/></operations>
        </primitive>
      </group>"#;
    // Fencing on, with fence_dummy (from fence-agents): the dead node is
    // "fenced" (it is already off) before the group is recovered.
    let fence = r#"<primitive id="fence" class="stonith" type="fence_dummy">
        <instance_attributes id="fence-ia">
          <nvpair id="fence-hosts" name="pcmk_host_list" value="node1 node2 node3"/>
        </instance_attributes>
      </primitive>"#;
    let cib = initial_cib("", &format!("{fence}{group}"))
        .replace(r#"value="false"/>"#, r#"value="true"/>"#)
        .replace(
            "<constraints/>",
            r#"<constraints><rsc_location id="web-prefers-3" rsc="web" node="node3" score="100"/></constraints>"#,
        );
    let mut crm = start("crmgroup", &cib);
    let rscs = ["web-svc"];
    crm.wait("the group started on node3 (its location)", &rscs, |c| {
        c.active_on("web-svc") == vec![3] && has_ip(&c.c, 3, "10.213.0.100")
    });
    crm.c.power_off(3);
    crm.dead.push(3);
    crm.wait("the group started together on one survivor", &rscs, |c| {
        let on = c.active_on("web-svc");
        on.len() == 1 && has_ip(&c.c, on[0], "10.213.0.100")
    });
    let on = crm.active_on("web-svc")[0];
    let other = if on == 1 { 2 } else { 1 };
    assert!(
        !has_ip(&crm.c, other, "10.213.0.100"),
        "the IP is on both survivors"
    );
}

/// Sets a cluster option (crm_config) through crm_attribute on node `i`.
fn set_option(crm: &Crm, i: usize, name: &str, value: &str) {
    let out = crm.c.node(i).run(
        "crm_attribute",
        &["-t", "crm_config", "-n", name, "-v", value],
    );
    assert!(
        out.status.success(),
        "crm_attribute {name}={value}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_failure_expires_after_failure_timeout_and_the_resource_comes_back() {
    // f1 prefers node1; one failure bans it there (migration-threshold=1)
    // until the failure expires 6 s later. Nothing else happens in the
    // cluster, and cluster-recheck-interval is its 15-minute default: only
    // the scheduler's own "recheck by" brings f1 back.
    let mut cib = initial_cib(
        "",
        &dummy(
            "f1",
            r#"<nvpair id="f1-mt" name="migration-threshold" value="1"/>
               <nvpair id="f1-ft" name="failure-timeout" value="6s"/>"#,
        ),
    );
    cib = cib.replace(
        "<constraints/>",
        r#"<constraints><rsc_location id="f1-pref" rsc="f1" node="node1" score="100"/></constraints>"#,
    );
    let crm = start("crmexpire", &cib);
    let rscs = ["f1"];
    crm.wait("f1 started on node1", &rscs, |c| c.active_on("f1") == [1]);
    std::fs::remove_file(crm.c.rsctmp(1).join("Dummy-f1.state")).expect("remove state");
    crm.wait(
        "f1 moved off node1 after its failure",
        &rscs,
        |c| matches!(c.active_on("f1").as_slice(), [n] if *n != 1),
    );
    crm.wait("f1 back on node1 once the failure expired", &rscs, |c| {
        c.active_on("f1") == [1]
    });
    let logs = crm.logs();
    assert!(logs.contains("cluster recheck"), "{logs}");
    // The expired fail count is gone from the status section.
    crm.wait("the fail count cleared", &rscs, |c| {
        !c.cib(1).contains("fail-count-f1")
    });
}

#[test]
fn standby_moves_resources_away_and_maintenance_mode_leaves_them_alone() {
    let mut cib = initial_cib("", &dummy("s1", ""));
    cib = cib.replace(
        "<constraints/>",
        r#"<constraints><rsc_location id="s1-pref" rsc="s1" node="node1" score="100"/></constraints>"#,
    );
    let crm = start("crmstandby", &cib);
    let rscs = ["s1"];
    crm.wait("s1 started on node1", &rscs, |c| c.active_on("s1") == [1]);
    // Standby: node1 may run nothing; s1 moves.
    let out = crm
        .c
        .node(2)
        .run("crm_standby", &["-N", "node1", "-v", "on"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crm.wait(
        "s1 moved off the standby node",
        &rscs,
        |c| matches!(c.active_on("s1").as_slice(), [n] if *n != 1),
    );
    let out = crm
        .c
        .node(2)
        .run("crm_standby", &["-N", "node1", "-v", "off"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crm.wait("s1 back on node1 once it is online again", &rscs, |c| {
        c.active_on("s1") == [1]
    });
    // Maintenance mode: the cluster stops watching. s1's state vanishes
    // (its monitor would fail) and nothing is done about it...
    set_option(&crm, 2, "maintenance-mode", "true");
    crm.wait("the monitor cancelled", &rscs, |c| {
        !c.cib(1)
            .contains(r#"operation_key="s1_monitor_1000" operation="monitor""#)
    });
    std::fs::remove_file(crm.c.rsctmp(1).join("Dummy-s1.state")).expect("remove state");
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert!(
            crm.active_on("s1").is_empty() && !crm.cib(1).contains("fail-count-s1"),
            "s1 was recovered or failed in maintenance mode\n{}",
            crm.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // ... until maintenance ends: the probe finds it stopped, it starts.
    set_option(&crm, 2, "maintenance-mode", "false");
    crm.wait("s1 running again after maintenance", &rscs, |c| {
        c.active_on("s1") == [1]
    });
}

#[test]
fn a_node_whose_resources_cannot_stop_leaves_at_shutdown_escalation() {
    // h1 (a Heartbeat resource script) takes 60 s to stop;
    // shutdown-escalation is 3 s: a node asked to stop leaves without
    // waiting for it.
    use std::os::unix::fs::PermissionsExt;
    let c = TestCluster::new("crmescalate", 3, 1);
    c.configure("pacemaker respawn\n");
    for i in 1..=3 {
        let dir = c.node(i).confdir().join("resource.d");
        std::fs::create_dir_all(&dir).expect("resource.d");
        let state = c.rsctmp(i).join("Dummy-h1.state");
        let script = format!(
            "#!/bin/sh\nstate={}\ncase \"$1\" in\nstart) touch \"$state\" ;;\nstop) [ -f \"$state\" ] && sleep 60; rm -f \"$state\" ;;\nstatus) if [ -f \"$state\" ]; then echo running; else echo stopped; fi ;;\n*) exit 1 ;;\nesac\nexit 0\n",
            state.display()
        );
        let path = dir.join("slowstop");
        std::fs::write(&path, script).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let h1 = r#"<primitive id="h1" class="heartbeat" type="slowstop">
        <operations><op id="h1-mon" name="monitor" interval="1s" timeout="10s"/>
          <op id="h1-stop" name="stop" interval="0" timeout="120s"/></operations>
      </primitive>"#;
    c.prepare_crm(&initial_cib(
        r#"<nvpair id="o-esc" name="shutdown-escalation" value="3s"/>"#,
        h1,
    ));
    for i in 1..=3 {
        c.start(i);
    }
    let mut crm = Crm {
        c,
        dead: Vec::new(),
    };
    let rscs = ["h1"];
    crm.wait("h1 started", &rscs, |c| c.active_on("h1").len() == 1);
    let on = crm.active_on("h1")[0];
    let mut stop = crm
        .c
        .node(on)
        .command("heartbeat")
        .arg("-k")
        .spawn()
        .expect("heartbeat -k");
    // The stop hangs: the node is not safe to count (no invariant check
    // while it leaves; with fencing enabled it would be fenced).
    crm.dead.push(on);
    crm.wait("the node's controller gone", &[], |c| {
        c.c.daemon_pid(on, "crm/crmd").is_none()
    });
    let _ = stop.wait();
    let log = crm.c.node(on).log();
    assert!(
        log.contains("shutdown escalation"),
        "the node did not leave at shutdown-escalation\n{}",
        crm.logs()
    );
}

#[test]
fn cluster_recheck_interval_reevaluates_time_based_rules() {
    // c1 prefers node1 and node2 by turns every 15 s (date_spec: the
    // scheduler cannot say when that changes, so only
    // cluster-recheck-interval notices). Nothing else happens.
    let rule = |id: &str, node: &str, secs: &str| {
        format!(
            r##"<rsc_location id="{id}" rsc="c1"><rule id="{id}-r" score="100"><expression id="{id}-n" attribute="#uname" operation="eq" value="{node}"/><date_expression id="{id}-d" operation="date_spec"><date_spec id="{id}-s" seconds="{secs}"/></date_expression></rule></rsc_location>"##
        )
    };
    let cib = initial_cib(
        r#"<nvpair id="o-recheck" name="cluster-recheck-interval" value="2s"/>"#,
        &dummy("c1", ""),
    )
    .replace(
        "<constraints/>",
        &format!(
            "<constraints>{}{}{}{}</constraints>",
            rule("c1-a", "node1", "0-14"),
            rule("c1-b", "node2", "15-29"),
            rule("c1-c", "node1", "30-44"),
            rule("c1-d", "node2", "45-59")
        ),
    );
    let crm = start("crmrecheck", &cib);
    let rscs = ["c1"];
    crm.wait("c1 started on node1 or node2", &rscs, |c| {
        matches!(c.active_on("c1").as_slice(), [1] | [2])
    });
    let first = crm.active_on("c1")[0];
    let other = 3 - first;
    crm.wait("c1 moved when the quarter-minute turned", &rscs, |c| {
        c.active_on("c1") == [other]
    });
    assert!(crm.logs().contains("cluster recheck"), "{}", crm.logs());
}

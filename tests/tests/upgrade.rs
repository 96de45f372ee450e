//! The upgrade from a Heartbeat 2.1 cluster (docs/upgrade.md), step by
//! step on three nodes in network namespaces: a 2.1-era cib.xml
//! (hacluster:haclient, 0600, no `validate-with`, `<attributes>` wrappers,
//! `is_managed_default`, `target_role`, a location rule) and a `crm yes`
//! ha.cf are taken over on the first node while the service the old cluster
//! left running (a Dummy whose state file predates the test) keeps
//! running; the 2.1-era commands of the guide run against it; `cibadmin
//! --upgrade --force` converts the CIB; the other nodes join; management is
//! given back. The service is never stopped or restarted: its state file
//! keeps its old mtime and its operation history keeps its call ids.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use cib_xml::doc::parse_cib;
use cib_xml::xml::Limits;
use cib_xml::Element;
use integration_tests::TestCluster;

/// How long any one step may take before the test gives up (a hang
/// detector: each step normally takes a few seconds).
const STEP: Duration = Duration::from_secs(60);

/// The CIB a Heartbeat 2.1 cluster left behind after the guide's first
/// step (`is_managed_default` false): the 0.6 dialect as 2.1.3 wrote it.
const CIB_2_1: &str = r##"<cib admin_epoch="0" epoch="27" num_updates="4" have_quorum="true" ignore_dtd="false" num_peers="3" cib_feature_revision="2.0" generated="true" ccm_transition="3" crm_feature_set="2.0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <attributes>
          <nvpair id="cib-bootstrap-options-symmetric_cluster" name="symmetric_cluster" value="true"/>
          <nvpair id="cib-bootstrap-options-no_quorum_policy" name="no_quorum_policy" value="ignore"/>
          <nvpair id="cib-bootstrap-options-default_resource_stickiness" name="default_resource_stickiness" value="100"/>
          <nvpair id="cib-bootstrap-options-stonith_enabled" name="stonith_enabled" value="false"/>
          <nvpair id="cib-bootstrap-options-dc_deadtime" name="dc_deadtime" value="3s"/>
          <nvpair id="cib-bootstrap-options-is_managed_default" name="is_managed_default" value="false"/>
        </attributes>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy">
        <meta_attributes id="web-meta_attributes">
          <attributes>
            <nvpair id="web-target_role" name="target_role" value="started"/>
            <nvpair id="web-is_managed" name="is_managed" value="true"/>
          </attributes>
        </meta_attributes>
        <operations>
          <op id="web-monitor" name="monitor" interval="2s" timeout="20s" on_fail="restart"/>
        </operations>
      </primitive>
    </resources>
    <constraints>
      <rsc_location id="web-prefers-node1" rsc="web">
        <rule id="web-prefers-node1-rule" score="100">
          <expression id="web-prefers-node1-expr" attribute="#uname" operation="eq" value="node1"/>
        </rule>
      </rsc_location>
    </constraints>
  </configuration>
  <status/>
</cib>
"##;

struct Upgrade {
    c: TestCluster,
}

impl Drop for Upgrade {
    fn drop(&mut self) {
        for i in 1..=self.c.nodes.len() {
            self.c.power_off(i);
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Upgrade {
    fn logs(&self) -> String {
        (1..=self.c.nodes.len())
            .map(|i| format!("--- node{i}:\n{}", self.c.node(i).log()))
            .collect()
    }

    /// Runs a tool on node `i` and insists on success.
    fn ok(&self, i: usize, tool: &str, args: &[&str]) -> String {
        let out = self.c.node(i).run(tool, args);
        assert!(
            out.status.success(),
            "{tool} {} failed: {}\n{}",
            args.join(" "),
            text(&out),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, what: &str, mut cond: impl FnMut(&Upgrade) -> bool) {
        let start = Instant::now();
        while start.elapsed() < STEP {
            self.check_web_safe();
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("timed out waiting for {what}\n{}", self.logs());
    }

    /// The service never runs anywhere but node1 (where the old cluster
    /// left it) and never stops there.
    fn check_web_safe(&self) {
        for i in 2..=3 {
            assert!(
                !self.c.rsctmp(i).join("Dummy-web.state").exists(),
                "web was started on node{i}\n{}",
                self.logs()
            );
        }
        assert!(
            self.c.rsctmp(1).join("Dummy-web.state").exists(),
            "web was stopped on node1\n{}",
            self.logs()
        );
    }

    fn cib(&self, i: usize) -> Element {
        let xml = self.ok(i, "cibadmin", &["-Q"]);
        parse_cib(&xml, &Limits::default()).expect("cibadmin -Q prints a CIB")
    }

    fn crm_mon(&self, i: usize) -> String {
        let out = self.c.node(i).run("crm_mon", &["-1"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// web's operation history on node1: (operation key, call-id) of every
    /// lrm_rsc_op.
    fn web_history(&self) -> Vec<(String, String)> {
        let cib = self.cib(1);
        let mut ops = Vec::new();
        cib.walk(&mut |e: &Element| {
            if e.name == "node_state" && e.attr("uname") == Some("node1") {
                e.walk(&mut |r: &Element| {
                    if r.name == "lrm_resource" && r.attr("id") == Some("web") {
                        for op in r.children.iter().filter(|o| o.name == "lrm_rsc_op") {
                            ops.push((
                                op.attr("id").unwrap_or("").to_string(),
                                op.attr("operation_key").unwrap_or("").to_string(),
                                op.attr("call-id").unwrap_or("").to_string(),
                            ));
                        }
                    }
                });
            }
        });
        ops.sort();
        ops.into_iter().map(|(_, k, c)| (k, c)).collect()
    }
}

fn nvpair_value(cib: &Element, section: &[&str], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = cib.path(section) {
        s.walk(&mut |e: &Element| {
            if e.name == "nvpair" && e.attr("name") == Some(name) {
                out.push(e.attr("value").unwrap_or("").to_string());
            }
        });
    }
    out
}

#[test]
fn a_heartbeat_2_1_cluster_upgrades_without_restarting_its_service() {
    let c = TestCluster::new("upgrade21", 3, 1);
    // The 2.1 ha.cf: `crm yes`, which heartbeat reads as `pacemaker on`.
    c.configure("crm yes\n");
    c.prepare_crm(CIB_2_1);
    let up = Upgrade { c };
    let check = up.ok(1, "heartbeat", &["--check"]);
    assert!(check.contains("\npacemaker on\n"), "{check}");

    // The guide's restore: only the first node holds the CIB, owned by
    // hacluster:haclient with mode 0600 as Heartbeat 2.1 kept it.
    let haclient = nix::unistd::Group::from_name("haclient")
        .expect("group lookup")
        .expect("group haclient (test.sh installs heartbeat)");
    let cib_path = up.c.node(1).root.join("lib/crm/cib.xml");
    nix::unistd::chown(&cib_path, None, Some(haclient.gid)).expect("chgrp");
    std::fs::set_permissions(&cib_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    for i in 2..=3 {
        std::fs::remove_file(up.c.node(i).root.join("lib/crm/cib.xml")).expect("wipe cib");
    }
    // The service the old cluster left running on node1, an hour ago.
    let state = up.c.rsctmp(1).join("Dummy-web.state");
    std::fs::write(&state, "").expect("state file");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&state)
        .and_then(|f| f.set_modified(an_hour_ago))
        .expect("set mtime");
    let mtime = || std::fs::metadata(&state).map(|m| (m.mtime(), m.mtime_nsec()));
    let started_at = mtime().expect("state mtime");

    // The first node starts on the 2.1 CIB, finds web running and leaves
    // it where it is.
    up.c.start(1);
    up.wait("node1 DC with web found running on node1", |u| {
        u.crm_mon(1).contains("Started node1") && !u.web_history().is_empty()
    });
    let history = up.web_history();
    assert!(
        history
            .iter()
            .all(|(k, _)| !k.starts_with("web_start") && !k.starts_with("web_stop")),
        "web was started or stopped: {history:?}\n{}",
        up.logs()
    );

    // The 2.1-era commands of the guide, on the 0.6 CIB: the cluster option
    // with its old name, read and set in place (inside the <attributes>
    // wrapper, no second pair created)...
    let value = up.ok(
        1,
        "crm_attribute",
        &[
            "-t",
            "crm_config",
            "-n",
            "is_managed_default",
            "-G",
            "--quiet",
        ],
    );
    assert_eq!(value.trim(), "false");
    up.ok(
        1,
        "crm_attribute",
        &[
            "-t",
            "crm_config",
            "-n",
            "is_managed_default",
            "-v",
            "false",
        ],
    );
    let cib = up.cib(1);
    assert_eq!(
        nvpair_value(&cib, &["configuration", "crm_config"], "is_managed_default"),
        ["false"]
    );
    // ... and the resource's own is_managed removed so the default applies.
    up.ok(
        1,
        "crm_resource",
        &["-r", "web", "--meta", "-d", "is_managed"],
    );
    let cib = up.cib(1);
    assert!(
        nvpair_value(&cib, &["configuration", "resources"], "is_managed").is_empty(),
        "is_managed still set on web"
    );

    // The upgrade.
    up.ok(1, "cibadmin", &["--upgrade", "--force"]);
    let cib = up.cib(1);
    assert_eq!(cib.attr("validate-with"), Some("pacemaker-3.9"));
    assert!(cib.find(&|e| e.name == "attributes").is_none());
    assert_eq!(
        nvpair_value(&cib, &["configuration", "rsc_defaults"], "is-managed"),
        ["false"]
    );
    assert_eq!(
        nvpair_value(
            &cib,
            &["configuration", "rsc_defaults"],
            "resource-stickiness"
        ),
        ["100"]
    );
    assert_eq!(
        nvpair_value(&cib, &["configuration", "crm_config"], "stonith-enabled"),
        ["false"]
    );
    assert_eq!(
        nvpair_value(&cib, &["configuration", "resources"], "target-role"),
        ["started"]
    );
    let rule = cib
        .find_id("web-prefers-node1-expr", Some("expression"))
        .expect("the location rule survives");
    assert_eq!(rule.attr("value"), Some("node1"));
    up.wait("web shown unmanaged", |u| {
        u.crm_mon(1).contains("Started node1 (unmanaged)")
    });
    let before = up.web_history();

    // The other nodes join and take the upgraded CIB.
    up.c.start(2);
    up.c.start(3);
    up.wait("all three nodes online with the upgraded CIB", |u| {
        u.crm_mon(1).contains("Online: [ node1 node2 node3 ]")
            && (2..=3).all(|i| u.cib(i).attr("validate-with") == Some("pacemaker-3.9"))
    });

    // `crm yes` runs the daemons as `pacemaker respawn` does: a killed
    // daemon is restarted (heartbeat never reboots the node for it).
    let crmd = up.c.daemon_pid(3, "crm/crmd").expect("crmd runs on node3");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(crmd),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill crmd");
    up.wait("crmd respawned on node3 and back online", |u| {
        u.c.daemon_pid(3, "crm/crmd").is_some_and(|p| p != crmd)
            && u.crm_mon(1).contains("Online: [ node1 node2 node3 ]")
    });

    // The 2.1 name is refused by the upgraded CIB; the new one is used.
    let out = up.c.node(1).run(
        "crm_attribute",
        &["-t", "crm_config", "-n", "is_managed_default", "-v", "true"],
    );
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    up.ok(
        1,
        "crm_attribute",
        &["-t", "rsc_defaults", "-n", "is-managed", "-v", "true"],
    );
    up.wait("web managed again on node1 with its monitor", |u| {
        let mon = u.crm_mon(1);
        mon.contains("Started node1")
            && !mon.contains("unmanaged")
            && u.web_history()
                .iter()
                .any(|(k, _)| k.starts_with("web_monitor_2000"))
    });
    // Give the cluster a few monitor intervals to do anything it would.
    std::thread::sleep(Duration::from_secs(5));
    up.check_web_safe();
    assert_eq!(mtime().expect("state"), started_at, "web was restarted");
    let after = up.web_history();
    for op in &before {
        assert!(
            after.contains(op),
            "web's history changed: before {before:?}, after {after:?}\n{}",
            up.logs()
        );
    }
    assert!(
        after
            .iter()
            .all(|(k, _)| !k.starts_with("web_start") && !k.starts_with("web_stop")),
        "web was started or stopped: {after:?}\n{}",
        up.logs()
    );
}

/// Heartbeat 2.1 wrapped every attribute set's nvpairs in `<attributes>`:
/// cibadmin reads that dialect and `--upgrade --force` flattens it.
#[test]
fn cibadmin_upgrades_a_2_1_cib_with_its_attributes_wrappers() {
    let node = integration_tests::TestNode::new("upgrade21-file");
    let file = node.root.join("cib.xml");
    std::fs::write(&file, CIB_2_1).expect("write cib");
    let out = node
        .command("cibadmin")
        .args(["--upgrade", "--force"])
        .env("CIB_file", &file)
        .output()
        .expect("run cibadmin");
    assert!(out.status.success(), "{}", text(&out));
    let up = std::fs::read_to_string(&file).expect("read cib");
    assert!(up.contains(r#"validate-with="pacemaker-3.9""#), "{up}");
    assert!(!up.contains("<attributes"), "{up}");
}

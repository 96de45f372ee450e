//! The administrator's guide (docs/guide.md) is run, so it cannot rot:
//! every ```` ```sh ```` block is executed line by line on the DC of a
//! three-node test cluster and must exit 0; a ```` ```text ```` block right
//! after it lists lines its last command must print (blanks collapsed;
//! the last command is retried until they appear, as a cluster takes a
//! moment to act); the example ```` ```ha.cf ```` and ```` ```authkeys ````
//! files must pass `heartbeat --check`. Blocks marked `sh not-tested`
//! (installing the package, ssh to real hosts) are skipped and must stay
//! few. The classic paths in commands (`/etc/ha.d`, `/var/lib/heartbeat`,
//! `/var/log/ha-log`) are mapped to the test node's directories.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use integration_tests::{bin, TestCluster, TestNode};

/// How long a documented result may take to appear (a hang detector).
const SETTLE: Duration = Duration::from_secs(60);

/// The most `not-tested` blocks the guide may have.
const MAX_NOT_TESTED: usize = 3;

#[derive(Debug)]
struct Block {
    /// The info string after the opening fence (`sh`, `sh not-tested`, ...).
    info: String,
    body: String,
    /// 1-based line of the opening fence.
    line: usize,
    /// Whether only blank lines separate it from the previous block.
    follows_previous: bool,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    let mut prose_since_block = true;
    for (i, line) in markdown.lines().enumerate() {
        match open.take() {
            Some(mut b) => {
                if line.trim_start().starts_with("```") {
                    out.push(b);
                    prose_since_block = false;
                } else {
                    b.body.push_str(line);
                    b.body.push('\n');
                    open = Some(b);
                }
            }
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    open = Some(Block {
                        info: info.trim().to_string(),
                        body: String::new(),
                        line: i + 1,
                        follows_previous: !prose_since_block,
                    });
                } else if !line.trim().is_empty() {
                    prose_since_block = true;
                }
            }
        }
    }
    assert!(open.is_none(), "unterminated code block");
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs one documented command line through sh on `node`, with our
/// binaries first on PATH and the classic paths mapped to the node's.
fn run(node: &TestNode, workdir: &Path, line: &str) -> Output {
    let root = node.root.display().to_string();
    let cmd = line
        .replace("/etc/ha.d", &format!("{root}/etc"))
        .replace("/var/lib/heartbeat", &format!("{root}/lib"))
        .replace("/var/log/ha-log", &format!("{root}/log/ha-log"));
    let bindir = bin("heartbeat")
        .parent()
        .expect("binary directory")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(&cmd).current_dir(workdir).env("PATH", path);
    node.apply_env(&mut c);
    c.output().expect("run sh")
}

fn guide() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide.md"))
        .expect("read docs/guide.md")
}

#[test]
fn the_example_ha_cf_and_authkeys_pass_heartbeat_check() {
    let all = blocks(&guide());
    let file = |name: &str| {
        let found: Vec<&Block> = all.iter().filter(|b| b.info == name).collect();
        assert_eq!(found.len(), 1, "one ```{name} example in the guide");
        found[0].body.clone()
    };
    let mut node = TestNode::new("docs-check");
    node.name = "node1".into();
    node.write_ha_cf(&file("ha.cf"));
    node.write_authkeys(&file("authkeys"), 0o600);
    let out = node.run("heartbeat", &["--check"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\npacemaker respawn\n"), "{stdout}");
    assert!(stdout.contains("\nnode node1\n"), "{stdout}");
}

#[test]
fn every_command_of_the_guide_runs_on_a_test_cluster() {
    let all = blocks(&guide());
    let not_tested = all.iter().filter(|b| b.info == "sh not-tested").count();
    assert!(
        not_tested <= MAX_NOT_TESTED,
        "{not_tested} not-tested blocks: the guide must stay tested"
    );
    for b in &all {
        assert!(
            matches!(
                b.info.as_str(),
                "sh" | "sh not-tested" | "text" | "ha.cf" | "authkeys"
            ),
            "line {}: unknown block kind ```{}",
            b.line,
            b.info
        );
    }

    let c = TestCluster::new("docs", 3, 1);
    c.configure("pacemaker respawn\n");
    // An empty configuration, as a new cluster has; only the DC election
    // wait is shortened (default 20 s) to keep the test quick.
    c.prepare_crm(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="o-deadtime" name="dc-deadtime" value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#,
    );
    struct PowerOff<'a>(&'a TestCluster);
    impl Drop for PowerOff<'_> {
        fn drop(&mut self) {
            for i in 1..=self.0.nodes.len() {
                self.0.power_off(i);
            }
        }
    }
    let _off = PowerOff(&c);
    for i in 1..=3 {
        c.start(i);
    }
    let logs = || -> String {
        (1..=3)
            .map(|i| format!("--- node{i}:\n{}", c.node(i).log()))
            .collect()
    };
    // Commands run on the DC (it holds the policy engine's inputs).
    let start = Instant::now();
    let dc = loop {
        let out = c.node(1).run("crmadmin", &["-D", "-q"]);
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(i) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<usize>().ok())
        {
            break i;
        }
        assert!(start.elapsed() < SETTLE, "no DC elected\n{}", logs());
        std::thread::sleep(Duration::from_millis(200));
    };
    let node = c.node(dc);
    let workdir = node.root.join("docs-work");
    std::fs::create_dir_all(&workdir).expect("work dir");

    let mut ran = 0;
    for (i, b) in all.iter().enumerate() {
        if b.info != "sh" {
            continue;
        }
        let lines: Vec<&str> = b
            .body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let expected: Vec<String> = all
            .get(i + 1)
            .filter(|n| n.info == "text" && n.follows_previous)
            .map(|n| {
                n.body
                    .lines()
                    .map(squash)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for (k, line) in lines.iter().enumerate() {
            let last = k + 1 == lines.len();
            let start = Instant::now();
            loop {
                let out = run(node, &workdir, line);
                let stdout = squash(&String::from_utf8_lossy(&out.stdout));
                let shown = !last || expected.iter().all(|e| stdout.contains(e.as_str()));
                if out.status.success() && shown {
                    break;
                }
                if start.elapsed() > SETTLE || (!out.status.success() && !last) {
                    panic!(
                        "docs/guide.md line {}: `{line}` on node{dc}: expected success{}\n{}\n{}",
                        b.line,
                        if last && !expected.is_empty() {
                            format!(" and the lines {expected:?}")
                        } else {
                            String::new()
                        },
                        describe(&out),
                        logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            ran += 1;
        }
    }
    assert!(ran >= 20, "only {ran} commands found in the guide");
}

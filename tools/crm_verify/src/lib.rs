//! crm_verify's judgement of one CIB, without I/O: structural validation
//! (`cib_xml::validate`), the upgrade to the newest schema, then a full
//! scheduler run whose diagnostics (`pengine::diagnostics`) say whether
//! the configuration is suspect. The program around it reads the input,
//! prints [`Report::lines`] on stderr and exits with [`Report::code`].

#![deny(missing_docs)]

use cib_xml::time::DateTime;
use cib_xml::Element;
use clitools::exit;
use pengine::diagnostics::{diagnose, Severity};

/// What crm_verify prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Lines for stderr, in order.
    pub lines: Vec<String>,
    /// Pacemaker's exit code: 0, or 78 when errors or warnings were found.
    pub code: u8,
}

/// Checks `cib` (already parsed, root `<cib>`), named `source` in
/// messages (the file name, or empty for text and stdin), at `verbosity`
/// (the number of `-V`: errors are shown from 1, warnings from 2).
pub fn verify(mut cib: Element, source: &str, verbosity: u8, now: DateTime) -> Report {
    let mut lines = Vec::new();
    let mut config_error = false;
    let mut config_warning = false;
    let prefix = if source.is_empty() {
        String::new()
    } else {
        format!("{source}: ")
    };
    // Pacemaker adds an empty status section before validating.
    let had_status = cib.child("status").is_some();
    if !had_status {
        cib.children.push(Element::new("status"));
    }
    let mut usable = true;
    if cib.attr("validate-with") == Some("none") {
        lines.push("Schema validation of configuration is disabled (enabling is encouraged and prevents common misconfigurations)".into());
    } else if let Err(errors) = cib_xml::validate::validate(&cib) {
        for e in errors {
            lines.push(format!("{prefix}{e}"));
        }
        config_error = true;
        if verbosity > 0 {
            lines.push("error: CIB did not pass schema validation".into());
        }
        usable = false;
    }
    if usable {
        match cib_xml::upgrade::upgrade(&cib) {
            Ok(Some(newer)) => cib = newer,
            Ok(None) => {}
            Err(e) => {
                config_error = true;
                usable = false;
                lines.push(format!("{prefix}{e}"));
                lines.push(format!(
                    "The cluster will NOT be able to use this configuration.\nPlease manually update the configuration to conform to the {} syntax.",
                    cib_xml::validate::SCHEMAS.last().copied().unwrap_or("pacemaker-3.9")
                ));
            }
        }
    }
    if usable {
        match pengine::schedule(cib, now, &pengine::Options::default()) {
            Ok(ws) => {
                for d in diagnose(&ws) {
                    let shown = match d.severity {
                        Severity::Error => {
                            config_error |= d.config;
                            verbosity >= 1
                        }
                        Severity::Warning => {
                            config_warning |= d.config;
                            verbosity >= 2
                        }
                    };
                    if shown {
                        let label = match d.severity {
                            Severity::Error => "error",
                            Severity::Warning => "warning",
                        };
                        let line = format!("{label}: {}", d.message);
                        // Pacemaker repeats a message once per clone
                        // instance; once is enough.
                        if !lines.contains(&line) {
                            lines.push(line);
                        }
                    }
                }
            }
            Err(e) => {
                config_error = true;
                lines.push(format!("error: {}", e.0));
            }
        }
    }
    let more = if verbosity > 0 {
        ""
    } else {
        "\n-V may provide more details"
    };
    let code = if config_error {
        lines.push(format!(
            "crm_verify: Errors found during check: config not valid{more}"
        ));
        exit::CONFIG
    } else if config_warning {
        lines.push(format!(
            "crm_verify: Warnings found during check: config may not be valid{more}"
        ));
        exit::CONFIG
    } else {
        exit::OK
    };
    Report { lines, code }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::doc::parse_cib;
    use cib_xml::Limits;

    const NOW: DateTime = DateTime(1_700_000_000);

    fn cib(crm_config: &str, resources: &str, constraints: &str) -> Element {
        let text = format!(
            r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.7" crm_feature_set="3.16.2">
  <configuration>
    <crm_config><cluster_property_set id="o">{crm_config}</cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status/>
</cib>"#
        );
        parse_cib(&text, &Limits::default()).expect("test CIB parses")
    }

    const NO_STONITH: &str = r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#;
    const DUMMY: &str = r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>"#;

    #[test]
    fn a_clean_configuration_passes_with_only_informational_warnings() {
        let r = verify(cib(NO_STONITH, DUMMY, ""), "f.xml", 0, NOW);
        assert_eq!(r.code, 0);
        assert!(r.lines.is_empty(), "{:?}", r.lines);
        // -VV shows what Pacemaker logs without judging the configuration.
        let r = verify(cib(NO_STONITH, DUMMY, ""), "f.xml", 2, NOW);
        assert_eq!(r.code, 0);
        assert_eq!(
            r.lines,
            vec![
                "warning: Blind faith: not fencing unseen nodes",
                "warning: Fencing and resource management disabled due to lack of quorum",
            ]
        );
    }

    #[test]
    fn stonith_enabled_without_devices_is_an_error() {
        let r = verify(cib("", DUMMY, ""), "f.xml", 1, NOW);
        assert_eq!(r.code, exit::CONFIG);
        assert_eq!(
            r.lines,
            vec![
                "error: Resource start-up disabled since no STONITH resources have been defined",
                "error: Either configure some or disable STONITH with the stonith-enabled option",
                "error: NOTE: Clusters with shared data need STONITH to ensure data integrity",
                "crm_verify: Errors found during check: config not valid",
            ]
        );
        // Without -V only the summary and the hint.
        let r = verify(cib("", DUMMY, ""), "f.xml", 0, NOW);
        assert_eq!(
            r.lines,
            vec!["crm_verify: Errors found during check: config not valid\n-V may provide more details"]
        );
    }

    #[test]
    fn duplicate_recurring_ops_name_both_op_ids() {
        let rsc = r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"><operations>
            <op id="d-m1" name="monitor" interval="10s"/><op id="d-m2" name="monitor" interval="10000ms"/>
            </operations></primitive>"#;
        let r = verify(cib(NO_STONITH, rsc, ""), "", 1, NOW);
        assert_eq!(r.code, exit::CONFIG);
        assert_eq!(r.lines[0], "error: Operation d-m2 is duplicate of d-m1 (do not use same name and interval combination more than once per resource)");
    }

    #[test]
    fn a_constraint_on_an_unknown_resource_is_an_error() {
        let c = r#"<rsc_colocation id="c1" rsc="d" with-rsc="nosuch" score="INFINITY"/>"#;
        let r = verify(cib(NO_STONITH, DUMMY, c), "", 1, NOW);
        assert_eq!(r.code, exit::CONFIG);
        assert!(r.lines.iter().any(|l| l.contains("c1")), "{:?}", r.lines);
    }

    #[test]
    fn a_structural_error_names_the_element_and_skips_the_scheduler() {
        let rsc = r#"<primitive id="d" class="ocf" provider="heartbeat"/>"#;
        let r = verify(cib("", rsc, ""), "f.xml", 1, NOW);
        assert_eq!(r.code, exit::CONFIG);
        assert!(
            r.lines[0].starts_with("f.xml: <primitive id=\"d\">"),
            "{:?}",
            r.lines
        );
        assert!(r
            .lines
            .contains(&"error: CIB did not pass schema validation".to_string()));
        assert!(!r.lines.iter().any(|l| l.contains("STONITH")));
    }
}

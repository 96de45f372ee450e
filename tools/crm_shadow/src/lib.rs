//! The pure parts of crm_shadow: the option rules Pacemaker's crm_shadow
//! applies before touching anything (which shadow a command names, when
//! `--force` is needed) and the text form of a patchset `--diff` prints
//! (Pacemaker's `xml_log_patchset`: `Diff: ---`/`+++` versions, then `--`
//! deletes, `+ ` attribute changes, `++` created elements, `+~` moves).

#![deny(missing_docs)]

use cib_xml::doc::escape_value;
use cib_xml::patch::{Change, Patch};
use cib_xml::version::Version;
use cib_xml::Element;

/// One crm_shadow command (the last one given wins, as in Pacemaker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-w`: the active shadow's name.
    Which,
    /// `-p`: the active shadow's contents.
    Display,
    /// `-E`: edit the active shadow with $EDITOR.
    Edit,
    /// `-d`: the active shadow's changes against the cluster's CIB.
    Diff,
    /// `-F`: the active shadow's file.
    File,
    /// `-c NAME`: a shadow copy of the cluster's CIB.
    Create(String),
    /// `-e NAME`: a shadow with an empty configuration.
    CreateEmpty(String),
    /// `-C NAME`: upload the shadow's configuration to the cluster.
    Commit(String),
    /// `-D NAME`: delete the shadow.
    Delete(String),
    /// `-r NAME`: copy the cluster's CIB into the shadow again.
    Reset(String),
    /// `-s NAME`: switch to the shadow.
    Switch(String),
}

impl Command {
    /// The shadow the command names (for queries: the active one).
    pub fn named(&self) -> Option<&str> {
        match self {
            Command::Create(n)
            | Command::CreateEmpty(n)
            | Command::Commit(n)
            | Command::Delete(n)
            | Command::Reset(n)
            | Command::Switch(n) => Some(n),
            _ => None,
        }
    }

    /// Commands that destroy something and need `--force`.
    pub fn dangerous(&self) -> bool {
        matches!(self, Command::Commit(_) | Command::Delete(_))
    }
}

/// A refusal: the message for stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What to print.
    pub message: String,
    /// Pacemaker's exit code.
    pub code: u8,
}

const FORCE_HINT: &str =
    "  To prevent accidental destruction of the cluster, the --force flag is required in order to proceed.";

/// Decides which shadow `cmd` works on, given the active one
/// (`CIB_shadow`), or why it may not run.
pub fn target(cmd: &Command, active: Option<&str>, force: bool) -> Result<String, Refusal> {
    let name = match cmd.named() {
        Some(n) => n.to_string(),
        None => match active {
            Some(a) => a.to_string(),
            None => {
                return Err(Refusal {
                    message: "No active shadow configuration defined".into(),
                    code: 105,
                })
            }
        },
    };
    if !matches!(cmd, Command::Switch(_) | Command::Create(_)) {
        if let Some(a) = active {
            if !a.eq_ignore_ascii_case(&name) && !force {
                return Err(Refusal {
                    message: format!(
                        "The supplied shadow instance ({name}) is not the same as the active one ({a}).\n{FORCE_HINT}"
                    ),
                    code: 64,
                });
            }
        }
    }
    if cmd.dangerous() && !force {
        return Err(Refusal {
            message: format!("The supplied command is considered dangerous.{FORCE_HINT}"),
            code: 64,
        });
    }
    Ok(name)
}

fn open_tag(el: &Element, depth: usize) -> String {
    let mut s = " ".repeat(2 * depth);
    if el.is_comment() {
        s.push_str(&format!("<!--{}-->", el.text.as_deref().unwrap_or("")));
        return s;
    }
    s.push('<');
    s.push_str(&el.name);
    for (k, v) in &el.attrs {
        s.push(' ');
        s.push_str(k);
        s.push_str("=\"");
        escape_value(&mut s, v, false);
        s.push('"');
    }
    s.push_str("/>");
    s
}

/// Lines of a created subtree below its first line: children with their
/// own open and close tags, then the element's close tag.
fn created_body(el: &Element, depth: usize, prefix: &str, out: &mut Vec<String>) {
    let kids: Vec<&Element> = el.children.iter().collect();
    if kids.is_empty() || el.is_comment() {
        return;
    }
    for c in kids {
        let mut open = open_tag(c, depth + 1);
        if !c.children.is_empty() && !c.is_comment() {
            open.truncate(open.len() - 2);
            open.push('>');
        }
        out.push(format!("{prefix} {open}"));
        created_body(c, depth + 1, prefix, out);
    }
    out.push(format!("{prefix} {}</{}>", " ".repeat(2 * depth), el.name));
}

fn version(v: &Version) -> String {
    format!("{}.{}.{}", v.admin_epoch, v.epoch, v.num_updates)
}

/// The text Pacemaker prints for a v2 patchset (`crm_shadow --diff`).
pub fn patch_lines(p: &Patch) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(s), Some(t)) = (&p.source, &p.target) {
        if s != t {
            out.push(format!("Diff: --- {} 2", version(s)));
            out.push(format!(
                "Diff: +++ {} {}",
                version(t),
                p.digest.as_deref().unwrap_or("(null)")
            ));
        }
    }
    for c in &p.changes {
        match c {
            Change::Create { parent, node, .. } => {
                let first = format!("++ {parent}: ");
                out.push(format!("{first} {}", open_tag(node, 0)));
                let blank = format!("++{}", " ".repeat(first.len() - 2));
                created_body(node, 0, &blank, &mut out);
            }
            Change::Move { path, position } => {
                out.push(format!("+~ {path} moved to offset {position}"));
            }
            Change::Modify { path, attrs, .. } => {
                let set: Vec<String> = attrs
                    .iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| format!("@{k}={v}")))
                    .collect();
                let unset: Vec<String> = attrs
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| format!("@{k}"))
                    .collect();
                if !set.is_empty() {
                    out.push(format!("+  {path}:  {}", set.join(", ")));
                }
                if !unset.is_empty() {
                    out.push(format!("-- {path}:  {}", unset.join(", ")));
                }
            }
            Change::Delete { path } => out.push(format!("-- {path}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib_xml::doc::parse_cib;
    use cib_xml::Limits;

    #[test]
    fn the_active_shadow_is_protected_and_dangerous_commands_need_force() {
        let r = target(&Command::Display, None, false).expect_err("none active");
        assert_eq!(r.code, 105);
        assert_eq!(
            target(&Command::Display, Some("s1"), false),
            Ok("s1".into())
        );
        let r = target(&Command::Reset("s2".into()), Some("s1"), false).expect_err("other");
        assert_eq!(r.code, 64);
        assert_eq!(
            target(&Command::Create("s2".into()), Some("s1"), false),
            Ok("s2".into())
        );
        let r = target(&Command::Delete("s1".into()), Some("s1"), false).expect_err("force");
        assert!(r.message.contains("dangerous"));
        assert_eq!(
            target(&Command::Delete("s1".into()), Some("s1"), true),
            Ok("s1".into())
        );
    }

    #[test]
    fn a_patch_prints_as_pacemaker_logs_it() {
        let old = parse_cib(
            r#"<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><nodes/><resources><primitive id="gone" class="ocf" provider="heartbeat" type="Dummy"/></resources><constraints/></configuration><status/></cib>"#,
            &Limits::default(),
        )
        .expect("old");
        let new = parse_cib(
            r#"<cib admin_epoch="0" epoch="2" num_updates="0"><configuration><crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="true"/><nvpair id="o-x" name="x" value="1"/></cluster_property_set></crm_config><nodes/><resources><group id="g"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></group></resources><constraints/></configuration><status/></cib>"#,
            &Limits::default(),
        )
        .expect("new");
        let mut p = cib_xml::patch::diff(&old, &new).expect("differs");
        p.digest = None;
        assert_eq!(
            patch_lines(&p),
            vec![
                "Diff: --- 0.1.0 2",
                "Diff: +++ 0.2.0 (null)",
                "-- /cib/configuration/resources/primitive[@id='gone']",
                "+  /cib:  @epoch=2",
                "+  /cib/configuration/crm_config/cluster_property_set[@id='o']/nvpair[@id='o-s']:  @value=true",
                "++ /cib/configuration/crm_config/cluster_property_set[@id='o']:  <nvpair id=\"o-x\" name=\"x\" value=\"1\"/>",
                "++ /cib/configuration/resources:  <group id=\"g\"/>",
                "++                                  <primitive id=\"p\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\"/>",
                "++                                </group>",
            ]
        );
    }
}

//! Differences between two CIBs as Pacemaker's v2 patchsets, and applying
//! them (CIB-LRM-FENCING.md 1.4).
//!
//! A patch is a list of changes addressed by XPath from `/cib`: `delete`
//! (the element), `create` (parent path, position among the parent's
//! children, the new subtree), `modify` (attributes set or unset, and the
//! element's full attribute list after the change) and `move` (new
//! position). [`diff`] emits deletes first, then a depth-first walk of the
//! new document in which every element's own changes come before its move;
//! [`apply`] follows the changes in order, so `apply(old, diff(old, new))`
//! rebuilds `new` exactly (attribute order and comments included, hence
//! the same digest).

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::digest;
use crate::version::Version;
use crate::xml::Element;
use crate::xpath::{self, XPath};

/// One change of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Adds `node` under the element at `parent`, at `position` among its
    /// children.
    Create {
        /// XPath of the parent.
        parent: String,
        /// Index among the parent's children (comments count).
        position: usize,
        /// The new subtree.
        node: Element,
    },
    /// Removes the element at `path`.
    Delete {
        /// XPath of the element.
        path: String,
    },
    /// Replaces the attributes of the element at `path` with `result`'s.
    Modify {
        /// XPath of the element.
        path: String,
        /// Attributes set (`Some`) or removed (`None`), informational.
        attrs: Vec<(String, Option<String>)>,
        /// The element's name and attributes after the change.
        result: Element,
    },
    /// Moves the element at `path` to `position` among its siblings.
    Move {
        /// XPath of the element.
        path: String,
        /// New index among the parent's children.
        position: usize,
    },
}

/// A v2 patchset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Version the patch applies to.
    pub source: Option<Version>,
    /// Version after the patch.
    pub target: Option<Version>,
    /// Versioned digest of the result, when the writer gave one.
    pub digest: Option<String>,
    /// The changes, in order.
    pub changes: Vec<Change>,
}

/// Why a patch could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// Not a v2 patchset; the message names the element.
    Malformed(String),
    /// The CIB is newer than the patch's source ("Update was older than
    /// existing configuration").
    Old {
        /// The CIB's version.
        current: Version,
        /// The patch's source version.
        source: Version,
    },
    /// The CIB is older than the patch's source: a full copy is needed.
    Resync {
        /// The CIB's version.
        current: Version,
        /// The patch's source version.
        source: Version,
    },
    /// A change's target does not exist.
    NotFound(String),
    /// The result's digest differs from the patch's.
    Digest {
        /// Digest in the patch.
        expected: String,
        /// Digest of the result.
        actual: String,
    },
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Malformed(m) => write!(f, "malformed patch: {m}"),
            PatchError::Old { current, source } => write!(
                f,
                "Update was older than existing configuration (current {current}, patch from {source})"
            ),
            PatchError::Resync { current, source } => write!(
                f,
                "Application of update diff failed, requesting full refresh (current {current}, patch from {source})"
            ),
            PatchError::NotFound(p) => write!(f, "target of change not found: {p}"),
            PatchError::Digest { expected, actual } => write!(
                f,
                "digest mismatch after applying the patch: expected {expected}, got {actual}"
            ),
        }
    }
}

impl std::error::Error for PatchError {}

/// Structural equality ignoring source line numbers.
pub fn same(a: &Element, b: &Element) -> bool {
    a.name == b.name
        && a.attrs == b.attrs
        && a.text == b.text
        && a.children.len() == b.children.len()
        && a.children.iter().zip(&b.children).all(|(x, y)| same(x, y))
}

/// What makes two children correspond: same name and id (comments: same
/// text).
fn match_key(e: &Element) -> (&str, Option<&str>) {
    if e.is_comment() {
        (&e.name, e.text.as_deref())
    } else {
        (&e.name, e.attr("id"))
    }
}

fn child_path(parent_path: &str, parent: &Element, idx: usize) -> String {
    let c = &parent.children[idx];
    if c.is_comment() {
        let n = parent.children[..idx]
            .iter()
            .filter(|x| x.is_comment())
            .count();
        return format!("{parent_path}/comment()[{}]", n + 1);
    }
    match c.attr("id") {
        Some(id) => format!("{parent_path}/{}[@id='{id}']", c.name),
        None => format!("{parent_path}/{}", c.name),
    }
}

/// Pairs of (old index, new index) for matched children; unmatched old
/// children are deleted, unmatched new ones created. Each new child takes
/// the first unused old child with its key; a queue per key makes that
/// linear instead of quadratic (a CIB can have 100,000 resources).
fn pair_children(old: &Element, new: &Element) -> Vec<Option<usize>> {
    if old.children.len() <= 16 {
        let mut used = vec![false; old.children.len()];
        return new
            .children
            .iter()
            .map(|n| {
                let k = match_key(n);
                let m =
                    (0..old.children.len()).find(|&i| !used[i] && match_key(&old.children[i]) == k);
                if let Some(i) = m {
                    used[i] = true;
                }
                m
            })
            .collect();
    }
    let mut by_key: HashMap<(&str, Option<&str>), VecDeque<usize>> = HashMap::new();
    for (i, c) in old.children.iter().enumerate() {
        by_key.entry(match_key(c)).or_default().push_back(i);
    }
    new.children
        .iter()
        .map(|n| by_key.get_mut(&match_key(n)).and_then(VecDeque::pop_front))
        .collect()
}

fn collect_deletes(old: &Element, new: &Element, path: &str, out: &mut Vec<Change>) {
    let pairs = pair_children(old, new);
    let mut matched = vec![false; old.children.len()];
    for m in pairs.iter().flatten() {
        matched[*m] = true;
    }
    let mut comments_gone = 0;
    for (i, c) in old.children.iter().enumerate() {
        if matched[i] {
            continue;
        }
        if c.is_comment() {
            let n = old.children[..i].iter().filter(|x| x.is_comment()).count();
            out.push(Change::Delete {
                path: format!("{path}/comment()[{}]", n + 1 - comments_gone),
            });
            comments_gone += 1;
        } else {
            out.push(Change::Delete {
                path: child_path(path, old, i),
            });
        }
    }
    for (ni, m) in pairs.iter().enumerate() {
        if let Some(oi) = m {
            let (o, n) = (&old.children[*oi], &new.children[ni]);
            // An identical subtree has nothing to delete.
            if !o.is_comment() && !same(o, n) {
                let p = child_path(path, old, *oi);
                collect_deletes(o, n, &p, out);
            }
        }
    }
}

fn attr_changes(old: &Element, new: &Element) -> Vec<(String, Option<String>)> {
    let mut v = Vec::new();
    for (k, val) in &new.attrs {
        if old.attr(k) != Some(val) {
            v.push((k.clone(), Some(val.clone())));
        }
    }
    for (k, _) in &old.attrs {
        if new.attr(k).is_none() {
            v.push((k.clone(), None));
        }
    }
    v
}

fn attrs_only(e: &Element) -> Element {
    Element {
        name: e.name.clone(),
        attrs: e.attrs.clone(),
        ..Element::default()
    }
}

/// Changes below a matched pair (`old` with deletions already applied).
fn collect_changes(old: &Element, new: &Element, path: &str, out: &mut Vec<Change>) {
    if old.attrs != new.attrs {
        out.push(Change::Modify {
            path: path.to_string(),
            attrs: attr_changes(old, new),
            result: attrs_only(new),
        });
    }
    let pairs = pair_children(old, new);
    // The parent's children as the patch leaves them so far: indices into
    // old's children (matched ones, in old order) or None for created.
    let mut work: Vec<Option<usize>> = {
        let mut kept: Vec<usize> = pairs.iter().flatten().copied().collect();
        kept.sort_unstable();
        kept.into_iter().map(Some).collect()
    };
    for (ni, m) in pairs.iter().enumerate() {
        let n = &new.children[ni];
        match m {
            None => {
                out.push(Change::Create {
                    parent: path.to_string(),
                    position: ni,
                    node: n.clone(),
                });
                work.insert(ni, None);
            }
            Some(oi) => {
                let o = &old.children[*oi];
                // An identical subtree has no changes of its own.
                if !o.is_comment() && !same(o, n) {
                    collect_changes(o, n, &child_path(path, old, *oi), out);
                }
                // Usually nothing moved: check the expected slot first.
                let j = if work.get(ni) == Some(&Some(*oi)) {
                    ni
                } else {
                    work.iter().position(|w| *w == Some(*oi)).unwrap_or(ni)
                };
                if j != ni {
                    // Positions before ni are final, so j > ni.
                    debug_assert!(j > ni);
                    out.push(Change::Move {
                        path: child_path(path, old, *oi),
                        position: ni,
                    });
                    let x = work.remove(j);
                    work.insert(ni, x);
                }
            }
        }
    }
}

/// The patch that turns `old` into `new`; `None` when they are the same.
/// The digest is the versioned digest of `new`.
pub fn diff(old: &Element, new: &Element) -> Option<Patch> {
    if same(old, new) {
        return None;
    }
    let mut changes = Vec::new();
    if old.name != new.name {
        // Different roots: the whole document is replaced.
        return Some(Patch {
            source: Some(Version::of(old)),
            target: Some(Version::of(new)),
            digest: Some(digest::versioned(new)),
            changes: vec![Change::Delete {
                path: format!("/{}", old.name),
            }],
        });
    }
    let root = format!("/{}", old.name);
    collect_deletes(old, new, &root, &mut changes);
    // Apply the deletes to a copy so positions and paths of the walk are
    // those of the document the next changes will see.
    let mut base = old.clone();
    for c in &changes {
        // The paths came from `old` itself, so they resolve.
        let _ = apply_change(&mut base, c);
    }
    collect_changes(&base, new, &root, &mut changes);
    Some(Patch {
        source: Some(Version::of(old)),
        target: Some(Version::of(new)),
        digest: Some(digest::versioned(new)),
        changes,
    })
}

fn resolve(root: &Element, path: &str) -> Result<xpath::NodePath, PatchError> {
    let xp = XPath::parse(path).map_err(|e| PatchError::Malformed(e.to_string()))?;
    xp.select(root)
        .into_iter()
        .next()
        .ok_or_else(|| PatchError::NotFound(path.to_string()))
}

fn apply_change(root: &mut Element, c: &Change) -> Result<(), PatchError> {
    match c {
        Change::Delete { path } => {
            let p = resolve(root, path)?;
            let Some((last, parent)) = p.split_last() else {
                return Err(PatchError::NotFound(path.clone()));
            };
            match xpath::get_mut(root, parent) {
                Some(par) if !parent.is_empty() => {
                    par.children.remove(*last);
                }
                _ => {
                    return Err(PatchError::Malformed(format!(
                        "cannot delete the root: {path}"
                    )))
                }
            }
        }
        Change::Create {
            parent,
            position,
            node,
        } => {
            let p = resolve(root, parent)?;
            let par =
                xpath::get_mut(root, &p).ok_or_else(|| PatchError::NotFound(parent.clone()))?;
            let at = (*position).min(par.children.len());
            par.children.insert(at, node.clone());
        }
        Change::Modify { path, result, .. } => {
            let p = resolve(root, path)?;
            let e = xpath::get_mut(root, &p).ok_or_else(|| PatchError::NotFound(path.clone()))?;
            e.attrs = result.attrs.clone();
        }
        Change::Move { path, position } => {
            let p = resolve(root, path)?;
            let Some((last, parent)) = p.split_last() else {
                return Err(PatchError::NotFound(path.clone()));
            };
            if parent.is_empty() {
                return Err(PatchError::Malformed(format!(
                    "cannot move the root: {path}"
                )));
            }
            let par =
                xpath::get_mut(root, parent).ok_or_else(|| PatchError::NotFound(path.clone()))?;
            let x = par.children.remove(*last);
            let at = (*position).min(par.children.len());
            par.children.insert(at, x);
        }
    }
    Ok(())
}

/// Applies `patch` to `cib` in place. With `check_version`, the CIB must
/// be exactly at the patch's source version (newer: [`PatchError::Old`],
/// older: [`PatchError::Resync`]). A digest in the patch is checked
/// against the result. On error `cib` is unchanged.
pub fn apply(cib: &mut Element, patch: &Patch, check_version: bool) -> Result<(), PatchError> {
    if check_version {
        if let Some(source) = patch.source {
            let current = Version::of(cib);
            for (c, s) in [
                (current.admin_epoch, source.admin_epoch),
                (current.epoch, source.epoch),
                (current.num_updates, source.num_updates),
            ] {
                if c < s {
                    return Err(PatchError::Resync { current, source });
                }
                if c > s {
                    return Err(PatchError::Old { current, source });
                }
            }
        }
    }
    let mut work = cib.clone();
    for c in &patch.changes {
        apply_change(&mut work, c)?;
    }
    if let Some(expected) = &patch.digest {
        let actual = digest::versioned(&work);
        if *expected != actual {
            return Err(PatchError::Digest {
                expected: expected.clone(),
                actual,
            });
        }
    }
    *cib = work;
    Ok(())
}

fn version_el(name: &str, v: &Version) -> Element {
    Element::new(name)
        .with_attr("admin_epoch", &v.admin_epoch.to_string())
        .with_attr("epoch", &v.epoch.to_string())
        .with_attr("num_updates", &v.num_updates.to_string())
}

impl Patch {
    /// The patch as Pacemaker's `<diff format="2">` element.
    pub fn to_xml(&self) -> Element {
        let mut d = Element::new("diff").with_attr("format", "2");
        if let Some(dg) = &self.digest {
            d.set_attr("digest", dg);
        }
        if self.source.is_some() || self.target.is_some() {
            let mut v = Element::new("version");
            if let Some(s) = &self.source {
                v.children.push(version_el("source", s));
            }
            if let Some(t) = &self.target {
                v.children.push(version_el("target", t));
            }
            d.children.push(v);
        }
        for c in &self.changes {
            let el = match c {
                Change::Delete { path } => Element::new("change")
                    .with_attr("operation", "delete")
                    .with_attr("path", path),
                Change::Create {
                    parent,
                    position,
                    node,
                } => {
                    let mut e = Element::new("change")
                        .with_attr("operation", "create")
                        .with_attr("path", parent)
                        .with_attr("position", &position.to_string());
                    e.children.push(node.clone());
                    e
                }
                Change::Modify {
                    path,
                    attrs,
                    result,
                } => {
                    let mut e = Element::new("change")
                        .with_attr("operation", "modify")
                        .with_attr("path", path);
                    let mut list = Element::new("change-list");
                    for (k, v) in attrs {
                        let mut a = Element::new("change-attr").with_attr("name", k);
                        match v {
                            Some(v) => {
                                a.set_attr("operation", "set");
                                a.set_attr("value", v);
                            }
                            None => a.set_attr("operation", "unset"),
                        }
                        list.children.push(a);
                    }
                    e.children.push(list);
                    let mut r = Element::new("change-result");
                    r.children.push(result.clone());
                    e.children.push(r);
                    e
                }
                Change::Move { path, position } => Element::new("change")
                    .with_attr("operation", "move")
                    .with_attr("path", path)
                    .with_attr("position", &position.to_string()),
            };
            d.children.push(el);
        }
        d
    }

    /// Reads a `<diff format="2">` element.
    pub fn from_xml(d: &Element) -> Result<Patch, PatchError> {
        let bad = |m: String| PatchError::Malformed(m);
        if d.name != "diff" {
            return Err(bad(format!("expected <diff>, found <{}>", d.name)));
        }
        if d.attr("format") != Some("2") {
            return Err(bad(format!(
                "<diff> format {} is not supported (only 2)",
                d.attr("format").unwrap_or("(none)")
            )));
        }
        let mut p = Patch {
            source: None,
            target: None,
            digest: d.attr("digest").map(str::to_string),
            changes: Vec::new(),
        };
        for c in d.elements() {
            match c.name.as_str() {
                "version" => {
                    p.source = c.child("source").map(Version::of);
                    p.target = c.child("target").map(Version::of);
                }
                "change" => p.changes.push(change_from_xml(c)?),
                other => return Err(bad(format!("unexpected <{other}> in <diff>"))),
            }
        }
        Ok(p)
    }
}

fn change_from_xml(c: &Element) -> Result<Change, PatchError> {
    let bad = |m: String| PatchError::Malformed(format!("<change> on line {}: {m}", c.line));
    let path = c
        .attr("path")
        .ok_or_else(|| bad("no path".into()))?
        .to_string();
    let position = || -> Result<usize, PatchError> {
        c.attr("position")
            .unwrap_or("0")
            .trim()
            .parse()
            .map_err(|_| bad("position is not a number".into()))
    };
    match c.attr("operation") {
        Some("delete") => Ok(Change::Delete { path }),
        Some("create") => {
            let node = c
                .children
                .first()
                .ok_or_else(|| bad("create without content".into()))?
                .clone();
            Ok(Change::Create {
                parent: path,
                position: position()?,
                node,
            })
        }
        Some("move") => Ok(Change::Move {
            path,
            position: position()?,
        }),
        Some("modify") => {
            let result = c
                .child("change-result")
                .and_then(|r| r.elements().next())
                .ok_or_else(|| bad("modify without change-result".into()))?;
            let attrs = c
                .child("change-list")
                .map(|l| {
                    l.children_named("change-attr")
                        .filter_map(|a| {
                            let name = a.attr("name")?.to_string();
                            Some(match a.attr("operation") {
                                Some("unset") => (name, None),
                                _ => (name, Some(a.attr("value").unwrap_or("").to_string())),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(Change::Modify {
                path,
                attrs,
                result: attrs_only(result),
            })
        }
        other => Err(bad(format!(
            "unknown operation {}",
            other.unwrap_or("(none)")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    fn p(s: &str) -> Element {
        parse_cib(s, &Limits::default()).unwrap()
    }

    const OLD: &str = r#"<cib admin_epoch="0" epoch="5" num_updates="2"><configuration><crm_config><cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><resources><primitive id="A"/><primitive id="B"/><!-- x --><primitive id="C"/></resources></configuration><status/></cib>"#;
    const NEW: &str = r#"<cib admin_epoch="0" epoch="6" num_updates="0"><configuration><crm_config><cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config><resources><primitive id="C"/><primitive id="A" description="d"/><!-- x --><primitive id="D"><meta_attributes id="D-m"/></primitive></resources></configuration><status/></cib>"#;

    #[test]
    fn diff_then_apply_rebuilds_the_new_document() {
        let (old, new) = (p(OLD), p(NEW));
        let patch = diff(&old, &new).unwrap();
        let kinds: Vec<String> = patch
            .changes
            .iter()
            .map(|c| match c {
                Change::Delete { path } => format!("delete {path}"),
                Change::Create {
                    parent,
                    position,
                    node,
                } => format!("create {parent} {position} {}", node.id()),
                Change::Modify { path, .. } => format!("modify {path}"),
                Change::Move { path, position } => format!("move {path} {position}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "delete /cib/configuration/resources/primitive[@id='B']",
                "modify /cib",
                "modify /cib/configuration/crm_config/cluster_property_set[@id='opts']/nvpair[@id='o1']",
                "move /cib/configuration/resources/primitive[@id='C'] 0",
                "modify /cib/configuration/resources/primitive[@id='A']",
                "create /cib/configuration/resources 3 D",
            ]
        );
        let mut cib = old.clone();
        apply(&mut cib, &patch, true).unwrap();
        assert!(same(&cib, &new));
        // Through XML and back.
        let text = crate::doc::to_pcmk_pretty(&patch.to_xml());
        let back = Patch::from_xml(&p(&text)).unwrap();
        assert_eq!(back.to_xml().to_compact(), patch.to_xml().to_compact());
    }

    #[test]
    fn version_checks_and_digest() {
        let (old, new) = (p(OLD), p(NEW));
        let patch = diff(&old, &new).unwrap();
        let mut newer = old.clone();
        newer.set_attr("num_updates", "3");
        assert!(matches!(
            apply(&mut newer, &patch, true),
            Err(PatchError::Old { .. })
        ));
        let mut older = old.clone();
        older.set_attr("epoch", "4");
        assert!(matches!(
            apply(&mut older, &patch, true),
            Err(PatchError::Resync { .. })
        ));
        // Without the check it applies; on a CIB that differs elsewhere the
        // digest then differs and nothing changes.
        older.children[1].children.push(Element::new("node_state"));
        let before = older.clone();
        assert!(matches!(
            apply(&mut older, &patch, false),
            Err(PatchError::Digest { .. })
        ));
        assert!(same(&older, &before));
        // A missing target changes nothing either.
        let mut gone = old.clone();
        gone.children[0].children[1].children.clear();
        let snapshot = gone.clone();
        assert!(matches!(
            apply(&mut gone, &patch, false),
            Err(PatchError::NotFound(_))
        ));
        assert!(same(&gone, &snapshot));
    }

    #[test]
    fn identical_documents_have_no_patch() {
        assert!(diff(&p(OLD), &p(OLD)).is_none());
    }

    #[test]
    fn reorders_and_comments_round_trip() {
        let cases = [
            (
                "<r><a id='1'/><a id='2'/><a id='3'/></r>",
                "<r><a id='3'/><a id='2'/><a id='1'/></r>",
            ),
            ("<r><!--a--><!--b--><x/></r>", "<r><x/><!--b--></r>"),
            ("<r><x a='1' b='2'/></r>", "<r><x b='2' a='1'/></r>"),
            ("<r><x/><x/></r>", "<r><x q='1'/></r>"),
            ("<r/>", "<r><a id='1'><b id='2'/></a></r>"),
            ("<r><a id='1'><b id='2'/></a></r>", "<r/>"),
        ];
        for (a, b) in cases {
            let (old, new) = (p(a), p(b));
            let patch = diff(&old, &new).unwrap();
            let mut cib = old.clone();
            apply(&mut cib, &patch, false).unwrap_or_else(|e| panic!("{a} -> {b}: {e}"));
            assert!(same(&cib, &new), "{a} -> {b}: {patch:?}");
        }
    }
}

//! Pacemaker's legacy (format 1) patches, which its crm_diff writes when
//! the original CIB's `crm_feature_set` is 3.0.8 or older (or absent):
//! `<diff format="1">` with a `<diff-removed>` tree holding the old
//! values of what changed and a `<diff-added>` tree holding the new ones,
//! whole subtrees marked `__crm_diff_marker__="removed:top"` /
//! `"added:top"`, the versions on both, and the result's digest.
//!
//! The rules are Pacemaker 2.1.5's, quirks included, so each side
//! applies the other's patches: removal never drops an attribute or a
//! comment, only marked subtrees; addition rewrites the attributes it
//! carries (moving them to the patch's order) and adds marked subtrees.

use crate::digest::{compare_versions, on_disk, versioned};
use crate::doc::COMMENT;
use crate::Element;

const MARKER: &str = "__crm_diff_marker__";
const VERSION_FIELDS: [&str; 3] = ["admin_epoch", "epoch", "num_updates"];
/// Attributes a removal never lists (Pacemaker's `pcmk__xa_filterable`).
const FILTERED: [&str; 5] = [
    "crm-debug-origin",
    "cib-last-written",
    "update-origin",
    "update-client",
    "update-user",
];
/// The feature set Pacemaker 2.1.5 stamps on the patches it writes.
const FEATURE_SET: &str = "3.16.1";

/// Whether Pacemaker writes a format-1 patch for a CIB with this
/// `crm_feature_set`.
pub fn wanted_for(original: &Element) -> bool {
    match original.attr("crm_feature_set") {
        Some(v) => compare_versions("3.0.8", v) != std::cmp::Ordering::Less,
        None => true,
    }
}

fn is_comment(e: &Element) -> bool {
    e.name == COMMENT
}

/// The child of `haystack` that `needle` corresponds to: a comment with
/// the same text, else the first element of the same name and id.
fn matching(haystack: &Element, needle: &Element) -> Option<usize> {
    if is_comment(needle) {
        let text = needle.text.as_deref().unwrap_or("");
        return haystack.children.iter().position(|c| {
            is_comment(c) && c.text.as_deref().unwrap_or("").eq_ignore_ascii_case(text)
        });
    }
    let id = needle.attr("id");
    haystack.children.iter().position(|c| {
        !is_comment(c) && c.name == needle.name && (id.is_none() || c.attr("id") == id)
    })
}

/// Pacemaker's `subtract_xml_object`: what of `left` is not in `right`,
/// appended to `parent`. Returns whether anything was.
fn subtract(
    parent: &mut Element,
    left: &Element,
    right: Option<&Element>,
    full: bool,
    marker: &str,
) -> bool {
    if is_comment(left) {
        let same = right.is_some_and(|r| {
            r.text
                .as_deref()
                .unwrap_or("")
                .eq_ignore_ascii_case(left.text.as_deref().unwrap_or(""))
        });
        if !same {
            parent.children.push(left.clone());
        }
        return !same;
    }
    let Some(right) = right else {
        let mut copy = left.clone();
        copy.set_attr(MARKER, marker);
        parent.children.push(copy);
        return true;
    };
    if right.attr(MARKER) == Some("removed:top") {
        return true;
    }
    let mut diff = Element::new(&left.name);
    let mut changed = false;
    for child in &left.children {
        let rc = matching(right, child).map(|i| &right.children[i]);
        if subtract(&mut diff, child, rc, full, marker) {
            changed = true;
        }
    }
    let copy_all = |diff: &mut Element| {
        for (k, v) in &left.attrs {
            diff.set_attr(k, v);
        }
    };
    if changed && full {
        copy_all(&mut diff);
        parent.children.push(diff);
        return true;
    }
    for (k, v) in &left.attrs {
        if k == "id" {
            diff.set_attr("id", v);
            continue;
        }
        if FILTERED.contains(&k.as_str()) {
            continue;
        }
        match right.attr(k) {
            Some(rv) if rv == v => {}
            _ => {
                changed = true;
                if full {
                    copy_all(&mut diff);
                    break;
                }
                diff.set_attr(k, v);
            }
        }
    }
    if !changed {
        return false;
    }
    if !full {
        if let Some(id) = left.attr("id") {
            diff.set_attr("id", id);
        }
    }
    parent.children.push(diff);
    true
}

/// The digest a format-1 patch carries: of the result, by the rules of
/// the original's feature set.
fn digest(source: &Element, target: &Element) -> String {
    match source.attr("crm_feature_set") {
        Some(v) if compare_versions(v, "3.0.5") != std::cmp::Ordering::Less => versioned(target),
        _ => on_disk(target),
    }
}

/// Pacemaker's format-1 patch from `old` to `new`; None when equal.
/// `config`: the configuration section differs (then the removed `<cib>`
/// carries the whole old version, else only num_updates).
pub fn create(old: &Element, new: &Element) -> Option<Element> {
    let config = match (old.child("configuration"), new.child("configuration")) {
        (Some(a), Some(b)) => !crate::patch::same(a, b),
        (None, None) => false,
        _ => true,
    };
    let mut removed = Element::new("diff-removed");
    let mut added = Element::new("diff-added");
    subtract(&mut removed, old, Some(new), false, "removed:top");
    subtract(&mut added, new, Some(old), true, "added:top");
    if removed.children.is_empty() && added.children.is_empty() {
        return None;
    }
    // Versions on both sides (xml_repair_v1_diff).
    if !removed.children.iter().any(|c| c.name == "cib") {
        removed.children.push(Element::new("cib"));
    }
    for (i, f) in VERSION_FIELDS.iter().enumerate() {
        if let Some(v) = old.attr(f) {
            removed.set_attr(f, v);
            if config || i == 2 {
                if let Some(cib) = removed.children.iter_mut().find(|c| c.name == "cib") {
                    cib.set_attr(f, v);
                }
            }
        }
    }
    if !added.children.iter().any(|c| c.name == "cib") {
        added.children.push(Element::new("cib"));
    }
    for f in VERSION_FIELDS {
        if let Some(v) = new.attr(f) {
            added.set_attr(f, v);
        }
    }
    if let Some(cib) = added.children.iter_mut().find(|c| c.name == "cib") {
        for (k, v) in &new.attrs {
            cib.set_attr(k, v);
        }
    }
    let mut diff = Element::new("diff")
        .with_attr("crm_feature_set", FEATURE_SET)
        .with_attr("format", "1")
        .with_attr("digest", &digest(old, new));
    diff.children.push(removed);
    diff.children.push(added);
    Some(diff)
}

/// Takes the version fields out of a format-1 patch (`crm_diff -u`).
pub fn strip_versions(diff: &mut Element) {
    for side in diff.children.iter_mut() {
        if side.name != "diff-removed" && side.name != "diff-added" {
            continue;
        }
        for f in VERSION_FIELDS {
            side.remove_attr(f);
        }
        if let Some(cib) = side.children.iter_mut().find(|c| c.name == "cib") {
            for f in VERSION_FIELDS {
                cib.remove_attr(f);
            }
        }
    }
}

/// Why a format-1 patch did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The CIB is older than the patch's source (a full copy is needed).
    Resync,
    /// The CIB is newer than the patch's source, or the patch changes no
    /// version.
    Old,
    /// More than one change set, or the result's digest differs.
    Failed,
}

fn version_of(e: Option<&Element>, into: &mut [i64; 3]) {
    if let Some(e) = e {
        for (i, f) in VERSION_FIELDS.iter().enumerate() {
            if let Some(v) = e.attr(f).and_then(|v| v.trim().parse::<i64>().ok()) {
                into[i] = v;
            }
        }
    }
}

fn side_version(patch: &Element, label: &str) -> Option<Element> {
    let side = patch.child(label)?;
    Some(side.child("cib").unwrap_or(side).clone())
}

fn removals(target: &mut Element, patch: &Element) -> bool {
    // true: `target` itself goes.
    if is_comment(target) || target.name != patch.name {
        return false;
    }
    if target.attr("id") != patch.attr("id") {
        return false;
    }
    if patch.attr(MARKER) == Some("removed:top") {
        return true;
    }
    let mut i = 0;
    while i < target.children.len() {
        let m = matching(patch, &target.children[i]).map(|j| &patch.children[j]);
        let gone = match m {
            Some(p) => removals(&mut target.children[i], p),
            None => false,
        };
        if gone {
            target.children.remove(i);
        } else {
            i += 1;
        }
    }
    false
}

fn additions(parent: Option<&mut Element>, target: Option<&mut Element>, patch: &Element) {
    let Some(target) = target else {
        if patch.attr(MARKER) == Some("added:top") {
            if let Some(p) = parent {
                p.children.push(patch.clone());
            }
        }
        return;
    };
    if is_comment(target) {
        if is_comment(patch) && target.text != patch.text {
            target.text = patch.text.clone();
        }
        return;
    }
    if target.name != patch.name || target.attr("id") != patch.attr("id") {
        return;
    }
    for (k, v) in &patch.attrs {
        target.remove_attr(k);
        target.attrs.push((k.clone(), v.clone()));
    }
    for pc in &patch.children {
        match matching(target, pc) {
            Some(i) => {
                // Split the borrow: the child, then the parent only when absent.
                let child = &mut target.children[i];
                additions(None, Some(child), pc);
            }
            None => additions(Some(target), None, pc),
        }
    }
}

fn purge_markers(e: &mut Element) {
    e.remove_attr(MARKER);
    for c in &mut e.children {
        purge_markers(c);
    }
}

/// Applies a format-1 patch to `cib` (unchanged on error), checking the
/// versions first when asked, and the digest when the patch has one.
pub fn apply(cib: &mut Element, patch: &Element, check_version: bool) -> Result<(), ApplyError> {
    if check_version {
        let mut this = [0i64; 3];
        version_of(Some(cib), &mut this);
        for v in &mut this {
            *v = (*v).max(0);
        }
        let mut del = this;
        let mut add = [this[0], this[1], this[2] + 1];
        version_of(side_version(patch, "diff-removed").as_ref(), &mut del);
        version_of(side_version(patch, "diff-added").as_ref(), &mut add);
        for i in 0..3 {
            if this[i] < del[i] {
                return Err(ApplyError::Resync);
            }
            if this[i] > del[i] {
                return Err(ApplyError::Old);
            }
        }
        if !(0..3).any(|i| add[i] > del[i]) {
            return Err(ApplyError::Old);
        }
    }
    let mut work = cib.clone();
    let removed: Vec<&Element> = patch
        .child("diff-removed")
        .map(|r| r.children.iter().collect())
        .unwrap_or_default();
    let added: Vec<&Element> = patch
        .child("diff-added")
        .map(|r| r.children.iter().collect())
        .unwrap_or_default();
    if removed.len() > 1 || added.len() > 1 {
        return Err(ApplyError::Failed);
    }
    if let Some(r) = removed.first() {
        // The root itself is never removed.
        let _ = removals(&mut work, r);
    }
    if let Some(a) = added.first() {
        additions(None, Some(&mut work), a);
    }
    purge_markers(&mut work);
    if let Some(d) = patch.attr("digest") {
        if !versioned(&work).eq_ignore_ascii_case(d) {
            return Err(ApplyError::Failed);
        }
    }
    *cib = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::Limits;

    fn xml(s: &str) -> Element {
        parse_cib(s, &Limits::default()).expect("parse")
    }

    const OLD: &str = r#"<cib admin_epoch="0" epoch="1" num_updates="1"><configuration><crm_config><cluster_property_set id="o"><nvpair id="a" name="a" value="1"/><nvpair id="b" name="b" value="2"/></cluster_property_set></crm_config><nodes/><resources/><constraints/></configuration><status/></cib>"#;
    const NEW: &str = r#"<cib admin_epoch="0" epoch="2" num_updates="0"><configuration><crm_config><cluster_property_set id="o"><nvpair id="a" name="a" value="9"/><nvpair id="c" name="c" value="3"/></cluster_property_set></crm_config><nodes/><resources/><constraints/></configuration><status/></cib>"#;

    #[test]
    fn old_cibs_get_format_one() {
        assert!(wanted_for(&xml("<cib/>")));
        assert!(wanted_for(&xml(r#"<cib crm_feature_set="3.0.8"/>"#)));
        assert!(!wanted_for(&xml(r#"<cib crm_feature_set="3.0.9"/>"#)));
    }

    #[test]
    fn a_patch_lists_old_and_new_values_and_applies_back() {
        let (old, new) = (xml(OLD), xml(NEW));
        let p = create(&old, &new).expect("differs");
        let removed = p.child("diff-removed").expect("removed");
        assert_eq!(removed.attr("epoch"), Some("1"));
        let set = removed
            .path(&["cib", "configuration", "crm_config", "cluster_property_set"])
            .expect("set");
        // The changed value's old form, and the deleted pair marked.
        assert_eq!(set.children[0].attr("value"), Some("1"));
        assert_eq!(set.children[1].attr(MARKER), Some("removed:top"));
        let mut cib = old.clone();
        apply(&mut cib, &p, true).expect("applies");
        assert!(crate::patch::same(&cib, &new), "{}", cib.to_compact());
        // Again: the CIB is now newer than the patch's source.
        assert_eq!(apply(&mut cib, &p, true), Err(ApplyError::Old));
        assert!(create(&old, &old).is_none());
    }
}

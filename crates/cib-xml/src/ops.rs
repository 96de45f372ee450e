//! The CIB operations (query, create, modify, replace, delete, erase,
//! bump, upgrade, patch) as pure functions of the current CIB and a
//! request, with Pacemaker's semantics (`cib_ops.c`) and its checks after
//! every write: a result with an older configuration version or a newer
//! feature set is refused, the version is bumped (see [`crate::version`]),
//! and the result must validate (see [`crate::validate`]).
//!
//! Shared by cibadmin's `CIB_file` mode and the CIB daemon: a refused
//! request returns an [`OpError`] and the caller keeps its current CIB, so
//! a rejected update changes nothing.

use std::fmt;

use crate::digest::compare_versions;
use crate::doc::to_pcmk_pretty;
use crate::patch::{self, same, Patch, PatchError};
use crate::upgrade;
use crate::validate;
use crate::version::{self, expand_plus_plus, Change, Version};
use crate::xml::Element;
use crate::xpath::{self, element_path, NodePath, XPath};

/// The CRM feature set we implement (Pacemaker 2.1.5's).
pub const FEATURE_SET: &str = "3.16.1";

/// The newest schema we know.
pub const LATEST_SCHEMA: &str = "pacemaker-3.9";

/// The operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read a section, an XPath, or the whole CIB.
    Query,
    /// Add an object to a section (fails if it exists).
    Create,
    /// Merge attributes and children into an existing object.
    Modify,
    /// Replace an object, a section, or the whole CIB.
    Replace,
    /// Remove an object (absent: success).
    Delete,
    /// Replace the CIB with an empty one (admin_epoch + 1).
    Erase,
    /// Raise epoch.
    Bump,
    /// Upgrade to the newest schema.
    Upgrade,
    /// Apply a v2 patchset.
    Patch,
}

impl Op {
    /// Whether the operation may change the CIB.
    pub fn is_write(self) -> bool {
        self != Op::Query
    }
}

/// A request: the operation and its options (cibadmin's flags).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The operation.
    pub op: Op,
    /// `-o SECTION`.
    pub section: Option<&'a str>,
    /// `-A XPATH`.
    pub xpath: Option<&'a str>,
    /// `-X`/`-x`/`-p` input.
    pub data: Option<&'a Element>,
    /// `-c`: modify creates what is missing.
    pub allow_create: bool,
    /// `-n`: query returns objects without children.
    pub no_children: bool,
    /// `-d`: act on every XPath match, not only the first.
    pub multiple: bool,
    /// `-e`: query returns the matches' paths.
    pub node_path: bool,
}

impl<'a> Request<'a> {
    /// A request with no options.
    pub fn new(op: Op) -> Request<'a> {
        Request {
            op,
            section: None,
            xpath: None,
            data: None,
            allow_create: false,
            no_children: false,
            multiple: false,
            node_path: false,
        }
    }
}

/// Why a request was refused; each kind has Pacemaker's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// ENXIO: the object or section does not exist (105).
    NoSuchObject,
    /// EEXIST: create of an existing object (108).
    Exists,
    /// EINVAL: the request itself is wrong (70 as Pacemaker maps it).
    Invalid,
    /// The result does not validate (78).
    Schema,
    /// The result's configuration version is older (103).
    Old,
    /// The result's feature set is newer than ours (76).
    Protocol,
    /// A patch needs a full copy (1).
    Resync,
    /// A patch's digest did not match (104).
    Digest,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The kind, which decides the exit code.
    pub kind: ErrorKind,
    /// Details naming the offending element.
    pub message: String,
    /// For create: `<failed>` with one `<failed_update>` per object.
    pub failed: Option<Box<Element>>,
    /// For schema errors: the rejected result, for Pacemaker's numbered
    /// dump.
    pub candidate: Option<Box<Element>>,
}

impl OpError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            message: message.into(),
            failed: None,
            candidate: None,
        }
    }

    /// Pacemaker's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::NoSuchObject => 105,
            ErrorKind::Exists => 108,
            ErrorKind::Invalid => 70,
            ErrorKind::Schema => 78,
            ErrorKind::Old => 103,
            ErrorKind::Protocol => 76,
            ErrorKind::Resync => 1,
            ErrorKind::Digest => 104,
        }
    }

    /// Pacemaker's text for the error ("Call failed: TEXT").
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorKind::NoSuchObject => "No such device or address",
            ErrorKind::Exists => "File exists",
            ErrorKind::Invalid => "Invalid argument",
            ErrorKind::Schema => "Update does not conform to the configured schema",
            ErrorKind::Old => "Update was older than existing configuration",
            ErrorKind::Protocol => "Protocol not supported",
            ErrorKind::Resync => "Application of update diff failed, requesting full refresh",
            ErrorKind::Digest => "Digest mismatch",
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason())?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for OpError {}

/// What a request produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A query's answer.
    Query(Element),
    /// A query's answer as paths (`-e`).
    Paths(Vec<String>),
    /// A write that changed the CIB: the new CIB, what changed, and the
    /// patch from the old one.
    Changed {
        /// The new CIB, version already moved.
        cib: Element,
        /// What changed.
        change: Change,
        /// The patchset from the old CIB to the new one.
        patch: Box<Patch>,
    },
    /// A write that changed nothing.
    Unchanged,
}

/// Where a section lives (`pcmk_find_cib_element`): `None` for the whole
/// CIB (also for unknown names, as Pacemaker treats them).
pub fn section_path(section: Option<&str>) -> Option<&'static [&'static str]> {
    Some(match section? {
        "configuration" => &["configuration"],
        "status" => &["status"],
        "nodes" => &["configuration", "nodes"],
        "resources" => &["configuration", "resources"],
        "constraints" => &["configuration", "constraints"],
        "crm_config" => &["configuration", "crm_config"],
        "rsc_defaults" => &["configuration", "rsc_defaults"],
        "op_defaults" => &["configuration", "op_defaults"],
        "acls" => &["configuration", "acls"],
        "fencing-topology" => &["configuration", "fencing-topology"],
        "tags" => &["configuration", "tags"],
        "alerts" => &["configuration", "alerts"],
        _ => return None,
    })
}

/// Address of a section element, if it exists.
fn find_section(cib: &Element, section: Option<&str>) -> Option<NodePath> {
    let Some(names) = section_path(section) else {
        return Some(vec![0]);
    };
    let mut path = vec![0];
    let mut cur = cib;
    for n in names {
        let i = cur.children.iter().position(|c| c.name == *n)?;
        path.push(i);
        cur = &cur.children[i];
    }
    Some(path)
}

/// Finds or creates a section, returning its address.
fn ensure_section(cib: &mut Element, section: Option<&str>) -> NodePath {
    let Some(names) = section_path(section) else {
        return vec![0];
    };
    let mut path = vec![0];
    let mut cur = cib;
    for n in names {
        let i = match cur.children.iter().position(|c| c.name == *n) {
            Some(i) => i,
            None => {
                cur.children.push(Element::new(n));
                cur.children.len() - 1
            }
        };
        path.push(i);
        cur = &mut cur.children[i];
    }
    path
}

fn at_mut<'a>(cib: &'a mut Element, path: &[usize]) -> Result<&'a mut Element, OpError> {
    // Paths handed here were just resolved on this same document.
    xpath::get_mut(cib, path)
        .ok_or_else(|| OpError::new(ErrorKind::Invalid, "internal: address not found"))
}

/// `copy_in_properties`: sets every attribute of `src` on `target`,
/// expanding `name++` and `name+=N`.
fn copy_in_properties(target: &mut Element, src: &Element) {
    for (k, v) in &src.attrs {
        match expand_plus_plus(k, v, target.attr(k)) {
            Some(x) => target.set_attr(k, &x),
            None => target.set_attr(k, v),
        }
    }
}

/// The child of `parent` an update child corresponds to: same name and
/// id, or same id-ref, or (neither) the first with the name.
fn match_child(parent: &Element, update: &Element) -> Option<usize> {
    let (key, val) = match (update.attr("id"), update.attr("id-ref")) {
        (Some(id), _) => ("id", Some(id)),
        (None, Some(r)) => ("id-ref", Some(r)),
        (None, None) => ("", None),
    };
    parent
        .children
        .iter()
        .position(|c| c.name == update.name && val.is_none_or(|v| c.attr(key) == Some(v)))
}

/// `add_xml_object`: merges `update` (attributes, then children
/// recursively) into `target`.
fn merge(target: &mut Element, update: &Element) {
    copy_in_properties(target, update);
    for uc in update.elements() {
        let i = match match_child(target, uc) {
            Some(i) => i,
            None => {
                target.children.push(Element::new(&uc.name));
                target.children.len() - 1
            }
        };
        merge(&mut target.children[i], uc);
    }
}

/// `update_xml_child`: merges `update` into the first element of the
/// subtree (root included, depth first) with the same name and id.
fn update_child(el: &mut Element, update: &Element) -> bool {
    if el.name == update.name && el.attr("id") == update.attr("id") {
        merge(el, update);
        return true;
    }
    el.children
        .iter_mut()
        .filter(|c| !c.is_comment())
        .any(|c| update_child(c, update))
}

fn name_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `replace_xml_child`: finds the first element below `el` (not `el`
/// itself) matching `update` by name and id (and, for deletes, every
/// attribute of `update`, case-insensitively) and replaces or deletes it.
fn replace_child(el: &mut Element, update: &Element, delete_only: bool) -> bool {
    let matches = |c: &Element| {
        if c.is_comment() || !name_eq(&c.name, &update.name) {
            return false;
        }
        let id_ok = match update.attr("id") {
            None => true,
            Some(u) => c.attr("id") == Some(u),
        };
        id_ok
            && (!delete_only
                || update
                    .attrs
                    .iter()
                    .all(|(k, v)| c.attr(k).is_some_and(|x| x.eq_ignore_ascii_case(v))))
    };
    for i in 0..el.children.len() {
        if matches(&el.children[i]) {
            if delete_only {
                el.children.remove(i);
            } else {
                el.children[i] = update.clone();
            }
            return true;
        }
        if replace_child(&mut el.children[i], update, delete_only) {
            return true;
        }
    }
    false
}

fn need_data<'a>(req: &Request<'a>) -> Result<&'a Element, OpError> {
    req.data
        .ok_or_else(|| OpError::new(ErrorKind::Invalid, "no XML data given for this operation"))
}

fn is_whole(section: Option<&str>, data: Option<&Element>) -> bool {
    match section {
        None => true,
        Some(s) if s.eq_ignore_ascii_case("all") || s.eq_ignore_ascii_case("cib") => true,
        _ => data.is_some_and(|d| d.name == "cib"),
    }
}

/// Runs a query.
fn query(cib: &Element, req: &Request<'_>) -> Result<Outcome, OpError> {
    if let Some(xp) = req.xpath {
        let x = XPath::parse(xp).map_err(|e| OpError::new(ErrorKind::Invalid, e.to_string()))?;
        let found = x.select(cib);
        if found.is_empty() {
            return Err(OpError::new(
                ErrorKind::NoSuchObject,
                format!("no match for {xp}"),
            ));
        }
        if req.node_path {
            return Ok(Outcome::Paths(
                found.iter().map(|p| element_path(cib, p)).collect(),
            ));
        }
        let shallow = |e: &Element| Element {
            name: e.name.clone(),
            attrs: e.attrs.clone(),
            ..Element::default()
        };
        let mut els: Vec<Element> = found
            .iter()
            .filter_map(|p| xpath::get(cib, p))
            .map(|e| {
                if req.no_children {
                    shallow(e)
                } else {
                    e.clone()
                }
            })
            .collect();
        if els.len() == 1 {
            return Ok(Outcome::Query(els.remove(0)));
        }
        let mut wrap = Element::new("xpath-query");
        wrap.children = els;
        return Ok(Outcome::Query(wrap));
    }
    let path = find_section(cib, req.section).ok_or_else(|| {
        OpError::new(
            ErrorKind::NoSuchObject,
            format!("section {} does not exist", req.section.unwrap_or("")),
        )
    })?;
    let el = xpath::get(cib, &path)
        .ok_or_else(|| OpError::new(ErrorKind::NoSuchObject, "section vanished"))?;
    if req.no_children {
        return Ok(Outcome::Query(Element {
            name: el.name.clone(),
            attrs: el.attrs.clone(),
            ..Element::default()
        }));
    }
    Ok(Outcome::Query(el.clone()))
}

/// Applies a write operation to `scratch` (a copy of the current CIB).
fn write_op(scratch: &mut Element, current: &Element, req: &Request<'_>) -> Result<(), OpError> {
    if let (Some(xp), true) = (
        req.xpath,
        matches!(req.op, Op::Create | Op::Modify | Op::Replace | Op::Delete),
    ) {
        return xpath_write(scratch, req, xp);
    }
    match req.op {
        Op::Query => Ok(()),
        Op::Modify => modify(scratch, req),
        Op::Create => {
            let data = need_data(req)?;
            if is_whole(req.section, Some(data)) {
                return modify(scratch, req);
            }
            let path = ensure_section(scratch, req.section);
            let section = req.section.unwrap_or("");
            let objs: Vec<&Element> = if name_eq(&data.name, section) {
                data.elements().collect()
            } else {
                vec![data]
            };
            let mut failed = Element::new("failed");
            let parent = at_mut(scratch, &path)?;
            for obj in objs {
                if match_child(parent, obj).is_some() {
                    let mut f = Element::new("failed_update")
                        .with_attr("id", obj.attr("id").unwrap_or(""))
                        .with_attr("object_type", &obj.name)
                        .with_attr("operation", "cib_create")
                        .with_attr("reason", "File exists");
                    f.children.push(obj.clone());
                    failed.children.push(f);
                    continue;
                }
                let mut fresh = Element::new(&obj.name);
                merge(&mut fresh, obj);
                parent.children.push(fresh);
            }
            if !failed.children.is_empty() {
                let names: Vec<String> = failed
                    .children
                    .iter()
                    .map(|f| {
                        format!(
                            "<{} id=\"{}\">",
                            f.attr("object_type").unwrap_or(""),
                            f.attr("id").unwrap_or("")
                        )
                    })
                    .collect();
                let mut e = OpError::new(
                    ErrorKind::Exists,
                    format!("{} already exists", names.join(", ")),
                );
                e.failed = Some(Box::new(failed));
                return Err(e);
            }
            Ok(())
        }
        Op::Replace => {
            let data = need_data(req)?;
            if data.name == "cib" {
                let (cur, new) = (Version::of(current), Version::of(data));
                if new < cur {
                    return Err(OpError::new(
                        ErrorKind::Old,
                        format!("replacement {new} is older than the current {cur}"),
                    ));
                }
                *scratch = data.clone();
                return Ok(());
            }
            let section = match req.section {
                Some(s) if s.eq_ignore_ascii_case(&data.name) || s.eq_ignore_ascii_case("all") => {
                    None
                }
                s => s,
            };
            let path = find_section(scratch, section).ok_or_else(|| {
                OpError::new(
                    ErrorKind::NoSuchObject,
                    format!("section {} does not exist", section.unwrap_or("")),
                )
            })?;
            if !replace_child(at_mut(scratch, &path)?, data, false) {
                return Err(OpError::new(
                    ErrorKind::NoSuchObject,
                    format!("no <{}{}> to replace", data.name, id_text(data)),
                ));
            }
            Ok(())
        }
        Op::Delete => {
            let data = need_data(req)?;
            let Some(path) = find_section(scratch, req.section) else {
                return Ok(());
            };
            let section = req.section.unwrap_or("");
            let root = at_mut(scratch, &path)?;
            if name_eq(&data.name, section) {
                for c in data.elements() {
                    replace_child(root, c, true);
                }
            } else {
                replace_child(root, data, true);
            }
            Ok(())
        }
        Op::Erase => {
            let mut fresh = empty_cib();
            copy_in_properties(&mut fresh, current);
            let v = Version::of(current);
            fresh.set_attr(
                "admin_epoch",
                &(v.admin_epoch.saturating_add(1)).to_string(),
            );
            *scratch = fresh;
            Ok(())
        }
        Op::Bump => {
            let v = Version::of(scratch);
            scratch.set_attr("epoch", &(v.epoch.saturating_add(1)).to_string());
            Ok(())
        }
        Op::Upgrade => match upgrade::upgrade(scratch) {
            Ok(Some(up)) => {
                let v = Version::of(current);
                let mut up = up;
                up.set_attr(
                    "admin_epoch",
                    &(v.admin_epoch.saturating_add(1)).to_string(),
                );
                // Pacemaker's cib_update_counter(reset) sets 1; the bump
                // after it then counts the change (epoch 2 and num_updates
                // 0 if the configuration changed, else num_updates 2).
                up.set_attr("epoch", "1");
                up.set_attr("num_updates", "1");
                *scratch = up;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(OpError::new(ErrorKind::Schema, e)),
        },
        Op::Patch => {
            let data = need_data(req)?;
            // Pacemaker's legacy format 1, which its crm_diff still
            // writes for CIBs with an old crm_feature_set (crmsh pipes
            // those to `cibadmin -P`).
            if data.attr("format") == Some("1")
                || (data.attr("format").is_none() && data.child("diff-added").is_some())
            {
                return crate::patch_v1::apply(scratch, data, true).map_err(|e| {
                    let (kind, what) = match e {
                        crate::patch_v1::ApplyError::Old => (
                            ErrorKind::Old,
                            "the patch is for an older version of the CIB",
                        ),
                        crate::patch_v1::ApplyError::Resync => (
                            ErrorKind::Resync,
                            "the patch is for a newer version of the CIB",
                        ),
                        crate::patch_v1::ApplyError::Failed => (
                            ErrorKind::Digest,
                            "the format-1 patch did not apply (several change sets, or the result's digest differs)",
                        ),
                    };
                    OpError::new(kind, what.to_string())
                });
            }
            let p = Patch::from_xml(data)
                .map_err(|e| OpError::new(ErrorKind::Invalid, e.to_string()))?;
            patch::apply(scratch, &p, true).map_err(|e| {
                let kind = match e {
                    PatchError::Old { .. } => ErrorKind::Old,
                    PatchError::Resync { .. } | PatchError::NotFound(_) => ErrorKind::Resync,
                    PatchError::Digest { .. } => ErrorKind::Digest,
                    PatchError::Malformed(_) => ErrorKind::Invalid,
                };
                OpError::new(kind, e.to_string())
            })
        }
    }
}

fn id_text(e: &Element) -> String {
    e.attr("id")
        .map(|i| format!(" id=\"{i}\""))
        .unwrap_or_default()
}

fn modify(scratch: &mut Element, req: &Request<'_>) -> Result<(), OpError> {
    let data = need_data(req)?;
    let section = if is_whole(req.section, Some(data)) {
        None
    } else {
        req.section
    };
    let path = ensure_section(scratch, section);
    let root = at_mut(scratch, &path)?;
    if !update_child(root, data) {
        if req.allow_create {
            root.children.push(data.clone());
        } else {
            return Err(OpError::new(
                ErrorKind::NoSuchObject,
                format!("no <{}{}> to modify", data.name, id_text(data)),
            ));
        }
    }
    Ok(())
}

fn xpath_write(scratch: &mut Element, req: &Request<'_>, xp: &str) -> Result<(), OpError> {
    let x = XPath::parse(xp).map_err(|e| OpError::new(ErrorKind::Invalid, e.to_string()))?;
    let found = x.select(scratch);
    if found.is_empty() {
        if req.op == Op::Delete {
            return Ok(());
        }
        return Err(OpError::new(
            ErrorKind::NoSuchObject,
            format!("no match for {xp}"),
        ));
    }
    match req.op {
        Op::Delete => {
            if found.iter().any(|p| p.len() == 1) {
                return Err(OpError::new(
                    ErrorKind::Invalid,
                    format!("{xp} addresses the whole /cib"),
                ));
            }
            let chosen: Vec<NodePath> = if req.multiple {
                found
            } else {
                found.into_iter().take(1).collect()
            };
            // Remove from the last so earlier addresses stay valid; a
            // match inside an already removed one is gone with it.
            for p in chosen.iter().rev() {
                if let Some((last, parent)) = p.split_last() {
                    if let Some(par) = xpath::get_mut(scratch, parent) {
                        if *last < par.children.len() {
                            par.children.remove(*last);
                        }
                    }
                }
            }
            Ok(())
        }
        Op::Modify => {
            let data = need_data(req)?;
            for p in &found {
                if !update_child(at_mut(scratch, p)?, data) {
                    return Err(OpError::new(
                        ErrorKind::NoSuchObject,
                        format!("no <{}{}> under {xp}", data.name, id_text(data)),
                    ));
                }
                if !req.multiple {
                    break;
                }
            }
            Ok(())
        }
        Op::Create => {
            let data = need_data(req)?;
            at_mut(scratch, &found[0])?.children.push(data.clone());
            Ok(())
        }
        Op::Replace => {
            let data = need_data(req)?;
            let chosen: Vec<NodePath> = if req.multiple {
                found
            } else {
                found.into_iter().take(1).collect()
            };
            for p in chosen.iter().rev() {
                let Some((last, parent)) = p.split_last() else {
                    continue;
                };
                if parent.is_empty() {
                    *scratch = data.clone();
                    continue;
                }
                let par = at_mut(scratch, parent)?;
                par.children.remove(*last);
                par.children.push(data.clone());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Pacemaker's `createEmptyCib(0)`.
pub fn empty_cib() -> Element {
    let mut cib = Element::new("cib")
        .with_attr("crm_feature_set", FEATURE_SET)
        .with_attr("validate-with", LATEST_SCHEMA)
        .with_attr("epoch", "0")
        .with_attr("num_updates", "0")
        .with_attr("admin_epoch", "0");
    let mut config = Element::new("configuration");
    for s in ["crm_config", "nodes", "resources", "constraints"] {
        config.children.push(Element::new(s));
    }
    cib.children.push(config);
    cib.children.push(Element::new("status"));
    cib
}

/// Runs `req` against `current`. Writes are checked as Pacemaker checks
/// them (feature set, older configuration, version bump, validation); on
/// any error `current` is untouched by construction.
pub fn perform(current: &Element, req: &Request<'_>) -> Result<Outcome, OpError> {
    if req.op == Op::Query {
        return query(current, req);
    }
    let mut scratch = current.clone();
    write_op(&mut scratch, current, req)?;
    if same(current, &scratch) {
        return Ok(Outcome::Unchanged);
    }
    if scratch.name != "cib" {
        return Err(OpError::new(
            ErrorKind::Schema,
            format!("the result's root is <{}>, not <cib>", scratch.name),
        ));
    }
    if let Some(fs) = scratch.attr("crm_feature_set") {
        if compare_versions(fs, FEATURE_SET) == std::cmp::Ordering::Greater {
            return Err(OpError::new(
                ErrorKind::Protocol,
                format!("crm_feature_set {fs} is newer than ours ({FEATURE_SET})"),
            ));
        }
    }
    let (old_v, new_v) = (Version::of(current), Version::of(&scratch));
    if new_v.is_older_config_than(&old_v) {
        return Err(OpError::new(
            ErrorKind::Old,
            format!("the result {new_v} is older than the current {old_v}"),
        ));
    }
    let change = if req.op == Op::Patch {
        version::classify(current, &scratch)
    } else {
        version::bump(current, &mut scratch)
    };
    if let Err(errors) = validate::validate(&scratch) {
        let mut msg = String::new();
        for e in &errors {
            msg.push_str(&e.to_string());
            msg.push('\n');
        }
        let mut e = OpError::new(ErrorKind::Schema, msg.trim_end().to_string());
        e.candidate = Some(Box::new(scratch));
        return Err(e);
    }
    let patch = patch::diff(current, &scratch).unwrap_or(Patch {
        source: Some(old_v),
        target: Some(Version::of(&scratch)),
        digest: None,
        changes: Vec::new(),
    });
    Ok(Outcome::Changed {
        cib: scratch,
        change,
        patch: Box::new(patch),
    })
}

/// The candidate document numbered line by line, as Pacemaker prints a
/// CIB that failed validation.
pub fn numbered_dump(cib: &Element) -> String {
    to_pcmk_pretty(cib)
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{:<4}{l}\n", i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    const CIB: &str = r#"<cib admin_epoch="0" epoch="6" num_updates="117" validate-with="pacemaker-3.7" crm_feature_set="3.0.9">
      <configuration>
        <crm_config><cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
        <nodes><node id="n1" uname="n1"/></nodes>
        <resources><primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/></resources>
        <constraints/>
      </configuration>
      <status/>
    </cib>"#;

    fn p(s: &str) -> Element {
        parse_cib(s, &Limits::default()).unwrap()
    }

    fn run(req: Request<'_>) -> Result<Element, OpError> {
        match perform(&p(CIB), &req)? {
            Outcome::Changed { cib, patch, .. } => {
                // The patch rebuilds the result.
                let mut again = p(CIB);
                patch::apply(&mut again, &patch, true).unwrap();
                assert!(same(&again, &cib));
                Ok(cib)
            }
            Outcome::Unchanged => Ok(p(CIB)),
            Outcome::Query(e) => Ok(e),
            Outcome::Paths(_) => Err(OpError::new(ErrorKind::Invalid, "paths")),
        }
    }

    #[test]
    fn table_of_operations() {
        let prim = p(r#"<primitive id="B" class="ocf" provider="heartbeat" type="Dummy"/>"#);
        let dup = p(r#"<primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/>"#);
        let nv = p(r#"<nvpair id="o1" value="true"/>"#);
        let missing = p(r#"<nvpair id="nope" value="true"/>"#);
        let new_set = p(
            r#"<cluster_property_set id="s2"><nvpair id="nope" name="x" value="1"/></cluster_property_set>"#,
        );
        let bump_admin = p(r#"<cib admin_epoch="admin_epoch++"/>"#);
        let del = p(r#"<primitive id="A"/>"#);
        let repl = prim
            .clone()
            .with_attr("id", "A")
            .with_attr("description", "d");
        let bad = p(r#"<primitive id="C"/>"#);
        type Check = fn(&Result<Element, OpError>) -> bool;
        let cases: Vec<(&str, Request<'_>, &str, Check)> = vec![
            (
                "create",
                Request {
                    section: Some("resources"),
                    data: Some(&prim),
                    ..Request::new(Op::Create)
                },
                "0.7.0",
                |r| {
                    r.as_ref()
                        .is_ok_and(|c| c.find_id("B", Some("primitive")).is_some())
                },
            ),
            (
                "create existing",
                Request {
                    section: Some("resources"),
                    data: Some(&dup),
                    ..Request::new(Op::Create)
                },
                "",
                |r| {
                    r.as_ref()
                        .is_err_and(|e| e.exit_code() == 108 && e.failed.is_some())
                },
            ),
            (
                "modify",
                Request {
                    data: Some(&nv),
                    ..Request::new(Op::Modify)
                },
                "0.7.0",
                |r| {
                    r.as_ref().is_ok_and(|c| {
                        c.find_id("o1", None).and_then(|e| e.attr("value")) == Some("true")
                    })
                },
            ),
            (
                "modify missing",
                Request {
                    data: Some(&missing),
                    ..Request::new(Op::Modify)
                },
                "",
                |r| r.as_ref().is_err_and(|e| e.exit_code() == 105),
            ),
            (
                "modify missing -c",
                Request {
                    section: Some("crm_config"),
                    data: Some(&new_set),
                    allow_create: true,
                    ..Request::new(Op::Modify)
                },
                "0.7.0",
                |r| r.as_ref().is_ok_and(|c| c.find_id("nope", None).is_some()),
            ),
            (
                "admin_epoch++",
                Request {
                    data: Some(&bump_admin),
                    ..Request::new(Op::Modify)
                },
                "1.6.118",
                |r| r.is_ok(),
            ),
            ("bump", Request::new(Op::Bump), "0.7.118", |r| r.is_ok()),
            (
                "delete",
                Request {
                    data: Some(&del),
                    ..Request::new(Op::Delete)
                },
                "0.7.0",
                |r| r.as_ref().is_ok_and(|c| c.find_id("A", None).is_none()),
            ),
            (
                "delete absent",
                Request {
                    data: Some(&bad),
                    ..Request::new(Op::Delete)
                },
                "0.6.117",
                |r| r.is_ok(),
            ),
            (
                "delete xpath",
                Request {
                    xpath: Some("//nvpair[@name='stonith-enabled']"),
                    ..Request::new(Op::Delete)
                },
                "0.7.0",
                |r| r.as_ref().is_ok_and(|c| c.find_id("o1", None).is_none()),
            ),
            (
                "delete /cib",
                Request {
                    xpath: Some("/cib"),
                    ..Request::new(Op::Delete)
                },
                "",
                |r| r.as_ref().is_err_and(|e| e.kind == ErrorKind::Invalid),
            ),
            (
                "replace",
                Request {
                    section: Some("resources"),
                    data: Some(&repl),
                    ..Request::new(Op::Replace)
                },
                "0.7.0",
                |r| r.is_ok(),
            ),
            (
                "invalid result",
                Request {
                    section: Some("resources"),
                    data: Some(&bad),
                    ..Request::new(Op::Create)
                },
                "",
                |r| {
                    r.as_ref().is_err_and(|e| {
                        e.exit_code() == 78 && e.message.contains("primitive id=\"C\"")
                    })
                },
            ),
            ("erase", Request::new(Op::Erase), "1.7.0", |r| {
                r.as_ref().is_ok_and(|c| c.find_id("A", None).is_none())
            }),
            (
                "query section",
                Request {
                    section: Some("nodes"),
                    ..Request::new(Op::Query)
                },
                "",
                |r| r.as_ref().is_ok_and(|c| c.name == "nodes"),
            ),
            (
                "query missing section",
                Request {
                    section: Some("rsc_defaults"),
                    ..Request::new(Op::Query)
                },
                "",
                |r| r.as_ref().is_err_and(|e| e.exit_code() == 105),
            ),
        ];
        for (name, req, version, check) in cases {
            let r = run(req);
            assert!(check(&r), "{name}: {r:?}");
            if !version.is_empty() {
                let got = r.as_ref().map(|c| Version::of(c).to_string());
                assert_eq!(got.as_deref(), Ok(version), "{name}");
            }
        }
    }

    #[test]
    fn older_replacement_and_newer_feature_set_are_refused() {
        let older = p(&CIB.replace("epoch=\"6\"", "epoch=\"5\""));
        let r = perform(
            &p(CIB),
            &Request {
                data: Some(&older),
                ..Request::new(Op::Replace)
            },
        );
        assert_eq!(r.unwrap_err().exit_code(), 103);
        let newer = p(r#"<cib crm_feature_set="9.0.0"/>"#);
        let r = perform(
            &p(CIB),
            &Request {
                data: Some(&newer),
                ..Request::new(Op::Modify)
            },
        );
        assert_eq!(r.unwrap_err().exit_code(), 76);
    }
}

//! Unpacking `<constraints>`: locations (scores, rules, patterns, sets),
//! colocations (simple and sets) and orderings (simple and sets).

use std::collections::HashMap;

use cib_xml::rules::{eval_rule, parse_interval_ms};
use cib_xml::score::{add, parse_score, scan_int, INFINITY};
use cib_xml::{Element, IdIndex, Role, RuleContext};

use crate::colocation::new_colocation;
use crate::model::*;
use crate::order::{new_ordering, order_resource_actions};
use crate::util::{is_true, op_key, parse_bool};

struct Ctx<'a, 'b> {
    idx: &'a IdIndex<'b>,
    ids: HashMap<String, RscId>,
    /// Tags and templates: id -> the resource ids they stand for.
    tags: HashMap<String, Vec<String>>,
}

impl Ctx<'_, '_> {
    fn rsc(&self, ws: &WorkingSet, id: &str) -> Option<RscId> {
        if let Some(&r) = self.ids.get(id) {
            return Some(r);
        }
        // An instance id of a clone maps to its top-level parent.
        let base = crate::util::clone_strip(id);
        self.ids.get(base).map(|&r| ws.top_parent(r))
    }
}

pub(crate) fn unpack_constraints(ws: &mut WorkingSet, idx: &IdIndex<'_>) {
    let cib = ws.cib.clone();
    let Some(cons) = cib.path(&["configuration", "constraints"]) else {
        return;
    };
    let ctx = Ctx {
        idx,
        ids: crate::unpack::rsc_by_id(ws),
        tags: tag_table(&cib),
    };
    for c in &cons.children {
        let expanded = expand_tags(ws, &ctx, c);
        let c = expanded.as_ref().unwrap_or(c);
        // Lifetime rules (deprecated) disable the whole constraint.
        if let Some(lt) = c.child("lifetime") {
            let nc = ws.next_change.clone();
            let rctx = RuleContext {
                now: Some(ws.now),
                next_change: Some(&nc),
                ..Default::default()
            };
            if !cib_xml::rules::eval_rules(lt, idx, &rctx) {
                continue;
            }
        }
        match c.name.as_str() {
            "rsc_order" => unpack_order(ws, &ctx, c),
            "rsc_colocation" => unpack_colocation(ws, &ctx, c),
            "rsc_location" => unpack_location(ws, &ctx, c),
            "rsc_ticket" => crate::tickets::unpack_ticket_constraint(ws, &ctx.ids, c),
            _ => {}
        }
    }
}

// ------------------------------------------------------ tags and templates

/// Tags (`<tags><tag><obj_ref>`) and templates (the primitives that use
/// each, in document order), as Pacemaker registers both.
fn tag_table(cib: &Element) -> HashMap<String, Vec<String>> {
    let mut t: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(rscs) = cib.path(&["configuration", "resources"]) {
        rscs.walk(&mut |e| {
            if e.name == "template" {
                t.entry(e.id().to_string()).or_default();
            }
            if e.name == "primitive" {
                if let Some(tpl) = e.attr("template") {
                    t.entry(tpl.to_string())
                        .or_default()
                        .push(e.id().to_string());
                }
            }
        });
    }
    if let Some(tags) = cib.path(&["configuration", "tags"]) {
        for tag in tags.children_named("tag") {
            let refs = tag
                .children_named("obj_ref")
                .map(|o| o.id().to_string())
                .collect();
            t.insert(tag.id().to_string(), refs);
        }
    }
    t
}

fn is_tag(ws: &WorkingSet, ctx: &Ctx<'_, '_>, id: &str) -> bool {
    ctx.rsc(ws, id).is_none() && ctx.tags.contains_key(id)
}

/// pcmk__tag_to_set: a tag/template named by `attr` becomes a resource set
/// (sequential=false) appended to the constraint; with `convert_rsc` a plain
/// resource does too. Returns the new set's index, or None.
fn tag_to_set(
    ws: &WorkingSet,
    ctx: &Ctx<'_, '_>,
    c: &mut Element,
    attr: &str,
    convert_rsc: bool,
) -> Option<usize> {
    let id = c.attr(attr)?.to_string();
    let mut set = Element::new("resource_set").with_attr("id", &id);
    if is_tag(ws, ctx, &id) {
        for r in ctx.tags.get(&id).cloned().unwrap_or_default() {
            set.children
                .push(Element::new("resource_ref").with_attr("id", &r));
        }
        set.set_attr("sequential", "false");
    } else if ctx.rsc(ws, &id).is_some() && convert_rsc {
        set.children
            .push(Element::new("resource_ref").with_attr("id", &id));
    } else {
        return None;
    }
    c.remove_attr(attr);
    c.children.push(set);
    Some(c.children.len() - 1)
}

/// Expands tags and templates in a constraint (inside resource sets, and in
/// the rsc/with-rsc/first/then attributes), as Pacemaker rewrites the XML.
fn expand_tags(ws: &WorkingSet, ctx: &Ctx<'_, '_>, c: &Element) -> Option<Element> {
    let has_sets = c.child("resource_set").is_some();
    if has_sets {
        let mut new = c.clone();
        let mut any = false;
        for set in new.children.iter_mut().filter(|s| s.name == "resource_set") {
            let mut refs = Vec::new();
            for r in std::mem::take(&mut set.children) {
                if r.name == "resource_ref" && is_tag(ws, ctx, r.id()) {
                    any = true;
                    for m in ctx.tags.get(r.id()).cloned().unwrap_or_default() {
                        refs.push(Element::new("resource_ref").with_attr("id", &m));
                    }
                } else {
                    refs.push(r);
                }
            }
            set.children = refs;
        }
        return any.then_some(new);
    }
    let mut new = c.clone();
    // Each side that names a tag or template becomes a resource set, taking
    // the side's role or action with it.
    let side = |new: &mut Element, attr: &str, qualifier: &str, set_attr: &str, convert: bool| {
        let value = c.attr(qualifier);
        let i = tag_to_set(ws, ctx, new, attr, convert)?;
        if let Some(v) = value {
            new.children[i].set_attr(set_attr, v);
            new.remove_attr(qualifier);
        }
        Some(i)
    };
    let any = match c.name.as_str() {
        "rsc_location" | "rsc_ticket" => {
            let qualifier = if c.name == "rsc_location" {
                "role"
            } else {
                "rsc-role"
            };
            c.attr("rsc").is_some_and(|r| is_tag(ws, ctx, r))
                && side(&mut new, "rsc", qualifier, "role", false).is_some()
        }
        "rsc_colocation" | "rsc_order" => {
            let sides = if c.name == "rsc_colocation" {
                [
                    ("rsc", "rsc-role", "role"),
                    ("with-rsc", "with-rsc-role", "role"),
                ]
            } else {
                [
                    ("first", "first-action", "action"),
                    ("then", "then-action", "action"),
                ]
            };
            let (Some(a), Some(b)) = (c.attr(sides[0].0), c.attr(sides[1].0)) else {
                return None;
            };
            if !is_tag(ws, ctx, a) && !is_tag(ws, ctx, b) {
                return None;
            }
            let mut any = false;
            for (attr, qualifier, set_attr) in sides {
                any |= side(&mut new, attr, qualifier, set_attr, true).is_some();
            }
            any
        }
        _ => false,
    };
    any.then_some(new)
}

// ---------------------------------------------------------------- location

fn discover_of(s: Option<&str>) -> Discover {
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("never") => Discover::Never,
        Some("exclusive") => Discover::Exclusive,
        _ => Discover::Always,
    }
}

fn add_location(
    ws: &mut WorkingSet,
    id: &str,
    r: RscId,
    discover: Discover,
    role: Role,
    nodes: Vec<(NodeId, i32)>,
) {
    if discover == Discover::Exclusive {
        ws.resources[r].exclusive_discover = true;
    }
    ws.locations.push(Location {
        id: id.to_string(),
        rsc: r,
        role_filter: role,
        discover,
        nodes,
    });
}

fn role_filter(role: Option<&str>) -> Role {
    match role.and_then(Role::parse) {
        None | Some(Role::Unknown) | Some(Role::Started) | Some(Role::Unpromoted) => Role::Unknown,
        Some(r) => r,
    }
}

fn unpack_location(ws: &mut WorkingSet, ctx: &Ctx<'_, '_>, c: &Element) {
    let sets: Vec<&Element> = c.children_named("resource_set").collect();
    if !sets.is_empty() {
        for set in sets {
            let Some(set) = ctx.idx.expand(set) else {
                return;
            };
            let role = set.attr("role");
            let score = set.attr("score");
            for rr in set.children_named("resource_ref") {
                let Some(r) = ctx.rsc(ws, rr.id()) else {
                    return;
                };
                unpack_rsc_location(ws, ctx, c, r, role, score, None);
            }
        }
        return;
    }
    if let Some(rid) = c.attr("rsc") {
        if let Some(r) = ctx.rsc(ws, rid) {
            unpack_rsc_location(ws, ctx, c, r, None, None, None);
        }
    }
    if let Some(pattern) = c.attr("rsc-pattern") {
        let (invert, pat) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        let Some(re) = crate::regex::Regex::new(pat) else {
            ws.messages.push(format!(
                "Ignoring constraint '{}' because rsc-pattern has invalid value '{pattern}'",
                c.id()
            ));
            return;
        };
        let all: Vec<RscId> = ws.top.clone();
        for r in all {
            let id = ws.resources[r].id.clone();
            let m = re.captures(&id);
            if !invert && m.is_some() {
                unpack_rsc_location(ws, ctx, c, r, None, None, m.as_deref());
            } else if invert && m.is_none() {
                unpack_rsc_location(ws, ctx, c, r, None, None, None);
            }
        }
    }
}

fn unpack_rsc_location(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    c: &Element,
    r: RscId,
    role: Option<&str>,
    score: Option<&str>,
    matches: Option<&[Option<String>]>,
) {
    let id = c.id().to_string();
    let discover = discover_of(c.attr("resource-discovery"));
    let score = score.or(c.attr("score"));
    if let (Some(node), Some(score)) = (c.attr("node"), score) {
        let s = parse_score(score, &ws.options.health);
        let Some(n) = ws.find_node(node) else { return };
        let role = role.or(c.attr("role"));
        add_location(ws, &id, r, discover, role_filter(role), vec![(n, s)]);
        return;
    }
    for rule in c.children_named("rule") {
        generate_location_rule(ws, ctx, r, rule, discover, matches);
    }
}

fn generate_location_rule(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    r: RscId,
    rule: &Element,
    discover: Discover,
    matches: Option<&[Option<String>]>,
) {
    let Some(rule) = ctx.idx.expand(rule) else {
        return;
    };
    let rule_id = rule.id().to_string();
    let role = rule.attr("role");
    if role.is_some_and(|x| Role::parse(x).is_none()) {
        return;
    }
    let (score, raw) = match rule.attr("score") {
        Some(s) => (Some(s.to_string()), true),
        None => match rule.attr("score-attribute") {
            Some(s) => {
                let s = match matches {
                    Some(m) => cib_xml::rules::expand_matches(s, m),
                    None => s.to_string(),
                };
                (Some(s), false)
            }
            None => (None, true),
        },
    };
    let do_and = !rule
        .attr("boolean-op")
        .is_some_and(|b| b.eq_ignore_ascii_case("or"));
    let node_score = |ws: &WorkingSet, n: NodeId| -> i32 {
        match &score {
            None => 0,
            Some(s) if raw => parse_score(s, &ws.options.health),
            Some(s) => match ws.nodes[n].attrs.get(s.as_str()) {
                None => -INFINITY,
                Some(v) => parse_score(v, &ws.options.health),
            },
        }
    };
    let mut list: Vec<(NodeId, i32)> = Vec::new();
    if do_and {
        for n in 0..ws.nodes.len() {
            list.push((n, node_score(ws, n)));
        }
    }
    let rule_params = params_have_rules(ws, r);
    for n in 0..ws.nodes.len() {
        let on_node = if rule_params {
            Some(node_params(ws, ctx.idx, r, n))
        } else {
            None
        };
        let nc = ws.next_change.clone();
        let rctx = RuleContext {
            node_attrs: Some(&ws.nodes[n].attrs),
            role: Role::Unknown,
            now: Some(ws.now),
            matches,
            params: Some(on_node.as_ref().unwrap_or(&ws.resources[r].params)),
            meta: Some(&ws.resources[r].meta),
            next_change: Some(&nc),
            ..Default::default()
        };
        let accept = eval_rule(rule, ctx.idx, &rctx);
        let sf = node_score(ws, n);
        if accept {
            match list.iter_mut().find(|(x, _)| *x == n) {
                Some(e) => {
                    if !do_and {
                        e.1 = add(e.1, sf);
                    }
                }
                None if do_and => continue,
                None => list.push((n, sf)),
            }
        } else if do_and {
            list.retain(|(x, _)| *x != n);
        }
    }
    if list.is_empty() {
        return;
    }
    let mut rf_ = Role::Unknown;
    if let Some(role) = role.and_then(Role::parse) {
        rf_ = if role == Role::Unpromoted {
            Role::Unknown
        } else {
            role
        };
    }
    add_location(ws, &rule_id, r, discover, rf_, list);
}

/// pcmk__apply_locations (newest constraint first, as Pacemaker prepends).
pub(crate) fn apply_locations(ws: &mut WorkingSet) {
    for li in (0..ws.locations.len()).rev() {
        let loc = ws.locations[li].clone();
        apply_location(ws, loc.rsc, &loc);
    }
}

fn apply_location(ws: &mut WorkingSet, r: RscId, loc: &Location) {
    match ws.resources[r].variant {
        Variant::Group | Variant::Clone | Variant::Bundle => {
            apply_location_primitive(ws, r, loc);
            for c in ws.resources[r].children.clone() {
                apply_location(ws, c, loc);
            }
        }
        Variant::Primitive => apply_location_primitive(ws, r, loc),
    }
}

fn apply_location_primitive(ws: &mut WorkingSet, r: RscId, loc: &Location) {
    if loc.role_filter > Role::Unknown && loc.role_filter != ws.resources[r].next_role {
        return;
    }
    for &(n, w) in &loc.nodes {
        let e = &mut ws.resources[r].allowed[n];
        match e {
            None => {
                *e = Some(NodeScore {
                    weight: w,
                    discover: Discover::Always,
                    count: 0,
                });
            }
            Some(x) => x.weight = add(x.weight, w),
        }
        let e = e.as_mut().expect("just set");
        let rank = |d: Discover| match d {
            Discover::Always => 0,
            Discover::Never => 1,
            Discover::Exclusive => 2,
        };
        if rank(e.discover) < rank(loc.discover) {
            e.discover = loc.discover;
            if loc.discover == Discover::Exclusive {
                ws.resources[r].exclusive_discover = true;
            }
        }
    }
}

// -------------------------------------------------------------- colocation

fn influence(ws: &WorkingSet, r: RscId, s: Option<&str>) -> bool {
    if let Some(b) = s.and_then(parse_bool) {
        return b;
    }
    ws.resources[r].has(rf::CRITICAL)
}

fn unpack_colocation(ws: &mut WorkingSet, ctx: &Ctx<'_, '_>, c: &Element) {
    let id = c.id().to_string();
    let score = c
        .attr("score")
        .map(|s| parse_score(s, &ws.options.health))
        .unwrap_or(0);
    let infl = c.attr("influence");
    let mut last: Option<&Element> = None;
    for set in c.children_named("resource_set") {
        let Some(set) = ctx.idx.expand(set) else {
            return;
        };
        unpack_colocation_set(ws, ctx, set, score, &id, infl);
        if let Some(l) = last {
            colocate_rsc_sets(ws, ctx, &id, l, set, score, infl);
        }
        last = Some(set);
    }
    if last.is_some() {
        return;
    }
    let (Some(d), Some(p)) = (c.attr("rsc"), c.attr("with-rsc")) else {
        return;
    };
    let (Some(dr), Some(pr)) = (ctx.rsc(ws, d), ctx.rsc(ws, p)) else {
        ws.messages.push(format!(
            "Ignoring constraint '{id}' because resource does not exist"
        ));
        return;
    };
    let inf = influence(ws, dr, infl);
    new_colocation(
        ws,
        &id,
        c.attr("node-attribute"),
        score,
        dr,
        pr,
        c.attr("rsc-role"),
        c.attr("with-rsc-role"),
        inf,
    );
}

fn set_refs(ws: &WorkingSet, ctx: &Ctx<'_, '_>, set: &Element) -> Option<Vec<RscId>> {
    set.children_named("resource_ref")
        .map(|r| ctx.rsc(ws, r.id()))
        .collect()
}

fn unpack_colocation_set(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    set: &Element,
    score: i32,
    id: &str,
    infl: Option<&str>,
) {
    let set_id = set.id().to_string();
    let role = set.attr("role");
    let local = set
        .attr("score")
        .map(|s| parse_score(s, &ws.options.health))
        .unwrap_or(score);
    if local == 0 {
        return;
    }
    let ordering = set.attr("ordering").unwrap_or("group");
    if set.attr("sequential").and_then(parse_bool) == Some(false) {
        return;
    }
    let Some(rscs) = set_refs(ws, ctx, set) else {
        return;
    };
    let _ = id;
    if local > 0 && ordering.eq_ignore_ascii_case("group") {
        let mut with: Option<RscId> = None;
        for r in rscs {
            if let Some(w) = with {
                let inf = influence(ws, r, infl);
                new_colocation(ws, &set_id, None, local, r, w, role, role, inf);
            }
            with = Some(r);
        }
    } else if local > 0 {
        let mut last: Option<RscId> = None;
        for r in rscs {
            if let Some(l) = last {
                let inf = influence(ws, l, infl);
                new_colocation(ws, &set_id, None, local, l, r, role, role, inf);
            }
            last = Some(r);
        }
    } else {
        for (i, &r) in rscs.iter().enumerate() {
            let inf = influence(ws, r, infl);
            for &w in rscs.iter().take(i) {
                if ws.resources[w].id.eq_ignore_ascii_case(&ws.resources[r].id) {
                    break;
                }
                new_colocation(ws, &set_id, None, local, r, w, role, role, inf);
            }
        }
    }
}

fn colocate_rsc_sets(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    id: &str,
    set1: &Element,
    set2: &Element,
    score: i32,
    infl: Option<&str>,
) {
    if score == 0 {
        return;
    }
    let (role1, role2) = (set1.attr("role"), set2.attr("role"));
    let Some(r1s) = set_refs(ws, ctx, set1) else {
        return;
    };
    let Some(r2s) = set_refs(ws, ctx, set2) else {
        return;
    };
    let seq = |s: &Element| s.attr("sequential").and_then(parse_bool).unwrap_or(true);
    let rsc1 = if seq(set1) {
        r1s.first().copied()
    } else {
        None
    };
    let rsc2 = if seq(set2) { r2s.last().copied() } else { None };
    match (rsc1, rsc2) {
        (Some(a), Some(b)) => {
            let inf = influence(ws, a, infl);
            new_colocation(ws, id, None, score, a, b, role1, role2, inf);
        }
        (Some(a), None) => {
            let inf = influence(ws, a, infl);
            for b in r2s {
                new_colocation(ws, id, None, score, a, b, role1, role2, inf);
            }
        }
        (None, Some(b)) => {
            for a in r1s {
                let inf = influence(ws, a, infl);
                new_colocation(ws, id, None, score, a, b, role1, role2, inf);
            }
        }
        (None, None) => {
            for &a in &r1s {
                let inf = influence(ws, a, infl);
                for &b in &r2s {
                    new_colocation(ws, id, None, score, a, b, role1, role2, inf);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- ordering

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Optional,
    Mandatory,
    Serialize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Symmetry {
    Symmetric,
    Asymmetric,
    Inverse,
}

fn order_kind(x: &Element) -> Kind {
    match x.attr("kind") {
        None => match x.attr("score") {
            Some(s)
                if scan_int(s).unwrap_or(0) == 0
                    && !cib_xml::score::is_infinity(s)
                    && !cib_xml::score::is_minus_infinity(s) =>
            {
                Kind::Optional
            }
            _ => Kind::Mandatory,
        },
        Some(k) if k.eq_ignore_ascii_case("Optional") => Kind::Optional,
        Some(k) if k.eq_ignore_ascii_case("Serialize") => Kind::Serialize,
        Some(_) => Kind::Mandatory,
    }
}

fn order_symmetry(x: &Element, parent_kind: Kind, parent_sym: Option<&str>) -> Symmetry {
    let mut kind = parent_kind;
    if x.attr("kind").is_some() || x.attr("score").is_some() {
        kind = order_kind(x);
    }
    let sym = x
        .attr("symmetrical")
        .and_then(parse_bool)
        .or_else(|| parent_sym.map(|s| is_true(Some(s))));
    match sym {
        Some(true) if kind != Kind::Serialize => Symmetry::Symmetric,
        Some(_) => Symmetry::Asymmetric,
        None if kind == Kind::Serialize => Symmetry::Asymmetric,
        None => Symmetry::Symmetric,
    }
}

fn flags_for_kind(kind: Kind, first: &str, sym: Symmetry) -> u32 {
    let mut f = of::OPTIONAL;
    match kind {
        Kind::Optional => {}
        Kind::Serialize => f |= of::SERIALIZE_ONLY,
        Kind::Mandatory => match sym {
            Symmetry::Asymmetric => f |= of::ASYMMETRICAL,
            Symmetry::Symmetric => {
                f |= of::IMPLIES_THEN;
                if first.eq_ignore_ascii_case("start") || first.eq_ignore_ascii_case("promote") {
                    f |= of::RUNNABLE_LEFT;
                }
            }
            Symmetry::Inverse => f |= of::IMPLIES_FIRST,
        },
    }
    f
}

fn invert(action: &str) -> Option<&'static str> {
    Some(match action {
        "start" => "stop",
        "stop" => "start",
        "promote" => "demote",
        "demote" => "promote",
        "promoted" => "demoted",
        "demoted" => "promoted",
        "running" => "stopped",
        "stopped" => "running",
        _ => return None,
    })
}

fn restart_type_restart(ws: &WorkingSet, r: RscId) -> bool {
    ws.resources[r]
        .meta
        .get("restart-type")
        .is_some_and(|v| v.eq_ignore_ascii_case("restart"))
}

fn unpack_order(ws: &mut WorkingSet, ctx: &Ctx<'_, '_>, c: &Element) {
    let id = c.id().to_string();
    let kind = order_kind(c);
    let sym_attr = c.attr("symmetrical");
    let mut last: Option<&Element> = None;
    let mut any = false;
    for set in c.children_named("resource_set") {
        any = true;
        let Some(set) = ctx.idx.expand(set) else {
            return;
        };
        unpack_order_set(ws, ctx, set, kind, sym_attr);
        if let Some(l) = last {
            // The relation between sets has the constraint's own symmetry
            // (an asymmetric one gets no inverse and no implied "then").
            let symmetry = order_symmetry(c, kind, None);
            order_rsc_sets(ws, ctx, &id, l, set, kind, symmetry);
            if symmetry == Symmetry::Symmetric {
                order_rsc_sets(ws, ctx, &id, set, l, kind, Symmetry::Inverse);
            }
        }
        last = Some(set);
    }
    if any {
        return;
    }
    let (Some(f), Some(t)) = (c.attr("first"), c.attr("then")) else {
        return;
    };
    let (Some(fr), Some(tr)) = (ctx.rsc(ws, f), ctx.rsc(ws, t)) else {
        ws.messages.push(format!(
            "Ignoring constraint '{id}' because resource does not exist"
        ));
        return;
    };
    let first_action = c.attr("first-action").unwrap_or("start").to_string();
    let then_action = c
        .attr("then-action")
        .map(str::to_string)
        .unwrap_or_else(|| first_action.clone());
    let symmetry = order_symmetry(c, kind, None);
    let mut flags = flags_for_kind(kind, &first_action, symmetry);
    if kind == Kind::Optional && restart_type_restart(ws, tr) {
        flags |= of::IMPLIES_THEN;
    }
    let min_required = min_first_instances(ws, fr, c);
    if min_required > 0 {
        clone_min_ordering(
            ws,
            &id,
            fr,
            &first_action,
            tr,
            &then_action,
            flags,
            min_required,
        );
    } else {
        order_resource_actions(ws, fr, &first_action, tr, &then_action, flags);
    }
    if symmetry == Symmetry::Symmetric {
        match (invert(&then_action), invert(&first_action)) {
            (Some(ta), Some(fa)) => {
                let mut flags = flags_for_kind(kind, fa, Symmetry::Inverse);
                if kind == Kind::Optional && restart_type_restart(ws, fr) {
                    flags |= of::IMPLIES_FIRST;
                }
                order_resource_actions(ws, tr, ta, fr, fa, flags);
            }
            _ => ws.messages.push(format!(
                "Cannot invert constraint '{id}' (please specify inverse manually)"
            )),
        }
    }
}

fn min_first_instances(ws: &WorkingSet, r: RscId, c: &Element) -> i32 {
    if !ws.is_clone(r) {
        return 0;
    }
    if let Some(m) = ws.resources[r].meta.get("clone-min") {
        return scan_int(m).unwrap_or(0).max(0) as i32;
    }
    if c.attr("require-all").and_then(parse_bool) == Some(false) {
        return 1;
    }
    0
}

#[allow(clippy::too_many_arguments)]
fn clone_min_ordering(
    ws: &mut WorkingSet,
    id: &str,
    fr: RscId,
    fa: &str,
    tr: RscId,
    ta: &str,
    flags: u32,
    min: i32,
) {
    let task = format!("clone-one-or-more:{id}");
    let met = crate::actions::pseudo_op(ws, &task);
    ws.actions[met].required_runnable_before = min;
    ws.actions[met].flags |= af::REQUIRES_ANY;
    for child in ws.resources[fr].children.clone() {
        let k = op_key(&ws.resources[child].id, fa, 0);
        new_ordering(
            ws,
            Some(child),
            Some(k),
            None,
            None,
            None,
            Some(met),
            of::ONE_OR_MORE | of::IMPLIES_THEN_PRINTED,
        );
    }
    let k = op_key(&ws.resources[tr].id, ta, 0);
    new_ordering(
        ws,
        None,
        None,
        Some(met),
        Some(tr),
        Some(k),
        None,
        flags | of::RUNNABLE_LEFT,
    );
}

fn unpack_order_set(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    set: &Element,
    parent_kind: Kind,
    parent_sym: Option<&str>,
) {
    let action = set.attr("action").unwrap_or("start").to_string();
    let local_kind = if set.attr("kind").is_some() {
        order_kind(set)
    } else {
        parent_kind
    };
    let sequential = is_true(Some(set.attr("sequential").unwrap_or("1")));
    let symmetry = order_symmetry(set, parent_kind, parent_sym);
    let flags = flags_for_kind(local_kind, &action, symmetry);
    let Some(rscs) = set_refs(ws, ctx, set) else {
        return;
    };
    if rscs.len() == 1 {
        return;
    }
    let mut last: Option<RscId> = None;
    for (i, &r) in rscs.iter().enumerate() {
        if local_kind == Kind::Serialize {
            for &t in &rscs[i + 1..] {
                let fk = op_key(&ws.resources[r].id, &action, 0);
                let tk = op_key(&ws.resources[t].id, &action, 0);
                new_ordering(ws, Some(r), Some(fk), None, Some(t), Some(tk), None, flags);
            }
        } else if sequential {
            if let Some(l) = last {
                order_resource_actions(ws, l, &action, r, &action, flags);
            }
            last = Some(r);
        }
    }
    if symmetry == Symmetry::Asymmetric {
        return;
    }
    let Some(inv) = invert(&action) else { return };
    let flags = flags_for_kind(local_kind, inv, Symmetry::Inverse);
    let mut last: Option<RscId> = None;
    for &r in &rscs {
        if sequential {
            if let Some(l) = last {
                order_resource_actions(ws, r, inv, l, inv, flags);
            }
            last = Some(r);
        }
    }
}

fn order_rsc_sets(
    ws: &mut WorkingSet,
    ctx: &Ctx<'_, '_>,
    id: &str,
    set1: &Element,
    set2: &Element,
    kind: Kind,
    symmetry: Symmetry,
) {
    let mut a1 = set1.attr("action").unwrap_or("start").to_string();
    let mut a2 = set2.attr("action").unwrap_or("start").to_string();
    let mut require_all = set1
        .attr("require-all")
        .and_then(parse_bool)
        .unwrap_or(true);
    if symmetry == Symmetry::Inverse {
        a1 = invert(&a1).unwrap_or("").to_string();
        a2 = invert(&a2).unwrap_or("").to_string();
    }
    if a1 == "stop" || a1 == "demote" {
        require_all = true;
    }
    let flags = flags_for_kind(kind, &a2, symmetry);
    let Some(r1s) = set_refs(ws, ctx, set1) else {
        return;
    };
    let Some(r2s) = set_refs(ws, ctx, set2) else {
        return;
    };
    let _ = id;
    if !require_all {
        let task = format!("one-or-more:{}", set1.id());
        let unordered = crate::actions::pseudo_op(ws, &task);
        ws.actions[unordered].flags |= af::REQUIRES_ANY;
        for r in r1s {
            let k = op_key(&ws.resources[r].id, &a1, 0);
            new_ordering(
                ws,
                Some(r),
                Some(k),
                None,
                None,
                None,
                Some(unordered),
                of::ONE_OR_MORE | of::IMPLIES_THEN_PRINTED,
            );
        }
        for r in r2s {
            let k = op_key(&ws.resources[r].id, &a2, 0);
            new_ordering(
                ws,
                None,
                None,
                Some(unordered),
                Some(r),
                Some(k),
                None,
                flags | of::RUNNABLE_LEFT,
            );
        }
        return;
    }
    let seq = |s: &Element| is_true(s.attr("sequential"));
    let rsc1 = if seq(set1) {
        if symmetry == Symmetry::Inverse {
            r1s.first().copied()
        } else {
            r1s.last().copied()
        }
    } else {
        None
    };
    let rsc2 = if seq(set2) {
        if symmetry == Symmetry::Inverse {
            r2s.last().copied()
        } else {
            r2s.first().copied()
        }
    } else {
        None
    };
    match (rsc1, rsc2) {
        (Some(x), Some(y)) => order_resource_actions(ws, x, &a1, y, &a2, flags),
        (Some(x), None) => {
            for y in r2s {
                order_resource_actions(ws, x, &a1, y, &a2, flags);
            }
        }
        (None, Some(y)) => {
            for x in r1s {
                order_resource_actions(ws, x, &a1, y, &a2, flags);
            }
        }
        (None, None) => {
            for &x in &r1s {
                for &y in &r2s {
                    order_resource_actions(ws, x, &a1, y, &a2, flags);
                }
            }
        }
    }
}

pub(crate) fn _unused() {
    let _ = parse_interval_ms("1");
}

/// Whether any instance_attributes block of the resource or its ancestors
/// has a rule, so that its parameters depend on the node.
fn params_have_rules(ws: &WorkingSet, r: RscId) -> bool {
    let mut x = Some(r);
    while let Some(a) = x {
        let rules = ws.resources[a]
            .xml
            .children_named("instance_attributes")
            .any(|ia| ia.children.iter().any(|c| c.name == "rule"));
        if rules {
            return true;
        }
        x = ws.resources[a].parent;
    }
    false
}

/// The resource's parameters as evaluated for node `n` (pe_rsc_params):
/// rules in its instance attributes see that node's attributes.
fn node_params(
    ws: &WorkingSet,
    idx: &IdIndex<'_>,
    r: RscId,
    n: NodeId,
) -> std::collections::BTreeMap<String, String> {
    let rsc = &ws.resources[r];
    crate::unpack::resource_params(ws, idx, &rsc.xml, rsc.parent, Some(&ws.nodes[n].attrs))
}

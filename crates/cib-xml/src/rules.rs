//! Rules, expressions and blocks of name/value pairs (instance_attributes,
//! meta_attributes, cluster_property_set, ...) as Pacemaker evaluates them.

use std::collections::{BTreeMap, HashMap};

use crate::score::{parse_score, scan_int, HealthScores};
use crate::time::{moon_phase, DateTime, Duration};
use crate::xml::Element;

/// A resource role, ordered as Pacemaker orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Role {
    #[default]
    Unknown,
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl Role {
    /// Parses a role name, accepting the legacy Slave/Master spellings.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            _ if s.eq_ignore_ascii_case("Unknown") => Role::Unknown,
            _ if s.eq_ignore_ascii_case("Stopped") => Role::Stopped,
            _ if s.eq_ignore_ascii_case("Started") => Role::Started,
            _ if s.eq_ignore_ascii_case("Unpromoted") || s.eq_ignore_ascii_case("Slave") => {
                Role::Unpromoted
            }
            _ if s.eq_ignore_ascii_case("Promoted") || s.eq_ignore_ascii_case("Master") => {
                Role::Promoted
            }
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unknown => "Unknown",
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        }
    }
}

/// Every element with an `id` in a document, for `id-ref` resolution.
pub struct IdIndex<'a> {
    map: HashMap<&'a str, &'a Element>,
    /// A whole CIB's status section, left out of `map`: it is most of a
    /// large CIB's elements (the operation history) and id-refs point
    /// into the configuration, so it is only searched when `map` misses.
    status: Option<&'a Element>,
}

impl<'a> IdIndex<'a> {
    pub fn new(root: &'a Element) -> IdIndex<'a> {
        let mut map = HashMap::new();
        let mut add = |e: &'a Element| {
            if let Some(id) = e.attr("id") {
                // The first definition wins; references (id-ref) carry no id.
                map.entry(id).or_insert(e);
            }
        };
        let mut status = None;
        if root.name == "cib" {
            add(root);
            for c in &root.children {
                if c.name == "status" && status.is_none() {
                    status = Some(c);
                } else {
                    c.walk(&mut add);
                }
            }
        } else {
            root.walk(&mut add);
        }
        IdIndex { map, status }
    }

    pub fn get(&self, id: &str) -> Option<&'a Element> {
        if let Some(e) = self.map.get(id) {
            return Some(e);
        }
        let status = self.status?;
        let mut found = None;
        status.walk(&mut |e: &'a Element| {
            if found.is_none() && e.attr("id") == Some(id) {
                found = Some(e);
            }
        });
        found
    }

    /// The element an `id-ref` points at, or the element itself.
    pub fn expand(&self, e: &'a Element) -> Option<&'a Element> {
        match e.attr("id-ref") {
            Some(r) => self.get(r),
            None => Some(e),
        }
    }
}

/// What rules are evaluated against.
#[derive(Default, Clone, Copy)]
pub struct RuleContext<'a> {
    /// Node attributes (including #uname, #id, #kind); None when no node.
    pub node_attrs: Option<&'a BTreeMap<String, String>>,
    pub role: Role,
    pub now: Option<DateTime>,
    /// (class, provider, agent) for rsc_expression in rsc_defaults.
    pub rsc: Option<(&'a str, Option<&'a str>, &'a str)>,
    /// (name, interval in ms) for op_expression in op_defaults.
    pub op: Option<(&'a str, u64)>,
    /// Regular-expression submatches (%0..%9) of an rsc-pattern.
    pub matches: Option<&'a [Option<String>]>,
    /// Resource parameters and meta-attributes for value-source.
    pub params: Option<&'a BTreeMap<String, String>>,
    pub meta: Option<&'a BTreeMap<String, String>>,
    /// Where to note the earliest time a date expression evaluated here
    /// will change its answer (the scheduler's "recheck by").
    pub next_change: Option<&'a std::cell::Cell<Option<DateTime>>>,
}

/// Substitutes %0..%9 with regular-expression submatches.
pub fn expand_matches(s: &str, matches: &[Option<String>]) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let n = (b[i + 1] - b'0') as usize;
            if let Some(Some(m)) = matches.get(n) {
                out.push_str(m);
            }
            i += 2;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\0');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// True when any `rule` child of `set` passes, or there is none.
pub fn eval_rules(set: &Element, idx: &IdIndex<'_>, ctx: &RuleContext<'_>) -> bool {
    let mut any = false;
    for rule in set.children_named("rule") {
        any = true;
        if eval_rule(rule, idx, ctx) {
            return true;
        }
    }
    !any
}

/// Evaluates one `rule` element (boolean-op and/or over its expressions).
pub fn eval_rule(rule: &Element, idx: &IdIndex<'_>, ctx: &RuleContext<'_>) -> bool {
    let Some(rule) = idx.expand(rule) else {
        return false;
    };
    let or = rule
        .attr("boolean-op")
        .is_some_and(|v| v.eq_ignore_ascii_case("or"));
    for expr in &rule.children {
        let ok = eval_subexpr(expr, idx, ctx);
        if ok && or {
            return true;
        }
        if !ok && !or {
            return false;
        }
    }
    !or
}

fn eval_subexpr(expr: &Element, idx: &IdIndex<'_>, ctx: &RuleContext<'_>) -> bool {
    match expr.name.as_str() {
        "rule" => eval_rule(expr, idx, ctx),
        "date_expression" => ctx.now.is_some_and(|now| {
            if let (Some(cell), Some(t)) = (ctx.next_change, date_next_change(expr, now)) {
                if cell.get().is_none_or(|c| t < c) {
                    cell.set(Some(t));
                }
            }
            eval_date(expr, now)
        }),
        "rsc_expression" => eval_rsc_expr(expr, ctx),
        "op_expression" => eval_op_expr(expr, ctx),
        "expression" => {
            let attr = expr.attr("attribute");
            if attr == Some("#role") {
                eval_role_expr(expr, ctx)
            } else if ctx.node_attrs.is_some() {
                eval_attr_expr(expr, ctx)
            } else {
                false
            }
        }
        _ => false,
    }
}

fn eval_attr_expr(expr: &Element, ctx: &RuleContext<'_>) -> bool {
    let Some(attr) = expr.attr("attribute") else {
        return false;
    };
    let op = expr.attr("operation").unwrap_or("");
    let mut value = expr.attr("value").map(str::to_string);
    let attr = match ctx.matches {
        Some(m) => expand_matches(attr, m),
        None => attr.to_string(),
    };
    if value.as_deref().is_some_and(str::is_empty) {
        value = None;
    } else if let Some(v) = &value {
        match expr.attr("value-source") {
            Some(src) if src.eq_ignore_ascii_case("param") => {
                value = ctx.params.and_then(|p| p.get(v.as_str())).cloned()
            }
            Some(src) if src.eq_ignore_ascii_case("meta") => {
                value = ctx.meta.and_then(|p| p.get(v.as_str())).cloned()
            }
            _ => {}
        }
    }
    let lhs = ctx
        .node_attrs
        .and_then(|a| a.get(attr.as_str()))
        .map(String::as_str);
    accept_attr(lhs, value.as_deref(), expr.attr("type"), op)
}

fn parse_double(s: &str) -> Option<f64> {
    let t = s.trim();
    // strtod's prefix: take the longest leading run that parses.
    let end = t
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || "+-.eE".contains(*c))
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    (1..=end).rev().find_map(|n| t[..n].parse::<f64>().ok())
}

/// Compares dotted version strings numerically field by field.
pub fn compare_version(a: &str, b: &str) -> std::cmp::Ordering {
    let pa: Vec<i64> = a.split('.').map(|x| scan_int(x).unwrap_or(0)).collect();
    let pb: Vec<i64> = b.split('.').map(|x| scan_int(x).unwrap_or(0)).collect();
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).copied().unwrap_or(0);
        let y = pb.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

fn compare_vals(l: Option<&str>, r: Option<&str>, ty: Option<&str>, op: &str) -> i32 {
    let (l, r) = match (l, r) {
        (Some(l), Some(r)) => (l, r),
        (None, None) => return 0,
        (Some(_), None) => return 1,
        (None, Some(_)) => return -1,
    };
    let ty = match ty {
        Some(t) => t.to_ascii_lowercase(),
        None => {
            if ["lt", "lte", "gt", "gte"]
                .iter()
                .any(|o| o.eq_ignore_ascii_case(op))
            {
                if l.contains('.') || r.contains('.') {
                    "number".into()
                } else {
                    "integer".into()
                }
            } else {
                "string".into()
            }
        }
    };
    let as_string = || {
        let (a, b) = (l.to_ascii_lowercase(), r.to_ascii_lowercase());
        a.cmp(&b) as i32
    };
    match ty.as_str() {
        "string" => as_string(),
        "integer" => match (scan_int(l), scan_int(r)) {
            (Some(a), Some(b)) => a.cmp(&b) as i32,
            _ => as_string(),
        },
        "number" => match (parse_double(l), parse_double(r)) {
            (Some(a), Some(b)) => a.partial_cmp(&b).map(|o| o as i32).unwrap_or(0),
            _ => as_string(),
        },
        "version" => compare_version(l, r) as i32,
        _ => 0,
    }
}

fn accept_attr(l: Option<&str>, r: Option<&str>, ty: Option<&str>, op: &str) -> bool {
    let op = op.to_ascii_lowercase();
    match op.as_str() {
        "defined" => return l.is_some(),
        "not_defined" => return l.is_none(),
        _ => {}
    }
    let cmp = compare_vals(l, r, ty, &op);
    match op.as_str() {
        "eq" => cmp == 0,
        "ne" => cmp != 0,
        _ if l.is_none() || r.is_none() => false,
        "lt" => cmp < 0,
        "lte" => cmp <= 0,
        "gt" => cmp > 0,
        "gte" => cmp >= 0,
        _ => false,
    }
}

fn eval_role_expr(expr: &Element, ctx: &RuleContext<'_>) -> bool {
    if ctx.role == Role::Unknown {
        return false;
    }
    let op = expr.attr("operation").unwrap_or("");
    let value = expr.attr("value").and_then(Role::parse);
    match op.to_ascii_lowercase().as_str() {
        "defined" => ctx.role > Role::Started,
        "not_defined" => ctx.role < Role::Unpromoted,
        "eq" => value == Some(ctx.role),
        "ne" => ctx.role >= Role::Unpromoted && value != Some(ctx.role),
        _ => false,
    }
}

fn eval_rsc_expr(expr: &Element, ctx: &RuleContext<'_>) -> bool {
    let Some((class, provider, agent)) = ctx.rsc else {
        return false;
    };
    if expr.attr("class").is_some_and(|c| c != class) {
        return false;
    }
    if expr.attr("provider") != provider {
        return false;
    }
    if expr.attr("type").is_some_and(|t| t != agent) {
        return false;
    }
    true
}

fn eval_op_expr(expr: &Element, ctx: &RuleContext<'_>) -> bool {
    let Some((name, interval)) = ctx.op else {
        return false;
    };
    if let Some(i) = expr.attr("interval") {
        match parse_interval_ms(i) {
            Some(ms) if ms == interval => {}
            _ => return false,
        }
    }
    expr.attr("name") == Some(name)
}

/// Checks one date_spec field ("5", "1-5", "-5", "5-"); None when absent
/// or unparsable (which passes).
fn check_range(spec: &Element, field: &str, v: i64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    let s = spec.attr(field)?.trim();
    let (lo, hi) = match s.find('-').filter(|&i| i > 0 || s.len() > 1) {
        Some(0) => (None, Some(scan_int(&s[1..])?)),
        Some(i) => {
            let lo = scan_int(&s[..i])?;
            let rest = &s[i + 1..];
            if rest.is_empty() {
                (Some(lo), None)
            } else {
                (Some(lo), Some(scan_int(rest)?))
            }
        }
        None => {
            let n = scan_int(s)?;
            (Some(n), Some(n))
        }
    };
    if lo.is_some_and(|lo| v < lo) {
        return Some(Less);
    }
    if hi.is_some_and(|hi| v > hi) {
        return Some(Greater);
    }
    Some(Equal)
}

/// Evaluates a date_spec against a time: every given field must match.
pub fn date_spec_matches(spec: &Element, now: DateTime) -> bool {
    let f = now.fields();
    let checks: [(&str, i64); 11] = [
        ("years", f.year),
        ("months", f.month as i64),
        ("monthdays", f.monthday as i64),
        ("hours", f.hour as i64),
        ("minutes", f.minute as i64),
        ("seconds", f.second as i64),
        ("yeardays", f.yearday as i64),
        ("weekyears", f.weekyear),
        ("weeks", f.week as i64),
        ("weekdays", f.weekday as i64),
        ("moon", moon_phase(now) as i64),
    ];
    checks
        .iter()
        .all(|(field, v)| check_range(spec, field, *v).is_none_or(|o| o.is_eq()))
}

fn duration_of(spec: &Element) -> Duration {
    let get = |k: &str| spec.attr(k).and_then(scan_int).unwrap_or(0);
    Duration {
        months: get("years") * 12 + get("months"),
        seconds: get("weeks") * 7 * 86400
            + get("days") * 86400
            + get("hours") * 3600
            + get("minutes") * 60
            + get("seconds"),
    }
}

/// A date_expression's operation (lower case, `in_range` by default) and
/// its start and end (an end given as a duration after the start).
fn date_bounds(expr: &Element) -> (String, Option<DateTime>, Option<DateTime>) {
    let start = expr.attr("start").and_then(DateTime::parse);
    let mut end = expr.attr("end").and_then(DateTime::parse);
    if let (Some(s), None, Some(d)) = (start, end, expr.child("duration")) {
        end = Some(duration_of(d).add_to(s));
    }
    let op = expr
        .attr("operation")
        .unwrap_or("in_range")
        .to_ascii_lowercase();
    (op, start, end)
}

/// Evaluates a date_expression (in_range, gt, lt, date_spec) at `now`.
pub fn eval_date(expr: &Element, now: DateTime) -> bool {
    let (op, start, end) = date_bounds(expr);
    match op.as_str() {
        "in_range" => {
            if start.is_none() && end.is_none() {
                false
            } else {
                !(start.is_some_and(|s| now < s) || end.is_some_and(|e| now > e))
            }
        }
        "date_spec" => expr
            .child("date_spec")
            .is_none_or(|spec| date_spec_matches(spec, now)),
        "gt" => start.is_some_and(|s| now > s),
        "lt" => end.is_some_and(|e| now < e),
        _ => false,
    }
}

/// When a date_expression's answer at `now` will next change, as
/// Pacemaker reckons it: the start of a range not yet begun, the second
/// after the end of a range (or of `gt`'s start) still ahead, `lt`'s end.
/// `date_spec` gives none (neither does Pacemaker's).
pub fn date_next_change(expr: &Element, now: DateTime) -> Option<DateTime> {
    let (op, start, end) = date_bounds(expr);
    match op.as_str() {
        "in_range" => match (start, end) {
            (None, None) => None,
            (Some(s), _) if now < s => Some(s),
            (_, Some(e)) if now > e => None,
            (_, e) => e.map(|e| DateTime(e.0 + 1)),
        },
        "gt" => start.filter(|s| now <= *s).map(|s| DateTime(s.0 + 1)),
        "lt" => end.filter(|e| now < *e),
        _ => None,
    }
}

/// Parses an interval or timeout: an ISO 8601 duration (`PT10S`) or a
/// number with an optional unit (ms, msec, us, usec, s, sec, m, min, h, hr;
/// none means seconds). Returns milliseconds.
pub fn parse_interval_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with('P') {
        let d = Duration::parse(s)?;
        return Some(((d.months * 30 * 86400 + d.seconds) * 1000) as u64);
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n: u64 = s[..end].parse().ok()?;
    let unit = s[end..].trim();
    let ms = match unit {
        "" | "s" | "sec" => n * 1000,
        "ms" | "msec" => n,
        "us" | "usec" => n / 1000,
        "m" | "min" => n * 60_000,
        "h" | "hr" => n * 3_600_000,
        _ => return None,
    };
    Some(ms)
}

/// Unpacks the nvpair blocks named `set_name` (or all, if None) inside
/// `parent` into `out`: blocks whose rules pass are applied in order of
/// score (highest first; `first_id` always first; equal scores in reverse
/// document order, as Pacemaker's sort leaves them). Without `overwrite`
/// the first value set for a name wins. `#default` removes a value.
// The parameters are the independent inputs of Pacemaker's
// pe_eval_nvpairs; grouping them would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn unpack_nvpairs(
    parent: &Element,
    set_name: Option<&str>,
    idx: &IdIndex<'_>,
    ctx: &RuleContext<'_>,
    first_id: Option<&str>,
    overwrite: bool,
    health: &HealthScores,
    out: &mut BTreeMap<String, String>,
) {
    let mut blocks: Vec<(i32, bool, &Element)> = Vec::new();
    for child in parent.children.iter().rev() {
        if set_name.is_some_and(|n| child.name != n) {
            continue;
        }
        if child.name == "rule" || child.name == "nvpair" {
            continue;
        }
        let Some(set) = idx.expand(child) else {
            continue;
        };
        let score = set
            .attr("score")
            .map(|s| parse_score(s, health))
            .unwrap_or(0);
        let special = first_id.is_some_and(|f| set.id().eq_ignore_ascii_case(f));
        blocks.push((score, special, set));
    }
    // Stable: specials first, then by score descending.
    blocks.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    for (_, _, set) in blocks {
        if !eval_rules(set, idx, ctx) {
            continue;
        }
        let list = match set.children.first() {
            Some(c) if c.name.eq_ignore_ascii_case("attributes") => c,
            _ => set,
        };
        for pair in list.children_named("nvpair") {
            let refd = idx.expand(pair);
            let name = pair
                .attr("name")
                .or_else(|| refd.and_then(|r| r.attr("name")));
            let value = pair
                .attr("value")
                .or_else(|| refd.and_then(|r| r.attr("value")));
            let (Some(name), Some(value)) = (name, value) else {
                continue;
            };
            if value.eq_ignore_ascii_case("#default") {
                out.remove(name);
            } else if overwrite || !out.contains_key(name) {
                out.insert(name.to_string(), value.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    fn doc(s: &str) -> Element {
        parse(s, &Limits::default()).unwrap()
    }

    #[test]
    fn attribute_expressions_compare_by_type() {
        let e = doc(
            r#"<rule id="r" boolean-op="and"><expression id="e" attribute="cpu" operation="gt" value="4"/></rule>"#,
        );
        let idx = IdIndex::new(&e);
        let mut attrs = BTreeMap::new();
        attrs.insert("cpu".to_string(), "10".to_string());
        let ctx = RuleContext {
            node_attrs: Some(&attrs),
            ..Default::default()
        };
        // Integer comparison: 10 > 4 (a string comparison would say no).
        assert!(eval_rule(&e, &idx, &ctx));
        attrs.insert("cpu".to_string(), "3".to_string());
        let ctx = RuleContext {
            node_attrs: Some(&attrs),
            ..Default::default()
        };
        assert!(!eval_rule(&e, &idx, &ctx));
        // Without a node, node-attribute expressions fail.
        assert!(!eval_rule(&e, &idx, &RuleContext::default()));
    }

    #[test]
    fn or_rules_and_defined() {
        let e = doc(
            r##"<rule id="r" boolean-op="or"><expression id="a" attribute="x" operation="defined"/><expression id="b" attribute="#uname" operation="eq" value="NODE1"/></rule>"##,
        );
        let idx = IdIndex::new(&e);
        let mut attrs = BTreeMap::new();
        attrs.insert("#uname".to_string(), "node1".to_string());
        let ctx = RuleContext {
            node_attrs: Some(&attrs),
            ..Default::default()
        };
        assert!(eval_rule(&e, &idx, &ctx), "string eq is case-insensitive");
    }

    #[test]
    fn date_expressions_say_when_their_answer_changes() {
        let at = |t: &str| DateTime::parse(t).unwrap();
        let table = [
            (
                r#"operation="in_range" start="2020-01-10""#,
                "2020-01-01",
                Some("2020-01-10"),
            ),
            (
                r#"operation="in_range" end="2020-01-10""#,
                "2020-01-01",
                Some("2020-01-10T00:00:01"),
            ),
            (
                r#"operation="in_range" end="2020-01-10""#,
                "2020-02-01",
                None,
            ),
            (
                r#"operation="gt" start="2020-01-10""#,
                "2020-01-01",
                Some("2020-01-10T00:00:01"),
            ),
            (r#"operation="gt" start="2020-01-10""#, "2020-02-01", None),
            (
                r#"operation="lt" end="2020-01-10""#,
                "2020-01-01",
                Some("2020-01-10"),
            ),
            (r#"operation="lt" end="2020-01-10""#, "2020-02-01", None),
        ];
        for (attrs, now, want) in table {
            let e = crate::xml::parse(
                &format!("<date_expression id=\"d\" {attrs}/>"),
                &crate::xml::Limits::default(),
            )
            .unwrap();
            assert_eq!(
                date_next_change(&e, at(now)),
                want.map(at),
                "{attrs} at {now}"
            );
        }
        // Through a rule: the earliest change of any expression is noted.
        let rule = crate::xml::parse(
            r#"<rule id="r" boolean-op="or"><date_expression id="a" operation="gt" start="2020-03-01"/><date_expression id="b" operation="lt" end="2020-02-01"/></rule>"#,
            &crate::xml::Limits::default(),
        )
        .unwrap();
        let idx = IdIndex::new(&rule);
        let cell = std::cell::Cell::new(None);
        let ctx = RuleContext {
            now: Some(at("2020-01-01")),
            next_change: Some(&cell),
            ..Default::default()
        };
        assert!(eval_rule(&rule, &idx, &ctx));
        assert_eq!(cell.get(), Some(at("2020-02-01")));
    }

    #[test]
    fn date_expressions() {
        let e = doc(
            r#"<date_expression id="d" operation="in_range" start="2020-01-01"><duration id="x" months="1"/></date_expression>"#,
        );
        assert!(eval_date(&e, DateTime::parse("2020-01-15").unwrap()));
        assert!(!eval_date(&e, DateTime::parse("2020-02-15").unwrap()));
        let e = doc(
            r#"<date_expression id="d" operation="date_spec"><date_spec id="s" hours="9-17" weekdays="1-5"/></date_expression>"#,
        );
        // 2020-01-15 was a Wednesday.
        assert!(eval_date(
            &e,
            DateTime::parse("2020-01-15 10:00:00").unwrap()
        ));
        assert!(!eval_date(
            &e,
            DateTime::parse("2020-01-15 18:00:00").unwrap()
        ));
        assert!(!eval_date(
            &e,
            DateTime::parse("2020-01-18 10:00:00").unwrap()
        ));
    }

    #[test]
    fn nvpair_blocks_by_score_and_first_wins() {
        let e = doc(r##"<primitive id="p">
            <meta_attributes id="low" score="1"><nvpair id="a" name="k" value="low"/></meta_attributes>
            <meta_attributes id="high" score="10"><nvpair id="b" name="k" value="high"/><nvpair id="c" name="j" value="#default"/></meta_attributes>
          </primitive>"##);
        let idx = IdIndex::new(&e);
        let mut out = BTreeMap::new();
        out.insert("j".to_string(), "x".to_string());
        unpack_nvpairs(
            &e,
            Some("meta_attributes"),
            &idx,
            &RuleContext::default(),
            None,
            false,
            &HealthScores::default(),
            &mut out,
        );
        assert_eq!(out.get("k").map(String::as_str), Some("high"));
        assert!(!out.contains_key("j"));
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval_ms("10"), Some(10_000));
        assert_eq!(parse_interval_ms("10s"), Some(10_000));
        assert_eq!(parse_interval_ms("500ms"), Some(500));
        assert_eq!(parse_interval_ms("2m"), Some(120_000));
        assert_eq!(parse_interval_ms("PT1M"), Some(60_000));
        assert_eq!(parse_interval_ms("x"), None);
    }
}

//! The XPath subset cibadmin, crm_resource and patchsets use to address
//! CIB elements.
//!
//! Supported: absolute paths of `/` and `//` steps; name tests, `*`,
//! `comment()`, `..`; predicates with `@attr` (existence), `@attr='v'`,
//! `@attr!='v'`, `name()='n'`, `contains(a, b)`, `starts-with(a, b)`,
//! `not(...)`, `and`, `or`, parentheses and positions (`[2]`,
//! `[last()]`); unions with `|`. Results are element addresses
//! ([`NodePath`]: child indices from the root) in document order.

use std::fmt;

use crate::xml::Element;

/// An element's address: `[0]` is the root, then child indices.
pub type NodePath = Vec<usize>;

/// A malformed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPathError {
    /// The expression.
    pub expr: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for XPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid XPath '{}': {}", self.expr, self.message)
    }
}

impl std::error::Error for XPathError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Slash,
    DSlash,
    LBr,
    RBr,
    LPar,
    RPar,
    At,
    Eq,
    Ne,
    Comma,
    Pipe,
    Star,
    DotDot,
    Name(String),
    Lit(String),
    Num(usize),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '/' if b.get(i + 1) == Some(&'/') => {
                out.push(Tok::DSlash);
                i += 2;
            }
            '/' => {
                out.push(Tok::Slash);
                i += 1;
            }
            '[' => {
                out.push(Tok::LBr);
                i += 1;
            }
            ']' => {
                out.push(Tok::RBr);
                i += 1;
            }
            '(' => {
                out.push(Tok::LPar);
                i += 1;
            }
            ')' => {
                out.push(Tok::RPar);
                i += 1;
            }
            '@' => {
                out.push(Tok::At);
                i += 1;
            }
            '=' => {
                out.push(Tok::Eq);
                i += 1;
            }
            '!' if b.get(i + 1) == Some(&'=') => {
                out.push(Tok::Ne);
                i += 2;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '.' if b.get(i + 1) == Some(&'.') => {
                out.push(Tok::DotDot);
                i += 2;
            }
            '\'' | '"' => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or("unterminated string literal")?;
                out.push(Tok::Lit(b[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            c if c.is_ascii_digit() => {
                let n = b[i..].iter().take_while(|x| x.is_ascii_digit()).count();
                let text: String = b[i..i + n].iter().collect();
                out.push(Tok::Num(text.parse().map_err(|_| "number too large")?));
                i += n;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == ':' || c == '.' => {
                let n = b[i..]
                    .iter()
                    .take_while(|x| {
                        x.is_alphanumeric() || **x == '_' || **x == '-' || **x == ':' || **x == '.'
                    })
                    .count();
                out.push(Tok::Name(b[i..i + n].iter().collect()));
                i += n;
            }
            c => return Err(format!("unexpected character '{c}'")),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Test {
    Name(String),
    Any,
    Comment,
    Parent,
}

#[derive(Debug, Clone)]
struct Step {
    descendant: bool,
    test: Test,
    preds: Vec<Pred>,
}

#[derive(Debug, Clone)]
enum Val {
    Attr(String),
    Lit(String),
    NodeName,
}

#[derive(Debug, Clone)]
enum Pred {
    Pos(usize),
    Last,
    Has(String),
    Cmp(Val, bool, Val),
    Contains(Val, Val),
    Starts(Val, Val),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(ref x) if *x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }

    fn union(&mut self) -> Result<Vec<Vec<Step>>, String> {
        let mut paths = vec![self.path()?];
        while self.peek() == Some(&Tok::Pipe) {
            self.i += 1;
            paths.push(self.path()?);
        }
        if let Some(t) = self.peek() {
            return Err(format!("unexpected {t:?}"));
        }
        Ok(paths)
    }

    fn path(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            let descendant = match self.peek() {
                Some(Tok::Slash) => false,
                Some(Tok::DSlash) => true,
                _ if steps.is_empty() => return Err("only absolute paths are supported".into()),
                _ => break,
            };
            self.i += 1;
            let test = match self.next() {
                Some(Tok::Star) => Test::Any,
                Some(Tok::DotDot) => Test::Parent,
                Some(Tok::Name(n)) if n == "comment" && self.peek() == Some(&Tok::LPar) => {
                    self.expect(Tok::LPar)?;
                    self.expect(Tok::RPar)?;
                    Test::Comment
                }
                Some(Tok::Name(n)) => Test::Name(n),
                other => return Err(format!("expected a step, found {other:?}")),
            };
            let mut preds = Vec::new();
            while self.peek() == Some(&Tok::LBr) {
                self.i += 1;
                preds.push(self.or()?);
                self.expect(Tok::RBr)?;
            }
            steps.push(Step {
                descendant,
                test,
                preds,
            });
        }
        Ok(steps)
    }

    fn or(&mut self) -> Result<Pred, String> {
        let mut p = self.and()?;
        while matches!(self.peek(), Some(Tok::Name(n)) if n == "or") {
            self.i += 1;
            p = Pred::Or(Box::new(p), Box::new(self.and()?));
        }
        Ok(p)
    }

    fn and(&mut self) -> Result<Pred, String> {
        let mut p = self.unary()?;
        while matches!(self.peek(), Some(Tok::Name(n)) if n == "and") {
            self.i += 1;
            p = Pred::And(Box::new(p), Box::new(self.unary()?));
        }
        Ok(p)
    }

    fn value(&mut self) -> Result<Val, String> {
        match self.next() {
            Some(Tok::At) => match self.next() {
                Some(Tok::Name(n)) => Ok(Val::Attr(n)),
                other => Err(format!("expected an attribute name, found {other:?}")),
            },
            Some(Tok::Lit(s)) => Ok(Val::Lit(s)),
            Some(Tok::Num(n)) => Ok(Val::Lit(n.to_string())),
            Some(Tok::Name(n)) if n == "name" || n == "local-name" => {
                self.expect(Tok::LPar)?;
                self.expect(Tok::RPar)?;
                Ok(Val::NodeName)
            }
            other => Err(format!("expected a value, found {other:?}")),
        }
    }

    fn unary(&mut self) -> Result<Pred, String> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok(Pred::Pos(n))
            }
            Some(Tok::LPar) => {
                self.i += 1;
                let p = self.or()?;
                self.expect(Tok::RPar)?;
                Ok(p)
            }
            Some(Tok::Name(n)) if self.toks.get(self.i + 1) == Some(&Tok::LPar) => {
                match n.as_str() {
                    "not" => {
                        self.i += 2;
                        let p = self.or()?;
                        self.expect(Tok::RPar)?;
                        Ok(Pred::Not(Box::new(p)))
                    }
                    "last" => {
                        self.i += 2;
                        self.expect(Tok::RPar)?;
                        Ok(Pred::Last)
                    }
                    "contains" | "starts-with" => {
                        self.i += 2;
                        let a = self.value()?;
                        self.expect(Tok::Comma)?;
                        let b = self.value()?;
                        self.expect(Tok::RPar)?;
                        Ok(if n == "contains" {
                            Pred::Contains(a, b)
                        } else {
                            Pred::Starts(a, b)
                        })
                    }
                    _ => self.comparison(),
                }
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Pred, String> {
        let a = self.value()?;
        match self.peek() {
            Some(Tok::Eq) | Some(Tok::Ne) => {
                let eq = self.next() == Some(Tok::Eq);
                let b = self.value()?;
                Ok(Pred::Cmp(a, eq, b))
            }
            _ => match a {
                Val::Attr(n) => Ok(Pred::Has(n)),
                other => Err(format!("{other:?} is not a condition")),
            },
        }
    }
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct XPath {
    paths: Vec<Vec<Step>>,
}

impl XPath {
    /// Compiles `expr`.
    pub fn parse(expr: &str) -> Result<XPath, XPathError> {
        let err = |message: String| XPathError {
            expr: expr.to_string(),
            message,
        };
        let toks = lex(expr).map_err(err)?;
        let mut p = Parser { toks, i: 0 };
        let paths = p.union().map_err(err)?;
        Ok(XPath { paths })
    }

    /// Addresses of the matching elements, in document order.
    pub fn select(&self, root: &Element) -> Vec<NodePath> {
        let mut all = Vec::new();
        for steps in &self.paths {
            // `None` stands for the document node above the root.
            let mut ctx: Vec<Option<NodePath>> = vec![None];
            for step in steps {
                let mut next: Vec<NodePath> = Vec::new();
                for c in &ctx {
                    let bases: Vec<Option<NodePath>> = if step.descendant {
                        let mut v = vec![c.clone()];
                        match c {
                            None => {
                                v.push(Some(vec![0]));
                                descendants(root, vec![0], &mut v)
                            }
                            Some(p) => {
                                if let Some(e) = get(root, p) {
                                    descendants(e, p.clone(), &mut v)
                                }
                            }
                        }
                        v
                    } else {
                        vec![c.clone()]
                    };
                    for b in bases {
                        step_from(root, b.as_ref(), step, &mut next);
                    }
                }
                next.sort();
                next.dedup();
                ctx = next.into_iter().map(Some).collect();
            }
            all.extend(ctx.into_iter().flatten());
        }
        all.sort();
        all.dedup();
        all
    }
}

fn descendants(e: &Element, path: NodePath, out: &mut Vec<Option<NodePath>>) {
    for (i, c) in e.children.iter().enumerate() {
        if c.is_comment() {
            continue;
        }
        let mut p = path.clone();
        p.push(i);
        out.push(Some(p.clone()));
        descendants(c, p, out);
    }
}

fn step_from(root: &Element, base: Option<&NodePath>, step: &Step, out: &mut Vec<NodePath>) {
    if let Test::Parent = step.test {
        if let Some(p) = base {
            if p.len() > 1 {
                out.push(p[..p.len() - 1].to_vec());
            }
        }
        return;
    }
    // Candidates on the child axis of `base`.
    let cands: Vec<(NodePath, &Element)> = match base {
        None => vec![(vec![0], root)],
        Some(p) => match get(root, p) {
            Some(e) => e
                .children
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut q = p.clone();
                    q.push(i);
                    (q, c)
                })
                .collect(),
            None => Vec::new(),
        },
    };
    let mut sel: Vec<(NodePath, &Element)> = cands
        .into_iter()
        .filter(|(_, e)| match &step.test {
            Test::Name(n) => !e.is_comment() && e.name == *n,
            Test::Any => !e.is_comment(),
            Test::Comment => e.is_comment(),
            Test::Parent => false,
        })
        .collect();
    for pred in &step.preds {
        let n = sel.len();
        sel = sel
            .into_iter()
            .enumerate()
            .filter(|(i, (_, e))| eval(pred, e, i + 1, n))
            .map(|(_, x)| x)
            .collect();
    }
    out.extend(sel.into_iter().map(|(p, _)| p));
}

fn val<'a>(v: &'a Val, e: &'a Element) -> Option<&'a str> {
    match v {
        Val::Attr(n) => e.attr(n),
        Val::Lit(s) => Some(s),
        Val::NodeName => Some(&e.name),
    }
}

fn eval(p: &Pred, e: &Element, pos: usize, size: usize) -> bool {
    match p {
        Pred::Pos(n) => pos == *n,
        Pred::Last => pos == size,
        Pred::Has(a) => e.attr(a).is_some(),
        Pred::Cmp(a, eq, b) => match (val(a, e), val(b, e)) {
            (Some(x), Some(y)) => (x == y) == *eq,
            _ => false,
        },
        Pred::Contains(a, b) => {
            matches!((val(a, e), val(b, e)), (Some(x), Some(y)) if x.contains(y))
        }
        Pred::Starts(a, b) => {
            matches!((val(a, e), val(b, e)), (Some(x), Some(y)) if x.starts_with(y))
        }
        Pred::Not(q) => !eval(q, e, pos, size),
        Pred::And(a, b) => eval(a, e, pos, size) && eval(b, e, pos, size),
        Pred::Or(a, b) => eval(a, e, pos, size) || eval(b, e, pos, size),
    }
}

/// The element at `path` (see [`NodePath`]).
pub fn get<'a>(root: &'a Element, path: &[usize]) -> Option<&'a Element> {
    let (first, rest) = path.split_first()?;
    if *first != 0 {
        return None;
    }
    let mut cur = root;
    for &i in rest {
        cur = cur.children.get(i)?;
    }
    Some(cur)
}

/// The element at `path`, mutably.
pub fn get_mut<'a>(root: &'a mut Element, path: &[usize]) -> Option<&'a mut Element> {
    let (first, rest) = path.split_first()?;
    if *first != 0 {
        return None;
    }
    let mut cur = root;
    for &i in rest {
        cur = cur.children.get_mut(i)?;
    }
    Some(cur)
}

/// Pacemaker's address of an element: `/name[@id='x']` for each ancestor
/// from the root (`[@id=...]` only where the element has an id).
pub fn element_path(root: &Element, path: &[usize]) -> String {
    let mut out = String::new();
    let mut cur = Some(root);
    for (depth, &i) in path.iter().enumerate() {
        let e = if depth == 0 {
            cur
        } else {
            cur.and_then(|c| c.children.get(i))
        };
        let Some(e) = e else { break };
        out.push('/');
        out.push_str(&e.name);
        if let Some(id) = e.attr("id") {
            out.push_str("[@id='");
            out.push_str(id);
            out.push_str("']");
        }
        cur = Some(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse_cib;
    use crate::xml::Limits;

    const DOC: &str = r#"<cib><configuration><resources>
        <primitive id="a" class="ocf"><meta_attributes id="a-m"><nvpair id="a-1" name="target-role" value="Stopped"/></meta_attributes></primitive>
        <!-- c -->
        <group id="g"><primitive id="b" class="lsb"/><primitive id="c" class="ocf"/></group>
        </resources></configuration><status/></cib>"#;

    fn ids(expr: &str) -> Vec<String> {
        let root = parse_cib(DOC, &Limits::default()).unwrap();
        XPath::parse(expr)
            .unwrap()
            .select(&root)
            .iter()
            .map(|p| {
                let e = get(&root, p).unwrap();
                e.attr("id")
                    .map(str::to_string)
                    .unwrap_or_else(|| e.name.clone())
            })
            .collect()
    }

    #[test]
    fn selects_like_libxml() {
        let table: &[(&str, &[&str])] = &[
            ("/cib", &["cib"]),
            ("/cib/configuration/resources/primitive", &["a"]),
            ("//primitive", &["a", "b", "c"]),
            ("//primitive[@class='ocf']", &["a", "c"]),
            ("//primitive[@class!='ocf']", &["b"]),
            ("//primitive[1]", &["a", "b"]),
            ("//group/primitive[last()]", &["c"]),
            (
                "//nvpair[@name='target-role' and @value='Stopped']",
                &["a-1"],
            ),
            ("//primitive[@id='a' or @id='c']", &["a", "c"]),
            ("//primitive[not(@class='ocf')]", &["b"]),
            ("//*[starts-with(@id, 'a-')]", &["a-m", "a-1"]),
            ("//*[contains(@id, '-')]", &["a-m", "a-1"]),
            ("//nvpair/../..", &["a"]),
            ("//group | //status", &["g", "status"]),
            ("/cib/*", &["configuration", "status"]),
            ("//primitive[name()='primitive'][@id=\"b\"]", &["b"]),
            ("//nothing", &[]),
        ];
        for (expr, want) in table {
            assert_eq!(ids(expr), *want, "{expr}");
        }
    }

    #[test]
    fn selects_comments_and_builds_paths() {
        let root = parse_cib(DOC, &Limits::default()).unwrap();
        let c = XPath::parse("//resources/comment()").unwrap().select(&root);
        assert_eq!(c.len(), 1);
        let b = XPath::parse("//primitive[@id='b']").unwrap().select(&root);
        assert_eq!(
            element_path(&root, &b[0]),
            "/cib/configuration/resources/group[@id='g']/primitive[@id='b']"
        );
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "primitive",
            "//a[",
            "//a[@id='x]",
            "//a[@id=]",
            "//a]",
            "/",
            "//a[foo(1)]",
        ] {
            assert!(XPath::parse(bad).is_err(), "{bad}");
        }
    }
}

//! The XML document model: elements with ordered attributes and children.
//!
//! A CIB is data, not a text document: attribute order and child order are
//! kept (diffs and digests depend on them), text content is kept only where a
//! leaf carries it, and comments and processing instructions are dropped.
//! Parsing enforces [`Limits`] while reading, so a hostile document is
//! rejected before it can take unbounded memory.

use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Bounds checked while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Deepest nesting.
    pub max_depth: usize,
    /// Most attributes on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 << 20,
            max_elements: 4_000_000,
            max_depth: 64,
            max_attributes: 256,
        }
    }
}

/// One element: name, attributes in document order, children in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside the element (trimmed), if any.
    pub text: Option<String>,
    /// 1-based line of the start tag in the parsed text (0 when built).
    pub line: u32,
}

/// Why a document was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// 1-based line where the problem was found.
    pub line: u32,
    /// The element being read, when known.
    pub element: Option<String>,
    pub message: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.element {
            Some(e) => write!(f, "line {}: <{}>: {}", self.line, e, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for XmlError {}

fn line_at(text: &[u8], pos: usize) -> u32 {
    let end = pos.min(text.len());
    1 + text[..end].iter().filter(|&&b| b == b'\n').count() as u32
}

/// Parses a whole document and returns its root element.
pub fn parse(text: &str, limits: &Limits) -> Result<Element, XmlError> {
    let bytes = text.as_bytes();
    if bytes.len() > limits.max_bytes {
        return Err(XmlError {
            line: 1,
            element: None,
            message: format!(
                "document of {} bytes exceeds the limit of {}",
                bytes.len(),
                limits.max_bytes
            ),
        });
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    // Lines are computed incrementally: the scan position only moves forward.
    let mut line_pos = 0usize;
    let mut line_no = 1u32;
    loop {
        let pos = reader.buffer_position() as usize;
        let ev = reader.read_event();
        let err = |msg: String, stack: &Vec<Element>| XmlError {
            line: line_at(bytes, pos),
            element: stack.last().map(|e| e.name.clone()),
            message: msg,
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => return Err(err(format!("malformed XML: {e}"), &stack)),
        };
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(ev, Event::Empty(_));
                count += 1;
                if count > limits.max_elements {
                    return Err(err(
                        format!("more than {} elements", limits.max_elements),
                        &stack,
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err(
                        format!("nesting deeper than {}", limits.max_depth),
                        &stack,
                    ));
                }
                // Advance the line counter to this tag.
                // With trimming, the reported position can be before the
                // white space that precedes the tag.
                let mut here = pos.min(bytes.len());
                while here < bytes.len() && bytes[here].is_ascii_whitespace() {
                    here += 1;
                }
                line_no += bytes[line_pos..here]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u32;
                line_pos = here;
                let mut el = start_element(s, limits).map_err(|m| XmlError {
                    line: line_no,
                    element: Some(String::from_utf8_lossy(s.name().as_ref()).into_owned()),
                    message: m,
                })?;
                el.line = line_no;
                if root.is_some() && stack.is_empty() {
                    return Err(err("content after the root element".into(), &stack));
                }
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(err("unexpected end tag".into(), &stack));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if stack.is_empty() {
                    continue;
                }
                let s = t
                    .unescape()
                    .map_err(|e| err(format!("bad text: {e}"), &stack))?;
                if let (false, Some(cur)) = (s.is_empty(), stack.last_mut()) {
                    cur.text.get_or_insert_with(String::new).push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(cur) = stack.last_mut() {
                    let s = String::from_utf8_lossy(&c).into_owned();
                    cur.text.get_or_insert_with(String::new).push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError {
            line: line_at(bytes, bytes.len()),
            element: stack.last().map(|e| e.name.clone()),
            message: "document ends inside an element".into(),
        });
    }
    root.ok_or(XmlError {
        line: 1,
        element: None,
        message: "no root element".into(),
    })
}

fn start_element(s: &BytesStart<'_>, limits: &Limits) -> Result<Element, String> {
    let name = std::str::from_utf8(s.name().as_ref())
        .map_err(|_| "element name is not UTF-8".to_string())?
        .to_string();
    let mut attrs = Vec::new();
    // quick-xml's own duplicate check is off: ours below names the
    // attribute, and one quadratic scan per element is enough.
    for a in s.attributes().with_checks(false) {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if attrs.len() >= limits.max_attributes {
            return Err(format!("more than {} attributes", limits.max_attributes));
        }
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| "attribute name is not UTF-8".to_string())?
            .to_string();
        let value = a
            .unescape_value()
            .map_err(|e| format!("bad value of attribute {key}: {e}"))?
            .into_owned();
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(format!("attribute {key} appears twice"));
        }
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

impl Element {
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_string(),
            ..Element::default()
        }
    }

    /// Builder: adds an attribute.
    pub fn with_attr(mut self, k: &str, v: &str) -> Element {
        self.set_attr(k, v);
        self
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `id` attribute, or "" when absent.
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or("")
    }

    pub fn set_attr(&mut self, key: &str, value: &str) {
        match self.attrs.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => self.attrs.push((key.to_string(), value.to_string())),
        }
    }

    pub fn remove_attr(&mut self, key: &str) -> Option<String> {
        let i = self.attrs.iter().position(|(k, _)| k == key)?;
        Some(self.attrs.remove(i).1)
    }

    /// First child with this element name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Children with this element name, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of element names from this element (first match at
    /// every step), e.g. `["configuration", "resources"]`.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut cur = self;
        for n in names {
            cur = cur.child(n)?;
        }
        Some(cur)
    }

    /// Depth-first search for the first element (self included) satisfying `f`.
    pub fn find(&self, f: &dyn Fn(&Element) -> bool) -> Option<&Element> {
        if f(self) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(f))
    }

    /// Depth-first search for an element with this `id`, optionally also
    /// this element name.
    pub fn find_id(&self, id: &str, name: Option<&str>) -> Option<&Element> {
        self.find(&|e| e.attr("id") == Some(id) && name.is_none_or(|n| e.name == n))
    }

    /// Visits every element depth-first (pre-order).
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Element)) {
        f(self);
        for c in &self.children {
            c.walk(f);
        }
    }

    /// Serialises with two-space indentation, one element per line, the
    /// way Pacemaker writes the CIB.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// Serialises on one line with no added white space.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>) {
        if let Some(n) = indent {
            for _ in 0..n {
                out.push_str("  ");
            }
        }
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_none() {
            out.push_str("/>");
            if indent.is_some() {
                out.push('\n');
            }
            return;
        }
        out.push('>');
        if let Some(t) = &self.text {
            escape_into(out, t);
        }
        if !self.children.is_empty() {
            if indent.is_some() {
                out.push('\n');
            }
            for c in &self.children {
                c.write(out, indent.map(|n| n + 1));
            }
            if let Some(n) = indent {
                for _ in 0..n {
                    out.push_str("  ");
                }
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
        if indent.is_some() {
            out.push('\n');
        }
    }
}

/// Escapes the five XML special characters (and control characters that
/// would not survive a round trip as numeric references).
pub fn escape_into(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attributes_children_and_lines() {
        let doc = "<cib a=\"1\">\n  <configuration>\n    <nodes/>\n  </configuration>\n  <status/>\n</cib>\n";
        let root = parse(doc, &Limits::default()).unwrap();
        assert_eq!(root.name, "cib");
        assert_eq!(root.attr("a"), Some("1"));
        assert_eq!(root.children.len(), 2);
        assert_eq!(root.path(&["configuration", "nodes"]).unwrap().line, 3);
        assert_eq!(root.child("status").unwrap().line, 5);
    }

    #[test]
    fn round_trips_escaped_values() {
        let mut e = Element::new("nvpair");
        e.set_attr("value", "a<b & \"c\"\nd");
        let text = e.to_compact();
        let back = parse(&text, &Limits::default()).unwrap();
        assert_eq!(back.attr("value"), Some("a<b & \"c\"\nd"));
    }

    #[test]
    fn rejects_malformed_and_names_the_element() {
        let err = parse("<cib>\n<configuration>\n</cib>", &Limits::default()).unwrap_err();
        assert!(err.message.contains("malformed"), "{err}");
        let err = parse("<cib><a x=\"1\" x=\"2\"/></cib>", &Limits::default()).unwrap_err();
        assert_eq!(err.element.as_deref(), Some("a"));
    }

    #[test]
    fn enforces_limits_while_reading() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        let err = parse(&deep, &Limits::default()).unwrap_err();
        assert!(err.message.contains("nesting"), "{err}");
        let many = format!("<a>{}</a>", "<b/>".repeat(50));
        let lim = Limits {
            max_elements: 10,
            ..Limits::default()
        };
        assert!(parse(&many, &lim).unwrap_err().message.contains("elements"));
        let lim = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(parse(&many, &lim).is_err());
    }

    #[test]
    fn rejects_trailing_root_and_empty_document() {
        assert!(parse("<a/><b/>", &Limits::default()).is_err());
        assert!(parse("", &Limits::default()).is_err());
    }
}

//! The CIB as Pacemaker reads and writes it: comments kept, text dropped,
//! attribute values escaped with Pacemaker's own rules.
//!
//! [`crate::xml::parse`] is the scheduler's reader (comments dropped). The
//! CIB daemon and the tools need the document exactly as Pacemaker holds it,
//! because the digest (see [`crate::digest`]) and the patch positions count
//! comments. A comment is kept as a pseudo-element named [`COMMENT`] whose
//! `text` is the comment's body; no real element can have that name.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::xml::{Element, Limits, XmlError};

/// Element name of a kept comment (`<!--text-->`).
pub const COMMENT: &str = "!--";

impl Element {
    /// A comment pseudo-element (see [`COMMENT`]).
    pub fn comment(text: &str) -> Element {
        Element {
            name: COMMENT.to_string(),
            text: Some(text.to_string()),
            ..Element::default()
        }
    }

    /// Whether this is a comment pseudo-element.
    pub fn is_comment(&self) -> bool {
        self.name == COMMENT
    }

    /// Element children only (comments skipped).
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter(|c| !c.is_comment())
    }

    /// Number of elements in this subtree (self included, comments not).
    pub fn count_elements(&self) -> usize {
        1 + self.elements().map(Element::count_elements).sum::<usize>()
    }
}

/// Parses a CIB (or any fragment given to cibadmin) the way Pacemaker does:
/// comments kept as [`COMMENT`] pseudo-elements, text content, processing
/// instructions and the declaration dropped. Limits as [`crate::xml::parse`].
pub fn parse_cib(text: &str, limits: &Limits) -> Result<Element, XmlError> {
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
    let mut line_pos = 0usize;
    let mut line_no = 1u32;
    loop {
        let pos = (reader.buffer_position() as usize).min(bytes.len());
        // Lines advance incrementally: positions only move forward.
        let mut here = pos.max(line_pos);
        while here < bytes.len() && bytes[here].is_ascii_whitespace() {
            here += 1;
        }
        line_no += bytes[line_pos..here]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        line_pos = here;
        let err = |msg: String, stack: &Vec<Element>| XmlError {
            line: line_no,
            element: stack.last().map(|e| e.name.clone()),
            message: msg,
        };
        let ev = reader
            .read_event()
            .map_err(|e| err(format!("malformed XML: {e}"), &stack))?;
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
                let qname = s.name();
                let name = std::str::from_utf8(qname.as_ref())
                    .map_err(|_| err("element name is not UTF-8".into(), &stack))?;
                let mut el = Element::new(name);
                el.line = line_no;
                let name_err = |m: String| XmlError {
                    line: line_no,
                    element: Some(name.to_string()),
                    message: m,
                };
                // quick-xml's duplicate check is off: ours below names the
                // attribute, and one quadratic scan per element is enough.
                for a in s.attributes().with_checks(false) {
                    let a = a.map_err(|e| name_err(format!("bad attribute: {e}")))?;
                    if el.attrs.len() >= limits.max_attributes {
                        return Err(name_err(format!(
                            "more than {} attributes",
                            limits.max_attributes
                        )));
                    }
                    let key = std::str::from_utf8(a.key.as_ref())
                        .map_err(|_| name_err("attribute name is not UTF-8".into()))?
                        .to_string();
                    let value = a
                        .unescape_value()
                        .map_err(|e| name_err(format!("bad value of attribute {key}: {e}")))?
                        .into_owned();
                    if el.attr(&key).is_some() {
                        return Err(name_err(format!("attribute {key} appears twice")));
                    }
                    el.attrs.push((key, value));
                }
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
            Event::Comment(c) => {
                if let Some(parent) = stack.last_mut() {
                    count += 1;
                    if count > limits.max_elements {
                        return Err(err(
                            format!("more than {} elements", limits.max_elements),
                            &stack,
                        ));
                    }
                    let mut el = Element::comment(&String::from_utf8_lossy(&c));
                    el.line = line_no;
                    parent.children.push(el);
                }
            }
            Event::Text(t) => {
                // Pacemaker strips text nodes; only reject what is not
                // well-formed.
                t.unescape()
                    .map_err(|e| err(format!("bad text: {e}"), &stack))?;
                if stack.is_empty() && root.is_some() && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(err("content after the root element".into(), &stack));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError {
            line: line_no,
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

/// Escapes an attribute value with Pacemaker's rules (`crm_xml_escape`):
/// the five XML specials as entities, TAB as four spaces, LF and CR as
/// `\n` and `\r`, other control bytes and DEL as a backslash and three
/// octal digits. With `stop_at_utf8` (the digest), escaping stops at the
/// first non-ASCII character and the rest is copied as is, as Pacemaker
/// does; without it (files we write), the XML specials stay escaped after
/// it so the output is always well-formed.
pub fn escape_value(out: &mut String, value: &str, stop_at_utf8: bool) {
    let mut seen_utf8 = false;
    for ch in value.chars() {
        if !ch.is_ascii() {
            seen_utf8 = true;
            out.push(ch);
            continue;
        }
        if seen_utf8 && stop_at_utf8 {
            out.push(ch);
            continue;
        }
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '&' => out.push_str("&amp;"),
            _ if seen_utf8 => out.push(ch),
            '\t' => out.push_str("    "),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// How [`write_pcmk`] renders a document.
#[derive(Debug, Clone, Copy)]
pub struct Format<'a> {
    /// Two-space indentation and a newline after every node.
    pub pretty: bool,
    /// Pacemaker's digest escaping (see [`escape_value`]).
    pub digest_escaping: bool,
    /// Attributes left out on every element (the versioned digest).
    pub skip_attrs: &'a [&'a str],
}

/// Serialises `el` as Pacemaker dumps XML (`pcmk__xml2text`), appending
/// to `out`.
pub fn write_pcmk(out: &mut String, el: &Element, fmt: &Format<'_>) {
    write_node(out, el, fmt, 0);
}

fn write_node(out: &mut String, el: &Element, fmt: &Format<'_>, depth: usize) {
    if fmt.pretty {
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    if el.is_comment() {
        out.push_str("<!--");
        out.push_str(el.text.as_deref().unwrap_or(""));
        out.push_str("-->");
    } else {
        out.push('<');
        out.push_str(&el.name);
        for (k, v) in &el.attrs {
            if fmt.skip_attrs.contains(&k.as_str()) {
                continue;
            }
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_value(out, v, fmt.digest_escaping);
            out.push('"');
        }
        if el.children.is_empty() {
            out.push_str("/>");
        } else {
            out.push('>');
            if fmt.pretty {
                out.push('\n');
            }
            for c in &el.children {
                write_node(out, c, fmt, depth + 1);
            }
            if fmt.pretty {
                for _ in 0..depth {
                    out.push_str("  ");
                }
            }
            out.push_str("</");
            out.push_str(&el.name);
            out.push('>');
        }
    }
    if fmt.pretty {
        out.push('\n');
    }
}

/// The document as Pacemaker writes a CIB file or prints a query: two-space
/// indentation, one node per line, ending in a newline.
pub fn to_pcmk_pretty(el: &Element) -> String {
    let mut out = String::new();
    write_pcmk(
        &mut out,
        el,
        &Format {
            pretty: true,
            digest_escaping: false,
            skip_attrs: &[],
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_drops_text() {
        let doc =
            "<?xml version=\"1.0\"?>\n<cib a=\"1\">\n  <!-- note -->\n  <x>text</x>\n</cib>\n";
        let root = parse_cib(doc, &Limits::default()).unwrap();
        assert_eq!(root.children.len(), 2);
        assert!(root.children[0].is_comment());
        assert_eq!(root.children[0].text.as_deref(), Some(" note "));
        assert_eq!(root.children[1].text, None);
        assert_eq!(root.children[1].line, 4);
        assert_eq!(
            to_pcmk_pretty(&root),
            "<cib a=\"1\">\n  <!-- note -->\n  <x/>\n</cib>\n"
        );
    }

    #[test]
    fn escapes_values_as_pacemaker() {
        let cases = [
            ("plain", "plain", "plain"),
            (
                "a<b>&\"'",
                "a&lt;b&gt;&amp;&quot;&apos;",
                "a&lt;b&gt;&amp;&quot;&apos;",
            ),
            ("a\tb\nc\rd", "a    b\\nc\\rd", "a    b\\nc\\rd"),
            ("\u{1}\u{7f}", "\\001\\177", "\\001\\177"),
            // Pacemaker stops escaping at the first multibyte character.
            ("é<\t", "é<\t", "é&lt;\t"),
            ("<é", "&lt;é", "&lt;é"),
        ];
        for (input, digest, file) in cases {
            let mut d = String::new();
            escape_value(&mut d, input, true);
            assert_eq!(d, digest, "digest escaping of {input:?}");
            let mut f = String::new();
            escape_value(&mut f, input, false);
            assert_eq!(f, file, "file escaping of {input:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_well_formed() {
        for bad in [
            "<a><b></a>",
            "<a/><b/>",
            "",
            "<a x='1' x='2'/>",
            "<a>&bogus;</a>",
        ] {
            assert!(parse_cib(bad, &Limits::default()).is_err(), "{bad}");
        }
        let err = parse_cib("<cib>\n<c x='1' x='2'/></cib>", &Limits::default()).unwrap_err();
        assert_eq!(err.element.as_deref(), Some("c"));
        assert_eq!(err.line, 2);
    }
}

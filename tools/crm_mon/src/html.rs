//! crm_mon's HTML page: the text status's sections as headings and
//! nested lists, in one self-contained page (inline style, no scripts).

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body { font-family: sans-serif }\n\
h2 { margin-bottom: 0.2em }\n\
.warning { color: red; font-weight: bold }\n\
.failed { color: red }\n\
.online { color: green }\n\
.offline { color: red }\n\
li { white-space: pre-wrap }";

/// The class a line is shown with, from the words Pacemaker's page colours.
fn class_of(text: &str) -> Option<&'static str> {
    if text.contains("FAILED") || text.contains("UNCLEAN") || text.contains("OFFLINE") {
        Some("failed")
    } else if text.starts_with("Online:") || text.ends_with(": online") {
        Some("online")
    } else {
        None
    }
}

/// The page for the text status `text` (crm_mon's text output), refreshed
/// by the browser every `refresh_secs` when given.
pub fn page(text: &str, refresh_secs: Option<u64>) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<title>Cluster Status</title>\n<meta charset=\"utf-8\">\n");
    if let Some(s) = refresh_secs {
        out.push_str(&format!("<meta http-equiv=\"refresh\" content=\"{s}\">\n"));
    }
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    // Open <ul> levels; each entry says whether an <li> is open in it.
    let mut open: Vec<bool> = Vec::new();
    let close_to = |open: &mut Vec<bool>, depth: usize, out: &mut String| {
        while open.len() > depth {
            if open.pop() == Some(true) {
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(item) = trimmed.strip_prefix("* ") {
            let depth = indent / 2;
            close_to(&mut open, depth, &mut out);
            while open.len() < depth {
                open.push(false);
                out.push_str("<ul>\n");
            }
            if let Some(li) = open.last_mut() {
                if *li {
                    out.push_str("</li>\n");
                }
                *li = true;
            }
            let item = item.replace('\t', " ");
            match class_of(&item) {
                Some(c) => {
                    out.push_str(&format!("<li><span class=\"{c}\">{}</span>", escape(&item)))
                }
                None => out.push_str(&format!("<li><span>{}</span>", escape(&item))),
            }
            out.push('\n');
        } else {
            close_to(&mut open, 0, &mut out);
            if trimmed.is_empty() {
                continue;
            }
            if indent == 0 && trimmed.ends_with(':') {
                out.push_str(&format!(
                    "<h2>{}</h2>\n",
                    escape(trimmed.trim_end_matches(':'))
                ));
            } else {
                out.push_str(&format!("<p class=\"warning\">{}</p>\n", escape(trimmed)));
            }
        }
    }
    close_to(&mut open, 0, &mut out);
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_become_headings_and_nested_lists() {
        let text = "Node List:\n  * Online: [ a b ]\n\nOperations:\n  * Node: a:\n    * R: migration-threshold=3:\n      * (5) start\n  * Node: b:\n";
        let html = page(text, Some(5));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(html.contains("<h2>Node List</h2>"));
        assert!(html.contains("<li><span class=\"online\">Online: [ a b ]</span>"));
        assert!(html.contains("<h2>Operations</h2>"));
        assert!(html.contains("<ul>\n<li><span>(5) start</span>\n</li>\n</ul>\n</li>\n</ul>\n</li>\n<li><span>Node: b:</span>"));
        assert_eq!(html.matches("<ul>").count(), html.matches("</ul>").count());
        assert_eq!(html.matches("<li>").count(), html.matches("</li>").count());
    }

    #[test]
    fn text_is_escaped() {
        let html = page("Failed Resource Actions:\n  * a<b> & 'c'\n", None);
        assert!(html.contains("a&lt;b&gt; &amp; &#39;c&#39;"));
        assert!(!html.contains("refresh"));
    }
}

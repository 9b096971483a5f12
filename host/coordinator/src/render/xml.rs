//! Escaping for XML and HTML text and attribute values.

use std::fmt::Write;

/// `s` as XML text: `&`, `<`, `>`, `"` and `'` escaped, and the characters XML 1.0 does not allow
/// (C0 control characters other than tab, newline and carriage return; U+FFFE and U+FFFF) replaced
/// with U+FFFD.
pub fn escape(s: &str) -> String {
    escape_with(s, false)
}

/// `s` as a quoted attribute value: as [`escape`], and tab, newline and carriage return as
/// character references (a parser would turn them into spaces otherwise).
pub fn escape_attribute(s: &str) -> String {
    escape_with(s, true)
}

fn escape_with(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `<name a="v" ...>` with every value escaped (`/>` when `empty`).
pub fn open(out: &mut String, name: &str, attrs: &[(&str, &str)], empty: bool) {
    let _ = write!(out, "<{name}");
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"{}\"", escape_attribute(v));
    }
    out.push_str(if empty { "/>" } else { ">" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_forbidden_characters() {
        assert_eq!(
            escape(r#"p(95) < 200 && "a" > 'b'"#),
            "p(95) &lt; 200 &amp;&amp; &quot;a&quot; &gt; &#39;b&#39;"
        );
        assert_eq!(
            escape("tab\tnew\nline\u{1}bell\u{7f}\u{85}\u{fffe}"),
            "tab\tnew\nline\u{FFFD}bell\u{7f}\u{85}\u{FFFD}",
            "C1 controls and DEL are allowed in XML 1.0"
        );
        assert_eq!(escape_attribute("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(escape("ünïcode ✓"), "ünïcode ✓");
    }

    #[test]
    fn open_writes_escaped_attributes() {
        let mut s = String::new();
        open(&mut s, "a", &[("href", "x?a=1&b=\"2\"")], false);
        open(&mut s, "br", &[], true);
        assert_eq!(s, "<a href=\"x?a=1&amp;b=&quot;2&quot;\"><br/>");
    }
}

//! Text put into markup: SVG and HTML need `<`, `>`, `&` and quotes escaped; JSON put inside a
//! `<script>` element must not contain `</script>` or `<!--`.

/// `s` safe as XML/HTML text or as an attribute value in double quotes.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in XML at all.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JSON text made safe to sit inside `<script type="application/json">`: `<` only occurs in
/// JSON inside strings, where `\u003c` means the same.
pub fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_cannot_be_closed_from_inside() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        let j = serde_json::to_string("</script><!--").unwrap();
        let safe = json_in_script(&j);
        assert!(!safe.contains('<'));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "</script><!--");
    }
}

//! The one page both views show: HTML, CSS and script compiled into the binary, no request
//! to anywhere else. The report fills [`DATA`] with its connections; the live view leaves it
//! empty, and the script then asks the server it came from.

const HTML: &str = include_str!("../assets/page.html");
const CSS: &str = include_str!("../assets/page.css");
const JS: &str = include_str!("../assets/page.js");

/// Where the report's data goes in the page.
pub const DATA: &str = "<!--DATA-->";

/// The page with its style and script inlined; `title` names what it shows.
pub fn assemble(title: &str) -> String {
    HTML.replace("/*CSS*/", CSS)
        .replace("/*JS*/", JS)
        .replace("<!--TITLE-->", &crate::escape::xml(title))
}

/// The page split where the report's data goes: (before, after).
pub fn halves(title: &str) -> (String, String) {
    let page = assemble(title);
    match page.split_once(DATA) {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (page, String::new()),
    }
}

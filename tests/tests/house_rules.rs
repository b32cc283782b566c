//! The house rules of the workspace, checked on its sources so that they stay true: no
//! module imports another that imports it back, no library crate knows clap, no library
//! function gives up with a bare `String`, and no finding code is spelt out as a string
//! outside the catalogue (the typed `Code` is the only way to name one).
//!
//! The checks read the sources as text. A module is a file (`mod.rs` standing for its
//! folder); an import is any `crate::…` or `super::…` path outside comments and outside the
//! file's `#[cfg(test)]` part. Test-only files (`tests.rs`, `tests_*.rs`, `testutil.rs`) are
//! left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LIBRARIES: [&str; 5] = ["decoder", "account", "captures", "report", "proxy"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every non-test source file under `dir`, with its module path (`tls::handshake`).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = parts.last().cloned().unwrap_or_default();
            if last == "tests" || last.starts_with("tests_") || last == "testutil" {
                continue;
            }
            if last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.insert(parts.join("::"), code_only(&text));
        }
    }
    out
}

/// The file without its `#[cfg(test)]` part and without comments.
fn code_only(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names after `crate::` or `super::`, with `{a, b::c}` groups spread out,
/// each as its segments from the crate root.
fn imports(module: &str, code: &str) -> Vec<Vec<String>> {
    let here: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut out = Vec::new();
    for (kw, start) in [
        ("crate::", 0usize),
        ("super::", here.len().saturating_sub(1)),
    ] {
        let mut rest = code;
        while let Some(at) = rest.find(kw) {
            let before = rest[..at].chars().last();
            rest = &rest[at + kw.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let base: Vec<String> = here[..start].iter().map(|s| s.to_string()).collect();
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs = base.clone();
            segs.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
            out.push(segs.clone());
            if path.ends_with("::") && rest[path.len()..].starts_with('{') {
                let group = &rest[path.len() + 1..];
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let item = item.split(" as ").next().unwrap_or_default().trim();
                    if item.is_empty() || item == "self" || item.contains('{') {
                        continue;
                    }
                    let mut s = segs.clone();
                    s.extend(item.split("::").map(String::from));
                    out.push(s);
                }
            }
        }
    }
    out
}

/// The module a path lands in: its longest prefix that is a module.
fn owner(path: &[String], modules: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Groups of modules that import each other round in a circle (Tarjan's components).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let l = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, l);
                } else if self.stack.contains(&w.as_str()) {
                    let l = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, l);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|m| *m == v).unwrap();
                let group: Vec<String> = self.stack.drain(at..).map(String::from).collect();
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in &modules {
        let entry = edges.entry(m.clone()).or_default();
        for path in imports(m, code) {
            if let Some(to) = owner(&path, &modules) {
                // A module may name its own children and its ancestors' items freely.
                if to != *m && !to.is_empty() && !m.starts_with(&format!("{to}::")) {
                    entry.insert(to);
                }
            }
        }
    }
    edges
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut report = String::new();
    for krate in LIBRARIES.iter().chain(&["cli"]) {
        for group in cycles(&import_graph(&root().join(krate).join("src"))) {
            report.push_str(&format!("{krate}: {}\n", group.join(" → ")));
        }
    }
    assert!(report.is_empty(), "import cycles:\n{report}");
}

/// The check itself must see a circle when there is one.
#[test]
fn a_circle_is_seen() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    let mut group = found[0].clone();
    group.sort();
    assert_eq!(group, ["a", "b", "c"]);
    let imports = imports(
        "x::y",
        "use super::z::{One, w::Two};\nlet v = crate::q::r();",
    );
    assert!(imports.contains(&vec!["x".into(), "z".into(), "w".into(), "Two".into()]));
    assert!(imports.contains(&vec!["q".into(), "r".into()]));
}

#[test]
fn no_library_crate_depends_on_clap() {
    for krate in LIBRARIES {
        let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
        assert!(
            !manifest.lines().any(|l| l.trim_start().starts_with("clap")),
            "{krate}/Cargo.toml names clap; arguments belong to the binary (cli/)"
        );
    }
}

#[test]
fn no_library_function_gives_up_with_a_bare_string() {
    let mut found = Vec::new();
    for krate in LIBRARIES {
        for (m, code) in modules(&root().join(krate).join("src")) {
            for line in code.lines() {
                let l = line.replace(' ', "");
                if l.contains("Result<") && l.contains(",String>") {
                    found.push(format!("{krate}::{m}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "Result<_, String> in library code:\n{}",
        found.join("\n")
    );
}

#[test]
fn finding_codes_are_spelt_only_in_the_catalogue() {
    let sections = ["CONN.", "AUTH.", "AUTHZ.", "MQTT.", "TLS.", "SEC.", "MITM."];
    let mut found = Vec::new();
    for krate in LIBRARIES.iter().chain(&["cli"]) {
        for (m, code) in modules(&root().join(krate).join("src")) {
            if *krate == "decoder" && (m == "diagnose::code" || m == "diagnose::catalogue") {
                continue;
            }
            for line in code.lines() {
                if sections.iter().any(|s| line.contains(&format!("\"{s}"))) {
                    found.push(format!("{krate}::{m}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "finding codes as strings:\n{}",
        found.join("\n")
    );
}

//! Checks a JUnit XML report against the schema CI tools read: the Jenkins JUnit schema
//! (`junit-10.xsd`, MIT licence, by Gregory Boissinot), which pytest ships in its source
//! distribution to check its own reports. `.ci/run` takes it from pytest's sdist on PyPI and
//! puts it in the virtual environment's `share/` folder; `xmllint` (libxml2-utils) validates.
//! The schema is not committed: it is a third party's file, fetched from the package
//! registry like the other Python peers.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{have_tool, venv};

/// Where `.ci/run` puts the schema.
pub fn schema_path() -> PathBuf {
    venv::dir().join("share").join("junit-10.xsd")
}

/// The schema, or `None` (a skip) when it or `xmllint` is missing outside CI; in CI a missing
/// one fails the test.
pub fn schema() -> Option<PathBuf> {
    if !have_tool("xmllint") {
        return None;
    }
    let path = schema_path();
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the JUnit schema {} is required in CI but is missing (.ci/run fetches it)",
            path.display()
        );
    }
    eprintln!(
        "{} is missing: skipping the JUnit schema check",
        path.display()
    );
    None
}

/// Validates `xml` against `schema`: Ok, or xmllint's complaint.
pub fn validate(schema: &Path, xml: &Path) -> Result<(), String> {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(xml)
        .output()
        .map_err(|e| format!("xmllint does not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

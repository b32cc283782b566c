//! `iotscope policy lint`: the problems of each file; exit 0 clean, 1 with problems.

use std::fmt::Write as _;

use iotscope_decoder::policy::{self, Problem};
use serde::Serialize;

use super::{read, PolicyCommandError, PolicyLintOptions};
use crate::Format;

/// One problem with the file it is in.
#[derive(Debug, Serialize)]
pub struct FileProblem {
    pub file: String,
    #[serde(flatten)]
    pub problem: Problem,
}

pub fn problems(opts: &PolicyLintOptions) -> Result<Vec<FileProblem>, PolicyCommandError> {
    let mut out = Vec::new();
    for path in &opts.files {
        let bytes = read(path)?;
        let file = path.display().to_string();
        let text = String::from_utf8_lossy(&bytes);
        out.extend(
            policy::lint(&file, &text)
                .into_iter()
                .map(|problem| FileProblem {
                    file: file.clone(),
                    problem,
                }),
        );
    }
    Ok(out)
}

pub fn run(opts: PolicyLintOptions) -> Result<u8, PolicyCommandError> {
    let found = problems(&opts)?;
    match opts.format {
        crate::Format::Text => print!("{}", text(&found, opts.files.len())),
        Format::Json => {
            for p in &found {
                println!("{}", serde_json::to_string(p).unwrap_or_default());
            }
        }
    }
    Ok(u8::from(!found.is_empty()))
}

pub fn text(found: &[FileProblem], files: usize) -> String {
    let mut out = String::new();
    for p in found {
        let kind = serde_json::to_value(p.problem.kind)
            .ok()
            .and_then(|k| k.as_str().map(String::from))
            .unwrap_or_default();
        let place = if p.problem.place.is_empty() {
            String::new()
        } else {
            format!("{}: ", p.problem.place)
        };
        let policy = if p.problem.policy == p.file {
            String::new()
        } else {
            format!("policy {:?}: ", p.problem.policy)
        };
        let _ = writeln!(
            out,
            "{}: {policy}{place}{kind}: {}",
            p.file, p.problem.message
        );
    }
    let _ = writeln!(
        out,
        "{} problem{} in {files} file{}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    out
}

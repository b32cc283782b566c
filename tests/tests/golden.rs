//! Golden output: `iotscope replay` of every capture in the repository, in text and in JSON
//! (with `--events`), without keys and, where the capture has a key log, with it. The outputs
//! are kept in `tests/golden/` and must stay byte-identical: a change to what a user sees
//! is made on purpose, named in its commit, and blessed with
//!
//!     IOTSCOPE_BLESS=1 cargo test -p iotscope-tests --test golden
//!
//! which rewrites the files. Each golden file holds the exit status and standard error too,
//! since a damaged capture's message is output a user reads.

use std::path::{Path, PathBuf};

use iotscope_tests::{iotscope, root};

/// One replay to compare: the capture, its key log if any, and the golden file's stem.
struct Case {
    capture: PathBuf,
    keylog: Option<PathBuf>,
    golden: PathBuf,
}

/// The key log that belongs to `pcap`, by the names the capture folders use.
fn keylog_of(pcap: &Path) -> Option<PathBuf> {
    let stem = pcap.file_stem()?.to_str()?;
    [format!("{stem}.keys"), format!("{stem}.keylog.txt")]
        .into_iter()
        .map(|n| pcap.with_file_name(n))
        .find(|p| p.exists())
}

fn cases() -> Vec<Case> {
    let root = root();
    let mut cases = Vec::new();
    for set in [
        "captures/samples",
        "captures/resumption",
        "captures/reference/public",
        "captures/reference/lab",
        "captures/reference/wild",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(set))
            .unwrap_or_else(|e| panic!("{set}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng")
                )
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no captures in {set}");
        for pcap in files {
            let rel = pcap.strip_prefix(&root).unwrap().to_path_buf();
            let stem = pcap.file_stem().unwrap().to_str().unwrap().to_string();
            let golden_dir = Path::new("tests/golden").join(
                set.trim_start_matches("captures/reference/")
                    .trim_start_matches("captures/"),
            );
            cases.push(Case {
                capture: rel.clone(),
                keylog: None,
                golden: golden_dir.join(&stem),
            });
            if let Some(k) = keylog_of(&pcap) {
                cases.push(Case {
                    capture: rel,
                    keylog: Some(k.strip_prefix(&root).unwrap().to_path_buf()),
                    golden: golden_dir.join(format!("{stem}.with-keys")),
                });
            }
        }
    }
    cases
}

/// Runs one replay from the workspace root (so paths in the output are relative) and lays
/// out what it printed as one file.
fn replay(case: &Case, format: &str) -> String {
    let mut cmd = iotscope();
    cmd.current_dir(root())
        .args(["replay", "--quiet", "--colour", "never", "--format", format]);
    if format == "json" {
        cmd.arg("--events");
    }
    if let Some(k) = &case.keylog {
        cmd.arg("--keylog").arg(k);
    }
    let out = cmd.arg(&case.capture).output().expect("run iotscope");
    format!(
        "{}--- stderr ---\n{}--- exit {} ---\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
            .code()
            .map_or("signal".to_string(), |c| c.to_string())
    )
}

#[test]
fn replay_output_is_unchanged_for_every_capture() {
    let bless = std::env::var_os("IOTSCOPE_BLESS").is_some();
    let root = root();
    let mut changed = Vec::new();
    let mut compared = 0;
    for case in cases() {
        for (format, ext) in [("text", "txt"), ("json", "jsonl")] {
            let got = replay(&case, format);
            let mut name = case.golden.clone().into_os_string();
            name.push(format!(".{ext}"));
            let path = root.join(name);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            compared += 1;
            match std::fs::read_to_string(&path) {
                Ok(want) if want == got => {}
                Ok(want) => {
                    let line = want
                        .lines()
                        .zip(got.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
                    changed.push(format!(
                        "{} differs from line {}:\n  was: {}\n  now: {}",
                        path.display(),
                        line + 1,
                        want.lines().nth(line).unwrap_or("<end>"),
                        got.lines().nth(line).unwrap_or("<end>")
                    ));
                }
                Err(e) => changed.push(format!("{}: {e}", path.display())),
            }
        }
    }
    if bless {
        return;
    }
    let on_disk = golden_files(&root.join("tests/golden"));
    assert_eq!(
        on_disk, compared,
        "tests/golden holds {on_disk} files for {compared} outputs: remove the stale ones (bless rewrites only)"
    );
    assert!(
        changed.is_empty(),
        "{} of {compared} outputs changed (bless on purpose with IOTSCOPE_BLESS=1):\n{}",
        changed.len(),
        changed.join("\n")
    );
}

fn golden_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .map(|p| if p.is_dir() { golden_files(&p) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

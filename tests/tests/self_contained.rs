//! The repository needs nothing beside it: no tracked file reads a path outside the checkout
//! (the project's capture collection and the guide's source live elsewhere), and every link to
//! the troubleshooting guide is its public address.

use iotscope_tests::{replay_json, root, run};

/// The tracked files, as git lists them; text files only.
fn tracked_text_files() -> Vec<(String, String)> {
    let out = std::process::Command::new("git")
        .current_dir(root())
        .args(["-c", "safe.directory=*", "ls-files", "-z"])
        .output()
        .expect("run git");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let text = std::fs::read_to_string(root().join(p)).ok()?;
            Some((p.to_string(), text))
        })
        .collect()
}

#[test]
fn no_tracked_file_reads_outside_the_checkout() {
    let files = tracked_text_files();
    assert!(files.len() > 100, "only {} tracked text files", files.len());
    // Spelled in pieces so that this file does not match itself.
    let outside = ["../", "shared/"].concat();
    let seed = ["shared", "/seed/"].concat();
    let bad: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains(&outside) || l.contains(&seed))
                .map(move |(n, l)| format!("{path}:{}: {}", n + 1, l.trim()))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "paths outside the checkout:\n{}",
        bad.join("\n")
    );
}

#[test]
fn guide_links_are_the_public_page() {
    const PAGE: &str =
        "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html";
    let explain = run(&["explain", "AUTHZ.PUBLISH_DENIED"]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains(&format!("{PAGE}#troubleshooting-authorization")),
        "{text}"
    );
    let markdown = std::fs::read_to_string(root().join("docs/diagnoses.md")).unwrap();
    for anchor in [
        "#troubleshooting-connect",
        "#troubleshooting-authentication",
        "#troubleshooting-authorization",
        "#troubleshooting-security-identity",
    ] {
        assert!(markdown.contains(&format!("]({PAGE}{anchor})")), "{anchor}");
    }
    let sample = root().join("captures/samples/03_no_client_cert_tls12.pcap");
    let (conns, _) = replay_json(&[sample.to_str().unwrap()]);
    let findings: Vec<_> = conns
        .iter()
        .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(!findings.is_empty());
    for f in findings {
        let guide = f["guide"].as_str().unwrap_or_default();
        let anchor = f["anchor"].as_str().unwrap();
        assert_eq!(guide, format!("{PAGE}{anchor}"), "{f}");
    }
    // Every link to a guide page in the docs is the public one.
    for (path, text) in tracked_text_files() {
        if !path.ends_with(".md") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains("diagnosing-connectivity-issues") {
                assert!(line.contains(PAGE), "{path}:{}: {line}", n + 1);
            }
        }
    }
}

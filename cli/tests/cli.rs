//! The command line itself: explain, the generated catalogue page, exit statuses for bad input.

use std::process::Command;

fn iotscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iotscope"))
        .args(args)
        .output()
        .expect("run iotscope")
}

#[test]
fn explain_prints_the_whole_entry() {
    let out = iotscope(&["explain", "auth.client_cert_rejected"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("AUTH.CLIENT_CERT_REJECTED  (error, Authentication)"),
        "{text}"
    );
    assert!(text.contains("aws iot describe-certificate --certificate-id CERTIFICATE_ID"));
    assert!(text.contains("#troubleshooting-authentication"));
}

#[test]
fn explain_list_names_every_code() {
    let out = iotscope(&["explain", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for e in iotscope_decoder::diagnose::CATALOGUE {
        assert!(
            text.contains(e.code.as_str()),
            "{} missing from --list",
            e.code
        );
    }
}

#[test]
fn explain_unknown_code_is_bad_input() {
    let out = iotscope(&["explain", "CONN.NOPE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CONN.NOPE"));
}

#[test]
fn diagnoses_page_is_generated_from_the_catalogue() {
    let out = iotscope(&["explain", "--markdown"]);
    let generated = String::from_utf8(out.stdout).unwrap();
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnoses.md");
    let on_disk = std::fs::read_to_string(&page).unwrap_or_default();
    assert!(
        generated == on_disk,
        "docs/diagnoses.md is stale: regenerate it with `cargo run -p iotscope -- explain --markdown > docs/diagnoses.md`"
    );
}

#[test]
fn bad_flags_exit_2() {
    let out = iotscope(&["replay", "--format", "xml", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = iotscope(&["replay"]);
    assert_eq!(out.status.code(), Some(2));
}

//! `iotscope cert check` on certificates made here with rcgen: the fields it prints, the
//! AWS certificate ID against openssl's, and each finding it can give.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iotscope_tests::{have_tool, run};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

type Ca = CertifiedIssuer<'static, KeyPair>;

/// A directory of its own for each test, so tests can run side by side.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotscope-cert-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf_params(cn: &str, names: &[&str], eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![eku];
    p
}

/// A P-256 device certificate issued by `ca`: (certificate PEM, key PEM).
fn device(ca: &Ca, p: CertificateParams) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// `iotscope cert check --format json ARGS`: the objects, one per file, and the output.
fn check_json(args: &[&str]) -> (Vec<Value>, Output) {
    let mut all = vec!["cert", "check", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let objects = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (objects, out)
}

fn codes(file: &Value) -> Vec<String> {
    file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn good_chain_key_and_ca_give_no_finding() {
    let d = dir("good");
    let root = ca("Test Device CA");
    let (cert, key) = device(
        &root,
        leaf_params("thing-1", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let chain = write(&d, "chain.pem", &format!("{cert}{}", root.pem()));
    let key = write(&d, "key.pem", &key);
    let ca = write(&d, "ca.pem", &root.pem());
    let (files, out) = check_json(&[&chain, "--key", &key, "--ca", &ca]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(files.len(), 1);
    assert_eq!(codes(&files[0]), Vec::<String>::new());
    let certs = files[0]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["subject"], "CN=thing-1");
    assert_eq!(certs[0]["issuer"], "CN=Test Device CA");
    assert_eq!(certs[0]["key_type"], "EC");
    assert_eq!(certs[0]["curve"], "P-256");
    assert_eq!(certs[0]["valid_now"], true);
    assert_eq!(certs[0]["issued_by_next"], true);
    assert_eq!(certs[1]["is_ca"], true);
    let id = certs[0]["certificate_id"].as_str().unwrap();
    assert_eq!(
        certs[0]["describe_certificate"],
        format!("aws iot describe-certificate --certificate-id {id}")
    );

    // The text form carries the same facts and says there is nothing wrong.
    let text = run(&["cert", "check", &chain]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("subject  CN=thing-1"), "{text}");
    assert!(text.contains("key      EC P-256"), "{text}");
    assert!(text.contains("issued by the next certificate"), "{text}");
    assert!(
        text.contains(&format!(
            "aws iot describe-certificate --certificate-id {id}"
        )),
        "{text}"
    );
    assert!(text.contains("no findings"), "{text}");
}

#[test]
fn certificate_id_is_openssls_sha256_of_the_der() {
    if !have_tool("openssl") {
        return;
    }
    let d = dir("id");
    let (cert, _) = device(
        &ca("Test Device CA"),
        leaf_params("thing-id", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let pem = write(&d, "cert.pem", &cert);
    let der = Command::new("sh")
        .args([
            "-c",
            &format!("openssl x509 -in {pem} -outform der | sha256sum"),
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let openssl_id = String::from_utf8_lossy(&der.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(openssl_id.len(), 64);
    let (files, _) = check_json(&[&pem]);
    assert_eq!(files[0]["certificates"][0]["certificate_id"], openssl_id);
}

#[test]
fn expired_certificate_is_an_error() {
    let d = dir("expired");
    let mut p = leaf_params("old-thing", &[], ExtendedKeyUsagePurpose::ClientAuth);
    p.not_before = date_time_ymd(2015, 1, 1);
    p.not_after = date_time_ymd(2016, 1, 1);
    let (cert, _) = device(&ca("Test Device CA"), p);
    let pem = write(&d, "old.pem", &cert);
    let (files, out) = check_json(&[&pem]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["AUTH.CLIENT_CERT_EXPIRED"]);
    assert_eq!(files[0]["certificates"][0]["valid_now"], false);
    let summary = files[0]["findings"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("expired on 2016-01-01T00:00:00 UTC"),
        "{summary}"
    );
}

#[test]
fn rsa_1024_key_is_not_accepted() {
    if !have_tool("openssl") {
        return;
    }
    let d = dir("rsa1024");
    let cert = d.join("rsa.pem");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=rsa-1024-thing", "-keyout"])
        .arg(d.join("rsa.key"))
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let (files, out) = check_json(&[cert.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["CERT.KEY_NOT_ACCEPTED"]);
    assert_eq!(files[0]["certificates"][0]["key_bits"], 1024);
}

#[test]
fn key_of_another_certificate_is_a_mismatch() {
    let d = dir("wrongkey");
    let root = ca("Test Device CA");
    let (cert, _) = device(
        &root,
        leaf_params("thing-a", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let (_, other_key) = device(
        &root,
        leaf_params("thing-b", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let pem = write(&d, "a.pem", &cert);
    let key = write(&d, "b.key", &other_key);
    let (files, out) = check_json(&[&pem, "--key", &key]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["CERT.KEY_MISMATCH"]);

    // A key file that is no key is bad input.
    let junk = write(&d, "junk.key", "not a key\n");
    assert_eq!(
        run(&["cert", "check", &pem, "--key", &junk]).status.code(),
        Some(2)
    );
}

#[test]
fn chain_in_the_wrong_order_is_named() {
    let d = dir("order");
    let root = ca("Test Device CA");
    let (cert, _) = device(
        &root,
        leaf_params("thing-o", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let pem = write(&d, "reversed.pem", &format!("{}{cert}", root.pem()));
    let (files, out) = check_json(&[&pem]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["CERT.CHAIN_ORDER"]);
    assert_eq!(files[0]["certificates"][0]["issued_by_next"], false);
}

#[test]
fn ca_file_that_did_not_issue_the_certificate() {
    let d = dir("otherca");
    let (cert, _) = device(
        &ca("Test Device CA"),
        leaf_params("thing-c", &[], ExtendedKeyUsagePurpose::ClientAuth),
    );
    let pem = write(&d, "cert.pem", &cert);
    let other = write(&d, "other-ca.pem", &ca("Another CA").pem());
    let (files, out) = check_json(&[&pem, "--ca", &other]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["CERT.CA_FILE"]);
}

#[test]
fn custom_domain_with_five_names() {
    let d = dir("fivenames");
    let names = [
        "a.example.com",
        "b.example.com",
        "c.example.com",
        "d.example.com",
        "e.example.com",
    ];
    let (cert, _) = device(
        &ca("Test Server CA"),
        leaf_params("a.example.com", &names, ExtendedKeyUsagePurpose::ServerAuth),
    );
    let pem = write(&d, "server.pem", &cert);
    let (files, out) = check_json(&[&pem, "--custom-domain"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES"]);
    // Without --custom-domain the same certificate is fine.
    let (files, out) = check_json(&[&pem]);
    assert_eq!(out.status.code(), Some(0));
    assert!(codes(&files[0]).is_empty());
}

#[test]
fn custom_domain_without_server_auth() {
    let d = dir("noserverauth");
    let (cert, _) = device(
        &ca("Test Server CA"),
        leaf_params(
            "iot.example.com",
            &["iot.example.com"],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    );
    let pem = write(&d, "server.pem", &cert);
    let (files, out) = check_json(&[&pem, "--custom-domain"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["SEC.CUSTOM_DOMAIN_CERT"]);
    let summary = files[0]["findings"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("clientAuth, without serverAuth"),
        "{summary}"
    );
}

#[test]
fn unreadable_file_is_bad_input() {
    let out = run(&["cert", "check", "/nonexistent/iotscope-cert.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

//! `iotscope cert check` on certificates made here with rcgen: the fields it prints, the
//! AWS certificate ID against openssl's, and each finding it can give.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iotscope_tests::pki::{ca, Ca};
use iotscope_tests::{have_tool, run};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

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

#[test]
fn not_yet_valid_certificate_is_an_error() {
    let d = dir("notyet");
    let mut p = leaf_params("future-thing", &[], ExtendedKeyUsagePurpose::ClientAuth);
    p.not_before = date_time_ymd(2099, 1, 1);
    p.not_after = date_time_ymd(2100, 1, 1);
    let (cert, _) = device(&ca("Test Device CA"), p);
    let pem = write(&d, "future.pem", &cert);
    let (files, out) = check_json(&[&pem]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["AUTH.CLIENT_CERT_EXPIRED"]);
    assert_eq!(files[0]["certificates"][0]["valid_now"], false);
    let summary = files[0]["findings"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("is not valid before 2099-01-01T00:00:00 UTC"),
        "{summary}"
    );
}

/// An intermediate CA issued by `issuer`, with an optional opaque extension of `padding`
/// bytes to make its DER as large as a test needs.
fn intermediate(issuer: &Ca, name: &str, padding: usize) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    if padding > 0 {
        // A private-arc OID; an OCTET STRING of zeros, not critical, so nobody minds it.
        let mut content = vec![0x04, 0x82];
        content.extend_from_slice(&(padding as u16).to_be_bytes());
        content.resize(4 + padding, 0);
        p.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 55555, 1],
            content,
        )];
    }
    CertifiedIssuer::signed_by(p, KeyPair::generate().unwrap(), issuer).unwrap()
}

/// A server leaf for iot.example.com issued by `issuer`: (PEM, DER length).
fn server_leaf(issuer: &Ca) -> (String, usize) {
    let p = leaf_params(
        "iot.example.com",
        &["iot.example.com"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), cert.der().len())
}

#[test]
fn custom_domain_chain_deeper_than_five() {
    let d = dir("deep");
    let root = ca("Test Root");
    let mut cas = vec![root];
    for i in 1..=4 {
        let next = intermediate(cas.last().unwrap(), &format!("Test Intermediate {i}"), 0);
        cas.push(next);
    }
    let (leaf, _) = server_leaf(cas.last().unwrap());
    // Leaf first, then each issuer up to the root: six certificates, correctly ordered.
    let mut pem = leaf;
    for c in cas.iter().rev() {
        pem.push_str(&c.pem());
    }
    let file = write(&d, "deep.pem", &pem);
    let (files, out) = check_json(&[&file, "--custom-domain"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["SEC.CUSTOM_DOMAIN_CERT"]);
    assert_eq!(files[0]["certificates"].as_array().unwrap().len(), 6);
    let summary = files[0]["findings"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("The chain holds 6 certificates; a custom domain allows at most 5."),
        "{summary}"
    );
    // Five deep is allowed: drop the root.
    let mut five = server_leaf(cas.last().unwrap()).0;
    for c in cas.iter().skip(1).rev() {
        five.push_str(&c.pem());
    }
    let file = write(&d, "five.pem", &five);
    let (files, out) = check_json(&[&file, "--custom-domain"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", files[0]["findings"]);
}

#[test]
fn custom_domain_chain_over_16_kb() {
    let d = dir("big");
    let root = ca("Test Root");
    let big = intermediate(&root, "Test Large Intermediate", 17_000);
    let (leaf, leaf_len) = server_leaf(&big);
    let total = leaf_len + big.der().len() + root.der().len();
    assert!(total > 16 * 1024);
    let pem = format!("{leaf}{}{}", big.pem(), root.pem());
    let file = write(&d, "big.pem", &pem);
    let (files, out) = check_json(&[&file, "--custom-domain"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&files[0]), ["SEC.CUSTOM_DOMAIN_CERT"]);
    let summary = files[0]["findings"][0]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        format!("The chain is {total} bytes of DER; a custom domain allows at most 16384.")
    );
    // The same chain is no problem outside a custom domain.
    let (files, out) = check_json(&[&file]);
    assert_eq!(out.status.code(), Some(0), "{:?}", files[0]["findings"]);
}

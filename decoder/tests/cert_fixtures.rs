//! Certificate summaries and chain checks against fixtures whose facts were recorded by
//! other tools: certificates cut from the reference captures (`captures/reference/`) (checked against Suricata's
//! eve values in `oracle.json` and the lab's PKI inventory) and certificates made with
//! openssl (checked against what `openssl x509` printed when they were made).
//! `tests/data/certs/make.sh` regenerates the fixtures.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use iotscope_decoder::cert::{read_chain, summarize, summarize_pem_or_der, Certificate};
use iotscope_decoder::EventKind;

fn certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/certs")
}

fn captures_dir() -> PathBuf {
    match std::env::var_os("IOTSCOPE_CAPTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/reference"),
    }
}

fn der(name: &str) -> Vec<u8> {
    let path = certs_dir().join(format!("{name}.der"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cert(name: &str) -> Certificate {
    let c = summarize(&der(name));
    assert_eq!(c.parse_error, None, "{name}");
    c
}

/// `key=value` lines written by make.sh from openssl's output.
fn openssl_facts(name: &str) -> BTreeMap<String, String> {
    let path = certs_dir().join(format!("{name}.openssl.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), so
/// the unix seconds are checked without going through the code under test.
fn unix_seconds(date: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| date[r].parse::<i64>().expect(date);
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + hh * 3600 + mm * 60 + ss
}

/// openssl's `2018-04-14 20:55:27Z` → Suricata's `2018-04-14T20:55:27`.
fn openssl_date(s: &str) -> String {
    s.trim_end_matches('Z').replacen(' ', "T", 1)
}

fn all_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(certs_dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".der").map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_agrees_with_openssl() {
    let names = all_fixture_names();
    assert!(names.len() >= 20, "fixtures missing: {names:?}");
    for name in names {
        let bytes = der(&name);
        let c = cert(&name);
        let f = openssl_facts(&name);
        assert_eq!(c.subject, f["subject"], "{name} subject");
        assert_eq!(c.issuer, f["issuer"], "{name} issuer");
        // openssl prints the serial as a number; Suricata (and we) print the DER bytes.
        let serial_digits = c.serial.replace(':', "");
        assert_eq!(
            serial_digits.trim_start_matches('0'),
            f["serial"].trim_start_matches('0'),
            "{name} serial"
        );
        assert_eq!(
            c.not_before,
            openssl_date(&f["notBefore"]),
            "{name} notBefore"
        );
        assert_eq!(c.not_after, openssl_date(&f["notAfter"]), "{name} notAfter");
        assert_eq!(c.not_before_unix, unix_seconds(&c.not_before), "{name}");
        assert_eq!(c.not_after_unix, unix_seconds(&c.not_after), "{name}");
        assert_eq!(c.sha256, f["sha256"], "{name} sha256");
        assert_eq!(c.sha1, f["sha1"].to_lowercase(), "{name} sha1");
        assert_eq!(c.der_len, bytes.len());
        assert_eq!(c.signature_algorithm, f["signature"], "{name} signature");
        if !f["key_bits"].is_empty() {
            assert_eq!(
                c.key_bits.map(|b| b.to_string()).as_deref(),
                Some(f["key_bits"].as_str()),
                "{name} bits"
            );
        }
        assert_eq!(c.version, 3, "{name}");

        let (mut dns, mut ips, mut uris, mut mails) = (vec![], vec![], vec![], vec![]);
        for entry in f["san"].split(", ").filter(|s| !s.is_empty()) {
            if let Some(v) = entry.strip_prefix("DNS:") {
                dns.push(v.to_string());
            } else if let Some(v) = entry.strip_prefix("IP Address:") {
                ips.push(v.parse::<IpAddr>().expect(v));
            } else if let Some(v) = entry.strip_prefix("URI:") {
                uris.push(v.to_string());
            } else if let Some(v) = entry.strip_prefix("email:") {
                mails.push(v.to_string());
            } else {
                panic!("{name}: unexpected SAN {entry}");
            }
        }
        let our_ips: Vec<IpAddr> = c.san_ip.iter().map(|s| s.parse().expect(s)).collect();
        assert_eq!(c.san_dns, dns, "{name} SAN DNS");
        assert_eq!(our_ips, ips, "{name} SAN IP");
        assert_eq!(c.san_uri, uris, "{name} SAN URI");
        assert_eq!(c.san_email, mails, "{name} SAN email");
    }
}

/// The `tls.*` values Suricata's own tests expect for one capture, merged over its checks.
fn suricata_expectations(file: &str) -> BTreeMap<String, String> {
    let path = captures_dir().join("public/oracle.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let oracle: serde_json::Value = serde_json::from_str(&text).expect("oracle.json");
    let entry = oracle
        .as_array()
        .and_then(|a| a.iter().find(|e| e["file"] == file))
        .unwrap_or_else(|| panic!("{file} not in oracle.json"));
    let mut out = BTreeMap::new();
    for test in entry["facts"]["suricata_tests"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for check in test["checks"].as_array().into_iter().flatten() {
            for (k, v) in check["match"].as_object().into_iter().flatten() {
                if let (Some(key), Some(v)) = (k.strip_prefix("tls."), v.as_str()) {
                    out.insert(key.to_string(), v.to_string());
                }
            }
        }
    }
    out
}

fn assert_matches_suricata(c: &Certificate, s: &BTreeMap<String, String>, prefix: &str) {
    let get = |k: &str| s.get(&format!("{prefix}{k}")).map(String::as_str);
    let mut checked = 0;
    for (key, ours) in [
        ("subject", c.subject.as_str()),
        ("issuerdn", c.issuer.as_str()),
        ("serial", c.serial.as_str()),
        ("fingerprint", c.sha1.as_str()),
        ("notbefore", c.not_before.as_str()),
        ("notafter", c.not_after.as_str()),
        (
            "subjectaltname[0]",
            c.san_dns.first().map_or("", String::as_str),
        ),
    ] {
        if let Some(expected) = get(key) {
            assert_eq!(ours, expected, "{prefix}{key}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "too few Suricata facts for {prefix}: {s:?}");
}

#[test]
fn mutual_tls_capture_matches_suricata() {
    let s = suricata_expectations("sv_tls12_mtls_client_auth.pcap");
    let server = cert("cap_mtls_server");
    assert_matches_suricata(&server, &s, "");
    assert_eq!(
        s["serial"], "00:C7:D4:28:8B:80:E0:1E:25",
        "the padded serial is in the oracle"
    );

    let client = cert("cap_mtls_client");
    assert_matches_suricata(&client, &s, "client.");
    // From the same capture's Suricata rule (tls.cert_fingerprint / cert_subject content).
    assert_eq!(
        client.sha1,
        "32:56:41:d0:6a:ff:47:cb:21:e4:89:c5:ae:2a:a2:d8:1b:c9:70:0c"
    );
    assert!(client.subject.contains("O=TLSClientAuthSampleClient"));
    assert!(client.issuer.contains("O=TLSClientAuthSampleCA"));
}

#[test]
fn github_and_selks_captures_match_suricata() {
    let github = cert("cap_github_leaf");
    assert_matches_suricata(
        &github,
        &suricata_expectations("sv_tls12_sni_github.pcap"),
        "",
    );
    assert_eq!(
        github.subject,
        "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com"
    );
    let selks = cert("cap_selks");
    assert_matches_suricata(
        &selks,
        &suricata_expectations("sv_tls12_selfsigned_selks.pcap"),
        "",
    );
    assert!(selks.is_self_signed());
    assert_eq!(selks.signature_algorithm, "sha1WithRSAEncryption");
}

/// `Nov 25 09:04:54 2026 GMT` → `2026-11-25T09:04:54`.
fn inventory_date(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[0])
    .expect(s)
        + 1;
    format!(
        "{}-{:02}-{:02}T{}",
        parts[3],
        month,
        parts[1].parse::<u32>().expect(s),
        parts[2]
    )
}

#[test]
fn lab_certificates_match_the_pki_inventory() {
    let path = captures_dir().join("lab/00_pki_inventory.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut inventory = BTreeMap::new();
    for line in text.lines() {
        // `server      CN = … | issuer: C = US, … | Nov 25 … GMT .. Feb 28 … GMT`
        let (label, rest) = line.split_once(' ').expect(line);
        let fields: Vec<&str> = rest.split(" | ").map(str::trim).collect();
        let (from, to) = fields[2].split_once(" .. ").expect(line);
        let dn = |s: &str| s.replace(" = ", "=");
        let issuer = dn(fields[1].trim_start_matches("issuer: "));
        inventory.insert(
            label.to_string(),
            (
                dn(fields[0]),
                issuer,
                inventory_date(from),
                inventory_date(to),
            ),
        );
    }
    for (fixture, label) in [
        ("cap_lab_server", "server"),
        ("cap_lab_good", "good"),
        ("cap_lab_expired", "expired"),
        ("cap_lab_rogue", "unknownca"),
    ] {
        let c = cert(fixture);
        let (subject, issuer, from, to) = &inventory[label];
        assert_eq!(&c.subject, subject, "{label}");
        assert_eq!(&c.issuer, issuer, "{label}");
        assert_eq!(&c.not_before, from, "{label}");
        assert_eq!(&c.not_after, to, "{label}");
    }

    let server = cert("cap_lab_server");
    assert_eq!(
        server.common_name.as_deref(),
        Some("abc123example-ats.iot.us-east-1.amazonaws.com")
    );
    assert!(server.covers_name("abc123example-ats.iot.us-east-1.amazonaws.com"));
    assert!(!server.covers_name("other-ats.iot.us-east-1.amazonaws.com"));
    // 14_hostname_mismatch_ip: the client dialled the IP, which the certificate does not name.
    assert!(!server.covers_name("127.0.0.1"));

    // 13_client_cert_expired_tls12 was captured on 2026-11-26; the certificate ended 2025-11-26.
    let expired = cert("cap_lab_expired");
    assert!(!expired.valid_at(unix_seconds("2026-11-26T09:05:13")));
    assert!(expired.valid_at(unix_seconds("2025-06-01T00:00:00")));
    assert!(
        expired.valid_at(expired.not_after_unix),
        "the end second is still valid"
    );
    assert!(!expired.valid_at(expired.not_after_unix + 1));
    assert_eq!(
        (expired.key_type.as_str(), expired.curve.as_deref()),
        ("EC", Some("P-256"))
    );
}

#[test]
fn openssl_chain_fields() {
    let root = cert("ossl_root_rsa");
    assert_eq!(
        (root.key_type.as_str(), root.key_bits, root.curve.as_deref()),
        ("RSA", Some(2048), None)
    );
    assert!(root.is_ca && root.is_self_signed());
    assert_eq!(root.path_len, Some(1));
    assert_eq!(root.key_usage, ["keyCertSign", "cRLSign"]);
    assert!(root.extended_key_usage.is_empty());

    let inter = cert("ossl_inter_p384");
    assert_eq!(
        (
            inter.key_type.as_str(),
            inter.key_bits,
            inter.curve.as_deref()
        ),
        ("EC", Some(384), Some("P-384"))
    );
    assert!(inter.is_ca && !inter.is_self_signed());
    assert_eq!(inter.path_len, Some(0));
    assert_eq!(
        inter.key_usage,
        ["digitalSignature", "keyCertSign", "cRLSign"]
    );
    assert_eq!(inter.authority_key_id, root.subject_key_id);
    assert_eq!(inter.serial, "10:01");

    let leaf = cert("ossl_leaf_p256");
    assert_eq!(
        (leaf.key_type.as_str(), leaf.key_bits, leaf.curve.as_deref()),
        ("EC", Some(256), Some("P-256"))
    );
    assert!(!leaf.is_ca);
    assert_eq!(leaf.path_len, None);
    assert_eq!(leaf.key_usage, ["digitalSignature", "keyAgreement"]);
    assert_eq!(leaf.extended_key_usage, ["serverAuth", "clientAuth"]);
    assert_eq!(leaf.common_name.as_deref(), Some("device-001.example.com"));
    assert_eq!(leaf.authority_key_id, inter.subject_key_id);
    assert!(leaf.subject_key_id.as_ref().is_some_and(|k| k.len() == 40));
    // Top bit set: the DER integer carries a zero byte in front, and so does Suricata.
    assert_eq!(leaf.serial, "00:80:A1:B2:C3:D4:E5:F6:07:18");
    assert_eq!(leaf.san_ip, ["192.0.2.7", "2001:db8::1"]);
    assert_eq!(
        leaf.dns_names(),
        ["device-001.example.com", "*.iot.example.com"]
    );

    for host in [
        "device-001.example.com",
        "DEVICE-001.example.com.",
        "abc-ats.iot.example.com",
        "192.0.2.7",
        "2001:db8::1",
        "[2001:db8:0::1]",
    ] {
        assert!(leaf.covers_name(host), "{host}");
    }
    for host in [
        "iot.example.com",
        "a.b.iot.example.com",
        "device-001.example.com.evil",
        "192.0.2.8",
        "example.com",
        "",
    ] {
        assert!(!leaf.covers_name(host), "{host}");
    }

    let ed = cert("ossl_ed25519");
    assert_eq!((ed.key_type.as_str(), ed.key_bits), ("Ed25519", Some(256)));
    assert_eq!(
        ed.extended_key_usage,
        ["clientAuth", "1.3.6.1.4.1.311.20.2.2"]
    );
    // No SAN at all: the common name is the name.
    assert!(ed.covers_name("ed25519.example.com"));
    assert_eq!(ed.dns_names(), ["ed25519.example.com"]);

    let p521 = cert("ossl_p521_leaf");
    assert_eq!(
        (p521.key_type.as_str(), p521.key_bits, p521.curve.as_deref()),
        ("EC", Some(521), Some("P-521"))
    );
    let pss = cert("ossl_rsa_pss");
    assert_eq!(
        (pss.key_type.as_str(), pss.key_bits),
        ("RSA-PSS", Some(2048))
    );
    assert_eq!(cert("ossl_rsa1024_ca").key_bits, Some(1024));
}

fn event(names: &[&str]) -> (Vec<Option<bool>>, Option<String>, bool) {
    let ders: Vec<Vec<u8>> = names.iter().map(|n| der(n)).collect();
    let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    match EventKind::from(read_chain(&refs)) {
        EventKind::Certificate(c) => {
            assert_eq!(c.chain.len(), names.len());
            (c.issued_by_next.clone(), c.root.clone(), c.root_known)
        }
        other => panic!("unexpected event {other:?}"),
    }
}

#[test]
fn chains_from_fixtures() {
    let (links, root, known) = event(&["ossl_leaf_p256", "ossl_inter_p384", "ossl_root_rsa"]);
    assert_eq!(links, [Some(true), Some(true), None]);
    assert_eq!(
        root.as_deref(),
        Some("C=US, O=Iotscope Test, CN=Iotscope Test Root")
    );
    assert!(!known);

    // Out of order, or with the intermediate missing: the broken link shows where.
    assert_eq!(
        event(&["ossl_inter_p384", "ossl_leaf_p256"]).0,
        [Some(false), None]
    );
    assert_eq!(
        event(&["ossl_leaf_p256", "ossl_root_rsa"]).0,
        [Some(false), None]
    );

    // Algorithms x509-parser does not check itself.
    assert_eq!(
        event(&["ossl_p521_leaf", "ossl_p521_ca"]).0,
        [Some(true), None]
    );
    assert_eq!(
        event(&["ossl_rsa1024_leaf", "ossl_rsa1024_ca"]).0,
        [Some(true), None]
    );

    // Real chains from the captures.
    assert_eq!(
        event(&["cap_mtls_server", "cap_mtls_root"]).0,
        [Some(true), None]
    );
    assert_eq!(
        event(&["cap_mtls_client", "cap_mtls_root"]).0,
        [Some(true), None]
    );
    let (links, root, known) = event(&["cap_github_leaf", "cap_github_ca"]);
    assert_eq!(links, [Some(true), None]);
    // Mozilla has since removed this DigiCert root, so webpki-roots no longer knows it.
    assert_eq!(
        root.as_deref(),
        Some("C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert High Assurance EV Root CA")
    );
    assert!(!known);

    // The lab endpoint sends its leaf alone; "Test Amazon Root CA 1" is not Amazon's root.
    let (links, root, known) = event(&["cap_lab_server"]);
    assert_eq!(links, [None]);
    assert_eq!(
        root.as_deref(),
        Some("C=US, O=Test Amazon, CN=Test Amazon Root CA 1")
    );
    assert!(!known);

    // A client certificate from another CA, sent with the right server's root.
    assert_eq!(
        event(&["cap_lab_rogue", "cap_mtls_root"]).0,
        [Some(false), None]
    );

    // CVE-2020-0601 test chain: the root's key has explicit curve parameters, which no
    // verifier here accepts, so the link cannot be checked either way.
    let (links, root, known) = event(&["cap_infigo_leaf", "cap_infigo_root"]);
    assert_eq!(links, [None, None]);
    assert_eq!(
        root.as_deref(),
        Some("C=HR, ST=Zagreb, O=INFIGO IS, CN=INFIGO")
    );
    assert!(!known);
    let infigo = cert("cap_infigo_root");
    assert_eq!(
        (infigo.curve.as_deref(), infigo.key_bits),
        (Some("explicit parameters"), Some(384))
    );
    assert_eq!(cert("cap_infigo_leaf").curve.as_deref(), Some("P-384"));

    let (links, root, known) = event(&[]);
    assert!(links.is_empty());
    assert_eq!((root, known), (None, false));
}

#[test]
fn garbage_in_a_chain_breaks_only_its_links() {
    let good = der("cap_mtls_server");
    let root = der("cap_mtls_root");
    let junk = b"not a certificate".to_vec();
    let chain: Vec<&[u8]> = vec![&good, &junk, &root];
    let EventKind::Certificate(c) = EventKind::from(read_chain(&chain)) else {
        panic!("not a certificate event");
    };
    let (chain, issued_by_next, root, root_known) =
        (&c.chain, &c.issued_by_next, &c.root, c.root_known);
    assert_eq!(*issued_by_next, [None, None, None]);
    assert!(chain[1].parse_error.is_some());
    assert_eq!(chain[1].der_len, 17);
    assert_eq!(chain[1].sha256.len(), 64);
    assert_eq!(
        root.as_deref(),
        Some("C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleCA, CN=SampleRoot")
    );
    assert!(!root_known);
}

#[test]
fn pem_bundles_and_concatenated_der() {
    let pem = std::fs::read(certs_dir().join("ossl_chain.pem")).expect("pem");
    let out = summarize_pem_or_der(&pem);
    let expected = ["ossl_leaf_p256", "ossl_inter_p384", "ossl_root_rsa"];
    assert_eq!(out.len(), expected.len());
    for ((summary, bytes), name) in out.iter().zip(expected) {
        assert_eq!(bytes, &der(name), "{name}");
        assert_eq!(summary, &cert(name));
    }

    let concat = std::fs::read(certs_dir().join("ossl_leaf_inter_concat.bin")).expect("bin");
    let out = summarize_pem_or_der(&concat);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1, der("ossl_leaf_p256"));
    assert_eq!(out[1].1, der("ossl_inter_p384"));

    let single = summarize_pem_or_der(&der("cap_selks"));
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].0, cert("cap_selks"));

    let junk = summarize_pem_or_der(b"hello");
    assert_eq!(junk.len(), 1);
    assert!(junk[0].0.parse_error.is_some());
    assert_eq!(
        junk[0].0.sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

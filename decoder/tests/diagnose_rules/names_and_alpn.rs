//! The Connection section's names: SNI present and right, the endpoint not a legacy one,
//! and the ALPN that port 443 needs.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};

// ------------------------------------------------------------------ CONN.SNI_MISSING

#[test]
fn sni_missing_is_a_warning_on_the_default_endpoint() {
    let mut t = T::new(8883);
    t.tls13(
        client_hello(None, &[], &[TLS13, TLS12], &[AES128_GCM_13]),
        900,
    );
    let found = t.diagnose();
    let f = one(&found, "CONN.SNI_MISSING");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("no server_name (SNI)"), "{}", f.summary);
    assert!((f.evidence[0].t - 0.001).abs() < 1e-9);
    step(f, "mbedtls_ssl_set_hostname");
}

#[test]
fn sni_missing_is_an_error_with_a_custom_domain_and_names_an_empty_name() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(""), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    );
    let f = one(&t.diagnose_with(&custom_domain()), "CONN.SNI_MISSING").clone();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("an empty server_name"), "{}", f.summary);
    assert!(f.summary.contains("custom domain"), "{}", f.summary);

    // An expected endpoint outside amazonaws.com is a custom domain too.
    let f = one(
        &t.diagnose_with(&expecting("mqtt.devices.example.com")),
        "CONN.SNI_MISSING",
    )
    .clone();
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn sni_missing_not_when_the_name_is_there() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900);
    none(&t.diagnose(), "CONN.SNI_MISSING");
    none(&t.diagnose_with(&custom_domain()), "CONN.SNI_MISSING");
}

// ------------------------------------------------------------------ CONN.SNI_MISMATCH

#[test]
fn sni_mismatch_for_an_ip_literal() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(ENDPOINT_IP), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    );
    let found = t.diagnose();
    let f = one(&found, "CONN.SNI_MISMATCH");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(
        f.summary.contains("IP address 203.0.113.10"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "SNI 203.0.113.10"));
    none(&found, "CONN.SNI_MISSING");
}

#[test]
fn sni_mismatch_against_the_expected_endpoint() {
    let other = "zz9plural-ats.iot.eu-west-1.amazonaws.com";
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(other), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    );
    let f = one(&t.diagnose_with(&expecting(ATS)), "CONN.SNI_MISMATCH").clone();
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.summary,
        format!("The device asked for {other}, but the endpoint is {ATS}.")
    );
    step(&f, "describe-endpoint");
}

#[test]
fn sni_mismatch_for_a_credentials_endpoint_and_for_several_names() {
    let creds = "c2d3e4f5.credentials.iot.eu-west-1.amazonaws.com";
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(creds), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    );
    let f = one(&t.diagnose(), "CONN.SNI_MISMATCH").clone();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains(creds), "{}", f.summary);
    assert!(f.summary.contains("credential provider"), "{}", f.summary);

    let mut t = T::new(8883);
    t.dev(1.0, client_hello_names(&[ATS, "backup.example.com"]));
    let f = one(&t.diagnose(), "CONN.SNI_MISMATCH").clone();
    assert_eq!(f.severity, Severity::Warning);
    assert!(f
        .summary
        .contains(&format!("2 servers ({ATS}, backup.example.com)")));
}

#[test]
fn sni_mismatch_is_only_a_possibility_for_an_unknown_name() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(
            Some("mqtt.devices.example.com"),
            &[],
            &[TLS12],
            &[ECDHE_RSA_AES128_GCM],
        ),
    );
    let f = one(&t.diagnose(), "CONN.SNI_MISMATCH").clone();
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.certainty, Certainty::Possible);
    assert!(f.summary.contains("mqtt.devices.example.com"));
    // Declared as the custom domain, the same name is fine.
    none(&t.diagnose_with(&custom_domain()), "CONN.SNI_MISMATCH");
    none(
        &t.diagnose_with(&expecting("MQTT.devices.example.com")),
        "CONN.SNI_MISMATCH",
    );
}

#[test]
fn sni_mismatch_not_for_the_right_name() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900);
    none(&t.diagnose(), "CONN.SNI_MISMATCH");
    none(
        &t.diagnose_with(&expecting(&ATS.to_uppercase())),
        "CONN.SNI_MISMATCH",
    );
}

// ------------------------------------------------------------------ CONN.LEGACY_ENDPOINT

#[test]
fn legacy_endpoint_without_ats() {
    let legacy = "a1b2c3d4e5f6g7.iot.eu-west-1.amazonaws.com";
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(legacy), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    );
    let found = t.diagnose();
    let f = one(&found, "CONN.LEGACY_ENDPOINT");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.starts_with(legacy), "{}", f.summary);
    assert!(evidence_has(f, &format!("SNI {legacy}")));
    step(f, "Amazon Root CA 1");
    // A data endpoint, only an old one: not a name mismatch.
    none(&found, "CONN.SNI_MISMATCH");
}

#[test]
fn legacy_endpoint_named_by_the_user() {
    let legacy = "a1b2c3d4e5f6g7.iot.eu-west-1.amazonaws.com";
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(
            Some("gateway.example.com"),
            &[],
            &[TLS12],
            &[ECDHE_RSA_AES128_GCM],
        ),
    );
    let f = one(&t.diagnose_with(&expecting(legacy)), "CONN.LEGACY_ENDPOINT").clone();
    assert!(f.summary.contains(&format!("expected endpoint {legacy}")));
}

#[test]
fn legacy_endpoint_not_for_ats_or_other_endpoint_kinds() {
    for sni in [
        ATS,
        "c2d3e4f5.credentials.iot.eu-west-1.amazonaws.com",
        "mqtt.devices.example.com",
    ] {
        let mut t = T::new(8883);
        t.dev(
            1.0,
            client_hello(Some(sni), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        );
        none(&t.diagnose(), "CONN.LEGACY_ENDPOINT");
    }
}

// ------------------------------------------------------------------ CONN.ALPN_REQUIRED

#[test]
fn alpn_required_on_443_to_aws() {
    let mut t = T::new(443);
    t.dev(1.0, hello_ats(&[])).end(2.0, rst());
    let found = t.diagnose();
    let f = one(&found, "CONN.ALPN_REQUIRED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("port 443 with no ALPN"), "{}", f.summary);
    step(
        f,
        &format!("openssl s_client -connect {ATS}:443 -servername {ATS} -alpn x-amzn-mqtt-ca"),
    );

    let mut h2 = T::new(443);
    h2.dev(1.0, hello_ats(&["h2", "http/1.1"]));
    let f = one(&h2.diagnose(), "CONN.ALPN_REQUIRED").clone();
    assert!(f.summary.contains("ALPN h2, http/1.1"), "{}", f.summary);
}

#[test]
fn alpn_required_not_on_8883_for_other_names_or_with_the_right_alpn() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]));
    none(&t.diagnose(), "CONN.ALPN_REQUIRED");

    let mut t = T::new(443);
    t.dev(
        1.0,
        client_hello(
            Some("mqtt.devices.example.com"),
            &[],
            &[TLS12],
            &[ECDHE_RSA_AES128_GCM],
        ),
    );
    none(&t.diagnose(), "CONN.ALPN_REQUIRED");

    for alpn in ["x-amzn-mqtt-ca", "x-amzn-http-ca", "mqtt"] {
        let mut t = T::new(443);
        t.dev(1.0, hello_ats(&[alpn]));
        none(&t.diagnose(), "CONN.ALPN_REQUIRED");
    }
}

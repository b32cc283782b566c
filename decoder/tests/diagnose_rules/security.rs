//! The Security and identity section: a custom domain's certificate and its four names.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};

const NAMES5: [&str; 5] = [
    "iot.example.com",
    "mqtt.example.com",
    "devices.example.com",
    "eu.devices.example.com",
    "us.devices.example.com",
];

/// TLS 1.2 to `sni` where the endpoint presents a certificate for `cn` and `sans`.
fn custom(sni: &str, cn: &str, sans: &[&str]) -> T {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(sni), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
    .end(
        30.0,
        chain(
            vec![cert(cn, sans, "2025-06-01", "2026-06-01")],
            Some("Amazon Root CA 1"),
            true,
        ),
    );
    t
}

#[test]
fn custom_domain_certificate_with_five_names() {
    let t = custom("mqtt.example.com", "iot.example.com", &NAMES5);
    let found = t.diagnose_with(&custom_domain());
    let f = one(&found, "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        format!(
            "The endpoint's certificate carries 5 domain names ({}); a custom domain's certificate may carry at most four.",
            NAMES5.join(", ")
        )
    );
    assert!(evidence_has(f, "endpoint certificate CN=iot.example.com"));
    assert!((f.evidence[0].t - 0.030).abs() < 1e-9);
    step(f, "at most four domain names");

    // --endpoint outside amazonaws.com says the same as --custom-domain.
    let found = t.diagnose_with(&expecting("mqtt.example.com"));
    one(&found, "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES");
}

#[test]
fn custom_domain_rule_not_without_a_custom_domain_or_with_four_names() {
    let t = custom("mqtt.example.com", "iot.example.com", &NAMES5);
    none(&t.diagnose(), "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES");
    none(
        &t.diagnose_with(&expecting(ATS)),
        "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES",
    );

    // Four SANs; the common name repeats one of them (in another case) and is not counted twice.
    let mut four = NAMES5[..4].to_vec();
    four[0] = "IOT.example.com";
    let t = custom("mqtt.example.com", "iot.example.com", &four);
    none(
        &t.diagnose_with(&custom_domain()),
        "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES",
    );
}

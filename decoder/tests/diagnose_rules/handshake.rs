//! The Connection section's handshake: TLS versions, cipher suites, and an endpoint that
//! closes without a word.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};

// ------------------------------------------------------------------ CONN.PROTOCOL_VERSION

#[test]
fn protocol_version_for_a_tls_1_1_device() {
    let mut t = T::new(8883);
    t.dev(1.0, client_hello(Some(ATS), &[], &[0x0302], &[0x002f]))
        .end(20.0, alert(70))
        .end(20.5, fin());
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "CONN.PROTOCOL_VERSION");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(
        f.summary.contains("offers TLS 1.1 at most"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "protocol_version alert from the endpoint"));
    step(
        f,
        &format!("openssl s_client -connect {ATS}:8883 -tls1_2 -servername {ATS}"),
    );
    // The version rule speaks for the handshake; the suite rule stays quiet.
    none(&found, "CONN.NO_SHARED_CIPHER");
}

#[test]
fn protocol_version_when_the_endpoint_refuses_tls_1_2() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(20.0, alert(70));
    let f = one(&t.diagnose(), "CONN.PROTOCOL_VERSION").clone();
    assert_eq!(
        f.summary,
        "The endpoint refused the TLS version (protocol_version alert); the device offers up to TLS 1.2."
    );
}

#[test]
fn protocol_version_is_a_warning_when_another_broker_accepted_the_old_version() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some("broker.example.net"), &[], &[0x0302], &[0x002f]),
    )
    .end(20.0, server_hello(0x0302, 0x002f))
    .end(20.0, endpoint_chain());
    let found = t.diagnose();
    let f = one(&found, "CONN.PROTOCOL_VERSION");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.contains("offers TLS 1.1 at most"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "ServerHello, TLS 1.1 accepted"));
    no_error(&found);
}

#[test]
fn protocol_version_not_for_tls_1_2_or_1_3() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        None,
    );
    none(&t.diagnose(), "CONN.PROTOCOL_VERSION");
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900);
    none(&t.diagnose(), "CONN.PROTOCOL_VERSION");
}

// ------------------------------------------------------------------ CONN.NO_SHARED_CIPHER

#[test]
fn no_shared_cipher_when_the_offer_has_no_policy_suite() {
    let mut t = T::new(8883);
    // TLS_RSA_WITH_3DES_EDE_CBC_SHA and TLS_PSK_WITH_AES_128_CBC_SHA.
    t.dev(
        1.0,
        client_hello(Some(ATS), &[], &[TLS12], &[0x000a, 0x008c]),
    )
    .end(21.0, alert(40))
    .end(21.5, fin());
    let found = t.diagnose();
    let f = one(&found, "CONN.NO_SHARED_CIPHER");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.candidates.is_empty() && f.settle.is_none());
    assert!(evidence_has(f, "ClientHello with 2 cipher suites"));
    assert!(evidence_has(
        f,
        "handshake_failure from the endpoint, no ServerHello"
    ));
    step(f, "ECDHE-ECDSA-AES128-GCM-SHA256");
    none(&found, "CONN.HANDSHAKE_ABORTED");
}

#[test]
fn no_shared_cipher_is_likely_when_the_offer_looks_fine() {
    let mut t = T::new(443);
    t.dev(1.0, hello_ats(&["x-amzn-mqtt-ca"]))
        .end(21.0, alert(40));
    let f = one(&t.diagnose(), "CONN.NO_SHARED_CIPHER").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(f.candidates.len(), 3);
    assert_eq!(f.candidates[0], "no cipher suite in common");
    let settle = f.settle.as_deref().expect("settle");
    assert!(
        settle.contains(&format!(
            "openssl s_client -connect {ATS}:443 -servername {ATS}"
        )),
        "{settle}"
    );
}

#[test]
fn no_shared_cipher_as_a_warning_when_another_broker_accepted_the_offer() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some("broker.example.net"), &[], &[TLS12], &[0x000a]),
    )
    .end(20.0, server_hello(TLS12, 0x000a));
    let f = one(&t.diagnose(), "CONN.NO_SHARED_CIPHER").clone();
    assert_eq!(f.severity, Severity::Warning);
    assert!(evidence_has(&f, "offered: TLS_RSA_WITH_3DES_EDE_CBC_SHA"));

    let mut silent = T::new(8883);
    silent.dev(1.0, client_hello(Some(ATS), &[], &[TLS12], &[0x000a]));
    let f = one(&silent.diagnose(), "CONN.NO_SHARED_CIPHER").clone();
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn no_shared_cipher_not_when_a_policy_suite_was_offered_and_chosen() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900);
    none(&t.diagnose(), "CONN.NO_SHARED_CIPHER");
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[0x000a, ECDHE_RSA_AES128_GCM]),
        None,
    );
    none(&t.diagnose(), "CONN.NO_SHARED_CIPHER");
}

// ------------------------------------------------------------------ CONN.HANDSHAKE_ABORTED

#[test]
fn handshake_aborted_when_the_endpoint_closes_without_a_word() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).end(3.5, fin());
    let found = t.diagnose();
    let f = one(&found, "CONN.HANDSHAKE_ABORTED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(
        f.summary.contains("2.5 ms after the ClientHello"),
        "{}",
        f.summary
    );
    assert_eq!(f.candidates.len(), 2);
    assert!(f
        .settle
        .as_deref()
        .is_some_and(|s| s.contains("openssl s_client")));
    none(&found, "CONN.NO_ANSWER");
}

#[test]
fn handshake_aborted_not_after_a_server_hello_an_alert_or_the_devices_close() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(20.0, server_hello(TLS13, AES128_GCM_13))
        .end(21.0, fin());
    none(&t.diagnose(), "CONN.HANDSHAKE_ABORTED");

    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(20.0, alert(40))
        .end(21.0, fin());
    none(&t.diagnose(), "CONN.HANDSHAKE_ABORTED");

    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).dev(2.0, fin()).end(3.0, fin());
    none(&t.diagnose(), "CONN.HANDSHAKE_ABORTED");
}

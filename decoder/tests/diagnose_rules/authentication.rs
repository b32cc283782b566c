//! The Authentication section: who trusts whose certificate, and the TLS 1.3 close that the
//! wire cannot explain on its own.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};
use iotscope_decoder::event::HandshakeKind;

/// TLS 1.2 to the ATS name up to the endpoint's ServerHelloDone at 30 ms, with `server` as
/// the endpoint's chain.
fn endpoint_flight<'a>(t: &'a mut T, sni: &str, server: iotscope_decoder::EventKind) -> &'a mut T {
    t.dev(
        1.0,
        client_hello(Some(sni), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
    .end(30.0, server)
    .end(30.0, cert_request())
    .end(30.0, handshake(HandshakeKind::ServerHelloDone, 0))
}

/// An endpoint certificate for another region, which does not cover [`ATS`].
fn us_east_chain() -> iotscope_decoder::EventKind {
    chain(
        vec![cert(
            "*.iot.us-east-1.amazonaws.com",
            &["*.iot.us-east-1.amazonaws.com"],
            "2025-06-01",
            "2026-06-01",
        )],
        Some("Amazon Root CA 1"),
        true,
    )
}

// ------------------------------------------------------------------ AUTH.SERVER_CERT_UNTRUSTED

#[test]
fn server_cert_untrusted_on_unknown_ca() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, endpoint_chain())
        .dev(32.0, alert(48))
        .dev(32.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.SERVER_CERT_UNTRUSTED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "After the endpoint sent its certificate, the device sent a unknown_ca alert. The endpoint's chain leads to Amazon Root CA 1."
    );
    assert!(evidence_has(
        f,
        "endpoint certificate CN=*.iot.eu-west-1.amazonaws.com issued by CN=Test Issuing CA"
    ));
    step(
        f,
        &format!("openssl s_client -connect {ATS}:8883 -servername {ATS}"),
    );
    step(f, "AmazonRootCA1.pem");
    none(&found, "AUTH.SERVER_NAME_MISMATCH");
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn server_cert_untrusted_names_a_private_root_and_a_wrong_clock() {
    let mut t = T::new(8883);
    endpoint_flight(
        &mut t,
        ATS,
        chain(vec![ats_cert()], Some("Corp Inspection CA"), false),
    )
    .dev(32.0, alert(45));
    let found = t.diagnose();
    let f = one(&found, "AUTH.SERVER_CERT_UNTRUSTED");
    assert!(
        f.summary
            .contains("leads to Corp Inspection CA, which is not a public root"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("check the device's clock"),
        "{}",
        f.summary
    );
    // certificate_expired from the device is about the endpoint's certificate, not its own.
    none(&found, "AUTH.CLIENT_CERT_EXPIRED");
}

#[test]
fn server_cert_untrusted_is_likely_when_the_device_just_hangs_up() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(30.0, server_hello(TLS13, AES128_GCM_13))
        .end(30.0, hs(3200))
        .dev(31.0, fin());
    let f = one(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "After the endpoint sent its certificate, the device closed the connection without an alert."
    );
    assert_eq!(
        f.candidates,
        [
            "the device does not trust the endpoint's CA",
            "the certificate does not name the host the device dialled",
            "the device's TLS stack failed on the endpoint's flight (buffer too small for the chain)",
        ]
    );
    assert!(f
        .settle
        .as_deref()
        .is_some_and(|s| s.contains("--present untrusted")));
    assert!((f.evidence[0].t - 0.031).abs() < 1e-9);
}

/// A ServerHello that accepted the device's pre-shared key (TLS 1.3 resumption).
fn psk_server_hello() -> iotscope_decoder::EventKind {
    let mut k = server_hello(TLS13, AES128_GCM_13);
    if let iotscope_decoder::EventKind::ServerHello(h) = &mut k {
        std::sync::Arc::make_mut(&mut h.choice)
            .extensions
            .push(iotscope_decoder::tls::Extension { id: 41, len: 2 });
    }
    k
}

/// Look-alike: the same hang-up after a resumed TLS 1.3 handshake. The endpoint sent no
/// certificate, so the device cannot have refused one.
#[test]
fn server_cert_untrusted_not_after_a_resumed_tls13_handshake() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(30.0, psk_server_hello())
        .end(30.0, hs(200))
        .dev(31.0, fin());
    none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");
    // The full handshake that looks the same still gives it.
    let mut full = T::new(8883);
    full.dev(1.0, hello_ats(&[]))
        .end(30.0, server_hello(TLS13, AES128_GCM_13))
        .end(30.0, hs(200))
        .dev(31.0, fin());
    one(&full.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");
}

/// Look-alike: a TLS 1.2 abbreviated handshake (a ticket, then ChangeCipherSpec and the
/// endpoint's Finished, no Certificate), after which the device hangs up.
#[test]
fn server_cert_untrusted_not_after_a_resumed_tls12_handshake() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
    .end(30.0, handshake(HandshakeKind::NewSessionTicket, 160))
    .end(30.0, iotscope_decoder::EventKind::ChangeCipherSpec)
    .end(30.0, hs(40))
    .dev(32.0, fin());
    none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");
}

#[test]
fn server_cert_untrusted_is_likely_after_internal_error() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, endpoint_chain()).dev(32.0, alert(80));
    let f = one(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(f.candidates.len(), 2);
    assert!(f.summary.contains("internal_error"), "{}", f.summary);
}

#[test]
fn server_cert_untrusted_not_when_the_device_went_on_or_the_endpoint_closed_first() {
    // The device sent its own flight: it accepted the endpoint's certificate.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1400).dev(60.0, fin());
    none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");

    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-1")),
    )
    .dev(60.0, enc_alert())
    .dev(60.5, fin());
    none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");

    // The endpoint hung up first; the device only followed.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(30.0, server_hello(TLS13, AES128_GCM_13))
        .end(31.0, fin())
        .dev(32.0, fin());
    none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");

    // close_notify and unexpected_message are not about trust.
    for desc in [0, 10] {
        let mut t = T::new(8883);
        endpoint_flight(&mut t, ATS, endpoint_chain()).dev(32.0, alert(desc));
        none(&t.diagnose(), "AUTH.SERVER_CERT_UNTRUSTED");
    }
}

// ------------------------------------------------------------------ AUTH.SERVER_NAME_MISMATCH

#[test]
fn server_name_mismatch_when_the_certificate_names_another_host() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, us_east_chain())
        .dev(32.0, alert(42))
        .dev(32.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.SERVER_NAME_MISMATCH");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        format!("The endpoint's certificate covers *.iot.us-east-1.amazonaws.com but not {ATS}.")
    );
    assert!(evidence_has(f, "the device sent a bad_certificate alert"));
    step(f, "keep host name verification on");
    // A name problem, not a trust problem.
    none(&found, "AUTH.SERVER_CERT_UNTRUSTED");
}

#[test]
fn server_name_mismatch_is_a_warning_for_a_device_that_does_not_check() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, us_east_chain())
        .dev(40.0, chain(vec![device_cert("sensor-lax")], None, false))
        .dev(40.0, handshake(HandshakeKind::ClientKeyExchange, 66))
        .dev(40.0, ccs())
        .dev(40.0, finished12())
        .end(50.0, ccs())
        .end(50.0, finished12())
        .dev(60.0, app(40))
        .end(70.0, app(30))
        // The device ends the session with its (encrypted) close_notify.
        .dev(9000.0, enc_alert())
        .dev(9000.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.SERVER_NAME_MISMATCH");
    assert_eq!(f.severity, Severity::Warning, "{}", f.summary);
    assert!(
        f.summary.contains("does not check the endpoint's name"),
        "{}",
        f.summary
    );
    no_error(&found);
}

#[test]
fn server_name_mismatch_is_likely_for_a_device_that_dialled_an_address() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(ENDPOINT_IP), &[], &[TLS13, TLS12], &[AES128_GCM_13]),
    )
    .end(30.0, server_hello(TLS13, AES128_GCM_13))
    .end(30.0, hs(3200))
    .dev(31.0, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.SERVER_NAME_MISMATCH");
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(
        f.summary.contains("IP address 203.0.113.10"),
        "{}",
        f.summary
    );
    assert_eq!(
        f.candidates[0],
        "the certificate does not name 203.0.113.10"
    );
    assert!(evidence_has(f, "SNI 203.0.113.10"));
    assert!(f.settle.is_some());
    none(&found, "AUTH.SERVER_CERT_UNTRUSTED");
}

#[test]
fn server_name_mismatch_not_when_the_certificate_covers_the_name() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, endpoint_chain()).dev(32.0, alert(48));
    none(&t.diagnose(), "AUTH.SERVER_NAME_MISMATCH");

    // No SNI: the name compared is the one the user expects.
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(None, &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
    .end(30.0, endpoint_chain());
    none(
        &t.diagnose_with(&expecting(ATS)),
        "AUTH.SERVER_NAME_MISMATCH",
    );

    // Dialled by address, but the device went on with the handshake.
    let mut t = T::new(8883);
    t.tls13(
        client_hello(Some(ENDPOINT_IP), &[], &[TLS13], &[AES128_GCM_13]),
        1400,
    )
    .dev(41.0, app(60))
    .end(60.0, app(21));
    none(&t.diagnose(), "AUTH.SERVER_NAME_MISMATCH");
}

// ------------------------------------------------------------------ AUTH.CLIENT_CERT_MISSING

#[test]
fn client_cert_missing_after_a_certificate_request() {
    let mut t = T::new(8883);
    endpoint_flight(&mut t, ATS, endpoint_chain())
        .dev(40.0, chain(Vec::new(), None, false))
        .dev(40.0, handshake(HandshakeKind::ClientKeyExchange, 66))
        .dev(40.0, ccs())
        .dev(40.0, finished12())
        .end(41.0, alert(40))
        .end(41.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.CLIENT_CERT_MISSING");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!((f.evidence[0].t - 0.030).abs() < 1e-9);
    assert!(evidence_has(f, "CertificateRequest from the endpoint"));
    assert!(evidence_has(f, "empty Certificate from the device"));
    assert!(evidence_has(f, "handshake_failure alert from the endpoint"));
    step(f, "aws iot list-certificates");
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
    none(&found, "CONN.NO_SHARED_CIPHER");
}

#[test]
fn client_cert_missing_in_decrypted_tls_1_3() {
    // certificate_required, read with keys; the request itself was not decoded.
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 60)
        .dev_dec(40.0, chain(Vec::new(), None, false))
        .end_dec(41.0, alert(116))
        .end(41.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.CLIENT_CERT_MISSING");
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(evidence_has(
        f,
        "certificate_required alert from the endpoint"
    ));
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn client_cert_missing_is_a_warning_when_the_endpoint_goes_on() {
    // An endpoint that asks for a certificate without insisting: it sends session tickets
    // and answers CONNECT after the device's empty Certificate.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 60)
        .dev_dec(40.0, chain(Vec::new(), None, false))
        .end_dec(41.0, handshake(HandshakeKind::NewSessionTicket, 645))
        .dev_dec(42.0, connect(4, "sensor-1", 60))
        .end_dec(43.0, connack(0));
    let found = t.diagnose();
    let f = one(&found, "AUTH.CLIENT_CERT_MISSING");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.summary.ends_with("This endpoint went on without one; AWS IoT Core, which authenticates devices by their certificates, would not."), "{}", f.summary);
    no_error(&found);
}

#[test]
fn client_cert_missing_not_when_a_certificate_was_sent() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-2")),
    );
    none(&t.diagnose(), "AUTH.CLIENT_CERT_MISSING");
}

// ------------------------------------------------------------------ AUTH.CLIENT_CERT_EXPIRED

#[test]
fn client_cert_expired_by_its_dates_and_the_alert() {
    let mut t = T::new(8883);
    t.tls12_device_finished(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(cert("sensor-expired", &[], "2024-01-01", "2025-12-31")),
    )
    .end(41.0, alert(45))
    .end(41.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.CLIENT_CERT_EXPIRED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The device's certificate CN=sensor-expired expired on 2025-12-31T00:00:00."
    );
    assert!(evidence_has(
        f,
        "device certificate valid 2024-01-01T00:00:00 .. 2025-12-31T00:00:00"
    ));
    assert!(evidence_has(
        f,
        "certificate_expired alert from the endpoint"
    ));
    step(
        f,
        &format!(
            "aws iot describe-certificate --certificate-id {}",
            cert_id("sensor-expired")
        ),
    );
    // One diagnosis for one refusal.
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn client_cert_expired_when_not_yet_valid_or_said_by_alert_alone() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(cert("sensor-future", &[], "2026-03-01", "2036-03-01")),
    );
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_EXPIRED").clone();
    assert_eq!(
        f.summary,
        "The device's certificate CN=sensor-future is not valid before 2026-03-01T00:00:00."
    );

    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1400).end_dec(41.0, alert(45));
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_EXPIRED").clone();
    assert!(f.summary.contains("(certificate_expired)"), "{}", f.summary);
}

#[test]
fn client_cert_expired_not_for_a_valid_certificate() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-3")),
    );
    none(&t.diagnose(), "AUTH.CLIENT_CERT_EXPIRED");
}

// ------------------------------------------------------------------ AUTH.CLIENT_CERT_REJECTED

#[test]
fn client_cert_rejected_by_a_readable_alert() {
    let mut t = T::new(8883);
    t.tls12_device_finished(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-0042")),
    )
    .end(41.0, alert(46))
    .end(41.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTH.CLIENT_CERT_REJECTED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The endpoint refused the device's certificate CN=sensor-0042 (issued by CN=Test Issuing CA) with certificate_unknown."
    );
    assert!(evidence_has(
        f,
        "certificate_unknown alert from the endpoint"
    ));
    step(
        f,
        &format!(
            "aws iot describe-certificate --certificate-id {}",
            cert_id("sensor-0042")
        ),
    );
    step(f, &format!("openssl s_client -connect {ATS}:8883"));
}

#[test]
fn client_cert_rejected_in_tls_1_3_names_every_candidate() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(95.0, app(19))
        .end(95.5, fin());
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "AUTH.CLIENT_CERT_REJECTED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "The TLS 1.3 handshake finished, then the endpoint sent an encrypted alert-sized record and closed the connection 55.5 ms after the device's last handshake flight, before any MQTT answer."
    );
    assert_eq!(
        f.candidates,
        [
            "the certificate is not registered in this account and region, not ACTIVE, or issued by a CA the endpoint does not know",
            "the certificate is expired",
            "the policy does not allow iot:Connect for the client id (AUTHZ.CONNECT_DENIED)",
            "the device sent no certificate",
        ]
    );
    assert!(evidence_has(
        f,
        "device's encrypted handshake flight, 1500 bytes"
    ));
    let app = f
        .evidence
        .iter()
        .find(|e| {
            e.text
                .contains("already sent application data (its CONNECT)")
        })
        .expect("the device's CONNECT");
    assert!((app.t - 0.041).abs() < 1e-9, "{}", app.t);
    assert!(f
        .settle
        .as_deref()
        .is_some_and(|s| s.contains("SSLKEYLOGFILE")));
    // The certificate is hidden by TLS 1.3, so its ID stays a placeholder to fill in.
    step(
        f,
        "aws iot describe-certificate --certificate-id CERTIFICATE_ID",
    );
    step(
        f,
        &format!("openssl s_client -connect {ATS}:8883 -servername {ATS}"),
    );
    // Without keys no MQTT is visible: the CONNECT rules have nothing to read.
    none(&found, "AUTHZ.CONNECT_DENIED");
}

#[test]
fn client_cert_rejected_in_tls_1_3_puts_no_certificate_first_for_a_small_flight() {
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 80).end(62.0, fin());
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED").clone();
    assert_eq!(f.candidates[0], "the device sent no certificate");
    assert_eq!(f.candidates.len(), 4);
    assert!(
        f.summary.contains("closed the connection 22.0 ms after")
            && f.summary
                .contains("only 80 bytes, too small to hold a certificate"),
        "{}",
        f.summary
    );
    assert!(!f.summary.contains("alert-sized"), "{}", f.summary);

    // 200 bytes is enough for a certificate: that reading drops to last.
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 200)
        .end(62.0, fin());
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED").clone();
    assert_eq!(f.candidates[3], "the device sent no certificate");
}

#[test]
fn client_cert_rejected_not_when_the_endpoint_answered() {
    // A 21-byte record is a CONNACK (4 bytes, type byte, 16-byte tag), not a 19-byte alert.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(95.0, app(21))
        .end(9000.0, fin());
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");

    // With keys the CONNACK itself is visible.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "sensor-ok", 60))
        .end_dec(95.0, connack(0))
        .end(9000.0, fin());
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");

    // A readable alert that is not about the certificate.
    let mut t = T::new(8883);
    t.tls12_device_finished(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-4")),
    )
    .end(41.0, alert(10));
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");

    // The endpoint never closed.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500).dev(41.0, app(60));
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn client_cert_rejected_not_when_the_device_hung_up_first() {
    // The device gave up waiting and closed; the endpoint's close only answers it.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .dev(5041.0, fin())
        .end(5042.0, fin());
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");

    // But a device that read the endpoint's alert-sized record and then closed (capture 12 of
    // the lab: certificate_expired in TLS 1.3) was refused.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 640)
        .end(40.5, app(19))
        .dev(40.6, app(41))
        .dev(40.7, fin())
        .end(41.3, rst());
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED").clone();
    assert!(f.summary.contains("alert-sized record"), "{}", f.summary);
    assert!(f.summary.contains("1.3 ms after"), "{}", f.summary);
    assert_eq!(
        f.candidates[0].split(',').next(),
        Some("the certificate is not registered in this account and region")
    );

    // The device closed before its flight was done.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(30.0, server_hello(TLS13, AES128_GCM_13))
        .end(30.0, hs(3200))
        .dev(35.0, fin())
        .dev(40.0, hs(1500))
        .end(41.0, fin());
    none(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn an_expired_certificate_the_endpoint_accepted_is_a_warning() {
    let mut t = T::new(8883);
    t.tls12_device_finished(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(cert("sensor-expired", &[], "2024-01-01", "2025-12-31")),
    )
    .dev_dec(42.0, connect(4, "sensor-expired", 60))
    .end_dec(43.0, connack(0));
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_EXPIRED").clone();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.ends_with(
            "This endpoint accepted it anyway; one that checks the dates will refuse it."
        ),
        "{}",
        f.summary
    );
}

#[test]
fn client_cert_expired_once_when_mitm_presents_the_device_s_own_certificate() {
    use iotscope_decoder::device_leg::{DeviceLeg, Outcome, Presented, Proof, UpstreamCert};
    let expired = cert("sensor-expired", &[], "2024-01-01", "2025-12-31");
    let leg = |upstream: &str| {
        iotscope_decoder::EventKind::DeviceLeg(Box::new(DeviceLeg {
            sni: Some(ATS.into()),
            alpn: Vec::new(),
            offered_suites: Vec::new(),
            version: Some("TLS 1.2".into()),
            cipher: None,
            presented: Presented::Mitm { name: ATS.into() },
            chain: vec![expired.clone()].into(),
            proof: Proof::NotReached,
            upstream_cert: Some(UpstreamCert {
                sha256: upstream.into(),
                subject: "CN=sensor-expired".into(),
                source: "device.pem".into(),
            }),
            outcome: Outcome::Completed,
            not_upstream: None,
            endpoint_refused: None,
        }))
    };
    // iotscope sent the device's own (expired) certificate upstream: the endpoint leg's
    // rule names it, and the device leg adds no second finding.
    let mut same = T::new(8883);
    same.tls12_device_finished(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(expired.clone()),
    )
    .dev(1.0, leg(&expired.sha256))
    .end(41.0, alert(45))
    .end(41.5, fin());
    let found = same.diagnose();
    one(&found, "AUTH.CLIENT_CERT_EXPIRED");

    // Another certificate upstream hides the expiry from the endpoint: the device leg says it.
    let mut other = T::new(8883);
    other
        .tls12_device_finished(
            client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
            Some(device_cert("sensor-3")),
        )
        .dev(1.0, leg(&cert_id("sensor-3")));
    let f = one(&other.diagnose(), "AUTH.CLIENT_CERT_EXPIRED").clone();
    assert!(f.summary.contains("upstream instead"), "{}", f.summary);
}

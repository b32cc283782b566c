//! Precision: a connection that worked carries no error, silence that was not seen is not
//! called silence, and each connection has one root cause, its consequences ranked under it.
//! Each case comes with the look-alike where the stronger finding must still fire.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};
use iotscope_decoder::event::{AppProtocol, EventKind, HandshakeKind};

fn severity(found: &[iotscope_decoder::diagnose::Finding], code: &str) -> Severity {
    one(found, code).severity
}

/// The connection's errors, by code.
fn errors(found: &[iotscope_decoder::diagnose::Finding]) -> Vec<&'static str> {
    found
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code.as_str())
        .collect()
}

// ------------------------------------------------------------ rules against the evidence

#[test]
fn mqtt_on_8443_that_worked_is_a_warning_naming_both() {
    let mut t = T::new(8443);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "sensor-8443", 60))
        .end_dec(45.0, connack(0))
        .dev_dec(50.0, publish("plant/line1", 1, 1, 20))
        .end_dec(55.0, puback(1, 0));
    let found = t.diagnose();
    no_error(&found);
    let f = one(&found, "CONN.WRONG_PROTOCOL");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.contains("CONNACK 0 at +0.045000 s"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("AWS IoT Core speaks only HTTPS there"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "CONNACK 0"));
    // The look-alike: the same device closed without a CONNACK stays an error.
    let mut t = T::new(8443);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "sensor-8443", 60))
        .end(42.0, fin());
    assert_eq!(
        severity(&t.diagnose(), "CONN.WRONG_PROTOCOL"),
        Severity::Error
    );
}

#[test]
fn alpn_legacy_and_sni_rules_are_warnings_on_a_connection_that_worked() {
    // Port 443 without ALPN, accepted by this endpoint.
    let mut t = T::new(443);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "dev-443", 60))
        .end_dec(45.0, connack(0));
    let found = t.diagnose();
    no_error(&found);
    let f = one(&found, "CONN.ALPN_REQUIRED");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.contains("would refuse the handshake"),
        "{}",
        f.summary
    );

    // A legacy endpoint name, accepted.
    let legacy = "a1b2c3d4e5f6g7.iot.eu-west-1.amazonaws.com";
    let mut t = T::new(8883);
    t.tls13(
        client_hello(Some(legacy), &[], &[TLS13], &[AES128_GCM_13]),
        900,
    )
    .dev_dec(41.0, connect(4, "dev-legacy", 60))
    .end_dec(45.0, connack(0));
    let found = t.diagnose();
    no_error(&found);
    let f = one(&found, "CONN.LEGACY_ENDPOINT");
    assert!(f.summary.contains("only iot:Data-ATS"), "{}", f.summary);

    // No SNI on a custom domain, accepted.
    let mut t = T::new(8883);
    t.tls13(client_hello(None, &[], &[TLS13], &[AES128_GCM_13]), 900)
        .dev_dec(41.0, connect(4, "dev-nosni", 60))
        .end_dec(45.0, connack(0));
    let found = t.diagnose_with(&custom_domain());
    no_error(&found);
    let f = one(&found, "CONN.SNI_MISSING");
    assert!(
        f.summary.contains("there this connection would fail"),
        "{}",
        f.summary
    );

    // The look-alikes: the same three without a CONNACK stay errors.
    let mut t = T::new(443);
    t.tls13(hello_ats(&[]), 900).end(50.0, fin());
    assert_eq!(
        severity(&t.diagnose(), "CONN.ALPN_REQUIRED"),
        Severity::Error
    );
    let mut t = T::new(8883);
    t.tls13(client_hello(None, &[], &[TLS13], &[AES128_GCM_13]), 900)
        .end(50.0, fin());
    assert_eq!(
        severity(&t.diagnose_with(&custom_domain()), "CONN.SNI_MISSING"),
        Severity::Error
    );
}

#[test]
fn a_later_refusal_stays_an_error_after_connack_0() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(5, "dev-pub", 60))
        .end_dec(45.0, connack(0))
        .dev_dec(50.0, publish("not/mine", 1, 1, 20))
        .end_dec(55.0, puback(1, 0x87));
    assert_eq!(errors(&t.diagnose()), ["AUTHZ.PUBLISH_DENIED"]);
}

// ------------------------------------------------------------ silence that was not seen

#[test]
fn no_answer_only_for_silence_that_was_seen() {
    // The look-alike that must fire: opened, five seconds seen, nothing from the endpoint.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).dev(5001.0, EventKind::TcpFin);
    let found = t.diagnose();
    let f = one(&found, "CONN.NO_ANSWER");
    assert_eq!(f.severity, Severity::Error);
    none(&found, "CONN.TRUNCATED");

    // Bytes from the endpoint missed by the capture.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(30.0, EventKind::Gap { bytes: 3100 })
        .dev(5001.0, EventKind::TcpFin);
    let found = t.diagnose();
    none(&found, "CONN.NO_ANSWER");
    let f = one(&found, "CONN.TRUNCATED");
    assert!(
        f.summary
            .contains("3100 bytes from the endpoint were missed"),
        "{}",
        f.summary
    );

    // The device's own TLS 1.2 messages prove a ServerHello arrived.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .dev(
            40.0,
            chain(vec![device_cert("dev-1")], Some("Device CA"), false),
        )
        .dev(40.0, handshake(HandshakeKind::ClientKeyExchange, 66))
        .dev(5001.0, EventKind::TcpFin);
    let found = t.diagnose();
    none(&found, "CONN.NO_ANSWER");
    none(&found, "CONN.HANDSHAKE_ABORTED");
    let f = one(&found, "CONN.TRUNCATED");
    assert!(
        f.summary
            .contains("can only follow the endpoint's ServerHello"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "the device sent its Certificate"));

    // One packet of a connection that began before the capture.
    let mut t = T::unopened(8883);
    t.dev(1.0, app(200));
    let found = t.diagnose();
    none(&found, "CONN.NO_ANSWER");
    one(&found, "CONN.TRUNCATED");

    // A capture that stops 0.2 s after the device's first bytes.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).dev(201.0, EventKind::TcpFin);
    let found = t.diagnose();
    none(&found, "CONN.NO_ANSWER");
    assert!(one(&found, "CONN.TRUNCATED").summary.contains("too soon"));
}

/// Plain MQTT whose endpoint answers are not in the capture (as in Arkime's synthetic
/// multi-client trace, whose endpoint only ACKs): a device that subscribes and publishes a
/// second after its CONNECT had its CONNACK; one that sends its CONNECT alone, or pipelines
/// the rest at once, proves nothing.
#[test]
fn no_answer_not_when_the_device_went_on_with_its_mqtt_session() {
    let session = |subscribe_ms: f64, publish_ms: f64| {
        let mut t = T::new(1883);
        t.dev(1100.0, proto(AppProtocol::Mqtt))
            .dev(1100.0, connect(4, "sensor-001", 60))
            .dev(subscribe_ms, subscribe(1, &[("sensors/#", 0)]))
            .dev(publish_ms, publish("sensors/humidity", 2, 1, 3))
            .dev(5000.0, EventKind::TcpFin);
        t.diagnose()
    };
    let found = session(2150.0, 3200.0);
    none(&found, "CONN.NO_ANSWER");
    let f = one(&found, "CONN.TRUNCATED");
    assert!(
        f.summary.contains("the device sent a SUBSCRIBE"),
        "{}",
        f.summary
    );
    assert!(errors(&found).is_empty(), "{:?}", codes(&found));

    // Pipelined at once after the CONNECT: no proof of a CONNACK.
    one(&session(1100.0, 1100.0), "CONN.NO_ANSWER");

    // The CONNECT alone, then seconds of silence.
    let mut t = T::new(1883);
    t.dev(1100.0, proto(AppProtocol::Mqtt))
        .dev(1100.0, connect(4, "sensor-001", 60))
        .dev(5000.0, EventKind::TcpFin);
    one(&t.diagnose(), "CONN.NO_ANSWER");
}

/// A device that sends a second ClientHello no HelloRetryRequest asked for does not follow
/// TLS (Suricata's duplicate-hello trace): its reset after the endpoint's flight is not a
/// verdict on the endpoint's certificate. The same reset after one hello still is.
#[test]
fn server_cert_untrusted_not_after_an_unasked_second_hello() {
    let flight = |hellos: usize| {
        let mut t = T::new(8443);
        for _ in 0..hellos {
            t.dev(0.1, hello_ats(&[]));
        }
        t.end(1.0, server_hello(TLS13, AES128_GCM_13))
            .end(1.0, hs(595))
            .dev(1.1, EventKind::TcpRst);
        t.diagnose()
    };
    let found = flight(2);
    none(&found, "AUTH.SERVER_CERT_UNTRUSTED");
    none(&found, "AUTH.SERVER_NAME_MISMATCH");
    one(&flight(1), "AUTH.SERVER_CERT_UNTRUSTED");
}

#[test]
fn handshake_aborted_not_when_the_endpoint_went_on_encrypted() {
    // A ServerHello the decoder could not read, but an encrypted flight from the endpoint.
    let mut t = T::new(4433);
    t.dev(1.0, hello_ats(&[]))
        .end(3.0, hs(139))
        .dev(4.0, app(53))
        .end(46.0, app(308))
        .end(47.0, fin());
    none(&t.diagnose(), "CONN.HANDSHAKE_ABORTED");
    // The look-alike: nothing at all, then the close.
    let mut t = T::new(4433);
    t.dev(1.0, hello_ats(&[])).end(47.0, fin());
    one(&t.diagnose(), "CONN.HANDSHAKE_ABORTED");
}

// ------------------------------------------------------------ plaintext, the same way everywhere

#[test]
fn plain_mqtt_severity_follows_what_the_endpoint_did() {
    // Answered in kind: a warning.
    let mut t = T::new(1883);
    t.dev(1.0, connect(4, "p1", 60)).end(2.0, connack(0));
    assert_eq!(severity(&t.diagnose(), "CONN.NOT_TLS"), Severity::Warning);
    // Silent on a plaintext port: a warning; the silence is the error.
    let mut t = T::new(1883);
    t.dev(1.0, connect(4, "p2", 60))
        .dev(3001.0, EventKind::TcpFin);
    let found = t.diagnose();
    assert_eq!(severity(&found, "CONN.NOT_TLS"), Severity::Warning);
    assert_eq!(errors(&found), ["CONN.NO_ANSWER"]);
    // Its answer lost in a capture gap: a warning, and no refusal claimed.
    let mut t = T::new(1883);
    t.dev(1.0, connect(3, "p3", 60))
        .end(1.5, EventKind::Gap { bytes: 4 })
        .end(2.0, fin());
    let found = t.diagnose();
    let f = one(&found, "CONN.NOT_TLS");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(
        !f.summary.contains("without sending a byte"),
        "{}",
        f.summary
    );
    no_error(&found);
    // Closed at once without a byte: refused, an error.
    let mut t = T::new(1883);
    t.dev(1.0, connect(4, "p4", 60)).end(2.0, fin());
    assert_eq!(errors(&t.diagnose()), ["CONN.NOT_TLS"]);
    // Silent on a TLS port: the plaintext is the cause, the silence follows from it.
    let mut t = T::new(8883);
    t.dev(1.0, connect(4, "p5", 60))
        .dev(3001.0, EventKind::TcpFin);
    let found = t.diagnose();
    assert_eq!(errors(&found), ["CONN.NOT_TLS"]);
    let f = one(&found, "CONN.NO_ANSWER");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.summary.contains("follows from CONN.NOT_TLS"),
        "{}",
        f.summary
    );
}

// ------------------------------------------------------------ root cause above consequence

#[test]
fn malformed_connect_then_close_is_the_root_cause() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(
            41.0,
            with_problem(connect(4, "flags-bad", 60), "reserved connect flag set"),
        )
        .end(43.0, fin());
    let found = t.diagnose();
    assert_eq!(errors(&found), ["MQTT.MALFORMED"]);
    let m = one(&found, "MQTT.MALFORMED");
    assert!(
        m.summary.contains("closed the connection 2.0 ms later"),
        "{}",
        m.summary
    );
    let denied = one(&found, "AUTHZ.CONNECT_DENIED");
    assert_eq!(denied.severity, Severity::Info);
    assert!(denied.summary.contains("follows from MQTT.MALFORMED"));
    // Its pair: a valid CONNECT then the close is a refusal, and nothing is malformed.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "flags-good", 60))
        .end(43.0, fin());
    let found = t.diagnose();
    assert_eq!(errors(&found), ["AUTHZ.CONNECT_DENIED"]);
    none(&found, "MQTT.MALFORMED");
    // And the same malformed CONNECT that the endpoint accepted: a warning, no error.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(
            41.0,
            with_problem(connect(4, "flags-bad", 60), "reserved connect flag set"),
        )
        .end_dec(43.0, connack(0));
    let found = t.diagnose();
    no_error(&found);
    assert_eq!(severity(&found, "MQTT.MALFORMED"), Severity::Warning);
}

#[test]
fn a_client_id_aws_refuses_then_close_is_the_root_cause() {
    let long = "d".repeat(200);
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, &long, 60))
        .end(43.0, fin());
    let found = t.diagnose();
    assert_eq!(errors(&found), ["MQTT.AWS_LIMIT"]);
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert!(
        f.summary
            .contains("client id of 200 bytes (limit 128) is one AWS IoT Core refuses"),
        "{}",
        f.summary
    );
    assert_eq!(severity(&found, "AUTHZ.CONNECT_DENIED"), Severity::Info);
    // Accepted by this endpoint: only the warning.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, &long, 60))
        .end_dec(43.0, connack(0));
    let found = t.diagnose();
    no_error(&found);
    assert_eq!(severity(&found, "MQTT.AWS_LIMIT"), Severity::Warning);
    // A keep-alive AWS only adjusts, then the close: the refusal stays the root cause.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "short-ka", 5))
        .end(43.0, fin());
    assert_eq!(errors(&t.diagnose()), ["AUTHZ.CONNECT_DENIED"]);
}

#[test]
fn an_ip_literal_sni_explains_the_name_mismatch() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        client_hello(Some(ENDPOINT_IP), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
    )
    .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
    .end(30.0, endpoint_chain())
    .dev(35.0, alert(80))
    .dev(36.0, EventKind::TcpFin);
    let found = t.diagnose();
    assert_eq!(errors(&found), ["CONN.SNI_MISMATCH"], "{:?}", codes(&found));
}

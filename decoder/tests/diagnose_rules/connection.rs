//! The Connection section around the handshake: TCP, plaintext, the protocol inside TLS,
//! silence, truncation and records left encrypted.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};
use iotscope_decoder::event::{AppProtocol, EventKind};

// ------------------------------------------------------------------ CONN.TCP_REFUSED

#[test]
fn tcp_refused_on_a_reset_before_any_byte() {
    let mut t = T::new(8883);
    t.end(0.4, rst());
    let found = t.diagnose();
    let f = one(&found, "CONN.TCP_REFUSED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("reset"), "{}", f.summary);
    assert!((f.evidence[0].t - 0.0004).abs() < 1e-9);
    step(f, "aws iot describe-endpoint --endpoint-type iot:Data-ATS");
    // Nothing else can be said about a connection that never carried a byte.
    assert_eq!(codes(&found), ["CONN.TCP_REFUSED"]);
}

#[test]
fn tcp_refused_not_for_a_fin_a_late_reset_or_an_unseen_open() {
    let mut closed = T::new(8883);
    closed.end(0.4, fin());
    none(&closed.diagnose(), "CONN.TCP_REFUSED");

    let mut late = T::new(443);
    late.dev(1.0, hello_ats(&["x-amzn-mqtt-ca"]))
        .end(2.0, rst());
    let found = late.diagnose();
    none(&found, "CONN.TCP_REFUSED");
    one(&found, "CONN.HANDSHAKE_ABORTED");

    // Without the SYN the reset may belong to anything.
    let mut midstream = T::unopened(8883);
    midstream.end(0.4, rst());
    none(&midstream.diagnose(), "CONN.TCP_REFUSED");
}

// ------------------------------------------------------------------ CONN.NOT_TLS

#[test]
fn not_tls_for_plain_mqtt_to_a_tls_port() {
    let mut t = T::new(8883);
    t.dev(1.0, connect(4, "thermostat-12", 60)).end(3.5, rst());
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "CONN.NOT_TLS");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("plain MQTT"), "{}", f.summary);
    assert!(
        f.summary
            .contains("closed the connection 2.5 ms later without sending a byte"),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "device's first bytes are MQTT"));
    assert!(evidence_has(f, "endpoint closed the connection"));
    step(
        f,
        &format!("openssl s_client -connect {ATS}:8883 -servername {ATS}"),
    );
    // The endpoint never read the CONNECT, so it refused nothing.
    none(&found, "AUTHZ.CONNECT_DENIED");
    none(&found, "CONN.NO_ANSWER");
}

#[test]
fn not_tls_is_a_warning_when_the_endpoint_answers_plaintext() {
    let mut t = T::new(1883);
    t.dev(1.0, connect(4, "bench-rig", 60))
        .end(2.0, connack(0))
        .dev(5.0, publish("bench/rig/temp", 0, 0, 12));
    let found = t.diagnose();
    let f = one(&found, "CONN.NOT_TLS");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.contains("AWS IoT Core accepts only TLS"),
        "{}",
        f.summary
    );
    no_error(&found);
}

#[test]
fn not_tls_is_likely_when_the_endpoint_sent_something_else_and_stayed_open() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        EventKind::Http {
            line: "GET / HTTP/1.1".into(),
        },
    )
    .end(2.0, proto(AppProtocol::Unknown));
    let f = one(&t.diagnose(), "CONN.NOT_TLS").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(f.summary.contains("plain HTTP"), "{}", f.summary);
}

#[test]
fn not_tls_not_for_a_client_hello() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).end(2.0, rst());
    none(&t.diagnose(), "CONN.NOT_TLS");
}

// ------------------------------------------------------------------ CONN.WRONG_PROTOCOL

#[test]
fn wrong_protocol_mqtt_to_the_https_port() {
    let mut t = T::new(8443);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "sensor-8443", 60))
        .end(42.0, fin());
    let found = t.diagnose();
    let f = one(&found, "CONN.WRONG_PROTOCOL");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("port 8443"), "{}", f.summary);
    assert!(evidence_has(f, "decrypted application data is MQTT"));
    step(f, &format!("connect to {ATS}:8883"));
}

#[test]
fn wrong_protocol_mqtt_after_asking_for_https_and_http_to_an_mqtt_port() {
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-http-ca"]), 900)
        .dev_dec(41.0, connect(4, "sensor-443", 60));
    let f = one(&t.diagnose(), "CONN.WRONG_PROTOCOL").clone();
    assert!(f.summary.contains("x-amzn-http-ca"), "{}", f.summary);

    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900).dev_dec(
        41.0,
        EventKind::Http {
            line: "POST /topics/plant/line1?qos=1 HTTP/1.1".into(),
        },
    );
    let f = one(&t.diagnose(), "CONN.WRONG_PROTOCOL").clone();
    assert!(f.summary.contains("HTTP to an MQTT port"), "{}", f.summary);
    step(&f, &format!("https://{ATS}:8443/topics/"));
}

#[test]
fn wrong_protocol_not_for_mqtt_on_mqtt_ports_or_another_brokers_8443() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .dev_dec(41.0, connect(4, "sensor", 60))
        .end_dec(60.0, connack(0));
    none(&t.diagnose(), "CONN.WRONG_PROTOCOL");

    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 900)
        .dev_dec(41.0, connect(4, "sensor", 60));
    none(&t.diagnose(), "CONN.WRONG_PROTOCOL");

    let mut t = T::new(8443);
    t.tls13(
        client_hello(Some("broker.example.net"), &[], &[TLS13], &[AES128_GCM_13]),
        900,
    )
    .dev_dec(41.0, connect(4, "sensor", 60));
    none(&t.diagnose(), "CONN.WRONG_PROTOCOL");
}

// ------------------------------------------------------------------ CONN.NO_ANSWER

#[test]
fn no_answer_when_the_endpoint_stays_silent() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).dev(5001.0, fin());
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "CONN.NO_ANSWER");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Likely);
    assert!(
        f.summary.contains("in the 5.0 s that were seen"),
        "{}",
        f.summary
    );
    assert_eq!(f.candidates[0], "a firewall drops the traffic");
    step(f, &format!("outbound TCP to {ATS} port 8883 is allowed"));
}

#[test]
fn no_answer_not_when_the_endpoint_spoke_or_closed() {
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(20.0, server_hello(TLS13, AES128_GCM_13));
    none(&t.diagnose(), "CONN.NO_ANSWER");
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[])).end(20.0, rst());
    none(&t.diagnose(), "CONN.NO_ANSWER");
    // Nothing sent, nothing to answer.
    let mut t = T::new(8883);
    t.dev(1.0, fin());
    none(&t.diagnose(), "CONN.NO_ANSWER");
}

// ------------------------------------------------------------------ CONN.TRUNCATED

#[test]
fn truncated_by_a_gap_or_a_late_start() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900)
        .end(50.0, EventKind::Gap { bytes: 1200 });
    let f = one(&t.diagnose(), "CONN.TRUNCATED").clone();
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "Part of the connection was not seen: 1200 bytes were missed."
    );
    assert!(evidence_has(&f, "1200 bytes from the endpoint missed"));
    assert!((f.evidence[0].t - 0.05).abs() < 1e-9);
    step(&f, "tcpdump -s 0");

    let mut t = T::unopened(8883);
    t.dev(1.0, app(120)).end(2.0, app(40));
    let f = one(&t.diagnose(), "CONN.TRUNCATED").clone();
    assert!(f
        .summary
        .contains("the capture starts after the connection was opened"));
    assert!(evidence_has(&f, "without the TCP handshake"));
}

#[test]
fn truncated_not_for_a_whole_connection() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900);
    none(&t.diagnose(), "CONN.TRUNCATED");
}

// ------------------------------------------------------------------ TLS.NOT_DECRYPTED

#[test]
fn not_decrypted_names_the_reason() {
    let reason = "no key-log entry for client random 5f3a…";
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900).dev(
        40.0,
        EventKind::Undecrypted {
            reason: reason.into(),
        },
    );
    let f = one(&t.diagnose(), "TLS.NOT_DECRYPTED").clone();
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        f.summary,
        format!("The device's records stayed encrypted: {reason}.")
    );
    assert!(evidence_has(&f, reason));
    step(&f, "SSLKEYLOGFILE");
}

#[test]
fn not_decrypted_not_without_keys_given() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 900).dev(41.0, app(80));
    none(&t.diagnose(), "TLS.NOT_DECRYPTED");
}

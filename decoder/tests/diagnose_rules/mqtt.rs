//! The MQTT session rules: refusals other than authorization, malformed packets, AWS IoT's
//! limits, and client ids taken over (within one connection and across connections).

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, ClientIds, Severity};
use iotscope_decoder::EventKind;

/// TLS 1.3 with keys to the ATS name on 8883.
fn keyed() -> T {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500);
    t
}

// ------------------------------------------------------------------ MQTT.CONNECT_REFUSED

#[test]
fn connect_refused_for_an_unknown_protocol_level() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(6, "legacy-fw", 60))
        .end_dec(60.0, connack(1))
        .end(61.0, fin());
    let found = t.diagnose();
    let f = one(&found, "MQTT.CONNECT_REFUSED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(
        f.summary
            .starts_with("The endpoint refused CONNECT: CONNACK 1 ("),
        "{}",
        f.summary
    );
    assert!(
        f.summary
            .ends_with("The device asked for MQTT protocol level 6; AWS IoT Core speaks 3.1.1 (level 4) and 5."),
        "{}",
        f.summary
    );
    assert!(evidence_has(
        f,
        "CONNECT protocol MQTT level 6 client_id=\"legacy-fw\""
    ));
    step(f, "the client id (legacy-fw)");
    none(&found, "AUTHZ.CONNECT_DENIED");
}

#[test]
fn connect_refused_by_an_mqtt5_reason() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "bad id", 60))
        .end_dec(60.0, connack_at(5, 0x85));
    let f = one(&t.diagnose(), "MQTT.CONNECT_REFUSED").clone();
    assert_eq!(
        f.summary,
        "The endpoint refused CONNECT: CONNACK 0x85 (Client Identifier not valid)."
    );
    assert!(evidence_has(&f, "CONNACK 0x85"));
}

#[test]
fn connect_refused_not_for_success_or_not_authorized() {
    for (level, code) in [(4, 0), (5, 0), (4, 5), (5, 0x87)] {
        let mut t = keyed();
        t.dev_dec(41.0, connect(level, "sensor", 60))
            .end_dec(60.0, connack_at(level, code));
        none(&t.diagnose(), "MQTT.CONNECT_REFUSED");
    }
}

// ------------------------------------------------------------------ MQTT.MALFORMED

#[test]
fn malformed_packet_that_stopped_the_decoder() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "sensor-bad", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(
            70.0,
            mqtt_malformed(17, "remaining length longer than four bytes"),
        );
    let f = one(&t.diagnose(), "MQTT.MALFORMED").clone();
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The device sent a malformed MQTT packet at byte 17: remaining length longer than four bytes."
    );
    assert!((f.evidence[0].t - 0.070).abs() < 1e-9);
    step(&f, "mosquitto_pub -d");
}

#[test]
fn malformed_is_a_warning_for_a_packet_read_despite_its_flaws() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "sensor-flags", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(
            70.0,
            with_problem(
                publish("devices/sensor-flags/t", 0, 0, 4),
                "DUP set on a QoS 0 PUBLISH",
            ),
        );
    let found = t.diagnose();
    let f = one(&found, "MQTT.MALFORMED");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.summary,
        "The device's PUBLISH at byte 0 breaks the MQTT specification: DUP set on a QoS 0 PUBLISH."
    );
    no_error(&found);
}

#[test]
fn malformed_not_for_clean_packets() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "sensor", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("devices/sensor/t", 1, 1, 4))
        .end_dec(80.0, puback(1, 0));
    none(&t.diagnose(), "MQTT.MALFORMED");
}

// ------------------------------------------------------------------ MQTT.AWS_LIMIT

#[test]
fn aws_limit_for_a_short_keep_alive() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "sensor-chatty", 10))
        .end_dec(60.0, connack(0));
    let found = t.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The device sends what AWS IoT Core would adjust or refuse: keep-alive 10 s (AWS IoT raises it to 30 s)."
    );
    assert!((f.evidence[0].t - 0.041).abs() < 1e-9);
    step(f, "AWS IoT Core endpoints and quotas");
    no_error(&found);
}

#[test]
fn aws_limit_for_a_session_expiry_over_7_days_and_one_the_connack_cuts() {
    // Over AWS IoT Core's 7-day ceiling, whatever the CONNACK says.
    let mut t = keyed();
    t.dev_dec(41.0, connect5_with_session_expiry("sensor-keep", 999_999))
        .end_dec(60.0, connack_at(5, 0));
    let found = t.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary
            .contains("session expiry 999999 s (AWS IoT keeps a session at most 7 days"),
        "{}",
        f.summary
    );
    no_error(&found);

    // Within 7 days but over the account's limit: the endpoint grants less in its CONNACK,
    // and that is what the device's session gets.
    let mut cut = keyed();
    cut.dev_dec(41.0, connect5_with_session_expiry("sensor-keep", 86_400))
        .end_dec(60.0, connack5_granting_session_expiry(3_600));
    let found = cut.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert!(
        f.summary
            .contains("session expiry 86400 s asked, 3600 s granted by the endpoint's CONNACK"),
        "{}",
        f.summary
    );
    assert!((f.evidence[0].t - 0.060).abs() < 1e-9, "{:?}", f.evidence);
    no_error(&found);

    // Granted as asked, within 7 days: nothing to say.
    let mut kept = keyed();
    kept.dev_dec(41.0, connect5_with_session_expiry("sensor-keep", 3_600))
        .end_dec(60.0, connack5_granting_session_expiry(3_600));
    none(&kept.diagnose(), "MQTT.AWS_LIMIT");
}

#[test]
fn aws_limit_gathers_every_problem_and_counts_the_rest() {
    let deep = "a/b/c/d/e/f/g/h/i";
    let long_id = "x".repeat(129);
    let filters: Vec<(String, u8)> = (0..9).map(|i| (format!("fleet/{i}"), 0)).collect();
    let filters: Vec<(&str, u8)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, &long_id, 0))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish(deep, 1, 2, 200_000))
        .dev_dec(80.0, subscribe(2, &filters))
        .dev_dec(90.0, connect_with_will(4, "again", "will/topic", 2));
    let f = one(&t.diagnose(), "MQTT.AWS_LIMIT").clone();
    for part in [
        "keep-alive 0 (AWS IoT uses 1200 s instead)",
        "client id of 129 bytes (limit 128)",
        &format!("PUBLISH QoS 2 on {deep}"),
        "payload of 200000 bytes (limit 128 KB)",
        &format!("topic with 8 slashes (limit 7): {deep}"),
    ] {
        assert!(f.summary.contains(part), "{part:?} missing: {}", f.summary);
    }
    // 9 filters and the will's QoS 2 are past the five shown.
    assert!(f.summary.ends_with(" (and 2 more)."), "{}", f.summary);
    assert_eq!(f.evidence.len(), 5);
}

#[test]
fn aws_limit_for_a_long_keep_alive_and_a_qos2_subscription() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "sensor-slow", 1201))
        .dev_dec(42.0, subscribe(1, &[("cmd/sensor-slow", 2)]));
    let f = one(&t.diagnose(), "MQTT.AWS_LIMIT").clone();
    assert!(f
        .summary
        .contains("keep-alive 1201 s (AWS IoT uses 1200 s instead)"));
    assert!(f.summary.contains("subscription QoS 2 on cmd/sensor-slow"));
}

#[test]
fn aws_limit_not_at_the_limits_themselves() {
    let seven = "a/b/c/d/e/f/g/h";
    let long_topic = format!("t/{}", "x".repeat(254));
    assert_eq!(long_topic.len(), 256);
    let filters: Vec<(String, u8)> = (0..8).map(|i| (format!("fleet/{i}"), 1)).collect();
    let filters: Vec<(&str, u8)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
    for keep_alive in [30, 1200] {
        let mut t = keyed();
        t.dev_dec(41.0, connect(4, &"c".repeat(128), keep_alive))
            .end_dec(60.0, connack(0))
            .dev_dec(70.0, publish(seven, 1, 1, 128 * 1024))
            .dev_dec(71.0, publish(&long_topic, 2, 1, 10))
            // Basic Ingest: the rule prefix does not count towards depth.
            .dev_dec(
                72.0,
                publish("$aws/rules/plant_rule/a/b/c/d/e/f/g/h", 3, 0, 10),
            )
            .dev_dec(73.0, subscribe(4, &filters))
            // What the endpoint sends is not the device's doing.
            .end_dec(74.0, publish("x/1/2/3/4/5/6/7/8/9", 9, 2, 10));
        none(&t.diagnose(), "MQTT.AWS_LIMIT");
    }
}

// ------------------------------------------------------------------ MQTT.SESSION_TAKEN_OVER

#[test]
fn session_taken_over_by_disconnect_0x8e() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "sensor-dup", 60))
        .end_dec(60.0, connack_at(5, 0))
        .end_dec(30_000.0, disconnect(0x8e))
        .end(30_001.0, fin());
    let found = t.diagnose();
    let f = one(&found, "MQTT.SESSION_TAKEN_OVER");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(f.summary.contains("client \"sensor-dup\""), "{}", f.summary);
    assert!(evidence_has(f, "DISCONNECT 0x8E Session taken over"));
    assert!((f.evidence[0].t - 30.0).abs() < 1e-9);
    step(f, "unique client id");
}

#[test]
fn session_taken_over_not_for_other_disconnects() {
    for code in [0x00, 0x8d, 0x98] {
        let mut t = keyed();
        t.dev_dec(41.0, connect(5, "sensor", 60))
            .end_dec(60.0, connack_at(5, 0))
            .end_dec(90_060.0, disconnect(code));
        none(&t.diagnose(), "MQTT.SESSION_TAKEN_OVER");
    }
}

/// A connection numbered `n` that sends CONNECT for `client_id` at `from` ms and ends at `to`.
fn session(n: u64, client_id: &str, from: f64, to: f64) -> T {
    let mut t = T::unopened(8883);
    t.number(n)
        .dev(from, EventKind::TcpOpen)
        .dev_dec(from + 40.0, connect(4, client_id, 60))
        .end_dec(from + 60.0, connack(0))
        .end(to, fin());
    t
}

#[test]
fn client_ids_overlapping_connections_are_a_takeover() {
    let mut ids = ClientIds::new();
    assert!(observe(&mut ids, &session(3, "shared-id", 0.0, 5000.0)).is_none());
    let f = observe(&mut ids, &session(4, "shared-id", 2000.0, 6000.0)).expect("takeover");
    assert_eq!(f.code, "MQTT.SESSION_TAKEN_OVER");
    // #4 is the newer: it won the client id and worked, so the clash is a warning for it.
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.starts_with(
            "Connections #3 and #4 both used client id \"shared-id\" at the same time"
        ),
        "{}",
        f.summary
    );
    assert!(evidence_has(&f, "CONNECT client_id=\"shared-id\""));

    // The older connection may finish last; it is still named first.
    let mut ids = ClientIds::new();
    assert!(observe(&mut ids, &session(6, "twin", 2000.0, 3000.0)).is_none());
    let f = observe(&mut ids, &session(5, "twin", 0.0, 10_000.0)).expect("takeover");
    assert!(
        f.summary.starts_with("Connections #5 and #6"),
        "{}",
        f.summary
    );
    // #5 is the older, the one knocked off: an error for it.
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn client_ids_in_turn_or_empty_are_not_a_takeover() {
    let mut ids = ClientIds::new();
    assert!(observe(&mut ids, &session(1, "turns", 0.0, 1000.0)).is_none());
    assert!(observe(&mut ids, &session(2, "turns", 2000.0, 3000.0)).is_none());
    // Different ids at the same time.
    assert!(observe(&mut ids, &session(3, "left", 4000.0, 9000.0)).is_none());
    assert!(observe(&mut ids, &session(4, "right", 5000.0, 9000.0)).is_none());
    // An empty id asks the broker to assign one: every such connection is its own.
    assert!(observe(&mut ids, &session(5, "", 10_000.0, 20_000.0)).is_none());
    assert!(observe(&mut ids, &session(6, "", 11_000.0, 20_000.0)).is_none());
}

// ------------------------------------------------------------------ MQTT.SERVER_DISCONNECT

#[test]
fn server_disconnect_names_the_endpoints_reason() {
    // The endpoint ends a silent device's session after 1.5 x 60 s and says why.
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "sensor-quiet", 60))
        .end_dec(60.0, connack_at(5, 0))
        .end_dec(90_060.0, disconnect(0x8d))
        .end(90_061.0, fin());
    let found = t.diagnose();
    let f = one(&found, "MQTT.SERVER_DISCONNECT");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.summary,
        "The endpoint ended the session of client \"sensor-quiet\" with DISCONNECT 0x8D (Keep Alive timeout)."
    );
    assert!(evidence_has(f, "DISCONNECT 0x8D Keep Alive timeout"));
    step(f, "PINGREQ");
    none(&found, "CONN.ENDPOINT_CLOSED");

    // The endpoint shutting down: worth knowing, not the device's fault.
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "sensor", 60))
        .end_dec(60.0, connack_at(5, 0))
        .end_dec(5_000.0, disconnect(0x8b));
    let found = t.diagnose();
    assert_eq!(
        one(&found, "MQTT.SERVER_DISCONNECT").severity,
        Severity::Warning
    );
}

#[test]
fn server_disconnect_not_for_a_normal_or_taken_over_or_explained_disconnect() {
    for code in [0x00, 0x04, 0x8e] {
        let mut t = keyed();
        t.dev_dec(41.0, connect(5, "sensor", 60))
            .end_dec(60.0, connack_at(5, 0))
            .end_dec(5_000.0, disconnect(code));
        none(&t.diagnose(), "MQTT.SERVER_DISCONNECT");
    }
    // A device's own DISCONNECT with a reason code is not the endpoint's.
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "sensor", 60))
        .end_dec(60.0, connack_at(5, 0))
        .dev_dec(5_000.0, disconnect(0x83));
    none(&t.diagnose(), "MQTT.SERVER_DISCONNECT");

    // A QoS 2 PUBLISH the endpoint answers with DISCONNECT 0x9B: the limit rule names the
    // cause, and the DISCONNECT adds no second error.
    let mut t = keyed();
    t.dev_dec(41.0, connect(5, "sensor", 60))
        .end_dec(60.0, connack_at(5, 0))
        .dev_dec(70.0, publish("devices/sensor/x", 1, 2, 5))
        .end_dec(71.0, disconnect(0x9b));
    let found = t.diagnose();
    one(&found, "MQTT.AWS_LIMIT");
    none(&found, "MQTT.SERVER_DISCONNECT");
}

#[test]
fn aws_limit_is_the_cause_when_the_endpoint_closes_after_an_oversized_publish() {
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "dev-6", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("demo/big", 1, 1, 140_000))
        .end(70.7, fin());
    let found = t.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert_eq!(f.severity, Severity::Error);
    assert!(evidence_has(f, "endpoint closed the connection"));
    // The policy candidate stays, below the root cause.
    assert_eq!(one(&found, "AUTHZ.PUBLISH_DENIED").severity, Severity::Info);

    // The same PUBLISH acknowledged: only the warning.
    let mut t = keyed();
    t.dev_dec(41.0, connect(4, "dev-6", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("demo/big", 1, 1, 140_000))
        .end_dec(71.0, puback(1, 0));
    assert_eq!(
        one(&t.diagnose(), "MQTT.AWS_LIMIT").severity,
        Severity::Warning
    );
}

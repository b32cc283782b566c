//! The Authorization section: the endpoint's MQTT answers that refuse, and its closes that
//! stand in for a refusal.

use super::builder::*;
use iotscope_decoder::diagnose::{Certainty, Severity};

/// TLS 1.2 with keys: the device's certificate `subject` is visible, so its ID fills the steps.
fn tls12_with(subject: &str) -> T {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert(subject)),
    );
    t
}

/// TLS 1.3 with keys on `port`: only the MQTT packets are decrypted.
fn tls13_keys(port: u16) -> T {
    let mut t = T::new(port);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 1500);
    t
}

// ------------------------------------------------------------------ AUTHZ.CONNECT_DENIED

#[test]
fn connect_denied_by_connack_5() {
    let id = cert_id("sensor-7");
    let mut t = tls12_with("sensor-7");
    t.dev_dec(60.0, connect(4, "sensor-7", 60))
        .end_dec(75.0, connack(5))
        .end(76.0, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.CONNECT_DENIED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(
        f.summary
            .starts_with("The endpoint refused CONNECT from client \"sensor-7\": CONNACK 5 ("),
        "{}",
        f.summary
    );
    assert!(evidence_has(f, "CONNECT client_id=\"sensor-7\""));
    assert!(evidence_has(f, "CONNACK 5"));
    assert_eq!(
        f.next_steps[0],
        format!("Allow iot:Connect on arn:aws:iot:eu-west-1:ACCOUNT:client/sensor-7 in the policy attached to certificate {id}.")
    );
    step(
        f,
        &format!(
            "aws iot list-principal-policies --principal arn:aws:iot:eu-west-1:ACCOUNT:cert/{id}"
        ),
    );
    step(f, "AUTHORIZATION_FAILURE\" for client sensor-7");
    // Not-authorized is the authorization finding, not a generic refusal.
    none(&found, "MQTT.CONNECT_REFUSED");
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn connect_denied_by_mqtt5_connack_0x87() {
    let mut t = tls13_keys(443);
    t.dev_dec(41.0, connect(5, "sensor-v5", 60))
        .end_dec(60.0, connack_at(5, 0x87));
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.CONNECT_DENIED");
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The endpoint refused CONNECT from client \"sensor-v5\": CONNACK 0x87 (Not authorized)."
    );
    // No certificate visible in TLS 1.3: its ID is a placeholder, the region still is not.
    assert!(f.next_steps[0].contains("arn:aws:iot:eu-west-1:ACCOUNT:client/sensor-v5"));
    assert!(f.next_steps[0].contains("certificate CERTIFICATE_ID"));
    none(&found, "MQTT.CONNECT_REFUSED");
}

#[test]
fn connect_denied_is_likely_when_the_endpoint_just_closes() {
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-9", 60)).end(63.5, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.CONNECT_DENIED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "The endpoint closed the connection 22.5 ms after CONNECT from client \"sensor-9\", without a CONNACK."
    );
    assert_eq!(
        f.candidates,
        [
            "the policy attached to the certificate does not allow iot:Connect for this client id",
            "the certificate is not ACTIVE (inactive or revoked)",
            "another device is connecting with the same client id, or connects are throttled",
        ]
    );
    assert_eq!(
        f.settle.as_deref(),
        Some("AWSIotLogsV2: a Connect entry with status Failure for client sensor-9 gives the reason (AUTHORIZATION_FAILURE)")
    );
    assert!(evidence_has(
        f,
        "endpoint closed the connection, no CONNACK"
    ));
    // The keys show the CONNECT, so the close is not read as a certificate refusal.
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn connect_denied_not_for_connack_0_or_a_device_that_closed_first() {
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-ok", 60))
        .end_dec(60.0, connack(0))
        .end(61.0, fin());
    none(&t.diagnose(), "AUTHZ.CONNECT_DENIED");

    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-impatient", 60))
        .dev(5041.0, fin())
        .end(5042.0, fin());
    none(&t.diagnose(), "AUTHZ.CONNECT_DENIED");

    // A TLS alert from the endpoint explains its close better than a policy would.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-x", 60))
        .end_dec(42.0, alert(116))
        .end(42.5, fin());
    none(&t.diagnose(), "AUTHZ.CONNECT_DENIED");
}

#[test]
fn connect_denied_not_for_plain_mqtt_to_a_tls_port() {
    for port in [8883, 443] {
        let mut t = T::new(port);
        t.dev(1.0, connect(4, "plain-device", 60)).end(1.4, rst());
        let found = t.diagnose();
        none(&found, "AUTHZ.CONNECT_DENIED");
        one(&found, "CONN.NOT_TLS");
    }
    // The same plain CONNECT to a broker that speaks plain MQTT and refuses it is a refusal.
    let mut t = T::new(1883);
    t.dev(1.0, connect(4, "plain-device", 60))
        .end(2.0, connack(5))
        .end(2.5, fin());
    let found = t.diagnose();
    assert_eq!(
        one(&found, "AUTHZ.CONNECT_DENIED").certainty,
        Certainty::Certain
    );
    assert_eq!(one(&found, "CONN.NOT_TLS").severity, Severity::Warning);
}

// ------------------------------------------------------------------ AUTHZ.PUBLISH_DENIED

#[test]
fn publish_denied_by_mqtt5_puback_0x87() {
    let id = cert_id("sensor-5");
    let mut t = tls12_with("sensor-5");
    t.dev_dec(60.0, connect(5, "sensor-5", 60))
        .end_dec(70.0, connack_at(5, 0))
        .dev_dec(80.0, publish("devices/sensor-5/telemetry", 6, 1, 12))
        .end_dec(90.0, puback(6, 0))
        .dev_dec(100.0, publish("devices/other/telemetry", 7, 1, 12))
        .end_dec(110.0, puback(7, 0x87));
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The endpoint refused PUBLISH 7 on topic devices/other/telemetry: PUBACK 0x87 (Not authorized)."
    );
    assert!(evidence_has(f, "PUBLISH 7 topic devices/other/telemetry"));
    assert!(evidence_has(f, "PUBACK 7 reason 0x87"));
    assert!((f.evidence[0].t - 0.100).abs() < 1e-9);
    // The refused topic, not the first one the device used.
    assert_eq!(
        f.next_steps[0],
        format!("Allow iot:Publish on arn:aws:iot:eu-west-1:ACCOUNT:topic/devices/other/telemetry in the policy attached to certificate {id}.")
    );
    step(f, "for client sensor-5");
    no_error_except(&found, "AUTHZ.PUBLISH_DENIED");
}

#[test]
fn publish_denied_is_likely_when_mqtt311_closes_after_a_publish() {
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-311", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("devices/other/cmd", 3, 1, 40))
        .end(73.0, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "The endpoint closed the connection 3.0 ms after a PUBLISH on topic devices/other/cmd, without acknowledging it."
    );
    // A refusal first; an endpoint that went away at that moment looks the same on the wire.
    assert_eq!(f.candidates.len(), 3);
    assert!(f.candidates[2].contains("went away"), "{:?}", f.candidates);
    assert!(f
        .settle
        .as_deref()
        .is_some_and(|s| s.contains("Publish-In") && s.contains("Disconnect entry")));
    assert!(evidence_has(f, "PUBLISH topic devices/other/cmd QoS 1"));
    step(f, "arn:aws:iot:eu-west-1:ACCOUNT:topic/devices/other/cmd");
    none(&found, "AUTHZ.CONNECT_DENIED");
}

#[test]
fn publish_denied_when_the_device_says_goodbye_after_the_endpoint_closed() {
    // An SDK that sees the hang-up sends DISCONNECT; through a MITM proxy that packet is
    // decoded after the endpoint's close. The refused packet is still the PUBLISH.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-sdk", 30))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("factory/x", 1, 1, 5))
        .end(70.2, fin())
        .dev_dec(71.0, disconnect(0));
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert!(evidence_has(f, "PUBLISH topic factory/x QoS 1"));
    none(&found, "CONN.ENDPOINT_CLOSED");

    // A DISCONNECT before the endpoint's close is the device leaving: no refusal.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-sdk", 30))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("factory/x", 1, 1, 5))
        .dev_dec(70.1, disconnect(0))
        .end(70.2, fin());
    none(&t.diagnose(), "AUTHZ.PUBLISH_DENIED");
}

#[test]
fn publish_denied_when_the_device_closes_before_the_endpoints_fin_arrives() {
    // Through a MITM proxy the endpoint's close_notify reaches the device at once; the
    // device's DISCONNECT and FIN can then overtake the endpoint's FIN on the way. The
    // endpoint closed first (its close_notify), and the refused packet is the PUBLISH.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-mitm", 30))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("factory/x", 1, 1, 5))
        .end_dec(70.2, alert(0))
        .dev_dec(70.4, disconnect(0))
        .dev(70.5, fin())
        .end(70.9, fin());
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert!(evidence_has(f, "PUBLISH topic factory/x QoS 1"));

    // A device that closed before the endpoint's close_notify left on its own.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-mitm", 30))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("factory/x", 1, 1, 5))
        .dev(70.1, fin())
        .end_dec(70.2, alert(0))
        .end(70.9, fin());
    none(&t.diagnose(), "AUTHZ.PUBLISH_DENIED");
}

#[test]
fn publish_denied_not_for_puback_0_or_0x10() {
    for code in [0x00, 0x10] {
        let mut t = tls13_keys(8883);
        t.dev_dec(41.0, connect(5, "sensor-ok", 60))
            .end_dec(60.0, connack_at(5, 0))
            .dev_dec(70.0, publish("devices/sensor-ok/telemetry", 1, 1, 8))
            .end_dec(80.0, puback(1, code));
        let found = t.diagnose();
        none(&found, "AUTHZ.PUBLISH_DENIED");
        no_error(&found);
    }
}

#[test]
fn publish_denied_not_for_a_keep_alive_timeout_or_a_disconnect() {
    // A QoS 0 PUBLISH, then silence: the endpoint drops the device after 1.5 x 60 s.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-quiet", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("devices/sensor-quiet/telemetry", 0, 0, 8))
        .end(90_070.0, fin());
    none(&t.diagnose(), "AUTHZ.PUBLISH_DENIED");

    // The device said goodbye; the close is the endpoint's answer to it.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-polite", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, publish("devices/sensor-polite/telemetry", 0, 0, 8))
        .dev(71.0, fin())
        .end(72.0, fin());
    none(&t.diagnose(), "AUTHZ.PUBLISH_DENIED");
}

// ------------------------------------------------------------------ AUTHZ.SUBSCRIBE_DENIED

#[test]
fn subscribe_denied_by_mqtt5_suback_0x87() {
    let id = cert_id("sensor-sub");
    let mut t = tls12_with("sensor-sub");
    t.dev_dec(60.0, connect(5, "sensor-sub", 60))
        .end_dec(70.0, connack_at(5, 0))
        .dev_dec(
            80.0,
            subscribe(2, &[("devices/sensor-sub/#", 1), ("devices/+/secrets", 1)]),
        )
        .end_dec(90.0, suback(2, &[0x01, 0x87]));
    let found = t.diagnose();
    let f = one(&found, "AUTHZ.SUBSCRIBE_DENIED");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.certainty, Certainty::Certain);
    assert_eq!(
        f.summary,
        "The endpoint refused the subscription to devices/+/secrets: SUBACK 0x87."
    );
    assert!(evidence_has(f, "SUBSCRIBE devices/+/secrets"));
    assert_eq!(
        f.next_steps[0],
        format!("Allow iot:Subscribe on arn:aws:iot:eu-west-1:ACCOUNT:topicfilter/devices/+/secrets (and iot:Receive on arn:aws:iot:eu-west-1:ACCOUNT:topic/devices/+/secrets) in the policy attached to certificate {id}.")
    );
}

#[test]
fn subscribe_denied_is_likely_for_mqtt311_0x80_or_a_close() {
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-311", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, subscribe(4, &[("fleet/alerts", 1)]))
        .end_dec(80.0, suback(4, &[0x80]));
    let f = one(&t.diagnose(), "AUTHZ.SUBSCRIBE_DENIED").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(f.candidates.len(), 2);
    assert_eq!(
        f.summary,
        "The endpoint refused the subscription to fleet/alerts: SUBACK 0x80."
    );
    step(&f, "topicfilter/fleet/alerts");

    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-311", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, subscribe(5, &[("fleet/a", 1), ("fleet/b", 0)]))
        .end(71.5, fin());
    let f = one(&t.diagnose(), "AUTHZ.SUBSCRIBE_DENIED").clone();
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "The endpoint closed the connection 1.5 ms after SUBSCRIBE to fleet/a, fleet/b, without a SUBACK."
    );
    step(&f, "topicfilter/fleet/a");
}

#[test]
fn subscribe_denied_not_for_granted_qos() {
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(5, "sensor-ok", 60))
        .end_dec(60.0, connack_at(5, 0))
        .dev_dec(
            70.0,
            subscribe(1, &[("devices/sensor-ok/#", 1), ("fleet/all", 0)]),
        )
        .end_dec(80.0, suback(1, &[0x01, 0x00]));
    let found = t.diagnose();
    none(&found, "AUTHZ.SUBSCRIBE_DENIED");
    no_error(&found);

    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-ok", 60))
        .end_dec(60.0, connack(0))
        .dev_dec(70.0, subscribe(1, &[("devices/sensor-ok/#", 1)]))
        .end_dec(80.0, suback(1, &[0x01]))
        .end(200_000.0, fin());
    none(&t.diagnose(), "AUTHZ.SUBSCRIBE_DENIED");
}

#[test]
fn pipelined_connect_and_subscribe_closed_is_the_connect_only() {
    // CONNECT and SUBSCRIBE sent together, closed before any CONNACK: the CONNECT was refused.
    let mut t = tls13_keys(8883);
    t.dev_dec(41.0, connect(4, "sensor-fast", 60))
        .dev_dec(41.2, subscribe(1, &[("fleet/all", 1)]))
        .end(43.0, fin());
    let found = t.diagnose();
    none(&found, "AUTHZ.SUBSCRIBE_DENIED");
    one(&found, "AUTHZ.CONNECT_DENIED");
}

/// No error but the one the test is about.
fn no_error_except(found: &[iotscope_decoder::diagnose::Finding], code: &str) {
    let rest: Vec<_> = found.iter().filter(|f| f.code != code).cloned().collect();
    no_error(&rest);
}

#[test]
fn plain_mqtt_broker_answers_are_read_the_same_way() {
    // Port 1883, plain: the authorization rules read the packets as they do inside TLS.
    let mut t = T::new(1883);
    t.dev(1.0, connect(5, "lab-5", 60))
        .end(2.0, connack_at(5, 0))
        .dev(3.0, publish("lab/forbidden", 9, 1, 3))
        .end(4.0, puback(9, 0x87));
    let found = t.diagnose();
    one(&found, "AUTHZ.PUBLISH_DENIED");
    assert!(found
        .iter()
        .all(|f| f.code != "CONN.NOT_TLS" || f.severity == Severity::Warning));
}

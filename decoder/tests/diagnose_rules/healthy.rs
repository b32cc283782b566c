//! Connections that work: no rule may call them broken. These fail when any rule over-fires.

use super::builder::*;
#[test]
fn tls13_and_mqtt5_that_works_gives_no_finding() {
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 1500)
        .dev_dec(41.0, connect(5, "thing-42", 60))
        .end(60.0, app(4500)) // NewSessionTicket
        .end_dec(61.0, connack_at(5, 0))
        .dev_dec(70.0, subscribe(1, &[("cmd/thing-42/#", 1)]))
        .end_dec(80.0, suback(1, &[0x01]))
        .dev_dec(90.0, publish("dt/thing-42/telemetry", 2, 1, 180))
        .end_dec(100.0, puback(2, 0x00))
        .dev_dec(110.0, publish("dt/thing-42/status", 0, 0, 20))
        .dev_dec(60_000.0, pingreq())
        .end_dec(60_020.0, pingresp())
        .end_dec(60_500.0, publish("cmd/thing-42/reboot", 9, 1, 2))
        .dev_dec(60_510.0, puback(9, 0))
        .dev_dec(61_000.0, disconnect(0))
        .dev(61_001.0, fin())
        .end(61_002.0, fin());
    let found = t.diagnose_with(&expecting(ATS));
    assert!(found.is_empty(), "{:#?}", codes(&found));
}

#[test]
fn tls12_and_mqtt311_that_works_gives_no_finding() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM, 0xc02b]),
        Some(device_cert("thing-7")),
    )
    .dev_dec(60.0, connect(4, "thing-7", 300))
    .end_dec(75.0, connack(0))
    .dev_dec(80.0, subscribe(1, &[("cmd/thing-7", 1), ("fleet/all", 0)]))
    .end_dec(90.0, suback(1, &[0x01, 0x00]))
    .dev_dec(100.0, publish("dt/thing-7/telemetry", 1, 1, 64))
    .end_dec(110.0, puback(1, 0))
    .dev_dec(299_000.0, pingreq())
    .end_dec(299_030.0, pingresp())
    .dev_dec(300_000.0, disconnect(0))
    .dev_dec(300_000.5, alert(0))
    .dev(300_001.0, fin())
    .end_dec(300_002.0, alert(0))
    .end(300_002.5, fin());
    let found = t.diagnose_with(&expecting(ATS));
    assert!(found.is_empty(), "{:#?}", codes(&found));
}

#[test]
fn tls13_that_works_without_keys_gives_no_error() {
    // Sizes only: CONNECT, a 21-byte CONNACK, traffic, and the device closing first.
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(60.0, app(21))
        .dev(70.0, app(120))
        .end(80.0, app(21))
        .dev(5000.0, app(19))
        .dev(5001.0, fin())
        .end(5002.0, fin());
    let found = t.diagnose();
    assert!(found.is_empty(), "{:#?}", codes(&found));
}

#[test]
fn tls12_that_works_without_keys_gives_no_error() {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("thing-8")),
    )
    .dev(60.0, app(40))
    .end(70.0, app(30))
    .dev(9000.0, enc_alert())
    .dev(9000.5, fin())
    .end(9001.0, enc_alert())
    .end(9001.5, fin());
    let found = t.diagnose();
    assert!(found.is_empty(), "{:#?}", codes(&found));
}

//! Bytes missed (a capture gap, or copies the proxy could not hand on) are a gap, never a
//! defect: not a malformed packet, not a key that does not fit, not a refusal read from the
//! close at the end, and they never hide what a packet's header declared. Each rule's
//! look-alike without a gap still fires.

use super::builder::*;
use iotscope_decoder::diagnose::Severity;
use iotscope_decoder::EventKind;

/// TLS 1.3 with keys to the ATS name on 8883, the session accepted.
fn keyed() -> T {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "sensor-bulk", 60))
        .end_dec(60.0, connack(0));
    t
}

fn gap(bytes: u64) -> EventKind {
    EventKind::Gap { bytes }
}

fn undecrypted(reason: &str) -> EventKind {
    EventKind::Undecrypted {
        reason: reason.to_string(),
    }
}

/// The decoder's words when a direction's records stop authenticating.
const NOT_AUTHENTICATED: &str = "decryption failed at record 48 of this direction: the record with sequence number 47 did not authenticate: the key log secret does not belong to this connection and direction, a record is missing, or the bytes were altered";

// ------------------------------------------------------------------ MQTT.MALFORMED

/// What the proxy saw of a 1 MB PUBLISH whose middle it could not queue: a packet the close
/// seems to cut, after a gap of the same direction.
#[test]
fn a_packet_cut_by_a_gap_is_not_malformed() {
    let mut t = keyed();
    t.dev(70.0, gap(278_938))
        .dev_dec(
            90.0,
            mqtt_malformed(
                81,
                "connection closed after 770048 of 1048590 bytes of PUBLISH",
            ),
        )
        .dev(91.0, fin());
    let found = t.diagnose();
    none(&found, "MQTT.MALFORMED");
    let f = one(&found, "CONN.TRUNCATED");
    assert!(
        f.summary.contains("278938 bytes were missed"),
        "{}",
        f.summary
    );
    no_error(&found);
}

/// A packet read whole after the gap ends its reach: a malformed packet after that is the
/// bytes' own fault again.
#[test]
fn a_malformed_packet_after_the_gap_was_read_past_still_is_malformed() {
    let mut t = keyed();
    t.dev(70.0, gap(500))
        .dev_dec(80.0, publish("dt/sensor-bulk/t", 2, 1, 10))
        .dev_dec(
            90.0,
            mqtt_malformed(200, "remaining length longer than four bytes"),
        );
    let f = one(&t.diagnose(), "MQTT.MALFORMED").clone();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("at byte 200"), "{}", f.summary);
}

/// The look-alike without any gap: the same words are a malformed packet.
#[test]
fn a_packet_cut_by_the_close_without_a_gap_still_is_malformed() {
    let mut t = keyed();
    t.dev_dec(
        90.0,
        mqtt_malformed(81, "connection closed after 7 of 12 bytes of PUBLISH"),
    );
    let f = one(&t.diagnose(), "MQTT.MALFORMED").clone();
    assert_eq!(f.severity, Severity::Error);
}

/// A gap in the other direction does not excuse a device's malformed packet.
#[test]
fn a_gap_of_the_other_direction_excuses_nothing() {
    let mut t = keyed();
    t.end(70.0, gap(500)).dev_dec(
        90.0,
        mqtt_malformed(81, "remaining length longer than four bytes"),
    );
    one(&t.diagnose(), "MQTT.MALFORMED");
}

// ------------------------------------------------------------------ MQTT.AWS_LIMIT

/// A PUBLISH whose header declared 10 MB, most of its body missed: the limit still shows, and
/// the loss is no defect.
#[test]
fn a_publish_over_the_limit_partly_lost_still_is_over_the_limit() {
    let mut t = keyed();
    let mut big = publish("dt/sensor-bulk/blob", 2, 1, 10 * 1024 * 1024);
    if let EventKind::Mqtt(p) = &mut big {
        p.lost = 9_000_000;
    }
    t.dev(70.0, gap(9_000_000))
        .dev_dec(90.0, big)
        .end_dec(95.0, puback(2, 0));
    let found = t.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    assert!(
        f.summary
            .contains("payload of 10485760 bytes (limit 128 KB)"),
        "{}",
        f.summary
    );
    none(&found, "MQTT.MALFORMED");
    no_error(&found);
}

// ------------------------------------------------------------------ TLS.NOT_DECRYPTED

/// Records that stop decrypting after a gap: the records missed took their sequence numbers
/// along. Not a key problem, and no advice about key logs.
#[test]
fn records_that_stop_decrypting_after_a_gap_are_no_key_problem() {
    let mut t = keyed();
    t.dev(70.0, gap(278_938))
        .dev(70.5, undecrypted(NOT_AUTHENTICATED))
        .dev(71.0, app(16401))
        .dev(91.0, fin());
    let found = t.diagnose();
    none(&found, "TLS.NOT_DECRYPTED");
    let f = one(&found, "CONN.TRUNCATED");
    assert!(
        f.summary
            .contains("device's records after the missing bytes could not be decrypted"),
        "{}",
        f.summary
    );
    for f in &found {
        assert!(
            !f.summary.contains("does not belong")
                && f.next_steps.iter().all(|s| !s.contains("SSLKEYLOGFILE")),
            "{f:?}"
        );
    }
}

/// The look-alike without a gap: a key log whose secret does not open the records.
#[test]
fn records_that_do_not_decrypt_without_a_gap_still_are_not_decrypted() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(40.5, undecrypted(NOT_AUTHENTICATED))
        .dev(41.0, app(60));
    let f = one(&t.diagnose(), "TLS.NOT_DECRYPTED").clone();
    assert!(f.summary.contains("does not belong"), "{}", f.summary);
}

/// A gap of the other direction does not explain this direction's failure.
#[test]
fn a_gap_of_the_other_direction_leaves_the_key_problem() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .end(35.0, gap(100))
        .dev(40.5, undecrypted(NOT_AUTHENTICATED))
        .dev(41.0, app(60));
    one(&t.diagnose(), "TLS.NOT_DECRYPTED");
}

// ------------------------------------------------------------------ AUTH.CLIENT_CERT_REJECTED

/// A 500 MB transfer that worked, its middle missed: the close_notify at the end is the same
/// 19-byte record as a refusal, and the endpoint's answers may be in what was missed.
#[test]
fn the_close_notify_after_a_gap_is_no_refusal() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .dev(50.0, gap(330_000_000))
        .end(52.0, gap(4_000))
        .end(9000.0, app(19))
        .end(9000.5, fin());
    let found = t.diagnose();
    none(&found, "AUTH.CLIENT_CERT_REJECTED");
    one(&found, "CONN.TRUNCATED");
}

/// The look-alike without a gap: a refusal alert right after the handshake.
#[test]
fn a_refusal_right_after_the_handshake_without_a_gap_still_is_a_refusal() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(95.0, app(19))
        .end(95.5, fin());
    let f = one(&t.diagnose(), "AUTH.CLIENT_CERT_REJECTED").clone();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("alert-sized"), "{}", f.summary);
}

/// A CONNECT the decoder cannot read that a lenient broker accepted anyway (CONNACK 0, the
/// session going on): a fault to fix, a warning, not why the connection failed. The same
/// packet refused by a CONNACK 0x81 stays an error.
#[test]
fn a_malformed_connect_the_endpoint_accepted_is_a_warning() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500);
    t.dev_dec(
        41.0,
        mqtt_malformed(0, "CONNECT: property length 4351 runs past the end"),
    )
    .end_dec(42.0, connack_at(5, 0))
    .dev_dec(43.0, publish("topicX", 0, 0, 16));
    let found = t.diagnose();
    let f = one(&found, "MQTT.MALFORMED");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.summary.contains("the session went on"), "{}", f.summary);
    no_error(&found);

    let mut refused = T::new(8883);
    refused.tls13(hello_ats(&[]), 1500);
    refused
        .dev_dec(
            41.0,
            mqtt_malformed(0, "CONNECT: property length 4351 runs past the end"),
        )
        .end_dec(42.0, connack_at(5, 0x81));
    let found = refused.diagnose();
    let f = one(&found, "MQTT.MALFORMED").clone();
    assert_eq!(f.severity, Severity::Error, "{f:#?}");
}

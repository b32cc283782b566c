//! TLS 1.3 resumption with early data (0-RTT): the device's CONNECT sealed under the client
//! early traffic secret before the endpoint's ServerHello. Accepted, it is decrypted and
//! decoded before the device's EndOfEarlyData; rejected, it is reported as early data the
//! endpoint did not read; without the early secret, it stays encrypted and the rest of the
//! connection still decrypts.

use super::run::*;
use super::wire::*;
use iotscope_decoder::diagnose::Severity;

const SUITE: u16 = 0x1301;
const TOPIC: &str = "devices/sensor-01/telemetry";

fn secrets() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("CLIENT_EARLY_TRAFFIC_SECRET", vec![0x55; 32]),
        ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", vec![0x11; 32]),
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", vec![0x22; 32]),
        ("CLIENT_TRAFFIC_SECRET_0", vec![0x33; 32]),
        ("SERVER_TRAFFIC_SECRET_0", vec![0x44; 32]),
    ]
}

/// A resumed connection whose device sends CONNECT as early data. `accepted`: the endpoint's
/// EncryptedExtensions carries early_data; the device then ends its early data with
/// EndOfEarlyData, else it sends CONNECT again after the handshake, as a client must.
fn steps(accepted: bool) -> Vec<Step> {
    let mut c_early = Sealer13::new(SUITE, &[0x55; 32]);
    let mut c_hs = Sealer13::new(SUITE, &[0x11; 32]);
    let mut s_hs = Sealer13::new(SUITE, &[0x22; 32]);
    let mut c_ap = Sealer13::new(SUITE, &[0x33; 32]);
    let mut s_ap = Sealer13::new(SUITE, &[0x44; 32]);

    let mut device = client_hello_early(&[SUITE]);
    device.extend(record(20, &[1]));
    device.extend(c_early.seal(23, &connect("sensor-01", 5)));

    let mut endpoint = record(22, &server_hello_resumed(SUITE));
    endpoint.extend(record(20, &[1]));
    endpoint.extend(s_hs.seal(22, &encrypted_extensions(accepted)));
    endpoint.extend(s_hs.seal(22, &finished(32)));

    let mut device_again = Vec::new();
    if accepted {
        device_again.extend(c_early.seal(22, &end_of_early_data()));
    }
    device_again.extend(c_hs.seal(22, &finished(32)));
    if !accepted {
        device_again.extend(c_ap.seal(23, &connect("sensor-01", 5)));
    }
    device_again.extend(c_ap.seal(23, &publish(TOPIC, 1, b"21.5", 5)));

    let mut answer = s_ap.seal(23, &connack(0, 5));
    answer.extend(s_ap.seal(23, &puback(1, 0, 5)));
    vec![
        Step::Send(D, device),
        Step::Send(E, endpoint),
        Step::Send(D, device_again),
        Step::Send(E, answer),
    ]
}

fn head() -> Vec<String> {
    [
        "D> tcp_open",
        "D> Protocol TLS",
        "D> ClientHello",
        "D> change_cipher_spec",
        "E> Protocol TLS",
        "E> ServerHello 0x1301",
        "E> change_cipher_spec",
    ]
    .map(String::from)
    .into()
}

#[test]
fn accepted_early_data_is_decrypted_and_decoded_before_the_end_of_early_data() {
    let keys = keylog_for(&CLIENT_RANDOM, &secrets());
    let (trace, got) = run_in_pieces(&steps(true), &keys);
    let mut want = head();
    want.extend(
        [
            "E>* EncryptedExtensions 6",
            "D> Note: TLS: 1 record of early data (41 bytes) sent before the endpoint's ServerHello, which the endpoint accepted (early_data in its EncryptedExtensions); decrypted with the CLIENT_EARLY_TRAFFIC_SECRET",
            "D>* Protocol MQTT",
            "D>* CONNECT sensor-01 level 5",
            "E>* Finished 32",
            "D>* EndOfEarlyData 0",
            "D>* Finished 32",
            "D>* PUBLISH devices/sensor-01/telemetry id Some(1) 4B",
            "E>* Protocol MQTT",
            "E>* CONNACK code 0x00",
            "E>* PUBACK id 1 code 0x00",
        ]
        .map(String::from),
    );
    assert_eq!(got, want);
    let fs = findings(&trace);
    assert!(
        !fs.iter()
            .any(|f| f.severity == Severity::Error || f.code == "TLS.NOT_DECRYPTED"),
        "{:?}",
        codes(&fs)
    );
}

#[test]
fn rejected_early_data_is_said_to_be_rejected_and_not_decoded() {
    let keys = keylog_for(&CLIENT_RANDOM, &secrets());
    let (trace, got) = run_in_pieces(&steps(false), &keys);
    let mut want = head();
    want.extend(
        [
            "E>* EncryptedExtensions 2",
            "D> Encrypted 23 EarlyData 1 records 41B",
            "D> Note: TLS: early data the endpoint rejected: 1 record of early data (41 bytes) sent before the endpoint's ServerHello, which the endpoint did not read (its EncryptedExtensions has no early_data extension); the device sends it again after the handshake if it still needs to",
            "E>* Finished 32",
            "D>* Finished 32",
            "D>* Protocol MQTT",
            "D>* CONNECT sensor-01 level 5",
            "D>* PUBLISH devices/sensor-01/telemetry id Some(1) 4B",
            "E>* Protocol MQTT",
            "E>* CONNACK code 0x00",
            "E>* PUBACK id 1 code 0x00",
        ]
        .map(String::from),
    );
    assert_eq!(got, want);
    let fs = findings(&trace);
    assert!(
        !fs.iter()
            .any(|f| f.severity == Severity::Error || f.code == "TLS.NOT_DECRYPTED"),
        "{:?}",
        codes(&fs)
    );
}

/// Look-alike: a full handshake (no pre_shared_key in the ServerHello) rejects early data too,
/// and says so before the endpoint's encrypted flight.
#[test]
fn a_full_handshake_instead_of_the_resumption_rejects_early_data() {
    let mut c_early = Sealer13::new(SUITE, &[0x55; 32]);
    let mut s_hs = Sealer13::new(SUITE, &[0x22; 32]);
    let mut device = client_hello_early(&[SUITE]);
    device.extend(c_early.seal(23, &connect("sensor-01", 5)));
    let mut endpoint = record(22, &server_hello(SUITE, true));
    endpoint.extend(s_hs.seal(22, &encrypted_extensions(false)));
    let keys = keylog_for(&CLIENT_RANDOM, &secrets());
    let (_, got) = run_in_pieces(&[Step::Send(D, device), Step::Send(E, endpoint)], &keys);
    assert_eq!(
        got[got.len() - 3..],
        [
            "D> Encrypted 23 EarlyData 1 records 41B".to_string(),
            "D> Note: TLS: early data the endpoint rejected: 1 record of early data (41 bytes) sent before the endpoint's ServerHello, which the endpoint did not read (the endpoint did not resume the session: its ServerHello has no pre_shared_key); the device sends it again after the handshake if it still needs to".into(),
            "E>* EncryptedExtensions 2".into(),
        ]
    );
}

#[test]
fn without_the_early_secret_the_rest_still_decrypts() {
    let mut lines = secrets();
    lines.remove(0);
    let keys = keylog_for(&CLIENT_RANDOM, &lines);
    let (trace, got) = run_in_pieces(&steps(true), &keys);
    for want in [
        "D> Note: TLS: 1 record of early data (41 bytes) sent before the endpoint's ServerHello, not decrypted: the key log has no CLIENT_EARLY_TRAFFIC_SECRET for this connection",
        "D> Encrypted 23 EarlyData 1 records 41B",
        "D> Encrypted 23 Handshake 1 records 21B",
        "D>* Finished 32",
    ] {
        assert!(got.iter().any(|l| l == want), "{want} missing: {got:#?}");
    }
    // The application records after it are opened (the MQTT in them starts without its
    // CONNECT, which was in the early data).
    assert_eq!(
        got.last().map(String::as_str),
        Some("E>* undecoded"),
        "{got:#?}"
    );
    // The EndOfEarlyData, under the early secret too, stays encrypted without giving up.
    assert!(!got.iter().any(|l| l.contains("Undecrypted")), "{got:#?}");
    assert!(
        !findings(&trace)
            .iter()
            .any(|f| f.severity == Severity::Error),
        "{got:#?}"
    );
}

/// Early data with no answer at all (the capture ends): decrypted all the same, once the
/// ServerHello named the suite, with a note that the answer is unknown; and a flood of early
/// records is held only up to its bound.
#[test]
fn early_data_without_an_answer_and_beyond_the_bound() {
    let mut c_early = Sealer13::new(SUITE, &[0x55; 32]);
    let mut device = client_hello_early(&[SUITE]);
    device.extend(c_early.seal(23, &connect("sensor-01", 5)));
    let endpoint = record(22, &server_hello_resumed(SUITE));
    let keys = keylog_for(&CLIENT_RANDOM, &secrets());
    let (_, got) = run_in_pieces(&[Step::Send(D, device), Step::Send(E, endpoint)], &keys);
    assert!(
        got.iter().any(|l| l.starts_with("D> Note: TLS: 1 record of early data (41 bytes) sent before the endpoint's ServerHello; whether the endpoint accepted it is not known (")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|l| l == "D>* CONNECT sensor-01 level 5"),
        "{got:#?}"
    );

    let mut c_early = Sealer13::new(SUITE, &[0x55; 32]);
    let mut device = client_hello_early(&[SUITE]);
    for i in 0..40 {
        device.extend(c_early.seal(23, &publish(TOPIC, i, &[b'x'; 3000], 5)));
    }
    let (_, got) = run_in_pieces(&[Step::Send(D, device)], &keys);
    assert!(
        got.iter()
            .any(|l| l.contains("more early data arrived than iotscope holds")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("D> Note: TLS: 16 records of early data (48832 bytes)")),
        "{got:#?}"
    );
    // The rest goes the usual way: not decrypted, since no ServerHello named the suite.
    assert!(
        got.iter().any(|l| l == "D> Undecrypted: no ServerHello was seen, so the cipher suite is unknown"),
        "{got:#?}"
    );
    assert_eq!(count(&got, "D>*"), 0, "{got:#?}");
}

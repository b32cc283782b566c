//! TLS 1.3 connections sealed with known traffic secrets: the three AEAD suites, KeyUpdate in
//! both directions, a wrong secret, a missing connection and a record cut by FIN.

use super::run::*;
use super::wire::*;
use iotscope_decoder::diagnose::Severity;

const SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];
const TOPIC: &str = "devices/sensor-01/telemetry";

/// The four traffic secrets of one connection, each a different byte so a mix-up shows.
struct Secrets {
    c_hs: Vec<u8>,
    s_hs: Vec<u8>,
    c_ap: Vec<u8>,
    s_ap: Vec<u8>,
}

impl Secrets {
    fn new(suite: u16) -> Secrets {
        let n = hash_len(suite);
        Secrets {
            c_hs: vec![0x11; n],
            s_hs: vec![0x22; n],
            c_ap: vec![0x33; n],
            s_ap: vec![0x44; n],
        }
    }

    fn keylog_lines(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", self.c_hs.clone()),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", self.s_hs.clone()),
            ("CLIENT_TRAFFIC_SECRET_0", self.c_ap.clone()),
            ("SERVER_TRAFFIC_SECRET_0", self.s_ap.clone()),
        ]
    }
}

/// A TLS 1.3 connection up to CONNECT/CONNACK (MQTT 5), and the application sealers to go on.
///
/// The endpoint's certificate is split across two records so the handshake joiner has to put
/// decrypted pieces together; both sides send the compatibility ChangeCipherSpec.
fn handshake_steps(suite: u16, s: &Secrets) -> (Vec<Step>, Sealer13, Sealer13) {
    let mut s_hs = Sealer13::new(suite, &s.s_hs);
    let mut c_hs = Sealer13::new(suite, &s.c_hs);
    let mut c_ap = Sealer13::new(suite, &s.c_ap);
    let mut s_ap = Sealer13::new(suite, &s.s_ap);

    let mut server_msgs = handshake(8, &[0, 0]);
    server_msgs.extend(certificate(SERVER_DER, true));
    let cut = server_msgs.len() - 100;
    let mut verify = vec![0x08, 0x04, 0x01, 0x00];
    verify.extend_from_slice(&[0x5a; 256]);
    let mut second = server_msgs[cut..].to_vec();
    second.extend(handshake(15, &verify));

    let mut endpoint = record(22, &server_hello(suite, true));
    endpoint.extend(record(20, &[1]));
    endpoint.extend(s_hs.seal(22, &server_msgs[..cut]));
    endpoint.extend(s_hs.seal(22, &second));
    endpoint.extend(s_hs.seal(22, &finished(hash_len(suite))));

    let mut device = record(20, &[1]);
    device.extend(c_hs.seal(22, &finished(hash_len(suite))));
    device.extend(c_ap.seal(23, &connect("sensor-01", 5)));

    let steps = vec![
        Step::Send(D, client_hello(&SUITES, true)),
        Step::Send(E, endpoint),
        Step::Send(D, device),
        Step::Send(E, s_ap.seal(23, &connack(0, 5))),
    ];
    (steps, c_ap, s_ap)
}

/// What every decrypted TLS 1.3 handshake above shows, in order.
fn handshake_lines(suite: u16) -> Vec<String> {
    let h = hash_len(suite);
    [
        "D> tcp_open".to_string(),
        "D> Protocol TLS".into(),
        "D> ClientHello".into(),
        "E> Protocol TLS".into(),
        format!("E> ServerHello {suite:#06x}"),
        "E> change_cipher_spec".into(),
        "E>* EncryptedExtensions 2".into(),
        format!("E>* Certificate [{SERVER_SUBJECT}]"),
        "E>* CertificateVerify 260".into(),
        format!("E>* Finished {h}"),
        "D> change_cipher_spec".into(),
        format!("D>* Finished {h}"),
        "D>* Protocol MQTT".into(),
        "D>* CONNECT sensor-01 level 5".into(),
        "E>* Protocol MQTT".into(),
        "E>* CONNACK code 0x00".into(),
    ]
    .into()
}

#[test]
fn each_suite_decrypts_handshake_and_mqtt_and_finds_the_denied_publish() {
    for suite in SUITES {
        let s = Secrets::new(suite);
        let (mut steps, mut c_ap, mut s_ap) = handshake_steps(suite, &s);
        steps.push(Step::Send(
            D,
            c_ap.seal(23, &publish(TOPIC, 7, b"{\"t\":21}", 5)),
        ));
        steps.push(Step::Send(E, s_ap.seal(23, &puback(7, 0x87, 5))));
        let keys = keylog_for(&CLIENT_RANDOM, &s.keylog_lines());
        let (trace, got) = run_in_pieces(&steps, &keys);

        let mut want = handshake_lines(suite);
        want.push(format!("D>* PUBLISH {TOPIC} id Some(7) 8B"));
        want.push("E>* PUBACK id 7 code 0x87".into());
        assert_eq!(got, want, "suite {suite:#06x}");

        let fs = findings(&trace);
        let denied = finding(&fs, "AUTHZ.PUBLISH_DENIED");
        assert_eq!(denied.severity, Severity::Error, "suite {suite:#06x}");
        assert!(denied.summary.contains(TOPIC), "{}", denied.summary);
        assert!(
            !fs.iter().any(|f| f.code == "TLS.NOT_DECRYPTED"),
            "{:?}",
            codes(&fs)
        );
    }
}

#[test]
fn key_updates_in_both_directions_are_followed() {
    let suite = 0x1301;
    let s = Secrets::new(suite);
    let (mut steps, mut c_ap, mut s_ap) = handshake_steps(suite, &s);
    steps.push(Step::Send(D, c_ap.seal(23, &publish(TOPIC, 1, b"a", 5))));
    steps.push(Step::Send(E, s_ap.seal(23, &puback(1, 0, 5))));
    // The device updates and asks the endpoint to do the same.
    let mut device = c_ap.key_update(true);
    device.extend(c_ap.seal(23, &publish(TOPIC, 2, b"bb", 5)));
    steps.push(Step::Send(D, device));
    let mut endpoint = s_ap.key_update(false);
    endpoint.extend(s_ap.seal(23, &puback(2, 0, 5)));
    steps.push(Step::Send(E, endpoint));
    // A second update from the device alone, with a record before and after it. PUBLISH 3
    // is sent on its own: see `decrypted_data_keeps_its_place_before_a_later_key_update`.
    steps.push(Step::Send(D, c_ap.seal(23, &publish(TOPIC, 3, b"ccc", 5))));
    let mut device = c_ap.key_update(false);
    device.extend(c_ap.seal(23, &publish(TOPIC, 4, b"dddd", 5)));
    steps.push(Step::Send(D, device));
    steps.push(Step::Send(E, s_ap.seal(23, &puback(4, 0x87, 5))));

    let keys = keylog_for(&CLIENT_RANDOM, &s.keylog_lines());
    let (trace, got) = run_in_pieces(&steps, &keys);
    let mut want = handshake_lines(suite);
    want.extend(
        [
            "D>* PUBLISH devices/sensor-01/telemetry id Some(1) 1B",
            "E>* PUBACK id 1 code 0x00",
            "D>* KeyUpdate 1",
            "D>* PUBLISH devices/sensor-01/telemetry id Some(2) 2B",
            "E>* KeyUpdate 1",
            "E>* PUBACK id 2 code 0x00",
            "D>* PUBLISH devices/sensor-01/telemetry id Some(3) 3B",
            "D>* KeyUpdate 1",
            "D>* PUBLISH devices/sensor-01/telemetry id Some(4) 4B",
            "E>* PUBACK id 4 code 0x87",
        ]
        .map(String::from),
    );
    assert_eq!(got, want);
    let fs = findings(&trace);
    assert!(finding(&fs, "AUTHZ.PUBLISH_DENIED")
        .summary
        .contains("PUBLISH 4"));
}

/// Known defect, left for the session: decrypted application data is handed to the MQTT
/// decoder only after a whole `feed` call, so when one TCP segment holds an application
/// record and then a KeyUpdate (or an alert), the KeyUpdate event comes out before the MQTT
/// packet that preceded it on the wire. Fed one byte at a time the order is right.
#[test]
fn decrypted_data_keeps_its_place_before_a_later_key_update() {
    let suite = 0x1301;
    let s = Secrets::new(suite);
    let (mut steps, mut c_ap, _) = handshake_steps(suite, &s);
    let mut device = c_ap.seal(23, &publish(TOPIC, 3, b"ccc", 5));
    device.extend(c_ap.key_update(false));
    steps.push(Step::Send(D, device));
    let keys = keylog_for(&CLIENT_RANDOM, &s.keylog_lines());
    let got = lines(&run(&steps, &keys, usize::MAX));
    assert_eq!(
        got[got.len() - 2..],
        [
            format!("D>* PUBLISH {TOPIC} id Some(3) 3B"),
            "D>* KeyUpdate 1".to_string()
        ]
    );
}

#[test]
fn a_wrong_secret_for_the_endpoint_leaves_only_its_records_encrypted() {
    let suite = 0x1302;
    let s = Secrets::new(suite);
    let (mut steps, mut c_ap, mut s_ap) = handshake_steps(suite, &s);
    steps.push(Step::Send(D, c_ap.seal(23, &publish(TOPIC, 7, b"x", 5))));
    steps.push(Step::Send(E, s_ap.seal(23, &puback(7, 0x87, 5))));
    let mut lines = s.keylog_lines();
    lines[1].1 = vec![0x99; 48]; // SERVER_HANDSHAKE_TRAFFIC_SECRET
    let keys = keylog_for(&CLIENT_RANDOM, &lines);
    let (trace, got) = run_in_pieces(&steps, &keys);

    let undecrypted: Vec<&String> = got.iter().filter(|l| l.contains("Undecrypted")).collect();
    assert_eq!(undecrypted.len(), 1, "{got:#?}");
    assert!(
        undecrypted[0]
            .starts_with("E> Undecrypted: decryption failed at record 1 of this direction"),
        "{}",
        undecrypted[0]
    );
    // The endpoint's five records stay encrypted; nothing of it reads as decrypted.
    assert_eq!(count(&got, "E>*"), 0, "{got:#?}");
    let encrypted: Vec<&String> = got
        .iter()
        .filter(|l| l.starts_with("E> Encrypted"))
        .collect();
    assert_eq!(encrypted.len(), 5, "{got:#?}");
    // The device's side is whole.
    for want in [
        "D>* Finished 48",
        "D>* CONNECT sensor-01 level 5",
        "D>* PUBLISH devices/sensor-01/telemetry id Some(7) 1B",
    ] {
        assert!(got.iter().any(|l| l == want), "{want} missing: {got:#?}");
    }

    let fs = findings(&trace);
    let nd = finding(&fs, "TLS.NOT_DECRYPTED");
    assert_eq!(nd.severity, Severity::Info);
    assert!(
        nd.summary.starts_with("The endpoint's records"),
        "{}",
        nd.summary
    );
    assert!(
        !fs.iter().any(|f| f.severity == Severity::Error),
        "{:#?}",
        codes(&fs)
    );
}

#[test]
fn a_key_log_without_the_connection_says_so_once_per_direction() {
    let suite = 0x1303;
    let s = Secrets::new(suite);
    let (steps, _, _) = handshake_steps(suite, &s);
    let keys = keylog_for(&[0xaa; 32], &s.keylog_lines());
    let (trace, got) = run_in_pieces(&steps, &keys);
    let reason = format!(
        "the key log has no secrets for client random {}",
        "c1".repeat(32)
    );
    assert_eq!(
        got.iter()
            .filter(|l| l.contains("Undecrypted"))
            .collect::<Vec<_>>(),
        [
            &format!("E> Undecrypted: {reason}"),
            &format!("D> Undecrypted: {reason}")
        ]
    );
    assert_eq!(count(&got, "D>*") + count(&got, "E>*"), 0, "{got:#?}");
    // Endpoint: three handshake records then CONNACK; device: Finished then CONNECT.
    let encrypted: Vec<&str> = got
        .iter()
        .filter(|l| l.contains("Encrypted"))
        .map(|l| l.split(" records").next().unwrap_or(""))
        .collect();
    assert_eq!(
        encrypted,
        [
            "E> Encrypted 23 Handshake 1",
            "E> Encrypted 23 Handshake 1",
            "E> Encrypted 23 Handshake 1",
            "D> Encrypted 23 Handshake 1",
            "D> Encrypted 23 Handshake 1",
            "E> Encrypted 23 Application 1",
        ],
        "{got:#?}"
    );
    let fs = findings(&trace);
    assert_eq!(finding(&fs, "TLS.NOT_DECRYPTED").severity, Severity::Info);
}

#[test]
fn a_record_cut_by_fin_is_reported_with_its_sizes() {
    let suite = 0x1301;
    let s = Secrets::new(suite);
    let (mut steps, mut c_ap, _) = handshake_steps(suite, &s);
    let device_before: usize = steps
        .iter()
        .map(|st| match st {
            Step::Send(D, b) => b.len(),
            _ => 0,
        })
        .sum();
    let rec = c_ap.seal(23, &publish(TOPIC, 9, b"cut short", 5));
    let total = rec.len();
    steps.push(Step::Send(D, rec[..20].to_vec()));
    steps.push(Step::Fin(D));
    // The endpoint's FIN after only three bytes of a header.
    steps.push(Step::Send(E, vec![23, 3, 3]));
    steps.push(Step::Fin(E));
    let keys = keylog_for(&CLIENT_RANDOM, &s.keylog_lines());
    let (_, got) = run_in_pieces(&steps, &keys);
    let tail: Vec<&str> = got[got.len() - 4..].iter().map(String::as_str).collect();
    assert_eq!(
        tail[0],
        format!(
            "D> Unfinished @{device_before}: 20 of {total} bytes of an application data record"
        )
    );
    assert_eq!(tail[1], "D> tcp_fin");
    let endpoint_before: usize = steps
        .iter()
        .map(|st| match st {
            Step::Send(E, b) if b.len() > 3 => b.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(
        tail[2],
        format!("E> Unfinished @{endpoint_before}: 3 of 5 bytes of an application data record")
    );
    assert_eq!(tail[3], "E> tcp_fin");
    assert!(!got.iter().any(|l| l.contains("Undecrypted")), "{got:#?}");
}

/// A 1 MB PUBLISH whose middle records were missed (what a proxy that could not keep up used
/// to hand on): the records after the gap do not decrypt because their sequence numbers are
/// lost, which is no key problem; the PUBLISH is still reported from its header fields, with
/// the bytes not seen, so AWS IoT's payload limit still shows; nothing is called malformed.
#[test]
fn records_missed_under_decryption_are_a_gap_not_a_bad_key_or_packet() {
    let suite = 0x1301;
    let s = Secrets::new(suite);
    let (mut steps, mut c_ap, _) = handshake_steps(suite, &s);
    let payload = vec![b'x'; 1 << 20];
    let packet = publish(TOPIC, 3, &payload, 5);
    let records: Vec<Vec<u8>> = packet.chunks(16 * 1024).map(|c| c_ap.seal(23, c)).collect();
    let (head, rest) = records.split_at(10);
    let (missed, tail) = rest.split_at(20);
    for r in head {
        steps.push(Step::Send(D, r.clone()));
    }
    steps.push(Step::Gap(D, missed.iter().map(|r| r.len() as u64).sum()));
    for r in tail {
        steps.push(Step::Send(D, r.clone()));
    }
    steps.push(Step::Fin(D));
    let keys = keylog_for(&CLIENT_RANDOM, &s.keylog_lines());
    let trace = run(&steps, &keys, usize::MAX);
    let publish = trace
        .events()
        .find_map(|e| match &e.kind {
            iotscope_decoder::EventKind::Mqtt(p)
                if p.packet_type == iotscope_decoder::mqtt::PacketType::Publish =>
            {
                Some(p.clone())
            }
            _ => None,
        })
        .expect("the PUBLISH is reported");
    let iotscope_decoder::mqtt::Body::Publish(body) = &publish.body else {
        panic!("{publish:?}")
    };
    assert_eq!(body.payload_len, 1 << 20);
    assert!(
        publish.lost > 0 && publish.problems.is_empty(),
        "{publish:?}"
    );
    let undecrypted: Vec<String> = trace
        .events()
        .filter_map(|e| match &e.kind {
            iotscope_decoder::EventKind::Undecrypted { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(undecrypted.len(), 1, "{undecrypted:?}");
    assert!(
        undecrypted[0].contains("were missed before record")
            && !undecrypted[0].contains("does not belong"),
        "{undecrypted:?}"
    );
    let fs = findings(&trace);
    let c = codes(&fs);
    assert_eq!(c, ["MQTT.AWS_LIMIT warning", "CONN.TRUNCATED info"]);
}

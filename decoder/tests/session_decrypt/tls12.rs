//! A TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 connection sealed from a CLIENT_RANDOM master
//! secret: each side's Finished after its ChangeCipherSpec, then two application records.

use super::run::*;
use super::wire::*;

const SUITE: u16 = 0xc02f;
const MASTER: [u8; 48] = [0x6d; 48];
const TOPIC: &str = "devices/sensor-12/telemetry";

fn steps() -> Vec<Step> {
    let mut client = Sealer12::new(&MASTER, true);
    let mut server = Sealer12::new(&MASTER, false);

    let mut hello = server_hello(SUITE, false);
    hello.extend(certificate(SERVER_DER, false));
    hello.extend(handshake(14, &[]));

    let mut key_exchange = vec![0x20];
    key_exchange.extend_from_slice(&[0x42; 32]);
    let mut device = record(22, &handshake(16, &key_exchange));
    device.extend(record(20, &[1]));
    device.extend(client.seal(22, &finished(12)));
    device.extend(client.seal(23, &connect("sensor-12", 4)));

    let mut endpoint = record(20, &[1]);
    endpoint.extend(server.seal(22, &finished(12)));
    endpoint.extend(server.seal(23, &connack(0, 4)));

    vec![
        Step::Send(D, client_hello(&[SUITE, 0xc030], false)),
        Step::Send(E, record(22, &hello)),
        Step::Send(D, device),
        Step::Send(E, endpoint),
        Step::Send(D, client.seal(23, &publish(TOPIC, 3, b"21.5", 4))),
        Step::Send(E, server.seal(23, &puback(3, 0, 4))),
    ]
}

#[test]
fn tls12_gcm_finished_and_mqtt_are_decrypted() {
    let keys = keylog_for(&CLIENT_RANDOM, &[("CLIENT_RANDOM", MASTER.to_vec())]);
    let (trace, got) = run_in_pieces(&steps(), &keys);
    let want = [
        "D> tcp_open".to_string(),
        "D> Protocol TLS".into(),
        "D> ClientHello".into(),
        "E> Protocol TLS".into(),
        "E> ServerHello 0xc02f".into(),
        format!("E> Certificate [{SERVER_SUBJECT}]"),
        "E> ServerHelloDone 0".into(),
        "D> ClientKeyExchange 33".into(),
        "D> change_cipher_spec".into(),
        "D>* Finished 12".into(),
        "D>* Protocol MQTT".into(),
        "D>* CONNECT sensor-12 level 4".into(),
        "E> change_cipher_spec".into(),
        "E>* Finished 12".into(),
        "E>* Protocol MQTT".into(),
        "E>* CONNACK code 0x00".into(),
        format!("D>* PUBLISH {TOPIC} id Some(3) 4B"),
        "E>* PUBACK id 3 code 0x00".into(),
    ];
    assert_eq!(got, want);
    let fs = findings(&trace);
    assert!(
        !fs.iter()
            .any(|f| f.code == "TLS.NOT_DECRYPTED" || f.code.as_str().starts_with("AUTHZ.")),
        "{:?}",
        codes(&fs)
    );
}

#[test]
fn tls12_with_another_master_secret_fails_at_the_finished() {
    let keys = keylog_for(&CLIENT_RANDOM, &[("CLIENT_RANDOM", vec![0x6e; 48])]);
    let (_, got) = run_in_pieces(&steps(), &keys);
    let undecrypted: Vec<&String> = got.iter().filter(|l| l.contains("Undecrypted")).collect();
    assert_eq!(undecrypted.len(), 2, "{got:#?}");
    for (line, dir) in undecrypted.iter().zip(["D>", "E>"]) {
        assert!(
            line.starts_with(&format!(
                "{dir} Undecrypted: decryption failed at record 1 of this direction"
            )),
            "{line}"
        );
    }
    assert_eq!(count(&got, "D>*") + count(&got, "E>*"), 0, "{got:#?}");
}

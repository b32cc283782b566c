//! Record decryption against published and captured vectors.
//!
//! Where the bytes come from:
//! - RFC 8448 §3 (simple 1-RTT, TLS_AES_128_GCM_SHA256): the server handshake traffic secret
//!   and the server's encrypted flight, as printed in the RFC.
//! - The Illustrated TLS 1.3 / 1.2 captures in `captures/reference/public/` and their key logs.
//!   Records were cut from `tshark -r FILE -T fields -e frame.number -e tcp.srcport
//!   -e tcp.payload -Y tcp.len>0` by splitting each payload at the 5-byte record headers; the
//!   randoms are the hellos' `tls.handshake.random`.
//! - `captures/reference/lab/03_success_mqtt311_tls12` (mosquitto on OpenSSL, TLS 1.2
//!   ECDHE_RSA_WITH_AES_256_GCM_SHA384) and its `.keys`, cut the same way.
//! - `O12_*` / `O13_*`: one handshake each between two OpenSSL 3.0 endpoints (Python's `ssl`
//!   with `MemoryBIO`, so no sockets), client writing "ping" and server "pong", the client's
//!   `keylog_filename` giving the secrets and the bytes written to the BIOs giving the records.
//!   Suites were forced with `set_ciphers` (TLS 1.2; encrypt-then-MAC left on or turned off
//!   with `SSL_OP_NO_ENCRYPT_THEN_MAC`) or an `OPENSSL_CONF` `Ciphersuites` line (TLS 1.3).
//! - Key blocks and the KeyUpdate record: computed once with Python's `hmac`/`hashlib` (the
//!   RFC 5246 PRF and RFC 5869 HKDF written out by hand) and `cryptography`'s AES-GCM, so they
//!   do not share code with what they check.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use iotscope_decoder::decrypt::{
    keylog_label, suite_supported, tls13_traffic_secret, DecryptError, Epoch, RecordDecryptor,
    Version, Writer,
};
use iotscope_decoder::hex;
use iotscope_decoder::keylog::KeyLog;
use proptest::prelude::*;

const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).expect("fixture hex")
}

fn random(text: &str) -> [u8; 32] {
    bytes(text).try_into().expect("32-byte random")
}

/// A whole record as hex → (header, payload).
fn record(text: &str) -> ([u8; 5], Vec<u8>) {
    let b = bytes(text);
    let header: [u8; 5] = b[..5].try_into().unwrap();
    assert_eq!(usize::from(u16::from_be_bytes([b[3], b[4]])), b.len() - 5);
    (header, b[5..].to_vec())
}

fn open(d: &mut RecordDecryptor, text: &str) -> (u8, Vec<u8>) {
    let (header, payload) = record(text);
    d.decrypt(&header, &payload)
        .unwrap_or_else(|e| panic!("record {}: {e}", d.next_sequence()))
}

/// The handshake messages in a plaintext: (type, body length) of each, all bytes accounted for.
fn handshake_messages(plain: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut rest = plain;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a partial handshake header: {rest:02x?}");
        let len = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        assert!(
            rest.len() >= 4 + len,
            "handshake message overruns the record"
        );
        out.push((rest[0], len));
        rest = &rest[4 + len..];
    }
    out
}

fn secret(log: &KeyLog, writer: Writer, epoch: Epoch) -> Vec<u8> {
    let secrets = log
        .get(&random(ILLUSTRATED_CLIENT_RANDOM))
        .expect("connection in the log");
    tls13_traffic_secret(secrets, writer, epoch)
        .unwrap_or_else(|| panic!("no {}", keylog_label(writer, epoch)))
        .to_vec()
}

fn flip_last_byte(text: &str) -> ([u8; 5], Vec<u8>) {
    let (header, mut payload) = record(text);
    *payload.last_mut().unwrap() ^= 0x01;
    (header, payload)
}

// ---------------------------------------------------------------------------------------------
// RFC 8448

#[test]
fn rfc8448_server_flight_opens_with_encrypted_extensions() {
    let mut d = RecordDecryptor::tls13(0x1301, &bytes(RFC8448_SERVER_HANDSHAKE_SECRET)).unwrap();
    let (content_type, plain) = open(&mut d, RFC8448_SERVER_FLIGHT);
    assert_eq!(content_type, CONTENT_HANDSHAKE);
    assert_eq!(plain[0], 0x08, "EncryptedExtensions comes first");
    // EncryptedExtensions, Certificate, CertificateVerify, Finished (SHA-256: 32 bytes).
    let types: Vec<u8> = handshake_messages(&plain).iter().map(|m| m.0).collect();
    assert_eq!(types, [8, 11, 15, 20]);
    assert_eq!(handshake_messages(&plain).last(), Some(&(20, 32)));
    assert_eq!(d.records_decrypted(), 1);
    assert_eq!(d.next_sequence(), 1);
}

// ---------------------------------------------------------------------------------------------
// Illustrated TLS 1.3: TLS_AES_256_GCM_SHA384

#[test]
fn illustrated_tls13_server_handshake_flight() {
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut d =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Server, Epoch::Handshake)).unwrap();

    let (t, ee) = open(&mut d, I13_SERVER_EE);
    assert_eq!((t, ee[0]), (CONTENT_HANDSHAKE, 0x08));
    assert_eq!(handshake_messages(&ee), [(8, 2)]);

    let (t, cert) = open(&mut d, I13_SERVER_CERT);
    assert_eq!((t, cert[0]), (CONTENT_HANDSHAKE, 0x0b));
    // Certificate: request context (empty), list length, then the first entry's DER.
    assert_eq!(cert[4], 0, "empty certificate_request_context");
    let der_len = usize::from(cert[8]) << 16 | usize::from(cert[9]) << 8 | usize::from(cert[10]);
    let der = &cert[11..11 + der_len];
    // The subject's common name as DER: OID 2.5.4.3, PrintableString of 19 bytes.
    let cn: Vec<u8> = [
        &[0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x13][..],
        b"example.ulfheim.net",
    ]
    .concat();
    assert!(
        der.windows(cn.len()).any(|w| w == cn),
        "CN=example.ulfheim.net in the DER"
    );
    let (_, parsed) = x509_parser::parse_x509_certificate(der).expect("the DER parses");
    assert_eq!(parsed.subject().to_string(), "C=US, CN=example.ulfheim.net");

    let (t, cv) = open(&mut d, I13_SERVER_CV);
    assert_eq!((t, cv[0]), (CONTENT_HANDSHAKE, 0x0f));
    let (t, fin) = open(&mut d, I13_SERVER_FIN);
    assert_eq!(t, CONTENT_HANDSHAKE);
    assert_eq!(handshake_messages(&fin), [(20, 48)], "SHA-384 verify_data");
    assert_eq!(d.records_decrypted(), 4);
}

#[test]
fn illustrated_tls13_client_finished_and_application_data() {
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut hs =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Client, Epoch::Handshake)).unwrap();
    let (t, fin) = open(&mut hs, I13_CLIENT_FIN);
    assert_eq!(t, CONTENT_HANDSHAKE);
    assert_eq!(handshake_messages(&fin), [(20, 48)]);

    let mut client =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Client, Epoch::Application)).unwrap();
    assert_eq!(
        open(&mut client, I13_CLIENT_PING),
        (CONTENT_APPLICATION_DATA, b"ping".to_vec())
    );

    let mut server =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Server, Epoch::Application)).unwrap();
    for ticket in [I13_SERVER_TICKET_1, I13_SERVER_TICKET_2] {
        let (t, plain) = open(&mut server, ticket);
        assert_eq!((t, plain[0]), (CONTENT_HANDSHAKE, 0x04), "NewSessionTicket");
    }
    assert_eq!(
        open(&mut server, I13_SERVER_PONG),
        (CONTENT_APPLICATION_DATA, b"pong".to_vec())
    );
    assert_eq!(server.records_decrypted(), 3);
}

#[test]
fn key_update_moves_to_the_next_secret_and_restarts_the_count() {
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut server =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Server, Epoch::Application)).unwrap();
    for r in [I13_SERVER_TICKET_1, I13_SERVER_TICKET_2, I13_SERVER_PONG] {
        open(&mut server, r);
    }
    // Under the old keys the updated record does not open.
    let (header, payload) = record(KEY_UPDATE_1_RECORD);
    assert_eq!(
        server.decrypt(&header, &payload),
        Err(DecryptError::AuthenticationFailed { record: 3 })
    );
    server.key_update().unwrap();
    assert_eq!(server.next_sequence(), 0);
    assert_eq!(
        open(&mut server, KEY_UPDATE_1_RECORD),
        (CONTENT_APPLICATION_DATA, b"after update".to_vec())
    );
    server.key_update().unwrap();
    // This one carries three bytes of zero padding after its content type.
    assert_eq!(
        open(&mut server, KEY_UPDATE_2_RECORD),
        (CONTENT_APPLICATION_DATA, b"twice".to_vec())
    );
    assert_eq!(server.records_decrypted(), 5);
}

// ---------------------------------------------------------------------------------------------
// Illustrated TLS 1.2: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, MAC-then-encrypt

fn illustrated_tls12(writer: Writer) -> RecordDecryptor {
    RecordDecryptor::tls12(
        0xc013,
        &bytes(ILLUSTRATED_TLS12_MASTER),
        &random(ILLUSTRATED_CLIENT_RANDOM),
        &random(ILLUSTRATED_SERVER_RANDOM),
        writer,
        false,
    )
    .unwrap()
}

const ILLUSTRATED_TLS12: Tls12Case = Tls12Case {
    suite: 0xc013,
    master: ILLUSTRATED_TLS12_MASTER,
    client_random: ILLUSTRATED_CLIENT_RANDOM,
    server_random: ILLUSTRATED_SERVER_RANDOM,
    encrypt_then_mac: false,
    client: [I12_CLIENT_FIN, I12_CLIENT_PING],
    server: [I12_SERVER_FIN, I12_SERVER_PONG],
};

#[test]
fn illustrated_tls12_key_log_gives_the_master_secret() {
    let log = KeyLog::parse(ILLUSTRATED_TLS12_KEYLOG);
    let secrets = log.get(&random(ILLUSTRATED_CLIENT_RANDOM)).unwrap();
    assert_eq!(secrets.master_secret, Some(bytes(ILLUSTRATED_TLS12_MASTER)));
    check_tls12_case(&ILLUSTRATED_TLS12);
}

#[test]
fn illustrated_tls12_cbc_client_records() {
    let mut d = illustrated_tls12(Writer::Client);
    let (t, fin) = open(&mut d, I12_CLIENT_FIN);
    assert_eq!(t, CONTENT_HANDSHAKE);
    assert_eq!(
        handshake_messages(&fin),
        [(20, 12)],
        "Finished with 12 bytes of verify_data"
    );
    assert_eq!(
        open(&mut d, I12_CLIENT_PING),
        (CONTENT_APPLICATION_DATA, b"ping".to_vec())
    );
    // close_notify at warning level.
    assert_eq!(open(&mut d, I12_CLIENT_ALERT), (CONTENT_ALERT, vec![1, 0]));
    assert_eq!(d.records_decrypted(), 3);
}

#[test]
fn illustrated_tls12_cbc_server_records() {
    let mut d = illustrated_tls12(Writer::Server);
    let (t, fin) = open(&mut d, I12_SERVER_FIN);
    assert_eq!(t, CONTENT_HANDSHAKE);
    assert_eq!(handshake_messages(&fin), [(20, 12)]);
    assert_eq!(
        open(&mut d, I12_SERVER_PONG),
        (CONTENT_APPLICATION_DATA, b"pong".to_vec())
    );
}

#[test]
fn the_other_writers_keys_do_not_open_a_record() {
    let mut d = illustrated_tls12(Writer::Server);
    let (header, payload) = record(I12_CLIENT_FIN);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::BadMac { record: 0 })
    );
}

// ---------------------------------------------------------------------------------------------
// Lab capture 03: mosquitto/OpenSSL, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

const LAB03: Tls12Case = Tls12Case {
    suite: 0xc030,
    master: LAB03_MASTER,
    client_random: LAB03_CLIENT_RANDOM,
    server_random: LAB03_SERVER_RANDOM,
    encrypt_then_mac: false,
    client: [LAB03_CLIENT_FIN, LAB03_CLIENT_CONNECT],
    server: [LAB03_SERVER_FIN, LAB03_SERVER_CONNACK],
};

#[test]
fn lab_tls12_aes256_gcm_carries_mqtt() {
    let new = |writer| {
        RecordDecryptor::tls12(
            LAB03.suite,
            &bytes(LAB03.master),
            &random(LAB03.client_random),
            &random(LAB03.server_random),
            writer,
            false,
        )
        .unwrap()
    };
    let mut device = new(Writer::Client);
    let (t, fin) = open(&mut device, LAB03_CLIENT_FIN);
    assert_eq!(t, CONTENT_HANDSHAKE);
    assert_eq!(handshake_messages(&fin), [(20, 12)]);
    let (t, connect) = open(&mut device, LAB03_CLIENT_CONNECT);
    assert_eq!(t, CONTENT_APPLICATION_DATA);
    assert_eq!(
        &connect[..9],
        b"\x10\x1a\x00\x04MQTT\x04",
        "MQTT 3.1.1 CONNECT"
    );
    assert!(connect.ends_with(b"good-pub-tls12"), "client id");

    let mut endpoint = new(Writer::Server);
    let (t, fin) = open(&mut endpoint, LAB03_SERVER_FIN);
    assert_eq!(
        (t, handshake_messages(&fin)),
        (CONTENT_HANDSHAKE, vec![(20, 12)])
    );
    assert_eq!(
        open(&mut endpoint, LAB03_SERVER_CONNACK),
        (CONTENT_APPLICATION_DATA, vec![0x20, 0x02, 0x00, 0x00]),
        "CONNACK, accepted"
    );
}

// ---------------------------------------------------------------------------------------------
// OpenSSL-made handshakes

struct Tls12Case {
    suite: u16,
    master: &'static str,
    client_random: &'static str,
    server_random: &'static str,
    encrypt_then_mac: bool,
    client: [&'static str; 2],
    server: [&'static str; 2],
}

fn check_tls12_case(case: &Tls12Case) {
    for (writer, records, said) in [
        (Writer::Client, case.client, b"ping"),
        (Writer::Server, case.server, b"pong"),
    ] {
        let mut d = RecordDecryptor::tls12(
            case.suite,
            &bytes(case.master),
            &random(case.client_random),
            &random(case.server_random),
            writer,
            case.encrypt_then_mac,
        )
        .unwrap();
        let (t, fin) = open(&mut d, records[0]);
        assert_eq!(t, CONTENT_HANDSHAKE, "{:#06x} {writer:?}", case.suite);
        assert_eq!(
            handshake_messages(&fin),
            [(20, 12)],
            "{:#06x} {writer:?}",
            case.suite
        );
        assert_eq!(
            open(&mut d, records[1]),
            (CONTENT_APPLICATION_DATA, said.to_vec()),
            "{:#06x} {writer:?}",
            case.suite
        );
    }
}

#[test]
fn openssl_tls12_chacha20_poly1305() {
    check_tls12_case(&Tls12Case {
        suite: 0xcca8,
        master: O12_CHACHA_MASTER,
        client_random: O12_CHACHA_CLIENT_RANDOM,
        server_random: O12_CHACHA_SERVER_RANDOM,
        encrypt_then_mac: false,
        client: [O12_CHACHA_CLIENT_FIN, O12_CHACHA_CLIENT_PING],
        server: [O12_CHACHA_SERVER_FIN, O12_CHACHA_SERVER_PONG],
    });
}

const O12_CBC384_ETM: Tls12Case = Tls12Case {
    suite: 0xc028,
    master: O12_CBC384_ETM_MASTER,
    client_random: O12_CBC384_ETM_CLIENT_RANDOM,
    server_random: O12_CBC384_ETM_SERVER_RANDOM,
    encrypt_then_mac: true,
    client: [O12_CBC384_ETM_CLIENT_FIN, O12_CBC384_ETM_CLIENT_PING],
    server: [O12_CBC384_ETM_SERVER_FIN, O12_CBC384_ETM_SERVER_PONG],
};

#[test]
fn openssl_tls12_cbc_sha384_encrypt_then_mac() {
    check_tls12_case(&O12_CBC384_ETM);
}

#[test]
fn encrypt_then_mac_must_be_known_not_guessed() {
    // The same records read as MAC-then-encrypt fail rather than yield plaintext.
    let mut d = RecordDecryptor::tls12(
        0xc028,
        &bytes(O12_CBC384_ETM_MASTER),
        &random(O12_CBC384_ETM_CLIENT_RANDOM),
        &random(O12_CBC384_ETM_SERVER_RANDOM),
        Writer::Client,
        false,
    )
    .unwrap();
    let (header, payload) = record(O12_CBC384_ETM_CLIENT_FIN);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::BadMac { record: 0 })
    );
}

#[test]
fn openssl_tls12_cbc_sha256_mac_then_encrypt() {
    check_tls12_case(&Tls12Case {
        suite: 0xc027,
        master: O12_CBC256_MASTER,
        client_random: O12_CBC256_CLIENT_RANDOM,
        server_random: O12_CBC256_SERVER_RANDOM,
        encrypt_then_mac: false,
        client: [O12_CBC256_CLIENT_FIN, O12_CBC256_CLIENT_PING],
        server: [O12_CBC256_SERVER_FIN, O12_CBC256_SERVER_PONG],
    });
}

#[test]
fn openssl_tls13_chacha20_poly1305() {
    let d = |s: &str| RecordDecryptor::tls13(0x1303, &bytes(s)).unwrap();
    let mut server_hs = d(O13_CHACHA_SERVER_HANDSHAKE_TRAFFIC_SECRET);
    assert_eq!(open(&mut server_hs, O13_CHACHA_SERVER_EE).1[0], 0x08);
    let mut client_hs = d(O13_CHACHA_CLIENT_HANDSHAKE_TRAFFIC_SECRET);
    let (t, fin) = open(&mut client_hs, O13_CHACHA_CLIENT_FIN);
    assert_eq!(
        (t, handshake_messages(&fin)),
        (CONTENT_HANDSHAKE, vec![(20, 32)])
    );
    let mut client = d(O13_CHACHA_CLIENT_TRAFFIC_SECRET_0);
    assert_eq!(
        open(&mut client, O13_CHACHA_CLIENT_PING),
        (CONTENT_APPLICATION_DATA, b"ping".to_vec())
    );
    let mut server = d(O13_CHACHA_SERVER_TRAFFIC_SECRET_0);
    open(&mut server, O13_CHACHA_SERVER_TICKET_1);
    open(&mut server, O13_CHACHA_SERVER_TICKET_2);
    assert_eq!(
        open(&mut server, O13_CHACHA_SERVER_PONG),
        (CONTENT_APPLICATION_DATA, b"pong".to_vec())
    );
}

// ---------------------------------------------------------------------------------------------
// Failures: wrong secrets, altered and short records; the count stays put.

#[test]
fn a_wrong_tls13_secret_fails_authentication_without_plaintext() {
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut wrong = secret(&log, Writer::Server, Epoch::Handshake);
    wrong[0] ^= 0x80;
    let mut d = RecordDecryptor::tls13(0x1302, &wrong).unwrap();
    let (header, payload) = record(I13_SERVER_EE);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::AuthenticationFailed { record: 0 })
    );
    assert_eq!((d.records_decrypted(), d.next_sequence()), (0, 0));
    // The client's handshake secret is a real secret, just not this direction's.
    let mut d =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Client, Epoch::Handshake)).unwrap();
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::AuthenticationFailed { record: 0 })
    );
}

#[test]
fn a_wrong_tls12_master_secret_fails_the_tag_or_the_mac() {
    let cases = [
        (&LAB03, DecryptError::AuthenticationFailed { record: 0 }),
        (&ILLUSTRATED_TLS12, DecryptError::BadMac { record: 0 }),
        (&O12_CBC384_ETM, DecryptError::BadMac { record: 0 }),
    ];
    for (case, expected) in cases {
        let mut master = bytes(case.master);
        master[0] ^= 1;
        let mut d = RecordDecryptor::tls12(
            case.suite,
            &master,
            &random(case.client_random),
            &random(case.server_random),
            Writer::Client,
            case.encrypt_then_mac,
        )
        .unwrap();
        let (header, payload) = record(case.client[0]);
        assert_eq!(
            d.decrypt(&header, &payload),
            Err(expected),
            "{:#06x}",
            case.suite
        );
        assert_eq!(d.records_decrypted(), 0);
    }
}

#[test]
fn a_failed_record_does_not_advance_the_sequence_number() {
    // TLS 1.3: an altered record, then the real one.
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut d =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Server, Epoch::Handshake)).unwrap();
    let (header, payload) = flip_last_byte(I13_SERVER_EE);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::AuthenticationFailed { record: 0 })
    );
    // A record out of order fails too (it was sealed under sequence number 1).
    let (header, payload) = record(I13_SERVER_CERT);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::AuthenticationFailed { record: 0 })
    );
    assert_eq!(open(&mut d, I13_SERVER_EE).0, CONTENT_HANDSHAKE);
    assert_eq!(open(&mut d, I13_SERVER_CERT).1[0], 0x0b);
    assert_eq!(d.records_decrypted(), 2);

    // TLS 1.2 CBC: the same.
    let mut d = illustrated_tls12(Writer::Client);
    let (header, payload) = flip_last_byte(I12_CLIENT_FIN);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::BadMac { record: 0 })
    );
    open(&mut d, I12_CLIENT_FIN);
    let (header, payload) = flip_last_byte(I12_CLIENT_PING);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::BadMac { record: 1 })
    );
    assert_eq!(open(&mut d, I12_CLIENT_PING).1, b"ping");

    // TLS 1.2 encrypt-then-MAC: a flipped MAC byte.
    let mut d = RecordDecryptor::tls12(
        0xc028,
        &bytes(O12_CBC384_ETM_MASTER),
        &random(O12_CBC384_ETM_CLIENT_RANDOM),
        &random(O12_CBC384_ETM_SERVER_RANDOM),
        Writer::Client,
        true,
    )
    .unwrap();
    let (header, payload) = flip_last_byte(O12_CBC384_ETM_CLIENT_FIN);
    assert_eq!(
        d.decrypt(&header, &payload),
        Err(DecryptError::BadMac { record: 0 })
    );
    assert_eq!(open(&mut d, O12_CBC384_ETM_CLIENT_FIN).0, CONTENT_HANDSHAKE);
}

#[test]
fn short_records_are_truncated_errors() {
    let log = KeyLog::parse(ILLUSTRATED_TLS13_KEYLOG);
    let mut tls13 =
        RecordDecryptor::tls13(0x1302, &secret(&log, Writer::Server, Epoch::Handshake)).unwrap();
    // A tag alone has no room for the inner content type.
    let header = [23, 3, 3, 0, 16];
    assert_eq!(
        tls13.decrypt(&header, &[0; 16]),
        Err(DecryptError::Truncated { record: 0, len: 16 })
    );
    let mut gcm = RecordDecryptor::tls12(
        0xc030,
        &bytes(LAB03_MASTER),
        &random(LAB03_CLIENT_RANDOM),
        &random(LAB03_SERVER_RANDOM),
        Writer::Client,
        false,
    )
    .unwrap();
    assert_eq!(
        gcm.decrypt(&[22, 3, 3, 0, 23], &[0; 23]),
        Err(DecryptError::Truncated { record: 0, len: 23 })
    );
    // CBC with a 20-byte MAC: IV plus two blocks at the least.
    let mut cbc = illustrated_tls12(Writer::Client);
    assert_eq!(
        cbc.decrypt(&[23, 3, 3, 0, 32], &[0; 32]),
        Err(DecryptError::Truncated { record: 0, len: 32 })
    );
    assert_eq!(
        cbc.decrypt(&[23, 3, 3, 0, 49], &[0; 49]),
        Err(DecryptError::NotBlockAligned { record: 0, len: 33 })
    );
    // The real record cut short by one byte, with the header adjusted to match.
    let (mut header, payload) = record(I12_CLIENT_FIN);
    header[4] -= 1;
    assert_eq!(
        cbc.decrypt(&header, &payload[..payload.len() - 1]),
        Err(DecryptError::NotBlockAligned { record: 0, len: 47 })
    );
    // A header that disagrees with the payload.
    let (header, payload) = record(I12_CLIENT_FIN);
    assert_eq!(
        cbc.decrypt(&header, &payload[..10]),
        Err(DecryptError::LengthMismatch {
            record: 0,
            header_len: 64,
            payload_len: 10
        })
    );
    assert_eq!(open(&mut cbc, I12_CLIENT_FIN).0, CONTENT_HANDSHAKE);
}

#[test]
fn errors_read_as_sentences_naming_the_record() {
    let cases = [
        (
            DecryptError::AuthenticationFailed { record: 7 },
            "the record with sequence number 7 did not authenticate",
        ),
        (
            DecryptError::BadMac { record: 2 },
            "sequence number 2 failed its MAC check",
        ),
        (
            DecryptError::Truncated { record: 0, len: 3 },
            "sequence number 0 is 3 bytes long",
        ),
        (DecryptError::UnsupportedSuite(0x000a), "0x000a"),
    ];
    for (error, start) in cases {
        assert!(error.to_string().contains(start), "{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// Construction

#[test]
fn suites_outside_the_table_or_the_version_are_refused() {
    for suite in [0x1301, 0x1302, 0x1303] {
        assert!(suite_supported(Version::Tls13, suite));
        assert!(!suite_supported(Version::Tls12, suite));
    }
    let tls12 = [
        0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009c, 0x009d, 0xcca8, 0xcca9, 0xc013, 0xc014, 0xc009,
        0xc00a, 0x002f, 0x0035, 0xc027, 0xc028, 0xc023, 0xc024, 0x003c, 0x003d,
    ];
    for suite in tls12 {
        assert!(suite_supported(Version::Tls12, suite), "{suite:#06x}");
        assert!(!suite_supported(Version::Tls13, suite), "{suite:#06x}");
        let d = RecordDecryptor::tls12(suite, &[7; 48], &[1; 32], &[2; 32], Writer::Server, false);
        assert_eq!(d.map(|d| d.suite()).ok(), Some(suite));
    }
    // 3DES, RC4 and a TLS 1.3 suite asked of TLS 1.2.
    for suite in [0x000a, 0x0005, 0x1301] {
        assert_eq!(
            RecordDecryptor::tls12(suite, &[7; 48], &[1; 32], &[2; 32], Writer::Client, false)
                .err(),
            Some(DecryptError::UnsupportedSuite(suite))
        );
    }
    assert_eq!(
        RecordDecryptor::tls13(0xc02f, &[0; 32]).err(),
        Some(DecryptError::UnsupportedSuite(0xc02f))
    );
}

#[test]
fn secrets_of_the_wrong_size_are_refused() {
    // A SHA-256 secret for a SHA-384 suite, an empty one, and a short master secret.
    assert!(matches!(
        RecordDecryptor::tls13(0x1302, &[1; 32]),
        Err(DecryptError::BadSecret(_))
    ));
    assert!(matches!(
        RecordDecryptor::tls13(0x1301, &[]),
        Err(DecryptError::BadSecret(_))
    ));
    assert!(matches!(
        RecordDecryptor::tls13(0x1301, &[1; 4096]),
        Err(DecryptError::BadSecret(_))
    ));
    assert!(matches!(
        RecordDecryptor::tls12(0xc02f, &[1; 47], &[1; 32], &[2; 32], Writer::Client, false),
        Err(DecryptError::BadSecret(_))
    ));
    let mut tls12 = illustrated_tls12(Writer::Client);
    assert_eq!(tls12.key_update(), Err(DecryptError::KeyUpdateNeedsTls13));
}

// ---------------------------------------------------------------------------------------------
// TLS 1.2 AEAD round trips from a key block computed apart (RFC 5246 §6.3 layout:
// client MAC key, server MAC key, client key, server key, client IV, server IV; AEAD suites
// have no MAC keys).

const RT_MASTER: [u8; 48] = {
    let mut m = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        m[i] = i as u8;
        i += 1;
    }
    m
};
const RT_CLIENT_RANDOM: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const RT_SERVER_RANDOM: &str = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf";

/// Seals `plain` as TLS 1.2 record number `seq` the way RFC 5288 / RFC 7905 describe.
fn seal_tls12(
    algorithm: &'static aead::Algorithm,
    key: &[u8],
    iv: &[u8],
    seq: u64,
    content_type: u8,
    plain: &[u8],
) -> ([u8; 5], Vec<u8>) {
    let key = LessSafeKey::new(UnboundKey::new(algorithm, key).unwrap());
    let mut aad = seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[content_type, 3, 3]);
    aad.extend_from_slice(&(plain.len() as u16).to_be_bytes());
    let (nonce, explicit) = if iv.len() == 4 {
        // GCM: salt ‖ explicit nonce; any unique explicit value will do, the sequence number is usual.
        let explicit = seq.to_be_bytes();
        ([iv, &explicit[..]].concat(), explicit.to_vec())
    } else {
        let mut n = iv.to_vec();
        for (a, b) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *a ^= b;
        }
        (n, Vec::new())
    };
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::try_assume_unique_for_key(&nonce).unwrap(),
        Aad::from(aad),
        &mut sealed,
    )
    .unwrap();
    let payload = [explicit, sealed].concat();
    let len = (payload.len() as u16).to_be_bytes();
    ([content_type, 3, 3, len[0], len[1]], payload)
}

fn round_trip(
    suite: u16,
    algorithm: &'static aead::Algorithm,
    key_block: &str,
    key_len: usize,
    iv_len: usize,
) {
    let block = bytes(key_block);
    assert_eq!(block.len(), 2 * (key_len + iv_len));
    let (client_key, rest) = block.split_at(key_len);
    let (server_key, rest) = rest.split_at(key_len);
    let (client_iv, server_iv) = rest.split_at(iv_len);
    for (writer, key, iv) in [
        (Writer::Client, client_key, client_iv),
        (Writer::Server, server_key, server_iv),
    ] {
        let mut d = RecordDecryptor::tls12(
            suite,
            &RT_MASTER,
            &random(RT_CLIENT_RANDOM),
            &random(RT_SERVER_RANDOM),
            writer,
            false,
        )
        .unwrap();
        let messages: [(u8, &[u8]); 4] = [
            (CONTENT_HANDSHAKE, b"\x14\x00\x00\x0c012345678901"),
            (CONTENT_APPLICATION_DATA, b""),
            (CONTENT_APPLICATION_DATA, &[0x5a; 3000]),
            (CONTENT_ALERT, b"\x01\x00"),
        ];
        for (seq, (content_type, plain)) in messages.into_iter().enumerate() {
            let (header, payload) = seal_tls12(algorithm, key, iv, seq as u64, content_type, plain);
            assert_eq!(
                d.decrypt(&header, &payload),
                Ok((content_type, plain.to_vec())),
                "{suite:#06x} {writer:?} record {seq}"
            );
        }
    }
}

#[test]
fn tls12_aes256_gcm_round_trip_from_an_independent_key_block() {
    round_trip(0xc030, &aead::AES_256_GCM, RT_KEY_BLOCK_C030, 32, 4);
}

#[test]
fn tls12_chacha20_round_trip_from_an_independent_key_block() {
    round_trip(0xcca8, &aead::CHACHA20_POLY1305, RT_KEY_BLOCK_CCA8, 32, 12);
}

// ---------------------------------------------------------------------------------------------
// Whatever arrives, nothing panics and nothing random decrypts.

fn any_decryptor() -> impl Strategy<Value = RecordDecryptor> {
    (0usize..8).prop_map(|i| {
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        match i {
            0 => RecordDecryptor::tls13(0x1301, &[3; 32]),
            1 => RecordDecryptor::tls13(0x1302, &[3; 48]),
            2 => RecordDecryptor::tls13(0x1303, &[3; 32]),
            3 => RecordDecryptor::tls12(0xc02f, &[4; 48], &cr, &sr, Writer::Client, false),
            4 => RecordDecryptor::tls12(0xcca9, &[4; 48], &cr, &sr, Writer::Server, false),
            5 => RecordDecryptor::tls12(0xc013, &[4; 48], &cr, &sr, Writer::Client, false),
            6 => RecordDecryptor::tls12(0xc024, &[4; 48], &cr, &sr, Writer::Server, true),
            _ => RecordDecryptor::tls12(0x003d, &[4; 48], &cr, &sr, Writer::Client, true),
        }
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_records_never_panic_and_never_decrypt(
        mut d in any_decryptor(),
        mut header in any::<[u8; 5]>(),
        payload in prop::collection::vec(any::<u8>(), 0..400),
        honest_length in any::<bool>(),
    ) {
        if honest_length {
            header[3..].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        let result = d.decrypt(&header, &payload);
        prop_assert!(result.is_err(), "{result:?}");
        prop_assert_eq!(d.next_sequence(), 0);
        prop_assert_eq!(d.records_decrypted(), 0);
        prop_assert!(!result.unwrap_err().to_string().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const ILLUSTRATED_CLIENT_RANDOM: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ILLUSTRATED_SERVER_RANDOM: &str =
    "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f";
/// `illustrated_tls13.keylog.txt`, as it is.
const ILLUSTRATED_TLS13_KEYLOG: &str = "\
SERVER_HANDSHAKE_TRAFFIC_SECRET 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 23323da031634b241dd37d61032b62a4f450584d1f7f47983ba2f7cc0cdcc39a68f481f2b019f9403a3051908a5d1622\n\
CLIENT_HANDSHAKE_TRAFFIC_SECRET 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f db89d2d6df0e84fed74a2288f8fd4d0959f790ff23946cdf4c26d85e51bebd42ae184501972f8d30c4a3e4a3693d0ef0\n\
EXPORTER_SECRET 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 5da16dd8325dd8279e4535363384d9ad0dbe370538fc3ad74e53d533b77ac35ee072d56c90871344e6857ccb2efc9e14\n\
SERVER_TRAFFIC_SECRET_0 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 86c967fd7747a36a0685b4ed8d0e6b4c02b4ddaf3cd294aa44e9f6b0183bf911e89a189ba5dfd71fccffb5cc164901f8\n\
CLIENT_TRAFFIC_SECRET_0 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 9e47af27cb60d818a9ea7d233cb5ed4cc525fcd74614fb24b0ee59acb8e5aa7ff8d88b89792114208fec291a6fa96bad\n\
";
/// The master secret on the one line of `illustrated_tls12.keylog.txt`.
const ILLUSTRATED_TLS12_MASTER: &str = concat!(
    "916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049",
    "781c8e19fc1eb2a7387ac06ae237344c",
);
/// `illustrated_tls12.keylog.txt`, as it is.
const ILLUSTRATED_TLS12_KEYLOG: &str = "\
CLIENT_RANDOM 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049781c8e19fc1eb2a7387ac06ae237344c\n\
";

/// Frame 7, third record: EncryptedExtensions (server handshake keys, record 0).
const I13_SERVER_EE: &str = "17030300176be02f9da7c2dc9ddef56f2468b90adfa25101ab0344ae";

/// Frame 7, fourth record: Certificate (record 1).
const I13_SERVER_CERT: &str = concat!(
    "1703030343baf00a9be50f3f2307e726edcbdacbe4b18616449d46c6207af6e9953ee5d2411ba65d31feaf4f78764f2d",
    "693987186cc01329c187a5e4608e8d27b318e98dd94769f7739ce6768392caca8dcc597d77ec0d1272233785f6e69d6f",
    "43effa8e7905edfdc4037eee5933e990a7972f206913a31e8d04931366d3d8bcd6a4a4d647dd4bd80b0ff863ce355483",
    "3d744cf0e0b9c07cae726dd23f9953df1f1ce3aceb3b7230871e92310cfb2b098486f43538f8e82d8404e5c6c25f66a6",
    "2ebe3c5f26232640e20a769175ef83483cd81e6cb16e78dfad4c1b714b04b45f6ac8d1065ad18c13451c9055c47da300",
    "f93536ea56f531986d6492775393c4ccb095467092a0ec0b43ed7a0687cb470ce350917b0ac30c6e5c24725a78c45f9f",
    "5f29b6626867f6f79ce054273547b36df030bd24af10d632dba54fc4e890bd0586928c0206ca2e28e44e227a2d506319",
    "5935df38da8936092eef01e84cad2e49d62e470a6c7745f625ec39e4fc23329c79d1172876807c36d736ba42bb69b004",
    "ff55f93850dc33c1f98abb92858324c76ff1eb085db3c1fc50f74ec04442e622973ea70743418794c388140bb492d629",
    "4a0540e5a59cfae60ba0f14899fca71333315ea083a68e1d7c1e4cdc2f56bcd6119681a4adbc1bbf42afd806c3cbd42a",
    "076f545dee4e118d0b396754be2b042a685dd4727e89c0386a94d3cd6ecb9820e9d49afeed66c47e6fc243eabebbcb0b",
    "02453877f5ac5dbfbdf8db1052a3c994b224cd9aaaf56b026bb9efa2e01302b36401ab6494e7018d6e5b573bd38bcef0",
    "23b1fc92946bbca0209ca5fa926b4970b1009103645cb1fcfe552311ff730558984370038fd2cce2a91fc74d6f3e3ea9",
    "f843eed356f6f82d35d03bc24b81b58ceb1a43ec9437e6f1e50eb6f555e321fd67c8332eb1b832aa8d795a27d479c6e2",
    "7d5a61034683891903f66421d094e1b00a9a138d861e6f78a20ad3e1580054d2e305253c713a02fe1e28deee7336246f",
    "6ae34331806b46b47b833c39b9d31cd300c2a6ed831399776d07f570eaf0059a2c68a5f3ae16b617404af7b7231a4d94",
    "2758fc020b3f23ee8c15e36044cfd67cd640993b16207597fbf385ea7a4d99e8d456ff83d41f7b8b4f069b028a2a63a9",
    "19a70e3a10e3084158faa5bafa30186c6b2f238eb530c73e",
);

/// Frame 7, fifth record: CertificateVerify (record 2).
const I13_SERVER_CV: &str = concat!(
    "170303011973719fce07ec2f6d3bba0292a0d40b2770c06a271799a53314f6f77fc95c5fe7b9a4329fd9548c670ebeea",
    "2f2d5c351dd9356ef2dcd52eb137bd3a676522f8cd0fb7560789ad7b0e3caba2e37e6b4199c6793b3346ed46cf740a9f",
    "a1fec414dc715c415c60e575703ce6a34b70b5191aa6a61a18faff216c687ad8d17e12a7e99915a611bfc1a2befc15e6",
    "e94d784642e682fd17382a348c301056b940c9847200408bec56c81ea3d7217ab8e85a88715395899c90587f72e8ddd7",
    "4b26d8edc1c7c837d9f2ebbc260962219038b05654a63a0b12999b4a8306a3ddcc0e17c53ba8f9c80363f7841354d291",
    "b4ace0c0f330c0fcd5aa9deef969ae8ab2d98da88ebb6ea80a3a11f00ea296a3232367ff075e1c66dd9cbedc4713",
);

/// Frame 7, sixth record: Finished (record 3).
const I13_SERVER_FIN: &str = concat!(
    "17030300451061de27e51c2c9f342911806f282b710c10632ca5006755880dbf7006002d0e84fed9adf27a43b5192303",
    "e4df5c285d58e3c76224078440c0742374744aecf28cf3182fd0",
);

/// Frame 9, after the client's ChangeCipherSpec: Finished (client handshake keys).
const I13_CLIENT_FIN: &str = concat!(
    "17030300459ff9b063175177322a46dd9896f3c3bb820ab51743ebc25fdadd53454b73deb54cc7248d411a18bccf657a",
    "960824e9a19364837c350a69a88d4bf635c85eb874aebc9dfde8",
);

/// Frame 11: "ping" (client application keys, record 0).
const I13_CLIENT_PING: &str = "1703030015828139cb7b73aaabf5b82fbf9a2961bcde10038a32";

/// Frame 13: NewSessionTicket (server application keys, record 0).
const I13_SERVER_TICKET_1: &str = concat!(
    "17030300ea382d8c19a47f4e8d9b0c510bc348db2cc99b241cd0d18b31d0ca1ac12dc1e303c58d0c7e9e27294c6b0e31",
    "98f7d319eb14622ec48b6ac8f866d7494fa775c880ff43ad4b1af53a03ca197795778fff2ffe1d3b99b34de782a76abf",
    "a840e6366cd7349d9bcff641f5e0dff95e40d72e09effe18ee64672cb96005404488ad1896c44a5fd174998e9b0094d8",
    "e6d84d2929b7883dc9a3c3c7313a87293f31b61d24d99097c8853bfbeb95d1d01f99ca05b0501859cf6340e837707597",
    "0152fa94f5f5be2906e72a15e40836a41f4cd3dbe7d513c16e88611d3eae9338d9db1f91ca3d5842602a610b43a463",
);

/// Frame 15: NewSessionTicket (record 1).
const I13_SERVER_TICKET_2: &str = concat!(
    "17030300ea38adfb1d01fd95a60385e8bbf1fd8dcb46709897e7d674c2f7370ec11d8e33eb4f4fe7f54bf4dc0b92fae7",
    "421c33c6453cebc073159610a09740ab2d056f8d51cfa262007d401236dafc2f7292ff0cc886a4ef389f2ced1226c6b4",
    "dcf69d994ff9148ef969bc77d9433ab1d3a932542182829f889ad95f04c752f94ace57146a5d84b042bfb3485a64e7e9",
    "57b08980cd08baf9698b8929986d1174d4aa6dd7a7e8c086052c3c76d81934bdf59b966e392031f3471adebddddbe84f",
    "cf1ff408846ae9b28ca4a9e728844a493d80455d6eaff205b40a1ef18574efc0b96ad383afbd8dfc86f8087c1f7dc8",
);

/// Frame 17: "pong" (record 2).
const I13_SERVER_PONG: &str = "17030300150cda85f1447ae23fa66d56f4c5408482b1b1d4c998";

/// Frame 9, after ChangeCipherSpec: the client's Finished (record 0).
const I12_CLIENT_FIN: &str = concat!(
    "1603030040404142434445464748494a4b4c4d4e4f227bc9ba81ef30f2a8a78ff1df50844d5804b7eeb2e214c32b6892",
    "aca3db7b78077fdd90067c516bacb3ba90dedf720f",
);

/// Frame 13: "ping" (client record 1).
const I12_CLIENT_PING: &str = concat!(
    "1703030030000102030405060708090a0b0c0d0e0f6c421c71c42b183bfa06195d133d0a09d00fc7cb4e0f5d1cda59d1",
    "47ec790c99",
);

/// Frame 17: the client's encrypted alert (record 2).
const I12_CLIENT_ALERT: &str = concat!(
    "1503030030101112131415161718191a1b1c1d1e1f0d83f97904750dd8fd8aa130218632634fd065e4628379b88bbf9e",
    "fd1287a62d",
);

/// Frame 11, after ChangeCipherSpec: the server's Finished (record 0).
const I12_SERVER_FIN: &str = concat!(
    "16030300405152535455565758595a5b5c5d5e5f6018e075317b100315f6081fcbf313781aac73efe19fe25ba1af59c2",
    "0be94fc01bda2d6800298b73a7e849d74bd494cf7d",
);

/// Frame 15: "pong" (server record 1).
const I12_SERVER_PONG: &str = concat!(
    "17030300306162636465666768696a6b6c6d6e6f709783488af5fa20bf7a2ef69debb534db9fb07a8c2721dee5409f77",
    "af0c3dde56",
);

const O12_CHACHA_MASTER: &str = "8d4667a7c5291bf916cab42699d6cfa34b0c7efedee0ba1802a54778d275ea78037ee963a8d34564de41ff0410954ce3";
const O12_CHACHA_CLIENT_FIN: &str =
    "16030300208f2fa3fbff57aa8f8ee4e81cf1117a6043001f6d478d42ea3fd6a5e6ff545584";
const O12_CHACHA_CLIENT_PING: &str = "1703030014a86bb9cdc1903712111819771af7b3a0d60fe9f5";
const O12_CHACHA_SERVER_FIN: &str =
    "16030300206a9aa93789be62175433bd37bc00b06f5ef1ec3c73a5d4f4d49f2b142f3949d0";
const O12_CHACHA_SERVER_PONG: &str = "17030300140f79d304f8072c9f0a120687f1b44729125fb30e";
const O12_CBC384_ETM_MASTER: &str = "2e87294ce63421f64be1e83a3811be8a1d39d2a1a7fba0166b26f2c2dfb4dfc643a76cddf84bd77d51496d1ec709677e";
const O12_CBC384_ETM_CLIENT_FIN: &str = concat!(
    "1603030060aaacee39f5a0ab92919b540029553adcfa4e4eeb79d703a1a76af391a7e58cca25737b88df842d77cf6e1c",
    "3c58eec7b6527fcd06a50f463fd0582b20b57fc7e081cf12fa23a036068e91f3a9905988433b27a32ab7c1928fe3bea8",
    "84ccfa5b98",
);
const O12_CBC384_ETM_CLIENT_PING: &str = concat!(
    "17030300509d0748c05b3d1ecbf2a0e6b87cc6b1a899677d0015887db7f65dee87a6ec000703c2800f07d6afb49cdcdd",
    "44f95fce803ca7df8ff2375935232a768a6233023ca13f9f13f4b94a7b6e306f3d012b3ed4",
);
const O12_CBC384_ETM_SERVER_FIN: &str = concat!(
    "1603030060ca9a610a8751b80bf4a3ccf3f23b5577407f9f907fab3dc97dedbf0c1e4237eec8228f063f8551532912ed",
    "74148718f983cdcbdb70eee0b103d0e52c336fa91abff616e38c803f2a0b4ca1eef6b36025d52c98880a9d9d2cee1007",
    "b2d0c6f1a9",
);
const O12_CBC384_ETM_SERVER_PONG: &str = concat!(
    "170303005070bf7029e21adec87d12e3518b40840bca71d8a69ef18acb1ec475c30719a9e3ff566a0b393408797a0135",
    "d3c1b67e68a9f93d76e079c1eafa7d6246abcbec7fa028ccfb0d9a82f6da94302cf437abb5",
);
const O12_CBC256_MASTER: &str = "b8f8d2bcea07911c9da024b15147a2be1cf0323e0f0eb2bfb6907ad6aec6270ec2d501706a4f1f73b1e8652cc481e06b";
const O12_CBC256_CLIENT_FIN: &str = concat!(
    "160303005087fa3b81dcc767eb430c95cbefa0c100b776118915100925f7d52fd4f8a5b67dd55b9942603e319874dc7a",
    "9b9f89501e2be4d7773a8d2502046f57bc53f6e853b0f6b1ff49f1d50ca195a6da21470859",
);
const O12_CBC256_CLIENT_PING: &str = concat!(
    "1703030040a4bd6bdddc9bd8c7ff6d123411d29e8e59bc7f351c092e24867b149d7e2875583d0e3f34bb17e313224ceb",
    "d3e9e894a921aca7e76c6246285ec117d282377e10",
);
const O12_CBC256_SERVER_FIN: &str = concat!(
    "1603030050c9ebe7fd6e56a234e9260cba9df2f26fc732bbca5bc23431c5cde12c89de3c936b516fa05dab9f88fb76f9",
    "81db51a52a406199e17f5769692b6abd8dc97b09347d2cd99a4a1d36f97604f9976a108fa5",
);
const O12_CBC256_SERVER_PONG: &str = concat!(
    "17030300408ec8b76bbc362b8cadc4b399dc02630bbf7a80d4049f11dad4007465c21ba2ae6eebe1b8f0ea118ed44610",
    "a2dcc83917834b919fcfca41649a15a043d8a1ecab",
);
const O13_CHACHA_SERVER_HANDSHAKE_TRAFFIC_SECRET: &str =
    "147b507dfeeb59fd99d89634d401b9e20bd22a9e0ace90a2a45cc847ddfed64a";
const O13_CHACHA_SERVER_TRAFFIC_SECRET_0: &str =
    "0647cda1fb0ddbd42e9312156356a9b74035168f9b32c47de70168ad86c04a6b";
const O13_CHACHA_CLIENT_HANDSHAKE_TRAFFIC_SECRET: &str =
    "1a9b88234f9079697b9024eb681d6957a89ab4109c1525417db3455bb5d89ea5";
const O13_CHACHA_CLIENT_TRAFFIC_SECRET_0: &str =
    "6f20c6ef677448935468e208dac481cb4f0efd3c086709578ce8cedfa6289681";
const O13_CHACHA_CLIENT_FIN: &str = concat!(
    "17030300357ead015d9204650ac2b412024a5ef664e4fb73e83bbc6187c136185deac32f16c63887b982a99dc54e561a",
    "711162eab4cb7fcfe6ea",
);
const O13_CHACHA_CLIENT_PING: &str = "17030300153e1a9f58333dce8c9ec694cd9da7edc61e7b45771c";
const O13_CHACHA_SERVER_EE: &str = "1703030017e97956f8f278ef2e54453fd320fd08f50a221f1bd3521b";
const O13_CHACHA_SERVER_TICKET_1: &str = concat!(
    "170303004a2e5e5b5ed2dfa32fd3415cb4cd9d6604c495f3a24c86d15033c5344e308eeec03e55b382b51b573a3c79bd",
    "791694f0baa325bacaa544d8c7959e9996f6a746e36ba66ff910c3924db4e6",
);
const O13_CHACHA_SERVER_TICKET_2: &str = concat!(
    "170303004a0b022429045fecc7b65a8f7436901feac51d8435a1b6edf70d0b7eae7c143339137257542bfea3f5008d6e",
    "ea17dea9aa46af74af421df9ec294a1dc244016e8ebb7f191e6d90bb6870f4",
);
const O13_CHACHA_SERVER_PONG: &str = "17030300156f39f69618a65ceff35266990f749e08f73b3e0204";

const O12_CHACHA_CLIENT_RANDOM: &str =
    "75313db3f2035c662bcecc5a7c0badb86dbb8d1ede774353195a37a9fc625f54";
const O12_CHACHA_SERVER_RANDOM: &str =
    "a0942e53d38d0e02c82f0e8a102ce6a03a30ce3c53dc6a1293132ebe456da961";
const O12_CBC384_ETM_CLIENT_RANDOM: &str =
    "787d3e7873cf00a2f73722f8efe7b9139976a127d7e985660c7b79f521ddcdb1";
const O12_CBC384_ETM_SERVER_RANDOM: &str =
    "a7484c592b735984c7e03b7f32db8ad39d8dfc6a5a2b18de58045c8e0a7af4d5";
const O12_CBC256_CLIENT_RANDOM: &str =
    "e538735f5234865c69e85460593048a3a62bbc9e6b97a7ea0cb37565d432b2bc";
const O12_CBC256_SERVER_RANDOM: &str =
    "39a862485074eefb4a5f377c5edec647668c898dcb2d35cb2d70f98cbe751309";

/// RFC 8448 §3, "{server} send handshake record": EncryptedExtensions to Finished in one record.
const RFC8448_SERVER_FLIGHT: &str = concat!(
    "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca",
    "07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b",
    "d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c",
    "7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092",
    "8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a8",
    "9441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f",
    "4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a3",
    "6ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e",
    "1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052c",
    "f93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe",
    "5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb",
    "5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038",
    "ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd50278",
    "4016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e",
    "750edc53370d2b",
);

/// RFC 8448 §3, "derive secret tls13 s hs traffic".
const RFC8448_SERVER_HANDSHAKE_SECRET: &str =
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";

/// `SERVER_TRAFFIC_SECRET_0` of the Illustrated TLS 1.3 log after one "traffic upd" step; "after update", record 0.
const KEY_UPDATE_1_RECORD: &str =
    "170303001d9bab3f76059b152b43db3f4becb5b0294cdfd4aad83e58f746dc617949";
/// After a second step; "twice", inner type 23, then three zero bytes of padding.
const KEY_UPDATE_2_RECORD: &str = "1703030019a9abe80a616444f37585d3c5a3c5d8ac18119ef2846812f425";

const LAB03_MASTER: &str = "b0e1e800d65ec013526abf64bdd77bf0960d40dad254b780094b83a17a922acf03feaaa400de71389521095a05e2cb6a";
const LAB03_CLIENT_RANDOM: &str =
    "f54650bbe55f6ffa702099f521538fcb6687f0d8f74e7c260e748ca5b1c01661";
const LAB03_SERVER_RANDOM: &str =
    "5948c4270d1ecd8e8c1066a816ccae6a5ba80deb1286ac51444f574e47524401";
const LAB03_CLIENT_FIN: &str =
    "1603030028315e83e2d058be7fc20865ff5d9c7d95d511cd17a060fd904a889023b96d50999dd267248a0750b9";
const LAB03_CLIENT_CONNECT: &str = concat!(
    "1703030034315e83e2d058be80cc0cb51a04562259ddc9d77add9dc0fd667cabbd15824b8102b68401ba791cd24714c7",
    "afc17524089ac43837",
);
const LAB03_SERVER_FIN: &str =
    "160303002884f772bb82f728245568e657d13b26fb548aafc26b1265fd18de490a2de56af5c47956bfbfe253ec";
const LAB03_SERVER_CONNACK: &str =
    "170303001c84f772bb82f7282564e1b89a87c814b305d405662445d9a5d22497fb";

/// PRF-SHA384(RT_MASTER, "key expansion", server random ‖ client random), 72 bytes.
const RT_KEY_BLOCK_C030: &str = concat!(
    "de55809a9f16b1f7a4ddfe26412f0ca9aa7ed086ad86db14d6c4f2f3f22b516e84da776fd4e34db8af46523e4449863b",
    "6584b92273f6e9013458ab6375f39c35f4f06b33e9a46255",
);
/// PRF-SHA256 of the same inputs, 88 bytes.
const RT_KEY_BLOCK_CCA8: &str = concat!(
    "20d8e39a26a645535b0423b75c058f86a4f366ff3e4499b687fa050fd89a72bb182fc95112be8bf44795055b16e6cca4",
    "242961ba3a3886b26b441db62579b40b3fa024246c8ca11be28bf9db342470a5c7db1118fba29d03",
);

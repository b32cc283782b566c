//! The record layer and the connection state: hand-built TLS 1.2 and 1.3 exchanges, bytes in
//! any pieces, gaps, garbage, and the lab captures' recorded facts.

use super::testutil::*;
use super::{history, SEPARATE_ENCRYPTED_RECORDS};
use crate::event::Direction::{DeviceToEndpoint as D, EndpointToDevice as E};
use crate::event::{AlertLevel, Direction, EncryptedPhase, EventKind, HandshakeKind, Timestamp};
use crate::session::{Input, Session, SessionConfig};
use crate::trace::{Identity, Trace};

fn dn_cn(cn: &str) -> Vec<u8> {
    // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String cn } } }
    let mut atv = vec![0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, cn.len() as u8];
    atv.extend_from_slice(cn.as_bytes());
    let mut seq = vec![0x30, atv.len() as u8];
    seq.extend(atv);
    let mut set = vec![0x31, seq.len() as u8];
    set.extend(seq);
    let mut name = vec![0x30, set.len() as u8];
    name.extend(set);
    name
}

fn certificate_msg(ders: &[&[u8]]) -> Vec<u8> {
    let list: Vec<u8> = ders.iter().flat_map(|d| vec24(d)).collect();
    handshake(11, &vec24(&list))
}

/// A whole TLS 1.2 exchange with a client certificate, as (direction, bytes) flights.
fn tls12_exchange() -> Vec<(Direction, Vec<u8>)> {
    let mut server_flight = tls12_server_hello();
    let mut msgs = certificate_msg(&[&[0x30; 700], &[0x31; 500]]);
    msgs.extend(handshake(12, &[3, 0, 23, 65, 4]));
    let mut cr = vec8(&[1, 64]);
    cr.extend(list16(&[0x0403, 0x0804]));
    let names: Vec<u8> = [dn_cn("Device CA 1"), dn_cn("Device CA 2")]
        .iter()
        .flat_map(|n| vec16(n))
        .collect();
    cr.extend(vec16(&names));
    msgs.extend(handshake(13, &cr));
    msgs.extend(handshake(14, &[]));
    server_flight.extend(record(22, &msgs));

    let mut client_flight = record(22, &certificate_msg(&[&[0x32; 400]]));
    client_flight.extend(record(22, &handshake(16, &vec8(&[4; 65]))));
    client_flight.extend(record(22, &handshake(15, &[4, 3, 0, 2, 9, 9])));
    client_flight.extend(record(20, &[1]));
    client_flight.extend(record(22, &[0xee; 40]));

    let mut server_finish = record(22, &handshake(4, &[0, 0, 1, 0, 0, 2, 7, 7]));
    server_finish.extend(record(20, &[1]));
    server_finish.extend(record(22, &[0xdd; 40]));
    vec![
        (D, simple_client_hello()),
        (E, server_flight),
        (D, client_flight),
        (E, server_finish),
        (D, record(23, &[1; 30])),
        (E, record(23, &[2; 26])),
        (D, record(21, &[3; 26])),
        (E, record(21, &[4; 26])),
    ]
}

#[test]
fn tls12_handshake_with_client_certificate() {
    let t = run_chunks(&tls12_exchange());
    assert_eq!(
        kinds(&t)[1..],
        [
            ">client_hello",
            "<protocol",
            "<server_hello",
            "<certificate",
            "<handshake",
            "<certificate_request",
            "<handshake",
            ">certificate",
            ">handshake",
            ">handshake",
            ">change_cipher_spec",
            ">encrypted",
            "<handshake",
            "<change_cipher_spec",
            "<encrypted",
            ">encrypted",
            "<encrypted",
            ">alert",
            "<alert",
            ">tcp_fin",
            "<tcp_fin"
        ]
    );
    assert_eq!(history(&t), "CsxkrnXGYIFtifDdLl");
    let ev: Vec<&EventKind> = t.events().map(|e| &e.kind).collect();
    match ev[4] {
        EventKind::Certificate(c) => {
            assert_eq!(
                c.chain.iter().map(|c| c.der_len).collect::<Vec<_>>(),
                [700, 500]
            )
        }
        other => panic!("{other:?}"),
    }
    match ev[6] {
        EventKind::CertificateRequest { ca_names } => {
            assert_eq!(ca_names, &["CN=Device CA 1", "CN=Device CA 2"])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ev[7],
        EventKind::Handshake {
            kind: HandshakeKind::ServerHelloDone,
            len: 0
        }
    ));
    assert!(matches!(
        ev[12],
        EventKind::Encrypted {
            content_type: 22,
            phase: EncryptedPhase::Handshake,
            records: 1,
            bytes: 40,
            first_len: 40
        }
    ));
    assert!(matches!(
        ev[16],
        EventKind::Encrypted {
            content_type: 23,
            phase: EncryptedPhase::Application,
            bytes: 30,
            ..
        }
    ));
    assert!(matches!(
        ev[18],
        EventKind::Alert {
            level: None,
            description: None,
            encrypted: true,
            ..
        }
    ));
    assert!(malformed(&t).is_empty());
}

#[test]
fn one_byte_at_a_time_gives_the_same_events_as_whole_flights() {
    let mut fixtures: Vec<Vec<(Direction, Vec<u8>)>> = vec![tls12_exchange()];
    for name in [
        "lab03_tls12_mtls_ok",
        "lab01_tls13_ok",
        "sv_tls12_mtls_client_auth",
    ] {
        fixtures.push(load_stream(name));
    }
    for chunks in fixtures {
        let whole = run_chunks(&chunks);
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        let mut ts = 0;
        for (dir, bytes) in &chunks {
            ts += 1000;
            for b in bytes {
                s.feed(*dir, &[*b], Timestamp(ts));
            }
        }
        s.feed(D, Input::Fin, Timestamp(ts + 1));
        s.feed(E, Input::Fin, Timestamp(ts + 2));
        let bytewise = s.finish();
        // The session's Protocol event shows the bytes it classified on, which depend on the
        // pieces; everything the TLS decoder reports must not.
        let json = |t: &Trace| -> Vec<String> {
            t.events()
                .filter(|e| !matches!(e.kind, EventKind::Protocol { .. }))
                .map(|e| serde_json::to_string(e).unwrap())
                .collect()
        };
        let (a, b) = (json(&whole), json(&bytewise));
        assert!(a.len() > 8);
        assert_eq!(a, b);
    }
}

#[test]
fn a_certificate_split_across_three_records() {
    let msg = certificate_msg(&[&[0x30; 3000]]);
    let mut bytes = record(22, &msg[..3]);
    bytes.extend(record(22, &msg[3..2000]));
    bytes.extend(record(22, &msg[2000..]));
    let t = run_chunks(&[
        (D, simple_client_hello()),
        (E, tls12_server_hello()),
        (E, bytes),
    ]);
    let certs: Vec<usize> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Certificate(c) => Some(c.chain.len()),
            _ => None,
        })
        .collect();
    assert_eq!(certs, vec![1]);
    assert!(malformed(&t).is_empty());
}

#[test]
fn an_empty_client_certificate_is_an_empty_chain() {
    let t = run_chunks(&[
        (D, simple_client_hello()),
        (E, tls12_server_hello()),
        (D, record(22, &certificate_msg(&[]))),
    ]);
    let chain_len = t.events().find_map(|e| match &e.kind {
        EventKind::Certificate(c) if e.dir == D => Some(c.chain.len()),
        _ => None,
    });
    assert_eq!(chain_len, Some(0));
}

#[test]
fn clear_alerts_carry_level_and_name() {
    let t = run_chunks(&[
        (D, simple_client_hello()),
        (E, record(21, &[2, 70])),
        (D, record(21, &[1, 0])),
    ]);
    type Seen<'a> = (Option<AlertLevel>, Option<u8>, Option<&'a str>, bool);
    let alerts: Vec<Seen> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Alert {
                level,
                description,
                name,
                encrypted,
            } => Some((*level, *description, *name, *encrypted)),
            _ => None,
        })
        .collect();
    assert_eq!(
        alerts,
        vec![
            (
                Some(AlertLevel::Fatal),
                Some(70),
                Some("protocol_version"),
                false
            ),
            (
                Some(AlertLevel::Warning),
                Some(0),
                Some("close_notify"),
                false
            ),
        ]
    );
    assert_eq!(history(&t), "ClL");
}

#[test]
fn encrypted_application_records_are_gathered_after_the_first_sixteen() {
    let mut chunks = vec![(D, simple_client_hello()), (E, tls13_server_hello())];
    chunks.push((E, record(23, &[0; 50])));
    for i in 0..40 {
        chunks.push((D, record(23, &vec![0; 20 + i])));
    }
    chunks.push((E, record(23, &[0; 24])));
    let t = run_chunks(&chunks);
    let enc: Vec<(Direction, EncryptedPhase, u32, u64, u32)> = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Encrypted {
                phase,
                records,
                bytes,
                first_len,
                ..
            } => Some((e.dir, phase, records, bytes, first_len)),
            _ => None,
        })
        .collect();
    let n = SEPARATE_ENCRYPTED_RECORDS as usize;
    // endpoint's record before the device's first: handshake phase
    assert_eq!(enc[0], (E, EncryptedPhase::Handshake, 1, 50, 50));
    // the device's first flight (one chunk each here: only the first is its flight)
    assert_eq!(enc[1], (D, EncryptedPhase::Handshake, 1, 20, 20));
    assert_eq!(enc[2], (D, EncryptedPhase::Application, 1, 21, 21));
    // the device's sixteenth record takes in the 24 that follow it
    assert_eq!(enc.len(), 1 + n + 1);
    let gathered = enc[n];
    assert_eq!(gathered.2, 40 - n as u32 + 1);
    assert_eq!(gathered.3, (20 + n as u64 - 1..60).sum::<u64>());
    assert_eq!(gathered.4, 20 + n as u32 - 1);
    assert_eq!(enc[n + 1], (E, EncryptedPhase::Application, 1, 24, 24));
    assert_eq!(history(&t), "CsqQDd");
}

#[test]
fn garbage_names_its_offset_and_the_rest_is_undecoded() {
    let mut bytes = simple_client_hello();
    let at = bytes.len() as u64;
    bytes.extend_from_slice(b"\x16\x03\x03\x7f\xffXYZ");
    let t = run_chunks(&[(D, bytes), (D, b"more bytes".to_vec())]);
    let bad = malformed(&t);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, at);
    assert!(bad[0].1.contains("record length 32767"), "{}", bad[0].1);
    let undecoded: u64 = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Undecoded { bytes, .. } => Some(bytes),
            _ => None,
        })
        .sum();
    assert_eq!(undecoded, 8 + 10);
    // one Undecoded event for both pieces
    assert_eq!(kinds(&t).iter().filter(|k| *k == ">undecoded").count(), 1);
}

#[test]
fn close_inside_a_record_is_reported() {
    let rec = record(22, &certificate_msg(&[&[0x30; 100]]));
    let t = run_chunks(&[
        (D, simple_client_hello()),
        (E, tls12_server_hello()),
        (E, rec[..50].to_vec()),
    ]);
    // Said with what the record's header declared, not as a malformed record.
    assert!(malformed(&t).is_empty());
    let cut: Vec<_> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Unfinished(u) => Some((u.offset, u.held, u.need, u.what.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        cut,
        [(
            tls12_server_hello().len() as u64,
            50,
            rec.len() as u64,
            "a Certificate record".to_string()
        )]
    );
}

#[test]
fn close_inside_a_handshake_message_is_reported() {
    let msg = certificate_msg(&[&[0x30; 100]]);
    let t = run_chunks(&[(D, simple_client_hello()), (E, record(22, &msg[..60]))]);
    let bad = malformed(&t);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, 5);
    assert!(
        bad[0].1.contains("60 of 110 bytes of a certificate (11)"),
        "{}",
        bad[0].1
    );
}

#[test]
fn after_a_gap_records_are_found_again_and_no_garbage_becomes_a_message() {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    let cert = record(22, &certificate_msg(&[&[0x30; 2000]]));
    s.feed(D, simple_client_hello(), Timestamp(1));
    s.feed(E, tls12_server_hello(), Timestamp(2));
    s.feed(E, &cert[..700], Timestamp(3));
    s.feed(E, Input::Gap(600), Timestamp(4));
    let mut rest = cert[1300..].to_vec();
    rest.extend(record(22, &handshake(14, &[])));
    rest.extend(record(21, &[2, 42]));
    s.feed(E, &rest, Timestamp(5));
    let t = s.finish();
    let k = kinds(&t);
    assert!(!k.contains(&"<certificate".to_string()), "{k:?}");
    assert!(malformed(&t).is_empty(), "{:?}", malformed(&t));
    let tail: Vec<&str> = k.iter().rev().take(3).map(|s| s.as_str()).collect();
    assert_eq!(tail, ["<alert", "<handshake", "<note"]);
    let notes: Vec<String> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        notes[0].contains("600 bytes missing; dropped 700 bytes"),
        "{notes:?}"
    );
    let resync_at = tls12_server_hello().len() + cert.len();
    assert!(
        notes[1].contains(&format!("again at offset {resync_at}")),
        "{notes:?}"
    );
}

#[test]
fn tls13_handshake_record_phases() {
    let t = run_stream("lab01_tls13_ok");
    let enc: Vec<(Direction, EncryptedPhase)> = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Encrypted { phase, .. } => Some((e.dir, phase)),
            _ => None,
        })
        .collect();
    use EncryptedPhase::{Application as A, Handshake as H};
    assert_eq!(&enc[..5], &[(E, H); 5]);
    assert_eq!(&enc[5..8], &[(D, H); 3]);
    assert!(enc[8..].iter().all(|(_, p)| *p == A));
    assert_eq!(history(&t), "CsiqqqqqIQQQdDdDdDd");
}

type AlertSeen = (Direction, Option<&'static str>, bool);

fn facts(trace: &Trace) -> (Vec<String>, Vec<AlertSeen>) {
    let alerts = trace
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Alert {
                name, encrypted, ..
            } => Some((e.dir, *name, *encrypted)),
            _ => None,
        })
        .collect();
    (kinds(trace), alerts)
}

#[test]
fn lab_tls12_captures_match_their_wire_view() {
    // 03: mutual TLS 1.2 that works; cipher 0xc030; both sides close with encrypted alerts
    let t = run_stream("lab03_tls12_mtls_ok");
    assert_eq!(server_hello(&t).cipher_suite.id, 0xc030);
    assert_eq!(history(&t), "CsxkrnXGYIFtifDdDdDlL");
    let (_, alerts) = facts(&t);
    assert_eq!(alerts, vec![(E, None, true), (D, None, true)]);
    let certs: Vec<(Direction, usize)> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Certificate(c) => Some((e.dir, c.chain[0].der_len)),
            _ => None,
        })
        .collect();
    assert_eq!(certs, vec![(E, 946), (D, 467)]);
    let cr = t.events().find_map(|e| match &e.kind {
        EventKind::CertificateRequest { ca_names } => Some(ca_names.clone()),
        _ => None,
    });
    assert_eq!(cr, Some(vec![]));
    assert!(malformed(&t).is_empty());

    // 07: the device has no certificate; the endpoint refuses with handshake_failure in clear
    let t = run_stream("lab07_tls12_no_client_cert");
    assert_eq!(history(&t), "CsxkrnXGIFl");
    let (_, alerts) = facts(&t);
    assert_eq!(alerts, vec![(E, Some("handshake_failure"), false)]);

    // 10: a certificate from an unknown CA, refused with unknown_ca
    let t = run_stream("lab10_tls12_unknown_ca");
    assert_eq!(history(&t), "CsxkrnXGYIFl");
    assert_eq!(facts(&t).1, vec![(E, Some("unknown_ca"), false)]);
}

#[test]
fn lab_tls13_captures_match_their_wire_view() {
    // 05: the device does not trust the endpoint and says so in clear
    let t = run_stream("lab05_tls13_client_unknown_ca");
    assert_eq!(facts(&t).1, vec![(D, Some("unknown_ca"), false)]);
    assert_eq!(history(&t), "CsiqqqqqL");
    // 08: no client certificate in TLS 1.3: the refusal is an encrypted 19-byte record
    let t = run_stream("lab08_tls13_no_client_cert");
    let enc: Vec<(Direction, EncryptedPhase, u64)> = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Encrypted { phase, bytes, .. } => Some((e.dir, phase, bytes)),
            _ => None,
        })
        .collect();
    assert_eq!(enc[7], (E, EncryptedPhase::Application, 19));
    assert!(facts(&t).1.is_empty());
    assert!(malformed(&t).is_empty());
}

#[test]
fn public_mtls_capture_names_the_requested_ca() {
    let t = run_stream("sv_tls12_mtls_client_auth");
    let cr = t.events().find_map(|e| match &e.kind {
        EventKind::CertificateRequest { ca_names } => Some(ca_names.clone()),
        _ => None,
    });
    assert_eq!(
        cr,
        Some(vec![
            "C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleCA, CN=SampleRoot".to_string()
        ])
    );
    assert!(history(&t).starts_with("CsxkrnXGYIF"), "{}", history(&t));
}

#[test]
fn a_hello_retry_request_leaves_the_second_client_hello_readable() {
    let hrr_exts = vec![ext(43, &[3, 4]), ext(51, &[0, 23])];
    let hrr = server_hello_body(&super::server_hello::HRR_RANDOM, 0x1301, &hrr_exts);
    let mut second = record(20, &[1]);
    second.extend(simple_client_hello());
    let mut server = tls13_server_hello();
    server.extend(record(20, &[1]));
    server.extend(record(23, &[0; 90]));
    let t = run_chunks(&[
        (D, simple_client_hello()),
        (E, record(22, &handshake(2, &hrr))),
        (D, second),
        (E, server),
        (D, record(23, &[0; 53])),
    ]);
    assert_eq!(history(&t), "CjICsiqQ");
    assert!(malformed(&t).is_empty());
}

#[test]
fn a_two_byte_alert_after_change_cipher_spec_is_read_when_the_version_is_unknown() {
    // The endpoint's bytes were not captured: a TLS 1.3 device's compatibility
    // ChangeCipherSpec does not make its clear alert unreadable.
    let mut device = simple_client_hello();
    device.extend(record(20, &[1]));
    device.extend(record(21, &[2, 48]));
    let t = run_chunks(&[(D, device)]);
    let names: Vec<Option<&str>> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Alert { name, .. } => Some(*name),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec![Some("unknown_ca")]);
}

#[test]
fn a_long_connection_stays_a_handful_of_events() {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    s.feed(D, simple_client_hello(), Timestamp(1));
    s.feed(E, tls13_server_hello(), Timestamp(2));
    let burst: Vec<u8> = (0..1000).flat_map(|_| record(23, &[0x5a; 20])).collect();
    for i in 0..100 {
        s.feed(D, &burst, Timestamp(10 + i));
    }
    let t = s.finish();
    assert!(t.total_events() < 30, "{}", t.total_events());
    let records: u32 = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Encrypted { records, .. } => Some(records),
            _ => None,
        })
        .sum();
    assert_eq!(records, 100_000);
}

#[test]
fn tls_accessors_expose_what_decryption_needs() {
    // The randoms are kept for decryption: with a key log, even an empty one.
    let keylog = std::sync::Arc::new(crate::keylog::KeyLog::parse(""));
    let mut conn = super::TlsConn::with_keylog(Some(keylog));
    let mut trace = Trace::default();
    let mut out = crate::emit::Emit::new(&mut trace, D, Timestamp(0), false);
    conn.push(&simple_client_hello(), &mut out);
    let mut out = crate::emit::Emit::new(&mut trace, E, Timestamp(1), false);
    conn.push(&tls13_server_hello(), &mut out);
    let mut expected = [0u8; 32];
    for (i, b) in expected.iter_mut().enumerate() {
        *b = i as u8;
    }
    assert_eq!(conn.client_random(), Some(expected));
    assert_eq!(conn.server_random(), Some([7; 32]));
    assert_eq!(conn.version(), Some(0x0304));
    assert_eq!(conn.cipher(), Some(0x1302));
    assert!(conn.is_tls13());
    assert_eq!(conn.take_plaintext(D), None);

    // Without a key log nothing would read them: a passthrough connection does not keep them.
    let mut conn = super::TlsConn::new();
    let mut out = crate::emit::Emit::new(&mut trace, D, Timestamp(2), false);
    conn.push(&simple_client_hello(), &mut out);
    let mut out = crate::emit::Emit::new(&mut trace, E, Timestamp(3), false);
    conn.push(&tls13_server_hello(), &mut out);
    assert_eq!((conn.client_random(), conn.server_random()), (None, None));
    assert_eq!(conn.version(), Some(0x0304));
    assert!(conn.rare.is_none());
}

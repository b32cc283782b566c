//! Property tests for the TLS decoder: whatever bytes arrive, in whatever pieces, decoding
//! never panics, and the pieces never change what is decoded.

use iotscope_decoder::{
    Direction, EventKind, Identity, Input, Session, SessionConfig, Timestamp, Trace,
};
use proptest::prelude::*;

const D: Direction = Direction::DeviceToEndpoint;
const E: Direction = Direction::EndpointToDevice;

/// The device's ClientHello of the lab capture 01 (TLS 1.3, mosquitto_pub over OpenSSL 3).
fn lab_client_hello() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/tls/lab01_tls13_ok.stream"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let line = text
        .lines()
        .find(|l| l.starts_with("D "))
        .expect("a device line");
    iotscope_decoder::hex::decode(&line[2..]).expect("hex")
}

/// Splits `bytes` at the given sizes (cycled), the last piece taking the rest.
fn pieces<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

fn feed_pieces(chunks: &[(Direction, Vec<u8>)], sizes: &[usize]) -> Trace {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        for p in pieces(bytes, sizes) {
            s.feed(*dir, p, Timestamp(i as i64));
        }
    }
    s.feed(D, Input::Fin, Timestamp(1_000));
    s.feed(E, Input::Fin, Timestamp(1_001));
    s.finish()
}

/// Everything but the session's Protocol event, whose sample of first bytes depends on the
/// pieces by design.
fn decoded(t: &Trace) -> Vec<String> {
    t.events()
        .filter(|e| !matches!(e.kind, EventKind::Protocol { .. }))
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Data(bool, Vec<u8>),
    Gap(bool, u16),
    Fin(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(d, b)| Step::Data(d, b)),
        1 => (any::<bool>(), any::<u16>()).prop_map(|(d, n)| Step::Gap(d, n)),
        1 => any::<bool>().prop_map(Step::Fin),
    ]
}

/// Records with valid headers and made-up contents: handshake payloads often start like a
/// handshake message, so that reassembly and the message readers get exercised.
fn record_stream() -> impl Strategy<Value = Vec<u8>> {
    let record = (
        20u8..=24,
        prop::collection::vec(any::<u8>(), 0..300),
        prop::sample::select(vec![
            0u8, 1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 22, 24, 99,
        ]),
        any::<bool>(),
    )
        .prop_map(|(ct, mut payload, msg_type, looks_like_handshake)| {
            if ct == 22 && looks_like_handshake && payload.len() >= 4 {
                let len = (payload.len() - 4) as u32;
                payload[0] = msg_type;
                payload[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
            }
            let mut r = vec![ct, 3, 3];
            r.extend((payload.len() as u16).to_be_bytes());
            r.extend(payload);
            r
        });
    prop::collection::vec(record, 1..12).prop_map(|rs| rs.concat())
}

fn dir(device: bool) -> Direction {
    if device {
        D
    } else {
        E
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_bytes_gaps_and_closes_never_panic(start in prop::sample::select(vec![0x14u8, 0x15, 0x16, 0x17, 0x18]),
                                             steps in prop::collection::vec(step(), 1..12)) {
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        // Start both directions like TLS so that the TLS decoder is the one reading them.
        s.feed(D, &[start, 3, 3], Timestamp(0));
        s.feed(E, &[0x16, 3, 3], Timestamp(0));
        for (i, st) in steps.into_iter().enumerate() {
            let ts = Timestamp(i as i64 + 1);
            match st {
                Step::Data(d, b) => s.feed(dir(d), &b, ts),
                Step::Gap(d, n) => s.feed(dir(d), Input::Gap(n.into()), ts),
                Step::Fin(d) => s.feed(dir(d), Input::Fin, ts),
            }
        }
        let t = s.finish();
        prop_assert!(t.total_events() >= 2);
    }

    #[test]
    fn pieces_never_change_what_is_decoded(device in prop::collection::vec(any::<u8>(), 0..3000),
                                           endpoint in prop::collection::vec(any::<u8>(), 0..3000),
                                           sizes in prop::collection::vec(1usize..700, 1..8)) {
        let mut d = vec![0x16, 3, 1];
        d.extend(device);
        let mut e = vec![0x16, 3, 3];
        e.extend(endpoint);
        let chunks = vec![(D, d), (E, e)];
        let whole = feed_pieces(&chunks, &[usize::MAX]);
        let split = feed_pieces(&chunks, &sizes);
        prop_assert_eq!(decoded(&whole), decoded(&split));
    }

    #[test]
    fn pieces_never_change_what_is_decoded_from_records(device in record_stream(),
                                                        endpoint in record_stream(),
                                                        sizes in prop::collection::vec(1usize..300, 1..8)) {
        let mut d = lab_client_hello();
        d.extend(device);
        let chunks = vec![(D, d), (E, endpoint)];
        let whole = feed_pieces(&chunks, &[usize::MAX]);
        let split = feed_pieces(&chunks, &sizes);
        prop_assert_eq!(decoded(&whole), decoded(&split));
    }

    #[test]
    fn a_mutated_client_hello_is_reported_somehow(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                                  cut in any::<prop::sample::Index>(),
                                                  truncate in any::<bool>(),
                                                  sizes in prop::collection::vec(1usize..400, 1..4)) {
        let mut hello = lab_client_hello();
        for (at, value) in edits {
            let i = at.index(hello.len());
            hello[i] = value;
        }
        if truncate {
            hello.truncate(cut.index(hello.len()) + 1);
        }
        let t = feed_pieces(&[(D, hello)], &sizes);
        let reported = t.events().any(|e| !matches!(
            e.kind,
            EventKind::Protocol { .. } | EventKind::TcpFin | EventKind::TcpRst
        ));
        prop_assert!(reported, "{:?}", t.events().collect::<Vec<_>>());
    }
}

#[test]
fn the_unmutated_lab_hello_decodes_cleanly() {
    let t = feed_pieces(&[(D, lab_client_hello())], &[7]);
    let kinds: Vec<&EventKind> = t.events().map(|e| &e.kind).collect();
    assert!(matches!(kinds[1], EventKind::ClientHello(_)), "{kinds:?}");
    assert!(!kinds
        .iter()
        .any(|k| matches!(k, EventKind::TlsMalformed { .. })));
}

//! Property tests for plaintext before TLS (an HTTP proxy's CONNECT, STARTTLS-like lines):
//! whatever follows, in whatever pieces, decoding never panics and the pieces never change
//! what is decoded.

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

fn feed_pieces(chunks: &[(Direction, Vec<u8>)], size: usize) -> Trace {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        for p in bytes.chunks(size.max(1)) {
            s.feed(*dir, p, Timestamp(i as i64));
        }
    }
    s.feed(D, Input::Fin, Timestamp(1_000));
    s.feed(E, Input::Fin, Timestamp(1_001));
    s.finish()
}

/// The events, without what shows the first piece by design: the Protocol event's sample
/// and the first bytes of undecoded data.
fn decoded(t: &Trace) -> Vec<String> {
    t.events()
        .filter(|e| !matches!(e.kind, EventKind::Protocol { .. }))
        .map(|e| match &e.kind {
            EventKind::Undecoded { bytes, .. } => format!("{:?} undecoded {bytes}", e.dir),
            _ => serde_json::to_string(e).expect("json"),
        })
        .collect()
}

fn header_line() -> impl Strategy<Value = String> {
    ("[A-Za-z-]{1,20}", "[ -~]{0,60}").prop_map(|(n, v)| format!("{n}: {v}\r\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_tunnel_in_any_pieces_decodes_the_same(target in "[a-z0-9.-]{1,40}:[0-9]{1,5}",
                                               headers in prop::collection::vec(header_line(), 0..6),
                                               status in prop::sample::select(vec![200u16, 403, 407, 500, 502]),
                                               body in prop::collection::vec(any::<u8>(), 0..200),
                                               tail in prop::collection::vec(any::<u8>(), 0..400),
                                               size in 1usize..64) {
        let mut d = format!("CONNECT {target} HTTP/1.1\r\n{}\r\n", headers.concat()).into_bytes();
        d.extend(lab_client_hello());
        d.extend(&tail);
        let mut e = format!("HTTP/1.1 {status} x\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        e.extend(&body);
        e.extend(&tail);
        let chunks = vec![(D, d), (E, e)];
        let whole = feed_pieces(&chunks, usize::MAX);
        let split = feed_pieces(&chunks, size);
        prop_assert_eq!(decoded(&whole), decoded(&split));
        let hello = whole.events().any(|e| matches!(&e.kind, EventKind::ClientHello(_)));
        prop_assert!(hello, "the ClientHello after the CONNECT is found");
    }

    #[test]
    fn text_then_tls_in_any_pieces_decodes_the_same(lines in prop::collection::vec("[ -~]{0,80}", 1..8),
                                                    size in 1usize..64) {
        let mut d: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
        // Text that does not start like anything the classifier knows.
        d.insert(0, b'~');
        d.extend(lab_client_hello());
        let chunks = vec![(D, d)];
        let whole = feed_pieces(&chunks, usize::MAX);
        let split = feed_pieces(&chunks, size);
        prop_assert_eq!(decoded(&whole), decoded(&split));
        let hello = whole.events().any(|e| matches!(&e.kind, EventKind::ClientHello(_)));
        prop_assert!(hello, "the ClientHello after the text is found");
    }

    #[test]
    fn anything_after_a_connect_never_panics(rest in prop::collection::vec(any::<u8>(), 0..3000),
                                             answer in prop::collection::vec(any::<u8>(), 0..3000),
                                             size in 1usize..500,
                                             gap in any::<bool>()) {
        let mut d = b"CONNECT ".to_vec();
        d.extend(&rest);
        let mut e = b"HTTP/1.".to_vec();
        e.extend(&answer);
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        for (p, q) in d.chunks(size).zip(e.chunks(size)) {
            s.feed(D, p, Timestamp(1));
            s.feed(E, q, Timestamp(2));
        }
        if gap {
            s.feed(E, Input::Gap(100), Timestamp(3));
        }
        s.feed(D, Input::Rst, Timestamp(4));
        let t = s.finish();
        prop_assert!(t.total_events() >= 1);
    }
}

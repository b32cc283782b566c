use super::*;
use crate::event::Direction::{DeviceToEndpoint as D, EndpointToDevice as E};
use crate::event::{AppProtocol, Event, Timestamp};
use crate::mqtt::encode;
use crate::session::{Input, Session, SessionConfig};
use crate::tls::testutil::{simple_client_hello, tls12_server_hello};
use crate::trace::{Identity, Trace};

const CONNECT: &[u8] = b"CONNECT example.com:8883 HTTP/1.1\r\nHost: example.com:8883\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 Connection established\r\nProxy-agent: test\r\n\r\n";

fn run(steps: &[(Direction, &[u8])]) -> Trace {
    run_with(steps, false)
}

fn run_with(steps: &[(Direction, &[u8])], reveal: bool) -> Trace {
    let config = SessionConfig {
        reveal_passwords: reveal,
        ..SessionConfig::default()
    };
    let mut s = Session::new(Identity::default(), config);
    s.feed(D, Input::Open, Timestamp(0));
    for (i, (dir, bytes)) in steps.iter().enumerate() {
        s.feed(*dir, *bytes, Timestamp(i as i64 + 1));
    }
    s.finish()
}

fn names(t: &Trace) -> Vec<String> {
    t.events()
        .map(|e: &Event| {
            serde_json::to_value(&e.kind).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn requests(t: &Trace) -> Vec<&ProxyRequest> {
    t.events()
        .filter_map(|e| match &e.kind {
            EventKind::ProxyConnect(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

fn responses(t: &Trace) -> Vec<&ProxyResponse> {
    t.events()
        .filter_map(|e| match &e.kind {
            EventKind::ProxyResponse(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

fn sni(t: &Trace) -> Option<String> {
    t.events().find_map(|e| match &e.kind {
        EventKind::ClientHello(h) => h.sni.clone(),
        _ => None,
    })
}

fn tunnelled_tls() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (D, CONNECT.to_vec()),
        (E, OK.to_vec()),
        (D, simple_client_hello()),
        (E, tls12_server_hello()),
    ]
}

fn borrow(v: &[(Direction, Vec<u8>)]) -> Vec<(Direction, &[u8])> {
    v.iter().map(|(d, b)| (*d, b.as_slice())).collect()
}

#[test]
fn tunnel_then_tls_is_decoded() {
    let t = run(&borrow(&tunnelled_tls()));
    assert_eq!(
        names(&t),
        [
            "tcp_open",
            "proxy_connect",
            "proxy_response",
            "protocol",
            "client_hello",
            "protocol",
            "server_hello"
        ]
    );
    let r = requests(&t);
    assert_eq!(r[0].target, "example.com:8883");
    assert_eq!(r[0].method, "CONNECT");
    assert_eq!(r[0].version, "HTTP/1.1");
    assert!(r[0].complete);
    assert_eq!(r[0].auth.as_deref(), Some("Basic"));
    assert_eq!(
        r[0].headers,
        [
            "Host: example.com:8883",
            "Proxy-Authorization: Basic <redacted>"
        ]
    );
    let json = serde_json::to_string(&t.events().collect::<Vec<_>>()).unwrap();
    assert!(!json.contains("dXNlcjpzZWNyZXQ="), "{json}");
    let a = responses(&t);
    assert_eq!(a[0].status, Some(200));
    assert_eq!(a[0].reason, "Connection established");
    assert_eq!(sni(&t).as_deref(), Some("example.com"));
}

#[test]
fn credentials_are_shown_only_when_asked() {
    let t = run_with(&[(D, CONNECT)], true);
    assert!(requests(&t)[0]
        .headers
        .contains(&"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=".to_string()));
}

#[test]
fn every_split_of_the_stream_gives_the_same_events() {
    // The events without `first_bytes`, which shows as many bytes as the first read held.
    let kinds = |t: &Trace| {
        let mut v = serde_json::to_value(t.events().map(|e| &e.kind).collect::<Vec<_>>()).unwrap();
        for e in v.as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("first_bytes");
        }
        v
    };
    let want = kinds(&run(&borrow(&tunnelled_tls())));
    // Each direction's bytes in pieces of every size from 1 to 9, so that the blank line,
    // the status line and the record header are each cut in every place.
    for size in 1..10 {
        let mut steps = Vec::new();
        for (dir, bytes) in tunnelled_tls() {
            for piece in bytes.chunks(size) {
                steps.push((dir, piece.to_vec()));
            }
        }
        assert_eq!(kinds(&run(&borrow(&steps))), want, "pieces of {size}");
    }
}

#[test]
fn tls_in_the_same_read_as_the_request() {
    let mut first = CONNECT.to_vec();
    first.extend(simple_client_hello());
    let t = run(&[(D, &first), (E, OK)]);
    assert_eq!(
        names(&t),
        [
            "tcp_open",
            "proxy_connect",
            "protocol",
            "client_hello",
            "proxy_response"
        ]
    );
}

#[test]
fn refusal_with_a_body_then_a_second_request() {
    let refused = b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 10\r\n\r\n<html>..</";
    let plain = b"CONNECT example.com:8883 HTTP/1.1\r\n\r\n";
    let t = run(&[
        (D, plain),
        (E, refused),
        (D, CONNECT),
        (E, OK),
        (D, &simple_client_hello()),
    ]);
    let r = requests(&t);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].auth, None);
    assert_eq!(r[1].auth.as_deref(), Some("Basic"));
    let a = responses(&t);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].status, Some(407));
    assert_eq!(a[0].auth_offered, ["Basic"]);
    assert_eq!(a[1].status, Some(200));
    assert_eq!(sni(&t).as_deref(), Some("example.com"));
    // The body was skipped, not decoded as something else.
    assert!(
        !names(&t).contains(&"undecoded".to_string()),
        "{:?}",
        names(&t)
    );
}

#[test]
fn refusal_without_a_length_runs_to_the_close() {
    let t = run(&[
        (D, CONNECT),
        (
            E,
            b"HTTP/1.1 403 Filtered\r\nContent-Type: text/html\r\n\r\n<html>no</html>",
        ),
        (E, b"more body"),
    ]);
    assert_eq!(responses(&t)[0].status, Some(403));
    assert_eq!(
        names(&t),
        ["tcp_open", "proxy_connect", "proxy_response"],
        "the body belongs to the refusal"
    );
}

#[test]
fn a_request_cut_by_the_close_is_reported_as_incomplete() {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    s.feed(D, b"CONNECT example.com:88", Timestamp(1));
    s.feed(D, Input::Fin, Timestamp(2));
    let t = s.finish();
    let r = requests(&t);
    assert_eq!(r.len(), 1);
    assert!(!r[0].complete);
    assert_eq!(r[0].target, "example.com:88");
}

#[test]
fn an_oversized_request_is_not_held_beyond_the_limit() {
    let mut big = b"CONNECT example.com:8883 HTTP/1.1\r\n".to_vec();
    while big.len() <= LIMIT + 100 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // In pieces, as a proxy would read it.
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    for piece in big.chunks(1000) {
        s.feed(D, piece, Timestamp(1));
    }
    let t = s.finish();
    let r = requests(&t);
    assert_eq!(r.len(), 1);
    assert!(!r[0].complete);
    assert_eq!(r[0].headers.len(), 32);
    assert!(r[0].more_headers > 0);
    let note = t.events().any(
        |e| matches!(&e.kind, EventKind::Note { text } if text.contains("no end within 64 KiB")),
    );
    assert!(note);
    // What follows is read as it would be without a preamble: an HTTP request.
    assert!(t.events().any(|e| matches!(
        &e.kind,
        EventKind::Protocol {
            protocol: AppProtocol::Http,
            ..
        }
    )));
}

#[test]
fn garbage_never_panics_and_stays_bounded() {
    // Bytes that start like a CONNECT and continue as noise, with and without line ends.
    let mut state = 0x1234_5678_9abc_def0u64;
    for round in 0..200 {
        let mut bytes = if round % 2 == 0 {
            b"CONNECT ".to_vec()
        } else {
            b"EHLO x\r\n".to_vec()
        };
        for _ in 0..(round * 37 % 3000) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state as u8);
        }
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        for piece in bytes.chunks(1 + round % 50) {
            s.feed(D, piece, Timestamp(1));
            s.feed(E, piece, Timestamp(2));
        }
        s.feed(E, Input::Gap(10), Timestamp(3));
        s.feed(D, Input::Rst, Timestamp(4));
        let _ = s.finish();
    }
}

#[test]
fn starttls_like_exchange_then_tls() {
    let t = run(&[
        (E, b"220 mail.example.com ready\r\n"),
        (D, b"EHLO device\r\n"),
        (E, b"250-mail.example.com\r\n250 STARTTLS\r\n"),
        (D, b"STARTTLS\r\n"),
        (E, b"220 go ahead\r\n"),
        (D, &simple_client_hello()),
        (E, &tls12_server_hello()),
    ]);
    let n = names(&t);
    assert!(n.contains(&"client_hello".to_string()), "{n:?}");
    assert!(n.contains(&"server_hello".to_string()), "{n:?}");
    let upgrades: Vec<(Direction, u64)> = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::TlsAfterPlaintext { offset } => Some((e.dir, offset)),
            _ => None,
        })
        .collect();
    assert_eq!(upgrades, [(D, 23), (E, 78)]);
    assert_eq!(sni(&t).as_deref(), Some("example.com"));
}

#[test]
fn starttls_with_the_hello_split_at_its_header() {
    let mut device = b"STARTTLS\r\n".to_vec();
    device.extend(simple_client_hello());
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    for (i, piece) in device.chunks(3).enumerate() {
        s.feed(D, piece, Timestamp(i as i64));
    }
    let t = s.finish();
    assert_eq!(sni(&t).as_deref(), Some("example.com"));
    let undecoded: u64 = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Undecoded { bytes, .. } => Some(bytes),
            _ => None,
        })
        .sum();
    assert_eq!(undecoded, 10, "only the STARTTLS line is plaintext");
}

#[test]
fn a_text_stream_that_never_turns_to_tls_is_decoded_as_before() {
    // A line start followed by 0x16 0x03 that is not a handshake record stays plaintext.
    let lines = b"HELLO\r\n\x16\x03\x09 not tls\r\n";
    let t = run(&[(D, lines)]);
    let undecoded: u64 = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Undecoded { bytes, .. } => Some(bytes),
            _ => None,
        })
        .sum();
    assert_eq!(undecoded, lines.len() as u64);
    assert!(!names(&t).contains(&"tls_after_plaintext".to_string()));
}

#[test]
fn held_header_prefix_is_released_at_the_close() {
    let t = run(&[(D, b"HELLO\r\n\x16\x03")]);
    let undecoded: u64 = t
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Undecoded { bytes, .. } => Some(bytes),
            _ => None,
        })
        .sum();
    assert_eq!(undecoded, 9);
}

#[test]
fn tls_past_the_limit_is_not_searched_for() {
    let mut lines = Vec::new();
    while lines.len() < LIMIT + 10 {
        lines.extend_from_slice(b"a line of text\r\n");
    }
    lines.extend(simple_client_hello());
    let t = run(&[(D, &lines)]);
    assert_eq!(sni(&t), None);
}

#[test]
fn no_preamble_no_change() {
    // TLS, MQTT and plain HTTP first bytes give the events they always gave.
    let tls = run(&[(D, &simple_client_hello()), (E, &tls12_server_hello())]);
    assert_eq!(
        names(&tls),
        [
            "tcp_open",
            "protocol",
            "client_hello",
            "protocol",
            "server_hello"
        ]
    );
    // Without a port hint the device's CONNECT makes the endpoint's answer MQTT.
    let mqtt = run(&[
        (D, &encode::connect(4, "c1", 60)),
        (E, &encode::connack(4, 0)),
    ]);
    assert_eq!(
        names(&mqtt),
        ["tcp_open", "protocol", "mqtt", "protocol", "mqtt"]
    );
    let http = run(&[
        (D, b"POST /topics/a HTTP/1.1\r\nHost: x\r\n\r\n"),
        (E, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
    ]);
    assert_eq!(
        names(&http),
        ["tcp_open", "protocol", "http", "protocol", "http"]
    );
    // An endpoint's HTTP answer without a CONNECT before it is not a proxy's answer.
    assert!(responses(&http).is_empty());
}

#[test]
fn text_and_tls_in_one_read() {
    let mut first = b"STARTTLS\r\n".to_vec();
    first.extend(simple_client_hello());
    let t = run(&[(D, &first)]);
    assert_eq!(sni(&t).as_deref(), Some("example.com"));
    assert!(is_text(b"x\r\n\x16\x03\x01"));
    assert!(!is_text(b"\x16\x03\x01\r\n"));
    assert!(!is_text(b""));
}

#[test]
fn targets() {
    assert_eq!(target_host("a.example:8883"), "a.example");
    assert_eq!(target_host("[2001:db8::1]:443"), "2001:db8::1");
    assert_eq!(target_host("a.example"), "a.example");
    assert_eq!(target_port("a.example:8883"), Some(8883));
    assert_eq!(target_port("a.example"), None);
}

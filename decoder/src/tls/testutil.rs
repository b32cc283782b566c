//! Builders for TLS bytes and a runner for the capture fixtures, shared by the TLS tests.

use crate::event::{Direction, EventKind, Timestamp};
use crate::session::{Input, Session, SessionConfig};
use crate::trace::{Identity, Trace};

pub fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

pub fn vec8(data: &[u8]) -> Vec<u8> {
    let mut v = vec![data.len() as u8];
    v.extend_from_slice(data);
    v
}

pub fn vec16(data: &[u8]) -> Vec<u8> {
    let mut v = u16be(data.len()).to_vec();
    v.extend_from_slice(data);
    v
}

pub fn vec24(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(data);
    v
}

pub fn record_v(content_type: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![content_type];
    v.extend_from_slice(&version.to_be_bytes());
    v.extend(vec16(payload));
    v
}

pub fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    record_v(content_type, 0x0303, payload)
}

pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![msg_type];
    v.extend(vec24(body));
    v
}

pub fn ext(id: u16, data: &[u8]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend(vec16(data));
    v
}

pub fn list16(items: &[u16]) -> Vec<u8> {
    let bytes: Vec<u8> = items.iter().flat_map(|i| i.to_be_bytes()).collect();
    vec16(&bytes)
}

pub fn sni_ext(names: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for n in names {
        list.push(0);
        list.extend(vec16(n));
    }
    ext(0, &vec16(&list))
}

pub fn alpn_ext(protocols: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protocols {
        list.extend(vec8(p));
    }
    ext(16, &vec16(&list))
}

/// A ClientHello body with the given suites and extensions.
pub fn client_hello_body(version: u16, suites: &[u16], exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend((0..32u8).collect::<Vec<u8>>());
    b.extend(vec8(&[0x11; 32]));
    b.extend(list16(suites));
    b.extend(vec8(&[0]));
    b.extend(vec16(&exts.concat()));
    b
}

pub fn server_hello_body(random: &[u8; 32], cipher: u16, exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.extend(vec8(&[0x22; 32]));
    b.extend(cipher.to_be_bytes());
    b.push(0);
    b.extend(vec16(&exts.concat()));
    b
}

/// A minimal TLS 1.2 ClientHello record, for tests about what follows it.
pub fn simple_client_hello() -> Vec<u8> {
    let body = client_hello_body(0x0303, &[0xc02f], &[sni_ext(&[b"example.com"])]);
    record_v(22, 0x0301, &handshake(1, &body))
}

pub fn tls12_server_hello() -> Vec<u8> {
    record(22, &handshake(2, &server_hello_body(&[7; 32], 0xc030, &[])))
}

pub fn tls13_server_hello() -> Vec<u8> {
    let key_share = ext(
        51,
        &[0, 29, 0, 32]
            .into_iter()
            .chain([9; 32])
            .collect::<Vec<u8>>(),
    );
    let versions = ext(43, &[3, 4]);
    record(
        22,
        &handshake(
            2,
            &server_hello_body(&[7; 32], 0x1302, &[versions, key_share]),
        ),
    )
}

/// One connection from a `.stream` fixture: chunks with the direction that sent them.
pub fn load_stream(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let path = format!(
        "{}/tests/data/tls/{}.stream",
        env!("CARGO_MANIFEST_DIR"),
        name
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (who, hex) = l.split_once(' ').expect("direction and hex");
            let dir = match who {
                "D" => Direction::DeviceToEndpoint,
                _ => Direction::EndpointToDevice,
            };
            (dir, crate::hex::decode(hex).expect("hex"))
        })
        .collect()
}

/// Feeds chunks into a session, one timestamp per chunk, and closes both directions.
pub fn run_chunks(chunks: &[(Direction, Vec<u8>)]) -> Trace {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    let mut ts = 0;
    for (dir, bytes) in chunks {
        ts += 1000;
        s.feed(*dir, bytes, Timestamp(ts));
    }
    s.feed(Direction::DeviceToEndpoint, Input::Fin, Timestamp(ts + 1));
    s.feed(Direction::EndpointToDevice, Input::Fin, Timestamp(ts + 2));
    s.finish()
}

pub fn run_stream(name: &str) -> Trace {
    run_chunks(&load_stream(name))
}

/// Feeds one direction's bytes as given, no timestamps to speak of.
pub fn run_device_bytes(pieces: &[&[u8]]) -> Trace {
    let chunks: Vec<(Direction, Vec<u8>)> = pieces
        .iter()
        .map(|p| (Direction::DeviceToEndpoint, p.to_vec()))
        .collect();
    run_chunks(&chunks)
}

/// The `event` tag of each event, with `>`/`<` for its direction.
pub fn kinds(trace: &Trace) -> Vec<String> {
    trace
        .events()
        .map(|e| {
            let name = serde_json::to_value(&e.kind).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string();
            let arrow = if e.dir == Direction::DeviceToEndpoint {
                '>'
            } else {
                '<'
            };
            format!("{arrow}{name}")
        })
        .collect()
}

pub fn client_hello(trace: &Trace) -> &crate::tls::ClientHello {
    trace
        .events()
        .find_map(|e| match &e.kind {
            EventKind::ClientHello(h) => Some(h.as_ref()),
            _ => None,
        })
        .expect("a ClientHello")
}

pub fn server_hello(trace: &Trace) -> &crate::tls::ServerHello {
    trace
        .events()
        .find_map(|e| match &e.kind {
            EventKind::ServerHello(h) => Some(h.as_ref()),
            _ => None,
        })
        .expect("a ServerHello")
}

pub fn malformed(trace: &Trace) -> Vec<(u64, String)> {
    trace
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::TlsMalformed { offset, reason } => Some((*offset, reason.to_string())),
            _ => None,
        })
        .collect()
}

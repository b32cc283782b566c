//! `Session::feed` throughput on long synthetic streams: MQTT over TLS 1.2 (handshake, then
//! encrypted records) and plain MQTT (CONNECT, then PUBLISH/PUBACK pairs).
//!
//! Run with `cargo bench -p iotscope-decoder --bench feed`; the MB/s go into
//! docs/performance.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iotscope_decoder::{Direction, Identity, Input, Session, SessionConfig, Timestamp};

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![msg_type];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

fn client_hello() -> Vec<u8> {
    let sni = b"abc123example-ats.iot.us-east-1.amazonaws.com";
    let mut ext = Vec::new();
    // server_name
    let mut names = vec![0u8];
    names.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    names.extend_from_slice(sni);
    let mut list = (names.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&names);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    let suites: [u16; 4] = [0xc02f, 0xc030, 0xc02b, 0xc02c];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    record(22, &handshake(1, &body))
}

fn server_flight() -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[9u8; 32]);
    sh.push(0);
    sh.extend_from_slice(&0xc02fu16.to_be_bytes());
    sh.push(0);
    let mut msgs = handshake(2, &sh);
    msgs.extend(handshake(11, &[0, 0, 0]));
    msgs.extend(handshake(14, &[]));
    record(22, &msgs)
}

/// A TLS 1.2 connection: handshake, then `records` encrypted records of `size` bytes in each
/// direction, alternating.
fn tls12_stream(records: usize, size: usize) -> Vec<(Direction, Vec<u8>)> {
    use Direction::*;
    let mut v = vec![
        (DeviceToEndpoint, client_hello()),
        (EndpointToDevice, server_flight()),
    ];
    let mut dev = record(22, &handshake(16, &[0x20; 33]));
    dev.extend(record(20, &[1]));
    dev.extend(record(22, &[0x55; 40]));
    v.push((DeviceToEndpoint, dev));
    let mut end = record(20, &[1]);
    end.extend(record(22, &[0x66; 40]));
    v.push((EndpointToDevice, end));
    let body = vec![0xa5; size];
    for i in 0..records {
        let dir = if i % 2 == 0 {
            DeviceToEndpoint
        } else {
            EndpointToDevice
        };
        v.push((dir, record(23, &body)));
    }
    v
}

/// Plain MQTT 3.1.1: CONNECT/CONNACK, then `n` PUBLISH QoS 1 with `payload` bytes and their PUBACKs.
fn mqtt_stream(n: usize, payload: usize) -> Vec<(Direction, Vec<u8>)> {
    use iotscope_decoder::mqtt::encode::{self, LEVEL_311};
    use Direction::*;
    let mut v = vec![
        (DeviceToEndpoint, encode::connect(LEVEL_311, "bench-01", 60)),
        (EndpointToDevice, encode::connack(LEVEL_311, 0)),
    ];
    let body = vec![b'x'; payload];
    for i in 0..n {
        let id = (i % 65535 + 1) as u16;
        let publish = encode::publish_qos1(LEVEL_311, id, "devices/bench/telemetry", &body);
        v.push((DeviceToEndpoint, publish));
        v.push((EndpointToDevice, encode::puback(LEVEL_311, id, 0)));
    }
    v
}

fn feed_all(stream: &[(Direction, Vec<u8>)]) -> u64 {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    s.feed(Direction::DeviceToEndpoint, Input::Open, Timestamp(0));
    for (i, (dir, bytes)) in stream.iter().enumerate() {
        s.feed(*dir, bytes, Timestamp(i as i64));
    }
    s.finish().total_events()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("session_feed");
    g.sample_size(10);
    let tls = tls12_stream(8_000, 4096);
    let tls_bytes: usize = tls.iter().map(|(_, b)| b.len()).sum();
    g.throughput(Throughput::Bytes(tls_bytes as u64));
    g.bench_with_input(
        BenchmarkId::new("mqtt_over_tls12", tls_bytes),
        &tls,
        |b, s| b.iter(|| feed_all(s)),
    );
    let mqtt = mqtt_stream(100_000, 256);
    let mqtt_bytes: usize = mqtt.iter().map(|(_, b)| b.len()).sum();
    g.throughput(Throughput::Bytes(mqtt_bytes as u64));
    g.bench_with_input(BenchmarkId::new("plain_mqtt", mqtt_bytes), &mqtt, |b, s| {
        b.iter(|| feed_all(s))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

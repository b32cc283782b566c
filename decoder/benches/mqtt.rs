//! The MQTT decoder alone (`MqttConn::push`), without TLS or session dispatch in front:
//! small QoS 1 PUBLISH/PUBACK pairs in 3.1.1 and 5, the same stream cut into 7-byte reads,
//! and large payloads that the decoder skips past.
//!
//! Run with `cargo bench -p iotscope-decoder --bench mqtt`; the MB/s go into
//! docs/performance.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iotscope_decoder::emit::Emit;
use iotscope_decoder::mqtt::{encode, MqttConn};
use iotscope_decoder::{Direction, Identity, Timestamp, Trace};

/// CONNECT, CONNACK, then `n` PUBLISH QoS 1 of `payload` bytes and their PUBACKs, as
/// `(direction, bytes)` in wire order. MQTT 5 packets carry the properties a telemetry
/// client typically sets (content type, message expiry, one user property).
fn stream(level: u8, n: usize, payload: usize) -> Vec<(Direction, Vec<u8>)> {
    use Direction::*;
    let v5 = level == 5;
    let mut out = vec![
        (
            DeviceToEndpoint,
            encode::connect(level, "bench-device-01", 60),
        ),
        (EndpointToDevice, encode::connack(level, 0)),
    ];
    let mut props = Vec::new();
    if v5 {
        props.push(0x03); // content type
        encode::string(b"application/json", &mut props);
        props.push(0x02); // message expiry interval
        props.extend_from_slice(&3600u32.to_be_bytes());
        props.push(0x26); // user property
        encode::string(b"site", &mut props);
        encode::string(b"plant-7", &mut props);
    }
    let body = vec![b'{'; payload];
    for i in 0..n {
        let id = (i % 65_535 + 1) as u16;
        let publish =
            encode::publish_qos1_with(level, id, "dt/plant-7/line-3/telemetry", &props, &body);
        out.push((DeviceToEndpoint, publish));
        let ack = if v5 {
            encode::puback_v5_short(id, 0x10) // no matching subscribers
        } else {
            encode::puback(level, id, 0)
        };
        out.push((EndpointToDevice, ack));
    }
    out
}

/// Cuts every piece into reads of at most `size` bytes.
fn in_reads(s: &[(Direction, Vec<u8>)], size: usize) -> Vec<(Direction, Vec<u8>)> {
    s.iter()
        .flat_map(|(d, b)| b.chunks(size).map(move |c| (*d, c.to_vec())))
        .collect()
}

fn decode(s: &[(Direction, Vec<u8>)]) -> u64 {
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(false);
    for (i, (dir, bytes)) in s.iter().enumerate() {
        let mut out = Emit::new(&mut trace, *dir, Timestamp(i as i64), false);
        conn.push(bytes, &mut out);
    }
    trace.total_events()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mqtt_decode");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let cases = [
        ("publish_qos1_v311_64B", stream(4, 50_000, 64)),
        ("publish_qos1_v5_64B", stream(5, 50_000, 64)),
        (
            "publish_qos1_v311_64B_in_7_byte_reads",
            in_reads(&stream(4, 10_000, 64), 7),
        ),
        ("publish_qos1_v311_256KiB", stream(4, 200, 256 * 1024)),
    ];
    for (name, s) in &cases {
        // Each piece of the whole-packet streams is one packet, and each packet one event.
        if !name.contains("reads") {
            assert_eq!(decode(s), s.len() as u64, "{name}: one event per packet");
        }
        let bytes: usize = s.iter().map(|(_, b)| b.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new(*name, bytes), s, |b, s| {
            b.iter(|| decode(s))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

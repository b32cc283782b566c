//! Nothing of a bulk stream is lost to the decoder: several MB through `iotscope proxy`
//! between mosquitto (TLS, client certificates) and mosquitto_pub, in passthrough and in
//! MITM, and the trace holds every byte and every packet that was sent. No timing is asserted
//! (speed is the benchmarks' business); the stream runs as fast as loopback lets it.
//!
//! Before the decoder's queue was bounded in bytes and bulk records went as their headers,
//! a 1 MB PUBLISH through MITM came out as a malformed packet, a key log that "does not
//! belong" and a truncated connection; 500 MB through passthrough lost most of its middle.

use std::process::Command;

use iotscope_tests::mosquitto::{broker, mosquitto_bin, run_device};
use iotscope_tests::pki::{BrokerFiles, Dir};
use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
use iotscope_tests::{codes, codes_of, have_tool};
use serde_json::Value;

/// One PUBLISH of this many payload bytes: over AWS IoT Core's 128 KB.
const BIG: usize = 6 * 1024 * 1024;
/// Then this many QoS 1 PUBLISHes of `LINE` bytes on one connection (`mosquitto_pub -l`).
const MANY: usize = 600;
const LINE: usize = 4000;

struct Peers {
    dir: Dir,
    _broker: iotscope_tests::mosquitto::Broker,
    up: String,
    ca_pem: String,
    cert: String,
    key: String,
    big: String,
    lines: Vec<u8>,
}

fn peers(name: &str) -> Option<Peers> {
    let bin = mosquitto_bin();
    let (Some(bin), true) = (bin, have_tool("mosquitto_pub")) else {
        return None;
    };
    let dir = Dir::new(name);
    let BrokerFiles {
        ca: ca_pem,
        server_cert: scert,
        server_key: skey,
        device_cert: cert,
        device_key: key,
    } = BrokerFiles::write(&dir, "lossless CA", "bulk-sensor");
    let (broker, port) = broker(&bin, &dir, &ca_pem, &scert, &skey, "");
    // A payload that is not all one byte, so no layer could compress or fold it.
    let payload: String = (0..BIG)
        .map(|i| char::from(b'a' + ((i * 7 + i / 97) % 26) as u8))
        .collect();
    let big = dir.put("big.txt", &payload);
    let mut lines = Vec::with_capacity(MANY * (LINE + 1));
    for i in 0..MANY {
        let line: String = (0..LINE)
            .map(|j| char::from(b'A' + ((i + j) % 26) as u8))
            .collect();
        lines.extend_from_slice(line.as_bytes());
        lines.push(b'\n');
    }
    Some(Peers {
        dir,
        _broker: broker,
        up: format!("127.0.0.1:{port}"),
        ca_pem,
        cert,
        key,
        big,
        lines,
    })
}

/// `mosquitto_pub` at QoS 1 through the proxy on `port`, trusting `trust`, with `args` for
/// the client id and the message.
fn device(p: &Peers, port: u16, trust: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-h",
        "localhost",
        "-p",
        &port.to_string(),
        "--cafile",
        trust,
        "--cert",
        &p.cert,
        "--key",
        &p.key,
        "-q",
        "1",
    ])
    .args(args);
    cmd
}

/// The device publishes the big file, then the lines.
fn publish_both(p: &Peers, port: u16, trust: &str) {
    let one = device(
        p,
        port,
        trust,
        &["-i", "bulk-sensor", "-t", "bulk/blob", "-f", &p.big],
    );
    assert!(run_device(one, b""), "the big PUBLISH failed");
    let many = device(
        p,
        port,
        trust,
        &["-i", "bulk-lines", "-t", "bulk/lines", "-l"],
    );
    assert!(run_device(many, &p.lines), "the many PUBLISHes failed");
}

fn events<'a>(conn: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    conn["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["event"] == kind)
}

/// No byte missed, no error, and nothing read as a defect of what was sent.
fn assert_whole(conn: &Value, what: &str) {
    assert_eq!(
        events(conn, "gap").count(),
        0,
        "{what}: gaps {}",
        conn["findings"]
    );
    let found = codes(conn);
    for never in [
        "CONN.TRUNCATED",
        "MQTT.MALFORMED",
        "TLS.NOT_DECRYPTED",
        "AUTH.CLIENT_CERT_REJECTED",
    ] {
        assert!(!found.iter().any(|c| c == never), "{what}: {found:?}");
    }
    assert!(
        codes_of(conn, "error").is_empty(),
        "{what}: {}",
        conn["findings"]
    );
}

/// Application data the device sent, as the trace counts it: bytes and records.
fn device_application_bytes(conn: &Value) -> u64 {
    events(conn, "encrypted")
        .filter(|e| e["dir"] == "device_to_endpoint" && e["phase"] == "application")
        .map(|e| e["bytes"].as_u64().unwrap_or(0))
        .sum()
}

fn publishes(conn: &Value) -> Vec<&Value> {
    conn["mqtt"]["packets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "PUBLISH")
        .collect()
}

/// `count` PUBLISHes decoded, each with its `len` bytes of payload whole, and a PUBACK for
/// each.
fn assert_each_publish_whole(conn: &Value, count: usize, len: usize) {
    let pubs = publishes(conn);
    assert_eq!(pubs.len(), count, "PUBLISH packets decoded");
    assert!(
        pubs.iter()
            .all(|p| p["payload_len"] == len as u64 && p.get("lost_bytes").is_none()),
        "a PUBLISH not whole"
    );
    let acks = conn["mqtt"]["packets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "PUBACK")
        .count();
    assert_eq!(acks, count, "PUBACKs decoded");
}

#[test]
fn a_bulk_stream_through_passthrough_loses_nothing() {
    let Some(p) = peers("lossless-pass") else {
        return;
    };
    let proxy = ProxyProcess::start(&["--upstream", &p.up, "--endpoint", "localhost", "--events"]);
    publish_both(&p, proxy.port, &p.ca_pem);

    let big = proxy.next_connection();
    assert_whole(&big, "the big PUBLISH");
    // Without keys the trace sees records: at least the payload went by, as application data.
    // Each TLS 1.3 record adds its content type byte and a 16-byte tag; the CONNECT and the
    // DISCONNECT are a few more small records.
    let sent = device_application_bytes(&big);
    let most = BIG as u64 + 32 + (BIG as u64 / 16_384 + 8) * 17 + 200;
    assert!(sent <= most, "application data {sent} > {most}");
    assert!(
        sent > BIG as u64,
        "application data {sent} < payload {BIG}: {:?}",
        events(&big, "encrypted").collect::<Vec<_>>()
    );

    let many = proxy.next_connection();
    assert_whole(&many, "the many PUBLISHes");
    let sent = device_application_bytes(&many);
    assert!(
        sent > (MANY * LINE) as u64,
        "application data {sent} < payloads {}",
        MANY * LINE
    );
    proxy.stop();
}

#[test]
fn a_bulk_stream_through_mitm_loses_nothing() {
    let Some(p) = peers("lossless-mitm") else {
        return;
    };
    let (ca_dir, trust) = mitm_ca(&p.dir);
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &p.up,
        "--endpoint",
        "localhost",
        "--mitm",
        "--ca-dir",
        &ca_dir,
        "--device-cert",
        &p.cert,
        "--device-key",
        &p.key,
        "--upstream-ca",
        &p.ca_pem,
        "--events",
    ]);
    publish_both(&p, proxy.port, &trust);

    // The big PUBLISH is decoded whole, acknowledged, and over AWS IoT Core's limit.
    let big = proxy.next_connection();
    assert_whole(&big, "the big PUBLISH");
    let pubs = publishes(&big);
    assert_eq!(pubs.len(), 1, "{}", big["mqtt"]);
    assert_eq!(pubs[0]["payload_len"], BIG as u64, "{}", pubs[0]);
    assert!(pubs[0].get("lost_bytes").is_none(), "{}", pubs[0]);
    assert!(
        big["mqtt"]["packets"].to_string().contains("PUBACK"),
        "{}",
        big["mqtt"]
    );
    let limit = big["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "MQTT.AWS_LIMIT")
        .unwrap_or_else(|| panic!("no MQTT.AWS_LIMIT: {}", big["findings"]));
    assert_eq!(limit["severity"], "warning");
    assert!(
        limit["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("payload of {BIG} bytes (limit 128 KB)")),
        "{limit}"
    );

    // Every one of the many PUBLISHes, each with its whole payload, and a PUBACK for each.
    let many = proxy.next_connection();
    assert_whole(&many, "the many PUBLISHes");
    assert_each_publish_whole(&many, MANY, LINE);
    proxy.stop();
}

/// A sink for the plain streams below: reads until the device's FIN, then answers with the
/// count it read (8 bytes, big-endian) and closes.
fn counting_sink() -> (String, std::thread::JoinHandle<u64>) {
    sink(false)
}

/// The answer of an HTTP proxy that opened the tunnel.
const TUNNEL_OPEN: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// With `tunnel`, the sink first reads a header block and answers it as an HTTP proxy that
/// opened the tunnel, then counts what follows.
fn sink(tunnel: bool) -> (String, std::thread::JoinHandle<u64>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the sink");
    let addr = l.local_addr().expect("sink address").to_string();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("the proxy connects");
        if tunnel {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut b).expect("the CONNECT request");
                head.push(b[0]);
            }
            s.write_all(TUNNEL_OPEN).expect("the tunnel's answer");
        }
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) => panic!("sink read: {e}"),
            }
        }
        s.write_all(&n.to_be_bytes()).expect("sink answer");
        n
    });
    (addr, t)
}

/// Sends `total` bytes of `block` (repeated) through the proxy at `port` as fast as loopback
/// takes them, and returns the sink's count.
fn push_through(port: u16, block: &[u8], total: usize) -> u64 {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    push_on(s, block, total)
}

fn push_on(mut s: std::net::TcpStream, block: &[u8], total: usize) -> u64 {
    use std::io::{Read, Write};
    let mut left = total;
    while left > 0 {
        let n = left.min(block.len());
        s.write_all(&block[..n]).expect("device write");
        left -= n;
    }
    s.shutdown(std::net::Shutdown::Write).expect("device FIN");
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer).expect("the sink's count");
    u64::from_be_bytes(answer)
}

/// How many gap events, and the first three: enough to see where the bytes went missing.
fn gap_summary(conn: &Value) -> String {
    let gaps: Vec<&Value> = events(conn, "gap").collect();
    format!(
        "{} gap events, first {:?}",
        gaps.len(),
        &gaps[..gaps.len().min(3)]
    )
}

fn sum_by<'a>(conn: &'a Value, kind: &'a str, dir: &'a str) -> u64 {
    events(conn, kind)
        .filter(|e| e["dir"] == dir)
        .map(|e| e["bytes"].as_u64().unwrap_or(0))
        .sum()
}

/// The device's application-data record bodies in the trace add up to `bytes`.
fn assert_record_bodies(conn: &Value, bytes: usize) {
    let encrypted = sum_by(conn, "encrypted", "device_to_endpoint");
    assert_eq!(encrypted, bytes as u64, "record bodies in the trace");
}

/// 64 application-data records of `body` bytes of noise each, and the length of one record.
fn records_block(body: usize, seed: u64) -> (Vec<u8>, usize) {
    let mut record = vec![23, 3, 3, (body >> 8) as u8, body as u8];
    record.resize(5 + body, 0);
    iotscope_tests::proxy::Noise::new(seed).fill(&mut record[5..]);
    let block = record.repeat(64);
    (block, record.len())
}

/// Bytes of no protocol iotscope decodes, at full speed through passthrough: once the
/// decoder has classified the direction it only counts, and the trace counts every byte
/// (before, the copies outran the decoder's queue and most of the stream was a gap).
#[test]
fn a_stream_of_no_known_protocol_is_counted_whole() {
    const TOTAL: usize = 512 * 1024 * 1024;
    let (sink, sink_done) = counting_sink();
    let proxy = ProxyProcess::start(&["--upstream", &sink, "--events"]);
    let mut block = vec![0u8; 1024 * 1024];
    iotscope_tests::proxy::Noise::new(23).fill(&mut block);
    block[0] = 0x8e; // not a TLS, MQTT or HTTP start
    let got = push_through(proxy.port, &block, TOTAL);
    assert_eq!(got, TOTAL as u64, "the sink's count");
    assert_eq!(sink_done.join().expect("sink"), TOTAL as u64);
    let conn = proxy.next_connection();
    assert_eq!(conn["tcp"]["gap_bytes"], 0, "{}", gap_summary(&conn));
    assert_eq!(
        sum_by(&conn, "undecoded", "device_to_endpoint"),
        TOTAL as u64
    );
    assert_eq!(sum_by(&conn, "undecoded", "endpoint_to_device"), 8);
    proxy.stop();
}

/// TLS application-data records with no handshake before them (the bench's plain stream):
/// the first record goes whole, so the decoder reads the direction as TLS, and the rest go as
/// their headers; every record is in the trace.
#[test]
fn records_without_a_handshake_are_counted_whole() {
    const BODY: usize = 16 * 1024;
    const RECORDS: usize = 32 * 1024; // 512 MiB of bodies
    let (sink, sink_done) = counting_sink();
    let proxy = ProxyProcess::start(&["--upstream", &sink, "--events"]);
    let (block, record_len) = records_block(BODY, 9);
    let total = RECORDS * record_len;
    let got = push_through(proxy.port, &block, total);
    assert_eq!(got, total as u64, "the sink's count");
    sink_done.join().expect("sink");
    let conn = proxy.next_connection();
    assert_eq!(conn["tcp"]["gap_bytes"], 0, "{}", gap_summary(&conn));
    assert_record_bodies(&conn, RECORDS * BODY);
    proxy.stop();
}

/// Plain MQTT (no TLS) at full speed through passthrough: a 6 MB PUBLISH is decoded whole
/// (its topic, its prefix and its length), the payload past what the decoder keeps is counted
/// instead of copied, and nothing is missed. Before, 5 of its 6 MB were a gap and the
/// connection ended `CONN.TRUNCATED`.
#[test]
fn a_large_plain_mqtt_publish_is_decoded_whole() {
    let Some(bin) = mosquitto_bin() else { return };
    if !have_tool("mosquitto_pub") {
        return;
    }
    let dir = Dir::new("lossless-plain");
    let port = iotscope_tests::proxy::dead_port();
    let conf = format!("listener {port} 127.0.0.1\nallow_anonymous true\n");
    let _broker = iotscope_tests::mosquitto::Broker::start(&bin, &dir, &conf, &[port]);
    let payload: String = (0..BIG)
        .map(|i| char::from(b'a' + ((i * 7 + i / 97) % 26) as u8))
        .collect();
    let big = dir.put("big.txt", &payload);
    let proxy = ProxyProcess::start(&["--upstream", &format!("127.0.0.1:{port}"), "--events"]);
    for _ in 0..2 {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(["-h", "127.0.0.1", "-p", &proxy.port.to_string(), "-q", "1"])
            .args(["-i", "plain-bulk", "-t", "bulk/blob", "-f", &big]);
        assert!(run_device(cmd, b""), "the big PUBLISH failed");
        let conn = proxy.next_connection();
        assert_eq!(conn["tcp"]["gap_bytes"], 0, "{}", gap_summary(&conn));
        let pubs = publishes(&conn);
        assert_eq!(pubs.len(), 1, "{}", conn["mqtt"]);
        assert_eq!(pubs[0]["payload_len"], BIG as u64, "{}", pubs[0]);
        assert!(pubs[0].get("lost_bytes").is_none(), "{}", pubs[0]);
        let found = codes(&conn);
        for never in ["CONN.TRUNCATED", "MQTT.MALFORMED"] {
            assert!(!found.iter().any(|c| c == never), "{found:?}");
        }
        assert!(
            conn["mqtt"]["packets"].to_string().contains("PUBACK"),
            "{}",
            conn["mqtt"]
        );
    }
    // Then many PUBLISHes of 100 KB back to back on one connection: each one decoded, none
    // missed, each acknowledged.
    const LINES: usize = 200;
    const LINE: usize = 100_000;
    let mut lines = Vec::with_capacity(LINES * (LINE + 1));
    for i in 0..LINES {
        lines.extend((0..LINE).map(|j| b'A' + ((i + j) % 26) as u8));
        lines.push(b'\n');
    }
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &proxy.port.to_string(), "-q", "1"])
        .args(["-i", "plain-lines", "-t", "bulk/lines", "-l"]);
    assert!(run_device(cmd, &lines), "the many PUBLISHes failed");
    let conn = proxy.next_connection();
    assert_eq!(conn["tcp"]["gap_bytes"], 0, "{}", gap_summary(&conn));
    assert_each_publish_whole(&conn, LINES, LINE);
    proxy.stop();
}

/// The same records through an HTTP proxy tunnel: the device's CONNECT and the proxy's answer
/// go whole, and the records after them are framed as on a direct connection, so a bulk TLS
/// stream through a tunnel loses nothing either.
#[test]
fn records_through_a_tunnel_are_counted_whole() {
    use std::io::{Read, Write};
    const BODY: usize = 16 * 1024;
    const RECORDS: usize = 16 * 1024; // 256 MiB of bodies
    let (sink, sink_done) = sink(true);
    let proxy = ProxyProcess::start(&["--upstream", &sink, "--events"]);
    let mut s =
        std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect to the proxy");
    s.write_all(b"CONNECT endpoint.test:8883 HTTP/1.1\r\nHost: endpoint.test:8883\r\n\r\n")
        .expect("the CONNECT");
    let mut answer = vec![0u8; TUNNEL_OPEN.len()];
    s.read_exact(&mut answer).expect("the tunnel's answer");
    assert_eq!(answer, TUNNEL_OPEN);
    let (block, record_len) = records_block(BODY, 5);
    let total = RECORDS * record_len;
    assert_eq!(push_on(s, &block, total), total as u64, "the sink's count");
    sink_done.join().expect("sink");
    let conn = proxy.next_connection();
    assert_eq!(conn["tcp"]["gap_bytes"], 0, "{}", gap_summary(&conn));
    assert!(
        events(&conn, "proxy_connect").count() == 1,
        "{:?}",
        conn["events"]
            .as_array()
            .map(|e| e.iter().take(6).collect::<Vec<_>>())
    );
    assert_record_bodies(&conn, RECORDS * BODY);
    proxy.stop();
}

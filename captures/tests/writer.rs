//! The pcapng writer: what it writes reads back through our reader and flow table as the
//! same bytes, and tshark reads it (checksums included).

mod common;

use std::net::SocketAddr;

use common::*;
use iotscope_captures::{CaptureReader, PcapngWriter, TcpConversationWriter};
use iotscope_decoder::Timestamp;

const KEYS: &[u8] = b"CLIENT_RANDOM 0001 abcd\nSERVER_HANDSHAKE_TRAFFIC_SECRET 0001 ef01\n";

/// Writes a recorded conversation: keys first, handshake, data both ways (one message
/// larger than a segment), FIN from the device, a reply, RST from the endpoint.
fn recording(device: SocketAddr, endpoint: SocketAddr) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let big: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.write_tls_keys(KEYS).unwrap();
    let mut conv = TcpConversationWriter::new(device, endpoint, 42, u32::MAX - 1000);
    let t = |ms: i64| Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000 + 123);
    conv.open(&mut w, t(0)).unwrap();
    conv.data(&mut w, t(1), D2E, b"hello").unwrap();
    conv.data(&mut w, t(2), E2D, &big).unwrap();
    conv.data(&mut w, t(3), D2E, b" world").unwrap();
    conv.fin(&mut w, t(4), D2E).unwrap();
    conv.data(&mut w, t(5), E2D, b"late").unwrap();
    conv.rst(&mut w, t(6), E2D).unwrap();
    let mut from_endpoint = big;
    from_endpoint.extend_from_slice(b"late");
    (w.into_inner(), b"hello world".to_vec(), from_endpoint)
}

#[test]
fn written_conversation_reads_back_the_same() {
    for (device, endpoint) in [
        ("192.0.2.10:50123", "198.51.100.7:8883"),
        ("[2001:db8::10]:50123", "[2001:db8::7]:443"),
    ] {
        let device: SocketAddr = device.parse().unwrap();
        let endpoint: SocketAddr = endpoint.parse().unwrap();
        let (file, to_endpoint, to_device) = recording(device, endpoint);
        let mut reader = CaptureReader::from_reader(&file[..]).unwrap();
        let first = reader.next().unwrap().unwrap();
        assert_eq!(
            first.ts,
            Timestamp(1_700_000_000_000_000_123),
            "nanoseconds kept"
        );
        assert_eq!(first.linktype, 101);
        assert_eq!(reader.take_secrets(), vec![KEYS.to_vec()]);
        let run = run_bytes(&file);
        assert!(run.error.is_none());
        // 3 handshake + 1 + 3 (150 000 bytes in 65 000-byte segments) + 1 + FIN + 1 + RST
        assert_eq!(run.packets.len(), 11);
        let flows = run.flows();
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        assert_eq!(f.device, Some(device));
        assert_eq!(f.endpoint, Some(endpoint));
        assert!(f.syn_seen);
        assert_eq!(f.data[D2E.index()], to_endpoint);
        assert_eq!(f.data[E2D.index()], to_device);
        assert_eq!(f.gaps, [0, 0]);
        assert_eq!(f.first_fin, Some(D2E));
        assert_eq!(f.rst, [false, true]);
    }
}

#[test]
fn tshark_reads_the_recording_with_good_checksums() {
    if !tshark_available() {
        return;
    }
    let (file, _, _) = recording(
        "192.0.2.10:50123".parse().unwrap(),
        "198.51.100.7:8883".parse().unwrap(),
    );
    let path = tmp_path("recording.pcapng");
    std::fs::write(&path, &file).unwrap();
    let p = path.to_str().unwrap();
    let statuses = tshark(&[
        "-r",
        p,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "ip.checksum.status",
        "-e",
        "tcp.checksum.status",
    ]);
    let lines: Vec<&str> = statuses.lines().collect();
    assert_eq!(lines.len(), 11);
    for l in lines {
        assert_eq!(l, "1\t1", "checksum status (1 = good)");
    }
    let ours: Vec<(u64, i64)> = CaptureReader::open(&path)
        .unwrap()
        .map(|p| {
            let p = p.unwrap();
            (p.number, p.ts.0.div_euclid(1000))
        })
        .collect();
    assert_eq!(ours, tshark_times_us(&path));
}

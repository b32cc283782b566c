//! The capture reader: formats, timestamps (checked against tshark), embedded keys, and
//! damaged or foreign files.

mod common;

use std::process::Command;

use common::*;
use iotscope_captures::{CaptureFormat, CaptureReader, StreamEvent};
use iotscope_decoder::Timestamp;

fn read_all(
    bytes: &[u8],
) -> (
    Vec<iotscope_captures::RawPacket>,
    Option<iotscope_captures::CaptureError>,
) {
    let mut packets = Vec::new();
    let mut error = None;
    for item in CaptureReader::from_reader(bytes).expect("header") {
        match item {
            Ok(p) => packets.push(p),
            Err(e) => {
                assert!(error.is_none(), "only one error");
                error = Some(e);
            }
        }
    }
    (packets, error)
}

fn editcap(args: &[&str]) -> bool {
    match Command::new("editcap").args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("editcap {args:?}: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            if std::env::var_os("CI").is_some() {
                panic!("editcap is required under CI but could not be run");
            }
            eprintln!("editcap not found: skipping");
            false
        }
    }
}

#[test]
fn pcapng_from_editcap_has_the_same_times_as_tshark_and_as_the_pcap() {
    if !tshark_available() {
        return;
    }
    let src = captures_dir().join("public/arkime_tls13_curl_sni.pcap");
    let out = tmp_path("arkime_tls13_curl_sni.pcapng");
    if !editcap(&["-F", "pcapng", src.to_str().unwrap(), out.to_str().unwrap()]) {
        return;
    }
    let reader = CaptureReader::open(&out).unwrap();
    assert_eq!(reader.format(), CaptureFormat::Pcapng);
    let ours: Vec<(u64, i64)> = reader
        .map(|p| {
            let p = p.unwrap();
            (p.number, p.ts.0.div_euclid(1000))
        })
        .collect();
    assert_eq!(ours.len(), 35);
    assert_eq!(ours, tshark_times_us(&out));
    // The same frames read from the original pcap carry the same times.
    let original: Vec<(u64, i64)> = CaptureReader::open(&src)
        .unwrap()
        .map(|p| {
            let p = p.unwrap();
            (p.number, p.ts.0.div_euclid(1000))
        })
        .collect();
    assert_eq!(ours, original);
}

/// Three interfaces with different clocks, simple packets, and a key-log block.
fn multi_interface_pcapng(big_endian: bool) -> Vec<u8> {
    let ip = some_ip_packet();
    let mut b = PcapngBuilder::new(big_endian);
    b.idb(101, Some(9), None) // nanoseconds
        .idb(101, Some(0x80 | 20), Some(1000)) // 2^-20 s, +1000 s
        .idb(101, None, None) // default: microseconds
        .dsb(0x544c_534b, b"CLIENT_RANDOM aa bb\n")
        .epb(0, 1_700_000_000_123_456_789, &ip)
        .epb(1, (1_700_000_000u64 << 20) + 12_345, &ip)
        .epb(2, 1_700_000_002_654_321, &ip)
        .spb(&ip)
        .dsb(0x5747_4b4c, b"wireguard, ignored")
        .epb(0, 1_700_000_003_000_000_001, &ip);
    b.bytes
}

#[test]
fn pcapng_interfaces_keep_their_own_resolution_and_offset() {
    for big_endian in [false, true] {
        let bytes = multi_interface_pcapng(big_endian);
        let (packets, error) = read_all(&bytes);
        assert!(error.is_none(), "{error:?}");
        let times: Vec<(u64, u32, Timestamp)> = packets
            .iter()
            .map(|p| (p.number, p.interface, p.ts))
            .collect();
        assert_eq!(
            times,
            vec![
                (1, 0, Timestamp(1_700_000_000_123_456_789)),
                // 12345 / 2^20 s = 0.011773109… s, plus the 1000 s offset
                (2, 1, Timestamp(1_700_001_000_011_773_109)),
                (3, 2, Timestamp(1_700_000_002_654_321_000)),
                // a simple packet has no time of its own: the previous packet's
                (4, 0, Timestamp(1_700_000_002_654_321_000)),
                (5, 0, Timestamp(1_700_000_003_000_000_001)),
            ],
            "big endian: {big_endian}"
        );
        assert!(packets
            .iter()
            .all(|p| p.linktype == 101 && p.data == some_ip_packet()));
    }
}

#[test]
fn a_second_section_starts_afresh_in_its_own_byte_order() {
    let mut bytes = multi_interface_pcapng(false);
    bytes.extend(multi_interface_pcapng(true));
    let (packets, error) = read_all(&bytes);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(packets.len(), 10);
    for i in 0..5 {
        assert_eq!(packets[i].ts, packets[i + 5].ts);
        assert_eq!(packets[i].interface, packets[i + 5].interface);
        assert_eq!(packets[i + 5].number, i as u64 + 6);
    }
}

#[test]
fn pcapng_with_odd_resolutions_agrees_with_tshark() {
    if !tshark_available() {
        return;
    }
    let path = tmp_path("multi_interface.pcapng");
    std::fs::write(&path, multi_interface_pcapng(false)).unwrap();
    let ours: Vec<(u64, i64)> = CaptureReader::open(&path)
        .unwrap()
        .map(|p| {
            let p = p.unwrap();
            (p.number, p.ts.0.div_euclid(1000))
        })
        .filter(|(n, _)| *n != 4) // tshark shows no time for the simple packet
        .collect();
    assert_eq!(ours, tshark_times_us(&path));
}

#[test]
fn decryption_secrets_are_handed_over_in_file_order() {
    let bytes = multi_interface_pcapng(false);
    let mut reader = CaptureReader::from_reader(&bytes[..]).unwrap();
    assert!(reader.take_secrets().is_empty());
    let first = reader.next().unwrap().unwrap();
    assert_eq!(first.number, 1);
    assert_eq!(
        reader.take_secrets(),
        vec![b"CLIENT_RANDOM aa bb\n".to_vec()]
    );
    assert!(reader.take_secrets().is_empty());
    assert_eq!(reader.count(), 4);
}

#[test]
fn editcap_injected_key_log_is_read_back() {
    let lab = captures_dir().join("lab");
    let keys = lab.join("01_success_mqtt311.keys");
    let out = tmp_path("01_with_keys.pcapng");
    let inject = format!("tls,{}", keys.display());
    if !editcap(&[
        "--inject-secrets",
        &inject,
        lab.join("01_success_mqtt311.pcap").to_str().unwrap(),
        out.to_str().unwrap(),
    ]) {
        return;
    }
    let mut reader = CaptureReader::open(&out).unwrap();
    let packets: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(packets.len(), 20);
    assert_eq!(reader.secrets_seen(), 1);
    assert_eq!(reader.take_secrets(), vec![std::fs::read(&keys).unwrap()]);
}

#[test]
fn pcap_byte_orders_and_resolutions() {
    let ip = some_ip_packet();
    for (big_endian, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut b = PcapBuilder::with_format(101, big_endian, nanos);
        b.frame(1_700_000_000_123_456_789, &ip).frame(5, &ip);
        let reader = CaptureReader::from_reader(&b.bytes[..]).unwrap();
        assert_eq!(
            reader.format(),
            CaptureFormat::Pcap {
                big_endian,
                nanoseconds: nanos
            }
        );
        let (packets, error) = read_all(&b.bytes);
        assert!(error.is_none());
        let expect_first = if nanos {
            1_700_000_000_123_456_789
        } else {
            1_700_000_000_123_456_000
        };
        let expect_second = if nanos { 5 } else { 0 };
        assert_eq!(packets[0].ts, Timestamp(expect_first));
        assert_eq!(packets[1].ts, Timestamp(expect_second));
        assert_eq!(packets[1].file_offset, 24 + 16 + ip.len() as u64);
        assert_eq!(packets[1].data, ip);
    }
}

#[test]
fn truncated_pcap_yields_what_came_before_then_one_error() {
    let bytes = std::fs::read(captures_dir().join("public/sv_mqtt311_pub_qos2.pcap")).unwrap();
    let (all, _) = read_all(&bytes);
    assert_eq!(all.len(), 15);
    // Cut inside frame 9's data.
    let cut = all[8].file_offset as usize + 16 + 3;
    let (packets, error) = read_all(&bytes[..cut]);
    assert_eq!(packets.len(), 8);
    assert_eq!(packets, all[..8].to_vec());
    let e = error.expect("an error");
    assert_eq!(e.offset, all[8].file_offset);
    assert_eq!(e.packet, 8);
    assert!(e.message.contains("truncated packet"), "{}", e.message);
    // Cut inside a record header.
    let (packets, error) = read_all(&bytes[..all[3].file_offset as usize + 7]);
    assert_eq!(packets.len(), 3);
    let e = error.unwrap();
    assert_eq!((e.offset, e.packet), (all[3].file_offset, 3));
    assert!(e.message.contains("7 of 16 bytes"), "{}", e.message);
}

#[test]
fn truncated_and_corrupt_pcapng() {
    let bytes = multi_interface_pcapng(false);
    let (all, _) = read_all(&bytes);
    let cut = all[2].file_offset as usize + 20;
    let (packets, error) = read_all(&bytes[..cut]);
    assert_eq!(packets.len(), 2);
    let e = error.unwrap();
    assert_eq!((e.offset, e.packet), (all[2].file_offset, 2));
    assert!(e.message.contains("truncated block"), "{}", e.message);

    // A block length that is not a multiple of 4.
    let mut bad = bytes.clone();
    let at = all[1].file_offset as usize + 4;
    bad[at] = bad[at].wrapping_add(1);
    let (packets, error) = read_all(&bad);
    assert_eq!(packets.len(), 1);
    let e = error.unwrap();
    assert_eq!((e.offset, e.packet), (all[1].file_offset, 1));
    assert!(
        e.message
            .contains("Enhanced Packet Block length 77 is not a multiple of 4"),
        "{}",
        e.message
    );

    // A trailing length that differs from the leading one.
    let mut bad = bytes.clone();
    let end = all[2].file_offset as usize + 4;
    let len = u32::from_le_bytes(bad[end..end + 4].try_into().unwrap()) as usize;
    bad[all[2].file_offset as usize + len - 4] ^= 0x40;
    let (packets, error) = read_all(&bad);
    assert_eq!(packets.len(), 2);
    assert!(error
        .unwrap()
        .message
        .contains("does not match its trailing copy"));

    // Options without an end marker and a comment that is not UTF-8 are fine.
    let mut odd = PcapngBuilder::new(false);
    // linktype 101, snaplen 0, if_tsresol 9, no end-of-options
    odd.block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0]);
    let ip = some_ip_packet();
    let mut body = Vec::new();
    for w in [0u32, 0, 1_000, ip.len() as u32, ip.len() as u32] {
        body.extend_from_slice(&w.to_le_bytes());
    }
    body.extend_from_slice(&ip);
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    body.extend_from_slice(&[1, 0, 3, 0, 0xff, 0xfe, 0x80, 0]); // opt_comment, no end marker
    odd.block(6, &body);
    let (packets, error) = read_all(&odd.bytes);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].ts, Timestamp(1_000));
    assert_eq!(packets[0].data, ip);

    // An enhanced packet naming an interface that does not exist.
    let mut bad = bytes.clone();
    bad[all[0].file_offset as usize + 8] = 7;
    let (packets, error) = read_all(&bad);
    assert!(packets.is_empty());
    assert!(error.unwrap().message.contains("interface 7"));

    // A huge length field is refused before anything is read for it.
    let mut bytes = PcapBuilder::new(1).bytes;
    bytes.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f,
    ]);
    let (packets, error) = read_all(&bytes);
    assert!(packets.is_empty());
    let e = error.unwrap();
    assert_eq!(e.offset, 24);
    assert!(e.message.contains("corrupt"), "{}", e.message);
}

#[test]
fn garbage_and_empty_files_are_named() {
    let e = CaptureReader::from_reader(&b"GET / HTTP/1.1\r\nHost: x\r\n"[..])
        .err()
        .unwrap();
    assert_eq!((e.offset, e.packet), (0, 0));
    assert!(
        e.message.contains("not a pcap or pcapng file"),
        "{}",
        e.message
    );
    assert!(e.message.contains("47 45 54 20 2f"), "{}", e.message);
    assert!(e.message.contains("GET / HTTP/1.1"), "{}", e.message);
    let e = CaptureReader::from_reader(&b""[..]).err().unwrap();
    assert!(e.message.contains("empty"), "{}", e.message);
    let e = CaptureReader::from_reader(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0][..])
        .err()
        .unwrap();
    assert!(
        e.message.contains("truncated pcap file header"),
        "{}",
        e.message
    );
    let e = CaptureReader::open("/nonexistent/capture.pcap")
        .err()
        .unwrap();
    assert!(
        e.message.contains("/nonexistent/capture.pcap"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_link_type_is_named_once_and_counted() {
    let ip = some_ip_packet();
    let mut b = PcapBuilder::new(147);
    for i in 0..500 {
        b.frame(i * 1000, &ip);
    }
    let run = run_bytes(&b.bytes);
    assert_eq!(run.packets.len(), 500);
    assert!(run.flows().is_empty());
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0].0, 1);
    assert!(warnings[0].1.contains("link type 147"), "{}", warnings[0].1);
    assert_eq!(warnings[1].0, 0);
    assert!(
        warnings[1].1.starts_with("500 frames of link type 147"),
        "{}",
        warnings[1].1
    );
    assert!(run
        .events
        .iter()
        .all(|e| matches!(e, StreamEvent::Warning { .. })));
}

/// `read_into` reuses one packet's buffer and reads exactly what the iterator reads, frames of
/// different sizes and the error at the end included.
#[test]
fn reading_into_one_packet_gives_what_the_iterator_gives() {
    let bytes = std::fs::read(captures_dir().join("public/sv_mqtt311_pub_qos2.pcap")).unwrap();
    let cut = &bytes[..bytes.len() - 5];
    let (all, error) = read_all(cut);
    let mut reader = CaptureReader::from_reader(cut).unwrap();
    let mut packet = iotscope_captures::RawPacket::default();
    let mut seen = Vec::new();
    let end = loop {
        match reader.read_into(&mut packet) {
            Ok(true) => seen.push(packet.clone()),
            Ok(false) => break None,
            Err(e) => break Some(e),
        }
    };
    assert_eq!(seen, all);
    assert_eq!(end, error);
    assert!(end.is_some());
    assert_eq!(reader.read_into(&mut packet), Ok(false));
}

//! Captures built in the test, one TCP or link-layer situation each: reordering,
//! retransmission, overlap, wrap-around, holes, link types, IP fragments, cut frames,
//! handshake oddities, buffer caps and many flows.

mod common;

use std::net::SocketAddr;

use common::*;
use iotscope_captures::writer::build_tcp_packet;
use iotscope_captures::{FlowConfig, FlowTable, StreamEvent, TcpFlags};
use iotscope_decoder::{AppProtocol, Direction, Timestamp};

const MS: i64 = 1_000_000;
const BASE: i64 = 1_700_000_000_000_000_000;

/// One connection's addresses and initial sequence numbers, to build its segments.
struct Conv {
    dev: SocketAddr,
    end: SocketAddr,
    isn: [u32; 2],
}

impl Conv {
    fn v4() -> Conv {
        Conv {
            dev: "192.168.1.20:51000".parse().unwrap(),
            end: "10.1.2.3:8883".parse().unwrap(),
            isn: [1000, 500_000],
        }
    }

    fn v6() -> Conv {
        Conv {
            dev: "[fd00::20]:51000".parse().unwrap(),
            end: "[2001:db8::3]:8883".parse().unwrap(),
            isn: [7, 9_000_000],
        }
    }

    fn addrs(&self, dir: Direction) -> (SocketAddr, SocketAddr) {
        match dir {
            Direction::DeviceToEndpoint => (self.dev, self.end),
            Direction::EndpointToDevice => (self.end, self.dev),
        }
    }

    /// A segment `rel` bytes into the sender's stream, acknowledging `ack` bytes of the
    /// other side's.
    fn seg(&self, dir: Direction, rel: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = self.addrs(dir);
        let d = dir.index();
        let o = dir.reverse().index();
        let seq = self.isn[d].wrapping_add(1).wrapping_add(rel);
        let ack = self.isn[o].wrapping_add(1).wrapping_add(ack);
        build_tcp_packet(src, dst, seq, ack, flags, payload).unwrap()
    }

    fn syn(&self) -> Vec<u8> {
        build_tcp_packet(self.dev, self.end, self.isn[0], 0, TcpFlags::SYN, &[]).unwrap()
    }

    fn syn_ack(&self) -> Vec<u8> {
        let ack = self.isn[0].wrapping_add(1);
        build_tcp_packet(self.end, self.dev, self.isn[1], ack, TcpFlags::SYN_ACK, &[]).unwrap()
    }

    fn handshake(&self) -> Vec<Vec<u8>> {
        vec![
            self.syn(),
            self.syn_ack(),
            self.seg(D2E, 0, 0, TcpFlags::ACK, &[]),
        ]
    }

    fn data(&self, dir: Direction, rel: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        self.seg(dir, rel, ack, TcpFlags::PSH_ACK, payload)
    }
}

/// Frames (raw IP) in a pcap of link type 101, one millisecond apart.
fn raw_capture(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut b = PcapBuilder::new(101);
    for (i, f) in frames.iter().enumerate() {
        b.frame(BASE + i as i64 * MS, f);
    }
    b.bytes
}

fn text(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

fn only_flow(run: &Run) -> FlowSummary {
    let flows = run.flows();
    assert_eq!(flows.len(), 1, "{:?}", flows);
    flows.into_iter().next().unwrap()
}

#[test]
fn out_of_order_segments_are_put_back_in_order() {
    let c = Conv::v4();
    let msg = text(400);
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, &msg[..100]));
    frames.push(c.data(D2E, 200, 0, &msg[200..300]));
    frames.push(c.data(D2E, 300, 0, &msg[300..]));
    frames.push(c.data(D2E, 100, 0, &msg[100..200]));
    frames.push(c.data(E2D, 0, 400, b"ok"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(f.data[D2E.index()], msg);
    assert_eq!(f.data[E2D.index()], b"ok");
    assert_eq!(f.gaps, [0, 0]);
    assert!(f.syn_seen);
    assert_eq!(
        f.trail,
        vec![
            (D2E, "open".into()),
            (D2E, "data 100".into()),
            (D2E, "data 100".into()),
            (D2E, "data 100".into()),
            (D2E, "data 100".into()),
            (E2D, "data 2".into()),
        ]
    );
}

#[test]
fn retransmission_with_other_content_keeps_the_first_copy() {
    let c = Conv::v4();
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, b"AAAA"));
    frames.push(c.data(D2E, 0, 0, b"BBBB"));
    frames.push(c.data(D2E, 4, 0, b"CC"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(f.data[D2E.index()], b"AAAACC");
}

#[test]
fn overlapping_segments_keep_what_came_first() {
    let c = Conv::v4();
    let mut frames = c.handshake();
    // bytes 10..20 arrive first, then 5..25 with other content, then 0..5
    frames.push(c.data(D2E, 10, 0, b"0123456789"));
    frames.push(c.data(D2E, 5, 0, b"vwxyzVWXYZVWXYZvwxyz"));
    frames.push(c.data(D2E, 0, 0, b"abcde"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(f.data[D2E.index()], b"abcdevwxyz0123456789vwxyz");
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut c = Conv::v4();
    c.isn = [u32::MAX - 10, u32::MAX];
    let msg = text(64);
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 32, 0, &msg[32..]));
    frames.push(c.data(D2E, 0, 0, &msg[..32]));
    frames.push(c.data(E2D, 0, 64, b"reply"));
    frames.push(c.seg(D2E, 64, 5, TcpFlags::FIN_ACK, &[]));
    frames.push(c.seg(E2D, 5, 65, TcpFlags::FIN_ACK, &[]));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(f.data[D2E.index()], msg);
    assert_eq!(f.data[E2D.index()], b"reply");
    assert_eq!(f.fin, [true, true]);
    assert_eq!(f.gaps, [0, 0]);
}

#[test]
fn a_hole_the_peer_acknowledges_becomes_a_gap() {
    let c = Conv::v4();
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, &text(100)));
    frames.push(c.data(D2E, 150, 0, &text(50)));
    frames.push(c.seg(E2D, 0, 200, TcpFlags::ACK, &[]));
    frames.push(c.data(D2E, 200, 0, b"after"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(
        f.trail,
        vec![
            (D2E, "open".into()),
            (D2E, "data 100".into()),
            (D2E, "gap 50".into()),
            (D2E, "data 50".into()),
            (D2E, "data 5".into()),
        ]
    );
}

#[test]
fn a_hole_left_at_the_end_becomes_a_gap() {
    let c = Conv::v4();
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, b"first"));
    frames.push(c.data(D2E, 1000, 0, b"later"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(f.gaps, [995, 0]);
    assert_eq!(f.data[D2E.index()], b"firstlater");
    assert_eq!(
        f.trail[1..],
        [
            (D2E, "data 5".into()),
            (D2E, "gap 995".into()),
            (D2E, "data 5".into())
        ]
    );
}

#[test]
fn fin_beyond_a_hole_gives_gap_then_fin() {
    let c = Conv::v4();
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, b"abc"));
    frames.push(c.seg(D2E, 10, 0, TcpFlags::FIN_ACK, b"xyz"));
    let f = only_flow(&run_bytes(&raw_capture(&frames)));
    assert_eq!(
        f.trail[1..],
        [
            (D2E, "data 3".into()),
            (D2E, "gap 7".into()),
            (D2E, "data 3".into()),
            (D2E, "fin".into())
        ]
    );
}

/// A complete little conversation: handshake, a message each way, FIN both ways.
fn conversation(c: &Conv) -> Vec<Vec<u8>> {
    let mut frames = c.handshake();
    frames.push(c.data(D2E, 0, 0, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"));
    frames.push(c.data(E2D, 0, 14, b"\x20\x02\x00\x00"));
    frames.push(c.seg(D2E, 14, 4, TcpFlags::FIN_ACK, &[]));
    frames.push(c.seg(E2D, 4, 15, TcpFlags::FIN_ACK, &[]));
    frames.push(c.seg(D2E, 15, 5, TcpFlags::ACK, &[]));
    frames
}

fn assert_conversation(run: &Run, c: &Conv, what: &str) {
    assert!(run.error.is_none(), "{what}");
    let f = only_flow(run);
    assert_eq!(f.device, Some(c.dev), "{what}");
    assert_eq!(f.endpoint, Some(c.end), "{what}");
    assert_eq!(f.data[D2E.index()].len(), 14, "{what}");
    assert_eq!(f.data[E2D.index()], b"\x20\x02\x00\x00", "{what}");
    assert_eq!(f.fin, [true, true], "{what}");
    assert_eq!(f.gaps, [0, 0], "{what}");
}

/// Puts a link-layer header around a raw IP packet.
type Wrap = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn framed(linktype: u32, frames: &[Vec<u8>], wrap: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut b = PcapBuilder::new(linktype);
    for (i, f) in frames.iter().enumerate() {
        b.frame(BASE + i as i64 * MS, &wrap(f));
    }
    b.bytes
}

fn ether_type(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

fn ethernet(tags: &[u16], ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for t in tags {
        f.extend_from_slice(&t.to_be_bytes());
        f.extend_from_slice(&[0x00, 0x64]);
    }
    f.extend_from_slice(&ether_type(ip));
    f.extend_from_slice(ip);
    // Short frames are padded to the Ethernet minimum; the IP length must win.
    while f.len() < 60 {
        f.push(0);
    }
    f
}

#[test]
fn link_layers() {
    for c in [Conv::v4(), Conv::v6()] {
        let frames = conversation(&c);
        let v6 = c.dev.is_ipv6();
        let cases: Vec<(&str, u32, Wrap)> = vec![
            ("raw", 101, Box::new(|ip: &[u8]| ip.to_vec())),
            (
                "raw v4/v6",
                if v6 { 229 } else { 228 },
                Box::new(|ip: &[u8]| ip.to_vec()),
            ),
            ("ethernet", 1, Box::new(|ip: &[u8]| ethernet(&[], ip))),
            ("vlan", 1, Box::new(|ip: &[u8]| ethernet(&[0x8100], ip))),
            (
                "qinq",
                1,
                Box::new(|ip: &[u8]| ethernet(&[0x88a8, 0x8100], ip)),
            ),
            (
                "old qinq",
                1,
                Box::new(|ip: &[u8]| ethernet(&[0x9100, 0x8100], ip)),
            ),
            (
                "sll",
                113,
                Box::new(|ip: &[u8]| {
                    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
                    f.extend_from_slice(&ether_type(ip));
                    f.extend_from_slice(ip);
                    f
                }),
            ),
            (
                "sll2",
                276,
                Box::new(|ip: &[u8]| {
                    let mut f = ether_type(ip).to_vec();
                    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                    f.extend_from_slice(ip);
                    f
                }),
            ),
            (
                "null little-endian",
                0,
                Box::new(move |ip: &[u8]| {
                    let mut f = (if v6 { 30u32 } else { 2 }).to_le_bytes().to_vec();
                    f.extend_from_slice(ip);
                    f
                }),
            ),
            (
                "null big-endian",
                0,
                Box::new(move |ip: &[u8]| {
                    let mut f = (if v6 { 24u32 } else { 2 }).to_be_bytes().to_vec();
                    f.extend_from_slice(ip);
                    f
                }),
            ),
            (
                "loop",
                108,
                Box::new(move |ip: &[u8]| {
                    let mut f = (if v6 { 28u32 } else { 2 }).to_be_bytes().to_vec();
                    f.extend_from_slice(ip);
                    f
                }),
            ),
        ];
        for (what, linktype, wrap) in cases {
            let run = run_bytes(&framed(linktype, &frames, wrap));
            assert_conversation(&run, &c, &format!("{what} v6={v6}"));
        }
    }
}

/// Splits an IPv4 packet into fragments whose payloads are `sizes` long (multiples of 8
/// except the last).
fn fragment_v4(packet: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let payload = &packet[ihl..];
    let mut out = Vec::new();
    let mut at = 0;
    for (i, &n) in sizes.iter().enumerate() {
        let last = i + 1 == sizes.len();
        let n = if last { payload.len() - at } else { n };
        let mut f = packet[..ihl].to_vec();
        let total = (ihl + n) as u16;
        f[2..4].copy_from_slice(&total.to_be_bytes());
        let mut frag = (at / 8) as u16;
        if !last {
            frag |= 0x2000;
        }
        f[6..8].copy_from_slice(&frag.to_be_bytes());
        f[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
        f.extend_from_slice(&payload[at..at + n]);
        out.push(f);
        at += n;
    }
    out
}

#[test]
fn ipv4_fragments_are_reassembled() {
    let c = Conv::v4();
    let msg = text(1000);
    let big = c.data(D2E, 0, 0, &msg);
    let mut frags = fragment_v4(&big, &[400, 400, 0]);
    frags.swap(0, 2); // last fragment first
    let mut frames = c.handshake();
    frames.extend(frags);
    frames.push(c.data(D2E, 1000, 0, b"!"));
    let run = run_bytes(&raw_capture(&frames));
    let f = only_flow(&run);
    let mut expect = msg.clone();
    expect.push(b'!');
    assert_eq!(f.data[D2E.index()], expect);
    assert_eq!(f.gaps, [0, 0]);
}

#[test]
fn fragments_that_never_complete_are_reported() {
    let c = Conv::v4();
    let big = c.data(D2E, 0, 0, &text(1000));
    let frags = fragment_v4(&big, &[400, 400, 0]);
    let mut frames = c.handshake();
    frames.push(frags[0].clone());
    frames.push(frags[2].clone());
    let run = run_bytes(&raw_capture(&frames));
    let warnings = run.warnings();
    assert!(
        warnings
            .iter()
            .any(|(n, m)| *n == 4 && m.contains("never completed")),
        "{warnings:?}"
    );
    let f = only_flow(&run);
    assert!(f.data[D2E.index()].is_empty());
}

#[test]
fn frames_cut_by_the_snap_length_become_gaps_with_a_warning() {
    let c = Conv::v4();
    let mut b = PcapBuilder::new(101);
    let mut t = BASE;
    for f in c.handshake() {
        b.frame(t, &f);
        t += MS;
    }
    let full = c.data(D2E, 0, 0, &text(500));
    b.frame_cut(t, &full, 40 + 100);
    b.frame(t + MS, &c.data(D2E, 500, 0, b"tail"));
    let run = run_bytes(&b.bytes);
    let f = only_flow(&run);
    assert_eq!(
        f.trail[1..],
        [
            (D2E, "data 100".into()),
            (D2E, "gap 400".into()),
            (D2E, "data 4".into())
        ]
    );
    let warnings = run.warnings();
    assert!(
        warnings.iter().any(|(n, m)| *n == 4
            && m.contains("captured 140 of 540 bytes")
            && m.contains("400 bytes")),
        "{warnings:?}"
    );
    assert!(warnings
        .iter()
        .any(|(n, m)| *n == 0 && m.starts_with("1 TCP frames were cut short")));
}

#[test]
fn syn_retransmissions_open_once() {
    let c = Conv::v4();
    let mut frames = vec![c.syn(), c.syn(), c.syn()];
    frames.extend(conversation(&c).into_iter().skip(1));
    let run = run_bytes(&raw_capture(&frames));
    assert_conversation(&run, &c, "syn retransmitted");
    let f = only_flow(&run);
    assert_eq!(f.trail.iter().filter(|(_, s)| s == "open").count(), 1);
}

#[test]
fn refused_connection_is_open_then_reset_by_the_endpoint() {
    let c = Conv::v4();
    let rst = build_tcp_packet(c.end, c.dev, 0, c.isn[0] + 1, TcpFlags::RST_ACK, &[]).unwrap();
    let run = run_bytes(&raw_capture(&[c.syn(), rst]));
    let f = only_flow(&run);
    assert!(f.syn_seen);
    assert_eq!(f.device, Some(c.dev));
    assert_eq!(f.trail, vec![(D2E, "open".into()), (E2D, "rst".into())]);
}

#[test]
fn a_lone_reset_is_a_flow_of_its_own() {
    let c = Conv::v4();
    let rst = build_tcp_packet(c.end, c.dev, 12345, 0, TcpFlags::RST, &[]).unwrap();
    let run = run_bytes(&raw_capture(&[rst]));
    let f = only_flow(&run);
    assert!(!f.syn_seen);
    assert_eq!(f.device, Some(c.dev), "the ephemeral port is the device");
    assert_eq!(f.trail, vec![(E2D, "rst".into())]);
}

#[test]
fn midstream_side_is_decided_by_content_when_ports_cannot() {
    // Ports 5000 and 6000 say nothing; the ServerHello comes from 5000.
    let c = Conv {
        dev: "10.0.0.1:6000".parse().unwrap(),
        end: "10.0.0.2:5000".parse().unwrap(),
        isn: [100, 200],
    };
    let server_hello = [0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00];
    let frames = vec![
        c.seg(E2D, 0, 0, TcpFlags::ACK, &[]),
        c.data(E2D, 0, 0, &server_hello),
        c.data(D2E, 0, 9, b"next"),
    ];
    let run = run_bytes(&raw_capture(&frames));
    let f = only_flow(&run);
    assert_eq!(f.device, Some(c.dev));
    assert_eq!(f.data[E2D.index()], server_hello);
    assert_eq!(f.data[D2E.index()], b"next");
    assert!(!f.syn_seen);
    // And a ClientHello from the 5000 side makes it the device.
    let client_hello = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];
    let run = run_bytes(&raw_capture(&[c.data(E2D, 0, 0, &client_hello)]));
    assert_eq!(only_flow(&run).device, Some(c.end));
}

#[test]
fn hint_follows_the_endpoint_port() {
    let c = Conv::v4();
    let run = run_bytes(&raw_capture(&conversation(&c)));
    let hint = run.events.iter().find_map(|e| match e {
        StreamEvent::Opened { hint, .. } => Some(*hint),
        _ => None,
    });
    assert_eq!(hint, Some(Some(AppProtocol::Tls)));
}

#[test]
fn buffer_cap_forces_a_gap() {
    let c = Conv::v4();
    let mut table = FlowTable::new(FlowConfig {
        max_flow_buffer: 8 * 1024,
        ..FlowConfig::default()
    });
    let mut events = Vec::new();
    let mut t = BASE;
    let mut push = |table: &mut FlowTable, ip: &[u8]| {
        t += MS;
        table.push_frame(0, Timestamp(t), 101, ip, ip.len() as u32);
        events.extend(table.drain());
    };
    for f in c.handshake() {
        push(&mut table, &f);
    }
    push(&mut table, &c.data(D2E, 0, 0, b"head"));
    // 1000 bytes missing, then 20 KB in 1 KB segments that cannot be delivered.
    for i in 0..20u32 {
        push(&mut table, &c.data(D2E, 1004 + i * 1000, 0, &text(1000)));
        assert!(
            table.buffered_bytes() <= 8 * 1024 + 2000,
            "{}",
            table.buffered_bytes()
        );
    }
    table.finish();
    events.extend(table.drain());
    let flows = summarise(&events);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].gaps, [1000, 0]);
    assert_eq!(flows[0].data[D2E.index()].len(), 4 + 20_000);
    assert!(events.iter().any(|e| matches!(e,
        StreamEvent::Warning { message, .. } if message.contains("too many bytes waited behind a hole"))));
    assert_eq!(table.buffered_bytes(), 0);
}

#[test]
fn finished_flows_are_dropped_and_idle_ones_expire() {
    let mut table = FlowTable::default();
    let mut opened = 0;
    let mut closed = 0;
    let mut most_open = 0;
    let mut t = BASE;
    for i in 0..3000u32 {
        let c = Conv {
            dev: SocketAddr::new(
                [10, 0, (i >> 8) as u8, i as u8].into(),
                40000 + (i % 20000) as u16,
            ),
            end: "10.9.9.9:8883".parse().unwrap(),
            isn: [i, i.wrapping_mul(7)],
        };
        for f in conversation(&c) {
            t += 100 * MS;
            table.push_frame(u64::from(i), Timestamp(t), 101, &f, f.len() as u32);
        }
        for e in table.drain() {
            match e {
                StreamEvent::Opened { .. } => opened += 1,
                StreamEvent::Closed { .. } => closed += 1,
                _ => {}
            }
        }
        most_open = most_open.max(table.open_flows());
    }
    assert_eq!(opened, 3000);
    assert!(closed >= 2990, "{closed}");
    // 600 ms per connection and a 2 s grace: only the last few are ever open.
    assert!(most_open <= 6, "{most_open}");
    assert_eq!(table.buffered_bytes(), 0);

    // A connection that goes quiet is closed after the idle timeout, before the capture ends.
    let c = Conv::v4();
    let mut events = Vec::new();
    for f in c.handshake() {
        t += MS;
        table.push_frame(1, Timestamp(t), 101, &f, f.len() as u32);
    }
    t += FlowConfig::default().idle_timeout_ns + 60 * 1_000_000_000;
    let other = Conv {
        dev: "10.7.7.7:40000".parse().unwrap(),
        ..Conv::v4()
    };
    let f = other.syn();
    table.push_frame(2, Timestamp(t), 101, &f, f.len() as u32);
    events.extend(table.drain());
    assert!(events
        .iter()
        .any(|e| matches!(e, StreamEvent::Closed { .. })));
    assert_eq!(table.open_flows(), 1);
}

#[test]
fn a_new_syn_on_a_finished_tuple_is_a_new_connection() {
    let c = Conv::v4();
    let mut frames = conversation(&c);
    let again = Conv {
        isn: [77_777, 88_888],
        ..Conv::v4()
    };
    frames.extend(conversation(&again));
    let run = run_bytes(&raw_capture(&frames));
    let flows = run.flows();
    assert_eq!(flows.len(), 2);
    for f in &flows {
        assert_eq!(f.data[D2E.index()].len(), 14);
        assert_eq!(f.fin, [true, true]);
    }
}

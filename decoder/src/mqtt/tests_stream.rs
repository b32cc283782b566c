//! Stream tests: framing across pieces, large packets in bounded memory, gaps, closes, broken
//! framing, and the level a capture that starts mid-stream is read with.

use super::tests_packets::{feed, h, packets, Seen, V4_CONNECT, V5_CONNECT};
use super::*;
use crate::emit::Emit;
use crate::event::{AppProtocol, Direction, Direction::*, EventKind, Timestamp};
use crate::session::{Session, SessionConfig};
use crate::trace::{Identity, Trace};

enum Step {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Close(Direction),
}

fn run(steps: Vec<Step>) -> (MqttConn, Seen) {
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(false);
    for step in steps {
        match step {
            Step::Data(d, b) => conn.push(&b, &mut Emit::new(&mut trace, d, Timestamp(0), false)),
            Step::Gap(d, n) => conn.gap(n, &mut Emit::new(&mut trace, d, Timestamp(0), false)),
            Step::Close(d) => conn.close(&mut Emit::new(&mut trace, d, Timestamp(0), false)),
        }
    }
    (
        conn,
        trace.events().map(|e| (e.dir, e.kind.clone())).collect(),
    )
}

fn varint(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    crate::mqtt::encode::remaining_length(n, &mut out);
    out
}

fn kinds(events: &Seen) -> Vec<&'static str> {
    events
        .iter()
        .map(|(_, k)| match k {
            EventKind::Mqtt(_) => "mqtt",
            EventKind::MqttMalformed { .. } => "malformed",
            EventKind::Undecoded { .. } => "undecoded",
            EventKind::Note { .. } => "note",
            _ => "other",
        })
        .collect()
}

/// A PUBLISH header (fixed header, topic, packet id, v5 properties) for a payload of `len`.
fn publish_head(topic: &str, qos: u8, props: Option<&[u8]>, len: usize) -> Vec<u8> {
    let mut vh = (topic.len() as u16).to_be_bytes().to_vec();
    vh.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        vh.extend_from_slice(&[0, 7]);
    }
    if let Some(p) = props {
        vh.extend(varint(p.len()));
        vh.extend_from_slice(p);
    }
    let mut out = vec![0x30 | qos << 1];
    out.extend(varint(vh.len() + len));
    out.extend(vh);
    out
}

fn large_publish(connect: &str, props: Option<&[u8]>) {
    const LEN: usize = 10_000_000;
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(false);
    let mut out = Emit::new(&mut trace, DeviceToEndpoint, Timestamp(0), false);
    conn.push(&h(connect), &mut out);
    conn.push(&publish_head("big/topic", 1, props, LEN), &mut out);
    let pattern = |i: usize| (i % 251) as u8;
    let mut sent = 0;
    let mut max_held = 0;
    while sent < LEN {
        let chunk: Vec<u8> = (sent..(sent + 1024).min(LEN)).map(pattern).collect();
        sent += chunk.len();
        conn.push(&chunk, &mut out);
        max_held = max_held.max(conn.held_bytes(0));
    }
    conn.push(&[0xc0, 0x00], &mut out);
    assert!(max_held <= 512, "held {max_held} bytes");
    let events: Seen = trace.events().map(|e| (e.dir, e.kind.clone())).collect();
    let ps = packets(&events);
    assert_eq!(ps.len(), 3, "{:?}", kinds(&events));
    let Body::Publish(p) = &ps[1].body else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), p.packet_id, p.payload_len),
        ("big/topic", Some(7), LEN)
    );
    let expect: Vec<u8> = (0..PAYLOAD_PREFIX).map(pattern).collect();
    assert_eq!(p.payload_prefix, expect);
    assert!(ps[1].problems.is_empty(), "{:?}", ps[1].problems);
    assert_eq!(ps[2].packet_type, PacketType::Pingreq);
}

#[test]
fn ten_megabyte_publish_311_in_bounded_memory() {
    large_publish(V4_CONNECT, None);
}

#[test]
fn ten_megabyte_publish_v5_in_bounded_memory() {
    // content_type "application/octet-stream" and a user property
    let mut props = vec![0x03, 0, 24];
    props.extend_from_slice(b"application/octet-stream");
    props.extend_from_slice(&[0x26, 0, 1, b'k', 0, 1, b'v']);
    large_publish(V5_CONNECT, Some(&props));
}

#[test]
fn huge_subscribe_is_decoded_from_its_first_part() {
    let mut body = vec![0, 9];
    for i in 0..10_000 {
        let f = format!("topic/{i:05}");
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
        body.push(1);
    }
    let mut bytes = vec![0x82];
    bytes.extend(varint(body.len()));
    bytes.extend(&body);
    bytes.extend_from_slice(&[0xc0, 0]);
    let (conn, events) = feed(
        &[(DeviceToEndpoint, h(V4_CONNECT)), (DeviceToEndpoint, bytes)],
        4096,
        false,
    );
    let ps = packets(&events);
    let Body::Subscribe(s) = &ps[1].body else {
        panic!()
    };
    // 14 bytes per filter; 65536 kept bytes minus the packet id hold 4681 whole filters
    assert_eq!(s.filters.len(), 4681);
    assert_eq!(s.filters[4680].filter, "topic/04680");
    assert_eq!(
        ps[1].problems,
        ["packet truncated: only the first 65536 bytes of its body were kept; 4681 topic filters decoded"]
    );
    assert_eq!(ps[2].packet_type, PacketType::Pingreq);
    assert!(conn.held_bytes(0) <= 4096);
}

#[test]
fn midstream_capture_is_read_as_v5_from_its_connack() {
    // sv_mqtt_midstream_split: the capture starts with the endpoint's CONNACK, split after
    // its first byte; its 50-byte body only fits MQTT 5.
    let connack_rest = "3200002f22000a1200296175746f2d31423433453830302d303845332d334241312d324539372d453941304234303634424635";
    // the device's PUBLISH that follows: same header as the capture's (35767 bytes, topicX,
    // empty property block), payload replaced by zeros after its first bytes
    let mut publish = h("30b797020006746f7069635800ffd8ffe000104a464946");
    publish.resize(4 + 35767, 0);
    let (conn, events) = run(vec![
        Step::Data(EndpointToDevice, h("20")),
        Step::Data(EndpointToDevice, h(connack_rest)),
        Step::Data(DeviceToEndpoint, publish),
        Step::Data(DeviceToEndpoint, h("e000")),
    ]);
    assert_eq!(kinds(&events), ["note", "mqtt", "mqtt", "mqtt"]);
    let EventKind::Note { text } = &events[0].1 else {
        panic!()
    };
    assert_eq!(
        text,
        "no CONNECT seen; reading the connection as MQTT 5 because a CONNACK of 50 bytes at offset 0 fits only MQTT 5"
    );
    assert_eq!((conn.protocol_level(), conn.reading_level()), (None, 5));
    let ps = packets(&events);
    let Body::Connack(a) = &ps[0].body else {
        panic!()
    };
    assert_eq!((a.code, a.reason), (0, "Success"));
    let Body::Publish(p) = &ps[1].body else {
        panic!()
    };
    assert_eq!((p.topic.as_str(), p.payload_len), ("topicX", 35767 - 9));
    assert_eq!(&p.payload_prefix[..4], &[0xff, 0xd8, 0xff, 0xe0]);
    assert!(ps[1].problems.is_empty());
    assert_eq!(ps[2].offset, 35771);
}

#[test]
fn plain_311_connack_midstream_stays_311() {
    let (conn, events) = run(vec![Step::Data(EndpointToDevice, h("20020000"))]);
    assert_eq!(kinds(&events), ["mqtt"]);
    assert_eq!(conn.reading_level(), 4);
}

#[test]
fn remaining_length_longer_than_four_bytes_stops_the_direction() {
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h(V4_CONNECT)),
        Step::Data(DeviceToEndpoint, h("30ffffffff01 6162")),
        Step::Data(DeviceToEndpoint, h("c000c000")),
        Step::Data(EndpointToDevice, h("20020000")),
    ]);
    assert_eq!(kinds(&events), ["mqtt", "malformed", "undecoded", "mqtt"]);
    assert_eq!(
        events[1].1.clone_reason(),
        Some((14, "PUBLISH: remaining length at byte 15 is longer than 4 bytes; the rest of this direction is not decoded".into()))
    );
    assert!(matches!(events[2].1, EventKind::Undecoded { bytes: 7, .. }));
}

#[test]
fn close_inside_a_packet() {
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h("300a 0001 61 6869")),
        Step::Close(DeviceToEndpoint),
        Step::Close(DeviceToEndpoint),
        Step::Data(EndpointToDevice, h("30")),
        Step::Close(EndpointToDevice),
    ]);
    // The packet cut in its body is said with the sizes its header declared.
    assert!(
        events.iter().any(|(_, k)| matches!(
            k,
            EventKind::Unfinished(u)
                if **u == crate::event::Unfinished {
                    layer: crate::event::AppProtocol::Mqtt,
                    offset: 0,
                    held: 7,
                    need: 12,
                    what: "PUBLISH".to_string(),
                }
        )),
        "{events:?}"
    );
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|(_, k)| k.clone_reason())
        .collect();
    assert_eq!(
        reasons,
        [(
            0,
            "connection closed after 1 bytes of the fixed header of PUBLISH".to_string()
        ),]
    );
}

#[test]
fn gap_inside_a_skipped_payload_keeps_the_framing() {
    let mut publish = publish_head("t", 0, None, 1000);
    publish.resize(publish.len() + 1000, b'x');
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h(V4_CONNECT)),
        Step::Data(DeviceToEndpoint, publish[..200].to_vec()),
        Step::Gap(DeviceToEndpoint, 500),
        Step::Data(DeviceToEndpoint, publish[700..].to_vec()),
        Step::Data(DeviceToEndpoint, h("c000")),
    ]);
    assert_eq!(kinds(&events), ["mqtt", "mqtt", "mqtt"]);
    let ps = packets(&events);
    let Body::Publish(p) = &ps[1].body else {
        panic!()
    };
    assert_eq!(p.payload_len, 1000);
    // The loss is counted, not reported as a defect of the packet.
    assert!(ps[1].problems.is_empty(), "{:?}", ps[1].problems);
    assert_eq!(ps[1].lost, 500);
    assert_eq!(ps[2].offset, 14 + publish.len() as u64);
}

/// A gap that runs past the end of a large PUBLISH whose header fields were read: the packet
/// is still reported, with its declared payload length and the bytes of it not seen, and the
/// decoder finds the next packets again.
#[test]
fn gap_past_the_end_of_a_publish_still_reports_it() {
    let mut publish = publish_head("big/t", 1, None, 300_000);
    let head = publish.len();
    publish.resize(head + 300_000, b'x');
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h(V4_CONNECT)),
        Step::Data(DeviceToEndpoint, publish[..head + 1000].to_vec()),
        // the rest of the PUBLISH and 4 bytes of what followed it
        Step::Gap(DeviceToEndpoint, 299_000 + 4),
        Step::Data(DeviceToEndpoint, h("3004 0001 61 78 c000")),
    ]);
    assert!(
        !kinds(&events).contains(&"malformed"),
        "{:?}",
        kinds(&events)
    );
    let ps = packets(&events);
    let Body::Publish(p) = &ps[1].body else {
        panic!("{:?}", ps[1])
    };
    assert_eq!((p.topic.as_str(), p.payload_len), ("big/t", 300_000));
    assert_eq!(ps[1].lost, 299_000);
    assert!(ps[1].problems.is_empty(), "{:?}", ps[1].problems);
    assert_eq!(ps.len(), 4, "{ps:?}");
}

/// A gap that ends exactly where the packet did keeps the framing: the next packet is read
/// at once, without a search.
#[test]
fn gap_to_the_exact_end_of_a_publish_keeps_the_framing() {
    let mut publish = publish_head("t", 0, None, 1000);
    let head = publish.len();
    publish.resize(head + 1000, b'x');
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h(V4_CONNECT)),
        Step::Data(DeviceToEndpoint, publish[..head + 100].to_vec()),
        Step::Gap(DeviceToEndpoint, 900),
        Step::Data(DeviceToEndpoint, h("c000")),
    ]);
    assert_eq!(kinds(&events), ["mqtt", "mqtt", "mqtt"]);
    assert_eq!(packets(&events)[1].lost, 900);
}

#[test]
fn gap_between_packets_resynchronises_on_two_clean_packets() {
    let (_, events) = run(vec![
        Step::Data(DeviceToEndpoint, h(V4_CONNECT)),
        Step::Data(DeviceToEndpoint, h("3005 0001")),
        Step::Gap(DeviceToEndpoint, 10),
        // the tail of some packet, then a PUBLISH and a PINGREQ
        Step::Data(DeviceToEndpoint, h("68697a 3004 0001 61 78 c000")),
    ]);
    assert_eq!(
        kinds(&events),
        ["mqtt", "note", "note", "undecoded", "note", "mqtt", "mqtt"]
    );
    assert!(matches!(events[3].1, EventKind::Undecoded { bytes: 3, .. }));
    let ps = packets(&events);
    assert_eq!(
        (ps[1].packet_type, ps[1].offset),
        (PacketType::Publish, 14 + 4 + 10 + 3)
    );
    assert_eq!(ps[2].offset, 14 + 4 + 10 + 3 + 6);
}

#[test]
fn resync_window_bounds_memory_on_garbage() {
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8 | 0x0f)
        .collect();
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(false);
    let mut out = Emit::new(&mut trace, DeviceToEndpoint, Timestamp(0), false);
    conn.push(&h(V4_CONNECT), &mut out);
    conn.gap(5, &mut out);
    let mut max_held = 0;
    for piece in garbage.chunks(3000) {
        conn.push(piece, &mut out);
        max_held = max_held.max(conn.held_bytes(0));
    }
    conn.close(&mut out);
    assert!(max_held <= 4 * resync::WINDOW, "held {max_held}");
    let undecoded: u64 = trace
        .events()
        .filter_map(|e| match e.kind {
            EventKind::Undecoded { bytes, .. } => Some(bytes),
            _ => None,
        })
        .sum();
    assert_eq!(undecoded, 200_000);
}

#[test]
fn session_with_mqtt_hint_decodes_a_midstream_publish() {
    let config = SessionConfig {
        reveal_passwords: false,
        hint: Some(AppProtocol::Mqtt),
        ..SessionConfig::default()
    };
    let mut s = Session::new(Identity::default(), config);
    let publish = h("300d0006746f70696358 68656c6c6f");
    for b in &publish {
        s.feed(DeviceToEndpoint, &[*b], Timestamp(1));
    }
    let t = s.finish();
    let found: Vec<_> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Mqtt(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let Body::Publish(p) = &found[0].body else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), p.payload_prefix.as_slice()),
        ("topicX", &b"hello"[..])
    );
}

/// The device's side not captured, on a port with no hint: the endpoint's CONNACK, SUBACK
/// and PUBACK still make the connection MQTT, decoded as such.
#[test]
fn endpoint_answers_alone_are_recognised_as_mqtt() {
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    s.feed(DeviceToEndpoint, crate::Input::Gap(30), Timestamp(1));
    s.feed(EndpointToDevice, h("20020000"), Timestamp(2));
    s.feed(EndpointToDevice, h("9003000101"), Timestamp(3));
    s.feed(EndpointToDevice, h("40020002"), Timestamp(4));
    let t = s.finish();
    let protocol = t.events().find_map(|e| match &e.kind {
        EventKind::Protocol { protocol, .. } => Some((e.dir, *protocol)),
        _ => None,
    });
    assert_eq!(protocol, Some((EndpointToDevice, AppProtocol::Mqtt)));
    let kinds: Vec<_> = t
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Mqtt(p) => Some((p.packet_type, p.problems.is_empty())),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (PacketType::Connack, true),
            (PacketType::Suback, true),
            (PacketType::Puback, true)
        ]
    );
    // A look-alike stays unknown: "000" from an endpoint is not MQTT.
    let mut s = Session::new(Identity::default(), SessionConfig::default());
    s.feed(EndpointToDevice, b"000", Timestamp(2));
    let t = s.finish();
    assert!(t.events().any(|e| matches!(
        e.kind,
        EventKind::Protocol {
            protocol: AppProtocol::Unknown,
            ..
        }
    )));
}

trait Reason {
    fn clone_reason(&self) -> Option<(u64, String)>;
}

impl Reason for EventKind {
    fn clone_reason(&self) -> Option<(u64, String)> {
        match self {
            EventKind::MqttMalformed { offset, reason } => Some((*offset, reason.to_string())),
            _ => None,
        }
    }
}

//! Packet-by-packet tests: hand-built bytes and bytes taken from the public captures
//! (suricata-verify), checked against the values their oracle records. Every case is also fed
//! one byte at a time and must give the same events.

use super::*;
use crate::emit::Emit;
use crate::event::{Direction, Direction::*, EventKind, Timestamp};
use crate::trace::{Identity, Trace};

pub(super) fn h(s: &str) -> Vec<u8> {
    crate::hex::decode(&s.replace(' ', "")).expect("test hex")
}

pub(super) type Seen = Vec<(Direction, EventKind)>;

/// Feeds `steps` to a fresh decoder in pieces of at most `chunk` bytes.
pub(super) fn feed(steps: &[(Direction, Vec<u8>)], chunk: usize, reveal: bool) -> (MqttConn, Seen) {
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(reveal);
    for (dir, bytes) in steps {
        for piece in bytes.chunks(chunk.max(1)) {
            let mut out = Emit::new(&mut trace, *dir, Timestamp(0), false);
            conn.push(piece, &mut out);
        }
    }
    let events = trace.events().map(|e| (e.dir, e.kind.clone())).collect();
    (conn, events)
}

/// Feeds whole and one byte at a time; both must give the same events.
pub(super) fn feed_both(steps: &[(Direction, Vec<u8>)], reveal: bool) -> (MqttConn, Seen) {
    let (conn, whole) = feed(steps, usize::MAX, reveal);
    let (_, bytewise) = feed(steps, 1, reveal);
    assert_eq!(format!("{whole:?}"), format!("{bytewise:?}"));
    (conn, whole)
}

pub(super) fn packets(events: &Seen) -> Vec<Packet> {
    events
        .iter()
        .filter_map(|(_, k)| match k {
            EventKind::Mqtt(p) => Some((**p).clone()),
            _ => None,
        })
        .collect()
}

pub(super) const V4_CONNECT: &str = "100c00044d5154540402003c0000";
pub(super) const V5_CONNECT: &str = "100d00044d5154540502003c000000";

/// The last packet decoded after a CONNECT of the given hex set the session's level.
pub(super) fn after(connect: &str, dir: Direction, packet: &str) -> Packet {
    let (_, events) = feed_both(&[(DeviceToEndpoint, h(connect)), (dir, h(packet))], false);
    let all = packets(&events);
    assert_eq!(all.len(), 2, "{events:?}");
    all[1].clone()
}

pub(super) fn v4(dir: Direction, packet: &str) -> Packet {
    after(V4_CONNECT, dir, packet)
}

pub(super) fn v5(dir: Direction, packet: &str) -> Packet {
    after(V5_CONNECT, dir, packet)
}

pub(super) fn prop<'a>(props: &'a [Property], name: &str) -> &'a PropertyValue {
    &props
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {props:?}"))
        .value
}

pub(super) fn malformed(events: &Seen) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|(_, k)| match k {
            EventKind::MqttMalformed { offset, reason } => Some((*offset, reason.to_string())),
            _ => None,
        })
        .collect()
}

const CONNECT_31: &str = "102d00064d514973647003c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373";

#[test]
fn connect_31_from_capture() {
    let (conn, events) = feed_both(&[(DeviceToEndpoint, h(CONNECT_31))], true);
    let p = &packets(&events)[0];
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!((c.protocol_name.as_str(), c.protocol_level), ("MQIsdp", 3));
    assert_eq!(c.client_id, "myvoiceismypassport");
    assert_eq!(c.username.as_deref(), Some("user"));
    assert_eq!(
        c.password,
        Some(Password {
            len: 4,
            value: Some("pass".into())
        })
    );
    assert!(c.clean_start && c.will.is_none() && !c.reserved_flag);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(p.problems, Vec::<String>::new());
    assert_eq!(conn.protocol_level(), Some(3));
}

#[test]
fn password_is_redacted_unless_revealed() {
    let (_, events) = feed_both(&[(DeviceToEndpoint, h(CONNECT_31))], false);
    let Body::Connect(c) = &packets(&events)[0].body else {
        panic!()
    };
    assert_eq!(
        c.password,
        Some(Password {
            len: 4,
            value: None
        })
    );
}

#[test]
fn qos2_flow_311_from_capture() {
    let d = DeviceToEndpoint;
    let e = EndpointToDevice;
    let steps = [
        (d, h("102b00044d51545404c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373")),
        (e, h("20020000")),
        (d, h("341a0006746f706963580001626161626161626c61636b7368656570")),
        (e, h("50020001")),
        (d, h("62020001")),
        (e, h("70020001")),
        (d, h("e000")),
    ];
    let (conn, events) = feed_both(&steps, false);
    let ps = packets(&events);
    assert_eq!(conn.protocol_level(), Some(4));
    let types: Vec<_> = ps.iter().map(|p| p.packet_type).collect();
    use PacketType::*;
    assert_eq!(
        types,
        [Connect, Connack, Publish, Pubrec, Pubrel, Pubcomp, Disconnect]
    );
    assert!(ps.iter().all(|p| p.problems.is_empty()), "{ps:?}");
    let Body::Connack(ack) = &ps[1].body else {
        panic!()
    };
    assert_eq!(
        (ack.code, ack.reason, ack.session_present),
        (0, "Connection Accepted", false)
    );
    let Body::Publish(pb) = &ps[2].body else {
        panic!()
    };
    assert_eq!((ps[2].qos, ps[2].retain, ps[2].dup), (2, false, false));
    assert_eq!((pb.topic.as_str(), pb.packet_id), ("topicX", Some(1)));
    assert_eq!(
        (pb.payload_len, pb.payload_prefix.as_slice()),
        (16, &b"baabaablacksheep"[..])
    );
    assert_eq!(ps[4].qos, 1, "PUBREL carries flags 0x2");
    for p in &ps[3..6] {
        let Body::Ack(a) = &p.body else { panic!() };
        assert_eq!((a.packet_id, a.code, a.reason), (1, 0, "Success"));
    }
    // offsets count each direction's own stream
    assert_eq!(ps[2].offset, 45);
    assert_eq!(ps[3].offset, 4);
    assert_eq!(ps[6].offset, 45 + 28 + 4);
}

#[test]
fn subscribe_and_suback_311_from_capture() {
    let p = v4(
        DeviceToEndpoint,
        "821400010006746f70696358000006746f7069635900",
    );
    let Body::Subscribe(s) = &p.body else {
        panic!()
    };
    assert_eq!(s.packet_id, 1);
    let f: Vec<_> = s
        .filters
        .iter()
        .map(|f| (f.filter.as_str(), f.qos))
        .collect();
    assert_eq!(f, [("topicX", 0), ("topicY", 0)]);
    assert!(p.problems.is_empty());
    let p = v4(EndpointToDevice, "900400010000");
    let Body::SubAck(a) = &p.body else { panic!() };
    assert_eq!((a.packet_id, a.codes.as_slice()), (1, &[0u8, 0][..]));
}

#[test]
fn two_unsubscribes_in_one_segment_from_capture() {
    let (_, events) = feed_both(
        &[
            (DeviceToEndpoint, h(V4_CONNECT)),
            (
                DeviceToEndpoint,
                h("a20a00020006746f70696358a20a00030006746f70696359"),
            ),
            (EndpointToDevice, h("b0020002b0020003")),
        ],
        false,
    );
    let ps = packets(&events);
    let Body::Unsubscribe(u) = &ps[2].body else {
        panic!()
    };
    assert_eq!(
        (u.packet_id, u.filters.as_slice()),
        (3, &["topicY".to_string()][..])
    );
    let Body::SubAck(a) = &ps[4].body else {
        panic!()
    };
    assert_eq!(
        (ps[4].packet_type, a.packet_id, a.codes.len()),
        (PacketType::Unsuback, 3, 0)
    );
    assert!(ps.iter().all(|p| p.problems.is_empty()));
}

#[test]
fn mosquitto_properties_from_capture() {
    let d = DeviceToEndpoint;
    let e = EndpointToDevice;
    let steps = [
        (d, h("10cc0100044d51545405c6003c3c2700002b672100de110000022b22029a2600097573657270726f703100087573657276616c312600097573657270726f703200087573657276616c3200136d79766f69636569736d7970617373706f72744b03000a6d7977696c6c74797065090007313233343536370200000085019008000f726573706f6e73655f746f706963312600097573657270726f703500087573657276616c3518000000c8000977696c6c746f706963000b77696c6c6d657373616765000475736572000470617373")),
        (e, h("200600000322000a")),
        (d, h("325e0006746f706963580001430300066d79747970650900053132333435020000004d015808000f726573706f6e73655f746f706963312300052600097573657270726f703300087573657276616c33626161626161626c61636b7368656570")),
        (e, h("4003000110")),
        (d, h("e01d001b110000007a2600097573657270726f703400087573657276616c34")),
    ];
    let (conn, events) = feed_both(&steps, false);
    assert_eq!(conn.protocol_level(), Some(5));
    let ps = packets(&events);
    assert_eq!(ps.len(), 5);

    let Body::Connect(c) = &ps[0].body else {
        panic!()
    };
    assert_eq!(ps[0].remaining_length, 204);
    let cp = &c.properties;
    assert_eq!(prop(cp, "maximum_packet_size"), &PropertyValue::Int(11111));
    assert_eq!(prop(cp, "receive_maximum"), &PropertyValue::Int(222));
    assert_eq!(
        prop(cp, "session_expiry_interval"),
        &PropertyValue::Int(555)
    );
    assert_eq!(prop(cp, "topic_alias_maximum"), &PropertyValue::Int(666));
    let users: Vec<_> = cp.iter().filter(|p| p.name == "user_property").collect();
    assert_eq!(
        users[1].value,
        PropertyValue::Pair("userprop2".into(), "userval2".into())
    );
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (w.topic.as_str(), w.payload_len, w.qos, w.retain),
        ("willtopic", 11, 0, false)
    );
    let wp = &w.properties;
    assert_eq!(
        prop(wp, "content_type"),
        &PropertyValue::Text("mywilltype".into())
    );
    assert_eq!(
        prop(wp, "correlation_data"),
        &PropertyValue::Binary { len: 7 }
    );
    assert_eq!(
        prop(wp, "message_expiry_interval"),
        &PropertyValue::Int(133)
    );
    assert_eq!(
        prop(wp, "payload_format_indicator"),
        &PropertyValue::Int(144)
    );
    assert_eq!(
        prop(wp, "response_topic"),
        &PropertyValue::Text("response_topic1".into())
    );
    assert_eq!(prop(wp, "will_delay_interval"), &PropertyValue::Int(200));
    assert_eq!(
        ps[0].problems,
        ["payload_format_indicator has the value 144, which the spec does not allow"]
    );

    let Body::Connack(a) = &ps[1].body else {
        panic!()
    };
    assert_eq!((a.code, a.reason), (0, "Success"));
    assert_eq!(
        prop(&a.properties, "topic_alias_maximum"),
        &PropertyValue::Int(10)
    );

    let Body::Publish(pb) = &ps[2].body else {
        panic!()
    };
    assert_eq!(
        (pb.topic.as_str(), pb.packet_id, pb.payload_len),
        ("topicX", Some(1), 16)
    );
    assert_eq!(pb.payload_prefix, b"baabaablacksheep");
    assert_eq!(
        prop(&pb.properties, "content_type"),
        &PropertyValue::Text("mytype".into())
    );
    assert_eq!(
        prop(&pb.properties, "correlation_data"),
        &PropertyValue::Binary { len: 5 }
    );
    assert_eq!(
        prop(&pb.properties, "message_expiry_interval"),
        &PropertyValue::Int(77)
    );
    assert_eq!(prop(&pb.properties, "topic_alias"), &PropertyValue::Int(5));
    assert_eq!(
        prop(&pb.properties, "user_property"),
        &PropertyValue::Pair("userprop3".into(), "userval3".into())
    );

    let Body::Ack(pa) = &ps[3].body else { panic!() };
    assert_eq!(
        (pa.packet_id, pa.code, pa.reason),
        (1, 16, "No matching subscribers")
    );
    assert!(ps[3].problems.is_empty());

    let Body::Disconnect(dc) = &ps[4].body else {
        panic!()
    };
    assert_eq!((dc.code, dc.reason), (0, "Normal disconnection"));
    assert_eq!(
        prop(&dc.properties, "session_expiry_interval"),
        &PropertyValue::Int(122)
    );
}

#[test]
fn assigned_client_identifier_from_capture() {
    let p = v5(
        EndpointToDevice,
        "203200002f22000a1200296175746f2d36463738434144422d393137362d313946342d423546352d313031373435333737433335",
    );
    let Body::Connack(a) = &p.body else { panic!() };
    assert_eq!(
        prop(&a.properties, "assigned_client_identifier"),
        &PropertyValue::Text("auto-6F78CADB-9176-19F4-B5F5-101745377C35".into())
    );
}

#[test]
fn custom_auth_refused_140_from_capture() {
    let (_, events) = feed_both(
        &[
            (DeviceToEndpoint, h("103000044d5154540502003c10150003666f6f1600043132333421001400136d79766f69636569736d7970617373706f7274")),
            (EndpointToDevice, h("2003008c00")),
        ],
        false,
    );
    let ps = packets(&events);
    let Body::Connect(c) = &ps[0].body else {
        panic!()
    };
    assert_eq!(
        prop(&c.properties, "authentication_method"),
        &PropertyValue::Text("foo".into())
    );
    assert_eq!(
        prop(&c.properties, "authentication_data"),
        &PropertyValue::Binary { len: 4 }
    );
    assert_eq!((c.username.as_ref(), c.password.as_ref()), (None, None));
    let Body::Connack(a) = &ps[1].body else {
        panic!()
    };
    assert_eq!((a.code, a.reason), (140, "Bad authentication method"));
}

#[test]
fn unknown_protocol_level_is_read_as_311() {
    // as in lab capture 21: CONNECT level 6, refused with 3.1.1 return code 1
    let connect = "101b00044d51545406 02 001e 000f 6261646c6576656c2d636c69656e74";
    let (conn, events) = feed_both(
        &[
            (DeviceToEndpoint, h(connect)),
            (EndpointToDevice, h("20020001")),
        ],
        false,
    );
    let ps = packets(&events);
    let Body::Connect(c) = &ps[0].body else {
        panic!()
    };
    assert_eq!(
        (c.protocol_level, c.client_id.as_str(), c.keep_alive),
        (6, "badlevel-client", 30)
    );
    assert_eq!(
        ps[0].problems,
        ["unknown protocol level 6; the connection is read as MQTT 3.1.1"]
    );
    let Body::Connack(a) = &ps[1].body else {
        panic!()
    };
    assert_eq!((a.code, a.reason), (1, "Unacceptable protocol version"));
    assert_eq!((conn.protocol_level(), conn.reading_level()), (Some(6), 4));
}

#[test]
fn unknown_protocol_level_refused_by_an_mqtt5_endpoint() {
    let connect = "101b00044d51545406 02 001e 000f 6261646c6576656c2d636c69656e74";
    let (conn, events) = feed_both(
        &[
            (DeviceToEndpoint, h(connect)),
            (EndpointToDevice, h("2003008400")),
        ],
        false,
    );
    let EventKind::Note { text } = &events[1].1 else {
        panic!("{events:?}")
    };
    assert_eq!(
        text,
        "the CONNECT asked for unknown level 6; reading the connection as MQTT 5 because a CONNACK of 3 bytes at offset 0 fits only MQTT 5"
    );
    let Body::Connack(a) = &packets(&events)[1].body else {
        panic!()
    };
    assert_eq!((a.code, a.reason), (0x84, "Unsupported Protocol Version"));
    assert_eq!((conn.protocol_level(), conn.reading_level()), (Some(6), 5));
}

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
fn after(connect: &str, dir: Direction, packet: &str) -> Packet {
    let (_, events) = feed_both(&[(DeviceToEndpoint, h(connect)), (dir, h(packet))], false);
    let all = packets(&events);
    assert_eq!(all.len(), 2, "{events:?}");
    all[1].clone()
}

fn v4(dir: Direction, packet: &str) -> Packet {
    after(V4_CONNECT, dir, packet)
}

fn v5(dir: Direction, packet: &str) -> Packet {
    after(V5_CONNECT, dir, packet)
}

fn prop<'a>(props: &'a [Property], name: &str) -> &'a PropertyValue {
    &props
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {props:?}"))
        .value
}

fn malformed(events: &Seen) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|(_, k)| match k {
            EventKind::MqttMalformed { offset, reason } => Some((*offset, reason.clone())),
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
fn v5_refusals_by_name() {
    let p = v5(EndpointToDevice, "2003008400");
    let Body::Connack(a) = &p.body else { panic!() };
    assert_eq!(a.reason, "Unsupported Protocol Version");
    let p = v5(EndpointToDevice, "2003008700");
    let Body::Connack(a) = &p.body else { panic!() };
    assert_eq!(a.reason, "Not authorized");
    let p = v5(EndpointToDevice, "e0028e00");
    let Body::Disconnect(d) = &p.body else {
        panic!()
    };
    assert_eq!((d.code, d.reason), (0x8e, "Session taken over"));
    // PUBACK 0x87 with a reason string
    let p = v5(EndpointToDevice, "400a 0007 87 06 1f0003 6e6f70");
    let Body::Ack(a) = &p.body else { panic!() };
    assert_eq!((a.packet_id, a.reason), (7, "Not authorized"));
    assert_eq!(
        prop(&a.properties, "reason_string"),
        &PropertyValue::Text("nop".into())
    );
    // SUBACK: one granted, one refused
    let p = v5(EndpointToDevice, "9005 0002 00 01 87");
    let Body::SubAck(s) = &p.body else { panic!() };
    assert_eq!(s.codes, [1, 0x87]);
    // UNSUBACK 0x11
    let p = v5(EndpointToDevice, "b004 0003 00 11");
    let Body::SubAck(s) = &p.body else { panic!() };
    assert_eq!(s.codes, [0x11]);
    assert!(p.problems.is_empty());
}

#[test]
fn auth_packet_v5() {
    let p = v5(EndpointToDevice, "f00a 18 08 150005 5343524d31");
    assert_eq!(p.packet_type, PacketType::Auth);
    let Body::Auth(a) = &p.body else { panic!() };
    assert_eq!((a.code, a.reason), (0x18, "Continue authentication"));
    assert_eq!(
        prop(&a.properties, "authentication_method"),
        &PropertyValue::Text("SCRM1".into())
    );
    assert!(p.problems.is_empty());
}

#[test]
fn subscribe_v5_options() {
    // no-local + retain-as-published + retain handling 2 + QoS 1 = 0x2d; subscription id 5
    let p = v5(DeviceToEndpoint, "820b 0009 02 0b05 0003 612f62 2d");
    let Body::Subscribe(s) = &p.body else {
        panic!()
    };
    assert_eq!(
        prop(&s.properties, "subscription_identifier"),
        &PropertyValue::Int(5)
    );
    assert_eq!(
        (
            s.filters[0].filter.as_str(),
            s.filters[0].qos,
            s.filters[0].options
        ),
        ("a/b", 1, 0x2d)
    );
    assert!(p.problems.is_empty());
    // reserved bits and retain handling 3
    let p = v5(DeviceToEndpoint, "8207 0009 00 0001 61 f0");
    assert_eq!(
        p.problems,
        [
            "reserved bits 6-7 of the options for \"a\" are set (0xf0)",
            "retain handling 3 for \"a\" does not exist"
        ]
    );
}

#[test]
fn spec_violations_become_problems() {
    // PUBACK with flags 0x1
    let p = v4(EndpointToDevice, "41020005");
    assert_eq!(
        p.problems,
        ["fixed-header flags of PUBACK are 0x1; the spec requires 0x0"]
    );
    // PUBLISH QoS 3 with DUP
    let p = v4(DeviceToEndpoint, "3e060001610009ff");
    assert!(p
        .problems
        .contains(&"PUBLISH with QoS 3, which does not exist".to_string()));
    // SUBSCRIBE with packet id 0 and QoS 3 requested, 3.1.1 reserved bits
    let p = v4(DeviceToEndpoint, "8206 0000 0001 61 07");
    assert_eq!(
        p.problems,
        [
            "packet identifier 0 at byte 16",
            "subscription to \"a\" asks for QoS 3",
            "reserved bits 2-7 of the requested QoS byte for \"a\" are set (0x07)"
        ]
    );
    // QoS 1 PUBLISH with packet id 0, wildcard topic
    let p = v4(DeviceToEndpoint, "32050001230000");
    assert_eq!(
        p.problems,
        [
            "packet identifier 0 at byte 19",
            "topic name \"#\" contains a wildcard"
        ]
    );
    // MQTT 5 properties in a 3.1.1 CONNACK
    let p = v4(EndpointToDevice, "2003000000");
    assert_eq!(
        p.problems,
        ["1 bytes after the return code at byte 4: MQTT 5 properties in a 3.1.1 session?"]
    );
    // a CONNACK from the device
    let p = v4(DeviceToEndpoint, "20020000");
    assert_eq!(
        p.problems,
        ["CONNACK sent by the device; only the endpoint sends it"]
    );
    // PINGREQ with a body
    let p = v4(DeviceToEndpoint, "c00100");
    assert_eq!(
        p.problems,
        ["1 unexpected bytes at byte 16 after the last field of PINGREQ"]
    );
}

#[test]
fn connect_flag_violations() {
    // 3.1.1: reserved flag, password without user name, will QoS without will flag
    let (_, events) = feed_both(
        &[(
            DeviceToEndpoint,
            h("1011 00044d515454 04 5b 003c 0001 61 0002 7077"),
        )],
        true,
    );
    let p = &packets(&events)[0];
    let Body::Connect(c) = &p.body else { panic!() };
    assert!(c.reserved_flag);
    assert_eq!(
        c.password,
        Some(Password {
            len: 2,
            value: Some("pw".into())
        })
    );
    assert_eq!(
        p.problems,
        [
            "reserved bit 0 of the connect flags is set",
            "will QoS or will retain set without the will flag",
            "password flag set without the user name flag"
        ]
    );
}

#[test]
fn client_id_that_is_not_utf8() {
    let (_, events) = feed_both(
        &[(
            DeviceToEndpoint,
            h("100e 00044d515454 04 02 003c 0002 c328"),
        )],
        false,
    );
    let p = &packets(&events)[0];
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!(c.client_id, "\u{fffd}(");
    assert_eq!(
        p.problems,
        ["client identifier at byte 12 is not valid UTF-8"]
    );
}

#[test]
fn malformed_packet_is_reported_and_the_next_one_read() {
    // PUBLISH whose topic length (0x20) runs past its 4-byte body, then a PINGREQ
    let (_, events) = feed_both(
        &[
            (DeviceToEndpoint, h(V4_CONNECT)),
            (DeviceToEndpoint, h("30040020 6162 c000")),
        ],
        false,
    );
    assert_eq!(
        malformed(&events),
        [(
            14,
            "PUBLISH: topic name at byte 18 needs 32 bytes but only 2 remain".to_string()
        )]
    );
    let ps = packets(&events);
    assert_eq!((ps[1].packet_type, ps[1].offset), (PacketType::Pingreq, 20));
}

#[test]
fn unknown_property_is_skipped_and_packet_kept() {
    // v5 PUBLISH QoS 0, topic "t", properties: unknown id 0x05 + 1 byte; payload "hi"
    let p = v5(DeviceToEndpoint, "3008 0001 74 02 0501 6869");
    let Body::Publish(pb) = &p.body else { panic!() };
    assert_eq!(
        (pb.payload_prefix.as_slice(), pb.properties.len()),
        (&b"hi"[..], 0)
    );
    assert_eq!(
        p.problems,
        ["unknown property identifier 0x05 at byte 21; the rest of the PUBLISH property block (from byte 21) was skipped"]
    );
}

#[test]
fn reserved_packet_type_zero() {
    let p = v4(DeviceToEndpoint, "0001ff");
    assert_eq!(
        (p.packet_type, &p.body),
        (PacketType::Reserved, &Body::Reserved)
    );
    assert_eq!(p.problems, ["packet type 0 is reserved"]);
}

#[test]
fn auth_in_a_311_session() {
    let p = v4(DeviceToEndpoint, "f000");
    assert_eq!(p.problems, ["AUTH exists only in MQTT 5"]);
}

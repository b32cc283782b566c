//! Hand-built packets: MQTT 5 reason codes and options, AUTH, and every kind of spec
//! violation the decoder notes (as a problem) or refuses (as a malformed packet).

use super::tests_packets::{feed_both, h, malformed, packets, prop, v4, v5, V4_CONNECT};
use super::*;
use crate::event::Direction::*;

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
    // an MQTT 5 PUBACK reason code in a 3.1.1 session
    let p = v4(EndpointToDevice, "4003000187");
    assert_eq!(
        p.problems,
        ["1 bytes after the packet identifier at byte 4: an MQTT 5 reason code in a 3.1.1 session?"]
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

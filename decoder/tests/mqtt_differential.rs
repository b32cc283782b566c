//! Differential tests: rumqttc's codecs (`mqttbytes::v4` for 3.1.1, `v5::mqttbytes::v5` for
//! MQTT 5) encode random packets of every type they can write (all but AUTH, whose reason
//! code type rumqttc keeps private; unit tests cover AUTH); our decoder reads the bytes,
//! fed in random pieces, and every field must come out as rumqttc put it in, with no problem
//! noted (rumqttc only writes valid packets here).

use bytes::{Bytes, BytesMut};
use iotscope_decoder::emit::Emit;
use iotscope_decoder::mqtt::{Body, MqttConn, Packet, Property, PropertyValue};
use iotscope_decoder::{Direction, EventKind, Identity, Timestamp, Trace};
use proptest::prelude::*;
use rumqttc::mqttbytes::v4;
use rumqttc::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5;

const V4_CONNECT: &[u8] = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";
const V5_CONNECT: &[u8] = b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00";

/// Decodes `bytes` sent in `dir` after `connect` (if any), fed in pieces of `chunk` bytes,
/// and returns the last packet; fails on any malformed event or noted problem.
fn decode(connect: Option<&[u8]>, dir: Direction, bytes: &[u8], chunk: usize) -> Packet {
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(true);
    if let Some(c) = connect {
        conn.push(
            c,
            &mut Emit::new(&mut trace, Direction::DeviceToEndpoint, Timestamp(0), false),
        );
    }
    for piece in bytes.chunks(chunk.max(1)) {
        conn.push(piece, &mut Emit::new(&mut trace, dir, Timestamp(0), false));
    }
    conn.close(&mut Emit::new(&mut trace, dir, Timestamp(0), false));
    let mut last = None;
    for e in trace.events() {
        match &e.kind {
            EventKind::Mqtt(p) => last = Some((**p).clone()),
            other => panic!("unexpected event {other:?} for {bytes:02x?}"),
        }
    }
    let p = last.expect("a packet");
    assert!(p.problems.is_empty(), "{:?} for {bytes:02x?}", p.problems);
    p
}

/// What rumqttc puts on the wire for a login: it leaves out an empty user name or password.
fn login_fields(login: Option<(&String, &String)>) -> (Option<String>, Option<String>) {
    let keep = |s: &String| (!s.is_empty()).then(|| s.clone());
    login.map_or((None, None), |(u, p)| (keep(u), keep(p)))
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Properties as sortable (name, value) pairs, to compare without caring for their order.
fn props(p: &[Property]) -> Vec<(String, String)> {
    let mut v: Vec<_> = p
        .iter()
        .map(|p| (p.name.to_string(), format!("{:?}", p.value)))
        .collect();
    v.sort();
    v
}

/// Expected properties, built from what rumqttc was given.
#[derive(Default)]
struct Want(Vec<(String, String)>);

impl Want {
    fn int(mut self, name: &str, v: Option<impl Into<u64>>) -> Self {
        if let Some(v) = v {
            let v = v.into() as u32;
            self.0
                .push((name.into(), format!("{:?}", PropertyValue::Int(v))));
        }
        self
    }
    fn text(mut self, name: &str, v: &Option<String>) -> Self {
        if let Some(v) = v {
            self.0
                .push((name.into(), format!("{:?}", PropertyValue::Text(v.clone()))));
        }
        self
    }
    fn binary(mut self, name: &str, v: &Option<Bytes>) -> Self {
        if let Some(v) = v {
            let len = v.len();
            self.0
                .push((name.into(), format!("{:?}", PropertyValue::Binary { len })));
        }
        self
    }
    fn users(mut self, v: &[(String, String)]) -> Self {
        for (k, val) in v {
            let pair = PropertyValue::Pair(k.clone(), val.clone());
            self.0.push(("user_property".into(), format!("{pair:?}")));
        }
        self
    }
    fn done(mut self) -> Vec<(String, String)> {
        self.0.sort();
        self.0
    }
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,16}"
}
fn topic() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}"
}
fn filter() -> impl Strategy<Value = String> {
    "([a-z0-9]{1,6}|\\+)(/([a-z0-9]{1,6}|\\+)){0,3}(/#)?"
}
fn users() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(), text()), 0..3)
}
fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}
fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from))
}
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}
fn flag() -> impl Strategy<Value = Option<u8>> {
    prop::option::of(0u8..=1)
}
fn nonzero16() -> impl Strategy<Value = Option<u16>> {
    prop::option::of(1u16..)
}
fn nonzero32() -> impl Strategy<Value = Option<u32>> {
    prop::option::of(1u32..)
}

// ---------------------------------------------------------------- MQTT 3.1.1

fn v4_connect() -> impl Strategy<Value = v4::Connect> {
    let will = prop::option::of((topic(), payload(), 0u8..=2, any::<bool>()));
    // rumqttc leaves out an empty user name but still sends the password, which 3.1.1
    // forbids (and we flag), so 3.1.1 user names are never empty here
    let login = prop::option::of(("\\PC{1,12}", text()));
    (name(), any::<u16>(), any::<bool>(), will, login).prop_map(|(id, ka, clean, will, login)| {
        v4::Connect {
            protocol: rumqttc::mqttbytes::Protocol::V4,
            keep_alive: ka,
            client_id: id,
            clean_session: clean,
            last_will: will.map(|(t, m, q, r)| v4::LastWill {
                topic: t,
                message: Bytes::from(m),
                qos: qos(q),
                retain: r,
            }),
            login: login.map(|(u, p)| v4::Login {
                username: u,
                password: p,
            }),
        }
    })
}

fn v4_publish() -> impl Strategy<Value = v4::Publish> {
    (
        topic(),
        0u8..=2,
        any::<bool>(),
        any::<bool>(),
        1u16..,
        payload(),
    )
        .prop_map(|(t, q, retain, dup, pkid, payload)| v4::Publish {
            dup: dup && q > 0,
            qos: qos(q),
            retain,
            topic: t,
            pkid: if q > 0 { pkid } else { 0 },
            payload: Bytes::from(payload),
        })
}

fn v4_suback_code(c: u8) -> v4::SubscribeReasonCode {
    match c {
        0..=2 => v4::SubscribeReasonCode::Success(qos(c)),
        _ => v4::SubscribeReasonCode::Failure,
    }
}

const V4_CONNACK: [(v4::ConnectReturnCode, &str); 6] = [
    (v4::ConnectReturnCode::Success, "Connection Accepted"),
    (
        v4::ConnectReturnCode::RefusedProtocolVersion,
        "Unacceptable protocol version",
    ),
    (v4::ConnectReturnCode::BadClientId, "Identifier rejected"),
    (
        v4::ConnectReturnCode::ServiceUnavailable,
        "Server unavailable",
    ),
    (
        v4::ConnectReturnCode::BadUserNamePassword,
        "Bad user name or password",
    ),
    (v4::ConnectReturnCode::NotAuthorized, "Not authorized"),
];

fn v4_packet() -> impl Strategy<Value = v4::Packet> {
    prop_oneof![
        v4_connect().prop_map(v4::Packet::Connect),
        (0usize..6, any::<bool>()).prop_map(|(i, sp)| v4::Packet::ConnAck(v4::ConnAck {
            session_present: sp && i == 0,
            code: V4_CONNACK[i].0,
        })),
        v4_publish().prop_map(v4::Packet::Publish),
        (1u16..).prop_map(|id| v4::Packet::PubAck(v4::PubAck { pkid: id })),
        (1u16..).prop_map(|id| v4::Packet::PubRec(v4::PubRec { pkid: id })),
        (1u16..).prop_map(|id| v4::Packet::PubRel(v4::PubRel { pkid: id })),
        (1u16..).prop_map(|id| v4::Packet::PubComp(v4::PubComp { pkid: id })),
        (1u16.., prop::collection::vec((filter(), 0u8..=2), 1..5)).prop_map(|(id, f)| {
            v4::Packet::Subscribe(v4::Subscribe {
                pkid: id,
                filters: f
                    .into_iter()
                    .map(|(path, q)| v4::SubscribeFilter { path, qos: qos(q) })
                    .collect(),
            })
        }),
        (
            1u16..,
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0x80]), 1..5)
        )
            .prop_map(|(id, c)| v4::Packet::SubAck(v4::SubAck {
                pkid: id,
                return_codes: c.into_iter().map(v4_suback_code).collect(),
            })),
        (1u16.., prop::collection::vec(filter(), 1..5)).prop_map(|(id, t)| {
            v4::Packet::Unsubscribe(v4::Unsubscribe {
                pkid: id,
                topics: t,
            })
        }),
        (1u16..).prop_map(|id| v4::Packet::UnsubAck(v4::UnsubAck { pkid: id })),
        Just(v4::Packet::PingReq),
        Just(v4::Packet::PingResp),
        Just(v4::Packet::Disconnect),
    ]
}

fn v4_from_endpoint(p: &v4::Packet) -> bool {
    matches!(
        p,
        v4::Packet::ConnAck(_)
            | v4::Packet::SubAck(_)
            | v4::Packet::UnsubAck(_)
            | v4::Packet::PingResp
            | v4::Packet::PubAck(_)
            | v4::Packet::PubComp(_)
    )
}

fn check_v4(sent: &v4::Packet, got: &Packet) {
    match (sent, &got.body) {
        (v4::Packet::Connect(c), Body::Connect(g)) => {
            assert_eq!((g.protocol_name.as_str(), g.protocol_level), ("MQTT", 4));
            assert_eq!(g.client_id, c.client_id);
            assert_eq!(g.keep_alive, c.keep_alive);
            assert_eq!(g.clean_start, c.clean_session);
            let (user, pass) = login_fields(c.login.as_ref().map(|l| (&l.username, &l.password)));
            assert_eq!(g.username, user);
            assert_eq!(g.password.as_ref().and_then(|p| p.value.clone()), pass);
            match (&c.last_will, &g.will) {
                (None, None) => {}
                (Some(w), Some(gw)) => {
                    assert_eq!(gw.topic, w.topic);
                    assert_eq!(gw.payload_len, w.message.len());
                    assert_eq!((gw.qos, gw.retain), (w.qos as u8, w.retain));
                }
                other => panic!("will {other:?}"),
            }
        }
        (v4::Packet::ConnAck(c), Body::Connack(g)) => {
            let i = V4_CONNACK.iter().position(|x| x.0 == c.code).unwrap();
            assert_eq!((g.code, g.reason), (i as u8, V4_CONNACK[i].1));
            assert_eq!(g.session_present, c.session_present);
        }
        (v4::Packet::Publish(p), Body::Publish(g)) => {
            assert_eq!(g.topic, p.topic);
            assert_eq!(
                (got.qos, got.retain, got.dup),
                (p.qos as u8, p.retain, p.dup)
            );
            assert_eq!(g.packet_id, (p.qos as u8 > 0).then_some(p.pkid));
            assert_eq!(g.payload_len, p.payload.len());
            assert_eq!(g.payload_prefix, p.payload[..p.payload.len().min(64)]);
        }
        (v4::Packet::PubAck(a), Body::Ack(g)) => assert_eq!((g.packet_id, g.code), (a.pkid, 0)),
        (v4::Packet::PubRec(a), Body::Ack(g)) => assert_eq!(g.packet_id, a.pkid),
        (v4::Packet::PubRel(a), Body::Ack(g)) => assert_eq!(g.packet_id, a.pkid),
        (v4::Packet::PubComp(a), Body::Ack(g)) => assert_eq!(g.packet_id, a.pkid),
        (v4::Packet::Subscribe(s), Body::Subscribe(g)) => {
            assert_eq!(g.packet_id, s.pkid);
            let want: Vec<_> = s
                .filters
                .iter()
                .map(|f| (f.path.clone(), f.qos as u8))
                .collect();
            let have: Vec<_> = g
                .filters
                .iter()
                .map(|f| (f.filter.clone(), f.options))
                .collect();
            assert_eq!(have, want);
        }
        (v4::Packet::SubAck(s), Body::SubAck(g)) => {
            assert_eq!(g.packet_id, s.pkid);
            let want: Vec<u8> = s
                .return_codes
                .iter()
                .map(|c| match c {
                    v4::SubscribeReasonCode::Success(q) => *q as u8,
                    v4::SubscribeReasonCode::Failure => 0x80,
                })
                .collect();
            assert_eq!(g.codes, want);
        }
        (v4::Packet::Unsubscribe(u), Body::Unsubscribe(g)) => {
            assert_eq!((g.packet_id, &g.filters), (u.pkid, &u.topics));
        }
        (v4::Packet::UnsubAck(u), Body::SubAck(g)) => {
            assert_eq!((g.packet_id, g.codes.len()), (u.pkid, 0));
        }
        (v4::Packet::PingReq, Body::Pingreq) | (v4::Packet::PingResp, Body::Pingresp) => {}
        (v4::Packet::Disconnect, Body::Disconnect(g)) => assert_eq!(g.code, 0),
        (s, g) => panic!("sent {s:?}, decoded {g:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn rumqttc_v4_packets_decode_field_for_field(sent in v4_packet(), chunk in 1usize..40) {
        let mut buf = BytesMut::new();
        sent.write(&mut buf, 1 << 20).unwrap();
        let (dir, connect) = if matches!(sent, v4::Packet::Connect(_)) {
            (Direction::DeviceToEndpoint, None)
        } else if v4_from_endpoint(&sent) {
            (Direction::EndpointToDevice, Some(V4_CONNECT))
        } else {
            (Direction::DeviceToEndpoint, Some(V4_CONNECT))
        };
        let got = decode(connect, dir, &buf, chunk);
        prop_assert_eq!(got.remaining_length as usize + 1 + varint_len(got.remaining_length), buf.len());
        check_v4(&sent, &got);
    }
}

fn varint_len(n: u32) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

// ---------------------------------------------------------------- MQTT 5

#[path = "mqtt_differential/v5_check.rs"]
mod v5_check;
#[path = "mqtt_differential/v5_gen.rs"]
mod v5_gen;

use v5_check::check_v5;
use v5_gen::v5_packet;

fn v5_from_endpoint(p: &v5::Packet) -> bool {
    matches!(
        p,
        v5::Packet::ConnAck(_)
            | v5::Packet::SubAck(_)
            | v5::Packet::UnsubAck(_)
            | v5::Packet::PingResp(_)
            | v5::Packet::PubAck(_)
            | v5::Packet::PubComp(_)
            | v5::Packet::Disconnect(_)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn rumqttc_v5_packets_decode_field_for_field(sent in v5_packet(), chunk in 1usize..40) {
        let mut buf = BytesMut::new();
        sent.write(&mut buf, None).unwrap();
        let (dir, connect) = if matches!(sent, v5::Packet::Connect(..)) {
            (Direction::DeviceToEndpoint, None)
        } else if v5_from_endpoint(&sent) {
            (Direction::EndpointToDevice, Some(V5_CONNECT))
        } else {
            (Direction::DeviceToEndpoint, Some(V5_CONNECT))
        };
        let got = decode(connect, dir, &buf, chunk);
        prop_assert_eq!(got.remaining_length as usize + 1 + varint_len(got.remaining_length), buf.len());
        check_v5(&sent, &got);
    }
}

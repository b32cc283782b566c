//! MQTT control packets for the rule tests, as the decoder reports them.

use iotscope_decoder::mqtt::{self, Body, Packet, PacketType};
use iotscope_decoder::EventKind;

fn packet(packet_type: PacketType, qos: u8, remaining_length: u32, body: Body) -> EventKind {
    EventKind::Mqtt(Box::new(Packet {
        packet_type,
        flags: qos << 1,
        dup: false,
        qos,
        retain: false,
        remaining_length,
        offset: 0,
        problems: Vec::new(),
        lost: 0,
        body,
    }))
}

/// CONNECT at protocol `level` (4 = 3.1.1, 5 = 5.0) with a clean session.
pub fn connect(level: u8, client_id: &str, keep_alive: u16) -> EventKind {
    packet(
        PacketType::Connect,
        0,
        12 + client_id.len() as u32,
        Body::Connect(mqtt::Connect {
            protocol_name: if level == 3 { "MQIsdp" } else { "MQTT" }.to_string(),
            protocol_level: level,
            clean_start: true,
            keep_alive,
            client_id: client_id.to_string(),
            username: None,
            password: None,
            will: None,
            reserved_flag: false,
            properties: Vec::new(),
        }),
    )
}

/// CONNECT with a will on `topic` at `qos`.
pub fn connect_with_will(level: u8, client_id: &str, topic: &str, qos: u8) -> EventKind {
    let mut k = connect(level, client_id, 60);
    if let EventKind::Mqtt(p) = &mut k {
        if let Body::Connect(c) = &mut p.body {
            c.will = Some(mqtt::Will {
                topic: topic.to_string(),
                qos,
                retain: false,
                payload_len: 7,
                properties: Vec::new(),
            });
        }
    }
    k
}

/// The MQTT 5 Session Expiry Interval property (0x11).
fn session_expiry(seconds: u32) -> mqtt::Property {
    mqtt::Property {
        id: 0x11,
        name: "session_expiry_interval",
        value: mqtt::PropertyValue::Int(seconds),
    }
}

/// An MQTT 5 CONNECT asking for a session kept `seconds` after a disconnect.
pub fn connect5_with_session_expiry(client_id: &str, seconds: u32) -> EventKind {
    let mut k = connect(5, client_id, 60);
    if let EventKind::Mqtt(p) = &mut k {
        if let Body::Connect(c) = &mut p.body {
            c.clean_start = false;
            c.properties.push(session_expiry(seconds));
        }
    }
    k
}

/// An MQTT 5 CONNACK 0 whose properties grant a session expiry of `seconds`.
pub fn connack5_granting_session_expiry(seconds: u32) -> EventKind {
    let mut k = connack_at(5, 0);
    if let EventKind::Mqtt(p) = &mut k {
        if let Body::Connack(a) = &mut p.body {
            a.properties.push(session_expiry(seconds));
        }
    }
    k
}

/// CONNACK with `code`, named for `level`.
pub fn connack_at(level: u8, code: u8) -> EventKind {
    packet(
        PacketType::Connack,
        0,
        2,
        Body::Connack(mqtt::Connack {
            session_present: false,
            code,
            reason: mqtt::reason_name(PacketType::Connack, level, code),
            properties: Vec::new(),
        }),
    )
}

/// A 3.1.1 CONNACK (rules read the code by the CONNECT's level, not by this name).
pub fn connack(code: u8) -> EventKind {
    connack_at(4, code)
}

/// PUBLISH; `id` is the packet id (used for QoS 1 and 2), `len` the payload size.
pub fn publish(topic: &str, id: u16, qos: u8, len: usize) -> EventKind {
    packet(
        PacketType::Publish,
        qos,
        (2 + topic.len() + len) as u32,
        Body::Publish(mqtt::Publish {
            topic: topic.to_string(),
            packet_id: (qos > 0).then_some(id),
            payload_len: len,
            payload_prefix: Vec::new(),
            properties: Vec::new(),
        }),
    )
}

/// PUBACK with an MQTT 5 reason code (0 for 3.1.1).
pub fn puback(id: u16, code: u8) -> EventKind {
    packet(
        PacketType::Puback,
        0,
        if code == 0 { 2 } else { 4 },
        Body::Ack(mqtt::Ack {
            packet_id: id,
            code,
            reason: mqtt::reason_name(PacketType::Puback, 5, code),
            properties: Vec::new(),
        }),
    )
}

/// SUBSCRIBE to `(filter, qos)` pairs.
pub fn subscribe(id: u16, filters: &[(&str, u8)]) -> EventKind {
    packet(
        PacketType::Subscribe,
        1,
        2 + filters.iter().map(|(f, _)| 3 + f.len() as u32).sum::<u32>(),
        Body::Subscribe(mqtt::Subscribe {
            packet_id: id,
            filters: filters
                .iter()
                .map(|(f, q)| mqtt::Subscription {
                    filter: f.to_string(),
                    qos: *q,
                    options: *q,
                })
                .collect(),
            properties: Vec::new(),
        }),
    )
}

pub fn suback(id: u16, codes: &[u8]) -> EventKind {
    packet(
        PacketType::Suback,
        0,
        2 + codes.len() as u32,
        Body::SubAck(mqtt::SubAck {
            packet_id: id,
            codes: codes.to_vec(),
            properties: Vec::new(),
        }),
    )
}

pub fn pingreq() -> EventKind {
    packet(PacketType::Pingreq, 0, 0, Body::Pingreq)
}

pub fn pingresp() -> EventKind {
    packet(PacketType::Pingresp, 0, 0, Body::Pingresp)
}

/// An MQTT 5 DISCONNECT with `code`.
pub fn disconnect(code: u8) -> EventKind {
    packet(
        PacketType::Disconnect,
        0,
        1,
        Body::Disconnect(mqtt::ReasonOnly {
            code,
            reason: mqtt::reason_name(PacketType::Disconnect, 5, code),
            properties: Vec::new(),
        }),
    )
}

/// A packet the decoder read but found at odds with the spec.
pub fn with_problem(mut k: EventKind, problem: &str) -> EventKind {
    if let EventKind::Mqtt(p) = &mut k {
        p.problems.push(problem.to_string());
    }
    k
}

pub fn mqtt_malformed(offset: u64, reason: &str) -> EventKind {
    EventKind::MqttMalformed {
        offset,
        reason: reason.into(),
    }
}

//! MQTT 5 properties: the table of every identifier the spec defines (name, value type, which
//! packets may carry it) and the reader of a property block.
//!
//! A property block starts with its own length, so a block with an unknown identifier or a
//! value that overruns it can be skipped as a whole: the packet's other fields stay readable
//! and the problem is noted instead of dropping the packet.

use super::packet::{PacketType, Property, PropertyValue};
use super::reader::{Reader, Stop};

/// What a property block belongs to: a packet, or the will inside a CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Packet(PacketType),
    Will,
}

impl Owner {
    fn name(self) -> &'static str {
        match self {
            Owner::Packet(t) => t.name(),
            Owner::Will => "will",
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Byte,
    Two,
    Four,
    Var,
    Text,
    Pair,
    Binary,
}

/// Which owners may carry a property, as bits: one per packet type number, bit 0 for the will.
const WILL: u16 = 1;
const fn p(t: u8) -> u16 {
    1 << t
}
const CONNECT: u16 = p(1);
const CONNACK: u16 = p(2);
const PUBLISH: u16 = p(3);
const ACKS: u16 = p(4) | p(5) | p(6) | p(7);
const SUBSCRIBE: u16 = p(8);
const SUBACK: u16 = p(9);
const UNSUBACK: u16 = p(11);
const DISCONNECT: u16 = p(14);
const AUTH: u16 = p(15);

/// (identifier, name, value type, owners).
const TABLE: &[(u8, &str, Kind, u16)] = &[
    (0x01, "payload_format_indicator", Kind::Byte, PUBLISH | WILL),
    (0x02, "message_expiry_interval", Kind::Four, PUBLISH | WILL),
    (0x03, "content_type", Kind::Text, PUBLISH | WILL),
    (0x08, "response_topic", Kind::Text, PUBLISH | WILL),
    (0x09, "correlation_data", Kind::Binary, PUBLISH | WILL),
    (
        0x0B,
        "subscription_identifier",
        Kind::Var,
        PUBLISH | SUBSCRIBE,
    ),
    (
        0x11,
        "session_expiry_interval",
        Kind::Four,
        CONNECT | CONNACK | DISCONNECT,
    ),
    (0x12, "assigned_client_identifier", Kind::Text, CONNACK),
    (0x13, "server_keep_alive", Kind::Two, CONNACK),
    (
        0x15,
        "authentication_method",
        Kind::Text,
        CONNECT | CONNACK | AUTH,
    ),
    (
        0x16,
        "authentication_data",
        Kind::Binary,
        CONNECT | CONNACK | AUTH,
    ),
    (0x17, "request_problem_information", Kind::Byte, CONNECT),
    (0x18, "will_delay_interval", Kind::Four, WILL),
    (0x19, "request_response_information", Kind::Byte, CONNECT),
    (0x1A, "response_information", Kind::Text, CONNACK),
    (0x1C, "server_reference", Kind::Text, CONNACK | DISCONNECT),
    (
        0x1F,
        "reason_string",
        Kind::Text,
        CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
    ),
    (0x21, "receive_maximum", Kind::Two, CONNECT | CONNACK),
    (0x22, "topic_alias_maximum", Kind::Two, CONNECT | CONNACK),
    (0x23, "topic_alias", Kind::Two, PUBLISH),
    (0x24, "maximum_qos", Kind::Byte, CONNACK),
    (0x25, "retain_available", Kind::Byte, CONNACK),
    (0x26, "user_property", Kind::Pair, 0xffff),
    (0x27, "maximum_packet_size", Kind::Four, CONNECT | CONNACK),
    (0x28, "wildcard_subscription_available", Kind::Byte, CONNACK),
    (
        0x29,
        "subscription_identifier_available",
        Kind::Byte,
        CONNACK,
    ),
    (0x2A, "shared_subscription_available", Kind::Byte, CONNACK),
];

/// The snake_case name of property `id`, or `"unknown"`.
pub fn property_name(id: u8) -> &'static str {
    TABLE.iter().find(|e| e.0 == id).map_or("unknown", |e| e.1)
}

fn owner_bit(owner: Owner) -> u16 {
    match owner {
        Owner::Will => WILL,
        Owner::Packet(t) => p(t as u8),
    }
}

/// Reads a property block (its length, then the properties) at the cursor.
pub(crate) fn read_properties(r: &mut Reader, owner: Owner) -> Result<Vec<Property>, Stop> {
    let start = r.at();
    let len = r.varint("property length")? as usize;
    if len > r.left() {
        return Err(Stop::Malformed(format!(
            "property length {len} at byte {start} runs past the end of the {}",
            owner.name()
        )));
    }
    let outer_end = r.end();
    let block_end = r.pos() + len;
    r.set_end(block_end);
    let mut props: Vec<Property> = Vec::new();
    while r.left() > 0 {
        let at = r.at();
        match read_one(r, owner) {
            Ok(prop) => {
                if prop.id != 0x26 && prop.id != 0x0B && props.iter().any(|q| q.id == prop.id) {
                    r.problem(format!(
                        "{} appears more than once in the {} properties",
                        prop.name,
                        owner.name()
                    ));
                }
                props.push(prop);
            }
            Err(Stop::Malformed(why)) => {
                r.problem(format!(
                    "{why}; the rest of the {} property block (from byte {at}) was skipped",
                    owner.name()
                ));
                r.seek(block_end);
            }
            Err(truncated) => {
                r.set_end(outer_end);
                return Err(truncated);
            }
        }
    }
    r.set_end(outer_end);
    Ok(props)
}

fn read_one(r: &mut Reader, owner: Owner) -> Result<Property, Stop> {
    let at = r.at();
    let id = r.u8("property identifier")?;
    let Some(&(_, name, kind, owners)) = TABLE.iter().find(|e| e.0 == id) else {
        return Err(Stop::Malformed(format!(
            "unknown property identifier 0x{id:02x} at byte {at}"
        )));
    };
    let value = match kind {
        Kind::Byte => PropertyValue::Int(r.u8(name)?.into()),
        Kind::Two => PropertyValue::Int(r.u16(name)?.into()),
        Kind::Four => PropertyValue::Int(r.u32(name)?),
        Kind::Var => PropertyValue::Int(r.varint(name)?),
        Kind::Text => PropertyValue::Text(r.string(name)?),
        Kind::Pair => {
            let k = r.string("user property name")?;
            let v = r.string("user property value")?;
            PropertyValue::Pair(k, v)
        }
        Kind::Binary => PropertyValue::Binary {
            len: r.binary_len(name)?,
        },
    };
    if owners & owner_bit(owner) == 0 {
        r.problem(format!("{name} is not allowed in {}", owner.name()));
    }
    check_value(r, id, name, &value);
    Ok(Property { id, name, value })
}

/// Values the spec restricts beyond their type.
fn check_value(r: &mut Reader, id: u8, name: &str, value: &PropertyValue) {
    let PropertyValue::Int(v) = *value else {
        return;
    };
    let bad = match id {
        // the 0/1 flags
        0x01 | 0x17 | 0x19 | 0x25 | 0x28 | 0x29 | 0x2A | 0x24 => v > 1,
        0x0B => v == 0,
        0x21 | 0x23 | 0x27 => v == 0,
        _ => false,
    };
    if bad {
        r.problem(format!(
            "{name} has the value {v}, which the spec does not allow"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(bytes: &[u8], owner: Owner) -> (Vec<Property>, Vec<String>) {
        let mut r = Reader::new(bytes, bytes.len(), 0);
        let props = read_properties(&mut r, owner).unwrap();
        (props, r.problems)
    }

    #[test]
    fn every_kind() {
        let bytes = [
            23, // block length
            0x11, 0, 0, 0x02, 0x2b, // session_expiry_interval 555
            0x21, 0, 222, // receive_maximum
            0x26, 0, 1, b'k', 0, 1, b'v', // user_property
            0x16, 0, 2, 0xde, 0xad, // authentication_data
            0x15, 0, 0, // authentication_method ""
        ];
        let (props, problems) = block(&bytes, Owner::Packet(PacketType::Connect));
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<_> = props.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "session_expiry_interval",
                "receive_maximum",
                "user_property",
                "authentication_data",
                "authentication_method"
            ]
        );
        assert_eq!(props[0].value, PropertyValue::Int(555));
        assert_eq!(props[2].value, PropertyValue::Pair("k".into(), "v".into()));
        assert_eq!(props[3].value, PropertyValue::Binary { len: 2 });
    }

    #[test]
    fn misplaced_duplicate_and_unknown() {
        // topic_alias in a CONNECT, twice, then an unknown id 0x7f with trailing junk
        let bytes = [9, 0x23, 0, 1, 0x23, 0, 2, 0x7f, 1, 2];
        let (props, problems) = block(&bytes, Owner::Packet(PacketType::Connect));
        assert_eq!(props.len(), 2);
        assert_eq!(
            problems,
            [
                "topic_alias is not allowed in CONNECT",
                "topic_alias is not allowed in CONNECT",
                "topic_alias appears more than once in the CONNECT properties",
                "unknown property identifier 0x7f at byte 7; the rest of the CONNECT property block (from byte 7) was skipped",
            ]
        );
    }

    #[test]
    fn block_longer_than_packet_is_malformed() {
        let bytes = [10, 0x23, 0, 1];
        let mut r = Reader::new(&bytes, bytes.len(), 50);
        match read_properties(&mut r, Owner::Packet(PacketType::Publish)) {
            Err(Stop::Malformed(m)) => assert_eq!(
                m,
                "property length 10 at byte 50 runs past the end of the PUBLISH"
            ),
            other => panic!("{other:?}"),
        }
    }
}

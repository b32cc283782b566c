//! MQTT control packets as the decoder reports them: one shape for 3.1, 3.1.1 and 5.
//!
//! Fields that only exist in MQTT 5 (properties, reason codes on acknowledgements) are empty
//! or `None` for earlier versions.

use serde::Serialize;

/// The fifteen control packet types (and the reserved value 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PacketType {
    Reserved,
    Connect,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Pingreq,
    Pingresp,
    Disconnect,
    Auth,
}

impl PacketType {
    pub fn from_nibble(n: u8) -> PacketType {
        match n & 0x0f {
            1 => PacketType::Connect,
            2 => PacketType::Connack,
            3 => PacketType::Publish,
            4 => PacketType::Puback,
            5 => PacketType::Pubrec,
            6 => PacketType::Pubrel,
            7 => PacketType::Pubcomp,
            8 => PacketType::Subscribe,
            9 => PacketType::Suback,
            10 => PacketType::Unsubscribe,
            11 => PacketType::Unsuback,
            12 => PacketType::Pingreq,
            13 => PacketType::Pingresp,
            14 => PacketType::Disconnect,
            15 => PacketType::Auth,
            _ => PacketType::Reserved,
        }
    }

    /// Upper-case name as the spec writes it: `CONNECT`, `SUBACK`, …
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Reserved => "RESERVED",
            PacketType::Connect => "CONNECT",
            PacketType::Connack => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::Puback => "PUBACK",
            PacketType::Pubrec => "PUBREC",
            PacketType::Pubrel => "PUBREL",
            PacketType::Pubcomp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::Suback => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::Unsuback => "UNSUBACK",
            PacketType::Pingreq => "PINGREQ",
            PacketType::Pingresp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }
}

/// One decoded control packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Packet {
    #[serde(rename = "type")]
    pub packet_type: PacketType,
    /// The low four bits of the first byte.
    pub flags: u8,
    /// DUP, QoS and RETAIN as read from the flags (meaningful for PUBLISH).
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    /// Remaining length from the fixed header.
    pub remaining_length: u32,
    /// Byte offset of the packet's first byte in its direction's plaintext stream.
    pub offset: u64,
    /// Spec violations found while decoding this packet that did not stop decoding
    /// (reserved flag bits set, QoS 3, a property not allowed here, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Bytes of this packet the decoder never saw: lost in a capture gap, or copies the
    /// proxy could not hand on. The header fields were read, so what they declare (a
    /// payload's length) still counts; the loss is not a defect of the packet.
    #[serde(rename = "lost_bytes", skip_serializing_if = "is_zero")]
    pub lost: u64,
    #[serde(flatten)]
    pub body: Body,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Connect(Connect),
    Connack(Connack),
    Publish(Publish),
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    Ack(Ack),
    Subscribe(Subscribe),
    /// SUBACK and UNSUBACK: one reason code per filter.
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    Pingreq,
    Pingresp,
    Disconnect(ReasonOnly),
    Auth(ReasonOnly),
    /// Reserved packet type 0: only the fixed header is known.
    Reserved,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connect {
    /// "MQTT" for 3.1.1 and 5, "MQIsdp" for 3.1.
    pub protocol_name: String,
    /// 3 (3.1), 4 (3.1.1), 5 (5.0), or whatever the device sent.
    pub protocol_level: u8,
    pub clean_start: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub username: Option<String>,
    /// The password: its length, and its text only when the session was asked to reveal it.
    pub password: Option<Password>,
    pub will: Option<Will>,
    /// Bit 0 of the connect flags, which must be zero.
    pub reserved_flag: bool,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Password {
    pub len: usize,
    /// `None` unless passwords are revealed; rendered as `<redacted>`.
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Will {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub payload_len: usize,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connack {
    pub session_present: bool,
    /// MQTT 3.1.1 return code, or MQTT 5 reason code.
    pub code: u8,
    /// The code's name for the session's protocol version.
    pub reason: &'static str,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Publish {
    pub topic: String,
    /// Present for QoS 1 and 2.
    pub packet_id: Option<u16>,
    /// The payload's full size, even when only a prefix was kept.
    pub payload_len: usize,
    /// The first bytes of the payload (at most [`crate::mqtt::PAYLOAD_PREFIX`]).
    #[serde(serialize_with = "crate::mqtt::packet::bytes_as_text")]
    pub payload_prefix: Vec<u8>,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ack {
    pub packet_id: u16,
    /// MQTT 5 reason code (0 when absent or for 3.1.1).
    pub code: u8,
    pub reason: &'static str,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    pub filter: String,
    /// Requested maximum QoS (bits 0–1 of the options byte).
    pub qos: u8,
    /// The whole options byte (MQTT 5 adds no-local, retain-as-published, retain handling).
    pub options: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<Subscription>,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubAck {
    pub packet_id: u16,
    pub codes: Vec<u8>,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonOnly {
    /// 0 when the packet has no reason code (always so before MQTT 5).
    pub code: u8,
    pub reason: &'static str,
    pub properties: Vec<Property>,
}

/// An MQTT 5 property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Property {
    pub id: u8,
    /// `session_expiry_interval`, `assigned_client_identifier`, … or `unknown`.
    pub name: &'static str,
    pub value: PropertyValue,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PropertyValue {
    Int(u32),
    Text(String),
    Pair(String, String),
    Binary { len: usize },
}

/// Payload bytes as text when they are UTF-8, else as hex.
pub fn bytes_as_text<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::hex::text_or_hex(b))
}

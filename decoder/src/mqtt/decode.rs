//! Packet bodies: from one framed packet (fixed header plus the kept part of its body) to a
//! [`Packet`], for a given protocol level.
//!
//! Each reader takes every field it can and notes what breaks the spec; it gives up only
//! when a field it needs to find the next one cannot be read (a length running past the
//! packet). Then the whole packet becomes an `MqttMalformed` event naming the byte.

use super::checks;
use super::packet::*;
use super::properties::{read_properties, Owner};
use super::reader::{Reader, Stop};
use super::reason::{allowed_v5, reason_name};
use super::PAYLOAD_PREFIX;
use crate::event::Direction;
use crate::malformed::Malformed;

/// One framed packet as the stream framing hands it over.
pub(crate) struct Frame<'a> {
    pub first: u8,
    pub remaining_length: u32,
    /// Stream offset of the first byte.
    pub offset: u64,
    /// Length of the fixed header (1 to 5 bytes).
    pub header_len: usize,
    /// The first bytes of the body: all of it unless the packet was too large to keep.
    pub body: &'a [u8],
}

/// How to read a packet.
#[derive(Clone, Copy)]
pub(crate) struct Context {
    /// The protocol level the session is read with: 3, 4 or 5.
    pub level: u8,
    pub dir: Direction,
    pub reveal_passwords: bool,
}

/// Decodes a packet; `Err` is the reason for an `MqttMalformed` event.
pub(crate) fn decode(frame: &Frame, ctx: &Context) -> Result<Packet, Malformed> {
    let packet_type = PacketType::from_nibble(frame.first >> 4);
    let flags = frame.first & 0x0f;
    let len = frame.remaining_length as usize;
    let mut r = Reader::new(frame.body, len, frame.offset + frame.header_len as u64);
    if let Some(p) = checks::fixed_header_flags(packet_type, flags) {
        r.problem(p);
    }
    if let Some(p) = checks::sender(packet_type, ctx.dir) {
        r.problem(p);
    }
    let v5 = ctx.level == 5;
    let body = match packet_type {
        PacketType::Connect => connect(&mut r, ctx),
        PacketType::Connack => connack(&mut r, v5, ctx.level),
        PacketType::Publish => publish(&mut r, flags, v5),
        PacketType::Puback | PacketType::Pubrec | PacketType::Pubrel | PacketType::Pubcomp => {
            ack(&mut r, packet_type, v5)
        }
        PacketType::Subscribe => subscribe(&mut r, v5),
        PacketType::Suback | PacketType::Unsuback => suback(&mut r, packet_type, v5),
        PacketType::Unsubscribe => unsubscribe(&mut r, v5),
        PacketType::Pingreq => Ok(Body::Pingreq),
        PacketType::Pingresp => Ok(Body::Pingresp),
        PacketType::Disconnect | PacketType::Auth => reason_only(&mut r, packet_type, v5),
        PacketType::Reserved => {
            r.problem("packet type 0 is reserved");
            r.seek(len);
            Ok(Body::Reserved)
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(Stop::Malformed(why)) => {
            return Err(Malformed(format!("{}: {why}", packet_type.name())))
        }
        Err(Stop::Truncated(why)) => {
            return Err(Malformed(format!(
                "{} of {len} bytes is larger than the decoder keeps: {why}",
                packet_type.name()
            )))
        }
    };
    if r.left() > 0 {
        let (n, at) = (r.left(), r.at());
        r.problem(format!(
            "{n} unexpected bytes at byte {at} after the last field of {}",
            packet_type.name()
        ));
    }
    Ok(Packet {
        packet_type,
        flags,
        dup: flags & 0x8 != 0,
        qos: (flags >> 1) & 3,
        retain: flags & 1 != 0,
        remaining_length: frame.remaining_length,
        offset: frame.offset,
        problems: r.problems,
        lost: 0,
        body,
    })
}

fn props_if(r: &mut Reader, v5: bool, owner: Owner) -> Result<Vec<Property>, Stop> {
    if v5 {
        read_properties(r, owner)
    } else {
        Ok(Vec::new())
    }
}

fn connect(r: &mut Reader, ctx: &Context) -> Result<Body, Stop> {
    let protocol_name = r.string("protocol name")?;
    let protocol_level = r.u8("protocol level")?;
    let flags = r.u8("connect flags")?;
    let keep_alive = r.u16("keep alive")?;
    match (protocol_name.as_str(), protocol_level) {
        ("MQTT", 4 | 5) | ("MQIsdp", 3) => {}
        ("MQTT" | "MQIsdp", 3..=5) => r.problem(format!(
            "protocol name \"{protocol_name}\" does not match protocol level {protocol_level}"
        )),
        ("MQTT" | "MQIsdp", _) => {}
        _ => r.problem(format!(
            "protocol name \"{protocol_name}\" is neither \"MQTT\" nor \"MQIsdp\""
        )),
    }
    if !(3..=5).contains(&protocol_level) {
        r.problem(format!(
            "unknown protocol level {protocol_level}; the connection is read as MQTT 3.1.1"
        ));
    }
    let v5 = protocol_level == 5;
    let reserved_flag = flags & 1 != 0;
    if reserved_flag {
        r.problem("reserved bit 0 of the connect flags is set");
    }
    let properties = props_if(r, v5, Owner::Packet(PacketType::Connect))?;
    let client_id = r.string("client identifier")?;
    let clean_start = flags & 0x02 != 0;
    if client_id.is_empty() && !clean_start && !v5 {
        r.problem("empty client identifier without clean session");
    }
    if protocol_level == 3 && client_id.chars().count() > 23 {
        r.problem("client identifier longer than the 23 characters MQTT 3.1 allows");
    }
    let will_qos = (flags >> 3) & 3;
    let will_retain = flags & 0x20 != 0;
    let will = if flags & 0x04 != 0 {
        if will_qos == 3 {
            r.problem("will QoS 3 does not exist");
        }
        let properties = props_if(r, v5, Owner::Will)?;
        let topic = r.string("will topic")?;
        if let Some(p) = checks::topic_name(&topic, "will topic", false) {
            r.problem(p);
        }
        let payload_len = r.binary_len("will payload")?;
        Some(Will {
            topic,
            qos: will_qos,
            retain: will_retain,
            payload_len,
            properties,
        })
    } else {
        if will_qos != 0 || will_retain {
            r.problem("will QoS or will retain set without the will flag");
        }
        None
    };
    let username = if flags & 0x80 != 0 {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        if username.is_none() && !v5 {
            r.problem("password flag set without the user name flag");
        }
        let value = if ctx.reveal_passwords {
            Some(String::from_utf8_lossy(r.binary("password")?).into_owned())
        } else {
            None
        };
        let len = match &value {
            Some(v) => v.len(),
            None => r.binary_len("password")?,
        };
        Some(Password { len, value })
    } else {
        None
    };
    Ok(Body::Connect(Connect {
        protocol_name,
        protocol_level,
        clean_start,
        keep_alive,
        client_id,
        username,
        password,
        will,
        reserved_flag,
        properties,
    }))
}

fn connack(r: &mut Reader, v5: bool, level: u8) -> Result<Body, Stop> {
    let ack_flags = r.u8("acknowledge flags")?;
    let code = r.u8(if v5 { "reason code" } else { "return code" })?;
    if ack_flags & 0xfe != 0 {
        r.problem(format!(
            "reserved bits of the acknowledge flags are set (0x{ack_flags:02x})"
        ));
    }
    let session_present = ack_flags & 1 != 0;
    if session_present && code != 0 {
        r.problem("session present set on a refused connection");
    }
    let properties = if v5 && r.left() == 0 {
        r.problem("MQTT 5 CONNACK without a property length");
        Vec::new()
    } else if !v5 && r.left() > 0 {
        let (n, at) = (r.left(), r.at());
        r.problem(format!(
            "{n} bytes after the return code at byte {at}: MQTT 5 properties in a 3.1.1 session?"
        ));
        r.seek(r.end());
        Vec::new()
    } else {
        props_if(r, v5, Owner::Packet(PacketType::Connack))?
    };
    let reason = reason_name(PacketType::Connack, level, code);
    if reason == "unknown" {
        r.problem(format!("CONNACK code {code} (0x{code:02x}) is not defined"));
    }
    Ok(Body::Connack(Connack {
        session_present,
        code,
        reason,
        properties,
    }))
}

fn publish(r: &mut Reader, flags: u8, v5: bool) -> Result<Body, Stop> {
    let qos = (flags >> 1) & 3;
    let topic = r.string("topic name")?;
    let packet_id = if qos > 0 {
        let at = r.at();
        let id = r.u16("packet identifier")?;
        if id == 0 {
            r.problem(format!("packet identifier 0 at byte {at}"));
        }
        Some(id)
    } else {
        None
    };
    if flags & 0x08 != 0 && qos == 0 {
        r.problem("DUP set on a QoS 0 PUBLISH");
    }
    let properties = props_if(r, v5, Owner::Packet(PacketType::Publish))?;
    let has_alias = properties.iter().any(|p| p.id == 0x23);
    if let Some(p) = checks::topic_name(&topic, "topic name", v5 && has_alias) {
        r.problem(p);
    }
    let payload_len = r.left();
    let payload_prefix = r.peek_kept(PAYLOAD_PREFIX).to_vec();
    r.seek(r.end());
    Ok(Body::Publish(Publish {
        topic,
        packet_id,
        payload_len,
        payload_prefix,
        properties,
    }))
}

fn packet_id(r: &mut Reader) -> Result<u16, Stop> {
    let at = r.at();
    let id = r.u16("packet identifier")?;
    if id == 0 {
        r.problem(format!("packet identifier 0 at byte {at}"));
    }
    Ok(id)
}

/// A v5 reason code; notes one the packet type may not carry.
fn reason_code(r: &mut Reader, t: PacketType) -> Result<u8, Stop> {
    let code = r.u8("reason code")?;
    if !allowed_v5(t, code) {
        r.problem(format!(
            "reason code 0x{code:02x} is not defined for {}",
            t.name()
        ));
    }
    Ok(code)
}

fn ack(r: &mut Reader, t: PacketType, v5: bool) -> Result<Body, Stop> {
    let packet_id = packet_id(r)?;
    let mut code = 0;
    let mut properties = Vec::new();
    if v5 {
        if r.left() > 0 {
            code = reason_code(r, t)?;
        }
        if r.left() > 0 {
            properties = read_properties(r, Owner::Packet(t))?;
        }
    } else if r.left() > 0 {
        let (n, at) = (r.left(), r.at());
        r.problem(format!(
            "{n} bytes after the packet identifier at byte {at}: an MQTT 5 reason code in a 3.1.1 session?"
        ));
        r.seek(r.end());
    }
    Ok(Body::Ack(Ack {
        packet_id,
        code,
        reason: reason_name(t, if v5 { 5 } else { 4 }, code),
        properties,
    }))
}

fn subscribe(r: &mut Reader, v5: bool) -> Result<Body, Stop> {
    let packet_id = packet_id(r)?;
    let properties = props_if(r, v5, Owner::Packet(PacketType::Subscribe))?;
    let mut filters = Vec::new();
    while r.left() > 0 {
        let item = r
            .string("topic filter")
            .and_then(|f| Ok((f, r.u8("subscription options")?)));
        let (filter, options) = match item {
            Ok(x) => x,
            Err(Stop::Truncated(_)) => {
                note_truncated(r, filters.len(), "topic filters");
                break;
            }
            Err(e) => return Err(e),
        };
        if let Some(p) = checks::topic_filter(&filter) {
            r.problem(p);
        }
        for p in checks::subscription_options(options, v5, &filter) {
            r.problem(p);
        }
        filters.push(Subscription {
            filter,
            qos: options & 3,
            options,
        });
    }
    if filters.is_empty() {
        r.problem("SUBSCRIBE without any topic filter");
    }
    Ok(Body::Subscribe(Subscribe {
        packet_id,
        filters,
        properties,
    }))
}

fn unsubscribe(r: &mut Reader, v5: bool) -> Result<Body, Stop> {
    let packet_id = packet_id(r)?;
    let properties = props_if(r, v5, Owner::Packet(PacketType::Unsubscribe))?;
    let mut filters = Vec::new();
    while r.left() > 0 {
        match r.string("topic filter") {
            Ok(f) => {
                if let Some(p) = checks::topic_filter(&f) {
                    r.problem(p);
                }
                filters.push(f);
            }
            Err(Stop::Truncated(_)) => {
                note_truncated(r, filters.len(), "topic filters");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if filters.is_empty() {
        r.problem("UNSUBSCRIBE without any topic filter");
    }
    Ok(Body::Unsubscribe(Unsubscribe {
        packet_id,
        filters,
        properties,
    }))
}

fn suback(r: &mut Reader, t: PacketType, v5: bool) -> Result<Body, Stop> {
    let packet_id = packet_id(r)?;
    let properties = props_if(r, v5, Owner::Packet(t))?;
    let codes = r.peek_kept(usize::MAX).to_vec();
    if codes.len() < r.left() {
        r.seek(r.pos() + codes.len());
        note_truncated(r, codes.len(), "codes");
    }
    r.seek(r.end());
    if t == PacketType::Unsuback && !v5 {
        if !codes.is_empty() {
            r.problem(format!(
                "{} bytes after the packet identifier: MQTT 5 reason codes in a 3.1.1 session?",
                codes.len()
            ));
        }
        return Ok(Body::SubAck(SubAck {
            packet_id,
            codes: Vec::new(),
            properties,
        }));
    }
    if codes.is_empty() {
        r.problem(format!("{} without any reason code", t.name()));
    }
    for &c in &codes {
        let ok = if v5 {
            allowed_v5(t, c)
        } else {
            matches!(c, 0 | 1 | 2 | 0x80)
        };
        if !ok {
            r.problem(format!("code 0x{c:02x} is not defined for {}", t.name()));
        }
    }
    Ok(Body::SubAck(SubAck {
        packet_id,
        codes,
        properties,
    }))
}

fn reason_only(r: &mut Reader, t: PacketType, v5: bool) -> Result<Body, Stop> {
    if t == PacketType::Auth && !v5 {
        r.problem("AUTH exists only in MQTT 5");
    }
    let shaped_v5 = v5 || t == PacketType::Auth;
    let mut code = 0;
    let mut properties = Vec::new();
    if shaped_v5 {
        if r.left() > 0 {
            code = reason_code(r, t)?;
        }
        if r.left() > 0 {
            properties = read_properties(r, Owner::Packet(t))?;
        }
    }
    let body = ReasonOnly {
        code,
        reason: reason_name(t, if shaped_v5 { 5 } else { 4 }, code),
        properties,
    };
    Ok(if t == PacketType::Auth {
        Body::Auth(body)
    } else {
        Body::Disconnect(body)
    })
}

fn note_truncated(r: &mut Reader, decoded: usize, what: &str) {
    let kept = r.kept_len();
    r.problem(format!(
        "packet truncated: only the first {kept} bytes of its body were kept; {decoded} {what} decoded"
    ));
    r.seek(r.end());
}

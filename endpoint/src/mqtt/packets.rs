//! MQTT 3.1.1 and 5 packets as a broker needs them: a strict reader that frames a packet and
//! reads the fields the broker acts on, and the writers for the broker's answers.
//!
//! Why not the decoder's MQTT parser: that one is lenient on purpose (it reads past a broken
//! packet to explain it) and keeps payload prefixes only; a broker must refuse what is
//! malformed and forward whole payloads. The writers build on the decoder's one encoder
//! (`iotscope_decoder::mqtt::encode`) so the bytes are the ones the decoder is tested with.

use iotscope_decoder::mqtt::encode::{self, packet, remaining_length, string};
use tokio::io::{AsyncRead, AsyncReadExt};

pub use encode::{LEVEL_311, LEVEL_5};

/// Why a packet could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The stream ended (`clean`: between packets).
    Closed {
        clean: bool,
    },
    /// The remaining length is not a valid variable byte integer.
    BadLength,
    /// The packet is larger than the limit; its declared size.
    TooLarge(usize),
    Io(std::io::Error),
}

/// Reads one packet: its first byte and body. A packet over `max` bytes in all (header
/// included, as AWS counts its 128 KB) is not read.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<(u8, Vec<u8>), ReadError> {
    let mut first = [0u8; 1];
    match r.read(&mut first).await {
        Ok(0) => return Err(ReadError::Closed { clean: true }),
        Ok(_) => {}
        // A TLS stream that ends without close_notify says so as UnexpectedEof.
        Err(e) => return Err(eof(e)),
    }
    let mut len = 0usize;
    let mut done = false;
    let mut header = 1;
    for shift in 0..4 {
        header += 1;
        let b = r.read_u8().await.map_err(eof)?;
        len |= usize::from(b & 0x7f) << (7 * shift);
        if b & 0x80 == 0 {
            done = true;
            break;
        }
    }
    if !done {
        return Err(ReadError::BadLength);
    }
    if header + len > max {
        return Err(ReadError::TooLarge(header + len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(eof)?;
    Ok((first[0], body))
}

fn eof(e: std::io::Error) -> ReadError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ReadError::Closed { clean: false }
    } else {
        ReadError::Io(e)
    }
}

/// A field that is not there or not valid: the packet is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

struct Fields<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(b: &'a [u8]) -> Fields<'a> {
        Fields { b, at: 0 }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Malformed> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or_else(|| Malformed(format!("the {what} runs past the packet")))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, Malformed> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, Malformed> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn binary(&mut self, what: &str) -> Result<&'a [u8], Malformed> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
    fn string(&mut self, what: &str) -> Result<String, Malformed> {
        let s = self.binary(what)?;
        let s =
            std::str::from_utf8(s).map_err(|_| Malformed(format!("the {what} is not UTF-8")))?;
        if s.contains('\0') {
            return Err(Malformed(format!("the {what} holds U+0000")));
        }
        Ok(s.to_string())
    }
    fn varint(&mut self, what: &str) -> Result<usize, Malformed> {
        let mut n = 0usize;
        for shift in 0..4 {
            let b = self.u8(what)?;
            n |= usize::from(b & 0x7f) << (7 * shift);
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(Malformed(format!(
            "the {what} is not a variable byte integer"
        )))
    }
    /// MQTT 5 properties: the ones the broker uses, the rest skipped by their type.
    fn properties(&mut self, what: &str) -> Result<Props, Malformed> {
        let len = self.varint(what)?;
        let end = self.at + len;
        if end > self.b.len() {
            return Err(Malformed(format!("the {what} run past the packet")));
        }
        let mut p = Props::default();
        while self.at < end {
            let id = self.varint("property identifier")?;
            match id {
                // Byte properties.
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => {
                    self.u8("property")?;
                }
                // Two-byte integers; 0x23 is the Topic Alias.
                0x13 | 0x21 | 0x22 | 0x23 => {
                    let v = self.u16("property")?;
                    if id == 0x23 {
                        p.topic_alias = Some(v);
                    }
                }
                // Four-byte integers; 0x11 is the Session Expiry Interval.
                0x02 | 0x11 | 0x18 | 0x27 => {
                    let s = self.take(4, "property")?;
                    let v = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
                    if id == 0x11 {
                        p.session_expiry = Some(v);
                    }
                }
                0x0B => {
                    self.varint("subscription identifier")?;
                    p.subscription_id = true;
                }
                // Strings and binary data.
                0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => {
                    self.binary("property")?;
                }
                // The user property: a string pair.
                0x26 => {
                    self.binary("user property")?;
                    self.binary("user property")?;
                }
                other => return Err(Malformed(format!("unknown property 0x{other:02X}"))),
            }
        }
        if self.at != end {
            return Err(Malformed(format!(
                "the {what} do not end where their length says"
            )));
        }
        Ok(p)
    }
    fn rest(&self) -> &'a [u8] {
        &self.b[self.at.min(self.b.len())..]
    }
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }
}

/// The MQTT 5 properties the broker acts on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Props {
    pub session_expiry: Option<u32>,
    pub topic_alias: Option<u16>,
    pub subscription_id: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol_name: String,
    pub level: u8,
    pub clean: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub has_password: bool,
    pub props: Props,
}

pub fn connect(body: &[u8]) -> Result<Connect, Malformed> {
    let mut f = Fields::new(body);
    let protocol_name = f.string("protocol name")?;
    let level = f.u8("protocol level")?;
    let flags = f.u8("connect flags")?;
    if flags & 0x01 != 0 {
        return Err(Malformed("the reserved connect flag is set".into()));
    }
    let keep_alive = f.u16("keep alive")?;
    let props = if level >= LEVEL_5 {
        f.properties("CONNECT properties")?
    } else {
        Props::default()
    };
    let client_id = f.string("client id")?;
    let will = if flags & 0x04 != 0 {
        if level >= LEVEL_5 {
            f.properties("will properties")?;
        }
        let topic = f.string("will topic")?;
        let payload = f.binary("will payload")?.to_vec();
        Some(Will {
            topic,
            qos: (flags >> 3) & 0x03,
            retain: flags & 0x20 != 0,
            payload,
        })
    } else {
        if flags & 0x38 != 0 {
            return Err(Malformed("will QoS or retain set without a will".into()));
        }
        None
    };
    let username = if flags & 0x80 != 0 {
        Some(f.string("user name")?)
    } else {
        None
    };
    let has_password = flags & 0x40 != 0;
    if has_password {
        f.binary("password")?;
    }
    if !f.done() {
        return Err(Malformed("bytes after the CONNECT's last field".into()));
    }
    Ok(Connect {
        protocol_name,
        level,
        clean: flags & 0x02 != 0,
        keep_alive,
        client_id,
        will,
        username,
        has_password,
        props,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: Option<u16>,
    pub props: Props,
    pub payload: Vec<u8>,
}

pub fn publish(first: u8, body: &[u8], level: u8) -> Result<Publish, Malformed> {
    let qos = (first >> 1) & 0x03;
    if qos == 3 {
        return Err(Malformed("PUBLISH with QoS 3".into()));
    }
    let mut f = Fields::new(body);
    let topic = f.string("topic name")?;
    let packet_id = if qos > 0 {
        Some(f.u16("packet identifier")?)
    } else {
        None
    };
    let props = if level >= LEVEL_5 {
        f.properties("PUBLISH properties")?
    } else {
        Props::default()
    };
    Ok(Publish {
        topic,
        qos,
        retain: first & 0x01 != 0,
        dup: first & 0x08 != 0,
        packet_id,
        props,
        payload: f.rest().to_vec(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    /// Filter and options byte (QoS in bits 0–1).
    pub filters: Vec<(String, u8)>,
    pub props: Props,
}

pub fn subscribe(first: u8, body: &[u8], level: u8) -> Result<Subscribe, Malformed> {
    if first & 0x0f != 0x02 {
        return Err(Malformed(
            "SUBSCRIBE's fixed-header flags are not 0010".into(),
        ));
    }
    let mut f = Fields::new(body);
    let packet_id = f.u16("packet identifier")?;
    let props = if level >= LEVEL_5 {
        f.properties("SUBSCRIBE properties")?
    } else {
        Props::default()
    };
    let mut filters = Vec::new();
    while !f.done() {
        let filter = f.string("topic filter")?;
        let options = f.u8("subscription options")?;
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(Malformed("SUBSCRIBE without a topic filter".into()));
    }
    Ok(Subscribe {
        packet_id,
        filters,
        props,
    })
}

pub fn unsubscribe(first: u8, body: &[u8], level: u8) -> Result<(u16, Vec<String>), Malformed> {
    if first & 0x0f != 0x02 {
        return Err(Malformed(
            "UNSUBSCRIBE's fixed-header flags are not 0010".into(),
        ));
    }
    let mut f = Fields::new(body);
    let id = f.u16("packet identifier")?;
    if level >= LEVEL_5 {
        f.properties("UNSUBSCRIBE properties")?;
    }
    let mut filters = Vec::new();
    while !f.done() {
        filters.push(f.string("topic filter")?);
    }
    if filters.is_empty() {
        return Err(Malformed("UNSUBSCRIBE without a topic filter".into()));
    }
    Ok((id, filters))
}

/// The MQTT 5 reason code of a DISCONNECT body (0 when empty).
pub fn disconnect_reason(body: &[u8]) -> u8 {
    body.first().copied().unwrap_or(0)
}

// ---- writers ----

/// What the broker says about itself in an MQTT 5 CONNACK, as AWS IoT Core lists it
/// (mqtt.md, "MQTT 5 CONNACK properties").
pub struct ConnackProps {
    /// Session Expiry Interval when it differs from what the device asked.
    pub session_expiry: Option<u32>,
    pub assigned_client_id: Option<String>,
    /// Server Keep Alive when the broker changed the device's value.
    pub server_keep_alive: Option<u16>,
}

pub fn connack(
    level: u8,
    session_present: bool,
    code: u8,
    props: Option<&ConnackProps>,
) -> Vec<u8> {
    let mut rest = vec![u8::from(session_present), code];
    if level >= LEVEL_5 {
        let mut p = Vec::new();
        if let Some(c) = props {
            if let Some(s) = c.session_expiry {
                p.push(0x11);
                p.extend_from_slice(&s.to_be_bytes());
            }
            if let Some(id) = &c.assigned_client_id {
                p.push(0x12);
                string(id.as_bytes(), &mut p);
            }
            if let Some(k) = c.server_keep_alive {
                p.push(0x13);
                p.extend_from_slice(&k.to_be_bytes());
            }
        }
        if code == 0 {
            // Receive Maximum 100 (in-flight QoS 1 per direction, quotas page), Topic Alias
            // Maximum 0 (aliases are not emulated), Maximum QoS 1, Retain Available 1,
            // Maximum Packet Size 128 KB, Wildcard Subscription Available 1, Subscription
            // Identifier Available 0.
            p.extend_from_slice(&[0x21, 0, 100]);
            p.extend_from_slice(&[0x22, 0, 0]);
            p.extend_from_slice(&[0x24, 1]);
            p.extend_from_slice(&[0x25, 1]);
            p.push(0x27);
            p.extend_from_slice(&(crate::limits::MAX_PACKET as u32).to_be_bytes());
            p.extend_from_slice(&[0x28, 1]);
            p.extend_from_slice(&[0x29, 0]);
        }
        remaining_length(p.len(), &mut rest);
        rest.extend_from_slice(&p);
    }
    packet(0x20, &rest)
}

pub fn suback(level: u8, packet_id: u16, codes: &[u8]) -> Vec<u8> {
    let mut rest = packet_id.to_be_bytes().to_vec();
    if level >= LEVEL_5 {
        rest.push(0);
    }
    rest.extend_from_slice(codes);
    packet(0x90, &rest)
}

pub fn unsuback(level: u8, packet_id: u16, n: usize) -> Vec<u8> {
    let mut rest = packet_id.to_be_bytes().to_vec();
    if level >= LEVEL_5 {
        rest.push(0);
        rest.extend(std::iter::repeat_n(0u8, n));
    }
    packet(0xb0, &rest)
}

pub use encode::puback;

pub fn pingresp() -> Vec<u8> {
    vec![0xd0, 0x00]
}

/// A server DISCONNECT: MQTT 5 only (3.1.1 has none; the server just closes).
pub fn disconnect_v5(reason: u8) -> Vec<u8> {
    packet(0xe0, &[reason, 0])
}

/// A PUBLISH to a subscriber.
pub fn publish_out(
    level: u8,
    topic: &str,
    qos: u8,
    retain: bool,
    packet_id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut rest = Vec::with_capacity(8 + topic.len() + payload.len());
    string(topic.as_bytes(), &mut rest);
    if qos > 0 {
        rest.extend_from_slice(&packet_id.to_be_bytes());
    }
    if level >= LEVEL_5 {
        rest.push(0);
    }
    rest.extend_from_slice(payload);
    packet(0x30 | (qos << 1) | u8::from(retain), &rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoders_connect_reads_back() {
        let p = encode::connect(LEVEL_5, "dev1", 60);
        let c = connect(&p[2..]).unwrap();
        assert_eq!(c.client_id, "dev1");
        assert_eq!(c.level, 5);
        assert!(c.clean);
        assert_eq!(c.keep_alive, 60);
        let p = encode::connect(LEVEL_311, "dev2", 5);
        assert_eq!(connect(&p[2..]).unwrap().client_id, "dev2");
    }

    #[test]
    fn publish_and_subscribe_read_back() {
        let p = encode::publish_qos1(LEVEL_5, 7, "a/b", b"hi");
        let x = publish(p[0], &p[2..], LEVEL_5).unwrap();
        assert_eq!(
            (x.topic.as_str(), x.qos, x.packet_id, &x.payload[..]),
            ("a/b", 1, Some(7), &b"hi"[..])
        );
        let p = encode::subscribe(LEVEL_311, 3, "a/+", 1);
        let s = subscribe(p[0], &p[2..], LEVEL_311).unwrap();
        assert_eq!(s.filters, vec![("a/+".to_string(), 1)]);
    }

    #[test]
    fn malformed_fields_are_named() {
        let e = connect(&[0, 4, b'M', b'Q']).unwrap_err();
        assert!(e.0.contains("protocol name"), "{e:?}");
        let e = publish(0x36, &[0, 1, b'a'], LEVEL_311).unwrap_err();
        assert!(e.0.contains("QoS 3"), "{e:?}");
    }
}

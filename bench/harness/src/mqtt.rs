//! Just enough MQTT 3.1.1 for a round-trip timer: CONNECT, PUBLISH QoS 1 (written by the
//! decoder's encoder), and reading the broker's CONNACK and PUBACK. A client library would add its own queueing and task hops
//! to every round trip; this writes one packet and reads one packet, so what is timed is
//! the network path and the broker.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest packet the timer accepts from a broker; it only expects CONNACK and PUBACK.
const MAX_BODY: usize = 1024;

use iotscope_decoder::mqtt::encode::{self, LEVEL_311};

/// CONNECT, MQTT 3.1.1, clean session, keep-alive 60 s.
pub fn connect(client_id: &str) -> Vec<u8> {
    encode::connect(LEVEL_311, client_id, 60)
}

/// PUBLISH with QoS 1.
pub fn publish_qos1(topic: &str, id: u16, payload: &[u8]) -> Vec<u8> {
    encode::publish_qos1(LEVEL_311, id, topic, payload)
}

/// One packet: its first byte and its body.
#[derive(Debug, PartialEq, Eq)]
pub struct Packet {
    pub first: u8,
    pub body: Vec<u8>,
}

impl Packet {
    /// The CONNACK return code, or why this is not a CONNACK.
    pub fn connack_code(&self) -> Result<u8, String> {
        match (self.first, self.body.as_slice()) {
            (0x20, [_, code]) => Ok(*code),
            _ => Err(format!("expected a CONNACK, got {self:?}")),
        }
    }

    /// The packet id of a PUBACK, or why this is not one.
    pub fn puback_id(&self) -> Result<u16, String> {
        match (self.first, self.body.as_slice()) {
            (0x40, [hi, lo, ..]) => Ok(u16::from_be_bytes([*hi, *lo])),
            _ => Err(format!("expected a PUBACK, got {self:?}")),
        }
    }
}

/// Reads one packet, refusing a malformed length or one above [`MAX_BODY`].
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<Packet, String> {
    let first = r
        .read_u8()
        .await
        .map_err(|e| format!("reading a packet: {e}"))?;
    let mut len = 0usize;
    let mut shift = 0;
    for i in 0.. {
        if i == 4 {
            return Err("remaining length longer than 4 bytes".into());
        }
        let b = r
            .read_u8()
            .await
            .map_err(|e| format!("reading the remaining length: {e}"))?;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    if len > MAX_BODY {
        return Err(format!(
            "a {len}-byte packet (type {}) where a CONNACK or PUBACK was expected",
            first >> 4
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .await
        .map_err(|e| format!("reading a {len}-byte body: {e}"))?;
    Ok(Packet { first, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Packet, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut r = bytes;
        rt.block_on(read_packet(&mut r))
    }

    #[test]
    fn connect_is_mqtt_311_with_clean_session() {
        assert_eq!(
            connect("b1"),
            b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02b1".to_vec()
        );
    }

    #[test]
    fn publish_carries_topic_id_and_payload() {
        assert_eq!(
            publish_qos1("t/x", 0x0102, b"hi"),
            b"\x32\x09\x00\x03t/x\x01\x02hi".to_vec()
        );
    }

    #[test]
    fn reads_connack_and_puback() {
        assert_eq!(read(&[0x20, 2, 0, 5]).unwrap().connack_code(), Ok(5));
        assert_eq!(
            read(&[0x40, 2, 0x12, 0x34]).unwrap().puback_id(),
            Ok(0x1234)
        );
        assert!(read(&[0x40, 2, 0x12, 0x34])
            .unwrap()
            .connack_code()
            .is_err());
        assert!(read(&[0x20, 2, 0, 0]).unwrap().puback_id().is_err());
    }

    #[test]
    fn refuses_broken_lengths_and_short_bodies() {
        let e = read(&[0x40, 0x80, 0x80, 0x80, 0x80, 0x01]).unwrap_err();
        assert!(e.contains("longer than 4 bytes"), "{e}");
        let e = read(&[0x30, 0x80, 0x80, 0x01]).unwrap_err();
        assert!(e.contains("16384-byte packet (type 3)"), "{e}");
        let e = read(&[0x40, 2, 0x12]).unwrap_err();
        assert!(e.contains("2-byte body"), "{e}");
    }
}

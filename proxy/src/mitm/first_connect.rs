//! The device's first MQTT packet, read before iotscope goes upstream when `--device-certs`
//! names files by client id: the CONNECT's client id picks the certificate.
//!
//! The bytes go through the project's own lenient MQTT decoder (a [`Session`] that sees them
//! as the device's plaintext), and are passed upstream untouched once the endpoint is reached.

use iotscope_decoder::mqtt::Body;
use iotscope_decoder::{Direction, EventKind, Identity, Input, Session, SessionConfig, Timestamp};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A CONNECT larger than this is not waited for: the device is let go without a choice.
const MAX_CONNECT: usize = 64 * 1024;

/// Reads the device's first packet; returns the bytes read (to be passed on) and the client
/// id when they hold a CONNECT.
pub async fn read<R: AsyncRead + Unpin>(device: &mut R) -> (Vec<u8>, Option<String>) {
    let mut session = Session::new(Identity::default(), SessionConfig::default());
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while bytes.len() <= MAX_CONNECT {
        let n = match device.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        bytes.extend_from_slice(chunk);
        session.feed(
            Direction::DeviceToEndpoint,
            Input::from(chunk),
            Timestamp(0),
        );
        if let Some(first) = first_packet(&session) {
            return (bytes, first);
        }
    }
    (bytes, None)
}

/// `Some(client id or None)` once the decoder has read a whole first packet.
fn first_packet(session: &Session) -> Option<Option<String>> {
    session.trace().events().find_map(|e| match &e.kind {
        EventKind::Mqtt(p) => Some(match &p.body {
            Body::Connect(c) => Some(c.client_id.clone()),
            _ => None,
        }),
        EventKind::MqttMalformed { .. } | EventKind::Undecoded { .. } => Some(None),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn id_of(bytes: &[u8]) -> Option<String> {
        let mut r = bytes;
        read(&mut r).await.1
    }

    #[tokio::test]
    async fn client_ids_of_each_version() {
        let v311 = b"\x10\x19\x00\x04MQTT\x04\x02\x00\x3c\x00\x0dthermostat-12";
        assert_eq!(id_of(v311).await.as_deref(), Some("thermostat-12"));
        let v5 = b"\x10\x1d\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x0a\x00\x0dthermostat-12";
        assert_eq!(id_of(v5).await.as_deref(), Some("thermostat-12"));
        assert_eq!(id_of(b"\x30\x02\x00\x00").await, None);
        assert_eq!(id_of(b"\x10\x05\x00\x04MQ").await, None);
    }

    #[tokio::test]
    async fn any_bytes_give_an_answer_without_panicking() {
        // A device may send anything first; every prefix of a packet, and noise, must be safe.
        let v5 = b"\x10\x1d\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x0a\x00\x0dthermostat-12";
        for end in 0..v5.len() {
            let _ = id_of(&v5[..end]).await;
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2_000 {
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(3) {
                        0x10
                    } else {
                        x as u8
                    }
                })
                .collect();
            let _ = id_of(&bytes).await;
        }
    }

    #[tokio::test]
    async fn reads_a_connect_split_across_reads_and_gives_the_bytes_back() {
        let pkt = b"\x10\x19\x00\x04MQTT\x04\x02\x00\x3c\x00\x0dthermostat-12".to_vec();
        let (mut a, mut b) = tokio::io::duplex(64);
        let sent = pkt.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in sent.chunks(5) {
                b.write_all(chunk).await.unwrap();
            }
        });
        let (bytes, id) = read(&mut a).await;
        assert_eq!(bytes, pkt);
        assert_eq!(id.as_deref(), Some("thermostat-12"));
    }
}

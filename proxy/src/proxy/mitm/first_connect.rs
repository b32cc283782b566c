//! The device's first MQTT packet, read before iotscope goes upstream when `--device-certs`
//! names files by client id: the CONNECT's client id picks the certificate.
//!
//! Only the fields up to the client id are read, leniently; the bytes themselves are passed
//! upstream untouched once the endpoint is reached.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A CONNECT larger than this is not waited for: the device is let go without a choice.
const MAX_CONNECT: usize = 64 * 1024;

/// Reads the device's first packet; returns the bytes read (to be passed on) and the client
/// id when they hold a CONNECT.
pub async fn read<R: AsyncRead + Unpin>(device: &mut R) -> (Vec<u8>, Option<String>) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match packet_len(&bytes) {
            Some(len) if bytes.len() >= len => return (bytes.clone(), client_id(&bytes)),
            Some(len) if len > MAX_CONNECT => return (bytes, None),
            _ if bytes.len() > MAX_CONNECT => return (bytes, None),
            _ => {}
        }
        match device.read(&mut buf).await {
            Ok(0) | Err(_) => return (bytes, None),
            Ok(n) => bytes.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
}

/// The remaining-length varint at `at`: (value, bytes it took).
fn varint(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for i in 0..4 {
        let byte = *b.get(at + i)?;
        v |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The whole packet's length once its fixed header is in.
fn packet_len(b: &[u8]) -> Option<usize> {
    let (len, took) = varint(b, 1)?;
    Some(1 + took + len)
}

fn string(b: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    Some((b.get(at + 2..at + 2 + len)?, at + 2 + len))
}

/// The client id of a CONNECT (3.1, 3.1.1 or 5).
fn client_id(b: &[u8]) -> Option<String> {
    if b.first()? & 0xf0 != 0x10 {
        return None;
    }
    let (_, took) = varint(b, 1)?;
    let (_, at) = string(b, 1 + took)?; // protocol name
    let level = *b.get(at)?;
    let mut at = at + 4; // level, flags, keep-alive
    if level == 5 {
        let (props, took) = varint(b, at)?;
        at += took + props;
    }
    let (id, _) = string(b, at)?;
    String::from_utf8(id.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_of_each_version() {
        let v311 = b"\x10\x19\x00\x04MQTT\x04\x02\x00\x3c\x00\x0dthermostat-12";
        assert_eq!(client_id(v311).as_deref(), Some("thermostat-12"));
        let v5 = b"\x10\x1d\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x0a\x00\x0dthermostat-12";
        assert_eq!(client_id(v5).as_deref(), Some("thermostat-12"));
        assert_eq!(client_id(b"\x30\x02\x00\x00"), None);
        assert_eq!(client_id(b"\x10\x05\x00\x04MQ"), None);
        assert_eq!(packet_len(v311), Some(27));
    }

    #[test]
    fn any_bytes_give_an_answer_without_panicking() {
        // A device may send anything first; every prefix of a packet, and noise, must be safe.
        let v5 = b"\x10\x1d\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x0a\x00\x0dthermostat-12";
        for end in 0..v5.len() {
            let _ = client_id(&v5[..end]);
            let _ = packet_len(&v5[..end]);
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
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
            let _ = client_id(&bytes);
            let _ = packet_len(&bytes);
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

//! Which end of a connection is the device.
//!
//! A SYN says it outright: its sender is the device (a SYN-ACK's sender is the endpoint).
//! A capture that starts mid-stream has no SYN, so the first bytes each side sends are read
//! (a TLS ClientHello or an MQTT CONNECT comes from the device, a ServerHello or a CONNACK
//! from the endpoint), and when they do not tell, the ports do: the MQTT and TLS server
//! ports, then a low port against an ephemeral one.

use iotscope_decoder::AppProtocol;

/// Ports where an endpoint listens: MQTT, MQTT over TLS, HTTPS (and MQTT with ALPN), and the
/// alternative HTTPS port.
pub const SERVER_PORTS: [u16; 4] = [1883, 8883, 443, 8443];

/// Who sent a payload, judged from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Device,
    Endpoint,
}

/// Recognises the opening message of either side: `None` when the bytes do not tell.
pub fn sender_by_content(payload: &[u8]) -> Option<Sender> {
    // TLS handshake record, version 3.x, first handshake message type 1 or 2.
    if let [0x16, 0x03, _, _, _, kind, ..] = payload {
        return match kind {
            1 => Some(Sender::Device),
            2 => Some(Sender::Endpoint),
            _ => None,
        };
    }
    let (&first, rest) = payload.split_first()?;
    match first {
        0x10 if is_connect(rest) => Some(Sender::Device),
        // CONNACK: MQTT 3.1.1 has exactly 2 bytes after the length; MQTT 5 adds
        // properties, but the acknowledge flags byte only ever uses bit 0.
        0x20 => match rest {
            [2, flags, _, ..] if *flags <= 1 => Some(Sender::Endpoint),
            [len, flags, _, ..] if (3..=127).contains(len) && *flags <= 1 => Some(Sender::Endpoint),
            _ => None,
        },
        _ => None,
    }
}

/// After the remaining length: protocol name "MQTT" (3.1.1, 5) or "MQIsdp" (3.1).
fn is_connect(after_type: &[u8]) -> bool {
    let mut i = 0;
    while i < 4 && after_type.get(i).is_some_and(|b| b & 0x80 != 0) {
        i += 1;
    }
    let Some(name) = after_type.get(i + 1..) else {
        return false;
    };
    name.starts_with(b"\x00\x04MQTT") || name.starts_with(b"\x00\x06MQIsdp")
}

/// `Some(true)` when the port numbers say the first address (`a`) is the device, `Some(false)`
/// when they say it is `b`, `None` when they do not tell.
pub fn device_is_a_by_ports(a: u16, b: u16) -> Option<bool> {
    let a_server = SERVER_PORTS.contains(&a);
    let b_server = SERVER_PORTS.contains(&b);
    if a_server != b_server {
        return Some(b_server);
    }
    let (low, high) = (a.min(b), a.max(b));
    if low != high && (low < 1024 || high >= 32768) {
        return Some(a == high);
    }
    None
}

/// What the endpoint's port suggests the connection speaks. A hint only: the decoder reads
/// the bytes and content wins. 8883 carries MQTT inside TLS, so the outer protocol is TLS;
/// 443 and 8443 are TLS whatever they carry.
pub fn hint_for_port(endpoint_port: u16) -> Option<AppProtocol> {
    match endpoint_port {
        1883 => Some(AppProtocol::Mqtt),
        8883 | 443 | 8443 => Some(AppProtocol::Tls),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content() {
        assert_eq!(
            sender_by_content(&[0x16, 3, 1, 0, 200, 1, 0]),
            Some(Sender::Device)
        );
        assert_eq!(
            sender_by_content(&[0x16, 3, 3, 0, 90, 2, 0]),
            Some(Sender::Endpoint)
        );
        assert_eq!(sender_by_content(&[0x17, 3, 3, 0, 90, 2, 0]), None);
        assert_eq!(
            sender_by_content(b"\x10\x1a\x00\x04MQTT\x04\x02"),
            Some(Sender::Device)
        );
        assert_eq!(
            sender_by_content(b"\x10\x80\x01\x00\x06MQIsdp"),
            Some(Sender::Device)
        );
        assert_eq!(sender_by_content(b"\x10\x1a\x00\x04MQTX"), None);
        assert_eq!(sender_by_content(&[0x20, 2, 0, 0]), Some(Sender::Endpoint));
        assert_eq!(
            sender_by_content(&[0x20, 0x2f, 0, 0, 0x22]),
            Some(Sender::Endpoint)
        );
        assert_eq!(sender_by_content(&[0x20]), None);
        assert_eq!(sender_by_content(&[]), None);
    }

    #[test]
    fn ports() {
        assert_eq!(device_is_a_by_ports(51000, 8883), Some(true));
        assert_eq!(device_is_a_by_ports(1883, 33896), Some(false));
        assert_eq!(device_is_a_by_ports(80, 50000), Some(false));
        assert_eq!(device_is_a_by_ports(40000, 5000), Some(true));
        assert_eq!(device_is_a_by_ports(2000, 3000), None);
        assert_eq!(device_is_a_by_ports(8883, 443), Some(true));
        assert_eq!(device_is_a_by_ports(8883, 8883), None);
        assert_eq!(hint_for_port(8883), Some(AppProtocol::Tls));
        assert_eq!(hint_for_port(1883), Some(AppProtocol::Mqtt));
        assert_eq!(hint_for_port(9000), None);
    }
}

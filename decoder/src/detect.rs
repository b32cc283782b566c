//! Classifies the first bytes of a stream: TLS, MQTT, HTTP or something else.
//!
//! Content decides, not the port: devices and test benches put MQTT and TLS on any port.
//! A port is only a hint for captures that start in the middle of a connection.

use crate::event::AppProtocol;

/// How many bytes [`classify`] wants before it gives up waiting for more.
pub const WANT: usize = 12;

/// `Some(protocol)` when the bytes are enough to decide, `None` when more are needed
/// (fewer than [`WANT`] bytes and nothing decisive yet). With `final_call` set the answer is
/// always `Some`.
pub fn classify(bytes: &[u8], hint: Option<AppProtocol>, final_call: bool) -> Option<AppProtocol> {
    if bytes.is_empty() {
        return if final_call {
            Some(AppProtocol::Unknown)
        } else {
            None
        };
    }
    if looks_like_tls(bytes) {
        // One or two bytes cannot tell a record header (type, then 3, then 0–4) from data
        // that starts with 20–24: wait for the third unless nothing more will come.
        if bytes.len() < 3 && !final_call {
            return None;
        }
        return Some(AppProtocol::Tls);
    }
    if looks_like_http(bytes) {
        return Some(AppProtocol::Http);
    }
    match mqtt_connect_signature(bytes) {
        Signature::Yes => return Some(AppProtocol::Mqtt),
        Signature::NeedMore if !final_call && bytes.len() < WANT => return None,
        _ => {}
    }
    if hint == Some(AppProtocol::Mqtt) && plausible_mqtt_header(bytes) {
        return Some(AppProtocol::Mqtt);
    }
    if !final_call && bytes.len() < WANT && (bytes.len() < 3 || prefix_of_http_method(bytes)) {
        return None;
    }
    Some(AppProtocol::Unknown)
}

/// A TLS record header: a known content type, major version 3, minor version 0–4.
pub fn looks_like_tls(b: &[u8]) -> bool {
    match b {
        [t, rest @ ..] if (20..=24).contains(t) => match rest {
            [] => true,
            [3] => true,
            [3, minor, ..] => *minor <= 4,
            _ => false,
        },
        _ => false,
    }
}

const METHODS: [&str; 9] = [
    "GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "HTTP/1.",
];

fn looks_like_http(b: &[u8]) -> bool {
    METHODS.iter().any(|m| b.starts_with(m.as_bytes()))
}

fn prefix_of_http_method(b: &[u8]) -> bool {
    METHODS.iter().any(|m| m.as_bytes().starts_with(b))
}

enum Signature {
    Yes,
    No,
    NeedMore,
}

/// A CONNECT fixed header followed by the protocol name "MQTT" or "MQIsdp".
fn mqtt_connect_signature(b: &[u8]) -> Signature {
    if b[0] != 0x10 {
        return Signature::No;
    }
    // remaining length: 1–4 bytes, high bit continues
    let mut i = 1;
    while i < b.len() && i <= 4 && b[i] & 0x80 != 0 {
        i += 1;
    }
    if i >= b.len() {
        return Signature::NeedMore;
    }
    let name = &b[i + 1..];
    for want in [&b"\x00\x04MQTT"[..], &b"\x00\x06MQIsdp"[..]] {
        let n = name.len().min(want.len());
        if name[..n] == want[..n] {
            return if n == want.len() {
                Signature::Yes
            } else {
                Signature::NeedMore
            };
        }
    }
    Signature::No
}

/// A fixed header that could start an MQTT packet other than CONNECT: for captures that
/// begin mid-stream on an MQTT port.
fn plausible_mqtt_header(b: &[u8]) -> bool {
    let t = b[0] >> 4;
    let flags = b[0] & 0x0f;
    let flags_ok = match t {
        3 => (flags >> 1) & 3 != 3,
        6 | 8 | 10 => flags == 2,
        1..=14 => flags == 0,
        _ => false,
    };
    flags_ok && b.len() >= 2
}

/// An endpoint's first MQTT answer, read strictly enough to stand without the device's side:
/// a CONNACK (3.1.1: flags 0–1 and return code 0–5; MQTT 5: a reason code and a property
/// length that fills the packet), a SUBACK (a packet id and return codes MQTT defines) or a
/// PUBACK (a packet id, and in MQTT 5 a reason code). For a device side that was not
/// captured or not decrypted, where no CONNECT says the connection is MQTT.
pub fn looks_like_mqtt_answer(b: &[u8]) -> bool {
    if b.len() < 4 || b[1] & 0x80 != 0 {
        return false;
    }
    let len = usize::from(b[1]);
    let body = &b[2..b.len().min(2 + len)];
    let whole = body.len() == len;
    let v5_reason = |c: u8| c == 0 || (0x80..=0xa2).contains(&c);
    match b[0] {
        0x20 if len == 2 => body[0] <= 1 && body[1] <= 5,
        0x20 if len >= 3 => {
            body[0] <= 1 && v5_reason(body[1]) && (!whole || usize::from(body[2]) + 3 == len)
        }
        0x90 if len >= 3 => {
            body[..2] != [0, 0]
                && body[2..]
                    .iter()
                    .all(|&c| c <= 2 || c == 0x80 || v5_reason(c))
        }
        0x40 if len == 2 => body[..2] != [0, 0],
        0x40 if len >= 3 => {
            body[..2] != [0, 0] && (body.len() < 3 || v5_reason(body[2]) || body[2] == 0x10)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_mqtt_http_unknown() {
        assert_eq!(
            classify(&[0x16, 3, 1, 0, 200], None, false),
            Some(AppProtocol::Tls)
        );
        let connect = b"\x10\x1a\x00\x04MQTT\x04\x02\x00\x3c";
        assert_eq!(classify(connect, None, false), Some(AppProtocol::Mqtt));
        let v31 = b"\x10\x1a\x00\x06MQIsdp\x03";
        assert_eq!(classify(v31, None, false), Some(AppProtocol::Mqtt));
        assert_eq!(
            classify(b"GET / HTTP/1.1\r\n", None, false),
            Some(AppProtocol::Http)
        );
        assert_eq!(
            classify(b"POST /topics/x", None, false),
            Some(AppProtocol::Http)
        );
        assert_eq!(
            classify(b"SSH-2.0-OpenSSH_9.2", None, false),
            Some(AppProtocol::Unknown)
        );
    }

    #[test]
    fn a_record_header_needs_three_bytes() {
        assert_eq!(classify(&[0x14], None, false), None);
        assert_eq!(classify(&[0x16, 3], None, false), None);
        assert_eq!(classify(&[0x16, 3, 3], None, false), Some(AppProtocol::Tls));
        assert_eq!(
            classify(&[0x14, 0, 0], None, false),
            Some(AppProtocol::Unknown)
        );
        assert_eq!(classify(&[0x16], None, true), Some(AppProtocol::Tls));
    }

    #[test]
    fn waits_for_enough_bytes() {
        assert_eq!(classify(b"\x10\x1a\x00", None, false), None);
        assert_eq!(classify(b"PO", None, false), None);
        assert_eq!(
            classify(b"\x10\x1a\x00", None, true),
            Some(AppProtocol::Unknown)
        );
        assert_eq!(classify(b"", None, false), None);
    }

    #[test]
    fn endpoint_answers_are_read_strictly() {
        // CONNACK 3.1.1 accepted and refused, CONNACK 5 with properties, SUBACK, PUBACK.
        assert!(looks_like_mqtt_answer(b"\x20\x02\x00\x00"));
        assert!(looks_like_mqtt_answer(b"\x20\x02\x01\x05"));
        assert!(looks_like_mqtt_answer(b"\x20\x06\x00\x00\x03\x22\x00\x0a"));
        assert!(looks_like_mqtt_answer(b"\x90\x03\x00\x01\x01"));
        assert!(looks_like_mqtt_answer(b"\x40\x02\x00\x07"));
        // Look-alikes: a return code MQTT 3.1.1 does not have, a packet id 0, a property
        // length that does not fill the CONNACK, an SSH banner, "000" text, an MQTT
        // request rather than an answer.
        assert!(!looks_like_mqtt_answer(b"\x20\x02\x00\x06"));
        assert!(!looks_like_mqtt_answer(b"\x40\x02\x00\x00"));
        assert!(!looks_like_mqtt_answer(b"\x20\x06\x00\x00\x09\x22\x00\x0a"));
        assert!(!looks_like_mqtt_answer(b"SSH-2.0-OpenSSH"));
        assert!(!looks_like_mqtt_answer(b"000"));
        assert!(!looks_like_mqtt_answer(b"\x30\x0b\x00\x06topicXhello"));
        assert!(!looks_like_mqtt_answer(b"\x20\x02\x00"));
    }

    #[test]
    fn hint_allows_mid_stream_mqtt() {
        let publish = b"\x30\x0b\x00\x06topicXhello";
        assert_eq!(classify(publish, None, false), Some(AppProtocol::Unknown));
        assert_eq!(
            classify(publish, Some(AppProtocol::Mqtt), false),
            Some(AppProtocol::Mqtt)
        );
    }
}

//! MQTT control packets written out: the one encoder of the workspace.
//!
//! iotscope speaks MQTT itself in a few places (the probe's CONNECT / SUBSCRIBE / PUBLISH, the
//! benchmark harness's round-trip timer, test peers that play a device or an endpoint, the
//! decoder's own tests), always the same small set of packets in 3.1.1 (level 4) and 5. They
//! are written here once, next to the decoder that reads them back, so that a packet the
//! tools send is one the decoder is tested against.
//!
//! Strings longer than an MQTT string may be (65,535 bytes) are cut rather than mis-framed:
//! callers that take user input check lengths first and say what was wrong.

/// The protocol level of MQTT 3.1.1.
pub const LEVEL_311: u8 = 4;
/// The protocol level of MQTT 5.
pub const LEVEL_5: u8 = 5;

/// The longest MQTT string, in bytes.
pub const MAX_STRING: usize = u16::MAX as usize;

/// Appends `n` as a variable byte integer (the remaining length, a property length).
pub fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return;
        }
    }
}

/// Appends an MQTT string or binary field: a two-byte length, then the bytes.
pub fn string(s: &[u8], out: &mut Vec<u8>) {
    let s = s.get(..MAX_STRING).unwrap_or(s);
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// A whole packet: the first byte (type and flags), the remaining length, the rest.
pub fn packet(first: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rest.len() + 5);
    out.push(first);
    remaining_length(rest.len(), &mut out);
    out.extend_from_slice(rest);
    out
}

/// The empty property list MQTT 5 puts where 3.1.1 has nothing.
fn no_properties(level: u8, out: &mut Vec<u8>) {
    if level >= LEVEL_5 {
        out.push(0);
    }
}

/// CONNECT with a clean session (3.1.1) or clean start (5), no user name, password or will.
pub fn connect(level: u8, client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut rest = Vec::with_capacity(16 + client_id.len());
    string(b"MQTT", &mut rest);
    rest.push(level);
    rest.push(0x02); // clean session / clean start
    rest.extend_from_slice(&keep_alive.to_be_bytes());
    no_properties(level, &mut rest);
    string(client_id.as_bytes(), &mut rest);
    packet(0x10, &rest)
}

/// CONNACK without a present session: `code` is the 3.1.1 return code or the MQTT 5 reason.
pub fn connack(level: u8, code: u8) -> Vec<u8> {
    let mut rest = vec![0, code];
    no_properties(level, &mut rest);
    packet(0x20, &rest)
}

/// SUBSCRIBE to one filter with the given maximum QoS.
pub fn subscribe(level: u8, packet_id: u16, filter: &str, qos: u8) -> Vec<u8> {
    let mut rest = Vec::with_capacity(8 + filter.len());
    rest.extend_from_slice(&packet_id.to_be_bytes());
    no_properties(level, &mut rest);
    string(filter.as_bytes(), &mut rest);
    rest.push(qos & 0x03);
    // The fixed header's flags of SUBSCRIBE are 0b0010 by rule.
    packet(0x82, &rest)
}

/// SUBACK for one filter: the granted QoS, or a failure / reason code.
pub fn suback(level: u8, packet_id: u16, code: u8) -> Vec<u8> {
    let mut rest = packet_id.to_be_bytes().to_vec();
    no_properties(level, &mut rest);
    rest.push(code);
    packet(0x90, &rest)
}

/// PUBLISH at QoS 1, neither DUP nor RETAIN, with MQTT 5 `properties` (the encoded list,
/// without its length; ignored for 3.1.1).
pub fn publish_qos1_with(
    level: u8,
    packet_id: u16,
    topic: &str,
    properties: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut rest = Vec::with_capacity(8 + topic.len() + properties.len() + payload.len());
    string(topic.as_bytes(), &mut rest);
    rest.extend_from_slice(&packet_id.to_be_bytes());
    if level >= LEVEL_5 {
        remaining_length(properties.len(), &mut rest);
        rest.extend_from_slice(properties);
    }
    rest.extend_from_slice(payload);
    packet(0x32, &rest)
}

/// PUBLISH at QoS 1, neither DUP nor RETAIN, without properties.
pub fn publish_qos1(level: u8, packet_id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    publish_qos1_with(level, packet_id, topic, &[], payload)
}

/// PUBACK; MQTT 5 carries the reason `code` and an empty property list, 3.1.1 no code.
pub fn puback(level: u8, packet_id: u16, code: u8) -> Vec<u8> {
    let mut rest = packet_id.to_be_bytes().to_vec();
    if level >= LEVEL_5 {
        rest.extend_from_slice(&[code, 0]);
    }
    packet(0x40, &rest)
}

/// PUBACK in MQTT 5 with the reason code and no property list at all (the short form).
pub fn puback_v5_short(packet_id: u16, code: u8) -> Vec<u8> {
    let mut rest = packet_id.to_be_bytes().to_vec();
    rest.push(code);
    packet(0x40, &rest)
}

/// DISCONNECT: no body in 3.1.1; in MQTT 5 an empty body means reason 0x00, normal.
pub fn disconnect() -> Vec<u8> {
    vec![0xe0, 0x00]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Body;
    use crate::{Direction, EventKind, Identity, Session, SessionConfig, Timestamp};

    /// Each packet written here, read back by the decoder.
    fn read_back(level: u8, packets: &[(Direction, Vec<u8>)]) -> Vec<Body> {
        // Plain MQTT on a port that is not known for it: the hint lets the endpoint's side be
        // read as MQTT too.
        let config = SessionConfig {
            hint: Some(crate::AppProtocol::Mqtt),
            ..SessionConfig::default()
        };
        let mut s = Session::new(Identity::default(), config);
        for (dir, p) in packets {
            s.feed(*dir, p, Timestamp::default());
        }
        let trace = s.finish();
        let bodies: Vec<Body> = trace
            .events()
            .filter_map(|e| match &e.kind {
                EventKind::Mqtt(p) => Some(p.body.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies.len(), packets.len(), "level {level}: {bodies:?}");
        bodies
    }

    #[test]
    fn every_packet_reads_back_with_its_fields() {
        use Direction::*;
        for level in [LEVEL_311, LEVEL_5] {
            let bodies = read_back(
                level,
                &[
                    (DeviceToEndpoint, connect(level, "dev-1", 30)),
                    (EndpointToDevice, connack(level, 0)),
                    (DeviceToEndpoint, subscribe(level, 7, "devices/+/cmd", 1)),
                    (EndpointToDevice, suback(level, 7, 1)),
                    (
                        DeviceToEndpoint,
                        publish_qos1(level, 8, "devices/dev-1/t", b"{}"),
                    ),
                    (EndpointToDevice, puback(level, 8, 0)),
                    (DeviceToEndpoint, disconnect()),
                ],
            );
            match &bodies[0] {
                Body::Connect(c) => {
                    assert_eq!(c.client_id, "dev-1");
                    assert_eq!(c.protocol_level, level);
                    assert_eq!(c.keep_alive, 30);
                }
                other => panic!("{other:?}"),
            }
            match &bodies[4] {
                Body::Publish(p) => {
                    assert_eq!(p.topic, "devices/dev-1/t");
                    assert_eq!(p.packet_id, Some(8));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn remaining_lengths_at_each_width() {
        for (n, want) in [
            (0usize, vec![0x00]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (16_383, vec![0xff, 0x7f]),
            (16_384, vec![0x80, 0x80, 0x01]),
            (268_435_455, vec![0xff, 0xff, 0xff, 0x7f]),
        ] {
            let mut out = Vec::new();
            remaining_length(n, &mut out);
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn an_overlong_string_is_cut_not_misframed() {
        let mut out = Vec::new();
        string(&vec![b'a'; MAX_STRING + 10], &mut out);
        assert_eq!(out.len(), 2 + MAX_STRING);
        assert_eq!(&out[..2], &[0xff, 0xff]);
    }
}

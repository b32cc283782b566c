//! MQTT for peers that play a device or an endpoint in the tests: the packets the tests
//! exchange, in 3.1.1 (level 4) and 5, written by the decoder's encoder, and a reader.

use std::io::{Read, Write};

use iotscope_decoder::mqtt::encode;

pub use encode::{connack, disconnect, puback, suback};

/// CONNECT with a clean session and keep-alive 60.
pub fn connect(level: u8, client_id: &str) -> Vec<u8> {
    encode::connect(level, client_id, 60)
}

/// SUBSCRIBE to one filter at QoS 1.
pub fn subscribe(level: u8, id: u16, filter: &str) -> Vec<u8> {
    encode::subscribe(level, id, filter, 1)
}

/// PUBLISH at QoS 1.
pub fn publish(level: u8, id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    encode::publish_qos1(level, id, topic, payload)
}

/// Reads one packet: its first byte and its body.
pub fn read(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first)?;
    let mut len = 0usize;
    for shift in 0..4 {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        len |= usize::from(b[0] & 0x7f) << (7 * shift);
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((first[0], body))
}

pub fn send(w: &mut impl Write, p: &[u8]) -> std::io::Result<()> {
    w.write_all(p)?;
    w.flush()
}

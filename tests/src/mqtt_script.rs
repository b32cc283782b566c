//! MQTT control packets by hand, for peers that play a device or an endpoint in the tests:
//! just the packets the tests exchange, in 3.1.1 (level 4) and 5.

use std::io::{Read, Write};

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        p.push(b);
        if len == 0 {
            break;
        }
    }
    p.extend_from_slice(body);
    p
}

fn string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

pub fn connect(level: u8, client_id: &str) -> Vec<u8> {
    let mut b = string("MQTT");
    b.extend_from_slice(&[level, 0x02, 0x00, 0x3c]);
    if level == 5 {
        b.push(0);
    }
    b.extend(string(client_id));
    packet(0x10, &b)
}

pub fn connack(level: u8, code: u8) -> Vec<u8> {
    if level == 5 {
        packet(0x20, &[0, code, 0])
    } else {
        packet(0x20, &[0, code])
    }
}

pub fn subscribe(level: u8, id: u16, filter: &str) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    if level == 5 {
        b.push(0);
    }
    b.extend(string(filter));
    b.push(1);
    packet(0x82, &b)
}

pub fn suback(level: u8, id: u16, code: u8) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    if level == 5 {
        b.push(0);
    }
    b.push(code);
    packet(0x90, &b)
}

pub fn publish(level: u8, id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = string(topic);
    b.extend_from_slice(&id.to_be_bytes());
    if level == 5 {
        b.push(0);
    }
    b.extend_from_slice(payload);
    packet(0x32, &b)
}

pub fn puback(level: u8, id: u16, code: u8) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    if level == 5 {
        b.extend_from_slice(&[code, 0]);
    }
    packet(0x40, &b)
}

pub fn disconnect() -> Vec<u8> {
    vec![0xe0, 0x00]
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

//! MQTT packet framing in the feeder, so that a plain MQTT connection's large payloads cost
//! its decoder a count instead of a copy.
//!
//! Why: the MQTT decoder keeps of a PUBLISH only its header fields and the first bytes of its
//! payload, and counts the rest (see `iotscope_decoder::mqtt`). Copying a payload of
//! megabytes for that is what made plain MQTT at full speed outrun the decoder's queue: most
//! of the stream became a gap, the packet boundaries after it were lost, and the connection
//! ended `CONN.TRUNCATED`. The decoder's own answer to "how far ahead do you only count"
//! comes too late for a relay that runs ahead of it, so the feeder frames the packets itself
//! (the fixed header's remaining length frames every packet) and asks the decoder's rule,
//! [`read_len`], how much of each body to copy.
//!
//! Nothing here decides what the decoder sees as a fact: the counts go on as
//! [`Input::Unread`](iotscope_decoder::Input::Unread), and the session counts those bytes
//! only where it would not have read them; anywhere else they are a gap. So a stream this
//! frames wrongly (it is not MQTT after all) loses efficiency, never truth. A remaining length
//! longer than four bytes ends the framing: from there every byte is copied.

use iotscope_decoder::mqtt::read_len;

/// One stretch of a read, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Span {
    /// Bytes the decoder reads: copied.
    Copy(usize),
    /// Bytes the decoder only counts: handed on as their number.
    Count(usize),
}

#[derive(Debug)]
enum State {
    Header,
    Body,
    /// Framing lost: every byte is copied.
    Off,
}

/// One direction's packet framing.
#[derive(Debug)]
pub struct PacketFramer {
    state: State,
    head: [u8; 5],
    head_len: usize,
    first: u8,
    remaining: u32,
    /// Body bytes of the current packet passed so far, copied or counted.
    passed: usize,
    /// The copied start of the current body, which [`read_len`] looks at (a PUBLISH's topic
    /// length and MQTT 5 property length); at most what the decoder keeps.
    copied: Vec<u8>,
    /// The protocol level of the CONNECT this direction sent (the device's); unknown on the
    /// endpoint's side, where both readings are allowed for.
    level: Option<u8>,
}

impl Default for PacketFramer {
    fn default() -> Self {
        PacketFramer::new()
    }
}

/// Does a direction whose first byte is `b` start like MQTT: a CONNECT from the device, a
/// CONNACK from the endpoint?
pub fn starts_mqtt(b: u8) -> bool {
    b == 0x10 || b == 0x20
}

impl PacketFramer {
    pub fn new() -> PacketFramer {
        PacketFramer {
            state: State::Header,
            head: [0; 5],
            head_len: 0,
            first: 0,
            remaining: 0,
            passed: 0,
            copied: Vec::new(),
            level: None,
        }
    }

    /// Splits one read into stretches to copy and to count, appended to `out` (adjacent
    /// stretches of a kind are joined).
    pub fn split(&mut self, bytes: &[u8], out: &mut Vec<Span>) {
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            match self.state {
                State::Off => {
                    push(out, Span::Copy(rest.len()));
                    i = bytes.len();
                }
                State::Header => {
                    let b = rest[0];
                    self.head[self.head_len] = b;
                    self.head_len += 1;
                    i += 1;
                    push(out, Span::Copy(1));
                    if self.head_len < 2 || (b & 0x80 != 0 && self.head_len < 5) {
                        continue;
                    }
                    if b & 0x80 != 0 {
                        self.state = State::Off;
                        continue;
                    }
                    self.first = self.head[0];
                    self.remaining = self.head[1..self.head_len]
                        .iter()
                        .enumerate()
                        .fold(0u32, |acc, (k, b)| acc | u32::from(b & 0x7f) << (7 * k));
                    self.head_len = 0;
                    self.passed = 0;
                    self.copied.clear();
                    self.state = State::Body;
                    if self.remaining == 0 {
                        self.end_packet();
                    }
                }
                State::Body => {
                    let total = self.remaining as usize;
                    let mut used = 0;
                    // The decoder's own loop: what it keeps may grow as the first bytes show
                    // the topic's length and the property length.
                    loop {
                        let want = read_len(self.first, self.remaining, &self.copied, self.level);
                        let room = want
                            .saturating_sub(self.copied.len())
                            .min(rest.len() - used);
                        if room == 0 {
                            break;
                        }
                        self.copied.extend_from_slice(&rest[used..used + room]);
                        used += room;
                    }
                    if used > 0 {
                        push(out, Span::Copy(used));
                    }
                    self.passed += used;
                    let count = (total - self.passed.min(total)).min(rest.len() - used);
                    if count > 0 {
                        push(out, Span::Count(count));
                    }
                    self.passed += count;
                    i += used + count;
                    if self.passed >= total {
                        self.end_packet();
                    }
                }
            }
        }
    }

    fn end_packet(&mut self) {
        if self.first >> 4 == 1 && self.level.is_none() {
            // CONNECT: protocol name (a length and the name), then the level.
            if let [a, b, rest @ ..] = self.copied.as_slice() {
                let name = usize::from(u16::from_be_bytes([*a, *b]));
                self.level = rest.get(name).copied();
            }
        }
        self.state = State::Header;
        self.copied.clear();
        // A large topic's buffer is given back rather than held for the connection's life.
        if self.copied.capacity() > 1024 {
            self.copied = Vec::new();
        }
    }
}

fn push(out: &mut Vec<Span>, span: Span) {
    match (out.last_mut(), span) {
        (Some(Span::Copy(a)), Span::Copy(b)) => *a += b,
        (Some(Span::Count(a)), Span::Count(b)) => *a += b,
        (_, span) => out.push(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::mqtt::{encode, PAYLOAD_PREFIX};

    fn spans(stream: &[u8], read: usize) -> Vec<Span> {
        let mut f = PacketFramer::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(read) {
            f.split(chunk, &mut out);
        }
        out
    }

    #[test]
    fn a_large_payload_is_counted_past_what_the_decoder_keeps() {
        let connect = encode::connect(4, "c1", 60);
        let payload = vec![b'x'; 200_000];
        let publish = encode::publish_qos1(4, 7, "bulk/blob", &payload);
        let disconnect = [0xe0, 0];
        let mut stream = connect.clone();
        stream.extend(&publish);
        stream.extend(disconnect);
        // fixed header 4 bytes (200,013 needs three length bytes), topic 2 + 9, packet id 2
        let kept = 4 + 2 + 9 + 2 + PAYLOAD_PREFIX;
        for read in [1, 7, 1000, 64 * 1024, usize::MAX] {
            assert_eq!(
                spans(&stream, read),
                [
                    Span::Copy(connect.len() + kept),
                    Span::Count(publish.len() - kept),
                    Span::Copy(2),
                ],
                "reads of {read}"
            );
        }
        // Without the CONNECT (the endpoint's side) the level is unknown: MQTT 5 would read
        // the payload's first byte as a property length (here 'x', 120), so that much more is
        // copied.
        let mut stream = publish.clone();
        stream.extend(disconnect);
        let copied = kept + 1 + usize::from(b'x');
        assert_eq!(
            spans(&stream, 1000),
            [
                Span::Copy(copied),
                Span::Count(publish.len() - copied),
                Span::Copy(2)
            ]
        );
    }

    #[test]
    fn a_broken_length_ends_the_framing() {
        let stream = [0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3];
        assert_eq!(spans(&stream, 2), [Span::Copy(stream.len())]);
    }
}

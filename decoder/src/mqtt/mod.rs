//! MQTT 3.1, 3.1.1 and 5: a lenient stream decoder for both directions of one connection.
//!
//! Why our own decoder rather than an MQTT codec crate: a codec exists to talk MQTT, so it
//! stops at the first byte that breaks the spec. An inspector exists to say *what* broke it
//! (reserved flag bits, QoS 3, a property a 3.1.1 session cannot have, a length that runs
//! past the packet) and then keep reading, because the packets after a bad one often hold
//! the diagnosis. A codec also wants a whole packet in memory, and a PUBLISH may be hundreds
//! of megabytes: here a payload is never buffered whole, only its length and first
//! [`PAYLOAD_PREFIX`] bytes are kept. Finally, the two directions of a connection are not
//! independent: the protocol level in the device's CONNECT decides how both directions are
//! read (MQTT 5 adds properties and reason codes to most packets).
//!
//! Which level a connection is read with:
//! - the level of the CONNECT once one is seen (3, 4 and 5); any other level is noted as a
//!   problem and the connection is read as 3.1.1, the way a 3.1.1 broker refuses it
//!   (CONNACK return code 1), unless the answer only fits MQTT 5 (as below: a 5 broker
//!   refuses with a 3-byte CONNACK, reason 0x84);
//! - before any CONNECT (a capture that starts mid-stream): 3.1.1, until a packet arrives
//!   whose length 3.1.1 forbids but MQTT 5 explains cleanly — a CONNACK longer than 2
//!   bytes, a PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK longer than 2, a DISCONNECT with a
//!   body, or an AUTH. From then on both directions are read as MQTT 5 (a `Note` says so).
//!
//! Framing: the fixed header's remaining length frames every packet, so a packet whose body
//! cannot be read is reported as `MqttMalformed` and the next packet is read normally. A
//! remaining length that is not a valid variable byte integer breaks the framing itself:
//! that direction stops and its further bytes are counted as `Undecoded`. After a capture
//! gap the decoder keeps its place when the lost bytes fall inside a body it was skipping
//! anyway (a large payload); otherwise it looks for two consecutive well-formed packets
//! before it trusts a boundary again.
//!
//! Module layout: this file frames the streams; `decode` reads packet bodies, `properties`
//! and `reason` hold the MQTT 5 tables, `checks` the rules on flags and topics, `reader`
//! the bounds-checked field reader, and `packet` the types the trace carries.

mod checks;
mod decode;
pub mod encode;
pub mod packet;
mod properties;
mod reader;
mod reason;
mod resync;

#[cfg(test)]
mod tests_checks;
#[cfg(test)]
mod tests_packets;
#[cfg(test)]
mod tests_stream;

pub use packet::*;
pub use properties::property_name;
pub use reason::reason_name;

use crate::emit::Emit;
use crate::event::EventKind;
use decode::{Context, Frame};

/// How much of a PUBLISH payload the trace keeps.
pub const PAYLOAD_PREFIX: usize = 64;

/// The most body bytes kept for any packet; a larger SUBSCRIBE is decoded from its first
/// part and marked truncated. (A PUBLISH keeps its header fields and payload prefix only.)
pub const MAX_KEPT: usize = 64 * 1024;

/// MQTT state of one connection, both directions.
pub struct MqttConn {
    reveal_passwords: bool,
    /// The level the device's CONNECT asked for.
    connect_level: Option<u8>,
    /// The level both directions are read with: 3, 4 or 5.
    reading: u8,
    /// Set once the reading level is known rather than assumed.
    settled: bool,
    dirs: [DirState; 2],
}

impl Default for MqttConn {
    fn default() -> Self {
        MqttConn::new(false)
    }
}

#[derive(Default)]
struct DirState {
    /// Stream offset of the next byte.
    offset: u64,
    mode: Mode,
    /// The fixed header being collected (at most 5 bytes).
    head: Vec<u8>,
    /// The kept part of the current body.
    body: Vec<u8>,
    resync: resync::Resync,
}

#[derive(Default, Clone, Copy)]
enum Mode {
    /// Between packets, or inside a fixed header.
    #[default]
    Header,
    /// Inside a packet body.
    Body(Pending),
    /// After a gap: looking for a packet boundary.
    Resync,
    /// Framing lost for good: further bytes are counted as undecoded.
    Stopped,
}

#[derive(Clone, Copy)]
struct Pending {
    first: u8,
    remaining_length: u32,
    header_len: usize,
    /// Stream offset of the packet's first byte.
    start: u64,
    /// Body bytes received so far, kept or skipped.
    seen: usize,
    /// Body bytes lost in capture gaps that fell inside the skipped part.
    lost: u64,
}

impl Pending {
    fn packet_type(&self) -> PacketType {
        PacketType::from_nibble(self.first >> 4)
    }
}

impl MqttConn {
    pub fn new(reveal_passwords: bool) -> MqttConn {
        MqttConn {
            reveal_passwords,
            connect_level: None,
            reading: 4,
            settled: false,
            dirs: Default::default(),
        }
    }

    /// Bytes in direction `out.dir`, in any pieces.
    pub fn push(&mut self, bytes: &[u8], out: &mut Emit) {
        let d = out.dir.index();
        let mut input = bytes;
        while !input.is_empty() {
            match self.dirs[d].mode {
                Mode::Header => input = self.header_bytes(input, out),
                Mode::Body(p) => input = self.body_bytes(p, input, out),
                Mode::Resync => {
                    let level = self.reading;
                    let ds = &mut self.dirs[d];
                    let (used, found) = ds.resync.push(input, level, false, out);
                    ds.offset += used as u64;
                    input = &input[used..];
                    if let Some(held) = found {
                        ds.mode = Mode::Header;
                        // the held bytes start at the boundary that was found
                        ds.offset -= held.len() as u64;
                        self.push(&held, out);
                    }
                }
                Mode::Stopped => {
                    self.dirs[d].offset += input.len() as u64;
                    out.undecoded(input.len() as u64, input);
                    input = &[];
                }
            }
        }
    }

    /// Collects fixed-header bytes; returns the input not used.
    fn header_bytes<'b>(&mut self, input: &'b [u8], out: &mut Emit) -> &'b [u8] {
        let d = out.dir.index();
        let ds = &mut self.dirs[d];
        let mut used = 0;
        for &b in input {
            ds.head.push(b);
            used += 1;
            if ds.head.len() < 2 || b & 0x80 != 0 && ds.head.len() < 5 {
                continue;
            }
            let start = ds.offset;
            ds.offset += ds.head.len() as u64;
            if b & 0x80 != 0 {
                let t = PacketType::from_nibble(ds.head[0] >> 4).name();
                out.emit(EventKind::MqttMalformed {
                    offset: start,
                    reason: format!(
                        "{t}: remaining length at byte {} is longer than 4 bytes; the rest of this direction is not decoded",
                        start + 1
                    ).into(),
                });
                ds.head.clear();
                ds.mode = Mode::Stopped;
                return &input[used..];
            }
            let remaining_length = ds.head[1..]
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | u32::from(b & 0x7f) << (7 * i));
            let p = Pending {
                first: ds.head[0],
                remaining_length,
                header_len: ds.head.len(),
                start,
                seen: 0,
                lost: 0,
            };
            ds.head.clear();
            ds.body.clear();
            ds.mode = Mode::Body(p);
            if remaining_length == 0 {
                self.finish(p, out);
            }
            return &input[used..];
        }
        &input[used..]
    }

    /// Body bytes of the pending packet: kept up to what decoding needs, the rest skipped.
    fn body_bytes<'b>(&mut self, mut p: Pending, input: &'b [u8], out: &mut Emit) -> &'b [u8] {
        let d = out.dir.index();
        let level = self.reading;
        let ds = &mut self.dirs[d];
        let total = p.remaining_length as usize;
        let mut used = 0;
        loop {
            let want = kept_target(&p, &ds.body, level);
            let room = want.saturating_sub(ds.body.len()).min(input.len() - used);
            if room == 0 {
                break;
            }
            ds.body.extend_from_slice(&input[used..used + room]);
            used += room;
            p.seen += room;
        }
        // what is beyond the kept part is only counted
        let skip = (total - p.seen.min(total)).min(input.len() - used);
        used += skip;
        p.seen += skip;
        ds.offset += used as u64;
        ds.mode = Mode::Body(p);
        if p.seen >= total {
            self.finish(p, out);
        }
        &input[used..]
    }

    /// A whole packet was framed: decode it and go back to reading headers.
    fn finish(&mut self, p: Pending, out: &mut Emit) {
        let d = out.dir.index();
        let body = std::mem::take(&mut self.dirs[d].body);
        self.dirs[d].mode = Mode::Header;
        let frame = Frame {
            first: p.first,
            remaining_length: p.remaining_length,
            offset: p.start,
            header_len: p.header_len,
            body: &body,
        };
        let ctx = Context {
            level: self.reading,
            dir: out.dir,
            reveal_passwords: self.reveal_passwords,
        };
        let mut result = None;
        if !self.settled && only_v5_explains(p.packet_type(), p.remaining_length) {
            if let Ok(packet) = decode::decode(&frame, &Context { level: 5, ..ctx }) {
                if packet.problems.is_empty() {
                    self.reading = 5;
                    self.settled = true;
                    let why = match self.connect_level {
                        Some(level) => format!("the CONNECT asked for unknown level {level}"),
                        None => "no CONNECT seen".to_string(),
                    };
                    out.emit(EventKind::Note {
                        text: format!(
                            "{why}; reading the connection as MQTT 5 because a {} of {} bytes at offset {} fits only MQTT 5",
                            p.packet_type().name(),
                            p.remaining_length,
                            p.start
                        ),
                    });
                    result = Some(Ok(packet));
                }
            }
        }
        let result = result.unwrap_or_else(|| decode::decode(&frame, &ctx));
        if p.packet_type() == PacketType::Connect {
            let level = match &result {
                Ok(Packet {
                    body: Body::Connect(c),
                    ..
                }) => Some(c.protocol_level),
                _ => peek_connect_level(&body),
            };
            self.learn_level(level);
        }
        match result {
            Ok(mut packet) => {
                packet.lost = p.lost;
                out.emit(EventKind::Mqtt(Box::new(packet)));
            }
            Err(reason) => out.emit(EventKind::MqttMalformed {
                offset: p.start,
                reason: reason.to_string().into(),
            }),
        }
        // give back a large allocation (a truncated SUBSCRIBE) instead of keeping it
        let mut body = body;
        body.clear();
        if body.capacity() <= 4096 {
            self.dirs[d].body = body;
        }
    }

    fn learn_level(&mut self, level: Option<u8>) {
        let Some(level) = level else { return };
        if self.connect_level.is_none() {
            self.connect_level = Some(level);
            // an unknown level is read as 3.1.1, but the answer may still show that the
            // endpoint speaks MQTT 5 (a CONNACK refusing with 0x84)
            let known = (3..=5).contains(&level);
            self.reading = if known { level } else { 4 };
            self.settled = known;
        }
    }

    /// How many of the direction's next bytes are only counted: the rest of a body past
    /// what is kept of it (a large PUBLISH's payload), or everything once framing is lost.
    pub fn unread_ahead(&self, dir: crate::event::Direction) -> u64 {
        let ds = &self.dirs[dir.index()];
        match ds.mode {
            Mode::Body(p) if ds.body.len() >= kept_target(&p, &ds.body, self.reading) => {
                (p.remaining_length as usize).saturating_sub(p.seen) as u64
            }
            Mode::Stopped => u64::MAX,
            _ => 0,
        }
    }

    /// `n` bytes of direction `out.dir` passed uncopied, no more than
    /// [`MqttConn::unread_ahead`]: counted as the skipped part of the body they were in.
    pub fn skip(&mut self, n: u64, out: &mut Emit) {
        let d = out.dir.index();
        let ds = &mut self.dirs[d];
        ds.offset = ds.offset.saturating_add(n);
        match ds.mode {
            Mode::Body(mut p) => {
                p.seen = p.seen.saturating_add(n as usize);
                ds.mode = Mode::Body(p);
                if p.seen >= p.remaining_length as usize {
                    self.finish(p, out);
                }
            }
            Mode::Stopped => out.undecoded(n, &[]),
            _ => {}
        }
    }

    /// `bytes` bytes in direction `out.dir` were never seen.
    pub fn gap(&mut self, bytes: u64, out: &mut Emit) {
        self.lose(Some(bytes), out);
    }

    /// Bytes of direction `out.dir` were never seen, and how many is not known: TLS records
    /// missed under decryption, whose plaintext size cannot be told from the gap.
    pub fn lost(&mut self, out: &mut Emit) {
        self.lose(None, out);
    }

    /// A gap of `bytes` (or of an unknown size). A gap is not a defect of the packets it
    /// cuts: a packet whose header fields were read is reported with the bytes of it that were
    /// not seen, so what its header declares (a payload's length) still counts; one cut
    /// before that gets a note. Then the decoder looks for the next packet boundary, unless
    /// the gap ended exactly where the packet did.
    fn lose(&mut self, bytes: Option<u64>, out: &mut Emit) {
        let d = out.dir.index();
        let level = self.reading;
        let ds = &mut self.dirs[d];
        if let Some(n) = bytes {
            ds.offset += n;
        }
        let missed = bytes.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string());
        match ds.mode {
            Mode::Body(mut p) => {
                let left = (p.remaining_length as usize - p.seen) as u64;
                let kept_done = ds.body.len() >= kept_target(&p, &ds.body, level);
                if kept_done {
                    if let Some(n) = bytes.filter(|n| *n < left) {
                        // the lost bytes were going to be skipped: framing is intact
                        p.seen += n as usize;
                        p.lost += n;
                        ds.mode = Mode::Body(p);
                        return;
                    }
                    // The gap runs to the packet's end or past it: the packet is read from
                    // its header fields, with the rest of it counted as not seen.
                    p.lost += left;
                    p.seen = p.remaining_length as usize;
                    self.finish(p, out);
                    if bytes == Some(left) {
                        // the next byte is the next packet's first: framing is intact
                        return;
                    }
                } else {
                    out.emit(EventKind::Note {
                        text: format!(
                            "MQTT: {} at offset {} cut by {missed} missing bytes after {} of its {} bytes, before its header fields could be read",
                            p.packet_type().name(),
                            p.start,
                            p.header_len + p.seen,
                            p.header_len + p.remaining_length as usize
                        ),
                    });
                }
            }
            Mode::Header if !ds.head.is_empty() => {
                // the header bytes were consumed without being counted yet
                let header_start = ds.offset - bytes.unwrap_or(0);
                ds.offset += ds.head.len() as u64;
                out.emit(EventKind::Note {
                    text: format!(
                        "MQTT: fixed header of {} at offset {header_start} cut by {missed} missing bytes after {} bytes",
                        PacketType::from_nibble(ds.head[0] >> 4).name(),
                        ds.head.len()
                    ),
                });
            }
            Mode::Stopped => return,
            _ => {}
        }
        let ds = &mut self.dirs[d];
        ds.head.clear();
        ds.body.clear();
        if !matches!(ds.mode, Mode::Resync) {
            out.emit(EventKind::Note {
                text: match bytes {
                    Some(n) => format!(
                        "MQTT: {n} bytes lost at offset {}; looking for the next packet boundary",
                        ds.offset - n
                    ),
                    None => format!(
                        "MQTT: bytes lost after offset {}; looking for the next packet boundary",
                        ds.offset
                    ),
                },
            });
        }
        ds.resync.restart(ds.offset, out);
        ds.mode = Mode::Resync;
    }

    /// The sender of direction `out.dir` closed.
    /// The trace ended with a packet of direction `out.dir` begun and not complete, and no
    /// close: says so, with what its header declared.
    pub fn unfinished(&mut self, out: &mut Emit) {
        let ds = &self.dirs[out.dir.index()];
        if let Mode::Body(p) = ds.mode {
            out.emit(EventKind::Unfinished(Box::new(crate::event::Unfinished {
                layer: crate::event::AppProtocol::Mqtt,
                offset: p.start,
                held: (p.header_len + p.seen) as u64,
                need: p.header_len as u64 + u64::from(p.remaining_length),
                what: p.packet_type().name().to_string(),
            })));
        }
    }

    pub fn close(&mut self, out: &mut Emit) {
        let d = out.dir.index();
        if let Mode::Resync = self.dirs[d].mode {
            // no more bytes will come: rule out candidates that were waiting for them
            let level = self.reading;
            let ds = &mut self.dirs[d];
            if let (_, Some(held)) = ds.resync.push(&[], level, true, out) {
                ds.mode = Mode::Header;
                ds.offset -= held.len() as u64;
                self.push(&held, out);
            }
        }
        // What the header declared matters (a CONNECT that claims 256 MB): the cut packet
        // is said with its sizes, as at the end of a trace; the close follows it.
        self.unfinished(out);
        let ds = &mut self.dirs[d];
        match ds.mode {
            Mode::Header if !ds.head.is_empty() => out.emit(EventKind::MqttMalformed {
                offset: ds.offset,
                reason: format!(
                    "connection closed after {} bytes of the fixed header of {}",
                    ds.head.len(),
                    PacketType::from_nibble(ds.head[0] >> 4).name()
                )
                .into(),
            }),
            Mode::Resync => ds.resync.restart(ds.offset, out),
            _ => {}
        }
        ds.head.clear();
        ds.body = Vec::new();
        if !matches!(ds.mode, Mode::Stopped | Mode::Resync) {
            ds.mode = Mode::Header;
        }
    }

    /// The protocol level learned from CONNECT.
    pub fn protocol_level(&self) -> Option<u8> {
        self.connect_level
    }

    /// The level both directions are read with (3, 4 or 5), whether learned or assumed.
    pub fn reading_level(&self) -> u8 {
        self.reading
    }

    /// Bytes held for direction `dir_index`, to check that memory stays bounded.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self, dir_index: usize) -> usize {
        let ds = &self.dirs[dir_index];
        ds.head.len() + ds.body.capacity() + ds.resync.held()
    }
}

/// How many of a packet's first body bytes the decoder reads, given the first of them
/// (`body`, as many as a feeder holds) and the connection's protocol `level` when known: the
/// rest of the body it only counts. A feeder that frames packets itself (the passthrough
/// proxy) copies this much of each and hands on the rest as a count; while `body` is shorter
/// than the answer, the answer may still grow as more arrives. With the level unknown the
/// answer holds for both readings (MQTT 5 reads a property length after a PUBLISH's packet
/// id, so it is the larger of the two).
pub fn read_len(first: u8, remaining_length: u32, body: &[u8], level: Option<u8>) -> usize {
    let p = Pending {
        first,
        remaining_length,
        header_len: 0,
        start: 0,
        seen: 0,
        lost: 0,
    };
    match level {
        Some(5) => kept_target(&p, body, 5),
        Some(_) => kept_target(&p, body, 4),
        None => kept_target(&p, body, 4).max(kept_target(&p, body, 5)),
    }
}

/// How many body bytes to keep: all of a small packet; for a PUBLISH its header fields (topic,
/// packet id, properties) and the payload prefix, found as its first bytes arrive.
fn kept_target(p: &Pending, body: &[u8], level: u8) -> usize {
    let total = p.remaining_length as usize;
    if p.packet_type() != PacketType::Publish {
        return total.min(MAX_KEPT);
    }
    let cap = MAX_KEPT + PAYLOAD_PREFIX;
    let header = match body {
        [a, b, ..] => 2 + usize::from(u16::from_be_bytes([*a, *b])),
        _ => return total.min(2),
    };
    let header = header + if (p.first >> 1) & 3 > 0 { 2 } else { 0 };
    if level != 5 {
        return total.min(header + PAYLOAD_PREFIX).min(cap);
    }
    // MQTT 5: a property length (1–4 bytes) follows; read it before deciding
    let mut props = 0usize;
    for i in 0..4 {
        let Some(b) = body.get(header + i) else {
            return total.min(header + i + 1).min(cap);
        };
        props |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return total.min(header + i + 1 + props + PAYLOAD_PREFIX).min(cap);
        }
    }
    total.min(header + 4 + PAYLOAD_PREFIX).min(cap)
}

/// Packet lengths that 3.1.1 forbids but MQTT 5 allows.
fn only_v5_explains(t: PacketType, remaining_length: u32) -> bool {
    match t {
        PacketType::Connack
        | PacketType::Puback
        | PacketType::Pubrec
        | PacketType::Pubrel
        | PacketType::Pubcomp
        | PacketType::Unsuback => remaining_length > 2,
        PacketType::Disconnect => remaining_length > 0,
        PacketType::Auth => true,
        _ => false,
    }
}

/// The protocol level of a CONNECT whose body could not be decoded, when it is readable.
fn peek_connect_level(body: &[u8]) -> Option<u8> {
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len).copied()
}

//! Finding a packet boundary again after a capture gap.
//!
//! After lost bytes, any byte could be the start of a packet, and payload bytes often look
//! like a fixed header. So a boundary is trusted only when a well-formed packet (valid flags,
//! minimal remaining length, a body that decodes without a single problem) is followed by a
//! second well-formed packet, or ends exactly where the bytes seen so far end (segments
//! usually end on packet boundaries). Bytes before the boundary are counted as undecoded.
//! At most [`WINDOW`] bytes are held while looking.

use super::checks;
use super::decode::{self, Context, Frame};
use super::packet::PacketType;
use crate::emit::Emit;
use crate::event::EventKind;

/// The longest run of bytes a candidate boundary may need to be confirmed.
pub(crate) const WINDOW: usize = 8 * 1024;

#[derive(Default)]
pub(crate) struct Resync {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    /// First position in `buf` not yet ruled out as a packet start.
    scan: usize,
}

enum Candidate {
    No,
    NeedMore,
    /// A clean packet of this many bytes.
    Clean(usize),
}

impl Resync {
    /// Starts looking from stream offset `offset`; bytes still held count as undecoded.
    pub fn restart(&mut self, offset: u64, out: &mut Emit) {
        out.undecoded(self.buf.len() as u64, &self.buf);
        self.buf = Vec::new();
        self.start = offset;
        self.scan = 0;
    }

    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes some of `input`; returns how much, and the held bytes from a boundary once
    /// one is found (they are to be decoded as a fresh stream).
    /// With `last` set no more bytes will come, so a candidate that needs more is ruled out.
    pub fn push(
        &mut self,
        input: &[u8],
        level: u8,
        last: bool,
        out: &mut Emit,
    ) -> (usize, Option<Vec<u8>>) {
        let take = input.len().min(2 * WINDOW - self.buf.len());
        self.buf.extend_from_slice(&input[..take]);
        let ctx = Context {
            level,
            dir: out.dir,
            reveal_passwords: false,
        };
        while self.scan < self.buf.len() {
            let rest = &self.buf[self.scan..];
            let confirmed = match packet_at(rest, &ctx) {
                Candidate::No => Some(false),
                Candidate::NeedMore => None,
                Candidate::Clean(n) if n == rest.len() => Some(true),
                Candidate::Clean(n) => match packet_at(&rest[n..], &ctx) {
                    Candidate::No => Some(false),
                    Candidate::NeedMore => None,
                    Candidate::Clean(_) => Some(true),
                },
            };
            match confirmed {
                Some(true) => {
                    out.undecoded(self.scan as u64, &[]);
                    out.emit(EventKind::Note {
                        text: format!(
                            "MQTT: found a packet boundary again at offset {}",
                            self.start + self.scan as u64
                        ),
                    });
                    let held = self.buf.split_off(self.scan);
                    self.buf = Vec::new();
                    self.scan = 0;
                    return (take, Some(held));
                }
                Some(false) => self.scan += 1,
                None if last || rest.len() >= WINDOW => self.scan += 1,
                None => break,
            }
        }
        // bytes before `scan` can no longer start a packet
        out.undecoded(self.scan as u64, &[]);
        self.buf.drain(..self.scan);
        self.start += self.scan as u64;
        self.scan = 0;
        (take, None)
    }
}

/// Whether `b` starts with a complete packet that decodes without any problem.
fn packet_at(b: &[u8], ctx: &Context) -> Candidate {
    let Some(&first) = b.first() else {
        return Candidate::NeedMore;
    };
    let t = PacketType::from_nibble(first >> 4);
    if t == PacketType::Reserved || checks::fixed_header_flags(t, first & 0x0f).is_some() {
        return Candidate::No;
    }
    let mut len = 0usize;
    let mut header_len = 0;
    for i in 0..4 {
        let Some(&byte) = b.get(1 + i) else {
            return Candidate::NeedMore;
        };
        // a continuation into a zero byte is a non-minimal encoding: no encoder does that
        if i > 0 && byte == 0 {
            return Candidate::No;
        }
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            header_len = 2 + i;
            break;
        }
    }
    if header_len == 0 {
        return Candidate::No;
    }
    let total = header_len + len;
    let Some(body) = b.get(header_len..total) else {
        return Candidate::NeedMore;
    };
    let frame = Frame {
        first,
        remaining_length: len as u32,
        offset: 0,
        header_len,
        body,
    };
    match decode::decode(&frame, ctx) {
        Ok(p) if p.problems.is_empty() => Candidate::Clean(total),
        _ => Candidate::No,
    }
}

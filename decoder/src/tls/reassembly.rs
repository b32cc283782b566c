//! Handshake reassembly for one direction: joining handshake messages that span records and
//! splitting records that carry several messages.
//!
//! Ours because tls-parser parses a handshake record as a run of whole messages and cannot
//! continue a message that the next record finishes (a large Certificate, or a device that
//! sends small records). Messages are capped at [`MAX_HANDSHAKE`]; a longer one is reported
//! and its bytes are skipped without being held.

use super::names::handshake_type_name;

/// The longest handshake message held for parsing. Certificate chains of IoT endpoints are a
/// few KiB; 128 KiB leaves room for long chains while bounding memory.
pub const MAX_HANDSHAKE: usize = 128 * 1024;

/// Handshake types a record can start with when the stream has just been picked up again.
const KNOWN_TYPES: [u8; 15] = [0, 1, 2, 4, 5, 8, 11, 12, 13, 14, 15, 16, 20, 22, 24];

/// One thing the joiner learned from a record.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// A whole handshake message: its 4-byte header and body.
    Message {
        msg_type: u8,
        /// Header and body, for tls-parser.
        whole: Vec<u8>,
        /// Stream offset of the record payload byte where the message starts.
        offset: u64,
        /// Version of the record that carried the message's first byte.
        record_version: u16,
        /// True for messages read right after a gap, when a parse failure is more likely to
        /// be a misjudged boundary than a broken peer.
        after_gap: bool,
    },
    /// A message announced longer than [`MAX_HANDSHAKE`]; its bytes are skipped.
    TooLarge {
        msg_type: u8,
        len: usize,
        offset: u64,
    },
    /// Handshake bytes dropped after a gap because no message boundary could be trusted.
    Dropped { bytes: usize },
}

#[derive(Debug, Default)]
pub struct Joiner {
    buf: Vec<u8>,
    head_offset: u64,
    head_version: u16,
    /// Bytes of an oversized message still to pass over.
    skip: usize,
    /// Set by a gap: the next record must show a trustworthy message boundary.
    unsynced: bool,
    after_gap: bool,
}

impl Joiner {
    /// A message started but not finished: (bytes held, bytes the message needs).
    pub fn partial(&self) -> Option<(usize, usize)> {
        if self.buf.is_empty() {
            return None;
        }
        let need = match *self.buf.as_slice() {
            [_, a, b, c, ..] => 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)),
            _ => 4,
        };
        Some((self.buf.len(), need))
    }

    /// The type of the partial message, once its first byte is in.
    pub fn head_type(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Where the partial message started.
    pub fn partial_offset(&self) -> u64 {
        self.head_offset
    }

    /// Forgets any partial message.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.skip = 0;
    }

    /// Bytes were lost: message boundaries are unknown until a record shows one.
    pub fn gap(&mut self) {
        self.clear();
        self.unsynced = true;
    }

    /// Takes the payload of one handshake record that starts at stream offset `offset`.
    pub fn push(&mut self, payload: &[u8], offset: u64, record_version: u16) -> Vec<Joined> {
        let mut out = Vec::new();
        let mut payload = payload;
        let mut offset = offset;
        if self.skip > 0 {
            let n = self.skip.min(payload.len());
            self.skip -= n;
            payload = &payload[n..];
            offset += n as u64;
        }
        if self.unsynced {
            if payload.is_empty() {
                return out;
            }
            if !starts_cleanly(payload) {
                out.push(Joined::Dropped {
                    bytes: payload.len(),
                });
                return out;
            }
            self.unsynced = false;
            self.after_gap = true;
        }
        let mut pos = 0;
        while pos < payload.len() {
            if self.buf.is_empty() {
                self.head_offset = offset + pos as u64;
                self.head_version = record_version;
            }
            // Header first, then the body it announces.
            if self.buf.len() < 4 {
                let take = (4 - self.buf.len()).min(payload.len() - pos);
                self.buf.extend_from_slice(&payload[pos..pos + take]);
                pos += take;
                if self.buf.len() < 4 {
                    break;
                }
            }
            let msg_type = self.buf[0];
            let len = usize::from(self.buf[1]) << 16
                | usize::from(self.buf[2]) << 8
                | usize::from(self.buf[3]);
            if len > MAX_HANDSHAKE {
                out.push(Joined::TooLarge {
                    msg_type,
                    len,
                    offset: self.head_offset,
                });
                let available = payload.len() - pos;
                self.skip = len - len.min(available);
                pos += len.min(available);
                self.buf.clear();
                continue;
            }
            let take = (4 + len - self.buf.len()).min(payload.len() - pos);
            self.buf.extend_from_slice(&payload[pos..pos + take]);
            pos += take;
            if self.buf.len() == 4 + len {
                out.push(Joined::Message {
                    msg_type,
                    whole: std::mem::take(&mut self.buf),
                    offset: self.head_offset,
                    record_version: self.head_version,
                    after_gap: self.after_gap,
                });
            }
        }
        if self.buf.is_empty() {
            self.after_gap = false;
        }
        out
    }
}

/// Whether a record payload picked up after a gap begins on a message boundary: known types
/// with lengths that tile the record exactly, or a last message that runs on into the next
/// record with a modest length.
fn starts_cleanly(payload: &[u8]) -> bool {
    let mut pos = 0;
    loop {
        let Some([t, a, b, c]) = payload.get(pos..pos + 4).map(|h| [h[0], h[1], h[2], h[3]]) else {
            return false;
        };
        if !KNOWN_TYPES.contains(&t) {
            return false;
        }
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let end = pos + 4 + len;
        if end == payload.len() {
            return true;
        }
        if end > payload.len() {
            return a == 0 && len <= MAX_HANDSHAKE;
        }
        pos = end;
    }
}

/// A short description of a handshake type for reasons: `certificate (11)`.
pub fn type_label(t: u8) -> String {
    format!("{} ({})", handshake_type_name(t), t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    fn types(j: &[Joined]) -> Vec<(u8, usize, u64)> {
        j.iter()
            .filter_map(|x| match x {
                Joined::Message {
                    msg_type,
                    whole,
                    offset,
                    ..
                } => Some((*msg_type, whole.len(), *offset)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_message_split_across_three_records_is_joined() {
        let cert = msg(11, &[0xab; 3000]);
        let mut j = Joiner::default();
        assert!(j.push(&cert[..2], 5, 0x0303).is_empty());
        assert_eq!(j.partial(), Some((2, 4)));
        assert!(j.push(&cert[2..1500], 1000, 0x0303).is_empty());
        assert_eq!(j.partial(), Some((1500, 3004)));
        let out = j.push(&cert[1500..], 3000, 0x0303);
        assert_eq!(types(&out), vec![(11, 3004, 5)]);
        assert_eq!(j.partial(), None);
    }

    #[test]
    fn several_messages_in_one_record_are_split() {
        let mut rec = msg(2, &[1; 70]);
        rec.extend(msg(11, &[2; 10]));
        rec.extend(msg(14, &[]));
        let out = Joiner::default().push(&rec, 100, 0x0303);
        assert_eq!(types(&out), vec![(2, 74, 100), (11, 14, 174), (14, 4, 188)]);
    }

    #[test]
    fn an_oversized_message_is_skipped_without_being_held() {
        let mut j = Joiner::default();
        let mut rec = vec![11, 0x10, 0, 0];
        rec.extend([0; 100]);
        let out = j.push(&rec, 0, 0x0303);
        assert_eq!(
            out,
            vec![Joined::TooLarge {
                msg_type: 11,
                len: 0x100000,
                offset: 0
            }]
        );
        assert_eq!(j.partial(), None);
        // the rest of the oversized message, then a real message
        let mut rec2 = vec![0; 0x100000 - 100];
        rec2.extend(msg(14, &[]));
        let out = j.push(&rec2, 200, 0x0303);
        assert_eq!(types(&out), vec![(14, 4, 200 + 0x100000 - 100)]);
    }

    #[test]
    fn after_a_gap_only_a_clean_boundary_is_trusted() {
        let mut j = Joiner::default();
        j.push(&msg(11, &[0; 50])[..20], 0, 0x0303);
        j.gap();
        // the middle of a lost message
        assert_eq!(
            j.push(&[0x30, 0x82, 0x01, 0x22, 0x05, 0x06], 90, 0x0303),
            vec![Joined::Dropped { bytes: 6 }]
        );
        let out = j.push(&msg(14, &[]), 120, 0x0303);
        assert_eq!(
            out,
            vec![Joined::Message {
                msg_type: 14,
                whole: vec![14, 0, 0, 0],
                offset: 120,
                record_version: 0x0303,
                after_gap: true
            }]
        );
        let out = j.push(&msg(14, &[]), 130, 0x0303);
        assert!(matches!(
            out[0],
            Joined::Message {
                after_gap: false,
                ..
            }
        ));
    }
}

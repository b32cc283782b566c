//! The TLS record layer of one direction: framing bytes that arrive in any pieces into whole
//! records, checking each header, and finding the next header again after a gap.
//!
//! A record is never longer than 2^14 + 2048 bytes (TLS 1.2 ciphertext), so at most one
//! partial record is held. Records that arrive whole inside one piece of input are handed on
//! without being copied.

use std::fmt::Write as _;

/// Bytes in a record header: type, version, length.
pub const HEADER_LEN: usize = 5;
/// The longest record payload any TLS version allows (TLS 1.2 ciphertext: 2^14 + 2048).
pub const MAX_RECORD: usize = (1 << 14) + 2048;

/// A record header as read from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub len: u16,
}

impl RecordHeader {
    /// The header in its five wire bytes.
    pub fn from_bytes(b: [u8; HEADER_LEN]) -> RecordHeader {
        let [t, v1, v2, l1, l2] = b;
        RecordHeader {
            content_type: t,
            version: u16::from_be_bytes([v1, v2]),
            len: u16::from_be_bytes([l1, l2]),
        }
    }

    /// True when these bytes can be a record header: a TLS content type, SSL 3.0 to TLS 1.3,
    /// a length no longer than any version allows. The same test the reader applies.
    pub fn well_formed(&self) -> bool {
        self.problem().is_none()
    }

    fn read(b: &[u8]) -> Option<RecordHeader> {
        let [t, v1, v2, l1, l2, ..] = *b else {
            return None;
        };
        Some(RecordHeader {
            content_type: t,
            version: u16::from_be_bytes([v1, v2]),
            len: u16::from_be_bytes([l1, l2]),
        })
    }

    /// Why this cannot be a record header, if it cannot.
    fn problem(&self) -> Option<String> {
        if !(20..=24).contains(&self.content_type) {
            return Some(format!(
                "content type {} is not a TLS record type (20 to 24)",
                self.content_type
            ));
        }
        if !(0x0300..=0x0304).contains(&self.version) {
            return Some(format!(
                "record version 0x{:04x} is not SSL 3.0 to TLS 1.3",
                self.version
            ));
        }
        if usize::from(self.len) > MAX_RECORD {
            return Some(format!(
                "record length {} exceeds the {MAX_RECORD}-byte maximum",
                self.len
            ));
        }
        None
    }

    /// The stricter test used when looking for a header in bytes of unknown meaning: one of the
    /// four common types, TLS 1.0 to 1.3, and a non-empty payload.
    fn plausible_after_gap(&self) -> bool {
        (20..=23).contains(&self.content_type)
            && (0x0301..=0x0304).contains(&self.version)
            && self.len > 0
            && usize::from(self.len) <= MAX_RECORD
    }
}

/// What the reader found in the bytes.
#[derive(Debug)]
pub enum Item<'a> {
    /// One whole record; `offset` is where its header starts in this direction's stream.
    Record {
        header: RecordHeader,
        payload: &'a [u8],
        offset: u64,
    },
    /// Bytes that are not a record header. The reader stops reading records.
    Malformed { offset: u64, reason: String },
    /// Bytes passed over without being read as records.
    Skipped { bytes: u64 },
    /// After a gap, a record header was found again at `offset`.
    Resynced { offset: u64, skipped: u64 },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Records,
    /// After a gap: looking for a header that is followed by another header.
    Searching,
    /// After bytes that are not TLS: nothing more is read.
    Stopped,
}

/// Record framing for one direction.
#[derive(Debug, Default)]
pub struct RecordReader {
    /// Bytes held back: the start of a partial record, or bytes being searched after a gap.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]` (or of the next byte when `buf` is empty).
    offset: u64,
    mode: Mode,
    /// Bytes skipped while searching since the gap, reported with the resynchronisation.
    searched: u64,
}

impl RecordReader {
    /// Stream offset of the next byte not yet framed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn is_stopped(&self) -> bool {
        self.mode == Mode::Stopped
    }

    /// True between whole records: nothing held, no search going on.
    pub fn at_boundary(&self) -> bool {
        self.mode == Mode::Records && self.buf.is_empty()
    }

    /// A whole record of `total` bytes (header included) passed without its bytes (a feeder
    /// that summarised it): only the stream offset moves. Call it at a boundary only.
    pub fn pass_whole(&mut self, total: u64) {
        self.offset += total;
    }

    /// Frames `input`, handing each item to `f` in stream order.
    pub fn push(&mut self, input: &[u8], f: &mut dyn FnMut(Item<'_>)) {
        match self.mode {
            Mode::Stopped => self.skip_all(input, f),
            Mode::Searching => {
                self.buf.extend_from_slice(input);
                self.search(false, f);
                if self.mode == Mode::Records {
                    let held = std::mem::take(&mut self.buf);
                    self.frame(&held, f);
                }
            }
            Mode::Records => {
                let rest = self.complete_held(input, f);
                self.frame(rest, f);
            }
        }
        // A long search can leave a large allocation behind; keep what stays bounded.
        if self.buf.capacity() > 4 * (MAX_RECORD + HEADER_LEN) {
            self.buf.shrink_to(MAX_RECORD + 2 * HEADER_LEN);
        }
    }

    fn skip_all(&mut self, input: &[u8], f: &mut dyn FnMut(Item<'_>)) {
        if !input.is_empty() {
            self.offset += input.len() as u64;
            f(Item::Skipped {
                bytes: input.len() as u64,
            });
        }
    }

    /// Stops reading: the held bytes and all that follow are skipped.
    fn stop(&mut self, reason: String, f: &mut dyn FnMut(Item<'_>)) {
        self.mode = Mode::Stopped;
        f(Item::Malformed {
            offset: self.offset,
            reason,
        });
    }

    /// Completes a held partial record from the front of `input`; returns the input left.
    fn complete_held<'i>(&mut self, mut input: &'i [u8], f: &mut dyn FnMut(Item<'_>)) -> &'i [u8] {
        if self.buf.is_empty() {
            return input;
        }
        if self.buf.len() < HEADER_LEN {
            let take = (HEADER_LEN - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
        }
        let Some(header) = RecordHeader::read(&self.buf) else {
            return input;
        };
        if let Some(problem) = header.problem() {
            let reason = describe(&self.buf, &problem);
            let held = std::mem::take(&mut self.buf);
            self.stop(reason, f);
            self.skip_all(&held, f);
            self.skip_all(input, f);
            return &[];
        }
        let total = HEADER_LEN + usize::from(header.len);
        let take = (total - self.buf.len()).min(input.len());
        self.buf.extend_from_slice(&input[..take]);
        input = &input[take..];
        if self.buf.len() == total {
            let held = std::mem::take(&mut self.buf);
            f(Item::Record {
                header,
                payload: &held[HEADER_LEN..],
                offset: self.offset,
            });
            self.offset += total as u64;
            // Keep the allocation for the next partial record.
            self.buf = held;
            self.buf.clear();
        }
        input
    }

    /// Frames records straight from `input` and holds back an incomplete tail.
    fn frame(&mut self, mut input: &[u8], f: &mut dyn FnMut(Item<'_>)) {
        while let Some(header) = RecordHeader::read(input) {
            if let Some(problem) = header.problem() {
                self.stop(describe(input, &problem), f);
                self.skip_all(input, f);
                return;
            }
            let total = HEADER_LEN + usize::from(header.len);
            let Some(record) = input.get(..total) else {
                break;
            };
            f(Item::Record {
                header,
                payload: &record[HEADER_LEN..],
                offset: self.offset,
            });
            self.offset += total as u64;
            input = &input[total..];
        }
        self.buf.extend_from_slice(input);
    }

    /// `n` bytes of this direction were never seen: whatever was held is dropped, and the next
    /// record header is searched for. Returns the number of held bytes dropped.
    pub fn gap(&mut self, n: u64) -> u64 {
        let dropped = self.buf.len() as u64;
        self.buf.clear();
        self.offset += dropped + n;
        self.mode = Mode::Searching;
        self.searched = 0;
        dropped
    }

    /// Looks for a header that the next header confirms; at the end of the stream a record that
    /// ends exactly with the stream is accepted too.
    fn search(&mut self, at_end: bool, f: &mut dyn FnMut(Item<'_>)) {
        let mut start = 0;
        let found = loop {
            let Some(header) = RecordHeader::read(&self.buf[start..]) else {
                break None;
            };
            if header.plausible_after_gap() {
                let next = start + HEADER_LEN + usize::from(header.len);
                match RecordHeader::read(self.buf.get(next..).unwrap_or(&[])) {
                    Some(h) if h.plausible_after_gap() => break Some(start),
                    Some(_) => {}
                    None if at_end && next == self.buf.len() => break Some(start),
                    // Not enough bytes yet to confirm this candidate.
                    None if !at_end => break None,
                    None => {}
                }
            }
            start += 1;
        };
        let skip = match found {
            Some(at) => at,
            // Keep what could still be the start of a header, or an unconfirmed candidate.
            None => self.unresolved_from(start),
        };
        if skip > 0 {
            self.searched += skip as u64;
            self.offset += skip as u64;
            self.buf.drain(..skip);
            f(Item::Skipped { bytes: skip as u64 });
        }
        if found.is_some() {
            self.mode = Mode::Records;
            f(Item::Resynced {
                offset: self.offset,
                skipped: self.searched,
            });
        }
    }

    /// Where the bytes still worth keeping start, when the search stopped at `start` without a
    /// confirmed header.
    fn unresolved_from(&self, start: usize) -> usize {
        match RecordHeader::read(&self.buf[start.min(self.buf.len())..]) {
            // A plausible header waiting for its record and the next header.
            Some(h) if h.plausible_after_gap() => start,
            _ => {
                // Fewer than 5 bytes remain: keep the last ones, they may begin a header.
                let keep = (HEADER_LEN - 1).min(self.buf.len());
                (self.buf.len() - keep).max(start.min(self.buf.len()))
            }
        }
    }

    /// The record begun but not complete, if any: its stream offset, the bytes held, the
    /// bytes it needs, its content type and (for a handshake record) the first message's type.
    pub fn unfinished(&self) -> Option<(u64, usize, usize, u8, Option<u8>)> {
        if self.mode != Mode::Records || self.buf.is_empty() {
            return None;
        }
        let need =
            RecordHeader::read(&self.buf).map_or(HEADER_LEN, |h| HEADER_LEN + usize::from(h.len));
        let kind = self.buf.first().copied().unwrap_or_default();
        Some((
            self.offset,
            self.buf.len(),
            need,
            kind,
            self.buf.get(HEADER_LEN).copied(),
        ))
    }

    /// The stream ended. Returns the record that was cut short, as (bytes held, bytes the record
    /// needed), or `None`. After a gap, a record that ends exactly with the stream is framed.
    pub fn close(&mut self, f: &mut dyn FnMut(Item<'_>)) -> Option<(usize, usize)> {
        match self.mode {
            Mode::Stopped => None,
            Mode::Searching => {
                self.search(true, f);
                if self.mode == Mode::Records {
                    let held = std::mem::take(&mut self.buf);
                    self.frame(&held, f);
                }
                let left = std::mem::take(&mut self.buf);
                self.mode = Mode::Stopped;
                self.skip_all(&left, f);
                None
            }
            Mode::Records => {
                if self.buf.is_empty() {
                    return None;
                }
                let need = RecordHeader::read(&self.buf)
                    .map_or(HEADER_LEN, |h| HEADER_LEN + usize::from(h.len));
                let held = self.buf.len();
                self.offset += held as u64;
                self.buf.clear();
                Some((held, need))
            }
        }
    }
}

/// A reason naming the header bytes found, so that plain text or HTTP shows as what it is.
/// Only the five header bytes are shown: they are there however the bytes arrived.
fn describe(bytes: &[u8], problem: &str) -> String {
    let header = &bytes[..bytes.len().min(HEADER_LEN)];
    let mut shown = String::new();
    for b in header {
        let _ = write!(shown, "{b:02x} ");
    }
    let text: String = header
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!(
        "not a TLS record header ({}\"{}\"): {}",
        shown, text, problem
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Rec(u8, Vec<u8>, u64),
        Bad(u64),
        Skip(u64),
        Sync(u64, u64),
    }

    fn run(r: &mut RecordReader, input: &[u8], seen: &mut Vec<Seen>) {
        r.push(input, &mut |item| {
            seen.push(match item {
                Item::Record {
                    header,
                    payload,
                    offset,
                } => Seen::Rec(header.content_type, payload.to_vec(), offset),
                Item::Malformed { offset, .. } => Seen::Bad(offset),
                Item::Skipped { bytes } => Seen::Skip(bytes),
                Item::Resynced { offset, skipped } => Seen::Sync(offset, skipped),
            })
        });
    }

    fn rec(t: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![t, 3, 3];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn pieces_of_any_size_give_the_same_records() {
        let mut stream = rec(22, b"hello");
        stream.extend(rec(23, &[9; 300]));
        stream.extend(rec(21, &[2, 40]));
        let mut whole = Vec::new();
        run(&mut RecordReader::default(), &stream, &mut whole);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[2], Seen::Rec(21, vec![2, 40], 10 + 305));
        for size in [1, 2, 4, 5, 6, 7, 299, 311] {
            let mut r = RecordReader::default();
            let mut seen = Vec::new();
            for piece in stream.chunks(size) {
                run(&mut r, piece, &mut seen);
            }
            assert_eq!(seen, whole, "pieces of {size}");
        }
    }

    #[test]
    fn garbage_stops_the_direction_and_is_counted() {
        let mut stream = rec(22, b"ok");
        stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut r = RecordReader::default();
        let mut reason = String::new();
        let mut skipped = 0;
        r.push(&stream, &mut |item| match item {
            Item::Malformed {
                offset,
                reason: why,
            } => {
                assert_eq!(offset, 7);
                reason = why;
            }
            Item::Skipped { bytes } => skipped += bytes,
            _ => {}
        });
        assert!(reason.contains("content type 71"), "{reason}");
        assert!(reason.contains("\"GET /\""), "{reason}");
        assert_eq!(skipped, 16);
        assert!(r.is_stopped());
    }

    #[test]
    fn impossible_length_is_malformed() {
        let mut r = RecordReader::default();
        let mut seen = Vec::new();
        run(&mut r, &[23, 3, 3, 0xff], &mut seen);
        assert!(seen.is_empty());
        run(&mut r, &[0xff, 1, 2], &mut seen);
        assert_eq!(seen, vec![Seen::Bad(0), Seen::Skip(5), Seen::Skip(2)]);
    }

    #[test]
    fn after_a_gap_a_header_confirmed_by_the_next_is_found() {
        let mut r = RecordReader::default();
        let mut seen = Vec::new();
        run(&mut r, &rec(23, &[1, 2, 3])[..4], &mut seen);
        assert_eq!(r.gap(100), 4);
        // tail of a lost record, containing a fake header whose successor does not fit
        let mut after = vec![0x55, 0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb, 0x99, 0x98];
        after.extend(rec(23, &[7; 20]));
        after.extend(rec(21, &[1, 0]));
        for b in &after {
            run(&mut r, &[*b], &mut seen);
        }
        let sync_at = 4 + 100 + 10;
        let skipped: u64 = seen
            .iter()
            .map(|s| if let Seen::Skip(n) = s { *n } else { 0 })
            .sum();
        assert_eq!(skipped, 10);
        let rest: Vec<&Seen> = seen
            .iter()
            .filter(|s| !matches!(s, Seen::Skip(_)))
            .collect();
        assert_eq!(
            rest,
            vec![
                &Seen::Sync(sync_at, 10),
                &Seen::Rec(23, vec![7; 20], sync_at),
                &Seen::Rec(21, vec![1, 0], sync_at + 25),
            ]
        );
    }

    #[test]
    fn after_a_gap_the_last_record_is_accepted_when_it_ends_the_stream() {
        let mut r = RecordReader::default();
        r.gap(5);
        let mut seen = Vec::new();
        let mut tail = vec![0xde, 0xad];
        tail.extend(rec(21, &[0x33; 26]));
        run(&mut r, &tail, &mut seen);
        assert!(!seen.iter().any(|s| matches!(s, Seen::Rec(..))));
        let cut = r.close(&mut |item| {
            if let Item::Record { header, .. } = item {
                seen.push(Seen::Rec(header.content_type, vec![], 0));
            }
        });
        assert_eq!(cut, None);
        assert!(seen.contains(&Seen::Rec(21, vec![], 0)));
    }

    #[test]
    fn close_reports_a_partial_record() {
        let mut r = RecordReader::default();
        r.push(&rec(22, &[0; 100])[..40], &mut |_| {});
        assert_eq!(r.close(&mut |_| {}), Some((40, 105)));
        let mut r = RecordReader::default();
        r.push(&[22, 3], &mut |_| {});
        assert_eq!(r.close(&mut |_| {}), Some((2, 5)));
    }
}

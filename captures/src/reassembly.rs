//! TCP reassembly of one direction: segments in, ordered bytes and facts out.
//!
//! This is our own code because no well-kept crate fits: the candidates are either large
//! frameworks with their own flow model (flowscope), young (protolens), GPL-licensed
//! (stackforge-core), or drop out-of-order data. What the decoder needs is small and
//! sans-IO: bytes in sequence order, every hole that cannot be filled reported as a gap of
//! known size (the TLS and MQTT decoders resynchronise on it), and FIN and RST in their
//! place among the bytes.
//!
//! Positions are kept as 64-bit offsets into the stream. A sequence number is placed by
//! serial-number arithmetic relative to the next expected one (a signed 32-bit distance),
//! so the stream crosses 2^32 without noticing. Segments that arrive early wait in a
//! `BTreeMap` by offset; where copies overlap, the first one captured wins, as the decoder
//! has possibly already read it. A hole becomes a gap when the flow gives up on it: the
//! buffer cap forces it, a FIN or RST lies beyond it, the flow ends, or the peer
//! acknowledges bytes the capture never held.

use std::collections::BTreeMap;
use std::num::Wrapping;

use iotscope_decoder::OwnedInput;

/// Bookkeeping cost charged per waiting piece on top of its bytes, so that many tiny
/// segments cannot escape the buffer cap.
const PIECE_OVERHEAD: usize = 64;

/// An acknowledgment further ahead than this is not believed (it belongs to another
/// connection, or the sequence space was misread).
const MAX_ACK_JUMP: i128 = 1 << 30;

#[derive(Debug)]
enum Piece {
    Bytes(Vec<u8>),
    /// Bytes the capture did not keep (frame cut by the snap length).
    Lost(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Lost(n) => *n,
        }
    }

    fn cost(&self) -> usize {
        PIECE_OVERHEAD
            + match self {
                Piece::Bytes(b) => b.len(),
                Piece::Lost(_) => 0,
            }
    }
}

/// Reassembly state of one direction of one connection.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the byte at `pos`; unknown until the first SYN or segment.
    next: Option<Wrapping<u32>>,
    /// Stream offset of the next byte to deliver (bytes delivered plus gaps).
    pos: u64,
    early: BTreeMap<u64, Piece>,
    buffered: usize,
    fin_at: Option<u64>,
    fin_done: bool,
    rst_done: bool,
    /// Bytes dropped because an earlier copy had them (retransmissions, overlaps).
    pub duplicate_bytes: u64,
    /// Bytes reported as gaps.
    pub gap_bytes: u64,
}

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Bytes waiting for a hole to fill, with bookkeeping cost.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Stream offset of the next byte to deliver.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn fin_done(&self) -> bool {
        self.fin_done
    }

    pub fn rst_done(&self) -> bool {
        self.rst_done
    }

    /// Whether the direction has ended (FIN delivered or reset).
    pub fn closed(&self) -> bool {
        self.fin_done || self.rst_done
    }

    /// Whether the sequence space is anchored yet.
    pub fn started(&self) -> bool {
        self.next.is_some()
    }

    /// A SYN with initial sequence number `isn`: the data starts one after it.
    pub fn syn(&mut self, isn: u32) {
        if self.next.is_none() {
            self.next = Some(Wrapping(isn) + Wrapping(1));
        }
    }

    /// Anchors the sequence space at `seq` if nothing has yet (a capture that starts
    /// mid-stream: the first segment seen starts the stream).
    pub fn anchor(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(Wrapping(seq));
        }
    }

    fn offset_of(&self, seq: u32) -> Option<i128> {
        let next = self.next?;
        let distance = (Wrapping(seq) - next).0 as i32;
        Some(i128::from(self.pos) + i128::from(distance))
    }

    /// One segment of this direction: `payload` at `seq`, `lost` more bytes after it that
    /// the capture cut off, and whether it carries FIN.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        lost: u64,
        fin: bool,
        out: &mut Vec<OwnedInput>,
    ) {
        if self.closed() {
            self.duplicate_bytes += payload.len() as u64;
            return;
        }
        self.anchor(seq);
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        if start == i128::from(self.pos)
            && lost == 0
            && self.early.is_empty()
            && self.fin_at.is_none()
        {
            // The common case: the next bytes in order, nothing waiting. They go straight out,
            // as the general path below would deliver them, without being stored first.
            if !payload.is_empty() {
                self.advance(payload.len() as u64);
                out.push(OwnedInput::Data(payload.to_vec().into()));
            }
            if fin {
                self.set_fin(self.pos);
                self.drain(out);
            }
            return;
        }
        let data_end = start + payload.len() as i128;
        let end = data_end + i128::from(lost);
        if fin && self.fin_at.is_none() && end >= i128::from(self.pos) {
            self.set_fin(end as u64);
        }
        self.insert(start, Piece::Bytes(payload.to_vec()));
        if lost > 0 {
            self.insert(data_end, Piece::Lost(lost));
        }
        self.drain(out);
        if fin && !self.fin_done && self.fin_at.is_some() {
            // A FIN beyond a hole: the sender has sent everything, the capture missed some.
            self.flush(out);
        }
    }

    /// The peer acknowledged everything before `ack`: bytes up to there that were never
    /// captured will not come again, so they become a gap.
    pub fn acknowledged(&mut self, ack: u32, out: &mut Vec<OwnedInput>) {
        if self.closed() {
            return;
        }
        let Some(mut upto) = self.offset_of(ack) else {
            return;
        };
        if let Some(fin) = self.fin_at {
            // The FIN takes one sequence number; acknowledging it says nothing more.
            upto = upto.min(i128::from(fin));
        }
        let pos = i128::from(self.pos);
        if upto <= pos || upto - pos > MAX_ACK_JUMP {
            return;
        }
        let upto = upto as u64;
        while self.pos < upto && !self.closed() {
            let before = self.pos;
            let hole_end = match self.early.keys().next() {
                Some(&k) => k.min(upto),
                None => upto,
            };
            if hole_end > self.pos {
                self.gap(hole_end - self.pos, out);
            }
            self.drain(out);
            if self.pos == before {
                break;
            }
        }
    }

    /// The sender reset the connection: what is held is delivered with gaps for its holes,
    /// then the reset.
    pub fn rst(&mut self, out: &mut Vec<OwnedInput>) {
        if self.rst_done {
            return;
        }
        if !self.fin_done {
            self.flush(out);
        }
        self.rst_done = true;
        self.early.clear();
        self.buffered = 0;
        out.push(OwnedInput::Rst);
    }

    /// Gives up on every hole: everything held is delivered with gaps between, and the FIN
    /// if one was seen.
    pub fn flush(&mut self, out: &mut Vec<OwnedInput>) {
        while self.skip_hole(out) {}
        self.drain(out);
    }

    /// Gives up on the first hole only (the buffer cap needs room). False when there is
    /// nothing held.
    pub fn skip_hole(&mut self, out: &mut Vec<OwnedInput>) -> bool {
        if self.closed() {
            return false;
        }
        let target = match (self.early.keys().next(), self.fin_at) {
            (Some(&k), _) => k,
            (None, Some(f)) => f,
            (None, None) => return false,
        };
        let before = self.pos;
        if target > self.pos {
            self.gap(target - self.pos, out);
        }
        self.drain(out);
        // Stored pieces and the FIN never lie behind `pos`, so this always moves; the check
        // keeps a broken invariant from turning into an endless loop.
        self.pos > before || self.closed()
    }

    /// Places the FIN at stream offset `at`: whatever was held beyond it was never part of
    /// the stream.
    fn set_fin(&mut self, at: u64) {
        self.fin_at = Some(at);
        for (_, piece) in self.early.split_off(&at) {
            self.buffered -= piece.cost();
            self.duplicate_bytes += piece.len();
        }
        if let Some(mut last) = self.early.last_entry() {
            let start = *last.key();
            let piece = last.get_mut();
            let keep = at - start;
            if piece.len() > keep {
                self.duplicate_bytes += piece.len() - keep;
                match piece {
                    Piece::Bytes(b) => {
                        self.buffered -= b.len() - keep as usize;
                        b.truncate(keep as usize);
                    }
                    Piece::Lost(n) => *n = keep,
                }
            }
        }
    }

    fn gap(&mut self, n: u64, out: &mut Vec<OwnedInput>) {
        self.advance(n);
        self.gap_bytes += n;
        if let Some(OwnedInput::Gap(prev)) = out.last_mut() {
            *prev += n;
        } else {
            out.push(OwnedInput::Gap(n));
        }
    }

    fn advance(&mut self, n: u64) {
        self.pos += n;
        if let Some(next) = self.next.as_mut() {
            *next += Wrapping(n as u32);
        }
    }

    /// Delivers the pieces that now follow on without a hole, and the FIN when reached.
    fn drain(&mut self, out: &mut Vec<OwnedInput>) {
        loop {
            if self.fin_at == Some(self.pos) && !self.fin_done {
                self.fin_done = true;
                self.early.clear();
                self.buffered = 0;
                out.push(OwnedInput::Fin);
                return;
            }
            let Some(entry) = self.early.first_entry() else {
                return;
            };
            if *entry.key() != self.pos {
                return;
            }
            let piece = entry.remove();
            self.buffered -= piece.cost();
            self.advance(piece.len());
            match piece {
                Piece::Bytes(b) => out.push(OwnedInput::Data(b.into())),
                Piece::Lost(n) => {
                    self.gap_bytes += n;
                    if let Some(OwnedInput::Gap(prev)) = out.last_mut() {
                        *prev += n;
                    } else {
                        out.push(OwnedInput::Gap(n));
                    }
                }
            }
        }
    }

    /// Stores the parts of `[start, start + len)` that no earlier copy covers.
    fn insert(&mut self, start: i128, piece: Piece) {
        let len = i128::from(piece.len());
        if len == 0 {
            return;
        }
        let lo = start.max(i128::from(self.pos));
        let mut hi = start + len;
        if let Some(fin) = self.fin_at {
            hi = hi.min(i128::from(fin));
        }
        if hi <= lo {
            self.duplicate_bytes += len.max(0) as u64;
            return;
        }
        // Offsets are non-negative from here.
        let (lo_u, hi_u) = (lo as u64, hi as u64);
        // Stored pieces never overlap, so walking back from `hi` meets every piece that
        // overlaps and stops at the first that ends before `lo`.
        let mut covered: Vec<(u64, u64)> = Vec::new();
        for (&k, p) in self.early.range(..hi_u).rev() {
            let e = k + p.len();
            if e <= lo_u {
                break;
            }
            covered.push((k.max(lo_u), e.min(hi_u)));
        }
        covered.reverse();
        let mut cursor = lo_u;
        let mut free: Vec<(u64, u64)> = Vec::new();
        for (s, e) in covered {
            if s > cursor {
                free.push((cursor, s));
            }
            self.duplicate_bytes += e - s;
            cursor = cursor.max(e);
        }
        if cursor < hi_u {
            free.push((cursor, hi_u));
        }
        self.duplicate_bytes += (lo - start).max(0) as u64 + (start + len - hi).max(0) as u64;
        for (s, e) in free {
            let part = match &piece {
                Piece::Bytes(b) => {
                    let from = (i128::from(s) - start) as usize;
                    let to = (i128::from(e) - start) as usize;
                    Piece::Bytes(b.get(from..to).unwrap_or_default().to_vec())
                }
                Piece::Lost(_) => Piece::Lost(e - s),
            };
            self.buffered += part.cost();
            self.early.insert(s, part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(out: &[OwnedInput]) -> Vec<u8> {
        out.iter()
            .flat_map(|i| match i {
                OwnedInput::Data(d) => d.to_vec(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn in_order_out_of_order_and_duplicates() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.syn(99);
        r.segment(100, b"abc", 0, false, &mut out);
        r.segment(106, b"ghi", 0, false, &mut out);
        assert_eq!(data(&out), b"abc");
        assert!(r.buffered() > 0);
        r.segment(103, b"def", 0, false, &mut out);
        r.segment(100, b"XYZ", 0, false, &mut out);
        assert_eq!(data(&out), b"abcdefghi");
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.duplicate_bytes, 3);
    }

    #[test]
    fn in_order_segments_and_fin_go_straight_out() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.syn(9);
        r.segment(10, b"ab", 0, false, &mut out);
        r.segment(12, b"", 0, false, &mut out);
        r.segment(12, b"cd", 0, true, &mut out);
        r.segment(10, b"ab", 0, false, &mut out);
        assert_eq!(
            out,
            vec![
                OwnedInput::Data(b"ab".to_vec().into()),
                OwnedInput::Data(b"cd".to_vec().into()),
                OwnedInput::Fin
            ]
        );
        assert_eq!((r.position(), r.buffered(), r.duplicate_bytes), (4, 0, 2));
        assert!(r.fin_done());
    }

    #[test]
    fn first_copy_wins_on_overlap() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.anchor(0);
        r.segment(4, b"EFGH", 0, false, &mut out);
        // overlaps the held piece on both sides of a hole
        r.segment(2, b"cdxxxxij", 0, false, &mut out);
        r.segment(0, b"ab", 0, false, &mut out);
        assert_eq!(data(&out), b"abcdEFGHij");
    }

    #[test]
    fn wraps_around_two_to_the_32() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.syn(u32::MAX - 3);
        r.segment(1, b"efgh", 0, false, &mut out);
        r.segment(u32::MAX - 2, b"abcd", 0, false, &mut out);
        assert_eq!(data(&out), b"abcdefgh");
        assert_eq!(r.position(), 8);
    }

    #[test]
    fn ack_beyond_a_hole_makes_a_gap() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.syn(0);
        r.segment(1, b"ab", 0, false, &mut out);
        r.segment(8, b"zz", 0, false, &mut out);
        r.acknowledged(9, &mut out);
        assert_eq!(
            out,
            vec![
                OwnedInput::Data(b"ab".to_vec().into()),
                OwnedInput::Gap(5),
                OwnedInput::Data(b"zz".to_vec().into())
            ]
        );
        // an old or absurd acknowledgment changes nothing
        r.acknowledged(2, &mut out);
        r.acknowledged(2_000_000_000, &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn fin_beyond_a_hole_and_lost_tail() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.syn(0);
        r.segment(1, b"ab", 3, false, &mut out);
        r.segment(10, b"k", 0, true, &mut out);
        assert_eq!(
            out,
            vec![
                OwnedInput::Data(b"ab".to_vec().into()),
                OwnedInput::Gap(7),
                OwnedInput::Data(b"k".to_vec().into()),
                OwnedInput::Fin
            ]
        );
        r.segment(3, b"late", 0, false, &mut out);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn fin_before_held_data_cuts_it_off() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.anchor(0);
        r.segment(2, b"cdefgh", 0, false, &mut out);
        r.segment(4, b"", 0, true, &mut out);
        assert_eq!(
            out,
            vec![
                OwnedInput::Gap(2),
                OwnedInput::Data(b"cd".to_vec().into()),
                OwnedInput::Fin
            ]
        );
        assert_eq!(r.buffered(), 0);
        r.flush(&mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn rst_flushes_then_resets() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.anchor(50);
        r.segment(55, b"x", 0, false, &mut out);
        r.rst(&mut out);
        r.rst(&mut out);
        assert_eq!(
            out,
            vec![
                OwnedInput::Gap(5),
                OwnedInput::Data(b"x".to_vec().into()),
                OwnedInput::Rst
            ]
        );
    }
}

//! TLS record framing in the feeder, so that a passthrough connection's bulk data costs its
//! decoder a few bytes per record instead of a copy of every byte.
//!
//! Why: the decoder reads nothing of an application-data record it has no key for but its
//! length (the record layer counts it as encrypted; see `iotscope_decoder::tls`). Copying
//! 16 KiB per read for that is what made a bulk stream outrun the decoder's queue: the copies
//! were dropped and the decoder saw gaps. Passthrough has no key log, so once a direction is
//! framed as TLS records, its application-data records are handed on as their five-byte
//! headers ([`Input::Records`](iotscope_decoder::Input::Records)), and everything else (the
//! handshake, alerts, ChangeCipherSpec, anything that is not TLS) whole, in stream order.
//!
//! The framing is deliberately the decoder's own test of a header
//! ([`RecordHeader::well_formed`]): a direction whose first byte cannot start a record, or a
//! header that could not be one, turns the summarising off for the rest of the direction and
//! the bytes go whole from there, so the decoder sees and names what is wrong. A direction's
//! first record always goes whole, whatever its type: the decoder classifies the direction by
//! it, and one that starts with application data (no handshake) is then framed like any
//! other. A direction that starts with a text header block (an HTTP proxy tunnel's `CONNECT`
//! request, or the proxy's answer) goes whole up to the block's blank line, and is framed
//! from there as if it started there, which is how the decoder reads it too (a bulk TLS
//! stream through a tunnel would otherwise be copied whole). A recording needs every byte,
//! so a proxy that records does not summarise.
//!
//! A summarised record the connection closes in the middle of goes on as its header and as
//! many zeros as its body had passed: the decoder reads nothing of such a record but its
//! length, so it then sees the cut where it was, as it would with every byte.

use iotscope_decoder::tls::record::{RecordHeader, HEADER_LEN};

/// What one read becomes for the decoder, in stream order.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Bytes(Vec<u8>),
    /// Whole application-data records, by their headers.
    Records(Vec<RecordHeader>),
}

impl Piece {
    /// Bytes of the stream this piece stands for.
    pub fn wire_len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Records(h) => wire_len(h),
        }
    }

    /// Bytes this piece holds in memory while it waits for the decoder.
    pub fn held_len(&self) -> usize {
        match self {
            Piece::Bytes(b) => b.len(),
            Piece::Records(h) => h.len() * std::mem::size_of::<RecordHeader>(),
        }
    }
}

/// Bytes of the stream that whole records stand for.
pub fn wire_len(headers: &[RecordHeader]) -> u64 {
    headers
        .iter()
        .map(|h| HEADER_LEN as u64 + u64::from(h.len))
        .sum()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the direction's first byte (or the first after a header block).
    Start,
    /// Inside a text header block: whole, up to its blank line.
    Preamble,
    Records,
    /// Not TLS records, or no longer: every byte goes whole.
    Off,
}

/// One direction's record framing.
#[derive(Debug)]
pub struct Framer {
    state: State,
    head: [u8; HEADER_LEN],
    // Counts as narrow as they can be: every passthrough connection keeps two framers, and
    // in the relay's state (which the connection task keeps whole) each byte counts.
    head_len: u8,
    /// Inside a record: payload bytes still to pass (a record's length is 16 bits).
    left: u16,
    in_record: bool,
    /// The current record is handed on as its header.
    summarised: Option<RecordHeader>,
    /// The direction's first record has been handed on (whole).
    first_done: bool,
    /// Header-block bytes seen so far, and the last four of them.
    preamble_len: u32,
    preamble_tail: u32,
}

/// A header block longer than this is not one (the decoder's own bound): whole from there.
const PREAMBLE_LIMIT: u32 = 64 * 1024;

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    pub fn new() -> Framer {
        Framer {
            state: State::Start,
            head: [0; HEADER_LEN],
            head_len: 0,
            left: 0,
            in_record: false,
            summarised: None,
            first_done: false,
            preamble_len: 0,
            preamble_tail: 0,
        }
    }

    /// Every byte from here on goes whole: not TLS records.
    pub fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// Splits one read into the pieces the decoder gets, appended to `out` (adjacent pieces
    /// of a kind are joined). Up to four bytes of a header that is not complete yet are held
    /// until the next read, or [`Framer::finish`].
    pub fn split(&mut self, bytes: &[u8], out: &mut Vec<Piece>) {
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            match self.state {
                State::Off => {
                    push_bytes(out, rest);
                    i = bytes.len();
                }
                State::Start => {
                    // A byte that cannot start a record or a header block: the decoder reads
                    // the direction whole.
                    self.state = if (20..=24).contains(&rest[0]) {
                        State::Records
                    } else if rest[0].is_ascii_uppercase() && self.preamble_len == 0 {
                        State::Preamble
                    } else {
                        State::Off
                    };
                }
                State::Preamble => {
                    let mut take = 0;
                    let mut ended = false;
                    for &b in rest {
                        take += 1;
                        self.preamble_len += 1;
                        self.preamble_tail = (self.preamble_tail << 8) | u32::from(b);
                        if self.preamble_tail == u32::from_be_bytes(*b"\r\n\r\n") {
                            ended = true;
                            break;
                        }
                        if self.preamble_len >= PREAMBLE_LIMIT {
                            break;
                        }
                    }
                    push_bytes(out, &rest[..take]);
                    i += take;
                    if ended {
                        self.state = State::Start;
                    } else if self.preamble_len >= PREAMBLE_LIMIT {
                        self.state = State::Off;
                    }
                }
                State::Records if self.in_record => {
                    let take = usize::from(self.left).min(rest.len());
                    if self.summarised.is_none() {
                        push_bytes(out, &rest[..take]);
                    }
                    i += take;
                    // No more than `left`, so it fits.
                    self.left -= take as u16;
                    if self.left == 0 {
                        self.end_record(out);
                    }
                }
                State::Records => {
                    let held = usize::from(self.head_len);
                    let take = (HEADER_LEN - held).min(rest.len());
                    self.head[held..held + take].copy_from_slice(&rest[..take]);
                    // At most the header's five bytes.
                    self.head_len += take as u8;
                    i += take;
                    if usize::from(self.head_len) < HEADER_LEN {
                        continue;
                    }
                    let header = RecordHeader::from_bytes(self.head);
                    if !header.well_formed() {
                        self.state = State::Off;
                        push_bytes(out, &self.head);
                        self.head_len = 0;
                        continue;
                    }
                    self.in_record = true;
                    self.left = header.len;
                    if header.content_type == 23 && header.len > 0 && self.first_done {
                        self.summarised = Some(header);
                    } else {
                        push_bytes(out, &self.head);
                    }
                    if self.left == 0 {
                        self.end_record(out);
                    }
                }
            }
        }
    }

    fn end_record(&mut self, out: &mut Vec<Piece>) {
        if let Some(h) = self.summarised.take() {
            match out.last_mut() {
                Some(Piece::Records(hs)) => hs.push(h),
                _ => out.push(Piece::Records(vec![h])),
            }
        }
        self.in_record = false;
        self.head_len = 0;
        self.first_done = true;
    }

    /// The direction closed: what is still held, if anything.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        if self.in_record {
            if let Some(h) = self.summarised.take() {
                // Cut in the middle (see the module's note): no byte of the body was kept,
                // and the zeros stand for those that passed.
                let passed = usize::from(h.len - self.left);
                let mut cut = Vec::with_capacity(HEADER_LEN + passed);
                cut.extend_from_slice(&self.head);
                cut.resize(HEADER_LEN + passed, 0);
                push_bytes(out, &cut);
            }
            self.in_record = false;
            self.head_len = 0;
        } else if self.head_len > 0 {
            let held = self.head;
            push_bytes(out, &held[..usize::from(self.head_len)]);
            self.head_len = 0;
        }
    }
}

fn push_bytes(out: &mut Vec<Piece>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Piece::Bytes(b)) => b.extend_from_slice(bytes),
        _ => out.push(Piece::Bytes(bytes.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3, (len >> 8) as u8, len as u8];
        r.extend((0..len).map(|i| i as u8));
        r
    }

    /// The pieces of `stream` cut into reads of `read` bytes, joined across reads.
    fn pieces(stream: &[u8], read: usize) -> Vec<Piece> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(read) {
            f.split(chunk, &mut out);
        }
        f.finish(&mut out);
        // join across reads, as the decoder would see them
        let mut joined: Vec<Piece> = Vec::new();
        for p in out {
            match (joined.last_mut(), p) {
                (Some(Piece::Bytes(a)), Piece::Bytes(b)) => a.extend(b),
                (Some(Piece::Records(a)), Piece::Records(b)) => a.extend(b),
                (_, p) => joined.push(p),
            }
        }
        joined
    }

    #[test]
    fn application_records_become_headers_and_the_rest_stays_whole() {
        let hello = record(22, 300);
        let ccs = record(20, 1);
        let mut stream = hello.clone();
        stream.extend(&ccs);
        stream.extend(record(23, 16401));
        stream.extend(record(23, 19));
        let alert = record(21, 2);
        stream.extend(&alert);
        stream.extend(record(23, 100));
        let total = stream.len() as u64;
        for read in [1, 2, 5, 7, 1000, 16 * 1024, usize::MAX] {
            let got = pieces(&stream, read);
            let mut hello_ccs = hello.clone();
            hello_ccs.extend(&ccs);
            let h = |len: u16| RecordHeader::from_bytes([23, 3, 3, (len >> 8) as u8, len as u8]);
            assert_eq!(
                got,
                [
                    Piece::Bytes(hello_ccs),
                    Piece::Records(vec![h(16401), h(19)]),
                    Piece::Bytes(alert.clone()),
                    Piece::Records(vec![h(100)]),
                ],
                "reads of {read}"
            );
            assert_eq!(got.iter().map(Piece::wire_len).sum::<u64>(), total);
        }
    }

    #[test]
    fn what_is_not_tls_goes_whole() {
        let mqtt = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00".to_vec();
        assert_eq!(pieces(&mqtt, 3), [Piece::Bytes(mqtt.clone())]);
        // A bad header after good records: from there on, whole.
        let mut stream = record(22, 10);
        stream.extend(record(23, 50));
        let bad = b"GET / HTTP/1.1\r\n".to_vec();
        stream.extend(&bad);
        stream.extend(record(23, 50));
        let got = pieces(&stream, 4);
        let mut tail = bad.clone();
        tail.extend(record(23, 50));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2], Piece::Bytes(tail));
    }

    /// A direction that starts with application data (no handshake): its first record goes
    /// whole so the decoder can classify it, the rest as headers.
    #[test]
    fn a_stream_without_a_handshake_is_framed_after_its_first_record() {
        let first = record(23, 40);
        let mut stream = first.clone();
        stream.extend(record(23, 16384));
        stream.extend(record(23, 16384));
        let h = RecordHeader::from_bytes([23, 3, 3, 0x40, 0]);
        for read in [3, 4096, usize::MAX] {
            assert_eq!(
                pieces(&stream, read),
                [Piece::Bytes(first.clone()), Piece::Records(vec![h, h])],
                "reads of {read}"
            );
        }
    }

    /// Through an HTTP proxy tunnel: the request (or the answer) goes whole, then the TLS
    /// that follows the blank line is framed like any other.
    #[test]
    fn records_after_a_tunnel_request_are_framed() {
        let request = b"CONNECT endpoint.test:8883 HTTP/1.1\r\nHost: endpoint.test:8883\r\n\r\n";
        let hello = record(22, 300);
        let mut stream = request.to_vec();
        stream.extend(&hello);
        stream.extend(record(23, 1000));
        let h = RecordHeader::from_bytes([23, 3, 3, 0x03, 0xe8]);
        let mut whole = request.to_vec();
        whole.extend(&hello);
        for read in [1, 3, 50, usize::MAX] {
            assert_eq!(
                pieces(&stream, read),
                [Piece::Bytes(whole.clone()), Piece::Records(vec![h])],
                "reads of {read}"
            );
        }
        // Text that never ends a header block goes whole.
        let text = vec![b'A'; PREAMBLE_LIMIT as usize + 10];
        let mut stream = text.clone();
        stream.extend(record(23, 10));
        assert_eq!(pieces(&stream, 4096), [Piece::Bytes(stream.clone())]);
    }

    #[test]
    fn a_header_cut_by_the_close_is_handed_on() {
        let mut stream = record(22, 10);
        stream.extend([23, 3]);
        assert_eq!(pieces(&stream, 5), [Piece::Bytes(stream.clone())]);
    }

    /// A record the close cuts stands for the bytes that passed, not for the whole record.
    #[test]
    fn a_record_cut_by_the_close_is_handed_on_as_far_as_it_went() {
        let hello = record(22, 10);
        let mut stream = hello.clone();
        stream.extend(record(23, 30));
        stream.extend(&record(23, 1000)[..HEADER_LEN + 400]);
        let h = RecordHeader::from_bytes([23, 3, 3, 0, 30]);
        let mut cut = vec![23, 3, 3, 0x03, 0xe8];
        cut.resize(HEADER_LEN + 400, 0);
        for read in [1, 7, 300, usize::MAX] {
            let got = pieces(&stream, read);
            assert_eq!(
                got,
                [
                    Piece::Bytes(hello.clone()),
                    Piece::Records(vec![h]),
                    Piece::Bytes(cut.clone())
                ],
                "reads of {read}"
            );
            assert_eq!(
                got.iter().map(Piece::wire_len).sum::<u64>(),
                stream.len() as u64
            );
        }
    }

    /// The decoder reads a summarised direction as it reads every byte of it: the same events,
    /// a cut record at the close included.
    #[test]
    fn the_decoder_reads_the_pieces_as_it_reads_the_bytes() {
        use iotscope_decoder::{Direction, Identity, Input, Session, SessionConfig, Timestamp};
        let mut stream = record(22, 40);
        for len in [16384, 5, 700] {
            stream.extend(record(23, len));
        }
        stream.extend(&record(23, 2000)[..HEADER_LEN + 1234]);
        let dir = Direction::DeviceToEndpoint;
        let read = |inputs: Vec<Input<'static>>| {
            let mut s = Session::new(Identity::default(), SessionConfig::default());
            for (i, input) in inputs.into_iter().enumerate() {
                s.feed(dir, input, Timestamp(i as i64));
            }
            s.feed(dir, Input::Fin, Timestamp(1_000));
            let trace = s.finish();
            trace
                .events()
                .map(|e| format!("{:?}", e.kind))
                .collect::<Vec<_>>()
        };
        let whole = read(vec![Input::Data(stream.clone().into())]);
        let summarised = read(
            pieces(&stream, 4096)
                .into_iter()
                .map(|p| match p {
                    Piece::Bytes(b) => Input::Data(b.into()),
                    Piece::Records(h) => Input::Records(h),
                })
                .collect(),
        );
        assert_eq!(summarised, whole);
        assert!(
            whole
                .iter()
                .any(|e| e.starts_with("Unfinished") && e.contains("held: 1239")),
            "the cut shows in the trace: {whole:?}"
        );
    }
}

//! A bounds-checked cursor over one packet body, in the spec's data types (two-byte integers,
//! variable byte integers, length-prefixed UTF-8 strings and binary data).
//!
//! The body may be only partly held: a large packet keeps its first bytes and skips the rest.
//! So the cursor knows two ends: the packet's real end (`end`, from the remaining length) and
//! the end of the bytes kept. Running past the first means the packet is malformed; running
//! past only the second means it was too big to read whole. Every failure names the stream
//! offset where the field began.

/// Why decoding a packet stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The packet breaks the spec in a way that leaves its fields unreadable.
    Malformed(String),
    /// The packet's fields go on past the bytes the decoder keeps.
    Truncated(String),
}

pub(crate) struct Reader<'a> {
    kept: &'a [u8],
    pos: usize,
    end: usize,
    /// Stream offset of body byte 0.
    base: u64,
    /// Spec violations that did not stop decoding.
    pub problems: Vec<String>,
}

impl<'a> Reader<'a> {
    /// `kept` is the start of a body of `len` bytes that begins at stream offset `base`.
    pub fn new(kept: &'a [u8], len: usize, base: u64) -> Reader<'a> {
        Reader {
            kept: &kept[..kept.len().min(len)],
            pos: 0,
            end: len,
            base,
            problems: Vec::new(),
        }
    }

    pub fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    /// Stream offset of the next byte.
    pub fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left before the current end.
    pub fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn kept_len(&self) -> usize {
        self.kept.len()
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Narrows or restores the end (for a property block inside the body).
    pub fn set_end(&mut self, end: usize) {
        self.end = end;
    }

    /// Moves to `pos`, which must not be past the current end.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.end);
    }

    /// Bytes kept from the cursor to the end, at most `max`.
    pub fn peek_kept(&self, max: usize) -> &'a [u8] {
        let stop = self.kept.len().min(self.end);
        let start = self.pos.min(stop);
        &self.kept[start..stop.min(start.saturating_add(max))]
    }

    fn check(&self, n: usize, what: &str) -> Result<(), Stop> {
        if n > self.left() {
            return Err(Stop::Malformed(format!(
                "{what} at byte {} needs {n} bytes but only {} remain",
                self.at(),
                self.left()
            )));
        }
        Ok(())
    }

    /// The next `n` bytes, which must be both inside the packet and kept.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Stop> {
        self.check(n, what)?;
        let stop = self.pos + n;
        let Some(bytes) = self.kept.get(self.pos..stop) else {
            return Err(Stop::Truncated(format!(
                "{what} at byte {} lies beyond the {} bytes of the packet the decoder keeps",
                self.at(),
                self.kept.len()
            )));
        };
        self.pos = stop;
        Ok(bytes)
    }

    /// Steps over `n` bytes inside the packet whether or not they were kept.
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), Stop> {
        self.check(n, what)?;
        self.pos += n;
        Ok(())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Stop> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Stop> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Stop> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable byte integer: at most four bytes, seven bits each, low group first.
    pub fn varint(&mut self, what: &str) -> Result<u32, Stop> {
        let start = self.at();
        let mut value: u32 = 0;
        for i in 0..4 {
            let b = self.u8(what)?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Stop::Malformed(format!(
            "{what} at byte {start} is a variable byte integer longer than 4 bytes"
        )))
    }

    /// A length-prefixed UTF-8 string. Text that is not UTF-8 is kept (lossily) and noted.
    pub fn string(&mut self, what: &str) -> Result<String, Stop> {
        let at = self.at();
        let len = self.u16(what)? as usize;
        let bytes = self.take(len, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                if s.contains('\0') {
                    self.problem(format!("{what} at byte {at} contains a NUL character"));
                }
                Ok(s.to_string())
            }
            Err(_) => {
                self.problem(format!("{what} at byte {at} is not valid UTF-8"));
                Ok(String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }

    /// Length-prefixed binary data: only its length is returned, the bytes are skipped.
    pub fn binary_len(&mut self, what: &str) -> Result<usize, Stop> {
        let len = self.u16(what)? as usize;
        self.skip(len, what)?;
        Ok(len)
    }

    /// Length-prefixed binary data, returned whole.
    pub fn binary(&mut self, what: &str) -> Result<&'a [u8], Stop> {
        let len = self.u16(what)? as usize;
        self.take(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_ends() {
        let body = [0x00, 0x02, b'h', b'i', 0x81, 0x01, 0xff];
        let mut r = Reader::new(&body, body.len(), 100);
        assert_eq!(r.string("topic").unwrap(), "hi");
        assert_eq!(r.varint("length").unwrap(), 129);
        assert_eq!(r.at(), 106);
        match r.u16("packet identifier") {
            Err(Stop::Malformed(m)) => {
                assert_eq!(
                    m,
                    "packet identifier at byte 106 needs 2 bytes but only 1 remain"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kept_part_versus_packet_end() {
        let body = [0x00, 0x05, b'a', b'b'];
        // the packet is 7 bytes long but only 4 were kept
        let mut r = Reader::new(&body, 7, 0);
        assert!(matches!(r.string("filter"), Err(Stop::Truncated(_))));
        let mut r = Reader::new(&body, 4, 0);
        assert!(matches!(r.string("filter"), Err(Stop::Malformed(_))));
    }

    #[test]
    fn long_varint_and_bad_utf8() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x01], 5, 0);
        assert!(
            matches!(r.varint("property length"), Err(Stop::Malformed(m)) if m.contains("longer than 4"))
        );
        let mut r = Reader::new(&[0x00, 0x02, 0xc3, 0x28], 4, 9);
        assert_eq!(r.string("client identifier").unwrap(), "\u{fffd}(");
        assert_eq!(
            r.problems,
            ["client identifier at byte 9 is not valid UTF-8"]
        );
    }
}

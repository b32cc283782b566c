//! A sliding window over a byte source that always knows the file offset of its first byte.
//!
//! The capture parsers want whole records as slices; the file may be many gigabytes. The
//! window holds only the record being parsed (plus read-ahead), grows to the size of the
//! largest record it is asked for, and never further: callers check record lengths against
//! their limit before asking.

use std::io::{self, ErrorKind, Read};

/// Read-ahead when the window is refilled; records smaller than this cost one read.
const READ_AHEAD: usize = 256 * 1024;

pub(crate) struct Window<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> Window<R> {
    pub(crate) fn new(src: R) -> Window<R> {
        Window {
            src,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// The bytes held, starting at [`Window::offset`].
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// File offset of the first held byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes at least `want` bytes available if the source has them. Returns how many bytes
    /// are held afterwards (fewer than `want` only at end of file).
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<usize> {
        while self.end - self.start < want && !self.eof {
            if self.buf.len() - self.start < want {
                // Move the held bytes to the front, then grow if the record is still too big.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let size = want.max(READ_AHEAD);
                if self.buf.len() < size {
                    self.buf.resize(size, 0);
                }
            }
            let free = &mut self.buf[self.end..];
            match self.src.read(free) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Drops `n` parsed bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out at most 3 bytes per read, to exercise refills.
    struct Dribble<'a>(&'a [u8]);

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn offsets_follow_consumed_bytes_across_refills() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut w = Window::new(Dribble(&data));
        assert!(w.fill(10).unwrap() >= 10);
        assert_eq!(&w.bytes()[..10], &data[..10]);
        w.consume(7);
        assert_eq!(w.offset(), 7);
        assert!(w.fill(600).unwrap() >= 600);
        assert_eq!(w.bytes()[0], data[7]);
        assert_eq!(w.bytes()[599], data[606]);
        w.consume(600);
        assert_eq!(w.fill(5000).unwrap(), 1000 - 607);
        assert_eq!(w.bytes()[0], data[607]);
        w.consume(5000);
        assert_eq!(w.fill(1).unwrap(), 0);
        assert_eq!(w.offset(), 1000);
    }
}

//! A byte stream that copies what passes through it to a connection's decoder.
//!
//! It wraps the TCP socket under a rustls connection, so the decoder sees the records as they
//! were on the wire. The copies go through the same [`Tee`] as the passthrough relay's; with
//! tees that wait ([`Tee::waiting`], MITM) the stream reads and writes no more while the
//! decoder is its budget behind, so nothing is lost; with the others a copy never makes the
//! connection wait, and is dropped and counted when the decoder is behind.
//!
//! Bytes read are handed on one step late, at the stream's next use: rustls reads a flight,
//! processes it (deriving and logging the keys that the flight's later records need), and
//! only then reads or writes again. Holding the bytes until then is what puts a key in the
//! decoder's hands before the records it opens.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use iotscope_decoder::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::feed::{now, Tee};

pub struct TeeStream<S> {
    inner: S,
    /// The direction of the bytes read from `inner`, and of those written to it.
    read: Option<Tee>,
    write: Option<Tee>,
    held: Option<(Timestamp, Vec<u8>)>,
    /// Time of the last byte either way, for the idle timeout.
    last_activity: Arc<AtomicI64>,
}

impl<S> TeeStream<S> {
    /// `read`/`write` of `None` copy nothing (a leg nobody decodes).
    pub fn new(inner: S, read: Option<Tee>, write: Option<Tee>) -> TeeStream<S> {
        TeeStream {
            inner,
            read,
            write,
            held: None,
            last_activity: Arc::new(AtomicI64::new(now().0)),
        }
    }

    /// True when the bytes read last wait for room in the decoder's queue: the next read
    /// waits for the decoder, not for the socket.
    pub fn waits_for_decoder(&self) -> bool {
        self.held.is_some() && self.read.as_ref().is_some_and(|t| !t.has_room())
    }

    /// The stream under the copies.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn last_activity(&self) -> Arc<AtomicI64> {
        self.last_activity.clone()
    }

    /// Hands on the bytes read last. rustls has processed them once it returns what they
    /// carried, so a caller that waits for the decoder's view of them calls this first.
    pub fn hand_on_held(&mut self) {
        if let (Some((ts, bytes)), Some(tee)) = (self.held.take(), self.read.as_mut()) {
            tee.data(ts, &bytes);
        }
    }

    /// Hands on what is held and the closes that could not be queued at once. Call it when
    /// the connection is over.
    pub async fn finish(&mut self) {
        self.hand_on_held();
        for tee in [self.read.as_mut(), self.write.as_mut()]
            .into_iter()
            .flatten()
        {
            tee.finish().await;
        }
    }

    /// Reads what has already arrived, without waiting: after the peer's TLS close, its TCP
    /// close is usually right behind it, and reading it now puts it in the trace before
    /// anything iotscope passes on. True when the peer's side is closed.
    pub fn read_arrived(&mut self) -> bool
    where
        S: AsyncRead + Unpin,
    {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut buf = [0u8; 1024];
        loop {
            let mut rb = ReadBuf::new(&mut buf);
            match Pin::new(&mut *self).poll_read(&mut cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return true,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return true,
                Poll::Pending => return false,
            }
        }
    }

    /// Reads on until the peer closes its side, for at most `limit`, so that a FIN sent after
    /// the TLS close (which ends the copying) is still seen and reported.
    pub async fn read_to_close(&mut self, limit: std::time::Duration)
    where
        S: AsyncRead + Unpin,
    {
        use tokio::io::AsyncReadExt;
        // On the heap: this future is part of the connection's, which keeps its largest size.
        let mut buf = vec![0u8; 1024];
        let drain = async { while matches!(self.read(&mut buf).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(limit, drain).await;
    }
}

impl<S> Drop for TeeStream<S> {
    fn drop(&mut self) {
        self.hand_on_held();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TeeStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A tee that waits reads no more until the decoder has room for what it holds.
        if let (Some(_), Some(tee)) = (&this.held, &this.read) {
            std::task::ready!(tee.poll_room(cx));
        }
        this.hand_on_held();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &r {
            Poll::Ready(Ok(())) => {
                let ts = now();
                let got = buf.filled().get(before..).unwrap_or_default();
                if got.is_empty() {
                    if let Some(tee) = this.read.as_mut() {
                        tee.try_close(ts, false);
                    }
                } else {
                    this.last_activity.store(ts.0, Ordering::Relaxed);
                    if this.read.is_some() {
                        this.held = Some((ts, got.to_vec()));
                    }
                }
            }
            Poll::Ready(Err(_)) => {
                if let Some(tee) = this.read.as_mut() {
                    tee.try_close(now(), true);
                }
            }
            Poll::Pending => {}
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TeeStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.hand_on_held();
        if let Some(tee) = &this.write {
            std::task::ready!(tee.poll_room(cx));
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let ts = now();
            this.last_activity.store(ts.0, Ordering::Relaxed);
            if let Some(tee) = this.write.as_mut() {
                tee.data(ts, buf.get(..*n).unwrap_or_default());
            }
        }
        r
    }

    /// rustls hands over a flight (a ChangeCipherSpec and an alert, say) as several slices
    /// in one vectored write, and gives up after one call when the handshake has failed. The
    /// default would write the first slice only, and the alert would never leave.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.hand_on_held();
        if let Some(tee) = &this.write {
            std::task::ready!(tee.poll_room(cx));
        }
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            let ts = now();
            this.last_activity.store(ts.0, Ordering::Relaxed);
            if let Some(tee) = this.write.as_mut() {
                let mut left = *n;
                let mut written = Vec::with_capacity(left);
                for b in bufs {
                    let take = left.min(b.len());
                    written.extend_from_slice(b.get(..take).unwrap_or_default());
                    left -= take;
                }
                tee.data(ts, &written);
            }
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.hand_on_held();
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.hand_on_held();
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        if let Poll::Ready(Ok(())) = &r {
            if let Some(tee) = this.write.as_mut() {
                tee.try_close(now(), false);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::{Direction, Input};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::feed::Seen;

    /// A flight written as several slices at once reaches the peer and the decoder whole
    /// and in order.
    #[tokio::test]
    async fn vectored_writes_are_copied_whole() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let (tx, mut rx) = crate::feed::queue::channel(16);
        let mut tee = TeeStream::new(ours, None, Some(Tee::new(tx, Direction::DeviceToEndpoint)));
        let slices = [
            io::IoSlice::new(b"\x14\x03\x03\x00\x01\x01"),
            io::IoSlice::new(b"alert"),
        ];
        let n = tee.write_vectored(&slices).await.unwrap();
        assert_eq!(n, 11);
        let mut got = [0u8; 11];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x14\x03\x03\x00\x01\x01alert");
        match rx.try_recv().unwrap() {
            Seen::Input { dir, input, .. } => {
                assert_eq!(dir, Direction::DeviceToEndpoint);
                assert_eq!(input, Input::from(b"\x14\x03\x03\x00\x01\x01alert"));
            }
            other => panic!("{other:?}"),
        }
    }
}

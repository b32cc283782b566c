//! The plumbing that feeds a connection's [`Session`] from the tasks that move its bytes.
//!
//! The passthrough relay, the MITM legs and the probe all see a connection as async reads and
//! writes; the decoder wants one ordered stream of facts. A [`Tee`] per direction sends copies
//! of what passed as [`Seen`] values down the connection's queue; [`apply`] feeds each one to
//! the session; [`tee::TeeStream`] does the same from under a rustls connection.
//!
//! How much may wait for the decoder is bounded in bytes, per direction ([`DECODER_BYTES`]):
//! each queued copy holds a [`Charge`] on its direction's [`Budget`] until the decoder has
//! fed it and dropped it. What happens when the budget is spent depends on the mode:
//! - passthrough never makes the bytes wait: the copy is dropped, counted, and later fed as a
//!   gap. What keeps that from happening on a bulk stream is [`records`]: application-data
//!   records, which the decoder reads nothing of without a key but their length, go as their
//!   five-byte headers, so a stream at full speed costs the queue a few bytes per 16 KiB.
//!   Past that, a passthrough tee copies nothing the decoder has said it will not read: the
//!   decoder tells it, through the direction's budget, up to which byte of the stream it
//!   only counts ([`Session::unread_ahead`]: a protocol it does not decode, the rest of a large
//!   MQTT payload). Bytes not copied, skipped or dropped, go on as a count
//!   ([`Input::Unread`]) and the session sorts them: those it would not have read are
//!   counted, only the rest are a gap.
//! - MITM waits ([`Tee::waiting`]): iotscope makes the plaintext itself, and a gap there
//!   loses what the interception is for. The relay may run ahead of the decoder by the budget;
//!   beyond that its next read or write on the endpoint's leg waits until the decoder has
//!   caught up. The decoder (AES-GCM at over 1 GiB/s, MQTT per packet) is faster than the
//!   relay's own TLS work on both legs, so the waits are short; a printer that stops reading
//!   (a terminal paused) now slows an intercepted connection instead of blanking its trace.

pub mod packets;
pub mod queue;
pub mod records;
pub mod tee;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use iotscope_decoder::{Direction, Input, OwnedInput, Session, Timestamp};

use crate::relay::limits::{DECODER_BYTES, MESSAGE_COST};
use packets::{PacketFramer, Span};
use records::{Framer, Piece};

/// Bytes of one direction's copies waiting for the decoder, and the task waiting for room.
#[derive(Debug, Default)]
pub struct Budget {
    used: AtomicUsize,
    /// A tee that may hand on counts instead of copies (see [`Input::Unread`]): one whose
    /// copies nothing records.
    may_count: bool,
    /// Set by the decoder's side: the stream offset up to which the decoder only counts
    /// this direction's bytes (`u64::MAX`: all that follow).
    skip_until: AtomicU64,
    /// Bytes of the direction the decoder has been fed, copied or counted (its side only).
    fed: AtomicU64,
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Budget {
    fn has_room(&self) -> bool {
        self.used.load(Ordering::Acquire) < DECODER_BYTES
    }

    /// Ready when fewer than [`DECODER_BYTES`] wait; else the task is woken when a copy is
    /// released.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.has_room() {
            return Poll::Ready(());
        }
        if let Ok(mut w) = self.waker.lock() {
            match w.as_ref() {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => {
                    if let Some(old) = w.replace(cx.waker().clone()) {
                        old.wake();
                    }
                }
            }
        }
        self.waiting.store(true, Ordering::Release);
        // Released between the test and the registration: look again.
        if self.has_room() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// After the decoder took `wire` more bytes of the direction: how far it will only count.
    fn decoder_at(&self, wire: u64, unread_ahead: u64) {
        let fed = self.fed.load(Ordering::Relaxed).saturating_add(wire);
        self.fed.store(fed, Ordering::Relaxed);
        self.skip_until
            .store(fed.saturating_add(unread_ahead), Ordering::Relaxed);
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
        if self.waiting.swap(false, Ordering::AcqRel) {
            if let Some(w) = self.waker.lock().ok().and_then(|mut w| w.take()) {
                w.wake();
            }
        }
    }
}

/// A queued copy's share of its direction's [`Budget`], given back when it is dropped (after
/// the decoder fed it, or with the queue).
pub struct Charge(Option<(Arc<Budget>, usize)>);

impl Charge {
    pub fn none() -> Charge {
        Charge(None)
    }

    fn take(budget: &Arc<Budget>, n: usize) -> Charge {
        budget.used.fetch_add(n, Ordering::AcqRel);
        Charge(Some((budget.clone(), n)))
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some((b, n)) = self.0.take() {
            b.release(n);
        }
    }
}

impl std::fmt::Debug for Charge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Charge({})", self.0.as_ref().map_or(0, |(_, n)| *n))
    }
}

/// What the relay tells a connection's decoder: one decoder [`OwnedInput`] with where and
/// when it happened, or a key-log line for the recording.
#[derive(Debug)]
pub enum Seen {
    /// `dropped_before` bytes of the same direction were read before this but could not be
    /// queued; the decoder is told of them as a gap first.
    Input {
        dir: Direction,
        ts: Timestamp,
        dropped_before: u64,
        input: OwnedInput,
        /// What this copy holds of its direction's budget.
        charge: Charge,
    },
    /// A key-log line of one of iotscope's own TLS legs, for the recording.
    Secret { line: String },
}

impl Seen {
    /// A fact with nothing dropped before it.
    pub fn input(dir: Direction, ts: Timestamp, input: OwnedInput) -> Seen {
        Seen::Input {
            dir,
            ts,
            dropped_before: 0,
            input,
            charge: Charge::none(),
        }
    }

    /// The connection was accepted.
    pub fn open(ts: Timestamp) -> Seen {
        Seen::input(Direction::DeviceToEndpoint, ts, Input::Open)
    }

    /// A remark of the proxy's own, on the endpoint's side.
    pub fn note(ts: Timestamp, text: String) -> Seen {
        Seen::input(Direction::EndpointToDevice, ts, Input::Note(text.into()))
    }

    /// The proxy's own connection to the endpoint failed.
    pub fn upstream_failed(ts: Timestamp, failure: String) -> Seen {
        Seen::input(
            Direction::EndpointToDevice,
            ts,
            Input::UpstreamFailed(failure.into()),
        )
    }

    /// Bytes of this direction that were read before this event but never reached the
    /// decoder: `(direction, time, count)` when there were any.
    pub fn dropped(&self) -> Option<(Direction, Timestamp, u64)> {
        match *self {
            Seen::Input {
                dir,
                ts,
                dropped_before,
                ..
            } => (dropped_before > 0).then_some((dir, ts, dropped_before)),
            Seen::Secret { .. } => None,
        }
    }
}

pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos())
}

/// One direction's copies on their way to the decoder.
pub struct Tee {
    tx: queue::Sender<Seen>,
    pub dir: Direction,
    dropped: u64,
    closed: bool,
    /// A close that found the queue full, sent by [`Tee::finish`]. Boxed: it is rare, and
    /// every connection holds two tees or four.
    pending_close: Option<Box<Seen>>,
    budget: Arc<Budget>,
    /// MITM: the caller waits for room ([`Tee::poll_room`]) instead of losing copies.
    wait: bool,
    /// Passthrough without a recording: application records go as their headers.
    framer: Option<Framer>,
    /// Bytes of the direction this tee has been given.
    offset: u64,
    /// A counting tee whose direction starts like MQTT: large payloads go as counts.
    /// Boxed with its scratch list: most connections are TLS and never have one, and every
    /// idle connection keeps its tees for its whole life.
    packets: Option<Box<(PacketFramer, Vec<Span>)>>,
}

impl Tee {
    /// Copies every byte; a spent budget drops the copy (a gap), never making anyone wait.
    pub fn new(tx: queue::Sender<Seen>, dir: Direction) -> Tee {
        Tee {
            tx,
            dir,
            dropped: 0,
            closed: false,
            pending_close: None,
            budget: Arc::new(Budget::default()),
            wait: false,
            framer: None,
            offset: 0,
            packets: None,
        }
    }

    /// Like [`Tee::new`], but application-data records go as their headers (see
    /// [`records`]): for a relay whose bytes nobody decrypts or records.
    pub fn summarising(tx: queue::Sender<Seen>, dir: Direction) -> Tee {
        Tee {
            framer: Some(Framer::new()),
            budget: Arc::new(Budget {
                may_count: true,
                ..Budget::default()
            }),
            ..Tee::new(tx, dir)
        }
    }

    /// Copies every byte and loses none: the caller asks [`Tee::poll_room`] before it moves
    /// more bytes, and waits while the decoder is [`DECODER_BYTES`] behind.
    pub fn waiting(tx: queue::Sender<Seen>, dir: Direction) -> Tee {
        Tee {
            wait: true,
            ..Tee::new(tx, dir)
        }
    }

    /// Ready when the decoder has room for more of this direction (always, for a tee that
    /// does not wait).
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.wait || self.tx.is_closed() {
            return Poll::Ready(());
        }
        self.budget.poll_room(cx)
    }

    /// False while a tee that waits has its budget spent.
    pub fn has_room(&self) -> bool {
        !self.wait || self.tx.is_closed() || self.budget.has_room()
    }

    /// Never waits: when the budget is spent (a waiting tee's caller asked for room first, so
    /// there it is not), the copy is dropped and counted.
    pub fn data(&mut self, ts: Timestamp, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.offset == 0 && self.budget.may_count && packets::starts_mqtt(bytes[0]) {
            self.packets = Some(Box::new((PacketFramer::new(), Vec::new())));
        }
        let skip = self.skippable(bytes.len());
        self.offset += bytes.len() as u64;
        if skip > 0 {
            self.dropped += skip as u64;
            bytes = &bytes[skip..];
            if bytes.is_empty() {
                self.send_count(ts);
                return;
            }
        }
        if let Some(framing) = self.packets.as_mut() {
            let (framer, spans) = &mut **framing;
            let mut spans = std::mem::take(spans);
            framer.split(bytes, &mut spans);
            let mut at = 0;
            for span in spans.drain(..) {
                match span {
                    Span::Copy(n) => {
                        let part = &bytes[at..at + n];
                        self.send(ts, Input::Data(part.to_vec().into()), n, n as u64);
                        at += n;
                    }
                    Span::Count(n) => {
                        self.dropped += n as u64;
                        at += n;
                    }
                }
            }
            if let Some(framing) = self.packets.as_mut() {
                framing.1 = spans;
            }
            self.send_count(ts);
            return;
        }
        let Some(framer) = self.framer.as_mut() else {
            self.send(
                ts,
                Input::Data(bytes.to_vec().into()),
                bytes.len(),
                bytes.len() as u64,
            );
            return;
        };
        // A list per read, not a scratch list kept in the tee: kept, it held its room (a few
        // pieces of 32 bytes) in each direction of every idle connection.
        let mut pieces = Vec::new();
        framer.split(bytes, &mut pieces);
        self.send_pieces(ts, pieces);
    }

    /// How many of the next `len` bytes the decoder has said it only counts. Never inside
    /// record framing (the framer must see every byte to stay in step); TLS directions are
    /// not skipped anyway, the framer already hands their bulk on as headers.
    /// Once everything that follows is only counted, no framing matters any more.
    fn skippable(&mut self, len: usize) -> usize {
        if !self.budget.may_count {
            return 0;
        }
        let until = self.budget.skip_until.load(Ordering::Relaxed);
        if until == u64::MAX {
            self.packets = None;
            return len;
        }
        if self.packets.is_some() || self.framer.as_ref().is_some_and(|f| !f.is_off()) {
            return 0;
        }
        until.saturating_sub(self.offset).min(len as u64) as usize
    }

    /// Bytes not copied, handed on as their count when the queue has room; else the count
    /// waits for the next copy or the close, so the decoder hears of them in stream order.
    fn send_count(&mut self, ts: Timestamp) {
        if self.dropped == 0 {
            return;
        }
        if let Ok(permit) = self.tx.try_reserve() {
            permit.send(Seen::Input {
                dir: self.dir,
                ts,
                dropped_before: 0,
                input: Input::Unread(std::mem::take(&mut self.dropped)),
                charge: Charge::take(&self.budget, MESSAGE_COST),
            });
        }
    }

    fn send_pieces(&mut self, ts: Timestamp, pieces: Vec<Piece>) {
        for piece in pieces {
            let (held, wire) = (piece.held_len(), piece.wire_len());
            let input = match piece {
                Piece::Bytes(b) => Input::Data(b.into()),
                Piece::Records(h) => Input::Records(h),
            };
            self.send(ts, input, held, wire);
        }
    }

    /// Queues one copy holding `held` bytes that stands for `wire` bytes of the stream.
    fn send(&mut self, ts: Timestamp, input: OwnedInput, held: usize, wire: u64) {
        let cost = held + MESSAGE_COST;
        if !self.wait && !self.budget.has_room() {
            self.dropped += wire;
            return;
        }
        match self.tx.try_reserve() {
            Ok(permit) => {
                permit.send(Seen::Input {
                    dir: self.dir,
                    ts,
                    dropped_before: self.dropped,
                    input,
                    charge: Charge::take(&self.budget, cost),
                });
                self.dropped = 0;
            }
            Err(queue::TrySendError::Full(())) => self.dropped += wire,
            Err(queue::TrySendError::Closed(())) => {}
        }
    }

    /// Hands on what the record framing still holds (a header cut by the close).
    fn flush_framer(&mut self, ts: Timestamp) {
        let Some(framer) = self.framer.as_mut() else {
            return;
        };
        let mut pieces = Vec::new();
        framer.finish(&mut pieces);
        self.send_pieces(ts, pieces);
    }

    /// A close is sent even when the queue is full: it happens once, after this direction's
    /// relaying is over, so waiting here holds up no byte.
    pub async fn close(&mut self, ts: Timestamp, reset: bool) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        self.flush_framer(ts);
        let msg = self.close_message(ts, reset);
        let _ = self.tx.send(msg).await;
    }

    /// A close seen where nothing may wait (inside a stream's poll): queued now when there is
    /// room, else kept for [`Tee::finish`].
    pub fn try_close(&mut self, ts: Timestamp, reset: bool) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        self.flush_framer(ts);
        let msg = self.close_message(ts, reset);
        if let Err(queue::TrySendError::Full(msg)) = self.tx.try_send(msg) {
            self.pending_close = Some(Box::new(msg));
        }
    }

    /// Sends a close kept by [`Tee::try_close`].
    pub async fn finish(&mut self) {
        if let Some(msg) = self.pending_close.take() {
            let _ = self.tx.send(*msg).await;
        }
    }

    fn close_message(&mut self, ts: Timestamp, reset: bool) -> Seen {
        let dropped_before = std::mem::take(&mut self.dropped);
        Seen::Input {
            dir: self.dir,
            ts,
            dropped_before,
            input: if reset { Input::Rst } else { Input::Fin },
            // Nothing held; it names the budget for `apply`.
            charge: Charge::take(&self.budget, 0),
        }
    }
}

/// Feeds one thing the relay (or a tee) saw to the connection's session.
///
/// For a tee that may count, bytes it did not copy (skipped, or dropped when the queue was
/// full) are fed as [`Input::Unread`]: the session counts those it would not have read and
/// only the rest are a gap. Then the tee hears how far the session will only count.
pub fn apply(session: &mut Session, seen: Seen) {
    // Secrets reach the session through its key source; the line is for the recording.
    let Seen::Input {
        dir,
        ts,
        dropped_before,
        input,
        charge,
    } = seen
    else {
        return;
    };
    // The charge is held until the copy has been fed: its budget is given back after.
    let counting = charge.0.as_ref().map(|(b, _)| b).filter(|b| b.may_count);
    if dropped_before > 0 {
        let missed = if counting.is_some() {
            Input::Unread(dropped_before)
        } else {
            Input::Gap(dropped_before)
        };
        session.feed(dir, missed, ts);
    }
    let Some(budget) = counting else {
        session.feed(dir, input, ts);
        return;
    };
    let wire = dropped_before
        + match &input {
            Input::Data(b) => b.len() as u64,
            Input::Records(h) => records::wire_len(h),
            Input::Unread(n) | Input::Gap(n) => *n,
            _ => 0,
        };
    session.feed(dir, input, ts);
    budget.decoder_at(wire, session.unread_ahead(dir));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::limits::DECODER_QUEUE;
    use std::future::poll_fn;

    /// What the decoder reads nothing of is counted, not copied, and a full queue loses none
    /// of it: the copies dropped before the decoder had said so are counted too.
    #[tokio::test]
    async fn bytes_the_decoder_does_not_read_are_counted_and_never_lost() {
        use iotscope_decoder::{EventKind, Identity, SessionConfig};
        let (tx, mut rx) = queue::channel(DECODER_QUEUE);
        let mut tee = Tee::summarising(tx, Direction::DeviceToEndpoint);
        let mut session = Session::new(Identity::default(), SessionConfig::default());
        let chunk = vec![0x8eu8; 64 * 1024];
        let rounds = 4 * DECODER_BYTES / chunk.len() + DECODER_QUEUE;
        // The relay runs ahead before the decoder has classified anything: copies are dropped.
        for i in 0..rounds {
            tee.data(Timestamp(i as i64), &chunk);
        }
        assert!(tee.dropped > 0, "the queue should have overflowed");
        while let Ok(seen) = rx.try_recv() {
            apply(&mut session, seen);
        }
        assert_eq!(session.unread_ahead(Direction::DeviceToEndpoint), u64::MAX);
        // From here on, counts, with the decoder not taking anything meanwhile.
        for i in 0..rounds {
            tee.data(Timestamp((rounds + i) as i64), &chunk);
        }
        let closing = async move {
            tee.try_close(Timestamp(2 * rounds as i64), false);
            tee.finish().await;
        };
        let draining = async {
            while let Some(seen) = rx.recv().await {
                let counted = matches!(
                    seen,
                    Seen::Input {
                        input: Input::Unread(_) | Input::Fin,
                        ..
                    }
                );
                assert!(counted, "{seen:?}");
                apply(&mut session, seen);
            }
        };
        tokio::join!(closing, draining);
        let trace = session.finish();
        let (mut undecoded, mut gaps) = (0, 0);
        for e in trace.events() {
            match e.kind {
                EventKind::Undecoded { bytes, .. } => undecoded += bytes,
                EventKind::Gap { bytes } => gaps += bytes,
                _ => {}
            }
        }
        assert_eq!(gaps, 0);
        assert_eq!(undecoded, (2 * rounds * chunk.len()) as u64);
    }

    /// A passthrough tee drops what the budget has no room for and says how much; a waiting
    /// tee holds its caller until the decoder has taken what waits, and loses nothing.
    #[tokio::test]
    async fn the_budget_is_counted_in_bytes_and_given_back() {
        let (tx, mut rx) = queue::channel(DECODER_QUEUE);
        let mut tee = Tee::new(tx, Direction::DeviceToEndpoint);
        let chunk = vec![7u8; 16 * 1024];
        let fit = DECODER_BYTES / (chunk.len() + MESSAGE_COST) + 1;
        for _ in 0..fit + 3 {
            tee.data(Timestamp(0), &chunk);
        }
        let mut queued = Vec::new();
        while let Ok(s) = rx.try_recv() {
            queued.push(s);
        }
        assert_eq!(queued.len(), fit);
        // Once the decoder has taken them, the next copy says what was dropped before it.
        drop(queued);
        tee.data(Timestamp(1), b"x");
        let next = rx.try_recv().expect("room again");
        assert_eq!(
            next.dropped().map(|(_, _, n)| n),
            Some(3 * chunk.len() as u64)
        );

        let (tx, mut rx) = queue::channel(DECODER_QUEUE);
        let mut tee = Tee::waiting(tx, Direction::EndpointToDevice);
        let mut sent = 0;
        while poll_fn(|cx| Poll::Ready(tee.poll_room(cx).is_ready())).await {
            tee.data(Timestamp(0), &chunk);
            sent += 1;
        }
        assert_eq!(sent, fit);
        // The decoder takes one: the waiting side is woken and has room.
        let waiter = async { poll_fn(|cx| tee.poll_room(cx)).await };
        let taker = async {
            tokio::task::yield_now().await;
            drop(rx.recv().await);
        };
        tokio::join!(waiter, taker);
        let mut got = 0;
        while let Ok(s) = rx.try_recv() {
            assert!(s.dropped().is_none());
            got += 1;
        }
        assert_eq!(got, fit - 1);
    }
}

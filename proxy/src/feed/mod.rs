//! The plumbing that feeds a connection's [`Session`] from the tasks that move its bytes.
//!
//! The passthrough relay, the MITM legs and the probe all see a connection as async reads and
//! writes; the decoder wants one ordered stream of facts. A [`Tee`] per direction sends copies
//! of what passed as [`Seen`] values down a bounded queue, never making the bytes wait (a full
//! queue costs the decoder that copy, counted and later fed as a gap); [`apply`] feeds each one
//! to the session; [`tee::TeeStream`] does the same from under a rustls connection.

pub mod tee;

use iotscope_decoder::{Direction, Input, OwnedInput, Session, Timestamp};
use tokio::sync::mpsc;

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
    tx: mpsc::Sender<Seen>,
    pub dir: Direction,
    dropped: u64,
    closed: bool,
    /// A close that found the queue full, sent by [`Tee::finish`].
    pending_close: Option<Seen>,
}

impl Tee {
    pub fn new(tx: mpsc::Sender<Seen>, dir: Direction) -> Tee {
        Tee {
            tx,
            dir,
            dropped: 0,
            closed: false,
            pending_close: None,
        }
    }

    /// Never waits: a full queue costs the decoder this copy, not the relay any time.
    pub fn data(&mut self, ts: Timestamp, bytes: &[u8]) {
        match self.tx.try_reserve() {
            Ok(permit) => {
                permit.send(Seen::Input {
                    dir: self.dir,
                    ts,
                    dropped_before: self.dropped,
                    input: Input::Data(bytes.to_vec().into()),
                });
                self.dropped = 0;
            }
            Err(mpsc::error::TrySendError::Full(())) => self.dropped += bytes.len() as u64,
            Err(mpsc::error::TrySendError::Closed(())) => {}
        }
    }

    /// A close is sent even when the queue is full: it happens once, after this direction's
    /// relaying is over, so waiting here holds up no byte.
    pub async fn close(&mut self, ts: Timestamp, reset: bool) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let msg = self.close_message(ts, reset);
        let _ = self.tx.send(msg).await;
    }

    /// A close seen where nothing may wait (inside a stream's poll): queued now when there is
    /// room, else kept for [`Tee::finish`].
    pub fn try_close(&mut self, ts: Timestamp, reset: bool) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let msg = self.close_message(ts, reset);
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.tx.try_send(msg) {
            self.pending_close = Some(msg);
        }
    }

    /// Sends a close kept by [`Tee::try_close`].
    pub async fn finish(&mut self) {
        if let Some(msg) = self.pending_close.take() {
            let _ = self.tx.send(msg).await;
        }
    }

    fn close_message(&mut self, ts: Timestamp, reset: bool) -> Seen {
        let dropped_before = std::mem::take(&mut self.dropped);
        Seen::Input {
            dir: self.dir,
            ts,
            dropped_before,
            input: if reset { Input::Rst } else { Input::Fin },
        }
    }
}

/// Feeds one thing the relay (or a tee) saw to the connection's session.
pub fn apply(session: &mut Session, seen: Seen) {
    if let Some((dir, ts, n)) = seen.dropped() {
        session.feed(dir, Input::Gap(n), ts);
    }
    match seen {
        Seen::Input { dir, ts, input, .. } => session.feed(dir, input, ts),
        // Secrets reach the session through its key source; the line is for the recording.
        Seen::Secret { .. } => {}
    }
}

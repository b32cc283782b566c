//! The probe's own connection, decoded as any other: the tee under rustls queues the raw
//! bytes, the secret log hands over the keys, and the session turns both into the trace the
//! findings are made from. The probe also asks it which MQTT answers have arrived, so the
//! answers are the decoder's reading, not a second parser's.

use std::sync::Arc;

use iotscope_decoder::keylog::LiveKeys;
use iotscope_decoder::mqtt::{Packet, PacketType};
use iotscope_decoder::{Direction, EventKind, Identity, Input, Session, SessionConfig, Trace};

use crate::feed::apply;
use crate::feed::{now, queue, Seen, Tee};

/// Copies queued before the probe drains them. A probe's exchange is a few dozen reads and
/// writes, drained after each step, so the queue never fills.
const QUEUE: usize = 1024;

pub struct Decoding {
    session: Session,
    rx: queue::Receiver<Seen>,
    tx: queue::Sender<Seen>,
}

impl Decoding {
    pub fn new(identity: Identity, keys: Arc<LiveKeys>) -> Decoding {
        let (tx, rx) = queue::channel(QUEUE);
        let session = Session::new(
            identity,
            SessionConfig {
                keylog: Some(keys),
                ..SessionConfig::default()
            },
        );
        Decoding { session, rx, tx }
    }

    /// A tee for one direction of the connection.
    pub fn tee(&self, dir: Direction) -> Tee {
        Tee::new(self.tx.clone(), dir)
    }

    /// Decodes everything queued so far.
    pub fn drain(&mut self) {
        while let Ok(seen) = self.rx.try_recv() {
            apply(&mut self.session, seen);
        }
    }

    /// A TCP fact the probe learned itself (the connection opened, or was refused).
    pub fn feed(&mut self, dir: Direction, input: Input<'_>) {
        self.drain();
        self.session.feed(dir, input, now());
    }

    pub fn upstream_failed(&mut self, failure: &str) {
        self.drain();
        self.session.feed(
            Direction::EndpointToDevice,
            Input::UpstreamFailed(failure.into()),
            now(),
        );
    }

    /// A remark of the probe's own in the ladder, on the side it concerns.
    pub fn note(&mut self, dir: Direction, text: &str) {
        self.drain();
        self.session.feed(dir, Input::Note(text.into()), now());
    }

    /// How many events the trace has had; a later [`Decoding::answer`] looks after it.
    pub fn mark(&self) -> u64 {
        self.session.trace().total_events()
    }

    /// The first MQTT packet of `kind` from the endpoint since `mark` that `fits`.
    pub fn answer(
        &self,
        mark: u64,
        kind: PacketType,
        fits: impl Fn(&Packet) -> bool,
    ) -> Option<Packet> {
        self.session
            .trace()
            .events_since(mark)
            .find_map(|e| match &e.kind {
                EventKind::Mqtt(p)
                    if e.dir == Direction::EndpointToDevice && p.packet_type == kind && fits(p) =>
                {
                    Some((**p).clone())
                }
                _ => None,
            })
    }

    /// Did the endpoint ask for a client certificate (a CertificateRequest, readable in TLS
    /// 1.2 and, with the keys, in TLS 1.3)?
    pub fn certificate_requested(&self) -> bool {
        self.session
            .trace()
            .find(Some(Direction::EndpointToDevice), |k| {
                matches!(k, EventKind::CertificateRequest { .. })
            })
            .next()
            .is_some()
    }

    /// Ends the session: everything still queued is decoded first.
    pub fn finish(mut self) -> Trace {
        self.drain();
        let Decoding { session, .. } = self;
        session.finish()
    }
}

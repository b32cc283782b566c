//! The one way parsers add events to a trace: with the direction, time and layer of the bytes
//! they are reading.

use crate::event::{Direction, Event, EventKind, Timestamp};
use crate::trace::Trace;

pub struct Emit<'a> {
    trace: &'a mut Trace,
    pub dir: Direction,
    pub ts: Timestamp,
    /// Set while reading bytes that were decrypted.
    pub decrypted: bool,
}

impl<'a> Emit<'a> {
    pub fn new(trace: &'a mut Trace, dir: Direction, ts: Timestamp, decrypted: bool) -> Self {
        Emit {
            trace,
            dir,
            ts,
            decrypted,
        }
    }

    pub fn emit(&mut self, kind: EventKind) {
        self.trace.push(Event {
            ts: self.ts,
            dir: self.dir,
            decrypted: self.decrypted,
            kind,
        });
    }

    /// The latest event of the whole trace (either direction), to extend a run in place.
    pub fn last_mut(&mut self) -> Option<&mut Event> {
        self.trace.last_mut()
    }

    /// The same sink for decrypted bytes.
    pub fn decrypted(&mut self) -> Emit<'_> {
        Emit {
            trace: self.trace,
            dir: self.dir,
            ts: self.ts,
            decrypted: true,
        }
    }

    pub fn trace(&self) -> &Trace {
        self.trace
    }
}

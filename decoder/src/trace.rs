//! The Trace: the ordered events of one connection and who took part in it.
//!
//! A connection can run for days, so the trace keeps the first [`HEAD_EVENTS`] events and the
//! last [`TAIL_EVENTS`], and counts what it left out between them. The handshake and the MQTT
//! session set-up are always in the head; the way the connection ended is always in the tail.

use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::event::{Direction, Event, EventKind, Timestamp};

pub const HEAD_EVENTS: usize = 2048;
pub const TAIL_EVENTS: usize = 512;

/// Who took part in a connection, and when.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Identity {
    /// The device's address, when known.
    pub device: Option<SocketAddr>,
    /// The endpoint's address as dialled (for the proxy: the upstream).
    pub endpoint: Option<SocketAddr>,
    /// The endpoint's name, when the feeder knows one (the proxy's `--upstream`).
    pub endpoint_name: Option<String>,
    /// Where this connection came from: a capture file name, `proxy`, `probe`.
    pub source: Option<String>,
    /// A number that is unique within its source.
    pub number: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub identity: Identity,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    head: Vec<Event>,
    tail: VecDeque<Event>,
    omitted: u64,
    total: u64,
}

impl Trace {
    pub fn new(identity: Identity) -> Trace {
        Trace {
            identity,
            ..Trace::default()
        }
    }

    pub fn push(&mut self, event: Event) {
        if self.first_ts.is_none() {
            self.first_ts = Some(event.ts);
        }
        self.last_ts = Some(self.last_ts.map_or(event.ts, |t| t.max(event.ts)));
        self.total += 1;
        if self.head.len() < HEAD_EVENTS {
            if self.head.len() == self.head.capacity() {
                self.head.reserve_exact(head_growth(self.head.len()));
            }
            self.head.push(event);
            return;
        }
        if self.tail.len() == TAIL_EVENTS {
            self.tail.pop_front();
            self.omitted += 1;
        }
        self.tail.push_back(event);
    }

    /// Room the head has for events it was given but does not use.
    pub fn spare_events(&self) -> usize {
        self.head.capacity() - self.head.len()
    }

    /// The most recent event, for merging runs of encrypted records.
    pub fn last_mut(&mut self) -> Option<&mut Event> {
        match self.tail.back_mut() {
            Some(e) => Some(e),
            None => self.head.last_mut(),
        }
    }

    /// All kept events in order.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> + Clone {
        self.head.iter().chain(self.tail.iter())
    }

    /// Events kept from position `from` (counting every event ever pushed) onwards; for live
    /// output that prints each event once.
    pub fn events_since(&self, from: u64) -> impl Iterator<Item = &Event> {
        let kept_before_tail = self.head.len() as u64 + self.omitted;
        let skip_head = (from as usize).min(self.head.len());
        let skip_tail = from.saturating_sub(kept_before_tail) as usize;
        self.head[skip_head..]
            .iter()
            .chain(self.tail.iter().skip(skip_tail))
    }

    /// How many events were ever pushed.
    pub fn total_events(&self) -> u64 {
        self.total
    }

    /// How many events were left out between head and tail.
    pub fn omitted_events(&self) -> u64 {
        self.omitted
    }

    /// Seconds since the first event.
    pub fn relative(&self, ts: Timestamp) -> f64 {
        self.first_ts.map_or(0.0, |t0| ts.seconds_since(t0))
    }

    /// Events of one kind in one direction.
    pub fn find<'a, F>(&'a self, dir: Option<Direction>, f: F) -> impl Iterator<Item = &'a Event>
    where
        F: Fn(&EventKind) -> bool + 'a,
    {
        self.events()
            .filter(move |e| dir.is_none_or(|d| e.dir == d) && f(&e.kind))
    }
}

/// How many events the head grows by when full: a quarter of what it holds (at least two,
/// at most what is left of [`HEAD_EVENTS`]). A `Vec` would double; a proxy holds thousands of
/// traces of idle connections, each with a handshake's ten or twenty events, and doubling
/// leaves up to half of each unused (96 bytes an event). A quarter costs a few more copies
/// on the way to a long connection's 2,048 (about four times the head's size in all, once).
fn head_growth(len: usize) -> usize {
    (len / 4).max(2).min(HEAD_EVENTS - len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: i64) -> Event {
        Event {
            ts: Timestamp(i),
            dir: Direction::DeviceToEndpoint,
            decrypted: false,
            kind: EventKind::Gap { bytes: i as u64 },
        }
    }

    /// The head grows by a quarter, so a short trace leaves little room unused.
    #[test]
    fn the_head_grows_by_a_quarter() {
        let mut t = Trace::default();
        for i in 0..10 {
            t.push(ev(i));
        }
        // 2, 4, 6, 8, 10: full, nothing spare.
        assert_eq!(t.spare_events(), 0);
        t.push(ev(10));
        assert_eq!(t.spare_events(), 1);
        for i in 11..(HEAD_EVENTS as i64) {
            t.push(ev(i));
            assert!(t.spare_events() <= t.total_events() as usize / 4 + 2);
        }
        assert_eq!(t.spare_events(), 0, "never beyond HEAD_EVENTS");
    }

    #[test]
    fn keeps_head_and_tail() {
        let mut t = Trace::default();
        let n = (HEAD_EVENTS + TAIL_EVENTS + 100) as i64;
        for i in 0..n {
            t.push(ev(i));
        }
        assert_eq!(t.total_events(), n as u64);
        assert_eq!(t.omitted_events(), 100);
        let kept: Vec<i64> = t.events().map(|e| e.ts.0).collect();
        assert_eq!(kept.len(), HEAD_EVENTS + TAIL_EVENTS);
        assert_eq!(kept[HEAD_EVENTS - 1], HEAD_EVENTS as i64 - 1);
        assert_eq!(kept[HEAD_EVENTS], HEAD_EVENTS as i64 + 100);
        assert_eq!(*kept.last().unwrap(), n - 1);
        // live output: the last event pushed is the only one "since" total-1
        let since: Vec<i64> = t.events_since(n as u64 - 1).map(|e| e.ts.0).collect();
        assert_eq!(since, vec![n - 1]);
        let since0: Vec<i64> = t.events_since(3).map(|e| e.ts.0).take(1).collect();
        assert_eq!(since0, vec![3]);
        assert_eq!(t.first_ts, Some(Timestamp(0)));
        assert_eq!(t.last_ts, Some(Timestamp(n - 1)));
    }
}

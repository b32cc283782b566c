//! The state every connection shares: sessions by client id (with their subscriptions and,
//! for persistent sessions, the QoS 1 messages queued while the device is away), retained
//! messages, and the routing of a PUBLISH to its subscribers.
//!
//! Why one mutex: the broker's work per message is a few map lookups; a local endpoint for
//! tests and demos never needs more, and one lock makes a takeover (a new connection with a
//! client id in use) atomic with the routing that follows it.
//!
//! AWS behaviours here, with their sources (reference §2, §2.1, §2.2, §4):
//! - a second connection with a client id in use takes it over, the older one is
//!   disconnected (mqtt.md, life-cycle events: `DUPLICATE_CLIENTID`; MQTT 5 0x8E);
//! - `iot:Receive` is checked on every delivery ([DOC-2021] iot-policy-actions.md);
//! - persistent sessions keep subscriptions and queue QoS 1 messages; they expire after 1 h by
//!   default (quotas page); sessions do not carry over between MQTT versions (mqtt.md);
//! - retained messages go to new subscribers of a topic, not of a wildcard filter (policy page
//!   notes, reference §4).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotscope_decoder::policy::{evaluate, Action, Decision, Device, Policy, Request};
use tokio::sync::{mpsc, oneshot};

use super::packets;
use super::topics;
use crate::limits::QUEUE;

/// Why the broker ends a connection from outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Another connection took the client id.
    TakenOver,
}

/// A message on its way to subscribers.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Arc<Vec<u8>>,
    pub qos: u8,
    pub retain: bool,
}

/// What a connection's policies decide, kept with its session for `iot:Receive`.
#[derive(Clone)]
pub struct Authz {
    pub policies: Arc<Vec<Policy>>,
    pub device: Arc<Device>,
}

impl Authz {
    pub fn allows(&self, action: Action, name: &str) -> bool {
        evaluate(&self.policies, &self.device, &Request::new(action, name)).decision
            == Decision::Allow
    }
}

/// The connection that holds a session now.
pub struct Owner {
    pub conn: u64,
    pub tx: mpsc::Sender<Vec<u8>>,
    pub kick: Option<oneshot::Sender<Kick>>,
}

struct Session {
    owner: Option<Owner>,
    level: u8,
    /// Filter and granted QoS.
    subs: Vec<(String, u8)>,
    persistent: bool,
    expiry: Duration,
    gone_at: Option<Instant>,
    queue: VecDeque<Message>,
    next_id: u16,
    authz: Authz,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        self.gone_at
            .is_some_and(|t| now.duration_since(t) >= self.expiry)
    }

    fn packet_id(&mut self) -> u16 {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.next_id
    }
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Session>,
    retained: HashMap<String, Message>,
}

#[derive(Default)]
pub struct Broker {
    state: Mutex<State>,
}

/// What a device asks for its session at CONNECT.
pub struct Attach {
    pub client_id: String,
    pub owner: Owner,
    pub level: u8,
    /// Start afresh (clean session / clean start).
    pub clean: bool,
    pub persistent: bool,
    pub expiry: Duration,
    pub authz: Authz,
}

impl Broker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the client id for a new connection; returns whether a session was present and
    /// the messages queued for it while it was away.
    pub fn attach(&self, a: Attach) -> (bool, Vec<Message>) {
        let now = Instant::now();
        let mut st = self.state();
        st.sessions
            .retain(|_, s| s.owner.is_some() || !s.expired(now));
        let mut present = false;
        let mut queued = Vec::new();
        if let Some(old) = st.sessions.get_mut(&a.client_id) {
            if let Some(mut o) = old.owner.take() {
                if let Some(k) = o.kick.take() {
                    let _ = k.send(Kick::TakenOver);
                }
            }
            let resume = !a.clean && old.persistent && old.level == a.level;
            if resume {
                present = true;
                queued = old.queue.drain(..).collect();
                old.owner = Some(a.owner);
                old.persistent = a.persistent;
                old.expiry = a.expiry;
                old.gone_at = None;
                old.authz = a.authz;
                return (present, queued);
            }
        }
        st.sessions.insert(
            a.client_id,
            Session {
                owner: Some(a.owner),
                level: a.level,
                subs: Vec::new(),
                persistent: a.persistent,
                expiry: a.expiry,
                gone_at: None,
                queue: VecDeque::new(),
                next_id: 0,
                authz: a.authz,
            },
        );
        (present, queued)
    }

    /// The connection `conn` ended; its session stays only when persistent.
    pub fn detach(&self, client_id: &str, conn: u64) {
        let mut st = self.state();
        let Some(s) = st.sessions.get_mut(client_id) else {
            return;
        };
        if s.owner.as_ref().map(|o| o.conn) != Some(conn) {
            return; // taken over: the session is the newer connection's now
        }
        if s.persistent {
            s.owner = None;
            s.gone_at = Some(Instant::now());
        } else {
            st.sessions.remove(client_id);
        }
    }

    /// Adds (or replaces) a subscription; returns the retained messages it gets at once.
    pub fn subscribe(&self, client_id: &str, filter: &str, qos: u8) -> Vec<Message> {
        let mut st = self.state();
        let retained: Vec<Message> = if topics::is_wildcard(filter) {
            Vec::new()
        } else {
            st.retained.get(filter).cloned().into_iter().collect()
        };
        if let Some(s) = st.sessions.get_mut(client_id) {
            s.subs.retain(|(f, _)| f != filter);
            s.subs.push((filter.to_string(), qos));
        }
        retained
    }

    pub fn subscriptions(&self, client_id: &str) -> usize {
        self.state()
            .sessions
            .get(client_id)
            .map_or(0, |s| s.subs.len())
    }

    pub fn unsubscribe(&self, client_id: &str, filter: &str) {
        if let Some(s) = self.state().sessions.get_mut(client_id) {
            s.subs.retain(|(f, _)| f != filter);
        }
    }

    /// Writes a message for one session's connection, or queues it when the session is
    /// persistent and away. QoS 0 messages to a connection whose queue is full are dropped.
    fn deliver(s: &mut Session, m: &Message, qos: u8, retain: bool) {
        if !s.authz.allows(Action::Receive, &m.topic) {
            return;
        }
        let id = if qos > 0 { s.packet_id() } else { 0 };
        match &s.owner {
            Some(o) => {
                let p = packets::publish_out(s.level, &m.topic, qos, retain, id, &m.payload);
                let _ = o.tx.try_send(p);
            }
            None if s.persistent && qos > 0 => {
                if s.queue.len() >= QUEUE {
                    s.queue.pop_front();
                }
                s.queue.push_back(Message {
                    qos,
                    retain,
                    ..m.clone()
                });
            }
            None => {}
        }
    }

    /// Routes a PUBLISH to every matching subscription and keeps it when retained (an empty
    /// retained payload clears the topic's retained message).
    pub fn publish(&self, m: Message) {
        let mut st = self.state();
        if m.retain {
            if m.payload.is_empty() {
                st.retained.remove(&m.topic);
            } else {
                st.retained.insert(m.topic.clone(), m.clone());
            }
        }
        for s in st.sessions.values_mut() {
            let best = s
                .subs
                .iter()
                .filter(|(f, _)| topics::matches(f, &m.topic))
                .map(|(_, q)| *q)
                .max();
            if let Some(q) = best {
                // A forwarded message keeps retain = 0 (MQTT 3.3.1.3): it is live.
                Self::deliver(s, &m, q.min(m.qos), false);
            }
        }
    }

    /// Sends one message to one session: a retained message to a new subscriber, or a
    /// message queued while a persistent session was away.
    pub fn send_one(&self, client_id: &str, m: &Message, qos: u8, retain: bool) {
        let mut st = self.state();
        if let Some(s) = st.sessions.get_mut(client_id) {
            Self::deliver(s, m, qos.min(m.qos), retain);
        }
    }

    /// Drops every connection's sender (at shutdown, so that writers end).
    pub fn close_all(&self) {
        let mut st = self.state();
        for s in st.sessions.values_mut() {
            s.owner = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::policy::parse_policies;

    fn allow_all() -> Authz {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
        Authz {
            policies: Arc::new(parse_policies("all", doc).unwrap()),
            device: Arc::new(Device::default()),
        }
    }

    fn attach(
        b: &Broker,
        id: &str,
        conn: u64,
        clean: bool,
        persistent: bool,
    ) -> (mpsc::Receiver<Vec<u8>>, oneshot::Receiver<Kick>, bool) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (ktx, krx) = oneshot::channel();
        let (present, _) = b.attach(Attach {
            client_id: id.into(),
            owner: Owner {
                conn,
                tx,
                kick: Some(ktx),
            },
            level: 4,
            clean,
            persistent,
            expiry: Duration::from_secs(60),
            authz: allow_all(),
        });
        (rx, krx, present)
    }

    fn msg(topic: &str, qos: u8, retain: bool, payload: &[u8]) -> Message {
        Message {
            topic: topic.into(),
            payload: Arc::new(payload.to_vec()),
            qos,
            retain,
        }
    }

    #[test]
    fn a_second_attach_kicks_the_first_and_keeps_the_session_its_own() {
        let b = Broker::default();
        let (_rx1, mut k1, _) = attach(&b, "a", 1, true, false);
        let (_rx2, _k2, present) = attach(&b, "a", 2, true, false);
        assert!(!present);
        assert_eq!(k1.try_recv(), Ok(Kick::TakenOver));
        // The first connection ending must not remove the second's session.
        b.detach("a", 1);
        b.subscribe("a", "t", 1);
        assert_eq!(b.subscriptions("a"), 1);
    }

    #[test]
    fn a_persistent_session_queues_qos_1_while_away_within_its_bound() {
        let b = Broker::default();
        let (_rx, _k, _) = attach(&b, "p", 1, false, true);
        b.subscribe("p", "t/#", 1);
        b.detach("p", 1);
        for i in 0..(QUEUE + 5) {
            b.publish(msg("t/x", 1, false, format!("{i}").as_bytes()));
        }
        b.publish(msg("t/x", 0, false, b"qos0 is not queued"));
        let (tx, _rx) = mpsc::channel(QUEUE);
        let (present, queued) = b.attach(Attach {
            client_id: "p".into(),
            owner: Owner {
                conn: 2,
                tx,
                kick: None,
            },
            level: 4,
            clean: false,
            persistent: true,
            expiry: Duration::from_secs(60),
            authz: allow_all(),
        });
        assert!(present);
        assert_eq!(queued.len(), QUEUE, "bounded, oldest dropped");
        assert_eq!(&queued[0].payload[..], b"5");
        // Another MQTT version starts afresh (mqtt.md: no cross-version sessions).
        let (tx, _rx) = mpsc::channel(QUEUE);
        b.detach("p", 2);
        let (present, _) = b.attach(Attach {
            client_id: "p".into(),
            owner: Owner {
                conn: 3,
                tx,
                kick: None,
            },
            level: 5,
            clean: false,
            persistent: true,
            expiry: Duration::from_secs(60),
            authz: allow_all(),
        });
        assert!(!present);
    }

    #[test]
    fn retained_messages_go_to_topic_subscribers_and_an_empty_one_clears() {
        let b = Broker::default();
        b.publish(msg("r/1", 1, true, b"kept"));
        let (_rx, _k, _) = attach(&b, "s", 1, true, false);
        assert_eq!(b.subscribe("s", "r/1", 1).len(), 1);
        assert!(
            b.subscribe("s", "r/+", 1).is_empty(),
            "not to wildcard filters"
        );
        b.publish(msg("r/1", 1, true, b""));
        assert!(b.subscribe("s", "r/1", 1).is_empty());
    }
}

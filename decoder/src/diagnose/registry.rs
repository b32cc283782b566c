//! Client ids across the connections of one capture or one proxy run.
//!
//! AWS IoT Core keeps one connection per client id: a second CONNECT with the same id knocks the
//! first one off. That is visible only across connections, so the feeders hand every finished
//! trace to a [`ClientIds`] register, which remembers when each id was connected.

use super::code::Code;
use std::collections::{HashMap, VecDeque};

use super::finding::Finding;
use crate::event::{Direction, Timestamp};
use crate::mqtt::Body;
use crate::trace::Trace;

/// How many client ids are remembered; the oldest are forgotten first.
const REMEMBERED: usize = 10_000;

#[derive(Clone, Copy)]
struct Span {
    number: u64,
    connect: Timestamp,
    end: Timestamp,
}

#[derive(Default)]
pub struct ClientIds {
    spans: HashMap<String, Span>,
    order: VecDeque<String>,
}

impl ClientIds {
    pub fn new() -> ClientIds {
        ClientIds::default()
    }

    /// Records a finished connection and returns a finding when another connection used its
    /// client id while it was open.
    pub fn observe(&mut self, trace: &Trace) -> Option<Finding> {
        let (connect_ts, client_id) = trace.events().find_map(|e| match &e.kind {
            crate::event::EventKind::Mqtt(p) if e.dir == Direction::DeviceToEndpoint => match &p
                .body
            {
                Body::Connect(c) if !c.client_id.is_empty() => Some((e.ts, c.client_id.clone())),
                _ => None,
            },
            _ => None,
        })?;
        let end = trace.last_ts.unwrap_or(connect_ts);
        let me = Span {
            number: trace.identity.number,
            connect: connect_ts,
            end,
        };
        let finding = self.spans.get(&client_id).and_then(|other| {
            let overlap = other.connect <= me.end && me.connect <= other.end;
            overlap.then(|| {
                let i_am_newer = other.connect <= me.connect;
                let (older, newer) = if i_am_newer { (other.number, me.number) } else { (me.number, other.number) };
                let fd = Finding::new(
                    Code::MqttSessionTakenOver,
                    format!(
                        "Connections #{older} and #{newer} both used client id {client_id:?} at the same time; AWS IoT Core disconnects the older one when the newer connects."
                    ),
                )
                .evidence(trace.relative(connect_ts), format!("CONNECT client_id={client_id:?}"));
                // The newer connection is the one that wins: it worked, and only its twin was
                // knocked off, so for it the clash is a warning, not its failure.
                if i_am_newer {
                    fd.severity(super::finding::Severity::Warning)
                } else {
                    fd
                }
            })
        });
        // diagnose() fills next steps for its own findings; this one is made outside it.
        let finding = finding.map(|mut fd| {
            let values = super::catalogue::Values {
                client_id: Some(client_id.clone()),
                ..Default::default()
            };
            fd.next_steps = super::catalogue::steps(fd.code, &values);
            fd
        });
        if self.spans.insert(client_id.clone(), me).is_none() {
            self.order.push_back(client_id);
            if self.order.len() > REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.spans.remove(&old);
                }
            }
        }
        finding
    }
}

//! Feeding a scripted connection through `Session::feed` in pieces of several sizes, and a
//! one-line summary of each event that the tests compare whole.

use std::sync::Arc;

use iotscope_decoder::diagnose::{self, Context, Finding};
use iotscope_decoder::keylog::KeyLog;
use iotscope_decoder::mqtt::Body;
use iotscope_decoder::{Direction, EventKind, Identity, Input, Session, SessionConfig};
use iotscope_decoder::{Timestamp, Trace};

pub use Direction::{DeviceToEndpoint as D, EndpointToDevice as E};

/// What one side does next.
pub enum Step {
    Send(Direction, Vec<u8>),
    Fin(Direction),
    /// This many bytes of the direction were missed.
    Gap(Direction, u64),
}

/// A key log holding `lines` (label, secret) for `random`.
pub fn keylog_for(random: &[u8; 32], lines: &[(&str, Vec<u8>)]) -> Arc<KeyLog> {
    let r = iotscope_decoder::hex::encode(random);
    let text: String = lines
        .iter()
        .map(|(label, secret)| format!("{label} {r} {}\n", iotscope_decoder::hex::encode(secret)))
        .collect();
    let log = KeyLog::parse(&text);
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    Arc::new(log)
}

/// Feeds `steps` with every send cut into pieces of `piece` bytes; each step has its own
/// millisecond.
pub fn run(steps: &[Step], keylog: &Arc<KeyLog>, piece: usize) -> Trace {
    let config = SessionConfig {
        keylog: Some(keylog.clone() as Arc<dyn iotscope_decoder::keylog::KeySource>),
        ..SessionConfig::default()
    };
    let mut s = Session::new(Identity::default(), config);
    s.feed(D, Input::Open, Timestamp(0));
    for (i, step) in steps.iter().enumerate() {
        let ts = Timestamp(1_000_000 * (i as i64 + 1));
        match step {
            Step::Send(dir, bytes) => {
                for chunk in bytes.chunks(piece) {
                    s.feed(*dir, chunk, ts);
                }
            }
            Step::Fin(dir) => s.feed(*dir, Input::Fin, ts),
            Step::Gap(dir, n) => s.feed(*dir, Input::Gap(*n), ts),
        }
    }
    s.finish()
}

/// Runs `steps` whole, one byte at a time and in odd-sized pieces; the events must not depend
/// on how the bytes were cut. Returns the trace and its summary.
pub fn run_in_pieces(steps: &[Step], keylog: &Arc<KeyLog>) -> (Trace, Vec<String>) {
    let whole = run(steps, keylog, usize::MAX);
    let want = lines(&whole);
    for piece in [1, 3, 7, 64] {
        assert_eq!(lines(&run(steps, keylog, piece)), want, "pieces of {piece}");
    }
    (whole, want)
}

/// One line per event: direction (`D>` device to endpoint, `E>` the other way), `*` when read
/// from decrypted bytes, then what the event says.
pub fn lines(t: &Trace) -> Vec<String> {
    t.events()
        .map(|e| {
            let dir = if e.dir == D { "D>" } else { "E>" };
            let mark = if e.decrypted { "*" } else { "" };
            format!("{dir}{mark} {}", describe(&e.kind))
        })
        .collect()
}

fn describe(k: &EventKind) -> String {
    match k {
        EventKind::Handshake { kind, len } => format!("{kind:?} {len}"),
        EventKind::ClientHello(_) => "ClientHello".into(),
        EventKind::ServerHello(h) => format!("ServerHello {:#06x}", h.cipher_suite.id),
        EventKind::Certificate(c) => {
            let subjects: Vec<&str> = c.chain.iter().map(|c| c.subject.as_str()).collect();
            format!("Certificate [{}]", subjects.join("; "))
        }
        EventKind::Mqtt(p) => {
            let what = match &p.body {
                Body::Connect(c) => format!("{} level {}", c.client_id, c.protocol_level),
                Body::Connack(c) => format!("code {:#04x}", c.code),
                Body::Publish(x) => format!("{} id {:?} {}B", x.topic, x.packet_id, x.payload_len),
                Body::Ack(a) => format!("id {} code {:#04x}", a.packet_id, a.code),
                other => format!("{other:?}"),
            };
            format!("{} {what}", p.packet_type.name())
        }
        EventKind::Encrypted {
            content_type,
            phase,
            records,
            bytes,
            ..
        } => format!("Encrypted {content_type} {phase:?} {records} records {bytes}B"),
        EventKind::Undecrypted { reason } => format!("Undecrypted: {reason}"),
        EventKind::Note { text } => format!("Note: {text}"),
        EventKind::TlsMalformed { offset, reason } => format!("TlsMalformed @{offset}: {reason}"),
        EventKind::Unfinished(u) => format!(
            "Unfinished @{}: {} of {} bytes of {}",
            u.offset, u.held, u.need, u.what
        ),
        EventKind::Protocol { protocol, .. } => format!("Protocol {protocol}"),
        other => serde_json::to_value(other).expect("event as JSON")["event"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
    }
}

pub fn findings(t: &Trace) -> Vec<Finding> {
    diagnose::diagnose(t, &Context::default())
}

pub fn finding<'a>(fs: &'a [Finding], code: &str) -> &'a Finding {
    fs.iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:#?}", codes(fs)))
}

pub fn codes(fs: &[Finding]) -> Vec<String> {
    fs.iter()
        .map(|f| format!("{} {}", f.code, f.severity))
        .collect()
}

/// How many summary lines start with `prefix` (`"E>*"`: the endpoint's decrypted events).
pub fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

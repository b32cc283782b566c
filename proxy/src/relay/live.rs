//! Live output: each connection's decoder, and the one printer every connection shares.
//!
//! A decoder feeds its connection's [`Session`] with what the relay saw, turns each new event
//! into a line as soon as it exists, forwards the bytes to the recorder, and watches the
//! handshake deadline. It runs as a task only while there is something to do, and waits in
//! its queue otherwise ([`start`]). At close it hands the finished trace to the printer,
//! which diagnoses it (the printer holds the state that spans connections, such as client
//! IDs in use) and prints the findings, or the same JSON object as `replay`.
//!
//! The printer is a thread of its own: a terminal or pipe that reads slowly blocks it, the
//! decoder tasks wait for it, their queues fill, and the relay drops copies (reported as
//! gaps) instead of slowing down.

use crate::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iotscope_decoder::event::EncryptedPhase;
use iotscope_decoder::{
    AppProtocol, CutCause, Direction, Event, EventKind, Identity, Input, Session, SessionConfig,
    Trace,
};
use tokio::sync::mpsc;

use super::record::Record;
use crate::feed::{apply, now, queue, Seen};
use iotscope_report::sorted_json::SortedJson;
use iotscope_report::text;
use iotscope_report::{stdout_is_tty, Reporter};
use iotscope_report::{Format, ReportOptions};

/// What every decoder task needs to know about the output.
pub struct LiveConfig {
    pub format: Format,
    pub events: bool,
    pub style: text::Style,
    pub reveal_passwords: bool,
    pub handshake_timeout: Option<Duration>,
    /// Told when each connection opens (the web view); the printer's reporter tells it when
    /// each one ends.
    pub watch: Option<iotscope_report::Watcher>,
}

impl LiveConfig {
    pub fn new(args: &ReportOptions, handshake_timeout: Option<Duration>) -> LiveConfig {
        let colour = args.colour.enabled(stdout_is_tty());
        LiveConfig {
            format: args.format,
            events: args.events,
            style: text::Style { colour },
            reveal_passwords: args.reveal_passwords,
            handshake_timeout,
            watch: args.watch.clone(),
        }
    }
}

/// What decoder tasks send the printer.
pub enum Out {
    Line(String),
    Closed(Box<Trace>),
}

/// Lines queued for the printer before decoder tasks wait for it.
const PRINTER_QUEUE: usize = 4096;

/// A connection's decoding: its `Session` and what it needs to print and record. It lives
/// on the heap, in a task while there is something to decode and in its queue, parked, while
/// there is not ([`queue::Receiver::park`]): an idle connection keeps this and no task.
struct Decoder {
    session: Session,
    /// Events of the trace already printed.
    printed: u64,
    /// The handshake deadline's timer, on the heap and only while the handshake is pending.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    rec: Option<mpsc::Sender<Record>>,
    out: mpsc::Sender<Out>,
    cfg: Arc<LiveConfig>,
}

/// Starts one connection's decoding, fed by `rx`, and returns the handle that learns when it
/// is over (the relay drops its senders, the decoder drains the queue and hands the trace to
/// the printer).
///
/// Its task runs while there is something to decode or a handshake deadline to watch, and
/// ends when the queue is empty: the decoder's state waits in the queue, and the next value
/// queued starts a task again. A device's connection is idle most of its life (a keep-alive
/// a minute), and a task kept for it was 1.4 KiB per connection.
pub fn start(
    identity: Box<Identity>,
    rx: queue::Receiver<Seen>,
    out: mpsc::Sender<Out>,
    rec: Option<mpsc::Sender<Record>>,
    cfg: Arc<LiveConfig>,
    keys: Option<Arc<dyn iotscope_decoder::keylog::KeySource>>,
) -> queue::Finished<Seen> {
    let finished = rx.finished();
    // Only connections that reached the upstream are recorded: a packet needs both addresses.
    let rec = rec.filter(|_| identity.endpoint.is_some());
    if let Some(w) = &cfg.watch {
        // Never waits: the watch keeps the row and wakes its readers without blocking.
        w.0.opened(&identity, now());
    }
    let opening = (cfg.format == Format::Text).then(|| {
        let name = identity.endpoint_name.clone().unwrap_or_default();
        let dialled = identity
            .endpoint
            .map_or(String::new(), |a| format!(" ({a})"));
        format!("{} → {name}{dialled}", label(&identity))
    });
    let session = Session::new(
        *identity,
        SessionConfig {
            reveal_passwords: cfg.reveal_passwords,
            keylog: keys,
            ..SessionConfig::default()
        },
    );
    let decoder = Box::new(Decoder {
        session,
        printed: 0,
        deadline: cfg
            .handshake_timeout
            .map(|d| Box::pin(tokio::time::sleep(d))),
        rec,
        out,
        cfg,
    });
    tokio::spawn(async move {
        if let Some(line) = opening {
            let _ = decoder.out.send(Out::Line(line)).await;
        }
        run(decoder, rx).await
    });
    finished
}

/// Starts a parked decoder's task again (from the sender that queued something).
fn resume(decoder: Box<Decoder>, rx: queue::Receiver<Seen>) {
    // Without a runtime (it is being dropped at exit) there is nothing to run the decoder
    // on: it is dropped with its receiver, which closes the queue.
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(run(decoder, rx));
    }
}

/// Decodes what is queued; parks when the queue is empty and no deadline is pending, and
/// reports once the senders are gone.
///
/// An `async` block rather than an `async fn`, which would keep its arguments twice.
#[allow(clippy::manual_async_fn)]
fn run(
    mut d: Box<Decoder>,
    mut rx: queue::Receiver<Seen>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        loop {
            let seen = match rx.try_recv() {
                Ok(seen) => seen,
                Err(queue::TryRecvError::Disconnected) => break,
                Err(queue::TryRecvError::Empty) if d.deadline.is_none() => {
                    match rx.park(d, resume) {
                        Ok(()) => return,
                        // Something came, or the senders went, since `try_recv`.
                        Err((back, state)) => {
                            rx = back;
                            d = state;
                            continue;
                        }
                    }
                }
                Err(queue::TryRecvError::Empty) => {
                    let seen = tokio::select! {
                        s = rx.recv() => s,
                        _ = until(&mut d.deadline) => {
                            d.handshake_timed_out(&rx).await;
                            continue;
                        }
                    };
                    let Some(seen) = seen else { break };
                    seen
                }
            };
            d.take(seen).await;
        }
        Box::pin(d.finish()).await;
        // Only now: the connection waits for the receiver to go (`queue::Finished`) before it
        // gives up its slot, and the proxy's exit waits for the slots, so the report must be
        // with the printer by then.
        drop(rx);
    }
}

impl Decoder {
    /// One value from the relay: recorded, decoded, its events printed.
    async fn take(&mut self, seen: Seen) {
        if let Some(rec) = &self.rec {
            let id = &self.session.trace().identity;
            Box::pin(record(rec, id.number, id.device, id.endpoint, &seen)).await;
        }
        apply(&mut self.session, seen);
        if self.deadline.is_some() && handshake_settled(self.session.trace(), self.printed) {
            self.deadline = None;
        }
        self.print_new().await;
    }

    /// The handshake deadline passed: the decoder says so and asks the relay to cut.
    async fn handshake_timed_out(&mut self, rx: &queue::Receiver<Seen>) {
        self.deadline = None;
        let secs = self.cfg.handshake_timeout.map_or(0.0, |d| d.as_secs_f64());
        let text = format!("no TLS handshake completed within {secs:.1} s; iotscope closed the connection (--handshake-timeout)");
        self.session.feed(
            Direction::EndpointToDevice,
            Input::Cut(CutCause::HandshakeTimeout, text.into()),
            now(),
        );
        rx.cut();
        self.print_new().await;
    }

    async fn print_new(&mut self) {
        self.printed = print_new(self.session.trace(), self.printed, &self.cfg, &self.out).await;
    }

    /// The end: the recording told, the trace finished, printed and handed to the printer.
    async fn finish(self: Box<Self>) {
        let d = *self;
        if let Some(rec) = &d.rec {
            let _ = rec
                .send(Record::Done {
                    conn: d.session.trace().identity.number,
                })
                .await;
        }
        let trace = d.session.finish();
        print_new(&trace, d.printed, &d.cfg, &d.out).await;
        let _ = d.out.send(Out::Closed(Box::new(trace))).await;
    }
}

/// Ready when `deadline`'s timer is; never without one.
async fn until(deadline: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match deadline {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

/// How a connection's lines begin: its number and the device's address.
fn label(id: &Identity) -> String {
    format!("#{} {}", id.number, addr_or_unknown(id.device))
}

fn addr_or_unknown(a: Option<SocketAddr>) -> String {
    a.map_or_else(|| "?".to_string(), |a| a.to_string())
}

async fn record(
    rec: &mpsc::Sender<Record>,
    conn: u64,
    device: Option<SocketAddr>,
    endpoint: Option<SocketAddr>,
    seen: &Seen,
) {
    let mut msgs = Vec::with_capacity(2);
    if let Some((dir, _, bytes)) = seen.dropped() {
        msgs.push(Record::Skipped { conn, dir, bytes });
    }
    match seen {
        Seen::Input { dir, ts, input, .. } => match input {
            Input::Open => {
                if let (Some(device), Some(endpoint)) = (device, endpoint) {
                    msgs.push(Record::Open {
                        conn,
                        device,
                        endpoint,
                        ts: *ts,
                    });
                }
            }
            Input::Data(bytes) => msgs.push(Record::Data {
                conn,
                dir: *dir,
                ts: *ts,
                bytes: bytes.to_vec(),
            }),
            Input::Fin => msgs.push(Record::Fin {
                conn,
                dir: *dir,
                ts: *ts,
            }),
            Input::Rst => msgs.push(Record::Rst {
                conn,
                dir: *dir,
                ts: *ts,
            }),
            // Gaps are recorded from `dropped` above; the rest is the proxy's own knowledge,
            // which a capture file has no place for. (A proxy that records hands on whole
            // records, never their headers alone.)
            Input::Gap(_)
            | Input::Note(_)
            | Input::Cut(..)
            | Input::UpstreamFailed(_)
            | Input::DeviceLeg(_)
            | Input::Records(_)
            | Input::Unread(_) => {}
        },
        Seen::Secret { line } => msgs.push(Record::Keys { line: line.clone() }),
    }
    for m in msgs {
        let _ = rec.send(m).await;
    }
}

/// True once the events from `from` on show the handshake is no longer pending: application
/// data is flowing, the connection is not TLS at all, or bytes were missed so the decoder can
/// no longer tell.
fn handshake_settled(trace: &Trace, from: u64) -> bool {
    trace.events_since(from).any(|e| match &e.kind {
        EventKind::Encrypted { phase, .. } => *phase == EncryptedPhase::Application,
        EventKind::Protocol { protocol, .. } => !e.decrypted && *protocol != AppProtocol::Tls,
        EventKind::Mqtt(_) | EventKind::Gap { .. } => true,
        _ => false,
    })
}

/// Sends a line for each event from `from` on; returns the new count.
async fn print_new(trace: &Trace, from: u64, cfg: &LiveConfig, out: &mpsc::Sender<Out>) -> u64 {
    if (cfg.format == Format::Json && !cfg.events) || trace.total_events() == from {
        // Nothing is printed per event, or there is no new one.
        return trace.total_events();
    }
    let label = label(&trace.identity);
    let lines: Vec<String> = trace
        .events_since(from)
        .filter_map(|e| event_line(trace, e, &label, cfg))
        .collect();
    if !lines.is_empty() {
        // Boxed, and only when there is something to print: the sending future would
        // otherwise widen the decoder task of every connection.
        Box::pin(async move {
            for l in lines {
                let _ = out.send(Out::Line(l)).await;
            }
        })
        .await;
    }
    trace.total_events()
}

/// One event as a line of its own (`--events` with JSON): the event's object, and which
/// connection it belongs to.
#[derive(serde::Serialize)]
struct LiveEventJson<'a> {
    #[serde(flatten)]
    event: &'a Event,
    connection: u64,
    device: Option<String>,
}

fn event_line(trace: &Trace, e: &Event, label: &str, cfg: &LiveConfig) -> Option<String> {
    match cfg.format {
        Format::Text => Some(format!("{label}{}", text::event_line(trace, e, cfg.style))),
        Format::Json if cfg.events => {
            let line = LiveEventJson {
                event: e,
                connection: trace.identity.number,
                device: trace.identity.device.map(|a| a.to_string()),
            };
            let mut out = Vec::new();
            SortedJson::new().write(&mut out, &line).ok()?;
            String::from_utf8(out).ok()
        }
        Format::Json => None,
    }
}

/// One finished connection as the printer diagnosed it, for a program that runs the proxy in
/// process (`iotscope demo`).
#[derive(Debug, Clone)]
pub struct Diagnosed {
    pub number: u64,
    pub device: Option<SocketAddr>,
    /// The finding codes, in the printed order, with their severities (`error`, `warning`, `info`).
    pub findings: Vec<(String, String)>,
}

/// The printer thread and the sender decoder tasks clone.
pub struct Printer {
    pub tx: mpsc::Sender<Out>,
    thread: std::thread::JoinHandle<u8>,
}

impl Printer {
    pub fn start(
        args: &ReportOptions,
        cfg: Arc<LiveConfig>,
        tap: Option<std::sync::mpsc::Sender<Diagnosed>>,
    ) -> Result<Printer, Error> {
        let (tx, rx) = mpsc::channel(PRINTER_QUEUE);
        let args = args.clone();
        let thread = std::thread::Builder::new()
            .name("printer".into())
            .spawn(move || print_all(rx, &args, &cfg, tap))
            .map_err(|e| Error::Environment(format!("cannot start the printer: {e}")))?;
        Ok(Printer { tx, thread })
    }

    /// Waits for every connection to be printed (all senders must be gone) and returns the
    /// exit status: 1 when any finding was an error.
    pub fn finish(self) -> u8 {
        drop(self.tx);
        self.thread.join().unwrap_or(2)
    }
}

fn print_all(
    mut rx: mpsc::Receiver<Out>,
    args: &ReportOptions,
    cfg: &LiveConfig,
    tap: Option<std::sync::mpsc::Sender<Diagnosed>>,
) -> u8 {
    let send = |trace: &Trace, found: &[iotscope_decoder::diagnose::Finding]| {
        if let Some(t) = &tap {
            let _ = t.send(Diagnosed {
                number: trace.identity.number,
                device: trace.identity.device,
                findings: found
                    .iter()
                    .map(|f| (f.code.as_str().to_string(), f.severity.to_string()))
                    .collect(),
            });
        }
    };
    let mut reporter = Reporter::new(std::io::stdout(), args, stdout_is_tty());
    let mut stdout = std::io::stdout();
    while let Some(o) = rx.blocking_recv() {
        // A reader that went away (a closed pipe) must not stop the proxy: output is dropped.
        match o {
            Out::Line(l) => {
                let _ = writeln!(stdout, "{l}");
            }
            Out::Closed(trace) => match cfg.format {
                Format::Json => {
                    if let Ok(found) = reporter.connection_findings(&trace) {
                        send(&trace, &found);
                    }
                }
                Format::Text => {
                    let found = reporter.findings(&trace);
                    tally(&mut reporter, &found);
                    let id = &trace.identity;
                    let secs = match (trace.first_ts, trace.last_ts) {
                        (Some(a), Some(b)) => b.seconds_since(a),
                        _ => 0.0,
                    };
                    let history = iotscope_decoder::tls::history(&trace);
                    let _ = writeln!(
                        stdout,
                        "#{} {} closed after {secs:.3} s{}\n{}",
                        id.number,
                        addr_or_unknown(id.device),
                        if history.is_empty() {
                            String::new()
                        } else {
                            format!(", history {history}")
                        },
                        text::findings(&found, cfg.style)
                    );
                    let _ = stdout.flush();
                    send(&trace, &found);
                }
            },
        }
    }
    match cfg.format {
        Format::Text => {
            let _ = reporter.summary();
        }
        Format::Json => eprintln!("iotscope: {}", summary_line(&reporter)),
    }
    reporter.exit_code()
}

/// Counts one connection's findings the way [`Reporter::connection`] does, for the text form
/// that prints its own closing block.
fn tally<W: Write>(r: &mut Reporter<W>, found: &[iotscope_decoder::diagnose::Finding]) {
    r.connections += 1;
    for f in found {
        r.by_severity[f.severity as usize] += 1;
        *r.codes.entry(f.code.as_str()).or_default() += 1;
    }
}

fn summary_line<W: Write>(r: &Reporter<W>) -> String {
    let codes: Vec<String> = r.codes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    format!(
        "{} connection{}; findings: {}",
        r.connections,
        if r.connections == 1 { "" } else { "s" },
        if codes.is_empty() {
            "none".to_string()
        } else {
            codes.join(", ")
        }
    )
}

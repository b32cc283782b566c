//! `iotscope replay`: every connection of one or more captures, decoded and diagnosed.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use iotscope_captures::reader::CaptureReader;
use iotscope_captures::replay::{Replay, ReplayConfig, ReplayItem};
use iotscope_decoder::keylog::KeyLog;
use iotscope_decoder::trace::{HEAD_EVENTS, TAIL_EVENTS};
use iotscope_decoder::Trace;

use crate::options::ReplayOptions;
use crate::reporter::{stdout_is_tty, Reporter};

/// Rendered connections are written out in blocks of this size when stdout is not a
/// terminal; a write per connection costs more than rendering one.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// Files smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

pub fn run(args: ReplayOptions) -> u8 {
    let keylog = match &args.keylog {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => {
                let k = KeyLog::parse(&String::from_utf8_lossy(&bytes));
                for p in &k.problems {
                    eprintln!(
                        "iotscope: {}: line {}: {}",
                        path.display(),
                        p.line,
                        p.message
                    );
                }
                if k.is_empty() {
                    eprintln!("iotscope: {}: no usable key-log line", path.display());
                    return 2;
                }
                Some(Arc::new(k))
            }
            Err(e) => {
                eprintln!("iotscope: cannot read the key log {}: {e}", path.display());
                return 2;
            }
        },
    };
    let tty = stdout_is_tty();
    let stdout = BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock());
    let mut reporter = Reporter::new(stdout, &args.report, tty);
    if !tty {
        reporter = reporter.batched();
    }
    let job = Decode {
        files: args.files.clone(),
        port: args.port,
        quiet: args.quiet,
        reveal_passwords: args.report.reveal_passwords,
        keylog,
    };
    // Decoding and reporting take about as long as each other, so they run on two threads:
    // this one diagnoses, renders and writes while the other reads and decodes. The queue
    // between them is short (a few batches, each bounded in events), so memory stays flat.
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let decoder = std::thread::Builder::new()
        .name("replay-decoder".into())
        .spawn(move || job.run(&tx));
    let Ok(decoder) = decoder else {
        eprintln!("iotscope: cannot start the decoding thread");
        return 2;
    };
    let mut bad_input = false;
    let done = report(&rx, &mut reporter, &mut bad_input);
    // Dropping the receiver stops the decoder at its next hand-over if the report ended early.
    drop(rx);
    let _ = decoder.join();
    match done {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return 0,
        Err(e) => {
            eprintln!("iotscope: writing the report failed: {e}");
            return 2;
        }
    }
    let _ = reporter.summary().and_then(|_| reporter.flush());
    if bad_input {
        2
    } else {
        reporter.exit_code()
    }
}

/// Batches of finished connections waiting to be reported, at most.
const QUEUE: usize = 2;

/// Connections handed over together, at most. Hand-overs must be rare: each wakes the
/// other thread, and Linux tends to run a thread it wakes on the waker's CPU, so with
/// frequent hand-overs (one per 16 connections) both threads shared one CPU and the run took
/// as long as with one thread.
const BATCH: usize = 256;

/// The most events a trace keeps.
const KEPT_EVENTS: u64 = (HEAD_EVENTS + TAIL_EVENTS) as u64;

/// A batch is handed over early once its connections hold this many events, so that long
/// connections (up to some 2,500 events each) do not make batches large in memory.
const BATCH_EVENTS: u64 = 16 * 1024;

/// What the decoding thread hands to the reporting one, in order.
enum Handed {
    /// The progress bar of the file being read (none when it is not drawn).
    Bar(Option<ProgressBar>),
    Connections(Vec<Trace>),
    /// A line for stderr, printed after the connections before it.
    Remark(String),
    /// A file ended; false when it could not be read (wholly or in part).
    FileDone(bool),
}

fn report<W: Write>(
    rx: &mpsc::Receiver<Handed>,
    reporter: &mut Reporter<W>,
    bad_input: &mut bool,
) -> std::io::Result<()> {
    let mut bar: Option<ProgressBar> = None;
    for item in rx {
        match item {
            Handed::Bar(b) => bar = b,
            Handed::Connections(traces) => {
                for trace in traces {
                    match &bar {
                        Some(b) => b.suspend(|| reporter.connection(&trace))?,
                        None => reporter.connection(&trace)?,
                    }
                }
            }
            Handed::Remark(line) => {
                // Connections before the remark are printed before it, even when stdout
                // and stderr go to the same file.
                reporter.flush()?;
                match &bar {
                    Some(b) => b.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
            Handed::FileDone(clean) => {
                *bad_input |= !clean;
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
    Ok(())
}

/// The decoding side: every file in turn, read and decoded into finished connections.
struct Decode {
    files: Vec<PathBuf>,
    port: Option<u16>,
    quiet: bool,
    reveal_passwords: bool,
    keylog: Option<Arc<KeyLog>>,
}

/// The reporting side has gone (its output was closed): stop.
struct Gone;

impl Decode {
    fn run(self, tx: &SyncSender<Handed>) {
        for file in &self.files {
            let Ok(clean) = self.file(file, tx) else {
                return;
            };
            if tx.send(Handed::FileDone(clean)).is_err() {
                return;
            }
        }
    }

    /// Replays one file; `Ok(false)` when the file could not be read (wholly or in part).
    fn file(&self, path: &Path, tx: &SyncSender<Handed>) -> Result<bool, Gone> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_events = 0u64;
        // Whatever is handed over goes after the connections decoded before it.
        let send = |batch: &mut Vec<Trace>, item: Option<Handed>| -> Result<(), Gone> {
            if !batch.is_empty() {
                let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
                tx.send(Handed::Connections(full)).map_err(|_| Gone)?;
            }
            match item {
                Some(item) => tx.send(item).map_err(|_| Gone),
                None => Ok(()),
            }
        };
        let name = path.display().to_string();
        let reader = match CaptureReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                send(
                    &mut batch,
                    Some(Handed::Remark(format!("iotscope: {name}: {e}"))),
                )?;
                return Ok(false);
            }
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let bar = progress_bar(size, self.quiet, &name);
        send(&mut batch, Some(Handed::Bar(bar.clone())))?;
        let config = ReplayConfig {
            reveal_passwords: self.reveal_passwords,
            keylog: self.keylog.clone(),
            ..ReplayConfig::default()
        };
        let mut replay = Replay::new(reader, name.clone(), config);
        let mut clean = true;
        while let Some(item) = replay.next() {
            if let Some(b) = &bar {
                b.set_position(replay.offset);
            }
            match item {
                ReplayItem::Connection(trace) => {
                    if let Some(port) = self.port {
                        if trace.identity.endpoint.map(|a| a.port()) != Some(port) {
                            continue;
                        }
                    }
                    let kept = trace.total_events().min(KEPT_EVENTS);
                    batch.push(*trace);
                    batch_events += kept;
                    if batch.len() == BATCH || batch_events >= BATCH_EVENTS {
                        send(&mut batch, None)?;
                        batch_events = 0;
                    }
                }
                // Remarks about the whole capture (checksums not checked, frames that were
                // not TCP) are logged, not printed: they hold for almost every capture.
                ReplayItem::Warning { packet: 0, message } => {
                    tracing::info!("{name}: {message}");
                }
                ReplayItem::Warning { packet, message } => {
                    let line = format!("iotscope: {name}: packet {packet}: {message}");
                    send(&mut batch, Some(Handed::Remark(line)))?;
                }
                ReplayItem::Error(e) => {
                    clean = false;
                    let line = format!(
                        "iotscope: {name}: {e}; the connections decoded before it are shown above"
                    );
                    send(&mut batch, Some(Handed::Remark(line)))?;
                }
            }
        }
        send(&mut batch, None)?;
        Ok(clean)
    }
}

fn progress_bar(size: u64, quiet: bool, name: &str) -> Option<ProgressBar> {
    if quiet || size < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    Some(bar)
}

//! `iotscope replay`: every connection of one or more captures, decoded and diagnosed.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use iotscope_captures::reader::CaptureReader;
use iotscope_captures::replay::{Replay, ReplayConfig, ReplayItem};
use iotscope_decoder::keylog::KeyLog;

use crate::cli::ReplayArgs;
use crate::output::{stdout_is_tty, Reporter};

/// Rendered connections are written out in blocks of this size when stdout is not a
/// terminal; a write per connection costs more than rendering one.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// Files smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

pub fn run(args: ReplayArgs) -> u8 {
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
    let mut bad_input = false;
    for file in &args.files {
        let done = replay_file(file, &args, keylog.clone(), &mut reporter);
        match done {
            Ok(clean) => bad_input |= !clean,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return 0,
            Err(e) => {
                eprintln!("iotscope: writing the report failed: {e}");
                return 2;
            }
        }
    }
    let _ = reporter.summary().and_then(|_| reporter.flush());
    if bad_input {
        2
    } else {
        reporter.exit_code()
    }
}

/// Replays one file; `Ok(false)` when the file could not be read (wholly or in part).
fn replay_file<W: Write>(
    path: &Path,
    args: &ReplayArgs,
    keylog: Option<Arc<KeyLog>>,
    reporter: &mut Reporter<W>,
) -> std::io::Result<bool> {
    let name = path.display().to_string();
    let reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            reporter.flush()?;
            eprintln!("iotscope: {name}: {e}");
            return Ok(false);
        }
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(size, args.quiet, &name);
    let config = ReplayConfig {
        reveal_passwords: args.report.reveal_passwords,
        keylog,
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
                if let Some(port) = args.port {
                    if trace.identity.endpoint.map(|a| a.port()) != Some(port) {
                        continue;
                    }
                }
                match &bar {
                    Some(b) => b.suspend(|| reporter.connection(&trace))?,
                    None => reporter.connection(&trace)?,
                }
            }
            // Remarks about the whole capture (checksums not checked, frames that were not
            // TCP) are logged, not printed: they hold for almost every capture.
            ReplayItem::Warning { packet: 0, message } => {
                tracing::info!("{name}: {message}");
            }
            ReplayItem::Warning { packet, message } => {
                // Connections before the remark are printed before it, even when stdout and
                // stderr go to the same file.
                reporter.flush()?;
                let line = format!("iotscope: {name}: packet {packet}: {message}");
                match &bar {
                    Some(b) => b.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
            ReplayItem::Error(e) => {
                clean = false;
                reporter.flush()?;
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                eprintln!(
                    "iotscope: {name}: {e}; the connections decoded before it are shown above"
                );
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(clean)
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

//! `iotscope logs`: what AWS IoT logged (AWSIotLogsV2), each failure explained with the
//! catalogue.
//!
//! The entries come from any [`AccountSource`]: the `--account` style files here, the AWS API
//! (logs:FilterLogEvents) in the online source. Each entry that reports something wrong gets
//! the finding its reason stands for (the same codes a capture's connection gets), with the
//! guide's section and next steps filled with the entry's client ID and certificate ID.

use std::io::{self, Write};

use iotscope_account::AccountSource;
use iotscope_decoder::account::{LogEntry, LogQuery, Lookup};
use iotscope_decoder::diagnose::{catalogue, log_entries, Finding, Severity, Values};
use serde_json::{json, Value};

use crate::options::Format;
use crate::sorted_json::SortedJson;
use crate::text;

/// What `iotscope logs` shows.
#[derive(Clone, Debug, Default)]
pub struct LogsOptions {
    /// Only entries of this client ID.
    pub client_id: Option<String>,
    /// Only entries at or after this instant (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only entries at or before this instant.
    pub until_ms: Option<i64>,
    pub format: Format,
    pub colour: bool,
}

/// Why `iotscope logs` has nothing to explain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogsError {
    /// The source holds no log.
    #[error("no AWSIotLogsV2 entries were given (aws logs filter-log-events output, or one JSON entry per line)")]
    NoLog,
    /// Asking the source failed.
    #[error("{call} failed: {error}")]
    Failed { call: &'static str, error: String },
}

/// One entry and what it means.
pub struct Explained {
    pub entry: LogEntry,
    pub finding: Option<Finding>,
}

/// The entries the source holds for the options' query, each with its finding; `Err` when the
/// source holds no log or could not be asked.
pub fn explain(
    source: &mut dyn AccountSource,
    opts: &LogsOptions,
) -> Result<Vec<Explained>, LogsError> {
    let query = LogQuery {
        client_id: opts.client_id.clone(),
        principal_id: None,
        since_ms: opts.since_ms,
        until_ms: opts.until_ms,
    };
    let entries = match source.log_entries(&query) {
        Lookup::Found(e) => e,
        Lookup::NotFound | Lookup::Unknown => return Err(LogsError::NoLog),
        Lookup::Failed(c) => {
            return Err(LogsError::Failed {
                call: c.call,
                error: c.error,
            })
        }
    };
    Ok(entries
        .into_iter()
        .map(|entry| {
            let finding = log_entries::finding(&entry, 0.0).map(|mut f| {
                let values = Values {
                    client_id: entry.client_id.clone(),
                    cert_id: entry.principal_id.clone(),
                    topic: entry.topic_name.clone(),
                    account: entry.account_id.clone(),
                    ..Values::default()
                };
                f.next_steps = catalogue::steps(f.code, &values);
                // The entry is printed above its finding: a time into no connection says nothing.
                f.evidence.clear();
                f
            });
            Explained { entry, finding }
        })
        .collect())
}

/// Prints the explained entries and a closing count; returns the exit status: 1 when an
/// entry is an error, else 0.
pub fn write(out: &mut impl Write, list: &[Explained], opts: &LogsOptions) -> io::Result<u8> {
    let mut errors = 0;
    let mut explained = 0;
    let mut json = SortedJson::new();
    for e in list {
        if let Some(f) = &e.finding {
            explained += 1;
            errors += usize::from(f.severity == Severity::Error);
        }
        match opts.format {
            Format::Json => {
                let entry = serde_json::from_str::<Value>(&e.entry.raw)
                    .unwrap_or_else(|_| Value::String(e.entry.raw.clone()));
                let findings: Vec<&Finding> = e.finding.iter().collect();
                let mut buf = Vec::new();
                json.write(&mut buf, &json!({"entry": entry, "findings": findings}))
                    .map_err(io::Error::other)?;
                buf.push(b'\n');
                out.write_all(&buf)?;
            }
            Format::Text => {
                writeln!(out, "{}", log_entries::describe(&e.entry))?;
                if let Some(f) = &e.finding {
                    let style = text::Style {
                        colour: opts.colour,
                    };
                    writeln!(out, "{}", text::findings(std::slice::from_ref(f), style))?;
                }
            }
        }
    }
    if opts.format == Format::Text {
        writeln!(
            out,
            "{} entr{}: {explained} explained, {errors} error{}",
            list.len(),
            if list.len() == 1 { "y" } else { "ies" },
            if errors == 1 { "" } else { "s" }
        )?;
    }
    Ok(u8::from(errors > 0))
}

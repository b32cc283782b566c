//! Which AWSIotLogsV2 entries belong to which connection.
//!
//! AWS logs a connection by client ID and principal (the certificate ID), with its own clock.
//! An entry belongs to a connection when it falls inside the connection's span widened by a
//! tolerance (clock skew between the capture's machine and AWS, and AWS logging a refusal a
//! little after the bytes), and neither its client ID nor its principal contradicts what the
//! wire showed, and at least one of them agrees.

use iotscope_decoder::account::{LogEntry, LogQuery};

/// How far outside a connection's span an entry may fall and still be joined to it: 10 s.
pub const TOLERANCE_MS: i64 = 10_000;

/// Does the entry match the query (window, client ID, principal)?
pub fn belongs(entry: &LogEntry, query: &LogQuery) -> bool {
    if let Some(ts) = entry.timestamp_ms {
        if query.since_ms.is_some_and(|s| ts < s) || query.until_ms.is_some_and(|u| ts > u) {
            return false;
        }
    } else if query.since_ms.is_some() || query.until_ms.is_some() {
        return false;
    }
    let client = agrees(entry.client_id.as_deref(), query.client_id.as_deref());
    let principal = agrees(entry.principal_id.as_deref(), query.principal_id.as_deref());
    if client == Some(false) || principal == Some(false) {
        return false;
    }
    // A query that names neither asks for everything in its window.
    let asked = query.client_id.is_some() || query.principal_id.is_some();
    !asked || client == Some(true) || principal == Some(true)
}

/// `Some(true)` when both are known and equal, `Some(false)` when both are known and differ,
/// `None` when either is unknown.
fn agrees(entry: Option<&str>, wanted: Option<&str>) -> Option<bool> {
    match (entry, wanted) {
        (Some(a), Some(b)) => Some(a.eq_ignore_ascii_case(b)),
        _ => None,
    }
}

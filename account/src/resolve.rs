//! Asking a source about one connection.
//!
//! The reporter calls [`resolve`] once per connection, before diagnosis, so the rules read
//! plain [`AccountFacts`] and never talk to a source themselves. Only what the wire makes
//! askable is asked: no certificate seen, no certificate question; no registered certificate,
//! no policy or thing question.

use iotscope_decoder::account::{AccountFacts, LogEntry, LogQuery, Lookup};
use iotscope_decoder::facts::Facts;

use crate::join;
use crate::source::AccountSource;

/// The certificate ID (SHA-256 of the DER, lower-case hex) of the leaf certificate the device
/// presented to the endpoint, when the wire showed it.
pub fn device_certificate_id(facts: &Facts<'_>) -> Option<String> {
    let (_, chain) = facts.device_chain?;
    let leaf = chain.first()?;
    (leaf.parse_error.is_none() && !leaf.sha256.is_empty()).then(|| leaf.sha256.clone())
}

/// The device's certificate went by encrypted: a TLS 1.3 handshake read without keys, in which
/// the device sent its encrypted flight after the endpoint's.
fn certificate_hidden(facts: &Facts<'_>) -> bool {
    facts.tls13()
        && facts.device_chain.is_none()
        && !facts.any_decrypted
        && !facts.device_encrypted_flight().is_empty()
}

/// The log query for one connection: its client ID and certificate ID when seen, and its span
/// widened by [`join::TOLERANCE_MS`] each side.
pub fn log_query(facts: &Facts<'_>, certificate_id: Option<&str>) -> LogQuery {
    let trace = facts.trace;
    LogQuery {
        client_id: facts.connect().map(|(_, c)| c.client_id.clone()),
        principal_id: certificate_id.map(str::to_string),
        since_ms: trace
            .first_ts
            .map(|t| t.0.div_euclid(1_000_000) - join::TOLERANCE_MS),
        until_ms: trace
            .last_ts
            .map(|t| t.0.div_euclid(1_000_000) + join::TOLERANCE_MS),
    }
}

/// What the account says about the connection these facts summarise.
pub fn resolve<S: AccountSource + ?Sized>(source: &mut S, facts: &Facts<'_>) -> AccountFacts {
    let seen = device_certificate_id(facts);
    // TLS 1.3 without keys hides the device's certificate: the one the user described stands
    // in for it, as a presumption the findings say.
    let presumed = match seen {
        None if certificate_hidden(facts) => source.presumed_device_certificate(),
        _ => None,
    };
    let certificate_presumed = presumed.is_some();
    let certificate_id = seen.or(presumed);
    let certificate = match &certificate_id {
        Some(id) => source.certificate(id),
        None => Lookup::Unknown,
    };
    let record = certificate.found().cloned();
    let ca = match record.as_ref().and_then(|r| r.ca_certificate_id.as_deref()) {
        Some(ca_id) => source.ca_certificate(ca_id),
        None => Lookup::Unknown,
    };
    // The certificate's ARN; when the source holds no certificate record at all (files without
    // describe-certificate / list-certificates), `cert/ID`, which file sources match by ID.
    let arn = match (&record, &certificate) {
        (Some(r), _) => r
            .certificate_arn
            .clone()
            .or_else(|| Some(format!("cert/{}", r.certificate_id))),
        (None, Lookup::Unknown) => certificate_id.as_ref().map(|id| format!("cert/{id}")),
        _ => None,
    };
    let (policies, things) = match &arn {
        Some(arn) => (source.attached_policies(arn), source.things_of(arn)),
        None => (Lookup::Unknown, Lookup::Unknown),
    };
    let query = log_query(facts, certificate_id.as_deref());
    let log = if query.since_ms.is_some() {
        source
            .log_entries(&query)
            .map(|entries| joined(entries, &query))
    } else {
        Lookup::Unknown
    };
    AccountFacts {
        certificate_id,
        certificate_presumed,
        certificate,
        ca,
        policies,
        things,
        endpoints: source.endpoints(),
        log,
    }
}

/// The entries that belong to the connection the query describes (a source may answer more
/// broadly than asked).
fn joined(entries: Vec<LogEntry>, query: &LogQuery) -> Vec<LogEntry> {
    entries
        .into_iter()
        .filter(|e| join::belongs(e, query))
        .collect()
}

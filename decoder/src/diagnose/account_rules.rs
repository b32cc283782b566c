//! What the account says about a connection, set beside what the wire showed.
//!
//! With `--account` files or `--aws`, [`AccountFacts`] tell what the wire cannot: whether the
//! certificate the device presented is registered and active, its CA, the policies and thing
//! attached to it, the account's endpoints, and what AWS logged. A refusal the wire could only
//! call likely becomes certain when the account names its cause.
//!
//! Precision: a connection the endpoint accepted (CONNACK 0) never gets an error from the
//! account. If the account says the certificate is inactive while the connection worked, the
//! facts are from another time, account or region, and the finding says so as a warning.
//! A question the account could not answer is an info finding that names the call.

use super::catalogue::Values;
use super::code::Code;
use super::facts::Facts;
use super::finding::{Certainty, Evidence, Finding, Severity};
use super::log_entries;
use crate::account::{AccountFacts, CallFailure, CertStatus, CertificateRecord, Lookup};

/// The wire findings a certificate refusal may have been read as, before the account spoke.
const WIRE_REFUSALS: &[Code] = &[
    Code::AuthClientCertRejected,
    Code::ConnHandshakeAborted,
    Code::ConnEndpointClosed,
    Code::ConnNoAnswer,
];

pub fn rules(f: &Facts, account: &AccountFacts, values: &Values, out: &mut Vec<Finding>) {
    let said = Said {
        presumed: account.certificate_presumed,
        worked: f.connack_accepted().map(|e| f.t(e)),
        values,
    };
    let presumed = said.presumed;
    // When the device's certificate was seen, or else its encrypted flight that carried it.
    let cert_t = f
        .device_chain
        .map(|(e, _)| e)
        .or_else(|| f.device_encrypted_flight().first().copied())
        .map_or(0.0, |e| f.t(e));
    let id = account.certificate_id.as_deref().unwrap_or("?");

    // The certificate.
    match &account.certificate {
        Lookup::Found(r) => {
            let status = r.status.as_str().to_string();
            let seen = if presumed {
                format!("account: certificate {id} (the only one described, taken as the device's) is {status}")
            } else {
                format!("account: certificate {id} is {status}")
            };
            match &r.status {
                CertStatus::Active => {
                    let mut fd = Finding::new(
                        Code::AuthCertActive,
                        format!(
                            "The account holds the device's certificate {id} as ACTIVE: it is not unregistered, inactive or revoked."
                        ),
                    )
                    .evidence(cert_t, seen);
                    fd.next_steps = super::catalogue::steps(fd.code, values);
                    for w in out
                        .iter_mut()
                        .filter(|w| w.code == Code::AuthClientCertRejected)
                    {
                        w.summary.push_str(
                            " The account holds this certificate as ACTIVE, which rules out an unregistered, inactive or revoked certificate: look at its CA, the policy and the endpoint.",
                        );
                        w.candidates.retain(|c| {
                            let c = c.to_ascii_lowercase();
                            !(c.contains("not registered")
                                || c.contains("inactive")
                                || c.contains("revoked"))
                        });
                    }
                    out.push(fd);
                }
                other => {
                    let code = match other {
                        CertStatus::Revoked => Code::AuthCertRevoked,
                        CertStatus::PendingTransfer => Code::AuthCertPendingTransfer,
                        _ => Code::AuthCertInactive,
                    };
                    let summary = format!(
                        "The account holds the device's certificate {id} with the status {status}; AWS IoT Core accepts only ACTIVE certificates."
                    );
                    problem(&said, code, summary, (cert_t, seen), out);
                }
            }
        }
        Lookup::NotFound => {
            let summary = format!(
                "The account does not hold the device's certificate {id}: it is not registered in this account and region."
            );
            let seen = format!("account: no certificate {id}");
            problem(
                &said,
                Code::AuthCertNotRegistered,
                summary,
                (cert_t, seen),
                out,
            );
        }
        Lookup::Failed(c) => out.push(failed(c, values)),
        Lookup::Unknown => {}
    }

    // Its CA.
    let ca_id = account
        .certificate
        .found()
        .and_then(|r| r.ca_certificate_id.as_deref());
    if let Some(ca_id) = ca_id {
        match &account.ca {
            Lookup::Found(ca) if ca.status != CertStatus::Active => {
                let summary = format!(
                    "The CA {ca_id} that signed the device's certificate is {} in the account.",
                    ca.status.as_str()
                );
                let seen = format!("account: CA {ca_id} is {}", ca.status.as_str());
                problem(&said, Code::AuthCaInactive, summary, (cert_t, seen), out);
            }
            Lookup::NotFound => {
                let summary = format!(
                    "The device's certificate names the CA {ca_id}, which the account does not hold."
                );
                let seen = format!("account: no CA {ca_id}");
                problem(
                    &said,
                    Code::AuthCaNotRegistered,
                    summary,
                    (cert_t, seen),
                    out,
                );
            }
            Lookup::Failed(c) => out.push(failed(c, values)),
            _ => {}
        }
    }

    // Policies and things.
    match &account.policies {
        Lookup::Found(p) if p.is_empty() => {
            let t = f.connect().map_or(cert_t, |(e, _)| f.t(e));
            let summary = format!(
                "The account lists no policy attached to the certificate {id}: AWS IoT Core denies every action by default, the CONNECT first."
            );
            problem(
                &said,
                Code::AuthzNoPolicyAttached,
                summary,
                (t, "account: list-attached-policies is empty".into()),
                out,
            );
        }
        Lookup::Failed(c) => out.push(failed(c, values)),
        _ => {}
    }
    let uses_thing = account.policies.found().is_some_and(|ps| {
        ps.iter()
            .any(|p| p.document.contains("iot:Connection.Thing."))
    });
    match &account.things {
        Lookup::Found(t) if t.is_empty() && uses_thing => {
            let mut fd = Finding::new(
                Code::AuthzNoThingAttached,
                format!(
                    "No thing is attached to the certificate {id}, and its policy uses ${{iot:Connection.Thing.*}}: those variables stay empty, so the statements that use them match nothing."
                ),
            )
            .evidence(cert_t, "account: list-principal-things is empty");
            fd.next_steps = super::catalogue::steps(fd.code, values);
            out.push(fd);
        }
        Lookup::Failed(c) => out.push(failed(c, values)),
        _ => {}
    }

    // The endpoint.
    match &account.endpoints {
        Lookup::Found(e) => {
            let names: Vec<&str> = e
                .ats
                .iter()
                .map(String::as_str)
                .chain(e.domains.iter().filter_map(|d| d.domain_name.as_deref()))
                .collect();
            let all_known = e.domains.iter().all(|d| d.domain_name.is_some());
            if let (Some(sni), true, false) = (f.sni(), all_known, names.is_empty()) {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(sni)) {
                    let t = f.client_hello.map_or(0.0, |(e, _)| f.t(e));
                    let summary = format!(
                        "The device asked for {sni}, which is not this account's endpoint ({}).",
                        names.join(", ")
                    );
                    let seen = format!("SNI {sni}; account endpoints {}", names.join(", "));
                    // The endpoint is the account's whatever certificate was presumed.
                    let about_sni = Said {
                        presumed: false,
                        ..said
                    };
                    problem(
                        &about_sni,
                        Code::ConnSniOtherAccount,
                        summary,
                        (t, seen),
                        out,
                    );
                }
            }
        }
        Lookup::Failed(c) => out.push(failed(c, values)),
        _ => {}
    }

    // The log.
    match &account.log {
        Lookup::Found(entries) => {
            let first_ms = f.trace.first_ts.map(|t| t.0.div_euclid(1_000_000));
            for e in entries {
                let t = match (e.timestamp_ms, first_ms) {
                    (Some(at), Some(first)) => (at - first) as f64 / 1000.0,
                    _ => 0.0,
                };
                let Some(mut fd) = log_entries::finding(e, t) else {
                    continue;
                };
                if let Some(w) = out.iter_mut().find(|w| w.code == fd.code) {
                    // The wire's finding, confirmed by what AWS logged.
                    w.evidence.append(&mut fd.evidence);
                    w.certainty = Certainty::Certain;
                    w.candidates.clear();
                    w.summary.push_str(&format!(" {}", fd.summary));
                } else {
                    fd.next_steps = super::catalogue::steps(fd.code, values);
                    out.push(fd);
                }
            }
        }
        Lookup::Failed(c) => out.push(failed(c, values)),
        _ => {}
    }
    fold_failures(out);
}

/// One ACCOUNT.LOOKUP_FAILED per connection: when the network or the credentials are missing,
/// every question fails for the same reason, and one finding listing each call says it once.
fn fold_failures(out: &mut Vec<Finding>) {
    let Some(first) = out.iter().position(|f| f.code == Code::AccountLookupFailed) else {
        return;
    };
    let mut rest = Vec::new();
    let mut i = first + 1;
    while i < out.len() {
        if out[i].code == Code::AccountLookupFailed {
            rest.push(out.remove(i));
        } else {
            i += 1;
        }
    }
    if rest.is_empty() {
        return;
    }
    let calls = rest.len() + 1;
    let kept = &mut out[first];
    for r in rest {
        kept.summary = kept
            .summary
            .replace(" The diagnosis of this fact rests on the wire alone.", "");
        let detail = r
            .summary
            .replace(" The diagnosis of this fact rests on the wire alone.", "");
        kept.summary.push(' ');
        kept.summary.push_str(&detail);
        kept.evidence.extend(r.evidence);
    }
    kept.summary.push_str(&format!(
        " The diagnosis of these {calls} facts rests on the wire alone."
    ));
}

/// What every account finding of one connection shares.
#[derive(Clone, Copy)]
struct Said<'a> {
    /// The certificate was presumed, not seen (TLS 1.3 without keys).
    presumed: bool,
    /// When the endpoint accepted the session (CONNACK 0), if it did.
    worked: Option<f64>,
    values: &'a Values,
}

/// A cause the account names: an error, certain, which turns the wire's "likely" refusal into
/// information that points at it; on a connection that worked, a warning that says why the
/// account and the wire disagree.
fn problem(
    said: &Said,
    code: Code,
    summary: String,
    (t, seen): (f64, String),
    out: &mut Vec<Finding>,
) {
    let Said {
        presumed,
        worked,
        values,
    } = *said;
    let mut fd = Finding::new(code, summary).evidence(t, seen);
    fd.next_steps = super::catalogue::steps(code, values);
    if presumed {
        // The wire hid the device's certificate: the account's answer is about the certificate
        // the files describe, taken as the device's.
        fd.certainty = Certainty::Likely;
        fd.summary = format!(
            "The wire hides the device's certificate (TLS 1.3 without keys); the account's only described certificate is taken as the device's. {}",
            fd.summary
        );
    }
    if let Some(ack) = worked {
        fd.severity = Severity::Warning;
        fd.summary.push_str(&format!(
            " Yet the endpoint accepted this connection (CONNACK 0 at +{ack:.6} s): the account's facts are from a later time, or from another account or region than the one the device reached."
        ));
        fd.evidence.push(Evidence {
            t: ack,
            text: "CONNACK 0".into(),
        });
        out.push(fd);
        return;
    }
    for w in out
        .iter_mut()
        .filter(|w| w.severity == Severity::Error && WIRE_REFUSALS.contains(&w.code))
    {
        w.severity = Severity::Info;
        if presumed {
            w.summary
                .push_str(&format!(" The account gives the likely cause: {code}."));
        } else {
            w.certainty = Certainty::Certain;
            w.candidates.clear();
            w.settle = None;
            w.summary
                .push_str(&format!(" The account gives the cause: {code}."));
        }
    }
    out.push(fd);
}

/// A certificate's status in the account on its own, for `cert check --account`: the finding
/// that says it is unregistered, not active, or ACTIVE; a failed question as information.
pub fn certificate_finding(id: &str, lookup: &Lookup<CertificateRecord>) -> Option<Finding> {
    let values = Values {
        cert_id: Some(id.to_string()),
        ..Values::default()
    };
    let fd = match lookup {
        Lookup::Found(r) => {
            let code = match r.status {
                CertStatus::Active => Code::AuthCertActive,
                CertStatus::Revoked => Code::AuthCertRevoked,
                CertStatus::PendingTransfer => Code::AuthCertPendingTransfer,
                _ => Code::AuthCertInactive,
            };
            Finding::new(
                code,
                format!(
                    "The account holds the certificate {id} with the status {}.",
                    r.status.as_str()
                ),
            )
        }
        Lookup::NotFound => Finding::new(
            Code::AuthCertNotRegistered,
            format!("The account does not hold the certificate {id}: it is not registered in this account and region."),
        ),
        Lookup::Failed(c) => return Some(failed(c, &values)),
        Lookup::Unknown => return None,
    };
    let mut values = values;
    if let Some(arn) = lookup.found().and_then(|r| r.certificate_arn.as_deref()) {
        let mut parts = arn.split(':').skip(3);
        values.region = parts.next().map(str::to_string);
        values.account = parts.next().map(str::to_string);
    }
    Some(fd.steps_from(&values))
}

/// A question the account could not answer.
fn failed(c: &CallFailure, values: &Values) -> Finding {
    let mut fd = Finding::new(
        Code::AccountLookupFailed,
        format!(
            "{} failed: {}. The diagnosis of this fact rests on the wire alone.",
            c.call, c.error
        ),
    )
    .evidence(0.0, format!("account: {} failed", c.call));
    fd.next_steps = super::catalogue::steps(fd.code, values);
    fd
}

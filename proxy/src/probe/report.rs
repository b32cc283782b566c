//! The probe's verdict: the decoded connection's findings (the same rules as `proxy` and
//! `replay`) with the offline ones, printed as text or as the one JSON object every command
//! shares, plus the exit status.

use iotscope_decoder::account::AccountFacts;
use iotscope_decoder::diagnose::Code;
use iotscope_decoder::facts::Facts;
use std::io::Write;

use iotscope_decoder::diagnose::{self, Certainty, Context, Finding, Severity};
use iotscope_decoder::Trace;
use iotscope_report::sorted_json::SortedJson;
use serde::Serialize;

use super::connection::{ClientCertReport, Outcome};
use super::endpoint_name::NameKind;
use super::offline::Offline;
use super::steps::{Step, Steps};
use super::trust::ChainReport;
use iotscope_report::json::Connection;
use iotscope_report::text;
use iotscope_report::Format;

/// What the probe was asked, for the report.
pub struct Asked {
    pub host: String,
    pub port: u16,
    pub mqtt: Option<&'static str>,
    pub client_id: Option<String>,
    /// `--policy` with its thing, region and account.
    pub policy: Option<iotscope_decoder::policy::Given>,
    /// Where to ask what the account says about the connection.
    pub account: Option<iotscope_account::SharedSource>,
}

/// The findings of the whole probe, most severe first.
pub fn findings(offline: &Offline, outcome: Option<&Outcome>, asked: &Asked) -> Vec<Finding> {
    findings_with(offline, outcome, asked, None)
}

/// What the account says about the probe's connection, when `--account` was given.
pub fn account_facts(outcome: &Outcome, asked: &Asked) -> Option<AccountFacts> {
    let mut source = asked.account.clone()?;
    outcome.attempted.then(|| {
        iotscope_account::resolve(
            &mut source,
            &iotscope_decoder::facts::Facts::new(&outcome.trace),
        )
    })
}

/// The findings, with what the account says about the connection.
pub fn findings_with(
    offline: &Offline,
    outcome: Option<&Outcome>,
    asked: &Asked,
    account: Option<&AccountFacts>,
) -> Vec<Finding> {
    let mut found = match outcome {
        Some(o) if o.attempted => connection_findings(o, offline, asked, account),
        _ => Vec::new(),
    };
    // An offline finding the connection confirmed is kept in the connection's form, which
    // carries the evidence.
    for f in &offline.findings {
        if !found.iter().any(|c| c.code == f.code) {
            found.push(f.clone());
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.severity));
    found
}

fn connection_findings(
    o: &Outcome,
    offline: &Offline,
    asked: &Asked,
    account: Option<&AccountFacts>,
) -> Vec<Finding> {
    let ctx = Context {
        expected_endpoint: Some(asked.host.clone()),
        custom_domain: false,
        policy: asked.policy.clone(),
    };
    let facts = iotscope_decoder::facts::Facts::new(&o.trace);
    let mut found = diagnose::findings_with(&facts, &ctx, account);
    if o.handshake_failed {
        found.retain(|f| f.code != Code::TlsNotDecrypted);
    }
    if matches!(offline.name, NameKind::IpLiteral(_)) {
        // The rule counts a missing SNI as fatal when the endpoint is not an AWS name (a
        // custom domain); an address is no custom domain, and was the user's own choice.
        for f in found.iter_mut().filter(|f| f.code == Code::ConnSniMissing) {
            f.severity = Severity::Warning;
            f.summary = format!(
                "The ClientHello carries no server name (SNI): {} is an address, and TLS sends host names only. AWS IoT Core's default endpoint accepts this, but custom domains, multi-account certificates and configured TLS policies need the SNI.",
                asked.host
            );
        }
    }
    let errors = found.iter().any(|f| f.severity == Severity::Error);
    if let (Some(step), false) = (o.timed_out, errors) {
        // Silence leaves the rules nothing to read; say what the probe waited for.
        let waited = match step {
            "resolve" => "did not resolve the name",
            "tcp" => "did not accept the TCP connection",
            "tls" => "did not finish the TLS handshake",
            "connect" => "did not answer CONNECT",
            "subscribe" => "did not answer SUBSCRIBE",
            _ => "did not answer PUBLISH",
        };
        let values = diagnose::Values {
            endpoint: Some(asked.host.clone()),
            port: Some(asked.port),
            ..diagnose::Values::default()
        };
        let f = Finding::new(
            Code::ConnNoAnswer,
            format!("The endpoint {waited} within the probe's --timeout."),
        )
        .certainty(Certainty::Likely);
        found.push(f.steps_from(&values));
    }
    found
}

/// 1 when anything asked for did not work or a finding is an error, else 0.
pub fn exit_code(found: &[Finding], steps: &Steps) -> u8 {
    let error = found.iter().any(|f| f.severity == Severity::Error);
    u8::from(error || !steps.all_ok())
}

/// Everything the report prints.
/// The `probe` member of the probe's JSON object.
#[derive(Serialize)]
struct ProbeJson<'a> {
    client_certificate: Option<&'a ClientCertReport>,
    client_id: &'a Option<String>,
    endpoint: &'a str,
    endpoint_chain: Option<&'a ChainReport>,
    mqtt: Option<&'static str>,
    ok: bool,
    port: u16,
    steps: &'a [Step],
}

pub struct Report<'a> {
    pub asked: &'a Asked,
    pub steps: &'a Steps,
    /// `None` when no connection was attempted.
    pub trace: Option<&'a Trace>,
    pub chain: Option<&'a ChainReport>,
    pub client_cert: Option<&'a ClientCertReport>,
    pub found: &'a [Finding],
    /// What the account said about the connection (`--account`).
    pub account: Option<&'a AccountFacts>,
}

impl Report<'_> {
    /// Prints the connection block (text) or the JSON object.
    pub fn print(&self, format: Format, colour: bool) {
        let mut out = std::io::stdout().lock();
        // A closed pipe must not turn into a panic; the exit status still says how it went.
        let _ = match format {
            Format::Text => {
                let style = text::Style { colour };
                let body = match self.trace {
                    Some(t) => {
                        let mut b = String::new();
                        let line = self.account.and_then(iotscope_report::account::line);
                        text::write_connection_with_account(
                            &mut b,
                            &Facts::new(t),
                            self.found,
                            style,
                            line.as_deref(),
                        );
                        b
                    }
                    None => format!("{}\n", text::findings(self.found, style)),
                };
                writeln!(out, "\n{body}{}", verdict_line(self.steps))
            }
            Format::Json => writeln!(out, "{}", self.json()),
        };
        let _ = out.flush();
    }

    /// The connection's object, as replay and proxy write it, with a `probe` member: what was
    /// asked and each step.
    fn json(&self) -> String {
        let empty = Trace::default();
        let a = self.asked;
        let probe = ProbeJson {
            client_certificate: self.client_cert,
            client_id: &a.client_id,
            endpoint: &a.host,
            endpoint_chain: self.chain,
            mqtt: a.mqtt,
            ok: self.steps.all_ok(),
            port: a.port,
            steps: &self.steps.list,
        };
        let facts = Facts::new(self.trace.unwrap_or(&empty));
        let account = self.account.map(iotscope_report::account::json);
        let view = Connection::new(&facts, self.found, false)
            .with_account(account.as_ref())
            .with_probe(&probe, "probe", &a.host);
        let mut out = Vec::new();
        // Views of a finished trace cannot fail to serialise; an empty line would say so.
        let _ = SortedJson::new().write(&mut out, &view);
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn verdict_line(steps: &Steps) -> String {
    match steps.first_failure() {
        None => "probe: every step worked".to_string(),
        Some(s) => format!("probe: failed at {}: {}", s.step, s.summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::endpoint_name::classify;

    fn offline(host: &str, findings: Vec<Finding>) -> Offline {
        Offline {
            findings,
            lines: Vec::new(),
            leaf: None,
            key_mismatch: false,
            name: classify(host),
        }
    }

    fn outcome(timed_out: Option<&'static str>) -> Outcome {
        Outcome {
            trace: Trace::default(),
            chain: None,
            client_cert: ClientCertReport::default(),
            timed_out,
            attempted: true,
            handshake_failed: false,
        }
    }

    fn asked(host: &str) -> Asked {
        Asked {
            host: host.into(),
            port: 8883,
            mqtt: Some("3.1.1"),
            client_id: Some("c".into()),
            policy: None,
            account: None,
        }
    }

    #[test]
    fn silence_is_reported_and_offline_findings_join_most_severe_first() {
        let warn = Finding::new(Code::ConnSniMissing, "an address").severity(Severity::Warning);
        let off = offline("10.0.0.1", vec![warn]);
        let found = findings(&off, Some(&outcome(Some("connect"))), &asked("10.0.0.1"));
        let codes: Vec<_> = found.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(
            codes,
            [
                (Code::ConnNoAnswer, Severity::Error),
                (Code::ConnSniMissing, Severity::Warning)
            ]
        );
        assert_eq!(
            found[0].summary,
            "The endpoint did not answer CONNECT within the probe's --timeout."
        );
        assert!(
            found[0].next_steps[0].contains("10.0.0.1 port 8883"),
            "{:?}",
            found[0].next_steps
        );
    }

    #[test]
    fn an_offline_finding_the_connection_confirms_is_kept_once() {
        let off = offline(
            "h.example",
            vec![Finding::new(Code::ConnNoAnswer, "offline words")],
        );
        let found = findings(&off, Some(&outcome(Some("tls"))), &asked("h.example"));
        assert_eq!(found.len(), 1);
        assert!(found[0]
            .summary
            .contains("did not finish the TLS handshake"));
        // Without a connection the offline finding stands alone.
        let found = findings(&off, None, &asked("h.example"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].summary, "offline words");
    }
}

//! The probe's verdict: the decoded connection's findings (the same rules as `proxy` and
//! `replay`) with the offline ones, printed as text or as the one JSON object every command
//! shares, plus the exit status.

use std::io::Write;

use iotscope_decoder::diagnose::{self, Certainty, Context, Finding, Severity};
use iotscope_decoder::Trace;
use serde_json::{json, Value};

use super::connection::{ClientCertReport, Outcome};
use super::endpoint_name::NameKind;
use super::offline::{with_steps, Offline};
use super::steps::Steps;
use super::trust::ChainReport;
use crate::cli::Format;
use crate::render::{json as json_render, text};

/// What the probe was asked, for the report.
pub struct Asked {
    pub host: String,
    pub port: u16,
    pub mqtt: Option<&'static str>,
    pub client_id: Option<String>,
}

/// The findings of the whole probe, most severe first.
pub fn findings(offline: &Offline, outcome: Option<&Outcome>, asked: &Asked) -> Vec<Finding> {
    let mut found = match outcome {
        Some(o) if o.attempted => connection_findings(o, offline, asked),
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

fn connection_findings(o: &Outcome, offline: &Offline, asked: &Asked) -> Vec<Finding> {
    let ctx = Context {
        expected_endpoint: Some(asked.host.clone()),
        custom_domain: false,
    };
    let mut found = diagnose::diagnose(&o.trace, &ctx);
    if o.handshake_failed {
        found.retain(|f| f.code != "TLS.NOT_DECRYPTED");
    }
    if matches!(offline.name, NameKind::IpLiteral(_)) {
        // The rule counts a missing SNI as fatal when the endpoint is not an AWS name (a
        // custom domain); an address is no custom domain, and was the user's own choice.
        for f in found.iter_mut().filter(|f| f.code == "CONN.SNI_MISSING") {
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
            "CONN.NO_ANSWER",
            format!("The endpoint {waited} within the probe's --timeout."),
        )
        .certainty(Certainty::Likely);
        found.push(with_steps(f, &values));
    }
    found
}

/// 1 when anything asked for did not work or a finding is an error, else 0.
pub fn exit_code(found: &[Finding], steps: &Steps) -> u8 {
    let error = found.iter().any(|f| f.severity == Severity::Error);
    u8::from(error || !steps.all_ok())
}

/// Prints the report: the connection block (text) or the JSON object.
#[allow(clippy::too_many_arguments)]
pub fn print(
    format: Format,
    colour: bool,
    asked: &Asked,
    steps: &Steps,
    trace: Option<&Trace>,
    chain: Option<&ChainReport>,
    client_cert: Option<&ClientCertReport>,
    found: &[Finding],
) {
    let mut out = std::io::stdout().lock();
    // A closed pipe must not turn into a panic; the exit status still says how it went.
    let _ = match format {
        Format::Text => {
            let style = text::Style { colour };
            let body = match trace {
                Some(t) => text::connection(t, found, style),
                None => format!("{}\n", text::findings(found, style)),
            };
            writeln!(out, "\n{body}{}", verdict_line(steps))
        }
        Format::Json => {
            let empty = Trace::default();
            let mut v = json_render::connection(trace.unwrap_or(&empty), found, false);
            if let Value::Object(o) = &mut v {
                o.insert("source".into(), json!("probe"));
                o.insert("endpoint_name".into(), json!(asked.host));
                o.insert(
                    "probe".into(),
                    json!({
                        "endpoint": asked.host,
                        "port": asked.port,
                        "mqtt": asked.mqtt,
                        "client_id": asked.client_id,
                        "ok": steps.all_ok(),
                        "steps": steps.list,
                        "endpoint_chain": chain,
                        "client_certificate": client_cert,
                    }),
                );
            }
            writeln!(out, "{v}")
        }
    };
    let _ = out.flush();
}

fn verdict_line(steps: &Steps) -> String {
    match steps.first_failure() {
        None => "probe: every step worked".to_string(),
        Some(s) => format!("probe: failed at {}: {}", s.step, s.summary),
    }
}

//! The connection table's row: what a person scans a list of connections for.

use serde::Serialize;

use iotscope_decoder::diagnose::{Finding, Severity};
use iotscope_decoder::facts::Facts;
use iotscope_decoder::mqtt::Body;
use iotscope_decoder::{Direction, EventKind, Identity, Timestamp};

use crate::ladder::worst;

/// Characters of the certificate ID shown (the full one is the row's tooltip).
const SHORT_ID: usize = 10;

/// One connection in the table. `open` rows are replaced by the finished row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Unique in the view: the connection number, or its place in the report.
    pub id: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Unix seconds, for the chart and for sorting.
    pub unix: f64,
    pub device: String,
    pub sni: String,
    pub client_id: String,
    /// The device certificate's ID (SHA-256 of its DER), first characters, and all of it.
    pub cert: String,
    pub cert_full: String,
    pub tls: String,
    pub outcome: String,
    pub open: bool,
    /// The worst finding: code, severity, title.
    pub code: String,
    pub severity: String,
    pub title: String,
    /// Every finding's code, for the filter.
    pub codes: Vec<String>,
    /// The codes of the errors and warnings, which the chart counts: an info (the account
    /// saying a certificate is ACTIVE, say) is not a problem, and on a healthy fleet it would
    /// fill the chart.
    #[serde(skip)]
    pub problems: Vec<String>,
    pub source: String,
}

impl Row {
    /// A connection that has just opened.
    pub fn opened(id: u64, identity: &Identity, at: Timestamp) -> Row {
        Row {
            id,
            time: at.rfc3339(),
            unix: at.0 as f64 / 1e9,
            device: identity.device.map(|a| a.to_string()).unwrap_or_default(),
            sni: String::new(),
            client_id: String::new(),
            cert: String::new(),
            cert_full: String::new(),
            tls: String::new(),
            outcome: "open".into(),
            open: true,
            code: String::new(),
            severity: String::new(),
            title: String::new(),
            codes: Vec::new(),
            problems: Vec::new(),
            source: identity.source.clone().unwrap_or_default(),
        }
    }

    /// A finished connection.
    pub fn finished(id: u64, facts: &Facts, findings: &[Finding]) -> Row {
        let trace = facts.trace;
        let id_ = &trace.identity;
        let at = trace.first_ts.unwrap_or_default();
        let leg = facts.device_leg.map(|(_, l)| l);
        let sni = facts
            .client_hello
            .and_then(|(_, h)| h.sni.clone())
            .or_else(|| leg.and_then(|l| l.sni.clone()))
            .unwrap_or_default();
        let client_id = facts
            .connect()
            .map(|(_, c)| c.client_id.clone())
            .unwrap_or_default();
        let cert_full = facts
            .device_chain
            .and_then(|(_, c)| c.first())
            .or_else(|| leg.and_then(|l| l.chain.first()))
            .map(|c| c.sha256.clone())
            .unwrap_or_default();
        let tls = facts
            .server_hello
            .map(|(_, h)| iotscope_report::version_name(h.version).into_owned())
            .or_else(|| leg.and_then(|l| l.version.clone()))
            .unwrap_or_default();
        let w = worst(findings);
        Row {
            id,
            time: at.rfc3339(),
            unix: at.0 as f64 / 1e9,
            device: id_.device.map(|a| a.to_string()).unwrap_or_default(),
            sni,
            client_id,
            cert: cert_full.chars().take(SHORT_ID).collect(),
            cert_full,
            tls,
            outcome: outcome(facts),
            open: false,
            code: w.map(|f| f.code.as_str().to_string()).unwrap_or_default(),
            severity: w
                .map(|f| severity_name(f.severity))
                .unwrap_or_default()
                .into(),
            title: w.map(|f| f.title.to_string()).unwrap_or_default(),
            codes: findings
                .iter()
                .map(|f| f.code.as_str().to_string())
                .collect(),
            problems: findings
                .iter()
                .filter(|f| f.severity != Severity::Info)
                .map(|f| f.code.as_str().to_string())
                .collect(),
            source: id_.source.clone().unwrap_or_default(),
        }
    }
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// How the connection ended, in two or three words: the furthest it got, or what stopped it.
pub fn outcome(facts: &Facts) -> String {
    if facts.upstream_failure.is_some() {
        return "endpoint unreachable".into();
    }
    // In MITM mode the device's own handshake with iotscope can end it first.
    if let Some((_, leg)) = facts.device_leg {
        use iotscope_decoder::device_leg::Outcome;
        match &leg.outcome {
            Outcome::Completed => {}
            Outcome::Refused { alert: Some(a) } => {
                return format!("device refused iotscope's certificate ({a})")
            }
            Outcome::Refused { alert: None } => {
                return "device refused iotscope's certificate".into()
            }
            Outcome::Incompatible { .. } => return "device's TLS not spoken by iotscope".into(),
            Outcome::Failed { .. } => return "device's handshake with iotscope failed".into(),
        }
    }
    let connack = facts.mqtt.iter().find_map(|(e, p)| match &p.body {
        Body::Connack(c) if e.dir == Direction::EndpointToDevice => Some(c),
        _ => None,
    });
    if let Some(c) = connack {
        return if c.code == 0 {
            "MQTT connected".into()
        } else {
            format!("MQTT refused ({})", c.reason)
        };
    }
    // An alert that says why (an encrypted one is most often the close_notify of an orderly
    // end, and says nothing the rest of the row does not).
    let telling = facts
        .alerts
        .iter()
        .find_map(|a| a.name.filter(|n| *n != "close_notify").map(|n| (n, a.from)));
    if let Some((name, from)) = telling {
        return format!("TLS alert {name} from {from}");
    }
    if facts.connect().is_some() {
        return "MQTT CONNECT unanswered".into();
    }
    if facts.cut.is_some() {
        return "cut by iotscope".into();
    }
    if facts.server_hello.is_some() {
        return "TLS handshake, then closed".into();
    }
    if facts.client_hello.is_some() {
        return "no ServerHello".into();
    }
    if facts
        .trace
        .events()
        .any(|e| matches!(e.kind, EventKind::Protocol { .. }))
    {
        return "not TLS".into();
    }
    "no data".into()
}

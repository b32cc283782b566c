//! `iotscope probe`: connect to an endpoint as the device would, with the device's own
//! certificate, key and CA file, and report each step as it happens.
//!
//! Offline checks come first (the files and the endpoint's name). Then the probe resolves
//! the name, opens TCP, makes the TLS handshake and, when asked, speaks MQTT: CONNECT,
//! SUBSCRIBE, PUBLISH, DISCONNECT. Its own bytes are decoded like a capture's, so every
//! failure comes out as the findings the proxy would give for a device doing the same.

pub mod config;
mod connection;
mod decoding;
mod endpoint_name;
mod mqtt_exchange;
mod mqtt_packets;
mod offline;
mod report;
mod steps;
mod tls_stream;
mod trust;

use crate::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use iotscope_decoder::diagnose::Severity;
use rustls::pki_types::ServerName;

use crate::tls_setup::client::DeviceIdentity;
use crate::tls_setup::secrets::KeyLogFile;
pub use config::{MqttVersion, ProbeConfig};
use connection::Plan;
use iotscope_report::stdout_is_tty;
use iotscope_report::Format;
use mqtt_exchange::MqttPlan;
use report::{Asked, Report};
use steps::Steps;

/// Probes the endpoint. `Ok` is the exit status (1 when a step failed with an error
/// finding); `Err` is bad input, found before anything was dialled.
pub fn run(args: ProbeConfig) -> Result<u8, Error> {
    probe(args)
}

/// The probe; `Err` is bad input (exit status 2).
fn probe(args: ProbeConfig) -> Result<u8, Error> {
    // The clock is read once here, for the validity checks; the decoder never reads one.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let host = args.endpoint.trim().to_string();
    let server_name = server_name(&host)?;
    let mqtt = mqtt_plan(&args)?;
    let alpn = alpn(&args.alpn)?;
    let colour = args.colour.enabled(stdout_is_tty());
    let asked = Asked {
        host: host.clone(),
        port: args.port,
        mqtt: mqtt.as_ref().map(|m| {
            if m.level == mqtt_packets::LEVEL_5 {
                "5"
            } else {
                "3.1.1"
            }
        }),
        client_id: mqtt.as_ref().map(|m| m.client_id.clone()),
        policy: args.policy.clone(),
        account: args.account.clone(),
    };

    let began = Instant::now();
    let files = offline::Files {
        cert: args.cert.as_deref(),
        key: args.key.as_deref(),
        ca: args.ca.as_deref(),
    };
    let offline = offline::check(&files, &host, args.port, now)?;
    let mut steps = Steps::new(args.format == Format::Text, colour);
    if args.format == Format::Text {
        // A reader that went away must not stop the probe (a panic on a closed pipe).
        let _ = writeln!(std::io::stdout(), "{}", headline(&asked));
    }
    let offline_ok = !offline
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    let summary = match (offline.findings.len(), offline_ok) {
        (0, _) => "the files and the name are fine".to_string(),
        (n, true) => format!("{n} warning{}", if n == 1 { "" } else { "s" }),
        (n, false) => format!("{n} problem{}", if n == 1 { "" } else { "s" }),
    };
    steps.record("offline", began, offline_ok, summary, offline.lines.clone());

    if offline.key_mismatch {
        // The endpoint could only refuse a certificate whose key iotscope does not hold.
        let found = report::findings(&offline, None, &asked);
        let report = Report {
            asked: &asked,
            steps: &steps,
            trace: None,
            chain: None,
            client_cert: None,
            found: &found,
            account: None,
        };
        report.print(args.format, colour);
        return Ok(report::exit_code(&found, &steps));
    }

    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => Some(DeviceIdentity::load(c, k)?),
        _ => None,
    };
    let plan = Plan {
        host: host.clone(),
        server_name,
        port: args.port,
        alpn,
        anchors: trust::anchors(args.ca.as_deref())?,
        identity,
        keylog: args
            .keylog
            .as_deref()
            .map(KeyLogFile::open)
            .transpose()?
            .map(Arc::new),
        mqtt,
        timeout: args.timeout,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start the runtime: {e}")))?;
    let outcome = rt.block_on(connection::run(&plan, &mut steps))?;
    let account = report::account_facts(&outcome, &asked);
    let found = report::findings_with(&offline, Some(&outcome), &asked, account.as_ref());
    let report = Report {
        asked: &asked,
        steps: &steps,
        trace: Some(&outcome.trace),
        chain: outcome.chain.as_ref(),
        client_cert: Some(&outcome.client_cert),
        found: &found,
        account: account.as_ref(),
    };
    report.print(args.format, colour);
    Ok(report::exit_code(&found, &steps))
}

fn headline(a: &Asked) -> String {
    let mqtt = match (&a.mqtt, &a.client_id) {
        (Some(v), Some(id)) => format!(", MQTT {v} as {id}"),
        _ => ", TLS only".to_string(),
    };
    format!("iotscope probe {} port {}{mqtt}", a.host, a.port)
}

fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty() {
        return Err(Error::BadValue("--endpoint is empty".into()));
    }
    ServerName::try_from(bare.to_string()).map_err(|_| {
        Error::BadValue(format!(
            "--endpoint {host:?} is neither a host name nor an IP address"
        ))
    })
}

fn alpn(list: &[String]) -> Result<Vec<Vec<u8>>, Error> {
    list.iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(Error::BadValue(format!(
                    "--alpn {p:?}: a protocol name is 1 to 255 bytes"
                )))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

fn mqtt_plan(args: &ProbeConfig) -> Result<Option<MqttPlan>, Error> {
    if !args.wants_mqtt() {
        return Ok(None);
    }
    let level = match args.mqtt {
        Some(MqttVersion::V5) => mqtt_packets::LEVEL_5,
        Some(MqttVersion::V311) | None => mqtt_packets::LEVEL_311,
    };
    let client_id = match &args.client_id {
        Some(id) => {
            mqtt_packets::check_string("client id", id)?;
            id.clone()
        }
        None => random_client_id()?,
    };
    if let Some(f) = &args.subscribe {
        mqtt_packets::check_filter(f)?;
    }
    if let Some(t) = &args.publish {
        mqtt_packets::check_topic(t)?;
    }
    Ok(Some(MqttPlan {
        level,
        client_id,
        subscribe: args.subscribe.clone(),
        publish: args.publish.clone(),
    }))
}

/// `iotscope-probe-` and eight hex digits from the crypto provider's random source, so two
/// probes never take over each other's session.
fn random_client_id() -> Result<String, Error> {
    let mut bytes = [0u8; 4];
    crate::tls_setup::provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| Error::Environment("no random bytes for the client id".into()))?;
    Ok(format!(
        "iotscope-probe-{}",
        iotscope_decoder::hex::encode(&bytes)
    ))
}

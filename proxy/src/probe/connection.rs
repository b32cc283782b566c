//! The probe's one connection, step by step: resolve the name, open TCP, make the TLS
//! handshake with the device's files, hand over to the MQTT exchange when asked, and close.
//!
//! Every byte goes through the tee to the decoder, so whatever breaks ends up in the trace
//! the findings come from; the steps add what only iotscope's own TLS stack knows (the
//! verdict on the endpoint's chain, rustls's reason for an error).

use crate::error::Error;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotscope_decoder::{Direction, Identity, Input, Trace};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::decoding::Decoding;
use super::mqtt_exchange::{self, MqttPlan, State};
use super::steps::Steps;
use super::tls_stream::{close, describe, Stream, SETTLE};
use super::trust::{Anchors, ChainReport};
use crate::feed::tee::TeeStream;
use crate::tls_setup::client::{config, DeviceIdentity};
use crate::tls_setup::secrets::{KeyLogFile, SecretLog};

/// What the probe is to do.
pub struct Plan {
    pub host: String,
    pub server_name: ServerName<'static>,
    pub port: u16,
    pub alpn: Vec<Vec<u8>>,
    pub anchors: Anchors,
    pub identity: Option<DeviceIdentity>,
    pub keylog: Option<Arc<KeyLogFile>>,
    pub mqtt: Option<MqttPlan>,
    pub timeout: Duration,
}

/// What the endpoint did about the client certificate.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ClientCertReport {
    /// Did the endpoint ask for one (`None`: the handshake ended before it could be seen)?
    pub requested: Option<bool>,
    /// The AWS certificate ID of what iotscope sent, when it sent one.
    pub sent: Option<String>,
    /// Did the endpoint go on after it (`None`: not known).
    pub accepted: Option<bool>,
}

pub struct Outcome {
    pub trace: Trace,
    pub chain: Option<ChainReport>,
    pub client_cert: ClientCertReport,
    /// The step that ran out of time, if one did.
    pub timed_out: Option<&'static str>,
    /// A connection was attempted (resolution, at least).
    pub attempted: bool,
    /// The TLS handshake did not finish: rustls never derived the later keys, so records
    /// the endpoint sent after it stay encrypted, as they should.
    pub handshake_failed: bool,
}

/// Runs the connection. `Err` only for a configuration iotscope cannot build (exit 2);
/// everything the endpoint does is in the outcome.
pub async fn run(plan: &Plan, steps: &mut Steps) -> Result<Outcome, Error> {
    let secrets = Arc::new(SecretLog::new(plan.keylog.clone(), None));
    let alpn = plan.alpn.clone();
    let (cfg, verifier) = config(
        &plan.anchors.roots,
        plan.identity.as_ref(),
        alpn,
        secrets.clone(),
    )?;
    let identity = Identity {
        endpoint_name: Some(plan.host.clone()),
        source: Some("probe".into()),
        number: 1,
        ..Identity::default()
    };
    let mut dec = Decoding::new(identity, secrets.keys.clone());
    let mut out = Outcome {
        trace: Trace::default(),
        chain: None,
        client_cert: ClientCertReport::default(),
        timed_out: None,
        attempted: true,
        handshake_failed: false,
    };
    let mut addrs = (None, None);

    let Some(candidates) = resolve(plan, &mut dec, steps, &mut out).await else {
        return Ok(finish(dec, addrs, out));
    };
    let Some((tcp, local, peer)) =
        tcp(plan, &candidates, &mut dec, steps, &mut out, &mut addrs).await
    else {
        return Ok(finish(dec, addrs, out));
    };
    addrs = (Some(local), Some(peer));
    dec.feed(Direction::DeviceToEndpoint, Input::Open);

    // TLS.
    let began = Instant::now();
    let tee = TeeStream::new(
        tcp,
        Some(dec.tee(Direction::EndpointToDevice)),
        Some(dec.tee(Direction::DeviceToEndpoint)),
    );
    let connect = TlsConnector::from(cfg)
        .connect(plan.server_name.clone(), tee)
        .into_fallible();
    let handshake = tokio::time::timeout(plan.timeout, connect).await;
    let chain = |out: &mut Outcome| {
        if let Some(v) = verifier.verdict() {
            out.chain = Some(ChainReport::new(&v, &plan.anchors, &plan.server_name));
        }
    };
    out.client_cert.sent = plan.identity.as_ref().map(|i| i.sha256.clone());
    let mut tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err((e, mut tee))) => {
            out.handshake_failed = true;
            tee.hand_on_held();
            dec.drain();
            chain(&mut out);
            let mut details = out.chain.as_ref().map(|c| c.lines()).unwrap_or_default();
            out.client_cert.requested = Some(dec.certificate_requested());
            let endpoint_alert = matches!(
                e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
                Some(rustls::Error::AlertReceived(_))
            );
            if out.client_cert.requested == Some(true) && endpoint_alert {
                // The endpoint ended the handshake after asking for our certificate.
                out.client_cert.accepted = Some(false);
            }
            sent_only_if_asked(&mut out.client_cert);
            details.extend(client_cert_lines(&dec, plan, out.client_cert.accepted));
            steps.record(
                "tls",
                began,
                false,
                format!("handshake failed: {}", describe(&e)),
                details,
            );
            close_failed(tee, plan.timeout).await;
            return Ok(finish(dec, addrs, out));
        }
        Err(_) => {
            // The handshake future, and the socket with it, is gone: say so in the ladder.
            dec.note(
                Direction::DeviceToEndpoint,
                &format!(
                    "no TLS handshake within {:.1} s; iotscope closed the connection (--timeout)",
                    plan.timeout.as_secs_f64()
                ),
            );
            dec.feed(Direction::DeviceToEndpoint, Input::Fin);
            chain(&mut out);
            out.timed_out = Some("tls");
            out.handshake_failed = true;
            steps.record(
                "tls",
                began,
                false,
                format!("no handshake within {:.1} s", plan.timeout.as_secs_f64()),
                vec![],
            );
            return Ok(finish(dec, addrs, out));
        }
    };
    tls.get_mut().0.hand_on_held();
    dec.drain();
    chain(&mut out);
    let (version, summary) = negotiated(&tls);
    let tls13 = version == Some(rustls::ProtocolVersion::TLSv1_3);
    let requested = dec.certificate_requested();
    out.client_cert.requested = Some(requested);
    let mut details = out.chain.as_ref().map(|c| c.lines()).unwrap_or_default();
    let mut ok = true;
    let mut state = State::Open;
    let mut close_notify_in = false;
    let mut summary = summary;
    if !tls13 && requested {
        // In TLS 1.2 the endpoint's Finished comes after it has read the certificate.
        out.client_cert.accepted = Some(true);
    } else if requested && plan.mqtt.is_none() {
        // TLS 1.3 endpoints judge the certificate after the handshake: give it a moment.
        match settle(&mut tls, &mut dec, plan.timeout.min(SETTLE)).await {
            Settled::Quiet => out.client_cert.accepted = Some(true),
            Settled::Ended(why, by_close_notify) => {
                ok = false;
                state = State::Ended;
                close_notify_in = by_close_notify;
                out.client_cert.accepted = Some(false);
                summary = format!("{summary}, then {why}");
            }
        }
    }
    sent_only_if_asked(&mut out.client_cert);
    details.extend(client_cert_lines(&dec, plan, out.client_cert.accepted));
    steps.record("tls", began, ok, summary, details);

    if let (State::Open, Some(mqtt)) = (state, &plan.mqtt) {
        let ex = mqtt_exchange::run(&mut tls, &mut dec, mqtt, plan.timeout, steps).await;
        out.timed_out = ex.timed_out;
        if tls13 && requested {
            // An endpoint that answers MQTT took the certificate; one that sends an alert
            // instead of the first answer refused it.
            out.client_cert.accepted = if ex.endpoint_answered {
                Some(true)
            } else if ex.alert_instead {
                Some(false)
            } else {
                None
            };
        }
        state = ex.state;
        close_notify_in = ex.close_notify_instead;
    }
    match state {
        State::Open => {
            let began = Instant::now();
            let closed = close(&mut tls, plan.timeout.min(SETTLE * 2)).await;
            steps.record(
                "close",
                began,
                true,
                format!("sent close_notify; {closed}"),
                vec![],
            );
        }
        // The endpoint ended it (an alert, a close): close our side and read its FIN, so
        // the ladder shows how the connection ended.
        State::Ended => {
            let wait = plan.timeout.min(SETTLE);
            if close_notify_in {
                // A TLS peer answers close_notify with its own; some endpoints wait for it
                // before they close the socket.
                tls.get_mut().1.send_close_notify();
                let _ = tokio::time::timeout(wait, tls.flush()).await;
            }
            wind_down(tls.get_mut().0, wait).await
        }
        State::Closed => {}
    }
    tls.get_mut().0.finish().await;
    drop(tls);
    Ok(finish(dec, addrs, out))
}

/// A certificate the endpoint did not ask for never left iotscope.
fn sent_only_if_asked(c: &mut ClientCertReport) {
    if c.requested == Some(false) {
        c.sent = None;
    }
}

async fn resolve(
    plan: &Plan,
    dec: &mut Decoding,
    steps: &mut Steps,
    out: &mut Outcome,
) -> Option<Vec<SocketAddr>> {
    let began = Instant::now();
    let looked_up = tokio::time::timeout(
        plan.timeout,
        tokio::net::lookup_host((
            plan.host.trim_start_matches('[').trim_end_matches(']'),
            plan.port,
        )),
    )
    .await;
    let failure = match looked_up {
        Ok(Ok(found)) => {
            let addrs: Vec<SocketAddr> = found.collect();
            if !addrs.is_empty() {
                let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                let summary = if super::endpoint_name::ip_literal(&plan.host).is_some() {
                    format!("{} is an address; nothing to resolve", plan.host)
                } else {
                    format!("{} → {}", plan.host, list.join(", "))
                };
                steps.record("resolve", began, true, summary, vec![]);
                return Some(addrs);
            }
            format!("the name {} resolves to no address", plan.host)
        }
        Ok(Err(e)) => format!("the name {} does not resolve ({e})", plan.host),
        Err(_) => {
            out.timed_out = Some("resolve");
            format!(
                "the name {} did not resolve within {:.1} s",
                plan.host,
                plan.timeout.as_secs_f64()
            )
        }
    };
    dec.upstream_failed(&failure);
    steps.record("resolve", began, false, failure, vec![]);
    None
}

async fn tcp(
    plan: &Plan,
    candidates: &[SocketAddr],
    dec: &mut Decoding,
    steps: &mut Steps,
    out: &mut Outcome,
    addrs: &mut (Option<SocketAddr>, Option<SocketAddr>),
) -> Option<(TcpStream, SocketAddr, SocketAddr)> {
    let began = Instant::now();
    let mut failures = Vec::new();
    let mut all_refused = true;
    for addr in candidates {
        match tokio::time::timeout(plan.timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                let local = s.local_addr().unwrap_or(*addr);
                let mut summary = format!("connected to {addr} from {local}");
                if !failures.is_empty() {
                    summary.push_str(" after trying other addresses");
                }
                steps.record("tcp", began, true, summary, failures);
                return Some((s, local, *addr));
            }
            Ok(Err(e)) => {
                all_refused &= e.kind() == io::ErrorKind::ConnectionRefused;
                failures.push(format!("{addr}: {}", connect_error(&e)));
            }
            Err(_) => {
                all_refused = false;
                out.timed_out = Some("tcp");
                failures.push(format!(
                    "{addr}: no answer within {:.1} s",
                    plan.timeout.as_secs_f64()
                ));
            }
        }
    }
    addrs.1 = candidates.last().copied();
    if all_refused {
        // What the wire showed: our SYN, the endpoint's reset.
        dec.feed(Direction::DeviceToEndpoint, Input::Open);
        dec.feed(Direction::EndpointToDevice, Input::Rst);
    } else {
        dec.upstream_failed(&format!(
            "could not connect to {}:{}: {}",
            plan.host,
            plan.port,
            failures.join("; ")
        ));
    }
    let summary = if all_refused {
        "connection refused".to_string()
    } else {
        "no connection".to_string()
    };
    steps.record("tcp", began, false, summary, failures);
    None
}

fn connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

/// The agreed version and `TLS 1.3, TLS13_AES_256_GCM_SHA384, ALPN x`.
fn negotiated(tls: &Stream) -> (Option<rustls::ProtocolVersion>, String) {
    let conn = tls.get_ref().1;
    let version = conn.protocol_version();
    let v = match version {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "TLS".to_string(),
    };
    let suite = conn.negotiated_cipher_suite().map_or_else(
        || "no cipher suite".to_string(),
        |s| format!("{:?}", s.suite()),
    );
    let alpn = conn.alpn_protocol().map_or_else(
        || "no ALPN".to_string(),
        |p| format!("ALPN {}", String::from_utf8_lossy(p)),
    );
    (version, format!("{v}, {suite}, {alpn}"))
}

/// The client-certificate lines of the TLS step.
fn client_cert_lines(dec: &Decoding, plan: &Plan, accepted: Option<bool>) -> Vec<String> {
    // Its certificate ID is in the offline step and the JSON object.
    let ours = plan.identity.as_ref().map(|i| i.subject.clone());
    if !dec.certificate_requested() {
        return vec![match ours {
            Some(_) => "the endpoint did not ask for a client certificate; none was sent".into(),
            None => "the endpoint did not ask for a client certificate".into(),
        }];
    }
    let then = match (accepted, ours.is_some()) {
        (Some(true), true) => "; the endpoint accepted it",
        (Some(false), true) => "; the endpoint refused it",
        (Some(true), false) => "; the endpoint went on without one",
        (Some(false), false) => "; the endpoint would not go on without one",
        (None, _) => "",
    };
    let sent = match ours {
        Some(c) => format!("  iotscope sent {c}{then}"),
        None => format!("  iotscope had none to send{then}"),
    };
    vec!["the endpoint asked for a client certificate".into(), sent]
}

enum Settled {
    Quiet,
    /// How the endpoint ended it, and whether with close_notify.
    Ended(String, bool),
}

/// Reads for `wait` after a TLS 1.3 handshake: an endpoint that refuses the certificate
/// sends its alert or closes at once; one that says nothing has accepted it.
async fn settle(tls: &mut Stream, dec: &mut Decoding, wait: Duration) -> Settled {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    let r = match tokio::time::timeout_at(deadline, tls.read(&mut buf)).await {
        Err(_) => Settled::Quiet,
        // Data before any MQTT was sent: the endpoint speaks first; it went on.
        Ok(Ok(n)) if n > 0 => Settled::Quiet,
        Ok(Ok(_)) => Settled::Ended(
            "the endpoint closed the connection (close_notify)".into(),
            true,
        ),
        Ok(Err(e)) => Settled::Ended(describe(&e), false),
    };
    tls.get_mut().0.hand_on_held();
    dec.drain();
    r
}

/// After a failed handshake: FIN, and a short wait for the endpoint's close so the ladder
/// shows how it ended.
async fn close_failed(mut tee: TeeStream<TcpStream>, wait: Duration) {
    let wait = wait.min(SETTLE);
    let _ = tokio::time::timeout(wait, tee.shutdown()).await;
    read_to_close(&mut tee, wait).await;
    tee.finish().await;
}

/// The endpoint ended the session (an alert, a close_notify): wait for its FIN first, as a
/// device would, then close our side, so the ladder shows who closed first.
async fn wind_down(tee: &mut TeeStream<TcpStream>, wait: Duration) {
    read_to_close(tee, wait).await;
    let _ = tokio::time::timeout(wait, tee.shutdown()).await;
}

/// Reads off the socket until the endpoint's close or `wait`.
async fn read_to_close(tee: &mut TeeStream<TcpStream>, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tee.read(&mut buf)).await {
        if n == 0 {
            break;
        }
    }
}

fn finish(
    dec: Decoding,
    (device, endpoint): (Option<SocketAddr>, Option<SocketAddr>),
    mut out: Outcome,
) -> Outcome {
    let mut trace = dec.finish();
    trace.identity.device = device;
    trace.identity.endpoint = endpoint;
    out.trace = trace;
    out
}

//! Rules for the guide's Authentication section: who trusts whose certificate.

use super::code::Code;
use super::facts::{looks_like_encrypted_alert, Context, Facts};
use super::finding::{Certainty, Finding, Severity};
use crate::event::{EventKind, Side, Timestamp};
use crate::mqtt::PacketType;
use crate::tls::SniForm;
use crate::Direction;

/// Alerts a device sends when it does not accept the endpoint's certificate.
const TRUST_ALERTS: &[u8] = &[42, 43, 44, 45, 46, 48, 49];
/// Alerts an endpoint sends when it does not accept the device's certificate.
const CLIENT_CERT_ALERTS: &[u8] = &[40, 42, 43, 44, 46, 48, 49, 51];
/// A device flight smaller than this (TLS 1.3, encrypted) cannot hold a certificate: an
/// empty Certificate plus Finished is well under 100 bytes, the smallest real certificate with
/// its CertificateVerify is several hundred.
const FLIGHT_WITHOUT_CERT: u64 = 200;

pub fn rules(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let name_problem = server_name(f, ctx, out);
    if !name_problem {
        server_trust(f, out);
    }
    let missing = client_cert_missing(f, out);
    let expired = client_cert_expired(f, out);
    if !missing && !expired {
        client_cert_rejected(f, out);
    }
}

/// The device's refusal of the endpoint's flight: its alert, or its close without one.
struct Refusal {
    t: f64,
    alert: Option<(Option<u8>, Option<&'static str>)>,
}

fn device_refusal(f: &Facts) -> Option<Refusal> {
    if f.unasked_second_hello() {
        return None;
    }
    let (sh_ev, _) = f.server_hello?;
    // Did the device send its own next flight (so it accepted the endpoint's) by `until`?
    let went_on = |until: Timestamp, ccs_counts: bool| {
        f.trace.events().any(|e| {
            e.dir == Direction::DeviceToEndpoint
                && e.ts >= sh_ev.ts
                && e.ts <= until
                && match e.kind {
                    EventKind::Encrypted { .. }
                    | EventKind::Certificate(_)
                    | EventKind::Handshake { .. } => true,
                    EventKind::ChangeCipherSpec => ccs_counts,
                    _ => false,
                }
        })
    };
    if let Some(a) = f.alert_from(Side::Device) {
        // An alert after the device's own Finished (a TLS 1.2 encrypted close_notify ending a
        // working session) says nothing about the endpoint's certificate. A TLS 1.3
        // compatibility ChangeCipherSpec before the alert does not mean it went on.
        if a.event.ts >= sh_ev.ts && a.description != Some(0) && !went_on(a.event.ts, false) {
            return Some(Refusal {
                t: f.t(a.event),
                alert: Some((a.description, a.name)),
            });
        }
    }
    // No alert: did the device close before sending its own next flight?
    let close = f.closed_by(Side::Device)?;
    let endpoint_closed_before = f.closed_by(Side::Endpoint).is_some_and(|e| e.ts < close.ts);
    if endpoint_closed_before || f.alert_from(Side::Endpoint).is_some() {
        return None;
    }
    (!went_on(close.ts, true)).then(|| Refusal {
        t: f.t(close),
        alert: None,
    })
}

fn describe(r: &Refusal) -> String {
    match r.alert {
        Some((_, Some(name))) => format!("the device sent a {name} alert"),
        Some(_) => "the device sent an encrypted alert".to_string(),
        None => "the device closed the connection without an alert".to_string(),
    }
}

/// AUTH.SERVER_NAME_MISMATCH; returns true when it fired.
fn server_name(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) -> bool {
    let refusal = device_refusal(f);
    let wanted = f
        .sni()
        .map(str::to_string)
        .or_else(|| ctx.expected_endpoint.clone());
    // The certificate is visible (TLS 1.2, or decrypted): compare names directly.
    if let (Some((cert_ev, chain)), Some(name)) = (f.server_chain, wanted.as_deref()) {
        if let Some(leaf) = chain.first().filter(|c| c.parse_error.is_none()) {
            if !leaf.covers_name(name) {
                let mut fd = Finding::new(
                    Code::AuthServerNameMismatch,
                    format!(
                        "The endpoint's certificate covers {} but not {name}.",
                        leaf.dns_names().join(", ")
                    ),
                )
                .evidence(
                    f.t(cert_ev),
                    format!("endpoint certificate {}", leaf.subject),
                );
                match &refusal {
                    Some(r) => fd = fd.evidence(r.t, describe(r)),
                    None => {
                        fd.summary.push_str(" The device went on anyway: it does not check the endpoint's name, which leaves it open to impersonation.");
                        fd = fd.severity(Severity::Warning);
                    }
                }
                out.push(fd);
                return true;
            }
            return false;
        }
    }
    // Without the certificate: a device that dialled an IP address and refused the flight.
    let (Some(r), Some((ch_ev, ch))) = (refusal, f.client_hello) else {
        return false;
    };
    if ch.sni_form != SniForm::IpLiteral {
        return false;
    }
    let ip = ch.sni.clone().unwrap_or_default();
    out.push(
        Finding::new(
            Code::AuthServerNameMismatch,
            format!(
                "The device dialled the IP address {ip} and then refused the endpoint's certificate: {}. Endpoint certificates name DNS names, not addresses.",
                describe(&r)
            ),
        )
        .certainty(Certainty::Likely)
        .evidence(f.t(ch_ev), format!("SNI {ip}"))
        .evidence(r.t, describe(&r))
        .candidates([
            format!("the certificate does not name {ip}"),
            format!(
                "the device does not trust the endpoint's CA ({})",
                Code::AuthServerCertUntrusted
            ),
        ])
        .settle("connect by the endpoint's DNS name; a key log would show the certificate's names"),
    );
    true
}

fn server_trust(f: &Facts, out: &mut Vec<Finding>) {
    // A resumed session carries no endpoint certificate: whatever the device refused, it was
    // not one.
    if f.resumed() {
        return;
    }
    let Some(r) = device_refusal(f) else {
        return;
    };
    let trust_alert = match r.alert {
        Some((Some(d), _)) => TRUST_ALERTS.contains(&d),
        Some((None, _)) => false,
        None => true,
    };
    if !trust_alert {
        // Another alert (internal_error, decode_error …): still most likely about the
        // endpoint's flight, but say so with less certainty.
        if !matches!(r.alert, Some((Some(d), _)) if d == 80 || d == 50) {
            return;
        }
    }
    let mut fd = Finding::new(
        Code::AuthServerCertUntrusted,
        format!("After the endpoint sent its certificate, {}.", describe(&r)),
    )
    .evidence(r.t, describe(&r));
    if let Some((ev, chain)) = f.server_chain {
        if let Some(leaf) = chain.first() {
            fd = fd.evidence(
                f.t(ev),
                format!(
                    "endpoint certificate {} issued by {}",
                    leaf.subject, leaf.issuer
                ),
            );
        }
        if let EventKind::Certificate(c) = &ev.kind {
            if let Some(root) = &c.root {
                let known = if c.root_known {
                    ""
                } else {
                    ", which is not a public root"
                };
                fd.summary
                    .push_str(&format!(" The endpoint's chain leads to {root}{known}."));
            }
        }
    }
    match r.alert {
        Some((Some(45), _)) => {
            fd.summary.push_str(" certificate_expired from the device means it believes the endpoint's certificate is out of date: check the device's clock.");
        }
        Some((Some(d), _)) if TRUST_ALERTS.contains(&d) => {}
        Some(_) => {
            fd = fd
                .certainty(Certainty::Likely)
                .candidates([
                    "the device does not trust the endpoint's CA",
                    "the device's TLS stack failed on the endpoint's flight (buffer too small for the chain)",
                ]);
        }
        None => {
            fd = fd
                .certainty(Certainty::Likely)
                .candidates([
                    "the device does not trust the endpoint's CA",
                    "the certificate does not name the host the device dialled",
                    "the device's TLS stack failed on the endpoint's flight (buffer too small for the chain)",
                ])
                .settle("the device's own TLS log, or iotscope proxy --mitm --present untrusted|wrong-name to see how it reacts");
        }
    }
    out.push(fd);
}

fn client_cert_missing(f: &Facts, out: &mut Vec<Finding>) -> bool {
    let empty_cert = f.device_chain.filter(|(_, chain)| chain.is_empty());
    let required_alert = f
        .alerts
        .iter()
        .find(|a| a.from == Side::Endpoint && a.description == Some(116));
    if empty_cert.is_none() && required_alert.is_none() {
        return false;
    }
    let mut fd = Finding::new(
        Code::AuthClientCertMissing,
        "The endpoint asked for a client certificate and the device sent none.",
    );
    if let Some(req) = f.cert_request {
        fd = fd.evidence(f.t(req), "CertificateRequest from the endpoint");
    }
    if let Some((ev, _)) = empty_cert {
        fd = fd.evidence(f.t(ev), "empty Certificate from the device");
    }
    if let Some(a) = f.alert_from(Side::Endpoint) {
        fd = fd.evidence(
            f.t(a.event),
            format!("{} alert from the endpoint", a.name.unwrap_or("an")),
        );
    }
    if f.cert_request.is_none() && empty_cert.is_some() {
        // An empty Certificate without a visible request: still the device's omission.
        fd = fd.certainty(Certainty::Likely);
    }
    // An endpoint that asks but does not insist went on: a session ticket or an MQTT answer
    // after the empty Certificate. The connection works here; AWS IoT Core would refuse it.
    let went_on = required_alert.is_none()
        && empty_cert.is_some_and(|(ev, _)| {
            f.trace.events().any(|e| {
                e.dir == Direction::EndpointToDevice
                    && e.ts >= ev.ts
                    && matches!(
                        e.kind,
                        EventKind::Mqtt(_)
                            | EventKind::Handshake {
                                kind: crate::event::HandshakeKind::NewSessionTicket,
                                ..
                            }
                    )
            })
        });
    if went_on {
        fd.summary.push_str(" This endpoint went on without one; AWS IoT Core, which authenticates devices by their certificates, would not.");
        fd = fd.severity(Severity::Warning);
    }
    out.push(fd);
    true
}

fn client_cert_expired(f: &Facts, out: &mut Vec<Finding>) -> bool {
    let alert = f
        .alerts
        .iter()
        .find(|a| a.from == Side::Endpoint && a.description == Some(45));
    let at = f.trace.first_ts.map(|t| t.unix_seconds());
    let stale = f.device_chain.and_then(|(ev, chain)| {
        let leaf = chain.first().filter(|c| c.parse_error.is_none())?;
        (!leaf.valid_at(at?)).then_some((ev, leaf))
    });
    if alert.is_none() && stale.is_none() {
        return false;
    }
    let mut fd = match stale {
        Some((_, leaf)) => {
            let when = if at.unwrap_or(0) < leaf.not_before_unix {
                format!("is not valid before {}", leaf.not_before)
            } else {
                format!("expired on {}", leaf.not_after)
            };
            Finding::new(
                Code::AuthClientCertExpired,
                format!("The device's certificate {} {when}.", leaf.subject),
            )
        }
        None => Finding::new(
            Code::AuthClientCertExpired,
            "The endpoint refused the device's certificate as expired (certificate_expired).",
        ),
    };
    if let Some((ev, leaf)) = stale {
        fd = fd.evidence(
            f.t(ev),
            format!(
                "device certificate valid {} .. {}",
                leaf.not_before, leaf.not_after
            ),
        );
    }
    if let Some(a) = alert {
        fd = fd.evidence(f.t(a.event), "certificate_expired alert from the endpoint");
    }
    // This endpoint took the certificate anyway (it answered MQTT): the connection works
    // here, but an endpoint that checks dates, as AWS IoT Core's registry does, refuses it.
    let accepted = alert.is_none()
        && f.mqtt
            .iter()
            .any(|(e, _)| e.dir == crate::Direction::EndpointToDevice);
    if accepted {
        fd.summary.push_str(
            " This endpoint accepted it anyway; one that checks the dates will refuse it.",
        );
        fd = fd.severity(super::finding::Severity::Warning);
    }
    out.push(fd);
    true
}

fn client_cert_rejected(f: &Facts, out: &mut Vec<Finding>) {
    // TLS 1.2 (or decrypted): a readable refusal after the device's certificate.
    if let Some((cert_ev, chain)) = f.device_chain.filter(|(_, c)| !c.is_empty()) {
        if let Some(a) = f.alerts.iter().find(|a| {
            a.from == Side::Endpoint
                && a.event.ts >= cert_ev.ts
                && a.description
                    .is_some_and(|d| CLIENT_CERT_ALERTS.contains(&d))
        }) {
            let leaf = &chain[0];
            out.push(
                Finding::new(
                    Code::AuthClientCertRejected,
                    format!(
                        "The endpoint refused the device's certificate {} (issued by {}) with {}.",
                        leaf.subject,
                        leaf.issuer,
                        a.name.unwrap_or("an alert")
                    ),
                )
                .evidence(f.t(cert_ev), format!("device certificate {}", leaf.subject))
                .evidence(
                    f.t(a.event),
                    format!("{} alert from the endpoint", a.name.unwrap_or("an")),
                ),
            );
        }
        return;
    }
    tls13_close_after_handshake(f, out);
}

/// TLS 1.3 without keys: the handshake finished, then the endpoint closed before any MQTT
/// answer. The endpoint's refusal of the certificate travels encrypted after the device's
/// Finished, so this is what a refused certificate looks like on the wire — and also what a
/// denied iot:Connect looks like.
///
/// The reading rests on what the endpoint did *not* send, so it needs every byte: after a gap
/// the endpoint's answer may be in the bytes missed, and the close_notify that ends a transfer
/// that worked is the same alert-sized record as a refusal.
fn tls13_close_after_handshake(f: &Facts, out: &mut Vec<Finding>) {
    if !f.tls13() || f.any_decrypted || f.gaps > 0 {
        return;
    }
    let flight = f.device_encrypted_flight();
    let Some(flight_end) = flight.last() else {
        return;
    };
    let Some(close) = f.closed_by(Side::Endpoint) else {
        return;
    };
    if f.closed_by(Side::Device)
        .is_some_and(|d| d.ts < flight_end.ts)
    {
        return;
    }
    // A device that hung up before the endpoint said anything after its flight gave up on its
    // own (a CONNACK timeout); the endpoint's close only answers it.
    if let Some(d) = f.closed_by(Side::Device).filter(|d| d.ts < close.ts) {
        let endpoint_spoke_first = f.encrypted[1]
            .iter()
            .any(|e| e.ts >= flight_end.ts && e.ts <= d.ts);
        if !endpoint_spoke_first {
            return;
        }
    }
    // What the endpoint sent after the device's flight: nothing, or only alert-sized records.
    let after: Vec<u32> = f.encrypted[1]
        .iter()
        .filter(|e| e.ts >= flight_end.ts && e.ts <= close.ts)
        .filter_map(|e| match e.kind {
            EventKind::Encrypted {
                first_len, records, ..
            } => Some((first_len, records)),
            _ => None,
        })
        .flat_map(|(len, n)| std::iter::repeat_n(len, n as usize))
        .collect();
    let answered = after.iter().any(|l| !looks_like_encrypted_alert(*l, true));
    if answered {
        return;
    }
    let flight_bytes = Facts::encrypted_bytes(&flight);
    let no_cert_first = flight_bytes < FLIGHT_WITHOUT_CERT;
    let gap_ms = (f.t(close) - f.t(flight_end)) * 1000.0;
    let alert_seen = !after.is_empty();
    let not_registered = "the certificate is not registered in this account and region, not ACTIVE, or issued by a CA the endpoint does not know";
    let expired = "the certificate is expired";
    let none_sent = "the device sent no certificate";
    let connect_denied = format!(
        "the policy does not allow iot:Connect for the client id ({})",
        Code::AuthzConnectDenied
    );
    let connect_denied = connect_denied.as_str();
    let candidates = if no_cert_first {
        [none_sent, not_registered, expired, connect_denied]
    } else {
        [not_registered, expired, connect_denied, none_sent]
    };
    let device_sent_app = f.encrypted[0]
        .iter()
        .find(|e| e.ts > flight_end.ts && matches!(e.kind, EventKind::Encrypted { .. }));
    let mut fd = Finding::new(
        Code::AuthClientCertRejected,
        format!(
            "The TLS 1.3 handshake finished, then the endpoint {}closed the connection {:.1} ms after the device's last handshake flight, before any MQTT answer.{}",
            if alert_seen { "sent an encrypted alert-sized record and " } else { "" },
            gap_ms,
            if no_cert_first {
                format!(" The device's encrypted flight was only {flight_bytes} bytes, too small to hold a certificate.")
            } else {
                String::new()
            }
        ),
    )
    .certainty(Certainty::Likely)
    .evidence(f.t(flight_end), format!("device's encrypted handshake flight, {flight_bytes} bytes"))
    .evidence(f.t(close), "endpoint closed the connection")
    .candidates(candidates)
    .settle("a key log (SSLKEYLOGFILE) shows the endpoint's alert; so does iotscope proxy --mitm; on AWS, AWSIotLogsV2 Connection.AuthNError or Connect AUTHORIZATION_FAILURE entries name the cause");
    if let Some(app) = device_sent_app {
        fd = fd.evidence(
            f.t(app),
            "the device had already sent application data (its CONNECT)",
        );
    }
    if f.packets(Direction::EndpointToDevice, PacketType::Connack)
        .next()
        .is_some()
    {
        return;
    }
    out.push(fd);
}

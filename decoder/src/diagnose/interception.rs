//! Rules for intercepted connections (`proxy --mitm`): what the device did on its own leg,
//! which the endpoint's answers cannot show.
//!
//! The endpoint answered iotscope's handshake, made with `--device-cert`. When the device sent
//! no certificate, another one, an expired one, or could not prove it holds the key, the
//! endpoint's success is iotscope's doing, and these rules say so. With `--present`, they
//! judge the device's own validation of the endpoint's certificate.

use super::code::Code;
use super::facts::Facts;
use super::finding::{Certainty, Finding};
use crate::device_leg::{DeviceLeg, Outcome, Proof};
use crate::event::{Direction, EncryptedPhase, EventKind};

pub fn rules(f: &Facts, out: &mut Vec<Finding>) {
    let Some((ev, leg)) = f.device_leg else {
        return;
    };
    let t = f.t(ev);
    if leg.presented.is_bad_on_purpose() {
        present_test(f, t, leg, out);
        return;
    }
    if let Some(r) = &leg.endpoint_refused {
        let code = if r.wrong_name {
            Code::AuthServerNameMismatch
        } else {
            Code::AuthServerCertUntrusted
        };
        let name = f.sni().unwrap_or("the endpoint");
        out.push(
            Finding::new(
                code,
                format!(
                    "iotscope, connecting to {name} for the device, refused the endpoint's certificate: {}. A device that checks the endpoint as it should would refuse it too; for a test broker with its own CA, give that CA with --upstream-ca.",
                    r.reason
                ),
            )
            .evidence(t, format!("endpoint certificate refused: {}", r.reason)),
        );
    }
    match &leg.outcome {
        Outcome::Refused { alert } => {
            let how = alert
                .as_deref()
                .map_or("closed the connection".to_string(), |a| {
                    format!("sent alert {a}")
                });
            out.push(
                Finding::new(
                    Code::MitmCaNotTrusted,
                    format!(
                        "The device {how} after iotscope presented {}: it does not trust iotscope's CA.",
                        leg.presented.describe()
                    ),
                )
                .evidence(t, format!("device {how}")),
            );
        }
        Outcome::Incompatible { detail } => out.push(
            Finding::new(
                Code::MitmTlsUnsupported,
                format!("iotscope cannot intercept this device: {detail}."),
            )
            .evidence(t, offered(leg)),
        ),
        Outcome::Completed | Outcome::Failed { .. } => {}
    }
    if let Proof::Failed { reason } = &leg.proof {
        let who = leg
            .leaf()
            .map_or("its certificate".to_string(), |c| c.subject.clone());
        out.push(
            Finding::new(
                Code::AuthDeviceKeyNotHeld,
                format!(
                    "The device's CertificateVerify does not verify with the key of {who} ({reason}); iotscope ended the handshake, as the endpoint would have."
                ),
            )
            .evidence(t, "device's CertificateVerify signature did not verify"),
        );
    }
    if leg.outcome != Outcome::Completed {
        return;
    }
    if leg.sni.is_none() {
        let sent = f.sni().map_or_else(
            || "no name either".to_string(),
            |s| format!("{s} in its place"),
        );
        out.push(
            Finding::new(
                Code::ConnSniMissing,
                format!(
                    "The device sent no server name (SNI) to iotscope; iotscope sent {sent} to the endpoint. Connected directly, the device would reach AWS IoT Core without a server name, which it refuses."
                ),
            )
            .evidence(t, "device's ClientHello without server_name"),
        );
    }
    let upstream = leg.upstream_cert.as_ref().map_or_else(
        || "no certificate".to_string(),
        |u| format!("{} ({}, ID {})", u.source, u.subject, u.sha256),
    );
    let Some(leaf) = leg.leaf() else {
        out.push(
            Finding::new(
                Code::AuthClientCertMissing,
                format!(
                    "The device sent iotscope no client certificate. iotscope presented {upstream} to the endpoint on its behalf, so any success on this connection is iotscope's doing: connected directly, the endpoint would have ended the handshake (certificate_required in TLS 1.3, handshake_failure in TLS 1.2)."
                ),
            )
            .evidence(t, "device's Certificate message was empty"),
        );
        return;
    };
    let at = f.trace.first_ts.map(|ts| ts.unix_seconds());
    // When iotscope presented the device's own certificate upstream, the endpoint leg's rule
    // already reports it expired: only a different upstream certificate hides the expiry.
    let hidden = leg.same_as_upstream() != Some(true);
    if let Some(at) = at.filter(|&at| hidden && leaf.parse_error.is_none() && !leaf.valid_at(at)) {
        let when = if at < leaf.not_before_unix {
            format!("is not valid before {}", leaf.not_before)
        } else {
            format!("expired on {}", leaf.not_after)
        };
        out.push(
            Finding::new(
                Code::AuthClientCertExpired,
                format!(
                    "The device's own certificate {} {when}. iotscope presented {upstream} upstream instead, so the endpoint's answers do not show it: connected directly, the endpoint would have refused the device's certificate (certificate_expired).",
                    leaf.subject
                ),
            )
            .evidence(
                t,
                format!(
                    "device certificate valid {} .. {}",
                    leaf.not_before, leaf.not_after
                ),
            ),
        );
    }
    if leg.same_as_upstream() == Some(false) {
        out.push(
            Finding::new(
                Code::AuthDeviceCertDiffers,
                format!(
                    "The device sent {} (ID {}), but iotscope presented {upstream} to the endpoint. The endpoint's answers are about iotscope's certificate; whether the device's own is registered, ACTIVE and allowed is not shown by this connection.",
                    leaf.subject, leaf.sha256
                ),
            )
            .evidence(t, format!("device certificate ID {}", leaf.sha256)),
        );
    }
}

/// `--present`: the device passes when it refuses the bad certificate, fails when it goes on.
fn present_test(f: &Facts, t: f64, leg: &DeviceLeg, out: &mut Vec<Finding>) {
    let presented = leg.presented.describe();
    let sent_data = f.trace.events().find(|e| {
        e.dir == Direction::DeviceToEndpoint
            && match &e.kind {
                EventKind::Mqtt(_) | EventKind::Http { .. } => true,
                EventKind::Protocol { .. } => e.decrypted,
                EventKind::Encrypted { phase, .. } => *phase == EncryptedPhase::Application,
                _ => false,
            }
    });
    if let Some(e) = sent_data {
        out.push(
            Finding::new(
                Code::SecDeviceAcceptsBadCert,
                format!(
                    "FAIL: iotscope presented {presented}, and the device completed the handshake and sent application data."
                ),
            )
            .evidence(t, format!("handshake completed with {presented}"))
            .evidence(f.t(e), "application data from the device"),
        );
        return;
    }
    let how = match &leg.outcome {
        Outcome::Refused { alert: Some(a) } => format!("sent alert {a}"),
        Outcome::Refused { alert: None } => "closed the connection".into(),
        Outcome::Failed { detail } | Outcome::Incompatible { detail } => {
            format!("ended the handshake ({detail})")
        }
        Outcome::Completed => "completed the handshake but sent no application data".into(),
    };
    let mut fd = Finding::new(
        Code::SecDeviceRefusesBadCert,
        format!("PASS: iotscope presented {presented}, and the device {how}."),
    )
    .evidence(t, format!("device {how}"));
    if leg.outcome == Outcome::Completed {
        // It may have closed for another reason; the test still saw no data cross.
        fd = fd.certainty(Certainty::Likely);
    }
    out.push(fd);
}

fn offered(leg: &DeviceLeg) -> String {
    if leg.offered_suites.is_empty() {
        "device's ClientHello".into()
    } else {
        format!(
            "device offered {}",
            crate::tls::joined_names(&leg.offered_suites)
        )
    }
}

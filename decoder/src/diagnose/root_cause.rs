//! One root cause per connection: the ordering of causes and consequences, in one place.
//!
//! Several rules may read the same failure from different ends: a CONNECT with a reserved
//! flag set that the endpoint answers by closing is both a malformed packet and a close
//! without CONNACK; a device that connects by IP address sends an IP literal as SNI and then
//! refuses the endpoint's certificate for that name. Only the first link of such a chain is
//! the connection's error; the findings it explains stay, as information that names it.
//!
//! Two passes, after every rule has run:
//! 1. A connection that worked — the endpoint accepted the MQTT session (CONNACK 0) — keeps
//!    no error about how it was set up: an error there would contradict the wire. What AWS
//!    IoT Core would refuse stays a warning. Later refusals (a PUBLISH or SUBSCRIBE denied, a
//!    session taken over) and packets the bytes prove malformed stay errors. In MITM mode the
//!    CONNACK answers iotscope's own session upstream, so this pass does not apply there.
//! 2. Among the errors left, the one whose code comes first in [`ORDER`] is the root cause;
//!    errors with codes of the same rank stand beside it, later ranks become information.

use super::code::Code;
use super::facts::Facts;
use super::finding::{Finding, Severity};

/// Causes before consequences: each group can explain the failures of the groups after it,
/// never the other way round. Codes of one group are independent of each other.
pub const ORDER: &[(&str, &[Code])] = &[
    (
        "iotscope itself could not reach the endpoint",
        &[Code::ConnUpstreamUnreachable],
    ),
    (
        "nothing accepts TCP connections at the address",
        &[Code::ConnTcpRefused],
    ),
    ("the device does not speak TLS", &[Code::ConnNotTls]),
    (
        "the device stops in the middle of its hello",
        &[Code::ConnDeviceStalled],
    ),
    (
        "the device's TLS offer has nothing the endpoint accepts",
        &[Code::ConnProtocolVersion, Code::ConnNoSharedCipher],
    ),
    (
        "the device asks for the wrong name, port or protocol",
        &[
            Code::ConnSniMissing,
            Code::ConnSniMismatch,
            Code::ConnLegacyEndpoint,
            Code::ConnAlpnRequired,
            Code::ConnWrongProtocol,
        ],
    ),
    (
        "one side refuses the other's certificate",
        &[
            Code::AuthServerCertUntrusted,
            Code::AuthServerNameMismatch,
            Code::AuthClientCertMissing,
            Code::AuthClientCertExpired,
            Code::AuthClientCertRejected,
            Code::AuthCertNotRegistered,
            Code::AuthCertInactive,
            Code::AuthCertRevoked,
            Code::AuthCertPendingTransfer,
            Code::AuthCaNotRegistered,
            Code::AuthCaInactive,
            // The account's word that the SNI belongs elsewhere stands beside what the wire
            // said of the certificate, never above it.
            Code::ConnSniOtherAccount,
            Code::AuthDeviceCertDiffers,
            Code::AuthDeviceKeyNotHeld,
            Code::MitmCaNotTrusted,
            Code::MitmTlsUnsupported,
            Code::SecCustomDomainTooManyNames,
            Code::SecCustomDomainCert,
            Code::SecDeviceAcceptsBadCert,
            Code::SecDeviceRefusesBadCert,
            Code::CertKeyNotAccepted,
            Code::CertChainOrder,
            Code::CertKeyMismatch,
            Code::CertCaFile,
        ],
    ),
    (
        "the device's MQTT bytes break the specification or AWS IoT Core's limits",
        &[Code::MqttMalformed, Code::MqttAwsLimit],
    ),
    (
        "the endpoint refuses an MQTT request",
        &[
            Code::MqttConnectRefused,
            Code::AuthzConnectDenied,
            Code::AuthzPublishDenied,
            Code::AuthzSubscribeDenied,
            Code::AuthzNoPolicyAttached,
            Code::MqttSessionTakenOver,
            Code::MqttServerDisconnect,
            Code::LogAuthError,
            Code::LogForbiddenAccess,
            Code::LogClientError,
        ],
    ),
    (
        "the endpoint stops or stays silent without saying why",
        &[
            Code::ConnHandshakeAborted,
            Code::ConnNoAnswer,
            Code::ConnEndpointClosed,
        ],
    ),
    (
        "what the capture could not show",
        &[Code::ConnTruncated, Code::TlsNotDecrypted],
    ),
];

/// The rank of a code in [`ORDER`]: lower is nearer the root.
pub fn rank(code: Code) -> usize {
    ORDER
        .iter()
        .position(|(_, codes)| codes.contains(&code))
        .unwrap_or(ORDER.len())
}

/// Errors that stay errors on a connection the endpoint accepted: refusals that come after
/// CONNACK, and packets whose bytes prove a defect.
fn stands_after_connack(code: Code) -> bool {
    matches!(
        code,
        Code::AuthzPublishDenied
            | Code::AuthzSubscribeDenied
            | Code::MqttSessionTakenOver
            | Code::MqttServerDisconnect
            | Code::MqttAwsLimit
            | Code::MqttMalformed
            | Code::ConnEndpointClosed
    )
}

/// Applies both passes to one connection's findings.
pub fn apply(f: &Facts, out: &mut [Finding]) {
    // In MITM mode the CONNACK answers iotscope's own TLS session, made with the certificate
    // iotscope presented: it says nothing about the device's leg, so pass 1 does not apply.
    if let Some(ack) = f.connack_accepted().filter(|_| f.device_leg.is_none()) {
        let t = f.t(ack);
        for fd in out.iter_mut() {
            if fd.severity == Severity::Error && !stands_after_connack(fd.code) {
                fd.severity = Severity::Warning;
                fd.summary.push_str(&format!(
                    " This endpoint accepted the MQTT session all the same (CONNACK 0 at +{t:.6} s), so here it is a warning."
                ));
                fd.evidence.push(super::finding::Evidence {
                    t,
                    text: "CONNACK 0".to_string(),
                });
            }
        }
    }
    let Some(root) = out
        .iter()
        .filter(|fd| fd.severity == Severity::Error)
        .map(|fd| rank(fd.code))
        .min()
    else {
        return;
    };
    let Some(root_code) = out
        .iter()
        .find(|fd| fd.severity == Severity::Error && rank(fd.code) == root)
        .map(|fd| fd.code)
    else {
        return;
    };
    for fd in out.iter_mut() {
        if fd.severity == Severity::Error && rank(fd.code) > root {
            fd.severity = Severity::Info;
            fd.summary.push_str(&format!(
                " This follows from {root_code}, the connection's root cause."
            ));
        }
    }
}

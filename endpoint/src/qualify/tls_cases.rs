//! The TLS cases: one connection each, decided by the ClientHello and by how the handshake
//! ends. A device that accepts a server certificate sends its Finished; one that refuses it
//! sends an alert (or just closes) before that, so "the handshake completed" is exactly "the
//! device accepted the certificate".

use iotscope_proxy::ca::mint::Present;
use rustls::CipherSuite;

use super::wire::{self, Handshake, Show};
use super::{Ctx, Decision, Verdict};

/// The suites AWS IoT Core recommends: TLS 1.3's AES-128-GCM and the two TLS 1.2 suites its
/// transport-security page marked "(recommended)" (aws-iot-facts.md §1.4).
const RECOMMENDED: &[CipherSuite] = &[
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
];

/// Every suite the AWS IoT Core security policies list (TLS 1.3 and TLS 1.2).
const SUPPORTED: &[CipherSuite] = &[
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

const NO_DEVICE: &str = "the device did not connect within the time limit";

/// TLS_Connect: a handshake completes with a valid certificate. iotscope offers TLS 1.2
/// and 1.3 only, so a completed handshake is at 1.2 or later; a device that offers nothing
/// newer than 1.1 fails with a version mismatch.
pub async fn connect(ctx: &mut Ctx<'_>) -> Decision {
    let Some(tcp) = wire::accept(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    match wire::tls(ctx, tcp, Show::Valid).await {
        None => (Verdict::NotRun, "the device sent no ClientHello".into()),
        Some((_, Handshake::Done(s))) => {
            let version = s
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            (
                Verdict::Pass,
                format!("the device completed a TLS handshake ({version})"),
            )
        }
        Some((_, Handshake::Failed(why) | Handshake::Incompatible(why))) => (
            Verdict::Fail,
            format!("the device did not complete a TLS 1.2+ handshake: {why}"),
        ),
    }
}

/// The decision of a certificate case whose certificate was never shown.
fn not_shown(why: String) -> Decision {
    (Verdict::NotRun, format!("no certificate was shown: {why}"))
}

/// TLS_DeviceSupport_For_IOT: decided by the ClientHello alone.
pub async fn cipher_suites(ctx: &mut Ctx<'_>) -> Decision {
    let Some(tcp) = wire::accept(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    let Some((hello, _)) = wire::tls(ctx, tcp, Show::Valid).await else {
        return (Verdict::NotRun, "the device sent no ClientHello".into());
    };
    let names = |set: &[CipherSuite]| {
        hello
            .suites
            .iter()
            .filter(|s| set.contains(s))
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
    };
    let recommended = names(RECOMMENDED);
    let supported = names(SUPPORTED);
    ctx.note(format!(
        "offered and recommended by AWS IoT: [{}]; offered and supported: [{}]",
        recommended.join(", "),
        supported.join(", ")
    ));
    if recommended.is_empty() {
        let offered: Vec<String> = hello.suites.iter().map(|s| format!("{s:?}")).collect();
        ctx.note(format!("offered: [{}]", offered.join(", ")));
        (
            Verdict::Fail,
            "the ClientHello offers none of the cipher suites AWS IoT Core recommends".into(),
        )
    } else {
        (
            Verdict::Pass,
            format!("the ClientHello offers {}", recommended.join(", ")),
        )
    }
}

/// TLS_Expired_Server_Cert, TLS_Incorrect_Subject_Name, TLS_Unsecure_Server_Cert.
pub async fn bad_cert(ctx: &mut Ctx<'_>, present: Present) -> Decision {
    let Some(tcp) = wire::accept(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    let what = match present {
        Present::Expired => "an expired server certificate",
        Present::WrongName => "a server certificate for another name",
        Present::Untrusted => "a server certificate from an untrusted CA",
    };
    match wire::tls(ctx, tcp, Show::Bad(present)).await {
        None => (Verdict::NotRun, "the device sent no ClientHello".into()),
        Some((_, Handshake::Done(s))) => {
            wire::close(ctx, *s, "case decided").await;
            (
                Verdict::Fail,
                format!("the device accepted {what} and completed the handshake"),
            )
        }
        Some((_, Handshake::Failed(why))) => {
            (Verdict::Pass, format!("the device refused {what}: {why}"))
        }
        Some((_, Handshake::Incompatible(why))) => not_shown(why),
    }
}

/// TLS_LargeServerCert: the handshake completes with a large, valid chain.
pub async fn large_chain(ctx: &mut Ctx<'_>) -> Decision {
    let Some(tcp) = wire::accept(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    match wire::tls(ctx, tcp, Show::LargeChain).await {
        None => (Verdict::NotRun, "the device sent no ClientHello".into()),
        Some((_, Handshake::Done(s))) => {
            wire::close(ctx, *s, "case decided").await;
            (
                Verdict::Pass,
                "the device took the large chain and completed the handshake".into(),
            )
        }
        Some((_, Handshake::Failed(why))) => (
            Verdict::Fail,
            format!("the device did not complete the handshake with a large valid chain: {why}"),
        ),
        Some((_, Handshake::Incompatible(why))) => not_shown(why),
    }
}

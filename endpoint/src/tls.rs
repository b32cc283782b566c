//! TLS as AWS IoT Core's data endpoint does it: the ClientHello is screened first (SNI, ALPN on
//! port 443), then mutual TLS with a client certificate that must be registered and ACTIVE.
//!
//! Why the ClientHello is read by hand (rustls's `Acceptor`) before any configuration is
//! chosen: a refusal for a wrong name or a missing ALPN protocol happens before the server
//! says anything, as a fatal alert, and the endpoint needs the SNI and ALPN list to log and to
//! choose MQTT or HTTPS on port 443.
//!
//! How a refused certificate looks on the wire (reference §2, "Cert INACTIVE" and "Cert
//! unregistered"): AWS staff say a deactivated certificate "will fail TLS negotiation", with
//! field reports of alert 46 `certificate_unknown` (aws-iot-device-sdk-python#76, #31). The
//! endpoint refuses every certificate that is not registered and ACTIVE (unregistered,
//! INACTIVE, REVOKED, PENDING_*, expired) with that alert, sent by rustls from the client
//! certificate verifier. In TLS 1.2 the alert comes before the server's Finished, so the
//! device's handshake fails; in TLS 1.3 the device has finished its side when its
//! certificate is judged, so it sees the alert at its first read — which is what a 2024 report
//! describes for an unregistered certificate (embedded-C#1920). That the other statuses and
//! expiry are refused the same way is UNVERIFIED (no AWS text); the new Connection.AuthNError
//! log codes (`DEVICE_CERTIFICATE_INACTIVE`, `…_REVOKED`, `…_NOT_REGISTERED`) are logged.
//!
//! TLS versions 1.2 and 1.3 (transport-security page, default policy
//! `IoTSecurityPolicy_TLS13_1_2_2022_10`); no session tickets ("AWS IoT Core doesn't support
//! the SessionTicket TLS extension"). rustls's suites are a subset of that policy's: the CBC
//! and non-ECDHE suites it lists are not offered (docs/endpoint.md).

use std::sync::{Arc, Mutex};

use iotscope_decoder::cert::CertIdentity;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{Accepted, Acceptor};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, ServerConfig,
    SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::registry::{sha256_hex, CertStatus, Registry};

/// ALPN protocol names on port 443 (protocols page).
pub const ALPN_MQTT: &[u8] = b"x-amzn-mqtt-ca";
pub const ALPN_HTTP: &[u8] = b"x-amzn-http-ca";

/// TLS alert descriptions the screening sends.
pub mod alert {
    pub const HANDSHAKE_FAILURE: u8 = 40;
    pub const UNRECOGNIZED_NAME: u8 = 112;
}

/// What the device's ClientHello asked for.
pub struct Hello {
    pub accepted: Accepted,
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
}

/// Why a connection never became TLS.
pub enum NotHello {
    /// The first bytes are not a TLS record: plaintext (often MQTT straight to the TLS port).
    Plaintext(u8),
    /// The stream ended or broke before a whole ClientHello.
    Closed,
    /// rustls refused the ClientHello; its alert was sent.
    Refused(String),
}

/// Reads the ClientHello without answering it.
pub async fn read_hello(tcp: &mut TcpStream) -> Result<Hello, NotHello> {
    let mut acceptor = Acceptor::default();
    let mut buf = vec![0u8; 16 * 1024 + 5];
    let mut first = true;
    loop {
        let n = match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return Err(NotHello::Closed),
            Ok(n) => n,
        };
        if first && buf[0] != 0x16 {
            return Err(NotHello::Plaintext(buf[0]));
        }
        first = false;
        let mut rd = &buf[..n];
        while !rd.is_empty() {
            if acceptor.read_tls(&mut rd).is_err() {
                return Err(NotHello::Refused("the ClientHello is too large".into()));
            }
        }
        match acceptor.accept() {
            Ok(None) => continue,
            Ok(Some(accepted)) => {
                let ch = accepted.client_hello();
                let sni = ch.server_name().map(str::to_string);
                let alpn = ch
                    .alpn()
                    .map(|i| i.map(<[u8]>::to_vec).collect())
                    .unwrap_or_default();
                return Ok(Hello {
                    accepted,
                    sni,
                    alpn,
                });
            }
            Err((e, mut alert)) => {
                let mut out = Vec::new();
                let _ = alert.write(&mut out);
                let _ = tcp.write_all(&out).await;
                return Err(NotHello::Refused(e.to_string()));
            }
        }
    }
}

/// Sends a fatal alert in a plaintext record (nothing was negotiated yet) and closes.
pub async fn refuse(tcp: &mut TcpStream, description: u8) {
    let _ = tcp
        .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description])
        .await;
    close_gently(tcp).await;
}

/// FIN, then read what the device still sends until it closes (at most a few seconds).
/// Closing a socket with unread bytes makes the kernel send a reset, and a reset can make
/// the device lose the alert just written before it reads it (in TLS 1.3 its Certificate,
/// CertificateVerify and Finished arrive together, and only the first was read).
pub async fn close_gently(tcp: &mut TcpStream) {
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        loop {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), drain).await;
}

/// How the SNI relates to the endpoint's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCheck {
    Ours,
    Missing,
    /// The same prefix without `-ats`: the legacy VeriSign-signed `iot:Data` endpoint.
    Legacy,
    Other,
}

pub fn check_name(sni: Option<&str>, endpoint: &str) -> NameCheck {
    let Some(sni) = sni else {
        return NameCheck::Missing;
    };
    let sni = sni.trim_end_matches('.').to_ascii_lowercase();
    let ours = endpoint.to_ascii_lowercase();
    if sni == ours {
        return NameCheck::Ours;
    }
    if let Some((prefix, rest)) = ours.split_once('.') {
        if let Some(p) = prefix.strip_suffix("-ats") {
            if sni == format!("{p}.{rest}") {
                return NameCheck::Legacy;
            }
        }
    }
    NameCheck::Other
}

/// What the client certificate verifier found, read after the handshake (or its failure).
#[derive(Debug, Clone, Default)]
pub struct Authn {
    pub cert_id: Option<String>,
    pub identity: Option<CertIdentity>,
    /// Connection.AuthNError reason code of a refusal, and its details.
    pub refused: Option<(&'static str, String)>,
}

/// The client certificate verifier of one connection: the registry decides, the verdict is
/// kept for the log and the session.
#[derive(Debug)]
pub struct RegistryVerifier {
    registry: Arc<Registry>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    pub found: Mutex<Authn>,
}

impl RegistryVerifier {
    pub fn new(registry: Arc<Registry>) -> RegistryVerifier {
        RegistryVerifier {
            registry,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            found: Mutex::new(Authn::default()),
        }
    }

    pub fn result(&self) -> Authn {
        self.found.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The registry's verdict on a certificate: `Err` holds the AuthNError code and why.
    pub fn judge(&self, der: &[u8], now: i64) -> Result<(), (&'static str, String)> {
        let id = sha256_hex(der);
        let summary = iotscope_decoder::cert::summarize(der);
        let Some(cert) = self.registry.certificate(&id) else {
            return Err((
                "DEVICE_CERTIFICATE_NOT_REGISTERED",
                format!("certificate {id} is not registered"),
            ));
        };
        match &cert.status {
            CertStatus::Active => {}
            CertStatus::Revoked => {
                return Err((
                    "DEVICE_CERTIFICATE_REVOKED",
                    format!("certificate {id} is REVOKED"),
                ))
            }
            other => {
                return Err((
                    "DEVICE_CERTIFICATE_INACTIVE",
                    format!("certificate {id} is {}", other.as_str()),
                ))
            }
        }
        if let Some(ca) = self.registry.issuing_ca(der) {
            if ca.status != CertStatus::Active {
                return Err((
                    "DEVICE_CERTIFICATE_INACTIVE",
                    format!(
                        "the CA certificate {} that issued it is {}",
                        ca.id,
                        ca.status.as_str()
                    ),
                ));
            }
        }
        if !summary.valid_at(now) {
            return Err((
                "DEVICE_CERTIFICATE_INACTIVE",
                format!(
                    "certificate {id} is not valid now (valid {} to {})",
                    summary.not_before, summary.not_after
                ),
            ));
        }
        Ok(())
    }
}

impl ClientCertVerifier for RegistryVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verdict = self.judge(end_entity.as_ref(), now.as_secs() as i64);
        if let Ok(mut f) = self.found.lock() {
            f.cert_id = Some(sha256_hex(end_entity.as_ref()));
            f.identity = iotscope_decoder::cert::identity(end_entity.as_ref());
            f.refused = verdict.clone().err();
        }
        match verdict {
            Ok(()) => Ok(ClientCertVerified::assertion()),
            // `Other` is sent as alert 46 certificate_unknown (see the module docs).
            Err((_, why)) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(Refused(why))),
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The server configuration of one connection: the endpoint's certificate, this
/// connection's verifier, the ALPN protocol chosen (443 only), no session tickets.
pub fn server_config(
    cert: Arc<CertifiedKey>,
    verifier: Arc<RegistryVerifier>,
    alpn: Option<&[u8]>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(cert)));
    cfg.alpn_protocols = alpn.map(|a| vec![a.to_vec()]).unwrap_or_default();
    cfg.send_tls13_tickets = 0;
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{CaCert, DeviceCert};

    /// A device certificate from a fresh CA: (its DER, the CA's DER).
    fn device_cert(cn: &str, not_after_year: i32) -> (Vec<u8>, Vec<u8>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, format!("{cn} CA"));
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
        let cert = p.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
        (cert.der().to_vec(), ca_cert.der().to_vec())
    }

    /// The statuses as the UpdateCertificate reference describes them: only ACTIVE connects.
    #[test]
    fn the_registry_decides_with_the_log_codes() {
        let now = 1_800_000_000; // 2027-01-15
        let mut reg = Registry::new("123456789012");
        let mut certs = Vec::new();
        for (cn, status) in [
            ("active", Some(CertStatus::Active)),
            ("inactive", Some(CertStatus::Inactive)),
            ("revoked", Some(CertStatus::Revoked)),
            ("pending", Some(CertStatus::PendingTransfer)),
            ("unregistered", None),
        ] {
            let (der, _) = device_cert(cn, 2030);
            if let Some(status) = status {
                reg.add_certificate(DeviceCert {
                    id: sha256_hex(&der),
                    status,
                    policies: vec![],
                });
            }
            certs.push((cn, der));
        }
        let (expired, _) = device_cert("expired", 2025);
        reg.add_certificate(DeviceCert {
            id: sha256_hex(&expired),
            status: CertStatus::Active,
            policies: vec![],
        });
        let (by_inactive_ca, ca_der) = device_cert("ca-inactive", 2030);
        reg.add_certificate(DeviceCert {
            id: sha256_hex(&by_inactive_ca),
            status: CertStatus::Active,
            policies: vec![],
        });
        reg.ca_certificates.push(CaCert {
            id: sha256_hex(&ca_der),
            status: CertStatus::Inactive,
            der: Some(ca_der),
        });
        let v = RegistryVerifier::new(Arc::new(reg));
        let code = |der: &[u8]| v.judge(der, now).err().map(|(c, _)| c);
        let by_name = |n: &str| {
            certs
                .iter()
                .find(|(c, _)| *c == n)
                .map(|(_, d)| d.clone())
                .unwrap()
        };
        assert_eq!(code(&by_name("active")), None);
        assert_eq!(
            code(&by_name("inactive")),
            Some("DEVICE_CERTIFICATE_INACTIVE")
        );
        assert_eq!(
            code(&by_name("revoked")),
            Some("DEVICE_CERTIFICATE_REVOKED")
        );
        assert_eq!(
            code(&by_name("pending")),
            Some("DEVICE_CERTIFICATE_INACTIVE")
        );
        assert_eq!(
            code(&by_name("unregistered")),
            Some("DEVICE_CERTIFICATE_NOT_REGISTERED")
        );
        assert_eq!(code(&expired), Some("DEVICE_CERTIFICATE_INACTIVE"));
        assert_eq!(code(&by_inactive_ca), Some("DEVICE_CERTIFICATE_INACTIVE"));
    }

    #[test]
    fn names_are_classified() {
        let ep = "abc123example-ats.iot.us-east-1.amazonaws.com";
        assert_eq!(check_name(Some(ep), ep), NameCheck::Ours);
        assert_eq!(
            check_name(Some("ABC123EXAMPLE-ATS.iot.us-east-1.amazonaws.com."), ep),
            NameCheck::Ours
        );
        assert_eq!(check_name(None, ep), NameCheck::Missing);
        assert_eq!(
            check_name(Some("abc123example.iot.us-east-1.amazonaws.com"), ep),
            NameCheck::Legacy
        );
        assert_eq!(
            check_name(Some("other-ats.iot.us-east-1.amazonaws.com"), ep),
            NameCheck::Other
        );
    }
}

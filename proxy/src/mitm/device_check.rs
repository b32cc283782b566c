//! The device's certificate, as iotscope's server side sees it in MITM mode.
//!
//! The endpoint would check the device's certificate against its registry; iotscope cannot,
//! so it accepts any certificate and keeps it for the report. What it does check is the
//! device's CertificateVerify signature: that proves the device holds the certificate's key,
//! which is the one thing the endpoint checks that needs no registry.

use std::sync::Mutex;

use iotscope_decoder::device_leg::Proof;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

#[derive(Debug)]
pub struct DeviceCertCheck {
    required: bool,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    proof: Option<Proof>,
}

impl DeviceCertCheck {
    pub fn new(required: bool) -> DeviceCertCheck {
        DeviceCertCheck {
            required,
            algorithms: crate::tls_setup::provider().signature_verification_algorithms,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The chain the device sent (empty when none) and whether it proved its key.
    pub fn result(&self) -> (Vec<CertificateDer<'static>>, Proof) {
        let Ok(seen) = self.seen.lock() else {
            return (Vec::new(), Proof::NotReached);
        };
        let proof = match (&seen.proof, seen.chain.is_empty()) {
            (Some(p), _) => p.clone(),
            (None, true) => Proof::NoCertificate,
            (None, false) => Proof::NotReached,
        };
        (seen.chain.clone(), proof)
    }

    fn record_proof(&self, r: &Result<HandshakeSignatureValid, Error>) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.proof = Some(match r {
                Ok(_) => Proof::Verified,
                Err(e) => Proof::Failed {
                    reason: e.to_string(),
                },
            });
        }
    }
}

impl ClientCertVerifier for DeviceCertCheck {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms);
        self.record_proof(&r);
        r
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms);
        self.record_proof(&r);
        r
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

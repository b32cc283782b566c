//! Checking the endpoint's certificate on iotscope's own connections, and keeping what was
//! checked: the chain the endpoint sent and the verdict, even when the verdict is "no".
//!
//! The check itself is rustls-webpki's (through rustls's `WebPkiServerVerifier`): chain to a
//! trusted root, validity, and the server name. A failed check still ends the handshake, as it
//! would on a careful device; the recording is what lets iotscope say why.

use crate::error::Error as IotError;
use std::sync::{Arc, Mutex};

use iotscope_decoder::device_leg::EndpointRefusal;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// What the endpoint sent and what the check said.
#[derive(Clone, Debug)]
pub struct EndpointVerdict {
    pub chain: Vec<CertificateDer<'static>>,
    /// `None`: trusted. Otherwise why not.
    pub refusal: Option<EndpointRefusal>,
}

#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<EndpointVerdict>>,
}

impl RecordingVerifier {
    pub fn new(roots: Arc<RootCertStore>) -> Result<RecordingVerifier, IotError> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, super::provider())
            .build()
            .map_err(|e| IotError::Crypto(format!("cannot build the certificate check: {e}")))?;
        Ok(RecordingVerifier {
            inner,
            seen: Mutex::new(None),
        })
    }

    /// The verdict, once the endpoint's certificate has been checked.
    pub fn verdict(&self) -> Option<EndpointVerdict> {
        self.seen.lock().ok()?.clone()
    }
}

/// A rustls certificate error in the words of the guide.
pub fn explain(e: &Error) -> String {
    use rustls::CertificateError as C;
    match e {
        Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "it is not issued by a CA iotscope trusts (webpki-roots and the CA file given)"
                    .into()
            }
            C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "it is not valid for the name iotscope asked for (SNI)".into()
            }
            C::BadSignature => "a signature in its chain does not verify".into(),
            C::Revoked => "it is revoked".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "it is not meant for TLS servers (extended key usage)".into()
            }
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let r = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(EndpointVerdict {
                chain,
                refusal: r.as_ref().err().map(|e| EndpointRefusal {
                    reason: explain(e),
                    wrong_name: matches!(
                        e,
                        Error::InvalidCertificate(
                            rustls::CertificateError::NotValidForName
                                | rustls::CertificateError::NotValidForNameContext { .. }
                        )
                    ),
                }),
            });
        }
        r
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

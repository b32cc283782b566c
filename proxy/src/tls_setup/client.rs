//! iotscope as a TLS client of the endpoint: the device's identity, the roots it trusts, and
//! one rustls configuration per connection (each connection gets its own verifier record, ALPN
//! and secret log).

use crate::error::Error;
use std::path::Path;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::{ClientConfig, RootCertStore};

use super::files::{load_certs, load_key};
use super::server_check::RecordingVerifier;

/// A device's certificate chain and key, as iotscope presents them to the endpoint.
#[derive(Debug)]
pub struct DeviceIdentity {
    /// The chain with its signing key, as rustls presents it.
    pub certified: Arc<rustls::sign::CertifiedKey>,
    /// Where it came from, for messages: the certificate file's path.
    pub source: String,
    /// The AWS certificate ID of the leaf (SHA-256 of its DER, lower-case hex).
    pub sha256: String,
    pub subject: String,
}

impl DeviceIdentity {
    pub fn load(cert: &Path, key_file: &Path) -> Result<DeviceIdentity, Error> {
        let chain = load_certs(cert)?;
        let key = load_key(key_file)?;
        let leaf = chain
            .first()
            .ok_or_else(|| Error::BadFile(format!("{} is empty", cert.display())))?;
        let summary = iotscope_decoder::cert::summarize(leaf.as_ref());
        // A key that does not match would only show as a refusal by the endpoint; say it now.
        let signing = super::provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| Error::BadFile(format!("{}: the key cannot sign: {e}", cert.display())))?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
        // Only a proven mismatch counts: a certificate rustls cannot read for the check
        // (an X.509 v1 certificate, say) may still be one the endpoint accepts.
        if let Err(e @ rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
            certified.keys_match()
        {
            return Err(Error::BadFile(format!(
                "the key {} does not belong to the certificate {} ({e})",
                key_file.display(),
                cert.display()
            )));
        }
        Ok(DeviceIdentity {
            certified: Arc::new(certified),
            source: cert.display().to_string(),
            sha256: summary.sha256,
            subject: summary.subject,
        })
    }
}

/// The roots iotscope trusts for the endpoint: webpki-roots (which hold Amazon Root CA 1–4
/// and Starfield) plus the CA file given.
pub fn roots(extra_ca: Option<&Path>) -> Result<Arc<RootCertStore>, Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let certs = load_certs(path)?;
        let (added, ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::BadFile(format!(
                "{} holds no certificate usable as a trust anchor ({ignored} ignored)",
                path.display()
            )));
        }
    }
    Ok(Arc::new(roots))
}

/// A configuration for one connection to the endpoint.
pub fn config(
    roots: &Arc<RootCertStore>,
    identity: Option<&DeviceIdentity>,
    alpn: Vec<Vec<u8>>,
    secrets: Arc<dyn rustls::KeyLog>,
) -> Result<(Arc<ClientConfig>, Arc<RecordingVerifier>), Error> {
    let verifier = Arc::new(RecordingVerifier::new(roots.clone())?);
    let builder = ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Crypto(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone());
    // The certificate is presented as it is: what the endpoint makes of it is what the
    // user wants to see, so rustls's own checks of the chain are not applied to it.
    let mut cfg = match identity {
        Some(id) => builder.with_client_cert_resolver(Arc::new(
            rustls::sign::SingleCertAndKey::from(id.certified.clone()),
        )),
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn;
    cfg.key_log = secrets;
    // Every connection makes a full handshake, so every one shows the certificates.
    cfg.resumption = Resumption::disabled();
    Ok((Arc::new(cfg), verifier))
}

//! The files given beside the certificates: the private key (`--key`) and the CA
//! certificates (`--ca`), and the findings they lead to.

use iotscope_decoder::diagnose::Code;
use std::path::Path;

use iotscope_decoder::cert::{certificate_event, summarize_pem_or_der, Certificate};
use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::EventKind;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::rules::{finding, label};

/// The public key of the private key file, as the raw key bits a certificate's
/// SubjectPublicKeyInfo holds.
pub struct KeyFile {
    path: String,
    public_key: Vec<u8>,
}

impl KeyFile {
    /// PEM (PKCS#8, PKCS#1 or SEC1) or DER PKCS#8.
    pub fn load(path: &Path) -> Result<KeyFile, String> {
        let der = crate::tls_setup::files::load_key(path)?;
        let pair = rcgen::KeyPair::try_from(&der).map_err(|e| {
            format!(
                "{} is not a private key iotscope can read (PKCS#8, PKCS#1 or SEC1): {e}",
                path.display()
            )
        })?;
        Ok(KeyFile {
            path: path.display().to_string(),
            public_key: pair.public_key_raw().to_vec(),
        })
    }

    /// `CERT.KEY_MISMATCH` when the certificate holds another public key. The key bits are
    /// compared rather than the whole SubjectPublicKeyInfo, whose algorithm parameters may
    /// be encoded in more than one way for the same key.
    pub fn check(&self, cert: &Certificate, der: &[u8]) -> Option<Finding> {
        let (_, x509) = X509Certificate::from_der(der).ok()?;
        if x509.public_key().subject_public_key.data.as_ref() == self.public_key.as_slice() {
            return None;
        }
        Some(finding(
            Code::CertKeyMismatch,
            format!(
                "The key in {} is not the key of {}: the public keys differ.",
                self.path,
                label(0, cert)
            ),
            Some(&cert.sha256),
        ))
    }
}

/// The certificates of the `--ca` file.
pub struct CaFile {
    path: String,
    certs: Vec<(Certificate, Vec<u8>)>,
}

impl CaFile {
    pub fn load(path: &Path) -> Result<CaFile, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        let certs = summarize_pem_or_der(&bytes);
        if certs.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                path.display()
            ));
        }
        if let Some(bad) = certs.iter().find_map(|(c, _)| c.parse_error.as_ref()) {
            return Err(format!("the CA file {}: {bad}", path.display()));
        }
        Ok(CaFile {
            path: path.display().to_string(),
            certs,
        })
    }

    /// The CA file's certificates must be CAs, and one of them must have issued a
    /// certificate of the chain (or be one of them).
    pub fn check(&self, chain: &[Certificate], ders: &[&[u8]]) -> Vec<Finding> {
        let leaf_id = chain.first().map(|c| c.sha256.as_str());
        let mut out = self.not_cas(leaf_id);
        let anchored = chain.iter().zip(ders).any(|(c, der)| {
            self.certs
                .iter()
                .any(|(ca, ca_der)| ca.sha256 == c.sha256 || (ca.is_ca && issued_by(der, ca_der)))
        });
        if !anchored {
            out.push(finding(
                Code::CertCaFile,
                format!(
                    "No certificate in the CA file {} issued the chain (names and signatures checked).",
                    self.path
                ),
                leaf_id,
            ));
        }
        out
    }

    /// A finding for each certificate of the file that is not a CA.
    pub fn not_cas(&self, leaf_id: Option<&str>) -> Vec<Finding> {
        self.certs
            .iter()
            .enumerate()
            .filter(|(_, (ca, _))| !ca.is_ca)
            .map(|(i, (ca, _))| {
                finding(
                    Code::CertCaFile,
                    format!(
                        "{} in the CA file {} is not a CA (no basic constraints CA:TRUE).",
                        label(i, ca),
                        self.path
                    ),
                    leaf_id,
                )
            })
            .collect()
    }

    /// The file's certificates, each with its DER.
    pub fn certs(&self) -> &[(Certificate, Vec<u8>)] {
        &self.certs
    }
}

fn issued_by(child: &[u8], issuer: &[u8]) -> bool {
    match certificate_event(&[child, issuer]) {
        EventKind::Certificate { issued_by_next, .. } => {
            issued_by_next.first().copied().flatten() == Some(true)
        }
        _ => false,
    }
}

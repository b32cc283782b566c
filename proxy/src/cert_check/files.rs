//! The files given beside the certificates: the private key (`--key`) and the CA
//! certificates (`--ca`), read and handed to the decoder's certificate-file rules.

use crate::error::Error;
use std::path::Path;

use iotscope_decoder::cert::{summarize_pem_or_der, Certificate};
use iotscope_decoder::diagnose::{cert_files, Finding};

/// The public key of the private key file, as the raw key bits a certificate's
/// SubjectPublicKeyInfo holds.
pub struct KeyFile {
    path: String,
    public_key: Vec<u8>,
}

impl KeyFile {
    /// PEM (PKCS#8, PKCS#1 or SEC1) or DER PKCS#8.
    pub fn load(path: &Path) -> Result<KeyFile, Error> {
        let der = crate::tls_setup::files::load_key(path)?;
        let pair = rcgen::KeyPair::try_from(&der).map_err(|e| {
            Error::BadFile(format!(
                "{} is not a private key iotscope can read (PKCS#8, PKCS#1 or SEC1): {e}",
                path.display()
            ))
        })?;
        Ok(KeyFile {
            path: path.display().to_string(),
            public_key: pair.public_key_raw().to_vec(),
        })
    }

    /// `CERT.KEY_MISMATCH` when the certificate holds another public key.
    pub fn check(&self, cert: &Certificate, der: &[u8]) -> Option<Finding> {
        cert_files::key_mismatch(&self.path, &self.public_key, cert, der)
    }
}

/// The certificates of the `--ca` file.
pub struct CaFile {
    path: String,
    certs: Vec<(Certificate, Vec<u8>)>,
}

impl CaFile {
    pub fn load(path: &Path) -> Result<CaFile, Error> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("read the CA file {}", path.display()), e))?;
        let certs = summarize_pem_or_der(&bytes);
        if certs.is_empty() {
            return Err(Error::BadFile(format!(
                "the CA file {} holds no certificate",
                path.display()
            )));
        }
        if let Some(bad) = certs.iter().find_map(|(c, _)| c.parse_error.as_ref()) {
            return Err(Error::BadFile(format!(
                "the CA file {}: {bad}",
                path.display()
            )));
        }
        Ok(CaFile {
            path: path.display().to_string(),
            certs,
        })
    }

    /// The CA file's certificates must be CAs, and one of them must have issued a
    /// certificate of the chain (or be one of them).
    pub fn check(&self, chain: &[Certificate], ders: &[&[u8]]) -> Vec<Finding> {
        cert_files::ca_file(&self.path, &self.certs, chain, ders)
    }

    /// A finding for each certificate of the file that is not a CA.
    pub fn not_cas(&self, leaf_id: Option<&str>) -> Vec<Finding> {
        cert_files::not_cas(&self.path, &self.certs, leaf_id)
    }

    /// The file's certificates, each with its DER.
    pub fn certs(&self) -> &[(Certificate, Vec<u8>)] {
        &self.certs
    }
}

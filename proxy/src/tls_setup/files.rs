//! Certificates and private keys from files, in PEM or DER, with messages that name the file
//! and what is wrong with it.

use crate::error::Error;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("read the {what} {}", path.display()), e))
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every certificate of a PEM file (a chain, leaf first), or the one certificate of a DER file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(path, "certificate file")?;
    if !is_pem(&bytes) {
        if x509_parser::parse_x509_certificate(&bytes).is_err() {
            return Err(Error::BadFile(format!(
                "{} is neither PEM nor a DER certificate",
                path.display()
            )));
        }
        return Ok(vec![CertificateDer::from(bytes)]);
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::BadFile(format!("{}: a PEM block is damaged: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::BadFile(format!(
            "{} holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

/// A private key: PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) or DER PKCS#8.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read(path, "private key")?;
    if is_pem(&bytes) {
        return PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
            Error::BadFile(format!(
                "{} holds no private key iotscope can read (PKCS#8, PKCS#1 or SEC1 PEM): {e}",
                path.display()
            ))
        });
    }
    PrivateKeyDer::try_from(bytes).map_err(|e| {
        Error::BadFile(format!(
            "{} is neither a PEM private key nor DER PKCS#8: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_file_and_the_problem() {
        let dir = std::env::temp_dir().join(format!("iotscope-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, b"not a certificate").unwrap();
        let e = load_certs(&junk).unwrap_err();
        assert!(
            e.to_string().contains("junk.pem") && e.to_string().contains("neither PEM nor"),
            "{e}"
        );
        let empty = dir.join("empty.pem");
        std::fs::write(
            &empty,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = load_certs(&empty).unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE block"), "{e}");
        let e = load_key(&dir.join("missing.key")).unwrap_err();
        assert!(e.to_string().contains("cannot read the private key"), "{e}");

        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["device.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let both = dir.join("both.pem");
        std::fs::write(&both, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
        assert_eq!(load_certs(&both).unwrap().len(), 1);
        assert!(matches!(load_key(&both).unwrap(), PrivateKeyDer::Pkcs8(_)));
        let der = dir.join("cert.der");
        std::fs::write(&der, cert.der()).unwrap();
        assert_eq!(load_certs(&der).unwrap()[0].as_ref(), cert.der().as_ref());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! iotscope's local CA for MITM mode: made once with rcgen, kept in the user's config
//! directory (or `--ca-dir`), and used to issue the certificates the proxy shows devices.
//!
//! The key file is created with mode 0600 before a byte of the key is written, and the key
//! is never printed or logged; `export` prints the certificate only.

pub mod command;
pub mod mint;

use crate::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

pub const CERT_FILE: &str = "iotscope-ca.pem";
pub const KEY_FILE: &str = "iotscope-ca.key";

/// The key type of the CA (and of the certificates it issues to the proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256: small and fast; what nearly every TLS stack takes.
    EcdsaP256,
    /// RSA 2048, for devices whose TLS stack verifies RSA signatures only.
    Rsa2048,
}

pub struct LocalCa {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key: KeyPair,
}

/// `--ca-dir`, else `$XDG_CONFIG_HOME/iotscope/ca`, else `~/.config/iotscope/ca`.
pub fn default_dir() -> Result<PathBuf, Error> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("iotscope").join("ca"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".config").join("iotscope").join("ca")),
        None => Err(Error::BadFile(
            "neither XDG_CONFIG_HOME nor HOME is set: give --ca-dir".into(),
        )),
    }
}

pub fn dir_or_default(dir: Option<&Path>) -> Result<PathBuf, Error> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => default_dir(),
    }
}

impl LocalCa {
    /// The CA in `dir`; an error that says how to make one when there is none.
    pub fn load(dir: &Path) -> Result<LocalCa, Error> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if !cert_path.exists() {
            return Err(Error::BadFile(format!(
                "there is no iotscope CA in {}: make one with `iotscope ca init{}`",
                dir.display(),
                dir_flag(dir)
            )));
        }
        let cert_pem = std::fs::read_to_string(&cert_path)
            .map_err(|e| Error::io(format!("read {}", cert_path.display()), e))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| Error::io(format!("read the CA key {}", key_path.display()), e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| {
            Error::BadFile(format!(
                "{} is not a key iotscope can use: {e}",
                key_path.display()
            ))
        })?;
        let cert_der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| {
                Error::BadFile(format!(
                    "{} is not a PEM certificate: {e}",
                    cert_path.display()
                ))
            })?
            .to_vec();
        let summary = iotscope_decoder::cert::summarize(&cert_der);
        if !summary.is_ca {
            return Err(Error::BadFile(format!(
                "{} is not a CA certificate",
                cert_path.display()
            )));
        }
        Ok(LocalCa {
            cert_pem,
            cert_der,
            key,
        })
    }

    /// Makes a CA in `dir` unless one is there; `true` when it was made now.
    pub fn init(dir: &Path, key_type: KeyType, days: u32) -> Result<(LocalCa, bool), Error> {
        if dir.join(CERT_FILE).exists() {
            return Ok((LocalCa::load(dir)?, false));
        }
        create_private_dir(dir)?;
        let key = new_key(key_type)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "iotscope");
        dn.push(
            DnType::CommonName,
            format!("iotscope interception CA ({})", host_label()),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let (not_before, not_after) = validity(days);
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(random_serial());
        let cert = params
            .self_signed(&key)
            .map_err(|e| Error::Crypto(format!("cannot make the CA certificate: {e}")))?;
        write_private(&dir.join(KEY_FILE), key.serialize_pem().as_bytes())?;
        std::fs::write(dir.join(CERT_FILE), cert.pem()).map_err(|e| {
            Error::BadFile(format!(
                "cannot write {}: {e}",
                dir.join(CERT_FILE).display()
            ))
        })?;
        Ok((
            LocalCa {
                cert_pem: cert.pem(),
                cert_der: cert.der().to_vec(),
                key,
            },
            true,
        ))
    }

    /// An rcgen issuer for this CA.
    pub fn issuer(&self) -> Result<Issuer<'static, KeyPair>, Error> {
        let key = KeyPair::from_pem(&self.key.serialize_pem())
            .map_err(|e| Error::BadFile(format!("the CA key cannot be used: {e}")))?;
        Issuer::from_ca_cert_pem(&self.cert_pem, key)
            .map_err(|e| Error::BadFile(format!("the CA certificate cannot be used: {e}")))
    }

    pub fn key_type(&self) -> KeyType {
        if self.key.algorithm() == &rcgen::PKCS_ECDSA_P256_SHA256 {
            KeyType::EcdsaP256
        } else {
            KeyType::Rsa2048
        }
    }
}

use rustls::pki_types::pem::PemObject;

fn dir_flag(dir: &Path) -> String {
    match default_dir() {
        Ok(d) if d == dir => String::new(),
        _ => format!(" --ca-dir {}", dir.display()),
    }
}

pub fn new_key(key_type: KeyType) -> Result<KeyPair, Error> {
    match key_type {
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
    }
    .map_err(|e| Error::Crypto(format!("cannot make a key: {e}")))
}

/// From yesterday (clocks of small devices run behind) for `days` days.
pub fn validity(days: u32) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    let start = now - Duration::days(1);
    (start, now + Duration::days(i64::from(days)))
}

pub fn random_serial() -> rcgen::SerialNumber {
    let mut bytes = [0u8; 16];
    // aws-lc-rs's generator; a serial needs only to be unique, but this is what is at hand.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes[0] &= 0x7f;
    rcgen::SerialNumber::from_slice(&bytes)
}

fn host_label() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "local".into())
}

fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| Error::io(format!("create {}", dir.display()), e))
}

/// Writes a file only its owner can read, with the mode set as it is created.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_makes_once_and_keeps_the_key_private() {
        let dir = std::env::temp_dir().join(format!("iotscope-ca-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (ca, made) = LocalCa::init(&dir, KeyType::EcdsaP256, 30).unwrap();
        assert!(made);
        let (again, made_again) = LocalCa::init(&dir, KeyType::Rsa2048, 30).unwrap();
        assert!(!made_again);
        assert_eq!(
            ca.cert_der, again.cert_der,
            "the CA is reused, not replaced"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let c = iotscope_decoder::cert::summarize(&ca.cert_der);
        assert!(c.is_ca);
        assert_eq!(c.curve.as_deref(), Some("P-256"));
        assert!(c.not_after_unix - c.not_before_unix >= 31 * 86_400 - 10);
        std::fs::remove_dir_all(&dir).unwrap();
        let e = LocalCa::load(&dir).err().unwrap();
        assert!(e.to_string().contains("iotscope ca init"), "{e}");
    }
}

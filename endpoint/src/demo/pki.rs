//! The demo's device certificates: a device CA made for the run, and certificates it issues
//! (valid, expired), each with its key and its AWS certificate ID, written where the proxy's
//! `--device-certs` looks (`ID.pem`, `ID.key`).

use std::path::Path;

use iotscope_proxy::ca::{new_key, random_serial, write_private, KeyType};
use iotscope_proxy::error::Error;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::registry::sha256_hex;

pub struct DeviceCa {
    issuer: Issuer<'static, KeyPair>,
}

/// One device's certificate and key.
#[derive(Clone)]
pub struct DeviceId {
    pub id: String,
    pub cert_der: Vec<u8>,
    /// The same certificate in PEM, as describe-certificate prints it.
    pub cert_pem: String,
    pub key_der: Vec<u8>,
}

fn crypto(e: rcgen::Error) -> Error {
    Error::Crypto(format!("cannot make a demo certificate: {e}"))
}

impl DeviceCa {
    pub fn new() -> Result<DeviceCa, Error> {
        let key = new_key(KeyType::EcdsaP256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "iotscope demo device CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        Ok(DeviceCa {
            issuer: Issuer::new(params, key),
        })
    }

    /// A device certificate for `cn`; `expired`: it ended yesterday.
    pub fn issue(&self, cn: &str, expired: bool, dir: &Path) -> Result<DeviceId, Error> {
        let key = new_key(KeyType::EcdsaP256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.serial_number = Some(random_serial());
        let now = OffsetDateTime::now_utc();
        if expired {
            params.not_before = now - Duration::days(400);
            params.not_after = now - Duration::days(1);
        } else {
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(365);
        }
        let cert = params.signed_by(&key, &self.issuer).map_err(crypto)?;
        let der = cert.der().to_vec();
        let id = sha256_hex(&der);
        let cert_path = dir.join(format!("{id}.pem"));
        if !cert_path.exists() {
            std::fs::write(&cert_path, cert.pem())
                .map_err(|e| Error::io(format!("write {}", cert_path.display()), e))?;
            write_private(
                &dir.join(format!("{id}.key")),
                key.serialize_pem().as_bytes(),
            )?;
        }
        Ok(DeviceId {
            id,
            cert_der: der,
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
        })
    }
}

//! The certificates the proxy shows devices: one per name, issued by the local CA and kept
//! for reuse, plus the deliberately bad ones of `--present`.
//!
//! Every certificate shares one key made at start (as the key's only use is this process's
//! handshakes); minting is then one signature per name. The cache is bounded, since names
//! come from devices.

use crate::error::Error;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use super::{new_key, random_serial, KeyType, LocalCa};
use iotscope_decoder::device_leg::Presented;

/// Names kept before the cache starts over.
const CACHE_LIMIT: usize = 1024;

/// The name the wrong-name test uses: in a reserved top-level domain, so it is nobody's.
pub const WRONG_NAME: &str = "wrong-name.iotscope.invalid";

/// Which certificate to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Present {
    /// Issued by a CA made for this run only, which no device can trust.
    Untrusted,
    /// Issued by iotscope's CA for a name other than the one the device asked for.
    WrongName,
    /// Issued by iotscope's CA, for the right name, but expired a month ago.
    Expired,
}

/// A minted certificate is kept per name asked for and per `--present` mode.
type CacheKey = (String, Option<Present>);

pub struct Minter {
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// A CA nobody trusts, for `--present untrusted`.
    stranger: (CertificateDer<'static>, Issuer<'static, KeyPair>),
    leaf_key: KeyPair,
    cache: Mutex<HashMap<CacheKey, Arc<CertifiedKey>>>,
}

impl Minter {
    pub fn new(ca: &LocalCa) -> Result<Minter, Error> {
        let key_type = ca.key_type();
        let leaf_key = new_key(key_type)?;
        let stranger_key = new_key(KeyType::EcdsaP256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "iotscope untrusted test CA");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let stranger_cert = params
            .self_signed(&stranger_key)
            .map_err(|e| Error::Crypto(format!("cannot make the untrusted test CA: {e}")))?;
        let stranger = (
            stranger_cert.der().clone(),
            Issuer::new(params, stranger_key),
        );
        Ok(Minter {
            ca_der: CertificateDer::from(ca.cert_der.clone()),
            issuer: ca.issuer()?,
            stranger,
            leaf_key,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The certificate to show a device that asked for `name`, and what it is.
    pub fn certificate(
        &self,
        name: &str,
        present: Option<Present>,
    ) -> Result<(Arc<CertifiedKey>, Presented), Error> {
        let presented = match present {
            None => Presented::Mitm { name: name.into() },
            Some(Present::Untrusted) => Presented::Untrusted { name: name.into() },
            Some(Present::WrongName) => Presented::WrongName {
                name: WRONG_NAME.into(),
            },
            Some(Present::Expired) => Presented::Expired { name: name.into() },
        };
        let key = (name.to_string(), present);
        if let Some(c) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok((c, presented));
        }
        let minted = Arc::new(self.mint(name, present)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, minted.clone());
        }
        Ok((minted, presented))
    }

    fn mint(&self, name: &str, present: Option<Present>) -> Result<CertifiedKey, Error> {
        let name = if present == Some(Present::WrongName) {
            WRONG_NAME
        } else {
            name
        };
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.to_string().try_into().map_err(|e| {
                Error::Crypto(format!("{name:?} cannot be a certificate name: {e}"))
            })?),
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(random_serial());
        let now = OffsetDateTime::now_utc();
        if present == Some(Present::Expired) {
            params.not_before = now - Duration::days(60);
            params.not_after = now - Duration::days(30);
        } else {
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(30);
        }
        let (issuer, ca_der) = if present == Some(Present::Untrusted) {
            (&self.stranger.1, &self.stranger.0)
        } else {
            (&self.issuer, &self.ca_der)
        };
        let cert = params
            .signed_by(&self.leaf_key, issuer)
            .map_err(|e| Error::Crypto(format!("cannot issue a certificate for {name}: {e}")))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let signer = crate::tls_setup::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| Error::Crypto(format!("the proxy's key cannot sign: {e}")))?;
        Ok(CertifiedKey::new(
            vec![cert.der().clone(), ca_der.clone()],
            signer,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_for_names_addresses_and_the_bad_cases() {
        let dir = std::env::temp_dir().join(format!("iotscope-mint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (ca, _) = LocalCa::init(&dir, KeyType::EcdsaP256, 30).unwrap();
        let m = Minter::new(&ca).unwrap();
        let ca_subject = iotscope_decoder::cert::summarize(&ca.cert_der).subject;
        let leaf = |c: &CertifiedKey| iotscope_decoder::cert::summarize(c.cert[0].as_ref());

        let (c, p) = m.certificate("a.example", None).unwrap();
        assert_eq!(
            p,
            Presented::Mitm {
                name: "a.example".into()
            }
        );
        let l = leaf(&c);
        assert_eq!(l.san_dns, vec!["a.example"]);
        assert_eq!(l.issuer, ca_subject);
        assert_eq!(l.extended_key_usage, vec!["serverAuth"]);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(l.valid_at(now));
        let (again, _) = m.certificate("a.example", None).unwrap();
        assert!(Arc::ptr_eq(&c, &again), "minted once per name");

        let (c, _) = m.certificate("127.0.0.1", None).unwrap();
        assert_eq!(leaf(&c).san_ip, vec!["127.0.0.1"]);

        let (c, _) = m.certificate("a.example", Some(Present::Expired)).unwrap();
        assert!(!leaf(&c).valid_at(now));
        assert_eq!(leaf(&c).issuer, ca_subject);
        let (c, _) = m
            .certificate("a.example", Some(Present::WrongName))
            .unwrap();
        assert_eq!(leaf(&c).san_dns, vec![WRONG_NAME]);
        let (c, _) = m
            .certificate("a.example", Some(Present::Untrusted))
            .unwrap();
        assert_ne!(leaf(&c).issuer, ca_subject);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

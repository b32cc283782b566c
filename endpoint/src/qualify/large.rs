//! The large server certificate chain of TLS_LargeServerCert: a leaf padded with extra
//! names, then iotscope's CA, so that the Certificate message runs past what a small TLS
//! buffer holds. Every certificate in it is valid: a device that
//! verifies properly and has room for it completes the handshake.

use std::sync::Arc;

use iotscope_proxy::ca::{new_key, random_serial, KeyType, LocalCa};
use iotscope_proxy::error::Error;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

/// Extra names on the leaf: a chain of about 14 KB (AWS IoT Core's own chains are 3 to 5
/// KB). iotscope's CA allows no intermediates below it (path length 0), so the size is in
/// the leaf.
pub const PADDING_NAMES: usize = 300;

fn crypto(what: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |e| Error::Crypto(format!("cannot make the large chain's {what}: {e}"))
}

/// The chain for `name` and its size in bytes of DER.
pub fn chain(ca: &LocalCa, name: &str) -> Result<(Arc<CertifiedKey>, usize), Error> {
    let now = OffsetDateTime::now_utc();
    let issuer: Issuer<'static, rcgen::KeyPair> = ca.issuer()?;
    let key = new_key(KeyType::EcdsaP256)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    let mut sans = vec![match name.parse::<std::net::IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(name.to_string().try_into().map_err(crypto("leaf name"))?),
    }];
    for i in 0..PADDING_NAMES {
        sans.push(SanType::DnsName(
            format!("padding-{i:03}.large-chain.iotscope.invalid")
                .try_into()
                .map_err(crypto("padding name"))?,
        ));
    }
    p.subject_alt_names = sans;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.serial_number = Some(random_serial());
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(30);
    let leaf = p.signed_by(&key, &issuer).map_err(crypto("leaf"))?;
    let chain = vec![
        leaf.der().clone(),
        CertificateDer::from(ca.cert_der.clone()),
    ];
    let size = chain.iter().map(|c| c.len()).sum();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = iotscope_proxy::tls_setup::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| Error::Crypto(format!("the large chain's key cannot sign: {e}")))?;
    Ok((Arc::new(CertifiedKey::new(chain, signer)), size))
}

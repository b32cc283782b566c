//! The cipher suites we can decrypt, and what each one needs: bulk cipher, key sizes, the hash
//! of its key derivation and, for CBC suites, the hash of its record MAC.
//!
//! The table is the single place that says "supported"; everything else looks suites up here.

use aws_lc_rs::{aead, cipher, hkdf, hmac, tls_prf};

use super::Version;

/// A hash as the key schedules and record MACs use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    /// Only ever a record MAC (the `_SHA` CBC suites); never a key derivation hash.
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    pub(crate) fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    /// HKDF for TLS 1.3. SHA-1 has no TLS 1.3 suite; the table never asks for it.
    pub(crate) fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha1 => hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }

    /// The TLS 1.2 PRF's P_hash. Every TLS 1.2 suite uses SHA-256 unless it names SHA-384, so
    /// the SHA-1 MAC suites never reach here with `Sha1` as their PRF hash.
    pub(crate) fn prf(self) -> &'static tls_prf::Algorithm {
        match self {
            Hash::Sha384 => &tls_prf::P_SHA384,
            Hash::Sha1 | Hash::Sha256 => &tls_prf::P_SHA256,
        }
    }
}

/// The bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

impl Bulk {
    pub(crate) fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 | Bulk::Aes256Cbc => 32,
        }
    }

    /// The AEAD algorithm, or `None` for CBC.
    pub(crate) fn aead(self) -> Option<&'static aead::Algorithm> {
        match self {
            Bulk::Aes128Gcm => Some(&aead::AES_128_GCM),
            Bulk::Aes256Gcm => Some(&aead::AES_256_GCM),
            Bulk::ChaCha20Poly1305 => Some(&aead::CHACHA20_POLY1305),
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => None,
        }
    }

    pub(crate) fn block_cipher(self) -> Option<&'static cipher::Algorithm> {
        match self {
            Bulk::Aes128Cbc => Some(&cipher::AES_128),
            Bulk::Aes256Cbc => Some(&cipher::AES_256),
            _ => None,
        }
    }
}

/// One decryptable suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Suite {
    pub id: u16,
    pub version: Version,
    pub bulk: Bulk,
    /// TLS 1.3: the HKDF hash. TLS 1.2: the PRF hash.
    pub kdf: Hash,
    /// TLS 1.2 CBC suites only: the record MAC.
    pub mac: Option<Hash>,
}

const fn s13(id: u16, bulk: Bulk, kdf: Hash) -> Suite {
    Suite {
        id,
        version: Version::Tls13,
        bulk,
        kdf,
        mac: None,
    }
}

const fn aead12(id: u16, bulk: Bulk, kdf: Hash) -> Suite {
    Suite {
        id,
        version: Version::Tls12,
        bulk,
        kdf,
        mac: None,
    }
}

const fn cbc12(id: u16, bulk: Bulk, kdf: Hash, mac: Hash) -> Suite {
    Suite {
        id,
        version: Version::Tls12,
        bulk,
        kdf,
        mac: Some(mac),
    }
}

use Bulk::*;
use Hash::*;

static SUITES: &[Suite] = &[
    s13(0x1301, Aes128Gcm, Sha256),           // TLS_AES_128_GCM_SHA256
    s13(0x1302, Aes256Gcm, Sha384),           // TLS_AES_256_GCM_SHA384
    s13(0x1303, ChaCha20Poly1305, Sha256),    // TLS_CHACHA20_POLY1305_SHA256
    aead12(0xc02f, Aes128Gcm, Sha256),        // ECDHE_RSA_WITH_AES_128_GCM_SHA256
    aead12(0xc02b, Aes128Gcm, Sha256),        // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    aead12(0x009c, Aes128Gcm, Sha256),        // RSA_WITH_AES_128_GCM_SHA256
    aead12(0xc030, Aes256Gcm, Sha384),        // ECDHE_RSA_WITH_AES_256_GCM_SHA384
    aead12(0xc02c, Aes256Gcm, Sha384),        // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    aead12(0x009d, Aes256Gcm, Sha384),        // RSA_WITH_AES_256_GCM_SHA384
    aead12(0xcca8, ChaCha20Poly1305, Sha256), // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    aead12(0xcca9, ChaCha20Poly1305, Sha256), // ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    cbc12(0xc013, Aes128Cbc, Sha256, Sha1),   // ECDHE_RSA_WITH_AES_128_CBC_SHA
    cbc12(0xc014, Aes256Cbc, Sha256, Sha1),   // ECDHE_RSA_WITH_AES_256_CBC_SHA
    cbc12(0xc009, Aes128Cbc, Sha256, Sha1),   // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    cbc12(0xc00a, Aes256Cbc, Sha256, Sha1),   // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    cbc12(0x002f, Aes128Cbc, Sha256, Sha1),   // RSA_WITH_AES_128_CBC_SHA
    cbc12(0x0035, Aes256Cbc, Sha256, Sha1),   // RSA_WITH_AES_256_CBC_SHA
    cbc12(0xc027, Aes128Cbc, Sha256, Sha256), // ECDHE_RSA_WITH_AES_128_CBC_SHA256
    cbc12(0xc028, Aes256Cbc, Sha384, Sha384), // ECDHE_RSA_WITH_AES_256_CBC_SHA384
    cbc12(0xc023, Aes128Cbc, Sha256, Sha256), // ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    cbc12(0xc024, Aes256Cbc, Sha384, Sha384), // ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    cbc12(0x003c, Aes128Cbc, Sha256, Sha256), // RSA_WITH_AES_128_CBC_SHA256
    cbc12(0x003d, Aes256Cbc, Sha256, Sha256), // RSA_WITH_AES_256_CBC_SHA256
];

pub(crate) fn lookup(version: Version, id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id && s.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_versions_do_not_mix() {
        for (i, a) in SUITES.iter().enumerate() {
            assert!(
                SUITES[i + 1..].iter().all(|b| b.id != a.id),
                "{:#06x}",
                a.id
            );
        }
        assert!(lookup(Version::Tls13, 0x1301).is_some());
        assert!(lookup(Version::Tls12, 0x1301).is_none());
        assert!(lookup(Version::Tls13, 0xc02f).is_none());
    }

    #[test]
    fn aead_and_cbc_suites_are_told_apart_by_their_mac() {
        for s in SUITES {
            assert_eq!(s.mac.is_some(), s.bulk.aead().is_none(), "{:#06x}", s.id);
            assert_eq!(
                s.mac.is_some(),
                s.bulk.block_cipher().is_some(),
                "{:#06x}",
                s.id
            );
            assert_ne!(s.kdf, Hash::Sha1, "{:#06x}", s.id);
        }
    }
}

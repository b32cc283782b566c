//! Decrypting TLS records with secrets from a key log (SSLKEYLOGFILE).
//!
//! One [`RecordDecryptor`] opens the records of one direction of one connection, one record at
//! a time, counting sequence numbers itself. It does no I/O and no record framing: the caller
//! splits the stream into records and hands each one in with its 5-byte header.
//!
//! - TLS 1.3 ([`RecordDecryptor::tls13`]): keys from a traffic secret by HKDF-Expand-Label;
//!   AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; KeyUpdate.
//! - TLS 1.2 ([`RecordDecryptor::tls12`]): keys from the master secret's key block; AES-GCM,
//!   ChaCha20-Poly1305, and AES-CBC with HMAC-SHA1/256/384 (TLS 1.1+ explicit IVs, either
//!   MAC-then-encrypt or encrypt-then-MAC). The extended master secret (RFC 7627) changes
//!   nothing here: the key log holds the master secret however it was made.
//!
//! All cryptography is aws-lc-rs's (`aead`, `cipher`, `hmac`, `hkdf`, `tls_prf`), because
//! the build carries exactly one crypto provider and rustls, rcgen and x509-parser already use
//! this one; adding another would put a second implementation of the same primitives (and a
//! second set of C or assembly) in every binary. Nothing cryptographic is written out by
//! hand: HKDF-Expand-Label is aws-lc-rs's HKDF-Expand (`hkdf::Prk::new_less_safe` with a
//! small `KeyType` for the output length; it fits, so RFC 5869 is not re-implemented) given
//! the `HkdfLabel` bytes, and the TLS 1.2 key block comes from aws-lc-rs's own TLS PRF
//! (`tls_prf`, P_SHA256 / P_SHA384).
//!
//! Not covered: TLS 1.0 and 1.1 (MD5/SHA-1 PRF, and TLS 1.0's chained CBC IVs), RC4, 3DES,
//! CCM and other rarely negotiated suites; [`suite_supported`] says which are in.
//!
//! A record that fails to authenticate never yields plaintext, and does not move the sequence
//! number on: the next record is tried with the same number, so a stray record (for example
//! one handed to the wrong epoch's decryptor) does not wreck the rest of the stream.

mod aead;
mod cbc;
mod error;
mod kdf;
mod schedule;
mod suites;

use std::fmt;

pub use error::DecryptError;
pub use schedule::{keylog_label, tls13_traffic_secret, Epoch, Writer};

use aead::{AeadKeys, Framing};
use cbc::CbcKeys;
use suites::Suite;

/// The TLS version whose record protection a decryptor speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Tls12,
    Tls13,
}

/// Whether records of `suite` can be decrypted under `version`.
pub fn suite_supported(version: Version, suite: u16) -> bool {
    suites::lookup(version, suite).is_some()
}

/// Opens the records of one direction of one connection.
pub struct RecordDecryptor {
    suite: &'static Suite,
    keys: Keys,
    /// Sequence number of the next record under the current keys.
    seq: u64,
    /// Records opened over the decryptor's life, across key updates.
    decrypted: u64,
}

enum Keys {
    Tls13 {
        aead: AeadKeys,
        /// Kept for KeyUpdate, which derives the next secret from this one.
        secret: Vec<u8>,
    },
    Tls12Aead(AeadKeys),
    /// Boxed: the AES key schedules make it thirty times the size of the others.
    Tls12Cbc(Box<CbcKeys>),
}

impl fmt::Debug for RecordDecryptor {
    // Keys stay out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordDecryptor")
            .field("version", &self.suite.version)
            .field("suite", &format_args!("{:#06x}", self.suite.id))
            .field("seq", &self.seq)
            .field("decrypted", &self.decrypted)
            .finish_non_exhaustive()
    }
}

impl RecordDecryptor {
    /// TLS 1.3: from a traffic secret (handshake or application) for the cipher suite
    /// (0x1301 TLS_AES_128_GCM_SHA256, 0x1302 TLS_AES_256_GCM_SHA384,
    /// 0x1303 TLS_CHACHA20_POLY1305_SHA256). The secret must be the suite's hash length.
    pub fn tls13(suite: u16, traffic_secret: &[u8]) -> Result<Self, DecryptError> {
        let suite =
            suites::lookup(Version::Tls13, suite).ok_or(DecryptError::UnsupportedSuite(suite))?;
        let aead = tls13_keys(suite, traffic_secret)?;
        Ok(RecordDecryptor {
            suite,
            keys: Keys::Tls13 {
                aead,
                secret: traffic_secret.to_vec(),
            },
            seq: 0,
            decrypted: 0,
        })
    }

    /// TLS 1.2: keys for `writer`'s records from the 48-byte master secret and both hello
    /// randoms. `encrypt_then_mac` applies to CBC suites only and is true when both hellos
    /// carried extension 22 (RFC 7366); AEAD suites ignore it.
    pub fn tls12(
        suite: u16,
        master_secret: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        writer: Writer,
        encrypt_then_mac: bool,
    ) -> Result<Self, DecryptError> {
        let suite =
            suites::lookup(Version::Tls12, suite).ok_or(DecryptError::UnsupportedSuite(suite))?;
        if master_secret.len() != 48 {
            return Err(DecryptError::BadSecret(format!(
                "a TLS 1.2 master secret is 48 bytes, this one is {}",
                master_secret.len()
            )));
        }
        let mac_len = suite.mac.map_or(0, |m| m.len());
        let key_len = suite.bulk.key_len();
        let iv_len = match suite.bulk {
            suites::Bulk::Aes128Gcm | suites::Bulk::Aes256Gcm => 4,
            suites::Bulk::ChaCha20Poly1305 => 12,
            // CBC's fixed IVs are in the block but unused since TLS 1.1.
            suites::Bulk::Aes128Cbc | suites::Bulk::Aes256Cbc => 16,
        };
        let block = kdf::tls12_key_block(
            suite.kdf,
            master_secret,
            client_random,
            server_random,
            2 * (mac_len + key_len + iv_len),
        )
        .map_err(|_| DecryptError::BadSecret("the key block could not be derived".into()))?;
        let parts = KeyBlock::split(&block, mac_len, key_len, iv_len, writer);
        let keys = match (suite.bulk.aead(), suite.mac) {
            (Some(algorithm), _) => {
                let framing = if suite.bulk == suites::Bulk::ChaCha20Poly1305 {
                    Framing::Tls12XorNonce
                } else {
                    Framing::Tls12ExplicitNonce
                };
                Keys::Tls12Aead(AeadKeys::new(algorithm, parts.key, parts.iv, framing)?)
            }
            (None, Some(mac)) => Keys::Tls12Cbc(Box::new(CbcKeys::new(
                suite.bulk,
                mac,
                parts.key,
                parts.mac_key,
                encrypt_then_mac,
            )?)),
            (None, None) => return Err(DecryptError::UnsupportedSuite(suite.id)),
        };
        Ok(RecordDecryptor {
            suite,
            keys,
            seq: 0,
            decrypted: 0,
        })
    }

    /// Decrypts the next record of this direction. `header` is the 5-byte record header as on
    /// the wire; `payload` is the rest of the record.
    ///
    /// TLS 1.3: returns the inner content type and the plaintext without its padding.
    /// TLS 1.2: returns the header's content type and the plaintext.
    /// The sequence number moves on only when the record decrypts.
    ///
    /// Hand in only protected records: in TLS 1.3 the outer type 23 ones (ChangeCipherSpec
    /// stays in clear), in TLS 1.2 everything after the writer's ChangeCipherSpec.
    pub fn decrypt(
        &mut self,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let header_len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if header_len != payload.len() {
            return Err(DecryptError::LengthMismatch {
                record: self.seq,
                header_len,
                payload_len: payload.len(),
            });
        }
        let seq = self.seq;
        let opened = match &self.keys {
            Keys::Tls13 { aead, .. } => {
                let mut plain = aead.open(seq, header, payload)?;
                // The content type is the last non-zero byte; zeros after it are padding.
                let type_at = plain
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(DecryptError::NoContentType { record: seq })?;
                let content_type = plain[type_at];
                plain.truncate(type_at);
                (content_type, plain)
            }
            Keys::Tls12Aead(aead) => (header[0], aead.open(seq, header, payload)?),
            Keys::Tls12Cbc(cbc) => (header[0], cbc.open(seq, header, payload)?),
        };
        // 2^64 records cannot happen on one connection; wrapping keeps this panic-free anyway.
        self.seq = self.seq.wrapping_add(1);
        self.decrypted = self.decrypted.wrapping_add(1);
        Ok(opened)
    }

    /// TLS 1.3 KeyUpdate: moves to the next application traffic secret,
    /// HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), and restarts the sequence
    /// number at 0. Call it after the KeyUpdate message from this direction's writer.
    pub fn key_update(&mut self) -> Result<(), DecryptError> {
        let Keys::Tls13 { secret, .. } = &self.keys else {
            return Err(DecryptError::KeyUpdateNeedsTls13);
        };
        let mut next = vec![0u8; self.suite.kdf.len()];
        kdf::hkdf_expand_label(self.suite.kdf, secret, b"traffic upd", b"", &mut next).map_err(
            |_| DecryptError::BadSecret("the next traffic secret could not be derived".into()),
        )?;
        let aead = tls13_keys(self.suite, &next)?;
        self.keys = Keys::Tls13 { aead, secret: next };
        self.seq = 0;
        Ok(())
    }

    /// Records decrypted so far, across key updates.
    pub fn records_decrypted(&self) -> u64 {
        self.decrypted
    }

    /// The sequence number the next record will be opened with.
    pub fn next_sequence(&self) -> u64 {
        self.seq
    }

    pub fn version(&self) -> Version {
        self.suite.version
    }

    pub fn suite(&self) -> u16 {
        self.suite.id
    }
}

/// TLS 1.3 record keys: key = HKDF-Expand-Label(secret, "key"), iv = …("iv", 12 bytes).
fn tls13_keys(suite: &Suite, secret: &[u8]) -> Result<AeadKeys, DecryptError> {
    let (key, iv) = tls13_key_iv(suite, secret)?;
    let derive_failed = || DecryptError::BadSecret("the record keys could not be derived".into());
    let algorithm = suite.bulk.aead().ok_or_else(derive_failed)?;
    AeadKeys::new(algorithm, &key, &iv, Framing::Tls13)
}

fn tls13_key_iv(suite: &Suite, secret: &[u8]) -> Result<(Vec<u8>, [u8; 12]), DecryptError> {
    if secret.len() != suite.kdf.len() {
        return Err(DecryptError::BadSecret(format!(
            "suite {:#06x} needs a {}-byte traffic secret, this one is {} bytes",
            suite.id,
            suite.kdf.len(),
            secret.len()
        )));
    }
    let derive_failed = || DecryptError::BadSecret("the record keys could not be derived".into());
    let mut key = vec![0u8; suite.bulk.key_len()];
    let mut iv = [0u8; 12];
    kdf::hkdf_expand_label(suite.kdf, secret, b"key", b"", &mut key)
        .map_err(|_| derive_failed())?;
    kdf::hkdf_expand_label(suite.kdf, secret, b"iv", b"", &mut iv).map_err(|_| derive_failed())?;
    Ok((key, iv))
}

/// The TLS 1.3 record key and IV a traffic secret gives for `suite` (RFC 8446 §7.3). The
/// decoder never encrypts; this is for tests and benchmarks that need to make records.
pub fn tls13_record_key_iv(suite: u16, secret: &[u8]) -> Result<(Vec<u8>, [u8; 12]), DecryptError> {
    let suite =
        suites::lookup(Version::Tls13, suite).ok_or(DecryptError::UnsupportedSuite(suite))?;
    tls13_key_iv(suite, secret)
}

/// One writer's share of a TLS 1.2 key block (RFC 5246 §6.3): the block is
/// client MAC key, server MAC key, client key, server key, client IV, server IV.
struct KeyBlock<'a> {
    mac_key: &'a [u8],
    key: &'a [u8],
    iv: &'a [u8],
}

impl<'a> KeyBlock<'a> {
    /// `block` must be `2 * (mac_len + key_len + iv_len)` bytes (the caller derived it so).
    fn split(
        block: &'a [u8],
        mac_len: usize,
        key_len: usize,
        iv_len: usize,
        writer: Writer,
    ) -> KeyBlock<'a> {
        let mut rest = block;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            head
        };
        let (client_mac, server_mac) = (take(mac_len), take(mac_len));
        let (client_key, server_key) = (take(key_len), take(key_len));
        let (client_iv, server_iv) = (take(iv_len), take(iv_len));
        match writer {
            Writer::Client => KeyBlock {
                mac_key: client_mac,
                key: client_key,
                iv: client_iv,
            },
            Writer::Server => KeyBlock {
                mac_key: server_mac,
                key: server_key,
                iv: server_iv,
            },
        }
    }
}

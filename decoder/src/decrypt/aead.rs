//! AEAD record protection: TLS 1.3 (RFC 8446 §5.2–5.4), TLS 1.2 AES-GCM (RFC 5288) and
//! TLS 1.2 ChaCha20-Poly1305 (RFC 7905).
//!
//! The three differ only in how the nonce and the additional data are made:
//! - TLS 1.3 and TLS 1.2 ChaCha20: nonce = 12-byte IV XOR the sequence number; no nonce on the
//!   wire. TLS 1.3's additional data is the record header itself; TLS 1.2's is
//!   `seq ‖ type ‖ version ‖ plaintext length`.
//! - TLS 1.2 AES-GCM: nonce = 4-byte salt from the key block ‖ 8 explicit bytes that open each
//!   record; additional data as for TLS 1.2 above.

use aws_lc_rs::aead::{Aad, Algorithm, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};

use super::DecryptError;

const TAG_LEN: usize = 16;
/// The explicit part of a TLS 1.2 GCM nonce, carried at the start of each record.
const EXPLICIT_NONCE_LEN: usize = 8;

/// How the nonce and additional data are formed for a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Tls13,
    /// TLS 1.2 AES-GCM: the first 4 bytes of `iv` are the salt, the rest is ignored.
    Tls12ExplicitNonce,
    /// TLS 1.2 ChaCha20-Poly1305.
    Tls12XorNonce,
}

pub(crate) struct AeadKeys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    framing: Framing,
}

impl AeadKeys {
    /// `iv` is 12 bytes for TLS 1.3 and ChaCha20, the 4-byte salt for TLS 1.2 GCM.
    pub(crate) fn new(
        algorithm: &'static Algorithm,
        key: &[u8],
        iv: &[u8],
        framing: Framing,
    ) -> Result<AeadKeys, DecryptError> {
        let unbound = UnboundKey::new(algorithm, key).map_err(|_| {
            DecryptError::BadSecret(format!("a {}-byte key was refused", key.len()))
        })?;
        let mut full_iv = [0u8; NONCE_LEN];
        let slot = full_iv.get_mut(..iv.len()).ok_or_else(|| {
            DecryptError::BadSecret(format!("an IV of {} bytes is too long", iv.len()))
        })?;
        slot.copy_from_slice(iv);
        Ok(AeadKeys {
            key: LessSafeKey::new(unbound),
            iv: full_iv,
            framing,
        })
    }

    /// Opens one record; `seq` is its sequence number. Returns the plaintext.
    pub(crate) fn open(
        &self,
        seq: u64,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let too_short = DecryptError::Truncated {
            record: seq,
            len: payload.len(),
        };
        let (nonce, sealed, aad) = match self.framing {
            Framing::Tls13 => {
                // One byte at least: the inner content type.
                if payload.len() <= TAG_LEN {
                    return Err(too_short);
                }
                (self.xor_nonce(seq), payload, header.to_vec())
            }
            Framing::Tls12XorNonce => {
                let plain_len = payload.len().checked_sub(TAG_LEN).ok_or(too_short)?;
                (
                    self.xor_nonce(seq),
                    payload,
                    tls12_aad(seq, header, plain_len),
                )
            }
            Framing::Tls12ExplicitNonce => {
                let plain_len = payload
                    .len()
                    .checked_sub(EXPLICIT_NONCE_LEN + TAG_LEN)
                    .ok_or(too_short)?;
                let (explicit, sealed) = payload.split_at(EXPLICIT_NONCE_LEN);
                let mut nonce = self.iv;
                nonce[4..].copy_from_slice(explicit);
                (nonce, sealed, tls12_aad(seq, header, plain_len))
            }
        };
        let mut buf = sealed.to_vec();
        let plain_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                &mut buf,
            )
            .map_err(|_| DecryptError::AuthenticationFailed { record: seq })?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }

    fn xor_nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }
}

/// TLS 1.2's additional data: sequence number, the header's type and version, and the length
/// of the plaintext (not of the record).
pub(crate) fn tls12_aad(seq: u64, header: &[u8; 5], plain_len: usize) -> Vec<u8> {
    let mut aad = Vec::with_capacity(13);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&header[..3]);
    // A record's payload length came from a u16 header, so this never saturates in practice.
    aad.extend_from_slice(&u16::try_from(plain_len).unwrap_or(u16::MAX).to_be_bytes());
    aad
}

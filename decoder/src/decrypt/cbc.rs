//! TLS 1.2 CBC records with HMAC: MAC-then-encrypt (RFC 5246 §6.2.3.2) and encrypt-then-MAC
//! (RFC 7366).
//!
//! Every record opens with its own 16-byte IV (TLS 1.1 and later). A record is returned only
//! when its MAC verifies; the plaintext of a record that fails is never handed out.
//!
//! - MAC-then-encrypt: `IV ‖ CBC(content ‖ MAC(seq ‖ type ‖ version ‖ len ‖ content) ‖ padding)`.
//! - Encrypt-then-MAC: `IV ‖ CBC(content ‖ padding) ‖ MAC(seq ‖ type ‖ version ‖ len ‖ IV ‖ CBC…)`.
//!
//! Padding is `n + 1` bytes all equal to `n`. We are a passive observer, not a server that
//! answers forged records, so the padding-oracle defences a TLS stack needs do not apply; the
//! MAC comparison is still constant-time because aws-lc-rs offers it for free.

use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_CBC_IV_LEN};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::suites::{Bulk, Hash};
use super::DecryptError;

const BLOCK_LEN: usize = 16;

pub(crate) struct CbcKeys {
    key: DecryptingKey,
    mac_key: hmac::Key,
    mac_len: usize,
    encrypt_then_mac: bool,
}

impl CbcKeys {
    pub(crate) fn new(
        bulk: Bulk,
        mac: Hash,
        key: &[u8],
        mac_key: &[u8],
        encrypt_then_mac: bool,
    ) -> Result<CbcKeys, DecryptError> {
        let refused = || DecryptError::BadSecret(format!("a {}-byte key was refused", key.len()));
        let algorithm = bulk.block_cipher().ok_or_else(refused)?;
        let unbound = UnboundCipherKey::new(algorithm, key).map_err(|_| refused())?;
        Ok(CbcKeys {
            key: DecryptingKey::cbc(unbound).map_err(|_| refused())?,
            mac_key: hmac::Key::new(mac.hmac(), mac_key),
            mac_len: mac.len(),
            encrypt_then_mac,
        })
    }

    pub(crate) fn open(
        &self,
        seq: u64,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        if self.encrypt_then_mac {
            self.open_encrypt_then_mac(seq, header, payload)
        } else {
            self.open_mac_then_encrypt(seq, header, payload)
        }
    }

    fn open_mac_then_encrypt(
        &self,
        seq: u64,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        // The MAC and at least one padding byte, rounded up to whole blocks.
        let least = (self.mac_len + 1).div_ceil(BLOCK_LEN) * BLOCK_LEN;
        let (iv, ciphertext) = split_iv(seq, payload, least)?;
        let mut plain = self.decrypt_blocks(iv, ciphertext)?;
        let bad_mac = DecryptError::BadMac { record: seq };
        let unpadded = strip_padding(&plain).ok_or(bad_mac.clone())?;
        let content_len = unpadded.checked_sub(self.mac_len).ok_or(bad_mac.clone())?;
        let (content, rest) = plain.split_at(content_len);
        let received = rest.get(..self.mac_len).ok_or(bad_mac.clone())?;
        let expected = self.mac(seq, header, &[content]);
        verify_slices_are_equal(expected.as_ref(), received).map_err(|_| bad_mac)?;
        plain.truncate(content_len);
        Ok(plain)
    }

    fn open_encrypt_then_mac(
        &self,
        seq: u64,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let too_short = DecryptError::Truncated {
            record: seq,
            len: payload.len(),
        };
        let protected_len = payload.len().checked_sub(self.mac_len).ok_or(too_short)?;
        let (protected, received) = payload.split_at(protected_len);
        // Check the shape before the MAC so that a short record says "truncated", not "bad MAC".
        let (iv, ciphertext) = split_iv(seq, protected, BLOCK_LEN)?;
        let expected = self.mac(seq, header, &[protected]);
        verify_slices_are_equal(expected.as_ref(), received)
            .map_err(|_| DecryptError::BadMac { record: seq })?;
        let mut plain = self.decrypt_blocks(iv, ciphertext)?;
        let content_len = strip_padding(&plain).ok_or(DecryptError::BadPadding { record: seq })?;
        plain.truncate(content_len);
        Ok(plain)
    }

    /// HMAC over `seq ‖ type ‖ version ‖ length ‖ data…`, where length is of all `data`.
    fn mac(&self, seq: u64, header: &[u8; 5], data: &[&[u8]]) -> hmac::Tag {
        let len: usize = data.iter().map(|d| d.len()).sum();
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(&seq.to_be_bytes());
        ctx.update(&header[..3]);
        // Bounded by the u16 record length the caller checked against the header.
        ctx.update(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        for d in data {
            ctx.update(d);
        }
        ctx.sign()
    }

    fn decrypt_blocks(&self, iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let iv: [u8; AES_CBC_IV_LEN] = iv
            .try_into()
            .map_err(|_| DecryptError::BadSecret("the CBC IV is not 16 bytes".into()))?;
        let mut buf = ciphertext.to_vec();
        let context = DecryptionContext::Iv128(FixedLength::from(iv));
        let len = self
            .key
            .decrypt(&mut buf, context)
            .map_err(|_| DecryptError::BadSecret("AES-CBC refused to decrypt".into()))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Splits `IV ‖ ciphertext`, requiring at least `least` bytes of whole-block ciphertext.
fn split_iv(seq: u64, payload: &[u8], least: usize) -> Result<(&[u8], &[u8]), DecryptError> {
    if payload.len() < AES_CBC_IV_LEN + least {
        return Err(DecryptError::Truncated {
            record: seq,
            len: payload.len(),
        });
    }
    let (iv, ciphertext) = payload.split_at(AES_CBC_IV_LEN);
    if !ciphertext.len().is_multiple_of(BLOCK_LEN) {
        return Err(DecryptError::NotBlockAligned {
            record: seq,
            len: ciphertext.len(),
        });
    }
    Ok((iv, ciphertext))
}

/// The length of `plain` without its padding, or `None` when the padding is malformed.
fn strip_padding(plain: &[u8]) -> Option<usize> {
    let &pad = plain.last()?;
    let pad_total = usize::from(pad) + 1;
    let start = plain.len().checked_sub(pad_total)?;
    plain[start..].iter().all(|&b| b == pad).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_n_plus_one_bytes_of_n() {
        assert_eq!(strip_padding(b"abc\x00"), Some(3));
        assert_eq!(strip_padding(b"abc\x02\x02\x02"), Some(3));
        assert_eq!(strip_padding(b"abc\x01\x02\x02"), None);
        assert_eq!(strip_padding(b"\x03\x03\x03"), None);
        assert_eq!(strip_padding(b"\x02\x02\x02"), Some(0));
        assert_eq!(strip_padding(b""), None);
    }
}

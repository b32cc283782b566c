//! Key derivation: TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1) and the TLS 1.2 key block
//! (RFC 5246 §6.3).
//!
//! HKDF-Expand-Label is aws-lc-rs's own HKDF-Expand (`hkdf::Prk::new_less_safe` + `expand`)
//! with the `HkdfLabel` structure built here as its `info`; the output length is passed through
//! a small [`hkdf::KeyType`]. `new_less_safe` is the right entry point because a key log hands
//! us the pseudorandom key (the traffic secret) itself, not input to HKDF-Extract.
//!
//! The TLS 1.2 PRF is aws-lc-rs's `tls_prf` (P_SHA256 / P_SHA384), so nothing here
//! re-implements a MAC construction.

use aws_lc_rs::{hkdf, tls_prf};

use super::suites::Hash;

/// What went wrong deriving keys; the caller turns it into a [`super::DecryptError`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct KdfFailed;

struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// The longest secret HKDF accepts as a pseudorandom key (aws-lc-rs panics past it).
const MAX_SECRET_LEN: usize = 64;

/// HKDF-Expand-Label(secret, label, context, out.len()) with the "tls13 " prefix.
pub(crate) fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), KdfFailed> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(KdfFailed);
    }
    let info = hkdf_label(out.len(), label, context)?;
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let info_parts = [info.as_slice()];
    prk.expand(&info_parts, OutputLen(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| KdfFailed)
}

/// The `HkdfLabel` structure: u16 length, u8-prefixed "tls13 " + label, u8-prefixed context.
fn hkdf_label(len: usize, label: &[u8], context: &[u8]) -> Result<Vec<u8>, KdfFailed> {
    const PREFIX: &[u8] = b"tls13 ";
    let len = u16::try_from(len).map_err(|_| KdfFailed)?;
    let label_len = u8::try_from(PREFIX.len() + label.len()).map_err(|_| KdfFailed)?;
    let context_len = u8::try_from(context.len()).map_err(|_| KdfFailed)?;
    let mut info = Vec::with_capacity(4 + PREFIX.len() + label.len() + context.len());
    info.extend_from_slice(&len.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label);
    info.push(context_len);
    info.extend_from_slice(context);
    Ok(info)
}

/// The TLS 1.2 key block: PRF(master_secret, "key expansion", server_random + client_random).
///
/// The order of the randoms is the reverse of the master secret's derivation, on purpose in
/// the RFC; getting it backwards yields keys that fail every record.
pub(crate) fn tls12_key_block(
    prf_hash: Hash,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    len: usize,
) -> Result<Vec<u8>, KdfFailed> {
    let secret = tls_prf::Secret::new(prf_hash.prf(), master_secret).map_err(|_| KdfFailed)?;
    let block = secret
        .derive_with_seed_concatination(b"key expansion", server_random, client_random, len)
        .map_err(|_| KdfFailed)?;
    Ok(block.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    /// RFC 8448 §3: the server handshake traffic secret expands to this key and IV.
    #[test]
    fn rfc8448_server_handshake_key_and_iv() {
        let secret = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        hkdf_expand_label(Hash::Sha256, &secret, b"key", b"", &mut key).unwrap();
        hkdf_expand_label(Hash::Sha256, &secret, b"iv", b"", &mut iv).unwrap();
        assert_eq!(key.to_vec(), h("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv.to_vec(), h("5d313eb2671276ee13000b30"));
    }

    /// RFC 8448 §3 also gives the server's finished key, an expansion with a 32-byte output.
    #[test]
    fn rfc8448_finished_key_is_a_full_hash_length_expansion() {
        let secret = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut out = [0u8; 32];
        hkdf_expand_label(Hash::Sha256, &secret, b"finished", b"", &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            h("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")
        );
    }

    /// The Illustrated TLS 1.2 connection (0xc013: two 20-byte MAC keys, two 16-byte AES keys,
    /// two 16-byte IVs). The expected block was computed once with Python's `hmac` and
    /// `hashlib` (P_SHA256 written out from RFC 5246 §5), not with aws-lc-rs.
    #[test]
    fn tls12_key_block_matches_an_independent_prf() {
        let master = h(concat!(
            "916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049",
            "781c8e19fc1eb2a7387ac06ae237344c"
        ));
        let client_random: [u8; 32] = std::array::from_fn(|i| i as u8);
        let server_random: [u8; 32] = std::array::from_fn(|i| 0x70 + i as u8);
        let block =
            tls12_key_block(Hash::Sha256, &master, &client_random, &server_random, 104).unwrap();
        assert_eq!(
            hex::encode(&block),
            concat!(
                "1b7d117c7d5f690bc263cae8ef60af0f1878acc2", // client MAC key
                "2ad8bdd8c601a617126f63540eb20906f781fad2", // server MAC key
                "f656d037b173ef3e11169f27231a84b6",         // client key
                "752a18e7a9fcb7cbcdd8f98dd8f769eb",         // server key
                "a0d2550c9238eebfef5c32251abb67d6",         // client IV
                "434528db4937d540d393135e06a11bb8",         // server IV
            )
        );
    }

    #[test]
    fn label_layout_is_length_prefixed() {
        let info = hkdf_label(12, b"iv", b"").unwrap();
        assert_eq!(info, b"\x00\x0c\x08tls13 iv\x00".to_vec());
    }

    #[test]
    fn oversized_inputs_are_refused_not_panicked_on() {
        let mut out = [0u8; 16];
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[1u8; 65], b"key", b"", &mut out),
            Err(KdfFailed)
        );
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[1u8; 32], &[b'x'; 250], b"", &mut out),
            Err(KdfFailed)
        );
        let mut huge = vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[1u8; 32], b"key", b"", &mut huge),
            Err(KdfFailed)
        );
        assert!(tls12_key_block(Hash::Sha256, &[], &[0; 32], &[0; 32], 40).is_err());
    }
}

//! The links of a presented chain: does each certificate name the next as its issuer, and
//! does the next one's key verify its signature? And where does the chain lead?
//!
//! This is not path building: a TLS peer sends its chain in order (leaf first), and a
//! device fails when that order or a link is wrong, so the links as sent are what matter.

use aws_lc_rs::signature::{self, VerificationAlgorithm};
use x509_parser::asn1_rs::Tag;
use x509_parser::error::X509Error;
use x509_parser::prelude::X509Certificate;
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::signature_algorithm::RsaSsaPssParams;

use super::{names, roots};

/// Is `child` issued by `issuer`? `Some(false)` when the names differ or the signature does
/// not verify; `None` when the signature algorithm is one neither x509-parser nor the
/// fallbacks below can check.
pub fn issued_by(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Option<bool> {
    if !names::same_name(child.issuer(), issuer.subject()) {
        return Some(false);
    }
    match child.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Some(true),
        Err(X509Error::SignatureVerificationError) if pss_salt_unusual(child) => None,
        Err(X509Error::SignatureVerificationError) => {
            short_rsa_key(child, issuer).unwrap_or(Some(false))
        }
        Err(X509Error::SignatureUnsupportedAlgorithm) => {
            extra_algorithm(child, issuer).map(|alg| verify_with(alg, child, issuer))
        }
        Err(_) => None,
    }
}

fn verify_with(
    alg: &'static dyn VerificationAlgorithm,
    child: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> bool {
    signature::UnparsedPublicKey::new(alg, &issuer.public_key().subject_public_key.data)
        .verify(child.tbs_certificate.as_ref(), &child.signature_value.data)
        .is_ok()
}

/// x509-parser insists on RSA keys of at least 2048 bits for SHA-2 signatures, but device
/// PKIs made years ago still use 1024-bit CAs; calling those links broken would send the
/// user after the wrong problem. `None` when the issuer's key is not a short RSA key (the
/// failure stands); otherwise the answer, unknown for keys or hashes aws-lc cannot check.
fn short_rsa_key(
    child: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Option<Option<bool>> {
    let Ok(PublicKey::RSA(rsa)) = issuer.public_key().parsed() else {
        return None;
    };
    let bits = rsa_bits(&rsa);
    if bits >= 2048 {
        return None;
    }
    if bits < 1024 {
        return Some(None);
    }
    let alg: &'static dyn VerificationAlgorithm =
        match child.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => {
                &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            _ => return Some(None),
        };
    Some(Some(verify_with(alg, child, issuer)))
}

/// aws-lc verifies RSA-PSS only with a salt as long as the hash, but OpenSSL signs with the
/// longest salt that fits unless told otherwise. A failure with any other salt length says
/// nothing about the link.
fn pss_salt_unusual(child: &X509Certificate<'_>) -> bool {
    let alg = &child.signature_algorithm;
    if alg.algorithm.to_id_string() != "1.2.840.113549.1.1.10" {
        return false;
    }
    let Some(params) = alg.parameters.as_ref() else {
        return false;
    };
    let Ok(pss) = RsaSsaPssParams::try_from(params) else {
        return true;
    };
    let hash_len = match pss.hash_algorithm_oid().to_id_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => 32,
        "2.16.840.1.101.3.4.2.2" => 48,
        "2.16.840.1.101.3.4.2.3" => 64,
        _ => return true,
    };
    pss.salt_length() != hash_len
}

fn rsa_bits(rsa: &RSAPublicKey<'_>) -> usize {
    let m = rsa.modulus;
    let start = m.iter().position(|&b| b != 0).unwrap_or(m.len());
    match m.get(start..) {
        Some([first, rest @ ..]) => rest.len() * 8 + (8 - first.leading_zeros() as usize),
        _ => 0,
    }
}

/// ECDSA combinations x509-parser leaves out: P-521 keys, and SHA-512 with any NIST curve.
fn extra_algorithm(
    child: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Option<&'static dyn VerificationAlgorithm> {
    let spki = issuer.public_key();
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.10045.2.1" {
        return None;
    }
    let params = spki.algorithm.parameters.as_ref()?;
    if params.tag() != Tag::Oid {
        return None;
    }
    let curve = params.as_oid().ok()?.to_id_string();
    let hash = match child.signature_algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.10045.4.3.2" => 256,
        "1.2.840.10045.4.3.3" => 384,
        "1.2.840.10045.4.3.4" => 512,
        _ => return None,
    };
    let alg: &'static dyn VerificationAlgorithm = match (curve.as_str(), hash) {
        ("1.2.840.10045.3.1.7", 512) => &signature::ECDSA_P256_SHA512_ASN1,
        ("1.3.132.0.34", 512) => &signature::ECDSA_P384_SHA512_ASN1,
        ("1.3.132.0.35", 256) => &signature::ECDSA_P521_SHA256_ASN1,
        ("1.3.132.0.35", 384) => &signature::ECDSA_P521_SHA384_ASN1,
        ("1.3.132.0.35", 512) => &signature::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    };
    Some(alg)
}

/// Links between neighbours: entry `i` says whether certificate `i` is issued by `i + 1`;
/// the last entry is `None`. Unparseable certificates give `None` on both sides.
pub fn links(parsed: &[Option<X509Certificate<'_>>]) -> Vec<Option<bool>> {
    let mut out: Vec<Option<bool>> = parsed
        .windows(2)
        .map(|pair| match (&pair[0], &pair[1]) {
            (Some(child), Some(issuer)) => issued_by(child, issuer),
            _ => None,
        })
        .collect();
    if !parsed.is_empty() {
        out.push(None);
    }
    out
}

/// Where the chain leads: the root's name, and whether it is a root webpki-roots knows.
/// The last certificate counts as the root when it is itself a known root (sent along, or a
/// cross-signed copy); otherwise its issuer is the root the client must hold.
pub fn root(last: Option<&X509Certificate<'_>>) -> (Option<String>, bool) {
    let Some(last) = last else {
        return (None, false);
    };
    if let Some(name) = roots::known_root_name(last.subject().as_raw()) {
        return (Some(name), true);
    }
    if let Some(name) = roots::known_root_name(last.issuer().as_raw()) {
        return (Some(name), true);
    }
    (Some(names::format_name(last.issuer())), false)
}

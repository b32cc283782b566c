//! Rules for certificate files (a device's certificate and key, a CA file, a custom domain's
//! server chain), read offline by `iotscope cert check` and by the probe before it dials.
//! Like the rules on traces they read only what they are given (certificates already parsed,
//! the key's public bits, the caller's clock) and each problem is a catalogue finding.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::catalogue::Values;
use super::code::Code;
use super::finding::Finding;
use crate::cert::{read_chain, Certificate};

/// AWS IoT's limits for a custom domain's server certificate chain.
const CUSTOM_DOMAIN_MAX_NAMES: usize = 4;
const CUSTOM_DOMAIN_MAX_DEPTH: usize = 5;
const CUSTOM_DOMAIN_MAX_BYTES: usize = 16 * 1024;

/// What the checks need to know about one file.
pub struct Chain<'a> {
    pub certs: &'a [Certificate],
    pub issued_by_next: &'a [Option<bool>],
    /// Unix seconds, from the command's clock.
    pub now: i64,
    pub custom_domain: bool,
}

/// Where a certificate sits, in words: `certificate 1 (CN=leaf)`.
pub fn label(i: usize, c: &Certificate) -> String {
    let name = c.common_name.as_deref().unwrap_or(c.subject.as_str());
    format!("certificate {} ({name})", i + 1)
}

/// A catalogue finding with the catalogue's next steps, filled with the certificate's ID.
pub fn finding(code: Code, summary: String, cert_id: Option<&str>) -> Finding {
    Finding::new(code, summary).steps_from(&Values {
        cert_id: cert_id.map(str::to_string),
        ..Values::default()
    })
}

/// Every check that needs only the file itself.
pub fn check(chain: &Chain<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, c) in chain.certs.iter().enumerate() {
        if c.parse_error.is_some() {
            continue;
        }
        validity(i, c, chain.now, &mut out);
        key(i, c, &mut out);
    }
    order(chain, &mut out);
    if chain.custom_domain {
        custom_domain(chain.certs, &mut out);
    }
    out
}

fn validity(i: usize, c: &Certificate, now: i64, out: &mut Vec<Finding>) {
    let state = if now < c.not_before_unix {
        format!("is not valid before {} UTC", c.not_before)
    } else if now > c.not_after_unix {
        format!("expired on {} UTC", c.not_after)
    } else {
        return;
    };
    out.push(finding(
        Code::AuthClientCertExpired,
        format!("{} {state}.", label(i, c)),
        Some(&c.sha256),
    ));
}

/// RSA of 2048 bits or more, or ECDSA on P-256, P-384 or P-521.
fn key_accepted(c: &Certificate) -> bool {
    match c.key_type.as_str() {
        "RSA" => c.key_bits.is_some_and(|b| b >= 2048),
        "EC" => matches!(c.curve.as_deref(), Some("P-256" | "P-384" | "P-521")),
        _ => false,
    }
}

fn key(i: usize, c: &Certificate, out: &mut Vec<Finding>) {
    if key_accepted(c) {
        return;
    }
    let what = match (&c.curve, c.key_bits) {
        (Some(curve), _) => format!("{} key on {curve}", c.key_type),
        (None, Some(bits)) => format!("{} key of {bits} bits", c.key_type),
        (None, None) => format!("{} key", c.key_type),
    };
    out.push(finding(
        Code::CertKeyNotAccepted,
        format!(
            "{} has an {what}; AWS IoT accepts RSA of 2048 bits or more and ECDSA on P-256, P-384 or P-521.",
            label(i, c)
        ),
        Some(&c.sha256),
    ));
}

fn order(chain: &Chain<'_>, out: &mut Vec<Finding>) {
    for (i, link) in chain.issued_by_next.iter().enumerate() {
        let (Some(false), Some(child), Some(next)) =
            (link, chain.certs.get(i), chain.certs.get(i + 1))
        else {
            continue;
        };
        out.push(finding(
            Code::CertChainOrder,
            format!(
                "{} is not issued by {}: its issuer is {}, the next certificate's subject is {}.",
                label(i, child),
                label(i + 1, next),
                child.issuer,
                next.subject
            ),
            Some(&child.sha256),
        ));
    }
}

fn custom_domain(certs: &[Certificate], out: &mut Vec<Finding>) {
    let Some(leaf) = certs.first() else {
        return;
    };
    let names = leaf.dns_names();
    if names.len() > CUSTOM_DOMAIN_MAX_NAMES {
        out.push(finding(
            Code::SecCustomDomainTooManyNames,
            format!(
                "The server certificate has {} domain names ({}); a custom domain allows at most {CUSTOM_DOMAIN_MAX_NAMES}.",
                names.len(),
                names.join(", ")
            ),
            Some(&leaf.sha256),
        ));
    }
    if !leaf.extended_key_usage.iter().any(|u| u == "serverAuth") {
        let has = if leaf.extended_key_usage.is_empty() {
            "no extended key usage".to_string()
        } else {
            format!("extended key usage {}", leaf.extended_key_usage.join(", "))
        };
        out.push(finding(
            Code::SecCustomDomainCert,
            format!("The server certificate has {has}, without serverAuth."),
            Some(&leaf.sha256),
        ));
    }
    if certs.len() > CUSTOM_DOMAIN_MAX_DEPTH {
        out.push(finding(
            Code::SecCustomDomainCert,
            format!(
                "The chain holds {} certificates; a custom domain allows at most {CUSTOM_DOMAIN_MAX_DEPTH}.",
                certs.len()
            ),
            Some(&leaf.sha256),
        ));
    }
    let bytes: usize = certs.iter().map(|c| c.der_len).sum();
    if bytes > CUSTOM_DOMAIN_MAX_BYTES {
        out.push(finding(
            Code::SecCustomDomainCert,
            format!(
                "The chain is {bytes} bytes of DER; a custom domain allows at most {CUSTOM_DOMAIN_MAX_BYTES}."
            ),
            Some(&leaf.sha256),
        ));
    }
}

/// `CERT.KEY_MISMATCH` when the certificate (`der`) holds another public key than
/// `public_key` (the raw key bits of the key file named `key_file`). The key bits are compared
/// rather than the whole SubjectPublicKeyInfo, whose algorithm parameters may be encoded in
/// more than one way for the same key.
pub fn key_mismatch(
    key_file: &str,
    public_key: &[u8],
    cert: &Certificate,
    der: &[u8],
) -> Option<Finding> {
    let (_, x509) = X509Certificate::from_der(der).ok()?;
    if x509.public_key().subject_public_key.data.as_ref() == public_key {
        return None;
    }
    Some(finding(
        Code::CertKeyMismatch,
        format!(
            "The key in {key_file} is not the key of {}: the public keys differ.",
            label(0, cert)
        ),
        Some(&cert.sha256),
    ))
}

/// A CA file (`ca_file` names it, `cas` its certificates with their DER) against a chain:
/// its certificates must be CAs, and one of them must have issued a certificate of the chain
/// (or be one of them).
pub fn ca_file(
    ca_file: &str,
    cas: &[(Certificate, Vec<u8>)],
    chain: &[Certificate],
    ders: &[&[u8]],
) -> Vec<Finding> {
    let leaf_id = chain.first().map(|c| c.sha256.as_str());
    let mut out = not_cas(ca_file, cas, leaf_id);
    let anchored = chain.iter().zip(ders).any(|(c, der)| {
        cas.iter()
            .any(|(ca, ca_der)| ca.sha256 == c.sha256 || (ca.is_ca && issued_by(der, ca_der)))
    });
    if !anchored {
        out.push(finding(
            Code::CertCaFile,
            format!(
                "No certificate in the CA file {ca_file} issued the chain (names and signatures checked)."
            ),
            leaf_id,
        ));
    }
    out
}

/// A finding for each certificate of a CA file that is not a CA.
pub fn not_cas(
    ca_file: &str,
    cas: &[(Certificate, Vec<u8>)],
    leaf_id: Option<&str>,
) -> Vec<Finding> {
    cas.iter()
        .enumerate()
        .filter(|(_, (ca, _))| !ca.is_ca)
        .map(|(i, (ca, _))| {
            finding(
                Code::CertCaFile,
                format!(
                    "{} in the CA file {ca_file} is not a CA (no basic constraints CA:TRUE).",
                    label(i, ca)
                ),
                leaf_id,
            )
        })
        .collect()
}

fn issued_by(child: &[u8], issuer: &[u8]) -> bool {
    read_chain(&[child, issuer])
        .issued_by_next
        .first()
        .copied()
        .flatten()
        == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(key_type: &str, bits: Option<u32>, curve: Option<&str>) -> Certificate {
        Certificate {
            key_type: key_type.into(),
            key_bits: bits,
            curve: curve.map(String::from),
            ..Certificate::default()
        }
    }

    #[test]
    fn accepted_keys_are_the_ones_aws_iot_lists() {
        assert!(key_accepted(&cert("RSA", Some(2048), None)));
        assert!(!key_accepted(&cert("RSA", Some(1024), None)));
        assert!(key_accepted(&cert("EC", Some(521), Some("P-521"))));
        assert!(!key_accepted(&cert("EC", Some(256), Some("secp256k1"))));
        assert!(!key_accepted(&cert("Ed25519", Some(256), None)));
    }
}

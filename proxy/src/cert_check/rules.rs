//! The checks `cert check` makes on one file's certificates, each problem as a finding from
//! the diagnosis catalogue.

use iotscope_decoder::cert::Certificate;
use iotscope_decoder::diagnose::catalogue::Values;
use iotscope_decoder::diagnose::Code;
use iotscope_decoder::diagnose::Finding;

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

//! Certificates as the trace keeps them: a summary of each one (x509-parser), the links of
//! a presented chain, and the root it leads to (webpki-roots).
//!
//! Everything here takes bytes from the wire or from a user's file and never panics: a
//! certificate that does not parse still gets its length and digests, so the user can look
//! it up (`aws iot describe-certificate --certificate-id <sha256>`), and `parse_error` says
//! what was wrong.

mod bundle;
mod cache;
mod chain;
mod identity;
mod names;
mod roots;
mod summary;

use serde::Serialize;

pub use bundle::summarize_pem_or_der;
pub use cache::ChainSummary;
pub use identity::{identity, AltNames, CertIdentity};
pub use names::name_to_string;
pub use roots::known_root_name;

/// What the trace keeps of one X.509 certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Certificate {
    /// RFC 4514 style, most specific last as OpenSSL prints it: `C=US, O=Test Amazon, CN=…`.
    pub subject: String,
    pub issuer: String,
    /// The subject's common name, when there is one (the last, most specific, if several).
    pub common_name: Option<String>,
    /// Colon-separated hex, as Suricata prints it (`00:C7:D4:…`): the DER integer's bytes,
    /// including the leading zero that keeps a serial with its top bit set positive.
    pub serial: String,
    /// UTC, `2018-04-14T20:55:27`, like Suricata's `notbefore` / `notafter`.
    pub not_before: String,
    pub not_after: String,
    /// Unix seconds, for comparisons.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub san_dns: Vec<String>,
    pub san_ip: Vec<String>,
    /// `RSA`, `RSA-PSS`, `EC`, `Ed25519`, `Ed448`, `DSA` or the algorithm OID.
    pub key_type: String,
    /// Key size in bits (RSA modulus, EC field size, EdDSA public key length).
    pub key_bits: Option<u32>,
    /// Named curve for EC keys: `P-256`, `P-384`, `P-521`, …
    pub curve: Option<String>,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, … or the OID.
    pub signature_algorithm: String,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    /// `digitalSignature`, `keyEncipherment`, `keyCertSign`, … in RFC 5280 bit order.
    pub key_usage: Vec<String>,
    /// `serverAuth`, `clientAuth`, …, then any other purpose as its OID.
    pub extended_key_usage: Vec<String>,
    /// SHA-256 of the DER, lower-case hex: the certificate ID AWS IoT uses.
    pub sha256: String,
    /// SHA-1 of the DER, colon-separated lower-case hex (Suricata's `fingerprint`).
    pub sha1: String,
    pub der_len: usize,
    /// Set when the DER could not be parsed; the other fields are then empty.
    pub parse_error: Option<String>,
    /// X.509 version: 1, 2 or 3 (0 when unparsed).
    pub version: u32,
    /// SAN URIs (SPIFFE-style device identities) and e-mail addresses.
    pub san_uri: Vec<String>,
    pub san_email: Vec<String>,
    /// Subject and authority key identifiers, lower-case hex. A certificate whose authority
    /// key id differs from its issuer's subject key id was signed by another key of the same
    /// name, e.g. a device CA that was re-created.
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
}

impl Certificate {
    fn parsed(&self) -> bool {
        self.parse_error.is_none()
    }

    /// Is the certificate within its validity period at `unix_secs` (bounds included, as
    /// RFC 5280 §4.1.2.5 says)? An unparsed certificate is never valid.
    pub fn valid_at(&self, unix_secs: i64) -> bool {
        self.parsed() && self.not_before_unix <= unix_secs && unix_secs <= self.not_after_unix
    }

    /// Does the certificate cover `host`, the name the client connects to? DNS names match
    /// SAN dNSNames (one left-most `*` label may stand for one label); the common name is
    /// used only when the certificate has no dNSName at all (RFC 6125 §6.4.4). IP literals
    /// match SAN iPAddresses only.
    pub fn covers_name(&self, host: &str) -> bool {
        if !self.parsed() {
            return false;
        }
        if let Some(ip) = names::parse_ip_literal(host) {
            return self
                .san_ip
                .iter()
                .any(|s| names::parse_ip_literal(s) == Some(ip));
        }
        if self.san_dns.is_empty() {
            return self
                .common_name
                .as_deref()
                .is_some_and(|cn| names::dns_name_matches(cn, host));
        }
        self.san_dns
            .iter()
            .any(|pattern| names::dns_name_matches(pattern, host))
    }

    /// Subject and issuer are the same name: a root, or a device certificate made without
    /// a CA.
    pub fn is_self_signed(&self) -> bool {
        self.parsed() && !self.subject.is_empty() && self.subject == self.issuer
    }

    /// Every DNS name the certificate is for: SAN dNSNames, then the common name, each once
    /// (compared without case).
    pub fn dns_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in self.san_dns.iter().chain(self.common_name.iter()) {
            if !out.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                out.push(name.clone());
            }
        }
        out
    }
}

/// A chain's summaries, shared: the cache, every connection's trace and the MITM device leg
/// that present the same chain hold one copy (about 1 KiB a chain) rather than one each.
pub type Chain = std::sync::Arc<[Certificate]>;

/// Summarises one DER certificate. Never fails: a certificate that does not parse gives a
/// summary with `parse_error` set and its hashes filled in.
pub fn summarize(der: &[u8]) -> Certificate {
    summary::parse(der).0
}

/// A Certificate message's chain read: each certificate summarised, the chain's links
/// checked, and the root it leads to named. An empty chain is a client without a
/// certificate. A chain seen recently is taken from a bounded cache instead of being read
/// again. (The event that carries it is made by the event module, which knows certificates;
/// this module does not know events.)
pub fn read_chain(chain: &[&[u8]]) -> ChainSummary {
    cache::summary(chain, || summarize_chain(chain))
}

fn summarize_chain(chain: &[&[u8]]) -> cache::ChainSummary {
    let (summaries, parsed): (Vec<_>, Vec<_>) = chain.iter().map(|d| summary::parse(d)).unzip();
    let issued_by_next = chain::links(&parsed);
    let (root, root_known) = chain::root(parsed.last().and_then(Option::as_ref));
    cache::ChainSummary {
        chain: summaries.into(),
        issued_by_next,
        root,
        root_known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    const LEAF: &[u8] = include_bytes!("../../tests/data/certs/cap_github_leaf.der");
    const CA: &[u8] = include_bytes!("../../tests/data/certs/cap_github_ca.der");

    /// The second time a chain is met it comes from the cache; it must say exactly what a
    /// fresh reading says.
    #[test]
    fn a_cached_chain_reads_as_a_fresh_one() {
        let fresh = summarize_chain(&[LEAF, CA]);
        assert_eq!(fresh.issued_by_next, [Some(true), None]);
        for _ in 0..2 {
            let EventKind::Certificate(c) = EventKind::from(read_chain(&[LEAF, CA])) else {
                panic!("not a certificate event");
            };
            assert_eq!(*c, fresh);
        }
    }
}

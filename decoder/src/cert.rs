//! Certificate summaries (x509-parser) and chain checks.
//!
//! Placeholder: filled in by the certificate work.

use serde::Serialize;

/// What the trace keeps of one X.509 certificate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Certificate {
    /// RFC 4514 style, most specific last as OpenSSL prints it: `C=US, O=Test Amazon, CN=…`.
    pub subject: String,
    pub issuer: String,
    /// The subject's common name, when there is one.
    pub common_name: Option<String>,
    /// Colon-separated hex, as Suricata prints it (`00:C7:D4:…`).
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// Unix seconds, for comparisons.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub san_dns: Vec<String>,
    pub san_ip: Vec<String>,
    /// `RSA`, `EC`, `Ed25519`, `DSA` or the algorithm OID.
    pub key_type: String,
    /// Key size in bits (RSA modulus, EC field size).
    pub key_bits: Option<u32>,
    /// Named curve for EC keys: `P-256`, `P-384`, `P-521`, …
    pub curve: Option<String>,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, … or the OID.
    pub signature_algorithm: String,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    /// SHA-256 of the DER, lower-case hex: the certificate ID AWS IoT uses.
    pub sha256: String,
    /// SHA-1 of the DER, colon-separated lower-case hex (Suricata's `fingerprint`).
    pub sha1: String,
    pub der_len: usize,
    /// Set when the DER could not be parsed; the other fields are then empty.
    pub parse_error: Option<String>,
}

/// Summarises one DER certificate. Never fails: a certificate that does not parse gives a
/// summary with `parse_error` set and its hashes filled in.
pub fn summarize(der: &[u8]) -> Certificate {
    Certificate {
        subject: String::new(),
        issuer: String::new(),
        common_name: None,
        serial: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        not_before_unix: 0,
        not_after_unix: 0,
        san_dns: Vec::new(),
        san_ip: Vec::new(),
        key_type: String::new(),
        key_bits: None,
        curve: None,
        signature_algorithm: String::new(),
        is_ca: false,
        path_len: None,
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        sha256: String::new(),
        sha1: String::new(),
        der_len: der.len(),
        parse_error: Some("not implemented yet".into()),
    }
}

/// The event for a Certificate message: each certificate summarised, the chain's links
/// checked, and the root it leads to named. An empty chain is a client without a certificate.
pub fn certificate_event(chain: &[&[u8]]) -> crate::event::EventKind {
    crate::event::EventKind::Certificate {
        chain: chain.iter().map(|d| summarize(d)).collect(),
        issued_by_next: vec![None; chain.len()],
        root: None,
        root_known: false,
    }
}

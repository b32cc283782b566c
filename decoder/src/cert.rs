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

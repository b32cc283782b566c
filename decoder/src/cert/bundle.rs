//! Certificate files as users hand them over: PEM bundles (`-----BEGIN CERTIFICATE-----`,
//! the form AWS IoT and most SDKs use), a single DER file, or DER certificates written one
//! after another.

use x509_parser::pem::Pem;

use super::{names, summarize, Certificate};

/// Summarises every certificate in `bytes`, each with its DER. PEM blocks with another label
/// (keys, CSRs) are skipped; a block that cannot be read (broken base64, no END line)
/// becomes an entry with empty DER, empty digests and `parse_error` naming the block. Input
/// that is not PEM is read as DER: one certificate, or several back to back.
pub fn summarize_pem_or_der(bytes: &[u8]) -> Vec<(Certificate, Vec<u8>)> {
    if looks_like_pem(bytes) {
        return from_pem(bytes);
    }
    split_der(bytes)
        .into_iter()
        .map(|der| (summarize(der), der.to_vec()))
        .collect()
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn from_pem(bytes: &[u8]) -> Vec<(Certificate, Vec<u8>)> {
    let mut out = Vec::new();
    for (index, block) in Pem::iter_from_buffer(bytes).enumerate() {
        let number = index + 1;
        match block {
            Ok(pem) if is_certificate_label(&pem.label) => {
                let summary = summarize(&pem.contents);
                out.push((summary, pem.contents));
            }
            Ok(_) => {}
            Err(e) => {
                let summary = Certificate {
                    parse_error: Some(format!("PEM block {number}: {e}")),
                    ..Certificate::default()
                };
                out.push((summary, Vec::new()));
            }
        }
    }
    out
}

fn is_certificate_label(label: &str) -> bool {
    matches!(label, "CERTIFICATE" | "X509 CERTIFICATE")
}

/// Splits DER certificates written back to back. Anything that does not divide cleanly into
/// top-level SEQUENCEs is returned whole, so the summary reports why it does not parse.
fn split_der(bytes: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match names::der_sequence_body(rest) {
            Some((_, after)) => {
                let len = rest.len() - after.len();
                parts.push(&rest[..len]);
                rest = after;
            }
            None => return vec![bytes],
        }
    }
    if parts.is_empty() {
        parts.push(bytes);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_splits_only_on_clean_sequences() {
        let two = [0x30, 0x01, 0xaa, 0x30, 0x00];
        assert_eq!(split_der(&two), vec![&two[..3], &two[3..]]);
        let ragged = [0x30, 0x01, 0xaa, 0x04];
        assert_eq!(split_der(&ragged), vec![&ragged[..]]);
        let empty: &[u8] = &[];
        assert_eq!(split_der(empty), vec![empty]);
    }

    #[test]
    fn broken_pem_block_is_reported_and_others_skipped() {
        let text = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        let out = summarize_pem_or_der(text);
        assert_eq!(out.len(), 1);
        let (summary, der) = &out[0];
        assert!(der.is_empty());
        let err = summary.parse_error.as_deref().unwrap_or_default();
        assert!(err.starts_with("PEM block 2:"), "{err}");
        assert_eq!(summary.sha256, "");
    }
}

//! Which roots a device is likely to trust: the Mozilla set that webpki-roots compiles in.
//!
//! AWS IoT's ATS chains end at Amazon Root CA 1–4, cross-signed by Starfield Services Root
//! Certificate Authority - G2; all five are in that set. A lab PKI that copies the look of
//! those names ("Test Amazon Root CA 1", `O=Test Amazon`) has different DER and is not
//! recognised, which is the point: only the exact name a real client would chain to counts.

use x509_parser::prelude::{FromDer, X509Name};

use super::names;

/// The name to show for a known root whose DER subject is `issuer_der_name`. The name may
/// come with or without its outer SEQUENCE header (certificates carry it, trust anchors do
/// not). Gives the root's common name, or its most specific attribute when it has no CN
/// (e.g. `Starfield Class 2 Certification Authority`, an OU).
pub fn known_root_name(issuer_der_name: &[u8]) -> Option<String> {
    let wanted = names::name_contents(issuer_der_name);
    if wanted.is_empty() {
        return None;
    }
    let anchor = webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .find(|a| a.subject.as_ref() == wanted)?;
    Some(anchor_label(anchor.subject.as_ref()))
}

/// Trust anchors store the Name's contents; put the SEQUENCE header back to parse it.
fn anchor_label(contents: &[u8]) -> String {
    let mut der = Vec::with_capacity(contents.len() + 4);
    der.push(0x30);
    let len = contents.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        der.push(0x80 | (bytes.len() - skip) as u8);
        der.extend_from_slice(&bytes[skip..]);
    }
    der.extend_from_slice(contents);
    match X509Name::from_der(&der) {
        Ok((_, name)) => names::display_label(&name),
        Err(_) => crate::hex::encode(contents),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_and_starfield_roots_are_known_by_name() {
        let mut found: Vec<String> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .filter_map(|a| known_root_name(a.subject.as_ref()))
            .filter(|n| n.starts_with("Amazon Root") || n.starts_with("Starfield"))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "Amazon Root CA 1",
                "Amazon Root CA 2",
                "Amazon Root CA 3",
                "Amazon Root CA 4",
                "Starfield Root Certificate Authority - G2",
                "Starfield Services Root Certificate Authority - G2",
            ]
        );
    }

    #[test]
    fn every_root_has_a_readable_label() {
        let labels: Vec<String> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|a| known_root_name(a.subject.as_ref()).unwrap_or_default())
            .collect();
        assert!(labels.len() > 100);
        assert!(
            labels.iter().all(|l| !l.is_empty() && !l.contains('=')),
            "{labels:?}"
        );
        // A root without a CN is named by its most specific attribute, here an OU.
        assert!(labels.iter().any(|l| l == "Security Communication RootCA2"));
    }

    #[test]
    fn garbage_and_empty_names_are_not_roots() {
        assert_eq!(known_root_name(&[]), None);
        assert_eq!(known_root_name(&[0x30, 0x00]), None);
        assert_eq!(known_root_name(b"\x31\x00"), None);
    }
}

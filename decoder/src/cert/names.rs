//! Distinguished names as people read them, and host names as certificates match them.
//!
//! Names print in DER order with OpenSSL's short attribute names and `, ` between RDNs
//! (`C=US, O=Amazon, CN=Amazon Root CA 1`). That is also what Suricata's eve `tls.subject`
//! and `tls.issuerdn` show, so a user can grep both outputs for the same string. Values are
//! not RFC 4514-escaped (Suricata does not escape `O=GitHub, Inc.` either); only control
//! characters are, so a hostile name cannot drive the terminal.

use std::net::IpAddr;

use x509_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, X509Name};
use x509_parser::x509::AttributeTypeAndValue;

/// OpenSSL's short names for the attribute types that appear in real certificates.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "street"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "title"),
    ("2.5.4.15", "businessCategory"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.42", "GN"),
    ("2.5.4.43", "initials"),
    ("2.5.4.44", "generationQualifier"),
    ("2.5.4.46", "dnQualifier"),
    ("2.5.4.65", "pseudonym"),
    ("2.5.4.97", "organizationIdentifier"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"),
    ("1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"),
];

const OID_COMMON_NAME: &str = "2.5.4.3";

/// Formats a parsed name: `C=US, O=Test Amazon, CN=Test Amazon Root CA 1`. Attributes of a
/// multi-valued RDN are joined with ` + `.
pub fn format_name(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter_rdn().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push_str(" + ");
            }
            out.push_str(&attribute_type_name(attr));
            out.push('=');
            out.push_str(&attribute_value(attr));
        }
    }
    out
}

/// Formats a DER `Name` (with its outer SEQUENCE, as in a certificate or a TLS 1.2
/// CertificateRequest). `None` when the bytes are not a Name.
pub fn name_to_string(name_der: &[u8]) -> Option<String> {
    let (_, name) = X509Name::from_der(name_der).ok()?;
    Some(format_name(&name))
}

/// The last common name of a name: in DER order the most specific one comes last.
pub fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == OID_COMMON_NAME)
        .last()
        .map(attribute_value)
}

/// The value to show for a DER name that is known only as bytes: its common name, else its
/// most specific attribute, else the whole name.
pub fn display_label(name: &X509Name<'_>) -> String {
    if let Some(cn) = common_name(name) {
        return cn;
    }
    match name.iter_attributes().last() {
        Some(attr) => attribute_value(attr),
        None => format_name(name),
    }
}

pub(super) fn attribute_type_name(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    ATTRIBUTE_NAMES
        .iter()
        .find(|(id, _)| *id == oid)
        .map(|(_, short)| (*short).to_string())
        .unwrap_or(oid)
}

/// Decodes an attribute value whatever string type the issuer chose. Values that are not
/// strings print as upper-case hex, as x509-parser (and so Suricata) prints them.
pub(super) fn attribute_value(attr: &AttributeTypeAndValue<'_>) -> String {
    let value = attr.attr_value();
    let data = value.data;
    let text = match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString
        | Tag::GeneralString
        | Tag::GraphicString
        | Tag::VideotexString
        | Tag::ObjectDescriptor => String::from_utf8_lossy(data).into_owned(),
        // T.61 in practice carries Latin-1 from old CAs; accept UTF-8 first since some
        // issuers put UTF-8 bytes there anyway.
        Tag::T61String => match std::str::from_utf8(data) {
            Ok(s) => s.to_string(),
            Err(_) => data.iter().map(|&b| b as char).collect(),
        },
        Tag::BmpString => {
            let units = data
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Tag::UniversalString => data
            .chunks_exact(4)
            .map(|q| {
                char::from_u32(u32::from_be_bytes([q[0], q[1], q[2], q[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => crate::hex::encode(data).to_ascii_uppercase(),
    };
    escape_controls(&text)
}

fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a DER `Name` into the contents of its outer SEQUENCE. Trust anchors carry their
/// subject without that header, certificates with it; comparing contents covers both.
pub fn name_contents(name_der: &[u8]) -> &[u8] {
    match der_sequence_body(name_der) {
        Some((body, [])) => body,
        _ => name_der,
    }
}

/// Reads one DER SEQUENCE header: returns (contents, bytes after the SEQUENCE).
pub fn der_sequence_body(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        // Four length bytes already describe 4 GiB; more is never a real certificate.
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Names are the same when their DER is, or when they print the same ignoring case and
/// runs of spaces: RFC 5280 §7.1 lets a CA re-encode a name (PrintableString in one place,
/// UTF8String in another) and clients still chain on it.
pub fn same_name(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || fold_name(&format_name(a)) == fold_name(&format_name(b))
}

fn fold_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Does a certificate name (a SAN dNSName or a CN) match the host the client asked for?
/// Only a whole left-most `*` label is a wildcard (RFC 6125 §6.4.3 as RFC 9525 narrowed
/// it); it matches exactly one label and never a bare suffix of fewer than two labels.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = normalize_host(pattern);
    let host = normalize_host(host);
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if pattern == host {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    if !suffix.contains('.') || suffix.contains('*') {
        return false;
    }
    match host.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest == suffix,
        None => false,
    }
}

fn normalize_host(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Parses an IP literal the way a client would write it, with or without IPv6 brackets.
pub fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    h.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matches_one_left_label_only() {
        assert!(dns_name_matches(
            "*.iot.us-east-1.amazonaws.com",
            "abc123example-ats.iot.us-east-1.amazonaws.com"
        ));
        assert!(dns_name_matches("*.Example.COM", "www.example.com."));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(!dns_name_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_name_matches("*.*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("", ""));
        assert!(dns_name_matches("device.example.com", "DEVICE.example.com"));
    }

    #[test]
    fn sequence_header_is_stripped_only_when_it_spans_the_input() {
        let name = [0x30, 0x03, 0x31, 0x01, 0x00];
        assert_eq!(name_contents(&name), &[0x31, 0x01, 0x00]);
        assert_eq!(name_contents(&name[2..]), &[0x31, 0x01, 0x00]);
        // Long-form length.
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend(std::iter::repeat_n(0u8, 0x80));
        assert_eq!(name_contents(&long).len(), 0x80);
        // A header promising more than there is leaves the bytes alone.
        assert_eq!(name_contents(&[0x30, 0x05, 0x31]), &[0x30, 0x05, 0x31]);
        assert_eq!(
            der_sequence_body(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(der_sequence_body(&[0x30, 0x85, 0, 0, 0, 0, 1]), None);
    }

    #[test]
    fn ip_literals_parse_with_and_without_brackets() {
        assert_eq!(parse_ip_literal("127.0.0.1"), Some([127, 0, 0, 1].into()));
        assert!(parse_ip_literal("[::1]").is_some());
        assert_eq!(parse_ip_literal("localhost"), None);
    }

    #[test]
    fn name_strings_follow_der_order_and_escape_controls() {
        // SEQUENCE { SET { C=US (PrintableString) }, SET { CN="a\nb" (UTF8String) } }
        let der = [
            0x30, 0x1b, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U',
            b'S', 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, b'a', 0x0a,
            b'b',
        ];
        assert_eq!(name_to_string(&der).as_deref(), Some("C=US, CN=a\\0Ab"));
        // A length that promises more than there is: not a name.
        let mut short = der.to_vec();
        short[1] = 0x1c;
        assert_eq!(name_to_string(&short), None);
    }
}

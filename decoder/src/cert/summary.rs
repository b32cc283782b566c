//! One certificate, read field by field into a [`Certificate`].
//!
//! Field formats follow the tools users already compare against: the serial and validity
//! like Suricata's eve `tls` object, algorithm names like `openssl x509 -text`, usage names
//! like OpenSSL's config keywords (`serverAuth`, `keyCertSign`).

use std::net::{Ipv4Addr, Ipv6Addr};

use aws_lc_rs::digest;
use x509_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, KeyUsage, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::time::ASN1Time;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::names;
use super::Certificate;
use crate::hex;

/// Fills the fields that do not need a parse: length and both digests.
pub(super) fn blank(der: &[u8]) -> Certificate {
    Certificate {
        sha256: hex::encode(digest::digest(&digest::SHA256, der).as_ref()),
        sha1: hex::encode_sep(
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
            ':',
        ),
        der_len: der.len(),
        ..Certificate::default()
    }
}

/// Parses `der`; the parsed form is returned too so chain checks need not parse again.
pub(super) fn parse(der: &[u8]) -> (Certificate, Option<X509Certificate<'_>>) {
    let mut summary = blank(der);
    match X509Certificate::from_der(der) {
        Ok((_, x509)) => {
            fill(&mut summary, &x509);
            (summary, Some(x509))
        }
        Err(e) => {
            summary.parse_error = Some(format!("not an X.509 certificate: {e}"));
            (summary, None)
        }
    }
}

fn fill(c: &mut Certificate, x: &X509Certificate<'_>) {
    c.version = x.version().0.saturating_add(1);
    c.subject = names::format_name(x.subject());
    c.issuer = names::format_name(x.issuer());
    c.common_name = names::common_name(x.subject());
    c.serial = hex::encode_sep(x.raw_serial(), ':').to_ascii_uppercase();

    let validity = x.validity();
    c.not_before = suricata_time(&validity.not_before);
    c.not_after = suricata_time(&validity.not_after);
    c.not_before_unix = validity.not_before.timestamp();
    c.not_after_unix = validity.not_after.timestamp();

    let key = describe_key(x.public_key());
    c.key_type = key.kind;
    c.key_bits = key.bits;
    c.curve = key.curve;
    c.signature_algorithm =
        signature_algorithm_name(&x.signature_algorithm.algorithm.to_id_string());

    // Extensions are read one by one rather than through the `x.basic_constraints()` style
    // accessors: those fail outright on a duplicated extension, and a certificate that
    // carries one is exactly the kind a user needs to see.
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    add_san(c, name);
                }
            }
            ParsedExtension::BasicConstraints(bc) => {
                c.is_ca = bc.ca;
                c.path_len = bc.path_len_constraint;
            }
            ParsedExtension::KeyUsage(ku) => c.key_usage = key_usage_names(ku),
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut list = Vec::new();
                let flags = [
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.time_stamping, "timeStamping"),
                    (eku.ocsp_signing, "OCSPSigning"),
                    (eku.any, "anyExtendedKeyUsage"),
                ];
                list.extend(
                    flags
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, n)| n.to_string()),
                );
                list.extend(eku.other.iter().map(|oid| oid.to_id_string()));
                c.extended_key_usage = list;
            }
            ParsedExtension::SubjectKeyIdentifier(id) => c.subject_key_id = Some(hex::encode(id.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                c.authority_key_id = aki.key_identifier.as_ref().map(|id| hex::encode(id.0));
            }
            _ => {}
        }
    }
}

/// `2018-04-14T20:55:27`: Suricata's `notbefore` / `notafter`, always UTC.
fn suricata_time(t: &ASN1Time) -> String {
    let d = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

fn add_san(c: &mut Certificate, name: &GeneralName<'_>) {
    match name {
        GeneralName::DNSName(dns) => c.san_dns.push(dns.to_string()),
        GeneralName::IPAddress(bytes) => c.san_ip.push(format_ip(bytes)),
        GeneralName::URI(uri) => c.san_uri.push(uri.to_string()),
        GeneralName::RFC822Name(mail) => c.san_email.push(mail.to_string()),
        _ => {}
    }
}

fn format_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        // Not an address a client can connect to; keep the bytes so the oddity shows.
        hex::encode(bytes)
    }
}

fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n.to_string())
    .collect()
}

struct KeyDescription {
    kind: String,
    bits: Option<u32>,
    curve: Option<String>,
}

/// Named curves by OID, with their size in bits as OpenSSL reports it.
const CURVES: &[(&str, &str, u32)] = &[
    ("1.2.840.10045.3.1.7", "P-256", 256),
    ("1.3.132.0.34", "P-384", 384),
    ("1.3.132.0.35", "P-521", 521),
    ("1.3.132.0.33", "P-224", 224),
    ("1.2.840.10045.3.1.1", "P-192", 192),
    ("1.3.132.0.10", "secp256k1", 256),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 512),
];

fn describe_key(spki: &SubjectPublicKeyInfo<'_>) -> KeyDescription {
    let oid = spki.algorithm.algorithm.to_id_string();
    let mut d = KeyDescription {
        kind: oid.clone(),
        bits: None,
        curve: None,
    };
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            d.kind = "RSA".into();
            d.bits = rsa_modulus_bits(spki);
        }
        "1.2.840.113549.1.1.10" => {
            d.kind = "RSA-PSS".into();
            d.bits = rsa_modulus_bits(spki);
        }
        "1.2.840.10045.2.1" => {
            d.kind = "EC".into();
            let params = spki.algorithm.parameters.as_ref();
            let curve_oid = params
                .filter(|p| p.tag() == Tag::Oid)
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            // Explicit curve parameters instead of a name are what CVE-2020-0601 ("curveball")
            // abused; say so rather than print the parameters.
            if params.is_some_and(|p| p.tag() == Tag::Sequence) {
                d.curve = Some("explicit parameters".into());
                d.bits = ec_point_bits(&spki.subject_public_key.data);
                return d;
            }
            match curve_oid
                .as_deref()
                .and_then(|id| CURVES.iter().find(|(c, _, _)| *c == id))
            {
                Some((_, name, bits)) => {
                    d.curve = Some((*name).to_string());
                    d.bits = Some(*bits);
                }
                None => {
                    d.curve = curve_oid;
                    d.bits = ec_point_bits(&spki.subject_public_key.data);
                }
            }
        }
        // EdDSA keys: the size given is the public key's length (32 and 57 bytes).
        "1.3.101.112" => {
            d.kind = "Ed25519".into();
            d.bits = Some(256);
        }
        "1.3.101.113" => {
            d.kind = "Ed448".into();
            d.bits = Some(456);
        }
        "1.2.840.10040.4.1" => {
            d.kind = "DSA".into();
            if let Ok(PublicKey::DSA(y)) = spki.parsed() {
                d.bits = Some(integer_bits(y));
            }
        }
        _ => {}
    }
    d
}

/// RSA-PSS keys hold the same RSAPublicKey as rsaEncryption ones, but x509-parser only
/// decodes the latter, so the key is read directly.
fn rsa_modulus_bits(spki: &SubjectPublicKeyInfo<'_>) -> Option<u32> {
    let (_, rsa) = RSAPublicKey::from_der(&spki.subject_public_key.data).ok()?;
    Some(integer_bits(rsa.modulus))
}

/// Bit length of a big-endian unsigned integer, ignoring the sign padding DER adds.
fn integer_bits(bytes: &[u8]) -> u32 {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    match bytes.get(start..) {
        Some([first, rest @ ..]) => {
            let len = u32::try_from(rest.len()).unwrap_or(u32::MAX / 16);
            len.saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
        _ => 0,
    }
}

/// Size of an unnamed curve's field, from an uncompressed (0x04 || X || Y) point.
fn ec_point_bits(point: &[u8]) -> Option<u32> {
    match point {
        [4, coords @ ..] if !coords.is_empty() && coords.len().is_multiple_of(2) => {
            u32::try_from(coords.len() / 2 * 8).ok()
        }
        _ => None,
    }
}

/// OpenSSL's long names for the signature algorithms certificates use.
const SIGNATURE_ALGORITHMS: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.3.14.3.2.29", "sha1WithRSA"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.3.101.112", "ED25519"),
    ("1.3.101.113", "ED448"),
    ("1.2.840.10040.4.3", "dsa_with_SHA1"),
    ("2.16.840.1.101.3.4.3.1", "dsa_with_SHA224"),
    ("2.16.840.1.101.3.4.3.2", "dsa_with_SHA256"),
];

fn signature_algorithm_name(oid: &str) -> String {
    SIGNATURE_ALGORITHMS
        .iter()
        .find(|(id, _)| *id == oid)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| oid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bits_ignores_sign_padding() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01, 0x00]), 9);
        assert_eq!(integer_bits(&[0x00, 0x00]), 0);
        assert_eq!(integer_bits(&[]), 0);
    }

    #[test]
    fn ec_point_sizes() {
        let mut p256 = vec![4u8];
        p256.extend([1u8; 64]);
        assert_eq!(ec_point_bits(&p256), Some(256));
        assert_eq!(ec_point_bits(&[2, 1, 2, 3]), None);
        assert_eq!(ec_point_bits(&[4]), None);
    }

    #[test]
    fn odd_ip_lengths_stay_visible() {
        assert_eq!(format_ip(&[192, 0, 2, 7]), "192.0.2.7");
        assert_eq!(
            format_ip(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "2001:db8::1"
        );
        assert_eq!(format_ip(&[1, 2, 3]), "010203");
    }
}

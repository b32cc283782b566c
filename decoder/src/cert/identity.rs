//! A certificate's identity fields one by one, as AWS IoT's certificate policy variables
//! (`iot:Certificate.Subject.CommonName`, `…Issuer.Organization`, `…SerialNumber`, the
//! alternative names, the validity) name them. [`super::Certificate`] keeps names as one
//! printed string; a policy needs each attribute with its own value, several when a name
//! repeats one (two OUs).

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::names;

/// The fields of one certificate a policy can name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// Subject attributes in DER order, each with OpenSSL's short name (`CN`, `O`, `OU`…).
    pub subject: Vec<(String, String)>,
    pub issuer: Vec<(String, String)>,
    /// The serial as a decimal number.
    pub serial_decimal: String,
    pub subject_alt: AltNames,
    pub issuer_alt: AltNames,
    /// UTC, `2024-03-26T03:25:40Z`.
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER, lower-case hex: the AWS certificate ID.
    pub certificate_id: String,
}

/// The alternative names of a subject or an issuer, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AltNames {
    pub dns: Vec<String>,
    pub ip: Vec<String>,
    pub email: Vec<String>,
    pub uri: Vec<String>,
    pub directory: Vec<String>,
}

/// Reads the identity fields of a DER certificate; `None` when it does not parse.
pub fn identity(der: &[u8]) -> Option<CertIdentity> {
    let (_, x) = X509Certificate::from_der(der).ok()?;
    let summary = super::summarize(der);
    let mut id = CertIdentity {
        subject: attributes(x.subject()),
        issuer: attributes(x.issuer()),
        serial_decimal: decimal(x.raw_serial()),
        not_before: format!("{}Z", summary.not_before),
        not_after: format!("{}Z", summary.not_after),
        certificate_id: summary.sha256,
        ..CertIdentity::default()
    };
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    add_alt(&mut id.subject_alt, n);
                }
            }
            ParsedExtension::IssuerAlternativeName(ian) => {
                for n in &ian.general_names {
                    add_alt(&mut id.issuer_alt, n);
                }
            }
            _ => {}
        }
    }
    Some(id)
}

fn attributes(name: &X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes()
        .map(|a| (names::attribute_type_name(a), names::attribute_value(a)))
        .collect()
}

fn add_alt(out: &mut AltNames, name: &GeneralName<'_>) {
    match name {
        GeneralName::DNSName(d) => out.dns.push(d.to_string()),
        GeneralName::RFC822Name(m) => out.email.push(m.to_string()),
        GeneralName::URI(u) => out.uri.push(u.to_string()),
        GeneralName::IPAddress(b) => out.ip.push(match b.len() {
            4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string(),
            16 => {
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string()
            }
            _ => crate::hex::encode(b),
        }),
        GeneralName::DirectoryName(n) => out.directory.push(names::format_name(n)),
        _ => {}
    }
}

/// Big-endian unsigned bytes as a decimal string, by repeated division (serials run to 20
/// bytes, more than any machine integer holds).
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if digits.is_empty() {
        return "0".into();
    }
    let mut out = Vec::new();
    while !digits.is_empty() {
        let mut rem = 0u32;
        let mut next = Vec::with_capacity(digits.len());
        for &b in &digits {
            let cur = rem * 256 + u32::from(b);
            let q = (cur / 10) as u8;
            rem = cur % 10;
            if !(next.is_empty() && q == 0) {
                next.push(q);
            }
        }
        out.push(b'0' + rem as u8);
        digits = next;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn serials_print_in_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        // The example serial of AWS's "Using X.509 certificate policy variables" page.
        assert_eq!(
            decimal(&[0x92, 0x12, 0x85, 0xcb, 0xb7, 0xa5, 0xe0, 0x86]),
            u64::from_be_bytes([0x92, 0x12, 0x85, 0xcb, 0xb7, 0xa5, 0xe0, 0x86]).to_string()
        );
    }
}

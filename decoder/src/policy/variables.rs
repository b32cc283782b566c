//! Policy variables and condition keys: their values for one device, and their
//! substitution into policy strings.
//!
//! A value is known, unknown (iotscope was not told: no `--thing`, no `--cert`), or absent
//! (known not to exist: the certificate has no OU). AWS leaves a variable it cannot fill
//! unreplaced, so the pattern no longer matches what it was written for; iotscope does the
//! same by making the statement not match, and says which variable did it.

use super::device::Device;
use super::pattern::{self, Piece, Tok};

/// The value of a variable or condition key for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// One value, or several for a multi-valued key (`….List`).
    Known(Vec<String>),
    /// Not told; the string says what would tell it.
    Unknown(String),
    /// Known not to exist; the string says why.
    Absent(String),
}

/// Certificate name attributes as AWS names them, with OpenSSL's short name for each.
const NAME_ATTRIBUTES: &[(&str, &str)] = &[
    ("CommonName", "CN"),
    ("Organization", "O"),
    ("OrganizationalUnit", "OU"),
    ("Country", "C"),
    ("State", "ST"),
    ("SerialNumber", "serialNumber"),
    ("Title", "title"),
    ("Surname", "SN"),
    ("GivenName", "GN"),
    ("Initials", "initials"),
    ("Pseudonym", "pseudonym"),
    ("GenerationQualifier", "generationQualifier"),
    ("DistinguishedNameQualifier", "dnQualifier"),
];

/// AWS leaves certificate variables unreplaced when their value holds one of these or is
/// longer than 1024 characters, and fills at most 5 values of a list (cert-policy-variables
/// page, "limitations").
const CERT_WILDCARDS: &[char] = &['*', '$', '+', '?', '#'];
const CERT_VALUE_MAX: usize = 1024;
const CERT_LIST_MAX: usize = 5;

/// The value of `name` (a variable without `${}` or a condition key) for `device`. Names
/// compare without case, except a thing attribute's name inside the brackets.
pub fn lookup(device: &Device, name: &str) -> Lookup {
    let lower = name.to_ascii_lowercase();
    let one = |v: &str| Lookup::Known(vec![v.to_string()]);
    match lower.as_str() {
        "iot:clientid" => return one(&device.client_id),
        "aws:sourceip" => {
            return match device.source_ip {
                Some(ip) => one(&ip.to_string()),
                None => Lookup::Unknown("give --source-ip".into()),
            }
        }
        "iot:domain" => {
            return match &device.domain {
                Some(d) => one(d),
                None => Lookup::Unknown("give --endpoint".into()),
            }
        }
        _ => {}
    }
    if let Some(rest) = lower.strip_prefix("iot:connection.thing.") {
        let Some(thing) = &device.thing else {
            return Lookup::Unknown("give --thing".into());
        };
        return match rest {
            "thingname" => one(&thing.name),
            "thingtypename" => match &thing.type_name {
                Some(t) => one(t),
                None => Lookup::Unknown("give --thing-type".into()),
            },
            "isattached" => one(if thing.attached { "true" } else { "false" }),
            _ => match attribute_name(name) {
                Some(attr) => match thing.attributes.iter().find(|(k, _)| k == attr) {
                    Some((_, v)) => one(v),
                    None => Lookup::Unknown(format!("give --thing-attr {attr}=VALUE")),
                },
                None => Lookup::Unknown("iotscope does not know this thing variable".into()),
            },
        };
    }
    if lower == "iot:certificateid" || lower.starts_with("iot:certificate.") {
        let Some(cert) = &device.certificate else {
            return Lookup::Unknown("give --cert".into());
        };
        if lower == "iot:certificateid" {
            return one(&cert.certificate_id);
        }
        return certificate(cert, &name["iot:Certificate.".len()..]);
    }
    Lookup::Unknown("iotscope does not know this variable".into())
}

/// `iot:Connection.Thing.Attributes[color]` gives `color`.
fn attribute_name(name: &str) -> Option<&str> {
    let open = name.find('[')?;
    let inner = name[open + 1..].strip_suffix(']')?;
    name[..open]
        .eq_ignore_ascii_case("iot:Connection.Thing.Attributes")
        .then_some(inner)
}

fn certificate(cert: &crate::cert::CertIdentity, field: &str) -> Lookup {
    let lower = field.to_ascii_lowercase();
    let values: Vec<String> = match lower.as_str() {
        "serialnumber" => vec![cert.serial_decimal.clone()],
        "validity.notbefore" => vec![cert.not_before.clone()],
        "validity.notafter" => vec![cert.not_after.clone()],
        _ => {
            let (whose, rest) = match lower.split_once('.') {
                Some((w, r)) => (w, r),
                None => {
                    return Lookup::Unknown(
                        "iotscope does not know this certificate variable".into(),
                    )
                }
            };
            let (names, alt) = match whose {
                "subject" => (&cert.subject, &cert.subject_alt),
                "issuer" => (&cert.issuer, &cert.issuer_alt),
                _ => {
                    return Lookup::Unknown(
                        "iotscope does not know this certificate variable".into(),
                    )
                }
            };
            // `.1`, `.2` pick one value of a repeated attribute, `.List` takes them all.
            let (rest, pick) = match rest.rsplit_once('.') {
                Some((r, "list")) => (r, Pick::All),
                Some((r, n)) if n.parse::<usize>().is_ok_and(|n| n >= 1) => {
                    (r, Pick::Nth(n.parse().unwrap_or(1)))
                }
                _ => (rest, Pick::First),
            };
            let all: Vec<String> = if let Some(kind) = rest.strip_prefix("alternativename.") {
                match kind {
                    "rfc822name" => alt.email.clone(),
                    "dnsname" => alt.dns.clone(),
                    "directoryname" => alt.directory.clone(),
                    "uniformresourceidentifier" => alt.uri.clone(),
                    "ipaddress" => alt.ip.clone(),
                    _ => {
                        return Lookup::Unknown(
                            "iotscope does not know this certificate variable".into(),
                        )
                    }
                }
            } else {
                let Some((_, short)) = NAME_ATTRIBUTES
                    .iter()
                    .find(|(aws, _)| aws.eq_ignore_ascii_case(rest))
                else {
                    return Lookup::Unknown(
                        "iotscope does not know this certificate variable".into(),
                    );
                };
                names
                    .iter()
                    .filter(|(k, _)| k == short)
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            match pick {
                Pick::All => all.into_iter().take(CERT_LIST_MAX).collect(),
                Pick::First => all.into_iter().take(1).collect(),
                Pick::Nth(n) => all.into_iter().nth(n - 1).into_iter().collect(),
            }
        }
    };
    if values.is_empty() {
        return Lookup::Absent("the certificate has no such attribute".into());
    }
    if values
        .iter()
        .any(|v| v.contains(CERT_WILDCARDS) || v.chars().count() > CERT_VALUE_MAX)
    {
        return Lookup::Absent(
            "the value holds * $ + ? # or is longer than 1024 characters, which AWS does not substitute".into(),
        );
    }
    Lookup::Known(values)
}

enum Pick {
    First,
    Nth(usize),
    All,
}

/// One variable as a statement used it: its value, or why it has none.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VariableUse {
    pub name: String,
    pub value: Option<String>,
    pub note: Option<String>,
}

/// A variable that left a pattern without a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub name: String,
    pub why: String,
    /// Unknown (not told) rather than absent.
    pub unknown: bool,
}

/// Fills the variables of a policy string; their values are literal text (a client id
/// `a*` is not a wildcard). Each variable met goes into `uses`.
pub fn substitute(
    text: &str,
    device: &Device,
    uses: &mut Vec<VariableUse>,
) -> Result<Vec<Tok>, Unresolved> {
    let mut out = Vec::new();
    let mut failed = None;
    for piece in pattern::parse(text) {
        match piece {
            Piece::Lit(c) => out.push(Tok::Lit(c)),
            Piece::Star => out.push(Tok::Star),
            Piece::Quest => out.push(Tok::Quest),
            Piece::Var(name) => {
                let (value, why, unknown) = match lookup(device, &name) {
                    Lookup::Known(v) if v.len() == 1 => (v.into_iter().next(), None, false),
                    Lookup::Known(_) => (
                        None,
                        Some("a list, which a pattern cannot hold".to_string()),
                        false,
                    ),
                    Lookup::Unknown(w) => (None, Some(w), true),
                    Lookup::Absent(w) => (None, Some(w), false),
                };
                record(uses, &name, value.clone(), why.clone());
                match value {
                    Some(v) => out.extend(v.chars().map(Tok::Lit)),
                    None => {
                        failed.get_or_insert(Unresolved {
                            name: name.clone(),
                            why: why.unwrap_or_default(),
                            unknown,
                        });
                    }
                }
            }
        }
    }
    match failed {
        Some(f) => Err(f),
        None => Ok(out),
    }
}

fn record(uses: &mut Vec<VariableUse>, name: &str, value: Option<String>, note: Option<String>) {
    if !uses.iter().any(|u| u.name == name) {
        uses.push(VariableUse {
            name: name.to_string(),
            value,
            note,
        });
    }
}

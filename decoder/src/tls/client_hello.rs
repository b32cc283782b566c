//! Reading a ClientHello body into the trace's [`ClientHello`], with its fingerprints.
//!
//! tls-parser reads the fixed part and each extension's content. The extension list itself is
//! walked here, one extension at a time, so that one extension tls-parser cannot read does
//! not hide the ones after it, and so that each extension keeps its wire id and length.

use crate::malformed::Malformed;
use std::net::IpAddr;

use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_client_hello, TlsExtension,
};

use super::fingerprint::{client_ja4, Ja4Input};
use super::hello::{ClientHello, ClientOffer, Extension, Named, Random, SniForm};
use super::names::{extension_name, is_grease};

/// A ClientHello as read, with what was wrong in parts of it that could be skipped.
pub(super) struct ParsedClientHello {
    pub hello: ClientHello,
    /// Problems in single extensions or trailing bytes; the rest of the hello was read.
    pub problems: Vec<String>,
}

/// One extension as it sits on the wire: its id, its content, and the whole of it (id and
/// length included) for tls-parser.
pub(super) struct RawExtension<'a> {
    pub id: u16,
    pub data: &'a [u8],
    pub whole: &'a [u8],
}

/// Splits an extensions block into its extensions. Stops at the first one that does not fit
/// and says why.
pub(super) fn split_extensions(block: &[u8]) -> (Vec<RawExtension<'_>>, Option<String>) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < block.len() {
        let rest = &block[pos..];
        let [a, b, c, d, ..] = *rest else {
            let problem = format!("{} stray bytes after the last extension", rest.len());
            return (out, Some(problem));
        };
        let id = u16::from_be_bytes([a, b]);
        let len = usize::from(u16::from_be_bytes([c, d]));
        let Some(whole) = rest.get(..4 + len) else {
            let problem = format!(
                "extension {} ({}) claims {} bytes but only {} remain",
                extension_name(id),
                id,
                len,
                rest.len() - 4
            );
            return (out, Some(problem));
        };
        out.push(RawExtension {
            id,
            data: &whole[4..],
            whole,
        });
        pos += 4 + len;
    }
    (out, None)
}

/// Says where a ClientHello body stops making sense, for bodies tls-parser refuses.
fn locate_error(body: &[u8]) -> String {
    let n = body.len();
    if n < 35 {
        return format!("ClientHello body of {n} bytes is shorter than version, random and session id length (35)");
    }
    let sid_len = usize::from(body[34]);
    if sid_len > 32 {
        return format!("ClientHello session id length {sid_len} exceeds 32");
    }
    let mut pos = 35 + sid_len;
    let Some(cs) = body.get(pos..pos + 2) else {
        return format!("ClientHello of {n} bytes ends before its cipher suite list");
    };
    let cs_len = usize::from(u16::from_be_bytes([cs[0], cs[1]]));
    if cs_len % 2 == 1 {
        return format!("ClientHello cipher suite list length {cs_len} is odd");
    }
    pos += 2;
    if pos + cs_len > n {
        return format!(
            "ClientHello cipher suite list claims {cs_len} bytes but only {} remain",
            n - pos
        );
    }
    pos += cs_len;
    let Some(&comp_len) = body.get(pos) else {
        return format!("ClientHello of {n} bytes ends before its compression methods");
    };
    if pos + 1 + usize::from(comp_len) > n {
        return format!(
            "ClientHello compression method list claims {comp_len} bytes but only {} remain",
            n - pos - 1
        );
    }
    "ClientHello body could not be read".to_string()
}

fn sni_form(names: &[String]) -> SniForm {
    match names {
        [] => SniForm::Empty,
        [one] if one.is_empty() => SniForm::Empty,
        [one] => {
            let bare = one.trim_start_matches('[').trim_end_matches(']');
            if bare.parse::<IpAddr>().is_ok() {
                SniForm::IpLiteral
            } else {
                SniForm::HostName
            }
        }
        _ => SniForm::Several,
    }
}

fn note_grease(seen: &mut Vec<u16>, v: u16) {
    if is_grease(v) && !seen.contains(&v) {
        seen.push(v);
    }
}

/// Reads the key_share entries of a ClientHello: a list length, then group and key pairs.
fn key_share_groups(data: &[u8]) -> Result<Vec<u16>, Malformed> {
    let [a, b, rest @ ..] = data else {
        return Err(Malformed::from("key_share is shorter than its list length"));
    };
    let list_len = usize::from(u16::from_be_bytes([*a, *b]));
    let Some(mut list) = rest.get(..list_len) else {
        return Err(Malformed(format!(
            "key_share list claims {list_len} bytes but only {} remain",
            rest.len()
        )));
    };
    let mut groups = Vec::new();
    while !list.is_empty() {
        let [g1, g2, k1, k2, tail @ ..] = list else {
            return Err(Malformed::from("key_share entry is cut short"));
        };
        let key_len = usize::from(u16::from_be_bytes([*k1, *k2]));
        if tail.len() < key_len {
            return Err(Malformed(format!(
                "key_share entry claims a {key_len}-byte key but only {} bytes remain",
                tail.len()
            )));
        }
        groups.push(u16::from_be_bytes([*g1, *g2]));
        list = &tail[key_len..];
    }
    Ok(groups)
}

/// Reads a ClientHello body (the handshake message without its 4-byte header).
pub(super) fn parse_client_hello(
    body: &[u8],
    record_version: u16,
) -> Result<ParsedClientHello, Malformed> {
    let Ok((rest, ch)) = parse_tls_handshake_client_hello(body) else {
        return Err(Malformed(locate_error(body)));
    };
    let mut problems = Vec::new();
    let mut random = [0u8; 32];
    random.copy_from_slice(ch.random.get(..32).unwrap_or(&[0; 32]));
    let mut grease = Vec::new();
    let cipher_ids: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
    for c in &cipher_ids {
        note_grease(&mut grease, *c);
    }
    if ch.ext.is_none() && !rest.is_empty() {
        problems.push(format!(
            "ClientHello extensions block does not fit the {} bytes left after the compression methods",
            rest.len()
        ));
    } else if !rest.is_empty() {
        problems.push(format!(
            "{} bytes after the ClientHello extensions",
            rest.len()
        ));
    }
    let (raw_exts, split_problem) = split_extensions(ch.ext.unwrap_or(&[]));
    problems.extend(split_problem);

    let mut offer = ClientOffer {
        legacy_version: ch.version.0,
        session_id_len: ch.session_id.map_or(0, |s| s.len() as u8),
        cipher_suites: cipher_ids.iter().map(|id| Named::suite(*id)).collect(),
        compression_methods: ch.comp.iter().map(|c| c.0).collect(),
        sni: None,
        sni_names: Vec::new(),
        sni_form: SniForm::Absent,
        alpn: Vec::new(),
        supported_versions: Vec::new(),
        supported_groups: Vec::new(),
        key_share_groups: Vec::new(),
        signature_algorithms: Vec::new(),
        ec_point_formats: Vec::new(),
        max_fragment_length: None,
        session_ticket: false,
        grease: Vec::new(),
        ja4: String::new(),
    };
    let mut extensions = Vec::with_capacity(raw_exts.len());
    let mut first_alpn: Option<Vec<u8>> = None;
    let mut sig_ids: Vec<u16> = Vec::new();

    for ext in &raw_exts {
        note_grease(&mut grease, ext.id);
        extensions.push(Extension {
            id: ext.id,
            len: ext.data.len() as u16,
        });
        if is_grease(ext.id) {
            continue;
        }
        if ext.id == 0x0033 {
            match key_share_groups(ext.data) {
                Ok(groups) => {
                    for g in groups {
                        note_grease(&mut grease, g);
                        offer.key_share_groups.push(Named::group(g));
                    }
                }
                Err(why) => problems.push(why.to_string()),
            }
            continue;
        }
        let parsed = match parse_tls_client_hello_extension(ext.whole) {
            Ok((_, parsed)) => parsed,
            Err(_) => {
                problems.push(format!(
                    "extension {} ({}) of {} bytes could not be read",
                    extension_name(ext.id),
                    ext.id,
                    ext.data.len()
                ));
                if ext.id == 0 {
                    offer.sni_form = SniForm::Empty;
                }
                continue;
            }
        };
        match parsed {
            TlsExtension::SNI(list) => {
                offer.sni_names = list
                    .iter()
                    .filter(|(t, _)| t.0 == 0)
                    .map(|(_, name)| String::from_utf8_lossy(name).into_owned())
                    .collect();
                offer.sni_form = sni_form(&offer.sni_names);
                offer.sni = offer.sni_names.first().filter(|n| !n.is_empty()).cloned();
            }
            TlsExtension::ALPN(list) => {
                first_alpn = list.first().map(|v| v.to_vec());
                offer.alpn = list
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
            }
            TlsExtension::SupportedVersions(list) => {
                offer.supported_versions = list.iter().map(|v| v.0).collect();
                for v in &offer.supported_versions {
                    note_grease(&mut grease, *v);
                }
            }
            TlsExtension::EllipticCurves(list) => {
                for g in &list {
                    note_grease(&mut grease, g.0);
                }
                offer.supported_groups = list.iter().map(|g| Named::group(g.0)).collect();
            }
            TlsExtension::SignatureAlgorithms(list) => {
                sig_ids = list;
                for s in &sig_ids {
                    note_grease(&mut grease, *s);
                }
                offer.signature_algorithms = sig_ids.iter().map(|s| Named::sigscheme(*s)).collect();
            }
            TlsExtension::EcPointFormats(formats) => offer.ec_point_formats = formats.to_vec(),
            TlsExtension::MaxFragmentLength(code) => offer.max_fragment_length = Some(code),
            TlsExtension::SessionTicket(_) => offer.session_ticket = true,
            _ => {}
        }
    }
    offer.grease = grease;

    let ext_ids: Vec<u16> = raw_exts.iter().map(|e| e.id).collect();
    offer.ja4 = client_ja4(&Ja4Input {
        version: offer.highest_version(),
        has_sni: ext_ids.contains(&0),
        ciphers: &cipher_ids,
        extensions: &ext_ids,
        first_alpn: first_alpn.as_deref(),
        signature_algorithms: &sig_ids,
    });
    Ok(ParsedClientHello {
        hello: ClientHello {
            record_version,
            random: Random(random),
            extensions: super::shared::extensions(extensions),
            offer: super::shared::offer(offer),
        },
        problems,
    })
}

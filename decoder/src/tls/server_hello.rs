//! Reading a ServerHello (or HelloRetryRequest) body into the trace's [`ServerHello`].
//!
//! A TLS 1.3 server keeps 0x0303 in legacy_version and names the real version in
//! supported_versions; a HelloRetryRequest is a ServerHello whose random is a fixed value
//! (RFC 8446 §4.1.3). tls-parser's own HelloRetryRequest type is the draft-era one, so the
//! random is checked here.

use crate::malformed::Malformed;
use tls_parser::{
    parse_tls_handshake_server_hello, parse_tls_server_hello_extension, TlsExtension,
};

use super::client_hello::split_extensions;
use super::fingerprint::{ja3s_string, md5_hex};
use super::hello::{Extension, Named, Random, ServerChoice, ServerHello};
use super::names::extension_name;

/// SHA-256 of "HelloRetryRequest": the random of every TLS 1.3 HelloRetryRequest.
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

pub(super) struct ParsedServerHello {
    pub hello: ServerHello,
    pub problems: Vec<String>,
}

fn locate_error(body: &[u8]) -> String {
    let n = body.len();
    if n < 38 {
        return format!("ServerHello body of {n} bytes is shorter than the 38-byte minimum");
    }
    let version = u16::from_be_bytes([body[0], body[1]]);
    if !(0x0300..=0x0303).contains(&version) {
        return format!("ServerHello legacy_version 0x{version:04x} is not SSL 3.0 to TLS 1.2");
    }
    let sid_len = usize::from(body[34]);
    if sid_len > 32 {
        return format!("ServerHello session id length {sid_len} exceeds 32");
    }
    format!("ServerHello of {n} bytes ends before its cipher suite and compression method")
}

/// Reads a ServerHello body (the handshake message without its 4-byte header).
pub(super) fn parse_server_hello(body: &[u8]) -> Result<ParsedServerHello, Malformed> {
    let Ok((rest, sh)) = parse_tls_handshake_server_hello(body) else {
        return Err(Malformed(locate_error(body)));
    };
    let mut problems = Vec::new();
    if sh.ext.is_none() && !rest.is_empty() {
        problems.push(format!(
            "ServerHello extensions block does not fit the {} bytes left after the compression method",
            rest.len()
        ));
    } else if !rest.is_empty() {
        problems.push(format!(
            "{} bytes after the ServerHello extensions",
            rest.len()
        ));
    }
    let mut random = [0u8; 32];
    random.copy_from_slice(sh.random.get(..32).unwrap_or(&[0; 32]));
    let hello_retry_request = random == HRR_RANDOM;
    let (raw_exts, split_problem) = split_extensions(sh.ext.unwrap_or(&[]));
    problems.extend(split_problem);

    let mut version = sh.version.0;
    let mut alpn = None;
    let mut key_share_group = None;
    let mut extensions = Vec::new();
    for ext in &raw_exts {
        extensions.push(Extension {
            id: ext.id,
            len: ext.data.len() as u16,
        });
        // The server's key_share holds one group, followed by its key except in a
        // HelloRetryRequest; only the group is wanted.
        if ext.id == 0x0033 {
            match ext.data {
                [a, b, ..] => {
                    let g = u16::from_be_bytes([*a, *b]);
                    key_share_group = Some(Named::group(g));
                }
                _ => problems.push("ServerHello key_share is shorter than a group".to_string()),
            }
            continue;
        }
        match parse_tls_server_hello_extension(ext.whole) {
            Ok((_, TlsExtension::SupportedVersions(v))) => match v.as_slice() {
                [one] => version = one.0,
                _ => problems.push(format!(
                    "ServerHello supported_versions holds {} versions instead of one",
                    v.len()
                )),
            },
            Ok((_, TlsExtension::ALPN(list))) => {
                if list.len() != 1 {
                    problems.push(format!(
                        "ServerHello ALPN holds {} protocols instead of one",
                        list.len()
                    ));
                }
                alpn = list
                    .first()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
            }
            Ok(_) => {}
            Err(_) => problems.push(format!(
                "ServerHello extension {} ({}) of {} bytes could not be read",
                extension_name(ext.id),
                ext.id,
                ext.data.len()
            )),
        }
    }
    let ext_ids: Vec<u16> = raw_exts.iter().map(|e| e.id).collect();
    let ja3s = ja3s_string(sh.version.0, sh.cipher.0, &ext_ids);
    let choice = ServerChoice {
        legacy_version: sh.version.0,
        version,
        cipher_suite: Named::suite(sh.cipher.0),
        compression_method: sh.compression.0,
        extensions,
        alpn,
        key_share_group,
        hello_retry_request,
        ja3s_hash: md5_hex(&ja3s),
        ja3s,
    };
    let hello = ServerHello {
        random: Random(random),
        choice: super::shared::choice(choice),
    };
    Ok(ParsedServerHello { hello, problems })
}

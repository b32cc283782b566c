//! The header blocks of an HTTP proxy tunnel: the device's CONNECT request and the proxy's
//! answer. Lenient: any line ending, any bytes (read as lossy UTF-8), a bounded number of
//! header lines kept.

use serde::Serialize;

/// Header lines kept per block; the rest are counted.
const MAX_HEADERS: usize = 32;
/// Characters kept of one line.
const MAX_LINE: usize = 256;

/// A device's request to an HTTP proxy: `CONNECT target version`, then headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyRequest {
    pub method: String,
    /// `host:port` as the device asked for it.
    pub target: String,
    pub version: String,
    /// Header lines as `Name: value`; a Proxy-Authorization value is cut to its scheme.
    pub headers: Vec<String>,
    /// Header lines beyond those kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_headers: usize,
    /// The scheme of the request's Proxy-Authorization (`Basic`, `Negotiate` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// False when the request ended (connection closed, limit reached) before its blank line.
    pub complete: bool,
}

/// An HTTP proxy's answer to CONNECT: a status line, then headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyResponse {
    pub version: String,
    /// `None` when the status line has no three-digit code.
    pub status: Option<u16>,
    pub reason: String,
    pub headers: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub more_headers: usize,
    /// The schemes a 407 offers (Proxy-Authenticate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_offered: Vec<String>,
    #[serde(skip)]
    pub content_length: Option<u64>,
    pub complete: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The index just after the blank line that ends a header block, searching from `from`.
pub fn block_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'\n' {
            // "\n\n" or "\n\r\n"
            if b.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

fn lines(block: &[u8]) -> impl Iterator<Item = String> + '_ {
    block
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let text = String::from_utf8_lossy(l);
            let mut s: String = text.chars().take(MAX_LINE).collect();
            s.retain(|c| !c.is_control() || c == '\t');
            s
        })
}

struct Headers {
    kept: Vec<String>,
    more: usize,
}

/// Splits header lines into `(name, value)` and keeps the first [`MAX_HEADERS`] as text.
fn headers(
    lines: impl Iterator<Item = String>,
    mut each: impl FnMut(&str, &str) -> Option<String>,
) -> Headers {
    let mut h = Headers {
        kept: Vec::new(),
        more: 0,
    };
    for line in lines {
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (line.trim(), ""),
        };
        let shown = each(name, value).unwrap_or_else(|| line.clone());
        if h.kept.len() < MAX_HEADERS {
            h.kept.push(shown);
        } else {
            h.more += 1;
        }
    }
    h
}

pub fn parse_request(block: &[u8], complete: bool, reveal: bool) -> ProxyRequest {
    let mut ls = lines(block);
    let first = ls.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or_default().to_string();
    let mut auth = None;
    let h = headers(ls, |name, value| {
        if !name.eq_ignore_ascii_case("proxy-authorization") {
            return None;
        }
        let scheme = value.split_whitespace().next().unwrap_or_default();
        auth = Some(scheme.to_string());
        (!reveal).then(|| format!("{name}: {scheme} <redacted>"))
    });
    ProxyRequest {
        method,
        target,
        version,
        headers: h.kept,
        more_headers: h.more,
        auth,
        complete,
    }
}

pub fn parse_response(block: &[u8], complete: bool) -> ProxyResponse {
    let mut ls = lines(block);
    let first = ls.next().unwrap_or_default();
    let mut parts = first.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let code = parts.next().unwrap_or_default();
    let status = (code.len() == 3)
        .then(|| code.parse::<u16>().ok())
        .flatten();
    let reason = parts.next().unwrap_or_default().trim().to_string();
    let mut content_length = None;
    let mut auth_offered = Vec::new();
    let h = headers(ls, |name, value| {
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("proxy-authenticate") {
            if let Some(s) = value.split_whitespace().next() {
                auth_offered.push(s.trim_end_matches(',').to_string());
            }
        }
        None
    });
    ProxyResponse {
        version,
        status,
        reason,
        headers: h.kept,
        more_headers: h.more,
        auth_offered,
        content_length,
        complete,
    }
}

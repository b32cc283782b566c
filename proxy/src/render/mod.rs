//! Renderers: the two forms every command that reports connections speaks.

pub mod json;
pub mod sorted_json;
pub mod text;

use std::borrow::Cow;

/// `TLS 1.2`, `TLS 1.3`, …
pub fn version_name(v: u16) -> Cow<'static, str> {
    iotscope_decoder::tls::names::version_name(v)
}

/// Bytes as text when they are printable UTF-8, else as hex.
pub fn text_or_hex(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(t) if !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => t.to_string(),
        _ => iotscope_decoder::hex::encode(b),
    }
}

//! Lower-case hex, the one encoding the trace uses for raw bytes.

pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    s
}

/// Bytes as text when they are printable UTF-8 (line breaks and tabs count as printable),
/// else as hex. The one rule for every prefix and payload the trace shows.
pub fn text_or_hex(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(t)
            if t.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')) =>
        {
            t.to_string()
        }
        _ => encode(b),
    }
}

/// At most `max` characters of `text`, with `…` when some were left off. Cuts between
/// characters, never inside one.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Hex with a separator between bytes (`00:c7:d4`).
pub fn encode_sep(bytes: &[u8], sep: char) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(sep);
        }
        s.push_str(&encode(&[*b]));
    }
    s
}

/// Parses hex in either case; `None` on an odd length or a non-hex digit.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    t.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_stays_text_and_the_rest_becomes_hex() {
        assert_eq!(
            super::text_or_hex(b"GET / HTTP/1.1\r\n\t"),
            "GET / HTTP/1.1\r\n\t"
        );
        assert_eq!(super::text_or_hex("température".as_bytes()), "température");
        assert_eq!(super::text_or_hex(b"a\0b"), "610062");
        assert_eq!(super::text_or_hex(b"\x1b[31m"), "1b5b33316d");
        assert_eq!(super::text_or_hex(&[0xc3]), "c3");
    }

    #[test]
    fn shortening_cuts_between_characters() {
        assert_eq!(super::shorten("abc", 3), "abc");
        assert_eq!(super::shorten("abcd", 3), "abc…");
        // 'é' is two bytes: a cut by bytes at 3 would fall inside it.
        assert_eq!(super::shorten("aéé", 2), "aé…");
        assert_eq!(super::shorten("", 0), "");
    }

    #[test]
    fn round_trip() {
        assert_eq!(super::encode(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(super::encode_sep(&[0, 0xab], ':'), "00:ab");
        assert_eq!(super::decode("00AbCd"), Some(vec![0, 0xab, 0xcd]));
        assert_eq!(super::decode("0"), None);
        assert_eq!(super::decode("zz"), None);
    }
}

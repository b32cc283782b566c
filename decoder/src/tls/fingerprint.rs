//! TLS fingerprints: JA3 and JA3S (salesforce/ja3) and JA4 for the client (FoxIO, BSD-3).
//!
//! JA3 joins decimal values (`-` inside a field, `,` between fields) and hashes the string with
//! MD5. JA4 is readable in its first part and hashes the sorted cipher list and the sorted
//! extension list plus signature algorithms with SHA-256. Both leave GREASE values out.
//! JA4S and the other JA4+ methods are under a non-commercial licence and are not computed.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use aws_lc_rs::digest;
use md5::{Digest, Md5};

use super::names::is_grease;
use super::seen_once::SeenOnce;
use crate::hex;

/// Appends `values` in decimal joined by `-`, GREASE values left out when asked.
fn push_dash_joined<T: Copy + Into<u32>>(out: &mut String, values: &[T], skip_grease: bool) {
    let mut first = true;
    for v in values.iter().map(|v| (*v).into()) {
        if skip_grease && u16::try_from(v).is_ok_and(is_grease) {
            continue;
        }
        if !first {
            out.push('-');
        }
        first = false;
        push_decimal(out, v);
    }
}

fn push_decimal(out: &mut String, v: u32) {
    // A fingerprint joins dozens of numbers; `write!` would cost more than the digits.
    let mut digits = [0u8; 10];
    let mut n = v;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats` of a ClientHello.
pub fn ja3_string(
    version: u16,
    ciphers: &[u16],
    extensions: &[u16],
    groups: &[u16],
    point_formats: &[u8],
) -> String {
    let mut s = String::with_capacity(16 + 6 * (ciphers.len() + extensions.len() + groups.len()));
    push_decimal(&mut s, version.into());
    s.push(',');
    push_dash_joined(&mut s, ciphers, true);
    s.push(',');
    push_dash_joined(&mut s, extensions, true);
    s.push(',');
    push_dash_joined(&mut s, groups, true);
    s.push(',');
    push_dash_joined(&mut s, point_formats, false);
    s
}

/// `SSLVersion,Cipher,Extensions` of a ServerHello.
pub fn ja3s_string(version: u16, cipher: u16, extensions: &[u16]) -> String {
    let mut s = String::with_capacity(16 + 6 * extensions.len());
    push_decimal(&mut s, version.into());
    s.push(',');
    push_decimal(&mut s, cipher.into());
    s.push(',');
    push_dash_joined(&mut s, extensions, true);
    s
}

/// Lower-case hex MD5, the JA3 hash.
pub fn md5_hex(text: &str) -> String {
    remembered(&MD5_SEEN, text, |t| hex::encode(&Md5::digest(t.as_bytes())))
}

/// The first 12 hex digits of SHA-256, or twelve zeros for an empty list (JA4's rule, so that
/// "nothing" is visible as such).
fn sha256_12(text: &str) -> String {
    if text.is_empty() {
        return "000000000000".to_string();
    }
    let d = digest::digest(&digest::SHA256, text.as_bytes());
    hex::encode(d.as_ref().get(..6).unwrap_or_default())
}

/// JA3S hashes met before, by their string: endpoints answer with few distinct ServerHellos,
/// and a table lookup costs far less than MD5. Bounded: when full it is emptied and fills
/// again.
type Seen = LazyLock<Mutex<HashMap<Box<str>, Box<str>>>>;

static MD5_SEEN: Seen = LazyLock::new(Default::default);

/// Strings remembered per table at most.
const SEEN_MAX: usize = 1024;

fn remembered(seen: &Seen, text: &str, digest: impl FnOnce(&str) -> String) -> String {
    if let Some(hit) = seen
        .lock()
        .ok()
        .and_then(|m| m.get(text).map(|d| d.to_string()))
    {
        return hit;
    }
    let fresh = digest(text);
    if let Ok(mut m) = seen.lock() {
        if m.len() >= SEEN_MAX {
            m.clear();
        }
        m.insert(text.into(), fresh.as_str().into());
    }
    fresh
}

/// What JA4 reads from a ClientHello.
pub struct Ja4Input<'a> {
    /// The highest non-GREASE supported_versions entry, else the legacy version.
    pub version: u16,
    /// Whether a server_name extension is present (its content does not matter).
    pub has_sni: bool,
    pub ciphers: &'a [u16],
    /// Extension types in wire order.
    pub extensions: &'a [u16],
    /// The first ALPN value, raw.
    pub first_alpn: Option<&'a [u8]>,
    /// Signature algorithms in wire order.
    pub signature_algorithms: &'a [u16],
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 | 0x0200 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value; their hex digits when either end is not
/// ASCII alphanumeric; `00` when there is none.
fn ja4_alpn(alpn: Option<&[u8]>) -> String {
    let Some(v) = alpn else {
        return "00".to_string();
    };
    let (Some(&first), Some(&last)) = (v.first(), v.last()) else {
        return "00".to_string();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        return format!("{}{}", first as char, last as char);
    }
    let h = hex::encode(v);
    let mut out = String::new();
    out.extend(h.chars().next());
    out.extend(h.chars().last());
    out
}

fn hex_list(values: impl Iterator<Item = u16>) -> String {
    let mut s = String::new();
    for v in values {
        if !s.is_empty() {
            s.push(',');
        }
        for shift in [12, 8, 4, 0] {
            s.push(char::from(
                b"0123456789abcdef"[usize::from((v >> shift) & 0xf)],
            ));
        }
    }
    s
}

/// JA4 in its raw form: `a`, the sorted cipher list, and the sorted extensions `_` signature
/// algorithms, before hashing.
pub fn ja4_raw(input: &Ja4Input) -> (String, String, String) {
    let ciphers: Vec<u16> = input
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let extensions: Vec<u16> = input
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let a = format!(
        "t{}{}{:02}{:02}{}",
        ja4_version(input.version),
        if input.has_sni { 'd' } else { 'i' },
        ciphers.len().min(99),
        extensions.len().min(99),
        ja4_alpn(input.first_alpn)
    );
    let mut sorted_ciphers = ciphers;
    sorted_ciphers.sort_unstable();
    let b = hex_list(sorted_ciphers.into_iter());
    let mut sorted_ext: Vec<u16> = extensions
        .into_iter()
        .filter(|e| *e != 0x0000 && *e != 0x0010)
        .collect();
    sorted_ext.sort_unstable();
    let mut c = hex_list(sorted_ext.into_iter());
    let sigs = hex_list(
        input
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s)),
    );
    if !c.is_empty() && !sigs.is_empty() {
        c.push('_');
        c.push_str(&sigs);
    }
    (a, b, c)
}

/// JA4 of hellos met before, by their numbers. Devices of one make send the same hello (but
/// for its random and key shares) again and again; writing its fingerprint strings and
/// hashing them cost more than reading the rest of the hello. JA4 sorts the extensions, so
/// the key holds them sorted too, and a client that shuffles its extensions still finds its
/// own. A hello is remembered from its second sight on. Bounded: when full it is emptied and
/// fills again.
static HELLOS_SEEN: LazyLock<Mutex<HellosSeen>> = LazyLock::new(Default::default);

/// The JA4s held, by the hello's numbers, and the hellos seen once.
type HellosSeen = (HashMap<Vec<u16>, String>, SeenOnce);

/// [`ja4`] of one ClientHello, from the table of those met before when it can be.
pub fn client_ja4(j: &Ja4Input) -> String {
    let mut extensions = j.extensions.to_vec();
    extensions.sort_unstable();
    // Each list with its length before it, so that no two hellos give the same key.
    let alpn = j
        .first_alpn
        .map(|a| a.iter().map(|b| u16::from(*b)).collect::<Vec<_>>());
    let mut key = vec![j.version, u16::from(j.has_sni)];
    let lists: [&[u16]; 3] = [j.ciphers, &extensions, j.signature_algorithms];
    for list in lists.into_iter().chain(alpn.as_deref()) {
        key.push(list.len() as u16);
        key.extend_from_slice(list);
    }
    key.push(u16::from(alpn.is_some()));
    if let Some(hit) = HELLOS_SEEN.lock().ok().and_then(|m| m.0.get(&key).cloned()) {
        return hit;
    }
    let fresh = ja4(j);
    if let Ok(mut m) = HELLOS_SEEN.lock() {
        let (held, once) = &mut *m;
        if once.again(&key) {
            if held.len() >= SEEN_MAX {
                held.clear();
            }
            held.insert(key, fresh.clone());
        }
    }
    fresh
}

/// JA4, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(input: &Ja4Input) -> String {
    let (mut a, b, c) = ja4_raw(input);
    a.push('_');
    a.push_str(&sha256_12(&b));
    a.push('_');
    a.push_str(&sha256_12(&c));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ja3_readme_example() {
        let s = ja3_string(
            769,
            &[47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
            &[0, 10, 11],
            &[23, 24, 25],
            &[0],
        );
        assert_eq!(
            s,
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(md5_hex(&s), "ada70206e40642a3e4461f35503241d5");
    }

    #[test]
    fn ja3_drops_grease_and_keeps_empty_fields() {
        let s = ja3_string(771, &[0x0a0a, 4865], &[0x1a1a, 0, 43], &[0x2a2a, 29], &[]);
        assert_eq!(s, "771,4865,0-43,29,");
    }

    #[test]
    fn ja3s_example_from_arkime() {
        let s = ja3s_string(771, 4866, &[51, 43]);
        assert_eq!(s, "771,4866,51-43");
        assert_eq!(md5_hex(&s), "907bf3ecef1c987c889946b737b43de8");
    }

    #[test]
    fn ja4_hashes_match_the_spec_examples() {
        assert_eq!(
            sha256_12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            sha256_12(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            sha256_12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
    }

    #[test]
    fn ja4_spec_example_end_to_end() {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035, 0x3a3a,
        ];
        let extensions = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xbaba,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let input = Ja4Input {
            version: 0x0304,
            has_sni: true,
            ciphers: &ciphers,
            extensions: &extensions,
            first_alpn: Some(b"h2"),
            signature_algorithms: &sigs,
        };
        assert_eq!(ja4(&input), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    /// The remembered JA4 of a hello is the one computed afresh, hellos that differ in any
    /// list, however the numbers fall, do not share it, and a shuffled hello finds its own.
    #[test]
    fn remembered_ja4_is_exact() {
        let input =
            |ciphers: &'static [u16], exts: &'static [u16], alpn: Option<&'static [u8]>| Ja4Input {
                version: 0x0304,
                has_sni: exts.contains(&0),
                ciphers,
                extensions: exts,
                first_alpn: alpn,
                signature_algorithms: &[0x0403],
            };
        let cases = [
            input(&[0x1301, 0x1302], &[0, 43], Some(b"h2")),
            input(&[0x1301, 0x1302], &[43, 0], Some(b"h2")),
            input(&[0x1301], &[0x1302, 0, 43], Some(b"h2")),
            input(&[0x1301, 0x1302], &[0, 43], None),
            input(&[0x1301, 0x1302], &[0, 43], Some(b"mqtt")),
        ];
        let mut seen = Vec::new();
        for round in 0..3 {
            for c in &cases {
                let got = client_ja4(c);
                assert_eq!(got, ja4(c), "round {round}");
                if round == 0 {
                    seen.push(got);
                }
            }
        }
        assert_eq!(
            seen[0], seen[1],
            "the order of the extensions is not part of JA4"
        );
        for (i, a) in seen.iter().enumerate().skip(1) {
            for b in &seen[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn ja4_alpn_rules() {
        assert_eq!(ja4_alpn(None), "00");
        assert_eq!(ja4_alpn(Some(b"")), "00");
        assert_eq!(ja4_alpn(Some(b"h")), "hh");
        assert_eq!(ja4_alpn(Some(b"http/1.1")), "h1");
        assert_eq!(ja4_alpn(Some(b"x-amzn-mqtt-ca")), "xa");
        assert_eq!(ja4_alpn(Some(&[0xab])), "ab");
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), "3b");
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
    }

    #[test]
    fn remembered_digests_match_fresh_ones_and_stay_bounded() {
        for round in 0..2 {
            assert_eq!(
                md5_hex("771,4866,51-43"),
                "907bf3ecef1c987c889946b737b43de8"
            );
            assert_eq!(
                sha256_12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
                "6d807ffa2a79",
                "round {round}"
            );
        }
        for i in 0..SEEN_MAX + 5 {
            md5_hex(&format!("771,{i},0"));
        }
        assert!(MD5_SEEN.lock().unwrap().len() <= SEEN_MAX);
    }

    #[test]
    fn ja4_empty_lists_are_zeros() {
        let input = Ja4Input {
            version: 0x0301,
            has_sni: false,
            ciphers: &[],
            extensions: &[],
            first_alpn: None,
            signature_algorithms: &[],
        };
        assert_eq!(ja4(&input), "t10i000000_000000000000_000000000000");
    }
}

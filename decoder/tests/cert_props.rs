//! Certificates come from the wire and from users' files: no input may panic the decoder,
//! and a certificate that does not parse must still be identifiable by its digests.

use std::path::Path;

use iotscope_decoder::cert::{
    known_root_name, name_to_string, read_chain, summarize, summarize_pem_or_der,
};
use iotscope_decoder::EventKind;
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/certs/{name}.der"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Valid certificates of every key type the fixtures hold, each with its issuer.
const PAIRS: &[(&str, &str)] = &[
    ("cap_mtls_server", "cap_mtls_root"),
    ("ossl_leaf_p256", "ossl_inter_p384"),
    ("ossl_inter_p384", "ossl_root_rsa"),
    ("ossl_p521_leaf", "ossl_p521_ca"),
    ("ossl_rsa1024_leaf", "ossl_rsa1024_ca"),
    ("ossl_ed25519", "ossl_ed25519"),
    ("ossl_rsa_pss", "ossl_rsa_pss"),
    ("ossl_rsa_pss_salt32", "ossl_rsa_pss_salt32"),
    ("cap_infigo_leaf", "cap_infigo_root"),
];

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
}

/// Runs everything the crate offers on one certificate and checks what must always hold.
fn exercise(bytes: &[u8], issuer: &[u8]) {
    let c = summarize(bytes);
    assert_eq!(c.der_len, bytes.len());
    assert_eq!(c.sha256.len(), 64);
    assert_eq!(c.sha1.len(), 59);
    assert!(is_hex(&c.sha256) && is_hex(&c.sha1));
    if c.parse_error.is_some() {
        assert!(c.subject.is_empty() && c.issuer.is_empty() && c.san_dns.is_empty());
        assert!(!c.valid_at(c.not_before_unix) && !c.is_self_signed());
        assert!(!c.covers_name("example.com"));
    }
    let _ = (
        c.covers_name("a.example.com"),
        c.covers_name("::1"),
        c.dns_names(),
    );

    let EventKind::Certificate(c) = EventKind::from(read_chain(&[bytes, issuer, bytes])) else {
        panic!("a chain gave another kind of event");
    };
    let (chain, issued_by_next) = (&c.chain, &c.issued_by_next);
    assert_eq!(chain.len(), 3);
    assert_eq!(issued_by_next.len(), 3);
    assert_eq!(issued_by_next[2], None);

    let _ = summarize_pem_or_der(bytes);
    let _ = known_root_name(bytes);
    let _ = name_to_string(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        exercise(&bytes, &bytes);
    }

    #[test]
    fn der_shaped_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600), long in any::<bool>()) {
        // A plausible outer SEQUENCE header gets the parser past its first check.
        let mut bytes = if long {
            vec![0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8]
        } else {
            vec![0x30, 0x80 | 0x01, body.len().min(255) as u8]
        };
        bytes.extend_from_slice(&body);
        exercise(&bytes, &fixture("ossl_root_rsa"));
    }

    #[test]
    fn mutated_certificates_never_panic(
        pair in 0..PAIRS.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
        mutate_issuer in any::<bool>(),
    ) {
        let (leaf, issuer) = PAIRS[pair];
        let (mut leaf, mut issuer) = (fixture(leaf), fixture(issuer));
        let target = if mutate_issuer { &mut issuer } else { &mut leaf };
        for (at, value) in edits {
            let len = target.len();
            target[at % len] = value;
        }
        if let Some(cut) = cut {
            let len = target.len();
            target.truncate(cut % len);
        }
        exercise(&leaf, &issuer);
    }

    #[test]
    fn pem_text_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("-----BEGIN CERTIFICATE-----".to_string()),
                Just("-----END CERTIFICATE-----".to_string()),
                Just("-----BEGIN PRIVATE KEY-----".to_string()),
                "[A-Za-z0-9+/=]{0,64}",
                ".{0,20}",
            ],
            0..20,
        )
    ) {
        let text = lines.join("\n");
        for (summary, der) in summarize_pem_or_der(text.as_bytes()) {
            assert_eq!(summary.der_len, der.len());
        }
    }
}

#[test]
fn unmutated_pairs_link() {
    for (leaf, issuer) in PAIRS {
        let (l, i) = (fixture(leaf), fixture(issuer));
        let EventKind::Certificate(c) = EventKind::from(read_chain(&[&l, &i])) else {
            panic!("not a certificate event");
        };
        let issued_by_next = &c.issued_by_next;
        // Not checkable here: the curveball root's explicit curve, and an RSA-PSS signature
        // with OpenSSL's long salt. Every other pair verifies.
        let expected = match *leaf {
            "cap_infigo_leaf" | "ossl_rsa_pss" => None,
            _ => Some(true),
        };
        assert_eq!(*issued_by_next, [expected, None], "{leaf} <- {issuer}");
    }
}

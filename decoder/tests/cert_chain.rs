//! Chain checks and root recognition on certificates built here with rcgen: what a device
//! or an endpoint might present, including the mistakes (wrong order, a stranger, a CA
//! re-created with the same name, an imitation of Amazon's root).

use iotscope_decoder::cert::{known_root_name, read_chain, summarize};
use iotscope_decoder::EventKind;
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RsaKeySize,
};
use time::macros::datetime;

fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(PrintableString::try_from(s).expect("printable"))
}

/// A name encoded the way Amazon's and Starfield's roots encode theirs: PrintableStrings,
/// in the order given.
fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (ty, value) in parts {
        name.push(ty.clone(), printable(value));
    }
    name
}

fn amazon_root_ca(n: u8) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, "US"),
        (DnType::OrganizationName, "Amazon"),
        (DnType::CommonName, &format!("Amazon Root CA {n}")),
    ])
}

fn ca_params(name: DistinguishedName) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime!(2024-01-01 00:00:00 UTC);
    p.not_after = datetime!(2034-01-01 00:00:00 UTC);
    p
}

fn leaf_params(cn: &str, sans: &[&str]) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(sans).expect("params");
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.not_before = datetime!(2024-01-01 00:00:00 UTC);
    p.not_after = datetime!(2025-01-01 00:00:00 UTC);
    p
}

/// A CA able to sign: its certificate (self-signed, or by `parent`) and its issuer handle.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn make_ca(name: DistinguishedName, key: KeyPair, parent: Option<&Ca>) -> Ca {
    let params = ca_params(name);
    let cert = match parent {
        Some(p) => params.signed_by(&key, &p.issuer),
        None => params.self_signed(&key),
    }
    .expect("CA certificate");
    Ca {
        der: cert.der().to_vec(),
        issuer: Issuer::new(params, key),
    }
}

fn issue(params: CertificateParams, by: &Ca) -> Vec<u8> {
    let key = KeyPair::generate().expect("key");
    params
        .signed_by(&key, &by.issuer)
        .expect("leaf")
        .der()
        .to_vec()
}

fn simple_name(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Iotscope Test");
    name.push(DnType::CommonName, cn);
    name
}

struct Outcome {
    links: Vec<Option<bool>>,
    root: Option<String>,
    root_known: bool,
}

fn check(chain: &[&[u8]]) -> Outcome {
    match EventKind::from(read_chain(chain)) {
        EventKind::Certificate(c) => {
            let iotscope_decoder::cert::ChainSummary {
                chain: summaries,
                issued_by_next,
                root,
                root_known,
            } = (*c).clone();
            assert_eq!(summaries.len(), chain.len());
            assert_eq!(issued_by_next.len(), chain.len());
            Outcome {
                links: issued_by_next,
                root,
                root_known,
            }
        }
        other => panic!("unexpected event {other:?}"),
    }
}

#[test]
fn leaf_intermediate_root_links() {
    let root = make_ca(simple_name("Root"), KeyPair::generate().expect("key"), None);
    let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).expect("rsa");
    let inter = make_ca(simple_name("Intermediate"), rsa, Some(&root));
    let leaf = issue(
        leaf_params("device.example.com", &["device.example.com"]),
        &inter,
    );

    let ok = check(&[&leaf, &inter.der, &root.der]);
    assert_eq!(ok.links, [Some(true), Some(true), None]);
    assert_eq!(ok.root.as_deref(), Some("O=Iotscope Test, CN=Root"));
    assert!(!ok.root_known);

    // Sent in the wrong order: every link is wrong.
    assert_eq!(
        check(&[&inter.der, &leaf, &root.der]).links,
        [Some(false), Some(false), None]
    );
    assert_eq!(
        check(&[&root.der, &inter.der, &leaf]).links,
        [Some(false), Some(false), None]
    );
    // Intermediate left out: the leaf does not chain to the root directly.
    assert_eq!(check(&[&leaf, &root.der]).links, [Some(false), None]);
    // A stranger in the chain.
    let other = make_ca(
        simple_name("Other"),
        KeyPair::generate().expect("key"),
        None,
    );
    assert_eq!(check(&[&leaf, &other.der]).links, [Some(false), None]);

    let leaf_summary = summarize(&leaf);
    assert_eq!(leaf_summary.issuer, "O=Iotscope Test, CN=Intermediate");
    assert_eq!(summarize(&inter.der).key_bits, Some(2048));
    assert_eq!(summarize(&inter.der).key_type, "RSA");
}

#[test]
fn same_name_different_key_is_not_the_issuer() {
    // A device CA deleted and re-created under the same name: the names chain, the
    // signature does not.
    let first = make_ca(
        simple_name("Device CA"),
        KeyPair::generate().expect("key"),
        None,
    );
    let again = make_ca(
        simple_name("Device CA"),
        KeyPair::generate().expect("key"),
        None,
    );
    let device = issue(leaf_params("device-7", &[]), &first);
    assert_eq!(check(&[&device, &first.der]).links, [Some(true), None]);
    assert_eq!(check(&[&device, &again.der]).links, [Some(false), None]);
    // The key identifiers tell the two apart as well.
    let device = summarize(&device);
    assert_eq!(
        device.authority_key_id,
        summarize(&first.der).subject_key_id
    );
    assert_ne!(
        device.authority_key_id,
        summarize(&again.der).subject_key_id
    );
}

#[test]
fn ed25519_links_verify() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    let ca = make_ca(simple_name("Ed CA"), key, None);
    let leaf = issue(leaf_params("ed.example.com", &["ed.example.com"]), &ca);
    assert_eq!(check(&[&leaf, &ca.der]).links, [Some(true), None]);
    let ca_summary = summarize(&ca.der);
    assert_eq!(
        (
            ca_summary.key_type.as_str(),
            ca_summary.signature_algorithm.as_str()
        ),
        ("Ed25519", "ED25519")
    );
}

#[test]
fn amazon_roots_are_recognised_by_their_exact_name() {
    // What an ATS endpoint sends: leaf and intermediate, the intermediate issued by Amazon
    // Root CA 1. The key here is not Amazon's, but only the name decides which root the
    // device needs.
    let fake_root = make_ca(amazon_root_ca(1), KeyPair::generate().expect("key"), None);
    let server_ca = make_ca(
        dn(&[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Amazon"),
            (DnType::OrganizationalUnitName, "Server CA 1B"),
            (DnType::CommonName, "Amazon"),
        ]),
        KeyPair::generate().expect("key"),
        Some(&fake_root),
    );
    let leaf = issue(
        leaf_params(
            "*.iot.us-east-1.amazonaws.com",
            &["*.iot.us-east-1.amazonaws.com"],
        ),
        &server_ca,
    );
    let sent = check(&[&leaf, &server_ca.der]);
    assert_eq!(sent.links, [Some(true), None]);
    assert_eq!(sent.root.as_deref(), Some("Amazon Root CA 1"));
    assert!(sent.root_known);

    // The last certificate is itself a known root (a cross-signed copy, or one sent along).
    let root3 = make_ca(amazon_root_ca(3), KeyPair::generate().expect("key"), None);
    let sent = check(&[&root3.der]);
    assert_eq!(
        (sent.root.as_deref(), sent.root_known),
        (Some("Amazon Root CA 3"), true)
    );

    let starfield = make_ca(
        dn(&[
            (DnType::CountryName, "US"),
            (DnType::StateOrProvinceName, "Arizona"),
            (DnType::LocalityName, "Scottsdale"),
            (DnType::OrganizationName, "Starfield Technologies, Inc."),
            (
                DnType::CommonName,
                "Starfield Services Root Certificate Authority - G2",
            ),
        ]),
        KeyPair::generate().expect("key"),
        None,
    );
    let cross = make_ca(
        amazon_root_ca(2),
        KeyPair::generate().expect("key"),
        Some(&starfield),
    );
    let sent = check(&[&cross.der]);
    assert_eq!(
        (sent.root.as_deref(), sent.root_known),
        (Some("Amazon Root CA 2"), true)
    );
    let sf = summarize(&starfield.der);
    assert_eq!(
        known_root_name(&subject_der(&starfield.der)).as_deref(),
        Some("Starfield Services Root Certificate Authority - G2")
    );
    assert!(sf.is_self_signed());

    for n in 1..=4 {
        let ca = make_ca(amazon_root_ca(n), KeyPair::generate().expect("key"), None);
        let expected = format!("Amazon Root CA {n}");
        assert_eq!(
            known_root_name(&subject_der(&ca.der)).as_deref(),
            Some(expected.as_str())
        );
    }
}

#[test]
fn imitations_of_amazon_are_not_known_roots() {
    // The lab's PKI: "Test Amazon Root CA 1" with O=Test Amazon.
    let test_root = make_ca(
        dn(&[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Test Amazon"),
            (DnType::CommonName, "Test Amazon Root CA 1"),
        ]),
        KeyPair::generate().expect("key"),
        None,
    );
    let leaf = issue(
        leaf_params("abc123example-ats.iot.us-east-1.amazonaws.com", &[]),
        &test_root,
    );
    let sent = check(&[&leaf]);
    assert_eq!(
        sent.root.as_deref(),
        Some("C=US, O=Test Amazon, CN=Test Amazon Root CA 1")
    );
    assert!(!sent.root_known);
    assert_eq!(known_root_name(&subject_der(&test_root.der)), None);

    // Amazon's words in UTF8String instead of PrintableString: a different DER name, so
    // a strict client would not chain it to the real root either.
    let mut utf8 = DistinguishedName::new();
    utf8.push(DnType::CountryName, "US");
    utf8.push(DnType::OrganizationName, "Amazon");
    utf8.push(DnType::CommonName, "Amazon Root CA 1");
    let lookalike = make_ca(utf8, KeyPair::generate().expect("key"), None);
    assert_eq!(known_root_name(&subject_der(&lookalike.der)), None);
    assert!(!check(&[&lookalike.der]).root_known);
}

/// The subject Name of a certificate, as DER with its SEQUENCE header.
fn subject_der(cert: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, x) = X509Certificate::from_der(cert).expect("certificate");
    x.subject().as_raw().to_vec()
}

#[test]
fn validity_and_names_of_a_built_certificate() {
    let ca = make_ca(simple_name("CA"), KeyPair::generate().expect("key"), None);
    let mut params = leaf_params("thing-1", &["thing-1.example.net", "10.0.0.5", "::1"]);
    params.not_before = datetime!(2020-01-02 03:04:05 UTC);
    params.not_after = datetime!(2021-01-02 03:04:05 UTC);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let c = summarize(&issue(params, &ca));

    assert_eq!(c.not_before, "2020-01-02T03:04:05");
    assert_eq!(c.not_after, "2021-01-02T03:04:05");
    assert_eq!(c.not_before_unix, 1_577_934_245);
    assert_eq!(c.not_after_unix, 1_609_556_645);
    assert!(!c.valid_at(1_577_934_244));
    assert!(c.valid_at(1_577_934_245));
    assert!(c.valid_at(1_600_000_000));
    assert!(!c.valid_at(1_609_556_646));

    assert_eq!(c.san_dns, ["thing-1.example.net"]);
    assert_eq!(c.san_ip, ["10.0.0.5", "::1"]);
    assert_eq!(c.key_usage, ["digitalSignature", "keyEncipherment"]);
    // Listed in a fixed order, whatever order the certificate gives.
    assert_eq!(c.extended_key_usage, ["serverAuth", "clientAuth"]);
    assert_eq!(
        (
            c.key_type.as_str(),
            c.curve.as_deref(),
            c.signature_algorithm.as_str()
        ),
        ("EC", Some("P-256"), "ecdsa-with-SHA256")
    );
    assert!(!c.is_self_signed());

    // SAN present: the CN is not consulted for matching, but it is still one of the names.
    assert!(!c.covers_name("thing-1"));
    assert!(c.covers_name("thing-1.example.net"));
    assert!(c.covers_name("10.0.0.5"));
    assert!(c.covers_name("0:0::1"));
    assert!(!c.covers_name("10.0.0.6"));
    assert_eq!(c.dns_names(), ["thing-1.example.net", "thing-1"]);
}

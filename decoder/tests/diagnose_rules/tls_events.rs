//! TLS events for the rule tests: hellos, certificates, encrypted records, alerts, TCP ends.
//!
//! Each helper builds the event the session would emit, filled only as far as the rules read
//! it (no extensions list, no fingerprints).

use iotscope_decoder::cert::Certificate;
use iotscope_decoder::event::{AlertLevel, AppProtocol, EncryptedPhase};
use std::sync::Arc;

use iotscope_decoder::tls::{
    names as tls_names, ClientHello, ClientOffer, Named, Random, ServerChoice, ServerHello, SniForm,
};
use iotscope_decoder::EventKind;

use super::builder::{AES128_GCM_13, ATS, ECDHE_RSA_AES128_GCM, TLS12, TLS13};

/// A ClientHello. `versions` holding TLS 1.3 become supported_versions (legacy 1.2); else the
/// highest is the legacy version, as a 1.2-era client sends it.
pub fn client_hello(
    sni: Option<&str>,
    alpn: &[&str],
    versions: &[u16],
    suites: &[u16],
) -> EventKind {
    let sni_form = match sni {
        None => SniForm::Absent,
        Some("") => SniForm::Empty,
        Some(s) if s.parse::<std::net::IpAddr>().is_ok() => SniForm::IpLiteral,
        Some(_) => SniForm::HostName,
    };
    let tls13 = versions.contains(&TLS13);
    let offer = ClientOffer {
        legacy_version: if tls13 {
            TLS12
        } else {
            versions.iter().copied().max().unwrap_or(TLS12)
        },
        session_id_len: 32,
        cipher_suites: suites.iter().map(|&id| named_suite(id)).collect(),
        compression_methods: vec![0],
        sni: sni.filter(|s| !s.is_empty()).map(str::to_string),
        sni_names: sni
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .into_iter()
            .collect(),
        sni_form,
        alpn: alpn.iter().map(|s| s.to_string()).collect(),
        supported_versions: if tls13 { versions.to_vec() } else { Vec::new() },
        supported_groups: Vec::new(),
        key_share_groups: Vec::new(),
        signature_algorithms: Vec::new(),
        ec_point_formats: Vec::new(),
        max_fragment_length: None,
        session_ticket: false,
        grease: Vec::new(),
        ja4: String::new(),
    };
    EventKind::ClientHello(Box::new(ClientHello {
        record_version: 0x0301,
        random: Random([0; 32]),
        extensions: Arc::new([]),
        offer: Arc::new(offer),
    }))
}

/// A ClientHello to the ATS endpoint offering TLS 1.2 and 1.3 with AWS policy suites.
pub fn hello_ats(alpn: &[&str]) -> EventKind {
    client_hello(
        Some(ATS),
        alpn,
        &[TLS13, TLS12],
        &[AES128_GCM_13, ECDHE_RSA_AES128_GCM],
    )
}

/// A ClientHello with several server names (the form RFC 6066 forbids).
pub fn client_hello_names(names: &[&str]) -> EventKind {
    let EventKind::ClientHello(mut h) = client_hello(
        names.first().copied(),
        &[],
        &[TLS12],
        &[ECDHE_RSA_AES128_GCM],
    ) else {
        unreachable!()
    };
    let offer = Arc::make_mut(&mut h.offer);
    offer.sni_form = SniForm::Several;
    offer.sni_names = names.iter().map(|s| s.to_string()).collect();
    EventKind::ClientHello(h)
}

fn named_suite(id: u16) -> Named {
    Named::suite(id)
}

pub fn server_hello(version: u16, suite: u16) -> EventKind {
    EventKind::ServerHello(Box::new(ServerHello {
        random: Random([0x11; 32]),
        choice: Arc::new(ServerChoice {
            legacy_version: TLS12,
            version,
            cipher_suite: named_suite(suite),
            compression_method: 0,
            extensions: Vec::new(),
            alpn: None,
            key_share_group: None,
            hello_retry_request: false,
            ja3s: String::new(),
            ja3s_hash: String::new(),
        }),
    }))
}

/// A certificate summary: `subject` is a common name, dates are `YYYY-MM-DD` (midnight UTC).
/// Its SHA-256 is the digest of the subject, so each test's certificate ID is its own.
pub fn cert(subject: &str, sans: &[&str], not_before: &str, not_after: &str) -> Certificate {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    Certificate {
        subject: format!("CN={subject}"),
        issuer: "CN=Test Issuing CA".to_string(),
        common_name: Some(subject.to_string()),
        not_before: format!("{not_before}T00:00:00"),
        not_after: format!("{not_after}T00:00:00"),
        not_before_unix: day(not_before),
        not_after_unix: day(not_after),
        san_dns: sans.iter().map(|s| s.to_string()).collect(),
        key_type: "EC".to_string(),
        sha256: iotscope_decoder::hex::encode(digest.as_ref()),
        der_len: 500,
        version: 3,
        ..Certificate::default()
    }
}

/// The SHA-256 `cert` gives a subject: the certificate ID AWS would show.
pub fn cert_id(subject: &str) -> String {
    cert(subject, &[], "2025-01-01", "2026-12-31").sha256
}

/// Unix seconds of midnight UTC on `YYYY-MM-DD`.
fn day(ymd: &str) -> i64 {
    let mut it = ymd
        .split('-')
        .map(|p| p.parse::<i64>().expect("YYYY-MM-DD"));
    let (y, m, d) = (
        it.next().expect("year"),
        it.next().expect("month"),
        it.next().expect("day"),
    );
    let month = time::Month::try_from(m as u8).expect("month");
    time::Date::from_calendar_date(y as i32, month, d as u8)
        .expect("date")
        .midnight()
        .assume_utc()
        .unix_timestamp()
}

/// The endpoint's certificate for the ATS name, chaining to Amazon Root CA 1.
pub fn ats_cert() -> Certificate {
    cert(
        "*.iot.eu-west-1.amazonaws.com",
        &[
            "*.iot.eu-west-1.amazonaws.com",
            "iot.eu-west-1.amazonaws.com",
        ],
        "2025-06-01",
        "2026-06-01",
    )
}

/// A Certificate message; `root` names where the chain leads.
pub fn chain(certs: Vec<Certificate>, root: Option<&str>, root_known: bool) -> EventKind {
    let n = certs.len();
    EventKind::from(iotscope_decoder::cert::ChainSummary {
        chain: certs.into(),
        issued_by_next: (0..n).map(|i| (i + 1 < n).then_some(true)).collect(),
        root: root.map(str::to_string),
        root_known,
    })
}

pub fn endpoint_chain() -> EventKind {
    chain(vec![ats_cert()], Some("Amazon Root CA 1"), true)
}

pub fn cert_request() -> EventKind {
    EventKind::CertificateRequest {
        ca_names: Vec::new(),
    }
}

pub fn handshake(kind: iotscope_decoder::event::HandshakeKind, len: u32) -> EventKind {
    EventKind::Handshake { kind, len }
}

pub fn ccs() -> EventKind {
    EventKind::ChangeCipherSpec
}

/// An encrypted record of `len` bytes (TLS 1.3 wire type 23).
pub fn enc(len: u32, phase: EncryptedPhase) -> EventKind {
    EventKind::Encrypted {
        content_type: 23,
        phase,
        records: 1,
        bytes: u64::from(len),
        first_len: len,
    }
}

pub fn hs(len: u32) -> EventKind {
    enc(len, EncryptedPhase::Handshake)
}

pub fn app(len: u32) -> EventKind {
    enc(len, EncryptedPhase::Application)
}

/// A readable fatal alert.
pub fn alert(desc: u8) -> EventKind {
    EventKind::Alert {
        level: Some(if desc == 0 {
            AlertLevel::Warning
        } else {
            AlertLevel::Fatal
        }),
        description: Some(desc),
        name: tls_names::alert_name(desc),
        encrypted: false,
    }
}

/// An alert record whose content was encrypted (TLS 1.2 after ChangeCipherSpec).
pub fn enc_alert() -> EventKind {
    EventKind::Alert {
        level: None,
        description: None,
        name: None,
        encrypted: true,
    }
}

pub fn fin() -> EventKind {
    EventKind::TcpFin
}

pub fn rst() -> EventKind {
    EventKind::TcpRst
}

pub fn proto(protocol: AppProtocol) -> EventKind {
    EventKind::Protocol {
        protocol,
        first_bytes: Default::default(),
    }
}

/// A TLS 1.2 Finished as it crosses the wire after ChangeCipherSpec (content type 22).
pub fn finished12() -> EventKind {
    EventKind::Encrypted {
        content_type: 22,
        phase: EncryptedPhase::Handshake,
        records: 1,
        bytes: 40,
        first_len: 40,
    }
}

/// The device certificate most tests use: valid on 2026-01-01.
pub fn device_cert(subject: &str) -> Certificate {
    cert(subject, &[], "2025-01-01", "2026-12-31")
}

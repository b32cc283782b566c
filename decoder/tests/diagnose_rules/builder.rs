//! A small trace builder for the rule tests, and the checks every finding must pass.
//!
//! Traces are built from events rather than bytes so that each test states exactly the facts a
//! rule reads (sizes of encrypted records, who closed first, which CONNACK code) and nothing
//! else. The builder adds the `Protocol` event the session emits before a direction's first
//! decoded message, so `first_data` and the protocol facts look as they do on real traces.

use iotscope_decoder::cert::Certificate;
use iotscope_decoder::diagnose::{self, ClientIds, Context, Finding, Section};
use iotscope_decoder::event::AppProtocol;
use iotscope_decoder::{Direction, Event, EventKind, Identity, Timestamp, Trace};

pub use super::mqtt_events::*;
pub use super::tls_events::*;

/// 2026-01-01T00:00:00Z: every trace starts here.
pub const T0_UNIX: i64 = 1_767_225_600;

pub const ATS: &str = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";
pub const ENDPOINT_IP: &str = "203.0.113.10";
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;
/// TLS_AES_128_GCM_SHA256, in every AWS policy.
pub const AES128_GCM_13: u16 = 0x1301;
/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, in every AWS policy.
pub const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;

/// One connection under construction.
pub struct T {
    trace: Trace,
    /// Has a `Protocol` event been emitted, per direction and layer (outer, decrypted)?
    classified: [[bool; 2]; 2],
}

impl T {
    /// A connection to the documentation address on `port`, opened by the device at 0 ms.
    pub fn new(port: u16) -> T {
        let mut t = T::unopened(port);
        t.dev(0.0, EventKind::TcpOpen);
        t
    }

    /// A connection whose opening was not seen (the capture started mid-stream).
    pub fn unopened(port: u16) -> T {
        let identity = Identity {
            device: Some("198.51.100.7:50123".parse().expect("address")),
            endpoint: Some(
                format!("{ENDPOINT_IP}:{port}")
                    .parse()
                    .expect("documentation address"),
            ),
            endpoint_name: None,
            source: Some("diagnose_rules".to_string()),
            number: 1,
        };
        T {
            trace: Trace::new(identity),
            classified: [[false; 2]; 2],
        }
    }

    pub fn number(&mut self, n: u64) -> &mut T {
        self.trace.identity.number = n;
        self
    }

    fn push(&mut self, ms: f64, dir: Direction, decrypted: bool, kind: EventKind) -> &mut T {
        let ts = at(ms);
        let layer = usize::from(decrypted);
        let d = dir.index();
        let proto = match &kind {
            EventKind::ClientHello(_)
            | EventKind::ServerHello(_)
            | EventKind::Certificate(_)
            | EventKind::CertificateRequest { .. }
            | EventKind::Handshake { .. }
            | EventKind::ChangeCipherSpec
            | EventKind::Alert { .. }
            | EventKind::Encrypted { .. } => Some(AppProtocol::Tls),
            EventKind::Mqtt(_) | EventKind::MqttMalformed { .. } => Some(AppProtocol::Mqtt),
            EventKind::Http { .. } => Some(AppProtocol::Http),
            EventKind::Protocol { .. } => {
                self.classified[layer][d] = true;
                None
            }
            _ => None,
        };
        if let Some(protocol) = proto {
            if !self.classified[layer][d] {
                self.classified[layer][d] = true;
                self.trace.push(Event {
                    ts,
                    dir,
                    decrypted,
                    kind: EventKind::Protocol {
                        protocol,
                        first_bytes: Default::default(),
                    },
                });
            }
        }
        self.trace.push(Event {
            ts,
            dir,
            decrypted,
            kind,
        });
        self
    }

    /// An event from the device at `ms` milliseconds.
    pub fn dev(&mut self, ms: f64, kind: EventKind) -> &mut T {
        self.push(ms, Direction::DeviceToEndpoint, false, kind)
    }

    /// An event from the endpoint at `ms` milliseconds.
    pub fn end(&mut self, ms: f64, kind: EventKind) -> &mut T {
        self.push(ms, Direction::EndpointToDevice, false, kind)
    }

    /// A decrypted event from the device (key log or MITM).
    pub fn dev_dec(&mut self, ms: f64, kind: EventKind) -> &mut T {
        self.push(ms, Direction::DeviceToEndpoint, true, kind)
    }

    /// A decrypted event from the endpoint.
    pub fn end_dec(&mut self, ms: f64, kind: EventKind) -> &mut T {
        self.push(ms, Direction::EndpointToDevice, true, kind)
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The findings with no context, each checked with [`check`].
    pub fn diagnose(&self) -> Vec<Finding> {
        self.diagnose_with(&Context::default())
    }

    pub fn diagnose_with(&self, ctx: &Context) -> Vec<Finding> {
        let found = diagnose::diagnose(&self.trace, ctx);
        for f in &found {
            check(f);
        }
        found
    }
}

pub fn at(ms: f64) -> Timestamp {
    Timestamp(T0_UNIX * 1_000_000_000 + (ms * 1e6).round() as i64)
}

/// `--endpoint NAME`.
pub fn expecting(name: &str) -> Context {
    Context {
        expected_endpoint: Some(name.to_string()),
        custom_domain: false,
        policy: None,
    }
}

pub fn custom_domain() -> Context {
    Context {
        expected_endpoint: None,
        custom_domain: true,
        policy: None,
    }
}

// ------------------------------------------------------------------ checks

/// What every finding must carry: next steps, and the anchor of its own section.
pub fn check(f: &Finding) {
    assert!(
        !f.next_steps.is_empty() && f.next_steps.iter().all(|s| !s.trim().is_empty()),
        "{} has no next step",
        f.code
    );
    assert_eq!(f.anchor, f.section.anchor(), "{}", f.code);
    let (prefix, _) = f.code.as_str().split_once('.').expect("SECTION.NAME");
    let (section, anchor) = match prefix {
        "CONN" | "TLS" | "MQTT" => (Section::Connection, "#troubleshooting-connect"),
        "AUTH" | "ACCOUNT" => (Section::Authentication, "#troubleshooting-authentication"),
        // What AWS logged belongs to the section of the failure it reports.
        "LOG" => (f.section, f.section.anchor()),
        "AUTHZ" => (Section::Authorization, "#troubleshooting-authorization"),
        "SEC" => (
            Section::SecurityIdentity,
            "#troubleshooting-security-identity",
        ),
        other => panic!("unknown code prefix {other}"),
    };
    assert_eq!(f.section, section, "{}", f.code);
    assert_eq!(f.anchor, anchor, "{}", f.code);
    assert!(!f.summary.is_empty(), "{} has no summary", f.code);
    assert!(!f.evidence.is_empty(), "{} rests on no evidence", f.code);
    if !f.candidates.is_empty() {
        assert_ne!(
            f.certainty,
            iotscope_decoder::diagnose::Certainty::Certain,
            "{} is certain but names candidates",
            f.code
        );
    }
}

/// The one finding with `code`; fails when there is none or more than one.
pub fn one<'a>(found: &'a [Finding], code: &str) -> &'a Finding {
    let hits: Vec<&Finding> = found.iter().filter(|f| f.code == code).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {code}, got {}: {:#?}",
        hits.len(),
        codes(found)
    );
    hits[0]
}

pub fn none(found: &[Finding], code: &str) {
    assert!(
        found.iter().all(|f| f.code != code),
        "{code} must not fire: {:#?}",
        found
            .iter()
            .filter(|f| f.code == code)
            .map(|f| &f.summary)
            .collect::<Vec<_>>()
    );
}

pub fn codes(found: &[Finding]) -> Vec<&'static str> {
    found.iter().map(|f| f.code.as_str()).collect()
}

/// No finding of severity error.
pub fn no_error(found: &[Finding]) {
    let errors: Vec<(&str, &str)> = found
        .iter()
        .filter(|f| f.severity == diagnose::Severity::Error)
        .map(|f| (f.code.as_str(), f.summary.as_str()))
        .collect();
    assert!(
        errors.is_empty(),
        "errors on a working connection: {errors:#?}"
    );
}

/// The step that contains `needle`, for asserting on the filled-in command.
pub fn step<'a>(f: &'a Finding, needle: &str) -> &'a str {
    f.next_steps
        .iter()
        .find(|s| s.contains(needle))
        .unwrap_or_else(|| panic!("{}: no step with {needle:?}: {:#?}", f.code, f.next_steps))
}

pub fn evidence_has(f: &Finding, needle: &str) -> bool {
    f.evidence.iter().any(|e| e.text.contains(needle))
}

/// ClientIds::observe, with the same checks as diagnose.
pub fn observe(ids: &mut ClientIds, t: &T) -> Option<Finding> {
    let f = ids.observe(t.trace());
    if let Some(f) = &f {
        check(f);
    }
    f
}

// ------------------------------------------------------------------ whole handshakes

impl T {
    /// TLS 1.3 without keys: `hello` at 1 ms, ServerHello and the endpoint's encrypted flight
    /// at 30 ms, the device's encrypted flight of `device_flight` bytes at 40 ms.
    pub fn tls13(&mut self, hello: EventKind, device_flight: u32) -> &mut T {
        self.dev(1.0, hello)
            .end(30.0, server_hello(TLS13, AES128_GCM_13))
            .end(30.0, hs(3200))
            .dev(40.0, ccs())
            .dev(40.0, hs(device_flight))
    }

    /// A whole TLS 1.2 handshake: `hello` at 1 ms; ServerHello, the ATS chain, a
    /// CertificateRequest when `device` is given, and ServerHelloDone at 30 ms; the device's
    /// certificate (if any), key exchange and Finished at 40 ms; the endpoint's Finished at
    /// 50 ms.
    pub fn tls12(&mut self, hello: EventKind, device: Option<Certificate>) -> &mut T {
        self.tls12_device_finished(hello, device)
            .end(50.0, ccs())
            .end(50.0, finished12())
    }

    /// [`T::tls12`] up to the device's Finished at 40 ms: the endpoint has not finished yet.
    pub fn tls12_device_finished(
        &mut self,
        hello: EventKind,
        device: Option<Certificate>,
    ) -> &mut T {
        use iotscope_decoder::event::HandshakeKind as H;
        self.dev(1.0, hello)
            .end(30.0, server_hello(TLS12, ECDHE_RSA_AES128_GCM))
            .end(30.0, endpoint_chain());
        if device.is_some() {
            self.end(30.0, cert_request());
        }
        self.end(30.0, handshake(H::ServerHelloDone, 0));
        if let Some(c) = device {
            self.dev(40.0, chain(vec![c], Some("Device CA"), false));
        }
        self.dev(40.0, handshake(H::ClientKeyExchange, 66))
            .dev(40.0, handshake(H::CertificateVerify, 72))
            .dev(40.0, ccs())
            .dev(40.0, finished12())
    }
}

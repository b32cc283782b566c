//! The vocabulary of a trace: directions, timestamps and the events the decoder emits.
//!
//! Every fact the decoder learns about a connection becomes one [`Event`]. Events carry the
//! time the bytes arrived (given by the feeder, never read from a clock) and the direction
//! they travelled, so a live connection and a replayed capture produce the same events.

use serde::{Serialize, Serializer};
use std::fmt;

use crate::cert::Certificate;
use crate::mqtt::Packet;
use crate::tls::{ClientHello, ServerHello};

/// Which way bytes travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    DeviceToEndpoint,
    EndpointToDevice,
}

impl Direction {
    pub fn reverse(self) -> Direction {
        match self {
            Direction::DeviceToEndpoint => Direction::EndpointToDevice,
            Direction::EndpointToDevice => Direction::DeviceToEndpoint,
        }
    }

    /// Index for per-direction arrays: device → endpoint is 0.
    pub fn index(self) -> usize {
        match self {
            Direction::DeviceToEndpoint => 0,
            Direction::EndpointToDevice => 1,
        }
    }

    /// The side that sent bytes travelling this way.
    pub fn sender(self) -> Side {
        match self {
            Direction::DeviceToEndpoint => Side::Device,
            Direction::EndpointToDevice => Side::Endpoint,
        }
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Device,
    Endpoint,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Device => "device",
            Side::Endpoint => "endpoint",
        })
    }
}

/// A point in time, in nanoseconds since the Unix epoch. Serialised as RFC 3339.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Seconds from `earlier` to `self` (negative when `self` is before).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1e9
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-26T09:05:13.713000Z`.
    pub fn rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            ),
            Err(_) => format!("@{}ns", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// One decoded fact about a connection.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub ts: Timestamp,
    pub dir: Direction,
    /// True when the fact was read from bytes decrypted with a key log or in MITM mode.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an application protocol looks like from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProtocol {
    Tls,
    Mqtt,
    Http,
    Unknown,
}

impl fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppProtocol::Tls => "TLS",
            AppProtocol::Mqtt => "MQTT",
            AppProtocol::Http => "HTTP",
            AppProtocol::Unknown => "unknown",
        })
    }
}

/// TLS alert level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Warning,
    Fatal,
    Unknown(u8),
}

/// A TLS handshake message that carries nothing the trace needs beyond its presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeKind {
    HelloRequest,
    NewSessionTicket,
    EndOfEarlyData,
    EncryptedExtensions,
    ServerKeyExchange,
    ServerHelloDone,
    CertificateVerify,
    ClientKeyExchange,
    Finished,
    CertificateStatus,
    KeyUpdate,
    MessageHash,
    Other(u8),
}

/// Where an encrypted record sits in the connection, as far as the wire shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptedPhase {
    /// TLS 1.3 records before the sender's Finished, or a TLS 1.2 Finished.
    Handshake,
    /// Records after both sides finished the handshake.
    Application,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The connection was opened (SYN seen, or the proxy accepted it).
    TcpOpen,
    /// The sender closed its half of the connection (FIN).
    TcpFin,
    /// The sender reset the connection (RST).
    TcpRst,
    /// Bytes that were never seen: a capture gap, or a copy the decoder could not keep up with.
    Gap {
        bytes: u64,
    },
    /// The first bytes of a direction, classified.
    Protocol {
        protocol: AppProtocol,
        /// Hex of up to the first 16 bytes.
        first_bytes: String,
    },
    /// An HTTP request or status line.
    Http {
        line: String,
    },
    ClientHello(Box<ClientHello>),
    ServerHello(Box<ServerHello>),
    /// A Certificate message; an empty `chain` is a client that had no certificate to send.
    Certificate {
        chain: Vec<Certificate>,
        /// One entry per certificate: is it issued by the next one in the chain? `None` for the
        /// last, or when the issuer could not be checked.
        issued_by_next: Vec<Option<bool>>,
        /// The name of the root the chain leads to: a known root (Amazon Root CA 1–4, Starfield
        /// Services Root CA G2, or any other web PKI root), else the last issuer named.
        root: Option<String>,
        /// True when `root` is a root that webpki-roots knows.
        root_known: bool,
    },
    /// The endpoint asks for a client certificate.
    CertificateRequest {
        /// Distinguished names of acceptable CAs (TLS 1.2), RFC 4514 style.
        ca_names: Vec<String>,
    },
    Handshake {
        kind: HandshakeKind,
        len: u32,
    },
    ChangeCipherSpec,
    /// A TLS alert. `level` and `description` are `None` when the alert was encrypted.
    Alert {
        level: Option<AlertLevel>,
        description: Option<u8>,
        /// The description's name (`handshake_failure`, `unknown_ca`, …) when readable.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'static str>,
        encrypted: bool,
    },
    /// Records that could not be read because they were encrypted. Consecutive application
    /// records in one direction are gathered into one event after the first few.
    Encrypted {
        /// Record content type as it appears on the wire (23 for TLS 1.3, anything for 1.2).
        content_type: u8,
        phase: EncryptedPhase,
        records: u32,
        bytes: u64,
        /// Size of the first record gathered here.
        first_len: u32,
    },
    Mqtt(Box<Packet>),
    /// A TLS record or handshake message that breaks the spec; `offset` is the byte offset in
    /// this direction's stream.
    TlsMalformed {
        offset: u64,
        reason: String,
    },
    /// An MQTT control packet that breaks the spec; `offset` is the byte offset in this
    /// direction's (plaintext) stream.
    MqttMalformed {
        offset: u64,
        reason: String,
    },
    /// Bytes the decoder could not make sense of (after a gap it cannot resynchronise over, or
    /// an unknown protocol). `prefix` shows the first of them: text when printable, else hex.
    Undecoded {
        bytes: u64,
        prefix: String,
    },
    /// Records of this direction stay encrypted although keys were given: why (no key for the
    /// connection, a suite that is not decrypted, a record that did not authenticate).
    Undecrypted {
        reason: String,
    },
    /// A remark from the decoder itself: decryption state, resynchronisation, truncation.
    Note {
        text: String,
    },
    /// The proxy could not reach the endpoint for this device (name not resolved, refused,
    /// timed out, reset while connecting); `failure` says which, in words. Only the proxy emits
    /// it, since only the proxy makes a connection of its own to the endpoint.
    Upstream {
        failure: String,
    },
    /// In MITM mode, the device's own handshake with iotscope: what it offered, what it
    /// presented, and how it ended. Only the proxy emits it.
    DeviceLeg(Box<crate::device_leg::DeviceLeg>),
}

impl EventKind {
    pub fn is_tcp_close(&self) -> bool {
        matches!(self, EventKind::TcpFin | EventKind::TcpRst)
    }
}

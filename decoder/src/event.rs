//! The vocabulary of a trace: directions, timestamps and the events the decoder emits.
//!
//! Every fact the decoder learns about a connection becomes one [`Event`]. Events carry the
//! time the bytes arrived (given by the feeder, never read from a clock) and the direction
//! they travelled, so a live connection and a replayed capture produce the same events.

use serde::{Serialize, Serializer};
use std::fmt;

use crate::cert::ChainSummary;
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
        // Every connection prints two or three of these; the date arithmetic below costs a
        // tenth of a general calendar conversion. It covers every time since 1970 (an i64
        // of nanoseconds ends in 2262); earlier ones take the general way.
        if self.0 >= 0 {
            return rfc3339_since_1970(self.0);
        }
        self.rfc3339_general()
    }

    fn rfc3339_general(self) -> String {
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

/// `nanos` (not negative) since the epoch as RFC 3339 with microseconds. The date comes from
/// the day count by the era-based method of Howard Hinnant's `civil_from_days`.
fn rfc3339_since_1970(nanos: i64) -> String {
    let secs = nanos / 1_000_000_000;
    let micros = (nanos % 1_000_000_000) / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = [0u8; 27];
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, of_day / 3600);
    put(14, 2, of_day / 60 % 60);
    put(17, 2, of_day % 60);
    put(20, 6, micros);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        out[i] = c;
    }
    out.iter().map(|&b| char::from(b)).collect()
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

/// Why iotscope closed a connection itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutCause {
    /// No TLS handshake completed within `--handshake-timeout`.
    HandshakeTimeout,
    /// No byte either way within `--idle-timeout`.
    IdleTimeout,
    /// The proxy was stopping and the grace period ran out.
    Stopping,
}

/// Where an encrypted record sits in the connection, as far as the wire shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptedPhase {
    /// TLS 1.3 records before the sender's Finished, or a TLS 1.2 Finished.
    Handshake,
    /// Records after both sides finished the handshake.
    Application,
    /// TLS 1.3 early data (0-RTT): the device's records sent with a resumed session's key
    /// before the endpoint's ServerHello.
    EarlyData,
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
        /// Up to the first 16 bytes, shown as hex.
        first_bytes: FirstBytes,
    },
    /// An HTTP request or status line.
    Http {
        line: String,
    },
    /// A device's request to an HTTP proxy to open a tunnel (`CONNECT host:port`), before
    /// TLS. A Proxy-Authorization header keeps its scheme only.
    ProxyConnect(Box<crate::preamble::ProxyRequest>),
    /// An HTTP proxy's answer to a CONNECT: 2xx opens the tunnel, any other status refuses it.
    ProxyResponse(Box<crate::preamble::ProxyResponse>),
    /// TLS began after plaintext lines (a STARTTLS-like exchange), `offset` bytes into this
    /// direction's stream.
    TlsAfterPlaintext {
        offset: u64,
    },
    ClientHello(Box<ClientHello>),
    ServerHello(Box<ServerHello>),
    /// A Certificate message; an empty `chain` is a client that had no certificate to send.
    /// Shared with the chain cache, and kept out of line: an event is as large as its largest
    /// kind, and a trace keeps dozens of events for each of these.
    Certificate(std::sync::Arc<ChainSummary>),
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
        // This and the next two are `Box<str>`, not `String`, so that the three fit in 32
        // bytes: every event of every trace is as large as the largest kind.
        reason: Box<str>,
    },
    /// An MQTT control packet that breaks the spec; `offset` is the byte offset in this
    /// direction's (plaintext) stream.
    MqttMalformed {
        offset: u64,
        reason: Box<str>,
    },
    /// Bytes the decoder could not make sense of (after a gap it cannot resynchronise over, or
    /// an unknown protocol). `prefix` shows the first of them: text when printable, else hex.
    Undecoded {
        bytes: u64,
        prefix: Box<str>,
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
    /// A record or packet that had begun but not ended: the sender sent `held` of the `need`
    /// bytes its header declared. Emitted when the sender closed its side (the close event
    /// follows), or when the trace ended without a close (a sender that stalled, or a
    /// capture that stopped).
    Unfinished(Box<Unfinished>),
    /// iotscope itself closed the connection (a proxy only): its handshake deadline, its idle
    /// limit, or its own shutdown. `text` says it in words.
    Cut {
        cause: CutCause,
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

impl From<ChainSummary> for EventKind {
    /// The event for a Certificate message.
    fn from(c: ChainSummary) -> EventKind {
        EventKind::Certificate(std::sync::Arc::new(c))
    }
}

/// A record or packet cut short: what [`EventKind::Unfinished`] holds, out of line since it
/// is rare and the largest kind after a certificate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unfinished {
    /// The layer the record or packet belongs to: TLS, or MQTT (plain or decrypted).
    pub layer: AppProtocol,
    pub offset: u64,
    pub held: u64,
    pub need: u64,
    /// What was cut short: `a ClientHello record`, `CONNECT` …
    pub what: String,
}

/// Up to the first 16 bytes of a direction, shown (and serialised) as lower-case hex. Held
/// inline, 17 bytes: every connection's trace keeps one for each direction for its whole life,
/// and as a hex string each was a block of its own.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstBytes {
    len: u8,
    bytes: [u8; 16],
}

impl FirstBytes {
    /// The first 16 of `b` (all of it when shorter).
    pub fn new(b: &[u8]) -> FirstBytes {
        let kept = &b[..b.len().min(16)];
        let mut bytes = [0; 16];
        bytes[..kept.len()].copy_from_slice(kept);
        FirstBytes {
            len: kept.len() as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Display for FirstBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::hex::encode(self.as_bytes()))
    }
}

impl std::fmt::Debug for FirstBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for FirstBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{Event, EventKind, Timestamp};

    /// A trace keeps every event of a connection's handshake for the connection's life, so a
    /// kind that grows every event shows in what each idle connection holds. Large kinds go
    /// in a box (`Certificate`, `Unfinished`, the hellos, MQTT packets), and a text beside a
    /// number is a `Box<str>` (16 bytes, not 24): 32 bytes a kind, 48 an event.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_event_stays_small() {
        assert_eq!(std::mem::size_of::<EventKind>(), 32);
        assert_eq!(std::mem::size_of::<Event>(), 48);
    }

    #[test]
    fn rfc3339_agrees_with_the_calendar() {
        let day = 86_400 * 1_000_000_000i64;
        let samples = [
            0,
            1,
            999,
            1_000,
            59 * 1_000_000_000 + 999_999_999,
            // 2000-02-29, 2000-03-01, 2100-02-28 and -03-01, 2026-11-27T17:20:00.060174
            11_016 * day,
            11_017 * day + 3_599_000_000_000,
            47_481 * day,
            47_482 * day,
            1_795_800_000_060_174_000,
            i64::MAX,
        ];
        for ns in samples {
            let t = Timestamp(ns);
            assert_eq!(t.rfc3339(), t.rfc3339_general(), "{ns}");
        }
        for step in 0..5_000i64 {
            let t = Timestamp(step * 7 * day + step * 1_234_567_891);
            assert_eq!(t.rfc3339(), t.rfc3339_general());
        }
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp(-1).rfc3339(), "1969-12-31T23:59:59.999999Z");
    }
}

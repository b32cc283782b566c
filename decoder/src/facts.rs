//! The summary of one connection: the facts of its trace, gathered in one pass.
//!
//! The rules and every renderer read the same [`Facts`], so they cannot disagree about which
//! ClientHello counts or who closed first. Rules stay short when they can ask "did the
//! endpoint close first?" or "what did the device send after the endpoint's certificate?"
//! instead of walking events themselves; renderers print what the rules reasoned about.

use crate::cert::Certificate;
use crate::event::{
    AppProtocol, CutCause, Direction, EncryptedPhase, Event, EventKind, HandshakeKind, Side,
};
use crate::mqtt::{Body, Packet, PacketType};
use crate::preamble::{ProxyRequest, ProxyResponse};
use crate::tls::{ClientHello, ServerHello};
use crate::trace::Trace;

/// The TLS extension by which a TLS 1.3 endpoint accepts a pre-shared key (resumption).
const PRE_SHARED_KEY: u16 = 41;

/// What the user told us about the connection.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The endpoint the device should be talking to (`--endpoint`).
    pub expected_endpoint: Option<String>,
    /// A custom domain configuration is in use (SNI required, four-name limit).
    pub custom_domain: bool,
    /// Policies to check the connection's MQTT requests against (`--policy`), with the thing,
    /// region and account; `None`: no policy was given, and no policy finding is made.
    pub policy: Option<crate::policy::Given>,
}

pub struct Alert<'a> {
    pub event: &'a Event,
    pub from: Side,
    /// `None` when the alert was encrypted.
    pub description: Option<u8>,
    pub name: Option<&'static str>,
}

pub struct Facts<'a> {
    pub trace: &'a Trace,
    pub endpoint_port: Option<u16>,
    pub opened: bool,
    /// First Protocol event of each direction (outer layer).
    pub protocol: [Option<(&'a Event, AppProtocol)>; 2],
    /// First Protocol event of each direction inside TLS (decrypted).
    pub inner_protocol: [Option<(&'a Event, AppProtocol)>; 2],
    pub client_hello: Option<(&'a Event, &'a ClientHello)>,
    /// How many ClientHellos the device sent (a second one belongs only after a
    /// HelloRetryRequest).
    pub device_hellos: u32,
    /// The ServerHello that is not a HelloRetryRequest.
    pub server_hello: Option<(&'a Event, &'a ServerHello)>,
    pub server_chain: Option<(&'a Event, &'a [Certificate])>,
    pub device_chain: Option<(&'a Event, &'a [Certificate])>,
    pub cert_request: Option<&'a Event>,
    pub alerts: Vec<Alert<'a>>,
    /// Encrypted records, each direction.
    pub encrypted: [Vec<&'a Event>; 2],
    pub mqtt: Vec<(&'a Event, &'a Packet)>,
    pub mqtt_malformed: Vec<&'a Event>,
    /// Malformed-packet events of a direction between a gap of that direction and the next
    /// packet read whole: they describe what the gap cut, not bytes that break the
    /// specification.
    pub mqtt_cut: Vec<&'a Event>,
    /// Why a direction's records stayed encrypted although keys were given, and whether bytes
    /// of that direction had been missed before (then the gap, not the keys, is the cause).
    pub undecrypted: Vec<(&'a Event, &'a str, bool)>,
    /// First FIN or RST from each side.
    pub close: [Option<&'a Event>; 2],
    pub gaps: u64,
    /// Bytes missed in each direction (capture gaps).
    pub gaps_by_dir: [u64; 2],
    /// The device's first readable TLS message that can only follow an answer from the
    /// endpoint (its Certificate, ClientKeyExchange or Finished after its ClientHello): proof
    /// that a ServerHello arrived, seen or not. A ChangeCipherSpec or encrypted records prove
    /// nothing: a TLS 1.3 device may send both before any answer (early data).
    pub device_proof_of_answer: Option<(&'a Event, &'static str)>,
    /// First byte-carrying event of each direction.
    pub first_data: [Option<&'a Event>; 2],
    pub any_decrypted: bool,
    /// The proxy's report that it could not reach the endpoint.
    pub upstream_failure: Option<(&'a Event, &'a str)>,
    /// In MITM mode, the device's own handshake with iotscope.
    pub device_leg: Option<(&'a Event, &'a crate::device_leg::DeviceLeg)>,
    /// What the connection speaks: the first protocol seen outside TLS in either direction,
    /// or TLS once TLS followed a plaintext preamble.
    pub connection_protocol: Option<AppProtocol>,
    /// The endpoint asked the device to try again with other key shares.
    pub hello_retry: Option<&'a Event>,
    /// Every FIN and every RST, in order.
    pub fins: Vec<&'a Event>,
    pub rsts: Vec<&'a Event>,
    /// The device's CONNECT requests to an HTTP proxy, before TLS.
    pub proxy_requests: Vec<(&'a Event, &'a ProxyRequest)>,
    /// The proxy's answers to them (informational 1xx ones left out).
    pub proxy_responses: Vec<(&'a Event, &'a ProxyResponse)>,
    /// Records and packets begun and not finished (cut by a close, or by the trace's end).
    pub unfinished: Vec<&'a Event>,
    /// iotscope closed the connection itself, and why.
    pub cut: Option<(&'a Event, CutCause)>,
    /// The last event of each direction that came from bytes (not a close, gap or remark).
    pub last_data: [Option<&'a Event>; 2],
}

impl<'a> Facts<'a> {
    pub fn new(trace: &'a Trace) -> Facts<'a> {
        let mut f = Facts {
            trace,
            endpoint_port: trace.identity.endpoint.map(|a| a.port()),
            opened: false,
            protocol: [None, None],
            inner_protocol: [None, None],
            client_hello: None,
            device_hellos: 0,
            server_hello: None,
            server_chain: None,
            device_chain: None,
            cert_request: None,
            alerts: Vec::new(),
            encrypted: [Vec::new(), Vec::new()],
            mqtt: Vec::new(),
            mqtt_malformed: Vec::new(),
            mqtt_cut: Vec::new(),
            undecrypted: Vec::new(),
            close: [None, None],
            gaps: 0,
            gaps_by_dir: [0, 0],
            device_proof_of_answer: None,
            first_data: [None, None],
            any_decrypted: false,
            upstream_failure: None,
            device_leg: None,
            connection_protocol: None,
            hello_retry: None,
            fins: Vec::new(),
            rsts: Vec::new(),
            proxy_requests: Vec::new(),
            proxy_responses: Vec::new(),
            unfinished: Vec::new(),
            cut: None,
            last_data: [None, None],
        };
        let mut upgraded = false;
        // A gap of each direction that no whole packet has followed yet.
        let mut cut_open = [false; 2];
        for e in trace.events() {
            let d = e.dir.index();
            f.any_decrypted |= e.decrypted;
            if !matches!(
                e.kind,
                EventKind::TcpOpen
                    | EventKind::TcpFin
                    | EventKind::TcpRst
                    | EventKind::Gap { .. }
                    | EventKind::Note { .. }
                    | EventKind::Unfinished(_)
                    | EventKind::Cut { .. }
                    | EventKind::Upstream { .. }
                    | EventKind::DeviceLeg(_)
                    | EventKind::Undecrypted { .. }
                    // A close_notify is how a side closes, not the last thing it said.
                    | EventKind::Alert {
                        description: Some(0),
                        ..
                    }
            ) {
                f.last_data[d] = Some(e);
            }
            match &e.kind {
                EventKind::Unfinished(_) => f.unfinished.push(e),
                EventKind::Cut { cause, .. } => {
                    f.cut.get_or_insert((e, *cause));
                }
                EventKind::TcpOpen => f.opened = true,
                EventKind::TcpFin | EventKind::TcpRst => {
                    f.close[d].get_or_insert(e);
                    if matches!(e.kind, EventKind::TcpFin) {
                        f.fins.push(e);
                    } else {
                        f.rsts.push(e);
                    }
                }
                EventKind::TlsAfterPlaintext { .. } => upgraded = true,
                EventKind::Gap { bytes } => {
                    f.gaps += bytes;
                    f.gaps_by_dir[d] += bytes;
                    cut_open[d] = true;
                }
                EventKind::Protocol { protocol, .. } => {
                    if !e.decrypted {
                        f.connection_protocol.get_or_insert(*protocol);
                    }
                    let slot = if e.decrypted {
                        &mut f.inner_protocol[d]
                    } else {
                        &mut f.protocol[d]
                    };
                    // TLS after a STARTTLS-like exchange replaces the plaintext's protocol.
                    match slot {
                        Some((_, p)) if *protocol == AppProtocol::Tls && *p != AppProtocol::Tls => {
                            *slot = Some((e, *protocol))
                        }
                        _ => {
                            slot.get_or_insert((e, *protocol));
                        }
                    }
                    f.first_data[d].get_or_insert(e);
                }
                EventKind::ProxyConnect(r) => {
                    f.proxy_requests.push((e, r));
                    f.first_data[d].get_or_insert(e);
                }
                EventKind::ProxyResponse(r) => {
                    if !matches!(r.status, Some(100..=199)) {
                        f.proxy_responses.push((e, r));
                    }
                    f.first_data[d].get_or_insert(e);
                }
                EventKind::ClientHello(h) if e.dir == Direction::DeviceToEndpoint => {
                    f.client_hello.get_or_insert((e, h));
                    f.device_hellos += 1;
                }
                EventKind::ServerHello(h) if h.hello_retry_request => {
                    f.hello_retry.get_or_insert(e);
                }
                EventKind::ServerHello(h) if !h.hello_retry_request => {
                    f.server_hello.get_or_insert((e, h));
                }
                EventKind::Certificate(c) => {
                    let slot = match e.dir {
                        Direction::EndpointToDevice => &mut f.server_chain,
                        Direction::DeviceToEndpoint => &mut f.device_chain,
                    };
                    slot.get_or_insert((e, &c.chain[..]));
                }
                EventKind::CertificateRequest { .. } => {
                    f.cert_request.get_or_insert(e);
                }
                EventKind::Alert {
                    description, name, ..
                } => f.alerts.push(Alert {
                    event: e,
                    from: e.dir.sender(),
                    description: *description,
                    name: *name,
                }),
                EventKind::Encrypted { .. } => f.encrypted[d].push(e),
                EventKind::Mqtt(p) => {
                    cut_open[d] = false;
                    f.mqtt.push((e, p));
                }
                EventKind::MqttMalformed { .. } if cut_open[d] => f.mqtt_cut.push(e),
                EventKind::MqttMalformed { .. } => f.mqtt_malformed.push(e),
                EventKind::Undecrypted { reason } => {
                    f.undecrypted
                        .push((e, reason.as_str(), f.gaps_by_dir[d] > 0));
                }
                EventKind::Upstream { failure } => {
                    f.upstream_failure.get_or_insert((e, failure.as_str()));
                }
                EventKind::DeviceLeg(leg) => {
                    f.device_leg.get_or_insert((e, leg));
                }
                _ => {}
            }
        }
        f.device_proof_of_answer = f.find_device_proof_of_answer();
        if upgraded {
            // TLS after a STARTTLS-like exchange: the connection is TLS.
            f.connection_protocol = f.connection_protocol.map(|_| AppProtocol::Tls);
        }
        f
    }

    fn find_device_proof_of_answer(&self) -> Option<(&'a Event, &'static str)> {
        let (ch, _) = self.client_hello?;
        self.trace.events().find_map(|e| {
            if e.dir != Direction::DeviceToEndpoint || e.ts < ch.ts || std::ptr::eq(e, ch) {
                return None;
            }
            let what = match &e.kind {
                EventKind::Certificate(_) => "its Certificate",
                EventKind::Handshake {
                    kind: crate::event::HandshakeKind::ClientKeyExchange,
                    ..
                } => "its ClientKeyExchange",
                EventKind::Handshake {
                    kind: crate::event::HandshakeKind::Finished,
                    ..
                } => "its Finished",
                _ => return None,
            };
            Some((e, what))
        })
    }

    /// Did the endpoint send anything, seen or missed by the capture? Bytes lost in a gap on
    /// the endpoint's side, and device messages that can only follow an answer, count.
    pub fn endpoint_answered(&self) -> bool {
        self.endpoint_sent_bytes()
            || self.gaps_by_dir[1] > 0
            || self.device_proof_of_answer.is_some()
    }

    /// The endpoint accepted the MQTT session: a CONNACK with code 0.
    pub fn connack_accepted(&self) -> Option<&'a Event> {
        self.mqtt.iter().find_map(|(e, p)| match &p.body {
            Body::Connack(a) if e.dir == Direction::EndpointToDevice && a.code == 0 => Some(*e),
            _ => None,
        })
    }

    /// The proxy's last answer when it refused the tunnel (a status other than 2xx), and no
    /// later answer opened it.
    pub fn proxy_refusal(&self) -> Option<(&'a Event, &'a ProxyResponse)> {
        self.proxy_responses
            .last()
            .copied()
            .filter(|(_, r)| !matches!(r.status, Some(200..=299)))
    }

    pub fn t(&self, e: &Event) -> f64 {
        self.trace.relative(e.ts)
    }

    pub fn closed_by(&self, side: Side) -> Option<&'a Event> {
        self.close[side_dir(side).index()]
    }

    /// The side that closed first, and its close event.
    pub fn first_close(&self) -> Option<(Side, &'a Event)> {
        let dev = self.close[0].map(|e| (Side::Device, e));
        let end = self.close[1].map(|e| (Side::Endpoint, e));
        match (dev, end, self.endpoint_closed_at()) {
            (Some(a), Some(b), Some(end_ts)) => Some(if end_ts < a.1.ts { b } else { a }),
            (a, b, _) => a.or(b),
        }
    }

    /// When the endpoint ended its side: its TCP close, or its close_notify when that came
    /// first (read from decrypted records only). Through `proxy --mitm` the device hears of
    /// the close_notify at once, and its own close can overtake the endpoint's TCP close on
    /// the way; the endpoint still closed first.
    pub fn endpoint_closed_at(&self) -> Option<crate::event::Timestamp> {
        let tcp = self.closed_by(Side::Endpoint)?.ts;
        let notify = self
            .alerts
            .iter()
            .filter(|a| a.from == Side::Endpoint && a.description == Some(0))
            .map(|a| a.event.ts)
            .min();
        Some(notify.map_or(tcp, |n| n.min(tcp)))
    }

    pub fn tls13(&self) -> bool {
        self.server_hello.is_some_and(|(_, h)| h.version == 0x0304)
    }

    /// The device sent a second ClientHello that no HelloRetryRequest asked for: it does not
    /// follow TLS, so how it ends the handshake says nothing about what it thought of the
    /// endpoint's flight.
    pub fn unasked_second_hello(&self) -> bool {
        self.device_hellos > 1 && self.hello_retry.is_none()
    }

    /// The endpoint resumed an earlier session, so it sent no certificate on this connection:
    /// a TLS 1.3 ServerHello that accepted a pre-shared key, or a TLS 1.2 abbreviated
    /// handshake (the endpoint's ChangeCipherSpec after its ServerHello, with no Certificate
    /// or ServerHelloDone between them, a NewSessionTicket at most).
    pub fn resumed(&self) -> bool {
        let Some((sh_ev, sh)) = self.server_hello else {
            return false;
        };
        if sh.version == 0x0304 {
            return sh.extensions.iter().any(|x| x.id == PRE_SHARED_KEY);
        }
        let after_hello = self
            .trace
            .events()
            .skip_while(|e| !std::ptr::eq(*e, sh_ev))
            .skip(1)
            .filter(|e| e.dir == Direction::EndpointToDevice);
        for e in after_hello {
            match &e.kind {
                EventKind::ChangeCipherSpec => return true,
                // A ticket for next time may come before the ChangeCipherSpec.
                EventKind::Handshake {
                    kind: HandshakeKind::NewSessionTicket,
                    ..
                } => {}
                EventKind::Certificate(_)
                | EventKind::CertificateRequest { .. }
                | EventKind::Handshake { .. } => return false,
                _ => {}
            }
        }
        false
    }

    pub fn sni(&self) -> Option<&'a str> {
        self.client_hello.and_then(|(_, h)| h.sni.as_deref())
    }

    /// The first readable alert from a side, or any alert when `readable_only` is false.
    pub fn alert_from(&self, side: Side) -> Option<&Alert<'a>> {
        self.alerts.iter().find(|a| a.from == side)
    }

    /// The protocol the device spoke inside TLS (decrypted), or outside it.
    pub fn device_app_protocol(&self) -> Option<AppProtocol> {
        self.inner_protocol[0]
            .or(self.protocol[0])
            .map(|(_, p)| p)
            .filter(|p| *p != AppProtocol::Tls)
    }

    /// Did any bytes at all come from the endpoint?
    pub fn endpoint_sent_bytes(&self) -> bool {
        self.first_data[1].is_some()
    }

    pub fn packets(
        &self,
        dir: Direction,
        t: PacketType,
    ) -> impl Iterator<Item = &(&'a Event, &'a Packet)> {
        self.mqtt
            .iter()
            .filter(move |(e, p)| e.dir == dir && p.packet_type == t)
    }

    pub fn connect(&self) -> Option<(&'a Event, &'a crate::mqtt::Connect)> {
        self.mqtt.iter().find_map(|(e, p)| match &p.body {
            Body::Connect(c) if e.dir == Direction::DeviceToEndpoint => Some((*e, c)),
            _ => None,
        })
    }

    /// The MQTT version the session is read as: the CONNECT's level when it is one the
    /// decoder knows (3, 4, 5), else 3.1.1.
    pub fn mqtt_level(&self) -> u8 {
        self.connect()
            .map(|(_, c)| c.protocol_level)
            .filter(|l| (3..=5).contains(l))
            .unwrap_or(4)
    }

    /// TLS 1.3 without keys: the device's encrypted records that came after the endpoint's
    /// first encrypted flight and before any application data from the endpoint — its
    /// Certificate, CertificateVerify and Finished.
    pub fn device_encrypted_flight(&self) -> Vec<&'a Event> {
        let Some(first_server) = self.encrypted[1].first() else {
            return Vec::new();
        };
        self.encrypted[0]
            .iter()
            .copied()
            .filter(|e| e.ts >= first_server.ts)
            .take_while(|e| match &e.kind {
                EventKind::Encrypted { phase, .. } => *phase == EncryptedPhase::Handshake,
                _ => false,
            })
            .collect()
    }

    /// The total size of encrypted events' bytes.
    pub fn encrypted_bytes(events: &[&Event]) -> u64 {
        events
            .iter()
            .map(|e| match e.kind {
                EventKind::Encrypted { bytes, .. } => bytes,
                _ => 0,
            })
            .sum()
    }
}

pub fn side_dir(side: Side) -> Direction {
    match side {
        Side::Device => Direction::DeviceToEndpoint,
        Side::Endpoint => Direction::EndpointToDevice,
    }
}

/// Is this record, by its size alone, most likely an encrypted alert? An alert is two bytes of
/// plaintext; with the AEAD suites AWS IoT allows it becomes 19 bytes in TLS 1.3 (content type
/// byte and a 16-byte tag), and 18 or 26 bytes in TLS 1.2 (ChaCha20 or AES-GCM with its
/// explicit nonce). A CONNACK, the smallest MQTT answer, is at least four bytes.
pub fn looks_like_encrypted_alert(record_len: u32, tls13: bool) -> bool {
    if tls13 {
        record_len == 19
    } else {
        record_len == 18 || record_len == 26
    }
}

//! The JSON Lines object for one connection: the same object from replay, proxy and probe.
//!
//! Where Suricata's eve format has a name for a field (`tls.sni`, `tls.version`, `tls.ja3`,
//! `mqtt.connect.client_id`, `mqtt.connack.return_code` …) the object uses it, so pipelines
//! built for eve can read it.
//!
//! The object is described by `Serialize` impls over borrowed views of the trace and written
//! with [`SortedJson`], which puts every object's keys in sorted order. The views list their
//! members in that order already, so that their objects need no sorting (a member out of
//! order costs time, not correctness); derived types such as certificates and findings are
//! sorted as they are written.

use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

use iotscope_decoder::cert::Certificate;
use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::facts::Facts;
use iotscope_decoder::mqtt::{Body, Packet, PacketType};
use iotscope_decoder::tls::{self, ClientHello, Named, ServerHello};
use iotscope_decoder::{Direction, Event, EventKind, Trace};

use super::sorted_json::SortedJson;
use super::version_name;

/// Appends the whole object for one finished connection to `out` (without a newline).
pub fn write_connection(
    out: &mut Vec<u8>,
    writer: &mut SortedJson,
    facts: &Facts,
    findings: &[Finding],
    with_events: bool,
) -> Result<(), serde_json::Error> {
    writer.write(out, &Connection::new(facts, findings, with_events))
}

/// The same, with the `account` object when the account was asked (`--account`, `--aws`).
pub fn write_connection_with_account(
    out: &mut Vec<u8>,
    writer: &mut SortedJson,
    facts: &Facts,
    findings: &[Finding],
    with_events: bool,
    account: Option<&serde_json::Value>,
) -> Result<(), serde_json::Error> {
    let mut c = Connection::new(facts, findings, with_events);
    c.account = account;
    writer.write(out, &c)
}

/// One finished connection, as its JSON object. A command that knows more about the
/// connection than its trace (the probe: what was asked, each step) adds it as one more
/// member, `probe`, with [`Connection::with_probe`].
pub struct Connection<'a, P = ()> {
    facts: &'a Facts<'a>,
    findings: &'a [Finding],
    with_events: bool,
    probe: Option<&'a P>,
    source: Option<&'a str>,
    endpoint_name: Option<&'a str>,
    /// What the account said about the connection (`--account`, `--aws`).
    account: Option<&'a serde_json::Value>,
}

impl<'a> Connection<'a> {
    /// The object of the connection `facts` sums up, with the findings the rules drew from
    /// the same facts.
    pub fn new(facts: &'a Facts<'a>, findings: &'a [Finding], with_events: bool) -> Self {
        Connection {
            facts,
            findings,
            with_events,
            probe: None,
            source: None,
            endpoint_name: None,
            account: None,
        }
    }

    /// The object with an `account` member: what the account said (`--account`, `--aws`).
    pub fn with_account(mut self, account: Option<&'a serde_json::Value>) -> Self {
        self.account = account;
        self
    }

    /// The object with a `probe` member, and `source` and `endpoint_name` as given (they
    /// replace the trace's own).
    pub fn with_probe<P: Serialize>(
        self,
        probe: &'a P,
        source: &'a str,
        endpoint_name: &'a str,
    ) -> Connection<'a, P> {
        Connection {
            facts: self.facts,
            findings: self.findings,
            with_events: self.with_events,
            probe: Some(probe),
            source: Some(source),
            endpoint_name: Some(endpoint_name),
            account: self.account,
        }
    }
}

impl<P: Serialize> Serialize for Connection<'_, P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let facts = self.facts;
        let trace = facts.trace;
        let id = &trace.identity;
        let mut o = s.serialize_struct("object", 0)?;
        if let Some(a) = self.account {
            o.serialize_field("account", a)?;
        }
        o.serialize_field("application_data", &ApplicationData(trace))?;
        o.serialize_field("certificates", &Certificates(trace))?;
        o.serialize_field("connection", &id.number)?;
        o.serialize_field("device", &id.device)?;
        // In MITM mode, what the device did on its own leg.
        if let Some((_, leg)) = facts.device_leg {
            o.serialize_field("device_leg", leg)?;
        }
        if let (Some(a), Some(b)) = (trace.first_ts, trace.last_ts) {
            o.serialize_field("duration_s", &b.seconds_since(a))?;
        }
        o.serialize_field("end", &trace.last_ts)?;
        o.serialize_field("endpoint", &id.endpoint)?;
        if let Some(n) = self.endpoint_name.or(id.endpoint_name.as_deref()) {
            o.serialize_field("endpoint_name", n)?;
        }
        if self.with_events {
            o.serialize_field("events", &Events(trace))?;
        }
        o.serialize_field("findings", self.findings)?;
        o.serialize_field("history", &tls::history(trace))?;
        if let Some(p) = HttpProxy::of(facts) {
            o.serialize_field("http_proxy", &p)?;
        }
        o.serialize_field("mqtt", &MqttSummary::of(facts))?;
        if trace.omitted_events() > 0 {
            o.serialize_field("omitted_events", &trace.omitted_events())?;
        }
        if let Some(p) = self.probe {
            o.serialize_field("probe", p)?;
        }
        o.serialize_field("protocol", &facts.connection_protocol)?;
        if let Some(src) = self.source.or(id.source.as_deref()) {
            o.serialize_field("source", src)?;
        }
        o.serialize_field("start", &trace.first_ts)?;
        o.serialize_field("tcp", &TcpSummary(facts))?;
        o.serialize_field("tls", &TlsSummary::of(facts))?;
        o.end()
    }
}

/// The HTTP proxy tunnel the device asked for before TLS: its last request and the proxy's
/// last answer (a 407 followed by a request with credentials shows the second).
#[derive(Serialize)]
struct HttpProxy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    requests: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    target: &'a str,
    /// The proxy answered 2xx: the tunnel opened.
    tunnel_open: bool,
}

impl<'a> HttpProxy<'a> {
    fn of(facts: &Facts<'a>) -> Option<HttpProxy<'a>> {
        let requests = facts.proxy_requests.len();
        let (_, req) = *facts.proxy_requests.last()?;
        let last_resp = facts.proxy_responses.last().map(|(_, r)| *r);
        let status = last_resp.and_then(|r| r.status);
        Some(HttpProxy {
            auth: req.auth.as_deref(),
            reason: last_resp.map(|r| r.reason.as_str()),
            requests,
            status,
            target: &req.target,
            tunnel_open: matches!(status, Some(200..=299)),
        })
    }
}

/// Every kept event of a trace, as an array.
struct Events<'a>(&'a Trace);

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.events())
    }
}

/// A list of the names of numbered values.
struct Names<'a>(&'a [Named]);

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        tls::serialize_names(self.0, s)
    }
}

/// Versions by name (`TLS 1.2`).
struct Versions<'a>(&'a [u16]);

impl Serialize for Versions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|v| version_name(*v)))
    }
}

#[derive(Serialize)]
struct Fingerprint<'a> {
    hash: &'a str,
    string: &'a str,
}

/// The `tls` object: both hellos, the endpoint's chain at top level as eve has it, the
/// device's under `client`, and the alerts.
struct TlsSummary<'a> {
    facts: &'a Facts<'a>,
    client: Option<&'a ClientHello>,
    server: Option<&'a ServerHello>,
}

impl<'a> TlsSummary<'a> {
    /// `None` (JSON null) when the connection had neither hello.
    fn of(facts: &'a Facts<'a>) -> Option<TlsSummary<'a>> {
        let client = facts.client_hello.map(|(_, h)| h);
        let server = facts.server_hello.map(|(_, h)| h);
        (client.is_some() || server.is_some()).then_some(TlsSummary {
            facts,
            client,
            server,
        })
    }
}

struct ClientHandshake<'a>(&'a ClientHello);

impl Serialize for ClientHandshake<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("ciphers", &Names(&h.cipher_suites))?;
        o.serialize_field("exts", &ExtensionNames(&h.extensions))?;
        o.serialize_field("groups", &Names(&h.supported_groups))?;
        o.serialize_field("key_share_groups", &Names(&h.key_share_groups))?;
        o.serialize_field("legacy_version", &version_name(h.legacy_version))?;
        o.serialize_field("max_fragment_length", &h.max_fragment_length)?;
        o.serialize_field("session_ticket", &h.session_ticket)?;
        o.serialize_field("sig_algs", &Names(&h.signature_algorithms))?;
        o.serialize_field("supported_versions", &Versions(&h.supported_versions))?;
        o.serialize_field("version", &version_name(h.highest_version()))?;
        o.end()
    }
}

struct ExtensionNames<'a>(&'a [tls::Extension]);

impl Serialize for ExtensionNames<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(tls::Extension::name))
    }
}

struct ServerHandshake<'a>(&'a ServerHello);

impl Serialize for ServerHandshake<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("cipher", &h.cipher_suite.name())?;
        o.serialize_field("exts", &ExtensionNames(&h.extensions))?;
        o.serialize_field(
            "key_share_group",
            &h.key_share_group.as_ref().map(Named::name),
        )?;
        o.serialize_field("version", &version_name(h.version))?;
        o.end()
    }
}

/// The first Certificate message of one direction, with its leaf's fields by eve's names, in
/// key order.
fn chain_entries<M: SerializeStruct>(o: &mut M, chain: &[Certificate]) -> Result<(), M::Error> {
    let leaf = chain.first();
    if let Some(leaf) = leaf {
        o.serialize_field("certificate_id", &leaf.sha256)?;
    }
    o.serialize_field("chain", &Subjects(chain))?;
    o.serialize_field("empty", &chain.is_empty())?;
    if let Some(leaf) = leaf {
        o.serialize_field("fingerprint", &leaf.sha1)?;
        o.serialize_field("issuerdn", &leaf.issuer)?;
        o.serialize_field("notafter", &leaf.not_after)?;
        o.serialize_field("notbefore", &leaf.not_before)?;
        o.serialize_field("serial", &leaf.serial)?;
        o.serialize_field("subject", &leaf.subject)?;
        o.serialize_field("subjectaltname", &leaf.san_dns)?;
    }
    Ok(())
}

struct Subjects<'a>(&'a [Certificate]);

impl Serialize for Subjects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| &c.subject))
    }
}

/// The device's chain, under `client`.
struct ClientChain<'a>(&'a [Certificate]);

impl Serialize for ClientChain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("object", 0)?;
        chain_entries(&mut o, self.0)?;
        o.end()
    }
}

impl Serialize for TlsSummary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The endpoint's chain is at top level, as eve has it, so its fields fall among the
        // hellos' in key order; the device's is under `client`.
        let server_chain = self.facts.server_chain.map(|(_, c)| c);
        let client_chain = self.facts.device_chain.map(|(_, c)| c);
        let leaf = server_chain.and_then(<[_]>::first);
        let ch = self.client;
        let sh = self.server;
        let hrr = self.facts.hello_retry.is_some();
        let mut t = s.serialize_struct("object", 0)?;
        t.serialize_field("alerts", &Alerts(self.facts))?;
        if let Some(leaf) = leaf {
            t.serialize_field("certificate_id", &leaf.sha256)?;
        }
        if let Some(chain) = server_chain {
            t.serialize_field("chain", &Subjects(chain))?;
        }
        if let Some(h) = sh {
            t.serialize_field("cipher", &h.cipher_suite.name())?;
            t.serialize_field("cipher_id", &format!("0x{:04x}", h.cipher_suite.id))?;
        }
        if let Some(chain) = client_chain {
            t.serialize_field("client", &ClientChain(chain))?;
        }
        if let Some(h) = ch {
            t.serialize_field("client_alpns", &h.alpn)?;
            t.serialize_field("client_handshake", &ClientHandshake(h))?;
            t.serialize_field("client_random", &h.random)?;
        }
        if let Some(chain) = server_chain {
            t.serialize_field("empty", &chain.is_empty())?;
        }
        if let Some(leaf) = leaf {
            t.serialize_field("fingerprint", &leaf.sha1)?;
        }
        t.serialize_field("hello_retry_request", &hrr)?;
        if let Some(leaf) = leaf {
            t.serialize_field("issuerdn", &leaf.issuer)?;
        }
        if let Some(h) = ch {
            let (ja3, hash) = h.ja3_with_hash();
            t.serialize_field(
                "ja3",
                &Fingerprint {
                    hash: &hash,
                    string: &ja3,
                },
            )?;
        }
        if let Some(h) = sh {
            t.serialize_field(
                "ja3s",
                &Fingerprint {
                    hash: &h.ja3s_hash,
                    string: &h.ja3s,
                },
            )?;
        }
        if let Some(h) = ch {
            t.serialize_field("ja4", &h.ja4)?;
        }
        if let Some(leaf) = leaf {
            t.serialize_field("notafter", &leaf.not_after)?;
            t.serialize_field("notbefore", &leaf.not_before)?;
            t.serialize_field("serial", &leaf.serial)?;
        }
        if let Some(h) = sh {
            t.serialize_field("server_alpns", &h.alpn.as_slice())?;
            t.serialize_field("server_handshake", &ServerHandshake(h))?;
        }
        if let Some(h) = ch {
            t.serialize_field("sni", &h.sni)?;
            t.serialize_field("sni_form", &h.sni_form)?;
        }
        if let Some(leaf) = leaf {
            t.serialize_field("subject", &leaf.subject)?;
            t.serialize_field("subjectaltname", &leaf.san_dns)?;
        }
        if let Some(h) = sh {
            t.serialize_field("version", &version_name(h.version))?;
        }
        t.end()
    }
}

struct Alerts<'a>(&'a Facts<'a>);

impl Serialize for Alerts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for e in self.0.alerts.iter().map(|a| a.event) {
            if let EventKind::Alert {
                level,
                description,
                name,
                encrypted,
            } = &e.kind
            {
                seq.serialize_element(&Alert {
                    from: e.dir.sender(),
                    level,
                    description,
                    name,
                    encrypted: *encrypted,
                    decrypted: e.decrypted,
                })?;
            }
        }
        seq.end()
    }
}

/// Fields in key order, as every view here lists them.
#[derive(Serialize)]
struct Alert<'a> {
    decrypted: bool,
    description: &'a Option<u8>,
    encrypted: bool,
    from: iotscope_decoder::event::Side,
    level: &'a Option<iotscope_decoder::event::AlertLevel>,
    name: &'a Option<&'static str>,
}

/// Every Certificate message, each certificate in full.
struct Certificates<'a>(&'a Trace);

impl Serialize for Certificates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for e in self.0.events() {
            if let EventKind::Certificate(c) = &e.kind {
                seq.serialize_element(&CertificateMessage {
                    event: e,
                    chain: &c.chain,
                    issued_by_next: &c.issued_by_next,
                    root: &c.root,
                    root_known: c.root_known,
                })?;
            }
        }
        seq.end()
    }
}

struct CertificateMessage<'a> {
    event: &'a Event,
    chain: &'a [Certificate],
    issued_by_next: &'a [Option<bool>],
    root: &'a Option<String>,
    root_known: bool,
}

impl Serialize for CertificateMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let at = self.event.ts.unix_seconds();
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("chain", &Chain(self.chain))?;
        o.serialize_field("decrypted", &self.event.decrypted)?;
        o.serialize_field("from", &self.event.dir.sender())?;
        o.serialize_field("issued_by_next", self.issued_by_next)?;
        o.serialize_field("root", self.root)?;
        o.serialize_field("root_known", &self.root_known)?;
        o.serialize_field(
            "valid_at_connection",
            &ValidAt {
                chain: self.chain,
                at,
            },
        )?;
        o.end()
    }
}

struct ValidAt<'a> {
    chain: &'a [Certificate],
    at: i64,
}

impl Serialize for ValidAt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.chain
                .iter()
                .map(|c| c.parse_error.is_none() && c.valid_at(self.at)),
        )
    }
}

struct Chain<'a>(&'a [Certificate]);

impl Serialize for Chain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(CertJson))
    }
}

/// One certificate's fields, with its AWS certificate ID named as such: the one JSON form of a
/// certificate, in connections and in `cert check`.
pub struct CertJson<'a>(pub &'a Certificate);

impl Serialize for CertJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every field of `Certificate` by its own name, in key order, and the ID among them;
        // a test checks this against the certificate's derived form, so a field added there
        // and forgotten here fails it.
        let c = self.0;
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("authority_key_id", &c.authority_key_id)?;
        o.serialize_field("certificate_id", &c.sha256)?;
        o.serialize_field("common_name", &c.common_name)?;
        o.serialize_field("curve", &c.curve)?;
        o.serialize_field("der_len", &c.der_len)?;
        o.serialize_field("extended_key_usage", &c.extended_key_usage)?;
        o.serialize_field("is_ca", &c.is_ca)?;
        o.serialize_field("issuer", &c.issuer)?;
        o.serialize_field("key_bits", &c.key_bits)?;
        o.serialize_field("key_type", &c.key_type)?;
        o.serialize_field("key_usage", &c.key_usage)?;
        o.serialize_field("not_after", &c.not_after)?;
        o.serialize_field("not_after_unix", &c.not_after_unix)?;
        o.serialize_field("not_before", &c.not_before)?;
        o.serialize_field("not_before_unix", &c.not_before_unix)?;
        o.serialize_field("parse_error", &c.parse_error)?;
        o.serialize_field("path_len", &c.path_len)?;
        o.serialize_field("san_dns", &c.san_dns)?;
        o.serialize_field("san_email", &c.san_email)?;
        o.serialize_field("san_ip", &c.san_ip)?;
        o.serialize_field("san_uri", &c.san_uri)?;
        o.serialize_field("serial", &c.serial)?;
        o.serialize_field("sha1", &c.sha1)?;
        o.serialize_field("sha256", &c.sha256)?;
        o.serialize_field("signature_algorithm", &c.signature_algorithm)?;
        o.serialize_field("subject", &c.subject)?;
        o.serialize_field("subject_key_id", &c.subject_key_id)?;
        o.serialize_field("version", &c.version)?;
        o.end()
    }
}

/// One certificate's fields, with its AWS certificate ID named as such, as a value to extend.
/// One packet with Suricata's names for its fields.
struct PacketJson<'a> {
    dir: Direction,
    packet: &'a Packet,
}

#[derive(Serialize)]
struct ConnectFlags {
    clean_session: bool,
    password: bool,
    username: bool,
    will: bool,
    will_retain: bool,
}

#[derive(Serialize)]
struct WillJson<'a> {
    payload_len: usize,
    properties: &'a [iotscope_decoder::mqtt::Property],
    qos: u8,
    topic: &'a str,
}

#[derive(Serialize)]
struct TopicJson<'a> {
    qos: u8,
    topic: &'a str,
}

struct Topics<'a>(&'a [iotscope_decoder::mqtt::Subscription]);

impl Serialize for Topics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|f| TopicJson {
            topic: &f.filter,
            qos: f.qos,
        }))
    }
}

impl Serialize for PacketJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.packet;
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("type", p.packet_type.name())?;
        o.serialize_field("from", &self.dir.sender())?;
        o.serialize_field("dup", &p.dup)?;
        o.serialize_field("qos", &p.qos)?;
        o.serialize_field("retain", &p.retain)?;
        match &p.body {
            Body::Connect(c) => {
                o.serialize_field("protocol_string", &c.protocol_name)?;
                o.serialize_field("protocol_version", &c.protocol_level)?;
                o.serialize_field("client_id", &c.client_id)?;
                o.serialize_field("keep_alive", &c.keep_alive)?;
                o.serialize_field(
                    "flags",
                    &ConnectFlags {
                        clean_session: c.clean_start,
                        username: c.username.is_some(),
                        password: c.password.is_some(),
                        will: c.will.is_some(),
                        will_retain: c.will.as_ref().is_some_and(|w| w.retain),
                    },
                )?;
                if let Some(u) = &c.username {
                    o.serialize_field("username", u)?;
                }
                if let Some(pw) = &c.password {
                    o.serialize_field("password", pw.value.as_deref().unwrap_or("<redacted>"))?;
                }
                if let Some(w) = &c.will {
                    o.serialize_field(
                        "will",
                        &WillJson {
                            topic: &w.topic,
                            qos: w.qos,
                            payload_len: w.payload_len,
                            properties: &w.properties,
                        },
                    )?;
                }
                o.serialize_field("properties", &c.properties)?;
            }
            Body::Connack(a) => {
                o.serialize_field("session_present", &a.session_present)?;
                o.serialize_field("return_code", &a.code)?;
                o.serialize_field("reason", a.reason)?;
                o.serialize_field("properties", &a.properties)?;
            }
            Body::Publish(x) => {
                o.serialize_field("topic", &x.topic)?;
                o.serialize_field("message_id", &x.packet_id)?;
                o.serialize_field("payload_len", &x.payload_len)?;
                o.serialize_field(
                    "message",
                    &iotscope_decoder::hex::text_or_hex(&x.payload_prefix),
                )?;
                o.serialize_field("truncated", &(x.payload_prefix.len() < x.payload_len))?;
                o.serialize_field("properties", &x.properties)?;
            }
            Body::Ack(a) => {
                o.serialize_field("message_id", &a.packet_id)?;
                o.serialize_field("reason_code", &a.code)?;
                o.serialize_field("reason", a.reason)?;
            }
            Body::Subscribe(x) => {
                o.serialize_field("message_id", &x.packet_id)?;
                o.serialize_field("topics", &Topics(&x.filters))?;
            }
            Body::SubAck(a) => {
                o.serialize_field("message_id", &a.packet_id)?;
                let key = if p.packet_type == PacketType::Suback {
                    "qos_granted"
                } else {
                    "reason_codes"
                };
                o.serialize_field(key, &a.codes)?;
            }
            Body::Unsubscribe(u) => {
                o.serialize_field("message_id", &u.packet_id)?;
                o.serialize_field("topics", &u.filters)?;
            }
            Body::Disconnect(r) | Body::Auth(r) => {
                o.serialize_field("reason_code", &r.code)?;
                o.serialize_field("reason", r.reason)?;
            }
            Body::Pingreq | Body::Pingresp | Body::Reserved => {}
        }
        if p.lost > 0 {
            o.serialize_field("lost_bytes", &p.lost)?;
        }
        if !p.problems.is_empty() {
            o.serialize_field("problems", &p.problems)?;
        }
        o.end()
    }
}

/// The `mqtt` object: every packet, and the first CONNECT and CONNACK again by name.
struct MqttSummary<'a>(&'a Facts<'a>);

impl<'a> MqttSummary<'a> {
    /// `None` (JSON null) when no MQTT packet was read, whole or begun.
    fn of(facts: &'a Facts<'a>) -> Option<MqttSummary<'a>> {
        (!facts.mqtt.is_empty() || unfinished(facts).next().is_some()).then_some(MqttSummary(facts))
    }
}

/// An MQTT packet begun and never finished: who sent it, what, and how much of what its
/// header declared arrived.
#[derive(Serialize)]
struct UnfinishedPacket<'a> {
    declared_bytes: u64,
    from: iotscope_decoder::event::Side,
    offset: u64,
    received_bytes: u64,
    #[serde(rename = "type")]
    kind: &'a str,
}

fn unfinished<'a>(facts: &'a Facts<'a>) -> impl Iterator<Item = UnfinishedPacket<'a>> {
    facts.unfinished.iter().filter_map(|e| match &e.kind {
        EventKind::Unfinished(u) if u.layer == iotscope_decoder::AppProtocol::Mqtt => {
            Some(UnfinishedPacket {
                declared_bytes: u.need,
                from: e.dir.sender(),
                offset: u.offset,
                received_bytes: u.held,
                kind: &u.what,
            })
        }
        _ => None,
    })
}

fn packets<'a>(facts: &'a Facts<'a>) -> impl Iterator<Item = PacketJson<'a>> {
    facts.mqtt.iter().map(|(e, p)| PacketJson {
        dir: e.dir,
        packet: p,
    })
}

impl Serialize for MqttSummary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("object", 0)?;
        let first = |t: PacketType| packets(self.0).find(|p| p.packet.packet_type == t);
        let connect = first(PacketType::Connect);
        if let Some(c) = &first(PacketType::Connack) {
            o.serialize_field("connack", c)?;
        }
        if let Some(c) = &connect {
            o.serialize_field("connect", c)?;
        }
        o.serialize_field("packets", &Packets(self.0))?;
        let cut: Vec<UnfinishedPacket> = unfinished(self.0).collect();
        if !cut.is_empty() {
            o.serialize_field("unfinished", &cut)?;
        }
        if let Some(Body::Connect(c)) = connect.as_ref().map(|c| &c.packet.body) {
            o.serialize_field("protocol_version", &c.protocol_level)?;
        }
        o.end()
    }
}

struct Packets<'a>(&'a Facts<'a>);

impl Serialize for Packets<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(packets(self.0))
    }
}

struct TcpSummary<'a>(&'a Facts<'a>);

impl Serialize for TcpSummary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("object", 0)?;
        o.serialize_field("fin_from", &senders(&self.0.fins))?;
        o.serialize_field("gap_bytes", &self.0.gaps)?;
        o.serialize_field("rst_from", &senders(&self.0.rsts))?;
        o.end()
    }
}

fn senders(events: &[&Event]) -> Vec<iotscope_decoder::event::Side> {
    events.iter().map(|e| e.dir.sender()).collect()
}

/// Decrypted application bytes that are neither MQTT nor HTTP: their size and first bytes.
struct ApplicationData<'a>(&'a Trace);

#[derive(Serialize)]
struct AppBytes<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    from: iotscope_decoder::event::Side,
    text: &'a str,
}

impl Serialize for ApplicationData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .events()
                .filter(|e| e.decrypted)
                .filter_map(|e| match &e.kind {
                    EventKind::Undecoded { bytes, prefix } => Some(AppBytes {
                        from: e.dir.sender(),
                        bytes: Some(*bytes),
                        text: prefix,
                    }),
                    EventKind::Http { line } => Some(AppBytes {
                        from: e.dir.sender(),
                        bytes: None,
                        text: line,
                    }),
                    _ => None,
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::cert::summarize;
    use serde_json::{json, Value};

    /// The certificate object must hold every field of [`Certificate`] (as its derived form
    /// names them) plus its ID: a field added to `Certificate` and forgotten here fails.
    #[test]
    fn certificate_object_has_every_field_and_the_id() {
        let mut unparsed = summarize(b"not a certificate");
        unparsed.san_dns = vec!["a.example".into(), "b.example".into()];
        // Every optional field filled, so that none is left out unseen.
        let full = Certificate {
            common_name: Some("cn".into()),
            curve: Some("P-256".into()),
            key_bits: Some(256),
            path_len: Some(0),
            san_ip: vec!["192.0.2.1".into()],
            san_uri: vec!["spiffe://x".into()],
            san_email: vec!["a@example.com".into()],
            subject_key_id: Some("0a".into()),
            authority_key_id: Some("0b".into()),
            key_usage: vec!["digitalSignature".into()],
            extended_key_usage: vec!["clientAuth".into()],
            ..unparsed.clone()
        };
        for c in [&unparsed, &full] {
            let mut out = Vec::new();
            SortedJson::new().write(&mut out, &CertJson(c)).unwrap();
            let ours: Value = serde_json::from_slice(&out).unwrap();
            let Value::Object(mut derived) = serde_json::to_value(c).unwrap() else {
                panic!("a certificate serialises as an object");
            };
            derived.insert("certificate_id".into(), json!(c.sha256));
            assert_eq!(ours, Value::Object(derived));
        }
    }
}

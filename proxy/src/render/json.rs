//! The JSON Lines object for one connection: the same object from replay, proxy and probe.
//!
//! Where Suricata's eve format has a name for a field (`tls.sni`, `tls.version`, `tls.ja3`,
//! `mqtt.connect.client_id`, `mqtt.connack.return_code` …) the object uses it, so pipelines
//! built for eve can read it.

use serde_json::{json, Map, Value};

use iotscope_decoder::cert::Certificate;
use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::mqtt::{Body, Packet};
use iotscope_decoder::tls::{self, ClientHello, ServerHello};
use iotscope_decoder::{Direction, EventKind, Trace};

use super::version_name;

/// The whole object for one finished connection.
pub fn connection(trace: &Trace, findings: &[Finding], with_events: bool) -> Value {
    let id = &trace.identity;
    let mut o = Map::new();
    o.insert("connection".into(), json!(id.number));
    if let Some(s) = &id.source {
        o.insert("source".into(), json!(s));
    }
    o.insert("device".into(), json!(id.device.map(|a| a.to_string())));
    o.insert("endpoint".into(), json!(id.endpoint.map(|a| a.to_string())));
    if let Some(n) = &id.endpoint_name {
        o.insert("endpoint_name".into(), json!(n));
    }
    o.insert("start".into(), json!(trace.first_ts));
    o.insert("end".into(), json!(trace.last_ts));
    if let (Some(a), Some(b)) = (trace.first_ts, trace.last_ts) {
        o.insert("duration_s".into(), json!(b.seconds_since(a)));
    }
    let protocol = trace.events().find_map(|e| match &e.kind {
        EventKind::Protocol { protocol, .. } if !e.decrypted => Some(*protocol),
        _ => None,
    });
    o.insert("protocol".into(), json!(protocol));
    o.insert("history".into(), json!(tls::history(trace)));
    o.insert("tls".into(), tls_summary(trace));
    o.insert("certificates".into(), certificates(trace));
    o.insert("mqtt".into(), mqtt_summary(trace));
    if let Some(leg) = trace.events().find_map(|e| match &e.kind {
        EventKind::DeviceLeg(leg) => Some(leg),
        _ => None,
    }) {
        o.insert("device_leg".into(), json!(leg));
    }
    o.insert("tcp".into(), tcp_summary(trace));
    o.insert("application_data".into(), application_data(trace));
    o.insert("findings".into(), json!(findings));
    if with_events {
        o.insert("events".into(), json!(trace.events().collect::<Vec<_>>()));
    }
    if trace.omitted_events() > 0 {
        o.insert("omitted_events".into(), json!(trace.omitted_events()));
    }
    Value::Object(o)
}

fn first<'a, T>(trace: &'a Trace, pick: impl Fn(&'a EventKind) -> Option<T>) -> Option<T> {
    trace.events().find_map(|e| pick(&e.kind))
}

fn tls_summary(trace: &Trace) -> Value {
    let ch: Option<&ClientHello> = first(trace, |k| match k {
        EventKind::ClientHello(h) => Some(h.as_ref()),
        _ => None,
    });
    let sh: Option<&ServerHello> = first(trace, |k| match k {
        EventKind::ServerHello(h) if !h.hello_retry_request => Some(h.as_ref()),
        _ => None,
    });
    if ch.is_none() && sh.is_none() {
        return Value::Null;
    }
    let mut t = Map::new();
    if let Some(h) = ch {
        t.insert("sni".into(), json!(h.sni));
        t.insert("sni_form".into(), json!(h.sni_form));
        t.insert("client_random".into(), json!(h.random));
        t.insert("ja3".into(), json!({"hash": h.ja3_hash, "string": h.ja3}));
        t.insert("ja4".into(), json!(h.ja4));
        t.insert("client_alpns".into(), json!(h.alpn));
        t.insert(
            "client_handshake".into(),
            json!({
                "version": version_name(h.highest_version()),
                "legacy_version": version_name(h.legacy_version),
                "supported_versions": h.supported_versions.iter().map(|v| version_name(*v)).collect::<Vec<_>>(),
                "ciphers": h.cipher_suites.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "exts": h.extensions.iter().map(|x| x.name).collect::<Vec<_>>(),
                "sig_algs": h.signature_algorithms.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "groups": h.supported_groups.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "key_share_groups": h.key_share_groups.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "max_fragment_length": h.max_fragment_length,
                "session_ticket": h.session_ticket,
            }),
        );
    }
    if let Some(h) = sh {
        t.insert("version".into(), json!(version_name(h.version)));
        t.insert("cipher".into(), json!(h.cipher_suite.name));
        t.insert(
            "cipher_id".into(),
            json!(format!("0x{:04x}", h.cipher_suite.id)),
        );
        t.insert(
            "server_alpns".into(),
            json!(h.alpn.iter().collect::<Vec<_>>()),
        );
        t.insert(
            "ja3s".into(),
            json!({"hash": h.ja3s_hash, "string": h.ja3s}),
        );
        t.insert(
            "server_handshake".into(),
            json!({
                "version": version_name(h.version),
                "cipher": h.cipher_suite.name,
                "exts": h.extensions.iter().map(|x| x.name).collect::<Vec<_>>(),
                "key_share_group": h.key_share_group.as_ref().map(|g| &g.name),
            }),
        );
    }
    let hrr = trace
        .events()
        .any(|e| matches!(&e.kind, EventKind::ServerHello(h) if h.hello_retry_request));
    t.insert("hello_retry_request".into(), json!(hrr));
    // The endpoint's chain at top level, as eve has it; the device's under `client`.
    for (dir, key) in [
        (Direction::EndpointToDevice, None),
        (Direction::DeviceToEndpoint, Some("client")),
    ] {
        let chain = trace.events().find_map(|e| match &e.kind {
            EventKind::Certificate { chain, .. } if e.dir == dir => Some(chain),
            _ => None,
        });
        let Some(chain) = chain else { continue };
        let mut c = Map::new();
        if let Some(leaf) = chain.first() {
            c.insert("subject".into(), json!(leaf.subject));
            c.insert("issuerdn".into(), json!(leaf.issuer));
            c.insert("serial".into(), json!(leaf.serial));
            c.insert("fingerprint".into(), json!(leaf.sha1));
            c.insert("certificate_id".into(), json!(leaf.sha256));
            c.insert("notbefore".into(), json!(leaf.not_before));
            c.insert("notafter".into(), json!(leaf.not_after));
            c.insert("subjectaltname".into(), json!(leaf.san_dns));
        }
        c.insert(
            "chain".into(),
            json!(chain.iter().map(|x| &x.subject).collect::<Vec<_>>()),
        );
        c.insert("empty".into(), json!(chain.is_empty()));
        match key {
            None => t.extend(c),
            Some(k) => {
                t.insert(k.into(), Value::Object(c));
            }
        }
    }
    let alerts: Vec<Value> = trace
        .events()
        .filter_map(|e| match &e.kind {
            EventKind::Alert {
                level,
                description,
                name,
                encrypted,
            } => Some(json!({
                "from": e.dir.sender(),
                "level": level,
                "description": description,
                "name": name,
                "encrypted": encrypted,
                "decrypted": e.decrypted,
            })),
            _ => None,
        })
        .collect();
    t.insert("alerts".into(), json!(alerts));
    Value::Object(t)
}

fn certificates(trace: &Trace) -> Value {
    let mut v = Vec::new();
    for e in trace.events() {
        if let EventKind::Certificate {
            chain,
            issued_by_next,
            root,
            root_known,
        } = &e.kind
        {
            let at = e.ts.unix_seconds();
            v.push(json!({
                "from": e.dir.sender(),
                "decrypted": e.decrypted,
                "valid_at_connection": chain
                    .iter()
                    .map(|c| c.parse_error.is_none() && c.valid_at(at))
                    .collect::<Vec<_>>(),
                "chain": chain.iter().map(cert_json).collect::<Vec<_>>(),
                "issued_by_next": issued_by_next,
                "root": root,
                "root_known": root_known,
            }));
        }
    }
    Value::Array(v)
}

/// One certificate's fields, with its AWS certificate ID named as such.
pub fn cert_json(c: &Certificate) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("certificate_id".into(), json!(c.sha256));
    }
    v
}

/// One packet with Suricata's names for its fields.
fn packet_json(dir: Direction, p: &Packet) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!(p.packet_type.name()));
    o.insert("from".into(), json!(dir.sender()));
    o.insert("dup".into(), json!(p.dup));
    o.insert("qos".into(), json!(p.qos));
    o.insert("retain".into(), json!(p.retain));
    match &p.body {
        Body::Connect(c) => {
            o.insert("protocol_string".into(), json!(c.protocol_name));
            o.insert("protocol_version".into(), json!(c.protocol_level));
            o.insert("client_id".into(), json!(c.client_id));
            o.insert("keep_alive".into(), json!(c.keep_alive));
            o.insert(
                "flags".into(),
                json!({
                    "clean_session": c.clean_start,
                    "username": c.username.is_some(),
                    "password": c.password.is_some(),
                    "will": c.will.is_some(),
                    "will_retain": c.will.as_ref().is_some_and(|w| w.retain),
                }),
            );
            if let Some(u) = &c.username {
                o.insert("username".into(), json!(u));
            }
            if let Some(pw) = &c.password {
                o.insert(
                    "password".into(),
                    json!(pw.value.clone().unwrap_or_else(|| "<redacted>".into())),
                );
            }
            if let Some(w) = &c.will {
                o.insert("will".into(), json!({"topic": w.topic, "qos": w.qos, "payload_len": w.payload_len, "properties": w.properties}));
            }
            o.insert("properties".into(), json!(c.properties));
        }
        Body::Connack(a) => {
            o.insert("session_present".into(), json!(a.session_present));
            o.insert("return_code".into(), json!(a.code));
            o.insert("reason".into(), json!(a.reason));
            o.insert("properties".into(), json!(a.properties));
        }
        Body::Publish(x) => {
            o.insert("topic".into(), json!(x.topic));
            o.insert("message_id".into(), json!(x.packet_id));
            o.insert("payload_len".into(), json!(x.payload_len));
            o.insert(
                "message".into(),
                json!(super::text_or_hex(&x.payload_prefix)),
            );
            o.insert(
                "truncated".into(),
                json!(x.payload_prefix.len() < x.payload_len),
            );
            o.insert("properties".into(), json!(x.properties));
        }
        Body::Ack(a) => {
            o.insert("message_id".into(), json!(a.packet_id));
            o.insert("reason_code".into(), json!(a.code));
            o.insert("reason".into(), json!(a.reason));
        }
        Body::Subscribe(s) => {
            o.insert("message_id".into(), json!(s.packet_id));
            o.insert(
                "topics".into(),
                json!(s
                    .filters
                    .iter()
                    .map(|f| json!({"topic": f.filter, "qos": f.qos}))
                    .collect::<Vec<_>>()),
            );
        }
        Body::SubAck(a) => {
            o.insert("message_id".into(), json!(a.packet_id));
            let key = if p.packet_type == iotscope_decoder::mqtt::PacketType::Suback {
                "qos_granted"
            } else {
                "reason_codes"
            };
            o.insert(key.into(), json!(a.codes));
        }
        Body::Unsubscribe(u) => {
            o.insert("message_id".into(), json!(u.packet_id));
            o.insert("topics".into(), json!(u.filters));
        }
        Body::Disconnect(r) | Body::Auth(r) => {
            o.insert("reason_code".into(), json!(r.code));
            o.insert("reason".into(), json!(r.reason));
        }
        Body::Pingreq | Body::Pingresp | Body::Reserved => {}
    }
    if !p.problems.is_empty() {
        o.insert("problems".into(), json!(p.problems));
    }
    Value::Object(o)
}

fn mqtt_summary(trace: &Trace) -> Value {
    let mut packets = Vec::new();
    let mut o = Map::new();
    for e in trace.events() {
        if let EventKind::Mqtt(p) = &e.kind {
            let v = packet_json(e.dir, p);
            let key = p.packet_type.name().to_ascii_lowercase();
            if matches!(key.as_str(), "connect" | "connack") && !o.contains_key(&key) {
                o.insert(key, v.clone());
            }
            packets.push(v);
        }
    }
    if packets.is_empty() {
        return Value::Null;
    }
    if let Some(level) = o
        .get("connect")
        .and_then(|c| c.get("protocol_version"))
        .cloned()
    {
        o.insert("protocol_version".into(), level);
    }
    o.insert("packets".into(), Value::Array(packets));
    Value::Object(o)
}

fn tcp_summary(trace: &Trace) -> Value {
    let mut fin = Vec::new();
    let mut rst = Vec::new();
    let mut gaps = 0u64;
    for e in trace.events() {
        match e.kind {
            EventKind::TcpFin => fin.push(e.dir.sender()),
            EventKind::TcpRst => rst.push(e.dir.sender()),
            EventKind::Gap { bytes } => gaps += bytes,
            _ => {}
        }
    }
    json!({"fin_from": fin, "rst_from": rst, "gap_bytes": gaps})
}

/// Decrypted application bytes that are neither MQTT nor HTTP: their size and first bytes.
fn application_data(trace: &Trace) -> Value {
    let v: Vec<Value> = trace
        .events()
        .filter(|e| e.decrypted)
        .filter_map(|e| match &e.kind {
            EventKind::Undecoded { bytes, prefix } => {
                Some(json!({"from": e.dir.sender(), "bytes": bytes, "text": prefix}))
            }
            EventKind::Http { line } => Some(json!({"from": e.dir.sender(), "text": line})),
            _ => None,
        })
        .collect();
    Value::Array(v)
}

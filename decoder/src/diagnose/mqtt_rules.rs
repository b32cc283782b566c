//! Rules about the MQTT session itself: refusals, malformed packets, AWS IoT's limits and
//! client ids taken over.

use super::authorization::code_text;
use super::code::Code;
use super::facts::Facts;
use super::finding::{Finding, Severity};
use crate::event::{Direction, EventKind};
use crate::mqtt::{Body, Packet, PacketType};

pub fn rules(f: &Facts, out: &mut Vec<Finding>) {
    connect_refused(f, out);
    malformed(f, out);
    aws_limits(f, out);
    session_taken_over(f, out);
}

fn connect_refused(f: &Facts, out: &mut Vec<Finding>) {
    let level = f.mqtt_level();
    for (ev, p) in f.packets(Direction::EndpointToDevice, PacketType::Connack) {
        let Body::Connack(a) = &p.body else { continue };
        let auth = if level >= 5 {
            a.code == 0x87
        } else {
            a.code == 5
        };
        if a.code == 0 || auth {
            continue;
        }
        let mut fd = Finding::new(
            Code::MqttConnectRefused,
            format!(
                "The endpoint refused CONNECT: CONNACK {} ({}).",
                code_text(level, a.code),
                a.reason
            ),
        );
        if let Some((cev, c)) = f.connect() {
            fd = fd.evidence(
                f.t(cev),
                format!(
                    "CONNECT protocol {} level {} client_id={:?}",
                    c.protocol_name, c.protocol_level, c.client_id
                ),
            );
            if !(3..=5).contains(&c.protocol_level) {
                fd.summary.push_str(&format!(
                    " The device asked for MQTT protocol level {}; AWS IoT Core speaks 3.1.1 (level 4) and 5.",
                    c.protocol_level
                ));
            }
        }
        out.push(fd.evidence(f.t(ev), format!("CONNACK {}", code_text(level, a.code))));
    }
}

/// The most bytes AWS IoT Core takes in one CONNECT or PUBLISH ("rejects publish and connect
/// requests larger than" 128 KB).
pub const AWS_MAX_PACKET: u64 = 128 * 1024;

/// The largest remaining length MQTT can express (four length bytes).
pub const MQTT_MAX_REMAINING: u64 = 268_435_455;

/// Packets begun and never finished: one the sender cut by closing breaks the framing; one
/// whose header declares more than AWS IoT Core would ever take is named for that, cut or not.
fn unfinished(f: &Facts, out: &mut Vec<Finding>) {
    for ev in &f.unfinished {
        let EventKind::Unfinished(u) = &ev.kind else {
            continue;
        };
        if u.layer != crate::event::AppProtocol::Mqtt {
            continue;
        }
        let (offset, held, need, what) = (&u.offset, &u.held, &u.need, &u.what);
        let sender = ev.dir.sender();
        let close = f.closed_by(sender).filter(|c| c.ts >= ev.ts);
        let absurd = ev.dir == Direction::DeviceToEndpoint
            && matches!(what.as_str(), "CONNECT" | "PUBLISH")
            && *need > AWS_MAX_PACKET;
        let then = match close {
            Some(c) => format!(
                "the device closed the connection {:.1} s after its last bytes",
                f.t(c) - f.last_data[0].map_or(f.t(c), |e| f.t(e))
            ),
            None => "nothing more came from the device".to_string(),
        };
        if absurd {
            let max = if need.saturating_sub(5) >= MQTT_MAX_REMAINING {
                ", the most MQTT can express"
            } else {
                ""
            };
            let mut fd = Finding::new(
                Code::MqttAwsLimit,
                format!(
                    "The device's {what} at byte {offset} declares a length of {need} bytes with its header{max}; AWS IoT Core refuses a {what} over 128 KB ({AWS_MAX_PACKET} bytes). {held} bytes of it came, then {then}. A length like this is a device bug (a length computed wrongly or an uninitialised buffer) or a probe, not a message."
                ),
            )
            .severity(Severity::Error)
            .evidence(f.t(ev), format!("{what} declaring {need} bytes, {held} received"));
            if let Some(c) = close {
                fd = fd.evidence(f.t(c), "device closed the connection");
            }
            out.push(fd);
        } else if let Some(c) = close {
            out.push(
                Finding::new(
                    Code::MqttMalformed,
                    format!(
                        "The {sender} closed the connection in the middle of a packet: {held} of the {need} bytes of its {what} at byte {offset}."
                    ),
                )
                .evidence(f.t(ev), format!("{held} of {need} bytes of {what}"))
                .evidence(f.t(c), format!("{sender} closed the connection")),
            );
        }
    }
}

/// Packets whose bytes break the specification. A packet cut by a gap (bytes missed by the
/// capture, or copies the proxy could not hand on) is not one of them: `Facts` keeps those
/// apart, and CONN.TRUNCATED tells of the gap.
fn malformed(f: &Facts, out: &mut Vec<Finding>) {
    unfinished(f, out);
    for ev in &f.mqtt_malformed {
        if let EventKind::MqttMalformed { offset, reason } = &ev.kind {
            let mut fd = Finding::new(
                Code::MqttMalformed,
                format!(
                    "The {} sent a malformed MQTT packet at byte {offset}: {reason}.",
                    ev.dir.sender()
                ),
            )
            .evidence(f.t(ev), reason.clone());
            // A lenient endpoint whose next answer went on with the session (a CONNACK 0, a
            // PUBACK) took the packet: it is a fault to fix, not why the connection failed. A
            // refusing CONNACK or a DISCONNECT is the endpoint refusing it, and stays an error.
            let next_answer = f.mqtt.iter().find(|(e, _)| {
                ev.dir == Direction::DeviceToEndpoint
                    && e.dir == Direction::EndpointToDevice
                    && e.ts >= ev.ts
            });
            let went_on = next_answer.filter(|(_, p)| match &p.body {
                Body::Connack(a) => a.code == 0,
                _ => p.packet_type != PacketType::Disconnect,
            });
            if let Some((answer, p)) = went_on {
                fd = fd.severity(Severity::Warning).evidence(
                    f.t(answer),
                    format!(
                        "the endpoint answered with {} and went on",
                        p.packet_type.name()
                    ),
                );
                fd.summary
                    .push_str(" The endpoint answered after it and the session went on.");
            }
            out.push(fd);
        }
    }
    for (ev, p) in &f.mqtt {
        if p.problems.is_empty() {
            continue;
        }
        // A device packet the endpoint answered by closing at once is the cause of the close
        // (MQTT requires a server to close on a malformed packet): an error, which the
        // root-cause ranking puts above the refusal the close would otherwise suggest.
        let closed = (ev.dir == Direction::DeviceToEndpoint)
            .then(|| super::authorization::endpoint_closed_after(f, ev))
            .flatten();
        let mut fd = Finding::new(
            Code::MqttMalformed,
            format!(
                "The {}'s {} at byte {} breaks the MQTT specification: {}.",
                ev.dir.sender(),
                p.packet_type.name(),
                p.offset,
                p.problems.join("; ")
            ),
        )
        .severity(Severity::Warning)
        .evidence(f.t(ev), p.packet_type.name());
        if let Some(close) = closed {
            fd = fd.severity(Severity::Error).evidence(
                f.t(close),
                "endpoint closed the connection without answering it",
            );
            fd.summary.push_str(&format!(
                " The endpoint closed the connection {:.1} ms later without answering it.",
                (f.t(close) - f.t(ev)) * 1000.0
            ));
        }
        out.push(fd);
    }
}

/// Limits AWS IoT Core enforces by refusing the CONNECT (it closes the connection), as
/// opposed to the ones it adjusts (keep-alive) or enforces later.
fn connect_refusing_limit(p: &Packet) -> Option<String> {
    match &p.body {
        Body::Connect(c) if c.client_id.len() > 128 => Some(format!(
            "client id of {} bytes (limit 128)",
            c.client_id.len()
        )),
        _ => None,
    }
}

/// AWS IoT Core's limits, checked on what the device sends.
fn limit_problems(p: &Packet) -> Vec<String> {
    let mut v = Vec::new();
    let topic_check = |topic: &str, v: &mut Vec<String>| {
        let slashes = topic.matches('/').count();
        // The Basic Ingest prefix does not count.
        let counted = topic
            .strip_prefix("$aws/rules/")
            .and_then(|r| r.split_once('/').map(|(_, rest)| rest))
            .unwrap_or(topic);
        if counted.len() > 256 {
            v.push(format!("topic of {} bytes (limit 256)", counted.len()));
        }
        let counted_slashes = if counted.len() == topic.len() {
            slashes
        } else {
            counted.matches('/').count()
        };
        if counted_slashes > 7 {
            v.push(format!(
                "topic with {counted_slashes} slashes (limit 7): {topic}"
            ));
        }
    };
    match &p.body {
        Body::Connect(c) => {
            if !(30..=1200).contains(&c.keep_alive) {
                v.push(match c.keep_alive {
                    0 => "keep-alive 0 (AWS IoT uses 1200 s instead)".to_string(),
                    k if k < 30 => format!("keep-alive {k} s (AWS IoT raises it to 30 s)"),
                    k => format!("keep-alive {k} s (AWS IoT uses 1200 s instead)"),
                });
            }
            if c.client_id.len() > 128 {
                v.push(format!(
                    "client id of {} bytes (limit 128)",
                    c.client_id.len()
                ));
            }
            if let Some(asked) = int_property(&c.properties, "session_expiry_interval")
                .filter(|&n| n > AWS_MAX_SESSION_EXPIRY)
            {
                v.push(format!(
                    "session expiry {asked} s (AWS IoT keeps a session at most 7 days, 604800 s, and 1 h unless the account's limit was raised)"
                ));
            }
            if let Some(w) = &c.will {
                if w.qos == 2 {
                    v.push("will QoS 2 (AWS IoT supports QoS 0 and 1)".to_string());
                }
                topic_check(&w.topic, &mut v);
            }
        }
        Body::Publish(x) => {
            if p.qos == 2 {
                v.push(format!(
                    "PUBLISH QoS 2 on {} (AWS IoT supports QoS 0 and 1; no PUBACK comes back)",
                    x.topic
                ));
            }
            if x.payload_len as u64 > AWS_MAX_PACKET {
                v.push(format!("payload of {} bytes (limit 128 KB)", x.payload_len));
            }
            topic_check(&x.topic, &mut v);
        }
        Body::Subscribe(s) => {
            if s.filters.len() > 8 {
                v.push(format!(
                    "{} filters in one SUBSCRIBE (limit 8)",
                    s.filters.len()
                ));
            }
            for sub in &s.filters {
                if sub.qos == 2 {
                    v.push(format!(
                        "subscription QoS 2 on {} (AWS IoT grants at most QoS 1)",
                        sub.filter
                    ));
                }
                topic_check(&sub.filter, &mut v);
            }
        }
        _ => {}
    }
    v
}

/// AWS IoT Core's longest persistent session: 7 days (aws-iot-facts.md, MQTT 5 CONNACK
/// properties); the account's own maximum, 1 h by default, may be lower.
const AWS_MAX_SESSION_EXPIRY: u32 = 604_800;

/// An MQTT 5 integer property by name.
fn int_property(props: &[crate::mqtt::Property], name: &str) -> Option<u32> {
    props.iter().find_map(|p| match p.value {
        crate::mqtt::PropertyValue::Int(n) if p.name == name => Some(n),
        _ => None,
    })
}

/// The session expiry the device asked for and the lower one the endpoint's CONNACK granted
/// (MQTT 5: a server that will not keep the session as long says so in its CONNACK).
fn session_expiry_cut<'a>(f: &Facts<'a>) -> Option<(u32, u32, &'a crate::Event)> {
    let (_, c) = f.connect()?;
    let asked = int_property(&c.properties, "session_expiry_interval")?;
    f.mqtt.iter().find_map(|(e, p)| match &p.body {
        Body::Connack(a) if e.dir == Direction::EndpointToDevice && a.code == 0 => {
            int_property(&a.properties, "session_expiry_interval")
                .filter(|&granted| granted < asked)
                .map(|granted| (asked, granted, *e))
        }
        _ => None,
    })
}

fn aws_limits(f: &Facts, out: &mut Vec<Finding>) {
    let mut problems = Vec::new();
    let mut first_t = None;
    if let Some((asked, granted, e)) = session_expiry_cut(f) {
        first_t = Some(f.t(e));
        problems.push(format!(
            "session expiry {asked} s asked, {granted} s granted by the endpoint's CONNACK (the session ends {granted} s after a disconnect, not {asked} s)"
        ));
    }
    for (ev, p) in &f.mqtt {
        if ev.dir != Direction::DeviceToEndpoint {
            continue;
        }
        let found = limit_problems(p);
        if !found.is_empty() {
            first_t.get_or_insert(f.t(ev));
            for x in found {
                if !problems.contains(&x) {
                    problems.push(x);
                }
            }
        }
    }
    if let Some(t) = first_t {
        let n = problems.len();
        let shown: Vec<String> = problems.iter().take(5).cloned().collect();
        let mut fd = Finding::new(
            Code::MqttAwsLimit,
            format!(
                "The device sends what AWS IoT Core would adjust or refuse: {}{}.",
                shown.join("; "),
                if n > 5 {
                    format!(" (and {} more)", n - 5)
                } else {
                    String::new()
                }
            ),
        );
        for p in shown {
            fd = fd.evidence(t, p);
        }
        // A CONNECT over a limit AWS IoT Core refuses, closed at once: the limit is the
        // likeliest cause of the close.
        if let Some((cev, limit)) = f
            .mqtt
            .iter()
            .find(|(e, p)| {
                e.dir == Direction::DeviceToEndpoint && p.packet_type == PacketType::Connect
            })
            .and_then(|(e, p)| connect_refusing_limit(p).map(|l| (*e, l)))
        {
            let no_connack = f
                .packets(Direction::EndpointToDevice, PacketType::Connack)
                .next()
                .is_none();
            if let Some(close) =
                super::authorization::endpoint_closed_after(f, cev).filter(|_| no_connack)
            {
                fd = fd
                    .severity(Severity::Error)
                    .evidence(f.t(close), "endpoint closed the connection, no CONNACK");
                fd.summary.push_str(&format!(
                    " The CONNECT's {limit} is one AWS IoT Core refuses, and the endpoint closed the connection {:.1} ms after it without a CONNACK.",
                    (f.t(close) - f.t(cev)) * 1000.0
                ));
            }
        }
        // The same for a PUBLISH AWS IoT Core refuses (a payload over 128 KB, QoS 2) that the
        // endpoint answered by closing at once: the limit, not a policy, is the likeliest cause.
        if fd.severity != Severity::Error {
            let refused = f.mqtt.iter().find(|(e, p)| {
                e.dir == Direction::DeviceToEndpoint
                    && matches!(&p.body, Body::Publish(x)
                        if p.qos == 2 || x.payload_len as u64 > AWS_MAX_PACKET)
            });
            if let Some((pev, _)) = refused {
                if let Some(close) = super::authorization::endpoint_closed_after(f, pev) {
                    fd = fd
                        .severity(Severity::Error)
                        .evidence(f.t(close), "endpoint closed the connection");
                    fd.summary.push_str(&format!(
                        " The endpoint closed the connection {:.1} ms after that PUBLISH, without acknowledging it.",
                        (f.t(close) - f.t(pev)) * 1000.0
                    ));
                }
            }
        }
        out.push(fd);
    }
}

fn session_taken_over(f: &Facts, out: &mut Vec<Finding>) {
    for (ev, p) in f.packets(Direction::EndpointToDevice, PacketType::Disconnect) {
        if let Body::Disconnect(d) = &p.body {
            if d.code == 0x8e {
                let client = f
                    .connect()
                    .map(|(_, c)| c.client_id.clone())
                    .unwrap_or_default();
                out.push(
                    Finding::new(
                        Code::MqttSessionTakenOver,
                        format!("The endpoint disconnected client {client:?} because another connection took over its client id (DISCONNECT 0x8E)."),
                    )
                    .evidence(f.t(ev), "DISCONNECT 0x8E Session taken over"),
                );
            }
        }
    }
}

/// A DISCONNECT in which the endpoint said why it ended the session (MQTT 5), when no other
/// rule has named the cause: the reason code is the diagnosis, and without this a keep-alive
/// timeout the endpoint announced would leave the connection with no finding at all. Runs
/// after the other rules, so a refusal they explain (a PUBLISH denied, a limit broken) keeps
/// its own finding.
pub fn server_disconnect(f: &Facts, out: &mut Vec<Finding>) {
    let explained = out.iter().any(|fd| {
        (fd.severity == Severity::Error && fd.code != Code::ConnTruncated)
            || matches!(
                fd.code,
                Code::MqttAwsLimit
                    | Code::MqttMalformed
                    | Code::AuthzPublishDenied
                    | Code::AuthzSubscribeDenied
                    | Code::AuthzConnectDenied
                    | Code::MqttConnectRefused
            )
    });
    if explained {
        return;
    }
    let said = f
        .packets(Direction::EndpointToDevice, PacketType::Disconnect)
        .find_map(|(ev, p)| match &p.body {
            Body::Disconnect(d) if d.code >= 0x80 && d.code != 0x8e => Some((ev, d)),
            _ => None,
        });
    let Some((ev, d)) = said else { return };
    let client = f
        .connect()
        .map(|(_, c)| c.client_id.clone())
        .unwrap_or_default();
    let reason = d.reason;
    let mut fd = Finding::new(
        Code::MqttServerDisconnect,
        format!(
            "The endpoint ended the session of client {client:?} with DISCONNECT 0x{:02X} ({reason}).",
            d.code
        ),
    )
    .evidence(f.t(ev), format!("DISCONNECT 0x{:02X} {reason}", d.code));
    // Shutting down is the endpoint's doing, not the device's: worth knowing, not a fault.
    if d.code == 0x8b {
        fd = fd.severity(Severity::Warning);
    }
    out.push(fd);
}

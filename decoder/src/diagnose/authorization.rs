//! Rules for the guide's Authorization section: what the endpoint's MQTT answers refuse.
//!
//! These need the MQTT packets: plain MQTT, a capture decrypted with a key log, or MITM mode.

use super::catalogue::Values;
use super::code::Code;
use super::facts::Facts;
use super::finding::{Certainty, Finding};
use crate::event::{Direction, Event, Side};
use crate::mqtt::{Body, Packet};

pub fn rules(f: &Facts, values: &Values, out: &mut Vec<Finding>) {
    connect(f, values, out);
    publish(f, values, out);
    subscribe(f, values, out);
}

/// Is `code` the "not authorized" answer of this protocol level?
fn not_authorized(level: u8, code: u8) -> bool {
    if level >= 5 {
        code == 0x87
    } else {
        code == 5
    }
}

/// The endpoint's close, when it came after `after` with no MQTT packet from the endpoint in
/// between and no alert explaining it.
/// The endpoint accepted the CONNECT (a CONNACK came): only then can a later close be about a
/// SUBSCRIBE or PUBLISH. A device that sends CONNECT, SUBSCRIBE and PUBLISH at once and is
/// closed before any CONNACK was refused at CONNECT.
fn connect_accepted(f: &Facts) -> bool {
    f.mqtt.iter().any(|(e, p)| {
        e.dir == Direction::EndpointToDevice && matches!(&p.body, Body::Connack(a) if a.code == 0)
    })
}

pub(super) fn endpoint_closed_after<'a>(f: &Facts<'a>, after: &Event) -> Option<&'a Event> {
    let close = f.closed_by(Side::Endpoint)?;
    if close.ts < after.ts {
        return None;
    }
    let answered = f
        .mqtt
        .iter()
        .any(|(e, _)| e.dir == Direction::EndpointToDevice && e.ts >= after.ts && e.ts <= close.ts);
    let alert = f.alerts.iter().any(|a| {
        a.from == Side::Endpoint && a.description.is_some_and(|d| d != 0) && a.event.ts <= close.ts
    });
    let endpoint_closed = f.endpoint_closed_at().unwrap_or(close.ts);
    let device_closed_first = f
        .closed_by(Side::Device)
        .is_some_and(|d| d.ts <= endpoint_closed);
    // A close a whole keep-alive period (or more) after the device's packet is the endpoint's
    // keep-alive timeout, not a refusal: AWS IoT Core waits 1.5 times the keep-alive (1200 s
    // for 0), a refusal comes at once.
    let keep_alive = f.connect().map(|(_, c)| {
        if c.keep_alive == 0 {
            1200
        } else {
            c.keep_alive
        }
    });
    let timed_out = keep_alive.is_some_and(|k| f.t(close) - f.t(after) >= f64::from(k));
    (!answered && !alert && !device_closed_first && !timed_out).then_some(close)
}

fn connect(f: &Facts, values: &Values, out: &mut Vec<Finding>) {
    let Some((ev, c)) = f.connect() else {
        return;
    };
    let level = f.mqtt_level();
    let connack = f.mqtt.iter().find_map(|(e, p)| match &p.body {
        Body::Connack(a) if e.dir == Direction::EndpointToDevice => Some((*e, a)),
        _ => None,
    });
    // Plain MQTT that the endpoint never answered at all is CONN.NOT_TLS, not a refusal.
    let plain = f.protocol[0].is_some_and(|(_, p)| p != crate::event::AppProtocol::Tls);
    if plain && !f.endpoint_sent_bytes() {
        return;
    }
    match connack {
        Some((ack_ev, a)) if not_authorized(level, a.code) => out.push(
            Finding::new(
                Code::AuthzConnectDenied,
                format!(
                    "The endpoint refused CONNECT from client {:?}: CONNACK {} ({}).",
                    c.client_id,
                    code_text(level, a.code),
                    a.reason
                ),
            )
            .evidence(f.t(ev), format!("CONNECT client_id={:?}", c.client_id))
            .evidence(f.t(ack_ev), format!("CONNACK {}", code_text(level, a.code))),
        ),
        Some(_) => {}
        None => {
            if let Some(close) = endpoint_closed_after(f, ev) {
                out.push(
                    Finding::new(
                        Code::AuthzConnectDenied,
                        format!(
                            "The endpoint closed the connection {:.1} ms after CONNECT from client {:?}, without a CONNACK.",
                            (f.t(close) - f.t(ev)) * 1000.0,
                            c.client_id
                        ),
                    )
                    .certainty(Certainty::Likely)
                    .evidence(f.t(ev), format!("CONNECT client_id={:?}", c.client_id))
                    .evidence(f.t(close), "endpoint closed the connection, no CONNACK")
                    .candidates([
                        "the policy attached to the certificate does not allow iot:Connect for this client id",
                        "the certificate is not ACTIVE (inactive or revoked)",
                        "another device is connecting with the same client id, or connects are throttled",
                    ])
                    .settle(super::catalogue::fill(
                        "AWSIotLogsV2: a Connect entry with status Failure for client {client_id} gives the reason (AUTHORIZATION_FAILURE)",
                        values,
                    )),
                );
            }
        }
    }
}

/// The PUBLISH a PUBACK answers.
fn publish_for<'a>(
    f: &Facts<'a>,
    packet_id: u16,
    before: &Event,
) -> Option<(&'a Event, &'a Packet)> {
    f.mqtt
        .iter()
        .rev()
        .find(|(e, p)| {
            e.dir == Direction::DeviceToEndpoint
                && e.ts <= before.ts
                && matches!(&p.body, Body::Publish(x) if x.packet_id == Some(packet_id))
        })
        .copied()
}

fn topic_of(p: &Packet) -> &str {
    match &p.body {
        Body::Publish(x) => &x.topic,
        _ => "",
    }
}

fn publish(f: &Facts, values: &Values, out: &mut Vec<Finding>) {
    let level = f.mqtt_level();
    for (ev, p) in &f.mqtt {
        let Body::Ack(a) = &p.body else { continue };
        if ev.dir != Direction::EndpointToDevice
            || p.packet_type != crate::mqtt::PacketType::Puback
            || !(level >= 5 && a.code == 0x87)
        {
            continue;
        }
        let topic = publish_for(f, a.packet_id, ev).map(|(_, p)| topic_of(p).to_string());
        let mut fd = Finding::new(
            Code::AuthzPublishDenied,
            format!(
                "The endpoint refused PUBLISH {} on topic {}: PUBACK 0x87 (Not authorized).",
                a.packet_id,
                topic.as_deref().unwrap_or("(not seen)")
            ),
        );
        if let Some((pe, _)) = publish_for(f, a.packet_id, ev) {
            fd = fd.evidence(
                f.t(pe),
                format!(
                    "PUBLISH {} topic {}",
                    a.packet_id,
                    topic.as_deref().unwrap_or("")
                ),
            );
        }
        fd = fd.evidence(f.t(ev), format!("PUBACK {} reason 0x87", a.packet_id));
        fd.next_steps = steps_for(Code::AuthzPublishDenied, values, topic.as_deref(), None);
        out.push(fd);
        return;
    }
    // MQTT 3.1.1: AWS IoT closes the connection instead. What the endpoint refused is the
    // device's last packet before that close: whatever the device sent after it (the
    // DISCONNECT an SDK sends once it sees the hang-up, relayed by a proxy) is its reaction.
    // The endpoint's close is its close_notify when that came first (see
    // `Facts::endpoint_closed_at`).
    let closed_at = f.endpoint_closed_at();
    let last_device =
        f.mqtt.iter().rev().find(|(e, _)| {
            e.dir == Direction::DeviceToEndpoint && closed_at.is_none_or(|c| e.ts <= c)
        });
    if let Some((ev, p)) = last_device.filter(|_| connect_accepted(f)) {
        if let Body::Publish(x) = &p.body {
            if let Some(close) = endpoint_closed_after(f, ev) {
                let mut fd = Finding::new(
                    Code::AuthzPublishDenied,
                    format!(
                        "The endpoint closed the connection {:.1} ms after a PUBLISH on topic {}, without acknowledging it.",
                        (f.t(close) - f.t(ev)) * 1000.0,
                        x.topic
                    ),
                )
                .certainty(Certainty::Likely)
                .evidence(f.t(ev), format!("PUBLISH topic {} QoS {}", x.topic, p.qos))
                .evidence(f.t(close), "endpoint closed the connection")
                .candidates([
                    "the policy does not allow iot:Publish on this topic".to_string(),
                    "the packet breaks an AWS IoT limit (topic length or depth, payload over 128 KB, QoS 2)".to_string(),
                    "the endpoint went away on its own just then (a restart, a crash, a dropped link): the PUBLISH is then only unacknowledged, and the device must send it again".to_string(),
                ])
                .settle("AWSIotLogsV2: a Publish-In entry with status Failure and reason AUTHORIZATION_FAILURE; none, and a Disconnect entry instead (or your broker's log), means the endpoint went away");
                fd.next_steps = steps_for(Code::AuthzPublishDenied, values, Some(&x.topic), None);
                out.push(fd);
            }
        }
    }
}

fn subscribe(f: &Facts, values: &Values, out: &mut Vec<Finding>) {
    let level = f.mqtt_level();
    for (ev, p) in &f.mqtt {
        let Body::SubAck(a) = &p.body else { continue };
        if ev.dir != Direction::EndpointToDevice || p.packet_type != crate::mqtt::PacketType::Suback
        {
            continue;
        }
        let request = f.mqtt.iter().rev().find_map(|(e, p)| match &p.body {
            Body::Subscribe(s)
                if e.dir == Direction::DeviceToEndpoint
                    && s.packet_id == a.packet_id
                    && e.ts <= ev.ts =>
            {
                Some((*e, s))
            }
            _ => None,
        });
        for (i, code) in a.codes.iter().enumerate() {
            // 0x80 is "Failure" in 3.1.1 and "Unspecified error" in MQTT 5; AWS IoT Core
            // answers a filter the policy does not allow with it in 3.1.1, and may in 5.
            if *code != 0x87 && *code != 0x80 {
                continue;
            }
            let filter = request
                .and_then(|(_, s)| s.filters.get(i))
                .map(|s| s.filter.clone());
            let mut fd = Finding::new(
                Code::AuthzSubscribeDenied,
                format!(
                    "The endpoint refused the subscription to {}: SUBACK 0x{code:02x}.",
                    filter.as_deref().unwrap_or("(filter not seen)")
                ),
            );
            if level < 5 || *code == 0x80 {
                fd = fd.certainty(Certainty::Likely).candidates([
                    "the policy does not allow iot:Subscribe on this topic filter",
                    "the subscription was throttled or exceeds the 50 subscriptions per connection",
                ]);
            }
            if let Some((re, _)) = request {
                fd = fd.evidence(
                    f.t(re),
                    format!("SUBSCRIBE {}", filter.as_deref().unwrap_or("")),
                );
            }
            fd = fd.evidence(f.t(ev), format!("SUBACK 0x{code:02x}"));
            fd.next_steps = steps_for(Code::AuthzSubscribeDenied, values, None, filter.as_deref());
            out.push(fd);
        }
    }
    let last_device = f
        .mqtt
        .iter()
        .rev()
        .find(|(e, _)| e.dir == Direction::DeviceToEndpoint);
    if let Some((ev, p)) = last_device.filter(|_| connect_accepted(f)) {
        if let Body::Subscribe(s) = &p.body {
            if let Some(close) = endpoint_closed_after(f, ev) {
                let filters: Vec<&str> = s.filters.iter().map(|x| x.filter.as_str()).collect();
                let mut fd = Finding::new(
                    Code::AuthzSubscribeDenied,
                    format!(
                        "The endpoint closed the connection {:.1} ms after SUBSCRIBE to {}, without a SUBACK.",
                        (f.t(close) - f.t(ev)) * 1000.0,
                        filters.join(", ")
                    ),
                )
                .certainty(Certainty::Likely)
                .evidence(f.t(ev), format!("SUBSCRIBE {}", filters.join(", ")))
                .evidence(f.t(close), "endpoint closed the connection")
                .candidates([
                    "the policy does not allow iot:Subscribe on the filter (the resource is topicfilter/…)",
                    "more than 8 filters, or a filter outside AWS IoT's limits",
                ]);
                fd.next_steps = steps_for(
                    Code::AuthzSubscribeDenied,
                    values,
                    None,
                    filters.first().copied(),
                );
                out.push(fd);
            }
        }
    }
}

fn steps_for(
    code: Code,
    values: &Values,
    topic: Option<&str>,
    filter: Option<&str>,
) -> Vec<String> {
    let mut v = values.clone();
    if let Some(t) = topic {
        v.topic = Some(t.to_string());
    }
    if let Some(x) = filter {
        v.filter = Some(x.to_string());
    }
    super::catalogue::steps(code, &v)
}

/// `0x87` for MQTT 5, `5` for 3.1.1.
pub fn code_text(level: u8, code: u8) -> String {
    if level >= 5 {
        format!("0x{code:02x}")
    } else {
        code.to_string()
    }
}

//! The MQTT cases. Each accepts the device's connections (TLS with a valid certificate),
//! answers what a broker answers, except for the one thing the case withholds or refuses,
//! and decides from the packets the device sends and when it sends them.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use crate::mqtt::packets::{self, Connect, Publish, Subscribe, LEVEL_5};

use super::wire::{self, Handshake, Show};
use super::{timing, Ctx, Decision, Verdict};

type Stream = TlsStream<TcpStream>;

/// A device packet, read far enough to decide a case.
enum Packet {
    Connect(Connect),
    Publish(Publish),
    Subscribe(Subscribe),
    PingReq,
    Disconnect,
    Other(u8),
    Malformed(String),
}

fn parse(first: u8, body: &[u8], level: u8) -> Packet {
    let r = match first >> 4 {
        1 => packets::connect(body).map(Packet::Connect),
        3 => packets::publish(first, body, level).map(Packet::Publish),
        8 => packets::subscribe(first, body, level).map(Packet::Subscribe),
        12 => Ok(Packet::PingReq),
        14 => Ok(Packet::Disconnect),
        t => Ok(Packet::Other(t)),
    };
    r.unwrap_or_else(|m| Packet::Malformed(m.0))
}

fn connack(level: u8, session_present: bool, code: u8) -> Vec<u8> {
    if level >= LEVEL_5 {
        let code = if code == 5 { 0x87 } else { code };
        vec![0x20, 3, u8::from(session_present), code, 0]
    } else {
        vec![0x20, 2, u8::from(session_present), code]
    }
}

fn describe_connect(c: &Connect) -> String {
    format!(
        "CONNECT: MQTT level {}, client id {:?}, clean session {}, keep-alive {} s",
        c.level, c.client_id, c.clean, c.keep_alive
    )
}

/// A connection whose first packet is a CONNECT: the stream and the CONNECT. Connections
/// that fail TLS or send something else first are noted and skipped; None at the deadline.
async fn connected(ctx: &mut Ctx<'_>) -> Option<(Stream, Connect, Instant)> {
    loop {
        let mut s = wire::device(ctx).await?;
        match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) => match parse(first, &body, 4) {
                Packet::Connect(c) => {
                    ctx.note(describe_connect(&c));
                    return Some((s, c, Instant::now()));
                }
                Packet::Malformed(m) => ctx.note(format!("malformed first packet: {m}")),
                _ => ctx.note(format!("first packet is type {}, not CONNECT", first >> 4)),
            },
            Ok(None) => return None,
            Err(e) => ctx.note(format!("before CONNECT: {}", e.0)),
        }
    }
}

/// Answers what any broker answers (PINGREQ, SUBSCRIBE, a QoS 1 PUBLISH); true when handled.
async fn answer(ctx: &mut Ctx<'_>, s: &mut Stream, p: &Packet, level: u8) {
    match p {
        Packet::PingReq => {
            ctx.note("PINGREQ");
            wire::send(ctx, s, &packets::pingresp(), "PINGRESP").await;
        }
        Packet::Subscribe(sub) => {
            ctx.note(format!(
                "SUBSCRIBE id {} to {:?}",
                sub.packet_id,
                sub.filters.iter().map(|f| &f.0).collect::<Vec<_>>()
            ));
            let codes: Vec<u8> = sub.filters.iter().map(|f| (f.1 & 3).min(1)).collect();
            wire::send(
                ctx,
                s,
                &packets::suback(level, sub.packet_id, &codes),
                "SUBACK",
            )
            .await;
        }
        Packet::Publish(p) => {
            ctx.note(format!(
                "PUBLISH QoS {} to {:?}{}, {} bytes",
                p.qos,
                p.topic,
                if p.dup { " (DUP)" } else { "" },
                p.payload.len()
            ));
            if let (1, Some(id)) = (p.qos, p.packet_id) {
                wire::send(ctx, s, &packets::puback(level, id, 0), "PUBACK").await;
            }
        }
        Packet::Disconnect => ctx.note("DISCONNECT"),
        Packet::Other(t) => ctx.note(format!("packet type {t}")),
        Packet::Malformed(m) => ctx.note(format!("malformed packet: {m}")),
        Packet::Connect(_) => ctx.note("a second CONNECT on the same connection"),
    }
}

const NO_DEVICE: &str = "the device did not connect and send CONNECT within the time limit";

/// MQTT_Connect.
pub async fn connect(ctx: &mut Ctx<'_>) -> Decision {
    let s = loop {
        let Some(mut s) = wire::device(ctx).await else {
            return (Verdict::NotRun, NO_DEVICE.into());
        };
        match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) if first >> 4 == 1 => match packets::connect(&body) {
                Err(m) => return (Verdict::Fail, format!("the CONNECT is malformed: {}", m.0)),
                Ok(c) => {
                    ctx.note(describe_connect(&c));
                    if let Some(why) = client_id_refusal(&c) {
                        return (Verdict::Fail, why);
                    }
                    if !(c.protocol_name == "MQTT" && (c.level == 4 || c.level == 5)) {
                        return (
                            Verdict::Fail,
                            format!(
                                "protocol {:?} level {}: AWS IoT Core speaks MQTT 3.1.1 (4) and 5",
                                c.protocol_name, c.level
                            ),
                        );
                    }
                    let level = c.level;
                    wire::send(ctx, &mut s, &connack(level, false, 0), "CONNACK accepted").await;
                    break s;
                }
            },
            Ok(Some((first, _))) => {
                return (
                    Verdict::Fail,
                    format!("the first packet is type {}, not CONNECT", first >> 4),
                )
            }
            Ok(None) => return (Verdict::NotRun, NO_DEVICE.into()),
            Err(e) => ctx.note(format!("before CONNECT: {}", e.0)),
        }
    };
    wire::close(ctx, s, "case decided").await;
    (
        Verdict::Pass,
        "a well-formed CONNECT with a client id AWS IoT Core accepts".into(),
    )
}

/// Why AWS IoT Core would refuse this client id (aws-iot-facts.md: 128 bytes of UTF-8, the
/// `$` prefix reserved for ids AWS generates; an empty id gets no session on AWS).
fn client_id_refusal(c: &Connect) -> Option<String> {
    if c.client_id.is_empty() {
        Some("the client id is empty; AWS IoT Core needs one to key the session".into())
    } else if c.client_id.len() > 128 {
        Some(format!(
            "the client id is {} bytes; AWS IoT Core allows 128",
            c.client_id.len()
        ))
    } else if c.client_id.starts_with('$') {
        Some(format!(
            "the client id {:?} starts with '$', reserved for AWS",
            c.client_id
        ))
    } else {
        None
    }
}

/// MQTT_Publish and _QoS1: a PUBLISH at the QoS asked for arrives.
pub async fn publish(ctx: &mut Ctx<'_>, want: u8) -> Decision {
    let mut other = 0;
    while let Some((mut s, c, _)) = connected(ctx).await {
        wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
        loop {
            let p = match wire::read(ctx, &mut s, ctx.deadline).await {
                Ok(Some((first, body))) => parse(first, &body, c.level),
                Ok(None) => break,
                Err(e) => {
                    ctx.note(e.0);
                    break;
                }
            };
            answer(ctx, &mut s, &p, c.level).await;
            if let Packet::Publish(p) = &p {
                if p.qos == want && (want == 0 || p.packet_id.is_some()) {
                    wire::close(ctx, s, "case decided").await;
                    return (
                        Verdict::Pass,
                        format!("a QoS {want} PUBLISH to {:?} arrived", p.topic),
                    );
                }
                other += 1;
            }
        }
    }
    if other > 0 {
        (
            Verdict::Fail,
            format!("{other} PUBLISH(es) arrived, none at QoS {want}"),
        )
    } else {
        (
            Verdict::NotRun,
            format!("the device published nothing within the time limit (it must publish one QoS {want} message)"),
        )
    }
}

/// IOTSCOPE_Keep_Alive: PINGREQs keep the connection from going silent for 1.5 × keep-alive.
pub async fn keep_alive(ctx: &mut Ctx<'_>) -> Decision {
    let Some((mut s, c, connected_at)) = connected(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
    if c.keep_alive == 0 {
        return (
            Verdict::Fail,
            "keep-alive 0: the device turns keep-alive off, so neither side notices a dead connection".into(),
        );
    }
    let k = Duration::from_secs(u64::from(c.keep_alive));
    let watch = k * 3;
    if connected_at + watch + k > ctx.deadline {
        return (
            Verdict::NotRun,
            format!(
                "keep-alive {} s: three periods do not fit in the time limit",
                c.keep_alive
            ),
        );
    }
    let grace = k + k / 2;
    let mut last = Instant::now();
    let mut pings = 0;
    let mut longest = Duration::ZERO;
    while last.duration_since(connected_at) < watch || pings == 0 {
        let p = match wire::read(ctx, &mut s, last + grace).await {
            Ok(Some((first, body))) => parse(first, &body, c.level),
            Ok(None) => {
                return (
                    Verdict::Fail,
                    format!(
                        "the device was silent for 1.5 × its keep-alive ({} ms) without a PINGREQ",
                        grace.as_millis()
                    ),
                )
            }
            Err(e) => {
                return (
                    Verdict::Fail,
                    format!("before three keep-alive periods passed, {}", e.0),
                )
            }
        };
        longest = longest.max(last.elapsed());
        last = Instant::now();
        if matches!(p, Packet::PingReq) {
            pings += 1;
        }
        answer(ctx, &mut s, &p, c.level).await;
    }
    wire::close(ctx, s, "case decided").await;
    (
        Verdict::Pass,
        format!(
            "{pings} PINGREQ(s) over {} s; the longest silence was {} ms (limit {} ms)",
            watch.as_secs(),
            longest.as_millis(),
            grace.as_millis()
        ),
    )
}

/// The `$aws/` topics a device may publish to: its thing's shadow, jobs and so on, Basic
/// Ingest, fleet provisioning. Everything else under `$` is AWS's.
fn reserved(topic: &str) -> bool {
    const DEVICE_TOPICS: &[&str] = &[
        "$aws/things/",
        "$aws/rules/",
        "$aws/certificates/create",
        "$aws/provisioning-templates/",
    ];
    topic.starts_with('$') && !DEVICE_TOPICS.iter().any(|p| topic.starts_with(p))
}

/// IOTSCOPE_No_Reserved_Topics.
pub async fn reserved_topics(ctx: &mut Ctx<'_>) -> Decision {
    let mut count = 0;
    while let Some((mut s, c, _)) = connected(ctx).await {
        wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
        loop {
            let p = match wire::read(ctx, &mut s, ctx.deadline).await {
                Ok(Some((first, body))) => parse(first, &body, c.level),
                Ok(None) => break,
                Err(e) => {
                    ctx.note(e.0);
                    break;
                }
            };
            answer(ctx, &mut s, &p, c.level).await;
            match &p {
                Packet::Publish(p) if reserved(&p.topic) => {
                    return (
                        Verdict::Fail,
                        format!("the device published to the reserved topic {:?}", p.topic),
                    )
                }
                Packet::Publish(_) => count += 1,
                Packet::Disconnect if count > 0 => {
                    return (
                        Verdict::Pass,
                        format!("{count} PUBLISH(es), none to a reserved topic"),
                    )
                }
                _ => {}
            }
        }
        if count > 0 {
            break;
        }
    }
    if count > 0 {
        (
            Verdict::Pass,
            format!("{count} PUBLISH(es), none to a reserved topic"),
        )
    } else {
        (
            Verdict::NotRun,
            "the device published nothing within the time limit".into(),
        )
    }
}

/// MQTT_Connect_Exponential_Backoff_Retries and MQTT_Connect_Jitter_Backoff_Retries: every
/// CONNECT is refused (CONNACK 5, or 0x87 in MQTT 5) and the connection closed; the waits
/// are from each close to the device's next TCP connection.
pub async fn refused_connects(ctx: &mut Ctx<'_>, jitter: bool) -> Decision {
    let need = if jitter { 6 } else { 3 };
    let mut waits: Vec<u64> = Vec::new();
    let mut closed_at: Option<Instant> = None;
    let mut connects = 0;
    while waits.len() < need {
        let Some(tcp) = wire::accept(ctx).await else {
            break;
        };
        let arrived = Instant::now();
        let s = match wire::tls(ctx, tcp, Show::Valid).await {
            Some((_, Handshake::Done(s))) => s,
            _ => continue,
        };
        let mut s = *s;
        let c = match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) => match parse(first, &body, 4) {
                Packet::Connect(c) => c,
                _ => continue,
            },
            _ => continue,
        };
        connects += 1;
        if let Some(t) = closed_at {
            let w = arrived.duration_since(t).as_millis() as u64;
            ctx.note(format!("the device waited {w} ms before connecting again"));
            waits.push(w);
        }
        ctx.note(describe_connect(&c));
        wire::send(
            ctx,
            &mut s,
            &connack(c.level, false, 5),
            "CONNACK refused (not authorized)",
        )
        .await;
        wire::close(ctx, s, "CONNECT refused").await;
        closed_at = Some(Instant::now());
    }
    decide_waits(connects, &waits, need, jitter)
}

fn decide_waits(connects: usize, waits: &[u64], need: usize, jitter: bool) -> Decision {
    if connects == 0 {
        return (Verdict::NotRun, NO_DEVICE.into());
    }
    let shown = waits
        .iter()
        .map(|w| format!("{w}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rule = if jitter {
        timing::jitter(waits, need)
    } else {
        timing::backoff(waits, need)
    };
    match rule {
        Ok(why) => (Verdict::Pass, format!("waits [{shown}] ms: {why}")),
        Err(why) => (
            Verdict::Fail,
            format!("{connects} connection(s), waits [{shown}] ms: {}", why.0),
        ),
    }
}

/// MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect: every connection is accepted, then
/// closed 1 s later; the waits are from each close to the next connection.
pub async fn server_disconnects(ctx: &mut Ctx<'_>) -> Decision {
    let need = 3;
    let mut waits: Vec<u64> = Vec::new();
    let mut closed_at: Option<Instant> = None;
    let mut connects = 0;
    while waits.len() < need {
        let Some(tcp) = wire::accept(ctx).await else {
            break;
        };
        let arrived = Instant::now();
        let mut s = match wire::tls(ctx, tcp, Show::Valid).await {
            Some((_, Handshake::Done(s))) => *s,
            _ => continue,
        };
        let c = match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) => match parse(first, &body, 4) {
                Packet::Connect(c) => c,
                _ => continue,
            },
            _ => continue,
        };
        connects += 1;
        if let Some(t) = closed_at {
            let w = arrived.duration_since(t).as_millis() as u64;
            ctx.note(format!("the device waited {w} ms before connecting again"));
            waits.push(w);
        }
        ctx.note(describe_connect(&c));
        wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
        let until = Instant::now() + Duration::from_secs(1);
        while let Ok(Some((first, body))) = wire::read(ctx, &mut s, until).await {
            let p = parse(first, &body, c.level);
            answer(ctx, &mut s, &p, c.level).await;
        }
        if c.level >= LEVEL_5 {
            wire::send(
                ctx,
                &mut s,
                &packets::disconnect_v5(0x8b),
                "DISCONNECT 0x8B",
            )
            .await;
        }
        wire::close(ctx, s, "server-side disconnect").await;
        closed_at = Some(Instant::now());
    }
    decide_waits(connects, &waits, need, false)
}

/// How long iotscope waits for a retry on the same connection before it drops the
/// connection (MQTT 3.1.1 clients retry on reconnect only).
const RETRY_WAIT: Duration = Duration::from_secs(10);

/// MQTT_Publish_Retry_No_Puback.
pub async fn publish_retry(ctx: &mut Ctx<'_>) -> Decision {
    let mut first_seen: Option<(u16, String)> = None;
    let mut connections = 0;
    while let Some((mut s, c, _)) = connected(ctx).await {
        let resumed = connections > 0 && !c.clean;
        connections += 1;
        wire::send(
            ctx,
            &mut s,
            &connack(c.level, resumed, 0),
            if resumed {
                "CONNACK accepted, session present"
            } else {
                "CONNACK accepted"
            },
        )
        .await;
        let mut until = ctx.deadline;
        if first_seen.is_some() {
            until = Instant::now() + RETRY_WAIT;
        }
        loop {
            let p = match wire::read(ctx, &mut s, until).await {
                Ok(Some((first, body))) => parse(first, &body, c.level),
                Ok(None) => {
                    if Instant::now() < ctx.deadline {
                        wire::close(ctx, s, "no retry within 10 s: a dropped link").await;
                    }
                    break;
                }
                Err(e) => {
                    ctx.note(e.0);
                    break;
                }
            };
            match &p {
                Packet::Publish(p) if p.qos == 1 => {
                    ctx.note(format!(
                        "PUBLISH QoS 1 id {} to {:?}{} (iotscope withholds the PUBACK)",
                        p.packet_id.unwrap_or(0),
                        p.topic,
                        if p.dup { " DUP" } else { "" }
                    ));
                    match &first_seen {
                        None => {
                            first_seen = Some((p.packet_id.unwrap_or(0), p.topic.clone()));
                            until = Instant::now() + RETRY_WAIT;
                        }
                        Some((id, topic))
                            if *id == p.packet_id.unwrap_or(0) && *topic == p.topic =>
                        {
                            return if p.dup {
                                (
                                    Verdict::Pass,
                                    format!("the device sent PUBLISH id {id} again with DUP set"),
                                )
                            } else {
                                (
                                    Verdict::Fail,
                                    format!("the device sent PUBLISH id {id} again without DUP"),
                                )
                            };
                        }
                        Some(_) => {}
                    }
                }
                other => answer(ctx, &mut s, other, c.level).await,
            }
        }
    }
    match first_seen {
        None => (
            Verdict::NotRun,
            "the device sent no QoS 1 PUBLISH within the time limit".into(),
        ),
        Some((id, _)) => (
            Verdict::Fail,
            format!("the device never sent PUBLISH id {id} again ({connections} connection(s))"),
        ),
    }
}

/// MQTT_Subscribe_Retry_No_Suback.
pub async fn subscribe_retry(ctx: &mut Ctx<'_>) -> Decision {
    let mut first_seen: Option<Vec<String>> = None;
    let mut connections = 0;
    while let Some((mut s, c, _)) = connected(ctx).await {
        connections += 1;
        wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
        let mut until = ctx.deadline;
        if first_seen.is_some() {
            until = Instant::now() + RETRY_WAIT;
        }
        loop {
            let p = match wire::read(ctx, &mut s, until).await {
                Ok(Some((first, body))) => parse(first, &body, c.level),
                Ok(None) => {
                    if Instant::now() < ctx.deadline {
                        wire::close(ctx, s, "no retry within 10 s: a dropped link").await;
                    }
                    break;
                }
                Err(e) => {
                    ctx.note(e.0);
                    break;
                }
            };
            match &p {
                Packet::Subscribe(sub) => {
                    let topics: Vec<String> = sub.filters.iter().map(|f| f.0.clone()).collect();
                    ctx.note(format!(
                        "SUBSCRIBE id {} to {topics:?} (iotscope withholds the SUBACK)",
                        sub.packet_id
                    ));
                    match &first_seen {
                        None => {
                            first_seen = Some(topics);
                            until = Instant::now() + RETRY_WAIT;
                        }
                        Some(t) if *t == topics => {
                            return (
                                Verdict::Pass,
                                format!("the device sent SUBSCRIBE to {topics:?} again"),
                            )
                        }
                        Some(_) => {}
                    }
                }
                other => answer(ctx, &mut s, other, c.level).await,
            }
        }
    }
    match first_seen {
        None => (
            Verdict::NotRun,
            "the device sent no SUBSCRIBE within the time limit".into(),
        ),
        Some(t) => (
            Verdict::Fail,
            format!("the device never sent SUBSCRIBE to {t:?} again ({connections} connection(s))"),
        ),
    }
}

/// IOTSCOPE_Persistent_Session: the device asks for a persistent session, iotscope drops the
/// connection once the device is settled, and the device comes back asking for the same
/// session (and is told it is present).
pub async fn persistent_session(ctx: &mut Ctx<'_>) -> Decision {
    let Some((mut s, first, _)) = connected(ctx).await else {
        return (Verdict::NotRun, NO_DEVICE.into());
    };
    if first.clean {
        wire::send(
            ctx,
            &mut s,
            &connack(first.level, false, 0),
            "CONNACK accepted",
        )
        .await;
        wire::close(ctx, s, "case decided").await;
        return (
            Verdict::Fail,
            "the device asks for a clean session: nothing it subscribed to or left unacknowledged survives a reconnection".into(),
        );
    }
    wire::send(
        ctx,
        &mut s,
        &connack(first.level, false, 0),
        "CONNACK accepted, no session yet",
    )
    .await;
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(Some((f, body))) = wire::read(ctx, &mut s, until).await {
        let p = parse(f, &body, first.level);
        answer(ctx, &mut s, &p, first.level).await;
    }
    wire::close(ctx, s, "a dropped link").await;
    let Some((mut s, again, _)) = connected(ctx).await else {
        return (
            Verdict::Fail,
            "the device did not come back within the time limit".into(),
        );
    };
    let same = again.client_id == first.client_id;
    wire::send(
        ctx,
        &mut s,
        &connack(again.level, !again.clean && same, 0),
        if !again.clean && same {
            "CONNACK accepted, session present"
        } else {
            "CONNACK accepted"
        },
    )
    .await;
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(Some((f, body))) = wire::read(ctx, &mut s, until).await {
        let p = parse(f, &body, again.level);
        answer(ctx, &mut s, &p, again.level).await;
    }
    wire::close(ctx, s, "case decided").await;
    if !same {
        (
            Verdict::Fail,
            format!(
                "the device came back as {:?}, not {:?}: a session is keyed by the client id",
                again.client_id, first.client_id
            ),
        )
    } else if again.clean {
        (
            Verdict::Fail,
            "the device came back with a clean session, dropping its own".into(),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "the device came back as {:?} with clean session false, and was told the session is present",
                again.client_id
            ),
        )
    }
}

/// The payload of TLS_Receive_Maximum_Size_Fragments: two full 16 KB TLS records and some.
const LARGE_PAYLOAD: usize = 2 * 16 * 1024 + 1000;

/// TLS_Receive_Maximum_Size_Fragments: once the device subscribes at QoS 1, iotscope sends
/// it a PUBLISH that fills TLS records to their 16 KB maximum; the device must acknowledge it.
pub async fn max_fragments(ctx: &mut Ctx<'_>) -> Decision {
    let mut subscribed = false;
    while let Some((mut s, c, _)) = connected(ctx).await {
        wire::send(ctx, &mut s, &connack(c.level, false, 0), "CONNACK accepted").await;
        let mut sent: Option<u16> = None;
        loop {
            let p = match wire::read(ctx, &mut s, ctx.deadline).await {
                Ok(Some((first, body))) => (first, parse(first, &body, c.level), body),
                Ok(None) => break,
                Err(e) => {
                    if sent.is_some() {
                        return (Verdict::Fail, format!("after the large PUBLISH, {}", e.0));
                    }
                    ctx.note(e.0);
                    break;
                }
            };
            let (first, packet, body) = p;
            if first >> 4 == 4
                && body.len() >= 2
                && sent == Some(u16::from_be_bytes([body[0], body[1]]))
            {
                ctx.note("PUBACK for the large PUBLISH");
                wire::close(ctx, s, "case decided").await;
                return (
                    Verdict::Pass,
                    format!("the device received a {LARGE_PAYLOAD}-byte PUBLISH in maximum-size TLS records and acknowledged it"),
                );
            }
            answer(ctx, &mut s, &packet, c.level).await;
            if let Packet::Subscribe(sub) = &packet {
                if sent.is_none() {
                    if let Some((topic, _)) = sub.filters.iter().find(|f| !f.0.contains(['+', '#']))
                    {
                        subscribed = true;
                        let payload = vec![b'x'; LARGE_PAYLOAD];
                        let bytes = packets::publish_out(c.level, topic, 1, false, 7, &payload);
                        wire::send(
                            ctx,
                            &mut s,
                            &bytes,
                            &format!(
                                "a QoS 1 PUBLISH of {LARGE_PAYLOAD} bytes to {topic:?} (id 7)"
                            ),
                        )
                        .await;
                        sent = Some(7);
                    }
                }
            }
        }
    }
    if subscribed {
        (
            Verdict::Fail,
            "the device never acknowledged the large PUBLISH".into(),
        )
    } else {
        (
            Verdict::NotRun,
            "the device did not subscribe to a topic (without wildcards) within the time limit"
                .into(),
        )
    }
}

//! The MQTT cases. Each accepts the device's connections (TLS with a valid certificate),
//! answers what a broker answers, except for the one thing the case withholds or refuses,
//! and decides from the packets the device sends and when it sends them.

use std::time::Duration;

use tokio::time::Instant;

use crate::mqtt::packets::{self, Connect, Publish, Subscribe, LEVEL_5};

use super::relay::{connack, Conn};
use super::wire::{self, Handshake, Show};
use super::{timing, Ctx, Decision, Verdict};

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

fn describe_connect(c: &Connect) -> String {
    format!(
        "CONNECT: MQTT level {}, client id {:?}, clean session {}, keep-alive {} s",
        c.level, c.client_id, c.clean, c.keep_alive
    )
}

/// A connection whose first packet is a CONNECT: the stream and the CONNECT. Connections
/// that fail TLS or send something else first are noted and skipped; None at the deadline.
async fn connected(ctx: &mut Ctx<'_>) -> Option<(Conn, Connect, Instant)> {
    loop {
        let mut s = wire::device(ctx).await?;
        match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) => match parse(first, &body, 4) {
                Packet::Connect(c) => {
                    ctx.note(describe_connect(&c));
                    let conn = Conn::new(s, first, &body, c.level);
                    return Some((conn, c, Instant::now()));
                }
                Packet::Malformed(m) => ctx.note(format!("malformed first packet: {m}")),
                _ => ctx.note(format!("first packet is type {}, not CONNECT", first >> 4)),
            },
            Ok(None) => return None,
            Err(e) => ctx.note(format!("before CONNECT: {}", e.0)),
        }
    }
}

/// Answers what any broker answers (PINGREQ, SUBSCRIBE, a QoS 1 PUBLISH), or with an
/// upstream passes the packet (`raw`) on, its answer to come from there.
async fn answer(ctx: &mut Ctx<'_>, s: &mut Conn, p: &Packet, raw: (u8, &[u8])) {
    note_packet(ctx, p);
    if s.forward(ctx, raw.0, raw.1).await {
        return;
    }
    let level = s.level;
    match p {
        Packet::PingReq => {
            s.send(ctx, &packets::pingresp(), "PINGRESP").await;
        }
        Packet::Subscribe(sub) => {
            let codes: Vec<u8> = sub.filters.iter().map(|f| (f.1 & 3).min(1)).collect();
            s.send(
                ctx,
                &packets::suback(level, sub.packet_id, &codes),
                "SUBACK",
            )
            .await;
        }
        Packet::Publish(p) => {
            if let (1, Some(id)) = (p.qos, p.packet_id) {
                s.send(ctx, &packets::puback(level, id, 0), "PUBACK").await;
            }
        }
        _ => {}
    }
}

/// A device packet in words, for the evidence.
fn note_packet(ctx: &mut Ctx<'_>, p: &Packet) {
    match p {
        Packet::PingReq => ctx.note("PINGREQ"),
        Packet::Subscribe(sub) => {
            ctx.note(format!(
                "SUBSCRIBE id {} to {:?}",
                sub.packet_id,
                sub.filters.iter().map(|f| &f.0).collect::<Vec<_>>()
            ));
        }
        Packet::Publish(p) => {
            ctx.note(format!(
                "PUBLISH QoS {} to {:?}{}, {} bytes",
                p.qos,
                p.topic,
                if p.dup { " (DUP)" } else { "" },
                p.payload.len()
            ));
        }
        Packet::Disconnect => ctx.note("DISCONNECT"),
        Packet::Other(t) => ctx.note(format!("packet type {t}")),
        Packet::Malformed(m) => ctx.note(format!("malformed packet: {m}")),
        Packet::Connect(_) => ctx.note("a second CONNECT on the same connection"),
    }
}

const NO_DEVICE: &str = "the device did not connect and send CONNECT within the time limit";

/// The case cannot go on: the upstream did not take the device's CONNECT.
fn upstream_failed(why: iotscope_proxy::error::Error) -> Decision {
    (Verdict::NotRun, format!("no session upstream: {why}"))
}

/// Accepts the CONNECT (iotscope's CONNACK, or the upstream's); Err is the case's decision
/// when the upstream could not be reached.
async fn accept(
    ctx: &mut Ctx<'_>,
    s: &mut Conn,
    present: bool,
    words: &str,
) -> Result<u8, Decision> {
    s.accept(ctx, present, words)
        .await
        .map(|a| a.code)
        .map_err(upstream_failed)
}

/// MQTT_Connect.
pub async fn connect(ctx: &mut Ctx<'_>) -> Decision {
    let mut s = loop {
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
                    break Conn::new(s, first, &body, c.level);
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
    let code = match accept(ctx, &mut s, false, "CONNACK accepted").await {
        Ok(c) => c,
        Err(d) => return d,
    };
    let relayed = s.relayed();
    s.close(ctx, "case decided").await;
    if code != 0 {
        return (
            Verdict::Fail,
            format!("the upstream refused the CONNECT (return code {code})"),
        );
    }
    (
        Verdict::Pass,
        if relayed {
            "a well-formed CONNECT with a client id AWS IoT Core accepts; the upstream accepted it"
                .into()
        } else {
            "a well-formed CONNECT with a client id AWS IoT Core accepts".into()
        },
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

/// Reads the next device packet: Ok(None) at `until`, Err when the connection ended (noted).
async fn next(
    ctx: &mut Ctx<'_>,
    s: &mut Conn,
    until: Instant,
) -> Result<Option<(u8, Vec<u8>, Packet)>, ()> {
    match s.read(ctx, until).await {
        Ok(Some((first, body))) => {
            let p = parse(first, &body, s.level);
            Ok(Some((first, body, p)))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            ctx.note(e.0);
            Err(())
        }
    }
}

/// MQTT_Publish and _QoS1: a PUBLISH at the QoS asked for arrives.
pub async fn publish(ctx: &mut Ctx<'_>, want: u8) -> Decision {
    let mut other = 0;
    while let Some((mut s, _, _)) = connected(ctx).await {
        if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
            return d;
        }
        while let Ok(Some((first, body, p))) = next(ctx, &mut s, ctx.deadline).await {
            answer(ctx, &mut s, &p, (first, &body)).await;
            if let Packet::Publish(p) = &p {
                if p.qos == want && (want == 0 || p.packet_id.is_some()) {
                    if s.relayed() && want == 1 {
                        // The upstream's PUBACK is part of the evidence.
                        let until = Instant::now() + Duration::from_secs(2);
                        while let Ok(Some((f, b, q))) = next(ctx, &mut s, until).await {
                            answer(ctx, &mut s, &q, (f, &b)).await;
                        }
                    }
                    s.close(ctx, "case decided").await;
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
    if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
        return d;
    }
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
        let (first, body, p) = match s.read(ctx, last + grace).await {
            Ok(Some((first, body))) => {
                let p = parse(first, &body, c.level);
                (first, body, p)
            }
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
        answer(ctx, &mut s, &p, (first, &body)).await;
    }
    s.close(ctx, "case decided").await;
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
    while let Some((mut s, _, _)) = connected(ctx).await {
        if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
            return d;
        }
        while let Ok(Some((first, body, p))) = next(ctx, &mut s, ctx.deadline).await {
            answer(ctx, &mut s, &p, (first, &body)).await;
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
/// are from each close to the device's next TCP connection. iotscope refuses the CONNECT
/// itself: nothing goes upstream.
pub async fn refused_connects(ctx: &mut Ctx<'_>, jitter: bool) -> Decision {
    let need = if jitter { 7 } else { 3 };
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

/// How a connection ends in the reconnect back-off cases.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect: the server ends the session
    /// properly, 1 s after the CONNACK: DISCONNECT 0x8B in MQTT 5, TLS close_notify, TCP FIN.
    ServerDisconnect,
    /// MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection: the link breaks, 1 s after the
    /// CONNACK: a TCP reset, with no DISCONNECT and no close_notify, as when a NAT or a
    /// mobile link drops the connection.
    Unstable,
}

/// The reconnect back-off cases: every connection is accepted, then ended 1 s later as
/// `how` says; the waits are from each end to the next connection.
pub async fn reconnects(ctx: &mut Ctx<'_>, how: Ending) -> Decision {
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
        let (first, body, c) = match wire::read(ctx, &mut s, ctx.deadline).await {
            Ok(Some((first, body))) => match parse(first, &body, 4) {
                Packet::Connect(c) => (first, body, c),
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
        let mut s = Conn::new(s, first, &body, c.level);
        if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
            return d;
        }
        let until = Instant::now() + Duration::from_secs(1);
        while let Ok(Some((f, b, p))) = next(ctx, &mut s, until).await {
            answer(ctx, &mut s, &p, (f, &b)).await;
        }
        match how {
            Ending::ServerDisconnect => {
                if c.level >= LEVEL_5 {
                    s.send(ctx, &packets::disconnect_v5(0x8b), "DISCONNECT 0x8B")
                        .await;
                }
                s.close(ctx, "server-side disconnect").await;
            }
            Ending::Unstable => s.reset(ctx).await,
        }
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
        let words = if resumed {
            "CONNACK accepted, session present"
        } else {
            "CONNACK accepted"
        };
        if let Err(d) = accept(ctx, &mut s, resumed, words).await {
            return d;
        }
        let mut until = ctx.deadline;
        if first_seen.is_some() {
            until = Instant::now() + RETRY_WAIT;
        }
        loop {
            let (first, body, p) = match next(ctx, &mut s, until).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    if Instant::now() < ctx.deadline {
                        s.close(ctx, "no retry within 10 s: a dropped link").await;
                    }
                    break;
                }
                Err(()) => break,
            };
            match &p {
                Packet::Publish(p) if p.qos == 1 => {
                    let id = p.packet_id.unwrap_or(0);
                    ctx.note(format!(
                        "PUBLISH QoS 1 id {id} to {:?}{} (iotscope withholds the PUBACK)",
                        p.topic,
                        if p.dup { " DUP" } else { "" }
                    ));
                    // Upstream, the PUBLISH goes on; its PUBACK does not come back.
                    s.withhold(4, id);
                    s.forward(ctx, first, &body).await;
                    match &first_seen {
                        None => {
                            first_seen = Some((id, p.topic.clone()));
                            until = Instant::now() + RETRY_WAIT;
                        }
                        Some((seen, topic)) if *seen == id && *topic == p.topic => {
                            s.close(ctx, "case decided").await;
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
                other => answer(ctx, &mut s, other, (first, &body)).await,
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
    while let Some((mut s, _, _)) = connected(ctx).await {
        connections += 1;
        if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
            return d;
        }
        let mut until = ctx.deadline;
        if first_seen.is_some() {
            until = Instant::now() + RETRY_WAIT;
        }
        loop {
            let (first, body, p) = match next(ctx, &mut s, until).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    if Instant::now() < ctx.deadline {
                        s.close(ctx, "no retry within 10 s: a dropped link").await;
                    }
                    break;
                }
                Err(()) => break,
            };
            match &p {
                Packet::Subscribe(sub) => {
                    let topics: Vec<String> = sub.filters.iter().map(|f| f.0.clone()).collect();
                    ctx.note(format!(
                        "SUBSCRIBE id {} to {topics:?} (iotscope withholds the SUBACK)",
                        sub.packet_id
                    ));
                    s.withhold(9, sub.packet_id);
                    s.forward(ctx, first, &body).await;
                    match &first_seen {
                        None => {
                            first_seen = Some(topics);
                            until = Instant::now() + RETRY_WAIT;
                        }
                        Some(t) if *t == topics => {
                            s.close(ctx, "case decided").await;
                            return (
                                Verdict::Pass,
                                format!("the device sent SUBSCRIBE to {topics:?} again"),
                            );
                        }
                        Some(_) => {}
                    }
                }
                other => answer(ctx, &mut s, other, (first, &body)).await,
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

/// How long a connection of the session cases is watched after the CONNACK.
const SETTLE: Duration = Duration::from_secs(2);

/// Reads and answers the device's packets until `until`; the topic filters it subscribed
/// to, and the packet ids it acknowledged (PUBACK).
async fn watch(
    ctx: &mut Ctx<'_>,
    s: &mut Conn,
    until: Instant,
    acked: &mut Vec<u16>,
) -> Vec<String> {
    let mut subscribed = Vec::new();
    while let Ok(Some((f, b, p))) = next(ctx, s, until).await {
        if f >> 4 == 4 && b.len() >= 2 {
            let id = u16::from_be_bytes([b[0], b[1]]);
            acked.push(id);
            // The acknowledgement of iotscope's own message stays here.
            if id == STORED_ID || !s.relayed() {
                ctx.note(format!("PUBACK id {id}"));
                continue;
            }
        }
        if let Packet::Subscribe(sub) = &p {
            subscribed.extend(sub.filters.iter().map(|f| f.0.clone()));
        }
        answer(ctx, s, &p, (f, &b)).await;
    }
    subscribed
}

/// The first connection of the session cases: clean session false, then at least one
/// SUBSCRIBE, then iotscope drops the link. Ok: the CONNECT and the topics; Err: the case's
/// decision.
async fn session_start(ctx: &mut Ctx<'_>) -> Result<(Connect, Vec<String>), Decision> {
    loop {
        let Some((mut s, first, _)) = connected(ctx).await else {
            return Err((
                Verdict::NotRun,
                "the device did not connect and subscribe within the time limit".into(),
            ));
        };
        accept(ctx, &mut s, false, "CONNACK accepted, no session yet").await?;
        if first.clean {
            s.close(ctx, "case decided").await;
            return Err((
                Verdict::Fail,
                "the device asks for a clean session: nothing it subscribed to or left unacknowledged survives a reconnection".into(),
            ));
        }
        let mut acked = Vec::new();
        let mut topics = watch(ctx, &mut s, Instant::now() + SETTLE, &mut acked).await;
        if topics.is_empty() {
            // Wait for the SUBSCRIBE, as long as the time limit allows.
            topics = watch(ctx, &mut s, ctx.deadline, &mut acked).await;
            if topics.is_empty() {
                s.close(ctx, "no SUBSCRIBE on this connection").await;
                continue;
            }
        }
        s.close(ctx, "a dropped link").await;
        return Ok((first, topics));
    }
}

/// [`session_start`], then the device's return: its first CONNECT, its topics, and the new
/// connection with its CONNECT. Err: the case's decision (a device that does not come back
/// fails).
async fn session_and_return(
    ctx: &mut Ctx<'_>,
) -> Result<(Connect, Vec<String>, Conn, Connect), Decision> {
    let (first, topics) = session_start(ctx).await?;
    let Some((s, again, _)) = connected(ctx).await else {
        return Err((
            Verdict::Fail,
            "the device did not come back within the time limit".into(),
        ));
    };
    Ok((first, topics, s, again))
}

/// MQTT_Persistent_Session_Happy_Case: the device asks for a persistent session and
/// subscribes; iotscope drops the link; the device comes back with the same client id and
/// clean session false and is told the session is present; a QoS 1 message for its
/// subscription, stored for it while it was away, is delivered and the device must
/// acknowledge it (it need not subscribe again). With an upstream, the upstream's CONNACK
/// says whether the session is present and the stored message is iotscope's own.
pub async fn persistent_session(ctx: &mut Ctx<'_>) -> Decision {
    let (first, topics, mut s, again) = match session_and_return(ctx).await {
        Ok(x) => x,
        Err(d) => return d,
    };
    let same = again.client_id == first.client_id;
    let resumed = !again.clean && same;
    let words = if resumed {
        "CONNACK accepted, session present"
    } else {
        "CONNACK accepted"
    };
    let present = match s.accept(ctx, resumed, words).await {
        Ok(a) => a.session_present,
        Err(e) => return upstream_failed(e),
    };
    if !same {
        s.close(ctx, "case decided").await;
        return (
            Verdict::Fail,
            format!(
                "the device came back as {:?}, not {:?}: a session is keyed by the client id",
                again.client_id, first.client_id
            ),
        );
    }
    if again.clean {
        s.close(ctx, "case decided").await;
        return (
            Verdict::Fail,
            "the device came back with a clean session, dropping its own".into(),
        );
    }
    if !present {
        s.close(ctx, "case decided").await;
        return (
            Verdict::NotRun,
            "the upstream said the session is not present, so the resumed session could not be tested".into(),
        );
    }
    let Some(topic) = topics.iter().find(|t| !t.contains(['+', '#'])).cloned() else {
        s.close(ctx, "case decided").await;
        return (
            Verdict::NotRun,
            "the device subscribed only to wildcard filters; the stored message needs a topic"
                .into(),
        );
    };
    let id = STORED_ID;
    let bytes = packets::publish_out(s.level, &topic, 1, false, id, b"stored while away");
    s.send(
        ctx,
        &bytes,
        &format!("the QoS 1 message stored for the session, to {topic:?} (id {id})"),
    )
    .await;
    let mut acked = Vec::new();
    let mut again_topics = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while !acked.contains(&id) && Instant::now() < until.min(ctx.deadline) {
        let t = watch(ctx, &mut s, until, &mut acked).await;
        if t.is_empty() && !acked.contains(&id) {
            break;
        }
        again_topics.extend(t);
    }
    s.close(ctx, "case decided").await;
    let resubscribed = if again_topics.is_empty() {
        "without subscribing again"
    } else {
        "(it also subscribed again, which it need not)"
    };
    if acked.contains(&id) {
        (
            Verdict::Pass,
            format!(
                "the device came back as {:?} with clean session false, was told the session is present, and acknowledged the stored message {resubscribed}",
                again.client_id
            ),
        )
    } else {
        (
            Verdict::Fail,
            "the device resumed its session but did not acknowledge the QoS 1 message stored for it".into(),
        )
    }
}

/// The packet id of the messages iotscope sends itself, away from the low ids a broker
/// uses first.
const STORED_ID: u16 = 0xA5A5;

/// MQTT_Expired_Persistent_Session: the device asks for a persistent session and
/// subscribes; iotscope drops the link; when the device comes back, it is told the session
/// is gone (session present 0) and must subscribe again. With an upstream, iotscope passes
/// the second CONNECT with clean session set, so the upstream really drops the session and
/// its CONNACK says so.
pub async fn expired_session(ctx: &mut Ctx<'_>) -> Decision {
    let (_, topics, mut s, again) = match session_and_return(ctx).await {
        Ok(x) => x,
        Err(d) => return d,
    };
    if ctx.upstream.is_some() {
        s.clean_upstream();
        ctx.note(
            "iotscope sets clean session on the CONNECT it passes upstream: the session ends there",
        );
    }
    let present = match s
        .accept(
            ctx,
            false,
            "CONNACK accepted, session present 0 (the session expired)",
        )
        .await
    {
        Ok(a) => a.session_present,
        Err(e) => return upstream_failed(e),
    };
    if present {
        s.close(ctx, "case decided").await;
        return (
            Verdict::NotRun,
            "the upstream said the session is present; the case needs it gone".into(),
        );
    }
    let mut acked = Vec::new();
    let until = Instant::now() + RETRY_WAIT;
    let mut again_topics = Vec::new();
    while Instant::now() < until.min(ctx.deadline) {
        let t = watch(ctx, &mut s, until, &mut acked).await;
        if t.is_empty() {
            break;
        }
        again_topics.extend(t);
        if topics.iter().all(|t| again_topics.contains(t)) {
            break;
        }
    }
    s.close(ctx, "case decided").await;
    let missing: Vec<&String> = topics
        .iter()
        .filter(|t| !again_topics.contains(t))
        .collect();
    if missing.is_empty() {
        (
            Verdict::Pass,
            format!(
                "told the session is gone, the device ({:?}) subscribed to {topics:?} again",
                again.client_id
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "told the session is gone (session present 0), the device did not subscribe to {missing:?} again within {} s",
                RETRY_WAIT.as_secs()
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
    while let Some((mut s, _, _)) = connected(ctx).await {
        if let Err(d) = accept(ctx, &mut s, false, "CONNACK accepted").await {
            return d;
        }
        let mut sent: Option<u16> = None;
        loop {
            let (first, body) = match s.read(ctx, ctx.deadline).await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    if sent.is_some() {
                        return (Verdict::Fail, format!("after the large PUBLISH, {}", e.0));
                    }
                    ctx.note(e.0);
                    break;
                }
            };
            let packet = parse(first, &body, s.level);
            if first >> 4 == 4
                && body.len() >= 2
                && sent == Some(u16::from_be_bytes([body[0], body[1]]))
            {
                ctx.note("PUBACK for the large PUBLISH");
                s.close(ctx, "case decided").await;
                return (
                    Verdict::Pass,
                    format!("the device received a {LARGE_PAYLOAD}-byte PUBLISH in maximum-size TLS records and acknowledged it"),
                );
            }
            answer(ctx, &mut s, &packet, (first, &body)).await;
            if let Packet::Subscribe(sub) = &packet {
                if sent.is_none() {
                    if let Some((topic, _)) = sub.filters.iter().find(|f| !f.0.contains(['+', '#']))
                    {
                        subscribed = true;
                        let payload = vec![b'x'; LARGE_PAYLOAD];
                        let bytes = packets::publish_out(s.level, topic, 1, false, 7, &payload);
                        s.send(
                            ctx,
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

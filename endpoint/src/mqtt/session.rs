//! One device's MQTT session over its TLS stream, from CONNECT to close, answering as AWS IoT
//! Core answers. Each refusal names its source; the reference notes (§2, §2.1, §2.2) hold the
//! quotes, and docs/endpoint.md the table of all of them with what is not emulated.
//!
//! The stream is split: this task reads and decides, a writer task owns the write half and
//! drains a bounded queue that the broker also feeds (deliveries to this device). The
//! connection ends when every sender of that queue is gone: this task's, and the broker's
//! once the session is detached.

use std::sync::Arc;
use std::time::Duration;

use iotscope_decoder::policy::Action;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::broker::{Attach, Authz, Kick, Message, Owner};
use super::packets::{self, ConnackProps, ReadError, LEVEL_311, LEVEL_5};
use super::topics::{self, Bad};
use crate::limits::{self, MAX_CLIENT_ID, MAX_FILTERS_PER_SUBSCRIBE, MAX_PACKET, QUEUE};
use crate::log::{Event, Who};
use crate::shared::{Peer, Shared};

/// How a session ends, in the life-cycle events' words (`disconnectReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Client,
    ClientError,
    AuthError,
    KeepAlive,
    Duplicate,
    Lost,
    Shutdown,
}

impl End {
    fn reason(self) -> &'static str {
        match self {
            End::Client => "CLIENT_INITIATED_DISCONNECT",
            End::ClientError => "CLIENT_ERROR",
            End::AuthError => "AUTH_ERROR",
            End::KeepAlive => "MQTT_KEEP_ALIVE_TIMEOUT",
            End::Duplicate => "DUPLICATE_CLIENTID",
            End::Lost => "CONNECTION_LOST",
            End::Shutdown => "SERVER_INITIATED_DISCONNECT",
        }
    }
}

/// MQTT 5 reason codes the endpoint sends (mqtt.md "MQTT reason codes").
mod rc {
    pub const UNSPECIFIED: u8 = 0x80;
    pub const MALFORMED: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const CLIENT_ID_INVALID: u8 = 0x85;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const SERVER_SHUTTING_DOWN: u8 = 0x8B;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub const FILTER_INVALID: u8 = 0x8F;
    pub const TOPIC_INVALID: u8 = 0x90;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9B;
    pub const SUB_IDS_NOT_SUPPORTED: u8 = 0xA1;
}

struct Conn {
    shared: Arc<Shared>,
    who: Who,
    level: u8,
    out: mpsc::Sender<Vec<u8>>,
    authz: Option<Authz>,
    will: Option<packets::Will>,
}

impl Conn {
    async fn send(&self, p: Vec<u8>) {
        let _ = self.out.send(p).await;
    }

    /// MQTT 5 tells the device why with a DISCONNECT; 3.1.1 has no such packet.
    async fn disconnect(&self, reason: u8) {
        if self.level >= LEVEL_5 {
            self.send(packets::disconnect_v5(reason)).await;
        }
    }

    fn log(&self, e: Event<'_>) {
        self.shared.log.write(&self.who, e);
    }
}

/// Serves one device until its connection ends.
pub async fn serve<S>(stream: S, peer: Peer, shared: Arc<Shared>, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if wr.write_all(&p).await.is_err() {
                return;
            }
            let _ = wr.flush().await;
        }
        // close_notify, then FIN.
        let _ = wr.shutdown().await;
    });
    let mut c = Conn {
        shared: shared.clone(),
        who: Who {
            client_id: None,
            principal_id: Some(peer.cert_id.clone()),
            peer: Some(peer.addr),
            trace_id: crate::log::trace_id(),
            protocol: "MQTT",
        },
        level: LEVEL_311,
        out: tx,
        authz: None,
        will: None,
    };
    let end = session(&mut c, &mut rd, &peer, &mut stop).await;
    if let Some(client_id) = c.who.client_id.clone() {
        if let Some(end) = end {
            c.log(Event::Disconnect {
                reason: end.reason(),
            });
            // The will goes out unless the device said goodbye (life-cycle events table).
            if end != End::Client {
                publish_will(&c);
            }
        }
        shared.broker.detach(&client_id, peer.conn);
    }
    drop(c);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

fn publish_will(c: &Conn) {
    let (Some(w), Some(a)) = (&c.will, &c.authz) else {
        return;
    };
    if a.allows(Action::Publish, &w.topic) {
        c.shared.broker.publish(Message {
            topic: w.topic.clone(),
            payload: Arc::new(w.payload.clone()),
            qos: w.qos.min(1),
            retain: w.retain,
        });
    }
}

/// The session; `None` when it ended before a CONNECT was accepted (nothing to log as a
/// Disconnect: the device never connected).
async fn session<R: AsyncRead + Unpin>(
    c: &mut Conn,
    rd: &mut R,
    peer: &Peer,
    stop: &mut watch::Receiver<bool>,
) -> Option<End> {
    let first =
        tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, packets::read(rd, MAX_PACKET)).await;
    let (byte, body) = match first {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::info!("#{} {}: no CONNECT: {e:?}", peer.conn, peer.addr);
            return None;
        }
        Err(_) => {
            tracing::info!(
                "#{} {}: no CONNECT within {:?}",
                peer.conn,
                peer.addr,
                limits::HANDSHAKE_TIMEOUT
            );
            return None;
        }
    };
    if byte >> 4 != 1 {
        // The first packet must be CONNECT (MQTT 3.1.4-1): closed.
        tracing::info!(
            "#{} {}: first packet is type {}, not CONNECT",
            peer.conn,
            peer.addr,
            byte >> 4
        );
        return None;
    }
    let connect = match packets::connect(&body) {
        Ok(x) => x,
        Err(e) => {
            c.log(Event::ConnectFailed {
                reason: "CLIENT_ERROR",
                details: format!("Malformed CONNECT: {}", e.0),
            });
            return None;
        }
    };
    c.level = connect.level;
    let (kick_tx, mut kick_rx) = oneshot::channel();
    let keep_alive = match accept(c, &connect, peer, kick_tx).await {
        Some(k) => k,
        None => return None,
    };
    let deadline = limits::keep_alive_deadline(keep_alive);
    loop {
        let packet = tokio::select! {
            r = tokio::time::timeout(deadline, packets::read(rd, MAX_PACKET)) => r,
            k = &mut kick_rx => {
                if k == Ok(Kick::TakenOver) {
                    // mqtt.md: the new connection is accepted, the older one disconnected;
                    // MQTT 5 DISCONNECT 0x8E Session taken over.
                    c.disconnect(rc::SESSION_TAKEN_OVER).await;
                    return Some(End::Duplicate);
                }
                continue;
            }
            _ = stop.changed() => {
                c.disconnect(rc::SERVER_SHUTTING_DOWN).await;
                return Some(End::Shutdown);
            }
        };
        let (byte, body) = match packet {
            Err(_) => {
                c.disconnect(rc::KEEP_ALIVE_TIMEOUT).await;
                return Some(End::KeepAlive);
            }
            Ok(Err(ReadError::Closed { .. })) | Ok(Err(ReadError::Io(_))) => {
                return Some(End::Lost)
            }
            Ok(Err(ReadError::BadLength)) => {
                c.disconnect(rc::MALFORMED).await;
                return Some(End::ClientError);
            }
            Ok(Err(ReadError::TooLarge(n))) => {
                // Quotas page: requests over 128 KB are rejected; life-cycle events: a
                // payload over the limit is a CLIENT_ERROR disconnect.
                tracing::info!("#{} {}: a packet of {n} bytes", peer.conn, peer.addr);
                return Some(End::ClientError);
            }
            Ok(Ok(p)) => p,
        };
        if let Some(end) = packet_in(c, byte, &body).await {
            return Some(end);
        }
    }
}

/// Decides a CONNECT; the effective keep-alive when accepted, `None` when refused.
async fn accept(
    c: &mut Conn,
    connect: &packets::Connect,
    peer: &Peer,
    kick: oneshot::Sender<Kick>,
) -> Option<u16> {
    let v5 = connect.level >= LEVEL_5;
    if !(connect.protocol_name == "MQTT"
        && (connect.level == LEVEL_311 || connect.level == LEVEL_5))
    {
        // AWS IoT Core speaks MQTT 3.1.1 and 5 (mqtt.md). The refusal code is MQTT's own:
        // 0x01 unacceptable protocol version (3.1.1 §3.2.2.3).
        c.level = LEVEL_311;
        c.send(packets::connack(LEVEL_311, false, 0x01, None)).await;
        c.log(Event::ConnectFailed {
            reason: "CLIENT_ERROR",
            details: format!("MQTT protocol level {} is not supported", connect.level),
        });
        return None;
    }
    let mut assigned = None;
    let client_id = if connect.client_id.is_empty() {
        let id = format!("iotscope-{}", &crate::log::trace_id()[..8]);
        assigned = Some(id.clone());
        id
    } else {
        connect.client_id.clone()
    };
    c.who.client_id = Some(client_id.clone());
    if client_id.len() > MAX_CLIENT_ID {
        // Quotas page: 128 bytes. MQTT 5 0x85 Client Identifier not valid (mqtt.md); 3.1.1
        // return code 2, identifier rejected.
        let code = if v5 { rc::CLIENT_ID_INVALID } else { 0x02 };
        c.send(packets::connack(connect.level, false, code, None))
            .await;
        c.log(Event::ConnectFailed {
            reason: "CLIENT_ERROR",
            details: format!(
                "The client id is {} bytes; the limit is {MAX_CLIENT_ID}",
                client_id.len()
            ),
        });
        return None;
    }
    let shared = c.shared.clone();
    let authz = shared.authz(peer, &client_id);
    // iot:Connect on client/<clientId> (policy actions page). Denied: MQTT 3.1.1 closes
    // without a CONNACK, MQTT 5 answers CONNACK 0x87 (reference §2; js-v2#101; mqtt.md).
    let mut denied =
        (!authz.allows(Action::Connect, &client_id)).then(|| "iot:Connect".to_string());
    if let Some(w) = &connect.will {
        if w.qos > 1 {
            if v5 {
                c.send(packets::connack(
                    connect.level,
                    false,
                    rc::QOS_NOT_SUPPORTED,
                    None,
                ))
                .await;
            }
            c.log(Event::ConnectFailed {
                reason: "CLIENT_ERROR",
                details: "Will QoS 2 is not supported".into(),
            });
            return None;
        }
        if let Err(Bad::Invalid(why) | Bad::Reserved(why)) = topics::check_topic(&w.topic) {
            if v5 {
                c.send(packets::connack(
                    connect.level,
                    false,
                    rc::TOPIC_INVALID,
                    None,
                ))
                .await;
            }
            c.log(Event::ConnectFailed {
                reason: "CLIENT_ERROR",
                details: format!("Will topic: {why}"),
            });
            return None;
        }
        // Life-cycle events: connect_failed fires "when a last will and testament is
        // configured and the client is not authorized to publish to that last will topic".
        if denied.is_none() && !authz.allows(Action::Publish, &w.topic) {
            denied = Some(format!("iot:Publish on the will topic {}", w.topic));
        }
        if denied.is_none() && w.retain && !authz.allows(Action::RetainPublish, &w.topic) {
            denied = Some(format!("iot:RetainPublish on the will topic {}", w.topic));
        }
    }
    if let Some(what) = denied {
        if v5 {
            c.send(packets::connack(
                connect.level,
                false,
                rc::NOT_AUTHORIZED,
                None,
            ))
            .await;
        }
        c.log(Event::ConnectFailed {
            reason: "AUTHORIZATION_FAILURE",
            details: format!("Authorization Failure: {what} is not allowed"),
        });
        return None;
    }
    // Persistent sessions: 3.1.1 cleanSession = 0; MQTT 5 a Session Expiry Interval over 0.
    let max = shared.session_expiry;
    let (persistent, expiry, adjusted) = if v5 {
        let asked = connect.props.session_expiry.unwrap_or(0);
        let granted = Duration::from_secs(u64::from(asked)).min(max);
        let adjusted = (u64::from(asked) > max.as_secs()).then_some(max.as_secs() as u32);
        (asked > 0, granted, adjusted)
    } else {
        (!connect.clean, max, None)
    };
    let keep_alive = limits::effective_keep_alive(connect.keep_alive);
    let (present, queued) = shared.broker.attach(Attach {
        client_id: client_id.clone(),
        owner: Owner {
            conn: peer.conn,
            tx: c.out.clone(),
            kick: Some(kick),
        },
        level: connect.level,
        clean: connect.clean,
        persistent,
        expiry,
        authz: authz.clone(),
    });
    let props = ConnackProps {
        session_expiry: adjusted,
        assigned_client_id: assigned,
        server_keep_alive: (keep_alive != connect.keep_alive).then_some(keep_alive),
    };
    c.send(packets::connack(connect.level, present, 0, Some(&props)))
        .await;
    c.log(Event::Connect);
    c.authz = Some(authz);
    c.will = connect.will.clone();
    for m in &queued {
        shared.broker.send_one(&client_id, m, m.qos, false);
    }
    Some(keep_alive)
}

/// One packet after CONNECT; `Some` ends the session.
async fn packet_in(c: &mut Conn, byte: u8, body: &[u8]) -> Option<End> {
    let v5 = c.level >= LEVEL_5;
    match byte >> 4 {
        3 => publish(c, byte, body).await,
        4 => None, // PUBACK from the device: in-flight tracking is not emulated.
        8 => subscribe(c, byte, body).await,
        10 => match packets::unsubscribe(byte, body, c.level) {
            Ok((id, filters)) => {
                let client_id = c.who.client_id.clone().unwrap_or_default();
                for f in &filters {
                    c.shared.broker.unsubscribe(&client_id, f);
                }
                c.send(packets::unsuback(c.level, id, filters.len())).await;
                None
            }
            Err(_) => malformed(c).await,
        },
        12 => {
            c.send(packets::pingresp()).await;
            None
        }
        14 => {
            if v5 && packets::disconnect_reason(body) == 0x04 {
                // "Disconnect with Will Message": the device asks for its will.
                publish_will(c);
            }
            Some(End::Client)
        }
        1 => {
            // Life-cycle events: more than one CONNECT on a connection is a CLIENT_ERROR.
            c.disconnect(rc::PROTOCOL_ERROR).await;
            Some(End::ClientError)
        }
        // PUBREC, PUBREL, PUBCOMP and AUTH are not supported (mqtt.md).
        5..=7 | 15 => {
            c.disconnect(rc::PROTOCOL_ERROR).await;
            Some(End::ClientError)
        }
        _ => malformed(c).await,
    }
}

async fn malformed(c: &Conn) -> Option<End> {
    c.disconnect(rc::MALFORMED).await;
    Some(End::ClientError)
}

async fn publish(c: &mut Conn, byte: u8, body: &[u8]) -> Option<End> {
    let v5 = c.level >= LEVEL_5;
    let p = match packets::publish(byte, body, c.level) {
        Ok(p) => p,
        Err(_) => return malformed(c).await,
    };
    if p.qos == 2 {
        // mqtt.md: QoS 2 is not supported; "When QoS level 2 is requested, the message broker
        // doesn't send a PUBACK or SUBACK". MQTT 5: a PUBLISH over the CONNACK's Maximum QoS
        // is answered with DISCONNECT 0x9B.
        if v5 {
            c.disconnect(rc::QOS_NOT_SUPPORTED).await;
            return Some(End::ClientError);
        }
        return None;
    }
    if p.props.topic_alias.is_some() {
        // The CONNACK said Topic Alias Maximum 0: aliases are not emulated.
        c.disconnect(rc::TOPIC_ALIAS_INVALID).await;
        return Some(End::ClientError);
    }
    let fail = |c: &Conn, reason, details: String| {
        c.log(Event::PublishInFailed {
            topic: &p.topic,
            reason,
            details,
        })
    };
    let authz = c.authz.clone()?;
    let denied = match topics::check_topic(&p.topic) {
        Err(Bad::Invalid(why)) => {
            fail(c, "CLIENT_ERROR", why);
            c.disconnect(rc::TOPIC_INVALID).await;
            return Some(End::ClientError);
        }
        Err(Bad::Reserved(why)) => Some(why),
        Ok(()) if !authz.allows(Action::Publish, &p.topic) => {
            Some(format!("iot:Publish on topic/{} is not allowed", p.topic))
        }
        Ok(()) if p.retain && !authz.allows(Action::RetainPublish, &p.topic) => Some(format!(
            "iot:RetainPublish on topic/{} is not allowed",
            p.topic
        )),
        Ok(()) => None,
    };
    if let Some(why) = denied {
        fail(
            c,
            "AUTHORIZATION_FAILURE",
            format!("Authorization Failure: {why}"),
        );
        if v5 {
            // mqtt.md: PUBACK 0x87 Not authorized. A denied QoS 0 PUBLISH gets no answer
            // (whether AWS disconnects then is UNVERIFIED).
            if let Some(id) = p.packet_id {
                c.send(packets::puback(LEVEL_5, id, rc::NOT_AUTHORIZED))
                    .await;
            }
            return None;
        }
        // MQTT 3.1.1 has no negative PUBACK: the server disconnects (python-v2#260).
        return Some(End::AuthError);
    }
    c.log(Event::PublishIn {
        topic: &p.topic,
        retain: p.retain,
    });
    let id = p.packet_id;
    c.shared.broker.publish(Message {
        topic: p.topic,
        payload: Arc::new(p.payload),
        qos: p.qos,
        retain: p.retain,
    });
    if let Some(id) = id {
        c.send(packets::puback(c.level, id, 0)).await;
    }
    None
}

async fn subscribe(c: &mut Conn, byte: u8, body: &[u8]) -> Option<End> {
    let v5 = c.level >= LEVEL_5;
    let s = match packets::subscribe(byte, body, c.level) {
        Ok(s) => s,
        Err(_) => return malformed(c).await,
    };
    if s.props.subscription_id {
        // The CONNACK said Subscription Identifier Available 0; mqtt.md lists 0xA1.
        c.disconnect(rc::SUB_IDS_NOT_SUPPORTED).await;
        return Some(End::ClientError);
    }
    if s.filters.iter().any(|(_, o)| o & 0x03 == 2) {
        // mqtt.md: with QoS 2 requested, the broker sends no SUBACK.
        return None;
    }
    let authz = c.authz.clone()?;
    let client_id = c.who.client_id.clone().unwrap_or_default();
    let names: Vec<&str> = s.filters.iter().map(|(f, _)| f.as_str()).collect();
    let joined = names.join(",");
    if s.filters.len() > MAX_FILTERS_PER_SUBSCRIBE {
        // Quotas page: 8 filters per SUBSCRIBE. The wire answer is UNVERIFIED: every filter
        // refused, 0x97 Quota exceeded in MQTT 5.
        let code = if v5 {
            rc::QUOTA_EXCEEDED
        } else {
            rc::UNSPECIFIED
        };
        c.log(Event::SubscribeFailed {
            filters: &joined,
            reason: "CLIENT_ERROR",
            details: format!(
                "{} topic filters in one SUBSCRIBE; the limit is {MAX_FILTERS_PER_SUBSCRIBE}",
                s.filters.len()
            ),
        });
        c.send(packets::suback(
            c.level,
            s.packet_id,
            &vec![code; s.filters.len()],
        ))
        .await;
        return None;
    }
    let mut codes = Vec::with_capacity(s.filters.len());
    let mut granted = Vec::new();
    for (filter, options) in &s.filters {
        let qos = (options & 0x03).min(1);
        let code = match topics::check_filter(filter) {
            Err(_) => {
                if v5 {
                    rc::FILTER_INVALID
                } else {
                    rc::UNSPECIFIED
                }
            }
            // iot:Subscribe on topicfilter/<filter> (policy actions page). Denied: MQTT 5
            // SUBACK 0x87 (mqtt.md); 3.1.1 SUBACK 0x80 (field reports of a close instead
            // are in docs/endpoint.md).
            Ok(()) if !authz.allows(Action::Subscribe, filter) => {
                c.log(Event::SubscribeFailed {
                    filters: filter,
                    reason: "AUTHORIZATION_FAILURE",
                    details: format!("Authorization Failure: iot:Subscribe on topicfilter/{filter} is not allowed"),
                });
                if v5 {
                    rc::NOT_AUTHORIZED
                } else {
                    rc::UNSPECIFIED
                }
            }
            Ok(()) => {
                granted.push((filter.clone(), qos));
                qos
            }
        };
        codes.push(code);
    }
    let have = c.shared.broker.subscriptions(&client_id);
    if have + granted.len() > limits::MAX_SUBSCRIPTIONS {
        // Quotas page: 50 subscriptions per connection, "the connection will be closed".
        return Some(End::ClientError);
    }
    let mut retained = Vec::new();
    for (f, q) in &granted {
        retained.extend(
            c.shared
                .broker
                .subscribe(&client_id, f, *q)
                .into_iter()
                .map(|m| (m, *q)),
        );
    }
    if !granted.is_empty() {
        let ok: Vec<&str> = granted.iter().map(|(f, _)| f.as_str()).collect();
        c.log(Event::Subscribe {
            filters: &ok.join(","),
        });
    }
    c.send(packets::suback(c.level, s.packet_id, &codes)).await;
    for (m, q) in retained {
        c.shared.broker.send_one(&client_id, &m, q, true);
    }
    None
}

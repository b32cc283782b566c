//! The MQTT part of the probe: CONNECT, then SUBSCRIBE and PUBLISH when asked, each answer
//! read by the decoder from the connection's own bytes, then DISCONNECT.

use std::time::{Duration, Instant};

use iotscope_decoder::mqtt::{reason_name, Body, Packet, PacketType};
use iotscope_decoder::Direction;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::decoding::Decoding;
use super::mqtt_packets as pkt;
use super::steps::Steps;
use super::tls_stream::{close, describe, Stream, SETTLE};

/// What the MQTT part is to do.
pub struct MqttPlan {
    pub level: u8,
    pub client_id: String,
    pub subscribe: Option<String>,
    pub publish: Option<String>,
}

/// AWS IoT Core takes 30 to 1200 s; a minute is what most SDKs use.
const KEEP_ALIVE: u16 = 60;
const SUBSCRIBE_ID: u16 = 1;
const PUBLISH_ID: u16 = 2;
const PAYLOAD: &[u8] = br#"{"from":"iotscope probe"}"#;

/// Where the connection stands after the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nobody ended it yet: it is still to be closed in order.
    Open,
    /// DISCONNECT was sent and the connection closed in order.
    Closed,
    /// The endpoint ended it (an alert, a close), or sending failed.
    Ended,
}

pub struct Exchange {
    pub state: State,
    /// The endpoint answered at least one packet.
    pub endpoint_answered: bool,
    /// The endpoint ended the connection with a TLS alert instead of answering.
    pub alert_instead: bool,
    /// The endpoint ended the session with close_notify instead of answering.
    pub close_notify_instead: bool,
    pub timed_out: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EndedBy {
    Alert,
    CloseNotify,
    Socket,
}

/// How waiting for an answer ended without one.
enum NoAnswer {
    /// The endpoint ended the connection: how, and with what.
    Ended(String, EndedBy),
    Timeout,
    SendFailed(String),
}

pub async fn run(
    tls: &mut Stream,
    dec: &mut Decoding,
    plan: &MqttPlan,
    timeout: Duration,
    steps: &mut Steps,
) -> Exchange {
    let mut ex = Exchange {
        state: State::Open,
        endpoint_answered: false,
        alert_instead: false,
        close_notify_instead: false,
        timed_out: None,
    };
    let level = plan.level;

    // CONNECT.
    let began = Instant::now();
    let connect = pkt::connect(level, &plan.client_id, KEEP_ALIVE);
    match ask(tls, dec, &connect, PacketType::Connack, |_| true, timeout).await {
        Ok(p) => {
            ex.endpoint_answered = true;
            let (code, reason, present) = match &p.body {
                Body::Connack(a) => (a.code, a.reason, a.session_present),
                _ => (0xff, "?", false),
            };
            let ok = code == 0;
            let summary = format!(
                "client id {} → CONNACK 0x{code:02x} {reason}",
                plan.client_id
            );
            let details = if present {
                vec!["session present: the endpoint kept an old session".into()]
            } else {
                vec![]
            };
            steps.record("connect", began, ok, summary, details);
            if !ok {
                // A refused CONNECT ends the connection on the endpoint's side.
                return ex;
            }
        }
        Err(e) => {
            fail(steps, "connect", began, "CONNACK", e, &mut ex, timeout);
            return ex;
        }
    }

    // SUBSCRIBE.
    if let Some(filter) = &plan.subscribe {
        let began = Instant::now();
        let bytes = pkt::subscribe(level, SUBSCRIBE_ID, filter, 1);
        let fits = |p: &Packet| matches!(&p.body, Body::SubAck(a) if a.packet_id == SUBSCRIBE_ID);
        match ask(tls, dec, &bytes, PacketType::Suback, fits, timeout).await {
            Ok(p) => {
                let code = match &p.body {
                    Body::SubAck(a) => a.codes.first().copied().unwrap_or(0x80),
                    _ => 0x80,
                };
                let summary = if code < 0x80 {
                    format!("{filter} → SUBACK granted QoS {code}")
                } else {
                    format!(
                        "{filter} → SUBACK 0x{code:02x} {}",
                        reason_name(PacketType::Suback, level, code)
                    )
                };
                steps.record("subscribe", began, code < 0x80, summary, vec![]);
            }
            Err(e) => {
                fail(steps, "subscribe", began, "SUBACK", e, &mut ex, timeout);
                return ex;
            }
        }
    }

    // PUBLISH at QoS 1.
    if let Some(topic) = &plan.publish {
        let began = Instant::now();
        let mark = dec.mark();
        let bytes = pkt::publish_qos1(level, PUBLISH_ID, topic, PAYLOAD);
        let fits = |p: &Packet| matches!(&p.body, Body::Ack(a) if a.packet_id == PUBLISH_ID);
        match ask(tls, dec, &bytes, PacketType::Puback, fits, timeout).await {
            Ok(p) => {
                let (code, reason) = match &p.body {
                    Body::Ack(a) => (a.code, a.reason),
                    _ => (0, ""),
                };
                let mut summary = format!("{topic} ({} bytes, QoS 1) → PUBACK", PAYLOAD.len());
                if level >= pkt::LEVEL_5 || code != 0 {
                    summary.push_str(&format!(" 0x{code:02x} {reason}"));
                }
                let echoed = dec.answer(
                    mark,
                    PacketType::Publish,
                    |p| matches!(&p.body, Body::Publish(x) if &x.topic == topic),
                );
                let details = if echoed.is_some() {
                    vec!["the endpoint delivered the message back through the subscription".into()]
                } else {
                    vec![]
                };
                steps.record("publish", began, code < 0x80, summary, details);
            }
            Err(e) => {
                fail(steps, "publish", began, "PUBACK", e, &mut ex, timeout);
                return ex;
            }
        }
    }

    // DISCONNECT, then close.
    let began = Instant::now();
    if let Err(e) = send(tls, &pkt::disconnect()).await {
        steps.record(
            "disconnect",
            began,
            false,
            format!("sending DISCONNECT failed: {e}"),
            vec![],
        );
        ex.state = State::Ended;
        return ex;
    }
    let closed = close(tls, timeout.min(SETTLE * 2)).await;
    steps.record(
        "disconnect",
        began,
        true,
        format!("sent DISCONNECT; {closed}"),
        vec![],
    );
    ex.state = State::Closed;
    ex
}

fn fail(
    steps: &mut Steps,
    step: &'static str,
    began: Instant,
    wanted: &str,
    why: NoAnswer,
    ex: &mut Exchange,
    timeout: Duration,
) {
    let summary = match why {
        NoAnswer::Ended(how, by) => {
            ex.state = State::Ended;
            ex.alert_instead = by == EndedBy::Alert;
            ex.close_notify_instead = by == EndedBy::CloseNotify;
            format!("no {wanted}: {how}")
        }
        NoAnswer::SendFailed(e) => {
            ex.state = State::Ended;
            format!("could not send: {e}")
        }
        NoAnswer::Timeout => {
            ex.timed_out = Some(step);
            format!("no {wanted} within {:.1} s", timeout.as_secs_f64())
        }
    };
    steps.record(step, began, false, summary, vec![]);
}

async fn send(tls: &mut Stream, bytes: &[u8]) -> std::io::Result<()> {
    tls.write_all(bytes).await?;
    tls.flush().await
}

/// Sends `bytes` and waits for the endpoint's packet of `kind` that `fits`, as the decoder
/// reads it.
async fn ask(
    tls: &mut Stream,
    dec: &mut Decoding,
    bytes: &[u8],
    kind: PacketType,
    fits: impl Fn(&Packet) -> bool,
    timeout: Duration,
) -> Result<Packet, NoAnswer> {
    tls.get_mut().0.hand_on_held();
    dec.drain();
    let mark = dec.mark();
    send(tls, bytes)
        .await
        .map_err(|e| NoAnswer::SendFailed(describe(&e)))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        // rustls has opened what it returned; the tee hands the records on, the decoder
        // reads them.
        tls.get_mut().0.hand_on_held();
        dec.drain();
        if let Some(p) = dec.answer(mark, kind, &fits) {
            return Ok(p);
        }
        let read = tokio::time::timeout_at(deadline, tls.read(&mut buf)).await;
        let ended = match read {
            Err(_) => {
                dec.note(
                    Direction::DeviceToEndpoint,
                    &format!(
                        "no {} within {:.1} s; iotscope gave up waiting (--timeout)",
                        kind.name(),
                        timeout.as_secs_f64()
                    ),
                );
                return Err(NoAnswer::Timeout);
            }
            Ok(Ok(n)) if n > 0 => continue,
            Ok(Ok(_)) => (
                "the endpoint closed the connection (close_notify)".to_string(),
                EndedBy::CloseNotify,
            ),
            Ok(Err(e)) => {
                let alert = matches!(
                    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
                    Some(rustls::Error::AlertReceived(_))
                );
                let by = if alert {
                    EndedBy::Alert
                } else {
                    EndedBy::Socket
                };
                (describe(&e), by)
            }
        };
        tls.get_mut().0.hand_on_held();
        dec.drain();
        if let Some(p) = dec.answer(mark, kind, &fits) {
            return Ok(p);
        }
        return Err(NoAnswer::Ended(ended.0, ended.1));
    }
}

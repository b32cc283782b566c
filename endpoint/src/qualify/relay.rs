//! A device connection in an MQTT case, and with `--upstream` its leg to a real endpoint.
//!
//! Without an upstream, iotscope answers as a minimal broker (CONNACK, PUBACK, SUBACK,
//! PINGRESP). With one, the case relays: the device's CONNECT goes upstream and the
//! upstream's CONNACK comes back (session present as the real broker says), and every packet
//! after it flows both ways; the case only does its own intervention (withholds one
//! acknowledgement, refuses a CONNECT itself, closes, or publishes a message of its own).
//! Evidence names what came from the upstream.
//!
//! The device's packets are framed from a buffer filled by single reads, so that waiting for
//! the device and for the upstream at once never loses half a packet; the upstream's packets
//! are read by a task of their own and arrive over a channel.

use std::sync::Arc;
use std::time::Duration;

use iotscope_proxy::error::Error;
use iotscope_proxy::mitm::identities::Identities;
use iotscope_proxy::tls_setup::client;
use iotscope_proxy::upstream::Upstream;
use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsConnector;

use crate::mqtt::packets;

use super::wire::Ended;
use super::Ctx;

/// The largest packet read either way (AWS IoT Core's 128 KB limit).
const MAX_PACKET: usize = 128 * 1024;

/// How long reaching the upstream (TCP and TLS) and its CONNACK may take.
const UPSTREAM_WAIT: Duration = Duration::from_secs(10);

/// `--upstream` and the identity iotscope presents there: the certificate of
/// `--device-cert`, or the one of `--device-certs DIR` whose ID is the device's own, or none;
/// and the roots it trusts for the upstream (webpki-roots and `--upstream-ca`), as
/// `iotscope proxy --mitm` does.
pub struct UpstreamCfg {
    pub addr: Upstream,
    pub roots: Arc<RootCertStore>,
    pub identities: Identities,
    /// The SNI sent upstream when the device sent none (`--endpoint`).
    pub name: String,
}

type UpTls = tokio_rustls::client::TlsStream<TcpStream>;

impl UpstreamCfg {
    /// TCP and TLS to the upstream with the identity for a device that presented the
    /// certificate `leaf` (its ID) and asked for `sni`.
    async fn dial(&self, sni: Option<&str>, leaf: Option<&str>) -> Result<UpTls, Error> {
        let identity = match &self.identities {
            Identities::None => None,
            ids => Some(ids.for_device(leaf)?),
        };
        let (cfg, _) = client::config(
            &self.roots,
            identity.as_deref(),
            Vec::new(),
            Arc::new(rustls::NoKeyLog),
        )?;
        let name = sni.unwrap_or(&self.name).to_string();
        let server = ServerName::try_from(name.clone()).map_err(|e| {
            Error::BadValue(format!("{name:?} cannot be sent as a server name: {e}"))
        })?;
        let (tcp, _) =
            self.addr.connect(UPSTREAM_WAIT).await.map_err(|e| {
                Error::Network(format!("cannot reach the upstream {}: {e}", self.addr))
            })?;
        let _ = tcp.set_nodelay(true);
        match timeout(UPSTREAM_WAIT, TlsConnector::from(cfg).connect(server, tcp)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(Error::Network(format!(
                "the TLS handshake with the upstream {} (as {name}) failed: {e}",
                self.addr
            ))),
            Err(_) => Err(Error::Network(format!(
                "the upstream {} did not finish its TLS handshake within {} s",
                self.addr,
                UPSTREAM_WAIT.as_secs()
            ))),
        }
    }

    /// At start: the upstream can be reached, so that a wrong address is an error naming it
    /// rather than every case's NOT RUN. With `--device-certs` the identity depends on the
    /// device, so only TCP is tried.
    pub async fn check(&self) -> Result<(), Error> {
        if matches!(self.identities, Identities::ById { .. }) {
            return self
                .addr
                .connect(UPSTREAM_WAIT)
                .await
                .map(|_| ())
                .map_err(|e| {
                    Error::Network(format!("cannot reach the upstream {}: {e}", self.addr))
                });
        }
        let mut s = self.dial(None, None).await?;
        let _ = s.shutdown().await;
        Ok(())
    }
}

/// What the upstream's reader task hands over.
enum FromUp {
    Packet(u8, Vec<u8>),
    Ended(String),
}

/// The upstream leg of one device connection.
struct Leg {
    write: WriteHalf<UpTls>,
    rx: mpsc::Receiver<FromUp>,
    task: tokio::task::JoinHandle<()>,
    addr: String,
}

impl Drop for Leg {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the upstream (or iotscope) answered a CONNECT.
pub struct Accepted {
    pub session_present: bool,
    pub code: u8,
}

/// One device connection in an MQTT case.
pub struct Conn {
    device: TlsStream<TcpStream>,
    buf: Vec<u8>,
    sni: Option<String>,
    /// The certificate ID of what the device presented.
    leaf: Option<String>,
    pub level: u8,
    /// The device's CONNECT as it sent it (first byte, body), for the upstream.
    connect: (u8, Vec<u8>),
    up: Option<Leg>,
    /// Acknowledgements from the upstream the case withholds: packet type and id.
    withheld: Vec<(u8, u16)>,
    closed: bool,
}

/// A read error from the upstream in words: the TLS alert it sent (a TLS 1.3 server refuses
/// a client certificate only after the handshake, so this is where that shows), else the
/// error.
fn io_words(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => format!("it sent the TLS alert {a:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// An upstream packet in words.
fn describe(first: u8, body: &[u8], level: u8) -> String {
    let id = || {
        body.get(..2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .unwrap_or(0)
    };
    match first >> 4 {
        2 => format!(
            "CONNACK: session present {}, return code {}",
            body.first().map_or(0, |b| b & 1),
            body.get(1).copied().unwrap_or(0)
        ),
        3 => match packets::publish(first, body, level) {
            Ok(p) => format!(
                "PUBLISH QoS {} to {:?}, {} bytes",
                p.qos,
                p.topic,
                p.payload.len()
            ),
            Err(m) => format!("a malformed PUBLISH ({})", m.0),
        },
        4 => format!("PUBACK id {}", id()),
        9 => format!("SUBACK id {}", id()),
        11 => format!("UNSUBACK id {}", id()),
        13 => "PINGRESP".into(),
        14 => "DISCONNECT".into(),
        t => format!("packet type {t}"),
    }
}

impl Conn {
    /// A device connection whose CONNECT (`first`, `body`) has been read.
    pub fn new(device: TlsStream<TcpStream>, first: u8, body: &[u8], level: u8) -> Conn {
        let (_, tls) = device.get_ref();
        let sni = tls.server_name().map(str::to_string);
        let leaf = tls
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| iotscope_decoder::cert::summarize(c.as_ref()).sha256);
        Conn {
            device,
            buf: Vec::new(),
            sni,
            leaf,
            level,
            connect: (first, body.to_vec()),
            up: None,
            withheld: Vec::new(),
            closed: false,
        }
    }

    /// True when this connection is relayed to an upstream.
    pub fn relayed(&self) -> bool {
        self.up.is_some()
    }

    /// Accepts the device's CONNECT. Without an upstream iotscope answers CONNACK 0 with
    /// `session_present` (`words` say it in the evidence); with one, the CONNECT goes
    /// upstream and the upstream's CONNACK is passed back. Err names what went wrong upstream.
    pub async fn accept(
        &mut self,
        ctx: &mut Ctx<'_>,
        session_present: bool,
        words: &str,
    ) -> Result<Accepted, Error> {
        let Some(cfg) = ctx.upstream else {
            let bytes = connack(self.level, session_present, 0);
            self.send(ctx, &bytes, words).await;
            return Ok(Accepted {
                session_present,
                code: 0,
            });
        };
        let addr = cfg.addr.to_string();
        let tls = match cfg.dial(self.sni.as_deref(), self.leaf.as_deref()).await {
            Ok(t) => t,
            Err(e) => {
                ctx.note(e.to_string());
                self.close_device().await;
                return Err(e);
            }
        };
        let (mut rd, write) = tokio::io::split(tls);
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let m = match packets::read(&mut rd, MAX_PACKET).await {
                    Ok((f, b)) => FromUp::Packet(f, b),
                    Err(packets::ReadError::Closed { clean: true }) => {
                        FromUp::Ended("it closed the connection".into())
                    }
                    Err(packets::ReadError::Closed { clean: false }) => {
                        FromUp::Ended("the connection ended without close_notify".into())
                    }
                    Err(packets::ReadError::Io(e)) => FromUp::Ended(io_words(&e)),
                    Err(packets::ReadError::BadLength) => {
                        FromUp::Ended("a packet's remaining length is malformed".into())
                    }
                    Err(packets::ReadError::TooLarge(n)) => {
                        FromUp::Ended(format!("a {n}-byte packet (over 128 KB)"))
                    }
                };
                let end = matches!(m, FromUp::Ended(_));
                if tx.send(m).await.is_err() || end {
                    break;
                }
            }
        });
        self.up = Some(Leg {
            write,
            rx,
            task,
            addr: addr.clone(),
        });
        let connect = iotscope_decoder::mqtt::encode::packet(self.connect.0, &self.connect.1);
        self.pass_up(ctx, &connect, "the CONNECT").await;
        let leg = self.up.as_mut().expect("just set");
        let until = (Instant::now() + UPSTREAM_WAIT).min(ctx.deadline);
        let answer = tokio::select! {
            m = leg.rx.recv() => m,
            _ = sleep_until(until) => None,
        };
        match answer {
            Some(FromUp::Packet(first, body)) if first >> 4 == 2 && body.len() >= 2 => {
                self.pass_down(ctx, &addr, first, &body).await;
                Ok(Accepted {
                    session_present: body[0] & 1 == 1,
                    code: body[1],
                })
            }
            other => {
                let why = match other {
                    Some(FromUp::Packet(f, b)) => format!(
                        "the upstream {addr} answered the CONNECT with {}, not CONNACK",
                        describe(f, &b, self.level)
                    ),
                    Some(FromUp::Ended(e)) => {
                        format!("the upstream {addr} sent no CONNACK: {e}")
                    }
                    None => format!("the upstream {addr} sent no CONNACK in time"),
                };
                ctx.note(why.clone());
                self.close_device().await;
                Err(Error::Network(why))
            }
        }
    }

    /// Passes a device packet to the upstream; false when there is none (iotscope answers).
    pub async fn forward(&mut self, ctx: &mut Ctx<'_>, first: u8, body: &[u8]) -> bool {
        if self.up.is_none() {
            return false;
        }
        let bytes = iotscope_decoder::mqtt::encode::packet(first, body);
        self.pass_up(ctx, &bytes, "it").await;
        true
    }

    async fn pass_up(&mut self, ctx: &mut Ctx<'_>, bytes: &[u8], what: &str) {
        let Some(leg) = self.up.as_mut() else { return };
        let r = async {
            leg.write.write_all(bytes).await?;
            leg.write.flush().await
        }
        .await;
        match r {
            Ok(()) => ctx.note(format!(
                "iotscope passes {what} to the upstream {}",
                leg.addr
            )),
            Err(e) => ctx.note(format!(
                "cannot pass {what} to the upstream {}: {e}",
                leg.addr
            )),
        }
    }

    /// Sets clean session (clean start in MQTT 5) on the CONNECT passed upstream, so that the
    /// upstream ends the device's session.
    pub fn clean_upstream(&mut self) {
        let body = &mut self.connect.1;
        if body.len() >= 2 {
            let flags = 2 + usize::from(u16::from_be_bytes([body[0], body[1]])) + 1;
            if let Some(f) = body.get_mut(flags) {
                *f |= 0x02;
            }
        }
    }

    /// The upstream's acknowledgement of type `kind` (4 PUBACK, 9 SUBACK) for `id` is not
    /// passed to the device.
    pub fn withhold(&mut self, kind: u8, id: u16) {
        self.withheld.push((kind, id));
    }

    /// The next device packet: Ok(None) at `until` (or the case's deadline), Err when the
    /// connection ended. Meanwhile the upstream's packets are passed to the device, save
    /// the withheld ones; when the upstream ends, the device's connection is closed too.
    pub async fn read(
        &mut self,
        ctx: &mut Ctx<'_>,
        until: Instant,
    ) -> Result<Option<(u8, Vec<u8>)>, Ended> {
        let until = until.min(ctx.deadline);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if let Some(p) = self.take()? {
                return Ok(Some(p));
            }
            if self.closed {
                return Err("iotscope closed the connection".into());
            }
            let (device, up) = (&mut self.device, &mut self.up);
            let from_up = async {
                match up.as_mut() {
                    Some(leg) => leg.rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let m = tokio::select! {
                r = device.read(&mut chunk) => match r {
                    Ok(0) => return Err("the device closed the connection".into()),
                    Ok(n) => {
                        self.buf.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Err("the connection ended without close_notify".into())
                    }
                    Err(e) => return Err(Ended(e.to_string())),
                },
                m = from_up => m,
                _ = sleep_until(until) => return Ok(None),
            };
            if let Some(ended) = self.upstream_packet(ctx, m).await {
                return Err(ended);
            }
        }
    }

    /// Passes an upstream packet to the device, or withholds it; when the upstream ended,
    /// closes the device's connection and says so.
    async fn upstream_packet(&mut self, ctx: &mut Ctx<'_>, m: Option<FromUp>) -> Option<Ended> {
        let addr = self.up.as_ref().map(|l| l.addr.clone()).unwrap_or_default();
        let why = match m {
            Some(FromUp::Packet(first, body)) => {
                let what = describe(first, &body, self.level);
                let id = body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                if let Some(i) = self
                    .withheld
                    .iter()
                    .position(|&(k, w)| k == first >> 4 && Some(w) == id)
                {
                    self.withheld.remove(i);
                    ctx.note(format!("iotscope withholds the upstream {addr}'s {what}"));
                } else {
                    self.pass_down(ctx, &addr, first, &body).await;
                }
                return None;
            }
            Some(FromUp::Ended(why)) => why,
            None => "it went away".to_string(),
        };
        ctx.note(format!("the upstream {addr} ended the connection: {why}"));
        self.up = None;
        self.close_device().await;
        ctx.note("iotscope closes the device's connection (its upstream ended)");
        Some(Ended(format!(
            "the upstream {addr} ended the connection ({why})"
        )))
    }

    /// Frames one packet from the buffer, if a whole one is there.
    fn take(&mut self) -> Result<Option<(u8, Vec<u8>)>, Ended> {
        let b = &self.buf;
        if b.len() < 2 {
            return Ok(None);
        }
        let mut len = 0usize;
        let mut i = 1;
        loop {
            if i > 4 {
                return Err("a packet's remaining length is malformed".into());
            }
            let Some(&byte) = b.get(i) else {
                return Ok(None);
            };
            len |= usize::from(byte & 0x7f) << (7 * (i - 1));
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if i + len > MAX_PACKET {
            return Err(Ended(format!("a {}-byte packet (over 128 KB)", i + len)));
        }
        if b.len() < i + len {
            return Ok(None);
        }
        let first = b[0];
        let body = b[i..i + len].to_vec();
        self.buf.drain(..i + len);
        Ok(Some((first, body)))
    }

    /// Passes an upstream packet to the device, saying where it came from.
    async fn pass_down(&mut self, ctx: &mut Ctx<'_>, addr: &str, first: u8, body: &[u8]) {
        let what = describe(first, body, self.level);
        let bytes = iotscope_decoder::mqtt::encode::packet(first, body);
        let sent = async {
            self.device.write_all(&bytes).await?;
            self.device.flush().await
        }
        .await;
        match sent {
            Ok(()) => ctx.note(format!(
                "the upstream {addr} sends {what}; iotscope passes it to the device"
            )),
            Err(e) => ctx.note(format!(
                "the upstream {addr} sends {what}; it cannot be passed to the device: {e}"
            )),
        }
    }

    /// Sends bytes to the device; a failure is recorded, not fatal (the device may have gone).
    pub async fn send(&mut self, ctx: &mut Ctx<'_>, bytes: &[u8], what: &str) {
        match self.device.write_all(bytes).await {
            Ok(()) => {
                let _ = self.device.flush().await;
                ctx.note(format!("iotscope sends {what}"));
            }
            Err(e) => ctx.note(format!("cannot send {what}: {e}")),
        }
    }

    async fn close_device(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = timeout(Duration::from_secs(1), self.device.shutdown()).await;
        }
    }

    /// Closes the device's connection from iotscope's side (TLS close_notify, then TCP), and
    /// its upstream connection.
    pub async fn close(mut self, ctx: &mut Ctx<'_>, why: &str) {
        self.close_device().await;
        let upstream = if let Some(mut leg) = self.up.take() {
            let _ = timeout(Duration::from_secs(1), leg.write.shutdown()).await;
            format!(", and its connection to the upstream {}", leg.addr)
        } else {
            String::new()
        };
        ctx.note(format!("iotscope closes the connection ({why}){upstream}"));
    }
}

impl Conn {
    /// Breaks the device's connection as a failing link does: a TCP reset, with no
    /// DISCONNECT and no TLS close_notify. The upstream connection is closed properly.
    pub async fn reset(mut self, ctx: &mut Ctx<'_>) {
        // A zero linger makes the close a reset and does not block (the deprecation is
        // about a non-zero linger blocking the thread on drop).
        #[allow(deprecated)]
        let _ = self.device.get_ref().0.set_linger(Some(Duration::ZERO));
        let upstream = if let Some(mut leg) = self.up.take() {
            let _ = timeout(Duration::from_secs(1), leg.write.shutdown()).await;
            format!(
                "; iotscope closes its connection to the upstream {}",
                leg.addr
            )
        } else {
            String::new()
        };
        drop(self);
        ctx.note(format!(
            "iotscope resets the TCP connection (an unstable link: no DISCONNECT, no close_notify){upstream}"
        ));
    }
}

/// A CONNACK as iotscope answers it; a refusal (5) is 0x87 in MQTT 5.
pub fn connack(level: u8, session_present: bool, code: u8) -> Vec<u8> {
    if level >= packets::LEVEL_5 {
        let code = if code == 5 { 0x87 } else { code };
        vec![0x20, 3, u8::from(session_present), code, 0]
    } else {
        vec![0x20, 2, u8::from(session_present), code]
    }
}

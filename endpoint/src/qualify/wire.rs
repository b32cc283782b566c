//! Accepting a device for a case: TCP, then TLS with the certificate the case chooses (the
//! ClientHello kept as evidence), then MQTT packets with the case's deadline.

use std::sync::Arc;
use std::time::Duration;

use iotscope_proxy::ca::mint::Present;
use iotscope_proxy::error::Error;
use iotscope_proxy::mitm::device_check::DeviceCertCheck;
use rustls::server::{Acceptor, ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

use crate::mqtt::packets::{self, ReadError};

use super::{large, Ctx};

/// The largest packet a case reads (AWS IoT Core's 128 KB limit).
const MAX_PACKET: usize = 128 * 1024;

/// What the device's ClientHello said.
#[derive(Clone, Debug)]
pub struct Hello {
    pub sni: Option<String>,
    pub suites: Vec<CipherSuite>,
}

/// How a TLS handshake ended.
pub enum Handshake {
    Done(Box<TlsStream<TcpStream>>),
    /// The device (or iotscope) ended it: the alert the device sent, or what went wrong.
    Failed(String),
    /// The ClientHello offers nothing iotscope (as AWS IoT Core) can answer, such as TLS 1.1
    /// only: no certificate was shown.
    Incompatible(String),
}

/// The next device connection, or None at the deadline.
pub async fn accept(ctx: &mut Ctx<'_>) -> Option<TcpStream> {
    match timeout_at(ctx.deadline, ctx.listener.accept()).await {
        Ok(Ok((s, peer))) => {
            ctx.note(format!("TCP connection from {peer}"));
            let _ = s.set_nodelay(true);
            Some(s)
        }
        Ok(Err(e)) => {
            ctx.note(format!("accept failed: {e}"));
            None
        }
        Err(_) => None,
    }
}

/// Which server certificate a case shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Valid, for the name the device asked for.
    Valid,
    /// One of the bad certificates of `--present`.
    Bad(Present),
    /// Valid, but with a leaf padded to about 14 KB ([`large`]).
    LargeChain,
}

/// Reads the ClientHello and answers with the case's certificate. None when the deadline
/// passed or the bytes were not a ClientHello.
pub async fn tls(ctx: &mut Ctx<'_>, tcp: TcpStream, show: Show) -> Option<(Hello, Handshake)> {
    let present = match show {
        Show::Bad(p) => Some(p),
        _ => None,
    };
    // The ClientHello as sent, for when rustls refuses it before it can be read (a TLS 1.1
    // hello has no signature_algorithms, which rustls requires).
    let raw = peek_record(&tcp, ctx.deadline).await;
    let start = match timeout_at(
        ctx.deadline,
        LazyConfigAcceptor::new(Acceptor::default(), tcp),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let Some(offer) = raw.as_deref().and_then(hello_versions) else {
                ctx.note(format!("no ClientHello: {e}"));
                return None;
            };
            let versions = offer
                .versions
                .iter()
                .map(|v| iotscope_decoder::tls::names::version_name(*v).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            let how = if offer.listed {
                "in its supported_versions"
            } else {
                "(legacy version, no supported_versions extension)"
            };
            ctx.note(format!(
                "ClientHello: SNI (not read), {} cipher suites offered, versions offered {how}: {versions}",
                offer.suites.len()
            ));
            let why = format!(
                "iotscope cannot answer the ClientHello ({e}): the device offers {versions}; AWS IoT Core takes TLS 1.2 and 1.3"
            );
            ctx.note(format!("TLS handshake ended: {why}"));
            let hello = Hello {
                sni: None,
                suites: offer.suites.into_iter().map(CipherSuite::from).collect(),
            };
            return Some((hello, Handshake::Incompatible(why)));
        }
        Err(_) => return None,
    };
    let ch: ClientHello = start.client_hello();
    let hello = Hello {
        sni: ch.server_name().map(str::to_string),
        suites: ch.cipher_suites().to_vec(),
    };
    ctx.note(format!(
        "ClientHello: SNI {}, {} cipher suites offered",
        hello.sni.as_deref().unwrap_or("(none)"),
        hello.suites.len()
    ));
    let name = hello
        .sni
        .clone()
        .unwrap_or_else(|| ctx.endpoint_name.to_string());
    let cert = if show == Show::LargeChain {
        large::chain(ctx.ca, &name).map(|(c, size)| {
            ctx.note(format!(
                "the chain is {size} bytes of DER: a leaf with {} extra names, and the CA",
                large::PADDING_NAMES
            ));
            c
        })
    } else {
        ctx.minter.certificate(&name, present).map(|(c, _)| c)
    };
    let cert = match cert {
        Ok(c) => c,
        Err(e) => return Some((hello, Handshake::Failed(format!("no certificate: {e}")))),
    };
    let what = match present {
        None if show == Show::LargeChain => format!("a large valid chain for {name}"),
        None => format!("a valid certificate for {name}"),
        Some(Present::Expired) => format!("a certificate for {name} that expired 30 days ago"),
        Some(Present::WrongName) => format!(
            "a certificate for {} (the device asked for {name})",
            iotscope_proxy::ca::mint::WRONG_NAME
        ),
        Some(Present::Untrusted) => format!("a certificate for {name} from an untrusted CA"),
    };
    ctx.note(format!("iotscope shows {what}"));
    let config = match server_config(cert) {
        Ok(c) => c,
        Err(e) => return Some((hello, Handshake::Failed(e.to_string()))),
    };
    let result = timeout_at(ctx.deadline, start.into_stream(config)).await;
    let handshake = match result {
        Ok(Ok(s)) => {
            let (_, conn) = s.get_ref();
            let version = conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            let suite = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default();
            ctx.note(format!(
                "TLS handshake completed: {version}, {suite} (the device sent its Finished)"
            ));
            Handshake::Done(Box::new(s))
        }
        Ok(Err(e)) => {
            let why = tls_error(&e);
            ctx.note(format!("TLS handshake ended: {why}"));
            Handshake::Failed(why)
        }
        Err(_) => Handshake::Failed("the time limit passed during the handshake".into()),
    };
    Some((hello, handshake))
}

/// The first TLS record the device sent, read without taking it (rustls reads it next).
/// Waits a little for a record split over several segments; None at the deadline.
async fn peek_record(tcp: &TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 16 * 1024 + 5];
    for _ in 0..50 {
        let n = timeout_at(deadline, tcp.peek(&mut buf)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        if n >= 5 && n >= 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]])) {
            buf.truncate(n);
            return Some(buf);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The versions and cipher suites a raw ClientHello record offers.
struct Offered {
    /// supported_versions when present (`listed`), else the legacy version.
    versions: Vec<u16>,
    listed: bool,
    suites: Vec<u16>,
}

fn hello_versions(record: &[u8]) -> Option<Offered> {
    let u16_at = |b: &[u8], i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
    };
    if record.first() != Some(&0x16) || record.get(5) != Some(&1) {
        return None;
    }
    let body = record.get(9..)?;
    let legacy = u16_at(body, 0)?;
    let mut i = 2 + 32;
    i += 1 + usize::from(*body.get(i)?);
    let suites_len = usize::from(u16_at(body, i)?);
    let suites = body
        .get(i + 2..i + 2 + suites_len)?
        .chunks(2)
        .filter_map(|c| u16_at(c, 0))
        .collect();
    i += 2 + suites_len;
    i += 1 + usize::from(*body.get(i)?);
    let mut versions = Vec::new();
    if let Some(ext_len) = u16_at(body, i) {
        let exts = body.get(i + 2..(i + 2 + usize::from(ext_len)).min(body.len()))?;
        let mut j = 0;
        while let (Some(t), Some(l)) = (u16_at(exts, j), u16_at(exts, j + 2)) {
            let data = exts.get(j + 4..j + 4 + usize::from(l))?;
            if t == 0x002b {
                versions = data
                    .get(1..)?
                    .chunks(2)
                    .filter_map(|c| u16_at(c, 0))
                    .collect();
            }
            j += 4 + usize::from(l);
        }
    }
    let listed = !versions.is_empty();
    if !listed {
        versions.push(legacy);
    }
    Some(Offered {
        versions,
        listed,
        suites,
    })
}

/// The device's alert when it sent one, else what ended the handshake.
fn tls_error(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => format!("the device sent the alert {a:?}"),
        Some(other) => format!("{other}"),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the device closed the connection".into()
        }
        None => format!("{e}"),
    }
}

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(cert: Arc<CertifiedKey>) -> Result<Arc<ServerConfig>, Error> {
    let c = ServerConfig::builder_with_provider(iotscope_proxy::tls_setup::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Crypto(format!("TLS configuration: {e}")))?
        // As AWS IoT Core does, ask for the device's certificate (any is taken: qualify
        // has no registry to check it against).
        .with_client_cert_verifier(Arc::new(DeviceCertCheck::new(false)))
        .with_cert_resolver(Arc::new(Fixed(cert)));
    Ok(Arc::new(c))
}

/// A device connection with TLS up and a valid certificate shown; None at the deadline.
pub async fn device(ctx: &mut Ctx<'_>) -> Option<TlsStream<TcpStream>> {
    loop {
        let tcp = accept(ctx).await?;
        match tls(ctx, tcp, Show::Valid).await {
            Some((_, Handshake::Done(s))) => return Some(*s),
            _ if Instant::now() >= ctx.deadline => return None,
            _ => continue,
        }
    }
}

/// How a device connection ended, in words for the evidence.
#[derive(Debug)]
pub struct Ended(pub String);

impl From<&str> for Ended {
    fn from(s: &str) -> Ended {
        Ended(s.to_string())
    }
}

/// One MQTT packet: Ok(None) at the deadline, Err when the connection ended.
pub async fn read(
    ctx: &Ctx<'_>,
    s: &mut TlsStream<TcpStream>,
    until: Instant,
) -> Result<Option<(u8, Vec<u8>)>, Ended> {
    let until = until.min(ctx.deadline);
    match timeout_at(until, packets::read(s, MAX_PACKET)).await {
        Err(_) => Ok(None),
        Ok(Ok(p)) => Ok(Some(p)),
        Ok(Err(ReadError::Closed { clean: true })) => {
            Err("the device closed the connection".into())
        }
        Ok(Err(ReadError::Closed { clean: false })) => {
            Err("the connection ended without close_notify".into())
        }
        Ok(Err(ReadError::BadLength)) => Err("a packet's remaining length is malformed".into()),
        Ok(Err(ReadError::TooLarge(n))) => Err(Ended(format!("a {n}-byte packet (over 128 KB)"))),
        Ok(Err(ReadError::Io(e))) => Err(Ended(e.to_string())),
    }
}

/// Sends bytes; a failure is recorded, not fatal (the device may have gone).
pub async fn send(ctx: &mut Ctx<'_>, s: &mut TlsStream<TcpStream>, bytes: &[u8], what: &str) {
    match s.write_all(bytes).await {
        Ok(()) => {
            let _ = s.flush().await;
            ctx.note(format!("iotscope sends {what}"));
        }
        Err(e) => ctx.note(format!("cannot send {what}: {e}")),
    }
}

/// Closes a device connection from iotscope's side (TLS close_notify, then TCP).
pub async fn close(ctx: &mut Ctx<'_>, mut s: TlsStream<TcpStream>, why: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(1), s.shutdown()).await;
    drop(s);
    ctx.note(format!("iotscope closes the connection ({why})"));
}

/// Connections already waiting when a case ends are closed, so the next case starts from a
/// fresh connection of the device's own.
pub async fn drain(listener: &TcpListener) {
    while let Ok(Ok((s, _))) =
        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await
    {
        drop(s);
    }
}

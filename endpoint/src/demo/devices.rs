//! The demo's built-in devices: small MQTT clients over rustls, each doing what a real device
//! with one mistake does, and saying in one line what it saw (as a device's log would).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iotscope_decoder::mqtt::encode;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::pki::DeviceId;
use crate::mqtt::packets::{self, LEVEL_311, LEVEL_5};

/// How long a demo device waits for any answer.
const WAIT: Duration = Duration::from_secs(5);

/// What one device connection does.
#[derive(Clone)]
pub struct Plan {
    pub sni: String,
    pub cert: Option<DeviceId>,
    pub client_id: String,
    pub level: u8,
    /// Subscribe to this filter and expect its own message back.
    pub subscribe: Option<String>,
    pub publish: Option<String>,
    /// Send CONNECT in plaintext, without TLS.
    pub plaintext: bool,
}

/// What went wrong for a device, in the words its log would use.
#[derive(Debug)]
pub struct Saw(pub String);

impl std::fmt::Display for Saw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Saw {
    fn from(s: String) -> Saw {
        Saw(s)
    }
}

impl From<&str> for Saw {
    fn from(s: &str) -> Saw {
        Saw(s.to_string())
    }
}

/// What the device saw, and the local address the proxy saw it from.
pub struct Seen {
    pub local: Option<SocketAddr>,
    pub said: String,
}

pub fn client_config(
    roots: &RootCertStore,
    cert: Option<&DeviceId>,
) -> Result<Arc<ClientConfig>, Saw> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots.clone());
    let cfg = match cert {
        Some(c) => b
            .with_client_auth_cert(
                vec![CertificateDer::from(c.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_der.clone())),
            )
            .map_err(|e| e.to_string())?,
        None => b.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// An open device connection.
pub struct Open {
    pub local: Option<SocketAddr>,
    stream: Box<dyn Stream>,
    level: u8,
}

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Connects, shakes hands, sends CONNECT and reads the CONNACK.
pub async fn connect(
    addr: SocketAddr,
    roots: &RootCertStore,
    plan: &Plan,
) -> Result<Open, (Option<SocketAddr>, String)> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| (None, format!("TCP connect failed: {e}")))?;
    let local = tcp.local_addr().ok();
    let fail = |s: String| (local, s);
    let mut stream: Box<dyn Stream> = if plan.plaintext {
        Box::new(tcp)
    } else {
        let cfg = client_config(roots, plan.cert.as_ref()).map_err(|e| fail(e.0))?;
        let name = ServerName::try_from(plan.sni.clone()).map_err(|e| fail(e.to_string()))?;
        let tls = tokio::time::timeout(WAIT, TlsConnector::from(cfg).connect(name, tcp))
            .await
            .map_err(|_| fail("no TLS handshake within 5 s".into()))?
            .map_err(|e| fail(format!("TLS handshake failed: {e}")))?;
        Box::new(tls)
    };
    let hello = encode::connect(plan.level, &plan.client_id, 60);
    stream
        .write_all(&hello)
        .await
        .map_err(|e| fail(format!("sending CONNECT failed: {e}")))?;
    let (first, body) = read(&mut stream)
        .await
        .map_err(|e| fail(format!("no CONNACK: {e}")))?;
    if plan.plaintext && first == 0x15 {
        return Err(fail(
            "a TLS alert instead of a CONNACK: the port speaks TLS only".into(),
        ));
    }
    if first >> 4 != 2 {
        return Err(fail(format!(
            "expected CONNACK, got packet type {}",
            first >> 4
        )));
    }
    let code = body.get(1).copied().unwrap_or(0xff);
    if code != 0 {
        return Err(fail(format!("CONNACK refused, code 0x{code:02X}")));
    }
    Ok(Open {
        local,
        stream,
        level: plan.level,
    })
}

async fn read(s: &mut Box<dyn Stream>) -> Result<(u8, Vec<u8>), Saw> {
    match tokio::time::timeout(WAIT, packets::read(s, 1 << 20)).await {
        Err(_) => Err("nothing within 5 s".into()),
        Ok(Ok(p)) => Ok(p),
        Ok(Err(packets::ReadError::Closed { .. })) => Err("the connection was closed".into()),
        Ok(Err(packets::ReadError::Io(e))) => Err(e.to_string().into()),
        Ok(Err(e)) => Err(format!("{e:?}").into()),
    }
}

impl Open {
    /// Waits for the next packet: used to see the endpoint end the connection.
    pub async fn next(&mut self) -> Result<(u8, Vec<u8>), Saw> {
        read(&mut self.stream).await
    }

    pub async fn subscribe(&mut self, filter: &str) -> Result<u8, Saw> {
        self.stream
            .write_all(&encode::subscribe(self.level, 1, filter, 1))
            .await
            .map_err(|e| e.to_string())?;
        let (first, body) = self.next().await?;
        if first >> 4 != 9 {
            return Err(format!("expected SUBACK, got packet type {}", first >> 4).into());
        }
        Ok(*body.last().unwrap_or(&0x80))
    }

    /// Publishes at QoS 1; the PUBACK's code (0 for 3.1.1), and whether a PUBLISH came to
    /// this device before it.
    pub async fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(u8, bool), Saw> {
        let mut got = false;
        self.stream
            .write_all(&encode::publish_qos1(self.level, 2, topic, payload))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let (first, body) = self.next().await?;
            match first >> 4 {
                4 => {
                    let code = if self.level >= LEVEL_5 {
                        body.get(2).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    return Ok((code, got));
                }
                3 => got = true, // its own message, delivered before the PUBACK
                14 => {
                    return Err(
                        format!("DISCONNECT 0x{:02X}", body.first().copied().unwrap_or(0)).into(),
                    )
                }
                t => return Err(format!("expected PUBACK, got packet type {t}").into()),
            }
        }
    }

    pub async fn disconnect(mut self) {
        let _ = self.stream.write_all(&encode::disconnect()).await;
        let _ = self.stream.shutdown().await;
    }
}

/// One device's whole run: connect, then subscribe and publish as planned.
pub async fn run(addr: SocketAddr, roots: &RootCertStore, plan: &Plan) -> Seen {
    let mut open = match connect(addr, roots, plan).await {
        Ok(o) => o,
        Err((local, said)) => return Seen { local, said },
    };
    let local = open.local;
    let mut said = vec!["CONNACK 0".to_string()];
    if let Some(f) = &plan.subscribe {
        match open.subscribe(f).await {
            Ok(code) => said.push(format!("SUBACK 0x{code:02X}")),
            Err(e) => {
                said.push(e.0);
                return Seen {
                    local,
                    said: said.join(", "),
                };
            }
        }
    }
    if let Some(t) = &plan.publish {
        match open.publish(t, b"hello from the iotscope demo").await {
            Ok((code, mut got)) => {
                said.push(format!("PUBACK 0x{code:02X}"));
                if plan.subscribe.is_some() && !got {
                    got = matches!(open.next().await, Ok((b, _)) if b >> 4 == 3);
                }
                if plan.subscribe.is_some() {
                    said.push(
                        if got {
                            "its message came back"
                        } else {
                            "its message did not come back"
                        }
                        .into(),
                    );
                }
            }
            Err(e) => {
                said.push(format!("after PUBLISH: {e}"));
                return Seen {
                    local,
                    said: said.join(", "),
                };
            }
        }
    }
    open.disconnect().await;
    Seen {
        local,
        said: said.join(", "),
    }
}

/// MQTT 3.1.1 unless a plan says otherwise.
pub const DEFAULT_LEVEL: u8 = LEVEL_311;

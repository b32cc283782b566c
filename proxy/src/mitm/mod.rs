//! `iotscope proxy --mitm`: iotscope ends the device's TLS with a certificate from its own CA,
//! makes its own TLS connection to the endpoint with the device's certificate, and relays the
//! plaintext between them, so the MQTT inside can be read live.
//!
//! The order of events per connection:
//! 1. read the device's ClientHello (nothing is answered yet);
//! 2. connect to the endpoint with the device's SNI and ALPN list, and finish that handshake;
//! 3. finish the device's handshake, offering the ALPN protocol the endpoint chose;
//! 4. relay plaintext both ways.
//!
//! With `--device-certs DIR`, or no device certificate at all, the device's handshake comes
//! first (the certificate it presents decides what goes upstream), and iotscope picks the
//! device's first ALPN protocol itself. With `--present`, there is no upstream: iotscope shows
//! the device a bad certificate and watches what it does.
//!
//! The leg to the endpoint is the one decoded and reported: its raw records go through a
//! [`TeeStream`] and its secrets straight to the decoder, which decrypts it like a capture with
//! a key log. The device's leg is summed up as one [`DeviceLeg`] event in that trace.

pub mod device_check;
mod first_connect;
pub mod identities;

use crate::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iotscope_decoder::device_leg::{DeviceLeg, Outcome, Presented, Proof, UpstreamCert};
use iotscope_decoder::keylog::KeySource;
use iotscope_decoder::{CutCause, Direction, Identity, Input};
use rustls::pki_types::ServerName;
use rustls::server::{Acceptor, NoServerSessionStorage};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig};
use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::{LazyConfigAcceptor, StartHandshake, TlsConnector};

use crate::ca::mint::{Minter, Present};
use crate::ca::{dir_or_default, LocalCa};
use crate::config::ProxyConfig;
use crate::feed::tee::TeeStream;
use crate::feed::{now, queue, Seen, Tee};
use crate::relay::limits::{DECODER_QUEUE, READ_BUFFER};
use crate::relay::Shared;
use crate::tls_setup::client::{self, DeviceIdentity};
use crate::tls_setup::secrets::{KeyLogFile, SecretLog};
use device_check::DeviceCertCheck;
use identities::Identities;

/// How long a device that accepted a `--present` certificate is watched for application data.
const PRESENT_WATCH: Duration = Duration::from_secs(5);

/// How long the endpoint's TCP close is read for once the relay is over and the device let
/// go. Nothing waits for it but the connection's report.
const ENDPOINT_FIN_WAIT: Duration = Duration::from_millis(500);

/// How long iotscope's own closes (when it cuts a connection) may take to be written to
/// peers that do not read.
const CLOSE_WRITE_LIMIT: Duration = Duration::from_millis(500);

/// Everything MITM mode sets up once, at start.
pub struct Mitm {
    minter: Minter,
    roots: Arc<RootCertStore>,
    identities: Identities,
    keylog: Option<Arc<KeyLogFile>>,
    present: Option<Present>,
    require_device_cert: bool,
    /// `--endpoint`: the SNI to use upstream when the device sends none.
    endpoint_name: Option<String>,
    pub ca_description: String,
}

impl Mitm {
    pub fn from_args(args: &ProxyConfig) -> Result<Option<Arc<Mitm>>, Error> {
        let m = &args.mitm;
        if !m.mitm {
            return Ok(None);
        }
        let dir = dir_or_default(m.ca_dir.as_deref())?;
        let ca = LocalCa::load(&dir)?;
        let summary = iotscope_decoder::cert::summarize(&ca.cert_der);
        let identities = Identities::load(
            m.device_cert.as_deref(),
            m.device_key.as_deref(),
            m.device_certs.as_deref(),
        )?;
        let keylog = match &m.keylog {
            Some(p) => Some(Arc::new(KeyLogFile::open(p)?)),
            None => None,
        };
        Ok(Some(Arc::new(Mitm {
            minter: Minter::new(&ca)?,
            roots: client::roots(m.upstream_ca.as_deref())?,
            identities,
            keylog,
            present: m.present,
            require_device_cert: m.require_device_cert,
            endpoint_name: args.report.endpoint.clone(),
            ca_description: format!("{} ({})", summary.subject, dir.display()),
        })))
    }
}

/// What the device offered in its ClientHello.
#[derive(Default)]
struct Offer {
    sni: Option<String>,
    alpn: Vec<Vec<u8>>,
    suites: Vec<u16>,
}

impl Offer {
    fn read(start: &StartHandshake<TeeStream<TcpStream>>) -> Offer {
        let ch = start.client_hello();
        Offer {
            sni: ch.server_name().map(str::to_string),
            alpn: ch
                .alpn()
                .map(|i| i.map(<[u8]>::to_vec).collect())
                .unwrap_or_default(),
            suites: ch.cipher_suites().iter().map(|s| u16::from(*s)).collect(),
        }
    }

    /// Boxed from the start: it travels by value through the connection's steps to the
    /// decoder, which takes it boxed.
    fn leg(&self, presented: Presented) -> Box<DeviceLeg> {
        Box::new(DeviceLeg {
            sni: self.sni.clone(),
            alpn: self
                .alpn
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
            offered_suites: self
                .suites
                .iter()
                .map(|&s| iotscope_decoder::tls::Named::suite(s))
                .collect(),
            version: None,
            cipher: None,
            presented,
            chain: Vec::new().into(),
            proof: Proof::NotReached,
            upstream_cert: None,
            outcome: Outcome::Completed,
            not_upstream: None,
            endpoint_refused: None,
        })
    }

    /// Why rustls cannot answer this ClientHello, if it cannot.
    fn unsupported(&self) -> Option<String> {
        let ours: Vec<u16> = crate::tls_setup::provider()
            .cipher_suites
            .iter()
            .map(|s| u16::from(s.suite()))
            .collect();
        if self.suites.iter().any(|s| ours.contains(s)) {
            return None;
        }
        Some("it offers no cipher suite that iotscope's TLS stack (rustls: TLS 1.2 and 1.3, AES-GCM and ChaCha20-Poly1305 with ECDHE) implements".into())
    }
}

/// One intercepted connection, from accept to report.
///
/// An `async` block rather than an `async fn`, which would keep its arguments twice (see
/// `serve::connection`).
#[allow(clippy::manual_async_fn)]
pub(super) fn connection(
    device: TcpStream,
    peer: SocketAddr,
    n: u64,
    shared: Arc<Shared>,
    mitm: Arc<Mitm>,
    slot: OwnedSemaphorePermit,
) -> impl std::future::Future<Output = ()> {
    async move {
        // Counted against --max-connections until the connection is over.
        let _slot = slot;
        let accepted = now();
        let device_addr = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let _ = device.set_nodelay(true);
        let local = device.local_addr().ok();
        // With --transparent the original destination is read now, before rustls owns the socket.
        let route = shared.dial.route(&device);
        let local = route.destination().or(local);
        let (tx, rx) = queue::channel(DECODER_QUEUE);
        let _ = tx.try_send(Seen::open(accepted));
        // Boxed, as the leg summary and the device's handshake are: each step below takes it by
        // value, and every async step keeps room for what it was given for the connection's life.
        let mut conn = Box::new(Conn {
            shared,
            mitm,
            n,
            device_addr,
            tx,
            rx: Some(rx),
            decoder: None,
            route: Some(route),
            early: Vec::new(),
        });
        // A device that sends plaintext (MQTT straight to the TLS port) is reported with its
        // first bytes, so that the decoder sees what it spoke: rustls would only say "not TLS".
        let mut first = [0u8; 64];
        if let Ok(Ok(n)) = conn.within_handshake(device.peek(&mut first)).await {
            if n > 0 && first[0] != 0x16 {
                let _ = conn.tx.try_send(Seen::input(
                    Direction::DeviceToEndpoint,
                    now(),
                    Input::Data(std::borrow::Cow::Owned(first[..n].to_vec())),
                ));
            }
        }
        // In --present mode the device's own leg is the one decoded: there is no other.
        let tees = conn.mitm.present.map(|_| {
            (
                Tee::waiting(conn.tx.clone(), Direction::DeviceToEndpoint),
                Tee::waiting(conn.tx.clone(), Direction::EndpointToDevice),
            )
        });
        let (read, write) = tees.map_or((None, None), |(r, w)| (Some(r), Some(w)));
        let stream = TeeStream::new(device, read, write);
        let hello = conn
            .within_handshake(LazyConfigAcceptor::new(Acceptor::default(), stream))
            .await
            .map(|r| r.map(Box::new));
        let start: Start = match hello {
            Ok(Ok(start)) => start,
            Ok(Err(e)) => {
                let detail = format!("the device's first bytes are not a TLS ClientHello ({e})");
                conn.report_only(local, detail).await;
                return;
            }
            Err(limit) => {
                let detail = format!("the device sent no whole ClientHello within {limit:.1} s");
                conn.start_decoder(local, None, None);
                conn.cut_handshake(limit).await;
                conn.report_only(local, detail).await;
                return;
            }
        };
        let offer = Offer::read(&start);
        if let Some(why) = offer.unsupported() {
            let mut leg = offer.leg(Presented::Mitm {
                name: offer.sni.clone().unwrap_or_default(),
            });
            leg.outcome = Outcome::Incompatible { detail: why };
            // The device is let go: nothing iotscope could answer would help it.
            drop(start);
            conn.start_decoder(local, offer.sni.clone(), None);
            conn.device_leg(leg).await;
            conn.finish().await;
            return;
        }
        if let Some(mode) = conn.mitm.present {
            conn.present(start, offer, mode, local).await;
        } else if conn.mitm.identities.device_first() {
            conn.device_first(start, offer, local).await;
        } else {
            conn.endpoint_first(start, offer).await;
        }
    }
}

/// One connection's state while it is set up.
struct Conn {
    shared: Arc<Shared>,
    mitm: Arc<Mitm>,
    n: u64,
    device_addr: SocketAddr,
    tx: queue::Sender<Seen>,
    rx: Option<queue::Receiver<Seen>>,
    decoder: Option<queue::Finished<Seen>>,
    /// Taken when the upstream is dialled.
    route: Option<crate::dial::Route>,
    /// Bytes the device sent before iotscope went upstream (its CONNECT, read to choose a
    /// certificate by client id), passed on first.
    early: Vec<u8>,
}

type DeviceTls = tokio_rustls::server::TlsStream<TeeStream<TcpStream>>;
type EndpointTls = tokio_rustls::client::TlsStream<TeeStream<TcpStream>>;
/// The device's handshake, its ClientHello read. Boxed wherever it is passed: each async
/// step it passes through would otherwise keep a copy's room (1.7 KiB) in its future for the
/// connection's life.
type Start = Box<StartHandshake<TeeStream<TcpStream>>>;

impl Conn {
    /// `f` under the handshake deadline, boxed: a handshake's state (rustls' connection in
    /// the making, its buffers) lives on the heap while it runs and is freed when it ends,
    /// instead of widening the connection's future, which every connection keeps for its
    /// whole life at the size of its largest step.
    fn within_handshake<F: Future>(
        &self,
        f: F,
    ) -> Pin<Box<impl Future<Output = Result<F::Output, f64>>>> {
        let limit = self.shared.limits.handshake_timeout;
        Box::pin(async move {
            match limit {
                None => Ok(f.await),
                Some(d) => tokio::time::timeout(d, f)
                    .await
                    .map_err(|_| d.as_secs_f64()),
            }
        })
    }

    /// Starts the decoder of this connection's report, once its endpoint is known.
    fn start_decoder(
        &mut self,
        endpoint: Option<SocketAddr>,
        endpoint_name: Option<String>,
        keys: Option<Arc<dyn KeySource>>,
    ) {
        let Some(rx) = self.rx.take() else { return };
        let identity = Identity {
            device: Some(self.device_addr),
            endpoint,
            endpoint_name: endpoint_name.or_else(|| {
                self.route
                    .as_ref()
                    .and_then(|r| self.shared.dial.fallback_name(r))
            }),
            source: Some("proxy --mitm".into()),
            number: self.n,
        };
        // The proxy's own deadlines end these handshakes: nothing here waits for the
        // decoder's cut (`queue::Receiver::cut`).
        self.decoder = Some(crate::relay::live::start(
            Box::new(identity),
            rx,
            self.shared.out.clone(),
            self.shared.rec.clone(),
            self.shared.live.clone(),
            keys,
        ));
    }

    async fn device_leg(&self, leg: Box<DeviceLeg>) {
        let _ = self
            .tx
            .send(Seen::input(
                Direction::DeviceToEndpoint,
                now(),
                Input::DeviceLeg(leg),
            ))
            .await;
    }

    /// iotscope's own handshake deadline ended the device's handshake.
    async fn cut_handshake(&self, limit: f64) {
        let text = format!(
            "the device did not finish its TLS handshake within {limit:.1} s; iotscope closed the connection (--handshake-timeout)"
        );
        let _ = self
            .tx
            .send(Seen::input(
                Direction::EndpointToDevice,
                now(),
                Input::Cut(CutCause::HandshakeTimeout, text.into()),
            ))
            .await;
    }

    async fn note(&self, text: String) {
        let _ = self.tx.send(Seen::note(now(), text)).await;
    }

    async fn finish(mut self: Box<Self>) {
        self.start_decoder(None, None, None);
        drop(self.tx);
        if let Some(d) = self.decoder.take() {
            d.wait().await;
        }
    }

    /// The device's handshake never got as far as its ClientHello.
    async fn report_only(mut self: Box<Self>, local: Option<SocketAddr>, detail: String) {
        self.start_decoder(local, None, None);
        // Nothing of the ClientHello is known: an empty offer.
        let mut leg = Offer::default().leg(Presented::Mitm {
            name: String::new(),
        });
        leg.outcome = Outcome::Failed { detail };
        self.device_leg(leg).await;
        self.finish().await;
    }

    fn certificate(
        &self,
        name: &str,
        present: Option<Present>,
    ) -> Option<(Arc<CertifiedKey>, Presented)> {
        match self.mitm.minter.certificate(name, present) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!("#{}: {e}", self.n);
                None
            }
        }
    }

    /// Secrets of the device's leg: into the key log file always, and into the decoder and
    /// the recording when this leg is the one decoded (`--present`).
    fn device_secrets(&self) -> Arc<SecretLog> {
        let decoded = self.mitm.present.is_some();
        Arc::new(SecretLog::new(
            self.mitm.keylog.clone(),
            decoded.then(|| self.tx.clone()),
        ))
    }

    /// Finishes the device's handshake with `cert`, offering `alpn`, and fills in `leg`.
    async fn accept_device(
        &self,
        start: Start,
        cert: Arc<CertifiedKey>,
        alpn: Vec<Vec<u8>>,
        secrets: Arc<SecretLog>,
        leg: &mut DeviceLeg,
    ) -> Option<Box<DeviceTls>> {
        let check = Arc::new(DeviceCertCheck::new(self.mitm.require_device_cert));
        let cfg = match server_config(cert, check.clone(), alpn, secrets) {
            Ok(c) => c,
            Err(detail) => {
                leg.outcome = Outcome::Failed {
                    detail: detail.to_string(),
                };
                return None;
            }
        };
        // The stream boxed at once: the arms below wait, and an unboxed result would keep its
        // room in this future.
        let r = self
            .within_handshake(start.into_stream(cfg))
            .await
            .map(|r| r.map(Box::new));
        let (chain, proof) = check.result();
        // Through the chain cache: the decoder reads the same chain from the decrypted
        // handshake, and both then hold one copy.
        let ders: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        leg.chain = iotscope_decoder::cert::read_chain(&ders).chain;
        leg.proof = proof;
        match r {
            Ok(Ok(tls)) => {
                let c = tls.get_ref().1;
                leg.version = c.protocol_version().map(version_name);
                leg.cipher = c.negotiated_cipher_suite().map(|s| {
                    iotscope_decoder::tls::names::cipher_name(u16::from(s.suite())).into_owned()
                });
                leg.outcome = Outcome::Completed;
                Some(tls)
            }
            Ok(Err(e)) => {
                leg.outcome = device_failure(&e, &leg.proof);
                None
            }
            Err(limit) => {
                leg.outcome = Outcome::Failed {
                    detail: format!("the device did not finish its handshake within {limit:.1} s"),
                };
                self.cut_handshake(limit).await;
                None
            }
        }
    }

    /// `--present`: show the bad certificate, then watch whether the device sends data.
    async fn present(
        mut self: Box<Self>,
        start: Start,
        offer: Offer,
        mode: Present,
        local: Option<SocketAddr>,
    ) {
        let name = self.certificate_name(&offer);
        let Some((cert, presented)) = self.certificate(&name, Some(mode)) else {
            drop(start);
            return self.finish().await;
        };
        let mut leg = offer.leg(presented);
        let secrets = self.device_secrets();
        self.start_decoder(local, Some(name), Some(secrets.keys.clone()));
        let alpn = offer.alpn.first().cloned().into_iter().collect();
        let tls = self
            .accept_device(start, cert, alpn, secrets, &mut leg)
            .await;
        self.device_leg(leg).await;
        if let Some(mut tls) = tls {
            // Read what the device sends; the tee below TLS hands it to the decoder.
            let mut buf = vec![0u8; 16 * 1024];
            let watch = async { while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(PRESENT_WATCH, watch).await;
            let _ = tls.shutdown().await;
            tls.get_mut().0.finish().await;
        }
        // `tls` is gone here, and with it the tees' senders.
        self.finish().await;
    }

    /// The device's certificate decides what goes upstream (`--device-certs`), or nothing
    /// does (no device certificate given): its handshake comes first.
    async fn device_first(
        mut self: Box<Self>,
        start: Start,
        offer: Offer,
        local: Option<SocketAddr>,
    ) {
        let upstream_name = self.upstream_name(&offer);
        let Some((cert, presented)) = self.certificate(&self.certificate_name(&offer), None) else {
            drop(start);
            return self.finish().await;
        };
        let mut leg = offer.leg(presented);
        let alpn = offer.alpn.first().cloned().into_iter().collect();
        let secrets = self.device_secrets();
        let tls = self
            .accept_device(start, cert, alpn, secrets, &mut leg)
            .await;
        // `None` when the handshake failed: its outcome says why.
        let mut tls = tls;
        let mut chosen = tls.as_ref().map(|_| {
            self.mitm
                .identities
                .for_device(leg.leaf().map(|c| c.sha256.as_str()))
        });
        if let (Some(device), Some(Err(_))) = (tls.as_mut(), &chosen) {
            if self.mitm.identities.by_client_id() {
                // Files named by client id: the device's CONNECT decides. Its bytes go
                // upstream first once the endpoint is reached.
                let (early, client) = self
                    .within_handshake(first_connect::read(device))
                    .await
                    .unwrap_or_default();
                if let Some(id) = client
                    .as_deref()
                    .and_then(|c| self.mitm.identities.for_client(c))
                {
                    chosen = Some(Ok(id));
                } else {
                    let asked = match &client {
                        Some(c) => format!("named for its client id {c:?}"),
                        None => "for it: it sent no CONNECT to choose by".to_string(),
                    };
                    chosen = Some(Err(Error::Invocation(format!(
                        "--device-certs holds no certificate with the device's certificate ID or {asked}; iotscope does not go upstream"
                    ))));
                }
                self.early = early;
            }
        }
        let chosen = chosen.map(|c| c.map_err(|e| e.to_string()));
        let (Some(device), Some(Ok(identity))) = (tls, chosen.clone()) else {
            // No upstream: the report is the device's leg alone. (The device's stream, if
            // any, was dropped at the pattern, which closes it.)
            self.start_decoder(local, Some(upstream_name), None);
            if let Some(Err(why)) = chosen {
                leg.not_upstream = Some(why);
            }
            self.device_leg(leg).await;
            return self.finish().await;
        };
        leg.upstream_cert = Some(upstream_cert(&identity));
        let alpn = offer.alpn.clone();
        self.upstream_then_relay(Some(device), None, leg, identity, alpn, upstream_name)
            .await;
    }

    /// One certificate for every device: the endpoint's handshake first, so its ALPN answer
    /// can be passed back to the device.
    async fn endpoint_first(self: Box<Self>, start: Start, offer: Offer) {
        let upstream_name = self.upstream_name(&offer);
        let Ok(identity) = self.mitm.identities.for_device(None) else {
            return self.finish().await;
        };
        let mut leg = offer.leg(Presented::Mitm {
            name: self.certificate_name(&offer),
        });
        leg.upstream_cert = Some(upstream_cert(&identity));
        let alpn = offer.alpn.clone();
        self.upstream_then_relay(
            None,
            Some((start, offer)),
            leg,
            identity,
            alpn,
            upstream_name,
        )
        .await;
    }

    /// The name iotscope's certificate for the device carries: the device's SNI; without
    /// one, the address it dialled when that is known (`--transparent`), else the name
    /// iotscope would send upstream.
    fn certificate_name(&self, offer: &Offer) -> String {
        let dialled = self
            .route
            .as_ref()
            .and_then(|r| r.destination())
            .map(|d| d.ip().to_canonical().to_string());
        offer
            .sni
            .clone()
            .or(dialled)
            .unwrap_or_else(|| self.upstream_name(offer))
    }

    /// The SNI iotscope sends the endpoint: the device's, else `--endpoint`, else the
    /// upstream's host (or with `--transparent` the original destination's address).
    fn upstream_name(&self, offer: &Offer) -> String {
        offer
            .sni
            .clone()
            .or_else(|| self.mitm.endpoint_name.clone())
            .or_else(|| {
                self.route
                    .as_ref()
                    .and_then(|r| self.shared.dial.fallback_name(r))
            })
            .unwrap_or_else(|| "localhost".into())
    }

    /// Connects upstream; then finishes the device's handshake if it is still pending
    /// (`pending`), and relays.
    async fn upstream_then_relay(
        mut self: Box<Self>,
        mut device: Option<Box<DeviceTls>>,
        pending: Option<(Start, Offer)>,
        mut leg: Box<DeviceLeg>,
        identity: Arc<DeviceIdentity>,
        alpn: Vec<Vec<u8>>,
        upstream_name: String,
    ) {
        let route = self.route.take().unwrap_or(crate::dial::Route::none());
        // Boxed, as the handshakes are (`within_handshake`): name resolution and connecting
        // are over before the relay starts.
        let dialled = Box::pin(self.shared.dial.dial_route(
            route,
            self.device_addr,
            self.shared.limits.connect_timeout,
        ))
        .await;
        // Held until the relay ends: the loop guard knows the upstream's port meanwhile.
        let _own_port = dialled.guard;
        let (tcp, addr) = match dialled.upstream {
            Ok(c) => c,
            Err(failure) => {
                self.start_decoder(dialled.endpoint, Some(upstream_name), None);
                if pending.is_some() {
                    leg.outcome = Outcome::Failed {
                        detail: "iotscope did not finish the device's handshake: the endpoint could not be reached".into(),
                    };
                }
                drop((pending, device));
                self.device_leg(leg).await;
                let _ = self
                    .tx
                    .send(Seen::upstream_failed(now(), failure.to_string()))
                    .await;
                return self.finish().await;
            }
        };
        let _ = tcp.set_nodelay(true);
        tracing::info!(
            "#{} {} intercepted, relayed to {addr}",
            self.n,
            self.device_addr
        );
        let secrets = Arc::new(SecretLog::new(
            self.mitm.keylog.clone(),
            Some(self.tx.clone()),
        ));
        self.start_decoder(
            Some(addr),
            Some(upstream_name.clone()),
            Some(secrets.keys.clone()),
        );
        let setup = client::config(&self.mitm.roots, Some(&identity), alpn, secrets).and_then(
            |(cfg, verifier)| {
                ServerName::try_from(upstream_name.clone())
                    .map(|name| (cfg, verifier, name))
                    .map_err(|e| {
                        Error::Invocation(format!(
                            "{upstream_name:?} cannot be sent as a server name: {e}"
                        ))
                    })
            },
        );
        let (cfg, verifier, server_name) = match setup {
            Ok(s) => s,
            Err(e) => {
                drop((pending, device));
                self.note(e.to_string()).await;
                return self.finish().await;
            }
        };
        let tee = TeeStream::new(
            tcp,
            Some(Tee::waiting(self.tx.clone(), Direction::EndpointToDevice)),
            Some(Tee::waiting(self.tx.clone(), Direction::DeviceToEndpoint)),
        );
        let up = self
            .within_handshake(TlsConnector::from(cfg).connect(server_name, tee))
            .await
            .map(|r| r.map(Box::new));
        let mut up = match up {
            Ok(Ok(up)) => up,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "the endpoint did not finish the handshake in time".into(),
                };
                if let Some(refusal) = verifier.verdict().and_then(|v| v.refusal) {
                    leg.endpoint_refused = Some(refusal);
                } else {
                    tracing::info!("#{}: handshake with the endpoint failed: {why}", self.n);
                }
                if pending.is_some() {
                    leg.outcome = Outcome::Failed {
                        detail: format!("iotscope did not finish the device's handshake: its own handshake with the endpoint failed ({why})"),
                    };
                }
                drop((pending, device));
                self.device_leg(leg).await;
                return self.finish().await;
            }
        };
        if let Some((start, _offer)) = pending {
            let chosen: Vec<Vec<u8>> = up
                .get_ref()
                .1
                .alpn_protocol()
                .map(<[u8]>::to_vec)
                .into_iter()
                .collect();
            let name = match &leg.presented {
                Presented::Mitm { name } => name.clone(),
                _ => upstream_name.clone(),
            };
            let Some((cert, _)) = self.certificate(&name, None) else {
                drop((start, up));
                return self.finish().await;
            };
            let secrets = self.device_secrets();
            device = self
                .accept_device(start, cert, chosen, secrets, &mut leg)
                .await;
        }
        self.device_leg(leg).await;
        let Some(mut device) = device else {
            let _ = up.shutdown().await;
            up.get_mut().0.finish().await;
            // The decoder ends when the last copy of its queue's sender goes, the tees' too.
            drop(up);
            return self.finish().await;
        };
        if !self.early.is_empty() {
            let early = std::mem::take(&mut self.early);
            if up.write_all(&early).await.is_err() || up.flush().await.is_err() {
                tracing::debug!(
                    "#{}: the endpoint went away before the device's first packet",
                    self.n
                );
            }
        }
        let ended = relay(&mut device, &mut up, &self.shared, &self.tx).await;
        // The device is let go first: it has had every close, and nothing it needs waits on
        // the endpoint's TCP close.
        device.get_mut().0.finish().await;
        drop(device);
        match ended {
            // The device's reset, passed on as a reset when `up` goes: nothing answers it.
            Ended::Reset => {
                let _ = up.get_ref().0.inner().set_zero_linger();
            }
            // The endpoint's TCP close, when it has not come yet, answers iotscope's own close
            // and is part of the story; it is read for the trace, briefly, holding nothing but
            // the endpoint's socket (an endpoint that never closes costs the report this
            // wait, and no device anything).
            Ended::Closed => up.get_mut().0.read_to_close(ENDPOINT_FIN_WAIT).await,
        }
        up.get_mut().0.finish().await;
        drop(up);
        self.finish().await;
    }
}

/// Copies plaintext both ways until both sides are done, either fails, the connection is idle
/// too long, or the proxy stops. A close is passed on as a TLS close (close_notify, then
/// FIN) as soon as it is seen, and nothing waits for what the other side may never send: an
/// endpoint that sends close_notify and keeps its TCP connection open (as `openssl s_server`
/// does) has its close passed to the device at once. Whatever of the endpoint's TCP close
/// has already arrived is read first, so the trace shows the endpoint closing when it did;
/// what comes later is read while the device's side winds down. A device that goes without
/// a TLS close (killed, its link lost) is recorded as it went: a FIN passed on as iotscope's
/// close upstream, a reset as a reset. When iotscope ends the connection itself it says so,
/// and closes both TLS sessions properly.
async fn relay(
    device: &mut DeviceTls,
    up: &mut EndpointTls,
    shared: &Shared,
    tx: &queue::Sender<Seen>,
) -> Ended {
    let activity = up.get_ref().0.last_activity();
    let mut force = shared.force.waiter();
    let idle = shared.limits.idle_timeout;
    let mut tick = tokio::time::interval(idle.map_or(Duration::from_secs(3600), |d| {
        (d / 4).max(Duration::from_millis(50))
    }));
    // Read buffers exist only while bytes flow (see `read_when_ready`).
    let (mut from_device, mut from_endpoint) = (None, None);
    let mut device_open = true;
    // The endpoint's TLS stream, and under it its TCP connection, which may stay open after
    // the TLS close.
    let (mut endpoint_tls_open, mut endpoint_tcp_open) = (true, true);
    let mut cut = None;
    let mut reset = false;
    while device_open || endpoint_tls_open {
        tokio::select! {
            r = read_when_ready(device, |d| d.get_ref().0, &mut from_device), if device_open => match r {
                Ok(0) => {
                    device_open = false;
                    if !endpoint_tls_open && endpoint_tcp_open {
                        endpoint_tcp_open = !up.get_mut().0.read_arrived();
                    }
                    let _ = up.shutdown().await;
                }
                Ok(n) => {
                    let chunk = from_device.as_deref().and_then(|b| b.get(..n)).unwrap_or_default();
                    if up.write_all(chunk).await.is_err() || up.flush().await.is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    reset = true;
                    break;
                }
                Err(_) => {
                    // The device's TCP close without its TLS close: passed on as a close.
                    device_open = false;
                    let _ = up.shutdown().await;
                }
            },
            r = read_endpoint(up, &mut from_endpoint, endpoint_tls_open), if endpoint_tcp_open => match r {
                Ok(0) if endpoint_tls_open => {
                    endpoint_tls_open = false;
                    endpoint_tcp_open = !up.get_mut().0.read_arrived();
                    let _ = device.shutdown().await;
                }
                Ok(n) if endpoint_tls_open => {
                    let chunk = from_endpoint.as_deref().and_then(|b| b.get(..n)).unwrap_or_default();
                    if device.write_all(chunk).await.is_err() || device.flush().await.is_err() {
                        // The device is gone (its reset, usually): passed on as a reset.
                        reset = device_open;
                        break;
                    }
                }
                // After the TLS close: the tee under TLS has handed on what came; only the
                // TCP close matters here.
                Ok(n) if n > 0 => {}
                Ok(_) | Err(_) if !endpoint_tls_open => endpoint_tcp_open = false,
                Ok(_) | Err(_) => break,
            },
            _ = tick.tick(), if idle.is_some() => {
                let quiet = now().0.saturating_sub(activity.load(std::sync::atomic::Ordering::Relaxed));
                if let Some(limit) = idle.filter(|limit| quiet >= limit.as_nanos() as i64) {
                    cut = Some((
                        CutCause::IdleTimeout,
                        format!(
                            "iotscope closed the connection after {:.0} s without a byte either way (--idle-timeout)",
                            limit.as_secs_f64()
                        ),
                    ));
                    break;
                }
            }
            _ = force.stopped() => {
                cut = Some((
                    CutCause::Stopping,
                    "iotscope closed the connection: the proxy was stopping".to_string(),
                ));
                break;
            }
        }
    }
    if let Some((cause, text)) = cut {
        let _ = tx
            .send(Seen::input(
                Direction::EndpointToDevice,
                now(),
                Input::Cut(cause, text.into()),
            ))
            .await;
        // Both peers get a TLS close (close_notify) before the TCP close, unless they had
        // one already, bounded so that a peer that does not read cannot hold the proxy up.
        let close_both = async {
            if endpoint_tls_open {
                let _ = device.shutdown().await;
            }
            if device_open {
                let _ = up.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, close_both).await;
        return Ended::Closed;
    }
    if reset {
        let _ = tx
            .send(Seen::input(Direction::DeviceToEndpoint, now(), Input::Rst))
            .await;
        return Ended::Reset;
    }
    if device_open {
        // The relay ended on a failure before the device closed: the endpoint still gets
        // iotscope's close, so that it does not wait for one.
        let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, up.shutdown()).await;
    }
    Ended::Closed
}

/// How the relay left the endpoint's leg.
enum Ended {
    /// iotscope closed it (or the endpoint did): its TCP close may still be on its way.
    Closed,
    /// The device reset its connection: the endpoint's is to be reset in turn.
    Reset,
}

/// The endpoint's plaintext while its TLS stream is open; after its TLS close, the raw TCP
/// under it, read only for its close.
async fn read_endpoint(
    up: &mut EndpointTls,
    buf: &mut Option<Vec<u8>>,
    tls_open: bool,
) -> std::io::Result<usize> {
    if tls_open {
        read_when_ready(up, |u| u.get_ref().0, buf).await
    } else {
        // On the heap: this future is part of every idle connection's, and this read happens
        // once, after the TLS close.
        let mut rest = vec![0u8; 1024];
        up.get_mut().0.read(&mut rest).await
    }
}

/// Reads plaintext from `tls` into `buf`, which exists only while bytes flow: when nothing
/// can be read now, the buffer is let go and the socket under the TLS stream is waited on
/// instead, so an idle connection (most of a device's life) holds no 16 KiB buffers. A
/// read that can go on at once keeps it, so a bulk stream allocates once. The buffer is
/// let go only when the TLS stream had nothing buffered (tokio-rustls is pending only once
/// the socket would block) and the endpoint leg's copy is not waiting for the decoder (its
/// wait is not the socket's, and a readable socket would spin).
async fn read_when_ready<T: AsyncRead + Unpin>(
    tls: &mut T,
    tee: fn(&T) -> &TeeStream<TcpStream>,
    buf: &mut Option<Vec<u8>>,
) -> std::io::Result<usize> {
    loop {
        let b = buf.get_or_insert_with(|| vec![0u8; READ_BUFFER]);
        if tee(tls).waits_for_decoder() {
            return tls.read(b).await;
        }
        {
            let read = std::pin::pin!(tls.read(b));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(r) = read.poll(&mut cx) {
                return r;
            }
        }
        *buf = None;
        tee(tls).inner().readable().await?;
    }
}

/// The device-side TLS configuration for one connection.
fn server_config(
    cert: Arc<CertifiedKey>,
    check: Arc<DeviceCertCheck>,
    alpn: Vec<Vec<u8>>,
    secrets: Arc<SecretLog>,
) -> Result<Arc<ServerConfig>, Error> {
    let mut cfg = ServerConfig::builder_with_provider(crate::tls_setup::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Crypto(format!("cannot set up TLS: {e}")))?
        .with_client_cert_verifier(check)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(cert)));
    cfg.alpn_protocols = alpn;
    cfg.key_log = secrets;
    // No resumption: every handshake shows the device's certificate again.
    cfg.session_storage = Arc::new(NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

fn upstream_cert(id: &DeviceIdentity) -> UpstreamCert {
    UpstreamCert {
        sha256: id.sha256.clone(),
        subject: id.subject.clone(),
        source: id.source.clone(),
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        other => format!("{other:?}"),
    }
}

/// How a device's failed handshake with iotscope reads.
fn device_failure(e: &std::io::Error, proof: &Proof) -> Outcome {
    use rustls::{AlertDescription as A, Error as E};
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<E>());
    match inner {
        Some(E::AlertReceived(alert)) => match alert {
            A::UnknownCA
            | A::BadCertificate
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::AccessDenied
            | A::DecryptError => Outcome::Refused {
                alert: Some(alert_name(*alert)),
            },
            A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity => {
                Outcome::Incompatible {
                    detail: format!(
                        "the device ended the handshake with alert {}",
                        alert_name(*alert)
                    ),
                }
            }
            other => Outcome::Failed {
                detail: format!("the device sent alert {}", alert_name(*other)),
            },
        },
        Some(E::PeerIncompatible(p)) => Outcome::Incompatible {
            detail: format!("{p:?}"),
        },
        Some(E::NoCertificatesPresented) => Outcome::Failed {
            detail: "the device presented no certificate and --require-device-cert is set".into(),
        },
        _ if matches!(proof, Proof::Failed { .. }) => Outcome::Failed {
            detail: "the device's CertificateVerify signature did not verify".into(),
        },
        _ if e.kind() == std::io::ErrorKind::UnexpectedEof => Outcome::Refused { alert: None },
        _ => Outcome::Failed {
            detail: e.to_string(),
        },
    }
}

/// The alert's name as the TLS registry spells it (`unknown_ca`).
fn alert_name(a: rustls::AlertDescription) -> String {
    let code = u8::from(a);
    iotscope_decoder::tls::names::alert_name(code).map_or_else(|| format!("{code}"), str::to_string)
}

//! The listeners and each connection's way from TCP accept to its MQTT session: screening the
//! ClientHello ([`tls`]), the mutual-TLS handshake, then [`session::serve`]. Also the bounds:
//! a connection limit (over it, connections are closed at accept), a deadline for the
//! handshake, and a clean stop (SIGINT/SIGTERM for the command, [`Running::stop`] in process)
//! that tells every MQTT 5 device why (DISCONNECT 0x8B Server shutting down, mqtt.md) and
//! logs `SERVER_INITIATED_DISCONNECT`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotscope_proxy::ca::mint::Minter;
use iotscope_proxy::ca::{KeyType, LocalCa, CERT_FILE};
use iotscope_proxy::error::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::StartHandshake;

use crate::limits::HANDSHAKE_TIMEOUT;
use crate::log::{Event, Log, Who};
use crate::mqtt::broker::Broker;
use crate::mqtt::session;
use crate::registry::Registry;
use crate::shared::{Peer, Shared};
use crate::tls::{self, alert, NameCheck, NotHello, RegistryVerifier};

/// The endpoint name of the AWS documentation's examples.
pub const DEFAULT_ENDPOINT: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

/// Everything the endpoint is told at start.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The name devices must use (SNI) and the server certificate's name.
    pub endpoint_name: String,
    /// MQTT over TLS (AWS: port 8883).
    pub mqtt: Option<SocketAddr>,
    /// MQTT with ALPN `x-amzn-mqtt-ca`, HTTPS publish with `x-amzn-http-ca` (AWS: port 443).
    pub mqtt_alpn: Option<SocketAddr>,
    /// HTTPS publish (AWS: port 8443).
    pub https: Option<SocketAddr>,
    /// The region of the ARNs policies are checked on; `None`: the one in the endpoint's
    /// name, else us-east-1.
    pub region: Option<String>,
    /// Where the endpoint's CA and its key live (made at first start).
    pub state_dir: PathBuf,
    pub registry: Registry,
    /// The AWSIotLogsV2-shaped log, one JSON object per line.
    pub log: Option<PathBuf>,
    /// Connections at once; `None`: as many as the descriptor limit allows.
    pub max_connections: Option<u32>,
    /// The longest persistent session (AWS default 1 h, at most 7 days).
    pub session_expiry: Duration,
    /// Refuse a ClientHello without SNI, as the older AWS docs say AWS does.
    pub require_sni: bool,
}

/// A started endpoint.
pub struct Running {
    pub mqtt: Option<SocketAddr>,
    pub mqtt_alpn: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    /// The CA devices must trust for the endpoint's certificate.
    pub ca_file: PathBuf,
    /// How many connections are allowed at once, and why, for the start-up lines.
    pub connections_line: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    slots: Arc<Semaphore>,
    max: u32,
    shared: Arc<Shared>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    Mqtt,
    /// AWS's 443: the ALPN protocol chooses MQTT or HTTPS.
    Alpn,
    Https,
}

/// What a connection speaks once TLS is up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Speaks {
    Mqtt,
    Http,
}

/// Binds the listeners and starts accepting.
pub async fn start(cfg: EndpointConfig) -> Result<Running, Error> {
    let (ca, _) = LocalCa::init(&cfg.state_dir, KeyType::EcdsaP256, 3650)?;
    let (cert, _) = Minter::new(&ca)?.certificate(&cfg.endpoint_name, None)?;
    let log = match &cfg.log {
        Some(p) => Log::open(p, &cfg.registry.account_id)?,
        None => Log::none(&cfg.registry.account_id),
    };
    let shared = Arc::new(Shared {
        registry: Arc::new(cfg.registry),
        broker: Broker::default(),
        log,
        region: cfg
            .region
            .or_else(|| iotscope_decoder::policy::device::region_of_endpoint(&cfg.endpoint_name))
            .unwrap_or_else(|| "us-east-1".into()),
        endpoint_name: cfg.endpoint_name,
        session_expiry: cfg.session_expiry.min(crate::limits::SESSION_EXPIRY_MAX),
        require_sni: cfg.require_sni,
        cert,
        next: AtomicU64::new(0),
    });
    let (stop, stop_rx) = watch::channel(false);
    // Each connection holds one socket: the endpoint is where connections end.
    let room = iotscope_proxy::relay::descriptors::Room::claim(1);
    let (max_connections, connections_line) = room.limit(cfg.max_connections, "connections");
    let slots = Arc::new(Semaphore::new(max_connections as usize));
    let mut tasks = Vec::new();
    let mut bound = [None, None, None];
    for (i, (addr, port)) in [
        (cfg.mqtt, Port::Mqtt),
        (cfg.mqtt_alpn, Port::Alpn),
        (cfg.https, Port::Https),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(addr) = addr else { continue };
        let l = iotscope_proxy::relay::listener::listen_on(addr)
            .map_err(|e| Error::Environment(format!("cannot listen on {addr}: {e}")))?;
        bound[i] = l.local_addr().ok();
        tasks.push(tokio::spawn(accept_loop(
            l,
            port,
            shared.clone(),
            slots.clone(),
            stop_rx.clone(),
        )));
    }
    Ok(Running {
        mqtt: bound[0],
        mqtt_alpn: bound[1],
        https: bound[2],
        ca_file: cfg.state_dir.join(CERT_FILE),
        stop,
        tasks,
        slots,
        max: max_connections,
        connections_line,
        shared,
    })
}

impl Running {
    /// Stops accepting, tells open sessions, and waits up to `grace` for them to end.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
        let _ = tokio::time::timeout(grace, self.slots.acquire_many(self.max)).await;
        self.shared.broker.close_all();
    }
}

async fn accept_loop(
    l: TcpListener,
    port: Port,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("refused {peer}: the connection limit (--max-connections) is reached");
            drop(tcp);
            continue;
        };
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection(tcp, peer, port, shared, stop).await;
            drop(slot);
        });
    }
}

fn authn_error(
    shared: &Shared,
    peer: SocketAddr,
    sni: Option<String>,
    reason: &'static str,
    details: String,
) {
    let who = Who {
        peer: Some(peer),
        trace_id: crate::log::trace_id(),
        protocol: "MQTT",
        ..Who::default()
    };
    shared.log.write(
        &who,
        Event::AuthnError {
            reason,
            details,
            sni,
        },
    );
}

async fn connection(
    mut tcp: TcpStream,
    peer: SocketAddr,
    port: Port,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let n = shared.next.fetch_add(1, Ordering::Relaxed) + 1;
    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls::read_hello(&mut tcp)).await {
        Ok(Ok(h)) => h,
        Ok(Err(NotHello::Plaintext(b))) => {
            // Every AWS IoT port is TLS (protocols page); what AWS answers to plaintext is not
            // documented: the connection is closed.
            tracing::info!("#{n} {peer}: plaintext (first byte 0x{b:02x}), not TLS: closed");
            return;
        }
        Ok(Err(NotHello::Closed)) | Err(_) => return,
        Ok(Err(NotHello::Refused(why))) => {
            tracing::info!("#{n} {peer}: ClientHello refused: {why}");
            return;
        }
    };
    match tls::check_name(hello.sni.as_deref(), &shared.endpoint_name) {
        NameCheck::Ours => {}
        // Current transport-security page: SNI "not required but highly recommended"; the
        // older docs and field reports say devices without it were refused (--require-sni).
        NameCheck::Missing if !shared.require_sni => {}
        check => {
            // "Connections attempted by devices with the incorrect or invalid host_name value
            // will fail" (transport-security page). The alert is UNVERIFIED: RFC 6066's
            // unrecognized_name. Current docs also say legacy (VeriSign) endpoints are no
            // longer supported (server-authentication page).
            let what = match check {
                NameCheck::Missing => "no SNI".to_string(),
                NameCheck::Legacy => format!(
                    "the legacy (non-ATS) name {}",
                    hello.sni.clone().unwrap_or_default()
                ),
                _ => format!("the name {}", hello.sni.clone().unwrap_or_default()),
            };
            authn_error(
                &shared,
                peer,
                hello.sni.clone(),
                "SNI_MISUSED",
                format!("{what} is not this endpoint ({})", shared.endpoint_name),
            );
            tls::refuse(&mut tcp, alert::UNRECOGNIZED_NAME).await;
            return;
        }
    }
    let (speaks, alpn) = match port {
        Port::Mqtt => (Speaks::Mqtt, None),
        Port::Https => (Speaks::Http, None),
        Port::Alpn => {
            // Port 443 with a client certificate needs ALPN x-amzn-mqtt-ca (MQTT) or
            // x-amzn-http-ca (HTTPS publish) (protocols page; without it "an mTLS connection
            // cannot be established", aws-iot-device-sdk-swift#80).
            if hello.alpn.iter().any(|p| p == tls::ALPN_MQTT) {
                (Speaks::Mqtt, Some(tls::ALPN_MQTT))
            } else if hello.alpn.iter().any(|p| p == tls::ALPN_HTTP) {
                (Speaks::Http, Some(tls::ALPN_HTTP))
            } else {
                authn_error(
                    &shared,
                    peer,
                    hello.sni.clone(),
                    "NOT_AUTHENTICATED",
                    "port 443 without ALPN x-amzn-mqtt-ca or x-amzn-http-ca".into(),
                );
                tls::refuse(&mut tcp, alert::HANDSHAKE_FAILURE).await;
                return;
            }
        }
    };
    let verifier = Arc::new(RegistryVerifier::new(shared.registry.clone()));
    let cfg = match tls::server_config(shared.cert.clone(), verifier.clone(), alpn) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("#{n}: TLS configuration: {e}");
            return;
        }
    };
    let sni = hello.sni.clone();
    let handshake = StartHandshake::from_parts(hello.accepted, tcp)
        .into_stream(cfg)
        .into_fallible();
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(t)) => t,
        Ok(Err((e, mut tcp))) => {
            let a = verifier.result();
            let (reason, details) = match a.refused {
                Some(r) => r,
                None if a.cert_id.is_none() => {
                    ("NOT_AUTHENTICATED", format!("no client certificate ({e})"))
                }
                None => ("NOT_AUTHENTICATED", e.to_string()),
            };
            tracing::info!("#{n} {peer}: TLS refused: {reason}: {details}");
            // Logged first, so the entry is there once the device has seen the refusal.
            authn_error(&shared, peer, sni, reason, details);
            // rustls has written its alert; the socket is closed gently so that it arrives.
            tls::close_gently(&mut tcp).await;
            return;
        }
        Err(_) => return,
    };
    let a = verifier.result();
    let (Some(cert_id), Some(identity)) = (a.cert_id, a.identity) else {
        return;
    };
    let p = Peer {
        addr: peer,
        cert_id,
        identity,
        sni,
        conn: n,
    };
    match speaks {
        Speaks::Mqtt => session::serve(tls, p, shared, stop).await,
        Speaks::Http => {
            let authz = shared.authz(&p, "");
            let who = Who {
                client_id: None,
                principal_id: Some(p.cert_id.clone()),
                peer: Some(peer),
                trace_id: crate::log::trace_id(),
                protocol: "HTTP",
            };
            crate::http::serve(tls, shared.clone(), authz, who).await;
        }
    }
}

/// Runs the endpoint until SIGINT or SIGTERM (the command's form).
pub fn run(cfg: EndpointConfig) -> Result<u8, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        // Caught from here on, before the endpoint says it listens (as the proxy does).
        let mut signals = iotscope_proxy::serve::StopSignals::new(None);
        let name = cfg.endpoint_name.clone();
        let running = start(cfg).await?;
        for (what, a) in [
            ("MQTT", running.mqtt),
            (
                "ALPN x-amzn-mqtt-ca (MQTT) and x-amzn-http-ca (HTTPS publish)",
                running.mqtt_alpn,
            ),
            ("HTTPS publish", running.https),
        ] {
            if let Some(a) = a {
                eprintln!("iotscope endpoint: {name}: {what} on {a}");
            }
        }
        eprintln!(
            "iotscope endpoint: devices trust {} for the endpoint's certificate",
            running.ca_file.display()
        );
        eprintln!("iotscope endpoint: {}", running.connections_line);
        signals.recv().await;
        eprintln!("iotscope endpoint: stopping");
        running.stop(Duration::from_secs(2)).await;
        Ok(0)
    })
}

//! TLS 1.3 handshakes with client certificates: the certificates, a server that requires
//! one, and a client loop that counts full handshakes per second.
//!
//! Every handshake is a full one: the client keeps no session for resumption and the
//! server sends no tickets, as a fleet of devices reconnecting after an outage would look
//! to an endpoint seeing each for the first time. A handshake counts once the server, after
//! verifying the client's certificate, has sent one byte and the client has read it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::net::{self, Target};
use crate::stats;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn rcgen_error(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2035, 1, 1);
}

/// `ca.pem`, `server.pem`/`server.key` (localhost and 127.0.0.1) and
/// `client.pem`/`client.key`, all ECDSA P-256.
pub fn write_certs(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let ca_key = KeyPair::generate().map_err(rcgen_error("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error("CA"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "iotscope-bench CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut ca_params);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rcgen_error("CA"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(rcgen_error("server key"))?;
    let mut server =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(rcgen_error("server"))?;
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut server);
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .map_err(rcgen_error("server"))?;

    let client_key = KeyPair::generate().map_err(rcgen_error("client key"))?;
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error("client"))?;
    client
        .distinguished_name
        .push(DnType::CommonName, "iotscope-bench-device");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    validity(&mut client);
    let client_cert = client
        .signed_by(&client_key, &issuer)
        .map_err(rcgen_error("client"))?;

    for (name, text) in [
        ("ca.pem", ca_cert.pem()),
        ("server.pem", server_cert.pem()),
        ("server.key", server_key.serialize_pem()),
        ("client.pem", client_cert.pem()),
        ("client.key", client_key.serialize_pem()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    for c in certs(path)? {
        store
            .add(c)
            .map_err(|e| format!("{}: not a usable CA: {e}", path.display()))?;
    }
    Ok(Arc::new(store))
}

fn server_config(dir: &Path) -> Result<ServerConfig, String> {
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots(&dir.join("ca.pem"))?,
        provider(),
    )
    .build()
    .map_err(|e| format!("client verifier: {e}"))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("server config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&dir.join("server.pem"))?,
            key(&dir.join("server.key"))?,
        )
        .map_err(|e| format!("server certificate: {e}"))?;
    config.send_tls13_tickets = 0;
    Ok(config)
}

fn client_config(dir: &Path, trust: &Path) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("client config: {e}"))?
        .with_root_certificates(roots(trust)?)
        .with_client_auth_cert(
            certs(&dir.join("client.pem"))?,
            key(&dir.join("client.key"))?,
        )
        .map_err(|e| format!("client certificate: {e}"))?;
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// How long a server connection may take from accept to the client's close, unless told
/// otherwise (`tls-server --hold-seconds`, for idle connections held after a handshake).
pub const SERVER_CONNECTION_LIMIT: Duration = Duration::from_secs(10);

pub async fn serve(
    listen: SocketAddr,
    dir: &Path,
    port_file: &Path,
    limit: Duration,
    hold: Duration,
) -> Result<(), String> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(dir)?));
    let listener = net::bind(listen, port_file).await?;
    let failures = Arc::new(AtomicU64::new(0));
    let accepting = async {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let acceptor = acceptor.clone();
            let failures = failures.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let one = async {
                    let mut tls = acceptor.accept(tcp).await?;
                    tls.write_all(&[1]).await?;
                    tls.flush().await?;
                    let mut rest = [0u8; 64];
                    while tls.read(&mut rest).await? > 0 {}
                    Ok::<_, std::io::Error>(())
                };
                match tokio::time::timeout(hold, one).await {
                    Ok(Ok(())) => {}
                    // A client that closes without close_notify is not a failed handshake.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                    Ok(Err(e)) => {
                        if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("tls-server: {e}");
                        }
                    }
                    Err(_) => {}
                }
            });
        }
    };
    let _ = tokio::time::timeout(limit, accepting).await;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct HandshakePlan {
    pub server_name: String,
    pub per_round: Duration,
    pub rounds: u32,
    pub concurrency: usize,
    /// An MQTT session instead of the server's byte: CONNECT, CONNACK, DISCONNECT (the
    /// server is an MQTT broker that requires a client certificate, mosquitto in bench/run).
    pub mqtt: bool,
}

/// One handshake: connect, complete TLS, read the server's byte (or, with `mqtt`, send
/// CONNECT and read an accepting CONNACK, then DISCONNECT), close.
async fn one_handshake(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &ServerName<'static>,
    mqtt: bool,
) -> Result<(), String> {
    let mut tls = open(connector, addr, name).await?;
    if mqtt {
        // A client id of its own per session: the broker would otherwise take over (and
        // close) the session of another loop's connection with the same id.
        static SESSION: AtomicU64 = AtomicU64::new(0);
        let id = format!("bench-{}", SESSION.fetch_add(1, Ordering::Relaxed));
        tls.write_all(&crate::mqtt::connect(&id))
            .await
            .map_err(|e| format!("sending CONNECT: {e}"))?;
        let code = crate::mqtt::read_packet(&mut tls).await?.connack_code()?;
        if code != 0 {
            return Err(format!("CONNACK refused the session (code {code})"));
        }
        let _ = tls.write_all(&[0xE0, 0x00]).await;
    } else {
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte)
            .await
            .map_err(|e| format!("reading the server's byte: {e}"))?;
    }
    let _ = tls.shutdown().await;
    Ok(())
}

/// Connects and completes a TLS handshake with the client certificate.
pub async fn open(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &ServerName<'static>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    connector
        .connect(name.clone(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))
}

/// A connector with the client certificate in DIR, trusting the CA in `trust`.
pub fn connector(dir: &Path, trust: &Path) -> Result<TlsConnector, String> {
    Ok(TlsConnector::from(Arc::new(client_config(dir, trust)?)))
}

/// Handshakes completed by `concurrency` loops for `per_round`, and per second.
async fn one_round(
    connector: &TlsConnector,
    t: &Target,
    plan: &HandshakePlan,
) -> Result<f64, String> {
    let name = ServerName::try_from(plan.server_name.clone())
        .map_err(|e| format!("{:?}: {e}", plan.server_name))?;
    let done = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let deadline = start + plan.per_round;
    let mut loops = Vec::new();
    for _ in 0..plan.concurrency {
        let (connector, name, done, first_error) = (
            connector.clone(),
            name.clone(),
            done.clone(),
            first_error.clone(),
        );
        let (addr, mqtt) = (t.addr, plan.mqtt);
        loops.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match one_handshake(&connector, addr, &name, mqtt).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert(e);
                        }
                        // A failing target would otherwise spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let error = first_error.lock().ok().and_then(|mut f| f.take());
    match (n, error) {
        (0, Some(e)) => Err(format!("{}: no handshake completed: {e}", t.name)),
        (_, Some(e)) => {
            eprintln!("handshakes {}: some failed, the first: {e}", t.name);
            Ok(n as f64 / secs)
        }
        _ => Ok(n as f64 / secs),
    }
}

pub async fn handshakes(
    targets: &[Target],
    dir: &Path,
    trust: &[(String, PathBuf)],
    plan: HandshakePlan,
) -> Result<(), String> {
    let mut connectors = Vec::new();
    for t in targets {
        let ca = trust
            .iter()
            .find(|(n, _)| *n == t.name)
            .map_or_else(|| dir.join("ca.pem"), |(_, p)| p.clone());
        connectors.push(TlsConnector::from(Arc::new(client_config(dir, &ca)?)));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for _ in 0..plan.rounds.max(1) {
        for ((t, c), r) in targets.iter().zip(&connectors).zip(rates.iter_mut()) {
            r.push(one_round(c, t, &plan).await?);
        }
    }
    for (t, r) in targets.iter().zip(&rates) {
        let list: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
        eprintln!("handshakes {}: {} per second", t.name, list.join(", "));
        if let Some(m) = stats::median(r) {
            println!("hs_{}_per_s={m:.1}", t.name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(what: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("iotscope-bench-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_certificates_make_working_configs() {
        let dir = temp_dir("certs");
        write_certs(&dir).unwrap();
        assert!(server_config(&dir).is_ok());
        assert!(client_config(&dir, &dir.join("ca.pem")).is_ok());
        let pem = std::fs::read_to_string(dir.join("client.key")).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn handshakes_complete_only_with_the_right_ca() {
        let dir = temp_dir("hs");
        write_certs(&dir).unwrap();
        let other = dir.join("other");
        write_certs(&other).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (d, pf) = (dir.clone(), dir.join("port"));
            tokio::spawn(async move {
                let _ = serve(
                    "127.0.0.1:0".parse().unwrap(),
                    &d,
                    &pf,
                    Duration::from_secs(20),
                    SERVER_CONNECTION_LIMIT,
                )
                .await;
            });
            let port = loop {
                if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
                    break p.trim().parse::<u16>().unwrap();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let name = ServerName::try_from("localhost".to_string()).unwrap();
            let good =
                TlsConnector::from(Arc::new(client_config(&dir, &dir.join("ca.pem")).unwrap()));
            one_handshake(&good, addr, &name, false).await.unwrap();
            // A client that trusts another CA refuses the server.
            let wrong = TlsConnector::from(Arc::new(
                client_config(&dir, &other.join("ca.pem")).unwrap(),
            ));
            let e = one_handshake(&wrong, addr, &name, false).await.unwrap_err();
            assert!(e.starts_with("handshake:"), "{e}");
            // A client whose certificate comes from another CA is refused by the server.
            let stranger = TlsConnector::from(Arc::new(
                client_config(&other, &dir.join("ca.pem")).unwrap(),
            ));
            assert!(one_handshake(&stranger, addr, &name, false).await.is_err());
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

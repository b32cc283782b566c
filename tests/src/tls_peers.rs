//! Scripted TLS peers in the test process, with certificates from [`crate::pki`]: an MQTT
//! endpoint that requires client certificates and offers ALPN (answering through
//! [`crate::mqtt_endpoint`] with the codes a test chooses), and a device (rustls client) that
//! connects, subscribes and publishes, both on loopback with bounded waits.

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use rustls::{DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::mqtt_endpoint::{self, Script};
use crate::mqtt_script as mqtt;
use crate::pki::{provider, roots, server_config, versions, Ca, ClientAuth, Leaf};
use crate::proxy::WAIT;

pub fn roots_of(certs: &[CertificateDer<'static>]) -> Arc<RootCertStore> {
    let mut r = RootCertStore::empty();
    for c in certs {
        r.add(c.clone()).unwrap();
    }
    Arc::new(r)
}

/// A rustls endpoint that requires client certificates from `client_ca`, offers `alpn`,
/// and answers MQTT by `script` ([`crate::mqtt_endpoint`]).
pub fn endpoint(
    server: &Leaf,
    client_ca: &Ca,
    tls: u16,
    alpn: &[&str],
    script: Script,
) -> (u16, Receiver<Result<Vec<String>, String>>) {
    let mut config = (*server_config(server, tls, ClientAuth::Required(roots(client_ca)))).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let ep = mqtt_endpoint::start_scripted(Arc::new(config), script);
    (ep.port, ep.results)
}

/// Accepts any server certificate: a device that does not validate its endpoint.
#[derive(Debug)]
struct TrustsAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for TrustsAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A device: TLS to `port` on loopback, then CONNECT, SUBSCRIBE, PUBLISH, DISCONNECT as far
/// as the answers allow.
pub struct Device {
    pub tls: u16,
    /// `None`: the device accepts any endpoint certificate.
    pub trusts: Option<Arc<RootCertStore>>,
    pub cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Sign the CertificateVerify with this key instead of the certificate's own: a device
    /// that does not hold its certificate's key.
    pub sign_with: Option<PrivateKeyDer<'static>>,
    pub server_name: String,
    pub alpn: Vec<String>,
    pub mqtt: u8,
    pub client_id: String,
    pub subscribe: Option<String>,
    pub publish: Option<String>,
}

/// What a device saw: the ALPN agreed, and the first byte and body of each answer.
#[derive(Debug, Default)]
pub struct Seen {
    pub alpn: Option<String>,
    pub answers: Vec<(u8, Vec<u8>)>,
    pub error: Option<String>,
}

impl Device {
    pub fn new(tls: u16, mqtt: u8, server_name: &str) -> Device {
        Device {
            tls,
            trusts: None,
            cert: None,
            sign_with: None,
            server_name: server_name.into(),
            alpn: Vec::new(),
            mqtt,
            client_id: "thermostat-12".into(),
            subscribe: None,
            publish: None,
        }
    }

    pub fn run(self, port: u16) -> Seen {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(self.tls))
            .unwrap();
        let builder = match self.trusts {
            Some(r) => builder.with_root_certificates(r),
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustsAnything(provider()))),
        };
        let mut config = match (self.cert, self.sign_with) {
            (Some((chain, _)), Some(other)) => {
                let signer = provider().key_provider.load_private_key(other).unwrap();
                let certified = rustls::sign::CertifiedKey::new(chain, signer);
                builder.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
                    certified,
                )))
            }
            (Some((chain, key)), None) => builder.with_client_auth_cert(chain, key).unwrap(),
            (None, _) => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let mut seen = Seen::default();
        let sock = match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => s,
            Err(e) => {
                seen.error = Some(e.to_string());
                return seen;
            }
        };
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let name = ServerName::try_from(self.server_name.clone()).unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = StreamOwned::new(conn, sock);
        let level = self.mqtt;
        let result = (|| {
            mqtt::send(&mut tls, &mqtt::connect(level, &self.client_id))?;
            seen.alpn = tls
                .conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let ack = mqtt::read(&mut tls)?;
            let accepted = ack.1.get(1) == Some(&0);
            seen.answers.push(ack);
            if !accepted {
                return Ok(());
            }
            if let Some(f) = &self.subscribe {
                mqtt::send(&mut tls, &mqtt::subscribe(level, 1, f))?;
                seen.answers.push(mqtt::read(&mut tls)?);
            }
            if let Some(t) = &self.publish {
                mqtt::send(&mut tls, &mqtt::publish(level, 2, t, b"21.5"))?;
                seen.answers.push(mqtt::read(&mut tls)?);
            }
            mqtt::send(&mut tls, &mqtt::disconnect())
        })();
        if let Err(e) = result {
            seen.error = Some(e.to_string());
        }
        tls.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut tls);
        let _ = tls.sock.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = tls.sock.read_to_end(&mut rest);
        seen
    }
}

//! Certificates for the tests, made with rcgen: CAs, leaves, a directory of PEM files that
//! belongs to one test, and rustls endpoint configurations built from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

pub type Ca = CertifiedIssuer<'static, KeyPair>;

/// A self-signed CA named `name`.
pub fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

/// A P-256 certificate and its key, in the forms rustls and the files want.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    /// A leaf for `names` with common name `cn`: a client certificate (clientAuth) or a
    /// server certificate (serverAuth).
    pub fn new(ca: &Ca, cn: &str, names: &[&str], client: bool) -> Leaf {
        Leaf::with(ca, cn, names, client, |_| {})
    }

    /// As [`Leaf::new`], with the parameters edited by the test first (dates, say).
    pub fn with(
        ca: &Ca,
        cn: &str,
        names: &[&str],
        client: bool,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        edit(&mut p);
        Leaf::from_params(ca, p)
    }

    /// A leaf from parameters the test set itself (dates, extensions).
    pub fn from_params(ca: &Ca, p: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, ca).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Roots holding just `ca`.
pub fn roots(ca: &Ca) -> Arc<RootCertStore> {
    let mut r = RootCertStore::empty();
    r.add(ca.der().clone()).unwrap();
    Arc::new(r)
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// TLS 1.3 (`13`) or TLS 1.2 (`12`) alone.
pub fn versions(v: u16) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    if v == 13 {
        &TLS13
    } else {
        &TLS12
    }
}

/// What an endpoint asks of its clients' certificates.
pub enum ClientAuth {
    /// It asks for none.
    Off,
    /// It asks, and goes on without one; one it gets must chain to these roots.
    Optional(Arc<RootCertStore>),
    /// It insists on one that chains to these roots.
    Required(Arc<RootCertStore>),
}

/// A rustls endpoint configuration with `server`'s certificate.
pub fn server_config(server: &Leaf, tls: u16, auth: ClientAuth) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(tls))
        .unwrap();
    let verifier = |r: Arc<RootCertStore>| {
        rustls::server::WebPkiClientVerifier::builder_with_provider(r, provider())
    };
    let builder = match auth {
        ClientAuth::Off => builder.with_no_client_auth(),
        ClientAuth::Optional(r) => {
            builder.with_client_cert_verifier(verifier(r).allow_unauthenticated().build().unwrap())
        }
        ClientAuth::Required(r) => builder.with_client_cert_verifier(verifier(r).build().unwrap()),
    };
    Arc::new(
        builder
            .with_single_cert(server.chain.clone(), server.key.clone_key())
            .unwrap(),
    )
}

/// A TLS broker's files and one device's, written into a test's directory: the CA
/// (`ca.pem`), the broker's certificate for localhost (`server.pem`, `server.key`) and the
/// device's client certificate (`device.pem`, `device.key`), all from one CA. Paths.
pub struct BrokerFiles {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub device_cert: String,
    pub device_key: String,
}

impl BrokerFiles {
    /// A new CA named `ca_name`, and a device certificate whose CN is `device_cn`.
    pub fn write(dir: &Dir, ca_name: &str, device_cn: &str) -> BrokerFiles {
        let pki = ca(ca_name);
        let server = Leaf::new(&pki, "localhost", &["localhost"], false);
        let dev = Leaf::new(&pki, device_cn, &[], true);
        BrokerFiles {
            ca: dir.put("ca.pem", &pki.pem()),
            server_cert: dir.put("server.pem", &server.cert_pem),
            server_key: dir.put("server.key", &server.key_pem),
            device_cert: dir.put("device.pem", &dev.cert_pem),
            device_key: dir.put("device.key", &dev.key_pem),
        }
    }
}

/// A directory of the test's own under the system's temporary directory, removed when
/// dropped. Files are world-readable: mosquitto reads them after dropping root.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("iotscope-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir { path }
    }

    /// Writes `text` to `name` in the directory; returns its path.
    pub fn put(&self, name: &str, text: &str) -> String {
        let p = self.path.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The path of `name` in the directory, as a string for command lines.
    pub fn file(&self, name: &str) -> String {
        self.join(name).to_str().unwrap().to_string()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

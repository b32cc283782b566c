//! Which roots the probe trusts for the endpoint, and what they say about the chain the
//! endpoint sent.
//!
//! The probe trusts what the device would: the CA file when one is given (a device's
//! `--cafile` replaces the system's roots, it does not add to them), else webpki-roots. With
//! a CA file, the chain is checked against webpki-roots as well, so a wrong CA file on a
//! device that talks to a public endpoint is told apart from an endpoint nobody trusts.

use crate::error::Error;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;
use serde::Serialize;

use crate::tls_setup::files::load_certs;
use crate::tls_setup::server_check::{explain, EndpointVerdict, RecordingVerifier};

pub struct Anchors {
    pub roots: Arc<RootCertStore>,
    /// `the CA file ca.pem` or `webpki-roots`.
    pub label: String,
    pub from_ca_file: bool,
}

/// The roots the connection uses.
pub fn anchors(ca: Option<&Path>) -> Result<Anchors, Error> {
    let Some(path) = ca else {
        return Ok(Anchors {
            roots: webpki(),
            label: "webpki-roots".into(),
            from_ca_file: false,
        });
    };
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(load_certs(path)?);
    if added == 0 {
        return Err(Error::BadFile(format!(
            "{} holds no certificate usable as a trust anchor ({ignored} ignored)",
            path.display()
        )));
    }
    Ok(Anchors {
        roots: Arc::new(roots),
        label: format!("the CA file {}", path.display()),
        from_ca_file: true,
    })
}

fn webpki() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(roots)
}

/// What the probe learned about the endpoint's chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainReport {
    /// Subjects, leaf first.
    pub chain: Vec<String>,
    /// What the connection trusted: `the CA file …` or `webpki-roots`.
    pub anchors: String,
    pub trusted: bool,
    /// Why not, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// With a CA file: would webpki-roots have trusted the chain?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webpki_roots_trusted: Option<bool>,
}

impl ChainReport {
    pub fn new(verdict: &EndpointVerdict, anchors: &Anchors, name: &ServerName<'static>) -> Self {
        let chain = verdict
            .chain
            .iter()
            .map(|c| iotscope_decoder::cert::summarize(c.as_ref()).subject)
            .collect();
        let webpki_roots_trusted = anchors
            .from_ca_file
            .then(|| check(&verdict.chain, &webpki(), name).is_none());
        // The connection's verdict, in words that name the roots it used.
        let problem = verdict.refusal.as_ref().map(|r| {
            check(&verdict.chain, &anchors.roots, name)
                .map_or_else(|| r.reason.clone(), |e| words(&e, &anchors.label))
        });
        ChainReport {
            chain,
            anchors: anchors.label.clone(),
            trusted: verdict.refusal.is_none(),
            problem,
            webpki_roots_trusted,
        }
    }

    /// Lines for the TLS step.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, subject) in self.chain.iter().enumerate() {
            let what = if i == 0 {
                "endpoint certificate"
            } else {
                "  issued by"
            };
            out.push(format!("{what} {subject}"));
        }
        match &self.problem {
            None => out.push(format!("trusted by {}", self.anchors)),
            Some(p) => out.push(format!("NOT trusted by {}: {p}", self.anchors)),
        }
        match self.webpki_roots_trusted {
            Some(true) if self.problem.is_some() => out.push(
                "webpki-roots would trust it: the CA file lacks the endpoint's root (for AWS IoT, Amazon Root CA 1 or 3)".into(),
            ),
            Some(false) if self.problem.is_none() => {
                out.push("webpki-roots would not trust it (a private CA)".into())
            }
            _ => {}
        }
        out
    }
}

/// Checks a chain against `roots` for `name` now; `None` when it is trusted.
fn check(
    chain: &[CertificateDer<'static>],
    roots: &Arc<RootCertStore>,
    name: &ServerName<'static>,
) -> Option<rustls::Error> {
    let (leaf, rest) = chain.split_first()?;
    let verifier = match RecordingVerifier::new(roots.clone()) {
        Ok(v) => v,
        Err(e) => return Some(rustls::Error::General(e.to_string())),
    };
    verifier
        .verify_server_cert(leaf, rest, name, &[], UnixTime::now())
        .err()
}

/// Why a chain is not trusted, naming the roots the probe used.
pub fn words(e: &rustls::Error, anchors: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            format!("no certificate in {anchors} issued it or its chain")
        }
        other => explain(other),
    }
}

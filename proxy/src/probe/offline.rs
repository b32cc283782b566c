//! The checks made before connecting, from the files alone: the device certificate (its
//! validity today, a key type and size AWS IoT accepts, the order of a chain), the private
//! key against the certificate, the CA file's certificates being CAs, and the endpoint's
//! name. They are `cert check`'s checks, and come out as the same findings.

use crate::error::Error;
use std::path::Path;

use iotscope_decoder::cert::{read_chain, summarize_pem_or_der, Certificate, ChainSummary};
use iotscope_decoder::diagnose::catalogue::Values;
use iotscope_decoder::diagnose::{cert_files, Finding, Severity};

use super::endpoint_name::{classify, NameKind};
use crate::cert_check::files::{CaFile, KeyFile};

/// What the files and the name said.
pub struct Offline {
    pub findings: Vec<Finding>,
    /// What was checked, a line each, for the report.
    pub lines: Vec<String>,
    /// The device's leaf certificate, when one was given.
    pub leaf: Option<Certificate>,
    /// The key does not belong to the certificate: connecting would only fail at
    /// CertificateVerify, so the probe stops here.
    pub key_mismatch: bool,
    pub name: NameKind,
}

/// The files the offline checks read.
pub struct Files<'a> {
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub ca: Option<&'a Path>,
}

/// Runs every offline check; `Err` is input that cannot be read (exit status 2).
pub fn check(files: &Files<'_>, host: &str, port: u16, now: i64) -> Result<Offline, Error> {
    let mut out = Offline {
        findings: Vec::new(),
        lines: Vec::new(),
        leaf: None,
        key_mismatch: false,
        name: classify(host),
    };
    if let (Some(cert), Some(key)) = (files.cert, files.key) {
        device_files(cert, key, now, &mut out)?;
    } else {
        out.lines
            .push("no client certificate given: iotscope sends none if the endpoint asks".into());
    }
    if let Some(ca) = files.ca {
        ca_file(ca, &mut out)?;
    } else {
        out.lines
            .push("no CA file: the endpoint is checked against webpki-roots".into());
        out.lines
            .push("  (Amazon Root CA 1-4, Starfield and the other public roots)".into());
    }
    out.lines.push(out.name.describe(host));
    if let Some((code, summary)) = out.name.warning(host) {
        let values = Values {
            endpoint: Some(host.to_string()),
            port: Some(port),
            cert_id: out.leaf.as_ref().map(|c| c.sha256.clone()),
            ..Values::default()
        };
        out.findings.push(
            Finding::new(code, summary)
                .steps_from(&values)
                .severity(Severity::Warning),
        );
    }
    Ok(out)
}

fn device_files(cert: &Path, key: &Path, now: i64, out: &mut Offline) -> Result<(), Error> {
    let bytes =
        std::fs::read(cert).map_err(|e| Error::io(format!("read {}", cert.display()), e))?;
    let read = summarize_pem_or_der(&bytes);
    if read.is_empty() {
        return Err(Error::BadFile(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    if let Some(bad) = read.iter().find_map(|(c, _)| c.parse_error.as_ref()) {
        return Err(Error::BadFile(format!("{}: {bad}", cert.display())));
    }
    let ders: Vec<&[u8]> = read.iter().map(|(_, d)| d.as_slice()).collect();
    let ChainSummary {
        chain,
        issued_by_next,
        ..
    } = read_chain(&ders);
    out.findings.extend(cert_files::check(&cert_files::Chain {
        certs: &chain,
        issued_by_next: &issued_by_next,
        now,
        custom_domain: false,
    }));
    let (Some(leaf), Some(leaf_der)) = (chain.first(), ders.first()) else {
        return Err(Error::BadFile(format!(
            "{} holds no certificate",
            cert.display()
        )));
    };
    out.lines.push(format!(
        "certificate {}: {}, {}{}",
        cert.display(),
        leaf.subject,
        key_words(leaf),
        if chain.len() > 1 {
            format!(", and {} more in the chain", chain.len() - 1)
        } else {
            String::new()
        }
    ));
    out.lines.push(format!(
        "  valid {} to {} UTC",
        leaf.not_before, leaf.not_after
    ));
    out.lines.push(format!(
        "  aws iot describe-certificate --certificate-id {}",
        leaf.sha256
    ));
    let key_file = KeyFile::load(key)?;
    match key_file.check(leaf, leaf_der) {
        Some(mismatch) => {
            out.lines.push(format!(
                "key {} does NOT belong to the certificate",
                key.display()
            ));
            out.findings.push(mismatch);
            out.key_mismatch = true;
        }
        None => out
            .lines
            .push(format!("key {} belongs to the certificate", key.display())),
    }
    out.leaf = Some(leaf.clone());
    Ok(())
}

fn ca_file(path: &Path, out: &mut Offline) -> Result<(), Error> {
    let ca = CaFile::load(path)?;
    let names: Vec<&str> = ca
        .certs()
        .iter()
        .map(|(c, _)| c.common_name.as_deref().unwrap_or(c.subject.as_str()))
        .collect();
    out.lines.push(format!(
        "CA file {}: {} certificate{} ({})",
        path.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join("; ")
    ));
    out.findings
        .extend(ca.not_cas(out.leaf.as_ref().map(|c| c.sha256.as_str())));
    Ok(())
}

/// `EC P-256`, `RSA 2048 bits`.
pub fn key_words(c: &Certificate) -> String {
    match (&c.curve, c.key_bits) {
        (Some(curve), _) => format!("{} {curve}", c.key_type),
        (None, Some(bits)) => format!("{} {bits} bits", c.key_type),
        (None, None) => c.key_type.clone(),
    }
}

//! Which certificate iotscope presents to the endpoint for a device: the one of
//! `--device-cert`, one from `--device-certs DIR` chosen by the certificate the device
//! presents, or none (iotscope then reports the device's handshake and goes no further).

use crate::error::Error;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::tls_setup::client::DeviceIdentity;

pub enum Identities {
    None,
    One(Arc<DeviceIdentity>),
    /// By certificate ID (SHA-256 of the leaf's DER, lower-case hex), and by file name
    /// (`thermostat-12.pem` serves the device whose client id is `thermostat-12`).
    ById {
        dir: PathBuf,
        by_id: HashMap<String, Arc<DeviceIdentity>>,
        by_name: HashMap<String, Arc<DeviceIdentity>>,
    },
}

impl Identities {
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        dir: Option<&Path>,
    ) -> Result<Identities, Error> {
        match (cert, key, dir) {
            (Some(c), Some(k), _) => Ok(Identities::One(Arc::new(DeviceIdentity::load(c, k)?))),
            (_, _, Some(d)) => load_dir(d),
            _ => Ok(Identities::None),
        }
    }

    /// True when the device's handshake must finish before iotscope can pick what to present
    /// upstream.
    pub fn device_first(&self) -> bool {
        !matches!(self, Identities::One(_))
    }

    /// True when a device's client id may decide (files named other than by certificate ID).
    pub fn by_client_id(&self) -> bool {
        matches!(self, Identities::ById { by_name, .. } if !by_name.is_empty())
    }

    /// The identity for a device that connects with this client id.
    pub fn for_client(&self, client_id: &str) -> Option<Arc<DeviceIdentity>> {
        match self {
            Identities::ById { by_name, .. } => by_name.get(client_id).cloned(),
            _ => None,
        }
    }

    /// The identity for a device that presented a leaf with this certificate ID; `Err` says
    /// why iotscope will not go upstream.
    pub fn for_device(&self, leaf_id: Option<&str>) -> Result<Arc<DeviceIdentity>, Error> {
        match self {
            Identities::One(id) => Ok(id.clone()),
            Identities::None => Err(Error::Invocation(
                "no --device-cert was given, so iotscope reports the device's handshake and does not go upstream".into(),
            )),
            Identities::ById { dir, by_id, .. } => match leaf_id {
                None => Err(Error::BadFile(format!(
                    "the device presented no certificate, so none of {} can be chosen for it; iotscope does not go upstream",
                    dir.display()
                ))),
                Some(id) => by_id.get(id).cloned().ok_or_else(|| {
                    Error::BadFile(format!(
                        "{} holds no certificate with the device's ID {id}; iotscope does not go upstream",
                        dir.display()
                    ))
                }),
            },
        }
    }
}

/// Every certificate file in `dir` with a key beside it, by its certificate ID. Keys are
/// found by the names AWS IoT and common tools give them: `X.key` beside `X.pem`/`X.crt`, and
/// `PREFIX-private.pem.key` beside `PREFIX-certificate.pem.crt`.
fn load_dir(dir: &Path) -> Result<Identities, Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    let mut by_id = HashMap::new();
    let mut by_name = HashMap::new();
    let mut skipped = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.ends_with(".crt") || name.ends_with(".pem")) || name.contains("private") {
            continue;
        }
        let Some(key) = key_beside(&path, &name) else {
            skipped.push(format!("{name} (no key file beside it)"));
            continue;
        };
        match DeviceIdentity::load(&path, &key) {
            Ok(id) => {
                let id = Arc::new(id);
                let stem = stem(&name);
                if stem != id.sha256 {
                    by_name.insert(stem.to_string(), id.clone());
                }
                by_id.insert(id.sha256.clone(), id);
            }
            Err(e) => skipped.push(e.to_string()),
        }
    }
    for s in &skipped {
        tracing::warn!("--device-certs: skipped {s}");
    }
    if by_id.is_empty() {
        return Err(Error::BadFile(format!(
            "{} holds no certificate with its key (expected ID.pem with ID.key, or PREFIX-certificate.pem.crt with PREFIX-private.pem.key)",
            dir.display()
        )));
    }
    Ok(Identities::ById {
        dir: dir.to_path_buf(),
        by_id,
        by_name,
    })
}

/// A certificate file's name without its extensions: the ID or client id it is named by.
fn stem(name: &str) -> &str {
    ["-certificate.pem.crt", ".pem.crt", ".crt", ".pem"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name)
}

fn key_beside(cert: &Path, name: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(prefix) = name.strip_suffix("certificate.pem.crt") {
        candidates.push(format!("{prefix}private.pem.key"));
    }
    for ext in [".pem.crt", ".crt", ".pem"] {
        if let Some(stem) = name.strip_suffix(ext) {
            candidates.push(format!("{stem}.key"));
            candidates.push(format!("{stem}.pem.key"));
            candidates.push(format!("{stem}.private.key"));
        }
    }
    candidates
        .into_iter()
        .map(|c| cert.with_file_name(c))
        .find(|p| p.is_file())
}

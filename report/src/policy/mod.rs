//! `iotscope policy check` and `iotscope policy lint`: the policy files read, handed to the
//! decoder's evaluator (`iotscope_decoder::policy`), and the answers printed. The evaluation
//! itself reads no file; this module is where files and standard output meet it.

pub mod check;
pub mod lint;

use std::net::IpAddr;
use std::path::PathBuf;

use iotscope_decoder::policy::{Policy, PolicyError, Request};
use thiserror::Error;

use crate::Format;

/// What `policy check` is asked.
#[derive(Clone, Debug, Default)]
pub struct PolicyCheckOptions {
    /// Policy files: documents, `aws iot get-policy` or `aws iot get-effective-policies` output.
    pub policies: Vec<PathBuf>,
    pub client_id: String,
    pub thing: Option<String>,
    pub thing_type: Option<String>,
    pub thing_attrs: Vec<(String, String)>,
    /// The device's certificate, for the `iot:Certificate.*` variables.
    pub cert: Option<PathBuf>,
    pub source_ip: Option<IpAddr>,
    pub region: Option<String>,
    pub account: Option<String>,
    /// The endpoint name: `iot:Domain`, and the region when `region` is not given.
    pub endpoint: Option<String>,
    pub requests: Vec<Request>,
    pub format: Format,
}

/// What `policy lint` is asked.
#[derive(Clone, Debug, Default)]
pub struct PolicyLintOptions {
    pub files: Vec<PathBuf>,
    pub format: Format,
}

/// Input the policy commands cannot work with (exit status 2).
#[derive(Debug, Error)]
pub enum PolicyCommandError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{path}: no X.509 certificate could be read from it")]
    NoCertificate { path: String },
    #[error("nothing to check: give --connect, --publish, --subscribe, --receive or --retain")]
    NoRequest,
}

/// Reads policy files into policies, in the order given; an error names the file and the
/// place in it.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Policy>, PolicyCommandError> {
    let mut policies = Vec::new();
    for path in paths {
        let bytes = read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        policies.extend(iotscope_decoder::policy::parse_policies(
            &path.display().to_string(),
            &text,
        )?);
    }
    Ok(policies)
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, PolicyCommandError> {
    std::fs::read(path).map_err(|source| PolicyCommandError::Read {
        path: path.display().to_string(),
        source,
    })
}

//! `iotscope proxy`'s settings as plain values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use iotscope_report::ReportOptions;

use crate::ca::mint::Present;
use crate::transparent::TransparentConfig;
use crate::upstream::Upstream;

/// Everything the proxy is told at start.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The endpoint to relay to (not used in transparent mode).
    pub upstream: Option<Upstream>,
    pub transparent: TransparentConfig,
    /// Where to listen; `None` takes port 8443 on IPv6 and IPv4.
    pub listen: Option<SocketAddr>,
    /// A pcapng file that records both directions of every connection.
    pub record: Option<PathBuf>,
    /// Connections relayed at once; more are refused. `None`: as many as the descriptor
    /// limit allows.
    pub max_connections: Option<u32>,
    /// Zero switches a timeout off.
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long open connections may run on after SIGINT/SIGTERM.
    pub grace: Duration,
    pub mitm: MitmConfig,
    pub report: ReportOptions,
}

/// MITM mode: iotscope ends the device's TLS and makes its own to the endpoint.
#[derive(Debug, Clone, Default)]
pub struct MitmConfig {
    /// MITM is on (an explicit choice: without it the proxy never touches TLS).
    pub mitm: bool,
    /// The device's certificate and key, presented to the endpoint.
    pub device_cert: Option<PathBuf>,
    pub device_key: Option<PathBuf>,
    /// Device certificates and keys chosen per device, by certificate ID or client id.
    pub device_certs: Option<PathBuf>,
    /// Refuse devices that present no certificate, as AWS IoT Core would.
    pub require_device_cert: bool,
    /// CA certificates trusted for the endpoint besides webpki-roots.
    pub upstream_ca: Option<PathBuf>,
    /// iotscope's CA directory (default: the user's configuration directory).
    pub ca_dir: Option<PathBuf>,
    /// A key log both legs' secrets are appended to (mode 0600).
    pub keylog: Option<PathBuf>,
    /// Show a deliberately bad certificate and do not go upstream.
    pub present: Option<Present>,
}

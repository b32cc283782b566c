//! What every connection of a running endpoint shares: the registry, the broker, the log, and
//! the settings a session needs. A module of its own so that the listeners ([`crate::server`])
//! and the sessions they start ([`crate::mqtt::session`]) both use it without importing each
//! other.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use rustls::sign::CertifiedKey;

use crate::log::Log;
use crate::mqtt::broker::Broker;
use crate::registry::Registry;

pub struct Shared {
    pub registry: Arc<Registry>,
    pub broker: Broker,
    pub log: Log,
    pub endpoint_name: String,
    /// The region in the ARNs policies are checked on.
    pub region: String,
    pub session_expiry: Duration,
    pub require_sni: bool,
    /// The endpoint's certificate and key.
    pub cert: Arc<CertifiedKey>,
    /// Connection numbers, for the endpoint's own log lines.
    pub next: AtomicU64,
}

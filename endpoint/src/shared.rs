//! What every connection of a running endpoint shares: the registry, the broker, the log, and
//! the settings a session needs. A module of its own so that the listeners ([`crate::server`])
//! and the sessions they start ([`crate::mqtt::session`]) both use it without importing each
//! other.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use rustls::sign::CertifiedKey;

use iotscope_decoder::cert::CertIdentity;
use iotscope_decoder::policy::Device;

use crate::log::Log;
use crate::mqtt::broker::{Authz, Broker};
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

/// What TLS established about the device.
pub struct Peer {
    pub addr: SocketAddr,
    pub cert_id: String,
    pub identity: CertIdentity,
    pub sni: Option<String>,
    pub conn: u64,
}

impl Shared {
    /// The policies of the device's certificate, and the device as the policy variables see
    /// it (`client_id` empty over HTTPS, which has none).
    pub fn authz(&self, peer: &Peer, client_id: &str) -> Authz {
        let reg = &self.registry;
        let device = Device {
            client_id: client_id.to_string(),
            thing: reg.thing_for(client_id, &peer.cert_id),
            certificate: Some(peer.identity.clone()),
            source_ip: Some(peer.addr.ip().to_canonical()),
            region: Some(self.region.clone()),
            account: Some(reg.account_id.clone()),
            domain: Some(
                peer.sni
                    .clone()
                    .unwrap_or_else(|| self.endpoint_name.clone()),
            ),
        };
        Authz {
            policies: Arc::new(reg.policies_of(&peer.cert_id)),
            device: Arc::new(device),
        }
    }
}

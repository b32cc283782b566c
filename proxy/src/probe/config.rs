//! `iotscope probe`'s settings as plain values.

use std::path::PathBuf;
use std::time::Duration;

use iotscope_report::{Colour, Format};

/// The MQTT versions the probe speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MqttVersion {
    V311,
    V5,
}

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The endpoint's host name.
    pub endpoint: String,
    pub port: u16,
    /// The device's certificate and key; without them no certificate is sent.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The CA certificates the device trusts; without them, webpki-roots.
    pub ca: Option<PathBuf>,
    /// ALPN protocols to offer.
    pub alpn: Vec<String>,
    /// Send an MQTT CONNECT after the handshake.
    pub connect: bool,
    pub client_id: Option<String>,
    pub subscribe: Option<String>,
    pub publish: Option<String>,
    pub mqtt: Option<MqttVersion>,
    pub format: Format,
    /// How long each step may take.
    pub timeout: Duration,
    /// A key log the connection's secrets are appended to (mode 0600).
    pub keylog: Option<PathBuf>,
    pub colour: Colour,
    /// Policies to check the probe's requests against (`--policy`, already read), with the
    /// thing, region and account.
    pub policy: Option<iotscope_decoder::policy::Given>,
    /// What the account says about the connection (`--account`, `--aws`).
    pub account: Option<iotscope_account::SharedSource>,
}

impl ProbeConfig {
    /// MQTT is spoken when any MQTT option is given.
    pub fn wants_mqtt(&self) -> bool {
        self.connect
            || self.client_id.is_some()
            || self.subscribe.is_some()
            || self.publish.is_some()
            || self.mqtt.is_some()
    }
}

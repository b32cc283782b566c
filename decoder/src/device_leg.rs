//! What a device did on its own TLS leg when iotscope intercepts it (`proxy --mitm`).
//!
//! In MITM mode the endpoint talks to iotscope, not to the device: iotscope presents its own
//! certificate to the device and the configured device certificate to the endpoint. The
//! endpoint's answers are then real answers to iotscope's handshake, and they can hide what
//! the device itself did wrong. This event carries the device's side so the rules can say so.

use serde::Serialize;

use crate::cert::Certificate;

/// The certificate iotscope showed the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Presented {
    /// A certificate for `name` issued by iotscope's CA: the normal interception.
    Mitm {
        name: String,
    },
    /// A deliberately bad certificate (`--present`), to see whether the device refuses it.
    Untrusted {
        name: String,
    },
    WrongName {
        name: String,
    },
    Expired {
        name: String,
    },
}

impl Presented {
    /// True for the `--present` tests, where a device that goes on is the failure.
    pub fn is_bad_on_purpose(&self) -> bool {
        !matches!(self, Presented::Mitm { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Presented::Mitm { name } => format!("a certificate for {name} from iotscope's CA"),
            Presented::Untrusted { name } => {
                format!("a certificate for {name} from a CA the device cannot know (--present untrusted)")
            }
            Presented::WrongName { name } => format!(
                "a certificate from iotscope's CA for {name}, not the name the device asked for (--present wrong-name)"
            ),
            Presented::Expired { name } => {
                format!("an expired certificate for {name} from iotscope's CA (--present expired)")
            }
        }
    }
}

/// Whether the device proved that it holds the key of the certificate it sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "proof", rename_all = "snake_case")]
pub enum Proof {
    /// The device sent no certificate, so there was nothing to prove.
    NoCertificate,
    /// Its CertificateVerify signature checks out with the certificate's public key.
    Verified,
    /// The signature does not verify: the device does not hold the certificate's key.
    Failed { reason: String },
    /// The handshake ended before the device's CertificateVerify.
    NotReached,
}

/// How the device's handshake with iotscope ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// The device refused iotscope's certificate: it sent this alert, or closed without one.
    Refused {
        alert: Option<String>,
    },
    /// The device offers nothing iotscope's TLS stack speaks (versions or cipher suites).
    Incompatible {
        detail: String,
    },
    /// Anything else that broke the handshake (a bad signature, a reset, a timeout).
    Failed {
        detail: String,
    },
}

/// The certificate iotscope sends the endpoint on the device's behalf (`--device-cert`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpstreamCert {
    pub sha256: String,
    pub subject: String,
    /// Where it came from: the file, or the file of `--device-certs DIR` it was chosen from.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceLeg {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// The cipher suites the device offered, listed by name. Kept as the values (four bytes
    /// each, named when shown): the leg is kept for the connection's life.
    #[serde(serialize_with = "crate::tls::serialize_names")]
    pub offered_suites: Vec<crate::tls::Named>,
    /// What was agreed, when the handshake completed.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub presented: Presented,
    /// The device's chain as it sent it; empty when it sent none.
    pub chain: crate::cert::Chain,
    pub proof: Proof,
    /// What iotscope sends upstream instead; `None` when it does not go upstream.
    pub upstream_cert: Option<UpstreamCert>,
    pub outcome: Outcome,
    /// Why iotscope did not connect to the endpoint for this device, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_upstream: Option<String>,
    /// iotscope's own check refused the endpoint's certificate (on the device's behalf).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_refused: Option<EndpointRefusal>,
}

/// Why iotscope did not accept the endpoint's certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointRefusal {
    pub reason: String,
    /// The certificate is valid but not for the name iotscope asked for.
    pub wrong_name: bool,
}

impl DeviceLeg {
    /// The device's own leaf certificate.
    pub fn leaf(&self) -> Option<&Certificate> {
        self.chain.first()
    }

    /// Is the device's certificate the one iotscope presents upstream? `None` when either is
    /// missing.
    pub fn same_as_upstream(&self) -> Option<bool> {
        Some(self.leaf()?.sha256 == self.upstream_cert.as_ref()?.sha256)
    }
}

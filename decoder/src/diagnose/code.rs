//! Finding codes as a type: a misspelt code does not compile, and the catalogue has exactly
//! one entry for each.
//!
//! The strings are the contract (`SECTION.NAME`, printed in text and JSON, matched by scripts,
//! accepted by `iotscope explain`); the enum is how the code refers to them.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! codes {
    ($($variant:ident = $name:literal,)*) => {
        /// One diagnosis code. The order is the catalogue's order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it: `SECTION.NAME`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    ConnTcpRefused = "CONN.TCP_REFUSED",
    ConnNotTls = "CONN.NOT_TLS",
    ConnSniMissing = "CONN.SNI_MISSING",
    ConnSniMismatch = "CONN.SNI_MISMATCH",
    ConnLegacyEndpoint = "CONN.LEGACY_ENDPOINT",
    ConnAlpnRequired = "CONN.ALPN_REQUIRED",
    ConnWrongProtocol = "CONN.WRONG_PROTOCOL",
    ConnProtocolVersion = "CONN.PROTOCOL_VERSION",
    ConnNoSharedCipher = "CONN.NO_SHARED_CIPHER",
    ConnHandshakeAborted = "CONN.HANDSHAKE_ABORTED",
    ConnNoAnswer = "CONN.NO_ANSWER",
    ConnDeviceStalled = "CONN.DEVICE_STALLED",
    ConnEndpointClosed = "CONN.ENDPOINT_CLOSED",
    ConnUpstreamUnreachable = "CONN.UPSTREAM_UNREACHABLE",
    ConnHttpProxyRefused = "CONN.HTTP_PROXY_REFUSED",
    ConnHttpProxyTarget = "CONN.HTTP_PROXY_TARGET",
    ConnTruncated = "CONN.TRUNCATED",
    TlsNotDecrypted = "TLS.NOT_DECRYPTED",
    AuthServerCertUntrusted = "AUTH.SERVER_CERT_UNTRUSTED",
    AuthServerNameMismatch = "AUTH.SERVER_NAME_MISMATCH",
    AuthClientCertMissing = "AUTH.CLIENT_CERT_MISSING",
    AuthClientCertRejected = "AUTH.CLIENT_CERT_REJECTED",
    AuthClientCertExpired = "AUTH.CLIENT_CERT_EXPIRED",
    AuthzConnectDenied = "AUTHZ.CONNECT_DENIED",
    AuthzPublishDenied = "AUTHZ.PUBLISH_DENIED",
    AuthzSubscribeDenied = "AUTHZ.SUBSCRIBE_DENIED",
    AuthzPolicyNotInForce = "AUTHZ.POLICY_NOT_IN_FORCE",
    AuthzPolicyWouldDecide = "AUTHZ.POLICY_WOULD_DECIDE",
    AuthzPolicyNotChecked = "AUTHZ.POLICY_NOT_CHECKED",
    MqttConnectRefused = "MQTT.CONNECT_REFUSED",
    MqttMalformed = "MQTT.MALFORMED",
    MqttAwsLimit = "MQTT.AWS_LIMIT",
    MqttSessionTakenOver = "MQTT.SESSION_TAKEN_OVER",
    MqttServerDisconnect = "MQTT.SERVER_DISCONNECT",
    SecCustomDomainTooManyNames = "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES",
    SecCustomDomainCert = "SEC.CUSTOM_DOMAIN_CERT",
    CertKeyNotAccepted = "CERT.KEY_NOT_ACCEPTED",
    CertChainOrder = "CERT.CHAIN_ORDER",
    CertKeyMismatch = "CERT.KEY_MISMATCH",
    CertCaFile = "CERT.CA_FILE",
    MitmCaNotTrusted = "MITM.CA_NOT_TRUSTED",
    MitmTlsUnsupported = "MITM.TLS_UNSUPPORTED",
    AuthDeviceCertDiffers = "AUTH.DEVICE_CERT_DIFFERS",
    AuthDeviceKeyNotHeld = "AUTH.DEVICE_KEY_NOT_HELD",
    SecDeviceAcceptsBadCert = "SEC.DEVICE_ACCEPTS_BAD_CERT",
    SecDeviceRefusesBadCert = "SEC.DEVICE_REFUSES_BAD_CERT",
    AuthCertNotRegistered = "AUTH.CERT_NOT_REGISTERED",
    AuthCertInactive = "AUTH.CERT_INACTIVE",
    AuthCertRevoked = "AUTH.CERT_REVOKED",
    AuthCertPendingTransfer = "AUTH.CERT_PENDING_TRANSFER",
    AuthCertActive = "AUTH.CERT_ACTIVE",
    AuthCaNotRegistered = "AUTH.CA_NOT_REGISTERED",
    AuthCaInactive = "AUTH.CA_INACTIVE",
    AuthzNoPolicyAttached = "AUTHZ.NO_POLICY_ATTACHED",
    AuthzNoThingAttached = "AUTHZ.NO_THING_ATTACHED",
    ConnSniOtherAccount = "CONN.SNI_OTHER_ACCOUNT",
    AccountLookupFailed = "ACCOUNT.LOOKUP_FAILED",
    LogKeepAliveTimeout = "LOG.KEEP_ALIVE_TIMEOUT",
    LogConnectionLost = "LOG.CONNECTION_LOST",
    LogAuthError = "LOG.AUTH_ERROR",
    LogThrottled = "LOG.THROTTLED",
    LogClientError = "LOG.CLIENT_ERROR",
    LogForbiddenAccess = "LOG.FORBIDDEN_ACCESS",
    LogServerDisconnect = "LOG.SERVER_DISCONNECT",
    LogTtlExpired = "LOG.TTL_EXPIRED",
    LogFailure = "LOG.FAILURE",
}

impl Code {
    /// The code for `SECTION.NAME`, in any letter case.
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a code that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a finding code (iotscope explain --list shows them)")]
pub struct UnknownCode(pub String);

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Code, UnknownCode> {
        Code::parse(s).ok_or_else(|| UnknownCode(s.to_string()))
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Tests and scripts compare codes with their printed names.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert_eq!(Code::parse(&c.as_str().to_ascii_lowercase()), Some(*c));
            let (section, name) = c.as_str().split_once('.').expect("SECTION.NAME");
            assert!(!section.is_empty() && !name.is_empty());
        }
        assert_eq!(
            "CONN.NOPE".parse::<Code>(),
            Err(UnknownCode("CONN.NOPE".into()))
        );
    }
}

//! What the endpoint's name says before any packet is sent: an AWS IoT ATS data endpoint,
//! the legacy non-ATS form, another AWS IoT endpoint type, an IP address, or some other
//! host (a custom domain or any MQTT broker).

use iotscope_decoder::diagnose::Code;
use std::net::IpAddr;

use iotscope_decoder::diagnose::names::{self, EndpointKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// `PREFIX-ats.iot.REGION.amazonaws.com`.
    AtsData,
    /// `PREFIX.iot.REGION.amazonaws.com`: the retired VeriSign-signed endpoint.
    LegacyData,
    /// An AWS IoT name that is not a data endpoint (jobs, credential provider …).
    OtherAws(&'static str),
    IpLiteral(IpAddr),
    /// Anything else: a custom domain, or a broker that is not AWS IoT.
    Other,
}

/// `[::1]` and `::1` are both addresses.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

pub fn classify(host: &str) -> NameKind {
    if let Some(ip) = ip_literal(host) {
        return NameKind::IpLiteral(ip);
    }
    if !names::is_aws_iot_host(host) {
        return NameKind::Other;
    }
    match names::endpoint_kind(host) {
        EndpointKind::Data if names::is_legacy_data_endpoint(host) => NameKind::LegacyData,
        EndpointKind::Data => NameKind::AtsData,
        other => NameKind::OtherAws(other.label()),
    }
}

impl NameKind {
    /// One line for the offline step.
    pub fn describe(&self, host: &str) -> String {
        match self {
            NameKind::AtsData => format!("{host}: an AWS IoT ATS data endpoint"),
            NameKind::LegacyData => {
                format!("{host}: a legacy (non-ATS) AWS IoT data endpoint")
            }
            NameKind::OtherAws(kind) => {
                format!("{host}: an AWS IoT {kind} endpoint, not the data endpoint")
            }
            NameKind::IpLiteral(_) => format!("{host}: an IP address; no SNI will be sent"),
            NameKind::Other => {
                format!("{host}: not an AWS IoT name (a custom domain or another broker)")
            }
        }
    }

    /// The catalogue code of a name worth a warning, with the reason.
    pub fn warning(&self, host: &str) -> Option<(Code, String)> {
        match self {
            NameKind::LegacyData => Some((
                Code::ConnLegacyEndpoint,
                format!("{host} is a legacy iot:Data endpoint (no -ats). AWS IoT Core supports only iot:Data-ATS endpoints."),
            )),
            NameKind::OtherAws(kind) => Some((
                Code::ConnSniMismatch,
                format!("{host} is an AWS IoT {kind} endpoint, not the data endpoint MQTT connects to."),
            )),
            NameKind::IpLiteral(_) => Some((
                Code::ConnSniMissing,
                format!("{host} is an IP address, so the ClientHello carries no server name (SNI): TLS sends host names only. AWS IoT Core needs the endpoint's name for custom domains and TLS policies, and its certificates name DNS names, not addresses."),
            )),
            NameKind::AtsData | NameKind::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_names() {
        assert_eq!(
            classify("abc123example-ats.iot.us-east-1.amazonaws.com"),
            NameKind::AtsData
        );
        assert_eq!(
            classify("abc123example.iot.us-east-1.amazonaws.com"),
            NameKind::LegacyData
        );
        assert_eq!(
            classify("abc123.credentials.iot.us-east-1.amazonaws.com"),
            NameKind::OtherAws("credential provider")
        );
        assert_eq!(
            classify("127.0.0.1"),
            NameKind::IpLiteral("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            classify("[::1]"),
            NameKind::IpLiteral("::1".parse().unwrap())
        );
        assert_eq!(classify("mqtt.example.com"), NameKind::Other);
        assert_eq!(classify("localhost"), NameKind::Other);
    }

    #[test]
    fn warnings_name_their_codes() {
        let legacy = "abc.iot.eu-west-1.amazonaws.com";
        assert_eq!(
            classify(legacy).warning(legacy).unwrap().0,
            Code::ConnLegacyEndpoint
        );
        assert_eq!(
            classify("10.1.2.3").warning("10.1.2.3").unwrap().0,
            Code::ConnSniMissing
        );
        let ats = "abc-ats.iot.eu-west-1.amazonaws.com";
        assert!(classify(ats).warning(ats).is_none());
    }
}

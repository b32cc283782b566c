//! What is known about the device whose requests a policy is checked against: its client
//! id, its thing, its certificate, its address, and the account and region of the endpoint.
//! Anything left `None` is unknown, and a policy that needs it cannot be decided on it.

use std::net::IpAddr;

use crate::cert::CertIdentity;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Device {
    pub client_id: String,
    pub thing: Option<Thing>,
    pub certificate: Option<CertIdentity>,
    pub source_ip: Option<IpAddr>,
    pub region: Option<String>,
    pub account: Option<String>,
    /// The endpoint name the device connected to (`iot:Domain`).
    pub domain: Option<String>,
}

/// The registry thing the connection is attached to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thing {
    pub name: String,
    /// `None`: not known (not given), which is not the same as a thing without a type.
    pub type_name: Option<String>,
    /// Attributes given; an attribute not listed is unknown.
    pub attributes: Vec<(String, String)>,
    /// Whether the certificate is attached to the thing (`iot:Connection.Thing.IsAttached`).
    pub attached: bool,
}

/// The region in an AWS IoT endpoint name: `abc-ats.iot.eu-west-1.amazonaws.com` gives
/// `eu-west-1` (`.amazonaws.com.cn` in China too).
pub fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.trim().trim_end_matches('.').to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or_default();
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let (before, region) = rest.rsplit_once('.')?;
    (before.ends_with(".iot") && !region.is_empty()).then(|| region.to_string())
}

/// The ARN partition of a region: `aws-cn` in China, `aws-us-gov` in GovCloud.
pub fn partition(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_endpoint_names() {
        assert_eq!(
            region_of_endpoint("abc123example-ats.iot.us-east-1.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            region_of_endpoint("a3ipc50fnth9og.iot.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region_of_endpoint("mqtt.example.com"), None);
        assert_eq!(partition(Some("cn-north-1")), "aws-cn");
        assert_eq!(partition(None), "aws");
    }
}

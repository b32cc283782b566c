//! AWS IoT host names: which endpoint type a name is, and whether it is the legacy form.

/// The kinds of AWS IoT endpoint, told apart by their host names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// `PREFIX-ats.iot.REGION.amazonaws.com` or legacy `PREFIX.iot.REGION.amazonaws.com`.
    Data,
    /// `PREFIX.credentials.iot.REGION.amazonaws.com`.
    CredentialProvider,
    /// `PREFIX.jobs.iot.REGION.amazonaws.com`.
    Jobs,
    /// Anything else under `iot.REGION.amazonaws.com`.
    Other,
}

impl EndpointKind {
    pub fn label(self) -> &'static str {
        match self {
            EndpointKind::Data => "data",
            EndpointKind::CredentialProvider => "credential provider",
            EndpointKind::Jobs => "jobs",
            EndpointKind::Other => "non-data",
        }
    }
}

/// Labels of a host name, without a trailing dot. Compared without case below: every
/// connection's SNI goes through here several times, so no lower-case copies are made.
fn labels(host: &str) -> Vec<&str> {
    host.trim_end_matches('.').split('.').collect()
}

/// Index of the `iot` label in `….iot.REGION.amazonaws.com[.cn]`.
fn iot_label(l: &[&str]) -> Option<usize> {
    let n = l.len();
    let tail = if l.last().is_some_and(|x| x.eq_ignore_ascii_case("cn")) {
        1
    } else {
        0
    };
    // ... iot . REGION . amazonaws . com [. cn]
    if n < 4 + tail
        || !l[n - 1 - tail].eq_ignore_ascii_case("com")
        || !l[n - 2 - tail].eq_ignore_ascii_case("amazonaws")
    {
        return None;
    }
    let i = n - 4 - tail;
    l[i].eq_ignore_ascii_case("iot").then_some(i)
}

/// A name under `iot.REGION.amazonaws.com` (or `.com.cn`).
pub fn is_aws_iot_host(host: &str) -> bool {
    iot_label(&labels(host)).is_some_and(|i| i >= 1)
}

pub fn endpoint_kind(host: &str) -> EndpointKind {
    let l = labels(host);
    match iot_label(&l) {
        Some(1) => EndpointKind::Data,
        Some(2) if l[1].eq_ignore_ascii_case("credentials") => EndpointKind::CredentialProvider,
        Some(2) if l[1].eq_ignore_ascii_case("jobs") => EndpointKind::Jobs,
        _ => EndpointKind::Other,
    }
}

/// `PREFIX.iot.REGION.amazonaws.com` without `-ats`: the retired VeriSign-signed endpoint.
pub fn is_legacy_data_endpoint(host: &str) -> bool {
    let l = labels(host);
    let ats = l[0].len() >= 4 && l[0].as_bytes()[l[0].len() - 4..].eq_ignore_ascii_case(b"-ats");
    iot_label(&l) == Some(1) && !ats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        let ats = "abc123example-ats.iot.us-east-1.amazonaws.com";
        assert!(is_aws_iot_host(ats));
        assert_eq!(endpoint_kind(ats), EndpointKind::Data);
        assert!(!is_legacy_data_endpoint(ats));
        assert!(is_legacy_data_endpoint(
            "a3ipc50fnth9og.iot.cn-north-1.amazonaws.com.cn"
        ));
        assert!(is_legacy_data_endpoint(
            "ABC123.iot.us-west-2.amazonaws.com."
        ));
        assert_eq!(
            endpoint_kind("c1.credentials.iot.us-east-1.amazonaws.com"),
            EndpointKind::CredentialProvider
        );
        assert_eq!(
            endpoint_kind("c1.jobs.iot.us-east-1.amazonaws.com"),
            EndpointKind::Jobs
        );
        assert!(!is_aws_iot_host("iot.us-east-1.amazonaws.com"));
        assert!(!is_aws_iot_host("mqtt.example.com"));
        assert!(!is_aws_iot_host("example.iot.us-east-1.amazonaws.org"));
        assert!(!is_legacy_data_endpoint("mqtt.example.com"));
        // DNS names carry no case.
        let upper = "ABC123EXAMPLE-ATS.IOT.US-EAST-1.AMAZONAWS.COM.CN";
        assert!(is_aws_iot_host(upper));
        assert_eq!(endpoint_kind(upper), EndpointKind::Data);
        assert!(!is_legacy_data_endpoint(upper));
        assert_eq!(
            endpoint_kind("C1.Jobs.IoT.us-east-1.AmazonAWS.com"),
            EndpointKind::Jobs
        );
        assert!(!is_legacy_data_endpoint(""));
    }
}

//! The guide's sections and the severities of findings: the vocabulary the catalogue and
//! the findings share.

use serde::Serialize;
use std::fmt;

/// The public address of AWS's guide "Diagnosing connectivity issues", whose sections the
/// findings follow.
pub const GUIDE_URL: &str =
    "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html";

/// The guide's sections (see [`GUIDE_URL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Connection,
    Authentication,
    Authorization,
    SecurityIdentity,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Connection => "Connection",
            Section::Authentication => "Authentication",
            Section::Authorization => "Authorization",
            Section::SecurityIdentity => "Security and identity",
        }
    }

    /// The anchor of the section in the guide.
    pub fn anchor(self) -> &'static str {
        match self {
            Section::Connection => "#troubleshooting-connect",
            Section::Authentication => "#troubleshooting-authentication",
            Section::Authorization => "#troubleshooting-authorization",
            Section::SecurityIdentity => "#troubleshooting-security-identity",
        }
    }

    /// The section's public address: [`GUIDE_URL`] with the section's anchor.
    pub fn url(self) -> &'static str {
        // Written out whole so that the address is a `&'static str` without a leak or a lock.
        match self {
            Section::Connection => "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html#troubleshooting-connect",
            Section::Authentication => "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html#troubleshooting-authentication",
            Section::Authorization => "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html#troubleshooting-authorization",
            Section::SecurityIdentity => "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-connectivity-issues.html#troubleshooting-security-identity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_urls_are_the_guide_with_the_anchor() {
        for s in [
            Section::Connection,
            Section::Authentication,
            Section::Authorization,
            Section::SecurityIdentity,
        ] {
            assert_eq!(s.url(), format!("{GUIDE_URL}{}", s.anchor()));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

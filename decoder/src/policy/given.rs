//! What the user gave iotscope to check a connection's requests against: the policies they
//! believe are attached to the device's certificate, and what the wire cannot show (the
//! thing, the account, perhaps the region).

use super::document::Policy;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    pub policies: Vec<Policy>,
    /// The thing the certificate is attached to (`--thing`).
    pub thing: Option<String>,
    /// `--region`; else the region of the endpoint name or the SNI.
    pub region: Option<String>,
    /// `--account`: the AWS account id in the resources' ARNs.
    pub account: Option<String>,
}

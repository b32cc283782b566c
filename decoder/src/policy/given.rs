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
    /// `--account-id`: the AWS account id in the resources' ARNs.
    pub account: Option<String>,
    /// The policies are the ones the account lists as attached (`--account`, `--aws`), not
    /// files the user gave with `--policy`: the findings say so.
    pub from_account: bool,
    /// The thing's type and attributes, when the account described it (`describe-thing`);
    /// `None`: not known, which is not the same as a thing without a type.
    pub thing_type: Option<String>,
    pub thing_attributes: Vec<(String, String)>,
}

impl Given {
    /// How the findings name where the policies came from.
    pub fn label(&self) -> &'static str {
        if self.from_account {
            "attached policy"
        } else {
            "--policy"
        }
    }
}

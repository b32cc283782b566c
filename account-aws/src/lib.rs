//! The online account source behind `--aws`: what the AWS account says about a connection,
//! asked with read-only AWS IoT and CloudWatch Logs calls ([`READ_ONLY_CALLS`]).
//!
//! Kept in its own crate because the AWS SDK is the heaviest part of the build: only the
//! command-line front end (and the tests) depend on it. Nothing here runs unless the front end
//! makes an [`Aws`] source, which it does only for `--aws`.

pub mod calls;
pub mod client;
pub mod failure;
pub mod source;
pub mod worker;

pub use client::AwsOptions;
pub use source::Aws;

/// Every call this crate can make, as IAM names them: the actions a user's policy must allow.
pub const READ_ONLY_CALLS: &[&str] = &[
    "iot:DescribeEndpoint",
    "iot:ListDomainConfigurations",
    "iot:DescribeDomainConfiguration",
    "iot:DescribeCertificate",
    "iot:DescribeCACertificate",
    "iot:ListAttachedPolicies",
    "iot:GetPolicy",
    "iot:ListPrincipalThings",
    "iot:DescribeThing",
    "logs:FilterLogEvents",
];

//! The online account source behind `--aws`: what the AWS account says about a connection,
//! asked with read-only AWS IoT and CloudWatch Logs calls.
//!
//! Kept in its own crate because the AWS SDK is the heaviest part of the build: only the
//! command-line front end depends on it.

pub mod client;

pub use client::AwsOptions;

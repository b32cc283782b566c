//! Building the SDK clients: the default credential chain (environment, profile, SSO,
//! credential_process, container and instance role), `--aws-profile`, `--aws-region`, and the
//! SDK's own endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_IOT`,
//! `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`), which aws-config reads itself.
//!
//! Timeouts are bounded so that a dead network cannot hang a replay: a call gives up after
//! [`OPERATION_TIMEOUT`] whatever the retries.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How long to wait for a TCP + TLS connection to the API endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt of one call may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long one call may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts per call (the first and the retries, for throttling and transient errors).
pub const MAX_ATTEMPTS: u32 = 3;

/// What the user chose on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// `--aws-profile`: a profile of `~/.aws/config` instead of `AWS_PROFILE` / `default`.
    pub profile: Option<String>,
    /// `--aws-region`: the region instead of the one the chain finds (`AWS_REGION`, profile).
    pub region: Option<String>,
}

/// The two service clients, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub iot: aws_sdk_iot::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The region the chain settled on, if any (for messages).
    pub region: Option<String>,
}

/// Loads the shared configuration. Loading makes no call: credentials are resolved at the
/// first request.
pub async fn load_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// Makes the clients from a loaded configuration.
pub fn clients(config: &SdkConfig) -> Clients {
    Clients {
        iot: aws_sdk_iot::Client::new(config),
        logs: aws_sdk_cloudwatchlogs::Client::new(config),
        region: config.region().map(|r| r.to_string()),
    }
}

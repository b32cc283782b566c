//! Turning an SDK error into what iotscope says about it: "the account does not hold it"
//! (ResourceNotFoundException) or a short, readable reason the call failed.
//!
//! The SDK's own `Display` for a failed call is "dispatch failure" or "service error", which
//! tells a user nothing; its full chain repeats itself. The reason here is the error code and
//! message for an answer from AWS, and the innermost cause for a call that never got one.

use std::error::Error;

use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};

/// How a call went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// AWS answered that the resource does not exist.
    NotFound,
    /// The call failed; the text says why.
    Failed {
        /// A short reason, e.g. "AccessDeniedException: User ... is not authorized ...".
        error: String,
        /// True when the next call would fail the same way whatever it asks (no network, no
        /// credentials, a time-out): later calls are then not attempted.
        stops_later_calls: bool,
    },
}

/// The longest reason kept; AWS messages for AccessDenied quote whole ARNs.
const MAX_REASON: usize = 300;

/// Classifies one SDK error.
pub fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("error");
            if code == "ResourceNotFoundException" {
                return Failure::NotFound;
            }
            let reason = match e.message() {
                Some(message) if !message.is_empty() => format!("{code}: {message}"),
                _ => code.to_string(),
            };
            Failure::Failed {
                error: shorten(reason),
                stops_later_calls: credentials_refused(code),
            }
        }
        SdkError::TimeoutError(_) => Failure::Failed {
            error: format!(
                "timed out: no answer within {} s",
                crate::client::OPERATION_TIMEOUT.as_secs()
            ),
            stops_later_calls: true,
        },
        SdkError::DispatchFailure(dispatch) => {
            let why = causes(err);
            let kind = if dispatch.is_timeout() {
                "timed out"
            } else if dispatch.is_io() {
                "no network"
            } else if why.contains("credential") {
                "no credentials"
            } else {
                "not sent"
            };
            Failure::Failed {
                error: shorten(format!("{kind}: {why}")),
                stops_later_calls: true,
            }
        }
        SdkError::ResponseError(_) => Failure::Failed {
            error: shorten(format!("unreadable answer: {}", causes(err))),
            stops_later_calls: false,
        },
        _ => Failure::Failed {
            error: shorten(causes(err)),
            stops_later_calls: false,
        },
    }
}

/// Error codes that mean the credentials themselves are refused, so every call will be.
fn credentials_refused(code: &str) -> bool {
    matches!(
        code,
        "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
    )
}

/// The error's chain of causes, each said once: the SDK and hyper wrap the same cause several
/// times, and add layers that say nothing ("io error", "client error (Connect)").
fn causes(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        next = e.source();
        if text.is_empty() || wrapper(&text) || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        // A cause that repeats an earlier one with more detail replaces it.
        parts.retain(|p| !text.contains(p.as_str()));
        parts.push(text);
    }
    if parts.is_empty() {
        return err.to_string();
    }
    parts.join(": ")
}

/// The SDK's and hyper's names for a layer that only wraps the real cause.
fn wrapper(text: &str) -> bool {
    matches!(
        text,
        "io error" | "other" | "timeout" | "user error" | "dispatch failure"
    ) || text.starts_with("client error (")
        || text == "the credential provider was not enabled"
}

fn shorten(mut text: String) -> String {
    if text.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

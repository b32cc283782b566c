//! What an AWSIotLogsV2 entry means, in the catalogue's codes.
//!
//! The same reading serves `iotscope logs` (each failure explained on its own) and a connection
//! whose log entries were joined to it (the entry becomes evidence for the wire's finding, or a
//! finding of its own). An entry that reports nothing wrong (a Success, a clean
//! CLIENT_INITIATED_DISCONNECT) has no code.

use super::code::Code;
use super::finding::Finding;
use crate::account::LogEntry;

/// The catalogue code that explains an entry, or `None` when the entry reports nothing wrong.
pub fn code_of(e: &LogEntry) -> Option<Code> {
    if let Some(reason) = e.reason.as_deref() {
        let code = match (reason, e.event_type.as_deref()) {
            ("AUTHORIZATION_FAILURE", Some("Connect")) => Some(Code::AuthzConnectDenied),
            ("AUTHORIZATION_FAILURE", Some("Publish-In")) => Some(Code::AuthzPublishDenied),
            ("AUTHORIZATION_FAILURE", Some("Subscribe")) => Some(Code::AuthzSubscribeDenied),
            ("DEVICE_CERTIFICATE_NOT_REGISTERED", _) => Some(Code::AuthCertNotRegistered),
            ("DEVICE_CERTIFICATE_INACTIVE", _) => Some(Code::AuthCertInactive),
            ("DEVICE_CERTIFICATE_REVOKED", _) => Some(Code::AuthCertRevoked),
            ("SNI_MISUSED", _) => Some(Code::ConnSniOtherAccount),
            _ => None,
        };
        if code.is_some() {
            return code;
        }
    }
    if let Some(d) = e.disconnect_reason.as_deref() {
        return match d {
            "CLIENT_INITIATED_DISCONNECT" | "NONE" => None,
            "DUPLICATE_CLIENTID" => Some(Code::MqttSessionTakenOver),
            "MQTT_KEEP_ALIVE_TIMEOUT" => Some(Code::LogKeepAliveTimeout),
            "CONNECTION_LOST" => Some(Code::LogConnectionLost),
            "AUTH_ERROR" => Some(Code::LogAuthError),
            "THROTTLED" => Some(Code::LogThrottled),
            "CLIENT_ERROR" => Some(Code::LogClientError),
            "FORBIDDEN_ACCESS" => Some(Code::LogForbiddenAccess),
            "SERVER_ERROR" | "SERVER_INITIATED_DISCONNECT" | "API_INITIATED_DISCONNECT" => {
                Some(Code::LogServerDisconnect)
            }
            "WEBSOCKET_TTL_EXPIRATION" | "CUSTOMAUTH_TTL_EXPIRATION" => Some(Code::LogTtlExpired),
            _ => Some(Code::LogFailure),
        };
    }
    e.status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Failure"))
        .then_some(Code::LogFailure)
}

/// The entry in one line, as AWS logged it: when, what, for whom, why.
pub fn describe(e: &LogEntry) -> String {
    let mut s = format!(
        "{} {} {}",
        e.timestamp,
        e.event_type.as_deref().unwrap_or("?"),
        e.status.as_deref().unwrap_or("")
    );
    for (label, v) in [
        ("reason", &e.reason),
        ("disconnectReason", &e.disconnect_reason),
        ("clientId", &e.client_id),
        ("topicName", &e.topic_name),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {label}={v}"));
        }
    }
    if let Some(p) = &e.principal_id {
        s.push_str(&format!(" principalId={p}"));
    }
    if let Some(d) = &e.details {
        s.push_str(&format!(" ({d})"));
    }
    s.trim_end().to_string()
}

/// The finding an entry stands for on its own, with its evidence at `t` seconds (into its
/// connection, or 0 for `iotscope logs`).
pub fn finding(e: &LogEntry, t: f64) -> Option<Finding> {
    let code = code_of(e)?;
    let who = e
        .client_id
        .as_deref()
        .map(|c| format!(" for client {c}"))
        .unwrap_or_default();
    let what = match (e.reason.as_deref(), e.disconnect_reason.as_deref()) {
        (Some(r), _) => r.to_string(),
        (None, Some(d)) => format!("disconnect reason {d}"),
        _ => e.status.clone().unwrap_or_default(),
    };
    let topic = e
        .topic_name
        .as_deref()
        .map(|t| format!(" on topic {t}"))
        .unwrap_or_default();
    let summary = format!(
        "AWS IoT logged {} {what}{who}{topic} at {}.",
        e.event_type.as_deref().unwrap_or("an event"),
        e.timestamp
    );
    Some(Finding::new(code, summary).evidence(t, format!("AWSIotLogsV2: {}", describe(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        event: &str,
        status: &str,
        reason: Option<&str>,
        disconnect: Option<&str>,
    ) -> LogEntry {
        LogEntry {
            timestamp: "2026-11-26 09:06:02.612".into(),
            event_type: Some(event.into()),
            status: Some(status.into()),
            reason: reason.map(str::to_string),
            disconnect_reason: disconnect.map(str::to_string),
            ..LogEntry::default()
        }
    }

    #[test]
    fn each_reason_has_its_code() {
        let auth = |event| {
            code_of(&entry(
                event,
                "Failure",
                Some("AUTHORIZATION_FAILURE"),
                None,
            ))
        };
        assert_eq!(auth("Connect"), Some(Code::AuthzConnectDenied));
        assert_eq!(auth("Publish-In"), Some(Code::AuthzPublishDenied));
        assert_eq!(auth("Subscribe"), Some(Code::AuthzSubscribeDenied));
        assert_eq!(auth("Publish-Out"), Some(Code::LogFailure));
        for (reason, code) in [
            ("DUPLICATE_CLIENTID", Some(Code::MqttSessionTakenOver)),
            ("MQTT_KEEP_ALIVE_TIMEOUT", Some(Code::LogKeepAliveTimeout)),
            ("CONNECTION_LOST", Some(Code::LogConnectionLost)),
            ("AUTH_ERROR", Some(Code::LogAuthError)),
            ("THROTTLED", Some(Code::LogThrottled)),
            ("CLIENT_ERROR", Some(Code::LogClientError)),
            ("FORBIDDEN_ACCESS", Some(Code::LogForbiddenAccess)),
            (
                "SERVER_INITIATED_DISCONNECT",
                Some(Code::LogServerDisconnect),
            ),
            ("API_INITIATED_DISCONNECT", Some(Code::LogServerDisconnect)),
            ("WEBSOCKET_TTL_EXPIRATION", Some(Code::LogTtlExpired)),
            ("CLIENT_INITIATED_DISCONNECT", None),
            ("SOMETHING_NEW", Some(Code::LogFailure)),
        ] {
            assert_eq!(
                code_of(&entry("Disconnect", "Success", None, Some(reason))),
                code,
                "{reason}"
            );
        }
        let authn = |reason| {
            code_of(&entry(
                "Connection.AuthNError",
                "Failure",
                Some(reason),
                None,
            ))
        };
        assert_eq!(
            authn("DEVICE_CERTIFICATE_REVOKED"),
            Some(Code::AuthCertRevoked)
        );
        assert_eq!(authn("SNI_MISUSED"), Some(Code::ConnSniOtherAccount));
        assert_eq!(code_of(&entry("Connect", "Success", None, None)), None);
        assert_eq!(
            code_of(&entry("Connect", "Failure", None, None)),
            Some(Code::LogFailure)
        );
    }
}

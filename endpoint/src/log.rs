//! The endpoint's log in the shape of AWS IoT Core's CloudWatch log (AWSIotLogsV2): one JSON
//! object per line, with the common fields (`timestamp`, `logLevel`, `traceId`, `accountId`,
//! `status`, `eventType`) and the message broker's (`protocol`, `clientId`, `principalId`,
//! `sourceIp`, `sourcePort`, `topicName`, `reason`, `details`, `disconnectReason`).
//!
//! Why this shape: a user who learns to read the endpoint's log has learnt to read AWS's, and
//! `iotscope logs` reads both. Sources: the AWS developer guide's cwl-format page ([DOC-2021]
//! `cwl-format.md`: the fields and the Disconnect example), the life-cycle events page (the
//! `disconnectReason` values), and for `Connection.AuthNError` the 2026 What's New summaries,
//! whose reason codes the reference notes mark UNVERIFIED against AWS's own field list.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use iotscope_proxy::error::Error;
use serde::Serialize;

/// One log entry. Fields AWS leaves out of an entry are `None` here and absent in the line.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub timestamp: String,
    pub log_level: &'static str,
    pub trace_id: String,
    pub account_id: String,
    pub status: &'static str,
    pub event_type: &'static str,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub source_ip: String,
    pub source_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// `"True"` only when the PUBLISH had its retain flag set (cwl-format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<&'static str>,
    /// Connection.AuthNError only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name_indication: Option<String>,
}

/// What happened, in AWS's words.
pub enum Event<'a> {
    Connect,
    ConnectFailed {
        reason: &'static str,
        details: String,
    },
    Disconnect {
        reason: &'static str,
    },
    PublishIn {
        topic: &'a str,
        retain: bool,
    },
    PublishInFailed {
        topic: &'a str,
        reason: &'static str,
        details: String,
    },
    Subscribe {
        filters: &'a str,
    },
    SubscribeFailed {
        filters: &'a str,
        reason: &'static str,
        details: String,
    },
    /// A refusal before MQTT: `reason` is one of the Connection.AuthNError codes.
    AuthnError {
        reason: &'static str,
        details: String,
        sni: Option<String>,
    },
}

/// Who an entry is about.
#[derive(Clone, Debug, Default)]
pub struct Who {
    pub client_id: Option<String>,
    pub principal_id: Option<String>,
    pub peer: Option<SocketAddr>,
    pub trace_id: String,
    pub protocol: &'static str,
}

/// The log file, or nothing (no `--log`).
pub struct Log {
    out: Option<Mutex<std::fs::File>>,
    account_id: String,
}

impl Log {
    pub fn none(account_id: &str) -> Log {
        Log {
            out: None,
            account_id: account_id.into(),
        }
    }

    /// Appends to `path` (made if missing).
    pub fn open(path: &Path, account_id: &str) -> Result<Log, Error> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("open the log {}", path.display()), e))?;
        Ok(Log {
            out: Some(Mutex::new(f)),
            account_id: account_id.into(),
        })
    }

    /// The entry for `event`, without writing it (tests read entries this way).
    pub fn entry(&self, who: &Who, event: Event<'_>) -> Entry {
        let mut e = Entry {
            timestamp: timestamp(),
            log_level: "INFO",
            trace_id: who.trace_id.clone(),
            account_id: self.account_id.clone(),
            status: "Success",
            protocol: who.protocol,
            client_id: who.client_id.clone(),
            principal_id: who.principal_id.clone(),
            source_ip: who
                .peer
                .map_or_else(String::new, |p| p.ip().to_canonical().to_string()),
            source_port: who.peer.map_or(0, |p| p.port()),
            ..Entry::default()
        };
        let fail = |e: &mut Entry, reason, details| {
            e.log_level = "ERROR";
            e.status = "Failure";
            e.reason = Some(reason);
            e.details = Some(details);
        };
        match event {
            Event::Connect => e.event_type = "Connect",
            Event::ConnectFailed { reason, details } => {
                e.event_type = "Connect";
                fail(&mut e, reason, details);
            }
            Event::Disconnect { reason } => {
                e.event_type = "Disconnect";
                e.disconnect_reason = Some(reason);
            }
            Event::PublishIn { topic, retain } => {
                e.event_type = "Publish-In";
                e.topic_name = Some(topic.into());
                e.retain = retain.then_some("True");
            }
            Event::PublishInFailed {
                topic,
                reason,
                details,
            } => {
                e.event_type = "Publish-In";
                e.topic_name = Some(topic.into());
                fail(&mut e, reason, details);
            }
            Event::Subscribe { filters } => {
                e.event_type = "Subscribe";
                e.topic_name = Some(filters.into());
            }
            Event::SubscribeFailed {
                filters,
                reason,
                details,
            } => {
                e.event_type = "Subscribe";
                e.topic_name = Some(filters.into());
                fail(&mut e, reason, details);
            }
            Event::AuthnError {
                reason,
                details,
                sni,
            } => {
                e.event_type = "Connection.AuthNError";
                e.authentication_type = Some("AWS_X509");
                e.server_name_indication = sni;
                fail(&mut e, reason, details);
            }
        }
        e
    }

    pub fn write(&self, who: &Who, event: Event<'_>) {
        let entry = self.entry(who, event);
        tracing::debug!(?entry, "endpoint log");
        let Some(out) = &self.out else { return };
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        if let Ok(mut f) = out.lock() {
            if let Err(e) = f.write_all(&line) {
                tracing::warn!("writing the endpoint log failed: {e}");
            }
        }
    }
}

/// `2017-08-10 15:37:23.476`, UTC, as in the cwl-format examples.
pub fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
    );
    now.format(&f).unwrap_or_default()
}

/// A trace id in the 8-4-4-4-12 form of the examples.
pub fn trace_id() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_the_cwl_format_fields() {
        let log = Log::none("123456789012");
        let who = Who {
            client_id: Some("dev1".into()),
            principal_id: Some("ab".repeat(32)),
            peer: Some("127.0.0.1:40000".parse().unwrap()),
            trace_id: trace_id(),
            protocol: "MQTT",
        };
        let e = log.entry(
            &who,
            Event::Disconnect {
                reason: "CLIENT_INITIATED_DISCONNECT",
            },
        );
        let v = serde_json::to_value(&e).unwrap();
        for k in [
            "timestamp",
            "logLevel",
            "traceId",
            "accountId",
            "status",
            "eventType",
            "protocol",
            "clientId",
            "principalId",
            "sourceIp",
            "sourcePort",
            "disconnectReason",
        ] {
            assert!(v.get(k).is_some(), "{k} missing from {v}");
        }
        assert_eq!(v["status"], "Success");
        assert_eq!(v["sourcePort"], 40000);
        let e = log.entry(
            &who,
            Event::PublishInFailed {
                topic: "a/b",
                reason: "AUTHORIZATION_FAILURE",
                details: "Authorization Failure".into(),
            },
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["eventType"], "Publish-In");
        assert_eq!(v["status"], "Failure");
        assert_eq!(v["logLevel"], "ERROR");
        assert_eq!(v["reason"], "AUTHORIZATION_FAILURE");
        assert_eq!(timestamp().len(), "2017-08-10 15:37:23.476".len());
    }
}

//! AWSIotLogsV2 entries: reading one from its JSON, and the instants they carry.
//!
//! AWS IoT writes one JSON object per event to the `AWSIotLogsV2` log group. The fields the
//! rules need are read into [`LogEntry`]; the entry's text is kept whole in `raw` so nothing
//! AWS adds later is lost from the output.

use iotscope_decoder::account::LogEntry;
use serde_json::Value;

/// Reads one AWSIotLogsV2 entry; `None` when the value is not one (an object with a string
/// `timestamp` and a string `eventType`). `fallback_ms` is the instant CloudWatch filed it at
/// (filter-log-events' own `timestamp`), used when the entry's timestamp does not read.
pub fn entry(value: &Value, raw: &str, fallback_ms: Option<i64>) -> Option<LogEntry> {
    let o = value.as_object()?;
    let timestamp = o.get("timestamp")?.as_str()?.to_string();
    o.get("eventType")?.as_str()?;
    let text = |key: &str| {
        o.get(key).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    Some(LogEntry {
        timestamp_ms: instant_ms(&timestamp).or(fallback_ms),
        timestamp,
        log_level: text("logLevel"),
        trace_id: text("traceId"),
        account_id: text("accountId"),
        status: text("status"),
        event_type: text("eventType"),
        protocol: text("protocol"),
        client_id: text("clientId"),
        principal_id: text("principalId"),
        source_ip: text("sourceIp"),
        source_port: o.get("sourcePort").and_then(|v| match v {
            Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }),
        reason: text("reason"),
        details: text("details"),
        topic_name: text("topicName"),
        disconnect_reason: text("disconnectReason"),
        raw: raw.trim().to_string(),
    })
}

/// Milliseconds since the Unix epoch (UTC) of an instant written as AWS IoT logs it
/// (`2026-11-26 09:06:02.612`), as RFC 3339 (`2026-11-26T09:06:02.612Z`, `+00:00` or no zone:
/// UTC), or as a plain number of milliseconds.
pub fn instant_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .unwrap_or(t);
    let (date, clock) = t.split_once([' ', 'T']).unwrap_or((t, "00:00:00"));
    let mut d = date.split('-');
    let year: i32 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    if d.next().is_some() {
        return None;
    }
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut c = hms.split(':');
    let hour: u8 = c.next()?.parse().ok()?;
    let minute: u8 = c.next()?.parse().ok()?;
    let second: u8 = c.next().unwrap_or("0").parse().ok()?;
    if c.next().is_some() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u16 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let clock = time::Time::from_hms_milli(hour, minute, second, millis).ok()?;
    let at = time::PrimitiveDateTime::new(date, clock).assume_utc();
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_in_each_form() {
        let ms = 1_795_683_962_612;
        assert_eq!(instant_ms("2026-11-26 09:06:02.612"), Some(ms));
        assert_eq!(instant_ms("2026-11-26T09:06:02.612Z"), Some(ms));
        assert_eq!(instant_ms("2026-11-26T09:06:02.612+00:00"), Some(ms));
        assert_eq!(instant_ms("1795683962612"), Some(ms));
        assert_eq!(instant_ms("2026-11-26"), Some(1_795_651_200_000));
        assert_eq!(instant_ms("2026-11-26 09:06"), Some(1_795_683_960_000));
        assert_eq!(instant_ms("yesterday"), None);
        assert_eq!(instant_ms("2026-13-01 00:00:00"), None);
    }

    #[test]
    fn an_entry_keeps_aws_names_and_its_text() {
        let raw = r#"{"timestamp":"2026-11-26 09:06:02.612","logLevel":"ERROR","status":"Failure","eventType":"Publish-In","clientId":"good-pub-other-v5","principalId":"d188","sourcePort":34654,"topicName":"devices/other/telemetry","reason":"AUTHORIZATION_FAILURE","details":"Authorization Failure"}"#;
        let e = entry(&serde_json::from_str(raw).unwrap(), raw, None).unwrap();
        assert_eq!(e.timestamp_ms, Some(1_795_683_962_612));
        assert_eq!(e.event_type.as_deref(), Some("Publish-In"));
        assert_eq!(e.reason.as_deref(), Some("AUTHORIZATION_FAILURE"));
        assert_eq!(e.source_port, Some(34654));
        assert_eq!(e.topic_name.as_deref(), Some("devices/other/telemetry"));
        assert_eq!(e.raw, raw);
        assert!(entry(&serde_json::json!({"timestamp": "x"}), "", None).is_none());
    }
}

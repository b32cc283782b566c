//! The numbers the endpoint enforces, each with where AWS documents it, and the endpoint's
//! own bounds (connections, memory per connection) that keep a local process safe.
//!
//! AWS's limits come from "AWS IoT Core endpoints and quotas"
//! (https://docs.aws.amazon.com/general/latest/gr/iot-core.html) and the MQTT page
//! (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html), as summed up in the
//! project's reference notes (§2.1, §2.2).

use std::time::Duration;

/// Client id: 128 bytes of UTF-8 (quotas page).
pub const MAX_CLIENT_ID: usize = 128;
/// Topic name: 256 bytes of UTF-8 (quotas page).
pub const MAX_TOPIC: usize = 256;
/// Forward slashes in a topic or filter: at most 7, so 8 levels (quotas page). Both topic
/// limits leave out the `$aws/rules/<rule-name>/` Basic Ingest prefix.
pub const MAX_SLASHES: usize = 7;
/// "The AWS IoT service rejects publish and connect requests larger than this size": 128 KB
/// (quotas page). The same number as the decoder's `AWS_MAX_PACKET`, so the endpoint refuses
/// exactly what iotscope's diagnosis calls over the limit.
pub const MAX_PACKET: usize = iotscope_decoder::diagnose::mqtt_rules::AWS_MAX_PACKET as usize;
/// Topic filters in one SUBSCRIBE: 8 (quotas page).
pub const MAX_FILTERS_PER_SUBSCRIBE: usize = 8;
/// Subscriptions per connection: 50; "requests … in excess … may be rejected … and the
/// connection will be closed" (quotas page).
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Keep-alive: 30–1200 s; 0 or more than 1200 means 1200, less than 30 means 30 (quotas page).
pub const KEEP_ALIVE_MIN: u16 = 30;
pub const KEEP_ALIVE_MAX: u16 = 1200;
/// Persistent sessions last 1 h after the device goes, by default (quotas page; adjustable up
/// to 7 days, which `--session-expiry` stands for).
pub const SESSION_EXPIRY_DEFAULT: Duration = Duration::from_secs(3600);
pub const SESSION_EXPIRY_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// The endpoint's own bound on messages queued to one connection (and to one offline
/// persistent session). With [`MAX_PACKET`] this bounds a connection's memory at about
/// 64 × 128 KB = 8 MB; a subscriber that does not read loses QoS 0 messages beyond it, and
/// QoS 1 messages queued for an offline session beyond it are dropped oldest first.
pub const QUEUE: usize = 64;

/// How long a device has from its TCP connect to a whole ClientHello and handshake, and from
/// the handshake to its CONNECT. Not an AWS number: a bound so that idle sockets go.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The keep-alive AWS IoT Core uses for a CONNECT's value (quotas page).
pub fn effective_keep_alive(asked: u16) -> u16 {
    match asked {
        0 => KEEP_ALIVE_MAX,
        n if n > KEEP_ALIVE_MAX => KEEP_ALIVE_MAX,
        n if n < KEEP_ALIVE_MIN => KEEP_ALIVE_MIN,
        n => n,
    }
}

/// The broker disconnects after 1.5 × the keep-alive without a packet (quotas page; MQTT 5
/// DISCONNECT 0x8D "no packet … for 1.5 times the Keep Alive time", mqtt.md).
pub fn keep_alive_deadline(keep_alive: u16) -> Duration {
    Duration::from_millis(u64::from(keep_alive) * 1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expectations written from the quotas page, not from the code above.
    #[test]
    fn keep_alive_is_raised_to_30_and_capped_at_1200() {
        assert_eq!(effective_keep_alive(0), 1200);
        assert_eq!(effective_keep_alive(5), 30);
        assert_eq!(effective_keep_alive(29), 30);
        assert_eq!(effective_keep_alive(30), 30);
        assert_eq!(effective_keep_alive(600), 600);
        assert_eq!(effective_keep_alive(1201), 1200);
        assert_eq!(keep_alive_deadline(30), Duration::from_secs(45));
        assert_eq!(MAX_PACKET, 131_072);
    }
}

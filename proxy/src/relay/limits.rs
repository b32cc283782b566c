//! The proxy's limits, gathered from the flags: how many connections, how long each may
//! stay in the handshake or silent, and how much of a copy waits for a slow decoder.

use std::time::Duration;

/// Size of one read from either leg, and so of one copy handed to the decoder.
pub const READ_BUFFER: usize = 16 * 1024;

/// Copies queued for one connection's decoder; beyond this they are dropped (and reported
/// as a gap). With [`READ_BUFFER`] this bounds a connection's queued copies to 512 KiB.
pub const DECODER_QUEUE: usize = 32;

/// How long a device whose upstream failed may keep sending before it is let go.
pub const DRAIN_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// How long closing connections get to report once the grace period is over.
pub const REPORT_AFTER_FORCE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: u32,
    /// `None`: no limit.
    pub handshake_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub grace: Duration,
}

impl Limits {
    pub fn from_args(args: &crate::config::ProxyConfig) -> Limits {
        let off_when_zero = |d: Duration| (!d.is_zero()).then_some(d);
        Limits {
            max_connections: args.max_connections,
            handshake_timeout: off_when_zero(args.handshake_timeout),
            idle_timeout: off_when_zero(args.idle_timeout),
            // A zero connect timeout would fail every connection; take it as "a moment".
            connect_timeout: args.connect_timeout.max(Duration::from_millis(1)),
            grace: args.grace,
        }
    }
}

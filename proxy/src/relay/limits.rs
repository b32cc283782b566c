//! The proxy's limits, gathered from the flags: how many connections, how long each may
//! stay in the handshake or silent, and how much of a copy waits for a slow decoder.

use std::time::Duration;

/// Size of one read from either leg, and so of one copy handed to the decoder.
pub const READ_BUFFER: usize = 16 * 1024;

/// Size of the passthrough relay's reads once a read has filled its buffer (a bulk stream).
pub const BULK_READ: usize = 64 * 1024;

/// Messages one connection's decoder queue can hold. The bound that matters is
/// [`DECODER_BYTES`]; this only has to be above what that allows (a message costs at least
/// [`MESSAGE_COST`]), for both directions and the few control messages. The queue allocates
/// its slots in blocks of 32 as they fill, so an idle connection holds one block.
pub const DECODER_QUEUE: usize = 2 * DECODER_BYTES / MESSAGE_COST + 64;

/// Bytes of copies one direction may have waiting for its decoder; beyond this passthrough
/// drops them (reported as a gap) and MITM waits. 256 KiB per direction keeps a connection's
/// bound at the 512 KiB it was when the queue was counted in messages (32 reads of 16 KiB).
pub const DECODER_BYTES: usize = 256 * 1024;

/// What a queued message costs the budget besides the bytes it holds: its slot, its
/// allocation. It also bounds the number of small messages (record headers) queued.
pub const MESSAGE_COST: usize = 128;

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
    /// `max_connections`: `--max-connections`, or what the descriptor limit allows
    /// ([`super::descriptors`]).
    pub fn from_args(args: &crate::config::ProxyConfig, max_connections: u32) -> Limits {
        let off_when_zero = |d: Duration| (!d.is_zero()).then_some(d);
        Limits {
            max_connections,
            handshake_timeout: off_when_zero(args.handshake_timeout),
            idle_timeout: off_when_zero(args.idle_timeout),
            // A zero connect timeout would fail every connection; take it as "a moment".
            connect_timeout: args.connect_timeout.max(Duration::from_millis(1)),
            grace: args.grace,
        }
    }
}

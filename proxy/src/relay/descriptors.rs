//! How many connections the process's descriptor limit leaves room for.
//!
//! A gateway holds thousands of devices; a fixed default (it was 512) either wastes what the
//! system allows or promises what it does not. At start the soft `RLIMIT_NOFILE` is raised to
//! the hard limit (an unprivileged process may always do that), and the connection limit is
//! what fits in it: each relayed connection holds two sockets (the device's and the
//! endpoint's), an endpoint's connection one, and a reserve is kept for everything else the
//! process opens (listeners, standard streams, the recording, the key log, the web view,
//! tokio's own descriptors, files read at start).

/// Descriptors kept for everything but connections.
pub const RESERVED: u64 = 64;

/// The most connections ever allowed: far beyond what memory holds (about 10 KiB each).
pub const MOST: u32 = 1_048_576;

/// The descriptor limit as found at start, and what was made of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// The soft limit in force now.
    pub soft: u64,
    /// The soft limit before it was raised, when it was.
    pub raised_from: Option<u64>,
    /// Descriptors each connection holds.
    pub per_connection: u64,
}

impl Room {
    /// Raises the soft limit to the hard one when it can, and reads what is in force. Where
    /// the limit cannot be read, 1,024 (the usual default) is assumed.
    pub fn claim(per_connection: u64) -> Room {
        let (soft, raised_from) = raise_soft_limit().unwrap_or((1024, None));
        Room {
            soft,
            raised_from,
            per_connection: per_connection.max(1),
        }
    }

    /// Connections that fit: the limit less the reserve, shared out per connection.
    pub fn connections(&self) -> u32 {
        let n = self.soft.saturating_sub(RESERVED) / self.per_connection;
        n.clamp(1, u64::from(MOST)) as u32
    }

    /// The start-up line's account of the figure.
    pub fn explain(&self) -> String {
        let raised = match self.raised_from {
            Some(old) => format!(", raised from {old}"),
            None => String::new(),
        };
        let each = match self.per_connection {
            1 => "one descriptor per connection".to_string(),
            n => format!("{n} descriptors per connection"),
        };
        format!(
            "the descriptor limit (ulimit -n) is {}{raised}; {each}, {RESERVED} kept for files",
            self.soft
        )
    }

    /// `--max-connections` as given, or what fits; and the line that says so at start.
    pub fn limit(&self, given: Option<u32>, what: &str) -> (u32, String) {
        let fits = self.connections();
        match given {
            None => (
                fits,
                format!("up to {fits} {what} at once ({})", self.explain()),
            ),
            Some(n) if n > fits => (
                n,
                format!(
                    "--max-connections {n} is more than fits: {} allows {fits}; connections beyond that will fail to open",
                    self.explain()
                ),
            ),
            Some(n) => (n, format!("up to {n} {what} at once (--max-connections)")),
        }
    }
}

/// `(soft limit now, soft limit before when raised)`.
#[cfg(unix)]
fn raise_soft_limit() -> Option<(u64, Option<u64>)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives on this frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    if lim.rlim_max == libc::RLIM_INFINITY || lim.rlim_cur >= lim.rlim_max {
        return Some((as_count(before), None));
    }
    let raised = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads the struct it is given, which lives on this frame.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Some((as_count(before), None));
    }
    Some((as_count(lim.rlim_max), Some(as_count(before))))
}

#[cfg(not(unix))]
fn raise_soft_limit() -> Option<(u64, Option<u64>)> {
    None
}

#[cfg(unix)]
fn as_count(l: libc::rlim_t) -> u64 {
    // rlim_t is u64 on Linux and the BSDs; the conversion covers any other width.
    #[allow(clippy::useless_conversion)]
    if l == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        u64::try_from(l).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sockets_per_relayed_connection_and_a_reserve() {
        let room = Room {
            soft: 20_000,
            raised_from: Some(1024),
            per_connection: 2,
        };
        assert_eq!(room.connections(), 9_968);
        let (n, line) = room.limit(None, "connections");
        assert_eq!(n, 9_968);
        assert_eq!(
            line,
            "up to 9968 connections at once (the descriptor limit (ulimit -n) is 20000, raised from 1024; 2 descriptors per connection, 64 kept for files)"
        );
        let (n, line) = room.limit(Some(30_000), "connections");
        assert_eq!(n, 30_000);
        assert!(line.contains("more than fits"), "{line}");
        assert_eq!(room.limit(Some(100), "connections").0, 100);
    }

    #[test]
    fn a_tiny_limit_still_allows_one() {
        let room = Room {
            soft: 10,
            raised_from: None,
            per_connection: 2,
        };
        assert_eq!(room.connections(), 1);
        let room = Room {
            soft: u64::MAX,
            raised_from: None,
            per_connection: 1,
        };
        assert_eq!(room.connections(), MOST);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let room = Room::claim(2);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(room.soft, as_count(lim.rlim_cur));
    }
}

//! What the `--allow` host names resolve to, kept fresh enough for endpoints whose addresses
//! change.
//!
//! AWS IoT Core's endpoint names answer with a few addresses out of a changing pool, so the
//! proxy may see other addresses than the device did a moment earlier. Every answer is kept
//! for [`RETAIN`] after it was last seen, so that addresses the device resolved earlier still
//! match, and a destination that matches nothing makes the proxy resolve again (at most once
//! per [`REFRESH_AT_MOST_EVERY`] and name, so a flood of refused connections cannot turn into a
//! flood of DNS queries). Each name keeps at most [`MAX_PER_NAME`] addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long an address stays allowed after its name last resolved to it.
pub const RETAIN: Duration = Duration::from_secs(24 * 3600);

/// A name is resolved again at most this often.
pub const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(2);

/// Addresses kept per name; the longest unseen go first.
pub const MAX_PER_NAME: usize = 256;

#[derive(Debug, Default)]
pub struct Names {
    by_host: HashMap<String, Host>,
}

#[derive(Debug, Default)]
struct Host {
    /// Each address with when the name last resolved to it.
    addrs: Vec<(IpAddr, Instant)>,
    /// When a resolution was last started.
    asked: Option<Instant>,
}

impl Names {
    /// True when `host` resolved to `ip` within [`RETAIN`].
    pub fn contains(&self, host: &str, ip: IpAddr) -> bool {
        self.by_host
            .get(host)
            .is_some_and(|h| h.addrs.iter().any(|(a, _)| *a == ip))
    }

    /// Takes in a fresh answer for `host` seen at `now`.
    pub fn update(&mut self, host: &str, fresh: &[IpAddr], now: Instant) {
        let h = self.by_host.entry(host.to_string()).or_default();
        for ip in fresh {
            let ip = ip.to_canonical();
            match h.addrs.iter_mut().find(|(a, _)| *a == ip) {
                Some(seen) => seen.1 = now,
                None => h.addrs.push((ip, now)),
            }
        }
        h.addrs
            .retain(|(_, seen)| now.saturating_duration_since(*seen) < RETAIN);
        if h.addrs.len() > MAX_PER_NAME {
            h.addrs.sort_by_key(|a| std::cmp::Reverse(a.1));
            h.addrs.truncate(MAX_PER_NAME);
        }
    }

    /// Marks `host` as being resolved at `now`; false when it was asked too recently.
    pub fn start_refresh(&mut self, host: &str, now: Instant) -> bool {
        let h = self.by_host.entry(host.to_string()).or_default();
        match h.asked {
            Some(t) if now.saturating_duration_since(t) < REFRESH_AT_MOST_EVERY => false,
            _ => {
                h.asked = Some(now);
                true
            }
        }
    }

    /// The addresses `host` is known by, most recently seen first.
    pub fn addresses(&self, host: &str) -> Vec<IpAddr> {
        let mut v: Vec<(IpAddr, Instant)> = self
            .by_host
            .get(host)
            .map(|h| h.addrs.clone())
            .unwrap_or_default();
        v.sort_by_key(|a| std::cmp::Reverse(a.1));
        v.into_iter().map(|(a, _)| a).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn answers_accumulate_and_expire() {
        let mut n = Names::default();
        let t0 = Instant::now();
        n.update("e.test", &[ip("10.0.0.1"), ip("10.0.0.2")], t0);
        n.update("e.test", &[ip("10.0.0.3")], t0 + Duration::from_secs(60));
        // Earlier answers still count: the device may have resolved the name before us.
        assert!(n.contains("e.test", ip("10.0.0.1")));
        assert!(n.contains("e.test", ip("10.0.0.3")));
        assert!(!n.contains("other.test", ip("10.0.0.1")));
        assert_eq!(n.addresses("e.test")[0], ip("10.0.0.3"));
        // A day after 10.0.0.1 and .2 were last seen, only .3 (seen again) remains.
        n.update(
            "e.test",
            &[ip("10.0.0.3")],
            t0 + RETAIN + Duration::from_secs(1),
        );
        assert_eq!(n.addresses("e.test"), [ip("10.0.0.3")]);
        // IPv4-mapped answers are stored as IPv4.
        n.update("e.test", &[ip("::ffff:10.0.0.9")], t0 + RETAIN);
        assert!(n.contains("e.test", ip("10.0.0.9")));
    }

    #[test]
    fn each_name_keeps_a_bounded_number_of_addresses() {
        let mut n = Names::default();
        let t0 = Instant::now();
        for i in 0..(MAX_PER_NAME as u32 + 10) {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            n.update("e.test", &[a], t0 + Duration::from_millis(u64::from(i)));
        }
        let kept = n.addresses("e.test");
        assert_eq!(kept.len(), MAX_PER_NAME);
        // The oldest went first.
        assert!(!n.contains("e.test", ip("10.0.0.0")));
        assert!(n.contains("e.test", ip("10.0.1.9")));
    }

    #[test]
    fn resolving_again_is_rate_limited_per_name() {
        let mut n = Names::default();
        let t0 = Instant::now();
        assert!(n.start_refresh("e.test", t0));
        assert!(!n.start_refresh("e.test", t0 + REFRESH_AT_MOST_EVERY / 2));
        assert!(n.start_refresh("f.test", t0));
        assert!(n.start_refresh("e.test", t0 + REFRESH_AT_MOST_EVERY));
    }
}

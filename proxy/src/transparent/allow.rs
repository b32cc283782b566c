//! `--allow`: the destinations a transparent proxy may dial on a device's behalf.
//!
//! A transparent proxy relays to whatever address the device was dialling, so without a list
//! it would carry anyone's traffic anywhere. Each rule names a host, an address or a network,
//! each with or without a port; a destination is permitted when any rule matches it. Host
//! rules match the addresses their name resolves to, which [`Names`] keeps.

use crate::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::names::Names;

/// What one rule matches, before the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A DNS name, matched through the addresses it resolves to.
    Host(String),
    /// An address (prefix 32 or 128) or a network. `addr` has no bits beyond `prefix`.
    Net { addr: IpAddr, prefix: u8 },
}

/// One `--allow` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowRule {
    pub target: Target,
    /// `None`: any port.
    pub port: Option<u16>,
}

impl AllowRule {
    /// Accepts `HOST`, `HOST:PORT`, `ADDR`, `ADDR:PORT` (`[V6]:PORT`), `ADDR/PREFIX` and
    /// `ADDR/PREFIX:PORT` (`[V6/PREFIX]:PORT`). A bare IPv6 address or network has no port.
    pub fn parse(s: &str) -> Result<AllowRule, Error> {
        let text = s.trim();
        let (target, port) = split_port(text)?;
        if target.is_empty() {
            return Err(Error::BadValue(format!(
                "{text:?}: the host or address is missing"
            )));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(Error::BadValue(format!(
                        "{text:?}: {p:?} is not a TCP port (1-65535)"
                    )))
                }
            },
        };
        let target = if let Some((addr, prefix)) = target.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| {
                Error::BadValue(format!(
                    "{text:?}: {addr:?} is not an IP address (before the /)"
                ))
            })?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(Error::BadValue(format!(
                        "{text:?}: {prefix:?} is not a prefix length (0-{max})"
                    )))
                }
            };
            Target::Net {
                addr: network(canonical(addr), prefix),
                prefix,
            }
        } else if let Ok(addr) = target.parse::<IpAddr>() {
            let addr = canonical(addr);
            Target::Net {
                addr,
                prefix: if addr.is_ipv4() { 32 } else { 128 },
            }
        } else if is_host_name(target) {
            Target::Host(target.trim_end_matches('.').to_ascii_lowercase())
        } else {
            return Err(Error::BadValue(format!(
                "{text:?}: {target:?} is neither a host name, an IP address nor a network (ADDR/PREFIX)"
            )));
        };
        if let Target::Net { prefix: 0, .. } = target {
            return Err(Error::BadValue(format!(
                "{text:?}: a /0 network allows every destination; say --allow-any if that is really meant"
            )));
        }
        Ok(AllowRule { target, port })
    }

    /// True when this rule matches `addr`; `names` holds what host rules resolve to.
    pub fn matches(&self, addr: SocketAddr, names: &Names) -> bool {
        if self.port.is_some_and(|p| p != addr.port()) {
            return false;
        }
        let ip = canonical(addr.ip());
        match &self.target {
            Target::Net { addr: net, prefix } => {
                net.is_ipv4() == ip.is_ipv4() && network(ip, *prefix) == *net
            }
            Target::Host(name) => names.contains(name, ip),
        }
    }

    /// The host name of a host rule.
    pub fn host(&self) -> Option<&str> {
        match &self.target {
            Target::Host(h) => Some(h),
            Target::Net { .. } => None,
        }
    }
}

impl std::fmt::Display for AllowRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = |a: &IpAddr| if a.is_ipv4() { 32 } else { 128 };
        let target = match &self.target {
            Target::Host(h) => h.clone(),
            Target::Net { addr, prefix } if *prefix == full(addr) => addr.to_string(),
            Target::Net { addr, prefix } => format!("{addr}/{prefix}"),
        };
        match self.port {
            Some(p) if target.contains(':') => write!(f, "[{target}]:{p}"),
            Some(p) => write!(f, "{target}:{p}"),
            None => f.write_str(&target),
        }
    }
}

/// Splits off `:PORT`. Brackets are needed for a port after an IPv6 address; more than one
/// colon outside brackets is an IPv6 address (or network) without a port.
fn split_port(s: &str) -> Result<(&str, Option<&str>), Error> {
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| Error::BadValue(format!("{s:?}: an IPv6 address in [ ] lacks its ]")))?;
        return match after {
            "" => Ok((inner, None)),
            p => Ok((
                inner,
                Some(p.strip_prefix(':').ok_or_else(|| {
                    Error::BadValue(format!("{s:?}: expected :PORT after the ], found {p:?}"))
                })?),
            )),
        };
    }
    match s.matches(':').count() {
        1 => Ok(s.split_once(':').map_or((s, None), |(h, p)| (h, Some(p)))),
        _ => Ok((s, None)),
    }
}

/// Letters, digits, `-`, `_` and dots, in labels of at most 63 bytes.
fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        // A name made of digits and dots alone is a mistyped address, not a host.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for: a dual-stack listener
/// sees IPv4 devices that way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// `ip` with every bit beyond `prefix` cleared (a prefix longer than the address keeps it
/// whole).
fn network(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(prefix)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(prefix)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

/// The whole `--allow` list, or `--allow-any`.
#[derive(Clone, Debug)]
pub struct Allow {
    rules: Vec<AllowRule>,
    any: bool,
}

/// Why a destination was let through.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit<'a> {
    Rule(&'a AllowRule),
    Any,
}

impl Allow {
    pub fn rules(rules: Vec<AllowRule>) -> Allow {
        Allow { rules, any: false }
    }

    pub fn any() -> Allow {
        Allow {
            rules: Vec::new(),
            any: true,
        }
    }

    /// The names the host rules need resolved, each once.
    pub fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = self.rules.iter().filter_map(AllowRule::host).collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// The first rule that permits `addr`, host rules first so that the connection can be
    /// reported under its name.
    pub fn matching<'a>(&'a self, addr: SocketAddr, names: &Names) -> Option<Permit<'a>> {
        if self.any {
            return Some(Permit::Any);
        }
        let by_name = self.rules.iter().filter(|r| r.host().is_some());
        let by_addr = self.rules.iter().filter(|r| r.host().is_none());
        by_name
            .chain(by_addr)
            .find(|r| r.matches(addr, names))
            .map(Permit::Rule)
    }

    /// True when a port-matching host rule exists that a fresher resolution might satisfy.
    pub fn could_match_by_name(&self, addr: SocketAddr) -> bool {
        self.rules
            .iter()
            .any(|r| r.host().is_some() && r.port.is_none_or(|p| p == addr.port()))
    }
}

impl std::fmt::Display for Allow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.any {
            return f.write_str("any destination (--allow-any)");
        }
        let all: Vec<String> = self.rules.iter().map(|r| r.to_string()).collect();
        f.write_str(&all.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn rule(s: &str) -> AllowRule {
        AllowRule::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forms_of_rules() {
        assert_eq!(
            rule("abc-ats.iot.us-east-1.amazonaws.com"),
            AllowRule {
                target: Target::Host("abc-ats.iot.us-east-1.amazonaws.com".into()),
                port: None
            }
        );
        assert_eq!(
            rule("Broker.Example.:8883").to_string(),
            "broker.example:8883"
        );
        assert_eq!(
            rule("10.1.2.3:443"),
            AllowRule {
                target: Target::Net {
                    addr: "10.1.2.3".parse().unwrap(),
                    prefix: 32
                },
                port: Some(443)
            }
        );
        assert_eq!(rule("10.1.2.3").to_string(), "10.1.2.3");
        assert_eq!(rule("10.231.0.0/16").to_string(), "10.231.0.0/16");
        assert_eq!(rule("10.231.0.0/16:8883").to_string(), "10.231.0.0/16:8883");
        // Bits beyond the prefix are cleared: the network that holds the address.
        assert_eq!(rule("10.231.7.9/16").to_string(), "10.231.0.0/16");
        assert_eq!(rule("fd00:231::/48").to_string(), "fd00:231::/48");
        assert_eq!(
            rule("[fd00:231::1/48]:443").to_string(),
            "[fd00:231::/48]:443"
        );
        assert_eq!(rule("fd00:231::7").to_string(), "fd00:231::7");
        assert_eq!(rule("[fd00:231::7]:8883").to_string(), "[fd00:231::7]:8883");
        // An IPv4-mapped address is the IPv4 address.
        assert_eq!(rule("::ffff:10.1.2.3").to_string(), "10.1.2.3");
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let err = |s: &str| AllowRule::parse(s).unwrap_err().to_string();
        assert!(err("").contains("missing"), "{}", err(""));
        assert!(err(":8883").contains("missing"));
        assert!(err("a.example:0").contains("not a TCP port"));
        assert!(err("a.example:65536").contains("not a TCP port"));
        assert!(err("10.0.0.0/33").contains("not a prefix length (0-32)"));
        assert!(err("fd00::/129").contains("not a prefix length (0-128)"));
        assert!(err("10.0.0/8").contains("not an IP address"));
        assert!(err("0.0.0.0/0").contains("--allow-any"));
        assert!(err("::/0").contains("--allow-any"));
        assert!(err("10.0.0.300").contains("neither a host name"));
        assert!(err("a b").contains("neither a host name"));
        assert!(err("a..b").contains("neither a host name"));
        assert!(err("[fd00::1").contains("lacks its ]"));
        assert!(err("[fd00::1]8883").contains("expected :PORT"));
    }

    #[test]
    fn addresses_networks_and_ports_match() {
        let names = Names::default();
        let net = rule("10.231.2.0/24:8883");
        assert!(net.matches(sa("10.231.2.2:8883"), &names));
        assert!(net.matches(sa("10.231.2.255:8883"), &names));
        assert!(!net.matches(sa("10.231.3.2:8883"), &names));
        assert!(!net.matches(sa("10.231.2.2:443"), &names));
        // A dual-stack listener reports IPv4 destinations as IPv4-mapped addresses.
        assert!(net.matches(sa("[::ffff:10.231.2.9]:8883"), &names));

        let any_port = rule("10.231.2.2");
        assert!(any_port.matches(sa("10.231.2.2:1"), &names));
        assert!(!any_port.matches(sa("10.231.2.3:8883"), &names));

        let v6 = rule("fd00:231:2::/64");
        assert!(v6.matches(sa("[fd00:231:2::2]:8883"), &names));
        assert!(v6.matches(sa("[fd00:231:2:0:ffff::1]:443"), &names));
        assert!(!v6.matches(sa("[fd00:231:3::2]:8883"), &names));
        assert!(!v6.matches(sa("10.231.2.2:8883"), &names));

        let odd = rule("10.0.0.0/7");
        assert!(odd.matches(sa("11.255.255.255:1"), &names));
        assert!(!odd.matches(sa("12.0.0.0:1"), &names));
    }

    #[test]
    fn host_rules_match_what_the_name_resolved_to() {
        let mut names = Names::default();
        let now = Instant::now();
        names.update(
            "endpoint.test",
            &[
                "10.231.2.2".parse().unwrap(),
                "fd00:231:2::2".parse().unwrap(),
            ],
            now,
        );
        let host = rule("endpoint.test:8883");
        assert!(host.matches(sa("10.231.2.2:8883"), &names));
        assert!(host.matches(sa("[fd00:231:2::2]:8883"), &names));
        assert!(!host.matches(sa("10.231.2.2:443"), &names));
        assert!(!host.matches(sa("10.231.2.3:8883"), &names));
        assert!(!rule("other.test").matches(sa("10.231.2.2:8883"), &names));
    }

    #[test]
    fn the_list_names_the_rule_that_matched() {
        let mut names = Names::default();
        names.update(
            "endpoint.test",
            &["10.231.2.2".parse().unwrap()],
            Instant::now(),
        );
        let allow = Allow::rules(vec![rule("10.231.2.0/24"), rule("endpoint.test:8883")]);
        // The host rule wins over the network that also holds the address.
        assert_eq!(
            allow.matching(sa("10.231.2.2:8883"), &names),
            Some(Permit::Rule(&rule("endpoint.test:8883")))
        );
        assert_eq!(
            allow.matching(sa("10.231.2.2:443"), &names),
            Some(Permit::Rule(&rule("10.231.2.0/24")))
        );
        assert!(allow.matching(sa("10.9.9.9:8883"), &names).is_none());
        assert!(allow.could_match_by_name(sa("10.9.9.9:8883")));
        assert!(!allow.could_match_by_name(sa("10.9.9.9:443")));
        assert_eq!(allow.to_string(), "10.231.2.0/24, endpoint.test:8883");

        let empty = Allow::rules(Vec::new());
        assert!(empty.matching(sa("10.231.2.2:8883"), &names).is_none());
        let any = Allow::any();
        assert_eq!(any.matching(sa("10.9.9.9:1"), &names), Some(Permit::Any));
    }

    #[test]
    fn hosts_are_listed_once() {
        let allow = Allow::rules(vec![
            rule("b.test:8883"),
            rule("a.test"),
            rule("b.test:443"),
            rule("10.0.0.1"),
        ]);
        assert_eq!(allow.hosts(), ["a.test", "b.test"]);
    }
}

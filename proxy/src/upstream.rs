//! The upstream: the one endpoint the proxy relays to, resolved afresh for every connection,
//! and the words for each way reaching it can fail.

use crate::error::Error;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

/// One device connection's way out: its endpoint's address and name for the report, and the
/// connected upstream or why there is none.
pub struct Dialled {
    /// The address the connection is for; with `--transparent` known even when refused.
    pub endpoint: Option<SocketAddr>,
    /// The endpoint's name for the report.
    pub name: Option<String>,
    pub upstream: Result<(TcpStream, SocketAddr), Error>,
    /// Whatever must live as long as the upstream connection (in transparent mode, the
    /// upstream's local port registered with the loop guard).
    pub guard: Option<Box<dyn Send + Sync>>,
}

/// AWS IoT Core's MQTT-over-TLS port.
pub const DEFAULT_PORT: u16 = 8883;

/// `--upstream HOST[:PORT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

impl Upstream {
    /// Accepts `host`, `host:port`, `1.2.3.4:port`, `[v6]:port` and a bare IPv6 address.
    pub fn parse(s: &str) -> Result<Upstream, Error> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| {
                Error::BadValue(format!("{s:?}: an IPv6 address in [ ] lacks its ]"))
            })?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| {
                        Error::BadValue(format!("{s:?}: expected :PORT after the ], found {p:?}"))
                    })?),
                ),
            }
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').unwrap_or((s, ""));
            (h, Some(p))
        } else {
            // No colon, or several: a bare IPv6 address takes the default port.
            (s, None)
        };
        if host.is_empty() {
            return Err(Error::BadValue(format!("{s:?}: the host is missing")));
        }
        if host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(Error::BadValue(format!(
                "{s:?}: {host:?} is not a host name or address"
            )));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::BadValue(format!(
                        "{s:?}: {p:?} is not a TCP port (1-65535)"
                    )))
                }
            },
        };
        Ok(Upstream {
            host: host.to_string(),
            port,
        })
    }

    /// Resolves the name and connects to the first address that accepts, within `timeout`
    /// overall. The error is a sentence for the Upstream event.
    pub async fn connect(&self, timeout: Duration) -> Result<(TcpStream, SocketAddr), Error> {
        match tokio::time::timeout(timeout, self.try_connect()).await {
            Ok(r) => r,
            Err(_) => Err(Error::Network(format!(
                "no connection to {}:{} within {:.1} s (timed out)",
                self.host,
                self.port,
                timeout.as_secs_f64()
            ))),
        }
    }

    async fn try_connect(&self) -> Result<(TcpStream, SocketAddr), Error> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| Error::Network(format!("the name {} does not resolve ({e})", self.host)))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Network(format!(
                "the name {} resolves to no address",
                self.host
            )));
        }
        let literal = self.host.parse::<std::net::IpAddr>().is_ok();
        let mut failures = Vec::new();
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok((s, addr)),
                // An address given as such needs no repeating after its own name.
                Err(e) if literal => failures.push(describe_connect_error(&e)),
                Err(e) => failures.push(format!("{addr} {}", describe_connect_error(&e))),
            }
        }
        Err(Error::Network(format!(
            "could not connect to {}: {}",
            self,
            failures.join("; ")
        )))
    }
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub(crate) fn describe_connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(s: &str) -> Result<(String, u16), Error> {
        Upstream::parse(s).map(|u| (u.host, u.port))
    }

    #[test]
    fn forms_of_host_and_port() {
        assert_eq!(up("a.example").unwrap(), ("a.example".into(), 8883));
        assert_eq!(up("a.example:443").unwrap(), ("a.example".into(), 443));
        assert_eq!(up("10.0.0.1:1883").unwrap(), ("10.0.0.1".into(), 1883));
        assert_eq!(up("[::1]:9000").unwrap(), ("::1".into(), 9000));
        assert_eq!(up("[::1]").unwrap(), ("::1".into(), 8883));
        assert_eq!(up("fe80::1").unwrap(), ("fe80::1".into(), 8883));
        assert_eq!(
            Upstream::parse("[::1]:9000").unwrap().to_string(),
            "[::1]:9000"
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert!(up("").unwrap_err().to_string().contains("host is missing"));
        assert!(up(":8883")
            .unwrap_err()
            .to_string()
            .contains("host is missing"));
        assert!(up("a.example:0")
            .unwrap_err()
            .to_string()
            .contains("not a TCP port"));
        assert!(up("a.example:99999")
            .unwrap_err()
            .to_string()
            .contains("not a TCP port"));
        assert!(up("a.example:x")
            .unwrap_err()
            .to_string()
            .contains("not a TCP port"));
        assert!(up("[::1").unwrap_err().to_string().contains("lacks its ]"));
        assert!(up("[::1]x")
            .unwrap_err()
            .to_string()
            .contains("expected :PORT"));
        assert!(up("a b")
            .unwrap_err()
            .to_string()
            .contains("not a host name"));
    }
}

//! `iotscope proxy --transparent`: on a gateway the device already routes through, a firewall
//! rule (REDIRECT or TPROXY) hands the device's connections to the proxy, and each one is
//! relayed to the address the device was really dialling. Nothing changes on the device.
//!
//! Such a proxy must never become an open relay: every original destination has to pass
//! `--allow` (or the user says `--allow-any`), and a destination that is the proxy itself, or
//! a connection that is the proxy's own upstream coming back, is refused as a loop. A refused
//! connection is still reported, with the reason as its Upstream failure.
//!
//! - [`original`]: the original destination of an accepted socket, and the loop guard.
//! - [`allow`]: the `--allow` rules.
//! - [`names`]: what the rules' host names resolve to, kept fresh.

pub mod allow;
pub mod names;
pub mod original;

use crate::error::Error;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpSocket, TcpStream};

use crate::upstream::Dialled;

pub use allow::{Allow, AllowRule, Permit};
pub use names::Names;

/// How long resolving the `--allow` names may take, at start and for each fresh look-up.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Transparent mode's settings.
#[derive(Debug, Clone, Default)]
pub struct TransparentConfig {
    /// Relay each connection to the address the device was really dialling.
    pub transparent: bool,
    /// The destinations devices may reach (`--allow`).
    pub allow: Vec<AllowRule>,
    /// Relay to any destination (`--allow-any`).
    pub allow_any: bool,
}

/// The transparent proxy's state, shared by every connection.
pub struct Transparent {
    listen: SocketAddr,
    allow: Allow,
    names: Mutex<Names>,
    own: Arc<Mutex<HashSet<u16>>>,
    /// Whether the listener takes TPROXY connections, or why not.
    pub tproxy: Result<(), Error>,
}

impl Transparent {
    /// Checks the flags and resolves the `--allow` names. `listen` is the bound listener's
    /// address. The error is a sentence for the user; the proxy does not start.
    pub async fn start(
        args: &TransparentConfig,
        listen: SocketAddr,
        tproxy: Result<(), Error>,
    ) -> Result<Transparent, Error> {
        let allow = match (args.allow_any, args.allow.is_empty()) {
            (true, _) => Allow::any(),
            (false, false) => Allow::rules(args.allow.clone()),
            (false, true) => {
                return Err(Error::Network("--transparent needs --allow with the destinations devices may reach (e.g. --allow abc123example-ats.iot.us-east-1.amazonaws.com), or --allow-any: without a list the proxy would relay redirected traffic anywhere (an open relay)".into()))
            }
        };
        let mut names = Names::default();
        let now = Instant::now();
        for host in allow.hosts() {
            let found = resolve(host).await?;
            names.start_refresh(host, now);
            names.update(host, &found, now);
        }
        Ok(Transparent {
            listen,
            allow,
            names: Mutex::new(names),
            own: Arc::new(Mutex::new(HashSet::new())),
            tproxy,
        })
    }

    /// The `--allow` list, for the start line.
    pub fn allowed(&self) -> String {
        let names = lock(&self.names);
        let mut s = self.allow.to_string();
        let resolved: Vec<String> = self
            .allow
            .hosts()
            .iter()
            .map(|h| {
                let mut a = names.addresses(h);
                a.sort_unstable();
                let a: Vec<String> = a.iter().map(|a| a.to_string()).collect();
                format!("{h} = {}", a.join(" "))
            })
            .collect();
        if !resolved.is_empty() {
            s.push_str(&format!(" ({})", resolved.join("; ")));
        }
        s
    }

    /// Finds where `device` was going, checks it, and connects there within `timeout`.
    /// Dials the original destination read off the device's socket (`original`, taken with
    /// [`original::Original::of`] before the socket was handed to anything else).
    pub async fn dial(
        &self,
        original: Result<original::Original, Error>,
        peer: SocketAddr,
        timeout: Duration,
    ) -> Dialled {
        let refused = |endpoint: Option<SocketAddr>, failure: String| Dialled {
            endpoint,
            name: endpoint.map(|a| a.ip().to_string()),
            upstream: Err(Error::Network(failure)),
            guard: None,
        };
        let original = match original {
            Ok(o) => o,
            Err(why) => return refused(None, why.to_string()),
        };
        let dest = original.dest;
        if self.is_own_upstream(peer) {
            return refused(
                Some(dest),
                format!("the connection comes from iotscope's own upstream connection ({peer}): a rule sends the proxy's outgoing traffic back to it (a loop); exclude the proxy's own traffic from the redirect (see docs/gateway.md)"),
            );
        }
        if let Some(why) = original.loop_refusal(self.listen) {
            return refused(Some(dest), why);
        }
        let Some(name) = self.permit(dest).await else {
            return refused(
                Some(dest),
                format!("original destination {dest} is not in --allow ({}); iotscope refused to relay it", self.allow),
            );
        };
        match self.connect(dest, timeout).await {
            Ok((stream, guard)) => Dialled {
                endpoint: Some(dest),
                name: Some(name),
                upstream: Ok((stream, dest)),
                guard: Some(Box::new(guard)),
            },
            Err(failure) => Dialled {
                endpoint: Some(dest),
                name: Some(name),
                upstream: Err(failure),
                guard: None,
            },
        }
    }

    /// The name to report `dest` under when `--allow` permits it. A miss that a host rule
    /// might cover resolves those names again first.
    async fn permit(&self, dest: SocketAddr) -> Option<String> {
        if let Some(name) = self.permit_now(dest) {
            return Some(name);
        }
        if !self.allow.could_match_by_name(dest) {
            return None;
        }
        let due: Vec<String> = {
            let mut names = lock(&self.names);
            let now = Instant::now();
            self.allow
                .hosts()
                .into_iter()
                .filter(|h| names.start_refresh(h, now))
                .map(String::from)
                .collect()
        };
        for host in due {
            match resolve(&host).await {
                Ok(found) => lock(&self.names).update(&host, &found, Instant::now()),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        self.permit_now(dest)
    }

    fn permit_now(&self, dest: SocketAddr) -> Option<String> {
        let names = lock(&self.names);
        self.allow.matching(dest, &names).map(|p| match p {
            Permit::Rule(r) => r.host().map_or_else(|| dest.ip().to_string(), String::from),
            Permit::Any => dest.ip().to_string(),
        })
    }

    /// True when `peer` is one of the proxy's own upstream connections: its port is one the
    /// proxy holds, and its address is this machine's.
    fn is_own_upstream(&self, peer: SocketAddr) -> bool {
        lock(&self.own).contains(&peer.port()) && original::is_local_ip(peer.ip())
    }

    /// Connects to `dest`. The local port is taken (bound) and registered before connecting,
    /// so that a rule sending this very connection back to the proxy is recognised however
    /// soon its accept comes.
    async fn connect(
        &self,
        dest: SocketAddr,
        timeout: Duration,
    ) -> Result<(TcpStream, OwnPort), Error> {
        let attempt = async {
            let socket = if dest.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(|e| Error::Network(format!("cannot open a socket for {dest}: {e}")))?;
            let any: SocketAddr = match dest.ip() {
                IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            socket.bind(any).map_err(|e| {
                Error::Network(format!("cannot take a local port to reach {dest}: {e}"))
            })?;
            let port = socket
                .local_addr()
                .map_err(|e| Error::Network(format!("cannot read the local port for {dest}: {e}")))?
                .port();
            let guard = OwnPort::register(self.own.clone(), port);
            let stream = socket.connect(dest).await.map_err(|e| {
                Error::Network(format!(
                    "could not connect to {dest}: {}",
                    crate::upstream::describe_connect_error(&e)
                ))
            })?;
            Ok((stream, guard))
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Error::Network(format!(
                "no connection to {dest} within {:.1} s (timed out)",
                timeout.as_secs_f64()
            ))),
        }
    }
}

/// A local port of one of the proxy's upstream connections, known to the loop guard until
/// dropped.
pub struct OwnPort {
    set: Arc<Mutex<HashSet<u16>>>,
    port: u16,
}

impl OwnPort {
    fn register(set: Arc<Mutex<HashSet<u16>>>, port: u16) -> OwnPort {
        lock(&set).insert(port);
        OwnPort { set, port }
    }
}

impl Drop for OwnPort {
    fn drop(&mut self) {
        lock(&self.set).remove(&self.port);
    }
}

/// A poisoned lock only means another connection's task panicked; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn resolve(host: &str) -> Result<Vec<IpAddr>, Error> {
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Err(_) => Err(Error::Network(format!(
            "--allow {host}: the name did not resolve within {} s",
            RESOLVE_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(Error::Network(format!(
            "--allow {host}: the name does not resolve ({e})"
        ))),
        Ok(Ok(addrs)) => {
            let found: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            if found.is_empty() {
                Err(Error::Network(format!(
                    "--allow {host}: the name resolves to no address"
                )))
            } else {
                Ok(found)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(allow: &[&str], any: bool) -> TransparentConfig {
        TransparentConfig {
            transparent: true,
            allow: allow.iter().map(|s| AllowRule::parse(s).unwrap()).collect(),
            allow_any: any,
        }
    }

    fn listen() -> SocketAddr {
        "127.0.0.1:8443".parse().unwrap()
    }

    #[tokio::test]
    async fn no_list_is_no_start() {
        let err = Transparent::start(&args(&[], false), listen(), Ok(()))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("--allow-any"), "{err}");
        assert!(err.to_string().contains("open relay"), "{err}");
        assert!(Transparent::start(&args(&[], true), listen(), Ok(()))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn names_resolve_at_start() {
        let t = Transparent::start(
            &args(&["localhost:8883", "10.231.0.0/16"], false),
            listen(),
            Ok(()),
        )
        .await
        .unwrap();
        assert_eq!(
            t.permit_now("127.0.0.1:8883".parse().unwrap()).as_deref(),
            Some("localhost")
        );
        assert_eq!(t.permit_now("127.0.0.1:443".parse().unwrap()), None);
        assert_eq!(
            t.permit_now("10.231.5.5:443".parse().unwrap()).as_deref(),
            Some("10.231.5.5")
        );
        assert!(
            t.allowed()
                .starts_with("localhost:8883, 10.231.0.0/16 (localhost = "),
            "{}",
            t.allowed()
        );
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_stops_the_start() {
        // .invalid never resolves (RFC 6761).
        let err = Transparent::start(&args(&["nothing.invalid"], false), listen(), Ok(()))
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("--allow nothing.invalid: the name"),
            "{err}"
        );
    }

    #[test]
    fn own_ports_are_known_while_they_live() {
        let set = Arc::new(Mutex::new(HashSet::new()));
        let a = OwnPort::register(set.clone(), 40001);
        let b = OwnPort::register(set.clone(), 40002);
        drop(a);
        assert_eq!(*lock(&set), HashSet::from([40002]));
        drop(b);
        assert!(lock(&set).is_empty());
    }
}

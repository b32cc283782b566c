//! Where a redirected device was really going, and whether that is the proxy itself.
//!
//! After an iptables/nftables REDIRECT (a DNAT to the proxy's own address), the socket's local
//! address is the proxy's, and the kernel keeps the address the device dialled in the
//! connection-tracking entry: `SO_ORIGINAL_DST` (IPv4) or `IP6T_SO_ORIGINAL_DST` (IPv6) reads
//! it back. With TPROXY nothing is translated: the socket's local address *is* the address the
//! device dialled. Either way, a destination that is one of the proxy's own addresses on its
//! listening port means the device reached the proxy directly (or the proxy's own traffic came
//! back to it): relaying that would connect the proxy to itself.

use crate::error::Error;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use socket2::SockRef;
use tokio::net::{TcpListener, TcpStream};

/// What the kernel says about an accepted connection's destination.
#[derive(Clone, Copy, Debug)]
pub struct Original {
    /// Where the device was going (IPv4-mapped addresses as IPv4).
    pub dest: SocketAddr,
    /// The accepted socket's own address.
    pub local: SocketAddr,
    /// True when connection tracking knew the connection; false when `dest` is the local
    /// address for want of an entry.
    pub tracked: bool,
}

impl Original {
    pub fn of(stream: &TcpStream) -> Result<Original, Error> {
        let local = stream.local_addr().map(canonical).map_err(|e| {
            Error::Environment(format!(
                "the connection's local address is unreadable ({e})"
            ))
        })?;
        let sock = SockRef::from(stream);
        // The family of the connection, not of the socket: a dual-stack listener's IPv4
        // connections are IPv4 to netfilter.
        let looked_up = if local.is_ipv4() {
            sock.original_dst_v4()
        } else {
            sock.original_dst_v6()
        };
        Ok(match looked_up.map(|a| a.as_socket()) {
            Ok(Some(a)) => Original {
                dest: canonical(a),
                local,
                tracked: true,
            },
            // No conntrack entry: nothing was translated, so the local address is where the
            // device was going (TPROXY), or the device dialled the proxy itself.
            Ok(None) | Err(_) => Original {
                dest: local,
                local,
                tracked: false,
            },
        })
    }

    /// Why relaying this connection would loop back into the proxy, if it would.
    pub fn loop_refusal(&self, listen: SocketAddr) -> Option<String> {
        let dest = self.dest;
        if !is_own_listener(dest, listen, is_local_ip) {
            return None;
        }
        Some(if !self.tracked || dest == self.local {
            format!(
                "the device connected to iotscope itself ({dest}), not to an endpoint redirected here; in --transparent mode only connections sent by a REDIRECT or TPROXY rule have a destination to relay to"
            )
        } else {
            format!(
                "the original destination {dest} is iotscope's own listening port on one of this machine's addresses: relaying it would connect iotscope to itself (a loop)"
            )
        })
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// True when `dest` is the listening socket itself: its port, and an address the listener
/// takes (any address of this machine for a wildcard listener, and any of its own addresses
/// in any case, since a REDIRECT there would only come back).
pub fn is_own_listener(
    dest: SocketAddr,
    listen: SocketAddr,
    is_local: impl Fn(IpAddr) -> bool,
) -> bool {
    if dest.port() != listen.port() {
        return false;
    }
    let ip = dest.ip().to_canonical();
    ip == listen.ip().to_canonical() || is_local(ip)
}

/// True when `ip` is an address of this machine (in the caller's network namespace).
///
/// Asks the routing table rather than listing interfaces: a UDP socket "connected" to a local
/// address gets that address as its source, and to anything else another one. No packet is
/// sent. The wildcard and loopback addresses count as local.
pub fn is_local_ip(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    let any: SocketAddr = match ip {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(any) else {
        return false;
    };
    // Port 9 (discard): any port would do, connecting a UDP socket only picks a route.
    if sock.connect(SocketAddr::new(ip, 9)).is_err() {
        return false;
    }
    sock.local_addr().is_ok_and(|a| a.ip() == ip)
}

/// Lets the listener accept connections a TPROXY rule hands it (IP_TRANSPARENT). Needs
/// CAP_NET_ADMIN or CAP_NET_RAW; REDIRECT works without it.
pub fn enable_tproxy(listener: &TcpListener) -> Result<(), Error> {
    let sock = SockRef::from(listener);
    let local = listener
        .local_addr()
        .map_err(|e| Error::Environment(format!("the listener's address is unreadable ({e})")))?;
    let r = if local.is_ipv4() {
        sock.set_ip_transparent_v4(true)
    } else {
        sock.set_ip_transparent_v6(true)
    };
    r.map_err(|e| {
        Error::Environment(match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "not available without CAP_NET_ADMIN (REDIRECT rules need no capability)"
                    .to_string()
            }
            _ => format!("not available ({e})"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// This test's idea of the machine: 10.231.1.1 and the loopback addresses are its own.
    fn ours(ip: IpAddr) -> bool {
        ip.is_loopback() || ip.is_unspecified() || ip == "10.231.1.1".parse::<IpAddr>().unwrap()
    }

    #[test]
    fn the_listening_address_is_a_loop() {
        let wildcard = sa("[::]:8443");
        assert!(is_own_listener(sa("10.231.1.1:8443"), wildcard, ours));
        assert!(is_own_listener(
            sa("[::ffff:10.231.1.1]:8443"),
            wildcard,
            ours
        ));
        assert!(is_own_listener(sa("127.0.0.1:8443"), wildcard, ours));
        // Remote endpoints on the proxy's port are what a redirect of port 8443 brings in.
        assert!(!is_own_listener(sa("10.231.2.2:8443"), wildcard, ours));
        // Local services on other ports may be relayed to.
        assert!(!is_own_listener(sa("10.231.1.1:8883"), wildcard, ours));

        let specific = sa("10.231.1.1:8443");
        assert!(is_own_listener(sa("10.231.1.1:8443"), specific, ours));
        assert!(is_own_listener(sa("127.0.0.1:8443"), specific, ours));
        assert!(!is_own_listener(sa("10.231.2.2:8443"), specific, ours));
        // The listener's own address counts even when the predicate does not know it.
        assert!(is_own_listener(
            sa("10.9.9.9:8443"),
            sa("10.9.9.9:8443"),
            |_| false
        ));
    }

    #[test]
    fn loopback_and_wildcard_are_local() {
        assert!(is_local_ip("127.0.0.1".parse().unwrap()));
        assert!(is_local_ip("127.3.2.1".parse().unwrap()));
        assert!(is_local_ip("::1".parse().unwrap()));
        assert!(is_local_ip("0.0.0.0".parse().unwrap()));
        assert!(is_local_ip("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_direct_connection_is_refused_as_not_redirected() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap();
        let client = TcpStream::connect(listen).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let o = Original::of(&accepted).unwrap();
        let err = o.loop_refusal(listen).unwrap();
        assert!(
            err.contains(&format!("connected to iotscope itself ({listen})")),
            "{err}"
        );
        drop(client);
    }
}

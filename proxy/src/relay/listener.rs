//! Opening the listening socket, and saying plainly why it could not be opened.
//!
//! The socket is made by hand rather than with `TcpListener::bind`, for its backlog: that
//! one listens with a queue of 128, and a gateway's devices reconnecting at once (after the
//! network or the endpoint came back) overflow it. The kernel then drops their SYNs, and each
//! dropped device waits a full second (then three) before it tries again: 600 connections
//! opened at once took 2 s through the proxy, with two of them waiting 1,021 ms each.

use crate::error::Error;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

pub const DEFAULT_PORT: u16 = 8443;

/// Connections the kernel may hold for the accept loop (it caps this at
/// `net.core.somaxconn`, 4,096 on current kernels).
pub const BACKLOG: u32 = 4096;

/// A listening socket on `addr` with a [`BACKLOG`]-long queue, address reuse on as
/// `TcpListener::bind` has it, and (for `[::]`) taking IPv4 too where the system does.
pub fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Binds `--listen`, or by default `[::]:8443`, which on Linux takes IPv4 as well
/// (dual stack); where IPv6 is missing, `0.0.0.0:8443`.
pub async fn bind(listen: Option<SocketAddr>) -> Result<TcpListener, Error> {
    if let Some(addr) = listen {
        return listen_on(addr).map_err(|e| explain(addr, &e));
    }
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, DEFAULT_PORT));
    match listen_on(v6) {
        Ok(l) => Ok(l),
        Err(e) if is_family_missing(&e) => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT));
            listen_on(v4).map_err(|e| explain(v4, &e))
        }
        Err(e) => Err(explain(v6, &e)),
    }
}

fn is_family_missing(e: &io::Error) -> bool {
    // EAFNOSUPPORT (97) and EADDRNOTAVAIL (99) on Linux when IPv6 is switched off.
    matches!(e.raw_os_error(), Some(97) | Some(99)) || e.kind() == io::ErrorKind::AddrNotAvailable
}

fn explain(addr: SocketAddr, e: &io::Error) -> Error {
    Error::Environment(match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: the port is already in use (another iotscope or a broker?); choose another with --listen"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: not permitted; ports below 1024 need root or CAP_NET_BIND_SERVICE (e.g. `sudo setcap cap_net_bind_service=+ep $(command -v iotscope)`), or use --listen with a port of 1024 or above"
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr}: no interface of this machine has that address")
        }
        _ => format!("cannot listen on {addr}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 600 devices connecting at once, before the accept loop takes any: every one is let in
    /// at once. With a queue of 128 the kernel dropped the SYNs past it, and connecting waited
    /// for the retransmission a second later; the 500 ms bound only tells the two apart.
    #[tokio::test]
    async fn many_devices_connecting_at_once_are_queued_not_dropped() {
        // The kernel caps the queue at net.core.somaxconn: ask no more of it than that.
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let count = 600.min(cap.saturating_sub(8));
        let listener = listen_on("127.0.0.1:0".parse().unwrap()).expect("listen");
        let addr = listener.local_addr().expect("address");
        let held = tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|i| {
                    std::net::TcpStream::connect_timeout(
                        &addr,
                        std::time::Duration::from_millis(500),
                    )
                    .unwrap_or_else(|e| panic!("connection {} of {count} not queued: {e}", i + 1))
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("the connecting thread");
        assert_eq!(held.len(), count);
        drop(listener);
    }
}

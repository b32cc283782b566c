//! Opening the listening socket, and saying plainly why it could not be opened.

use crate::error::Error;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

pub const DEFAULT_PORT: u16 = 8443;

/// Binds `--listen`, or by default `[::]:8443`, which on Linux takes IPv4 as well
/// (dual stack); where IPv6 is missing, `0.0.0.0:8443`.
pub async fn bind(listen: Option<SocketAddr>) -> Result<TcpListener, Error> {
    if let Some(addr) = listen {
        return TcpListener::bind(addr).await.map_err(|e| explain(addr, &e));
    }
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, DEFAULT_PORT));
    match TcpListener::bind(v6).await {
        Ok(l) => Ok(l),
        Err(e) if is_family_missing(&e) => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT));
            TcpListener::bind(v4).await.map_err(|e| explain(v4, &e))
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

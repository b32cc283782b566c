//! Where each accepted connection goes: the one `--upstream`, or with `--transparent` the
//! address the device was dialling ([`crate::transparent`]).

use crate::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::config::ProxyConfig;
use crate::transparent::{self, Transparent};
use crate::upstream::{Dialled, Upstream};

pub enum Dial {
    Upstream(Upstream),
    Transparent(Transparent),
}

impl Dial {
    /// From the flags, once `listener` is bound; the error is a sentence for the user.
    pub async fn from_args(args: &ProxyConfig, listener: &TcpListener) -> Result<Dial, Error> {
        if args.transparent.transparent {
            let listen = listener.local_addr().map_err(|e| {
                Error::Invocation(format!("the listener's address is unreadable ({e})"))
            })?;
            let tproxy = transparent::original::enable_tproxy(listener);
            return Ok(Dial::Transparent(
                Transparent::start(&args.transparent, listen, tproxy).await?,
            ));
        }
        match &args.upstream {
            Some(up) => Ok(Dial::Upstream(up.clone())),
            None => Err(Error::Invocation(
                "--upstream HOST[:PORT] is required (or --transparent)".into(),
            )),
        }
    }

    /// What the start line says after "relaying".
    pub fn describe(&self) -> String {
        match self {
            Dial::Upstream(up) => format!("to {up}"),
            Dial::Transparent(t) => format!(
                "redirected connections to their original destination; allowed: {}; TPROXY: {}",
                t.allowed(),
                match &t.tproxy {
                    Ok(()) => "ready".to_string(),
                    Err(why) => why.to_string(),
                }
            ),
        }
    }

    /// Reads what the device's socket says about its way out: with `--transparent`, the
    /// original destination. Done at accept, before the socket is wrapped in anything (MITM
    /// mode dials only after the device's ClientHello).
    pub fn route(&self, device: &TcpStream) -> Route {
        match self {
            Dial::Upstream(_) => Route(None),
            Dial::Transparent(_) => Route(Some(transparent::original::Original::of(device))),
        }
    }

    pub async fn dial(&self, device: &TcpStream, peer: SocketAddr, timeout: Duration) -> Dialled {
        self.dial_route(self.route(device), peer, timeout).await
    }

    pub async fn dial_route(&self, route: Route, peer: SocketAddr, timeout: Duration) -> Dialled {
        match self {
            Dial::Upstream(up) => {
                let upstream = up.connect(timeout).await;
                Dialled {
                    endpoint: upstream.as_ref().ok().map(|(_, a)| *a),
                    name: Some(up.host.clone()),
                    upstream,
                    guard: None,
                }
            }
            Dial::Transparent(t) => {
                let original = route.0.unwrap_or_else(|| {
                    Err(Error::Invocation(
                        "the original destination was not read".into(),
                    ))
                });
                t.dial(original, peer, timeout).await
            }
        }
    }

    /// The name a connection is for when the device sends no SNI: the upstream's host, or
    /// with `--transparent` the original destination's address.
    pub fn fallback_name(&self, route: &Route) -> Option<String> {
        match self {
            Dial::Upstream(up) => Some(up.host.clone()),
            Dial::Transparent(_) => route.destination().map(|d| d.ip().to_string()),
        }
    }
}

/// What was read off a device's socket at accept: with `--transparent`, its original
/// destination (or why it could not be read).
pub struct Route(Option<Result<transparent::original::Original, Error>>);

impl Route {
    /// No route read (the caller already used it up).
    pub fn none() -> Route {
        Route(None)
    }

    pub fn destination(&self) -> Option<SocketAddr> {
        match &self.0 {
            Some(Ok(o)) => Some(o.dest),
            _ => None,
        }
    }
}

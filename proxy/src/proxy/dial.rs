//! Where each accepted connection goes: the one `--upstream`, or with `--transparent` the
//! address the device was dialling ([`super::transparent`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::transparent::{self, OwnPort, Transparent};
use super::upstream::Upstream;
use crate::cli::ProxyArgs;

pub enum Dial {
    Upstream(Upstream),
    Transparent(Transparent),
}

/// One device connection's way out: its endpoint's address and name for the report, and the
/// connected upstream or why there is none.
pub struct Dialled {
    /// The address the connection is for; with `--transparent` known even when refused.
    pub endpoint: Option<SocketAddr>,
    /// The endpoint's name for the report.
    pub name: Option<String>,
    pub upstream: Result<(TcpStream, SocketAddr), String>,
    /// Keeps the upstream's local port known to the loop guard while it lives.
    pub guard: Option<OwnPort>,
}

impl Dial {
    /// From the flags, once `listener` is bound; the error is a sentence for the user.
    pub async fn from_args(args: &ProxyArgs, listener: &TcpListener) -> Result<Dial, String> {
        if args.transparent.transparent {
            let listen = listener
                .local_addr()
                .map_err(|e| format!("the listener's address is unreadable ({e})"))?;
            let tproxy = transparent::original::enable_tproxy(listener);
            return Ok(Dial::Transparent(
                Transparent::start(&args.transparent, listen, tproxy).await?,
            ));
        }
        match &args.upstream {
            Some(up) => Ok(Dial::Upstream(up.clone())),
            None => Err("--upstream HOST[:PORT] is required (or --transparent)".into()),
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
                    Err(why) => why.clone(),
                }
            ),
        }
    }

    pub async fn dial(&self, device: &TcpStream, peer: SocketAddr, timeout: Duration) -> Dialled {
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
            Dial::Transparent(t) => t.dial(device, peer, timeout).await,
        }
    }
}

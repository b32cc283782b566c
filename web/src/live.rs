//! `iotscope proxy --web ADDR`: the page, served while the proxy runs, updated as
//! connections open and close.
//!
//! The [`Hub`] is the proxy's [`Watch`]: decoder tasks tell it a connection opened, the
//! printer thread hands it each finished one. It keeps the rows, and the last
//! [`KEEP_DETAILS`] finished traces to draw on demand, and announces each change on a
//! broadcast channel. Nothing there waits: the state is behind a mutex held for an insert,
//! and a broadcast send never blocks. A browser that reads slowly (or not at all) falls
//! behind on its own receiver; when the channel has moved past it, it is told to reload the
//! snapshot (`resync`) instead of being waited for. So the relay never waits for a page.
//!
//! The server runs on a thread and a single-threaded runtime of its own, apart from the
//! relay's. It answers on loopback unless told otherwise; on any other address it requires
//! the token printed at start, and on loopback it checks the Host header, so that a web page
//! elsewhere cannot reach it through a name that resolves to 127.0.0.1.
//!
//! Server-sent events rather than WebSocket: the page only listens, and SSE comes with axum
//! without the `ws` feature's extra crates; browsers reconnect an event stream on their own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use tokio::sync::broadcast;

use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::facts::Facts;
use iotscope_decoder::{Identity, Timestamp, Trace};
use iotscope_report::Watch;

use crate::chart::Counts;
use crate::detail::Detail;
use crate::row::Row;

/// Finished traces kept for their diagram; older ones keep their row only.
pub const KEEP_DETAILS: usize = 2000;
/// Rows kept; the oldest go first.
pub const KEEP_ROWS: usize = 20_000;
/// Announcements a page may fall behind by before it must reload the snapshot.
pub const BROADCAST: usize = 512;

/// Where the proxy's connections are kept for the page.
pub struct Hub {
    state: Mutex<Kept>,
    tx: broadcast::Sender<Arc<str>>,
}

#[derive(Default)]
struct Kept {
    rows: BTreeMap<u64, Row>,
    done: HashMap<u64, Arc<Done>>,
    order: VecDeque<u64>,
}

struct Done {
    trace: Trace,
    findings: Vec<Finding>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (tx, _) = broadcast::channel(BROADCAST);
        Hub {
            state: Mutex::new(Kept::default()),
            tx,
        }
    }

    fn put(&self, row: Row, done: Option<Done>) {
        let msg = serde_json::to_string(&row).unwrap_or_default();
        if let Ok(mut k) = self.state.lock() {
            let id = row.id;
            k.rows.insert(id, row);
            while k.rows.len() > KEEP_ROWS {
                k.rows.pop_first();
            }
            if let Some(d) = done {
                k.done.insert(id, Arc::new(d));
                k.order.push_back(id);
                while k.order.len() > KEEP_DETAILS {
                    if let Some(old) = k.order.pop_front() {
                        k.done.remove(&old);
                    }
                }
            }
        }
        // No receiver (no page open) is not an error.
        let _ = self.tx.send(msg.into());
    }

    /// Every kept row, oldest first, as the JSON array the page loads.
    pub fn snapshot(&self) -> String {
        let k = match self.state.lock() {
            Ok(k) => k,
            Err(p) => p.into_inner(),
        };
        let rows: Vec<&Row> = k.rows.values().collect();
        serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
    }

    /// One finished connection's detail, drawn now.
    pub fn detail(&self, id: u64) -> Option<String> {
        let (row, done) = {
            let k = self.state.lock().ok()?;
            (k.rows.get(&id)?.clone(), k.done.get(&id)?.clone())
        };
        Some(Detail::new(&row, &done.trace, &done.findings).to_json())
    }

    pub fn chart(&self) -> String {
        let k = match self.state.lock() {
            Ok(k) => k,
            Err(p) => p.into_inner(),
        };
        Counts::of(
            k.rows
                .values()
                .filter(|r| !r.open)
                .map(|r| (r.unix, &r.problems[..])),
        )
        .svg()
    }
}

impl Watch for Hub {
    fn opened(&self, identity: &Identity, at: Timestamp) {
        self.put(Row::opened(identity.number, identity, at), None);
    }

    fn finished(&self, facts: &Facts, findings: &[Finding]) {
        let row = Row::finished(facts.trace.identity.number, facts, findings);
        self.put(
            row,
            Some(Done {
                trace: facts.trace.clone(),
                findings: findings.to_vec(),
            }),
        );
    }
}

/// How the server may be reached.
#[derive(Clone, Debug)]
pub struct Access {
    /// Required as `?token=` on every request (non-loopback addresses).
    pub token: Option<String>,
    /// The server's own address, for the Host check on loopback.
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Refused(String),
    #[error("cannot serve the web view on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A running web view.
pub struct Server {
    pub hub: Arc<Hub>,
    pub access: Access,
}

impl Server {
    /// Binds `addr` and serves the page from a thread of its own. A non-loopback address is
    /// refused unless `allow_remote`, and then a token is made that every request must carry.
    pub fn start(addr: SocketAddr, allow_remote: bool) -> Result<Server, StartError> {
        let remote = !addr.ip().to_canonical().is_loopback();
        if remote && !allow_remote {
            return Err(StartError::Refused(format!(
                "--web {addr} is not a loopback address: anyone who can reach it would see every connection; add --web-allow-remote to serve it there (a token is then required)"
            )));
        }
        let token = match remote {
            true => Some(new_token().ok_or_else(|| {
                StartError::Refused(
                    "--web-allow-remote needs a random token, and the system gave no randomness"
                        .into(),
                )
            })?),
            false => None,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| StartError::Bind(addr, e))?;
        let local = listener
            .local_addr()
            .map_err(|e| StartError::Bind(addr, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError::Bind(addr, e))?;
        let hub = Arc::new(Hub::new());
        let access = Access { token, addr: local };
        let app = router(hub.clone(), access.clone());
        std::thread::Builder::new()
            .name("web".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::warn!("the web view could not start: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            if let Err(e) = axum::serve(l, app).await {
                                tracing::warn!("the web view stopped: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("the web view could not start: {e}"),
                    }
                });
            })
            .map_err(|e| StartError::Bind(addr, e))?;
        Ok(Server { hub, access })
    }

    /// Served on every address of the machine (`0.0.0.0`, `::`): the URL is to be opened
    /// with the machine's name or one of its addresses instead.
    pub fn everywhere(&self) -> bool {
        self.access.addr.ip().is_unspecified()
    }

    /// Blocks until Ctrl-C (SIGINT) or SIGTERM: for a command whose own work is done while
    /// its page is still worth looking at (`iotscope demo --web`). Returns at once when the
    /// signals cannot be caught, rather than hang with no way to stop.
    pub fn wait_for_interrupt(&self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => tracing::warn!("cannot catch Ctrl-C: not waiting"),
            }
        });
    }

    /// The address to open, with the token when one is needed.
    pub fn url(&self) -> String {
        match &self.access.token {
            Some(t) => format!("http://{}/?token={t}", self.access.addr),
            None => format!("http://{}/", self.access.addr),
        }
    }
}

/// 128 random bits, hex; `None` without randomness (then the view is not served at all).
fn new_token() -> Option<String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    access: Arc<Access>,
}

pub fn router(hub: Arc<Hub>, access: Access) -> Router {
    let app = App {
        hub,
        access: Arc::new(access),
    };
    Router::new()
        .route("/", get(index))
        .route("/api/snapshot", get(snapshot))
        .route("/api/events", get(events))
        .route("/api/chart", get(chart))
        .route("/api/conn/{id}", get(conn))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// The token on a remote address; the Host header on loopback.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let access = &app.access;
    match &access.token {
        Some(token) => {
            let given = req
                .uri()
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="));
            if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
                return (
                    StatusCode::UNAUTHORIZED,
                    "the web view needs the token iotscope printed at start: ?token=…\n",
                )
                    .into_response();
            }
        }
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            if !loopback_host(host, access.addr.port()) {
                return (
                    StatusCode::FORBIDDEN,
                    "the web view answers on loopback names only\n",
                )
                    .into_response();
            }
        }
    }
    next.run(req).await
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn loopback_host(host: &str, port: u16) -> bool {
    let name = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && !host.ends_with(']') => {
            if p.parse::<u16>() != Ok(port) {
                return false;
            }
            n
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn typed(kind: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    typed(
        "text/html; charset=utf-8",
        crate::page::assemble("iotscope — live").replace(crate::page::DATA, ""),
    )
}

async fn snapshot(State(app): State<App>) -> Response {
    typed("application/json", app.hub.snapshot())
}

async fn chart(State(app): State<App>) -> Response {
    typed("image/svg+xml", app.hub.chart())
}

async fn conn(State(app): State<App>, Path(id): Path<u64>) -> Response {
    match app.hub.detail(id) {
        Some(d) => typed("application/json", d),
        None => (
            StatusCode::NOT_FOUND,
            "no finished connection by that number is kept\n",
        )
            .into_response(),
    }
}

/// Each change as a `row` event; `resync` when this page fell behind and must reload.
async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.hub.tx.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(msg) => Event::default().event("row").data(&*msg),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("resync").data("{}")
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_pass_the_host_check() {
        assert!(loopback_host("127.0.0.1:8080", 8080));
        assert!(loopback_host("localhost:8080", 8080));
        assert!(loopback_host("[::1]:8080", 8080));
        assert!(!loopback_host("evil.example:8080", 8080));
        assert!(!loopback_host("127.0.0.1:9090", 8080));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"ab", b"abc"));
    }

    #[test]
    fn a_non_loopback_address_needs_the_flag() {
        let addr: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(matches!(
            Server::start(addr, false),
            Err(StartError::Refused(_))
        ));
    }

    /// A page that reads nothing never holds up the hub: announcements past the channel's
    /// room are dropped for it, and it is told to resync.
    #[tokio::test]
    async fn a_page_that_falls_behind_is_told_to_resync() {
        let hub = Hub::new();
        let mut rx = hub.tx.subscribe();
        for n in 0..(BROADCAST as u64 + 10) {
            let id = Identity {
                number: n,
                ..Identity::default()
            };
            hub.opened(&id, Timestamp(0));
        }
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        let rows: serde_json::Value = serde_json::from_str(&hub.snapshot()).unwrap();
        assert_eq!(rows.as_array().map(Vec::len), Some(BROADCAST + 10));
    }
}

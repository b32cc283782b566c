//! Memory an idle connection holds in `iotscope proxy`, counted by the allocator (issue 23).
//!
//! The proxy runs in this process (`serve::run_with`); a counting global allocator adds up the
//! bytes allocated and not yet freed by every thread except this test's own (the clients, the
//! upstream, the test thread), which mark themselves. Per connection = (live bytes holding
//! `COUNT` idle connections − live bytes at rest) ÷ `COUNT`: the bytes the proxy asked the
//! allocator for, which is what the changes of issue 23 cut (the RSS figures of
//! `docs/performance.md` add the allocator's own rounding on top). No clock decides anything:
//! the held figure is read once every connection is open and the count has stopped moving.
//!
//! `IOTSCOPE_IDLE_REPORT=1` prints the figures (`cargo test -p iotscope-tests --test
//! idle_memory -- --nocapture`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotscope_proxy::ca::{KeyType, LocalCa};
use iotscope_proxy::config::{MitmConfig, ProxyConfig};
use iotscope_proxy::serve::{spawn_in_process, InProcess};
use iotscope_proxy::upstream::Upstream;
use iotscope_report::{Format, ReportOptions};
use iotscope_tests::pki::{ca, provider, roots, server_config, ClientAuth, Dir, Leaf};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// Live blocks by size (in 16-byte steps, the last step for all larger ones), for the
/// breakdown `IOTSCOPE_IDLE_REPORT` prints.
const STEPS: usize = 4096;
static BY_SIZE: [AtomicIsize; STEPS] = [const { AtomicIsize::new(0) }; STEPS];

fn step(size: usize) -> usize {
    (size / 16).min(STEPS - 1)
}

fn add(size: usize, blocks: isize) {
    LIVE.fetch_add(size as isize * blocks, Ordering::Relaxed);
    BLOCKS.fetch_add(blocks, Ordering::Relaxed);
    if let Some(s) = BY_SIZE.get(step(size)) {
        s.fetch_add(blocks, Ordering::Relaxed);
    }
}

thread_local! {
    /// This test's own threads: their allocations are not the proxy's.
    static OURS: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    !OURS.try_with(Cell::get).unwrap_or(true)
}

fn ours() {
    OURS.with(|o| o.set(true));
}

// SAFETY: every call is passed to the system allocator unchanged; only counts are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && counted() {
            add(l.size(), 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() && counted() {
            add(l.size(), 1);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if counted() {
            add(l.size(), -1);
        }
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() && counted() {
            add(l.size(), -1);
            add(new, 1);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Connections held at once: enough that the fixed costs of the first ones (tokio's slabs,
/// the printer) are spread thin.
const COUNT: usize = 300;

/// (live bytes, live blocks) once the count has stopped moving.
async fn settled() -> (isize, isize) {
    let mut last = (LIVE.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
    let mut same = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = (LIVE.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
        if now == last {
            same += 1;
            if same == 10 {
                break;
            }
        } else {
            same = 0;
        }
        last = now;
    }
    last
}

/// What the clients do on each connection.
#[derive(Clone)]
enum Client {
    Plain,
    /// A TLS handshake, then one byte read (the upstream's, sent once its handshake is over).
    Tls(Arc<ClientConfig>),
}

/// The upstream: holds every connection; with TLS, finishes each handshake (TLS 1.3, client
/// certificate required) and sends one byte.
async fn upstream(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) {
    let mut held = Vec::new();
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        match &tls {
            None => held.push(tokio::spawn(async move {
                let mut sock = sock;
                let mut buf = [0u8; 64];
                while sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            })),
            Some(c) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(c.clone());
                held.push(tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(sock).await else {
                        return;
                    };
                    let _ = s.write_all(b"!").await;
                    let _ = s.flush().await;
                    let mut buf = [0u8; 64];
                    while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                }));
            }
        }
    }
}

enum Held {
    #[allow(dead_code)]
    Plain(TcpStream),
    #[allow(dead_code)]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn open(proxy: SocketAddr, client: Client) -> Held {
    let sock = TcpStream::connect(proxy)
        .await
        .expect("connecting to the proxy");
    match client {
        Client::Plain => Held::Plain(sock),
        Client::Tls(c) => {
            let name = ServerName::try_from("localhost").unwrap();
            let mut s = tokio_rustls::TlsConnector::from(c)
                .connect(name, sock)
                .await
                .expect("the TLS handshake through the proxy");
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte)
                .await
                .expect("the upstream's byte through the proxy");
            Held::Tls(Box::new(s))
        }
    }
}

struct Setup {
    _dir: Dir,
    config: ProxyConfig,
    client: Client,
    upstream_tls: Option<Arc<rustls::ServerConfig>>,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Plain,
    Tls,
    Mitm,
}

fn setup(mode: Mode) -> Setup {
    let dir = Dir::new(&format!("idle-memory-{mode:?}"));
    let pki = ca("idle memory CA");
    let server = Leaf::new(&pki, "localhost", &["localhost"], false);
    let device = Leaf::new(&pki, "idle-device", &[], true);
    let upstream_tls = server_config(&server, 13, ClientAuth::Required(roots(&pki)));
    let client_config = |trust: Arc<RootCertStore>| {
        Arc::new(
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(trust)
                .with_client_auth_cert(device.chain.clone(), device.key.clone_key())
                .unwrap(),
        )
    };
    let mut mitm = MitmConfig::default();
    let (client, upstream_tls) = match mode {
        Mode::Plain => (Client::Plain, None),
        Mode::Tls => (Client::Tls(client_config(roots(&pki))), Some(upstream_tls)),
        Mode::Mitm => {
            let ca_dir = dir.join("iotscope-ca");
            let (local, _) = LocalCa::init(&ca_dir, KeyType::EcdsaP256, 30).unwrap();
            let mut trust = RootCertStore::empty();
            trust.add(CertificateDer::from(local.cert_der)).unwrap();
            mitm = MitmConfig {
                mitm: true,
                device_cert: Some(dir.put("device.pem", &device.cert_pem).into()),
                device_key: Some(dir.put("device.key", &device.key_pem).into()),
                upstream_ca: Some(dir.put("ca.pem", &pki.pem()).into()),
                ca_dir: Some(ca_dir),
                ..MitmConfig::default()
            };
            (
                Client::Tls(client_config(Arc::new(trust))),
                Some(upstream_tls),
            )
        }
    };
    let config = ProxyConfig {
        upstream: None,
        transparent: Default::default(),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        record: None,
        max_connections: Some(COUNT as u32 + 16),
        handshake_timeout: Duration::ZERO,
        idle_timeout: Duration::ZERO,
        connect_timeout: Duration::from_secs(30),
        grace: Duration::ZERO,
        mitm,
        report: ReportOptions {
            endpoint: Some("localhost".into()),
            format: Format::Json,
            ..ReportOptions::default()
        },
    };
    Setup {
        _dir: dir,
        config,
        client,
        upstream_tls,
    }
}

/// What one mode's run found, per idle connection.
struct PerConnection {
    bytes: f64,
    blocks: f64,
    /// (size step × 16, blocks per connection) of the sizes held by most connections.
    sizes: Vec<(usize, f64)>,
}

fn sizes() -> Vec<isize> {
    BY_SIZE.iter().map(|s| s.load(Ordering::Relaxed)).collect()
}

/// Measures `mode` in this process: the proxy and its peers run here.
fn measure(mode: Mode) -> PerConnection {
    ours();
    let Setup {
        _dir,
        mut config,
        client,
        upstream_tls,
    } = setup(mode);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(ours)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let up = listener.local_addr().unwrap();
    rt.spawn(upstream(listener, upstream_tls));
    config.upstream = Some(Upstream {
        host: "127.0.0.1".into(),
        port: up.port(),
    });
    let InProcess {
        thread: proxy,
        ready: ready_rx,
        stop: stop_tx,
    } = spawn_in_process(config, None).unwrap();
    let addr = ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the proxy listens");
    let found = rt.block_on(async {
        // One connection first, opened and closed: what the first one sets up for good.
        drop(open(addr, client.clone()).await);
        let (base, base_blocks) = settled().await;
        let base_sizes = sizes();
        let mut held = Vec::with_capacity(COUNT);
        for _ in 0..COUNT {
            held.push(open(addr, client.clone()).await);
        }
        let (live, blocks) = settled().await;
        let n = COUNT as f64;
        let mut by_size: Vec<(usize, f64)> = sizes()
            .iter()
            .zip(&base_sizes)
            .enumerate()
            .map(|(i, (h, b))| (i * 16, (h - b) as f64 / n))
            .filter(|(_, per)| *per >= 0.5)
            .collect();
        by_size.sort_by(|a, b| (b.0 as f64 * b.1).total_cmp(&(a.0 as f64 * a.1)));
        if std::env::var_os("IOTSCOPE_IDLE_EXIT_HELD").is_some() {
            // For a heap profiler: what is live at exit is what the held connections hold.
            report(
                mode,
                &PerConnection {
                    bytes: (live - base) as f64 / n,
                    blocks: (blocks - base_blocks) as f64 / n,
                    sizes: by_size,
                },
            );
            std::process::exit(0);
        }
        drop(held);
        PerConnection {
            bytes: (live - base) as f64 / n,
            blocks: (blocks - base_blocks) as f64 / n,
            sizes: by_size,
        }
    });
    let _ = stop_tx.send(true);
    proxy.join().unwrap().unwrap();
    drop(rt);
    found
}

/// One line the parent reads, and with `IOTSCOPE_IDLE_REPORT` the sizes that make it up.
fn report(mode: Mode, p: &PerConnection) {
    eprintln!(
        "idle-memory {mode:?}: {:.0} bytes in {:.1} blocks per connection",
        p.bytes, p.blocks
    );
    if std::env::var_os("IOTSCOPE_IDLE_REPORT").is_some() {
        for (size, per) in &p.sizes {
            eprintln!(
                "idle-memory {mode:?}:   {per:5.2} × {size}–{} bytes",
                size + 15
            );
        }
    }
}

/// Runs one mode in a process of its own (this test binary again): its counts are then the
/// proxy's alone, and the printer's JSON lines go to a pipe instead of the test's output.
fn in_child(mode: Mode) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "idle_connections_hold_little", "--nocapture"])
        .env("IOTSCOPE_IDLE_CHILD", format!("{mode:?}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the {mode:?} run failed: {err}");
    for line in err.lines().filter(|l| l.starts_with("idle-memory")) {
        eprintln!("{line}");
    }
    let prefix = format!("idle-memory {mode:?}: ");
    err.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no figure from the {mode:?} run: {err}"))
}

#[test]
fn idle_connections_hold_little() {
    if let Ok(mode) = std::env::var("IOTSCOPE_IDLE_CHILD") {
        let mode = [Mode::Plain, Mode::Tls, Mode::Mitm]
            .into_iter()
            .find(|m| format!("{m:?}") == mode)
            .expect("a mode");
        report(mode, &measure(mode));
        return;
    }
    // Bounds for this (debug) build, a little above what it holds now, so that a change that
    // brings back a per-connection cost fails here; `docs/performance.md` has the release
    // figures.
    for (mode, bound) in [
        (Mode::Plain, PLAIN_BOUND),
        (Mode::Tls, TLS_BOUND),
        (Mode::Mitm, MITM_BOUND),
    ] {
        let bytes = in_child(mode);
        assert!(
            bytes <= bound as f64,
            "{mode:?}: an idle connection holds {bytes:.0} bytes, more than {bound}"
        );
    }
}

/// Bytes one idle connection may hold, per mode (debug build: futures are larger there).
/// Plain is the aim, 3 KiB (2,496 counted now); the others sit a little above their
/// counts (3,471 and 23,103); after TLS that is above its aim of 3 KiB.
const PLAIN_BOUND: usize = 3_072;
const TLS_BOUND: usize = 3_800;
const MITM_BOUND: usize = 24_000;

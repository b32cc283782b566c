//! `iotscope proxy`: a transparent TCP relay between devices and their endpoint that decodes
//! and diagnoses every connection while it runs.
//!
//! Per accepted connection: reach the upstream (its name resolved again each time), then
//! relay both ways ([`relay`]) while a decoder task ([`live`]) prints what it learns. The
//! listener stops at SIGINT or SIGTERM; open connections get a grace period, then are closed,
//! reported, and the recording is flushed before the summary.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotscope_decoder::Identity;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::config::ProxyConfig;
use crate::dial::Dial;
use crate::error::Error;
use crate::mitm::Mitm;
use crate::relay::descriptors::Room;
use crate::relay::limits::{Limits, DECODER_QUEUE, REPORT_AFTER_FORCE};
use crate::relay::live::{LiveConfig, Printer};
use crate::relay::record::Recorder;
use crate::relay::{listener, live, passthrough, Shared};

/// Runs the proxy until SIGINT or SIGTERM. `Ok` is the exit status of the run (1 when a
/// connection had an error finding); `Err` is a proxy that could not start.
pub fn run(args: ProxyConfig) -> Result<u8, Error> {
    run_with(args, Control::default())
}

/// What a program that runs the proxy in its own process (`iotscope demo`) needs besides the
/// configuration: the address it listens on, a way to stop it, and each connection's finding
/// codes as the printer diagnoses them.
#[derive(Default)]
pub struct Control {
    /// Gets the listening address once the proxy listens.
    pub ready: Option<std::sync::mpsc::Sender<SocketAddr>>,
    /// The proxy stops as at SIGINT when this turns true.
    pub stop: Option<watch::Receiver<bool>>,
    /// Gets every finished connection's findings.
    pub findings: Option<std::sync::mpsc::Sender<crate::relay::live::Diagnosed>>,
}

/// A proxy run on a thread of its own, as the demo and the in-process tests run it.
pub struct InProcess {
    pub thread: std::thread::JoinHandle<Result<u8, Error>>,
    /// Gets the listening address once the proxy listens.
    pub ready: std::sync::mpsc::Receiver<SocketAddr>,
    /// Stops the proxy as at SIGINT when set to true.
    pub stop: watch::Sender<bool>,
}

/// Starts [`run_with`] on a thread named "proxy", `findings` getting every finished
/// connection's findings.
pub fn spawn_in_process(
    args: ProxyConfig,
    findings: Option<std::sync::mpsc::Sender<crate::relay::live::Diagnosed>>,
) -> std::io::Result<InProcess> {
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("proxy".into())
        .spawn(move || {
            run_with(
                args,
                Control {
                    ready: Some(ready_tx),
                    stop: Some(stop_rx),
                    findings,
                },
            )
        })?;
    Ok(InProcess {
        thread,
        ready,
        stop,
    })
}

/// [`run`] with [`Control`].
pub fn run_with(args: ProxyConfig, control: Control) -> Result<u8, Error> {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Err(Error::Environment(format!("cannot start the runtime: {e}")));
        }
    };
    // The accept loop runs on a worker, not on this thread: there, accepting a connection
    // and starting its task is one thread's work. On the thread that blocks, each accept took
    // a wake-up of this thread and another of a worker to run the new task, two context
    // switches per connection that a busy gateway pays in handshakes per second.
    let started = rt.block_on(async {
        match tokio::spawn(serve(args, control)).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Environment(format!("the proxy stopped: {e}"))),
        }
    });
    // Tasks still running after the grace period and the reporting time are dropped here,
    // which lets the printer and the recorder see the end of their queues.
    rt.shutdown_timeout(Duration::from_millis(100));
    match started {
        Err(e) => Err(e),
        Ok((printer, recorder)) => {
            if let Some(r) = recorder {
                if let Err(e) = r.finish() {
                    eprintln!("iotscope: finishing the recording failed: {e}");
                }
            }
            Ok(printer.finish())
        }
    }
}

async fn serve(args: ProxyConfig, control: Control) -> Result<(Printer, Option<Recorder>), Error> {
    // Each relayed connection holds two sockets: the device's and the endpoint's.
    let room = Room::claim(2);
    let (max_connections, room_line) = room.limit(args.max_connections, "connections");
    let limits = Limits::from_args(&args, max_connections);
    let mitm = Mitm::from_args(&args)?;
    let listener = listener::bind(args.listen).await?;
    let recorder = match &args.record {
        None => None,
        Some(path) => Some(Recorder::create(path)?),
    };
    let live = Arc::new(LiveConfig::new(&args.report, limits.handshake_timeout));
    let printer = Printer::start(&args.report, live.clone(), control.findings)?;
    // issue 10: the one --upstream, or --transparent's original destinations.
    let dial = Dial::from_args(&args, &listener).await?;
    let mut signals = StopSignals::new(control.stop);
    let local = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    if let (Some(tx), Ok(a)) = (&control.ready, listener.local_addr()) {
        let _ = tx.send(a);
    }
    match &mitm {
        None => eprintln!(
            "iotscope: listening on {local}, relaying {}",
            dial.describe()
        ),
        Some(m) => eprintln!(
            "iotscope: listening on {local}, intercepting TLS (MITM) with the CA {}, relaying {}",
            m.ca_description,
            dial.describe()
        ),
    }
    eprintln!("iotscope: {room_line}");

    let force = crate::relay::stop::Stop::default();
    // One for all connections, each holding a pointer to it: a copy per connection (120
    // bytes) would be kept three times in each connection's task.
    let shared = Arc::new(Shared {
        dial: Arc::new(dial),
        limits,
        live,
        out: printer.tx.clone(),
        rec: recorder.as_ref().map(|r| r.tx.clone()),
        force: force.clone(),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let numbers = AtomicU64::new(0);
    let mut refusals = Refusals::new(limits.max_connections);
    loop {
        tokio::select! {
            _ = signals.recv() => break,
            _ = sleep_until(refusals.due()) => refusals.flush(),
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        refusals.refused(peer);
                        drop(stream);
                        continue;
                    };
                    let n = numbers.fetch_add(1, Ordering::Relaxed) + 1;
                    let shared = shared.clone();
                    // Two spawns rather than one future that chooses: a task is as large as
                    // its future's largest state, and MITM's (TLS configurations, two
                    // handshakes) would then be every passthrough connection's, or
                    // passthrough's held beside MITM's. Each connection's own future is its
                    // task, holding its slot: a block around it would keep room for the
                    // arguments beside it for the connection's life.
                    match &mitm {
                        Some(m) => {
                            tokio::spawn(crate::mitm::connection(
                                stream,
                                peer,
                                n,
                                shared,
                                m.clone(),
                                slot,
                            ));
                        }
                        None => {
                            let accepted = Box::new(Accepted {
                                device: stream,
                                peer,
                                n,
                                at: crate::feed::now(),
                            });
                            tokio::spawn(connection(accepted, shared, slot));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors, usually: wait a little rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    refusals.flush();
    drop(listener);
    drop(shared);
    let open = limits.max_connections as usize - slots.available_permits();
    eprintln!(
        "iotscope: stopping; {open} connection{} still open, waiting up to {:.1} s",
        if open == 1 { "" } else { "s" },
        limits.grace.as_secs_f64()
    );
    // The grace bounds the whole exit: connections still open when the last part of it
    // begins are closed, and that last part is their time to report.
    let deadline = tokio::time::Instant::now() + limits.grace;
    let report_for = REPORT_AFTER_FORCE.min(limits.grace / 4);
    let all_done = slots.acquire_many(limits.max_connections);
    tokio::pin!(all_done);
    let finished = tokio::select! {
        r = &mut all_done => r.is_ok(),
        _ = tokio::time::sleep_until(deadline - report_for) => false,
        _ = signals.recv() => false,
    };
    if !finished {
        force.stop();
        let until = deadline.max(tokio::time::Instant::now() + MIN_REPORT);
        if tokio::time::timeout_at(until, &mut all_done).await.is_err() {
            tracing::warn!("some connections did not finish reporting in time");
        }
    }
    Ok((printer, recorder))
}

/// Connections closed at the end of the grace get at least this long to report, so that a
/// grace of 0 still prints what they saw.
const MIN_REPORT: Duration = Duration::from_millis(200);

/// How often refused connections are summed up in the log.
const REFUSALS_EVERY: Duration = Duration::from_secs(1);

/// Refused connections (over --max-connections), logged without flooding: the first of an
/// interval at once, the others counted and summed up in one line when the interval ends.
struct Refusals {
    limit: u32,
    since: Option<tokio::time::Instant>,
    first: Option<SocketAddr>,
    more: u64,
}

impl Refusals {
    fn new(limit: u32) -> Refusals {
        Refusals {
            limit,
            since: None,
            first: None,
            more: 0,
        }
    }

    fn refused(&mut self, peer: SocketAddr) {
        let now = tokio::time::Instant::now();
        match self.since {
            Some(t) if now.duration_since(t) < REFUSALS_EVERY => self.more += 1,
            _ => {
                self.flush();
                tracing::warn!(
                    "refused a connection from {peer}: {} connections are open (--max-connections)",
                    self.limit
                );
                self.since = Some(now);
                self.first = Some(peer);
            }
        }
    }

    /// When the current interval's count is due, if anything is counted.
    fn due(&self) -> Option<tokio::time::Instant> {
        self.since
            .filter(|_| self.more > 0)
            .map(|t| t + REFUSALS_EVERY)
    }

    /// Logs what was counted since the interval's first refusal, and starts afresh.
    fn flush(&mut self) {
        if self.more > 0 {
            let secs = self.since.map_or(0.0, |t| {
                t.elapsed().as_secs_f64().min(REFUSALS_EVERY.as_secs_f64())
            });
            tracing::warn!(
                "refused {} more connection{} in {secs:.1} s after the one from {}: {} connections are open (--max-connections)",
                self.more,
                if self.more == 1 { "" } else { "s" },
                self.first.map_or_else(|| "?".to_string(), |a| a.to_string()),
                self.limit
            );
        }
        self.since = None;
        self.first = None;
        self.more = 0;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made. Made before the proxy says it
/// listens: a signal that comes before the accept loop first waits must still stop the proxy
/// in order (its connections reported), not kill it. (`tokio::signal::ctrl_c` would only
/// catch SIGINT once first polled.) `iotscope endpoint` stops the same way.
pub struct StopSignals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    /// The in-process stop of [`Control::stop`].
    stop: Option<watch::Receiver<bool>>,
}

impl StopSignals {
    /// Catches the signals from now on; `stop` is an in-process stop besides them.
    pub fn new(stop: Option<watch::Receiver<bool>>) -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                stop,
            }
        }
        #[cfg(not(unix))]
        StopSignals { stop }
    }

    /// Waits for SIGINT, SIGTERM or the in-process stop.
    pub async fn recv(&mut self) {
        let stop = async {
            match &mut self.stop {
                Some(rx) => {
                    while !*rx.borrow_and_update() {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop => {}
            _ = Self::signal(
                #[cfg(unix)] &mut self.int,
                #[cfg(unix)] &mut self.term,
            ) => {}
        }
    }

    async fn signal(
        #[cfg(unix)] int: &mut Option<tokio::signal::unix::Signal>,
        #[cfg(unix)] term: &mut Option<tokio::signal::unix::Signal>,
    ) {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = one(int) => {}
                _ = one(term) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One passthrough connection: the dial, the relay and its decoder.
///
/// An `async` block, not an `async fn`: rustc keeps an `async fn`'s arguments twice in its
/// state (as passed, and moved into the body), and every connection keeps this future, at
/// its largest, for its whole life. The relay and its pumps are written the same way for
/// the same reason.
///
/// What the connection starts from comes boxed, and stays in its box while the dial
/// runs: rustc keeps an argument's room in the task's state for the task's whole life, even
/// after it was moved out (the device's socket into the relay), and a local that lives
/// across the dial is placed beside the room kept for the relay. Either way the socket, the
/// address, the number and the time were some 100 bytes of every connection's task, which
/// kept its cell above 896 bytes, the allocator's size class below 1,024. The test
/// `a_passthrough_connection_task_stays_in_its_size_class` holds it there.
#[allow(clippy::manual_async_fn)]
fn connection(
    start: Box<Accepted>,
    shared: Arc<Shared>,
    slot: OwnedSemaphorePermit,
) -> impl std::future::Future<Output = ()> {
    async move {
        // What is only needed until the relay starts lives in this block, so that the task
        // does not keep room for it while the relay runs (a local in scope at an `.await` is
        // kept, used again or not). The relay's future is made in it too, and stays where the
        // block leaves it (pinned there, awaited through the pin): moved out into a local
        // and then into the `.await`, it would be kept twice.
        let decoder: crate::feed::queue::Finished<crate::feed::Seen>;
        // Held until the relay ends: the loop guard knows the upstream's port meanwhile.
        let _own_port;
        let mut refusing = None;
        let mut relaying = std::pin::pin!({
            // Moved in here, so that its box is let go when this block ends: an argument
            // would be dropped only when the connection ends.
            let start = start;
            let _ = start.device.set_nodelay(true);
            // Boxed: the dial runs once, and inline its state would be the largest of the
            // task's, which every connection keeps for its whole life.
            let dialled = Box::pin(shared.dial.dial(
                &start.device,
                start.device_addr(),
                shared.limits.connect_timeout,
            ))
            .await;
            let device_addr = start.device_addr();
            let Accepted { device, n, at, .. } = *start;
            let identity = Identity {
                device: Some(device_addr),
                endpoint: dialled.endpoint,
                endpoint_name: dialled.name,
                source: Some("proxy".into()),
                number: n,
            };
            let (tx, rx) = crate::feed::queue::channel(DECODER_QUEUE);
            decoder = live::start(
                Box::new(identity),
                rx,
                shared.out.clone(),
                // A refused --transparent connection knows its endpoint but never reached it: unrecorded.
                shared.rec.clone().filter(|_| dialled.upstream.is_ok()),
                shared.live.clone(),
                None,
            );
            _own_port = dialled.guard;
            // The queue is new and empty: there is room.
            let _ = tx.try_send(crate::feed::Seen::open(at));
            match dialled.upstream {
                Ok((up, addr)) => {
                    tracing::info!("#{n} {device_addr} relayed to {addr}");
                    let relaying = passthrough::relay(
                        device,
                        up,
                        tx,
                        &shared.limits,
                        // A recording needs every byte of every record.
                        shared.rec.is_none(),
                        shared.force.waiter(),
                    );
                    Some(relaying)
                }
                Err(failure) => {
                    tracing::warn!("#{n} {device_addr}: {failure}");
                    refusing = Some(Box::pin(passthrough::refuse(
                        device,
                        tx,
                        failure.to_string(),
                    )));
                    None
                }
            }
        });
        if let Some(r) = relaying.as_mut().as_pin_mut() {
            r.await;
        }
        if let Some(r) = refusing {
            r.await;
        }
        decoder.wait().await;
        // Counted against --max-connections until here. Dropped, not moved into a local at
        // the start: a local would be a second copy in the task, which every connection
        // keeps at its largest.
        drop(slot);
    }
}

/// A passthrough connection just accepted.
struct Accepted {
    device: TcpStream,
    peer: SocketAddr,
    /// Its number, unique in this run.
    n: u64,
    /// When it was accepted.
    at: iotscope_decoder::Timestamp,
}

impl Accepted {
    /// The device's address, an IPv4-mapped IPv6 address shown as IPv4.
    fn device_addr(&self) -> SocketAddr {
        SocketAddr::new(self.peer.ip().to_canonical(), self.peer.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Upstream;

    /// The most a passthrough connection's future may be for its task to stay in the
    /// allocator's 896-byte class: tokio's task cell adds 104 bytes around the future (header
    /// 32, scheduler and task id 16, the stage's 8, trailer 48; `-Zprint-type-sizes`) and is
    /// aligned to 128.
    /// Every idle connection keeps that cell (`docs/performance.md`, "Idle connections,
    /// seventh round"): one byte over, and each pays 128 more.
    const LARGEST_FUTURE: usize = 896 - 104;

    #[tokio::test]
    async fn a_passthrough_connection_task_stays_in_its_size_class() {
        let args = ProxyConfig {
            upstream: Some(Upstream::parse("127.0.0.1:9").expect("an upstream")),
            transparent: Default::default(),
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            record: None,
            max_connections: Some(4),
            handshake_timeout: Duration::ZERO,
            idle_timeout: Duration::ZERO,
            connect_timeout: Duration::from_secs(1),
            grace: Duration::ZERO,
            mitm: Default::default(),
            report: Default::default(),
        };
        let listener = listener::bind(args.listen).await.expect("listen");
        let addr = listener.local_addr().expect("its address");
        let limits = Limits::from_args(&args, 4);
        let live = Arc::new(LiveConfig::new(&args.report, limits.handshake_timeout));
        let (out, _printer) = tokio::sync::mpsc::channel(1);
        let shared = Arc::new(Shared {
            dial: Arc::new(Dial::from_args(&args, &listener).await.expect("dial")),
            limits,
            live,
            out,
            rec: None,
            force: crate::relay::stop::Stop::default(),
        });
        let _device = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (stream, peer) = listener.accept().await.expect("accept");
        let slot = Arc::new(Semaphore::new(1))
            .try_acquire_owned()
            .expect("a slot");
        let start = Box::new(Accepted {
            device: stream,
            peer,
            n: 1,
            at: crate::feed::now(),
        });
        // Made, never polled: its size is its type's.
        let task = connection(start, shared, slot);
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= LARGEST_FUTURE,
            "a passthrough connection's future is {size} bytes, over {LARGEST_FUTURE}: its task \
             leaves the 896-byte size class"
        );
    }
}

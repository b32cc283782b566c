//! The passthrough relay: bytes go from one leg to the other unchanged, and a copy of each
//! read goes to the connection's decoder without ever making the relay wait.
//!
//! Each direction is a pump: read from one leg, hand a copy to the decoder (when the decoder
//! is its byte budget behind the copy is dropped and counted, and the decoder later learns the
//! count as a gap; application-data records go as their headers, so a bulk TLS stream does
//! not get there), then write to the other leg. A FIN is passed on as a shutdown
//! of the other leg's write side, so half-closed connections keep working. A reset is passed
//! on as a reset: the other leg is closed with a zero linger, so each peer sees what it
//! would have seen without the proxy.

use std::future::poll_fn;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use iotscope_decoder::{CutCause, Direction, Input, Side};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::limits::{Limits, BULK_READ, DRAIN_AFTER_FAILURE, READ_BUFFER};
use super::stop::StopWait;
use crate::feed::{now, queue, Seen, Tee};

/// How one pump ended.
#[derive(Debug)]
enum End {
    /// The reading leg closed its half; the writing leg's write side was shut down.
    Fin,
    /// Reading failed: the reading leg reset the connection (or vanished).
    ReadFailed,
    /// Writing failed: the writing leg is gone.
    WriteFailed,
}

/// An `async` block rather than an `async fn`, which would keep its arguments twice (see
/// `serve::connection`); so is [`relay`].
#[allow(clippy::manual_async_fn)]
fn pump<'a>(
    from: &'a mut OwnedReadHalf,
    to: &'a mut OwnedWriteHalf,
    tee: &'a mut Tee,
    last_activity: &'a AtomicI64,
) -> impl std::future::Future<Output = End> + 'a {
    async move {
        // The read buffer exists only while bytes flow: it is let go when the socket has
        // nothing more to give after a short read, so an idle connection (most of a device's
        // life, between keep-alives) holds none. That is what keeps thousands of idle
        // connections cheap. After a full read more is likely on its way, so a bulk stream
        // keeps its buffer, and it grows to BULK_READ: a quarter of the system calls (and of
        // the copies handed to the decoder) for the same bytes. The closes run boxed: they
        // happen once, and inline their state would widen the pump, which every connection
        // keeps twice for its whole life.
        let mut held: Option<Vec<u8>> = None;
        let mut last_full = false;
        loop {
            let want = if last_full { BULK_READ } else { READ_BUFFER };
            let buf = held.get_or_insert_with(|| Vec::with_capacity(want));
            buf.clear();
            if buf.capacity() < want {
                buf.reserve_exact(want);
            }
            let room = buf.capacity();
            let n = match read_draining(from, buf) {
                Ok(0) => {
                    let ts = now();
                    let _ = to.shutdown().await;
                    Box::pin(tee.close(ts, false)).await;
                    return End::Fin;
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !last_full {
                        held = None;
                    }
                    if let Err(e) = poll_fn(|cx| read_half_ready(from, cx)).await {
                        tracing::debug!("{:?}: waiting to read failed: {e}", tee.dir);
                        Box::pin(tee.close(now(), true)).await;
                        return End::ReadFailed;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::debug!("{:?}: reading failed: {e}", tee.dir);
                    Box::pin(tee.close(now(), true)).await;
                    return End::ReadFailed;
                }
            };
            last_full = n == room;
            let chunk = buf.get(..n).unwrap_or_default();
            let ts = now();
            last_activity.store(ts.0, Ordering::Relaxed);
            tee.data(ts, chunk);
            if let Err(e) = to.write_all(chunk).await {
                tracing::debug!("{:?}: writing failed: {e}", tee.dir);
                return End::WriteFailed;
            }
        }
    }
}

/// Ready when the socket under `from` may have bytes (or its close) to read.
///
/// Why not `readable()`: its future holds a waiter of its own (168 bytes), and a pump waits
/// here for most of an idle connection's life, so each connection kept two of them. Polling
/// the socket's readiness uses the one reader slot the socket already has; only this pump
/// reads from it, so the slot is never shared.
fn read_half_ready(from: &OwnedReadHalf, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
    let stream: &TcpStream = from.as_ref();
    stream.poll_read_ready(cx)
}

/// One read into `buf`'s spare room, without waiting. A read that returns less than the room
/// had emptied the socket's receive queue: tokio is told so (its readiness is cleared, as an
/// `EAGAIN` would clear it), so the pump's next read waits for the socket instead of asking
/// the kernel once more only to hear "nothing yet". That is one system call less per message
/// each way (a device's PUBLISH, the endpoint's PUBACK). Bytes that arrive after the read
/// raise a new readiness event, which the clearing does not touch, and a peer's close stays
/// known to tokio (it never clears a closed state).
fn read_draining(from: &OwnedReadHalf, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let stream: &TcpStream = from.as_ref();
    let fd = stream.as_raw_fd();
    let mut got = 0usize;
    let res = stream.try_io(tokio::io::Interest::READABLE, || {
        let spare = buf.spare_capacity_mut();
        let room = spare.len();
        // SAFETY: `spare` is writable memory of `room` bytes that `buf` owns; `read` writes at
        // most `room` bytes into it, and only those it reports are marked initialised below.
        let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), room) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        got = n as usize;
        if got > 0 && got < room {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(got)
    });
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && got > 0 => {}
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    // SAFETY: the kernel initialised the first `got` bytes of the spare room.
    unsafe { buf.set_len(buf.len() + got) };
    Ok(got)
}

/// Why the proxy itself ended a connection.
enum Cut {
    Idle(Duration),
    HandshakeTimeout,
    Shutdown,
}

/// Relays until both sides have closed, one resets, or the proxy cuts the connection
/// (the decoder's cut on a handshake timeout, [`queue::Receiver::cut`]; `force` at shutdown;
/// or idleness).
/// With `summarise` (nothing records the bytes), application-data records reach the decoder
/// as their headers only (see [`crate::feed::records`]).
///
/// An `async` block rather than an `async fn`, which would keep its arguments twice (see
/// `serve::connection`).
#[allow(clippy::manual_async_fn)]
pub fn relay(
    device: TcpStream,
    upstream: TcpStream,
    tx: queue::Sender<Seen>,
    limits: &Limits,
    summarise: bool,
    mut force: StopWait,
) -> impl std::future::Future<Output = ()> + '_ {
    // Done before the block: what the block captures it keeps for its whole life, so the
    // sockets are split here, not moved in whole and split inside (72 bytes less per
    // connection).
    // The device's socket had it set at accept (`serve::connection`), before the dial.
    let _ = upstream.set_nodelay(true);
    let (mut dr, mut dw) = device.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let tee = if summarise {
        Tee::summarising
    } else {
        Tee::new
    };
    let mut up = tee(tx.clone(), Direction::DeviceToEndpoint);
    let mut down = tee(tx.clone(), Direction::EndpointToDevice);
    async move {
        let last_activity = AtomicI64::new(now().0);

        let mut up_end = None;
        let mut down_end = None;
        let cut = {
            let a = pump(&mut dr, &mut uw, &mut up, &last_activity);
            let b = pump(&mut ur, &mut dw, &mut down, &last_activity);
            tokio::pin!(a, b);
            let tick_every = limits.idle_timeout.map_or(Duration::from_secs(3600), |d| {
                (d / 4).max(Duration::from_millis(50))
            });
            let mut tick = tokio::time::interval(tick_every);
            loop {
                if up_end.is_some() && down_end.is_some() {
                    break None;
                }
                if matches!(up_end, Some(End::ReadFailed | End::WriteFailed))
                    || matches!(down_end, Some(End::ReadFailed | End::WriteFailed))
                {
                    break None;
                }
                // The waits other than the pumps' are polls in `poll_fn`s (8 bytes each in the
                // relay's state; their `async fn` futures are 24): every connection keeps the
                // relay's state, inside its task's cell, whose size class is what counts (see
                // `serve::connection`).
                tokio::select! {
                    r = &mut a, if up_end.is_none() => up_end = Some(r),
                    r = &mut b, if down_end.is_none() => down_end = Some(r),
                    _ = poll_fn(|cx| tick.poll_tick(cx)), if limits.idle_timeout.is_some() => {
                        let idle = now().0.saturating_sub(last_activity.load(Ordering::Relaxed));
                        if let Some(limit) = limits.idle_timeout {
                            if idle >= limit.as_nanos() as i64 {
                                break Some(Cut::Idle(limit));
                            }
                        }
                    }
                    _ = poll_fn(|cx| tx.poll_cut_asked(cx)) => break Some(Cut::HandshakeTimeout),
                    _ = poll_fn(|cx| force.poll_stopped(cx)) => break Some(Cut::Shutdown),
                }
            }
        };

        // The end runs boxed: it happens once, and inline its state (the cut, the sockets put
        // back together, the closes' futures) would widen the relay, which every connection
        // keeps for its whole life.
        Box::pin(async move {
            match cut {
                Some(Cut::Idle(limit)) => {
                    let text = format!(
                        "iotscope closed the connection after {:.0} s without a byte either way (--idle-timeout)",
                        limit.as_secs_f64()
                    );
                    let _ = tx.send(cut_input(CutCause::IdleTimeout, text)).await;
                }
                Some(Cut::Shutdown) => {
                    let text = "iotscope closed the connection: the proxy was stopping".to_string();
                    let _ = tx.send(cut_input(CutCause::Stopping, text)).await;
                }
                // The decoder, which set the deadline, has said why.
                Some(Cut::HandshakeTimeout) => {}
                None => {}
            }

            // Which side, if any, reset the connection: the other side is reset in turn.
            let reset_by = match (&up_end, &down_end) {
                (Some(End::ReadFailed), _) => Some(Side::Device),
                (_, Some(End::ReadFailed)) => Some(Side::Endpoint),
                (Some(End::WriteFailed), _) => Some(Side::Endpoint),
                (_, Some(End::WriteFailed)) => Some(Side::Device),
                _ => None,
            };
            let device = dr.reunite(dw).ok();
            let upstream = ur.reunite(uw).ok();
            match reset_by {
                Some(Side::Device) => {
                    // When a write to the device failed, its read has not said so yet: say
                    // it here.
                    up.close(now(), true).await;
                    if let Some(u) = &upstream {
                        let _ = u.set_zero_linger();
                    }
                }
                Some(Side::Endpoint) => {
                    down.close(now(), true).await;
                    if let Some(d) = &device {
                        let _ = d.set_zero_linger();
                    }
                }
                None => {}
            }
            drop(device);
            drop(upstream);
        })
        .await;
    }
}

/// iotscope's own close of a connection, for the decoder.
pub(crate) fn cut_input(cause: CutCause, text: String) -> Seen {
    Seen::input(
        Direction::EndpointToDevice,
        now(),
        Input::Cut(cause, text.into()),
    )
}

/// The upstream could not be reached: the decoder hears why, and the device's side is
/// closed with a FIN, not a reset. The proxy has already accepted the device's connection,
/// so a refusal can no longer be shown to it; a FIN lets the device's TLS stack report an
/// orderly close during the handshake rather than a network fault, and reading on for a
/// moment (the ClientHello, usually) keeps the kernel from answering unread bytes with a
/// reset, and shows the decoder what the device wanted.
pub async fn refuse(mut device: TcpStream, tx: queue::Sender<Seen>, failure: String) {
    let _ = tx.send(Seen::upstream_failed(now(), failure)).await;
    let _ = device.shutdown().await;
    let mut proxy_side = Tee::new(tx.clone(), Direction::EndpointToDevice);
    proxy_side.close(now(), false).await;
    let mut device_side = Tee::new(tx, Direction::DeviceToEndpoint);
    let mut buf = vec![0u8; READ_BUFFER];
    let drain = async {
        loop {
            match device.read(&mut buf).await {
                Ok(0) => {
                    device_side.close(now(), false).await;
                    break;
                }
                Ok(n) => device_side.data(now(), buf.get(..n).unwrap_or_default()),
                Err(_) => {
                    device_side.close(now(), true).await;
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_AFTER_FAILURE, drain).await;
}

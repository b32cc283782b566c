//! Idle connections: opened, never written to, held until the process is stopped.
//!
//! A connect completes as soon as the kernel has answered the SYN, long before the proxy has
//! accepted the connection; thousands at once overflow its accept queue, and the kernel then
//! lets the surplus in only as its SYN-ACK retransmissions back off (seconds to a minute).
//! With `--paced-by`, the sink's count of open connections shows how far the proxy has got,
//! and no more than [`AHEAD`] connections are opened beyond it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Connects in flight at once: enough to open 10,000 in a few seconds without overrunning
/// the proxy's accept backlog.
const IN_FLIGHT: usize = 32;

/// Tries per connection. Thousands of connects in a burst now and then meet a full accept
/// queue or a refusal on a loaded machine; a retry a moment later goes through.
const TRIES: u32 = 5;

/// A TLS handshake to complete on each connection before it is held.
#[derive(Clone)]
pub struct Tls {
    pub connector: tokio_rustls::TlsConnector,
    pub name: rustls::pki_types::ServerName<'static>,
}

/// An idle connection: the socket alone, or the socket with its TLS session.
enum Held {
    // Held only to keep the connection open.
    #[allow(dead_code)]
    Plain(TcpStream),
    #[allow(dead_code)]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn open(target: SocketAddr, tls: Option<Tls>) -> Result<Held, String> {
    match tls {
        None => connect(target)
            .await
            .map(Held::Plain)
            .map_err(|e| e.to_string()),
        Some(t) => {
            use tokio::io::AsyncReadExt;
            let mut s = crate::tls::open(&t.connector, target, &t.name).await?;
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte)
                .await
                .map_err(|e| format!("reading the server's byte: {e}"))?;
            Ok(Held::Tls(Box::new(s)))
        }
    }
}

async fn connect(target: SocketAddr) -> std::io::Result<TcpStream> {
    let mut tries = 1;
    loop {
        match TcpStream::connect(target).await {
            Ok(s) => return Ok(s),
            Err(e) if tries >= TRIES => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Connections opened ahead of what the far end has seen, when paced.
const AHEAD: usize = 256;

/// How long the far end may take to catch up before the run is given up.
const CATCH_UP: Duration = Duration::from_secs(60);

fn read_count(file: &Path) -> usize {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the far end has seen all but [`AHEAD`] of the `started` connections.
async fn catch_up(file: &Path, base: usize, started: usize) -> Result<(), String> {
    let since = Instant::now();
    while read_count(file).saturating_sub(base) + AHEAD <= started {
        if since.elapsed() > CATCH_UP {
            return Err(format!(
                "the far end has seen {} of {started} connections after {} s",
                read_count(file).saturating_sub(base),
                CATCH_UP.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

pub async fn run(
    target: SocketAddr,
    count: usize,
    hold: Duration,
    paced_by: Option<PathBuf>,
    tls: Option<Tls>,
) -> Result<(), String> {
    let base = paced_by.as_deref().map_or(0, read_count);
    let mut held: Vec<Held> = Vec::with_capacity(count);
    let mut pending = JoinSet::new();
    let mut started = 0;
    while held.len() < count {
        if let Some(file) = &paced_by {
            catch_up(file, base, started).await?;
        }
        while started < count && pending.len() < IN_FLIGHT {
            pending.spawn(open(target, tls.clone()));
            started += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(s))) => held.push(s),
            Some(Ok(Err(e))) => {
                return Err(format!(
                    "connection {} to {target} failed: {e} (ulimit -n is {})",
                    held.len() + 1,
                    fd_limit()
                ))
            }
            Some(Err(e)) => return Err(format!("a connect task failed: {e}")),
            None => break,
        }
    }
    println!("open={}", held.len());
    let _ = std::io::stdout().flush();
    tokio::time::sleep(hold).await;
    drop(held);
    Ok(())
}

fn fd_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .map(|x| x.split_whitespace().nth(3).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_reads_the_far_ends_count() {
        let dir = std::env::temp_dir().join(format!("iotscope-bench-idle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("open");
        assert_eq!(read_count(&file), 0, "no file yet: nothing seen");
        std::fs::write(&file, "1200\n").unwrap();
        assert_eq!(read_count(&file), 1200);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // 1,200 seen of which 1,000 before this client: 200 + AHEAD is beyond 400 started.
        rt.block_on(catch_up(&file, 1000, 400)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

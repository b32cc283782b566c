//! Idle connections: opened, never written to, held until the process is stopped.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Connects in flight at once: enough to open 10,000 in a few seconds without overrunning
/// the proxy's accept backlog.
const IN_FLIGHT: usize = 32;

/// Tries per connection. Thousands of connects in a burst now and then meet a full accept
/// queue or a refusal on a loaded machine; a retry a moment later goes through.
const TRIES: u32 = 5;

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

pub async fn run(target: SocketAddr, count: usize, hold: Duration) -> Result<(), String> {
    let mut held: Vec<TcpStream> = Vec::with_capacity(count);
    let mut pending = JoinSet::new();
    let mut started = 0;
    while held.len() < count {
        while started < count && pending.len() < IN_FLIGHT {
            pending.spawn(connect(target));
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

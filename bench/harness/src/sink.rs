//! The far end of the throughput and idle-connection measurements.
//!
//! Each connection is read to its end; the sink then answers with the number of bytes it
//! read (8 bytes, big-endian) and closes, so the sender can time the stream up to its last
//! byte's arrival rather than up to its last write. The number of open connections goes to
//! a status file, which is how `bench/run` learns that the proxy has opened all its upstream
//! legs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net;

const READ_BUFFER: usize = 64 * 1024;

pub async fn run(
    listen: SocketAddr,
    port_file: &Path,
    status_file: Option<PathBuf>,
    limit: Duration,
) -> Result<(), String> {
    let listener = net::bind(listen, port_file).await?;
    let open = Arc::new(AtomicUsize::new(0));
    if let Some(path) = status_file {
        tokio::spawn(report_open(path, open.clone()));
    }
    let accepting = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let open = open.clone();
                    open.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let _ = drain_and_answer(stream).await;
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                // Out of descriptors, most likely: let some connections go first.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    };
    let _ = tokio::time::timeout(limit, accepting).await;
    Ok(())
}

async fn drain_and_answer(mut stream: TcpStream) -> std::io::Result<()> {
    // An idle connection holds no buffer: it is allocated once there is something to read.
    stream.readable().await?;
    let mut buf = vec![0u8; READ_BUFFER];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    stream.write_all(&total.to_be_bytes()).await?;
    stream.shutdown().await
}

async fn report_open(path: PathBuf, open: Arc<AtomicUsize>) {
    let mut last = None;
    loop {
        let now = open.load(Ordering::SeqCst);
        if last != Some(now) && net::write_atomically(&path, &format!("{now}\n")).is_ok() {
            last = Some(now);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

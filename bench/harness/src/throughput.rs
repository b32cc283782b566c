//! One long stream per target and round: connect, write `bytes` as TLS application-data
//! records, half-close, and wait for the sink's byte count. Targets take turns within each
//! round so that a slow moment of the shared machine falls on both alike; the median round
//! is printed.
//!
//! The stream is shaped as TLS records (type 23, version 3.3, 16 KiB bodies) because that
//! is what a long transfer through the proxy looks like in use: the proxy's decoder reads
//! record headers and counts the encrypted bodies, as it would for a firmware download.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::Target;
use crate::stats;

const RECORD_BODY: usize = 16 * 1024;
const RECORDS_PER_WRITE: usize = 4;

pub async fn run(targets: &[Target], bytes: u64, rounds: u32) -> Result<(), String> {
    let chunk = records(RECORDS_PER_WRITE);
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for _ in 0..rounds.max(1) {
        for (t, rate) in targets.iter().zip(rates.iter_mut()) {
            let secs = one_stream(t, &chunk, bytes).await?;
            rate.push(bytes as f64 / (1024.0 * 1024.0) / secs);
        }
    }
    println!("tp_bytes={bytes}");
    for (t, rate) in targets.iter().zip(&rates) {
        let list: Vec<String> = rate.iter().map(|r| format!("{r:.0}")).collect();
        eprintln!("throughput {}: {} MiB/s", t.name, list.join(", "));
        if let Some(m) = stats::median(rate) {
            println!("tp_{}_mib_s={m:.1}", t.name);
        }
    }
    Ok(())
}

/// `n` records back to back, each a header and a body of the same filler byte.
fn records(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * (5 + RECORD_BODY));
    for i in 0..n {
        v.extend_from_slice(&[23, 3, 3]);
        v.extend_from_slice(&(RECORD_BODY as u16).to_be_bytes());
        v.extend(std::iter::repeat_n(0x5a ^ i as u8, RECORD_BODY));
    }
    v
}

/// Seconds from connect to the sink's count, which must equal what was sent.
async fn one_stream(t: &Target, chunk: &[u8], bytes: u64) -> Result<f64, String> {
    let start = Instant::now();
    let mut s = TcpStream::connect(t.addr)
        .await
        .map_err(|e| format!("{}: cannot connect to {}: {e}", t.name, t.addr))?;
    let mut left = bytes;
    while left > 0 {
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let part = chunk.get(..n).unwrap_or(chunk);
        s.write_all(part).await.map_err(|e| {
            format!(
                "{}: writing failed after {} bytes: {e}",
                t.name,
                bytes - left
            )
        })?;
        left -= n as u64;
    }
    s.shutdown()
        .await
        .map_err(|e| format!("{}: half-close failed: {e}", t.name))?;
    let mut count = [0u8; 8];
    s.read_exact(&mut count)
        .await
        .map_err(|e| format!("{}: no byte count from the sink: {e}", t.name))?;
    let secs = start.elapsed().as_secs_f64();
    let got = u64::from_be_bytes(count);
    if got != bytes {
        return Err(format!(
            "{}: sent {bytes} bytes, the sink read {got}",
            t.name
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_is_whole_tls_records() {
        let c = records(2);
        assert_eq!(c.len(), 2 * (5 + RECORD_BODY));
        assert_eq!(&c[..5], &[23, 3, 3, 0x40, 0x00]);
        let second = 5 + RECORD_BODY;
        assert_eq!(&c[second..second + 3], &[23, 3, 3]);
    }

    #[test]
    fn a_stream_through_a_sink_is_counted_exactly() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("iotscope-bench-tp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port_file = dir.join("port");
        rt.block_on(async {
            let pf = port_file.clone();
            tokio::spawn(async move {
                let _ = crate::sink::run(
                    "127.0.0.1:0".parse().unwrap(),
                    &pf,
                    None,
                    std::time::Duration::from_secs(20),
                )
                .await;
            });
            let port = loop {
                if let Ok(p) = std::fs::read_to_string(&port_file) {
                    break p.trim().parse::<u16>().unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            };
            let t = Target {
                name: "direct".into(),
                addr: format!("127.0.0.1:{port}").parse().unwrap(),
            };
            // Not a whole number of chunks: the last write is cut short.
            let secs = one_stream(&t, &records(RECORDS_PER_WRITE), 300_001)
                .await
                .unwrap();
            assert!(secs > 0.0);
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

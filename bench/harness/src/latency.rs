//! MQTT PUBLISH QoS 1 → PUBACK round trips, one at a time, on one connection per target.
//!
//! The targets take turns in rounds (a slice of each target's count per round), so a busy
//! moment of the machine lands on every target rather than on whichever ran last.

use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::mqtt;
use crate::net::Target;
use crate::stats;

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub count: u32,
    pub rounds: u32,
    pub warmup: u32,
    pub payload: usize,
}

struct Client {
    stream: TcpStream,
    topic: String,
    payload: Vec<u8>,
    next_id: u16,
    /// Round-trip times in nanoseconds.
    samples: Vec<u64>,
}

impl Client {
    async fn connect(t: &Target, payload: usize) -> Result<Client, String> {
        let mut stream = TcpStream::connect(t.addr)
            .await
            .map_err(|e| format!("{}: cannot connect to {}: {e}", t.name, t.addr))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("{}: TCP_NODELAY: {e}", t.name))?;
        let id = format!("iotscope-bench-{}-{}", t.name, std::process::id());
        stream
            .write_all(&mqtt::connect(&id))
            .await
            .map_err(|e| format!("{}: sending CONNECT: {e}", t.name))?;
        let code = mqtt::read_packet(&mut stream)
            .await
            .and_then(|p| p.connack_code())
            .map_err(|e| format!("{}: {e}", t.name))?;
        if code != 0 {
            return Err(format!(
                "{}: the broker refused CONNECT with code {code}",
                t.name
            ));
        }
        Ok(Client {
            stream,
            topic: format!("bench/{}", t.name),
            payload: vec![b'p'; payload],
            next_id: 1,
            samples: Vec::new(),
        })
    }

    async fn round_trip(&mut self) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        let packet = mqtt::publish_qos1(&self.topic, id, &self.payload);
        let start = Instant::now();
        self.stream
            .write_all(&packet)
            .await
            .map_err(|e| format!("sending PUBLISH {id}: {e}"))?;
        let got = mqtt::read_packet(&mut self.stream).await?.puback_id()?;
        let ns = start.elapsed().as_nanos() as u64;
        if got != id {
            return Err(format!("PUBACK for {got} where {id} was expected"));
        }
        Ok(ns)
    }

    async fn disconnect(mut self) {
        let _ = self.stream.write_all(&[0xe0, 0x00]).await;
        let _ = self.stream.shutdown().await;
    }
}

pub async fn run(targets: &[Target], plan: Plan) -> Result<(), String> {
    let mut clients = Vec::new();
    for t in targets {
        let mut c = Client::connect(t, plan.payload).await?;
        for _ in 0..plan.warmup {
            c.round_trip()
                .await
                .map_err(|e| format!("{}: {e}", t.name))?;
        }
        clients.push(c);
    }
    let rounds = plan.rounds.max(1);
    let per_round = plan.count.div_ceil(rounds);
    for _ in 0..rounds {
        for (t, c) in targets.iter().zip(clients.iter_mut()) {
            for _ in 0..per_round {
                let ns = c
                    .round_trip()
                    .await
                    .map_err(|e| format!("{}: {e}", t.name))?;
                c.samples.push(ns);
            }
        }
    }
    for (t, mut c) in targets.iter().zip(clients) {
        c.samples.sort_unstable();
        let us = |p| stats::percentile(&c.samples, p).map_or(f64::NAN, |ns| ns as f64 / 1000.0);
        println!("lat_{}_count={}", t.name, c.samples.len());
        println!("lat_{}_p50_us={:.1}", t.name, us(50.0));
        println!("lat_{}_p99_us={:.1}", t.name, us(99.0));
        eprintln!(
            "latency {}: p50 {:.1} µs, p99 {:.1} µs over {} round trips",
            t.name,
            us(50.0),
            us(99.0),
            c.samples.len()
        );
        c.disconnect().await;
    }
    Ok(())
}

//! `iotscope-bench`: the load tools `bench/run` drives.
//!
//! Every tool talks to addresses given on its command line (loopback in `bench/run`), stops
//! by itself after a bounded amount of work or time, and prints its results as `key=value`
//! lines that `bench/run` gathers into one file for `bench/table`.

mod idle;
mod latency;
mod mqtt;
mod net;
mod relay;
mod sink;
mod stats;
mod throughput;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "iotscope-bench", about = "Load tools for bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Accept connections, read each to its end, answer with the byte count, and keep the
    /// number of open connections in a status file.
    Sink {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Where to write the port actually bound.
        #[arg(long)]
        port_file: PathBuf,
        /// Where to keep the count of open connections.
        #[arg(long)]
        status_file: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// A bare TCP relay to UPSTREAM: the floor under any proxy's cost.
    Relay {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        upstream: std::net::SocketAddr,
        #[arg(long)]
        port_file: PathBuf,
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// Send one long stream to each target in turn, `rounds` times, and print MiB/s.
    Throughput {
        /// NAME=HOST:PORT, repeated; a sink must answer there.
        #[arg(long = "target", required = true, value_parser = net::parse_target)]
        targets: Vec<net::Target>,
        #[arg(long, default_value_t = 1 << 30)]
        bytes: u64,
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// Time MQTT PUBLISH QoS 1 → PUBACK round trips against each target (an MQTT broker,
    /// directly or through the proxy), interleaved in rounds, and print p50 and p99.
    Latency {
        #[arg(long = "target", required = true, value_parser = net::parse_target)]
        targets: Vec<net::Target>,
        /// Round trips per target, after the warm-up.
        #[arg(long, default_value_t = 20_000)]
        count: u32,
        #[arg(long, default_value_t = 10)]
        rounds: u32,
        #[arg(long, default_value_t = 500)]
        warmup: u32,
        /// PUBLISH payload size.
        #[arg(long, default_value_t = 64)]
        payload: usize,
    },
    /// Write a CA, a server certificate for localhost and a client certificate to DIR.
    Certs {
        #[arg(long)]
        out: PathBuf,
    },
    /// A TLS 1.3 server that requires a client certificate from the CA in DIR, and sends
    /// one byte after each handshake.
    TlsServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        certs: PathBuf,
        #[arg(long)]
        port_file: PathBuf,
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
        /// How long one connection may stay open (idle connections held after a handshake
        /// need longer than the default).
        #[arg(long, default_value_t = tls::SERVER_CONNECTION_LIMIT.as_secs())]
        hold_seconds: u64,
    },
    /// Full TLS 1.3 handshakes with a client certificate (no resumption) against each
    /// target, interleaved in rounds; prints handshakes per second.
    Handshakes {
        #[arg(long = "target", required = true, value_parser = net::parse_target)]
        targets: Vec<net::Target>,
        /// The directory `certs` wrote.
        #[arg(long)]
        certs: PathBuf,
        /// NAME=FILE: trust this CA (PEM) instead of DIR/ca.pem for that target.
        #[arg(long = "trust", value_parser = net::parse_named_path)]
        trust: Vec<(String, PathBuf)>,
        #[arg(long, default_value = "localhost")]
        server_name: String,
        /// Seconds per target per round.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Each target is an MQTT broker: after the handshake send CONNECT and wait for
        /// CONNACK (a session), instead of reading the server's byte.
        #[arg(long)]
        mqtt: bool,
    },
    /// Open COUNT connections to a target that stay silent, print `open=COUNT`, and hold
    /// them until killed or until --hold-seconds.
    Idle {
        #[arg(long)]
        target: std::net::SocketAddr,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 600)]
        hold_seconds: u64,
        /// A file holding the far end's count of open connections (the sink's
        /// --status-file): stay at most a few hundred connections ahead of it.
        #[arg(long)]
        paced_by: Option<PathBuf>,
        /// Complete a TLS handshake on each connection with the client certificate in DIR
        /// (written by `certs`) before holding it; the server's byte is read too.
        #[arg(long)]
        tls: Option<PathBuf>,
        /// With --tls: trust this CA (PEM) instead of DIR/ca.pem.
        #[arg(long)]
        trust: Option<PathBuf>,
        #[arg(long, default_value = "localhost")]
        server_name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Certs { out } => tls::write_certs(&out),
        other => runtime().and_then(|rt| rt.block_on(run_async(other))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iotscope-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

async fn run_async(command: Command) -> Result<(), String> {
    match command {
        Command::Sink {
            listen,
            port_file,
            status_file,
            max_seconds,
        } => {
            let limit = Duration::from_secs(max_seconds);
            sink::run(listen, &port_file, status_file, limit).await
        }
        Command::Relay {
            listen,
            upstream,
            port_file,
            max_seconds,
        } => {
            relay::run(
                listen,
                upstream,
                &port_file,
                Duration::from_secs(max_seconds),
            )
            .await
        }
        Command::Throughput {
            targets,
            bytes,
            rounds,
        } => throughput::run(&targets, bytes, rounds).await,
        Command::Latency {
            targets,
            count,
            rounds,
            warmup,
            payload,
        } => {
            let plan = latency::Plan {
                count,
                rounds,
                warmup,
                payload,
            };
            latency::run(&targets, plan).await
        }
        Command::TlsServer {
            listen,
            certs,
            port_file,
            max_seconds,
            hold_seconds,
        } => {
            tls::serve(
                listen,
                &certs,
                &port_file,
                Duration::from_secs(max_seconds),
                Duration::from_secs(hold_seconds),
            )
            .await
        }
        Command::Handshakes {
            targets,
            certs,
            trust,
            server_name,
            seconds,
            rounds,
            concurrency,
            mqtt,
        } => {
            let plan = tls::HandshakePlan {
                server_name,
                per_round: Duration::from_secs_f64(seconds.clamp(0.1, 600.0)),
                rounds,
                concurrency: concurrency.max(1),
                mqtt,
            };
            tls::handshakes(&targets, &certs, &trust, plan).await
        }
        Command::Idle {
            target,
            count,
            hold_seconds,
            paced_by,
            tls,
            trust,
            server_name,
        } => {
            let tls = match tls {
                Some(dir) => {
                    let ca = trust.unwrap_or_else(|| dir.join("ca.pem"));
                    Some(idle::Tls {
                        connector: tls::connector(&dir, &ca)?,
                        name: rustls::pki_types::ServerName::try_from(server_name)
                            .map_err(|e| format!("server name: {e}"))?,
                    })
                }
                None => None,
            };
            let hold = Duration::from_secs(hold_seconds);
            idle::run(target, count, hold, paced_by, tls).await
        }
        Command::Certs { .. } => Ok(()),
    }
}

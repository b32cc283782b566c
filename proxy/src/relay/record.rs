//! `--record FILE.pcapng`: every relayed connection written as TCP/IP packets, on a thread
//! of its own so that a slow disk never holds up a relay.
//!
//! The decoder tasks send what they saw (opens, bytes, closes, and the bytes they had to
//! drop); the recorder keeps one [`TcpConversationWriter`] per connection so sequence numbers
//! run on, and leaves a hole in the sequence space where bytes were dropped.

use crate::error::Error;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use iotscope_captures::writer::{PcapngWriter, TcpConversationWriter};
use iotscope_decoder::{Direction, Timestamp};
use tokio::sync::mpsc;

/// What a decoder task tells the recorder.
pub enum Record {
    Open {
        conn: u64,
        device: SocketAddr,
        endpoint: SocketAddr,
        ts: Timestamp,
    },
    Data {
        conn: u64,
        dir: Direction,
        ts: Timestamp,
        bytes: Vec<u8>,
    },
    Skipped {
        conn: u64,
        dir: Direction,
        bytes: u64,
    },
    Fin {
        conn: u64,
        dir: Direction,
        ts: Timestamp,
    },
    Rst {
        conn: u64,
        dir: Direction,
        ts: Timestamp,
    },
    /// The connection is over; its state can go.
    Done { conn: u64 },
    /// A key-log line, written as a Decryption Secrets Block ahead of the packets it opens.
    Keys { line: String },
}

/// Messages a recorder holds before a decoder task waits for it (about 16 MiB of 16 KiB
/// reads at worst).
const DEPTH: usize = 1024;

pub struct Recorder {
    pub tx: mpsc::Sender<Record>,
    thread: std::thread::JoinHandle<io::Result<()>>,
}

impl Recorder {
    /// Creates the file (its header is written at once, so a bad path fails before any
    /// connection is accepted) and starts the writing thread.
    pub fn create(path: &Path) -> Result<Recorder, Error> {
        let file = File::create(path)
            .map_err(|e| Error::io(format!("create the recording {}", path.display()), e))?;
        let writer = PcapngWriter::new(BufWriter::new(file))
            .map_err(|e| Error::io(format!("write the recording {}", path.display()), e))?;
        let (tx, rx) = mpsc::channel(DEPTH);
        let name = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || write_all(writer, rx, &name))
            .map_err(|e| Error::Environment(format!("cannot start the recorder: {e}")))?;
        Ok(Recorder { tx, thread })
    }

    /// Waits until everything sent is on disk. Every sender must be dropped first.
    pub fn finish(self) -> io::Result<()> {
        drop(self.tx);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the recorder thread panicked")))
    }
}

fn write_all(
    mut w: PcapngWriter<BufWriter<File>>,
    mut rx: mpsc::Receiver<Record>,
    name: &str,
) -> io::Result<()> {
    let mut conns: HashMap<u64, TcpConversationWriter> = HashMap::new();
    let mut failed = false;
    while let Some(msg) = rx.blocking_recv() {
        if failed {
            // Keep draining so decoder tasks never wait on a dead recorder.
            continue;
        }
        if let Err(e) = write_one(&mut w, &mut conns, msg) {
            tracing::error!("recording to {name} stopped: {e}");
            failed = true;
        }
    }
    w.flush()
}

fn write_one(
    w: &mut PcapngWriter<BufWriter<File>>,
    conns: &mut HashMap<u64, TcpConversationWriter>,
    msg: Record,
) -> io::Result<()> {
    match msg {
        Record::Open {
            conn,
            device,
            endpoint,
            ts,
        } => {
            let (device, endpoint) = same_family(device, endpoint);
            // Initial sequence numbers only need to differ between connections.
            let isn = (conn as u32).wrapping_mul(0x9e37_79b9);
            let mut c = TcpConversationWriter::new(device, endpoint, isn, !isn);
            c.open(w, ts)?;
            conns.insert(conn, c);
        }
        Record::Data {
            conn,
            dir,
            ts,
            bytes,
        } => {
            if let Some(c) = conns.get_mut(&conn) {
                c.data(w, ts, dir, &bytes)?;
            }
        }
        Record::Skipped { conn, dir, bytes } => {
            if let Some(c) = conns.get_mut(&conn) {
                c.skip(dir, bytes);
            }
        }
        Record::Fin { conn, dir, ts } => {
            if let Some(c) = conns.get_mut(&conn) {
                c.fin(w, ts, dir)?;
            }
        }
        Record::Rst { conn, dir, ts } => {
            if let Some(c) = conns.get_mut(&conn) {
                c.rst(w, ts, dir)?;
            }
        }
        Record::Done { conn } => {
            conns.remove(&conn);
        }
        Record::Keys { line } => w.write_tls_keys(line.as_bytes())?,
    }
    Ok(())
}

/// A packet has one IP version: an IPv4 side meeting an IPv6 side is written in its
/// IPv4-mapped IPv6 form.
fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    let v6 = |s: SocketAddr| match s.ip() {
        IpAddr::V4(ip) => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), s.port()),
        IpAddr::V6(_) => s,
    };
    if a.is_ipv4() == b.is_ipv4() {
        (a, b)
    } else {
        (v6(a), v6(b))
    }
}

//! An MQTT endpoint in the test process: rustls with certificates from [`crate::pki`],
//! answering CONNECT, SUBSCRIBE and PUBLISH (QoS 1) as a broker that allows everything
//! would, until DISCONNECT — or, refusing CONNECT, closing the connection without a CONNACK
//! as AWS IoT Core does over MQTT 3.1.1. Each connection reports the packets it got, or its
//! error.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::proxy::WAIT;

/// Packets larger than this end the connection: a test endpoint needs no more.
const MAX_PACKET: usize = 64 * 1024;

pub struct Endpoint {
    pub port: u16,
    /// Per connection: the names of the packets received (`CONNECT`, `SUBSCRIBE` …), or
    /// what went wrong.
    pub results: Receiver<Result<Vec<String>, String>>,
}

/// Listens on a free loopback port and answers everything.
pub fn start(config: Arc<ServerConfig>) -> Endpoint {
    listen(config, false)
}

/// Listens on a free loopback port and closes every connection at its CONNECT.
pub fn start_refusing_connect(config: Arc<ServerConfig>) -> Endpoint {
    listen(config, true)
}

fn listen(config: Arc<ServerConfig>, refuse_connect: bool) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, results) = channel();
    thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let config = config.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = tx.send(serve(sock, config, refuse_connect));
            });
        }
    });
    Endpoint { port, results }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

fn serve(
    sock: TcpStream,
    config: Arc<ServerConfig>,
    refuse_connect: bool,
) -> Result<Vec<String>, String> {
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, sock);
    let mut seen = Vec::new();
    let mut level = 4;
    loop {
        let Some((first, body)) = packet(&mut tls)? else {
            return Ok(seen);
        };
        let reply = match first >> 4 {
            1 if refuse_connect => {
                seen.push("CONNECT".to_string());
                close(&mut tls);
                return Ok(seen);
            }
            1 => {
                seen.push("CONNECT".to_string());
                level = body.get(6).copied().unwrap_or(4);
                if level == 5 {
                    vec![0x20, 0x03, 0x00, 0x00, 0x00]
                } else {
                    vec![0x20, 0x02, 0x00, 0x00]
                }
            }
            8 => {
                seen.push("SUBSCRIBE".to_string());
                let (hi, lo) = (body.first().copied(), body.get(1).copied());
                let (hi, lo) = (hi.unwrap_or(0), lo.unwrap_or(0));
                // One filter, granted at QoS 1.
                if level == 5 {
                    vec![0x90, 0x04, hi, lo, 0x00, 0x01]
                } else {
                    vec![0x90, 0x03, hi, lo, 0x01]
                }
            }
            3 => {
                seen.push("PUBLISH".to_string());
                let topic_len = match (body.first(), body.get(1)) {
                    (Some(h), Some(l)) => u16::from_be_bytes([*h, *l]) as usize,
                    _ => return Err("PUBLISH too short".into()),
                };
                match (body.get(2 + topic_len), body.get(3 + topic_len)) {
                    (Some(h), Some(l)) if (first >> 1) & 3 > 0 => vec![0x40, 0x02, *h, *l],
                    _ => Vec::new(),
                }
            }
            14 => {
                seen.push("DISCONNECT".to_string());
                close(&mut tls);
                return Ok(seen);
            }
            other => {
                seen.push(format!("type {other}"));
                Vec::new()
            }
        };
        tls.write_all(&reply).map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
    }
}

/// close_notify and FIN, then wait for the peer to go.
fn close(tls: &mut Tls) {
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = tls.sock.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = tls.sock.read_to_end(&mut rest);
}

/// One packet: its first byte and body; `None` at a clean end of the stream.
fn packet(tls: &mut Tls) -> Result<Option<(u8, Vec<u8>)>, String> {
    let mut first = [0u8; 1];
    match tls.read(&mut first) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(e.to_string()),
    }
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let mut b = [0u8; 1];
        tls.read_exact(&mut b).map_err(|e| e.to_string())?;
        len |= ((b[0] & 0x7f) as usize) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    if len > MAX_PACKET {
        return Err(format!("a packet of {len} bytes"));
    }
    let mut body = vec![0u8; len];
    tls.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(Some((first[0], body)))
}

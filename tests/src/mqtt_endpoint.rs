//! An MQTT endpoint in the test process: rustls with certificates from [`crate::pki`],
//! answering CONNECT, SUBSCRIBE and PUBLISH (QoS 1) as a [`Script`] says, until DISCONNECT.
//! The default script allows everything; others refuse a CONNECT (with a code, or by closing
//! without a CONNACK as AWS IoT Core does over MQTT 3.1.1), a SUBSCRIBE or a PUBLISH. Each
//! connection reports the packets it got, or its error.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::mqtt_script as mqtt;
use crate::proxy::WAIT;

/// Packets larger than this end the connection: a test endpoint needs no more.
const MAX_PACKET: usize = 64 * 1024;

/// What the endpoint answers.
#[derive(Clone, Copy, Debug)]
pub struct Script {
    /// The CONNACK code; `None`: close the connection at CONNECT, without a CONNACK.
    pub connack: Option<u8>,
    /// The code granted to every SUBSCRIBE.
    pub suback: u8,
    /// The PUBACK code; `None`: close the connection when a QoS 1 PUBLISH comes.
    pub puback: Option<u8>,
}

impl Script {
    /// A broker that allows everything: CONNACK 0, QoS 1 granted, PUBACK 0.
    pub const OK: Script = Script {
        connack: Some(0),
        suback: 1,
        puback: Some(0),
    };
}

pub struct Endpoint {
    pub port: u16,
    /// Per connection: the names of the packets received (`CONNECT`, `SUBSCRIBE` …), or
    /// what went wrong.
    pub results: Receiver<Result<Vec<String>, String>>,
}

/// Listens on a free loopback port and answers everything.
pub fn start(config: Arc<ServerConfig>) -> Endpoint {
    start_scripted(config, Script::OK)
}

/// Listens on a free loopback port and closes every connection at its CONNECT.
pub fn start_refusing_connect(config: Arc<ServerConfig>) -> Endpoint {
    start_scripted(
        config,
        Script {
            connack: None,
            ..Script::OK
        },
    )
}

/// Listens on a free loopback port and answers as `script` says.
pub fn start_scripted(config: Arc<ServerConfig>, script: Script) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, results) = channel();
    thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let config = config.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = tx.send(serve(sock, config, script));
            });
        }
    });
    Endpoint { port, results }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

fn serve(
    sock: TcpStream,
    config: Arc<ServerConfig>,
    script: Script,
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
            1 => {
                seen.push("CONNECT".to_string());
                level = body.get(6).copied().unwrap_or(4);
                match script.connack {
                    None => {
                        close(&mut tls);
                        return Ok(seen);
                    }
                    Some(0) => mqtt::connack(level, 0),
                    Some(code) => {
                        send(&mut tls, &mqtt::connack(level, code))?;
                        close(&mut tls);
                        return Ok(seen);
                    }
                }
            }
            8 => {
                seen.push("SUBSCRIBE".to_string());
                let id = u16::from_be_bytes([
                    body.first().copied().unwrap_or(0),
                    body.get(1).copied().unwrap_or(0),
                ]);
                mqtt::suback(level, id, script.suback)
            }
            3 => {
                seen.push("PUBLISH".to_string());
                let topic_len = match (body.first(), body.get(1)) {
                    (Some(h), Some(l)) => u16::from_be_bytes([*h, *l]) as usize,
                    _ => return Err("PUBLISH too short".into()),
                };
                match (body.get(2 + topic_len), body.get(3 + topic_len)) {
                    (Some(h), Some(l)) if (first >> 1) & 3 > 0 => match script.puback {
                        Some(code) => mqtt::puback(level, u16::from_be_bytes([*h, *l]), code),
                        None => {
                            close(&mut tls);
                            return Ok(seen);
                        }
                    },
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
        send(&mut tls, &reply)?;
    }
}

fn send(tls: &mut Tls, bytes: &[u8]) -> Result<(), String> {
    tls.write_all(bytes).map_err(|e| e.to_string())?;
    tls.flush().map_err(|e| e.to_string())
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

//! Plaintext before TLS: an HTTP proxy tunnel (`CONNECT host:port`), or a STARTTLS-like
//! exchange of text lines, after which the TLS handshake (or MQTT) begins.
//!
//! Devices behind a corporate or cellular HTTP proxy first ask the proxy for a tunnel:
//! `CONNECT endpoint:8883 HTTP/1.1`, header lines, a blank line; the proxy answers with a
//! status line (`HTTP/1.1 200 Connection established`, or `407`, `403`, `502` …), header
//! lines and a blank line, and only after a 2xx does the device's ClientHello follow. Other
//! protocols exchange a few lines of text and then switch to TLS (STARTTLS).
//!
//! Two readers live here, both used by the session's outer layer only (never inside TLS):
//! - [`Tunnel`] reads the CONNECT request and the proxy's answers as events
//!   ([`ProxyRequest`], [`ProxyResponse`]), skips the body of a refusal, and hands every byte
//!   after the blank line back to the session, which classifies it afresh as if the
//!   connection began there. A refused CONNECT followed by another one (a 407, then the same
//!   request with credentials) is read as a second request.
//! - [`Watch`] follows a direction whose first bytes were text that is not a CONNECT: it
//!   looks for a TLS handshake record (the device's ClientHello, the endpoint's ServerHello)
//!   that starts at the beginning of a line, and tells the session where TLS begins.
//!
//! Both look at no more than [`LIMIT`] bytes (64 KiB) of a direction. A proxy's request or
//! answer is a few hundred bytes, and HTTP servers refuse header blocks well below that
//! (8 to 16 KiB is usual); a STARTTLS exchange is a handful of lines. The bound keeps what is
//! held per connection small while a header block is incomplete, and it keeps a stream that
//! is simply not TLS (a plain HTTP client, a text protocol) from being searched for a
//! handshake for ever, where sooner or later some bytes would happen to look like one. Past
//! the bound the bytes are decoded as they are today: the start of an HTTP request, or bytes
//! that are not understood.
//!
//! Credentials are never kept: a `Proxy-Authorization` header keeps its scheme (`Basic`,
//! `Negotiate` …) and loses its value, unless the session reveals passwords.

mod http;
#[cfg(test)]
mod tests;

pub use http::{ProxyRequest, ProxyResponse};

use crate::emit::Emit;
use crate::event::{Direction, EventKind};

/// How many bytes of a direction the preamble readers look at.
pub const LIMIT: usize = 64 * 1024;

/// What the tunnel reader did with some bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// The bytes belong to the preamble (a header block or a refusal's body).
    Held,
    /// The preamble of this direction ended; these bytes follow it and are classified afresh.
    After(Vec<u8>),
}

#[derive(Debug, Default)]
enum Block {
    /// Not inside a header block.
    #[default]
    Idle,
    /// Reading a header block; the bytes so far.
    Reading(Vec<u8>),
    /// Skipping this many more bytes of a refusal's body.
    Body(u64),
    /// Skipping a refusal's body that ends with the connection.
    BodyToClose,
}

/// The HTTP proxy tunnel of one connection, both directions.
#[derive(Debug, Default)]
pub struct Tunnel {
    blocks: [Block; 2],
    /// Bytes each direction spent on the preamble so far.
    used: [usize; 2],
    /// The device sent a CONNECT: the endpoint's `HTTP/1.x` lines are the proxy's answers.
    requested: bool,
    reveal: bool,
}

impl Tunnel {
    pub fn new(reveal_credentials: bool) -> Tunnel {
        Tunnel {
            reveal: reveal_credentials,
            ..Tunnel::default()
        }
    }

    /// Is the direction inside the preamble (a header block, or a body being skipped)?
    pub fn active(&self, dir: Direction) -> bool {
        !matches!(self.blocks[dir.index()], Block::Idle)
    }

    /// Do a direction's first bytes (already classified as HTTP) begin a preamble block: a
    /// CONNECT from the device, or the answer of the proxy it asked?
    pub fn starts(&self, dir: Direction, first: &[u8]) -> bool {
        if self.used[dir.index()] >= LIMIT {
            return false;
        }
        match dir {
            Direction::DeviceToEndpoint => first.starts_with(b"CONNECT "),
            Direction::EndpointToDevice => self.requested && first.starts_with(b"HTTP/1."),
        }
    }

    /// Bytes of a direction that is inside the preamble, or that [`Tunnel::starts`] accepted.
    pub fn push(&mut self, bytes: &[u8], out: &mut Emit) -> Flow {
        let d = out.dir.index();
        match std::mem::take(&mut self.blocks[d]) {
            Block::Idle | Block::Reading(_) if bytes.is_empty() => {
                // Nothing to read; keep whatever was held.
                Flow::Held
            }
            Block::Idle => self.read(Vec::new(), bytes, out),
            Block::Reading(held) => self.read(held, bytes, out),
            Block::Body(left) => {
                let n = (left.min(bytes.len() as u64)) as usize;
                if (n as u64) < left {
                    self.blocks[d] = Block::Body(left - n as u64);
                    return Flow::Held;
                }
                Flow::After(bytes[n..].to_vec())
            }
            Block::BodyToClose => {
                self.blocks[d] = Block::BodyToClose;
                Flow::Held
            }
        }
    }

    fn read(&mut self, mut held: Vec<u8>, bytes: &[u8], out: &mut Emit) -> Flow {
        let d = out.dir.index();
        let before = held.len();
        let room = LIMIT.saturating_sub(self.used[d]);
        held.extend_from_slice(bytes);
        let Some(end) = http::block_end(&held, before.saturating_sub(3)).filter(|e| *e <= room)
        else {
            if held.len() <= room {
                self.blocks[d] = Block::Reading(held);
                return Flow::Held;
            }
            // Longer than any proxy's header block: report what was read, and let the bytes
            // be decoded as they would be without a preamble reader.
            self.used[d] = LIMIT;
            self.emit_block(&held[..room], false, out);
            out.emit(EventKind::Note {
                text: format!(
                    "HTTP proxy {} has no end within {} KiB: not read as a preamble",
                    if out.dir == Direction::DeviceToEndpoint {
                        "request"
                    } else {
                        "answer"
                    },
                    LIMIT / 1024
                ),
            });
            return Flow::After(held);
        };
        self.used[d] += end;
        let rest = held.split_off(end);
        let next = self.emit_block(&held, true, out);
        self.blocks[d] = next;
        match self.blocks[d] {
            Block::Idle => Flow::After(rest),
            _ => self.push(&rest, out),
        }
    }

    /// Emits the event for one header block; returns what follows it in its direction.
    fn emit_block(&mut self, block: &[u8], complete: bool, out: &mut Emit) -> Block {
        match out.dir {
            Direction::DeviceToEndpoint => {
                self.requested = true;
                let req = http::parse_request(block, complete, self.reveal);
                out.emit(EventKind::ProxyConnect(Box::new(req)));
                Block::Idle
            }
            Direction::EndpointToDevice => {
                let resp = http::parse_response(block, complete);
                let next = match resp.status {
                    // 2xx opens the tunnel; 1xx is followed by the final answer.
                    Some(200..=299) | Some(100..=199) | None => Block::Idle,
                    _ if !complete => Block::Idle,
                    _ => match resp.content_length {
                        Some(0) => Block::Idle,
                        Some(n) => Block::Body(n),
                        None => Block::BodyToClose,
                    },
                };
                out.emit(EventKind::ProxyResponse(Box::new(resp)));
                next
            }
        }
    }

    /// The direction's sender closed, or the connection ended: a header block cut short is
    /// reported as it is.
    pub fn close(&mut self, out: &mut Emit) {
        let d = out.dir.index();
        if let Block::Reading(held) = std::mem::take(&mut self.blocks[d]) {
            if !held.is_empty() {
                self.emit_block(&held, false, out);
            }
        }
    }

    /// Bytes of the direction were never seen: the preamble cannot be followed further.
    pub fn gap(&mut self, out: &mut Emit) {
        if self.active(out.dir) {
            self.close(out);
            self.blocks[out.dir.index()] = Block::Idle;
            self.used[out.dir.index()] = LIMIT;
        }
    }
}

/// Does a direction's first line (up to its first line end, within 64 bytes) look like text:
/// printable ASCII and tabs? What follows the line end does not count, since TLS may begin
/// right after it in the same read.
pub fn is_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    let line = match head.iter().position(|&b| b == b'\n') {
        Some(i) => &head[..=i],
        None => head,
    };
    !line.is_empty()
        && line
            .iter()
            .all(|&b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7e))
}

/// What [`Watch::scan`] found in some bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Bytes that are still plaintext, to be decoded as before.
    pub plain: Vec<u8>,
    /// From the start of the TLS handshake on, when it was found.
    pub tls: Option<Vec<u8>>,
    /// The direction's stream offset where TLS starts.
    pub offset: u64,
}

/// Looks for TLS after a direction's plaintext (STARTTLS-like), within [`LIMIT`] bytes.
#[derive(Debug)]
pub struct Watch {
    /// The handshake message that starts the sender's TLS: 1 ClientHello, 2 ServerHello.
    hello: u8,
    /// Bytes of the direction already passed on as plaintext.
    seen: u64,
    /// The last byte passed on ended a line.
    at_line_start: bool,
    /// Bytes at a line start that may be the beginning of a handshake record.
    held: Vec<u8>,
    done: bool,
}

/// A TLS record header and handshake type: 22, 3, minor, length (2), message type.
const HEADER: usize = 6;

impl Watch {
    pub fn new(dir: Direction) -> Watch {
        Watch {
            hello: match dir {
                Direction::DeviceToEndpoint => 1,
                Direction::EndpointToDevice => 2,
            },
            seen: 0,
            at_line_start: false,
            held: Vec::new(),
            done: false,
        }
    }

    /// True once TLS was found or the limit passed: the watch has nothing more to do.
    pub fn done(&self) -> bool {
        self.done
    }

    /// The next bytes of the direction.
    pub fn scan(&mut self, bytes: &[u8]) -> Scan {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(bytes);
        if self.done {
            return Scan {
                plain: data,
                ..Scan::default()
            };
        }
        let mut p = 0;
        while p < data.len() {
            let line_start = if p == 0 {
                self.at_line_start
            } else {
                data[p - 1] == b'\n'
            };
            if line_start {
                match handshake_at(&data[p..], self.hello) {
                    Match::Yes => {
                        let tls = data.split_off(p);
                        let offset = self.seen + p as u64;
                        self.done = true;
                        return Scan {
                            plain: data,
                            tls: Some(tls),
                            offset,
                        };
                    }
                    Match::Maybe => {
                        self.held = data.split_off(p);
                        break;
                    }
                    Match::No => {}
                }
            }
            // The bound: past it, nothing more is searched.
            if self.seen + p as u64 >= LIMIT as u64 {
                self.done = true;
                data.append(&mut self.held);
                break;
            }
            p += 1;
        }
        self.seen += data.len() as u64;
        if let Some(&last) = data.last() {
            self.at_line_start = last == b'\n';
        }
        Scan {
            plain: data,
            ..Scan::default()
        }
    }

    /// The bytes held back at the end of the stream: they were plaintext after all.
    pub fn release(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }
}

enum Match {
    Yes,
    Maybe,
    No,
}

/// Does a TLS handshake record carrying `hello` start here? `Maybe` when the bytes end
/// before it can be told.
fn handshake_at(b: &[u8], hello: u8) -> Match {
    let want_ok = |i: usize, v: u8| match i {
        0 => v == 22,
        1 => v == 3,
        2 => v <= 4,
        3 => v <= 0x48, // a record is at most 2^14 + 2048 bytes
        4 => true,
        _ => v == hello,
    };
    for (i, &v) in b.iter().take(HEADER).enumerate() {
        if !want_ok(i, v) {
            return Match::No;
        }
    }
    if b.len() < HEADER {
        return Match::Maybe;
    }
    let len = u16::from_be_bytes([b[3], b[4]]);
    if len < 4 {
        return Match::No;
    }
    Match::Yes
}

/// The host of a CONNECT target (`host:port`, `[v6]:port`), without the port.
pub fn target_host(target: &str) -> &str {
    if let Some(rest) = target.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match target.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => target,
    }
}

/// The port of a CONNECT target, when it names one.
pub fn target_port(target: &str) -> Option<u16> {
    target.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

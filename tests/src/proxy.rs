//! Driving `iotscope proxy` as a child process: it listens on a port the kernel picks
//! (`--listen 127.0.0.1:0`, read back from its start line), its JSON Lines are read as they
//! come, and it is stopped with SIGINT like a user would. Every wait is bounded and fails the
//! test when it runs out.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any single step of a proxy test may take.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct ProxyProcess {
    child: Child,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    pub port: u16,
}

impl ProxyProcess {
    /// `iotscope proxy --listen 127.0.0.1:0 --format json ARGS`, once it listens.
    pub fn start(args: &[&str]) -> ProxyProcess {
        let mut cmd = crate::iotscope();
        cmd.args(["proxy", "--listen", "127.0.0.1:0", "--format", "json"])
            .args(args);
        ProxyProcess::spawn(cmd)
    }

    /// Runs `cmd`, a whole `iotscope proxy … --format json` command line (e.g. inside a
    /// network namespace), once it listens.
    pub fn spawn(mut cmd: Command) -> ProxyProcess {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start iotscope proxy");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = channel();
        let err = child.stderr.take().expect("stderr");
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("iotscope: listening on ") {
                    let addr = rest.split(',').next().unwrap_or_default();
                    if let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok())
                    {
                        let _ = port_tx.send(port);
                    }
                }
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (line_tx, lines) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("proxy printed a line that is not JSON ({e}): {line}")
                });
                if line_tx.send(v).is_err() {
                    break;
                }
            }
        });
        let port = match port_rx.recv_timeout(WAIT) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("the proxy did not start: {}", stderr.lock().unwrap());
            }
        };
        ProxyProcess {
            child,
            lines,
            stderr,
            port,
        }
    }

    /// The proxy's process id, to read its state under /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next line of any kind.
    pub fn next_line(&self) -> Value {
        self.lines.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!(
                "no line from the proxy within {WAIT:?}; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// The next finished connection (skipping per-event lines).
    pub fn next_connection(&self) -> Value {
        loop {
            let v = self.next_line();
            if v.get("findings").is_some() {
                return v;
            }
        }
    }

    /// SIGINT, then the exit status and every line printed after the last one read.
    pub fn stop(mut self) -> (ExitStatus, Vec<Value>, String) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT {pid} failed");
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the proxy") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the proxy did not stop within {WAIT:?} of SIGINT:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = Vec::new();
        // The reader ends when the pipe closes; wait for it, boundedly.
        while let Ok(v) = self.lines.recv_timeout(WAIT) {
            rest.push(v);
        }
        let stderr = self.stderr();
        (status, rest, stderr)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A loopback port with nothing listening on it (it was free a moment ago).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A deterministic stream of pseudo-random bytes (xorshift64*), so a receiver can check
/// every byte it gets without the sender's copy, however the stream was cut into reads.
pub struct Noise {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            word: [0; 8],
            used: 8,
        }
    }

    pub fn next_byte(&mut self) -> u8 {
        if self.used == 8 {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            self.word = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            self.used = 0;
        }
        let b = self.word[self.used];
        self.used += 1;
        b
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_byte();
        }
    }

    /// The offset of the first byte of `got` that differs from the stream, if any.
    pub fn check(&mut self, got: &[u8]) -> Option<usize> {
        got.iter().position(|b| *b != self.next_byte())
    }
}

/// `iotscope ca init` in `dir`, and the CA exported for a device to trust:
/// (CA directory for `--ca-dir`, the exported CA file).
pub fn mitm_ca(dir: &crate::pki::Dir) -> (String, String) {
    let ca_dir = dir.file("iotscope-ca");
    let init = crate::run(&["ca", "init", "--ca-dir", &ca_dir]);
    assert!(init.status.success(), "iotscope ca init: {init:?}");
    let export = crate::run(&["ca", "export", "--ca-dir", &ca_dir]);
    let trust = dir.put("iotscope-ca.pem", &String::from_utf8_lossy(&export.stdout));
    (ca_dir, trust)
}

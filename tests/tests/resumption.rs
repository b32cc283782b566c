//! Resumed TLS sessions between real peers: `openssl s_server` as the endpoint and
//! `openssl s_client` as the device, each connection captured with tcpdump (nothing of
//! iotscope on the path) and replayed with the device's key log.
//!
//! - TLS 1.3 with early data (0-RTT): the device's second connection resumes with
//!   `-sess_in` and sends its MQTT CONNECT as early data (`-early_data FILE`); the replay must
//!   decode that CONNECT in its place, after the endpoint's ServerHello and before the device's
//!   EndOfEarlyData.
//! - TLS 1.2 resumption by session ticket and by session ID (`-no_ticket` on the server): the
//!   abbreviated handshake has no Certificate, decrypts from the CLIENT_RANDOM line of the
//!   resumed connection, and carries no error.
//!
//! The endpoint answers CONNECT with a CONNACK typed into s_server, so each connection works.
//! The captures and key logs are kept in `captures/resumption/` (see its README) and replayed
//! by the `fixture_*` tests, which need no openssl; `IOTSCOPE_WRITE_FIXTURES=1` makes the live
//! tests write them there again.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotscope_tests::pki::{ca, Dir, Leaf};
use iotscope_tests::proxy::{dead_port, WAIT};
use iotscope_tests::tcpdump::Tcpdump;
use iotscope_tests::{codes, codes_of, have_tool, replay_json, root};
use serde_json::Value;

/// MQTT 3.1.1 CONNECT for client id `sclient-1`, keep-alive 60, clean session.
const CONNECT: &[u8] = b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09sclient-1";
const CONNACK: &[u8] = b"\x20\x02\x00\x00";

/// A child whose standard output is collected by a thread while it runs.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Peer {
    fn spawn(args: &[String]) -> Peer {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Peer { child, stdin, out }
    }

    /// Waits until the output holds `needle` (bytes after `from`); returns where it ends.
    fn wait_for(&self, needle: &[u8], from: usize, what: &str) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let out = self.out.lock().unwrap();
                if let Some(at) = out
                    .get(from..)
                    .unwrap_or_default()
                    .windows(needle.len())
                    .position(|w| w == needle)
                {
                    return from + at + needle.len();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen; output so far: {:?}",
                String::from_utf8_lossy(&self.out.lock().unwrap())
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes its input and waits (bounded) for it to exit.
    fn finish(mut self, what: &str) {
        self.stdin = None;
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what} did not finish");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits (bounded) until something listens on `port`, by /proc/net so that no connection
/// uses up one of s_server's `-naccept`.
fn wait_listening(port: u16) {
    let needle = format!(":{port:04X} ");
    let deadline = Instant::now() + WAIT;
    loop {
        let listening = ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && format!("{} ", cols[1]).ends_with(&needle) && cols[3] == "0A"
                })
        });
        if listening {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "s_server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Two connections from the same device to one s_server: the first makes the session, the
/// second resumes it. `server_extra` / `client_extra` are the options of the case; with
/// `early_data` the second connection's CONNECT goes as early data. Returns the capture and
/// the device's key log.
fn capture(
    name: &str,
    server_extra: &[&str],
    client_extra: &[&str],
    early_data: bool,
) -> (Dir, String, String) {
    let files = Dir::new(name);
    let ours = ca("iotscope resumption CA");
    let server = Leaf::new(&ours, "localhost", &["localhost"], false);
    let cert = files.put("server.pem", &server.cert_pem);
    let key = files.put("server.key", &server.key_pem);
    let early = files.join("early.bin").display().to_string();
    std::fs::write(&early, CONNECT).unwrap();
    let pcap = files.join(&format!("{name}.pcap")).display().to_string();
    let keys = files.join(&format!("{name}.keys")).display().to_string();
    let sess = files.join("session.pem").display().to_string();
    let port = dead_port();
    let dump = Tcpdump::start(port, &pcap);

    let mut args = s(&["s_server", "-brief", "-accept"]);
    args.push(port.to_string());
    args.extend(s(&["-cert", &cert, "-key", &key, "-naccept", "2"]));
    args.extend(s(server_extra));
    let mut endpoint = Peer::spawn(&args);
    wait_listening(port);
    let mut seen = 0;

    for resumed in [false, true] {
        let mut args = s(&["s_client", "-brief", "-no_ign_eof", "-connect"]);
        args.push(format!("127.0.0.1:{port}"));
        args.extend(s(&["-servername", "localhost", "-keylogfile", &keys]));
        args.push(if resumed { "-sess_in" } else { "-sess_out" }.to_string());
        args.push(sess.clone());
        if resumed && early_data {
            args.extend(s(&["-early_data", &early]));
        }
        args.extend(s(client_extra));
        let mut device = Peer::spawn(&args);
        if !(resumed && early_data) {
            device.write(CONNECT);
        }
        seen = endpoint.wait_for(b"sclient-1", seen, "the CONNECT at s_server");
        endpoint.write(CONNACK);
        device.wait_for(CONNACK, 0, "the CONNACK at s_client");
        // Let the first connection's session ticket reach -sess_out before it closes.
        std::thread::sleep(Duration::from_millis(200));
        device.finish("s_client");
    }
    endpoint.finish("s_server");
    std::thread::sleep(Duration::from_millis(300));
    dump.stop();

    if std::env::var_os("IOTSCOPE_WRITE_FIXTURES").is_some() {
        let dir = root().join("captures/resumption");
        std::fs::copy(&pcap, dir.join(format!("{name}.pcap"))).unwrap();
        std::fs::copy(&keys, dir.join(format!("{name}.keys"))).unwrap();
    }
    (files, pcap, keys)
}

fn replay(pcap: &str, keys: &str) -> Vec<Value> {
    let (conns, out) = replay_json(&[
        "--events",
        "--keylog",
        keys,
        "--endpoint",
        "localhost",
        pcap,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(conns.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    conns
}

/// Index of the first event that `f` picks.
fn position(conn: &Value, what: &str, f: impl Fn(&Value) -> bool) -> usize {
    conn["events"]
        .as_array()
        .unwrap()
        .iter()
        .position(f)
        .unwrap_or_else(|| panic!("no {what} in {:#}", conn["events"]))
}

/// Both connections worked and were read whole: CONNECT sclient-1 and CONNACK 0 decrypted,
/// no error, nothing left encrypted, nothing said about certificates.
fn assert_worked(conn: &Value, what: &str) {
    assert!(
        codes_of(conn, "error").is_empty(),
        "{what}: {}",
        conn["findings"]
    );
    assert!(
        !codes(conn)
            .iter()
            .any(|c| c == "TLS.NOT_DECRYPTED" || c.starts_with("AUTH.")),
        "{what}: {}",
        conn["findings"]
    );
    assert_eq!(
        conn["mqtt"]["connect"]["client_id"], "sclient-1",
        "{what}: {}",
        conn["mqtt"]
    );
    assert_eq!(
        conn["mqtt"]["connack"]["return_code"], 0,
        "{what}: {}",
        conn["mqtt"]
    );
}

fn check_early_data(conns: &[Value]) {
    assert_worked(&conns[0], "the first connection");
    let resumed = &conns[1];
    assert_worked(resumed, "the resumed connection");
    let is = |e: &Value, event: &str, dir: &str| e["event"] == event && e["dir"] == dir;
    let hello = position(resumed, "ServerHello", |e| {
        is(e, "server_hello", "endpoint_to_device")
    });
    let note = position(resumed, "the early data note", |e| {
        is(e, "note", "device_to_endpoint")
            && e["text"]
                .as_str()
                .unwrap_or("")
                .contains("which the endpoint accepted")
    });
    let connect = position(resumed, "CONNECT", |e| {
        is(e, "mqtt", "device_to_endpoint") && e["decrypted"] == true
    });
    let eoed = position(resumed, "EndOfEarlyData", |e| {
        is(e, "handshake", "device_to_endpoint") && e["kind"] == "end_of_early_data"
    });
    assert!(
        hello < note && note < connect && connect < eoed,
        "{:#}",
        resumed["events"]
    );
    // The resumption sent no certificate.
    assert!(
        !resumed["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "certificate"),
        "{:#}",
        resumed["events"]
    );
}

fn check_tls12_resumed(conns: &[Value], what: &str) {
    assert_worked(&conns[0], what);
    let resumed = &conns[1];
    assert_worked(resumed, what);
    assert_eq!(
        resumed["tls"]["version"], "TLS 1.2",
        "{what}: {}",
        resumed["tls"]
    );
    let events = resumed["events"].as_array().unwrap();
    assert!(
        !events.iter().any(|e| e["event"] == "certificate"),
        "{what}: {events:#?}"
    );
    // Abbreviated: the endpoint's ChangeCipherSpec and Finished come before the device's.
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "handshake" && e["kind"] == "finished")
        .map(|e| e["dir"].as_str().unwrap())
        .collect();
    assert_eq!(
        finished,
        ["endpoint_to_device", "device_to_endpoint"],
        "{what}"
    );
    assert!(events
        .iter()
        .filter(|e| e["kind"] == "finished")
        .all(|e| e["decrypted"] == true));
}

fn live() -> bool {
    have_tool("openssl") && have_tool("tcpdump")
}

#[test]
fn tls13_early_data_live() {
    if !live() {
        return;
    }
    let (_files, pcap, keys) = capture("tls13_early_data", &["-early_data"], &[], true);
    check_early_data(&replay(&pcap, &keys));
}

#[test]
fn tls12_session_ticket_live() {
    if !live() {
        return;
    }
    let (_files, pcap, keys) = capture("tls12_session_ticket", &[], &["-tls1_2"], false);
    check_tls12_resumed(&replay(&pcap, &keys), "ticket");
}

#[test]
fn tls12_session_id_live() {
    if !live() {
        return;
    }
    let (_files, pcap, keys) = capture("tls12_session_id", &["-no_ticket"], &["-tls1_2"], false);
    check_tls12_resumed(&replay(&pcap, &keys), "session ID");
}

fn fixture(name: &str) -> Vec<Value> {
    let dir = root().join("captures/resumption");
    let pcap = dir.join(format!("{name}.pcap"));
    let keys = dir.join(format!("{name}.keys"));
    replay(pcap.to_str().unwrap(), keys.to_str().unwrap())
}

#[test]
fn fixture_tls13_early_data() {
    check_early_data(&fixture("tls13_early_data"));
}

#[test]
fn fixture_tls12_session_ticket() {
    check_tls12_resumed(&fixture("tls12_session_ticket"), "ticket");
}

#[test]
fn fixture_tls12_session_id() {
    check_tls12_resumed(&fixture("tls12_session_id"), "session ID");
}

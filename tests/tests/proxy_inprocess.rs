//! `iotscope proxy` end to end, with peers in this process: a rustls endpoint and a rustls
//! device whose certificates rcgen makes, plain TCP peers for passthrough and load, and the
//! recording replayed. The proxy runs as the real binary on loopback ports the kernel picks.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;

use iotscope_tests::mqtt_script;
use iotscope_tests::pki::{ca, provider, roots, server_config, versions, Ca, ClientAuth, Leaf};
use iotscope_tests::proxy::{dead_port, Noise, ProxyProcess, WAIT};
use iotscope_tests::{codes, codes_of, replay_json};
use rustls::pki_types::ServerName;
use rustls::StreamOwned;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use serde_json::Value;

const BROKER: &str = "broker.test";

/// The PKI of one test: the endpoint's CA (which also issues device certificates) and a
/// stranger CA that neither side should trust.
struct Pki {
    ca: Ca,
    stranger: Ca,
    server: Leaf,
}

impl Pki {
    fn new() -> Pki {
        let stranger = ca("stranger CA");
        let ours = ca("iotscope test CA");
        let server = Leaf::new(&ours, BROKER, &[BROKER], false);
        Pki {
            stranger,
            ca: ours,
            server,
        }
    }

    fn device_leaf(&self) -> Leaf {
        Leaf::new(&self.ca, "thermostat-12", &[], true)
    }
}

// ---------------------------------------------------------------- the TLS peers

/// A rustls endpoint on a free loopback port that answers each CONNECT with a CONNACK.
/// Each connection's outcome comes back on the channel.
fn endpoint(
    pki: &Pki,
    tls: u16,
    client_roots: Option<Arc<RootCertStore>>,
) -> (u16, Receiver<Result<(), String>>) {
    let auth = match client_roots {
        Some(r) => ClientAuth::Required(r),
        None => ClientAuth::Off,
    };
    let config = server_config(&pki.server, tls, auth);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let config = config.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = tx.send(serve_one(sock, config));
            });
        }
    });
    (port, rx)
}

fn serve_one(sock: TcpStream, config: Arc<ServerConfig>) -> Result<(), String> {
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, sock);
    let mut head = [0u8; 2];
    tls.read_exact(&mut head).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; head[1] as usize];
    tls.read_exact(&mut body).map_err(|e| e.to_string())?;
    if head[0] != 0x10 || body.len() < 7 {
        return Err(format!("not a CONNECT: {head:?}"));
    }
    let level = body[6];
    tls.write_all(&mqtt_script::connack(level, 0))
        .map_err(|e| e.to_string())?;
    tls.conn.send_close_notify();
    tls.flush().map_err(|e| e.to_string())?;
    let _ = tls.sock.shutdown(Shutdown::Write);
    // Wait for the device to go, so the close is the device's.
    let mut rest = Vec::new();
    let _ = tls.sock.read_to_end(&mut rest);
    Ok(())
}

struct Device {
    tls: u16,
    roots: Arc<RootCertStore>,
    cert: Option<Leaf>,
    sni: bool,
    mqtt: u8,
}

impl Device {
    /// Connects through the proxy, sends CONNECT, returns the CONNACK (or the error).
    fn run(self, proxy_port: u16) -> Result<Vec<u8>, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(self.tls))
            .unwrap()
            .with_root_certificates(self.roots);
        let mut config = match self.cert {
            Some(c) => builder.with_client_auth_cert(c.chain, c.key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = self.sni;
        let sock = TcpStream::connect(("127.0.0.1", proxy_port)).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let name = ServerName::try_from(BROKER).unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut tls = StreamOwned::new(conn, sock);
        let result = (|| {
            tls.write_all(&mqtt_script::connect(self.mqtt, "thermostat-12"))?;
            tls.flush()?;
            let mut ack = vec![0u8; mqtt_script::connack(self.mqtt, 0).len()];
            tls.read_exact(&mut ack)?;
            Ok::<_, std::io::Error>(ack)
        })()
        .map_err(|e| e.to_string());
        tls.conn.send_close_notify();
        let _ = tls.flush();
        let _ = tls.sock.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = tls.sock.read_to_end(&mut rest);
        result
    }
}

/// Runs one device through a fresh proxy to `upstream_port`, returns the device's outcome
/// and the proxy's object for the connection.
fn through_proxy(
    upstream_port: u16,
    extra: &[&str],
    device: Device,
) -> (Result<Vec<u8>, String>, Value) {
    let up = format!("127.0.0.1:{upstream_port}");
    let mut args = vec!["--upstream", &up, "--endpoint", BROKER];
    args.extend_from_slice(extra);
    let proxy = ProxyProcess::start(&args);
    let outcome = device.run(proxy.port);
    let conn = proxy.next_connection();
    let (status, _, stderr) = proxy.stop();
    assert!(status.code().is_some(), "proxy died by a signal: {stderr}");
    (outcome, conn)
}

fn tls_version(conn: &Value) -> &str {
    conn["tls"]["version"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------- the cases

fn success(tls: u16, mqtt: u8) {
    let pki = Pki::new();
    let (port, results) = endpoint(&pki, tls, Some(roots(&pki.ca)));
    let device = Device {
        tls,
        roots: roots(&pki.ca),
        cert: Some(pki.device_leaf()),
        sni: true,
        mqtt,
    };
    let (outcome, conn) = through_proxy(port, &[], device);
    assert_eq!(outcome.unwrap(), mqtt_script::connack(mqtt, 0));
    results.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(conn["tls"]["sni"], BROKER);
    assert_eq!(
        tls_version(&conn),
        if tls == 13 { "TLS 1.3" } else { "TLS 1.2" }
    );
    assert_eq!(conn["source"], "proxy");
    assert_eq!(conn["endpoint"], format!("127.0.0.1:{port}"));
    assert!(
        codes_of(&conn, "error").is_empty(),
        "a working connection has errors: {:?}",
        conn["findings"]
    );
    // Both sides' certificates crossed the proxy untouched (TLS 1.2 shows them in the clear).
    if tls == 12 {
        assert!(
            conn["certificates"].to_string().contains(BROKER),
            "{}",
            conn["certificates"]
        );
    }
}

#[test]
fn success_tls13_mqtt311() {
    success(13, 4);
}

#[test]
fn success_tls13_mqtt5() {
    success(13, 5);
}

#[test]
fn success_tls12_mqtt311() {
    success(12, 4);
}

#[test]
fn success_tls12_mqtt5() {
    success(12, 5);
}

#[test]
fn device_without_sni() {
    let pki = Pki::new();
    let (port, _results) = endpoint(&pki, 13, Some(roots(&pki.ca)));
    let device = Device {
        tls: 13,
        roots: roots(&pki.ca),
        cert: Some(pki.device_leaf()),
        sni: false,
        mqtt: 4,
    };
    let (outcome, conn) = through_proxy(port, &[], device);
    // The endpoint here does not need the name; the finding is about what the device sent.
    assert_eq!(outcome.unwrap(), mqtt_script::connack(4, 0));
    assert!(conn["tls"]["sni"].is_null(), "{}", conn["tls"]);
    assert!(
        codes(&conn).contains(&"CONN.SNI_MISSING".to_string()),
        "{:?}",
        conn["findings"]
    );
}

#[test]
fn device_that_does_not_trust_the_endpoint() {
    let pki = Pki::new();
    let (port, _results) = endpoint(&pki, 12, Some(roots(&pki.ca)));
    let device = Device {
        tls: 12,
        roots: roots(&pki.stranger),
        cert: Some(pki.device_leaf()),
        sni: true,
        mqtt: 4,
    };
    let (outcome, conn) = through_proxy(port, &[], device);
    let err = outcome.unwrap_err();
    assert!(
        err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
        "{err}"
    );
    assert!(
        codes(&conn).contains(&"AUTH.SERVER_CERT_UNTRUSTED".to_string()),
        "{:?}",
        conn["findings"]
    );
    let alerts = conn["tls"]["alerts"].to_string();
    assert!(alerts.contains("unknown_ca"), "{alerts}");
}

#[test]
fn endpoint_that_refuses_the_device_certificate() {
    let pki = Pki::new();
    let (port, results) = endpoint(&pki, 12, Some(roots(&pki.ca)));
    let device = Device {
        tls: 12,
        roots: roots(&pki.ca),
        // Issued by a CA the endpoint does not know.
        cert: Some(Leaf::new(&pki.stranger, "thermostat-12", &[], true)),
        sni: true,
        mqtt: 4,
    };
    let (outcome, conn) = through_proxy(port, &[], device);
    assert!(outcome.is_err(), "the device got through: {outcome:?}");
    assert!(results.recv_timeout(WAIT).unwrap().is_err());
    let found = codes(&conn);
    assert!(
        found.contains(&"AUTH.CLIENT_CERT_REJECTED".to_string()),
        "{:?}",
        conn["findings"]
    );
}

#[test]
fn endpoint_that_gets_no_device_certificate() {
    let pki = Pki::new();
    let (port, _results) = endpoint(&pki, 12, Some(roots(&pki.ca)));
    let device = Device {
        tls: 12,
        roots: roots(&pki.ca),
        cert: None,
        sni: true,
        mqtt: 4,
    };
    let (outcome, conn) = through_proxy(port, &[], device);
    assert!(outcome.is_err(), "the device got through: {outcome:?}");
    assert!(
        codes(&conn).contains(&"AUTH.CLIENT_CERT_MISSING".to_string()),
        "{:?}",
        conn["findings"]
    );
}

#[test]
fn upstream_down() {
    let pki = Pki::new();
    let device = Device {
        tls: 13,
        roots: roots(&pki.ca),
        cert: Some(pki.device_leaf()),
        sni: true,
        mqtt: 4,
    };
    let (outcome, conn) = through_proxy(dead_port(), &[], device);
    assert!(outcome.is_err(), "the device got through: {outcome:?}");
    assert_eq!(
        codes_of(&conn, "error"),
        ["CONN.UPSTREAM_UNREACHABLE"],
        "{:?}",
        conn["findings"]
    );
    let f = &conn["findings"][0];
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{f}"
    );
    // The device's side was closed with a FIN, and its ClientHello was still read.
    assert_eq!(conn["tcp"]["rst_from"], serde_json::json!([]));
    assert_eq!(conn["tls"]["sni"], BROKER);
}

#[test]
fn upstream_name_that_does_not_resolve() {
    let proxy = ProxyProcess::start(&["--upstream", "no-such-host.invalid:8883"]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    // The proxy closes the device's side itself.
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty());
    drop(s);
    let conn = proxy.next_connection();
    assert_eq!(codes(&conn), ["CONN.UPSTREAM_UNREACHABLE"]);
    assert!(
        conn["findings"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("no-such-host.invalid"),
        "{}",
        conn["findings"][0]
    );
    let (status, _, _) = proxy.stop();
    assert_eq!(
        status.code(),
        Some(1),
        "an error finding makes the exit status 1"
    );
}

// ---------------------------------------------------------------- passthrough and load

/// An upstream that checks it receives `Noise(seed_in)` of `len` bytes and sends
/// `Noise(seed_out)` of `len` bytes back at the same time, then closes its half.
fn noise_peer(sock: TcpStream, len: usize, seed_in: u64, seed_out: u64) -> Result<(), String> {
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut writer = sock.try_clone().unwrap();
    let sender = thread::spawn(move || -> std::io::Result<()> {
        let mut noise = Noise::new(seed_out);
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len());
            noise.fill(&mut buf[..n]);
            writer.write_all(&buf[..n])?;
            left -= n;
        }
        writer.shutdown(Shutdown::Write)
    });
    let mut reader = sock;
    let mut check = Noise::new(seed_in);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("after {got} bytes: {e}"))?;
        if n == 0 {
            break;
        }
        if let Some(at) = check.check(&buf[..n]) {
            return Err(format!("byte {} differs", got + at));
        }
        got += n;
    }
    sender
        .join()
        .map_err(|_| "sender panicked".to_string())?
        .map_err(|e| e.to_string())?;
    if got != len {
        return Err(format!("received {got} bytes of {len}"));
    }
    Ok(())
}

fn noise_upstream(len: usize) -> (u16, Receiver<Result<(), String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = tx.send(noise_peer(sock, len, 1, 2));
            });
        }
    });
    (port, rx)
}

#[test]
fn passthrough_is_byte_for_byte_both_ways() {
    const LEN: usize = 32 << 20;
    let (port, results) = noise_upstream(LEN);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up]);
    let sock = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    noise_peer(sock, LEN, 2, 1).expect("device side");
    results.recv_timeout(WAIT).unwrap().expect("upstream side");
    let conn = proxy.next_connection();
    // Both halves were closed in turn, with FINs: half-close passed through.
    let fins = conn["tcp"]["fin_from"].to_string();
    assert!(
        fins.contains("device") && fins.contains("endpoint"),
        "{fins}"
    );
    assert_eq!(conn["tcp"]["rst_from"], serde_json::json!([]));
    proxy.stop();
}

#[test]
fn a_few_hundred_connections_at_once() {
    const CONNS: usize = 300;
    const LEN: usize = 64 * 1024;
    let (port, results) = noise_upstream(LEN);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--max-connections", "1000"]);
    let proxy_port = proxy.port;
    let devices: Vec<_> = (0..CONNS)
        .map(|_| {
            thread::spawn(move || {
                let sock =
                    TcpStream::connect(("127.0.0.1", proxy_port)).map_err(|e| e.to_string())?;
                noise_peer(sock, LEN, 2, 1)
            })
        })
        .collect();
    for (i, d) in devices.into_iter().enumerate() {
        d.join()
            .unwrap()
            .unwrap_or_else(|e| panic!("device {i}: {e}"));
    }
    for i in 0..CONNS {
        results
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("upstream connection {i} did not finish"))
            .unwrap_or_else(|e| panic!("upstream connection {i}: {e}"));
    }
    let mut numbers: Vec<u64> = (0..CONNS)
        .map(|_| proxy.next_connection()["connection"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), CONNS, "every connection reported once");
    let (_, _, stderr) = proxy.stop();
    assert!(stderr.contains(&format!("{CONNS} connections")), "{stderr}");
}

#[test]
fn connections_beyond_the_limit_are_refused() {
    let (port, _results) = noise_upstream(8);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--max-connections", "1"]);
    // The first holds the only slot: it sends nothing until the second was refused.
    let first = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    let mut second = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    let refused = second.read_to_end(&mut buf);
    assert!(refused.is_err() || buf.is_empty(), "{refused:?} {buf:?}");
    noise_peer(first, 8, 2, 1).expect("the first connection still works");
    let conn = proxy.next_connection();
    assert_eq!(conn["connection"], 1);
    let (_, rest, stderr) = proxy.stop();
    assert!(stderr.contains("--max-connections"), "{stderr}");
    assert!(rest.iter().all(|v| v.get("findings").is_none()), "{rest:?}");
}

// ---------------------------------------------------------------- limits

#[test]
fn handshake_timeout_closes_and_reports() {
    // An endpoint that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = thread::spawn(move || listener.accept().map(|(s, _)| s));
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--handshake-timeout", "0.5", "--events"]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // The start of a ClientHello record: TLS, and never finished.
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01]).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let conn = proxy.next_connection();
    let cuts: Vec<&Value> = conn["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "cut")
        .collect();
    assert!(
        cuts.iter().any(|c| c["cause"] == "handshake_timeout"
            && c["text"].as_str().unwrap().contains("--handshake-timeout")),
        "{cuts:?}"
    );
    // The device stalled in its hello: the finding says so, and does not blame the endpoint.
    let found = codes(&conn);
    assert!(
        found.contains(&"CONN.DEVICE_STALLED".to_string()),
        "{found:?}"
    );
    assert!(!found.contains(&"CONN.NO_ANSWER".to_string()), "{found:?}");
    drop(hold);
    proxy.stop();
}

#[test]
fn idle_timeout_closes_a_silent_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = thread::spawn(move || listener.accept().map(|(s, _)| s));
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--idle-timeout", "0.5", "--events"]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let conn = proxy.next_connection();
    let cuts: Vec<&Value> = conn["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "cut")
        .collect();
    assert!(
        cuts.iter().any(|c| c["cause"] == "idle_timeout"
            && c["text"].as_str().unwrap().contains("--idle-timeout")),
        "{cuts:?}"
    );
    proxy.stop();
}

// ---------------------------------------------------------------- recording

#[test]
fn recording_replays_to_the_same_findings() {
    let pki = Pki::new();
    let (port, _results) = endpoint(&pki, 12, Some(roots(&pki.ca)));
    let dir = std::env::temp_dir().join(format!("iotscope-proxy-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("proxy.pcapng");
    let up = format!("127.0.0.1:{port}");
    let file_arg = file.to_str().unwrap().to_string();
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        BROKER,
        "--record",
        &file_arg,
    ]);
    let devices = [
        Device {
            tls: 12,
            roots: roots(&pki.ca),
            cert: Some(pki.device_leaf()),
            sni: true,
            mqtt: 4,
        },
        Device {
            tls: 12,
            roots: roots(&pki.stranger),
            cert: Some(pki.device_leaf()),
            sni: true,
            mqtt: 4,
        },
        Device {
            tls: 12,
            roots: roots(&pki.ca),
            cert: None,
            sni: false,
            mqtt: 5,
        },
    ];
    let mut live = Vec::new();
    for d in devices {
        let _ = d.run(proxy.port);
        live.push(proxy.next_connection());
    }
    let (status, _, stderr) = proxy.stop();
    assert!(status.code().is_some(), "{stderr}");
    let (replayed, out) = replay_json(&[&file_arg, "--endpoint", BROKER]);
    assert_eq!(
        out.status.code().map(|c| c < 2),
        Some(true),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(replayed.len(), live.len());
    let key = |c: &Value| c["device"].as_str().unwrap().to_string();
    let mut replayed = replayed;
    replayed.sort_by_key(key);
    live.sort_by_key(key);
    for (l, r) in live.iter().zip(&replayed) {
        assert_eq!(key(l), key(r));
        assert_eq!(l["endpoint"], r["endpoint"]);
        let (mut a, mut b) = (codes(l), codes(r));
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "live {:?}\nreplayed {:?}",
            l["findings"], r["findings"]
        );
        assert_eq!(l["history"], r["history"]);
    }
    // The three cases differ, so the comparison compared something.
    assert!(codes(&live[0]) != codes(&live[1]) || codes(&live[1]) != codes(&live[2]));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- bad invocations

#[test]
fn bad_invocations_exit_2_with_a_reason() {
    let run = |args: &[&str]| {
        let out = iotscope_tests::iotscope()
            .args(args)
            .output()
            .expect("run iotscope");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["proxy"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--upstream"), "{err}");
    let (code, err) = run(&["proxy", "--upstream", "broker.test:0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a TCP port"), "{err}");
    let (code, err) = run(&["proxy", "--upstream", "b", "--idle-timeout", "soon"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a number of seconds"), "{err}");
    let (code, _) = run(&["proxy", "--upstream", "b", "--max-connections", "0"]);
    assert_eq!(code, Some(2));
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(&["proxy", "--upstream", "b", "--listen", &addr]);
    assert_eq!(code, Some(2));
    assert!(err.contains("already in use"), "{err}");
    let (code, err) = run(&[
        "proxy",
        "--upstream",
        "b",
        "--listen",
        "127.0.0.1:0",
        "--record",
        "/nonexistent/dir/x.pcapng",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot create the recording"), "{err}");
}

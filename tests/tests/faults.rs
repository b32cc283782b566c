//! The fault suite (issue 24): iotscope between real peers while things go wrong, and what it
//! says about it. mosquitto with TLS and client certificates is the endpoint; the devices are
//! mosquitto_sub, openssl s_client and, where a device must misbehave in a way no client
//! does on its own (stop inside its ClientHello), a raw socket.
//!
//! Every wait is bounded (`WAIT`) and only a safety net: each step waits for what the proxy
//! prints, never for a time to pass, except where the fault itself is a silence, and then the
//! assertion is a lower bound on the time the proxy reports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device, Broker};
use iotscope_tests::pki::{BrokerFiles, Dir};
use iotscope_tests::proxy::{mitm_ca, ProxyProcess, WAIT};
use iotscope_tests::{codes, have_tool};
use serde_json::Value;

/// A broker with TLS and client certificates, and the files a device needs.
struct Lab {
    dir: Dir,
    broker: Option<Broker>,
    port: u16,
    ca: String,
    cert: String,
    key: String,
}

impl Lab {
    /// `None` when mosquitto or its clients are missing (outside CI; in CI that fails).
    fn new(name: &str) -> Option<Lab> {
        let bin = mosquitto_bin();
        let clients =
            have_tool("mosquitto_pub") && have_tool("mosquitto_sub") && have_tool("stdbuf");
        let (Some(bin), true) = (bin, clients) else {
            return None;
        };
        let dir = Dir::new(name);
        let BrokerFiles {
            ca: ca_pem,
            server_cert: scert,
            server_key: skey,
            device_cert: cert,
            device_key: key,
        } = BrokerFiles::write(&dir, "faults CA", "thermostat-12");
        let (b, port) = broker(&bin, &dir, &ca_pem, &scert, &skey, "");
        Some(Lab {
            dir,
            broker: Some(b),
            port,
            ca: ca_pem,
            cert,
            key,
        })
    }

    fn upstream(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn mitm(&self, ca_dir: &str, extra: &[&str]) -> ProxyProcess {
        let up = self.upstream();
        let mut args = vec![
            "--upstream",
            &up,
            "--endpoint",
            "localhost",
            "--mitm",
            "--ca-dir",
            ca_dir,
            "--device-cert",
            &self.cert,
            "--device-key",
            &self.key,
            "--upstream-ca",
            &self.ca,
        ];
        args.extend_from_slice(extra);
        ProxyProcess::start(&args)
    }

    /// Kills the broker (SIGKILL): it sends no DISCONNECT and no close_notify.
    fn kill_broker(&mut self) {
        drop(self.broker.take());
    }
}

/// The events of a connection object (`--events`).
fn events(conn: &Value) -> &Vec<Value> {
    conn["events"].as_array().expect("events (--events)")
}

fn finding<'a>(conn: &'a Value, code: &str) -> &'a Value {
    conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {}", conn["findings"]))
}

/// A device child process that is killed when dropped.
struct Device(Child);

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// mosquitto_sub on sensors/t1 at QoS 1 through the proxy, printing its debug lines (the
/// packets it sends and gets), with its standard output to read.
fn subscriber(
    port: u16,
    trust: &str,
    lab: &Lab,
    extra: &[&str],
) -> (Device, BufReader<std::process::ChildStdout>) {
    // Line-buffered, so that each debug line arrives as it is printed.
    let mut cmd = Command::new("stdbuf");
    cmd.args([
        "-oL",
        "mosquitto_sub",
        "-h",
        "localhost",
        "-p",
        &port.to_string(),
        "--cafile",
        trust,
        "--cert",
        &lab.cert,
        "--key",
        &lab.key,
        "-t",
        "sensors/t1",
        "-q",
        "1",
        "-i",
        "thermostat-12",
        "-d",
    ])
    .args(extra)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start mosquitto_sub");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    (Device(child), out)
}

/// Reads a device's output until a line contains `needle`, within `WAIT`.
fn wait_for_line(out: BufReader<std::process::ChildStdout>, needle: &'static str) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if line.contains(needle) {
                let _ = tx.send(());
                return;
            }
        }
    });
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("the subscriber never printed {needle:?}"));
}

// ---------------------------------------------------------------- item 2: a device stalls

#[test]
fn a_device_that_stalls_in_its_hello_is_not_the_endpoints_silence() {
    let Some(lab) = Lab::new("faults-stall") else {
        return;
    };
    let up = lab.upstream();
    let proxy = ProxyProcess::start(&["--upstream", &up, "--handshake-timeout", "1", "--events"]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // Six bytes of a ClientHello record that declares 200, and then nothing.
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let conn = proxy.next_connection();
    let found = codes(&conn);
    assert!(!found.contains(&"CONN.NO_ANSWER".to_string()), "{found:?}");
    let f = finding(&conn, "CONN.DEVICE_STALLED");
    assert_eq!(f["severity"], "error");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("6 of the 205 bytes"), "{summary}");
    assert!(summary.contains("--handshake-timeout"), "{summary}");
    let unfinished = events(&conn)
        .iter()
        .find(|e| e["event"] == "unfinished")
        .unwrap_or_else(|| panic!("no unfinished event: {}", conn["events"]));
    assert_eq!(unfinished["what"], "a ClientHello record");
    assert_eq!(unfinished["held"], 6);
    assert_eq!(unfinished["need"], 205);
    assert!(events(&conn)
        .iter()
        .any(|e| e["event"] == "cut" && e["cause"] == "handshake_timeout"));
    // The next steps name the port the connection really went to.
    let steps = f["next_steps"].to_string();
    assert!(
        steps.contains(&format!("localhost:{}", lab.port))
            || steps.contains(&format!("127.0.0.1:{}", lab.port)),
        "{steps}"
    );

    // The look-alike: a whole ClientHello (openssl s_client) that gets its answer is no stall.
    if have_tool("openssl") {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &proxy.addr(),
            "-servername",
            "localhost",
            "-CAfile",
            &lab.ca,
            "-cert",
            &lab.cert,
            "-key",
            &lab.key,
            "-brief",
        ]);
        run_device(cmd, b"");
        let whole = proxy.next_connection();
        let found = codes(&whole);
        assert!(
            !found.contains(&"CONN.DEVICE_STALLED".to_string()),
            "{found:?}"
        );
    }
    proxy.stop();
}

#[test]
fn mitm_a_device_that_stalls_in_its_hello_is_said_too() {
    let Some(lab) = Lab::new("faults-stall-mitm") else {
        return;
    };
    let (ca_dir, _) = mitm_ca(&lab.dir);
    let proxy = lab.mitm(&ca_dir, &["--handshake-timeout", "1", "--events"]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let conn = proxy.next_connection();
    let found = codes(&conn);
    assert_eq!(found, ["CONN.DEVICE_STALLED"], "{}", conn["findings"]);
    let summary = finding(&conn, "CONN.DEVICE_STALLED")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(summary.contains("no whole ClientHello"), "{summary}");
    assert!(summary.contains("--handshake-timeout"), "{summary}");
    proxy.stop();
}

// ---------------------------------------------------------------- item 3: a device dies

#[test]
fn mitm_records_a_device_killed_inside_an_absurd_connect() {
    let Some(lab) = Lab::new("faults-kill-device") else {
        return;
    };
    if !have_tool("openssl") {
        return;
    }
    let (ca_dir, trust) = mitm_ca(&lab.dir);
    let proxy = lab.mitm(&ca_dir, &["--events"]);
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &proxy.addr(),
            "-servername",
            "localhost",
            "-CAfile",
            &trust,
            "-cert",
            &lab.cert,
            "-key",
            &lab.key,
            "-quiet",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_client");
    // Once the device's handshake with iotscope is done, the start of a CONNECT whose
    // remaining length is the most MQTT can say (268,435,455), and nothing more.
    loop {
        let line = proxy.next_line();
        if line["event"] == "device_leg" {
            break;
        }
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"\x10\xff\xff\xff\x7f\x00\x04MQTT\x04\x02\x00\x3c")
        .unwrap();
    stdin.flush().unwrap();
    // Wait until the bytes reached the endpoint's leg (the decoder has classified them).
    loop {
        let line = proxy.next_line();
        if line["event"] == "protocol"
            && line["decrypted"] == true
            && line["dir"] == "device_to_endpoint"
        {
            break;
        }
    }
    let silent = Duration::from_millis(1500);
    std::thread::sleep(silent);
    // kill -9: no close_notify, no DISCONNECT.
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let conn = proxy.next_connection();
    assert_eq!(conn["tcp"]["fin_from"][0], "device", "{}", conn["tcp"]);
    let duration = conn["duration_s"].as_f64().unwrap();
    assert!(
        duration >= silent.as_secs_f64(),
        "the connection lasted at least the device's silence, not {duration} s"
    );
    // The packet is in the MQTT summary, with what its header declared.
    let cut = &conn["mqtt"]["unfinished"][0];
    assert_eq!(cut["from"], "device", "{}", conn["mqtt"]);
    assert_eq!(cut["type"], "CONNECT", "{}", conn["mqtt"]);
    assert_eq!(cut["declared_bytes"], 268_435_460, "{}", conn["mqtt"]);
    assert_eq!(cut["received_bytes"], 15, "{}", conn["mqtt"]);
    let f = finding(&conn, "MQTT.AWS_LIMIT");
    assert_eq!(f["severity"], "error");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("268435460 bytes"), "{summary}");
    assert!(summary.contains("the most MQTT can express"), "{summary}");
    // The silence is the device's own, measured from its last bytes to its close.
    let silence: f64 = summary
        .split("closed the connection ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no silence in: {summary}"));
    assert!(silence >= 1.5, "{summary}");
    proxy.stop();
}

// ---------------------------------------------------------------- item 4: the endpoint dies

/// mosquitto_sub holds a QoS 1 subscription through the proxy; the broker is killed under it.
fn broker_killed(mitm: bool) {
    let Some(mut lab) = Lab::new(if mitm {
        "faults-kill-broker-mitm"
    } else {
        "faults-kill-broker"
    }) else {
        return;
    };
    let (proxy, trust) = if mitm {
        let (ca_dir, trust) = mitm_ca(&lab.dir);
        (lab.mitm(&ca_dir, &[]), trust)
    } else {
        let up = lab.upstream();
        let p = ProxyProcess::start(&["--upstream", &up, "--endpoint", "localhost"]);
        (p, lab.ca.clone())
    };
    // In passthrough the MQTT is encrypted: the ALPN AWS IoT uses for MQTT on 443 says what
    // the connection carries (mosquitto ignores it).
    let alpn: &[&str] = if mitm {
        &[]
    } else {
        &["--tls-alpn", "x-amzn-mqtt-ca"]
    };
    let (sub, out) = subscriber(proxy.port, &trust, &lab, alpn);
    // With -d, mosquitto_sub says when its subscription is acknowledged.
    wait_for_line(out, "SUBACK");
    lab.kill_broker();
    let conn = proxy.next_connection();
    drop(sub);
    // A killed broker's kernel closes its socket with a FIN, or with a reset when bytes it
    // had not read were waiting: either way the endpoint's.
    let tcp = &conn["tcp"];
    assert!(
        tcp["fin_from"][0] == "endpoint" || tcp["rst_from"][0] == "endpoint",
        "{tcp}"
    );
    let f = finding(&conn, "CONN.ENDPOINT_CLOSED");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("a session it had accepted"), "{summary}");
    if mitm {
        assert!(summary.contains("Nothing the device had sent"), "{summary}");
        assert!(f["next_steps"].to_string().contains("thermostat-12"), "{f}");
    } else {
        assert!(summary.contains("encrypted"), "{summary}");
    }
    assert!(f["next_steps"].to_string().contains("AWSIotLogsV2"), "{f}");
    proxy.stop();
}

#[test]
fn the_endpoint_dropping_a_live_session_is_said_in_passthrough() {
    broker_killed(false);
}

#[test]
fn the_endpoint_dropping_a_live_session_is_said_in_mitm() {
    broker_killed(true);
}

#[test]
fn mitm_a_publish_left_unacknowledged_by_a_dying_broker() {
    let Some(mut lab) = Lab::new("faults-publish-pending") else {
        return;
    };
    let (ca_dir, trust) = mitm_ca(&lab.dir);
    let proxy = lab.mitm(&ca_dir, &["--events"]);
    // mosquitto_pub -l stays connected and publishes each line it reads, at QoS 1.
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-h",
            "localhost",
            "-p",
            &proxy.port.to_string(),
            "--cafile",
            &trust,
            "--cert",
            &lab.cert,
            "--key",
            &lab.key,
            "-t",
            "sensors/t1",
            "-q",
            "1",
            "-i",
            "thermostat-12",
            "-l",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto_pub -l");
    let mut stdin = child.stdin.take().expect("stdin");
    let device = Device(child);
    let packet = |line: &Value, dir: &str, t: &str| {
        line["event"] == "mqtt" && line["dir"] == dir && line["type"] == t
    };
    while !packet(&proxy.next_line(), "endpoint_to_device", "connack") {}
    // The broker stops reading (SIGSTOP): the PUBLISH reaches its socket, no PUBACK comes.
    let broker = lab.broker.as_ref().expect("broker").pid().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &broker])
        .status()
        .unwrap()
        .success());
    stdin.write_all(b"42\n").unwrap();
    stdin.flush().unwrap();
    while !packet(&proxy.next_line(), "device_to_endpoint", "publish") {}
    // Then it dies (SIGKILL) with the PUBLISH unread.
    lab.kill_broker();
    let conn = proxy.next_connection();
    drop(device);
    let tcp = &conn["tcp"];
    assert!(
        tcp["fin_from"][0] == "endpoint" || tcp["rst_from"][0] == "endpoint",
        "{tcp}"
    );
    // On the wire this is a close right after a PUBLISH: read first as a refusal (how AWS IoT
    // answers a PUBLISH over MQTT 3.1.1 that the policy denies), with the endpoint going
    // away named beside it, and what tells them apart.
    let f = finding(&conn, "AUTHZ.PUBLISH_DENIED");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("PUBLISH on topic sensors/t1"), "{summary}");
    assert!(summary.contains("without acknowledging it"), "{summary}");
    assert!(f["candidates"].to_string().contains("went away"), "{f}");
    assert!(f["settle"].to_string().contains("Disconnect entry"), "{f}");
    proxy.stop();
}

#[test]
fn a_device_that_ends_its_own_session_is_no_endpoint_fault() {
    let Some(lab) = Lab::new("faults-own-end") else {
        return;
    };
    let up = lab.upstream();
    let (ca_dir, trust) = mitm_ca(&lab.dir);
    for (mitm, proxy) in [
        (
            false,
            ProxyProcess::start(&["--upstream", &up, "--endpoint", "localhost"]),
        ),
        (true, lab.mitm(&ca_dir, &[])),
    ] {
        let ca = if mitm { &trust } else { &lab.ca };
        let cmd = mosquitto_pub(
            proxy.port,
            ca,
            Some((&lab.cert, &lab.key)),
            "sensors/t1",
            &["-i", "thermostat-12", "--tls-alpn", "x-amzn-mqtt-ca"],
        );
        assert!(run_device(cmd, b""), "publish through the proxy failed");
        let conn = proxy.next_connection();
        let found = codes(&conn);
        assert!(
            !found.contains(&"CONN.ENDPOINT_CLOSED".to_string()),
            "mitm {mitm}: {found:?}"
        );
        proxy.stop();
    }
}

// ---------------------------------------------------------------- item 5: a flood of refusals

#[test]
fn refused_connections_are_summed_up_not_logged_one_by_one() {
    let Some(lab) = Lab::new("faults-flood") else {
        return;
    };
    let up = lab.upstream();
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--max-connections",
        "1",
        "--grace",
        "1",
        "--events",
    ]);
    // One connection holds the only slot: six bytes of a hello, seen by the decoder, so it is
    // known to be in its slot before the flood.
    let mut held = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    held.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
        .unwrap();
    while proxy.next_line()["event"] != "protocol" {}
    let flood = 120;
    let started = Instant::now();
    for _ in 0..flood {
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 1];
        // A refused connection is closed at once.
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a connection over the limit was not closed: {other:?}"),
        }
    }
    let took = started.elapsed().as_secs_f64();
    let (_, _, stderr) = proxy.stop();
    drop(held);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("refused")).collect();
    // Every refusal is counted, in far fewer lines than refusals: at most two a second.
    let counted: u64 = lines
        .iter()
        .map(|l| {
            if l.contains("refused a connection from") {
                1
            } else {
                l.split("refused ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("a refusal line without a count: {l}"))
            }
        })
        .sum();
    assert_eq!(counted, flood, "{lines:#?}");
    let bound = 2 * (took.ceil() as usize + 1);
    assert!(
        lines.len() <= bound,
        "{} lines in {took:.1} s: {lines:#?}",
        lines.len()
    );
    assert!(
        lines.iter().all(|l| l.contains("--max-connections")),
        "{lines:#?}"
    );
}

/// The grace given is the time the proxy takes to exit with a connection still open (it once
/// took 7.1 s with a grace of 5), and the connection it cut is still reported. The bound is
/// the contract of `--grace`, not a speed: the slack is for process start-up on a busy machine.
#[test]
fn the_grace_bounds_the_exit_and_the_open_connection_is_reported() {
    let Some(lab) = Lab::new("faults-grace") else {
        return;
    };
    let up = lab.upstream();
    let proxy = ProxyProcess::start(&["--upstream", &up, "--grace", "2", "--events"]);
    let mut held = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    held.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
        .unwrap();
    while proxy.next_line()["event"] != "protocol" {}
    let asked = Instant::now();
    let (status, rest, stderr) = proxy.stop();
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2) + Duration::from_secs(3),
        "exit took {took:?} with --grace 2:\n{stderr}"
    );
    assert!(status.code().is_some(), "{status:?}");
    let conn = rest
        .iter()
        .find(|v| v.get("findings").is_some())
        .unwrap_or_else(|| panic!("the open connection was not reported:\n{stderr}"));
    assert!(
        events(conn)
            .iter()
            .any(|e| e["event"] == "cut" && e["cause"] == "stopping"),
        "{}",
        conn["events"]
    );
    drop(held);
}

/// Stopping in MITM mode ends the device's TLS properly: the device reads a close_notify
/// (openssl s_client -msg prints the alert), not a bare TCP close.
#[test]
fn mitm_stopping_sends_the_device_a_close_notify() {
    let Some(lab) = Lab::new("faults-mitm-stop") else {
        return;
    };
    if !have_tool("openssl") {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required under CI"
        );
        return;
    }
    let (ca_dir, trust) = mitm_ca(&lab.dir);
    let proxy = lab.mitm(&ca_dir, &["--grace", "1", "--events"]);
    let mut device = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &proxy.addr(),
            "-servername",
            "localhost",
            "-CAfile",
            &trust,
            "-cert",
            &lab.cert,
            "-key",
            &lab.key,
            "-msg",
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_client");
    // The handshake is done once the device's leg is reported.
    while proxy.next_line()["event"] != "device_leg" {}
    let (_, _, stderr) = proxy.stop();
    let mut out = String::new();
    let mut stdout = device.stdout.take().unwrap();
    let deadline = Instant::now() + WAIT;
    while device.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = device.kill();
    let _ = stdout.read_to_string(&mut out);
    drop(device.stdin.take());
    assert!(
        out.lines()
            .any(|l| l.contains("<<<") && l.contains("Alert"))
            && out.contains("close_notify"),
        "the device read no close_notify:\n{out}\nproxy:\n{stderr}"
    );
}

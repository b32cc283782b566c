//! Devices behind an HTTP proxy: `openssl s_client -proxy` (which sends CONNECT itself) as the
//! device, iotscope's proxy in front of a real tinyproxy, and mosquitto with TLS behind it:
//! device → iotscope proxy → tinyproxy → mosquitto. iotscope relays to its one upstream, the
//! HTTP proxy, and reads the tunnel's preamble, the TLS after it and (replayed from its own
//! recording with the device's key log) the MQTT inside. tinyproxy's configuration makes the
//! refusals: 403 (ConnectPort), 407 (BasicAuth), and a port where nothing listens. One test
//! leaves iotscope off the path: tcpdump captures the device and tinyproxy, and the capture
//! is replayed.

use std::process::Command;

use iotscope_tests::mosquitto::{broker, mosquitto_bin, Broker};
use iotscope_tests::pki::{ca, Dir, Leaf};
use iotscope_tests::proxy::{dead_port, ProxyProcess, WAIT};
use iotscope_tests::tcpdump::Tcpdump;
use iotscope_tests::tinyproxy::{have_tinyproxy, TinyProxy};
use iotscope_tests::{codes, codes_of, have_tool, replay_json, run};
use serde_json::Value;

/// An MQTT 3.1.1 CONNECT for client id `sclient-1`, then DISCONNECT.
const CONNECT_THEN_DISCONNECT: &[u8] =
    b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09sclient-1\xe0\x00";

/// Base64 of `thing:s3cret`, the credentials of the 407 test: they must never be printed.
const CREDENTIALS_B64: &str = "dGhpbmc6czNjcmV0";

struct Lab {
    files: Dir,
    ca: String,
    cert: String,
    key: String,
    _broker: Broker,
    broker_port: u16,
}

/// mosquitto with TLS (and a client certificate required), the CA and the device's files;
/// `None` when a tool is missing outside CI.
fn lab(name: &str) -> Option<Lab> {
    let bin = mosquitto_bin()?;
    if !have_tinyproxy() || !have_tool("openssl") {
        return None;
    }
    let files = Dir::new(name);
    let ours = ca("iotscope http proxy CA");
    let server = Leaf::new(&ours, "localhost", &["localhost"], false);
    let dev = Leaf::new(&ours, "thermostat-12", &[], true);
    let ca_pem = files.put("ca.pem", &ours.pem());
    let scert = files.put("server.pem", &server.cert_pem);
    let skey = files.put("server.key", &server.key_pem);
    let cert = files.put("device.pem", &dev.cert_pem);
    let key = files.put("device.key", &dev.key_pem);
    files.put("mqtt.bin", "");
    std::fs::write(files.join("mqtt.bin"), CONNECT_THEN_DISCONNECT).unwrap();
    let (broker, broker_port) = broker(&bin, &files, &ca_pem, &scert, &skey, "");
    Some(Lab {
        files,
        ca: ca_pem,
        cert,
        key,
        _broker: broker,
        broker_port,
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `openssl s_client -proxy 127.0.0.1:VIA -connect localhost:PORT` with the device's
/// certificate, sending CONNECT and DISCONNECT and keeping its input open long enough for
/// the answers; bounded. True when s_client succeeded.
fn device(lab: &Lab, via: u16, port: u16, extra: &[&str]) -> bool {
    let mut args = vec![
        "openssl".to_string(),
        "s_client".into(),
        "-proxy".into(),
        format!("127.0.0.1:{via}"),
        "-connect".into(),
        format!("localhost:{port}"),
        "-servername".into(),
        "localhost".into(),
        "-brief".into(),
        "-CAfile".into(),
        lab.ca.clone(),
        "-cert".into(),
        lab.cert.clone(),
        "-key".into(),
        lab.key.clone(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let line: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let script = format!(
        "(cat {}; sleep 2) | {} >/dev/null 2>&1",
        quote(&lab.files.join("mqtt.bin").display().to_string()),
        line.join(" ")
    );
    let mut child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the device did not finish: {script}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn refusal(conn: &Value) -> &Value {
    conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "CONN.HTTP_PROXY_REFUSED")
        .unwrap_or_else(|| panic!("no CONN.HTTP_PROXY_REFUSED: {}", conn["findings"]))
}

#[test]
fn tunnel_through_tinyproxy_live_and_replayed() {
    let Some(lab) = lab("http-proxy-ok") else {
        return;
    };
    let tiny = TinyProxy::start(&lab.files, "");
    let up = format!("127.0.0.1:{}", tiny.port);
    let rec = lab.files.join("through-proxy.pcapng").display().to_string();
    let keys = lab.files.join("keys.log").display().to_string();
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        "localhost",
        "--record",
        &rec,
    ]);

    // TLS 1.2, so that the endpoint's certificate can be read without keys.
    assert!(
        device(
            &lab,
            proxy.port,
            lab.broker_port,
            &["-tls1_2", "-keylogfile", &keys]
        ),
        "the device could not publish through iotscope and tinyproxy: {}",
        tiny.log()
    );
    let live = proxy.next_connection();
    let target = format!("localhost:{}", lab.broker_port);
    assert_eq!(live["http_proxy"]["target"], target.as_str(), "{live}");
    assert_eq!(live["http_proxy"]["status"], 200);
    assert_eq!(live["http_proxy"]["tunnel_open"], true);
    assert_eq!(live["protocol"], "tls");
    assert_eq!(live["tls"]["sni"], "localhost");
    let chain = &live["certificates"][0]["chain"];
    assert_eq!(
        chain[0]["common_name"], "localhost",
        "{}",
        live["certificates"]
    );
    assert!(codes_of(&live, "error").is_empty(), "{}", live["findings"]);
    assert!(!codes(&live)
        .iter()
        .any(|c| c.starts_with("CONN.HTTP_PROXY")));
    let (status, _, _) = proxy.stop();
    assert!(status.success() || status.code() == Some(0) || status.code() == Some(1));

    // The recording, replayed with the device's keys: the same tunnel, and the MQTT inside.
    let (conns, out) = replay_json(&["--keylog", &keys, "--endpoint", "localhost", &rec]);
    assert_eq!(conns.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let replayed = &conns[0];
    assert_eq!(replayed["http_proxy"], live["http_proxy"]);
    assert_eq!(replayed["tls"]["sni"], "localhost");
    assert_eq!(
        replayed["mqtt"]["connect"]["client_id"], "sclient-1",
        "{}",
        replayed["mqtt"]
    );
    assert_eq!(
        replayed["mqtt"]["connack"]["return_code"], 0,
        "{}",
        replayed["mqtt"]
    );
    assert!(
        codes_of(replayed, "error").is_empty(),
        "{}",
        replayed["findings"]
    );
    assert_eq!(out.status.code(), Some(0));

    // The text ladder shows the preamble before the handshake.
    let text = run(&["replay", "--keylog", &keys, "--endpoint", "localhost", &rec]);
    let text = String::from_utf8_lossy(&text.stdout);
    let request = text
        // openssl s_client asks in HTTP/1.0.
        .find(&format!("HTTP proxy request: CONNECT {target} HTTP/1.0"))
        .unwrap_or_else(|| panic!("{text}"));
    let answer = text
        .find("HTTP proxy answer: 200 Connection established (tunnel open)")
        .unwrap_or_else(|| panic!("{text}"));
    let hello = text.find("ClientHello").unwrap_or_else(|| panic!("{text}"));
    assert!(request < answer && answer < hello, "{text}");
    assert!(text.contains("CONNACK"), "{text}");
}

#[test]
fn refused_403_by_connect_port() {
    let Some(lab) = lab("http-proxy-403") else {
        return;
    };
    // CONNECT only to port 443: the broker's port is forbidden.
    let tiny = TinyProxy::start(&lab.files, "ConnectPort 443\n");
    let up = format!("127.0.0.1:{}", tiny.port);
    let proxy = ProxyProcess::start(&["--upstream", &up]);
    assert!(!device(&lab, proxy.port, lab.broker_port, &[]));
    let conn = proxy.next_connection();
    assert_eq!(conn["http_proxy"]["status"], 403, "{conn}");
    assert_eq!(conn["http_proxy"]["reason"], "Access violation");
    assert_eq!(conn["http_proxy"]["tunnel_open"], false);
    assert_eq!(codes(&conn), ["CONN.HTTP_PROXY_REFUSED"]);
    let f = refusal(&conn);
    assert_eq!(f["severity"], "error");
    assert!(
        f["summary"].as_str().unwrap().contains("do not allow"),
        "{f}"
    );
    let steps = f["next_steps"].to_string();
    assert!(
        steps.contains("403: ask the proxy's administrators"),
        "{steps}"
    );
    assert!(
        steps.contains(&format!(
            "-proxy {up} -connect localhost:{}",
            lab.broker_port
        )),
        "{steps}"
    );
    assert!(
        conn["tls"].is_null(),
        "no TLS went through: {}",
        conn["tls"]
    );
}

#[test]
fn refused_when_nothing_listens_behind_the_proxy() {
    let Some(lab) = lab("http-proxy-closed") else {
        return;
    };
    let tiny = TinyProxy::start(&lab.files, "");
    let up = format!("127.0.0.1:{}", tiny.port);
    let proxy = ProxyProcess::start(&["--upstream", &up]);
    let closed = dead_port();
    assert!(!device(&lab, proxy.port, closed, &[]));
    let conn = proxy.next_connection();
    // tinyproxy says it with 500 (nginx and Apache say 502, Squid 503).
    assert_eq!(conn["http_proxy"]["status"], 500, "{conn}");
    assert_eq!(conn["http_proxy"]["reason"], "Unable to connect");
    let f = refusal(&conn);
    assert!(
        f["summary"].as_str().unwrap().contains(&format!(
            "could not open a connection to localhost:{closed} itself"
        )),
        "{f}"
    );
    assert!(f["next_steps"].to_string().contains("500, 502, 503 or 504"));
}

#[test]
fn proxy_credentials_407_then_accepted_never_printed() {
    let Some(lab) = lab("http-proxy-407") else {
        return;
    };
    let tiny = TinyProxy::start(&lab.files, "BasicAuth thing s3cret\n");
    let up = format!("127.0.0.1:{}", tiny.port);
    let proxy = ProxyProcess::start(&["--upstream", &up, "--endpoint", "localhost"]);

    assert!(!device(&lab, proxy.port, lab.broker_port, &[]));
    let refused = proxy.next_connection();
    assert_eq!(refused["http_proxy"]["status"], 407, "{refused}");
    let f = refusal(&refused);
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("carried no Proxy-Authorization"),
        "{summary}"
    );
    assert!(summary.contains("asks for Basic"), "{summary}");

    assert!(
        device(
            &lab,
            proxy.port,
            lab.broker_port,
            &["-proxy_user", "thing", "-proxy_pass", "pass:s3cret"],
        ),
        "the device could not connect with the proxy's credentials: {}",
        tiny.log()
    );
    let ok = proxy.next_connection();
    assert_eq!(ok["http_proxy"]["status"], 200, "{ok}");
    assert_eq!(ok["http_proxy"]["auth"], "Basic");
    assert_eq!(ok["tls"]["sni"], "localhost");
    assert!(codes_of(&ok, "error").is_empty(), "{}", ok["findings"]);
    let (_, rest, stderr) = proxy.stop();
    for printed in [
        refused.to_string(),
        ok.to_string(),
        format!("{rest:?}"),
        stderr,
    ] {
        assert!(
            !printed.contains(CREDENTIALS_B64),
            "credentials printed: {printed}"
        );
        assert!(
            !printed.contains("s3cret"),
            "credentials printed: {printed}"
        );
    }
}

#[test]
fn capture_of_a_device_and_tinyproxy_replayed() {
    // No iotscope on the path: the device talks to tinyproxy, tcpdump captures it.
    let Some(lab) = lab("http-proxy-tcpdump") else {
        return;
    };
    if !have_tool("tcpdump") {
        return;
    }
    let tiny = TinyProxy::start(&lab.files, "BasicAuth thing s3cret\n");
    let pcap = lab.files.join("device-side.pcap").display().to_string();
    let keys = lab.files.join("keys.log").display().to_string();
    let dump = Tcpdump::start(tiny.port, &pcap);
    assert!(!device(&lab, tiny.port, lab.broker_port, &[]));
    assert!(
        device(
            &lab,
            tiny.port,
            lab.broker_port,
            &[
                "-proxy_user",
                "thing",
                "-proxy_pass",
                "pass:s3cret",
                "-keylogfile",
                &keys
            ],
        ),
        "the device could not connect through tinyproxy: {}",
        tiny.log()
    );
    // Let the last FIN reach the capture.
    std::thread::sleep(std::time::Duration::from_millis(300));
    dump.stop();

    let (conns, out) = replay_json(&[
        "--events",
        "--keylog",
        &keys,
        "--endpoint",
        "localhost",
        &pcap,
    ]);
    // The capture may also hold the tail of the readiness check's connection to tinyproxy
    // (tinyproxy's FIN after tcpdump started, on a loaded machine): it carries no tunnel.
    let (conns, leftovers): (Vec<_>, Vec<_>) =
        conns.into_iter().partition(|c| !c["http_proxy"].is_null());
    for c in &leftovers {
        assert_eq!(c["tls"], serde_json::Value::Null, "{c}");
        assert_eq!(c["mqtt"], serde_json::Value::Null, "{c}");
    }
    assert_eq!(conns.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "the refusal is an error");
    let refused = &conns[0];
    assert_eq!(refused["http_proxy"]["status"], 407, "{refused}");
    assert_eq!(codes(refused), ["CONN.HTTP_PROXY_REFUSED"]);
    let ok = &conns[1];
    assert_eq!(ok["http_proxy"]["status"], 200, "{ok}");
    assert_eq!(ok["http_proxy"]["auth"], "Basic");
    assert_eq!(ok["tls"]["sni"], "localhost");
    assert_eq!(ok["mqtt"]["connack"]["return_code"], 0, "{}", ok["mqtt"]);
    assert!(codes_of(ok, "error").is_empty(), "{}", ok["findings"]);
    // The request's headers are in the events, the credentials are not.
    let request = ok["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "proxy_connect")
        .unwrap();
    assert_eq!(request["target"], format!("localhost:{}", lab.broker_port));
    assert!(
        request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "Proxy-Authorization: Basic <redacted>"),
        "{request}"
    );
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(!all.contains(CREDENTIALS_B64) && !all.contains("s3cret"));
}

#[test]
fn tunnel_to_another_host_than_the_sni() {
    let Some(lab) = lab("http-proxy-target") else {
        return;
    };
    let tiny = TinyProxy::start(&lab.files, "");
    let up = format!("127.0.0.1:{}", tiny.port);
    let proxy = ProxyProcess::start(&["--upstream", &up]);
    // The tunnel goes to localhost, the ClientHello names another host (s_client takes the
    // last -servername given).
    device(
        &lab,
        proxy.port,
        lab.broker_port,
        &["-servername", "thermostats.example.com"],
    );
    let conn = proxy.next_connection();
    assert_eq!(conn["http_proxy"]["status"], 200, "{conn}");
    assert_eq!(conn["tls"]["sni"], "thermostats.example.com");
    let f = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "CONN.HTTP_PROXY_TARGET")
        .unwrap_or_else(|| panic!("no CONN.HTTP_PROXY_TARGET: {}", conn["findings"]));
    assert_eq!(f["severity"], "warning");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("tunnel to localhost, but its ClientHello names thermostats.example.com"),
        "{summary}"
    );
    assert!(!codes(&conn).contains(&"CONN.HTTP_PROXY_REFUSED".to_string()));
}

//! `iotscope proxy` in front of a real broker: mosquitto with TLS and `require_certificate
//! true` on a free loopback port, with `mosquitto_pub` as the device. Certificates are made
//! with rcgen into a temporary directory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iotscope_tests::mosquitto::{mosquitto_bin, tls_listener, Broker};
use iotscope_tests::pki::{ca, Ca, Dir, Leaf};
use iotscope_tests::proxy::{dead_port, ProxyProcess, WAIT};
use iotscope_tests::{codes, codes_of, have_tool};
use rcgen::{CertificateParams, DnType};

/// A certificate and key from `ca`, as PEM: (certificate, key).
fn leaf(ca: &Ca, cn: &str, names: &[&str]) -> (String, String) {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    let l = Leaf::from_params(ca, p);
    (l.cert_pem, l.key_pem)
}

/// mosquitto with `require_certificate true` on a free port: the broker and its port.
fn broker(bin: &Path, files: &Dir, ca: &str, cert: &str, key: &str) -> (Broker, u16) {
    let port = dead_port();
    let conf = format!(
        "allow_anonymous true\n{}",
        tls_listener(port, ca, cert, key, true)
    );
    (Broker::start(bin, files, &conf, &[port]), port)
}

/// `mosquitto_pub` through the proxy; true when it published.
fn publish(proxy_port: u16, ca: &str, cert: Option<(&str, &str)>) -> bool {
    let port = proxy_port.to_string();
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        ca,
        "-t",
        "t/1",
        "-m",
        "hi",
        "-i",
        "thermostat-12",
    ]);
    if let Some((c, k)) = cert {
        cmd.args(["--cert", c, "--key", k]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_pub");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mosquitto_pub did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a device command to completion (bounded), feeding it `stdin`; true when it succeeded.
fn device(mut cmd: Command, stdin: &[u8]) -> bool {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the device");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the device did not finish: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An MQTT 3.1.1 CONNECT for client id `sclient-1`, then DISCONNECT.
const CONNECT_THEN_DISCONNECT: &[u8] =
    b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09sclient-1\xe0\x00";

#[test]
fn mosquitto_behind_the_proxy() {
    let Some(bin) = mosquitto_bin() else { return };
    if !have_tool("mosquitto_pub") {
        return;
    }
    let files = Dir::new("peers-mosq");
    let ours = ca("iotscope peers CA");
    let stranger = ca("stranger CA");
    let (scert, skey) = leaf(&ours, "localhost", &["localhost"]);
    let (dcert, dkey) = leaf(&ours, "thermostat-12", &[]);
    let ca_pem = files.put("ca.pem", &ours.pem());
    let stranger_pem = files.put("stranger.pem", &stranger.pem());
    let scert = files.put("server.pem", &scert);
    let skey = files.put("server.key", &skey);
    let dcert = files.put("device.pem", &dcert);
    let dkey = files.put("device.key", &dkey);
    let (_broker, port) = broker(&bin, &files, &ca_pem, &scert, &skey);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--endpoint", "localhost"]);

    assert!(
        publish(proxy.port, &ca_pem, Some((&dcert, &dkey))),
        "publish through the proxy failed"
    );
    let ok = proxy.next_connection();
    assert!(codes_of(&ok, "error").is_empty(), "{:?}", ok["findings"]);
    assert_eq!(ok["tls"]["sni"], "localhost");

    assert!(!publish(proxy.port, &stranger_pem, Some((&dcert, &dkey))));
    let untrusted = proxy.next_connection();
    assert!(
        codes(&untrusted).contains(&"AUTH.SERVER_CERT_UNTRUSTED".to_string()),
        "{:?}",
        untrusted["findings"]
    );

    assert!(!publish(proxy.port, &ca_pem, None));
    let no_cert = proxy.next_connection();
    let found = codes(&no_cert);
    assert!(
        found
            .iter()
            .any(|c| c == "AUTH.CLIENT_CERT_MISSING" || c == "AUTH.CLIENT_CERT_REJECTED"),
        "{:?}",
        no_cert["findings"]
    );
    // openssl s_client without SNI, as the guide's own check does it.
    if have_tool("openssl") {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", proxy.port),
            "-noservername",
            "-brief",
            "-CAfile",
            &ca_pem,
            "-cert",
            &dcert,
            "-key",
            &dkey,
        ]);
        device(cmd, CONNECT_THEN_DISCONNECT);
        let no_sni = proxy.next_connection();
        assert!(no_sni["tls"]["sni"].is_null(), "{}", no_sni["tls"]);
        assert!(
            codes(&no_sni).contains(&"CONN.SNI_MISSING".to_string()),
            "{:?}",
            no_sni["findings"]
        );
    }

    // mosquitto_sub subscribes and leaves once the subscription is acknowledged.
    if have_tool("mosquitto_sub") {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args([
            "-h",
            "localhost",
            "-p",
            &proxy.port.to_string(),
            "--cafile",
            &ca_pem,
            "--cert",
            &dcert,
            "--key",
            &dkey,
            "-t",
            "t/#",
            "-E",
            "-i",
            "thermostat-sub",
        ]);
        assert!(device(cmd, b""), "mosquitto_sub through the proxy failed");
        let sub = proxy.next_connection();
        assert!(codes_of(&sub, "error").is_empty(), "{:?}", sub["findings"]);
        assert_eq!(sub["tls"]["sni"], "localhost");
    }
    proxy.stop();
}

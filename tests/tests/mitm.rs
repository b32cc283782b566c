//! `iotscope proxy --mitm` end to end with peers in this process: a scripted rustls endpoint
//! that requires client certificates and answers MQTT as told, and scripted rustls devices.
//! iotscope's CA is made by `iotscope ca init` in a temporary directory and exported for the
//! devices to trust, as a user would.

use std::sync::Arc;

use iotscope_tests::mqtt_endpoint::Script;
use iotscope_tests::pki::{ca, Ca, Dir, Leaf};
use iotscope_tests::proxy::{ProxyProcess, WAIT};
use iotscope_tests::tls_peers::{endpoint, roots_of, Device};
use iotscope_tests::{codes, codes_of, replay_json, run};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use serde_json::Value;

const BROKER: &str = "broker.test";

/// One test's world: the endpoint's CA (which also issues the device certificates), the
/// endpoint's certificate, one registered device, and iotscope's CA.
struct Lab {
    dir: Dir,
    pki: Ca,
    server: Leaf,
    device: Leaf,
    /// iotscope's CA, as `iotscope ca export` printed it.
    iotscope_ca: Arc<RootCertStore>,
}

impl Lab {
    fn new(name: &str) -> Lab {
        Lab::with_key_type(name, "ecdsa-p256")
    }

    /// A lab whose iotscope CA has this key type (`ecdsa-p256` or `rsa2048`).
    fn with_key_type(name: &str, key_type: &str) -> Lab {
        let dir = Dir::new(&format!("mitm-{name}"));
        let pki = ca("endpoint CA");
        let server = Leaf::new(&pki, BROKER, &[BROKER], false);
        let device = Leaf::new(&pki, "thermostat-12", &[], true);
        dir.put("endpoint-ca.pem", &pki.pem());
        dir.put("device.pem", &device.cert_pem);
        dir.put("device.key", &device.key_pem);
        let ca_dir = dir.file("ca");
        let init = run(&["ca", "init", "--ca-dir", &ca_dir, "--key-type", key_type]);
        assert!(init.status.success(), "{init:?}");
        let export = run(&["ca", "export", "--ca-dir", &ca_dir]);
        assert!(export.status.success(), "{export:?}");
        let der = CertificateDer::from_pem_slice(&export.stdout).expect("a PEM certificate");
        Lab {
            iotscope_ca: roots_of(&[der]),
            dir,
            pki,
            server,
            device,
        }
    }

    fn endpoint(&self, tls: u16, alpn: &[&str], script: Script) -> u16 {
        endpoint(&self.server, &self.pki, tls, alpn, script).0
    }

    fn proxy(&self, port: u16, extra: &[&str]) -> ProxyProcess {
        let up = format!("127.0.0.1:{port}");
        let ca_dir = self.dir.file("ca");
        let upstream_ca = self.dir.file("endpoint-ca.pem");
        let mut args = vec![
            "--upstream",
            &up,
            "--endpoint",
            BROKER,
            "--mitm",
            "--ca-dir",
            &ca_dir,
            "--upstream-ca",
            &upstream_ca,
        ];
        args.extend_from_slice(extra);
        ProxyProcess::start(&args)
    }

    fn device_files(&self) -> [String; 4] {
        [
            "--device-cert".into(),
            self.dir.file("device.pem"),
            "--device-key".into(),
            self.dir.file("device.key"),
        ]
    }

    /// A device that trusts iotscope's CA and presents the registered certificate.
    fn device(&self, tls: u16, mqtt: u8) -> Device {
        let mut d = Device::new(tls, mqtt, BROKER);
        d.trusts = Some(self.iotscope_ca.clone());
        d.cert = Some((self.device.chain.clone(), self.device.key.clone_key()));
        d
    }
}

/// Runs one device through a fresh MITM proxy and returns what the device saw and the
/// proxy's object for the connection.
fn through(
    lab: &Lab,
    port: u16,
    extra: &[&str],
    device: Device,
) -> (iotscope_tests::tls_peers::Seen, Value) {
    let files = lab.device_files();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let proxy = lab.proxy(port, &args);
    let seen = device.run(proxy.port);
    let conn = proxy.next_connection();
    let (status, _, stderr) = proxy.stop();
    assert!(status.code().is_some(), "proxy died by a signal: {stderr}");
    (seen, conn)
}

fn mqtt_types(conn: &Value) -> Vec<String> {
    conn["mqtt"]["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}{}",
                        p["from"]
                            .as_str()
                            .unwrap_or("?")
                            .chars()
                            .next()
                            .unwrap_or('?'),
                        p["type"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn success(tls: u16, mqtt: u8) {
    let lab = Lab::new(&format!("ok{tls}{mqtt}"));
    let port = lab.endpoint(tls, &[], Script::OK);
    let mut device = lab.device(tls, mqtt);
    device.subscribe = Some("sensors/#".into());
    device.publish = Some("sensors/t1".into());
    let (seen, conn) = through(&lab, port, &[], device);
    assert_eq!(seen.error, None, "{seen:?}");
    let firsts: Vec<u8> = seen.answers.iter().map(|a| a.0).collect();
    assert_eq!(firsts, vec![0x20, 0x90, 0x40], "CONNACK, SUBACK, PUBACK");
    // The MQTT inside was read, both ways, from the endpoint's leg decrypted live.
    assert_eq!(
        mqtt_types(&conn),
        [
            "dCONNECT",
            "eCONNACK",
            "dSUBSCRIBE",
            "eSUBACK",
            "dPUBLISH",
            "ePUBACK",
            "dDISCONNECT"
        ],
        "{}",
        conn["mqtt"]
    );
    assert_eq!(conn["mqtt"]["connect"]["client_id"], "thermostat-12");
    assert_eq!(conn["source"], "proxy --mitm");
    assert_eq!(conn["endpoint"], format!("127.0.0.1:{port}"));
    assert_eq!(conn["tls"]["sni"], BROKER);
    let leg = &conn["device_leg"];
    assert_eq!(leg["sni"], BROKER);
    assert_eq!(leg["proof"]["proof"], "verified");
    assert_eq!(leg["outcome"]["outcome"], "completed");
    assert_eq!(
        leg["version"],
        if tls == 13 { "TLS 1.3" } else { "TLS 1.2" }
    );
    assert_eq!(leg["chain"][0]["sha256"], leg["upstream_cert"]["sha256"]);
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
}

#[test]
fn tls13_mqtt311_connect_subscribe_publish() {
    success(13, 4);
}

#[test]
fn tls13_mqtt5_connect_subscribe_publish() {
    success(13, 5);
}

#[test]
fn tls12_mqtt311_connect_subscribe_publish() {
    success(12, 4);
}

#[test]
fn an_rsa_ca_for_devices_that_verify_rsa_only() {
    let lab = Lab::with_key_type("rsa", "rsa2048");
    let port = lab.endpoint(12, &[], Script::OK);
    let (seen, conn) = through(&lab, port, &[], lab.device(12, 4));
    assert_eq!(seen.error, None, "{seen:?}");
    let show = run(&["ca", "show", "--ca-dir", &lab.dir.file("ca")]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("RSA 2048"));
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
    assert_eq!(
        conn["device_leg"]["cipher"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "{}",
        conn["device_leg"]
    );
}

#[test]
fn alpn_offered_by_the_device_is_passed_upstream_and_back() {
    let lab = Lab::new("alpn");
    let port = lab.endpoint(13, &["x-amzn-mqtt-ca"], Script::OK);
    let mut device = lab.device(13, 4);
    device.alpn = vec!["x-amzn-mqtt-ca".into()];
    let (seen, conn) = through(&lab, port, &[], device);
    assert_eq!(seen.alpn.as_deref(), Some("x-amzn-mqtt-ca"), "{seen:?}");
    assert_eq!(conn["device_leg"]["alpn"][0], "x-amzn-mqtt-ca");
    assert_eq!(
        conn["tls"]["client_alpns"][0], "x-amzn-mqtt-ca",
        "{}",
        conn["tls"]
    );
}

/// The endpoint's answer `script` to a device doing CONNECT (+ SUBSCRIBE / PUBLISH), and the
/// finding iotscope must give for it.
fn refused(name: &str, mqtt: u8, script: Script, code: &str, must_name: &str) {
    let lab = Lab::new(name);
    let port = lab.endpoint(13, &[], script);
    let mut device = lab.device(13, mqtt);
    device.subscribe = Some("sensors/#".into());
    device.publish = Some("devices/other/telemetry".into());
    let (_, conn) = through(&lab, port, &[], device);
    let found = codes_of(&conn, "error");
    assert!(
        found.contains(&code.to_string()),
        "{code} not in {found:?}: {} {} {}",
        conn["findings"],
        conn["tcp"],
        conn["history"]
    );
    let finding = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap();
    assert!(
        finding.to_string().contains(must_name),
        "{code} does not name {must_name}: {finding}"
    );
}

#[test]
fn connect_refused_mqtt311_code_5() {
    let script = Script {
        connack: Some(5),
        ..Script::OK
    };
    refused("connect5", 4, script, "AUTHZ.CONNECT_DENIED", "CONNACK");
}

#[test]
fn connect_refused_mqtt5_not_authorized() {
    let script = Script {
        connack: Some(0x87),
        ..Script::OK
    };
    refused("connect87", 5, script, "AUTHZ.CONNECT_DENIED", "0x87");
}

#[test]
fn subscribe_refused_0x80() {
    let script = Script {
        suback: 0x80,
        ..Script::OK
    };
    refused("sub80", 4, script, "AUTHZ.SUBSCRIBE_DENIED", "sensors/#");
}

#[test]
fn subscribe_refused_0x87_mqtt5() {
    let script = Script {
        suback: 0x87,
        ..Script::OK
    };
    refused("sub87", 5, script, "AUTHZ.SUBSCRIBE_DENIED", "sensors/#");
}

#[test]
fn subscribe_refused_0x80_mqtt5() {
    let script = Script {
        suback: 0x80,
        ..Script::OK
    };
    refused("sub80v5", 5, script, "AUTHZ.SUBSCRIBE_DENIED", "sensors/#");
}

#[test]
fn publish_refused_0x87_names_topic_and_policy_resource() {
    let script = Script {
        puback: Some(0x87),
        ..Script::OK
    };
    refused(
        "pub87",
        5,
        script,
        "AUTHZ.PUBLISH_DENIED",
        "topic/devices/other/telemetry",
    );
}

#[test]
fn endpoint_closing_after_publish() {
    let script = Script {
        puback: None,
        ..Script::OK
    };
    refused(
        "pubclose",
        4,
        script,
        "AUTHZ.PUBLISH_DENIED",
        "devices/other/telemetry",
    );
}

#[test]
fn endpoint_iotscope_does_not_trust_is_refused_and_explained() {
    let lab = Lab::new("untrustedup");
    let port = lab.endpoint(13, &[], Script::OK);
    // No --upstream-ca: the test endpoint's CA is in no root store iotscope uses.
    let files = lab.device_files();
    let up = format!("127.0.0.1:{port}");
    let ca_dir = lab.dir.file("ca");
    let mut args = vec![
        "--upstream",
        &up,
        "--endpoint",
        BROKER,
        "--mitm",
        "--ca-dir",
        &ca_dir,
    ];
    args.extend(files.iter().map(String::as_str));
    let proxy = ProxyProcess::start(&args);
    let seen = lab.device(13, 4).run(proxy.port);
    let conn = proxy.next_connection();
    proxy.stop();
    assert!(seen.answers.is_empty(), "{seen:?}");
    assert!(
        codes_of(&conn, "error").contains(&"AUTH.SERVER_CERT_UNTRUSTED".to_string()),
        "{}",
        conn["findings"]
    );
    assert_eq!(conn["device_leg"]["outcome"]["outcome"], "failed");
    // The endpoint's chain was read although the handshake failed (decrypted, TLS 1.3).
    assert!(
        conn["certificates"].to_string().contains(BROKER),
        "{}",
        conn["certificates"]
    );
}

// ------------------------------------------------ the device's own certificate (issue 11)

/// The endpoint accepts (it gets `--device-cert`), yet the device's own certificate is wrong:
/// the finding must say so.
fn device_cert_problem(name: &str, cert: Option<&Leaf>, code: &str, words: &str) {
    let lab = Lab::new(name);
    let port = lab.endpoint(13, &[], Script::OK);
    let mut device = lab.device(13, 4);
    device.cert = cert.map(|c| (c.chain.clone(), c.key.clone_key()));
    let (seen, conn) = through(&lab, port, &[], device);
    assert_eq!(
        seen.answers.first().map(|a| a.1.clone()),
        Some(vec![0, 0]),
        "the upstream session succeeded: {seen:?}"
    );
    let errors = codes_of(&conn, "error");
    assert_eq!(errors, vec![code.to_string()], "{}", conn["findings"]);
    let text = conn["findings"].to_string();
    assert!(text.contains(words), "{code} should say {words:?}: {text}");
}

#[test]
fn device_without_certificate_is_reported_although_upstream_succeeds() {
    device_cert_problem(
        "nocert",
        None,
        "AUTH.CLIENT_CERT_MISSING",
        "iotscope's doing",
    );
}

#[test]
fn device_with_another_certificate_is_reported() {
    let pki = ca("another CA");
    let other = Leaf::new(&pki, "other-device", &[], true);
    device_cert_problem(
        "othercert",
        Some(&other),
        "AUTH.DEVICE_CERT_DIFFERS",
        "other-device",
    );
}

#[test]
fn device_with_an_expired_certificate_is_reported() {
    let pki = ca("old CA");
    let old = Leaf::with(&pki, "old-device", &[], true, |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let lab = Lab::new("expired");
    let port = lab.endpoint(13, &[], Script::OK);
    let mut device = lab.device(13, 4);
    device.cert = Some((old.chain.clone(), old.key.clone_key()));
    let (_, conn) = through(&lab, port, &[], device);
    let errors = codes_of(&conn, "error");
    assert!(
        errors.contains(&"AUTH.CLIENT_CERT_EXPIRED".to_string()),
        "{}",
        conn["findings"]
    );
    assert!(
        conn["findings"]
            .to_string()
            .contains("expired on 2021-01-01"),
        "{}",
        conn["findings"]
    );
}

#[test]
fn device_that_does_not_hold_its_key_is_stopped_and_reported() {
    let lab = Lab::new("wrongkey");
    let port = lab.endpoint(13, &[], Script::OK);
    let stranger = Leaf::new(&ca("stranger"), "x", &[], true);
    let mut device = lab.device(13, 4);
    device.sign_with = Some(stranger.key.clone_key());
    let (seen, conn) = through(&lab, port, &[], device);
    assert!(seen.answers.is_empty(), "the device got through: {seen:?}");
    assert_eq!(
        conn["device_leg"]["proof"]["proof"], "failed",
        "{}",
        conn["device_leg"]
    );
    assert!(
        codes_of(&conn, "error").contains(&"AUTH.DEVICE_KEY_NOT_HELD".to_string()),
        "{}",
        conn["findings"]
    );
}

#[test]
fn device_with_the_matching_certificate_gives_no_finding_about_it() {
    let lab = Lab::new("match");
    let port = lab.endpoint(13, &[], Script::OK);
    let (_, conn) = through(&lab, port, &[], lab.device(13, 4));
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
    assert_eq!(conn["device_leg"]["proof"]["proof"], "verified");
}

#[test]
fn require_device_cert_refuses_a_device_without_one() {
    let lab = Lab::new("require");
    let port = lab.endpoint(13, &[], Script::OK);
    let mut device = lab.device(13, 4);
    device.cert = None;
    let (seen, conn) = through(&lab, port, &["--require-device-cert"], device);
    assert!(seen.answers.is_empty(), "the device got answers: {seen:?}");
    assert_eq!(
        conn["device_leg"]["outcome"]["outcome"], "failed",
        "{}",
        conn["device_leg"]
    );
}

#[test]
fn without_device_cert_the_device_is_reported_and_nothing_goes_upstream() {
    let lab = Lab::new("nodevcert");
    let (port, upstream) = endpoint(&lab.server, &lab.pki, 13, &[], Script::OK);
    let proxy = lab.proxy(port, &[]);
    let seen = lab.device(13, 4).run(proxy.port);
    let conn = proxy.next_connection();
    let (_, _, stderr) = proxy.stop();
    assert!(seen.answers.is_empty(), "{seen:?}");
    assert!(
        upstream
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "the endpoint was contacted"
    );
    assert_eq!(
        conn["device_leg"]["chain"][0]["sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    assert!(
        conn["device_leg"]["not_upstream"]
            .as_str()
            .unwrap_or("")
            .contains("no --device-cert"),
        "{conn}\n{stderr}"
    );
}

#[test]
fn device_certs_directory_picks_the_certificate_the_device_presents() {
    let lab = Lab::new("certdir");
    let port = lab.endpoint(13, &[], Script::OK);
    let dir = lab.dir.file("devices");
    std::fs::create_dir_all(&dir).unwrap();
    let id = iotscope_decoder::cert::summarize(lab.device.chain[0].as_ref()).sha256;
    std::fs::write(format!("{dir}/{id}.pem"), &lab.device.cert_pem).unwrap();
    std::fs::write(format!("{dir}/{id}.key"), &lab.device.key_pem).unwrap();
    let proxy = lab.proxy(port, &["--device-certs", &dir]);
    let seen = lab.device(13, 4).run(proxy.port);
    let conn = proxy.next_connection();
    proxy.stop();
    assert_eq!(
        seen.answers.first().map(|a| a.1.clone()),
        Some(vec![0, 0]),
        "{seen:?}"
    );
    assert_eq!(conn["device_leg"]["upstream_cert"]["sha256"], id.as_str());
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
}

#[test]
fn device_certs_directory_picks_by_client_id_when_the_device_sends_another_certificate() {
    let lab = Lab::new("certdirid");
    let port = lab.endpoint(13, &[], Script::OK);
    let dir = lab.dir.file("devices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/thermostat-12.pem"), &lab.device.cert_pem).unwrap();
    std::fs::write(format!("{dir}/thermostat-12.key"), &lab.device.key_pem).unwrap();
    let proxy = lab.proxy(port, &["--device-certs", &dir]);
    // A device with a certificate of its own that is not in the directory.
    let other = Leaf::new(&ca("workshop CA"), "bench-unit", &[], true);
    let mut device = lab.device(13, 4);
    device.cert = Some((other.chain.clone(), other.key.clone_key()));
    let seen = device.run(proxy.port);
    let conn = proxy.next_connection();
    proxy.stop();
    assert_eq!(
        seen.answers.first().map(|a| a.1.clone()),
        Some(vec![0, 0]),
        "{seen:?}"
    );
    assert_eq!(conn["mqtt"]["connect"]["client_id"], "thermostat-12");
    let id = iotscope_decoder::cert::summarize(lab.device.chain[0].as_ref()).sha256;
    assert_eq!(conn["device_leg"]["upstream_cert"]["sha256"], id.as_str());
    // Still: the device's own certificate is not the one presented upstream.
    assert_eq!(
        codes_of(&conn, "error"),
        vec!["AUTH.DEVICE_CERT_DIFFERS"],
        "{}",
        conn["findings"]
    );
}

// ------------------------------------------------ --present: the device's own validation

fn present(mode: &str, validating: bool) -> Value {
    let lab = Lab::new(&format!("present-{mode}-{validating}"));
    let port = lab.endpoint(13, &[], Script::OK);
    let mut device = lab.device(13, 4);
    if !validating {
        device.trusts = None;
    }
    let (_, conn) = through(&lab, port, &["--present", mode], device);
    conn
}

fn assert_present(mode: &str) {
    let pass = present(mode, true);
    assert_eq!(
        codes(&pass),
        vec!["SEC.DEVICE_REFUSES_BAD_CERT"],
        "{mode}: {}",
        pass["findings"]
    );
    let fail = present(mode, false);
    assert!(
        codes_of(&fail, "error").contains(&"SEC.DEVICE_ACCEPTS_BAD_CERT".to_string()),
        "{mode}: {}",
        fail["findings"]
    );
    // The device's CONNECT was read from its own leg, decrypted.
    assert_eq!(
        fail["mqtt"]["connect"]["client_id"], "thermostat-12",
        "{}",
        fail["mqtt"]
    );
}

#[test]
fn present_untrusted() {
    assert_present("untrusted");
}

#[test]
fn present_wrong_name() {
    assert_present("wrong-name");
}

#[test]
fn present_expired() {
    assert_present("expired");
}

// ------------------------------------------------ secrets: key log and recording

#[test]
fn keylog_and_recording_replay_decrypted() {
    let lab = Lab::new("record");
    let port = lab.endpoint(13, &[], Script::OK);
    let keylog = lab.dir.file("keys.log");
    let rec = lab.dir.file("rec.pcapng");
    let mut device = lab.device(13, 5);
    device.publish = Some("sensors/t1".into());
    let (_, live) = through(&lab, port, &["--keylog", &keylog, "--record", &rec], device);
    let text = std::fs::read_to_string(&keylog).unwrap();
    // Both legs: the device's and the endpoint's, five TLS 1.3 secrets... four each.
    let lines = text
        .lines()
        .filter(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0"))
        .count();
    assert_eq!(lines, 2, "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keylog).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (conns, _) = replay_json(&[&rec]);
    assert_eq!(conns.len(), 1);
    assert_eq!(mqtt_types(&conns[0]), mqtt_types(&live));
    assert_eq!(conns[0]["mqtt"]["connect"]["client_id"], "thermostat-12");
    let _ = WAIT;
}

// ------------------------------------------------ closing

/// How a test endpoint ends each connection after its close_notify.
#[derive(Clone, Copy)]
enum AfterClose {
    /// Keeps the TCP connection open for the rest of the test, reading nothing.
    KeepsIt,
    /// Serves one connection at a time and reads until the client goes (its close or its
    /// reset), as `openssl s_server -www` does.
    WaitsForTheClient,
}

/// An endpoint that finishes each handshake and sends close_notify at once.
fn endpoint_that_closes_first(lab: &Lab, after: AfterClose) -> u16 {
    use iotscope_tests::pki::{roots, server_config, ClientAuth};
    use std::io::{Read, Write};
    let config = server_config(&lab.server, 13, ClientAuth::Required(roots(&lab.pki)));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let _ = sock.set_read_timeout(Some(WAIT));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            while tls.conn.is_handshaking() {
                if tls.conn.complete_io(&mut tls.sock).is_err() {
                    break;
                }
            }
            tls.conn.send_close_notify();
            let _ = tls.flush();
            match after {
                AfterClose::KeepsIt => kept.push(tls),
                AfterClose::WaitsForTheClient => {
                    let mut rest = Vec::new();
                    let _ = tls.sock.read_to_end(&mut rest);
                }
            }
        }
    });
    port
}

/// One device session: a TLS 1.3 handshake with the device's certificate, then read until
/// the TLS close; then a close_notify, or (`reset`) a reset. True when the close came.
fn session_until_close(port: u16, trusts: Arc<RootCertStore>, device: &Leaf, reset: bool) -> bool {
    use std::io::Read;
    let config = rustls::ClientConfig::builder_with_provider(iotscope_tests::pki::provider())
        .with_protocol_versions(iotscope_tests::pki::versions(13))
        .unwrap()
        .with_root_certificates(trusts)
        .with_client_auth_cert(device.chain.clone(), device.key.clone_key())
        .unwrap();
    let Ok(sock) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let name = rustls::pki_types::ServerName::try_from(BROKER).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut rest = Vec::new();
    let closed = matches!(tls.read_to_end(&mut rest), Ok(0));
    if reset {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt reads `linger` from this frame; the descriptor is open.
        unsafe {
            libc::setsockopt(
                tls.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    } else {
        tls.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut tls);
    }
    closed
}

/// Sessions one after the other through iotscope, counted while another device makes
/// `DIRECT` directly to an endpoint of the same kind (its own, so that neither waits for
/// the other). Each intercepted session costs three handshakes where a direct one costs
/// one, so a fair share is about a third as many; a proxy that holds each session half a
/// second gets a handful at most. Counted without a clock.
fn intercepted_sessions(name: &str, after: AfterClose, device_resets: bool) -> (usize, Value) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let lab = Lab::new(name);
    let direct_port = endpoint_that_closes_first(&lab, after);
    let port = endpoint_that_closes_first(&lab, after);
    let files = lab.device_files();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.push("--events");
    let proxy = lab.proxy(port, &args);
    let stop = Arc::new(AtomicBool::new(false));
    let through = Arc::new(AtomicUsize::new(0));
    let device = || Leaf {
        chain: lab.device.chain.clone(),
        key: lab.device.key.clone_key(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    let intercepted = {
        let (stop, through, trusts, at, device) = (
            stop.clone(),
            through.clone(),
            lab.iotscope_ca.clone(),
            proxy.port,
            device(),
        );
        std::thread::spawn(move || {
            let mut failed = 0;
            while !stop.load(Ordering::Acquire) {
                if session_until_close(at, trusts.clone(), &device, device_resets) {
                    through.fetch_add(1, Ordering::AcqRel);
                } else {
                    failed += 1;
                }
            }
            failed
        })
    };
    let endpoint_roots = iotscope_tests::pki::roots(&lab.pki);
    for _ in 0..DIRECT {
        assert!(session_until_close(
            direct_port,
            endpoint_roots.clone(),
            &lab.device,
            device_resets
        ));
    }
    stop.store(true, Ordering::Release);
    let failed = intercepted.join().unwrap();
    assert_eq!(
        failed, 0,
        "intercepted sessions that did not end with the endpoint's close"
    );
    let conn = proxy.next_connection();
    let (status, _, stderr) = proxy.stop();
    assert!(status.code().is_some(), "proxy died by a signal: {stderr}");
    (through.load(Ordering::Acquire), conn)
}

const DIRECT: usize = 60;

/// The endpoint's close_notify reaches the device as soon as it comes, although the
/// endpoint keeps its TCP connection open: iotscope waits for nothing the endpoint may
/// never send. (When iotscope held each close for the endpoint's FIN, half a second, the
/// intercepted device managed a handful of sessions in the time the direct one made 60;
/// now about as many.)
#[test]
fn the_endpoints_close_is_passed_on_without_waiting_for_its_tcp_close() {
    let (n, conn) = intercepted_sessions("keeps-open", AfterClose::KeepsIt, false);
    assert!(
        n >= DIRECT / 3,
        "{n} sessions through iotscope while {DIRECT} went direct"
    );
    // Reported with the endpoint's close and no error: the endpoint closed TLS, and its TCP
    // connection staying open is no failure.
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
}

/// As `openssl s_time` against `s_server -www`: the endpoint sends close_notify and waits
/// for the client to go; the device resets its connection once it has read the close.
/// iotscope passes the reset on at once, so the endpoint is free for the next session; when
/// it closed with a FIN and then waited for the endpoint's (which waits for the client), each
/// session cost half a second.
#[test]
fn a_device_reset_after_the_endpoints_close_frees_the_endpoint_at_once() {
    let (n, conn) = intercepted_sessions("waits-for-client", AfterClose::WaitsForTheClient, true);
    assert!(
        n >= DIRECT / 3,
        "{n} sessions through iotscope while {DIRECT} went direct"
    );
    let rst = conn["events"]
        .as_array()
        .map(|es| es.iter().any(|e| e["event"] == "tcp_rst"));
    assert_eq!(rst, Some(true), "{}", conn["events"]);
}

//! `iotscope qualify` against real clients whose behaviour differs: `openssl s_client` with
//! and without certificate verification for the TLS cases, mosquitto_pub for the MQTT cases
//! (it has no reconnect of its own: a shell loop restarting it at a fixed interval is what
//! the back-off cases see), and paho-mqtt with and without its reconnect delay settings.
//! Each test asserts the verdict and the evidence that decided it; the timing cases compare
//! the device's own waits with each other, never with a fixed figure.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotscope_tests::{have_tool, iotscope_path, venv};

const NAME: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

struct Run {
    child: Child,
    port: u16,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    devices: Vec<std::thread::JoinHandle<()>>,
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotscope-qualify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `iotscope qualify` on a free port with the cases and time limit given.
fn start(name: &str, cases: &[&str], limit: u32) -> Run {
    start_with(name, cases, limit, &[])
}

/// As [`start`], with more options (`--upstream` and its identity).
fn start_with(name: &str, cases: &[&str], limit: u32, more: &[String]) -> Run {
    let dir = scratch(name);
    let (child, port) = iotscope_tests::qualify::spawn(&dir, cases, limit, more);
    Run {
        child,
        port,
        dir,
        stop: Arc::new(AtomicBool::new(false)),
        devices: Vec::new(),
    }
}

impl Run {
    fn ca(&self) -> PathBuf {
        self.dir.join("ca").join("iotscope-ca.pem")
    }

    /// Runs `device` again and again (as a supervisor restarting firmware would) until the
    /// qualify run ends; `pause` is the fixed time between runs.
    fn keep_running(&mut self, pause: Duration, device: impl Fn() -> Command + Send + 'static) {
        let stop = self.stop.clone();
        self.devices.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let mut c = device();
                if let Ok(mut ch) = c
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                {
                    for _ in 0..200 {
                        if stop.load(Ordering::SeqCst) || ch.try_wait().ok().flatten().is_some() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    let _ = ch.kill();
                    let _ = ch.wait();
                }
                std::thread::sleep(pause);
            }
        }));
    }

    /// Starts one long-running device process, killed when the run ends.
    fn spawn_device(&mut self, mut c: Command) {
        let stop = self.stop.clone();
        let mut ch = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("device starts");
        self.devices.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) && ch.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = ch.kill();
            let _ = ch.wait();
        }));
    }

    /// Waits for the run to end; its JSON Lines, exit status and JUnit XML.
    /// One paho device ([`PAHO_DEVICE`] given `args`: the reconnect delay, the keep-alive
    /// and a mode) until the run ends: its lines and exit status.
    fn paho_to_the_end(mut self, args: &[&str]) -> (Vec<Value>, i32) {
        let mut c = paho(PAHO_DEVICE, self.port, &self.ca()).unwrap();
        c.args(args);
        self.spawn_device(c);
        let (lines, status, _) = self.finish();
        (lines, status)
    }

    fn finish(mut self) -> (Vec<Value>, i32, String) {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        self.stop.store(true, Ordering::SeqCst);
        for d in self.devices.drain(..) {
            let _ = d.join();
        }
        let junit = std::fs::read_to_string(self.dir.join("junit.xml")).unwrap_or_default();
        let lines = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let _ = std::fs::remove_dir_all(&self.dir);
        (lines, status.code().unwrap_or(-1), junit)
    }
}

fn verdict<'a>(lines: &'a [Value], case: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["case"] == case)
        .unwrap_or_else(|| panic!("no result for {case}: {lines:?}"))
}

fn evidence(v: &Value) -> String {
    v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_verdict(lines: &[Value], case: &str, want: &str, reason_has: &str, evidence_has: &str) {
    let v = verdict(lines, case);
    assert_eq!(v["verdict"], want, "{case}: {v:#}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_has),
        "{case}: reason {reason:?} lacks {reason_has:?}"
    );
    let ev = evidence(v);
    assert!(
        ev.contains(evidence_has),
        "{case}: evidence lacks {evidence_has:?}:\n{ev}"
    );
}

/// The JUnit XML parsed by Python's XML parser: testcase names with the child each has
/// (failure / skipped / none), and the testsuites element's counts.
fn junit_shape(xml: &str, dir: &Path) -> Value {
    let f = dir.join("check-junit.xml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&f, xml).unwrap();
    if let Some(schema) = iotscope_tests::junit::schema() {
        if let Err(why) = iotscope_tests::junit::validate(&schema, &f) {
            panic!("the JUnit report does not validate against the JUnit schema:\n{why}\n{xml}");
        }
    }
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
cases = []
for suite in root.findall("testsuite"):
    for k in ("name", "tests", "failures", "errors", "skipped", "time"):
        assert k in suite.attrib, k
    for tc in suite.findall("testcase"):
        for k in ("name", "classname", "time"):
            assert k in tc.attrib, k
        float(tc.attrib["time"])
        kids = [c.tag for c in tc if c.tag in ("failure", "skipped", "error")]
        assert len(kids) <= 1, kids
        text = "".join(c.text or "" for c in tc if c.tag == "failure")
        cases.append({"name": tc.attrib["name"], "result": kids[0] if kids else "pass", "failure_text": text})
skipped = sum(int(s.attrib["skipped"]) for s in root.findall("testsuite"))
print(json.dumps({"tests": int(root.attrib["tests"]), "failures": int(root.attrib["failures"]), "skipped": skipped, "cases": cases}))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&f)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the JUnit XML does not parse: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const TLS_CASES: &[&str] = &[
    "TLS_Connect",
    "TLS_DeviceSupport_For_IOT",
    "TLS_Expired_Server_Cert",
    "TLS_Incorrect_Subject_Name",
    "TLS_Unsecure_Server_Cert",
];

fn s_client(port: u16, ca: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "echo | timeout 10 openssl s_client -connect 127.0.0.1:{port} -servername {NAME} -verify_hostname {NAME} -CAfile {} {}",
        ca.display(),
        extra.join(" ")
    ));
    c
}

#[test]
fn tls_cases_pass_with_a_verifying_openssl_and_the_junit_report_parses() {
    if !have_tool("openssl") || !have_tool("python3") {
        return;
    }
    let mut run = start("tls-pass", TLS_CASES, 60);
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || {
        s_client(port, &ca, &["-verify_return_error"])
    });
    let dir = run.dir.clone();
    let (lines, status, junit) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "TLS_Connect",
        "PASS",
        "TLS handshake",
        "TLS handshake completed",
    );
    assert_verdict(
        &lines,
        "TLS_DeviceSupport_For_IOT",
        "PASS",
        "TLS13_AES_128_GCM_SHA256",
        "ClientHello",
    );
    assert_verdict(
        &lines,
        "TLS_Expired_Server_Cert",
        "PASS",
        "CertificateExpired",
        "expired 30 days ago",
    );
    assert_verdict(
        &lines,
        "TLS_Incorrect_Subject_Name",
        "PASS",
        "BadCertificate",
        "wrong-name.iotscope.invalid",
    );
    assert_verdict(
        &lines,
        "TLS_Unsecure_Server_Cert",
        "PASS",
        "UnknownCA",
        "untrusted CA",
    );
    let shape = junit_shape(&junit, &dir);
    assert_eq!(shape["tests"], 5);
    assert_eq!(shape["failures"], 0);
    let names: Vec<&str> = shape["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, TLS_CASES);
}

#[test]
fn tls_cases_fail_with_an_openssl_that_does_not_verify_and_weak_ciphers() {
    if !have_tool("openssl") || !have_tool("python3") {
        return;
    }
    // Without -verify_return_error, s_client notes the verification error and carries on:
    // a device that accepts any certificate.
    let mut run = start("tls-fail", &TLS_CASES[2..], 60);
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || s_client(port, &ca, &[]));
    let dir = run.dir.clone();
    let (lines, status, junit) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    for case in &TLS_CASES[2..] {
        assert_verdict(&lines, case, "FAIL", "accepted", "TLS handshake completed");
    }
    let shape = junit_shape(&junit, &dir);
    assert_eq!(shape["failures"], 3);
    for c in shape["cases"].as_array().unwrap() {
        assert_eq!(c["result"], "failure");
        assert!(
            c["failure_text"]
                .as_str()
                .unwrap()
                .contains("TLS handshake completed"),
            "{c}"
        );
    }

    // An OpenSSL that offers TLS 1.1 only (SECLEVEL 0 lets OpenSSL 3 send it): no TLS 1.2+
    // handshake, and the evidence says what the ClientHello offered.
    let mut run = start("tls-1-1", &["TLS_Connect"], 60);
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || {
        s_client(port, &ca, &["-tls1_1", "-cipher", "'DEFAULT@SECLEVEL=0'"])
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(
        &lines,
        "TLS_Connect",
        "FAIL",
        "the device offers TLS 1.1; AWS IoT Core takes TLS 1.2 and 1.3",
        "versions offered (legacy version, no supported_versions extension): TLS 1.1",
    );

    // A ClientHello with only a non-ECDHE CBC suite at TLS 1.2: none AWS IoT recommends.
    let mut run = start("tls-ciphers", &["TLS_DeviceSupport_For_IOT"], 60);
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || {
        s_client(port, &ca, &["-tls1_2", "-cipher", "AES128-SHA"])
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1);
    assert_verdict(
        &lines,
        "TLS_DeviceSupport_For_IOT",
        "FAIL",
        "none of the cipher suites",
        "CipherSuite(0x2f)",
    );
}

fn mosquitto_pub(port: u16, ca: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new("mosquitto_pub");
    c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "--cafile"])
        .arg(ca)
        .args(["--tls-alpn", "x-amzn-mqtt-ca"])
        .args(["-V", "mqttv311", "--insecure"])
        .args(extra);
    c
}

#[test]
fn mqtt_cases_with_mosquitto_pub() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let cases = [
        "MQTT_Connect",
        "MQTT_Publish",
        "IOTSCOPE_Publish_QoS1",
        "IOTSCOPE_No_Reserved_Topics",
    ];
    let mut run = start("mqtt-pass", &cases, 60);
    let (port, ca) = (run.port, run.ca());
    // QoS 0 first, then QoS 1, alternating: each case takes the one it needs.
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    run.keep_running(Duration::from_millis(200), move || {
        let qos = if n.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            "0"
        } else {
            "1"
        };
        mosquitto_pub(
            port,
            &ca,
            &["-i", "sensor-1", "-t", "sensors/1", "-m", "21.5", "-q", qos],
        )
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Connect",
        "PASS",
        "well-formed CONNECT",
        "client id \"sensor-1\"",
    );
    assert_verdict(
        &lines,
        "MQTT_Publish",
        "PASS",
        "QoS 0 PUBLISH",
        "PUBLISH QoS 0 to \"sensors/1\"",
    );
    assert_verdict(
        &lines,
        "IOTSCOPE_Publish_QoS1",
        "PASS",
        "QoS 1 PUBLISH",
        "iotscope sends PUBACK",
    );
    assert_verdict(
        &lines,
        "IOTSCOPE_No_Reserved_Topics",
        "PASS",
        "none to a reserved topic",
        "PUBLISH QoS",
    );

    // The failing device: an id AWS keeps for itself, and a publish to an AWS event topic.
    let mut run = start(
        "mqtt-fail",
        &["MQTT_Connect", "IOTSCOPE_No_Reserved_Topics"],
        60,
    );
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || {
        mosquitto_pub(
            port,
            &ca,
            &[
                "-i",
                "$sensor",
                "-t",
                "$aws/events/presence/connected/x",
                "-m",
                "{}",
            ],
        )
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Connect",
        "FAIL",
        "starts with '$'",
        "client id \"$sensor\"",
    );
    assert_verdict(
        &lines,
        "IOTSCOPE_No_Reserved_Topics",
        "FAIL",
        "$aws/events/presence/connected/x",
        "CONNECT",
    );

    // A device that publishes at one QoS only fails the case of the other: mosquitto_pub
    // with -q 1 for MQTT_Publish (QoS 0), with -q 0 for IOTSCOPE_Publish_QoS1.
    for (case, qos, other) in [
        ("MQTT_Publish", "1", "0"),
        ("IOTSCOPE_Publish_QoS1", "0", "1"),
    ] {
        let mut run = start("mqtt-one-qos", &[case], 30);
        let (port, ca) = (run.port, run.ca());
        run.keep_running(Duration::from_millis(200), move || {
            mosquitto_pub(
                port,
                &ca,
                &["-i", "sensor-1", "-t", "sensors/1", "-m", "21.5", "-q", qos],
            )
        });
        let (lines, status, _) = run.finish();
        assert_eq!(status, 1, "{lines:#?}");
        assert_verdict(
            &lines,
            case,
            "FAIL",
            &format!("none at QoS {other}"),
            &format!("PUBLISH QoS {qos} to \"sensors/1\""),
        );
    }
}

#[test]
fn back_off_cases_fail_for_mosquitto_pub_restarted_at_a_fixed_interval() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let cases = [
        "MQTT_Connect_Exponential_Backoff_Retries",
        "MQTT_Connect_Jitter_Backoff_Retries",
    ];
    let mut run = start("backoff-mosquitto", &cases, 60);
    let (port, ca) = (run.port, run.ca());
    // mosquitto_pub gives up on a refused CONNECT; a supervisor restarts it every 300 ms.
    run.keep_running(Duration::from_millis(300), move || {
        mosquitto_pub(port, &ca, &["-i", "sensor-1", "-t", "sensors/1", "-m", "1"])
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(&lines, cases[0], "FAIL", "do not grow", "CONNACK refused");
    assert_verdict(&lines, cases[1], "FAIL", "no jitter", "waited");
}

fn paho(script: &str, port: u16, ca: &Path) -> Option<Command> {
    let py = venv::python_with("paho.mqtt.client")?;
    let mut c = Command::new(py);
    c.arg("-c").arg(script).arg(port.to_string()).arg(ca);
    Some(c)
}

/// A paho device: connects with TLS, publishes QoS 1 and subscribes on every connection,
/// and reconnects in loop_forever; DELAY is reconnect_delay_set's (min, max), or None for
/// paho's defaults.
const PAHO_DEVICE: &str = r#"
import sys, ssl, paho.mqtt.client as mqtt
port, ca, delay, keep = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-1", clean_session=False)
except AttributeError:
    c = mqtt.Client(client_id="paho-1", clean_session=False)
c.tls_set(ca_certs=ca)
c.tls_insecure_set(True)
if delay != "none":
    lo, hi = delay.split(",")
    c.reconnect_delay_set(min_delay=int(lo), max_delay=int(hi))
mode = sys.argv[5] if len(sys.argv) > 5 else "loop"
seen = []
def on_connect(client, userdata, flags, rc, *rest):
    client.publish("sensors/paho", "1", qos=1)
    # A device that subscribes only once, at boot, never again; or on every connection.
    if (mode == "subscribe-once" and not seen) or mode == "subscribe-always":
        seen.append(1)
        client.subscribe("commands/paho", qos=1)
c.on_connect = on_connect
if mode == "no-loop":
    # A device that connects and never runs the network loop: no PINGREQ ever.
    import time
    c.connect("127.0.0.1", port, keepalive=keep)
    time.sleep(120)
else:
    c.connect_async("127.0.0.1", port, keepalive=keep)
    c.loop_forever(retry_first_connection=True)
"#;

#[test]
fn back_off_cases_with_paho_with_and_without_reconnect_delays() {
    let Some(_) = venv::python_with("paho.mqtt.client") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "paho-mqtt is required in CI"
        );
        return;
    };
    let cases = [
        "MQTT_Connect_Exponential_Backoff_Retries",
        "MQTT_Connect_Jitter_Backoff_Retries",
    ];
    // reconnect_delay_set(1, 16): paho doubles its wait, 1 s, 2 s, 4 s, 8 s, 16 s, 16 s, without
    // jitter.
    // One paho process per case, so each starts from paho's shortest wait.
    for (case, want, why) in [
        (cases[0], "PASS", "the waits grow"),
        (cases[1], "FAIL", "no jitter"),
    ] {
        // 1 + 2 + 4 + 8 + 16 + 16 + 16 s of waits for the jitter case's seven.
        let (lines, _) = start("backoff-paho", &[case], 90).paho_to_the_end(&["1,16", "30"]);
        assert_verdict(&lines, case, want, why, "CONNACK refused");
    }

    // reconnect_delay_set(1, 1): a fixed one-second wait.
    let (lines, status) =
        start("backoff-paho-fixed", &cases[..1], 60).paho_to_the_end(&["1,1", "30"]);
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(&lines, cases[0], "FAIL", "do not grow", "waited");
}

#[test]
fn keep_alive_and_retries_with_paho() {
    let Some(_) = venv::python_with("paho.mqtt.client") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "paho-mqtt is required in CI"
        );
        return;
    };
    // keep-alive 2 s with paho's network loop running: PINGREQ every 2 s.
    let cases = ["IOTSCOPE_Keep_Alive", "MQTT_Publish_Retry_No_Puback"];
    let (lines, status) = start("paho-keepalive", &cases, 60).paho_to_the_end(&["1,2", "2"]);
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(&lines, cases[0], "PASS", "PINGREQ", "PINGREQ");
    // paho resends an unacknowledged QoS 1 PUBLISH when it reconnects (clean session false).
    assert_verdict(
        &lines,
        cases[1],
        "PASS",
        "again with DUP set",
        "no retry within 10 s",
    );

    // The same paho without its network loop: silent after CONNECT.
    let (lines, status) =
        start("paho-no-loop", &cases[..1], 60).paho_to_the_end(&["1,2", "2", "no-loop"]);
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(&lines, cases[0], "FAIL", "silent for 1.5", "keep-alive 2 s");

    // Subscribing only at boot: the withheld SUBACK is never retried. paho starts over from
    // its shortest reconnect wait after every accepted CONNECT: no back-off after a
    // server-side disconnect. One paho process per case (the first SUBSCRIBE is the one).
    for (case, why, ev) in [
        (
            "MQTT_Subscribe_Retry_No_Suback",
            "never sent SUBSCRIBE",
            "withholds the SUBACK",
        ),
        (
            "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect",
            "do not grow",
            "server-side disconnect",
        ),
        (
            "MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection",
            "do not grow",
            "iotscope resets the TCP connection",
        ),
    ] {
        let (lines, status) = start("paho-subscribe-once", &[case], 40).paho_to_the_end(&[
            "1,16",
            "30",
            "subscribe-once",
        ]);
        assert_eq!(status, 1, "{lines:#?}");
        assert_verdict(&lines, case, "FAIL", why, ev);
    }
}

#[test]
fn retry_cases_with_mosquitto_clients() {
    if !have_tool("mosquitto_pub") || !have_tool("mosquitto_sub") {
        return;
    }
    // mosquitto_sub subscribes again on every reconnection.
    let mut run = start("sub-retry", &["MQTT_Subscribe_Retry_No_Suback"], 40);
    let mut c = Command::new("mosquitto_sub");
    c.args(["-h", "127.0.0.1", "-p", &run.port.to_string(), "--cafile"])
        .arg(run.ca())
        .args(["--insecure", "-i", "sub-1", "-t", "commands/1", "-q", "1"]);
    run.spawn_device(c);
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Subscribe_Retry_No_Suback",
        "PASS",
        "SUBSCRIBE to [\"commands/1\"] again",
        "no retry within 10 s",
    );

    // mosquitto_pub publishes once and gives up when the connection goes.
    let mut run = start("pub-retry", &["MQTT_Publish_Retry_No_Puback"], 25);
    let c = mosquitto_pub(
        run.port,
        &run.ca(),
        &["-i", "pub-1", "-t", "sensors/1", "-m", "1", "-q", "1"],
    );
    run.spawn_device(c);
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Publish_Retry_No_Puback",
        "FAIL",
        "never sent PUBLISH id",
        "withholds the PUBACK",
    );
}

/// The AWS IoT Device SDK v2's MQTT 5 client: it reconnects on its own, with exponential
/// back-off and the jitter mode given (`none`, `full`), never resetting the back-off while
/// connections last less than its 30 s default.
const SDK_DEVICE: &str = r#"
import sys, time
from awsiot import mqtt5_client_builder
from awscrt import mqtt5
port, ca, cert, key, jitter = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
mode = {"none": mqtt5.ExponentialBackoffJitterMode.NONE, "full": mqtt5.ExponentialBackoffJitterMode.FULL}[jitter]
client = mqtt5_client_builder.mtls_from_path(
    endpoint="localhost", port=port, cert_filepath=cert, pri_key_filepath=key, ca_filepath=ca,
    client_id="sdk-1", min_reconnect_delay_ms=500, max_reconnect_delay_ms=16000,
    retry_jitter_mode=mode)
client.start()
time.sleep(300)
"#;

fn sdk_device(run: &Run, jitter: &str) -> Option<Command> {
    let py = venv::python_with("awsiot")?;
    // A device certificate of its own (iotscope does not ask for one; the SDK needs files).
    let cert = run.dir.join("device.pem");
    let key = run.dir.join("device.key");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sdk-1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "openssl makes the device certificate");
    let mut c = Command::new(py);
    c.arg("-c")
        .arg(SDK_DEVICE)
        .arg(run.port.to_string())
        .arg(run.ca())
        .arg(cert)
        .arg(key)
        .arg(jitter);
    Some(c)
}

#[test]
fn back_off_and_jitter_pass_with_the_aws_iot_device_sdk() {
    if venv::python_with("awsiot").is_none() {
        assert!(std::env::var_os("CI").is_none(), "awsiot is required in CI");
        return;
    }
    if !have_tool("openssl") {
        return;
    }
    // No jitter: the waits double from 0.5 s, after refusals and after server-side closes.
    for case in [
        "MQTT_Connect_Exponential_Backoff_Retries",
        "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect",
        "MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection",
    ] {
        let mut run = start("sdk-backoff", &[case], 60);
        let c = sdk_device(&run, "none").unwrap();
        run.spawn_device(c);
        let (lines, status, _) = run.finish();
        assert_eq!(status, 0, "{lines:#?}");
        assert_verdict(&lines, case, "PASS", "the waits grow", "waited");
    }
    // Full jitter: each wait drawn between 0 and the back-off ceiling.
    let case = "MQTT_Connect_Jitter_Backoff_Retries";
    let mut run = start("sdk-jitter", &[case], 90);
    let c = sdk_device(&run, "full").unwrap();
    run.spawn_device(c);
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(&lines, case, "PASS", "randomised", "CONNACK refused");
}

#[test]
fn large_chain_maximum_fragments_and_persistent_sessions() {
    if !have_tool("openssl") || !have_tool("mosquitto_sub") {
        return;
    }
    // A verifying OpenSSL takes the ~14 KB chain (OpenSSL's default limit is 100 KB).
    let mut run = start("large-chain", &["TLS_LargeServerCert"], 60);
    let (port, ca) = (run.port, run.ca());
    run.keep_running(Duration::from_millis(200), move || {
        s_client(port, &ca, &["-verify_return_error"])
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "TLS_LargeServerCert",
        "PASS",
        "large chain",
        "300 extra names",
    );

    // mosquitto_sub subscribes at QoS 1, takes the 33 768-byte PUBLISH and acknowledges it.
    // mosquitto_sub asks for a clean session: the persistent-session case fails.
    let cases = [
        "TLS_Receive_Maximum_Size_Fragments",
        "MQTT_Persistent_Session_Happy_Case",
    ];
    let mut run = start("fragments", &cases, 40);
    let mut c = Command::new("mosquitto_sub");
    c.args(["-h", "127.0.0.1", "-p", &run.port.to_string(), "--cafile"])
        .arg(run.ca())
        .args(["--insecure", "-i", "sub-1", "-t", "commands/1", "-q", "1"]);
    run.spawn_device(c);
    let (lines, status, _) = run.finish();
    assert_eq!(status, 1, "{lines:#?}");
    assert_verdict(
        &lines,
        cases[0],
        "PASS",
        "33768-byte PUBLISH",
        "PUBACK for the large PUBLISH",
    );
    assert_verdict(
        &lines,
        cases[1],
        "FAIL",
        "clean session",
        "clean session true",
    );

    // paho with clean_session=False, subscribing once at start, comes back for its session
    // without subscribing again and acknowledges the message stored for it.
    if venv::python_with("paho.mqtt.client").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "paho-mqtt is required in CI"
        );
        return;
    }
    let (lines, status) =
        start("persistent-paho", &cases[1..], 40).paho_to_the_end(&["1,2", "30", "subscribe-once"]);
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        cases[1],
        "PASS",
        "acknowledged the stored message without subscribing again",
        "PUBACK id 42405",
    );
}

#[test]
fn expired_session_needs_a_new_subscribe_after_session_present_0() {
    if venv::python_with("paho.mqtt.client").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "paho-mqtt is required in CI"
        );
        return;
    }
    let case = "MQTT_Expired_Persistent_Session";
    // paho subscribing in on_connect, on every connection: told the session is gone, it
    // subscribes again. paho subscribing once, at start, does not.
    for (mode, want, why) in [
        (
            "subscribe-always",
            "PASS",
            "subscribed to [\"commands/paho\"] again",
        ),
        (
            "subscribe-once",
            "FAIL",
            "did not subscribe to [\"commands/paho\"] again",
        ),
    ] {
        let (lines, status) =
            start("expired-paho", &[case], 40).paho_to_the_end(&["1,2", "30", mode]);
        assert_eq!(status, i32::from(want == "FAIL"), "{lines:#?}");
        assert_verdict(
            &lines,
            case,
            want,
            why,
            "CONNACK accepted, session present 0 (the session expired)",
        );
    }
}

/// An MQTT-over-TLS endpoint for `--upstream`: its address, the files iotscope needs to
/// reach it (the device's certificate and key, the CA to trust) and the child it runs in.
struct Upstream {
    port: u16,
    dir: iotscope_tests::pki::Dir,
    /// The CA iotscope trusts for the upstream.
    trust: String,
    _broker: Option<iotscope_tests::mosquitto::Broker>,
    endpoint: Option<Child>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(c) = self.endpoint.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A device CA, the device's certificate (`dev.pem`, `dev.key`, client id `dev-*`) and a
/// server certificate for NAME and localhost, in a directory of the test's own.
fn upstream_pki(name: &str) -> (iotscope_tests::pki::Dir, iotscope_tests::pki::Ca) {
    use iotscope_tests::pki::{self, Dir, Leaf};
    let dir = Dir::new(&format!("upstream-peer-{name}"));
    let ca = pki::ca("upstream test CA");
    dir.put("ca.pem", &ca.pem());
    let server = Leaf::new(&ca, "broker", &[NAME, "localhost"], false);
    dir.put("server.pem", &server.cert_pem);
    dir.put("server.key", &server.key_pem);
    let device = Leaf::new(&ca, "dev-good", &[], true);
    dir.put("dev.pem", &device.cert_pem);
    dir.put("dev.key", &device.key_pem);
    (dir, ca)
}

impl Upstream {
    /// mosquitto with TLS on a free port, asking for a client certificate from the CA.
    fn mosquitto(name: &str) -> Option<Upstream> {
        let bin = iotscope_tests::mosquitto::mosquitto_bin()?;
        let (dir, _) = upstream_pki(name);
        let (broker, port) = iotscope_tests::mosquitto::broker(
            &bin,
            &dir,
            &dir.file("ca.pem"),
            &dir.file("server.pem"),
            &dir.file("server.key"),
            "",
        );
        let trust = dir.file("ca.pem");
        Some(Upstream {
            port,
            dir,
            trust,
            _broker: Some(broker),
            endpoint: None,
        })
    }

    /// `iotscope endpoint` named NAME with the device's certificate registered ACTIVE and a
    /// policy that allows everything, logging to `log.jsonl`.
    fn endpoint(name: &str) -> Upstream {
        let (dir, _) = upstream_pki(name);
        let registry = r#"{"policies":[{"policyName":"all","policyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}}],
            "certificates":[{"file":"dev.pem","status":"ACTIVE","policies":["all"]}]}"#;
        let mut child = Command::new(iotscope_path())
            .arg("endpoint")
            .args(["--registry", &dir.put("registry.json", registry)])
            .args(["--listen", "127.0.0.1:0", "--name", NAME])
            .args(["--state-dir", &dir.file("state")])
            .args(["--log", &dir.file("log.jsonl")])
            .stderr(Stdio::piped())
            .spawn()
            .expect("iotscope endpoint runs");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr: std::net::SocketAddr = iotscope_tests::address_after(
            &mut lines,
            " MQTT on ",
            "the endpoint said where it listens",
        );
        std::thread::spawn(move || for _ in lines {});
        let trust = dir.file("state/iotscope-ca.pem");
        Upstream {
            port: addr.port(),
            dir,
            trust,
            _broker: None,
            endpoint: Some(child),
        }
    }

    /// `--upstream` and the identity iotscope presents there.
    fn args(&self) -> Vec<String> {
        vec![
            "--upstream".into(),
            format!("127.0.0.1:{}", self.port),
            "--device-cert".into(),
            self.dir.file("dev.pem"),
            "--device-key".into(),
            self.dir.file("dev.key"),
            "--upstream-ca".into(),
            self.trust.clone(),
        ]
    }

    /// The words the evidence uses for a packet the upstream sent.
    fn sends(&self, what: &str) -> String {
        format!(
            "the upstream 127.0.0.1:{} sends {what}; iotscope passes it to the device",
            self.port
        )
    }

    /// A mosquitto_sub on the upstream, subscribed (its SUBACK seen) before this returns;
    /// what it receives collects in the returned text.
    fn watch(&self, topic: &str) -> (Child, Arc<std::sync::Mutex<String>>) {
        // Line-buffered, so that its SUBACK line arrives as it happens.
        let mut c = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", "localhost", "-p", &self.port.to_string()])
            .args(["--cafile", &self.trust])
            .args(["--cert", &self.dir.file("dev.pem")])
            .args(["--key", &self.dir.file("dev.key")])
            .args(["-i", "dev-watcher", "-t", topic, "-v", "-d"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs");
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = c.stdout.take().unwrap();
        let s = seen.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if l.contains("received SUBACK") {
                    let _ = tx.send(());
                }
                let mut t = s.lock().unwrap();
                t.push_str(&l);
                t.push('\n');
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the watcher subscribed on the upstream");
        (c, seen)
    }
}

/// Waits (at most a minute, only against a hang) until the watcher's text holds `want`.
fn watcher_got(seen: &std::sync::Mutex<String>, want: &str) -> bool {
    for _ in 0..600 {
        if seen.lock().unwrap().contains(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// MQTT_Connect and IOTSCOPE_Publish_QoS1 with `--upstream`: mosquitto_pub as the device,
/// both PASS, the CONNACK and the PUBACK each named as the upstream's; the run's lines.
fn connect_and_publish_through(
    up: &Upstream,
    name: &str,
    client: &str,
    topic: &str,
    message: &str,
) -> Vec<Value> {
    let cases = ["MQTT_Connect", "IOTSCOPE_Publish_QoS1"];
    let mut run = start_with(name, &cases, 60, &up.args());
    let (port, ca) = (run.port, run.ca());
    let (client, topic, message) = (client.to_string(), topic.to_string(), message.to_string());
    run.keep_running(Duration::from_millis(200), move || {
        mosquitto_pub(
            port,
            &ca,
            &["-i", &client, "-t", &topic, "-m", &message, "-q", "1"],
        )
    });
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        cases[0],
        "PASS",
        "the upstream accepted it",
        &up.sends("CONNACK: session present 0, return code 0"),
    );
    assert_verdict(
        &lines,
        cases[1],
        "PASS",
        "QoS 1 PUBLISH",
        &up.sends("PUBACK id 1"),
    );
    lines
}

#[test]
fn upstream_mosquitto_gets_the_device_session_and_only_the_case_intervenes() {
    if !have_tool("mosquitto_pub") || !have_tool("mosquitto_sub") {
        return;
    }
    let Some(up) = Upstream::mosquitto("mosquitto") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mosquitto is required in CI"
        );
        return;
    };
    let (mut watcher, seen) = up.watch("sensors/#");

    // CONNECT and a QoS 1 PUBLISH go upstream; the CONNACK and the PUBACK come from there.
    let lines = connect_and_publish_through(
        &up,
        "upstream-mosquitto",
        "sensor-up",
        "sensors/up",
        "through-qualify",
    );
    assert_verdict(
        &lines,
        "IOTSCOPE_Publish_QoS1",
        "PASS",
        "QoS 1 PUBLISH",
        &format!("iotscope passes it to the upstream 127.0.0.1:{}", up.port),
    );
    assert!(
        watcher_got(&seen, "sensors/up through-qualify"),
        "the upstream's subscriber did not get the device's PUBLISH:\n{}",
        seen.lock().unwrap()
    );

    // The SUBSCRIBE goes upstream; iotscope withholds only the upstream's SUBACK.
    let mut run = start_with(
        "upstream-sub-retry",
        &["MQTT_Subscribe_Retry_No_Suback"],
        40,
        &up.args(),
    );
    let mut c = Command::new("mosquitto_sub");
    c.args(["-h", "127.0.0.1", "-p", &run.port.to_string(), "--cafile"])
        .arg(run.ca())
        .args(["--insecure", "-i", "sub-up", "-t", "commands/1", "-q", "1"]);
    run.spawn_device(c);
    let (lines, status, _) = run.finish();
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Subscribe_Retry_No_Suback",
        "PASS",
        "again",
        &format!(
            "iotscope withholds the upstream 127.0.0.1:{}'s SUBACK id",
            up.port
        ),
    );

    if venv::python_with("paho.mqtt.client").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "paho-mqtt is required in CI"
        );
        let _ = watcher.kill();
        return;
    }
    // paho's QoS 1 PUBLISH reaches the upstream; only its PUBACK is withheld, and paho
    // sends the PUBLISH again with DUP on its next connection.
    let run = start_with(
        "upstream-pub-retry",
        &["MQTT_Publish_Retry_No_Puback"],
        60,
        &up.args(),
    );
    let (lines, status) = run.paho_to_the_end(&["1,2", "30"]);
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Publish_Retry_No_Puback",
        "PASS",
        "again with DUP set",
        &format!(
            "iotscope withholds the upstream 127.0.0.1:{}'s PUBACK id",
            up.port
        ),
    );
    assert!(
        watcher_got(&seen, "sensors/paho 1"),
        "the upstream's subscriber did not get paho's PUBLISH:\n{}",
        seen.lock().unwrap()
    );
    let _ = watcher.kill();
    let _ = watcher.wait();

    // Session present as the real broker says it: mosquitto keeps paho's session (it
    // subscribed once, at start), so the second CONNACK says 1.
    let run = start_with(
        "upstream-persistent",
        &["MQTT_Persistent_Session_Happy_Case"],
        40,
        &up.args(),
    );
    let (lines, status) = run.paho_to_the_end(&["1,2", "30", "subscribe-once"]);
    assert_eq!(status, 0, "{lines:#?}");
    assert_verdict(
        &lines,
        "MQTT_Persistent_Session_Happy_Case",
        "PASS",
        "acknowledged the stored message",
        &up.sends("CONNACK: session present 1, return code 0"),
    );

    // The expired session: iotscope sets clean session on the CONNECT it passes up, and
    // the upstream's own CONNACK says the session is gone; paho subscribing in on_connect
    // subscribes again.
    let run = start_with(
        "upstream-expired",
        &["MQTT_Expired_Persistent_Session"],
        40,
        &up.args(),
    );
    let (lines, status) = run.paho_to_the_end(&["1,2", "30", "subscribe-always"]);
    assert_eq!(status, 0, "{lines:#?}");
    let v = verdict(&lines, "MQTT_Expired_Persistent_Session");
    assert_eq!(v["verdict"], "PASS", "{v:#}");
    let ev = evidence(v);
    assert!(ev.contains("iotscope sets clean session"), "{ev}");
    let after = ev.split("iotscope sets clean session").nth(1).unwrap();
    assert!(
        after.contains(&up.sends("CONNACK: session present 0, return code 0")),
        "{ev}"
    );
}

#[test]
fn upstream_iotscope_endpoint_with_the_device_certificate_registered() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let up = Upstream::endpoint("endpoint");
    connect_and_publish_through(&up, "upstream-endpoint", "sensor-ep", "demo/qualify", "1");
    // The endpoint's log shows the device's connection with the registered certificate,
    // and its PUBLISH.
    let mut log: Vec<Value> = Vec::new();
    for _ in 0..600 {
        log = std::fs::read_to_string(up.dir.join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if log.iter().any(|e| e["eventType"] == "Publish-In") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let der = pem_der(&std::fs::read(up.dir.join("dev.pem")).unwrap());
    let id = iotscope_decoder::cert::identity(&der)
        .unwrap()
        .certificate_id;
    assert!(
        log.iter().any(|e| e["eventType"] == "Connect"
            && e["status"] == "Success"
            && e["clientId"] == "sensor-ep"
            && e["principalId"] == id.as_str()),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|e| e["eventType"] == "Publish-In"
            && e["status"] == "Success"
            && e["topicName"] == "demo/qualify"),
        "{log:#?}"
    );
}

/// The DER of the first certificate in a PEM file.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("a certificate")
        .expect("valid PEM")
        .to_vec()
}

#[test]
fn an_unreachable_upstream_is_an_error_naming_it() {
    let dead = iotscope_tests::proxy::dead_port();
    let dir = scratch("upstream-dead");
    let mut child = Command::new(iotscope_path())
        .args([
            "qualify",
            "--listen",
            "127.0.0.1:0",
            "--case",
            "MQTT_Connect",
        ])
        .arg("--ca-dir")
        .arg(dir.join("ca"))
        .args(["--upstream", &format!("127.0.0.1:{dead}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous, only against a hang: the refusal is immediate.
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("qualify kept running with an unreachable upstream");
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot reach the upstream 127.0.0.1:{dead}"))
            && err.contains("connection refused"),
        "{err}"
    );
}

//! `iotscope endpoint` against clients we did not write (mosquitto_pub / mosquitto_sub,
//! `openssl s_client`), one test per behaviour, each asserting what the client sees and what
//! the endpoint's AWSIotLogsV2-shaped log says. Expectations come from the AWS documentation
//! as the reference notes quote it (which topic the policy allows is decided here by reading
//! the policy, not by calling iotscope's evaluator).
//!
//! A binary of its own: these tests start processes and are slow.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use iotscope_tests::pki::{self, Dir, Leaf};
use iotscope_tests::{have_tool, iotscope_path};
use serde_json::Value;

const NAME: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

/// Allows connecting as dev-*, publishing and receiving on demo/*, subscribing to demo/*.
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/dev-*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/demo/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/demo/*"}]}"#;

struct Endpoint {
    child: Child,
    addr: SocketAddr,
    dir: Dir,
}

impl Endpoint {
    /// Starts the endpoint with a good (ACTIVE) and an INACTIVE certificate registered.
    fn start(name: &str) -> Endpoint {
        let dir = Dir::new(&format!("endpoint-peers-{name}"));
        let ca = pki::ca("device CA");
        for (file, cn) in [
            ("good", "dev-good"),
            ("inactive", "dev-inactive"),
            ("stranger", "dev-stranger"),
        ] {
            let leaf = Leaf::new(&ca, cn, &[], true);
            dir.put(&format!("{file}.pem"), &leaf.cert_pem);
            dir.put(&format!("{file}.key"), &leaf.key_pem);
        }
        let registry = format!(
            r#"{{"policies":[{{"policyName":"p","policyDocument":{POLICY}}}],
                "certificates":[{{"file":"good.pem","status":"ACTIVE","policies":["p"]}},
                                {{"file":"inactive.pem","status":"INACTIVE","policies":["p"]}}]}}"#
        );
        let reg = dir.put("registry.json", &registry);
        let mut child = Command::new(iotscope_path())
            .args(["endpoint", "--listen", "127.0.0.1:0", "--registry", &reg])
            .args([
                "--state-dir",
                &dir.file("state"),
                "--log",
                &dir.file("log.jsonl"),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let l = lines
                .next()
                .expect("the endpoint said where it listens")
                .unwrap();
            if let Some(a) = l.split(" MQTT on ").nth(1) {
                break a.trim().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Endpoint { child, addr, dir }
    }

    fn ca(&self) -> String {
        self.dir.file("state/iotscope-ca.pem")
    }

    fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn mosquitto(&self, tool: &str, cert: &str, args: &[&str]) -> std::process::Output {
        Command::new(tool)
            .args(["-h", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .args(["--cafile", &self.ca()])
            .args(["--cert", &self.dir.file(&format!("{cert}.pem"))])
            .args(["--key", &self.dir.file(&format!("{cert}.key"))])
            .args(["--insecure"]) // the test connects by address; SNI is set below
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn entry<'a>(log: &'a [Value], event: &str, status: &str) -> Option<&'a Value> {
    log.iter()
        .find(|e| e["eventType"] == event && e["status"] == status)
}

#[test]
fn mosquitto_pub_inside_the_policy_is_accepted_and_logged() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-ok");
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i", "dev-1", "-t", "demo/a", "-m", "hi", "-q", "1", "-V", "mqttv311",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = ep.log();
    let c = entry(&log, "Connect", "Success").expect("a Connect entry");
    assert_eq!(c["clientId"], "dev-1");
    assert_eq!(c["principalId"].as_str().unwrap().len(), 64);
    let p = entry(&log, "Publish-In", "Success").expect("a Publish-In entry");
    assert_eq!(p["topicName"], "demo/a");
    let d = entry(&log, "Disconnect", "Success").expect("a Disconnect entry");
    assert_eq!(d["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
}

#[test]
fn a_publish_outside_the_policy_disconnects_an_mqtt_311_client() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-denied");
    // factory/x is not under demo/: the policy has no statement for it.
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i",
            "dev-2",
            "-t",
            "factory/x",
            "-m",
            "hi",
            "-q",
            "1",
            "-V",
            "mqttv311",
        ],
    );
    assert!(
        !out.status.success(),
        "mosquitto_pub must see the connection closed"
    );
    let log = ep.log();
    let p = entry(&log, "Publish-In", "Failure").expect("a failed Publish-In entry");
    assert_eq!(p["reason"], "AUTHORIZATION_FAILURE");
    let d = entry(&log, "Disconnect", "Success").unwrap();
    assert_eq!(d["disconnectReason"], "AUTH_ERROR");
}

#[test]
fn a_publish_outside_the_policy_gets_puback_0x87_over_mqtt_5() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-denied-5");
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i",
            "dev-3",
            "-t",
            "factory/x",
            "-m",
            "hi",
            "-q",
            "1",
            "-V",
            "mqttv5",
            "-d",
        ],
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("PUBACK")
            && (text.contains("135")
                || text.contains("not authorized")
                || text.contains("Not authorized")),
        "{text}"
    );
}

#[test]
fn a_denied_subscribe_gets_suback_0x80_over_mqtt_311() {
    if !have_tool("mosquitto_sub") {
        return;
    }
    let ep = Endpoint::start("sub-denied");
    let out = ep.mosquitto(
        "mosquitto_sub",
        "good",
        &[
            "-i",
            "dev-4",
            "-t",
            "factory/#",
            "-q",
            "1",
            "-V",
            "mqttv311",
            "-C",
            "1",
            "-W",
            "5",
            "-d",
        ],
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("SUBACK") && text.contains("128"), "{text}");
    let log = ep.log();
    assert_eq!(
        entry(&log, "Subscribe", "Failure").unwrap()["reason"],
        "AUTHORIZATION_FAILURE"
    );
}

#[test]
fn an_inactive_certificate_is_refused_with_certificate_unknown_in_tls_12() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("inactive-12");
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &ep.addr.to_string(),
            "-servername",
            NAME,
            "-tls1_2",
        ])
        .args([
            "-CAfile",
            &ep.ca(),
            "-cert",
            &ep.dir.file("inactive.pem"),
            "-key",
            &ep.dir.file("inactive.key"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    // Reference §2: alert 46, "SSLV3_ALERT_CERTIFICATE_UNKNOWN" / "SSL alert number 46".
    assert!(
        text.contains("alert number 46") || text.contains("certificate unknown"),
        "{text}"
    );
    let log = ep.log();
    let e = entry(&log, "Connection.AuthNError", "Failure").unwrap();
    assert_eq!(e["reason"], "DEVICE_CERTIFICATE_INACTIVE");
}

#[test]
fn an_unregistered_certificate_is_refused_in_tls_13() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("unregistered-13");
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &ep.addr.to_string(),
            "-servername",
            NAME,
            "-tls1_3",
        ])
        .args([
            "-CAfile",
            &ep.ca(),
            "-cert",
            &ep.dir.file("stranger.pem"),
            "-key",
            &ep.dir.file("stranger.key"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("alert number 46") || text.contains("certificate unknown"),
        "{text}"
    );
    let log = ep.log();
    assert_eq!(
        entry(&log, "Connection.AuthNError", "Failure").unwrap()["reason"],
        "DEVICE_CERTIFICATE_NOT_REGISTERED"
    );
}

#[test]
fn a_wrong_sni_is_refused() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("wrong-sni");
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &ep.addr.to_string(),
            "-servername",
            "other-ats.iot.us-east-1.amazonaws.com",
        ])
        .args([
            "-CAfile",
            &ep.ca(),
            "-cert",
            &ep.dir.file("good.pem"),
            "-key",
            &ep.dir.file("good.key"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unrecognized name") || text.contains("alert number 112"),
        "{text}"
    );
    assert_eq!(
        entry(&ep.log(), "Connection.AuthNError", "Failure").unwrap()["reason"],
        "SNI_MISUSED"
    );
}

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
use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
use iotscope_tests::{codes, codes_of, have_tool, iotscope_path};
use serde_json::Value;

const NAME: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

/// Allows connecting as dev-*, publishing (retained too) and receiving on demo/*,
/// subscribing to demo/*; denies publishing to demo/secret explicitly.
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/dev-*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive","iot:RetainPublish"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/demo/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/demo/*"},
 {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/demo/secret"}]}"#;

struct Endpoint {
    child: Child,
    addr: SocketAddr,
    /// The listener that wants ALPN x-amzn-mqtt-ca or x-amzn-http-ca (AWS: port 443).
    alpn: SocketAddr,
    /// HTTPS publish (AWS: port 8443).
    https: SocketAddr,
    dir: Dir,
    /// `iotscope proxy --mitm` in front of the endpoint, when the test goes through it.
    proxy: Option<(ProxyProcess, String)>,
}

/// Where the endpoint's registry comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    /// A `--registry` file.
    Registry,
    /// `--account`: the JSON the AWS CLI prints for the same certificates and policy.
    AccountFiles,
}

/// What `aws iot describe-certificate`, `list-attached-policies` and `get-policy` print for
/// the test's certificates (the same statuses and policy as the `--registry` file), one file
/// per call as a user would save them; the list names its certificate in its file name.
fn account_files(dir: &std::path::Path, ids: &[(&str, String)]) {
    let arn = |id: &str| format!("arn:aws:iot:us-east-1:123456789012:cert/{id}");
    for (file, id) in ids {
        let status = match *file {
            "inactive" => "INACTIVE",
            "revoked" => "REVOKED",
            "stranger" => continue,
            _ => "ACTIVE",
        };
        let describe = serde_json::json!({"certificateDescription": {
            "certificateArn": arn(id),
            "certificateId": id,
            "status": status,
            "ownedBy": "123456789012",
            "creationDate": 1796605210.033,
            "certificateMode": "DEFAULT",
        }});
        std::fs::write(
            dir.join(format!("describe-certificate.{file}.json")),
            serde_json::to_string_pretty(&describe).unwrap(),
        )
        .unwrap();
        let attached = serde_json::json!({"policies": [{
            "policyName": "p",
            "policyArn": "arn:aws:iot:us-east-1:123456789012:policy/p",
        }]});
        std::fs::write(
            dir.join(format!("list-attached-policies.{id}.json")),
            serde_json::to_string_pretty(&attached).unwrap(),
        )
        .unwrap();
    }
    // get-policy prints the document as a string.
    let policy = serde_json::json!({
        "policyName": "p",
        "policyArn": "arn:aws:iot:us-east-1:123456789012:policy/p",
        "policyDocument": POLICY,
        "defaultVersionId": "1",
    });
    std::fs::write(
        dir.join("get-policy.json"),
        serde_json::to_string_pretty(&policy).unwrap(),
    )
    .unwrap();
}

/// How a test reaches the endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Direct,
    Proxy,
}

/// The two tests of a case: straight at the endpoint, and through `iotscope proxy --mitm`
/// (`CASE::direct` and `CASE::through_the_proxy`).
macro_rules! direct_and_through_the_proxy {
    ($case:ident) => {
        mod $case {
            #[test]
            fn direct() {
                super::$case(super::Via::Direct);
            }

            #[test]
            fn through_the_proxy() {
                super::$case(super::Via::Proxy);
            }
        }
    };
}

impl Endpoint {
    /// Starts the endpoint with a good (ACTIVE) and an INACTIVE certificate registered (and
    /// a third, unregistered), and with `Via::Proxy` the proxy in front of it (MITM, with
    /// every device's certificate in its `--device-certs`).
    fn start(name: &str, via: Via) -> Endpoint {
        Endpoint::start_named(name, via, NAME)
    }

    /// As [`Endpoint::start`], for the endpoint name `host` (a client that connects by name
    /// needs one that resolves: `localhost`).
    fn start_named(name: &str, via: Via, host: &str) -> Endpoint {
        Endpoint::start_with(name, via, host, &[])
    }

    /// As [`Endpoint::start_named`], with more options for the endpoint.
    fn start_with(name: &str, via: Via, host: &str, more: &[&str]) -> Endpoint {
        Endpoint::start_from(name, via, host, more, Source::Registry)
    }

    /// As [`Endpoint::start_with`], the registry given as `source` says.
    fn start_from(name: &str, via: Via, host: &str, more: &[&str], source: Source) -> Endpoint {
        let dir = Dir::new(&format!("endpoint-peers-{name}-{via:?}"));
        let ca = pki::ca("device CA");
        let certs = dir.join("device-certs");
        std::fs::create_dir_all(&certs).unwrap();
        let mut ids = Vec::new();
        for (file, cn) in [
            ("good", "dev-good"),
            ("inactive", "dev-inactive"),
            ("stranger", "dev-stranger"),
            ("revoked", "dev-revoked"),
            ("expired", "dev-expired"),
        ] {
            let leaf = Leaf::with(&ca, cn, &[], true, |p| {
                if file == "expired" {
                    // Valid last year only: registered ACTIVE, but expired now.
                    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
                    p.not_after = rcgen::date_time_ymd(2025, 1, 1);
                }
            });
            dir.put(&format!("{file}.pem"), &leaf.cert_pem);
            dir.put(&format!("{file}.key"), &leaf.key_pem);
            let id = iotscope_decoder::cert::identity(leaf.chain[0].as_ref())
                .unwrap()
                .certificate_id;
            std::fs::write(certs.join(format!("{id}.pem")), &leaf.cert_pem).unwrap();
            std::fs::write(certs.join(format!("{id}.key")), &leaf.key_pem).unwrap();
            ids.push((file, id));
        }
        let registry = format!(
            r#"{{"policies":[{{"policyName":"p","policyDocument":{POLICY}}}],
                "certificates":[{{"file":"good.pem","status":"ACTIVE","policies":["p"]}},
                                {{"file":"inactive.pem","status":"INACTIVE","policies":["p"]}},
                                {{"file":"revoked.pem","status":"REVOKED","policies":["p"]}},
                                {{"file":"expired.pem","status":"ACTIVE","policies":["p"]}}]}}"#
        );
        let registry_args = match source {
            Source::Registry => vec![
                "--registry".to_string(),
                dir.put("registry.json", &registry),
            ],
            Source::AccountFiles => {
                let account = dir.join("account");
                std::fs::create_dir_all(&account).unwrap();
                account_files(&account, &ids);
                vec![
                    "--account".to_string(),
                    account.to_str().unwrap().to_string(),
                ]
            }
        };
        let mut child = Command::new(iotscope_path())
            .arg("endpoint")
            .args(registry_args)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--name",
                host,
                "--listen-alpn",
                "127.0.0.1:0",
                "--listen-https",
                "127.0.0.1:0",
            ])
            .args(more)
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
        let addr: SocketAddr = iotscope_tests::address_after(
            &mut lines,
            " MQTT on ",
            "the endpoint said where it listens",
        );
        let alpn: SocketAddr = iotscope_tests::address_after(
            &mut lines,
            " x-amzn-http-ca (HTTPS publish) on ",
            "the endpoint said where it listens with ALPN",
        );
        let https: SocketAddr = iotscope_tests::address_after(
            &mut lines,
            " HTTPS publish on ",
            "the endpoint said where it serves HTTPS",
        );
        std::thread::spawn(move || for _ in lines {});
        let proxy = (via == Via::Proxy).then(|| {
            let (ca_dir, trust) = mitm_ca(&dir);
            let p = ProxyProcess::start(&[
                "--mitm",
                "--device-certs",
                certs.to_str().unwrap(),
                "--upstream",
                &addr.to_string(),
                "--upstream-ca",
                &dir.file("state/iotscope-ca.pem"),
                "--ca-dir",
                &ca_dir,
                "--endpoint",
                host,
            ]);
            (p, trust)
        });
        Endpoint {
            child,
            addr,
            alpn,
            https,
            dir,
            proxy,
        }
    }

    /// Where a client connects: the proxy when there is one.
    fn target(&self) -> SocketAddr {
        match &self.proxy {
            Some((p, _)) => p.addr().parse().unwrap(),
            None => self.addr,
        }
    }

    /// The CA the client trusts: the proxy's when it goes through the proxy.
    fn ca(&self) -> String {
        match &self.proxy {
            Some((_, trust)) => trust.clone(),
            None => self.dir.file("state/iotscope-ca.pem"),
        }
    }

    /// Through the proxy: the finding codes of the next connection it reports.
    fn diagnosed(&self) -> Option<Vec<String>> {
        self.proxy
            .as_ref()
            .map(|(p, _)| codes(&p.next_connection()))
    }

    /// Through the proxy: stops it and returns the finding codes of every connection it
    /// reported (for a client that reconnects on its own).
    fn all_diagnosed(&mut self) -> Option<Vec<String>> {
        let (p, _) = self.proxy.take()?;
        let (_, lines, _) = p.stop();
        Some(
            lines
                .iter()
                .filter(|l| l.get("findings").is_some())
                .flat_map(codes)
                .collect(),
        )
    }

    /// Through the proxy: stops it and returns the error findings of every connection it
    /// reported (paho connecting by address sends no SNI, a warning).
    fn all_diagnosed_errors(&mut self) -> Option<Vec<String>> {
        let (p, _) = self.proxy.take()?;
        let (_, lines, _) = p.stop();
        Some(
            lines
                .iter()
                .filter(|l| l.get("findings").is_some())
                .flat_map(|l| codes_of(l, "error"))
                .collect(),
        )
    }

    /// Through the proxy: the error findings of the next connection it reports (mosquitto
    /// connecting by address sends no SNI, a warning).
    fn diagnosed_errors(&self) -> Option<Vec<String>> {
        self.proxy
            .as_ref()
            .map(|(p, _)| codes_of(&p.next_connection(), "error"))
    }

    /// What an openssl client says when the endpoint refuses its certificate: directly, the
    /// endpoint's alert 46; through the proxy, which finished the device's handshake itself,
    /// the proxy closing the connection.
    fn refused_text(&self, text: &str) -> bool {
        match self.proxy {
            None => text.contains("alert number 46") || text.contains("certificate unknown"),
            Some(_) => text.contains("unexpected eof") || text.contains("alert"),
        }
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
            .args(["-h", "127.0.0.1", "-p", &self.target().port().to_string()])
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
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
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

impl Endpoint {
    /// The log once it holds an `event` entry with `status`: the endpoint writes an entry
    /// when the connection's end reaches it, which may be after the client exits. Waits at
    /// most a minute, only to avoid a hang.
    fn log_with(&self, event: &str, status: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let log = self.log();
            if entry(&log, event, status).is_some() || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn mosquitto_pub_inside_the_policy_is_accepted_and_logged(via: Via) {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-ok", via);
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
    let log = ep.log_with("Disconnect", "Success");
    let c = entry(&log, "Connect", "Success").expect("a Connect entry");
    assert_eq!(c["clientId"], "dev-1");
    assert_eq!(c["principalId"].as_str().unwrap().len(), 64);
    let p = entry(&log, "Publish-In", "Success").expect("a Publish-In entry");
    assert_eq!(p["topicName"], "demo/a");
    let d = entry(&log, "Disconnect", "Success").expect("a Disconnect entry");
    assert_eq!(d["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");

    if let Some(found) = ep.diagnosed_errors() {
        assert!(found.is_empty(), "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(mosquitto_pub_inside_the_policy_is_accepted_and_logged);

fn a_publish_outside_the_policy_disconnects_an_mqtt_311_client(via: Via) {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-denied", via);
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
    let log = ep.log_with("Disconnect", "Success");
    let p = entry(&log, "Publish-In", "Failure").expect("a failed Publish-In entry");
    assert_eq!(p["reason"], "AUTHORIZATION_FAILURE");
    let d = entry(&log, "Disconnect", "Success").unwrap();
    assert_eq!(d["disconnectReason"], "AUTH_ERROR");

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTHZ.PUBLISH_DENIED"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_publish_outside_the_policy_disconnects_an_mqtt_311_client);

fn a_publish_outside_the_policy_gets_puback_0x87_over_mqtt_5(via: Via) {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("pub-denied-5", via);
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

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTHZ.PUBLISH_DENIED"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_publish_outside_the_policy_gets_puback_0x87_over_mqtt_5);

fn a_denied_subscribe_gets_suback_0x80_over_mqtt_311(via: Via) {
    if !have_tool("mosquitto_sub") {
        return;
    }
    let ep = Endpoint::start("sub-denied", via);
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
    let log = ep.log_with("Subscribe", "Failure");
    assert_eq!(
        entry(&log, "Subscribe", "Failure").unwrap()["reason"],
        "AUTHORIZATION_FAILURE"
    );

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTHZ.SUBSCRIBE_DENIED"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_denied_subscribe_gets_suback_0x80_over_mqtt_311);

fn an_inactive_certificate_is_refused_with_certificate_unknown_in_tls_12(via: Via) {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("inactive-12", via);
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-ign_eof",
            "-connect",
            &ep.target().to_string(),
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
    assert!(ep.refused_text(&text), "{text}");
    let log = ep.log_with("Connection.AuthNError", "Failure");
    let e = entry(&log, "Connection.AuthNError", "Failure").unwrap();
    assert_eq!(e["reason"], "DEVICE_CERTIFICATE_INACTIVE");

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTH.CLIENT_CERT_REJECTED"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(
    an_inactive_certificate_is_refused_with_certificate_unknown_in_tls_12
);

fn an_unregistered_certificate_is_refused_in_tls_13(via: Via) {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("unregistered-13", via);
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-ign_eof",
            "-connect",
            &ep.target().to_string(),
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
    assert!(ep.refused_text(&text), "{text}");
    let log = ep.log_with("Connection.AuthNError", "Failure");
    assert_eq!(
        entry(&log, "Connection.AuthNError", "Failure").unwrap()["reason"],
        "DEVICE_CERTIFICATE_NOT_REGISTERED"
    );

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTH.CLIENT_CERT_REJECTED"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(an_unregistered_certificate_is_refused_in_tls_13);

fn a_wrong_sni_is_refused(via: Via) {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("wrong-sni", via);
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-ign_eof",
            "-connect",
            &ep.target().to_string(),
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
        // Directly: the endpoint's unrecognized_name alert; through the proxy, which finished
        // the device's handshake itself, the proxy closing the connection.
        text.contains("unrecognized name")
            || text.contains("alert number 112")
            || (via == Via::Proxy && text.contains("unexpected eof")),
        "{text}"
    );
    assert_eq!(
        entry(
            &ep.log_with("Connection.AuthNError", "Failure"),
            "Connection.AuthNError",
            "Failure"
        )
        .unwrap()["reason"],
        "SNI_MISUSED"
    );

    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "CONN.SNI_MISMATCH"),
            "the proxy found {found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_wrong_sni_is_refused);

// ---- paho-mqtt (Python) ----

const PAHO: &str = include_str!("peers/paho_plan.py");

impl Endpoint {
    /// Runs the paho client with `plan` (its steps, client id, version …) as device `cert`;
    /// the events it printed.
    fn paho(&self, python: &std::path::Path, cert: &str, mut plan: Value) -> Vec<Value> {
        let script = self.dir.put("paho_plan.py", PAHO);
        let t = self.target();
        plan["host"] = "127.0.0.1".into();
        plan["port"] = t.port().into();
        plan["ca"] = self.ca().into();
        plan["cert"] = self.dir.file(&format!("{cert}.pem")).into();
        plan["key"] = self.dir.file(&format!("{cert}.key")).into();
        let out = Command::new(python)
            .arg(&script)
            .arg(plan.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "paho: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The same, in the background (for a client that must stay connected meanwhile).
    fn paho_background(
        &self,
        python: &std::path::Path,
        cert: &str,
        plan: Value,
    ) -> std::thread::JoinHandle<Vec<Value>> {
        let (python, cert) = (python.to_path_buf(), cert.to_string());
        let me = Paho {
            target: self.target(),
            ca: self.ca(),
            dir: self.dir.path().to_path_buf(),
        };
        std::thread::spawn(move || me.run(&python, &cert, plan))
    }
}

/// What a background paho run needs from the endpoint (the endpoint stays in the test).
struct Paho {
    target: SocketAddr,
    ca: String,
    dir: std::path::PathBuf,
}

impl Paho {
    fn run(&self, python: &std::path::Path, cert: &str, mut plan: Value) -> Vec<Value> {
        let script = self.dir.join("paho_plan_bg.py");
        std::fs::write(&script, PAHO).unwrap();
        plan["host"] = "127.0.0.1".into();
        plan["port"] = self.target.port().into();
        plan["ca"] = self.ca.clone().into();
        plan["cert"] = self
            .dir
            .join(format!("{cert}.pem"))
            .to_str()
            .unwrap()
            .into();
        plan["key"] = self
            .dir
            .join(format!("{cert}.key"))
            .to_str()
            .unwrap()
            .into();
        let out = Command::new(python)
            .arg(&script)
            .arg(plan.to_string())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn event<'a>(events: &'a [Value], kind: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == kind)
}

fn paho() -> Option<std::path::PathBuf> {
    iotscope_tests::venv::python_with("paho.mqtt.client")
}

/// Quotas page: a keep-alive under 30 s is treated as 30; MQTT 5 says so in the CONNACK's
/// Server Keep Alive.
fn a_short_keep_alive_is_raised_to_30_s(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("keepalive", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-ka", "v": 5, "ka": 5}),
    );
    let c = event(&ev, "connack").expect("a CONNACK");
    assert_eq!(c["rc"], 0);
    assert_eq!(c["keep_alive"], 30, "{ev:?}");
}

direct_and_through_the_proxy!(a_short_keep_alive_is_raised_to_30_s);

/// Quotas page: client ids are at most 128 bytes; MQTT 5 CONNACK 0x85 (mqtt.md).
fn a_client_id_over_128_bytes_is_refused(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("long-id", via);
    let id = format!("dev-{}", "x".repeat(125));
    assert_eq!(id.len(), 129);
    let ev = ep.paho(&py, "good", serde_json::json!({"id": id, "v": 5}));
    assert_eq!(
        event(&ev, "connack").expect("a CONNACK")["rc"],
        0x85,
        "{ev:?}"
    );
    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "MQTT.CONNECT_REFUSED"),
            "{found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_client_id_over_128_bytes_is_refused);

/// mqtt.md: QoS 2 is not supported; an MQTT 5 PUBLISH over the CONNACK's Maximum QoS (1)
/// gets DISCONNECT 0x9B.
fn a_qos_2_publish_is_refused(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("qos2", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-q2", "v": 5, "steps": [["pub", "demo/q", "x", 2]]}),
    );
    assert_eq!(
        event(&ev, "disconnect").expect("a disconnect")["rc"],
        0x9B,
        "{ev:?}"
    );
}

direct_and_through_the_proxy!(a_qos_2_publish_is_refused);

/// Quotas page: at most 7 slashes in a topic; MQTT 5 DISCONNECT 0x90 Topic Name invalid.
fn a_topic_with_8_slashes_is_refused(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("deep-topic", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-deep", "v": 5, "steps": [["pub", "demo/1/2/3/4/5/6/7/8", "x", 1]]}),
    );
    assert_eq!(
        event(&ev, "disconnect").expect("a disconnect")["rc"],
        0x90,
        "{ev:?}"
    );
}

direct_and_through_the_proxy!(a_topic_with_8_slashes_is_refused);

/// mqtt.md / life-cycle events: a second connection with the same client id is accepted and
/// the older one disconnected, MQTT 5 DISCONNECT 0x8E; its log entry says DUPLICATE_CLIENTID.
fn a_duplicate_client_id_takes_over(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("duplicate", via);
    let first = ep.paho_background(
        &py,
        "good",
        serde_json::json!({"id": "dev-twin", "v": 5, "steps": [["hold", 30]], "disconnect": false}),
    );
    ep.log_with("Connect", "Success");
    let second = ep.paho(&py, "good", serde_json::json!({"id": "dev-twin", "v": 5}));
    assert_eq!(event(&second, "connack").unwrap()["rc"], 0);
    let first = first.join().unwrap();
    assert_eq!(
        event(&first, "disconnect").expect("the first is disconnected")["rc"],
        0x8E,
        "{first:?}"
    );
    let log = ep.log_with("Disconnect", "Success");
    assert!(log
        .iter()
        .any(|e| e["eventType"] == "Disconnect" && e["disconnectReason"] == "DUPLICATE_CLIENTID"));
    if let Some((p, _)) = &ep.proxy {
        let mut all = Vec::new();
        for _ in 0..2 {
            all.extend(codes(&p.next_connection()));
        }
        assert!(
            all.iter().any(|c| c == "MQTT.SESSION_TAKEN_OVER"),
            "{all:?}"
        );
    }
}

direct_and_through_the_proxy!(a_duplicate_client_id_takes_over);

/// Retained messages go to new subscribers of the topic, not to wildcard subscriptions
/// (reference §4, policy page notes).
fn a_retained_message_reaches_a_new_subscriber_of_its_topic_only(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("retained", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-r1", "steps": [["pub", "demo/r", "kept", 1, true]]}),
    );
    assert_eq!(event(&ev, "puback").unwrap()["rc"], 0);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-r2", "steps": [["sub", "demo/r"], ["recv", 5]]}),
    );
    let m = event(&ev, "message").expect("the retained message");
    assert_eq!(m["retain"], true);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-r3", "steps": [["sub", "demo/#"], ["recv", 2]]}),
    );
    assert!(event(&ev, "message").is_none(), "{ev:?}");
    for _ in 0..3 {
        if let Some(found) = ep.diagnosed_errors() {
            assert!(found.is_empty(), "the proxy found {found:?}");
        }
    }
}

direct_and_through_the_proxy!(a_retained_message_reaches_a_new_subscriber_of_its_topic_only);

/// A persistent session (MQTT 3.1.1 clean session 0) keeps its subscription and gets the
/// QoS 1 messages published while it was away (Device Advisor's persistent-session case).
fn a_persistent_session_gets_what_came_while_away(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("persistent", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-p", "clean": false, "steps": [["sub", "demo/p"]]}),
    );
    assert_eq!(event(&ev, "suback").unwrap()["codes"][0], 1);
    ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-q", "steps": [["pub", "demo/p", "while away", 1]]}),
    );
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-p", "clean": false, "steps": [["recv", 5]]}),
    );
    assert_eq!(event(&ev, "connack").unwrap()["present"], true, "{ev:?}");
    assert_eq!(
        event(&ev, "message").expect("the queued message")["topic"],
        "demo/p"
    );
    for _ in 0..3 {
        if let Some(found) = ep.diagnosed_errors() {
            assert!(found.is_empty(), "the proxy found {found:?}");
        }
    }
}

direct_and_through_the_proxy!(a_persistent_session_gets_what_came_while_away);

// ---- the AWS IoT Device SDK v2 for Python ----

const SDK: &str = include_str!("peers/sdk_plan.py");

/// Runs the SDK as device `cert` against the endpoint named `localhost` (the SDK connects by
/// the name it sends as SNI).
fn sdk(ep: &Endpoint, python: &std::path::Path, cert: &str, mut plan: Value) -> Vec<Value> {
    let script = ep.dir.put("sdk_plan.py", SDK);
    plan["host"] = "localhost".into();
    plan["port"] = ep.target().port().into();
    plan["ca"] = ep.ca().into();
    plan["cert"] = ep.dir.file(&format!("{cert}.pem")).into();
    plan["key"] = ep.dir.file(&format!("{cert}.key")).into();
    let out = Command::new(python)
        .arg(&script)
        .arg(plan.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sdk: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn awsiot() -> Option<std::path::PathBuf> {
    iotscope_tests::venv::python_with("awsiot")
}

fn the_sdk_connects_and_publishes_inside_the_policy(via: Via) {
    let Some(py) = awsiot() else { return };
    let ep = Endpoint::start_named("sdk-ok", via, "localhost");
    let ev = sdk(
        &ep,
        &py,
        "good",
        serde_json::json!({"id": "dev-sdk", "steps": [["pub", "demo/sdk"]]}),
    );
    assert!(event(&ev, "connack").is_some(), "{ev:?}");
    assert!(event(&ev, "puback").is_some(), "{ev:?}");
    if let Some(found) = ep.diagnosed_errors() {
        assert!(found.is_empty(), "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(the_sdk_connects_and_publishes_inside_the_policy);

/// Reference §2 and §6.1: iot:Connect denied over MQTT 3.1.1 closes the connection without a
/// CONNACK; the SDK reports AWS_ERROR_MQTT_UNEXPECTED_HANGUP (aws-iot-device-sdk-js-v2#101).
fn the_sdk_sees_a_hang_up_when_connect_is_denied(via: Via) {
    let Some(py) = awsiot() else { return };
    let ep = Endpoint::start_named("sdk-connect-denied", via, "localhost");
    // The policy allows client ids dev-*, not this one.
    let ev = sdk(&ep, &py, "good", serde_json::json!({"id": "intruder-1"}));
    let f = event(&ev, "connect_failed").expect("the connect fails");
    assert_eq!(f["error"], "AWS_ERROR_MQTT_UNEXPECTED_HANGUP", "{ev:?}");
    let log = ep.log_with("Connect", "Failure");
    assert_eq!(
        entry(&log, "Connect", "Failure").unwrap()["reason"],
        "AUTHORIZATION_FAILURE"
    );
    if let Some(found) = ep.diagnosed() {
        assert!(
            found
                .iter()
                .any(|c| c == "AUTHZ.CONNECT_DENIED" || c == "MQTT.CONNECT_REFUSED"),
            "{found:?}"
        );
    }
}

direct_and_through_the_proxy!(the_sdk_sees_a_hang_up_when_connect_is_denied);

/// Reference §2 and §6.7: a PUBLISH outside the policy over MQTT 3.1.1 disconnects the
/// client; the SDK reports the interruption as AWS_ERROR_MQTT_UNEXPECTED_HANGUP
/// (aws-iot-device-sdk-python-v2#260).
fn the_sdk_is_interrupted_by_a_denied_publish(via: Via) {
    let Some(py) = awsiot() else { return };
    let mut ep = Endpoint::start_named("sdk-publish-denied", via, "localhost");
    let ev = sdk(
        &ep,
        &py,
        "good",
        serde_json::json!({"id": "dev-sdk2", "steps": [["pub", "factory/x"]]}),
    );
    let i = event(&ev, "interrupted").expect("the connection is interrupted");
    assert_eq!(i["error"], "AWS_ERROR_MQTT_UNEXPECTED_HANGUP", "{ev:?}");
    let log = ep.log_with("Publish-In", "Failure");
    assert_eq!(
        entry(&log, "Publish-In", "Failure").unwrap()["reason"],
        "AUTHORIZATION_FAILURE"
    );
    if let Some(found) = ep.all_diagnosed() {
        // The SDK sends DISCONNECT after the endpoint has closed, and the proxy relays it:
        // the refusal is still the PUBLISH's, not a session the endpoint ended.
        assert!(
            found.iter().any(|c| c == "AUTHZ.PUBLISH_DENIED"),
            "{found:?}"
        );
        assert!(
            !found.iter().any(|c| c == "CONN.ENDPOINT_CLOSED"),
            "{found:?}"
        );
    }
}

direct_and_through_the_proxy!(the_sdk_is_interrupted_by_a_denied_publish);

/// Reference §2: an INACTIVE certificate fails TLS negotiation; the SDK cannot connect.
fn the_sdk_cannot_connect_with_an_inactive_certificate(via: Via) {
    let Some(py) = awsiot() else { return };
    let ep = Endpoint::start_named("sdk-inactive", via, "localhost");
    let ev = sdk(&ep, &py, "inactive", serde_json::json!({"id": "dev-sdk3"}));
    assert!(event(&ev, "connect_failed").is_some(), "{ev:?}");
    let log = ep.log_with("Connection.AuthNError", "Failure");
    assert_eq!(
        entry(&log, "Connection.AuthNError", "Failure").unwrap()["reason"],
        "DEVICE_CERTIFICATE_INACTIVE"
    );
    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTH.CLIENT_CERT_REJECTED"),
            "{found:?}"
        );
    }
}

direct_and_through_the_proxy!(the_sdk_cannot_connect_with_an_inactive_certificate);

// ---- port 443, reserved topics, limits, malformed packets, shutdown ----

fn openssl_alpn(ep: &Endpoint, alpn: Option<&str>) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-ign_eof", "-connect", &ep.alpn.to_string()])
        .args(["-servername", NAME, "-CAfile", &ep.ca()])
        .args([
            "-cert",
            &ep.dir.file("good.pem"),
            "-key",
            &ep.dir.file("good.key"),
        ]);
    if let Some(a) = alpn {
        cmd.args(["-alpn", a]);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

/// Protocols page: on port 443 a client-certificate connection must offer ALPN
/// x-amzn-mqtt-ca; without it the handshake fails.
/// Direct only: through `proxy --mitm` the device's handshake, ALPN included, is the
/// proxy's own, so the endpoint's ALPN rule would not be what the device meets.
#[test]
fn port_443_wants_alpn_x_amzn_mqtt_ca() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("alpn", Via::Direct);
    let with = openssl_alpn(&ep, Some("x-amzn-mqtt-ca"));
    assert!(with.contains("ALPN protocol: x-amzn-mqtt-ca"), "{with}");
    let without = openssl_alpn(&ep, None);
    assert!(
        without.contains("handshake failure") || without.contains("alert number 40"),
        "{without}"
    );
    let log = ep.log_with("Connection.AuthNError", "Failure");
    assert!(
        entry(&log, "Connection.AuthNError", "Failure").unwrap()["details"]
            .as_str()
            .unwrap()
            .contains("x-amzn-mqtt-ca")
    );
}

/// Topics that start with `$` are reserved (AWS's own, such as a thing's shadow topics, are
/// open to devices whose policy allows them). The refusal is logged as an authorization
/// failure (UNVERIFIED, docs/endpoint.md).
fn a_reserved_topic_is_refused(via: Via) {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("reserved", via);
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i",
            "dev-5",
            "-t",
            "$aws/events/presence/connected/dev-5",
            "-m",
            "x",
            "-q",
            "1",
            "-V",
            "mqttv311",
        ],
    );
    assert!(!out.status.success());
    let log = ep.log_with("Publish-In", "Failure");
    let e = entry(&log, "Publish-In", "Failure").unwrap();
    assert_eq!(e["topicName"], "$aws/events/presence/connected/dev-5");

    if let Some(found) = ep.diagnosed_errors() {
        assert_eq!(found, ["AUTHZ.PUBLISH_DENIED"], "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(a_reserved_topic_is_refused);

/// Quotas page: publish requests over 128 KB are rejected; life-cycle events: a payload over
/// the limit disconnects with CLIENT_ERROR.
fn a_payload_over_128_kb_disconnects_the_client(via: Via) {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start("payload", via);
    // Clearly over: the endpoint counts the whole packet against 128 KB, iotscope's limit
    // rule the payload, so a payload of exactly 128 KB would sit between the two.
    let big = ep.dir.put("big.bin", &"x".repeat(140_000));
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i", "dev-6", "-t", "demo/big", "-f", &big, "-q", "1", "-V", "mqttv311",
        ],
    );
    assert!(
        !out.status.success(),
        "a payload over 128 KB is over the limit"
    );
    let log = ep.log_with("Disconnect", "Success");
    let d = entry(&log, "Disconnect", "Success").unwrap();
    assert_eq!(d["disconnectReason"], "CLIENT_ERROR");
    if let Some(found) = ep.diagnosed_errors() {
        assert_eq!(found, ["MQTT.AWS_LIMIT"], "the proxy found {found:?}");
    }
    // Just under the limit passes.
    let ok = ep.dir.put("ok.bin", &"x".repeat(100_000));
    let out = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i", "dev-7", "-t", "demo/big", "-f", &ok, "-q", "1", "-V", "mqttv311",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(found) = ep.diagnosed_errors() {
        assert!(found.is_empty(), "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(a_payload_over_128_kb_disconnects_the_client);

/// A malformed packet closes that connection only: another device stays served, and the
/// log says CLIENT_ERROR for the one that sent it.
fn a_malformed_packet_closes_that_connection_only(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("malformed", via);
    let script = ep.dir.put("raw_tls.py", include_str!("peers/raw_tls.py"));
    let connect = iotscope_decoder::mqtt::encode::connect(4, "dev-raw", 60);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    // A SUBSCRIBE whose flags are 0000 instead of 0010 (MQTT 3.8.1-1).
    let bad = [0x80u8, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x01];
    let plan = serde_json::json!({
        "port": ep.target().port(), "sni": NAME, "ca": ep.ca(),
        "cert": ep.dir.file("good.pem"), "key": ep.dir.file("good.key"),
        "send": [hex(&connect), hex(&bad)],
    });
    let out = Command::new(&py)
        .arg(&script)
        .arg(plan.to_string())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        v["got"].as_str().unwrap().starts_with("20020000"),
        "CONNACK first: {v}"
    );
    let log = ep.log_with("Disconnect", "Success");
    assert_eq!(
        entry(&log, "Disconnect", "Success").unwrap()["disconnectReason"],
        "CLIENT_ERROR"
    );
    if let Some(found) = ep.diagnosed_errors() {
        assert_eq!(found, ["MQTT.MALFORMED"], "the proxy found {found:?}");
    }
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-after", "steps": [["pub", "demo/ok", "x", 1]]}),
    );
    assert_eq!(
        event(&ev, "puback").expect("the endpoint still serves")["rc"],
        0
    );
    if let Some(found) = ep.diagnosed_errors() {
        assert!(found.is_empty(), "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(a_malformed_packet_closes_that_connection_only);

/// SIGTERM stops the endpoint in order: an MQTT 5 device is told DISCONNECT 0x8B (Server
/// shutting down, mqtt.md) and the log says SERVER_INITIATED_DISCONNECT.
/// Direct only: it stops the endpoint process itself; what a proxy in front does then is the
/// proxy's behaviour, not the endpoint's.
#[test]
fn sigterm_tells_mqtt_5_devices_the_server_is_shutting_down() {
    let Some(py) = paho() else { return };
    let mut ep = Endpoint::start("shutdown", Via::Direct);
    let held = ep.paho_background(
        &py,
        "good",
        serde_json::json!({"id": "dev-held", "v": 5, "steps": [["hold", 30]], "disconnect": false}),
    );
    ep.log_with("Connect", "Success");
    Command::new("kill")
        .args(["-TERM", &ep.child.id().to_string()])
        .status()
        .unwrap();
    let status = ep.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let ev = held.join().unwrap();
    assert_eq!(
        event(&ev, "disconnect").expect("told to go")["rc"],
        0x8B,
        "{ev:?}"
    );
    let log = ep.log();
    assert!(log
        .iter()
        .any(|e| e["disconnectReason"] == "SERVER_INITIATED_DISCONNECT"));
}

// ---- HTTPS publish ----

/// `curl` publishing as the AWS guide's example does (http.md): the device's certificate,
/// `POST https://<endpoint>:8443/topics/<topic>?qos=1`, the endpoint's name resolved to
/// loopback so that SNI and the certificate's name are the endpoint's. The status code and
/// body.
fn curl_publish(ep: &Endpoint, cert: &str, topic: &str) -> (String, String) {
    let port = ep.https.port();
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "--resolve",
            &format!("{NAME}:{port}:127.0.0.1"),
        ])
        .args([
            "--cacert",
            &ep.ca(),
            "--cert",
            &ep.dir.file(&format!("{cert}.pem")),
        ])
        .args([
            "--key",
            &ep.dir.file(&format!("{cert}.key")),
            "-X",
            "POST",
            "-d",
            "{\"t\": 21.5}",
        ])
        .arg(format!("https://{NAME}:{port}/topics/{topic}?qos=1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

/// http.md: a publish inside the policy is accepted (200); the log's entry says HTTP.
/// The HTTPS tests run directly only: the proxy this file starts fronts the endpoint's MQTT
/// listener (`--upstream` is the MQTT port), not its HTTPS listeners.
#[test]
fn https_publish_inside_the_policy_is_accepted() {
    if !have_tool("curl") {
        return;
    }
    let ep = Endpoint::start("https-ok", Via::Direct);
    let (code, body) = curl_publish(&ep, "good", "demo/http");
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("\"message\":\"OK\""), "{body}");
    let log = ep.log_with("Publish-In", "Success");
    let e = entry(&log, "Publish-In", "Success").unwrap();
    assert_eq!(e["protocol"], "HTTP");
    assert_eq!(e["topicName"], "demo/http");
    assert!(e.get("clientId").is_none(), "HTTPS has no client id: {e}");
}

/// AWS's error list: 403 Forbidden; the policy does not allow iot:Publish on factory/x.
#[test]
fn https_publish_outside_the_policy_is_forbidden() {
    if !have_tool("curl") {
        return;
    }
    let ep = Endpoint::start("https-denied", Via::Direct);
    let (code, body) = curl_publish(&ep, "good", "factory/x");
    assert_eq!(code, "403", "{body}");
    let log = ep.log_with("Publish-In", "Failure");
    assert_eq!(
        entry(&log, "Publish-In", "Failure").unwrap()["reason"],
        "AUTHORIZATION_FAILURE"
    );
}

/// An INACTIVE certificate is refused in the handshake on 8443 too: curl gets no HTTP answer.
#[test]
fn https_with_an_inactive_certificate_fails_in_tls() {
    if !have_tool("curl") {
        return;
    }
    let ep = Endpoint::start("https-inactive", Via::Direct);
    let (code, _) = curl_publish(&ep, "inactive", "demo/http");
    assert_eq!(code, "000", "no HTTP status: the TLS handshake failed");
    let log = ep.log_with("Connection.AuthNError", "Failure");
    assert_eq!(
        entry(&log, "Connection.AuthNError", "Failure").unwrap()["reason"],
        "DEVICE_CERTIFICATE_INACTIVE"
    );
}

/// Protocols page: on 443, ALPN x-amzn-http-ca selects HTTPS publish.
#[test]
fn port_443_with_alpn_x_amzn_http_ca_is_https_publish() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("alpn-http", Via::Direct);
    let request = "POST /topics/demo/alpn?qos=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-ign_eof",
            "-connect",
            &ep.alpn.to_string(),
        ])
        .args([
            "-servername",
            NAME,
            "-CAfile",
            &ep.ca(),
            "-alpn",
            "x-amzn-http-ca",
        ])
        .args([
            "-cert",
            &ep.dir.file("good.pem"),
            "-key",
            &ep.dir.file("good.key"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 200 OK"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = ep.log_with("Publish-In", "Success");
    assert_eq!(
        entry(&log, "Publish-In", "Success").unwrap()["topicName"],
        "demo/alpn"
    );
}

/// Quotas page: the broker disconnects a device that sends nothing for 1.5 times its
/// keep-alive; MQTT 5 DISCONNECT 0x8D; logged MQTT_KEEP_ALIVE_TIMEOUT. With the shortest
/// keep-alive AWS allows (30 s) this test waits about 45 s; it asserts no duration.
/// Through `proxy --mitm` the device sees the same DISCONNECT 0x8D, and iotscope names it
/// (MQTT.SERVER_DISCONNECT, the endpoint's own reason).
fn a_silent_device_is_disconnected_after_its_keep_alive(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("keepalive-expiry", via);
    let script = ep.dir.put("raw_tls.py", include_str!("peers/raw_tls.py"));
    let connect = iotscope_decoder::mqtt::encode::connect(5, "dev-silent", 30);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let plan = serde_json::json!({
        "port": ep.target().port(), "sni": NAME, "ca": ep.ca(),
        "cert": ep.dir.file("good.pem"), "key": ep.dir.file("good.key"),
        "send": [hex(&connect)], "until_close": true, "wait": 180,
    });
    let out = Command::new(&py)
        .arg(&script)
        .arg(plan.to_string())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let got = v["got"].as_str().unwrap();
    assert!(got.starts_with("2016"), "a CONNACK first: {v}");
    assert!(got.contains("e0028d00"), "then DISCONNECT 0x8D: {v}");
    let log = ep.log_with("Disconnect", "Success");
    assert_eq!(
        entry(&log, "Disconnect", "Success").unwrap()["disconnectReason"],
        "MQTT_KEEP_ALIVE_TIMEOUT"
    );
    if let Some(errors) = ep.diagnosed_errors() {
        assert_eq!(errors, ["MQTT.SERVER_DISCONNECT"]);
    }
}

direct_and_through_the_proxy!(a_silent_device_is_disconnected_after_its_keep_alive);

/// §1.5: AWS requests a client certificate; a device that sends none is refused (the wire
/// form is UNVERIFIED; rustls sends certificate_required), logged NOT_AUTHENTICATED.
fn a_device_without_a_certificate_is_refused(via: Via) {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("no-cert", via);
    let out = Command::new("openssl")
        .args(["s_client", "-ign_eof", "-connect", &ep.target().to_string()])
        .args(["-servername", NAME, "-CAfile", &ep.ca()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    match via {
        Via::Direct => {
            assert!(
                text.contains("alert number 116") || text.contains("certificate required"),
                "{text}"
            );
            let log = ep.log_with("Connection.AuthNError", "Failure");
            assert_eq!(
                entry(&log, "Connection.AuthNError", "Failure").unwrap()["reason"],
                "NOT_AUTHENTICATED"
            );
        }
        // The proxy finishes the device's handshake itself and, with no certificate to
        // present for it, does not go upstream: the device sees the connection end.
        Via::Proxy => assert!(
            text.contains("unexpected eof") || text.contains("alert"),
            "{text}"
        ),
    }
    if let Some(found) = ep.diagnosed() {
        assert!(
            found.iter().any(|c| c == "AUTH.CLIENT_CERT_MISSING"),
            "{found:?}"
        );
    }
}

direct_and_through_the_proxy!(a_device_without_a_certificate_is_refused);

/// Reference §2: REVOKED and expired certificates have no AWS text of their own; the
/// endpoint refuses them as it refuses INACTIVE ones (alert 46), with their own log codes
/// (REVOKED: DEVICE_CERTIFICATE_REVOKED; expired: DEVICE_CERTIFICATE_INACTIVE).
fn revoked_and_expired_certificates_are_refused_like_inactive_ones(via: Via) {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start("revoked-expired", via);
    for (cert, reason, code) in [
        (
            "revoked",
            "DEVICE_CERTIFICATE_REVOKED",
            "AUTH.CLIENT_CERT_REJECTED",
        ),
        (
            "expired",
            "DEVICE_CERTIFICATE_INACTIVE",
            "AUTH.CLIENT_CERT_EXPIRED",
        ),
    ] {
        let out = Command::new("openssl")
            .args([
                "s_client",
                "-ign_eof",
                "-connect",
                &ep.target().to_string(),
                "-tls1_2",
            ])
            .args(["-servername", NAME, "-CAfile", &ep.ca()])
            .args(["-cert", &ep.dir.file(&format!("{cert}.pem"))])
            .args(["-key", &ep.dir.file(&format!("{cert}.key"))])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(ep.refused_text(&text), "{cert}: {text}");
        let log = ep.log_with("Connection.AuthNError", "Failure");
        assert!(
            log.iter().any(|e| e["reason"] == reason),
            "{cert}: {reason} not in {log:?}"
        );
        if let Some(found) = ep.diagnosed() {
            assert!(
                found.iter().any(|c| c == code),
                "{cert}: the proxy found {found:?}"
            );
        }
    }
}

direct_and_through_the_proxy!(revoked_and_expired_certificates_are_refused_like_inactive_ones);

/// The policy page: an explicit deny overrides any allow; `*` in a resource crosses topic
/// levels, so `topicfilter/demo/*` allows subscribing to `demo/a/+` (MQTT's `+` is a plain
/// character to a policy). Expectations read off the test's POLICY.
fn an_explicit_deny_wins_and_star_crosses_levels(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start("policy-logic", via);
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-logic", "v": 5, "steps": [
            ["sub", "demo/a/+"], ["pub", "demo/other", "x", 1], ["pub", "demo/secret", "x", 1]]}),
    );
    let subacks: Vec<&Value> = ev.iter().filter(|e| e["event"] == "suback").collect();
    assert_eq!(subacks[0]["codes"][0], 1, "{ev:?}");
    let pubacks: Vec<i64> = ev
        .iter()
        .filter(|e| e["event"] == "puback")
        .map(|e| e["rc"].as_i64().unwrap())
        .collect();
    assert_eq!(pubacks, vec![0, 0x87], "{ev:?}");

    if let Some(found) = ep.diagnosed_errors() {
        assert_eq!(found, ["AUTHZ.PUBLISH_DENIED"], "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(an_explicit_deny_wins_and_star_crosses_levels);

/// Quotas page: persistent sessions expire (1 h by default, adjustable); after
/// `--session-expiry 1` a reconnect 3 s later finds no session (session present = 0). MQTT 5:
/// a Session Expiry Interval over the maximum is answered with the maximum in the CONNACK.
fn a_persistent_session_expires(via: Via) {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start_with("session-expiry", via, NAME, &["--session-expiry", "1"]);
    ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-exp", "clean": false, "steps": [["sub", "demo/e"]]}),
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-exp", "clean": false}),
    );
    assert_eq!(event(&ev, "connack").unwrap()["present"], false, "{ev:?}");
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-exp5", "v": 5, "clean": false, "expiry": 999_999}),
    );
    assert_eq!(event(&ev, "connack").unwrap()["expiry"], 1, "{ev:?}");

    // Through the proxy: each of the three connections worked, so no error finding; the
    // third is told its 999,999 s became 1 s (a warning).
    for _ in 0..2 {
        if let Some(found) = ep.diagnosed_errors() {
            assert!(found.is_empty(), "the proxy found {found:?}");
        }
    }
    if let Some((p, _)) = ep.proxy.as_ref() {
        let conn = p.next_connection();
        assert!(codes_of(&conn, "error").is_empty(), "{conn:#}");
        let limit = conn["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "MQTT.AWS_LIMIT")
            .unwrap_or_else(|| panic!("no MQTT.AWS_LIMIT: {conn:#}"));
        assert_eq!(limit["severity"], "warning");
        let summary = limit["summary"].as_str().unwrap();
        assert!(
            summary.contains("session expiry 999999 s asked, 1 s granted"),
            "{summary}"
        );
    }
}

direct_and_through_the_proxy!(a_persistent_session_expires);

/// `--max-connections`: a connection over the limit is closed at accept, the one inside it is
/// served.
/// Direct only: through the proxy the limit counts the proxy's upstream connections and the
/// device's handshake is finished by the proxy, so "closed at accept" is not what it sees.
#[test]
fn connections_over_the_limit_are_closed() {
    let Some(py) = paho() else { return };
    let ep = Endpoint::start_with("limit", Via::Direct, NAME, &["--max-connections", "1"]);
    let held = ep.paho_background(
        &py,
        "good",
        serde_json::json!({"id": "dev-held", "v": 5, "steps": [["hold", 5]], "disconnect": true}),
    );
    ep.log_with("Connect", "Success");
    let script = ep.dir.put("raw_tls.py", include_str!("peers/raw_tls.py"));
    let connect = iotscope_decoder::mqtt::encode::connect(4, "dev-extra", 60);
    let hex: String = connect.iter().map(|x| format!("{x:02x}")).collect();
    let plan = serde_json::json!({
        "port": ep.target().port(), "sni": NAME, "ca": ep.ca(),
        "cert": ep.dir.file("good.pem"), "key": ep.dir.file("good.key"), "send": [hex],
    });
    let out = Command::new(&py)
        .arg(&script)
        .arg(plan.to_string())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // Closed at accept: the handshake itself fails (EOF or reset), and no CONNACK comes.
    assert!(v.get("handshake_error").is_some(), "{v}");
    let ev = held.join().unwrap();
    assert_eq!(event(&ev, "connack").unwrap()["rc"], 0);
}

/// Life-cycle events: a will is sent when a connection is lost (not after the device's own
/// DISCONNECT); a will topic the policy does not allow fails the CONNECT (`connect_failed`
/// "when … the client is not authorized to publish to that last will topic"), MQTT 5 CONNACK
/// 0x87.
fn wills_are_sent_when_a_connection_is_lost_and_checked_at_connect(via: Via) {
    let Some(py) = paho() else { return };
    let mut ep = Endpoint::start("wills", via);
    let listener = ep.paho_background(
        &py,
        "good",
        serde_json::json!({"id": "dev-listener", "steps": [["sub", "demo/will"], ["recv", 20]]}),
    );
    ep.log_with("Subscribe", "Success");
    // Ends without DISCONNECT: the process exits with the socket open.
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-mortal", "will": ["demo/will", "gone"], "disconnect": false}),
    );
    assert_eq!(event(&ev, "connack").unwrap()["rc"], 0);
    let heard = listener.join().unwrap();
    assert_eq!(
        event(&heard, "message").expect("the will")["topic"],
        "demo/will",
        "{heard:?}"
    );
    let ev = ep.paho(
        &py,
        "good",
        serde_json::json!({"id": "dev-willful", "v": 5, "will": ["factory/will", "gone"]}),
    );
    assert_eq!(event(&ev, "connack").unwrap()["rc"], 0x87, "{ev:?}");
    if let Some(found) = ep.all_diagnosed_errors() {
        assert_eq!(found, ["AUTHZ.CONNECT_DENIED"], "the proxy found {found:?}");
    }
}

direct_and_through_the_proxy!(wills_are_sent_when_a_connection_is_lost_and_checked_at_connect);

/// `iotscope endpoint --account`: the registry from the AWS CLI's files for the certificates
/// (issue 20). The INACTIVE one is refused in the handshake with alert 46, as AWS does.
#[test]
fn from_account_files_an_inactive_certificate_is_refused_with_alert_46() {
    if !have_tool("openssl") {
        return;
    }
    let ep = Endpoint::start_from(
        "account-inactive",
        Via::Direct,
        NAME,
        &[],
        Source::AccountFiles,
    );
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-ign_eof",
            "-connect",
            &ep.target().to_string(),
            "-servername",
            NAME,
            "-tls1_2",
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
    assert!(text.contains("alert number 46"), "{text}");
    let log = ep.log_with("Connection.AuthNError", "Failure");
    let e = entry(&log, "Connection.AuthNError", "Failure").unwrap();
    assert_eq!(e["reason"], "DEVICE_CERTIFICATE_INACTIVE");
}

/// `iotscope endpoint --account`: the ACTIVE certificate connects, and the policy its
/// list-attached-policies file names (its get-policy document) is enforced: a publish inside
/// it is accepted, one outside it denied.
#[test]
fn from_account_files_an_active_certificate_connects_under_its_attached_policy() {
    if !have_tool("mosquitto_pub") {
        return;
    }
    let ep = Endpoint::start_from(
        "account-active",
        Via::Direct,
        NAME,
        &[],
        Source::AccountFiles,
    );
    let inside = ep.mosquitto(
        "mosquitto_pub",
        "good",
        &[
            "-i", "dev-1", "-t", "demo/a", "-m", "hi", "-q", "1", "-V", "mqttv311",
        ],
    );
    assert!(
        inside.status.success(),
        "{}",
        String::from_utf8_lossy(&inside.stderr)
    );
    let log = ep.log_with("Publish-In", "Success");
    let p = entry(&log, "Publish-In", "Success").expect("a Publish-In entry");
    assert_eq!(p["topicName"], "demo/a");
    assert_eq!(
        entry(&log, "Connect", "Success").expect("a Connect entry")["clientId"],
        "dev-1"
    );

    let outside = ep.mosquitto(
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
        !outside.status.success(),
        "mosquitto_pub must see the connection closed"
    );
    let log = ep.log_with("Publish-In", "Failure");
    let p = entry(&log, "Publish-In", "Failure").expect("a failed Publish-In entry");
    assert_eq!(p["reason"], "AUTHORIZATION_FAILURE");
    assert_eq!(p["topicName"], "factory/x");
}

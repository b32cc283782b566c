//! `iotscope probe` end to end, against a rustls MQTT endpoint in this process and against
//! mosquitto: every step working, then each way the guide says a connection fails — an
//! untrusted endpoint, no client certificate, a refused one, a key that does not match, a
//! publish outside the ACL — each with its finding and exit status.

use std::process::Output;

use iotscope_tests::mosquitto::{mosquitto_bin, tls_listener, Broker};
use iotscope_tests::mqtt_endpoint::{self, Endpoint};
use iotscope_tests::pki::{ca, roots, server_config, Ca, ClientAuth, Dir, Leaf};
use iotscope_tests::proxy::{dead_port, WAIT};
use iotscope_tests::{codes, codes_of, run};
use serde_json::Value;

/// The name the endpoints' certificates are for, and the probe connects to.
const HOST: &str = "localhost";

/// The certificates of one test, written to its own directory.
struct Pki {
    dir: Dir,
    ca: Ca,
    server: Leaf,
    ca_file: String,
    stranger_file: String,
    device_cert: String,
    device_key: String,
    /// A device certificate from a CA the endpoints do not know.
    stranger_cert: String,
    stranger_key: String,
}

impl Pki {
    fn new(test: &str) -> Pki {
        let dir = Dir::new(&format!("probe-{test}"));
        let ours = ca("iotscope probe test CA");
        let stranger = ca("stranger CA");
        let server = Leaf::new(&ours, HOST, &[HOST], false);
        let device = Leaf::new(&ours, "thermostat-12", &[], true);
        let foreign = Leaf::new(&stranger, "thermostat-12", &[], true);
        Pki {
            ca_file: dir.put("ca.pem", &ours.pem()),
            stranger_file: dir.put("stranger.pem", &stranger.pem()),
            device_cert: dir.put("device.pem", &device.cert_pem),
            device_key: dir.put("device.key", &device.key_pem),
            stranger_cert: dir.put("foreign.pem", &foreign.cert_pem),
            stranger_key: dir.put("foreign.key", &foreign.key_pem),
            ca: ours,
            server,
            dir,
        }
    }

    fn endpoint(&self, tls: u16, auth: ClientAuth) -> Endpoint {
        mqtt_endpoint::start(server_config(&self.server, tls, auth))
    }

    fn required(&self) -> ClientAuth {
        ClientAuth::Required(roots(&self.ca))
    }
}

/// `iotscope probe --endpoint localhost --port PORT --format json ARGS`: the one object
/// and the output.
fn probe(port: u16, args: &[&str]) -> (Value, Output) {
    let port = port.to_string();
    let mut all = vec![
        "probe",
        "--endpoint",
        HOST,
        "--port",
        &port,
        "--format",
        "json",
        "--timeout",
        "20",
    ];
    all.extend_from_slice(args);
    let out = run(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one object expected: {stdout}\n{out:?}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    (v, out)
}

/// Each step's name and whether it worked, in order.
fn steps(v: &Value) -> Vec<(String, bool)> {
    v["probe"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["ok"] == true))
        .collect()
}

fn step<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["probe"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {}", v["probe"]))
}

fn owned(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(s, ok)| (s.to_string(), *ok)).collect()
}

fn assert_code(v: &Value, code: &str) {
    assert!(
        codes(v).iter().any(|c| c == code),
        "expected {code}: {}",
        v["findings"]
    );
}

// ------------------------------------------------------- in-process rustls endpoint

fn success(tls: u16, mqtt: &str) {
    let pki = Pki::new(&format!("ok{tls}{mqtt}"));
    let ep = pki.endpoint(tls, pki.required());
    let (v, out) = probe(
        ep.port,
        &[
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.device_key,
            "--ca",
            &pki.ca_file,
            "--mqtt",
            mqtt,
            "--client-id",
            "thermostat-12",
            "--subscribe",
            "devices/thermostat-12/#",
            "--publish",
            "devices/thermostat-12/status",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", v["findings"]);
    assert_eq!(
        steps(&v),
        owned(&[
            ("offline", true),
            ("resolve", true),
            ("tcp", true),
            ("tls", true),
            ("connect", true),
            ("subscribe", true),
            ("publish", true),
            ("disconnect", true),
        ])
    );
    assert!(codes_of(&v, "error").is_empty(), "{}", v["findings"]);
    assert_eq!(v["source"], "probe");
    assert_eq!(v["endpoint"], format!("127.0.0.1:{}", ep.port));
    assert_eq!(v["tls"]["sni"], HOST);
    let version = if tls == 13 { "TLS 1.3" } else { "TLS 1.2" };
    assert_eq!(v["tls"]["version"], version);
    assert!(step(&v, "tls")["summary"]
        .as_str()
        .unwrap()
        .starts_with(version));
    // The decoder read the MQTT inside the probe's own TLS, in both directions.
    assert_eq!(v["mqtt"]["connect"]["client_id"], "thermostat-12");
    let level = if mqtt == "5" { 5 } else { 4 };
    assert_eq!(v["mqtt"]["connect"]["protocol_version"], level);
    assert_eq!(v["mqtt"]["connack"]["return_code"], 0);
    assert!(step(&v, "subscribe")["summary"]
        .as_str()
        .unwrap()
        .ends_with("SUBACK granted QoS 1"));
    let chain = &v["probe"]["endpoint_chain"];
    assert_eq!(chain["trusted"], true);
    assert_eq!(chain["chain"][0], "CN=localhost");
    assert_eq!(chain["webpki_roots_trusted"], false);
    let client = &v["probe"]["client_certificate"];
    assert_eq!(client["requested"], true);
    assert_eq!(client["accepted"], true);
    let leaf_id = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["from"] == "device")
        .map(|c| c["chain"][0]["certificate_id"].clone())
        .unwrap_or_else(|| panic!("device certificate not decoded: {}", v["certificates"]));
    assert_eq!(client["sent"], leaf_id);
    let got = ep.results.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(got, ["CONNECT", "SUBSCRIBE", "PUBLISH", "DISCONNECT"]);
}

#[test]
fn inprocess_success_tls13_mqtt5() {
    success(13, "5");
}

#[test]
fn inprocess_success_tls12_mqtt311() {
    success(12, "3.1.1");
}

#[test]
fn inprocess_untrusted_ca_file() {
    let pki = Pki::new("untrusted");
    let ep = pki.endpoint(12, pki.required());
    let (v, out) = probe(
        ep.port,
        &[
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.device_key,
            "--ca",
            &pki.stranger_file,
            "--connect",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_code(&v, "AUTH.SERVER_CERT_UNTRUSTED");
    assert_eq!(
        steps(&v),
        owned(&[
            ("offline", true),
            ("resolve", true),
            ("tcp", true),
            ("tls", false)
        ])
    );
    let chain = &v["probe"]["endpoint_chain"];
    assert_eq!(chain["trusted"], false);
    let problem = chain["problem"].as_str().unwrap();
    assert!(problem.contains("stranger.pem"), "{problem}");
    // iotscope's refusal is on the wire, as a device's would be.
    assert!(
        v["tls"]["alerts"].to_string().contains("unknown_ca"),
        "{}",
        v["tls"]
    );
    assert!(ep.results.recv_timeout(WAIT).unwrap().is_err());
}

#[test]
fn inprocess_no_client_certificate_accepted() {
    let pki = Pki::new("nocert-ok");
    let ep = pki.endpoint(13, ClientAuth::Optional(roots(&pki.ca)));
    let (v, out) = probe(ep.port, &["--ca", &pki.ca_file, "--connect"]);
    assert_eq!(out.status.code(), Some(0), "{}", v["findings"]);
    let client = &v["probe"]["client_certificate"];
    assert_eq!(client["requested"], true);
    assert!(client["sent"].is_null());
    assert_eq!(client["accepted"], true);
    assert!(codes_of(&v, "error").is_empty(), "{}", v["findings"]);
    // It works here, but would not on AWS IoT Core: a warning, not an error.
    assert_eq!(codes_of(&v, "warning"), ["AUTH.CLIENT_CERT_MISSING"]);
    let got = ep.results.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(got, ["CONNECT", "DISCONNECT"]);
}

#[test]
fn inprocess_no_client_certificate_refused() {
    let pki = Pki::new("nocert");
    for tls in [12, 13] {
        let ep = pki.endpoint(tls, pki.required());
        let (v, out) = probe(ep.port, &["--ca", &pki.ca_file]);
        assert_eq!(out.status.code(), Some(1), "TLS 1.{}", tls - 10);
        assert_code(&v, "AUTH.CLIENT_CERT_MISSING");
        assert_eq!(v["probe"]["client_certificate"]["accepted"], false);
        assert!(ep.results.recv_timeout(WAIT).unwrap().is_err());
    }
}

#[test]
fn inprocess_certificate_the_endpoint_refuses() {
    let pki = Pki::new("refused");
    for tls in [12, 13] {
        let ep = pki.endpoint(tls, pki.required());
        let (v, out) = probe(
            ep.port,
            &[
                "--cert",
                &pki.stranger_cert,
                "--key",
                &pki.stranger_key,
                "--ca",
                &pki.ca_file,
                "--connect",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "TLS 1.{}", tls - 10);
        assert_code(&v, "AUTH.CLIENT_CERT_REJECTED");
        let failed: Vec<String> = steps(&v)
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(s, _)| s)
            .collect();
        // TLS 1.2 refuses inside the handshake; TLS 1.3 after it, in answer to CONNECT.
        assert_eq!(failed, [if tls == 12 { "tls" } else { "connect" }]);
        let client = &v["probe"]["client_certificate"];
        assert_eq!(client["requested"], true);
        assert_eq!(client["accepted"], false);
        assert!(ep.results.recv_timeout(WAIT).unwrap().is_err());
    }
}

#[test]
fn inprocess_connect_closed_without_connack() {
    let pki = Pki::new("denied");
    let ep = mqtt_endpoint::start_refusing_connect(server_config(&pki.server, 13, pki.required()));
    let (v, out) = probe(
        ep.port,
        &[
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.device_key,
            "--ca",
            &pki.ca_file,
            "--client-id",
            "sensor-9",
            "--publish",
            "devices/sensor-9/status",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes_of(&v, "error"), ["AUTHZ.CONNECT_DENIED"]);
    let f = &v["findings"][0];
    assert_eq!(f["certainty"], "likely");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("after CONNECT from client \"sensor-9\", without a CONNACK"),
        "{f}"
    );
    let connect = step(&v, "connect");
    assert_eq!(connect["ok"], false);
    assert_eq!(
        connect["summary"],
        "no CONNACK: the endpoint closed the connection (close_notify)"
    );
    // Nothing is published on a connection the endpoint closed.
    assert!(v["probe"]["steps"].to_string().find("publish").is_none());
    assert_eq!(ep.results.recv_timeout(WAIT).unwrap().unwrap(), ["CONNECT"]);
}

/// The key of another certificate: found offline, and no connection is made.
fn key_mismatch(port: u16, pki: &Pki) {
    let (v, out) = probe(
        port,
        &[
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.stranger_key,
            "--ca",
            &pki.ca_file,
            "--connect",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&v), ["CERT.KEY_MISMATCH"]);
    assert_eq!(steps(&v), owned(&[("offline", false)]));
    assert!(v["endpoint"].is_null() && v["tls"].is_null(), "{v}");
    // The text form says the same and shows no connection.
    let text = run(&[
        "probe",
        "--endpoint",
        HOST,
        "--port",
        &port.to_string(),
        "--cert",
        &pki.device_cert,
        "--key",
        &pki.stranger_key,
    ]);
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("does NOT belong to the certificate"),
        "{text}"
    );
    assert!(text.contains("error CERT.KEY_MISMATCH"), "{text}");
    assert!(
        !text.contains("resolve") && !text.contains(" tcp "),
        "{text}"
    );
}

#[test]
fn inprocess_key_that_does_not_match() {
    let pki = Pki::new("mismatch");
    let ep = pki.endpoint(13, pki.required());
    key_mismatch(ep.port, &pki);
    // Nothing reached the endpoint: a connection now is the first it sees.
    let (v, _) = probe(
        ep.port,
        &[
            "--ca",
            &pki.ca_file,
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.device_key,
        ],
    );
    assert_eq!(v["probe"]["ok"], true, "{}", v["probe"]);
    let first = ep.results.recv_timeout(WAIT).unwrap();
    assert_eq!(
        first.unwrap(),
        Vec::<String>::new(),
        "the TLS-only probe sends no MQTT"
    );
}

#[test]
fn endpoint_that_is_not_listening() {
    let pki = Pki::new("dead");
    let (v, out) = probe(dead_port(), &["--ca", &pki.ca_file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&v), ["CONN.TCP_REFUSED"]);
    assert_eq!(step(&v, "tcp")["ok"], false);
}

#[test]
fn bad_invocations_exit_2() {
    let pki = Pki::new("bad");
    let missing = pki.dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    for args in [
        vec![
            "probe",
            "--endpoint",
            HOST,
            "--cert",
            missing,
            "--key",
            &pki.device_key,
        ],
        vec!["probe", "--endpoint", HOST, "--cert", &pki.device_cert],
        vec!["probe", "--endpoint", HOST, "--ca", missing],
        vec!["probe", "--endpoint", HOST, "--publish", "a/#"],
        vec!["probe", "--endpoint", HOST, "--mqtt", "4"],
        vec!["probe", "--endpoint", "a b"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed a report");
    }
}

// ------------------------------------------------------------------------ mosquitto

/// mosquitto with two TLS listeners: one that requires a client certificate and takes its
/// common name as the user name (with an ACL for thermostat-12), one that asks for none.
struct Mosquitto {
    _broker: Broker,
    strict: u16,
    open: u16,
}

fn mosquitto(pki: &Pki) -> Option<Mosquitto> {
    let bin = mosquitto_bin()?;
    let server_cert = pki.dir.put("server.pem", &pki.server.cert_pem);
    let server_key = pki.dir.put("server.key", &pki.server.key_pem);
    let acl = pki.dir.put(
        "acl",
        "user thermostat-12\ntopic readwrite devices/thermostat-12/#\n",
    );
    let (strict, open) = (dead_port(), dead_port());
    let conf = format!(
        "allow_anonymous true\nacl_file {acl}\n{}use_identity_as_username true\n{}",
        tls_listener(strict, &pki.ca_file, &server_cert, &server_key, true),
        tls_listener(open, &pki.ca_file, &server_cert, &server_key, false),
    );
    let broker = Broker::start(&bin, &pki.dir, &conf, &[strict, open]);
    Some(Mosquitto {
        _broker: broker,
        strict,
        open,
    })
}

#[test]
fn mosquitto_probes() {
    let pki = Pki::new("mosq");
    let Some(m) = mosquitto(&pki) else { return };
    let device = [
        "--cert",
        pki.device_cert.as_str(),
        "--key",
        pki.device_key.as_str(),
        "--ca",
        pki.ca_file.as_str(),
    ];

    // Everything asked for works.
    let mut args = device.to_vec();
    args.extend([
        "--mqtt",
        "5",
        "--subscribe",
        "devices/thermostat-12/#",
        "--publish",
        "devices/thermostat-12/status",
    ]);
    let (v, out) = probe(m.strict, &args);
    assert_eq!(out.status.code(), Some(0), "{}", v["findings"]);
    assert!(steps(&v).iter().all(|(_, ok)| *ok), "{}", v["probe"]);
    assert!(codes_of(&v, "error").is_empty(), "{}", v["findings"]);
    assert_eq!(v["mqtt"]["connack"]["return_code"], 0);
    // The subscription covers the topic, so mosquitto sends the message back.
    assert!(step(&v, "publish")["details"]
        .to_string()
        .contains("delivered the message back"));

    // A publish outside the ACL, over MQTT 5: PUBACK 0x87.
    let mut args = device.to_vec();
    args.extend(["--mqtt", "5", "--publish", "devices/other/status"]);
    let (v, out) = probe(m.strict, &args);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes_of(&v, "error"), ["AUTHZ.PUBLISH_DENIED"]);
    let denied = &v["findings"][0];
    assert!(
        denied["summary"]
            .as_str()
            .unwrap()
            .contains("on topic devices/other/status: PUBACK 0x87"),
        "{denied}"
    );
    assert_eq!(
        steps(&v),
        owned(&[
            ("offline", true),
            ("resolve", true),
            ("tcp", true),
            ("tls", true),
            ("connect", true),
            ("publish", false),
            ("disconnect", true),
        ])
    );

    // The same publish with --policy: a policy that denies the topic is cited by its
    // statement; one that allows it is not the policy in force, since the endpoint refused.
    let deny = pki.dir.put(
        "deny.json",
        r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":"*"},
  {"Sid":"NoOthers","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/other/*"}]}"#,
    );
    let allow = pki.dir.put(
        "allow.json",
        r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":"*"},
  {"Sid":"AllDevices","Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/*"}]}"#,
    );
    let mut args = device.to_vec();
    args.extend(["--mqtt", "5", "--publish", "devices/other/status"]);
    args.extend(["--region", "eu-west-1", "--account-id", "123456789012"]);
    let mut with_deny = args.clone();
    with_deny.extend(["--policy", deny.as_str()]);
    let (v, out) = probe(m.strict, &with_deny);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes_of(&v, "error"), ["AUTHZ.PUBLISH_DENIED"]);
    assert!(
        v["findings"][0].to_string().contains(
            "statement 1 (Sid \\\"NoOthers\\\") denies iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/status"
        ),
        "{}",
        v["findings"][0]
    );
    let mut with_allow = args.clone();
    with_allow.extend(["--policy", allow.as_str()]);
    let (v, _) = probe(m.strict, &with_allow);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "AUTHZ.POLICY_NOT_IN_FORCE"),
        "{}",
        v["findings"]
    );

    // The same publish with --account: the account's files say the device's certificate is
    // REVOKED (the AWS CLI's describe-certificate output from captures/account, given this
    // certificate's ID), but the endpoint accepted the session: a warning, never an error, and
    // the refused PUBLISH stays the one error.
    let checked = run(&["cert", "check", &pki.device_cert, "--format", "json"]);
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    let id = checked["certificates"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = std::fs::read_to_string(
        iotscope_tests::root().join("captures/account/revoked/describe-certificate.json"),
    )
    .unwrap()
    .replace(
        "1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3",
        &id,
    );
    let account = pki.dir.put("describe-certificate.json", &revoked);
    let mut with_account = device.to_vec();
    with_account.extend(["--mqtt", "5", "--publish", "devices/other/status"]);
    with_account.extend(["--account", account.as_str()]);
    let (v, out) = probe(m.strict, &with_account);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes_of(&v, "error"), ["AUTHZ.PUBLISH_DENIED"]);
    let revoked = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTH.CERT_REVOKED")
        .unwrap_or_else(|| panic!("no AUTH.CERT_REVOKED: {}", v["findings"]));
    assert_eq!(revoked["severity"], "warning");
    assert!(
        revoked["summary"].as_str().unwrap().contains(&id),
        "{revoked}"
    );
    assert_eq!(v["account"]["certificate_id"], id.as_str());
    assert_eq!(v["account"]["certificate"]["status"], "REVOKED");

    // A CA file that does not hold the broker's CA.
    let (v, out) = probe(
        m.strict,
        &[
            "--cert",
            &pki.device_cert,
            "--key",
            &pki.device_key,
            "--ca",
            &pki.stranger_file,
            "--connect",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_code(&v, "AUTH.SERVER_CERT_UNTRUSTED");

    // No client certificate: refused by the strict listener, fine on the open one.
    let (v, out) = probe(m.strict, &["--ca", &pki.ca_file, "--connect"]);
    assert_eq!(out.status.code(), Some(1));
    assert_code(&v, "AUTH.CLIENT_CERT_MISSING");
    let (v, out) = probe(m.open, &["--ca", &pki.ca_file, "--connect"]);
    assert_eq!(out.status.code(), Some(0), "{}", v["findings"]);
    assert!(v["probe"]["client_certificate"]["sent"].is_null());

    // A certificate from a CA mosquitto does not know.
    let (v, out) = probe(
        m.strict,
        &[
            "--cert",
            &pki.stranger_cert,
            "--key",
            &pki.stranger_key,
            "--ca",
            &pki.ca_file,
            "--connect",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_code(&v, "AUTH.CLIENT_CERT_REJECTED");

    key_mismatch(m.strict, &pki);
}

#[test]
fn text_steps_come_with_their_timing() {
    let pki = Pki::new("text");
    let ep = pki.endpoint(13, pki.required());
    let out = run(&[
        "probe",
        "--endpoint",
        HOST,
        "--port",
        &ep.port.to_string(),
        "--cert",
        &pki.device_cert,
        "--key",
        &pki.device_key,
        "--ca",
        &pki.ca_file,
        "--connect",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for step in ["offline", "resolve", "tcp", "tls", "connect", "disconnect"] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(step))
            .unwrap_or_else(|| panic!("no {step} line:\n{text}"));
        // `  +0.012 s  tls        ok    … (10.4 ms)`
        assert!(line.trim_start().starts_with('+'), "{line}");
        assert!(line.contains(" ok "), "{line}");
        assert!(line.ends_with(" ms)") || line.ends_with(" s)"), "{line}");
    }
    assert!(text.contains("trusted by the CA file"), "{text}");
    assert!(text.contains("history "), "{text}");
    assert!(text.contains("no findings"), "{text}");
    assert!(
        text.trim_end().ends_with("probe: every step worked"),
        "{text}"
    );
}

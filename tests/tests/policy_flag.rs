//! `--policy` with real peers: mosquitto with an ACL refuses a publish (PUBACK 0x87 over
//! MQTT 5) through `iotscope proxy --mitm`; the policy given decides the same request, live
//! and in the replay of the proxy's recording.

use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device};
use iotscope_tests::pki::{BrokerFiles, Dir};
use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
use iotscope_tests::{codes, have_tool, replay_json, run};
use serde_json::Value;

/// Publishing under sensors/ allowed; devices/other/ denied outright.
const DENY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:ClientId}"},
  {"Sid":"Sensors","Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/sensors/*"},
  {"Sid":"NoOtherDevices","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/other/*"}
]}"#;

/// Publishing anywhere under devices/ allowed: not what the broker enforces.
const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:ClientId}"},
  {"Sid":"AllDevices","Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/*"}
]}"#;

fn finding<'a>(conn: &'a Value, code: &str) -> &'a Value {
    conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {}", conn["findings"]))
}

fn evidence(f: &Value) -> String {
    f["evidence"].to_string()
}

#[test]
fn policy_decides_mosquitto_acl_refusal_live_and_in_replay() {
    let bin = mosquitto_bin();
    let clients = have_tool("mosquitto_pub");
    let (Some(bin), true) = (bin, clients) else {
        return;
    };
    let dir = Dir::new("policy-flag");
    let BrokerFiles {
        ca: ca_pem,
        server_cert: scert,
        server_key: skey,
        device_cert: dcert,
        device_key: dkey,
    } = BrokerFiles::write(&dir, "broker CA", "thermostat-12");
    let acl = dir.put("acl", "user thermostat-12\ntopic readwrite sensors/#\n");
    let deny = dir.put("deny.json", DENY);
    let allow = dir.put("allow.json", ALLOW);
    let (_broker, port) = broker(
        &bin,
        &dir,
        &ca_pem,
        &scert,
        &skey,
        &format!("use_identity_as_username true\nacl_file {acl}\n"),
    );
    let (ca_dir, trust) = mitm_ca(&dir);
    let rec = dir.file("rec.pcapng");
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        "localhost",
        "--mitm",
        "--ca-dir",
        &ca_dir,
        "--device-cert",
        &dcert,
        "--device-key",
        &dkey,
        "--upstream-ca",
        &ca_pem,
        "--record",
        &rec,
        "--policy",
        &deny,
        "--region",
        "eu-west-1",
        "--account-id",
        "123456789012",
    ]);
    let cert = Some((dcert.as_str(), dkey.as_str()));
    run_device(
        mosquitto_pub(
            proxy.port,
            &trust,
            cert,
            "devices/other/telemetry",
            &["-i", "thermostat-12", "-V", "mqttv5"],
        ),
        b"",
    );
    let live = proxy.next_connection();
    let denied = finding(&live, "AUTHZ.PUBLISH_DENIED");
    assert!(
        evidence(denied).contains(&format!(
            "--policy: policy \\\"{deny}\\\" statement 2 (Sid \\\"NoOtherDevices\\\") denies iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry explicitly"
        )),
        "{denied}"
    );
    assert!(
        denied["next_steps"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "Narrow or remove policy \"{deny}\" statement 2 (Sid \"NoOtherDevices\")"
            )),
        "{denied}"
    );
    // The broker and the policy agree: nothing else is said.
    assert!(
        !codes(&live).contains(&"AUTHZ.POLICY_NOT_IN_FORCE".to_string()),
        "{}",
        live["findings"]
    );
    let (status, _, _) = proxy.stop();
    assert!(status.code().is_some());

    // The recording, replayed with each policy.
    let (conns, out) = replay_json(&[&rec, "--policy", &deny]);
    assert_eq!(conns.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let denied = finding(&conns[0], "AUTHZ.PUBLISH_DENIED");
    assert!(
        evidence(denied).contains("statement 2 (Sid \\\"NoOtherDevices\\\") denies iot:Publish"),
        "{denied}"
    );
    let (conns, _) = replay_json(&[&rec, "--policy", &allow, "--account-id", "123456789012"]);
    let nif = finding(&conns[0], "AUTHZ.POLICY_NOT_IN_FORCE");
    assert_eq!(nif["severity"], "warning");
    assert_eq!(
        nif["summary"],
        "The endpoint refused iot:Publish on topic devices/other/telemetry, but the policies given allow it: the policy in force is not the one given."
    );
    assert!(
        evidence(nif).contains("statement 1 (Sid \\\"AllDevices\\\") allows iot:Publish"),
        "{nif}"
    );
    assert!(
        nif["next_steps"][0].as_str().unwrap().starts_with(
            "aws iot list-attached-policies --target arn:aws:iot:REGION:123456789012:cert/"
        ),
        "{nif}"
    );
    // Without --policy the replay says what it always said.
    let (conns, _) = replay_json(&[&rec]);
    let plain = finding(&conns[0], "AUTHZ.PUBLISH_DENIED");
    assert!(!evidence(plain).contains("--policy"), "{plain}");
    assert!(!codes(&conns[0])
        .iter()
        .any(|c| c.starts_with("AUTHZ.POLICY_")));
}

#[test]
fn a_bad_policy_file_is_bad_input() {
    let dir = Dir::new("policy-flag-bad");
    let bad = dir.put(
        "bad.json",
        "{\"Version\": \"2012-10-17\",\n \"Statement\": [\n",
    );
    let capture = dir.put("empty.txt", "");
    let out = run(&["replay", "--quiet", &capture, "--policy", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "iotscope: {bad}: not valid JSON at line 3, column 0: EOF while parsing a list"
        )),
        "{err}"
    );
    let missing = dir.file("missing.json");
    let out = run(&["probe", "--endpoint", "localhost", "--policy", &missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("cannot read {missing}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --thing without --policy is an invocation error.
    let out = run(&["replay", &capture, "--thing", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

//! `iotscope policy check` and `iotscope policy lint` as a user runs them: files in, text or
//! JSON out, and the exit status (0 allowed / clean, 1 denied / problems, 2 bad input).

use std::path::{Path, PathBuf};

use iotscope_tests::run;
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::Value;

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotscope-policy-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const DEVICE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Sid": "Connect", "Effect": "Allow", "Action": "iot:Connect",
      "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}" },
    { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/dt/${iot:ClientId}/*" },
    { "Effect": "Deny", "Action": "iot:Publish",
      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/dt/*/admin" }
  ]
}"#;

const ENDPOINT: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn check_allows_denies_and_suggests() {
    let d = dir("check");
    let p = write(&d, "device.json", DEVICE_POLICY);
    let out = run(&[
        "policy",
        "check",
        "--policy",
        &p,
        "--client-id",
        "lamp-1",
        "--thing",
        "lamp-1",
        "--endpoint",
        ENDPOINT,
        "--account-id",
        "123456789012",
        "--connect",
        "--publish",
        "dt/lamp-1/temp",
        "--publish",
        "dt/lamp-1/admin",
        "--subscribe",
        "cmd/lamp-1/#",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_lines(&out);
    assert_eq!(v.len(), 4);
    for o in &v {
        for key in [
            "action",
            "resource",
            "decision",
            "reason",
            "statements",
            "suggestion",
            "variables",
            "warnings",
        ] {
            assert!(o.get(key).is_some(), "{key} missing in {o}");
        }
    }
    assert_eq!(v[0]["action"], "iot:Connect");
    assert_eq!(
        v[0]["resource"],
        "arn:aws:iot:us-east-1:123456789012:client/lamp-1"
    );
    assert_eq!(v[0]["decision"], "allow");
    assert_eq!(v[0]["statements"][0]["sid"], "Connect");
    assert_eq!(v[0]["statements"][0]["index"], 0);
    assert_eq!(v[0]["variables"][0]["value"], "lamp-1");
    assert_eq!(v[1]["reason"], "allowed");
    assert_eq!(v[2]["reason"], "explicit_deny");
    assert_eq!(v[2]["statements"][0]["effect"], "Deny");
    assert_eq!(v[3]["reason"], "implicit_deny");
    assert_eq!(
        v[3]["suggestion"]["statement"]["Resource"],
        "arn:aws:iot:us-east-1:123456789012:topicfilter/cmd/${iot:Connection.Thing.ThingName}/#"
    );
    // Every request allowed: exit 0, and the text names the statement.
    let out = run(&[
        "policy",
        "check",
        "--policy",
        &p,
        "--client-id",
        "lamp-1",
        "--thing",
        "lamp-1",
        "--region",
        "us-east-1",
        "--account-id",
        "123456789012",
        "--connect",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALLOW (allowed)"), "{text}");
    assert!(text.contains("statement 0 (Sid \"Connect\")"), "{text}");
}

#[test]
fn check_reads_certificates_and_aws_cli_output() {
    let d = dir("cert");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, "lamp-7");
    let cert = params.self_signed(&key).unwrap();
    let cert_path = write(&d, "lamp.pem", &cert.pem());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Certificate.Subject.CommonName}"}]}"#;
    let get_policy =
        serde_json::json!({"policyName": "ByCommonName", "policyDocument": doc}).to_string();
    let p = write(&d, "get-policy.json", &get_policy);
    let ok = run(&[
        "policy",
        "check",
        "--policy",
        &p,
        "--client-id",
        "lamp-7",
        "--cert",
        &cert_path,
        "--connect",
        "--format",
        "json",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let v = json_lines(&ok);
    assert_eq!(v[0]["statements"][0]["policy"], "ByCommonName");
    let no = run(&[
        "policy",
        "check",
        "--policy",
        &p,
        "--client-id",
        "lamp-8",
        "--cert",
        &cert_path,
        "--connect",
    ]);
    assert_eq!(no.status.code(), Some(1));
}

#[test]
fn bad_input_is_exit_2_with_the_file_and_place() {
    let d = dir("bad");
    let broken = write(
        &d,
        "broken.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}\n",
    );
    let out = run(&[
        "policy",
        "check",
        "--policy",
        &broken,
        "--client-id",
        "c",
        "--connect",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json: not valid JSON at line 4, column 1"),
        "{err}"
    );
    let op = write(
        &d,
        "op.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringMatches":{"iot:ClientId":"c"}}}}"#,
    );
    let out = run(&[
        "policy",
        "check",
        "--policy",
        &op,
        "--client-id",
        "c",
        "--connect",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("op.json: /Statement/Condition/StringMatches: \"StringMatches\" is not a condition operator"), "{err}");
    let missing = d.join("missing.json").display().to_string();
    let out = run(&[
        "policy",
        "check",
        "--policy",
        &missing,
        "--client-id",
        "c",
        "--connect",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["policy", "check", "--policy", &op, "--client-id", "c"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to check"));
}

#[test]
fn lint_exit_statuses_and_problems() {
    let d = dir("lint");
    let clean = write(
        &d,
        "clean.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/cmd/${iot:ClientId}/*"}]}"#,
    );
    let out = run(&["policy", "lint", &clean]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 problems in 1 file"));
    let bad = write(
        &d,
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"},{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topic/cmd/#"}]}"#,
    );
    let out = run(&["policy", "lint", &bad, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_lines(&out);
    let kinds: Vec<&str> = v.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["too_broad", "mqtt_wildcard", "never_matches"]);
    assert_eq!(v[2]["place"], "/Statement/1");
    assert!(v[2]["file"].as_str().unwrap().ends_with("bad.json"));
    let syntax = write(
        &d,
        "syntax.json",
        "{\n \"Version\": \"2012-10-17\"\n \"Statement\": []\n}",
    );
    let out = run(&["policy", "lint", &syntax]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("syntax.json: 3:2: invalid: not valid JSON at line 3, column 2"),
        "{text}"
    );
    let out = run(&["policy", "lint", &d.join("nope.json").display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
}

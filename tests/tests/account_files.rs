//! `--account FILE...` and `iotscope logs` against the AWS CLI's own output, made with moto
//! (captures/account/make.sh), and the lab captures: the refused TLS 1.3 certificate named as
//! not registered, inactive or revoked; a denied PUBLISH citing the attached policy's
//! statement; another account's endpoint; the AUTHORIZATION_FAILURE log entry explained and
//! joined to its connection; unreadable files refused; working connections kept free of
//! errors; and nothing at all without `--account`.

use std::path::PathBuf;

use iotscope_tests::{codes, codes_of, reference_captures, replay_json, root, run};
use serde_json::Value;

const GOOD: &str = "d188057ddb67cdc13d4dba0ab3d179909b93de326c642998b7c3213faeffd7be";
const EXPIRED: &str = "1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3";

fn account(name: &str) -> String {
    root()
        .join("captures/account")
        .join(name)
        .display()
        .to_string()
}

/// `replay --format json` of a lab capture with its key log, and more arguments.
fn lab(capture: &str, more: &[&str]) -> (Value, std::process::Output) {
    let lab = reference_captures().join("lab");
    let pcap = lab.join(format!("{capture}.pcap")).display().to_string();
    let keys = lab.join(format!("{capture}.keys")).display().to_string();
    let mut args = vec![pcap.as_str(), "--keylog", keys.as_str()];
    args.extend_from_slice(more);
    let (mut conns, out) = replay_json(&args);
    assert_eq!(conns.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    (conns.remove(0), out)
}

fn finding<'a>(conn: &'a Value, code: &str) -> &'a Value {
    conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {:#}", conn["findings"]))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotscope-account-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_refused_tls13_certificate_is_not_registered_inactive_or_revoked() {
    for (dir, code, lookup, status) in [
        (
            "not-registered",
            "AUTH.CERT_NOT_REGISTERED",
            "not_found",
            None,
        ),
        ("inactive", "AUTH.CERT_INACTIVE", "found", Some("INACTIVE")),
        ("revoked", "AUTH.CERT_REVOKED", "found", Some("REVOKED")),
    ] {
        let (conn, out) = lab(
            "12_client_cert_expired_tls13",
            &["--account", &account(dir)],
        );
        assert_eq!(out.status.code(), Some(1), "{dir}");
        let errors = codes_of(&conn, "error");
        // What the account says, beside the wire's own refusal (certificate_expired), which
        // stays an error: the account does not replace the root cause the wire shows.
        assert!(errors.contains(&code.to_string()), "{dir}: {errors:?}");
        assert!(
            errors.contains(&"AUTH.CLIENT_CERT_EXPIRED".to_string()),
            "{dir}: {errors:?}"
        );
        assert_eq!(conn["account"]["certificate_id"], EXPIRED);
        assert_eq!(conn["account"]["certificate"]["lookup"], lookup);
        if let Some(status) = status {
            assert_eq!(conn["account"]["certificate"]["status"], status);
        }
        let f = finding(&conn, code);
        assert_eq!(f["certainty"], "certain");
        assert_eq!(f["section"], "authentication");
        assert!(f["summary"].as_str().unwrap().contains(EXPIRED), "{f:#}");
        let steps = f["next_steps"].to_string();
        match dir {
            "inactive" => assert!(
                steps.contains(&format!(
                    "aws iot update-certificate --certificate-id {EXPIRED} --new-status ACTIVE --region us-east-1"
                )),
                "{steps}"
            ),
            "revoked" => assert!(
                steps.contains("aws iot create-keys-and-certificate --set-as-active --region us-west-2"),
                "{steps}"
            ),
            _ => assert!(steps.contains("register-certificate-without-ca"), "{steps}"),
        }
    }
}

/// Without the key log the device's certificate is hidden: a describe-certificate file's only
/// certificate stands in for it, and what follows is likely, not certain. A list-certificates
/// does not name the device's certificate, so it gives nothing.
#[test]
fn without_keys_the_described_certificate_is_presumed() {
    let pcap = reference_captures()
        .join("lab/12_client_cert_expired_tls13.pcap")
        .display()
        .to_string();
    for (dir, code) in [
        ("inactive", "AUTH.CERT_INACTIVE"),
        ("revoked", "AUTH.CERT_REVOKED"),
    ] {
        let (conns, _) = replay_json(&[&pcap, "--account", &account(dir)]);
        let conn = &conns[0];
        assert_eq!(codes_of(conn, "error"), [code], "{dir}");
        let f = finding(conn, code);
        assert_eq!(f["certainty"], "likely");
        assert!(f["summary"]
            .as_str()
            .unwrap()
            .starts_with("The wire hides the device's certificate (TLS 1.3 without keys)"));
        assert_eq!(conn["account"]["certificate_presumed"], true);
        assert_eq!(conn["account"]["certificate_id"], EXPIRED);
        let wire = finding(conn, "AUTH.CLIENT_CERT_REJECTED");
        assert_eq!(
            (wire["severity"].as_str(), wire["certainty"].as_str()),
            (Some("info"), Some("likely"))
        );
    }
    let (conns, _) = replay_json(&[&pcap, "--account", &account("not-registered")]);
    assert_eq!(codes(&conns[0]), ["AUTH.CLIENT_CERT_REJECTED"]);
    assert_eq!(conns[0]["account"]["certificate"]["lookup"], "unknown");
}

#[test]
fn a_denied_publish_names_the_attached_policy_statement() {
    let (conn, _) = lab(
        "20_publish_outside_acl_mqtt5",
        &["--account", &account("good")],
    );
    assert_eq!(codes_of(&conn, "error"), ["AUTHZ.PUBLISH_DENIED"]);
    let f = finding(&conn, "AUTHZ.PUBLISH_DENIED");
    let evidence = f["evidence"].to_string();
    assert!(
        evidence.contains(r#"attached policy: policy \"lab-device-policy (version 1)\" statement 2 (Sid \"NoPublishingForOtherDevices\") denies iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/devices/other/telemetry explicitly"#),
        "{evidence}"
    );
    let a = &conn["account"];
    assert_eq!(a["certificate"]["status"], "ACTIVE");
    assert_eq!(a["policies"]["policies"][0]["name"], "lab-device-policy");
    assert_eq!(a["policies"]["policies"][0]["version"], "1");
    assert_eq!(a["things"]["things"][0]["name"], "good");
    // The SNI is the account's domain configuration: no endpoint finding.
    assert!(!codes(&conn).contains(&"CONN.SNI_OTHER_ACCOUNT".to_string()));
    assert_eq!(finding(&conn, "AUTH.CERT_ACTIVE")["severity"], "info");
}

#[test]
fn another_accounts_endpoint_is_called_out() {
    let other = account("other-endpoint");
    let endpoint = std::fs::read_to_string(format!("{other}/describe-endpoint.json")).unwrap();
    let endpoint: Value = serde_json::from_str(&endpoint).unwrap();
    let endpoint = endpoint["endpointAddress"].as_str().unwrap();
    // Refused: an error beside the wire's own.
    let (conn, _) = lab("12_client_cert_expired_tls13", &["--account", &other]);
    let f = finding(&conn, "CONN.SNI_OTHER_ACCOUNT");
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["summary"],
        format!("The device asked for abc123example-ats.iot.us-east-1.amazonaws.com, which is not this account's endpoint ({endpoint}).")
    );
    assert!(codes_of(&conn, "error").contains(&"AUTH.CLIENT_CERT_EXPIRED".to_string()));
    // Accepted (CONNACK 0): a warning that says why the two disagree.
    let (conn, out) = lab("03_success_mqtt311_tls12", &["--account", &other]);
    assert_eq!(out.status.code(), Some(0));
    let f = finding(&conn, "CONN.SNI_OTHER_ACCOUNT");
    assert_eq!(f["severity"], "warning");
    assert!(f["summary"]
        .as_str()
        .unwrap()
        .contains("Yet the endpoint accepted this connection"));
}

#[test]
fn logs_explains_the_authorization_failure_and_replay_joins_it() {
    let lines = account("logs/AWSIotLogsV2.jsonl");
    let out = run(&[
        "logs",
        &lines,
        "--client-id",
        "good-pub-other-v5",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let entries: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["entry"]["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["Connect", "Publish-In", "Disconnect"]);
    let denied = &entries[1]["findings"][0];
    assert_eq!(denied["code"], "AUTHZ.PUBLISH_DENIED");
    assert_eq!(denied["section"], "authorization");
    assert_eq!(
        denied["summary"],
        "AWS IoT logged Publish-In AUTHORIZATION_FAILURE for client good-pub-other-v5 on topic devices/other/telemetry at 2026-11-26 09:06:02.612."
    );
    assert!(denied["next_steps"].to_string().contains(GOOD));
    assert_eq!(entries[0]["findings"], serde_json::json!([]));
    // All of it, in text, with the disconnect reasons.
    let out = run(&[
        "logs",
        &account("logs/filter-log-events.json"),
        "--colour",
        "never",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for code in [
        "AUTHZ.PUBLISH_DENIED",
        "AUTHZ.CONNECT_DENIED",
        "MQTT.SESSION_TAKEN_OVER",
        "LOG.KEEP_ALIVE_TIMEOUT",
    ] {
        assert!(text.contains(code), "{code} missing:\n{text}");
    }
    assert!(
        text.ends_with("6 entries: 4 explained, 3 errors\n"),
        "{text}"
    );
    // --since / --until keep the window.
    let out = run(&[
        "logs",
        &lines,
        "--since",
        "2026-11-26T10:00:00Z",
        "--until",
        "2026-11-26 10:16:30",
        "--format",
        "json",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    // Joined to the capture's connection by client ID, certificate ID and time.
    let (conn, _) = lab(
        "20_publish_outside_acl_mqtt5",
        &["--account", &account("logs/filter-log-events.json")],
    );
    let joined = conn["account"]["log"]["entries"].as_array().unwrap();
    assert_eq!(joined.len(), 3);
    assert!(joined.iter().all(|e| e["clientId"] == "good-pub-other-v5"));
    let f = finding(&conn, "AUTHZ.PUBLISH_DENIED");
    assert!(f["evidence"].to_string().contains(
        "AWSIotLogsV2: 2026-11-26 09:06:02.612 Publish-In Failure reason=AUTHORIZATION_FAILURE clientId=good-pub-other-v5 topicName=devices/other/telemetry"
    ), "{f:#}");
    // Another connection of the same certificate, a minute earlier: nothing joined.
    let (conn, _) = lab("01_success_mqtt311", &["--account", &account("logs")]);
    assert_eq!(conn["account"]["log"]["entries"], serde_json::json!([]));
    assert!(codes_of(&conn, "error").is_empty());
}

#[test]
fn unrecognised_files_are_bad_input_naming_the_file() {
    let d = tmp("bad");
    let odd = d.join("describe-things.json");
    std::fs::write(&odd, r#"{"things_described": []}"#).unwrap();
    let pcap = reference_captures().join("lab/01_success_mqtt311.pcap");
    let out = run(&[
        "replay",
        pcap.to_str().unwrap(),
        "--account",
        odd.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: not a file iotscope knows", odd.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no report after bad input");
    let log = d.join("log.jsonl");
    let first = std::fs::read_to_string(account("logs/AWSIotLogsV2.jsonl")).unwrap();
    std::fs::write(
        &log,
        format!("{}\nnot json\n", first.lines().next().unwrap()),
    )
    .unwrap();
    let out = run(&["logs", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} line 2: not an AWSIotLogsV2 entry",
            log.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_working_connection_gets_no_error_from_the_account() {
    // good ACTIVE: information only.
    let (conn, out) = lab("01_success_mqtt311", &["--account", &account("good")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(codes_of(&conn, "error").is_empty(), "{:?}", codes(&conn));
    assert_eq!(finding(&conn, "AUTH.CERT_ACTIVE")["severity"], "info");
    // The same files, as if the account held good REVOKED: the connection worked all the
    // same, so a warning that says the account's facts are from another time or place.
    let d = tmp("revoked-good");
    let revoked = std::fs::read_to_string(account("revoked/describe-certificate.json")).unwrap();
    std::fs::write(
        d.join("describe-certificate.json"),
        revoked.replace(EXPIRED, GOOD),
    )
    .unwrap();
    let (conn, out) = lab("01_success_mqtt311", &["--account", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(codes_of(&conn, "error").is_empty(), "{:?}", codes(&conn));
    let f = finding(&conn, "AUTH.CERT_REVOKED");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("from another account or region"),
        "{f:#}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn without_account_no_account_fact_or_finding() {
    let (conn, _) = lab("12_client_cert_expired_tls13", &[]);
    assert!(conn.get("account").is_none());
    assert_eq!(codes(&conn), ["AUTH.CLIENT_CERT_EXPIRED"]);
    let (conn, _) = lab("20_publish_outside_acl_mqtt5", &[]);
    assert!(conn.get("account").is_none());
    assert_eq!(codes(&conn), ["AUTHZ.PUBLISH_DENIED"]);
}

#[test]
fn cert_check_says_the_certificate_status_in_the_account() {
    let pem = account("certs/expired.pem");
    let out = run(&["cert", "check", &pem, "--account", &account("revoked")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "account  REVOKED in the account (arn:aws:iot:us-west-2:123456789012:cert/{EXPIRED})"
        )),
        "{text}"
    );
    assert!(text.contains("AUTH.CERT_REVOKED"), "{text}");
    let out = run(&[
        "cert",
        "check",
        &account("certs/good.pem"),
        "--account",
        &account("inactive"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("account  not registered in the account"),
        "{text}"
    );
    assert!(text.contains("AUTH.CERT_NOT_REGISTERED"), "{text}");
}

/// `proxy --mitm --account`: the account's attached policy decides the live PUBLISH that
/// mosquitto's ACL refuses, and the connection's JSON carries the account object. The account
/// files are the AWS CLI's output for `good` (captures/account/good), with the certificate ID
/// and ARN of this test's device certificate put in.
#[test]
fn proxy_asks_the_account_about_a_live_connection() {
    use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device};
    use iotscope_tests::pki::{BrokerFiles, Dir};
    use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
    let (Some(bin), true) = (mosquitto_bin(), iotscope_tests::have_tool("mosquitto_pub")) else {
        return;
    };
    let dir = Dir::new("account-proxy");
    let BrokerFiles {
        ca: ca_pem,
        server_cert: scert,
        server_key: skey,
        device_cert: dcert,
        device_key: dkey,
    } = BrokerFiles::write(&dir, "broker CA", "good-thermostat");
    let acl = dir.put(
        "acl",
        "user good-thermostat\ntopic readwrite devices/good/#\n",
    );
    let checked = run(&["cert", "check", &dcert, "--format", "json"]);
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    let id = checked["certificates"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let files = dir.file("account");
    std::fs::create_dir_all(&files).unwrap();
    for name in [
        "describe-certificate.json",
        "list-attached-policies.json",
        "get-policy.json",
        "list-principal-things.json",
        "describe-thing.json",
    ] {
        let text = std::fs::read_to_string(account(&format!("good/{name}"))).unwrap();
        std::fs::write(PathBuf::from(&files).join(name), text.replace(GOOD, &id)).unwrap();
    }
    let (_broker, port) = broker(
        &bin,
        &dir,
        &ca_pem,
        &scert,
        &skey,
        &format!("use_identity_as_username true\nacl_file {acl}\n"),
    );
    let (ca_dir, trust) = mitm_ca(&dir);
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
        "--account",
        &files,
    ]);
    run_device(
        mosquitto_pub(
            proxy.port,
            &trust,
            Some((dcert.as_str(), dkey.as_str())),
            "devices/other/telemetry",
            &["-i", "good-thermostat", "-V", "mqttv5"],
        ),
        b"",
    );
    let live = proxy.next_connection();
    assert_eq!(live["account"]["certificate_id"], id.as_str());
    assert_eq!(live["account"]["certificate"]["status"], "ACTIVE");
    assert_eq!(codes_of(&live, "error"), ["AUTHZ.PUBLISH_DENIED"]);
    let denied = finding(&live, "AUTHZ.PUBLISH_DENIED");
    assert!(
        denied["evidence"].to_string().contains(
            r#"attached policy: policy \"lab-device-policy (version 1)\" statement 2 (Sid \"NoPublishingForOtherDevices\") denies iot:Publish"#
        ),
        "{denied:#}"
    );
    // The account and the broker agree on everything else: the CONNECT (client/good-*) and
    // the thing attached.
    assert!(
        !codes(&live).contains(&"AUTHZ.POLICY_NOT_IN_FORCE".to_string()),
        "{:?}",
        codes(&live)
    );
    let (status, _, _) = proxy.stop();
    assert!(status.code().is_some());
}

/// The committed certificates' IDs are the ones iotscope computes (SHA-256 of the DER), and
/// the ones the committed AWS CLI files carry.
#[test]
fn the_lab_certificates_ids_are_iotscopes() {
    for (pem, file, id) in [
        ("certs/good.pem", "good/describe-certificate.json", GOOD),
        (
            "certs/expired.pem",
            "inactive/describe-certificate.json",
            EXPIRED,
        ),
        (
            "certs/expired.pem",
            "revoked/describe-certificate.json",
            EXPIRED,
        ),
    ] {
        let out = run(&["cert", "check", &account(pem), "--format", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["certificates"][0]["sha256"], id, "{pem}");
        let cli: Value =
            serde_json::from_str(&std::fs::read_to_string(account(file)).unwrap()).unwrap();
        assert_eq!(cli["certificateDescription"]["certificateId"], id, "{file}");
    }
}

/// moto-setup.sh against a fresh moto_server (from the project's virtual environment), then the
/// AWS CLI's describe-certificate for each state: the set-up still makes the lab account, with
/// AWS's certificate IDs, and iotscope still reads what today's CLI prints.
#[test]
fn moto_setup_makes_the_lab_account() {
    // The shared starter waits for moto's own HTTP answer. This test's bare connect once
    // succeeded 1.7 s into its run, sooner than moto starts (most likely another listener on
    // the port picked), and the set-up then found nothing there.
    let Some(moto) = iotscope_tests::moto::Moto::start() else {
        return;
    };
    let aws = iotscope_tests::venv::bin("aws").expect("the AWS CLI in the virtual environment");
    moto.set_up_lab();
    let url = moto.url.clone();
    let d = tmp("moto");
    for (region, status) in [("us-east-1", "INACTIVE"), ("us-west-2", "REVOKED")] {
        let out = std::process::Command::new(&aws)
            .args([
                "--endpoint-url",
                &url,
                "--region",
                region,
                "--output",
                "json",
            ])
            .args(["iot", "describe-certificate", "--certificate-id", EXPIRED])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = d.join(format!("{region}.json"));
        std::fs::write(&file, &out.stdout).unwrap();
        let pcap = reference_captures().join("lab/12_client_cert_expired_tls13.pcap");
        let keys = reference_captures().join("lab/12_client_cert_expired_tls13.keys");
        let (conns, _) = replay_json(&[
            pcap.to_str().unwrap(),
            "--keylog",
            keys.to_str().unwrap(),
            "--account",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            conns[0]["account"]["certificate"]["status"], status,
            "{region}"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

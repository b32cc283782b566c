//! `--aws`: the online account source against moto_server holding the lab account
//! (captures/account/moto-setup.sh), not against mocks.
//!
//! One moto_server for this whole binary ([`iotscope_tests::moto::lab`]). The in-process tests
//! drive `iotscope_account_aws::Aws` directly (call counts, asking from inside a tokio worker);
//! the others run the iotscope binary with the SDK's own environment (`AWS_ENDPOINT_URL`, dummy
//! credentials), set per child process.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use iotscope_account::{AccountSource, CertStatus, LogQuery, Lookup};
use iotscope_account_aws::{Aws, AwsOptions};
use iotscope_tests::moto::{self, Moto};
use std::process::Command;

/// The lab certificates' IDs (SHA-256 of their DER), as moto-setup.sh registers them.
const GOOD: &str = "d188057ddb67cdc13d4dba0ab3d179909b93de326c642998b7c3213faeffd7be";
const EXPIRED: &str = "1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3";

/// The lab account, with this process's environment pointed at it for the in-process source.
/// Every in-process test goes through here, so the environment is set once, before any SDK
/// client reads it, and always to the same values.
fn lab_in_process() -> Option<&'static Moto> {
    static ENV: OnceLock<()> = OnceLock::new();
    let lab = moto::lab()?;
    ENV.get_or_init(|| {
        for name in moto::CLEARED_ENV {
            std::env::remove_var(name);
        }
        for (name, value) in moto::dummy_env() {
            std::env::set_var(name, value);
        }
        std::env::set_var("AWS_ENDPOINT_URL", &lab.url);
    });
    Some(lab)
}

fn source(region: &str) -> Aws {
    Aws::new(AwsOptions {
        profile: None,
        region: Some(region.to_string()),
    })
}

/// moto computes certificate IDs as AWS does (moto-setup.sh stops otherwise), and the source
/// reads each region's state of the expired device certificate: INACTIVE, REVOKED, not
/// registered.
#[test]
fn certificate_status_per_region() {
    let Some(_lab) = lab_in_process() else { return };
    let status = |region: &str| source(region).certificate(EXPIRED);
    match status("us-east-1") {
        Lookup::Found(r) => {
            assert_eq!(r.status, CertStatus::Inactive);
            assert_eq!(r.certificate_id, EXPIRED);
            assert_eq!(
                r.certificate_arn.as_deref(),
                Some(format!("arn:aws:iot:us-east-1:123456789012:cert/{EXPIRED}").as_str())
            );
        }
        other => panic!("us-east-1: {other:?}"),
    }
    match status("us-west-2") {
        Lookup::Found(r) => assert_eq!(r.status, CertStatus::Revoked),
        other => panic!("us-west-2: {other:?}"),
    }
    assert_eq!(status("eu-west-1"), Lookup::NotFound);
}

/// The good certificate's attached policy (with its document) and thing, and the account's
/// endpoints, as moto holds them.
#[test]
fn policies_things_and_endpoints() {
    let Some(_lab) = lab_in_process() else { return };
    let mut aws = source("us-east-1");
    let Lookup::Found(cert) = aws.certificate(GOOD) else {
        panic!("good is registered in us-east-1")
    };
    assert_eq!(cert.status, CertStatus::Active);
    let arn = cert.certificate_arn.expect("an ARN");
    let Lookup::Found(policies) = aws.attached_policies(&arn) else {
        panic!("policies of {arn}")
    };
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(policies[0].name, "lab-device-policy");
    assert!(
        policies[0].document.contains("NoPublishingForOtherDevices"),
        "{}",
        policies[0].document
    );
    let Lookup::Found(things) = aws.things_of(&arn) else {
        panic!("things of {arn}")
    };
    assert_eq!(things.len(), 1, "{things:?}");
    assert_eq!(things[0].name, "good");
    assert_eq!(
        things[0].attributes.get("site").map(String::as_str),
        Some("lab")
    );
    let Lookup::Found(endpoints) = aws.endpoints() else {
        panic!("endpoints")
    };
    assert!(
        endpoints
            .ats
            .as_deref()
            .is_some_and(|a| a.ends_with("-ats.iot.us-east-1.amazonaws.com")),
        "{endpoints:?}"
    );
    assert!(
        endpoints.domains.iter().any(|d| d.name == "lab-endpoint"
            && d.domain_name.as_deref() == Some("abc123example-ats.iot.us-east-1.amazonaws.com")),
        "{endpoints:?}"
    );
    // A certificate with no policy attached: an empty list, not a failure.
    let Lookup::Found(unknownca) =
        aws.certificate("7750f159ba3baf797e58441524aa15cd105b7f00fcd074c65c630ce8f8a76e0b")
    else {
        panic!("unknownca is registered in us-east-1")
    };
    let unknownca_arn = unknownca.certificate_arn.clone().unwrap();
    assert_eq!(aws.attached_policies(&unknownca_arn), Lookup::Found(vec![]));

    // Each request once (a listing's single page counts once), and asking everything again
    // sends nothing.
    let expected = BTreeMap::from([
        ("iot:DescribeCertificate", 2),
        ("iot:ListAttachedPolicies", 2),
        ("iot:GetPolicy", 1),
        ("iot:ListPrincipalThings", 1),
        ("iot:DescribeThing", 1),
        ("iot:DescribeEndpoint", 1),
        ("iot:ListDomainConfigurations", 1),
        ("iot:DescribeDomainConfiguration", 1),
    ]);
    assert_eq!(aws.calls_made(), expected);
    for call in expected.keys() {
        assert!(
            iotscope_account_aws::READ_ONLY_CALLS.contains(call),
            "{call}"
        );
    }
    aws.certificate(GOOD);
    aws.attached_policies(&arn);
    aws.things_of(&arn);
    aws.endpoints();
    aws.attached_policies(&unknownca_arn);
    assert_eq!(aws.calls_made(), expected);
}

/// The region whose AWSIotLogsV2 group holds entries of this run's time (moto, like CloudWatch
/// Logs, refuses events older than 14 days, so the lab's entries of 2026-11-26 cannot be relied
/// on): a Connect and a Publish-In AUTHORIZATION_FAILURE of client `fresh-device`.
const FRESH_LOG_REGION: &str = "eu-central-1";
const FRESH_CLIENT: &str = "fresh-device";

/// Writes the fresh entries once per run; their instant (ms since 1970).
fn fresh_log(lab: &Moto) -> i64 {
    static AT: OnceLock<i64> = OnceLock::new();
    *AT.get_or_init(|| {
        let now_ms: i64 = String::from_utf8(
            Command::new("date")
                .args(["-u", "+%s%3N"])
                .output()
                .expect("date")
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        let stamp = String::from_utf8(
            Command::new("date")
                .args(["-u", "-d", &format!("@{}", now_ms / 1000), "+%Y-%m-%d %H:%M:%S"])
                .output()
                .expect("date")
                .stdout,
        )
        .unwrap();
        let stamp = format!("{}.{:03}", stamp.trim(), now_ms % 1000);
        let entry = |event: &str, status: &str, extra: &str| {
            format!(
                r#"{{"timestamp":"{stamp}","logLevel":"{}","traceId":"00000000-0000-4000-8000-00000000000{}","accountId":"123456789012","status":"{status}","eventType":"{event}","protocol":"MQTT","clientId":"{FRESH_CLIENT}","principalId":"{GOOD}","sourceIp":"127.0.0.1","sourcePort":40000{extra}}}"#,
                if status == "Failure" { "ERROR" } else { "INFO" },
                if status == "Failure" { 2 } else { 1 },
            )
        };
        let events = serde_json::json!([
            {"timestamp": now_ms, "message": entry("Connect", "Success", "")},
            {"timestamp": now_ms + 1, "message": entry("Publish-In", "Failure", r#","topicName":"devices/other/telemetry","reason":"AUTHORIZATION_FAILURE","details":"Authorization Failure""#)},
        ]);
        lab.aws(
            FRESH_LOG_REGION,
            &["logs", "create-log-group", "--log-group-name", "AWSIotLogsV2"],
        );
        lab.aws(
            FRESH_LOG_REGION,
            &[
                "logs",
                "create-log-stream",
                "--log-group-name",
                "AWSIotLogsV2",
                "--log-stream-name",
                "fresh",
            ],
        );
        let put = lab.aws(
            FRESH_LOG_REGION,
            &[
                "logs",
                "put-log-events",
                "--log-group-name",
                "AWSIotLogsV2",
                "--log-stream-name",
                "fresh",
                "--log-events",
                &events.to_string(),
            ],
        );
        assert!(put.get("rejectedLogEventsInfo").is_none(), "{put}");
        now_ms
    })
}

/// The log group's entries come back as AWSIotLogsV2 entries, narrowed by time and client.
#[test]
fn log_entries_read() {
    let Some(lab) = lab_in_process() else { return };
    let at = fresh_log(lab);
    let mut aws = source(FRESH_LOG_REGION);
    let query = LogQuery {
        client_id: Some(FRESH_CLIENT.into()),
        principal_id: None,
        since_ms: Some(at - 60_000),
        until_ms: Some(at + 60_000),
    };
    let Lookup::Found(entries) = aws.log_entries(&query) else {
        panic!("log entries")
    };
    assert_eq!(entries.len(), 2, "{entries:?}");
    let failure = entries
        .iter()
        .find(|e| e.status.as_deref() == Some("Failure"))
        .expect("the failure entry");
    assert_eq!(failure.reason.as_deref(), Some("AUTHORIZATION_FAILURE"));
    assert_eq!(failure.principal_id.as_deref(), Some(GOOD));
    // The entry's own timestamp (the same millisecond as the Connect), not CloudWatch's.
    assert_eq!(failure.timestamp_ms, Some(at));
    // An hour later: nothing.
    let later = LogQuery {
        since_ms: Some(at + 3_600_000),
        until_ms: Some(at + 7_200_000),
        ..query
    };
    assert_eq!(aws.log_entries(&later), Lookup::Found(vec![]));
}

/// One iot:DescribeCertificate per certificate ID however often it is asked, counted by the
/// source and by moto's own request recorder.
#[test]
fn one_describe_certificate_per_id() {
    let Some(lab) = lab_in_process() else { return };
    // A region no other test uses, so the recorder's count is this test's alone. Nothing is
    // registered there: NotFound answers are cached too.
    const REGION: &str = "ap-northeast-1";
    let mut aws = source(REGION);
    for _ in 0..25 {
        assert_eq!(aws.certificate(GOOD), Lookup::NotFound);
        assert_eq!(aws.certificate(EXPIRED), Lookup::NotFound);
    }
    let counts = aws.calls_made();
    assert_eq!(
        counts,
        BTreeMap::from([("iot:DescribeCertificate", 2)]),
        "{counts:?}"
    );
    let seen: Vec<_> = lab
        .recorded()
        .into_iter()
        .filter(|r| r.region == REGION)
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for id in [GOOD, EXPIRED] {
        assert!(
            seen.iter()
                .any(|r| r.method == "GET" && r.path == format!("/certificates/{id}")),
            "{seen:?}"
        );
    }
}

/// The source may be asked from inside a tokio worker (the proxy's case) without a nested
/// block_on: it answers from its own thread.
#[test]
fn asked_from_inside_a_tokio_worker() {
    let Some(_lab) = lab_in_process() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(async {
        tokio::spawn(async { source("us-east-1").certificate(EXPIRED) })
            .await
            .unwrap()
    });
    assert!(
        matches!(&answer, Lookup::Found(r) if r.status == CertStatus::Inactive),
        "{answer:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The iotscope binary with --aws, its environment set per child process.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use iotscope_tests::{codes, codes_of, iotscope, reference_captures};
use serde_json::Value;

/// The TLS 1.3 capture of a refused (expired) device certificate and its key log.
fn refused_tls13() -> (String, String) {
    let lab = reference_captures().join("lab");
    (
        lab.join("12_client_cert_expired_tls13.pcap")
            .display()
            .to_string(),
        lab.join("12_client_cert_expired_tls13.keys")
            .display()
            .to_string(),
    )
}

/// The capture of a PUBLISH the endpoint refused (good device, topic devices/other/telemetry).
fn denied_publish() -> (String, String) {
    let lab = reference_captures().join("lab");
    (
        lab.join("20_publish_outside_acl_mqtt5.pcap")
            .display()
            .to_string(),
        lab.join("20_publish_outside_acl_mqtt5.keys")
            .display()
            .to_string(),
    )
}

/// `iotscope ARGS` with dummy credentials, no AWS set-up of this machine, and
/// AWS_ENDPOINT_URL=`endpoint` when given.
fn iotscope_aws(endpoint: Option<&str>) -> Command {
    let mut cmd = iotscope();
    for name in moto::CLEARED_ENV {
        cmd.env_remove(name);
    }
    cmd.envs(moto::dummy_env());
    if let Some(url) = endpoint {
        cmd.env("AWS_ENDPOINT_URL", url);
    }
    cmd
}

/// `replay --format json` of `capture` with its key log and `extra` arguments: one object per
/// connection.
fn replay(cmd: &mut Command, (capture, keys): &(String, String), extra: &[&str]) -> Vec<Value> {
    let out = cmd
        .args([
            "replay", "--format", "json", "--quiet", capture, "--keylog", keys,
        ])
        .args(extra)
        .output()
        .expect("run iotscope");
    connections(&out)
}

fn connections(out: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let conns: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        !conns.is_empty(),
        "no connection reported; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    conns
}

/// The finding with `code`, as JSON text (for checking what it says).
fn finding(conn: &Value, code: &str) -> Option<String> {
    conn["findings"]
        .as_array()?
        .iter()
        .find(|f| f["code"] == code)
        .map(|f| f.to_string())
}

/// With --aws against the lab account, a replay of the TLS 1.3 capture of a refused certificate
/// says which of not registered / INACTIVE / REVOKED it is, as moto holds it in each region.
#[test]
fn replay_names_the_certificate_status() {
    let Some(lab) = moto::lab() else { return };
    for (region, code) in [
        ("us-east-1", "AUTH.CERT_INACTIVE"),
        ("us-west-2", "AUTH.CERT_REVOKED"),
        ("eu-west-1", "AUTH.CERT_NOT_REGISTERED"),
    ] {
        let conns = replay(
            &mut iotscope_aws(Some(&lab.url)),
            &refused_tls13(),
            &["--aws", "--aws-region", region],
        );
        let c = &conns[0];
        assert!(
            codes(c).contains(&code.to_string()),
            "{region}: {:?}",
            codes(c)
        );
        assert!(
            finding(c, code).unwrap().contains(EXPIRED),
            "{region}: the finding names the certificate ID"
        );
        assert_eq!(c["account"]["certificate_id"], EXPIRED, "{region}");
    }
}

/// The status is read afresh each run: a certificate switched with `aws iot update-certificate`
/// between runs is reported as it now stands (in a region no other test uses).
#[test]
fn status_changes_between_runs_are_seen() {
    let Some(lab) = moto::lab() else { return };
    const REGION: &str = "ap-southeast-2";
    let pem = format!(
        "file://{}",
        moto::account_dir().join("certs/expired.pem").display()
    );
    let registered = lab.aws(
        REGION,
        &[
            "iot",
            "register-certificate-without-ca",
            "--certificate-pem",
            &pem,
            "--status",
            "ACTIVE",
        ],
    );
    assert_eq!(
        registered["certificateId"], EXPIRED,
        "moto's ID is the DER's SHA-256"
    );
    let status_code = || {
        let conns = replay(
            &mut iotscope_aws(Some(&lab.url)),
            &refused_tls13(),
            &["--aws", "--aws-region", REGION],
        );
        codes(&conns[0])
    };
    assert!(status_code().contains(&"AUTH.CERT_ACTIVE".to_string()));
    for (status, code) in [
        ("INACTIVE", "AUTH.CERT_INACTIVE"),
        ("REVOKED", "AUTH.CERT_REVOKED"),
    ] {
        lab.aws(
            REGION,
            &[
                "iot",
                "update-certificate",
                "--certificate-id",
                EXPIRED,
                "--new-status",
                status,
            ],
        );
        let got = status_code();
        assert!(got.contains(&code.to_string()), "{status}: {got:?}");
    }
}

/// A PUBLISH the endpoint refused is explained by the attached policy's statement, fetched
/// with iot:ListAttachedPolicies and iot:GetPolicy.
#[test]
fn denied_publish_names_the_policy_statement() {
    let Some(lab) = moto::lab() else { return };
    let conns = replay(
        &mut iotscope_aws(Some(&lab.url)),
        &denied_publish(),
        &["--aws", "--aws-region", "us-east-1"],
    );
    let c = &conns[0];
    let denied = finding(c, "AUTHZ.PUBLISH_DENIED")
        .unwrap_or_else(|| panic!("no AUTHZ.PUBLISH_DENIED: {:?}", codes(c)));
    assert!(denied.contains("lab-device-policy"), "{denied}");
    assert!(denied.contains("NoPublishingForOtherDevices"), "{denied}");
    assert_eq!(
        c["account"]["policies"]["policies"][0]["name"],
        "lab-device-policy"
    );
    assert_eq!(c["account"]["things"]["things"][0]["name"], "good");
}

/// A device pointed at another account's endpoint: in eu-west-1 the lab account has only its
/// own generated iot:Data-ATS endpoint, not the capture's SNI; in us-east-1 the SNI is its
/// domain configuration.
#[test]
fn wrong_account_sni_is_called_out() {
    let Some(lab) = moto::lab() else { return };
    let other = replay(
        &mut iotscope_aws(Some(&lab.url)),
        &denied_publish(),
        &["--aws", "--aws-region", "eu-west-1"],
    );
    let sni = finding(&other[0], "CONN.SNI_OTHER_ACCOUNT")
        .unwrap_or_else(|| panic!("no CONN.SNI_OTHER_ACCOUNT: {:?}", codes(&other[0])));
    assert!(
        sni.contains("abc123example-ats.iot.us-east-1.amazonaws.com"),
        "{sni}"
    );
    let own = replay(
        &mut iotscope_aws(Some(&lab.url)),
        &denied_publish(),
        &["--aws", "--aws-region", "us-east-1"],
    );
    assert!(
        !codes(&own[0]).contains(&"CONN.SNI_OTHER_ACCOUNT".to_string()),
        "{:?}",
        codes(&own[0])
    );
}

/// Many connections of one certificate make one iot:DescribeCertificate in a run, as moto's
/// request recorder counts them.
#[test]
fn one_describe_certificate_across_connections() {
    let Some(lab) = moto::lab() else { return };
    // A region no other test uses; nothing is registered there.
    const REGION: &str = "ca-central-1";
    let (capture, keys) = refused_tls13();
    let out = iotscope_aws(Some(&lab.url))
        .args(["replay", "--format", "json", "--quiet", "--keylog", &keys])
        .args([&capture, &capture, &capture, &capture])
        .args(["--aws", "--aws-region", REGION])
        .output()
        .expect("run iotscope");
    let conns = connections(&out);
    assert_eq!(conns.len(), 4);
    for c in &conns {
        assert!(codes(c).contains(&"AUTH.CERT_NOT_REGISTERED".to_string()));
    }
    let describes: Vec<_> = lab
        .recorded()
        .into_iter()
        .filter(|r| r.region == REGION && r.path.starts_with("/certificates/"))
        .collect();
    assert_eq!(describes.len(), 1, "{describes:?}");
    assert_eq!(describes[0].path, format!("/certificates/{EXPIRED}"));
}

/// `cert check --aws` reads the certificate's status from the account.
#[test]
fn cert_check_reads_the_status() {
    let Some(lab) = moto::lab() else { return };
    let pem = moto::account_dir().join("certs/expired.pem");
    let out = iotscope_aws(Some(&lab.url))
        .args(["cert", "check", "--format", "json"])
        .arg(&pem)
        .args(["--aws", "--aws-region", "us-west-2"])
        .output()
        .expect("run iotscope");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("REVOKED"), "{text}");
    assert!(text.contains("AUTH.CERT_REVOKED"), "{text}");
}

/// An HTTP listener standing in for an AWS endpoint: it records every connection and answers
/// every request 403 with an AccessDeniedException body, as AWS would for an identity without
/// the permission. It is a stand-in, not AWS and not moto (moto does not check IAM): the test
/// that uses it says so.
struct StandIn {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

fn access_denied_stand_in() -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (c, r) = (connections.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            std::thread::spawn(move || answer_denied(stream, &r));
        }
    });
    StandIn {
        url,
        connections,
        requests,
    }
}

fn answer_denied(stream: std::net::TcpStream, requests: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim().to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        requests.lock().unwrap().push(request_line);
        let message = "User: arn:aws:iam::123456789012:user/iotscope-test is not authorized to perform this action";
        let body = format!("{{\"__type\":\"AccessDeniedException\",\"message\":\"{message}\"}}");
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nx-amzn-ErrorType: AccessDeniedException\r\nx-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Every failure of a call is an info finding naming the call and the error, and the diagnosis
/// goes on from the wire (AUTH.CLIENT_CERT_EXPIRED still stands): no network (a port nothing
/// listens on), no credentials, AccessDenied (from the stand-in listener above, since moto
/// does not enforce IAM), and no region.
#[test]
fn call_failures_are_info_findings() {
    let dead = format!("http://127.0.0.1:{}", iotscope_tests::proxy::dead_port());
    let denied = access_denied_stand_in();
    let lab_url = moto::lab().map(|l| l.url.clone());

    let mut no_network = iotscope_aws(Some(&dead));
    let mut no_credentials = iotscope_aws(lab_url.as_deref().or(Some(&dead)));
    no_credentials
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let mut access_denied = iotscope_aws(Some(&denied.url));
    let mut no_region = iotscope_aws(Some(&dead));

    let in_region: &[&str] = &["--aws", "--aws-region", "us-east-1"];
    for (name, cmd, args, reason) in [
        ("no network", &mut no_network, in_region, "no network"),
        (
            "no credentials",
            &mut no_credentials,
            in_region,
            "no credentials",
        ),
        (
            "access denied",
            &mut access_denied,
            in_region,
            "AccessDeniedException",
        ),
        // No --aws-region, no AWS_REGION, no profile: nothing is sent.
        ("no region", &mut no_region, &["--aws"][..], "no region"),
    ] {
        let conns = replay(cmd, &refused_tls13(), args);
        let c = &conns[0];
        let failed = finding(c, "ACCOUNT.LOOKUP_FAILED")
            .unwrap_or_else(|| panic!("{name}: no ACCOUNT.LOOKUP_FAILED: {:?}", codes(c)));
        assert!(
            failed.contains("iot:DescribeCertificate"),
            "{name}: {failed}"
        );
        assert!(failed.contains(reason), "{name}: {failed}");
        assert_eq!(
            codes_of(c, "info")
                .iter()
                .filter(|x| *x == "ACCOUNT.LOOKUP_FAILED")
                .count(),
            1,
            "{name}: the failures are one info finding"
        );
        assert!(
            !codes_of(c, "error").contains(&"ACCOUNT.LOOKUP_FAILED".to_string())
                && !codes_of(c, "warning").contains(&"ACCOUNT.LOOKUP_FAILED".to_string()),
            "{name}: every failure is info"
        );
        assert!(
            codes_of(c, "error").contains(&"AUTH.CLIENT_CERT_EXPIRED".to_string()),
            "{name}: the wire's diagnosis stands: {:?}",
            codes(c)
        );
        assert_eq!(c["account"]["certificate"]["lookup"], "failed", "{name}");
        assert_eq!(
            c["account"]["certificate"]["call"], "iot:DescribeCertificate",
            "{name}"
        );
    }
    let seen = denied.requests.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|r| r.starts_with(&format!("GET /certificates/{EXPIRED}"))),
        "{seen:?}"
    );
}

/// Without --aws no source is built and no call is made, even with AWS_ENDPOINT_URL pointing
/// at a listener that records connections; with --aws the same listener is called (so the
/// check can fail).
#[test]
fn no_call_without_aws() {
    let listener = access_denied_stand_in();
    let capture = refused_tls13();
    let pem = moto::account_dir().join("certs/expired.pem");
    let mut env_endpoints = iotscope_aws(Some(&listener.url));
    env_endpoints
        .env("AWS_ENDPOINT_URL_IOT", &listener.url)
        .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &listener.url)
        .env("AWS_REGION", "us-east-1");
    let conns = replay(&mut env_endpoints, &capture, &[]);
    assert!(
        conns[0].get("account").is_none(),
        "no account object without a source: {}",
        conns[0]["account"]
    );
    let out = iotscope_aws(Some(&listener.url))
        .env("AWS_REGION", "us-east-1")
        .args(["cert", "check"])
        .arg(&pem)
        .output()
        .expect("run iotscope");
    assert!(out.status.code().is_some(), "cert check ran");
    let probe = iotscope_aws(Some(&listener.url))
        .env("AWS_REGION", "us-east-1")
        .args([
            "probe",
            "--endpoint",
            "127.0.0.1",
            "--timeout",
            "5",
            "--port",
        ])
        .arg(iotscope_tests::proxy::dead_port().to_string())
        .output()
        .expect("run iotscope");
    assert!(probe.status.code().is_some(), "probe ran");
    assert_eq!(
        listener.connections.load(Ordering::SeqCst),
        0,
        "a call was made without --aws: {:?}",
        listener.requests.lock().unwrap()
    );

    let conns = replay(
        &mut iotscope_aws(Some(&listener.url)),
        &capture,
        &["--aws", "--aws-region", "us-east-1"],
    );
    assert_eq!(conns[0]["account"]["certificate"]["lookup"], "failed");
    assert!(
        listener.connections.load(Ordering::SeqCst) > 0,
        "with --aws the listener is called"
    );
}

/// `iotscope logs --aws` reads the account's AWSIotLogsV2 group (logs:FilterLogEvents) and
/// explains the AUTHORIZATION_FAILURE entry; exit status 1 for an error entry.
#[test]
fn logs_aws_explains_an_authorization_failure() {
    let Some(lab) = moto::lab() else { return };
    let at = fresh_log(lab);
    let out = iotscope_aws(Some(&lab.url))
        .args([
            "logs",
            "--aws",
            "--aws-region",
            FRESH_LOG_REGION,
            "--format",
            "json",
        ])
        .args([
            "--client-id",
            FRESH_CLIENT,
            "--since",
            &(at - 60_000).to_string(),
        ])
        .output()
        .expect("run iotscope");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(text.contains("AUTHZ.PUBLISH_DENIED"), "{text}");
    assert!(text.contains("devices/other/telemetry"), "{text}");
}

/// An endpoint that accepts connections and never answers (a dead network's worst case) does
/// not hang a replay: the SDK's time-outs end the first call, later calls are not attempted, and
/// the report names the time-out. No duration is asserted; the guard only stops a hang.
#[test]
fn a_silent_endpoint_does_not_hang_a_replay() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let (capture, keys) = refused_tls13();
    let mut child = iotscope_aws(Some(&url))
        .args([
            "replay", "--format", "json", "--quiet", &capture, "--keylog", &keys,
        ])
        .args(["--aws", "--aws-region", "us-east-1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run iotscope");
    let guard = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > guard {
            let _ = child.kill();
            panic!("the replay hung on a silent endpoint");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    let conns = connections(&out);
    let c = &conns[0];
    assert_eq!(c["account"]["certificate"]["lookup"], "failed");
    let error = c["account"]["certificate"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.starts_with("timed out"), "{error}");
    let endpoints = c["account"]["endpoints"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(endpoints.starts_with("not attempted"), "{endpoints}");
    assert!(codes_of(c, "error").contains(&"AUTH.CLIENT_CERT_EXPIRED".to_string()));
}

/// `proxy --aws`: the proxy asks the account about each connection from inside its own tokio
/// runtime. A device certificate made for this test is registered INACTIVE in moto (a region of
/// its own); mosquitto (which knows nothing of the account) accepts it, and the proxy's report
/// says what AWS IoT Core would: the certificate is INACTIVE. TLS 1.2, so the passthrough proxy
/// sees the device's certificate.
#[test]
fn proxy_asks_the_account() {
    use iotscope_tests::mosquitto::{broker, mosquitto_bin, run_device};
    use iotscope_tests::pki::{ca, Dir, Leaf};
    use iotscope_tests::proxy::ProxyProcess;

    let Some(lab) = moto::lab() else { return };
    let Some(bin) = mosquitto_bin() else { return };
    if !iotscope_tests::have_tool("openssl") {
        return;
    }
    const REGION: &str = "eu-north-1";
    let files = Dir::new("account-aws-proxy");
    let ours = ca("account-aws proxy CA");
    let server = Leaf::new(&ours, "localhost", &["localhost"], false);
    let dev = Leaf::new(&ours, "sensor-7", &[], true);
    let ca_pem = files.put("ca.pem", &ours.pem());
    let scert = files.put("server.pem", &server.cert_pem);
    let skey = files.put("server.key", &server.key_pem);
    let dcert = files.put("device.pem", &dev.cert_pem);
    let dkey = files.put("device.key", &dev.key_pem);
    let registered = lab.aws(
        REGION,
        &[
            "iot",
            "register-certificate-without-ca",
            "--certificate-pem",
            &format!("file://{dcert}"),
            "--status",
            "INACTIVE",
        ],
    );
    let id = registered["certificateId"].as_str().unwrap().to_string();

    let (_broker, port) = broker(&bin, &files, &ca_pem, &scert, &skey, "");
    let up = format!("127.0.0.1:{port}");
    let mut cmd = iotscope_aws(Some(&lab.url));
    cmd.args(["proxy", "--listen", "127.0.0.1:0", "--format", "json"])
        .args(["--upstream", &up, "--endpoint", "localhost"])
        .args(["--aws", "--aws-region", REGION]);
    let proxy = ProxyProcess::spawn(cmd);
    // openssl as the device, limited to TLS 1.2: an MQTT 3.1.1 CONNECT (client id sensor-7),
    // then DISCONNECT.
    let mut device = std::process::Command::new("openssl");
    device
        .args(["s_client", "-brief", "-tls1_2", "-servername", "localhost"])
        .args(["-connect", &format!("127.0.0.1:{}", proxy.port)])
        .args(["-CAfile", &ca_pem, "-cert", &dcert, "-key", &dkey]);
    run_device(
        device,
        b"\x10\x14\x00\x04MQTT\x04\x02\x00\x3c\x00\x08sensor-7\xe0\x00",
    );
    let conn = proxy.next_connection();
    assert_eq!(conn["tls"]["version"], "TLS 1.2");
    assert_eq!(conn["account"]["certificate_id"], id.as_str());
    assert_eq!(conn["account"]["certificate"]["status"], "INACTIVE");
    assert!(
        codes(&conn).contains(&"AUTH.CERT_INACTIVE".to_string()),
        "{:?}",
        conn["findings"]
    );
}

/// The IAM policy in the user guide allows exactly the calls the source can make.
#[test]
fn user_guide_policy_allows_exactly_the_calls() {
    let guide = std::fs::read_to_string(iotscope_tests::root().join("docs/user-guide.md"))
        .expect("docs/user-guide.md");
    let start = guide
        .find("An IAM policy that allows exactly these calls")
        .expect("the IAM policy paragraph");
    let block = &guide[start..];
    let json_start = block.find("```json").expect("a json block") + "```json".len();
    let json_end = json_start + block[json_start..].find("```").expect("its end");
    let policy: Value = serde_json::from_str(&block[json_start..json_end]).expect("valid JSON");
    let mut allowed: Vec<String> = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow");
        match &statement["Action"] {
            Value::String(a) => allowed.push(a.clone()),
            Value::Array(a) => allowed.extend(a.iter().map(|v| v.as_str().unwrap().to_string())),
            other => panic!("Action {other}"),
        }
    }
    allowed.sort();
    let mut calls: Vec<String> = iotscope_account_aws::READ_ONLY_CALLS
        .iter()
        .map(|c| c.to_string())
        .collect();
    calls.sort();
    assert_eq!(allowed, calls);
}

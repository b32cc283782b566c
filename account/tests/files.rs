//! The `--account` files source against the AWS CLI files made with moto
//! (captures/account/make.sh): each shape recognised, NotFound kept apart from Unknown, and
//! unrecognised files refused with their name.

use std::path::PathBuf;

use iotscope_account::{AccountSource, CertStatus, Files, LogQuery, Lookup};

const GOOD: &str = "d188057ddb67cdc13d4dba0ab3d179909b93de326c642998b7c3213faeffd7be";
const EXPIRED: &str = "1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3";

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../captures/account")
        .join(name)
}

#[test]
fn the_three_states_of_the_refused_certificate() {
    let mut not_registered = Files::open(&[dir("not-registered")]).unwrap();
    assert_eq!(not_registered.certificate(EXPIRED), Lookup::NotFound);
    let good = not_registered.certificate(GOOD);
    assert_eq!(good.found().unwrap().status, CertStatus::Active);

    let mut inactive = Files::open(&[dir("inactive")]).unwrap();
    let r = inactive.certificate(EXPIRED);
    let r = r.found().expect("registered");
    assert_eq!(r.status, CertStatus::Inactive);
    assert_eq!(
        r.certificate_arn.as_deref(),
        Some(format!("arn:aws:iot:us-east-1:123456789012:cert/{EXPIRED}").as_str())
    );
    let mut revoked = Files::open(&[dir("revoked")]).unwrap();
    assert_eq!(
        revoked.certificate(EXPIRED).found().unwrap().status,
        CertStatus::Revoked
    );
    // No certificate file: nobody was asked.
    let mut logs_only = Files::open(&[dir("logs")]).unwrap();
    assert_eq!(logs_only.certificate(EXPIRED), Lookup::Unknown);
    assert_eq!(logs_only.endpoints(), Lookup::Unknown);
}

#[test]
fn policies_things_and_endpoints_of_good() {
    let mut files = Files::open(&[dir("good")]).unwrap();
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cert/{GOOD}");
    let policies = files.attached_policies(&arn);
    let policies = policies.found().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].name, "lab-device-policy");
    assert_eq!(policies[0].version.as_deref(), Some("1"));
    assert!(policies[0].document.contains("NoPublishingForOtherDevices"));
    let things = files.things_of(&arn);
    let things = things.found().unwrap();
    assert_eq!(things[0].name, "good");
    assert_eq!(things[0].attributes["site"], "lab");
    let endpoints = files.endpoints();
    let endpoints = endpoints.found().unwrap();
    assert!(endpoints
        .ats
        .as_deref()
        .unwrap()
        .ends_with("-ats.iot.us-east-1.amazonaws.com"));
    assert_eq!(endpoints.domains.len(), 1);
    assert_eq!(endpoints.domains[0].name, "lab-endpoint");
    assert_eq!(
        endpoints.domains[0].domain_name.as_deref(),
        Some("abc123example-ats.iot.us-east-1.amazonaws.com")
    );
    assert_eq!(endpoints.domains[0].status.as_deref(), Some("ENABLED"));
}

#[test]
fn list_principal_things_v2_names_the_same_thing() {
    // good's certificate and thing, with the thing list as list-principal-things-v2 prints it.
    let good = dir("good");
    let mut files = Files::open(&[
        good.join("describe-certificate.json"),
        good.join("describe-thing.json"),
        dir("things-v2").join("list-principal-things-v2.json"),
    ])
    .unwrap();
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cert/{GOOD}");
    let things = files.things_of(&arn);
    let things = things.found().unwrap();
    assert_eq!(things.len(), 1);
    assert_eq!(things[0].name, "good");
    assert_eq!(things[0].attributes["site"], "lab");
}

#[test]
fn both_log_forms_read_the_same_entries() {
    let export = Files::open(&[dir("logs/filter-log-events.json")]).unwrap();
    let lines = Files::open(&[dir("logs/AWSIotLogsV2.jsonl")]).unwrap();
    let a = export.log().unwrap();
    let b = lines.log().unwrap();
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
    // Both forms together (the logs folder): each entry once.
    let both = Files::open(&[dir("logs")]).unwrap();
    assert_eq!(both.log().unwrap(), a);
    let denied = &a[1];
    assert_eq!(denied.event_type.as_deref(), Some("Publish-In"));
    assert_eq!(denied.reason.as_deref(), Some("AUTHORIZATION_FAILURE"));
    assert_eq!(denied.client_id.as_deref(), Some("good-pub-other-v5"));
    assert_eq!(denied.principal_id.as_deref(), Some(GOOD));
    assert_eq!(denied.timestamp_ms, Some(1_795_683_962_612));
    // The query of that connection (its span ± 10 s) finds its three entries only.
    let mut files = export;
    let q = LogQuery {
        client_id: Some("good-pub-other-v5".into()),
        principal_id: Some(GOOD.into()),
        since_ms: Some(1_795_683_962_562 - 10_000),
        until_ms: Some(1_795_683_962_614 + 10_000),
    };
    let found = files.log_entries(&q);
    assert_eq!(found.found().unwrap().len(), 3);
}

#[test]
fn unrecognised_files_are_refused_by_name_and_line() {
    let tmp = std::env::temp_dir().join(format!("iotscope-account-files-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let odd = tmp.join("odd.json");
    std::fs::write(&odd, r#"{"Certificates": []}"#).unwrap();
    let e = Files::open(&[&odd]).unwrap_err();
    assert_eq!(e.path, odd);
    assert!(
        e.to_string()
            .contains("odd.json: not a file iotscope knows"),
        "{e}"
    );
    let lines = tmp.join("log.jsonl");
    let first = std::fs::read_to_string(dir("logs/AWSIotLogsV2.jsonl")).unwrap();
    let first = first.lines().next().unwrap();
    std::fs::write(&lines, format!("{first}\n{{\"hello\": 1}}\n")).unwrap();
    let e = Files::open(&[&lines]).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(
        e.to_string()
            .contains("log.jsonl line 2: not an AWSIotLogsV2 entry"),
        "{e}"
    );
    let text = tmp.join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    assert!(Files::open(&[&text])
        .unwrap_err()
        .to_string()
        .contains("notes.txt: not JSON"));
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn an_unnamed_policy_list_needs_a_single_certificate() {
    // good's list-attached-policies with two certificates described: which one is it about?
    let e = Files::open(&[dir("good"), dir("not-registered"), dir("inactive")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("list-attached-policies does not say which certificate"),
        "{e}"
    );
    // Named by the file, it is fine.
    let tmp = std::env::temp_dir().join(format!("iotscope-account-named-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(
        dir("good/list-attached-policies.json"),
        tmp.join(format!("list-attached-policies.{GOOD}.json")),
    )
    .unwrap();
    std::fs::copy(dir("good/get-policy.json"), tmp.join("get-policy.json")).unwrap();
    let mut files = Files::open(&[tmp.clone(), dir("inactive"), dir("not-registered")]).unwrap();
    assert_eq!(
        files
            .attached_policies(&format!("cert/{GOOD}"))
            .found()
            .unwrap()[0]
            .name,
        "lab-device-policy"
    );
    assert_eq!(
        files.attached_policies(&format!("cert/{EXPIRED}")),
        Lookup::Found(vec![])
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn ca_certificates_are_told_from_device_certificates() {
    // The shapes AWS documents for describe-ca-certificate and list-ca-certificates (moto's
    // IoT has no CA in this lab account: its devices never sent their CA).
    let tmp = std::env::temp_dir().join(format!("iotscope-account-ca-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let ca = "ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00";
    let other = "cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11cb11";
    std::fs::write(
        tmp.join("list-ca-certificates.json"),
        format!(r#"{{"certificates": [{{"certificateArn": "arn:aws:iot:us-east-1:123456789012:cacert/{ca}", "certificateId": "{ca}", "status": "INACTIVE", "creationDate": 1796605209.55}}]}}"#),
    )
    .unwrap();
    let mut files = Files::open(&[&tmp]).unwrap();
    assert_eq!(
        files.ca_certificate(ca).found().unwrap().status,
        CertStatus::Inactive
    );
    assert_eq!(files.ca_certificate(other), Lookup::NotFound);
    // Not mistaken for device certificates.
    assert_eq!(files.certificate(ca), Lookup::Unknown);
    std::fs::write(
        tmp.join("list-ca-certificates.json"),
        format!(r#"{{"certificateDescription": {{"certificateArn": "arn:aws:iot:us-east-1:123456789012:cacert/{ca}", "certificateId": "{ca}", "status": "ACTIVE", "autoRegistrationStatus": "DISABLE"}}}}"#),
    )
    .unwrap();
    let mut files = Files::open(&[&tmp]).unwrap();
    assert_eq!(
        files.ca_certificate(ca).found().unwrap().status,
        CertStatus::Active
    );
    assert_eq!(files.certificate(ca), Lookup::Unknown);
    std::fs::remove_dir_all(&tmp).unwrap();
}

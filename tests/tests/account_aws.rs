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
    assert_eq!(
        aws.attached_policies(unknownca.certificate_arn.as_deref().unwrap()),
        Lookup::Found(vec![])
    );
}

/// The log group's entries come back as AWSIotLogsV2 entries.
#[test]
fn log_entries_read() {
    let Some(_lab) = lab_in_process() else { return };
    let mut aws = source("us-east-1");
    let Lookup::Found(entries) = aws.log_entries(&LogQuery::default()) else {
        panic!("log entries")
    };
    // moto-setup.sh warns when moto refuses entries older than 14 days: only check what was
    // kept is read whole.
    for e in &entries {
        assert!(e.event_type.is_some(), "{e:?}");
        assert!(e.timestamp_ms.is_some(), "{e:?}");
    }
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

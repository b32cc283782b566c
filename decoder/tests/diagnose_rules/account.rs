//! What the account says (`--account`, `--aws`), beside the wire: a likely refusal made
//! certain, the CA, policies and things, the endpoint, failed questions, and a connection that
//! worked never getting an error from the account.

use super::builder::*;
use iotscope_decoder::account::{
    AccountFacts, CaRecord, CallFailure, CertStatus, CertificateRecord, DomainRecord, Endpoints,
    Lookup, PolicyRecord,
};
use iotscope_decoder::diagnose::{self, Certainty, Finding, Severity};
use iotscope_decoder::facts::Facts;

const ID: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";
const CA_ID: &str = "ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00ca00";

fn record(status: CertStatus, ca: Option<&str>) -> CertificateRecord {
    CertificateRecord {
        certificate_id: ID.into(),
        certificate_arn: Some(format!("arn:aws:iot:eu-west-1:123456789012:cert/{ID}")),
        status,
        ca_certificate_id: ca.map(str::to_string),
        certificate_mode: None,
        creation_date: None,
    }
}

fn facts(certificate: Lookup<CertificateRecord>) -> AccountFacts {
    AccountFacts {
        certificate_id: Some(ID.into()),
        certificate,
        ..AccountFacts::default()
    }
}

fn with_account(t: &T, a: &AccountFacts) -> Vec<Finding> {
    let found = diagnose::findings_with(&Facts::new(t.trace()), &expecting(ATS), Some(a));
    for f in &found {
        check(f);
    }
    found
}

/// TLS 1.3 without keys: the handshake finished, then an alert-sized record and a close.
fn tls13_refused() -> T {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(95.0, app(19))
        .end(95.5, fin());
    t
}

/// TLS 1.2 with a device certificate, CONNECT, and then `answer`.
fn tls12_connect(connack: Option<u8>) -> T {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert("sensor-9")),
    );
    t.dev_dec(60.0, connect(4, "sensor-9", 60));
    match connack {
        Some(code) => t.end_dec(70.0, connack_at(4, code)),
        None => t.end(70.0, fin()),
    };
    t
}

#[test]
fn a_likely_tls13_refusal_becomes_certain_when_the_account_names_the_cause() {
    let t = tls13_refused();
    let before = one(
        &t.diagnose_with(&expecting(ATS)),
        "AUTH.CLIENT_CERT_REJECTED",
    )
    .clone();
    assert_eq!(before.certainty, Certainty::Likely);
    for (lookup, code) in [
        (Lookup::NotFound, "AUTH.CERT_NOT_REGISTERED"),
        (
            Lookup::Found(record(CertStatus::Inactive, None)),
            "AUTH.CERT_INACTIVE",
        ),
        (
            Lookup::Found(record(CertStatus::RegisterInactive, None)),
            "AUTH.CERT_INACTIVE",
        ),
        (
            Lookup::Found(record(CertStatus::Revoked, None)),
            "AUTH.CERT_REVOKED",
        ),
        (
            Lookup::Found(record(CertStatus::PendingTransfer, None)),
            "AUTH.CERT_PENDING_TRANSFER",
        ),
    ] {
        let found = with_account(&t, &facts(lookup));
        let f = one(&found, code);
        assert_eq!(
            (f.severity, f.certainty),
            (Severity::Error, Certainty::Certain),
            "{code}"
        );
        assert!(f.summary.contains(ID));
        let wire = one(&found, "AUTH.CLIENT_CERT_REJECTED");
        assert_eq!(wire.severity, Severity::Info, "{code}");
        assert_eq!(wire.certainty, Certainty::Certain);
        assert!(wire.candidates.is_empty());
        assert!(
            wire.summary
                .ends_with(&format!("The account gives the cause: {code}.")),
            "{}",
            wire.summary
        );
        assert_eq!(
            found
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count(),
            1,
            "{code}: {:?}",
            codes(&found)
        );
    }
    let found = with_account(
        &t,
        &facts(Lookup::Found(record(CertStatus::Inactive, None))),
    );
    step(
        one(&found, "AUTH.CERT_INACTIVE"),
        &format!("aws iot update-certificate --certificate-id {ID} --new-status ACTIVE --region eu-west-1"),
    );
}

#[test]
fn a_presumed_certificate_gives_a_likely_cause() {
    let t = tls13_refused();
    let mut a = facts(Lookup::Found(record(CertStatus::Revoked, None)));
    a.certificate_presumed = true;
    let found = with_account(&t, &a);
    let f = one(&found, "AUTH.CERT_REVOKED");
    assert_eq!(
        (f.severity, f.certainty),
        (Severity::Error, Certainty::Likely)
    );
    assert!(f
        .summary
        .starts_with("The wire hides the device's certificate"));
    let wire = one(&found, "AUTH.CLIENT_CERT_REJECTED");
    assert_eq!(
        (wire.severity, wire.certainty),
        (Severity::Info, Certainty::Likely)
    );
    assert!(!wire.candidates.is_empty());
    assert!(wire
        .summary
        .ends_with("The account gives the likely cause: AUTH.CERT_REVOKED."));
}

#[test]
fn an_active_certificate_rules_the_certificate_causes_out() {
    let t = tls13_refused();
    let found = with_account(&t, &facts(Lookup::Found(record(CertStatus::Active, None))));
    assert_eq!(one(&found, "AUTH.CERT_ACTIVE").severity, Severity::Info);
    let wire = one(&found, "AUTH.CLIENT_CERT_REJECTED");
    assert_eq!(wire.severity, Severity::Error);
    assert!(wire
        .summary
        .contains("rules out an unregistered, inactive or revoked certificate"));
    assert!(
        !wire.candidates.iter().any(|c| c.contains("not registered")),
        "{:?}",
        wire.candidates
    );
    assert!(wire
        .candidates
        .iter()
        .any(|c| c.contains("AUTHZ.CONNECT_DENIED")));
}

#[test]
fn the_ca_of_a_ca_signed_certificate() {
    let t = tls12_connect(None);
    let mut a = facts(Lookup::Found(record(CertStatus::Active, Some(CA_ID))));
    a.ca = Lookup::NotFound;
    let f = one(&with_account(&t, &a), "AUTH.CA_NOT_REGISTERED").clone();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains(CA_ID));
    a.ca = Lookup::Found(CaRecord {
        certificate_id: CA_ID.into(),
        status: CertStatus::Inactive,
        arn: None,
    });
    assert_eq!(
        one(&with_account(&t, &a), "AUTH.CA_INACTIVE").severity,
        Severity::Error
    );
    a.ca = Lookup::Found(CaRecord {
        certificate_id: CA_ID.into(),
        status: CertStatus::Active,
        arn: None,
    });
    let found = with_account(&t, &a);
    none(&found, "AUTH.CA_INACTIVE");
    none(&found, "AUTH.CA_NOT_REGISTERED");
}

#[test]
fn no_policy_attached_is_an_error_unless_the_connection_worked() {
    let mut a = facts(Lookup::Found(record(CertStatus::Active, None)));
    a.policies = Lookup::Found(vec![]);
    let refused = with_account(&tls12_connect(None), &a);
    let f = one(&refused, "AUTHZ.NO_POLICY_ATTACHED");
    assert_eq!(f.severity, Severity::Error);
    step(
        f,
        &format!("--target arn:aws:iot:eu-west-1:123456789012:cert/{ID}"),
    );
    let worked = with_account(&tls12_connect(Some(0)), &a);
    let f = one(&worked, "AUTHZ.NO_POLICY_ATTACHED");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f
        .summary
        .contains("Yet the endpoint accepted this connection (CONNACK 0"));
    no_error(&worked);
}

#[test]
fn the_attached_policy_decides_and_a_missing_thing_is_said() {
    let mut a = facts(Lookup::Found(record(CertStatus::Active, None)));
    a.policies = Lookup::Found(vec![PolicyRecord {
        name: "thing-policy".into(),
        arn: None,
        version: Some("3".into()),
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"OwnName","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"}]}"#.into(),
    }]);
    a.things = Lookup::Found(vec![]);
    let found = with_account(&tls12_connect(None), &a);
    assert_eq!(
        one(&found, "AUTHZ.NO_THING_ATTACHED").severity,
        Severity::Info
    );
    // The policy was evaluated: the CONNECT is denied by default, and the finding says which
    // policy (name and version) was read.
    let text = format!("{found:?}");
    assert!(text.contains("thing-policy (version 3)"), "{text}");
}

#[test]
fn the_endpoint_is_the_accounts_or_not() {
    let t = tls12_connect(None);
    let mut a = facts(Lookup::Unknown);
    a.endpoints = Lookup::Found(Endpoints {
        ats: Some("zzz-ats.iot.eu-west-1.amazonaws.com".into()),
        domains: vec![DomainRecord {
            name: "mine".into(),
            domain_name: Some(ATS.into()),
            status: Some("ENABLED".into()),
            service_type: Some("DATA".into()),
        }],
    });
    none(&with_account(&t, &a), "CONN.SNI_OTHER_ACCOUNT");
    a.endpoints = Lookup::Found(Endpoints {
        ats: Some("zzz-ats.iot.eu-west-1.amazonaws.com".into()),
        domains: vec![],
    });
    let found = with_account(&t, &a);
    let f = one(&found, "CONN.SNI_OTHER_ACCOUNT");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains(ATS) && f.summary.contains("zzz-ats.iot.eu-west-1.amazonaws.com"));
    // A domain configuration whose name the files do not give: no conclusion.
    a.endpoints = Lookup::Found(Endpoints {
        ats: Some("zzz-ats.iot.eu-west-1.amazonaws.com".into()),
        domains: vec![DomainRecord {
            name: "unnamed".into(),
            domain_name: None,
            status: None,
            service_type: None,
        }],
    });
    none(&with_account(&t, &a), "CONN.SNI_OTHER_ACCOUNT");
}

#[test]
fn a_failed_question_is_information_and_the_wire_decides() {
    let t = tls13_refused();
    let wire = codes(&t.diagnose_with(&expecting(ATS)));
    let a = facts(Lookup::Failed(CallFailure {
        call: "iot:DescribeCertificate",
        error: "AccessDeniedException: not authorized".into(),
    }));
    let found = with_account(&t, &a);
    let f = one(&found, "ACCOUNT.LOOKUP_FAILED");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        f.summary,
        "iot:DescribeCertificate failed: AccessDeniedException: not authorized. The diagnosis of this fact rests on the wire alone."
    );
    let mut rest = codes(&found);
    rest.retain(|c| *c != "ACCOUNT.LOOKUP_FAILED");
    assert_eq!(rest, wire);
    assert_eq!(
        one(&found, "AUTH.CLIENT_CERT_REJECTED").certainty,
        Certainty::Likely
    );
}

#[test]
fn failed_questions_are_one_finding_per_connection() {
    let t = tls13_refused();
    let down = |call: &'static str| CallFailure {
        call,
        error: "no network: connection refused".into(),
    };
    let mut a = facts(Lookup::Failed(down("iot:DescribeCertificate")));
    a.endpoints = Lookup::Failed(down("iot:DescribeEndpoint"));
    a.log = Lookup::Failed(down("logs:FilterLogEvents"));
    let found = with_account(&t, &a);
    let f = one(&found, "ACCOUNT.LOOKUP_FAILED");
    for call in [
        "iot:DescribeCertificate",
        "iot:DescribeEndpoint",
        "logs:FilterLogEvents",
    ] {
        assert!(
            f.summary.contains(&format!("{call} failed")),
            "{}",
            f.summary
        );
        assert!(evidence_has(f, &format!("account: {call} failed")));
    }
    assert!(
        f.summary
            .ends_with("The diagnosis of these 3 facts rests on the wire alone."),
        "{}",
        f.summary
    );
}

#[test]
fn the_things_attributes_reach_the_policy_variables() {
    use iotscope_decoder::account::ThingRecord;
    let mut t = tls12_connect(Some(0));
    t.dev_dec(80.0, publish("sites/lab/telemetry", 5, 1, 12))
        .end_dec(90.0, puback(5, 0));
    let mut a = facts(Lookup::Found(record(CertStatus::Active, None)));
    a.policies = Lookup::Found(vec![PolicyRecord {
        name: "site-policy".into(),
        arn: None,
        version: Some("1".into()),
        document: r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
  {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/sites/${iot:Connection.Thing.Attributes[site]}/*"}]}"#
            .into(),
    }]);
    a.things = Lookup::Found(vec![ThingRecord {
        name: "sensor-9".into(),
        type_name: None,
        attributes: [("site".to_string(), "lab".to_string())].into(),
    }]);
    // The endpoint allowed the CONNECT and the PUBLISH, and so does the policy once the thing's
    // name and attributes fill its variables.
    let found = with_account(&t, &a);
    none(&found, "AUTHZ.POLICY_NOT_IN_FORCE");
    no_error(&found);
    // Another site: the policy denies what the endpoint allowed, so it is not the one in force.
    if let Lookup::Found(things) = &mut a.things {
        things[0].attributes.insert("site".into(), "plant".into());
    }
    let found = with_account(&t, &a);
    assert_eq!(
        one(&found, "AUTHZ.POLICY_NOT_IN_FORCE").severity,
        Severity::Warning
    );
}

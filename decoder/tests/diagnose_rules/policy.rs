//! `--policy`: each request of a connection evaluated with the policies given, beside the
//! endpoint's answer. The AUTHZ findings cite the deciding statement; a policy that disagrees
//! with the endpoint is not the one in force; unanswered requests get what the policy would
//! decide; without `--policy` nothing changes.

use super::builder::*;
use iotscope_decoder::diagnose::{self, Certainty, Context, Diagnoser, Severity};
use iotscope_decoder::facts::Facts;
use iotscope_decoder::policy::{parse_policies, Given};

const ACCOUNT: &str = "123456789012";

/// Publish and subscribe under the device's own name; `extra` statements after those two.
fn policy(extra: &str) -> Given {
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${{iot:ClientId}}"}},
  {{"Sid":"Own","Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/devices/${{iot:ClientId}}/*"}},
  {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/devices/${{iot:ClientId}}/*"}}{extra}
]}}"#
    );
    Given {
        policies: parse_policies("device-policy.json", &text).expect("a policy"),
        thing: None,
        region: None,
        account: Some(ACCOUNT.into()),
        from_account: false,
        thing_type: None,
        thing_attributes: Vec::new(),
    }
}

fn with(given: Given) -> Context {
    Context {
        policy: Some(given),
        ..expecting(ATS)
    }
}

fn tls12_with(subject: &str) -> T {
    let mut t = T::new(8883);
    t.tls12(
        client_hello(Some(ATS), &[], &[TLS12], &[ECDHE_RSA_AES128_GCM]),
        Some(device_cert(subject)),
    );
    t
}

/// MQTT 5: one publish allowed, one refused with PUBACK 0x87.
fn refused_publish() -> T {
    let mut t = tls12_with("sensor-5");
    t.dev_dec(60.0, connect(5, "sensor-5", 60))
        .end_dec(70.0, connack_at(5, 0))
        .dev_dec(80.0, publish("devices/sensor-5/telemetry", 6, 1, 12))
        .end_dec(90.0, puback(6, 0))
        .dev_dec(100.0, publish("devices/other/telemetry", 7, 1, 12))
        .end_dec(110.0, puback(7, 0x87));
    t
}

#[test]
fn an_explicit_deny_is_cited_in_the_publish_finding() {
    let deny = r#",
  {"Sid":"NotOthers","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/other/*"}"#;
    let found = refused_publish().diagnose_with(&with(policy(deny)));
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        evidence_has(
            f,
            "--policy: policy \"device-policy.json\" statement 3 (Sid \"NotOthers\") denies iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry explicitly"
        ),
        "{:#?}",
        f.evidence
    );
    assert_eq!(
        f.next_steps[0],
        "Narrow or remove policy \"device-policy.json\" statement 3 (Sid \"NotOthers\"): an explicit Deny overrides every Allow."
    );
    // The rest of the catalogue's steps stay, with the account given filled in.
    step(
        f,
        "Allow iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry",
    );
    // The policy agrees with the endpoint everywhere else: nothing more is said.
    assert_eq!(codes(&found), vec!["AUTHZ.PUBLISH_DENIED"]);
}

#[test]
fn an_implicit_deny_suggests_the_statement_to_add() {
    let found = refused_publish().diagnose_with(&with(policy("")));
    let f = one(&found, "AUTHZ.PUBLISH_DENIED");
    assert!(
        evidence_has(
            f,
            "--policy: no statement of the policies given allows iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry (denied by default)"
        ),
        "{:#?}",
        f.evidence
    );
    assert_eq!(
        f.next_steps[0],
        r#"Add this statement to policy "device-policy.json" (allows iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry and nothing else): {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry"}"#
    );
}

#[test]
fn a_policy_that_allows_what_the_endpoint_refused_is_not_in_force() {
    let allow = r#",
  {"Sid":"Everything","Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/devices/*"}"#;
    let mut given = policy(allow);
    given.thing = Some("sensor-5".into());
    let found = refused_publish().diagnose_with(&with(given));
    // The refusal stays, with the allowing statement beside it.
    one(&found, "AUTHZ.PUBLISH_DENIED");
    let f = one(&found, "AUTHZ.POLICY_NOT_IN_FORCE");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(
        f.summary,
        "The endpoint refused iot:Publish on topic devices/other/telemetry, but the policies given allow it: the policy in force is not the one given."
    );
    assert!(evidence_has(
        f,
        "--policy: policy \"device-policy.json\" statement 3 (Sid \"Everything\") allows iot:Publish on arn:aws:iot:eu-west-1:123456789012:topic/devices/other/telemetry"
    ));
    assert!(evidence_has(f, "PUBLISH topic devices/other/telemetry"));
    let id = cert_id("sensor-5");
    assert_eq!(
        step(f, "list-attached-policies"),
        format!("aws iot list-attached-policies --target arn:aws:iot:eu-west-1:123456789012:cert/{id}   # the policies in force on the certificate")
    );
    step(
        f,
        &format!("aws iot get-effective-policies --principal arn:aws:iot:eu-west-1:123456789012:cert/{id} --thing-name sensor-5"),
    );
}

#[test]
fn a_policy_that_denies_what_the_endpoint_allowed_is_not_in_force() {
    // SUBACK grants the filter; the policy given allows subscribing under the device's own
    // name only.
    let mut t = tls12_with("sensor-5");
    t.dev_dec(60.0, connect(4, "sensor-5", 60))
        .end_dec(70.0, connack(0))
        .dev_dec(
            80.0,
            subscribe(1, &[("fleet/#", 1), ("devices/sensor-5/cmd", 1)]),
        )
        .end_dec(90.0, suback(1, &[1, 1]))
        .end_dec(95.0, publish("fleet/broadcast", 3, 1, 8))
        .dev_dec(96.0, puback(3, 0));
    let found = t.diagnose_with(&with(policy("")));
    let fs: Vec<_> = found
        .iter()
        .filter(|f| f.code == "AUTHZ.POLICY_NOT_IN_FORCE")
        .collect();
    assert_eq!(fs.len(), 2, "{:#?}", codes(&found));
    assert_eq!(
        fs[0].summary,
        "The endpoint allowed iot:Subscribe on topic filter fleet/#, but the policies given deny it: the policy in force is not the one given."
    );
    assert!(evidence_has(fs[0], "--policy: no statement of the policies given allows iot:Subscribe on arn:aws:iot:eu-west-1:123456789012:topicfilter/fleet/#"));
    // A delivered message shows the endpoint allowed iot:Receive.
    assert_eq!(
        fs[1].summary,
        "The endpoint allowed iot:Receive on topic fleet/broadcast, but the policies given deny it: the policy in force is not the one given."
    );
    assert!(evidence_has(fs[1], "the endpoint delivered the message"));
    assert!(fs[1]
        .candidates
        .iter()
        .any(|c| c.starts_with("another policy attached to the certificate allows it")));
    no_error(&found);
}

#[test]
fn an_unanswered_request_the_policy_denies_is_said() {
    // QoS 0: nothing on the wire answers a PUBLISH.
    let mut t = tls12_with("sensor-5");
    t.dev_dec(60.0, connect(4, "sensor-5", 60))
        .end_dec(70.0, connack(0))
        .dev_dec(80.0, publish("devices/sensor-5/status", 0, 0, 4))
        .dev_dec(90.0, publish("alarms/all", 0, 0, 4));
    let found = t.diagnose_with(&with(policy("")));
    let f = one(&found, "AUTHZ.POLICY_WOULD_DECIDE");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.summary,
        "The endpoint's answer to 2 request(s) is not on the wire; the policies given would deny 1: iot:Publish on topic alarms/all."
    );
    assert!(evidence_has(
        f,
        "PUBLISH topic devices/sensor-5/status, no answer seen"
    ));
    assert!(evidence_has(
        f,
        "statement 1 (Sid \"Own\") allows iot:Publish"
    ));
    assert!(f.next_steps[0].starts_with("Add this statement to policy \"device-policy.json\""));
    assert!(f.next_steps[0]
        .contains(r#""Resource":"arn:aws:iot:eu-west-1:123456789012:topic/alarms/all""#));
    // All allowed: nothing to say.
    let mut t = tls12_with("sensor-5");
    t.dev_dec(60.0, connect(4, "sensor-5", 60))
        .end_dec(70.0, connack(0))
        .dev_dec(80.0, publish("devices/sensor-5/status", 0, 0, 4));
    assert!(t.diagnose_with(&with(policy(""))).is_empty());
}

fn unreadable(n: u64) -> T {
    let mut t = T::new(8883);
    t.number(n);
    t.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(60.0, app(21))
        .dev(70.0, app(120))
        .end(80.0, app(21));
    t
}

#[test]
fn unreadable_mqtt_is_said_once_per_run() {
    let mut given = policy("");
    given.thing = Some("sensor-5".into());
    let mut d = Diagnoser::new(with(given));
    let first = d.connection(&Facts::new(unreadable(1).trace()));
    let f = one(&first, "AUTHZ.POLICY_NOT_CHECKED");
    check(f);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        f.summary,
        "The policies given were not checked: the MQTT inside TLS could not be read, so the client id and topics are not known."
    );
    assert!(evidence_has(f, &format!("ClientHello SNI {ATS}")));
    assert!(evidence_has(f, "--policy: if the client id is the thing name \"sensor-5\": policy \"device-policy.json\" statement 0 (Sid \"Connect\") allows iot:Connect on arn:aws:iot:eu-west-1:123456789012:client/sensor-5"));
    let second = d.connection(&Facts::new(unreadable(2).trace()));
    none(&second, "AUTHZ.POLICY_NOT_CHECKED");
}

#[test]
fn without_policy_nothing_changes() {
    let plain = refused_publish().diagnose_with(&expecting(ATS));
    for code in [
        "AUTHZ.POLICY_NOT_IN_FORCE",
        "AUTHZ.POLICY_WOULD_DECIDE",
        "AUTHZ.POLICY_NOT_CHECKED",
    ] {
        none(&plain, code);
    }
    assert!(!evidence_has(
        one(&plain, "AUTHZ.PUBLISH_DENIED"),
        "--policy"
    ));
    none(
        &unreadable(1).diagnose_with(&expecting(ATS)),
        "AUTHZ.POLICY_NOT_CHECKED",
    );
    // A policy that agrees with every answer changes nothing either on a working connection.
    let allow_all = r#",
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/*"}"#;
    let mut t = T::new(443);
    t.tls13(hello_ats(&["x-amzn-mqtt-ca"]), 1500)
        .dev_dec(41.0, connect(5, "thing-42", 60))
        .end_dec(61.0, connack_at(5, 0))
        .dev_dec(70.0, subscribe(1, &[("cmd/thing-42/#", 1)]))
        .end_dec(80.0, suback(1, &[0x01]))
        .dev_dec(90.0, publish("dt/thing-42/telemetry", 2, 1, 180))
        .end_dec(100.0, puback(2, 0x00))
        .dev_dec(110.0, publish("dt/thing-42/status", 0, 0, 20))
        .end_dec(60_500.0, publish("cmd/thing-42/reboot", 9, 1, 2))
        .dev_dec(60_510.0, puback(9, 0));
    let with_policy = t.diagnose_with(&with(policy(allow_all)));
    let without = diagnose::diagnose(t.trace(), &expecting(ATS));
    assert!(with_policy.is_empty(), "{:#?}", codes(&with_policy));
    assert!(without.is_empty());
    // A failed handshake made no request: no policy finding on it.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(2.0, alert(40))
        .end(3.0, fin());
    let found = t.diagnose_with(&with(policy("")));
    none(&found, "AUTHZ.POLICY_NOT_CHECKED");
}

//! Policy evaluation vectors. The first groups are the AWS IoT Core developer guide's
//! example policies (each cites its page), checked against what the page says they allow;
//! the rest are iotscope's own, one or more per rule, variable and condition operator.

use iotscope_decoder::policy::{
    self, evaluate, lint, Action, Decision, Device, Policy, PolicyError, ProblemKind, Reason,
    Request, Thing, Verdict,
};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn policies(text: &str) -> Vec<Policy> {
    policy::parse_policies("test.json", text).expect("the vector's policy parses")
}

fn device(client_id: &str) -> Device {
    Device {
        client_id: client_id.into(),
        region: Some(REGION.into()),
        account: Some(ACCOUNT.into()),
        ..Device::default()
    }
}

fn thing(client_id: &str, name: &str) -> Device {
    Device {
        thing: Some(Thing {
            name: name.into(),
            attached: true,
            ..Thing::default()
        }),
        ..device(client_id)
    }
}

fn check(text: &str, d: &Device, action: Action, name: &str) -> Verdict {
    evaluate(&policies(text), d, &Request::new(action, name))
}

fn allowed(text: &str, d: &Device, action: Action, name: &str) -> bool {
    let v = check(text, d, action, name);
    v.decision == Decision::Allow
}

// --- AWS IoT developer guide: "Connect and publish policy examples" (connect-and-pub.html)

const CONNECT_AND_PUB_THING: &str = r#"{ "Version":"2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": [ "iot:Publish" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}" ] },
  { "Effect": "Allow", "Action": [ "iot:Connect" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}" ] } ] }"#;

const CONNECT_AND_PUB_CLIENT1: &str = r#"{ "Version":"2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": [ "iot:Publish" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}" ] },
  { "Effect": "Allow", "Action": [ "iot:Connect" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:client/client1" ] } ] }"#;

#[test]
fn guide_connect_and_pub_registered_thing() {
    let d = thing("thing1", "thing1");
    assert!(allowed(
        CONNECT_AND_PUB_THING,
        &d,
        Action::Connect,
        "thing1"
    ));
    assert!(allowed(
        CONNECT_AND_PUB_THING,
        &d,
        Action::Publish,
        "thing1"
    ));
    assert!(!allowed(
        CONNECT_AND_PUB_THING,
        &d,
        Action::Publish,
        "thing2"
    ));
    // Not attached to a thing: the variable has no value, the statement does not match.
    let v = check(
        CONNECT_AND_PUB_THING,
        &device("thing1"),
        Action::Connect,
        "thing1",
    );
    assert_eq!(v.reason, Reason::ImplicitDeny);
    assert!(
        v.warnings
            .iter()
            .any(|w| w.contains("Connection.Thing.ThingName")),
        "{v:?}"
    );
}

#[test]
fn guide_connect_and_pub_unregistered_client1() {
    let d = device("client1");
    assert!(allowed(
        CONNECT_AND_PUB_CLIENT1,
        &d,
        Action::Connect,
        "client1"
    ));
    assert!(allowed(
        CONNECT_AND_PUB_CLIENT1,
        &d,
        Action::Publish,
        "client1"
    ));
    assert!(!allowed(
        CONNECT_AND_PUB_CLIENT1,
        &d,
        Action::Publish,
        "client2"
    ));
    assert!(!allowed(
        CONNECT_AND_PUB_CLIENT1,
        &device("client2"),
        Action::Connect,
        "client2"
    ));
}

// --- "Certificate policy examples" (certificate-policy-examples.html)

const CERT_ID_TOPIC: &str = r#"{ "Version":"2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": [ "iot:Publish" ],
    "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:CertificateId}"] },
  { "Effect": "Allow", "Action": [ "iot:Connect" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:client/client1",
                  "arn:aws:iot:us-east-1:123456789012:client/client2",
                  "arn:aws:iot:us-east-1:123456789012:client/client3" ] } ] }"#;

#[test]
fn guide_certificate_id_topic_and_listed_clients() {
    let (der, _) = test_cert();
    let id = iotscope_decoder::cert::identity(&der).unwrap();
    let cert_id = id.certificate_id.clone();
    let d = Device {
        certificate: Some(id),
        ..device("client2")
    };
    assert!(allowed(CERT_ID_TOPIC, &d, Action::Connect, "client2"));
    assert!(!allowed(
        CERT_ID_TOPIC,
        &device("client4"),
        Action::Connect,
        "client4"
    ));
    assert!(allowed(CERT_ID_TOPIC, &d, Action::Publish, &cert_id));
    assert!(!allowed(CERT_ID_TOPIC, &d, Action::Publish, "other"));
    // Without the certificate the variable is unknown, and the answer says so.
    let v = check(CERT_ID_TOPIC, &device("client2"), Action::Publish, &cert_id);
    assert_eq!(v.decision, Decision::Deny);
    assert!(
        v.warnings.iter().any(|w| w.contains("give --cert")),
        "{v:?}"
    );
}

// --- "Thing policy examples" (thing-policy-examples.html)

const THING_IS_ATTACHED: &str = r#"{ "Version":"2012-10-17", "Statement":[ { "Effect":"Allow",
  "Action":["iot:Connect"], "Resource":[ "*" ],
  "Condition": { "Bool": { "iot:Connection.Thing.IsAttached": ["true"] } } } ] }"#;

const THING_TYPE_AND_ATTRIBUTE: &str = r#"{ "Version":"2012-10-17", "Statement": [ {
  "Effect": "Allow", "Action": [ "iot:Publish" ],
  "Resource": "arn:aws:iot:us-east-1:123456789012:topic/device/stats",
  "Condition": {
    "StringEquals": { "iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                      "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name" },
    "Bool": { "iot:Connection.Thing.IsAttached": "true" } } } ] }"#;

#[test]
fn guide_thing_is_attached() {
    assert!(allowed(
        THING_IS_ATTACHED,
        &thing("t1", "t1"),
        Action::Connect,
        "t1"
    ));
    let mut detached = thing("t1", "t1");
    detached.thing.as_mut().unwrap().attached = false;
    assert!(!allowed(
        THING_IS_ATTACHED,
        &detached,
        Action::Connect,
        "t1"
    ));
    // No thing given: unknown, not counted, said.
    let v = check(THING_IS_ATTACHED, &device("t1"), Action::Connect, "t1");
    assert_eq!(v.reason, Reason::ImplicitDeny);
    assert!(
        v.warnings.iter().any(|w| w.contains("give --thing")),
        "{v:?}"
    );
}

#[test]
fn guide_thing_type_and_attribute() {
    let mut d = thing("t1", "t1");
    let t = d.thing.as_mut().unwrap();
    t.type_name = Some("Thing_Type_Name".into());
    t.attributes = vec![("attributeName".into(), "attributeValue".into())];
    assert!(allowed(
        THING_TYPE_AND_ATTRIBUTE,
        &d,
        Action::Publish,
        "device/stats"
    ));
    d.thing.as_mut().unwrap().type_name = Some("Other".into());
    assert!(!allowed(
        THING_TYPE_AND_ATTRIBUTE,
        &d,
        Action::Publish,
        "device/stats"
    ));
    d.thing.as_mut().unwrap().type_name = Some("Thing_Type_Name".into());
    d.thing.as_mut().unwrap().attributes = vec![("attributeName".into(), "nope".into())];
    assert!(!allowed(
        THING_TYPE_AND_ATTRIBUTE,
        &d,
        Action::Publish,
        "device/stats"
    ));
}

// --- "Publish/Subscribe policy examples" (pub-sub-policy.html): MQTT wildcards are plain
// characters in a policy; `*` and `?` are the policy's wildcards.

const PUB_SUB_PREFIX: &str = r#"{ "Version":"2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": [ "iot:Publish", "iot:Receive" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:topic/topic_1",
                  "arn:aws:iot:us-east-1:123456789012:topic/topic_2/*" ] },
  { "Effect": "Allow", "Action": [ "iot:Subscribe" ],
    "Resource": [ "arn:aws:iot:us-east-1:123456789012:topicfilter/topic_1",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/topic_2/*" ] } ] }"#;

#[test]
fn guide_pub_sub_with_prefix() {
    let d = device("c");
    assert!(allowed(PUB_SUB_PREFIX, &d, Action::Publish, "topic_1"));
    assert!(allowed(PUB_SUB_PREFIX, &d, Action::Receive, "topic_2/a/b"));
    assert!(allowed(PUB_SUB_PREFIX, &d, Action::Subscribe, "topic_2/#"));
    assert!(allowed(
        PUB_SUB_PREFIX,
        &d,
        Action::Subscribe,
        "topic_2/+/x"
    ));
    assert!(!allowed(PUB_SUB_PREFIX, &d, Action::Subscribe, "topic_1/#"));
    assert!(!allowed(PUB_SUB_PREFIX, &d, Action::Publish, "topic_3"));
    // A topic/ resource does not give iot:Subscribe.
    assert!(!allowed(PUB_SUB_PREFIX, &d, Action::Subscribe, "topic_3"));
}

// --- Evaluation order (iot-policies page: explicit deny > allow > implicit deny)

const ALLOW_ALL_DENY_ONE: &str = r#"{ "Version":"2012-10-17", "Statement": [
  { "Sid": "all", "Effect": "Allow", "Action": "iot:*", "Resource": "*" },
  { "Sid": "no-admin", "Effect": "Deny", "Action": "iot:Publish",
    "Resource": "arn:aws:iot:us-east-1:123456789012:topic/admin/*" } ] }"#;

#[test]
fn explicit_deny_wins_over_any_allow() {
    let v = check(
        ALLOW_ALL_DENY_ONE,
        &device("c"),
        Action::Publish,
        "admin/reset",
    );
    assert_eq!(
        (v.decision, v.reason),
        (Decision::Deny, Reason::ExplicitDeny)
    );
    assert_eq!(v.statements.len(), 1);
    assert_eq!(v.statements[0].sid.as_deref(), Some("no-admin"));
    assert_eq!(v.statements[0].index, 1);
    assert!(v.suggestion.is_none());
}

#[test]
fn deny_in_another_policy_wins_too() {
    let mut all = policies(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}"#,
    );
    all.extend(policy::parse_policies(
        "deny.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:Publish","Resource":"*"}}"#,
    ).unwrap());
    let v = evaluate(&all, &device("c"), &Request::new(Action::Publish, "a"));
    assert_eq!(v.reason, Reason::ExplicitDeny);
    assert_eq!(v.statements[0].policy, "deny.json");
}

#[test]
fn allow_names_its_statements_and_warns_when_broad() {
    let v = check(
        ALLOW_ALL_DENY_ONE,
        &device("c"),
        Action::Publish,
        "telemetry",
    );
    assert_eq!((v.decision, v.reason), (Decision::Allow, Reason::Allowed));
    assert_eq!(v.statements[0].sid.as_deref(), Some("all"));
    assert!(v.warnings.iter().any(|w| w.contains("iot:* on *")), "{v:?}");
}

#[test]
fn nothing_matching_is_an_implicit_deny_with_a_suggestion_that_allows() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    for (action, name) in [
        (Action::Publish, "dt/dev-7/temp"),
        (Action::Subscribe, "cmd/dev-7/#"),
        (Action::Receive, "cmd/dev-7/reboot"),
        (Action::RetainPublish, "state/dev-7"),
        (Action::Publish, "odd/*/?/${x}"),
    ] {
        let d = device("dev-7");
        let v = check(text, &d, action, name);
        assert_eq!(v.reason, Reason::ImplicitDeny);
        assert!(v.statements.is_empty());
        let s = v.suggestion.expect("a deny has a suggestion");
        // The device's own name becomes the variable …
        if name.contains("dev-7") {
            assert!(s.statement.resource.contains("${iot:ClientId}"), "{s:?}");
        }
        // … and the suggested statement does allow the request, and only with that action.
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            s.statement.to_json()
        );
        assert!(allowed(&doc, &d, action, name), "{doc}");
        let other = if action == Action::Subscribe {
            Action::Publish
        } else {
            Action::Subscribe
        };
        assert!(!allowed(&doc, &d, other, name));
    }
}

#[test]
fn suggestion_uses_the_thing_name_when_the_client_id_is_the_thing() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}"#;
    let d = thing("lamp-1", "lamp-1");
    let s = check(text, &d, Action::Connect, "lamp-1")
        .suggestion
        .unwrap();
    assert!(s
        .statement
        .resource
        .ends_with(":client/${iot:Connection.Thing.ThingName}"));
    assert!(allowed(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{}}}"#,
            s.statement.to_json()
        ),
        &d,
        Action::Connect,
        "lamp-1"
    ));
}

// --- Matching rules

#[test]
fn actions_ignore_case_resources_do_not() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"IOT:publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/Room/1"}]}"#;
    assert!(allowed(text, &device("c"), Action::Publish, "Room/1"));
    assert!(!allowed(text, &device("c"), Action::Publish, "room/1"));
}

#[test]
fn wildcards_in_actions_and_resources() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*Publish","Resource":"arn:aws:iot:*:*:topic/a/?/c*"}]}"#;
    let d = device("c");
    assert!(allowed(text, &d, Action::Publish, "a/b/c"));
    assert!(allowed(text, &d, Action::RetainPublish, "a/b/cde/f"));
    assert!(!allowed(text, &d, Action::Publish, "a/bb/c"));
    assert!(!allowed(text, &d, Action::Receive, "a/b/c"));
}

#[test]
fn mqtt_wildcards_in_a_policy_are_literal() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Subscribe","iot:Publish"],"Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/a/+/c","arn:aws:iot:us-east-1:123456789012:topic/b/#"]}]}"#;
    let d = device("c");
    assert!(allowed(text, &d, Action::Subscribe, "a/+/c"));
    assert!(!allowed(text, &d, Action::Subscribe, "a/x/c"));
    assert!(!allowed(text, &d, Action::Publish, "b/x"));
}

#[test]
fn not_action_and_not_resource() {
    let text = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","NotAction":"iot:Subscribe","Resource":"*"},
      {"Effect":"Deny","Action":"iot:Publish","NotResource":"arn:aws:iot:us-east-1:123456789012:topic/ok/*"}]}"#;
    let d = device("c");
    assert!(allowed(text, &d, Action::Publish, "ok/1"));
    assert_eq!(
        check(text, &d, Action::Publish, "bad").reason,
        Reason::ExplicitDeny
    );
    assert!(allowed(text, &d, Action::Receive, "bad"));
    assert!(!allowed(text, &d, Action::Subscribe, "ok/1"));
}

#[test]
fn unknown_region_or_account_matches_only_a_wildcard_and_says_so() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/c"}]}"#;
    let d = Device {
        client_id: "c".into(),
        ..Device::default()
    };
    let v = check(text, &d, Action::Connect, "c");
    assert_eq!(v.reason, Reason::ImplicitDeny);
    assert!(v.warnings.iter().any(|w| w.contains("--region")), "{v:?}");
    assert_eq!(v.resource, "arn:aws:iot:<region>:<account>:client/c");
    let wild = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/c"}]}"#;
    assert!(allowed(wild, &d, Action::Connect, "c"));
}

// --- Variables

#[test]
fn variable_values_are_literal_and_escapes_work() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}","arn:aws:iot:us-east-1:123456789012:topic/lit/${*}${?}${$}"]}]}"#;
    // A client id holding `*` is not a wildcard.
    assert!(!allowed(text, &device("a*"), Action::Publish, "abc"));
    assert!(allowed(text, &device("a*"), Action::Publish, "a*"));
    assert!(allowed(text, &device("x"), Action::Publish, "lit/*?$"));
    assert!(!allowed(text, &device("x"), Action::Publish, "lit/ab$"));
    let v = check(text, &device("dev"), Action::Publish, "dev");
    assert_eq!(v.variables[0].name, "iot:ClientId");
    assert_eq!(v.variables[0].value.as_deref(), Some("dev"));
}

#[test]
fn thing_variables() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.Attributes[floor]}/${iot:Connection.Thing.IsAttached}/${iot:Connection.Thing.ThingName}"}]}"#;
    let mut d = thing("c", "lamp");
    let t = d.thing.as_mut().unwrap();
    t.type_name = Some("Lamp".into());
    t.attributes = vec![("floor".into(), "3".into())];
    assert!(allowed(text, &d, Action::Publish, "Lamp/3/true/lamp"));
    d.thing.as_mut().unwrap().attributes.clear();
    let v = check(text, &d, Action::Publish, "Lamp/3/true/lamp");
    assert_eq!(v.decision, Decision::Deny);
    assert!(
        v.warnings
            .iter()
            .any(|w| w.contains("--thing-attr floor=VALUE")),
        "{v:?}"
    );
}

#[test]
fn domain_and_source_ip_variables() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:Domain}/${aws:SourceIp}"}]}"#;
    let d = Device {
        domain: Some("iot.example.com".into()),
        source_ip: Some("203.0.113.9".parse().unwrap()),
        ..device("c")
    };
    assert!(allowed(
        text,
        &d,
        Action::Publish,
        "iot.example.com/203.0.113.9"
    ));
    assert!(!allowed(
        text,
        &device("c"),
        Action::Publish,
        "iot.example.com/203.0.113.9"
    ));
}

/// A device certificate with the fields the certificate variables read.
fn test_cert() -> (Vec<u8>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["lamp-1.example.com".to_string()]).unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "US");
    dn.push(rcgen::DnType::OrganizationName, "IoT Devices");
    dn.push(rcgen::DnType::OrganizationalUnitName, "LightBulb");
    dn.push(rcgen::DnType::CommonName, "LightBulb Device Cert");
    params.distinguished_name = dn;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x00]));
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("1.2.3.4".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key)
}

#[test]
fn certificate_variables() {
    // After the guide's "Using X.509 certificate policy variables" (use-policy-variables.html).
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":[
      "arn:aws:iot:us-east-1:123456789012:topic/${iot:Certificate.Subject.Organization}/${iot:Certificate.Subject.CommonName}",
      "arn:aws:iot:us-east-1:123456789012:topic/sn/${iot:Certificate.SerialNumber}",
      "arn:aws:iot:us-east-1:123456789012:topic/issuer/${iot:Certificate.Issuer.OrganizationalUnit}",
      "arn:aws:iot:us-east-1:123456789012:topic/dns/${iot:Certificate.Subject.AlternativeName.DNSName}",
      "arn:aws:iot:us-east-1:123456789012:topic/ip/${iot:Certificate.Subject.AlternativeName.IPAddress}",
      "arn:aws:iot:us-east-1:123456789012:topic/title/${iot:Certificate.Subject.Title}"]}]}"#;
    let (der, _) = test_cert();
    let d = Device {
        certificate: Some(iotscope_decoder::cert::identity(&der).unwrap()),
        ..device("c")
    };
    assert!(allowed(
        text,
        &d,
        Action::Publish,
        "IoT Devices/LightBulb Device Cert"
    ));
    assert!(allowed(text, &d, Action::Publish, "sn/256"));
    // Self-signed: the issuer is the subject.
    assert!(allowed(text, &d, Action::Publish, "issuer/LightBulb"));
    assert!(allowed(text, &d, Action::Publish, "dns/lamp-1.example.com"));
    assert!(allowed(text, &d, Action::Publish, "ip/1.2.3.4"));
    // The certificate has no title: absent, the resource does not match, and it is said.
    let v = check(text, &d, Action::Publish, "title/x");
    assert_eq!(v.decision, Decision::Deny);
    assert!(v
        .variables
        .iter()
        .any(|u| u.name == "iot:Certificate.Subject.Title" && u.value.is_none()));
}

#[test]
fn certificate_validity_and_list_conditions() {
    let (der, _) = test_cert();
    let id = iotscope_decoder::cert::identity(&der).unwrap();
    assert!(id.not_before.ends_with('Z') && id.not_before.contains('T'));
    let d = Device {
        certificate: Some(id.clone()),
        ..device("c")
    };
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
          "Condition":{{"StringEquals":{{"iot:Certificate.Validity.NotAfter":"{}"}},
                       "ForAnyValue:StringLike":{{"iot:Certificate.Subject.OrganizationalUnit.List":["Light*"]}}}}}}]}}"#,
        id.not_after
    );
    assert!(allowed(&text, &d, Action::Connect, "c"));
}

// --- Condition operators

fn with_condition(cond: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{cond}}}]}}"#
    )
}

#[test]
fn string_operators() {
    let d = device("sensor-12");
    let cases = [
        (r#"{"StringEquals":{"iot:ClientId":"sensor-12"}}"#, true),
        (
            r#"{"StringEquals":{"iot:ClientId":["a","sensor-12"]}}"#,
            true,
        ),
        (r#"{"StringEquals":{"iot:ClientId":"Sensor-12"}}"#, false),
        (
            r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"Sensor-12"}}"#,
            true,
        ),
        (r#"{"StringNotEquals":{"iot:ClientId":"sensor-12"}}"#, false),
        (r#"{"StringNotEquals":{"iot:ClientId":["a","b"]}}"#, true),
        (r#"{"StringLike":{"iot:ClientId":"sensor-*"}}"#, true),
        (r#"{"StringLike":{"iot:ClientId":"sensor-?"}}"#, false),
        (r#"{"StringNotLike":{"iot:ClientId":"sensor-*"}}"#, false),
        (r#"{"StringNotLike":{"iot:ClientId":"probe-*"}}"#, true),
        // A StringEquals value is not a pattern.
        (r#"{"StringEquals":{"iot:ClientId":"sensor-*"}}"#, false),
    ];
    for (cond, want) in cases {
        assert_eq!(
            allowed(&with_condition(cond), &d, Action::Connect, "sensor-12"),
            want,
            "{cond}"
        );
    }
}

#[test]
fn bool_arn_and_ip_operators() {
    let d = Device {
        source_ip: Some("198.51.100.20".parse().unwrap()),
        ..thing("c", "c")
    };
    let cases = [
        (r#"{"Bool":{"iot:Connection.Thing.IsAttached":true}}"#, true),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"FALSE"}}"#,
            false,
        ),
        (r#"{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}"#, true),
        (
            r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}"#,
            false,
        ),
        (r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#, true),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"198.51.100.20/32"}}"#,
            false,
        ),
        (
            r#"{"ArnLike":{"iot:ClientId":"arn:aws:iot:*:*:client/*"}}"#,
            false,
        ),
    ];
    for (cond, want) in cases {
        assert_eq!(
            allowed(&with_condition(cond), &d, Action::Connect, "c"),
            want,
            "{cond}"
        );
    }
    // ArnEquals / ArnLike compare field by field, with wildcards in each.
    let arn_dev = Device {
        domain: Some("arn:aws:iot:us-east-1:123456789012:domainconfiguration/x/y".into()),
        ..device("c")
    };
    for (cond, want) in [
        (
            r#"{"ArnLike":{"iot:Domain":"arn:aws:iot:*:123456789012:domainconfiguration/*"}}"#,
            true,
        ),
        (
            r#"{"ArnEquals":{"iot:Domain":"arn:aws:iot:us-east-1:123456789012:domainconfiguration/x/y"}}"#,
            true,
        ),
        (
            r#"{"ArnLike":{"iot:Domain":"arn:aws:iot:eu-*:*:*"}}"#,
            false,
        ),
        (
            r#"{"ArnNotLike":{"iot:Domain":"arn:aws:iot:eu-*:*:*"}}"#,
            true,
        ),
    ] {
        assert_eq!(
            allowed(&with_condition(cond), &arn_dev, Action::Connect, "c"),
            want,
            "{cond}"
        );
    }
}

#[test]
fn if_exists_and_set_operators_on_absent_keys() {
    let (der, _) = test_cert();
    let d = Device {
        certificate: Some(iotscope_decoder::cert::identity(&der).unwrap()),
        ..device("c")
    };
    // The certificate has no Title: absent.
    let cases = [
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.Title":"x"}}"#,
            false,
        ),
        (
            r#"{"StringEqualsIfExists":{"iot:Certificate.Subject.Title":"x"}}"#,
            true,
        ),
        (
            r#"{"StringNotEquals":{"iot:Certificate.Subject.Title":"x"}}"#,
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Title.List":"x"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.Title.List":"x"}}"#,
            false,
        ),
        (r#"{"Null":{"iot:Certificate.Subject.Title":"true"}}"#, true),
        (
            r#"{"Null":{"iot:Certificate.Subject.CommonName":"true"}}"#,
            false,
        ),
        // Present keys: IfExists changes nothing.
        (
            r#"{"StringEqualsIfExists":{"iot:Certificate.Subject.Country":"FR"}}"#,
            false,
        ),
        (
            r#"{"ForAllValues:StringLike":{"iot:Certificate.Subject.OrganizationalUnit.List":"Light*"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringNotLike":{"iot:Certificate.Subject.OrganizationalUnit.List":"Light*"}}"#,
            false,
        ),
    ];
    for (cond, want) in cases {
        assert_eq!(
            allowed(&with_condition(cond), &d, Action::Connect, "c"),
            want,
            "{cond}"
        );
    }
}

#[test]
fn unknown_condition_keys_decide_nothing_and_say_so() {
    let text = with_condition(r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#);
    let v = check(&text, &device("c"), Action::Connect, "c");
    assert_eq!(v.reason, Reason::ImplicitDeny);
    assert!(
        v.warnings.iter().any(|w| w.contains("--source-ip")),
        "{v:?}"
    );
}

#[test]
fn variables_in_condition_values() {
    let text =
        with_condition(r#"{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#);
    assert!(allowed(
        &text,
        &thing("lamp", "lamp"),
        Action::Connect,
        "lamp"
    ));
    assert!(!allowed(
        &text,
        &thing("other", "lamp"),
        Action::Connect,
        "other"
    ));
}

// --- Input forms and errors

#[test]
fn get_policy_and_get_effective_policies_output() {
    let get_policy = serde_json::json!({
        "policyName": "DevicePolicy",
        "policyArn": "arn:aws:iot:us-east-1:123456789012:policy/DevicePolicy",
        "policyDocument": CONNECT_AND_PUB_CLIENT1,
        "defaultVersionId": "1"
    })
    .to_string();
    let p = policy::parse_policies("p.json", &get_policy).unwrap();
    assert_eq!(p[0].name, "DevicePolicy");
    let effective = serde_json::json!({ "effectivePolicies": [
        { "policyName": "A", "policyArn": "x", "policyDocument": CONNECT_AND_PUB_CLIENT1 },
        { "policyName": "B", "policyArn": "y", "policyDocument": ALLOW_ALL_DENY_ONE },
    ]})
    .to_string();
    let p = policy::parse_policies("e.json", &effective).unwrap();
    assert_eq!(
        p.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    let v = evaluate(
        &p,
        &device("client1"),
        &Request::new(Action::Publish, "admin/x"),
    );
    assert_eq!(v.reason, Reason::ExplicitDeny);
    assert_eq!(v.statements[0].policy, "B");
}

#[test]
fn bad_input_names_the_file_and_the_place() {
    let e = policy::parse_policies(
        "bad.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
    )
    .unwrap_err();
    assert!(matches!(e, PolicyError::Syntax { line: 4, .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("bad.json: not valid JSON at line 4"),
        "{e}"
    );
    let e = policy::parse_policies("x.json", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"x.json: /Statement/0/Condition/StringEqualz: "StringEqualz" is not a condition operator"#
    );
    let e = policy::parse_policies("x.json", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"iot:Connect","Resource":"*"}]}"#).unwrap_err();
    assert!(
        e.to_string().starts_with("x.json: /Statement/0/Effect: "),
        "{e}"
    );
    let e = policy::parse_policies("x.json", r#"[1,2]"#).unwrap_err();
    assert!(matches!(e, PolicyError::Shape { .. }));
    let e = policy::parse_policies(
        "x.json",
        r#"{"policyName":"P","policyDocument":"{\"Version\": 1"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("policy \"P\""), "{e}");
    let e =
        policy::parse_policies("x.json", r#"{"Version":"2008-10-17","Statement":[]}"#).unwrap_err();
    assert!(e.to_string().contains("/Version"), "{e}");
}

// --- Lint

fn kinds(text: &str) -> Vec<ProblemKind> {
    lint("l.json", text).into_iter().map(|p| p.kind).collect()
}

#[test]
fn lint_finds_statements_that_never_match() {
    let sub_on_topic = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topic/a"}]}"#;
    let problems = lint("l.json", sub_on_topic);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::NeverMatches);
    assert!(problems[0].message.contains("topicfilter"));
    let pub_on_filter = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/a"}]}"#;
    assert_eq!(kinds(pub_on_filter), [ProblemKind::NeverMatches]);
    let connect_on_topic = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/a"}]}"#;
    assert_eq!(kinds(connect_on_topic), [ProblemKind::NeverMatches]);
}

#[test]
fn lint_finds_broad_statements_unknown_actions_and_mqtt_wildcards() {
    assert_eq!(kinds(ALLOW_ALL_DENY_ONE), [ProblemKind::TooBroad]);
    let connect_any = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/*"}]}"#;
    assert_eq!(kinds(connect_any), [ProblemKind::TooBroad]);
    let unknown = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publsh","iot:Publish"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/a/#"}]}"#;
    assert_eq!(
        kinds(unknown),
        [ProblemKind::UnknownAction, ProblemKind::MqttWildcard]
    );
}

#[test]
fn lint_clean_documents_and_the_guide_examples() {
    for doc in [
        CONNECT_AND_PUB_THING,
        CONNECT_AND_PUB_CLIENT1,
        CERT_ID_TOPIC,
        THING_TYPE_AND_ATTRIBUTE,
        PUB_SUB_PREFIX,
    ] {
        assert_eq!(lint("g.json", doc), [], "{doc}");
    }
}

#[test]
fn lint_reports_syntax_with_line_and_column_and_the_size_limit() {
    let problems = lint("s.json", "{\n \"Version\": \"2012-10-17\",,\n}");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::Invalid);
    assert_eq!(problems[0].place, "2:26");
    let many: Vec<String> = (0..120)
        .map(|i| format!("\"arn:aws:iot:us-east-1:123456789012:topic/t{i}\""))
        .collect();
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","Resource":[{}]}}]}}"#,
        many.join(",")
    );
    assert_eq!(kinds(&big), [ProblemKind::TooLong]);
    // Whitespace does not count.
    let small = CONNECT_AND_PUB_THING.replace(' ', "        ");
    assert_eq!(kinds(&small), []);
}

//! Policy evaluation never panics, whatever the document and the request, and its answers
//! hold together: the suggested statement for a denied request allows exactly that request.

use iotscope_decoder::policy::{self, evaluate, lint, Action, Decision, Device, Request, Thing};
use proptest::prelude::*;

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Connect),
        Just(Action::Publish),
        Just(Action::Subscribe),
        Just(Action::Receive),
        Just(Action::RetainPublish),
    ]
}

/// Strings rich in what policies treat specially.
fn tricky() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-c*?$/{}+#:\[\] ]{0,12}|\$\{(iot:ClientId|\*|\?|\$|iot:Connection\.Thing\.ThingName|iot:Certificate\.Subject\.CommonName|x)\}[a-z/]{0,4}").unwrap()
}

fn value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        tricky().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        any::<i32>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("Effect".to_string()),
                        Just("Action".to_string()),
                        Just("Resource".to_string()),
                        Just("NotResource".to_string()),
                        Just("Condition".to_string()),
                        Just("StringLike".to_string()),
                        Just("ForAnyValue:StringNotEqualsIfExists".to_string()),
                        Just("IpAddress".to_string()),
                        Just("Null".to_string()),
                        Just("iot:ClientId".to_string()),
                        Just("aws:SourceIp".to_string()),
                        tricky(),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A document shaped like a policy, so the evaluator (not only the parser) is reached.
fn document() -> impl Strategy<Value = String> {
    let statement = (
        prop_oneof![Just("Allow"), Just("Deny")],
        prop::collection::vec(
            prop_oneof![
                Just("iot:*".to_string()),
                Just("iot:Publish".to_string()),
                Just("iot:connect".to_string()),
                tricky()
            ],
            1..3,
        ),
        prop::collection::vec(tricky().prop_map(|t| format!("arn:aws:iot:*:*:{t}")), 1..3),
        any::<bool>(),
        value(),
    )
        .prop_map(|(effect, actions, resources, not, cond)| {
            let mut s = serde_json::json!({ "Effect": effect, "Action": actions });
            s[if not { "NotResource" } else { "Resource" }] = serde_json::json!(resources);
            if cond.is_object() {
                s["Condition"] = cond;
            }
            s
        });
    prop::collection::vec(statement, 1..4)
        .prop_map(|st| serde_json::json!({ "Version": "2012-10-17", "Statement": st }).to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}", json in value()) {
        let _ = policy::parse_policies("p", &text);
        let _ = lint("p", &text);
        let _ = lint("p", &json.to_string());
    }

    #[test]
    fn arbitrary_policies_and_requests_never_panic(
        doc in document(),
        act in action(),
        name in tricky(),
        client in tricky(),
        with_thing in any::<bool>(),
    ) {
        let _ = lint("p", &doc);
        if let Ok(policies) = policy::parse_policies("p", &doc) {
            let d = Device {
                client_id: client.clone(),
                thing: with_thing.then(|| Thing { name: client.clone(), attached: true, ..Thing::default() }),
                source_ip: Some("192.0.2.1".parse().unwrap()),
                ..Device::default()
            };
            let v = evaluate(&policies, &d, &Request::new(act, name));
            prop_assert_eq!(v.suggestion.is_some(), v.reason == policy::Reason::ImplicitDeny);
        }
    }

    #[test]
    fn the_suggestion_allows_the_denied_request(
        act in action(),
        name in tricky(),
        client in tricky(),
        with_thing in any::<bool>(),
        region in prop::option::of(Just("eu-west-1".to_string())),
    ) {
        let d = Device {
            client_id: client.clone(),
            thing: with_thing.then(|| Thing { name: client.clone(), attached: true, ..Thing::default() }),
            region,
            ..Device::default()
        };
        let request = Request::new(act, name);
        let v = evaluate(&[], &d, &request);
        prop_assert_eq!(v.decision, Decision::Deny);
        let s = v.suggestion.unwrap();
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":{}}}"#, s.statement.to_json());
        let policies = policy::parse_policies("s", &doc).unwrap();
        let again = evaluate(&policies, &d, &request);
        prop_assert_eq!(again.decision, Decision::Allow, "{} {:?}", doc, again.warnings);
    }
}

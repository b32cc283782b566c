//! `iotscope demo`, the README's first command: the binary starts its endpoint and proxy,
//! runs its built-in devices, and every device must get the finding it was built to get.
//! The expectations below are written here, from the troubleshooting guide's failure list,
//! not read from the demo's own table.

use iotscope_tests::iotscope;
use serde_json::Value;

/// Device name and the finding code it must get (`None`: no error or warning).
const EXPECTED: [(&str, Option<&str>); 8] = [
    ("good", None),
    ("no-client-cert", Some("AUTH.CLIENT_CERT_MISSING")),
    ("wrong-sni", Some("CONN.SNI_MISMATCH")),
    ("expired-cert", Some("AUTH.CLIENT_CERT_EXPIRED")),
    ("inactive-cert", Some("AUTH.CERT_INACTIVE")),
    ("publish-denied", Some("AUTHZ.PUBLISH_DENIED")),
    ("duplicate-client-id", Some("MQTT.SESSION_TAKEN_OVER")),
    ("plain-mqtt", Some("CONN.NOT_TLS")),
];

#[test]
fn every_demo_device_gets_its_diagnosis_in_json() {
    let out = iotscope()
        .args(["demo", "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["ok"], true);
    let rows = summary["demo"].as_array().unwrap();
    assert_eq!(rows.len(), EXPECTED.len());
    for ((name, code), row) in EXPECTED.iter().zip(rows) {
        assert_eq!(row["device"], *name);
        let got: Vec<&str> = row["got"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        match code {
            None => assert!(got.is_empty(), "{name}: {got:?}"),
            Some(c) => assert!(got.contains(c), "{name}: wanted {c}, got {got:?}"),
        }
    }
    // The endpoint's log says the same from AWS's side (AWSIotLogsV2 entries).
    let logged = |name: &str| -> String {
        let row = rows.iter().find(|r| r["device"] == name).unwrap();
        row["endpoint_logged"].to_string()
    };
    assert!(logged("inactive-cert").contains("DEVICE_CERTIFICATE_INACTIVE"));
    assert!(logged("publish-denied").contains("Publish-In Failure AUTHORIZATION_FAILURE"));
    assert!(logged("duplicate-client-id").contains("DUPLICATE_CLIENTID"));
    // The proxy's own JSON objects come before the summary: one per connection, the
    // duplicate client id making two.
    let connections: Vec<&Value> = lines[..lines.len() - 1].iter().collect();
    assert_eq!(connections.len(), 9, "{stdout}");
    let all_codes: Vec<String> = connections
        .iter()
        .flat_map(|c| iotscope_tests::codes(c))
        .collect();
    for (_, code) in EXPECTED {
        if let Some(c) = code {
            assert!(
                all_codes.iter().any(|x| x == c),
                "{c} not in the proxy's objects: {all_codes:?}"
            );
        }
    }
    // Every connection's findings come most severe first (the web view and the text take
    // the first as the worst), the cross-connection one of the newer twin included.
    let rank = |s: &str| ["info", "warning", "error"].iter().position(|x| *x == s);
    for c in &connections {
        let ranks: Vec<_> = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| rank(f["severity"].as_str().unwrap()))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{c:#}");
    }
    // The account files the demo gives the proxy name the INACTIVE status as the cause; the
    // endpoint's alert stays below it, an info that points at the account's finding.
    let inactive = connections
        .iter()
        .find(|c| {
            iotscope_tests::codes(c)
                .iter()
                .any(|x| x == "AUTH.CERT_INACTIVE")
        })
        .expect("a connection with AUTH.CERT_INACTIVE");
    assert_eq!(
        iotscope_tests::codes_of(inactive, "error"),
        ["AUTH.CERT_INACTIVE"],
        "{inactive:#}"
    );
    assert!(iotscope_tests::codes_of(inactive, "info")
        .contains(&"AUTH.CLIENT_CERT_REJECTED".to_string()));
    // Plain MQTT is refused by the proxy itself, which never dials the endpoint: nothing of
    // the endpoint's side is missing, and it was not silent.
    let plain = connections
        .iter()
        .find(|c| iotscope_tests::codes(c).iter().any(|x| x == "CONN.NOT_TLS"))
        .unwrap();
    assert_eq!(iotscope_tests::codes(plain), ["CONN.NOT_TLS"], "{plain:#}");
}

#[test]
fn the_text_demo_prints_the_proxy_traces_and_the_table() {
    let out = iotscope()
        .args(["demo", "--colour", "never"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // The proxy's live lines, as for a real device.
    assert!(
        stdout.contains("CONNACK code=0 (Connection Accepted)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Alert fatal certificate_unknown (46)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("DISCONNECT code=0x8e (Session taken over)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("8 of 8 devices got the diagnosis they were built to get."),
        "{stdout}"
    );
    // The plain MQTT device sent no ClientHello: iotscope showed it no certificate, and the
    // trace says so rather than naming a certificate for no name.
    assert!(
        stdout.contains("iotscope presented no certificate: it read no ClientHello"),
        "{stdout}"
    );
    assert!(!stdout.contains("a certificate for  from"), "{stdout}");
}

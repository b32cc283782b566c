//! The lab captures (`captures/reference/lab/`), replayed without keys: what the wire shows must
//! match what really happened (`*.expect.json`), and the findings must match the failure.

use iotscope_tests::{
    assert_handshake_and_alerts, assert_has, assert_no_error, codes_of, expect, reference_captures,
    replay_json, side, strings,
};
use serde_json::Value;

const ENDPOINT: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

/// Replays one lab capture (no keys) with the lab's endpoint; returns its only connection.
fn replay(name: &str) -> Value {
    let pcap = reference_captures()
        .join("lab")
        .join(format!("{name}.pcap"));
    let (conns, out) = replay_json(&["--events", "--endpoint", ENDPOINT, pcap.to_str().unwrap()]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{name}: exit {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let want = expect(name)["wire_view_without_keys"]["tcp"]["connections"]
        .as_u64()
        .unwrap();
    assert_eq!(conns.len() as u64, want, "{name}: connections");
    conns.into_iter().next().unwrap()
}

/// Everything the wire shows without keys, compared with the recorded facts.
fn check_wire(name: &str) -> Value {
    let conn = replay(name);
    let exp = expect(name);
    let wire = &exp["wire_view_without_keys"];
    let tls = &wire["tls"];

    // who closed
    let rst: Vec<&str> = conn["tcp"]["rst_from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| side(s.as_str().unwrap()))
        .collect();
    let want_rst: Vec<String> = strings(&wire["tcp"]["rst_from"]);
    assert_eq!(rst, want_rst, "{name}: rst_from");
    let fin_first = conn["tcp"]["fin_from"]
        .as_array()
        .unwrap()
        .first()
        .map(|s| side(s.as_str().unwrap()));
    assert_eq!(
        fin_first,
        wire["tcp"]["first_fin_from"].as_str(),
        "{name}: first_fin_from"
    );

    if tls["client_hello"].is_object() {
        let ch = &tls["client_hello"];
        assert_eq!(conn["tls"]["sni"], ch["sni"], "{name}: sni");
        assert_eq!(
            conn["tls"]["client_alpns"], ch["alpn_offered"],
            "{name}: alpn"
        );
        assert_eq!(
            conn["tls"]["client_handshake"]["ciphers"]
                .as_array()
                .unwrap()
                .len() as u64,
            ch["cipher_suites_offered"].as_u64().unwrap(),
            "{name}: cipher suites offered"
        );
        assert_eq!(
            conn["tls"]["client_handshake"]["legacy_version"], ch["legacy_version"],
            "{name}: legacy version"
        );
        assert_eq!(
            conn["tls"]["client_handshake"]["supported_versions"], ch["supported_versions"],
            "{name}: supported_versions"
        );
    }
    if tls["server_hello"].is_object() {
        let sh = &tls["server_hello"];
        assert_eq!(
            conn["tls"]["version"], sh["selected_version"],
            "{name}: version"
        );
        assert_eq!(
            conn["tls"]["cipher_id"], sh["cipher_suite"],
            "{name}: cipher"
        );
    } else {
        assert!(
            conn["tls"]["version"].is_null(),
            "{name}: no ServerHello expected"
        );
    }

    assert_handshake_and_alerts(&conn, tls, name);

    // TLS 1.2 application data records per side
    if tls["version"] == "TLS 1.2" {
        for (dir, who) in [
            ("device_to_endpoint", "client"),
            ("endpoint_to_device", "broker"),
        ] {
            let n: u64 = conn["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["event"] == "encrypted" && e["dir"] == dir && e["content_type"] == 23)
                .map(|e| e["records"].as_u64().unwrap())
                .sum();
            assert_eq!(
                n,
                tls["application_data_records"][who].as_u64().unwrap(),
                "{name}: {who} application records"
            );
        }
    }

    // MQTT visible without keys
    let mqtt_types: Vec<String> = conn["mqtt"]["packets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["type"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let want_mqtt: Vec<String> = wire["mqtt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mqtt_types, want_mqtt, "{name}: MQTT packets without keys");
    conn
}

#[test]
fn success_mqtt311_tls13() {
    let c = check_wire("01_success_mqtt311");
    assert_no_error(&c, "01");
}

#[test]
fn success_mqtt5_tls13() {
    let c = check_wire("02_success_mqtt5");
    assert_no_error(&c, "02");
}

#[test]
fn success_mqtt311_tls12() {
    let c = check_wire("03_success_mqtt311_tls12");
    assert_no_error(&c, "03");
    // the endpoint's chain is in clear in TLS 1.2
    assert_eq!(
        c["tls"]["subject"],
        "CN=abc123example-ats.iot.us-east-1.amazonaws.com"
    );
    assert_eq!(
        c["tls"]["issuerdn"],
        "C=US, O=Test Amazon, CN=Test Amazon Root CA 1"
    );
    assert_eq!(c["tls"]["client"]["subject"], "O=Test Devices, CN=good");
}

#[test]
fn untrusted_server_ca_tls13() {
    let c = check_wire("05_untrusted_server_ca_tls13");
    assert_has(&c, "05", "AUTH.SERVER_CERT_UNTRUSTED");
}

#[test]
fn no_client_cert_tls12() {
    let c = check_wire("07_no_client_cert_tls12");
    assert_has(&c, "07", "AUTH.CLIENT_CERT_MISSING");
    assert_eq!(c["tls"]["client"]["empty"], true);
}

#[test]
fn no_client_cert_tls13() {
    let c = check_wire("08_no_client_cert_tls13");
    assert_has(&c, "08", "AUTH.CLIENT_CERT_REJECTED");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTH.CLIENT_CERT_REJECTED")
        .unwrap();
    let candidates = strings(&f["candidates"]);
    assert!(
        candidates
            .first()
            .is_some_and(|c| c.contains("no certificate")),
        "08: 'no certificate' should lead the candidates: {candidates:?}"
    );
}

#[test]
fn client_cert_unknown_ca_tls12() {
    let c = check_wire("10_client_cert_unknown_ca_tls12");
    assert_has(&c, "10", "AUTH.CLIENT_CERT_REJECTED");
}

#[test]
fn client_cert_expired_tls13() {
    let c = check_wire("12_client_cert_expired_tls13");
    assert_has(&c, "12", "AUTH.CLIENT_CERT_REJECTED");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTH.CLIENT_CERT_REJECTED")
        .unwrap();
    let candidates = strings(&f["candidates"]);
    assert!(
        !candidates[0].contains("no certificate"),
        "12 sent a certificate: {candidates:?}"
    );
}

#[test]
fn client_cert_expired_tls12() {
    let c = check_wire("13_client_cert_expired_tls12");
    assert_has(&c, "13", "AUTH.CLIENT_CERT_EXPIRED");
    assert_eq!(
        c["tls"]["client"]["subject"],
        "O=Test Devices, CN=expired-device"
    );
}

#[test]
fn hostname_mismatch_ip() {
    let c = check_wire("14_hostname_mismatch_ip");
    assert_has(&c, "14", "CONN.SNI_MISMATCH");
    assert_has(&c, "14", "AUTH.SERVER_NAME_MISMATCH");
}

#[test]
fn sni_absent() {
    let c = check_wire("15_sni_absent_s_client");
    assert_has(&c, "15", "CONN.SNI_MISSING");
    // it worked: the missing SNI is a warning here, not an error
    assert_no_error(&c, "15");
}

#[test]
fn publish_outside_acl_without_keys_shows_a_working_tls13_session() {
    let c = check_wire("20_publish_outside_acl_mqtt5");
    assert_no_error(&c, "20");
}

#[test]
fn connect_bad_protocol_level_without_keys() {
    check_wire("21_connect_bad_protocol_level");
}

#[test]
fn plain_mqtt_to_tls_port() {
    let c = check_wire("25_plain_mqtt_to_tls_port");
    assert_has(&c, "25", "CONN.NOT_TLS");
    assert_eq!(
        codes_of(&c, "error"),
        ["CONN.NOT_TLS"],
        "25: only the plaintext is wrong"
    );
    assert_eq!(c["mqtt"]["connect"]["client_id"], "plain-client");
}

#[test]
fn tls10_client() {
    let c = check_wire("26_tls10_client");
    assert_has(&c, "26", "CONN.PROTOCOL_VERSION");
}

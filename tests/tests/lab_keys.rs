//! The lab captures replayed with their key logs: every handshake message, alert and MQTT
//! packet must match `decrypted_view_with_keys` in the capture's expect file, and the
//! findings sharpen to the real cause.

use iotscope_tests::{
    assert_handshake_and_alerts, assert_has, assert_no_error, codes, expect, reference_captures,
    replay_json, side, strings,
};
use serde_json::Value;

const ENDPOINT: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

fn replay_with_keys(name: &str) -> Value {
    let dir = reference_captures().join("lab");
    let pcap = dir.join(format!("{name}.pcap"));
    let keys = dir.join(format!("{name}.keys"));
    let (conns, out) = replay_json(&[
        "--events",
        "--endpoint",
        ENDPOINT,
        "--keylog",
        keys.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{name}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(conns.len(), 1, "{name}: connections");
    conns.into_iter().next().unwrap()
}

/// Compares everything the decrypted view records.
fn check_decrypted(name: &str) -> Value {
    let conn = replay_with_keys(name);
    let view = &expect(name)["decrypted_view_with_keys"];
    let tls = &view["tls"];

    assert!(
        !codes(&conn).iter().any(|c| c == "TLS.NOT_DECRYPTED"),
        "{name}: not decrypted: {:?}",
        conn["findings"]
    );
    assert_handshake_and_alerts(&conn, tls, name);

    let ours = conn["mqtt"]["packets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let want = view["mqtt"].as_array().unwrap();
    assert_eq!(ours.len(), want.len(), "{name}: MQTT packets: {ours:?}");
    for (p, w) in ours.iter().zip(want) {
        let t = w["type"].as_str().unwrap();
        assert_eq!(p["type"], t, "{name}: packet type");
        assert_eq!(
            side(p["from"].as_str().unwrap()),
            w["from"].as_str().unwrap(),
            "{name}: {t} sender"
        );
        let same = |ours: &Value, theirs: &str| {
            if let Some(v) = w.get(theirs) {
                assert_eq!(ours, v, "{name}: {t} {theirs}");
            }
        };
        same(&p["client_id"], "client_id");
        same(&p["protocol_version"], "protocol_level");
        same(&p["protocol_string"], "protocol_name");
        same(&p["keep_alive"], "keepalive");
        if t == "CONNACK" {
            same(&p["return_code"], "return_code");
            same(&p["return_code"], "reason_code");
        } else {
            same(&p["reason_code"], "reason_code");
        }
        same(&p["reason"], "reason");
        same(&p["topic"], "topic");
        same(&p["message_id"], "msgid");
        same(&p["message"], "payload");
        if t == "PUBLISH" {
            same(&p["qos"], "qos");
        }
        if let Some(clean) = w.get("clean") {
            assert_eq!(
                p["flags"]["clean_session"],
                clean.as_u64() == Some(1),
                "{name}: clean session"
            );
        }
    }
    conn
}

#[test]
fn success_mqtt311_tls13() {
    assert_no_error(&check_decrypted("01_success_mqtt311"), "01");
}

#[test]
fn success_mqtt5_tls13() {
    assert_no_error(&check_decrypted("02_success_mqtt5"), "02");
}

#[test]
fn success_mqtt311_tls12() {
    assert_no_error(&check_decrypted("03_success_mqtt311_tls12"), "03");
}

#[test]
fn untrusted_server_ca_tls13_shows_the_endpoints_chain() {
    let c = check_decrypted("05_untrusted_server_ca_tls13");
    assert_has(&c, "05", "AUTH.SERVER_CERT_UNTRUSTED");
    assert_eq!(
        c["tls"]["subject"],
        "CN=abc123example-ats.iot.us-east-1.amazonaws.com"
    );
    assert_eq!(
        c["tls"]["issuerdn"],
        "C=US, O=Test Amazon, CN=Test Amazon Root CA 1"
    );
}

#[test]
fn no_client_cert_tls12() {
    assert_has(
        &check_decrypted("07_no_client_cert_tls12"),
        "07",
        "AUTH.CLIENT_CERT_MISSING",
    );
}

#[test]
fn no_client_cert_tls13_sharpens_to_missing() {
    let c = check_decrypted("08_no_client_cert_tls13");
    assert_has(&c, "08", "AUTH.CLIENT_CERT_MISSING");
    assert!(
        !codes(&c).iter().any(|x| x == "AUTH.CLIENT_CERT_REJECTED"),
        "08: {:?}",
        c["findings"]
    );
}

#[test]
fn client_cert_unknown_ca_tls12() {
    assert_has(
        &check_decrypted("10_client_cert_unknown_ca_tls12"),
        "10",
        "AUTH.CLIENT_CERT_REJECTED",
    );
}

#[test]
fn client_cert_expired_tls13_sharpens_to_expired() {
    let c = check_decrypted("12_client_cert_expired_tls13");
    assert_has(&c, "12", "AUTH.CLIENT_CERT_EXPIRED");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTH.CLIENT_CERT_EXPIRED")
        .unwrap();
    assert!(
        f["summary"].as_str().unwrap().contains("expired-device"),
        "{f}"
    );
    assert!(f["summary"].as_str().unwrap().contains("2025-11-26"), "{f}");
}

#[test]
fn client_cert_expired_tls12() {
    assert_has(
        &check_decrypted("13_client_cert_expired_tls12"),
        "13",
        "AUTH.CLIENT_CERT_EXPIRED",
    );
}

#[test]
fn hostname_mismatch_ip_is_certain_with_the_certificate() {
    let c = check_decrypted("14_hostname_mismatch_ip");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTH.SERVER_NAME_MISMATCH")
        .unwrap();
    assert_eq!(f["certainty"], "certain", "{f}");
    assert!(f["summary"].as_str().unwrap().contains("127.0.0.1"), "{f}");
}

#[test]
fn sni_absent() {
    let c = check_decrypted("15_sni_absent_s_client");
    assert_has(&c, "15", "CONN.SNI_MISSING");
    assert_no_error(&c, "15");
}

#[test]
fn publish_outside_acl_names_the_topic() {
    let c = check_decrypted("20_publish_outside_acl_mqtt5");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTHZ.PUBLISH_DENIED")
        .unwrap();
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("devices/other/telemetry"),
        "{f}"
    );
    let steps = strings(&f["next_steps"]).join("\n");
    assert!(
        steps.contains("arn:aws:iot:us-east-1:ACCOUNT:topic/devices/other/telemetry"),
        "{steps}"
    );
    // the certificate ID AWS uses: SHA-256 of the device certificate's DER
    let id = c["tls"]["client"]["certificate_id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(steps.contains(id), "{steps}");
}

#[test]
fn connect_bad_protocol_level() {
    let c = check_decrypted("21_connect_bad_protocol_level");
    assert_has(&c, "21", "MQTT.CONNECT_REFUSED");
}

#[test]
fn a_wrong_key_log_is_an_info_finding_and_the_rest_still_decodes() {
    let dir = reference_captures().join("lab");
    let (conns, out) = replay_json(&[
        "--keylog",
        dir.join("01_success_mqtt311.keys").to_str().unwrap(),
        dir.join("02_success_mqtt5.pcap").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = &conns[0];
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "TLS.NOT_DECRYPTED")
        .unwrap();
    assert_eq!(f["severity"], "info");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("no secrets for client random"),
        "{f}"
    );
    assert_eq!(c["tls"]["version"], "TLS 1.3");
}

#[test]
fn keys_embedded_in_pcapng_decrypt_without_a_key_log() {
    if !iotscope_tests::have_tool("editcap") {
        return;
    }
    let dir = reference_captures().join("lab");
    let tmp = std::env::temp_dir().join(format!("iotscope-dsb-{}.pcapng", std::process::id()));
    let status = std::process::Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!(
            "tls,{}",
            dir.join("20_publish_outside_acl_mqtt5.keys").display()
        ))
        .arg(dir.join("20_publish_outside_acl_mqtt5.pcap"))
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(status.success());
    let (conns, _) = replay_json(&[tmp.to_str().unwrap()]);
    let _ = std::fs::remove_file(&tmp);
    let c = &conns[0];
    assert_has(c, "20 (pcapng with secrets)", "AUTHZ.PUBLISH_DENIED");
    assert_eq!(c["mqtt"]["connect"]["client_id"], "good-pub-other-v5");
}

//! Every file of `captures/reference/public/oracle.json`, replayed: SNI, TLS versions, cipher,
//! certificate subjects and issuers, alerts, MQTT client ids, topics and CONNACK / SUBACK codes
//! must be what tshark (and Suricata's own tests) recorded.

use iotscope_tests::{dn_parts, reference_captures, replay_json};
use serde_json::Value;

fn oracle() -> Vec<Value> {
    let p = reference_captures().join("public/oracle.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn replay_entry(entry: &Value) -> Vec<Value> {
    let dir = reference_captures().join("public");
    let file = dir.join(entry["file"].as_str().unwrap());
    let mut args = vec![file.to_str().unwrap().to_string()];
    if let Some(k) = entry["keylog_file"].as_str() {
        args.insert(0, dir.join(k).to_str().unwrap().to_string());
        args.insert(0, "--keylog".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (conns, out) = replay_json(&refs);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}: exit {:?}: {}",
        entry["file"],
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    conns
}

/// tshark's message type names, in the spec's words.
fn mqtt_type(tshark: &str) -> &'static str {
    match tshark {
        "Connect Command" => "CONNECT",
        "Connect Ack" => "CONNACK",
        "Publish Message" => "PUBLISH",
        "Publish Ack" => "PUBACK",
        "Publish Received" => "PUBREC",
        "Publish Release" => "PUBREL",
        "Publish Complete" => "PUBCOMP",
        "Subscribe Request" => "SUBSCRIBE",
        "Subscribe Ack" => "SUBACK",
        "Unsubscribe Request" => "UNSUBSCRIBE",
        "Unsubscribe Ack" => "UNSUBACK",
        "Ping Request" => "PINGREQ",
        "Ping Response" => "PINGRESP",
        "Disconnect Req" => "DISCONNECT",
        "Authentication Exchange" => "AUTH",
        other => panic!("unknown tshark MQTT type {other}"),
    }
}

fn check_mqtt(name: &str, conns: &[Value], want: &[Value]) {
    let ours: Vec<&Value> = conns
        .iter()
        .flat_map(|c| c["mqtt"]["packets"].as_array().into_iter().flatten())
        .collect();
    let total: usize = want.iter().map(|m| strs(&m["msgtype"]).len()).sum();
    assert_eq!(ours.len(), total, "{name}: MQTT packet count");
    let mut next = ours.iter();
    // tshark gives one entry per frame; a frame may hold several packets, whose fields it
    // lists one after the other.
    for m in want {
        let types: Vec<&'static str> = strs(&m["msgtype"]).iter().map(|t| mqtt_type(t)).collect();
        let packets: Vec<&Value> = next.by_ref().take(types.len()).copied().collect();
        let got: Vec<&str> = packets
            .iter()
            .map(|p| p["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            got, types,
            "{name}: MQTT packet types in frame {}",
            m["frame"]
        );
        let joined = |f: &dyn Fn(&Value) -> Vec<String>| -> Vec<String> {
            packets.iter().flat_map(|p| f(p)).collect()
        };
        let field = |key: &'static str| {
            move |p: &Value| -> Vec<String> {
                match &p[key] {
                    Value::Null => vec![],
                    Value::String(s) => vec![s.clone()],
                    v => vec![v.to_string()],
                }
            }
        };
        let check = |tshark_key: &str, ours: Vec<String>| {
            let want = strs(&m[tshark_key]);
            if !want.is_empty() {
                assert_eq!(ours, want, "{name}: {tshark_key} in frame {}", m["frame"]);
            }
        };
        check("mqtt.clientid", joined(&field("client_id")));
        check("mqtt.username", joined(&field("username")));
        check("mqtt.ver", joined(&field("protocol_version")));
        check("mqtt.protoname", joined(&field("protocol_string")));
        check(
            "mqtt.topic",
            joined(&|p: &Value| match p["type"].as_str() {
                Some("PUBLISH") => vec![p["topic"].as_str().unwrap().to_string()],
                _ => p["topics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| x.get("topic").unwrap_or(x).as_str().unwrap().to_string())
                    .collect(),
            }),
        );
        let connack_codes = joined(&field("return_code"));
        check("mqtt.conack.val", connack_codes.clone());
        check("mqtt.connack.reason_code", connack_codes);
        let suback = joined(&|p: &Value| {
            p["qos_granted"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x.to_string())
                .collect()
        });
        check("mqtt.suback.qos", suback.clone());
        check("mqtt.suback.reason_code", suback);
        check("mqtt.msgid", joined(&field("message_id")));
        let qos = joined(&|p: &Value| {
            if p["type"] == "PUBLISH" {
                vec![p["qos"].to_string()]
            } else {
                vec![]
            }
        });
        check("mqtt.qos", qos);
    }
}

fn check_tls(name: &str, conns: &[Value], t: &Value) {
    let hellos: Vec<&Value> = conns
        .iter()
        .filter(|c| c["tls"]["client_handshake"].is_object())
        .collect();
    for (i, ch) in t["client_hello"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let c = hellos
            .get(i)
            .unwrap_or_else(|| panic!("{name}: ClientHello {i} missing"));
        let sni = strs(&ch["sni"]);
        assert_eq!(
            c["tls"]["sni"].as_str().map(String::from),
            sni.first().cloned(),
            "{name}: SNI"
        );
        assert_eq!(
            c["tls"]["client_handshake"]["legacy_version"],
            strs(&ch["legacy_version"])[0].as_str(),
            "{name}: legacy version"
        );
        let versions: Vec<String> = strs(&c["tls"]["client_handshake"]["supported_versions"])
            .into_iter()
            .map(|v| {
                if v == "GREASE" {
                    "Reserved (GREASE)".to_string()
                } else {
                    v
                }
            })
            .collect();
        assert_eq!(
            versions,
            strs(&ch["supported_versions"]),
            "{name}: supported_versions"
        );
        assert_eq!(
            strs(&c["tls"]["client_alpns"]),
            strs(&ch["alpn"]),
            "{name}: ALPN"
        );
    }
    let servers: Vec<&Value> = conns
        .iter()
        .filter(|c| c["tls"]["server_handshake"].is_object())
        .collect();
    for (i, sh) in t["server_hello"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let c = servers
            .get(i)
            .unwrap_or_else(|| panic!("{name}: ServerHello {i} missing"));
        let version = strs(&sh["selected_version"])
            .first()
            .cloned()
            .unwrap_or_else(|| strs(&sh["version"])[0].clone());
        assert_eq!(c["tls"]["version"], version.as_str(), "{name}: version");
        assert_eq!(
            c["tls"]["cipher"],
            strs(&sh["cipher"])[0].as_str(),
            "{name}: cipher"
        );
        if let Some(g) = strs(&sh["key_share_group"]).first() {
            assert_eq!(
                c["tls"]["server_handshake"]["key_share_group"],
                g.as_str(),
                "{name}: key share group"
            );
        }
        assert_eq!(
            strs(&c["tls"]["server_alpns"]),
            strs(&sh["alpn"]),
            "{name}: server ALPN"
        );
    }
    // certificates: every one tshark saw, by side, subject and issuer
    for cert in t["certificates"].as_array().into_iter().flatten() {
        let subject = dn_parts(cert["subject"].as_str().unwrap());
        let issuer = dn_parts(cert["issuer"].as_str().unwrap());
        let found = conns.iter().any(|c| {
            c["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|msg| {
                    msg["chain"].as_array().unwrap().iter().any(|x| {
                        dn_parts(x["subject"].as_str().unwrap_or("")) == subject
                            && dn_parts(x["issuer"].as_str().unwrap_or("")) == issuer
                    })
                })
        });
        assert!(
            found,
            "{name}: certificate {subject:?} issued by {issuer:?} not found"
        );
    }
    // alerts: level and description
    let ours: Vec<(String, u64)> = conns
        .iter()
        .flat_map(|c| c["tls"]["alerts"].as_array().into_iter().flatten())
        .filter(|a| !a["description"].is_null())
        .map(|a| {
            (
                a["level"].as_str().unwrap_or("?").to_string(),
                a["description"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = t["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["level"].as_str().unwrap().to_ascii_lowercase(),
                a["desc"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(ours, want, "{name}: alerts");
}

/// Suricata's own expectations (`tls.*` on the connection object, as eve names them).
fn check_suricata(name: &str, conns: &[Value], entry: &Value) {
    const KEYS: [&str; 11] = [
        "tls.sni",
        "tls.version",
        "tls.subject",
        "tls.issuerdn",
        "tls.serial",
        "tls.fingerprint",
        "tls.notbefore",
        "tls.notafter",
        "tls.client.serial",
        "tls.client.notbefore",
        "tls.client.notafter",
    ];
    for test in entry["facts"]["suricata_tests"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for check in test["checks"].as_array().into_iter().flatten() {
            let m = &check["match"];
            if m["event_type"] != "tls" {
                continue;
            }
            for key in KEYS {
                let Some(want) = m.get(key) else { continue };
                let path: Vec<&str> = key.split('.').collect();
                let hit = conns
                    .iter()
                    .any(|c| path.iter().try_fold(c, |v, k| v.get(*k)) == Some(want));
                assert!(hit, "{name}: Suricata expects {key} = {want}");
            }
        }
    }
}

#[test]
fn every_public_capture_matches_its_oracle() {
    let entries = oracle();
    assert_eq!(entries.len(), 20);
    for entry in &entries {
        let name = entry["file"].as_str().unwrap();
        let conns = replay_entry(entry);
        assert!(!conns.is_empty(), "{name}: no connection");
        let t = &entry["tshark"];
        check_tls(name, &conns, t);
        if let Some(m) = t["mqtt"].as_array() {
            check_mqtt(name, &conns, m);
        }
        check_suricata(name, &conns, entry);
    }
}

#[test]
fn illustrated_captures_decrypt_to_ping_and_pong() {
    for entry in oracle().iter().filter(|e| e["keylog_file"].is_string()) {
        let name = entry["file"].as_str().unwrap();
        let conns = replay_entry(entry);
        let facts = &entry["facts"]["illustrated"];
        let c = &conns[0];
        let want = dn_parts(
            facts["server_cert"]["subject"]
                .as_str()
                .unwrap()
                .split(" (")
                .next()
                .unwrap(),
        );
        let subjects: Vec<Vec<String>> = c["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["from"] == "endpoint")
            .flat_map(|m| {
                m["chain"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| dn_parts(x["subject"].as_str().unwrap()))
            })
            .collect();
        assert!(
            subjects.contains(&want),
            "{name}: server certificate {want:?} not in {subjects:?}"
        );
        let data: Vec<(String, String)> = c["application_data"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no decrypted application data"))
            .iter()
            .map(|d| {
                (
                    d["from"].as_str().unwrap().to_string(),
                    d["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let app = &facts["app_data"];
        assert!(
            data.contains(&("device".into(), app["client"].as_str().unwrap().into())),
            "{name}: {data:?}"
        );
        assert!(
            data.contains(&("endpoint".into(), app["server"].as_str().unwrap().into())),
            "{name}: {data:?}"
        );
    }
}

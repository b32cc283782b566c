//! Precision: every capture in the repository is replayed, and each error finding must be one
//! the capture's own record of what happened supports. A connection that worked — the record
//! says the client succeeded, or the endpoint's CONNACK 0 is in tshark's view with no refusal
//! after it — carries no error, unless its bytes prove a device-side defect (a malformed
//! packet from the device). A CONN.NO_ANSWER needs a record that shows the endpoint silent.
//!
//! The test also counts, per reference set, the connections that carry each code, and keeps
//! the counts in `tests/precision-counts.md` (which `docs/diagnoses.md` includes). The file
//! must match what the replays give; regenerate it on purpose with
//!
//!     IOTSCOPE_BLESS=1 cargo test -p iotscope-tests --test precision
//!
//! and then `docs/diagnoses.md` with `cargo run -q -p iotscope -- explain --markdown`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iotscope_tests::{replay_json, root};
use serde_json::Value;

const SETS: [&str; 5] = [
    "captures/samples",
    "captures/resumption",
    "captures/reference/public",
    "captures/reference/lab",
    "captures/reference/wild",
];

fn captures(set: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(set))
        .unwrap_or_else(|e| panic!("{set}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in {set}");
    files
}

fn keylog_of(pcap: &Path) -> Option<PathBuf> {
    let stem = pcap.file_stem()?.to_str()?;
    [format!("{stem}.keys"), format!("{stem}.keylog.txt")]
        .into_iter()
        .map(|n| pcap.with_file_name(n))
        .find(|p| p.exists())
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// What the record says about one connection.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Record {
    /// The connection worked end to end.
    worked: bool,
    /// The record shows the endpoint sending something on this connection.
    endpoint_spoke: bool,
}

/// The port number at the end of `host:port` or `[v6]:port`.
fn port(addr: &str) -> Option<u16> {
    addr.rsplit(':').next()?.parse().ok()
}

/// The oracle entry (public/ and wild/) of one file.
fn oracle_entry(set: &Path, file: &str) -> Option<Value> {
    let oracle = read_json(&set.join("oracle.json"));
    oracle
        .as_array()?
        .iter()
        .find(|e| e["file"] == file)
        .cloned()
}

/// tshark's MQTT view of one connection, as (from_endpoint, packet type, code) — both
/// oracle layouts (`src`/`dst` with numeric types, and `ports` with names).
fn tshark_mqtt(entry: &Value, device_port: u16, endpoint_port: u16) -> Vec<(bool, u8, u8)> {
    let Some(list) = entry["tshark"]["mqtt"].as_array() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in list {
        let (from, to) = if let Some(ports) = m["ports"].as_str() {
            let (a, b) = ports.split_once("->").unwrap_or(("", ""));
            (a.parse().ok(), b.parse().ok())
        } else {
            (
                m["src"].as_str().and_then(port),
                m["dst"].as_str().and_then(port),
            )
        };
        let from_endpoint = match (from, to) {
            (Some(f), Some(t)) if f == endpoint_port && t == device_port => true,
            (Some(f), Some(t)) if f == device_port && t == endpoint_port => false,
            _ => continue,
        };
        let kind = match &m["msgtype"] {
            Value::Number(n) => n.as_u64().unwrap_or(0) as u8,
            Value::Array(names) => match names.first().and_then(Value::as_str) {
                Some("Connect Ack") => 2,
                Some("Publish Ack") => 4,
                Some("Subscribe Ack") => 9,
                Some("Disconnect Req") => 14,
                _ => 0,
            },
            _ => 0,
        };
        let first_code = |v: &Value| -> Option<u8> {
            match v {
                Value::Number(n) => n.as_u64().map(|x| x as u8),
                Value::String(s) => s.parse().ok(),
                Value::Array(a) => a.iter().find_map(|x| {
                    x.get("code")
                        .and_then(Value::as_u64)
                        .map(|c| c as u8)
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                }),
                _ => None,
            }
        };
        let code = [
            "connack_return_code",
            "connack_reason_codes",
            "mqtt.connack.reason_code",
            "mqtt.conack.val",
            "suback_reason_codes",
            "disconnect_reason_codes",
        ]
        .iter()
        .find_map(|k| first_code(&m[*k]))
        .unwrap_or(0);
        out.push((from_endpoint, kind, code));
    }
    out
}

fn record_of(set: &str, pcap: &Path, conn: &Value) -> Record {
    let dir = pcap.parent().unwrap();
    let file = pcap.file_name().unwrap().to_str().unwrap();
    let stem = pcap.file_stem().unwrap().to_str().unwrap();
    match set {
        "captures/reference/lab" => {
            let e = read_json(&dir.join(format!("{stem}.expect.json")));
            let g = &e["ground_truth"];
            Record {
                worked: g["outcome"] == "success",
                endpoint_spoke: true,
            }
        }
        // captures/resumption/README.md: in each file both connections get CONNACK 0.
        "captures/resumption" => Record {
            worked: true,
            endpoint_spoke: true,
        },
        "captures/samples" => {
            let e = read_json(&dir.join(format!("{stem}.facts.json")));
            let c = &e["client"];
            let stdout = c["stdout"].to_string();
            Record {
                worked: c["exit_code"] == 0
                    && c["stderr"].as_array().is_none_or(|a| a.is_empty())
                    && stdout.contains("received CONNACK (0)"),
                endpoint_spoke: true,
            }
        }
        _ => {
            let Some(entry) = oracle_entry(dir, file) else {
                return Record::default();
            };
            let device = conn["device"].as_str().and_then(port).unwrap_or(0);
            let endpoint = conn["endpoint"].as_str().and_then(port).unwrap_or(0);
            let mqtt = tshark_mqtt(&entry, device, endpoint);
            let accepted = mqtt.iter().any(|&(e, k, c)| e && k == 2 && c == 0);
            let refused_later = mqtt
                .iter()
                .any(|&(e, k, c)| e && matches!(k, 4 | 9 | 14) && c >= 0x80);
            Record {
                worked: accepted && !refused_later,
                endpoint_spoke: mqtt.iter().any(|&(e, _, _)| e),
            }
        }
    }
}

fn errors(conn: &Value) -> Vec<&Value> {
    conn["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["severity"] == "error").collect())
        .unwrap_or_default()
}

#[derive(Default)]
struct Counts {
    connections: usize,
    with_error: usize,
    /// code → severity → connections
    codes: BTreeMap<String, BTreeMap<String, usize>>,
}

#[test]
fn error_findings_are_supported_by_the_recorded_facts() {
    let mut problems = Vec::new();
    let mut table: Vec<(&str, Counts)> = Vec::new();
    let mut checked = 0;
    for set in SETS {
        let mut counts = Counts::default();
        for pcap in captures(set) {
            let rel = pcap.strip_prefix(root()).unwrap().to_path_buf();
            let keylog = keylog_of(&pcap);
            // Without keys, and with them when the capture has a key log; the counts come
            // from the best-informed replay.
            let mut runs = vec![None];
            if let Some(k) = &keylog {
                runs.push(Some(k.clone()));
            }
            let best = runs.len() - 1;
            for (i, k) in runs.iter().enumerate() {
                let mut args = vec![pcap.to_str().unwrap().to_string()];
                if let Some(k) = k {
                    args.push("--keylog".into());
                    args.push(k.to_str().unwrap().to_string());
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let (objects, _) = replay_json(&args);
                for conn in objects.iter().filter(|o| o.get("findings").is_some()) {
                    checked += 1;
                    let record = record_of(set, &pcap, conn);
                    let errs = errors(conn);
                    let what = format!(
                        "{}{} connection {} ({} → {})",
                        rel.display(),
                        if k.is_some() { " with keys" } else { "" },
                        conn["connection"],
                        conn["device"].as_str().unwrap_or("?"),
                        conn["endpoint"].as_str().unwrap_or("?")
                    );
                    for f in &errs {
                        if record.worked {
                            problems.push(format!(
                                "{what}: worked by its record, yet carries error {}: {}",
                                f["code"], f["summary"]
                            ));
                        }
                        if f["code"] == "CONN.NO_ANSWER" && record.endpoint_spoke {
                            problems.push(format!(
                                "{what}: CONN.NO_ANSWER, but the record shows the endpoint answering"
                            ));
                        }
                    }
                    if i == best {
                        counts.connections += 1;
                        if !errs.is_empty() {
                            counts.with_error += 1;
                        }
                        let mut seen = std::collections::BTreeSet::new();
                        for f in conn["findings"].as_array().into_iter().flatten() {
                            let code = f["code"].as_str().unwrap_or("?").to_string();
                            let sev = f["severity"].as_str().unwrap_or("?").to_string();
                            if seen.insert((code.clone(), sev.clone())) {
                                *counts
                                    .codes
                                    .entry(code)
                                    .or_default()
                                    .entry(sev)
                                    .or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        table.push((set, counts));
    }
    assert!(checked > 80, "only {checked} connections replayed");
    assert!(
        problems.is_empty(),
        "{} error findings the records do not support:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let text = render(&table);
    let path = root().join("tests/precision-counts.md");
    if std::env::var_os("IOTSCOPE_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "tests/precision-counts.md is stale; regenerate it with IOTSCOPE_BLESS=1 cargo test -p iotscope-tests --test precision, then docs/diagnoses.md. Now:\n{text}"
    );
}

fn render(table: &[(&str, Counts)]) -> String {
    let mut s = String::new();
    s.push_str("| set | connections | with an error |\n|---|---|---|\n");
    for (set, c) in table {
        let name = set
            .trim_start_matches("captures/reference/")
            .trim_start_matches("captures/");
        s.push_str(&format!(
            "| `{name}` | {} | {} |\n",
            c.connections, c.with_error
        ));
    }
    s.push_str("\nConnections that carry each code, by severity (error / warning / info):\n\n");
    s.push_str("| code |");
    for (set, _) in table {
        let name = set
            .trim_start_matches("captures/reference/")
            .trim_start_matches("captures/");
        s.push_str(&format!(" `{name}` |"));
    }
    s.push_str("\n|---|");
    for _ in table {
        s.push_str("---|");
    }
    s.push('\n');
    let mut all: Vec<&String> = table.iter().flat_map(|(_, c)| c.codes.keys()).collect();
    all.sort();
    all.dedup();
    for code in all {
        s.push_str(&format!("| `{code}` |"));
        for (_, c) in table {
            let by = c.codes.get(code);
            let n = |sev: &str| by.and_then(|b| b.get(sev)).copied().unwrap_or(0);
            let (e, w, i) = (n("error"), n("warning"), n("info"));
            if e + w + i == 0 {
                s.push_str(" – |");
            } else {
                s.push_str(&format!(" {e} / {w} / {i} |"));
            }
        }
        s.push('\n');
    }
    s
}

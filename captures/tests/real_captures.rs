//! Every reference capture, checked against what tshark and the lab recorded about it:
//! frame counts, connections, which side is the device, bytes per direction, and who sent
//! FIN and RST. Where tshark is installed, the reassembled bytes are also compared with
//! tshark's own `follow,tcp,raw` output.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pcaps_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    names
}

/// The port after the last ':' of "addr:port" as the oracle writes it.
fn port_of(s: &str) -> u16 {
    s.rsplit(':').next().unwrap().parse().unwrap()
}

/// The device's port according to the oracle: the ClientHello's sender, or the sender of
/// CONNECT / receiver of CONNACK.
fn oracle_device_port(entry: &Value) -> u16 {
    let t = &entry["tshark"];
    if let Some(ch) = t["client_hello"].as_array().and_then(|a| a.first()) {
        return port_of(ch["client"].as_str().unwrap());
    }
    for m in t["mqtt"]
        .as_array()
        .expect("mqtt or client_hello in oracle")
    {
        let ports = m["ports"].as_str().unwrap();
        let (src, dst) = ports.split_once("->").unwrap();
        let types: Vec<&str> = m["msgtype"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if types.contains(&"Connect Command") {
            return src.parse().unwrap();
        }
        if types.contains(&"Connect Ack") {
            return dst.parse().unwrap();
        }
    }
    panic!("{}: no CONNECT, CONNACK or ClientHello", entry["file"]);
}

/// tshark's reassembled stream 0: (node 0 address, node 0 bytes, node 1 bytes).
fn tshark_follow(path: &Path) -> (SocketAddr, Vec<u8>, Vec<u8>) {
    let text = tshark(&["-r", path.to_str().unwrap(), "-q", "-z", "follow,tcp,raw,0"]);
    let mut node0: Option<SocketAddr> = None;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(addr) = line.strip_prefix("Node 0: ") {
            node0 = Some(addr.trim().parse().expect("node address"));
            continue;
        }
        if line.starts_with("Node 1: ")
            || line.starts_with("Follow:")
            || line.starts_with("Filter:")
            || line.starts_with("====")
            || line.is_empty()
        {
            continue;
        }
        let (target, hex) = match line.strip_prefix('\t') {
            Some(h) => (&mut b, h),
            None => (&mut a, line),
        };
        for i in (0..hex.len()).step_by(2) {
            target.push(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        }
    }
    (node0.expect("Node 0 line"), a, b)
}

fn compare_with_tshark_follow(path: &Path, flow: &FlowSummary) {
    let (node0, a, b) = tshark_follow(path);
    let device = flow.device.unwrap();
    let (dev_bytes, end_bytes) = if node0 == device { (a, b) } else { (b, a) };
    assert!(
        flow.data[D2E.index()] == dev_bytes,
        "{}: device bytes differ from tshark ({} vs {})",
        path.display(),
        flow.data[D2E.index()].len(),
        dev_bytes.len()
    );
    assert!(
        flow.data[E2D.index()] == end_bytes,
        "{}: endpoint bytes differ from tshark ({} vs {})",
        path.display(),
        flow.data[E2D.index()].len(),
        end_bytes.len()
    );
}

#[test]
fn public_captures_match_the_oracle() {
    let dir = captures_dir().join("public");
    let oracle = read_json(&dir.join("oracle.json"));
    let entries = oracle.as_array().expect("oracle is a list");
    let files = pcaps_in(&dir);
    assert_eq!(
        files.len(),
        entries.len(),
        "every capture has an oracle entry"
    );
    let with_tshark = tshark_available();
    for entry in entries {
        let name = entry["file"].as_str().unwrap();
        let path = dir.join(name);
        let run = run_file(&path);
        assert!(run.error.is_none(), "{name}: {:?}", run.error);
        assert_eq!(
            run.packets.len() as u64,
            entry["tshark"]["packets"].as_u64().unwrap(),
            "{name}: frame count"
        );
        let flows = run.flows();
        assert_eq!(flows.len(), 1, "{name}: one TCP connection");
        let flow = &flows[0];
        assert_eq!(
            flow.device.unwrap().port(),
            oracle_device_port(entry),
            "{name}: device side"
        );
        assert_eq!(flow.gaps, [0, 0], "{name}: nothing missing");
        assert!(
            !flow.data[0].is_empty() && !flow.data[1].is_empty(),
            "{name}"
        );
        if with_tshark {
            compare_with_tshark_follow(&path, flow);
        }
    }
}

#[test]
fn lab_captures_match_their_expect_files() {
    let dir = captures_dir().join("lab");
    let files = pcaps_in(&dir);
    assert!(files.len() >= 15, "lab captures present");
    let with_tshark = tshark_available();
    for name in files {
        let path = dir.join(&name);
        let expect = read_json(&dir.join(name.replace(".pcap", ".expect.json")));
        let tcp = &expect["wire_view_without_keys"]["tcp"];
        let run = run_file(&path);
        assert!(run.error.is_none(), "{name}: {:?}", run.error);
        let frames = expect["frames_wire"].as_array().unwrap();
        assert_eq!(run.packets.len(), frames.len(), "{name}: frame count");
        let flows = run.flows();
        assert_eq!(
            flows.len() as u64,
            tcp["connections"].as_u64().unwrap(),
            "{name}: connections"
        );
        let flow = &flows[0];
        assert!(flow.syn_seen, "{name}");
        assert_eq!(
            u64::from(flow.device.unwrap().port()),
            frames[0]["client_port"].as_u64().unwrap(),
            "{name}: device port"
        );
        assert_eq!(
            u64::from(flow.endpoint.unwrap().port()),
            expect["setup"]["port"].as_u64().unwrap(),
            "{name}: endpoint port"
        );
        let bytes = &tcp["payload_bytes"];
        assert_eq!(
            flow.data[D2E.index()].len() as u64,
            bytes["client"].as_u64().unwrap(),
            "{name}: device bytes"
        );
        assert_eq!(
            flow.data[E2D.index()].len() as u64,
            bytes["broker"].as_u64().unwrap(),
            "{name}: endpoint bytes"
        );
        let side = |d: common::Dir| if d == D2E { "client" } else { "broker" };
        let first_fin = flow.first_fin.map(side);
        assert_eq!(
            first_fin,
            tcp["first_fin_from"].as_str(),
            "{name}: first FIN"
        );
        let mut rst_from: Vec<&str> = [D2E, E2D]
            .into_iter()
            .filter(|d| flow.rst[d.index()])
            .map(side)
            .collect();
        rst_from.sort();
        let mut expected: Vec<&str> = tcp["rst_from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        expected.sort();
        assert_eq!(rst_from, expected, "{name}: RST senders");
        // Every connection here opened with a handshake: Open comes first, from the device.
        assert_eq!(
            flow.trail.first(),
            Some(&(D2E, "open".to_string())),
            "{name}"
        );
        if with_tshark {
            compare_with_tshark_follow(&path, flow);
        }
    }
}

#[test]
fn midstream_capture_yields_its_mqtt_bytes_with_the_device_right() {
    let run = run_file(&captures_dir().join("public/sv_mqtt_midstream_split.pcap"));
    let flows = run.flows();
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert!(!f.syn_seen);
    assert_eq!(f.device.unwrap(), "127.0.0.1:33896".parse().unwrap());
    assert_eq!(f.endpoint.unwrap(), "127.0.0.33:1883".parse().unwrap());
    // The CONNACK arrives split: 0x20 alone, then the remaining 51 bytes.
    let from_endpoint = &f.data[E2D.index()];
    assert_eq!(from_endpoint.len(), 52);
    assert_eq!(&from_endpoint[..3], &[0x20, 0x32, 0x00]);
    // The device's PUBLISH (32747 + 21 + 3003 bytes) and DISCONNECT (e0 00).
    let from_device = &f.data[D2E.index()];
    assert_eq!(from_device.len(), 32747 + 21 + 3003 + 2);
    assert_eq!(&from_device[..2], &[0x30, 0xb7]);
    assert_eq!(&from_device[from_device.len() - 2..], &[0xe0, 0x00]);
    assert_eq!(f.gaps, [0, 0]);
    assert_eq!(f.trail.first(), Some(&(E2D, "data 1".to_string())));
    assert_eq!(f.first_fin, Some(D2E));
    let opened_hint = run.events.iter().find_map(|e| match e {
        iotscope_captures::StreamEvent::Opened { hint, .. } => Some(*hint),
        _ => None,
    });
    assert_eq!(opened_hint, Some(Some(iotscope_decoder::AppProtocol::Mqtt)));
}

#[test]
fn retransmissions_after_close_are_not_a_new_connection() {
    // The server retransmits its FIN+alert for 57 s after the client's FIN.
    let run = run_file(&captures_dir().join("public/sv_tls12_sni_github.pcap"));
    let flows = run.flows();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].fin, [true, true]);
}

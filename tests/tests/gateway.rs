//! `iotscope proxy --transparent` on a gateway, in network namespaces the tests make
//! ([`iotscope_tests::netns`]): the device dials the endpoint's own name and address, a
//! firewall rule in the gateway hands the connection to iotscope, and iotscope relays it to
//! the mosquitto broker (TLS, client certificates required) in the endpoint namespace.
//!
//! The firewall rules are the ones docs/gateway.md gives, with the lab's addresses: nftables
//! REDIRECT, iptables REDIRECT and nftables TPROXY each get a test.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use iotscope_tests::mosquitto::{mosquitto_bin, run_device};
use iotscope_tests::netns::{self, Lab, DEVICE, DEVICE6, ENDPOINT, ENDPOINT6, ENDPOINT_OTHER};
use iotscope_tests::pki::{ca, Dir, Leaf};
use iotscope_tests::proxy::ProxyProcess;
use iotscope_tests::{codes, codes_of, have_tool, iotscope_path};
use serde_json::Value;

const NAME: &str = "endpoint.test";
const LISTEN: &str = "[::]:8443";

/// The tools every test here needs; false (skip) where they are missing outside CI.
fn ready(firewall: &str) -> Option<PathBuf> {
    if !netns::available()
        || !have_tool(firewall)
        || !have_tool("mosquitto_pub")
        || !have_tool("openssl")
    {
        return None;
    }
    mosquitto_bin()
}

/// Certificates and the broker's configuration, in a directory removed on drop.
struct Files {
    dir: Dir,
    ca: String,
    device_cert: String,
    device_key: String,
}

impl Files {
    fn new(tag: char) -> Files {
        let dir = Dir::new(&format!("gw-{tag}"));
        let ca = ca("iotscope gateway CA");
        // The broker's certificate holds the name and both addresses, as a device may dial
        // either.
        let server = Leaf::new(&ca, NAME, &[NAME, ENDPOINT, ENDPOINT6], false);
        let dev = Leaf::new(&ca, "thermostat-12", &[], true);
        let ca_pem = dir.put("ca.pem", &ca.pem());
        let scert = dir.put("server.pem", &server.cert_pem);
        let skey = dir.put("server.key", &server.key_pem);
        dir.put(
            "mosquitto.conf",
            &format!(
                "listener 8883\nallow_anonymous true\ncafile {ca_pem}\ncertfile {scert}\nkeyfile {skey}\nrequire_certificate true\n"
            ),
        );
        Files {
            ca: ca_pem,
            device_cert: dir.put("device.pem", &dev.cert_pem),
            device_key: dir.put("device.key", &dev.key_pem),
            dir,
        }
    }

    fn conf(&self) -> String {
        self.dir.file("mosquitto.conf")
    }
}

/// A process in a namespace, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lab with the broker running in the endpoint namespace and `endpoint.test` known to
/// the device and the gateway.
fn lab(tag: char, mosquitto: &Path, files: &Files) -> (Lab, Running) {
    let lab = Lab::new(tag);
    // The device knows the name by its IPv4 address (it dials IPv6 by address); the gateway
    // by both, so that a host rule covers both.
    lab.hosts(
        &lab.device,
        &format!("127.0.0.1 localhost\n{ENDPOINT} {NAME}\n"),
    );
    lab.hosts(
        &lab.gateway,
        &format!("127.0.0.1 localhost\n{ENDPOINT} {NAME}\n{ENDPOINT6} {NAME}\n"),
    );
    let broker = lab
        .exec(&lab.endpoint, mosquitto.to_str().unwrap())
        .args(["-c", &files.conf()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let broker = Running(broker);
    lab.wait_listening(&lab.endpoint, 8883);
    (lab, broker)
}

/// `iotscope proxy --transparent` in the gateway namespace, with `--allow` for each of
/// `allow`, then `more`.
fn proxy(lab: &Lab, allow: &[&str], more: &[&str]) -> ProxyProcess {
    let mut cmd = lab.exec(&lab.gateway, iotscope_path().to_str().unwrap());
    cmd.args([
        "proxy",
        "--transparent",
        "--listen",
        LISTEN,
        "--format",
        "json",
        "--events",
        "--endpoint",
        NAME,
    ]);
    for a in allow {
        cmd.args(["--allow", a]);
    }
    cmd.args(more);
    ProxyProcess::spawn(cmd)
}

/// Runs a device command in the device namespace to completion (bounded), feeding it
/// `stdin`; true when it succeeded.
fn device(lab: &Lab, args: &[&str], stdin: &[u8]) -> bool {
    let (program, rest) = args.split_first().unwrap();
    let mut cmd = lab.exec(&lab.device, program);
    cmd.args(rest);
    run_device(cmd, stdin)
}

/// `mosquitto_pub` to `host` port 8883, with or without the device's certificate.
fn publish(lab: &Lab, files: &Files, host: &str, with_cert: bool) -> bool {
    let mut args = vec![
        "mosquitto_pub",
        "-h",
        host,
        "-p",
        "8883",
        "--cafile",
        &files.ca,
        "-t",
        "t/1",
        "-m",
        "hello",
        "-i",
        "thermostat-12",
    ];
    if with_cert {
        args.extend(["--cert", &files.device_cert, "--key", &files.device_key]);
    }
    device(lab, &args, b"")
}

/// An MQTT 3.1.1 CONNECT for client id `sclient-1`, then DISCONNECT.
const CONNECT_THEN_DISCONNECT: &[u8] =
    b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09sclient-1\xe0\x00";

/// `openssl s_client` to `addr` (HOST:PORT, [V6]:PORT) with SNI `endpoint.test`.
fn s_client(lab: &Lab, files: &Files, addr: &str) -> bool {
    device(
        lab,
        &[
            "openssl",
            "s_client",
            "-connect",
            addr,
            "-servername",
            NAME,
            "-brief",
            "-CAfile",
            &files.ca,
            "-cert",
            &files.device_cert,
            "-key",
            &files.device_key,
        ],
        CONNECT_THEN_DISCONNECT,
    )
}

/// Event names per direction, from `--events`.
fn events(conn: &Value, dir: &str) -> Vec<String> {
    conn["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["dir"] == dir)
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect()
}

/// The connection reached the broker through the proxy: both hellos crossed, the broker's
/// answer included application data, and nothing is an error.
fn assert_relayed(conn: &Value, endpoint: &str, name: &str, device_ip: &str) {
    assert_eq!(conn["endpoint"], endpoint, "{conn}");
    assert_eq!(conn["endpoint_name"], name, "{conn}");
    let device = conn["device"].as_str().unwrap_or_default();
    assert!(device.starts_with(device_ip), "device {device}");
    assert_eq!(conn["tls"]["sni"], NAME);
    assert!(
        events(conn, "device_to_endpoint").contains(&"client_hello".into()),
        "{conn}"
    );
    assert!(
        events(conn, "endpoint_to_device").contains(&"server_hello".into()),
        "{conn}"
    );
    assert!(codes_of(conn, "error").is_empty(), "{:?}", conn["findings"]);
}

/// The connection was refused by the proxy, and says why.
fn assert_refused(conn: &Value, endpoint: &str, why: &str) {
    assert_eq!(conn["endpoint"], endpoint, "{conn}");
    let finding = conn["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["code"] == "CONN.UPSTREAM_UNREACHABLE")
        .unwrap_or_else(|| panic!("no CONN.UPSTREAM_UNREACHABLE: {:?}", conn["findings"]));
    let summary = finding["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(why), "{summary}");
    // The device's ClientHello was read, but no byte came from any endpoint.
    assert!(
        events(conn, "device_to_endpoint").contains(&"client_hello".into()),
        "{conn}"
    );
    assert!(
        !events(conn, "endpoint_to_device").contains(&"server_hello".into()),
        "{conn}"
    );
}

/// docs/gateway.md, nftables: one device, ports 443, 8443 and 8883, IPv4 and IPv6.
fn nft_redirect(device: &str, device6: &str) -> String {
    format!(
        "table inet iotscope {{
	chain prerouting {{
		type nat hook prerouting priority dstnat; policy accept;
		ip saddr {device} tcp dport {{ 443, 8443, 8883 }} redirect to :8443
		ip6 saddr {device6} tcp dport {{ 443, 8443, 8883 }} redirect to :8443
	}}
}}
"
    )
}

#[test]
fn nftables_redirect_relays_to_the_original_destination() {
    let Some(mosquitto) = ready("nft") else {
        return;
    };
    let files = Files::new('a');
    let (lab, _broker) = lab('a', &mosquitto, &files);
    lab.run_with_input(
        &lab.gateway,
        &["nft", "-f", "-"],
        nft_redirect(DEVICE, DEVICE6).as_bytes(),
    );
    let recording = files.dir.join("gateway.pcapng");
    let recording = recording.to_str().unwrap();
    let p = proxy(&lab, &[&format!("{NAME}:8883")], &["--record", recording]);

    // The device dials the endpoint's name, as its firmware would.
    assert!(
        publish(&lab, &files, NAME, true),
        "publish through the gateway failed:\n{}",
        p.stderr()
    );
    let ok = p.next_connection();
    assert_relayed(&ok, &format!("{ENDPOINT}:8883"), NAME, DEVICE);

    // Without its certificate the broker turns it away, and the finding says so.
    assert!(!publish(&lab, &files, NAME, false));
    let no_cert = p.next_connection();
    assert_eq!(no_cert["endpoint"], format!("{ENDPOINT}:8883"));
    let found = codes(&no_cert);
    assert!(
        found
            .iter()
            .any(|c| c == "AUTH.CLIENT_CERT_MISSING" || c == "AUTH.CLIENT_CERT_REJECTED"),
        "{:?}",
        no_cert["findings"]
    );

    // IPv6, by address: the name resolves to it on the gateway too, so it is reported under
    // the name.
    s_client(&lab, &files, &format!("[{ENDPOINT6}]:8883"));
    let v6 = p.next_connection();
    assert_relayed(
        &v6,
        &format!("[{ENDPOINT6}]:8883"),
        NAME,
        &format!("[{DEVICE6}]"),
    );

    // A destination outside --allow: refused before anything is dialled, and reported.
    assert!(!s_client(&lab, &files, &format!("{ENDPOINT_OTHER}:8883")));
    let refused = p.next_connection();
    assert_refused(
        &refused,
        &format!("{ENDPOINT_OTHER}:8883"),
        &format!("original destination {ENDPOINT_OTHER}:8883 is not in --allow"),
    );
    assert_eq!(
        refused["device"].as_str().map(|d| d.starts_with(DEVICE)),
        Some(true)
    );

    let (status, rest, stderr) = p.stop();
    assert!(rest.is_empty(), "{rest:?}");
    // A refused connection is an error finding: exit status 1.
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "allowed: {NAME}:8883 ({NAME} = {ENDPOINT} {ENDPOINT6})"
        )),
        "{stderr}"
    );

    // The recording holds the relayed connections with the addresses the device dialled; the
    // refused one never reached an endpoint and is not in it.
    let (replayed, _) = iotscope_tests::replay_json(&[recording]);
    let endpoints: Vec<&str> = replayed
        .iter()
        .filter_map(|c| c["endpoint"].as_str())
        .collect();
    assert_eq!(
        endpoints,
        [
            format!("{ENDPOINT}:8883"),
            format!("{ENDPOINT}:8883"),
            format!("[{ENDPOINT6}]:8883")
        ]
    );
    assert!(
        codes_of(&replayed[0], "error").is_empty(),
        "{:?}",
        replayed[0]["findings"]
    );
}

#[test]
fn iptables_redirect_and_the_loop_guard() {
    let Some(mosquitto) = ready("iptables") else {
        return;
    };
    let files = Files::new('b');
    let (lab, _broker) = lab('b', &mosquitto, &files);
    // docs/gateway.md, iptables: one subnet (the device's /24).
    lab.run(
        &lab.gateway,
        &[
            "iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-s",
            "10.231.1.0/24",
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--dports",
            "443,8443,8883",
            "-j",
            "REDIRECT",
            "--to-ports",
            "8443",
        ],
    );
    let p = proxy(&lab, &["10.231.2.0/24:8883"], &[]);

    assert!(
        publish(&lab, &files, NAME, true),
        "publish through the gateway failed:\n{}",
        p.stderr()
    );
    // Allowed by a network rule: reported under its address.
    assert_relayed(
        &p.next_connection(),
        &format!("{ENDPOINT}:8883"),
        ENDPOINT,
        DEVICE,
    );

    // Port 443 is redirected too, but --allow names 8883 only.
    assert!(!s_client(&lab, &files, &format!("{ENDPOINT}:443")));
    assert_refused(
        &p.next_connection(),
        &format!("{ENDPOINT}:443"),
        &format!("original destination {ENDPOINT}:443 is not in --allow"),
    );

    // The device dials the gateway's own address on the proxy's port: the proxy itself.
    let own = format!("{}:8443", netns::GATEWAY_DEVICE_SIDE);
    assert!(!s_client(&lab, &files, &own));
    assert_refused(
        &p.next_connection(),
        &own,
        &format!("the device connected to iotscope itself ({own})"),
    );

    // A rule that also catches the gateway's own outgoing traffic sends the proxy's upstream
    // connection back to it: refused once, not relayed round and round.
    lab.run(
        &lab.gateway,
        &[
            "iptables",
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "-d",
            "10.231.2.0/24",
            "--dport",
            "8883",
            "-j",
            "REDIRECT",
            "--to-ports",
            "8443",
        ],
    );
    assert!(!publish(&lab, &files, NAME, true));
    let (a, b) = (p.next_connection(), p.next_connection());
    let (looped, original) = if a["device"].as_str().is_some_and(|d| d.starts_with(DEVICE)) {
        (b, a)
    } else {
        (a, b)
    };
    assert_refused(
        &looped,
        &format!("{ENDPOINT}:8883"),
        "comes from iotscope's own upstream connection",
    );
    assert_eq!(original["endpoint"], format!("{ENDPOINT}:8883"));
    assert!(events(&original, "endpoint_to_device")
        .iter()
        .all(|e| e != "server_hello"));

    // The exclusion docs/gateway.md gives for the proxy's own traffic ends the loop.
    lab.run(
        &lab.gateway,
        &[
            "iptables",
            "-t",
            "nat",
            "-I",
            "OUTPUT",
            "-m",
            "owner",
            "--uid-owner",
            "0",
            "-j",
            "RETURN",
        ],
    );
    assert!(publish(&lab, &files, NAME, true), "{}", p.stderr());
    assert_relayed(
        &p.next_connection(),
        &format!("{ENDPOINT}:8883"),
        ENDPOINT,
        DEVICE,
    );

    let (_, rest, _) = p.stop();
    assert!(rest.is_empty(), "no connection beyond those read: {rest:?}");
}

#[test]
fn nftables_tproxy_keeps_the_destination_as_local_address() {
    let Some(mosquitto) = ready("nft") else {
        return;
    };
    let files = Files::new('c');
    let (lab, _broker) = lab('c', &mosquitto, &files);
    // docs/gateway.md, TPROXY: the rule marks the packets, the mark routes them to the local
    // machine, and the listener (IP_TRANSPARENT) takes them with their own destination.
    let rules = format!(
        "table inet iotscope_tproxy {{
	chain prerouting {{
		type filter hook prerouting priority mangle; policy accept;
		ip saddr {DEVICE} tcp dport {{ 443, 8443, 8883 }} tproxy ip to :8443 meta mark set 0x1 accept
		ip6 saddr {DEVICE6} tcp dport {{ 443, 8443, 8883 }} tproxy ip6 to :8443 meta mark set 0x1 accept
	}}
}}
"
    );
    lab.run_with_input(&lab.gateway, &["nft", "-f", "-"], rules.as_bytes());
    for family in ["-4", "-6"] {
        lab.run(
            &lab.gateway,
            &[
                "ip", family, "rule", "add", "fwmark", "0x1", "lookup", "100",
            ],
        );
    }
    lab.run(
        &lab.gateway,
        &[
            "ip",
            "-4",
            "route",
            "add",
            "local",
            "0.0.0.0/0",
            "dev",
            "lo",
            "table",
            "100",
        ],
    );
    lab.run(
        &lab.gateway,
        &[
            "ip", "-6", "route", "add", "local", "::/0", "dev", "lo", "table", "100",
        ],
    );
    let p = proxy(&lab, &[NAME], &[]);

    assert!(
        publish(&lab, &files, NAME, true),
        "publish through the gateway failed:\n{}",
        p.stderr()
    );
    assert_relayed(
        &p.next_connection(),
        &format!("{ENDPOINT}:8883"),
        NAME,
        DEVICE,
    );
    s_client(&lab, &files, &format!("[{ENDPOINT6}]:8883"));
    assert_relayed(
        &p.next_connection(),
        &format!("[{ENDPOINT6}]:8883"),
        NAME,
        &format!("[{DEVICE6}]"),
    );
    assert!(!s_client(&lab, &files, &format!("{ENDPOINT_OTHER}:443")));
    assert_refused(
        &p.next_connection(),
        &format!("{ENDPOINT_OTHER}:443"),
        &format!("original destination {ENDPOINT_OTHER}:443 is not in --allow"),
    );
    let (_, _, stderr) = p.stop();
    assert!(stderr.contains("TPROXY: ready"), "{stderr}");
}

/// No root needed: the flags alone.
#[test]
fn transparent_mode_never_starts_as_an_open_relay() {
    let out = iotscope_tests::run(&["proxy", "--transparent", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--transparent needs --allow"), "{err}");
    assert!(err.contains("open relay"), "{err}");

    let out = iotscope_tests::run(&["proxy", "--allow", "10.231.2.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--transparent"));

    let out = iotscope_tests::run(&["proxy", "--transparent", "--allow", "10.231.0.0/33"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"33\" is not a prefix length (0-32)"),
        "{err}"
    );

    let out = iotscope_tests::run(&[
        "proxy",
        "--transparent",
        "--upstream",
        "a.example",
        "--allow-any",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));

    // A name that does not resolve is caught at start, not at the first device.
    let out = iotscope_tests::run(&[
        "proxy",
        "--transparent",
        "--listen",
        "127.0.0.1:0",
        "--allow",
        "nothing.invalid:8883",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow nothing.invalid: the name"));
}

#[test]
fn mitm_on_the_gateway_mints_for_the_name_or_the_original_address() {
    let Some(mosquitto) = ready("nft") else {
        return;
    };
    let files = Files::new('m');
    let (lab, _broker) = lab('m', &mosquitto, &files);
    lab.run_with_input(
        &lab.gateway,
        &["nft", "-f", "-"],
        nft_redirect(DEVICE, DEVICE6).as_bytes(),
    );
    let ca_dir = files.dir.join("iotscope-ca");
    let ca_dir = ca_dir.to_str().unwrap();
    assert!(iotscope_tests::run(&["ca", "init", "--ca-dir", ca_dir])
        .status
        .success());
    let export = iotscope_tests::run(&["ca", "export", "--ca-dir", ca_dir]);
    let trust = files.dir.join("iotscope-ca.pem");
    std::fs::write(&trust, &export.stdout).unwrap();
    let trust = trust.to_str().unwrap();
    let p = proxy(
        &lab,
        &[&format!("{ENDPOINT}/32:8883")],
        &[
            "--mitm",
            "--ca-dir",
            ca_dir,
            "--device-cert",
            &files.device_cert,
            "--device-key",
            &files.device_key,
            "--upstream-ca",
            &files.ca,
        ],
    );

    // The device dials the endpoint's name and trusts iotscope's CA: the MQTT is read.
    let published = device(
        &lab,
        &[
            "mosquitto_pub",
            "-h",
            NAME,
            "-p",
            "8883",
            "--cafile",
            trust,
            "--cert",
            &files.device_cert,
            "--key",
            &files.device_key,
            "-t",
            "t/1",
            "-m",
            "hello",
            "-q",
            "1",
            "-i",
            "thermostat-12",
        ],
        b"",
    );
    assert!(
        published,
        "publish through the MITM gateway failed:\n{}",
        p.stderr()
    );
    let ok = p.next_connection();
    assert_eq!(ok["endpoint"], format!("{ENDPOINT}:8883"));
    assert_eq!(
        ok["device_leg"]["presented"]["name"], NAME,
        "{}",
        ok["device_leg"]
    );
    assert_eq!(ok["tls"]["sni"], NAME, "the upstream SNI is the device's");
    assert!(
        ok["mqtt"]["packets"].to_string().contains("PUBACK"),
        "{}",
        ok["mqtt"]
    );
    assert!(codes_of(&ok, "error").is_empty(), "{}", ok["findings"]);

    // No SNI, dialled by address: the certificate is minted for the original destination.
    device(
        &lab,
        &[
            "openssl",
            "s_client",
            "-connect",
            &format!("{ENDPOINT}:8883"),
            "-noservername",
            "-brief",
            "-CAfile",
            trust,
            "-cert",
            &files.device_cert,
            "-key",
            &files.device_key,
        ],
        CONNECT_THEN_DISCONNECT,
    );
    let by_addr = p.next_connection();
    assert_eq!(
        by_addr["device_leg"]["presented"]["name"], ENDPOINT,
        "{}",
        by_addr["device_leg"]
    );
    assert!(by_addr["device_leg"]["sni"].is_null());
    p.stop();
}

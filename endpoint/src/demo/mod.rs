//! `iotscope demo`: iotscope at work with nothing to bring. The endpoint ([`crate::server`])
//! and `iotscope proxy --mitm` in front of it start in this process on free loopback ports;
//! built-in devices then connect through the proxy one after another, each with one mistake
//! from the troubleshooting guide (and one without), while the proxy prints its live traces
//! and findings exactly as for a real device. A table at the end says, per device, which
//! finding it was built to get and which it got; the exit status is 0 when all match.
//!
//! Why MITM rather than passthrough: the proxy then reads the MQTT inside TLS, so the
//! refusals AWS makes in MQTT (a PUBLISH outside the policy, a session taken over) are seen
//! and diagnosed, while TLS refusals (an inactive certificate) still come from the endpoint,
//! which gets each device's own certificate through `--device-certs`.

mod account;
mod devices;
pub mod pki;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use iotscope_account::{Files, SharedSource};
use iotscope_decoder::diagnose::code::Code;
use iotscope_proxy::ca::{KeyType, LocalCa, CERT_FILE};
use iotscope_proxy::config::{MitmConfig, ProxyConfig};
use iotscope_proxy::error::Error;
use iotscope_proxy::relay::live::Diagnosed;
use iotscope_proxy::serve::{spawn_in_process, InProcess};
use iotscope_proxy::upstream::Upstream;
use iotscope_report::{Colour, Format, ReportOptions, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use serde::Serialize;

use crate::registry::EXAMPLE_ACCOUNT;
use crate::server::{EndpointConfig, DEFAULT_ENDPOINT};
use devices::{Plan, DEFAULT_LEVEL};
use pki::DeviceCa;

#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    pub format: Format,
    pub colour: Colour,
    /// Told of every connection the proxy diagnoses, as `proxy --web` is (the live view).
    pub watch: Option<Watcher>,
}

/// The policy every registered demo certificate has: connect as `demo-*`, publish, receive and
/// subscribe under `demo/`.
const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/demo-*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/demo/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/demo/*"}
  ]
}"#;

/// One built-in device: what it does wrong, and the finding that must say so.
struct Device {
    name: &'static str,
    what: &'static str,
    /// `None`: no finding of severity error or warning.
    expected: Option<Code>,
    plans: Vec<Plan>,
}

/// One row of the summary.
#[derive(Serialize)]
pub struct Row {
    pub device: &'static str,
    pub expected: String,
    pub got: Vec<String>,
    pub device_saw: Vec<String>,
    /// The endpoint's AWSIotLogsV2-shaped entries for this device, summed up.
    pub endpoint_logged: Vec<String>,
    pub ok: bool,
}

struct Dirs {
    root: PathBuf,
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs the demo; `Ok` is the exit status.
pub fn run(opts: DemoOptions) -> Result<u8, Error> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dirs = Dirs {
        root: std::env::temp_dir().join(format!("iotscope-demo-{}-{nanos}", std::process::id())),
    };
    let mk = |p: &PathBuf| {
        std::fs::create_dir_all(p).map_err(|e| Error::io(format!("create {}", p.display()), e))
    };
    let (endpoint_dir, proxy_dir, certs_dir) = (
        dirs.root.join("endpoint"),
        dirs.root.join("proxy-ca"),
        dirs.root.join("device-certs"),
    );
    mk(&certs_dir)?;
    let device_ca = DeviceCa::new()?;
    let good = device_ca.issue("demo-good", false, &certs_dir)?;
    let expired = device_ca.issue("demo-expired", true, &certs_dir)?;
    let inactive = device_ca.issue("demo-inactive", false, &certs_dir)?;
    // The account, as the AWS CLI would print it: the endpoint serves it (as `endpoint
    // --account`) and the proxy explains with it (as `proxy --account`), so a refusal the
    // account decides (the INACTIVE certificate) is named by its cause, not only by the alert.
    let account_dir = dirs.root.join("account");
    mk(&account_dir)?;
    let account_files = account::write(
        &account_dir,
        &[
            (&good, "ACTIVE"),
            (&expired, "ACTIVE"),
            (&inactive, "INACTIVE"),
        ],
        ("demo-policy", POLICY),
    )?;
    let files = Files::open(&account_files)
        .map_err(|e| Error::BadFile(format!("the demo's account files: {e}")))?;
    let registry = crate::account::registry_from(&files)?;
    let (proxy_ca, _) = LocalCa::init(&proxy_dir, KeyType::EcdsaP256, 30)?;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(proxy_ca.cert_der.clone()))
        .map_err(|e| Error::Crypto(format!("the demo's CA: {e}")))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start the runtime: {e}")))?;
    let endpoint = rt.block_on(crate::server::start(EndpointConfig {
        endpoint_name: DEFAULT_ENDPOINT.into(),
        mqtt: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        mqtt_alpn: None,
        https: None,
        region: None,
        state_dir: endpoint_dir.clone(),
        registry,
        log: Some(dirs.root.join("endpoint.log")),
        max_connections: Some(64),
        session_expiry: crate::limits::SESSION_EXPIRY_DEFAULT,
        require_sni: false,
    }))?;
    let endpoint_addr = endpoint
        .mqtt
        .ok_or_else(|| Error::Environment("the endpoint did not listen".into()))?;
    // Check the endpoint's CA parses before the proxy is told to trust it.
    let _ = CertificateDer::from_pem_file(endpoint_dir.join(CERT_FILE))
        .map_err(|e| Error::BadFile(format!("the endpoint's CA: {e}")))?;

    let config = ProxyConfig {
        upstream: Some(Upstream {
            host: "127.0.0.1".into(),
            port: endpoint_addr.port(),
        }),
        transparent: Default::default(),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        record: None,
        max_connections: Some(64),
        handshake_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(5),
        grace: Duration::from_secs(2),
        mitm: MitmConfig {
            mitm: true,
            device_certs: Some(certs_dir.clone()),
            upstream_ca: Some(endpoint_dir.join(CERT_FILE)),
            ca_dir: Some(proxy_dir.clone()),
            ..MitmConfig::default()
        },
        report: ReportOptions {
            endpoint: Some(DEFAULT_ENDPOINT.into()),
            format: opts.format,
            colour: opts.colour,
            watch: opts.watch.clone(),
            account: Some(SharedSource::new(Box::new(files))),
            ..ReportOptions::default()
        },
    };
    let (found_tx, found_rx) = mpsc::channel();
    let InProcess {
        thread: proxy,
        ready: ready_rx,
        stop: stop_tx,
    } = spawn_in_process(config, Some(found_tx))
        .map_err(|e| Error::Environment(format!("cannot start the proxy: {e}")))?;
    let proxy_addr = match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(a) => a,
        Err(_) => {
            return match proxy.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(Error::Environment("the proxy did not start".into())),
            }
        }
    };

    let text = opts.format == Format::Text;
    if text {
        println!(
            "iotscope demo: endpoint {DEFAULT_ENDPOINT} on {endpoint_addr} (as AWS IoT Core answers), proxy --mitm on {proxy_addr}\n"
        );
    }
    let mut rows = Vec::new();
    let mut log = LogTail {
        path: dirs.root.join("endpoint.log"),
        read: 0,
    };
    let list = devices_list(&good, &expired, &inactive);
    let count = list.len();
    for (i, d) in list.into_iter().enumerate() {
        if text {
            println!("── device {}/{count}: {} — {}", i + 1, d.name, d.what);
        }
        let seen = rt.block_on(play(proxy_addr, &roots, &d.plans));
        let locals: Vec<SocketAddr> = seen.iter().filter_map(|s| s.local).collect();
        let got = collect(&found_rx, &locals, seen.len());
        // Errors and warnings (a plaintext device's endpoint never answers the proxy, so its
        // CONN.NOT_TLS is a warning), each code once.
        let mut errors: Vec<String> = Vec::new();
        for (c, sev) in got.iter().flat_map(|d| d.findings.iter()) {
            if (sev == "error" || sev == "warning") && !errors.contains(c) {
                errors.push(c.clone());
            }
        }
        let ok = match d.expected {
            None => errors.is_empty() && got.len() == seen.len(),
            Some(code) => errors.iter().any(|c| c == code.as_str()),
        };
        let device_saw: Vec<String> = seen.into_iter().map(|s| s.said).collect();
        let endpoint_logged = log.read_new();
        if text {
            for s in &device_saw {
                println!("   the device saw: {s}");
            }
            if !endpoint_logged.is_empty() {
                println!("   the endpoint logged: {}", endpoint_logged.join("; "));
            }
            println!();
        }
        rows.push(Row {
            device: d.name,
            expected: d.expected.map_or("no finding", Code::as_str).into(),
            got: errors,
            device_saw,
            endpoint_logged,
            ok,
        });
    }
    let _ = stop_tx.send(true);
    let _ = proxy.join();
    rt.block_on(endpoint.stop(Duration::from_secs(1)));
    let all_ok = rows.iter().all(|r| r.ok);
    match opts.format {
        Format::Text => print_table(&rows),
        Format::Json => {
            #[derive(Serialize)]
            struct Summary<'a> {
                demo: &'a [Row],
                ok: bool,
            }
            if let Ok(s) = serde_json::to_string(&Summary {
                demo: &rows,
                ok: all_ok,
            }) {
                println!("{s}");
            }
        }
    }
    drop(dirs);
    Ok(u8::from(!all_ok))
}

/// The endpoint's log, read as it grows: each new entry summed up as `eventType status
/// reason`, the way CloudWatch's AWSIotLogsV2 entries would be read for the same device.
struct LogTail {
    path: PathBuf,
    read: usize,
}

impl LogTail {
    fn read_new(&mut self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let new = text.get(self.read..).unwrap_or_default();
        // Only whole lines; a line still being written is read next time.
        let upto = new.rfind('\n').map_or(0, |i| i + 1);
        self.read += upto;
        new[..upto]
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|e| {
                let field = |k: &str| {
                    e.get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                let why = [field("reason"), field("disconnectReason")].join(" ");
                format!("{} {} {}", field("eventType"), field("status"), why.trim())
                    .trim()
                    .to_string()
            })
            .collect()
    }
}

/// The proxy's diagnoses of this device's connections (it reports each as it closes).
fn collect(rx: &mpsc::Receiver<Diagnosed>, locals: &[SocketAddr], want: usize) -> Vec<Diagnosed> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(d) if d.device.is_some_and(|a| locals.contains(&a)) || locals.is_empty() => {
                got.push(d)
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    got
}

/// Runs a device's connections: one after the other, except that a later plan with the same
/// client id starts while the first is open (the takeover).
async fn play(proxy: SocketAddr, roots: &RootCertStore, plans: &[Plan]) -> Vec<devices::Seen> {
    if plans.len() == 2 && plans[0].client_id == plans[1].client_id {
        let first = devices::connect(proxy, roots, &plans[0]).await;
        let mut first = match first {
            Ok(o) => o,
            Err((local, said)) => return vec![devices::Seen { local, said }],
        };
        let second_plan = Plan {
            publish: None,
            ..plans[1].clone()
        };
        let second = devices::run(proxy, roots, &second_plan);
        let (second, then) = tokio::join!(second, first.next());
        let said = match then {
            Ok((b, body)) if b >> 4 == 14 => format!(
                "CONNACK 0, then DISCONNECT 0x{:02X} when the second connection came",
                body.first().copied().unwrap_or(0)
            ),
            Ok((b, _)) => format!("CONNACK 0, then packet type {}", b >> 4),
            Err(e) => format!("CONNACK 0, then {e}"),
        };
        return vec![
            devices::Seen {
                local: first.local,
                said,
            },
            second,
        ];
    }
    let mut out = Vec::new();
    for p in plans {
        out.push(devices::run(proxy, roots, p).await);
    }
    out
}

fn devices_list(
    good: &pki::DeviceId,
    expired: &pki::DeviceId,
    inactive: &pki::DeviceId,
) -> Vec<Device> {
    let plan = |client: &str, cert: Option<&pki::DeviceId>| Plan {
        sni: DEFAULT_ENDPOINT.into(),
        cert: cert.cloned(),
        client_id: client.into(),
        level: DEFAULT_LEVEL,
        subscribe: None,
        publish: None,
        plaintext: false,
    };
    vec![
        Device {
            name: "good",
            what: "a registered, active certificate; subscribes and publishes inside its policy",
            expected: None,
            plans: vec![Plan {
                subscribe: Some("demo/greetings".into()),
                publish: Some("demo/greetings".into()),
                ..plan("demo-good", Some(good))
            }],
        },
        Device {
            name: "no-client-cert",
            what: "sends no client certificate",
            expected: Some(Code::AuthClientCertMissing),
            plans: vec![plan("demo-anonymous", None)],
        },
        Device {
            name: "wrong-sni",
            what: "names another region's endpoint in its SNI",
            expected: Some(Code::ConnSniMismatch),
            plans: vec![Plan {
                sni: "abc123example-ats.iot.eu-west-1.amazonaws.com".into(),
                ..plan("demo-wrong-sni", Some(good))
            }],
        },
        Device {
            name: "expired-cert",
            what: "its certificate expired yesterday",
            expected: Some(Code::AuthClientCertExpired),
            plans: vec![plan("demo-expired", Some(expired))],
        },
        Device {
            name: "inactive-cert",
            what: "its certificate is registered but INACTIVE",
            expected: Some(Code::AuthCertInactive),
            plans: vec![plan("demo-inactive", Some(inactive))],
        },
        Device {
            name: "publish-denied",
            what: "publishes to a topic its policy does not allow (MQTT 3.1.1)",
            expected: Some(Code::AuthzPublishDenied),
            plans: vec![Plan {
                publish: Some("factory/secrets".into()),
                ..plan("demo-publisher", Some(good))
            }],
        },
        Device {
            name: "duplicate-client-id",
            what: "a second connection uses the same client id (MQTT 5)",
            expected: Some(Code::MqttSessionTakenOver),
            plans: vec![
                Plan {
                    level: devices_level5(),
                    ..plan("demo-twin", Some(good))
                },
                Plan {
                    level: devices_level5(),
                    ..plan("demo-twin", Some(good))
                },
            ],
        },
        Device {
            name: "plain-mqtt",
            what: "sends MQTT without TLS to the TLS port",
            expected: Some(Code::ConnNotTls),
            plans: vec![Plan {
                plaintext: true,
                ..plan("demo-plain", None)
            }],
        },
    ]
}

fn devices_level5() -> u8 {
    crate::mqtt::packets::LEVEL_5
}

fn print_table(rows: &[Row]) {
    let w = rows
        .iter()
        .map(|r| r.device.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let e = rows
        .iter()
        .map(|r| r.expected.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!("{:<w$}  {:<e$}  {:<4}  got", "device", "expected", "ok");
    for r in rows {
        let got = if r.got.is_empty() {
            "no finding".to_string()
        } else {
            r.got.join(", ")
        };
        println!(
            "{:<w$}  {:<e$}  {:<4}  {got}",
            r.device,
            r.expected,
            if r.ok { "yes" } else { "NO" }
        );
    }
    let ok = rows.iter().filter(|r| r.ok).count();
    println!(
        "\n{ok} of {} devices got the diagnosis they were built to get.",
        rows.len()
    );
}

//! The web view and the HTML report (issue 22), in a real browser: headless Chromium driven
//! through chromedriver. What the page shows is checked against what the same run printed
//! as JSON: the rows, each one's worst finding, the filters, and the selected connection's
//! ladder (one arrow per event, lanes, times, decrypted and cited arrows) and JSON.
//!
//! Screenshots are kept under `target/web-view/`; with `IOTSCOPE_DOCS_SCREENSHOTS=1` they
//! are also copied into `docs/img/` for the user guide.

use iotscope_tests::browser::{self, Browser};
use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device, Broker};
use iotscope_tests::pki::{BrokerFiles, Dir};
use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
use iotscope_tests::{have_tool, iotscope, root};
use serde_json::Value;

const ENDPOINT: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

fn rank(severity: &str) -> u8 {
    match severity {
        "error" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// The finding the table shows for a connection: the most severe, the first of those.
fn worst(conn: &Value) -> Option<&Value> {
    let list = conn["findings"].as_array()?;
    let top = list
        .iter()
        .map(|f| rank(f["severity"].as_str().unwrap_or_default()))
        .max()?;
    list.iter()
        .find(|f| rank(f["severity"].as_str().unwrap_or_default()) == top)
}

fn worst_code(conn: &Value) -> String {
    worst(conn)
        .and_then(|f| f["code"].as_str())
        .unwrap_or("—")
        .to_string()
}

fn client_id(conn: &Value) -> String {
    conn["mqtt"]["connect"]["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The table's rows as the page shows them: number, client id and worst finding.
fn table(b: &Browser) -> Vec<(u64, String, String)> {
    let v = b.js(
        "return Array.from(document.querySelectorAll('#conns tbody tr')).map(tr => \
         [Number(tr.dataset.id), tr.querySelector('.c-client').textContent, \
          tr.querySelector('.c-code').textContent]);",
    );
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap_or_default(),
                r[1].as_str().unwrap_or_default().to_string(),
                r[2].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn visible_rows(b: &Browser) -> usize {
    b.js("return document.querySelectorAll('#conns tbody tr').length;")
        .as_u64()
        .unwrap_or_default() as usize
}

/// Waits until the table has `n` rows (filters apply as the user types).
fn expect_rows(b: &Browser, n: usize, what: &str) {
    b.wait_for(
        &format!("{n} rows {what}"),
        &format!("return document.querySelectorAll('#conns tbody tr').length === {n};"),
    );
}

/// The ladder of the selected connection, checked against its JSON object (with events):
/// lanes, one arrow per event in time order, the decrypted ones marked, the worst finding's
/// evidence highlighted and its code beside the lanes.
fn check_ladder(b: &Browser, conn: &Value, lanes: &[&str]) {
    b.wait_for(
        "the ladder of the selected connection",
        "return document.querySelector('#d-ladder svg.ladder') !== null;",
    );
    let got = b.js(
        "const svg = document.querySelector('#d-ladder svg.ladder'); \
         return { lanes: Array.from(svg.querySelectorAll('.lane text')).map(t => t.textContent), \
           arrows: Array.from(svg.querySelectorAll('g.arrow')).map(g => ({ \
             t: Number(g.dataset.t), from: g.dataset.from, to: g.dataset.to, \
             time: g.querySelector('.time').textContent, \
             decrypted: g.classList.contains('decrypted'), cited: g.classList.contains('cited'), \
             y: Number(g.querySelector('line').getAttribute('y1')), \
             x1: Number(g.querySelector('line').getAttribute('x1')), \
             x2: Number(g.querySelector('line').getAttribute('x2')) })), \
           text: svg.textContent };",
    );
    let shown: Vec<&str> = got["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(shown, lanes);
    let arrows = got["arrows"].as_array().unwrap();
    let events = conn["events"].as_array().expect("events in the JSON");
    assert_eq!(arrows.len(), events.len(), "one arrow per event");
    for w in arrows.windows(2) {
        assert!(w[1]["y"].as_f64() > w[0]["y"].as_f64(), "arrows go down");
        assert!(w[1]["t"].as_f64() >= w[0]["t"].as_f64(), "in time order");
    }
    for (a, e) in arrows.iter().zip(events) {
        // The time printed is the event's, and the arrow leaves the sender's side.
        assert_eq!(
            a["time"].as_str().unwrap(),
            format!("{:.6}", a["t"].as_f64().unwrap())
        );
        let (x1, x2) = (a["x1"].as_f64().unwrap(), a["x2"].as_f64().unwrap());
        match e["dir"].as_str().unwrap() {
            "device_to_endpoint" => assert!(x1 < x2, "{a} for {e}"),
            _ => assert!(x1 > x2, "{a} for {e}"),
        }
        assert_eq!(
            a["decrypted"].as_bool(),
            Some(e["decrypted"].as_bool().unwrap_or(false)),
            "{e}"
        );
    }
    let w = worst(conn).expect("a finding");
    let evidence: Vec<f64> = w["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["t"].as_f64().unwrap())
        .collect();
    let cited: Vec<f64> = arrows
        .iter()
        .filter(|a| a["cited"].as_bool() == Some(true))
        .map(|a| a["t"].as_f64().unwrap())
        .collect();
    assert!(!cited.is_empty(), "the evidence is highlighted");
    for t in &cited {
        assert!(
            evidence.iter().any(|e| (e - t).abs() < 1e-6),
            "{t} is not cited by {w}"
        );
    }
    let text = got["text"].as_str().unwrap();
    assert!(text.contains(w["code"].as_str().unwrap()), "{text}");
}

/// The selected connection's JSON, one click away, is the connection's object.
fn check_json(b: &Browser, conn: &Value) {
    b.click("#d-json-box summary");
    let shown = b.js("return document.querySelector('#d-json').textContent;");
    let v: Value = serde_json::from_str(shown.as_str().unwrap()).expect("JSON in the page");
    assert_eq!(v["connection"], conn["connection"]);
    assert_eq!(v["findings"], conn["findings"]);
}

#[test]
fn the_html_report_of_the_sample_captures_shows_every_connection() {
    if !browser::available() {
        return;
    }
    let samples = root().join("captures/samples");
    let dir = Dir::new("web-report");
    // One key log for all the samples, so that the decrypted parts show too.
    let mut keys = String::new();
    let mut pcaps = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        match p.extension().and_then(|e| e.to_str()) {
            Some("keys") => keys.push_str(&std::fs::read_to_string(&p).unwrap()),
            Some("pcap") => pcaps.push(p),
            _ => {}
        }
    }
    let keylog = dir.put("all.keys", &keys);
    let html = dir.join("report.html");
    let out = iotscope()
        .args(["replay", "-q", "--keylog", &keylog, "--endpoint", ENDPOINT])
        .args(["--format", "json", "--events", "--html"])
        .arg(&html)
        .args(&pcaps)
        .output()
        .expect("run iotscope replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "errors found: {stderr}");
    assert!(
        stderr.contains("wrote the HTML report of 7 connections"),
        "{stderr}"
    );
    let conns: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(conns.len(), pcaps.len());
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing in it names another place to load from.
    for fetch in ["<script src", "<link", "@import", "url(http"] {
        assert!(!page.contains(fetch), "the report loads {fetch}");
    }

    let b = Browser::start(1500, 1900);
    b.goto(&format!("file://{}", html.display()));
    expect_rows(&b, conns.len(), "for the report's connections");
    let rows = table(&b);
    for (row, conn) in rows.iter().zip(&conns) {
        assert_eq!(row.1, client_id(conn), "client id of {row:?}");
        assert_eq!(row.2, worst_code(conn), "worst finding of {row:?}");
    }
    assert!(rows.iter().any(|r| r.2 == "AUTH.SERVER_CERT_UNTRUSTED"));
    // The device certificate's ID (in short; whole in the tooltip), SNI, TLS version and how
    // each connection ended.
    let cells = b.js(
        "return Array.from(document.querySelectorAll('#conns tbody tr')).map(tr => [\
         tr.querySelector('.c-cert').textContent, tr.querySelector('.c-cert').title, \
         tr.querySelector('.c-sni').textContent, tr.querySelector('.c-tls').textContent, \
         tr.querySelector('.c-outcome').textContent]);",
    );
    for (cell, conn) in cells.as_array().unwrap().iter().zip(&conns) {
        let id = conn["tls"]["client"]["certificate_id"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(cell[1], id, "{cell}");
        assert_eq!(cell[0], &id[..id.len().min(10)], "{cell}");
        assert_eq!(
            cell[2],
            conn["tls"]["sni"].as_str().unwrap_or_default(),
            "{cell}"
        );
        assert_eq!(
            cell[3],
            conn["tls"]["version"].as_str().unwrap_or_default(),
            "{cell}"
        );
        let outcome = cell[4].as_str().unwrap();
        match worst_code(conn).as_str() {
            "AUTH.SERVER_CERT_UNTRUSTED" => assert_eq!(outcome, "TLS alert unknown_ca from device"),
            "AUTH.CLIENT_CERT_EXPIRED" => {
                assert_eq!(outcome, "TLS alert certificate_expired from endpoint")
            }
            "AUTHZ.PUBLISH_DENIED" | "—" => assert_eq!(outcome, "MQTT connected"),
            _ => {}
        }
    }

    // The filters narrow the rows to those the JSON says match.
    let expired = conns
        .iter()
        .filter(|c| {
            c["findings"]
                .to_string()
                .contains("AUTH.CLIENT_CERT_EXPIRED")
        })
        .count();
    b.select("#f-code", "AUTH.CLIENT_CERT_EXPIRED");
    expect_rows(&b, expired, "with AUTH.CLIENT_CERT_EXPIRED");
    assert_eq!(table(&b)[0].2, "AUTH.CLIENT_CERT_EXPIRED");
    b.select("#f-code", "");
    let sample_device = conns
        .iter()
        .filter(|c| client_id(c).contains("sample-device"))
        .count();
    b.type_into("#f-client", "sample-device");
    expect_rows(&b, sample_device, "of client sample-device");
    b.type_into("#f-client", "");
    let clean = conns.iter().filter(|c| worst(c).is_none()).count();
    b.select("#f-sev", "none");
    expect_rows(&b, clean, "without a finding");
    b.select("#f-sev", "");
    b.type_into("#f-text", "unknown_ca");
    expect_rows(&b, 1, "whose text mentions unknown_ca");
    b.type_into("#f-text", "");
    expect_rows(&b, conns.len(), "with no filter");
    // Sorting by a column, and back the other way.
    b.click("#conns th[data-key='code']");
    let mut codes: Vec<String> = conns.iter().map(worst_code).collect();
    codes
        .iter_mut()
        .filter(|c| *c == "—")
        .for_each(|c| c.clear());
    codes.sort();
    let shown = |b: &Browser| -> Vec<String> {
        table(b)
            .into_iter()
            .map(|r| if r.2 == "—" { String::new() } else { r.2 })
            .collect()
    };
    assert_eq!(shown(&b), codes);
    b.click("#conns th[data-key='code']");
    codes.reverse();
    assert_eq!(shown(&b), codes);
    b.click("#conns th[data-key='id']");
    assert_eq!(table(&b).first().map(|r| r.0), Some(1));
    assert!(
        b.js("return document.querySelectorAll('#chart svg rect.bar').length;")
            .as_u64()
            .unwrap()
            >= 4,
        "the chart has a bar per finding"
    );

    // The endpoint's certificate was not trusted (04): its ladder, with its evidence.
    let (i, conn) = conns
        .iter()
        .enumerate()
        .find(|(_, c)| worst_code(c) == "AUTH.SERVER_CERT_UNTRUSTED")
        .unwrap();
    b.click(&format!("#conns tbody tr[data-id='{}']", i + 1));
    check_ladder(&b, conn, &["device", "endpoint"]);
    check_json(&b, conn);
    // A decrypted one (07, the publish the policy denied) marks its decrypted arrows.
    let (i, conn) = conns
        .iter()
        .enumerate()
        .find(|(_, c)| worst_code(c) == "AUTHZ.PUBLISH_DENIED")
        .unwrap();
    b.click(&format!("#conns tbody tr[data-id='{}']", i + 1));
    b.wait_for(
        "the publish-denied ladder",
        "return document.querySelector('#d-ladder svg')?.textContent.includes('AUTHZ.PUBLISH_DENIED');",
    );
    check_ladder(&b, conn, &["device", "endpoint"]);
    assert!(
        b.js("return document.querySelectorAll('#d-ladder g.arrow.decrypted').length;")
            .as_u64()
            .unwrap()
            > 0
    );
    b.click("#d-json-box summary");
    let shot = browser::artefacts().join("report.png");
    b.js("window.scrollTo(0, 0); return null;");
    b.screenshot(&shot);
    browser::for_docs(&shot, "web-report.png");
}

/// A broker with TLS that requires a client certificate, and the files a device needs.
struct Lab {
    dir: Dir,
    _broker: Broker,
    port: u16,
    ca: String,
    cert: String,
    key: String,
}

impl Lab {
    /// `None` when mosquitto, its clients or the browser are missing (outside CI).
    fn new(name: &str) -> Option<Lab> {
        let bin = mosquitto_bin();
        let clients = have_tool("mosquitto_pub");
        let (Some(bin), true, true) = (bin, clients, browser::available()) else {
            return None;
        };
        let dir = Dir::new(name);
        let BrokerFiles {
            ca: ca_pem,
            server_cert: scert,
            server_key: skey,
            device_cert: cert,
            device_key: key,
        } = BrokerFiles::write(&dir, "web CA", "thermostat-12");
        let (broker, port) = broker(&bin, &dir, &ca_pem, &scert, &skey, "");
        Some(Lab {
            dir,
            _broker: broker,
            port,
            ca: ca_pem,
            cert,
            key,
        })
    }
}

/// The web view's address, from the proxy's start lines.
fn web_url(proxy: &ProxyProcess) -> String {
    let stderr = proxy.stderr();
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("iotscope: web view at "))
        .unwrap_or_else(|| panic!("no web view address in: {stderr}"))
        .to_string()
}

/// The proxy with `--web` before the broker; one device with its certificate (connects),
/// one without (refused by the broker).
#[test]
fn the_live_view_shows_connections_as_they_open_and_close() {
    let Some(lab) = Lab::new("web-live") else {
        return;
    };
    let (port, ca_pem, cert, key) = (lab.port, &lab.ca, &lab.cert, &lab.key);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        "localhost",
        "--events",
        "--web",
        "127.0.0.1:0",
    ]);
    let stderr = proxy.stderr();
    let url = stderr
        .lines()
        .find_map(|l| l.strip_prefix("iotscope: web view at "))
        .unwrap_or_else(|| panic!("no web view address in: {stderr}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.contains("token"),
        "{url}"
    );

    let b = Browser::start(1500, 1900);
    b.goto(&url);
    b.wait_for(
        "that it is live",
        "return document.querySelector('#status').textContent === 'live';",
    );
    assert_eq!(visible_rows(&b), 0);

    // A device without a certificate: the broker refuses the handshake.
    let failing = mosquitto_pub(proxy.port, ca_pem, None, "t/fail", &["-i", "no-cert"]);
    assert!(
        !run_device(failing, b""),
        "the broker accepted a device without a certificate"
    );
    let failed = proxy.next_connection();
    let code = worst_code(&failed);
    assert_eq!(worst(&failed).unwrap()["severity"], "error", "{failed}");
    // The page was not reloaded: the row arrived by itself.
    b.wait_for(
        "the failing connection's row",
        &format!(
            "return Array.from(document.querySelectorAll('#conns .c-code')).some(td => td.textContent === '{code}');"
        ),
    );

    let ok = mosquitto_pub(
        proxy.port,
        ca_pem,
        Some((cert, key)),
        "t/ok",
        &["-i", "thermostat-12"],
    );
    assert!(run_device(ok, b""), "the device with a certificate failed");
    let passed = proxy.next_connection();
    assert!(
        worst(&passed).is_none_or(|f| f["severity"] != "error"),
        "{passed}"
    );
    expect_rows(&b, 2, "for both devices");
    b.wait_for(
        "both rows finished",
        "return document.querySelectorAll('#conns tbody tr.open').length === 0;",
    );
    let rows = table(&b);
    let number = |c: &Value| c["connection"].as_u64().unwrap();
    let by_id = |id: u64| rows.iter().find(|r| r.0 == id).cloned().unwrap();
    assert_eq!(by_id(number(&failed)).2, code);
    assert_eq!(by_id(number(&passed)).2, worst_code(&passed));

    // The filter narrows to the failing one, and the chart counts its finding.
    b.select("#f-sev", "error");
    expect_rows(&b, 1, "with an error");
    assert_eq!(table(&b)[0].0, number(&failed));
    b.wait_for(
        "the chart's bar for the refusal",
        &format!(
            "return document.querySelector('#chart rect.bar[data-code=\"{code}\"]') !== null;"
        ),
    );

    // Its ladder: device, iotscope, endpoint; drawn on demand by the proxy.
    b.click(&format!("#conns tbody tr[data-id='{}']", number(&failed)));
    check_ladder(&b, &failed, &["device", "iotscope", "endpoint"]);
    check_json(&b, &failed);
    b.select("#f-sev", "");
    expect_rows(&b, 2, "with no filter");
    b.js("window.scrollTo(0, 0); return null;");
    let shot = browser::artefacts().join("live.png");
    b.screenshot(&shot);
    browser::for_docs(&shot, "web-live.png");

    // A connection shows while it is open, and is completed when it closes.
    let held = std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
    b.wait_for(
        "the open connection's row",
        "return document.querySelectorAll('#conns tbody tr.open').length === 1;",
    );
    assert_eq!(visible_rows(&b), 3);
    drop(held);
    let closed = proxy.next_connection();
    b.wait_for(
        "the open row completed",
        &format!(
            "const tr = document.querySelector(\"#conns tbody tr[data-id='{}']\"); return tr !== null && !tr.classList.contains('open');",
            number(&closed)
        ),
    );
    drop(b);
    let (status, _, _) = proxy.stop();
    assert_eq!(status.code(), Some(1), "an error finding was seen");
}

/// The web view refuses an address others can reach unless told, and then wants its token.
#[test]
fn a_remote_web_view_needs_the_flag_and_then_a_token() {
    let out = iotscope()
        .args([
            "proxy",
            "--upstream",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "--web",
            "0.0.0.0:0",
        ])
        .output()
        .expect("run iotscope");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--web-allow-remote"), "{err}");

    let proxy = ProxyProcess::start(&[
        "--upstream",
        "127.0.0.1:1",
        "--web",
        "0.0.0.0:0",
        "--web-allow-remote",
    ]);
    let url = web_url(&proxy);
    let (base, token) = url.split_once("/?token=").expect("a token");
    assert_eq!(token.len(), 32, "{url}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    // The status line of a plain GET, as any client would send it.
    let get = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 192.0.2.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_string()
    };
    assert!(get("/api/snapshot").contains("401"), "no token");
    assert!(
        get("/api/snapshot?token=00").contains("401"),
        "a wrong token"
    );
    assert!(get(&format!("/api/snapshot?token={token}")).contains("200"));
    drop(proxy);
}

/// In MITM mode the ladder has iotscope's two legs as lanes, the decrypted MQTT crosses both,
/// and the table shows the client id iotscope read. The failing device trusts the broker's
/// CA, not iotscope's, so it refuses iotscope's certificate on its own leg.
#[test]
fn the_live_view_of_a_mitm_proxy_draws_both_legs() {
    let Some(lab) = Lab::new("web-mitm") else {
        return;
    };
    let (ca_dir, trust) = mitm_ca(&lab.dir);
    let up = format!("127.0.0.1:{}", lab.port);
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        "localhost",
        "--mitm",
        "--ca-dir",
        &ca_dir,
        "--device-cert",
        &lab.cert,
        "--device-key",
        &lab.key,
        "--upstream-ca",
        &lab.ca,
        "--events",
        "--web",
        "127.0.0.1:0",
    ]);
    let b = Browser::start(1500, 1900);
    b.goto(&web_url(&proxy));
    b.wait_for(
        "that it is live",
        "return document.querySelector('#status').textContent === 'live';",
    );
    let ok = mosquitto_pub(
        proxy.port,
        &trust,
        Some((&lab.cert, &lab.key)),
        "t/ok",
        &["-i", "thermostat-12"],
    );
    assert!(
        run_device(ok, b""),
        "the device failed through the MITM proxy"
    );
    let passed = proxy.next_connection();
    let failing = mosquitto_pub(
        proxy.port,
        &lab.ca,
        Some((&lab.cert, &lab.key)),
        "t/fail",
        &["-i", "trusts-the-broker-only"],
    );
    assert!(
        !run_device(failing, b""),
        "the device trusted iotscope's certificate"
    );
    let failed = proxy.next_connection();
    assert_eq!(worst(&failed).unwrap()["severity"], "error", "{failed}");
    expect_rows(&b, 2, "for both devices");
    b.wait_for(
        "both rows finished",
        "return document.querySelectorAll('#conns tbody tr.open').length === 0;",
    );
    let rows = table(&b);
    let number = |c: &Value| c["connection"].as_u64().unwrap();
    let row = |id: u64| rows.iter().find(|r| r.0 == id).cloned().unwrap();
    assert_eq!(
        row(number(&passed)).1,
        "thermostat-12",
        "the client id read in MITM"
    );
    assert_eq!(row(number(&passed)).2, worst_code(&passed));
    assert_eq!(row(number(&failed)).2, worst_code(&failed));
    let outcome = b.js(&format!(
        "return document.querySelector(\"#conns tbody tr[data-id='{}'] .c-outcome\").textContent;",
        number(&failed)
    ));
    assert!(
        outcome
            .as_str()
            .unwrap()
            .starts_with("device refused iotscope's certificate"),
        "{outcome}"
    );

    b.click(&format!("#conns tbody tr[data-id='{}']", number(&failed)));
    check_ladder(
        &b,
        &failed,
        &[
            "device",
            "iotscope (device leg)",
            "iotscope (endpoint leg)",
            "endpoint",
        ],
    );
    // The succeeding one: its MQTT was read between the legs, so it crosses both.
    b.click(&format!("#conns tbody tr[data-id='{}']", number(&passed)));
    b.wait_for(
        "the succeeding connection's ladder",
        "return document.querySelector('#d-title').textContent.includes('thermostat-12') && document.querySelector('#d-ladder svg') !== null;",
    );
    let spans = b.js(
        "return Array.from(document.querySelectorAll('#d-ladder g.arrow.decrypted')).map(g => g.dataset.from + '>' + g.dataset.to);",
    );
    let spans: Vec<&str> = spans
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(spans.contains(&"device>endpoint"), "{spans:?}");
    assert!(spans.contains(&"endpoint>device"), "{spans:?}");
    b.js("window.scrollTo(0, 0); return null;");
    let shot = browser::artefacts().join("live-mitm.png");
    b.screenshot(&shot);
    browser::for_docs(&shot, "web-live-mitm.png");
    drop(b);
    proxy.stop();
}

/// A report of more connections than a page holds shows them a page at a time: the samples
/// replayed 15 times over are 105 connections, 100 on the first page and 5 on the second.
#[test]
fn a_large_report_is_shown_a_page_at_a_time() {
    if !browser::available() {
        return;
    }
    let dir = Dir::new("web-pages");
    let html = dir.join("pages.html");
    let samples = root().join("captures/samples");
    let mut pcaps: Vec<_> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    let mut cmd = iotscope();
    cmd.args(["replay", "-q", "--format", "json", "--html"])
        .arg(&html);
    for _ in 0..15 {
        cmd.args(&pcaps);
    }
    let out = cmd.output().expect("run iotscope replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let n = 15 * pcaps.len();
    assert!(
        stderr.contains(&format!("wrote the HTML report of {n} connections")),
        "{stderr}"
    );
    let b = Browser::start(1400, 1000);
    b.goto(&format!("file://{}", html.display()));
    expect_rows(&b, 100, "on the first page");
    let page = b.js("return document.querySelector('#page').textContent;");
    assert_eq!(page, "page 1 of 2");
    b.click("#next");
    expect_rows(&b, n - 100, "on the second page");
    assert_eq!(table(&b).last().map(|r| r.0), Some(n as u64));
    // A filter applies to all of them, not to the page shown.
    b.select("#f-code", "CONN.NOT_TLS");
    expect_rows(&b, 15, "with CONN.NOT_TLS");
}

/// `iotscope demo --web`: the proxy inside the demo feeds the live view as `proxy --web`
/// does. Every built-in device shows as a row with the finding it was built to get; the page
/// stays up after the demo's summary until SIGINT, and the exit status is still the demo's.
#[test]
fn the_demo_shows_every_device_in_the_live_view() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    if !browser::available() {
        return;
    }
    let mut child = iotscope()
        .args(["demo", "--format", "json", "--web", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start iotscope demo");
    let pid = child.id();
    // Never left running if an assertion fails.
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
    let guard = Stop(pid);
    let (line_tx, line_rx) = std::sync::mpsc::channel::<(bool, String)>();
    for (is_err, r) in [
        (
            false,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (true, Box::new(child.stderr.take().unwrap())),
    ] {
        let tx = line_tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send((is_err, l));
            }
        });
    }
    // The JSON objects (one per connection, then the summary), and the web view's address.
    let (mut conns, mut summary, mut url, mut over) = (Vec::new(), None, None, false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while summary.is_none() || url.is_none() || !over {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (is_err, l) = line_rx
            .recv_timeout(left)
            .expect("the demo's summary and the web view's address");
        if is_err {
            if let Some(u) = l.strip_prefix("iotscope: web view at ") {
                url = Some(u.to_string());
            }
            over |= l.starts_with("iotscope: the demo is over;");
            continue;
        }
        let v: Value = serde_json::from_str(&l).expect("JSON line");
        if v.get("demo").is_some() {
            summary = Some(v);
        } else {
            conns.push(v);
        }
    }
    let summary = summary.unwrap();
    let url = url.unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    let devices = summary["demo"].as_array().unwrap();
    assert_eq!(devices.len(), 8, "{summary}");

    // The demo is over and the page is still served: everything it saw is there.
    let b = Browser::start(1500, 1900);
    b.goto(&url);
    expect_rows(&b, conns.len(), "one per connection of the demo");
    let rows = table(&b);
    for c in &conns {
        let n = c["connection"].as_u64().unwrap();
        let row = rows
            .iter()
            .find(|r| r.0 == n)
            .unwrap_or_else(|| panic!("no row {n}: {rows:?}"));
        assert_eq!(row.2, worst_code(c), "row {n}: {rows:?}");
        assert_eq!(row.1, client_id(c), "row {n}: {rows:?}");
    }
    for d in devices {
        let expected = d["expected"].as_str().unwrap();
        if expected == "no finding" {
            continue;
        }
        assert!(
            rows.iter().any(|r| r.2 == expected),
            "device {}: no row with {expected}: {rows:?}",
            d["device"]
        );
    }
    // The good device's row, by its client id, shows only what the demo's account says of
    // it, an info (its certificate is ACTIVE), styled as one.
    assert!(
        rows.iter()
            .any(|r| r.1 == "demo-good" && r.2 == "AUTH.CERT_ACTIVE"),
        "{rows:?}"
    );
    let good_class = b.js(
        "return Array.from(document.querySelectorAll('#conns tbody tr')) \
         .filter(tr => tr.querySelector('.c-client').textContent === 'demo-good') \
         .map(tr => tr.querySelector('.c-code').className);",
    );
    assert_eq!(good_class, serde_json::json!(["c-code sev-info"]));
    // The chart counts problems: the refusal's bar is there, the info's is not.
    let bar = |code: &str| {
        b.js(&format!(
            "return document.querySelector('#chart rect.bar[data-code=\"{code}\"]') !== null;"
        ))
    };
    assert_eq!(bar("AUTH.CERT_INACTIVE"), serde_json::json!(true));
    assert_eq!(bar("AUTH.CERT_ACTIVE"), serde_json::json!(false));
    let shot = browser::artefacts().join("demo.png");
    b.screenshot(&shot);
    browser::for_docs(&shot, "web-demo.png");
    drop(b);

    // Ctrl-C ends it, with the demo's own status.
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = child.wait().expect("wait for the demo");
    std::mem::forget(guard);
    assert_eq!(status.code(), Some(0), "the demo's status after SIGINT");
}

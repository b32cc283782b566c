//! `iotscope qualify --junit` against the JUnit schema CI tools read (Jenkins' `junit-10.xsd`,
//! see `iotscope_tests::junit`): one run that ends with each verdict, PASS, FAIL and NOT RUN,
//! in both suites, validated by `xmllint`; and a control that the validation does reject a
//! report that breaks the schema, so the check cannot pass by accident.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotscope_tests::{have_tool, junit};

const NAME: &str = "abc123example-ats.iot.us-east-1.amazonaws.com";

#[test]
fn a_report_with_every_verdict_validates_against_the_junit_schema() {
    if !have_tool("openssl") {
        return;
    }
    let Some(schema) = junit::schema() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("iotscope-qualify-junit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("junit.xml");
    let (mut child, port) = iotscope_tests::qualify::spawn(
        &dir,
        &["TLS_Connect", "TLS_Expired_Server_Cert", "MQTT_Connect"],
        8,
        &[],
    );

    // The device: an openssl s_client that does not stop on a bad certificate and sends no
    // MQTT. It completes TLS_Connect (PASS), also completes the handshake with the expired
    // certificate (FAIL), and never sends a CONNECT (MQTT_Connect: NOT RUN).
    let stop = Arc::new(AtomicBool::new(false));
    let ca = dir.join("ca").join("iotscope-ca.pem");
    let device = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "echo | timeout 10 openssl s_client -connect 127.0.0.1:{port} -servername {NAME} -CAfile {}",
                        ca.display()
                    ))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    device.join().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "a FAIL makes the exit status 1:\n{out}"
    );
    let verdicts: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            (
                v["case"].as_str().unwrap().to_string(),
                v["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("TLS_Connect", "PASS"),
        ("TLS_Expired_Server_Cert", "FAIL"),
        ("MQTT_Connect", "NOT RUN"),
    ];
    assert_eq!(
        verdicts,
        want.map(|(c, v)| (c.to_string(), v.to_string())),
        "{out}"
    );

    let xml = std::fs::read_to_string(&report).expect("the JUnit report was written");
    assert!(
        xml.contains("<failure ") && xml.contains("<skipped "),
        "{xml}"
    );
    if let Err(why) = junit::validate(&schema, &report) {
        panic!(
            "the JUnit report does not validate against {}:\n{why}\n{xml}",
            schema.display()
        );
    }

    // The control: the same report with a testcase's required name taken away must be
    // rejected, or the validation above proves nothing.
    let broken = dir.join("broken.xml");
    std::fs::write(
        &broken,
        xml.replacen("<testcase name=", "<testcase label=", 1),
    )
    .unwrap();
    let rejected =
        junit::validate(&schema, &broken).expect_err("xmllint accepted a testcase without a name");
    assert!(rejected.contains("name"), "{rejected}");
    let _ = std::fs::remove_dir_all(&dir);
}

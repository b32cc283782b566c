//! `iotscope proxy --mitm` between real peers: mosquitto requiring client certificates, with
//! an ACL, upstream; mosquitto_pub, mosquitto_sub and openssl s_client as devices that trust
//! the CA `iotscope ca export` printed.

use std::process::Command;

use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device};
use iotscope_tests::pki::{BrokerFiles, Dir};
use iotscope_tests::proxy::{mitm_ca, ProxyProcess};
use iotscope_tests::{codes, codes_of, have_tool};

#[test]
fn mosquitto_through_mitm() {
    let bin = mosquitto_bin();
    let clients = have_tool("mosquitto_pub") && have_tool("mosquitto_sub");
    let (Some(bin), true) = (bin, clients) else {
        return;
    };
    let dir = Dir::new("mitm-peers");
    let BrokerFiles {
        ca: ca_pem,
        server_cert: scert,
        server_key: skey,
        device_cert: dcert,
        device_key: dkey,
    } = BrokerFiles::write(&dir, "broker CA", "thermostat-12");
    // The certificate's CN is the user name, and the ACL lets it use sensors/# only.
    let acl = dir.put("acl", "user thermostat-12\ntopic readwrite sensors/#\n");
    let (_broker, port) = broker(
        &bin,
        &dir,
        &ca_pem,
        &scert,
        &skey,
        &format!("use_identity_as_username true\nacl_file {acl}\n"),
    );
    let (ca_dir, trust) = mitm_ca(&dir);
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&[
        "--upstream",
        &up,
        "--endpoint",
        "localhost",
        "--mitm",
        "--ca-dir",
        &ca_dir,
        "--device-cert",
        &dcert,
        "--device-key",
        &dkey,
        "--upstream-ca",
        &ca_pem,
    ]);
    let cert = Some((dcert.as_str(), dkey.as_str()));

    // Allowed: a QoS 1 publish over MQTT 5, read live.
    let ok = run_device(
        mosquitto_pub(
            proxy.port,
            &trust,
            cert,
            "sensors/t1",
            &["-i", "thermostat-12", "-V", "mqttv5"],
        ),
        b"",
    );
    assert!(
        ok,
        "mosquitto_pub through the MITM proxy failed: {}",
        proxy.stderr()
    );
    let conn = proxy.next_connection();
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
    let packets = conn["mqtt"]["packets"].to_string();
    assert!(
        packets.contains("sensors/t1") && packets.contains("PUBACK"),
        "{packets}"
    );
    assert_eq!(conn["device_leg"]["proof"]["proof"], "verified");

    // mosquitto_sub subscribes and leaves once the subscription is acknowledged.
    let mut sub = Command::new("mosquitto_sub");
    sub.args([
        "-h",
        "localhost",
        "-p",
        &proxy.port.to_string(),
        "--cafile",
        &trust,
        "--cert",
        &dcert,
        "--key",
        &dkey,
        "-t",
        "sensors/#",
        "-E",
        "-i",
        "thermostat-sub",
    ]);
    assert!(
        run_device(sub, b""),
        "mosquitto_sub through the MITM proxy failed"
    );
    let conn = proxy.next_connection();
    assert!(codes_of(&conn, "error").is_empty(), "{}", conn["findings"]);
    assert!(
        conn["mqtt"]["packets"].to_string().contains("SUBACK"),
        "{}",
        conn["mqtt"]
    );

    // Outside the ACL over MQTT 5: mosquitto answers PUBACK 0x87, and the finding names it.
    run_device(
        mosquitto_pub(
            proxy.port,
            &trust,
            cert,
            "devices/other/telemetry",
            &["-i", "thermostat-12", "-V", "mqttv5"],
        ),
        b"",
    );
    let denied = proxy.next_connection();
    let finding = denied["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "AUTHZ.PUBLISH_DENIED")
        .unwrap_or_else(|| panic!("no AUTHZ.PUBLISH_DENIED: {}", denied["findings"]));
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("devices/other/telemetry"),
        "{finding}"
    );

    // A device that offers only a suite iotscope cannot intercept.
    if have_tool("openssl") {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", proxy.port),
            "-servername",
            "localhost",
            "-tls1_2",
            "-cipher",
            "AES128-SHA",
            "-brief",
        ]);
        run_device(cmd, b"");
        let old = proxy.next_connection();
        assert!(
            codes(&old).contains(&"MITM.TLS_UNSUPPORTED".to_string()),
            "{}",
            old["findings"]
        );
    }
    proxy.stop();
}

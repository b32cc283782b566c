//! `iotscope proxy` in front of a real broker: mosquitto with TLS and `require_certificate
//! true` on a free loopback port, with `mosquitto_pub` as the device. Certificates are made
//! with rcgen into a temporary directory.

use std::process::Command;

use iotscope_tests::mosquitto::{broker, mosquitto_bin, mosquitto_pub, run_device};
use iotscope_tests::pki::{ca, Dir, Leaf};
use iotscope_tests::proxy::ProxyProcess;
use iotscope_tests::{codes, codes_of, have_tool};

/// `mosquitto_pub` through the proxy; true when it published.
fn publish(proxy_port: u16, ca: &str, cert: Option<(&str, &str)>) -> bool {
    run_device(
        mosquitto_pub(proxy_port, ca, cert, "t/1", &["-i", "thermostat-12"]),
        b"",
    )
}

/// An MQTT 3.1.1 CONNECT for client id `sclient-1`, then DISCONNECT.
const CONNECT_THEN_DISCONNECT: &[u8] =
    b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09sclient-1\xe0\x00";

#[test]
fn mosquitto_behind_the_proxy() {
    let Some(bin) = mosquitto_bin() else { return };
    if !have_tool("mosquitto_pub") {
        return;
    }
    let files = Dir::new("peers-mosq");
    let ours = ca("iotscope peers CA");
    let stranger = ca("stranger CA");
    let server = Leaf::new(&ours, "localhost", &["localhost"], false);
    let dev = Leaf::new(&ours, "thermostat-12", &[], true);
    let ca_pem = files.put("ca.pem", &ours.pem());
    let stranger_pem = files.put("stranger.pem", &stranger.pem());
    let scert = files.put("server.pem", &server.cert_pem);
    let skey = files.put("server.key", &server.key_pem);
    let dcert = files.put("device.pem", &dev.cert_pem);
    let dkey = files.put("device.key", &dev.key_pem);
    let (_broker, port) = broker(&bin, &files, &ca_pem, &scert, &skey, "");
    let up = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--endpoint", "localhost"]);

    assert!(
        publish(proxy.port, &ca_pem, Some((&dcert, &dkey))),
        "publish through the proxy failed"
    );
    let ok = proxy.next_connection();
    assert!(codes_of(&ok, "error").is_empty(), "{:?}", ok["findings"]);
    assert_eq!(ok["tls"]["sni"], "localhost");

    assert!(!publish(proxy.port, &stranger_pem, Some((&dcert, &dkey))));
    let untrusted = proxy.next_connection();
    assert!(
        codes(&untrusted).contains(&"AUTH.SERVER_CERT_UNTRUSTED".to_string()),
        "{:?}",
        untrusted["findings"]
    );

    assert!(!publish(proxy.port, &ca_pem, None));
    let no_cert = proxy.next_connection();
    let found = codes(&no_cert);
    assert!(
        found
            .iter()
            .any(|c| c == "AUTH.CLIENT_CERT_MISSING" || c == "AUTH.CLIENT_CERT_REJECTED"),
        "{:?}",
        no_cert["findings"]
    );
    // openssl s_client without SNI, as the guide's own check does it.
    if have_tool("openssl") {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", proxy.port),
            "-noservername",
            "-brief",
            "-CAfile",
            &ca_pem,
            "-cert",
            &dcert,
            "-key",
            &dkey,
        ]);
        run_device(cmd, CONNECT_THEN_DISCONNECT);
        let no_sni = proxy.next_connection();
        assert!(no_sni["tls"]["sni"].is_null(), "{}", no_sni["tls"]);
        assert!(
            codes(&no_sni).contains(&"CONN.SNI_MISSING".to_string()),
            "{:?}",
            no_sni["findings"]
        );
    }

    // mosquitto_sub subscribes and leaves once the subscription is acknowledged.
    if have_tool("mosquitto_sub") {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args([
            "-h",
            "localhost",
            "-p",
            &proxy.port.to_string(),
            "--cafile",
            &ca_pem,
            "--cert",
            &dcert,
            "--key",
            &dkey,
            "-t",
            "t/#",
            "-E",
            "-i",
            "thermostat-sub",
        ]);
        assert!(
            run_device(cmd, b""),
            "mosquitto_sub through the proxy failed"
        );
        let sub = proxy.next_connection();
        assert!(codes_of(&sub, "error").is_empty(), "{:?}", sub["findings"]);
        assert_eq!(sub["tls"]["sni"], "localhost");
    }
    proxy.stop();
}

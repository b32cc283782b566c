//! An HTTP proxy tunnel before TLS: refusals (CONN.HTTP_PROXY_REFUSED), a tunnel to another
//! host (CONN.HTTP_PROXY_TARGET), and tunnels that work, which must say nothing.

use super::builder::*;
use iotscope_decoder::diagnose::Severity;
use iotscope_decoder::event::EventKind;
use iotscope_decoder::preamble::{ProxyRequest, ProxyResponse};

fn request(target: &str, auth: Option<&str>) -> EventKind {
    EventKind::ProxyConnect(Box::new(ProxyRequest {
        method: "CONNECT".into(),
        target: target.into(),
        version: "HTTP/1.1".into(),
        headers: vec![format!("Host: {target}")],
        more_headers: 0,
        auth: auth.map(String::from),
        complete: true,
    }))
}

fn answer(status: u16, reason: &str, offered: &[&str]) -> EventKind {
    EventKind::ProxyResponse(Box::new(ProxyResponse {
        version: "HTTP/1.1".into(),
        status: Some(status),
        reason: reason.into(),
        headers: Vec::new(),
        more_headers: 0,
        auth_offered: offered.iter().map(|s| s.to_string()).collect(),
        content_length: None,
        complete: true,
    }))
}

fn target() -> String {
    format!("{ATS}:8883")
}

/// A tunnel opened with `status`, then a TLS 1.3 session with MQTT that works.
fn through_tunnel(tunnel_to: &str) -> T {
    let mut t = T::new(3128);
    t.dev(0.2, request(tunnel_to, None))
        .end(0.6, answer(200, "Connection established", &[]))
        .tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-42", 60))
        .end_dec(61.0, connack(0))
        .dev_dec(61_000.0, disconnect(0))
        .dev(61_001.0, fin())
        .end(61_002.0, fin());
    t
}

fn refused(status: u16, reason: &str, auth: Option<&str>, offered: &[&str]) -> T {
    let mut t = T::new(3128);
    t.dev(0.2, request(&target(), auth))
        .end(0.6, answer(status, reason, offered))
        .end(0.7, fin())
        .dev(0.8, fin());
    t
}

#[test]
fn a_working_tunnel_gives_no_finding() {
    let found = through_tunnel(&target()).diagnose_with(&expecting(ATS));
    assert!(found.is_empty(), "{:#?}", codes(&found));
    // Host names compare without letter case or a final dot.
    let upper = format!("{}.:8883", ATS.to_uppercase());
    assert!(through_tunnel(&upper).diagnose().is_empty());
    // A tunnel to an address cannot be compared with a name.
    assert!(through_tunnel("203.0.113.10:8883").diagnose().is_empty());
}

#[test]
fn refused_407_asks_for_credentials() {
    let found = refused(407, "Proxy Authentication Required", None, &["Basic"]).diagnose();
    // The proxy answered in the endpoint's place: nothing else is said about the endpoint.
    assert_eq!(codes(&found), ["CONN.HTTP_PROXY_REFUSED"]);
    let f = one(&found, "CONN.HTTP_PROXY_REFUSED");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.summary.contains("no Proxy-Authorization"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("asks for Basic"), "{}", f.summary);
    assert!(evidence_has(f, "407 Proxy Authentication Required"));
    assert!(evidence_has(f, &format!("CONNECT {}", target())));
    step(f, "407: give the device the proxy's credentials");
    assert!(f.next_steps.iter().all(|s| !s.starts_with("403")));
    // The proxy's address stands in the command.
    step(
        f,
        &format!("openssl s_client -proxy 203.0.113.10:3128 -connect {ATS}:8883 -servername {ATS}"),
    );

    let rejected = refused(
        407,
        "Proxy Authentication Required",
        Some("Basic"),
        &["Basic"],
    );
    let found = rejected.diagnose();
    let f = one(&found, "CONN.HTTP_PROXY_REFUSED");
    assert!(
        f.summary
            .contains("did not accept the device's Basic credentials"),
        "{}",
        f.summary
    );
}

#[test]
fn refused_403_and_502_have_their_own_steps() {
    let found = refused(403, "Filtered", None, &[]).diagnose();
    let f = one(&found, "CONN.HTTP_PROXY_REFUSED");
    assert!(f.summary.contains("do not allow"), "{}", f.summary);
    step(f, &format!("allow CONNECT to {ATS} on port 8883"));
    assert_eq!(f.next_steps.len(), 2);

    for (status, reason) in [
        (500, "Unable to connect"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ] {
        let found = refused(status, reason, None, &[]).diagnose();
        let f = one(&found, "CONN.HTTP_PROXY_REFUSED");
        assert!(
            f.summary.contains("could not open a connection"),
            "{}",
            f.summary
        );
        step(f, "aws iot describe-endpoint --endpoint-type iot:Data-ATS");
        assert_eq!(f.next_steps.len(), 2);
    }

    let found = refused(418, "I'm a teapot", None, &[]).diagnose();
    let f = one(&found, "CONN.HTTP_PROXY_REFUSED");
    assert_eq!(f.next_steps.len(), 4);
}

#[test]
fn a_refusal_then_a_tunnel_that_opens_is_not_a_refusal() {
    let mut t = T::new(3128);
    t.dev(0.1, request(&target(), None))
        .end(
            0.2,
            answer(407, "Proxy Authentication Required", &["Basic"]),
        )
        .dev(0.3, request(&target(), Some("Basic")))
        .end(0.4, answer(200, "Connection established", &[]))
        .tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-42", 60))
        .end_dec(61.0, connack(0));
    let found = t.diagnose();
    none(&found, "CONN.HTTP_PROXY_REFUSED");
    no_error(&found);
}

#[test]
fn tunnel_to_another_host_than_the_sni() {
    let found = through_tunnel("old-ats.iot.us-east-1.amazonaws.com:8883").diagnose();
    let f = one(&found, "CONN.HTTP_PROXY_TARGET");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.summary.contains("old-ats.iot.us-east-1.amazonaws.com"));
    assert!(f.summary.contains(ATS));
    assert!(evidence_has(f, "ClientHello SNI"));
    // The command asks for the tunnel the device should have asked for.
    step(f, &format!("-connect {ATS}:8883 -servername {ATS}"));
    no_error(&found);
}

#[test]
fn tunnel_compared_with_the_expected_endpoint_without_sni() {
    let mut t = T::new(3128);
    t.dev(0.2, request("other.example.com:8883", None))
        .end(0.6, answer(200, "Connection established", &[]))
        .tls13(client_hello(None, &[], &[TLS13], &[AES128_GCM_13]), 1500);
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "CONN.HTTP_PROXY_TARGET");
    assert!(
        f.summary.contains("the expected endpoint is"),
        "{}",
        f.summary
    );
    assert!(!evidence_has(f, "ClientHello SNI"));
    // With neither an SNI nor an expected endpoint there is nothing to compare.
    let found = t.diagnose();
    none(&found, "CONN.HTTP_PROXY_TARGET");
}

#[test]
fn a_plain_http_answer_without_connect_is_not_a_proxy() {
    // An endpoint that answers HTTP to a ClientHello is CONN.* about the endpoint, never a
    // proxy refusal.
    let mut t = T::new(8883);
    t.dev(1.0, hello_ats(&[]))
        .end(
            2.0,
            EventKind::Http {
                line: "HTTP/1.1 400 Bad Request".into(),
            },
        )
        .end(3.0, fin());
    let found = t.diagnose();
    none(&found, "CONN.HTTP_PROXY_REFUSED");
    none(&found, "CONN.HTTP_PROXY_TARGET");
}

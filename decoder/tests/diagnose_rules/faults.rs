//! Issue 24, under faults: a device that stalls in its hello, a packet whose declared length
//! no endpoint would take, and an endpoint that drops a working session; each with the
//! look-alikes where the rule must stay quiet.

use super::builder::*;
use iotscope_decoder::diagnose::{diagnose, Context, Severity};
use iotscope_decoder::event::{AppProtocol, CutCause, EventKind};
use iotscope_decoder::{Direction, Identity, Input, Session, SessionConfig, Timestamp};

fn unfinished(layer: AppProtocol, held: u64, need: u64, what: &str) -> EventKind {
    EventKind::Unfinished(Box::new(iotscope_decoder::event::Unfinished {
        layer,
        offset: 0,
        held,
        need,
        what: what.to_string(),
    }))
}

fn hello_cut(held: u64) -> EventKind {
    unfinished(AppProtocol::Tls, held, 205, "a ClientHello record")
}

fn handshake_timeout() -> EventKind {
    EventKind::Cut {
        cause: CutCause::HandshakeTimeout,
        text: "no TLS handshake completed within 5.0 s; iotscope closed the connection (--handshake-timeout)".into(),
    }
}

// ------------------------------------------------------------------ CONN.DEVICE_STALLED

#[test]
fn device_stalled_in_its_hello_is_not_the_endpoints_silence() {
    let mut t = T::new(8883);
    t.dev(
        1.0,
        EventKind::Protocol {
            protocol: AppProtocol::Tls,
            first_bytes: iotscope_decoder::event::FirstBytes::new(&[0x16, 3, 1]),
        },
    )
    .end(5001.0, handshake_timeout())
    .dev(5001.0, hello_cut(6));
    let found = t.diagnose_with(&expecting(ATS));
    let f = one(&found, "CONN.DEVICE_STALLED");
    check(f);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("6 of the 205 bytes"), "{}", f.summary);
    assert!(f.summary.contains("--handshake-timeout"), "{}", f.summary);
    assert!(f.summary.contains("5.0 s"), "{}", f.summary);
    assert!(evidence_has(f, "iotscope closed the connection"));
    // The endpoint had nothing to answer: no finding blames it.
    none(&found, "CONN.NO_ANSWER");
    none(&found, "CONN.HANDSHAKE_ABORTED");
    // The next steps carry the connection's own port.
    step(f, &format!("openssl s_client -connect {ATS}:8883"));
}

#[test]
fn device_stalled_when_it_closes_or_is_seen_silent_long_enough() {
    // A slow device that gave up itself.
    let mut closed = T::new(8883);
    closed
        .dev(1.0, proto(AppProtocol::Tls))
        .dev(2500.0, hello_cut(120))
        .dev(2500.0, fin());
    let found = closed.diagnose();
    let f = one(&found, "CONN.DEVICE_STALLED");
    assert!(
        f.summary
            .contains("the device closed the connection itself"),
        "{}",
        f.summary
    );
    none(&found, "CONN.NO_ANSWER");

    // A capture that saw three quiet seconds after a cut hello.
    let mut quiet = T::new(8883);
    quiet
        .dev(1.0, proto(AppProtocol::Tls))
        .dev(3000.0, hello_cut(6));
    one(&quiet.diagnose(), "CONN.DEVICE_STALLED");
}

#[test]
fn device_stalled_not_for_a_whole_hello_an_answer_or_a_short_capture() {
    // A whole ClientHello and no answer: the endpoint's silence.
    let mut whole = T::new(8883);
    whole
        .dev(1.0, hello_ats(&[]))
        .end(5001.0, handshake_timeout());
    let found = whole.diagnose();
    none(&found, "CONN.DEVICE_STALLED");
    one(&found, "CONN.NO_ANSWER");

    // A capture that stops 0.3 s after the device's first bytes: too soon to say.
    let mut short = T::new(8883);
    short
        .dev(1.0, proto(AppProtocol::Tls))
        .dev(300.0, hello_cut(6));
    let found = short.diagnose();
    none(&found, "CONN.DEVICE_STALLED");
    one(&found, "CONN.TRUNCATED");

    // The endpoint answered: whatever was cut later is not a stalled hello.
    let mut answered = T::new(8883);
    answered
        .dev(1.0, hello_ats(&[]))
        .end(30.0, server_hello(TLS13, AES128_GCM_13))
        .dev(
            5001.0,
            unfinished(AppProtocol::Tls, 10, 300, "a handshake record"),
        )
        .end(5001.0, handshake_timeout());
    none(&answered.diagnose(), "CONN.DEVICE_STALLED");

    // The proxy stopping 0.2 s into the hello caught the device mid-send: no stall seen.
    let mut stopping = T::new(8883);
    stopping
        .dev(1.0, proto(AppProtocol::Tls))
        .end(
            200.0,
            EventKind::Cut {
                cause: CutCause::Stopping,
                text: "iotscope closed the connection: the proxy was stopping".into(),
            },
        )
        .dev(200.0, hello_cut(6));
    none(&stopping.diagnose(), "CONN.DEVICE_STALLED");

    // Without the connection's opening, a cut record may be the capture's doing.
    let mut midstream = T::unopened(8883);
    midstream
        .dev(1.0, proto(AppProtocol::Tls))
        .dev(3000.0, hello_cut(6));
    none(&midstream.diagnose(), "CONN.DEVICE_STALLED");
}

#[test]
fn the_decoder_knows_a_hello_is_cut_short() {
    let mut s = Session::new(
        Identity {
            endpoint: Some("127.0.0.1:8883".parse().unwrap()),
            ..Identity::default()
        },
        SessionConfig::default(),
    );
    s.feed(Direction::DeviceToEndpoint, Input::Open, Timestamp(0));
    // A TLS record header declaring 200 bytes, and the handshake type byte: 6 bytes.
    s.feed(
        Direction::DeviceToEndpoint,
        &[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01][..],
        Timestamp(1_000_000),
    );
    s.feed(
        Direction::EndpointToDevice,
        Input::Cut(
            CutCause::HandshakeTimeout,
            "iotscope closed the connection".into(),
        ),
        Timestamp(5_001_000_000),
    );
    let trace = s.finish();
    let cut = trace
        .events()
        .find_map(|e| match &e.kind {
            EventKind::Unfinished(u) => Some((u.layer, u.held, u.need, u.what.clone(), e.dir)),
            _ => None,
        })
        .expect("an unfinished record");
    assert_eq!(
        cut,
        (
            AppProtocol::Tls,
            6,
            205,
            "a ClientHello record".to_string(),
            Direction::DeviceToEndpoint
        )
    );
    let found = diagnose(&trace, &Context::default());
    let codes: Vec<_> = found.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["CONN.DEVICE_STALLED"], "{found:#?}");
}

// ------------------------------------------------------------------ a length no endpoint takes

#[test]
fn a_connect_declaring_the_mqtt_maximum_is_named() {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev_dec(45.0, proto(AppProtocol::Mqtt))
        .dev_dec(
            45.0,
            unfinished(AppProtocol::Mqtt, 5, 268_435_460, "CONNECT"),
        )
        // iotscope's close on the device's behalf: its close_notify, then the FIN.
        .dev_dec(12_045.0, alert(0))
        .dev(12_045.0, fin());
    let found = t.diagnose();
    let f = one(&found, "MQTT.AWS_LIMIT");
    check(f);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("268435460 bytes"), "{}", f.summary);
    assert!(
        f.summary.contains("the most MQTT can express"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("128 KB"), "{}", f.summary);
    assert!(
        f.summary.contains("closed the connection 12.0 s after"),
        "{}",
        f.summary
    );
}

#[test]
fn a_packet_cut_by_a_close_is_malformed_and_an_unfinished_small_one_is_not_a_fault() {
    // An ordinary PUBLISH cut by the device's close breaks the framing.
    let mut cut = T::new(8883);
    cut.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-7", 60))
        .end_dec(50.0, connack(0))
        .dev_dec(60.0, unfinished(AppProtocol::Mqtt, 400, 1000, "PUBLISH"))
        .dev(60.0, fin());
    let found = cut.diagnose();
    let f = one(&found, "MQTT.MALFORMED");
    assert!(
        f.summary.contains("400 of the 1000 bytes of its PUBLISH"),
        "{}",
        f.summary
    );
    none(&found, "MQTT.AWS_LIMIT");

    // The same packet still arriving when the trace ends: nothing to say.
    let mut open = T::new(8883);
    open.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-7", 60))
        .end_dec(50.0, connack(0))
        .dev_dec(60.0, unfinished(AppProtocol::Mqtt, 400, 1000, "PUBLISH"));
    let found = open.diagnose();
    none(&found, "MQTT.MALFORMED");
    none(&found, "MQTT.AWS_LIMIT");

    // A large PUBLISH from the endpoint is not the device's limit.
    let mut down = T::new(8883);
    down.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-7", 60))
        .end_dec(50.0, connack(0))
        .end_dec(60.0, unfinished(AppProtocol::Mqtt, 400, 900_000, "PUBLISH"));
    none(&down.diagnose(), "MQTT.AWS_LIMIT");
}

// ------------------------------------------------------------------ CONN.ENDPOINT_CLOSED

fn session() -> T {
    let mut t = T::new(8883);
    t.tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-7", 60))
        .end_dec(50.0, connack(0))
        .dev_dec(60.0, subscribe(1, &[("cmd/thing-7", 1)]))
        .end_dec(70.0, suback(1, &[0x01]));
    t
}

#[test]
fn endpoint_closed_with_a_publish_unacknowledged() {
    let mut t = session();
    t.dev_dec(5_000.0, publish("dt/thing-7/telemetry", 3, 1, 64))
        .dev_dec(5_001.0, pingreq())
        .end(5_002.0, fin());
    let found = t.diagnose();
    let f = one(&found, "CONN.ENDPOINT_CLOSED");
    check(f);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.summary
            .contains("PUBLISH 3 on dt/thing-7/telemetry (QoS 1) without its PUBACK"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("PINGREQ without PINGRESP"),
        "{}",
        f.summary
    );
    step(f, "AWSIotLogsV2");
    step(f, "client id thing-7");
}

#[test]
fn endpoint_closed_an_idle_session_and_an_encrypted_one() {
    let mut idle = session();
    idle.end(30_000.0, fin());
    let found = idle.diagnose();
    let f = one(&found, "CONN.ENDPOINT_CLOSED");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.summary.contains("Nothing the device had sent"),
        "{}",
        f.summary
    );

    let mut reset = session();
    reset.end(30_000.0, rst());
    let f = one(&reset.diagnose(), "CONN.ENDPOINT_CLOSED").clone();
    assert!(f.summary.contains("reset the connection"), "{}", f.summary);

    // No keys: application data both ways, then the endpoint's FIN.
    let mut dark = T::new(8883);
    dark.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(60.0, app(21))
        .end(9_000.0, fin());
    let found = dark.diagnose();
    let f = one(&found, "CONN.ENDPOINT_CLOSED");
    assert!(f.summary.contains("encrypted"), "{}", f.summary);
}

#[test]
fn endpoint_closed_not_for_the_devices_own_end_or_a_missed_end() {
    // The device said DISCONNECT; the endpoint closing first at TCP is the usual answer.
    let mut bye = session();
    bye.dev_dec(9_000.0, disconnect(0))
        .end(9_001.0, fin())
        .dev(9_002.0, fin());
    none(&bye.diagnose(), "CONN.ENDPOINT_CLOSED");

    // The device closed first; the endpoint only followed.
    let mut follows = session();
    follows.dev(9_000.0, fin()).end(9_001.0, fin());
    none(&follows.diagnose(), "CONN.ENDPOINT_CLOSED");

    // The capture missed the end: no close at all.
    let mut missed = session();
    missed.dev_dec(9_000.0, publish("dt/thing-7/telemetry", 3, 1, 64));
    none(&missed.diagnose(), "CONN.ENDPOINT_CLOSED");

    // The endpoint said why (MQTT 5 session taken over).
    let mut taken = T::new(8883);
    taken
        .tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(5, "thing-7", 60))
        .end_dec(50.0, connack_at(5, 0))
        .end_dec(9_000.0, disconnect(0x8e))
        .end(9_001.0, fin());
    let found = taken.diagnose();
    none(&found, "CONN.ENDPOINT_CLOSED");
    one(&found, "MQTT.SESSION_TAKEN_OVER");

    // A refusal at CONNECT is not a session that was dropped.
    let mut refused = T::new(8883);
    refused
        .tls13(hello_ats(&[]), 1500)
        .dev_dec(41.0, connect(4, "thing-7", 60))
        .end(45.0, fin());
    none(&refused.diagnose(), "CONN.ENDPOINT_CLOSED");

    // A close right after a PUBLISH reads as a refusal of it, not as a dropped session.
    let mut denied = session();
    denied
        .dev_dec(5_000.0, publish("dt/other", 3, 1, 64))
        .end(5_002.0, fin());
    let found = denied.diagnose();
    one(&found, "AUTHZ.PUBLISH_DENIED");
    none(&found, "CONN.ENDPOINT_CLOSED");

    // iotscope cut the connection itself.
    let mut cut = session();
    cut.end(
        9_000.0,
        EventKind::Cut {
            cause: CutCause::Stopping,
            text: "iotscope closed the connection: the proxy was stopping".into(),
        },
    )
    .end(9_000.0, fin());
    none(&cut.diagnose(), "CONN.ENDPOINT_CLOSED");
}

#[test]
fn endpoint_closed_not_for_an_orderly_or_non_mqtt_encrypted_end() {
    // The device's last record is DISCONNECT-sized (TLS 1.3: 2 bytes, a type byte, a tag).
    let mut bye = T::new(8883);
    bye.tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(60.0, app(21))
        .dev(9_000.0, app(19))
        .end(9_001.0, fin());
    none(&bye.diagnose(), "CONN.ENDPOINT_CLOSED");

    // The endpoint sent its close_notify first: it ended the session on purpose, in order.
    let mut notify = T::new(8883);
    notify
        .tls13(hello_ats(&[]), 1500)
        .dev(41.0, app(60))
        .end(60.0, app(21))
        .end(9_000.0, app(19))
        .end(9_000.5, fin());
    none(&notify.diagnose(), "CONN.ENDPOINT_CLOSED");

    // Not MQTT as far as the wire shows (another port, no MQTT ALPN, not an AWS name): a
    // server that closes after answering is how many protocols end.
    let mut web = T::new(4433);
    web.tls13(
        client_hello(Some("www.example.org"), &[], &[TLS13], &[AES128_GCM_13]),
        1500,
    )
    .dev(41.0, app(60))
    .end(60.0, app(234))
    .end(61.0, fin());
    none(&web.diagnose(), "CONN.ENDPOINT_CLOSED");

    // The same on that port with the MQTT ALPN AWS IoT uses on 443 is an MQTT session.
    let mut alpn = T::new(4433);
    alpn.tls13(
        client_hello(
            Some("broker.example.org"),
            &["x-amzn-mqtt-ca"],
            &[TLS13],
            &[AES128_GCM_13],
        ),
        1500,
    )
    .dev(41.0, app(60))
    .end(60.0, app(21))
    .end(9_000.0, fin());
    one(&alpn.diagnose(), "CONN.ENDPOINT_CLOSED");
}

fn leg(outcome: iotscope_decoder::device_leg::Outcome) -> EventKind {
    use iotscope_decoder::device_leg::{DeviceLeg, Presented, Proof};
    EventKind::DeviceLeg(Box::new(DeviceLeg {
        sni: None,
        alpn: Vec::new(),
        offered_suites: Vec::new(),
        version: None,
        cipher: None,
        presented: Presented::Mitm {
            name: String::new(),
        },
        chain: Vec::new().into(),
        proof: Proof::NotReached,
        upstream_cert: None,
        outcome,
        not_upstream: None,
        endpoint_refused: None,
    }))
}

#[test]
fn mitm_a_device_leg_ended_by_the_handshake_deadline_is_a_stall() {
    use iotscope_decoder::device_leg::Outcome;
    let failed = || Outcome::Failed {
        detail: "the device sent no whole ClientHello within 1.0 s".into(),
    };
    let mut t = T::new(8883);
    t.end(1000.0, handshake_timeout())
        .dev(1000.0, leg(failed()));
    let found = t.diagnose();
    let f = one(&found, "CONN.DEVICE_STALLED");
    check(f);
    assert!(
        f.summary.contains("no whole ClientHello within 1.0 s"),
        "{}",
        f.summary
    );
    assert_eq!(codes(&found), ["CONN.DEVICE_STALLED"]);

    // The same failure without iotscope's deadline (the device closed, say) is not a stall.
    let mut closed = T::new(8883);
    closed.dev(1000.0, leg(failed()));
    none(&closed.diagnose(), "CONN.DEVICE_STALLED");

    // A device leg that completed, on a connection cut later for another reason.
    let mut done = T::new(8883);
    done.dev(10.0, leg(Outcome::Completed))
        .end(1000.0, handshake_timeout());
    none(&done.diagnose(), "CONN.DEVICE_STALLED");
}

#[test]
fn mitm_plain_mqtt_refused_by_iotscope_is_neither_silence_nor_a_gap() {
    use iotscope_decoder::device_leg::Outcome;
    // In MITM the proxy reads the device's first bytes, finds no ClientHello and ends the
    // connection itself: the endpoint is never dialled, so its empty side is not missing.
    let mut t = T::new(8883);
    t.dev(0.02, connect(4, "demo-plain", 60)).dev(
        0.2,
        leg(Outcome::Failed {
            detail: "the device's first bytes are not a TLS ClientHello".into(),
        }),
    );
    assert_eq!(codes(&t.diagnose()), ["CONN.NOT_TLS"]);

    // Without the device leg (a capture, or passthrough), the same bytes and an end 0.2 s
    // later leave the endpoint's answer unseen.
    let mut capture = T::new(8883);
    capture.dev(0.02, connect(4, "demo-plain", 60));
    one(&capture.diagnose(), "CONN.TRUNCATED");
}

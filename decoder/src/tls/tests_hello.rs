//! ClientHello and ServerHello: hand-built hellos with every extension the trace reads, and the
//! hellos of the reference captures (`captures/reference/`) against the fingerprints tshark, Suricata and Arkime report.

use super::testutil::*;
use super::SniForm;
use crate::event::{Direction, EventKind};

fn hello_with(exts: &[Vec<u8>]) -> crate::trace::Trace {
    let body = client_hello_body(0x0303, &[0x1301, 0xc02f], exts);
    run_device_bytes(&[&record_v(22, 0x0301, &handshake(1, &body))])
}

#[test]
fn client_hello_with_every_extension_and_grease() {
    let key_share = {
        let mut entries = vec![0x7a, 0x7a, 0, 1, 0];
        entries.extend([0x11, 0xec, 0, 3, 1, 2, 3]);
        entries.extend([0, 29, 0, 2, 4, 5]);
        ext(51, &vec16(&entries))
    };
    let exts = vec![
        ext(0x2a2a, &[]),
        sni_ext(&[b"abc123example-ats.iot.us-east-1.amazonaws.com"]),
        alpn_ext(&[b"x-amzn-mqtt-ca", b"mqtt"]),
        ext(43, &vec8(&[0x4a, 0x4a, 3, 4, 3, 3])),
        ext(10, &list16(&[0x8a8a, 0x11ec, 29, 23, 24])),
        key_share,
        ext(13, &list16(&[0x0403, 0x0804, 0x0401, 0x0201])),
        ext(11, &vec8(&[0, 1, 2])),
        ext(1, &[2]),
        ext(35, &[]),
        ext(23, &[]),
        ext(0xff01, &[0]),
        ext(0xfafa, &[0]),
    ];
    let body = client_hello_body(0x0303, &[0x0a0a, 0x1301, 0x1302, 0xc02b, 0x00ff], &exts);
    let trace = run_device_bytes(&[&record_v(22, 0x0301, &handshake(1, &body))]);
    assert!(malformed(&trace).is_empty(), "{:?}", malformed(&trace));
    let ch = client_hello(&trace);
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.record_version, 0x0301);
    assert_eq!(
        ch.random.to_string(),
        crate::hex::encode(&(0..32u8).collect::<Vec<u8>>())
    );
    assert_eq!(ch.session_id_len, 32);
    let suites: Vec<_> = ch.cipher_suites.iter().map(|s| s.name()).collect();
    assert_eq!(
        suites,
        [
            "GREASE",
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        ]
    );
    assert_eq!(ch.compression_methods, vec![0]);
    let ext_names: Vec<&str> = ch.extensions.iter().map(|e| e.name()).collect();
    assert_eq!(
        ext_names,
        [
            "GREASE",
            "server_name",
            "application_layer_protocol_negotiation",
            "supported_versions",
            "supported_groups",
            "key_share",
            "signature_algorithms",
            "ec_point_formats",
            "max_fragment_length",
            "session_ticket",
            "extended_master_secret",
            "renegotiation_info",
            "GREASE"
        ]
    );
    assert_eq!(ch.extensions[1].len, 50);
    assert_eq!(
        ch.sni.as_deref(),
        Some("abc123example-ats.iot.us-east-1.amazonaws.com")
    );
    assert_eq!(ch.sni_form, SniForm::HostName);
    assert_eq!(ch.alpn, vec!["x-amzn-mqtt-ca", "mqtt"]);
    assert_eq!(ch.supported_versions, vec![0x4a4a, 0x0304, 0x0303]);
    assert_eq!(ch.highest_version(), 0x0304);
    let groups: Vec<_> = ch.supported_groups.iter().map(|g| g.name()).collect();
    assert_eq!(
        groups,
        [
            "GREASE",
            "X25519MLKEM768",
            "x25519",
            "secp256r1",
            "secp384r1"
        ]
    );
    let shares: Vec<u16> = ch.key_share_groups.iter().map(|g| g.id).collect();
    assert_eq!(shares, vec![0x7a7a, 0x11ec, 29]);
    let sigs: Vec<_> = ch.signature_algorithms.iter().map(|s| s.name()).collect();
    assert_eq!(
        sigs,
        [
            "ecdsa_secp256r1_sha256",
            "rsa_pss_rsae_sha256",
            "rsa_pkcs1_sha256",
            "rsa_pkcs1_sha1"
        ]
    );
    assert_eq!(ch.ec_point_formats, vec![0, 1, 2]);
    assert_eq!(ch.max_fragment_length, Some(2));
    assert!(ch.session_ticket);
    assert_eq!(
        ch.grease,
        vec![0x0a0a, 0x2a2a, 0x4a4a, 0x8a8a, 0x7a7a, 0xfafa]
    );
    assert_eq!(
        ch.ja3(),
        "771,4865-4866-49195-255,0-16-43-10-51-13-11-1-35-23-65281,4588-29-23-24,0-1-2"
    );
    assert_eq!(ch.ja3_hash(), super::fingerprint::md5_hex(&ch.ja3()));
    // 4 suites and 11 extensions without GREASE; ALPN x-amzn-mqtt-ca gives "xa"
    assert!(ch.ja4.starts_with("t13d0411xa_"), "{}", ch.ja4);
}

#[test]
fn sni_forms() {
    let form = |exts: &[Vec<u8>]| {
        let t = hello_with(exts);
        let ch = client_hello(&t);
        (ch.sni_form, ch.sni.clone(), ch.sni_names.len())
    };
    assert_eq!(form(&[]), (SniForm::Absent, None, 0));
    assert_eq!(form(&[ext(0, &[])]), (SniForm::Empty, None, 0));
    assert_eq!(form(&[sni_ext(&[b""])]), (SniForm::Empty, None, 1));
    assert_eq!(
        form(&[sni_ext(&[b"a.example"])]),
        (SniForm::HostName, Some("a.example".into()), 1)
    );
    assert_eq!(
        form(&[sni_ext(&[b"127.0.0.1"])]),
        (SniForm::IpLiteral, Some("127.0.0.1".into()), 1)
    );
    assert_eq!(
        form(&[sni_ext(&[b"2001:db8::1"])]),
        (SniForm::IpLiteral, Some("2001:db8::1".into()), 1)
    );
    assert_eq!(
        form(&[sni_ext(&[b"a.example", b"b.example"])]),
        (SniForm::Several, Some("a.example".into()), 2)
    );
}

#[test]
fn a_broken_extension_is_named_and_the_rest_still_read() {
    // supported_groups whose inner length overruns, then ALPN
    let t = hello_with(&[ext(10, &[0, 9, 0, 29]), alpn_ext(&[b"mqtt"])]);
    let ch = client_hello(&t);
    assert_eq!(ch.alpn, vec!["mqtt"]);
    assert!(ch.supported_groups.is_empty());
    let bad = malformed(&t);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, 5, "offset of the message in the stream");
    assert!(bad[0].1.contains("supported_groups (10)"), "{}", bad[0].1);
}

#[test]
fn a_truncated_client_hello_is_malformed_with_a_reason() {
    let mut body = client_hello_body(0x0303, &[0x1301], &[]);
    body[35 + 32 + 1] = 0x40; // cipher suite list length far beyond the body
    let t = run_device_bytes(&[&record(22, &handshake(1, &body))]);
    let bad = malformed(&t);
    assert_eq!(bad.len(), 1);
    assert!(
        bad[0].1.contains("cipher suite list claims"),
        "{}",
        bad[0].1
    );
    assert!(!t
        .events()
        .any(|e| matches!(e.kind, EventKind::ClientHello(_))));
}

#[test]
fn server_hello_tls12() {
    let exts = vec![
        ext(0xff01, &[0]),
        ext(11, &vec8(&[0])),
        alpn_ext(&[b"x-amzn-mqtt-ca"]),
    ];
    let sh = record(
        22,
        &handshake(2, &server_hello_body(&[5; 32], 0xc030, &exts)),
    );
    let t = run_chunks(&[
        (crate::Direction::DeviceToEndpoint, simple_client_hello()),
        (crate::Direction::EndpointToDevice, sh),
    ]);
    let h = server_hello(&t);
    assert_eq!((h.legacy_version, h.version), (0x0303, 0x0303));
    assert_eq!(
        h.cipher_suite.name(),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    );
    assert_eq!(h.alpn.as_deref(), Some("x-amzn-mqtt-ca"));
    assert!(!h.hello_retry_request);
    assert_eq!(h.ja3s, "771,49200,65281-11-16");
    assert_eq!(h.extensions.len(), 3);
}

#[test]
fn server_hello_tls13_and_hello_retry_request() {
    let t = run_chunks(&[
        (crate::Direction::DeviceToEndpoint, simple_client_hello()),
        (crate::Direction::EndpointToDevice, tls13_server_hello()),
    ]);
    let h = server_hello(&t);
    assert_eq!((h.legacy_version, h.version), (0x0303, 0x0304));
    assert_eq!(h.key_share_group.as_ref().unwrap().name(), "x25519");
    assert_eq!(h.ja3s, "771,4866,43-51");
    assert_eq!(h.ja3s_hash, "15af977ce25de452b96affa2addb1036");

    let hrr_exts = vec![ext(43, &[3, 4]), ext(51, &[0x11, 0xec])];
    let hrr = server_hello_body(&super::server_hello::HRR_RANDOM, 0x1301, &hrr_exts);
    let t = run_chunks(&[
        (crate::Direction::DeviceToEndpoint, simple_client_hello()),
        (
            crate::Direction::EndpointToDevice,
            record(22, &handshake(2, &hrr)),
        ),
    ]);
    let h = server_hello(&t);
    assert!(h.hello_retry_request);
    assert_eq!(h.version, 0x0304);
    assert_eq!(h.key_share_group.as_ref().unwrap().name(), "X25519MLKEM768");
}

struct Expect {
    fixture: &'static str,
    ja3: &'static str,
    ja3s: Option<&'static str>,
    ja4: Option<&'static str>,
    sni: Option<&'static str>,
    suites: usize,
}

/// JA3/JA3S from tshark 4.0.17 (no GREASE in these hellos, so Wireshark issue 17942 does not
/// apply); JA4 from Suricata's ja4-tls test and Arkime's session expectations.
const CAPTURE_HELLOS: &[Expect] = &[
    Expect {
        fixture: "sv_tls12_selfsigned_selks",
        ja3: "308b0bd904abbef5e0034a1ff7a78920",
        ja3s: Some("ccc514751b175866924439bdbb5bba34"),
        ja4: Some("t12i1810s1_27d4652c4487_06a4338d0495"),
        sni: None,
        suites: 18,
    },
    Expect {
        fixture: "arkime_tls12_alert_certificate_unknown",
        ja3: "66918128f1b9b03303d77c6f2eefd128",
        ja3s: Some("2d1eb5817ece335c24904f516ad5da12"),
        ja4: Some("t13d1615H2_46e7e9700bed_45f260be83e2"),
        sni: Some("bad.curveballtest.com"),
        // Chrome: one GREASE suite besides the 16 that JA4 counts
        suites: 17,
    },
    Expect {
        fixture: "arkime_tls12_alpn_h2",
        ja3: "3faa4ad39f690c4ef1c3160caa375465",
        ja3s: Some("7f76f3e952a1bc7d407366fafe1db7ed"),
        ja4: Some("t12d4605h2_85626a9a5f7f_aaf95bb78ec9"),
        sni: Some("www.cloudflare.com"),
        suites: 46,
    },
    Expect {
        fixture: "arkime_tls13_curl_sni",
        ja3: "eeadfd2f446a45ded96f804720a0c75b",
        ja3s: Some("907bf3ecef1c987c889946b737b43de8"),
        ja4: Some("t13d0413h2_16476d049b0b_ffceb19bae65"),
        sni: Some("enabled.tls13.com"),
        suites: 4,
    },
    Expect {
        fixture: "illustrated_tls12",
        ja3: "36d715579d31b7f031149c4560b5914f",
        ja3s: Some("5a450169db1f168548fb87aa841fe743"),
        ja4: None,
        sni: Some("example.ulfheim.net"),
        suites: 16,
    },
    Expect {
        fixture: "illustrated_tls13",
        ja3: "f146948b4a599d4d7ddf071b74696983",
        ja3s: Some("15af977ce25de452b96affa2addb1036"),
        ja4: None,
        sni: Some("example.ulfheim.net"),
        suites: 4,
    },
    Expect {
        fixture: "sv_tls12_mtls_client_auth",
        ja3: "2a26b1a62e40d25d4de3babc9d532f30",
        ja3s: Some("a9e3ed16ee3208291487c8d2aa2ad924"),
        ja4: None,
        sni: Some("localhost"),
        suites: 67,
    },
    Expect {
        fixture: "sv_tls_alert_handshake_failure",
        ja3: "709377ac59ab71c3788da5ab1ad4d287",
        ja3s: None,
        ja4: None,
        sni: None,
        suites: 32,
    },
    Expect {
        fixture: "lab01_tls13_ok",
        ja3: "a3afc2c46ba4a7d7fbe1cfb7a3031c2f",
        ja3s: Some("15af977ce25de452b96affa2addb1036"),
        ja4: None,
        sni: Some("abc123example-ats.iot.us-east-1.amazonaws.com"),
        suites: 31,
    },
    Expect {
        fixture: "lab03_tls12_mtls_ok",
        ja3: "871a754af286dfb70c1b53c6887c62e0",
        ja3s: Some("ec74a5c51106f0419184d0dd08fb05bc"),
        ja4: None,
        sni: Some("abc123example-ats.iot.us-east-1.amazonaws.com"),
        suites: 28,
    },
    Expect {
        fixture: "lab08_tls13_no_client_cert",
        ja3: "f146948b4a599d4d7ddf071b74696983",
        ja3s: Some("15af977ce25de452b96affa2addb1036"),
        ja4: None,
        sni: Some("abc123example-ats.iot.us-east-1.amazonaws.com"),
        suites: 4,
    },
    Expect {
        fixture: "lab14_sni_ip",
        ja3: "a3afc2c46ba4a7d7fbe1cfb7a3031c2f",
        ja3s: None,
        ja4: None,
        sni: Some("127.0.0.1"),
        suites: 31,
    },
    Expect {
        fixture: "lab15_sni_absent",
        ja3: "c216e752cae6f8755fd27f561d031636",
        ja3s: None,
        ja4: None,
        sni: None,
        suites: 31,
    },
    Expect {
        fixture: "lab26_tls10_client",
        ja3: "c6dbf3152a545382a95425e390e2d2e8",
        ja3s: None,
        ja4: None,
        sni: Some("abc123example-ats.iot.us-east-1.amazonaws.com"),
        suites: 9,
    },
];

#[test]
fn capture_hellos_match_their_recorded_fingerprints() {
    for e in CAPTURE_HELLOS {
        let t = run_stream(e.fixture);
        let ch = client_hello(&t);
        assert_eq!(ch.ja3_hash(), e.ja3, "{} ja3 {}", e.fixture, ch.ja3());
        assert_eq!(ch.ja3_hash(), super::fingerprint::md5_hex(&ch.ja3()));
        if let Some(ja4) = e.ja4 {
            assert_eq!(ch.ja4, ja4, "{}", e.fixture);
        }
        if let Some(ja3s) = e.ja3s {
            assert_eq!(server_hello(&t).ja3s_hash, ja3s, "{}", e.fixture);
        }
        assert_eq!(ch.sni.as_deref(), e.sni, "{}", e.fixture);
        assert_eq!(ch.cipher_suites.len(), e.suites, "{}", e.fixture);
        let bad = malformed(&t);
        assert!(bad.is_empty(), "{}: {:?}", e.fixture, bad);
    }
}

#[test]
fn lab_hello_facts() {
    // 14: the IP address given as SNI, which RFC 6066 forbids
    let t = run_stream("lab14_sni_ip");
    assert_eq!(client_hello(&t).sni_form, SniForm::IpLiteral);
    // 15: openssl s_client without -servername
    let t = run_stream("lab15_sni_absent");
    let ch = client_hello(&t);
    assert_eq!(ch.sni_form, SniForm::Absent);
    assert_eq!(ch.supported_versions, vec![0x0304, 0x0303, 0x0302, 0x0301]);
    // 26: a TLS 1.0-only client, refused with protocol_version
    let t = run_stream("lab26_tls10_client");
    let ch = client_hello(&t);
    assert_eq!(ch.legacy_version, 0x0301);
    assert!(ch.supported_versions.is_empty());
    assert_eq!(ch.offered_versions(), vec![0x0301]);
    // 08: TLS 1.3 only, four suites
    let t = run_stream("lab08_tls13_no_client_cert");
    let ch = client_hello(&t);
    assert_eq!(ch.supported_versions, vec![0x0304]);
    assert_eq!(server_hello(&t).cipher_suite.id, 0x1302);
}

/// A ClientHello body with its own random, session id and key, as every connection sends.
fn hello_of_connection(n: u8, exts_in_order: &[Vec<u8>]) -> crate::trace::Trace {
    let mut body = client_hello_body(0x0303, &[0x1301, 0xc02f], exts_in_order);
    body[2..34].fill(n);
    body[35..67].fill(n.wrapping_add(1));
    run_device_bytes(&[&record_v(22, 0x0301, &handshake(1, &body))])
}

#[test]
fn connections_that_offer_the_same_share_one_offer_and_keep_their_own_random() {
    let key = |n: u8| ext(51, &vec16(&[&[0, 29, 0, 4][..], &[n; 4]].concat()));
    let sni = sni_ext(&[b"abc123example-ats.iot.us-east-1.amazonaws.com"]);
    let groups = ext(10, &list16(&[29, 23]));
    // A value is shared from its second sight on: the first connection keeps its own.
    let _first = hello_of_connection(9, &[sni.clone(), groups.clone(), key(9)]);
    let a = hello_of_connection(1, &[sni.clone(), groups.clone(), key(1)]);
    let b = hello_of_connection(2, &[sni.clone(), groups.clone(), key(2)]);
    // A client that shuffles its extensions (rustls, browsers): the same offer in a new order.
    let c = hello_of_connection(3, &[key(3), sni, groups]);
    let (a, b, c) = (client_hello(&a), client_hello(&b), client_hello(&c));
    assert_eq!(a.random.0, [1; 32]);
    assert_eq!(b.random.0, [2; 32]);
    assert!(std::sync::Arc::ptr_eq(&a.offer, &b.offer));
    assert!(std::sync::Arc::ptr_eq(&a.extensions, &b.extensions));
    assert!(std::sync::Arc::ptr_eq(&a.offer, &c.offer));
    assert!(!std::sync::Arc::ptr_eq(&a.extensions, &c.extensions));
    let ids = |h: &crate::tls::ClientHello| h.extensions.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(a), [0, 10, 51]);
    assert_eq!(ids(c), [51, 0, 10]);
    assert_ne!(a.ja3(), c.ja3());
    // JA3 follows the order each connection sent.
    assert_eq!(a.ja3(), "771,4865-49199,0-10-51,29-23,");
    assert_eq!(c.ja3(), "771,4865-49199,51-0-10,29-23,");
    assert_eq!(a.ja4, c.ja4);
    assert_eq!(
        c.sni.as_deref(),
        Some("abc123example-ats.iot.us-east-1.amazonaws.com")
    );
}

#[test]
fn connections_answered_the_same_share_one_choice() {
    let answer = |n: u8| {
        let body = server_hello_body(
            &[n; 32],
            0x1301,
            &[ext(43, &[3, 4]), ext(51, &[0, 29, 0, 2, n, n])],
        );
        run_chunks(&[
            (Direction::DeviceToEndpoint, simple_client_hello()),
            (
                Direction::EndpointToDevice,
                record(22, &handshake(2, &body)),
            ),
        ])
    };
    let (_first, a, b) = (answer(6), answer(7), answer(8));
    let (a, b) = (server_hello(&a), server_hello(&b));
    assert_eq!(a.random.0, [7; 32]);
    assert_eq!(b.random.0, [8; 32]);
    assert!(std::sync::Arc::ptr_eq(&a.choice, &b.choice));
    assert_eq!(a.version, 0x0304);
    assert_eq!(a.key_share_group.map(|g| g.id), Some(29));
}

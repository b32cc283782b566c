//! Names of TLS protocol numbers: versions, cipher suites, extensions, groups, signature
//! schemes and alerts, as the IANA registries spell them.
//!
//! Renderers and rules print these, so an unknown number always still gets a printable name
//! (its hex value) rather than disappearing.

use std::borrow::Cow;

use tls_parser::TlsCipherSuite;

/// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, … 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn hex16(v: u16) -> Cow<'static, str> {
    Cow::Owned(format!("0x{v:04x}"))
}

/// `SSL 3.0`, `TLS 1.0` … `TLS 1.3`, `DTLS 1.2`, `TLS 1.3 draft 28`, `GREASE`, else the hex
/// value.
pub fn version_name(v: u16) -> Cow<'static, str> {
    let known = match v {
        0x0200 | 0x0002 => "SSL 2.0",
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        _ if is_grease(v) => "GREASE",
        0x7f01..=0x7f1c => return Cow::Owned(format!("TLS 1.3 draft {}", v & 0xff)),
        _ => return hex16(v),
    };
    Cow::Borrowed(known)
}

/// The IANA name of a cipher suite (tls-parser's table, which includes the SCSVs), `GREASE`,
/// or the hex value.
pub fn cipher_name(id: u16) -> Cow<'static, str> {
    if is_grease(id) {
        return Cow::Borrowed("GREASE");
    }
    match TlsCipherSuite::from_id(id) {
        Some(suite) => Cow::Borrowed(suite.name),
        None => hex16(id),
    }
}

/// The IANA name of an extension type, `GREASE`, or `unknown`.
pub fn extension_name(id: u16) -> &'static str {
    match id {
        0 => "server_name",
        1 => "max_fragment_length",
        2 => "client_certificate_url",
        3 => "trusted_ca_keys",
        4 => "truncated_hmac",
        5 => "status_request",
        6 => "user_mapping",
        7 => "client_authz",
        8 => "server_authz",
        9 => "cert_type",
        10 => "supported_groups",
        11 => "ec_point_formats",
        12 => "srp",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "application_layer_protocol_negotiation",
        17 => "status_request_v2",
        18 => "signed_certificate_timestamp",
        19 => "client_certificate_type",
        20 => "server_certificate_type",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        24 => "token_binding",
        25 => "cached_info",
        26 => "tls_lts",
        27 => "compress_certificate",
        28 => "record_size_limit",
        29 => "pwd_protect",
        30 => "pwd_clear",
        31 => "password_salt",
        32 => "ticket_pinning",
        33 => "tls_cert_with_extern_psk",
        34 => "delegated_credential",
        35 => "session_ticket",
        36 => "TLMSP",
        37 => "TLMSP_proxying",
        38 => "TLMSP_delegate",
        39 => "supported_ekt_ciphers",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        48 => "oid_filters",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        52 => "transparency_info",
        53 => "connection_id_deprecated",
        54 => "connection_id",
        55 => "external_id_hash",
        56 => "external_session_id",
        57 => "quic_transport_parameters",
        58 => "ticket_request",
        59 => "dnssec_chain",
        60 => "sequence_number_encryption_algorithms",
        61 => "rrc",
        0x3374 => "next_protocol_negotiation",
        0x4469 | 0x44cd => "application_settings",
        0x7550 => "channel_id",
        0xfe0d => "encrypted_client_hello",
        0xff01 => "renegotiation_info",
        _ if is_grease(id) => "GREASE",
        _ => "unknown",
    }
}

/// The IANA name of a supported group (`x25519`, `secp256r1`, `X25519MLKEM768` …), `GREASE`,
/// or the hex value.
pub fn group_name(id: u16) -> Cow<'static, str> {
    let name = match id {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        41 => "curveSM2",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        0x639a => "SecP256r1Kyber768Draft00",
        0xff01 => "arbitrary_explicit_prime_curves",
        0xff02 => "arbitrary_explicit_char2_curves",
        _ if is_grease(id) => "GREASE",
        _ => return hex16(id),
    };
    Cow::Borrowed(name)
}

/// The IANA name of a signature scheme (`rsa_pss_rsae_sha256`, `ecdsa_secp256r1_sha256` …),
/// including the TLS 1.2 hash/signature pairs that have no TLS 1.3 name, else the hex value.
pub fn sigscheme_name(id: u16) -> Cow<'static, str> {
    let name = match id {
        0x0101 => "rsa_pkcs1_md5",
        0x0102 => "dsa_md5",
        0x0103 => "ecdsa_md5",
        0x0201 => "rsa_pkcs1_sha1",
        0x0202 => "dsa_sha1",
        0x0203 => "ecdsa_sha1",
        0x0301 => "rsa_pkcs1_sha224",
        0x0302 => "dsa_sha224",
        0x0303 => "ecdsa_sha224",
        0x0401 => "rsa_pkcs1_sha256",
        0x0402 => "dsa_sha256",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0420 => "rsa_pkcs1_sha256_legacy",
        0x0501 => "rsa_pkcs1_sha384",
        0x0502 => "dsa_sha384",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0520 => "rsa_pkcs1_sha384_legacy",
        0x0601 => "rsa_pkcs1_sha512",
        0x0602 => "dsa_sha512",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0620 => "rsa_pkcs1_sha512_legacy",
        0x0704 => "eccsi_sha256",
        0x0705 => "iso_ibs1",
        0x0706 => "iso_ibs2",
        0x0707 => "iso_chinese_ibs",
        0x0708 => "sm2sig_sm3",
        0x0709 => "gostr34102012_256a",
        0x070a => "gostr34102012_256b",
        0x070b => "gostr34102012_256c",
        0x070c => "gostr34102012_256d",
        0x070d => "gostr34102012_512a",
        0x070e => "gostr34102012_512b",
        0x070f => "gostr34102012_512c",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904 => "mldsa44",
        0x0905 => "mldsa65",
        0x0906 => "mldsa87",
        _ if is_grease(id) => "GREASE",
        _ => return hex16(id),
    };
    Cow::Borrowed(name)
}

/// The name of an alert description (RFC 8446 and the IANA registry).
pub fn alert_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        117 => "general_error",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return None,
    })
}

/// The name of a handshake message type, for notes and malformed-message reasons.
pub fn handshake_type_name(t: u8) -> &'static str {
    match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
        6 => "hello_retry_request",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        21 => "certificate_url",
        22 => "certificate_status",
        24 => "key_update",
        254 => "message_hash",
        _ => "unknown",
    }
}

/// The name of a record content type.
pub fn content_type_name(t: u8) -> &'static str {
    match t {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        24 => "heartbeat",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_exactly_the_sixteen_of_rfc_8701() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[0], 0x0a0a);
        assert_eq!(all[15], 0xfafa);
        assert!(!is_grease(0x1a2a));
    }

    #[test]
    fn versions() {
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x0301), "TLS 1.0");
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft 28");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(version_name(0x1234), "0x1234");
    }

    #[test]
    fn cipher_suites_come_from_the_iana_table() {
        assert_eq!(cipher_name(0xc030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(cipher_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(cipher_name(0x00ff), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
        assert_eq!(cipher_name(0x5600), "TLS_FALLBACK_SCSV");
        assert_eq!(cipher_name(0x2a2a), "GREASE");
        assert_eq!(cipher_name(0xfeee), "0xfeee");
    }

    #[test]
    fn extensions_groups_and_schemes() {
        assert_eq!(extension_name(0), "server_name");
        assert_eq!(extension_name(16), "application_layer_protocol_negotiation");
        assert_eq!(extension_name(0xfe0d), "encrypted_client_hello");
        assert_eq!(extension_name(0xdada), "GREASE");
        assert_eq!(extension_name(0x1234), "unknown");
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(23), "secp256r1");
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x0a0a), "GREASE");
        assert_eq!(group_name(0x4242), "0x4242");
        assert_eq!(sigscheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(sigscheme_name(0x0403), "ecdsa_secp256r1_sha256");
        assert_eq!(sigscheme_name(0x0201), "rsa_pkcs1_sha1");
        assert_eq!(sigscheme_name(0xeeee), "0xeeee");
    }

    #[test]
    fn alerts() {
        assert_eq!(alert_name(0), Some("close_notify"));
        assert_eq!(alert_name(40), Some("handshake_failure"));
        assert_eq!(alert_name(48), Some("unknown_ca"));
        assert_eq!(alert_name(116), Some("certificate_required"));
        assert_eq!(alert_name(120), Some("no_application_protocol"));
        assert_eq!(alert_name(200), None);
    }
}

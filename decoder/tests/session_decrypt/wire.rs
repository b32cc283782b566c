//! Hand-built bytes for the synthetic connections: TLS records and handshake messages, the
//! few MQTT packets the tests send, and the sealers that protect records as a real peer would.
//!
//! The sealers take their record keys from the decoder's `tls13_record_key_iv` (checked
//! against RFC 8448 in the decoder's own tests), but the KeyUpdate secret and the TLS 1.2
//! record framing are written out here from the RFCs, so those parts of the decoder are
//! checked against a second reading rather than against themselves.

use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use aws_lc_rs::{hkdf, tls_prf};
use iotscope_decoder::decrypt::tls13_record_key_iv;
use iotscope_decoder::mqtt::encode;

/// The endpoint certificate the server sends: CN=abc123example-ats.iot.us-east-1.amazonaws.com.
pub const SERVER_DER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/certs/cap_lab_server.der"
));
pub const SERVER_SUBJECT: &str = "CN=abc123example-ats.iot.us-east-1.amazonaws.com";

pub const CLIENT_RANDOM: [u8; 32] = [0xc1; 32];
pub const SERVER_RANDOM: [u8; 32] = [0x5e; 32];

pub fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![msg_type];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

fn ext(id: u16, body: &[u8]) -> Vec<u8> {
    let mut e = id.to_be_bytes().to_vec();
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body);
    e
}

fn with_u16_len(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A ClientHello record offering `suites`, and TLS 1.3 when `tls13`.
pub fn client_hello(suites: &[u16], tls13: bool) -> Vec<u8> {
    client_hello_with(suites, tls13, &[])
}

/// A TLS 1.3 ClientHello resuming a session with early data: early_data (42), then a
/// pre_shared_key (41) with one ticket identity and its binder, last as RFC 8446 wants it.
pub fn client_hello_early(suites: &[u16]) -> Vec<u8> {
    let mut exts = ext(0x002a, &[]);
    exts.extend(ext(0x002d, &[0x01, 0x01])); // psk_key_exchange_modes: psk_dhe_ke
    let mut identity = with_u16_len(&[0x7e; 48]);
    identity.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    let identities = with_u16_len(&identity);
    let mut binder = vec![32u8];
    binder.extend_from_slice(&[0xb1; 32]);
    let mut psk = identities;
    psk.extend(with_u16_len(&binder));
    exts.extend(ext(0x0029, &psk));
    client_hello_with(suites, true, &exts)
}

fn client_hello_with(suites: &[u16], tls13: bool, extra: &[u8]) -> Vec<u8> {
    let sni = b"abc123example-ats.iot.us-east-1.amazonaws.com";
    let mut name = vec![0u8];
    name.extend_from_slice(&with_u16_len(sni));
    let mut exts = ext(0, &with_u16_len(&name));
    exts.extend(ext(0x000a, &[0x00, 0x02, 0x00, 0x1d]));
    exts.extend(ext(0x000d, &[0x00, 0x04, 0x04, 0x03, 0x08, 0x04]));
    if tls13 {
        exts.extend(ext(0x002b, &[0x02, 0x03, 0x04]));
        let mut share = vec![0x00, 0x1d, 0x00, 0x20];
        share.extend_from_slice(&[0x42; 32]);
        exts.extend(ext(0x0033, &with_u16_len(&share)));
    }
    exts.extend_from_slice(extra);
    let mut body = vec![3, 3];
    body.extend_from_slice(&CLIENT_RANDOM);
    body.push(0);
    let ids: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    body.extend_from_slice(&with_u16_len(&ids));
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&with_u16_len(&exts));
    record(22, &handshake(1, &body))
}

/// A ServerHello message choosing `suite`; TLS 1.3 says so in supported_versions.
pub fn server_hello(suite: u16, tls13: bool) -> Vec<u8> {
    server_hello_with(suite, tls13, false)
}

/// A TLS 1.3 ServerHello that resumes the session: pre_shared_key choosing identity 0.
pub fn server_hello_resumed(suite: u16) -> Vec<u8> {
    server_hello_with(suite, true, true)
}

/// EncryptedExtensions, with the early_data extension when the endpoint accepts early data.
pub fn encrypted_extensions(early_data: bool) -> Vec<u8> {
    let exts = if early_data {
        ext(0x002a, &[])
    } else {
        Vec::new()
    };
    handshake(8, &with_u16_len(&exts))
}

pub fn end_of_early_data() -> Vec<u8> {
    handshake(5, &[])
}

fn server_hello_with(suite: u16, tls13: bool, resumed: bool) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&SERVER_RANDOM);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut exts = Vec::new();
    if tls13 {
        exts.extend(ext(0x002b, &[0x03, 0x04]));
        let mut share = vec![0x00, 0x1d, 0x00, 0x20];
        share.extend_from_slice(&[0x24; 32]);
        exts.extend(ext(0x0033, &share));
    }
    if resumed {
        exts.extend(ext(0x0029, &[0, 0]));
    }
    body.extend_from_slice(&with_u16_len(&exts));
    handshake(2, &body)
}

/// A Certificate message with one certificate, in the TLS 1.3 layout (context, entries with
/// extensions) or the TLS 1.2 one.
pub fn certificate(der: &[u8], tls13: bool) -> Vec<u8> {
    let mut entry = (der.len() as u32).to_be_bytes()[1..].to_vec();
    entry.extend_from_slice(der);
    if tls13 {
        entry.extend_from_slice(&[0, 0]);
    }
    let mut body = if tls13 { vec![0] } else { Vec::new() };
    body.extend_from_slice(&(entry.len() as u32).to_be_bytes()[1..]);
    body.extend_from_slice(&entry);
    handshake(11, &body)
}

pub fn finished(len: usize) -> Vec<u8> {
    handshake(20, &vec![0xf1; len])
}

/// CONNECT with a clean start and keep-alive 60; `level` 4 (3.1.1) or 5.
pub fn connect(client_id: &str, level: u8) -> Vec<u8> {
    encode::connect(level, client_id, 60)
}

pub fn connack(code: u8, level: u8) -> Vec<u8> {
    encode::connack(level, code)
}

/// PUBLISH at QoS 1.
pub fn publish(topic: &str, id: u16, payload: &[u8], level: u8) -> Vec<u8> {
    encode::publish_qos1(level, id, topic, payload)
}

/// PUBACK; MQTT 5 carries the reason code and an empty property list.
pub fn puback(id: u16, code: u8, level: u8) -> Vec<u8> {
    encode::puback(level, id, code)
}

/// The hash length of a TLS 1.3 suite's key schedule.
pub fn hash_len(suite: u16) -> usize {
    if suite == 0x1302 {
        48
    } else {
        32
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, "traffic upd", "", Hash.length) (RFC 8446 §7.2), written out
/// here from the RFC's HkdfLabel layout.
pub fn next_secret(suite: u16, secret: &[u8]) -> Vec<u8> {
    let n = hash_len(suite);
    let alg = if n == 48 {
        hkdf::HKDF_SHA384
    } else {
        hkdf::HKDF_SHA256
    };
    let label = b"tls13 traffic upd";
    let mut info = (n as u16).to_be_bytes().to_vec();
    info.push(label.len() as u8);
    info.extend_from_slice(label);
    info.push(0);
    let mut out = vec![0u8; n];
    hkdf::Prk::new_less_safe(alg, secret)
        .expand(&[&info], Len(n))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-Expand of a hash-length output");
    out
}

/// Protects one writer's TLS 1.3 records under one traffic secret, following KeyUpdates.
pub struct Sealer13 {
    suite: u16,
    secret: Vec<u8>,
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Sealer13 {
    pub fn new(suite: u16, secret: &[u8]) -> Sealer13 {
        let (key, iv) = tls13_record_key_iv(suite, secret).expect("record keys");
        let alg = match suite {
            0x1301 => &AES_128_GCM,
            0x1302 => &AES_256_GCM,
            _ => &CHACHA20_POLY1305,
        };
        Sealer13 {
            suite,
            secret: secret.to_vec(),
            key: LessSafeKey::new(UnboundKey::new(alg, &key).expect("AEAD key")),
            iv,
            seq: 0,
        }
    }

    /// A whole record: outer type 23, `plain` followed by the inner content type.
    pub fn seal(&mut self, inner_type: u8, plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.push(inner_type);
        let len = (buf.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut buf,
            )
            .expect("seal");
        self.seq += 1;
        let mut rec = header.to_vec();
        rec.extend(buf);
        rec
    }

    /// A KeyUpdate record under the current keys; the records after it use the next secret.
    pub fn key_update(&mut self, update_requested: bool) -> Vec<u8> {
        let rec = self.seal(22, &handshake(24, &[u8::from(update_requested)]));
        *self = Sealer13::new(self.suite, &next_secret(self.suite, &self.secret));
        rec
    }
}

/// Protects one writer's TLS 1.2 AES-128-GCM records (RFC 5288): a 4-byte salt from the key
/// block, an 8-byte explicit nonce at the start of each record, and the additional data
/// seq ‖ type ‖ version ‖ plaintext length.
pub struct Sealer12 {
    key: LessSafeKey,
    salt: [u8; 4],
    seq: u64,
}

impl Sealer12 {
    /// Keys for the client (`client` true) or the server from the master secret.
    pub fn new(master: &[u8; 48], client: bool) -> Sealer12 {
        let secret = tls_prf::Secret::new(&tls_prf::P_SHA256, master).expect("PRF secret");
        // client key 16, server key 16, client salt 4, server salt 4: AEAD suites have no MAC key.
        let block = secret
            .derive_with_seed_concatination(b"key expansion", &SERVER_RANDOM, &CLIENT_RANDOM, 40)
            .expect("key block");
        let block = block.as_ref();
        let (key, salt) = if client {
            (&block[0..16], &block[32..36])
        } else {
            (&block[16..32], &block[36..40])
        };
        Sealer12 {
            key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, key).expect("AES key")),
            salt: salt.try_into().expect("4-byte salt"),
            seq: 0,
        }
    }

    pub fn seal(&mut self, content_type: u8, plain: &[u8]) -> Vec<u8> {
        // Any unique explicit nonce will do; this one is not the sequence number, so a decoder
        // that took the sequence number instead of the record's bytes would fail.
        let explicit = (self.seq ^ 0x0102_0304_0506_0708).to_be_bytes();
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.salt);
        nonce[4..].copy_from_slice(&explicit);
        let mut aad = self.seq.to_be_bytes().to_vec();
        aad.extend_from_slice(&[content_type, 3, 3]);
        aad.extend_from_slice(&(plain.len() as u16).to_be_bytes());
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                &mut buf,
            )
            .expect("seal");
        self.seq += 1;
        let mut body = explicit.to_vec();
        body.extend(buf);
        record(content_type, &body)
    }
}

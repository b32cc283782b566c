//! A compact handshake history, one letter per message, after Zeek's `ssl_history`.
//!
//! Upper case when the device (the client) sent it, lower case for the endpoint:
//!
//! | letter | message |
//! |---|---|
//! | `C` | client_hello |
//! | `S` | server_hello |
//! | `J` | hello_retry_request |
//! | `X` | certificate |
//! | `K` | server_key_exchange |
//! | `R` | certificate_request |
//! | `N` | server_hello_done |
//! | `Y` | certificate_verify |
//! | `G` | client_key_exchange |
//! | `F` | finished (a TLS 1.2 encrypted Finished included) |
//! | `I` | change_cipher_spec |
//! | `D` | application data (encrypted records, or decrypted MQTT); a run counts once |
//! | `L` | alert, readable or encrypted |
//! | `O` | encrypted_extensions |
//! | `T` | new_session_ticket |
//! | `H` | hello_request |
//! | `E` | end_of_early_data |
//! | `U` | certificate_status |
//! | `P` | key_update |
//! | `M` | message_hash |
//! | `Z` | another handshake type |
//! | `Q` | an encrypted handshake record whose message cannot be seen without keys (TLS 1.3) |
//!
//! The string is computed from the events alone, so a trace with decrypted handshake messages
//! gives the letters of those messages instead of `Q`.

use crate::event::{Direction, EncryptedPhase, Event, EventKind, HandshakeKind};
use crate::trace::Trace;

fn letter(event: &Event) -> Option<char> {
    let c = match &event.kind {
        EventKind::ClientHello(_) => 'c',
        EventKind::ServerHello(h) if h.hello_retry_request => 'j',
        EventKind::ServerHello(_) => 's',
        EventKind::Certificate(_) => 'x',
        EventKind::CertificateRequest { .. } => 'r',
        EventKind::ChangeCipherSpec => 'i',
        EventKind::Alert { .. } => 'l',
        EventKind::Handshake { kind, .. } => match kind {
            HandshakeKind::HelloRequest => 'h',
            HandshakeKind::NewSessionTicket => 't',
            HandshakeKind::EndOfEarlyData => 'e',
            HandshakeKind::EncryptedExtensions => 'o',
            HandshakeKind::ServerKeyExchange => 'k',
            HandshakeKind::ServerHelloDone => 'n',
            HandshakeKind::CertificateVerify => 'y',
            HandshakeKind::ClientKeyExchange => 'g',
            HandshakeKind::Finished => 'f',
            HandshakeKind::CertificateStatus => 'u',
            HandshakeKind::KeyUpdate => 'p',
            HandshakeKind::MessageHash => 'm',
            HandshakeKind::Other(_) => 'z',
        },
        EventKind::Encrypted {
            content_type,
            phase,
            ..
        } => match (content_type, phase) {
            (22, EncryptedPhase::Handshake) => 'f',
            (23, EncryptedPhase::Application | EncryptedPhase::EarlyData) => 'd',
            (21, _) => 'l',
            _ => 'q',
        },
        EventKind::Mqtt(_) if event.decrypted => 'd',
        _ => return None,
    };
    Some(if event.dir == Direction::DeviceToEndpoint {
        c.to_ascii_uppercase()
    } else {
        c
    })
}

/// The history of a trace, e.g. `CsxknXGYIFifDd` for a TLS 1.2 handshake with a client
/// certificate followed by application data.
pub fn history(trace: &Trace) -> String {
    let mut out = String::new();
    for c in trace.events().filter_map(letter) {
        if (c == 'D' || c == 'd') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    out
}

//! Handshake messages, once joined, turned into events: hellos, certificates, certificate
//! requests and the messages whose presence is what matters.
//!
//! tls-parser reads the TLS 1.2 bodies. TLS 1.3 changed the Certificate and
//! CertificateRequest layouts (a request context, per-certificate extensions, CA names inside
//! an extension); those are read here, for handshakes that decryption makes visible.

use crate::malformed::Malformed;
use tls_parser::{parse_tls_message_handshake, TlsMessage, TlsMessageHandshake};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::client_hello::{parse_client_hello, split_extensions};
use super::reassembly::{type_label, Joined, MAX_HANDSHAKE};
use super::server_hello::parse_server_hello;
use super::TlsConn;
use crate::emit::Emit;
use crate::event::{EventKind, HandshakeKind};

fn u24(b: &[u8]) -> Option<usize> {
    match *b {
        [a, b, c, ..] => Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)),
        _ => None,
    }
}

/// The kind reported for messages that carry nothing the trace needs beyond their presence.
fn plain_kind(t: u8) -> HandshakeKind {
    match t {
        0 => HandshakeKind::HelloRequest,
        4 => HandshakeKind::NewSessionTicket,
        5 => HandshakeKind::EndOfEarlyData,
        8 => HandshakeKind::EncryptedExtensions,
        12 => HandshakeKind::ServerKeyExchange,
        14 => HandshakeKind::ServerHelloDone,
        15 => HandshakeKind::CertificateVerify,
        16 => HandshakeKind::ClientKeyExchange,
        20 => HandshakeKind::Finished,
        22 => HandshakeKind::CertificateStatus,
        24 => HandshakeKind::KeyUpdate,
        254 => HandshakeKind::MessageHash,
        other => HandshakeKind::Other(other),
    }
}

/// An X.501 name as `C=US, O=…, CN=…`, or a placeholder naming its size.
fn dn_string(der: &[u8]) -> Result<String, Malformed> {
    match X509Name::from_der(der) {
        Ok(([], name)) => Ok(name.to_string()),
        _ => Err(Malformed(format!(
            "unreadable distinguished name ({} bytes)",
            der.len()
        ))),
    }
}

/// TLS 1.3 Certificate: request context, then entries of certificate and extensions.
fn tls13_certificates(body: &[u8]) -> Result<Vec<&[u8]>, Malformed> {
    let ctx_len = usize::from(*body.first().ok_or("empty certificate message")?);
    let list = body
        .get(1 + ctx_len..)
        .ok_or("certificate request context is cut short")?;
    let list_len = u24(list).ok_or("certificate list length is cut short")?;
    let mut entries = list.get(3..3 + list_len).ok_or(format!(
        "certificate list claims {list_len} bytes but fewer remain"
    ))?;
    if list.len() != 3 + list_len {
        return Err(Malformed(format!(
            "{} bytes after the certificate list",
            list.len() - 3 - list_len
        )));
    }
    let mut ders = Vec::new();
    while !entries.is_empty() {
        let len = u24(entries).ok_or("certificate entry length is cut short")?;
        let der = entries.get(3..3 + len).ok_or(format!(
            "certificate entry claims {len} bytes but fewer remain"
        ))?;
        let ext = &entries[3 + len..];
        let [e1, e2, ..] = *ext else {
            return Err("certificate entry extensions are cut short".into());
        };
        let ext_len = usize::from(u16::from_be_bytes([e1, e2]));
        if ext.len() < 2 + ext_len {
            return Err("certificate entry extensions are cut short".into());
        }
        ders.push(der);
        entries = &ext[2 + ext_len..];
    }
    Ok(ders)
}

/// TLS 1.2 Certificate via tls-parser, checking that the certificates fill the list exactly.
fn tls12_certificates(whole: &[u8]) -> Result<Vec<&[u8]>, Malformed> {
    let body = &whole[4..];
    let chain = match parse_tls_message_handshake(whole) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)))) => c.cert_chain,
        _ => {
            return Err(Malformed(format!(
                "certificate message of {} bytes could not be read",
                body.len()
            )))
        }
    };
    let list_len = u24(body).unwrap_or(0);
    let used: usize = chain.iter().map(|c| 3 + c.data.len()).sum();
    if body.len() != 3 + list_len || used != list_len {
        return Err(Malformed(format!(
            "certificate list of {list_len} bytes holds {used} bytes of certificates in a {}-byte message",
            body.len()
        )));
    }
    Ok(chain.into_iter().map(|c| c.data).collect())
}

/// TLS 1.3 CertificateRequest: the CA names sit in a certificate_authorities extension.
fn tls13_ca_names(body: &[u8]) -> Result<Vec<&[u8]>, Malformed> {
    let ctx_len = usize::from(*body.first().ok_or("empty certificate request")?);
    let ext = body
        .get(1 + ctx_len..)
        .ok_or("request context is cut short")?;
    let [a, b, ref block @ ..] = *ext else {
        return Err("extensions length is cut short".into());
    };
    let len = usize::from(u16::from_be_bytes([a, b]));
    if block.len() != len {
        return Err(Malformed(format!(
            "extensions claim {len} bytes, {} present",
            block.len()
        )));
    }
    let (exts, problem) = split_extensions(block);
    if let Some(p) = problem {
        return Err(Malformed::from(p));
    }
    let mut names = Vec::new();
    for e in exts.iter().filter(|e| e.id == 47) {
        let [a, b, ref list @ ..] = *e.data else {
            return Err("certificate_authorities is cut short".into());
        };
        let list_len = usize::from(u16::from_be_bytes([a, b]));
        if list.len() != list_len {
            return Err("certificate_authorities list length is wrong".into());
        }
        let mut list: &[u8] = list;
        while let [n1, n2, ref rest @ ..] = *list {
            let n = usize::from(u16::from_be_bytes([n1, n2]));
            let name = rest.get(..n).ok_or("distinguished name is cut short")?;
            names.push(name);
            list = &rest[n..];
        }
        if !list.is_empty() {
            return Err("stray byte after the distinguished names".into());
        }
    }
    Ok(names)
}

impl TlsConn {
    /// The payload of a handshake record (plain, or decrypted) that starts at `offset`.
    pub(super) fn on_handshake_payload(
        &mut self,
        payload: &[u8],
        offset: u64,
        record_version: u16,
        out: &mut Emit,
    ) {
        if payload.is_empty() {
            out.emit(EventKind::TlsMalformed {
                offset,
                reason: "empty handshake record".into(),
            });
            return;
        }
        let d = out.dir.index();
        let joined = self.dirs[d].joiner.push(payload, offset, record_version);
        for j in joined {
            match j {
                Joined::Message {
                    msg_type,
                    whole,
                    offset,
                    record_version,
                    after_gap,
                } => {
                    if let Err(reason) = self.on_message(msg_type, &whole, offset, record_version, out) {
                        let event = if after_gap {
                            EventKind::Note {
                                text: format!(
                                    "after the gap, handshake bytes at offset {offset} did not read as {}: {reason}",
                                    type_label(msg_type)
                                ),
                            }
                        } else {
                            EventKind::TlsMalformed { offset, reason: reason.to_string().into() }
                        };
                        out.emit(event);
                    }
                }
                Joined::TooLarge {
                    msg_type,
                    len,
                    offset,
                } => out.emit(EventKind::TlsMalformed {
                    offset,
                    reason: format!(
                        "handshake message {} announces {len} bytes, more than the {MAX_HANDSHAKE} this decoder holds; skipped",
                        type_label(msg_type)
                    ).into(),
                }),
                Joined::Dropped { bytes } => out.emit(EventKind::Note {
                    text: format!(
                        "{bytes} handshake bytes after the gap skipped: no message boundary in them"
                    ),
                }),
            }
        }
    }

    /// One whole handshake message. An error is the reason it could not be read.
    fn on_message(
        &mut self,
        msg_type: u8,
        whole: &[u8],
        offset: u64,
        record_version: u16,
        out: &mut Emit,
    ) -> Result<(), Malformed> {
        let body = &whole[4..];
        match msg_type {
            1 => {
                let parsed = parse_client_hello(body, record_version)?;
                let first = !std::mem::replace(&mut self.client_hello_seen, true);
                if first && self.keyed {
                    self.rare().client_random = Some(parsed.hello.random.0);
                }
                self.client_etm = parsed.hello.extensions.iter().any(|e| e.id == 22);
                // Only the first ClientHello can carry early data (not one after a
                // HelloRetryRequest).
                if first {
                    self.early_offered = parsed.hello.extensions.iter().any(|e| e.id == 42);
                }
                out.emit(EventKind::ClientHello(Box::new(parsed.hello)));
                for p in parsed.problems {
                    out.emit(EventKind::TlsMalformed {
                        offset,
                        reason: format!("ClientHello: {p}").into(),
                    });
                }
            }
            2 => {
                let parsed = parse_server_hello(body)?;
                self.server_etm = parsed.hello.extensions.iter().any(|e| e.id == 22);
                self.on_server_hello(&parsed.hello);
                out.emit(EventKind::ServerHello(Box::new(parsed.hello)));
                for p in parsed.problems {
                    out.emit(EventKind::TlsMalformed {
                        offset,
                        reason: format!("ServerHello: {p}").into(),
                    });
                }
            }
            11 => {
                let ders = if self.tls13 {
                    tls13_certificates(body)?
                } else {
                    tls12_certificates(whole)?
                };
                out.emit(crate::cert::read_chain(&ders).into());
            }
            13 => {
                let raw_names = if self.tls13 {
                    tls13_ca_names(body)?
                } else {
                    match parse_tls_message_handshake(whole) {
                        Ok((
                            _,
                            TlsMessage::Handshake(TlsMessageHandshake::CertificateRequest(r)),
                        )) => r.unparsed_ca,
                        _ => {
                            return Err(Malformed(format!(
                                "certificate request of {} bytes could not be read",
                                body.len()
                            )))
                        }
                    }
                };
                let mut ca_names = Vec::new();
                for der in raw_names {
                    match dn_string(der) {
                        Ok(name) => ca_names.push(name),
                        Err(why) => {
                            out.emit(EventKind::TlsMalformed {
                                offset,
                                reason: format!("certificate request: {why}").into(),
                            });
                            ca_names.push(format!("<{why}>"));
                        }
                    }
                }
                out.emit(EventKind::CertificateRequest { ca_names });
            }
            // EncryptedExtensions: whether the endpoint read the device's early data.
            8 => {
                if out.dir == crate::event::Direction::EndpointToDevice && self.tls13 {
                    self.on_encrypted_extensions(body);
                }
                self.emit_plain(msg_type, body.len(), out);
            }
            // EndOfEarlyData: the device's next records are under its handshake secret.
            5 => {
                if out.decrypted && out.dir == crate::event::Direction::DeviceToEndpoint {
                    self.end_of_early_data_seen = true;
                }
                self.emit_plain(msg_type, body.len(), out);
            }
            // Types tls-parser has no reader for; their presence is what matters.
            254 => self.emit_plain(msg_type, body.len(), out),
            // KeyUpdate: the writer's next records are under the next secret.
            24 => {
                // Only a KeyUpdate read from decrypted records moves the keys on; one in the
                // clear is a protocol error and says nothing about the keys.
                if out.decrypted {
                    self.key_update_seen[out.dir.index()] = true;
                }
                self.emit_plain(msg_type, body.len(), out);
            }
            14 if !body.is_empty() => {
                return Err(Malformed(format!(
                    "server_hello_done carries {} bytes; it must be empty",
                    body.len()
                )))
            }
            _ => match parse_tls_message_handshake(whole) {
                Ok(_) => self.emit_plain(msg_type, body.len(), out),
                Err(_) => {
                    return Err(Malformed(format!(
                        "{} of {} bytes could not be read",
                        type_label(msg_type),
                        body.len()
                    )))
                }
            },
        }
        Ok(())
    }

    /// The endpoint's EncryptedExtensions (TLS 1.3): an early_data extension (42) in it says
    /// the endpoint read the device's early data.
    fn on_encrypted_extensions(&mut self, body: &[u8]) {
        if !self.early_offered || self.early_answer().is_some() {
            return;
        }
        let exts = match *body {
            [a, b, ref block @ ..] if block.len() == usize::from(u16::from_be_bytes([a, b])) => {
                split_extensions(block).0
            }
            _ => {
                self.rare().early_answer = Some(super::EarlyAnswer::Unknown(
                    "the endpoint's EncryptedExtensions could not be read",
                ));
                return;
            }
        };
        self.rare().early_answer = Some(if exts.iter().any(|e| e.id == 42) {
            super::EarlyAnswer::Accepted
        } else {
            super::EarlyAnswer::Rejected("its EncryptedExtensions has no early_data extension")
        });
    }

    fn emit_plain(&mut self, msg_type: u8, len: usize, out: &mut Emit) {
        out.emit(EventKind::Handshake {
            kind: plain_kind(msg_type),
            len: len as u32,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls13_certificate_entries_are_read_with_their_extensions() {
        // context "", two entries: 3-byte cert with no extensions, 2-byte cert with a
        // 4-byte extension block
        let body = [
            0, 0, 0, 16, 0, 0, 3, 0xa, 0xb, 0xc, 0, 0, 0, 0, 2, 0xd, 0xe, 0, 4, 0, 5, 0, 0,
        ];
        let mut fixed = body.to_vec();
        fixed[3] = (fixed.len() - 4) as u8;
        let ders = tls13_certificates(&fixed).unwrap();
        assert_eq!(ders, vec![&[0xa, 0xb, 0xc][..], &[0xd, 0xe][..]]);
        assert!(tls13_certificates(&fixed[..fixed.len() - 1]).is_err());
        assert!(tls13_certificates(&[]).is_err());
    }

    #[test]
    fn tls13_certificate_request_names_come_from_certificate_authorities() {
        // CN=A as DER
        let dn = [
            0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'A',
        ];
        let mut ext = vec![0, 47];
        let list_len = 2 + dn.len();
        ext.extend(((list_len + 2) as u16).to_be_bytes());
        ext.extend((list_len as u16).to_be_bytes());
        ext.extend((dn.len() as u16).to_be_bytes());
        ext.extend(dn);
        let mut body = vec![0];
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(&ext);
        let names = tls13_ca_names(&body).unwrap();
        assert_eq!(names.len(), 1);
        assert_eq!(dn_string(names[0]).unwrap(), "CN=A");
        assert!(dn_string(&dn[..5]).is_err());
    }
}

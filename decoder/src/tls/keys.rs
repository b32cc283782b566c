//! Decryption inside the TLS layer: which secrets open which direction's records, and when
//! the keys change.
//!
//! A key log names connections by the ClientHello random. Once the ServerHello has been seen,
//! each direction gets a [`RecordDecryptor`]: TLS 1.2 from the master secret and both randoms
//! after the writer's ChangeCipherSpec; TLS 1.3 from the handshake traffic secret first, then
//! the application traffic secret. The switch from handshake to application keys is found by
//! trying the next keys when the current ones fail to authenticate — an AEAD tag does not pass
//! under the wrong key, so a wrong guess cannot produce plaintext. A KeyUpdate read from the
//! writer's own decrypted records moves its keys on.
//!
//! Early data (TLS 1.3 0-RTT) the endpoint accepted starts the device's keys one step before:
//! the client early traffic secret ([`Keys::begin_early_data`]) until its EndOfEarlyData
//! ([`Keys::end_of_early_data`]), then the handshake secret as usual. A TLS 1.2 resumption
//! (session ID or ticket) needs nothing more: the key log's CLIENT_RANDOM line for the resumed
//! connection carries the master secret again, under the new client random.
//!
//! What cannot be decrypted (no key for the connection, a suite we do not open, a record that
//! does not authenticate) is said once per direction as an [`EventKind::Undecrypted`] event;
//! the records then stay reported as encrypted.

use std::sync::Arc;

use super::Record;
use crate::decrypt::{self, Epoch, RecordDecryptor, Version, Writer};
use crate::emit::Emit;
use crate::event::{Direction, EventKind};
use crate::keylog::{KeySource, Secrets};

/// What the TLS layer knows that decryption needs.
pub(super) struct Params {
    pub client_random: Option<[u8; 32]>,
    pub server_random: Option<[u8; 32]>,
    pub cipher: Option<u16>,
    pub tls13: bool,
    pub encrypt_then_mac: bool,
    /// Bytes of this direction missed before this record.
    pub missed: u64,
}

#[derive(Default)]
struct DirKeys {
    decryptor: Option<RecordDecryptor>,
    epoch: Option<Epoch>,
    /// Decryption of this direction was given up; the reason was reported.
    given_up: bool,
    records: u64,
    /// Records that may fail to open without giving up: the device's EndOfEarlyData when the
    /// key log lacks the early secret of accepted early data.
    tolerated_failures: u32,
}

pub(super) struct Keys {
    keylog: Arc<dyn KeySource>,
    secrets: Option<Secrets>,
    looked_up: bool,
    dirs: [DirKeys; 2],
}

impl Keys {
    pub fn new(keylog: Arc<dyn KeySource>) -> Keys {
        Keys {
            keylog,
            secrets: None,
            looked_up: false,
            dirs: [DirKeys::default(), DirKeys::default()],
        }
    }

    /// Decryption of `dir` was given up (its reason was reported).
    pub fn gave_up(&self, dir: Direction) -> bool {
        self.dirs[dir.index()].given_up
    }

    /// Whether the key source holds no secret at all.
    pub fn keylog_is_empty(&self) -> bool {
        self.keylog.is_empty()
    }

    fn look_up(&mut self, p: &Params) -> Option<Secrets> {
        if !self.looked_up {
            self.looked_up = true;
            self.secrets = p.client_random.and_then(|r| {
                let found = self.keylog.secrets(&r);
                if found.is_some() {
                    self.keylog.taken(&r);
                }
                found
            });
        }
        self.secrets.clone()
    }

    /// The endpoint accepted the device's early data (or may have): the device's records are
    /// opened with the client early traffic secret from now on. `Err` says why they cannot be;
    /// then the device's EndOfEarlyData, under that secret, is left encrypted without giving up
    /// on the records after it.
    pub fn begin_early_data(&mut self, p: &Params) -> Result<(), KeysError> {
        let d = Direction::DeviceToEndpoint.index();
        let result = (|| {
            let secrets = self.look_up(p).ok_or_else(|| {
                KeysError::NoSecrets(
                    p.client_random
                        .map(|r| crate::hex::encode(&r))
                        .unwrap_or_else(|| "(no ClientHello seen)".to_string()),
                )
            })?;
            let suite = p.cipher.ok_or(KeysError::SuiteUnknown)?;
            make(&secrets, p, suite, Writer::Client, Some(Epoch::Early))
        })();
        match result {
            Ok(dec) => {
                self.dirs[d].decryptor = Some(dec);
                self.dirs[d].epoch = Some(Epoch::Early);
                Ok(())
            }
            Err(why) => {
                self.dirs[d].tolerated_failures = 1;
                Err(why)
            }
        }
    }

    /// The device's EndOfEarlyData was read: its next records are under the handshake secret.
    pub fn end_of_early_data(&mut self, p: &Params, out: &mut Emit) {
        let d = Direction::DeviceToEndpoint.index();
        if self.dirs[d].epoch != Some(Epoch::Early) {
            return;
        }
        let (Some(secrets), Some(suite)) = (self.secrets.clone(), p.cipher) else {
            return;
        };
        match make(&secrets, p, suite, Writer::Client, Some(Epoch::Handshake)) {
            Ok(dec) => {
                self.dirs[d].decryptor = Some(dec);
                self.dirs[d].epoch = Some(Epoch::Handshake);
            }
            Err(why) => {
                self.dirs[d].decryptor = None;
                self.give_up(out, why.to_string());
            }
        }
    }

    /// Opens a protected record: `Some((inner content type, plaintext))`, or `None` when it
    /// cannot be (the reason is reported once per direction).
    pub fn open(&mut self, rec: &Record<'_>, p: &Params, out: &mut Emit) -> Option<(u8, Vec<u8>)> {
        let d = out.dir.index();
        if self.dirs[d].given_up {
            return None;
        }
        let Some(secrets) = self.look_up(p) else {
            if self.keylog.is_empty() {
                // No keys were given at all (a capture that may carry some, but does not):
                // the records stay encrypted without a remark, as they would with no key log.
                self.dirs[d].given_up = true;
                return None;
            }
            let random = p
                .client_random
                .map(|r| crate::hex::encode(&r))
                .unwrap_or_else(|| "(no ClientHello seen)".into());
            self.give_up(
                out,
                format!("the key log has no secrets for client random {random}"),
            );
            return None;
        };
        let Some(suite) = p.cipher else {
            self.give_up(
                out,
                "no ServerHello was seen, so the cipher suite is unknown".into(),
            );
            return None;
        };
        let version = if p.tls13 {
            Version::Tls13
        } else {
            Version::Tls12
        };
        if !decrypt::suite_supported(version, suite) {
            self.give_up(
                out,
                format!(
                    "cipher suite {} is not one iotscope decrypts",
                    super::names::cipher_name(suite)
                ),
            );
            return None;
        }
        let header = header(rec);
        let writer = Writer::from(out.dir.sender());
        if self.dirs[d].decryptor.is_none() {
            let first = if p.tls13 {
                Some(Epoch::Handshake)
            } else {
                None
            };
            match make(&secrets, p, suite, writer, first) {
                Ok(dec) => {
                    self.dirs[d].decryptor = Some(dec);
                    self.dirs[d].epoch = first;
                }
                Err(why) => {
                    self.give_up(out, why.to_string());
                    return None;
                }
            }
        }
        let ds = &mut self.dirs[d];
        let dec = ds.decryptor.as_mut()?;
        let first_error = match dec.decrypt(&header, rec.payload) {
            Ok(opened) => {
                ds.records += 1;
                return Some(opened);
            }
            Err(e) => e,
        };
        // TLS 1.3: the writer may have moved on to its next keys (early data to handshake,
        // handshake to application).
        let next_epoch = match ds.epoch {
            Some(Epoch::Early) => Some(Epoch::Handshake),
            Some(Epoch::Handshake) => Some(Epoch::Application),
            _ => None,
        };
        if let (true, Some(epoch)) = (p.tls13, next_epoch) {
            if let Ok(mut next) = make(&secrets, p, suite, writer, Some(epoch)) {
                if let Ok(opened) = next.decrypt(&header, rec.payload) {
                    ds.decryptor = Some(next);
                    ds.epoch = Some(epoch);
                    ds.records += 1;
                    return Some(opened);
                }
            }
        }
        if ds.tolerated_failures > 0 {
            ds.tolerated_failures -= 1;
            return None;
        }
        let n = ds.records;
        // After missed bytes a failure is the gap's doing, not the keys': the records lost
        // took their sequence numbers with them.
        let reason = if p.missed > 0 {
            format!(
                "{} bytes of this direction were missed before record {}, so the sequence numbers of the records after them are not known",
                p.missed,
                n + 1
            )
        } else {
            format!(
                "decryption failed at record {} of this direction: {first_error}",
                n + 1
            )
        };
        self.give_up(out, reason);
        None
    }

    /// The writer of `dir` sent a KeyUpdate: its next records use the next secret.
    pub fn key_update(&mut self, dir: Direction, out: &mut Emit) {
        if let Some(dec) = self.dirs[dir.index()].decryptor.as_mut() {
            if let Err(e) = dec.key_update() {
                self.give_up(out, format!("the key update could not be followed: {e}"));
            }
        }
    }

    fn give_up(&mut self, out: &mut Emit, reason: String) {
        let ds = &mut self.dirs[out.dir.index()];
        if ds.given_up {
            return;
        }
        ds.given_up = true;
        out.emit(EventKind::Undecrypted { reason });
    }
}

fn header(rec: &Record<'_>) -> [u8; 5] {
    let v = rec.version.to_be_bytes();
    let n = (rec.payload.len() as u16).to_be_bytes();
    [rec.content_type, v[0], v[1], n[0], n[1]]
}

/// Why a direction's record keys could not be made; the text is what the user reads in the
/// connection's "not decrypted" event.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the key log has no secrets for client random {0}")]
    NoSecrets(String),
    #[error("no ServerHello was seen, so the cipher suite is unknown")]
    SuiteUnknown,
    #[error("the key log has no {0} for this connection")]
    NoTrafficSecret(&'static str),
    #[error("the key log has no CLIENT_RANDOM (master secret) line for this connection")]
    NoMasterSecret,
    #[error("both hello randoms are needed for TLS 1.2 keys")]
    NoRandoms,
    #[error(transparent)]
    Cipher(#[from] decrypt::DecryptError),
}

fn make(
    secrets: &Secrets,
    p: &Params,
    suite: u16,
    writer: Writer,
    epoch: Option<Epoch>,
) -> Result<RecordDecryptor, KeysError> {
    match epoch {
        Some(epoch) => {
            let secret = decrypt::tls13_traffic_secret(secrets, writer, epoch).ok_or(
                KeysError::NoTrafficSecret(decrypt::keylog_label(writer, epoch)),
            )?;
            Ok(RecordDecryptor::tls13(suite, secret)?)
        }
        None => {
            let master = secrets
                .master_secret
                .as_deref()
                .ok_or(KeysError::NoMasterSecret)?;
            let (Some(cr), Some(sr)) = (p.client_random, p.server_random) else {
                return Err(KeysError::NoRandoms);
            };
            Ok(RecordDecryptor::tls12(
                suite,
                master,
                &cr,
                &sr,
                writer,
                p.encrypt_then_mac,
            )?)
        }
    }
}

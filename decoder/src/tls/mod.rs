//! TLS: the record layer, handshake reassembly and the messages the trace reports.
//!
//! Bytes of each direction are framed into records here ([`record`]) and handshake messages
//! are joined here ([`reassembly`]): tls-parser reads one message at a time but does not
//! join a handshake message that is split across records, and bytes arrive in any pieces.
//! Message bodies are then read with tls-parser ([`handshake`], [`client_hello`],
//! [`server_hello`]).
//!
//! Every record passes through one function, [`TlsConn::on_record`], which decides whether
//! the record is protected. Protected records are reported as [`EventKind::Encrypted`] (or an
//! encrypted alert); a decryptor can later turn them into an inner content type and plaintext
//! and hand those to the same path that reads plain records, marked as decrypted.
//!
//! When records are protected:
//! - TLS 1.2 (and before a version is known): every record of a sender after its
//!   ChangeCipherSpec, except a 2-byte alert, a size no cipher produces. The first handshake
//!   record after it is the sender's Finished.
//! - TLS 1.3: records with the application_data type; alerts and handshake records in the
//!   clear stay readable (a client's alert about the server certificate, a second
//!   ClientHello after a HelloRetryRequest).
//!
//! Early data (TLS 1.3 0-RTT): a device resuming a session may send application records right
//! after its ClientHello, under the client early traffic secret, before the endpoint has chosen
//! a cipher suite. With a key log those records are held ([`MAX_EARLY_RECORDS`],
//! [`MAX_EARLY_BYTES`]) until the endpoint answers: its ServerHello names the suite (for 0-RTT
//! it must be the resumed session's), and its EncryptedExtensions says with an early_data
//! extension that it read them. Accepted early data is then decrypted and decoded, in its
//! order, before the device's EndOfEarlyData; early data the endpoint rejected (no early_data
//! in EncryptedExtensions, a full handshake instead of the resumption, a HelloRetryRequest) is
//! reported as such, since the endpoint never read it. When the answer cannot be read (the
//! endpoint's records do not decrypt, the connection ends first, more arrives than is held)
//! the records are decrypted all the same and a note says that the endpoint's answer is unknown.
//!
//! Encrypted TLS 1.3 records are in the handshake phase while the sender may still be in its
//! handshake: the endpoint's until the device sends its first encrypted record, the device's
//! for its first encrypted flight (records that arrive with the same timestamp, before any
//! endpoint record, at most [`DEVICE_FLIGHT_RECORDS`]: Certificate, CertificateVerify and
//! Finished, with room for a certificate split in two). Sizes in [`EventKind::Encrypted`] are
//! record lengths without the 5-byte header.

pub mod client_hello;
pub mod fingerprint;
pub mod handshake;
pub mod hello;
pub mod history;
mod keys;
pub mod names;
pub mod reassembly;
pub mod record;
mod seen_once;
pub mod server_hello;
mod shared;

#[cfg(test)]
mod tests_conn;
#[cfg(test)]
mod tests_hello;
#[cfg(test)]
pub(crate) mod testutil;

pub use hello::{
    joined_names, serialize_names, ClientHello, ClientOffer, Extension, Named, Random, Registry,
    ServerChoice, ServerHello, SniForm,
};
pub use history::history;

use crate::emit::Emit;
use crate::event::{AlertLevel, Direction, EncryptedPhase, EventKind, Timestamp};
use reassembly::{type_label, Joiner};
use record::{Item, RecordReader, HEADER_LEN};

/// How many encrypted records of each direction are reported one by one before application
/// records are gathered into the previous event.
pub const SEPARATE_ENCRYPTED_RECORDS: u32 = 16;

/// The most encrypted records counted as the device's first TLS 1.3 flight.
pub const DEVICE_FLIGHT_RECORDS: u32 = 4;

/// Early data records held until the endpoint's answer; more are not expected, since a
/// server allows 16 KiB of early data by default (OpenSSL's max_early_data).
pub const MAX_EARLY_RECORDS: usize = 16;

/// Bytes of early data records held until the endpoint's answer: four times OpenSSL's default
/// max_early_data of 16 KiB, so a held record never costs more than a bounded copy.
pub const MAX_EARLY_BYTES: usize = 64 * 1024;

/// Decrypted application data held for the layer above is capped; the session drains it after
/// every feed, so only a misbehaving caller reaches this.
const MAX_PLAINTEXT: usize = 1 << 20;

/// One record, whole, as it goes through [`TlsConn::on_record`].
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub content_type: u8,
    pub version: u16,
    pub payload: &'a [u8],
    /// Stream offset of the record header in its direction.
    pub offset: u64,
}

/// A device record held until the endpoint says whether it read early data.
#[derive(Debug)]
struct HeldRecord {
    content_type: u8,
    version: u16,
    payload: Vec<u8>,
    offset: u64,
}

/// What the endpoint made of the device's early data.
#[derive(Clone, Debug, PartialEq, Eq)]
enum EarlyAnswer {
    Accepted,
    /// Why the endpoint did not read it.
    Rejected(&'static str),
    /// Why its answer is not known.
    Unknown(&'static str),
}

/// The state of one direction.
#[derive(Debug, Default)]
struct DirState {
    reader: RecordReader,
    joiner: Joiner,
    /// The sender's ChangeCipherSpec was seen.
    ccs: bool,
    /// The sender's Finished has passed (TLS 1.2): its records are application records.
    finished: bool,
    encrypted_records: u32,
}

/// Where decrypted application data goes, record by record, so that what it holds is decoded
/// in its place among the handshake messages and alerts around it.
pub trait PlaintextSink: Send {
    /// Decrypted application bytes of direction `out.dir` (`out` is marked decrypted).
    fn data(&mut self, bytes: &[u8], out: &mut Emit);
    /// The sender of direction `out.dir` closed.
    fn close(&mut self, out: &mut Emit);
    /// The connection ended: decode whatever is still held.
    fn finish(&mut self, out: &mut Emit);
    /// Records of direction `out.dir` were missed after some of its plaintext was handed
    /// on: how much plaintext they held is not known.
    fn lost(&mut self, out: &mut Emit);
}

/// What only decryption and early data need.
#[derive(Debug, Default)]
struct Rare {
    /// The hellos' randoms, which name the connection in a key log: kept only with one.
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    /// Decrypted application data of each direction waiting for
    /// [`TlsConn::take_plaintext`], when there is no sink.
    plaintext: [Vec<u8>; 2],
    /// Early data records held until the endpoint's answer, and their bytes.
    early_held: Vec<HeldRecord>,
    early_held_bytes: usize,
    /// The endpoint's answer to early data, once known.
    early_answer: Option<EarlyAnswer>,
}

/// TLS state of one connection, both directions.
#[derive(Debug, Default)]
pub struct TlsConn {
    dirs: [DirState; 2],
    version: Option<u16>,
    cipher: Option<u16>,
    /// A ServerHello or HelloRetryRequest chose TLS 1.3.
    tls13: bool,
    server_hello_seen: bool,
    /// The device has sent an encrypted TLS 1.3 record.
    device_encrypted: bool,
    /// Time of the device's first encrypted flight while it lasts.
    device_flight: Option<Timestamp>,
    /// A ClientHello was read.
    client_hello_seen: bool,
    /// A key log was given: the hellos' randoms are kept for it. (`keys` itself is taken
    /// out while a record is decrypted, and a hello may be read then.)
    keyed: bool,
    /// What decryption and early data need, made when first needed: a passthrough
    /// connection, which has no key log, keeps 8 bytes for it instead of some 170 for its
    /// whole life.
    rare: Option<Box<Rare>>,
    /// Decryption, when a key log was given. Boxed: without a key log (passthrough) the
    /// connection keeps 8 bytes for it instead of some 370 for its whole life.
    keys: Option<Box<keys::Keys>>,
    /// Each hello carried encrypt_then_mac (RFC 7366).
    client_etm: bool,
    server_etm: bool,
    /// A KeyUpdate was read in a direction's current record.
    key_update_seen: [bool; 2],
    /// Bytes of each direction missed so far: after them, a record that does not decrypt
    /// says nothing about the keys (its sequence number is no longer known).
    missed: [u64; 2],
    /// Decrypted application data of each direction has been handed to the sink.
    sink_fed: [bool; 2],
    /// The decoder of what TLS carries; without one, decrypted data waits for
    /// [`TlsConn::take_plaintext`].
    sink: Option<Box<dyn PlaintextSink>>,
    /// The ClientHello offered early data (extension 42).
    early_offered: bool,
    /// Held early data was handed on: nothing more is held.
    early_done: bool,
    /// The device's EndOfEarlyData was read in its current record.
    end_of_early_data_seen: bool,
}

impl std::fmt::Debug for dyn PlaintextSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaintextSink")
    }
}

impl std::fmt::Debug for keys::Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys")
    }
}

impl TlsConn {
    pub fn new() -> TlsConn {
        TlsConn::default()
    }

    /// A connection whose records are decrypted with secrets from `keylog` when it has them.
    pub fn with_keylog(keylog: Option<std::sync::Arc<dyn crate::keylog::KeySource>>) -> TlsConn {
        TlsConn {
            keyed: keylog.is_some(),
            keys: keylog.map(|k| Box::new(keys::Keys::new(k))),
            ..TlsConn::default()
        }
    }

    /// Hands decrypted application data to `sink` as each record is read.
    pub fn set_sink(&mut self, sink: Box<dyn PlaintextSink>) {
        self.sink = Some(sink);
    }

    /// The connection ended: the decoder of what TLS carried decodes what it still holds.
    pub fn finish(&mut self, out: &mut Emit) {
        self.release_early_unknown("the connection ended before the endpoint answered", out);
        let ds = &self.dirs[out.dir.index()];
        if let Some(record) = ds.reader.unfinished() {
            out.emit(unfinished_record(record));
        } else if let Some((held, need)) = ds.joiner.partial() {
            let what = if held >= 4 {
                format!(
                    "a {} handshake message",
                    type_label(joiner_type(&ds.joiner))
                )
            } else {
                "a handshake message".to_string()
            };
            out.emit(EventKind::Unfinished(Box::new(crate::event::Unfinished {
                layer: crate::event::AppProtocol::Tls,
                offset: ds.joiner.partial_offset(),
                held: held as u64,
                need: need as u64,
                what,
            })));
        }
        if let Some(sink) = self.sink.as_mut() {
            sink.finish(&mut out.decrypted());
        }
    }

    /// Bytes in the direction `out.dir`, in any pieces.
    pub fn push(&mut self, bytes: &[u8], out: &mut Emit) {
        let d = out.dir.index();
        // The reader is taken out so that the records it frames can update the rest.
        let mut reader = std::mem::take(&mut self.dirs[d].reader);
        reader.push(bytes, &mut |item| self.on_item(item, out));
        self.dirs[d].reader = reader;
    }

    /// Can whole application records of direction `dir` be taken as headers alone? Only
    /// between records, and only when nothing would decrypt them.
    pub fn takes_summaries(&self, dir: Direction) -> bool {
        self.keys.is_none() && self.dirs[dir.index()].reader.at_boundary()
    }

    /// Whole records of direction `out.dir` passed on as their headers only (see
    /// [`crate::Input::Records`]): each counts as the encrypted record it was. A record this
    /// cannot stand for (not application data, or contents that were needed) is a gap.
    pub fn summarised(&mut self, headers: &[record::RecordHeader], out: &mut Emit) {
        let d = out.dir.index();
        for h in headers {
            let total = HEADER_LEN as u64 + u64::from(h.len);
            if h.content_type != 23 || !h.well_formed() || !self.takes_summaries(out.dir) {
                out.emit(EventKind::Gap { bytes: total });
                self.gap(total, out);
                continue;
            }
            self.dirs[d].reader.pass_whole(total);
            if out.dir == Direction::EndpointToDevice {
                self.device_flight = None;
            }
            let phase = self.phase(out, h.content_type);
            self.encrypted(h.content_type, u64::from(h.len), phase, out);
        }
    }

    /// `bytes` bytes in direction `out.dir` were never seen.
    pub fn gap(&mut self, bytes: u64, out: &mut Emit) {
        self.release_early_unknown("bytes are missing from the capture", out);
        let ds = &mut self.dirs[out.dir.index()];
        let dropped = ds.reader.gap(bytes);
        let partial = ds.joiner.partial().map_or(0, |(held, _)| held);
        ds.joiner.gap();
        self.device_flight = None;
        let d = out.dir.index();
        self.missed[d] = self.missed[d].saturating_add(bytes);
        // The records missed carried plaintext the layer above was reading: it must not take
        // what comes next for the continuation of what it holds.
        if self.sink_fed[d] {
            if let Some(sink) = self.sink.as_mut() {
                sink.lost(&mut out.decrypted());
            }
        }
        out.emit(EventKind::Note {
            text: format!(
                "TLS: {bytes} bytes missing; dropped {dropped} bytes of a partial record and {partial} of a partial handshake message, looking for the next record header"
            ),
        });
    }

    /// The sender of direction `out.dir` closed (FIN or RST).
    pub fn close(&mut self, out: &mut Emit) {
        self.release_early_unknown("a side closed before the endpoint's answer was read", out);
        let d = out.dir.index();
        let mut reader = std::mem::take(&mut self.dirs[d].reader);
        let pending = reader.unfinished();
        let cut = reader.close(&mut |item| self.on_item(item, out));
        self.dirs[d].reader = reader;
        // A record cut by the close is said with what its header declared, as at the end of
        // a trace; the close event follows it.
        if let (Some(_), Some(record)) = (cut, pending) {
            out.emit(unfinished_record(record));
        }
        let joiner = &mut self.dirs[d].joiner;
        if let Some((held, need)) = joiner.partial() {
            let offset = joiner.partial_offset();
            let what = if held >= 4 {
                format!("a {} handshake message", type_label(joiner_type(joiner)))
            } else {
                "a handshake message header".to_string()
            };
            joiner.clear();
            out.emit(EventKind::TlsMalformed {
                offset,
                reason: format!("connection closed after {held} of {need} bytes of {what}").into(),
            });
        }
        if let Some(sink) = self.sink.as_mut() {
            sink.close(&mut out.decrypted());
        }
    }

    /// Decrypted application data waiting for the layer above, if any.
    pub fn take_plaintext(&mut self, dir: Direction) -> Option<Vec<u8>> {
        let p = std::mem::take(&mut self.rare.as_mut()?.plaintext[dir.index()]);
        (!p.is_empty()).then_some(p)
    }

    /// The ClientHello random, which names the connection in a key log (kept only with one).
    pub fn client_random(&self) -> Option<[u8; 32]> {
        self.rare.as_ref()?.client_random
    }

    /// The ServerHello random (not a HelloRetryRequest's; kept only with a key log).
    pub fn server_random(&self) -> Option<[u8; 32]> {
        self.rare.as_ref()?.server_random
    }

    /// What decryption and early data need, made on first use.
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    /// Records held back as early data so far.
    fn early_held(&self) -> usize {
        self.rare.as_ref().map_or(0, |r| r.early_held.len())
    }

    /// The endpoint's answer to early data, once known.
    fn early_answer(&self) -> Option<&EarlyAnswer> {
        self.rare.as_ref()?.early_answer.as_ref()
    }

    /// The negotiated version: supported_versions of the ServerHello, else its legacy version.
    pub fn version(&self) -> Option<u16> {
        self.version
    }

    /// The cipher suite the ServerHello chose.
    pub fn cipher(&self) -> Option<u16> {
        self.cipher
    }

    /// Whether the connection negotiated TLS 1.3.
    pub fn is_tls13(&self) -> bool {
        self.tls13
    }

    fn on_item(&mut self, item: Item<'_>, out: &mut Emit) {
        match item {
            Item::Record {
                header,
                payload,
                offset,
            } => self.on_record(
                Record {
                    content_type: header.content_type,
                    version: header.version,
                    payload,
                    offset,
                },
                out,
            ),
            Item::Malformed { offset, reason } => {
                self.dirs[out.dir.index()].joiner.clear();
                out.emit(EventKind::TlsMalformed { offset, reason: reason.into() });
            }
            Item::Skipped { bytes } => out.undecoded(bytes, &[]),
            Item::Resynced { offset, skipped } => out.emit(EventKind::Note {
                text: format!(
                    "TLS: found record headers again at offset {offset} after skipping {skipped} bytes"
                ),
            }),
        }
    }

    /// Every record comes through here: protected ones are reported as encrypted, the others
    /// are read. A decryptor belongs in the protected branch, handing its plaintext to
    /// [`TlsConn::on_plaintext`] with `out.decrypted()`.
    pub fn on_record(&mut self, rec: Record<'_>, out: &mut Emit) {
        if out.dir == Direction::EndpointToDevice {
            self.device_flight = None;
        }
        if self.is_protected(out.dir, rec.content_type, rec.payload.len()) {
            if self.hold_early(&rec, out) {
                return;
            }
            self.on_protected(rec, out);
        } else {
            self.on_plaintext(rec.content_type, rec.version, rec.payload, rec.offset, out);
        }
        if out.dir == Direction::EndpointToDevice {
            self.after_endpoint_record(out);
        }
    }

    /// Holds a device record sent as early data (or after early data still held) until the
    /// endpoint's answer. False: the record goes on as usual.
    fn hold_early(&mut self, rec: &Record<'_>, out: &mut Emit) -> bool {
        let waiting = !self.early_done
            && out.dir == Direction::DeviceToEndpoint
            && self.early_offered
            && (!self.server_hello_seen || self.early_held() > 0);
        let Some(keys) = self.keys.as_ref() else {
            return false;
        };
        if !waiting || keys.keylog_is_empty() {
            return false;
        }
        let rare = self.rare();
        if rare.early_held.len() >= MAX_EARLY_RECORDS
            || rare.early_held_bytes + rec.payload.len() > MAX_EARLY_BYTES
        {
            self.release_early_unknown(
                "more early data arrived than iotscope holds while waiting for the answer",
                out,
            );
            return false;
        }
        rare.early_held_bytes += rec.payload.len();
        rare.early_held.push(HeldRecord {
            content_type: rec.content_type,
            version: rec.version,
            payload: rec.payload.to_vec(),
            offset: rec.offset,
        });
        true
    }

    /// After each endpoint record: held early data is handed on once the endpoint's answer is
    /// known, or once it is clear the answer cannot be read.
    fn after_endpoint_record(&mut self, out: &mut Emit) {
        if self.early_done || self.early_held() == 0 {
            return;
        }
        if self.early_answer().is_none()
            && self.server_hello_seen
            && self
                .keys
                .as_ref()
                .is_some_and(|k| k.gave_up(Direction::EndpointToDevice))
        {
            self.rare().early_answer = Some(EarlyAnswer::Unknown(
                "the endpoint's EncryptedExtensions could not be decrypted",
            ));
        }
        if let Some(answer) = self.early_answer().cloned() {
            self.release_early(answer, out);
        }
    }

    fn release_early_unknown(&mut self, why: &'static str, out: &mut Emit) {
        if !self.early_done && self.early_held() > 0 {
            let answer = self
                .early_answer()
                .cloned()
                .unwrap_or(EarlyAnswer::Unknown(why));
            self.release_early(answer, out);
        }
    }

    /// Hands the held early data on: decrypted and decoded in its order when the endpoint
    /// read it (or may have), reported as rejected when it did not.
    fn release_early(&mut self, answer: EarlyAnswer, out: &mut Emit) {
        self.early_done = true;
        let rare = self.rare();
        let held = std::mem::take(&mut rare.early_held);
        rare.early_held_bytes = 0;
        let mut dev = out.toward(Direction::DeviceToEndpoint);
        let bytes: usize = held.iter().map(|h| h.payload.len()).sum();
        let what = format!(
            "{} record{} of early data ({bytes} bytes) sent before the endpoint's ServerHello",
            held.len(),
            if held.len() == 1 { "" } else { "s" }
        );
        if let EarlyAnswer::Rejected(why) = answer {
            for h in &held {
                self.encrypted(
                    h.content_type,
                    h.payload.len() as u64,
                    EncryptedPhase::EarlyData,
                    &mut dev,
                );
            }
            dev.emit(EventKind::Note {
                text: format!(
                    "TLS: early data the endpoint rejected: {what}, which the endpoint did not read ({why}); the device sends it again after the handshake if it still needs to"
                ),
            });
            return;
        }
        let params = self.params();
        let begun = self.keys.as_mut().map(|k| k.begin_early_data(&params));
        let text = match (&answer, &begun) {
            (EarlyAnswer::Unknown(unknown), Some(Err(why))) => format!(
                "TLS: {what}; whether the endpoint accepted it is not known ({unknown}); not decrypted: {why}"
            ),
            (_, Some(Err(why))) => format!("TLS: {what}, not decrypted: {why}"),
            (EarlyAnswer::Accepted, _) => format!(
                "TLS: {what}, which the endpoint accepted (early_data in its EncryptedExtensions); decrypted with the CLIENT_EARLY_TRAFFIC_SECRET"
            ),
            (EarlyAnswer::Unknown(why), _) => format!(
                "TLS: {what}; whether the endpoint accepted it is not known ({why}); decrypted with the CLIENT_EARLY_TRAFFIC_SECRET"
            ),
            (EarlyAnswer::Rejected(_), _) => String::new(),
        };
        dev.emit(EventKind::Note { text });
        let decrypt = matches!(begun, Some(Ok(())));
        for h in held {
            let rec = Record {
                content_type: h.content_type,
                version: h.version,
                payload: &h.payload,
                offset: h.offset,
            };
            if decrypt {
                self.on_protected(rec, &mut dev);
            } else {
                self.encrypted(
                    h.content_type,
                    h.payload.len() as u64,
                    EncryptedPhase::EarlyData,
                    &mut dev,
                );
            }
        }
    }

    fn params(&self) -> keys::Params {
        keys::Params {
            client_random: self.client_random(),
            server_random: self.server_random(),
            cipher: self.cipher,
            tls13: self.tls13,
            encrypt_then_mac: self.client_etm && self.server_etm,
            missed: 0,
        }
    }

    fn is_protected(&self, dir: Direction, content_type: u8, len: usize) -> bool {
        match content_type {
            23 => true,
            // No cipher leaves an alert at its clear size, so a 2-byte alert is readable even
            // when the version is unknown and a TLS 1.3 ChangeCipherSpec came before it.
            21 if len == 2 => false,
            _ => !self.tls13 && self.dirs[dir.index()].ccs,
        }
    }

    /// A protected record: decrypted when keys allow, else reported as encrypted.
    fn on_protected(&mut self, rec: Record<'_>, out: &mut Emit) {
        if let Some(mut keys) = self.keys.take() {
            let params = keys::Params {
                missed: self.missed[out.dir.index()],
                ..self.params()
            };
            let opened = keys.open(&rec, &params, out);
            if let Some((inner, plain)) = opened {
                // Phases still follow the records, so a later failure reports them right.
                let _ = self.phase(out, rec.content_type);
                let d = out.dir.index();
                self.dirs[d].encrypted_records = self.dirs[d].encrypted_records.saturating_add(1);
                self.on_plaintext(inner, rec.version, &plain, rec.offset, &mut out.decrypted());
                if std::mem::take(&mut self.key_update_seen[d]) {
                    keys.key_update(out.dir, out);
                }
                if std::mem::take(&mut self.end_of_early_data_seen) {
                    keys.end_of_early_data(&params, out);
                }
                self.keys = Some(keys);
                return;
            }
            self.keys = Some(keys);
        }
        if rec.content_type == 21 {
            out.emit(EventKind::Alert {
                level: None,
                description: None,
                name: None,
                encrypted: true,
            });
            return;
        }
        let phase = self.phase(out, rec.content_type);
        self.encrypted(rec.content_type, rec.payload.len() as u64, phase, out);
    }

    fn phase(&mut self, out: &Emit, content_type: u8) -> EncryptedPhase {
        // Early data, before the endpoint answered (the version is not known yet).
        if out.dir == Direction::DeviceToEndpoint
            && !self.server_hello_seen
            && self.early_offered
            && content_type == 23
        {
            return EncryptedPhase::EarlyData;
        }
        let ds = &mut self.dirs[out.dir.index()];
        if !self.tls13 {
            if content_type == 22 && ds.ccs && !ds.finished {
                ds.finished = true;
                return EncryptedPhase::Handshake;
            }
            return EncryptedPhase::Application;
        }
        match out.dir {
            Direction::EndpointToDevice if self.device_encrypted => EncryptedPhase::Application,
            Direction::EndpointToDevice => EncryptedPhase::Handshake,
            Direction::DeviceToEndpoint if !self.server_hello_seen => EncryptedPhase::Application,
            Direction::DeviceToEndpoint if !self.device_encrypted => {
                self.device_encrypted = true;
                self.device_flight = Some(out.ts);
                EncryptedPhase::Handshake
            }
            Direction::DeviceToEndpoint
                if self.device_flight == Some(out.ts)
                    && ds.encrypted_records < DEVICE_FLIGHT_RECORDS =>
            {
                EncryptedPhase::Handshake
            }
            Direction::DeviceToEndpoint => {
                self.device_flight = None;
                EncryptedPhase::Application
            }
        }
    }

    /// Reports an encrypted record: the first few of a direction one by one, then application
    /// records gathered into the event before when it is of the same kind.
    fn encrypted(&mut self, content_type: u8, len: u64, phase: EncryptedPhase, out: &mut Emit) {
        let ds = &mut self.dirs[out.dir.index()];
        ds.encrypted_records = ds.encrypted_records.saturating_add(1);
        if ds.encrypted_records > SEPARATE_ENCRYPTED_RECORDS && phase == EncryptedPhase::Application
        {
            let (dir, decrypted) = (out.dir, out.decrypted);
            if let Some(last) = out.last_mut() {
                if let (
                    true,
                    EventKind::Encrypted {
                        content_type: ct,
                        phase: EncryptedPhase::Application,
                        records,
                        bytes,
                        ..
                    },
                ) = (
                    last.dir == dir && last.decrypted == decrypted,
                    &mut last.kind,
                ) {
                    if *ct == content_type {
                        *records = records.saturating_add(1);
                        *bytes = bytes.saturating_add(len);
                        return;
                    }
                }
            }
        }
        out.emit(EventKind::Encrypted {
            content_type,
            phase,
            records: 1,
            bytes: len,
            first_len: len as u32,
        });
    }

    /// A record's content in the clear: read from the wire, or produced by decryption (then
    /// `out` is marked decrypted). `offset` is the record's stream offset.
    pub fn on_plaintext(
        &mut self,
        content_type: u8,
        version: u16,
        payload: &[u8],
        offset: u64,
        out: &mut Emit,
    ) {
        let d = out.dir.index();
        match content_type {
            20 => {
                if payload != [1] {
                    out.emit(EventKind::TlsMalformed {
                        offset,
                        reason: format!(
                            "change_cipher_spec record holds {} bytes instead of the single byte 1",
                            payload.len()
                        )
                        .into(),
                    });
                }
                let joiner = &mut self.dirs[d].joiner;
                if let Some((held, need)) = joiner.partial() {
                    let at = joiner.partial_offset();
                    joiner.clear();
                    out.emit(EventKind::TlsMalformed {
                        offset: at,
                        reason: format!(
                            "change_cipher_spec arrived after {held} of {need} bytes of a handshake message"
                        ).into(),
                    });
                }
                self.dirs[d].ccs = true;
                out.emit(EventKind::ChangeCipherSpec);
            }
            21 => self.on_alert(payload, offset, out),
            22 => self.on_handshake_payload(payload, offset + HEADER_LEN as u64, version, out),
            23 if self.sink.is_some() => {
                if let Some(sink) = self.sink.as_mut() {
                    self.sink_fed[d] = true;
                    sink.data(payload, out);
                }
            }
            23 => {
                let buf = &mut self.rare().plaintext[d];
                if buf.len() + payload.len() > MAX_PLAINTEXT {
                    out.emit(EventKind::Note {
                        text: format!(
                            "TLS: {} bytes of decrypted data dropped: nothing read the data before",
                            buf.len()
                        ),
                    });
                    buf.clear();
                }
                buf.extend_from_slice(payload);
            }
            24 => out.emit(EventKind::Note {
                text: format!("TLS: heartbeat record of {} bytes", payload.len()),
            }),
            other => out.emit(EventKind::TlsMalformed {
                offset,
                reason: format!("record content type {other} is not a TLS content type").into(),
            }),
        }
    }

    fn on_alert(&mut self, payload: &[u8], offset: u64, out: &mut Emit) {
        match *payload {
            [level, description] => out.emit(EventKind::Alert {
                level: Some(match level {
                    1 => AlertLevel::Warning,
                    2 => AlertLevel::Fatal,
                    other => AlertLevel::Unknown(other),
                }),
                description: Some(description),
                name: names::alert_name(description),
                encrypted: false,
            }),
            // Longer than an alert: sent under keys whose ChangeCipherSpec was not seen
            // (a gap, or a capture that started late).
            [_, _, _, ..] => {
                out.emit(EventKind::Alert {
                    level: None,
                    description: None,
                    name: None,
                    encrypted: true,
                });
                out.emit(EventKind::Note {
                    text: format!(
                        "TLS: alert record of {} bytes read as encrypted (a clear alert is 2 bytes)",
                        payload.len()
                    ),
                });
            }
            _ => out.emit(EventKind::TlsMalformed {
                offset,
                reason: format!(
                    "alert record of {} bytes; an alert is 2 bytes",
                    payload.len()
                )
                .into(),
            }),
        }
    }

    fn on_server_hello(&mut self, hello: &ServerHello) {
        if hello.version == 0x0304 {
            self.tls13 = true;
        }
        if self.early_offered && self.early_answer().is_none() {
            let psk = hello.extensions.iter().any(|e| e.id == 41);
            self.rare().early_answer = if hello.hello_retry_request {
                Some(EarlyAnswer::Rejected(
                    "the endpoint asked for another ClientHello (HelloRetryRequest)",
                ))
            } else if hello.version != 0x0304 {
                Some(EarlyAnswer::Rejected("the endpoint chose TLS 1.2"))
            } else if !psk {
                Some(EarlyAnswer::Rejected(
                    "the endpoint did not resume the session: its ServerHello has no pre_shared_key",
                ))
            } else {
                None
            };
        }
        self.cipher = Some(hello.cipher_suite.id);
        self.version = Some(hello.version);
        if !hello.hello_retry_request {
            if self.keyed {
                self.rare().server_random = Some(hello.random.0);
            }
            self.server_hello_seen = true;
        }
    }
}

/// A record begun and not finished ([`record::RecordReader::unfinished`]) as an event.
fn unfinished_record(
    (offset, held, need, kind, first): (u64, usize, usize, u8, Option<u8>),
) -> EventKind {
    let what = match (kind, first) {
        (22, Some(1)) => "a ClientHello record".to_string(),
        (22, Some(2)) => "a ServerHello record".to_string(),
        (22, Some(11)) => "a Certificate record".to_string(),
        (22, Some(16)) => "a ClientKeyExchange record".to_string(),
        (22, _) => "a handshake record".to_string(),
        (21, _) => "an alert record".to_string(),
        (23, _) => "an application data record".to_string(),
        _ => "a record".to_string(),
    };
    EventKind::Unfinished(Box::new(crate::event::Unfinished {
        layer: crate::event::AppProtocol::Tls,
        offset,
        held: held as u64,
        need: need as u64,
        what,
    }))
}

fn joiner_type(j: &Joiner) -> u8 {
    j.head_type().unwrap_or(0)
}

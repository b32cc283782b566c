//! The Session: the sans-IO decoder state of one TCP connection.
//!
//! Feeders (the proxy, the capture reader) hand it bytes and TCP facts with the time they
//! arrived; it classifies each direction's first bytes, hands TLS to the TLS decoder and MQTT
//! (plain, or decrypted out of TLS) to the MQTT decoder, and appends everything they learn to
//! the connection's [`Trace`].

use std::borrow::Cow;

use crate::detect;
use crate::device_leg::DeviceLeg;
use crate::emit::Emit;
use crate::event::{AppProtocol, Direction, EventKind, Timestamp};
use crate::mqtt::MqttConn;
use crate::preamble::{self, Flow, Tunnel, Watch};
use crate::tls::record::RecordHeader;
use crate::tls::TlsConn;
use crate::trace::{Identity, Trace};

/// What the feeder knows before the first byte.
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// Show MQTT passwords in events instead of `<redacted>`.
    pub reveal_passwords: bool,
    /// What the port suggests, for captures that start mid-stream. Content still decides.
    pub hint: Option<AppProtocol>,
    /// Secrets to decrypt TLS with, matched by the ClientHello's random.
    pub keylog: Option<std::sync::Arc<dyn crate::keylog::KeySource>>,
}

/// Everything a feeder can tell a [`Session`] about one direction of a connection, at one
/// time: bytes, a TCP fact, or a fact only the feeder knows (a gap, its own remark, its own
/// failed connection to the endpoint, the device's leg of an intercepted connection).
///
/// Every feeder speaks this one type: the capture reader queues `Input<'static>` values (bytes
/// it owns) and the proxy's tasks send them down their queues; a caller with a borrowed slice
/// passes `&[u8]`, which becomes `Data` without a copy.
#[derive(Clone, Debug, PartialEq)]
pub enum Input<'a> {
    Data(Cow<'a, [u8]>),
    /// The connection opened (SYN seen, or accepted by the proxy).
    Open,
    /// The sender closed its half (FIN).
    Fin,
    /// The sender reset the connection (RST).
    Rst,
    /// This many bytes in the direction were never seen.
    Gap(u64),
    /// A remark of the feeder's own.
    Note(Cow<'a, str>),
    /// The proxy closed the connection itself, and why (with the words to show).
    Cut(crate::event::CutCause, Cow<'a, str>),
    /// The proxy's own connection to the endpoint failed. It is recorded on the endpoint's
    /// side whatever direction it is fed on, since it stands in for what the endpoint would
    /// have said.
    UpstreamFailed(Cow<'a, str>),
    /// The device's own leg of an intercepted connection (MITM mode). It is recorded on the
    /// device's side whatever direction it is fed on: it is what the device did.
    DeviceLeg(Box<DeviceLeg>),
    /// Whole TLS application-data records that passed in this direction, given by their
    /// headers alone. Without a key, the decoder reads nothing of such a record but its
    /// length, so a feeder that frames the records itself (the passthrough proxy) hands on
    /// five bytes per record instead of up to 16 KiB. Fed where the direction is not read as
    /// TLS records at a record boundary, or where a key log could open them, the records
    /// count as missed bytes (a gap).
    Records(Vec<RecordHeader>),
    /// This many bytes passed in this direction without a copy: ones the session had said it
    /// would only count ([`Session::unread_ahead`]: a protocol it does not decode, the rest of
    /// a large MQTT payload), or ones the feeder could not copy in time. The session counts
    /// the first as it would have, and only what it would have read is missed (a gap). A
    /// feeder that asks (the passthrough proxy) hands on counts instead of copies, so a bulk
    /// stream of such bytes costs it nothing per byte.
    Unread(u64),
}

/// The form a feeder keeps or queues: it owns its bytes.
pub type OwnedInput = Input<'static>;

impl Input<'_> {
    /// The same input, owning its bytes and text.
    pub fn into_owned(self) -> OwnedInput {
        match self {
            Input::Data(b) => Input::Data(Cow::Owned(b.into_owned())),
            Input::Open => Input::Open,
            Input::Fin => Input::Fin,
            Input::Rst => Input::Rst,
            Input::Gap(n) => Input::Gap(n),
            Input::Note(t) => Input::Note(Cow::Owned(t.into_owned())),
            Input::Cut(c, t) => Input::Cut(c, Cow::Owned(t.into_owned())),
            Input::UpstreamFailed(t) => Input::UpstreamFailed(Cow::Owned(t.into_owned())),
            Input::DeviceLeg(leg) => Input::DeviceLeg(leg),
            Input::Records(h) => Input::Records(h),
            Input::Unread(n) => Input::Unread(n),
        }
    }
}

impl<'a> From<&'a [u8]> for Input<'a> {
    fn from(b: &'a [u8]) -> Self {
        Input::Data(Cow::Borrowed(b))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Input<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Input::Data(Cow::Borrowed(b))
    }
}

impl<'a> From<&'a Vec<u8>> for Input<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Input::Data(Cow::Borrowed(b))
    }
}

impl From<Vec<u8>> for Input<'static> {
    fn from(b: Vec<u8>) -> Self {
        Input::Data(Cow::Owned(b))
    }
}

pub struct Session {
    trace: Trace,
    /// The first bytes' protocol; when it is TLS, the TLS decoder owns a second layer for
    /// what the records carry once decrypted.
    outer: Layer,
    closed: [bool; 2],
}

impl Session {
    pub fn new(identity: Identity, config: SessionConfig) -> Session {
        Session {
            trace: Trace::new(identity),
            outer: Layer::new(
                true,
                config.hint,
                config.reveal_passwords,
                config.keylog.clone(),
            ),
            closed: [false; 2],
        }
    }

    /// Takes bytes (in whatever pieces they come) or any other fact for one direction.
    pub fn feed<'b>(&mut self, dir: Direction, input: impl Into<Input<'b>>, ts: Timestamp) {
        let input = input.into();
        let mut out = Emit::new(&mut self.trace, dir, ts, false);
        match input {
            Input::Data(bytes) => {
                if bytes.is_empty() {
                    return;
                }
                self.outer.push(&bytes, &mut out);
            }
            Input::Records(headers) => self.outer.summarised(&headers, &mut out),
            Input::Unread(n) => self.outer.unread(n, &mut out),
            Input::Open => out.emit(EventKind::TcpOpen),
            Input::Gap(n) => {
                out.emit(EventKind::Gap { bytes: n });
                self.outer.gap(n, &mut out);
            }
            Input::Fin | Input::Rst => {
                let rst = input == Input::Rst;
                if !self.closed[dir.index()] || rst {
                    self.outer.close(&mut out);
                }
                self.closed[dir.index()] = true;
                out.emit(if rst {
                    EventKind::TcpRst
                } else {
                    EventKind::TcpFin
                });
            }
            Input::Note(text) => out.emit(EventKind::Note {
                text: text.into_owned(),
            }),
            Input::Cut(cause, text) => out.emit(EventKind::Cut {
                cause,
                text: text.into_owned(),
            }),
            Input::UpstreamFailed(failure) => {
                Emit::new(&mut self.trace, Direction::EndpointToDevice, ts, false).emit(
                    EventKind::Upstream {
                        failure: failure.into_owned(),
                    },
                )
            }
            Input::DeviceLeg(leg) => {
                Emit::new(&mut self.trace, Direction::DeviceToEndpoint, ts, false)
                    .emit(EventKind::DeviceLeg(leg))
            }
        }
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// How many of the direction's next bytes the session will only count, not read:
    /// `u64::MAX` when it reads nothing more of the direction (a protocol iotscope does not
    /// decode, MQTT or TLS bytes where the connection speaks something else, HTTP past its
    /// first line), the rest of the body when inside a large MQTT PUBLISH, else 0. A feeder
    /// may hand those bytes on as an [`Input::Unread`] count.
    pub fn unread_ahead(&self, dir: Direction) -> u64 {
        self.outer.unread_ahead(dir)
    }

    /// The protocol the connection speaks, once its first bytes were seen.
    pub fn protocol(&self) -> Option<AppProtocol> {
        self.outer.app
    }

    /// Ends the session: bytes held back for classification are decoded, and the trace is
    /// handed over.
    pub fn finish(mut self) -> Trace {
        for dir in [Direction::DeviceToEndpoint, Direction::EndpointToDevice] {
            if let Some(ts) = self.trace.last_ts {
                let mut out = Emit::new(&mut self.trace, dir, ts, false);
                self.outer.flush(&mut out);
            }
        }
        self.trace
    }
}

/// One protocol layer: classification of each direction's first bytes, then the decoder
/// for what was found. The outer layer may find TLS; the inner one reads what TLS carried.
struct Layer {
    allow_tls: bool,
    hint: Option<AppProtocol>,
    reveal_passwords: bool,
    /// Bytes held back until a direction's protocol is known.
    pending: [Vec<u8>; 2],
    /// Each direction's own classification.
    seen: [Option<AppProtocol>; 2],
    /// The connection's protocol: the first direction's classification.
    app: Option<AppProtocol>,
    tls: Option<Box<TlsConn>>,
    /// Boxed, as `tls` is: a connection keeps its layer for its whole life, and the outer
    /// layer of a TLS connection (all of AWS IoT's) never decodes MQTT itself.
    mqtt: Option<Box<MqttConn>>,
    http_line_seen: [bool; 2],
    keylog: Option<std::sync::Arc<dyn crate::keylog::KeySource>>,
    /// An HTTP proxy tunnel before TLS (outer layer only), from the device's CONNECT on.
    /// Boxed and made only then: most connections have none.
    tunnel: Option<Box<Tunnel>>,
    /// A direction whose first bytes were text: where TLS may begin after them. Boxed: it
    /// lasts a few lines at most, and the layer lasts the connection's life.
    watch: [Option<Box<Watch>>; 2],
}

impl Layer {
    fn new(
        allow_tls: bool,
        hint: Option<AppProtocol>,
        reveal_passwords: bool,
        keylog: Option<std::sync::Arc<dyn crate::keylog::KeySource>>,
    ) -> Layer {
        Layer {
            allow_tls,
            hint,
            reveal_passwords,
            pending: [Vec::new(), Vec::new()],
            seen: [None, None],
            app: None,
            tls: None,
            mqtt: None,
            http_line_seen: [false; 2],
            keylog,
            tunnel: None,
            watch: [None, None],
        }
    }

    fn push(&mut self, bytes: &[u8], out: &mut Emit) {
        let d = out.dir.index();
        if self.in_tunnel(out.dir) {
            self.tunnel_push(bytes, out);
            return;
        }
        if self.seen[d].is_some() {
            self.dispatch(bytes, out);
            return;
        }
        self.pending[d].extend_from_slice(bytes);
        self.try_classify(false, out);
    }

    fn try_classify(&mut self, final_call: bool, out: &mut Emit) {
        let d = out.dir.index();
        if self.seen[d].is_some() || (self.pending[d].is_empty() && !final_call) {
            return;
        }
        // The other direction already speaks MQTT (the device's CONNECT): an answer with a
        // plausible MQTT header is MQTT too, whatever the port (the proxy has no port hint).
        let hint = if !self.allow_tls {
            None
        } else if self.app == Some(AppProtocol::Mqtt) {
            Some(AppProtocol::Mqtt)
        } else {
            self.hint
        };
        let Some(mut proto) = detect::classify(&self.pending[d], hint, final_call) else {
            return;
        };
        if self.pending[d].is_empty() {
            return;
        }
        if proto == AppProtocol::Tls && !self.allow_tls {
            proto = AppProtocol::Unknown;
        }
        if self.allow_tls
            && proto == AppProtocol::Http
            && self
                .tunnel
                .as_deref()
                .unwrap_or(&Tunnel::new(self.reveal_passwords))
                .starts(out.dir, &self.pending[d])
        {
            let held = std::mem::take(&mut self.pending[d]);
            self.tunnel_push(&held, out);
            return;
        }
        if self.allow_tls
            && matches!(proto, AppProtocol::Http | AppProtocol::Unknown)
            && preamble::is_text(&self.pending[d])
        {
            self.watch[d] = Some(Box::new(Watch::new(out.dir)));
        }
        // Inside TLS, the endpoint's first bytes follow whatever the device started.
        if !self.allow_tls && proto == AppProtocol::Unknown && self.app == Some(AppProtocol::Mqtt) {
            proto = AppProtocol::Mqtt;
        }
        // The device's side not seen (not captured, or not decrypted): the endpoint's own
        // MQTT answer (CONNACK, SUBACK, PUBACK) says what the connection speaks.
        if proto == AppProtocol::Unknown
            && out.dir == crate::event::Direction::EndpointToDevice
            && self.seen[0].is_none()
            && self.app.is_none()
            && detect::looks_like_mqtt_answer(&self.pending[d])
        {
            proto = AppProtocol::Mqtt;
        }
        self.seen[d] = Some(proto);
        out.emit(EventKind::Protocol {
            protocol: proto,
            first_bytes: crate::event::FirstBytes::new(&self.pending[d]),
        });
        if self.app.is_none() {
            self.app = Some(proto);
            match proto {
                AppProtocol::Tls => self.tls = Some(Box::new(self.new_tls())),
                AppProtocol::Mqtt => {
                    self.mqtt = Some(Box::new(MqttConn::new(self.reveal_passwords)))
                }
                _ => {}
            }
        }
        let held = std::mem::take(&mut self.pending[d]);
        self.dispatch(&held, out);
    }

    /// Is the direction inside a proxy tunnel's preamble?
    fn in_tunnel(&self, dir: Direction) -> bool {
        self.tunnel.as_ref().is_some_and(|t| t.active(dir))
    }

    /// Bytes of a direction inside the proxy tunnel's preamble; what follows it is
    /// classified as if the direction started there.
    fn tunnel_push(&mut self, bytes: &[u8], out: &mut Emit) {
        let d = out.dir.index();
        let reveal = self.reveal_passwords;
        let tunnel = self
            .tunnel
            .get_or_insert_with(|| Box::new(Tunnel::new(reveal)));
        if let Flow::After(rest) = tunnel.push(bytes, out) {
            if !rest.is_empty() {
                self.pending[d].extend_from_slice(&rest);
                self.try_classify(false, out);
            }
        }
    }

    fn dispatch(&mut self, bytes: &[u8], out: &mut Emit) {
        let d = out.dir.index();
        let Some(watch) = self.watch[d].as_mut() else {
            self.dispatch_plain(bytes, out);
            return;
        };
        let scan = watch.scan(bytes);
        if watch.done() && scan.tls.is_none() {
            self.watch[d] = None;
        }
        self.dispatch_plain(&scan.plain, out);
        if let Some(tls) = scan.tls {
            self.watch[d] = None;
            self.upgrade(tls, scan.offset, out);
        }
    }

    /// TLS found after a direction's plaintext: the direction is TLS from here on.
    fn upgrade(&mut self, tls: Vec<u8>, offset: u64, out: &mut Emit) {
        let d = out.dir.index();
        out.emit(EventKind::TlsAfterPlaintext { offset });
        out.emit(EventKind::Protocol {
            protocol: AppProtocol::Tls,
            first_bytes: crate::event::FirstBytes::new(&tls),
        });
        self.seen[d] = Some(AppProtocol::Tls);
        if self.tls.is_none() {
            self.tls = Some(Box::new(self.new_tls()));
        }
        self.app = Some(AppProtocol::Tls);
        self.dispatch_plain(&tls, out);
    }

    /// Bytes still held by a direction's watch: plaintext after all.
    fn release_watch(&mut self, out: &mut Emit) {
        let d = out.dir.index();
        if let Some(mut w) = self.watch[d].take() {
            let held = w.release();
            if !held.is_empty() {
                self.dispatch_plain(&held, out);
            }
        }
    }

    fn new_tls(&self) -> TlsConn {
        let mut tls = TlsConn::with_keylog(self.keylog.clone());
        // Decrypted bytes go through the same classification and decoders, marked as
        // decrypted, record by record.
        tls.set_sink(Box::new(InnerLayer {
            reveal_passwords: self.reveal_passwords,
            layer: None,
        }));
        tls
    }

    fn dispatch_plain(&mut self, bytes: &[u8], out: &mut Emit) {
        if bytes.is_empty() {
            return;
        }
        let d = out.dir.index();
        let proto = self.seen[d].unwrap_or(AppProtocol::Unknown);
        // A direction whose bytes do not fit the connection's protocol (an endpoint answering
        // a ClientHello with HTTP, say) is summarised rather than fed to the wrong decoder.
        let fits = Some(proto) == self.app;
        match (proto, fits) {
            (AppProtocol::Tls, true) => {
                if let Some(t) = self.tls.as_mut() {
                    t.push(bytes, out)
                }
            }
            (AppProtocol::Mqtt, true) => {
                if let Some(m) = self.mqtt.as_mut() {
                    m.push(bytes, out)
                }
            }
            (AppProtocol::Http, _) if !self.http_line_seen[d] => {
                self.http_line_seen[d] = true;
                let end = bytes
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(bytes.len().min(200));
                let line = String::from_utf8_lossy(&bytes[..end.min(200)]).into_owned();
                out.emit(EventKind::Http { line });
            }
            (AppProtocol::Http, _) => {}
            _ => out.undecoded(bytes.len() as u64, bytes),
        }
    }

    /// See [`Session::unread_ahead`]. Each `u64::MAX` case is one `dispatch_plain` sends
    /// nowhere and that nothing later can change: a direction's classification is final once
    /// made (outside a watch or a tunnel), and the connection's protocol changes only to TLS
    /// (a watch's upgrade), which is why TLS bytes of a connection that is not (yet) TLS are
    /// still read.
    fn unread_ahead(&self, dir: Direction) -> u64 {
        let d = dir.index();
        let Some(proto) = self.seen[d] else {
            return 0;
        };
        if self.watch[d].is_some() || self.in_tunnel(dir) {
            return 0;
        }
        let fits = self.app == Some(proto);
        match proto {
            AppProtocol::Unknown => u64::MAX,
            AppProtocol::Http if self.http_line_seen[d] => u64::MAX,
            AppProtocol::Http | AppProtocol::Tls => 0,
            AppProtocol::Mqtt if !fits => u64::MAX,
            AppProtocol::Mqtt => self.mqtt.as_ref().map_or(0, |m| m.unread_ahead(dir)),
        }
    }

    /// Bytes that passed without a copy (see [`Input::Unread`]): those this layer would only
    /// have counted are counted, the rest are a gap.
    fn unread(&mut self, n: u64, out: &mut Emit) {
        let counted = n.min(self.unread_ahead(out.dir));
        if counted > 0 {
            match self.seen[out.dir.index()] {
                Some(AppProtocol::Http) => {}
                Some(AppProtocol::Mqtt) if self.app == Some(AppProtocol::Mqtt) => {
                    if let Some(m) = self.mqtt.as_mut() {
                        m.skip(counted, out)
                    }
                }
                _ => out.undecoded(counted, &[]),
            }
        }
        let missed = n - counted;
        if missed > 0 {
            out.emit(EventKind::Gap { bytes: missed });
            self.gap(missed, out);
        }
    }

    /// Whole records given by their headers: to the TLS decoder when this direction is read
    /// as TLS records, else they are bytes missed.
    fn summarised(&mut self, headers: &[RecordHeader], out: &mut Emit) {
        let d = out.dir.index();
        let tls_here = self.seen[d] == Some(AppProtocol::Tls)
            && self.app == Some(AppProtocol::Tls)
            && self.watch[d].is_none()
            && !self.in_tunnel(out.dir);
        match self.tls.as_mut() {
            Some(t) if tls_here => t.summarised(headers, out),
            _ => {
                let n: u64 = headers
                    .iter()
                    .map(|h| crate::tls::record::HEADER_LEN as u64 + u64::from(h.len))
                    .sum();
                if n > 0 {
                    out.emit(EventKind::Gap { bytes: n });
                    self.gap(n, out);
                }
            }
        }
    }

    fn gap(&mut self, n: u64, out: &mut Emit) {
        if let Some(t) = self.tunnel.as_mut() {
            t.gap(out);
        }
        self.release_watch(out);
        self.try_classify(true, out);
        if let Some(t) = self.tls.as_mut() {
            t.gap(n, out);
        }
        if let Some(m) = self.mqtt.as_mut() {
            m.gap(n, out);
        }
    }

    fn close(&mut self, out: &mut Emit) {
        if let Some(t) = self.tunnel.as_mut() {
            t.close(out);
        }
        self.try_classify(true, out);
        self.release_watch(out);
        if let Some(t) = self.tls.as_mut() {
            t.close(out);
        }
        if let Some(m) = self.mqtt.as_mut() {
            m.close(out);
        }
    }

    fn flush(&mut self, out: &mut Emit) {
        if let Some(t) = self.tunnel.as_mut() {
            t.close(out);
        }
        self.try_classify(true, out);
        self.release_watch(out);
        if let Some(t) = self.tls.as_mut() {
            t.finish(out);
        }
        if let Some(m) = self.mqtt.as_mut() {
            m.unfinished(out);
        }
    }
}

/// The layer inside TLS, made when the first decrypted bytes come: most connections a proxy
/// holds are never decrypted (no key log), and a layer is half a kilobyte each. One that was
/// never given bytes has nothing to close, finish or lose.
struct InnerLayer {
    reveal_passwords: bool,
    layer: Option<Box<Layer>>,
}

impl crate::tls::PlaintextSink for InnerLayer {
    fn data(&mut self, bytes: &[u8], out: &mut Emit) {
        let reveal = self.reveal_passwords;
        self.layer
            .get_or_insert_with(|| {
                Box::new(Layer::new(false, Some(AppProtocol::Mqtt), reveal, None))
            })
            .push(bytes, out);
    }
    fn close(&mut self, out: &mut Emit) {
        if let Some(l) = self.layer.as_mut() {
            l.close(out);
        }
    }
    fn finish(&mut self, out: &mut Emit) {
        if let Some(l) = self.layer.as_mut() {
            l.flush(out);
        }
    }
    fn lost(&mut self, out: &mut Emit) {
        if let Some(l) = self.layer.as_mut() {
            crate::tls::PlaintextSink::lost(l.as_mut(), out);
        }
    }
}

impl crate::tls::PlaintextSink for Layer {
    fn data(&mut self, bytes: &[u8], out: &mut Emit) {
        self.push(bytes, out);
    }
    fn close(&mut self, out: &mut Emit) {
        Layer::close(self, out);
    }
    fn finish(&mut self, out: &mut Emit) {
        self.flush(out);
    }
    fn lost(&mut self, out: &mut Emit) {
        if let Some(t) = self.tunnel.as_mut() {
            t.gap(out);
        }
        self.release_watch(out);
        self.try_classify(true, out);
        if let Some(m) = self.mqtt.as_mut() {
            m.lost(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction::*;

    fn kinds(s: &Session) -> Vec<String> {
        s.trace()
            .events()
            .map(|e| {
                serde_json::to_value(&e.kind).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn plain_http_to_tls_port_is_classified() {
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(DeviceToEndpoint, Input::Open, Timestamp(0));
        s.feed(
            DeviceToEndpoint,
            b"POST /topics/a HTTP/1.1\r\n",
            Timestamp(1),
        );
        s.feed(EndpointToDevice, Input::Rst, Timestamp(2));
        assert_eq!(s.protocol(), Some(AppProtocol::Http));
        assert_eq!(kinds(&s), ["tcp_open", "protocol", "http", "tcp_rst"]);
    }

    #[test]
    fn bytes_arriving_one_at_a_time_are_held_until_classified() {
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        for b in b"SSH-2.0-x\r\n" {
            s.feed(DeviceToEndpoint, &[*b], Timestamp(0));
        }
        let t = s.finish();
        let undecoded: u64 = t
            .events()
            .filter_map(|e| match e.kind {
                EventKind::Undecoded { bytes, .. } => Some(bytes),
                _ => None,
            })
            .sum();
        assert_eq!(undecoded, 11);
    }

    /// Application records given by their headers count exactly as the same records given
    /// whole; where the direction is not TLS they are bytes missed.
    #[test]
    fn records_given_by_their_headers_are_the_records() {
        use crate::tls::record::RecordHeader;
        let hello = crate::tls::testutil::simple_client_hello();
        let server = crate::tls::testutil::tls13_server_hello();
        let header = |len: u16| RecordHeader::from_bytes([23, 3, 3, (len >> 8) as u8, len as u8]);
        let mut whole = Session::new(Identity::default(), SessionConfig::default());
        let mut summed = Session::new(Identity::default(), SessionConfig::default());
        for s in [&mut whole, &mut summed] {
            s.feed(DeviceToEndpoint, Input::Open, Timestamp(0));
            s.feed(DeviceToEndpoint, &hello, Timestamp(1));
            s.feed(EndpointToDevice, &server, Timestamp(1));
        }
        for (i, len) in [19u16, 300, 16401, 16401, 45].into_iter().enumerate() {
            let mut rec = vec![23, 3, 3, (len >> 8) as u8, len as u8];
            rec.resize(5 + len as usize, 0xab);
            whole.feed(DeviceToEndpoint, &rec, Timestamp(2 + i as i64));
            summed.feed(
                DeviceToEndpoint,
                Input::Records(vec![header(len)]),
                Timestamp(2 + i as i64),
            );
        }
        let (whole, summed) = (whole.finish(), summed.finish());
        let json = |t: &Trace| serde_json::to_string(&t.events().collect::<Vec<_>>()).unwrap();
        assert_eq!(json(&whole), json(&summed));

        // Plain MQTT: the same headers cannot be records there.
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(
            DeviceToEndpoint,
            b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
            Timestamp(0),
        );
        s.feed(
            DeviceToEndpoint,
            Input::Records(vec![header(100)]),
            Timestamp(1),
        );
        let t = s.finish();
        assert!(
            t.events()
                .any(|e| matches!(e.kind, EventKind::Gap { bytes: 105 })),
            "{:?}",
            kinds_of(&t)
        );
    }

    /// Bytes counted instead of copied, once the session reads nothing more of a direction,
    /// make the same trace as the bytes themselves, apart from the first bytes an `undecoded`
    /// event quotes; where the contents are still read they are a gap.
    #[test]
    fn bytes_counted_once_nothing_more_is_read_are_the_bytes() {
        let undecoded = |t: &Trace| -> Vec<(Direction, u64)> {
            t.events()
                .filter_map(|e| match e.kind {
                    EventKind::Undecoded { bytes, .. } => Some((e.dir, bytes)),
                    _ => None,
                })
                .collect()
        };
        let mut whole = Session::new(Identity::default(), SessionConfig::default());
        let mut counted = Session::new(Identity::default(), SessionConfig::default());
        for s in [&mut whole, &mut counted] {
            s.feed(DeviceToEndpoint, Input::Open, Timestamp(0));
            assert_eq!(s.unread_ahead(DeviceToEndpoint), 0, "before the first byte");
            s.feed(DeviceToEndpoint, b"SSH-2.0-OpenSSH_9.2\r\n", Timestamp(1));
            s.feed(EndpointToDevice, &[0x8e; 40], Timestamp(2));
            assert_eq!(
                s.unread_ahead(EndpointToDevice),
                u64::MAX,
                "binary, not a protocol"
            );
        }
        // A text line could still be followed by TLS (a preamble): read on.
        assert_eq!(whole.unread_ahead(DeviceToEndpoint), 0);
        whole.feed(DeviceToEndpoint, &[0x8e; 1000], Timestamp(3));
        counted.feed(DeviceToEndpoint, &[0x8e; 1000], Timestamp(3));
        whole.feed(EndpointToDevice, &[0x55; 70_000], Timestamp(4));
        counted.feed(EndpointToDevice, Input::Unread(70_000), Timestamp(4));
        let (whole, counted) = (whole.finish(), counted.finish());
        assert_eq!(undecoded(&whole), undecoded(&counted));
        let sum = |dir| -> u64 {
            undecoded(&counted)
                .iter()
                .filter(|(d, _)| *d == dir)
                .map(|(_, n)| n)
                .sum()
        };
        assert_eq!(
            (sum(DeviceToEndpoint), sum(EndpointToDevice)),
            (1021, 70_040)
        );
        assert!(!counted
            .events()
            .any(|e| matches!(e.kind, EventKind::Gap { .. })));

        // Plain MQTT: between packets everything is read, and a count there is bytes missed.
        let connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(DeviceToEndpoint, connect, Timestamp(0));
        assert_eq!(s.unread_ahead(DeviceToEndpoint), 0);
        s.feed(DeviceToEndpoint, Input::Unread(9), Timestamp(1));
        let t = s.finish();
        assert!(
            t.events()
                .any(|e| matches!(e.kind, EventKind::Gap { bytes: 9 })),
            "{:?}",
            kinds_of(&t)
        );

        // Inside a large PUBLISH, past its topic and payload prefix, the rest of the payload
        // is only counted: a count of it makes the same packet, whole; a count that runs
        // past it misses the bytes after.
        let payload = vec![b'p'; 300_000];
        let publish = crate::mqtt::encode::publish_qos1(4, 7, "bulk/blob", &payload);
        let head = 5 + 2 + 9 + 2 + crate::mqtt::PAYLOAD_PREFIX;
        let json = |t: &Trace| -> Vec<String> {
            t.events()
                .filter(|e| matches!(e.kind, EventKind::Mqtt(_) | EventKind::Gap { .. }))
                .map(|e| serde_json::to_string(&e.kind).unwrap())
                .collect()
        };
        let mut whole = Session::new(Identity::default(), SessionConfig::default());
        let mut counted = Session::new(Identity::default(), SessionConfig::default());
        for s in [&mut whole, &mut counted] {
            s.feed(DeviceToEndpoint, connect, Timestamp(0));
            s.feed(DeviceToEndpoint, &publish[..head], Timestamp(1));
        }
        let rest = (publish.len() - head) as u64;
        assert_eq!(counted.unread_ahead(DeviceToEndpoint), rest);
        whole.feed(DeviceToEndpoint, &publish[head..], Timestamp(2));
        counted.feed(DeviceToEndpoint, Input::Unread(rest - 1000), Timestamp(2));
        counted.feed(DeviceToEndpoint, Input::Unread(1000), Timestamp(2));
        assert_eq!(
            counted.unread_ahead(DeviceToEndpoint),
            0,
            "the packet ended"
        );
        for s in [&mut whole, &mut counted] {
            s.feed(DeviceToEndpoint, b"\xe0\x00", Timestamp(3));
        }
        let (whole, counted) = (whole.finish(), counted.finish());
        assert_eq!(json(&whole), json(&counted));
        assert!(json(&counted).iter().all(|e| !e.contains("\"gap\"")));
        assert_eq!(json(&counted).len(), 3, "CONNECT, PUBLISH, DISCONNECT");

        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(DeviceToEndpoint, connect, Timestamp(0));
        s.feed(DeviceToEndpoint, &publish[..head], Timestamp(1));
        s.feed(DeviceToEndpoint, Input::Unread(rest + 50), Timestamp(2));
        let t = s.finish();
        assert!(
            t.events()
                .any(|e| matches!(e.kind, EventKind::Gap { bytes: 50 })),
            "{:?}",
            kinds_of(&t)
        );

        // HTTP: its first line is read, then nothing.
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(DeviceToEndpoint, b"GET", Timestamp(0));
        assert_eq!(s.unread_ahead(DeviceToEndpoint), 0, "not classified yet");
        s.feed(
            DeviceToEndpoint,
            b" / HTTP/1.1\r\nHost: x\r\n\r\n",
            Timestamp(1),
        );
        // TLS may still begin within the first 64 KiB (a proxy's preamble): read on.
        assert_eq!(s.unread_ahead(DeviceToEndpoint), 0);
        s.feed(DeviceToEndpoint, &[b'a'; 70_000], Timestamp(2));
        assert_eq!(s.unread_ahead(DeviceToEndpoint), u64::MAX);
    }

    /// Without a port hint (the proxy has none), an endpoint's answer to a plain CONNECT is
    /// read as MQTT: its refusal is a CONNACK, not 4 undecoded bytes.
    #[test]
    fn the_answer_to_a_plain_connect_is_mqtt_without_a_hint() {
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(
            DeviceToEndpoint,
            b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
            Timestamp(0),
        );
        s.feed(EndpointToDevice, b"\x20\x02\x00\x05", Timestamp(1));
        let t = s.finish();
        let connack = t.events().find_map(|e| match &e.kind {
            EventKind::Mqtt(p) if e.dir == EndpointToDevice => Some(p.packet_type.name()),
            _ => None,
        });
        assert_eq!(connack, Some("CONNACK"), "{:?}", kinds_of(&t));
    }

    fn kinds_of(t: &Trace) -> Vec<String> {
        t.events().map(|e| format!("{:?}", e.kind)).collect()
    }

    #[test]
    fn short_stream_is_classified_at_close() {
        let mut s = Session::new(Identity::default(), SessionConfig::default());
        s.feed(DeviceToEndpoint, b"\x10", Timestamp(0));
        s.feed(DeviceToEndpoint, Input::Fin, Timestamp(1));
        assert_eq!(kinds(&s), ["protocol", "undecoded", "tcp_fin"]);
    }
}

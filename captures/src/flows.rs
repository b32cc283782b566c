//! The flow table: frames in, in capture order; per-connection byte streams out.
//!
//! Every frame goes down the layers (link, IP, TCP) and lands in the flow of its 5-tuple.
//! A flow first settles which side is the device (see [`crate::roles`]), holding its first
//! segments until it knows, then feeds each direction's [`Reassembler`] and passes on what
//! comes out as [`StreamEvent`]s. A flow ends when both sides have sent FIN or one has
//! reset, after a short grace for trailing packets, when it has been idle too long, or at
//! [`FlowTable::finish`]; its state is then dropped, so memory follows the number of open
//! connections, not the length of the capture. Everything here is sans-IO: time is the
//! capture's own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use iotscope_decoder::{AppProtocol, Direction, Timestamp};

use crate::ip::{IpLayer, IpPayload};
use crate::link::{self, LinkError, LinkPayload};
use crate::reader::RawPacket;
use crate::reassembly::Reassembler;
use crate::roles::{self, Sender};
use crate::taken_table::TakenTable;
use crate::tcp::{parse_segment, Segment, TcpFlags};
use iotscope_decoder::OwnedInput;

/// What the flow table reports, in the order it learns it.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// A connection was found and its device side settled. Always the flow's first event.
    Opened {
        flow: u64,
        device: SocketAddr,
        endpoint: SocketAddr,
        /// Time of the flow's first packet.
        ts: Timestamp,
        /// Whether the capture holds the connection's SYN or SYN-ACK.
        syn_seen: bool,
        /// What the endpoint's port suggests (1883 → MQTT; 8883, 443, 8443 → TLS). A hint
        /// for the decoder only: content decides.
        hint: Option<AppProtocol>,
    },
    /// Bytes or a TCP fact for one direction, in stream order.
    Input {
        flow: u64,
        dir: Direction,
        ts: Timestamp,
        input: OwnedInput,
    },
    /// The flow is finished and forgotten; nothing more comes for it.
    Closed { flow: u64, ts: Timestamp },
    /// Something the user should know; `packet` is the frame number, 0 for the whole capture.
    Warning { packet: u64, message: String },
}

/// Limits and timeouts.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Bytes one flow may hold behind holes before the first hole becomes a gap.
    pub max_flow_buffer: usize,
    /// Bytes all flows together may hold.
    pub max_total_buffer: usize,
    /// A flow with no packet for this long (capture time, ns) is closed.
    pub idle_timeout_ns: i64,
    /// A finished flow is closed this long (ns) after its last FIN or RST; packets until
    /// then still reach it (a late RST is passed on).
    pub close_grace_ns: i64,
    /// After that, its 5-tuple is remembered this long (ns, refreshed by each trailing
    /// packet) so that late retransmissions are recognised and dropped rather than taken
    /// for a new connection. A SYN with a new initial sequence number ends the memory.
    pub linger_ns: i64,
    /// Flows open at once; beyond it the longest idle are closed early.
    pub max_flows: usize,
    /// Segments held while the device side is not known yet.
    pub max_undecided_segments: usize,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            max_flow_buffer: 4 << 20,
            max_total_buffer: 256 << 20,
            // AWS IoT Core waits 1.5 times a keep-alive of up to 1200 s before it gives up on a
            // silent client; a flow quiet for less than that is still alive.
            idle_timeout_ns: 1860 * NS,
            close_grace_ns: 2 * NS,
            linger_ns: 120 * NS,
            max_flows: 100_000,
            max_undecided_segments: 64,
        }
    }
}

const NS: i64 = 1_000_000_000;
/// Warnings of one kind shown before the rest are only counted.
const WARNINGS_PER_KIND: u64 = 10;

/// Counters over the whole capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub frames: u64,
    pub tcp_segments: u64,
    pub not_tcp: u64,
    pub unsupported_link: u64,
    pub malformed: u64,
    pub truncated_frames: u64,
    /// TCP payload bytes the capture cut off.
    pub lost_bytes: u64,
    pub flows_opened: u64,
    pub flows_closed: u64,
    /// Bytes reported as gaps, all flows.
    pub gap_bytes: u64,
    /// Bytes dropped as retransmitted or overlapping copies.
    pub duplicate_bytes: u64,
    pub ip_datagrams_reassembled: u64,
}

/// A connection's two addresses, lower first, so both directions find the same flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKey(SocketAddr, SocketAddr);

fn flow_key(x: SocketAddr, y: SocketAddr) -> FlowKey {
    if x <= y {
        FlowKey(x, y)
    } else {
        FlowKey(y, x)
    }
}

/// Every frame looks its flow up, so the key is hashed as one run of bytes: the derived
/// hash feeds each field of both addresses to the hasher separately, which cost more than
/// the rest of a frame's TCP handling. The hasher stays the keyed default, since the
/// addresses come from the file.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // IPv4 pairs (nearly all) as 13 bytes, others as 37: the hasher's cost follows the
        // length. The first byte says which, so the two forms never meet.
        let mut buf = [0u8; 1 + 2 * 18];
        let mut n = 1;
        let v4 = match (self.0.ip(), self.1.ip()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Some((a, b)),
            _ => None,
        };
        buf[0] = u8::from(v4.is_none());
        for addr in [self.0, self.1] {
            let ip: &[u8] = match (v4, addr.ip()) {
                (Some(_), IpAddr::V4(a)) => &a.octets(),
                (_, IpAddr::V4(a)) => &a.to_ipv6_mapped().octets(),
                (_, IpAddr::V6(a)) => &a.octets(),
            };
            buf[n..n + ip.len()].copy_from_slice(ip);
            n += ip.len();
            buf[n..n + 2].copy_from_slice(&addr.port().to_be_bytes());
            n += 2;
        }
        state.write(&buf[..n]);
    }
}

/// A segment held while the flow's device side is not settled.
struct Held {
    ts: Timestamp,
    from_a: bool,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: Vec<u8>,
    lost: usize,
}

/// What is remembered of a finished flow while trailing packets may still come.
struct Finished {
    a: SocketAddr,
    isn: [Option<u32>; 2],
    last_ts: Timestamp,
}

struct Flow {
    id: u64,
    /// The sender of the flow's first packet, and the other side.
    a: SocketAddr,
    b: SocketAddr,
    device_is_a: Option<bool>,
    held: Vec<Held>,
    held_bytes: usize,
    /// Whether side a / b has shown its first payload to the content test.
    content_tried: [bool; 2],
    /// Reassembly by [`Direction::index`].
    streams: [Reassembler; 2],
    /// Initial sequence numbers from SYNs, side a / b.
    isn: [Option<u32>; 2],
    syn_seen: bool,
    open_sent: bool,
    first_ts: Timestamp,
    last_ts: Timestamp,
    closing_since: Option<Timestamp>,
    /// Bytes charged to the total buffer.
    charged: usize,
}

impl Flow {
    fn new(id: u64, a: SocketAddr, b: SocketAddr, ts: Timestamp) -> Flow {
        Flow {
            id,
            a,
            b,
            device_is_a: None,
            held: Vec::new(),
            held_bytes: 0,
            content_tried: [false; 2],
            streams: [Reassembler::new(), Reassembler::new()],
            isn: [None; 2],
            syn_seen: false,
            open_sent: false,
            first_ts: ts,
            last_ts: ts,
            closing_since: None,
            charged: 0,
        }
    }

    fn buffered(&self) -> usize {
        self.held_bytes + self.streams[0].buffered() + self.streams[1].buffered()
    }

    fn device(&self) -> Option<SocketAddr> {
        self.device_is_a.map(|a| if a { self.a } else { self.b })
    }
}

/// Turns frames into per-connection events. Feed it every frame with [`FlowTable::push`],
/// take events with [`FlowTable::poll_event`], and call [`FlowTable::finish`] at the end.
///
/// Events follow capture order, with two exceptions that keep each connection's own order
/// right: a new flow's first segments wait until its device side is settled (a handful of
/// packets at most), and bytes that arrive ahead of a hole wait for it. Each event carries
/// the capture time of the packet that released it.
pub struct FlowTable {
    config: FlowConfig,
    /// Boxed: a flow is taken out and put back for every segment, and moving a pointer is
    /// cheaper than moving the flow.
    flows: TakenTable<FlowKey, Box<Flow>>,
    finished: HashMap<FlowKey, Finished>,
    next_id: u64,
    ip: IpLayer,
    events: VecDeque<StreamEvent>,
    /// Latest capture time seen.
    now: Option<Timestamp>,
    next_sweep: Timestamp,
    total_buffered: usize,
    stats: FlowStats,
    not_tcp: BTreeMap<String, u64>,
    unsupported: BTreeMap<u32, u64>,
    warned: HashMap<&'static str, u64>,
    scratch: Vec<OwnedInput>,
}

impl Default for FlowTable {
    fn default() -> FlowTable {
        FlowTable::new(FlowConfig::default())
    }
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> FlowTable {
        FlowTable {
            config,
            flows: TakenTable::new(),
            finished: HashMap::new(),
            next_id: 0,
            ip: IpLayer::new(),
            events: VecDeque::new(),
            now: None,
            next_sweep: Timestamp(i64::MIN),
            total_buffered: 0,
            stats: FlowStats::default(),
            not_tcp: BTreeMap::new(),
            unsupported: BTreeMap::new(),
            warned: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Flows currently open.
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Bytes held by all flows, waiting for holes to fill or for the device side to settle.
    pub fn buffered_bytes(&self) -> usize {
        self.total_buffered
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// Takes every pending event.
    pub fn drain(&mut self) -> impl Iterator<Item = StreamEvent> + '_ {
        self.events.drain(..)
    }

    /// One frame read from a capture.
    pub fn push(&mut self, packet: &RawPacket) {
        self.push_frame(
            packet.number,
            packet.ts,
            packet.linktype,
            &packet.data,
            packet.orig_len,
        );
    }

    /// One frame: its number, capture time, link type, captured bytes and wire length.
    pub fn push_frame(
        &mut self,
        number: u64,
        ts: Timestamp,
        linktype: u32,
        data: &[u8],
        orig_len: u32,
    ) {
        self.stats.frames += 1;
        let now = self.now.map_or(ts, |n| n.max(ts));
        self.now = Some(now);
        if now >= self.next_sweep {
            self.sweep(now);
            self.ip.expire(now);
            self.next_sweep = Timestamp(now.0.saturating_add(NS));
        }
        let cut = (orig_len as usize).saturating_sub(data.len());
        match link::ip_payload(linktype, data) {
            Err(LinkError::Unsupported(lt)) => {
                self.stats.unsupported_link += 1;
                let seen = self.unsupported.entry(lt).or_insert(0);
                *seen += 1;
                if *seen == 1 {
                    self.events.push_back(StreamEvent::Warning {
                        packet: number,
                        message: format!(
                            "link type {lt} ({}) is not supported; this and every later frame of that link type are skipped",
                            link::linktype_name(lt)
                        ),
                    });
                }
            }
            Err(e) => self.malformed(number, data.len(), orig_len, e.to_string()),
            Ok(LinkPayload::NotIp(what)) => self.count_not_tcp(what.to_string()),
            Ok(LinkPayload::Ip(ip)) => match self.ip.packet(ip, ts, number) {
                IpPayload::Tcp {
                    src,
                    dst,
                    segment,
                    lost,
                } => match parse_segment(src, dst, &segment, lost) {
                    Ok(seg) => {
                        if cut > 0 {
                            self.note_truncated(number, data.len(), orig_len, &seg);
                        }
                        self.stats.tcp_segments += 1;
                        self.on_segment(number, ts, &seg);
                    }
                    Err(e) => {
                        self.malformed(number, data.len(), orig_len, format!("bad TCP header: {e}"))
                    }
                },
                IpPayload::Other(proto) => self.count_not_tcp(ip_protocol_name(proto)),
                IpPayload::FragmentHeld => {}
                IpPayload::Malformed(message) => {
                    self.malformed(number, data.len(), orig_len, message)
                }
            },
        }
        for (packet, message) in self.ip.take_warnings() {
            self.warn("IP fragments", packet, message);
        }
        self.stats.ip_datagrams_reassembled = self.ip.reassembled;
    }

    /// End of capture: every open flow is flushed (holes become gaps) and closed, and the
    /// capture-wide warnings are given.
    pub fn finish(&mut self) {
        self.ip.finish();
        for (packet, message) in self.ip.take_warnings() {
            self.warn("IP fragments", packet, message);
        }
        let mut keys: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.id, *k)).collect();
        keys.sort();
        for (_, key) in keys {
            self.close_flow(&key);
        }
        if self.stats.not_tcp > 0 {
            let kinds: Vec<String> = self
                .not_tcp
                .iter()
                .map(|(what, n)| format!("{n} {what}"))
                .collect();
            self.events.push_back(StreamEvent::Warning {
                packet: 0,
                message: format!(
                    "{} frames were not TCP and were ignored: {}",
                    self.stats.not_tcp,
                    kinds.join(", ")
                ),
            });
        }
        for (lt, n) in std::mem::take(&mut self.unsupported) {
            self.events.push_back(StreamEvent::Warning {
                packet: 0,
                message: format!(
                    "{n} frames of link type {lt} ({}) were skipped: the link type is not supported",
                    link::linktype_name(lt)
                ),
            });
        }
        if self.stats.truncated_frames > 0 {
            self.events.push_back(StreamEvent::Warning {
                packet: 0,
                message: format!(
                    "{} TCP frames were cut short by the capture's snap length; {} bytes of payload are missing and were passed on as gaps",
                    self.stats.truncated_frames, self.stats.lost_bytes
                ),
            });
        }
        let mut hidden: Vec<(&'static str, u64)> = self
            .warned
            .iter()
            .filter(|(_, n)| **n > WARNINGS_PER_KIND)
            .map(|(k, n)| (*k, n - WARNINGS_PER_KIND))
            .collect();
        hidden.sort();
        for (kind, n) in hidden {
            self.events.push_back(StreamEvent::Warning {
                packet: 0,
                message: format!("{n} more warnings of the kind \"{kind}\" were not shown"),
            });
        }
        self.warned.clear();
        if self.stats.tcp_segments > 0 {
            self.events.push_back(StreamEvent::Warning {
                packet: 0,
                message: "IP and TCP checksums were not checked: a capture taken on the sending host holds segments whose checksums the network card fills in later".into(),
            });
        }
    }

    fn count_not_tcp(&mut self, what: String) {
        self.stats.not_tcp += 1;
        *self.not_tcp.entry(what).or_insert(0) += 1;
    }

    fn warn(&mut self, kind: &'static str, packet: u64, message: String) {
        let n = self.warned.entry(kind).or_insert(0);
        *n += 1;
        if *n <= WARNINGS_PER_KIND {
            self.events
                .push_back(StreamEvent::Warning { packet, message });
        }
    }

    /// A frame that could not be read; when the capture cut it short, that is the likely
    /// reason and the message says so.
    fn malformed(&mut self, number: u64, caplen: usize, orig_len: u32, message: String) {
        self.stats.malformed += 1;
        let message = if caplen < orig_len as usize {
            format!("frame captured {caplen} of {orig_len} bytes and unreadable: {message}")
        } else {
            message
        };
        self.warn("malformed frame", number, message);
    }

    fn note_truncated(&mut self, number: u64, caplen: usize, orig_len: u32, seg: &Segment) {
        if seg.lost == 0 {
            return;
        }
        self.stats.truncated_frames += 1;
        self.stats.lost_bytes += seg.lost as u64;
        self.warn(
            "truncated frame",
            number,
            format!(
                "frame captured {caplen} of {orig_len} bytes: {} bytes of TCP payload from {} to {} are missing and passed on as a gap",
                seg.lost, seg.src, seg.dst
            ),
        );
    }

    fn on_segment(&mut self, number: u64, ts: Timestamp, seg: &Segment) {
        let key = flow_key(seg.src, seg.dst);
        // The flow is taken out of the table while it is worked on, and put back after: one
        // lookup each way, the key hashed once.
        let hash = self.flows.hash(&key);
        let existing = match self.flows.take(hash, &key) {
            Some(flow) if starts_new_connection(&flow, seg) => {
                self.end_flow(&key, flow);
                None
            }
            other => other,
        };
        let mut flow = match existing {
            Some(flow) => flow,
            None => {
                if self.trailing(&key, ts, seg) {
                    return;
                }
                if self.flows.len() >= self.config.max_flows {
                    self.evict_idle(number);
                }
                let id = self.next_id;
                self.next_id += 1;
                Box::new(Flow::new(id, seg.src, seg.dst, ts))
            }
        };
        flow.last_ts = flow.last_ts.max(ts);
        if flow.device_is_a.is_none() {
            self.hold(&mut flow, ts, seg);
        } else if flow.closing_since.is_some() {
            self.absorb(&mut flow, ts, seg);
        } else {
            self.process(&mut flow, ts, seg);
        }
        self.enforce_flow_cap(&mut flow, number);
        self.flows.put(hash, key, flow);
        if self.total_buffered > self.config.max_total_buffer {
            self.enforce_total_cap(number);
        }
    }

    /// Whether the segment trails a finished flow (a late retransmission, a last ACK): it is
    /// then dropped. A SYN that is not a retransmission of the finished flow's own is a new
    /// connection and ends the memory.
    fn trailing(&mut self, key: &FlowKey, ts: Timestamp, seg: &Segment) -> bool {
        let Some(done) = self.finished.get_mut(key) else {
            return false;
        };
        if seg.flags.syn && !seg.flags.ack {
            let side = usize::from(seg.src != done.a);
            if done.isn[side] != Some(seg.seq) {
                self.finished.remove(key);
                return false;
            }
        }
        done.last_ts = done.last_ts.max(ts);
        self.stats.duplicate_bytes += seg.payload.len() as u64;
        true
    }

    /// Keeps a segment of a flow whose device side is unknown, and settles it if it can.
    fn hold(&mut self, flow: &mut Flow, ts: Timestamp, seg: &Segment) {
        let from_a = seg.src == flow.a;
        flow.held_bytes += seg.payload.len() + 64;
        flow.held.push(Held {
            ts,
            from_a,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            payload: seg.payload.to_vec(),
            lost: seg.lost,
        });
        let side = usize::from(!from_a);
        let mut decision = None;
        if seg.flags.syn {
            // The SYN's sender is the device; a SYN-ACK's sender is the endpoint.
            decision = Some(from_a != seg.flags.ack);
        } else if !seg.payload.is_empty() && !flow.content_tried[side] {
            flow.content_tried[side] = true;
            decision = match roles::sender_by_content(seg.payload) {
                Some(Sender::Device) => Some(from_a),
                Some(Sender::Endpoint) => Some(!from_a),
                None => roles::device_is_a_by_ports(flow.a.port(), flow.b.port()),
            };
        }
        if decision.is_none()
            && (seg.flags.rst
                || seg.flags.fin
                || flow.held.len() >= self.config.max_undecided_segments)
        {
            decision = Some(fallback_device_is_a(flow));
        }
        if let Some(device_is_a) = decision {
            self.settle(flow, device_is_a);
        }
    }

    /// Fixes the device side, announces the flow and replays what was held.
    fn settle(&mut self, flow: &mut Flow, device_is_a: bool) {
        flow.device_is_a = Some(device_is_a);
        let (device, endpoint) = if device_is_a {
            (flow.a, flow.b)
        } else {
            (flow.b, flow.a)
        };
        flow.syn_seen = flow.held.iter().any(|h| h.flags.syn);
        self.stats.flows_opened += 1;
        self.events.push_back(StreamEvent::Opened {
            flow: flow.id,
            device,
            endpoint,
            ts: flow.first_ts,
            syn_seen: flow.syn_seen,
            hint: roles::hint_for_port(endpoint.port()),
        });
        let held = std::mem::take(&mut flow.held);
        flow.held_bytes = 0;
        for h in held {
            let (src, dst) = if h.from_a {
                (flow.a, flow.b)
            } else {
                (flow.b, flow.a)
            };
            let seg = Segment {
                src,
                dst,
                seq: h.seq,
                ack: h.ack,
                flags: h.flags,
                payload: &h.payload,
                lost: h.lost,
            };
            if flow.closing_since.is_some() {
                self.absorb(flow, h.ts, &seg);
            } else {
                self.process(flow, h.ts, &seg);
            }
        }
    }

    /// One segment of a flow with a known device side.
    fn process(&mut self, flow: &mut Flow, ts: Timestamp, seg: &Segment) {
        let Some(device) = flow.device() else {
            return;
        };
        let dir = if seg.src == device {
            Direction::DeviceToEndpoint
        } else {
            Direction::EndpointToDevice
        };
        let (d, o) = (dir.index(), dir.reverse().index());
        let mut out = std::mem::take(&mut self.scratch);
        let lost = seg.lost as u64;
        if seg.flags.syn {
            flow.syn_seen = true;
            let side = usize::from(seg.src != flow.a);
            flow.isn[side].get_or_insert(seg.seq);
            flow.streams[d].syn(seg.seq);
            if !flow.open_sent {
                flow.open_sent = true;
                out.push(OwnedInput::Open);
            }
            if !seg.payload.is_empty() || lost > 0 {
                let first = seg.seq.wrapping_add(1);
                flow.streams[d].segment(first, seg.payload, lost, seg.flags.fin, &mut out);
            }
            self.emit(flow.id, dir, ts, &mut out);
            if seg.flags.ack {
                // A SYN-ACK acknowledges the SYN: the device's data starts there, even when
                // the capture missed the SYN itself.
                flow.streams[o].anchor(seg.ack);
            }
        } else {
            if seg.flags.ack {
                flow.streams[o].acknowledged(seg.ack, &mut out);
                self.emit(flow.id, dir.reverse(), ts, &mut out);
            }
            if seg.flags.rst {
                flow.streams[d].rst(&mut out);
            } else {
                flow.streams[d].segment(seg.seq, seg.payload, lost, seg.flags.fin, &mut out);
            }
            self.emit(flow.id, dir, ts, &mut out);
        }
        self.scratch = out;
        let [s0, s1] = &flow.streams;
        if s0.rst_done() || s1.rst_done() || (s0.fin_done() && s1.fin_done()) {
            flow.closing_since.get_or_insert(ts);
        }
        self.recharge(flow);
    }

    /// A packet after the flow finished: a late RST from the other side is still passed
    /// on; anything else is a trailing packet.
    fn absorb(&mut self, flow: &mut Flow, ts: Timestamp, seg: &Segment) {
        let Some(device) = flow.device() else {
            return;
        };
        let dir = if seg.src == device {
            Direction::DeviceToEndpoint
        } else {
            Direction::EndpointToDevice
        };
        if seg.flags.rst && !flow.streams[dir.index()].rst_done() {
            let mut out = std::mem::take(&mut self.scratch);
            flow.streams[dir.index()].rst(&mut out);
            self.emit(flow.id, dir, ts, &mut out);
            self.scratch = out;
        } else {
            self.stats.duplicate_bytes += seg.payload.len() as u64;
        }
    }

    fn emit(&mut self, flow: u64, dir: Direction, ts: Timestamp, out: &mut Vec<OwnedInput>) {
        for input in out.drain(..) {
            if let OwnedInput::Gap(n) = input {
                self.stats.gap_bytes += n;
            }
            self.events.push_back(StreamEvent::Input {
                flow,
                dir,
                ts,
                input,
            });
        }
    }

    /// Brings the total-buffer account up to date with the flow's holdings.
    fn recharge(&mut self, flow: &mut Flow) {
        let now = flow.buffered();
        self.total_buffered = self.total_buffered.saturating_sub(flow.charged) + now;
        flow.charged = now;
    }

    fn enforce_flow_cap(&mut self, flow: &mut Flow, number: u64) {
        self.recharge(flow);
        if flow.buffered() <= self.config.max_flow_buffer {
            return;
        }
        if flow.device_is_a.is_none() {
            let device_is_a = fallback_device_is_a(flow);
            self.settle(flow, device_is_a);
        }
        self.shed(
            flow,
            number,
            self.config.max_flow_buffer,
            "the flow's own limit",
        );
    }

    fn enforce_total_cap(&mut self, number: u64) {
        while self.total_buffered > self.config.max_total_buffer {
            let Some(key) = self
                .flows
                .iter()
                .max_by_key(|(_, f)| (f.buffered(), std::cmp::Reverse(f.id)))
                .map(|(k, _)| *k)
            else {
                return;
            };
            let Some(mut flow) = self.flows.remove(&key) else {
                return;
            };
            if flow.device_is_a.is_none() {
                let device_is_a = fallback_device_is_a(&flow);
                self.settle(&mut flow, device_is_a);
            }
            let target = flow.buffered() / 2;
            let before = self.total_buffered;
            self.shed(
                &mut flow,
                number,
                target,
                "the limit for all flows together",
            );
            let stuck = self.total_buffered >= before;
            self.flows.insert(key, flow);
            if stuck {
                return;
            }
        }
    }

    /// Gives up on holes, largest holding first, until the flow holds at most `target`.
    fn shed(&mut self, flow: &mut Flow, number: u64, target: usize, which: &str) {
        let mut skipped = [0u64; 2];
        while flow.buffered() > target {
            let d = if flow.streams[0].buffered() >= flow.streams[1].buffered() {
                0
            } else {
                1
            };
            let dir = if d == 0 {
                Direction::DeviceToEndpoint
            } else {
                Direction::EndpointToDevice
            };
            let before = flow.streams[d].gap_bytes;
            let mut out = std::mem::take(&mut self.scratch);
            let moved = flow.streams[d].skip_hole(&mut out);
            skipped[d] += flow.streams[d].gap_bytes - before;
            let ts = flow.last_ts;
            self.emit(flow.id, dir, ts, &mut out);
            self.scratch = out;
            if !moved {
                break;
            }
        }
        self.recharge(flow);
        for (d, n) in skipped.into_iter().enumerate() {
            if n > 0 {
                let dir = if d == 0 {
                    "device → endpoint"
                } else {
                    "endpoint → device"
                };
                self.warn(
                    "buffer limit",
                    number,
                    format!(
                        "flow {}: too many bytes waited behind a hole ({which}); {n} missing bytes {dir} were passed on as a gap",
                        flow.id
                    ),
                );
            }
        }
    }

    /// Closes flows that finished a while ago or went idle, oldest first.
    fn sweep(&mut self, now: Timestamp) {
        let grace = self.config.close_grace_ns;
        let idle = self.config.idle_timeout_ns;
        let mut due: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| {
                f.closing_since
                    .is_some_and(|c| now.0.saturating_sub(c.0) >= grace)
                    || now.0.saturating_sub(f.last_ts.0) >= idle
            })
            .map(|(k, f)| (f.id, *k))
            .collect();
        due.sort();
        for (_, key) in due {
            self.close_flow(&key);
        }
        let linger = self.config.linger_ns;
        self.finished
            .retain(|_, f| now.0.saturating_sub(f.last_ts.0) < linger);
    }

    /// Closes the longest-idle eighth of the flows when too many are open.
    fn evict_idle(&mut self, number: u64) {
        let mut by_age: Vec<(Timestamp, u64, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.last_ts, f.id, *k))
            .collect();
        let n = (by_age.len() / 8).max(1).min(by_age.len());
        by_age.sort();
        by_age.truncate(n);
        by_age.sort_by_key(|(_, id, _)| *id);
        for (_, _, key) in &by_age {
            self.close_flow(key);
        }
        self.warn(
            "too many flows",
            number,
            format!(
                "more than {} flows were open at once; the {n} longest idle were closed early",
                self.config.max_flows
            ),
        );
    }

    /// Ends a flow: settles its device side if still open, gives up on its holes, and
    /// forgets it.
    fn close_flow(&mut self, key: &FlowKey) {
        if let Some(flow) = self.flows.remove(key) {
            self.end_flow(key, flow);
        }
    }

    /// [`FlowTable::close_flow`] for a flow already taken out of the table.
    fn end_flow(&mut self, key: &FlowKey, mut flow: Box<Flow>) {
        if flow.device_is_a.is_none() {
            let device_is_a = fallback_device_is_a(&flow);
            self.settle(&mut flow, device_is_a);
        }
        let mut out = std::mem::take(&mut self.scratch);
        for dir in [Direction::DeviceToEndpoint, Direction::EndpointToDevice] {
            flow.streams[dir.index()].flush(&mut out);
            self.emit(flow.id, dir, flow.last_ts, &mut out);
        }
        self.scratch = out;
        for s in &flow.streams {
            self.stats.duplicate_bytes += s.duplicate_bytes;
        }
        self.total_buffered = self.total_buffered.saturating_sub(flow.charged);
        self.stats.flows_closed += 1;
        if flow.closing_since.is_some() {
            if self.finished.len() >= self.config.max_flows {
                // Forget the memories that have been quiet longest.
                let mut ages: Vec<Timestamp> = self.finished.values().map(|f| f.last_ts).collect();
                let cut = ages.len() / 8;
                if cut < ages.len() {
                    let (_, &mut limit, _) = ages.select_nth_unstable(cut);
                    self.finished.retain(|_, f| f.last_ts > limit);
                }
            }
            self.finished.insert(
                *key,
                Finished {
                    a: flow.a,
                    isn: flow.isn,
                    last_ts: flow.last_ts,
                },
            );
        }
        self.events.push_back(StreamEvent::Closed {
            flow: flow.id,
            ts: flow.last_ts,
        });
    }
}

/// A pure SYN on a flow that already exists starts a new connection when the old one has
/// finished, or when its initial sequence number differs (not a retransmitted SYN).
fn starts_new_connection(flow: &Flow, seg: &Segment) -> bool {
    if !seg.flags.syn || seg.flags.ack {
        return false;
    }
    let side = usize::from(seg.src != flow.a);
    if flow.closing_since.is_some() {
        return flow.isn[side] != Some(seg.seq);
    }
    match flow.isn[side] {
        Some(isn) => isn != seg.seq,
        // A flow that began mid-stream had no handshake; a SYN now opens something new.
        None => flow.isn == [None, None],
    }
}

/// When neither handshake nor content nor the port list tells: the ephemeral (higher) port
/// is the device's; with equal ports, the first sender.
fn fallback_device_is_a(flow: &Flow) -> bool {
    roles::device_is_a_by_ports(flow.a.port(), flow.b.port())
        .unwrap_or(flow.a.port() >= flow.b.port())
}

fn ip_protocol_name(proto: u8) -> String {
    match proto {
        1 => "ICMP".into(),
        2 => "IGMP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "ICMPv6".into(),
        132 => "SCTP".into(),
        p => format!("IP protocol {p}"),
    }
}

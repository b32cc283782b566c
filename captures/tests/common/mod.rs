//! Helpers shared by the integration tests: where the reference captures are, running a
//! capture through the reader and the flow table, summarising flows, building captures in
//! memory, and the rule for tests that need tshark.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use iotscope_captures::{CaptureError, CaptureReader, FlowTable, StreamEvent};
use iotscope_decoder::OwnedInput;
use iotscope_decoder::{Direction, Timestamp};

pub fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference")
}

pub fn tmp_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// True when tshark can be run. Missing tshark fails the test under CI (env `CI` set) and
/// skips it elsewhere.
pub fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("tshark is required under CI but could not be run");
        }
        eprintln!("tshark not found: skipping the comparison with tshark");
    }
    ok
}

/// Runs tshark with `args` and returns its stdout.
pub fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark output is UTF-8")
}

/// Everything one capture produced.
pub struct Run {
    pub packets: Vec<(u64, Timestamp)>,
    pub error: Option<CaptureError>,
    pub events: Vec<StreamEvent>,
}

impl Run {
    pub fn flows(&self) -> Vec<FlowSummary> {
        summarise(&self.events)
    }

    pub fn warnings(&self) -> Vec<(u64, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Warning { packet, message } => Some((*packet, message.clone())),
                _ => None,
            })
            .collect()
    }
}

pub fn run_reader<R: std::io::Read>(reader: CaptureReader<R>) -> Run {
    let mut table = FlowTable::default();
    let mut run = Run {
        packets: Vec::new(),
        error: None,
        events: Vec::new(),
    };
    for item in reader {
        match item {
            Ok(p) => {
                run.packets.push((p.number, p.ts));
                table.push(&p);
                run.events.extend(table.drain());
            }
            Err(e) => run.error = Some(e),
        }
    }
    table.finish();
    run.events.extend(table.drain());
    run
}

pub fn run_file(path: &std::path::Path) -> Run {
    let reader = CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run_reader(reader)
}

pub fn run_bytes(bytes: &[u8]) -> Run {
    let reader = CaptureReader::from_reader(bytes).expect("capture header");
    run_reader(reader)
}

/// One flow as the events told it.
#[derive(Debug, Default, Clone)]
pub struct FlowSummary {
    pub id: u64,
    pub device: Option<SocketAddr>,
    pub endpoint: Option<SocketAddr>,
    pub syn_seen: bool,
    pub opened: bool,
    pub closed: bool,
    /// By Direction::index: bytes delivered, in order.
    pub data: [Vec<u8>; 2],
    pub gaps: [u64; 2],
    pub fin: [bool; 2],
    pub rst: [bool; 2],
    pub first_fin: Option<Direction>,
    /// Inputs in order, with bytes shown as their length.
    pub trail: Vec<(Direction, String)>,
}

pub fn summarise(events: &[StreamEvent]) -> Vec<FlowSummary> {
    let mut flows: BTreeMap<u64, FlowSummary> = BTreeMap::new();
    for e in events {
        match e {
            StreamEvent::Opened {
                flow,
                device,
                endpoint,
                syn_seen,
                ..
            } => {
                let f = flows.entry(*flow).or_default();
                assert!(!f.opened, "flow {flow} opened twice");
                f.id = *flow;
                f.opened = true;
                f.device = Some(*device);
                f.endpoint = Some(*endpoint);
                f.syn_seen = *syn_seen;
            }
            StreamEvent::Input {
                flow, dir, input, ..
            } => {
                let f = flows.get_mut(flow).expect("input before Opened");
                assert!(!f.closed, "input after Closed");
                let d = dir.index();
                let shown = match input {
                    OwnedInput::Data(b) => {
                        f.data[d].extend_from_slice(b);
                        format!("data {}", b.len())
                    }
                    OwnedInput::Gap(n) => {
                        f.gaps[d] += n;
                        format!("gap {n}")
                    }
                    OwnedInput::Fin => {
                        f.fin[d] = true;
                        f.first_fin.get_or_insert(*dir);
                        "fin".into()
                    }
                    OwnedInput::Rst => {
                        f.rst[d] = true;
                        "rst".into()
                    }
                    OwnedInput::Open => "open".into(),
                    other => panic!("a capture cannot know {other:?}"),
                };
                f.trail.push((*dir, shown));
            }
            StreamEvent::Closed { flow, .. } => {
                let f = flows.get_mut(flow).expect("Closed before Opened");
                assert!(!f.closed, "flow {flow} closed twice");
                f.closed = true;
            }
            StreamEvent::Warning { .. } => {}
        }
    }
    for f in flows.values() {
        assert!(f.closed, "flow {} never closed", f.id);
    }
    flows.into_values().collect()
}

pub type Dir = Direction;
pub const D2E: Direction = Direction::DeviceToEndpoint;
pub const E2D: Direction = Direction::EndpointToDevice;

/// A classic pcap file built in memory.
pub struct PcapBuilder {
    pub bytes: Vec<u8>,
    big_endian: bool,
    nanos: bool,
}

impl PcapBuilder {
    pub fn new(linktype: u32) -> PcapBuilder {
        PcapBuilder::with_format(linktype, false, false)
    }

    pub fn with_format(linktype: u32, big_endian: bool, nanos: bool) -> PcapBuilder {
        let mut b = PcapBuilder {
            bytes: Vec::new(),
            big_endian,
            nanos,
        };
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        b.u32(magic);
        b.u16(2);
        b.u16(4);
        b.u32(0);
        b.u32(0);
        b.u32(262_144);
        b.u32(linktype);
        b
    }

    fn u32(&mut self, v: u32) {
        let bytes = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&bytes);
    }

    fn u16(&mut self, v: u16) {
        let bytes = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&bytes);
    }

    /// A frame at `ts` nanoseconds, captured whole.
    pub fn frame(&mut self, ts: i64, data: &[u8]) -> &mut PcapBuilder {
        self.frame_cut(ts, data, data.len())
    }

    /// A frame of which only `keep` bytes were captured.
    pub fn frame_cut(&mut self, ts: i64, data: &[u8], keep: usize) -> &mut PcapBuilder {
        let secs = (ts / 1_000_000_000) as u32;
        let frac = (ts % 1_000_000_000) as u32;
        self.u32(secs);
        self.u32(if self.nanos { frac } else { frac / 1000 });
        self.u32(keep as u32);
        self.u32(data.len() as u32);
        self.bytes.extend_from_slice(&data[..keep]);
        self
    }
}

/// A pcapng file built block by block in memory, in either byte order.
pub struct PcapngBuilder {
    pub bytes: Vec<u8>,
    big_endian: bool,
}

impl PcapngBuilder {
    pub fn new(big_endian: bool) -> PcapngBuilder {
        let mut b = PcapngBuilder {
            bytes: Vec::new(),
            big_endian,
        };
        let mut body = b.w32(0x1a2b_3c4d);
        body.extend(b.w16(1));
        body.extend(b.w16(0));
        body.extend_from_slice(&[0xff; 8]);
        b.block(0x0a0d_0d0a, &body);
        b
    }

    fn w32(&self, v: u32) -> Vec<u8> {
        if self.big_endian {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    }

    fn w16(&self, v: u16) -> Vec<u8> {
        if self.big_endian {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    }

    pub fn block(&mut self, kind: u32, body: &[u8]) -> &mut PcapngBuilder {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let (k, l) = (self.w32(kind), self.w32(len));
        self.bytes.extend(k);
        self.bytes.extend(l.clone());
        self.bytes.extend(body);
        self.bytes.extend(l);
        self
    }

    fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut o = self.w16(code);
        o.extend(self.w16(value.len() as u16));
        o.extend_from_slice(value);
        while !o.len().is_multiple_of(4) {
            o.push(0);
        }
        o
    }

    /// An interface; `tsresol` and `tsoffset` become options when given.
    pub fn idb(
        &mut self,
        linktype: u16,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut PcapngBuilder {
        let mut body = self.w16(linktype);
        body.extend(self.w16(0));
        body.extend(self.w32(0));
        if let Some(r) = tsresol {
            body.extend(self.option(9, &[r]));
        }
        if let Some(o) = tsoffset {
            let v = if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            body.extend(self.option(14, &v));
        }
        if tsresol.is_some() || tsoffset.is_some() {
            body.extend(self.option(0, &[]));
        }
        self.block(1, &body)
    }

    /// An Enhanced Packet Block with a raw timestamp count in the interface's units.
    pub fn epb(&mut self, iface: u32, raw_ts: u64, data: &[u8]) -> &mut PcapngBuilder {
        let mut body = self.w32(iface);
        body.extend(self.w32((raw_ts >> 32) as u32));
        body.extend(self.w32(raw_ts as u32));
        body.extend(self.w32(data.len() as u32));
        body.extend(self.w32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    pub fn spb(&mut self, data: &[u8]) -> &mut PcapngBuilder {
        let mut body = self.w32(data.len() as u32);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// A Decryption Secrets Block.
    pub fn dsb(&mut self, secrets_type: u32, data: &[u8]) -> &mut PcapngBuilder {
        let mut body = self.w32(secrets_type);
        body.extend(self.w32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(10, &body)
    }
}

/// A small IPv4 TCP packet (raw IP), for frames whose content does not matter.
pub fn some_ip_packet() -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 8883, 1, 1000)
        .write(&mut out, b"x")
        .unwrap();
    out
}

/// (frame number, time in µs) per frame as tshark prints them; frames without a time
/// (simple packet blocks) are left out.
pub fn tshark_times_us(path: &std::path::Path) -> Vec<(u64, i64)> {
    let text = tshark(&[
        "-r",
        path.to_str().unwrap(),
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "frame.time_epoch",
    ]);
    text.lines()
        .filter_map(|l| {
            let (n, t) = l.split_once('\t')?;
            if t.is_empty() {
                return None;
            }
            let (secs, frac) = t.split_once('.').unwrap_or((t, "0"));
            let frac = format!("{frac:0<9}");
            let ns: i64 =
                secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap();
            Some((n.parse().unwrap(), ns.div_euclid(1000)))
        })
        .collect()
}

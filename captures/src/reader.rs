//! Reading pcap and pcapng files one packet at a time, without holding the file in memory.
//!
//! The format is chosen by the first four bytes: the four pcap magics (either byte order,
//! microsecond or nanosecond fractions) or a pcapng Section Header Block. pcap-file 2.0 parses
//! the headers and records; this module frames them itself so it knows the byte offset of
//! every record, bounds each record's size before reading it, and fixes what pcap-file gets
//! wrong or leaves out for pcapng (timestamp units, simple packets, Decryption Secrets
//! Blocks, see [`crate::pcapng`]).
//!
//! Damage ends the iteration: the packets before it are yielded, then one [`CaptureError`]
//! naming the byte offset and the last good packet.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use iotscope_decoder::Timestamp;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::{SECTION_HEADER_BLOCK, SIMPLE_PACKET_BLOCK};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{Endianness, TsResolution};

use crate::pcapng::{dsb_tls_keys, Interface, DECRYPTION_SECRETS_BLOCK};
use crate::window::Window;

/// The largest record accepted. Real link layers stay far below (Wireshark's own limit is
/// 256 KiB for most); a larger length field means a corrupt file, not a big packet.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One captured frame, as the file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPacket {
    /// 1-based frame number, counted as tshark counts.
    pub number: u64,
    pub ts: Timestamp,
    /// The link type of the frame (pcap header, or the pcapng interface).
    pub linktype: u32,
    /// The pcapng interface the frame came from (0 for pcap).
    pub interface: u32,
    /// The captured bytes (possibly fewer than `orig_len`).
    pub data: Vec<u8>,
    /// The length of the frame on the wire.
    pub orig_len: u32,
    /// Byte offset in the file of the record holding this frame.
    pub file_offset: u64,
}

/// Why reading stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset in the file where the problem is.
    pub offset: u64,
    /// Number of the last good packet (0 when none was read).
    pub packet: u64,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at byte offset {}, after packet {})",
            self.message, self.offset, self.packet
        )
    }
}

impl std::error::Error for CaptureError {}

/// The file formats the reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap { big_endian: bool, nanoseconds: bool },
    Pcapng,
}

enum Format {
    Pcap {
        parser: PcapParser,
        linktype: u32,
        nanos: bool,
        big_endian: bool,
    },
    Pcapng {
        parser: PcapNgParser,
        interfaces: Vec<Interface>,
    },
}

/// Packets from a pcap or pcapng source, in file order.
pub struct CaptureReader<R> {
    window: Window<R>,
    format: Format,
    /// Packets yielded so far.
    count: u64,
    last_ts: Timestamp,
    secrets: Vec<Vec<u8>>,
    secrets_seen: usize,
    done: bool,
}

impl CaptureReader<File> {
    /// Opens a capture file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureReader<File>, CaptureError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| CaptureError {
            offset: 0,
            packet: 0,
            message: format!("cannot open {}: {e}", path.display()),
        })?;
        CaptureReader::from_reader(file)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header from `src` and decides the format.
    pub fn from_reader(src: R) -> Result<CaptureReader<R>, CaptureError> {
        let mut window = Window::new(src);
        let have = window.fill(4).map_err(|e| io_error(0, 0, &e))?;
        if have == 0 {
            return Err(fail(0, 0, "the file is empty".into()));
        }
        let magic = window.bytes().get(..4).map(|m| [m[0], m[1], m[2], m[3]]);
        let format = match magic.map(u32::from_be_bytes) {
            Some(0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => open_pcap(&mut window)?,
            Some(SECTION_HEADER_BLOCK) => open_pcapng(&mut window)?,
            _ => {
                return Err(fail(
                    0,
                    0,
                    format!(
                        "not a pcap or pcapng file: it starts with {}",
                        hex_prefix(window.bytes())
                    ),
                ))
            }
        };
        Ok(CaptureReader {
            window,
            format,
            count: 0,
            last_ts: Timestamp::default(),
            secrets: Vec::new(),
            secrets_seen: 0,
            done: false,
        })
    }

    pub fn format(&self) -> CaptureFormat {
        match &self.format {
            Format::Pcap {
                nanos, big_endian, ..
            } => CaptureFormat::Pcap {
                big_endian: *big_endian,
                nanoseconds: *nanos,
            },
            Format::Pcapng { .. } => CaptureFormat::Pcapng,
        }
    }

    /// TLS key-log texts from Decryption Secrets Blocks met since the last call, in file
    /// order. Blocks are met while packets are read, so a block placed before a packet is
    /// available once that packet has been yielded.
    pub fn take_secrets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.secrets)
    }

    /// How many TLS key-log blocks were met so far.
    pub fn secrets_seen(&self) -> usize {
        self.secrets_seen
    }

    /// Packets yielded so far.
    pub fn packets_read(&self) -> u64 {
        self.count
    }

    fn error(&self, offset: u64, message: String) -> CaptureError {
        fail(offset, self.count, message)
    }

    fn next_packet(&mut self) -> Result<Option<RawPacket>, CaptureError> {
        match self.format {
            Format::Pcap { .. } => self.next_pcap(),
            Format::Pcapng { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self) -> Result<Option<RawPacket>, CaptureError> {
        let Format::Pcap {
            ref parser,
            linktype,
            nanos,
            big_endian,
        } = self.format
        else {
            return Ok(None);
        };
        let at = self.window.offset();
        let have = self
            .window
            .fill(16)
            .map_err(|e| io_error(at, self.count, &e))?;
        if have == 0 {
            return Ok(None);
        }
        if have < 16 {
            return Err(self.error(
                at,
                format!("truncated packet record header: {have} of 16 bytes before end of file"),
            ));
        }
        let header = self.window.bytes();
        let incl_len = read_u32(&header[8..12], big_endian) as usize;
        if incl_len > MAX_RECORD {
            return Err(self.error(
                at,
                format!("packet record claims {incl_len} captured bytes, more than the {MAX_RECORD}-byte limit; the file is corrupt"),
            ));
        }
        let have = self
            .window
            .fill(16 + incl_len)
            .map_err(|e| io_error(at, self.count, &e))?;
        if have < 16 + incl_len {
            return Err(self.error(
                at,
                format!(
                    "truncated packet: the record needs {} bytes, the file ends after {have}",
                    16 + incl_len
                ),
            ));
        }
        let bytes = &self.window.bytes()[..16 + incl_len];
        let raw = match parser.next_raw_packet(bytes) {
            Ok((_, raw)) => raw,
            Err(e) => return Err(self.error(at, format!("bad packet record: {e}"))),
        };
        let frac = if nanos {
            i64::from(raw.ts_frac)
        } else {
            i64::from(raw.ts_frac) * 1000
        };
        let ts = Timestamp(i64::from(raw.ts_sec) * 1_000_000_000 + frac);
        let packet = RawPacket {
            number: self.count + 1,
            ts,
            linktype,
            interface: 0,
            data: raw.data.into_owned(),
            orig_len: raw.orig_len,
            file_offset: at,
        };
        self.window.consume(16 + incl_len);
        Ok(Some(packet))
    }

    fn next_pcapng(&mut self) -> Result<Option<RawPacket>, CaptureError> {
        loop {
            let Format::Pcapng {
                ref mut parser,
                ref mut interfaces,
            } = self.format
            else {
                return Ok(None);
            };
            let at = self.window.offset();
            let have = self
                .window
                .fill(12)
                .map_err(|e| io_error(at, self.count, &e))?;
            if have == 0 {
                return Ok(None);
            }
            if have < 12 {
                return Err(fail(
                    at,
                    self.count,
                    format!("truncated block header: {have} of 12 bytes before end of file"),
                ));
            }
            let endianness = parser.section().endianness;
            let len = block_length(self.window.bytes(), endianness);
            if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
                return Err(fail(
                    at,
                    self.count,
                    format!("block length {len} is not a multiple of 4 between 12 and {MAX_RECORD}; the file is corrupt"),
                ));
            }
            let have = self
                .window
                .fill(len)
                .map_err(|e| io_error(at, self.count, &e))?;
            if have < len {
                return Err(fail(
                    at,
                    self.count,
                    format!("truncated block: it needs {len} bytes, the file ends after {have}"),
                ));
            }
            let bytes = &self.window.bytes()[..len];
            let block = match parser.next_block(bytes) {
                Ok((_, block)) => block,
                Err(e) => {
                    return Err(fail(
                        at,
                        self.count,
                        format!("bad {}: {e}", block_name(bytes, endianness)),
                    ))
                }
            };
            let mut packet = None;
            match block {
                Block::SectionHeader(_) => interfaces.clear(),
                Block::InterfaceDescription(idb) => interfaces.push(Interface::from_idb(&idb)),
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = interfaces.get(epb.interface_id as usize) else {
                        return Err(missing_interface(
                            at,
                            self.count,
                            epb.interface_id,
                            interfaces.len(),
                        ));
                    };
                    // pcap-file stored the raw count as if it were nanoseconds.
                    let raw = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                    packet = Some((
                        iface.timestamp(raw),
                        iface.linktype,
                        epb.interface_id,
                        epb.original_len,
                        epb.data.into_owned(),
                    ));
                }
                Block::Packet(pb) => {
                    let id = u32::from(pb.interface_id);
                    let Some(iface) = interfaces.get(id as usize) else {
                        return Err(missing_interface(at, self.count, id, interfaces.len()));
                    };
                    packet = Some((
                        iface.timestamp(pb.timestamp),
                        iface.linktype,
                        id,
                        pb.original_len,
                        pb.data.into_owned(),
                    ));
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = interfaces.first() else {
                        return Err(missing_interface(at, self.count, 0, 0));
                    };
                    // The body runs to the end of the block, padding included; the captured
                    // length is the original length cut to the snap length.
                    let mut caplen = spb.original_len as usize;
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    let data = spb.data.get(..caplen).unwrap_or(&spb.data).to_vec();
                    packet = Some((self.last_ts, iface.linktype, 0, spb.original_len, data));
                }
                Block::Unknown(unknown) if unknown.type_ == DECRYPTION_SECRETS_BLOCK => {
                    match dsb_tls_keys(&unknown.value, endianness) {
                        Ok(Some(keys)) => {
                            self.secrets.push(keys.to_vec());
                            self.secrets_seen += 1;
                        }
                        Ok(None) => {}
                        Err(message) => return Err(fail(at, self.count, message)),
                    }
                }
                _ => {}
            }
            self.window.consume(len);
            if let Some((ts, linktype, interface, orig_len, data)) = packet {
                return Ok(Some(RawPacket {
                    number: self.count + 1,
                    ts,
                    linktype,
                    interface,
                    data,
                    orig_len,
                    file_offset: at,
                }));
            }
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<RawPacket, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_packet() {
            Ok(Some(packet)) => {
                self.count = packet.number;
                self.last_ts = packet.ts;
                Some(Ok(packet))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn open_pcap<R: Read>(window: &mut Window<R>) -> Result<Format, CaptureError> {
    let have = window.fill(24).map_err(|e| io_error(0, 0, &e))?;
    if have < 24 {
        return Err(fail(
            0,
            0,
            format!("truncated pcap file header: {have} of 24 bytes"),
        ));
    }
    let (_, parser) = PcapParser::new(window.bytes())
        .map_err(|e| fail(0, 0, format!("bad pcap file header: {e}")))?;
    let header = parser.header();
    // The top bits of the link-type field carry FCS information, not the link type.
    let linktype = u32::from(header.datalink) & 0x03ff_ffff;
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    let big_endian = header.endianness == Endianness::Big;
    window.consume(24);
    Ok(Format::Pcap {
        parser,
        linktype,
        nanos,
        big_endian,
    })
}

fn open_pcapng<R: Read>(window: &mut Window<R>) -> Result<Format, CaptureError> {
    let have = window.fill(12).map_err(|e| io_error(0, 0, &e))?;
    if have < 12 {
        return Err(fail(
            0,
            0,
            format!("truncated pcapng Section Header Block: {have} of at least 28 bytes"),
        ));
    }
    let len = block_length(window.bytes(), Endianness::Big);
    if !(28..=MAX_RECORD).contains(&len) || !len.is_multiple_of(4) {
        return Err(fail(
            0,
            0,
            format!("pcapng Section Header Block length {len} is impossible; the file is corrupt"),
        ));
    }
    let have = window.fill(len).map_err(|e| io_error(0, 0, &e))?;
    if have < len {
        return Err(fail(
            0,
            0,
            format!("truncated pcapng Section Header Block: {have} of {len} bytes"),
        ));
    }
    let (_, parser) = PcapNgParser::new(&window.bytes()[..len])
        .map_err(|e| fail(0, 0, format!("bad pcapng Section Header Block: {e}")))?;
    window.consume(len);
    Ok(Format::Pcapng {
        parser,
        interfaces: Vec::new(),
    })
}

/// The total length of the block at the start of `bytes` (at least 12 available). A Section
/// Header Block says its own byte order in its byte-order magic.
fn block_length(bytes: &[u8], section: Endianness) -> usize {
    let word = |at: usize| -> [u8; 4] {
        bytes
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .unwrap_or([0; 4])
    };
    let big = if u32::from_be_bytes(word(0)) == SECTION_HEADER_BLOCK {
        word(8) == [0x1a, 0x2b, 0x3c, 0x4d]
    } else {
        section == Endianness::Big
    };
    let len = if big {
        u32::from_be_bytes(word(4))
    } else {
        u32::from_le_bytes(word(4))
    };
    len as usize
}

fn block_name(bytes: &[u8], endianness: Endianness) -> String {
    let kind = bytes
        .get(..4)
        .map(|w| read_u32(w, endianness == Endianness::Big))
        .unwrap_or(0);
    match kind {
        SECTION_HEADER_BLOCK => "Section Header Block".into(),
        1 => "Interface Description Block".into(),
        2 => "Packet Block".into(),
        SIMPLE_PACKET_BLOCK => "Simple Packet Block".into(),
        6 => "Enhanced Packet Block".into(),
        DECRYPTION_SECRETS_BLOCK => "Decryption Secrets Block".into(),
        other => format!("block of type {other:#010x}"),
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let w: [u8; 4] = b.get(..4).and_then(|w| w.try_into().ok()).unwrap_or([0; 4]);
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn missing_interface(at: u64, packet: u64, id: u32, known: usize) -> CaptureError {
    fail(
        at,
        packet,
        format!("packet refers to interface {id}, but the section describes {known} interface(s)"),
    )
}

fn fail(offset: u64, packet: u64, message: String) -> CaptureError {
    CaptureError {
        offset,
        packet,
        message,
    }
}

fn io_error(offset: u64, packet: u64, e: &std::io::Error) -> CaptureError {
    fail(offset, packet, format!("read error: {e}"))
}

fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let text: String = bytes
        .iter()
        .take(16)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} (\"{text}\")", shown.join(" "))
}

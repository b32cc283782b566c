//! Reading pcap and pcapng files one packet at a time, without holding the file in memory.
//!
//! The format is chosen by the first four bytes: the four pcap magics (either byte order,
//! microsecond or nanosecond fractions) or a pcapng Section Header Block. pcap-file 2.0
//! parses pcap file headers and records; pcapng block bodies are read by [`crate::pcapng`]
//! (it says why). This module frames records itself so it knows the byte offset of each,
//! and bounds every record's size before reading it.
//!
//! Damage ends the iteration: the packets before it are yielded, then one [`CaptureError`]
//! naming the byte offset and the last good packet.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use iotscope_decoder::Timestamp;
use pcap_file::pcap::PcapParser;
use pcap_file::{Endianness, TsResolution};

use crate::pcapng::{
    self, block_name, dsb_tls_keys, u32_at, Interface, DECRYPTION_SECRETS_BLOCK,
    ENHANCED_PACKET_BLOCK, INTERFACE_DESCRIPTION_BLOCK, PACKET_BLOCK, SECTION_HEADER_BLOCK,
    SIMPLE_PACKET_BLOCK,
};
use crate::window::Window;

/// The largest record accepted. Real link layers stay far below (Wireshark's own limit is
/// 256 KiB for most); a larger length field means a corrupt file, not a big packet.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One captured frame, as the file holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
        big_endian: bool,
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

    /// The next packet, written into `packet` so that its buffer is reused: a replay reads
    /// millions of frames, and one allocation per frame showed in its profile. `Ok(false)` at
    /// the end of the file. After an error, or at the end, every later call says the same as
    /// the iterator would (nothing more).
    pub fn read_into(&mut self, packet: &mut RawPacket) -> Result<bool, CaptureError> {
        if self.done {
            return Ok(false);
        }
        let read = match self.format {
            Format::Pcap { .. } => self.next_pcap(packet),
            Format::Pcapng { .. } => self.next_pcapng(packet),
        };
        match read {
            Ok(true) => {
                self.count = packet.number;
                self.last_ts = packet.ts;
                Ok(true)
            }
            Ok(false) => {
                self.done = true;
                Ok(false)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn next_pcap(&mut self, packet: &mut RawPacket) -> Result<bool, CaptureError> {
        let Format::Pcap {
            ref parser,
            linktype,
            nanos,
            big_endian,
        } = self.format
        else {
            return Ok(false);
        };
        let at = self.window.offset();
        let have = self
            .window
            .fill(16)
            .map_err(|e| io_error(at, self.count, &e))?;
        if have == 0 {
            return Ok(false);
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
        packet.number = self.count + 1;
        packet.ts = ts;
        packet.linktype = linktype;
        packet.interface = 0;
        packet.data.clear();
        packet.data.extend_from_slice(&raw.data);
        packet.orig_len = raw.orig_len;
        packet.file_offset = at;
        self.window.consume(16 + incl_len);
        Ok(true)
    }

    fn next_pcapng(&mut self, packet: &mut RawPacket) -> Result<bool, CaptureError> {
        loop {
            let Format::Pcapng {
                ref mut big_endian,
                ref mut interfaces,
            } = self.format
            else {
                return Ok(false);
            };
            let at = self.window.offset();
            let have = self
                .window
                .fill(12)
                .map_err(|e| io_error(at, self.count, &e))?;
            if have == 0 {
                return Ok(false);
            }
            if have < 12 {
                return Err(fail(
                    at,
                    self.count,
                    format!("truncated block header: {have} of 12 bytes before end of file"),
                ));
            }
            let head = self.window.bytes();
            let kind = u32_at(head, 0, *big_endian).unwrap_or(0);
            // A new section says its own byte order.
            let order = if kind == SECTION_HEADER_BLOCK {
                head.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d][..])
            } else {
                *big_endian
            };
            let len = u32_at(head, 4, order).unwrap_or(0) as usize;
            if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
                return Err(fail(
                    at,
                    self.count,
                    format!(
                        "{} length {len} is not a multiple of 4 between 12 and {MAX_RECORD}; the file is corrupt",
                        block_name(kind)
                    ),
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
                    format!(
                        "truncated block: the {} needs {len} bytes, the file ends after {have}",
                        block_name(kind)
                    ),
                ));
            }
            let block = &self.window.bytes()[..len];
            if u32_at(block, len - 4, order) != Some(len as u32) {
                return Err(fail(
                    at,
                    self.count,
                    format!(
                        "{} length {len} does not match its trailing copy; the file is corrupt",
                        block_name(kind)
                    ),
                ));
            }
            let body = &block[8..len - 4];
            let count = self.count;
            let bad =
                |m: pcapng::BlockError| fail(at, count, format!("bad {}: {m}", block_name(kind)));
            let mut got = false;
            match kind {
                SECTION_HEADER_BLOCK => {
                    *big_endian = pcapng::section(body).map_err(bad)?;
                    interfaces.clear();
                }
                INTERFACE_DESCRIPTION_BLOCK => {
                    interfaces.push(Interface::parse(body, *big_endian).map_err(bad)?);
                }
                ENHANCED_PACKET_BLOCK | PACKET_BLOCK | SIMPLE_PACKET_BLOCK => {
                    let p = pcapng::packet(kind, body, *big_endian).map_err(bad)?;
                    let Some(iface) = interfaces.get(p.interface as usize) else {
                        return Err(fail(
                            at,
                            count,
                            format!(
                                "packet refers to interface {}, but the section describes {} interface(s)",
                                p.interface,
                                interfaces.len()
                            ),
                        ));
                    };
                    let (ts, data) = match p.raw_ts {
                        Some(raw) => (iface.timestamp(raw), p.data),
                        None => {
                            // A simple packet has no time of its own, and its captured length
                            // is the original length cut to the snap length.
                            let mut caplen = p.orig_len as usize;
                            if iface.snaplen != 0 {
                                caplen = caplen.min(iface.snaplen as usize);
                            }
                            (self.last_ts, p.data.get(..caplen).unwrap_or(p.data))
                        }
                    };
                    packet.number = count + 1;
                    packet.ts = ts;
                    packet.linktype = iface.linktype;
                    packet.interface = p.interface;
                    packet.data.clear();
                    packet.data.extend_from_slice(data);
                    packet.orig_len = p.orig_len;
                    packet.file_offset = at;
                    got = true;
                }
                DECRYPTION_SECRETS_BLOCK => {
                    if let Some(keys) = dsb_tls_keys(body, *big_endian).map_err(bad)? {
                        self.secrets.push(keys.to_vec());
                        self.secrets_seen += 1;
                    }
                }
                _ => {}
            }
            self.window.consume(len);
            if got {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<RawPacket, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut packet = RawPacket::default();
        match self.read_into(&mut packet) {
            Ok(true) => Some(Ok(packet)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
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
    // Only the byte order is needed here; the block itself is read as the first block.
    let big_endian = match window.bytes().get(8..12) {
        Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
        Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
        _ => {
            return Err(fail(
                0,
                0,
                format!(
                    "pcapng Section Header Block without a valid byte-order magic: {}",
                    hex_prefix(window.bytes())
                ),
            ))
        }
    };
    Ok(Format::Pcapng {
        big_endian,
        interfaces: Vec::new(),
    })
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let w: [u8; 4] = b.get(..4).and_then(|w| w.try_into().ok()).unwrap_or([0; 4]);
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
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

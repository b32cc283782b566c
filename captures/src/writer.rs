//! Writing pcapng files, for the proxy's recordings.
//!
//! One section, one interface of link type raw IP (so IPv4 and IPv6 connections share it,
//! and no invented MAC addresses appear), timestamps in nanoseconds (`if_tsresol` 9). TLS
//! keys go into Decryption Secrets Blocks; Wireshark reads keys only on its first pass, so a
//! block must come before the packets it decrypts. Packets are built by etherparse with
//! correct IP and TCP checksums. [`TcpConversationWriter`] keeps the sequence numbers of a
//! connection so a caller writes only what happened: open, data, FIN, RST.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use etherparse::PacketBuilder;
use iotscope_decoder::{Direction, Timestamp};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::unknown::UnknownBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness, PcapError};

use crate::pcapng::{DECRYPTION_SECRETS_BLOCK, SECRETS_TLS_KEY_LOG};
use crate::tcp::TcpFlags;

/// Largest TCP payload written in one segment; keeps an IPv4 packet under 64 KiB.
pub const MAX_SEGMENT: usize = 65_000;

const SNAPLEN: u32 = 262_144;

fn io_err(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// A pcapng file being written.
pub struct PcapngWriter<W: Write> {
    inner: PcapNgWriter<W>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header and the one raw-IP interface.
    pub fn new(out: W) -> io::Result<PcapngWriter<W>> {
        let mut inner = PcapNgWriter::with_endianness(out, Endianness::Little).map_err(io_err)?;
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::RAW,
            snaplen: SNAPLEN,
            options: vec![InterfaceDescriptionOption::IfTsResol(9)],
        };
        inner
            .write_block(&Block::InterfaceDescription(idb))
            .map_err(io_err)?;
        Ok(PcapngWriter { inner })
    }

    /// Writes TLS key-log text (SSLKEYLOGFILE lines) as a Decryption Secrets Block.
    pub fn write_tls_keys(&mut self, key_log: &[u8]) -> io::Result<()> {
        let len = u32::try_from(key_log.len())
            .ok()
            .filter(|&n| (n as usize) < crate::reader::MAX_RECORD - 64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "key log too large"))?;
        let mut body = Vec::with_capacity(8 + key_log.len());
        body.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(key_log);
        let block = UnknownBlock {
            type_: DECRYPTION_SECRETS_BLOCK,
            length: 0,
            value: Cow::Owned(body),
        };
        self.inner
            .write_block(&Block::Unknown(block))
            .map_err(io_err)?;
        Ok(())
    }

    /// Writes one raw IP packet captured at `ts`.
    pub fn write_ip_packet(&mut self, ts: Timestamp, packet: &[u8]) -> io::Result<()> {
        let nanos = u64::try_from(ts.0)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp before 1970"))?;
        let original_len = u32::try_from(packet.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(nanos),
            original_len,
            data: Cow::Borrowed(packet),
            options: Vec::new(),
        };
        self.inner
            .write_block(&Block::EnhancedPacket(epb))
            .map_err(io_err)?;
        Ok(())
    }

    /// Builds an IPv4 or IPv6 packet holding one TCP segment and writes it.
    #[allow(clippy::too_many_arguments)]
    pub fn write_tcp_segment(
        &mut self,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) -> io::Result<()> {
        let packet = build_tcp_packet(src, dst, seq, ack, flags, payload)?;
        self.write_ip_packet(ts, &packet)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.get_mut().flush()
    }

    pub fn get_ref(&self) -> &W {
        self.inner.get_ref()
    }

    pub fn into_inner(self) -> W {
        self.inner.into_inner()
    }
}

/// An IP packet with one TCP segment, checksums filled in.
pub fn build_tcp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: &[u8],
) -> io::Result<Vec<u8>> {
    let ip = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            PacketBuilder::ipv4(s.ip().octets(), d.ip().octets(), 64)
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            PacketBuilder::ipv6(s.ip().octets(), d.ip().octets(), 64)
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{src} and {dst} are not of the same IP version"),
            ))
        }
    };
    let mut tcp = ip.tcp(src.port(), dst.port(), seq, 65_535);
    if flags.syn {
        tcp = tcp.syn();
    }
    if flags.ack {
        tcp = tcp.ack(ack);
    }
    if flags.fin {
        tcp = tcp.fin();
    }
    if flags.rst {
        tcp = tcp.rst();
    }
    if flags.psh {
        tcp = tcp.psh();
    }
    let mut out = Vec::with_capacity(tcp.size(payload.len()));
    tcp.write(&mut out, payload)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    Ok(out)
}

/// Sequence-number bookkeeping for one recorded connection.
#[derive(Clone, Debug)]
pub struct TcpConversationWriter {
    device: SocketAddr,
    endpoint: SocketAddr,
    /// Next sequence number to send, by [`Direction::index`].
    next: [u32; 2],
}

impl TcpConversationWriter {
    /// A connection whose sides start at the given initial sequence numbers.
    pub fn new(
        device: SocketAddr,
        endpoint: SocketAddr,
        device_isn: u32,
        endpoint_isn: u32,
    ) -> TcpConversationWriter {
        TcpConversationWriter {
            device,
            endpoint,
            next: [device_isn, endpoint_isn],
        }
    }

    fn addrs(&self, dir: Direction) -> (SocketAddr, SocketAddr) {
        match dir {
            Direction::DeviceToEndpoint => (self.device, self.endpoint),
            Direction::EndpointToDevice => (self.endpoint, self.device),
        }
    }

    fn send<W: Write>(
        &mut self,
        w: &mut PcapngWriter<W>,
        ts: Timestamp,
        dir: Direction,
        flags: TcpFlags,
        payload: &[u8],
    ) -> io::Result<()> {
        let (src, dst) = self.addrs(dir);
        let (d, o) = (dir.index(), dir.reverse().index());
        w.write_tcp_segment(ts, src, dst, self.next[d], self.next[o], flags, payload)?;
        let used = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        self.next[d] = self.next[d].wrapping_add(used);
        Ok(())
    }

    /// The three-way handshake: SYN, SYN-ACK, ACK.
    pub fn open<W: Write>(&mut self, w: &mut PcapngWriter<W>, ts: Timestamp) -> io::Result<()> {
        let (src, dst) = self.addrs(Direction::DeviceToEndpoint);
        w.write_tcp_segment(ts, src, dst, self.next[0], 0, TcpFlags::SYN, &[])?;
        self.next[0] = self.next[0].wrapping_add(1);
        self.send(w, ts, Direction::EndpointToDevice, TcpFlags::SYN_ACK, &[])?;
        self.send(w, ts, Direction::DeviceToEndpoint, TcpFlags::ACK, &[])
    }

    /// Bytes sent one way, in segments of at most [`MAX_SEGMENT`].
    pub fn data<W: Write>(
        &mut self,
        w: &mut PcapngWriter<W>,
        ts: Timestamp,
        dir: Direction,
        bytes: &[u8],
    ) -> io::Result<()> {
        for chunk in bytes.chunks(MAX_SEGMENT) {
            self.send(w, ts, dir, TcpFlags::PSH_ACK, chunk)?;
        }
        Ok(())
    }

    /// Bytes the sender sent that the recorder never saw: the sequence number moves on, so a
    /// reader of the file finds a gap of that size instead of bytes silently missing.
    pub fn skip(&mut self, dir: Direction, bytes: u64) {
        let d = dir.index();
        self.next[d] = self.next[d].wrapping_add(bytes as u32);
    }

    /// The sender closes its half.
    pub fn fin<W: Write>(
        &mut self,
        w: &mut PcapngWriter<W>,
        ts: Timestamp,
        dir: Direction,
    ) -> io::Result<()> {
        self.send(w, ts, dir, TcpFlags::FIN_ACK, &[])
    }

    /// The sender resets the connection.
    pub fn rst<W: Write>(
        &mut self,
        w: &mut PcapngWriter<W>,
        ts: Timestamp,
        dir: Direction,
    ) -> io::Result<()> {
        self.send(w, ts, dir, TcpFlags::RST_ACK, &[])
    }
}

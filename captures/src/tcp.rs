//! One TCP segment read from its header: ports, sequence numbers, flags and payload.
//!
//! Checksums are not verified: captures taken on the sending host routinely hold
//! segments whose checksum the network card fills in later.

use std::net::{IpAddr, SocketAddr};

use etherparse::err::tcp::HeaderSliceError;
use etherparse::TcpSlice;

/// The TCP flags this crate acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

impl TcpFlags {
    pub const SYN: TcpFlags = TcpFlags {
        syn: true,
        ack: false,
        fin: false,
        rst: false,
        psh: false,
    };
    pub const SYN_ACK: TcpFlags = TcpFlags {
        syn: true,
        ack: true,
        fin: false,
        rst: false,
        psh: false,
    };
    pub const ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
        psh: false,
    };
    pub const PSH_ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
        psh: true,
    };
    pub const FIN_ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: true,
        rst: false,
        psh: false,
    };
    pub const RST_ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: false,
        rst: true,
        psh: false,
    };
    pub const RST: TcpFlags = TcpFlags {
        syn: false,
        ack: false,
        fin: false,
        rst: true,
        psh: false,
    };
}

/// A TCP segment with owned or borrowed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
    /// Payload bytes after `payload` that the capture did not keep.
    pub lost: usize,
}

/// Reads the TCP header at the start of `segment`.
pub fn parse_segment(
    src: IpAddr,
    dst: IpAddr,
    segment: &[u8],
    lost: usize,
) -> Result<Segment<'_>, HeaderSliceError> {
    let tcp = TcpSlice::from_slice(segment)?;
    Ok(Segment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        },
        payload: tcp.payload(),
        lost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_short_header() {
        let mut seg = vec![0u8; 20];
        seg[0..2].copy_from_slice(&40000u16.to_be_bytes());
        seg[2..4].copy_from_slice(&8883u16.to_be_bytes());
        seg[4..8].copy_from_slice(&7u32.to_be_bytes());
        seg[8..12].copy_from_slice(&9u32.to_be_bytes());
        seg[12] = 5 << 4;
        seg[13] = 0x12; // SYN + ACK
        seg.extend_from_slice(b"xy");
        let ip: IpAddr = [127, 0, 0, 1].into();
        let s = parse_segment(ip, ip, &seg, 3).unwrap();
        assert_eq!(s.src.port(), 40000);
        assert_eq!(s.dst.port(), 8883);
        assert_eq!((s.seq, s.ack), (7, 9));
        assert_eq!(s.flags, TcpFlags::SYN_ACK);
        assert_eq!(s.payload, b"xy");
        assert_eq!(s.lost, 3);
        assert!(parse_segment(ip, ip, &seg[..19], 0).is_err());
    }
}

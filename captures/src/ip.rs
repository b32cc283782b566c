//! The IP layer: addresses, the TCP segment inside, and IP fragments put back together.
//!
//! IPv4 and IPv6 (extension headers included) are sliced with etherparse, leniently: a
//! frame cut short by the snap length still yields its addresses, its TCP header and the
//! payload bytes that were captured, plus how many were lost. Fragmented datagrams carrying
//! TCP are reassembled with etherparse's per-datagram buffer in a pool of our own, because
//! etherparse's pool has no bound: here at most [`MAX_DATAGRAMS`] wait at once, and a datagram
//! whose fragments do not all arrive within [`FRAGMENT_TIMEOUT_NS`] of capture time is
//! dropped and reported.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber, Ipv6ExtensionSlice, LaxIpSlice};
use iotscope_decoder::Timestamp;

/// Datagrams being reassembled at once; each holds at most 64 KiB.
pub const MAX_DATAGRAMS: usize = 256;
/// How long (capture time) the fragments of one datagram may take to arrive.
pub const FRAGMENT_TIMEOUT_NS: i64 = 30_000_000_000;

/// What one IP packet turned out to hold.
#[derive(Debug, PartialEq, Eq)]
pub enum IpPayload<'a> {
    /// A TCP segment (header and payload), whole or reassembled from fragments.
    Tcp {
        src: IpAddr,
        dst: IpAddr,
        segment: Cow<'a, [u8]>,
        /// Bytes at the end of the segment that the capture did not keep.
        lost: usize,
    },
    /// Another transport protocol, by IP protocol number.
    Other(u8),
    /// A fragment was stored; the datagram is not complete yet.
    FragmentHeld,
    /// The packet could not be read; the message says why.
    Malformed(String),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct DatagramKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
}

struct Datagram {
    buf: IpDefragBuf,
    first_ts: Timestamp,
    /// Frame number of the first fragment, for reports.
    first_packet: u64,
}

/// IP slicing and fragment reassembly state, shared by all flows.
#[derive(Default)]
pub struct IpLayer {
    pending: HashMap<DatagramKey, Datagram>,
    /// Reports for the caller: (frame number, message).
    warnings: Vec<(u64, String)>,
    pub(crate) reassembled: u64,
}

impl IpLayer {
    pub fn new() -> IpLayer {
        IpLayer::default()
    }

    /// Reports gathered since the last call: (frame number, message).
    pub fn take_warnings(&mut self) -> Vec<(u64, String)> {
        std::mem::take(&mut self.warnings)
    }

    /// Datagrams currently waiting for fragments.
    pub fn pending_datagrams(&self) -> usize {
        self.pending.len()
    }

    /// Reads one IP packet captured at `ts` as frame `number`.
    pub fn packet<'a>(&mut self, ip: &'a [u8], ts: Timestamp, number: u64) -> IpPayload<'a> {
        let (slice, _ext_error) = match LaxIpSlice::from_slice(ip) {
            Ok(s) => s,
            Err(e) => return IpPayload::Malformed(format!("bad IP header: {e}")),
        };
        let src = slice.source_addr();
        let dst = slice.destination_addr();
        let payload = slice.payload();
        if payload.ip_number != IpNumber::TCP {
            return IpPayload::Other(payload.ip_number.0);
        }
        let lost = if payload.incomplete {
            declared_len(&slice).saturating_sub(ip.len())
        } else {
            0
        };
        if !payload.fragmented {
            return IpPayload::Tcp {
                src,
                dst,
                segment: Cow::Borrowed(payload.payload),
                lost,
            };
        }
        let (id, offset, more) = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    u32::from(h.identification()),
                    h.fragments_offset(),
                    h.more_fragments(),
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
                let Some(f) = frag else {
                    return IpPayload::Malformed("IPv6 fragment without a fragment header".into());
                };
                (f.identification(), f.fragment_offset(), f.more_fragments())
            }
        };
        if lost > 0 {
            self.warnings.push((
                number,
                format!("IP fragment from {src} to {dst} was cut short by the capture ({lost} bytes missing); its datagram cannot be reassembled"),
            ));
            return IpPayload::FragmentHeld;
        }
        let key = DatagramKey { src, dst, id };
        self.add_fragment(key, offset, more, payload.payload, ts, number)
            .map_or(IpPayload::FragmentHeld, |segment| IpPayload::Tcp {
                src,
                dst,
                segment: Cow::Owned(segment),
                lost: 0,
            })
    }

    fn add_fragment(
        &mut self,
        key: DatagramKey,
        offset: IpFragOffset,
        more: bool,
        data: &[u8],
        ts: Timestamp,
        number: u64,
    ) -> Option<Vec<u8>> {
        self.expire(ts);
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_DATAGRAMS {
            self.evict_oldest();
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Datagram {
            buf: IpDefragBuf::new(IpNumber::TCP, Vec::new(), Vec::new()),
            first_ts: ts,
            first_packet: number,
        });
        if let Err(e) = entry.buf.add(offset, more, data) {
            self.pending.remove(&key);
            self.warnings.push((
                number,
                format!(
                    "IP fragments from {} to {} (id {:#x}) do not fit together ({e}); the datagram is dropped",
                    key.src, key.dst, key.id
                ),
            ));
            return None;
        }
        if !entry.buf.is_complete() {
            return None;
        }
        let done = self.pending.remove(&key)?;
        self.reassembled += 1;
        Some(done.buf.take_bufs().0)
    }

    /// Drops datagrams whose fragments took longer than the timeout, as of capture time `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let mut late: Vec<(DatagramKey, u64, usize)> = self
            .pending
            .iter()
            .filter(|(_, d)| now.0.saturating_sub(d.first_ts.0) > FRAGMENT_TIMEOUT_NS)
            .map(|(k, d)| (k.clone(), d.first_packet, d.buf.data().len()))
            .collect();
        late.sort_by_key(|(_, first, _)| *first);
        for (key, first, held) in late {
            self.pending.remove(&key);
            self.warnings.push((
                first,
                format!(
                    "IP datagram from {} to {} (id {:#x}) was never completed within {} s; {held} bytes of its fragments are dropped",
                    key.src,
                    key.dst,
                    key.id,
                    FRAGMENT_TIMEOUT_NS / 1_000_000_000
                ),
            ));
        }
    }

    /// Reports every datagram still incomplete (end of capture).
    pub fn finish(&mut self) {
        self.expire(Timestamp(i64::MAX));
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, d)| (d.first_ts, d.first_packet))
            .map(|(k, d)| (k.clone(), d.first_packet));
        if let Some((key, first)) = oldest {
            self.pending.remove(&key);
            self.warnings.push((
                first,
                format!(
                    "IP datagram from {} to {} (id {:#x}) dropped unfinished: more than {MAX_DATAGRAMS} datagrams were waiting for fragments",
                    key.src, key.dst, key.id
                ),
            ));
        }
    }
}

/// The length of the whole IP packet according to its header.
fn declared_len(slice: &LaxIpSlice) -> usize {
    match slice {
        LaxIpSlice::Ipv4(v4) => usize::from(v4.header().total_len()),
        LaxIpSlice::Ipv6(v6) => 40 + usize::from(v6.header().payload_length()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 8883, 1, 1000)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn whole_segment_and_truncated_segment() {
        let pkt = tcp_v4(b"hello world");
        let mut ip = IpLayer::new();
        match ip.packet(&pkt, Timestamp(0), 1) {
            IpPayload::Tcp { segment, lost, .. } => {
                assert_eq!(&segment[20..], b"hello world");
                assert_eq!(lost, 0);
            }
            other => panic!("{other:?}"),
        }
        match ip.packet(&pkt[..pkt.len() - 4], Timestamp(0), 2) {
            IpPayload::Tcp { segment, lost, .. } => {
                assert_eq!(&segment[20..], b"hello w");
                assert_eq!(lost, 4);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A TCP segment over IPv6 split into two fragments, the second sent first.
    #[test]
    fn ipv6_fragments_are_reassembled() {
        let mut whole = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 443, 1, 1000)
            .write(&mut whole, &[7u8; 100])
            .unwrap();
        let segment = &whole[40..];
        let fragment = |offset: usize, data: &[u8], more: bool| {
            let mut p = whole[..40].to_vec();
            p[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
            p[6] = 44; // next header: fragment
            let flags = ((offset / 8) as u16) << 3 | u16::from(more);
            p.extend_from_slice(&[6, 0]);
            p.extend_from_slice(&flags.to_be_bytes());
            p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            p.extend_from_slice(data);
            p
        };
        let first = fragment(0, &segment[..64], true);
        let second = fragment(64, &segment[64..], false);
        let mut ip = IpLayer::new();
        assert_eq!(ip.packet(&second, Timestamp(0), 1), IpPayload::FragmentHeld);
        assert_eq!(ip.pending_datagrams(), 1);
        match ip.packet(&first, Timestamp(1), 2) {
            IpPayload::Tcp {
                segment: s, lost, ..
            } => {
                assert_eq!(&s[..], segment);
                assert_eq!(lost, 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ip.pending_datagrams(), 0);
    }

    #[test]
    fn fragment_pool_is_bounded() {
        let mut ip = IpLayer::new();
        for id in 0..(MAX_DATAGRAMS as u16 + 5) {
            let mut p = tcp_v4(&[0u8; 60]); // 80 bytes: a multiple of 8
            p[4..6].copy_from_slice(&id.to_be_bytes());
            p[6] = 0x20; // more fragments, offset 0
            assert_eq!(
                ip.packet(&p, Timestamp(0), u64::from(id)),
                IpPayload::FragmentHeld
            );
        }
        assert_eq!(ip.pending_datagrams(), MAX_DATAGRAMS);
        let warnings = ip.take_warnings();
        assert_eq!(warnings.len(), 5);
        assert!(
            warnings[0].1.contains("more than 256 datagrams"),
            "{}",
            warnings[0].1
        );
        ip.expire(Timestamp(FRAGMENT_TIMEOUT_NS + 1));
        assert_eq!(ip.pending_datagrams(), 0);
        assert_eq!(ip.take_warnings().len(), MAX_DATAGRAMS);
    }

    #[test]
    fn udp_is_other() {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(53, 53)
            .write(&mut out, b"x")
            .unwrap();
        assert_eq!(
            IpLayer::new().packet(&out, Timestamp(0), 1),
            IpPayload::Other(17)
        );
        assert!(matches!(
            IpLayer::new().packet(&[0x45, 0], Timestamp(0), 1),
            IpPayload::Malformed(_)
        ));
    }
}

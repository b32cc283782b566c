//! pcapng block bodies: sections, interfaces with their own clocks, packets, embedded keys.
//!
//! pcap-file 2.0's typed pcapng parsers are not used for reading, for three reasons found
//! in its source and on real files: an Enhanced Packet Block's timestamp is taken as
//! nanoseconds whatever the interface's `if_tsresol` says (10⁻⁶ s when absent); any option
//! list without an end-of-options marker, and any comment that is not UTF-8, makes the whole
//! block fail, where Wireshark reads the file; and there is no Decryption Secrets Block type.
//! The bodies are small, so they are read here, leniently: options are walked only for
//! `if_tsresol` and `if_tsoffset`, and an option list that runs off its block just ends.
//! (pcap-file still writes our pcapng files, see [`crate::writer`].)

use iotscope_decoder::Timestamp;

pub const SECTION_HEADER_BLOCK: u32 = 0x0a0d_0d0a;
pub const INTERFACE_DESCRIPTION_BLOCK: u32 = 0x0000_0001;
pub const PACKET_BLOCK: u32 = 0x0000_0002;
pub const SIMPLE_PACKET_BLOCK: u32 = 0x0000_0003;
pub const ENHANCED_PACKET_BLOCK: u32 = 0x0000_0006;
/// Block type of a Decryption Secrets Block.
pub const DECRYPTION_SECRETS_BLOCK: u32 = 0x0000_000a;
/// Secrets type of a TLS key log ("TLSK").
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Reads a u32 at `at` in the section's byte order; `None` past the end.
pub(crate) fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}

fn u16_at(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let w: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(w)
    } else {
        u16::from_le_bytes(w)
    })
}

fn u64_at(b: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let w: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big_endian {
        u64::from_be_bytes(w)
    } else {
        u64::from_le_bytes(w)
    })
}

/// The name of a block type, for messages.
pub(crate) fn block_name(kind: u32) -> String {
    match kind {
        SECTION_HEADER_BLOCK => "Section Header Block".into(),
        INTERFACE_DESCRIPTION_BLOCK => "Interface Description Block".into(),
        PACKET_BLOCK => "Packet Block".into(),
        SIMPLE_PACKET_BLOCK => "Simple Packet Block".into(),
        ENHANCED_PACKET_BLOCK => "Enhanced Packet Block".into(),
        DECRYPTION_SECRETS_BLOCK => "Decryption Secrets Block".into(),
        other => format!("block of type {other:#010x}"),
    }
}

/// One interface of the current section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Interface {
    pub linktype: u32,
    pub snaplen: u32,
    /// Raw `if_tsresol`: high bit clear → 10^-n s, set → 2^-n s.
    pub tsresol: u8,
    /// `if_tsoffset`, seconds added to every timestamp.
    pub tsoffset: i64,
}

/// What does not hold together in a pcapng block's body; the reader adds the block's offset
/// and number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BlockError {
    #[error("Interface Description Block body of {0} bytes is shorter than 8")]
    InterfaceTooShort(usize),
    #[error("{block} body of {len} bytes is too short")]
    PacketTooShort { block: String, len: usize },
    #[error("{block} says {caplen} captured bytes but holds {holds}")]
    CapturedBeyondBlock {
        block: String,
        caplen: u32,
        holds: usize,
    },
    #[error("Decryption Secrets Block body is {0} bytes, shorter than its 8-byte header")]
    SecretsTooShort(usize),
    #[error("Decryption Secrets Block says {len} bytes of secrets but holds {holds}")]
    SecretsBeyondBlock { len: u32, holds: usize },
    #[error("Section Header Block has no valid byte-order magic")]
    NoByteOrderMagic,
    #[error("pcapng major version {0} is not supported (only 1)")]
    UnsupportedVersion(u16),
    #[error("Section Header Block is too short")]
    SectionTooShort,
}

impl Interface {
    /// Reads an Interface Description Block body.
    pub(crate) fn parse(body: &[u8], big_endian: bool) -> Result<Interface, BlockError> {
        let (Some(linktype), Some(snaplen)) =
            (u16_at(body, 0, big_endian), u32_at(body, 4, big_endian))
        else {
            return Err(BlockError::InterfaceTooShort(body.len()));
        };
        let mut iface = Interface {
            linktype: u32::from(linktype),
            snaplen,
            tsresol: 6,
            tsoffset: 0,
        };
        for (code, value) in Options::new(body.get(8..).unwrap_or_default(), big_endian) {
            match (code, value.len()) {
                (9, 1) => iface.tsresol = value[0],
                // The spec now calls the field signed; old writers only ever wrote small
                // positive values, so reading it as i64 changes nothing for them.
                (14, 8) => {
                    iface.tsoffset = u64_at(value, 0, big_endian).unwrap_or(0) as i64;
                }
                _ => {}
            }
        }
        Ok(iface)
    }

    /// Turns a raw 64-bit count of this interface's units into a timestamp.
    pub(crate) fn timestamp(&self, raw: u64) -> Timestamp {
        let nanos = units_to_nanos(raw, self.tsresol)
            .saturating_add(i128::from(self.tsoffset) * 1_000_000_000);
        Timestamp(nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }
}

/// Walks an option list: (code, value) until end-of-options or the end of the bytes.
struct Options<'a> {
    rest: &'a [u8],
    big_endian: bool,
}

impl<'a> Options<'a> {
    fn new(rest: &'a [u8], big_endian: bool) -> Options<'a> {
        Options { rest, big_endian }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = u16_at(self.rest, 0, self.big_endian)?;
        let len = usize::from(u16_at(self.rest, 2, self.big_endian)?);
        if code == 0 {
            return None;
        }
        let value = self.rest.get(4..4 + len)?;
        let padded = 4 + len.next_multiple_of(4);
        self.rest = self.rest.get(padded..).unwrap_or_default();
        Some((code, value))
    }
}

/// Whole nanoseconds in `raw` units of the given `if_tsresol` (fractions are cut, as
/// Wireshark does).
pub(crate) fn units_to_nanos(raw: u64, tsresol: u8) -> i128 {
    let raw = i128::from(raw);
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        if exp <= 9 {
            raw * 10i128.pow(9 - exp)
        } else {
            match 10i128.checked_pow(exp - 9) {
                Some(div) => raw / div,
                None => 0,
            }
        }
    } else {
        // raw < 2^64 and 10^9 < 2^30, so the product fits; exp ≤ 127 keeps the shift legal.
        (raw * 1_000_000_000) >> exp
    }
}

/// A packet read from an Enhanced, Simple or (obsolete) Packet Block.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BlockPacket<'a> {
    pub interface: u32,
    /// Raw timestamp in the interface's units; `None` for a Simple Packet Block.
    pub raw_ts: Option<u64>,
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// Reads the body of a packet block of type `kind`. A Simple Packet Block's data still runs
/// to the end of the block (padding included): the caller cuts it to the snap length.
pub(crate) fn packet(
    kind: u32,
    body: &[u8],
    big_endian: bool,
) -> Result<BlockPacket<'_>, BlockError> {
    let short = || BlockError::PacketTooShort {
        block: block_name(kind),
        len: body.len(),
    };
    if kind == SIMPLE_PACKET_BLOCK {
        let orig_len = u32_at(body, 0, big_endian).ok_or_else(short)?;
        return Ok(BlockPacket {
            interface: 0,
            raw_ts: None,
            orig_len,
            data: body.get(4..).unwrap_or_default(),
        });
    }
    let (interface, ts_at) = if kind == PACKET_BLOCK {
        (u32::from(u16_at(body, 0, big_endian).ok_or_else(short)?), 4)
    } else {
        (u32_at(body, 0, big_endian).ok_or_else(short)?, 4)
    };
    let (Some(high), Some(low), Some(caplen), Some(orig_len)) = (
        u32_at(body, ts_at, big_endian),
        u32_at(body, ts_at + 4, big_endian),
        u32_at(body, ts_at + 8, big_endian),
        u32_at(body, ts_at + 12, big_endian),
    ) else {
        return Err(short());
    };
    let start = ts_at + 16;
    let data = body
        .get(start..start.saturating_add(caplen as usize))
        .ok_or_else(|| BlockError::CapturedBeyondBlock {
            block: block_name(kind),
            caplen,
            holds: body.len().saturating_sub(start),
        })?;
    Ok(BlockPacket {
        interface,
        raw_ts: Some((u64::from(high) << 32) | u64::from(low)),
        orig_len,
        data,
    })
}

/// The payload of a TLS key-log Decryption Secrets Block, `Ok(None)` for other secret
/// types, `Err` naming what is wrong when the body does not hold together.
pub(crate) fn dsb_tls_keys(body: &[u8], big_endian: bool) -> Result<Option<&[u8]>, BlockError> {
    let (Some(kind), Some(len)) = (u32_at(body, 0, big_endian), u32_at(body, 4, big_endian)) else {
        return Err(BlockError::SecretsTooShort(body.len()));
    };
    let data = body.get(8..).and_then(|rest| rest.get(..len as usize));
    match data {
        None => Err(BlockError::SecretsBeyondBlock {
            len,
            holds: body.len().saturating_sub(8),
        }),
        Some(d) if kind == SECRETS_TLS_KEY_LOG => Ok(Some(d)),
        Some(_) => Ok(None),
    }
}

/// The byte order a Section Header Block body declares, and its major version.
pub(crate) fn section(body: &[u8]) -> Result<bool, BlockError> {
    let big_endian = match body.get(..4) {
        Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
        Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
        _ => return Err(BlockError::NoByteOrderMagic),
    };
    match u16_at(body, 4, big_endian) {
        Some(1) => Ok(big_endian),
        Some(v) => Err(BlockError::UnsupportedVersion(v)),
        None => Err(BlockError::SectionTooShort),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_resolutions() {
        assert_eq!(units_to_nanos(1_500_000, 6), 1_500_000_000);
        assert_eq!(units_to_nanos(7, 9), 7);
        assert_eq!(units_to_nanos(3, 0), 3_000_000_000);
        assert_eq!(units_to_nanos(123_456_789_012, 12), 123_456_789);
        // 2^-20 s units: 2^20 of them are one second.
        assert_eq!(units_to_nanos(1 << 20, 0x80 | 20), 1_000_000_000);
        assert_eq!(units_to_nanos(1, 0x80 | 1), 500_000_000);
        assert_eq!(units_to_nanos(u64::MAX, 0x7f), 0);
        assert_eq!(units_to_nanos(u64::MAX, 0xff), 0);
    }

    #[test]
    fn offset_is_added_in_seconds() {
        let iface = Interface {
            linktype: 1,
            snaplen: 0,
            tsresol: 3,
            tsoffset: 100,
        };
        assert_eq!(iface.timestamp(2_500), Timestamp(102_500_000_000));
    }

    #[test]
    fn interface_options_without_end_marker() {
        // linktype 1, snaplen 0, if_name "eth0", if_tsresol 9, no opt_endofopt
        let body = [
            1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 4, 0, b'e', b't', b'h', b'0', 9, 0, 1, 0, 9, 0, 0, 0,
        ];
        let iface = Interface::parse(&body, false).unwrap();
        assert_eq!((iface.linktype, iface.tsresol), (1, 9));
        // an option whose length runs off the block just ends the list
        let body = [1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0, 3];
        assert_eq!(Interface::parse(&body, false).unwrap().tsresol, 6);
        assert!(Interface::parse(&body[..5], false).is_err());
    }

    #[test]
    fn packet_bodies() {
        let mut epb = Vec::new();
        for w in [2u32, 1, 5, 3, 60] {
            epb.extend_from_slice(&w.to_be_bytes());
        }
        epb.extend_from_slice(b"abc\0");
        let p = packet(ENHANCED_PACKET_BLOCK, &epb, true).unwrap();
        assert_eq!(
            p,
            BlockPacket {
                interface: 2,
                raw_ts: Some((1 << 32) | 5),
                orig_len: 60,
                data: b"abc"
            }
        );
        epb[15] = 9;
        assert!(packet(ENHANCED_PACKET_BLOCK, &epb, true)
            .unwrap_err()
            .to_string()
            .contains("says 9 captured bytes"));
        assert!(packet(SIMPLE_PACKET_BLOCK, &[1, 2], false).is_err());
    }

    #[test]
    fn dsb_bodies() {
        let mut body = Vec::new();
        body.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"abc\0");
        assert_eq!(dsb_tls_keys(&body, false), Ok(Some(&b"abc"[..])));
        body[4] = 9;
        assert_eq!(
            dsb_tls_keys(&body, false),
            Err(BlockError::SecretsBeyondBlock { len: 9, holds: 4 })
        );
        assert!(dsb_tls_keys(&body[..5], false).is_err());
        let wireguard = [0x57, 0x47, 0x4b, 0x4c, 0, 0, 0, 0];
        assert_eq!(dsb_tls_keys(&wireguard, true), Ok(None));
    }

    #[test]
    fn section_headers() {
        assert_eq!(section(&[0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0]), Ok(true));
        assert_eq!(section(&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]), Ok(false));
        let err = section(&[0x4d, 0x3c, 0x2b, 0x1a, 2, 0, 0, 0]).unwrap_err();
        assert_eq!(err, BlockError::UnsupportedVersion(2));
        assert!(err.to_string().contains("version 2"));
        assert!(section(&[1, 2, 3, 4]).is_err());
    }
}

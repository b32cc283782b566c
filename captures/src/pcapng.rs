//! What pcapng adds over pcap: interfaces with their own clocks, and embedded TLS keys.
//!
//! pcap-file 2.0 hands every Enhanced Packet Block timestamp over as if it counted
//! nanoseconds, whatever the interface declared. The real unit is the interface's
//! `if_tsresol` (10⁻⁶ s when absent), and `if_tsoffset` seconds are added on top. This module
//! keeps each interface's unit and offset and turns raw counts into [`Timestamp`]s.
//! pcap-file also has no Decryption Secrets Block type (the block arrives as unknown), so its
//! body is read here.

use iotscope_decoder::Timestamp;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::Endianness;

/// Block type of a Decryption Secrets Block.
pub const DECRYPTION_SECRETS_BLOCK: u32 = 0x0000_000A;
/// Secrets type of a TLS key log ("TLSK").
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

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

impl Interface {
    pub(crate) fn from_idb(idb: &InterfaceDescriptionBlock) -> Interface {
        let mut iface = Interface {
            linktype: u32::from(idb.linktype),
            snaplen: idb.snaplen,
            tsresol: 6,
            tsoffset: 0,
        };
        for opt in &idb.options {
            match opt {
                InterfaceDescriptionOption::IfTsResol(r) => iface.tsresol = *r,
                // The spec now calls the field signed; old writers only ever wrote small
                // positive values, so reading it as i64 changes nothing for them.
                InterfaceDescriptionOption::IfTsOffset(o) => iface.tsoffset = *o as i64,
                _ => {}
            }
        }
        iface
    }

    /// Turns a raw 64-bit count of this interface's units into a timestamp.
    pub(crate) fn timestamp(&self, raw: u64) -> Timestamp {
        let nanos = units_to_nanos(raw, self.tsresol)
            .saturating_add(i128::from(self.tsoffset) * 1_000_000_000);
        Timestamp(nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
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

/// The payload of a TLS key-log Decryption Secrets Block, `Ok(None)` for other secret
/// types, `Err` naming what is wrong when the body does not hold together.
pub(crate) fn dsb_tls_keys(body: &[u8], endianness: Endianness) -> Result<Option<&[u8]>, String> {
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
        Some(match endianness {
            Endianness::Big => u32::from_be_bytes(b),
            Endianness::Little => u32::from_le_bytes(b),
        })
    };
    let (Some(kind), Some(len)) = (word(0), word(4)) else {
        return Err(format!(
            "Decryption Secrets Block body is {} bytes, shorter than its 8-byte header",
            body.len()
        ));
    };
    let data = body.get(8..).and_then(|rest| rest.get(..len as usize));
    match data {
        None => Err(format!(
            "Decryption Secrets Block says {len} bytes of secrets but holds {}",
            body.len().saturating_sub(8)
        )),
        Some(d) if kind == SECRETS_TLS_KEY_LOG => Ok(Some(d)),
        Some(_) => Ok(None),
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
    fn dsb_bodies() {
        let mut body = Vec::new();
        body.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"abc\0");
        assert_eq!(
            dsb_tls_keys(&body, Endianness::Little),
            Ok(Some(&b"abc"[..]))
        );
        body[4] = 9;
        assert!(dsb_tls_keys(&body, Endianness::Little)
            .unwrap_err()
            .contains("says 9 bytes"));
        assert!(dsb_tls_keys(&body[..5], Endianness::Little).is_err());
        let wireguard = [0x57, 0x47, 0x4b, 0x4c, 0, 0, 0, 0];
        assert_eq!(dsb_tls_keys(&wireguard, Endianness::Big), Ok(None));
    }
}

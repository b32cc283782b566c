//! Link layers: from a captured frame to the IP packet it carries.
//!
//! Handled: Ethernet (with any stack of 802.1Q / 802.1ad / old QinQ tags), Linux cooked
//! capture v1 and v2, raw IP, and BSD loopback (NULL and LOOP, either byte order of the
//! address family, all three AF_INET6 values the BSDs use). etherparse slices Ethernet and
//! Linux SLL; it has no SLL2, so that 20-byte header is read here.

use etherparse::{Ethernet2Slice, LinuxSllPayloadSlice, LinuxSllProtocolType, LinuxSllSlice};

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LOOP: u32 = 108;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_IPV4: u32 = 228;
pub const LINKTYPE_IPV6: u32 = 229;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPayload<'a> {
    /// An IPv4 or IPv6 packet (possibly followed by link-layer padding).
    Ip(&'a [u8]),
    /// Something other than IP: ARP, LLDP, other address families …; named for counting.
    NotIp(&'static str),
}

/// Why a frame could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The capture uses a link type this crate does not read.
    Unsupported(u32),
    /// The frame is shorter than its link header.
    Truncated {
        linktype: u32,
        need: usize,
        have: usize,
    },
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Unsupported(lt) => {
                write!(
                    f,
                    "link type {lt} ({}) is not supported",
                    linktype_name(*lt)
                )
            }
            LinkError::Truncated {
                linktype,
                need,
                have,
            } => write!(
                f,
                "{} frame of {have} bytes is shorter than its {need}-byte header",
                linktype_name(*linktype)
            ),
        }
    }
}

/// Whether [`ip_payload`] reads this link type.
pub fn is_supported(linktype: u32) -> bool {
    matches!(
        linktype,
        LINKTYPE_NULL
            | LINKTYPE_ETHERNET
            | LINKTYPE_RAW
            | 12
            | 14
            | LINKTYPE_LOOP
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_IPV6
            | LINKTYPE_LINUX_SLL2
    )
}

/// A short name for a link type, for messages.
pub fn linktype_name(linktype: u32) -> &'static str {
    match linktype {
        LINKTYPE_NULL => "BSD loopback",
        LINKTYPE_ETHERNET => "Ethernet",
        LINKTYPE_RAW | 12 | 14 => "raw IP",
        LINKTYPE_LOOP => "OpenBSD loopback",
        LINKTYPE_LINUX_SLL => "Linux cooked capture",
        LINKTYPE_IPV4 => "raw IPv4",
        LINKTYPE_IPV6 => "raw IPv6",
        LINKTYPE_LINUX_SLL2 => "Linux cooked capture v2",
        105 => "IEEE 802.11",
        127 => "802.11 radiotap",
        147..=162 => "user-defined",
        _ => "unknown",
    }
}

/// The network-layer payload of one frame.
pub fn ip_payload(linktype: u32, frame: &[u8]) -> Result<LinkPayload<'_>, LinkError> {
    match linktype {
        LINKTYPE_ETHERNET => ethernet(frame),
        // 12 and 14 are the BSDs' own numbers for raw IP, found in some old files.
        LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => Ok(raw_ip(frame)),
        LINKTYPE_NULL | LINKTYPE_LOOP => loopback(linktype, frame),
        LINKTYPE_LINUX_SLL => sll(frame),
        LINKTYPE_LINUX_SLL2 => sll2(frame),
        other => Err(LinkError::Unsupported(other)),
    }
}

fn truncated(linktype: u32, need: usize, have: usize) -> LinkError {
    LinkError::Truncated {
        linktype,
        need,
        have,
    }
}

fn ethernet(frame: &[u8]) -> Result<LinkPayload<'_>, LinkError> {
    let eth = Ethernet2Slice::from_slice_without_fcs(frame)
        .map_err(|_| truncated(LINKTYPE_ETHERNET, 14, frame.len()))?;
    let mut ether_type = eth.ether_type().0;
    let mut rest = eth.payload_slice();
    let mut header = 14;
    // Each tag is 2 bytes of TCI then the next EtherType; any depth is walked.
    while matches!(
        ether_type,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        header += 4;
        let Some(tag) = rest.get(..4) else {
            return Err(truncated(LINKTYPE_ETHERNET, header, frame.len()));
        };
        ether_type = u16::from_be_bytes([tag[2], tag[3]]);
        rest = &rest[4..];
    }
    Ok(by_ether_type(ether_type, rest))
}

fn by_ether_type(ether_type: u16, rest: &[u8]) -> LinkPayload<'_> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => LinkPayload::Ip(rest),
        0x0806 => LinkPayload::NotIp("ARP"),
        0x88cc => LinkPayload::NotIp("LLDP"),
        t if t <= 1500 => LinkPayload::NotIp("802.3 frame"),
        _ => LinkPayload::NotIp("other EtherType"),
    }
}

fn raw_ip(frame: &[u8]) -> LinkPayload<'_> {
    match frame.first().map(|b| b >> 4) {
        Some(4) | Some(6) => LinkPayload::Ip(frame),
        _ => LinkPayload::NotIp("raw frame that is not IPv4 or IPv6"),
    }
}

fn loopback(linktype: u32, frame: &[u8]) -> Result<LinkPayload<'_>, LinkError> {
    let Some(family) = frame.get(..4) else {
        return Err(truncated(linktype, 4, frame.len()));
    };
    let family: [u8; 4] = [family[0], family[1], family[2], family[3]];
    let rest = &frame[4..];
    // NULL stores the family in the capturing host's byte order, LOOP in network order;
    // writers get this wrong, so both orders are accepted for both.
    let is = |values: &[u32]| {
        values.contains(&u32::from_le_bytes(family)) || values.contains(&u32::from_be_bytes(family))
    };
    // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
    if is(&[2, 24, 28, 30]) {
        Ok(LinkPayload::Ip(rest))
    } else {
        Ok(LinkPayload::NotIp(
            "loopback frame of another address family",
        ))
    }
}

fn sll(frame: &[u8]) -> Result<LinkPayload<'_>, LinkError> {
    let s = match LinuxSllSlice::from_slice(frame) {
        Ok(s) => s,
        Err(etherparse::err::linux_sll::HeaderSliceError::Len(_)) => {
            return Err(truncated(LINKTYPE_LINUX_SLL, 16, frame.len()))
        }
        Err(etherparse::err::linux_sll::HeaderSliceError::Content(_)) => {
            return Ok(LinkPayload::NotIp(
                "Linux cooked frame of an unsupported hardware type",
            ))
        }
    };
    let LinuxSllPayloadSlice {
        protocol_type,
        payload,
    } = s.payload();
    Ok(match protocol_type {
        LinuxSllProtocolType::EtherType(t) => by_ether_type(t.0, payload),
        _ => LinkPayload::NotIp("Linux cooked frame that is not Ethernet-typed"),
    })
}

fn sll2(frame: &[u8]) -> Result<LinkPayload<'_>, LinkError> {
    // protocol (2), reserved (2), interface index (4), ARPHRD (2), packet type (1),
    // address length (1), address (8).
    let (Some(proto), Some(rest)) = (frame.get(..2), frame.get(20..)) else {
        return Err(truncated(LINKTYPE_LINUX_SLL2, 20, frame.len()));
    };
    Ok(by_ether_type(
        u16::from_be_bytes([proto[0], proto[1]]),
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [0x45, 0, 0, 20];

    fn eth(ether_types: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in ether_types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < ether_types.len() {
                f.extend_from_slice(&[0x00, 0x0a]); // TCI
            }
        }
        f.extend_from_slice(&IP);
        f
    }

    #[test]
    fn ethernet_with_tag_stacks() {
        for types in [
            vec![0x0800],
            vec![0x8100, 0x0800],
            vec![0x88a8, 0x8100, 0x0800],
            vec![0x9100, 0x8100, 0x0800],
        ] {
            assert_eq!(
                ip_payload(1, &eth(&types)),
                Ok(LinkPayload::Ip(&IP[..])),
                "{types:x?}"
            );
        }
        assert_eq!(
            ip_payload(1, &eth(&[0x0806])),
            Ok(LinkPayload::NotIp("ARP"))
        );
        let mut cut = eth(&[0x8100, 0x0800]);
        cut.truncate(15);
        assert_eq!(
            ip_payload(1, &cut),
            Err(LinkError::Truncated {
                linktype: 1,
                need: 18,
                have: 15
            })
        );
    }

    #[test]
    fn loopback_families_in_both_orders() {
        for family in [
            2u32.to_le_bytes(),
            2u32.to_be_bytes(),
            24u32.to_le_bytes(),
            28u32.to_be_bytes(),
            30u32.to_le_bytes(),
        ] {
            let mut f = family.to_vec();
            f.extend_from_slice(&IP);
            assert_eq!(ip_payload(0, &f), Ok(LinkPayload::Ip(&IP[..])));
            assert_eq!(ip_payload(108, &f), Ok(LinkPayload::Ip(&IP[..])));
        }
        let mut f = 7u32.to_le_bytes().to_vec();
        f.extend_from_slice(&IP);
        assert!(matches!(ip_payload(0, &f), Ok(LinkPayload::NotIp(_))));
        assert!(matches!(
            ip_payload(0, &[2, 0]),
            Err(LinkError::Truncated { .. })
        ));
    }

    #[test]
    fn cooked_captures() {
        let mut v1 = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        v1.extend_from_slice(&IP);
        assert_eq!(ip_payload(113, &v1), Ok(LinkPayload::Ip(&IP[..])));
        let mut v2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        v2.extend_from_slice(&IP);
        assert_eq!(ip_payload(276, &v2), Ok(LinkPayload::Ip(&IP[..])));
        assert!(matches!(
            ip_payload(276, &v2[..19]),
            Err(LinkError::Truncated { .. })
        ));
    }

    #[test]
    fn unsupported_is_named() {
        let e = ip_payload(147, &[1, 2, 3]).unwrap_err();
        assert_eq!(e, LinkError::Unsupported(147));
        assert_eq!(
            e.to_string(),
            "link type 147 (user-defined) is not supported"
        );
    }
}

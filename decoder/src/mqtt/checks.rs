//! Spec rules that sit outside any one field: the fixed-header flag bits each packet type must
//! carry, which side may send which packet, and what a topic name or filter may contain.

use super::packet::PacketType;
use crate::event::{Direction, Side};

/// The problem with the fixed header's flag bits, if any.
pub(crate) fn fixed_header_flags(t: PacketType, flags: u8) -> Option<String> {
    let want = match t {
        PacketType::Publish => {
            return ((flags >> 1) & 3 == 3)
                .then(|| "PUBLISH with QoS 3, which does not exist".into())
        }
        PacketType::Pubrel | PacketType::Subscribe | PacketType::Unsubscribe => 0x2,
        _ => 0x0,
    };
    (flags != want).then(|| {
        format!(
            "fixed-header flags of {} are 0x{flags:x}; the spec requires 0x{want:x}",
            t.name()
        )
    })
}

/// The problem with a packet travelling in `dir`, if only the other side may send it.
pub(crate) fn sender(t: PacketType, dir: Direction) -> Option<String> {
    let only = match t {
        PacketType::Connect
        | PacketType::Subscribe
        | PacketType::Unsubscribe
        | PacketType::Pingreq => Side::Device,
        PacketType::Connack | PacketType::Suback | PacketType::Unsuback | PacketType::Pingresp => {
            Side::Endpoint
        }
        _ => return None,
    };
    (dir.sender() != only).then(|| {
        format!(
            "{} sent by the {}; only the {only} sends it",
            t.name(),
            dir.sender()
        )
    })
}

/// Problems with a topic name in a PUBLISH or a will.
pub(crate) fn topic_name(topic: &str, what: &str, empty_allowed: bool) -> Option<String> {
    if topic.contains(['+', '#']) {
        Some(format!("{what} \"{topic}\" contains a wildcard"))
    } else if topic.is_empty() && !empty_allowed {
        Some(format!("{what} is empty"))
    } else {
        None
    }
}

/// Problems with a topic filter: `#` only last and alone in its level, `+` alone in its level.
pub(crate) fn topic_filter(filter: &str) -> Option<String> {
    if filter.is_empty() {
        return Some("empty topic filter".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let hash_misplaced = level.contains('#') && (*level != "#" || i + 1 != levels.len());
        let plus_misplaced = level.contains('+') && *level != "+";
        if hash_misplaced || plus_misplaced {
            return Some(format!("topic filter \"{filter}\" misuses a wildcard"));
        }
    }
    None
}

/// Problems with a subscription options byte.
pub(crate) fn subscription_options(options: u8, v5: bool, filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    if options & 3 == 3 {
        out.push(format!("subscription to \"{filter}\" asks for QoS 3"));
    }
    if v5 {
        if options & 0xc0 != 0 {
            out.push(format!(
                "reserved bits 6-7 of the options for \"{filter}\" are set (0x{options:02x})"
            ));
        }
        if (options >> 4) & 3 == 3 {
            out.push(format!("retain handling 3 for \"{filter}\" does not exist"));
        }
    } else if options & 0xfc != 0 {
        out.push(format!(
            "reserved bits 2-7 of the requested QoS byte for \"{filter}\" are set (0x{options:02x})"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_per_type() {
        assert_eq!(fixed_header_flags(PacketType::Subscribe, 2), None);
        assert_eq!(
            fixed_header_flags(PacketType::Subscribe, 0).as_deref(),
            Some("fixed-header flags of SUBSCRIBE are 0x0; the spec requires 0x2")
        );
        assert_eq!(fixed_header_flags(PacketType::Publish, 0xb), None);
        assert!(fixed_header_flags(PacketType::Publish, 0x6).is_some());
        assert!(fixed_header_flags(PacketType::Connack, 1).is_some());
    }

    #[test]
    fn filters_and_topics() {
        assert_eq!(topic_filter("a/+/b/#"), None);
        assert!(topic_filter("a/b#").is_some());
        assert!(topic_filter("a/#/b").is_some());
        assert!(topic_filter("a+/b").is_some());
        assert!(topic_name("a/+", "topic", false).is_some());
        assert!(topic_name("", "topic", false).is_some());
        assert_eq!(topic_name("", "topic", true), None);
    }

    #[test]
    fn direction() {
        assert_eq!(
            sender(PacketType::Connect, Direction::DeviceToEndpoint),
            None
        );
        assert_eq!(
            sender(PacketType::Connack, Direction::DeviceToEndpoint).as_deref(),
            Some("CONNACK sent by the device; only the endpoint sends it")
        );
        assert_eq!(
            sender(PacketType::Publish, Direction::EndpointToDevice),
            None
        );
    }
}

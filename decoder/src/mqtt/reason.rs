//! Names of CONNACK return codes (3.1 / 3.1.1) and reason codes (5), per packet type.
//!
//! MQTT 5 gives one number a different meaning in different packets (0x00 is "Success" in a
//! PUBACK, "Normal disconnection" in a DISCONNECT, "Granted QoS 0" in a SUBACK), and each
//! packet type may only carry some of the codes. The names follow the specifications' own
//! wording so a trace reads like the spec a user would look the code up in.

use super::packet::PacketType;

/// The name of `code` in a packet of type `packet_type` for protocol level `version_level`
/// (3 = 3.1, 4 = 3.1.1, 5 = 5.0). A code the packet type cannot carry in that version is
/// `"unknown"`. Levels other than 5 are read as 3.1.1.
pub fn reason_name(packet_type: PacketType, version_level: u8, code: u8) -> &'static str {
    if version_level == 5 {
        if allowed_v5(packet_type, code) {
            v5_name(packet_type, code)
        } else {
            "unknown"
        }
    } else {
        v3_name(packet_type, code)
    }
}

/// True when MQTT 5 lets `packet_type` carry reason code `code`.
pub fn allowed_v5(packet_type: PacketType, code: u8) -> bool {
    let allowed: &[u8] = match packet_type {
        PacketType::Connack => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
            0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
        ],
        PacketType::Puback | PacketType::Pubrec => {
            &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        }
        PacketType::Pubrel | PacketType::Pubcomp => &[0x00, 0x92],
        PacketType::Suback => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        PacketType::Unsuback => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        PacketType::Disconnect => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
            0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
            0xA2,
        ],
        PacketType::Auth => &[0x00, 0x18, 0x19],
        _ => &[],
    };
    allowed.contains(&code)
}

fn v5_name(packet_type: PacketType, code: u8) -> &'static str {
    match (packet_type, code) {
        (PacketType::Disconnect, 0x00) => "Normal disconnection",
        (PacketType::Suback, 0x00) => "Granted QoS 0",
        (_, 0x00) => "Success",
        (_, 0x01) => "Granted QoS 1",
        (_, 0x02) => "Granted QoS 2",
        (_, 0x04) => "Disconnect with Will Message",
        (_, 0x10) => "No matching subscribers",
        (_, 0x11) => "No subscription existed",
        (_, 0x18) => "Continue authentication",
        (_, 0x19) => "Re-authenticate",
        (_, 0x80) => "Unspecified error",
        (_, 0x81) => "Malformed Packet",
        (_, 0x82) => "Protocol Error",
        (_, 0x83) => "Implementation specific error",
        (_, 0x84) => "Unsupported Protocol Version",
        (_, 0x85) => "Client Identifier not valid",
        (_, 0x86) => "Bad User Name or Password",
        (_, 0x87) => "Not authorized",
        (_, 0x88) => "Server unavailable",
        (_, 0x89) => "Server busy",
        (_, 0x8A) => "Banned",
        (_, 0x8B) => "Server shutting down",
        (_, 0x8C) => "Bad authentication method",
        (_, 0x8D) => "Keep Alive timeout",
        (_, 0x8E) => "Session taken over",
        (_, 0x8F) => "Topic Filter invalid",
        (_, 0x90) => "Topic Name invalid",
        (_, 0x91) => "Packet Identifier in use",
        (_, 0x92) => "Packet Identifier not found",
        (_, 0x93) => "Receive Maximum exceeded",
        (_, 0x94) => "Topic Alias invalid",
        (_, 0x95) => "Packet too large",
        (_, 0x96) => "Message rate too high",
        (_, 0x97) => "Quota exceeded",
        (_, 0x98) => "Administrative action",
        (_, 0x99) => "Payload format invalid",
        (_, 0x9A) => "Retain not supported",
        (_, 0x9B) => "QoS not supported",
        (_, 0x9C) => "Use another server",
        (_, 0x9D) => "Server moved",
        (_, 0x9E) => "Shared Subscriptions not supported",
        (_, 0x9F) => "Connection rate exceeded",
        (_, 0xA0) => "Maximum connect time",
        (_, 0xA1) => "Subscription Identifiers not supported",
        (_, 0xA2) => "Wildcard Subscriptions not supported",
        _ => "unknown",
    }
}

/// 3.1 and 3.1.1 have codes only in CONNACK and SUBACK; the other acknowledgements can only
/// say yes, so their implicit code 0 is named "Success".
fn v3_name(packet_type: PacketType, code: u8) -> &'static str {
    match (packet_type, code) {
        (PacketType::Connack, 0) => "Connection Accepted",
        (PacketType::Connack, 1) => "Unacceptable protocol version",
        (PacketType::Connack, 2) => "Identifier rejected",
        (PacketType::Connack, 3) => "Server unavailable",
        (PacketType::Connack, 4) => "Bad user name or password",
        (PacketType::Connack, 5) => "Not authorized",
        (PacketType::Suback, 0) => "Granted QoS 0",
        (PacketType::Suback, 1) => "Granted QoS 1",
        (PacketType::Suback, 2) => "Granted QoS 2",
        (PacketType::Suback, 0x80) => "Failure",
        (PacketType::Disconnect, 0) => "Normal disconnection",
        (
            PacketType::Puback
            | PacketType::Pubrec
            | PacketType::Pubrel
            | PacketType::Pubcomp
            | PacketType::Unsuback,
            0,
        ) => "Success",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketType::*;

    #[test]
    fn connack_codes_by_version() {
        assert_eq!(reason_name(Connack, 4, 0), "Connection Accepted");
        assert_eq!(reason_name(Connack, 4, 1), "Unacceptable protocol version");
        assert_eq!(reason_name(Connack, 3, 5), "Not authorized");
        assert_eq!(reason_name(Connack, 4, 6), "unknown");
        assert_eq!(reason_name(Connack, 5, 0), "Success");
        assert_eq!(
            reason_name(Connack, 5, 0x84),
            "Unsupported Protocol Version"
        );
        assert_eq!(reason_name(Connack, 5, 0x86), "Bad User Name or Password");
        assert_eq!(reason_name(Connack, 5, 0x8C), "Bad authentication method");
        assert_eq!(reason_name(Connack, 5, 1), "unknown");
    }

    #[test]
    fn same_code_different_packets() {
        assert_eq!(reason_name(Disconnect, 5, 0), "Normal disconnection");
        assert_eq!(reason_name(Suback, 5, 0), "Granted QoS 0");
        assert_eq!(reason_name(Puback, 5, 0), "Success");
        assert_eq!(reason_name(Puback, 5, 0x10), "No matching subscribers");
        assert_eq!(reason_name(Puback, 5, 0x87), "Not authorized");
        assert_eq!(reason_name(Disconnect, 5, 0x8E), "Session taken over");
        assert_eq!(reason_name(Disconnect, 5, 0x80), "Unspecified error");
        assert_eq!(reason_name(Auth, 5, 0x18), "Continue authentication");
        // 0x8E is a DISCONNECT reason, not a PUBACK one
        assert_eq!(reason_name(Puback, 5, 0x8E), "unknown");
        assert_eq!(reason_name(Pubrel, 5, 0x92), "Packet Identifier not found");
        assert_eq!(reason_name(Suback, 4, 0x80), "Failure");
        assert_eq!(reason_name(Suback, 4, 3), "unknown");
    }
}

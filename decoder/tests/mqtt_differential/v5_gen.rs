//! MQTT 5 packets for the differential test: rumqttc's reason-code enums beside the codes
//! and names the spec gives them, and proptest strategies for every packet rumqttc can write.

use super::*;

pub use rumqttc::v5::mqttbytes::QoS as Q5;
pub use v5::{
    ConnectReturnCode as C5, DisconnectReasonCode as D5, PubAckReason as PA,
    SubscribeReasonCode as S5, UnsubAckReason as U5,
};

pub const CONNACK5: &[(C5, u8, &str)] = &[
    (C5::Success, 0x00, "Success"),
    (C5::UnspecifiedError, 0x80, "Unspecified error"),
    (C5::MalformedPacket, 0x81, "Malformed Packet"),
    (C5::ProtocolError, 0x82, "Protocol Error"),
    (
        C5::ImplementationSpecificError,
        0x83,
        "Implementation specific error",
    ),
    (
        C5::UnsupportedProtocolVersion,
        0x84,
        "Unsupported Protocol Version",
    ),
    (
        C5::ClientIdentifierNotValid,
        0x85,
        "Client Identifier not valid",
    ),
    (C5::BadUserNamePassword, 0x86, "Bad User Name or Password"),
    (C5::NotAuthorized, 0x87, "Not authorized"),
    (C5::ServerUnavailable, 0x88, "Server unavailable"),
    (C5::ServerBusy, 0x89, "Server busy"),
    (C5::Banned, 0x8A, "Banned"),
    (
        C5::BadAuthenticationMethod,
        0x8C,
        "Bad authentication method",
    ),
    (C5::TopicNameInvalid, 0x90, "Topic Name invalid"),
    (C5::PacketTooLarge, 0x95, "Packet too large"),
    (C5::QuotaExceeded, 0x97, "Quota exceeded"),
    (C5::PayloadFormatInvalid, 0x99, "Payload format invalid"),
    (C5::RetainNotSupported, 0x9A, "Retain not supported"),
    (C5::QoSNotSupported, 0x9B, "QoS not supported"),
    (C5::UseAnotherServer, 0x9C, "Use another server"),
    (C5::ServerMoved, 0x9D, "Server moved"),
    (C5::ConnectionRateExceeded, 0x9F, "Connection rate exceeded"),
];

pub const PUBACK5: &[(PA, u8, &str)] = &[
    (PA::Success, 0x00, "Success"),
    (PA::NoMatchingSubscribers, 0x10, "No matching subscribers"),
    (PA::UnspecifiedError, 0x80, "Unspecified error"),
    (
        PA::ImplementationSpecificError,
        0x83,
        "Implementation specific error",
    ),
    (PA::NotAuthorized, 0x87, "Not authorized"),
    (PA::TopicNameInvalid, 0x90, "Topic Name invalid"),
    (PA::PacketIdentifierInUse, 0x91, "Packet Identifier in use"),
    (PA::QuotaExceeded, 0x97, "Quota exceeded"),
    (PA::PayloadFormatInvalid, 0x99, "Payload format invalid"),
];

pub const SUBACK5: &[(S5, u8)] = &[
    (S5::Success(Q5::AtMostOnce), 0),
    (S5::Success(Q5::AtLeastOnce), 1),
    (S5::Success(Q5::ExactlyOnce), 2),
    (S5::Unspecified, 0x80),
    (S5::ImplementationSpecific, 0x83),
    (S5::NotAuthorized, 0x87),
    (S5::TopicFilterInvalid, 0x8F),
    (S5::PkidInUse, 0x91),
    (S5::QuotaExceeded, 0x97),
    (S5::SharedSubscriptionsNotSupported, 0x9E),
    (S5::SubscriptionIdNotSupported, 0xA1),
    (S5::WildcardSubscriptionsNotSupported, 0xA2),
];

pub const UNSUBACK5: &[(U5, u8)] = &[
    (U5::Success, 0x00),
    (U5::NoSubscriptionExisted, 0x11),
    (U5::UnspecifiedError, 0x80),
    (U5::ImplementationSpecificError, 0x83),
    (U5::NotAuthorized, 0x87),
    (U5::TopicFilterInvalid, 0x8F),
    (U5::PacketIdentifierInUse, 0x91),
];

pub const DISCONNECT5: &[(D5, &str)] = &[
    (D5::NormalDisconnection, "Normal disconnection"),
    (
        D5::DisconnectWithWillMessage,
        "Disconnect with Will Message",
    ),
    (D5::UnspecifiedError, "Unspecified error"),
    (D5::NotAuthorized, "Not authorized"),
    (D5::ServerShuttingDown, "Server shutting down"),
    (D5::KeepAliveTimeout, "Keep Alive timeout"),
    (D5::SessionTakenOver, "Session taken over"),
    (D5::QuotaExceeded, "Quota exceeded"),
    (D5::QoSNotSupported, "QoS not supported"),
    (
        D5::WildcardSubscriptionsNotSupported,
        "Wildcard Subscriptions not supported",
    ),
];

pub fn v5_connect() -> impl Strategy<Value = v5::Packet> {
    let props = (
        (
            prop::option::of(any::<u32>()),
            nonzero16(),
            nonzero32(),
            prop::option::of(any::<u16>()),
        ),
        (
            flag(),
            flag(),
            users(),
            prop::option::of(name()),
            opt_bytes(),
        ),
    )
        .prop_map(
            |((sei, rm, mps, tam), (rri, rpi, up, am, ad))| v5::ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                max_packet_size: mps,
                topic_alias_max: tam,
                request_response_info: rri,
                request_problem_info: rpi,
                user_properties: up,
                authentication_method: am,
                authentication_data: ad,
            },
        );
    let will_props = (
        (
            prop::option::of(any::<u32>()),
            flag(),
            prop::option::of(any::<u32>()),
        ),
        (opt_text(), prop::option::of(topic()), opt_bytes(), users()),
    )
        .prop_map(
            |((di, pfi, mei), (ct, rt, cd, up))| v5::LastWillProperties {
                delay_interval: di,
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                content_type: ct,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
            },
        );
    let will = prop::option::of((
        topic(),
        payload(),
        0u8..=2,
        any::<bool>(),
        prop::option::of(will_props),
    ));
    let login = prop::option::of((text(), text()));
    (
        name(),
        any::<u16>(),
        any::<bool>(),
        prop::option::of(props),
        will,
        login,
    )
        .prop_map(|(id, ka, clean, props, will, login)| {
            v5::Packet::Connect(
                v5::Connect {
                    keep_alive: ka,
                    client_id: id,
                    clean_start: clean,
                    properties: props,
                },
                will.map(|(t, m, q, r, p)| v5::LastWill {
                    topic: Bytes::from(t),
                    message: Bytes::from(m),
                    qos: qos5(q),
                    retain: r,
                    properties: p,
                }),
                login.map(|(u, p)| v5::Login::new(u, p)),
            )
        })
}

pub fn v5_connack() -> impl Strategy<Value = v5::Packet> {
    let props = (
        (
            prop::option::of(any::<u32>()),
            nonzero16(),
            flag(),
            flag(),
            nonzero32(),
            opt_text(),
        ),
        (
            prop::option::of(any::<u16>()),
            opt_text(),
            users(),
            flag(),
            flag(),
            flag(),
        ),
        (
            prop::option::of(any::<u16>()),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_bytes(),
        ),
    )
        .prop_map(|(a, b, c)| v5::ConnAckProperties {
            session_expiry_interval: a.0,
            receive_max: a.1,
            max_qos: a.2,
            retain_available: a.3,
            max_packet_size: a.4,
            assigned_client_identifier: a.5,
            topic_alias_max: b.0,
            reason_string: b.1,
            user_properties: b.2,
            wildcard_subscription_available: b.3,
            subscription_identifiers_available: b.4,
            shared_subscription_available: b.5,
            server_keep_alive: c.0,
            response_information: c.1,
            server_reference: c.2,
            authentication_method: c.3,
            authentication_data: c.4,
        });
    (0..CONNACK5.len(), any::<bool>(), prop::option::of(props)).prop_map(|(i, sp, p)| {
        v5::Packet::ConnAck(v5::ConnAck {
            session_present: sp && i == 0,
            code: CONNACK5[i].0,
            properties: p,
        })
    })
}

pub fn v5_publish() -> impl Strategy<Value = v5::Packet> {
    let props = (
        (
            flag(),
            prop::option::of(any::<u32>()),
            nonzero16(),
            prop::option::of(topic()),
        ),
        (
            opt_bytes(),
            users(),
            prop::collection::vec(1usize..268_435_455, 0..3),
            opt_text(),
        ),
    )
        .prop_map(
            |((pfi, mei, ta, rt), (cd, up, si, ct))| v5::PublishProperties {
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                topic_alias: ta,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
                subscription_identifiers: si,
                content_type: ct,
            },
        );
    (
        topic(),
        0u8..=2,
        any::<bool>(),
        any::<bool>(),
        1u16..,
        payload(),
        prop::option::of(props),
    )
        .prop_map(|(t, q, retain, dup, pkid, payload, p)| {
            v5::Packet::Publish(v5::Publish {
                dup: dup && q > 0,
                qos: qos5(q),
                retain,
                topic: Bytes::from(t),
                pkid: if q > 0 { pkid } else { 0 },
                payload: Bytes::from(payload),
                properties: p,
            })
        })
}

/// A reason string and user properties, as rumqttc's acknowledgement properties hold them.
pub type ReasonProps = (Option<String>, Vec<(String, String)>);

pub fn reason_props() -> impl Strategy<Value = Option<ReasonProps>> {
    prop::option::of((opt_text(), users()))
}

pub fn v5_acks() -> impl Strategy<Value = v5::Packet> {
    let n = PUBACK5.len();
    (0u8..4, 1u16.., 0..n, any::<bool>(), reason_props()).prop_map(|(kind, id, i, b, p)| {
        let (rs, up) = p.clone().unzip();
        let up = up.unwrap_or_default();
        let rs = rs.flatten();
        match kind {
            0 => v5::Packet::PubAck(v5::PubAck {
                pkid: id,
                reason: PUBACK5[i].0,
                properties: p.map(|_| v5::PubAckProperties {
                    reason_string: rs,
                    user_properties: up,
                }),
            }),
            1 => v5::Packet::PubRec(v5::PubRec {
                pkid: id,
                reason: [
                    v5::PubRecReason::Success,
                    v5::PubRecReason::NoMatchingSubscribers,
                    v5::PubRecReason::UnspecifiedError,
                    v5::PubRecReason::ImplementationSpecificError,
                    v5::PubRecReason::NotAuthorized,
                    v5::PubRecReason::TopicNameInvalid,
                    v5::PubRecReason::PacketIdentifierInUse,
                    v5::PubRecReason::QuotaExceeded,
                    v5::PubRecReason::PayloadFormatInvalid,
                ][i],
                properties: p.map(|_| v5::PubRecProperties {
                    reason_string: rs,
                    user_properties: up,
                }),
            }),
            2 => v5::Packet::PubRel(v5::PubRel {
                pkid: id,
                reason: if b {
                    v5::PubRelReason::PacketIdentifierNotFound
                } else {
                    v5::PubRelReason::Success
                },
                properties: p.map(|_| v5::PubRelProperties {
                    reason_string: rs,
                    user_properties: up,
                }),
            }),
            _ => v5::Packet::PubComp(v5::PubComp {
                pkid: id,
                reason: if b {
                    v5::PubCompReason::PacketIdentifierNotFound
                } else {
                    v5::PubCompReason::Success
                },
                properties: p.map(|_| v5::PubCompProperties {
                    reason_string: rs,
                    user_properties: up,
                }),
            }),
        }
    })
}

pub fn v5_subs() -> impl Strategy<Value = v5::Packet> {
    let filters = prop::collection::vec(
        (filter(), 0u8..=2, any::<bool>(), any::<bool>(), 0usize..3),
        1..5,
    );
    let sub_props = prop::option::of((prop::option::of(1usize..268_435_455), users()));
    prop_oneof![
        (1u16.., filters, sub_props).prop_map(|(id, f, p)| v5::Packet::Subscribe(v5::Subscribe {
            pkid: id,
            filters: f
                .into_iter()
                .map(|(path, q, nl, pr, rfr)| v5::Filter {
                    path,
                    qos: qos5(q),
                    nolocal: nl,
                    preserve_retain: pr,
                    retain_forward_rule: match rfr {
                        0 => v5::RetainForwardRule::OnEverySubscribe,
                        1 => v5::RetainForwardRule::OnNewSubscribe,
                        _ => v5::RetainForwardRule::Never,
                    },
                })
                .collect(),
            properties: p.map(|(id, up)| v5::SubscribeProperties {
                id,
                user_properties: up
            }),
        })),
        (
            1u16..,
            prop::collection::vec(0..SUBACK5.len(), 1..5),
            reason_props()
        )
            .prop_map(|(id, c, p)| {
                v5::Packet::SubAck(v5::SubAck {
                    pkid: id,
                    return_codes: c.into_iter().map(|i| SUBACK5[i].0).collect(),
                    properties: p.map(|(rs, up)| v5::SubAckProperties {
                        reason_string: rs,
                        user_properties: up,
                    }),
                })
            }),
        (
            1u16..,
            prop::collection::vec(filter(), 1..5),
            prop::option::of(users())
        )
            .prop_map(|(id, f, p)| {
                v5::Packet::Unsubscribe(v5::Unsubscribe {
                    pkid: id,
                    filters: f,
                    properties: p.map(|up| v5::UnsubscribeProperties {
                        user_properties: up,
                    }),
                })
            }),
        (
            1u16..,
            prop::collection::vec(0..UNSUBACK5.len(), 1..5),
            reason_props()
        )
            .prop_map(|(id, c, p)| {
                v5::Packet::UnsubAck(v5::UnsubAck {
                    pkid: id,
                    reasons: c.into_iter().map(|i| UNSUBACK5[i].0).collect(),
                    properties: p.map(|(rs, up)| v5::UnsubAckProperties {
                        reason_string: rs,
                        user_properties: up,
                    }),
                })
            }),
    ]
}

pub fn v5_other() -> impl Strategy<Value = v5::Packet> {
    let disconnect_props = (
        prop::option::of(any::<u32>()),
        opt_text(),
        users(),
        opt_text(),
    );
    prop_oneof![
        (0..DISCONNECT5.len(), disconnect_props).prop_map(|(i, (sei, rs, up, sr))| {
            let p = v5::DisconnectProperties {
                session_expiry_interval: sei,
                reason_string: rs,
                user_properties: up,
                server_reference: sr,
            };
            // rumqttc 0.25.1 writes an empty property block as a bare `E0 00` (dropping the
            // reason code), and a reason code without properties as `E0 01 code 00` (one
            // byte past its remaining length): only a normal disconnection without
            // properties, or any reason with properties, comes out right
            let empty = p.session_expiry_interval.is_none()
                && p.reason_string.is_none()
                && p.user_properties.is_empty()
                && p.server_reference.is_none();
            v5::Packet::Disconnect(v5::Disconnect {
                reason_code: if empty {
                    D5::NormalDisconnection
                } else {
                    DISCONNECT5[i].0
                },
                properties: (!empty).then_some(p),
            })
        }),
        Just(v5::Packet::PingReq(v5::PingReq)),
        Just(v5::Packet::PingResp(v5::PingResp)),
    ]
}

pub fn v5_packet() -> impl Strategy<Value = v5::Packet> {
    prop_oneof![
        v5_connect(),
        v5_connack(),
        v5_publish(),
        v5_acks(),
        v5_subs(),
        v5_other()
    ]
}

pub fn qos5(n: u8) -> Q5 {
    match n {
        0 => Q5::AtMostOnce,
        1 => Q5::AtLeastOnce,
        _ => Q5::ExactlyOnce,
    }
}

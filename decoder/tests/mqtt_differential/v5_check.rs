//! Field-by-field comparison of what rumqttc was given (MQTT 5) with what our decoder read.

use super::v5_gen::*;
use super::*;

pub type Users = [(String, String)];

pub fn reason_want(p: Option<(&Option<String>, &Users)>) -> Vec<(String, String)> {
    match p {
        None => Vec::new(),
        Some((rs, up)) => Want::default().text("reason_string", rs).users(up).done(),
    }
}

pub fn check_v5(sent: &v5::Packet, got: &Packet) {
    match (sent, &got.body) {
        (v5::Packet::Connect(c, will, login), Body::Connect(g)) => {
            assert_eq!((g.protocol_name.as_str(), g.protocol_level), ("MQTT", 5));
            assert_eq!(
                (&g.client_id, g.keep_alive, g.clean_start),
                (&c.client_id, c.keep_alive, c.clean_start)
            );
            let (user, pass) = login_fields(login.as_ref().map(|l| (&l.username, &l.password)));
            assert_eq!(g.username, user);
            assert_eq!(g.password.as_ref().and_then(|p| p.value.clone()), pass);
            let want = c.properties.as_ref().map_or_else(Vec::new, |p| {
                Want::default()
                    .int("session_expiry_interval", p.session_expiry_interval)
                    .int("receive_maximum", p.receive_maximum)
                    .int("maximum_packet_size", p.max_packet_size)
                    .int("topic_alias_maximum", p.topic_alias_max)
                    .int("request_response_information", p.request_response_info)
                    .int("request_problem_information", p.request_problem_info)
                    .users(&p.user_properties)
                    .text("authentication_method", &p.authentication_method)
                    .binary("authentication_data", &p.authentication_data)
                    .done()
            });
            assert_eq!(props(&g.properties), want);
            match (will, &g.will) {
                (None, None) => {}
                (Some(w), Some(gw)) => {
                    assert_eq!(gw.topic.as_bytes(), &w.topic[..]);
                    assert_eq!(
                        (gw.payload_len, gw.qos, gw.retain),
                        (w.message.len(), w.qos as u8, w.retain)
                    );
                    let want = w.properties.as_ref().map_or_else(Vec::new, |p| {
                        Want::default()
                            .int("will_delay_interval", p.delay_interval)
                            .int("payload_format_indicator", p.payload_format_indicator)
                            .int("message_expiry_interval", p.message_expiry_interval)
                            .text("content_type", &p.content_type)
                            .text("response_topic", &p.response_topic)
                            .binary("correlation_data", &p.correlation_data)
                            .users(&p.user_properties)
                            .done()
                    });
                    assert_eq!(props(&gw.properties), want);
                }
                other => panic!("will {other:?}"),
            }
        }
        (v5::Packet::ConnAck(c), Body::Connack(g)) => {
            let (_, code, name) = CONNACK5.iter().find(|x| x.0 == c.code).unwrap();
            assert_eq!(
                (g.code, g.reason, g.session_present),
                (*code, *name, c.session_present)
            );
            let want = c.properties.as_ref().map_or_else(Vec::new, |p| {
                Want::default()
                    .int("session_expiry_interval", p.session_expiry_interval)
                    .int("receive_maximum", p.receive_max)
                    .int("maximum_qos", p.max_qos)
                    .int("retain_available", p.retain_available)
                    .int("maximum_packet_size", p.max_packet_size)
                    .text("assigned_client_identifier", &p.assigned_client_identifier)
                    .int("topic_alias_maximum", p.topic_alias_max)
                    .text("reason_string", &p.reason_string)
                    .users(&p.user_properties)
                    .int(
                        "wildcard_subscription_available",
                        p.wildcard_subscription_available,
                    )
                    .int(
                        "subscription_identifier_available",
                        p.subscription_identifiers_available,
                    )
                    .int(
                        "shared_subscription_available",
                        p.shared_subscription_available,
                    )
                    .int("server_keep_alive", p.server_keep_alive)
                    .text("response_information", &p.response_information)
                    .text("server_reference", &p.server_reference)
                    .text("authentication_method", &p.authentication_method)
                    .binary("authentication_data", &p.authentication_data)
                    .done()
            });
            assert_eq!(props(&g.properties), want);
        }
        (v5::Packet::Publish(p), Body::Publish(g)) => {
            assert_eq!(g.topic.as_bytes(), &p.topic[..]);
            assert_eq!(
                (got.qos, got.retain, got.dup),
                (p.qos as u8, p.retain, p.dup)
            );
            assert_eq!(g.packet_id, (p.qos as u8 > 0).then_some(p.pkid));
            assert_eq!(g.payload_len, p.payload.len());
            assert_eq!(g.payload_prefix, p.payload[..p.payload.len().min(64)]);
            let want = p.properties.as_ref().map_or_else(Vec::new, |p| {
                let mut w = Want::default()
                    .int("payload_format_indicator", p.payload_format_indicator)
                    .int("message_expiry_interval", p.message_expiry_interval)
                    .int("topic_alias", p.topic_alias)
                    .text("response_topic", &p.response_topic)
                    .binary("correlation_data", &p.correlation_data)
                    .users(&p.user_properties)
                    .text("content_type", &p.content_type);
                for id in &p.subscription_identifiers {
                    w = w.int("subscription_identifier", Some(*id as u64));
                }
                w.done()
            });
            assert_eq!(props(&g.properties), want);
        }
        (v5::Packet::PubAck(a), Body::Ack(g)) => {
            let (_, code, name) = PUBACK5.iter().find(|x| x.0 == a.reason).unwrap();
            assert_eq!((g.packet_id, g.code, g.reason), (a.pkid, *code, *name));
            let p = a
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::PubRec(a), Body::Ack(g)) => {
            assert_eq!(g.packet_id, a.pkid);
            let i = format!("{:?}", a.reason);
            let (_, code, _) = PUBACK5.iter().find(|x| format!("{:?}", x.0) == i).unwrap();
            assert_eq!(g.code, *code);
            let p = a
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::PubRel(a), Body::Ack(g)) => {
            let code = if a.reason == v5::PubRelReason::Success {
                0
            } else {
                0x92
            };
            assert_eq!((g.packet_id, g.code), (a.pkid, code));
            let p = a
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::PubComp(a), Body::Ack(g)) => {
            let code = if a.reason == v5::PubCompReason::Success {
                0
            } else {
                0x92
            };
            assert_eq!((g.packet_id, g.code), (a.pkid, code));
            let p = a
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::Subscribe(s), Body::Subscribe(g)) => {
            assert_eq!(g.packet_id, s.pkid);
            let want: Vec<_> = s
                .filters
                .iter()
                .map(|f| {
                    let rfr = match f.retain_forward_rule {
                        v5::RetainForwardRule::OnEverySubscribe => 0,
                        v5::RetainForwardRule::OnNewSubscribe => 1,
                        v5::RetainForwardRule::Never => 2,
                    };
                    let o = f.qos as u8
                        | u8::from(f.nolocal) << 2
                        | u8::from(f.preserve_retain) << 3
                        | rfr << 4;
                    (f.path.clone(), f.qos as u8, o)
                })
                .collect();
            let have: Vec<_> = g
                .filters
                .iter()
                .map(|f| (f.filter.clone(), f.qos, f.options))
                .collect();
            assert_eq!(have, want);
            let want = s.properties.as_ref().map_or_else(Vec::new, |p| {
                Want::default()
                    .int("subscription_identifier", p.id.map(|i| i as u64))
                    .users(&p.user_properties)
                    .done()
            });
            assert_eq!(props(&g.properties), want);
        }
        (v5::Packet::SubAck(s), Body::SubAck(g)) => {
            let want: Vec<u8> = s
                .return_codes
                .iter()
                .map(|c| SUBACK5.iter().find(|x| x.0 == *c).unwrap().1)
                .collect();
            assert_eq!((g.packet_id, &g.codes), (s.pkid, &want));
            let p = s
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::Unsubscribe(u), Body::Unsubscribe(g)) => {
            assert_eq!((g.packet_id, &g.filters), (u.pkid, &u.filters));
            let want = u.properties.as_ref().map_or_else(Vec::new, |p| {
                Want::default().users(&p.user_properties).done()
            });
            assert_eq!(props(&g.properties), want);
        }
        (v5::Packet::UnsubAck(u), Body::SubAck(g)) => {
            let want: Vec<u8> = u
                .reasons
                .iter()
                .map(|c| UNSUBACK5.iter().find(|x| x.0 == *c).unwrap().1)
                .collect();
            assert_eq!((g.packet_id, &g.codes), (u.pkid, &want));
            let p = u
                .properties
                .as_ref()
                .map(|p| (&p.reason_string, &p.user_properties[..]));
            assert_eq!(props(&g.properties), reason_want(p));
        }
        (v5::Packet::Disconnect(d), Body::Disconnect(g)) => {
            let (_, name) = DISCONNECT5.iter().find(|x| x.0 == d.reason_code).unwrap();
            assert_eq!((g.code, g.reason), (d.reason_code as u8, *name));
            let want = d.properties.as_ref().map_or_else(Vec::new, |p| {
                Want::default()
                    .int("session_expiry_interval", p.session_expiry_interval)
                    .text("reason_string", &p.reason_string)
                    .users(&p.user_properties)
                    .text("server_reference", &p.server_reference)
                    .done()
            });
            assert_eq!(props(&g.properties), want);
        }
        (v5::Packet::PingReq(_), Body::Pingreq) | (v5::Packet::PingResp(_), Body::Pingresp) => {}
        (s, g) => panic!("sent {s:?}, decoded {g:?}"),
    }
}

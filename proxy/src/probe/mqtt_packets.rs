//! The four MQTT control packets the probe sends (CONNECT, SUBSCRIBE, PUBLISH at QoS 1 and
//! DISCONNECT, for MQTT 3.1.1 and 5), and the checks on what the user asked it to send.
//!
//! The packets are written by the decoder's encoder (`iotscope_decoder::mqtt::encode`): a
//! clean session without credentials or will, one filter per SUBSCRIBE, no MQTT 5
//! properties. What is checked here is the user's input, so that a bad client id or topic is
//! refused with a sentence instead of being cut. The answers are read by the decoder.

use crate::error::Error;
pub use iotscope_decoder::mqtt::encode::{
    connect, disconnect, publish_qos1, subscribe, LEVEL_311, LEVEL_5, MAX_STRING,
};

/// A client id, topic or filter the packets can carry: MQTT strings are UTF-8 without
/// U+0000 and at most 65535 bytes.
pub fn check_string(what: &str, s: &str) -> Result<(), Error> {
    if s.len() > MAX_STRING {
        return Err(Error::BadValue(format!(
            "the {what} is {} bytes; MQTT allows at most {MAX_STRING}",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(Error::BadValue(format!(
            "the {what} holds a NUL character, which MQTT forbids"
        )));
    }
    Ok(())
}

/// A topic to publish on: not empty, and without the wildcards only filters may hold.
pub fn check_topic(topic: &str) -> Result<(), Error> {
    check_string("topic", topic)?;
    if topic.is_empty() {
        return Err(Error::BadValue("the topic to publish on is empty".into()));
    }
    if topic.contains(['+', '#']) {
        return Err(Error::BadValue(format!(
            "the topic {topic:?} holds a wildcard (+ or #); only subscriptions may"
        )));
    }
    Ok(())
}

/// A filter to subscribe to: not empty.
pub fn check_filter(filter: &str) -> Result<(), Error> {
    check_string("topic filter", filter)?;
    if filter.is_empty() {
        return Err(Error::BadValue(
            "the topic filter to subscribe to is empty".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::mqtt::Body;
    use iotscope_decoder::{Direction, EventKind, Identity, Session, SessionConfig, Timestamp};

    #[test]
    fn connect_bytes() {
        assert_eq!(
            connect(LEVEL_311, "abc", 60),
            b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc".to_vec()
        );
        assert_eq!(
            connect(LEVEL_5, "abc", 60),
            b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc".to_vec()
        );
    }

    #[test]
    fn subscribe_publish_disconnect_bytes() {
        assert_eq!(
            subscribe(LEVEL_311, 1, "t/#", 1),
            b"\x82\x08\x00\x01\x00\x03t/#\x01".to_vec()
        );
        assert_eq!(
            subscribe(LEVEL_5, 1, "t/#", 1),
            b"\x82\x09\x00\x01\x00\x00\x03t/#\x01".to_vec()
        );
        assert_eq!(
            publish_qos1(LEVEL_311, 2, "t/1", b"hi"),
            b"\x32\x09\x00\x03t/1\x00\x02hi".to_vec()
        );
        assert_eq!(
            publish_qos1(LEVEL_5, 2, "t/1", b"hi"),
            b"\x32\x0a\x00\x03t/1\x00\x02\x00hi".to_vec()
        );
        assert_eq!(disconnect(), vec![0xe0, 0x00]);
    }

    #[test]
    fn long_bodies_take_several_length_bytes() {
        let payload = vec![b'x'; 200];
        let p = publish_qos1(LEVEL_311, 7, "t", &payload);
        // 2 + 1 (topic) + 2 (id) + 200 = 205 = 0x4d + 1 * 128
        assert_eq!(&p[..3], &[0x32, 0xcd, 0x01]);
        assert_eq!(p.len(), 3 + 205);
    }

    /// The decoder reads back what the encoder wrote, field by field.
    #[test]
    fn the_decoder_reads_them_back() {
        for level in [LEVEL_311, LEVEL_5] {
            let mut s = Session::new(Identity::default(), SessionConfig::default());
            let mut bytes = connect(level, "iotscope-probe-1", 60);
            bytes.extend(subscribe(level, 1, "a/+", 1));
            bytes.extend(publish_qos1(level, 2, "a/b", b"{}"));
            bytes.extend(disconnect());
            s.feed(Direction::DeviceToEndpoint, &bytes, Timestamp(1));
            let trace = s.finish();
            let packets: Vec<_> = trace
                .events()
                .filter_map(|e| match &e.kind {
                    EventKind::Mqtt(p) => Some(p.clone()),
                    EventKind::MqttMalformed { reason, .. } => panic!("{reason}"),
                    _ => None,
                })
                .collect();
            assert_eq!(packets.len(), 4, "level {level}");
            for p in &packets {
                assert!(p.problems.is_empty(), "{:?}", p.problems);
            }
            match &packets[0].body {
                Body::Connect(c) => {
                    assert_eq!(c.protocol_level, level);
                    assert_eq!(c.client_id, "iotscope-probe-1");
                    assert_eq!(c.keep_alive, 60);
                    assert!(c.clean_start);
                }
                other => panic!("{other:?}"),
            }
            match &packets[1].body {
                Body::Subscribe(x) => {
                    assert_eq!(x.packet_id, 1);
                    assert_eq!(x.filters[0].filter, "a/+");
                    assert_eq!(x.filters[0].qos, 1);
                }
                other => panic!("{other:?}"),
            }
            match &packets[2].body {
                Body::Publish(x) => {
                    assert_eq!(x.topic, "a/b");
                    assert_eq!(x.packet_id, Some(2));
                    assert_eq!(x.payload_prefix, b"{}");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(packets[2].qos, 1);
            assert!(matches!(packets[3].body, Body::Disconnect(_)));
        }
    }

    #[test]
    fn bad_strings_are_refused() {
        assert!(check_topic("a/#")
            .unwrap_err()
            .to_string()
            .contains("wildcard"));
        assert!(check_topic("").unwrap_err().to_string().contains("empty"));
        assert!(check_filter("").unwrap_err().to_string().contains("empty"));
        assert!(check_string("client id", "a\0b")
            .unwrap_err()
            .to_string()
            .contains("NUL"));
        let long = "x".repeat(70_000);
        assert!(check_string("client id", &long)
            .unwrap_err()
            .to_string()
            .contains("at most 65535"));
        assert!(check_topic("a/b").is_ok() && check_filter("a/#").is_ok());
    }
}

//! The catalogue: every case with its id, where its pass rule comes from, what the device
//! must do to be tested, and its time limit.
//!
//! Ids are AWS Device Advisor's test ids where Device Advisor has the case (its pages:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-advisor-tests-tls.html> and
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-advisor-tests-mqtt.html>);
//! cases Device Advisor does not have carry an `IOTSCOPE_` id and say so in `source`.
//! docs/qualify.md says which ids were read on those pages and which follow their naming
//! unconfirmed.

use std::time::Duration;

use super::{mqtt_cases, tls_cases, Ctx, Decision};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Tls,
    Mqtt,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Tls => "tls",
            Suite::Mqtt => "mqtt",
        }
    }
    pub fn parse(s: &str) -> Option<Suite> {
        match s.to_ascii_lowercase().as_str() {
            "tls" => Some(Suite::Tls),
            "mqtt" => Some(Suite::Mqtt),
            _ => None,
        }
    }
}

/// What iotscope does in a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TlsConnect,
    TlsCipherSuites,
    TlsBadCert(iotscope_proxy::ca::mint::Present),
    MqttConnect,
    PublishQos0,
    PublishQos1,
    KeepAlive,
    ReservedTopics,
    BackoffOnRefusedConnect,
    JitterOnRefusedConnect,
    BackoffOnServerDisconnect,
    PublishRetryNoPuback,
    SubscribeRetryNoSuback,
    TlsLargeChain,
    MaxFragments,
    PersistentSession,
    ExpiredSession,
    BackoffOnUnstableConnection,
}

pub struct Case {
    pub id: &'static str,
    pub suite: Suite,
    /// Where the pass rule comes from.
    pub source: &'static str,
    /// What the device must do for the case to test anything.
    pub device_must: &'static str,
    /// What PASS means.
    pub rule: &'static str,
    pub limit: Duration,
    pub kind: Kind,
}

impl Case {
    pub async fn run(&self, ctx: &mut Ctx<'_>) -> Decision {
        match self.kind {
            Kind::TlsConnect => tls_cases::connect(ctx).await,
            Kind::TlsCipherSuites => tls_cases::cipher_suites(ctx).await,
            Kind::TlsBadCert(p) => tls_cases::bad_cert(ctx, p).await,
            Kind::MqttConnect => mqtt_cases::connect(ctx).await,
            Kind::PublishQos0 => mqtt_cases::publish(ctx, 0).await,
            Kind::PublishQos1 => mqtt_cases::publish(ctx, 1).await,
            Kind::KeepAlive => mqtt_cases::keep_alive(ctx).await,
            Kind::ReservedTopics => mqtt_cases::reserved_topics(ctx).await,
            Kind::BackoffOnRefusedConnect => mqtt_cases::refused_connects(ctx, false).await,
            Kind::JitterOnRefusedConnect => mqtt_cases::refused_connects(ctx, true).await,
            Kind::BackoffOnServerDisconnect => {
                mqtt_cases::reconnects(ctx, mqtt_cases::Ending::ServerDisconnect).await
            }
            Kind::BackoffOnUnstableConnection => {
                mqtt_cases::reconnects(ctx, mqtt_cases::Ending::Unstable).await
            }
            Kind::PublishRetryNoPuback => mqtt_cases::publish_retry(ctx).await,
            Kind::SubscribeRetryNoSuback => mqtt_cases::subscribe_retry(ctx).await,
            Kind::TlsLargeChain => tls_cases::large_chain(ctx).await,
            Kind::MaxFragments => mqtt_cases::max_fragments(ctx).await,
            Kind::PersistentSession => mqtt_cases::persistent_session(ctx).await,
            Kind::ExpiredSession => mqtt_cases::expired_session(ctx).await,
        }
    }
}

const DA_TLS: &str =
    "https://docs.aws.amazon.com/iot/latest/developerguide/device-advisor-tests-tls.html";
const DA_MQTT: &str =
    "https://docs.aws.amazon.com/iot/latest/developerguide/device-advisor-tests-mqtt.html";

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every case, in the order they run.
pub static CASES: &[Case] = &[
    Case {
        id: "TLS_Connect",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS, trusting iotscope's CA",
        rule: "the device completes a TLS handshake, at TLS 1.2 or later, with a valid server certificate",
        limit: secs(60),
        kind: Kind::TlsConnect,
    },
    Case {
        id: "TLS_DeviceSupport_For_IOT",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS",
        rule: "the ClientHello offers at least one cipher suite AWS IoT Core recommends (TLS_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-AES128-GCM-SHA256)",
        limit: secs(60),
        kind: Kind::TlsCipherSuites,
    },
    Case {
        id: "TLS_Expired_Server_Cert",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS, trusting iotscope's CA",
        rule: "shown a certificate for the right name from the trusted CA that expired 30 days ago, the device does not complete the handshake",
        limit: secs(60),
        kind: Kind::TlsBadCert(iotscope_proxy::ca::mint::Present::Expired),
    },
    Case {
        id: "TLS_Incorrect_Subject_Name",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS, trusting iotscope's CA",
        rule: "shown a valid certificate from the trusted CA for another name (wrong-name.iotscope.invalid), the device does not complete the handshake",
        limit: secs(60),
        kind: Kind::TlsBadCert(iotscope_proxy::ca::mint::Present::WrongName),
    },
    Case {
        id: "TLS_Unsecure_Server_Cert",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS, trusting iotscope's CA",
        rule: "shown a certificate for the right name from a CA made for this run (not the one it trusts), the device does not complete the handshake",
        limit: secs(60),
        kind: Kind::TlsBadCert(iotscope_proxy::ca::mint::Present::Untrusted),
    },
    Case {
        id: "TLS_LargeServerCert",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect over TLS, trusting iotscope's CA",
        rule: "shown a valid chain of about 14 KB (a leaf with 300 extra names, then the CA), the device completes the handshake",
        limit: secs(60),
        kind: Kind::TlsLargeChain,
    },
    Case {
        id: "TLS_Receive_Maximum_Size_Fragments",
        suite: Suite::Tls,
        source: DA_TLS,
        device_must: "connect and subscribe at QoS 1 to one topic without wildcards",
        rule: "iotscope publishes 33 768 bytes to that topic at QoS 1 (two full 16 KB TLS records and a third); the device sends the PUBACK",
        limit: secs(60),
        kind: Kind::MaxFragments,
    },
    Case {
        id: "MQTT_Connect",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and send CONNECT",
        rule: "the first packet is a well-formed CONNECT (MQTT 3.1.1 or 5) with a client id AWS IoT Core accepts: 1 to 128 bytes of UTF-8, not starting with '$'",
        limit: secs(60),
        kind: Kind::MqttConnect,
    },
    Case {
        id: "MQTT_Publish",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and publish one QoS 0 message",
        rule: "a well-formed QoS 0 PUBLISH to a topic that is not reserved arrives",
        limit: secs(60),
        kind: Kind::PublishQos0,
    },
    Case {
        id: "IOTSCOPE_Publish_QoS1",
        suite: Suite::Mqtt,
        source: "Device Advisor's MQTT_Publish is the QoS 0 happy case; this is its QoS 1 counterpart",
        device_must: "connect and publish one QoS 1 message",
        rule: "a well-formed QoS 1 PUBLISH with a packet identifier arrives (iotscope answers PUBACK)",
        limit: secs(60),
        kind: Kind::PublishQos1,
    },
    Case {
        id: "IOTSCOPE_Keep_Alive",
        suite: Suite::Mqtt,
        source: "MQTT 3.1.1 §3.1.2.10 (the server may close after 1.5 × keep-alive of silence); AWS IoT Core: keep-alive 30 to 1200 s",
        device_must: "connect with a keep-alive shorter than a third of the time limit and stay connected",
        rule: "the keep-alive is not 0, the device sends PINGREQ, and it is never silent longer than 1.5 × its keep-alive, over three keep-alive periods",
        limit: secs(90),
        kind: Kind::KeepAlive,
    },
    Case {
        id: "IOTSCOPE_No_Reserved_Topics",
        suite: Suite::Mqtt,
        source: "AWS IoT Core reserved topics: topics starting with $ are reserved (developerguide/reserved-topics.html)",
        device_must: "connect, publish as it normally does, then disconnect",
        rule: "at least one PUBLISH, none of them to a $ topic other than the device's own $aws/things/, $aws/rules/, $aws/certificates/ and $aws/provisioning-templates/ ones",
        limit: secs(60),
        kind: Kind::ReservedTopics,
    },
    Case {
        id: "MQTT_Connect_Exponential_Backoff_Retries",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect; iotscope refuses every CONNECT (CONNACK 5, not authorized) and closes; the device must try again",
        rule: "at least 4 CONNECTs (3 waits), the last wait at least 1.5 × the first, and no wait shorter than half the one before (each wait given 50 ms either way)",
        limit: secs(120),
        kind: Kind::BackoffOnRefusedConnect,
    },
    Case {
        id: "MQTT_Connect_Jitter_Backoff_Retries",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect; iotscope refuses every CONNECT (CONNACK 5) and closes; the device must try again",
        rule: "at least 8 CONNECTs (7 waits), and the ratios between consecutive waits spread by more than 30% with each wait given 50 ms either way (a fixed interval, a pure doubling or a doubling held at its ceiling has none)",
        limit: secs(120),
        kind: Kind::JitterOnRefusedConnect,
    },
    Case {
        id: "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and stay connected; iotscope accepts, then closes the connection 1 s later, each time",
        rule: "at least 3 reconnections after a close, the last wait at least 1.5 × the first, and no wait shorter than half the one before (each wait given 50 ms either way)",
        limit: secs(120),
        kind: Kind::BackoffOnServerDisconnect,
    },
    Case {
        id: "MQTT_Publish_Retry_No_Puback",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and publish one QoS 1 message (clean session false, to be retried after a reconnect)",
        rule: "iotscope withholds the PUBACK (and closes the connection 10 s after the first PUBLISH if no retry came); the device sends the same packet identifier again with DUP set",
        limit: secs(90),
        kind: Kind::PublishRetryNoPuback,
    },
    Case {
        id: "MQTT_Subscribe_Retry_No_Suback",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and subscribe to one topic",
        rule: "iotscope withholds the SUBACK (and closes the connection 10 s after the first SUBSCRIBE if no retry came); the device sends SUBSCRIBE for the same topics again",
        limit: secs(90),
        kind: Kind::SubscribeRetryNoSuback,
    },
    Case {
        id: "MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect and stay connected; iotscope accepts, then breaks the connection 1 s later (a TCP reset, no DISCONNECT, no close_notify), each time",
        rule: "at least 3 reconnections after a broken connection, the last wait at least 1.5 × the first, and no wait shorter than half the one before (each wait given 50 ms either way)",
        limit: secs(120),
        kind: Kind::BackoffOnUnstableConnection,
    },
    Case {
        id: "MQTT_Persistent_Session_Happy_Case",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect with clean session false, subscribe to a topic without wildcards, and reconnect when the connection drops",
        rule: "the first CONNECT has clean session false; after the device subscribed iotscope drops the link; the device comes back with the same client id and clean session false, is told the session is present (session present 1), and acknowledges the QoS 1 message stored for its subscription (it need not subscribe again)",
        limit: secs(60),
        kind: Kind::PersistentSession,
    },
    Case {
        id: "MQTT_Expired_Persistent_Session",
        suite: Suite::Mqtt,
        source: DA_MQTT,
        device_must: "connect with clean session false, subscribe, and reconnect when the connection drops",
        rule: "after the device subscribed iotscope drops the link; when the device comes back, the CONNACK says session present 0 (the session expired), and the device subscribes to the same topics again within 10 s",
        limit: secs(60),
        kind: Kind::ExpiredSession,
    },
];

//! Which key-log secret protects which records.
//!
//! A key log carries the TLS 1.3 traffic secrets themselves, so no key schedule is run here:
//! the only question is which of the five secrets a direction uses in a given phase, and what
//! its key-log label is (for messages such as "the key log has no
//! SERVER_HANDSHAKE_TRAFFIC_SECRET for this connection").

use crate::event::Side;
use crate::keylog::Secrets;

/// The side whose records a decryptor opens (the writer of the records, not the reader).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Writer {
    /// The device: records travelling device → endpoint.
    Client,
    /// The endpoint: records travelling endpoint → device.
    Server,
}

impl From<Side> for Writer {
    fn from(side: Side) -> Writer {
        match side {
            Side::Device => Writer::Client,
            Side::Endpoint => Writer::Server,
        }
    }
}

/// The TLS 1.3 phase whose keys protect a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Epoch {
    /// Early data (0-RTT): the client's records sent with a resumed session's key, before
    /// the ServerHello, up to its EndOfEarlyData. The server has no early secret.
    Early,
    /// From just after ServerHello to the writer's Finished.
    Handshake,
    /// After the writer's Finished (generation 0, before any KeyUpdate).
    Application,
}

/// The key-log label of the secret protecting `writer`'s records in `epoch`.
pub fn keylog_label(writer: Writer, epoch: Epoch) -> &'static str {
    match (writer, epoch) {
        // Only the client writes early data; the label is the one secret there is.
        (_, Epoch::Early) => "CLIENT_EARLY_TRAFFIC_SECRET",
        (Writer::Client, Epoch::Handshake) => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        (Writer::Server, Epoch::Handshake) => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        (Writer::Client, Epoch::Application) => "CLIENT_TRAFFIC_SECRET_0",
        (Writer::Server, Epoch::Application) => "SERVER_TRAFFIC_SECRET_0",
    }
}

/// The TLS 1.3 traffic secret protecting `writer`'s records in `epoch`, if the key log has it.
pub fn tls13_traffic_secret(secrets: &Secrets, writer: Writer, epoch: Epoch) -> Option<&[u8]> {
    let slot = match (writer, epoch) {
        (Writer::Client, Epoch::Early) => &secrets.client_early_traffic_secret,
        (Writer::Server, Epoch::Early) => return None,
        (Writer::Client, Epoch::Handshake) => &secrets.client_handshake_traffic_secret,
        (Writer::Server, Epoch::Handshake) => &secrets.server_handshake_traffic_secret,
        (Writer::Client, Epoch::Application) => &secrets.client_traffic_secret_0,
        (Writer::Server, Epoch::Application) => &secrets.server_traffic_secret_0,
    };
    slot.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keylog::KeyLog;

    #[test]
    fn each_direction_and_phase_finds_its_own_key_log_line() {
        let random = "00".repeat(32);
        let mut text = String::new();
        let mut expected = Vec::new();
        for (i, writer) in [Writer::Client, Writer::Server].into_iter().enumerate() {
            for (j, epoch) in [Epoch::Handshake, Epoch::Application]
                .into_iter()
                .enumerate()
            {
                let byte = format!("{:02x}", 0x10 * (i + 1) + j);
                let label = keylog_label(writer, epoch);
                text.push_str(&format!("{label} {random} {}\n", byte.repeat(32)));
                expected.push((writer, epoch, vec![0x10 * (i as u8 + 1) + j as u8; 32]));
            }
        }
        let log = KeyLog::parse(&text);
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        let secrets = log.get(&[0; 32]).expect("the connection is in the log");
        for (writer, epoch, secret) in expected {
            assert_eq!(
                tls13_traffic_secret(secrets, writer, epoch),
                Some(secret.as_slice()),
                "{writer:?} {epoch:?}"
            );
        }
    }

    #[test]
    fn a_missing_secret_is_none() {
        assert_eq!(
            tls13_traffic_secret(&Secrets::default(), Writer::Server, Epoch::Handshake),
            None
        );
        // The server writes no early data, whatever the key log holds.
        let early = Secrets {
            client_early_traffic_secret: Some(vec![7; 32]),
            ..Secrets::default()
        };
        assert_eq!(
            tls13_traffic_secret(&early, Writer::Server, Epoch::Early),
            None
        );
        assert_eq!(
            tls13_traffic_secret(&early, Writer::Client, Epoch::Early),
            Some(&[7u8; 32][..])
        );
        assert_eq!(Writer::from(Side::Endpoint), Writer::Server);
        assert_eq!(Writer::from(Side::Device), Writer::Client);
    }
}

//! TLS key logs (SSLKEYLOGFILE, RFC 9850): the secrets that let a capture be decrypted.
//!
//! Lines are `LABEL <client random, 64 hex> <secret, hex>`; `#` starts a comment; blank lines,
//! CRLF and either hex case are accepted. Secrets are matched to a connection by the
//! ClientHello's random.

use std::collections::HashMap;

/// The secrets logged for one connection (one client random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 (and earlier): the 48-byte master secret (`CLIENT_RANDOM`).
    pub master_secret: Option<Vec<u8>>,
    pub client_handshake_traffic_secret: Option<Vec<u8>>,
    pub server_handshake_traffic_secret: Option<Vec<u8>>,
    pub client_traffic_secret_0: Option<Vec<u8>>,
    pub server_traffic_secret_0: Option<Vec<u8>>,
    /// TLS 1.3 early data (0-RTT): the device's records before the ServerHello.
    pub client_early_traffic_secret: Option<Vec<u8>>,
}

/// Why a key-log line was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProblem {
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], Secrets>,
    /// Lines that could not be read (labels we do not use are not problems).
    pub problems: Vec<LineProblem>,
}

impl KeyLog {
    pub fn parse(text: &str) -> KeyLog {
        let mut k = KeyLog::default();
        k.add_text(text);
        k
    }

    /// Adds the lines of a key log (from a file, or a pcapng Decryption Secrets Block).
    pub fn add_text(&mut self, text: &str) {
        let lines = text
            .split('\n')
            .enumerate()
            .flat_map(|(i, l)| l.split('\r').map(move |piece| (i, piece)));
        for (i, raw) in lines {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret)) =
                (parts.next(), parts.next(), parts.next())
            else {
                self.problem(i, "expected LABEL CLIENT_RANDOM SECRET");
                continue;
            };
            let Some(random) =
                crate::hex::decode(random).and_then(|r| <[u8; 32]>::try_from(r).ok())
            else {
                self.problem(i, "the client random is not 32 bytes of hex");
                continue;
            };
            let Some(secret) = crate::hex::decode(secret).filter(|s| !s.is_empty()) else {
                self.problem(i, "the secret is not hex");
                continue;
            };
            // Exporter and ECH secrets do not help decode what we report, and add_secret
            // passes over them.
            self.add_secret(label, random, &secret);
        }
    }

    fn problem(&mut self, line: usize, message: &str) {
        // Only the first few are kept: a wrong file should not fill memory with complaints.
        if self.problems.len() < 16 {
            self.problems.push(LineProblem {
                line: line + 1,
                message: message.to_string(),
            });
        }
    }

    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.by_random.get(client_random)
    }

    /// Adds one secret by its key-log label; labels we do not use are ignored.
    pub fn add_secret(&mut self, label: &str, client_random: [u8; 32], secret: &[u8]) {
        let entry = self.by_random.entry(client_random).or_default();
        let slot = match label {
            "CLIENT_RANDOM" => &mut entry.master_secret,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.client_handshake_traffic_secret,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.server_handshake_traffic_secret,
            "CLIENT_TRAFFIC_SECRET_0" => &mut entry.client_traffic_secret_0,
            "SERVER_TRAFFIC_SECRET_0" => &mut entry.server_traffic_secret_0,
            "CLIENT_EARLY_TRAFFIC_SECRET" => &mut entry.client_early_traffic_secret,
            _ => return,
        };
        *slot = Some(secret.to_vec());
    }

    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }
}

/// Where a session looks up a connection's secrets: a key log read before decoding starts, or
/// [`LiveKeys`] that a TLS stack fills while the connection runs.
pub trait KeySource: Send + Sync + std::fmt::Debug {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<Secrets>;

    /// True when the source holds no secret at all: then a connection without secrets is
    /// not worth a remark, since no keys were given.
    fn is_empty(&self) -> bool {
        false
    }

    /// The session has taken `client_random`'s secrets and will not ask for them again. A
    /// source that holds them only for that session may let them go.
    fn taken(&self, _client_random: &[u8; 32]) {}
}

impl KeySource for KeyLog {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        self.get(client_random).cloned()
    }

    fn is_empty(&self) -> bool {
        KeyLog::is_empty(self)
    }
}

/// Secrets that arrive while their connections run (iotscope's own TLS legs in the proxy and
/// the probe). A session asks for a connection's secrets at its first protected record, so
/// they must be added before the bytes of that record are fed.
#[derive(Debug, Default)]
pub struct LiveKeys {
    log: std::sync::Mutex<KeyLog>,
    /// Some secrets were handed out and let go: the source is not one that never held any.
    handed_out: std::sync::atomic::AtomicBool,
}

impl LiveKeys {
    pub fn new(log: KeyLog) -> LiveKeys {
        LiveKeys {
            log: std::sync::Mutex::new(log),
            handed_out: Default::default(),
        }
    }

    /// Adds the lines of a key log (a pcapng Decryption Secrets Block met mid-file).
    pub fn add_text(&self, text: &str) {
        if let Ok(mut log) = self.log.lock() {
            log.add_text(text);
        }
    }

    pub fn add(&self, label: &str, client_random: [u8; 32], secret: &[u8]) {
        if let Ok(mut log) = self.log.lock() {
            log.add_secret(label, client_random, secret);
        }
    }

    /// Forgets a connection's secrets once its session no longer needs them.
    pub fn forget(&self, client_random: &[u8; 32]) {
        if let Ok(mut log) = self.log.lock() {
            log.by_random.remove(client_random);
            if log.by_random.is_empty() {
                // `remove` keeps the table's room, which is most of what it holds.
                log.by_random.shrink_to_fit();
            }
        }
    }
}

impl KeySource for LiveKeys {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        self.log.lock().ok()?.get(client_random).cloned()
    }

    fn is_empty(&self) -> bool {
        !self.handed_out.load(std::sync::atomic::Ordering::Relaxed)
            && self.log.lock().map_or(true, |l| l.is_empty())
    }

    /// A connection's secrets are let go once its session has them (it keeps its own copy):
    /// an idle MITM connection would otherwise hold them twice, in a table of their own.
    fn taken(&self, client_random: &[u8; 32]) {
        self.handed_out
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.forget(client_random);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tls12_and_tls13_labels_with_comments_crlf_and_case() {
        let r = "00".repeat(32);
        let r2 = "AB".repeat(32);
        let text = format!(
            "# comment\r\n\r\nCLIENT_RANDOM {r} {}\r\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {r2} {}\nSERVER_TRAFFIC_SECRET_0 {} {}\nEXPORTER_SECRET {r2} 00\nbad line\nCLIENT_RANDOM zz 00\nCLIENT_EARLY_TRAFFIC_SECRET {r2} {}\n",
            "11".repeat(48),
            "22".repeat(32),
            r2.to_lowercase(),
            "33".repeat(48),
            "44".repeat(32)
        );
        let k = KeyLog::parse(&text);
        assert_eq!(k.len(), 2);
        assert_eq!(
            k.get(&[0; 32]).unwrap().master_secret.as_deref(),
            Some(&[0x11; 48][..])
        );
        let s = k.get(&[0xab; 32]).unwrap();
        assert_eq!(
            s.client_handshake_traffic_secret.as_deref(),
            Some(&[0x22; 32][..])
        );
        assert_eq!(s.server_traffic_secret_0.as_deref(), Some(&[0x33; 48][..]));
        assert_eq!(
            s.client_early_traffic_secret.as_deref(),
            Some(&[0x44; 32][..])
        );
        assert_eq!(k.problems.len(), 2);
        assert_eq!(k.problems[0].line, 7);
    }

    /// Live secrets are let go once taken, and the source still says it held some (a session
    /// that waits for keys, as for early data, goes on waiting rather than giving up).
    #[test]
    fn live_secrets_are_let_go_once_taken() {
        let keys = LiveKeys::default();
        assert!(KeySource::is_empty(&keys));
        keys.add("CLIENT_TRAFFIC_SECRET_0", [7; 32], &[1; 32]);
        keys.add("SERVER_TRAFFIC_SECRET_0", [7; 32], &[2; 32]);
        let got = keys.secrets(&[7; 32]).expect("the secrets");
        assert_eq!(got.server_traffic_secret_0.as_deref(), Some(&[2; 32][..]));
        keys.taken(&[7; 32]);
        assert_eq!(keys.secrets(&[7; 32]), None);
        assert!(!KeySource::is_empty(&keys));
        assert_eq!(keys.log.lock().unwrap().by_random.capacity(), 0);
        // The file-backed key log keeps what it read: other connections share it.
        let log = KeyLog::parse(&format!(
            "CLIENT_RANDOM {} {}\n",
            "07".repeat(32),
            "11".repeat(48)
        ));
        log.taken(&[7; 32]);
        assert!(log.secrets(&[7; 32]).is_some());
    }
}

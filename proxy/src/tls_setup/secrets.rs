//! The secrets of iotscope's own TLS connections: into the decoder (so it decrypts them),
//! into `--keylog FILE` (so Wireshark can), and into the recording (a Decryption Secrets
//! Block, so the pcapng opens decrypted).
//!
//! rustls calls [`SecretLog::log`] while it derives each secret, which is before it writes a
//! record protected by it and before the tee hands on a read record that needs it (see
//! [`super::tee`]); so the decoder always has the key before the record.

use crate::error::Error;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use iotscope_decoder::keylog::LiveKeys;

use crate::feed::{queue, Seen};

/// `--keylog FILE`: secret lines appended, shared by every connection. The file is made
/// with mode 0600, since whoever reads it can read the traffic.
#[derive(Debug)]
pub struct KeyLogFile {
    file: Mutex<File>,
}

impl KeyLogFile {
    pub fn open(path: &Path) -> Result<KeyLogFile, Error> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(path)
            .map_err(|e| Error::io(format!("open the key log {}", path.display()), e))?;
        Ok(KeyLogFile {
            file: Mutex::new(file),
        })
    }

    fn write(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::warn!("writing the key log failed: {e}");
            }
        }
    }
}

/// One TLS connection's secrets, wherever they are wanted.
#[derive(Debug)]
pub struct SecretLog {
    pub keys: Arc<LiveKeys>,
    file: Option<Arc<KeyLogFile>>,
    /// The connection's decoder queue, which passes the lines to the recorder in order with
    /// the bytes.
    to_decoder: Option<queue::Sender<Seen>>,
}

impl SecretLog {
    pub fn new(
        file: Option<Arc<KeyLogFile>>,
        to_decoder: Option<queue::Sender<Seen>>,
    ) -> SecretLog {
        SecretLog {
            keys: Arc::new(LiveKeys::default()),
            file,
            to_decoder,
        }
    }
}

impl rustls::KeyLog for SecretLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let Ok(random) = <[u8; 32]>::try_from(client_random) else {
            return;
        };
        self.keys.add(label, random, secret);
        let line = format!(
            "{label} {} {}\n",
            iotscope_decoder::hex::encode(client_random),
            iotscope_decoder::hex::encode(secret)
        );
        if let Some(f) = &self.file {
            f.write(&line);
        }
        if let Some(tx) = &self.to_decoder {
            // The handshake has just begun, so the queue is nearly empty; a full one costs the
            // recording this line (the decoder has the key already), never the relay time.
            if tx.try_send(Seen::Secret { line }).is_err() {
                tracing::warn!("a TLS secret could not be queued for the recording");
            }
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

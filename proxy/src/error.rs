//! What can go wrong in the network side before or outside a connection's diagnosis: the
//! user's files and values, the options, the machine, the key material, the network.
//!
//! Each error already reads as the sentence a user sees (the file or value it is about, and
//! what is wrong with it); the binary prefixes `iotscope:` and turns any of them into exit
//! status 2. What happens inside a connection is never an error here: it is a finding.

use std::io;

/// An error of the network side.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read, written or created.
    #[error("cannot {doing}: {source}")]
    Io {
        /// What iotscope was doing, with the path: `read the private key /x/device.key`.
        doing: String,
        #[source]
        source: io::Error,
    },
    /// A file the user named holds something iotscope cannot use.
    #[error("{0}")]
    BadFile(String),
    /// A value the user gave (a host, an address rule, a client id, a topic) is not usable.
    #[error("{0}")]
    BadValue(String),
    /// Options that do not go together, or one that is missing.
    #[error("{0}")]
    Invocation(String),
    /// The machine did not give what iotscope needs: a listening socket, a home directory,
    /// a thread, a socket option.
    #[error("{0}")]
    Environment(String),
    /// Making a key, a certificate or a TLS configuration failed.
    #[error("{0}")]
    Crypto(String),
    /// Reaching a host failed: resolution, connection, time-out.
    #[error("{0}")]
    Network(String),
}

impl Error {
    /// An I/O failure while `doing` something (`"read the CA file /x/ca.pem"`).
    pub fn io(doing: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            doing: doing.into(),
            source,
        }
    }
}

/// The network side's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

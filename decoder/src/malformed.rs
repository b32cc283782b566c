//! Why a parser gave up on a message.
//!
//! The decoder's parsers never fail a connection: a message they cannot read becomes a
//! `TlsMalformed` or `MqttMalformed` event (or, for a key schedule, an `Undecrypted` one), whose
//! reason the user reads as it stands. So the error is the sentence, written where the parser
//! knows what went wrong and where; there is nothing for a caller to match on besides it.

/// The reason bytes could not be read, in words for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl From<String> for Malformed {
    fn from(s: String) -> Malformed {
        Malformed(s)
    }
}

impl From<&str> for Malformed {
    fn from(s: &str) -> Malformed {
        Malformed(s.to_string())
    }
}

//! Why a decryptor could not be built or a record could not be decrypted.
//!
//! `record` is always the record's sequence number under the keys in use: 0 for the first
//! record after the keys were installed (or after a TLS 1.3 KeyUpdate).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// The negotiated cipher suite is not one we decrypt (for the TLS version asked).
    UnsupportedSuite(u16),
    /// The secret from the key log cannot be right for this suite (wrong length, empty).
    BadSecret(String),
    /// An AEAD record did not authenticate: wrong secret, wrong direction, a record skipped
    /// or replayed, or altered bytes.
    AuthenticationFailed { record: u64 },
    /// A CBC record's MAC did not verify (with MAC-then-encrypt, bad padding means the same
    /// thing: with the wrong key the padding is noise too).
    BadMac { record: u64 },
    /// An encrypt-then-MAC record whose MAC verified but whose padding is malformed: the
    /// sender is broken, not the key.
    BadPadding { record: u64 },
    /// The record is shorter than the suite's smallest possible record.
    Truncated { record: u64, len: usize },
    /// A CBC record whose ciphertext is not a whole number of cipher blocks.
    NotBlockAligned { record: u64, len: usize },
    /// The record header's length field does not match the payload handed in.
    LengthMismatch {
        record: u64,
        header_len: usize,
        payload_len: usize,
    },
    /// A TLS 1.3 record that authenticated but whose plaintext is all zeros: no inner content
    /// type (RFC 8446 §5.4 makes this an unexpected_message).
    NoContentType { record: u64 },
    /// KeyUpdate exists only in TLS 1.3.
    KeyUpdateNeedsTls13,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedSuite(suite) => write!(
                f,
                "cipher suite {suite:#06x} is not one iotscope can decrypt for this TLS version"
            ),
            DecryptError::BadSecret(why) => write!(f, "the key log secret cannot be used: {why}"),
            DecryptError::AuthenticationFailed { record } => write!(
                f,
                "the record with sequence number {record} did not authenticate: the key log secret does not belong to \
                 this connection and direction, a record is missing, or the bytes were altered"
            ),
            DecryptError::BadMac { record } => write!(
                f,
                "the record with sequence number {record} failed its MAC check: the key log secret does not belong to \
                 this connection and direction, a record is missing, or the bytes were altered"
            ),
            DecryptError::BadPadding { record } => write!(
                f,
                "the record with sequence number {record} passed its MAC check but its CBC padding is malformed, so the \
                 sender built it wrongly"
            ),
            DecryptError::Truncated { record, len } => write!(
                f,
                "the record with sequence number {record} is {len} bytes long, too short to hold anything under this \
                 cipher suite"
            ),
            DecryptError::NotBlockAligned { record, len } => write!(
                f,
                "the record with sequence number {record} carries {len} bytes of CBC ciphertext, which is not a whole \
                 number of 16-byte blocks"
            ),
            DecryptError::LengthMismatch {
                record,
                header_len,
                payload_len,
            } => write!(
                f,
                "the header of the record with sequence number {record} says {header_len} bytes but {payload_len} bytes were \
                 given to decrypt"
            ),
            DecryptError::NoContentType { record } => write!(
                f,
                "the record with sequence number {record} decrypted to nothing but zero padding: it has no inner content \
                 type"
            ),
            DecryptError::KeyUpdateNeedsTls13 => {
                write!(
                    f,
                    "a key update was asked of a TLS 1.2 connection; only TLS 1.3 has one"
                )
            }
        }
    }
}

impl std::error::Error for DecryptError {}

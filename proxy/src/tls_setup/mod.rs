//! iotscope's own TLS connections: the files they are made from, the trust they use, and the
//! taps that let the decoder read them.
//!
//! The proxy in MITM mode and `iotscope probe` both make TLS connections of their own with
//! rustls. Their bytes are decoded like any other connection's: a [`crate::feed::tee::TeeStream`] copies
//! the raw records to the decoder, and [`secrets::SecretLog`] hands the decoder the
//! connection's secrets before it meets the records they open, so the decoder decrypts them
//! exactly as it would a capture with a key log.

pub mod client;
pub mod files;
pub mod secrets;
pub mod server_check;

/// The one crypto provider of the build.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

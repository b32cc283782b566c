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

/// The one crypto provider of the build, made once: MITM builds a TLS configuration per
/// connection for each leg, and a fresh provider (its lists of suites and groups) would stay
/// with each for the connection's life.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<std::sync::Arc<rustls::crypto::CryptoProvider>> =
        std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

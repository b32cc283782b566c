//! iotscope's network side, as a library configured by plain structs: the proxy (passthrough,
//! MITM, transparent), the probe, the local CA, and the certificate-file checks that the probe
//! shares with `iotscope cert check`.
//!
//! Bytes from every task here reach the sans-IO decoder through [`feed`]; finished connections
//! go to `iotscope_report` to be diagnosed and printed. The command line lives in the `iotscope`
//! binary crate, which only turns arguments into the configurations below.

pub mod ca;
pub mod cert_check;
pub mod config;
pub mod dial;
pub mod error;
pub mod feed;
pub mod mitm;
pub mod probe;
pub mod relay;
pub mod serve;
pub mod tls_setup;
pub mod transparent;
pub mod upstream;

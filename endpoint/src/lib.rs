//! `iotscope endpoint`: a local endpoint that answers devices the way AWS IoT Core does —
//! SNI and ALPN checks, client certificates refused unless registered and ACTIVE, policies
//! enforced with the same evaluator iotscope diagnoses them with, AWS's limits and reason
//! codes — and writes an AWSIotLogsV2-shaped log. Also `iotscope demo`, which puts the proxy
//! in front of it and runs built-in devices through both.
//!
//! Every behaviour cites its source (the project's AWS reference notes, or the AWS page they
//! cite) where it is implemented; docs/endpoint.md lists them all, and what is not emulated.
//!
//! - [`registry`]: certificates, CAs, things, policies (`--registry FILE` or plain structs);
//! - [`tls`]: ClientHello screening and the registry's client-certificate verifier;
//! - [`mqtt`]: packets, topics, the broker, one device's session;
//! - [`http`]: HTTPS publish (`POST /topics/…`);
//! - [`log`]: the AWSIotLogsV2-shaped log;
//! - [`limits`]: AWS's quotas and the endpoint's own bounds;
//! - [`server`]: listeners, connection limit, start and stop; [`shared`]: what its
//!   connections share;
//! - [`demo`]: `iotscope demo`.

pub mod account;
pub mod demo;
pub mod http;
pub mod limits;
pub mod log;
pub mod mqtt;
pub mod qualify;
pub mod registry;
pub mod server;
pub mod shared;
pub mod tls;

pub use registry::{CertStatus, DeviceCert, Registry};
pub use server::{run, start, EndpointConfig, Running, DEFAULT_ENDPOINT};

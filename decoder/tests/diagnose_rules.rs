//! Every diagnosis rule against small synthetic traces: where it fires, with the connection's
//! own values in its words and next steps, and the look-alikes where it must stay quiet.
//!
//! The traces are built from events, not bytes, so each test states exactly the facts its rule
//! reads. Every finding any test sees passes the same checks (next steps, section anchor,
//! evidence), see `builder::check`.

#[path = "diagnose_rules/account.rs"]
mod account;
#[path = "diagnose_rules/authentication.rs"]
mod authentication;
#[path = "diagnose_rules/authorization.rs"]
mod authorization;
#[path = "diagnose_rules/builder.rs"]
mod builder;
#[path = "diagnose_rules/connection.rs"]
mod connection;
#[path = "diagnose_rules/faults.rs"]
mod faults;
#[path = "diagnose_rules/gaps.rs"]
mod gaps;
#[path = "diagnose_rules/handshake.rs"]
mod handshake;
#[path = "diagnose_rules/healthy.rs"]
mod healthy;
#[path = "diagnose_rules/http_proxy.rs"]
mod http_proxy;
#[path = "diagnose_rules/mqtt.rs"]
mod mqtt;
#[path = "diagnose_rules/mqtt_events.rs"]
mod mqtt_events;
#[path = "diagnose_rules/names_and_alpn.rs"]
mod names_and_alpn;
#[path = "diagnose_rules/policy.rs"]
mod policy;
#[path = "diagnose_rules/precision.rs"]
mod precision;
#[path = "diagnose_rules/security.rs"]
mod security;
#[path = "diagnose_rules/tls_events.rs"]
mod tls_events;

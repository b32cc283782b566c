//! The MQTT side of the endpoint: packets ([`packets`]), topic rules and matching
//! ([`topics`]), the broker state every connection shares ([`broker`]), and one device's
//! session from CONNECT to close ([`session`]).

pub mod broker;
pub mod packets;
pub mod session;
pub mod topics;

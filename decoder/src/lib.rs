//! iotscope's decoder: TLS handshakes, certificate chains and MQTT control packets, decoded
//! from bytes into one ordered [`Trace`] per connection.
//!
//! Nothing here touches sockets, files or clocks. Time comes in with the bytes, so a live
//! proxy and a replayed capture give the same trace, and every rule can be tested with a few
//! hand-made bytes.

pub mod account;
pub mod cert;
pub mod decrypt;
pub mod detect;
pub mod device_leg;
pub mod diagnose;
pub mod emit;
pub mod event;
pub mod facts;
pub mod hex;
pub mod keylog;
pub mod malformed;
pub mod mqtt;
pub mod policy;
pub mod preamble;
pub mod session;
pub mod tls;
pub mod trace;

pub use event::{AppProtocol, CutCause, Direction, Event, EventKind, Side, Timestamp};
pub use session::{Input, OwnedInput, Session, SessionConfig};
pub use trace::{Identity, Trace};

//! MQTT 3.1, 3.1.1 and 5: a lenient stream decoder.
//!
//! Placeholder interface; the MQTT work fills it in.

pub mod packet;

pub use packet::*;

use crate::emit::Emit;

/// How much of a PUBLISH payload the trace keeps.
pub const PAYLOAD_PREFIX: usize = 64;

/// MQTT state of one connection, both directions.
#[derive(Default)]
pub struct MqttConn {
    reveal_passwords: bool,
}

impl MqttConn {
    pub fn new(reveal_passwords: bool) -> MqttConn {
        MqttConn { reveal_passwords }
    }

    /// Bytes in direction `out.dir`, in any pieces.
    pub fn push(&mut self, _bytes: &[u8], _out: &mut Emit) {
        let _ = self.reveal_passwords;
    }

    /// `bytes` bytes in direction `out.dir` were never seen.
    pub fn gap(&mut self, _bytes: u64, _out: &mut Emit) {}

    /// The sender of direction `out.dir` closed.
    pub fn close(&mut self, _out: &mut Emit) {}

    /// The protocol level learned from CONNECT.
    pub fn protocol_level(&self) -> Option<u8> {
        None
    }
}

//! TLS: the record layer, handshake reassembly and the messages the trace reports.
//!
//! Placeholder interface; the record and handshake work fills it in.

pub mod hello;
pub mod names;

pub use hello::{ClientHello, Extension, Named, ServerHello, SniForm};

use crate::emit::Emit;
use crate::event::Direction;

/// TLS state of one connection, both directions.
#[derive(Default)]
pub struct TlsConn {}

impl TlsConn {
    pub fn new() -> TlsConn {
        TlsConn::default()
    }

    /// Bytes in the direction `out.dir`, in any pieces.
    pub fn push(&mut self, _bytes: &[u8], _out: &mut Emit) {}

    /// `bytes` bytes in direction `out.dir` were never seen.
    pub fn gap(&mut self, _bytes: u64, _out: &mut Emit) {}

    /// The sender of direction `out.dir` closed (FIN or RST).
    pub fn close(&mut self, _out: &mut Emit) {}

    /// Decrypted application data waiting for the layer above, if any.
    pub fn take_plaintext(&mut self, _dir: Direction) -> Option<Vec<u8>> {
        None
    }
}

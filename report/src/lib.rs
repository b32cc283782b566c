//! What iotscope tells a user about connections.
//!
//! Every command that reports connections (replay, proxy, probe) speaks the same two forms,
//! and they are made here only: the text ladder for people ([`text`]) and JSON Lines for
//! programs ([`json`]). [`Reporter`] is where a finished trace goes: diagnosed, rendered,
//! counted for the exit status. [`explain`] prints the catalogue, and [`replay`] runs captures
//! through the same path. The commands reach these without depending on each other.

pub mod account;
pub mod explain;
pub mod json;
pub mod logs;
pub mod options;
pub mod policy;
pub mod replay;
pub mod reporter;
pub mod sorted_json;
pub mod text;

pub use options::{Colour, Format, ReplayOptions, ReportOptions};
pub use reporter::{stdout_is_tty, Reporter};

use std::borrow::Cow;

/// `TLS 1.2`, `TLS 1.3`, …
pub fn version_name(v: u16) -> Cow<'static, str> {
    iotscope_decoder::tls::names::version_name(v)
}
